"""The noop network backend behaves as upstream Octavia's noop network driver.

Clients and upstream's API tests send random UUIDs as networks and subnets and expect
them to work: any network has a subnet, a subnet named with a network is on it, and
subnets have no CIDR, so any IPv4 or IPv6 address is an address on them.
"""
import ipaddress
import uuid

from lbaas.network import noop


def _new():
    return noop.NoopNetwork(conf=None)


def test_any_uuid_is_a_network_with_a_subnet():
    backend, network_id = _new(), str(uuid.uuid4())
    [subnet_id] = backend.get_network(network_id)["subnets"]
    assert subnet_id == noop.default_subnet_id(network_id)
    assert backend.get_subnet(subnet_id)["network_id"] == network_id


def test_a_subnet_named_with_a_network_is_on_it_from_then_on():
    backend, network_id, subnet_id = _new(), str(uuid.uuid4()), str(uuid.uuid4())
    assert backend.subnet_on_network(subnet_id, network_id)["network_id"] == network_id
    assert backend.get_subnet(subnet_id)["network_id"] == network_id


def test_random_subnets_have_no_cidr():
    subnet = _new().get_subnet(str(uuid.uuid4()))
    assert (subnet["cidr"], subnet["ip_version"]) == (None, None)


def test_public_subnet_is_on_the_public_network_only():
    backend = _new()
    assert backend.subnet_on_network(noop.PUBLIC_SUBNET_ID, str(uuid.uuid4())) is None
    assert backend.subnet_on_network(noop.PUBLIC_SUBNET_ID, noop.PUBLIC_NETWORK_ID)
    assert backend.subnet_on_network(str(uuid.uuid4()), noop.PUBLIC_NETWORK_ID) is None


def test_non_uuids_are_nothing():
    backend = _new()
    assert backend.get_network("x") is None and backend.get_subnet("x") is None
    assert backend.subnet_on_network("x", str(uuid.uuid4())) is None


def test_vips_of_subnets_without_cidr_come_from_test_net_2():
    """One pool for all of them: load balancers on different subnets differ too."""
    backend = _new()
    addresses = {backend.allocate_vip(str(uuid.uuid4()), "n", str(uuid.uuid4())).address
                 for _ in range(5)}
    assert len(addresses) == 5
    assert all(ipaddress.ip_address(a) in noop.UNNUMBERED_POOL for a in addresses)


def test_bindings_are_bounded(monkeypatch):
    """An attacker naming fresh subnets forever cannot grow the backend's memory."""
    monkeypatch.setattr(noop, "MAX_BINDINGS", 10)
    backend, network_id = _new(), str(uuid.uuid4())
    first = str(uuid.uuid4())
    backend.subnet_on_network(first, network_id)
    for _ in range(20):
        backend.subnet_on_network(str(uuid.uuid4()), network_id)
    assert len(backend._bound) == 10
    assert backend.get_subnet(first)["network_id"] != network_id   # forgotten, oldest first
