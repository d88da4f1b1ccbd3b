"""The `nova` compute backend against a real Nova (fixture `nova_cloud`: nova-api, conductor,
scheduler and one nova-compute with Nova's fake virt driver, Placement and Glance, on the
session's Keystone, Neutron, MariaDB and RabbitMQ).

The backend runs with lbaas's service credentials ([service_auth]: user `lbaas`, admin of
project `service`), boots from a Glance image tagged for the test and a flavor made here,
on a management network made here. Nova's fake virt driver boots nothing, so no agent ever
answers: the backend is driven directly (boot, boot data, ports, server groups, Nova's own
refusals, orphans), and the fleet up to its wait for the agent (short), which must end with
the amphora ERROR and nothing left in Nova or Neutron.
"""
import base64
import textwrap
import time
import uuid

import pytest
from cryptography import x509

from lbaas import conf as lbaas_conf
from lbaas.agent import bootdata
from lbaas.core import models
from lbaas.core.controller import Core
from lbaas.db import migrate
from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.compute import Boot, Network, nova_errors
from lbaas.drivers.amphora.compute.nova import (
    META_ID,
    TAG,
    NovaCompute,
    group_name,
    management_port_name,
    server_name,
)
from lbaas.drivers.amphora.fleet import Fleet
from lbaas.drivers.amphora.housekeeping import Housekeeper
from lbaas.drivers.amphora.vrrp.pair import AMP_PORT_OWNER, vip_port_name
from lbaas.network.neutron import NeutronNetwork
from testbed.cloud.keystone import REGION, service_auth_section

pytestmark = pytest.mark.functional

IMAGE_TAG = "lbaas-amphora-test"
MGMT_CIDR = "10.246.0.0/24"


@pytest.fixture(scope="module")
def cloud(nova_cloud):
    """lbaas's view of the cloud: a management and a VIP network, a tagged image, a flavor."""
    sdk = nova_cloud.connection("lbaas", "service")
    mgmt = sdk.network.create_network(name="nb-mgmt")
    sdk.network.create_subnet(network_id=mgmt.id, ip_version=4, cidr=MGMT_CIDR,
                              enable_dhcp=False)
    vip = sdk.network.create_network(name="nb-vip")
    vip_subnet = sdk.network.create_subnet(network_id=vip.id, ip_version=4,
                                           cidr="10.246.1.0/24", enable_dhcp=False)
    image = sdk.image.create_image(name="nb-amphora", data=b"\0" * 4096, disk_format="raw",
                                   container_format="bare", tags=[IMAGE_TAG], wait=True)
    flavor = sdk.compute.create_flavor(name=f"nb-amp-{uuid.uuid4().hex[:6]}", ram=256,
                                       vcpus=1, disk=1)
    # more disk than a fake hypervisor has (600000 GB), and disk has no quota
    huge = sdk.compute.create_flavor(name=f"nb-huge-{uuid.uuid4().hex[:6]}", ram=256,
                                     vcpus=1, disk=1_000_000)
    yield type("Cloud", (), {"nova": nova_cloud, "sdk": sdk, "mgmt": mgmt, "vip": vip,
                             "vip_subnet": vip_subnet, "image": image, "flavor": flavor,
                             "huge": huge})


def _conf(cloud, tmp_path, **worker):
    """lbaas's configuration of the nova backend on this cloud ([controller_worker] extras)."""
    auth_url = cloud.nova.keystone.auth_url
    options = {"amp_image_tag": IMAGE_TAG, "amp_flavor_id": cloud.flavor.id,
               "amp_boot_network_list": cloud.mgmt.id, "amp_active_retries": 60,
               "amp_active_wait_sec": 1, "user_data_config_drive": "true", **worker}
    path = tmp_path / f"lbaas-{uuid.uuid4().hex[:6]}.conf"
    path.write_text("[amphora_compute]\ndriver = nova\n" + service_auth_section(auth_url)
                    + textwrap.dedent(f"""
        [neutron]
        region_name = {REGION}

        [controller_worker]
        """) + "".join(f"{k} = {v}\n" for k, v in options.items()))
    return lbaas_conf.make_conf(config_files=[str(path)])


@pytest.fixture
def backend(cloud, tmp_path):
    return NovaCompute(conf=_conf(cloud, tmp_path))


def _boot(lb_id=None, **kwargs):
    return Boot(agent_port=9443, controllers=("192.0.2.1:5555",), heartbeat_interval=10.0,
                loadbalancer_id=lb_id, **kwargs)


def _files(ca, amphora_id, ip):
    cert, key = ca.issue_server(amphora_id, [ip])
    return {"ca.pem": ca.ca_pem, "server.pem": cert + key, "heartbeat.key": b"hb-key"}


