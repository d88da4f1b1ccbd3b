"""Two health managers on one database, as `[health_manager] controller_ip_port_list` with two
addresses makes them: every amphora sends each heartbeat to both, each processes it, and the
listener counters (deltas) are still counted once.

The managers are two HeartbeatServer + HealthManager pairs in this process, each with its own
Core (its own connection pool, as two `lbaas-health` processes have), on different UDP ports,
against one real PostgreSQL or MariaDB database; the datagrams are real signed UDP datagrams
on loopback. Two processes would add only their start-up time: what is shared between them is
the database, and that is real here. The exclusivity of failover claims between health
managers is tested in tests/unit/test_failover_scanner.py.
"""
import socket
import time

import pytest
from sqlalchemy import select

from lbaas.agent import wire
from lbaas.core import models
from lbaas.core.controller import Core
from lbaas.drivers.amphora.health import HealthManager, HeartbeatServer
from lbaas.drivers.amphora.store import heartbeats
from tests.conftest import SERVER_FIXTURES, database_url, make_conf
from tests.functional.test_health_server import seed

pytestmark = pytest.mark.functional

KEY = "two-managers-key"
BEATS = 40


@pytest.fixture(params=sorted(SERVER_FIXTURES))
def url(request):
    return database_url(request.param, request, "two_hm")


@pytest.fixture
def managers(url):
    """Two (Core, HeartbeatServer) pairs on the same database, receiving."""
    pairs = []
    try:
        for _ in range(2):
            core = Core(make_conf(url, **{"health_manager.heartbeat_key": KEY}))
            server = HeartbeatServer(core.conf, HealthManager(core.context),
                                     bind_ip="127.0.0.1", bind_port=0)
            pairs.append((core, server.start()))
        yield pairs
    finally:
        for core, server in pairs:
            server.stop()
            core.close()


def _beat(amp_id, listener_id, seq):
    """A signed heartbeat whose counters are distinct per seq (so a double shows)."""
    stats = {"tx": 1000 + seq, "rx": 10 + seq, "conns": seq % 7, "totconns": 1, "ereq": seq % 2}
    return wire.encode(wire.make_message(amp_id, seq, listeners={listener_id: {
        "status": "OPEN", "stats": stats}}), KEY), stats


def _statistics(core, listener_id):
    with core.db.read() as session:
        rows = session.execute(select(models.ListenerStatistics).where(
            models.ListenerStatistics.listener_id == listener_id)).scalars().all()
        return [(r.amphora_id, r.bytes_out, r.bytes_in, r.total_connections,
                 r.request_errors, r.active_connections) for r in rows]


def test_two_health_managers_receiving_every_heartbeat_count_it_once(managers, capsys):
    (core, first), (_, second) = managers
    _, listener_id, amp_id = seed(core.db)
    sent = []
    begin = time.monotonic()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for seq in range(BEATS):
            datagram, stats = _beat(amp_id, listener_id, seq)
            sent.append(stats)
            # as an agent does: the same datagram to every controller, in list order (here
            # alternated, so that each manager is sometimes first)
            for server in (first, second) if seq % 2 else (second, first):
                sock.sendto(datagram, server.address)
            time.sleep(0.005)
    for server in (first, second):
        assert server.wait(lambda c: c["processed"] + c["failed"] >= BEATS, 30), \
            server.stats()
        assert server.counters["failed"] == 0, server.stats()
    took = time.monotonic() - begin
    assert _statistics(core, listener_id) == [(
        amp_id, sum(s["tx"] for s in sent), sum(s["rx"] for s in sent), BEATS,
        sum(s["ereq"] for s in sent), sent[-1]["conns"])]
    # each heartbeat's counters were added by one manager and skipped by the other
    skipped = [s.manager.counters["counted_elsewhere"] for s in (first, second)]
    assert sum(skipped) == BEATS, skipped
    health = heartbeats.Heartbeats(core.context).health(amp_id)
    assert health.seq == BEATS - 1 and not health.busy
    with capsys.disabled():
        print(f"\n{core.conf.database.connection.split('+')[0]}: {BEATS} heartbeats to 2 health managers "
              f"handled in {took:.2f} s; counters added once each (skipped by the "
              f"second to arrive: {skipped[0]} + {skipped[1]})")


def test_with_one_health_manager_down_the_other_counts_everything(managers):
    (core, first), (_, second) = managers
    _, listener_id, amp_id = seed(core.db)
    second.stop()   # its address stays in the agents' list: their datagrams to it are lost
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        total = 0
        for seq in range(10):
            datagram, stats = _beat(amp_id, listener_id, seq)
            total += stats["tx"]
            sock.sendto(datagram, first.address)
    assert first.wait(lambda c: c["processed"] >= 10, 30), first.stats()
    assert _statistics(core, listener_id)[0][1] == total
    assert first.manager.counters["counted_elsewhere"] == 0
