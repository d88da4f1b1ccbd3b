"""Availability zone profiles and zones through the API, and load balancers created in a zone."""
import json
import uuid

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.core import models
from tests.api.catalog_support import (AZPROFILES, AZS, LBS, az, az_profile, created,
                                       delete_lb, flavor, post_lb, spy, unique)
from tests.api.support import db, fault, overridden

NIL = "00000000-0000-0000-0000-000000000000"
NOT_ALLOWED = ("Validation failure: Supplied VIP network_id is not allowed by the "
               "configuration of this deployment.")


def profile_url(profile_id):
    """The URL of one availability zone profile."""
    return f"{AZPROFILES}/{profile_id}"


def az_url(name):
    """The URL of one availability zone."""
    return f"{AZS}/{name}"


def post_profile(client, **fields):
    """POST a valid zone profile body, with fields replacing or adding attributes."""
    body = {"name": unique("azp"), "provider_name": "noop", "availability_zone_data": "{}"}
    body.update(fields)
    return client.post(AZPROFILES, {"availability_zone_profile": body})


def network_of(app, subnet_id):
    """The network the noop network backend puts a subnet in."""
    return app.extensions["lbaas_core"].network.get_subnet(subnet_id)["network_id"]


# Availability zone profiles.

def test_profile_create_answers_201_with_the_data_string_as_sent(client):
    """availability_zone_data is kept as the JSON string sent."""
    raw = '{"compute_zone": "rack-1", "valid_vip_networks": []}'
    body = created(post_profile(client, availability_zone_data=raw), "availability_zone_profile")
    assert list(body) == ["id", "name", "provider_name", "availability_zone_data"]
    assert (body["provider_name"], body["availability_zone_data"]) == ("noop", raw)
    assert client.get(profile_url(body["id"])).get_json() == {"availability_zone_profile": body}


@pytest.mark.parametrize("raw", ["{nope", "[]", "1"])
def test_profile_data_that_is_not_a_json_object_is_400(client, raw):
    """The data must parse to a JSON object."""
    resp = post_profile(client, availability_zone_data=raw)
    assert (resp.status_code, fault(resp)) == \
        (400, f"{raw} is not a valid option for availability_zone_data")


def test_noop_accepts_upstreams_zone_keys(client):
    """Those upstream's amphora provider accepts (tempest sends management_network)."""
    data = {"compute_zone": "az1", "management_network": str(uuid.uuid4()),
            "volume_zone": "v", "valid_vip_networks": [str(uuid.uuid4())]}
    resp = post_profile(client, availability_zone_data=json.dumps(data))
    assert resp.status_code == 201, resp.get_json()


@pytest.mark.parametrize("data,reason", [
    ({"nova_zone": "z"}, "Additional properties are not allowed ('nova_zone' was unexpected)"),
    ({"compute_zone": 7}, "compute_zone 7 is not of type 'string'"),
    ({"valid_vip_networks": "net-1"}, "valid_vip_networks 'net-1' is not of type 'array'"),
    ({"valid_vip_networks": ["n", 2]}, "valid_vip_networks 2 is not of type 'string'"),
])
def test_profile_refused_by_the_driver_is_501(client, data, reason):
    """validate_availability_zone of the profile's provider decides."""
    resp = post_profile(client, availability_zone_data=json.dumps(data))
    assert (resp.status_code, fault(resp)) == \
        (501, f"Provider 'noop' does not support a requested option: {reason}")


def test_profile_of_a_driver_without_zones_is_501(client, driver, monkeypatch):
    """A provider that does not implement zones cannot hold a zone profile."""
    def refuse(metadata):
        raise lib_exc.NotImplementedError(user_fault_string="zones? no",
                                          operator_fault_string="zones? no")

    monkeypatch.setattr(driver, "validate_availability_zone", refuse)
    resp = post_profile(client)
    assert (resp.status_code, fault(resp)) == \
        (501, "Provider 'noop' does not support a requested action: zones? no")


