"""Database engines and units of work: one request, one transaction, hooks run after commit."""
import contextlib
import itertools
import logging
import os
import threading
import time

from sqlalchemy import create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from lbaas.core import direct, lost_race, private

LOG = logging.getLogger(__name__)
_local = threading.local()

# MySQL/MariaDB sessions: every code point (utf8mb4), and errors instead of silent
# truncation or zero dates (TRADITIONAL, as oslo.db sets for OpenStack services).
MYSQL_CHARSET = "utf8mb4"
MYSQL_SQL_MODE = "TRADITIONAL"


def defer_after_commit(fn):
    """Run fn once the current unit of work commits (dropped on rollback); at once outside one."""
    hooks = getattr(_local, "hooks", None)
    if hooks is None:
        fn()
    else:
        hooks.append(fn)


def _sqlite_engine(url, immediate, **options):
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30},
                           **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take SQLite's write lock up front so that concurrent
        # compare-and-swap updates serialise instead of failing mid-way.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


def _mysql_url(url):
    """A MySQL URL with charset=utf8mb4 unless it names a charset of its own."""
    parsed = make_url(url)
    if "charset" in parsed.query:
        return parsed
    return parsed.update_query_dict({"charset": MYSQL_CHARSET})


def _server_engine(url, pool_size, direct=False):
    """The engine of a database server (PostgreSQL, MySQL/MariaDB); direct: the connection
    factory of lbaas.core.direct (no pool, no pre-ping, no pool metrics).

    Writes run at READ COMMITTED, PostgreSQL's default, on MySQL too, where it is not the
    default: each statement reads what is committed when it runs, so a count taken after a
    row lock (quotas) sees every row the lock holder committed; and InnoDB takes no gap
    locks for searches, so writers of unrelated rows never wait on each other.
    """
    options = {"poolclass": NullPool} if direct else \
        {"pool_size": pool_size, "max_overflow": pool_size, "pool_pre_ping": True}
    if make_url(url).get_backend_name() == "mysql":
        url = _mysql_url(url)
        options.update(isolation_level="READ COMMITTED",
                       connect_args={"sql_mode": MYSQL_SQL_MODE})
    engine = create_engine(url, **options)
    if not direct:
        watch_pool(engine, pool_size)
    return engine


def watch_pool(engine, pool_size):
    """Keep lbaas_db_pool_* (lbaas.metrics) current with the engine's pool."""
    from lbaas.metrics import definitions as m
    m.DB_POOL_SIZE.inc(pool_size)

    def _overflow():
        m.DB_POOL_OVERFLOW.set(max(engine.pool.overflow(), 0))

    @event.listens_for(engine, "checkout")
    def _on_checkout(*_):
        m.DB_POOL_CHECKED_OUT.inc()
        _overflow()

    @event.listens_for(engine, "checkin")
    def _on_checkin(*_):
        m.DB_POOL_CHECKED_OUT.dec()
        _overflow()


def sqlite_file(url):
    """The file of a SQLite database URL; None for another engine or an in-memory database."""
    if not url.startswith("sqlite"):
        return None
    path = url.split("///", 1)[-1].split("?", 1)[0]
    return path if path and path != ":memory:" and "///" in url else None


def make_private(url):
    """A SQLite database only this user may read: its folder 0700 when made here, the file
    and its -wal/-shm 0600 (SQLite gives the files it adds the database file's mode).
    Nothing for other engines."""
    path = sqlite_file(url)
    if path is None:
        return
    private.ensure_dir(os.path.dirname(os.path.abspath(path)), tighten=False)
    private.ensure_file(path)
    for suffix in ("-wal", "-shm", "-journal"):
        private.tighten_if_present(path + suffix)


class ReadOnlySession(Session):
    """A session for reads: it never writes (a flush with changes raises).

    On servers its connection runs in autocommit, so there is no BEGIN/ROLLBACK round
    trip per read. At PostgreSQL's READ COMMITTED each statement takes its own snapshot
    inside a transaction too, so what the reads see is the same. Autoflush is off
    because a flush here would commit at once: changes made to objects of a read
    session stay in memory and are discarded, as the rollback used to discard them.
    """


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_writes(session, _flush_context, _instances):
    if session.new or session.dirty or session.deleted:
        raise RuntimeError("a read session cannot write; use Database.write()")


class Database:
    """The engines of one process and the sessions made from them."""

    def __init__(self, url, pool_size=10, retries=4):
        self.url = url
        self.retries = retries
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            make_private(url)
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
            self.direct = direct.Reader(_sqlite_engine(url, immediate=False, poolclass=NullPool))
        else:
            self.write_engine = _server_engine(url, pool_size)
            # Same pool; connections handed to readers are switched to autocommit.
            self.read_engine = self.write_engine.execution_options(
                isolation_level="AUTOCOMMIT")
            self.direct = direct.Reader(_server_engine(url, pool_size, direct=True),
                                        keep=pool_size)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, class_=ReadOnlySession,
                                    expire_on_commit=False, autoflush=False)

    @contextlib.contextmanager
    def write(self):
        """A session in one write transaction; commits on success, then runs deferred hooks."""
        outer = getattr(_local, "hooks", None)
        if outer is not None:
            raise RuntimeError("nested write transactions are not supported")
        _local.hooks = []
        try:
            with self._writer() as session, session.begin():
                _local.write = (self, session)
                yield session
            hooks = _local.hooks
            _local.commits = getattr(_local, "commits", 0) + 1
        finally:
            _local.hooks = None
            _local.write = None
        for hook in hooks:
            hook()

    def retrying(self, fn, *args, **kwargs):
        """fn(*args, **kwargs), run again while its write transaction loses a lock race.

        A deadlock, a lock wait timeout or a Galera certification conflict (see
        lbaas.core.lost_race) rolled the transaction back, so running fn again from the start
        is the same as running it once, up to `retries` more times. Never after fn committed
        a transaction of its own (running that again would repeat a write), and never inside
        an open write() (the caller owning that transaction decides): the error is raised.
        """
        if getattr(_local, "hooks", None) is not None:
            return fn(*args, **kwargs)
        for attempt in itertools.count():
            before = getattr(_local, "commits", 0)
            try:
                return fn(*args, **kwargs)
            except DBAPIError as exc:
                if attempt >= self.retries or getattr(_local, "commits", 0) != before \
                        or not lost_race.lost(exc):
                    raise
                LOG.info("transaction lost a lock race (%s); running it again (retry %d of %d)",
                         exc.orig, attempt + 1, self.retries)
            time.sleep(lost_race.pause(attempt))

    def current_write(self):
        """The session of this thread's open write() on this database, or None.

        For code the core calls inside its transaction (a network backend recording a VIP)
        that must write in that same transaction rather than wait for it.
        """
        open_write = getattr(_local, "write", None)
        return open_write[1] if open_write and open_write[0] is self else None

    @contextlib.contextmanager
    def read(self):
        """A session for reads only."""
        with self._reader() as session:
            yield session

    @contextlib.contextmanager
    def connection(self):
        """A Core connection for reads only (no ORM session: the hot GET paths, whose
        queries select columns into records, skip the session's bookkeeping)."""
        with self.read_engine.connect() as connection:
            yield connection

    def dispose(self):
        """Close every pooled connection, and the direct readers'."""
        self.direct.close()
        self.write_engine.dispose()
        if self.is_sqlite:
            self.read_engine.dispose()
