"""The real Nova fixture works: openstacksdk, through Keystone's catalog, gets from Nova 34,
Placement 16 and Glance 33 (fixture `nova_cloud`, testbed/cloud/nova_cloud.py) every
call the `nova` compute backend makes, and Nova's own answers to its failure paths.

As alpha-member (a project member): an image uploaded to Glance (found again by its tag), a
server booted from it on a Neutron network with user data, a config drive, metadata and a
tag, ACTIVE on a fake compute with its port bound there by ML2/OVN, then deleted with its
port; server groups with anti-affinity (a pair booted at once lands on the two hosts; a third
server finds no host) and soft-anti-affinity (three servers on two hosts, all ACTIVE). The
failure paths, as Nova answers them: an image that does not exist (400), a flavor that does not exist (400), the
project's instance quota at 0 (403 with Nova's message), a flavor larger than any host
(the server goes ERROR with the fault "No valid host was found").
"""
import base64
import types
import uuid

import pytest
from openstack import exceptions

from testbed.service import wait_for

pytestmark = pytest.mark.functional

M, A = "alpha-member", "cloud-admin"
TAG = "lbaas-test-amphora"
USER_DATA = "#cloud-config\n# what an amphora would read at boot\n"
WAIT = 120  # seconds for a server to reach ACTIVE or ERROR (about 2 s here)


@pytest.fixture(scope="module")
def world(nova_cloud):
    """A network, an image and a flavor for alpha-member; the servers each test makes are
    deleted by that test."""
    conn = nova_cloud.connection(M)
    admin = nova_cloud.connection(A)
    net = conn.network.create_network(name="nova-fixture-net")
    subnet = conn.network.create_subnet(network_id=net.id, ip_version=4,
                                        cidr="10.241.0.0/24", name="nova-fixture-v4")
    image = conn.image.create_image(name="nova-fixture-image", data=b"\0" * 4096,
                                    disk_format="raw", container_format="bare", tags=[TAG])
    flavor = admin.compute.create_flavor(name=f"nova-fixture-{uuid.uuid4().hex[:6]}",
                                         ram=64, vcpus=1, disk=1, is_public=True)
    yield types.SimpleNamespace(conn=conn, admin=admin, net=net, subnet=subnet, image=image,
                                flavor=flavor)
    admin.compute.delete_flavor(flavor)
    conn.image.delete_image(image)
    conn.network.delete_subnet(subnet)
    conn.network.delete_network(net)


def boot(world, name, conn=None, **extra):
    """A server of the world's image and flavor on its network (not waited for)."""
    conn = conn or world.conn
    return conn.compute.create_server(
        name=name, image_id=extra.pop("image_id", world.image.id),
        flavor_id=extra.pop("flavor_id", world.flavor.id),
        networks=extra.pop("networks", [{"uuid": world.net.id}]), **extra)


def settle(conn, server):
    """The server once ACTIVE or ERROR."""
    def settled():
        found = conn.compute.get_server(server.id)
        return found if found.status in ("ACTIVE", "ERROR") else None
    return wait_for(settled, WAIT, f"server {server.name} ACTIVE or ERROR", 0.3)


def delete(conn, *servers):
    """Delete servers and wait until Nova no longer has them."""
    for server in servers:
        conn.compute.delete_server(server)
    for server in servers:
        conn.compute.wait_for_delete(server, interval=0.3, wait=WAIT)


def test_catalog_names_nova_glance_and_placement(nova_cloud, world):
    assert world.conn.compute.get_endpoint().startswith(nova_cloud.nova.endpoint)
    assert world.conn.image.get_endpoint().startswith(nova_cloud.glance.url)
    assert world.admin.placement.get_endpoint().startswith(nova_cloud.placement.url)


def test_image_is_found_by_its_tag(world):
    found = list(world.conn.image.images(tag=TAG))
    assert [image.id for image in found] == [world.image.id]
    assert found[0].status == "active"


def test_every_host_is_a_resource_provider_and_a_hypervisor(nova_cloud, world):
    providers = {rp.name for rp in world.admin.placement.resource_providers()}
    assert providers >= set(nova_cloud.hosts)
    hypervisors = {h.name for h in world.admin.compute.hypervisors()}
    assert hypervisors >= set(nova_cloud.hosts)


