"""End to end under auth_strategy = keystone: a real Keystone, real tokens, lbaas as a process.

The cloud (testbed/cloud/keystone.py, fixture `keystone_cloud`): Keystone from PyPI
with SQLite and fernet tokens, bootstrapped by the fixture, and `lbaas serve` registered
in its catalog as `load-balancer` (and as `network`, because lbaas answers the Neutron
subnet lookups the CLI makes). Each user's token is obtained once and sent as
X-Auth-Token.

Who is who (projects alpha, beta, gamma, admin, service; Keystone's implied roles apply,
so admin also holds member and reader, member also holds reader):

    R  alpha-reader    reader on alpha
    M  alpha-member    member on alpha
    O  alpha-observer  a role lbaas does not know ("observer") on alpha
    B  beta-member     member on beta
    A  cloud-admin     admin on the admin project
    S  svc             service on the service project (another OpenStack service)

Expectations come from the access model of spec §2.10: read = reader or member of the
target's project, or admin; write = member of the target's project, or admin; quota
writes, failover, flavor/AZ writes, profiles and amphorae = admin; member lists also
allow role:service; lists are narrowed to the token's project unless the caller may list
globally (admin). A denied call answers 403 with the fault body FORBIDDEN.
"""
import itertools
import json
import subprocess
import uuid

import pytest
import requests
import sqlalchemy
from sqlalchemy.orm import Session

from lbaas.core import models
from lbaas.network.noop import PUBLIC_SUBNET_ID
from testbed.cloud.keystone import REGION, password
from testbed.service import clean_env, venv_command, wait_for

pytestmark = pytest.mark.functional

R, M, O, B, A, S = ("alpha-reader", "alpha-member", "alpha-observer", "beta-member",
                    "cloud-admin", "svc")
ACTORS = (R, M, O, B, A, S)

FORBIDDEN = {"faultcode": "Client",
             "faultstring": "Policy does not allow this request to be performed.",
             "debuginfo": None}

# --- the permission matrix ----------------------------------------------------------------
# Every call targets alpha's objects (creates: inside alpha). A cell is the status each
# caller must get; 403 also means the FORBIDDEN body. For a 200 list, alpha's object must
# be in it exactly when the caller may read alpha (narrowed lists hide it from B).
MATRIX = [
    # resource                 action                  R    M    O    B    A    S
    ("loadbalancer",           "list",                200, 200, 403, 200, 200, 403),
    ("loadbalancer",           "show",                200, 200, 403, 403, 200, 403),
    ("loadbalancer",           "stats",               200, 200, 403, 403, 200, 403),
    ("loadbalancer",           "status",              200, 200, 403, 403, 200, 403),
    ("loadbalancer",           "create",              403, 201, 403, 403, 201, 403),
    ("loadbalancer",           "update",              403, 200, 403, 403, 200, 403),
    ("loadbalancer",           "delete",              403, 204, 403, 403, 204, 403),
    ("loadbalancer",           "failover",            403, 403, 403, 403, 202, 403),
    ("listener",               "list",                200, 200, 403, 200, 200, 403),
    ("listener",               "show",                200, 200, 403, 403, 200, 403),
    ("listener",               "stats",               200, 200, 403, 403, 200, 403),
    ("listener",               "create",              403, 201, 403, 403, 201, 403),
    ("listener",               "update",              403, 200, 403, 403, 200, 403),
    ("listener",               "delete",              403, 204, 403, 403, 204, 403),
    ("pool",                   "list",                200, 200, 403, 200, 200, 403),
    ("pool",                   "show",                200, 200, 403, 403, 200, 403),
    ("pool",                   "create",              403, 201, 403, 403, 201, 403),
    ("pool",                   "update",              403, 200, 403, 403, 200, 403),
    ("pool",                   "delete",              403, 204, 403, 403, 204, 403),
    # members are listed per pool: the pool's project decides; role:service may list
    ("member",                 "list",                200, 200, 403, 403, 200, 200),
    ("member",                 "show",                200, 200, 403, 403, 200, 403),
    ("member",                 "create",              403, 201, 403, 403, 201, 403),
    ("member",                 "update",              403, 200, 403, 403, 200, 403),
    ("member",                 "delete",              403, 204, 403, 403, 204, 403),
    ("member",                 "batch update",        403, 202, 403, 403, 202, 403),
    ("healthmonitor",          "list",                200, 200, 403, 200, 200, 403),
    ("healthmonitor",          "show",                200, 200, 403, 403, 200, 403),
    ("healthmonitor",          "create",              403, 201, 403, 403, 201, 403),
    ("healthmonitor",          "update",              403, 200, 403, 403, 200, 403),
    ("healthmonitor",          "delete",              403, 204, 403, 403, 204, 403),
    ("l7policy",               "list",                200, 200, 403, 200, 200, 403),
    ("l7policy",               "show",                200, 200, 403, 403, 200, 403),
    ("l7policy",               "create",              403, 201, 403, 403, 201, 403),
    ("l7policy",               "update",              403, 200, 403, 403, 200, 403),
    ("l7policy",               "delete",              403, 204, 403, 403, 204, 403),
    # rules are listed per policy: the policy's project decides
    ("l7rule",                 "list",                200, 200, 403, 403, 200, 403),
    ("l7rule",                 "show",                200, 200, 403, 403, 200, 403),
    ("l7rule",                 "create",              403, 201, 403, 403, 201, 403),
    ("l7rule",                 "update",              403, 200, 403, 403, 200, 403),
    ("l7rule",                 "delete",              403, 204, 403, 403, 204, 403),
    ("quota",                  "list",                200, 200, 403, 200, 200, 403),
    ("quota",                  "show",                200, 200, 403, 403, 200, 403),
    ("quota",                  "defaults",            200, 200, 403, 403, 200, 403),
    # /quotas/defaults is "show project `defaults`": nobody's project but admin's reach
    ("quota",                  "global defaults",     403, 403, 403, 403, 200, 403),
    ("quota",                  "update",              403, 403, 403, 403, 202, 403),
    ("quota",                  "delete",              403, 403, 403, 403, 202, 403),
    ("provider",               "list",                200, 200, 403, 200, 200, 403),
    ("provider",               "flavor capabilities", 403, 403, 403, 403, 200, 403),
    ("provider",               "zone capabilities",   403, 403, 403, 403, 200, 403),
    ("flavor",                 "list",                200, 200, 403, 200, 200, 403),
    ("flavor",                 "show",                200, 200, 403, 200, 200, 403),
    ("flavor",                 "create",              403, 403, 403, 403, 201, 403),
    ("flavor",                 "update",              403, 403, 403, 403, 200, 403),
    ("flavor",                 "delete",              403, 403, 403, 403, 204, 403),
    ("flavorprofile",          "list",                403, 403, 403, 403, 200, 403),
    ("flavorprofile",          "show",                403, 403, 403, 403, 200, 403),
    ("flavorprofile",          "create",              403, 403, 403, 403, 201, 403),
    ("flavorprofile",          "update",              403, 403, 403, 403, 200, 403),
    ("flavorprofile",          "delete",              403, 403, 403, 403, 204, 403),
    ("availabilityzone",       "list",                200, 200, 403, 200, 200, 403),
    ("availabilityzone",       "show",                200, 200, 403, 200, 200, 403),
    ("availabilityzone",       "create",              403, 403, 403, 403, 201, 403),
    ("availabilityzone",       "update",              403, 403, 403, 403, 200, 403),
    ("availabilityzone",       "delete",              403, 403, 403, 403, 204, 403),
    ("availabilityzoneprofile", "list",               403, 403, 403, 403, 200, 403),
    ("availabilityzoneprofile", "show",               403, 403, 403, 403, 200, 403),
    ("availabilityzoneprofile", "create",             403, 403, 403, 403, 201, 403),
    ("availabilityzoneprofile", "update",             403, 403, 403, 403, 200, 403),
    ("availabilityzoneprofile", "delete",             403, 403, 403, 403, 204, 403),
    ("amphora",                "list",                403, 403, 403, 403, 200, 403),
    ("amphora",                "show",                403, 403, 403, 403, 200, 403),
    ("amphora",                "stats",               403, 403, 403, 403, 404, 403),  # none kept
    ("amphora",                "config",              403, 403, 403, 403, 202, 403),
    ("amphora",                "failover",            403, 403, 403, 403, 202, 403),
    ("amphora",                "delete",              403, 403, 403, 403, 204, 403),
]