def _leftovers(cloud, amphora_id):
    """(servers, ports) lbaas made for the amphora that still exist."""
    servers = [s for s in cloud.sdk.compute.servers(name=f"^{server_name(amphora_id)}$")]
    ports = list(cloud.sdk.network.ports(name=management_port_name(amphora_id)))
    return servers, ports


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return certs.CertificateAuthority.load_or_create(str(tmp_path_factory.mktemp("ca")))


def test_an_amphora_boots_as_a_server_with_its_boot_document(cloud, backend, ca):
    amphora_id = str(uuid.uuid4())
    first = backend.create(amphora_id, boot=_boot())
    assert first.management_ip.startswith("10.246.0.")
    assert not backend.exists(amphora_id)   # the port only: the certificate needs its IP
    started = time.monotonic()
    instance = backend.create(amphora_id, files=_files(ca, amphora_id, first.management_ip),
                              boot=_boot())
    took = time.monotonic() - started
    try:
        assert instance.management_ip == first.management_ip
        server = cloud.sdk.compute.get_server(
            next(cloud.sdk.compute.servers(name=f"^{server_name(amphora_id)}$")).id)
        assert server.status == "ACTIVE", took
        assert server.metadata == {META_ID: amphora_id}   # nothing secret in metadata
        assert TAG in server.tags and server.image.id == cloud.image.id
        assert server.flavor.original_name == cloud.flavor.name
        doc = bootdata.decode(base64.b64decode(server.user_data))
        assert (doc.amphora_id, doc.port, doc.controllers) == (
            amphora_id, 9443, ("192.0.2.1:5555",))
        cert = x509.load_pem_x509_certificate(doc.files["server.pem"])
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == [
            first.management_ip]
        assert doc.files["heartbeat.key"] == b"hb-key"
        [port] = cloud.sdk.network.ports(name=management_port_name(amphora_id))
        assert port.device_id == server.id
        assert backend.get(amphora_id).management_ip == first.management_ip
        assert amphora_id in {i.amphora_id for i in backend.list()}
        assert backend.create(amphora_id, files={}, boot=_boot()).management_ip == \
            first.management_ip   # idempotent: an ACTIVE server is not booted again
    finally:
        backend.delete(amphora_id)
    assert _leftovers(cloud, amphora_id) == ([], [])
    assert not backend.exists(amphora_id)
    backend.delete(amphora_id)   # harmless when gone


def test_a_network_port_is_attached_and_detached(cloud, backend, ca):
    amphora_id = str(uuid.uuid4())
    ip = backend.create(amphora_id, boot=_boot()).management_ip
    backend.create(amphora_id, files=_files(ca, amphora_id, ip), boot=_boot())
    try:
        # as the reconciler's network backend makes it: device_id the amphora id
        port = cloud.sdk.network.create_port(
            network_id=cloud.vip.id, name=f"lbaas-amphora-vrrp-{amphora_id}",
            device_id=amphora_id, device_owner="lbaas:amphora",
            fixed_ips=[{"subnet_id": cloud.vip_subnet.id}])
        iface = backend.plug(amphora_id, Network(cloud.vip.id, port_id=port.id,
                                                 mac=port.mac_address))
        assert (iface.port_id, iface.mac) == (port.id, port.mac_address)
        server_id = next(cloud.sdk.compute.servers(name=f"^{server_name(amphora_id)}$")).id
        assert cloud.sdk.network.get_port(port.id).device_id == server_id
        assert port.id in {i.port_id for i in backend.get(amphora_id).interfaces}
        backend.unplug(amphora_id, iface.name)
        deadline = time.monotonic() + 30
        while port.id in {i.port_id for i in backend.get(amphora_id).interfaces}:
            assert time.monotonic() < deadline, "the port stayed attached"
            time.sleep(0.5)
        backend.plug(amphora_id, Network(cloud.vip.id, port_id=port.id, mac=port.mac_address))
    finally:
        backend.delete(amphora_id)
    assert cloud.sdk.network.find_port(port.id) is None   # the server's ports go with it


