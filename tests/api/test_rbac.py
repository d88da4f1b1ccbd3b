"""Octavia's access model under auth_strategy=keystone, in-process, on SQLite and PostgreSQL.

The app is built with authenticate=False, so it trusts the identity headers auth_token
would have set (X-Identity-Status: Confirmed, X-Project-Id, X-User-Id, X-Roles). Every
resource and action is tried by readers, members and admins of the owning project and of
another one, by a caller without roles and by a service user.
"""
import json
import uuid

import pytest
from sqlalchemy import select
from oslo_policy import opts as policy_opts

from lbaas.api import create_app
from lbaas.core import models
from tests.api.support import db, fault
from tests.conftest import ApiClient, database_url, make_conf

V2 = "/v2/lbaas"
LBS = f"{V2}/loadbalancers"
FORBIDDEN = {"faultcode": "Client",
             "faultstring": "Policy does not allow this request to be performed.",
             "debuginfo": None}
QUOTA_MET = "Quota has been met for resources: %s"


class _Identity:
    """Flask's test client sending one caller's identity headers with every request."""

    def __init__(self, raw, headers):
        self.raw = raw
        self.headers = headers

    def _call(self, method, url, headers=None, **kw):
        return getattr(self.raw, method)(url, headers={**self.headers, **(headers or {})},
                                         **kw)

    def get(self, url, **kw):
        return self._call("get", url, **kw)

    def post(self, url, **kw):
        return self._call("post", url, **kw)

    def put(self, url, **kw):
        return self._call("put", url, **kw)

    def delete(self, url, **kw):
        return self._call("delete", url, **kw)


def caller(app, roles, project):
    """A client acting as a user with these roles in a project (None: a token without one)."""
    headers = {"X-Identity-Status": "Confirmed", "X-User-Id": f"user-{uuid.uuid4().hex[:8]}",
               "X-Roles": ",".join(roles)}
    if project is not None:
        headers["X-Project-Id"] = project
    return ApiClient(_Identity(app.test_client(), headers))


def keystone_app(url, policy_file=None):
    """The API under keystone, trusting the identity headers (no auth_token in front)."""
    conf = make_conf(url, **{"api_settings.auth_strategy": "keystone"})
    if policy_file:
        for group, options in policy_opts.list_opts():
            conf.register_opts(options, group=group)
        conf.set_override("policy_file", policy_file, group="oslo_policy")
    return create_app(conf, authenticate=False)


@pytest.fixture(scope="module")
def kapp(backend, request):
    application = keystone_app(database_url(backend, request, "rbac"))
    yield application
    application.extensions["lbaas_core"].close()