# Lists narrowed to the caller's project (the others are per parent object, or global).
NARROWED = {"loadbalancer", "listener", "pool", "healthmonitor", "l7policy", "quota"}
ALPHA_READERS = {R, M, A}


class Caller:
    """Requests to lbaas carrying one user's token."""

    def __init__(self, url, token):
        self.url = url
        self.session = requests.Session()
        self.session.headers["X-Auth-Token"] = token

    def __call__(self, method, path, body=None, params=None):
        return self.session.request(method, self.url + path, json=body, params=params,
                                    timeout=60)

    def ok(self, method, path, body=None, params=None):
        """A call that must succeed; its JSON body (or None)."""
        resp = self(method, path, body, params)
        assert resp.status_code < 300, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None


class World:
    """The objects the matrix works on: alpha's graph, beta's, the catalog, amphorae."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.callers = {user: Caller(cloud.lbaas_url, cloud.token(user)) for user in ACTORS}
        self.admin = self.callers[A]
        self.alpha = cloud.project_id("alpha")
        self.beta = cloud.project_id("beta")
        self.n = itertools.count(1)
        self.victims = {}  # resource -> path of an object the next allowed delete removes

    # --- building ------------------------------------------------------------------------

    def settle(self, lb_id, timeout=30.0):
        """Wait until a load balancer is ACTIVE again (after a write locked it)."""
        path = f"/v2/lbaas/loadbalancers/{lb_id}"

        def active():
            resp = self.admin("GET", path)
            return resp.status_code == 200 and \
                resp.json()["loadbalancer"]["provisioning_status"] == "ACTIVE"
        wait_for(active, timeout, f"load balancer {lb_id} to be ACTIVE")

    def make(self, collection, key, body, lb_id=None, caller=None):
        """Create an object (as admin unless told), wait for its load balancer; its JSON."""
        made = (caller or self.admin).ok("POST", collection, {key: body})[key]
        if lb_id or key == "loadbalancer":
            self.settle(lb_id or made["id"])
        return made

    def lb(self, project, name):
        return self.make("/v2/lbaas/loadbalancers", "loadbalancer", {
            "name": name, "vip_subnet_id": PUBLIC_SUBNET_ID, "project_id": project})

    def listener(self, lb_id, port=None):
        return self.make("/v2/lbaas/listeners", "listener", {
            "loadbalancer_id": lb_id, "protocol": "HTTP",
            "protocol_port": port or 1000 + next(self.n)}, lb_id)

    def pool(self, lb_id):
        return self.make("/v2/lbaas/pools", "pool", {
            "loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}, lb_id)

    def member(self, pool_id, lb_id):
        return self.make(f"/v2/lbaas/pools/{pool_id}/members", "member",
                         self.member_body(), lb_id)

    def member_body(self):
        n = next(self.n)
        return {"address": f"192.0.2.{n % 250 + 1}", "protocol_port": 1000 + n}

    def healthmonitor(self, pool_id, lb_id):
        return self.make("/v2/lbaas/healthmonitors", "healthmonitor",
                         self.healthmonitor_body(pool_id), lb_id)

    @staticmethod
    def healthmonitor_body(pool_id):
        return {"pool_id": pool_id, "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3}

    def l7policy(self, listener_id, lb_id):
        return self.make("/v2/lbaas/l7policies", "l7policy", {
            "listener_id": listener_id, "action": "REJECT"}, lb_id)

    def l7rule(self, policy_id, lb_id):
        return self.make(f"/v2/lbaas/l7policies/{policy_id}/rules", "rule",
                         self.l7rule_body(), lb_id)

    def l7rule_body(self):
        return {"type": "PATH", "compare_type": "STARTS_WITH", "value": f"/r{next(self.n)}"}

    def flavorprofile(self):
        return self.make("/v2/lbaas/flavorprofiles", "flavorprofile", {
            "name": f"fp-{next(self.n)}", "provider_name": "noop", "flavor_data": "{}"})

    def flavor(self):
        return self.make("/v2/lbaas/flavors", "flavor", {
            "name": f"flavor-{next(self.n)}", "flavor_profile_id": self.ids["flavorprofile"]})

    def azprofile(self):
        return self.make("/v2/lbaas/availabilityzoneprofiles", "availability_zone_profile", {
            "name": f"azp-{next(self.n)}", "provider_name": "noop",
            "availability_zone_data": "{}"})

    def az(self):
        return self.make("/v2/lbaas/availabilityzones", "availability_zone", {
            "name": f"az-{next(self.n)}",
            "availability_zone_profile_id": self.ids["availabilityzoneprofile"]})

    def amphora(self, lb_id, status):
        """An amphora row as the amphora driver would record it (no such driver runs)."""
        engine = sqlalchemy.create_engine(
            f"sqlite:///{self.cloud.lbaas_state}/lbaas.sqlite")
        amphora_id = models.new_id()
        with Session(engine) as session, session.begin():
            session.add(models.Amphora(id=amphora_id, loadbalancer_id=lb_id, status=status,
                                       compute_id=f"vm-{next(self.n)}", role="STANDALONE",
                                       lb_network_ip="10.9.0.5"))
        engine.dispose()
        return amphora_id

    def build(self):
        """Alpha's graph (made by admin for alpha: the matrix tests creation itself), beta's
        load balancer, the catalog objects and an amphora of alpha's."""
        ids = self.ids = {}
        lb = ids["loadbalancer"] = self.lb(self.alpha, "alpha-lb")["id"]
        ids["listener"] = self.listener(lb, 80)["id"]
        ids["pool"] = self.pool(lb)["id"]
        ids["member"] = self.member(ids["pool"], lb)["id"]
        ids["healthmonitor"] = self.healthmonitor(ids["pool"], lb)["id"]
        ids["l7policy"] = self.l7policy(ids["listener"], lb)["id"]
        ids["l7rule"] = self.l7rule(ids["l7policy"], lb)["id"]
        ids["batch pool"] = self.pool(lb)["id"]
        ids["quota"] = self.alpha
        self.admin.ok("PUT", f"/v2/lbaas/quotas/{self.alpha}", {"quota": {"pool": -1}})
        ids["provider"] = "noop"
        ids["flavorprofile"] = self.flavorprofile()["id"]
        ids["flavor"] = self.flavor()["id"]
        ids["availabilityzoneprofile"] = self.azprofile()["id"]
        ids["availabilityzone"] = self.az()["name"]
        # Amphorae on a load balancer of their own: failovers of alpha-lb leave them be.
        ids["amphora lb"] = self.lb(self.alpha, "alpha-amphora-lb")["id"]
        ids["amphora"] = self.amphora(ids["amphora lb"], "ALLOCATED")
        beta_lb = ids["beta lb"] = self.lb(self.beta, "beta-lb")["id"]
        ids["beta listener"] = self.listener(beta_lb, 80)["id"]
        ids["beta pool"] = self.pool(beta_lb)["id"]
        ids["beta healthmonitor"] = self.healthmonitor(ids["beta pool"], beta_lb)["id"]
        ids["beta l7policy"] = self.l7policy(ids["beta listener"], beta_lb)["id"]
        return self


