"""Spare pool top-up and housekeeping from two processes at once, on SQLite, PostgreSQL and
MariaDB: no spare beyond spare_amphora_pool_size, no row purged (or reported purged) twice,
no certificate rotated twice.

Each "process" is a Core of its own (its own connection pool) on one database; they race
in threads released together by a barrier. The compute backend and the agents are the noop
ones: what is under test is the database's arbitration, which is real.
"""
import datetime
import threading

import pytest
from sqlalchemy import func, select, update

from lbaas.core import models
from lbaas.core.controller import Core
from lbaas.drivers.amphora.compute.noop import NoopCompute
from lbaas.drivers.amphora.fleet import Fleet
from lbaas.drivers.amphora.store import Amphorae, Jobs
from lbaas.drivers.amphora.store.jobs import SPARE_POOL
from lbaas.drivers.amphora.store.rows import utcnow
from tests.conftest import BACKENDS, database_url, make_conf
from tests.unit.test_housekeeping import (DAY, NOW, _Agents, _amphora, _due_amphora, _keeper,
                                          _lb, _Reconciler)

POOL = 3


@pytest.fixture(scope="module", params=BACKENDS)
def url(request):
    return database_url(request.param, request, "shared_jobs")


@pytest.fixture(scope="module")
def cores(url, tmp_path_factory):
    """Two cores on one database, as two processes have."""
    state = str(tmp_path_factory.mktemp("state"))
    made = [Core(make_conf(url, state_path=state, **{
        "controller_worker.amphora_driver": "amphora_noop_driver",
        "house_keeping.spare_amphora_pool_size": POOL})) for _ in range(2)]
    yield made
    for core in made:
        core.close()


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    from lbaas.drivers.amphora import certs
    return certs.CertificateAuthority.load_or_create(str(tmp_path_factory.mktemp("ca")))


def _race(*calls, **kwargs):
    """Run the calls (with kwargs) in threads released at once; -> their results (raises
    the first error)."""
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(i, call):
        barrier.wait()
        try:
            results[i] = call(**kwargs)
        except Exception as exc:   # noqa: BLE001 - reported below
            errors.append(exc)
    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    if errors:
        raise errors[0]
    return results


def _clear_spares(core):
    with core.db.write() as session:
        session.execute(update(models.Amphora).where(models.Amphora.loadbalancer_id.is_(None))
                        .values(status="DELETED"))


def _spares(core, *statuses):
    with core.db.read() as session:
        return session.scalar(select(func.count()).select_from(models.Amphora).where(
            models.Amphora.loadbalancer_id.is_(None), models.Amphora.status.in_(statuses)))


def test_two_workers_adding_missing_spares_at_once_add_them_once(cores):
    for _ in range(4):
        _clear_spares(cores[0])
        pairs = [(Amphorae(core.context), Jobs(core.db)) for core in cores]
        for _, jobs in pairs:
            jobs.prepare(SPARE_POOL)
        # both transactions start together: each counts the pool, then adds what it lacks
        barrier = threading.Barrier(2)

        def top_up(rows, jobs, barrier=barrier):
            def exclusive(session):
                barrier.wait(10)
                jobs.exclusive(session, SPARE_POOL)
            return lambda: rows.top_up_spares(POOL, exclusive)
        added = _race(*(top_up(rows, jobs) for rows, jobs in pairs))
        assert sorted(len(a) for a in added) == [0, POOL]
        assert _spares(cores[0], "BOOTING") == POOL


def test_two_workers_replenishing_at_once_boot_exactly_the_pool(cores):
    _clear_spares(cores[0])
    fleets = [Fleet(core.context, NoopCompute(boot_delay=0.05), controller="127.0.0.1:5555")
              for core in cores]
    added = _race(*(fleet.replenish_spares for fleet in fleets for _ in range(2)))
    assert sum(added) == POOL, added
    assert _spares(cores[0], "READY") == POOL
    assert _spares(cores[0], "BOOTING") == 0
    assert sum(len(f.compute.list()) for f in fleets) == POOL   # none booted twice
    assert [f.replenish_spares() for f in fleets] == [0, 0]     # full: nothing more


STALE = datetime.timedelta(minutes=1)


def _booting_spare(core):
    amp_id = models.new_id()
    long_ago = utcnow() - 2 * STALE
    with core.db.write() as session:
        session.add(models.Amphora(id=amp_id, status="BOOTING", cert_busy=False,
                                   created_at=long_ago, updated_at=long_ago))
    return amp_id


def test_a_spare_left_booting_by_a_dead_worker_is_taken_over_by_one_worker(cores):
    _clear_spares(cores[0])
    amp_id = _booting_spare(cores[0])
    cutoff = utcnow() - STALE
    taken = _race(*(Amphorae(core.context).take_stale_spares for core in cores), cutoff=cutoff)
    assert sorted(len(t) for t in taken) == [0, 1]
    assert [a.id for t in taken for a in t] == [amp_id]


def test_a_spare_its_booter_still_touches_is_not_taken_over(cores):
    _clear_spares(cores[0])
    amp_id = _booting_spare(cores[0])
    fleet = Fleet(cores[0].context, NoopCompute(), controller="127.0.0.1:5555")
    fleet.booting.add(amp_id)
    assert fleet.touch_spares() == 1
    assert Amphorae(cores[1].context).take_stale_spares(utcnow() - STALE) == []


def test_two_housekeepers_purging_at_once_purge_each_row_once(cores):
    old = NOW - 30 * DAY
    amphorae = {_amphora(cores[0], "DELETED", old) for _ in range(20)}
    lbs = {_lb(cores[0], "DELETED", old) for _ in range(12)}
    keepers = [_keeper(core) for core in cores]
    first, second = _race(*(k.purge_amphorae for k in keepers))
    assert not set(first) & set(second) and amphorae <= set(first) | set(second)
    first, second = _race(*(k.purge_load_balancers for k in keepers))
    assert not set(first) & set(second) and lbs <= set(first) | set(second)
    with cores[0].db.read() as session:
        assert session.scalar(select(func.count()).select_from(models.Amphora).where(
            models.Amphora.id.in_(amphorae))) == 0


def test_two_housekeepers_rotating_at_once_rotate_each_certificate_once(cores, ca):
    due = {_due_amphora(cores[0]) for _ in range(6)}
    agents = [_Agents(), _Agents()]
    keepers = [_keeper(core, reconciler=_Reconciler(ca, a)) for core, a in zip(cores, agents)]
    first, second = _race(*(k.rotate_certificates for k in keepers))
    assert not set(first) & set(second)
    assert due <= set(first) | set(second)
    pushed = [ip for a in agents for ip, _ in a.pushed]
    assert len(pushed) == len(set(first) | set(second))   # one push per rotation
