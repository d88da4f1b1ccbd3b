"""Amphorae on Neutron ports, with real traffic: the amphora provider on the local compute
backend (namespaces, the real agent and HAProxy) and the neutron network backend, on the
session's `neutron_dataplane` (a real Neutron on a full OVN stack).

A user's two networks joined by a Neutron router: the VIP network holds a client namespace
on its own bound port; the member network a backend server on a port whose security group
admits port 8080. The amphora's VIP-network port is lbaas's (bound to this host, the VIP as
an allowed address pair, the load balancer's group), plugged into br-int by the compute
backend; OVN carries the client's request to the VIP and the amphora's to the member.

An ACTIVE_STANDBY load balancer (a flavor's topology) on the same networks: two amphora
ports hold the VIP as an allowed address pair, keepalived moves it, and OVN's port security
lets the BACKUP's port answer for it once the MASTER is killed. A listener's allowed_cidrs
become its security group's rules, which OVN enforces as ACLs on the amphora ports: a
second client namespace outside them gets no answer.
"""
import contextlib
import json
import os
import secrets
import signal
import subprocess
import time
import uuid

import pytest

from testbed import backends
from testbed.cloud.lbaas_on_neutron import amphora_on_br_int
from testbed.cloud.lbaas_serve import LBS, Lbaas
from testbed.cloud.neutron_dataplane import bound_vm, host_id
from testbed.host import free_subnets
from testbed.ovn_stack import tcp_request, wait_for
from tests.functional.test_amphora_active_standby import _holds, _ns
from tests.functional.test_amphora_failover import _in_netns
from tests.functional.test_neutron_backend import A, M

pytestmark = pytest.mark.functional

BACKEND_PORT = 8080


@pytest.fixture(scope="module")
def world(neutron_dataplane, amphora_host, tmp_path_factory):
    """The user's networks, router, client and member namespaces; lbaas serve."""
    cloud, stack = neutron_dataplane, neutron_dataplane.stack
    admin, alpha = cloud.connection(A), cloud.connection(M)
    router = alpha.network.create_router(name="na-router")
    subnets = {}
    for tag, cidr in (("vip", "10.244.1.0/24"), ("mem", "10.244.2.0/24")):
        net = alpha.network.create_network(name=f"na-{tag}")
        sub = alpha.network.create_subnet(network_id=net.id, ip_version=4, cidr=cidr,
                                          enable_dhcp=False)
        alpha.network.add_interface_to_router(router, subnet=sub.id)
        subnets[tag] = (net, sub.to_dict())
    web = alpha.network.create_security_group(name="na-web")
    alpha.network.create_security_group_rule(
        security_group_id=web.id, direction="ingress", ethertype="IPv4", protocol="tcp",
        port_range_min=BACKEND_PORT, port_range_max=BACKEND_PORT)
    project = cloud.project_id("alpha")

    def vm(name, tag, groups=None):
        net, sub = subnets[tag]
        return bound_vm(cloud, admin, name, net, sub, project, f"na-{name}", groups)

    client, member = vm("ncl", "vip"), vm("nbe", "mem", [web.id])
    outsider = vm("nco", "vip")     # a second client, for allowed_cidrs
    for each in (client, member, outsider):
        each.wait_active(admin)
    member.start_tcp(BACKEND_PORT)
    (mgmt,) = free_subnets(1)
    mgmt_bridge = f"nm{secrets.token_hex(3)}"
    state = tmp_path_factory.mktemp("lbaas-namp")
    lbaas = Lbaas(cloud, state, str(uuid.uuid4()),
                  extra=amphora_on_br_int(stack, mgmt_bridge, mgmt, host_id()))
    lbaas.service.start()
    try:
        yield {"lbaas": lbaas, "admin": admin, "alpha": alpha, "client": client,
               "member": member, "subnets": subnets, "stack": stack,
               "outsider": outsider}
    finally:
        lbaas.service.stop()
        subprocess.run(["ip", "link", "del", mgmt_bridge], capture_output=True, check=False)


