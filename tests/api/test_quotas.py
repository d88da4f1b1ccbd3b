"""Quotas: the resource (stored, effective and default limits, both spellings, bounds) and
their enforcement on every create path, released when the driver reports DELETED."""
import threading
import uuid

import pytest

from lbaas.core import models
from tests.api import support
from tests.api.support import fault
from tests.conftest import ApiClient

QUOTAS = "/v2/lbaas/quotas"
LBS = support.LBS
POOLS = "/v2/lbaas/pools"
HMS = "/v2/lbaas/healthmonitors"
ALL_KEYS = {"project_id", "loadbalancer", "load_balancer", "listener", "member", "pool",
            "healthmonitor", "health_monitor", "l7policy", "l7rule", "tenant_id"}
UNLIMITED = {"loadbalancer": -1, "load_balancer": -1, "listener": -1, "member": -1,
             "pool": -1, "healthmonitor": -1, "health_monitor": -1, "l7policy": -1,
             "l7rule": -1}


def quota_body(project, **limits):
    """A quota as lbaas and upstream render it: every limit, then the legacy tenant_id."""
    return {"project_id": project, **UNLIMITED, **limits, "tenant_id": project}


@pytest.fixture
def enforcing(app):
    """Quotas enforced although the app runs under noauth."""
    with support.overridden(app, **{"quotas.enforce_with_noauth": True}):
        yield


def url(project):
    return f"{QUOTAS}/{project}"


def put(client, project, **limits):
    return client.put(url(project), {"quota": limits})


def set_quota(client, project, **limits):
    resp = put(client, project, **limits)
    assert resp.status_code == 202, resp.get_json()
    return resp.get_json()["quota"]


def shown(client, path):
    resp = client.get(path)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["quota"]


def met(resp, resource):
    """Whether a response is the 403 of a met quota naming the resource."""
    return (resp.status_code, fault(resp)) == \
        (403, f"Quota has been met for resources: {resource}")


def lb_body(project, **fields):
    body = {"project_id": project, "vip_subnet_id": str(uuid.uuid4())}
    body.update(fields)
    return {"loadbalancer": body}


def pool_body(lb, **fields):
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
    body.update(fields)
    return {"pool": body}


def make_pool(client, lb):
    return client.create("pools", "pool", pool_body(lb)["pool"], lb["id"])


def settle(client, lb):
    return client.wait(f"{LBS}/{lb['id']}", "loadbalancer")


def listed_lbs(client, project):
    return client.get(f"{LBS}?project_id={project}").get_json()["loadbalancers"]


# Reading quotas.

def test_unknown_project_has_the_default_quotas_in_both_spellings(client, project):
    assert shown(client, url(project)) == quota_body(project)


def test_defaults_come_from_the_configuration(app, client, project):
    with support.overridden(app, **{"quotas.default_load_balancer_quota": 5,
                                    "quotas.default_health_monitor_quota": 3,
                                    "quotas.default_l7rule_quota": 0}):
        defaults = shown(client, f"{QUOTAS}/defaults")
        project_default = shown(client, f"{url(project)}/default")
        effective = shown(client, url(project))
    expected = dict(UNLIMITED, loadbalancer=5, load_balancer=5, healthmonitor=3,
                    health_monitor=3, l7rule=0)
    assert defaults == quota_body("defaults", **expected)
    assert project_default == quota_body(project, **expected)
    assert effective == project_default


def test_project_default_ignores_the_stored_quota(client, project):
    set_quota(client, project, listener=4)
    assert shown(client, f"{url(project)}/default")["listener"] == -1


def test_defaults_is_not_a_project_that_can_be_written(client):
    put_resp = client.put(f"{QUOTAS}/defaults", {"quota": {"loadbalancer": 0}})
    delete_resp = client.delete(f"{QUOTAS}/defaults")
    assert (put_resp.status_code, delete_resp.status_code) == (405, 405)
    assert put_resp.get_json()["faultcode"] == "Client"
    assert shown(client, f"{QUOTAS}/defaults")["loadbalancer"] == -1
    assert client.get(f"{QUOTAS}?project_id=defaults").get_json()["quotas"] == []


