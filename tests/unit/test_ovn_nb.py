"""The Converge command against a real NB ovsdb-server (testbed/cloud/ovn_nb.py): idempotent, repairing,
and blind to rows that are not lbaas's."""
import time

import pytest

from lbaas.drivers.ovn import nb, plan
from testbed.cloud import ovn_nb


@pytest.fixture(scope="module")
def ovn_databases(tmp_path_factory):
    yield from ovn_nb.session_databases(tmp_path_factory)


@pytest.fixture(scope="module")
def northbound(ovn_databases):
    ovn_databases.nbctl("ls-add", "u-ls", "--", "lr-add", "u-lr")
    ovn_databases.nbctl("lsp-add", "u-ls", "u-vm1", "--", "lsp-set-addresses", "u-vm1",
                        "00:00:00:00:40:11 10.62.0.11")
    conn = nb.Northbound(ovn_databases.nb.connection, 5)
    yield conn
    conn.stop()


def _plan(lb_id, members=1, switch="u-ls"):
    backends = ",".join(f"10.62.{i // 250}.{i % 250 + 1}:80" for i in range(members))
    row = plan.Row(name=f"lbaas-{lb_id}-l", protocol="tcp", vips={"10.63.0.5:80": backends},
                   selection_fields=["ip_src"], options={}, external_ids={plan.LB_KEY: lb_id},
                   health_check={"vip": "10.63.0.5:80", "options": {"interval": "2"},
                                 "external_ids": {plan.HM_KEY: "hm"}},
                   mappings={"10.62.0.11": ("u-ls", "10.62.0.2")})
    return plan.Plan(lb_id, {row.name: row}, {switch}, {"u-lr"})


def _rows(dbs, lb_id):
    return [r for r in ovn_nb.rows(dbs.nbctl, "Load_Balancer")
            if r["external_ids"].get(plan.LB_KEY) == lb_id]


def test_converging_twice_changes_nothing(northbound, ovn_databases):
    northbound.converge(_plan("a"))
    first = _rows(ovn_databases, "a")
    northbound.converge(_plan("a"))
    assert _rows(ovn_databases, "a") == first
    assert first[0]["ip_port_mappings"] == {"10.62.0.11": "u-vm1:10.62.0.2"}


def test_duplicates_are_deleted_and_other_rows_left_alone(northbound, ovn_databases):
    northbound.converge(_plan("b"))
    ovn_databases.nbctl("create", "Load_Balancer", "name=lbaas-b-l",
                        'external_ids:"lbaas:loadbalancer_id"=b')
    ovn_databases.nbctl("lb-add", "theirs", "10.64.0.1:80", "10.64.0.2:80")
    northbound.converge(_plan("b"))
    assert len(_rows(ovn_databases, "b")) == 1
    assert "theirs" in ovn_databases.nbctl("lb-list")
    northbound.converge(plan.Plan("b", {}, set(), set()))
    assert _rows(ovn_databases, "b") == [] and "theirs" in ovn_databases.nbctl("lb-list")


def test_a_switch_missing_from_nb_fails_the_commit_and_writes_nothing(northbound,
                                                                     ovn_databases):
    with pytest.raises(LookupError, match="no-such-ls"):
        northbound.converge(_plan("c", switch="no-such-ls"))
    assert _rows(ovn_databases, "c") == []


def test_a_thousand_members_commit_in_one_transaction(northbound, ovn_databases):
    started = time.monotonic()
    northbound.converge(_plan("d", members=1000))
    took = time.monotonic() - started
    print(f"NB commit of 1,000 members: {took * 1000:.1f} ms")
    assert len(_rows(ovn_databases, "d")[0]["vips"]["10.63.0.5:80"].split(",")) == 1000
    assert took < 5


def test_two_processes_creating_one_row_at_once_write_it_once(northbound, ovn_databases,
                                                             monkeypatch):
    """Two API processes' OVN workers converge a new load balancer at the same moment: both
    read "no row" before either commits. The one that commits second is told to try again
    (OVSDB verifies the datapaths it attaches to) and finds the other's row: no duplicate."""
    import threading
    other = nb.Northbound(ovn_databases.nb.connection, 5)
    barrier, first_runs = threading.Barrier(2, timeout=10), set()
    original = nb.Converge.run_idl

    def run_idl(self, txn):   # both read the database before either writes
        if threading.get_ident() not in first_runs:
            first_runs.add(threading.get_ident())
            barrier.wait()
        return original(self, txn)

    monkeypatch.setattr(nb.Converge, "run_idl", run_idl)
    try:
        errors = []

        def converge(conn):
            try:
                conn.converge(_plan("race"))
            except Exception as exc:   # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=converge, args=(conn,))
                   for conn in (northbound, other)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(20)
        assert not errors and len(first_runs) == 2
        rows = _rows(ovn_databases, "race")
        assert len(rows) == 1
        switches = [r for r in ovn_nb.rows(ovn_databases.nbctl, "Logical_Switch")
                    if r["name"] == "u-ls"]
        assert switches[0]["load_balancer"].count(rows[0]["_uuid"]) == 1
    finally:
        other.stop()
