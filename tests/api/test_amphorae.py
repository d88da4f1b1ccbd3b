"""The admin amphora API: list, show, filters, delete, failover, config and stats."""
import datetime
import time
import uuid

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.api import create_app
from lbaas.core import models
from tests.api.support import create_listener, db, fault, lb_url, set_status
from tests.conftest import database_url, make_conf

AMPHORAE = "/v2/octavia/amphorae"
KEYS = ["id", "loadbalancer_id", "compute_id", "lb_network_ip", "vrrp_ip", "ha_ip",
        "vrrp_port_id", "ha_port_id", "cert_expiration", "cert_busy", "role", "status",
        "vrrp_interface", "vrrp_id", "vrrp_priority", "cached_zone", "created_at",
        "updated_at", "image_id", "compute_flavor"]
NOT_IMPLEMENTED = ("Provider 'noop' does not support a requested action: "
                   "This feature is not implemented by the provider.")


def amp_url(amp_id, action=""):
    """The URL of one amphora, or of one of its actions."""
    return f"{AMPHORAE}/{amp_id}" + (f"/{action}" if action else "")


def insert_amphora(app, lb=None, **fields):
    """Add an amphora row directly, as the amphora driver will; returns its id."""
    values = {"id": models.new_id(), "loadbalancer_id": lb["id"] if lb else None,
              "status": "ALLOCATED", "role": "STANDALONE", "compute_id": str(uuid.uuid4()),
              "lb_network_ip": "192.0.2.10"}
    values.update(fields)
    with db(app).write() as session:
        session.add(models.Amphora(**values))
    return values["id"]


def amphora_status(app, amp_id):
    """An amphora's status as stored."""
    with db(app).read() as session:
        return session.get(models.Amphora, amp_id).status


def lb_status(client, lb):
    """A load balancer's provisioning status as shown."""
    return client.get(lb_url(lb["id"])).get_json()["loadbalancer"]["provisioning_status"]


def wait_gone(client, url, timeout=10.0):
    """Poll until GET answers 404."""
    deadline = time.monotonic() + timeout
    while client.get(url).status_code != 404:
        assert time.monotonic() < deadline, f"{url} is still there"
        time.sleep(0.005)


def listed(client, query):
    """The ids a list query answers."""
    resp = client.get(f"{AMPHORAE}?{query}")
    assert resp.status_code == 200, resp.get_json()
    return [a["id"] for a in resp.get_json()["amphorae"]]


@pytest.fixture
def lb(client, project):
    """An ACTIVE load balancer of the test's own project."""
    return client.create_lb(project)


@pytest.fixture
def hookless(driver, monkeypatch):
    """Call it with a hook name to take that method away from the noop driver."""
    return lambda hook: monkeypatch.delattr(type(driver), hook)


# Version root.

def test_octavia_root_answers_the_string_v2(client):
    """GET /v2/octavia is the JSON string "v2", as the other version roots."""
    resp = client.get("/v2/octavia")
    assert (resp.status_code, resp.get_json()) == (200, "v2")


# Show.

def test_show_renders_every_field_in_order(client, app, lb):
    """An amphora shows Octavia's fields, loadbalancer_id spelled without the underscore."""
    expiry = datetime.datetime(2031, 5, 4, 3, 2, 1)
    amp_id = insert_amphora(
        app, lb, role="MASTER", vrrp_ip="10.0.0.5", ha_ip="10.0.0.9", vrrp_port_id="vp",
        ha_port_id="hp", cert_expiration=expiry, cert_busy=True, vrrp_interface="eth1",
        vrrp_id=1, vrrp_priority=100, cached_zone="az1", image_id="img", compute_flavor="fl")
    resp = client.get(amp_url(amp_id))
    assert resp.status_code == 200
    amp = resp.get_json()["amphora"]
    assert list(amp) == KEYS
    assert amp["loadbalancer_id"] == lb["id"]
    assert (amp["role"], amp["status"], amp["vrrp_priority"], amp["cert_busy"]) == \
        ("MASTER", "ALLOCATED", 100, True)
    assert amp["cert_expiration"] == "2031-05-04T03:02:01"
    assert amp["updated_at"] is None
    assert "T" in amp["created_at"] and not amp["created_at"].endswith("Z")