def test_a_pair_shares_a_server_group_deleted_with_the_load_balancer(cloud, tmp_path, ca):
    """Strict anti-affinity where the cloud has two hypervisors (then the pair is on two
    hosts), else the soft policy (one host takes both)."""
    strict = len(cloud.nova.hosts) >= 2
    policy = "anti-affinity" if strict else "soft-anti-affinity"
    backend = NovaCompute(conf=_conf(cloud, tmp_path))
    backend.conf.set_override("anti_affinity_policy", policy, group="nova")
    lb_id = str(uuid.uuid4())
    pair = [str(uuid.uuid4()) for _ in range(2)]
    try:
        for amphora_id in pair:
            boot = _boot(lb_id, anti_affinity=True)
            ip = backend.create(amphora_id, boot=boot).management_ip
            backend.create(amphora_id, files=_files(ca, amphora_id, ip), boot=boot)
        [group] = [g for g in cloud.sdk.compute.server_groups()
                   if g.name == group_name(lb_id)]
        assert group.policy == policy
        servers = [s for s in cloud.sdk.compute.servers(tags=TAG)
                   if (s.metadata or {}).get(META_ID) in pair]
        assert set(cloud.sdk.compute.get_server_group(group.id).member_ids) == {
            s.id for s in servers}
        if strict:
            assert len({s.compute_host for s in servers}) == 2
    finally:
        for amphora_id in pair:
            backend.delete(amphora_id)
        backend.delete_group(lb_id)
    assert not [g for g in cloud.sdk.compute.server_groups() if g.name == group_name(lb_id)]


def _refused(cloud, backend, ca, boot=None):
    """The BootError of a boot that fails; asserts nothing of it is left."""
    amphora_id = str(uuid.uuid4())
    boot = boot or _boot()
    ip = backend.create(amphora_id, boot=boot).management_ip
    with pytest.raises(nova_errors.BootError) as caught:
        backend.create(amphora_id, files=_files(ca, amphora_id, ip), boot=boot)
    assert _leftovers(cloud, amphora_id) == ([], []), caught.value.operator_message
    return caught.value


def test_a_missing_image_is_refused_and_nothing_is_left(cloud, tmp_path, ca):
    backend = NovaCompute(conf=_conf(cloud, tmp_path, amp_image_id=str(uuid.uuid4())))
    error = _refused(cloud, backend, ca)
    assert error.user_message == nova_errors.IMAGE_MISSING, error.operator_message


def test_no_image_with_the_tag_is_refused(cloud, tmp_path, ca):
    backend = NovaCompute(conf=_conf(cloud, tmp_path, amp_image_tag="no-such-tag"))
    assert _refused(cloud, backend, ca).user_message == nova_errors.IMAGE_MISSING


def test_a_missing_flavor_is_refused_and_nothing_is_left(cloud, tmp_path, ca):
    backend = NovaCompute(conf=_conf(cloud, tmp_path, amp_flavor_id=str(uuid.uuid4())))
    error = _refused(cloud, backend, ca)
    assert error.user_message == nova_errors.FLAVOR_MISSING, error.operator_message


def test_an_exhausted_quota_is_refused_and_nothing_is_left(cloud, tmp_path, ca):
    admin = cloud.nova.connection("cloud-admin")
    project = cloud.nova.project_id("service")
    admin.compute.update_quota_set(project, instances=0)
    try:
        error = _refused(cloud, NovaCompute(conf=_conf(cloud, tmp_path)), ca)
    finally:
        admin.compute.revert_quota_set(project)
    assert error.user_message == nova_errors.QUOTA, error.operator_message


def test_no_valid_host_is_reported_and_nothing_is_left(cloud, tmp_path, ca):
    backend = NovaCompute(conf=_conf(cloud, tmp_path, amp_flavor_id=cloud.huge.id))
    error = _refused(cloud, backend, ca)
    assert error.user_message == nova_errors.NO_HOST, error.operator_message
    assert "No valid host" in error.operator_message


def test_a_boot_slower_than_the_retries_allow_times_out(cloud, tmp_path, ca):
    backend = NovaCompute(conf=_conf(cloud, tmp_path, amp_active_retries=1,
                                     amp_active_wait_sec=0))
    error = _refused(cloud, backend, ca)
    assert error.user_message == nova_errors.TIMEOUT, error.operator_message


def _core(cloud, tmp_path, **overrides):
    """A Core on a fresh SQLite database with the nova backend's configuration."""
    conf = _conf(cloud, tmp_path)
    conf.set_override("connection", f"sqlite:///{tmp_path}/lbaas.sqlite", group="database")
    conf.set_override("state_path", str(tmp_path))
    for key, value in overrides.items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
    migrate.upgrade(conf.database.connection)
    return Core(conf)


def test_housekeeping_removes_servers_no_amphora_row_owns(cloud, tmp_path, ca):
    core = _core(cloud, tmp_path, **{"house_keeping.orphan_grace_period": 0})
    conf = core.conf
    try:
        backend = NovaCompute(conf=conf)
        orphan = str(uuid.uuid4())
        ip = backend.create(orphan, boot=_boot()).management_ip
        backend.create(orphan, files=_files(ca, orphan, ip), boot=_boot())
        keeper = Housekeeper(core.context, backend, None)
        assert orphan in keeper.remove_orphans()
        assert _leftovers(cloud, orphan) == ([], [])
    finally:
        core.close()


