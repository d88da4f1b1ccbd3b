"""Load balancer events: the payload Octavia sends, and one event per completed operation."""
import json
import os
import subprocess
import sys
import tempfile
import threading

import pytest

from lbaas.core import constants as c
from lbaas.core import db as dbmod
from lbaas.core import events, models, status
from lbaas.db import migrate

# octavia-lib's LoadBalancer.to_dict() of a load balancer without a flavor: Octavia's payload.
FIELDS = {"loadbalancer_id": str, "project_id": str, "name": str, "description": str,
          "admin_state_up": bool, "vip_address": str, "vip_network_id": str,
          "vip_port_id": str, "vip_subnet_id": str, "vip_qos_policy_id": (str, type(None)),
          "availability_zone": (str, type(None))}


@pytest.fixture
def database():
    url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "e.sqlite")
    migrate.upgrade(url)
    database = dbmod.Database(url)
    yield database
    database.dispose()


def add_lb(database, operation=events.CREATE, flavor_data=None, **fields):
    """A load balancer PENDING its operation, with the event record the API writes."""
    lb_id = models.new_id()
    prov = {events.CREATE: c.PENDING_CREATE, events.UPDATE: c.PENDING_UPDATE,
            events.DELETE: c.PENDING_DELETE}[operation]
    with database.write() as s:
        flavor_id = None
        if flavor_data is not None:
            profile = models.FlavorProfile(name="fp", provider_name="noop",
                                           flavor_data=flavor_data)
            s.add(profile)
            s.flush()
            flavor = models.Flavor(name=f"f-{lb_id}", flavor_profile_id=profile.id)
            s.add(flavor)
            s.flush()
            flavor_id = flavor.id
        s.add(models.LoadBalancer(
            id=lb_id, project_id="proj-1", name="web", description=None,
            provisioning_status=prov, operating_status=c.OFFLINE, vip_address="10.0.0.5",
            vip_subnet_id="sub", vip_network_id="net", vip_port_id="port",
            vip_sg_ids=["sg-1"], flavor_id=flavor_id, **fields))
        events.expect(s, lb_id, operation)
    return lb_id


def report(database, lb_id, prov):
    return status.apply_status_update(
        database, {"loadbalancers": [{"id": lb_id, "provisioning_status": prov}]})


def test_payload_has_octavia_fields_and_types(database):
    """The payload is the provider view without lists: Octavia's names and JSON types."""
    lb_id = add_lb(database)
    with database.read() as s:
        payload = events.payload(s, s.get(models.LoadBalancer, lb_id))
    assert set(payload) == set(FIELDS)
    for name, kind in FIELDS.items():
        assert isinstance(payload[name], kind), name
    assert (payload["loadbalancer_id"], payload["project_id"], payload["name"],
            payload["description"], payload["vip_port_id"]) == (lb_id, "proj-1", "web", "",
                                                                 "port")
    json.dumps(payload)   # what the bus carries


def test_payload_carries_the_flavor_metadata(database):
    """With a flavor, `flavor` is its profile's metadata, as Octavia reloads it."""
    lb_id = add_lb(database, flavor_data='{"loadbalancer_topology": "SINGLE"}')
    with database.read() as s:
        payload = events.payload(s, s.get(models.LoadBalancer, lb_id))
    assert payload["flavor"] == {"loadbalancer_topology": "SINGLE"}


def test_payload_survives_a_flavor_profile_that_is_not_json(database):
    """Broken profile JSON gives an empty flavor, never a failed status update."""
    lb_id = add_lb(database, flavor_data="not json")
    with database.read() as s:
        assert "flavor" not in events.payload(s, s.get(models.LoadBalancer, lb_id))


@pytest.mark.parametrize("operation,final,event_type", [
    (events.CREATE, c.ACTIVE, "octavia.loadbalancer.create.end"),
    (events.UPDATE, c.ACTIVE, "octavia.loadbalancer.update.end"),
    (events.DELETE, c.DELETED, "octavia.loadbalancer.delete.end"),
])
def test_the_report_that_ends_an_operation_returns_its_event_once(database, operation, final,
                                                                  event_type):
    """The first final report announces the operation; a repeated report announces nothing."""
    lb_id = add_lb(database, operation)
    first = report(database, lb_id, final)
    assert [(e.event_type, e.project_id, e.payload["loadbalancer_id"]) for e in first] == \
        [(event_type, "proj-1", lb_id)]
    assert report(database, lb_id, final) == []