def build(client, project=None):
    """A load balancer with one of each child object, all ACTIVE; returns their ids."""
    body = {"vip_subnet_id": str(uuid.uuid4())}
    if project:
        body["project_id"] = project
    lb = client.post(LBS, {"loadbalancer": body})
    assert lb.status_code == 201, lb.get_json()
    lb_id = lb.get_json()["loadbalancer"]["id"]
    client.wait(f"{LBS}/{lb_id}", "loadbalancer")
    ids = {"lb": lb_id}
    ids["listener"] = client.create("listeners", "listener", {
        "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}, lb_id)["id"]
    ids["pool"] = client.create("pools", "pool", {
        "loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
        lb_id)["id"]
    ids["member"] = client.create(None, "member", {"address": "192.0.2.10",
                                                   "protocol_port": 80}, lb_id,
                                  parent_url=f"{V2}/pools/{ids['pool']}/members")["id"]
    ids["healthmonitor"] = client.create("healthmonitors", "healthmonitor", {
        "pool_id": ids["pool"], "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3},
        lb_id)["id"]
    ids["l7policy"] = client.create("l7policies", "l7policy", {
        "listener_id": ids["listener"], "action": "REJECT"}, lb_id)["id"]
    ids["l7rule"] = client.create(None, "rule", {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/a"}, lb_id,
        parent_url=f"{V2}/l7policies/{ids['l7policy']}/rules")["id"]
    return ids


class World:
    """Two projects, each with a full load balancer; an admin's flavor, zone and amphora."""

    def __init__(self, app):
        self.app = app
        self.a = "pa-" + uuid.uuid4().hex[:10]
        self.b = "pb-" + uuid.uuid4().hex[:10]
        self.admin = caller(app, ["admin"], "admin-" + uuid.uuid4().hex[:6])
        self.ids = build(caller(app, ["member"], self.a))
        self.other = build(caller(app, ["member"], self.b))
        admin = self.admin
        fp = admin.post(f"{V2}/flavorprofiles", {"flavorprofile": {
            "name": "fp", "provider_name": "noop", "flavor_data": "{}"}})
        assert fp.status_code == 201, fp.get_json()
        self.flavorprofile = fp.get_json()["flavorprofile"]["id"]
        flavor = admin.post(f"{V2}/flavors", {"flavor": {
            "name": "f-" + uuid.uuid4().hex[:8], "flavor_profile_id": self.flavorprofile}})
        self.flavor = flavor.get_json()["flavor"]["id"]
        azp = admin.post(f"{V2}/availabilityzoneprofiles", {"availability_zone_profile": {
            "name": "azp", "provider_name": "noop", "availability_zone_data": "{}"}})
        assert azp.status_code == 201, azp.get_json()
        self.azprofile = azp.get_json()["availability_zone_profile"]["id"]
        self.az = "az-" + uuid.uuid4().hex[:8]
        resp = admin.post(f"{V2}/availabilityzones", {"availability_zone": {
            "name": self.az, "availability_zone_profile_id": self.azprofile}})
        assert resp.status_code == 201, resp.get_json()
        self.amphora = models.new_id()
        with db(app).write() as session:
            session.add(models.Amphora(id=self.amphora, loadbalancer_id=self.ids["lb"],
                                       status="ERROR", role="STANDALONE"))
        self.callers = {
            "reader": caller(app, ["reader"], self.a),
            "member": caller(app, ["member"], self.a),
            "admin-elsewhere": self.admin,
            "reader-elsewhere": caller(app, ["reader"], self.b),
            "member-elsewhere": caller(app, ["member"], self.b),
            "no-roles": caller(app, [], self.a),
            "service": caller(app, ["service"], "services"),
        }

    def url(self, template):
        """A URL template filled with this world's project-a ids."""
        return template.format(a=self.a, flavor=self.flavor, fp=self.flavorprofile,
                               az=self.az, azp=self.azprofile, amp=self.amphora, **self.ids)


@pytest.fixture(scope="module")
def world(kapp):
    return World(kapp)


CALLERS = ("reader", "member", "admin-elsewhere", "reader-elsewhere", "member-elsewhere",
           "no-roles", "service")
# Who may read: an object of project a; the caller's own project's things (flavors...);
# admin-only things; members of a pool (read, or the service role).
OBJECT = {"reader", "member", "admin-elsewhere"}
OWN = OBJECT | {"reader-elsewhere", "member-elsewhere"}
ADMIN = {"admin-elsewhere"}
SERVICE = OBJECT | {"service"}
WRITERS = {"member", "admin-elsewhere"}

READS = [
    ("/v2/lbaas/loadbalancers/{lb}", OBJECT),
    ("/v2/lbaas/loadbalancers/{lb}/stats", OBJECT),
    ("/v2/lbaas/loadbalancers/{lb}/status", OBJECT),
    ("/v2/lbaas/loadbalancers/{lb}/statuses", OBJECT),
    ("/v2/lbaas/listeners/{listener}", OBJECT),
    ("/v2/lbaas/listeners/{listener}/stats", OBJECT),
    ("/v2/lbaas/pools/{pool}", OBJECT),
    ("/v2/lbaas/pools/{pool}/members", SERVICE),
    ("/v2/lbaas/pools/{pool}/members/{member}", OBJECT),
    ("/v2/lbaas/healthmonitors/{healthmonitor}", OBJECT),
    ("/v2/lbaas/l7policies/{l7policy}", OBJECT),
    ("/v2/lbaas/l7policies/{l7policy}/rules", OBJECT),
    ("/v2/lbaas/l7policies/{l7policy}/rules/{l7rule}", OBJECT),
    ("/v2/lbaas/quotas/{a}", OBJECT),
    ("/v2/lbaas/quotas/{a}/default", OBJECT),
    ("/v2/lbaas/quotas/defaults", ADMIN),
    ("/v2/lbaas/providers", OWN),
    ("/v2/lbaas/providers/noop/flavor_capabilities", ADMIN),
    ("/v2/lbaas/providers/noop/availability_zone_capabilities", ADMIN),
    ("/v2/lbaas/flavors", OWN),
    ("/v2/lbaas/flavors/{flavor}", OWN),
    ("/v2/flavors/{flavor}", OWN),
    ("/v2/lbaas/availabilityzones", OWN),
    ("/v2/lbaas/availabilityzones/{az}", OWN),
    ("/v2/lbaas/flavorprofiles", ADMIN),
    ("/v2/lbaas/flavorprofiles/{fp}", ADMIN),
    ("/v2/lbaas/availabilityzoneprofiles", ADMIN),
    ("/v2/lbaas/availabilityzoneprofiles/{azp}", ADMIN),
    ("/v2/octavia/amphorae", ADMIN),
    ("/v2/octavia/amphorae/{amp}", ADMIN),
    ("/v2/octavia/amphorae/{amp}/stats", ADMIN),  # allowed: 404, it has no stats yet
]


@pytest.mark.parametrize("who", CALLERS)
@pytest.mark.parametrize("template, allowed", READS, ids=[r[0] for r in READS])
def test_read(world, template, allowed, who):
    resp = world.callers[who].get(world.url(template))
    if who in allowed:
        assert resp.status_code in (200, 404), resp.get_json()
        assert resp.status_code == 200 or template.endswith("/stats")
    else:
        assert resp.status_code == 403, resp.get_json()
        assert resp.get_json() == FORBIDDEN


# Writes refused: nothing happens, whatever the body would have done.

DENIED_WRITES = [
    ("post", LBS, {"loadbalancer": {"vip_subnet_id": "{uuid}", "project_id": "{a}"}}, WRITERS),
    ("put", "/v2/lbaas/loadbalancers/{lb}", {"loadbalancer": {"name": "x"}}, WRITERS),
    ("delete", "/v2/lbaas/loadbalancers/{lb}", None, WRITERS),
    ("put", "/v2/lbaas/loadbalancers/{lb}/failover", None, ADMIN),
    ("post", "/v2/lbaas/listeners", {"listener": {"loadbalancer_id": "{lb}", "protocol": "HTTP",
                                                  "protocol_port": 81}}, WRITERS),
    ("put", "/v2/lbaas/listeners/{listener}", {"listener": {"name": "x"}}, WRITERS),
    ("delete", "/v2/lbaas/listeners/{listener}", None, WRITERS),
    ("post", "/v2/lbaas/pools", {"pool": {"loadbalancer_id": "{lb}", "protocol": "HTTP",
                                          "lb_algorithm": "ROUND_ROBIN"}}, WRITERS),
    ("put", "/v2/lbaas/pools/{pool}", {"pool": {"name": "x"}}, WRITERS),
    ("delete", "/v2/lbaas/pools/{pool}", None, WRITERS),
    ("post", "/v2/lbaas/pools/{pool}/members", {"member": {"address": "192.0.2.11",
                                                           "protocol_port": 80}}, WRITERS),
    ("put", "/v2/lbaas/pools/{pool}/members", {"members": []}, WRITERS),
    ("put", "/v2/lbaas/pools/{pool}/members/{member}", {"member": {"weight": 2}}, WRITERS),
    ("delete", "/v2/lbaas/pools/{pool}/members/{member}", None, WRITERS),
    ("post", "/v2/lbaas/healthmonitors", {"healthmonitor": {
        "pool_id": "{pool}", "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}},
     WRITERS),
    ("put", "/v2/lbaas/healthmonitors/{healthmonitor}", {"healthmonitor": {"delay": 6}},
     WRITERS),
    ("delete", "/v2/lbaas/healthmonitors/{healthmonitor}", None, WRITERS),
    ("post", "/v2/lbaas/l7policies", {"l7policy": {"listener_id": "{listener}",
                                                   "action": "REJECT"}}, WRITERS),
    ("put", "/v2/lbaas/l7policies/{l7policy}", {"l7policy": {"name": "x"}}, WRITERS),
    ("delete", "/v2/lbaas/l7policies/{l7policy}", None, WRITERS),
    ("post", "/v2/lbaas/l7policies/{l7policy}/rules", {"rule": {
        "type": "PATH", "compare_type": "STARTS_WITH", "value": "/b"}}, WRITERS),
    ("put", "/v2/lbaas/l7policies/{l7policy}/rules/{l7rule}", {"rule": {"value": "/c"}},
     WRITERS),
    ("delete", "/v2/lbaas/l7policies/{l7policy}/rules/{l7rule}", None, WRITERS),
    ("put", "/v2/lbaas/quotas/{a}", {"quota": {"loadbalancer": 0}}, ADMIN),
    ("delete", "/v2/lbaas/quotas/{a}", None, ADMIN),
    ("post", "/v2/lbaas/flavors", {"flavor": {"name": "n", "flavor_profile_id": "{fp}"}},
     ADMIN),
    ("put", "/v2/lbaas/flavors/{flavor}", {"flavor": {"description": "x"}}, ADMIN),
    ("delete", "/v2/lbaas/flavors/{flavor}", None, ADMIN),
    ("post", "/v2/lbaas/flavorprofiles", {"flavorprofile": {
        "name": "n", "provider_name": "noop", "flavor_data": "{{}}"}}, ADMIN),
    ("put", "/v2/lbaas/flavorprofiles/{fp}", {"flavorprofile": {"name": "x"}}, ADMIN),
    ("delete", "/v2/lbaas/flavorprofiles/{fp}", None, ADMIN),
    ("post", "/v2/lbaas/availabilityzones", {"availability_zone": {
        "name": "n", "availability_zone_profile_id": "{azp}"}}, ADMIN),
    ("put", "/v2/lbaas/availabilityzones/{az}", {"availability_zone": {"description": "x"}},
     ADMIN),
    ("delete", "/v2/lbaas/availabilityzones/{az}", None, ADMIN),
    ("post", "/v2/lbaas/availabilityzoneprofiles", {"availability_zone_profile": {
        "name": "n", "provider_name": "noop", "availability_zone_data": "{{}}"}}, ADMIN),
    ("put", "/v2/lbaas/availabilityzoneprofiles/{azp}", {"availability_zone_profile": {
        "name": "x"}}, ADMIN),
    ("delete", "/v2/lbaas/availabilityzoneprofiles/{azp}", None, ADMIN),
    ("put", "/v2/octavia/amphorae/{amp}/failover", None, ADMIN),
    ("put", "/v2/octavia/amphorae/{amp}/config", None, ADMIN),
    ("delete", "/v2/octavia/amphorae/{amp}", None, ADMIN),
]


def _fill(world, value):
    if isinstance(value, dict):
        return {k: _fill(world, v) for k, v in value.items()}
    if isinstance(value, str):
        return world.url(value.replace("{uuid}", str(uuid.uuid4())))
    return value


def _snapshot(app, project):
    """Every row of the project (and of the catalog) a denied write could touch."""
    def rows(session, model):
        stmt = select(model)
        if hasattr(model, "project_id"):
            stmt = stmt.where(model.project_id == project)
        return sorted(json.dumps({c.name: str(getattr(r, c.name))
                                  for c in model.__table__.columns}, sort_keys=True)
                      for r in session.scalars(stmt))
    with db(app).read() as session:
        return {model.__name__: rows(session, model)
                for model in (models.LoadBalancer, models.Listener, models.Pool, models.Member,
                          models.HealthMonitor, models.L7Policy, models.L7Rule, models.Quota,
                          models.Flavor, models.FlavorProfile, models.AvailabilityZone,
                          models.AvailabilityZoneProfile, models.Amphora)}


# The allowed pairs are exercised by the lifecycle tests below.
DENIED = [(w[0], w[1], w[2], who) for w in DENIED_WRITES for who in CALLERS if who not in w[3]]


@pytest.mark.parametrize("method, template, body, who", DENIED,
                         ids=[f"{d[0]} {d[1]}-{d[3]}" for d in DENIED])
def test_write_denied(kapp, world, method, template, body, who):
    before = _snapshot(kapp, world.a)
    client = world.callers[who]
    kw = {} if body is None else {"json": _fill(world, body)}
    resp = getattr(client.raw, method)(world.url(template), **kw)
    assert resp.status_code == 403, resp.get_json()
    assert resp.get_json() == FORBIDDEN
    assert _snapshot(kapp, world.a) == before


# Writes allowed: the whole life of each object, by a member and by another project's admin.

def _lifecycle(client, project):
    ids = build(client, project)
    lb_url = f"{LBS}/{ids['lb']}"
    updates = [
        (f"{V2}/l7policies/{ids['l7policy']}/rules/{ids['l7rule']}", "rule", {"value": "/z"}),
        (f"{V2}/l7policies/{ids['l7policy']}", "l7policy", {"name": "p2"}),
        (f"{V2}/healthmonitors/{ids['healthmonitor']}", "healthmonitor", {"delay": 7}),
        (f"{V2}/pools/{ids['pool']}/members/{ids['member']}", "member", {"weight": 3}),
        (f"{V2}/pools/{ids['pool']}", "pool", {"name": "pool2"}),
        (f"{V2}/listeners/{ids['listener']}", "listener", {"name": "l2"}),
        (lb_url, "loadbalancer", {"name": "lb2"}),
    ]
    for url, key, change in updates:
        resp = client.put(url, {key: change})
        assert resp.status_code == 200, (url, resp.get_json())
        client.wait(lb_url, "loadbalancer")
        assert client.wait(url, key)[next(iter(change))] == next(iter(change.values()))
    resp = client.put(f"{V2}/pools/{ids['pool']}/members", {"members": [
        {"address": "192.0.2.10", "protocol_port": 80}, {"address": "192.0.2.12",
                                                         "protocol_port": 80}]})
    assert resp.status_code == 202, resp.get_json()
    client.wait(lb_url, "loadbalancer")
    for url, _, _ in updates[:-1]:
        resp = client.delete(url)
        assert resp.status_code == 204, (url, resp.get_json())
        client.wait(lb_url, "loadbalancer")
    assert client.delete(lb_url).status_code == 204
    client.wait(lb_url, "loadbalancer", status="DELETED")
    return ids


def test_a_member_manages_everything_of_their_project(kapp):
    project = "pm-" + uuid.uuid4().hex[:8]
    _lifecycle(caller(kapp, ["member"], project), None)


def test_an_admin_manages_another_projects_objects(kapp):
    project = "pm-" + uuid.uuid4().hex[:8]
    admin = caller(kapp, ["admin"], "admin-project")
    ids = build(caller(kapp, ["member"], project))
    member = caller(kapp, ["member"], project)
    for url, key in ((f"{V2}/listeners/{ids['listener']}", "listener"),
                     (f"{V2}/pools/{ids['pool']}/members/{ids['member']}", "member")):
        assert admin.put(url, {key: {"name": "by-admin"}}).status_code == 200
        member.wait(f"{LBS}/{ids['lb']}", "loadbalancer")
        assert member.get(url).get_json()[key]["name"] == "by-admin"
    _lifecycle(admin, project)


def test_an_admin_fails_a_load_balancer_over(kapp):
    project = "pf-" + uuid.uuid4().hex[:8]
    member = caller(kapp, ["member"], project)
    lb = member.create_lb(project)
    url = f"{LBS}/{lb['id']}/failover"
    assert member.put(url).status_code == 403
    assert caller(kapp, ["admin"], "elsewhere").put(url).status_code == 202
    member.wait(f"{LBS}/{lb['id']}", "loadbalancer")


def test_an_admin_manages_the_catalog(kapp):
    admin = caller(kapp, ["admin"], "admin-project")
    reader = caller(kapp, ["reader"], "some-project")
    fp = admin.post(f"{V2}/flavorprofiles", {"flavorprofile": {
        "name": "fp", "provider_name": "noop", "flavor_data": "{}"}}).get_json()
    fp_id = fp["flavorprofile"]["id"]
    flavor = admin.post(f"{V2}/flavors", {"flavor": {"name": "f-" + uuid.uuid4().hex[:8],
                                                     "flavor_profile_id": fp_id}})
    assert flavor.status_code == 201
    flavor_id = flavor.get_json()["flavor"]["id"]
    assert reader.get(f"{V2}/flavors/{flavor_id}").status_code == 200
    assert admin.put(f"{V2}/flavors/{flavor_id}", {"flavor": {
        "description": "d"}}).status_code == 200
    assert admin.put(f"{V2}/flavorprofiles/{fp_id}", {"flavorprofile": {
        "name": "fp2"}}).status_code == 200
    assert admin.delete(f"{V2}/flavors/{flavor_id}").status_code == 204
    assert admin.delete(f"{V2}/flavorprofiles/{fp_id}").status_code == 204


def test_an_admin_manages_amphorae(kapp, world):
    admin = world.admin
    assert admin.put(world.url("/v2/octavia/amphorae/{amp}/config")).status_code == 202
    assert world.amphora in [a["id"] for a in admin.get(
        world.url("/v2/octavia/amphorae?project_id={a}")).get_json()["amphorae"]]


# 404 before 403: a foreign object that does not exist is a 404, one that does a 403.

MISSING = [
    ("get", "/v2/lbaas/loadbalancers/{id}"),
    ("put", "/v2/lbaas/loadbalancers/{id}"),
    ("delete", "/v2/lbaas/loadbalancers/{id}"),
    ("get", "/v2/lbaas/loadbalancers/{id}/stats"),
    ("get", "/v2/lbaas/loadbalancers/{id}/status"),
    ("put", "/v2/lbaas/loadbalancers/{id}/failover"),
    ("get", "/v2/lbaas/listeners/{id}"),
    ("delete", "/v2/lbaas/listeners/{id}"),
    ("get", "/v2/lbaas/pools/{id}"),
    ("get", "/v2/lbaas/pools/{id}/members"),
    ("get", "/v2/lbaas/pools/{pool}/members/{id}"),
    ("get", "/v2/lbaas/healthmonitors/{id}"),
    ("get", "/v2/lbaas/l7policies/{id}"),
    ("get", "/v2/lbaas/l7policies/{id}/rules"),
    ("get", "/v2/lbaas/l7policies/{l7policy}/rules/{id}"),
]
BODIES = {"/v2/lbaas/loadbalancers/{id}": {"loadbalancer": {"name": "x"}}}


@pytest.mark.parametrize("method, template", MISSING, ids=[f"{m} {t}" for m, t in MISSING])
def test_missing_is_404_before_policy(world, method, template):
    stranger = world.callers["member-elsewhere"]
    kw = {"json": BODIES[template]} if method == "put" and template in BODIES else {}
    missing = world.url(template.replace("{id}", str(uuid.uuid4())))
    assert getattr(stranger.raw, method)(missing, **kw).status_code == 404
    present = world.url(template.replace("{id}", "{%s}" % _key(template)))
    assert getattr(stranger.raw, method)(present, **kw).status_code == 403


def _key(template):
    """The world id a template's {id} stands for."""
    for prefix, key in (("/rules/", "l7rule"), ("/members/", "member"), ("/l7policies/",
                        "l7policy"), ("/healthmonitors/", "healthmonitor"),
                        ("/pools/", "pool"), ("/listeners/", "listener"),
                        ("/loadbalancers/", "lb")):
        if f"{prefix}{{id}}" in template:
            return key
    raise AssertionError(template)


def test_a_listener_create_on_a_missing_load_balancer_is_404(world):
    resp = world.callers["member-elsewhere"].post(f"{V2}/listeners", {"listener": {
        "loadbalancer_id": str(uuid.uuid4()), "protocol": "HTTP", "protocol_port": 82}})
    assert resp.status_code == 404


# Lists: narrowed to the token's project unless the caller may list globally.

COLLECTIONS = [("loadbalancers", "lb"), ("listeners", "listener"), ("pools", "pool"),
               ("healthmonitors", "healthmonitor"), ("l7policies", "l7policy")]


def _listed(client, url, key):
    resp = client.get(url)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()[key]


@pytest.mark.parametrize("collection, key", COLLECTIONS)
@pytest.mark.parametrize("who", ["reader", "member"])
def test_a_list_shows_only_the_token_project(world, collection, key, who):
    items = _listed(world.callers[who], f"{V2}/{collection}", collection)
    ids = {i["id"] for i in items}
    assert world.ids[key] in ids and world.other[key] not in ids
    assert {i["project_id"] for i in items} == {world.a}


@pytest.mark.parametrize("collection, key", COLLECTIONS)
def test_an_admin_lists_every_project(world, collection, key):
    ids = {i["id"] for i in _listed(world.admin, f"{V2}/{collection}", collection)}
    assert {world.ids[key], world.other[key]} <= ids


@pytest.mark.parametrize("collection, key", COLLECTIONS)
def test_an_admin_may_narrow_to_one_project(world, collection, key):
    items = _listed(world.admin, f"{V2}/{collection}?project_id={world.b}", collection)
    assert world.other[key] in {i["id"] for i in items}
    assert {i["project_id"] for i in items} == {world.b}


@pytest.mark.parametrize("collection, key", COLLECTIONS)
def test_asking_for_another_project_is_403(world, collection, key):
    resp = world.callers["reader"].get(f"{V2}/{collection}?project_id={world.b}")
    assert resp.status_code == 403
    assert resp.get_json() == FORBIDDEN


@pytest.mark.parametrize("collection, key", COLLECTIONS)
def test_asking_for_the_own_project_is_allowed(world, collection, key):
    items = _listed(world.callers["reader"], f"{V2}/{collection}?project_id={world.a}",
                    collection)
    assert world.ids[key] in {i["id"] for i in items}


@pytest.mark.parametrize("collection", [c for c, _ in COLLECTIONS] + ["quotas"])
@pytest.mark.parametrize("who", ["no-roles", "service"])
def test_no_read_role_no_list(world, collection, who):
    assert world.callers[who].get(f"{V2}/{collection}").status_code == 403


def test_a_token_without_project_cannot_list(kapp):
    assert caller(kapp, ["reader"], None).get(LBS).status_code == 403


def test_narrowing_survives_pagination(world):
    client = world.callers["reader"]
    first = client.get(f"{LBS}?limit=1").get_json()["loadbalancers"]
    assert [lb["id"] for lb in first] == [world.ids["lb"]]
    after = client.get(f"{LBS}?limit=1&marker={world.ids['lb']}").get_json()["loadbalancers"]
    assert after == []  # project a has no other load balancer; b's stay hidden


# Creates take the token's project.

def test_a_create_without_project_takes_the_token_project(kapp):
    project = "pc-" + uuid.uuid4().hex[:8]
    member = caller(kapp, ["member"], project)
    resp = member.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4())}})
    assert resp.status_code == 201
    assert resp.get_json()["loadbalancer"]["project_id"] == project


def test_a_member_cannot_create_in_another_project(kapp):
    member = caller(kapp, ["member"], "pc-" + uuid.uuid4().hex[:8])
    resp = member.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "project_id": "someone-else"}})
    assert (resp.status_code, resp.get_json()) == (403, FORBIDDEN)


