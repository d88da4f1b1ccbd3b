"""Health monitors: type rules, HTTP options and defaults, the pool lock, update, delete."""
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm

from lbaas.core import models
from tests.api import support
from tests.api.support import fault

HMS = "/v2/lbaas/healthmonitors"
POOLS = "/v2/lbaas/pools"


@pytest.fixture
def lb(client, project):
    return client.create_lb(project)


def make_pool(client, lb, protocol="HTTP"):
    body = {"loadbalancer_id": lb["id"], "protocol": protocol, "lb_algorithm": "ROUND_ROBIN"}
    return client.create("pools", "pool", body, lb["id"])


@pytest.fixture
def pool(client, lb):
    return make_pool(client, lb)


def hm_body(pool, hm_type="HTTP", **fields):
    body = {"pool_id": pool["id"], "type": hm_type, "delay": 5, "timeout": 3, "max_retries": 2}
    body.update(fields)
    return body


def post(client, pool, hm_type="HTTP", **fields):
    return client.post(HMS, {"healthmonitor": hm_body(pool, hm_type, **fields)})


def create(client, lb, pool, hm_type="HTTP", **fields):
    return client.create("healthmonitors", "healthmonitor", hm_body(pool, hm_type, **fields),
                         lb["id"])


def put(client, hm, **fields):
    return client.put(f"{HMS}/{hm['id']}", {"healthmonitor": fields})


