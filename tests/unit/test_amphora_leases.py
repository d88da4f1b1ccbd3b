"""The amphora workers' leases and registry (lbaas.drivers.amphora.store.leases) on SQLite,
PostgreSQL and MariaDB: one holder at a time, renewal, hand-over once a lease expires, and
fencing (a holder whose lease was taken over can no longer write).

Time is each worker's clock, given here as an object the test moves forward, so an expiry
is tested without waiting for it; everything else is the real database.
"""
import datetime
import threading
import uuid

import pytest
from sqlalchemy import select

from lbaas.core import db as core_db
from lbaas.core import models
from lbaas.drivers.amphora.store import Amphorae, LeaseLost, Leases, Registry
from lbaas.drivers.amphora.store.leases import owner
from tests.conftest import BACKENDS, database_url

DURATION = 10.0


class Clock:
    """A worker's clock: now, plus what the test added."""

    def __init__(self):
        self.offset = datetime.timedelta()

    def __call__(self):
        return datetime.datetime.now(datetime.UTC).replace(tzinfo=None) + self.offset

    def advance(self, seconds):
        self.offset += datetime.timedelta(seconds=seconds)


@pytest.fixture(scope="module", params=BACKENDS)
def url(request):
    """A migrated database on each engine."""
    return database_url(request.param, request, "leases")


@pytest.fixture
def database(url):
    database = core_db.Database(url)
    yield database
    database.dispose()


def _lb(database):
    """A new load balancer row (a lease belongs to one); -> its id."""
    lb_id = str(uuid.uuid4())
    with database.write() as session:
        session.add(models.LoadBalancer(id=lb_id, provider="amphora", project_id="p",
                                        provisioning_status="PENDING_CREATE",
                                        operating_status="OFFLINE"))
    return lb_id


def _leases(database, name, clock=None):
    return Leases(database, f"{name}-{uuid.uuid4().hex[:6]}", DURATION, clock or Clock())


class Context:
    """What Amphorae reads of the driver port."""

    def __init__(self, database):
        from lbaas.core.port import TABLES
        self.database, self.tables = database, TABLES


def test_a_held_lease_is_not_claimed_by_another_worker(database):
    lb_id = _lb(database)
    a, b = _leases(database, "a"), _leases(database, "b")
    lease = a.claim(lb_id)
    assert lease.generation == 1 and lease.holder == a.holder
    assert b.claim(lb_id) is None
    assert a.get(lb_id).holder == a.holder


def test_a_claim_refused_asks_the_holder_for_one_more_run(database):
    lb_id = _lb(database)
    a, b = _leases(database, "a"), _leases(database, "b")
    lease = a.claim(lb_id)
    assert b.claim(lb_id) is None          # b's request is left to a
    assert a.get(lb_id).again
    assert a.release(lease) is False       # a runs once more, still holding it
    assert a.get(lb_id).holder == a.holder and not a.get(lb_id).again
    assert a.release(lease) is True        # nothing asked since: given up
    assert a.get(lb_id).holder is None
    again = b.claim(lb_id)                 # free: the next claim takes it, one generation on
    assert again.holder == b.holder and again.generation == 2


def test_a_forced_release_gives_the_lease_up_even_when_asked_again(database):
    lb_id = _lb(database)
    a, b = _leases(database, "a"), _leases(database, "b")
    lease = a.claim(lb_id)
    b.claim(lb_id)
    assert a.release(lease, force=True) is True and a.get(lb_id).holder is None


def test_check_and_renew_extend_the_lease(database):
    lb_id = _lb(database)
    clock = Clock()
    a = _leases(database, "a", clock)
    lease = a.claim(lb_id)
    first = a.get(lb_id).expires_at
    clock.advance(4)
    lease.check()
    assert a.get(lb_id).expires_at >= first + datetime.timedelta(seconds=3.9)
    clock.advance(4)
    assert a.renew() == 1
    assert a.get(lb_id).expires_at >= first + datetime.timedelta(seconds=7.9)


def test_an_expired_lease_is_taken_over_and_its_old_holder_is_fenced_off(database):
    lb_id = _lb(database)
    a_clock, b_clock = Clock(), Clock()
    a, b = _leases(database, "a", a_clock), _leases(database, "b", b_clock)
    stale = a.claim(lb_id)
    b_clock.advance(DURATION - 1)
    assert b.claim(lb_id) is None          # not expired yet
    b_clock.advance(2)                     # a stopped renewing DURATION + 1 s ago
    taken = b.claim(lb_id)
    assert taken.holder == b.holder and taken.generation == stale.generation + 1
    with pytest.raises(LeaseLost):
        stale.check()                      # a's next step stops it
    # a's write under its stale lease is refused, and nothing is written
    rows = Amphorae(Context(database))
    with pytest.raises(LeaseLost):
        rows.add(lb_id, "STANDALONE", None, fence=stale.within)
    assert rows.of_loadbalancer(lb_id) == []
    # the new holder's write goes through
    added = rows.add(lb_id, "STANDALONE", None, fence=taken.within)
    assert [r.id for r in rows.of_loadbalancer(lb_id)] == [added.id]
    # a's renewal and release leave b's lease alone
    assert a.renew() == 0
    assert a.release(stale) is True
    row = a.get(lb_id)
    assert (row.holder, row.generation) == (b.holder, taken.generation)