def test_quota_paths_take_the_v2_and_json_aliases(client, project):
    set_quota(client, project, pool=6)
    assert shown(client, f"/v2.0/quotas/{project}.json")["pool"] == 6


# PUT.

def test_put_answers_202_with_the_effective_quota(client, project):
    resp = put(client, project, loadbalancer=5, listener=0)
    assert resp.status_code == 202
    assert resp.get_json() == {"quota": quota_body(project, loadbalancer=5, load_balancer=5,
                                                   listener=0)}


def test_put_accepts_the_deprecated_spellings(client, project):
    quota = set_quota(client, project, load_balancer=4, health_monitor=2)
    assert [quota[k] for k in ("loadbalancer", "load_balancer", "healthmonitor",
                               "health_monitor")] == [4, 4, 2, 2]


def test_canonical_spelling_wins_over_its_alias(client, project):
    quota = set_quota(client, project, loadbalancer=1, load_balancer=9, health_monitor=7,
                      healthmonitor=3)
    assert (quota["loadbalancer"], quota["healthmonitor"]) == (1, 3)


def test_put_changes_only_the_limits_it_names(client, project):
    set_quota(client, project, loadbalancer=5, member=50)
    quota = set_quota(client, project, listener=3)
    assert (quota["loadbalancer"], quota["member"], quota["listener"]) == (5, 50, 3)
    assert shown(client, url(project)) == quota


def test_null_reverts_a_limit_to_the_current_default(app, client, project):
    set_quota(client, project, loadbalancer=5, pool=2)
    with support.overridden(app, **{"quotas.default_load_balancer_quota": 7}):
        quota = set_quota(client, project, load_balancer=None)
    assert (quota["loadbalancer"], quota["pool"]) == (7, 2)
    listed = client.get(f"{QUOTAS}?project_id={project}").get_json()["quotas"][0]
    assert (listed["loadbalancer"], listed["pool"]) == (-1, 2)   # the default again


def test_numeric_strings_are_accepted(client, project):
    assert set_quota(client, project, member="12")["member"] == 12


@pytest.mark.parametrize("value", [-1, 0, 2000000000])
def test_bounds_are_inclusive(client, project, value):
    assert set_quota(client, project, l7policy=value)["l7policy"] == value


@pytest.mark.parametrize("value, reason", [
    (-2, "Value should be greater or equal to -1"),
    (2000000001, "Value should be lower or equal to 2000000000"),
    ("many", "Wrong type. Expected 'int'"),
    (True, "Wrong type. Expected 'int'"),
])
def test_out_of_bounds_or_non_integer_limit_is_400(client, project, value, reason):
    resp = put(client, project, pool=value)
    assert (resp.status_code, fault(resp)) == \
        (400, f"Invalid input for field/attribute pool. Value: '{value}'. {reason}")


def test_unknown_limit_is_400(client, project):
    resp = put(client, project, loadbalancers=1)
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument quota: loadbalancers")


def test_project_id_in_the_body_is_not_accepted(client, project):
    resp = put(client, project, project_id=project)
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument quota: project_id")


def test_body_without_envelope_is_400(client, project):
    resp = client.put(url(project), {"loadbalancer": 1})
    assert resp.status_code == 400
    assert client.get(f"{QUOTAS}?project_id={project}").get_json()["quotas"] == []


def test_project_id_longer_than_36_is_400(client):
    project = "p" * 37
    resp = put(client, project, loadbalancer=1)
    assert (resp.status_code, fault(resp)) == (
        400, f"Invalid input for field/attribute project_id. Value: '{project}'. "
             "Value should have a maximum character requirement of 36")


