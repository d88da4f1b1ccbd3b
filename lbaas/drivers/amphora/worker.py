"""The amphora worker: receives "reconcile LB X" requests and runs them, one at a time per LB.

Requests for a load balancer that is being reconciled are coalesced: it is reconciled once
more afterwards, from the state of that moment, however many requests arrived. Failures are
retried with a growing pause; after `[controller_worker] reconcile_attempts` its pending
objects go to ERROR. At start-up and every `sweep_interval` seconds every load balancer of
the provider left in PENDING_* is reconciled, so a lost message or a crash costs a delay, not
an object stuck in PENDING_*.

Across processes, a worker reconciles a load balancer only while it holds its lease
(lbaas.drivers.amphora.store.leases): claimed before the run, checked (and renewed) before
each step of the reconcile, renewed every `lease_renew_interval` while held, released after.
A cast for a load balancer another worker holds is left to that worker, which is asked to
run once more when its current run ends (the coalescing above, across processes). A worker
that dies holds its leases until they expire; the sweep of the others then takes them over.
The sweep is spread: each worker sweeps the pending load balancers that hash to it among the
live workers (the registry), so N workers do not all queue the same load balancers.

With the bus in memory (`lbaas serve`: no transport_url) this worker is the only one that
receives the deployment's casts, and `lbaas-worker` and `lbaas-api` refuse to run without
a bus, so there is nobody to share with: it reconciles without leases (each one is a few
database writes per reconcile: a third of the time a load balancer takes to go ACTIVE on
noop backends). It still registers; should another worker appear in the registry (two
`lbaas serve` on one database, a mistake the registry reveals), it warns and takes leases
from then on.
"""
import collections
import concurrent.futures
import logging
import os
import socket
import threading
import time
import uuid

from lbaas.drivers.amphora import compute as compute_backends
from lbaas.drivers.amphora import rpc
from lbaas.drivers.amphora.reconcile import Reconciler
from lbaas.drivers.amphora.store import LeaseLost, Leases, Registry
from lbaas.metrics import definitions as m
from lbaas.metrics import liveness

LOG = logging.getLogger(__name__)
RETRY_PAUSE = 0.5   # seconds before the second attempt; doubles after each failure


