"""Lost lock races: the database errors after which the whole transaction may simply run again.

The server rolls back the transaction that loses one (or, after a lock wait timeout, its
last statement, and Database.write rolls back the rest), so nothing it wrote is left:
InnoDB's deadlock victim (MySQL/MariaDB error 1213, which is also how Galera reports a write
set that lost certification to another node's), a lock wait that outlasted
innodb_lock_wait_timeout (1205), and PostgreSQL's deadlock_detected (40P01),
serialization_failure (40001) and lock_not_available (55P03, a wait that outlasted an
operator's lock_timeout). lbaas.core.db.Database.retrying runs such a transaction
again; the API answers 409 when the retries run out.
"""
import random

from sqlalchemy.exc import DBAPIError

MYSQL_ERRORS = frozenset({1205, 1213})
POSTGRESQL_STATES = frozenset({"40P01", "40001", "55P03"})
# Pause before retry n (0-based): a random time up to FIRST_PAUSE * 2**n, at most MAX_PAUSE,
# so that the transactions that collided do not collide again in step.
FIRST_PAUSE = 0.02
MAX_PAUSE = 0.5
# How far along __cause__/__context__ to look: a failed ROLLBACK TO SAVEPOINT (InnoDB ends
# the whole transaction on a deadlock, savepoints included) hides the deadlock behind it.
_CHAIN = 8


def _is_lost(exc):
    """Whether one DB-API error is a lost race: by MySQL error number (1205's SQLSTATE is
    the generic HY000) or, for PostgreSQL's drivers, by SQLSTATE."""
    if not isinstance(exc, DBAPIError):
        return False
    args = getattr(exc.orig, "args", ())
    if args and isinstance(args[0], int):
        return args[0] in MYSQL_ERRORS
    return getattr(exc.orig, "sqlstate", None) in POSTGRESQL_STATES


def lost(exc):
    """Whether an exception is a lost lock race, or was raised while handling or from one."""
    for _ in range(_CHAIN):
        if exc is None:
            return False
        if _is_lost(exc):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def pause(attempt):
    """Seconds to wait before retry number `attempt` (0-based): jittered, growing, bounded."""
    return random.uniform(0, min(MAX_PAUSE, FIRST_PAUSE * 2 ** attempt))
