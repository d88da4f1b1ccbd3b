"""The OVN provider through the real lbaas API, against real OVN Northbound/Southbound servers.

The API runs in-process (Flask test client, SQLite) with provider `ovn`, the local network
backend (subnets naming their OVN switch and router) and the same sync service `lbaas serve`
starts. NB and SB are real ovsdb-servers (testbed/cloud/ovn_nb.py). No ovn-northd or ovn-controller
runs here, so the Service_Monitor rows that ovn-controller would write are written by the
tests themselves (`_report_health`) to simulate its reports. Traffic through OVN is
tests/functional/test_ovn_traffic.py.
"""
import os
import subprocess
import sys
import time
import uuid

import pytest

from lbaas.api import create_app
from lbaas.drivers.ovn import service
from lbaas.drivers.ovn.worker import SYNC
from lbaas.network import local
from testbed.cloud import ovn_nb
from tests.conftest import ApiClient, database_url, make_conf

pytestmark = pytest.mark.functional

VIP_SUBNET = "name=ovn-vip network=ovn-pub cidr=10.61.31.0/24 ovn_router=lr-t"
MEMBER_SUBNET = "name=ovn-members network=ovn-priv cidr=10.61.30.0/24 ovn_switch=ls-t ovn_router=lr-t"
BROKEN_SUBNET = "name=ovn-broken cidr=10.61.32.0/24 ovn_switch=ls-not-in-nb"
VIP_SUBNET_ID = local.subnet_uuid("ovn-vip")
MEMBER_SUBNET_ID = local.subnet_uuid("ovn-members")
BACKENDS = {"vm1": "10.61.30.11", "vm2": "10.61.30.12"}
LBS = "/v2/lbaas/loadbalancers"


@pytest.fixture(scope="session")
def ovn_dbs(tmp_path_factory):
    """NB and SB servers with switch ls-t (ports vm1, vm2) and router lr-t; or a skip."""
    for dbs in ovn_nb.session_databases(tmp_path_factory):
        dbs.nbctl("lr-add", "lr-t", "--", "ls-add", "ls-t")
        for name, address in BACKENDS.items():
            mac = "00:00:00:00:30:" + address.rsplit(".", 1)[1]
            dbs.nbctl("lsp-add", "ls-t", name, "--", "lsp-set-addresses", name,
                      f"{mac} {address}")
        yield dbs


@pytest.fixture(scope="module")
def ovn_app(ovn_dbs, request):
    """The API with provider ovn, and the OVN sync service as `lbaas serve` runs it."""
    conf = make_conf(database_url("sqlite", request, "ovn_driver"), **{
        "api_settings.enabled_provider_drivers": {"ovn": "OVN"},
        "api_settings.default_provider_driver": "ovn",
        "network.driver": "local",
        "network_local.subnet": [VIP_SUBNET, MEMBER_SUBNET, BROKEN_SUBNET],
        "ovn.ovn_nb_connection": ovn_dbs.nb.connection,
        "ovn.ovn_sb_connection": ovn_dbs.sb.connection,
        "ovn.sync_interval": 0, "ovn.status_debounce": 0.0,
        "ovn.ovsdb_connection_timeout": 5})
    application = create_app(conf)
    [sync] = application.extensions["lbaas_core"].drivers.background_services()
    sync.start()
    yield application
    sync.stop()
    application.extensions["lbaas_core"].close()


@pytest.fixture
def api(ovn_app):
    return ApiClient(ovn_app.test_client())


@pytest.fixture
def worker(ovn_app):
    return ovn_app.extensions["lbaas_core"].drivers.get("ovn").worker


