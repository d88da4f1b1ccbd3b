"""L7 rules: the type x compare type x key/value matrix, the 50-rule limit, locks, listing."""
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm

from lbaas.core import models
from tests.api import support
from tests.api.support import fault

POLICIES = "/v2/lbaas/l7policies"
PATH_RULE = {"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}
PARSE = "Error parsing L7Rule: "
INVALID = PARSE + "Invalid L7 Rule: "


@pytest.fixture
def lb(client, project):
    return client.create_lb(project)


@pytest.fixture
def listener(client, lb):
    return support.create_listener(client, lb)


def make_policy(client, lb, listener, **fields):
    body = {"listener_id": listener["id"], "action": "REJECT"}
    body.update(fields)
    return client.create("l7policies", "l7policy", body, lb["id"])


@pytest.fixture
def policy(client, lb, listener):
    return make_policy(client, lb, listener)


def rules_url(policy):
    return f"{POLICIES}/{policy['id']}/rules"


def rule_url(policy, rule):
    return f"{rules_url(policy)}/{rule['id']}"


def post(client, policy, **fields):
    return client.post(rules_url(policy), {"rule": fields})


def create(client, lb, policy, **fields):
    return client.create(None, "rule", fields or PATH_RULE, lb["id"],
                         parent_url=rules_url(policy))


def put(client, policy, rule, **fields):
    return client.put(rule_url(policy, rule), {"rule": fields})


def settle(client, lb):
    client.wait(support.lb_url(lb["id"]), "loadbalancer")


def status(client, path, key):
    return client.get(path).get_json()[key]["provisioning_status"]


# Create.

def test_create_answers_201_under_the_rule_envelope(client, policy, project):
    resp = post(client, policy, **PATH_RULE, tags=["t"])
    got = resp.get_json()["rule"]
    assert resp.status_code == 201
    assert {k: got[k] for k in ("type", "compare_type", "key", "value", "invert",
                                "admin_state_up", "project_id", "provisioning_status",
                                "operating_status", "tags", "updated_at")} == {
        "type": "PATH", "compare_type": "STARTS_WITH", "key": None, "value": "/api",
        "invert": False, "admin_state_up": True, "project_id": project,
        "provisioning_status": "PENDING_CREATE", "operating_status": "OFFLINE", "tags": ["t"],
        "updated_at": None}
    assert "name" not in got and "description" not in got and "l7policy_id" not in got


def test_created_rule_reaches_active_and_policy_lists_it(client, lb, policy):
    rule = create(client, lb, policy)
    assert (rule["provisioning_status"], rule["operating_status"]) == ("ACTIVE", "ONLINE")
    shown = client.wait(f"{POLICIES}/{policy['id']}", "l7policy")
    assert shown["rules"] == [{"id": rule["id"]}]


def test_disabled_rule_is_offline(client, lb, policy):
    rule = create(client, lb, policy, **PATH_RULE, admin_state_up=False)
    assert rule["operating_status"] == "OFFLINE"


def test_invert_is_stored(client, lb, policy):
    assert create(client, lb, policy, **PATH_RULE, invert=True)["invert"] is True


@pytest.mark.parametrize("rule", [
    {"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "www.example.com"},
    {"type": "HOST_NAME", "compare_type": "ENDS_WITH", "value": ".example.com"},
    {"type": "PATH", "compare_type": "REGEX", "value": "^/api/v[0-9]+/"},
    {"type": "PATH", "compare_type": "CONTAINS", "value": '/a"b\\c'},
    {"type": "FILE_TYPE", "compare_type": "EQUAL_TO", "value": "jpg"},
    {"type": "FILE_TYPE", "compare_type": "REGEX", "value": "jpe?g"},
    {"type": "HEADER", "compare_type": "CONTAINS", "key": "X-Client", "value": "curl"},
    {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "User-Agent",
     "value": '"Mozilla 5.0 (X11)"'},
    {"type": "HEADER", "compare_type": "REGEX", "key": "X-A", "value": "a b+"},
    {"type": "COOKIE", "compare_type": "STARTS_WITH", "key": "session", "value": "abc=/x"},
    {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "TRUE"},
    {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "0"},
    {"type": "SSL_DN_FIELD", "compare_type": "STARTS_WITH", "key": "CN", "value": "www"},
    {"type": "SSL_DN_FIELD", "compare_type": "REGEX", "key": "OU-1", "value": "^eng"},
])
def test_valid_matrix_rows_are_accepted(client, policy, rule):
    resp = post(client, policy, **rule)
    assert resp.status_code == 201, resp.get_json()
    got = resp.get_json()["rule"]
    assert {k: got[k] for k in rule} == rule


@pytest.mark.parametrize("rule,message", [
    ({"type": "FILE_TYPE", "compare_type": "STARTS_WITH", "value": "jpg"},
     INVALID + "invalid comparison type for rule type"),
    ({"type": "FILE_TYPE", "compare_type": "CONTAINS", "value": "jpg"},
     INVALID + "invalid comparison type for rule type"),
    ({"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"},
     INVALID + "L7 rule type requires a key"),
    ({"type": "COOKIE", "compare_type": "EQUAL_TO", "key": "", "value": "x"},
     INVALID + "L7 rule type requires a key"),
    ({"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X A", "value": "x"},
     PARSE + "Invalid characters in key"),
    ({"type": "COOKIE", "compare_type": "EQUAL_TO", "key": "a:b", "value": "x"},
     PARSE + "Invalid characters in key"),
    ({"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-A", "value": "a b"},
     PARSE + "Invalid characters in header value"),
    ({"type": "COOKIE", "compare_type": "EQUAL_TO", "key": "c", "value": "a;b"},
     PARSE + "Invalid characters in cookie value"),
    ({"type": "COOKIE", "compare_type": "CONTAINS", "key": "c", "value": '"quoted"'},
     PARSE + "Invalid characters in cookie value"),
    ({"type": "PATH", "compare_type": "EQUAL_TO", "value": "/a b"},
     PARSE + "Invalid characters in comparison value"),
    ({"type": "HOST_NAME", "compare_type": "EQUAL_TO", "value": "h\u00f6st"},
     PARSE + "Invalid characters in comparison value"),
    ({"type": "PATH", "compare_type": "STARTS_WITH", "value": ""},
     INVALID + "L7 rule type requires a value"),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "key": "k", "value": "true"},
     INVALID + 'L7rule type SSL_CONN_HAS_CERT does not use the "key" field.'),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "false"},
     INVALID + "L7rule value false is not a boolean True string."),
    ({"type": "SSL_CONN_HAS_CERT", "compare_type": "STARTS_WITH", "value": "true"},
     INVALID + "L7rule type SSL_CONN_HAS_CERT only supports the EQUAL_TO compare type."),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "key": "k", "value": "1"},
     INVALID + 'L7rule type SSL_VERIFY_RESULT does not use the "key" field.'),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "-1"},
     INVALID + "L7rule type SSL_VERIFY_RESULT needs a int value, which is >= 0"),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "x"},
     INVALID + "L7rule type SSL_VERIFY_RESULT needs a int value, which is >= 0"),
    ({"type": "SSL_VERIFY_RESULT", "compare_type": "REGEX", "value": "1"},
     INVALID + "L7rule type SSL_VERIFY_RESULT only supports the EQUAL_TO compare type."),
    ({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "value": "x"},
     INVALID + "L7rule type SSL_DN_FIELD needs to specify a key and a value."),
    ({"type": "SSL_DN_FIELD", "compare_type": "EQUAL_TO", "key": "1CN", "value": "x"},
     INVALID + "Invalid L7rule distinguished name field."),
])
def test_invalid_matrix_rows_are_rejected(client, policy, rule, message):
    resp = post(client, policy, **rule)
    assert (resp.status_code, fault(resp)) == (400, message)


