"""Selects run straight on DBAPI connections kept for them: the API's hottest reads.

GET one load balancer and the status tree are what polling clients send most. Through an
SQLAlchemy Connection each of their statements paid for the execution machinery, and each
request for a pool checkout with a pre-ping and an isolation-level switch there and back:
together several times the cost of the statements themselves. Here a select is compiled
once per dialect and run on an autocommit connection of the reader's own; its rows come
back as plain tuples holding the values SQLAlchemy would give (the columns' result
processors applied).

Nothing is cached but the compiled text and the connections: every call reads the
database, so what a driver committed is what the next read sees, in every process. A
connection the server dropped (a restart, a failover) is replaced, with every idle one (they
are as old), and the select run again, once (a read is safe to repeat). The connections
are outside the engine's pool (docs/operators.md).
"""
import logging
import os

from sqlalchemy.exc import DBAPIError

LOG = logging.getLogger(__name__)


class Select:
    """A select statement, compiled once per dialect into its SQL text and row handling."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled = {}

    def compiled(self, dialect):
        """(sql, defaults, positional names or None, row converter or None) for a dialect."""
        found = self._compiled.get(dialect.name)
        if found is None:
            found = self._compiled[dialect.name] = _compile(self.statement, dialect)
        return found


def _compile(statement, dialect):
    compiled = statement.compile(dialect=dialect)
    for name, bind in compiled.binds.items():
        if bind.expanding or bind.type.dialect_impl(dialect).bind_processor(dialect):
            raise ValueError(f"parameter {name} needs SQLAlchemy's execution: not a direct read")
    defaults = {name: bind.value for name, bind in compiled.binds.items()}
    names = tuple(compiled.positiontup) if dialect.positional else None
    processors = [column.type.dialect_impl(dialect).result_processor(dialect, None)
                  for column in statement.selected_columns]
    return compiled.string, defaults, names, _converter(processors)


def _converter(processors):
    """A function converting a row's driver values as SQLAlchemy would; None if none needs it."""
    if not any(processors):
        return None
    processors = tuple(processors)

    def convert(row):
        return tuple(p(v) if p is not None else v for p, v in zip(processors, row))
    return convert


class Reader:
    """The direct reads of one database, on autocommit DBAPI connections it keeps.

    A read takes the most recently returned idle connection (a list pop, no pre-ping) and
    gives it back after; at most `keep` idle ones are kept. Whatever serves requests (a
    fixed pool of threads, or a thread per request) holds no more connections than it runs
    reads at once.
    """

    def __init__(self, engine, keep=10):
        # `engine` has a NullPool: each connection is made with the engine's set-up
        # (the dialect's initialisation, SQLite's PRAGMAs), then ours alone
        self._engine = engine
        self.dialect = engine.dialect
        self._keep = keep
        self._idle = []
        self._pid = os.getpid()
        self._pipelines = _pipelines(engine.dialect)

    def together(self, reads):
        """The rows of each (Select, params) of `reads`, as tuples, in order, read on one
        connection: with psycopg in one pipeline (one round trip for them all), else one by
        one."""
        statements = [self._statement(select, params) for select, params in reads]
        for attempt in (0, 1):
            connection, cursors = self._checkout(), []
            try:
                found = self._run(connection, statements, cursors)
            except self.dialect.loaded_dbapi.Error as exc:
                gone = self.dialect.is_disconnect(exc, connection, cursors[-1] if cursors
                                                  else None)
                for cursor in cursors:
                    _close_quietly(cursor)
                if gone:   # the others idle since before it most likely went too
                    _close_quietly(connection)
                    self.close_idle()
                else:
                    self._checkin(connection)
                if not gone or attempt:
                    sql, values, _ = statements[len(cursors) - 1 if cursors else 0]
                    raise DBAPIError.instance(sql, values, exc,
                                              self.dialect.loaded_dbapi.Error) from exc
                continue
            self._checkin(connection)
            return found
        raise AssertionError("unreachable")

    def _statement(self, select, params):
        """(sql, values in the driver's parameter style, row converter or None)."""
        sql, defaults, names, convert = select.compiled(self.dialect)
        values = {**defaults, **params} if defaults else params
        if names is not None:
            values = tuple(values[name] for name in names)
        return sql, values, convert

    def _run(self, connection, statements, cursors):
        """Execute `statements` on `connection` (adding each cursor to `cursors`), then
        fetch and convert their rows."""
        if len(statements) > 1 and self._pipelines:
            with connection.pipeline():   # sent at once; the block's end waits for all
                for sql, values, _ in statements:
                    cursors.append(connection.cursor())
                    cursors[-1].execute(sql, values)
        else:
            for sql, values, _ in statements:
                cursors.append(connection.cursor())
                cursors[-1].execute(sql, values)
        found = []
        for cursor, (_, _, convert) in zip(cursors, statements):
            rows = cursor.fetchall()
            cursor.close()
            found.append([convert(row) for row in rows] if convert is not None else rows)
        return found

    def _checkout(self):
        if self._pid != os.getpid():   # forked: the parent's connections are not ours
            self._idle, self._pid = [], os.getpid()
        try:
            return self._idle.pop()   # atomic: no lock needed
        except IndexError:
            pass
        proxied = self._engine.raw_connection()
        connection = proxied.dbapi_connection
        proxied.detach()   # ours from now on: the engine forgets it
        self.dialect.set_isolation_level(connection, "AUTOCOMMIT")
        return connection

    def _checkin(self, connection):
        if len(self._idle) < self._keep and self._pid == os.getpid():
            self._idle.append(connection)
        else:
            _close_quietly(connection)

    def close_idle(self):
        """Close the idle connections (those in use are kept when they come back)."""
        idle, self._idle = self._idle, []
        for connection in idle:
            _close_quietly(connection)

    def close(self):
        """Close the idle connections and the engine (Database.dispose)."""
        self.close_idle()
        self._engine.dispose()


def _pipelines(dialect):
    """Whether the dialect's driver can send several statements at once (psycopg 3 on a
    libpq with pipeline mode)."""
    if dialect.driver != "psycopg":
        return False
    import psycopg
    return psycopg.Pipeline.is_supported()


def _close_quietly(thing):
    try:
        thing.close()
    except Exception as exc:  # noqa: BLE001 - closing what the server already dropped
        LOG.debug("closing %r: %s", thing, exc)

