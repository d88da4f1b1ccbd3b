"""Flavor profiles and flavors through the API, and load balancers created with a flavor."""
import json
import re
import threading
import uuid

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc
from sqlalchemy import select

from lbaas.core import models
from lbaas.core.services import common
from tests.api.catalog_support import (FLAVORPROFILES, FLAVORS, LBS, created, delete_lb,
                                       flavor, flavor_profile, post_lb, spy, unique)
from tests.api.support import db, fault, overridden
from tests.conftest import ApiClient

NIL = "00000000-0000-0000-0000-000000000000"
UUID_RE = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ACTIVE_STANDBY = {"loadbalancer_topology": "ACTIVE_STANDBY", "compute_flavor": "m1.large"}


def profile_url(profile_id):
    """The URL of one flavor profile."""
    return f"{FLAVORPROFILES}/{profile_id}"


def flavor_url(flavor_id):
    """The URL of one flavor."""
    return f"{FLAVORS}/{flavor_id}"


def post_profile(client, **fields):
    """POST a valid flavor profile body, with fields replacing or adding attributes."""
    body = {"name": unique("fp"), "provider_name": "noop", "flavor_data": "{}"}
    body.update(fields)
    return client.post(FLAVORPROFILES, {"flavorprofile": body})


def stored_lb(app, lb_id):
    """The load balancer row as stored (with the columns the API does not render)."""
    with db(app).read() as session:
        return session.get(models.LoadBalancer, lb_id)


# Flavor profiles: create.

def test_profile_create_answers_201_with_the_data_string_as_sent(client):
    """flavor_data is a JSON string, stored and rendered byte for byte as the caller wrote it."""
    name = unique("fp")
    raw = '{ "loadbalancer_topology":  "SINGLE" }'
    resp = post_profile(client, name=name, flavor_data=raw)
    body = created(resp, "flavorprofile")
    assert list(body) == ["id", "name", "provider_name", "flavor_data"]
    assert (body["name"], body["provider_name"], body["flavor_data"]) == (name, "noop", raw)
    assert client.get(profile_url(body["id"])).get_json() == {"flavorprofile": body}


@pytest.mark.parametrize("raw", ["{not json", "[1, 2]", '"text"', "3", "null", ""])
def test_profile_data_that_is_not_a_json_object_is_400(client, raw):
    """Data that does not parse to a JSON object is an InvalidOption naming flavor_data."""
    resp = post_profile(client, flavor_data=raw)
    assert resp.status_code == 400
    assert fault(resp) == f"{raw} is not a valid option for flavor_data"


def test_profile_data_given_as_an_object_is_400(client):
    """flavor_data must be a string holding JSON, not a JSON object."""
    resp = post_profile(client, flavor_data={"loadbalancer_topology": "SINGLE"})
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute flavor_data.")


def test_profile_data_longer_than_4096_is_400(client):
    """flavor_data holds at most 4096 characters."""
    raw = json.dumps({"compute_flavor": "x" * 4090})
    resp = post_profile(client, flavor_data=raw)
    assert resp.status_code == 400
    assert "flavor_data" in fault(resp)


def test_profile_with_a_key_the_driver_does_not_know_is_501(client):
    """The provider's validate_flavor refuses unknown keys: UnsupportedOptionError is 501."""
    resp = post_profile(client, flavor_data='{"image": "ubuntu"}')
    assert resp.status_code == 501
    assert fault(resp) == ("Provider 'noop' does not support a requested option: Additional "
                           "properties are not allowed ('image' was unexpected)")


@pytest.mark.parametrize("data,reason", [
    ({"sriov_vip": "yes"}, "sriov_vip 'yes' is not of type 'boolean'"),
    ({"loadbalancer_topology": "TRIPLE"},
     "loadbalancer_topology 'TRIPLE' is not one of ['SINGLE', 'ACTIVE_STANDBY']"),
    ({"compute_flavor": 7}, "compute_flavor 7 is not of type 'string'"),
])
def test_profile_with_a_value_of_the_wrong_type_is_501(client, data, reason):
    """Values are checked by the driver too."""
    resp = post_profile(client, flavor_data=json.dumps(data))
    assert resp.status_code == 501
    assert fault(resp) == f"Provider 'noop' does not support a requested option: {reason}"


