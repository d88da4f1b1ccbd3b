"""The failover scanner on a real database (SQLite and PostgreSQL): who is failed over, once,
and when the circuit breaker holds everything instead."""
import datetime
import uuid

import pytest
from sqlalchemy import delete, update

from lbaas.core import models
from lbaas.drivers.amphora.health.failover import STOPPED, FailoverScanner

LBS = "/v2/lbaas/loadbalancers"
NOW = datetime.datetime(2026, 11, 24, 12, 0, 0)


@pytest.fixture
def core(app):
    return app.extensions["lbaas_core"]


@pytest.fixture
def fleet(client, core, project):
    """Create n ACTIVE load balancers, each with one ALLOCATED amphora heard from at NOW."""
    def make(n):
        found = []
        for _ in range(n):
            resp = client.post(LBS, {"loadbalancer": {"project_id": project,
                                                      "vip_subnet_id": str(uuid.uuid4())}})
            lb_id = resp.get_json()["loadbalancer"]["id"]
            client.wait(f"{LBS}/{lb_id}", "loadbalancer")
            amp_id = models.new_id()
            with core.db.write() as session:
                session.add(models.Amphora(id=amp_id, loadbalancer_id=lb_id, status="ALLOCATED",
                                           role="STANDALONE"))
                session.add(models.AmphoraHealth(amphora_id=amp_id, last_update=NOW, seq=1,
                                                 busy=False))
            found.append((lb_id, amp_id))
        return found
    yield make
    with core.db.write() as session:   # the module shares one database: leave no amphora
        session.execute(delete(models.AmphoraHealth))
        session.execute(delete(models.Amphora))


def _scanner(core, seconds_later, calls, started=-60):
    """A scanner whose clock says NOW + seconds_later; it started `started` s from NOW."""
    times = iter([NOW + datetime.timedelta(seconds=started)])
    return FailoverScanner(core.context, lambda lb, amp: calls.append((lb, amp)),
                           clock=lambda: next(times, NOW + datetime.timedelta(
                               seconds=seconds_later)))


def _status(core, model, object_id, field):
    with core.db.read() as session:
        return getattr(session.get(model, object_id), field)


def _hear(core, amp_id, seconds_later):
    with core.db.write() as session:
        session.execute(update(models.AmphoraHealth)
                        .where(models.AmphoraHealth.amphora_id == amp_id)
                        .values(last_update=NOW + datetime.timedelta(seconds=seconds_later)))


def test_a_silent_amphora_is_failed_over_once_with_its_load_balancer_locked(core, fleet):
    (lb1, amp1), (lb2, amp2), (lb3, amp3) = fleet(3)
    calls = []
    assert _scanner(core, 2, calls).scan() == []          # within heartbeat_timeout (3 s)
    for amp in (amp2, amp3):
        _hear(core, amp, 9)
    assert _scanner(core, 10, calls).scan() == [amp1]
    assert calls == [(lb1, amp1)]
    assert _status(core, models.LoadBalancer, lb1, "provisioning_status") == "PENDING_UPDATE"
    assert _status(core, models.AmphoraHealth, amp1, "busy") is True
    assert _scanner(core, 11, calls).scan() == []          # claimed: never twice
    assert _status(core, models.LoadBalancer, lb2, "provisioning_status") == "ACTIVE"


def test_a_load_balancer_being_changed_is_left_for_the_next_scan(core, fleet):
    (lb1, amp1), (_, amp2), (_, amp3) = fleet(3)
    for amp in (amp2, amp3):
        _hear(core, amp, 9)
    with core.db.write() as session:
        session.get(models.LoadBalancer, lb1).provisioning_status = "PENDING_UPDATE"
    calls = []
    assert _scanner(core, 10, calls).scan() == [] and calls == []
    assert _status(core, models.AmphoraHealth, amp1, "busy") is False   # not half-claimed


def test_most_amphorae_silent_at_once_trip_the_breaker_and_stay_held(core, fleet):
    pairs = fleet(4)
    _hear(core, pairs[3][1], 9)
    calls = []
    scanner = _scanner(core, 10, calls)
    assert scanner.scan() == [] and scanner.tripped and calls == []   # 3 of 4 silent: 75%
    held = [amp for _, amp in pairs[:3]]
    assert {_status(core, models.Amphora, a, "status") for a in held} == {STOPPED}
    assert {_status(core, models.LoadBalancer, lb, "provisioning_status")
            for lb, _ in pairs} == {"ACTIVE"}
    # one comes back: below the threshold now, yet the held ones wait for an operator
    _hear(core, held[0], 12)
    with core.db.write() as session:
        session.get(models.Amphora, held[0]).status = "ALLOCATED"
    assert _scanner(core, 12, calls).scan() == [] and calls == []


def test_a_single_silent_amphora_is_failed_over_even_when_it_is_the_only_one(core, fleet):
    [(lb1, amp1)] = fleet(1)
    calls = []
    assert _scanner(core, 10, calls).scan() == [amp1]      # 100% but only one: no storm


def test_a_health_manager_that_just_started_fails_nobody_over(core, fleet):
    [(lb1, amp1)] = fleet(1)
    calls = []
    # down from NOW + 1 to NOW + 9: the amphora's last heartbeat it knows is 10 s old
    assert _scanner(core, 10, calls, started=9).scan() == [] and calls == []
    assert _scanner(core, 13, calls, started=9).scan() == [amp1]   # silent 3 s after start


def test_amphorae_dying_a_heartbeat_apart_are_judged_together(core, fleet):
    pairs = fleet(4)
    _hear(core, pairs[1][1], 0.9)
    _hear(core, pairs[2][1], 0.9)
    _hear(core, pairs[3][1], 3.4)      # the healthy one
    calls = []
    early = _scanner(core, 3.5, calls)
    assert early.scan() == [] and not early.tripped     # one dead, two late: wait
    later = _scanner(core, 4.0, calls)
    assert later.scan() == [] and later.tripped and calls == []   # all three at once: held


def test_a_late_neighbour_holds_a_failover_back_only_briefly(core, fleet):
    (lb1, amp1), (_, amp2) = fleet(2)
    calls = []
    _hear(core, amp2, 1.9)             # amp2 stays late (1.6 s) at every scan below
    assert _scanner(core, 3.5, calls).scan() == []
    _hear(core, amp2, 3.5)
    assert _scanner(core, 5.1, calls).scan() == [amp1]   # 5.1 s: patience is over
