"""Load balancers through the API: create variants, project, rendering, update, delete, failover."""
import ipaddress
import re
import uuid

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.core import models
from lbaas.network import noop
from tests.api.support import (EMPTY_NET, LBS, SHARED_NET, SHARED_V4, SHARED_V6, add_pool,
                               create_listener, db, fault, lb_url, overridden, report_stats,
                               set_status)
from tests.api.support import shared_network  # noqa: F401  (a fixture)

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?$")
def post_lb(client, project=None, headers=None, **fields):
    """POST a load balancer body built from fields (with a fresh subnet unless VIP fields given)."""
    if not {"vip_subnet_id", "vip_network_id", "vip_port_id"} & set(fields):
        fields["vip_subnet_id"] = str(uuid.uuid4())
    if project is not None:
        fields["project_id"] = project
    return client.post(LBS, {"loadbalancer": fields}, headers=headers or {})


# Create: VIP variants.

def test_create_answers_201_pending_create_offline(client, project):
    """A new load balancer is PENDING_CREATE/OFFLINE in the create answer."""
    resp = post_lb(client, project)
    lb = resp.get_json()["loadbalancer"]
    assert resp.status_code == 201
    assert (lb["provisioning_status"], lb["operating_status"]) == ("PENDING_CREATE", "OFFLINE")


def test_create_with_subnet_derives_network_and_address(client, app, project):
    """vip_subnet_id alone: the subnet's network and an address of the noop backend's pool."""
    subnet_id = str(uuid.uuid4())
    lb = post_lb(client, project, vip_subnet_id=subnet_id).get_json()["loadbalancer"]
    subnet = app.extensions["lbaas_core"].network.get_subnet(subnet_id)
    assert lb["vip_subnet_id"] == subnet_id
    assert lb["vip_network_id"] == subnet["network_id"]
    assert ipaddress.ip_address(lb["vip_address"]) in noop.UNNUMBERED_POOL


def test_create_with_subnet_and_address_keeps_the_address(client, project):
    """A vip_address on a subnet without a CIDR (any noop subnet) is used as given."""
    lb = post_lb(client, project, vip_address="203.0.113.77").get_json()
    assert lb["loadbalancer"]["vip_address"] == "203.0.113.77"


def test_create_with_ipv6_address_on_any_subnet(client, project):
    """An IPv6 VIP on a random noop subnet is accepted, as upstream's noop accepts it."""
    lb = post_lb(client, project, vip_address="2001:db8:33:33:33:33:33:33").get_json()
    assert lb["loadbalancer"]["vip_address"] == "2001:db8:33:33:33:33:33:33"


def test_create_with_address_outside_subnet_is_400(client, project):
    """A vip_address outside a subnet's CIDR is refused (public-subnet has a CIDR)."""
    resp = post_lb(client, project, vip_subnet_id=noop.PUBLIC_SUBNET_ID,
                   vip_address="203.0.113.9")
    assert resp.status_code == 400
    assert fault(resp) == (f"Validation failure: VIP address 203.0.113.9 is not in subnet "
                           f"{noop.PUBLIC_SUBNET_ID}.")


def test_create_with_any_network_gets_its_subnet(client, project):
    """vip_network_id alone: every noop network has a subnet, which the VIP goes on."""
    network_id = str(uuid.uuid4())
    lb = post_lb(client, project, vip_network_id=network_id).get_json()["loadbalancer"]
    assert lb["vip_network_id"] == network_id
    assert lb["vip_subnet_id"] == noop.default_subnet_id(network_id)


def test_create_with_any_network_and_subnet_binds_them(client, project):
    """A random network with a random subnet: the subnet is taken to be on that network."""
    network_id, subnet_id = str(uuid.uuid4()), str(uuid.uuid4())
    lb = post_lb(client, project, vip_network_id=network_id,
                 vip_subnet_id=subnet_id).get_json()["loadbalancer"]
    assert (lb["vip_network_id"], lb["vip_subnet_id"]) == (network_id, subnet_id)