def test_profile_refused_by_the_driver_leaves_nothing(client):
    """A refused profile is not stored."""
    name = unique("fp")
    post_profile(client, name=name, flavor_data='{"image": "x"}')
    assert client.get(f"{FLAVORPROFILES}?name={name}").get_json()["flavorprofiles"] == []


def test_profile_of_a_provider_not_enabled_is_400(client):
    """The profile's provider must be enabled."""
    resp = post_profile(client, provider_name="amphora")
    assert resp.status_code == 400
    assert fault(resp) == "Provider 'amphora' is not enabled."


@pytest.mark.parametrize("missing", ["name", "provider_name", "flavor_data"])
def test_profile_without_a_mandatory_field_is_400(client, missing):
    """name, provider_name and flavor_data are all mandatory."""
    body = {"name": "n", "provider_name": "noop", "flavor_data": "{}"}
    del body[missing]
    resp = client.post(FLAVORPROFILES, {"flavorprofile": body})
    assert resp.status_code == 400
    assert fault(resp) == (f"Invalid input for field/attribute {missing}. Value: 'None'. "
                           "Mandatory field missing.")


def test_profile_with_an_id_is_400(client):
    """ids are generated: one in the body is an unknown attribute."""
    resp = post_profile(client, id=str(uuid.uuid4()))
    assert fault(resp) == "Unknown attribute for argument flavorprofile: id"


# Flavor profiles: read and list.

@pytest.mark.parametrize("profile_id", [NIL, "bogus"])
def test_profile_unknown_or_nil_is_404(client, profile_id):
    """An unknown id, the nil UUID included, is 404 for GET, PUT and DELETE."""
    expected = f"Flavor profile {profile_id} not found."
    assert fault(client.get(profile_url(profile_id))) == expected
    resp = client.put(profile_url(profile_id), {"flavorprofile": {"name": "x"}})
    assert (resp.status_code, fault(resp)) == (404, expected)
    resp = client.delete(profile_url(profile_id))
    assert (resp.status_code, fault(resp)) == (404, expected)


def test_profile_list_links_key_is_singular(client):
    """The list's links key is flavorprofile_links, not flavorprofiles_links."""
    body = client.get(FLAVORPROFILES).get_json()
    assert set(body) == {"flavorprofiles", "flavorprofile_links"}


def test_profile_list_filters_fields_and_pages(client):
    """Profiles are filtered by name, trimmed by fields=, paged with limit/marker."""
    name = unique("fp")
    first = flavor_profile(client, name=name)
    second = flavor_profile(client, name=name)
    low, high = sorted((first["id"], second["id"]))  # no created_at: ids break ties
    body = client.get(f"{FLAVORPROFILES}?name={name}&fields=id&fields=name&limit=1").get_json()
    assert body["flavorprofiles"] == [{"id": low, "name": name}]
    [link] = body["flavorprofile_links"]
    assert link["rel"] == "next" and f"marker={low}" in link["href"]
    rest = client.get(f"{FLAVORPROFILES}?name={name}&marker={low}").get_json()
    assert [p["id"] for p in rest["flavorprofiles"]] == [high]


def test_profile_list_sorts_by_name(client):
    """sort= works on profile attributes."""
    provider_data = json.dumps({"compute_flavor": unique("sort")})
    names = [unique("b"), unique("a")]
    for n in names:
        created(post_profile(client, name=n, flavor_data=provider_data), "flavorprofile")
    listed = client.get(f"{FLAVORPROFILES}?flavor_data={provider_data}&sort=name:desc")
    assert [p["name"] for p in listed.get_json()["flavorprofiles"]] == sorted(names, reverse=True)


def test_profile_list_unknown_filter_is_400(client):
    """A filter that is not a profile attribute is refused."""
    resp = client.get(f"{FLAVORPROFILES}?project_id=x")
    assert (resp.status_code, fault(resp)) == \
        (400, "One or more arguments are either duplicate or invalid")


# Flavor profiles: update.

