"""Updates and deletes racing a delete on PostgreSQL and MariaDB: 404 or 409, never a 5xx.

A provider's DELETED report removes the object and unlocks its load balancer in one
transaction. An update or delete that read the object before that commit and locks the
load balancer after it would change a row that is gone. Two tests, both with real threads
on a real PostgreSQL and a real MariaDB:

* each update and delete path, made deterministic: a transaction standing for the report
  holds the load balancer and has deleted the object; the request starts, and once it
  waits on a lock the report commits;
* the storm the bug was found with: eight clients updating one object while two delete
  it, the noop provider reporting DELETED from its own thread, over a threaded HTTP server.
"""
import collections
import threading
import time
import uuid

import pytest
import requests
from sqlalchemy import text, update
from werkzeug.serving import make_server

from lbaas.core import constants as c
from lbaas.core import models
from tests.conftest import SERVER_FIXTURES, ApiClient, database_url, make_conf

ALLOWED = {200, 202, 204, 404, 409}


@pytest.fixture(scope="module", params=list(SERVER_FIXTURES))
def race_app(request):
    """The API on a fresh database of its own on each database server."""
    from lbaas.api import create_app
    application = create_app(make_conf(database_url(request.param, request, "race")))
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture(scope="module")
def race_client(race_app):
    """A test client of the app, for set-up and waiting."""
    return ApiClient(race_app.test_client())