# --- how each resource is reached -----------------------------------------------------------

LBAAS = "/v2/lbaas"


class Kind:
    """Paths and bodies of one resource in the matrix."""

    def __init__(self, collection, item, envelope, listed, create=None, update=None,
                 victim=None, extra=None, lb="loadbalancer"):
        self.collection = collection  # world -> path of the collection
        self.item = item              # world -> path of alpha's object
        self.envelope = envelope      # (singular, plural) body keys
        self.listed = listed          # a listed object -> its identity (id, name, project)
        self.create = create          # world -> (path, body) of a new object in alpha
        self.update = update          # body of an update
        self.victim = victim          # world -> path of a new object to delete
        self.extra = extra or {}      # action -> world -> (method, path, body)
        self.lb = lb                  # world.ids key of the load balancer a write locks


def _by_id(obj):
    return obj["id"]


def _lb_victim(w):
    return f"{LBAAS}/loadbalancers/{w.lb(w.alpha, f'victim-{next(w.n)}')['id']}"


def _hm_create(w):
    pool = w.pool(w.ids["loadbalancer"])["id"]  # one monitor per pool
    return f"{LBAAS}/healthmonitors", {"healthmonitor": w.healthmonitor_body(pool)}


def _hm_victim(w):
    lb = w.ids["loadbalancer"]
    return f"{LBAAS}/healthmonitors/{w.healthmonitor(w.pool(lb)['id'], lb)['id']}"


