"""The agent with relative HAProxy paths under a long base dir, plugging interfaces inside a
real network namespace, and sending real heartbeats (spec amphora.md §3, §4)."""
import http.server
import os
import secrets
import socket
import stat
import subprocess
import threading
import uuid

import pytest
import requests
from octavia_lib.api.drivers import data_models as dm

from lbaas.agent import wire
from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.haproxy import render as hr
from testbed.service import free_port, venv_command, wait_for
from tests.functional.test_agent import (Agent, Backend, _Handler, haproxy_bin,  # noqa: F401
                                         haproxy_pids, pki)
from tests.functional.test_local_compute import _free_subnets, _unavailable

pytestmark = pytest.mark.functional
KEY = "functional-heartbeat-key"
RELATIVE = dict(stats_socket="stats.sock", pid_file="haproxy.pid", state_file="servers.state")


class Heartbeats:
    """A UDP socket on (host, free port) collecting decoded heartbeats in a thread."""

    def __init__(self, host):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, 0))
        self.sock.settimeout(0.2)
        self.address = f"{host}:{self.sock.getsockname()[1]}"
        self.messages, self.errors, self._stop = [], [], threading.Event()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self):
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, OSError):
                continue
            try:
                self.messages.append(wire.decode(data, KEY))
            except wire.HeartbeatError as exc:
                self.errors.append(exc)

    def total(self, listener_id, counter):
        """The sum of one listener counter over every heartbeat received (deltas add up)."""
        return sum(m["listeners"].get(listener_id, {}).get("stats", {}).get(counter, 0)
                   for m in list(self.messages))

    def wait(self, predicate, what, timeout=30):
        """The first heartbeat received from now on that satisfies predicate."""
        start = len(self.messages)
        return wait_for(lambda: next((m for m in self.messages[start:] if predicate(m)), None),
                        timeout, what)

    def close(self):
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


class Model:
    """UUIDs of one load balancer with one HTTP listener, pool and member."""

    def __init__(self):
        self.lb, self.listener, self.pool, self.member = (str(uuid.uuid4()) for _ in range(4))
        self.pool_key = f"{self.pool}:{self.listener}"

    def render(self, vip, port, member_ip, member_port, settings=RELATIVE, monitor=False):
        hm = dm.HealthMonitor(healthmonitor_id=str(uuid.uuid4()), type="HTTP", delay=1,
                              timeout=1, max_retries=1, max_retries_down=1, url_path="/",
                              http_method="GET", expected_codes="200",
                              admin_state_up=True) if monitor else None
        member = dm.Member(member_id=self.member, address=member_ip, protocol_port=member_port,
                           weight=1, backup=False, admin_state_up=True)
        pool = dm.Pool(pool_id=self.pool, protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                       members=[member], admin_state_up=True, healthmonitor=hm)
        listener = dm.Listener(listener_id=self.listener, protocol="HTTP", protocol_port=port,
                               default_pool_id=self.pool, connection_limit=100,
                               admin_state_up=True)
        lb = dm.LoadBalancer(loadbalancer_id=self.lb, vip_address=vip, listeners=[listener],
                             pools=[pool], admin_state_up=True)
        return hr.render(lb, hr.Settings(vip_addresses=(vip,), default_connection_limit=100,
                                         **settings))


def _serve(backend):
    threading.Thread(target=backend.serve_forever, daemon=True).start()
    return backend


def _stop(backend):
    backend.release.set()
    backend.shutdown()
    backend.server_close()


# -- relative paths under a long base directory, on loopback --------------------------------

