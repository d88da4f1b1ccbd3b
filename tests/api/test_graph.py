"""Single-call creation of a load balancer graph: listeners, L7 policies, pools, members."""
import uuid

from tests.api import support

URL = "/v2/lbaas/loadbalancers"


def _graph(project, **extra):
    body = {
        "name": "graph", "project_id": project, "vip_subnet_id": str(uuid.uuid4()),
        "listeners": [{"name": "http", "protocol": "HTTP", "protocol_port": 80,
                       "default_pool": {"name": "web"}}],
        "pools": [{"name": "web", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                   "healthmonitor": {"type": "HTTP", "delay": 3, "timeout": 2,
                                     "max_retries": 2},
                   "members": [{"address": f"10.0.0.{i}", "protocol_port": 8080}
                               for i in range(1, 4)]}],
    }
    body.update(extra)
    return {"loadbalancer": body}


def _post(client, body):
    return client.post(URL, body)


def test_graph_create_answers_with_full_nested_objects(client, project):
    resp = _post(client, _graph(project))
    assert resp.status_code == 201, resp.get_json()
    lb = resp.get_json()["loadbalancer"]
    listener, pool = lb["listeners"][0], lb["pools"][0]
    assert listener["protocol_port"] == 80 and listener["default_pool_id"] == pool["id"]
    assert listener["l7policies"] == [] and "loadbalancers" not in listener
    # members created in one second come in the database's order (MariaDB's differs), as
    # upstream's do: the set is what is promised
    assert sorted(m["address"] for m in pool["members"]) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
    assert pool["healthmonitor"]["type"] == "HTTP"
    assert "healthmonitor_id" not in pool and "loadbalancers" not in pool
    assert {m["operating_status"] for m in pool["members"]} == {"OFFLINE"}
    assert {o["provisioning_status"] for o in [lb, listener, pool] + pool["members"]} == \
        {"PENDING_CREATE"}


def test_graph_objects_all_reach_active(client, project):
    lb = _post(client, _graph(project)).get_json()["loadbalancer"]
    client.wait(f"{URL}/{lb['id']}", "loadbalancer")
    tree = client.get(f"{URL}/{lb['id']}/status").get_json()["statuses"]["loadbalancer"]
    pool = tree["listeners"][0]["pools"][0]
    assert tree["listeners"][0]["provisioning_status"] == "ACTIVE"
    assert pool["provisioning_status"] == "ACTIVE"
    assert pool["health_monitor"]["provisioning_status"] == "ACTIVE"
    assert {(m["provisioning_status"], m["operating_status"]) for m in pool["members"]} == \
        {("ACTIVE", "ONLINE")}


def test_inline_default_pool_definition_is_hoisted(client, project):
    body = _graph(project, pools=[])
    body["loadbalancer"]["listeners"][0]["default_pool"] = {
        "name": "inline", "protocol": "HTTP", "lb_algorithm": "LEAST_CONNECTIONS"}
    lb = _post(client, body).get_json()["loadbalancer"]
    assert [p["name"] for p in lb["pools"]] == ["inline"]
    assert lb["listeners"][0]["default_pool_id"] == lb["pools"][0]["id"]


def test_two_listeners_may_share_one_pool(client, project):
    body = _graph(project)
    body["loadbalancer"]["listeners"].append(
        {"protocol": "TCP", "protocol_port": 8443, "default_pool": {"name": "web"}})
    lb = _post(client, body).get_json()["loadbalancer"]
    assert {li["default_pool_id"] for li in lb["listeners"]} == {lb["pools"][0]["id"]}


def _rejected(client, body, message):
    resp = _post(client, body)
    assert resp.status_code == 400, resp.get_json()
    assert resp.get_json()["faultstring"] == message
    return resp


def test_unnamed_pool_rejected(client, project):
    body = _graph(project)
    del body["loadbalancer"]["pools"][0]["name"]
    _rejected(client, body, "Validation failure: Pools must be named when creating a fully "
                            "populated loadbalancer.")


def test_duplicate_pool_definitions_rejected(client, project):
    body = _graph(project)
    body["loadbalancer"]["pools"].append(dict(body["loadbalancer"]["pools"][0]))
    _rejected(client, body, "Validation failure: Pool names must be unique when creating a "
                            "fully populated loadbalancer.")


def test_reference_without_definition_rejected(client, project):
    body = _graph(project, pools=[])
    _rejected(client, body, "Validation failure: Pool 'web' was referenced but no full "
                            "definition was found.")


def test_definition_missing_algorithm_rejected(client, project):
    body = _graph(project)
    del body["loadbalancer"]["pools"][0]["lb_algorithm"]
    _rejected(client, body, "Validation failure: Pool definition for 'web' missing required "
                            "attribute: lb_algorithm")