def test_profile_rename_answers_200(client):
    """PUT name renames the profile."""
    profile = flavor_profile(client)
    resp = client.put(profile_url(profile["id"]), {"flavorprofile": {"name": "renamed"}})
    assert resp.status_code == 200
    assert resp.get_json()["flavorprofile"] == dict(profile, name="renamed")


@pytest.mark.parametrize("field", ["name", "provider_name", "flavor_data"])
def test_profile_put_null_is_400(client, field):
    """null may not replace a profile's name, provider or data."""
    profile = flavor_profile(client)
    resp = client.put(profile_url(profile["id"]), {"flavorprofile": {field: None}})
    assert resp.status_code == 400
    assert fault(resp) == f"None is not a valid option for {field}"


def test_profile_put_data_is_validated_and_stored(client):
    """New data of an unused profile goes through the driver, then replaces the old."""
    profile = flavor_profile(client)
    url = profile_url(profile["id"])
    resp = client.put(url, {"flavorprofile": {"flavor_data": '{"sriov_vip": 1}'}})
    assert (resp.status_code, fault(resp)) == \
        (501, "Provider 'noop' does not support a requested option: sriov_vip 1 is not of "
              "type 'boolean'")
    resp = client.put(url, {"flavorprofile": {"flavor_data": "{oops"}})
    assert (resp.status_code, fault(resp)) == (400, "{oops is not a valid option for flavor_data")
    resp = client.put(url, {"flavorprofile": {"flavor_data": '{"sriov_vip": true}'}})
    assert resp.get_json()["flavorprofile"]["flavor_data"] == '{"sriov_vip": true}'


def test_profile_put_provider_not_enabled_is_400(client):
    """A new provider must be enabled (the stored data is checked against it)."""
    profile = flavor_profile(client)
    resp = client.put(profile_url(profile["id"]), {"flavorprofile": {"provider_name": "ghost"}})
    assert (resp.status_code, fault(resp)) == (400, "Provider 'ghost' is not enabled.")
    assert client.get(profile_url(profile["id"])).get_json()["flavorprofile"] == profile


@pytest.mark.parametrize("change", [{"flavor_data": '{"sriov_vip": true}'},
                                    {"provider_name": "noop"}])
def test_profile_in_use_keeps_its_provider_and_data(client, change):
    """Once a flavor uses a profile, its data and provider are frozen (409)."""
    profile = flavor_profile(client)
    flavor(client, profile_id=profile["id"])
    resp = client.put(profile_url(profile["id"]), {"flavorprofile": change})
    assert resp.status_code == 409
    assert fault(resp) == f"Flavor profile {profile['id']} is in use and cannot be modified."


def test_profile_in_use_may_be_renamed(client):
    """The name of a used profile may still change."""
    profile = flavor_profile(client)
    flavor(client, profile_id=profile["id"])
    resp = client.put(profile_url(profile["id"]), {"flavorprofile": {"name": "still-ok"}})
    assert resp.get_json()["flavorprofile"]["name"] == "still-ok"


# Flavor profiles: delete.

def test_profile_delete_answers_204_then_404(client):
    """An unused profile is deleted."""
    profile = flavor_profile(client)
    resp = client.delete(profile_url(profile["id"]))
    assert (resp.status_code, resp.get_data()) == (204, b"")
    assert client.get(profile_url(profile["id"])).status_code == 404


def test_profile_delete_in_use_is_409(client):
    """A profile a flavor uses stays."""
    profile = flavor_profile(client)
    flavor(client, profile_id=profile["id"])
    resp = client.delete(profile_url(profile["id"]))
    assert resp.status_code == 409
    assert fault(resp) == f"Flavor profile {profile['id']} is in use and cannot be modified."
    assert client.get(profile_url(profile["id"])).status_code == 200


# Flavors: create.

def test_flavor_create_answers_201_with_defaults(client):
    """A flavor renders id, name, description ("" when unset), enabled (true), profile id."""
    profile = flavor_profile(client)
    name = unique("flavor")
    resp = client.post(FLAVORS, {"flavor": {"name": name, "flavor_profile_id": profile["id"]}})
    body = created(resp, "flavor")
    assert list(body) == ["id", "name", "description", "enabled", "flavor_profile_id"]
    assert body == {"id": body["id"], "name": name, "description": "", "enabled": True,
                    "flavor_profile_id": profile["id"]}
    assert re.match(UUID_RE, body["id"])