def test_show_of_a_spare_amphora_has_null_loadbalancer(client, app):
    """An amphora not yet allocated to a load balancer shows loadbalancer_id null."""
    amp_id = insert_amphora(app, status="READY", role=None)
    amp = client.get(amp_url(amp_id)).get_json()["amphora"]
    assert (amp["loadbalancer_id"], amp["role"], amp["cert_busy"]) == (None, None, False)


def test_show_unknown_amphora_is_404(client):
    """An unknown id is 404 naming the amphora."""
    amp_id = str(uuid.uuid4())
    resp = client.get(amp_url(amp_id))
    assert resp.status_code == 404
    assert fault(resp) == f"Amphora {amp_id} not found."


def test_show_deleted_amphora_is_404(client, app, lb):
    """A DELETED amphora is gone for the API."""
    amp_id = insert_amphora(app, lb, status="DELETED")
    resp = client.get(amp_url(amp_id))
    assert resp.status_code == 404
    assert fault(resp) == f"Amphora {amp_id} not found."


def test_show_with_fields_keeps_only_those(client, app, lb):
    """fields= trims the shown amphora; unknown names are ignored."""
    amp_id = insert_amphora(app, lb)
    resp = client.get(amp_url(amp_id) + "?fields=id&fields=status,bogus")
    assert resp.get_json() == {"amphora": {"id": amp_id, "status": "ALLOCATED"}}


def test_show_through_the_v2_0_alias_and_json_suffix(client, app, lb):
    """/v2.0/octavia/amphorae/<id>.json is the same amphora."""
    amp_id = insert_amphora(app, lb)
    resp = client.get(f"/v2.0/octavia/amphorae/{amp_id}.json")
    assert resp.get_json()["amphora"]["id"] == amp_id


# List and filters.

def test_list_envelope_and_links(client, app, lb):
    """The list is under "amphorae" with an "amphorae_links" array."""
    amp_id = insert_amphora(app, lb)
    body = client.get(f"{AMPHORAE}?loadbalancer_id={lb['id']}").get_json()
    assert body == {"amphorae": [client.get(amp_url(amp_id)).get_json()["amphora"]],
                    "amphorae_links": []}


def test_list_of_an_empty_table(request):
    """With no amphora at all the list is empty, links included."""
    app = create_app(make_conf(database_url("sqlite", request, "amphorae_empty")))
    try:
        resp = app.test_client().get(AMPHORAE)
        assert (resp.status_code, resp.get_json()) == (200, {"amphorae": [],
                                                             "amphorae_links": []})
    finally:
        app.extensions["lbaas_core"].close()


def test_list_filter_matching_nothing_is_empty(client, lb):
    """A load balancer without amphorae lists none."""
    assert client.get(f"{AMPHORAE}?loadbalancer_id={lb['id']}").get_json() == {
        "amphorae": [], "amphorae_links": []}


def test_list_hides_deleted_amphorae(client, app, lb):
    """DELETED amphorae are not listed, even when asked for by status."""
    live = insert_amphora(app, lb)
    insert_amphora(app, lb, status="DELETED")
    assert listed(client, f"loadbalancer_id={lb['id']}") == [live]
    assert listed(client, f"loadbalancer_id={lb['id']}&status=DELETED") == []


def test_list_filters_by_loadbalancer_id_and_its_alias(client, app, lb, project):
    """loadbalancer_id (and openstacksdk's load_balancer_id) narrow to one load balancer."""
    mine = insert_amphora(app, lb)
    insert_amphora(app, client.create_lb(project))
    assert listed(client, f"loadbalancer_id={lb['id']}") == [mine]
    assert listed(client, f"load_balancer_id={lb['id']}") == [mine]


@pytest.mark.parametrize("name, wanted, other", [
    ("status", "ERROR", "ALLOCATED"),
    ("role", "BACKUP", "MASTER"),
    ("compute_id", "c0ffee00-0000-4000-8000-000000000001", "c0ffee00-0000-4000-8000-000000000002"),
    ("lb_network_ip", "198.51.100.7", "198.51.100.8"),
    ("vrrp_priority", 90, 100),
    ("cached_zone", "az-a", "az-b"),
])
def test_list_filters_by_attribute(client, app, lb, name, wanted, other):
    """Any amphora attribute is an equality filter."""
    match = insert_amphora(app, lb, **{name: wanted})
    insert_amphora(app, lb, **{name: other})
    assert listed(client, f"loadbalancer_id={lb['id']}&{name}={wanted}") == [match]