def test_incompatible_default_pool_rejected_and_nothing_written(client, project):
    body = _graph(project)
    body["loadbalancer"]["pools"][0]["protocol"] = "UDP"
    body["loadbalancer"]["pools"][0]["healthmonitor"]["type"] = "UDP-CONNECT"
    _rejected(client, body, "Validation failure: The pool protocol 'UDP' is invalid while the "
                            "listener protocol is 'HTTP'.")
    listed = client.get(f"{URL}?project_id={project}").get_json()["loadbalancers"]
    assert listed == []


def test_duplicate_listener_ports_in_graph_conflict(client, project):
    body = _graph(project)
    body["loadbalancer"]["listeners"].append({"protocol": "TCP", "protocol_port": 80})
    resp = _post(client, body)
    assert resp.status_code == 409
    assert client.get(f"{URL}?project_id={project}").get_json()["loadbalancers"] == []


def test_prometheus_listener_with_default_pool_rejected(client, project):
    body = _graph(project)
    body["loadbalancer"]["listeners"][0]["protocol"] = "PROMETHEUS"
    _rejected(client, body, "Protocol PROMETHEUS listeners cannot have child objects.")


def test_member_rules_apply_inside_graph(client, project):
    body = _graph(project)
    body["loadbalancer"]["pools"][0]["members"][0]["address"] = "169.254.169.254"
    _rejected(client, body, "169.254.169.254 is not a valid option for member address")


def test_cascade_delete_of_graph_removes_everything(client, project):
    lb = _post(client, _graph(project)).get_json()["loadbalancer"]
    client.wait(f"{URL}/{lb['id']}", "loadbalancer")
    assert client.delete(f"{URL}/{lb['id']}?cascade=true").status_code == 204
    client.wait(f"{URL}/{lb['id']}", "loadbalancer", status="DELETED")
    pool_id = lb["pools"][0]["id"]
    assert client.get(f"/v2/lbaas/pools/{pool_id}").status_code == 404
    assert client.get(f"/v2/lbaas/listeners/{lb['listeners'][0]['id']}").status_code == 404


# L7 policies and rules in a graph.

RULE = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}


def _l7_graph(project):
    """A listener with two policies: one to a pool named in the graph, one to an inline pool."""
    body = _graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"] = [
        {"name": "to-web", "action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "web"},
         "rules": [RULE, dict(RULE, type="HEADER", key="X-Api", compare_type="EQUAL_TO",
                                value="1", invert=True)]},
        {"name": "to-api", "action": "REDIRECT_TO_POOL", "position": 1,
         "redirect_pool": {"name": "api", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
         "rules": [dict(RULE, value="/v2")]},
    ]
    return body


def test_graph_creates_l7_policies_and_rules_in_full(client, project):
    resp = _post(client, _l7_graph(project))
    assert resp.status_code == 201, resp.get_json()
    lb = resp.get_json()["loadbalancer"]
    pools = {p["name"]: p["id"] for p in lb["pools"]}
    assert sorted(pools) == ["api", "web"]
    listener = lb["listeners"][0]
    policies = sorted(listener["l7policies"], key=lambda p: p["position"])
    assert [(p["name"], p["position"], p["redirect_pool_id"], p["listener_id"])
            for p in policies] == [("to-api", 1, pools["api"], listener["id"]),
                                   ("to-web", 2, pools["web"], listener["id"])]
    assert sorted((r["type"], r["key"], r["value"], r["invert"]) for r in policies[1]["rules"]) \
        == [("HEADER", "X-Api", "1", True), ("PATH", None, "/api", False)]
    assert {o["provisioning_status"] for o in policies + policies[0]["rules"]} == \
        {"PENDING_CREATE"}


def test_graph_policies_and_rules_reach_active(client, project):
    lb = _post(client, _l7_graph(project)).get_json()["loadbalancer"]
    client.wait(f"{URL}/{lb['id']}", "loadbalancer")
    listener = lb["listeners"][0]
    for policy in listener["l7policies"]:
        got = client.get(f"/v2/lbaas/l7policies/{policy['id']}").get_json()["l7policy"]
        assert (got["provisioning_status"], got["operating_status"]) == ("ACTIVE", "ONLINE")
        rules = client.get(f"/v2/lbaas/l7policies/{policy['id']}/rules").get_json()["rules"]
        assert {r["provisioning_status"] for r in rules} == {"ACTIVE"}
    tree = client.get(f"{URL}/{lb['id']}/status").get_json()["statuses"]["loadbalancer"]
    pools = {p["name"]: p["id"] for p in lb["pools"]}
    assert [p["id"] for p in tree["listeners"][0]["pools"]] == [pools["web"], pools["api"]]


