"""The API answers on both backends: versions, one load balancer, one listener."""


def test_version_document_points_every_entry_at_v2(client):
    body = client.get("/").get_json()
    assert body["versions"][-1]["status"] == "CURRENT"
    assert all(v["links"][0]["href"].endswith("/v2") for v in body["versions"])


def test_load_balancer_reaches_active_and_online(client, project):
    lb = client.create_lb(project, name="web")
    assert lb["operating_status"] == "ONLINE"
    assert lb["project_id"] == project


def test_listener_on_active_load_balancer(client, project):
    lb = client.create_lb(project)
    li = client.create("listeners", "listener", {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                                 "protocol_port": 80}, lb["id"])
    assert li["operating_status"] == "ONLINE"
    assert li["loadbalancers"] == [{"id": lb["id"]}]


def test_every_response_carries_a_request_id(client):
    for resp in (client.get("/"), client.get("/v2/lbaas/loadbalancers/nope")):
        assert resp.headers["x-openstack-request-id"].startswith("req-")


def test_sdk_style_load_balancer_id_filter_selects_children(client, project):
    lb = client.create_lb(project)
    other = client.create_lb(project)
    for target in (lb, other):
        client.create("listeners", "listener", {"loadbalancer_id": target["id"],
                                                "protocol": "TCP", "protocol_port": 81},
                      target["id"])
    resp = client.get(f"/v2/lbaas/listeners?load_balancer_id={lb['id']}")
    assert resp.status_code == 200
    assert [li["loadbalancers"] for li in resp.get_json()["listeners"]] == [[{"id": lb["id"]}]]