def test_list_filters_by_boolean_cert_busy(client, app, lb):
    """cert_busy takes Octavia's boolean strings."""
    busy = insert_amphora(app, lb, cert_busy=True)
    idle = insert_amphora(app, lb, cert_busy=False)
    assert listed(client, f"loadbalancer_id={lb['id']}&cert_busy=yes") == [busy]
    assert listed(client, f"loadbalancer_id={lb['id']}&cert_busy=0") == [idle]


def test_list_filters_by_project_through_the_load_balancer(client, app, lb, project):
    """project_id selects the amphorae of that project's load balancers (spares have none)."""
    other_project = "p-" + uuid.uuid4().hex[:12]
    first = insert_amphora(app, lb)
    second = insert_amphora(app, client.create_lb(project))
    foreign = insert_amphora(app, client.create_lb(other_project))
    insert_amphora(app, status="READY")
    assert sorted(listed(client, f"project_id={project}")) == sorted([first, second])
    assert sorted(listed(client, f"project_id={project}&project_id={other_project}")) == \
        sorted([first, second, foreign])
    assert listed(client, f"project_id={project}&loadbalancer_id={lb['id']}") == [first]


def test_list_filter_by_unknown_project_is_empty(client, app, lb):
    """A project without load balancers has no amphorae."""
    insert_amphora(app, lb)
    assert listed(client, f"project_id=p-{uuid.uuid4().hex}") == []


@pytest.mark.parametrize("query", ["bogus=1", "vrrp_id=abc", "cert_expiration=never",
                                   "vrrp_priority=99999999999"])
def test_list_with_an_invalid_filter_is_400(client, query):
    """An unknown attribute or a value of the wrong type is refused."""
    resp = client.get(f"{AMPHORAE}?{query}")
    assert resp.status_code == 400
    assert fault(resp) == "One or more arguments are either duplicate or invalid"


def test_list_ignores_tag_filters(client, app, lb):
    """Amphorae have no tags: tag parameters are ignored, as Octavia does."""
    amp_id = insert_amphora(app, lb)
    assert listed(client, f"loadbalancer_id={lb['id']}&tags=x&not-tags-any=y") == [amp_id]


def test_list_with_fields(client, app, lb):
    """fields= trims every listed amphora."""
    amp_id = insert_amphora(app, lb)
    body = client.get(f"{AMPHORAE}?loadbalancer_id={lb['id']}&fields=id,loadbalancer_id")
    assert body.get_json()["amphorae"] == [{"id": amp_id, "loadbalancer_id": lb["id"]}]


def test_list_sorts_by_attribute(client, app, lb):
    """sort= orders by an amphora attribute."""
    low = insert_amphora(app, lb, vrrp_priority=10)
    high = insert_amphora(app, lb, vrrp_priority=200)
    assert listed(client, f"loadbalancer_id={lb['id']}&sort=vrrp_priority:desc") == [high, low]
    assert listed(client, f"loadbalancer_id={lb['id']}&sort_key=vrrp_priority") == [low, high]


@pytest.mark.parametrize("query, message", [
    ("sort=nope", "Supplied sort key 'nope' is not valid."),
    ("sort=project_id", "Supplied sort key 'project_id' is not valid."),
    ("sort=role:up", "Supplied sort direction 'up' is not valid."),
    ("limit=x", "Supplied pagination limit 'x' is not valid."),
    ("marker=m-1", "Supplied pagination marker 'm-1' is not valid."),
])
def test_list_with_bad_sort_or_page_is_400(client, query, message):
    """Bad sort keys, directions, limits and markers answer 400 with Octavia's text."""
    resp = client.get(f"{AMPHORAE}?{query}")
    assert (resp.status_code, fault(resp)) == (400, message)