def settle(client, lb):
    client.wait(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")


def status(client, url, key):
    return client.get(url).get_json()[key]["provisioning_status"]


# Create.

def test_http_monitor_gets_http_defaults_and_goes_online(client, lb, pool, project):
    hm = create(client, lb, pool)
    assert [hm[k] for k in ("http_method", "url_path", "expected_codes", "max_retries_down",
                            "operating_status", "project_id")] == \
        ["GET", "/", "200", 3, "ONLINE", project]
    assert hm["pools"] == [{"id": pool["id"]}]


def test_monitor_create_answers_201_pending_create_offline(client, pool):
    resp = post(client, pool)
    body = resp.get_json()["healthmonitor"]
    assert (resp.status_code, body["provisioning_status"], body["operating_status"]) == \
        (201, "PENDING_CREATE", "OFFLINE")


def test_pool_shows_its_monitor(client, lb, pool):
    hm = create(client, lb, pool)
    assert client.get(f"{POOLS}/{pool['id']}").get_json()["pool"]["healthmonitor_id"] == hm["id"]


def test_tcp_monitor_has_no_http_options(client, lb, pool):
    hm = create(client, lb, pool, "TCP")
    assert [hm[k] for k in ("http_method", "url_path", "expected_codes")] == [None] * 3


@pytest.mark.parametrize("attr,value", [
    ("http_method", "GET"), ("url_path", "/"), ("expected_codes", "200")])
def test_http_option_on_tcp_monitor_is_rejected(client, pool, attr, value):
    resp = post(client, pool, "TCP", **{attr: value})
    assert (resp.status_code, fault(resp)) == \
        (400, f"{attr} is not a valid option for health monitors of type TCP")


def test_second_monitor_on_a_pool_conflicts(client, lb, pool):
    create(client, lb, pool)
    resp = post(client, pool, "TCP")
    assert (resp.status_code, fault(resp)) == (409, "This pool already has a health monitor")


def test_monitor_on_unknown_pool_is_404(client):
    pool_id = str(uuid.uuid4())
    resp = post(client, {"id": pool_id})
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_monitor_missing_delay_is_rejected(client, pool):
    body = hm_body(pool)
    del body["delay"]
    resp = client.post(HMS, {"healthmonitor": body})
    assert fault(resp) == ("Invalid input for field/attribute delay. Value: 'None'. "
                           "Mandatory field missing.")


def test_max_retries_above_ten_is_rejected(client, pool):
    assert post(client, pool, max_retries=11).status_code == 400


def test_monitor_has_no_description(client, pool):
    resp = post(client, pool, description="x")
    assert fault(resp) == "Unknown attribute for argument healthmonitor: description"


# Type versus pool protocol.

@pytest.mark.parametrize("hm_type", ["UDP-CONNECT", "SCTP"])
def test_datagram_monitor_on_stream_pool_is_rejected(client, pool, hm_type):
    resp = post(client, pool, hm_type)
    assert (resp.status_code, fault(resp)) == \
        (400, f"Validation failure: The {hm_type} type is only supported for pools of type "
              "UDP/SCTP.")


@pytest.mark.parametrize("hm_type", ["HTTPS", "PING", "TLS-HELLO"])
def test_stream_monitor_on_udp_pool_is_rejected(client, lb, hm_type):
    pool = make_pool(client, lb, "UDP")
    resp = post(client, pool, hm_type)
    assert (resp.status_code, fault(resp)) == \
        (400, "Validation failure: The associated pool protocol is UDP, so only a "
              "UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.")


@pytest.mark.parametrize("protocol,hm_type", [
    ("UDP", "UDP-CONNECT"), ("SCTP", "SCTP"), ("UDP", "TCP"), ("SCTP", "HTTP")])
def test_datagram_pool_accepts_its_monitor_types(client, lb, protocol, hm_type):
    pool = make_pool(client, lb, protocol)
    assert post(client, pool, hm_type).status_code == 201


def test_udp_connect_delay_below_minimum_is_rejected(client, lb):
    pool = make_pool(client, lb, "UDP")
    resp = post(client, pool, "UDP-CONNECT", delay=2)
    assert fault(resp) == ("Validation failure: The request delay value 2 should be larger than "
                           "3 for UDP-CONNECT health monitor type.")


def test_ping_monitor_is_accepted_by_default(client, pool):
    assert post(client, pool, "PING").status_code == 201


def test_ping_monitor_is_rejected_when_disabled(client, pool, app):
    with support.overridden(app, **{"api_settings.allow_ping_health_monitors": False}):
        resp = post(client, pool, "PING")
    assert (resp.status_code, fault(resp)) == \
        (400, "The selected type is not allowed in this deployment: PING")


# HTTP options.

@pytest.mark.parametrize("url_path", ["health", "http://host/health", "/a b", "//host/x"])
def test_invalid_url_path_is_rejected(client, pool, url_path):
    resp = post(client, pool, url_path=url_path)
    assert (resp.status_code, fault(resp)) == (400, f"Not a valid URLPath: {url_path}")


def test_url_path_with_query_is_accepted(client, lb, pool):
    assert create(client, lb, pool, url_path="/health?full=1")["url_path"] == "/health?full=1"


@pytest.mark.parametrize("codes", ["200", "200, 202", "200-204"])
def test_expected_codes_forms_are_accepted(client, pool, codes):
    assert post(client, pool, expected_codes=codes).status_code == 201


def test_malformed_expected_codes_are_rejected(client, pool):
    resp = post(client, pool, expected_codes="20x")
    assert fault(resp).startswith("Invalid input for field/attribute expected_codes. "
                                  "Value: '20x'. Value should match the pattern ")


def test_domain_name_requires_http_version(client, pool):
    resp = post(client, pool, domain_name="example.com")
    assert fault(resp) == ("Validation failure: 'http_version' must be specified when "
                           "'domain_name' is provided.")


def test_domain_name_with_http_1_0_is_rejected(client, pool):
    resp = post(client, pool, domain_name="example.com", http_version=1.0)
    assert fault(resp) == ("http_version 1.0 is not a valid option for health monitors HTTP 1.1 "
                           "domain name health check")


def test_domain_name_with_http_1_1_is_accepted(client, lb, pool):
    hm = create(client, lb, pool, domain_name="example.com", http_version=1.1)
    assert (hm["domain_name"], hm["http_version"]) == ("example.com", 1.1)


def test_invalid_domain_name_is_rejected(client, pool):
    resp = post(client, pool, domain_name="-bad-.com", http_version=1.1)
    assert resp.status_code == 400


# Locks.

def test_monitor_create_on_non_active_pool_conflicts(client, pool, app):
    support.set_status(app, models.Pool, pool["id"], "PENDING_UPDATE")
    resp = post(client, pool)
    assert (resp.status_code, fault(resp)) == \
        (409, f"Pool {pool['id']} is immutable and cannot be updated.")


def test_monitor_create_on_busy_load_balancer_conflicts(client, lb, pool, app):
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = post(client, pool)
    assert (resp.status_code, fault(resp)) == \
        (409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")
    assert client.get(f"{HMS}?pool_id={pool['id']}").get_json()["healthmonitors"] == []


def test_monitor_create_holds_pool_listener_and_load_balancer(client, lb, pool, freeze):
    li = client.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80,
        "default_pool_id": pool["id"]}, lb["id"])
    freeze()
    post(client, pool)
    assert [status(client, f"{POOLS}/{pool['id']}", "pool"),
            status(client, f"/v2/lbaas/listeners/{li['id']}", "listener"),
            status(client, f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")] == \
        ["PENDING_UPDATE"] * 3


# Update.

def test_monitor_update_answers_200_with_new_values(client, lb, pool):
    hm = create(client, lb, pool)
    resp = put(client, hm, delay=10, url_path="/ping")
    body = resp.get_json()["healthmonitor"]
    assert (resp.status_code, body["delay"], body["url_path"], body["provisioning_status"]) == \
        (200, 10, "/ping", "PENDING_UPDATE")


def test_monitor_update_reaches_active(client, lb, pool):
    hm = create(client, lb, pool)
    put(client, hm, admin_state_up=False)
    settle(client, lb)
    got = client.wait(f"{HMS}/{hm['id']}", "healthmonitor")
    assert (got["admin_state_up"], got["operating_status"]) == (False, "OFFLINE")


def test_monitor_update_null_resets_http_options_and_retries(client, lb, pool):
    hm = create(client, lb, pool, http_method="HEAD", url_path="/x", expected_codes="204",
                max_retries_down=5)
    body = put(client, hm, http_method=None, url_path=None, expected_codes=None,
               max_retries_down=None).get_json()["healthmonitor"]
    assert [body[k] for k in ("http_method", "url_path", "expected_codes", "max_retries_down")] \
        == ["GET", "/", "200", 3]


def test_monitor_update_null_delay_is_rejected(client, lb, pool):
    hm = create(client, lb, pool)
    assert put(client, hm, delay=None).status_code == 400


def test_monitor_update_sends_only_given_fields_to_the_driver(client, lb, pool, driver,
                                                              monkeypatch):
    hm = create(client, lb, pool)
    calls = []
    original = driver.health_monitor_update
    monkeypatch.setattr(driver, "health_monitor_update",
                        lambda old, new: (calls.append((old, new)), original(old, new)))
    put(client, hm, url_path=None)
    old, new = calls[0]
    assert (old.url_path, new.url_path, new.healthmonitor_id, new.delay) == \
        ("/", "/", hm["id"], dm.Unset)


def test_monitor_type_is_not_updatable(client, lb, pool):
    hm = create(client, lb, pool)
    resp = put(client, hm, type="TCP")
    assert fault(resp) == "Unknown attribute for argument healthmonitor: type"


def test_monitor_update_http_option_on_tcp_monitor_is_rejected(client, lb, pool):
    hm = create(client, lb, pool, "TCP")
    resp = put(client, hm, url_path="/x")
    assert fault(resp) == "url_path is not a valid option for health monitors of type TCP"


def test_monitor_update_checks_udp_connect_delay(client, lb):
    pool = make_pool(client, lb, "UDP")
    hm = create(client, lb, pool, "UDP-CONNECT")
    assert put(client, hm, delay=1).status_code == 400


def test_monitor_update_domain_name_uses_stored_http_version(client, lb, pool):
    hm = create(client, lb, pool, http_version=1.1)
    assert put(client, hm, domain_name="example.com").status_code == 200


def test_monitor_update_domain_name_without_any_http_version_is_rejected(client, lb, pool):
    hm = create(client, lb, pool)
    assert put(client, hm, domain_name="example.com").status_code == 400


def test_monitor_update_on_non_active_pool_conflicts(client, lb, pool, app):
    hm = create(client, lb, pool)
    support.set_status(app, models.Pool, pool["id"], "ERROR")
    resp = put(client, hm, delay=9)
    assert (resp.status_code, fault(resp)) == \
        (409, f"Pool {pool['id']} is immutable and cannot be updated.")


# Delete, show, list.

def test_monitor_delete_answers_204_and_removes_it(client, lb, pool):
    hm = create(client, lb, pool)
    assert client.delete(f"{HMS}/{hm['id']}").status_code == 204
    client.wait(f"{HMS}/{hm['id']}", "healthmonitor", status="DELETED")
    assert client.get(f"{POOLS}/{pool['id']}").get_json()["pool"]["healthmonitor_id"] is None


def test_monitor_delete_returns_members_to_no_monitor(client, lb, pool):
    hm = create(client, lb, pool)
    member = client.create("members", "member", {"address": "10.0.0.1", "protocol_port": 80},
                           lb["id"], parent_url=f"{POOLS}/{pool['id']}/members")
    assert member["operating_status"] == "ONLINE"
    client.delete(f"{HMS}/{hm['id']}")
    client.wait(f"{HMS}/{hm['id']}", "healthmonitor", status="DELETED")
    settle(client, lb)
    got = client.get(f"{POOLS}/{pool['id']}/members/{member['id']}").get_json()["member"]
    assert got["operating_status"] == "NO_MONITOR"


def test_monitor_delete_marks_pending_delete(client, lb, pool, freeze):
    hm = create(client, lb, pool)
    freeze()
    client.delete(f"{HMS}/{hm['id']}")
    assert status(client, f"{HMS}/{hm['id']}", "healthmonitor") == "PENDING_DELETE"


def test_unknown_monitor_is_404(client):
    hm_id = str(uuid.uuid4())
    resp = client.get(f"{HMS}/{hm_id}")
    assert (resp.status_code, fault(resp)) == (404, f"Health Monitor {hm_id} not found.")


def test_monitor_list_filters_by_pool_and_type(client, lb, pool):
    other = make_pool(client, lb, "TCP")
    hm = create(client, lb, pool)
    create(client, lb, other, "TCP")
    body = client.get(f"{HMS}?pool_id={pool['id']}&type=HTTP").get_json()
    assert ([h["id"] for h in body["healthmonitors"]], body["healthmonitors_links"]) == \
        ([hm["id"]], [])