@pytest.mark.usefixtures("shared_network")
def test_create_with_network_picks_its_ipv4_subnet(client, project):
    """vip_network_id alone: the first IPv4 subnet of the network is chosen."""
    lb = post_lb(client, project, vip_network_id=SHARED_NET).get_json()["loadbalancer"]
    assert (lb["vip_network_id"], lb["vip_subnet_id"]) == (SHARED_NET, SHARED_V4)


@pytest.mark.usefixtures("shared_network")
def test_create_with_network_and_address_finds_the_subnet(client, project):
    """vip_network_id + vip_address: the subnet whose CIDR holds the address is chosen."""
    lb = post_lb(client, project, vip_network_id=SHARED_NET,
                 vip_address="fd00:99::10").get_json()["loadbalancer"]
    assert (lb["vip_subnet_id"], lb["vip_address"]) == (SHARED_V6, "fd00:99::10")


@pytest.mark.usefixtures("shared_network")
def test_create_with_network_without_subnets_is_400(client, project):
    """A network with no subnet to allocate from is refused."""
    resp = post_lb(client, project, vip_network_id=EMPTY_NET)
    assert resp.status_code == 400
    assert fault(resp) == ("Validation failure: Supplied network does not contain a subnet "
                           f"with available IPs: {EMPTY_NET}")


@pytest.mark.usefixtures("shared_network")
def test_create_with_subnet_outside_network_is_400(client, project):
    """vip_subnet_id must belong to the vip_network_id given with it."""
    subnet_id = str(uuid.uuid4())
    resp = post_lb(client, project, vip_network_id=SHARED_NET, vip_subnet_id=subnet_id)
    assert resp.status_code == 400
    assert fault(resp) == f"Subnet {subnet_id} not found."


def test_create_with_port_and_subnet_keeps_the_port(client, project):
    """vip_port_id is used as given; the subnet says where the address lives."""
    port_id = str(uuid.uuid4())
    lb = post_lb(client, project, vip_port_id=port_id,
                 vip_subnet_id=str(uuid.uuid4())).get_json()["loadbalancer"]
    assert lb["vip_port_id"] == port_id


def test_create_with_port_without_fixed_ip_or_subnet_is_400(client, project):
    """A port with no address and no subnet given leaves the VIP subnet unknown."""
    resp = post_lb(client, project, vip_port_id=str(uuid.uuid4()))
    assert resp.status_code == 400
    assert "VIP port's subnet could not be determined" in fault(resp)


def test_create_without_any_vip_field_is_400(client, project):
    """No port, network or subnet: the message lists the three allowed objects."""
    resp = client.post(LBS, {"loadbalancer": {"project_id": project}})
    assert resp.status_code == 400
    assert fault(resp) == ("Validation failure: VIP must contain one of: vip_port_id, "
                           "vip_network_id, vip_subnet_id.")


def test_vip_must_contain_lists_only_allowed_objects(client, app, project):
    """With vip_subnet_id disallowed, the message names only the other two."""
    with overridden(app, **{"networking.allow_vip_subnet_id": False}):
        resp = client.post(LBS, {"loadbalancer": {"project_id": project}})
    assert fault(resp) == ("Validation failure: VIP must contain one of: vip_port_id, "
                           "vip_network_id.")


@pytest.mark.parametrize("option,field", [
    ("allow_vip_subnet_id", "vip_subnet_id"), ("allow_vip_network_id", "vip_network_id"),
    ("allow_vip_port_id", "vip_port_id")])
def test_vip_field_disallowed_by_config_is_400(client, app, project, option, field):
    """A VIP field the deployment disallows is refused with Octavia's text."""
    with overridden(app, **{f"networking.{option}": False}):
        resp = post_lb(client, project, **{field: str(uuid.uuid4())})
    assert resp.status_code == 400
    assert fault(resp) == (f"Validation failure: use of {field} is disallowed by this "
                           "deployment's configuration.")


