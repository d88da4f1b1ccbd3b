"""Namespaces on Neutron ports: what a VM on a Neutron network is, on a NeutronCloud that runs
on an OvnStack (ovs-vswitchd, br-int and ovn-controller of testbed/ovn_stack.py).

A port is bound to this host (`binding:host_id` = the hostname ovn-controller registers its
chassis under; only an admin may set it). `PortVm` makes a namespace whose eth0 has the
port's MAC, fixed IP and the network's MTU, joined by a veth to br-int (in the stack's
vswitchd namespace) with `external_ids:iface-id=<port id>`: ovn-controller claims the port
and Neutron reports it ACTIVE.
"""
import ipaddress
import socket
import subprocess

from testbed.ovn_stack import Vm, wait_for


def host_id():
    """The host name ovn-controller's chassis carries (binding:host_id of a port bound here)."""
    return socket.gethostname()


class PortVm(Vm):
    """A namespace plugged into a Neutron port through br-int; its servers (start_tcp,
    start_udp) are the OvnStack Vm's, stopped with the stack."""

    def __init__(self, cloud, name, port, subnet, mtu):
        self.cloud, self.stack = cloud, cloud.stack
        self.name, self.port, self.mtu = name, port, mtu
        self.ip = port["fixed_ips"][0]["ip_address"]
        self.mac = port["mac_address"]
        self.prefixlen = ipaddress.ip_network(subnet["cidr"]).prefixlen
        self.gateway = subnet.get("gateway_ip")
        self.netns = f"{self.stack.prefix}-{name}"
        self.tap = f"t-{name}"[:15]       # in the vswitchd namespace only
        self.servers = {}

    def create(self):
        """Namespace, veth (host end on br-int with the iface-id), MAC, address, route."""
        from pyroute2 import NetNS, netns
        netns.create(self.netns)
        self.stack.namespaces.append(self.netns)   # the stack's stop() removes it
        self.stack.vms[self.name] = self           # and stops its servers
        with NetNS(self.stack.hv_netns) as hv:
            hv.link("add", ifname=self.tap, kind="veth",
                    peer={"ifname": "eth0", "net_ns_fd": self.netns})
            hv.link("set", index=hv.link_lookup(ifname=self.tap)[0], state="up")
        with NetNS(self.netns) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            eth0 = ns.link_lookup(ifname="eth0")[0]
            ns.link("set", index=eth0, address=self.mac, mtu=self.mtu)
            ns.addr("add", index=eth0, address=self.ip, prefixlen=self.prefixlen)
            ns.link("set", index=eth0, state="up")
            if self.gateway:
                ns.route("add", dst="0.0.0.0/0", gateway=self.gateway)
        self.stack.ethtool_tx_off(self.netns, "eth0")
        self.stack.ethtool_tx_off(self.stack.hv_netns, self.tap)
        self.stack.vsctl("add-port", "br-int", self.tap, "--", "set", "Interface", self.tap,
                         f"external_ids:iface-id={self.port['id']}")
        return self

    def wait_active(self, conn, timeout=30.0):
        """Wait until Neutron reports the port ACTIVE (ovn-controller bound it)."""
        wait_for(lambda: conn.network.get_port(self.port["id"]).status == "ACTIVE",
                 timeout, f"port {self.port['id']} ACTIVE", 0.1)
        return self

    def run(self, *argv, timeout=30):
        """Run a command in the namespace; -> the CompletedProcess (not checked)."""
        return subprocess.run(["ip", "netns", "exec", self.netns, *argv], capture_output=True,
                              text=True, timeout=timeout)


def bound_vm(cloud, admin, name, network, subnet, project, port_name, groups=None):
    """A PortVm on a new port of `network` in `subnet` (openstacksdk objects), owned by
    `project`, bound to this host (admin: an admin's connection, which may set the
    binding), in security groups `groups` (default: the project's default); not waited.
    subnet: an openstacksdk Subnet or its dict."""
    subnet = subnet if isinstance(subnet, dict) else subnet.to_dict()
    body = {"network_id": network.id, "name": port_name, "project_id": project,
            "fixed_ips": [{"subnet_id": subnet["id"]}], "binding_host_id": host_id()}
    if groups:
        body["security_group_ids"] = groups
    port = admin.network.create_port(**body).to_dict()
    return PortVm(cloud, name, port, subnet, network.mtu).create()
