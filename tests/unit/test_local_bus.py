"""The in-process bus of `lbaas serve`: casts reach a started worker, and idling costs nothing."""
import threading
import time

from oslo_config import cfg

from lbaas.drivers.amphora import rpc


class Recorder:
    """An endpoint that records what it was asked, as the worker's rpc.Endpoint would."""

    def __init__(self):
        self.calls, self.event = [], threading.Event()

    def reconcile(self, ctxt, loadbalancer_id):
        self.calls.append(("reconcile", loadbalancer_id))
        self.event.set()

    def failover(self, ctxt, loadbalancer_id, amphora_id=None):
        self.calls.append(("failover", loadbalancer_id, amphora_id))
        self.event.set()


def _wait_for(predicate, timeout=5):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "the cast never arrived"
        time.sleep(0.005)


def _bus():
    conf = cfg.ConfigOpts()
    conf([], project="lbaas-test")
    return rpc.bus(conf), conf


def test_a_configuration_without_transport_url_gets_a_local_bus_of_its_own():
    (first, conf1), (second, _conf2) = _bus(), _bus()
    assert first.in_memory and isinstance(first, rpc.LocalBus)
    assert rpc.bus(conf1) is first and first is not second


def test_casts_made_before_the_worker_starts_reach_it_when_it_starts():
    bus, _conf = _bus()
    bus.reconcile("lb-1")
    bus.failover("lb-2", "amp-1")
    endpoint = Recorder()
    server = bus.server(endpoint, "w1")
    time.sleep(0.05)
    assert endpoint.calls == []
    server.start()
    _wait_for(lambda: len(endpoint.calls) == 2)
    assert endpoint.calls == [("reconcile", "lb-1"), ("failover", "lb-2", "amp-1")]


def test_casts_are_shared_between_started_servers_and_a_stopped_one_gets_none():
    bus, _conf = _bus()
    first, second = Recorder(), Recorder()
    one, two = bus.server(first, "w1"), bus.server(second, "w2")
    one.start()
    two.start()
    for n in range(10):
        bus.reconcile(f"lb-{n}")
    _wait_for(lambda: len(first.calls) + len(second.calls) == 10)
    assert first.calls and second.calls
    one.stop()
    before = len(first.calls)
    for n in range(5):
        bus.reconcile(f"later-{n}")
    _wait_for(lambda: len(second.calls) == 10 - before + 5)
    assert len(first.calls) == before


def test_an_idle_bus_uses_no_cpu():
    """oslo.messaging's in-memory kombu transport spun a quarter of a core while idle."""
    bus, _conf = _bus()
    bus.server(Recorder(), "w1").start()
    started = time.process_time()
    time.sleep(1.0)
    used = time.process_time() - started
    assert used < 0.05, f"an idle bus used {used:.3f} s of CPU in 1 s"


def test_a_failing_endpoint_does_not_stop_the_bus():
    bus, _conf = _bus()

    class Broken(Recorder):
        def reconcile(self, ctxt, loadbalancer_id):
            if loadbalancer_id == "bad":
                raise RuntimeError("boom")
            super().reconcile(ctxt, loadbalancer_id)

    endpoint = Broken()
    bus.server(endpoint, "w1").start()
    bus.reconcile("bad")
    bus.reconcile("good")
    _wait_for(lambda: endpoint.calls == [("reconcile", "good")])


def test_casts_from_another_process_arrive_over_the_socket_and_garbage_is_dropped(tmp_path):
    """lbaas serve's other API processes cast over a unix socket (rpc.SocketBus); what reads
    it takes only well-formed casts, whatever else is sent to it."""
    import os
    import socket
    bus, _conf = _bus()
    recorder = Recorder()
    server = bus.server(recorder, "test")
    server.start()
    path = str(tmp_path / "bus.sock")
    sock = rpc.bind_cast_socket(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    bus.take_casts(sock)
    raw = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    for garbage in (b"", b"{", b"[]", b'{"method": "reconcile"}', b"\xff" * 100,
                    b'{"method": "shutdown", "kwargs": {}}',
                    b'{"method": "reconcile", "kwargs": {"loadbalancer_id": 7}}',
                    b'{"method": "reconcile", "kwargs": {"loadbalancer_id": "x", "y": "z"}}',
                    b'{"method": "reconcile", "kwargs": {"loadbalancer_id": "' + b"a" * 900
                    + b'"}}', b"[" * 1000):
        raw.sendto(garbage, path)
    other = rpc.SocketBus(path)
    other.reconcile("lb-1")
    other.failover("lb-2", "amp-1")
    _wait_for(lambda: len(recorder.calls) == 2)
    assert recorder.calls == [("reconcile", "lb-1"), ("failover", "lb-2", "amp-1")]
    assert not other.in_memory   # a process with this bus starts no worker
    other.close()
    server.stop()
    bus.close()
    sock.close()


def test_a_cast_to_a_missing_socket_is_dropped_not_raised(tmp_path):
    rpc.SocketBus(str(tmp_path / "nobody.sock")).reconcile("lb-1")