def test_vip_network_outside_valid_networks_is_400(client, app, project):
    """[networking] valid_vip_networks restricts where VIPs may go."""
    with overridden(app, **{"networking.valid_vip_networks": [str(uuid.uuid4())]}):
        resp = post_lb(client, project)
    assert fault(resp) == ("Validation failure: Supplied VIP network_id is not allowed by the "
                           "configuration of this deployment.")


@pytest.mark.usefixtures("shared_network")
def test_additional_vip_on_same_network_is_created(client, project):
    """An additional VIP on another subnet of the same network is allocated and rendered."""
    lb = post_lb(client, project, vip_subnet_id=SHARED_V4,
                 additional_vips=[{"subnet_id": SHARED_V6}]).get_json()["loadbalancer"]
    [extra] = lb["additional_vips"]
    assert set(extra) == {"subnet_id", "ip_address", "port_id"}
    assert extra["subnet_id"] == SHARED_V6
    assert ipaddress.ip_address(extra["ip_address"]).version == 6


@pytest.mark.usefixtures("shared_network")
def test_additional_vip_repeating_primary_subnet_is_400(client, project):
    """The primary subnet may not appear again among the additional VIPs."""
    resp = post_lb(client, project, vip_subnet_id=SHARED_V4,
                   additional_vips=[{"subnet_id": SHARED_V4}])
    assert resp.status_code == 400
    assert fault(resp).startswith("Validation failure: Duplicate VIP subnet(s) specified.")


@pytest.mark.usefixtures("shared_network")
def test_additional_vips_repeating_a_subnet_is_400(client, project):
    """Two additional VIPs on one subnet are refused."""
    resp = post_lb(client, project, vip_subnet_id=SHARED_V4,
                   additional_vips=[{"subnet_id": SHARED_V6}, {"subnet_id": SHARED_V6}])
    assert fault(resp).startswith("Validation failure: Duplicate VIP subnet(s) specified.")


@pytest.mark.usefixtures("shared_network")
def test_additional_vip_on_other_network_is_400(client, project):
    """Every VIP subnet must be on the primary VIP's network."""
    resp = post_lb(client, project, vip_subnet_id=SHARED_V4,
                   additional_vips=[{"subnet_id": str(uuid.uuid4())}])
    assert resp.status_code == 400
    assert fault(resp) == "Validation failure: All VIP subnets must belong to the same network."


def test_additional_vip_without_subnet_is_400(client, project):
    """subnet_id is mandatory in an additional VIP."""
    resp = post_lb(client, project, additional_vips=[{"ip_address": "10.0.0.1"}])
    assert fault(resp) == ("Invalid input for field/attribute subnet_id. Value: 'None'. "
                           "Mandatory field missing.")


# Create: project, provider, flavor, availability zone.

def test_project_comes_from_body(client, project):
    """project_id in the body is the load balancer's project."""
    lb = post_lb(client, project).get_json()["loadbalancer"]
    assert lb["project_id"] == project


def test_tenant_id_is_an_alias_that_wins(client, project):
    """tenant_id beats project_id when both are sent, and is rendered again last, as
    upstream renders it (measured on Octavia 19) for every object with a project."""
    lb = post_lb(client, "other-project", tenant_id=project).get_json()["loadbalancer"]
    assert (lb["project_id"], list(lb)[-1], lb["tenant_id"]) == (project, "tenant_id", project)


@pytest.mark.parametrize("header", ["X-Project-Id", "X-Tenant-Id", "X-Tenant"])
def test_project_comes_from_header_without_body_project(client, project, header):
    """Without a body project, X-Project-Id (or X-Tenant-Id, X-Tenant) names it."""
    lb = post_lb(client, headers={header: project}).get_json()["loadbalancer"]
    assert lb["project_id"] == project


def test_project_id_header_beats_tenant_headers(client, project):
    """X-Project-Id is preferred over the legacy tenant headers."""
    headers = {"X-Tenant-Id": "legacy", "X-Tenant": "older", "X-Project-Id": project}
    assert post_lb(client, headers=headers).get_json()["loadbalancer"]["project_id"] == project