def test_graph_gives_the_driver_listeners_with_their_policies(client, project, app,
                                                              monkeypatch):
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    calls = []
    original = driver.loadbalancer_create
    monkeypatch.setattr(driver, "loadbalancer_create",
                        lambda lb: (calls.append(lb), original(lb)))
    _post(client, _l7_graph(project))
    [listener] = calls[0].listeners
    assert sorted((p.name, p.position, len(p.rules)) for p in listener.l7policies) == \
        [("to-api", 1, 1), ("to-web", 2, 2)]


def _nothing_written(client, project):
    assert client.get(f"{URL}?project_id={project}").get_json()["loadbalancers"] == []


def test_graph_redirect_pool_without_definition_rejected(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["redirect_pool"] = {"name": "nope"}
    _rejected(client, body, "Validation failure: Pool 'nope' was referenced but no full "
                            "definition was found.")


def test_graph_redirect_pool_defined_twice_rejected(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["redirect_pool"] = \
        dict(body["loadbalancer"]["pools"][0], members=[])
    _rejected(client, body, "Validation failure: Pool names must be unique when creating a "
                            "fully populated loadbalancer.")


def test_graph_policy_without_its_argument_rejected(client, project):
    body = _l7_graph(project)
    del body["loadbalancer"]["listeners"][0]["l7policies"][0]["redirect_pool"]
    _rejected(client, body, "Invalid L7 Policy arguments: redirect_pool_id or redirect_pool "
                            "must not be None")
    _nothing_written(client, project)


def test_graph_policy_takes_no_redirect_pool_id(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["redirect_pool_id"] = \
        str(uuid.uuid4())
    _rejected(client, body, "Unknown attribute for argument loadbalancer.listeners.l7policies: "
                            "redirect_pool_id")


def test_graph_incompatible_redirect_pool_rejected(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][1]["redirect_pool"]["protocol"] = "TCP"
    _rejected(client, body, "Validation failure: The pool protocol 'TCP' is invalid while the "
                            "listener protocol is 'HTTP'.")
    _nothing_written(client, project)


def test_graph_invalid_rule_rejected(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["rules"].append(
        {"type": "FILE_TYPE", "compare_type": "CONTAINS", "value": "jpg"})
    _rejected(client, body, "Error parsing L7Rule: Invalid L7 Rule: invalid comparison type for "
                            "rule type")
    _nothing_written(client, project)


def test_graph_policy_with_too_many_rules_conflicts(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["rules"] = [
        dict(RULE, value=f"/{i}") for i in range(51)]
    resp = _post(client, body)
    assert resp.status_code == 409
    assert resp.get_json()["faultstring"].startswith("Too many rules on L7 policy ")
    _nothing_written(client, project)


def test_graph_policy_with_fifty_rules_is_accepted(client, project):
    body = _l7_graph(project)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["rules"] = [
        dict(RULE, value=f"/{i}") for i in range(50)]
    resp = _post(client, body)
    assert resp.status_code == 201, resp.get_json()
    policies = resp.get_json()["loadbalancer"]["listeners"][0]["l7policies"]
    assert sorted(len(p["rules"]) for p in policies) == [1, 50]


def test_prometheus_listener_with_l7_policies_rejected(client, project):
    body = _graph(project, pools=[])
    body["loadbalancer"]["listeners"] = [
        {"protocol": "PROMETHEUS", "protocol_port": 9100,
         "l7policies": [{"action": "REJECT"}]}]
    _rejected(client, body, "Protocol PROMETHEUS listeners cannot have child objects.")


def test_graph_l7_quota_is_enforced(client, project, app):
    with support.overridden(app, **{"quotas.default_l7rule_quota": 2,
                                    "quotas.enforce_with_noauth": True}):
        resp = _post(client, _l7_graph(project))
    assert (resp.status_code, resp.get_json()["faultstring"]) == \
        (403, "Quota has been met for resources: L7Rule")
    _nothing_written(client, project)


def test_cascade_delete_of_graph_with_policies_removes_them(client, project):
    lb = _post(client, _l7_graph(project)).get_json()["loadbalancer"]
    client.wait(f"{URL}/{lb['id']}", "loadbalancer")
    assert client.delete(f"{URL}/{lb['id']}?cascade=true").status_code == 204
    client.wait(f"{URL}/{lb['id']}", "loadbalancer", status="DELETED")
    for policy in lb["listeners"][0]["l7policies"]:
        assert client.get(f"/v2/lbaas/l7policies/{policy['id']}").status_code == 404
