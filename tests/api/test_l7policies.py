"""L7 policies: action normalisation, redirect pools, positions, locks, listing, the pool link."""
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm

from lbaas.core import models
from tests.api import support
from tests.api.support import fault

POLICIES = "/v2/lbaas/l7policies"
POOLS = "/v2/lbaas/pools"
RULE = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}


@pytest.fixture
def lb(client, project):
    return client.create_lb(project)


@pytest.fixture
def listener(client, lb):
    return support.create_listener(client, lb)


def make_pool(client, lb, protocol="HTTP"):
    body = {"loadbalancer_id": lb["id"], "protocol": protocol, "lb_algorithm": "ROUND_ROBIN"}
    return client.create("pools", "pool", body, lb["id"])


@pytest.fixture
def pool(client, lb):
    return make_pool(client, lb)


def url(policy_id):
    return f"{POLICIES}/{policy_id}"


def body(listener, action="REJECT", **fields):
    result = {"listener_id": listener["id"], "action": action}
    result.update(fields)
    return result


def post(client, listener, action="REJECT", **fields):
    return client.post(POLICIES, {"l7policy": body(listener, action, **fields)})


def create(client, lb, listener, action="REJECT", **fields):
    return client.create("l7policies", "l7policy", body(listener, action, **fields), lb["id"])


def put(client, policy, **fields):
    return client.put(url(policy["id"]), {"l7policy": fields})


def settle(client, lb):
    client.wait(support.lb_url(lb["id"]), "loadbalancer")


def show(client, policy):
    return client.get(url(policy["id"])).get_json()["l7policy"]


def status(client, path, key):
    return client.get(path).get_json()[key]["provisioning_status"]


def positions(client, listener):
    listed = client.get(f"{POLICIES}?listener_id={listener['id']}").get_json()["l7policies"]
    return sorted((p["position"], p["id"]) for p in listed)


def order(*policies):
    return [(i, p["id"]) for i, p in enumerate(policies, 1)]


# Create.

def test_create_answers_201_pending_create_with_the_policy(client, lb, listener, project):
    resp = post(client, listener, name="block", description="d", tags=["a"])
    got = resp.get_json()["l7policy"]
    assert resp.status_code == 201
    assert {k: got[k] for k in ("provisioning_status", "operating_status", "action", "position",
                                "listener_id", "project_id", "rules", "updated_at", "name",
                                "description", "tags", "redirect_pool_id", "redirect_url",
                                "redirect_prefix", "redirect_http_code")} == {
        "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE",
        "action": "REJECT", "position": 1, "listener_id": listener["id"], "project_id": project,
        "rules": [], "updated_at": None, "name": "block", "description": "d", "tags": ["a"],
        "redirect_pool_id": None, "redirect_url": None, "redirect_prefix": None,
        "redirect_http_code": None}


def test_created_policy_reaches_active_and_online(client, lb, listener):
    policy = create(client, lb, listener)
    assert (policy["provisioning_status"], policy["operating_status"]) == ("ACTIVE", "ONLINE")


def test_disabled_policy_is_offline(client, lb, listener):
    policy = create(client, lb, listener, admin_state_up=False)
    assert (policy["admin_state_up"], policy["operating_status"]) == (False, "OFFLINE")


def test_null_admin_state_up_means_disabled(client, lb, listener):
    assert create(client, lb, listener, admin_state_up=None)["admin_state_up"] is False


def test_body_project_is_replaced_by_the_load_balancers(client, lb, listener, project):
    assert create(client, lb, listener, project_id="other")["project_id"] == project


