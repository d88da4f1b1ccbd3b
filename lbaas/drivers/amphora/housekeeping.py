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

from sqlalchemy import and_, delete, exists, func, or_, select, update

from lbaas.core import constants as c
from lbaas.core import models
from lbaas.drivers.amphora import certs

LOG = logging.getLogger(__name__)
ROTATABLE = ("ALLOCATED", "READY")
BUSY_STALE = datetime.timedelta(minutes=10)   # a rotation is one agent request: minutes at most
BATCH = 500                                    # rows per purge statement / ids per IN list


def _chunks(items, size=BATCH):
    items = list(items)
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _changed(model):
    """When a row last changed (its creation when it was never updated)."""
    return func.coalesce(model.updated_at, model.created_at)


class Housekeeper:
    """One method per housekeeping job; `run_once` runs them all, `start` every interval."""

    def __init__(self, core, compute, reconciler, clock=models.utcnow):
        """clock: now as naive UTC (the database's convention); tests pass their own."""
        self.core, self.conf, self.compute, self.reconciler = core, core.conf, compute, reconciler
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
        cutoff = self.clock() - datetime.timedelta(seconds=age)
        amp, health = models.Amphora, models.AmphoraHealth
        fresh = exists().where(health.amphora_id == amp.id, health.last_update >= cutoff)
        with self.core.db.read() as session:
            ids = list(session.scalars(select(amp.id).where(
                amp.status == c.DELETED, _changed(amp) < cutoff, ~fresh)))
        for chunk in _chunks(ids):
            with self.core.db.write() as session:
                session.execute(delete(health).where(health.amphora_id.in_(chunk)))
                session.execute(delete(amp).where(amp.id.in_(chunk), amp.status == c.DELETED))
        with self.core.db.write() as session:   # health rows of no amphora at all
            session.execute(delete(health).where(~exists().where(amp.id == health.amphora_id)))
        if ids:
            LOG.info("purged %d deleted amphorae", len(ids))
        return ids

    def purge_load_balancers(self):
        """Delete DELETED load balancer rows older than load_balancer_expiry_age whose
        amphorae are all DELETED; -> the purged ids."""
        age = self._options.load_balancer_expiry_age
        if not age:
            return []
        cutoff = self.clock() - datetime.timedelta(seconds=age)
        lb, amp = models.LoadBalancer, models.Amphora
        serving = exists().where(amp.loadbalancer_id == lb.id, amp.status != c.DELETED)
        with self.core.db.read() as session:
            ids = list(session.scalars(select(lb.id).where(
                lb.provisioning_status == c.DELETED, _changed(lb) < cutoff, ~serving)))
        for chunk in _chunks(ids):
            with self.core.db.write() as session:   # the ORM cascades tags and children
                for row in session.scalars(select(lb).where(
                        lb.id.in_(chunk), lb.provisioning_status == c.DELETED)):
                    session.delete(row)
        if ids:
            LOG.info("purged %d deleted load balancers", len(ids))
        return ids

    def purge_statistics(self):
        """Delete listener_statistics rows whose listener no longer exists; -> rows deleted."""
        stats, listener = models.ListenerStatistics, models.Listener
        with self.core.db.write() as session:
            result = session.execute(delete(stats).where(
                ~exists().where(listener.id == stats.listener_id)))
        return result.rowcount or 0

    # -- orphans ----------------------------------------------------------------------
    def remove_orphans(self):
        """Delete instances orphaned for at least orphan_grace_period; -> the deleted ids."""
        instances = [i.amphora_id for i in self.compute.list()]   # first: see the module doc
        live = set()
        with self.core.db.read() as session:
            for chunk in _chunks(instances):
                live.update(session.scalars(select(models.Amphora.id).where(
                    models.Amphora.id.in_(chunk), models.Amphora.status != c.DELETED)))
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
                self.core.network.release_ports(amphora_id)
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
        amp = models.Amphora
        with self.core.db.read() as session:
            ids = list(session.scalars(select(amp.id).where(
                amp.status.in_(ROTATABLE), amp.cert_expiration < due,
                amp.lb_network_ip.is_not(None)).order_by(amp.cert_expiration)))
        return [amphora_id for amphora_id in ids if self.rotate_certificate(amphora_id, due)]

    def _claim(self, amphora_id, due):
        """Set cert_busy if the amphora still needs rotating and nobody holds it: -> its IP."""
        amp, now = models.Amphora, self.clock()
        free = or_(amp.cert_busy.is_not(True), _changed(amp) < now - BUSY_STALE)
        with self.core.db.write() as session:
            claimed = session.execute(
                update(amp).where(amp.id == amphora_id, amp.status.in_(ROTATABLE),
                                  amp.cert_expiration < due, amp.lb_network_ip.is_not(None),
                                  free)
                .values(cert_busy=True, updated_at=now)
                .execution_options(synchronize_session=False))
            if claimed.rowcount != 1:
                return None
            return session.scalar(select(amp.lb_network_ip).where(amp.id == amphora_id))

    def _release(self, amphora_id, expiration=None):
        amp = models.Amphora
        values = {"cert_busy": False, "updated_at": self.clock()}
        if expiration is not None:
            values["cert_expiration"] = expiration
        with self.core.db.write() as session:
            session.execute(update(amp).where(and_(amp.id == amphora_id, amp.cert_busy.is_(True)))
                            .values(**values).execution_options(synchronize_session=False))

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