def test_list_pages_with_links(client, app, lb):
    """limit/marker page through amphorae; links carry limit and marker only."""
    for _ in range(3):
        insert_amphora(app, lb)
    everything = listed(client, f"loadbalancer_id={lb['id']}")
    first = client.get(f"{AMPHORAE}?loadbalancer_id={lb['id']}&limit=2").get_json()
    assert [a["id"] for a in first["amphorae"]] == everything[:2]
    assert first["amphorae_links"] == [{
        "href": f"http://localhost{AMPHORAE}?limit=2&marker={everything[1]}", "rel": "next"}]
    second = client.get(f"{AMPHORAE}?loadbalancer_id={lb['id']}&limit=2"
                        f"&marker={everything[1]}").get_json()
    assert [a["id"] for a in second["amphorae"]] == everything[2:]
    assert second["amphorae_links"] == [{
        "href": f"http://localhost{AMPHORAE}?limit=2&marker={everything[2]}&page_reverse=True",
        "rel": "previous"}]


def test_list_page_reverse_goes_back(client, app, lb):
    """page_reverse=True answers the page before the marker, in forward order."""
    for _ in range(3):
        insert_amphora(app, lb)
    everything = listed(client, f"loadbalancer_id={lb['id']}")
    assert listed(client, f"loadbalancer_id={lb['id']}&marker={everything[2]}"
                          "&page_reverse=True") == everything[:2]


# Delete.

def test_delete_of_error_amphora_answers_204(client, app, lb):
    """An amphora in ERROR may be deleted: 204, empty body."""
    amp_id = insert_amphora(app, lb, status="ERROR")
    resp = client.delete(amp_url(amp_id))
    assert (resp.status_code, resp.get_data()) == (204, b"")


def test_delete_marks_pending_delete(client, app, lb, freeze):
    """Delete leaves the amphora PENDING_DELETE until its provider reports."""
    freeze()
    amp_id = insert_amphora(app, lb, status="ERROR")
    client.delete(amp_url(amp_id))
    assert client.get(amp_url(amp_id)).get_json()["amphora"]["status"] == "PENDING_DELETE"


def test_delete_ends_deleted_and_gone(client, app, lb):
    """The provider reports the amphora DELETED: then it is 404 and unlisted."""
    amp_id = insert_amphora(app, lb, status="ERROR")
    client.delete(amp_url(amp_id))
    wait_gone(client, amp_url(amp_id))
    assert amphora_status(app, amp_id) == "DELETED"
    assert listed(client, f"loadbalancer_id={lb['id']}") == []


def test_delete_does_not_touch_the_load_balancer(client, app, lb, freeze):
    """Deleting an amphora holds no lock on its load balancer."""
    freeze()
    client.delete(amp_url(insert_amphora(app, lb, status="ERROR")))
    assert lb_status(client, lb) == "ACTIVE"


def test_delete_of_a_spare_amphora(client, app):
    """An amphora without a load balancer goes to the first enabled driver with the hook."""
    amp_id = insert_amphora(app, status="ERROR", role=None)
    assert client.delete(amp_url(amp_id)).status_code == 204
    wait_gone(client, amp_url(amp_id))


@pytest.mark.parametrize("status", ["ALLOCATED", "READY", "BOOTING", "PENDING_CREATE",
                                    "PENDING_DELETE", "FAILOVER_STOPPED"])
def test_delete_unless_error_is_409(client, app, lb, status):
    """Only an amphora in ERROR may be deleted; the status is left alone."""
    amp_id = insert_amphora(app, lb, status=status)
    resp = client.delete(amp_url(amp_id))
    assert resp.status_code == 409
    assert fault(resp) == f"amphora {amp_id} is immutable and cannot be updated."
    assert amphora_status(app, amp_id) == status


def test_delete_twice_is_409(client, app, lb, freeze):
    """An amphora already PENDING_DELETE cannot be deleted again."""
    freeze()
    amp_id = insert_amphora(app, lb, status="ERROR")
    client.delete(amp_url(amp_id))
    assert client.delete(amp_url(amp_id)).status_code == 409


