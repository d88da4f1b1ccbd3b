"""The amphora image really boots and carries traffic (docs/amphora.md).

The module builds the image (cached by the hash of its inputs in lbaas.image.build's default
cache directory, /var/cache/lbaas-image as root, outside the worktree), boots one VM under
QEMU/TCG with a config drive made by bootdata.encode and a management and a VIP NIC on
bridges of its own, and then drives it as the worker does: the agent over mutual TLS, the
VIP plugged, a HAProxy config with two members pushed and started. Heartbeats go to lbaas's
own HeartbeatServer and HealthManager on a SQLite database. Everything made here (QEMU,
taps, bridges, namespaces) is removed at the end, on failure too.
"""
import contextlib
import ipaddress
import secrets
import time
import uuid

import pytest
import requests
from octavia_lib.api.drivers import data_models as dm

from lbaas.agent import bootdata
from lbaas.core import models
from lbaas.core.controller import Core
from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.agent_client import AgentClient, AgentError
from lbaas.drivers.amphora.haproxy import render as hr
from lbaas.drivers.amphora.health import HealthManager, HeartbeatServer
from lbaas.drivers.amphora.store import heartbeats
from tests.conftest import database_url, make_conf
from tests.functional import amphora_vm
from tests.functional.test_health_server import operating_status, seed
from testbed import backends, host
from testbed.service import wait_for

pytestmark = [pytest.mark.functional, pytest.mark.slow]

KEY = "image-test-heartbeat-key"
AGENT_PORT = 9443
MEMBER_PORT = 8080
VIP_PORT = 80
RELATIVE = dict(stats_socket="stats.sock", pid_file="haproxy.pid", state_file="servers.state")


class Bench:
    """Names, subnets and addresses of one run; `remove()` undoes everything made."""

    def __init__(self, tmp):
        tag = secrets.token_hex(3)
        self.tmp = tmp
        self.mgmt_bridge, self.vip_bridge = f"lbi{tag}m", f"lbi{tag}v"
        self.taps = (f"lbi{tag}t0", f"lbi{tag}t1")
        self.macs = ("52:54:00:%02x:%02x:01" % (secrets.randbelow(256), secrets.randbelow(256)),
                     "52:54:00:%02x:%02x:02" % (secrets.randbelow(256), secrets.randbelow(256)))
        self.mgmt_net, self.vip_net = host.free_subnets(2)
        mh, vh = list(self.mgmt_net.hosts()), list(self.vip_net.hosts())
        self.host_ip, self.vm_ip = str(mh[0]), str(mh[9])
        self.vip, self.client_ip = str(vh[99]), str(vh[49])
        self.member_ips = (str(vh[10]), str(vh[11]))
        self.namespaces = [backends.Namespace(f"lbi{tag}{n}", self.vip_bridge,
                                              [f"{ip}/{self.vip_net.prefixlen}"])
                           for n, ip in (("a", self.member_ips[0]), ("b", self.member_ips[1]),
                                         ("c", self.client_ip))]
        self.members, self.vm, self.heartbeat_server, self.core = [], None, None, None

    def wire(self):
        """The bridges (the host on the management one), the taps, the namespaces."""
        from pyroute2 import IPRoute
        from lbaas.drivers.amphora.compute.local import ensure_bridge
        with IPRoute() as ipr:
            ensure_bridge(ipr, self.mgmt_bridge, f"{self.host_ip}/{self.mgmt_net.prefixlen}")
            ensure_bridge(ipr, self.vip_bridge)
        for tap, bridge in zip(self.taps, (self.mgmt_bridge, self.vip_bridge)):
            amphora_vm.add_tap(tap, bridge)
        for ns in self.namespaces:
            ns.create()

    def remove(self):
        """Stop and delete everything this bench made (each step on its own)."""
        if self.vm is not None:
            self.vm.stop()
        for member in self.members:
            with contextlib.suppress(Exception):
                member.stop()
        for ns in self.namespaces:
            with contextlib.suppress(Exception):
                ns.remove()
        if self.heartbeat_server is not None:
            self.heartbeat_server.stop()
        if self.core is not None:
            self.core.close()
        for name in (*self.taps, self.mgmt_bridge, self.vip_bridge):
            amphora_vm.delete_link(name)