def _wait_status(lbaas, lb_id, timeout=180):
    def done():
        lb = lbaas.call(M, "GET", f"{LBS}/{lb_id}", expect=200).json()["loadbalancer"]
        assert lb["provisioning_status"] != "ERROR", lb
        return lb["provisioning_status"] == "ACTIVE" and lb
    return wait_for(done, timeout, f"load balancer {lb_id} ACTIVE", 0.5)


def _ovs_ports(stack):
    return set(stack.vsctl("list-ports", "br-int").split())


def test_client_reaches_member_through_the_vip_and_delete_leaves_nothing(world):
    """A client on the VIP network gets the member's answer through the VIP (an amphora on
    a bound Neutron port); after the delete no port, group or OVS port of it is left."""
    lbaas, admin, stack = world["lbaas"], world["admin"], world["stack"]
    _, vip_sub = world["subnets"]["vip"]
    _, mem_sub = world["subnets"]["mem"]
    ovs_before = _ovs_ports(stack)
    started = time.monotonic()
    lb = lbaas.call(M, "POST", LBS, expect=201, json={"loadbalancer": {
        "name": "na", "vip_subnet_id": vip_sub["id"], "listeners": [{
            "name": "na-http", "protocol": "HTTP", "protocol_port": 80,
            "default_pool": {"name": "na-pool", "protocol": "HTTP",
                             "lb_algorithm": "ROUND_ROBIN", "members": [{
                                 "address": world["member"].ip, "subnet_id": mem_sub["id"],
                                 "protocol_port": BACKEND_PORT}]}}]}}).json()["loadbalancer"]
    _wait_status(lbaas, lb["id"])
    active = time.monotonic() - started
    answer = wait_for(lambda: tcp_request(lb["vip_address"], 80, netns=world["client"].netns,
                                          timeout=1), 30, "an answer through the VIP", 0.2)
    print(f"graph ACTIVE {active:.1f} s, first answer through the VIP "
          f"{time.monotonic() - started:.1f} s after the POST")
    assert answer == "nbe"
    amp_ports = list(admin.network.ports(device_owner="lbaas:amphora"))
    vip_leg = [p for p in amp_ports if p.network_id == vip_sub["network_id"]]
    assert len(vip_leg) == 1 and vip_leg[0].status == "ACTIVE", amp_ports
    assert [p["ip_address"] for p in vip_leg[0].allowed_address_pairs] == [lb["vip_address"]]
    group = list(admin.network.security_groups(name=f"lb-{lb['id']}"))
    assert [g.id for g in group] == vip_leg[0].security_group_ids
    assert len(_ovs_ports(stack) - ovs_before) == 2   # the VIP leg and the member leg

    lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    wait_for(lambda: lbaas.call(M, "GET", f"{LBS}/{lb['id']}").status_code == 404, 120,
             "the load balancer gone", 0.5)
    wait_for(lambda: not list(admin.network.ports(device_owner="lbaas:amphora")) and
             not list(admin.network.ports(device_id=f"lb-{lb['id']}")), 30,
             "no port of the load balancer or its amphora", 0.2)
    # the core deletes the VIP port, then its group, just after DELETED is reported
    wait_for(lambda: not list(admin.network.security_groups(name=f"lb-{lb['id']}")), 30,
             "no security group of the load balancer", 0.2)
    assert _ovs_ports(stack) == ovs_before


