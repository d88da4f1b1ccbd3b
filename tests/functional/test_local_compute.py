"""The `local` compute backend for real: amphorae as network namespaces wired with pyroute2."""
import ipaddress
import os
import secrets
import socket
import sys
import time
import uuid

import pytest

from testbed import host

pytestmark = pytest.mark.functional

LISTENER = """
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept(); c.sendall(sys.argv[2].encode()); c.close()
"""
PORT = 7777


def _unavailable():
    """Why namespaces cannot be used here, or None."""
    return host.namespaces_unavailable()


def _free_subnets(count):
    """`count` random /24s in 10.0.0.0/8 that overlap no route of this host."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        taken = [ipaddress.ip_network(f"{r.get_attr('RTA_DST')}/{r['dst_len']}", strict=False)
                 for r in ipr.get_routes(family=socket.AF_INET) if r.get_attr("RTA_DST")]
    found = []
    while len(found) < count:
        net = ipaddress.ip_network(f"10.{secrets.randbelow(200) + 50}.{secrets.randbelow(256)}.0/24")
        if net not in found and not any(net.overlaps(t) for t in taken):
            found.append(net)
    return found


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A LocalCompute on a unique management bridge, a VIP bridge; all removed at the end."""
    reason = _unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the local compute tests need root and netns in CI, but {reason}",
                        pytrace=False)
        print(f"skipping local compute tests: {reason}")
        pytest.skip(reason)
    from pyroute2 import IPRoute

    from lbaas.drivers.amphora.compute import load
    suffix = secrets.token_hex(3)
    mgmt, vip = _free_subnets(2)
    compute = load("local", management_bridge=f"lbm-{suffix}", management_cidr=str(mgmt),
                   state_dir=str(tmp_path_factory.mktemp("amphorae")))
    env = {"compute": compute, "mgmt": mgmt, "vip": vip, "vip_bridge": f"lbv-{suffix}"}
    try:
        yield env
    finally:
        for inst in compute.list():
            compute.delete(inst.amphora_id)
        with IPRoute() as ipr:
            for bridge in (compute.bridge, env["vip_bridge"]):
                for index in ipr.link_lookup(ifname=bridge):
                    ipr.link("del", index=index)


@pytest.fixture
def amp(env):
    """A factory of amphorae deleted after the test, even if it fails."""
    made = []

    def create():
        amphora_id = str(uuid.uuid4())
        made.append(amphora_id)
        return env["compute"].create(amphora_id)
    yield create
    for amphora_id in made:
        env["compute"].delete(amphora_id)


def _listen(compute, inst, port=PORT):
    """Start a TCP listener inside the amphora that answers with its amphora id."""
    return compute.spawn(inst.amphora_id, [sys.executable, "-c", LISTENER, str(port),
                                           inst.amphora_id])


