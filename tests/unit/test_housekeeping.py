"""Housekeeping rules on a real database (SQLite and PostgreSQL): what is purged and when,
which compute instances are orphans, and who may rotate an amphora's certificate."""
import datetime

import pytest
from sqlalchemy import select, update

from lbaas.core import models
from lbaas.core.controller import Core
from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.compute.noop import NoopCompute
from lbaas.drivers.amphora.housekeeping import BUSY_STALE, Housekeeper
from tests.conftest import database_url, make_conf

NOW = datetime.datetime(2026, 11, 24, 12, 0, 0)
DAY = datetime.timedelta(days=1)


@pytest.fixture(scope="module")
def core(backend, request):
    """A core on a database of this module's own (purges touch every row)."""
    core = Core(make_conf(database_url(backend, request, "housekeeping")))
    yield core
    core.close()


def _keeper(core, compute=None, reconciler=None, at=NOW):
    clock = at if callable(at) else (lambda: at)
    return Housekeeper(core.context, compute or NoopCompute(), reconciler, clock=clock)


def _lb(core, status, changed, tags=()):
    lb_id = models.new_id()
    with core.db.write() as session:
        lb = models.LoadBalancer(id=lb_id, project_id="p", provisioning_status=status,
                                 operating_status="OFFLINE", provider="amphora",
                                 created_at=changed - DAY, updated_at=changed)
        session.add(lb)
        session.flush()
        lb.set_tags(tags)
    return lb_id


def _amphora(core, status, changed=NOW, lb_id=None, **columns):
    amp_id = models.new_id()
    with core.db.write() as session:
        session.add(models.Amphora(id=amp_id, loadbalancer_id=lb_id, status=status,
                                   created_at=changed - DAY, updated_at=changed,
                                   cert_busy=False, **columns))
    return amp_id


def _health(core, amp_id, last_update):
    with core.db.write() as session:
        session.add(models.AmphoraHealth(amphora_id=amp_id, last_update=last_update, seq=1,
                                         busy=False))


def _exists(core, model, key):
    with core.db.read() as session:
        return session.get(model, key) is not None


@pytest.fixture
def override(core):
    """Set [house_keeping] options for one test."""
    names = []

    def set_(name, value):
        core.conf.set_override(name, value, group="house_keeping")
        names.append(name)
    yield set_
    for name in names:
        core.conf.clear_override(name, group="house_keeping")


# -- purge -------------------------------------------------------------------------------
def test_deleted_load_balancers_older_than_the_expiry_age_are_purged_with_their_tags(core):
    old = _lb(core, "DELETED", NOW - 8 * DAY, tags=["gone"])
    recent = _lb(core, "DELETED", NOW - 6 * DAY)
    active = _lb(core, "ACTIVE", NOW - 30 * DAY)
    assert old in _keeper(core).purge_load_balancers()
    assert not _exists(core, models.LoadBalancer, old)
    assert not _exists(core, models.Tag, (old, "gone"))
    assert _exists(core, models.LoadBalancer, recent)
    assert _exists(core, models.LoadBalancer, active)


def test_a_deleted_load_balancer_is_kept_while_one_of_its_amphorae_is_not_deleted(core):
    lb_id = _lb(core, "DELETED", NOW - 8 * DAY)
    amp_id = _amphora(core, "ERROR", NOW - 8 * DAY, lb_id=lb_id)
    keeper = _keeper(core)
    assert lb_id not in keeper.purge_load_balancers()
    with core.db.write() as session:
        session.get(models.Amphora, amp_id).status = "DELETED"
    assert lb_id in keeper.purge_load_balancers()
    with core.db.read() as session:   # the DELETED amphora row outlives it, unlinked
        assert session.get(models.Amphora, amp_id).loadbalancer_id is None


def test_an_expiry_age_of_zero_purges_nothing(core, override):
    lb_id = _lb(core, "DELETED", NOW - 800 * DAY)
    amp_id = _amphora(core, "DELETED", NOW - 800 * DAY)
    override("load_balancer_expiry_age", 0)
    override("amphora_expiry_age", 0)
    keeper = _keeper(core)
    assert keeper.purge_load_balancers() == [] and keeper.purge_amphorae() == []
    assert _exists(core, models.LoadBalancer, lb_id) and _exists(core, models.Amphora, amp_id)


