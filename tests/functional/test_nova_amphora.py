"""A VM amphora end to end: Nova's libvirt driver (QEMU/TCG) boots the image lbaas built, on
Neutron ports that the real OVN stack carries, and HTTP through the VIP reaches two members.

The session's `neutron_dataplane` (Neutron on a full OvnStack) and `nova_cloud`, plus a
nova-compute with the libvirt driver on the stack's chassis (testbed/cloud/nova_libvirt.py,
availability zone `nova_libvirt.ZONE`). lbaas runs the amphora provider on the `nova`
compute backend and the `neutron` network backend: the image (lbaas.image.build, from its
cache) is in Glance as Nova's libvirt driver boots it directly (kernel and initrd images
and the kernel's command line as properties of the disk image), a flavor, and a management
network without port security. The controller (lbaas serve, in the root namespace) reaches
the amphora agents through a Neutron port of that network bound to this host: a veth whose
one end is on br-int (iface-id = the port) and the other in the root namespace with the
port's MAC and address; the health manager listens there for the heartbeats.

The user's VIP and member networks are joined by a router; the client and the two members
are namespaces on Neutron ports (neutron_dataplane.PortVm).
"""
import contextlib
import os
import sqlite3
import time
import uuid

import pytest

from testbed.cloud import nova_libvirt
from testbed.cloud.lbaas_serve import LBS, Lbaas
from testbed.cloud.neutron_dataplane import host_id
from testbed.cloud.nova_amphora import (
    AGENT_TIMEOUT,
    AmphoraSite,
    UserSide,
    amphora_ports,
    build_image,
)
from testbed.ovn_stack import tcp_request, wait_for
from testbed.service import free_udp_port
from tests.functional import amphora_vm
from tests.functional.test_neutron_backend import M

pytestmark = [pytest.mark.functional, pytest.mark.slow]   # may build the image


@pytest.fixture(scope="module")
def libvirt_compute(nova_cloud, neutron_dataplane, tmp_path_factory):
    reason = nova_libvirt.unavailable() or amphora_vm.unavailable()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"the libvirt compute cannot run: {reason}")
        pytest.skip(reason)
    compute = nova_libvirt.LibvirtCompute(nova_cloud, tmp_path_factory.mktemp("libvirt"))
    compute.start()
    print(f"libvirt compute: {compute.timings}, libvirtd {compute.libvirt.timings}")
    try:
        yield compute
    finally:
        compute.stop()


@pytest.fixture(scope="module")
def world(libvirt_compute, nova_cloud, neutron_dataplane, tmp_path_factory):
    """Image, flavor, management network and controller link; the user's networks, client
    and members; lbaas serve on them."""
    cloud = neutron_dataplane
    site = AmphoraSite(cloud, nova_cloud, build_image(lambda m: print(m, flush=True)))
    site.create()
    print(f"amphora site: {site.timings}")
    try:
        user = UserSide(cloud).create()
        state = tmp_path_factory.mktemp("lbaas-nova-amp")
        lbaas = Lbaas(cloud, state, str(uuid.uuid4()),
                      extra=site.config(free_udp_port()))
        lbaas.service.start()
        try:
            yield {"lbaas": lbaas, "admin": site.admin, "service": site.service,
                   "client": user.client, "mgmt": site.mgmt, "state": state,
                   "members": user.members, "subnets": user.subnets, "link": site.link,
                   "disk": site.disk, "user": user, "compute": libvirt_compute}
        finally:
            lbaas.service.stop()
    finally:
        site.delete()


def _wait_status(lbaas, lb_id, timeout):
    def done():
        lb = lbaas.call(M, "GET", f"{LBS}/{lb_id}", expect=200).json()["loadbalancer"]
        assert lb["provisioning_status"] != "ERROR", lb
        return lb["provisioning_status"] == "ACTIVE" and lb
    return wait_for(done, timeout, f"load balancer {lb_id} ACTIVE", 1.0)


def _diagnose(world, lb):
    """Print what the VIP's path looks like (a failed run's evidence)."""
    client = world["client"]
    print("client neighbours:", client.run("ip", "neigh").stdout)
    print("client to the VIP:", client.run("curl", "-sv", "-m", "3",
                                           f"http://{lb['vip_address']}/").stderr[-1500:])
    for port in world["admin"].network.ports():
        print("port", port.name, port.status, port.binding_host_id, port.security_group_ids,
              port.fixed_ips, port.allowed_address_pairs)
    for group in world["admin"].network.security_groups():
        print("group", group.name, group.id, [(r["direction"], r["protocol"],
                                               r["port_range_min"], r["remote_ip_prefix"],
                                               r["remote_group_id"])
                                              for r in group.security_group_rules])
    stack = world["compute"].stack
    print(stack.vsctl("--columns=name,ofport,external_ids", "list", "Interface"))
    for server in world["service"].compute.servers():
        print(world["compute"].console(server.id)[-4000:])


