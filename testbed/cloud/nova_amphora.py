"""What lbaas needs to boot VM amphorae through Nova on a cloud of testbed/cloud (a
NeutronCloud on a full OvnStack, a NovaCloud and a LibvirtCompute), and the user's side of
such a load balancer: shared by tests/functional/test_nova_amphora.py and
bench/amphora_nova.py.

`AmphoraSite(cloud, nova_cloud, image, ...).create()`: the image lbaas built (lbaas.image.build)
in Glance as Nova's libvirt driver boots it directly (kernel and initrd images, the kernel's
command line as properties of the tagged disk image), a flavor, a management network
without port security, and the controller's end of it: a Neutron port of that network
bound to this host, as a root-namespace veth (`ControllerLink`) where lbaas's health
manager listens for the heartbeats. `config(...)` is the lbaas configuration text for it.

`UserSide(cloud, ...).create()`: a project's VIP and member networks joined by a router,
a client and members as namespaces on Neutron ports (neutron_dataplane.bound_vm), the
members serving HTTP.
"""
import ipaddress
import os
import secrets
import subprocess
import textwrap
import time
import uuid

from testbed.cloud import nova_libvirt
from testbed.cloud.neutron_dataplane import bound_vm, host_id

IMAGE_TAG = "lbaas-amphora-vm"
AGENT_PORT = 9443
BACKEND_PORT = 8080
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
ADMIN, MEMBER = "cloud-admin", "alpha-member"   # keystone.USERS
AMPHORA_PORT_OWNERS = ("Octavia", "lbaas:amphora")


def build_image(log=print):
    """The amphora image (from the cache when its inputs are unchanged); logs what it took.

    $LBAAS_TEST_IMAGE_DIR (a directory with amphora.qcow2, vmlinuz and initrd.img) skips
    the build: for working on the boot step without rebuilding the image each time.
    """
    from lbaas.image import build
    if os.environ.get("LBAAS_TEST_IMAGE_DIR"):
        log(f"amphora image from $LBAAS_TEST_IMAGE_DIR: {os.environ['LBAAS_TEST_IMAGE_DIR']}")
        return build.Image(os.environ["LBAAS_TEST_IMAGE_DIR"], cached=True)
    started = time.monotonic()
    image = build.build(log=lambda m: log(f"amphora image: {m}"))
    how = "from the cache" if image.cached else "built"
    log(f"amphora image {how} in {time.monotonic() - started:.1f} s: {image.directory}")
    return image


def upload_image(sdk, image, name="lbaas-amp"):
    """kernel (aki), initrd (ari) and disk (qcow2, tagged IMAGE_TAG) in Glance; -> the disk."""
    kernel = sdk.image.create_image(name=f"{name}-kernel", filename=str(image.kernel),
                                    disk_format="aki", container_format="aki", wait=True)
    ramdisk = sdk.image.create_image(name=f"{name}-initrd", filename=str(image.initrd),
                                     disk_format="ari", container_format="ari", wait=True)
    return sdk.image.create_image(
        name=f"{name}-disk", filename=str(image.disk), disk_format="qcow2",
        container_format="bare", tags=[IMAGE_TAG], wait=True,
        kernel_id=kernel.id, ramdisk_id=ramdisk.id,
        os_command_line=image.manifest["kernel_cmdline"] + " " + GUEST_CSUM_OFF)


def amphora_ports(admin):
    """Every port with an amphora port's owner, in any project."""
    return [p for owner in AMPHORA_PORT_OWNERS for p in admin.network.ports(device_owner=owner)]


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
        try:
            ip("link", "set", self.inner, "netns", self.stack.hv_netns)
            ip("link", "set", self.outer, "address", self.port["mac_address"], "up")
            ip("addr", "add", f"{self.ip}/{self.prefixlen}", "dev", self.outer)
            ip("-n", self.stack.hv_netns, "link", "set", self.inner, "up")
            subprocess.run(["ethtool", "-K", self.outer, "tx", "off"], check=False,
                           capture_output=True)
            self.stack.ethtool_tx_off(self.stack.hv_netns, self.inner)
            self.stack.vsctl("add-port", "br-int", self.inner, "--", "set", "Interface",
                             self.inner, f"external_ids:iface-id={self.port['id']}")
        except BaseException:
            self.delete()
            raise
        return self

    def delete(self):
        """The OVS port and the veth (both ends), if they exist."""
        try:
            self.stack.vsctl("--if-exists", "del-port", "br-int", self.inner)
        finally:   # also when ovsdb does not answer (a loaded host): the veth goes anyway
            subprocess.run(["ip", "link", "del", self.outer], check=False, capture_output=True)


