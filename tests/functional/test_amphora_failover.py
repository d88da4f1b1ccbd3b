"""Failover of amphorae under real traffic: a dead amphora is noticed by its silence and
replaced; an operator's failover does the same on demand; a mass silence trips the
circuit breaker instead of a failover storm.

The environment keeps one spare amphora, as `lbaas serve` does on its embedded defaults.
Each scenario prints the longest gap in traffic and the number of failed requests.
"""
import os
import signal
import socket
import threading
import time

import pytest
import requests
from pyroute2 import netns

from lbaas.agent import wire

from testbed import backends
from tests.functional.amphora_env import BACKEND_PORT, AmphoraEnv, wait_until
from tests.functional.scrape import value
from tests.functional.test_cli import Cli

pytestmark = pytest.mark.functional


class SpareEnv(AmphoraEnv):
    """An AmphoraEnv with a spare amphora, removed at the end (it belongs to no LB)."""

    def stop(self):
        """Delete the spares too; a failure on the way still ends in the base clean-up
        (which scrubs every amphora), then is raised."""
        from lbaas.drivers.amphora.compute.local import LocalCompute
        spares, failure = [], None
        if self.service is not None and self.service.proc.poll() is None:
            try:
                for lb in self.get("/v2/lbaas/loadbalancers")["loadbalancers"]:
                    self.delete_lb(lb["id"])
                spares = [a["id"] for a in self.get("/v2/octavia/amphorae")["amphorae"]
                          if a["loadbalancer_id"] is None]
            except Exception as exc:  # noqa: BLE001 - raised after the clean-up below
                failure = exc
            finally:
                self.service.stop()
        compute = LocalCompute(self.mgmt_bridge, str(self.mgmt_cidr), self.amphora_dir)
        for amphora_id in spares:
            compute.delete(amphora_id)
        super().stop()
        if failure is not None:
            raise failure


@pytest.fixture(scope="module")
def env(amphora_host, tmp_path_factory):
    env = SpareEnv(tmp_path_factory.mktemp("amphora-failover"), extra_config={
        "house_keeping": {"spare_amphora_pool_size": 1}})
    try:
        env.start()
        for k, name in ((1, "one"), (2, "two")):
            env.backend(name, k)
        yield env
    finally:
        env.stop()


class Traffic(threading.Thread):
    """Requests through a VIP every 20 ms, recording failures and the longest gap."""

    def __init__(self, vip):
        super().__init__(daemon=True)
        self.vip, self.stopped = vip, threading.Event()
        self.ok = self.failed = 0
        self.longest, self.started = 0.0, time.monotonic()

    def run(self):
        self.started = last = time.monotonic()
        while not self.stopped.is_set():
            try:
                backends.http_get(self.vip, "/", 80, timeout=0.3)
                now = time.monotonic()
                self.longest, last = max(self.longest, now - last), now
                self.ok += 1
            except OSError:
                self.failed += 1
            self.stopped.wait(0.02)

    def finish(self, label):
        self.stopped.set()
        self.join(5)
        print(f"{label}: longest gap {self.longest:.2f} s, {self.failed} failed, "
              f"{self.ok} served")
        return self


def _lb(env, name):
    pool = {"name": f"{name}-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": env.member_host(200 + k), "protocol_port": BACKEND_PORT,
                         "subnet_id": env.member_subnet_id} for k in (1, 2)]}
    lb = env.create_graph(name, [{"protocol": "HTTP", "protocol_port": 80,
                                  "connection_limit": 500, "default_pool": pool}])
    env.wait_vip(lb["vip_address"])
    return lb


def _amphora(env, lb_id):
    found = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
    assert len(found) == 1, found
    env.amphora_ids.add(found[0]["id"])
    return found[0]


def _kill(amphora_id):
    """SIGKILL every process in the amphora's namespace (agent and HAProxy): it dies."""
    name = "amp-" + "".join(ch for ch in amphora_id.lower() if ch.isalnum())[:10]
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_netns(int(p), name)]
    assert pids, f"no process in {name}"
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return pids


def _in_netns(pid, name):
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino == os.stat(f"/var/run/netns/{name}").st_ino
    except OSError:
        return False


def _replaced(env, lb_id, old_id, timeout=30):
    return wait_until(lambda: (a := env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")
                               ["amphorae"]) and a[0]["id"] != old_id
                      and env.show("loadbalancers", lb_id)["provisioning_status"] == "ACTIVE"
                      and a[0], timeout, "a new amphora and the load balancer ACTIVE")