@pytest.fixture(scope="module")
def pair_lb(world):
    """An ACTIVE_STANDBY load balancer (through a flavor) with an HTTP listener on 80 and a
    TCP one on 81 open only to the first client; deleted at the end, leaving no port."""
    lbaas, admin = world["lbaas"], world["admin"]
    _, vip_sub = world["subnets"]["vip"]
    _, mem_sub = world["subnets"]["mem"]
    profile = lbaas.call(A, "POST", "/v2/lbaas/flavorprofiles", expect=201, json={
        "flavorprofile": {"name": "na-pair", "provider_name": "amphora", "flavor_data":
                          json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"})}}).json()
    flavor = lbaas.call(A, "POST", "/v2/lbaas/flavors", expect=201, json={"flavor": {
        "name": "na-pair", "flavor_profile_id": profile["flavorprofile"]["id"]}}).json()
    member = {"address": world["member"].ip, "subnet_id": mem_sub["id"],
              "protocol_port": BACKEND_PORT}
    started = time.monotonic()
    lb = lbaas.call(M, "POST", LBS, expect=201, json={"loadbalancer": {
        "name": "na-pair", "vip_subnet_id": vip_sub["id"], "flavor_id": flavor["flavor"]["id"],
        "listeners": [
            {"name": "na-pair-http", "protocol": "HTTP", "protocol_port": 80,
             "default_pool": {"name": "na-pair-pool", "protocol": "HTTP",
                              "lb_algorithm": "ROUND_ROBIN", "members": [member]}},
            {"name": "na-pair-81", "protocol": "TCP", "protocol_port": 81,
             "allowed_cidrs": [world["client"].ip + "/32"],
             "default_pool": {"name": "na-pair-81", "protocol": "TCP",
                              "lb_algorithm": "ROUND_ROBIN", "members": [member]}}]}}
                    ).json()["loadbalancer"]
    _wait_status(lbaas, lb["id"])
    print(f"ACTIVE_STANDBY graph ACTIVE {time.monotonic() - started:.1f} s after the POST")
    yield lb
    lbaas.call(M, "DELETE", f"{LBS}/{lb['id']}?cascade=true", expect=204)
    wait_for(lambda: lbaas.call(M, "GET", f"{LBS}/{lb['id']}").status_code == 404, 120,
             "the load balancer gone", 0.5)
    wait_for(lambda: not list(admin.network.ports(device_owner="lbaas:amphora")), 30,
             "no amphora port left", 0.2)


def _kill(amphora_id):
    """SIGKILL every process in the amphora's namespace (agent, HAProxy, keepalived); a
    short-lived one (keepalived's check script) may be gone already."""
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_netns(int(p),
                                                                            _ns(amphora_id))]
    assert pids, f"no process in {_ns(amphora_id)}"
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _amphorae(world, lb_id):
    """{role: amphora} of a load balancer (the admin's view)."""
    found = world["lbaas"].call(A, "GET", f"/v2/octavia/amphorae?loadbalancer_id={lb_id}",
                                expect=200).json()["amphorae"]
    return {a["role"]: a for a in found}


def _ask(vm, vip, port=80, timeout=0.5):
    return tcp_request(vip, port, netns=vm.netns, timeout=timeout)


def _dropped(vm, vip, port, timeout=0.5):
    """Whether a TCP connection from vm to vip:port gets no answer at all (its SYN dropped
    on the way, as an ACL does; HAProxy's own allowed_cidrs check accepts, then closes)."""
    try:
        backends.connect(vip, port, vm.netns, timeout).close()
    except TimeoutError:
        return True
    except OSError:
        return False
    return False


def test_allowed_cidrs_admit_only_their_sources_and_follow_changes(world, pair_lb):
    """The listener on 81 answers the client inside allowed_cidrs; the one outside gets no
    SYN-ACK (the group's rule, an OVN ACL, drops it before HAProxy sees it); replacing
    allowed_cidrs swaps who gets through."""
    lbaas, vip = world["lbaas"], pair_lb["vip_address"]
    inside, outside = world["client"], world["outsider"]
    assert wait_for(lambda: _ask(inside, vip, 81), 30, "an answer on 81", 0.2) == "nbe"
    assert _ask(outside, vip, 80) == "nbe"     # the outsider does reach the VIP on 80
    assert _dropped(outside, vip, 81)
    (listener,) = [li for li in pair_lb["listeners"] if li["protocol_port"] == 81]
    lbaas.call(M, "PUT", f"/v2/lbaas/listeners/{listener['id']}", expect=200, json={
        "listener": {"allowed_cidrs": [outside.ip + "/32"]}})
    _wait_status(lbaas, pair_lb["id"])
    started = time.monotonic()
    wait_for(lambda: _ask(outside, vip, 81), 15, "the outsider admitted on 81", 0.1)
    print(f"allowed_cidrs change took effect {time.monotonic() - started:.2f} s after ACTIVE")
    wait_for(lambda: _dropped(inside, vip, 81, timeout=0.3), 15,
             "the first client dropped on 81", 0.1)
    assert _ask(inside, vip, 80) == "nbe"


def test_backup_takes_the_vip_when_the_master_is_killed(world, pair_lb):
    """Both amphora ports carry the VIP as an allowed pair; the MASTER's processes are
    SIGKILLed and a client on the VIP network keeps being answered through the BACKUP;
    the dead amphora is replaced (its Neutron port goes)."""
    lbaas, admin, vip = world["lbaas"], world["admin"], pair_lb["vip_address"]
    pair = _amphorae(world, pair_lb["id"])
    assert sorted(pair) == ["BACKUP", "MASTER"], pair
    legs = [p for p in admin.network.ports(device_owner="lbaas:amphora",
                                           network_id=world["subnets"]["vip"][0].id)
            if p.device_id in {a["id"] for a in pair.values()}]
    assert len(legs) == 2 and all(p.status == "ACTIVE" for p in legs), legs
    assert all([a["ip_address"] for a in p.allowed_address_pairs] == [vip] for p in legs)
    wait_for(lambda: [r for r, a in pair.items() if _holds(a["id"], vip)] == ["MASTER"], 15,
             "the VIP on the MASTER alone", 0.1)
    client = world["client"]
    assert wait_for(lambda: _ask(client, vip), 30, "an answer through the VIP", 0.2) == "nbe"
    answers, stop = [], time.monotonic() + 60

    _kill(pair["MASTER"]["id"])
    killed = time.monotonic()
    while time.monotonic() < stop:
        answer = _ask(client, vip, timeout=0.3)
        answers.append((time.monotonic(), answer))
        if answer and sum(1 for _, a in answers[-10:] if a) == 10:
            break
        time.sleep(0.02)
    served = [t for t, a in answers if a]
    assert len(served) >= 10, answers[-5:]
    gap = served[0] - killed
    print(f"ACTIVE_STANDBY on Neutron: first answer through the BACKUP {gap:.2f} s after "
          f"the MASTER was SIGKILLed ({sum(1 for _, a in answers if not a)} failed)")
    assert _holds(pair["BACKUP"]["id"], vip)
    assert gap < 10, gap

    def replaced():
        now = _amphorae(world, pair_lb["id"])
        lb = lbaas.call(M, "GET", f"{LBS}/{pair_lb['id']}", expect=200).json()["loadbalancer"]
        return (len(now) == 2 and pair["MASTER"]["id"] not in {a["id"] for a in now.values()}
                and lb["provisioning_status"] == "ACTIVE" and now)
    new = wait_for(replaced, 120, "the dead MASTER replaced", 0.5)
    print(f"replacement pair ACTIVE {time.monotonic() - killed:.1f} s after the kill")
    assert new["MASTER"]["id"] == pair["BACKUP"]["id"]
    assert not list(admin.network.ports(device_id=pair["MASTER"]["id"]))
    # one run of four saw the first request after the new pair's ACTIVE go unanswered
    settled = time.monotonic()
    wait_for(lambda: _ask(client, vip) == "nbe", 15, "answers through the new pair", 0.1)
    print(f"answered through the new pair {time.monotonic() - settled:.2f} s after its ACTIVE")