def test_url_redirect_defaults_to_302(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_TO_URL", redirect_url="https://example.com/x")
    assert (policy["redirect_url"], policy["redirect_http_code"]) == \
        ("https://example.com/x", 302)


def test_prefix_redirect_keeps_an_explicit_code(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_PREFIX", redirect_prefix="http://h.example",
                    redirect_http_code=308)
    assert (policy["action"], policy["redirect_prefix"], policy["redirect_http_code"]) == \
        ("REDIRECT_PREFIX", "http://h.example", 308)


def test_pool_redirect_has_no_code(client, lb, listener, pool):
    policy = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"],
                    redirect_http_code=301)
    assert (policy["redirect_pool_id"], policy["redirect_http_code"]) == (pool["id"], None)


def test_reject_drops_redirect_arguments(client, lb, listener, pool):
    policy = create(client, lb, listener, "REJECT", redirect_url="http://x.example",
                    redirect_pool_id=pool["id"], redirect_http_code=301)
    assert [policy[k] for k in ("action", "redirect_url", "redirect_pool_id",
                                "redirect_http_code")] == ["REJECT", None, None, None]


def test_a_prefix_switches_an_explicit_reject(client, lb, listener):
    """Octavia's order: REJECT clears url and pool only, then the prefix decides the action."""
    policy = create(client, lb, listener, "REJECT", redirect_prefix="http://x.example")
    assert (policy["action"], policy["redirect_http_code"]) == ("REDIRECT_PREFIX", 302)


def test_a_url_switches_an_explicit_prefix_action(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_PREFIX", redirect_prefix="http://p.example",
                    redirect_url="http://u.example")
    assert (policy["action"], policy["redirect_url"], policy["redirect_prefix"]) == \
        ("REDIRECT_TO_URL", "http://u.example", None)


@pytest.mark.parametrize("action,missing", [
    ("REDIRECT_TO_URL", "redirect_url must not be None"),
    ("REDIRECT_TO_POOL", "redirect_pool_id or redirect_pool must not be None"),
    ("REDIRECT_PREFIX", "redirect_prefix must not be None")])
def test_redirect_action_without_its_argument_is_rejected(client, listener, action, missing):
    resp = post(client, listener, action)
    assert (resp.status_code, fault(resp)) == (400, f"Invalid L7 Policy arguments: {missing}")


def test_pool_together_with_prefix_is_rejected(client, listener, pool):
    resp = post(client, listener, "REDIRECT_PREFIX", redirect_prefix="http://x.example",
                redirect_pool_id=pool["id"])
    assert (resp.status_code, fault(resp)) == (
        400, "Invalid L7 Policy arguments: Cannot specify redirect_pool_id and redirect_url or "
             "redirect_prefix at the same time")


def test_missing_action_is_rejected(client, listener):
    resp = client.post(POLICIES, {"l7policy": {"listener_id": listener["id"]}})
    assert (resp.status_code, fault(resp)) == (
        400, "Invalid input for field/attribute action. Value: 'None'. Mandatory field missing.")


def test_unknown_action_is_rejected(client, listener):
    resp = post(client, listener, "DROP")
    assert (resp.status_code, fault(resp)) == (
        400, "Invalid input for field/attribute action. Value: 'DROP'. Value should be one of: "
             "REJECT, REDIRECT_TO_URL, REDIRECT_TO_POOL, REDIRECT_PREFIX")


@pytest.mark.parametrize("bad", [
    "ftp://example.com", "example.com", "http://", "http://a b.example", "http://x.example/\x01",
    "http://ex\u00e4mple.com", "http://example.com:99999", "https://" + "a" * 250 + ".com"])
def test_invalid_redirect_url_is_rejected(client, listener, bad):
    resp = post(client, listener, "REDIRECT_TO_URL", redirect_url=bad)
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute redirect_url. Value: ")
    assert fault(resp).endswith("Value must be a valid URL string") or \
        fault(resp).endswith("Value should have a maximum character requirement of 255")


def test_invalid_redirect_prefix_is_rejected(client, listener):
    resp = post(client, listener, "REDIRECT_PREFIX", redirect_prefix="/relative")
    assert (resp.status_code, fault(resp)) == (
        400, "Invalid input for field/attribute redirect_prefix. Value: '/relative'. Value must "
             "be a valid URL string")