def _quota_victim(w):
    w.admin.ok("PUT", f"{LBAAS}/quotas/{w.alpha}", {"quota": {"pool": -1}})  # a stored record
    return f"{LBAAS}/quotas/{w.alpha}"


def _amphora_victim(w):
    return f"/v2/octavia/amphorae/{w.amphora(w.ids['amphora lb'], 'ERROR')}"


def _amphora_action(method, suffix):
    return lambda w: (method, f"/v2/octavia/amphorae/{w.ids['amphora']}/{suffix}", None)


def _lb_body(w):
    return {"loadbalancer": {"name": f"made-{next(w.n)}", "vip_subnet_id": PUBLIC_SUBNET_ID,
                             "project_id": w.alpha}}


KINDS = {
    "loadbalancer": Kind(
        lambda w: f"{LBAAS}/loadbalancers",
        lambda w: f"{LBAAS}/loadbalancers/{w.ids['loadbalancer']}",
        ("loadbalancer", "loadbalancers"), _by_id,
        create=lambda w: (f"{LBAAS}/loadbalancers", _lb_body(w)),
        update={"loadbalancer": {"description": "updated"}},
        victim=_lb_victim,
        extra={
            "stats": lambda w: ("GET", f"{LBAAS}/loadbalancers/{w.ids['loadbalancer']}/stats",
                                None),
            "status": lambda w: ("GET", f"{LBAAS}/loadbalancers/{w.ids['loadbalancer']}/status",
                                 None),
            "failover": lambda w: (
                "PUT", f"{LBAAS}/loadbalancers/{w.ids['loadbalancer']}/failover", None),
        }),
    "listener": Kind(
        lambda w: f"{LBAAS}/listeners",
        lambda w: f"{LBAAS}/listeners/{w.ids['listener']}",
        ("listener", "listeners"), _by_id,
        create=lambda w: (f"{LBAAS}/listeners", {"listener": {
            "loadbalancer_id": w.ids["loadbalancer"], "protocol": "HTTP",
            "protocol_port": 1000 + next(w.n)}}),
        update={"listener": {"description": "updated"}},
        victim=lambda w: f"{LBAAS}/listeners/{w.listener(w.ids['loadbalancer'])['id']}",
        extra={"stats": lambda w: ("GET", f"{LBAAS}/listeners/{w.ids['listener']}/stats",
                                   None)}),
    "pool": Kind(
        lambda w: f"{LBAAS}/pools",
        lambda w: f"{LBAAS}/pools/{w.ids['pool']}",
        ("pool", "pools"), _by_id,
        create=lambda w: (f"{LBAAS}/pools", {"pool": {
            "loadbalancer_id": w.ids["loadbalancer"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}}),
        update={"pool": {"description": "updated"}},
        victim=lambda w: f"{LBAAS}/pools/{w.pool(w.ids['loadbalancer'])['id']}"),
    "member": Kind(
        lambda w: f"{LBAAS}/pools/{w.ids['pool']}/members",
        lambda w: f"{LBAAS}/pools/{w.ids['pool']}/members/{w.ids['member']}",
        ("member", "members"), _by_id,
        create=lambda w: (f"{LBAAS}/pools/{w.ids['pool']}/members",
                          {"member": w.member_body()}),
        update={"member": {"name": "updated"}},
        victim=lambda w: (f"{LBAAS}/pools/{w.ids['pool']}/members/"
                          f"{w.member(w.ids['pool'], w.ids['loadbalancer'])['id']}"),
        extra={"batch update": lambda w: (
            "PUT", f"{LBAAS}/pools/{w.ids['batch pool']}/members",
            {"members": [w.member_body()]})}),
    "healthmonitor": Kind(
        lambda w: f"{LBAAS}/healthmonitors",
        lambda w: f"{LBAAS}/healthmonitors/{w.ids['healthmonitor']}",
        ("healthmonitor", "healthmonitors"), _by_id,
        create=_hm_create,
        update={"healthmonitor": {"name": "updated"}},
        victim=_hm_victim),
    "l7policy": Kind(
        lambda w: f"{LBAAS}/l7policies",
        lambda w: f"{LBAAS}/l7policies/{w.ids['l7policy']}",
        ("l7policy", "l7policies"), _by_id,
        create=lambda w: (f"{LBAAS}/l7policies", {"l7policy": {
            "listener_id": w.ids["listener"], "action": "REJECT"}}),
        update={"l7policy": {"name": "updated"}},
        victim=lambda w: (f"{LBAAS}/l7policies/"
                          f"{w.l7policy(w.ids['listener'], w.ids['loadbalancer'])['id']}")),
    "l7rule": Kind(
        lambda w: f"{LBAAS}/l7policies/{w.ids['l7policy']}/rules",
        lambda w: f"{LBAAS}/l7policies/{w.ids['l7policy']}/rules/{w.ids['l7rule']}",
        ("rule", "rules"), _by_id,
        create=lambda w: (f"{LBAAS}/l7policies/{w.ids['l7policy']}/rules",
                          {"rule": w.l7rule_body()}),
        update={"rule": {"value": "/updated"}},
        victim=lambda w: (f"{LBAAS}/l7policies/{w.ids['l7policy']}/rules/"
                          f"{w.l7rule(w.ids['l7policy'], w.ids['loadbalancer'])['id']}")),
    "quota": Kind(
        lambda w: f"{LBAAS}/quotas",
        lambda w: f"{LBAAS}/quotas/{w.alpha}",
        ("quota", "quotas"), lambda q: q["project_id"],
        update={"quota": {"pool": -1}},
        victim=_quota_victim,
        extra={"defaults": lambda w: ("GET", f"{LBAAS}/quotas/{w.alpha}/default", None),
               "global defaults": lambda w: ("GET", f"{LBAAS}/quotas/defaults", None)},
        lb=None),
    "provider": Kind(
        lambda w: f"{LBAAS}/providers", None, ("provider", "providers"),
        lambda p: p["name"],
        extra={"flavor capabilities": lambda w: (
                   "GET", f"{LBAAS}/providers/noop/flavor_capabilities", None),
               "zone capabilities": lambda w: (
                   "GET", f"{LBAAS}/providers/noop/availability_zone_capabilities", None)},
        lb=None),
    "flavor": Kind(
        lambda w: f"{LBAAS}/flavors",
        lambda w: f"{LBAAS}/flavors/{w.ids['flavor']}",
        ("flavor", "flavors"), _by_id,
        create=lambda w: (f"{LBAAS}/flavors", {"flavor": {
            "name": f"flavor-{next(w.n)}", "flavor_profile_id": w.ids["flavorprofile"]}}),
        update={"flavor": {"description": "updated"}},
        victim=lambda w: f"{LBAAS}/flavors/{w.flavor()['id']}", lb=None),
    "flavorprofile": Kind(
        lambda w: f"{LBAAS}/flavorprofiles",
        lambda w: f"{LBAAS}/flavorprofiles/{w.ids['flavorprofile']}",
        ("flavorprofile", "flavorprofiles"), _by_id,
        create=lambda w: (f"{LBAAS}/flavorprofiles", {"flavorprofile": {
            "name": f"fp-{next(w.n)}", "provider_name": "noop", "flavor_data": "{}"}}),
        update={"flavorprofile": {"name": "updated"}},
        victim=lambda w: f"{LBAAS}/flavorprofiles/{w.flavorprofile()['id']}", lb=None),
    "availabilityzone": Kind(
        lambda w: f"{LBAAS}/availabilityzones",
        lambda w: f"{LBAAS}/availabilityzones/{w.ids['availabilityzone']}",
        ("availability_zone", "availability_zones"), lambda z: z["name"],
        create=lambda w: (f"{LBAAS}/availabilityzones", {"availability_zone": {
            "name": f"az-{next(w.n)}",
            "availability_zone_profile_id": w.ids["availabilityzoneprofile"]}}),
        update={"availability_zone": {"description": "updated"}},
        victim=lambda w: f"{LBAAS}/availabilityzones/{w.az()['name']}", lb=None),
    "availabilityzoneprofile": Kind(
        lambda w: f"{LBAAS}/availabilityzoneprofiles",
        lambda w: f"{LBAAS}/availabilityzoneprofiles/{w.ids['availabilityzoneprofile']}",
        ("availability_zone_profile", "availability_zone_profiles"), _by_id,
        create=lambda w: (f"{LBAAS}/availabilityzoneprofiles", {"availability_zone_profile": {
            "name": f"azp-{next(w.n)}", "provider_name": "noop",
            "availability_zone_data": "{}"}}),
        update={"availability_zone_profile": {"name": "updated"}},
        victim=lambda w: f"{LBAAS}/availabilityzoneprofiles/{w.azprofile()['id']}", lb=None),
    "amphora": Kind(
        lambda w: "/v2/octavia/amphorae",
        lambda w: f"/v2/octavia/amphorae/{w.ids['amphora']}",
        ("amphora", "amphorae"), _by_id,
        victim=_amphora_victim,
        extra={"stats": _amphora_action("GET", "stats"),
               "config": _amphora_action("PUT", "config"),
               "failover": _amphora_action("PUT", "failover")},
        lb="amphora lb"),
}


def request_for(world, resource, action):
    """(method, path, body) of one matrix cell; deletes take a fresh victim each time."""
    kind = KINDS[resource]
    if action == "list":
        return "GET", kind.collection(world), None
    if action == "show":
        return "GET", kind.item(world), None
    if action == "create":
        return ("POST", *kind.create(world))
    if action == "update":
        return "PUT", kind.item(world), kind.update
    if action == "delete":
        if resource not in world.victims:
            world.victims[resource] = kind.victim(world)
        return "DELETE", world.victims[resource], None
    return kind.extra[action](world)


@pytest.fixture(scope="module")
def world(keystone_cloud):
    return World(keystone_cloud).build()


def _row_id(row):
    return f"{row[0]}-{row[1].replace(' ', '_')}"


@pytest.mark.parametrize("row", MATRIX, ids=[_row_id(row) for row in MATRIX])
def test_permission_matrix(world, row):
    resource, action, *codes = row
    kind = KINDS[resource]
    wrong = []
    for actor, expected in zip(ACTORS, codes):
        method, path, body = request_for(world, resource, action)
        resp = world.callers[actor](method, path, body)
        got = resp.status_code
        if got != expected:
            wrong.append(f"{actor}: {method} {path} -> {got} (expected {expected}) "
                         f"{resp.text[:300]}")
        elif got == 403 and resp.json() != FORBIDDEN:
            wrong.append(f"{actor}: 403 with body {resp.text[:300]}")
        elif action == "list" and got == 200:
            listed = {kind.listed(obj) for obj in resp.json()[kind.envelope[1]]}
            target = world.ids[resource]
            should_see = actor in ALPHA_READERS if resource in NARROWED else True
            if (target in listed) != should_see:
                wrong.append(f"{actor}: alpha's {resource} {target} "
                             f"{'missing from' if should_see else 'shown in'} the list")
        if method != "GET" and got < 300:
            if action == "delete":
                world.victims.pop(resource, None)
            if kind.lb and not (resource == "loadbalancer" and action == "delete"):
                world.settle(world.ids[kind.lb])
    assert not wrong, f"{resource} {action}:\n" + "\n".join(wrong)


# --- authentication ---------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "not-a-token", "gAAAAABnot-a-fernet-token"],
                         ids=["missing", "garbage", "fernet-shaped"])