def test_body_project_beats_header(client, project):
    """A body project_id wins over the X-Project-Id header."""
    lb = post_lb(client, project, headers={"X-Project-Id": "header-project"}).get_json()
    assert lb["loadbalancer"]["project_id"] == project


def test_noauth_default_project_when_none_given(client, app):
    """Under noauth with no project anywhere, the configured default project is used."""
    with overridden(app, **{"api_settings.noauth_default_project": "fallback-proj"}):
        lb = post_lb(client).get_json()["loadbalancer"]
    assert lb["project_id"] == "fallback-proj"


def test_unknown_provider_is_400(client, project):
    """A provider that is not enabled is refused with Octavia's text."""
    resp = post_lb(client, project, provider="x")
    assert resp.status_code == 400
    assert fault(resp) == "Provider 'x' is not enabled."


def test_default_provider_is_rendered(client, project):
    """Without provider the configured default is stored and shown."""
    lb = post_lb(client, project).get_json()["loadbalancer"]
    assert lb["provider"] == "noop"


def test_flavor_id_is_400(client, project):
    """A flavor_id naming no flavor is invalid (flavor rules: tests/api/test_flavors.py)."""
    resp = post_lb(client, project, flavor_id=str(uuid.uuid4()))
    assert resp.status_code == 400
    assert fault(resp) == "Validation failure: Invalid flavor_id."


def test_availability_zone_is_400(client, project):
    """A zone name naming no zone is invalid (zone rules: tests/api/test_availability_zones.py)."""
    resp = post_lb(client, project, availability_zone=f"az-{uuid.uuid4().hex}")
    assert resp.status_code == 400
    assert fault(resp) == "Validation failure: Invalid availability zone."


# Rendering.

def test_admin_state_up_null_is_false(client, project):
    """admin_state_up: null in a create body means false."""
    lb = post_lb(client, project, admin_state_up=None).get_json()["loadbalancer"]
    assert lb["admin_state_up"] is False


def test_admin_state_up_defaults_to_true(client, project):
    """Without admin_state_up a load balancer is enabled."""
    assert post_lb(client, project).get_json()["loadbalancer"]["admin_state_up"] is True


def test_name_and_description_render_empty_not_null(client, project):
    """Unset name and description are "" in every answer."""
    lb = client.create_lb(project)
    assert (lb["name"], lb["description"]) == ("", "")


def test_null_name_on_update_renders_empty(client, project):
    """name: null on PUT clears it to ""."""
    lb = client.create_lb(project, name="web")
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"name": None}})
    assert resp.get_json()["loadbalancer"]["name"] == ""


def test_timestamps_have_no_zone_suffix(client, project):
    """created_at is naive ISO 8601 (no Z, no offset); updated_at null before any update."""
    lb = post_lb(client, project).get_json()["loadbalancer"]
    assert TIMESTAMP.match(lb["created_at"])
    assert lb["updated_at"] is None


def test_updated_at_set_by_update(client, project):
    """An update stamps updated_at in the same format."""
    lb = client.create_lb(project)
    updated = client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "x"}}).get_json()
    assert TIMESTAMP.match(updated["loadbalancer"]["updated_at"])


def test_show_renders_every_documented_field(client, project):
    """GET one shows Octavia's load balancer attributes, children as id references."""
    lb = client.create_lb(project)
    assert set(lb) == {
        "id", "name", "description", "project_id", "provisioning_status", "operating_status",
        "admin_state_up", "tags", "created_at", "updated_at", "vip_address", "vip_port_id",
        "vip_subnet_id", "vip_network_id", "vip_qos_policy_id", "vip_sg_ids", "vip_vnic_type",
        "additional_vips", "listeners", "pools", "provider", "flavor_id", "availability_zone",
        "tenant_id"}


def test_active_load_balancer_is_online(client, project):
    """After the provider reports, the load balancer is ACTIVE and ONLINE."""
    lb = client.create_lb(project)
    assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")


