"""The `neutron` network backend against a real Neutron (fixture `neutron_cloud`).

`lbaas serve` runs with Keystone authentication, `[network] driver = neutron` (its
service user `lbaas`, admin of project `service`) and the noop provider. Users call the
REST API with their own tokens and read Neutron with the SDK: the VIP port exists with
Octavia's conventions and goes with the load balancer, another project's objects are
refused, and Neutron's own refusals (a low port quota, a full subnet, an address in use,
Neutron stopped) come back as clear answers with nothing left half-made.
"""
import logging
import statistics
import subprocess
import time
import types
import uuid

import pytest
from openstack.exceptions import ConflictException

from lbaas import conf as lbaas_conf
from lbaas.drivers.amphora.vrrp.pair import AMP_PORT_OWNER, vip_port_name
from lbaas.network.neutron import NeutronNetwork
from testbed.cloud.keystone import REGION, password
from testbed.cloud.lbaas_on_neutron import config_text
from testbed.cloud.lbaas_serve import Lbaas
from testbed.service import clean_env, venv_command

pytestmark = pytest.mark.functional

M, B, A, G = "alpha-member", "beta-member", "cloud-admin", "gamma-member"


@pytest.fixture(scope="module")
def world(neutron_cloud, tmp_path_factory):
    """Alpha's network with two subnets, beta's, a denied one; lbaas serve on them."""
    admin = neutron_cloud.connection(A)
    alpha = neutron_cloud.connection(M)
    net = alpha.network.create_network(name="nb-alpha")
    v4 = alpha.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.241.1.0/24")
    v4b = alpha.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.241.2.0/24")
    denied = admin.network.create_network(name="nb-denied", shared=True)
    admin.network.create_subnet(network_id=denied.id, ip_version=4, cidr="10.241.9.0/24")
    state = tmp_path_factory.mktemp("lbaas-neutron")
    lbaas = Lbaas(neutron_cloud, state, denied.id)
    started = time.monotonic()
    lbaas.service.start()
    neutron_cloud.timings["lbaas serve (neutron backend)"] = time.monotonic() - started
    yield types.SimpleNamespace(lbaas=lbaas, net=net, v4=v4, v4b=v4b, denied=denied,
                                admin=admin, alpha=alpha, cloud=neutron_cloud)
    lbaas.service.stop()


def vip_ports(conn, lb_id):
    return list(conn.network.ports(device_id=f"lb-{lb_id}"))


def released(conn, lb_id, timeout=15.0):
    """Whether the load balancer's VIP ports are gone (the release follows the DELETED
    status: the status commits first, then the backend deletes the port)."""
    deadline = time.monotonic() + timeout
    while vip_ports(conn, lb_id):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_vip_subnet_gives_a_port_with_octavias_conventions(world):
    lb = world.lbaas.create(M, vip_subnet_id=world.v4.id)
    assert lb["vip_network_id"] == world.net.id and lb["vip_subnet_id"] == world.v4.id
    port = world.admin.network.get_port(lb["vip_port_id"])
    assert (port.name, port.device_owner, port.device_id) == \
        (f"octavia-lb-{lb['id']}", "Octavia", f"lb-{lb['id']}")
    assert port.project_id == world.cloud.project_id("alpha")
    assert port.is_admin_state_up is False
    assert port.fixed_ips == [{"subnet_id": world.v4.id, "ip_address": lb["vip_address"]}]
    world.lbaas.wait(M, lb["id"])
    world.lbaas.delete(M, lb["id"])
    assert released(world.admin, lb["id"])


def test_vip_network_and_address_and_an_additional_vip_share_one_port(world):
    lb = world.lbaas.create(M, vip_network_id=world.net.id, vip_address="10.241.1.50",
                            additional_vips=[{"subnet_id": world.v4b.id}])
    assert (lb["vip_subnet_id"], lb["vip_address"]) == (world.v4.id, "10.241.1.50")
    [extra] = lb["additional_vips"]
    port = world.admin.network.get_port(lb["vip_port_id"])
    assert sorted(f["ip_address"] for f in port.fixed_ips) == \
        sorted(["10.241.1.50", extra["ip_address"]])
    assert extra["subnet_id"] == world.v4b.id and extra["ip_address"].startswith("10.241.2.")
    world.lbaas.wait(M, lb["id"])
    world.lbaas.delete(M, lb["id"])
    assert released(world.admin, lb["id"])


