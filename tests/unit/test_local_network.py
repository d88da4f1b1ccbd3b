"""The local network backend: configured subnets, ports in the database, on SQLite and PostgreSQL."""
import concurrent.futures
import threading
import uuid

import pytest
from sqlalchemy import delete, select

from lbaas.core import db as core_db
from lbaas.core import errors, network
from lbaas.network import local
from tests.conftest import BACKENDS, database_url, make_conf

PUBLIC = "name=public cidr=10.9.0.0/24 bridge=lbaas-pub gateway=10.9.0.1"
TINY = ("name=tiny network=public cidr=10.8.0.0/29 bridge=lbaas-tiny allocation_start=10.8.0.2 "
        "allocation_end=10.8.0.4")
V6 = "name=v6 cidr=fd00:9::/64 bridge=lbaas-v6"


def conf_with(*subnets, url="sqlite://"):
    conf = make_conf(url)
    conf.set_override("subnet", list(subnets), group="network_local")
    return conf


@pytest.fixture(scope="module", params=BACKENDS)
def database(request):
    """A migrated database of each backend, shared by the module's tests."""
    database = core_db.Database(database_url(request.param, request, "local_network"))
    yield database
    database.dispose()


@pytest.fixture
def net(database):
    """A local backend over public (10.9.0.0/24), tiny (3 addresses) and v6, with no ports."""
    backend = local.LocalNetwork(conf_with(PUBLIC, TINY, V6), database)
    yield backend
    with database.write() as session:
        session.execute(delete(local._PORTS))


def sid(name):
    return local.subnet_uuid(name)


# -- parsing ------------------------------------------------------------------------------

def test_defaults_come_from_the_cidr():
    subnet = local.parse_subnet("name=s cidr=10.1.2.0/24 bridge=br-s")
    assert (subnet.network, str(subnet.gateway), str(subnet.host_ip), str(subnet.start),
            str(subnet.end)) == ("s", "10.1.2.1", "10.1.2.1", "10.1.2.2", "10.1.2.254")


def test_host_ip_defaults_to_the_gateway():
    subnet = local.parse_subnet("name=s cidr=10.1.2.0/24 bridge=br-s gateway=10.1.2.254")
    assert (str(subnet.host_ip), str(subnet.start), str(subnet.end)) == \
        ("10.1.2.254", "10.1.2.1", "10.1.2.253")


def test_explicit_allocation_range_is_kept():
    subnet = local.parse_subnet(TINY)
    assert (str(subnet.start), str(subnet.end)) == ("10.8.0.2", "10.8.0.4")


def test_ipv6_subnet_defaults():
    subnet = local.parse_subnet(V6)
    assert (str(subnet.gateway), str(subnet.start), subnet.as_dict()["ip_version"]) == \
        ("fd00:9::1", "fd00:9::2", 6)


def test_ids_are_derived_from_names():
    first = local.LocalNetwork(conf_with(PUBLIC))
    again = local.LocalNetwork(conf_with(PUBLIC))
    assert first.list_subnets({}) == again.list_subnets({})
    assert first.list_subnets({})[0]["id"] == str(uuid.uuid5(local._NS, "subnet:public"))


def test_subnets_sharing_a_network_name_form_one_network():
    backend = local.LocalNetwork(conf_with(PUBLIC, TINY, V6))
    public = backend.get_network(local.network_uuid("public"))
    assert public["subnets"] == [sid("public"), sid("tiny")]
    assert len(backend.list_networks({})) == 2


