"""What a heartbeat leaves in the database, and what the failover scanner reads and claims.

Liveness (amphora_health: when the last valid heartbeat came, its sequence number, whether a
failover claimed the amphora) and per-amphora listener counters (listener_statistics, which
core sums for the statistics API). Each heartbeat costs one read (`target`) and at most one
write transaction (`record`).

Amphorae send every heartbeat to every health manager, so several may handle the same one.
The counters are deltas: they are added only by the transaction whose compare-and-swap
moves the amphora's liveness row to that heartbeat's seq (`UPDATE ... SET seq = :seq WHERE
amphora_id = :id AND seq < :seq`, or the row's first INSERT), so each heartbeat is counted
once whichever manager gets there first, on a row lock or (Galera) a certification conflict
and a retry, with no SERIALIZABLE isolation. A heartbeat handled after a later one of the
same amphora (a manager running more than a heartbeat interval late) adds nothing; a seq
more than RESTART_GAP below the stored one is a sender that started over.
"""
import collections
import datetime
import functools

from sqlalchemy import bindparam, case, literal_column, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from lbaas.core.port import TABLES

STOPPED = "FAILOVER_STOPPED"   # held by the failover circuit breaker
RESTART_GAP = 1000   # seqs below the stored one taken as a sender that lost its state
UNSEEN = -1          # the seq of a liveness row written before the first heartbeat
# Heartbeat counter (wire format v3) -> ListenerStatistics column. All are deltas since the
# amphora's previous heartbeat and are added, except "conns", the current connection count.
DELTA_COLUMNS = {"tx": "bytes_out", "rx": "bytes_in", "totconns": "total_connections",
                 "ereq": "request_errors"}
ABSOLUTE_COLUMNS = {"conns": "active_connections"}
# What the columns hold (BIGINT; active_connections INTEGER). A counter stops at its
# column's limit instead of failing the heartbeat's transaction, liveness included.
COLUMN_MAX = dict.fromkeys(DELTA_COLUMNS.values(), 2 ** 63 - 1) | {"active_connections":
                                                                    2 ** 31 - 1}

Target = collections.namedtuple("Target", "amphora_id loadbalancer_id status")

_UPSERT_INSERTS = {"sqlite": sqlite.insert, "postgresql": postgresql.insert}
_HEALTH = TABLES.amphora_health
_STATS = TABLES.listener_statistics
_AMPHORA = TABLES.amphora
_TARGET = select(_AMPHORA.c.loadbalancer_id, _AMPHORA.c.status).where(
    _AMPHORA.c.id == bindparam("id"))


def _stat_rows(amphora_id, counters):
    rows = []
    for listener_id, stats in counters.items():
        row = {"listener_id": listener_id, "amphora_id": amphora_id}
        for key, column in {**DELTA_COLUMNS, **ABSOLUTE_COLUMNS}.items():
            # a negative or oversized value is a sender bug: kept within the column
            row[column] = min(max(int(stats.get(key, 0)), 0), COLUMN_MAX[column])
        rows.append(row)
    return rows


def _saturating_sum(column, delta):
    """column + delta, stopping at the column's limit (the sum never overflows).

    The limit is a constant in the SQL, not a bound parameter: PyMySQL's executemany
    batches the rows of an INSERT only when every parameter belongs to a row.
    """
    limit = literal_column(str(COLUMN_MAX[column.name]))
    return case((column > limit - delta, limit), else_=column + delta)


@functools.cache
def _upserts(dialect_name):
    """(insert-if-missing of a liveness row, statistics upsert) for dialects with a native
    upsert, or None.

    Built once: executed with parameters only, they skip SQLAlchemy's statement building.
    """
    if dialect_name == "mysql":
        return _mysql_upserts()
    insert = _UPSERT_INSERTS.get(dialect_name)
    if insert is None:
        return None
    # RETURNING says whether the row was inserted (the rowcount of a single-row INSERT is
    # -1 through SQLAlchemy on psycopg)
    health = insert(_HEALTH).on_conflict_do_nothing(index_elements=[_HEALTH.c.amphora_id]) \
        .returning(_HEALTH.c.amphora_id)
    stats = insert(_STATS)
    set_ = {c: _saturating_sum(_STATS.c[c], stats.excluded[c]) for c in DELTA_COLUMNS.values()}
    set_.update({c: stats.excluded[c] for c in ABSOLUTE_COLUMNS.values()})
    stats = stats.on_conflict_do_update(
        index_elements=[_STATS.c.listener_id, _STATS.c.amphora_id], set_=set_)
    return health, stats


