"""Conditional GETs (lbaas.api.conditional): a strong ETag on every successful GET that
changes exactly when the answer does, and 304 Not Modified for a matching If-None-Match."""
import pytest

from tests.api.support import create_listener, lb_url

LBS = "/v2/lbaas/loadbalancers"


def _etag(resp):
    tag = resp.headers.get("ETag")
    assert tag and tag.startswith('"') and not tag.startswith("W/"), tag   # strong
    return tag


def _library(app):
    return app.extensions["lbaas_core"].library


def test_a_load_balancer_answers_304_until_it_changes(client, app, project):
    lb = client.create_lb(project)
    first = client.get(lb_url(lb["id"]))
    tag = _etag(first)
    again = client.get(lb_url(lb["id"]), headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.data == b"" and _etag(again) == tag
    assert again.headers["x-openstack-request-id"].startswith("req-")
    assert client.get(lb_url(lb["id"]), headers={"If-None-Match": '"other", ' + tag}) \
        .status_code == 304
    assert client.get(lb_url(lb["id"]), headers={"If-None-Match": "*"}).status_code == 304
    assert client.get(lb_url(lb["id"]), headers={"If-None-Match": '"other"'}).status_code \
        == 200
    assert client.get(lb_url(lb["id"])).get_data() == first.get_data()   # same bytes
    assert client.put(lb_url(lb["id"]), {"loadbalancer": {"name": "renamed"}}) \
        .status_code == 200
    client.wait(lb_url(lb["id"]), "loadbalancer")
    changed = client.get(lb_url(lb["id"]), headers={"If-None-Match": tag})
    assert changed.status_code == 200 and changed.get_json()["loadbalancer"]["name"] == \
        "renamed" and _etag(changed) != tag


def test_a_drivers_status_update_changes_the_tag(client, app, project):
    lb = client.create_lb(project)
    tag = _etag(client.get(lb_url(lb["id"])))
    tree_tag = _etag(client.get(f"{lb_url(lb['id'])}/status"))
    _library(app).update_loadbalancer_status({"loadbalancers": [
        {"id": lb["id"], "operating_status": "DEGRADED"}]})
    now = client.get(lb_url(lb["id"]), headers={"If-None-Match": tag})
    assert now.status_code == 200 and now.get_json()["loadbalancer"]["operating_status"] == \
        "DEGRADED"
    tree = client.get(f"{lb_url(lb['id'])}/status", headers={"If-None-Match": tree_tag})
    assert tree.status_code == 200 and _etag(tree) != tree_tag


def test_the_status_tree_answers_304_and_changes_with_a_member(client, app, project):
    lb = client.create_lb(project)
    listener = create_listener(client, lb)
    pool = client.create("pools", "pool", {"listener_id": listener["id"], "protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
    member = client.create("members", "member", {"address": "10.0.0.5", "protocol_port": 80},
                           lb["id"], parent_url=f"/v2/lbaas/pools/{pool['id']}/members")
    url = f"{lb_url(lb['id'])}/status"
    first = client.get(url)
    tag = _etag(first)
    assert client.get(url, headers={"If-None-Match": tag}).status_code == 304
    _library(app).update_loadbalancer_status({"members": [
        {"id": member["id"], "operating_status": "ERROR"}]})
    changed = client.get(url, headers={"If-None-Match": tag})
    assert changed.status_code == 200 and _etag(changed) != tag
    [got] = changed.get_json()["statuses"]["loadbalancer"]["listeners"][0]["pools"][0][
        "members"]
    assert got["operating_status"] == "ERROR"


def test_fields_selection_has_a_tag_of_its_own(client, project):
    lb = client.create_lb(project)
    whole = _etag(client.get(lb_url(lb["id"])))
    some = client.get(lb_url(lb["id"]) + "?fields=id,name")
    assert set(some.get_json()["loadbalancer"]) == {"id", "name"} and _etag(some) != whole
    assert client.get(lb_url(lb["id"]) + "?fields=id,name",
                      headers={"If-None-Match": whole}).status_code == 200


@pytest.mark.parametrize("kind", ["listeners", "pools", "quotas"])
def test_every_single_object_get_is_tagged_by_its_body(client, project, kind):
    lb = client.create_lb(project)
    listener = create_listener(client, lb)
    if kind == "listeners":
        url = f"/v2/lbaas/listeners/{listener['id']}"
    elif kind == "pools":
        pool = client.create("pools", "pool", {"listener_id": listener["id"],
                                               "protocol": "HTTP",
                                               "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
        url = f"/v2/lbaas/pools/{pool['id']}"
    else:
        url = f"/v2/lbaas/quotas/{project}"
    first = client.get(url)
    tag = _etag(first)
    not_modified = client.get(url, headers={"If-None-Match": tag})
    assert not_modified.status_code == 304 and not_modified.data == b""
    assert "Content-Type" not in not_modified.headers


def test_errors_and_writes_carry_no_tag_and_ignore_if_none_match(client, project):
    missing = client.get(lb_url("0b3c1d2e-0000-4000-8000-00000000dead"),
                         headers={"If-None-Match": "*"})
    assert missing.status_code == 404 and "ETag" not in missing.headers
    created = client.post(LBS, {"loadbalancer": {"vip_subnet_id": "0b3c1d2e-0000-4000-8000-"
                                                 "000000000001", "project_id": project}},
                          headers={"If-None-Match": "*"})
    assert created.status_code == 201 and "ETag" not in created.headers


@pytest.mark.parametrize("value", ['"unterminated', "W/", ",,,", "x" * 8000, "\u00e9\u00e9",
                                   '"a", W/"b", *'])
def test_garbage_if_none_match_is_never_an_error(client, project, value):
    lb = client.create_lb(project)
    resp = client.get(lb_url(lb["id"]), headers={"If-None-Match": value})
    assert resp.status_code in (200, 304)