@pytest.mark.parametrize("value", [
    "name=s cidr=10.0.0.0/24",                                   # no bridge
    "name=s cidr=10.0.0.5/24 bridge=b",                          # host bits set
    "name=s cidr=nonsense bridge=b",
    "name=s cidr=10.0.0.0/24 bridge=much-too-long-bridge-name",
    "name=s cidr=10.0.0.0/24 bridge=b colour=red",               # unknown key
    "name=s cidr=10.0.0.0/24 bridge=b bridge=c",                 # key twice
    "name=s cidr=10.0.0.0/24 bridge=b gateway",                  # not key=value
    "name=s cidr=10.0.0.0/24 bridge=b gateway=10.0.1.1",         # outside the cidr
    "name=s cidr=10.0.0.0/24 bridge=b gateway=10.0.0.255",       # broadcast
    "name=s cidr=10.0.0.0/24 bridge=b host_ip=banana",
    "name=s cidr=10.0.0.0/24 bridge=b allocation_start=10.0.0.9 allocation_end=10.0.0.8",
    "name=s cidr=10.0.0.0/24 bridge=b allocation_start=10.0.0.1 allocation_end=10.0.0.1",
])
def test_malformed_subnet_is_a_start_up_error_naming_the_value(value):
    with pytest.raises(ValueError) as caught:
        local.LocalNetwork(conf_with(value))
    assert repr(value) in str(caught.value)


def test_duplicate_subnet_names_are_refused():
    with pytest.raises(ValueError, match="already called 'public'"):
        local.LocalNetwork(conf_with(PUBLIC, PUBLIC.replace("10.9.", "10.7.")))


def test_backend_loads_by_entry_point_name():
    conf = conf_with(PUBLIC)
    conf.set_override("driver", "local", group="network")
    assert isinstance(network.load(conf), local.LocalNetwork)


# -- lookups ------------------------------------------------------------------------------

def test_subnet_shows_neutron_fields():
    subnet = local.LocalNetwork(conf_with(TINY)).get_subnet(sid("tiny"))
    assert {k: subnet[k] for k in ("name", "cidr", "gateway_ip", "ip_version", "network_id",
                                   "allocation_pools")} == {
        "name": "tiny", "cidr": "10.8.0.0/29", "gateway_ip": "10.8.0.1", "ip_version": 4,
        "network_id": local.network_uuid("public"),
        "allocation_pools": [{"start": "10.8.0.2", "end": "10.8.0.4"}]}


def test_unknown_ids_are_none():
    backend = local.LocalNetwork(conf_with(PUBLIC))
    unknown = str(uuid.uuid4())
    assert (backend.get_network(unknown), backend.get_subnet(unknown),
            backend.get_port(unknown), backend.plumbing(unknown)) == (None, None, None, None)


def test_subnets_filter_by_name():
    backend = local.LocalNetwork(conf_with(PUBLIC, TINY, V6))
    assert [s["id"] for s in backend.list_subnets({"name": ["tiny", "v6"]})] == \
        [sid("tiny"), sid("v6")]


def test_filters_combine_and_ignore_unknown_fields():
    backend = local.LocalNetwork(conf_with(PUBLIC, TINY, V6))
    found = backend.list_subnets({"network_id": [local.network_uuid("public")],
                                  "ip_version": ["4"], "colour": ["red"]})
    assert [s["name"] for s in found] == ["public", "tiny"]


def test_networks_filter_by_name_and_boolean():
    backend = local.LocalNetwork(conf_with(PUBLIC, V6))
    assert [n["name"] for n in backend.list_networks({"name": ["v6"],
                                                      "admin_state_up": ["true"]})] == ["v6"]


def test_plumbing_describes_the_bridge():
    backend = local.LocalNetwork(conf_with(PUBLIC.replace("gateway=10.9.0.1",
                                                          "gateway=10.9.0.1 host_ip=10.9.0.2")))
    assert backend.plumbing(sid("public")) == network.Plumbing(
        subnet_id=sid("public"), network_id=local.network_uuid("public"), bridge="lbaas-pub",
        cidr="10.9.0.0/24", gateway="10.9.0.1", host_ip="10.9.0.2", mtu=1500)


# -- VIP allocation -----------------------------------------------------------------------

def test_vips_are_handed_out_in_order_skipping_the_gateway(net):
    got = [net.allocate_vip(str(uuid.uuid4()), None, sid("public")).address for _ in range(3)]
    assert got == ["10.9.0.2", "10.9.0.3", "10.9.0.4"]


