"""Traffic between Neutron ports: namespaces plugged into ports of a real Neutron (ML2/OVN)
through br-int, carried by ovn-controller (the session's `neutron_dataplane`)."""
import time

import pytest

from testbed.cloud.neutron_dataplane import PortVm, host_id
from testbed.ovn_stack import tcp_request

pytestmark = pytest.mark.functional

A = "cloud-admin"   # binding:host_id is admin-only


def _bound_port(admin, net, sub, name):
    return admin.network.create_port(
        network_id=net.id, name=name, fixed_ips=[{"subnet_id": sub["id"]}],
        binding_host_id=host_id()).to_dict()


def test_two_ports_on_one_network_reach_each_other(neutron_dataplane):
    """Two namespaces on two bound ports of one network (default security group: ingress
    from the same group; static addresses) reach each other's HTTP server; each port goes
    ACTIVE once plugged."""
    admin = neutron_dataplane.connection(A)
    net = admin.network.create_network(name="dp-ping")
    sub = admin.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.243.1.0/24",
                                      enable_dhcp=False).to_dict()
    vms = []
    for name in ("dpa", "dpb"):
        port = _bound_port(admin, net, sub, f"dp-{name}")
        vms.append(PortVm(neutron_dataplane, name, port, sub, net.mtu).create())
    started = time.monotonic()
    for vm in vms:
        vm.wait_active(admin)
    print(f"both ports ACTIVE {time.monotonic() - started:.2f} s after plugging")
    a, b = vms
    a.start_tcp(8080)   # waits until it answers inside its own namespace
    b.start_tcp(8080)
    assert tcp_request(b.ip, 8080, netns=a.netns, timeout=3) == "dpb", \
        a.run("ip", "neigh").stdout
    assert tcp_request(a.ip, 8080, netns=b.netns, timeout=3) == "dpa"


def test_ports_on_two_subnets_reach_each_other_through_a_router(neutron_dataplane):
    """A namespace on one network reaches one on another through a Neutron router (OVN's
    logical router, distributed on this chassis), each using its subnet's gateway."""
    admin = neutron_dataplane.connection(A)
    router = admin.network.create_router(name="dp-router")
    vms = []
    for name, cidr in (("dpr1", "10.243.2.0/24"), ("dpr2", "10.243.3.0/24")):
        net = admin.network.create_network(name=f"dp-{name}")
        sub = admin.network.create_subnet(network_id=net.id, ip_version=4, cidr=cidr,
                                          enable_dhcp=False).to_dict()
        admin.network.add_interface_to_router(router, subnet=sub["id"])
        vms.append(PortVm(neutron_dataplane, name, _bound_port(admin, net, sub, f"dp-{name}"),
                          sub, net.mtu).create())
    for vm in vms:
        vm.wait_active(admin)
    a, b = vms
    b.start_tcp(8080)
    assert tcp_request(b.ip, 8080, netns=a.netns, timeout=3) == "dpr2", \
        a.run("ip", "neigh").stdout
