"""The driver agent's sockets against a real DB-backed core, driven by octavia-lib's own
DriverLibrary (and by raw sockets for what DriverLibrary never sends)."""
import io
import os
import socket
import tempfile
import threading
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import driver_lib
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas import conf as lbaas_conf
from lbaas.driver_agent import framing
from lbaas.driver_agent.server import DriverAgent, SocketInUse, SocketServer

COUNTERS = {"active_connections": 3, "bytes_in": 1000, "bytes_out": 2000, "request_errors": 1,
            "total_connections": 40}


# Framing ------------------------------------------------------------------------------
def test_framing_round_trip():
    frame = framing.encode({"a": [1, "é"]})
    assert frame.split(b"\n", 1)[0] == str(len(frame.split(b"\n", 1)[1])).encode()
    assert framing.read(io.BytesIO(frame)) == {"a": [1, "é"]}


@pytest.mark.parametrize("raw", [b"12x\n{}", b"-1\n", b"9" * 40 + b"\n"])
def test_framing_refuses_a_bad_length_line(raw):
    with pytest.raises(framing.BadMessage):
        framing.read(io.BytesIO(raw))


def test_framing_refuses_a_payload_that_is_not_json():
    with pytest.raises(framing.BadMessage, match="not JSON"):
        framing.read(io.BytesIO(b"3\n{x}"))


def test_framing_refuses_an_oversized_request_without_reading_it():
    with pytest.raises(framing.BadMessage, match="larger than"):
        framing.read(io.BytesIO(b"100\n"), limit=10)


@pytest.mark.parametrize("raw", [b"", b"12", b"10\n{}"])
def test_framing_reports_a_request_cut_short(raw):
    with pytest.raises(framing.ConnectionClosed):
        framing.read(io.BytesIO(raw))


# A running agent on temporary sockets -----------------------------------------------------
@pytest.fixture
def agent(app):
    folder = tempfile.mkdtemp(prefix="da-")
    conf = lbaas_conf.make_conf()
    for name in ("status", "stats", "get"):
        conf.set_override(f"{name}_socket_path", os.path.join(folder, f"{name}.sock"),
                          group="driver_agent")
    conf.set_override("status_request_timeout", 1, group="driver_agent")
    running = DriverAgent(app.extensions["lbaas_core"], conf).start()
    yield running
    running.stop()


@pytest.fixture
def lib(agent):
    paths = agent.paths
    return driver_lib.DriverLibrary(status_socket=paths["status"], stats_socket=paths["stats"],
                                    get_socket=paths["get"])


