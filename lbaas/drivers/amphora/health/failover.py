"""Notice amphorae whose heartbeats stopped and have a worker replace them.

Every `[health_manager] health_check_interval` seconds the scanner looks for ALLOCATED
amphorae whose last valid heartbeat is older than `heartbeat_timeout`. For each, it locks
the load balancer (ACTIVE -> PENDING_UPDATE, compare-and-swap: a load balancer already
being changed is left for the next scan) and marks the amphora's health record busy, in
one transaction, then casts "fail over amphora X". A second health manager running the
same scan therefore never fails the same amphora over twice.

Amphorae that die together go silent up to a heartbeat interval apart; while any other
amphora is already late (1.5 intervals), the scan waits (at most two more intervals) so
that they are judged together.

Circuit breaker: when more than `failover_circuit_breaker` percent of the amphorae that
report heartbeats go silent at once (and at least two), the control plane has most likely
lost its own network, and replacing them all would be a storm. Nothing is failed over;
the silent amphorae are marked FAILOVER_STOPPED (visible in the amphora API) and one
error line is logged. An amphora whose heartbeats resume goes back to ALLOCATED.

A health manager that just started judges nobody for `heartbeat_timeout` seconds: the
heartbeats it missed while it was down say nothing about the amphorae, so restarting
the control plane never fails one over.
"""
import datetime
import logging
import threading

from lbaas.drivers.amphora.store import Heartbeats
from lbaas.drivers.amphora.store.heartbeats import STOPPED
from lbaas.metrics import definitions as m
from lbaas.metrics import liveness

LOG = logging.getLogger(__name__)
SUSPECT_INTERVALS = 1.5   # a heartbeat this many intervals late makes an amphora suspect
PATIENCE_INTERVALS = 2    # how many intervals past the timeout a failover may be held back


def _utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class FailoverScanner:
    """A daemon thread that fails over amphorae whose heartbeats stopped."""

    def __init__(self, context, request_failover, clock=_utcnow):
        """request_failover(loadbalancer_id, amphora_id): cast to a worker, after the claim."""
        self.conf, self.heartbeats = context.conf, Heartbeats(context)
        self.request_failover, self.clock = request_failover, clock
        self.tripped = False
        self.started = clock()
        self._stop = threading.Event()
        self._thread = None

    def _silent(self, now):
        """(silent amphorae, how many are watched, whether to wait one more scan)."""
        hm = self.conf.health_manager
        cutoff = now - datetime.timedelta(seconds=hm.heartbeat_timeout)
        late = now - datetime.timedelta(seconds=SUSPECT_INTERVALS * hm.heartbeat_interval)
        patience = cutoff - datetime.timedelta(seconds=PATIENCE_INTERVALS * hm.heartbeat_interval)
        rows = self.heartbeats.watched()
        silent = [r for r in rows if r.last_update < cutoff and not r.busy]
        # Amphorae that die together fall silent up to a heartbeat apart: while others are
        # already late, wait (a bounded while) to judge them all in the same scan.
        suspects = any(cutoff <= r.last_update < late for r in rows)
        wait = bool(silent) and suspects and min(r.last_update for r in silent) >= patience
        return silent, len(rows), wait

    def scan(self):
        """One pass; returns the ids of the amphorae whose failover it requested."""
        now = self.clock()
        if now - self.started < datetime.timedelta(
                seconds=self.conf.health_manager.heartbeat_timeout):
            return []   # just started: heartbeats missed while it was down prove nothing
        silent, watched, wait = self._silent(now)
        if wait:
            return []
        if not silent:
            if self.tripped:
                LOG.warning("heartbeats are back: amphora failover resumes")
            self._close()
            return []
        share = 100 * len(silent) / max(watched, 1)
        if len(silent) > 1 and share > self.conf.health_manager.failover_circuit_breaker:
            self._trip(silent, watched, share)
            return []
        if self.tripped:
            LOG.warning("heartbeats are back for most amphorae: amphora failover resumes")
            self._close()
        requested = []
        for row in silent:
            if row.status == STOPPED:
                continue   # held by the breaker: heartbeats or an operator release it
            if self.heartbeats.claim_failover(row.id, row.loadbalancer_id):
                requested.append(row.id)
                LOG.warning("amphora %s of load balancer %s sent no heartbeat since %s: "
                            "failing it over", row.id, row.loadbalancer_id, row.last_update)
                m.FAILOVERS.labels("heartbeat").inc()
                self.request_failover(row.loadbalancer_id, row.id)
        return requested

    def _close(self):
        self.tripped = False
        m.BREAKER_OPEN.set(0)

    def _trip(self, silent, watched, share):
        if not self.tripped:
            LOG.error("circuit breaker: %d of %d amphorae (%.0f%%, more than "
                      "[health_manager] failover_circuit_breaker = %d%%) stopped sending "
                      "heartbeats at once; no failover until their heartbeats resume or an "
                      "operator fails them over (they are marked %s)", len(silent), watched,
                      share, self.conf.health_manager.failover_circuit_breaker, STOPPED)
            m.BREAKER_TRIPS.inc()
        self.tripped = True
        m.BREAKER_OPEN.set(1)
        self.heartbeats.hold(r.id for r in silent)

    # -- life cycle ---------------------------------------------------------------------
    def _run(self):
        interval = self.conf.health_manager.health_check_interval
        loop = liveness.register("failover_scan", interval)
        while not self._stop.wait(interval):
            loop.beat()
            try:
                self.scan()
            except Exception:
                LOG.exception("failover scan failed")
        liveness.unregister(loop)

    def start(self):
        """Scan every health_check_interval seconds in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="failover-scan", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop scanning."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