def test_unsupported_redirect_code_is_rejected(client, listener):
    resp = post(client, listener, "REDIRECT_TO_URL", redirect_url="http://x.example",
                redirect_http_code=304)
    assert (resp.status_code, fault(resp)) == (
        400, "Invalid input for field/attribute redirect_http_code. Value: '304'. Value should "
             "be one of: 301, 302, 303, 307, 308")


@pytest.mark.parametrize("position,reason", [
    (0, "Value should be greater or equal to 1"),
    (2147483648, "Value should be lower or equal to 2147483647")])
def test_position_out_of_bounds_is_rejected(client, listener, position, reason):
    resp = post(client, listener, position=position)
    assert (resp.status_code, fault(resp)) == (
        400, f"Invalid input for field/attribute position. Value: '{position}'. {reason}")


def test_unknown_listener_is_404(client):
    listener_id = str(uuid.uuid4())
    resp = post(client, {"id": listener_id})
    assert (resp.status_code, fault(resp)) == (404, f"Listener {listener_id} not found.")


def test_unknown_redirect_pool_is_404_before_the_listener(client):
    pool_id = str(uuid.uuid4())
    resp = post(client, {"id": str(uuid.uuid4())}, "REDIRECT_TO_POOL", redirect_pool_id=pool_id)
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_redirect_pool_of_another_load_balancer_is_404(client, project, listener):
    other = client.create_lb(project)
    pool = make_pool(client, other)
    resp = post(client, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool['id']} not found.")


def test_incompatible_redirect_pool_is_rejected(client, lb, listener):
    pool = make_pool(client, lb, "TCP")
    resp = post(client, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    assert (resp.status_code, fault(resp)) == (
        400, "Validation failure: The pool protocol 'TCP' is invalid while the listener "
             "protocol is 'HTTP'.")


def test_policy_on_prometheus_listener_is_rejected(client, lb):
    prometheus = support.create_listener(client, lb, "PROMETHEUS", 9100)
    resp = post(client, prometheus)
    assert (resp.status_code, fault(resp)) == \
        (400, "Protocol PROMETHEUS listeners cannot have child objects.")


def test_policy_on_tcp_listener_is_accepted(client, lb):
    """The API leaves the HTTP-only restriction to providers, as upstream does."""
    tcp = support.create_listener(client, lb, "TCP", 8080)
    assert create(client, lb, tcp)["listener_id"] == tcp["id"]


def test_graph_only_attribute_is_unknown_on_create(client, listener):
    resp = post(client, listener, redirect_pool={"name": "x"})
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument l7policy: redirect_pool")


def test_create_with_rules_creates_them(client, lb, listener):
    policy = create(client, lb, listener, rules=[RULE, dict(RULE, value="/v2", invert=True)])
    rules = client.get(f"{url(policy['id'])}/rules").get_json()["rules"]
    assert sorted(r["id"] for r in rules) == sorted(r["id"] for r in policy["rules"])
    assert sorted((r["value"], r["invert"], r["provisioning_status"]) for r in rules) == \
        [("/api", False, "ACTIVE"), ("/v2", True, "ACTIVE")]


def test_create_with_an_invalid_rule_writes_nothing(client, listener):
    resp = post(client, listener, rules=[RULE, {"type": "HEADER", "compare_type": "EQUAL_TO",
                                                "value": "x"}])
    assert (resp.status_code, fault(resp)) == \
        (400, "Error parsing L7Rule: Invalid L7 Rule: L7 rule type requires a key")
    assert client.get(f"{POLICIES}?listener_id={listener['id']}").get_json()["l7policies"] == []


def test_create_with_too_many_rules_conflicts(client, listener):
    resp = post(client, listener, rules=[dict(RULE, value=f"/{i}") for i in range(51)])
    assert resp.status_code == 409
    assert fault(resp).startswith("Too many rules on L7 policy ")
    assert client.get(f"{POLICIES}?listener_id={listener['id']}").get_json()["l7policies"] == []


def test_create_sends_the_policy_with_its_rules_to_the_driver(client, lb, listener, pool,
                                                               driver, monkeypatch):
    calls = []
    original = driver.l7policy_create
    monkeypatch.setattr(driver, "l7policy_create",
                        lambda policy: (calls.append(policy), original(policy)))
    got = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"],
                 rules=[RULE])
    sent = calls[0]
    assert (sent.l7policy_id, sent.listener_id, sent.action, sent.redirect_pool_id,
            sent.position, [r.value for r in sent.rules]) == \
        (got["id"], listener["id"], "REDIRECT_TO_POOL", pool["id"], 1, ["/api"])