def raw_request(path, data, timeout=5):
    """Send raw bytes on a socket; returns the decoded reply, or None if it closed silently."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    return framing.read(io.BytesIO(data)) if data else None


@pytest.fixture
def graph(client, project):
    """An ACTIVE load balancer (noop provider) with a listener, a pool and a member."""
    lb = client.create_lb(project)
    listener = client.create("listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}, lb["id"])
    pool = client.create("pools", "pool", {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
        lb["id"])
    member = client.create("members", "member", {"address": "10.0.0.7", "protocol_port": 80},
                           lb["id"], parent_url=f"/v2/lbaas/pools/{pool['id']}/members")
    return {"lb": lb, "listener": listener, "pool": pool, "member": member}


# Status socket ------------------------------------------------------------------------
def test_status_update_reaches_the_database(lib, graph, client):
    lb_id = graph["lb"]["id"]
    lib.update_loadbalancer_status({
        "loadbalancers": [{"id": lb_id, "operating_status": "DEGRADED"}],
        "members": [{"id": graph["member"]["id"], "operating_status": "ERROR"}]})
    assert client.get(f"/v2/lbaas/loadbalancers/{lb_id}").get_json()[
        "loadbalancer"]["operating_status"] == "DEGRADED"
    member = client.get(f"/v2/lbaas/pools/{graph['pool']['id']}/members/"
                        f"{graph['member']['id']}").get_json()["member"]
    assert member["operating_status"] == "ERROR"


def test_status_update_of_an_unknown_object_names_it(lib):
    missing = str(uuid.uuid4())
    with pytest.raises(lib_exc.UpdateStatusError) as err:
        lib.update_loadbalancer_status(
            {"listeners": [{"id": missing, "provisioning_status": "ACTIVE"}]})
    assert (err.value.status_object, err.value.status_object_id) == ("listeners", missing)
    assert missing in err.value.fault_string


def test_status_update_with_an_invalid_status_is_refused(lib, graph):
    with pytest.raises(lib_exc.UpdateStatusError, match="invalid provisioning_status"):
        lib.update_loadbalancer_status(
            {"loadbalancers": [{"id": graph["lb"]["id"], "provisioning_status": "GREAT"}]})


def test_status_request_that_is_not_an_object_gets_an_error_reply(agent):
    reply = raw_request(agent.paths["status"], framing.encode([1, 2]))
    assert reply["status_code"] == 500 and "object" in reply["fault_string"]


@pytest.mark.parametrize("raw", [b"abc\n{}", b"5\n{not}"])
def test_malformed_request_gets_an_error_reply(agent, raw):
    from prometheus_client import REGISTRY
    labels = {"socket": "status", "outcome": "bad_request"}
    before = REGISTRY.get_sample_value("lbaas_driver_agent_requests_total", labels) or 0
    reply = raw_request(agent.paths["status"], raw)
    assert reply["status_code"] == 500 and reply["fault_string"].startswith("bad request")
    assert REGISTRY.get_sample_value("lbaas_driver_agent_requests_total", labels) == before + 1


def test_request_cut_short_is_dropped_and_the_server_goes_on(agent, lib, graph):
    assert raw_request(agent.paths["status"], b"100\n{") is None
    assert raw_request(agent.paths["status"], b"") is None
    lib.update_loadbalancer_status({"loadbalancers": [{"id": graph["lb"]["id"],
                                                       "operating_status": "ONLINE"}]})


def test_deleted_status_removes_the_object(lib, graph, client):
    member_id, pool_id = graph["member"]["id"], graph["pool"]["id"]
    lib.update_loadbalancer_status({"members": [{"id": member_id,
                                                 "provisioning_status": "DELETED"}]})
    assert client.get(f"/v2/lbaas/pools/{pool_id}/members/{member_id}").status_code == 404
    assert lib.get_member(member_id) is None


# Stats socket -------------------------------------------------------------------------
def test_statistics_show_in_the_listener_stats(lib, graph, client):
    listener_id = graph["listener"]["id"]
    lib.update_listener_statistics({"listeners": [dict(id=listener_id, **COUNTERS)]})
    stats = client.get(f"/v2/lbaas/listeners/{listener_id}/stats").get_json()["stats"]
    assert stats == COUNTERS
    lib.update_listener_statistics({"listeners": [dict(COUNTERS, id=listener_id, bytes_in=5)]})
    stats = client.get(f"/v2/lbaas/listeners/{listener_id}/stats").get_json()["stats"]
    assert stats["bytes_in"] == 5  # absolute counters: replaced, not added


def test_statistics_missing_a_counter_are_refused_and_nothing_is_written(lib, graph, client):
    listener_id = graph["listener"]["id"]
    partial = {k: v for k, v in COUNTERS.items() if k != "bytes_out"}
    with pytest.raises(lib_exc.UpdateStatisticsError) as err:
        lib.update_listener_statistics({"listeners": [dict(id=listener_id, **partial)]})
    assert err.value.stats_object == "listeners" and "bytes_out" in err.value.fault_string
    stats = client.get(f"/v2/lbaas/listeners/{listener_id}/stats").get_json()["stats"]
    assert stats["bytes_in"] == 0


@pytest.mark.parametrize("body", [{"listeners": "x"}, {"listeners": [1]}, [], "x"])
def test_statistics_of_the_wrong_shape_are_refused(lib, body):
    with pytest.raises(lib_exc.UpdateStatisticsError) as err:
        lib.update_listener_statistics(body)
    assert err.value.stats_object == "listeners"


def test_statistics_of_an_unknown_listener_are_refused(lib):
    missing = str(uuid.uuid4())
    with pytest.raises(lib_exc.UpdateStatisticsError) as err:
        lib.update_listener_statistics({"listeners": [dict(id=missing, **COUNTERS)]})
    assert err.value.stats_object_id == missing


def test_statistics_with_a_negative_counter_are_refused(lib, graph):
    with pytest.raises(lib_exc.UpdateStatisticsError, match="non-negative"):
        lib.update_listener_statistics(
            {"listeners": [dict(COUNTERS, id=graph["listener"]["id"], bytes_in=-1)]})


# Get socket ---------------------------------------------------------------------------
def test_get_returns_each_object_as_its_provider_model(lib, graph):
    lb = lib.get_loadbalancer(graph["lb"]["id"])
    assert isinstance(lb, dm.LoadBalancer) and lb.vip_address == graph["lb"]["vip_address"]
    # octavia-lib's from_dict keeps nested objects as dicts
    assert [li["listener_id"] for li in lb.listeners] == [graph["listener"]["id"]]
    listener = lib.get_listener(graph["listener"]["id"])
    assert (listener.protocol, listener.protocol_port) == ("HTTP", 80)
    assert listener.default_pool["pool_id"] == graph["pool"]["id"]
    pool = lib.get_pool(graph["pool"]["id"])
    assert pool.loadbalancer_id == graph["lb"]["id"]
    assert [m["member_id"] for m in pool.members] == [graph["member"]["id"]]
    member = lib.get_member(graph["member"]["id"])
    assert (member.address, member.pool_id) == ("10.0.0.7", graph["pool"]["id"])


def test_get_of_monitor_policy_and_rule(lib, graph, client):
    lb_id = graph["lb"]["id"]
    hm = client.create("healthmonitors", "healthmonitor", {
        "pool_id": graph["pool"]["id"], "type": "HTTP", "delay": 5, "timeout": 3,
        "max_retries": 2}, lb_id)
    policy = client.create("l7policies", "l7policy", {
        "listener_id": graph["listener"]["id"], "action": "REJECT"}, lb_id)
    rule = client.create("l7rules", "rule", {"type": "PATH", "compare_type": "STARTS_WITH",
                                             "value": "/x"}, lb_id,
                         parent_url=f"/v2/lbaas/l7policies/{policy['id']}/rules")
    assert lib.get_healthmonitor(hm["id"]).delay == 5
    assert lib.get_l7policy(policy["id"]).action == "REJECT"
    got = lib.get_l7rule(rule["id"])
    assert (got.value, got.l7policy_id) == ("/x", policy["id"])


def test_get_of_an_unknown_object_is_none(lib):
    assert lib.get_loadbalancer(str(uuid.uuid4())) is None
    assert lib.get_member(str(uuid.uuid4())) is None


@pytest.mark.parametrize("body", [{"object": "amphorae", "id": "x"}, {"object": "pools"}, [],
                                  {"object": "pools", "id": 5}])
def test_get_with_an_unknown_collection_or_no_id_answers_empty(agent, body):
    assert raw_request(agent.paths["get"], framing.encode(body)) == {}


def test_get_of_a_deleted_load_balancer_is_empty(lib, client, project):
    lb = client.create_lb(project)
    lib.update_loadbalancer_status({"loadbalancers": [{"id": lb["id"],
                                                       "provisioning_status": "DELETED"}]})
    assert lib.get_loadbalancer(lb["id"]) is None


def test_requests_are_served_concurrently(lib, graph):
    results, errors = [], []

    def one():
        try:
            results.append(lib.get_pool(graph["pool"]["id"]).pool_id)
        except Exception as exc:  # collected, asserted below
            errors.append(exc)
    threads = [threading.Thread(target=one) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and results == [graph["pool"]["id"]] * 16


# Lifecycle ----------------------------------------------------------------------------
def test_stop_removes_the_socket_files(app):
    folder = tempfile.mkdtemp(prefix="da-")
    conf = lbaas_conf.make_conf()
    for name in ("status", "stats", "get"):
        conf.set_override(f"{name}_socket_path", os.path.join(folder, "sub", f"{name}.sock"),
                          group="driver_agent")
    running = DriverAgent(app.extensions["lbaas_core"], conf).start()
    assert all(os.path.exists(p) for p in running.paths.values())
    running.stop()
    assert not any(os.path.exists(p) for p in running.paths.values())


def test_a_stale_socket_file_is_replaced(app):
    path = os.path.join(tempfile.mkdtemp(prefix="da-"), "get.sock")
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(path)
    stale.close()  # the file stays, nobody listens
    server = SocketServer("get", path, app.extensions["lbaas_core"], lambda core, req: {"ok": 1})
    server.start()
    try:
        assert raw_request(path, framing.encode({})) == {"ok": 1}
    finally:
        server.stop()


def test_a_live_socket_is_not_stolen(app):
    path = os.path.join(tempfile.mkdtemp(prefix="da-"), "get.sock")
    core = app.extensions["lbaas_core"]
    first = SocketServer("get", path, core, lambda core, req: {}).start()
    try:
        with pytest.raises(SocketInUse):
            SocketServer("get", path, core, lambda core, req: {})
        assert raw_request(path, framing.encode({})) == {}
    finally:
        first.stop()


def test_a_socket_path_too_long_is_a_clear_error(app):
    with pytest.raises(ValueError, match="longer than"):
        SocketServer("get", "/tmp/" + "x" * 120, app.extensions["lbaas_core"],
                     lambda core, req: {})
