"""What housekeeping reads and changes: old DELETED amphora rows, certificates coming due."""
import datetime

from sqlalchemy import and_, delete, exists, func, or_, select, update

from lbaas.core import constants as c

ROTATABLE = ("ALLOCATED", "READY")
BATCH = 500   # rows per purge statement


def _changed(table):
    """When a row last changed (its creation when it was never updated)."""
    return func.coalesce(table.c.updated_at, table.c.created_at)


class Upkeep:
    """Housekeeping's queries, for one process's database."""

    def __init__(self, context):
        self.db, self.amphora = context.database, context.tables.amphora
        self.health = context.tables.amphora_health

    def purge_deleted(self, cutoff):
        """Delete DELETED amphora rows unchanged since cutoff whose last heartbeat (if any) is
        older too, with their liveness rows, and liveness rows of no amphora; -> the ids
        this call deleted (two housekeepers purging at once never both report a row)."""
        amp, health = self.amphora, self.health
        fresh = exists().where(health.c.amphora_id == amp.c.id, health.c.last_update >= cutoff)
        with self.db.read() as session:
            ids = list(session.scalars(select(amp.c.id).where(
                amp.c.status == c.DELETED, _changed(amp) < cutoff, ~fresh)))
        purged = []
        for start in range(0, len(ids), BATCH):
            chunk = ids[start:start + BATCH]
            with self.db.write() as session:
                session.execute(delete(health).where(health.c.amphora_id.in_(chunk)))
                purged += _delete_reporting(session, amp, chunk, amp.c.status == c.DELETED)
        with self.db.write() as session:
            session.execute(delete(health).where(
                ~exists().where(amp.c.id == health.c.amphora_id)))
        return purged

    def rotation_due(self, due):
        """Ids of ALLOCATED or READY amphorae whose certificate expires before due, soonest
        first."""
        amp = self.amphora
        with self.db.read() as session:
            return list(session.scalars(select(amp.c.id).where(
                amp.c.status.in_(ROTATABLE), amp.c.cert_expiration < due,
                amp.c.lb_network_ip.is_not(None)).order_by(amp.c.cert_expiration)))

    def claim_rotation(self, amphora_id, due, now, stale):
        """Set cert_busy if the amphora still needs rotating and nobody holds it (a claim older
        than `stale` is taken over): -> its management IP, or None."""
        amp = self.amphora
        free = or_(amp.c.cert_busy.is_not(True), _changed(amp) < now - stale)
        with self.db.write() as session:
            claimed = session.execute(
                update(amp).where(amp.c.id == amphora_id, amp.c.status.in_(ROTATABLE),
                                  amp.c.cert_expiration < due, amp.c.lb_network_ip.is_not(None),
                                  free)
                .values(cert_busy=True, updated_at=now))
            if claimed.rowcount != 1:
                return None
            return session.scalar(select(amp.c.lb_network_ip).where(amp.c.id == amphora_id))

    def release_rotation(self, amphora_id, now, expiration=None):
        """Clear cert_busy, recording the new certificate's expiration when there is one."""
        amp = self.amphora
        values = {"cert_busy": False, "updated_at": now}
        if expiration is not None:
            values["cert_expiration"] = expiration
        with self.db.write() as session:
            session.execute(update(amp).where(and_(amp.c.id == amphora_id,
                                                   amp.c.cert_busy.is_(True))).values(**values))


def _delete_reporting(session, table, ids, *where):
    """Delete rows of `ids` that still match `where`; -> the ids this statement deleted
    (RETURNING where the database has it, else one statement per row)."""
    if session.connection().dialect.delete_returning:
        return list(session.scalars(delete(table).where(table.c.id.in_(ids), *where)
                                    .returning(table.c.id)))
    return [i for i in ids
            if session.execute(delete(table).where(table.c.id == i, *where)).rowcount]


def cutoff(now, seconds):
    """now minus seconds (the age a purge keeps)."""
    return now - datetime.timedelta(seconds=seconds)
