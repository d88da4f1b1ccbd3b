"""Leases: which amphora worker may reconcile a load balancer, and the registry of live ones.

One row per load balancer (amphora_lease) names its holder, until when it holds it
(expires_at), a generation that grows with every claim (the fencing token), and whether
another worker asked for a run while it held it (again). Every change is one
compare-and-swap UPDATE on that row's primary key, or an INSERT of a missing row, so it
needs no SERIALIZABLE isolation, takes no gap lock at READ COMMITTED, and is safe on Galera
(a certification conflict rolls one writer back: Database.retrying runs it again). Times
are the workers' clocks in naive UTC: hosts must keep them in sync (NTP), far closer than
the lease duration.

One row per running worker (amphora_worker) says when it was last seen; the workers seen
within a lease duration are the live ones the sweep is spread over.
"""
import dataclasses
import datetime
import hashlib

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from lbaas.core.port import TABLES

_LEASE = TABLES.amphora_lease
_WORKER = TABLES.amphora_worker


class LeaseLost(Exception):
    """This worker no longer holds the load balancer's lease: it must stop at once."""


def utcnow():
    """Now in naive UTC with microseconds."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


@dataclasses.dataclass(frozen=True)
class Lease:
    """A claim of one load balancer by one worker, at one generation (the fencing token)."""

    loadbalancer_id: str
    holder: str
    generation: int
    store: "Leases" = dataclasses.field(repr=False, compare=False, default=None)

    def check(self):
        """Still held (and renewed for a whole duration), or LeaseLost."""
        self.store.check(self)

    def within(self, session):
        """Still held, checked in the caller's write transaction, or LeaseLost."""
        self.store.within(session, self)


class Leases:
    """The lease rows, for one worker (holder) and one process's database."""

    def __init__(self, database, holder, duration, clock=utcnow):
        self.db, self.holder, self.clock = database, holder, clock
        self.duration = datetime.timedelta(seconds=duration)

    def _mine(self, lease):
        t = _LEASE.c
        return (t.loadbalancer_id == lease.loadbalancer_id, t.holder == lease.holder,
                t.generation == lease.generation)

    # -- claiming and releasing --------------------------------------------------------
    def claim(self, loadbalancer_id, ask=True):
        """The load balancer's lease for this worker, or None when another holds it; if ask,
        the holder is then asked to run once more after its current run, which covers this
        request (a sweep does not ask: what the holder's run does not finish, the next
        sweep finds)."""
        for _ in range(3):   # the holder released, or the row appeared, in between
            lease = self.db.retrying(self._take_over, loadbalancer_id) \
                or self.db.retrying(self._create, loadbalancer_id)
            if lease is not None:
                return lease
            if not ask or self.db.retrying(self._ask_again, loadbalancer_id):
                return None
        return None

    def _values(self):
        return {"holder": self.holder, "expires_at": self.clock() + self.duration,
                "again": False}

    def _take_over(self, loadbalancer_id):
        """The lease if it is free or expired (its generation one higher), else None."""
        t, now = _LEASE.c, self.clock()
        with self.db.write() as session:
            if not session.execute(
                    update(_LEASE).where(t.loadbalancer_id == loadbalancer_id,
                                         t.holder.is_(None) | (t.expires_at < now))
                    .values(generation=t.generation + 1, **self._values())).rowcount:
                return None
            return Lease(loadbalancer_id, self.holder, session.scalar(
                select(t.generation).where(t.loadbalancer_id == loadbalancer_id)), self)

    def _create(self, loadbalancer_id):
        """The first lease of a load balancer; None when its row exists already (or the load
        balancer's row is gone)."""
        try:
            with self.db.write() as session:
                session.execute(_LEASE.insert().values(loadbalancer_id=loadbalancer_id,
                                                       generation=1, **self._values()))
        except IntegrityError:
            return None
        return Lease(loadbalancer_id, self.holder, 1, self)

    def _ask_again(self, loadbalancer_id):
        """Ask the current holder for one more run; False when nobody holds it any more."""
        t, now = _LEASE.c, self.clock()
        with self.db.write() as session:
            return bool(session.execute(
                update(_LEASE).where(t.loadbalancer_id == loadbalancer_id,
                                     t.holder.is_not(None), t.expires_at >= now)
                .values(again=True)).rowcount)

    def release(self, lease, force=False):
        """Give the lease up after a run; False when another run was asked for meanwhile
        (the lease is kept, renewed, for that run) unless force (the worker stops: the
        sweep finds what is left pending). A lost lease is not touched: True."""
        return self.db.retrying(self._release, lease, force)

    def _release(self, lease, force):
        t = _LEASE.c
        with self.db.write() as session:
            unasked = () if force else (t.again.is_(False),)
            if session.execute(update(_LEASE).where(*self._mine(lease), *unasked)
                               .values(holder=None, expires_at=None, again=False)).rowcount:
                return True
            return not session.execute(
                update(_LEASE).where(*self._mine(lease))
                .values(again=False, expires_at=self.clock() + self.duration)).rowcount

    # -- fencing -----------------------------------------------------------------------
    def check(self, lease):
        """Renew the lease for a whole duration, or raise LeaseLost when another worker has
        taken it over (called before each step of a reconcile)."""
        self.db.retrying(self._check, lease)

    def _check(self, lease):
        with self.db.write() as session:
            self.within(session, lease)

    def within(self, session, lease):
        """The same check in the caller's write transaction: what it writes commits only if
        the lease is still held (the row stays locked until then), else LeaseLost."""
        if not session.execute(update(_LEASE).where(*self._mine(lease))
                               .values(expires_at=self.clock() + self.duration)).rowcount:
            raise LeaseLost(f"load balancer {lease.loadbalancer_id}: lease generation "
                            f"{lease.generation} of {lease.holder} was taken over")

    def renew(self):
        """Extend every lease this worker holds by a whole duration; -> how many."""
        def run():
            with self.db.write() as session:
                return session.execute(update(_LEASE).where(_LEASE.c.holder == self.holder)
                                       .values(expires_at=self.clock() + self.duration)
                                       ).rowcount
        return self.db.retrying(run)

    def get(self, loadbalancer_id):
        """The lease row of a load balancer (holder, generation, expires_at, again), or None."""
        with self.db.read() as session:
            return session.execute(select(_LEASE).where(
                _LEASE.c.loadbalancer_id == loadbalancer_id)).first()