def test_a_users_own_port_is_used_and_kept(world):
    mine = world.alpha.network.create_port(network_id=world.net.id, name="my-vip")
    lb = world.lbaas.create(M, vip_port_id=mine.id)
    assert (lb["vip_port_id"], lb["vip_address"]) == (mine.id, mine.fixed_ips[0]["ip_address"])
    assert vip_ports(world.admin, lb["id"]) == []  # no port of lbaas's own
    world.lbaas.wait(M, lb["id"])
    world.lbaas.delete(M, lb["id"])
    assert world.alpha.network.get_port(mine.id).name == "my-vip"


@pytest.mark.parametrize("field", ["vip_network_id", "vip_subnet_id", "vip_port_id"])
def test_another_projects_network_subnet_or_port_is_not_found(world, field):
    theirs = {"vip_network_id": world.net.id, "vip_subnet_id": world.v4.id}
    if field == "vip_port_id":
        theirs[field] = world.alpha.network.create_port(network_id=world.net.id).id
    before = world.lbaas.lb_count(B)
    resp = world.lbaas.create(B, expect=400, **{field: theirs[field]})
    kind = {"vip_network_id": "Network", "vip_subnet_id": "Subnet", "vip_port_id": "Port"}
    assert resp.json()["faultstring"] == f"{kind[field]} {theirs[field]} not found."
    assert world.lbaas.lb_count(B) == before


def test_a_qos_policy_is_checked_with_the_callers_token(world):
    policy = world.admin.network.create_qos_policy(name="nb-admin-only")
    resp = world.lbaas.create(M, expect=400, vip_subnet_id=world.v4.id,
                              vip_qos_policy_id=policy.id)
    assert resp.json()["faultstring"] == f"qos_policy {policy.id} not found."
    mine = world.admin.network.create_network(name="nb-admin-net")
    sub = world.admin.network.create_subnet(network_id=mine.id, ip_version=4,
                                            cidr="10.241.8.0/24")
    lb = world.lbaas.create(A, vip_subnet_id=sub.id, vip_qos_policy_id=policy.id)
    assert lb["vip_qos_policy_id"] == policy.id
    world.lbaas.wait(A, lb["id"])
    world.lbaas.delete(A, lb["id"])


def test_a_denylisted_network_is_refused(world):
    resp = world.lbaas.create(M, expect=400, vip_network_id=world.denied.id)
    assert "not allowed by the configuration" in resp.json()["faultstring"]


def test_an_address_in_use_is_a_409(world):
    taken = world.alpha.network.create_port(
        network_id=world.net.id, fixed_ips=[{"subnet_id": world.v4.id,
                                             "ip_address": "10.241.1.60"}])
    before = world.lbaas.lb_count(M)
    resp = world.lbaas.create(M, expect=409, vip_subnet_id=world.v4.id,
                              vip_address="10.241.1.60")
    assert resp.json()["faultstring"].startswith("The VIP IP address is already in use: ")
    assert "10.241.1.60" in resp.json()["faultstring"]
    assert world.lbaas.lb_count(M) == before
    world.alpha.network.delete_port(taken)


def test_a_full_subnet_is_a_409_and_leaves_nothing(world):
    net = world.alpha.network.create_network(name="nb-full")
    small = world.alpha.network.create_subnet(
        network_id=net.id, ip_version=4, cidr="10.241.3.0/29",
        allocation_pools=[{"start": "10.241.3.2", "end": "10.241.3.3"}])
    for _ in range(3):  # two addresses, fewer if Neutron took one for itself
        try:
            world.alpha.network.create_port(network_id=net.id)
        except ConflictException:
            break
    before = world.lbaas.lb_count(M)
    resp = world.lbaas.create(M, expect=409, vip_subnet_id=small.id)
    assert "No more IP addresses available" in resp.json()["faultstring"]
    # Named by network only, the subnet's lack of room is seen before any port is asked for
    resp = world.lbaas.create(M, expect=400, vip_network_id=net.id)
    assert "do not contain enough available IPs" in resp.json()["faultstring"]
    assert world.lbaas.lb_count(M) == before
    assert [p.device_owner for p in world.admin.network.ports(network_id=net.id)
            if p.device_owner == "Octavia"] == []