def test_show_lists_listeners_as_ids(client, project):
    """A load balancer shows its listeners as [{"id"}]."""
    lb = client.create_lb(project)
    li = create_listener(client, lb)
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert shown["listeners"] == [{"id": li["id"]}]


# Tags.

def test_tags_given_on_create_are_rendered(client, project):
    """Tags sent on create come back as a list."""
    lb = post_lb(client, project, tags=["a", "b"]).get_json()["loadbalancer"]
    assert sorted(lb["tags"]) == ["a", "b"]


def test_tags_put_replaces_the_list(client, project):
    """PUT tags replaces the whole list."""
    lb = client.create_lb(project, tags=["a", "b"])
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"tags": ["c"]}})
    assert resp.get_json()["loadbalancer"]["tags"] == ["c"]


def test_tags_null_on_put_leaves_them(client, project):
    """tags: null on PUT changes nothing."""
    lb = client.create_lb(project, tags=["a"])
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"tags": None}})
    assert resp.get_json()["loadbalancer"]["tags"] == ["a"]


def test_tags_empty_list_on_put_clears_them(client, project):
    """tags: [] on PUT removes every tag."""
    lb = client.create_lb(project, tags=["a"])
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"tags": []}})
    assert resp.get_json()["loadbalancer"]["tags"] == []


# Update.

def test_update_answers_200_with_new_values_pending_update(client, project):
    """PUT answers 200 with the new values and PENDING_UPDATE."""
    lb = client.create_lb(project)
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {
        "name": "n", "description": "d", "admin_state_up": False}})
    body = resp.get_json()["loadbalancer"]
    assert resp.status_code == 200
    assert (body["name"], body["description"], body["admin_state_up"]) == ("n", "d", False)
    assert body["provisioning_status"] == "PENDING_UPDATE"


def test_update_reaches_active_again(client, project):
    """After an update the provider brings the load balancer back to ACTIVE."""
    lb = client.create_lb(project)
    client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "again"}})
    assert client.wait(lb_url(lb["id"]), "loadbalancer")["name"] == "again"


def test_disabled_load_balancer_goes_offline(client, project):
    """admin_state_up false makes the provider report OFFLINE."""
    lb = client.create_lb(project)
    client.put(lb_url(lb["id"]), {"loadbalancer": {"admin_state_up": False}})
    assert client.wait(lb_url(lb["id"]), "loadbalancer")["operating_status"] == "OFFLINE"


@pytest.mark.parametrize("field,value", [
    ("vip_subnet_id", "8d1e0f7c-7a4c-4b8e-9d59-0a5c8e5b2d11"), ("vip_address", "10.0.0.9"),
    ("provider", "noop"), ("project_id", "p"), ("listeners", []), ("flavor_id", None),
    ("id", "8d1e0f7c-7a4c-4b8e-9d59-0a5c8e5b2d11"), ("provisioning_status", "ACTIVE")])
def test_update_of_create_only_field_is_400(client, project, field, value):
    """Fields that cannot change are unknown attributes of an LB PUT."""
    lb = client.create_lb(project)
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {field: value}})
    assert resp.status_code == 400
    assert fault(resp) == f"Unknown attribute for argument loadbalancer: {field}"


def test_update_with_several_unknown_fields_names_them_all(client, project):
    """Several unknown attributes use the plural wording and list every name."""
    lb = client.create_lb(project)
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"vip_address": "1.1.1.1",
                                                         "provider": "x"}})
    assert fault(resp) == "Unknown attributes for argument loadbalancer: provider, vip_address"


@pytest.mark.parametrize("status", ["PENDING_UPDATE", "PENDING_CREATE", "ERROR"])
def test_update_when_not_active_is_409(client, app, project, status):
    """Only an ACTIVE load balancer may be updated."""
    lb = client.create_lb(project)
    set_status(app, models.LoadBalancer, lb["id"], status)
    resp = client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "x"}})
    assert resp.status_code == 409
    assert fault(resp) == f"Invalid state {status} of loadbalancer resource {lb['id']}"