def test_flavor_is_also_served_under_v2(client):
    """/v2/flavors is the same collection."""
    made = flavor(client, description="d", enabled=False)
    shown = client.get(f"/v2/flavors/{made['id']}").get_json()
    assert shown == {"flavor": made}
    assert (made["description"], made["enabled"]) == ("d", False)


def test_flavor_duplicate_name_is_409(client):
    """Flavor names are unique."""
    made = flavor(client)
    resp = client.post(FLAVORS, {"flavor": {"name": made["name"],
                                            "flavor_profile_id": made["flavor_profile_id"]}})
    assert resp.status_code == 409
    assert fault(resp) == f"A flavor of {made['name']} already exists."


def test_flavor_on_unknown_profile_is_404(client):
    """The profile must exist."""
    missing = str(uuid.uuid4())
    resp = client.post(FLAVORS, {"flavor": {"name": unique("f"), "flavor_profile_id": missing}})
    assert resp.status_code == 404
    assert fault(resp) == f"Flavor profile {missing} not found."


def test_flavor_profile_id_must_be_a_uuid(client):
    """flavor_profile_id is checked as a UUID."""
    resp = client.post(FLAVORS, {"flavor": {"name": "x", "flavor_profile_id": "bogus"}})
    assert fault(resp) == ("Invalid input for field/attribute flavor_profile_id. Value: "
                           "'bogus'. Value should be UUID format")


@pytest.mark.parametrize("missing", ["name", "flavor_profile_id"])
def test_flavor_without_a_mandatory_field_is_400(client, missing):
    """name and flavor_profile_id are mandatory."""
    body = {"name": "x", "flavor_profile_id": str(uuid.uuid4())}
    del body[missing]
    resp = client.post(FLAVORS, {"flavor": body})
    assert fault(resp) == (f"Invalid input for field/attribute {missing}. Value: 'None'. "
                           "Mandatory field missing.")


def test_flavor_name_longer_than_255_is_400(client):
    """Names are at most 255 characters."""
    resp = client.post(FLAVORS, {"flavor": {"name": "n" * 256,
                                            "flavor_profile_id": str(uuid.uuid4())}})
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute name.")


def test_flavor_enabled_null_means_disabled(client):
    """enabled: null is false, as admin_state_up: null is."""
    assert flavor(client, enabled=None)["enabled"] is False


# Flavors: read and list.

@pytest.mark.parametrize("flavor_id", [NIL, "bogus"])
def test_flavor_unknown_or_nil_is_404(client, flavor_id):
    """An unknown id, the nil UUID included, is 404 for GET, PUT and DELETE."""
    expected = f"Flavor {flavor_id} not found."
    assert fault(client.get(flavor_url(flavor_id))) == expected
    resp = client.put(flavor_url(flavor_id), {"flavor": {"name": "x"}})
    assert (resp.status_code, fault(resp)) == (404, expected)
    resp = client.delete(flavor_url(flavor_id))
    assert (resp.status_code, fault(resp)) == (404, expected)


def test_flavor_show_fields(client):
    """fields= trims a shown flavor."""
    made = flavor(client)
    shown = client.get(f"{flavor_url(made['id'])}?fields=id&fields=flavor_profile_id")
    assert shown.get_json() == {"flavor": {"id": made["id"],
                                           "flavor_profile_id": made["flavor_profile_id"]}}


def test_flavor_list_filters_sorts_and_pages(client):
    """Flavors list under flavors/flavors_links, filtered, sorted and paged."""
    profile = flavor_profile(client)
    made = [flavor(client, profile_id=profile["id"], name=unique(p)) for p in "cab"]
    query = f"{FLAVORS}?flavor_profile_id={profile['id']}"
    body = client.get(f"{query}&sort=name:asc&limit=2").get_json()
    expected = sorted(made, key=lambda f: f["name"])
    assert set(body) == {"flavors", "flavors_links"}
    assert body["flavors"] == expected[:2]
    [link] = body["flavors_links"]
    assert link["rel"] == "next" and f"marker={expected[1]['id']}" in link["href"]
    rest = client.get(f"{query}&sort=name:asc&marker={expected[1]['id']}").get_json()
    assert rest["flavors"] == expected[2:]