@pytest.mark.parametrize("rule", [
    {"type": "PATH", "compare_type": "REGEX", "value": "^/api(["},
    {"type": "HEADER", "compare_type": "REGEX", "key": "X", "value": "*x"},
    {"type": "COOKIE", "compare_type": "REGEX", "key": "c", "value": "(?P<"},
    {"type": "SSL_DN_FIELD", "compare_type": "REGEX", "key": "CN", "value": "a)"},
])
def test_regex_that_does_not_compile_is_rejected(client, policy, rule):
    resp = post(client, policy, **rule)
    assert resp.status_code == 400
    assert fault(resp).startswith(PARSE + "Unable to parse regular expression: ")


@pytest.mark.parametrize("attr", ["key", "value"])
def test_line_breaks_are_rejected(client, policy, attr):
    rule = {"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X", "value": "v"}
    rule[attr] = "a\r\nb"
    resp = post(client, policy, **rule)
    assert resp.status_code == 400
    assert fault(resp).startswith(f"Invalid input for field/attribute {attr}. ")
    assert fault(resp).endswith("Value should match the pattern ^[^\\r\\n]*$")


def test_value_longer_than_255_is_rejected(client, policy):
    resp = post(client, policy, **dict(PATH_RULE, value="/" + "a" * 255))
    assert resp.status_code == 400
    assert fault(resp).endswith("Value should have a maximum character requirement of 255")


