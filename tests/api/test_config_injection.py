"""No field that reaches a rendered HAProxy or keepalived file may carry a line break or another
control character (upstream Octavia was open to configuration injection through listener
tls_ciphers and L7 policy redirect_url / redirect_prefix): 400 with Octavia's error body, and
nothing written. Names and descriptions are never rendered: they keep any text."""
import pytest

from lbaas.core import models
from tests.api import support
from tests.api.support import shared_network  # noqa: F401 - a fixture

NEWLINE = "\n    bind 0.0.0.0:2222"   # what an injected directive would look like
BREAKS = {"lf": "\n", "cr": "\r", "crlf": "\r\n", "nul": "\x00", "esc": "\x1b", "del": "\x7f",
          "u2028": "\u2028"}
POOLS, MEMBERS = "/v2/lbaas/pools", "/v2/lbaas/members"
HMS, POLICIES = "/v2/lbaas/healthmonitors", "/v2/lbaas/l7policies"


@pytest.fixture
def lb(client, project):
    return client.create_lb(project)


@pytest.fixture
def listener(client, lb):
    return support.create_listener(client, lb)


@pytest.fixture
def pool(client, lb, listener):
    return client.create("pools", "pool", {"listener_id": listener["id"], "protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN"}, lb["id"])


@pytest.fixture
def policy(client, lb, listener):
    return client.create("l7policies", "l7policy", {"listener_id": listener["id"],
                                                    "action": "REJECT"}, lb["id"])


def refused(resp):
    """A 400 with Octavia's error body; its faultstring."""
    assert resp.status_code == 400, resp.get_json()
    body = resp.get_json()
    assert set(body) == {"faultcode", "faultstring", "debuginfo"}, body
    assert body["faultcode"] == "Client" and body["debuginfo"] is None, body
    return body["faultstring"]


def count(app, model):
    with support.db(app).read() as session:
        return session.query(model).count()


# -- creates: (collection, model, body given the fixtures, the field) ----------------------

def _listener(lb, listener, pool, policy, value):
    return {"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 81,
                         "tls_ciphers": value}}


def _pool_ciphers(lb, listener, pool, policy, value):
    return {"pool": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                     "lb_algorithm": "ROUND_ROBIN", "tls_enabled": True, "tls_ciphers": value}}


def _cookie(lb, listener, pool, policy, value):
    return {"pool": {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                     "lb_algorithm": "ROUND_ROBIN",
                     "session_persistence": {"type": "APP_COOKIE", "cookie_name": value}}}


def _member(lb, listener, pool, policy, value):
    return {"member": {"address": f"fe80::1%eth0{value}", "protocol_port": 80}}


def _monitor_address(lb, listener, pool, policy, value):
    return {"member": {"address": "10.0.0.9", "protocol_port": 80,
                       "monitor_address": f"fe80::1%x{value}"}}


def _hm(field):
    def body(lb, listener, pool, policy, value):
        fields = {"url_path": "/health", "expected_codes": "200", "http_method": "GET"}
        if field == "domain_name":
            fields.update(http_version=1.1, domain_name="example.com" + value)
        else:
            fields[field] = fields[field] + value
        return {"healthmonitor": {"pool_id": pool["id"], "type": "HTTP", "delay": 3,
                                  "timeout": 2, "max_retries": 2, **fields}}
    return body


def _redirect(field):
    def body(lb, listener, pool, policy, value):
        action = "REDIRECT_TO_URL" if field == "redirect_url" else "REDIRECT_PREFIX"
        return {"l7policy": {"listener_id": listener["id"], "action": action,
                             field: "http://example.com/a" + value}}
    return body


def _rule(kind, compare, value_of, key=None):
    def body(lb, listener, pool, policy, value):
        rule = {"type": kind, "compare_type": compare, "value": value_of(value)}
        if key:
            rule["key"] = key(value) if callable(key) else key
        return {"rule": rule}
    return body