def test_flavor_list_filters_on_enabled(client):
    """enabled= is a boolean filter."""
    profile = flavor_profile(client)
    on = flavor(client, profile_id=profile["id"])
    off = flavor(client, profile_id=profile["id"], enabled=False)
    query = f"{FLAVORS}?flavor_profile_id={profile['id']}&fields=id"
    assert client.get(f"{query}&enabled=false").get_json()["flavors"] == [{"id": off["id"]}]
    assert client.get(f"{query}&enabled=true").get_json()["flavors"] == [{"id": on["id"]}]


def test_flavor_list_bad_sort_key_is_400(client):
    """A sort key that is not a flavor attribute is refused."""
    resp = client.get(f"{FLAVORS}?sort=created_at")
    assert (resp.status_code, fault(resp)) == (400, "Supplied sort key 'created_at' is not valid.")


# Flavors: update.

def test_flavor_update_answers_200_with_new_values(client):
    """name, description and enabled are updatable."""
    made = flavor(client, description="old")
    new = {"name": unique("new"), "description": "better", "enabled": False}
    resp = client.put(flavor_url(made["id"]), {"flavor": new})
    assert resp.status_code == 200
    assert resp.get_json()["flavor"] == dict(made, **new)
    assert client.get(flavor_url(made["id"])).get_json()["flavor"] == dict(made, **new)


def test_flavor_update_empty_changes_nothing(client):
    """An empty update answers the flavor unchanged."""
    made = flavor(client, description="same")
    assert client.put(flavor_url(made["id"]), {"flavor": {}}).get_json() == {"flavor": made}


def test_flavor_description_null_clears_it(client):
    """description: null renders ""."""
    made = flavor(client, description="gone soon")
    resp = client.put(flavor_url(made["id"]), {"flavor": {"description": None}})
    assert resp.get_json()["flavor"]["description"] == ""


def test_flavor_name_null_is_400(client):
    """A flavor keeps a name."""
    made = flavor(client)
    resp = client.put(flavor_url(made["id"]), {"flavor": {"name": None}})
    assert (resp.status_code, fault(resp)) == (400, "None is not a valid option for name")


def test_flavor_rename_to_a_taken_name_is_409(client):
    """Renaming onto another flavor's name is refused and changes nothing."""
    first, second = flavor(client), flavor(client)
    resp = client.put(flavor_url(second["id"]), {"flavor": {"name": first["name"]}})
    assert (resp.status_code, fault(resp)) == (409, f"A flavor of {first['name']} already exists.")
    assert client.get(flavor_url(second["id"])).get_json()["flavor"] == second


def test_flavor_profile_id_is_not_updatable(client):
    """flavor_profile_id is create-only: an unknown attribute on PUT."""
    made = flavor(client)
    resp = client.put(flavor_url(made["id"]), {"flavor": {"flavor_profile_id": str(uuid.uuid4())}})
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument flavor: flavor_profile_id")


# Flavors: delete.

def test_flavor_delete_answers_204_then_404(client):
    """An unused flavor is deleted, and its profile is free again."""
    made = flavor(client)
    resp = client.delete(flavor_url(made["id"]))
    assert (resp.status_code, resp.get_data()) == (204, b"")
    assert fault(client.get(flavor_url(made["id"]))) == f"Flavor {made['id']} not found."
    assert client.delete(profile_url(made["flavor_profile_id"])).status_code == 204


def test_flavor_used_by_a_load_balancer_cannot_be_deleted(client, project):
    """A flavor of a live load balancer is in use (409), and stays."""
    made = flavor(client)
    client.create_lb(project, flavor_id=made["id"])
    resp = client.delete(flavor_url(made["id"]))
    assert resp.status_code == 409
    assert fault(resp) == f"Flavor {made['id']} is in use and cannot be modified."
    assert client.get(flavor_url(made["id"])).status_code == 200