def network_data(bench):
    """Nova's network_data.json for the VM: both links, the management network static."""
    links = [{"id": f"tap{k}", "type": "bridge", "ethernet_mac_address": mac, "mtu": 1500,
              "vif_id": str(uuid.uuid4())} for k, mac in enumerate(bench.macs)]
    return {"links": links, "networks": [
        {"id": "network0", "type": "ipv4", "link": "tap0", "ip_address": bench.vm_ip,
         "netmask": str(bench.mgmt_net.netmask), "routes": [],
         "network_id": str(uuid.uuid4())}], "services": []}


def haproxy_config(lb_id, listener_id, pool_id, vip, members):
    """The HAProxy config the worker would render: one HTTP listener, two members."""
    pool = dm.Pool(pool_id=pool_id, protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                   admin_state_up=True,
                   members=[dm.Member(member_id=str(uuid.uuid4()), address=ip,
                                      protocol_port=MEMBER_PORT, weight=1, backup=False,
                                      admin_state_up=True) for ip in members])
    listener = dm.Listener(listener_id=listener_id, protocol="HTTP", protocol_port=VIP_PORT,
                           default_pool_id=pool_id, connection_limit=100, admin_state_up=True)
    lb = dm.LoadBalancer(loadbalancer_id=lb_id, vip_address=vip, listeners=[listener],
                         pools=[pool], admin_state_up=True)
    return hr.render(lb, hr.Settings(vip_addresses=(vip,), default_connection_limit=100,
                                     **RELATIVE))


@pytest.fixture(scope="module")
def amphora(tmp_path_factory, request):
    """The booted VM amphora and what the tests drive it with."""
    amphora_vm.require()
    reason = host.namespaces_unavailable()
    if reason:
        pytest.fail(f"the amphora image test needs network namespaces: {reason}",
                    pytrace=False)
    started = time.monotonic()
    image = amphora_vm.build_image()
    built = time.monotonic()
    tmp = tmp_path_factory.mktemp("amphora-image")
    bench = Bench(tmp)
    try:
        bench.wire()
        bench.core = Core(make_conf(database_url("sqlite", request, "image"),
                                    **{"health_manager.heartbeat_key": KEY}))
        lb_id, listener_id, amphora_id = seed(bench.core.db)
        bench.heartbeat_server = HeartbeatServer(bench.core.conf,
                                                 HealthManager(bench.core.context),
                                                 bind_ip=bench.host_ip, bind_port=0)
        bench.heartbeat_server.start()
        hb_host, hb_port = bench.heartbeat_server.address
        ca = certs.CertificateAuthority.load_or_create(str(tmp / "ca"))
        other = certs.CertificateAuthority.load_or_create(str(tmp / "other-ca"))
        (tmp / "ca.pem").write_bytes(ca.ca_pem)
        cert, key = ca.issue_server(amphora_id, [bench.vm_ip])
        user_data = bootdata.encode(amphora_id, {"ca.pem": ca.ca_pem, "server.pem": cert + key,
                                                 "heartbeat.key": KEY.encode()},
                                    AGENT_PORT, [f"{hb_host}:{hb_port}"], 1.0)
        drive = amphora_vm.config_drive(str(tmp / "config-drive.iso"), str(tmp / "drive"),
                                        user_data, network_data(bench))
        bench.vm = amphora_vm.Vm(image, drive, list(zip(bench.taps, bench.macs)),
                                 str(tmp / "console.log")).start()
        up = bench.vm.wait_console(r"lbaas-amphora: agent up on (\S+)")
        booted = time.monotonic()
        print(f"amphora VM: agent up {booted - bench.vm.started:.1f} s after QEMU started "
              f"({up.group(1)}); image {built - started:.1f} s")
        client = AgentClient(str(tmp / "ca.pem"),
                             certs.write_pair(str(tmp), "client", *ca.issue_client("controller")))
        stranger = certs.write_pair(str(tmp), "stranger", *other.issue_client("controller"))
        for ns, ip in zip(bench.namespaces[:2], bench.member_ips):
            bench.members.append(backends.Backend(ns, ip, MEMBER_PORT, f"member-{ip}",
                                                  str(tmp)).start())
        yield {"bench": bench, "client": client, "stranger": stranger, "ca": str(tmp / "ca.pem"),
               "amphora_id": amphora_id, "lb_id": lb_id, "listener_id": listener_id,
               "started": started}
    finally:
        if bench.vm is not None:
            print("amphora VM console (end):\n" + bench.vm.console()[-3000:])
        bench.remove()


