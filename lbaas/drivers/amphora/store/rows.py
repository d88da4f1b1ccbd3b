"""Amphora rows as the fleet and the VRRP pair make, claim, change and delete them."""
import dataclasses
import datetime
import uuid

from sqlalchemy import func, select, update

from lbaas.core import constants as c

SPARE_STATUSES = ("BOOTING", "READY")


def utcnow():
    """Now, as the naive UTC second the rows keep."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None, microsecond=0)


@dataclasses.dataclass
class AmphoraRecord:
    """A copy of one amphora row (changing it changes nothing: Amphorae.set does)."""

    id: str
    loadbalancer_id: str | None = None
    compute_id: str | None = None
    status: str | None = None
    lb_network_ip: str | None = None
    vrrp_ip: str | None = None
    ha_ip: str | None = None
    vrrp_port_id: str | None = None
    ha_port_id: str | None = None
    role: str | None = None
    cert_expiration: datetime.datetime | None = None
    cert_busy: bool = False
    vrrp_interface: str | None = None
    vrrp_id: int | None = None
    vrrp_priority: int | None = None
    cached_zone: str | None = None
    image_id: str | None = None
    compute_flavor: str | None = None
    created_at: datetime.datetime | None = None
    updated_at: datetime.datetime | None = None


FIELDS = tuple(f.name for f in dataclasses.fields(AmphoraRecord))


class Amphorae:
    """The amphora table, for one process's database."""

    def __init__(self, context):
        self.db, self.table = context.database, context.tables.amphora

    def _records(self, session, *where, order=()):
        t = self.table
        rows = session.execute(select(*[t.c[f] for f in FIELDS]).where(*where).order_by(*order))
        return [AmphoraRecord(**row._mapping) for row in rows]

    def of_loadbalancer(self, loadbalancer_id):
        """The load balancer's amphorae that are not DELETED."""
        t = self.table
        with self.db.read() as session:
            return self._records(session, t.c.loadbalancer_id == loadbalancer_id,
                                 t.c.status != c.DELETED)

    def get(self, amphora_id):
        """One amphora, or None."""
        with self.db.read() as session:
            found = self._records(session, self.table.c.id == amphora_id)
        return found[0] if found else None

    def add(self, loadbalancer_id, role, priority, fence=None):
        """A new BOOTING row, committed before anything is built (never an orphan).

        fence(session): run first in the same transaction; it raises (store.LeaseLost) when
        the worker no longer holds the load balancer's lease, and nothing is written.
        """
        amphora_id = str(uuid.uuid4())
        values = {"id": amphora_id, "compute_id": amphora_id, "status": "BOOTING",
                  "loadbalancer_id": loadbalancer_id, "role": role, "vrrp_priority": priority,
                  "cert_busy": False, "created_at": utcnow()}
        with self.db.write() as session:
            if fence is not None:
                fence(session)
            session.execute(self.table.insert().values(values))
        return AmphoraRecord(**values)

    def claim_spare(self, loadbalancer_id, role, priority):
        """Bind the oldest READY spare to the load balancer in a role; None when none is left.

        Two workers never take the same spare: the row is locked (skip-locked, so the other
        takes the next one) where the database has row locks, and SQLite writes one at a time.
        """
        t = self.table
        stmt = select(t.c.id).where(t.c.status == "READY", t.c.loadbalancer_id.is_(None)) \
            .order_by(t.c.created_at).limit(1)
        if not self.db.is_sqlite:
            stmt = stmt.with_for_update(skip_locked=True)
        with self.db.write() as session:
            amphora_id = session.scalar(stmt)
            if amphora_id is None:
                return None
            session.execute(update(t).where(t.c.id == amphora_id).values(
                loadbalancer_id=loadbalancer_id, status="ALLOCATED", role=role,
                vrrp_priority=priority, updated_at=utcnow()))
            return self._records(session, t.c.id == amphora_id)[0]

    def top_up_spares(self, wanted, exclusive):
        """New BOOTING spare rows, as many as the pool lacks of `wanted` (BOOTING and READY
        spares count), in one transaction that first calls exclusive(session): two workers
        topping the pool up at once add the missing ones once (store.jobs)."""
        t = self.table

        def run():
            with self.db.write() as session:
                exclusive(session)
                have = session.scalar(select(func.count()).select_from(t).where(
                    t.c.loadbalancer_id.is_(None), t.c.status.in_(SPARE_STATUSES)))
                rows = []
                for _ in range(max(0, wanted - have)):
                    amphora_id = str(uuid.uuid4())
                    rows.append({"id": amphora_id, "compute_id": amphora_id,
                                 "status": "BOOTING", "loadbalancer_id": None, "role": None,
                                 "vrrp_priority": None, "cert_busy": False,
                                 "created_at": utcnow()})
                if rows:
                    session.execute(t.insert(), rows)
                return [AmphoraRecord(**row) for row in rows]
        return self.db.retrying(run)

    def take_stale_spares(self, cutoff):
        """BOOTING spares unchanged since cutoff (their booter died), each taken by one
        caller only (compare-and-swap of updated_at); -> the records taken."""
        t = self.table
        changed = func.coalesce(t.c.updated_at, t.c.created_at)
        with self.db.read() as session:
            stale = self._records(session, t.c.loadbalancer_id.is_(None),
                                  t.c.status == "BOOTING", changed < cutoff)
        taken = []
        for record in stale:
            now = utcnow()
            with self.db.write() as session:
                if session.execute(update(t).where(
                        t.c.id == record.id, t.c.loadbalancer_id.is_(None),
                        t.c.status == "BOOTING", changed < cutoff)
                        .values(updated_at=now)).rowcount:
                    record.updated_at = now
                    taken.append(record)
        return taken

    def set(self, record, fence=None, **values):
        """Write columns of an amphora (and its copy) when any of them changed.

        fence(session): as for add; nothing is written when it raises.
        """
        if all(getattr(record, k) == v for k, v in values.items()):
            return
        with self.db.write() as session:
            if fence is not None:
                fence(session)
            session.execute(update(self.table).where(self.table.c.id == record.id)
                            .values(updated_at=utcnow(), **values))
        for key, value in values.items():
            setattr(record, key, value)

    def spare_ready(self, amphora_id):
        """A booted spare is READY, unless a load balancer took it meanwhile."""
        t = self.table
        with self.db.write() as session:
            session.execute(update(t).where(t.c.id == amphora_id, t.c.loadbalancer_id.is_(None),
                                            t.c.status == "BOOTING")
                            .values(status="READY", role=None, updated_at=utcnow()))

    def touch_booting_spares(self, amphora_ids):
        """Say these BOOTING spares are still being booted (their updated_at, now), so no
        other worker takes them as stale; -> how many rows."""
        if not amphora_ids:
            return 0
        t = self.table
        with self.db.write() as session:
            return session.execute(update(t).where(
                t.c.id.in_(sorted(amphora_ids)), t.c.loadbalancer_id.is_(None),
                t.c.status == "BOOTING").values(updated_at=utcnow())).rowcount

    def ids_of(self, loadbalancer_id):
        """Ids of the load balancer's amphorae that are not DELETED."""
        t = self.table
        with self.db.read() as session:
            return set(session.scalars(select(t.c.id).where(
                t.c.loadbalancer_id == loadbalancer_id, t.c.status != c.DELETED)))

    def mark_deleted(self, amphora_id):
        """The amphora is gone: DELETED."""
        with self.db.write() as session:
            session.execute(update(self.table).where(self.table.c.id == amphora_id)
                            .values(status=c.DELETED, updated_at=utcnow()))

    def live_ids(self, amphora_ids):
        """Those of amphora_ids that have a row that is not DELETED."""
        t, live, ids = self.table, set(), list(amphora_ids)
        with self.db.read() as session:
            for start in range(0, len(ids), 500):
                live.update(session.scalars(select(t.c.id).where(
                    t.c.id.in_(ids[start:start + 500]), t.c.status != c.DELETED)))
        return live

    def counts(self):
        """{(status, role): how many} of the amphorae that are not DELETED (one query)."""
        t = self.table
        with self.db.read() as session:
            rows = session.execute(select(t.c.status, t.c.role, func.count())
                                   .where(t.c.status != c.DELETED)
                                   .group_by(t.c.status, t.c.role))
            return {(status, role): n for status, role, n in rows}