def test_flavor_of_deleted_load_balancers_only_can_be_deleted(client, app, project):
    """DELETED load balancers do not hold their flavor: their reference is cleared."""
    made = flavor(client)
    lb = client.create_lb(project, flavor_id=made["id"])
    delete_lb(client, lb["id"])
    assert client.delete(flavor_url(made["id"])).status_code == 204
    row = stored_lb(app, lb["id"])
    assert (row.provisioning_status, row.flavor_id) == ("DELETED", None)


def test_flavor_in_use_check_spares_other_load_balancers(client, app, project):
    """Deleting one flavor leaves other flavors' deleted load balancers alone."""
    kept, dropped = flavor(client), flavor(client)
    lb = client.create_lb(project, flavor_id=kept["id"])
    delete_lb(client, lb["id"])
    assert client.delete(flavor_url(dropped["id"])).status_code == 204
    assert stored_lb(app, lb["id"]).flavor_id == kept["id"]


# Load balancers created with a flavor.

def test_lb_with_flavor_renders_it_and_reaches_active(client, project):
    """The flavor id is stored and shown; the load balancer goes ACTIVE as usual."""
    made = flavor(client, ACTIVE_STANDBY)
    lb = client.create_lb(project, flavor_id=made["id"])
    assert (lb["flavor_id"], lb["provider"], lb["provisioning_status"]) == \
        (made["id"], "noop", "ACTIVE")


def test_lb_with_unknown_flavor_is_400(client, project):
    """A flavor_id naming no flavor is refused."""
    resp = post_lb(client, project, flavor_id=str(uuid.uuid4()))
    assert (resp.status_code, fault(resp)) == (400, "Validation failure: Invalid flavor_id.")


def test_lb_with_disabled_flavor_is_400(client, project):
    """A disabled flavor cannot be used for new load balancers."""
    made = flavor(client, enabled=False)
    resp = post_lb(client, project, flavor_id=made["id"])
    assert resp.status_code == 400
    assert fault(resp) == f"The selected flavor is not allowed in this deployment: {made['id']}"
    assert client.get(f"{LBS}?project_id={project}").get_json()["loadbalancers"] == []


def test_disabling_a_flavor_keeps_its_load_balancers(client, project):
    """Existing load balancers keep a flavor that is disabled later."""
    made = flavor(client)
    lb = client.create_lb(project, flavor_id=made["id"])
    client.put(flavor_url(made["id"]), {"flavor": {"enabled": False}})
    assert client.get(f"{LBS}/{lb['id']}").get_json()["loadbalancer"]["flavor_id"] == made["id"]
    assert post_lb(client, project, flavor_id=made["id"]).status_code == 400


def test_lb_provider_differing_from_the_flavors_is_400(client, project):
    """An explicit provider must be the flavor profile's."""
    made = flavor(client)
    resp = post_lb(client, project, flavor_id=made["id"], provider="amphora")
    assert resp.status_code == 400
    assert fault(resp) == f"Flavor '{made['id']}' is not compatible with provider 'amphora'"


def test_lb_same_provider_as_the_flavors_is_accepted(client, project):
    """Naming the flavor's own provider is fine."""
    made = flavor(client)
    assert post_lb(client, project, flavor_id=made["id"], provider="noop").status_code == 201


@pytest.fixture
def second_provider(app, driver, monkeypatch):
    """The noop driver enabled a second time, as provider "noop2" (not the default)."""
    registry = app.extensions["lbaas_core"].drivers
    monkeypatch.setitem(registry.enabled, "noop2", "noop, again")
    monkeypatch.setitem(registry._drivers, "noop2", driver)
    return "noop2"


def test_lb_provider_comes_from_the_flavor_profile(client, project, second_provider):
    """Without a provider, the flavor's profile names it (not the default provider)."""
    profile = flavor_profile(client, provider=second_provider)
    made = flavor(client, profile_id=profile["id"])
    lb = post_lb(client, project, flavor_id=made["id"]).get_json()["loadbalancer"]
    assert lb["provider"] == second_provider
    resp = post_lb(client, project, flavor_id=made["id"], provider="noop")
    assert fault(resp) == f"Flavor '{made['id']}' is not compatible with provider 'noop'"