class Worker:
    """Schedules reconciles of one provider's load balancers on a small thread pool."""

    def __init__(self, context, provider="amphora", compute=None, reconciler=None):
        self.context, self.conf, self.provider = context, context.conf, provider
        self.compute = compute or compute_backends.load_from_conf(self.conf)
        self.reconciler = reconciler or Reconciler(context, self.compute, provider)
        cw = self.conf.controller_worker
        self._pool = concurrent.futures.ThreadPoolExecutor(cw.workers,
                                                           thread_name_prefix="amphora-worker")
        self._lock = threading.Lock()
        self._state = {}          # lb id -> "running" | "again"
        self._swept = set()       # lb ids queued by the sweep alone
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._server = None
        self._sweeper = None
        self._keeper = None
        self._spares = threading.Lock()
        self.worker_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.counts = collections.Counter()   # reconciled, deferred (held elsewhere), lost
        database = getattr(context, "database", None)
        self.leases = self.registry = None
        self.leasing = False      # whether reconciles claim leases (see the module's doc)
        if database is not None:   # no database: a test's stand-in context, one process
            self.leases = Leases(database, self.worker_id, cw.lease_duration)
            self.registry = Registry(database, self.worker_id, socket.gethostname(),
                                     cw.lease_duration)
            self.leasing = not rpc.bus(self.conf).in_memory

    # -- scheduling ---------------------------------------------------------------------
    def submit(self, loadbalancer_id, swept=False):
        """Reconcile a load balancer soon (coalesced with a run in progress).

        swept: only the sweep asks; when another worker holds the load balancer, its run in
        progress is left alone (a request, a cast, asks it for one more run)."""
        with self._lock:
            if self._stop.is_set():
                return
            if not swept:
                self._swept.discard(loadbalancer_id)
            if loadbalancer_id in self._state:
                self._state[loadbalancer_id] = "again"
                return
            if swept:
                self._swept.add(loadbalancer_id)
            self._state[loadbalancer_id] = "running"
            m.RECONCILE_QUEUE.inc()
        self._pool.submit(self._run, loadbalancer_id)

    def failover(self, loadbalancer_id, amphora_id=None):
        """Replace an amphora (None: every amphora) of a load balancer: marked in the
        database first, so its next reconcile (this one, or one after a crash) does it."""
        self.reconciler.request_failover(loadbalancer_id, amphora_id)
        self.submit(loadbalancer_id)

    def _run(self, loadbalancer_id):
        while True:
            self._leased(loadbalancer_id)
            with self._lock:
                if self._state.get(loadbalancer_id) == "again" and not self._stop.is_set():
                    self._state[loadbalancer_id] = "running"
                    continue
                if self._state.pop(loadbalancer_id, None) is not None:
                    m.RECONCILE_QUEUE.dec()
                self._idle.notify_all()
                return

    def _count(self, what):
        with self._lock:
            self.counts[what] += 1
        outcome = {"reconciled": "succeeded"}.get(what, what)
        m.RECONCILES.labels(outcome).inc()

    def _leased(self, loadbalancer_id):
        """Run the reconciles of a load balancer while this worker holds its lease."""
        if not self.leasing:
            self._attempts(loadbalancer_id, None)
            return
        with self._lock:
            swept = loadbalancer_id in self._swept
            self._swept.discard(loadbalancer_id)
        try:
            lease = self.leases.claim(loadbalancer_id, ask=not swept)
        except Exception:
            LOG.exception("could not claim load balancer %s (the sweep tries again)",
                          loadbalancer_id)
            return
        if lease is None:
            self._count("deferred")
            LOG.debug("load balancer %s is held by another worker, asked to run it again",
                      loadbalancer_id)
            return
        m.LEASES_HELD.inc()
        LOG.info("took the lease of load balancer %s (generation %d)", loadbalancer_id,
                 lease.generation)
        try:
            while True:
                self._attempts(loadbalancer_id, lease)
                if self.leases.release(lease, force=self._stop.is_set()):
                    return
        except LeaseLost as exc:
            self._count("lost")
            LOG.warning("stopped reconciling load balancer %s: %s", loadbalancer_id, exc)
        except Exception:   # the release failed: the lease expires, the sweep takes it over
            LOG.exception("could not release load balancer %s", loadbalancer_id)
        finally:
            m.LEASES_HELD.dec()

    def _attempts(self, loadbalancer_id, lease):
        """Reconcile until it succeeds or attempts run out (then ERROR); LeaseLost stops it."""
        attempts = self.conf.controller_worker.reconcile_attempts
        pause = RETRY_PAUSE
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                took_spare = self.reconciler.reconcile(loadbalancer_id, lease)
                m.RECONCILE_DURATION.labels("succeeded").observe(time.monotonic() - started)
                self._count("reconciled")
                LOG.info("reconciled load balancer %s (lease generation %s)", loadbalancer_id,
                         lease.generation if lease else "-")
                if took_spare:
                    self.replenish()
                return
            except LeaseLost:
                raise
            except Exception as exc:   # any failure: retry, then report ERROR
                m.RECONCILE_DURATION.labels("failed").observe(time.monotonic() - started)
                m.RECONCILES.labels("failed").inc()
                LOG.warning("reconcile of load balancer %s failed (attempt %d of %d): %s",
                            loadbalancer_id, attempt, attempts, exc,
                            exc_info=attempt == attempts)
                if attempt == attempts or self._stop.wait(pause):
                    break
                pause *= 2
        try:
            if lease is not None:
                lease.check()   # a worker that lost the lease reports nothing
            self.reconciler.fail(loadbalancer_id)
            m.RECONCILES.labels("error").inc()
        except LeaseLost:
            raise
        except Exception:
            LOG.exception("could not report load balancer %s ERROR", loadbalancer_id)

    def delete_amphora(self, amphora_id):
        """Tear an amphora down in the background (the admin API's amphora delete)."""
        if not self._stop.is_set():
            self._pool.submit(self._delete_amphora, amphora_id)

    def _delete_amphora(self, amphora_id):
        try:
            self.reconciler.delete_amphora(amphora_id)
        except Exception:
            LOG.exception("could not delete amphora %s", amphora_id)

    def replenish(self):
        """Top up the spare amphorae in the background (one top-up at a time)."""
        if self.conf.house_keeping.spare_amphora_pool_size and not self._stop.is_set():
            self._pool.submit(self._replenish)

    def _replenish(self):
        if not self._spares.acquire(blocking=False):
            return
        try:
            self.reconciler.replenish_spares()
        except Exception:
            LOG.exception("could not boot a spare amphora")
        finally:
            self._spares.release()

    def wait_idle(self, timeout=None):
        """Block until no reconcile is queued or running; False on timeout (for tests)."""
        with self._lock:
            return self._idle.wait_for(lambda: not self._state, timeout)

    # -- sweeping -----------------------------------------------------------------------
    def sweep(self):
        """Queue this worker's share of the provider's load balancers that have anything in
        PENDING_* (those that hash to it among the live workers)."""
        ids = self.context.library.pending_loadbalancers(self.provider)
        if self.registry is not None:
            ids = self.registry.mine(ids)
        for lb_id in ids:
            self.submit(lb_id, swept=True)
        return ids

    def _keep_alive(self):
        """Every lease_renew_interval: this worker is alive (registry), its leases renewed."""
        interval = self.conf.controller_worker.lease_renew_interval
        loop = liveness.register("amphora_leases", interval)
        while not self._stop.wait(interval):
            loop.beat()
            try:
                self.registry.beat()
                fleet = getattr(self.reconciler, "fleet", None)
                if fleet is not None:
                    fleet.touch_spares()
                if self.leasing:
                    self.leases.renew()
                else:
                    self.notice_other_workers()
            except Exception:
                LOG.exception("renewing this worker's leases failed")
        liveness.unregister(loop)

    def notice_other_workers(self):
        """On an in-memory bus: take leases from now on if another worker is live."""
        others = self.registry.live() - {self.worker_id}
        if others:
            LOG.warning("another amphora worker uses this database (%s) but this one's bus is "
                        "in memory: casts of one never reach the other. Set [DEFAULT] "
                        "transport_url on every process; until then reconciles take leases.",
                        ", ".join(sorted(others)))
            self.leasing = True

    def _sweep_loop(self):
        interval = self.conf.controller_worker.sweep_interval
        loop = liveness.register("amphora_sweep", interval)
        while True:
            loop.beat()
            try:
                found = self.sweep()
                if found:
                    LOG.info("sweep queued %d pending load balancer(s)", len(found))
            except Exception:
                LOG.exception("sweep for pending load balancers failed")
            try:
                self.reconciler.fleet.refresh_client_certificate()
            except Exception:
                LOG.exception("renewing the controller's client certificate failed")
            self.replenish()
            if self._stop.wait(interval):
                liveness.unregister(loop)
                return

    # -- life cycle ---------------------------------------------------------------------
    def start(self, listen=True):
        """Prepare the compute backend, serve the bus (if listen) and start sweeping."""
        prepare = getattr(self.compute, "prepare", None)
        if prepare is not None:
            prepare()
        if self.registry is not None:
            self.registry.beat()   # counted among the live workers before the first sweep
            LOG.info("amphora worker %s registered; %s", self.worker_id,
                     f"leases last {self.conf.controller_worker.lease_duration} s"
                     if self.leasing else "alone on an in-memory bus: no leases")
            self._keeper = threading.Thread(target=self._keep_alive, name="amphora-leases",
                                            daemon=True)
            self._keeper.start()
        if listen:
            bus = rpc.bus(self.conf)
            self._server = bus.server(rpc.Endpoint(self.submit, self.delete_amphora,
                                                   self.failover),
                                      f"{socket.gethostname()}-{id(self):x}")
            self._server.start()
        self._sweeper = threading.Thread(target=self._sweep_loop, name="amphora-sweep",
                                         daemon=True)
        self._sweeper.start()
        return self

    def stop(self):
        """Stop receiving, let running reconciles finish, stop the threads."""
        self._stop.set()
        if self._server is not None:
            self._server.stop()
            self._server.wait()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=True)
        if self._keeper is not None:
            self._keeper.join(timeout=5)
        if self.registry is not None:
            try:
                self.registry.leave()   # the others take this worker's share at once
            except Exception:
                LOG.exception("could not leave the registry of live workers")
