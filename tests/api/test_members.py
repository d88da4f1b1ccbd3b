"""Members: single-member rules, the pool lock, and the declarative batch update."""
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm

from lbaas.core import models
from tests.api import support
from tests.api.support import fault

POOLS = "/v2/lbaas/pools"


@pytest.fixture
def spy(driver, monkeypatch):
    """Record the arguments of one driver method while still calling it."""
    calls = []

    def watch(method):
        original = getattr(driver, method)
        monkeypatch.setattr(driver, method,
                            lambda *args: (calls.append(args), original(*args))[1])
        return calls

    return watch


@pytest.fixture
def lb(client, project):
    return client.create_lb(project)


@pytest.fixture
def pool(client, lb):
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
    return client.create("pools", "pool", body, lb["id"])


def members_url(pool):
    return f"{POOLS}/{pool['id']}/members"


def add(client, lb, pool, address="10.0.0.1", port=80, **fields):
    body = dict(address=address, protocol_port=port, **fields)
    return client.create("members", "member", body, lb["id"], parent_url=members_url(pool))


def post(client, pool, address="10.0.0.1", port=80, **fields):
    return client.post(members_url(pool), {"member": dict(address=address, protocol_port=port,
                                                          **fields)})


def batch(client, pool, members, additive=False):
    url = members_url(pool) + ("?additive_only=true" if additive else "")
    return client.put(url, {"members": members})


