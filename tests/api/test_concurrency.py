"""Many clients writing listeners of one load balancer at once, over a real threaded HTTP server.

Every answer must be a success or a 409 (the load balancer is busy), and when
the dust settles the database must say exactly what the successful answers said.
"""
import collections
import threading
import time
import uuid

import pytest
import requests
from werkzeug.serving import make_server

from tests.conftest import ApiClient

THREADS = 16
CYCLES = 1  # create, update, delete per cycle; then one last create that stays
DEADLINE = 120.0


@pytest.fixture(scope="module")
def server(app):
    """The app served by werkzeug's threaded server on 127.0.0.1; yields its base URL."""
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, name="api-server", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.server_port}"
    srv.shutdown()
    thread.join(timeout=10)


class Worker:
    """One client: creates, updates and deletes its own listeners, retrying on 409."""

    def __init__(self, base, lb_id, index, deadline):
        self.base = base
        self.lb_id = lb_id
        self.index = index
        self.deadline = deadline
        self.http = requests.Session()
        self.codes = collections.Counter()
        self.unexpected = []
        self.created = []
        self.deleted = []

    def _send(self, method, path, body=None):
        resp = self.http.request(method, self.base + path, json=body, timeout=60)
        self.codes[resp.status_code] += 1
        if not (200 <= resp.status_code < 300 or resp.status_code == 409):
            self.unexpected.append((method, path, resp.status_code, resp.text[:300]))
        return resp

    def _until_active(self):
        """Poll the load balancer until it is ACTIVE again (the condition a 409 waits for)."""
        while time.monotonic() < self.deadline:
            resp = self._send("GET", f"/v2/lbaas/loadbalancers/{self.lb_id}")
            if resp.status_code == 200 and \
                    resp.json()["loadbalancer"]["provisioning_status"] == "ACTIVE":
                return
            time.sleep(0.02)

    def _until_success(self, method, path, body=None):
        """Repeat a write until it succeeds; None if it never did before the deadline."""
        while time.monotonic() < self.deadline:
            resp = self._send(method, path, body)
            if resp.status_code != 409:
                return resp if resp.ok else None
            self._until_active()
        return None

    def _create(self, port):
        body = {"listener": {"loadbalancer_id": self.lb_id, "protocol": "HTTP",
                             "protocol_port": port, "name": f"w{self.index}-{port}"}}
        resp = self._until_success("POST", "/v2/lbaas/listeners", body)
        if resp is not None:
            self.created.append(resp.json()["listener"]["id"])
            return self.created[-1]
        return None

    def run(self):
        """Do the cycles; every failure is recorded, never raised."""
        try:
            for cycle in range(CYCLES + 1):
                listener_id = self._create(20000 + self.index * 10 + cycle)
                if listener_id is None or cycle == CYCLES:
                    continue
                path = f"/v2/lbaas/listeners/{listener_id}"
                self._until_success("PUT", path, {"listener": {"connection_limit": cycle + 7}})
                if self._until_success("DELETE", path) is not None:
                    self.deleted.append(listener_id)
        except Exception as exc:  # a dropped connection or a bad body is a finding
            self.unexpected.append(("exception", repr(exc)))

    @property
    def alive(self):
        """Listeners this worker created and did not delete."""
        return [i for i in self.created if i not in self.deleted]


def _run_workers(base, lb_id):
    deadline = time.monotonic() + DEADLINE
    workers = [Worker(base, lb_id, i, deadline) for i in range(THREADS)]
    threads = [threading.Thread(target=w.run, name=f"client-{w.index}") for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=DEADLINE + 30)
    return workers


@pytest.fixture(scope="module")
def stormed(app, server):
    """A load balancer after THREADS clients wrote listeners on it at once (once per backend)."""
    lb = ApiClient(app.test_client()).create_lb("p-storm-" + uuid.uuid4().hex[:8])
    workers = _run_workers(server, lb["id"])
    return lb, workers


def test_every_answer_is_success_or_conflict(stormed):
    """No request of the storm got anything but 2xx or 409."""
    _, workers = stormed
    assert [u for w in workers for u in w.unexpected] == []


def test_the_storm_really_contended(stormed):
    """Clients did collide (some 409s) and every planned write got through in the end."""
    _, workers = stormed
    codes = sum((w.codes for w in workers), collections.Counter())
    assert codes[409] > 0
    assert sum(len(w.created) for w in workers) == THREADS * (CYCLES + 1)
    assert sum(len(w.deleted) for w in workers) == THREADS * CYCLES


def test_final_state_matches_the_successful_answers(client, stormed):
    """Listeners left = successful creates minus successful deletes, all ACTIVE, ports unique."""
    lb, workers = stormed
    final = client.wait(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
    listed = client.get(f"/v2/lbaas/listeners?loadbalancer_id={lb['id']}").get_json()["listeners"]
    creates = sum(len(w.created) for w in workers)
    deletes = sum(len(w.deleted) for w in workers)
    assert final["provisioning_status"] == "ACTIVE"
    assert len(listed) == creates - deletes
    assert {li["id"] for li in listed} == {i for w in workers for i in w.alive}
    assert {li["provisioning_status"] for li in listed} == {"ACTIVE"}
    assert len({(li["protocol"], li["protocol_port"]) for li in listed}) == len(listed)
    assert sorted(x["id"] for x in final["listeners"]) == sorted(li["id"] for li in listed)