class World:
    """One load balancer with a listener, a pool and an L7 policy; makes raced objects."""

    def __init__(self, client):
        self.client = client
        self.lb = client.create_lb("p-race-" + uuid.uuid4().hex[:8])["id"]
        self.ports = iter(range(10000, 60000))
        self.listener = self._make("listeners", "listener", self._listener())
        self.pool = self._make("pools", "pool", self._pool())
        self.policy = self._make("l7policies", "l7policy", {"listener_id": self.listener,
                                                            "action": "REJECT"})

    def _listener(self):
        return {"loadbalancer_id": self.lb, "protocol": "HTTP", "protocol_port": next(self.ports)}

    def _pool(self):
        return {"loadbalancer_id": self.lb, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}

    def _make(self, collection, key, body, parent_url=None):
        return self.client.create(collection, key, body, self.lb, parent_url)["id"]

    def make(self, kind):
        """A new ACTIVE object of the kind: (model, id, URL, a valid update body)."""
        if kind == "loadbalancer":
            lb = self.client.create_lb("p-race-" + uuid.uuid4().hex[:8])
            return (models.LoadBalancer, lb["id"], f"/v2/lbaas/loadbalancers/{lb['id']}",
                    {"loadbalancer": {"name": "raced"}})
        if kind == "listener":
            object_id = self._make("listeners", "listener", self._listener())
            return (models.Listener, object_id, f"/v2/lbaas/listeners/{object_id}",
                    {"listener": {"connection_limit": 7}})
        if kind == "pool":
            object_id = self._make("pools", "pool", self._pool())
            return models.Pool, object_id, f"/v2/lbaas/pools/{object_id}", {"pool": {"name": "x"}}
        if kind == "member":
            url = f"/v2/lbaas/pools/{self.pool}/members"
            object_id = self._make(None, "member", {"address": "192.0.2.7",
                                                    "protocol_port": next(self.ports)}, url)
            return models.Member, object_id, f"{url}/{object_id}", {"member": {"weight": 3}}
        if kind == "healthmonitor":
            pool = self._make("pools", "pool", self._pool())
            object_id = self._make("healthmonitors", "healthmonitor", {
                "pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3})
            return (models.HealthMonitor, object_id, f"/v2/lbaas/healthmonitors/{object_id}",
                    {"healthmonitor": {"delay": 6}})
        if kind == "l7policy":
            object_id = self._make("l7policies", "l7policy", {"listener_id": self.listener,
                                                              "action": "REJECT"})
            return (models.L7Policy, object_id, f"/v2/lbaas/l7policies/{object_id}",
                    {"l7policy": {"name": "raced"}})
        url = f"/v2/lbaas/l7policies/{self.policy}/rules"
        object_id = self._make(None, "rule", {"type": "PATH", "compare_type": "EQUAL_TO",
                                              "value": "/race"}, url)
        return models.L7Rule, object_id, f"{url}/{object_id}", {"rule": {"value": "/raced"}}


@pytest.fixture(scope="module")
def world(race_client):
    """The raced objects' parents, made once."""
    return World(race_client)


# How many sessions of the database wait for a lock, and how long to wait between looks:
# InnoDB's information_schema tables are a cache, refreshed only when nobody read it for
# 0.1 s, so looking more often would show the same snapshot forever.
LOCK_WAITERS = {
    "postgresql": ("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                   "AND datname = current_database()", 0.01),
    "mysql": ("SELECT count(*) FROM information_schema.INNODB_TRX t "
              "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
              "WHERE t.trx_state = 'LOCK WAIT' AND p.DB = DATABASE()", 0.15),
}


def _lock_waiters(db):
    """How many sessions of this database wait for a lock right now, and the pause to make
    before looking again."""
    with db.read() as session:
        query, pause = LOCK_WAITERS[session.get_bind().dialect.name]
        return session.scalar(text(query)), pause


def _deleted_report(db, model, object_id, lb_id, ready, commit):
    """What a DELETED report does, held open: the object gone, its load balancer unlocked."""
    with db.write() as session:
        lb = models.LoadBalancer
        status = c.DELETED if model is lb else c.ACTIVE
        session.execute(update(lb).where(lb.id == lb_id).values(provisioning_status=status))
        if model is not lb:
            session.delete(session.get(model, object_id))
        session.flush()
        ready.set()
        assert commit.wait(30), "the test never let the report commit"


KINDS = ("loadbalancer", "listener", "pool", "member", "healthmonitor", "l7policy", "l7rule")


def _during_deleted_report(app, model, object_id, lb_id, url, method, body):
    """Send a request while a report of the object's deletion is held open; let the report
    commit once the request waits on a lock; return the answer."""
    db = app.extensions["lbaas_core"].db
    ready, commit = threading.Event(), threading.Event()
    report = threading.Thread(target=_deleted_report,
                              args=(db, model, object_id, lb_id, ready, commit))
    report.start()
    answer = {}
    try:
        assert ready.wait(30)
        client = app.test_client()
        request = threading.Thread(target=lambda: answer.update(
            resp=client.open(url, method=method, json=body)))
        request.start()
        deadline = time.monotonic() + 30
        while True:
            waiters, pause = _lock_waiters(db)
            if waiters:
                break
            assert time.monotonic() < deadline and request.is_alive(), answer
            time.sleep(pause)
    finally:
        commit.set()
        report.join(30)
    request.join(30)
    return answer["resp"]


@pytest.mark.parametrize("method", ["PUT", "DELETE"])
@pytest.mark.parametrize("kind", KINDS)
def test_write_that_waits_for_a_deleted_report_is_404(race_app, world, kind, method):
    """An update or delete that starts while its object's deletion is reported answers 404."""
    model, object_id, url, body = world.make(kind)
    lb_id = object_id if model is models.LoadBalancer else world.lb
    resp = _during_deleted_report(race_app, model, object_id, lb_id, url, method,
                                  body if method == "PUT" else None)
    assert resp.status_code == 404, (resp.status_code, resp.get_json())
    assert resp.get_json()["faultcode"] == "Client"


def _parent_and_create(world, kind):
    """A new ACTIVE parent for a create of the kind: (model, id, its load balancer's id,
    the create URL, a valid create body)."""
    if kind in ("listener", "pool"):
        lb = world.client.create_lb("p-race-" + uuid.uuid4().hex[:8])["id"]
        body = world._listener() if kind == "listener" else world._pool()
        body["loadbalancer_id"] = lb
        return models.LoadBalancer, lb, lb, f"/v2/lbaas/{kind}s", {kind: body}
    if kind in ("member", "healthmonitor"):
        pool = world._make("pools", "pool", world._pool())
        if kind == "member":
            return (models.Pool, pool, world.lb, f"/v2/lbaas/pools/{pool}/members",
                    {"member": {"address": "192.0.2.8", "protocol_port": 80}})
        return (models.Pool, pool, world.lb, "/v2/lbaas/healthmonitors", {"healthmonitor": {
            "pool_id": pool, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}})
    if kind == "l7policy":
        listener = world._make("listeners", "listener", world._listener())
        return (models.Listener, listener, world.lb, "/v2/lbaas/l7policies",
                {"l7policy": {"listener_id": listener, "action": "REJECT"}})
    policy = world._make("l7policies", "l7policy", {"listener_id": world.listener,
                                                    "action": "REJECT"})
    return (models.L7Policy, policy, world.lb, f"/v2/lbaas/l7policies/{policy}/rules",
            {"rule": {"type": "PATH", "compare_type": "EQUAL_TO", "value": "/race"}})


@pytest.mark.parametrize("kind", KINDS[1:])
def test_create_that_waits_for_its_parents_deleted_report_is_404(race_app, world, kind):
    """A create under a parent whose deletion is being reported answers 404, as it does
    once the parent is long gone, and adds nothing."""
    model, parent_id, lb_id, url, body = _parent_and_create(world, kind)
    resp = _during_deleted_report(race_app, model, parent_id, lb_id, url, "POST", body)
    later = race_app.test_client().post(url, json=body)
    assert (resp.status_code, later.status_code) == (404, 404), resp.get_json()
    assert resp.get_json() == later.get_json()


# The storm: eight updaters and two deleters per round; the bug report's 30 rounds on
# listeners (68 answers were 500 before the fix), fewer on pools (100 in 30 rounds).
UPDATERS = 8
DELETERS = 2
ROUNDS = {"listener": 30, "pool": 15}
ROUND_DEADLINE = 30.0


@pytest.fixture(scope="module")
def base(race_app):
    """The app served by werkzeug's threaded server on 127.0.0.1; yields its base URL."""
    srv = make_server("127.0.0.1", 0, race_app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, name="race-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


def _race(base, url, body):
    """Updaters and deleters on one object at once; returns a (method, code) Counter and
    the answers outside ALLOWED."""
    codes = collections.Counter()
    unexpected = []
    lock = threading.Lock()
    start = threading.Barrier(UPDATERS + DELETERS)
    deadline = time.monotonic() + ROUND_DEADLINE

    def send(http, method):
        resp = http.request(method, base + url, json=body if method == "PUT" else None,
                            timeout=60)
        with lock:
            codes[(method, resp.status_code)] += 1
            if resp.status_code not in ALLOWED:
                unexpected.append((method, url, resp.status_code, resp.text[:300]))
        return resp.status_code

    def updater():
        http = requests.Session()
        start.wait()
        while time.monotonic() < deadline and send(http, "PUT") != 404:
            pass

    def deleter():
        http = requests.Session()
        start.wait()
        while time.monotonic() < deadline and send(http, "DELETE") not in (204, 404):
            time.sleep(0.001)

    threads = [threading.Thread(target=updater) for _ in range(UPDATERS)]
    threads += [threading.Thread(target=deleter) for _ in range(DELETERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=ROUND_DEADLINE + 30)
    return codes, unexpected


@pytest.mark.parametrize("kind", list(ROUNDS))
def test_update_storm_racing_a_delete_is_never_a_server_error(base, race_client, world, kind):
    """8 updaters vs 2 deleters, round after round: only 2xx, 404 and 409, and the object
    ends gone each time."""
    totals = collections.Counter()
    unexpected = []
    for _ in range(ROUNDS[kind]):
        _, _, url, body = world.make(kind)
        codes, bad = _race(base, url, body)
        totals.update(codes)
        unexpected += bad
        assert race_client.get(url).status_code == 404, f"{url} survived its delete"
        race_client.wait(f"/v2/lbaas/loadbalancers/{world.lb}", "loadbalancer")
    assert unexpected == [], (totals, unexpected[:5])
    # The race was real: updates were refused while the delete held the load balancer, and
    # every round ended with each updater seeing the object gone.
    assert totals[("PUT", 409)] > 0 and totals[("PUT", 404)] >= UPDATERS * ROUNDS[kind]
    assert totals[("DELETE", 204)] == ROUNDS[kind]
