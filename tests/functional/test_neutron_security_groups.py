"""Load balancers' security groups in a real Neutron, kept by the amphora provider.

`lbaas serve` runs the amphora provider on noop compute and agent (as the tempest job
does: no amphora VMs), with `[network] driver = neutron` and Keystone authentication, on
the session's `neutron_cloud`. After each reconcile that changed the listeners, Neutron
must hold a group `lb-<id>` on the VIP port with exactly the listeners' ingress rules (or
the user's vip_sg_ids and no group of ours), and nothing once the load balancer is gone.
[networking] valid_vip_networks lists only the first network.
"""
import time
import types

import pytest

from testbed.cloud.lbaas_serve import LBS, Lbaas
from tests.functional.test_neutron_backend import A, M, released

pytestmark = pytest.mark.functional

LISTENERS = "/v2/lbaas/listeners"
ATTEMPTS = 2   # [controller_worker] reconcile_attempts: a failed sync reaches ERROR quickly


@pytest.fixture(scope="module")
def sgw(neutron_cloud, tmp_path_factory):
    """Alpha's listed network and an unlisted one; lbaas serve with the amphora provider."""
    admin, alpha = neutron_cloud.connection(A), neutron_cloud.connection(M)
    net = alpha.network.create_network(name="sg-listed")
    sub = alpha.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.242.1.0/24")
    other = alpha.network.create_network(name="sg-unlisted")
    other_sub = alpha.network.create_subnet(network_id=other.id, ip_version=4,
                                            cidr="10.242.2.0/24")
    denied = admin.network.create_network(name="sg-denied")
    lbaas = Lbaas(neutron_cloud, tmp_path_factory.mktemp("lbaas-sg"), denied.id, extra=f"""
        [api_settings]
        enabled_provider_drivers = amphora:The amphora provider (noop compute and agent).
        default_provider_driver = amphora

        [controller_worker]
        amphora_driver = amphora_noop_driver
        reconcile_attempts = {ATTEMPTS}

        [amphora_compute]
        driver = noop

        [certificates]
        cert_manager = noop

        [networking]
        valid_vip_networks = {net.id}
        """)
    lbaas.service.start()
    yield types.SimpleNamespace(lbaas=lbaas, net=net, sub=sub, other_sub=other_sub,
                                admin=admin, alpha=alpha, cloud=neutron_cloud)
    lbaas.service.stop()


def group(conn, lb_id):
    """The load balancer's security group in Neutron, or None."""
    found = list(conn.network.security_groups(name=f"lb-{lb_id}"))
    assert len(found) <= 1, found
    return found[0] if found else None


def ingress(conn, group_id):
    """{(protocol, port min, port max, remote prefix, ethertype)} of a group's ingress rules."""
    return {(r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.ether_type)
            for r in conn.network.security_group_rules(security_group_id=group_id)
            if r.direction == "ingress"}


def listener(w, lb_id, protocol, port, expect=201, **fields):
    resp = w.lbaas.call(M, "POST", LISTENERS, expect=expect, json={"listener": dict(
        fields, loadbalancer_id=lb_id, protocol=protocol, protocol_port=port)})
    return resp.json()["listener"] if expect == 201 else resp.json()


def settled(w, lb_id):
    """Wait for ACTIVE: the reconcile (and its security group sync) is done."""
    return w.lbaas.wait(M, lb_id)


def test_the_group_follows_the_listeners_and_goes_with_the_load_balancer(sgw):
    lb = sgw.lbaas.create(M, vip_subnet_id=sgw.sub.id)
    settled(sgw, lb["id"])
    sg = group(sgw.admin, lb["id"])
    assert sg is not None and sg.project_id == sgw.cloud.project_id("service")
    assert sgw.admin.network.get_port(lb["vip_port_id"]).security_group_ids == [sg.id]
    assert ingress(sgw.admin, sg.id) == set()   # no listener, nothing open (no ICMP either)

    tcp = listener(sgw, lb["id"], "TCP", 80, allowed_cidrs=["192.0.2.0/24"])
    settled(sgw, lb["id"])
    assert ingress(sgw.admin, sg.id) == {("tcp", 80, 80, "192.0.2.0/24", "IPv4")}

    udp = listener(sgw, lb["id"], "UDP", 53)
    settled(sgw, lb["id"])
    assert ingress(sgw.admin, sg.id) == {("tcp", 80, 80, "192.0.2.0/24", "IPv4"),
                                         ("udp", 53, 53, None, "IPv4")}

    sgw.lbaas.call(M, "PUT", f"{LISTENERS}/{tcp['id']}", expect=200, json={
        "listener": {"allowed_cidrs": ["198.51.100.0/24", "203.0.113.0/24"]}})
    settled(sgw, lb["id"])
    assert ingress(sgw.admin, sg.id) == {("tcp", 80, 80, "198.51.100.0/24", "IPv4"),
                                         ("tcp", 80, 80, "203.0.113.0/24", "IPv4"),
                                         ("udp", 53, 53, None, "IPv4")}

    sgw.lbaas.call(M, "DELETE", f"{LISTENERS}/{udp['id']}", expect=204)
    settled(sgw, lb["id"])
    assert ingress(sgw.admin, sg.id) == {("tcp", 80, 80, "198.51.100.0/24", "IPv4"),
                                         ("tcp", 80, 80, "203.0.113.0/24", "IPv4")}
    assert group(sgw.admin, lb["id"]).id == sg.id   # kept, not made again

    sgw.lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    sgw.lbaas.wait(M, lb["id"], "DELETED")
    assert released(sgw.admin, lb["id"])
    deadline = time.monotonic() + 15
    while group(sgw.admin, lb["id"]) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert group(sgw.admin, lb["id"]) is None