def test_profile_of_a_provider_not_enabled_is_400(client):
    """The profile's provider must be enabled."""
    resp = post_profile(client, provider_name="amphora")
    assert (resp.status_code, fault(resp)) == (400, "Provider 'amphora' is not enabled.")


@pytest.mark.parametrize("profile_id", [NIL, "bogus"])
def test_profile_unknown_or_nil_is_404(client, profile_id):
    """Unknown profiles, the nil UUID included, are 404 everywhere."""
    expected = f"Availability Zone Profile {profile_id} not found."
    assert fault(client.get(profile_url(profile_id))) == expected
    resp = client.put(profile_url(profile_id), {"availability_zone_profile": {"name": "x"}})
    assert (resp.status_code, fault(resp)) == (404, expected)
    resp = client.delete(profile_url(profile_id))
    assert (resp.status_code, fault(resp)) == (404, expected)


def test_profile_list_links_key_is_singular(client):
    """The list's links key is availability_zone_profile_links."""
    name = unique("azp")
    made = az_profile(client, name=name)
    body = client.get(f"{AZPROFILES}?name={name}").get_json()
    assert body == {"availability_zone_profiles": [made], "availability_zone_profile_links": []}


@pytest.mark.parametrize("field", ["name", "provider_name", "availability_zone_data"])
def test_profile_put_null_is_400(client, field):
    """null may not replace a profile's name, provider or data."""
    made = az_profile(client)
    resp = client.put(profile_url(made["id"]), {"availability_zone_profile": {field: None}})
    assert (resp.status_code, fault(resp)) == (400, f"None is not a valid option for {field}")


def test_profile_put_data_of_an_unused_profile(client):
    """Unused: new data is validated, then stored."""
    made = az_profile(client)
    url = profile_url(made["id"])
    resp = client.put(url, {"availability_zone_profile": {"availability_zone_data": "{x"}})
    assert (resp.status_code, fault(resp)) == \
        (400, "{x is not a valid option for availability_zone_data")
    raw = '{"compute_zone": "b"}'
    resp = client.put(url, {"availability_zone_profile": {"availability_zone_data": raw,
                                                          "name": "renamed"}})
    assert resp.get_json()["availability_zone_profile"] == \
        dict(made, availability_zone_data=raw, name="renamed")


@pytest.mark.parametrize("change", [{"availability_zone_data": "{}"}, {"provider_name": "noop"}])
def test_profile_in_use_keeps_its_provider_and_data(client, change):
    """A profile a zone uses cannot change provider or data (409); a rename is fine."""
    made = az_profile(client)
    az(client, profile_id=made["id"])
    resp = client.put(profile_url(made["id"]), {"availability_zone_profile": change})
    assert (resp.status_code, fault(resp)) == \
        (409, f"Availability Zone Profile {made['id']} is in use and cannot be modified.")
    resp = client.put(profile_url(made["id"]), {"availability_zone_profile": {"name": "n2"}})
    assert resp.status_code == 200


def test_profile_delete(client):
    """Unused: deleted (204); used by a zone: 409."""
    free, used = az_profile(client), az_profile(client)
    az(client, profile_id=used["id"])
    assert client.delete(profile_url(free["id"])).status_code == 204
    assert client.get(profile_url(free["id"])).status_code == 404
    resp = client.delete(profile_url(used["id"]))
    assert (resp.status_code, fault(resp)) == \
        (409, f"Availability Zone Profile {used['id']} is in use and cannot be modified.")


# Availability zones.

def test_zone_create_answers_201_keyed_by_name(client):
    """A zone has no id: name, description, enabled, profile id."""
    profile = az_profile(client)
    name = unique("az")
    resp = client.post(AZS, {"availability_zone": {
        "name": name, "availability_zone_profile_id": profile["id"]}})
    body = created(resp, "availability_zone")
    assert list(body) == ["name", "description", "enabled", "availability_zone_profile_id"]
    assert body == {"name": name, "description": "", "enabled": True,
                    "availability_zone_profile_id": profile["id"]}
    assert client.get(az_url(name)).get_json() == {"availability_zone": body}
    assert client.get(f"/v2/availabilityzones/{name}").get_json() == {"availability_zone": body}


