"""The noop driver's reconcile: what it reports for a load balancer tree."""
from lbaas.drivers.noop.driver import completion


def node(i, prov="ACTIVE", oper="ONLINE", up=True, **extra):
    return dict(id=i, provisioning_status=prov, operating_status=oper, admin_state_up=up,
                **extra)


def test_pending_delete_lb_reports_deleted_only():
    tree = node("lb", "PENDING_DELETE", listeners=[node("l")], pools=[])
    assert completion(tree) == {"loadbalancers": [{"id": "lb",
                                                   "provisioning_status": "DELETED"}]}


def test_new_objects_become_active_with_healthy_operating_status():
    pool = node("p", "PENDING_CREATE", "OFFLINE", healthmonitor=None,
                members=[node("m", "PENDING_CREATE", "NO_MONITOR"),
                         node("m2", "PENDING_CREATE", "NO_MONITOR", up=False)])
    tree = node("lb", "PENDING_UPDATE", listeners=[node("l", "PENDING_CREATE", "OFFLINE")],
                pools=[pool])
    update = completion(tree)
    assert update["members"] == [{"id": "m", "provisioning_status": "ACTIVE"},
                                 {"id": "m2", "provisioning_status": "ACTIVE",
                                  "operating_status": "OFFLINE"}]
    assert update["pools"] == [{"id": "p", "provisioning_status": "ACTIVE",
                                "operating_status": "ONLINE"}]
    assert update["listeners"] == [{"id": "l", "provisioning_status": "ACTIVE",
                                    "operating_status": "ONLINE"}]
    assert update["loadbalancers"] == [{"id": "lb", "provisioning_status": "ACTIVE"}]


def test_monitor_delete_returns_members_to_no_monitor():
    pool = node("p", "PENDING_UPDATE", healthmonitor=node("hm", "PENDING_DELETE"),
                members=[node("m")])
    update = completion(node("lb", "PENDING_UPDATE", listeners=[], pools=[pool]))
    assert update["healthmonitors"] == [{"id": "hm", "provisioning_status": "DELETED"}]
    assert update["members"] == [{"id": "m", "operating_status": "NO_MONITOR"}]


def test_settled_tree_needs_no_report():
    pool = node("p", healthmonitor=None, members=[node("m", oper="NO_MONITOR")])
    assert completion(node("lb", listeners=[node("l")], pools=[pool])) == {}


def test_policies_and_rules_become_active_rules_first():
    policy = node("pol", "PENDING_CREATE", "OFFLINE",
                  rules=[node("r", "PENDING_CREATE", "OFFLINE"),
                         node("r2", "PENDING_UPDATE", up=False)])
    tree = node("lb", "PENDING_UPDATE", pools=[],
                listeners=[node("l", "PENDING_UPDATE", l7policies=[policy])])
    update = completion(tree)
    assert update["l7rules"] == [
        {"id": "r", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"},
        {"id": "r2", "provisioning_status": "ACTIVE", "operating_status": "OFFLINE"}]
    assert update["l7policies"] == [
        {"id": "pol", "provisioning_status": "ACTIVE", "operating_status": "ONLINE"}]
    assert list(update) == ["l7rules", "l7policies", "listeners", "loadbalancers"]


def test_deleted_policy_and_rule_are_reported_deleted():
    policy = node("pol", "PENDING_UPDATE", rules=[node("r", "PENDING_DELETE")])
    gone = node("old", "PENDING_DELETE", rules=[node("r2")])
    tree = node("lb", "PENDING_UPDATE", pools=[],
                listeners=[node("l", "PENDING_UPDATE", l7policies=[policy, gone])])
    update = completion(tree)
    assert update["l7rules"] == [{"id": "r", "provisioning_status": "DELETED"}]
    assert update["l7policies"] == [{"id": "pol", "provisioning_status": "ACTIVE"},
                                    {"id": "old", "provisioning_status": "DELETED"}]


# measured=False: upstream's noop backends, whose statuses its API tests assert.

def test_unmeasured_leaves_measured_statuses_as_created():
    """The load balancer, listener and pool stay OFFLINE; an admin-down member of an
    unmonitored pool is NO_MONITOR, not OFFLINE."""
    pool = node("p", "PENDING_CREATE", "OFFLINE", healthmonitor=None,
                members=[node("m", "PENDING_CREATE", "NO_MONITOR", up=False)])
    tree = node("lb", "PENDING_CREATE", "OFFLINE",
                listeners=[node("l", "PENDING_CREATE", "OFFLINE")], pools=[pool])
    update = completion(tree, measured=False)
    for collection, object_id in (("members", "m"), ("pools", "p"), ("listeners", "l"),
                                  ("loadbalancers", "lb")):
        assert update[collection] == [{"id": object_id, "provisioning_status": "ACTIVE"}]


def test_unmeasured_sets_what_follows_from_configuration():
    """Monitors and L7 policies and rules follow their admin state; members of a pool that
    lost its monitor go NO_MONITOR; monitored members are left alone."""
    hm = node("hm", "PENDING_CREATE", "OFFLINE", up=False)
    monitored = node("p1", "ACTIVE", "OFFLINE", healthmonitor=hm,
                     members=[node("m1", "ACTIVE", "OFFLINE")])
    unmonitored = node("p2", "ACTIVE", "OFFLINE", healthmonitor=None,
                       members=[node("m2", "ACTIVE", "OFFLINE")])
    rule = node("r", "PENDING_CREATE", "OFFLINE")
    policy = node("po", "PENDING_CREATE", "OFFLINE", rules=[rule])
    tree = node("lb", "PENDING_UPDATE", "OFFLINE",
                listeners=[node("l", "ACTIVE", "OFFLINE", l7policies=[policy])],
                pools=[monitored, unmonitored])
    update = completion(tree, measured=False)
    assert update["healthmonitors"] == [{"id": "hm", "provisioning_status": "ACTIVE"}]
    assert update["members"] == [{"id": "m2", "operating_status": "NO_MONITOR"}]
    assert update["l7policies"] == [{"id": "po", "provisioning_status": "ACTIVE",
                                     "operating_status": "ONLINE"}]
    assert update["l7rules"] == [{"id": "r", "provisioning_status": "ACTIVE",
                                  "operating_status": "ONLINE"}]
    assert "pools" not in update and "listeners" not in update