def wait_for(condition, timeout=10.0, what="condition"):
    """Poll `condition()` until it returns a truthy value; -> that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def as_list(value):
    return value if isinstance(value, list) else [value]


def nb_rows(dbs, lb_id):
    return [r for r in ovn_nb.rows(dbs.nbctl, "Load_Balancer")
            if r["external_ids"].get("lbaas:loadbalancer_id") == lb_id]


def attached(dbs, table, name, row_uuid):
    row = next(r for r in ovn_nb.rows(dbs.nbctl, table) if r["name"] == name)
    return row_uuid in as_list(row["load_balancer"])


def member(name, port=8080, **extra):
    return {"address": BACKENDS[name], "protocol_port": port, "subnet_id": MEMBER_SUBNET_ID,
            **extra}


def graph(protocol="TCP", port=80, algorithm="SOURCE_IP_PORT", members=("vm1", "vm2"),
          monitor=True, listener=None, pool=None):
    pool_body = {"name": "p", "protocol": protocol, "lb_algorithm": algorithm,
                 "members": [member(m) for m in members], **(pool or {})}
    if monitor and "healthmonitor" not in pool_body:
        pool_body["healthmonitor"] = {"type": "TCP" if protocol == "TCP" else "UDP-CONNECT",
                                      "delay": 2, "timeout": 1, "max_retries": 1,
                                      "max_retries_down": 2}
    return {"loadbalancer": {"vip_subnet_id": VIP_SUBNET_ID, "listeners": [
        {"protocol": protocol, "protocol_port": port, "default_pool": pool_body,
         **(listener or {})}]}}


@pytest.fixture
def make_lb(api, ovn_dbs):
    """POST a load balancer graph and wait for ACTIVE; cascade-deleted (and gone) afterwards."""
    made = []

    def create(body):
        resp = api.post(LBS, body)
        assert resp.status_code == 201, resp.get_json()
        made.append(resp.get_json()["loadbalancer"]["id"])
        return api.wait(f"{LBS}/{made[-1]}", "loadbalancer")

    yield create
    for lb_id in made:
        if api.delete(f"{LBS}/{lb_id}?cascade=true").status_code == 204:
            api.wait(f"{LBS}/{lb_id}", "loadbalancer", "DELETED")


def _status_tree(api, lb_id):
    return api.get(f"{LBS}/{lb_id}/status").get_json()["statuses"]["loadbalancer"]


def _report_health(dbs, address, port, status):
    """Write the Service_Monitor row ovn-controller would keep for a backend (simulated)."""
    name = next(n for n, a in BACKENDS.items() if a == address)
    found = dbs.sbctl("--bare", "--columns=_uuid", "find", "Service_Monitor",
                      f"ip={address}", f"port={port}").split()
    if found:
        dbs.sbctl("set", "Service_Monitor", found[0], f"status={status}")
    else:
        dbs.sbctl("create", "Service_Monitor", f"ip={address}", f"port={port}",
                  "protocol=tcp", f"logical_port={name}", f"status={status}")


# -- rows -------------------------------------------------------------------------------------

def test_a_tcp_graph_becomes_one_nb_row_with_its_vip_members_and_health_check(api, make_lb,
                                                                            ovn_dbs):
    lb = make_lb(graph())
    listener_id = lb["listeners"][0]["id"]
    (row,) = nb_rows(ovn_dbs, lb["id"])
    vip = f"{lb['vip_address']}:80"
    assert row["name"] == f"lbaas-{listener_id}"
    assert row["protocol"] == "tcp"
    assert row["vips"] == {vip: "10.61.30.11:8080,10.61.30.12:8080"}
    assert sorted(as_list(row["selection_fields"])) == ["ip_dst", "ip_src", "tp_dst", "tp_src"]
    (check,) = [c for c in ovn_nb.rows(ovn_dbs.nbctl, "Load_Balancer_Health_Check")
                if c["_uuid"] == row["health_check"]]
    assert check["vip"] == vip
    assert check["options"] == {"interval": "2", "timeout": "1", "success_count": "1",
                                "failure_count": "2"}
    source = next(p for p in api.get("/v2.0/ports").get_json()["ports"]
                  if p["device_owner"] == "ovn-lb-hm:distributed")["fixed_ips"][0]["ip_address"]
    assert row["ip_port_mappings"] == {"10.61.30.11": f"vm1:{source}",
                                       "10.61.30.12": f"vm2:{source}"}
    assert attached(ovn_dbs, "Logical_Switch", "ls-t", row["_uuid"])
    assert attached(ovn_dbs, "Logical_Router", "lr-t", row["_uuid"])


def test_a_udp_source_ip_listener_hashes_on_addresses_only(make_lb, ovn_dbs):
    lb = make_lb(graph("UDP", 53, "SOURCE_IP", monitor=False))
    (row,) = nb_rows(ovn_dbs, lb["id"])
    assert row["protocol"] == "udp"
    assert sorted(as_list(row["selection_fields"])) == ["ip_dst", "ip_src"]
    assert row["health_check"] == [] and row["ip_port_mappings"] == {}


def test_a_disabled_member_leaves_the_backends_and_a_member_added_joins(api, make_lb, ovn_dbs):
    lb = make_lb(graph(members=("vm1",), monitor=False))
    pool_id = lb["pools"][0]["id"]
    member_url = f"/v2/lbaas/pools/{pool_id}/members"
    created = api.create("members", "member", member("vm2"), lb["id"], parent_url=member_url)
    assert list(nb_rows(ovn_dbs, lb["id"])[0]["vips"].values()) == \
        ["10.61.30.11:8080,10.61.30.12:8080"]
    api.put(f"{member_url}/{created['id']}", {"member": {"admin_state_up": False}})
    api.wait(f"{member_url}/{created['id']}", "member")
    assert list(nb_rows(ovn_dbs, lb["id"])[0]["vips"].values()) == ["10.61.30.11:8080"]


def test_a_disabled_load_balancer_keeps_its_row_without_vips(api, make_lb, ovn_dbs):
    lb = make_lb(graph(monitor=False))
    api.put(f"{LBS}/{lb['id']}", {"loadbalancer": {"admin_state_up": False}})
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer")
    assert nb_rows(ovn_dbs, lb["id"])[0]["vips"] == {}


def test_deleting_a_load_balancer_removes_its_rows(api, make_lb, ovn_dbs):
    lb = make_lb(graph())
    assert api.delete(f"{LBS}/{lb['id']}?cascade=true").status_code == 204
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer", "DELETED")
    assert nb_rows(ovn_dbs, lb["id"]) == []


# -- member health from Service_Monitor -----------------------------------------------------

def test_member_operating_status_follows_service_monitor(api, make_lb, ovn_dbs):
    lb = make_lb(graph(port=81))
    members = {m["address"]: m["id"] for m in
               api.get(f"/v2/lbaas/pools/{lb['pools'][0]['id']}/members").get_json()["members"]}

    def statuses():
        tree = _status_tree(api, lb["id"])
        pool = tree["listeners"][0]["pools"][0]
        return tree["operating_status"], pool["operating_status"], \
            {m["id"]: m["operating_status"] for m in pool["members"]}

    _report_health(ovn_dbs, "10.61.30.11", 8080, "online")
    _report_health(ovn_dbs, "10.61.30.12", 8080, "online")
    wait_for(lambda: statuses() == ("ONLINE", "ONLINE", {i: "ONLINE" for i in
                                                         members.values()}), what="ONLINE")
    _report_health(ovn_dbs, "10.61.30.12", 8080, "offline")
    wait_for(lambda: statuses() == ("DEGRADED", "DEGRADED", {
        members["10.61.30.11"]: "ONLINE", members["10.61.30.12"]: "ERROR"}), what="DEGRADED")
    _report_health(ovn_dbs, "10.61.30.11", 8080, "offline")
    wait_for(lambda: statuses()[:2] == ("ERROR", "ERROR"), what="ERROR")
    for address in BACKENDS.values():
        _report_health(ovn_dbs, address, 8080, "online")


# -- refused options --------------------------------------------------------------------------

REFUSED = [
    ("HTTP", graph("HTTP", algorithm="SOURCE_IP", monitor=False)),
    ("ROUND_ROBIN", graph(algorithm="ROUND_ROBIN")),
    ("LEAST_CONNECTIONS", graph(algorithm="LEAST_CONNECTIONS")),
    ("session_persistence", graph(pool={"session_persistence": {"type": "SOURCE_IP"}})),
    ("allowed_cidrs", graph(listener={"allowed_cidrs": ["10.0.0.0/8"]})),
    ("connection_limit", graph(listener={"connection_limit": 100})),
    ("timeout_client_data", graph(listener={"timeout_client_data": 1000})),
    ("PING", graph(pool={"healthmonitor": {"type": "PING", "delay": 2, "timeout": 1,
                                           "max_retries": 1}})),
    ("HTTP", graph(pool={"healthmonitor": {"type": "HTTP", "delay": 2, "timeout": 1,
                                           "max_retries": 1}})),
    ("weight", graph(pool={"members": [member("vm1", weight=5)]})),
    ("backup", graph(pool={"members": [member("vm1", backup=True)]})),
    ("monitor_port", graph(pool={"members": [member("vm1", monitor_port=9000)]})),
]


@pytest.mark.parametrize("option,body", REFUSED, ids=[f"{i}-{o}" for i, (o, _) in
                                                     enumerate(REFUSED)])
def test_unsupported_options_are_refused_and_nothing_is_written(api, ovn_dbs, option, body):
    before_lbs = len(api.get(LBS).get_json()["loadbalancers"])
    before_rows = len(ovn_nb.rows(ovn_dbs.nbctl, "Load_Balancer"))
    resp = api.post(LBS, body)
    assert resp.status_code == 501, resp.get_json()
    text = resp.get_json()["faultstring"]
    assert text.startswith("Provider 'ovn' does not support a requested option"), text
    assert option in text, text
    assert len(api.get(LBS).get_json()["loadbalancers"]) == before_lbs
    assert len(ovn_nb.rows(ovn_dbs.nbctl, "Load_Balancer")) == before_rows


def _refused_later(resp, option):
    assert resp.status_code == 501, resp.get_json()
    assert resp.get_json()["faultstring"].startswith(
        "Provider 'ovn' does not support a requested option"), resp.get_json()
    assert option in resp.get_json()["faultstring"]


def test_l7_policies_updates_and_members_of_another_ip_version_are_refused(api, make_lb,
                                                                           ovn_dbs):
    lb = make_lb(graph(monitor=False))
    rows_before = nb_rows(ovn_dbs, lb["id"])
    listener_url = f"/v2/lbaas/listeners/{lb['listeners'][0]['id']}"
    _refused_later(api.post("/v2/lbaas/l7policies", {"l7policy": {
        "listener_id": lb["listeners"][0]["id"], "action": "REJECT"}}), "L7 policies")
    _refused_later(api.put(listener_url, {"listener": {"connection_limit": 5}}),
                   "connection_limit")
    _refused_later(api.post(f"/v2/lbaas/pools/{lb['pools'][0]['id']}/members", {"member": {
        "address": "fd00::5", "protocol_port": 80}}), "fd00::5")
    assert api.get(listener_url).get_json()["listener"]["connection_limit"] == -1
    assert api.get(f"{LBS}/{lb['id']}").get_json()["loadbalancer"]["provisioning_status"] == \
        "ACTIVE"
    assert nb_rows(ovn_dbs, lb["id"]) == rows_before


def test_a_failed_nb_transaction_reports_error_and_writes_nothing(api, ovn_dbs):
    body = graph(monitor=False)
    body["loadbalancer"]["vip_subnet_id"] = local.subnet_uuid("ovn-broken")
    resp = api.post(LBS, body)
    assert resp.status_code == 201, resp.get_json()
    lb_id = resp.get_json()["loadbalancer"]["id"]
    try:
        lb = api.wait(f"{LBS}/{lb_id}", "loadbalancer", "ERROR")
        assert api.get(f"/v2/lbaas/listeners/{lb['listeners'][0]['id']}").get_json()[
            "listener"]["provisioning_status"] == "ERROR"
        assert nb_rows(ovn_dbs, lb_id) == []
    finally:
        api.delete(f"{LBS}/{lb_id}?cascade=true")


def test_a_batch_member_update_rewrites_the_backends(api, make_lb, ovn_dbs):
    lb = make_lb(graph(members=("vm1",), monitor=False))
    url = f"/v2/lbaas/pools/{lb['pools'][0]['id']}/members"
    assert api.put(url, {"members": [member("vm2", 9090)]}).status_code == 202
    api.wait(f"{LBS}/{lb['id']}", "loadbalancer")
    assert list(nb_rows(ovn_dbs, lb["id"])[0]["vips"].values()) == ["10.61.30.12:9090"]


def test_flavor_keys_are_refused_and_capabilities_list_none(api):
    assert api.get("/v2/lbaas/providers/ovn/flavor_capabilities").get_json() == \
        {"flavor_capabilities": []}
    resp = api.post("/v2/lbaas/flavorprofiles", {"flavorprofile": {
        "name": "f", "provider_name": "ovn", "flavor_data": '{"loadbalancer_topology": "SINGLE"}'}})
    assert resp.status_code == 501 and "loadbalancer_topology" in resp.get_json()["faultstring"]


# -- self-healing ------------------------------------------------------------------------------

def test_the_sync_restores_a_row_deleted_by_hand(make_lb, ovn_dbs, worker):
    lb = make_lb(graph(monitor=False))
    (row,) = nb_rows(ovn_dbs, lb["id"])
    ovn_dbs.nbctl("ls-lb-del", "ls-t", row["_uuid"], "--", "lr-lb-del", "lr-t", row["_uuid"],
                  "--", "destroy", "Load_Balancer", row["_uuid"])
    assert nb_rows(ovn_dbs, lb["id"]) == []
    worker.submit(SYNC)
    (back,) = wait_for(lambda: nb_rows(ovn_dbs, lb["id"]), what="the row back")
    assert back["vips"] == row["vips"] and attached(ovn_dbs, "Logical_Switch", "ls-t",
                                                    back["_uuid"])


def _figure(name, **labels):
    from prometheus_client import REGISTRY
    return REGISTRY.get_sample_value(name, labels) or 0


def test_the_sync_removes_a_duplicate_row_and_rows_of_unknown_load_balancers(make_lb, ovn_dbs,
                                                                             worker):
    lb = make_lb(graph(monitor=False))
    (row,) = nb_rows(ovn_dbs, lb["id"])
    ovn_dbs.nbctl("create", "Load_Balancer", f"name={row['name']}", "protocol=tcp",
                  f'external_ids:"lbaas:loadbalancer_id"={lb["id"]}')
    stray = str(uuid.uuid4())
    ovn_dbs.nbctl("create", "Load_Balancer", "name=lbaas-stray", "protocol=tcp",
                  f'external_ids:"lbaas:loadbalancer_id"={stray}')
    ovn_dbs.nbctl("lb-add", "not-ours", "10.9.9.9:80", "10.9.9.10:80")
    repairs = _figure("lbaas_ovn_sync_repairs_total", repair="stray_loadbalancer")
    syncs = _figure("lbaas_ovn_syncs_total", outcome="succeeded")
    worker.submit(SYNC)
    wait_for(lambda: len(nb_rows(ovn_dbs, lb["id"])) == 1 and not nb_rows(ovn_dbs, stray),
             what="one row per listener, no stray")
    # the worker runs in this process: its figures are in prometheus-client's registry
    wait_for(lambda: _figure("lbaas_ovn_syncs_total", outcome="succeeded") == syncs + 1,
             what="the sync counted")
    assert _figure("lbaas_ovn_sync_repairs_total", repair="stray_loadbalancer") == repairs + 1
    assert nb_rows(ovn_dbs, lb["id"])[0]["vips"] == row["vips"]
    assert any(r["name"] == "not-ours" for r in ovn_nb.rows(ovn_dbs.nbctl, "Load_Balancer"))
    ovn_dbs.nbctl("lb-del", "not-ours")


def test_rows_lost_while_nb_was_down_come_back_after_the_restart(make_lb, ovn_dbs):
    lb = make_lb(graph(monitor=False))
    before = nb_rows(ovn_dbs, lb["id"])[0]
    ovn_dbs.restart_nb(
        {"op": "update", "table": "Logical_Switch", "where": [],
         "row": {"load_balancer": ["set", []]}},
        {"op": "update", "table": "Logical_Router", "where": [],
         "row": {"load_balancer": ["set", []]}},
        {"op": "delete", "table": "Load_Balancer", "where": []})
    (back,) = wait_for(lambda: nb_rows(ovn_dbs, lb["id"]), timeout=20, what="resync")
    assert back["vips"] == before["vips"]
    wait_for(lambda: attached(ovn_dbs, "Logical_Router", "lr-t", back["_uuid"]),
             what="router association")


def test_lbaas_ovn_sync_once_repairs_from_a_separate_process(ovn_app, make_lb, ovn_dbs,
                                                            tmp_path):
    """The split-deployment command, on the same database and NB, with its own process."""
    lb = make_lb(graph(monitor=False))
    (row,) = nb_rows(ovn_dbs, lb["id"])
    ovn_dbs.nbctl("ls-lb-del", "ls-t", row["_uuid"], "--", "lr-lb-del", "lr-t", row["_uuid"],
                  "--", "destroy", "Load_Balancer", row["_uuid"])
    conf = ovn_app.extensions["lbaas_core"].conf
    path = tmp_path / "lbaas.conf"
    path.write_text("\n".join([
        "[database]", f"connection = {conf.database.connection}",
        "[api_settings]", "enabled_provider_drivers = ovn:OVN", "default_provider_driver = ovn",
        "[network]", "driver = local",
        "[network_local]", f"subnet = {VIP_SUBNET}", f"subnet = {MEMBER_SUBNET}",
        "[ovn]", f"ovn_nb_connection = {ovn_dbs.nb.connection}",
        f"ovn_sb_connection = {ovn_dbs.sb.connection}", "ovsdb_connection_timeout = 5", ""]))
    command = os.path.join(os.path.dirname(sys.executable), "lbaas-ovn-sync")
    done = subprocess.run([command, "--config-file", str(path), "--once"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (back,) = nb_rows(ovn_dbs, lb["id"])
    assert back["vips"] == row["vips"]


def test_the_sync_service_repeats_every_sync_interval(ovn_app, make_lb, ovn_dbs, worker):
    lb = make_lb(graph(monitor=False))
    (row,) = nb_rows(ovn_dbs, lb["id"])
    ovn_dbs.nbctl("set", "Load_Balancer", row["_uuid"], 'vips={"10.99.0.1:80"="10.99.0.2:80"}')
    timer = service.SyncService(worker, interval=0.2).start()
    try:
        wait_for(lambda: nb_rows(ovn_dbs, lb["id"])[0]["vips"] == row["vips"],
                 what="the periodic sync")
    finally:
        timer.stop()
