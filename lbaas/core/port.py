"""The port of in-tree provider drivers: the whole of what lbaas lends them.

Out-of-tree drivers reach lbaas through octavia-lib's DriverLibrary sockets
(lbaas.driver_agent). In-tree drivers are handed a DriverContext once, through
`bind_context(context)` right after they are loaded, and use nothing else of lbaas's
process: not the ORM, not the Core. docs/driver-authors.md documents it as the in-tree
extension of octavia-lib's contract.

What it holds:
- `conf`, the process's configuration, and `network`, its network backend (the
  lbaas.core.network.NetworkBackend seam);
- `library`: octavia-lib's status, statistics and get calls, in-process, plus lbaas's
  reconcile helpers (loadbalancer_tree, pending_loadbalancers, loadbalancer_id_of,
  update_amphora_status);
- `desired(lb_id)`: a whole load balancer as octavia-lib models, built and pruned in core;
- `after_commit(fn)`: run fn once the API's transaction commits (a cast to a worker);
- `shared(name, factory)`: one object per process and name (a driver's worker thread),
  stopped when the process's core closes;
- for drivers that keep rows of their own (the amphora driver): `database` (sessions whose
  transactions commit or roll back as a unit) and `tables`, the SQLAlchemy Core tables
  they own, plus the core operations on load balancers those rows take part in
  (`lock_for_failover`, `purge_deleted_loadbalancers`, `purge_orphan_statistics`).
"""
import dataclasses
import logging
import threading

from sqlalchemy import delete, exists, func, select, update

from lbaas.core import constants as c
from lbaas.core import desired as desired_state
from lbaas.core import models
from lbaas.core.db import defer_after_commit

LOG = logging.getLogger(__name__)
PURGE_BATCH = 500   # load balancer rows per purge transaction
Desired = desired_state.Desired   # what desired() returns


@dataclasses.dataclass(frozen=True)
class Tables:
    """The tables the amphora driver owns (SQLAlchemy Core Table objects)."""

    amphora: object
    amphora_health: object
    listener_statistics: object
    amphora_lease: object
    amphora_worker: object
    amphora_job: object


TABLES = Tables(models.Amphora.__table__, models.AmphoraHealth.__table__,
                models.ListenerStatistics.__table__, models.AmphoraLease.__table__,
                models.AmphoraWorker.__table__, models.AmphoraJob.__table__)


class DriverContext:
    """Everything an in-tree provider driver may use of lbaas, for one process."""

    def __init__(self, conf, network, library, database):
        self.conf, self.network, self.library, self.database = conf, network, library, database
        self.tables = TABLES
        self._shared, self._lock = {}, threading.Lock()

    @staticmethod
    def after_commit(fn):
        """Run fn once the current API transaction commits (dropped on rollback); at once
        outside one."""
        defer_after_commit(fn)

    def desired(self, loadbalancer_id):
        """A load balancer's desired state (lbaas.core.desired.Desired), or None when it no
        longer exists."""
        with self.database.read() as session:
            return desired_state.load(session, loadbalancer_id)

    def loadbalancer_ids(self, provider):
        """Ids of the provider's load balancers that are not DELETED."""
        lbs = models.LoadBalancer
        with self.database.read() as session:
            return set(session.scalars(select(lbs.id).where(
                lbs.provider == provider, lbs.provisioning_status != c.DELETED)))

    # -- per-process objects ----------------------------------------------------------------
    def shared(self, name, factory):
        """The process's object `name`, made by factory() the first time it is asked for."""
        with self._lock:
            if name not in self._shared:
                self._shared[name] = factory()
            return self._shared[name]

    def close(self):
        """Stop every shared object that has a stop(), the last made first (at the core's
        close)."""
        with self._lock:
            held, self._shared = list(self._shared.items()), {}
        for name, obj in reversed(held):
            stop = getattr(obj, "stop", None)
            if stop is not None:
                try:
                    stop()
                except Exception:   # one failing must not keep the others running
                    LOG.exception("stopping %s failed", name)

    # -- core operations on load balancers that drivers' rows take part in ------------------
    @staticmethod
    def lock_for_failover(session, loadbalancer_id):
        """In the caller's transaction: ACTIVE -> PENDING_UPDATE by compare-and-swap, as an
        API write locks a load balancer; False when it is being changed already."""
        lbs = models.LoadBalancer
        return bool(session.execute(
            update(lbs).where(lbs.id == loadbalancer_id, lbs.provisioning_status == c.ACTIVE)
            .values(provisioning_status=c.PENDING_UPDATE, updated_at=models.utcnow())
            .execution_options(synchronize_session=False)).rowcount)

    def purge_deleted_loadbalancers(self, cutoff):
        """Delete DELETED load balancer rows unchanged since cutoff and without a live
        amphora (their children and tags go with them); -> the ids this call purged (rows
        locked skip-locked where the database has row locks: two housekeepers purging at
        once take disjoint rows, never both the same)."""
        lb, amp = models.LoadBalancer, models.Amphora
        changed = func.coalesce(lb.updated_at, lb.created_at)
        serving = exists().where(amp.loadbalancer_id == lb.id, amp.status != c.DELETED)
        with self.database.read() as session:
            ids = list(session.scalars(select(lb.id).where(
                lb.provisioning_status == c.DELETED, changed < cutoff, ~serving)))
        purged = []
        for start in range(0, len(ids), PURGE_BATCH):
            stmt = select(lb).where(lb.id.in_(ids[start:start + PURGE_BATCH]),
                                    lb.provisioning_status == c.DELETED)
            if not self.database.is_sqlite:
                stmt = stmt.with_for_update(skip_locked=True, of=lb)
            with self.database.write() as session:   # the ORM cascades tags and children
                for row in session.scalars(stmt):
                    purged.append(row.id)
                    session.delete(row)
        return purged

    def purge_orphan_statistics(self):
        """Delete listener_statistics rows whose listener no longer exists; -> rows deleted."""
        stats, listener = models.ListenerStatistics, models.Listener
        with self.database.write() as session:
            result = session.execute(delete(stats).where(
                ~exists().where(listener.id == stats.listener_id)))
        return result.rowcount or 0