def test_deleted_amphorae_older_than_the_expiry_age_are_purged_with_their_health(core):
    old = _amphora(core, "DELETED", NOW - 8 * DAY)
    _health(core, old, NOW - 9 * DAY)
    recent = _amphora(core, "DELETED", NOW - 6 * DAY)
    allocated = _amphora(core, "ALLOCATED", NOW - 30 * DAY)
    purged = _keeper(core).purge_amphorae()
    assert old in purged and recent not in purged and allocated not in purged
    assert not _exists(core, models.Amphora, old)
    assert not _exists(core, models.AmphoraHealth, old)
    assert _exists(core, models.Amphora, recent) and _exists(core, models.Amphora, allocated)


def test_a_deleted_amphora_still_heard_from_within_the_expiry_age_is_kept(core):
    amp_id = _amphora(core, "DELETED", NOW - 8 * DAY)
    _health(core, amp_id, NOW - DAY)
    assert amp_id not in _keeper(core).purge_amphorae()
    assert _exists(core, models.AmphoraHealth, amp_id)


def test_health_rows_of_no_amphora_are_purged(core):
    ghost = models.new_id()
    _health(core, ghost, NOW)
    _keeper(core).purge_amphorae()
    assert not _exists(core, models.AmphoraHealth, ghost)


def test_statistics_of_missing_listeners_go_those_of_live_listeners_stay(core):
    lb_id = _lb(core, "ACTIVE", NOW)
    listener_id, gone_listener = models.new_id(), models.new_id()
    dead_amp = _amphora(core, "DELETED", NOW - 30 * DAY, lb_id=lb_id)
    with core.db.write() as session:
        session.add(models.Listener(id=listener_id, loadbalancer_id=lb_id, project_id="p",
                                    provisioning_status="ACTIVE", operating_status="ONLINE",
                                    protocol="TCP", l4_protocol="TCP", protocol_port=80))
        for lid, amp in ((listener_id, dead_amp), (gone_listener, dead_amp)):
            session.add(models.ListenerStatistics(listener_id=lid, amphora_id=amp,
                                                  bytes_in=10, bytes_out=20))
    keeper = _keeper(core)
    keeper.purge_amphorae()
    assert keeper.purge_statistics() >= 1
    assert not _exists(core, models.ListenerStatistics, (gone_listener, dead_amp))
    # the live listener's counters still include what the purged amphora served
    assert _exists(core, models.ListenerStatistics, (listener_id, dead_amp))


# -- orphans -----------------------------------------------------------------------------
def test_instances_without_a_live_row_are_deleted_only_after_the_grace_period(core):
    compute = NoopCompute()
    live = _amphora(core, "ALLOCATED")
    deleted = _amphora(core, "DELETED")
    missing = models.new_id()
    for amp_id in (live, deleted, missing):
        compute.create(amp_id)
    clock = [NOW]
    keeper = _keeper(core, compute, at=lambda: clock[0])
    assert keeper.remove_orphans() == []                   # first seen orphaned now
    clock[0] = NOW + datetime.timedelta(seconds=59)
    assert keeper.remove_orphans() == []                   # grace (60 s) not over
    clock[0] = NOW + datetime.timedelta(seconds=60)
    assert sorted(keeper.remove_orphans()) == sorted([deleted, missing])
    assert [i.amphora_id for i in compute.list()] == [live]


def test_an_instance_whose_row_appears_is_no_longer_a_suspect(core):
    compute = NoopCompute()
    amp_id = models.new_id()
    compute.create(amp_id)
    clock = [NOW]
    keeper = _keeper(core, compute, at=lambda: clock[0])
    keeper.remove_orphans()
    with core.db.write() as session:
        session.add(models.Amphora(id=amp_id, status="BOOTING", cert_busy=False))
    clock[0] = NOW + 2 * DAY
    assert keeper.remove_orphans() == [] and compute.exists(amp_id)


def test_a_zero_grace_period_deletes_an_orphan_at_first_sight(core, override):
    compute = NoopCompute()
    amp_id = models.new_id()
    compute.create(amp_id)
    override("orphan_grace_period", 0)
    assert _keeper(core, compute).remove_orphans() == [amp_id]