def test_401_without_a_valid_token(keystone_cloud, token):
    headers = {"X-Auth-Token": token} if token else {}
    for path in ("/v2/lbaas/loadbalancers", "/v2.0/lbaas/pools", "/v2/octavia/amphorae"):
        resp = requests.get(keystone_cloud.lbaas_url + path, headers=headers, timeout=30)
        assert resp.status_code == 401, (path, resp.status_code, resp.text)
        assert resp.headers["Content-Type"].startswith("application/json")
        assert resp.json()["error"]["code"] == 401  # keystonemiddleware's body, as upstream
        assert resp.headers["WWW-Authenticate"] == f'Keystone uri="{keystone_cloud.auth_url}"'
    resp = requests.post(keystone_cloud.lbaas_url + "/v2/lbaas/loadbalancers", headers=headers,
                         json={"loadbalancer": {"vip_subnet_id": PUBLIC_SUBNET_ID}}, timeout=30)
    assert resp.status_code == 401


def test_version_discovery_needs_no_token(keystone_cloud):
    resp = requests.get(keystone_cloud.lbaas_url + "/", timeout=30)
    assert resp.status_code == 200
    versions = resp.json()["versions"]
    assert versions[-1]["status"] == "CURRENT"
    assert versions[-1]["links"][0]["href"] == keystone_cloud.lbaas_url + "/v2"