@pytest.mark.parametrize("missing", ["type", "compare_type", "value"])
def test_mandatory_fields(client, policy, missing):
    rule = dict(PATH_RULE)
    del rule[missing]
    resp = post(client, policy, **rule)
    assert (resp.status_code, fault(resp)) == (
        400, f"Invalid input for field/attribute {missing}. Value: 'None'. "
             "Mandatory field missing.")


def test_unknown_type_is_rejected(client, policy):
    resp = post(client, policy, **dict(PATH_RULE, type="QUERY"))
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute type. Value: 'QUERY'. "
                                  "Value should be one of: HOST_NAME, PATH, ")


def test_rule_has_no_name(client, policy):
    resp = post(client, policy, **PATH_RULE, name="r")
    assert (resp.status_code, fault(resp)) == (400, "Unknown attribute for argument rule: name")


def test_the_envelope_key_is_rule(client, policy):
    resp = client.post(rules_url(policy), {"l7rule": PATH_RULE})
    assert resp.status_code == 400


def test_key_of_a_keyless_type_is_dropped(client, lb, policy):
    rule = create(client, lb, policy, type="HOST_NAME", compare_type="EQUAL_TO", key="ignored",
                  value="example.com")
    assert rule["key"] is None


def test_project_comes_from_the_load_balancer(client, lb, policy, project):
    assert create(client, lb, policy, **PATH_RULE, project_id="other")["project_id"] == project


def test_unknown_policy_is_404(client):
    policy_id = str(uuid.uuid4())
    for resp in (client.post(f"{POLICIES}/{policy_id}/rules", {"rule": PATH_RULE}),
                 client.get(f"{POLICIES}/{policy_id}/rules"),
                 client.get(f"{POLICIES}/{policy_id}/rules/{uuid.uuid4()}")):
        assert (resp.status_code, fault(resp)) == (404, f"L7Policy {policy_id} not found.")


def test_invalid_rule_on_unknown_policy_is_400_first(client):
    """Octavia validates the rule before it looks the policy up."""
    resp = client.post(f"{POLICIES}/{uuid.uuid4()}/rules",
                       {"rule": {"type": "HEADER", "compare_type": "EQUAL_TO", "value": "x"}})
    assert resp.status_code == 400


def test_create_sends_the_rule_to_the_driver(client, lb, policy, driver, monkeypatch):
    calls = []
    original = driver.l7rule_create
    monkeypatch.setattr(driver, "l7rule_create", lambda rule: (calls.append(rule),
                                                                original(rule)))
    rule = create(client, lb, policy, type="HEADER", compare_type="EQUAL_TO", key="X-A",
                  value="b", invert=True)
    sent = calls[0]
    assert (sent.l7rule_id, sent.l7policy_id, sent.type, sent.key, sent.value, sent.invert) == \
        (rule["id"], policy["id"], "HEADER", "X-A", "b", True)


# The 50-rule limit.

def test_fifty_rules_fit_and_the_fifty_first_conflicts(client, lb, listener):
    rules = [dict(PATH_RULE, value=f"/{i}") for i in range(50)]
    policy = make_policy(client, lb, listener, rules=rules)
    assert len(policy["rules"]) == 50
    resp = post(client, policy, **PATH_RULE)
    assert (resp.status_code, fault(resp)) == (409, f"Too many rules on L7 policy {policy['id']}")
    assert len(client.get(f"{rules_url(policy)}?limit=100").get_json()["rules"]) == 50
    assert status(client, support.lb_url(lb["id"]), "loadbalancer") == "ACTIVE"


def test_rule_limit_counts_rules_added_one_by_one(client, lb, listener):
    policy = make_policy(client, lb, listener,
                         rules=[dict(PATH_RULE, value=f"/{i}") for i in range(49)])
    create(client, lb, policy)
    assert post(client, policy, **PATH_RULE).status_code == 409


# Update.

def test_update_answers_200_pending_update_and_holds_the_policy(client, lb, listener, policy,
                                                                freeze):
    rule = create(client, lb, policy)
    freeze()
    resp = put(client, policy, rule, value="/v2", invert=True)
    got = resp.get_json()["rule"]
    assert (resp.status_code, got["value"], got["invert"], got["provisioning_status"]) == \
        (200, "/v2", True, "PENDING_UPDATE")
    assert [status(client, f"{POLICIES}/{policy['id']}", "l7policy"),
            status(client, support.listener_url(listener["id"]), "listener"),
            status(client, support.lb_url(lb["id"]), "loadbalancer")] == ["PENDING_UPDATE"] * 3