@pytest.mark.parametrize("status", [None, "DELETED"])
def test_delete_unknown_or_deleted_amphora_is_404(client, app, lb, status):
    """Delete of an unknown or DELETED amphora is 404."""
    amp_id = insert_amphora(app, lb, status=status) if status else str(uuid.uuid4())
    resp = client.delete(amp_url(amp_id))
    assert (resp.status_code, fault(resp)) == (404, f"Amphora {amp_id} not found.")


def test_delete_without_the_driver_hook_is_501(client, app, lb, hookless):
    """A provider without amphora_delete answers 501 and nothing changes."""
    hookless("amphora_delete")
    amp_id = insert_amphora(app, lb, status="ERROR")
    resp = client.delete(amp_url(amp_id))
    assert (resp.status_code, fault(resp)) == (501, NOT_IMPLEMENTED)
    assert amphora_status(app, amp_id) == "ERROR"


def test_delete_driver_error_rolls_back(client, app, lb, driver, monkeypatch):
    """A driver error is 500 with its user message; the amphora stays ERROR."""
    def fail(amphora_id):
        raise lib_exc.DriverError(user_fault_string="compute is down",
                                  operator_fault_string="nova 503")
    monkeypatch.setattr(driver, "amphora_delete", fail)
    amp_id = insert_amphora(app, lb, status="ERROR")
    resp = client.delete(amp_url(amp_id))
    assert (resp.status_code, fault(resp)) == (
        500, "Provider 'noop' reports error: compute is down")
    assert amphora_status(app, amp_id) == "ERROR"


def test_status_report_refuses_an_invalid_status(app, lb):
    """The in-process library refuses a status amphorae do not have; nothing changes."""
    amp_id = insert_amphora(app, lb)
    with pytest.raises(lib_exc.UpdateStatusError):
        app.extensions["lbaas_core"].library.update_amphora_status(amp_id, "ACTIVE")
    assert amphora_status(app, amp_id) == "ALLOCATED"


def test_status_report_refuses_an_unknown_amphora(app):
    """The in-process library refuses a report about an amphora it does not know."""
    with pytest.raises(lib_exc.UpdateStatusError):
        app.extensions["lbaas_core"].library.update_amphora_status(str(uuid.uuid4()), "DELETED")


# Failover.

def test_failover_answers_202_without_body(client, app, lb):
    """PUT .../failover answers 202 with an empty body."""
    resp = client.put(amp_url(insert_amphora(app, lb), "failover"))
    assert (resp.status_code, resp.get_data()) == (202, b"")


def test_failover_calls_the_hook_with_the_amphora_id(client, app, lb, driver, monkeypatch):
    """The provider's amphora_failover receives the amphora id."""
    calls = []
    monkeypatch.setattr(driver, "amphora_failover", calls.append)
    amp_id = insert_amphora(app, lb)
    client.put(amp_url(amp_id, "failover"))
    assert calls == [amp_id]


def test_failover_holds_the_load_balancer_pending_update(client, app, lb, freeze):
    """Failover moves the amphora's load balancer to PENDING_UPDATE."""
    freeze()
    client.put(amp_url(insert_amphora(app, lb), "failover"))
    assert lb_status(client, lb) == "PENDING_UPDATE"


def test_failover_returns_the_load_balancer_to_active(client, app, lb):
    """The provider reports the load balancer ACTIVE after the failover."""
    client.put(amp_url(insert_amphora(app, lb), "failover"))
    assert client.wait(lb_url(lb["id"]), "loadbalancer")["provisioning_status"] == "ACTIVE"


@pytest.mark.parametrize("status", ["PENDING_UPDATE", "ERROR"])
def test_failover_unless_load_balancer_active_is_409(client, app, lb, status):
    """The load balancer must be ACTIVE (not even ERROR, unlike a load balancer failover)."""
    amp_id = insert_amphora(app, lb)
    set_status(app, models.LoadBalancer, lb["id"], status)
    resp = client.put(amp_url(amp_id, "failover"))
    assert resp.status_code == 409
    assert fault(resp) == f"Load Balancer {lb['id']} is immutable and cannot be updated."
    assert lb_status(client, lb) == status


