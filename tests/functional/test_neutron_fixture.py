"""The real Neutron fixture works: openstacksdk, through Keystone's catalog, gets every API
the `neutron` network backend needs from Neutron 29 with ML2/OVN (fixture `neutron_cloud`,
testbed/cloud/neutron_cloud.py).

Twice, once as alpha-member (a project member) and once as cloud-admin (admin of the admin
project), the module builds: a network with an IPv4 and an IPv6 subnet, a port with a fixed
IP and lbaas-style binding fields (device_owner, device_id), a port with an allowed address
pair, a security group with a rule, and a router with an interface on the IPv4 subnet. The
tests read those back with the same user's token, check what Neutron's default policies
give a member and an admin (QoS policies are admin-only), that project beta sees none of
them, and that ML2/OVN wrote each one into OVN's northbound database.
"""
import types
import uuid

import pytest
import requests

from testbed.cloud import ovn_nb

pytestmark = pytest.mark.functional

M, B, A = "alpha-member", "beta-member", "cloud-admin"
V4_CIDR, V6_CIDR = "10.240.1.0/24", "fd00:240:1::/64"
VIP = "10.240.1.10"           # the fixed IP asked for
PAIR = "10.240.1.100"         # an address another port may answer for (a VIP)


@pytest.fixture(scope="module", params=[M, A], ids=["member", "admin"])
def world(request, neutron_cloud):
    """One user's objects, made through the SDK (the catalog finds Neutron)."""
    user = request.param
    label = "member" if user == M else "admin"
    conn = neutron_cloud.connection(user)
    project = neutron_cloud.project_id("alpha" if user == M else "admin")
    lb_id = str(uuid.uuid4())  # the "VIP" port's device_id
    net = conn.network.create_network(name=f"{user}-net")
    v4 = conn.network.create_subnet(network_id=net.id, ip_version=4, cidr=V4_CIDR,
                                    name=f"{user}-v4")
    v6 = conn.network.create_subnet(network_id=net.id, ip_version=6, cidr=V6_CIDR,
                                    ipv6_address_mode="dhcpv6-stateful",
                                    ipv6_ra_mode="dhcpv6-stateful", name=f"{user}-v6")
    vip = conn.network.create_port(
        network_id=net.id, name=f"{user}-vip",
        fixed_ips=[{"subnet_id": v4.id, "ip_address": VIP}],
        device_owner="Octavia", device_id=lb_id)
    paired = conn.network.create_port(network_id=net.id, name=f"{user}-amphora",
                                      allowed_address_pairs=[{"ip_address": PAIR}])
    sg = conn.network.create_security_group(name=f"{user}-sg", description="listeners")
    rule = conn.network.create_security_group_rule(
        security_group_id=sg.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=80, port_range_max=80, remote_ip_prefix="0.0.0.0/0")
    router = conn.network.create_router(name=f"{user}-router")
    conn.network.add_interface_to_router(router, subnet=v4.id)
    return types.SimpleNamespace(user=user, label=label, conn=conn, project=project, net=net,
                                 v4=v4, v6=v6, vip=vip, paired=paired, sg=sg, rule=rule,
                                 router=router, lb_id=lb_id)


def nb_rows(cloud, table):
    """Every row of a table of the cloud's OVN northbound database."""
    return ovn_nb.rows(cloud.ovn.nbctl, table)


def as_list(cell):
    """A set column as a list (OVSDB writes a one-element set as the bare element)."""
    return cell if isinstance(cell, list) else [cell]


def test_neutron_is_the_catalogs_network_service(neutron_cloud, world):
    endpoint = world.conn.network.get_endpoint()
    assert endpoint.rstrip("/").startswith(neutron_cloud.neutron.url)
    assert world.conn.network.get_network(world.net.id).name == f"{world.user}-net"