def test_zone_duplicate_name_is_409(client):
    """Zone names are unique."""
    made = az(client)
    resp = client.post(AZS, {"availability_zone": {
        "name": made["name"],
        "availability_zone_profile_id": made["availability_zone_profile_id"]}})
    assert (resp.status_code, fault(resp)) == \
        (409, f"A availability zone of {made['name']} already exists.")


def test_zone_named_like_the_nil_uuid_is_409(client):
    """The nil UUID is reserved, as upstream's placeholder zone holds it."""
    profile = az_profile(client)
    resp = client.post(AZS, {"availability_zone": {
        "name": NIL, "availability_zone_profile_id": profile["id"]}})
    assert (resp.status_code, fault(resp)) == (409, f"A availability zone of {NIL} already exists.")


def test_zone_with_an_empty_name_is_400(client):
    """A zone is addressed by its name, so it needs one."""
    resp = client.post(AZS, {"availability_zone": {
        "name": "", "availability_zone_profile_id": str(uuid.uuid4())}})
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute name. Value: ''.")


def test_zone_on_unknown_profile_is_404(client):
    """The profile must exist."""
    missing = str(uuid.uuid4())
    resp = client.post(AZS, {"availability_zone": {
        "name": unique("az"), "availability_zone_profile_id": missing}})
    assert (resp.status_code, fault(resp)) == \
        (404, f"Availability Zone Profile {missing} not found.")


@pytest.mark.parametrize("name", [NIL, "nowhere"])
def test_zone_unknown_or_nil_is_404(client, name):
    """Unknown zone names, the nil UUID included, are 404 everywhere."""
    expected = f"Availability Zone {name} not found."
    assert fault(client.get(az_url(name))) == expected
    resp = client.put(az_url(name), {"availability_zone": {"description": "x"}})
    assert (resp.status_code, fault(resp)) == (404, expected)
    resp = client.delete(az_url(name))
    assert (resp.status_code, fault(resp)) == (404, expected)


def test_zone_list_pages_by_name(client):
    """Zones list under availability_zones(_links); markers are names."""
    profile = az_profile(client)
    names = sorted(az(client, profile_id=profile["id"])["name"] for _ in range(3))
    query = f"{AZS}?availability_zone_profile_id={profile['id']}"
    body = client.get(f"{query}&limit=2&fields=name").get_json()
    assert body["availability_zones"] == [{"name": n} for n in names[:2]]
    [link] = body["availability_zones_links"]
    assert link["rel"] == "next" and f"marker={names[1]}" in link["href"]
    rest = client.get(f"{query}&marker={names[1]}").get_json()["availability_zones"]
    assert [z["name"] for z in rest] == names[2:]
    desc = client.get(f"{query}&sort=name:desc").get_json()["availability_zones"]
    assert [z["name"] for z in desc] == names[::-1]


def test_zone_list_unknown_marker_is_400(client):
    """A marker naming no zone is refused."""
    resp = client.get(f"{AZS}?marker=nowhere-{uuid.uuid4().hex}")
    assert resp.status_code == 400
    assert fault(resp).startswith("Supplied pagination marker")


def test_zone_list_filters_on_enabled(client):
    """enabled= filters zones."""
    profile = az_profile(client)
    az(client, profile_id=profile["id"])
    off = az(client, profile_id=profile["id"], enabled=False)
    query = f"{AZS}?availability_zone_profile_id={profile['id']}&enabled=false"
    assert client.get(query).get_json()["availability_zones"] == [off]