def test_pending_and_operating_reports_keep_the_operation_open(database):
    """A report that leaves the load balancer PENDING (or only sets operating_status) waits."""
    lb_id = add_lb(database)
    assert report(database, lb_id, c.PENDING_CREATE) == []
    assert status.apply_status_update(database, {"loadbalancers": [
        {"id": lb_id, "operating_status": c.ONLINE}]}) == []
    assert [e.event_type for e in report(database, lb_id, c.ACTIVE)] == \
        ["octavia.loadbalancer.create.end"]


def test_an_operation_ending_in_error_is_not_announced(database):
    """ERROR takes the record: nothing now, nothing when a later report says ACTIVE."""
    lb_id = add_lb(database)
    assert report(database, lb_id, c.ERROR) == []
    assert report(database, lb_id, c.ACTIVE) == []


def test_a_child_operation_announces_nothing(database):
    """ACTIVE after a listener's change (no record: the API wrote none) sends nothing."""
    lb_id = add_lb(database)
    report(database, lb_id, c.ACTIVE)
    with database.write() as s:
        s.get(models.LoadBalancer, lb_id).provisioning_status = c.PENDING_UPDATE
    assert report(database, lb_id, c.ACTIVE) == []


def test_a_delete_reverted_to_active_is_not_announced(database):
    """A delete the provider ends ACTIVE did not happen: no delete.end."""
    lb_id = add_lb(database, events.DELETE)
    assert report(database, lb_id, c.ACTIVE) == []


def test_a_new_operation_replaces_a_stale_record(database):
    """expect() twice keeps one record, the latest operation."""
    lb_id = add_lb(database)
    with database.write() as s:
        events.expect(s, lb_id, events.DELETE)
    assert [e.event_type for e in report(database, lb_id, c.DELETED)] == \
        ["octavia.loadbalancer.delete.end"]


def test_unknown_operation_is_refused(database):
    with database.write() as s, pytest.raises(ValueError):
        events.expect(s, "x", "failover")


def test_default_core_loads_no_oslo_messaging(tmp_path):
    """The embedded default (no [oslo_messaging_notifications]): no notifier thread, and
    oslo.messaging not even imported (0.3 s saved per process)."""
    code = (
        "import sys, threading\n"
        "from lbaas import conf as lbaas_conf\n"
        "from lbaas.core.controller import Core\n"
        "conf = lbaas_conf.make_conf()\n"
        f"conf.set_override('connection', 'sqlite:///{tmp_path}/x.sqlite', group='database')\n"
        "core = Core(conf)\n"
        "print(type(core.notifier).__name__, 'oslo_messaging' in sys.modules,\n"
        "      any(t.name == 'lbaas-notifier' for t in threading.enumerate()))\n"
        "core.close()\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["Notifier", "False", "False"]


class _Deadlock(Exception):
    """What MariaDB's driver raises for a deadlock victim: error number 1213 first."""

    def __init__(self):
        super().__init__(1213, "Deadlock found when trying to get lock")


def test_a_report_run_again_after_a_lost_race_announces_once(database, monkeypatch):
    """The rolled-back run took the record too, then lost: only the committed run's event."""
    from sqlalchemy.exc import OperationalError
    lb_id = add_lb(database)
    real, calls = events.payload, []

    def loses_first(session, lb):
        calls.append(lb.id)
        if len(calls) == 1:
            raise OperationalError("SELECT 1", {}, _Deadlock())
        return real(session, lb)
    monkeypatch.setattr(events, "payload", loses_first)
    done = database.retrying(status.apply_status_update, database,
                             {"loadbalancers": [{"id": lb_id, "provisioning_status": c.ACTIVE}]})
    assert len(calls) == 2
    assert [e.event_type for e in done] == ["octavia.loadbalancer.create.end"]
    assert report(database, lb_id, c.ACTIVE) == []


def test_concurrent_reports_of_one_end_announce_once(pg_cluster):
    """Four reports of the same ACTIVE at once on PostgreSQL: one of them takes the record."""
    database = dbmod.Database(pg_cluster.create_database("events_race"))
    migrate.upgrade(database.url)
    try:
        lb_id = add_lb(database)
        barrier, found, errors = threading.Barrier(4), [], []

        def run():
            barrier.wait()
            try:
                found.extend(database.retrying(
                    status.apply_status_update, database,
                    {"loadbalancers": [{"id": lb_id, "provisioning_status": c.ACTIVE}]}))
            except Exception as exc:   # reported below, with the others' results
                errors.append(exc)
        threads = [threading.Thread(target=run) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert errors == []
        assert [e.event_type for e in found] == ["octavia.loadbalancer.create.end"]
    finally:
        database.dispose()