def test_second_failover_while_pending_is_409(client, app, lb, freeze):
    """A failover in flight holds the load balancer against another."""
    freeze()
    amp_id = insert_amphora(app, lb)
    client.put(amp_url(amp_id, "failover"))
    assert client.put(amp_url(amp_id, "failover")).status_code == 409


@pytest.mark.parametrize("status", [None, "DELETED"])
def test_failover_unknown_or_deleted_amphora_is_404(client, app, lb, status):
    """Failover of an unknown or DELETED amphora is 404."""
    amp_id = insert_amphora(app, lb, status=status) if status else str(uuid.uuid4())
    resp = client.put(amp_url(amp_id, "failover"))
    assert (resp.status_code, fault(resp)) == (404, f"Amphora {amp_id} not found.")


def test_failover_of_a_spare_amphora_locks_nothing(client, app, driver, monkeypatch):
    """A spare amphora (no load balancer) is failed over by the first driver with the hook."""
    calls = []
    monkeypatch.setattr(driver, "amphora_failover", calls.append)
    amp_id = insert_amphora(app, status="READY", role=None)
    assert client.put(amp_url(amp_id, "failover")).status_code == 202
    assert calls == [amp_id]


def test_failover_without_the_driver_hook_is_501(client, app, lb, hookless):
    """A provider without amphora_failover answers 501 and leaves the load balancer ACTIVE."""
    hookless("amphora_failover")
    resp = client.put(amp_url(insert_amphora(app, lb), "failover"))
    assert (resp.status_code, fault(resp)) == (501, NOT_IMPLEMENTED)
    assert lb_status(client, lb) == "ACTIVE"


def test_failover_of_a_spare_without_any_driver_hook_is_501(client, app, hookless):
    """No enabled driver implements the hook: 501 naming the default provider."""
    hookless("amphora_failover")
    resp = client.put(amp_url(insert_amphora(app, status="READY"), "failover"))
    assert (resp.status_code, fault(resp)) == (501, NOT_IMPLEMENTED)


def test_failover_driver_not_implemented_is_501(client, app, lb, driver, monkeypatch):
    """A hook raising NotImplementedError maps to 501 and rolls the lock back."""
    def refuse(amphora_id):
        raise lib_exc.NotImplementedError(user_fault_string="no amphorae here",
                                          operator_fault_string="no amphorae here")
    monkeypatch.setattr(driver, "amphora_failover", refuse)
    resp = client.put(amp_url(insert_amphora(app, lb), "failover"))
    assert (resp.status_code, fault(resp)) == (
        501, "Provider 'noop' does not support a requested action: no amphorae here")
    assert lb_status(client, lb) == "ACTIVE"


def test_failover_driver_error_leaves_no_trace(client, app, lb, driver, monkeypatch):
    """A driver error is 500 and the load balancer stays ACTIVE (not ERROR as upstream)."""
    def fail(amphora_id):
        raise RuntimeError("queue unreachable")
    monkeypatch.setattr(driver, "amphora_failover", fail)
    resp = client.put(amp_url(insert_amphora(app, lb), "failover"))
    assert (resp.status_code, fault(resp)) == (
        500, "Provider 'noop' reports error: queue unreachable")
    assert lb_status(client, lb) == "ACTIVE"


# Config.

def test_config_answers_202_and_calls_the_hook(client, app, lb, driver, monkeypatch):
    """PUT .../config answers 202, empty, after handing the amphora id to the provider."""
    calls = []
    monkeypatch.setattr(driver, "amphora_config", calls.append)
    amp_id = insert_amphora(app, lb)
    resp = client.put(amp_url(amp_id, "config"))
    assert (resp.status_code, resp.get_data(), calls) == (202, b"", [amp_id])


def test_config_with_the_noop_driver(client, app, lb):
    """The noop driver accepts a config push; nothing changes."""
    amp_id = insert_amphora(app, lb)
    assert client.put(amp_url(amp_id, "config")).status_code == 202
    assert (lb_status(client, lb), amphora_status(app, amp_id)) == ("ACTIVE", "ALLOCATED")


def test_config_takes_no_lock(client, app, lb):
    """Config works whatever the load balancer's status, and does not change it."""
    amp_id = insert_amphora(app, lb)
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    assert client.put(amp_url(amp_id, "config")).status_code == 202
    assert lb_status(client, lb) == "PENDING_UPDATE"