def test_listener_object_given_to_the_driver_carries_its_policies(client, lb, listener, driver,
                                                                   monkeypatch):
    policy = create(client, lb, listener)
    calls = []
    original = driver.listener_update
    monkeypatch.setattr(driver, "listener_update",
                        lambda old, new: (calls.append(old), original(old, new)))
    client.put(support.listener_url(listener["id"]), {"listener": {"name": "n"}})
    assert [p.l7policy_id for p in calls[0].l7policies] == [policy["id"]]


# Positions.

def test_policies_are_appended_in_order(client, lb, listener):
    made = [create(client, lb, listener) for _ in range(3)]
    assert [p["position"] for p in made] == [1, 2, 3]
    assert positions(client, listener) == order(*made)


def test_create_at_a_position_shifts_the_others_down(client, lb, listener):
    a, b, c = (create(client, lb, listener) for _ in range(3))
    first = create(client, lb, listener, position=1)
    middle = create(client, lb, listener, position=3)
    assert positions(client, listener) == order(first, a, middle, b, c)


def test_create_beyond_the_end_goes_last(client, lb, listener):
    a = create(client, lb, listener)
    last = create(client, lb, listener, position=50)
    assert (last["position"], positions(client, listener)) == (2, order(a, last))


def test_listener_lists_its_policies_in_position_order(client, lb, listener):
    a = create(client, lb, listener)
    b = create(client, lb, listener, position=1)
    shown = client.get(support.listener_url(listener["id"])).get_json()["listener"]
    assert shown["l7policies"] == [{"id": b["id"]}, {"id": a["id"]}]


def test_update_moves_a_policy_and_renumbers(client, lb, listener):
    a, b, c = (create(client, lb, listener) for _ in range(3))
    resp = put(client, c, position=1)
    assert (resp.status_code, resp.get_json()["l7policy"]["position"]) == (200, 1)
    settle(client, lb)
    assert positions(client, listener) == order(c, a, b)
    put(client, c, position=99)
    settle(client, lb)
    assert positions(client, listener) == order(a, b, c)


def test_update_with_null_position_moves_it_last(client, lb, listener):
    a, b = create(client, lb, listener), create(client, lb, listener)
    put(client, a, position=None)
    settle(client, lb)
    assert positions(client, listener) == order(b, a)


def test_delete_renumbers_once_the_policy_is_gone(client, lb, listener, freeze, driver,
                                                  monkeypatch):
    a, b, c = (create(client, lb, listener) for _ in range(3))
    freeze()
    assert client.delete(url(a["id"])).status_code == 204
    assert (show(client, a)["provisioning_status"], positions(client, listener)) == \
        ("PENDING_DELETE", order(a, b, c))
    monkeypatch.undo()
    driver._touch(lb["id"])
    client.wait(url(a["id"]), "l7policy", status="DELETED")
    settle(client, lb)
    assert positions(client, listener) == order(b, c)


def test_each_listener_has_its_own_positions(client, lb, listener):
    other = support.create_listener(client, lb, port=81)
    a = create(client, lb, listener)
    b = create(client, lb, other)
    assert (a["position"], b["position"]) == (1, 1)