# -- certificate rotation ----------------------------------------------------------------
class _Agents:
    """Records certificate pushes; `during` runs inside the push (a concurrent housekeeper)."""

    def __init__(self, during=None, fail=False):
        self.pushed, self.during, self.fail = [], during, fail

    def rotate_certificate(self, ip, pem):
        if self.during is not None:
            self.during()
        if self.fail:
            raise OSError("agent unreachable")
        self.pushed.append((ip, pem))


class _Reconciler:
    def __init__(self, ca, agents):
        self.ca, self.agents = ca, agents


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return certs.CertificateAuthority.load_or_create(str(tmp_path_factory.mktemp("ca")))


def _row(core, amp_id):
    with core.db.read() as session:
        return session.get(models.Amphora, amp_id)


def _due_amphora(core, status="ALLOCATED", busy=False, changed=NOW):
    amp_id = _amphora(core, status, changed, lb_network_ip="192.0.2.7",
                      cert_expiration=NOW + 2 * DAY)
    if busy:   # a statement: the ORM would stamp updated_at with the real clock
        with core.db.write() as session:
            session.execute(update(models.Amphora).where(models.Amphora.id == amp_id)
                            .values(cert_busy=True, updated_at=changed))
    return amp_id


def test_a_certificate_expiring_within_the_window_is_rotated_and_its_expiry_stored(core, ca):
    amp_id = _due_amphora(core)
    later = _amphora(core, "ALLOCATED", lb_network_ip="192.0.2.8",
                     cert_expiration=NOW + 20 * DAY)
    agents = _Agents()
    rotated = _keeper(core, reconciler=_Reconciler(ca, agents)).rotate_certificates()
    assert amp_id in rotated and later not in rotated
    (ip, pem), = [p for p in agents.pushed if p[0] == "192.0.2.7"]
    row = _row(core, amp_id)
    assert row.cert_busy is False
    assert row.cert_expiration == certs.expiry(pem) > NOW + 20 * DAY


def test_two_housekeepers_never_rotate_one_amphora_at_once(core, ca):
    amp_id = _due_amphora(core)
    second = []
    other = _keeper(core, reconciler=_Reconciler(ca, _Agents()))
    agents = _Agents(during=lambda: second.append(other.rotate_certificate(amp_id)))
    assert _keeper(core, reconciler=_Reconciler(ca, agents)).rotate_certificate(amp_id)
    assert second == [False]                   # cert_busy was held by the first
    assert _row(core, amp_id).cert_busy is False


def test_a_failed_push_releases_the_claim_and_keeps_the_old_expiry(core, ca):
    amp_id = _due_amphora(core)
    keeper = _keeper(core, reconciler=_Reconciler(ca, _Agents(fail=True)))
    assert keeper.rotate_certificate(amp_id) is False
    row = _row(core, amp_id)
    assert row.cert_busy is False and row.cert_expiration == NOW + 2 * DAY


def test_a_claim_left_by_a_crash_is_taken_over_once_stale(core, ca):
    amp_id = _due_amphora(core, busy=True, changed=NOW)
    agents = _Agents()
    assert _keeper(core, reconciler=_Reconciler(ca, agents)).rotate_certificate(amp_id) is False
    stale = NOW + BUSY_STALE + datetime.timedelta(seconds=1)
    assert _keeper(core, reconciler=_Reconciler(ca, agents), at=stale) \
        .rotate_certificate(amp_id) is True


def test_deleted_and_booting_amphorae_are_not_rotated(core, ca):
    ids = [_due_amphora(core, status) for status in ("DELETED", "BOOTING", "ERROR")]
    agents = _Agents()
    rotated = _keeper(core, reconciler=_Reconciler(ca, agents)).rotate_certificates()
    assert not set(ids) & set(rotated)


def test_run_once_reports_a_failing_job_and_runs_the_others(core, ca):
    class Broken(NoopCompute):
        def list(self):
            raise RuntimeError("compute down")
    results = _keeper(core, Broken(), _Reconciler(ca, _Agents())).run_once()
    assert isinstance(results["remove_orphans"], RuntimeError)
    assert isinstance(results["purge_amphorae"], list)
    assert isinstance(results["rotate_certificates"], list)
    with core.db.read() as session:
        assert session.scalars(select(models.Amphora).where(
            models.Amphora.cert_busy.is_(True), models.Amphora.status != "DELETED")).all() == []