def test_the_users_vip_sg_ids_are_the_ports_and_no_group_is_made(sgw):
    mine = sgw.alpha.network.create_security_group(name="sg-mine")
    lb = sgw.lbaas.create(M, vip_subnet_id=sgw.sub.id, vip_sg_ids=[mine.id])
    assert lb["vip_sg_ids"] == [mine.id]
    refused = listener(sgw, settled(sgw, lb["id"])["id"], "TCP", 80, expect=400,
                       allowed_cidrs=["192.0.2.0/24"])
    assert refused["faultstring"] == ("Validation failure: Allowed CIDRs are not allowed "
                                      "when using custom VIP "
                                      "Security Groups.")
    listener(sgw, lb["id"], "TCP", 80)
    settled(sgw, lb["id"])
    assert sgw.admin.network.get_port(lb["vip_port_id"]).security_group_ids == [mine.id]
    assert group(sgw.admin, lb["id"]) is None
    sgw.lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    sgw.lbaas.wait(M, lb["id"], "DELETED")
    assert released(sgw.admin, lb["id"])
    assert sgw.alpha.network.get_security_group(mine.id).name == "sg-mine"


def test_a_pair_also_opens_vrrp_ah_and_the_peer_port(sgw):
    """ACTIVE_STANDBY (a flavor): the pair's own traffic, as Octavia opens it; the second
    sync (the listener's) finds those rules as Neutron stores them and keeps them."""
    profile = sgw.lbaas.call(A, "POST", "/v2/lbaas/flavorprofiles", expect=201, json={
        "flavorprofile": {"name": "sg-pair", "provider_name": "amphora",
                          "flavor_data": '{"loadbalancer_topology": "ACTIVE_STANDBY"}'}})
    flavor = sgw.lbaas.call(A, "POST", "/v2/lbaas/flavors", expect=201, json={"flavor": {
        "name": "sg-pair", "flavor_profile_id": profile.json()["flavorprofile"]["id"]}})
    lb = sgw.lbaas.create(M, vip_subnet_id=sgw.sub.id, flavor_id=flavor.json()["flavor"]["id"])
    settled(sgw, lb["id"])
    listener(sgw, lb["id"], "TCP", 80, allowed_cidrs=["192.0.2.0/24"])
    settled(sgw, lb["id"])
    assert ingress(sgw.admin, group(sgw.admin, lb["id"]).id) == {
        ("tcp", 80, 80, "192.0.2.0/24", "IPv4"), ("tcp", 1025, 1025, None, "IPv4"),
        ("112", None, None, None, "IPv4"), ("51", None, None, None, "IPv4")}
    sgw.lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    sgw.lbaas.wait(M, lb["id"], "DELETED")
    assert released(sgw.admin, lb["id"])


def test_only_a_listed_vip_network_is_accepted(sgw):
    before = sgw.lbaas.lb_count(M)
    resp = sgw.lbaas.create(M, expect=400, vip_subnet_id=sgw.other_sub.id)
    assert resp.json()["faultstring"] == ("Validation failure: Supplied VIP network_id is not "
                                          "allowed by the configuration of this deployment.")
    assert sgw.lbaas.lb_count(M) == before
    assert [p for p in sgw.admin.network.ports(network_id=sgw.other_sub.network_id)
            if p.device_owner == "Octavia"] == []
    lb = sgw.lbaas.create(M, vip_network_id=sgw.net.id)
    assert lb["vip_subnet_id"] == sgw.sub.id
    settled(sgw, lb["id"])
    sgw.lbaas.delete(M, lb["id"])


def test_neutron_failing_during_the_sync_leaves_the_listener_in_error(sgw):
    """Last: Neutron stops after the API accepted a listener; the reconcile's attempts fail
    and its objects go ERROR (an ERROR load balancer is immutable, as upstream's), and an
    admin's failover syncs the group once Neutron is back."""
    lb = sgw.lbaas.create(M, vip_subnet_id=sgw.sub.id)
    settled(sgw, lb["id"])
    sg = group(sgw.admin, lb["id"])
    sgw.cloud.neutron.stop()
    try:
        made = listener(sgw, lb["id"], "TCP", 443, allowed_cidrs=["192.0.2.0/24"])
        deadline, status = time.monotonic() + 30, None
        while status != "ERROR" and time.monotonic() < deadline:
            time.sleep(0.2)
            status = sgw.lbaas.call(M, "GET", f"{LISTENERS}/{made['id']}", expect=200) \
                .json()["listener"]["provisioning_status"]
        assert status == "ERROR"
    finally:
        sgw.cloud.neutron.serve()
    assert ingress(sgw.admin, sg.id) == set()
    sgw.lbaas.call(A, "PUT", f"{LBS}/{lb['id']}/failover", expect=202)
    settled(sgw, lb["id"])
    assert ingress(sgw.admin, sg.id) == {("tcp", 443, 443, "192.0.2.0/24", "IPv4")}
    sgw.lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    sgw.lbaas.wait(M, lb["id"], "DELETED")
    assert released(sgw.admin, lb["id"])
