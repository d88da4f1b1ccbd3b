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
import secrets
import sqlite3
import subprocess
import time
import uuid

import pytest

from testbed.cloud import nova_libvirt
from testbed.cloud.neutron_dataplane import PortVm, host_id
from testbed.ovn_stack import tcp_request, wait_for
from testbed.service import free_udp_port
from tests.functional import amphora_vm
from tests.functional.test_neutron_backend import LBS, A, Lbaas, M

pytestmark = [pytest.mark.functional, pytest.mark.slow]   # may build the image

BACKEND_PORT = 8080
IMAGE_TAG = "lbaas-amphora-vm"
AGENT_PORT = 9443
# a TCG guest's agent listens 30-85 s after QEMU starts on a loaded host; Nova's build
# before it (image download, disk, domain) adds more
AGENT_TIMEOUT = 420
# The guest's virtio NIC without checksum offload (kmod's modprobe reads module options from
# the kernel's command line): with it, the guest sends TCP and UDP with partial checksums
# (the tap's virtio-net header says "to be completed"), which the userspace datapath, reading
# the tap over AF_PACKET, forwards as they are, and every receiver drops them
# (TcpInCsumErrors): ARP worked, TCP to the agent did not. A testbed quirk (a kernel datapath
# completes them), as the namespaces' "ethtool -K tx off" is.
GUEST_CSUM_OFF = "virtio_net.csum=0"


def _upload_image(sdk, image):
    """kernel (aki), initrd (ari) and disk (qcow2, tagged) in Glance; -> the disk's image."""
    kernel = sdk.image.create_image(name="lbaas-amp-kernel", filename=str(image.kernel),
                                    disk_format="aki", container_format="aki", wait=True)
    ramdisk = sdk.image.create_image(name="lbaas-amp-initrd", filename=str(image.initrd),
                                     disk_format="ari", container_format="ari", wait=True)
    return sdk.image.create_image(
        name="lbaas-amphora", filename=str(image.disk), disk_format="qcow2",
        container_format="bare", tags=[IMAGE_TAG], wait=True,
        kernel_id=kernel.id, ramdisk_id=ramdisk.id,
        os_command_line=image.manifest["kernel_cmdline"] + " " + GUEST_CSUM_OFF)