def test_neutron_validates_tokens_with_keystone(neutron_cloud):
    url = neutron_cloud.neutron.url + "/v2.0/networks"
    assert requests.get(url, timeout=30).status_code == 401
    assert requests.get(url, headers={"X-Auth-Token": "not-a-token"},
                        timeout=30).status_code == 401
    resp = requests.get(url, headers={"X-Auth-Token": neutron_cloud.token(M)}, timeout=30)
    assert resp.status_code == 200, resp.text


def test_network_with_ipv4_and_ipv6_subnets(world):
    net = world.conn.network.get_network(world.net.id)
    assert net.project_id == world.project
    assert net.status == "ACTIVE"
    assert sorted(net.subnet_ids) == sorted([world.v4.id, world.v6.id])
    v4 = world.conn.network.get_subnet(world.v4.id)
    v6 = world.conn.network.get_subnet(world.v6.id)
    assert (v4.ip_version, v4.cidr, v4.gateway_ip) == (4, V4_CIDR, "10.240.1.1")
    assert (v6.ip_version, v6.cidr, v6.ipv6_address_mode) == (6, V6_CIDR, "dhcpv6-stateful")
    assert {s.id for s in world.conn.network.subnets(network_id=net.id)} == {v4.id, v6.id}


def test_port_keeps_its_fixed_ip_and_binding_fields(world):
    port = world.conn.network.get_port(world.vip.id)
    # only the address asked for: a DHCPv6-stateful subnet adds none by itself (SLAAC would)
    assert port.fixed_ips == [{"subnet_id": world.v4.id, "ip_address": VIP}]
    assert (port.device_owner, port.device_id) == ("Octavia", world.lb_id)
    assert port.status == "DOWN"  # bound to no host: no ovn-controller claims it
    found = list(world.conn.network.ports(device_id=world.lb_id))
    assert [p.id for p in found] == [port.id]


def test_fixed_ip_in_use_is_refused(world):
    from openstack import exceptions
    with pytest.raises(exceptions.ConflictException):
        world.conn.network.create_port(network_id=world.net.id,
                                       fixed_ips=[{"subnet_id": world.v4.id,
                                                   "ip_address": VIP}])


def test_port_with_allowed_address_pairs(world):
    port = world.conn.network.get_port(world.paired.id)
    assert [pair["ip_address"] for pair in port.allowed_address_pairs] == [PAIR]
    assert port.allowed_address_pairs[0]["mac_address"] == port.mac_address
    assert port.is_port_security_enabled is True


def test_security_group_with_rule(world):
    sg = world.conn.network.get_security_group(world.sg.id)
    assert sg.project_id == world.project
    mine = [r for r in sg.security_group_rules if r["id"] == world.rule.id]
    assert len(mine) == 1
    assert (mine[0]["protocol"], mine[0]["port_range_min"], mine[0]["port_range_max"],
            mine[0]["direction"]) == ("tcp", 80, 80, "ingress")
    rules = world.conn.network.security_group_rules(security_group_id=sg.id)
    assert world.rule.id in {r.id for r in rules}


def test_router_with_interface_on_subnet(world):
    ports = list(world.conn.network.ports(device_id=world.router.id))
    assert len(ports) == 1
    assert ports[0].device_owner == "network:router_interface"
    assert ports[0].fixed_ips == [{"subnet_id": world.v4.id, "ip_address": "10.240.1.1"}]


def test_tags_set_and_filtered(world):
    tags = ["lbaas", f"vip-net-{world.label}"]
    world.conn.network.set_tags(world.net, tags)
    assert sorted(world.conn.network.get_network(world.net.id).tags) == sorted(tags)
    tagged = list(world.conn.network.networks(tags=tags[1]))
    assert [n.id for n in tagged] == [world.net.id]