CREATES = {
    "listener-tls_ciphers": ("/v2/lbaas/listeners", models.Listener, _listener),
    "pool-tls_ciphers": (POOLS, models.Pool, _pool_ciphers),
    "pool-cookie_name": (POOLS, models.Pool, _cookie),
    "member-address": ("members", models.Member, _member),
    "member-monitor_address": ("members", models.Member, _monitor_address),
    "hm-url_path": (HMS, models.HealthMonitor, _hm("url_path")),
    "hm-expected_codes": (HMS, models.HealthMonitor, _hm("expected_codes")),
    "hm-domain_name": (HMS, models.HealthMonitor, _hm("domain_name")),
    "l7policy-redirect_url": (POLICIES, models.L7Policy, _redirect("redirect_url")),
    "l7policy-redirect_prefix": (POLICIES, models.L7Policy, _redirect("redirect_prefix")),
    "l7rule-regex-value": ("rules", models.L7Rule, _rule("PATH", "REGEX",
                                                         lambda v: "^/a" + v)),
    "l7rule-path-value": ("rules", models.L7Rule, _rule("PATH", "STARTS_WITH",
                                                        lambda v: "/a" + v)),
    "l7rule-header-value": ("rules", models.L7Rule, _rule("HEADER", "EQUAL_TO",
                                                          lambda v: f'"a{v}"', key="X-A")),
    "l7rule-header-key": ("rules", models.L7Rule, _rule("HEADER", "EQUAL_TO", lambda v: "a",
                                                        key=lambda v: "X-A" + v)),
    "l7rule-dn-value": ("rules", models.L7Rule, _rule("SSL_DN_FIELD", "EQUAL_TO",
                                                      lambda v: "a" + v, key="CN")),
}


def _url(collection, pool, policy):
    if collection == "members":
        return f"{POOLS}/{pool['id']}/members"
    if collection == "rules":
        return f"{POLICIES}/{policy['id']}/rules"
    return collection


@pytest.mark.parametrize("brk", list(BREAKS), ids=list(BREAKS))
@pytest.mark.parametrize("case", list(CREATES), ids=list(CREATES))
def test_a_control_character_in_a_rendered_field_is_400_on_create(
        client, app, lb, listener, pool, policy, case, brk):
    collection, model, make = CREATES[case]
    before = count(app, model)
    resp = client.post(_url(collection, pool, policy),
                       make(lb, listener, pool, policy, BREAKS[brk]))
    refused(resp)
    assert count(app, model) == before


@pytest.mark.parametrize("case", list(CREATES), ids=list(CREATES))
def test_an_injected_directive_is_400_on_create(client, app, lb, listener, pool, policy, case):
    collection, model, make = CREATES[case]
    before = count(app, model)
    refused(client.post(_url(collection, pool, policy), make(lb, listener, pool, policy,
                                                             NEWLINE)))
    assert count(app, model) == before


# -- updates ---------------------------------------------------------------------------------