def test_the_projects_port_quota_is_a_409_and_leaves_nothing(world):
    gamma = world.cloud.connection(G)
    net = gamma.network.create_network(name="nb-quota")
    sub = gamma.network.create_subnet(network_id=net.id, ip_version=4, cidr="10.241.4.0/24")
    used = len(list(world.admin.network.ports(project_id=world.cloud.project_id("gamma"))))
    world.admin.network.update_quota(world.cloud.project_id("gamma"), ports=used)
    try:
        resp = world.lbaas.create(G, expect=409, vip_subnet_id=sub.id)
        assert "Quota exceeded for resources: ['port']" in resp.json()["faultstring"]
        assert world.lbaas.lb_count(G) == 0
    finally:
        world.admin.network.update_quota(world.cloud.project_id("gamma"), ports=50)
    lb = world.lbaas.create(G, vip_subnet_id=sub.id)
    world.lbaas.wait(G, lb["id"])
    world.lbaas.delete(G, lb["id"])


def test_the_lookup_endpoints_are_neutrons_now(world):
    resp = world.lbaas.call(M, "GET", f"/v2/subnets/{world.v4.id}")
    assert resp.status_code == 404 and "Neutron" in resp.json()["faultstring"]


def test_the_cli_finds_the_subnet_in_neutron(world):
    world.cloud.keystone.register("lbaas", "load-balancer", world.lbaas.url)
    env = clean_env(OS_AUTH_URL=world.cloud.auth_url, OS_USERNAME=M, OS_PASSWORD=password(M),
                    OS_PROJECT_NAME="alpha", OS_USER_DOMAIN_NAME="Default",
                    OS_PROJECT_DOMAIN_NAME="Default", OS_REGION_NAME=REGION,
                    OS_IDENTITY_API_VERSION="3")
    proc = subprocess.run([venv_command("openstack"), "loadbalancer", "create", "--name", "cli",
                           "--vip-subnet-id", world.v4.name or world.v4.id, "-f", "value",
                           "-c", "id", "-c", "vip_port_id"], env=env, capture_output=True, check=False,
                          text=True, timeout=180, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    lb_id, port_id = proc.stdout.split()
    assert world.admin.network.get_port(port_id).name == f"octavia-lb-{lb_id}"
    world.lbaas.wait(M, lb_id)
    world.lbaas.delete(M, lb_id)


def _median_post(lbaas, subnet_id, count=20):
    took = []
    for _ in range(count):
        started = time.monotonic()
        lb = lbaas.create(M, vip_subnet_id=subnet_id)
        took.append(time.monotonic() - started)
        lbaas.wait(M, lb["id"])
        lbaas.delete(M, lb["id"])
    return statistics.median(took)


def _calls(caplog, what):
    """How many logged Neutron calls start with `what` ("GET /subnets/<id>")."""
    return sum(1 for r in caplog.records if r.name == "lbaas.network.neutron_api"
               and r.getMessage().startswith("Neutron call " + what))


def test_a_reconciles_reads_are_asked_once_and_its_rules_in_one_call(world, tmp_path,
                                                                       caplog):
    """The backend in this process with lbaas's configuration, its calls counted from its
    DEBUG lines: inside reads_cached a subnet and its network are read once however often
    plumbing and allocate_port need them (outside it, every time: nothing is kept across
    reconciles); the group sync makes all its missing rules in one bulk call, and Neutron
    then holds each of them."""
    path = tmp_path / "lbaas.conf"
    path.write_text(config_text(world.cloud, denied_network=world.denied.id))
    network = NeutronNetwork(lbaas_conf.make_conf(config_files=[str(path)]))
    lb_id, amphora_id = str(uuid.uuid4()), str(uuid.uuid4())
    caplog.set_level(logging.DEBUG, logger="lbaas.network.neutron_api")
    vip = network.allocate_vip(lb_id, world.net.id, world.v4.id)
    try:
        with network.reads_cached():
            first = network.plumbing(world.v4.id)
            assert network.plumbing(world.v4.id) == first
            network.allocate_port(amphora_id, world.v4.id, AMP_PORT_OWNER,
                                  name=vip_port_name(amphora_id), allowed=[vip.address])
        assert _calls(caplog, f"GET /subnets/{world.v4.id} ") == 1
        assert _calls(caplog, f"GET /networks/{world.net.id} ") == 1
        network.plumbing(world.v4.id)
        assert _calls(caplog, f"GET /subnets/{world.v4.id} ") == 2
        listeners = [{"protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": []},
                     {"protocol": "TCP", "protocol_port": 443,
                      "allowed_cidrs": ["192.0.2.0/24", "198.51.100.0/24"]}]
        network.sync_security_group({"id": lb_id, "vip_sg_ids": [],
                                     "vip_addresses": [vip.address], "topology": "SINGLE",
                                     "peer_port": None, "amphorae": [amphora_id],
                                     "listeners": listeners})
        assert _calls(caplog, "POST /security-group-rules ") == 1
        group = next(world.admin.network.security_groups(name=f"lb-{lb_id}"))
        rules = {(r.protocol, r.port_range_min, r.remote_ip_prefix)
                 for r in world.admin.network.security_group_rules(
                     security_group_id=group.id) if r.direction == "ingress"}
        assert rules == {("tcp", 80, None), ("tcp", 443, "192.0.2.0/24"),
                         ("tcp", 443, "198.51.100.0/24")}
        ports = {vip.port_id: None, **{p.id: None for p in world.admin.network.ports(
            name=vip_port_name(amphora_id))}}
        assert len(ports) == 2
        for port_id in ports:   # the VIP port and the amphora's, updated at once
            assert world.admin.network.get_port(port_id).security_group_ids == [group.id]
    finally:
        network.release_ports(amphora_id)
        network.deallocate_vip(lb_id, vip)
    assert not list(world.admin.network.ports(device_id=amphora_id))
    assert not list(world.admin.network.security_groups(name=f"lb-{lb_id}"))


def test_post_timing_neutron_against_noop(world, tmp_path, capsys):
    """Figures for docs/testing.md: POST load balancer, neutron backend and noop (median of
    20 each, same Keystone, same caller)."""
    neutron = _median_post(world.lbaas, world.v4.id)
    took = []
    for _ in range(20):  # Neutron's own share: the same user's POST /v2.0/ports, bare
        started = time.monotonic()
        port = world.alpha.network.create_port(network_id=world.net.id,
                                               fixed_ips=[{"subnet_id": world.v4.id}])
        took.append(time.monotonic() - started)
        world.alpha.network.delete_port(port)
    bare = statistics.median(took)
    noop = Lbaas(world.cloud, tmp_path, world.denied.id, driver="noop")
    noop.service.start()
    try:
        baseline = _median_post(noop, world.v4.id)
    finally:
        noop.service.stop()
    world.cloud.timings["POST loadbalancer (median of 20): neutron backend"] = neutron
    world.cloud.timings["POST loadbalancer (median of 20): noop backend"] = baseline
    world.cloud.timings["POST /v2.0/ports (median of 20)"] = bare
    with capsys.disabled():
        print(f"\nPOST loadbalancer, median of 20: neutron backend {neutron * 1000:.0f} ms, "
              f"noop backend {baseline * 1000:.0f} ms; Neutron's POST /v2.0/ports alone "
              f"{bare * 1000:.0f} ms")
        print("neutron_cloud timings (s): " + ", ".join(
            f"{k} {v:.1f}" for k, v in world.cloud.timings.items()))
    assert neutron > 0 and baseline > 0


def test_neutron_stopped_is_a_503_naming_it(world):
    """Last: Neutron is stopped, then served again for the rest of the session."""
    before = world.lbaas.lb_count(M)
    world.cloud.neutron.stop()
    try:
        resp = world.lbaas.create(M, expect=503, vip_subnet_id=world.v4.id)
        body = resp.json()
        assert body["faultcode"] == "Server"
        assert body["faultstring"].startswith("The network service (Neutron) could not be "
                                              "reached")
    finally:
        world.cloud.neutron.serve()
    assert world.lbaas.lb_count(M) == before
    lb = world.lbaas.create(M, vip_subnet_id=world.v4.id)
    world.lbaas.wait(M, lb["id"])
    world.lbaas.delete(M, lb["id"])