def test_allocation_skips_a_distinct_host_ip(database):
    backend = local.LocalNetwork(conf_with(
        "name=h cidr=10.6.0.0/24 bridge=b host_ip=10.6.0.2"), database)
    try:
        assert backend.allocate_vip("lb-h", None, sid("h")).address == "10.6.0.3"
    finally:
        backend.deallocate_vip("lb-h", None)


def test_vip_is_a_port_of_the_load_balancer(net):
    vip = net.allocate_vip("lb-1", None, sid("public"))
    port = net.get_port(vip.port_id)
    assert (port["device_id"], port["device_owner"], port["name"], port["status"],
            port["network_id"], port["fixed_ips"]) == (
        "lb-1", "lbaas:vip", "lbaas-vip-lb-1", "ACTIVE", local.network_uuid("public"),
        [{"subnet_id": sid("public"), "ip_address": vip.address}])


def test_vip_returns_network_and_subnet(net):
    vip = net.allocate_vip("lb-1", local.network_uuid("public"), sid("tiny"))
    assert (vip.network_id, vip.subnet_id) == (local.network_uuid("public"), sid("tiny"))


def test_network_only_takes_its_first_subnet(net):
    vip = net.allocate_vip("lb-1", local.network_uuid("public"), None)
    assert (vip.subnet_id, vip.address) == (sid("public"), "10.9.0.2")


def test_network_only_moves_on_when_the_first_subnet_is_full(database):
    backend = local.LocalNetwork(conf_with(TINY, PUBLIC), database)
    try:
        got = [backend.allocate_vip(f"lb-{i}", local.network_uuid("public"), None)
               for i in range(4)]
        assert [(v.subnet_id, v.address) for v in got][-2:] == \
            [(sid("tiny"), "10.8.0.4"), (sid("public"), "10.9.0.2")]
    finally:
        for i in range(4):
            backend.deallocate_vip(f"lb-{i}", None)


def test_ipv6_vip(net):
    assert net.allocate_vip("lb-6", None, sid("v6")).address == "fd00:9::2"


def test_requested_address_is_used(net):
    assert net.allocate_vip("lb-1", None, sid("public"), "10.9.0.77").address == "10.9.0.77"


def test_requested_ipv6_address_is_normalised(net):
    assert net.allocate_vip("lb-1", None, sid("v6"), "FD00:9:0::0:50").address == "fd00:9::50"


def test_next_free_skips_a_requested_address(net):
    net.allocate_vip("lb-1", None, sid("public"), "10.9.0.2")
    assert net.allocate_vip("lb-2", None, sid("public")).address == "10.9.0.3"


@pytest.mark.parametrize("address, code", [
    ("10.10.0.5", 400),      # outside the cidr
    ("10.9.0.0", 400),       # the network address
    ("10.9.0.255", 400),     # broadcast
    ("10.9.0.1", 409),       # the gateway
    ("not-an-ip", 400),
])
def test_unusable_requested_address_is_refused(net, address, code):
    with pytest.raises(errors.APIError) as caught:
        net.allocate_vip("lb-1", None, sid("public"), address)
    assert caught.value.code == code


def test_taken_address_is_a_vip_conflict(net):
    net.allocate_vip("lb-1", None, sid("public"), "10.9.0.50")
    with pytest.raises(errors.VIPAddressConflict):
        net.allocate_vip("lb-2", None, sid("public"), "10.9.0.50")


def test_unknown_subnet_is_an_invalid_subresource(net):
    with pytest.raises(errors.InvalidSubresource):
        net.allocate_vip("lb-1", None, str(uuid.uuid4()))


def test_subnet_of_another_network_is_refused(net):
    with pytest.raises(errors.InvalidSubresource):
        net.allocate_vip("lb-1", local.network_uuid("v6"), sid("public"))