class ControllerLink:
    """A Neutron port of the management network, bound here, as a root-namespace veth."""

    def __init__(self, stack, port, prefixlen):
        self.stack, self.port, self.prefixlen = stack, port, prefixlen
        tag = secrets.token_hex(3)
        self.outer, self.inner = f"lbc{tag}r", f"lbc{tag}h"
        self.ip = port["fixed_ips"][0]["ip_address"]

    def create(self):
        """The veth (inner end on br-int in the vswitchd namespace), MAC, address."""
        def ip(*argv):
            subprocess.run(["ip", *argv], check=True, capture_output=True)
        ip("link", "add", self.outer, "type", "veth", "peer", "name", self.inner)
        ip("link", "set", self.inner, "netns", self.stack.hv_netns)
        ip("link", "set", self.outer, "address", self.port["mac_address"], "up")
        ip("addr", "add", f"{self.ip}/{self.prefixlen}", "dev", self.outer)
        ip("-n", self.stack.hv_netns, "link", "set", self.inner, "up")
        subprocess.run(["ethtool", "-K", self.outer, "tx", "off"], check=False,
                       capture_output=True)
        self.stack.ethtool_tx_off(self.stack.hv_netns, self.inner)
        self.stack.vsctl("add-port", "br-int", self.inner, "--", "set", "Interface",
                         self.inner, f"external_ids:iface-id={self.port['id']}")
        return self

    def delete(self):
        self.stack.vsctl("--if-exists", "del-port", "br-int", self.inner)
        subprocess.run(["ip", "link", "del", self.outer], check=False, capture_output=True)


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
    cloud, stack = neutron_dataplane, neutron_dataplane.stack
    image = amphora_vm.build_image()
    service = nova_cloud.connection("lbaas", "service")
    admin, alpha = cloud.connection(A), cloud.connection(M)
    started = time.monotonic()
    disk = _upload_image(service, image)
    print(f"image uploaded to Glance in {time.monotonic() - started:.1f} s")
    flavor = service.compute.create_flavor(name=f"nv-amp-{uuid.uuid4().hex[:6]}", ram=512,
                                           vcpus=1, disk=1)
    mgmt = service.network.create_network(name="nv-mgmt", port_security_enabled=False)
    mgmt_sub = service.network.create_subnet(network_id=mgmt.id, ip_version=4,
                                             cidr="10.247.0.0/24", enable_dhcp=False)
    controller_port = admin.network.create_port(
        network_id=mgmt.id, name="nv-controller", binding_host_id=host_id(),
        fixed_ips=[{"subnet_id": mgmt_sub.id}]).to_dict()
    link = ControllerLink(stack, controller_port, 24).create()

    router = alpha.network.create_router(name="nv-router")
    subnets = {}
    for tag, cidr in (("vip", "10.247.1.0/24"), ("mem", "10.247.2.0/24")):
        net = alpha.network.create_network(name=f"nv-{tag}")
        sub = alpha.network.create_subnet(network_id=net.id, ip_version=4, cidr=cidr,
                                          enable_dhcp=False)
        alpha.network.add_interface_to_router(router, subnet=sub.id)
        subnets[tag] = (net, sub.to_dict())
    web = alpha.network.create_security_group(name="nv-web")
    alpha.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=BACKEND_PORT, port_range_max=BACKEND_PORT)
    project = cloud.project_id("alpha")

    def vm(name, tag, groups=None):
        net, sub = subnets[tag]
        body = {"network_id": net.id, "name": f"nv-{name}", "project_id": project,
                "fixed_ips": [{"subnet_id": sub["id"]}], "binding_host_id": host_id()}
        if groups:
            body["security_group_ids"] = groups
        port = admin.network.create_port(**body).to_dict()
        return PortVm(cloud, name, port, sub, net.mtu).create()

    client = vm("nvcl", "vip")
    members = [vm(f"nvb{k}", "mem", [web.id]) for k in (1, 2)]
    for each in (client, *members):
        each.wait_active(admin)
    for member in members:
        member.start_tcp(BACKEND_PORT)
    hm_port = free_udp_port()
    state = tmp_path_factory.mktemp("lbaas-nova-amp")
    lbaas = Lbaas(cloud, state, str(uuid.uuid4()), extra=f"""
        [api_settings]
        enabled_provider_drivers = amphora:The amphora provider.
        default_provider_driver = amphora

        [amphora_compute]
        driver = nova

        [nova]
        availability_zone = {nova_libvirt.ZONE}

        [health_manager]
        heartbeat_key = {secrets.token_hex(16)}
        heartbeat_interval = 1
        bind_ip = {link.ip}
        bind_port = {hm_port}
        controller_ip_port_list = {link.ip}:{hm_port}

        [controller_worker]
        agent_port = {AGENT_PORT}
        agent_timeout = {AGENT_TIMEOUT}
        amp_image_tag = {IMAGE_TAG}
        amp_flavor_id = {flavor.id}
        amp_boot_network_list = {mgmt.id}
        amp_active_retries = 600
        amp_active_wait_sec = 1
        user_data_config_drive = true
        """)
    lbaas.service.start()
    try:
        yield {"lbaas": lbaas, "admin": admin, "service": service, "client": client,
               "mgmt": mgmt, "state": state,
               "members": members, "subnets": subnets, "link": link, "disk": disk,
               "compute": libvirt_compute}
    finally:
        lbaas.service.stop()
        link.delete()


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
    _, vip_sub = world["subnets"]["vip"]
    _, mem_sub = world["subnets"]["mem"]
    # the session's other modules may leave amphora ports of their own (the check below is
    # about this load balancer's): only ports made after this point count
    before = {p.id for p in _amphora_ports(admin)}
    started = time.monotonic()
    lb = lbaas.call(M, "POST", LBS, expect=201, json={"loadbalancer": {
        "name": "nv", "vip_subnet_id": vip_sub["id"], "listeners": [{
            "name": "nv-http", "protocol": "HTTP", "protocol_port": 80,
            "default_pool": {"name": "nv-pool", "protocol": "HTTP",
                             "lb_algorithm": "ROUND_ROBIN", "members": [
                                 {"address": m.ip, "subnet_id": mem_sub["id"],
                                  "protocol_port": BACKEND_PORT}
                                 for m in world["members"]]}}]}}).json()["loadbalancer"]
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
    wait_for(lambda: not [p for p in _amphora_ports(admin) if p.id not in before], 60,
             "no amphora port of this load balancer left", 0.5)


def _amphora_ports(admin):
    """Every port with an amphora port's owner, in any project."""
    return [p for owner in ("Octavia", "lbaas:amphora")
            for p in admin.network.ports(device_owner=owner)]


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
