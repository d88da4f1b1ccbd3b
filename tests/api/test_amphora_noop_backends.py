"""The amphora provider on noop backends (compute, network and agent client all noop).

This is how upstream's API test job runs the amphora provider, and how ours runs
octavia-tempest-plugin: the worker's whole control flow (amphora rows booted, claimed,
failed over, deleted; configurations rendered and pushed) with nothing real behind it.
Nothing measures health, so operating statuses stay as upstream's noop job leaves them, and
no amphora is failed over for want of heartbeats.
"""
import uuid

import pytest

from lbaas.api import create_app
from lbaas.core import models
from tests.api.support import LBS, db
from tests.conftest import BACKENDS, ApiClient, database_url, make_conf

AMPHORAE = "/v2/octavia/amphorae"


@pytest.fixture(scope="module", params=BACKENDS)
def noop_amphora_app(request, tmp_path_factory):
    conf = make_conf(database_url(request.param, request, "amphora_noop"), **{
        "api_settings.enabled_provider_drivers": {"amphora": "amphora", "noop": "noop"},
        "api_settings.default_provider_driver": "amphora",
        "state_path": str(tmp_path_factory.mktemp("amphora-noop")),
        "controller_worker.amphora_driver": "amphora_noop_driver",
        "amphora_compute.driver": "noop", "network.driver": "noop",
        "certificates.cert_manager": "noop",
        "health_manager.heartbeat_timeout": 1})
    application = create_app(conf)
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture
def api(noop_amphora_app):
    return ApiClient(noop_amphora_app.test_client())


def _worker(app):
    return app.extensions["lbaas_core"].drivers.get("amphora").worker


def _amphorae(api, lb_id):
    return api.get(f"{AMPHORAE}?loadbalancer_id={lb_id}").get_json()["amphorae"]


def test_a_load_balancer_goes_active_with_an_amphora_row(api, project):
    lb = api.create_lb(project)
    [amphora] = _amphorae(api, lb["id"])
    assert (amphora["status"], amphora["role"]) == ("ALLOCATED", "STANDALONE")
    assert amphora["lb_network_ip"]


def test_measured_statuses_stay_as_created(api, project):
    """As upstream's noop job: the load balancer, listener and pool stay OFFLINE, a member
    NO_MONITOR even when admin-down; a monitor follows its admin state."""
    lb = api.create_lb(project)
    assert lb["operating_status"] == "OFFLINE"
    listener = api.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}, lb["id"])
    pool = api.create("pools", "pool", {"listener_id": listener["id"], "protocol": "HTTP",
                                         "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
    member = api.create("members", "member", {"address": "2001:db8:0:0:0:0:0:1",
                                               "protocol_port": 80, "admin_state_up": False},
                        lb["id"], parent_url=f"/v2/lbaas/pools/{pool['id']}/members")
    monitor = api.create("healthmonitors", "healthmonitor", {
        "pool_id": pool["id"], "type": "TCP", "delay": 5, "timeout": 3, "max_retries": 3,
        "admin_state_up": False}, lb["id"])
    assert (listener["operating_status"], pool["operating_status"]) == ("OFFLINE", "OFFLINE")
    assert member["operating_status"] == "NO_MONITOR"
    assert monitor["operating_status"] == "OFFLINE"
    shown = api.get(f"{LBS}/{lb['id']}").get_json()["loadbalancer"]
    assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "OFFLINE")


def test_no_amphora_is_watched_for_heartbeats(api, noop_amphora_app, project):
    """A noop agent never sends one: without this, every amphora would be failed over."""
    lb = api.create_lb(project)
    [amphora] = _amphorae(api, lb["id"])
    with db(noop_amphora_app).read() as session:
        assert session.get(models.AmphoraHealth, amphora["id"]) is None


def test_amphora_failover_replaces_the_amphora(api, noop_amphora_app, project):
    lb = api.create_lb(project)
    [old] = _amphorae(api, lb["id"])
    resp = api.put(f"{AMPHORAE}/{old['id']}/failover")
    assert resp.status_code == 202, resp.get_json()
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer")
    assert _worker(noop_amphora_app).wait_idle(10)
    [new] = _amphorae(api, lb["id"])
    assert new["id"] != old["id"] and new["status"] == "ALLOCATED"
    assert api.get(f"{AMPHORAE}/{old['id']}").status_code == 404   # DELETED: gone for the API


def test_cascade_delete_removes_the_amphora(api, noop_amphora_app, project):
    lb = api.create_lb(project)
    [amphora] = _amphorae(api, lb["id"])
    assert api.delete(f"{LBS}/{lb['id']}?cascade=true").status_code == 204
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer", status="DELETED")
    assert _worker(noop_amphora_app).wait_idle(10)
    assert api.get(f"{AMPHORAE}/{amphora['id']}").status_code == 404


def test_terminated_https_with_any_reference(api, project):
    """The noop certificate manager answers any reference with its sample certificate."""
    lb = api.create_lb(project)
    listener = api.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "TERMINATED_HTTPS", "protocol_port": 443,
        "default_tls_container_ref": str(uuid.uuid4()),
        "sni_container_refs": [str(uuid.uuid4())]}, lb["id"])
    assert listener["provisioning_status"] == "ACTIVE"


