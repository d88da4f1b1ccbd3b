"""The amphora worker: receives "reconcile LB X" requests and runs them, one at a time per LB.

Requests for a load balancer that is being reconciled are coalesced: it is reconciled once
more afterwards, from the state of that moment, however many requests arrived. Failures are
retried with a growing pause; after `[controller_worker] reconcile_attempts` its pending
objects go to ERROR. At start-up and every `sweep_interval` seconds every load balancer of
the provider left in PENDING_* is reconciled, so a lost message or a crash costs a delay, not
an object stuck in PENDING_*.
"""
import concurrent.futures
import logging
import socket
import threading

from lbaas.drivers.amphora import compute as compute_backends
from lbaas.drivers.amphora import rpc
from lbaas.drivers.amphora.reconcile import Reconciler

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
        self._idle = threading.Condition(self._lock)
        self._stop = threading.Event()
        self._server = None
        self._sweeper = None
        self._spares = threading.Lock()

    # -- scheduling ---------------------------------------------------------------------
    def submit(self, loadbalancer_id):
        """Reconcile a load balancer soon (coalesced with a run in progress)."""
        with self._lock:
            if self._stop.is_set():
                return
            if loadbalancer_id in self._state:
                self._state[loadbalancer_id] = "again"
                return
            self._state[loadbalancer_id] = "running"
        self._pool.submit(self._run, loadbalancer_id)

    def failover(self, loadbalancer_id, amphora_id=None):
        """Replace an amphora (None: every amphora) of a load balancer: marked in the
        database first, so its next reconcile (this one, or one after a crash) does it."""
        self.reconciler.request_failover(loadbalancer_id, amphora_id)
        self.submit(loadbalancer_id)

    def _run(self, loadbalancer_id):
        while True:
            self._attempts(loadbalancer_id)
            with self._lock:
                if self._state.get(loadbalancer_id) == "again" and not self._stop.is_set():
                    self._state[loadbalancer_id] = "running"
                    continue
                self._state.pop(loadbalancer_id, None)
                self._idle.notify_all()
                return

    def _attempts(self, loadbalancer_id):
        attempts = self.conf.controller_worker.reconcile_attempts
        pause = RETRY_PAUSE
        for attempt in range(1, attempts + 1):
            try:
                if self.reconciler.reconcile(loadbalancer_id):   # it took a spare
                    self.replenish()
                return
            except Exception as exc:   # any failure: retry, then report ERROR
                LOG.warning("reconcile of load balancer %s failed (attempt %d of %d): %s",
                            loadbalancer_id, attempt, attempts, exc,
                            exc_info=attempt == attempts)
                if attempt == attempts or self._stop.wait(pause):
                    break
                pause *= 2
        try:
            self.reconciler.fail(loadbalancer_id)
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
        """Queue every load balancer of the provider that has anything in PENDING_*."""
        ids = self.context.library.pending_loadbalancers(self.provider)
        for lb_id in ids:
            self.submit(lb_id)
        return ids

    def _sweep_loop(self):
        interval = self.conf.controller_worker.sweep_interval
        while True:
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
                return

    # -- life cycle ---------------------------------------------------------------------
    def start(self, listen=True):
        """Prepare the compute backend, serve the bus (if listen) and start sweeping."""
        prepare = getattr(self.compute, "prepare", None)
        if prepare is not None:
            prepare()
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
