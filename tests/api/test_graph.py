"""Single-call creation of a load balancer with its listeners, pools, members and monitor."""
import uuid

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
    assert [m["address"] for m in pool["members"]] == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
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