@pytest.fixture
def long_agent(tmp_path, pki, haproxy_bin):  # noqa: F811
    """An agent on 127.0.0.1 whose base dir is 150+ characters, heartbeating every 0.2 s."""
    base = str(tmp_path / ("b" * max(10, 160 - len(str(tmp_path)))))
    assert len(base) >= 150
    heartbeats = Heartbeats("127.0.0.1")
    key_file = tmp_path / "hb.key"
    key_file.write_text(KEY + "\n")
    agent = Agent(base, pki, haproxy_bin, str(tmp_path / "agent.log"))
    agent.argv += ["--amphora-id", "amp-long", "--heartbeat-key-file", str(key_file),
                   "--controller", heartbeats.address, "--heartbeat-interval", "0.2"]
    try:
        agent.start()
        yield agent, heartbeats
    finally:
        agent.stop()
        heartbeats.close()


def test_relative_paths_work_under_a_long_base_dir_across_reloads(long_agent):
    agent, heartbeats = long_agent
    a, b = _serve(Backend("A")), _serve(Backend("B"))
    model, port = Model(), free_port()
    lb_dir = os.path.join(agent.base_dir, model.lb)
    assert len(os.path.join(lb_dir, "stats.sock")) > 107
    try:
        text = model.render("127.0.0.1", port, "127.0.0.1", a.server_port)
        assert "stats socket stats.sock " in text
        assert agent.request("PUT", f"/1.0/loadbalancer/amp-long/{model.lb}/haproxy",
                             data=text).status_code == 202
        assert agent.request("PUT", f"/1.0/loadbalancer/{model.lb}/start").status_code == 202
        url = f"http://127.0.0.1:{port}/"
        assert requests.get(url, timeout=10).text == "backend A\n"
        assert stat.S_IMODE(os.stat(os.path.join(lb_dir, "stats.sock")).st_mode) == 0o600
        assert stat.S_IMODE(os.stat(os.path.join(lb_dir, "master.sock")).st_mode) == 0o600
        for _ in range(2):   # twice: the second reload runs from a re-executed master
            text = model.render("127.0.0.1", port, "127.0.0.1", b.server_port)
            agent.request("PUT", f"/1.0/loadbalancer/amp-long/{model.lb}/haproxy", data=text)
            response = agent.request("PUT", f"/1.0/loadbalancer/{model.lb}/reload")
            assert response.status_code == 202, response.text
            assert requests.get(url, timeout=10).text == "backend B\n"
        with open(os.path.join(lb_dir, "servers.state")) as f:
            assert f" {model.pool_key} " in f.read()
        assert agent.request("GET", "/1.0/details").json()["haproxy_count"] == 1
        assert wait_for(lambda: heartbeats.total(model.listener, "totconns") == 3, 20,
                        "heartbeats to count the 3 requests, across reloads")
        assert agent.request("PUT", f"/1.0/loadbalancer/{model.lb}/stop").status_code == 202
        assert haproxy_pids(lb_dir) == []
        assert heartbeats.errors == []
    finally:
        agent.request("DELETE", f"/1.0/listeners/{model.lb}")
        _stop(a)
        _stop(b)


# -- an agent inside a real network namespace -----------------------------------------------

def _host_address(bridge, address):
    """Put address ("ip/prefix") on a bridge of the root namespace."""
    from pyroute2 import IPRoute
    ip, prefix = address.split("/")
    with IPRoute() as ipr:
        index = ipr.link_lookup(ifname=bridge)[0]
        ipr.link("set", index=index, state="up")
        ipr.addr("add", index=index, address=ip, prefixlen=int(prefix))