def test_the_fleet_marks_an_amphora_whose_agent_never_answers_error(cloud, tmp_path):
    """Nova's fake virt driver runs no image: the fleet boots the server, waits for its
    agent (1 s here), then removes server and ports and marks the amphora ERROR."""
    core = _core(cloud, tmp_path, **{"controller_worker.agent_timeout": 1.0,
                                     "controller_worker.amphora_driver":
                                         "amphora_haproxy_rest_driver"})
    try:
        fleet = Fleet(core.context, NovaCompute(conf=core.conf), controller="192.0.2.1:5555")
        amphora = fleet.new_row(None)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            fleet.boot(amphora)
        assert time.monotonic() - started < 120
        with core.db.read() as session:
            assert session.get(models.Amphora, amphora.id).status == "ERROR"
        assert _leftovers(cloud, amphora.id) == ([], [])
    finally:
        core.close()


def _ingress(sdk, group_id):
    return {(r.protocol, r.port_range_min, r.remote_ip_prefix)
            for r in sdk.network.security_group_rules(security_group_id=group_id)
            if r.direction == "ingress"}


def test_the_load_balancers_group_reaches_a_nova_amphoras_vip_port(cloud, backend, ca,
                                                                     tmp_path):
    """The reconciler's steps on the real backends (Nova's fake virt driver runs no agent, so
    the reconciler itself cannot get this far): the neutron network backend makes the VIP
    and the amphora's VIP-subnet port, the nova backend attaches that port (Nova rewrites
    its device_id and owner), then the security group sync must still find it: the load
    balancer's group is on it, and follows a listener change. Before, the sync looked the
    port up by device_id and the group never reached it."""
    network = NeutronNetwork(_conf(cloud, tmp_path))
    lb_id, amphora_id = str(uuid.uuid4()), str(uuid.uuid4())
    vip = network.allocate_vip(lb_id, cloud.vip.id, cloud.vip_subnet.id)
    ip = backend.create(amphora_id, boot=_boot(lb_id)).management_ip
    backend.create(amphora_id, files=_files(ca, amphora_id, ip), boot=_boot(lb_id))
    try:
        port = network.allocate_port(amphora_id, cloud.vip_subnet.id, AMP_PORT_OWNER,
                                     name=vip_port_name(amphora_id), allowed=[vip.address])
        backend.plug(amphora_id, Network(cloud.vip.id, port_id=port["id"],
                                         mac=port["mac_address"]))
        server_id = next(cloud.sdk.compute.servers(name=f"^{server_name(amphora_id)}$")).id
        assert cloud.sdk.network.get_port(port["id"]).device_id == server_id   # Nova's now
        state = {"id": lb_id, "vip_sg_ids": [], "vip_addresses": [vip.address],
                 "topology": "SINGLE", "peer_port": None, "amphorae": [amphora_id],
                 "listeners": [{"protocol": "TCP", "protocol_port": 80, "allowed_cidrs": []}]}
        network.sync_security_group(state)
        (group,) = cloud.sdk.network.security_groups(name=f"lb-{lb_id}")
        for each in (port["id"], vip.port_id):
            assert cloud.sdk.network.get_port(each).security_group_ids == [group.id]
        assert _ingress(cloud.sdk, group.id) == {("tcp", 80, None)}
        # a listener change: the same group, its rules changed, still on the amphora's port
        state["listeners"] = [{"protocol": "UDP", "protocol_port": 53,
                               "allowed_cidrs": ["192.0.2.0/24"]}]
        network.sync_security_group(state)
        assert _ingress(cloud.sdk, group.id) == {("udp", 53, "192.0.2.0/24")}
        assert cloud.sdk.network.get_port(port["id"]).security_group_ids == [group.id]
        # the user's own groups replace ours on it too
        theirs = cloud.sdk.network.create_security_group(name=f"nb-user-{lb_id[:8]}")
        state["vip_sg_ids"] = [theirs.id]
        network.sync_security_group(state)
        assert cloud.sdk.network.get_port(port["id"]).security_group_ids == [theirs.id]
        assert list(cloud.sdk.network.security_groups(name=f"lb-{lb_id}")) == []
    finally:
        backend.delete(amphora_id)   # the server and the ports Nova holds for it
        network.deallocate_vip(lb_id, vip)
    assert cloud.sdk.network.find_port(port["id"]) is None
    cloud.sdk.network.delete_security_group(theirs)
