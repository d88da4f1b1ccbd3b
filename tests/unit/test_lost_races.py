"""Real deadlocks on MariaDB and PostgreSQL: the victim's transaction runs again (Database.retrying).

Two threads lock two rows in opposite order, meeting at a barrier after their first lock,
so the server must pick a deadlock victim (InnoDB at once, PostgreSQL after its 1 s
deadlock_timeout). Each transaction adds 1 to both rows.
"""
import collections
import threading
import uuid

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from lbaas.core import db as core_db
from lbaas.core import lost_race, models
from tests.conftest import SERVER_FIXTURES, database_url


@pytest.fixture(scope="module", params=list(SERVER_FIXTURES))
def url(request):
    """A migrated database on each database server."""
    return database_url(request.param, request, "lost_races")


@pytest.fixture
def rows(url):
    """Two quota records (their loadbalancer column counts the transactions), as ids."""
    database = core_db.Database(url)
    ids = ["r-" + uuid.uuid4().hex[:12] for _ in range(2)]
    with database.write() as session:
        session.add_all(models.Quota(project_id=i, loadbalancer=0) for i in ids)
    database.dispose()
    return ids


def _bump(session, project_id):
    """Add 1 to a record's counter: the row stays locked until the transaction ends."""
    session.execute(update(models.Quota).where(models.Quota.project_id == project_id)
                    .values(loadbalancer=models.Quota.loadbalancer + 1))


def _counters(database, ids):
    with database.read() as session:
        return [session.get(models.Quota, i).loadbalancer for i in ids]


def _collide(database, ids, savepoint=False, commit_first=False):
    """Run the two crossing transactions, each through database.retrying; returns the number
    of attempts of each and the errors that escaped."""
    meet = threading.Barrier(2)
    attempts, escaped = collections.Counter(), {}

    def crossing(name, first, second):
        if commit_first:   # a transaction of its own that commits before the crossing one
            with database.write() as session:
                _bump(session, first)
        attempts[name] += 1
        with database.write() as session:
            _bump(session, first)
            if attempts[name] == 1:
                meet.wait(timeout=30)
            if savepoint:
                with session.begin_nested():
                    _bump(session, second)
            else:
                _bump(session, second)

    def run(name, first, second):
        try:
            database.retrying(crossing, name, first, second)
        except Exception as exc:  # kept for the assertions
            escaped[name] = exc

    threads = [threading.Thread(target=run, args=("a", ids[0], ids[1])),
               threading.Thread(target=run, args=("b", ids[1], ids[0]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return attempts, escaped


@pytest.mark.parametrize("savepoint", [False, True], ids=["plain", "in-a-savepoint"])
def test_the_deadlock_victim_runs_again_and_both_transactions_commit(url, rows, savepoint):
    database = core_db.Database(url, retries=2)
    try:
        attempts, escaped = _collide(database, rows, savepoint=savepoint)
        assert escaped == {}
        assert sorted(attempts.values()) == [1, 2]   # one victim, run once more
        assert _counters(database, rows) == [2, 2]
    finally:
        database.dispose()


def test_without_retries_the_victim_fails_with_a_lost_race_and_writes_nothing(url, rows):
    database = core_db.Database(url, retries=0)
    try:
        attempts, escaped = _collide(database, rows)
        assert list(attempts.values()) == [1, 1] and len(escaped) == 1
        [error] = escaped.values()
        assert isinstance(error, OperationalError) and lost_race.lost(error)
        assert _counters(database, rows) == [1, 1]   # the winner's two bumps only
    finally:
        database.dispose()


def test_a_function_that_committed_before_losing_is_not_run_again(url, rows):
    database = core_db.Database(url, retries=2)
    try:
        attempts, escaped = _collide(database, rows, commit_first=True)
        assert list(attempts.values()) == [1, 1] and len(escaped) == 1
        assert lost_race.lost(next(iter(escaped.values())))
        assert _counters(database, rows) == [2, 2]   # one first commit each, the winner's bumps
    finally:
        database.dispose()