def test_a_dead_single_amphora_is_replaced_and_traffic_recovers(env):
    lb = _lb(env, "fo-single")
    old = _amphora(env, lb["id"])
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    failovers = value(env.metrics_url, "lbaas_amphora_failovers_total", cause="heartbeat")
    _kill(old["id"])
    new = _replaced(env, lb["id"], old["id"])
    # the scanner requested exactly one failover, for the silent amphora
    assert value(env.metrics_url, "lbaas_amphora_failovers_total",
                 cause="heartbeat") == failovers + 1
    env.amphora_ids.add(new["id"])
    wait_until(lambda: traffic.ok >= 5 and traffic.longest > 0 and _serves(lb), 15,
               "traffic through the new amphora")
    traffic.finish("SINGLE amphora SIGKILLed")
    assert traffic.longest < 10, traffic.longest
    assert new["status"] == "ALLOCATED" and new["role"] == "STANDALONE"
    assert env.leftovers({old["id"]}) == []   # the dead one is cleaned up
    env.wait_operating("loadbalancers", lb["id"], "ONLINE")


def _serves(lb):
    try:
        backends.http_get(lb["vip_address"], "/", 80, timeout=0.5)
        return True
    except OSError:
        return False


def test_failover_through_the_api_and_the_cli_replaces_the_amphora(env):
    lb = _lb(env, "fo-manual")
    first = _amphora(env, lb["id"])
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    before = {cause: value(env.metrics_url, "lbaas_amphora_failovers_total", cause=cause)
              for cause in ("loadbalancer_api", "amphora_api")}
    env.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover", None, expect=202)
    second = _replaced(env, lb["id"], first["id"])
    env.amphora_ids.add(second["id"])
    Cli(env.url)("loadbalancer", "amphora", "failover", second["id"])
    third = _replaced(env, lb["id"], second["id"])
    for cause, count in before.items():
        assert value(env.metrics_url, "lbaas_amphora_failovers_total",
                     cause=cause) == count + 1, cause
    env.amphora_ids.add(third["id"])
    wait_until(lambda: _serves(lb), 15, "traffic through the third amphora")
    traffic.finish("manual failovers (API, then CLI)")
    assert env.leftovers({first["id"], second["id"]}) == []
    # make before break: each successor served before the VIP moved to it
    assert traffic.failed == 0 and traffic.longest < 1, (traffic.failed, traffic.longest)


def test_most_amphorae_going_silent_at_once_trips_the_circuit_breaker(env):
    lbs = [_lb(env, f"fo-storm{i}") for i in range(3)]
    amphorae = {lb["id"]: _amphora(env, lb["id"])["id"] for lb in lbs}
    trips = value(env.metrics_url, "lbaas_amphora_failover_circuit_breaker_trips_total")
    heartbeat_failovers = value(env.metrics_url, "lbaas_amphora_failovers_total",
                                cause="heartbeat")
    for amphora_id in amphorae.values():
        _kill(amphora_id)
    wait_until(lambda: all(env.get(f"/v2/octavia/amphorae/{a}")["amphora"]["status"]
                           == "FAILOVER_STOPPED" for a in amphorae.values()), 20,
               "the silent amphorae to be marked FAILOVER_STOPPED")
    assert value(env.metrics_url, "lbaas_amphora_failover_circuit_breaker_open") == 1
    assert value(env.metrics_url, "lbaas_amphora_failover_circuit_breaker_trips_total") \
        == trips + 1
    assert value(env.metrics_url, "lbaas_amphorae", status="FAILOVER_STOPPED") == 3
    # held, not failed over: same amphorae, load balancers untouched
    for lb_id, amphora_id in amphorae.items():
        assert _amphora(env, lb_id)["id"] == amphora_id
        assert env.show("loadbalancers", lb_id)["provisioning_status"] == "ACTIVE"
    with open(env.service.log_path, "rb") as log:
        assert b"circuit breaker" in log.read()
    # the operator decides: a failover through the API rebuilds each one
    for lb_id, amphora_id in amphorae.items():
        env.put(f"/v2/octavia/amphorae/{amphora_id}/failover", None, expect=202)
        env.amphora_ids.add(_replaced(env, lb_id, amphora_id, timeout=60)["id"])
    for lb in lbs:
        wait_until(lambda: _serves(lb), 15, f"traffic through {lb['name']}")
    wait_until(lambda: value(env.metrics_url,
                             "lbaas_amphora_failover_circuit_breaker_open") == 0, 10,
               "the circuit breaker to close once heartbeats are back")
    assert value(env.metrics_url, "lbaas_amphora_failovers_total",
                 cause="heartbeat") == heartbeat_failovers   # the breaker held them all
    assert env.leftovers(set(amphorae.values())) == []
    assert not [n for n in netns.listnetns()
                if n in {f"amp-{a.replace('-', '')[:10]}" for a in amphorae.values()}]