def test_flavor_metadata_reaches_the_driver(client, project, driver, monkeypatch):
    """loadbalancer_create receives the flavor's metadata as LoadBalancer.flavor."""
    calls = spy(monkeypatch, driver, "loadbalancer_create")
    made = flavor(client, ACTIVE_STANDBY)
    created(post_lb(client, project, flavor_id=made["id"]), "loadbalancer")
    [(lb,)] = calls
    assert lb.flavor == ACTIVE_STANDBY
    assert lb.availability_zone == {}


def test_no_flavor_gives_the_driver_an_empty_dict(client, project, driver, monkeypatch):
    """Without a flavor the driver sees flavor == {}."""
    calls = spy(monkeypatch, driver, "loadbalancer_create")
    created(post_lb(client, project), "loadbalancer")
    assert calls[0][0].flavor == {}


def test_graph_create_passes_the_flavor_too(client, project, driver, monkeypatch):
    """A fully populated create gets the same flavor metadata and its children."""
    calls = spy(monkeypatch, driver, "loadbalancer_create")
    made = flavor(client, {"compute_flavor": "m1.tiny"})
    lb = created(post_lb(client, project, flavor_id=made["id"], listeners=[
        {"protocol": "HTTP", "protocol_port": 80}]), "loadbalancer")
    [(provider_lb,)] = calls
    assert provider_lb.flavor == {"compute_flavor": "m1.tiny"}
    assert [li.protocol_port for li in provider_lb.listeners] == [80]
    assert lb["flavor_id"] == made["id"]


def test_flavor_is_validated_again_on_lb_create(client, project, driver, monkeypatch):
    """The driver re-checks the metadata at create time; its refusal is 501 and leaves nothing."""
    made = flavor(client, ACTIVE_STANDBY)
    seen = []

    def refuse(metadata):
        seen.append(metadata)
        raise lib_exc.UnsupportedOptionError(user_fault_string="no longer offered",
                                             operator_fault_string="retired")

    monkeypatch.setattr(driver, "validate_flavor", refuse)
    resp = post_lb(client, project, flavor_id=made["id"])
    assert (resp.status_code, fault(resp)) == \
        (501, "Provider 'noop' does not support a requested option: no longer offered")
    assert seen == [ACTIVE_STANDBY]
    assert client.get(f"{LBS}?project_id={project}").get_json()["loadbalancers"] == []


def test_topology_comes_from_the_flavor(client, app, project):
    """loadbalancer_topology of the flavor is the load balancer's topology."""
    made = flavor(client, ACTIVE_STANDBY)
    lb = created(post_lb(client, project, flavor_id=made["id"]), "loadbalancer")
    assert stored_lb(app, lb["id"]).topology == "ACTIVE_STANDBY"


def test_topology_defaults_to_the_configuration(client, app, project):
    """Without a flavor topology, [controller_worker] loadbalancer_topology applies."""
    made = flavor(client, {"compute_flavor": "m1.small"})
    with overridden(app, **{"controller_worker.loadbalancer_topology": "ACTIVE_STANDBY"}):
        with_flavor = created(post_lb(client, project, flavor_id=made["id"]), "loadbalancer")
    plain = created(post_lb(client, project), "loadbalancer")
    assert stored_lb(app, with_flavor["id"]).topology == "ACTIVE_STANDBY"
    assert stored_lb(app, plain["id"]).topology == "SINGLE"


def test_sriov_vip_flavor_makes_a_direct_vip(client, project):
    """sriov_vip: true gives the VIP vnic type direct; otherwise it is normal."""
    sriov = flavor(client, {"sriov_vip": True})
    plain = flavor(client, {"sriov_vip": False})
    lb = created(post_lb(client, project, flavor_id=sriov["id"]), "loadbalancer")
    assert lb["vip_vnic_type"] == "direct"
    lb = created(post_lb(client, project, flavor_id=plain["id"]), "loadbalancer")
    assert lb["vip_vnic_type"] == "normal"