def test_exhausted_subnet_is_a_clear_400(net):
    for i in range(3):
        net.allocate_vip(f"lb-{i}", None, sid("tiny"))
    with pytest.raises(local.NoFreeAddress) as caught:
        net.allocate_vip("lb-3", None, sid("tiny"))
    assert (caught.value.code, caught.value.message) == (
        400, f"Validation failure: Subnet {sid('tiny')} has no available IP addresses.")


def test_deallocation_frees_the_address(net):
    vip = net.allocate_vip("lb-1", None, sid("public"))
    net.deallocate_vip("lb-1", vip)
    assert (net.get_port(vip.port_id), net.allocate_vip("lb-2", None, sid("public")).address) \
        == (None, vip.address)


def test_deallocating_twice_is_harmless(net):
    vip = net.allocate_vip("lb-1", None, sid("public"))
    net.deallocate_vip("lb-1", vip)
    net.deallocate_vip("lb-1", vip)
    assert net.list_ports({}) == []


def test_deallocation_releases_additional_vips(net):
    net.allocate_vip("lb-1", None, sid("public"))
    net.allocate_vip("lb-1", None, sid("v6"))
    net.deallocate_vip("lb-1", None)
    assert net.list_ports({"device_id": ["lb-1"]}) == []


def test_allocation_joins_the_callers_write_transaction(net, database):
    with pytest.raises(RuntimeError, match="rolled back"):
        with database.write() as session:
            session.execute(select(1))
            vip = net.allocate_vip("lb-1", None, sid("public"))
            assert session.connection().scalar(select(local._PORTS.c.ip_address)) == \
                vip.address
            raise RuntimeError("rolled back")
    assert net.list_ports({}) == []


def test_allocation_commits_with_the_callers_transaction(net, database):
    with database.write() as session:
        session.execute(select(1))
        vip = net.allocate_vip("lb-1", None, sid("public"))
    assert net.get_port(vip.port_id)["fixed_ips"][0]["ip_address"] == vip.address


def test_allocation_in_a_write_unit_that_has_not_started(net, database):
    with database.write():
        vip = net.allocate_vip("lb-1", None, sid("public"))
    assert net.get_port(vip.port_id) is not None


# -- ports --------------------------------------------------------------------------------

def test_allocate_port_is_idempotent(net):
    first = net.allocate_port("amp-1", sid("public"), "lbaas:amphora", name="amp-1-public")
    again = net.allocate_port("amp-1", sid("public"), "lbaas:amphora")
    assert (again, len(net.list_ports({}))) == (first, 1)


def test_allocate_port_with_address(net):
    port = net.allocate_port("amp-1", sid("public"), "lbaas:amphora", address="10.9.0.9")
    assert (port["fixed_ips"][0]["ip_address"], port["mac_address"][:9]) == \
        ("10.9.0.9", "fa:16:3e:")


def test_ports_of_one_device_on_two_subnets_differ(net):
    one = net.allocate_port("amp-1", sid("public"), "lbaas:amphora")
    two = net.allocate_port("amp-1", sid("tiny"), "lbaas:amphora")
    assert one["id"] != two["id"]


def test_release_ports_drops_the_devices_ports_only(net):
    net.allocate_port("amp-1", sid("public"), "lbaas:amphora")
    net.allocate_port("amp-1", sid("tiny"), "lbaas:amphora")
    keep = net.allocate_port("amp-2", sid("public"), "lbaas:amphora")
    net.release_ports("amp-1")
    net.release_ports("amp-1")
    assert [p["id"] for p in net.list_ports({})] == [keep["id"]]


def test_release_ports_leaves_vip_ports(net):
    vip = net.allocate_vip("lb-1", None, sid("public"))
    net.release_ports("lb-1")
    assert net.get_port(vip.port_id) is not None


def test_ports_filter_by_device_owner_and_fixed_ip(net):
    vip = net.allocate_vip("lb-1", None, sid("public"))
    net.allocate_port("amp-1", sid("public"), "lbaas:amphora")
    found = net.list_ports({"device_owner": ["lbaas:vip"],
                            "fixed_ips": [f"ip_address={vip.address}"]})
    assert [p["id"] for p in found] == [vip.port_id]