def test_forged_identity_headers_are_replaced_by_the_tokens(world):
    """auth_token drops X-Roles/X-Project-Id a caller sends and sets the token's."""
    caller = world.callers[O]
    resp = caller.session.get(f"{world.cloud.lbaas_url}{LBAAS}/loadbalancers", timeout=30,
                              headers={"X-Roles": "admin", "X-Project-Id": world.alpha,
                                       "X-Is-Admin-Project": "True"})
    assert resp.status_code == 403 and resp.json() == FORBIDDEN


# --- project scoping ----------------------------------------------------------------------

OWNED = [  # resource, path template of one object (ids from world.ids)
    ("loadbalancer", "/loadbalancers/{loadbalancer}"),
    ("listener", "/listeners/{listener}"),
    ("pool", "/pools/{pool}"),
    ("member", "/pools/{pool}/members/{member}"),
    ("healthmonitor", "/healthmonitors/{healthmonitor}"),
    ("l7policy", "/l7policies/{l7policy}"),
    ("l7rule", "/l7policies/{l7policy}/rules/{l7rule}"),
]


def test_foreign_objects_are_403_after_the_404_existence_check(world):
    """Existence is checked first (upstream's order): another project's object is 403, an
    object that does not exist is 404 for everybody."""
    beta = world.callers[B]
    for resource, template in OWNED:
        path = LBAAS + template.format(**world.ids)
        resp = beta("GET", path)
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN), (resource, resp.text)
        resp = beta("PUT", path, KINDS[resource].update)
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN), (resource, resp.text)
        resp = beta("DELETE", path)
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN), (resource, resp.text)
        missing = path.rsplit("/", 1)[0] + "/" + str(uuid.uuid4())
        for method in ("GET", "DELETE"):
            resp = beta(method, missing)
            assert resp.status_code == 404, (resource, method, resp.status_code, resp.text)
            assert resp.json()["faultstring"].endswith(" not found."), resp.text