def test_qos_policy_is_admin_only_by_default(neutron_cloud, world):
    from openstack import exceptions
    with pytest.raises(exceptions.ForbiddenException):
        neutron_cloud.connection(M).network.create_qos_policy(name="member-qos")
    admin = neutron_cloud.connection(A)
    policy = admin.network.create_qos_policy(name=f"vip-qos-{world.label}")
    admin.network.create_qos_bandwidth_limit_rule(policy, max_kbps=1000, max_burst_kbps=100)
    admin.network.update_port(world.vip.id, qos_policy_id=policy.id)
    assert world.conn.network.get_port(world.vip.id).qos_policy_id == policy.id
    rules = list(admin.network.qos_bandwidth_limit_rules(policy))
    assert [(r.max_kbps, r.max_burst_kbps) for r in rules] == [(1000, 100)]
    qos = [row for row in nb_rows(neutron_cloud, "QoS")
           if row["external_ids"].get("neutron:port_id") == world.vip.id]
    assert [row["bandwidth"] for row in qos] == [{"rate": 1000, "burst": 100}]


def test_admin_creates_in_another_project_and_sees_everything(neutron_cloud):
    admin, member = neutron_cloud.connection(A), neutron_cloud.connection(M)
    alpha = neutron_cloud.project_id("alpha")
    net = admin.network.create_network(name="made-for-alpha", project_id=alpha)
    assert net.project_id == alpha
    assert net.id in {n.id for n in member.network.networks()}
    own = member.network.create_network(name="alpha-own")
    assert own.id in {n.id for n in admin.network.networks()}


def test_second_project_cannot_see_the_first(neutron_cloud, world):
    from openstack import exceptions
    beta = neutron_cloud.connection(B)
    assert world.net.id not in {n.id for n in beta.network.networks()}
    assert world.vip.id not in {p.id for p in beta.network.ports()}
    with pytest.raises(exceptions.NotFoundException):
        beta.network.get_network(world.net.id)
    with pytest.raises(exceptions.NotFoundException):
        beta.network.get_port(world.vip.id)
    with pytest.raises(exceptions.NotFoundException):  # cannot plug into it
        beta.network.create_port(network_id=world.net.id)


def test_ovn_nb_has_the_logical_switch_and_ports(neutron_cloud, world):
    switches = {row["name"]: row for row in nb_rows(neutron_cloud, "Logical_Switch")}
    switch = switches[f"neutron-{world.net.id}"]
    assert switch["external_ids"]["neutron:network_name"] == f"{world.user}-net"
    ports = {row["name"]: row for row in nb_rows(neutron_cloud, "Logical_Switch_Port")}
    assert set(as_list(switch["ports"])) >= {ports[world.vip.id]["_uuid"], ports[world.paired.id]["_uuid"]}
    vip_addresses = as_list(ports[world.vip.id]["addresses"])
    assert len(vip_addresses) == 1 and VIP in vip_addresses[0].split()
    assert ports[world.vip.id]["external_ids"]["neutron:device_owner"] == "Octavia"
    # an allowed address pair becomes a virtual parent: the pair's IP is in port_security
    assert any(PAIR in entry.split() for entry in as_list(ports[world.paired.id]["port_security"]))


def test_ovn_nb_has_the_router_and_its_port(neutron_cloud, world):
    routers = {row["name"]: row for row in nb_rows(neutron_cloud, "Logical_Router")}
    router = routers[f"neutron-{world.router.id}"]
    lrps = {row["_uuid"]: row for row in nb_rows(neutron_cloud, "Logical_Router_Port")}
    assert [as_list(lrps[uuid]["networks"]) for uuid in as_list(router["ports"])] == [
        ["10.240.1.1/24"]]


def test_ovn_nb_has_the_security_group_as_port_group(neutron_cloud, world):
    groups = {row["name"]: row for row in nb_rows(neutron_cloud, "Port_Group")}
    group = groups["pg_" + world.sg.id.replace("-", "_")]
    acls = {row["_uuid"]: row for row in nb_rows(neutron_cloud, "ACL")}
    matches = [acls[uuid]["match"] for uuid in as_list(group["acls"])]
    assert any("tcp.dst == 80" in match for match in matches), matches