def test_empty_put_stores_a_record_of_defaults(client, project):
    assert set_quota(client, project) == quota_body(project)
    assert client.get(f"{QUOTAS}?project_id={project}").get_json()["quotas"] == \
        [quota_body(project)]


# DELETE.

def test_delete_answers_202_and_resets_to_the_defaults(client, project):
    set_quota(client, project, loadbalancer=5, l7rule=1)
    resp = client.delete(url(project))
    assert (resp.status_code, resp.get_data()) == (202, b"")
    assert shown(client, url(project)) == quota_body(project)
    assert client.get(f"{QUOTAS}?project_id={project}").get_json()["quotas"] == \
        [quota_body(project)]


def test_delete_without_a_stored_record_is_404(client, project):
    resp = client.delete(url(project))
    assert (resp.status_code, fault(resp)) == (404, f"Quotas {project} not found.")


# The list of stored records.

def test_list_shows_the_effective_limits(client, project):
    """As upstream 19 lists them (measured): the default where a project has no value."""
    set_quota(client, project, loadbalancer=5, healthmonitor=0)
    body = client.get(f"{QUOTAS}?project_id={project}").get_json()
    assert body == {"quotas": [quota_body(project, loadbalancer=5, load_balancer=5,
                                          healthmonitor=0, health_monitor=0)],
                    "quotas_links": []}


def test_list_ignores_field_selection(client, project):
    set_quota(client, project, pool=3)
    [quota] = client.get(f"{QUOTAS}?project_id={project}&fields=pool").get_json()["quotas"]
    assert set(quota) == ALL_KEYS


def test_list_pages_through_every_record_in_sort_order(client):
    mine = {f"q-{uuid.uuid4().hex[:10]}" for _ in range(3)}
    for project in mine:
        set_quota(client, project, member=1)
    seen, path = [], f"{QUOTAS}?limit=2&sort=project_id:desc"
    while path:
        body = client.get(path).get_json()
        assert len(body["quotas"]) <= 2
        seen += [q["project_id"] for q in body["quotas"]]
        nxt = [link["href"] for link in body["quotas_links"] if link["rel"] == "next"]
        path = nxt[0].split("localhost", 1)[1] if nxt else None
    assert seen == sorted(seen, reverse=True)
    assert len(seen) == len(set(seen)) and mine <= set(seen)


def test_list_marker_is_a_project_id(client, project):
    set_quota(client, project, member=1)
    set_quota(client, project + "-z", member=2)
    body = client.get(f"{QUOTAS}?limit=1&marker={project}&sort=project_id").get_json()
    [after] = body["quotas"]
    assert project < after["project_id"] <= project + "-z"
    assert [link["rel"] for link in body["quotas_links"]] == ["previous", "next"]


def test_list_filters_by_a_limit_under_either_spelling(client, project):
    set_quota(client, project, loadbalancer=123457)
    for key in ("loadbalancer", "load_balancer"):
        quotas = client.get(f"{QUOTAS}?{key}=123457").get_json()["quotas"]
        assert [q["project_id"] for q in quotas] == [project]


@pytest.mark.parametrize("query, message", [
    ("sort=id", "Supplied sort key 'id' is not valid."),
    ("name=x", "One or more arguments are either duplicate or invalid"),
    ("marker=no-such-project", "Supplied pagination marker 'no-such-project' is not valid."),
])
def test_bad_list_options_are_400(client, query, message):
    resp = client.get(f"{QUOTAS}?{query}")
    assert (resp.status_code, fault(resp)) == (400, message)


# Enforcement: when.

def test_not_enforced_under_plain_noauth(client, project):
    set_quota(client, project, loadbalancer=0)
    assert client.post(LBS, lb_body(project)).status_code == 201


def test_enforced_under_keystone(app, client, project):
    set_quota(client, project, loadbalancer=0)
    member = {"X-Identity-Status": "Confirmed", "X-Project-Id": project, "X-Roles": "member"}
    with support.overridden(app, **{"api_settings.auth_strategy": "keystone"}):
        resp = client.post(LBS, lb_body(project), headers=member)
    assert met(resp, "Load Balancer")