def test_update_reaches_active(client, lb, policy):
    rule = create(client, lb, policy)
    put(client, policy, rule, admin_state_up=False)
    settle(client, lb)
    got = client.wait(rule_url(policy, rule), "rule")
    assert (got["admin_state_up"], got["operating_status"]) == (False, "OFFLINE")
    assert client.wait(f"{POLICIES}/{policy['id']}", "l7policy")["provisioning_status"] == \
        "ACTIVE"


def test_update_validates_the_merged_rule(client, lb, policy):
    header = create(client, lb, policy, type="HEADER", compare_type="STARTS_WITH", key="X-A",
                    value="b")
    resp = put(client, policy, header, key=None)
    assert (resp.status_code, fault(resp)) == (400, INVALID + "L7 rule type requires a key")
    resp = put(client, policy, header, type="FILE_TYPE")
    assert (resp.status_code, fault(resp)) == \
        (400, INVALID + "invalid comparison type for rule type")
    resp = put(client, policy, header, value="a b")
    assert (resp.status_code, fault(resp)) == (400, PARSE + "Invalid characters in header value")


def test_update_to_a_keyless_type_clears_the_key(client, lb, policy):
    header = create(client, lb, policy, type="HEADER", compare_type="STARTS_WITH", key="X-A",
                    value="b")
    got = put(client, policy, header, type="PATH", value="/p").get_json()["rule"]
    assert (got["type"], got["key"], got["value"]) == ("PATH", None, "/p")


def test_update_to_an_ssl_type_needs_the_key_cleared(client, lb, policy):
    header = create(client, lb, policy, type="HEADER", compare_type="EQUAL_TO", key="X-A",
                    value="true")
    resp = put(client, policy, header, type="SSL_CONN_HAS_CERT")
    assert fault(resp) == INVALID + 'L7rule type SSL_CONN_HAS_CERT does not use the "key" field.'
    got = put(client, policy, header, type="SSL_CONN_HAS_CERT", key=None).get_json()["rule"]
    assert (got["type"], got["key"]) == ("SSL_CONN_HAS_CERT", None)


def test_update_nulls(client, lb, policy):
    rule = create(client, lb, policy, **PATH_RULE, invert=True)
    got = put(client, policy, rule, invert=None, admin_state_up=None).get_json()["rule"]
    assert (got["invert"], got["admin_state_up"]) == (False, False)
    settle(client, lb)
    resp = put(client, policy, rule, value=None)
    assert (resp.status_code, fault(resp)) == (400, INVALID + "L7 rule type requires a value")


def test_update_sends_only_given_fields_to_the_driver(client, lb, policy, driver, monkeypatch):
    rule = create(client, lb, policy)
    calls = []
    original = driver.l7rule_update
    monkeypatch.setattr(driver, "l7rule_update",
                        lambda old, new: (calls.append((old, new)), original(old, new)))
    put(client, policy, rule, invert=None)
    old, new = calls[0]
    assert (old.value, new.l7rule_id, new.invert, new.value, new.type) == \
        ("/api", rule["id"], False, dm.Unset, dm.Unset)


def test_update_of_tags_replaces_them(client, lb, policy):
    rule = create(client, lb, policy, **PATH_RULE, tags=["a", "b"])
    assert put(client, policy, rule, tags=["c"]).get_json()["rule"]["tags"] == ["c"]


# Locks.

@pytest.mark.parametrize("state", ["PENDING_UPDATE", "ERROR"])
def test_writes_need_an_active_policy(client, app, lb, policy, state):
    rule = create(client, lb, policy)
    support.set_status(app, models.L7Policy, policy["id"], state)
    message = f"L7Policy {policy['id']} is immutable and cannot be updated."
    for resp in (post(client, policy, **PATH_RULE), put(client, policy, rule, value="/x"),
                 client.delete(rule_url(policy, rule))):
        assert (resp.status_code, fault(resp)) == (409, message)
    assert status(client, support.lb_url(lb["id"]), "loadbalancer") == "ACTIVE"


def test_writes_need_an_active_load_balancer(client, app, lb, policy):
    rule = create(client, lb, policy)
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    message = f"Load Balancer {lb['id']} is immutable and cannot be updated."
    for resp in (post(client, policy, **PATH_RULE), put(client, policy, rule, value="/x"),
                 client.delete(rule_url(policy, rule))):
        assert (resp.status_code, fault(resp)) == (409, message)
    assert status(client, f"{POLICIES}/{policy['id']}", "l7policy") == "ACTIVE"
    assert [r["id"] for r in client.get(rules_url(policy)).get_json()["rules"]] == [rule["id"]]


