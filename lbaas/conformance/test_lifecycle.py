"""Contract: create, update and delete every object type, one at a time, on one load balancer."""
import pytest

from lbaas.conformance import shapes
from lbaas.conformance.bench import Outcome

pytestmark = pytest.mark.contract
STATE = {}


def _need(*keys):
    missing = [k for k in keys if k not in STATE]
    if missing:
        pytest.skip(f"an earlier step did not create the {', '.join(missing)}")
    return [STATE[k] for k in keys]


def test_loadbalancer_create_and_update(conformance_bench):
    """load balancer: create reaches ACTIVE, update reaches ACTIVE with the new values"""
    bench = conformance_bench
    lb = bench.api.show("loadbalancers", bench.lb_id)
    assert lb["provider"] == bench.provider, lb
    assert lb["vip_address"], f"load balancer {lb['id']} has no vip_address: {lb}"
    shapes.updated(bench, "loadbalancers", bench.lb_id,
                   {"name": "conformance-probes", "description": "updated"}, bench.lb_id)


def test_listener_create_and_update(conformance_bench):
    """listener: create and update reach ACTIVE (load balancer ACTIVE again after each)"""
    bench = conformance_bench
    protocol = shapes.base_protocol(bench)
    listener = shapes.created(bench, "listeners", {
        "name": "conformance-listener", "loadbalancer_id": bench.lb_id, "protocol": protocol,
        "protocol_port": bench.port()}, bench.lb_id)
    STATE["listener"] = listener["id"]
    shapes.updated(bench, "listeners", listener["id"],
                   {"name": "conformance-listener-2", "description": "updated"}, bench.lb_id)


def test_pool_create_and_update(conformance_bench):
    """pool: create (as the listener's default pool) and update reach ACTIVE"""
    bench = conformance_bench
    (listener,) = _need("listener")
    protocol = shapes.base_protocol(bench)
    pool = shapes.created(bench, "pools", {
        "name": "conformance-pool", "listener_id": listener, "protocol": protocol,
        "lb_algorithm": shapes.base_algorithm(bench, protocol)}, bench.lb_id)
    STATE["pool"] = pool["id"]
    shown = bench.api.show("listeners", listener)
    assert shown["default_pool_id"] == pool["id"], shown
    shapes.updated(bench, "pools", pool["id"], {"name": "conformance-pool-2"}, bench.lb_id)


def test_member_create_and_update(conformance_bench):
    """member: create and update reach ACTIVE"""
    bench = conformance_bench
    (pool,) = _need("pool")
    member = shapes.created(bench, "members", bench.member_body(1, name="conformance-member"),
                            bench.lb_id, pool)
    STATE["member"] = member["id"]
    shapes.updated(bench, "members", member["id"], {"name": "conformance-member-2"},
                   bench.lb_id, pool)


def test_member_batch_update(conformance_bench):
    """member batch update: new members reach ACTIVE, members left out are DELETED"""
    bench = conformance_bench
    pool, member = _need("pool", "member")
    kept = bench.api.show("members", member, pool)
    keep = {k: kept[k] for k in ("address", "protocol_port", "name")}
    path = f"/v2/lbaas/pools/{pool}/members"
    bench.api.expect("PUT", path, {"members": [keep, bench.member_body(2, name="batch-new")]},
                     (202,))
    bench.api.wait_status("loadbalancers", bench.lb_id)
    members = {m["name"]: m for m in bench.api.expect("GET", path).json["members"]}
    assert set(members) == {"conformance-member-2", "batch-new"}, members
    for m in members.values():
        bench.api.wait_status("members", m["id"], pool_id=pool)
    bench.api.expect("PUT", path, {"members": [bench.member_body(2, name="batch-new")]}, (202,))
    bench.api.wait_status("members", member, "DELETED", pool_id=pool)
    bench.api.wait_status("loadbalancers", bench.lb_id)
    left = [m["name"] for m in bench.api.expect("GET", path).json["members"]]
    assert left == ["batch-new"], f"after a batch update to one member, the pool has {left}"
    STATE["member"] = members["batch-new"]["id"]


def test_healthmonitor_create_and_update(conformance_bench):
    """health monitor: create and update reach ACTIVE"""
    bench = conformance_bench
    (pool,) = _need("pool")
    monitor = shapes.created(bench, "healthmonitors",
                             shapes.monitor_body(pool, shapes.base_protocol(bench),
                                                 name="conformance-monitor"), bench.lb_id)
    STATE["monitor"] = monitor["id"]
    shapes.updated(bench, "healthmonitors", monitor["id"], {"delay": 7}, bench.lb_id)


def test_l7policy_and_rule_create_update_delete(conformance_bench):
    """L7 policy and rule: create, update and delete each reach ACTIVE / DELETED"""
    bench = conformance_bench
    try:
        listener = bench.attempt("listeners", {
            "name": "conformance-l7-listener", "loadbalancer_id": bench.lb_id,
            "protocol": "HTTP", "protocol_port": bench.port()}, bench.lb_id)
    except Outcome as out:
        if out.state == "refused":
            pytest.skip(f"the provider refuses HTTP listeners, so L7 cannot be exercised: "
                        f"{out.detail}")
        raise AssertionError(f"an HTTP listener: {out.detail}") from None
    policy = shapes.created(bench, "l7policies", {
        "name": "conformance-policy", "listener_id": listener["id"], "action": "REJECT"},
        bench.lb_id)
    shapes.updated(bench, "l7policies", policy["id"], {"name": "conformance-policy-2"},
                   bench.lb_id)
    rule = shapes.created(bench, "l7rules", {"type": "PATH", "compare_type": "STARTS_WITH",
                                             "value": "/api"}, bench.lb_id, policy["id"])
    shapes.updated(bench, "l7rules", rule["id"], {"value": "/v2"}, bench.lb_id, policy["id"])
    for kind, object_id, parent in (("l7rules", rule["id"], policy["id"]),
                                    ("l7policies", policy["id"], None),
                                    ("listeners", listener["id"], None)):
        bench.api.delete(kind, object_id, parent)
        bench.api.wait_status("loadbalancers", bench.lb_id)


@pytest.mark.parametrize("kind,key", [("healthmonitors", "monitor"), ("members", "member"),
                                      ("pools", "pool"), ("listeners", "listener")])
def test_delete(conformance_bench, kind, key):
    """delete: health monitor, member, pool and listener each reach DELETED"""
    bench = conformance_bench
    (object_id,) = _need(key)
    parent = STATE["pool"] if kind == "members" else None
    bench.api.delete(kind, object_id, parent)
    bench.api.wait_status("loadbalancers", bench.lb_id)
    del STATE[key]