def test_first_check_stores_an_empty_record(client, project, enforcing):
    client.create_lb(project)
    assert client.get(f"{QUOTAS}?project_id={project}").get_json()["quotas"] == \
        [quota_body(project)]


# Enforcement: every resource and path.

def test_load_balancer_quota_is_enforced(client, project, enforcing):
    set_quota(client, project, loadbalancer=1)
    client.create_lb(project)
    resp = client.post(LBS, lb_body(project))
    assert met(resp, "Load Balancer")
    assert len(listed_lbs(client, project)) == 1


def test_zero_allows_none(client, project, enforcing):
    set_quota(client, project, loadbalancer=0)
    assert met(client.post(LBS, lb_body(project)), "Load Balancer")
    assert listed_lbs(client, project) == []


def test_default_quota_applies_until_the_project_has_its_own(app, client, project, enforcing):
    other = project + "-b"
    set_quota(client, project, loadbalancer=-1)
    with support.overridden(app, **{"quotas.default_load_balancer_quota": 0}):
        allowed = client.post(LBS, lb_body(project))
        refused = client.post(LBS, lb_body(other))
    assert allowed.status_code == 201
    assert met(refused, "Load Balancer")


def test_unlimited_is_unlimited(client, project, enforcing):
    set_quota(client, project, listener=-1)
    lb = client.create_lb(project)
    for port in range(80, 85):
        support.create_listener(client, lb, port=port)
    assert len(client.get(f"/v2/lbaas/listeners?loadbalancer_id={lb['id']}")
               .get_json()["listeners"]) == 5


def _listener(client, lb, n):
    return client.post(support.LISTENERS, support.listener_body(lb["id"], port=80 + n))


def _pool(client, lb, n):
    return client.post(POOLS, pool_body(lb))


def _healthmonitor(client, lb, n):
    pool = make_pool(client, lb)  # one monitor per pool: each needs a pool of its own
    return client.post(HMS, {"healthmonitor": {"pool_id": pool["id"], "type": "TCP",
                                               "delay": 3, "timeout": 2, "max_retries": 2}})


def _member(client, lb, n):
    pools = client.get(f"{POOLS}?loadbalancer_id={lb['id']}").get_json()["pools"]
    pool_id = pools[0]["id"] if pools else make_pool(client, lb)["id"]
    return client.post(f"{POOLS}/{pool_id}/members",
                       {"member": {"address": f"10.1.0.{n + 1}", "protocol_port": 80}})


CHILDREN = {
    "listener": (_listener, "Listener"),
    "pool": (_pool, "Pool"),
    "healthmonitor": (_healthmonitor, "Health Monitor"),
    "member": (_member, "Member"),
}


@pytest.mark.parametrize("resource", CHILDREN)
def test_child_quota_is_enforced(client, project, enforcing, resource):
    create, name = CHILDREN[resource]
    set_quota(client, project, **{resource: 2})
    lb = client.create_lb(project)
    codes = []
    for n in range(3):
        resp = create(client, lb, n)
        codes.append(resp.status_code)
        settle(client, lb)
    assert codes[:2] == [201, 201]
    assert met(resp, name)


@pytest.mark.parametrize("resource", CHILDREN)
def test_refused_child_leaves_the_load_balancer_active(client, project, enforcing, resource):
    create, name = CHILDREN[resource]
    lb = client.create_lb(project)
    if resource == "member":
        make_pool(client, lb)
    set_quota(client, project, **{resource: 0})
    assert met(create(client, lb, 0), name)
    assert client.get(f"{LBS}/{lb['id']}").get_json()["loadbalancer"][
        "provisioning_status"] == "ACTIVE"