def test_sriov_vip_with_security_groups_is_400(client, project):
    """An SR-IOV VIP takes no security groups."""
    sriov = flavor(client, {"sriov_vip": True})
    resp = post_lb(client, project, flavor_id=sriov["id"], vip_sg_ids=[str(uuid.uuid4())])
    assert resp.status_code == 400
    assert fault(resp) == \
        "Validation failure: VIP Security Groups are not allowed with VNIC direct type"


def test_failed_lb_create_does_not_hold_the_flavor(client, project, driver, monkeypatch):
    """A create the driver refuses leaves no load balancer, so the flavor is deletable."""
    made = flavor(client)

    def failing(lb):
        raise lib_exc.DriverError(user_fault_string="down", operator_fault_string="x")

    monkeypatch.setattr(driver, "loadbalancer_create", failing)
    assert post_lb(client, project, flavor_id=made["id"]).status_code == 500
    assert client.delete(flavor_url(made["id"])).status_code == 204


def test_flavor_delete_under_a_live_load_balancer_is_refused_by_the_database(client, app,
                                                                             project):
    """The foreign key, not a count, decides: a live row inserted directly still blocks."""
    made = flavor(client)
    lb = client.create_lb(project)
    with db(app).write() as session:
        session.get(models.LoadBalancer, lb["id"]).flavor_id = made["id"]
    assert client.delete(flavor_url(made["id"])).status_code == 409
    with db(app).read() as session:
        assert session.scalar(select(models.Flavor.id).where(
            models.Flavor.id == made["id"])) == made["id"]


def test_flavor_delete_racing_a_create_that_uses_it_is_409(app, client, project, driver,
                                                           monkeypatch):
    """A delete arriving while a create holds the flavor waits for it, then answers 409."""
    made = flavor(client)
    inside, release = threading.Event(), threading.Event()
    real = driver.loadbalancer_create

    def slow_create(lb):
        inside.set()
        assert release.wait(10)
        return real(lb)

    monkeypatch.setattr(driver, "loadbalancer_create", slow_create)
    answers = {}

    def create():
        answers["create"] = post_lb(ApiClient(app.test_client()), project, flavor_id=made["id"])

    def delete():
        answers["delete"] = app.test_client().delete(flavor_url(made["id"]))

    creator = threading.Thread(target=create)
    creator.start()
    assert inside.wait(10)
    deleter = threading.Thread(target=delete)
    deleter.start()
    deleter.join(0.3)
    assert deleter.is_alive()  # held by the create's transaction
    release.set()
    creator.join(10)
    deleter.join(10)
    assert answers["create"].status_code == 201
    assert (answers["delete"].status_code, fault(answers["delete"])) == \
        (409, f"Flavor {made['id']} is in use and cannot be modified.")
    assert client.get(flavor_url(made["id"])).status_code == 200


def test_create_racing_a_delete_of_its_flavor_is_400(app, client, project, monkeypatch):
    """A create arriving while a delete holds the flavor waits for it, then finds no flavor."""
    made = flavor(client)
    inside, release = threading.Event(), threading.Event()
    real = common.flush_or_conflict

    def slow_flush(session, conflict):
        real(session, conflict)
        if not inside.is_set():  # only the delete's flush, the first one, is held
            inside.set()
            assert release.wait(10)

    monkeypatch.setattr(common, "flush_or_conflict", slow_flush)
    answers = {}

    def delete():
        answers["delete"] = app.test_client().delete(flavor_url(made["id"]))

    def create():
        answers["create"] = post_lb(ApiClient(app.test_client()), project, flavor_id=made["id"])

    deleter = threading.Thread(target=delete)
    deleter.start()
    assert inside.wait(10)
    creator = threading.Thread(target=create)
    creator.start()
    creator.join(0.3)
    assert creator.is_alive()  # held by the delete's transaction
    release.set()
    deleter.join(10)
    creator.join(10)
    assert answers["delete"].status_code == 204
    assert (answers["create"].status_code, fault(answers["create"])) == \
        (400, "Validation failure: Invalid flavor_id.")