def test_updates_are_held_to_the_same_rule(client, app, lb, listener, pool, policy):
    hm = client.create("healthmonitors", "healthmonitor", {
        "pool_id": pool["id"], "type": "HTTP", "delay": 3, "timeout": 2, "max_retries": 2},
        lb["id"])
    member = client.create(None, "member", {"address": "10.0.0.9", "protocol_port": 80},
                           lb["id"], parent_url=f"{POOLS}/{pool['id']}/members")
    rule = client.create(None, "rule", {"type": "PATH", "compare_type": "REGEX",
                                        "value": "^/a$"}, lb["id"],
                         parent_url=f"{POLICIES}/{policy['id']}/rules")
    updates = [
        (support.listener_url(listener["id"]), {"listener": {"tls_ciphers": "A" + NEWLINE}}),
        (f"{POOLS}/{pool['id']}", {"pool": {"tls_ciphers": "A" + NEWLINE}}),
        (f"{POOLS}/{pool['id']}", {"pool": {"session_persistence": {
            "type": "APP_COOKIE", "cookie_name": "c\n"}}}),
        (f"{HMS}/{hm['id']}", {"healthmonitor": {"url_path": "/h\x00"}}),
        (f"{HMS}/{hm['id']}", {"healthmonitor": {"expected_codes": "200\n"}}),
        (f"{POOLS}/{pool['id']}/members/{member['id']}",
         {"member": {"monitor_address": "fe80::1%a" + NEWLINE}}),
        (f"{POLICIES}/{policy['id']}", {"l7policy": {"redirect_url": "http://a/\n"}}),
        (f"{POLICIES}/{policy['id']}/rules/{rule['id']}", {"rule": {"value": "^/b$\n"}}),
    ]
    for url, body in updates:
        refused(client.put(url, body))
    assert client.get(support.listener_url(listener["id"])).get_json()["listener"][
        "tls_ciphers"] is None
    assert client.get(f"{HMS}/{hm['id']}").get_json()["healthmonitor"]["url_path"] == "/"
    assert client.get(f"{POLICIES}/{policy['id']}/rules/{rule['id']}").get_json()["rule"][
        "value"] == "^/a$"


def test_a_member_batch_is_held_to_the_same_rule(client, app, lb, pool):
    before = count(app, models.Member)
    refused(client.put(f"{POOLS}/{pool['id']}/members", {"members": [
        {"address": "10.0.0.7", "protocol_port": 80},
        {"address": "fe80::2%a" + NEWLINE, "protocol_port": 80}]}))
    assert count(app, models.Member) == before


# -- addresses with an IPv6 zone (Python's ipaddress takes any text after the "%") ---------

@pytest.mark.usefixtures("shared_network")
def test_a_vip_address_with_a_zone_is_400(client, app, project):
    before = count(app, models.LoadBalancer)
    refused(client.post(support.LBS, {"loadbalancer": {
        "project_id": project, "vip_subnet_id": support.SHARED_V6,
        "vip_address": "fd00:99::5%x" + NEWLINE}}))
    refused(client.post(support.LBS, {"loadbalancer": {
        "project_id": project, "vip_subnet_id": support.SHARED_V4,
        "additional_vips": [{"subnet_id": support.SHARED_V6,
                             "ip_address": "fd00:99::6%x" + NEWLINE}]}}))
    assert count(app, models.LoadBalancer) == before


@pytest.mark.usefixtures("shared_network")
def test_allowed_cidrs_with_a_zone_are_400(client, app, project):
    lb = client.create_lb(project, vip_subnet_id=support.SHARED_V6)
    before = count(app, models.Listener)
    refused(client.post(support.LISTENERS, support.listener_body(
        lb["id"], allowed_cidrs=["fd00:99::%x" + NEWLINE + "/64"])))
    assert count(app, models.Listener) == before


def test_a_persistence_granularity_with_a_zone_is_400(client, app, lb):
    before = count(app, models.Pool)
    refused(client.post(POOLS, {"pool": {
        "loadbalancer_id": lb["id"], "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN",
        "session_persistence": {"type": "SOURCE_IP",
                                "persistence_granularity": "ffff::%x" + NEWLINE}}}))
    assert count(app, models.Pool) == before


# -- what stays allowed ----------------------------------------------------------------------

def test_names_and_descriptions_are_not_rendered_and_keep_any_text(client, lb, listener):
    text = "line one\nline two\ttabbed"
    resp = client.put(support.listener_url(listener["id"]),
                      {"listener": {"name": text, "description": text}})
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["listener"]["name"] == text


def test_a_tab_inside_a_quoted_header_value_stays_allowed(client, lb, policy):
    """RFC 7230 lets a quoted header value hold a tab; the renderer writes it as \\t."""
    rule = client.create(None, "rule", {"type": "HEADER", "compare_type": "EQUAL_TO",
                                        "key": "X-A", "value": '"a\tb"'}, lb["id"],
                         parent_url=f"{POLICIES}/{policy['id']}/rules")
    assert rule["value"] == '"a\tb"'