def test_quota_counts_the_project_across_load_balancers(client, project, enforcing):
    set_quota(client, project, listener=1)
    first, second = client.create_lb(project), client.create_lb(project)
    support.create_listener(client, first)
    assert met(_listener(client, second, 0), "Listener")


def test_quotas_of_other_projects_do_not_count(client, project, enforcing):
    set_quota(client, project, loadbalancer=1)
    client.create_lb(project + "-other")
    assert client.post(LBS, lb_body(project)).status_code == 201


# Graph create.

def _graph(project, pools=1, listeners=1, members=1, monitors=True):
    defs = [{"name": f"p{i}", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
             "members": [{"address": f"10.2.{i}.{m + 1}", "protocol_port": 80}
                         for m in range(members)],
             **({"healthmonitor": {"type": "TCP", "delay": 3, "timeout": 2, "max_retries": 2}}
                if monitors else {})}
            for i in range(pools)]
    lis = [{"protocol": "HTTP", "protocol_port": 80 + i,
            **({"default_pool": {"name": f"p{i}"}} if i < pools else {})}
           for i in range(listeners)]
    return lb_body(project, pools=defs, listeners=lis)


@pytest.mark.parametrize("limits, name", [
    ({"loadbalancer": 0}, "Load Balancer"),
    ({"pool": 1}, "Pool"),
    ({"listener": 1}, "Listener"),
    ({"healthmonitor": 1}, "Health Monitor"),
    ({"member": 3}, "Member"),
])
def test_graph_create_counts_every_object(client, project, enforcing, limits, name):
    set_quota(client, project, **limits)
    resp = client.post(LBS, _graph(project, pools=2, listeners=2, members=2))
    assert met(resp, name)
    assert listed_lbs(client, project) == []


def test_graph_create_at_the_limits_succeeds(client, project, enforcing):
    set_quota(client, project, loadbalancer=1, pool=2, listener=2, healthmonitor=2, member=4)
    resp = client.post(LBS, _graph(project, pools=2, listeners=2, members=2))
    assert resp.status_code == 201, resp.get_json()
    lb = settle(client, resp.get_json()["loadbalancer"])
    assert met(client.post(POOLS, pool_body(lb)), "Pool")


def test_graph_create_counts_existing_usage(client, project, enforcing):
    set_quota(client, project, member=3)
    client.create_lb(project, **_graph(project, members=2)["loadbalancer"])
    assert met(client.post(LBS, _graph(project, members=2)), "Member")


def test_graph_names_the_first_resource_over_in_octavias_order(client, project, enforcing):
    set_quota(client, project, member=0, listener=0, pool=0)
    assert met(client.post(LBS, _graph(project)), "Pool")


def test_graph_pool_defined_inline_is_counted(client, project, enforcing):
    set_quota(client, project, pool=0)
    body = lb_body(project, listeners=[{
        "protocol": "HTTP", "protocol_port": 80,
        "default_pool": {"name": "inline", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}}])
    assert met(client.post(LBS, body), "Pool")