@pytest.fixture(scope="module")
def amphora(tmp_path_factory, haproxy_bin):  # noqa: F811
    """An amphora namespace (LocalCompute) with VIP and member interfaces and the agent."""
    reason = _unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the agent namespace tests need root and netns in CI, but {reason}",
                        pytrace=False)
        pytest.skip(reason)
    from pyroute2 import IPRoute

    from lbaas.drivers.amphora.compute import Network, load
    root = tmp_path_factory.mktemp("amp-agent")
    suffix = secrets.token_hex(3)
    mgmt, vip_net, member_net = _free_subnets(3)
    bridges = {"mgmt": f"lbm-{suffix}", "vip": f"lbv-{suffix}", "member": f"lbn-{suffix}"}
    compute = load("local", management_bridge=bridges["mgmt"], management_cidr=str(mgmt),
                   state_dir=str(root / "state"))
    amphora_id = str(uuid.uuid4())
    heartbeats = None
    try:
        inst = compute.create(amphora_id)
        vip_if = compute.plug(amphora_id, Network(bridges["vip"]))
        member_if = compute.plug(amphora_id, Network(bridges["member"]))
        vip_hosts, member_hosts = list(vip_net.hosts()), list(member_net.hosts())
        _host_address(bridges["vip"], f"{vip_hosts[0]}/{vip_net.prefixlen}")
        _host_address(bridges["member"], f"{member_hosts[0]}/{member_net.prefixlen}")
        heartbeats = Heartbeats(str(next(mgmt.hosts())))   # the host end of the mgmt bridge
        ca = certs.CertificateAuthority.load_or_create(str(root / "ca"))
        (root / "ca.pem").write_bytes(ca.ca_pem)
        pki = {"ca": str(root / "ca.pem"),
               "server": certs.write_pair(str(root), "server",
                                          *ca.issue_server(amphora_id, [inst.management_ip])),
               "client": certs.write_pair(str(root), "client", *ca.issue_client("controller"))}
        (root / "hb.key").write_text(KEY)
        port = 9443
        argv = [venv_command("lbaas-agent"), "--base-dir", str(root / "base"),
                "--bind", inst.management_ip, "--port", str(port), "--ca", pki["ca"],
                "--cert", pki["server"], "--haproxy", haproxy_bin, "--amphora-id", amphora_id,
                "--heartbeat-key-file", str(root / "hb.key"), "--controller",
                heartbeats.address, "--heartbeat-interval", "0.2"]
        log = str(root / "agent.log")
        compute.spawn(amphora_id, argv, log)
        url = f"https://{inst.management_ip}:{port}"

        def call(method, path, **kw):
            return requests.request(method, url + path, cert=pki["client"], verify=pki["ca"],
                                    timeout=30, **kw)

        def answers():
            try:
                return call("GET", "/").status_code == 200
            except requests.RequestException:
                return False
        wait_for(answers, 30, "the agent in the namespace to answer over TLS", 0.05)
        yield {"call": call, "id": amphora_id, "ns": inst.name, "vip_if": vip_if,
               "member_if": member_if, "vip_net": vip_net, "member_net": member_net,
               "heartbeats": heartbeats, "log": log}
    finally:
        compute.delete(amphora_id)
        if heartbeats is not None:
            heartbeats.close()
        with IPRoute() as ipr:
            for bridge in bridges.values():
                for index in ipr.link_lookup(ifname=bridge):
                    ipr.link("del", index=index)


def _ns_state(ns_name):
    """(addresses "ip/prefix" by ifname, main-table IPv4 routes, MTUs) inside a namespace."""
    from pyroute2 import NetNS
    with NetNS(ns_name) as ns:
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ns.get_links()}
        mtus = {link.get_attr("IFLA_IFNAME"): link.get_attr("IFLA_MTU") for link in ns.get_links()}
        addresses = sorted((names[a["index"]], f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}")
                           for a in ns.get_addr(family=socket.AF_INET))
        routes = sorted((r.get_attr("RTA_DST") or "default", r["dst_len"],
                         r.get_attr("RTA_GATEWAY") or "", names.get(r.get_attr("RTA_OIF")))
                        for r in ns.get_routes(family=socket.AF_INET)
                        if r.get_attr("RTA_TABLE") == 254)
    return addresses, routes, mtus