def test_zone_update_description_and_enabled(client):
    """description and enabled are updatable; description null renders ""."""
    made = az(client, description="old")
    resp = client.put(az_url(made["name"]), {"availability_zone": {"description": None,
                                                                   "enabled": False}})
    assert resp.status_code == 200
    assert resp.get_json()["availability_zone"] == dict(made, description="", enabled=False)


@pytest.mark.parametrize("field,value", [("availability_zone_profile_id", str(uuid.uuid4())),
                                         ("name", "other")])
def test_zone_create_only_fields_are_400_on_put(client, field, value):
    """A zone's name and profile cannot change: unknown attributes on PUT."""
    made = az(client)
    resp = client.put(az_url(made["name"]), {"availability_zone": {field: value}})
    assert (resp.status_code, fault(resp)) == \
        (400, f"Unknown attribute for argument availability_zone: {field}")


def test_zone_delete_answers_204_then_404(client):
    """An unused zone is deleted."""
    made = az(client)
    resp = client.delete(az_url(made["name"]))
    assert (resp.status_code, resp.get_data()) == (204, b"")
    assert client.get(az_url(made["name"])).status_code == 404


def test_zone_of_a_live_load_balancer_cannot_be_deleted(client, project):
    """A zone a live load balancer uses is in use (409)."""
    made = az(client)
    client.create_lb(project, availability_zone=made["name"])
    resp = client.delete(az_url(made["name"]))
    assert (resp.status_code, fault(resp)) == \
        (409, f"Availability Zone {made['name']} is in use and cannot be modified.")


def test_zone_of_deleted_load_balancers_only_can_be_deleted(client, app, project):
    """DELETED load balancers let go of their zone."""
    made = az(client)
    lb = client.create_lb(project, availability_zone=made["name"])
    delete_lb(client, lb["id"])
    assert client.delete(az_url(made["name"])).status_code == 204
    with db(app).read() as session:
        assert session.get(models.LoadBalancer, lb["id"]).availability_zone is None


# Load balancers created in an availability zone.

def test_lb_in_a_zone_renders_it(client, project):
    """The zone's name is stored and shown."""
    made = az(client, {"compute_zone": "rack-2"})
    lb = client.create_lb(project, availability_zone=made["name"])
    assert lb["availability_zone"] == made["name"]


def test_lb_in_unknown_zone_is_400(client, project):
    """A zone name that names no zone is refused."""
    resp = post_lb(client, project, availability_zone=unique("nowhere"))
    assert (resp.status_code, fault(resp)) == \
        (400, "Validation failure: Invalid availability zone.")


def test_lb_in_disabled_zone_is_400(client, project):
    """A disabled zone cannot take new load balancers."""
    made = az(client, enabled=False)
    resp = post_lb(client, project, availability_zone=made["name"])
    assert (resp.status_code, fault(resp)) == \
        (400, "The selected availability_zone is not allowed in this deployment: "
              f"{made['name']}")


def test_zone_metadata_reaches_the_driver(client, project, driver, monkeypatch):
    """loadbalancer_create receives the zone's metadata as LoadBalancer.availability_zone."""
    calls = spy(monkeypatch, driver, "loadbalancer_create")
    data = {"compute_zone": "rack-3"}
    made = az(client, data)
    fl = flavor(client, {"compute_flavor": "m1.big"})
    created(post_lb(client, project, availability_zone=made["name"], flavor_id=fl["id"]),
            "loadbalancer")
    [(lb,)] = calls
    assert (lb.availability_zone, lb.flavor) == (data, {"compute_flavor": "m1.big"})


def test_zone_is_validated_again_on_lb_create(client, project, driver, monkeypatch):
    """The driver re-checks the zone metadata; UnsupportedOption is 501 and leaves nothing."""
    made = az(client, {"compute_zone": "rack-4"})

    def refuse(metadata):
        raise lib_exc.UnsupportedOptionError(user_fault_string="rack-4 is full",
                                             operator_fault_string="full")

    monkeypatch.setattr(driver, "validate_availability_zone", refuse)
    resp = post_lb(client, project, availability_zone=made["name"])
    assert (resp.status_code, fault(resp)) == \
        (501, "Provider 'noop' does not support a requested option: rack-4 is full")
    assert client.get(f"{LBS}?project_id={project}").get_json()["loadbalancers"] == []