def test_agent_answers_over_mutual_tls_on_the_management_address(amphora):
    bench, client = amphora["bench"], amphora["client"]
    info = client.info(bench.vm_ip)
    assert info["hostname"] == "amphora"
    assert info["haproxy_version"].startswith("2.6")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"https://{bench.vm_ip}:{AGENT_PORT}/", cert=amphora["stranger"],
                     verify=amphora["ca"], timeout=30)


def test_http_through_the_vip_reaches_both_members(amphora):
    bench, client = amphora["bench"], amphora["client"]
    lb_id = amphora["lb_id"]   # the seeded ids: heartbeats then report a listener it knows
    client.plug_vip(bench.vm_ip, bench.vip, {"mac_address": bench.macs[1],
                                             "subnet_cidr": str(bench.vip_net)})
    text = haproxy_config(lb_id, amphora["listener_id"], str(uuid.uuid4()), bench.vip,
                          bench.member_ips)
    client.upload(bench.vm_ip, amphora["amphora_id"], lb_id, text)
    client.action(bench.vm_ip, lb_id, "start")
    client_ns = bench.namespaces[2].name
    wait_for(lambda: backends.http_get(bench.vip, "/", VIP_PORT, netns=client_ns,
                                       timeout=5).status == 200, 60, "the VIP to answer")
    names = backends.names(bench.vip, 6, port=VIP_PORT, netns=client_ns)
    assert sorted(names) == sorted([f"member-{ip}" for ip in bench.member_ips] * 3), names
    print(f"amphora image: build + boot + traffic in "
          f"{time.monotonic() - amphora['started']:.1f} s")


def test_heartbeats_from_the_vm_reach_the_health_manager(amphora):
    # after the traffic test: the agent's heartbeats now report the seeded listener
    bench = amphora["bench"]
    server = bench.heartbeat_server
    assert server.wait(lambda c: c["processed"] >= 2, 60), dict(server.counters)
    context = bench.core.context
    wait_for(lambda: heartbeats.Heartbeats(context).health(amphora["amphora_id"]), 60,
             "the health manager to record the VM as alive")
    wait_for(lambda: operating_status(bench.core.db, models.Listener,
                                      amphora["listener_id"]) == "ONLINE", 60,
             "the listener to go ONLINE from the VM's heartbeats")
    assert heartbeats.Heartbeats(context).health(amphora["amphora_id"]).seq >= 2
    assert server.counters["rejected"] == 0


def test_a_wrong_vip_mac_is_a_404_not_a_500(amphora):
    bench, client = amphora["bench"], amphora["client"]
    with pytest.raises(AgentError) as err:
        client.plug_vip(bench.vm_ip, bench.vip, {"mac_address": "52:54:00:ff:ff:ff",
                                                 "subnet_cidr": str(bench.vip_net)})
    assert err.value.status == 404
    assert ipaddress.ip_address(bench.vip) in bench.vip_net
