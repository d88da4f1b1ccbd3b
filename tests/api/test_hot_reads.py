"""lbaas.api.hot_reads: GET one load balancer and its status tree answered before Flask,
with the very bytes and headers Flask's views answer, and everything else left to them."""
import uuid

import flask
import pytest
from prometheus_client import REGISTRY
from werkzeug.test import EnvironBuilder

from lbaas.api import access, hot_reads
from tests.api.support import create_listener, lb_url

REQUEST_ID = "x-openstack-request-id"


def _flask(app):
    """The Flask application itself, without the middleware create_app puts around it."""
    return lambda environ, start_response: flask.Flask.wsgi_app(app, environ, start_response)


class _Counting:
    def __init__(self, app):
        self.app, self.calls = app, 0

    def __call__(self, environ, start_response):
        self.calls += 1
        return self.app(environ, start_response)


def _call(wsgi, path, headers=None, method="GET", query=None):
    environ = EnvironBuilder(path=path, method=method, headers=headers or {},
                             query_string=query).get_environ()
    environ[access.REQUEST_ID_ENV] = "req-pinned"   # error bodies carry it
    started = []
    body = wsgi(environ, lambda status, hdrs, exc_info=None: started.append((status, hdrs)))
    try:
        data = b"".join(body)
    finally:
        getattr(body, "close", lambda: None)()
    [(status, hdrs)] = started
    return status, [(k, v) for k, v in hdrs if k.lower() != REQUEST_ID], data


@pytest.fixture
def lb_with_tree(client, project):
    lb = client.create_lb(project)
    listener = create_listener(client, lb)
    pool = client.post("/v2/lbaas/pools", {"pool": {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}})
    assert pool.status_code == 201, pool.get_json()
    client.wait(lb_url(lb["id"]), "loadbalancer")
    for k in range(3):
        member = client.post(f"/v2/lbaas/pools/{pool.get_json()['pool']['id']}/members",
                             {"member": {"address": f"10.0.0.{k + 5}", "protocol_port": 80}})
        assert member.status_code == 201, member.get_json()
        client.wait(lb_url(lb["id"]), "loadbalancer")
    return lb["id"]


def test_the_hot_answers_are_the_views_answers_byte_for_byte(app, client, lb_with_tree):
    views = _flask(app)
    fallback = _Counting(views)
    hot = hot_reads.HotReads(app, fallback)
    one = lb_url(lb_with_tree)
    tag = dict(_call(views, one)[1])["ETag"]
    status_tag = dict(_call(views, one + "/status")[1])["ETag"]
    cases = [
        (one, {}), (one, {"Accept": "application/json"}), (one, {"Accept": "*/*"}),
        (one, {"If-None-Match": tag}), (one, {"If-None-Match": f'"other", {tag}'}),
        (one, {"If-None-Match": "*"}), (one, {"If-None-Match": f"W/{tag}"}),
        (one, {"If-None-Match": '"other"'}), (one, {"If-None-Match": "garbage"}),
        (one + "/status", {}), (one + "/statuses", {}),
        (one + "/status", {"If-None-Match": status_tag}),
        (one, {"X-Project-Id": "some-project"}),
    ]
    for path, headers in cases:
        answer = _call(hot, path, headers)
        assert answer == _call(views, path, headers), (path, headers)
        assert answer[0] in ("200 OK", "304 NOT MODIFIED"), (path, headers, answer)
    assert fallback.calls == 0   # every one of those was answered by the fast path


@pytest.mark.parametrize("path, headers, query", [
    ("{one}", {}, "fields=name"),                   # a query string: the views' business
    ("{one}", {"Accept": "text/html"}, None),       # 406
    ("{one}/", {}, None),
    ("{one}/stats", {}, None),
    ("{one}/status/", {}, None),
    ("/v2/lbaas/loadbalancers/" + str(uuid.uuid4()), {}, None),   # 404
    ("/v2/lbaas/loadbalancers/" + str(uuid.uuid4()) + "/status", {}, None),
    ("/v2/lbaas/loadbalancers/" + "a" * 65, {}, None),
    ("/v2/lbaas/loadbalancers/%00", {}, None),
    ("/v2/lbaas/loadbalancers/%C3%A9t%C3%A9", {}, None),
    ("/v2/lbaas/loadbalancers/..%2F..", {}, None),
    ("{one}", {"X-Project-Id": "p" * 300}, None),   # 400 for the project header
    ("{one}", {"X-Project-Id": "a\x00b"}, None),
])
def test_what_the_fast_path_does_not_answer_the_views_do(app, client, project, path, headers,
                                                         query):
    lb = client.create_lb(project)
    path = path.format(one=lb_url(lb["id"]))
    views = _flask(app)
    fallback = _Counting(views)
    answer = _call(hot_reads.HotReads(app, fallback), path, headers, query=query)
    assert fallback.calls == 1
    assert answer == _call(views, path, headers, query=query)


def test_other_methods_go_to_the_views(app, client, project):
    lb = client.create_lb(project)
    fallback = _Counting(_flask(app))
    hot = hot_reads.HotReads(app, fallback)
    for method in ("HEAD", "POST", "PUT", "DELETE", "OPTIONS", "BREW"):
        _call(hot, lb_url(lb["id"]) + "/status", method=method)
    assert fallback.calls == 6


def test_the_rules_are_the_views_rules(app):
    rules = {rule.rule: rule.endpoint for rule in app.url_map.iter_rules()}
    assert rules[hot_reads.ONE_RULE] == "loadbalancers.LoadBalancer"
    for rule in hot_reads.STATUS_RULES.values():
        assert rules[rule].startswith("loadbalancers.LoadBalancerStatus")


def test_a_hot_answer_is_counted_under_its_rule(client, project):
    lb = client.create_lb(project)
    client.wait(lb_url(lb["id"]), "loadbalancer")

    def count(rule, status):
        return REGISTRY.get_sample_value("lbaas_api_requests_total", {
            "route": rule, "method": "GET", "status": status}) or 0
    before = count(hot_reads.ONE_RULE, "200"), count(hot_reads.STATUS_RULES["status"], "200")
    resp = client.raw.get(lb_url(lb["id"]))
    assert resp.status_code == 200 and resp.headers[REQUEST_ID].startswith("req-")
    assert client.raw.get(lb_url(lb["id"]) + "/status").status_code == 200
    assert (count(hot_reads.ONE_RULE, "200"), count(hot_reads.STATUS_RULES["status"], "200")) \
        == (before[0] + 1, before[1] + 1)