def test_restarting_the_controller_changes_no_traffic_and_fails_nothing_over(env):
    lb = _lb(env, "fo-restart")
    amphora = _amphora(env, lb["id"])
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    env.service.stop()            # API, worker and health manager all go
    down = time.monotonic()
    wait_until(lambda: time.monotonic() - down > 4, 10, "longer than heartbeat_timeout (3 s)")
    env.service.start()
    restarted = time.monotonic()
    # judge after the new health manager's grace period and a few scans more
    wait_until(lambda: time.monotonic() - restarted > 6, 10, "a few failover scans")
    traffic.finish("controller restarted (down 4 s)")
    assert _amphora(env, lb["id"])["id"] == amphora["id"]
    assert env.get(f"/v2/octavia/amphorae/{amphora['id']}")["amphora"]["status"] == "ALLOCATED"
    assert env.show("loadbalancers", lb["id"])["provisioning_status"] == "ACTIVE"
    assert traffic.failed == 0 and traffic.longest < 1, traffic.longest


def test_haproxy_dying_alone_is_restarted_by_the_agent_without_a_failover(env):
    lb = _lb(env, "fo-haproxy")
    amphora = _amphora(env, lb["id"])
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    name = "amp-" + amphora["id"].replace("-", "")[:10]
    victims = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_netns(int(p), name)
               and b"haproxy" in _cmdline(p) and b"lbaas.agent" not in _cmdline(p)]
    assert victims
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 10, 10, "traffic through the restarted HAProxy")
    # past the heartbeat timeout: the amphora was kept, not replaced
    wait_until(lambda: time.monotonic() - traffic.started > 5, 10, "the heartbeat timeout")
    traffic.finish("HAProxy alone SIGKILLed (agent alive)")
    assert _amphora(env, lb["id"])["id"] == amphora["id"]
    assert env.show("loadbalancers", lb["id"])["provisioning_status"] == "ACTIVE"
    assert traffic.longest < 2.5, traffic.longest


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except OSError:
        return b""


def test_an_amphora_the_database_calls_deleted_is_removed_when_it_sends_heartbeats(env):
    """A zombie: its row is DELETED (a crash between an instance's deletion and its row's,
    simulated by writing the row) but its processes run on; its heartbeats get it removed."""
    import sqlite3
    lb = _lb(env, "fo-zombie")
    amphora = _amphora(env, lb["id"])
    name = "amp-" + amphora["id"].replace("-", "")[:10]
    assert name in netns.listnetns()
    with sqlite3.connect(os.path.join(env.state_path, "lbaas.sqlite"), timeout=10) as db:
        db.execute("UPDATE amphora SET status = 'DELETED' WHERE id = ?", (amphora["id"],))
    wait_until(lambda: name not in netns.listnetns(), 15, "the zombie amphora removed")
    assert env.leftovers({amphora["id"]}) == []
    with open(env.service.log_path, "rb") as log:
        assert f"amphora {amphora['id']} sends heartbeats but is DELETED".encode() in log.read()


def test_forged_heartbeats_are_counted_as_rejected_and_the_process_is_healthy(env):
    """A heartbeat signed with another key reaches the receiver and is counted, by cause;
    valid ones keep being processed; /healthcheck on the metrics port says the loops run."""
    host = str(next(env.mgmt_cidr.hosts()))   # the receiver is on the management bridge
    forged = value(env.metrics_url, "lbaas_heartbeats_rejected_total", cause="forged")
    datagram = wire.encode(wire.make_message("0" * 8 + "-0000-4000-8000-" + "0" * 12, 1),
                           "not-the-key")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for _ in range(3):
            sock.sendto(datagram, (host, env.hm_port))
    wait_until(lambda: value(env.metrics_url, "lbaas_heartbeats_rejected_total",
                             cause="forged") == forged + 3, 10, "3 more forged heartbeats")
    lb = _lb(env, "fo-metrics")
    processed = value(env.metrics_url, "lbaas_heartbeats_total", result="processed")
    wait_until(lambda: value(env.metrics_url, "lbaas_heartbeats_total",
                             result="processed") > processed, 10, "heartbeats processed")
    assert value(env.metrics_url, "lbaas_amphora_reconciles_total", outcome="succeeded") >= 1
    assert value(env.metrics_url, "lbaas_amphorae", status="ALLOCATED") >= 1
    resp = requests.get(env.metrics_url + "/healthcheck", timeout=10,
                        headers={"Accept": "application/json"})
    assert resp.status_code == 200, resp.text
    reasons = resp.json()["reasons"]
    assert "database: OK" in reasons and any(r.startswith("main loops:") for r in reasons)
    env.delete_lb(lb["id"])