# Update.

def test_update_answers_200_pending_update_with_new_values(client, lb, listener):
    policy = create(client, lb, listener)
    resp = put(client, policy, name="n", description="d", tags=["t"])
    got = resp.get_json()["l7policy"]
    assert (resp.status_code, got["name"], got["description"], got["tags"],
            got["provisioning_status"]) == (200, "n", "d", ["t"], "PENDING_UPDATE")
    settle(client, lb)
    assert client.wait(url(policy["id"]), "l7policy")["updated_at"] is not None


def test_update_with_only_a_url_switches_the_action(client, lb, listener):
    policy = create(client, lb, listener)
    got = put(client, policy, redirect_url="https://example.com/").get_json()["l7policy"]
    assert (got["action"], got["redirect_url"], got["redirect_http_code"]) == \
        ("REDIRECT_TO_URL", "https://example.com/", 302)


def test_update_with_only_a_pool_switches_the_action_and_clears_the_url(client, lb, listener,
                                                                         pool):
    policy = create(client, lb, listener, "REDIRECT_TO_URL", redirect_url="http://a.example",
                    redirect_http_code=301)
    got = put(client, policy, redirect_pool_id=pool["id"]).get_json()["l7policy"]
    assert [got[k] for k in ("action", "redirect_pool_id", "redirect_url",
                             "redirect_http_code")] == \
        ["REDIRECT_TO_POOL", pool["id"], None, None]


def test_update_with_only_a_prefix_switches_the_action(client, lb, listener, pool):
    policy = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    got = put(client, policy, redirect_prefix="http://p.example").get_json()["l7policy"]
    assert [got[k] for k in ("action", "redirect_prefix", "redirect_pool_id",
                             "redirect_http_code")] == \
        ["REDIRECT_PREFIX", "http://p.example", None, 302]


def test_update_to_reject_clears_every_redirect_field(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_TO_URL", redirect_url="http://a.example",
                    redirect_http_code=307)
    got = put(client, policy, action="REJECT").get_json()["l7policy"]
    assert [got[k] for k in ("action", "redirect_url", "redirect_http_code")] == \
        ["REJECT", None, None]