class AmphoraSite:
    """Image in Glance, flavor, management network and the controller's link."""

    def __init__(self, cloud, nova_cloud, image, mgmt_cidr="10.247.0.0/24", prefix="nv"):
        self.cloud, self.nova_cloud, self.image = cloud, nova_cloud, image
        self.mgmt_cidr, self.prefix = ipaddress.ip_network(mgmt_cidr), prefix
        self.service = nova_cloud.connection("lbaas", "service")
        self.admin = cloud.connection(ADMIN)
        self.disk = self.flavor = self.mgmt = self.link = None
        self.timings = {}

    def create(self):
        """Upload the image, make the flavor, the network and the link; -> self."""
        started = time.monotonic()
        self.disk = upload_image(self.service, self.image, f"{self.prefix}-amp")
        self.timings["glance upload"] = round(time.monotonic() - started, 1)
        self.flavor = self.service.compute.create_flavor(
            name=f"{self.prefix}-amp-{uuid.uuid4().hex[:6]}", ram=512, vcpus=1, disk=1)
        self.mgmt = self.service.network.create_network(name=f"{self.prefix}-mgmt",
                                                        port_security_enabled=False)
        sub = self.service.network.create_subnet(network_id=self.mgmt.id, ip_version=4,
                                                 cidr=str(self.mgmt_cidr), enable_dhcp=False)
        port = self.admin.network.create_port(
            network_id=self.mgmt.id, name=f"{self.prefix}-controller",
            binding_host_id=host_id(), fixed_ips=[{"subnet_id": sub.id}]).to_dict()
        self.link = ControllerLink(self.cloud.stack, port, self.mgmt_cidr.prefixlen).create()
        return self

    def config(self, hm_port, heartbeat_key=None, agent_timeout=AGENT_TIMEOUT,
               heartbeat_timeout=None, extra=""):
        """lbaas's configuration text for amphorae booted here (the Lbaas class's `extra`);
        extra: more sections."""
        timeout = f"heartbeat_timeout = {heartbeat_timeout}" if heartbeat_timeout else ""
        return textwrap.dedent(f"""
            [api_settings]
            enabled_provider_drivers = amphora:The amphora provider.
            default_provider_driver = amphora

            [amphora_compute]
            driver = nova

            [nova]
            availability_zone = {nova_libvirt.ZONE}

            [health_manager]
            heartbeat_key = {heartbeat_key or secrets.token_hex(16)}
            heartbeat_interval = 1
            {timeout}
            bind_ip = {self.link.ip}
            bind_port = {hm_port}
            controller_ip_port_list = {self.link.ip}:{hm_port}

            [controller_worker]
            agent_port = {AGENT_PORT}
            agent_timeout = {agent_timeout}
            amp_image_tag = {IMAGE_TAG}
            amp_flavor_id = {self.flavor.id}
            amp_boot_network_list = {self.mgmt.id}
            amp_active_retries = 600
            amp_active_wait_sec = 1
            user_data_config_drive = true
            """) + textwrap.dedent(extra)

    def delete(self):
        """The link (the rest goes with the cloud)."""
        if self.link is not None:
            self.link.delete()
            self.link = None


class UserSide:
    """A project's VIP and member networks behind a router; a client and members on them."""

    def __init__(self, cloud, vip_cidr="10.247.1.0/24", member_cidr="10.247.2.0/24",
                 prefix="nv", members=2, user=MEMBER, project="alpha"):
        self.cloud, self.prefix, self.count = cloud, prefix, members
        self.cidrs = {"vip": str(vip_cidr), "mem": str(member_cidr)}
        self.admin, self.user = cloud.connection(ADMIN), cloud.connection(user)
        self.project = cloud.project_id(project)
        self.subnets, self.client, self.members = {}, None, []

    def create(self):
        """Networks, router, a security group for the members, client and members (ACTIVE,
        serving HTTP on BACKEND_PORT); -> self."""
        user, p = self.user, self.prefix
        router = user.network.create_router(name=f"{p}-router")
        for tag, cidr in self.cidrs.items():
            net = user.network.create_network(name=f"{p}-{tag}")
            sub = user.network.create_subnet(network_id=net.id, ip_version=4, cidr=cidr,
                                             enable_dhcp=False)
            user.network.add_interface_to_router(router, subnet=sub.id)
            self.subnets[tag] = (net, sub.to_dict())
        web = user.network.create_security_group(name=f"{p}-web")
        user.network.create_security_group_rule(
            security_group_id=web.id, direction="ingress", ethertype="IPv4", protocol="tcp",
            port_range_min=BACKEND_PORT, port_range_max=BACKEND_PORT)
        self.client = self.vm(f"{p}cl", "vip")
        self.members = [self.vm(f"{p}b{k}", "mem", [web.id])
                        for k in range(1, self.count + 1)]
        for each in (self.client, *self.members):
            each.wait_active(self.admin)
        for member in self.members:
            member.start_tcp(BACKEND_PORT)
        return self

    def vm(self, name, tag, groups=None):
        """A namespace on a new port of the `tag` network, bound here."""
        net, sub = self.subnets[tag]
        return bound_vm(self.cloud, self.admin, name, net, sub, self.project,
                        f"{self.prefix}-{name}", groups)

    def graph(self, name):
        """A load balancer POST body: HTTP :80, a pool of every member."""
        return {"loadbalancer": {
            "name": name, "vip_subnet_id": self.subnets["vip"][1]["id"], "listeners": [{
                "name": f"{name}-http", "protocol": "HTTP", "protocol_port": 80,
                "default_pool": {"name": f"{name}-pool", "protocol": "HTTP",
                                 "lb_algorithm": "ROUND_ROBIN", "members": [
                                     {"address": m.ip, "subnet_id": self.subnets["mem"][1]["id"],
                                      "protocol_port": BACKEND_PORT}
                                     for m in self.members]}}]}}