@pytest.mark.parametrize("error", [lib_exc.NotImplementedError, NotImplementedError])
def test_provider_without_zones_is_501_on_lb_create(client, project, driver, monkeypatch,
                                                    error):
    """A driver that does not implement zones: 501 saying so, whatever its own words."""
    made = az(client, {"compute_zone": "rack-5"})

    def refuse(metadata):
        raise error()

    monkeypatch.setattr(driver, "validate_availability_zone", refuse)
    resp = post_lb(client, project, availability_zone=made["name"])
    assert (resp.status_code, fault(resp)) == \
        (501, "Provider 'noop' does not support a requested action: This provider does not "
              "support availability zones.")


def test_empty_zone_metadata_is_not_revalidated(client, project, driver, monkeypatch):
    """A zone with no metadata needs no driver check (a driver without zones may host it)."""
    made = az(client)

    def refuse(metadata):
        raise lib_exc.NotImplementedError()

    monkeypatch.setattr(driver, "validate_availability_zone", refuse)
    assert post_lb(client, project, availability_zone=made["name"]).status_code == 201


def test_zone_valid_vip_networks_refuses_other_networks(client, project):
    """A zone's valid_vip_networks restricts where its VIPs go."""
    made = az(client, {"valid_vip_networks": [str(uuid.uuid4())]})
    resp = post_lb(client, project, availability_zone=made["name"])
    assert (resp.status_code, fault(resp)) == (400, NOT_ALLOWED)


def test_zone_valid_vip_networks_replace_the_configured_list(client, app, project):
    """A network the zone allows is fine even when the configuration does not list it."""
    subnet = str(uuid.uuid4())
    network = network_of(app, subnet)
    made = az(client, {"valid_vip_networks": [network.upper()]})
    with overridden(app, **{"networking.valid_vip_networks": [str(uuid.uuid4())]}):
        resp = post_lb(client, project, vip_subnet_id=subnet, availability_zone=made["name"])
        assert resp.status_code == 201, resp.get_json()
        assert fault(post_lb(client, project, vip_subnet_id=subnet)) == NOT_ALLOWED


def test_zone_without_networks_keeps_the_configured_list(client, app, project):
    """A zone that lists no networks leaves [networking] valid_vip_networks in force."""
    made = az(client, {"valid_vip_networks": []})
    with overridden(app, **{"networking.valid_vip_networks": [str(uuid.uuid4())]}):
        resp = post_lb(client, project, availability_zone=made["name"])
    assert (resp.status_code, fault(resp)) == (400, NOT_ALLOWED)


def test_denylist_applies_inside_a_zone(client, app, project):
    """denylist_vip_networks still refuses a network the zone allows."""
    subnet = str(uuid.uuid4())
    network = network_of(app, subnet)
    made = az(client, {"valid_vip_networks": [network]})
    with overridden(app, **{"networking.denylist_vip_networks": [network]}):
        resp = post_lb(client, project, vip_subnet_id=subnet, availability_zone=made["name"])
    assert (resp.status_code, fault(resp)) == (400, NOT_ALLOWED)


@pytest.mark.parametrize("url", [AZS, AZPROFILES, "/v2/lbaas/flavors", "/v2/lbaas/flavorprofiles"])
def test_tag_filters_are_ignored_on_untagged_resources(client, url):
    """Flavors, zones and profiles have no tags: tag filters change nothing."""
    plain = client.get(f"{url}?fields=name").get_json()
    for param in ("tags", "tags-any", "not-tags", "not-tags-any"):
        resp = client.get(f"{url}?{param}=0&fields=name")
        assert resp.status_code == 200
        assert resp.get_json() == plain