@pytest.fixture(scope="module")
def vm_lb(world):
    """A load balancer with an HTTP listener and two members, POSTed once; its ACTIVE time
    (s after the POST); deleted at the end, leaving no server and no amphora port."""
    lbaas, admin, service = world["lbaas"], world["admin"], world["service"]
    # the session's other modules may leave amphora ports of their own (the check below is
    # about this load balancer's): only ports made after this point count
    before = {p.id for p in amphora_ports(admin)}
    started = time.monotonic()
    lb = lbaas.call(M, "POST", LBS, expect=201,
                    json=world["user"].graph("nv")).json()["loadbalancer"]
    try:
        _wait_status(lbaas, lb["id"], AGENT_TIMEOUT + 120)
    except BaseException:
        for server in service.compute.servers(details=True):
            print(server.id, server.status, server.fault,
                  world["compute"].console(server.id)[-3000:])
        raise
    active = time.monotonic() - started
    print(f"VM amphora through Nova/libvirt: ACTIVE {active:.1f} s after the POST")
    yield {"lb": lb, "started": started, "active": active}
    lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    wait_for(lambda: lbaas.call(M, "GET", f"{LBS}/{lb['id']}").status_code == 404, 180,
             "the load balancer gone", 1.0)
    wait_for(lambda: not list(service.compute.servers()), 120, "no server left", 1.0)
    wait_for(lambda: not [p for p in amphora_ports(admin) if p.id not in before], 60,
             "no amphora port of this load balancer left", 0.5)


def test_nova_boots_the_amphora_vm_on_the_libvirt_host(world, vm_lb):
    """The load balancer went ACTIVE (the fixture) with one amphora: a Nova server on the
    libvirt host, ACTIVE, whose console shows the agent up on its management address,
    and its management and VIP-network ports bound there and ACTIVE in Neutron."""
    service, admin = world["service"], world["admin"]
    (server,) = list(service.compute.servers(details=True))
    assert server.status == "ACTIVE"
    assert server.compute_host == host_id()
    assert server.availability_zone == nova_libvirt.ZONE
    console = world["compute"].console(server.id)
    assert "lbaas-amphora: agent up on https://10.247.0." in console, console[-3000:]
    ports = list(admin.network.ports(device_id=server.id))
    assert {p.network_id for p in ports} >= {world["mgmt"].id,
                                            world["subnets"]["vip"][0].id}, ports
    assert all(p.status == "ACTIVE" and p.binding_host_id == host_id() for p in ports), ports


def test_heartbeats_reach_the_health_manager_over_the_management_network(world, vm_lb):
    """The amphora's signed heartbeats (to the controller port's address) are accepted by
    lbaas's health manager: its amphora_health row counts them."""
    database = world["state"] / "lbaas.sqlite"

    def beats():
        with contextlib.closing(sqlite3.connect(database)) as db:
            return [row[0] for row in db.execute("SELECT seq FROM amphora_health")]
    wait_for(lambda: any(seq and seq > 1 for seq in beats()), 30,
             "heartbeats counted in amphora_health", 0.5)


def test_http_through_the_vip_reaches_both_members(world, vm_lb):
    """A client on the VIP network gets both members' answers through the VIP."""
    lb, client = vm_lb["lb"], world["client"]
    try:
        first = wait_for(lambda: tcp_request(lb["vip_address"], 80, netns=client.netns,
                                             timeout=2), 90, "an answer through the VIP", 0.2)
    except BaseException:
        _diagnose(world, lb)
        raise
    answered = time.monotonic() - vm_lb["started"]
    print(f"VM amphora through Nova/libvirt: ACTIVE {vm_lb['active']:.1f} s, first answer "
          f"through the VIP {answered:.1f} s after the POST")
    names = {first}
    wait_for(lambda: names.add(tcp_request(lb["vip_address"], 80, netns=client.netns,
                                           timeout=2)) or names >= {"nvb1", "nvb2"},
             30, "both members through the VIP", 0.1)