def test_project_less_objects_are_403_before_any_existence_check(world):
    """Flavors, zones, their profiles, quotas and provider capabilities have no owner:
    upstream checks the policy (against the caller's own project) before looking the object
    up, so a caller who may not act gets 403 whether the object exists or not."""
    missing = str(uuid.uuid4())
    for who, method, path, body in [
            (M, "PUT", f"{LBAAS}/flavors/{missing}", {"flavor": {"description": "x"}}),
            (M, "DELETE", f"{LBAAS}/flavors/{missing}", None),
            (O, "GET", f"{LBAAS}/flavors/{missing}", None),
            (M, "GET", f"{LBAAS}/flavorprofiles/{missing}", None),
            (M, "DELETE", f"{LBAAS}/availabilityzones/no-such-zone", None),
            (O, "GET", f"{LBAAS}/availabilityzones/no-such-zone", None),
            (M, "GET", f"{LBAAS}/availabilityzoneprofiles/{missing}", None),
            (M, "DELETE", f"{LBAAS}/quotas/{missing}", None),
            (M, "GET", f"{LBAAS}/providers/no-such-provider/flavor_capabilities", None)]:
        resp = world.callers[who](method, path, body)
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN), (who, method, path,
                                                                      resp.text)
    for method, path in [("GET", f"{LBAAS}/flavors/{missing}"),
                         ("GET", f"{LBAAS}/flavorprofiles/{missing}"),
                         ("DELETE", f"{LBAAS}/availabilityzones/no-such-zone"),
                         ("DELETE", f"{LBAAS}/quotas/{missing}")]:
        assert world.admin(method, path).status_code == 404, (method, path)


TOP_LEVEL = [("loadbalancer", "loadbalancers"), ("listener", "listeners"), ("pool", "pools"),
             ("healthmonitor", "healthmonitors"), ("l7policy", "l7policies")]


def test_lists_are_narrowed_to_the_token_project(world):
    alpha_member, beta_member, admin = world.callers[M], world.callers[B], world.callers[A]
    for resource, plural in TOP_LEVEL:
        path = f"{LBAAS}/{plural}"
        mine = alpha_member.ok("GET", path)[plural]
        assert mine and {o["project_id"] for o in mine} == {world.alpha}, (resource, mine)
        assert world.ids[resource] in {o["id"] for o in mine}
        theirs = beta_member.ok("GET", path)[plural]
        assert {o["project_id"] for o in theirs} == {world.beta}, (resource, theirs)
        everything = admin.ok("GET", path)[plural]
        assert {world.alpha, world.beta} <= {o["project_id"] for o in everything}, resource
        # naming a project: one's own is fine, another's is 403 (admin may)
        assert alpha_member.ok("GET", path, params={"project_id": world.alpha})[plural] == mine
        resp = alpha_member("GET", path, params={"project_id": world.beta})
        assert (resp.status_code, resp.json()) == (403, FORBIDDEN), (resource, resp.text)
        only_beta = admin.ok("GET", path, params={"project_id": world.beta})[plural]
        assert only_beta and {o["project_id"] for o in only_beta} == {world.beta}, resource


def test_quota_lists_are_narrowed_too(world):
    world.admin.ok("PUT", f"{LBAAS}/quotas/{world.beta}", {"quota": {"member": -1}})

    def projects(who, **params):
        listed = world.callers[who].ok("GET", f"{LBAAS}/quotas", params=params or None)
        return {q["project_id"] for q in listed["quotas"]}

    assert projects(M) == {world.alpha}
    assert projects(B) == {world.beta}
    assert {world.alpha, world.beta} <= projects(A)
    assert projects(A, project_id=world.beta) == {world.beta}
    resp = world.callers[R]("GET", f"{LBAAS}/quotas", params={"project_id": world.beta})
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)


def test_create_takes_the_token_project(world):
    member = world.callers[M]
    lb = world.make(f"{LBAAS}/loadbalancers", "loadbalancer",
                    {"name": "mine", "vip_subnet_id": PUBLIC_SUBNET_ID}, caller=member)
    assert lb["project_id"] == world.alpha
    listener = world.make(f"{LBAAS}/listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 22}, lb["id"],
        caller=member)
    assert listener["project_id"] == world.alpha
    # the admin's own objects land in the admin project
    own = world.make(f"{LBAAS}/loadbalancers", "loadbalancer",
                     {"name": "admins", "vip_subnet_id": PUBLIC_SUBNET_ID})
    assert own["project_id"] == world.cloud.project_id("admin")
    # a member cannot create in another project, even by naming it
    resp = member("POST", f"{LBAAS}/loadbalancers", {"loadbalancer": {
        "name": "elsewhere", "vip_subnet_id": PUBLIC_SUBNET_ID, "project_id": world.beta}})
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)
    # nor under another project's load balancer
    resp = world.callers[B]("POST", f"{LBAAS}/pools", {"pool": {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "lb_algorithm": "ROUND_ROBIN"}})
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)


def test_unscoped_token_reaches_nothing(world):
    """A valid token without a project: authenticated, but no project to act in."""
    caller = Caller(world.cloud.lbaas_url, world.cloud.unscoped_token(M))
    resp = caller("GET", f"{LBAAS}/loadbalancers")
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)
    resp = caller("GET", f"{LBAAS}/loadbalancers/{world.ids['loadbalancer']}")
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)