@pytest.mark.parametrize("status", [None, "DELETED"])
def test_config_unknown_or_deleted_amphora_is_404(client, app, lb, status):
    """Config of an unknown or DELETED amphora is 404."""
    amp_id = insert_amphora(app, lb, status=status) if status else str(uuid.uuid4())
    resp = client.put(amp_url(amp_id, "config"))
    assert (resp.status_code, fault(resp)) == (404, f"Amphora {amp_id} not found.")


def test_config_without_the_driver_hook_is_501(client, app, lb, hookless):
    """A provider without amphora_config answers 501."""
    hookless("amphora_config")
    resp = client.put(amp_url(insert_amphora(app, lb), "config"))
    assert (resp.status_code, fault(resp)) == (501, NOT_IMPLEMENTED)


# Stats.

def insert_stats(app, listener_id, amphora_id, **counters):
    """Add one amphora's counters for one listener, as heartbeats will."""
    values = {"bytes_in": 0, "bytes_out": 0, "active_connections": 0, "total_connections": 0,
              "request_errors": 0}
    values.update(counters)
    with db(app).write() as session:
        session.add(models.ListenerStatistics(listener_id=listener_id, amphora_id=amphora_id,
                                              **values))


def test_stats_list_one_entry_per_listener(client, app, lb):
    """amphora_stats has the amphora's counters for each listener, with both ids."""
    first, second = create_listener(client, lb, port=80), create_listener(client, lb, port=81)
    amp_id = insert_amphora(app, lb)
    insert_stats(app, first["id"], amp_id, bytes_in=10, bytes_out=20, active_connections=1,
                 total_connections=5, request_errors=2)
    insert_stats(app, second["id"], amp_id, bytes_in=7)
    insert_stats(app, first["id"], insert_amphora(app, lb), bytes_in=999)  # another amphora
    resp = client.get(amp_url(amp_id, "stats"))
    assert resp.status_code == 200
    stats = sorted(resp.get_json()["amphora_stats"], key=lambda s: s["listener_id"] != first["id"])
    assert stats == [
        {"id": amp_id, "loadbalancer_id": lb["id"], "listener_id": first["id"],
         "active_connections": 1, "bytes_in": 10, "bytes_out": 20, "request_errors": 2,
         "total_connections": 5},
        {"id": amp_id, "loadbalancer_id": lb["id"], "listener_id": second["id"],
         "active_connections": 0, "bytes_in": 7, "bytes_out": 0, "request_errors": 0,
         "total_connections": 0}]
    assert list(stats[0]) == ["id", "loadbalancer_id", "listener_id", "active_connections",
                              "bytes_in", "bytes_out", "request_errors", "total_connections"]


def test_stats_without_any_counters_is_404(client, app, lb):
    """An amphora that has reported nothing answers 404 with Octavia's text."""
    amp_id = insert_amphora(app, lb)
    resp = client.get(amp_url(amp_id, "stats"))
    assert (resp.status_code, fault(resp)) == (404, f"Amphora stats for {amp_id} not found.")


@pytest.mark.parametrize("status", [None, "DELETED"])
def test_stats_of_unknown_or_deleted_amphora_is_404(client, app, lb, status):
    """Stats of an unknown or DELETED amphora are 404, worded as for missing stats."""
    amp_id = insert_amphora(app, lb, status=status) if status else str(uuid.uuid4())
    if status:
        insert_stats(app, str(uuid.uuid4()), amp_id, bytes_in=1)
    resp = client.get(amp_url(amp_id, "stats"))
    assert (resp.status_code, fault(resp)) == (404, f"Amphora stats for {amp_id} not found.")


# Unsupported methods.

@pytest.mark.parametrize("method, url", [
    ("post", AMPHORAE), ("put", f"{AMPHORAE}/x"), ("get", f"{AMPHORAE}/x/failover"),
    ("post", f"{AMPHORAE}/x/config"), ("delete", f"{AMPHORAE}/x/stats")])
def test_unsupported_methods_are_405(client, method, url):
    """Methods the amphora API does not offer are 405."""
    assert getattr(client, method)(url).status_code == 405