def test_refused_update_changes_nothing(client, app, project):
    """A 409 update leaves the stored values alone."""
    lb = client.create_lb(project, name="keep")
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "lost"}})
    assert client.get(lb_url(lb["id"])).get_json()["loadbalancer"]["name"] == "keep"


def test_update_unknown_load_balancer_is_404(client):
    """PUT on an id that does not exist is 404."""
    lb_id = str(uuid.uuid4())
    resp = client.put(lb_url(lb_id), {"loadbalancer": {"name": "x"}})
    assert resp.status_code == 404
    assert fault(resp) == f"Load Balancer {lb_id} not found."


# Delete.

def test_delete_answers_204_and_then_404(client, project):
    """DELETE answers 204 empty; once DELETED the load balancer is 404."""
    lb = client.create_lb(project)
    resp = client.delete(lb_url(lb["id"]))
    assert (resp.status_code, resp.get_data()) == (204, b"")
    client.wait(lb_url(lb["id"]), "loadbalancer", "DELETED")
    assert fault(client.get(lb_url(lb["id"]))) == f"Load Balancer {lb['id']} not found."


def test_delete_marks_pending_delete_until_the_report(client, app, project, monkeypatch):
    """A deleted load balancer is PENDING_DELETE until its provider reports DELETED."""
    lb = client.create_lb(project)
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "loadbalancer_delete", lambda lb, cascade=False: None)
    client.delete(lb_url(lb["id"]))
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_DELETE"


def test_provider_error_on_update_changes_nothing(client, app, project, monkeypatch):
    """A failed driver call rolls the update back: old name, still ACTIVE."""
    lb = client.create_lb(project, name="before")
    driver = app.extensions["lbaas_core"].drivers.get("noop")

    def failing(old, new):
        raise lib_exc.DriverError(user_fault_string="down", operator_fault_string="x")

    monkeypatch.setattr(driver, "loadbalancer_update", failing)
    assert client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "after"}}).status_code == 500
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert (shown["name"], shown["provisioning_status"]) == ("before", "ACTIVE")


def test_provider_error_on_create_leaves_no_load_balancer(client, app, project, monkeypatch):
    """A failed driver create leaves nothing behind."""
    driver = app.extensions["lbaas_core"].drivers.get("noop")

    def failing(lb):
        raise lib_exc.DriverError(user_fault_string="down", operator_fault_string="x")

    monkeypatch.setattr(driver, "loadbalancer_create", failing)
    assert post_lb(client, project).status_code == 500
    assert client.get(f"{LBS}?project_id={project}").get_json()["loadbalancers"] == []


def test_deleted_load_balancer_is_not_listed(client, project):
    """A DELETED load balancer disappears from lists."""
    lb = client.create_lb(project)
    client.delete(lb_url(lb["id"]))
    client.wait(lb_url(lb["id"]), "loadbalancer", "DELETED")
    assert client.get(f"{LBS}?project_id={project}").get_json()["loadbalancers"] == []


def test_delete_with_children_without_cascade_is_400(client, project):
    """A load balancer with listeners needs cascade to be deleted."""
    lb = client.create_lb(project)
    create_listener(client, lb)
    resp = client.delete(lb_url(lb["id"]))
    assert resp.status_code == 400
    assert fault(resp) == (f"Validation failure: Cannot delete Load Balancer {lb['id']} - "
                           "it has children")


def test_delete_with_pool_without_cascade_is_400(client, app, project):
    """A pool alone is a child too."""
    lb = client.create_lb(project)
    add_pool(client, app, lb)
    assert client.delete(lb_url(lb["id"])).status_code == 400


def test_children_check_comes_before_status_check(client, app, project):
    """With children and not ACTIVE, the answer is the 400, not the 409."""
    lb = client.create_lb(project)
    create_listener(client, lb)
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    assert client.delete(lb_url(lb["id"])).status_code == 400


