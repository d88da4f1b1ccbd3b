"""The status callback applies a driver's message children-first, validates it, and deletes."""
import os
import tempfile

import pytest

from lbaas.core import db as dbmod
from lbaas.core import models
from lbaas.core import status
from lbaas.core.errors import StatusUpdateError
from lbaas.db import migrate


@pytest.fixture
def database():
    url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "s.sqlite")
    migrate.upgrade(url)
    database = dbmod.Database(url)
    yield database
    database.dispose()


@pytest.fixture
def tree(database):
    """An LB with a listener and a pool holding one member and a monitor, all pending."""
    ids = {k: models.new_id() for k in ("lb", "listener", "pool", "member", "hm")}
    pending = dict(provisioning_status="PENDING_CREATE", operating_status="OFFLINE")
    with database.write() as s:
        s.add(models.LoadBalancer(id=ids["lb"], vip_octavia_owned=True, vip_address="10.0.0.5",
                                  vip_subnet_id="s", vip_network_id="n", **pending))
        s.flush()
        s.add(models.Pool(id=ids["pool"], loadbalancer_id=ids["lb"], protocol="HTTP",
                          lb_algorithm="ROUND_ROBIN", **pending))
        s.flush()
        s.add(models.Listener(id=ids["listener"], loadbalancer_id=ids["lb"], protocol="HTTP",
                              l4_protocol="TCP", protocol_port=80, default_pool_id=ids["pool"],
                              **pending))
        s.add(models.Member(id=ids["member"], pool_id=ids["pool"], address="10.0.0.9",
                            protocol_port=80, **pending))
        s.add(models.HealthMonitor(id=ids["hm"], pool_id=ids["pool"], type="TCP", delay=1,
                                   timeout=1, max_retries=1, **pending))
        tag = models.Tag(resource_id=ids["member"], tag="t")
        s.add(tag)
    return ids


def _get(database, model, object_id):
    with database.read() as s:
        return s.get(model, object_id)


def test_statuses_written_by_id(database, tree):
    status.apply_status_update(database, {
        "members": [{"id": tree["member"], "provisioning_status": "ACTIVE",
                     "operating_status": "ONLINE"}],
        "loadbalancers": [{"id": tree["lb"], "provisioning_status": "ACTIVE"}]})
    member = _get(database, models.Member, tree["member"])
    assert (member.provisioning_status, member.operating_status) == ("ACTIVE", "ONLINE")
    lb = _get(database, models.LoadBalancer, tree["lb"])
    assert (lb.provisioning_status, lb.operating_status) == ("ACTIVE", "OFFLINE")


def test_deleted_child_row_is_removed_with_its_tags(database, tree):
    status.apply_status_update(database, {"members": [
        {"id": tree["member"], "provisioning_status": "DELETED"}]})
    assert _get(database, models.Member, tree["member"]) is None
    with database.read() as s:
        assert s.query(models.Tag).filter_by(resource_id=tree["member"]).count() == 0


def test_deleted_pool_takes_members_and_monitor_and_clears_default_pool(database, tree):
    status.apply_status_update(database, {"pools": [
        {"id": tree["pool"], "provisioning_status": "DELETED"}]})
    assert _get(database, models.Member, tree["member"]) is None
    assert _get(database, models.HealthMonitor, tree["hm"]) is None
    assert _get(database, models.Listener, tree["listener"]).default_pool_id is None


def test_deleted_load_balancer_row_is_kept_children_go_vip_released(database, tree):
    released = []

    class Net:
        def deallocate_vip(self, lb_id, vip):
            released.append((lb_id, vip.address))

    status.apply_status_update(database, {"loadbalancers": [
        {"id": tree["lb"], "provisioning_status": "DELETED"}]}, Net())
    assert _get(database, models.LoadBalancer, tree["lb"]).provisioning_status == "DELETED"
    assert _get(database, models.Listener, tree["listener"]) is None
    assert _get(database, models.Pool, tree["pool"]) is None
    assert released == [(tree["lb"], "10.0.0.5")]


def test_deleted_for_missing_row_is_ignored(database):
    status.apply_status_update(database, {"members": [
        {"id": models.new_id(), "provisioning_status": "DELETED"}]})


@pytest.mark.parametrize("record", [
    {"provisioning_status": "ACTIVE"},
    {"id": "x", "provisioning_status": "DONE"},
    {"id": "x", "operating_status": "HAPPY"},
])
def test_malformed_record_is_refused(database, tree, record):
    with pytest.raises(StatusUpdateError) as info:
        status.apply_status_update(database, {"listeners": [record]})
    assert info.value.collection == "listeners"


