"""Jobs of the amphora driver that several processes share, done one at a time.

A job's row (amphora_job) is written first in the transaction that does the job: the row
lock makes a second process doing the same job wait until the first commits, and its
statements then read what the first committed (READ COMMITTED); on Galera, where locks are
not shared between nodes, the two writes of one row conflict at commit and one transaction
is rolled back and run again (Database.retrying). No SERIALIZABLE isolation, no gap lock.
"""
import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from lbaas.core.port import TABLES

_JOB = TABLES.amphora_job
SPARE_POOL = "spare-pool"


def utcnow():
    """Now in naive UTC with microseconds."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class Jobs:
    """The job rows, for one process's database."""

    def __init__(self, database):
        self.db = database
        self._known = set()   # job names whose row this process has seen exist

    def _ensure(self, name):
        """The job's row exists (created in a transaction of its own: a concurrent
        creation by another process is not an error)."""
        if name in self._known:
            return
        with self.db.read() as session:
            found = session.scalar(select(_JOB.c.name).where(_JOB.c.name == name))
        if found is None:
            try:
                with self.db.write() as session:
                    session.execute(_JOB.insert().values(name=name, generation=0,
                                                         updated_at=utcnow()))
            except IntegrityError:
                pass   # another process created it first
        self._known.add(name)

    def prepare(self, name):
        """Make sure the job's row exists; call before the transaction that calls exclusive."""
        self._ensure(name)

    def exclusive(self, session, name):
        """In the caller's write transaction: take the job (its row is written and stays
        locked until that transaction ends); -> the job's new generation."""
        t = _JOB.c
        if not session.execute(update(_JOB).where(t.name == name)
                               .values(generation=t.generation + 1,
                                       updated_at=utcnow())).rowcount:
            raise LookupError(f"amphora job {name!r} has no row: call prepare() first")
        return session.scalar(select(t.generation).where(t.name == name))