def test_cascade_delete_removes_children(client, app, project):
    """?cascade=true deletes the load balancer and its listeners and pools."""
    lb = client.create_lb(project)
    li = create_listener(client, lb)
    pool_id = add_pool(client, app, lb)
    assert client.delete(lb_url(lb["id"]) + "?cascade=true").status_code == 204
    client.wait(lb_url(lb["id"]), "loadbalancer", "DELETED")
    assert client.get(f"/v2/lbaas/listeners/{li['id']}").status_code == 404
    with db(app).read() as session:
        assert session.get(models.Pool, pool_id) is None


@pytest.mark.parametrize("word", ["1", "yes", "True"])
def test_cascade_accepts_oslo_true_words(client, project, word):
    """cascade is parsed as oslo parses booleans."""
    lb = client.create_lb(project)
    create_listener(client, lb)
    assert client.delete(lb_url(lb["id"]) + f"?cascade={word}").status_code == 204


def test_delete_of_error_load_balancer_is_allowed(client, app, project):
    """ERROR load balancers may be deleted."""
    lb = client.create_lb(project)
    set_status(app, models.LoadBalancer, lb["id"], "ERROR")
    assert client.delete(lb_url(lb["id"])).status_code == 204


def test_delete_when_pending_is_409(client, app, project):
    """A PENDING load balancer cannot be deleted."""
    lb = client.create_lb(project)
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = client.delete(lb_url(lb["id"]))
    assert resp.status_code == 409
    assert fault(resp) == f"Invalid state PENDING_UPDATE of loadbalancer resource {lb['id']}"


def test_delete_unknown_load_balancer_is_404(client):
    """DELETE on an unknown id is 404."""
    assert client.delete(lb_url(str(uuid.uuid4()))).status_code == 404


# Failover.

def test_failover_answers_202_without_body(client, project):
    """PUT .../failover answers 202 with an empty body."""
    lb = client.create_lb(project)
    resp = client.put(lb_url(lb["id"]) + "/failover")
    assert (resp.status_code, resp.get_data()) == (202, b"")


def test_failover_locks_until_the_provider_reports(client, app, project, monkeypatch):
    """Failover leaves the load balancer PENDING_UPDATE while the provider works."""
    lb = client.create_lb(project)
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "loadbalancer_failover", lambda lb_id: None)  # never reports
    client.put(lb_url(lb["id"]) + "/failover")
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"


def test_failover_returns_to_active(client, project):
    """After failover the provider brings the load balancer back to ACTIVE."""
    lb = client.create_lb(project)
    client.put(lb_url(lb["id"]) + "/failover")
    assert client.wait(lb_url(lb["id"]), "loadbalancer")["operating_status"] == "ONLINE"


def test_failover_of_error_load_balancer_is_allowed(client, app, project):
    """ERROR load balancers may be failed over, and come back ACTIVE."""
    lb = client.create_lb(project)
    set_status(app, models.LoadBalancer, lb["id"], "ERROR")
    assert client.put(lb_url(lb["id"]) + "/failover").status_code == 202
    client.wait(lb_url(lb["id"]), "loadbalancer")


def test_failover_when_pending_is_409(client, app, project):
    """A PENDING load balancer cannot be failed over."""
    lb = client.create_lb(project)
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = client.put(lb_url(lb["id"]) + "/failover")
    assert resp.status_code == 409
    assert fault(resp) == f"Invalid state PENDING_UPDATE of loadbalancer resource {lb['id']}"


def test_failover_unknown_load_balancer_is_404(client):
    """Failover of an unknown id is 404."""
    assert client.put(lb_url(str(uuid.uuid4())) + "/failover").status_code == 404


# Stats and status tree.

def test_stats_are_zero_without_traffic(client, project):
    """A fresh load balancer's counters are all zero."""
    lb = client.create_lb(project)
    create_listener(client, lb)
    assert client.get(lb_url(lb["id"]) + "/stats").get_json() == {"stats": {
        "bytes_in": 0, "bytes_out": 0, "active_connections": 0, "total_connections": 0,
        "request_errors": 0}}