def test_udp_sctp_and_ping_are_accepted_since_nothing_is_served(api, project):
    """Real amphorae here refuse them (no IPVS, no ping script; test_amphora_provider.py);
    the noop agent serves nothing, so, as upstream's noop job, they are accepted, and the
    LVS rules (SOURCE_IP_PORT, UDP-CONNECT monitors, allowed_cidrs) apply."""
    lb = api.create_lb(project)
    listener = api.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "UDP", "protocol_port": 53,
        "allowed_cidrs": ["192.0.2.0/24"]}, lb["id"])
    pool = api.create("pools", "pool", {"listener_id": listener["id"], "protocol": "UDP",
                                         "lb_algorithm": "SOURCE_IP_PORT"}, lb["id"])
    monitor = api.create("healthmonitors", "healthmonitor", {
        "pool_id": pool["id"], "type": "UDP-CONNECT", "delay": 5, "timeout": 3,
        "max_retries": 3}, lb["id"])
    assert monitor["provisioning_status"] == "ACTIVE"
    resp = api.put(f"/v2/lbaas/pools/{pool['id']}", {"pool": {"lb_algorithm": "SOURCE_IP"}})
    assert resp.status_code == 200, resp.get_json()
    assert api.wait(f"/v2/lbaas/pools/{pool['id']}", "pool")["lb_algorithm"] == "SOURCE_IP"
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer")
    http_pool = api.create("pools", "pool", {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                              "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
    ping = api.create("healthmonitors", "healthmonitor", {
        "pool_id": http_pool["id"], "type": "PING", "delay": 5, "timeout": 3,
        "max_retries": 3}, lb["id"])
    assert ping["provisioning_status"] == "ACTIVE"
    sctp = api.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "SCTP", "protocol_port": 36412}, lb["id"])
    assert sctp["provisioning_status"] == "ACTIVE"


def test_the_security_group_is_synced_when_listeners_change_only(api, noop_amphora_app,
                                                                 project, monkeypatch):
    """The provider hands the network backend its listeners after a reconcile that changed
    them (noop network: only the calls are observed here; the real Neutron's groups in
    tests/functional/test_neutron_security_groups.py); a reconcile with nothing changed
    does not call it again."""
    worker = _worker(noop_amphora_app)
    calls = []
    monkeypatch.setattr(worker.reconciler.context.network, "sync_security_group",
                        calls.append)
    lb = api.create_lb(project)
    assert [c["listeners"] for c in calls] == [[]]
    assert calls[0]["vip_addresses"] == [lb["vip_address"]]
    assert (calls[0]["topology"], calls[0]["peer_port"]) == ("SINGLE", None)
    listener = api.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "TCP", "protocol_port": 80,
        "allowed_cidrs": ["192.0.2.0/24"]}, lb["id"])
    assert calls[-1]["listeners"] == [{"protocol": "TCP", "protocol_port": 80,
                                       "allowed_cidrs": ["192.0.2.0/24"]}]
    worker.submit(lb["id"])   # nothing changed: no call
    assert worker.wait_idle(10) and len(calls) == 2
    assert api.put(f"/v2/lbaas/listeners/{listener['id']}",
                   {"listener": {"name": "renamed"}}).status_code == 200
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer")
    assert worker.wait_idle(10) and len(calls) == 2   # a rename opens nothing new
    assert api.put(f"/v2/lbaas/listeners/{listener['id']}",
                   {"listener": {"allowed_cidrs": ["198.51.100.0/24"]}}).status_code == 200
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer")
    assert worker.wait_idle(10)
    assert [c["listeners"][0]["allowed_cidrs"] for c in calls[2:]] == [["198.51.100.0/24"]]