def _fetch(ip, port=PORT, timeout=10.0):
    """Connect to ip:port until it answers (or timeout); -> the bytes it sent."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((ip, port), timeout=1) as s:
                return s.recv(100).decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _host_links():
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def test_two_amphorae_answer_on_their_management_ips(env, amp):
    a, b = amp(), amp()
    _listen(env["compute"], a)
    _listen(env["compute"], b)
    assert (_fetch(a.management_ip), _fetch(b.management_ip)) == (a.amphora_id, b.amphora_id)


def test_names_are_unique_and_fit_ifnamsiz(env, amp):
    a, b = amp(), amp()
    assert a.name != b.name and a.management_ip != b.management_ip
    assert {ipaddress.ip_address(a.management_ip), ipaddress.ip_address(b.management_ip)} \
        <= set(env["mgmt"].hosts())
    ours = {n for n in _host_links() if n.startswith(("a" + a.name[4:], "a" + b.name[4:]))}
    assert len(ours) == 2 and all(len(n) <= 15 for n in ours | {a.name, b.name})


def test_plugged_network_is_reachable_from_a_host_address_on_its_bridge(env, amp):
    from lbaas.drivers.amphora.compute import Network
    from lbaas.drivers.amphora.compute.local import ensure_bridge
    from pyroute2 import IPRoute
    a = amp()
    hosts = list(env["vip"].hosts())
    iface = env["compute"].plug(a.amphora_id, Network(env["vip_bridge"], f"{hosts[9]}/24"))
    with IPRoute() as ipr:
        ensure_bridge(ipr, env["vip_bridge"], f"{hosts[0]}/24")
    _listen(env["compute"], a)
    assert _fetch(str(hosts[9])) == a.amphora_id
    assert iface.name == "eth1" and len(iface.mac.split(":")) == 6
    assert env["compute"].get(a.amphora_id).interfaces == (iface,)


def test_unplug_removes_the_veth_pair(env, amp):
    from lbaas.drivers.amphora.compute import Network
    a = amp()
    iface = env["compute"].plug(a.amphora_id, Network(env["vip_bridge"], "192.0.2.10/24"))
    env["compute"].unplug(a.amphora_id, iface.name)
    env["compute"].unplug(a.amphora_id, iface.name)
    assert iface.host_name not in _host_links()
    assert env["compute"].get(a.amphora_id).interfaces == ()


def test_delete_leaves_no_namespace_process_interface_or_file(env, amp):
    from lbaas.drivers.amphora.compute import Network, processes
    from pyroute2 import netns
    compute = env["compute"]
    a = amp()
    iface = compute.plug(a.amphora_id, Network(env["vip_bridge"], "192.0.2.11/24"))
    pid = _listen(compute, a)
    _fetch(a.management_ip)
    compute.delete(a.amphora_id)
    compute.delete(a.amphora_id)
    assert a.name not in netns.listnetns()
    assert not processes.alive(pid)
    assert not {n for n in _host_links() if n.startswith("a" + a.name[4:])}
    assert iface.host_name not in _host_links()
    assert not [f for f in os.listdir(compute.state_dir) if f.startswith(a.amphora_id)]
    assert not compute.exists(a.amphora_id)


def test_create_is_idempotent_and_refuses_a_colliding_short_id(env, amp):
    from lbaas.drivers.amphora.compute import ComputeError
    a = amp()
    assert env["compute"].create(a.amphora_id) == a
    twin = a.amphora_id[:13] + "ffff-ffff-ffffffffffff"
    with pytest.raises(ComputeError, match="already belongs"):
        env["compute"].create(twin)
    env["compute"].delete(twin)
    assert env["compute"].exists(a.amphora_id)


def test_a_failed_plug_leaves_no_interface(env, amp):
    from lbaas.drivers.amphora.compute import ComputeError, Network
    a = amp()
    with pytest.raises(ComputeError, match="longer than 15"):
        env["compute"].plug(a.amphora_id, Network("a-bridge-name-too-long", "192.0.2.12/24"))
    assert not {n for n in _host_links() if n.startswith("a" + a.name[4:] + "n")}
    assert env["compute"].get(a.amphora_id).interfaces == ()


DAEMON = """
import os, sys, time
if os.fork() == 0:
    os.setsid()
    with open(sys.argv[1] + ".tmp", "w") as f:
        f.write(str(os.getpid()))
    os.rename(sys.argv[1] + ".tmp", sys.argv[1])
    time.sleep(3600)
"""


def test_delete_stops_a_daemon_that_left_the_spawned_session(env, amp, tmp_path):
    from lbaas.drivers.amphora.compute import processes
    a = amp()
    pidfile = tmp_path / "daemon.pid"
    env["compute"].spawn(a.amphora_id, [sys.executable, "-c", DAEMON, str(pidfile)])
    deadline = time.monotonic() + 10
    while not pidfile.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    pid = int(pidfile.read_text())
    assert processes.alive(pid)
    env["compute"].delete(a.amphora_id)
    assert not processes.alive(pid)


def test_a_bridge_keeps_its_mac_when_the_port_with_the_lowest_mac_leaves():
    """Linux gives an unpinned bridge the lowest MAC of its ports; amphorae coming and
    going must not change the MAC of this host's address on the bridge (every other
    amphora's ARP entry for it would go stale and its heartbeats would be lost)."""
    reason = _unavailable()
    if reason:
        pytest.skip(reason)
    from pyroute2 import IPRoute
    from lbaas.drivers.amphora.compute.local import ensure_bridge
    name, ports = f"lbtb{secrets.token_hex(3)}", []
    with IPRoute() as ipr:
        try:
            index = ensure_bridge(ipr, name)
            pinned = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
            for k, mac in enumerate(("02:00:00:00:00:01", "02:00:00:00:00:09")):
                port = f"{name}p{k}"
                ipr.link("add", ifname=port, kind="veth", peer=f"{name}q{k}")
                ports.append(port)
                i = ipr.link_lookup(ifname=port)[0]
                ipr.link("set", index=i, address=mac)
                ipr.link("set", index=i, master=index, state="up")
            ipr.link("del", index=ipr.link_lookup(ifname=ports.pop(0))[0])
            assert ipr.get_links(index)[0].get_attr("IFLA_ADDRESS") == pinned
            ensure_bridge(ipr, name)   # again: still the same MAC
            assert ipr.get_links(index)[0].get_attr("IFLA_ADDRESS") == pinned
        finally:
            for port in ports:
                for i in ipr.link_lookup(ifname=port):
                    ipr.link("del", index=i)
            for i in ipr.link_lookup(ifname=name):
                ipr.link("del", index=i)
