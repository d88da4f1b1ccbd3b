"""API request metrics (by URL rule, method, status) and /healthcheck, in-process."""
import pytest
from prometheus_client import REGISTRY

from lbaas.api import create_app
from tests.conftest import ApiClient, make_conf

RULE = "/v2/lbaas/loadbalancers/<lb_id>"


def _count(route, method, status):
    return REGISTRY.get_sample_value("lbaas_api_requests_total",
                                     {"route": route, "method": method, "status": status}) or 0


def _observed(route, method):
    return REGISTRY.get_sample_value("lbaas_api_request_duration_seconds_count",
                                     {"route": route, "method": method}) or 0


def test_a_request_is_counted_by_its_url_rule_and_timed(client):
    before, timed = _count(RULE, "GET", "404"), _observed(RULE, "GET")
    resp = client.raw.get("/v2/lbaas/loadbalancers/3f1c0000-0000-4000-8000-000000000001")
    assert resp.status_code == 404
    assert _count(RULE, "GET", "404") == before + 1
    assert _observed(RULE, "GET") == timed + 1


def test_unknown_paths_share_one_label(client):
    before = _count("unrouted", "GET", "404")
    for k in range(3):
        assert client.raw.get(f"/no/such/path/{k}").status_code == 404
    assert _count("unrouted", "GET", "404") == before + 3
    names = {s.labels.get("route") for m in REGISTRY.collect()
             if m.name == "lbaas_api_requests" for s in m.samples}
    assert not any("/no/such/path" in (n or "") for n in names)


def test_an_odd_method_is_other(client):
    before = _count("unrouted", "other", "405") + _count(RULE, "other", "405")
    client.raw.open("/v2/lbaas/loadbalancers/x", method="BREW")
    assert _count("unrouted", "other", "405") + _count(RULE, "other", "405") == before + 1


@pytest.fixture
def sqlite_url(tmp_path):
    from lbaas.db import migrate
    url = f"sqlite:///{tmp_path}/hc.sqlite"
    migrate.upgrade(url)
    return url


def test_healthcheck_is_off_by_default(sqlite_url):
    app = create_app(make_conf(sqlite_url))
    try:
        assert app.test_client().get("/healthcheck").status_code == 404
    finally:
        app.extensions["lbaas_core"].close()


def test_healthcheck_answers_without_authentication(sqlite_url):
    app = create_app(make_conf(sqlite_url, **{"api_settings.healthcheck_enabled": True,
                                              "api_settings.auth_strategy": "noauth"}))
    try:
        client = ApiClient(app.test_client())
        resp = client.raw.get("/healthcheck", headers={"Accept": "application/json"})
        assert resp.status_code == 200, resp.data
        assert "database: OK" in resp.get_json()["reasons"]
        assert _count("/healthcheck", "GET", "200") >= 1
    finally:
        app.extensions["lbaas_core"].close()


def test_a_caller_outside_the_allowed_ranges_gets_the_api_not_a_500(sqlite_url):
    conf = make_conf(sqlite_url, **{"api_settings.healthcheck_enabled": True})
    from oslo_middleware.healthcheck import opts
    conf.register_opts(opts.HEALTHCHECK_OPTS, group="healthcheck")
    conf.set_override("allowed_source_ranges", ["192.0.2.0/24"], group="healthcheck")
    app = create_app(conf)
    try:
        resp = app.test_client().get("/healthcheck", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert resp.status_code == 404   # the API's own answer: no such resource
        assert "faultstring" in resp.get_json()
        resp = app.test_client().get("/healthcheck", environ_base={"REMOTE_ADDR": "192.0.2.7"})
        assert resp.status_code == 200
    finally:
        app.extensions["lbaas_core"].close()