def _mysql_upserts():
    """The same two in MySQL's INSERT IGNORE and INSERT .. ON DUPLICATE KEY UPDATE."""
    health = mysql.insert(_HEALTH).prefix_with("IGNORE")
    stats = mysql.insert(_STATS)
    set_ = {c: _saturating_sum(_STATS.c[c], stats.inserted[c]) for c in DELTA_COLUMNS.values()}
    set_.update({c: stats.inserted[c] for c in ABSOLUTE_COLUMNS.values()})
    return health, stats.on_duplicate_key_update(set_)


def _insert_missing(conn, health, upsert):
    """Insert a liveness row unless the amphora has one; -> whether it was inserted."""
    if upsert is not None:
        result = conn.execute(upsert, health)
        return result.first() is not None if result.returns_rows else result.rowcount > 0
    try:
        with conn.begin_nested():
            conn.execute(_HEALTH.insert(), health)
    except IntegrityError:
        return False
    return True


def _advance(conn, health, alive, upsert):
    """Move the amphora's liveness row to this heartbeat's seq (and, if alive, its time) by
    compare-and-swap, creating it when missing; -> whether this heartbeat is the first to do
    so (its counters are then to be added). Not alive and no row: nothing to compare with,
    True (an amphora never watched, never alive: one manager's view at most)."""
    t, seq = _HEALTH.c, health["seq"]
    newer = (t.seq < seq) | (t.seq > seq + RESTART_GAP)
    values = {"seq": seq, **({"last_update": health["last_update"]} if alive else {})}
    if conn.execute(update(_HEALTH).where(t.amphora_id == health["amphora_id"], newer)
                    .values(values)).rowcount:
        return True
    if not alive:
        return conn.execute(select(t.amphora_id).where(
            t.amphora_id == health["amphora_id"])).first() is None
    if _insert_missing(conn, health, upsert):
        return True
    conn.execute(update(_HEALTH).where(t.amphora_id == health["amphora_id"],
                                       t.last_update < health["last_update"])
                 .values(last_update=health["last_update"]))
    return False


def _upsert_stats_portably(conn, rows):
    """UPDATE, then INSERT what was missing (other dialects; the caller holds the lock)."""
    for row in rows:
        values = {c: _saturating_sum(_STATS.c[c], row[c]) for c in DELTA_COLUMNS.values()}
        values.update({c: row[c] for c in ABSOLUTE_COLUMNS.values()})
        done = conn.execute(update(_STATS).where(_STATS.c.listener_id == row["listener_id"],
                                                 _STATS.c.amphora_id == row["amphora_id"])
                            .values(values))
        if not done.rowcount:
            conn.execute(_STATS.insert(), row)


def utcnow():
    """Now in naive UTC with microseconds (liveness is judged in seconds, not whole ones)."""
    return datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)


