"""The OVN provider in a Neutron cloud: lbaas's rows in the Northbound database Neutron writes.

`lbaas serve` runs with Keystone authentication, `[network] driver = neutron` and provider
`ovn` on the NB/SB databases of the real Neutron (ML2/OVN) of fixture `neutron_cloud`. A
user builds networks, a router and a member's port in Neutron with the SDK, then a load
balancer through lbaas's REST API with their own token. The tests read what Neutron and
NB hold: the Load_Balancer row on Neutron's switches and router, the VIP and health-check
source as Neutron ports in ovn-octavia-provider's conventions, the member's port found, all
of it gone after the delete, and a run of `lbaas-ovn-sync` leaving Neutron's rows alone.
The session's cloud runs on a full OVN stack (ovs-vswitchd, ovn-controller), so the last
two tests plug a client and a member namespace into bound Neutron ports and send traffic
through the VIP, the last one with a health monitor (its member ONLINE within seconds).
"""
import os
import subprocess
import sys
import time
import types
import uuid

import pytest

from testbed.cloud import ovn_nb
from testbed.cloud.lbaas_serve import LBS, Lbaas
from testbed.cloud.neutron_dataplane import bound_vm
from testbed.ovn_stack import tcp_request, wait_for
from tests.functional.test_neutron_backend import M

pytestmark = pytest.mark.functional

HM_OWNER = "ovn-lb-hm:distributed"
MEMBER_IP = "10.242.2.11"


@pytest.fixture(scope="module")
def world(neutron_cloud, tmp_path_factory):
    """Alpha's two networks on one router, a member's port; lbaas serve with provider ovn."""
    admin = neutron_cloud.connection("cloud-admin")
    alpha = neutron_cloud.connection(M)
    front = alpha.network.create_network(name="on-front")
    vip_subnet = alpha.network.create_subnet(network_id=front.id, ip_version=4,
                                             cidr="10.242.1.0/24")
    back = alpha.network.create_network(name="on-back")
    member_subnet = alpha.network.create_subnet(network_id=back.id, ip_version=4,
                                                cidr="10.242.2.0/24")
    router = alpha.network.create_router(name="on-router")
    for subnet in (vip_subnet, member_subnet):
        alpha.network.add_interface_to_router(router, subnet=subnet.id)
    member_port = alpha.network.create_port(
        network_id=back.id, name="on-member",
        fixed_ips=[{"subnet_id": member_subnet.id, "ip_address": MEMBER_IP}])
    state = tmp_path_factory.mktemp("lbaas-ovn-neutron")
    ovn = neutron_cloud.ovn
    lbaas = Lbaas(neutron_cloud, state, denied_network="", extra=f"""
        [api_settings]
        enabled_provider_drivers = ovn:OVN
        default_provider_driver = ovn

        [database]
        connection = sqlite:///{state}/lbaas.sqlite

        [ovn]
        ovn_nb_connection = {ovn.nb.connection}
        ovn_sb_connection = {ovn.sb.connection}
        sync_interval = 0
        status_debounce = 0
        ovsdb_connection_timeout = 5
        """)
    lbaas.service.start()
    yield types.SimpleNamespace(lbaas=lbaas, admin=admin, alpha=alpha, front=front, back=back,
                                vip_subnet=vip_subnet, member_subnet=member_subnet,
                                router=router, member_port=member_port, ovn=ovn,
                                cloud=neutron_cloud)
    lbaas.service.stop()


def nbctl(world, *args):
    return subprocess.run(["ovn-nbctl", f"--db={world.ovn.nb.connection}", *args], check=True,
                          capture_output=True, text=True, timeout=30).stdout


def rows(world, table):
    return ovn_nb.rows(lambda *a: nbctl(world, *a), table)


def as_list(value):
    return value if isinstance(value, list) else [value]


def lb_rows(world, lb_id):
    return [r for r in rows(world, "Load_Balancer")
            if r["external_ids"].get("lbaas:loadbalancer_id") == lb_id]


def attached_to(world, table, name):
    """The Load_Balancer uuids in the load_balancer column of the datapath `name`."""
    (row,) = [r for r in rows(world, table) if r["name"] == name]
    return set(as_list(row["load_balancer"]))


def hc_ports(world):
    return [p for p in world.admin.network.ports(device_owner=HM_OWNER)
            if p.device_id == f"ovn-lb-hm-{world.member_subnet.id}"]


