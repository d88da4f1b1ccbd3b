"""Providers: the enabled drivers and their flavor / availability-zone capabilities."""
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.api import create_app
from tests.conftest import database_url, make_conf

URL = "/v2/lbaas/providers"


def test_providers_lists_the_enabled_drivers(client):
    body = client.get(URL).get_json()
    assert body == {"providers": [{"name": "noop", "description":
                                   "The no-op driver: accepts everything and reports ACTIVE."}]}


def test_providers_also_served_under_v2_and_filtered_by_name(client):
    assert client.get("/v2/providers?name=noop").get_json()["providers"][0]["name"] == "noop"
    assert client.get(f"{URL}?name=amphora").get_json() == {"providers": []}


def test_providers_fields_selection(client):
    assert client.get(f"{URL}?fields=name").get_json() == {"providers": [{"name": "noop"}]}


def test_flavor_capabilities_come_from_the_driver(client):
    body = client.get(f"{URL}/noop/flavor_capabilities").get_json()
    assert [c["name"] for c in body["flavor_capabilities"]] == [
        "loadbalancer_topology", "compute_flavor", "amp_image_tag", "sriov_vip",
        "allow_member_sriov"]
    assert all(c["description"] for c in body["flavor_capabilities"])


def test_availability_zone_capabilities_come_from_the_driver(client):
    body = client.get(f"{URL}/noop/availability_zone_capabilities?fields=name").get_json()
    assert body == {"availability_zone_capabilities": [
        {"name": "compute_zone"}, {"name": "volume_zone"}, {"name": "management_network"},
        {"name": "valid_vip_networks"}]}


def test_capabilities_of_a_provider_not_enabled_is_400(client):
    resp = client.get(f"{URL}/amphora/flavor_capabilities")
    assert resp.status_code == 400
    assert resp.get_json()["faultstring"] == "Provider 'amphora' is not enabled."


def test_capabilities_the_driver_does_not_implement_is_501(client, driver, monkeypatch):
    def refuse():
        raise lib_exc.NotImplementedError(user_fault_string="no zones here",
                                          operator_fault_string="no zones here")
    monkeypatch.setattr(driver, "get_supported_availability_zone_metadata", refuse)
    resp = client.get(f"{URL}/noop/availability_zone_capabilities")
    assert resp.status_code == 501
    assert resp.get_json()["faultstring"] == \
        "Provider 'noop' does not support a requested action: no zones here"


def test_enabled_provider_that_fails_to_load_is_hidden_and_501(request):
    conf = make_conf(database_url("sqlite", request, "providers"), **{
        "api_settings.enabled_provider_drivers": {"noop": "noop", "ghost": "no entry point"}})
    app = create_app(conf)
    try:
        client = app.test_client()
        assert [p["name"] for p in client.get(URL).get_json()["providers"]] == ["noop"]
        resp = client.get(f"{URL}/ghost/flavor_capabilities")
        assert resp.status_code == 501
        assert resp.get_json()["faultstring"] == "Provider 'ghost' was not found."
    finally:
        app.extensions["lbaas_core"].close()
