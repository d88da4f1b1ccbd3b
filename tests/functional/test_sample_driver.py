"""An out-of-tree provider driver (tests/sample_driver) under a real `lbaas serve`.

The sample driver imports only octavia-lib and reports every status through DriverLibrary,
i.e. over the driver agent's unix sockets; the broken variant reports nothing. Both are
enabled by configuration, as an operator would, with the sockets in a temporary directory.
"""
import os
import signal
import time
import uuid

import pytest
import requests
from octavia_lib.api.drivers import driver_lib

from tests import sample_driver_env
from testbed.service import Service, clean_env, free_port, venv_command, wait_for

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def sample_cloud(tmp_path_factory):
    """`lbaas serve` with providers sample (default) and sample_broken and the sample agent."""
    sample_driver_env.ensure_installed()
    root = tmp_path_factory.mktemp("sample")
    sockets = root / "da"
    providers = ",".join(f"{name}:{desc.replace(',', ' ')}"
                         for name, desc in sample_driver_env.PROVIDERS.items())
    config = root / "lbaas.conf"
    port = free_port()
    config.write_text(f"""[DEFAULT]
state_path = {root}

[api_settings]
bind_port = {port}
enabled_provider_drivers = {providers}
default_provider_driver = sample

[driver_agent]
status_socket_path = {sockets}/status.sock
stats_socket_path = {sockets}/stats.sock
get_socket_path = {sockets}/get.sock
enabled_provider_agents = {sample_driver_env.AGENT}
provider_agent_shutdown_timeout = 5
""")
    pid_file = root / "agent.pid"
    service = Service("lbaas serve (sample driver)",
                      [venv_command("lbaas"), "--config-file", str(config), "serve"],
                      port, root / "lbaas-serve.log",
                      env=clean_env(LBAAS_SAMPLE_AGENT_PID_FILE=str(pid_file)))
    service.start()
    service.sockets = {name: str(sockets / f"{name}.sock") for name in ("status", "stats", "get")}
    service.pid_file = pid_file
    yield service
    service.stop()


def api(cloud, method, path, body=None, expect=None):
    resp = requests.request(method, cloud.url + "/v2/lbaas/" + path, json=body, timeout=30)
    if expect is not None:
        assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text}"
    return resp


def wait_status(cloud, path, key, status="ACTIVE", timeout=30):
    def reached():
        resp = api(cloud, "GET", path)
        if status == "DELETED":
            return resp.status_code == 404 or \
                resp.json()[key]["provisioning_status"] == "DELETED"
        return resp.status_code == 200 and resp.json()[key]["provisioning_status"] == status
    wait_for(reached, timeout, f"{path} to be {status}", 0.05)
    resp = api(cloud, "GET", path)
    return resp.json()[key] if resp.status_code == 200 else None


def create(cloud, path, key, body, lb_id):
    obj = api(cloud, "POST", path, {key: body}, expect=201).json()[key]
    assert obj["provisioning_status"] == "PENDING_CREATE"
    wait_status(cloud, f"loadbalancers/{lb_id}", "loadbalancer")
    return wait_status(cloud, f"{path}/{obj['id']}", key)


def library(cloud):
    return driver_lib.DriverLibrary(status_socket=cloud.sockets["status"],
                                    stats_socket=cloud.sockets["stats"],
                                    get_socket=cloud.sockets["get"])


