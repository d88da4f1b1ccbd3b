"""The heartbeat receiver for real: UDP datagrams made with wire.encode, to a HeartbeatServer
in this process and to `lbaas-health` as a process, on a SQLite database."""
import hashlib
import hmac
import os
import select
import signal
import socket
import subprocess
import time
import zlib

import pytest

from lbaas.agent import wire
from lbaas.core import models
from lbaas.drivers.amphora.store import heartbeats
from lbaas.core.controller import Core
from lbaas.drivers.amphora.health import HealthManager, HeartbeatServer
from tests.conftest import database_url, make_conf
from testbed.service import clean_env, venv_command, wait_for

pytestmark = pytest.mark.functional

KEY = "health-test-key"


def seed(db):
    """An ACTIVE load balancer with one listener (operating OFFLINE) and its amphora."""
    lb_id, listener_id, amp_id = models.new_id(), models.new_id(), models.new_id()
    with db.write() as session:
        session.add(models.LoadBalancer(id=lb_id, project_id="p", provider="amphora",
                                        provisioning_status="ACTIVE",
                                        operating_status="OFFLINE"))
        session.flush()
        session.add(models.Listener(id=listener_id, loadbalancer_id=lb_id, project_id="p",
                                    protocol="TCP", l4_protocol="TCP", protocol_port=80,
                                    provisioning_status="ACTIVE", operating_status="OFFLINE"))
        session.add(models.Amphora(id=amp_id, loadbalancer_id=lb_id, status="ALLOCATED"))
    return lb_id, listener_id, amp_id


def heartbeat(amp_id, listener_id, seq=1, key=KEY, now=None):
    """A signed datagram reporting the listener OPEN."""
    return wire.encode(wire.make_message(amp_id, seq, listeners={listener_id: {
        "status": "OPEN", "stats": {"tx": 1, "rx": 2, "conns": 0, "totconns": 1, "ereq": 0}}},
        now=now), key)


def send(address, datagram):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(datagram, address)


def operating_status(db, model, object_id):
    with db.read() as session:
        return session.get(model, object_id).operating_status


@pytest.fixture
def url(request):
    return database_url("sqlite", request, "health")


@pytest.fixture
def core(url):
    core = Core(make_conf(url, **{"health_manager.heartbeat_key": KEY}))
    yield core
    core.close()


@pytest.fixture
def objects(core):
    return seed(core.db)


@pytest.fixture
def server(core):
    server = HeartbeatServer(core.conf, HealthManager(core.context), bind_ip="127.0.0.1", bind_port=0)
    server.start()
    yield server
    server.stop()


def test_good_heartbeat_is_processed(server, core, objects):
    lb_id, listener_id, amp_id = objects
    send(server.address, heartbeat(amp_id, listener_id))
    assert server.wait(lambda c: c["processed"] >= 1, 10)
    assert heartbeats.Heartbeats(core.context).health(amp_id).seq == 1
    assert operating_status(core.db, models.Listener, listener_id) == "ONLINE"
    assert operating_status(core.db, models.LoadBalancer, lb_id) == "ONLINE"


def test_forged_heartbeat_is_dropped(server, core, objects):
    _, listener_id, amp_id = objects
    send(server.address, heartbeat(amp_id, listener_id, key="not-the-key"))
    assert server.wait(lambda c: c["rejected"] == 1, 10)
    assert server.rejected == {"forged": 1}
    assert server.counters["accepted"] == 0
    assert heartbeats.Heartbeats(core.context).health(amp_id) is None


def test_replayed_heartbeat_is_dropped(server, objects):
    _, listener_id, amp_id = objects
    datagram = heartbeat(amp_id, listener_id)
    send(server.address, datagram)
    send(server.address, datagram)
    assert server.wait(lambda c: c["rejected"] == 1, 10)
    assert server.rejected == {"replayed": 1}
    assert server.counters["processed"] == 1


def test_stale_heartbeat_is_dropped(server, core, objects):
    _, listener_id, amp_id = objects
    send(server.address, heartbeat(amp_id, listener_id, now=time.time() - 3600))
    assert server.wait(lambda c: c["rejected"] == 1, 10)
    assert server.rejected == {"stale": 1}
    assert heartbeats.Heartbeats(core.context).health(amp_id) is None


def test_garbage_is_dropped_and_the_server_keeps_serving(server, objects):
    _, listener_id, amp_id = objects
    for junk in (b"", b"x" * 10, os.urandom(200)):
        send(server.address, junk)
    send(server.address, heartbeat(amp_id, listener_id))
    assert server.wait(lambda c: c["processed"] == 1 and c["rejected"] == 3, 10)
    assert server.rejected == {"truncated": 2, "forged": 1}


def signed(text, key=KEY):
    """A datagram carrying any JSON text, signed with the key (what a buggy agent could send)."""
    payload = zlib.compress(text.encode(), 9)
    return payload + hmac.new(key.encode(), payload, hashlib.sha256).hexdigest().encode()


@pytest.mark.parametrize("text", [
    '{"id": "a", "seq": 1, "ver": 3, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
    '{"id": "a", "seq": 1, "ver": 3, "t": ' + "9" * 400 + "}",
], ids=["nested-100000-deep", "timestamp-of-400-digits"])
def test_signed_malformed_heartbeat_is_rejected_and_the_server_keeps_serving(
        server, core, objects, text):
    """Before: RecursionError / OverflowError escaped the decoder and ended the thread."""
    _, listener_id, amp_id = objects
    send(server.address, signed(text))
    send(server.address, heartbeat(amp_id, listener_id))
    assert server.wait(lambda c: c["processed"] == 1, 10), server.stats()
    assert server.rejected == {"malformed": 1}
    assert heartbeats.Heartbeats(core.context).health(amp_id).seq == 1