def test_ports_filter_by_name(net):
    vip = net.allocate_vip("lb-1", None, sid("public"))
    assert [p["id"] for p in net.list_ports({"name": ["lbaas-vip-lb-1"]})] == [vip.port_id]


def test_ports_filter_on_unknown_fixed_ip_key_matches_nothing(net):
    net.allocate_vip("lb-1", None, sid("public"))
    assert net.list_ports({"fixed_ips": ["colour=red"]}) == []


# -- concurrency (SQLite serialises the writers; PostgreSQL really races them) -------------

def test_concurrent_allocations_never_share_an_address(net, database):
    backends = [local.LocalNetwork(conf_with(PUBLIC, TINY, V6), database) for _ in range(8)]
    start = threading.Barrier(8)

    def allocate(i):
        start.wait()
        return [backends[i].allocate_vip(f"lb-{i}-{n}", None, sid("public")).address
                for n in range(10)]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = [a for chunk in pool.map(allocate, range(8)) for a in chunk]
    assert sorted(got, key=lambda a: int(a.rsplit(".", 1)[1])) == \
        [f"10.9.0.{i}" for i in range(2, 82)]


def test_concurrent_requests_for_one_address_give_one_winner(net, database):
    start = threading.Barrier(8)

    def allocate(i):
        start.wait()
        try:
            return net.allocate_vip(f"lb-{i}", None, sid("public"), "10.9.0.99").port_id
        except errors.VIPAddressConflict:
            return None

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        got = list(pool.map(allocate, range(8)))
    assert len([p for p in got if p]) == 1


# -- OVN keys (the OVN provider's datapaths) ------------------------------------------------

OVN_ONLY = "name=ovn-s cidr=10.5.0.0/24 ovn_switch=ls-a ovn_router=lr-a"


def test_a_subnet_names_its_ovn_switch_and_router():
    backend = local.LocalNetwork(conf_with(OVN_ONLY))
    assert backend.ovn_datapaths(sid("ovn-s")) == ("ls-a", "lr-a")


def test_an_ovn_switch_without_router_has_none_for_the_router():
    backend = local.LocalNetwork(conf_with("name=o cidr=10.5.1.0/24 bridge=b ovn_switch=ls-b"))
    assert backend.ovn_datapaths(sid("o")) == ("ls-b", None)


def test_subnets_without_ovn_switch_have_no_datapaths():
    backend = local.LocalNetwork(conf_with(PUBLIC))
    assert backend.ovn_datapaths(sid("public")) is None
    assert backend.ovn_datapaths(str(uuid.uuid4())) is None


def test_a_subnet_without_bridge_cannot_host_amphorae():
    backend = local.LocalNetwork(conf_with(OVN_ONLY))
    assert backend.plumbing(sid("ovn-s")) is None


def test_a_subnet_needs_a_bridge_or_an_ovn_datapath():
    with pytest.raises(ValueError, match="bridge \\(or ovn_switch / ovn_router\\)"):
        local.LocalNetwork(conf_with("name=s cidr=10.0.0.0/24"))


def test_a_vip_subnet_behind_an_ovn_router_names_only_the_router():
    backend = local.LocalNetwork(conf_with("name=v cidr=10.5.2.0/24 ovn_router=lr0"))
    assert backend.ovn_datapaths(sid("v")) == (None, "lr0")


def test_an_ovn_only_subnet_hands_out_ports(database):
    backend = local.LocalNetwork(conf_with(OVN_ONLY), database)
    try:
        port = backend.allocate_port("ovn-lb-hm-x", sid("ovn-s"), "ovn-lb-hm:distributed")
        again = backend.allocate_port("ovn-lb-hm-x", sid("ovn-s"), "ovn-lb-hm:distributed")
        assert port["id"] == again["id"]
        assert port["fixed_ips"][0]["ip_address"] == "10.5.0.2"
    finally:
        backend.release_ports("ovn-lb-hm-x")