def test_stats_sum_over_listeners(client, app, project):
    """A load balancer's counters are the sums of its listeners' counters."""
    lb = client.create_lb(project)
    first, second = create_listener(client, lb, port=80), create_listener(client, lb, port=81)
    report_stats(app, first["id"], bytes_in=10, active_connections=1, total_connections=4)
    report_stats(app, second["id"], bytes_in=5, bytes_out=7, request_errors=2)
    assert client.get(lb_url(lb["id"]) + "/stats").get_json()["stats"] == {
        "bytes_in": 15, "bytes_out": 7, "active_connections": 1, "total_connections": 4,
        "request_errors": 2}


def test_stats_of_unknown_load_balancer_is_404(client):
    """Stats of an unknown id are 404."""
    assert client.get(lb_url(str(uuid.uuid4())) + "/stats").status_code == 404


def test_status_tree_of_bare_load_balancer(client, project):
    """The tree of a load balancer without children."""
    lb = client.create_lb(project, name="web")
    assert client.get(lb_url(lb["id"]) + "/status").get_json() == {"statuses": {
        "loadbalancer": {"id": lb["id"], "name": "web", "operating_status": "ONLINE",
                         "provisioning_status": "ACTIVE", "listeners": []}}}


def test_statuses_is_an_alias_of_status(client, project):
    """/statuses answers the same tree as /status."""
    lb = client.create_lb(project)
    url = lb_url(lb["id"])
    assert client.get(url + "/statuses").get_json() == client.get(url + "/status").get_json()


def _listener_with_pool(client, app, project):
    lb = client.create_lb(project)
    pool_id = add_pool(client, app, lb)
    li = create_listener(client, lb, default_pool_id=pool_id)
    return lb, li, pool_id


def test_status_tree_nests_listener_and_default_pool(client, app, project):
    """A listener carries its default pool; a pool without monitor has no health_monitor key."""
    lb, li, pool_id = _listener_with_pool(client, app, project)
    tree = client.get(lb_url(lb["id"]) + "/status").get_json()["statuses"]["loadbalancer"]
    [listener] = tree["listeners"]
    [pool] = listener["pools"]
    assert set(listener) == {"id", "name", "operating_status", "provisioning_status", "pools"}
    assert (listener["id"], pool["id"], pool["members"]) == (li["id"], pool_id, [])
    assert "health_monitor" not in pool and "healthmonitor" not in pool


def test_status_tree_shows_health_monitor_snake_case(client, app, project):
    """A pool's monitor appears under "health_monitor" with its type."""
    lb, _, pool_id = _listener_with_pool(client, app, project)
    hm_id = models.new_id()
    with db(app).write() as session:
        session.add(models.HealthMonitor(
            id=hm_id, pool_id=pool_id, project_id=project, type="TCP", delay=5, timeout=3,
            max_retries=3, provisioning_status="ACTIVE", operating_status="ONLINE"))
    tree = client.get(lb_url(lb["id"]) + "/status").get_json()["statuses"]["loadbalancer"]
    assert tree["listeners"][0]["pools"][0]["health_monitor"] == {
        "id": hm_id, "name": "", "type": "TCP", "provisioning_status": "ACTIVE",
        "operating_status": "ONLINE"}


def test_status_tree_has_no_lb_level_pools(client, app, project):
    """Pools appear only under listeners; an unattached pool is not shown."""
    lb = client.create_lb(project)
    add_pool(client, app, lb)
    tree = client.get(lb_url(lb["id"]) + "/status").get_json()["statuses"]["loadbalancer"]
    assert "pools" not in tree and tree["listeners"] == []


def test_status_of_unknown_load_balancer_is_404(client):
    """The status tree of an unknown id is 404."""
    assert client.get(lb_url(str(uuid.uuid4())) + "/status").status_code == 404