class Registry:
    """The live amphora workers: one row each, refreshed while the worker runs."""

    FORGET_AFTER = 10   # lease durations after which a silent worker's row is deleted

    def __init__(self, database, worker_id, host, duration, clock=utcnow):
        self.db, self.worker_id, self.host, self.clock = database, worker_id, host, clock
        self.duration = datetime.timedelta(seconds=duration)

    def beat(self):
        """Say this worker is alive now (its row created or refreshed); rows of workers
        silent for FORGET_AFTER durations are deleted."""
        def run():
            now, t = self.clock(), _WORKER.c
            with self.db.write() as session:
                if not session.execute(update(_WORKER).where(t.id == self.worker_id)
                                       .values(last_seen=now)).rowcount:
                    session.execute(_WORKER.insert().values(id=self.worker_id, host=self.host,
                                                            last_seen=now))
            stale = now - self.FORGET_AFTER * self.duration
            with self.db.read() as session:
                gone = list(session.scalars(select(t.id).where(t.last_seen < stale)))
            if gone:
                with self.db.write() as session:
                    session.execute(delete(_WORKER).where(t.id.in_(gone),
                                                          t.last_seen < stale))
        self.db.retrying(run)

    def leave(self):
        """This worker stops: its row goes, so the others take its share of the sweep now."""
        with self.db.write() as session:
            session.execute(delete(_WORKER).where(_WORKER.c.id == self.worker_id))

    def live(self):
        """Ids of the workers seen within a lease duration, this one included."""
        with self.db.read() as session:
            found = set(session.scalars(select(_WORKER.c.id).where(
                _WORKER.c.last_seen >= self.clock() - self.duration)))
        return found | {self.worker_id}

    def mine(self, loadbalancer_ids):
        """Those of loadbalancer_ids this worker sweeps: each goes to one live worker
        (rendezvous hashing: a worker joining or leaving moves only its own share)."""
        workers = sorted(self.live())
        return [lb for lb in loadbalancer_ids if owner(lb, workers) == self.worker_id]


def owner(loadbalancer_id, workers):
    """The worker among `workers` a load balancer hashes to (highest random weight)."""
    return max(workers, key=lambda w: hashlib.sha256(f"{w}/{loadbalancer_id}".encode())
               .digest())