def test_invalid_graph_is_still_400_at_the_limit(client, project, enforcing):
    set_quota(client, project, pool=0)
    body = lb_body(project, pools=[{"protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}])
    resp = client.post(LBS, body)
    assert (resp.status_code, fault(resp)) == (400, "Validation failure: Pools must be named "
                                                    "when creating a fully populated "
                                                    "loadbalancer.")


# Batch member update.

@pytest.fixture
def batch_pool(client, project):
    lb = client.create_lb(project)
    return lb, make_pool(client, lb)


def _batch(client, pool, addresses, additive=False):
    path = f"{POOLS}/{pool['id']}/members" + ("?additive_only=true" if additive else "")
    return client.put(path, {"members": [{"address": a, "protocol_port": 80}
                                         for a in addresses]})


def _addresses(client, pool):
    members = client.get(f"{POOLS}/{pool['id']}/members").get_json()["members"]
    return sorted(m["address"] for m in members)


def test_batch_counts_the_members_it_adds(client, project, enforcing, batch_pool):
    lb, pool = batch_pool
    set_quota(client, project, member=2)
    assert met(_batch(client, pool, ["10.3.0.1", "10.3.0.2", "10.3.0.3"]), "Member")
    assert _batch(client, pool, ["10.3.0.1", "10.3.0.2"]).status_code == 202
    settle(client, lb)
    assert _addresses(client, pool) == ["10.3.0.1", "10.3.0.2"]


def test_batch_counts_adds_net_of_removals(client, project, enforcing, batch_pool):
    lb, pool = batch_pool
    set_quota(client, project, member=2)
    assert _batch(client, pool, ["10.3.0.1", "10.3.0.2"]).status_code == 202
    settle(client, lb)
    # Replace one member by another, keep one: net zero at the limit.
    assert _batch(client, pool, ["10.3.0.1", "10.3.0.9"]).status_code == 202
    settle(client, lb)
    assert _addresses(client, pool) == ["10.3.0.1", "10.3.0.9"]
    # One more than it removes: over.
    assert met(_batch(client, pool, ["10.3.0.7", "10.3.0.8", "10.3.0.9"]), "Member")


def test_additive_batch_counts_every_new_member(client, project, enforcing, batch_pool):
    lb, pool = batch_pool
    set_quota(client, project, member=2)
    assert _batch(client, pool, ["10.3.0.1"]).status_code == 202
    settle(client, lb)
    assert met(_batch(client, pool, ["10.3.0.2", "10.3.0.3"], additive=True), "Member")
    assert _batch(client, pool, ["10.3.0.2"], additive=True).status_code == 202
    settle(client, lb)
    assert _addresses(client, pool) == ["10.3.0.1", "10.3.0.2"]


def test_batch_that_only_updates_passes_a_full_quota(client, project, enforcing, batch_pool):
    lb, pool = batch_pool
    assert _batch(client, pool, ["10.3.0.1"]).status_code == 202
    settle(client, lb)
    set_quota(client, project, member=0)
    assert _batch(client, pool, ["10.3.0.1"]).status_code == 202


def test_batch_that_shrinks_the_pool_passes_an_exceeded_quota(client, project, enforcing,
                                                               batch_pool):
    lb, pool = batch_pool
    assert _batch(client, pool, ["10.3.0.1", "10.3.0.2"]).status_code == 202
    settle(client, lb)
    set_quota(client, project, member=0)  # now over: 2 in use
    assert _batch(client, pool, ["10.3.0.1"]).status_code == 202
    settle(client, lb)
    assert _addresses(client, pool) == ["10.3.0.1"]


# Release of usage.

def test_usage_is_released_when_the_load_balancer_is_deleted(client, project, enforcing):
    set_quota(client, project, loadbalancer=1)
    lb = client.create_lb(project)
    assert client.delete(f"{LBS}/{lb['id']}").status_code == 204
    client.wait(f"{LBS}/{lb['id']}", "loadbalancer", "DELETED")
    assert client.post(LBS, lb_body(project)).status_code == 201


def test_usage_is_held_until_the_driver_reports_deleted(app, client, project, enforcing,
                                                        freeze):
    set_quota(client, project, loadbalancer=1)
    lb = client.create_lb(project)
    freeze()
    assert client.delete(f"{LBS}/{lb['id']}").status_code == 204
    assert met(client.post(LBS, lb_body(project)), "Load Balancer")  # PENDING_DELETE counts
    app.extensions["lbaas_core"].library.update_loadbalancer_status(
        {"loadbalancers": [{"id": lb["id"], "provisioning_status": "DELETED"}]})
    assert client.post(LBS, lb_body(project)).status_code == 201


def test_children_of_a_deleted_load_balancer_are_released(client, project, enforcing):
    set_quota(client, project, pool=1, member=1)
    lb = client.create_lb(project, **_graph(project, listeners=0, monitors=False)["loadbalancer"])
    assert client.delete(f"{LBS}/{lb['id']}?cascade=true").status_code == 204
    client.wait(f"{LBS}/{lb['id']}", "loadbalancer", "DELETED")
    resp = client.post(LBS, _graph(project, listeners=0, monitors=False))
    assert resp.status_code == 201, resp.get_json()


@pytest.mark.parametrize("resource", CHILDREN)
def test_usage_of_a_child_is_released_when_it_is_deleted(client, project, enforcing,
                                                          resource):
    create, _ = CHILDREN[resource]
    set_quota(client, project, **{resource: 1})
    lb = client.create_lb(project)
    resp = create(client, lb, 0)
    assert resp.status_code == 201, resp.get_json()
    [(key, obj)] = resp.get_json().items()
    settle(client, lb)
    if resource == "member":
        pool_id = client.get(f"{POOLS}?loadbalancer_id={lb['id']}").get_json()["pools"][0]["id"]
        path = f"{POOLS}/{pool_id}/members/{obj['id']}"
    else:
        path = f"/v2/lbaas/{key}s/{obj['id']}"
    assert client.delete(path).status_code == 204
    settle(client, lb)
    assert client.get(path).status_code == 404
    assert create(client, lb, 1).status_code == 201


def test_usage_counts_rows_not_stored_counters(app, client, project, enforcing):
    """A row removed behind the API's back (e.g. by a purge) frees its place at once."""
    set_quota(client, project, loadbalancer=1)
    lb = client.create_lb(project)
    with support.db(app).write() as session:
        session.delete(session.get(models.LoadBalancer, lb["id"]))
    assert client.post(LBS, lb_body(project)).status_code == 201


# Concurrency: the check and the insert are one transaction, serialised per project.

def _storm(app, requests):
    """Send the requests from one thread each, all released at once; returns the answers."""
    gate = threading.Barrier(len(requests))
    answers = [None] * len(requests)

    def send(i, method, path, body):
        client = ApiClient(app.test_client())
        gate.wait(timeout=30)
        try:
            resp = getattr(client, method)(path, body)
            answers[i] = (resp.status_code, resp.get_json())
        except Exception as exc:  # recorded and asserted on, never lost in the thread
            answers[i] = ("exception", repr(exc))

    threads = [threading.Thread(target=send, args=(i, *r)) for i, r in enumerate(requests)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return answers


@pytest.mark.parametrize("stored", [True, False], ids=["stored-quota", "default-quota"])
def test_concurrent_load_balancer_creates_never_exceed_the_quota(app, client, project,
                                                                  enforcing, stored):
    """16 creates at once against 10: from a stored record, or racing to create it."""
    if stored:
        set_quota(client, project, loadbalancer=10)
    with support.overridden(app, **{"quotas.default_load_balancer_quota": 10}):
        answers = _storm(app, [("post", LBS, lb_body(project, name=f"c{i}"))
                               for i in range(16)])
    assert sorted(a[0] for a in answers) == [201] * 10 + [403] * 6, answers
    assert {body["faultstring"] for code, body in answers if code == 403} == \
        {"Quota has been met for resources: Load Balancer"}
    assert len(listed_lbs(client, project)) == 10


def test_concurrent_member_creates_never_exceed_the_quota(app, client, project, enforcing):
    lbs = [client.create_lb(project, **_graph(project, listeners=0, members=0,
                                              monitors=False)["loadbalancer"])
           for _ in range(16)]
    set_quota(client, project, member=10)
    answers = _storm(app, [("post", f"{POOLS}/{lb['pools'][0]['id']}/members",
                            {"member": {"address": "10.4.0.1", "protocol_port": 80}})
                           for lb in lbs])
    assert sorted(a[0] for a in answers) == [201] * 10 + [403] * 6, answers
    with support.db(app).write() as session:
        stored = session.query(models.Member).filter_by(project_id=project).count()
    assert stored == 10