def test_server_boots_active_with_its_port_bound_to_its_host(nova_cloud, world):
    server = boot(world, "nova-fixture-vm", user_data=base64.b64encode(
        USER_DATA.encode()).decode(), config_drive=True, metadata={"lbaas-amphora": "a1"},
        tags=["lbaas"])
    try:
        server = settle(world.conn, server)
        assert server.status == "ACTIVE"
        assert server.metadata == {"lbaas-amphora": "a1"}
        assert server.tags == ["lbaas"]
        (address,) = server.addresses["nova-fixture-net"]
        assert address["addr"].startswith("10.241.0.")
        as_admin = world.admin.compute.get_server(server.id)
        assert as_admin.compute_host in nova_cloud.hosts
        assert base64.b64decode(as_admin.user_data).decode() == USER_DATA
        assert as_admin.has_config_drive in (True, "True")
        (port,) = world.admin.network.ports(device_id=server.id)
        assert port.device_owner.startswith("compute:")
        assert port.binding_host_id == as_admin.compute_host
        assert port.binding_vif_type == "ovs"  # ML2/OVN bound it to the fake chassis
    finally:
        delete(world.conn, server)
    assert list(world.admin.network.ports(device_id=server.id)) == []


def test_anti_affinity_places_a_pair_booted_at_once_on_two_hosts_and_refuses_a_third(
        nova_cloud, world):
    # Booted at once (as an ACTIVE_STANDBY pair is), both may be scheduled to one host; the
    # compute's late check then refuses one ("Anti-affinity instance group policy was
    # violated") and Nova reschedules it to the other host.
    if len(nova_cloud.hosts) != 2:
        pytest.fail("the fixture must run two computes: anti-affinity places a pair there")
    group = world.conn.compute.create_server_group(name="nova-fixture-aa",
                                                   policy="anti-affinity")
    hints = {"group": group.id}
    pair = [boot(world, f"nova-fixture-aa-{i}", scheduler_hints=hints) for i in range(2)]
    servers = list(pair)
    try:
        settled = [settle(world.conn, server) for server in pair]
        assert [s.status for s in settled] == ["ACTIVE", "ACTIVE"]
        hosts = {world.admin.compute.get_server(s.id).compute_host for s in settled}
        assert hosts == set(nova_cloud.hosts)
        servers.append(boot(world, "nova-fixture-aa-2", scheduler_hints=hints))
        third = settle(world.conn, servers[-1])
        assert third.status == "ERROR"
        assert third.fault["code"] == 500
        assert third.fault["message"].startswith("No valid host was found")
    finally:
        delete(world.conn, *servers)
        world.conn.compute.delete_server_group(group)


def test_soft_anti_affinity_places_more_servers_than_hosts(nova_cloud, world):
    group = world.conn.compute.create_server_group(name="nova-fixture-saa",
                                                   policy="soft-anti-affinity")
    count = len(nova_cloud.hosts) + 1
    servers = [boot(world, f"nova-fixture-saa-{i}", scheduler_hints={"group": group.id})
               for i in range(count)]
    try:
        settled = [settle(world.conn, server) for server in servers]
        # a weigher, not a filter: never refuses (where they land depends on the race)
        assert {s.status for s in settled} == {"ACTIVE"}
        assert set(world.conn.compute.get_server_group(group.id).member_ids) == {
            s.id for s in settled}
    finally:
        delete(world.conn, *servers)
        world.conn.compute.delete_server_group(group)


def test_a_missing_image_is_a_400(world):
    missing = str(uuid.uuid4())
    with pytest.raises(exceptions.BadRequestException) as caught:
        boot(world, "nova-fixture-no-image", image_id=missing)
    assert caught.value.status_code == 400
    assert "Can not find requested image" in str(caught.value)


def test_a_missing_flavor_is_a_400(world):
    with pytest.raises(exceptions.BadRequestException) as caught:
        boot(world, "nova-fixture-no-flavor", flavor_id="no-such-flavor")
    assert caught.value.status_code == 400
    assert "Flavor no-such-flavor could not be found" in str(caught.value)


def test_an_exhausted_instance_quota_is_a_403_with_novas_message(nova_cloud, world):
    project = nova_cloud.project_id("alpha")
    world.admin.set_compute_quotas(project, instances=0)
    try:
        with pytest.raises(exceptions.ForbiddenException) as caught:
            boot(world, "nova-fixture-over-quota")
        assert caught.value.status_code == 403
        assert "Quota exceeded for instances" in str(caught.value)
    finally:
        world.admin.delete_compute_quotas(project)
    assert world.admin.get_compute_quotas(project).instances > 0


def test_a_flavor_larger_than_any_host_ends_in_error_no_valid_host(world):
    # more disk than the fake driver's 600000 GB (Nova has no disk quota; more RAM or vCPUs
    # than a host has would exceed the project's default quota first: a 403)
    huge = world.admin.compute.create_flavor(name=f"nova-fixture-huge-{uuid.uuid4().hex[:6]}",
                                             ram=64, vcpus=1, disk=700000, is_public=True)
    try:
        server = boot(world, "nova-fixture-too-big", flavor_id=huge.id)
        try:
            server = settle(world.conn, server)
            assert server.status == "ERROR"
            assert server.fault["code"] == 500
            assert server.fault["message"].startswith("No valid host was found")
        finally:
            delete(world.conn, server)
    finally:
        world.admin.compute.delete_flavor(huge)