def test_create_holds_policy_listener_and_load_balancer(client, lb, listener, policy, freeze):
    freeze()
    rule = post(client, policy, **PATH_RULE).get_json()["rule"]
    assert [status(client, rule_url(policy, rule), "rule"),
            status(client, f"{POLICIES}/{policy['id']}", "l7policy"),
            status(client, support.listener_url(listener["id"]), "listener"),
            status(client, support.lb_url(lb["id"]), "loadbalancer")] == \
        ["PENDING_CREATE"] + ["PENDING_UPDATE"] * 3


# Delete, show, list.

def test_delete_marks_pending_delete_then_removes_the_rule(client, lb, policy, freeze, driver,
                                                           monkeypatch):
    rule = create(client, lb, policy)
    freeze()
    assert client.delete(rule_url(policy, rule)).status_code == 204
    assert status(client, rule_url(policy, rule), "rule") == "PENDING_DELETE"
    monkeypatch.undo()
    driver._touch(lb["id"])
    client.wait(rule_url(policy, rule), "rule", status="DELETED")
    settle(client, lb)
    assert client.wait(f"{POLICIES}/{policy['id']}", "l7policy")["rules"] == []


def test_unknown_rule_is_404(client, lb, policy):
    rule_id = str(uuid.uuid4())
    path = f"{rules_url(policy)}/{rule_id}"
    for resp in (client.get(path), client.put(path, {"rule": {"value": "/x"}}),
                 client.delete(path)):
        assert (resp.status_code, fault(resp)) == (404, f"L7Rule {rule_id} not found.")


def test_rule_of_another_policy_is_404(client, lb, listener, policy):
    other = make_policy(client, lb, listener)
    rule = create(client, lb, other)
    resp = client.get(rule_url(policy, rule))
    assert (resp.status_code, fault(resp)) == (404, f"L7Rule {rule['id']} not found.")


def test_list_is_scoped_to_the_policy_and_filters(client, lb, listener, policy):
    other = make_policy(client, lb, listener)
    header = create(client, lb, policy, type="HEADER", compare_type="EQUAL_TO", key="X",
                    value="v", tags=["h"])
    path = create(client, lb, policy)
    create(client, lb, other)
    listed = client.get(rules_url(policy)).get_json()
    assert (sorted(r["id"] for r in listed["rules"]), listed["rules_links"]) == \
        (sorted([header["id"], path["id"]]), [])
    assert [r["id"] for r in client.get(f"{rules_url(policy)}?type=PATH").get_json()[
        "rules"]] == [path["id"]]
    assert [r["id"] for r in client.get(f"{rules_url(policy)}?tags=h").get_json()[
        "rules"]] == [header["id"]]
    assert client.get(f"{rules_url(policy)}?invert=true").get_json()["rules"] == []


def test_list_paginates_and_selects_fields(client, lb, policy):
    first = create(client, lb, policy)
    create(client, lb, policy, **dict(PATH_RULE, value="/b"))
    page = client.get(f"{rules_url(policy)}?sort=value&limit=1&fields=id").get_json()
    assert page["rules"] == [{"id": first["id"]}]
    assert [link["rel"] for link in page["rules_links"]] == ["next"]


def test_list_accepts_its_policy_as_a_filter(client, lb, policy):
    """openstacksdk's l7_rules(policy) sends ?l7policy_id=<the policy in the path>."""
    rule = create(client, lb, policy)
    listed = client.get(f"{rules_url(policy)}?l7policy_id={policy['id']}").get_json()["rules"]
    assert [r["id"] for r in listed] == [rule["id"]]
    assert client.get(f"{rules_url(policy)}?l7policy_id={uuid.uuid4()}").get_json()[
        "rules"] == []


def test_list_rejects_a_filter_rules_do_not_have(client, policy):
    resp = client.get(f"{rules_url(policy)}?name=x")
    assert (resp.status_code, fault(resp)) == \
        (400, "One or more arguments are either duplicate or invalid")


def test_rule_quota_is_enforced(client, app, lb, policy):
    with support.overridden(app, **{"quotas.default_l7rule_quota": 0,
                                    "quotas.enforce_with_noauth": True}):
        resp = post(client, policy, **PATH_RULE)
    assert (resp.status_code, fault(resp)) == (403, "Quota has been met for resources: L7Rule")