def settle(client, lb, pool):
    client.wait(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
    return client.wait(f"{POOLS}/{pool['id']}", "pool")


def listed(client, pool):
    return client.get(members_url(pool)).get_json()["members"]


def status(client, url, key):
    return client.get(url).get_json()[key]["provisioning_status"]


# Create.

def test_member_reaches_active_without_monitor(client, lb, pool, project):
    member = add(client, lb, pool, name="web1")
    assert (member["operating_status"], member["name"], member["project_id"]) == \
        ("NO_MONITOR", "web1", project)


def test_member_create_answers_201_with_defaults(client, pool):
    resp = post(client, pool)
    body = resp.get_json()["member"]
    assert resp.status_code == 201
    assert [body[k] for k in ("provisioning_status", "operating_status", "weight", "backup",
                              "admin_state_up", "vnic_type", "monitor_address", "subnet_id")] \
        == ["PENDING_CREATE", "NO_MONITOR", 1, False, True, "normal", None, None]


def test_member_of_monitored_pool_starts_offline_then_goes_online(client, lb, pool):
    client.create("healthmonitors", "healthmonitor",
                  {"pool_id": pool["id"], "type": "TCP", "delay": 3, "timeout": 1,
                   "max_retries": 2}, lb["id"])
    assert post(client, pool, "10.0.0.2").get_json()["member"]["operating_status"] == "OFFLINE"
    settle(client, lb, pool)
    assert listed(client, pool)[0]["operating_status"] == "ONLINE"


def test_member_on_unknown_pool_is_404(client):
    pool_id = str(uuid.uuid4())
    resp = post(client, {"id": pool_id})
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_duplicate_member_conflicts(client, lb, pool):
    add(client, lb, pool)
    resp = post(client, pool)
    assert (resp.status_code, fault(resp)) == \
        (409, "Another member on this pool is already using ip 10.0.0.1 on protocol_port 80")


def test_same_address_on_another_port_is_accepted(client, lb, pool):
    add(client, lb, pool)
    assert post(client, pool, port=81).status_code == 201


def test_reserved_address_is_rejected(client, pool):
    resp = post(client, pool, "169.254.169.254")
    assert (resp.status_code, fault(resp)) == \
        (400, "169.254.169.254 is not a valid option for member address")


def test_unknown_subnet_is_rejected(client, pool, app, monkeypatch):
    monkeypatch.setattr(app.extensions["lbaas_core"].network, "get_subnet", lambda _id: None)
    subnet = str(uuid.uuid4())
    resp = post(client, pool, subnet_id=subnet)
    assert (resp.status_code, fault(resp)) == (400, f"Subnet {subnet} not found.")


def test_existing_subnet_is_stored(client, lb, pool):
    subnet = str(uuid.uuid4())
    assert add(client, lb, pool, subnet_id=subnet)["subnet_id"] == subnet


def test_sriov_member_is_rejected(client, pool):
    resp = post(client, pool, request_sriov=True)
    assert (resp.status_code, fault(resp)) == \
        (400, "The load balancer flavor does not allow SR-IOV member ports.")


def test_invalid_address_is_rejected(client, pool):
    resp = post(client, pool, "10.0.0.300")
    assert fault(resp) == ("Invalid input for field/attribute address. Value: '10.0.0.300'. "
                           "Value should be IPv4 or IPv6 format")


def test_ipv6_addresses_are_kept_as_sent(client, lb, pool):
    """Upstream returns addresses as they were sent; clients compare them as strings."""
    member = add(client, lb, pool, "2001:db8:0:0:0:0:0:1", monitor_address="2001:DB8::0:2",
                 monitor_port=8080)
    assert (member["address"], member["monitor_address"]) == ("2001:db8:0:0:0:0:0:1",
                                                              "2001:DB8::0:2")
    updated = client.put(f"{members_url(pool)}/{member['id']}",
                         {"member": {"monitor_address": "2001:db8:0::3"}}).get_json()["member"]
    assert updated["monitor_address"] == "2001:db8:0::3"


def test_reserved_address_is_rejected_in_any_spelling(client, app, pool):
    with support.overridden(app, **{"networking.reserved_ips": ["fd00::254"]}):
        resp = post(client, pool, "fd00:0:0:0:0:0:0:254")
    assert (resp.status_code, fault(resp)) == \
        (400, "fd00:0:0:0:0:0:0:254 is not a valid option for member address")


def test_list_accepts_its_pool_as_a_filter(client, lb, pool):
    """openstacksdk's members(pool) sends ?pool_id=<the pool in the path>."""
    member = add(client, lb, pool)
    listed_ = client.get(f"{members_url(pool)}?pool_id={pool['id']}").get_json()["members"]
    assert [m["id"] for m in listed_] == [member["id"]]
    other = client.get(f"{members_url(pool)}?pool_id={uuid.uuid4()}").get_json()["members"]
    assert other == []


def test_weight_above_256_is_rejected(client, pool):
    assert post(client, pool, weight=257).status_code == 400


def test_member_has_no_description(client, pool):
    resp = post(client, pool, description="x")
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument member: description")


# Locks.

def test_member_create_on_non_active_pool_conflicts(client, pool, app):
    support.set_status(app, models.Pool, pool["id"], "PENDING_UPDATE")
    resp = post(client, pool)
    assert (resp.status_code, fault(resp)) == \
        (409, f"Pool {pool['id']} is immutable and cannot be updated.")


def test_member_create_on_busy_load_balancer_conflicts(client, lb, pool, app):
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = post(client, pool)
    assert (resp.status_code, fault(resp)) == \
        (409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")
    assert listed(client, pool) == []


def test_member_create_holds_pool_listener_and_load_balancer(client, lb, pool, freeze):
    li = client.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80,
        "default_pool_id": pool["id"]}, lb["id"])
    freeze()
    post(client, pool)
    assert [status(client, f"{POOLS}/{pool['id']}", "pool"),
            status(client, f"/v2/lbaas/listeners/{li['id']}", "listener"),
            status(client, f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")] == \
        ["PENDING_UPDATE"] * 3


# Show, list, update, delete.

def test_member_of_another_pool_is_404(client, lb, pool):
    other = client.create("pools", "pool", {"loadbalancer_id": lb["id"], "protocol": "TCP",
                                            "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
    member = add(client, lb, pool)
    resp = client.get(f"{members_url(other)}/{member['id']}")
    assert (resp.status_code, fault(resp)) == (404, f"Member {member['id']} not found.")


def test_member_list_is_scoped_to_its_pool(client, lb, pool):
    other = client.create("pools", "pool", {"loadbalancer_id": lb["id"], "protocol": "TCP",
                                            "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
    member = add(client, lb, pool)
    add(client, lb, other)
    body = client.get(members_url(pool)).get_json()
    assert ([m["id"] for m in body["members"]], body["members_links"]) == ([member["id"]], [])


def test_member_list_filters_by_address(client, lb, pool):
    add(client, lb, pool, "10.0.0.1")
    wanted = add(client, lb, pool, "10.0.0.2")
    body = client.get(members_url(pool) + "?address=10.0.0.2").get_json()
    assert [m["id"] for m in body["members"]] == [wanted["id"]]


def test_member_list_of_unknown_pool_is_404(client):
    assert client.get(f"{POOLS}/{uuid.uuid4()}/members").status_code == 404


def test_member_update_answers_200_with_new_values(client, lb, pool):
    member = add(client, lb, pool)
    resp = client.put(f"{members_url(pool)}/{member['id']}", {"member": {"weight": 5,
                                                                         "backup": True}})
    body = resp.get_json()["member"]
    assert (resp.status_code, body["weight"], body["backup"], body["provisioning_status"]) == \
        (200, 5, True, "PENDING_UPDATE")


def test_member_update_null_resets_weight_and_backup(client, lb, pool):
    member = add(client, lb, pool, weight=5, backup=True)
    resp = client.put(f"{members_url(pool)}/{member['id']}", {"member": {"weight": None,
                                                                         "backup": None}})
    body = resp.get_json()["member"]
    assert (body["weight"], body["backup"]) == (1, False)


def test_member_update_sends_only_given_fields_to_the_driver(client, lb, pool, spy):
    member = add(client, lb, pool)
    calls = spy("member_update")
    client.put(f"{members_url(pool)}/{member['id']}", {"member": {"weight": None}})
    old, new = calls[0]
    assert (old.weight, new.weight, new.member_id, new.backup) == (1, 1, member["id"], dm.Unset)


def test_member_address_is_not_updatable(client, lb, pool):
    member = add(client, lb, pool)
    resp = client.put(f"{members_url(pool)}/{member['id']}", {"member": {"address": "10.0.0.9"}})
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument member: address")


def test_member_update_reaches_active(client, lb, pool):
    member = add(client, lb, pool)
    client.put(f"{members_url(pool)}/{member['id']}", {"member": {"admin_state_up": False}})
    settle(client, lb, pool)
    got = client.wait(f"{members_url(pool)}/{member['id']}", "member")
    assert (got["admin_state_up"], got["operating_status"]) == (False, "OFFLINE")


def test_member_update_on_non_active_pool_conflicts(client, lb, pool, app):
    member = add(client, lb, pool)
    support.set_status(app, models.Pool, pool["id"], "ERROR")
    resp = client.put(f"{members_url(pool)}/{member['id']}", {"member": {"weight": 2}})
    assert resp.status_code == 409


def test_member_delete_answers_204_and_removes_it(client, lb, pool):
    member = add(client, lb, pool)
    assert client.delete(f"{members_url(pool)}/{member['id']}").status_code == 204
    client.wait(f"{members_url(pool)}/{member['id']}", "member", status="DELETED")
    assert listed(client, pool) == []


def test_member_delete_marks_pending_delete(client, lb, pool, freeze):
    member = add(client, lb, pool)
    freeze()
    client.delete(f"{members_url(pool)}/{member['id']}")
    assert status(client, f"{members_url(pool)}/{member['id']}", "member") == "PENDING_DELETE"


# Batch update.

def by_address(client, pool):
    return {m["address"]: m for m in listed(client, pool)}


def test_batch_creates_updates_and_deletes(client, lb, pool):
    add(client, lb, pool, "10.0.0.1")
    kept = add(client, lb, pool, "10.0.0.2")
    resp = batch(client, pool, [{"address": "10.0.0.2", "protocol_port": 80, "weight": 7},
                                {"address": "10.0.0.3", "protocol_port": 80}])
    assert (resp.status_code, resp.data) == (202, b"")
    settle(client, lb, pool)
    got = by_address(client, pool)
    assert sorted(got) == ["10.0.0.2", "10.0.0.3"]
    assert (got["10.0.0.2"]["id"], got["10.0.0.2"]["weight"]) == (kept["id"], 7)


def test_batch_marks_each_member_pending(client, lb, pool, freeze):
    add(client, lb, pool, "10.0.0.1")
    add(client, lb, pool, "10.0.0.2")
    freeze()
    batch(client, pool, [{"address": "10.0.0.2", "protocol_port": 80},
                         {"address": "10.0.0.3", "protocol_port": 80}])
    got = {a: m["provisioning_status"] for a, m in by_address(client, pool).items()}
    assert got == {"10.0.0.1": "PENDING_DELETE", "10.0.0.2": "PENDING_UPDATE",
                   "10.0.0.3": "PENDING_CREATE"}
    assert status(client, f"{POOLS}/{pool['id']}", "pool") == "PENDING_UPDATE"


def test_batch_applies_create_defaults_to_matched_members(client, lb, pool):
    add(client, lb, pool, weight=5, backup=True, name="keep")
    batch(client, pool, [{"address": "10.0.0.1", "protocol_port": 80}])
    settle(client, lb, pool)
    got = listed(client, pool)[0]
    assert (got["weight"], got["backup"], got["name"]) == (1, False, "keep")


def test_batch_additive_only_keeps_unlisted_members(client, lb, pool):
    add(client, lb, pool, "10.0.0.1")
    batch(client, pool, [{"address": "10.0.0.2", "protocol_port": 80}], additive=True)
    settle(client, lb, pool)
    assert sorted(by_address(client, pool)) == ["10.0.0.1", "10.0.0.2"]


def test_batch_driver_receives_the_desired_members(client, lb, pool, spy):
    add(client, lb, pool, "10.0.0.1")
    add(client, lb, pool, "10.0.0.2")
    calls = spy("member_batch_update")
    batch(client, pool, [{"address": "10.0.0.2", "protocol_port": 80},
                         {"address": "10.0.0.3", "protocol_port": 80}])
    pool_id, members = calls[0]
    assert pool_id == pool["id"]
    assert all(isinstance(m, dm.Member) for m in members)
    assert sorted(m.address for m in members) == ["10.0.0.2", "10.0.0.3"]


def test_batch_additive_only_passes_untouched_members_to_the_driver(client, lb, pool, spy):
    add(client, lb, pool, "10.0.0.1")
    calls = spy("member_batch_update")
    batch(client, pool, [{"address": "10.0.0.2", "protocol_port": 80}], additive=True)
    assert sorted(m.address for m in calls[0][1]) == ["10.0.0.1", "10.0.0.2"]


def test_batch_naming_a_member_twice_is_rejected(client, pool):
    resp = batch(client, pool, [{"address": "10.0.0.1", "protocol_port": 80},
                                {"address": "10.0.0.1", "protocol_port": 80, "weight": 3}])
    assert (resp.status_code, fault(resp)) == \
        (400, "Validation failure: Member must be updated only once in the same request.")


def test_batch_that_changes_nothing_takes_no_lock_and_calls_no_driver(client, lb, pool, spy):
    calls = spy("member_batch_update")
    resp = batch(client, pool, [])
    assert (resp.status_code, calls) == (202, [])
    assert status(client, f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer") == "ACTIVE"
    assert status(client, f"{POOLS}/{pool['id']}", "pool") == "ACTIVE"


def test_batch_additive_with_no_members_changes_nothing(client, lb, pool, spy):
    add(client, lb, pool)
    calls = spy("member_batch_update")
    assert (batch(client, pool, [], additive=True).status_code, calls) == (202, [])


def test_batch_with_empty_list_deletes_every_member(client, lb, pool):
    add(client, lb, pool)
    batch(client, pool, [])
    settle(client, lb, pool)
    assert listed(client, pool) == []


def test_batch_on_non_active_pool_conflicts(client, pool, app):
    support.set_status(app, models.Pool, pool["id"], "PENDING_UPDATE")
    resp = batch(client, pool, [{"address": "10.0.0.1", "protocol_port": 80}])
    assert (resp.status_code, fault(resp)) == \
        (409, f"Pool {pool['id']} is immutable and cannot be updated.")


def test_batch_rejects_a_new_reserved_address(client, pool):
    resp = batch(client, pool, [{"address": "169.254.169.254", "protocol_port": 80}])
    assert fault(resp) == "169.254.169.254 is not a valid option for member address"


def test_batch_rejects_sriov_members(client, pool):
    resp = batch(client, pool, [{"address": "10.0.0.1", "protocol_port": 80,
                                 "request_sriov": True}])
    assert resp.status_code == 400


def test_batch_on_unknown_pool_is_404(client):
    pool_id = str(uuid.uuid4())
    resp = batch(client, {"id": pool_id}, [])
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_batch_items_are_validated_with_the_create_schema(client, pool):
    resp = batch(client, pool, [{"address": "10.0.0.1"}])
    assert fault(resp) == ("Invalid input for field/attribute protocol_port. Value: 'None'. "
                           "Mandatory field missing.")
