"""Contract: one-call graph create, what the driver is handed, and cascade delete."""
import pytest

from lbaas.conformance import driver_view, shapes

pytestmark = pytest.mark.contract
STATE = {}


def test_graph_create_reaches_active(conformance_bench):
    """graph create: a load balancer with listener, pool, members and monitor in one call"""
    bench = conformance_bench
    protocol = shapes.base_protocol(bench)
    pool = {"name": "graph-pool", "protocol": protocol,
            "lb_algorithm": shapes.base_algorithm(bench, protocol),
            "members": [bench.member_body(3, name="graph-m1"),
                        bench.member_body(4, name="graph-m2")],
            "healthmonitor": {k: v for k, v in shapes.monitor_body("", protocol).items()
                              if k != "pool_id"}}
    body = bench.lb_body("conformance-graph", listeners=[{
        "name": "graph-listener", "protocol": protocol, "protocol_port": 80,
        "default_pool": pool}])
    lb = bench.api.create("loadbalancers", body)
    bench.created_lbs.append(lb["id"])
    bench.api.wait_status("loadbalancers", lb["id"])
    tree = bench.api.expect("GET", f"/v2/lbaas/loadbalancers/{lb['id']}/status").json
    tree = tree["statuses"]["loadbalancer"]
    seen = [("loadbalancer", tree["id"], tree["provisioning_status"])]
    for listener in tree["listeners"]:
        seen.append(("listener", listener["id"], listener["provisioning_status"]))
        for p in listener["pools"]:
            seen.append(("pool", p["id"], p["provisioning_status"]))
            seen += [("member", m["id"], m["provisioning_status"]) for m in p["members"]]
            if p.get("health_monitor"):
                seen.append(("health monitor", p["health_monitor"]["id"],
                             p["health_monitor"]["provisioning_status"]))
    kinds = [s[0] for s in seen]
    assert kinds.count("member") == 2 and "health monitor" in kinds, \
        f"the status tree lacks objects of the graph: {seen}"
    not_active = [s for s in seen if s[2] != "ACTIVE"]
    assert not not_active, f"graph objects not ACTIVE once the load balancer is: {not_active}"
    STATE["lb"] = lb["id"]
    STATE["listener"] = tree["listeners"][0]["id"]


def test_driver_receives_documented_fields(conformance_bench):
    """driver view: the get socket returns the graph with the documented attributes"""
    bench = conformance_bench
    if "lb" not in STATE:
        pytest.skip("the graph was not created")
    path = driver_view.available(bench)
    if path is None:
        pytest.skip("lbaas serves no driver-agent get socket here ([driver_agent] "
                    "get_socket_path), so what a driver receives cannot be seen")
    api_lb = bench.api.show("loadbalancers", STATE["lb"])
    lb = driver_view.fetch(path, "loadbalancers", STATE["lb"])
    problems = driver_view.missing(lb, driver_view.LB_FIELDS, "LoadBalancer")
    if not problems:
        if lb["loadbalancer_id"] != api_lb["id"] or lb["vip_address"] != api_lb["vip_address"]:
            problems.append(f"LoadBalancer {lb['loadbalancer_id']} / {lb['vip_address']} "
                            f"differs from the API's {api_lb['id']} / {api_lb['vip_address']}")
        listener = (lb["listeners"] or [{}])[0]
        problems += driver_view.missing(listener, driver_view.LISTENER_FIELDS, "Listener")
        pool = (lb["pools"] or [{}])[0]
        problems += driver_view.missing(pool, driver_view.POOL_FIELDS, "Pool")
        for member in pool.get("members") or [{}]:
            problems += driver_view.missing(member, driver_view.MEMBER_FIELDS, "Member")
        problems += driver_view.missing(pool.get("healthmonitor") or {},
                                        driver_view.MONITOR_FIELDS, "HealthMonitor")
        if listener.get("protocol_port") != 80:
            problems.append(f"Listener protocol_port {listener.get('protocol_port')!r} != 80")
        if not lb.get("project_id"):
            problems.append("LoadBalancer project_id is empty")
    assert not problems, "the driver would be handed incomplete objects: " + "; ".join(problems)


def test_cascade_delete(conformance_bench):
    """cascade delete: the load balancer and every child reach DELETED"""
    bench = conformance_bench
    if "lb" not in STATE:
        pytest.skip("the graph was not created")
    bench.api.delete("loadbalancers", STATE["lb"], query="?cascade=true")
    assert bench.api.show("listeners", STATE["listener"]) in (None,) or \
        bench.api.show("listeners", STATE["listener"])["provisioning_status"] == "DELETED", \
        f"listener {STATE['listener']} outlived its load balancer's cascade delete"