@pytest.fixture(scope="module")
def graph(sample_cloud):
    """A load balancer, listener, pool and member of the sample provider, each ACTIVE."""
    cloud = sample_cloud
    lb = api(cloud, "POST", "loadbalancers", {"loadbalancer": {
        "name": "sample-lb", "vip_subnet_id": str(uuid.uuid4())}}, expect=201).json()[
        "loadbalancer"]
    assert (lb["provider"], lb["provisioning_status"]) == ("sample", "PENDING_CREATE")
    lb = wait_status(cloud, f"loadbalancers/{lb['id']}", "loadbalancer")
    listener = create(cloud, "listeners", "listener", {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}, lb["id"])
    pool = create(cloud, "pools", "pool", {
        "listener_id": listener["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"},
        lb["id"])
    member = create(cloud, f"pools/{pool['id']}/members", "member", {
        "address": "10.0.0.9", "protocol_port": 8080}, lb["id"])
    return {"lb": lb, "listener": listener, "pool": pool, "member": member}


def test_objects_reach_active_through_the_sockets(graph):
    assert graph["lb"]["operating_status"] == "ONLINE"
    for key in ("listener", "pool", "member"):
        assert graph[key]["provisioning_status"] == "ACTIVE"
        assert graph[key]["operating_status"] == "ONLINE"


def test_the_get_socket_returns_the_objects(sample_cloud, graph):
    lib = library(sample_cloud)
    assert lib.get_loadbalancer(graph["lb"]["id"]).name == "sample-lb"
    assert lib.get_listener(graph["listener"]["id"]).protocol_port == 80
    assert lib.get_pool(graph["pool"]["id"]).loadbalancer_id == graph["lb"]["id"]
    assert lib.get_member(graph["member"]["id"]).protocol_port == 8080
    assert lib.get_member(str(uuid.uuid4())) is None


def test_statistics_posted_on_the_stats_socket_show_in_the_api(sample_cloud, graph):
    listener_id = graph["listener"]["id"]
    counters = {"active_connections": 2, "bytes_in": 123, "bytes_out": 456,
                "request_errors": 1, "total_connections": 9}
    library(sample_cloud).update_listener_statistics(
        {"listeners": [dict(id=listener_id, **counters)]})
    stats = api(sample_cloud, "GET", f"listeners/{listener_id}/stats", expect=200).json()
    assert stats["stats"] == counters


@pytest.mark.parametrize("path,key,body", [
    ("listeners", "listener", {"protocol": "UDP", "protocol_port": 53}),
    ("pools", "pool", {"protocol": "HTTP", "lb_algorithm": "SOURCE_IP_PORT"}),
])
def test_unsupported_options_are_refused(sample_cloud, graph, path, key, body):
    body = dict(body, loadbalancer_id=graph["lb"]["id"])
    resp = api(sample_cloud, "POST", path, {key: body})
    assert resp.status_code == 501, resp.text
    assert "sample" in resp.json()["faultstring"]


def test_flavor_metadata_is_validated_by_the_driver(sample_cloud):
    good = api(sample_cloud, "POST", "flavorprofiles", {"flavorprofile": {
        "name": "sample-size", "provider_name": "sample",
        "flavor_data": '{"sample_size": "small"}'}})
    assert good.status_code == 201, good.text
    bad = api(sample_cloud, "POST", "flavorprofiles", {"flavorprofile": {
        "name": "sample-bad", "provider_name": "sample",
        "flavor_data": '{"sample_size": "huge"}'}})
    assert bad.status_code == 501 and "huge" in bad.text
    caps = api(sample_cloud, "GET", "providers/sample/flavor_capabilities", expect=200).json()
    assert [c["name"] for c in caps["flavor_capabilities"]] == ["sample_size"]


def test_the_broken_driver_never_reports_and_accepts_what_it_cannot_do(sample_cloud):
    lb = api(sample_cloud, "POST", "loadbalancers", {"loadbalancer": {
        "provider": "sample_broken", "vip_subnet_id": str(uuid.uuid4())}}, expect=201).json()[
        "loadbalancer"]
    time.sleep(1.0)
    lb = api(sample_cloud, "GET", f"loadbalancers/{lb['id']}", expect=200).json()["loadbalancer"]
    assert lb["provisioning_status"] == "PENDING_CREATE"   # nothing but the driver reports
    # an unsupported option would pass silently too; the conformance suite catches both
    library(sample_cloud).update_loadbalancer_status(
        {"loadbalancers": [{"id": lb["id"], "provisioning_status": "ACTIVE"}]})
    listener = api(sample_cloud, "POST", "listeners", {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "UDP", "protocol_port": 53}})
    assert listener.status_code == 201, listener.text


def test_deletes_reach_deleted_through_the_sockets(sample_cloud, graph):
    lb_id, pool_id = graph["lb"]["id"], graph["pool"]["id"]
    api(sample_cloud, "DELETE", f"pools/{pool_id}/members/{graph['member']['id']}", expect=204)
    wait_status(sample_cloud, f"pools/{pool_id}/members/{graph['member']['id']}", "member",
                "DELETED")
    wait_status(sample_cloud, f"loadbalancers/{lb_id}", "loadbalancer")
    api(sample_cloud, "DELETE", f"listeners/{graph['listener']['id']}", expect=204)
    wait_status(sample_cloud, f"listeners/{graph['listener']['id']}", "listener", "DELETED")
    wait_status(sample_cloud, f"loadbalancers/{lb_id}", "loadbalancer")
    requests.delete(f"{sample_cloud.url}/v2/lbaas/loadbalancers/{lb_id}?cascade=true",
                    timeout=30).raise_for_status()
    wait_status(sample_cloud, f"loadbalancers/{lb_id}", "loadbalancer", "DELETED")
    assert api(sample_cloud, "GET", f"pools/{pool_id}").status_code == 404


def _agent_pid(cloud, other_than=None):
    def read():
        try:
            pid = int(cloud.pid_file.read_text())
        except (OSError, ValueError):
            return None
        if pid == other_than:
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid
    return wait_for(read, 60, "the sample provider agent to write its pid", 0.1)


def test_the_provider_agent_runs_and_is_restarted_when_killed(sample_cloud):
    pid = _agent_pid(sample_cloud)
    os.kill(pid, signal.SIGKILL)
    new_pid = _agent_pid(sample_cloud, other_than=pid)
    assert new_pid != pid