def test_quota_is_enforced_under_keystone(keystone_cloud):
    cloud = keystone_cloud
    gamma = cloud.project_id("gamma")
    admin = Caller(cloud.lbaas_url, cloud.token(A))
    member = Caller(cloud.lbaas_url, cloud.token("gamma-member"))
    quota = admin.ok("PUT", f"{LBAAS}/quotas/{gamma}",
                     {"quota": {"loadbalancer": 1, "listener": 0}})["quota"]
    assert (quota["loadbalancer"], quota["listener"]) == (1, 0)
    assert member.ok("GET", f"{LBAAS}/quotas/{gamma}")["quota"]["loadbalancer"] == 1
    resp = member("PUT", f"{LBAAS}/quotas/{gamma}", {"quota": {"loadbalancer": 5}})
    assert (resp.status_code, resp.json()) == (403, FORBIDDEN)  # members cannot raise it

    body = {"loadbalancer": {"name": "gamma-1", "vip_subnet_id": PUBLIC_SUBNET_ID}}
    first = member.ok("POST", f"{LBAAS}/loadbalancers", body)["loadbalancer"]
    assert first["project_id"] == gamma
    resp = member("POST", f"{LBAAS}/loadbalancers", body)
    assert resp.status_code == 403, resp.text
    assert resp.json() == {"faultcode": "Client", "debuginfo": None,
                           "faultstring": "Quota has been met for resources: Load Balancer"}
    wait_for(lambda: member("GET", f"{LBAAS}/loadbalancers/{first['id']}").json()
             ["loadbalancer"]["provisioning_status"] == "ACTIVE", 30, "gamma-1 ACTIVE")
    resp = member("POST", f"{LBAAS}/listeners", {"listener": {
        "loadbalancer_id": first["id"], "protocol": "HTTP", "protocol_port": 80}})
    assert resp.status_code == 403, resp.text
    assert resp.json()["faultstring"] == "Quota has been met for resources: Listener"
    # the quota binds gamma only: the admin, acting for gamma, is held to it as well
    resp = admin("POST", f"{LBAAS}/loadbalancers", {"loadbalancer": {
        "name": "gamma-2", "vip_subnet_id": PUBLIC_SUBNET_ID, "project_id": gamma}})
    assert resp.status_code == 403 and "Quota has been met" in resp.text, resp.text
    admin.ok("PUT", f"{LBAAS}/quotas/{gamma}", {"quota": {"loadbalancer": 2}})
    member.ok("POST", f"{LBAAS}/loadbalancers", body)


# --- the openstack CLI and openstacksdk with password auth, through the catalog -------------

class PasswordCli:
    """`openstack` with password auth: lbaas and the subnet lookups found in the catalog."""

    def __init__(self, cloud, user, project):
        self.base = [venv_command("openstack"), "--os-auth-url", cloud.auth_url,
                     "--os-identity-api-version", "3",
                     "--os-username", user, "--os-password", password(user),
                     "--os-project-name", project, "--os-user-domain-name", "Default",
                     "--os-project-domain-name", "Default", "--os-region-name", REGION]
        self.env = clean_env()

    def run(self, *args):
        proc = subprocess.run(self.base + list(args), env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=180, check=False)
        return proc.returncode, proc.stdout, proc.stderr

    def json(self, *args):
        code, out, err = self.run(*args, "-f", "json")
        assert code == 0, f"openstack {' '.join(args)} exited {code}:\n{err}{out}"
        return json.loads(out)


def test_cli_with_password_auth_finds_lbaas_in_the_catalog(world):
    cloud = world.cloud
    member = PasswordCli(cloud, M, "alpha")
    lb = member.json("loadbalancer", "create", "--name", "cli-lb",
                     "--vip-subnet-id", PUBLIC_SUBNET_ID)
    assert (lb["name"], lb["project_id"]) == ("cli-lb", world.alpha)
    world.settle(lb["id"])
    listed = member.json("loadbalancer", "list")
    assert "cli-lb" in {x["name"] for x in listed}
    assert {x["project_id"] for x in listed} == {world.alpha}
    shown = member.json("loadbalancer", "show", "cli-lb")
    assert (shown["id"], shown["provisioning_status"]) == (lb["id"], "ACTIVE")

    code, out, err = PasswordCli(cloud, R, "alpha").run(
        "loadbalancer", "create", "--name", "refused", "--vip-subnet-id", PUBLIC_SUBNET_ID)
    assert code != 0 and "Policy does not allow this request" in err + out, err + out
    beta = PasswordCli(cloud, B, "beta").json("loadbalancer", "list")
    assert "cli-lb" not in {x["name"] for x in beta}


def test_sdk_with_password_auth(world):
    from openstack import connection, exceptions

    def connect(user, project):
        return connection.Connection(
            auth_type="password", region_name=REGION, identity_api_version="3",
            auth={"auth_url": world.cloud.auth_url, "username": user,
                  "password": password(user), "project_name": project,
                  "user_domain_name": "Default", "project_domain_name": "Default"})

    member = connect(M, "alpha")
    lb = member.load_balancer.create_load_balancer(name="sdk-lb",
                                                   vip_subnet_id=PUBLIC_SUBNET_ID)
    assert lb.project_id == world.alpha
    lb = member.load_balancer.wait_for_load_balancer(lb.id, interval=0.05, wait=60)
    names = {x.name for x in member.load_balancer.load_balancers()}
    assert {"sdk-lb", "alpha-lb"} <= names and "beta-lb" not in names
    reader = connect(R, "alpha")
    assert reader.load_balancer.get_load_balancer(lb.id).name == "sdk-lb"
    with pytest.raises(exceptions.ForbiddenException):
        reader.load_balancer.update_load_balancer(lb.id, description="no")
    with pytest.raises(exceptions.ForbiddenException):
        connect(B, "beta").load_balancer.get_load_balancer(lb.id)
    member.load_balancer.delete_load_balancer(lb.id)
    member.load_balancer.wait_for_delete(lb, interval=0.05, wait=60)