def test_update_is_atomic(database, tree):
    with pytest.raises(StatusUpdateError):
        status.apply_status_update(database, {
            "members": [{"id": tree["member"], "provisioning_status": "ACTIVE"}],
            "listeners": [{"id": models.new_id(), "provisioning_status": "ACTIVE"}]})
    assert _get(database, models.Member, tree["member"]).provisioning_status == "PENDING_CREATE"


def test_statistics_are_absolute_and_complete(database, tree):
    record = {"id": tree["listener"], "active_connections": 1, "bytes_in": 10, "bytes_out": 20,
              "request_errors": 0, "total_connections": 5}
    status.apply_statistics(database, {"listeners": [record]})
    status.apply_statistics(database, {"listeners": [dict(record, bytes_in=15)]})
    row = _get(database, models.ListenerStatistics, (tree["listener"], tree["listener"]))
    assert (row.bytes_in, row.bytes_out) == (15, 20)
    with pytest.raises(StatusUpdateError):
        status.apply_statistics(database, {"listeners": [{"id": tree["listener"]}]})


def test_pending_load_balancers_found_through_any_descendant(database, tree):
    with database.write() as s:
        s.get(models.LoadBalancer, tree["lb"]).provider = "noop"
        for model in (models.LoadBalancer, models.Listener, models.Pool, models.HealthMonitor):
            s.get(model, tree[{models.LoadBalancer: "lb", models.Listener: "listener",
                               models.Pool: "pool",
                               models.HealthMonitor: "hm"}[model]]).provisioning_status = "ACTIVE"
    assert status.pending_loadbalancer_ids(database, "noop") == [tree["lb"]]
    assert status.pending_loadbalancer_ids(database, "other") == []


def _policies(database, listener_id, count):
    ids = [models.new_id() for _ in range(count)]
    with database.write() as s:
        for position, policy_id in enumerate(ids, 1):
            s.add(models.L7Policy(id=policy_id, listener_id=listener_id, action="REJECT",
                                  position=position, provisioning_status="ACTIVE",
                                  operating_status="ONLINE"))
        s.flush()
        s.add(models.L7Rule(id=models.new_id(), l7policy_id=ids[0], type="PATH",
                            compare_type="EQUAL_TO", value="/", provisioning_status="ACTIVE",
                            operating_status="ONLINE"))
    return ids


def test_deleted_policy_goes_with_its_rules_and_the_others_are_renumbered(database, tree):
    first, second, third = _policies(database, tree["listener"], 3)
    status.apply_status_update(database, {"l7policies": [
        {"id": first, "provisioning_status": "DELETED"}]})
    with database.read() as s:
        assert s.get(models.L7Policy, first) is None
        assert s.query(models.L7Rule).count() == 0
        assert [(p.id, p.position) for p in s.query(models.L7Policy).order_by(
            models.L7Policy.position)] == [(second, 1), (third, 2)]


def test_l7_statuses_written_rules_before_policies(database, tree):
    [policy] = _policies(database, tree["listener"], 1)
    with database.read() as s:
        rule = s.query(models.L7Rule).one().id
    status.apply_status_update(database, {
        "l7policies": [{"id": policy, "provisioning_status": "PENDING_UPDATE"}],
        "l7rules": [{"id": rule, "operating_status": "OFFLINE"}]})
    assert _get(database, models.L7Policy, policy).provisioning_status == "PENDING_UPDATE"
    assert _get(database, models.L7Rule, rule).operating_status == "OFFLINE"
    assert [c for c, _ in status.ORDER].index("l7rules") < \
        [c for c, _ in status.ORDER].index("l7policies") < \
        [c for c, _ in status.ORDER].index("listeners")


@pytest.mark.parametrize("model", [models.L7Policy, models.L7Rule])
def test_pending_load_balancers_found_through_policies_and_rules(database, tree, model):
    [policy] = _policies(database, tree["listener"], 1)
    with database.write() as s:
        s.get(models.LoadBalancer, tree["lb"]).provider = "noop"
        for other in (models.LoadBalancer, models.Listener, models.Pool, models.Member,
                      models.HealthMonitor):
            for row in s.query(other):
                row.provisioning_status = "ACTIVE"
        s.query(model).first().provisioning_status = "PENDING_UPDATE"
    assert status.pending_loadbalancer_ids(database, "noop") == [tree["lb"]]