def _plug_vip(amphora, vrrp=False, vip_index=10):
    hosts = list(amphora["vip_net"].hosts())
    body = {"mac_address": amphora["vip_if"].mac, "subnet_cidr": str(amphora["vip_net"]),
            "gateway": str(hosts[0]), "mtu": 1400,
            "host_routes": [{"destination": "198.51.100.0/24", "nexthop": str(hosts[1])}]}
    if vrrp:
        body["vrrp_ip"] = str(hosts[11])
    vip = hosts[vip_index]
    return str(vip), amphora["call"]("POST", f"/1.0/plug/vip/{vip}", json=body)


def _nonlocal_bind(ns_name):
    """The namespace's net.ipv4.ip_nonlocal_bind (read from inside it)."""
    out = subprocess.run(["nsenter", f"--net=/var/run/netns/{ns_name}", "cat",
                          "/proc/sys/net/ipv4/ip_nonlocal_bind"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


def test_plug_vip_sets_addresses_mtu_routes_and_default_route(amphora):
    vip, response = _plug_vip(amphora)
    assert response.status_code == 202, response.text
    assert response.json() == {"message": "OK", "details": f"VIP {vip} plugged on interface "
                                                           f"{amphora['vip_if'].name}"}
    addresses, routes, mtus = _ns_state(amphora["ns"])
    ifname, prefix = amphora["vip_if"].name, amphora["vip_net"].prefixlen
    assert (ifname, f"{vip}/{prefix}") in addresses
    assert ("default", 0, str(list(amphora["vip_net"].hosts())[0]), ifname) in routes
    assert ("198.51.100.0", 24, str(list(amphora["vip_net"].hosts())[1]), ifname) in routes
    assert mtus[ifname] == 1400
    assert _nonlocal_bind(amphora["ns"]) == 1   # HAProxy may bind a VIP moved here later


def test_plug_vip_standby_readies_the_interface_without_the_vip(amphora):
    hosts = list(amphora["vip_net"].hosts())
    body = {"mac_address": amphora["vip_if"].mac, "subnet_cidr": str(amphora["vip_net"]),
            "gateway": str(hosts[0]), "standby": True}
    response = amphora["call"]("POST", f"/1.0/plug/vip/{hosts[30]}", json=body)
    assert response.status_code == 202, response.text
    addresses, _, _ = _ns_state(amphora["ns"])
    assert not [a for a in addresses if a[1].startswith(f"{hosts[30]}/")]
    assert _nonlocal_bind(amphora["ns"]) == 1


def test_plug_vip_with_vrrp_ip_leaves_the_vip_to_keepalived(amphora):
    vip, response = _plug_vip(amphora, vrrp=True, vip_index=20)
    assert response.status_code == 202, response.text
    addresses, _, _ = _ns_state(amphora["ns"])
    ifname, prefix = amphora["vip_if"].name, amphora["vip_net"].prefixlen
    assert (ifname, f"{list(amphora['vip_net'].hosts())[11]}/{prefix}") in addresses
    assert (ifname, f"{vip}/{prefix}") not in addresses


def test_plug_vip_twice_changes_nothing(amphora):
    assert _plug_vip(amphora)[1].status_code == 202
    before = _ns_state(amphora["ns"])
    assert _plug_vip(amphora)[1].status_code == 202
    assert _ns_state(amphora["ns"]) == before


def test_plug_network_adds_fixed_ips_and_host_routes_but_no_default_route(amphora):
    assert _plug_vip(amphora)[1].status_code == 202
    net = amphora["member_net"]
    hosts = list(net.hosts())
    body = {"mac_address": amphora["member_if"].mac.upper(), "mtu": 1380, "fixed_ips": [
        {"ip_address": str(hosts[5]), "subnet_cidr": str(net), "gateway": str(hosts[0]),
         "host_routes": [{"destination": "203.0.113.0/24", "nexthop": str(hosts[2])}]}]}
    for _ in range(2):
        response = amphora["call"]("POST", "/1.0/plug/network", json=body)
        assert response.status_code == 202, response.text
    ifname = amphora["member_if"].name
    assert response.json()["details"] == f"Plugged on interface {ifname}"
    addresses, routes, mtus = _ns_state(amphora["ns"])
    assert [a for a in addresses if a[0] == ifname] == [(ifname, f"{hosts[5]}/{net.prefixlen}")]
    assert ("203.0.113.0", 24, str(hosts[2]), ifname) in routes
    assert [r for r in routes if r[0] == "default"] == \
        [("default", 0, str(list(amphora["vip_net"].hosts())[0]), amphora["vip_if"].name)]
    assert mtus[ifname] == 1380
    found = amphora["call"]("GET", f"/1.0/interface/{hosts[5]}")
    assert (found.status_code, found.json()["interface"]) == (200, ifname)


def test_plug_errors(amphora):
    call, net = amphora["call"], amphora["vip_net"]
    vip = str(list(net.hosts())[10])
    missing = call("POST", f"/1.0/plug/vip/{vip}",
                   json={"mac_address": "02:00:00:00:00:01", "subnet_cidr": str(net)})
    assert (missing.status_code, missing.json()["message"]) == (404, "Interface not found")
    assert call("POST", f"/1.0/plug/vip/{vip}", data="not json").status_code == 400
    assert call("POST", f"/1.0/plug/vip/{vip}", json={"mac_address": amphora["vip_if"].mac,
                                                      "subnet_cidr": "192.0.2.0/24"}
                ).status_code == 400
    assert call("POST", "/1.0/plug/network", json={"fixed_ips": []}).status_code == 400
    assert call("GET", "/1.0/interface/192.0.2.99").status_code == 404
    assert call("GET", "/1.0/interface/not-an-ip").status_code == 400


def test_heartbeats_report_traffic_and_member_status_from_the_namespace(amphora):
    assert _plug_vip(amphora)[1].status_code == 202
    call, heartbeats = amphora["call"], amphora["heartbeats"]
    member_ip = str(list(amphora["member_net"].hosts())[0])
    backend = _serve(_MemberBackend(member_ip))
    model, vip = Model(), str(list(amphora["vip_net"].hosts())[10])
    try:
        text = model.render(vip, 8080, member_ip, backend.server_port, monitor=True)
        assert call("PUT", f"/1.0/loadbalancer/{amphora['id']}/{model.lb}/haproxy",
                    data=text).status_code == 202
        response = call("PUT", f"/1.0/loadbalancer/{model.lb}/start")
        assert response.status_code == 202, response.text
        up = heartbeats.wait(lambda m: m["pools"].get(model.pool_key, {}).get("members", {})
                             .get(model.member) == "UP", "the member to be UP")
        assert up["id"] == amphora["id"] and up["pools"][model.pool_key]["status"] == "UP"
        assert up["listeners"][model.listener]["status"] == "OPEN"
        for _ in range(4):
            assert requests.get(f"http://{vip}:8080/", timeout=10).text == "backend M\n"
        wait_for(lambda: heartbeats.total(model.listener, "totconns") == 4, 20,
                 "heartbeats to count the 4 requests")
        assert heartbeats.total(model.listener, "rx") > 0
        assert heartbeats.total(model.listener, "tx") > 0
        seqs = [m["seq"] for m in heartbeats.messages]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
        _stop(backend)
        down = heartbeats.wait(lambda m: m["pools"].get(model.pool_key, {}).get("members", {})
                               .get(model.member, "").startswith("DOWN"), "the member to go DOWN")
        assert down["pools"][model.pool_key]["status"] == "DOWN"
        assert heartbeats.errors == []
    finally:
        call("DELETE", f"/1.0/listeners/{model.lb}")
        _stop(backend)


class _MemberBackend(Backend):
    """A Backend named M bound to the host's address on the member bridge."""

    def __init__(self, ip):
        self.name, self.release, self.slow_started = "M", threading.Event(), threading.Event()
        http.server.HTTPServer.__init__(self, (ip, 0), _Handler)