def test_a_decoder_bug_is_counted_as_an_error_and_the_server_keeps_serving(
        server, objects, monkeypatch, caplog):
    _, listener_id, amp_id = objects
    real = wire.decode

    def buggy(datagram, *args, **kw):
        if datagram.startswith(b"bug"):
            raise TypeError("a bug")
        return real(datagram, *args, **kw)

    monkeypatch.setattr(wire, "decode", buggy)
    send(server.address, b"bug" + b"x" * 100)
    send(server.address, heartbeat(amp_id, listener_id))
    assert server.wait(lambda c: c["processed"] == 1, 10), server.stats()
    assert server.rejected == {"error": 1}
    assert "TypeError: a bug" in caplog.text


def test_a_receiving_thread_that_dies_is_started_again(server, core, objects, monkeypatch):
    _, listener_id, amp_id = objects
    handle = server.handle
    calls = []

    def dies_once(datagram, peer=None, received_at=None):
        calls.append(datagram)
        if len(calls) == 1:
            raise SystemExit("the thread ends")   # what no except Exception would catch
        return handle(datagram, peer, received_at)

    monkeypatch.setattr(server, "handle", dies_once)
    send(server.address, heartbeat(amp_id, listener_id, seq=1))
    assert server.wait(lambda c: c["restarts"] == 1, 10)
    send(server.address, heartbeat(amp_id, listener_id, seq=2))
    assert server.wait(lambda c: c["processed"] == 1, 10), server.stats()
    assert heartbeats.Heartbeats(core.context).health(amp_id).seq == 2


def test_rejections_are_summed_up_in_the_log_once_per_interval(core, objects, caplog):
    _, listener_id, amp_id = objects
    server = HeartbeatServer(core.conf, HealthManager(core.context), bind_ip="127.0.0.1", bind_port=0,
                             log_interval=0.3).start()
    try:
        for key in ("wrong-1", "wrong-2"):
            send(server.address, heartbeat(amp_id, listener_id, key=key))
        send(server.address, signed("[]"))
        assert server.wait(lambda c: c["rejected"] == 3, 10)
        deadline = time.monotonic() + 5
        while "heartbeats rejected in the last" not in caplog.text \
                and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        server.stop()
    assert "heartbeats rejected in the last 0.3 s: forged=2 malformed=1" in caplog.text
    assert server.stats()["rejected"] == {"forged": 2, "replayed": 0, "stale": 0,
                                          "malformed": 1, "oversized": 0, "truncated": 0,
                                          "error": 0}


def test_a_failing_manager_is_counted_and_the_server_keeps_serving(core, objects):
    class Failing:
        def process(self, message, received_at=None):
            raise RuntimeError("database down")

    server = HeartbeatServer(core.conf, Failing(), bind_ip="127.0.0.1", bind_port=0).start()
    try:
        _, listener_id, amp_id = objects
        send(server.address, heartbeat(amp_id, listener_id, seq=1))
        send(server.address, heartbeat(amp_id, listener_id, seq=2))
        assert server.wait(lambda c: c["failed"] == 2, 10)
    finally:
        server.stop()


def test_stop_is_prompt(core):
    server = HeartbeatServer(core.conf, HealthManager(core.context), bind_ip="127.0.0.1", bind_port=0)
    server.start()
    start = time.monotonic()
    server.stop()
    assert time.monotonic() - start < 1.0


def test_unset_heartbeat_key_is_refused(url):
    conf = make_conf(url)
    with pytest.raises(ValueError, match=r"\[health_manager\] heartbeat_key is not set"):
        HeartbeatServer(conf, manager=None, bind_ip="127.0.0.1", bind_port=0)


def _read_line(proc, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            return proc.stdout.readline()
    raise AssertionError(f"lbaas-health printed nothing (exit {proc.poll()})")


def test_lbaas_health_process_updates_the_database_and_exits_on_sigterm(url, tmp_path):
    config = tmp_path / "lbaas.conf"
    config.write_text(f"[database]\nconnection = {url}\n"
                      f"[health_manager]\nheartbeat_key = {KEY}\nbind_ip = 127.0.0.1\n"
                      "bind_port = 0\n")
    core = Core(make_conf(url))
    try:
        lb_id, listener_id, amp_id = seed(core.db)
        with open(tmp_path / "health.log", "wb") as log:
            proc = subprocess.Popen([venv_command("lbaas-health"), "--config-file", str(config)],
                                    stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                                    env=clean_env(), text=True, start_new_session=True)
        try:
            line = _read_line(proc, 30)
            assert line.startswith("lbaas-health: receiving heartbeats on udp 127.0.0.1:"), line
            port = int(line.rsplit(":", 1)[1])
            send(("127.0.0.1", port), heartbeat(amp_id, listener_id, seq=7))
            wait_for(lambda: heartbeats.Heartbeats(core.context).health(amp_id), 15,
                     "the heartbeat to reach the database")
            assert heartbeats.Heartbeats(core.context).health(amp_id).seq == 7
            # liveness is written first, the statuses right after it
            wait_for(lambda: operating_status(core.db, models.LoadBalancer, lb_id) == "ONLINE",
                     15, "the load balancer ONLINE")
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(15) == 0
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)
    finally:
        core.close()
