"""Housekeeping of the amphora driver: purge old DELETED rows, remove orphaned amphorae,
rotate agent certificates before they expire. Every job is idempotent and safe to run from
several processes at once (`lbaas serve` in-process, `lbaas-housekeeping`).

What is purged, after `[house_keeping]` ages counted from the row's last update (the
moment it became DELETED):

* DELETED load balancers older than `load_balancer_expiry_age`, with their tags and
  additional VIPs (listeners and pools went when the load balancer became DELETED). A
  DELETED load balancer is already 404 to the API; the purge only frees the row. One
  whose amphorae are not all DELETED yet is kept until they are.
* DELETED amphorae older than `amphora_expiry_age` and their `amphora_health` rows; as
  upstream does, an amphora whose health row was refreshed within that age is kept
  (something still answers for it). `amphora_health` rows of no amphora go too.
* `listener_statistics` rows of listeners that no longer exist. Rows of a live listener
  are kept even when their amphora is DELETED or purged: the listener's counters are the
  sum of its rows, and must not go backwards after a failover.

Orphans: an instance of the compute backend whose amphora row is missing or DELETED.
The reconciler inserts (commits) an amphora's row before `compute.create`, and
`delete_amphora` deletes the instance before marking the row DELETED, so listing the
instances *before* reading the rows never mistakes a booting amphora for an orphan. The
grace period (`orphan_grace_period`) is a margin on top of that for other writers and
for a reconcile that re-creates an instance from a stale read: an instance is deleted
only after this housekeeper has seen it orphaned for that long (an in-memory clock, so a
restart starts it over: only ever later, never sooner).

Certificate rotation: for each ALLOCATED or READY amphora whose `cert_expiration` falls
within `cert_rotate_before`, claim it by a compare-and-swap of `cert_busy` (false to
true), issue a new server certificate from the controller's CA, `PUT /1.0/certificate`
to its agent (which writes the file and loads it into its live TLS context; HAProxy is
not touched, traffic is not affected), then store the new expiry and release the claim.
A claim older than BUSY_STALE is taken as left by a crash and may be taken over.
"""
import datetime
import logging
import threading

from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.store import Amphorae, Upkeep
from lbaas.drivers.amphora.store.rows import utcnow

LOG = logging.getLogger(__name__)
BUSY_STALE = datetime.timedelta(minutes=10)   # a rotation is one agent request: minutes at most