def test_an_admin_creates_in_any_project(kapp):
    target = "pc-" + uuid.uuid4().hex[:8]
    resp = caller(kapp, ["admin"], "admin-project").post(LBS, {"loadbalancer": {
        "vip_subnet_id": str(uuid.uuid4()), "project_id": target}})
    assert resp.status_code == 201
    assert resp.get_json()["loadbalancer"]["project_id"] == target


def test_no_project_anywhere_is_400(kapp):
    resp = caller(kapp, ["admin"], None).post(LBS, {"loadbalancer": {
        "vip_subnet_id": str(uuid.uuid4())}})
    assert resp.status_code == 400
    assert fault(resp).startswith("Missing project ID in request where one is required.")


def test_a_child_created_by_an_admin_belongs_to_the_load_balancer_project(world):
    resp = world.admin.post(f"{V2}/pools", {"pool": {
        "loadbalancer_id": world.ids["lb"], "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}})
    assert resp.status_code == 201, resp.get_json()
    pool = resp.get_json()["pool"]
    assert pool["project_id"] == world.a
    world.admin.wait(f"{LBS}/{world.ids['lb']}", "loadbalancer")
    assert world.admin.delete(f"{V2}/pools/{pool['id']}").status_code == 204
    world.admin.wait(f"{LBS}/{world.ids['lb']}", "loadbalancer")


def test_unconfirmed_identity_is_refused(kapp):
    raw = kapp.test_client()
    resp = raw.get(LBS, headers={"X-Identity-Status": "Invalid", "X-Roles": "admin",
                                 "X-Project-Id": "p"})
    assert (resp.status_code, resp.get_json()) == (403, FORBIDDEN)


# Quotas under keystone: enforced, and their own rules.

def test_quotas_are_enforced_under_keystone(kapp):
    project = "pq-" + uuid.uuid4().hex[:8]
    admin = caller(kapp, ["admin"], "admin-project")
    member = caller(kapp, ["member"], project)
    assert admin.put(f"{V2}/quotas/{project}", {"quota": {
        "loadbalancer": 1, "listener": 0}}).status_code == 202
    lb = member.create_lb(project)
    resp = member.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4())}})
    assert (resp.status_code, fault(resp)) == (403, QUOTA_MET % "Load Balancer")
    resp = member.post(f"{V2}/listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}})
    assert (resp.status_code, fault(resp)) == (403, QUOTA_MET % "Listener")


def test_a_policy_refusal_comes_before_the_quota_check(kapp):
    project = "pq-" + uuid.uuid4().hex[:8]
    admin = caller(kapp, ["admin"], "admin-project")
    assert admin.put(f"{V2}/quotas/{project}", {"quota": {"loadbalancer": 0}}).status_code \
        == 202
    resp = caller(kapp, ["reader"], project).post(LBS, {"loadbalancer": {
        "vip_subnet_id": str(uuid.uuid4())}})
    assert (resp.status_code, resp.get_json()) == (403, FORBIDDEN)


def test_quota_list_is_narrowed_to_the_token_project(kapp):
    mine, theirs = ("pq-" + uuid.uuid4().hex[:8] for _ in range(2))
    admin = caller(kapp, ["admin"], "admin-project")
    for project in (mine, theirs):
        assert admin.put(f"{V2}/quotas/{project}", {"quota": {"pool": 5}}).status_code == 202
    reader = caller(kapp, ["reader"], mine)
    assert [q["project_id"] for q in _listed(reader, f"{V2}/quotas", "quotas")] == [mine]
    listed = {q["project_id"] for q in _listed(admin, f"{V2}/quotas", "quotas")}
    assert {mine, theirs} <= listed
    assert [q["project_id"] for q in _listed(admin, f"{V2}/quotas?project_id={theirs}",
                                             "quotas")] == [theirs]
    assert reader.get(f"{V2}/quotas?project_id={theirs}").status_code == 403


def test_a_member_reads_but_cannot_change_their_quota(kapp):
    project = "pq-" + uuid.uuid4().hex[:8]
    member = caller(kapp, ["member"], project)
    shown = member.get(f"{V2}/quotas/{project}")
    assert shown.status_code == 200 and shown.get_json()["quota"]["project_id"] == project
    assert member.put(f"{V2}/quotas/{project}", {"quota": {"pool": 1}}).status_code == 403
    assert member.delete(f"{V2}/quotas/{project}").status_code == 403
    assert member.get(f"{V2}/quotas/other-{project}").status_code == 403


# An operator's policy file: rules that only matter when an action is shut on its own.

@pytest.fixture(scope="module")
def tight_app(backend, request, tmp_path_factory):
    """The API with security groups and member deletion shut by the policy file."""
    folder = tmp_path_factory.mktemp("policy")
    (folder / "policy.yaml").write_text(
        '"os_load-balancer_api:loadbalancer:post:vip_sg_ids": "!"\n'
        '"os_load-balancer_api:loadbalancer:put:vip_sg_ids": "!"\n'
        '"os_load-balancer_api:member:delete": "!"\n')
    application = keystone_app(database_url(backend, request, "rbac_tight"),
                               policy_file=str(folder / "policy.yaml"))
    yield application
    application.extensions["lbaas_core"].close()


def test_vip_sg_ids_need_their_own_rule(tight_app):
    project = "ps-" + uuid.uuid4().hex[:8]
    member = caller(tight_app, ["member"], project)
    with_sgs = {"vip_subnet_id": str(uuid.uuid4()), "vip_sg_ids": [str(uuid.uuid4())]}
    resp = member.post(LBS, {"loadbalancer": with_sgs})
    assert (resp.status_code, resp.get_json()) == (403, FORBIDDEN)
    lb = member.create_lb(project)
    url = f"{LBS}/{lb['id']}"
    assert member.put(url, {"loadbalancer": {"vip_sg_ids": []}}).status_code == 403
    assert member.put(url, {"loadbalancer": {"name": "fine"}}).status_code == 200


def test_a_batch_member_update_needs_delete_unless_additive(tight_app):
    member = caller(tight_app, ["member"], "pt-" + uuid.uuid4().hex[:8])
    ids = build(member)
    batch = f"{V2}/pools/{ids['pool']}/members"
    one = {"members": [{"address": "192.0.2.20", "protocol_port": 80}]}
    assert member.put(batch, one).status_code == 403
    assert member.delete(f"{batch}/{ids['member']}").status_code == 403
    assert member.put(f"{batch}?additive_only=true", one).status_code == 202