class Heartbeats:
    """Liveness and counters of amphorae, for one process's database."""

    def __init__(self, context):
        self.context, self.db = context, context.database

    def target(self, amphora_id):
        """The amphora a heartbeat names (its load balancer id and status), or None."""
        with self.db.read() as session:
            row = session.execute(_TARGET, {"id": amphora_id}).first()
        return None if row is None else Target(amphora_id, row.loadbalancer_id, row.status)

    def record(self, amphora_id, seq, counters, alive=True, now=None):
        """Store one heartbeat's effects in one transaction (none when there is nothing to
        store); -> whether its counters were added (False: another health manager, or this
        one, handled this heartbeat or a later one already).

        alive: refresh the amphora's liveness row (last_update = now, seq), creating it.
        counters: {listener_id: {"tx", "rx", "conns", "totconns", "ereq"}} from the
        heartbeat; the deltas are added to the (listener_id, amphora_id) statistics row,
        created at zero when missing, and active_connections is overwritten with "conns".
        """
        rows = _stat_rows(amphora_id, counters)
        if not alive and not rows:
            return False
        health = {"amphora_id": amphora_id, "seq": int(seq), "busy": False,
                  "last_update": utcnow() if now is None else now}
        return self.db.retrying(self._store, health, alive, rows)

    def _store(self, health, alive, rows):
        """One write transaction of a heartbeat's liveness and, if it is the first to be
        handled, its counter rows."""
        with self.db.write() as session:
            conn = session.connection()
            upserts = _upserts(conn.dialect.name)
            if not _advance(conn, health, alive, upserts and upserts[0]):
                return False
            if rows:
                if upserts is None:
                    _upsert_stats_portably(conn, rows)
                else:
                    conn.execute(upserts[1], rows)
            return True

    def health(self, amphora_id):
        """The amphora's liveness (last_update, seq, busy), or None before its first valid
        heartbeat."""
        with self.db.read() as session:
            return session.execute(select(_HEALTH).where(
                _HEALTH.c.amphora_id == amphora_id)).first()

    def resume(self, amphora_id):
        """An amphora held by the failover circuit breaker sends heartbeats again:
        ALLOCATED."""
        with self.db.write() as session:
            session.execute(update(_AMPHORA)
                            .where(_AMPHORA.c.id == amphora_id, _AMPHORA.c.status == STOPPED)
                            .values(status="ALLOCATED", updated_at=utcnow().replace(
                                microsecond=0)))

    def watch(self, amphora_id):
        """Start judging an amphora's liveness now, before its first heartbeat (idempotent).

        An amphora that died before its first heartbeat would otherwise never be missed.
        """
        with self.db.write() as session:
            if session.execute(select(_HEALTH.c.amphora_id).where(
                    _HEALTH.c.amphora_id == amphora_id)).first() is None:
                session.execute(_HEALTH.insert().values(amphora_id=amphora_id,
                                                        last_update=utcnow(), seq=UNSEEN,
                                                        busy=False))

    # -- the failover scanner -------------------------------------------------------------
    def watched(self):
        """Every amphora whose liveness is judged: ALLOCATED or held, with a load balancer
        (id, loadbalancer_id, status, last_update, busy)."""
        with self.db.read() as session:
            return session.execute(
                select(_AMPHORA.c.id, _AMPHORA.c.loadbalancer_id, _AMPHORA.c.status,
                       _HEALTH.c.last_update, _HEALTH.c.busy)
                .join(_HEALTH, _HEALTH.c.amphora_id == _AMPHORA.c.id)
                .where(_AMPHORA.c.status.in_(("ALLOCATED", STOPPED)),
                       _AMPHORA.c.loadbalancer_id.is_not(None))).all()

    def claim_failover(self, amphora_id, loadbalancer_id):
        """Mark the amphora busy and lock its load balancer, atomically; False if another
        health manager has it or the load balancer is being changed (the next scan looks
        again)."""
        with self.db.write() as session:
            def mark(was, now):
                return session.execute(
                    update(_HEALTH).where(_HEALTH.c.amphora_id == amphora_id,
                                          _HEALTH.c.busy.is_(was))
                    .values(busy=now)).rowcount
            if not mark(False, True):
                return False
            if not self.context.lock_for_failover(session, loadbalancer_id):
                mark(True, False)
                return False
        return True

    def hold(self, amphora_ids):
        """The circuit breaker holds these amphorae: FAILOVER_STOPPED (ALLOCATED ones)."""
        with self.db.write() as session:
            session.execute(update(_AMPHORA)
                            .where(_AMPHORA.c.id.in_(list(amphora_ids)),
                                   _AMPHORA.c.status == "ALLOCATED")
                            .values(status=STOPPED, updated_at=utcnow().replace(microsecond=0)))