def test_a_lease_expired_but_not_taken_is_still_its_holders(database):
    lb_id = _lb(database)
    clock = Clock()
    a = _leases(database, "a", clock)
    lease = a.claim(lb_id)
    clock.advance(DURATION + 5)            # paused, but nobody else claimed it meanwhile
    lease.check()
    assert a.get(lb_id).holder == a.holder


def test_concurrent_claims_of_one_load_balancer_give_it_to_exactly_one(database):
    lb_id = _lb(database)
    workers = [_leases(database, f"w{i}") for i in range(6)]
    start, got = threading.Barrier(len(workers)), []

    def claim(leases):
        start.wait()
        got.append(leases.claim(lb_id))

    threads = [threading.Thread(target=claim, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [g for g in got if g is not None]
    assert len(got) == 6 and len(winners) == 1
    assert workers[0].get(lb_id).holder == winners[0].holder


def test_the_lease_row_goes_with_its_load_balancer(database):
    lb_id = _lb(database)
    _leases(database, "a").claim(lb_id)
    with database.write() as session:
        session.delete(session.get(models.LoadBalancer, lb_id))
    with database.read() as session:
        assert session.scalar(select(models.AmphoraLease.loadbalancer_id).where(
            models.AmphoraLease.loadbalancer_id == lb_id)) is None


def test_the_sweep_is_split_between_live_workers_and_taken_whole_when_one_dies(database):
    with database.write() as session:   # registry rows of earlier tests on this database
        session.query(models.AmphoraWorker).delete()
    a_clock, b_clock = Clock(), Clock()
    a = Registry(database, "worker-a", "host-a", DURATION, a_clock)
    b = Registry(database, "worker-b", "host-b", DURATION, b_clock)
    a.beat()
    b.beat()
    ids = [str(uuid.uuid4()) for _ in range(200)]
    mine_a, mine_b = a.mine(ids), b.mine(ids)
    assert set(mine_a) | set(mine_b) == set(ids) and not set(mine_a) & set(mine_b)
    assert 60 < len(mine_a) < 140          # spread, not all on one
    assert all(owner(lb, ["worker-a", "worker-b"]) == "worker-a" for lb in mine_a)
    a_clock.advance(DURATION + 1)          # b stopped beating: a sweeps everything
    a.beat()
    assert a.live() == {"worker-a"} and a.mine(ids) == ids
    b.leave()                              # a stopping worker's row goes at once
    with database.read() as session:
        assert list(session.scalars(select(models.AmphoraWorker.id))) == ["worker-a"]


def test_a_claim_that_does_not_ask_leaves_the_holders_run_alone(database):
    lb_id = _lb(database)
    a, b = _leases(database, "a"), _leases(database, "b")
    lease = a.claim(lb_id)
    assert b.claim(lb_id, ask=False) is None   # the sweep's claim
    assert not a.get(lb_id).again
    assert a.release(lease) is True


class _Reconciles:
    """Stands in for the reconciler: records the lease each reconcile ran under."""

    def __init__(self):
        self.leases = []

    def reconcile(self, lb_id, lease=None):
        self.leases.append(lease)


def test_a_worker_alone_on_an_in_memory_bus_takes_no_lease_until_another_appears(
        database, url):
    """`lbaas serve`'s worker is the only one its casts reach: a lease would cost writes and
    protect nothing. A second live worker on the same database turns leases on."""
    import types

    from lbaas import conf as lbaas_conf
    from lbaas.drivers.amphora.compute.noop import NoopCompute
    from lbaas.drivers.amphora.worker import Worker
    with database.write() as session:   # registry rows of earlier tests on this database
        session.query(models.AmphoraWorker).delete()
    conf = lbaas_conf.make_conf()   # no transport_url: the bus is in memory
    recorder = _Reconciles()
    context = types.SimpleNamespace(conf=conf, library=None, database=database)
    worker = Worker(context, compute=NoopCompute(), reconciler=recorder)
    try:
        lb_id = _lb(database)
        worker.submit(lb_id)
        assert worker.wait_idle(10)
        assert recorder.leases == [None] and worker.leases.get(lb_id) is None
        worker.registry.beat()
        worker.notice_other_workers()
        assert not worker.leasing                  # only itself in the registry
        Registry(database, f"other-{uuid.uuid4().hex[:6]}", "host-b", DURATION).beat()
        worker.notice_other_workers()
        assert worker.leasing
        worker.submit(lb_id)
        assert worker.wait_idle(10)
        [lease] = recorder.leases[1:]
        assert lease.holder == worker.worker_id
        row = worker.leases.get(lb_id)
        assert row.holder is None and row.generation == 1   # claimed, then released
    finally:
        worker.stop()