class Housekeeper:
    """One method per housekeeping job; `run_once` runs them all, `start` every interval."""

    def __init__(self, context, compute, reconciler, clock=utcnow):
        """clock: now as naive UTC (the database's convention); tests pass their own."""
        self.context, self.conf, self.compute, self.reconciler = context, context.conf, \
            compute, reconciler
        self.rows, self.upkeep = Amphorae(context), Upkeep(context)
        self.clock = clock
        self._suspects = {}        # amphora id -> when first seen orphaned
        self._stop = threading.Event()
        self._thread = None

    @property
    def _options(self):
        return self.conf.house_keeping

    # -- purge ------------------------------------------------------------------------
    def purge_amphorae(self):
        """Delete DELETED amphora rows older than amphora_expiry_age (and their health rows);
        -> the purged ids."""
        age = self._options.amphora_expiry_age
        if not age:
            return []
        ids = self.upkeep.purge_deleted(self.clock() - datetime.timedelta(seconds=age))
        if ids:
            LOG.info("purged %d deleted amphorae", len(ids))
        return ids

    def purge_load_balancers(self):
        """Delete DELETED load balancer rows older than load_balancer_expiry_age whose
        amphorae are all DELETED; -> the purged ids."""
        age = self._options.load_balancer_expiry_age
        if not age:
            return []
        ids = self.context.purge_deleted_loadbalancers(
            self.clock() - datetime.timedelta(seconds=age))
        if ids:
            LOG.info("purged %d deleted load balancers", len(ids))
        return ids

    def purge_statistics(self):
        """Delete listener_statistics rows whose listener no longer exists; -> rows deleted."""
        return self.context.purge_orphan_statistics()

    # -- orphans ----------------------------------------------------------------------
    def remove_orphans(self):
        """Delete instances orphaned for at least orphan_grace_period; -> the deleted ids."""
        instances = [i.amphora_id for i in self.compute.list()]   # first: see the module doc
        live = self.rows.live_ids(instances)
        now = self.clock()
        grace = datetime.timedelta(seconds=self._options.orphan_grace_period)
        orphans = [i for i in instances if i not in live]
        self._suspects = {i: self._suspects.get(i, now) for i in orphans}
        removed = []
        for amphora_id in orphans:
            if now - self._suspects[amphora_id] < grace:
                continue
            LOG.warning("deleting orphaned amphora instance %s (no live amphora row)",
                        amphora_id)
            try:
                self.compute.delete(amphora_id)
                self.context.network.release_ports(amphora_id)
            except Exception:
                LOG.exception("could not delete orphaned amphora %s; next pass retries",
                              amphora_id)
                continue
            self._suspects.pop(amphora_id, None)
            removed.append(amphora_id)
        return removed

    # -- certificates -----------------------------------------------------------------
    def rotate_certificates(self):
        """Give every amphora whose certificate expires within cert_rotate_before a new one;
        -> the ids rotated."""
        before = self._options.cert_rotate_before
        if not before:
            return []
        due = self.clock() + datetime.timedelta(seconds=before)
        return [amphora_id for amphora_id in self.upkeep.rotation_due(due)
                if self.rotate_certificate(amphora_id, due)]

    def _claim(self, amphora_id, due):
        """Set cert_busy if the amphora still needs rotating and nobody holds it: -> its IP."""
        return self.upkeep.claim_rotation(amphora_id, due, self.clock(), BUSY_STALE)

    def _release(self, amphora_id, expiration=None):
        self.upkeep.release_rotation(amphora_id, self.clock(), expiration)

    def rotate_certificate(self, amphora_id, due=None):
        """Rotate one amphora's agent certificate if it is due and unclaimed; -> whether done.

        due: rotate only when the certificate expires before this (default: now plus
        cert_rotate_before).
        """
        if due is None:
            due = self.clock() + datetime.timedelta(seconds=self._options.cert_rotate_before)
        ip = self._claim(amphora_id, due)
        if ip is None:
            return False
        try:
            cert, key = self.reconciler.ca.issue_server(amphora_id, [ip])
            self.reconciler.agents.rotate_certificate(ip, cert + key)
        except Exception as exc:
            LOG.warning("rotating the certificate of amphora %s failed (next pass retries): %s",
                        amphora_id, exc)
            self._release(amphora_id)
            return False
        self._release(amphora_id, certs.expiry(cert))
        LOG.info("rotated the agent certificate of amphora %s (now expires %s)",
                 amphora_id, certs.expiry(cert))
        return True

    # -- running ----------------------------------------------------------------------
    JOBS = ("purge_amphorae", "purge_load_balancers", "purge_statistics", "remove_orphans",
            "rotate_certificates", "renew_client_certificate")

    def renew_client_certificate(self):
        """Renew this process's own client certificate for the agents when it nears expiry."""
        fleet = getattr(self.reconciler, "fleet", None)
        return fleet.refresh_client_certificate() if fleet is not None else False

    def run_once(self):
        """Run every job once; one failing does not stop the others.

        -> {job name: its result, or the exception it raised}.
        """
        results = {}
        for name in self.JOBS:
            try:
                results[name] = getattr(self, name)()
            except Exception as exc:
                LOG.exception("housekeeping job %s failed; the next pass retries", name)
                results[name] = exc
        return results

    def _run(self):
        interval = self._options.cleanup_interval
        while True:
            self.run_once()
            if self._stop.wait(interval):
                return

    def start(self):
        """Run every job now, then every cleanup_interval seconds, in a daemon thread."""
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="amphora-housekeeping",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=30):
        """Stop after the pass in progress (if any) finishes."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def describe(self):
        """One line for `lbaas serve`'s start-up message."""
        return f"upkeep:    amphora housekeeping every {self._options.cleanup_interval} s"