def test_update_code_of_a_url_redirect(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_TO_URL", redirect_url="http://a.example")
    got = put(client, policy, redirect_http_code=303).get_json()["l7policy"]
    assert (got["action"], got["redirect_url"], got["redirect_http_code"]) == \
        ("REDIRECT_TO_URL", "http://a.example", 303)


def test_update_with_null_code_restores_the_default(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_PREFIX", redirect_prefix="http://a.example",
                    redirect_http_code=301)
    got = put(client, policy, redirect_http_code=None).get_json()["l7policy"]
    assert (got["action"], got["redirect_http_code"]) == ("REDIRECT_PREFIX", 302)


def test_update_clearing_the_url_of_a_url_redirect_is_rejected(client, lb, listener):
    policy = create(client, lb, listener, "REDIRECT_TO_URL", redirect_url="http://a.example")
    resp = put(client, policy, redirect_url=None)
    assert (resp.status_code, fault(resp)) == \
        (400, "Invalid L7 Policy arguments: redirect_url must not be None")


def test_update_to_pool_action_without_a_pool_is_rejected(client, lb, listener):
    policy = create(client, lb, listener)
    resp = put(client, policy, action="REDIRECT_TO_POOL")
    assert (resp.status_code, fault(resp)) == (
        400, "Invalid L7 Policy arguments: redirect_pool_id or redirect_pool must not be None")


def test_update_with_null_action_is_rejected(client, lb, listener):
    policy = create(client, lb, listener)
    resp = put(client, policy, action=None)
    assert (resp.status_code, fault(resp)) == (400, "Invalid L7 Policy action specified: None")


def test_empty_update_is_rejected(client, lb, listener):
    policy = create(client, lb, listener)
    resp = put(client, policy)
    assert (resp.status_code, fault(resp)) == \
        (400, "Invalid L7 Policy arguments: Invalid update options")
    assert status(client, support.lb_url(lb["id"]), "loadbalancer") == "ACTIVE"


def test_update_nulls_reset_name_and_admin_state(client, lb, listener):
    policy = create(client, lb, listener, name="n")
    got = put(client, policy, name=None, admin_state_up=None).get_json()["l7policy"]
    assert (got["name"], got["admin_state_up"]) == ("", False)


def test_listener_is_not_updatable(client, lb, listener):
    policy = create(client, lb, listener)
    resp = put(client, policy, listener_id=listener["id"])
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument l7policy: listener_id")


def test_update_to_an_unknown_pool_is_404(client, lb, listener):
    policy = create(client, lb, listener)
    pool_id = str(uuid.uuid4())
    resp = put(client, policy, redirect_pool_id=pool_id)
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_update_to_an_incompatible_pool_is_rejected(client, lb, listener):
    policy = create(client, lb, listener)
    udp = make_pool(client, lb, "UDP")
    resp = put(client, policy, redirect_pool_id=udp["id"])
    assert (resp.status_code, fault(resp)) == (
        400, "Validation failure: The pool protocol 'UDP' is invalid while the listener "
             "protocol is 'HTTP'.")


def test_update_sends_the_normalised_changes_to_the_driver(client, lb, listener, driver,
                                                           monkeypatch):
    policy = create(client, lb, listener)
    calls = []
    original = driver.l7policy_update
    monkeypatch.setattr(driver, "l7policy_update",
                        lambda old, new: (calls.append((old, new)), original(old, new)))
    put(client, policy, redirect_url="http://a.example")
    old, new = calls[0]
    assert (old.action, new.l7policy_id, new.action, new.redirect_url, new.redirect_http_code,
            new.redirect_pool_id, new.name, new.position) == \
        ("REJECT", policy["id"], "REDIRECT_TO_URL", "http://a.example", 302, None, dm.Unset,
         dm.Unset)


# Locks.

def test_create_on_a_busy_load_balancer_conflicts_and_writes_nothing(client, app, lb, listener):
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = post(client, listener)
    assert (resp.status_code, fault(resp)) == \
        (409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")
    assert client.get(f"{POLICIES}?listener_id={listener['id']}").get_json()["l7policies"] == []


def test_create_holds_listener_and_load_balancer(client, lb, listener, freeze):
    freeze()
    policy = post(client, listener).get_json()["l7policy"]
    assert [status(client, url(policy["id"]), "l7policy"),
            status(client, support.listener_url(listener["id"]), "listener"),
            status(client, support.lb_url(lb["id"]), "loadbalancer")] == \
        ["PENDING_CREATE", "PENDING_UPDATE", "PENDING_UPDATE"]


def test_update_holds_policy_listener_and_load_balancer(client, lb, listener, freeze):
    policy = create(client, lb, listener)
    freeze()
    put(client, policy, name="x")
    assert [status(client, url(policy["id"]), "l7policy"),
            status(client, support.listener_url(listener["id"]), "listener"),
            status(client, support.lb_url(lb["id"]), "loadbalancer")] == ["PENDING_UPDATE"] * 3


def test_update_while_the_load_balancer_is_in_error_conflicts(client, app, lb, listener):
    policy = create(client, lb, listener)
    support.set_status(app, models.LoadBalancer, lb["id"], "ERROR")
    resp = put(client, policy, name="x")
    assert (resp.status_code, fault(resp)) == \
        (409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")
    assert show(client, policy)["name"] == ""


def test_delete_while_busy_conflicts(client, app, lb, listener):
    policy = create(client, lb, listener)
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = client.delete(url(policy["id"]))
    assert (resp.status_code, fault(resp)) == \
        (409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")


def test_delete_holds_listener_and_marks_pending_delete(client, lb, listener, freeze):
    policy = create(client, lb, listener)
    freeze()
    assert client.delete(url(policy["id"])).status_code == 204
    assert [status(client, url(policy["id"]), "l7policy"),
            status(client, support.listener_url(listener["id"]), "listener")] == \
        ["PENDING_DELETE", "PENDING_UPDATE"]


# Delete, show.

def test_delete_removes_the_policy_and_its_rules(client, lb, listener):
    policy = create(client, lb, listener, rules=[RULE])
    rule_id = policy["rules"][0]["id"]
    assert client.delete(url(policy["id"])).status_code == 204
    client.wait(url(policy["id"]), "l7policy", status="DELETED")
    settle(client, lb)
    assert client.get(f"{url(policy['id'])}/rules/{rule_id}").status_code == 404
    shown = client.get(support.listener_url(listener["id"])).get_json()["listener"]
    assert (shown["l7policies"], shown["provisioning_status"]) == ([], "ACTIVE")


@pytest.mark.parametrize("method", ["get", "put", "delete"])
def test_unknown_policy_is_404(client, method):
    policy_id = str(uuid.uuid4())
    kwargs = {"body": {"l7policy": {"name": "x"}}} if method == "put" else {}
    resp = getattr(client, method)(url(policy_id), **kwargs)
    assert (resp.status_code, fault(resp)) == (404, f"L7Policy {policy_id} not found.")


def test_show_trims_to_selected_fields(client, lb, listener):
    policy = create(client, lb, listener)
    got = client.get(f"{url(policy['id'])}?fields=id&fields=position").get_json()
    assert got == {"l7policy": {"id": policy["id"], "position": 1}}


# Listing.

def test_list_filters_by_listener_and_action(client, lb, listener, pool):
    other = support.create_listener(client, lb, port=81)
    reject = create(client, lb, listener)
    create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    create(client, lb, other)
    got = client.get(f"{POLICIES}?listener_id={listener['id']}&action=REJECT").get_json()
    assert ([p["id"] for p in got["l7policies"]], got["l7policies_links"]) == \
        ([reject["id"]], [])


def test_list_sorts_by_position_and_paginates(client, lb, listener):
    a = create(client, lb, listener)
    b = create(client, lb, listener, position=1)
    got = client.get(f"{POLICIES}?listener_id={listener['id']}&sort=position:desc&limit=1")
    page = got.get_json()
    assert [p["id"] for p in page["l7policies"]] == [a["id"]]
    assert [link["rel"] for link in page["l7policies_links"]] == ["next"]
    nxt = client.get(f"{POLICIES}?listener_id={listener['id']}&sort=position:desc&limit=1"
                     f"&marker={a['id']}").get_json()
    assert [p["id"] for p in nxt["l7policies"]] == [b["id"]]


def test_list_filters_by_tags(client, lb, listener):
    tagged = create(client, lb, listener, tags=["blue", "web"])
    create(client, lb, listener, tags=["red"])
    got = client.get(f"{POLICIES}?listener_id={listener['id']}&tags=blue,web").get_json()
    assert [p["id"] for p in got["l7policies"]] == [tagged["id"]]
    got = client.get(f"{POLICIES}?listener_id={listener['id']}&not-tags-any=blue").get_json()
    assert [p["tags"] for p in got["l7policies"]] == [["red"]]


def test_list_rejects_an_unknown_filter(client):
    resp = client.get(f"{POLICIES}?colour=blue")
    assert (resp.status_code, fault(resp)) == \
        (400, "One or more arguments are either duplicate or invalid")


# The pools a policy sends traffic to.

def test_pool_in_use_by_a_policy_cannot_be_deleted(client, lb, listener, pool):
    policy = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    resp = client.delete(f"{POOLS}/{pool['id']}")
    assert (resp.status_code, fault(resp)) == \
        (409, f"Pool {pool['id']} is in use by L7 policy {policy['id']}")
    assert status(client, support.lb_url(lb["id"]), "loadbalancer") == "ACTIVE"
    put(client, policy, action="REJECT")
    settle(client, lb)
    assert client.delete(f"{POOLS}/{pool['id']}").status_code == 204


def test_pool_lists_the_listeners_of_enabled_policies_with_rules(client, lb, listener, pool):
    def listeners_of_pool():
        return client.get(f"{POOLS}/{pool['id']}").get_json()["pool"]["listeners"]

    policy = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    assert listeners_of_pool() == []
    client.create(None, "rule", RULE, lb["id"], parent_url=f"{url(policy['id'])}/rules")
    assert listeners_of_pool() == [{"id": listener["id"]}]
    put(client, policy, admin_state_up=False)
    settle(client, lb)
    assert listeners_of_pool() == []


def test_member_change_holds_the_listeners_redirecting_to_the_pool(client, lb, listener, pool,
                                                                   freeze):
    create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"], rules=[RULE])
    freeze()
    client.post(f"{POOLS}/{pool['id']}/members",
                {"member": {"address": "10.0.0.1", "protocol_port": 80}})
    assert status(client, support.listener_url(listener["id"]), "listener") == "PENDING_UPDATE"


def _tree_pools(client, lb):
    tree = client.get(f"{support.lb_url(lb['id'])}/status").get_json()["statuses"]
    return [[p["id"] for p in li["pools"]] for li in tree["loadbalancer"]["listeners"]]


def test_status_tree_shows_redirect_pools_of_enabled_policies_with_rules(client, lb, listener,
                                                                         pool):
    default = make_pool(client, lb)
    client.put(support.listener_url(listener["id"]),
               {"listener": {"default_pool_id": default["id"]}})
    settle(client, lb)
    policy = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"])
    assert _tree_pools(client, lb) == [[default["id"]]]  # no rule yet: inert
    client.create(None, "rule", RULE, lb["id"], parent_url=f"{url(policy['id'])}/rules")
    assert _tree_pools(client, lb) == [[default["id"], pool["id"]]]
    create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=default["id"],
           rules=[RULE])
    assert _tree_pools(client, lb) == [[default["id"], pool["id"]]]  # listed once
    put(client, policy, admin_state_up=False)
    settle(client, lb)
    assert _tree_pools(client, lb) == [[default["id"]]]


# Cascades.

def test_listener_delete_takes_its_policies_and_rules(client, lb, listener):
    policy = create(client, lb, listener, rules=[RULE])
    assert client.delete(support.listener_url(listener["id"])).status_code == 204
    client.wait(support.listener_url(listener["id"]), "listener", status="DELETED")
    assert client.get(url(policy["id"])).status_code == 404
    with support.db(app_of(client)).read() as session:
        assert session.get(models.L7Rule, policy["rules"][0]["id"]) is None


def test_cascade_delete_of_the_load_balancer_takes_policies_and_rules(client, lb, listener,
                                                                      pool):
    policy = create(client, lb, listener, "REDIRECT_TO_POOL", redirect_pool_id=pool["id"],
                    rules=[RULE])
    assert client.delete(f"{support.lb_url(lb['id'])}?cascade=true").status_code == 204
    client.wait(support.lb_url(lb["id"]), "loadbalancer", status="DELETED")
    assert client.get(url(policy["id"])).status_code == 404
    with support.db(app_of(client)).read() as session:
        assert session.get(models.L7Rule, policy["rules"][0]["id"]) is None


def app_of(client):
    return client.raw.application


# Quota.

def test_policy_quota_is_enforced(client, app, lb, listener):
    with support.overridden(app, **{"quotas.default_l7policy_quota": 1,
                                    "quotas.enforce_with_noauth": True}):
        create(client, lb, listener)
        resp = post(client, listener)
    assert (resp.status_code, fault(resp)) == \
        (403, "Quota has been met for resources: L7Policy")
