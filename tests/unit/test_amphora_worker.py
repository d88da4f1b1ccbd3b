"""The amphora worker's scheduling: coalescing per load balancer, retries, ERROR, shutdown.

The reconciler here is a recording stand-in: these tests are about when the worker calls
it, not about amphorae (tests/functional/test_amphora_*.py drive real ones).
"""
import threading
import types

import pytest

from lbaas import conf as lbaas_conf
from lbaas.drivers.amphora import worker as worker_mod
from lbaas.drivers.amphora.compute.noop import NoopCompute


class Recorder:
    """Counts reconciles per load balancer; can block or fail on demand."""

    def __init__(self, failures=0):
        self.calls, self.failed = [], []
        self.failures = failures
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.lock = threading.Lock()
        self.concurrent = self.max_concurrent = 0

    def reconcile(self, lb_id, lease=None):
        with self.lock:
            self.calls.append(lb_id)
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        self.entered.set()
        try:
            self.gate.wait(10)
            if self.failures:
                self.failures -= 1
                raise RuntimeError("agent unreachable")
        finally:
            with self.lock:
                self.concurrent -= 1

    def fail(self, lb_id):
        self.failed.append(lb_id)


@pytest.fixture
def make_worker(monkeypatch):
    monkeypatch.setattr(worker_mod, "RETRY_PAUSE", 0.01)
    made = []

    def make(recorder, attempts=3, workers=4):
        conf = lbaas_conf.make_conf()
        conf.set_override("reconcile_attempts", attempts, group="controller_worker")
        conf.set_override("workers", workers, group="controller_worker")
        context = types.SimpleNamespace(conf=conf, library=None)
        w = worker_mod.Worker(context, compute=NoopCompute(), reconciler=recorder)
        made.append(w)
        return w

    yield make
    for w in made:
        w.stop()


def test_requests_arriving_during_a_reconcile_coalesce_into_one_more(make_worker):
    rec = Recorder()
    w = make_worker(rec)
    rec.gate.clear()
    w.submit("lb1")
    assert rec.entered.wait(5)
    for _ in range(20):
        w.submit("lb1")
    rec.gate.set()
    assert w.wait_idle(5)
    assert rec.calls == ["lb1", "lb1"]
    assert rec.max_concurrent == 1


def test_different_load_balancers_run_in_parallel(make_worker):
    rec = Recorder()
    w = make_worker(rec, workers=3)
    rec.gate.clear()
    for lb in ("a", "b", "c"):
        w.submit(lb)
    tick = threading.Event()
    for _ in range(500):   # up to 5 s for all three to be inside reconcile at once
        if rec.concurrent == 3:
            break
        tick.wait(0.01)
    assert rec.concurrent == 3
    rec.gate.set()
    assert w.wait_idle(5)
    assert sorted(rec.calls) == ["a", "b", "c"]


def test_a_failure_is_retried_and_success_reports_nothing_failed(make_worker):
    rec = Recorder(failures=2)
    w = make_worker(rec, attempts=3)
    w.submit("lb1")
    assert w.wait_idle(5)
    assert rec.calls == ["lb1"] * 3 and rec.failed == []


def test_exhausted_attempts_report_error(make_worker):
    rec = Recorder(failures=10)
    w = make_worker(rec, attempts=2)
    w.submit("lb1")
    assert w.wait_idle(5)
    assert rec.calls == ["lb1"] * 2 and rec.failed == ["lb1"]


def test_a_stopped_worker_accepts_nothing(make_worker):
    rec = Recorder()
    w = make_worker(rec)
    w.stop()
    w.submit("lb1")
    assert rec.calls == []