def eventually(condition, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def create_graph(world, monitor=True):
    pool = {"name": "p", "protocol": "TCP", "lb_algorithm": "SOURCE_IP_PORT", "members": [
        {"address": MEMBER_IP, "protocol_port": 8080, "subnet_id": world.member_subnet.id}]}
    if monitor:
        pool["healthmonitor"] = {"type": "TCP", "delay": 2, "timeout": 1, "max_retries": 1}
    lb = world.lbaas.create(M, vip_subnet_id=world.vip_subnet.id, listeners=[
        {"protocol": "TCP", "protocol_port": 80, "default_pool": pool}])
    return world.lbaas.wait(M, lb["id"])


def delete(world, lb_id):
    world.lbaas.call(M, "DELETE", f"{LBS}/{lb_id}?cascade=true", expect=204)
    world.lbaas.wait(M, lb_id, "DELETED")


def test_rows_attach_to_neutrons_switches_and_router_with_neutron_ports(world):
    lb = create_graph(world)
    (row,) = lb_rows(world, lb["id"])
    # on the VIP network's and the member network's switches, and on the router
    assert row["_uuid"] in attached_to(world, "Logical_Switch", f"neutron-{world.front.id}")
    assert row["_uuid"] in attached_to(world, "Logical_Switch", f"neutron-{world.back.id}")
    assert row["_uuid"] in attached_to(world, "Logical_Router", f"neutron-{world.router.id}")
    assert row["vips"] == {f"{lb['vip_address']}:80": f"{MEMBER_IP}:8080"}
    assert row["external_ids"]["neutron:vip_port_id"] == lb["vip_port_id"]
    assert row["external_ids"]["neutron:vip"] == lb["vip_address"]
    # the VIP is a Neutron port in ovn-octavia-provider's conventions, in the user's project
    vip = world.admin.network.get_port(lb["vip_port_id"])
    assert (vip.name, vip.device_owner, vip.device_id, vip.is_admin_state_up) == \
        (f"ovn-lb-vip-{lb['id']}", "", f"lb-{lb['id']}", True)
    assert vip.project_id == world.cloud.project_id("alpha")
    # unowned and unbound: ML2/OVN leaves its LSP without addresses, so the router, not
    # the port, answers ARP for the VIP (the traffic test depends on it)
    (vip_lsp,) = [p for p in rows(world, "Logical_Switch_Port") if p["name"] == vip.id]
    assert as_list(vip_lsp["addresses"]) in ([], [""]), vip_lsp["addresses"]
    assert vip.fixed_ips == [{"subnet_id": world.vip_subnet.id,
                              "ip_address": lb["vip_address"]}]
    # the health-check source is a Neutron port Neutron made a localport
    (hc,) = hc_ports(world)
    assert hc.name == f"ovn-lb-hm-{world.member_subnet.id}"
    source = hc.fixed_ips[0]["ip_address"]
    (lsp,) = [p for p in rows(world, "Logical_Switch_Port") if p["name"] == hc.id]
    assert lsp["type"] == "localport"
    # the member's Neutron port was found on its switch: checked from the source port
    assert row["ip_port_mappings"] == {MEMBER_IP: f"{world.member_port.id}:{source}"}
    assert len(as_list(row["health_check"])) == 1

    delete(world, lb["id"])
    assert lb_rows(world, lb["id"]) == []
    assert hc_ports(world) == []   # released before DELETED is reported
    eventually(lambda: not list(world.admin.network.ports(device_id=f"lb-{lb['id']}")),
               what="the VIP port released")


def test_removing_the_health_monitor_releases_the_source_port(world):
    lb = create_graph(world)
    (ref,) = lb["pools"]
    pool = world.lbaas.call(M, "GET", f"/v2/lbaas/pools/{ref['id']}", expect=200).json()["pool"]
    assert len(hc_ports(world)) == 1
    world.lbaas.call(M, "DELETE", f"/v2/lbaas/healthmonitors/{pool['healthmonitor_id']}",
                     expect=204)
    world.lbaas.wait(M, lb["id"])
    eventually(lambda: hc_ports(world) == [], what="the source port released")
    (row,) = lb_rows(world, lb["id"])
    assert row["ip_port_mappings"] == {} and as_list(row["health_check"]) == []
    delete(world, lb["id"])


def _neutrons_rows(world):
    """What Neutron wrote: its switches (with their ports), routers and port groups."""
    return {table: sorted((r["name"], tuple(sorted(as_list(r.get("ports", [])))))
                          for r in rows(world, table))
            for table in ("Logical_Switch", "Logical_Router", "Port_Group")}


def test_the_sync_leaves_neutrons_rows_and_others_load_balancers_alone(world, tmp_path):
    lb = create_graph(world, monitor=False)
    switch = f"neutron-{world.front.id}"
    # a row lbaas did not make (as a co-installed ovn-octavia-provider would), on Neutron's
    # switch, and a stray row lbaas did make (its load balancer unknown): only that one goes
    nbctl(world, "lb-add", "not-lbaas", "10.242.1.250:80", f"{MEMBER_IP}:8080", "tcp")
    nbctl(world, "set", "Load_Balancer", "not-lbaas", 'external_ids:"neutron:vip"=10.242.1.250')
    nbctl(world, "ls-lb-add", switch, "not-lbaas")
    stray = str(uuid.uuid4())
    nbctl(world, "create", "Load_Balancer", "name=lbaas-stray", "protocol=tcp",
          f'external_ids:"lbaas:loadbalancer_id"={stray}')
    before = _neutrons_rows(world)
    (foreign,) = [r for r in rows(world, "Load_Balancer") if r["name"] == "not-lbaas"]
    command = os.path.join(os.path.dirname(sys.executable), "lbaas-ovn-sync")
    done = subprocess.run([command, "--config-file", str(world.lbaas.config), "--once"],
                          check=False, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert lb_rows(world, stray) == []                      # the sync did run
    assert len(lb_rows(world, lb["id"])) == 1
    assert _neutrons_rows(world) == before
    (after,) = [r for r in rows(world, "Load_Balancer") if r["name"] == "not-lbaas"]
    assert after == foreign
    assert foreign["_uuid"] in attached_to(world, "Logical_Switch", switch)
    nbctl(world, "lb-del", "not-lbaas")
    delete(world, lb["id"])


def _client_and_member(world, neutron_dataplane, group, client_name, member_name):
    """A client namespace on the VIP network and a member namespace on the member network
    (bound Neutron ports; the member's security group `group` admits 8080, where it
    answers with its name); -> (client, member), both ACTIVE."""
    admin, alpha = world.admin, world.alpha
    project = world.cloud.project_id("alpha")
    web = alpha.network.create_security_group(name=group)
    alpha.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=8080, port_range_max=8080)

    def vm(name, net, subnet, groups=None):
        return bound_vm(neutron_dataplane, admin, name, net, subnet, project, f"on-{name}",
                        groups)

    client = vm(client_name, world.front, world.vip_subnet)
    member = vm(member_name, world.back, world.member_subnet, [web.id])
    for each in (client, member):
        each.wait_active(admin)
    member.start_tcp(8080)
    return client, member


def test_a_client_on_a_neutron_network_reaches_a_member_on_another_through_the_vip(
        world, neutron_dataplane):
    """A client namespace on the VIP network (a bound Neutron port) is answered, through an
    OVN load balancer's VIP, by a member namespace on the member network (a bound port whose
    group admits 8080); after the delete the VIP answers no more. No health monitor (the
    next test has one)."""
    client, member = _client_and_member(world, neutron_dataplane, "on-web", "oncl", "onbe")
    started = time.monotonic()
    pool = {"name": "onp", "protocol": "TCP", "lb_algorithm": "SOURCE_IP_PORT",
            "members": [{"name": "onbe", "address": member.ip, "protocol_port": 8080,
                         "subnet_id": world.member_subnet.id}]}
    lb = world.lbaas.create(M, vip_subnet_id=world.vip_subnet.id, listeners=[
        {"protocol": "TCP", "protocol_port": 80, "default_pool": pool}])
    lb = world.lbaas.wait(M, lb["id"])
    answer = wait_for(lambda: tcp_request(lb["vip_address"], 80, netns=client.netns,
                                          timeout=0.5), 30, "an answer through the VIP", 0.1)
    print(f"OVN provider on Neutron: first answer through the VIP "
          f"{time.monotonic() - started:.2f} s after the POST")
    assert answer == "onbe"
    delete(world, lb["id"])
    assert tcp_request(lb["vip_address"], 80, netns=client.netns, timeout=0.5) is None


def _member_status(world, lb_id):
    tree = world.lbaas.call(M, "GET", f"{LBS}/{lb_id}/status", expect=200).json()
    (listener,) = tree["statuses"]["loadbalancer"]["listeners"]
    (pool,) = listener["pools"]
    (member,) = pool["members"]
    return member["operating_status"]


def test_a_monitored_member_goes_online_at_once_and_the_vip_carries_traffic(
        world, neutron_dataplane):
    """With a health monitor, a member that answers is ONLINE within seconds and the VIP
    answers from the start. Before the health-check port had OVN's svc_monitor_mac, the
    member cached the port's own MAC for the check's source address, its replies went to
    the unbound localport, and it stayed offline (out of the VIP) for 40-50 s."""
    client, member = _client_and_member(world, neutron_dataplane, "on-hm-web", "onhc",
                                        "onhb")
    started = time.monotonic()
    pool = {"name": "onhp", "protocol": "TCP", "lb_algorithm": "SOURCE_IP_PORT",
            "healthmonitor": {"type": "TCP", "delay": 1, "timeout": 1, "max_retries": 1},
            "members": [{"name": "onhb", "address": member.ip, "protocol_port": 8080,
                         "subnet_id": world.member_subnet.id}]}
    lb = world.lbaas.create(M, vip_subnet_id=world.vip_subnet.id, listeners=[
        {"protocol": "TCP", "protocol_port": 80, "default_pool": pool}])
    lb = world.lbaas.wait(M, lb["id"])
    # the health-check source answers ARP with the MAC OVN's probes come from
    (hc,) = hc_ports(world)
    (nb_global,) = rows(world, "NB_Global")
    assert hc.mac_address == nb_global["options"]["svc_monitor_mac"]
    wait_for(lambda: _member_status(world, lb["id"]) == "ONLINE" or None, 15,
             "the member ONLINE", 0.2)
    online = time.monotonic() - started
    answer = wait_for(lambda: tcp_request(lb["vip_address"], 80, netns=client.netns,
                                          timeout=0.5), 5, "an answer through the VIP", 0.1)
    answered = time.monotonic() - started
    print(f"OVN provider on Neutron with a health monitor: member ONLINE {online:.2f} s, "
          f"first answer through the VIP {answered:.2f} s after the POST")
    assert answer == "onhb"
    # and it stays online (the fix is not one lucky probe)
    time.sleep(3)
    assert _member_status(world, lb["id"]) == "ONLINE"
    delete(world, lb["id"])


def _svc_monitor_mac(world):
    (nb_global,) = rows(world, "NB_Global")
    return nb_global["options"]["svc_monitor_mac"]


def test_the_health_check_ports_mac_is_repaired_and_never_clashes(world):
    """A health-check port made before lbaas set its MAC gets OVN's at the next reconcile; a
    second member subnet on the same network keeps a MAC of Neutron's (Neutron wants MACs
    unique per network) instead of failing the load balancer."""
    lb = create_graph(world)
    (hc,) = hc_ports(world)
    world.admin.network.update_port(hc, mac_address="fa:16:3e:0b:0b:0b")   # an old port
    world.lbaas.call(M, "PUT", f"{LBS}/{lb['id']}", expect=200,
                     json={"loadbalancer": {"description": "reconcile again"}})
    world.lbaas.wait(M, lb["id"])
    assert world.admin.network.get_port(hc.id).mac_address == _svc_monitor_mac(world)
    # a member on a second subnet of the member network: a second source port there
    second = world.alpha.network.create_subnet(network_id=world.back.id, ip_version=4,
                                               cidr="10.242.3.0/24", enable_dhcp=False)
    # (with a port: a member without one is not checked, and its source port is released
    # only by the next full sync)
    port = world.alpha.network.create_port(
        network_id=world.back.id, name="on-member-2",
        fixed_ips=[{"subnet_id": second.id, "ip_address": "10.242.3.11"}])
    (ref,) = lb["pools"]
    world.lbaas.call(M, "POST", f"/v2/lbaas/pools/{ref['id']}/members", expect=201, json={
        "member": {"address": "10.242.3.11", "protocol_port": 8080, "subnet_id": second.id}})
    assert world.lbaas.wait(M, lb["id"])["provisioning_status"] == "ACTIVE"
    (other,) = [p for p in world.admin.network.ports(device_owner=HM_OWNER)
                if p.device_id == f"ovn-lb-hm-{second.id}"]
    assert other.mac_address != _svc_monitor_mac(world)
    assert world.admin.network.get_port(hc.id).mac_address == _svc_monitor_mac(world)
    delete(world, lb["id"])
    left = [(p.name, p.device_owner, p.device_id) for p in world.admin.network.ports(
        fixed_ips=f"subnet_id={second.id}")]
    assert left == [("on-member-2", "", "")], left
    world.alpha.network.delete_port(port)
    world.alpha.network.delete_subnet(second)
