"""Helpers the API tests share: configuration overrides, direct row edits, common bodies."""
import contextlib
import ipaddress

import pytest

from lbaas.core import models, network
from lbaas.network import noop

LBS = "/v2/lbaas/loadbalancers"
LISTENERS = "/v2/lbaas/listeners"


def lb_url(lb_id):
    """The URL of one load balancer."""
    return f"{LBS}/{lb_id}"


def listener_url(listener_id):
    """The URL of one listener."""
    return f"{LISTENERS}/{listener_id}"


def listener_body(lb_id, protocol="HTTP", port=80, **fields):
    """A listener create body."""
    body = {"loadbalancer_id": lb_id, "protocol": protocol, "protocol_port": port}
    body.update(fields)
    return {"listener": body}


def fault(resp):
    """The faultstring of an error response."""
    return resp.get_json()["faultstring"]


@contextlib.contextmanager
def overridden(app, **options):
    """Override configuration options ("group.name"=value) for the duration of a block."""
    conf = app.config["LBAAS_CONF"]
    names = []
    for key, value in options.items():
        group, _, name = key.rpartition(".")
        conf.set_override(name, value, group=group or None)
        names.append((name, group or None))
    try:
        yield conf
    finally:
        for name, group in names:
            conf.clear_override(name, group=group)


def db(app):
    """The database of the app under test."""
    return app.extensions["lbaas_core"].db


def set_status(app, model, object_id, status):
    """Force an object's provisioning status, as a stuck or failed provider would leave it."""
    with db(app).write() as session:
        session.get(model, object_id).provisioning_status = status


def add_pool(client, app, lb, protocol="HTTP"):
    """An ACTIVE pool on a load balancer: through POST /pools, or as a row while that is absent."""
    resp = client.post("/v2/lbaas/pools", {"pool": {
        "loadbalancer_id": lb["id"], "protocol": protocol, "lb_algorithm": "ROUND_ROBIN"}})
    if resp.status_code in (404, 405):
        return insert_pool(app, lb, protocol)
    assert resp.status_code == 201, resp.get_json()
    pool_id = resp.get_json()["pool"]["id"]
    client.wait(lb_url(lb["id"]), "loadbalancer")
    return pool_id


def insert_pool(app, lb, protocol="HTTP"):
    """Add an ACTIVE pool row to a load balancer directly; returns its id."""
    pool_id = models.new_id()
    with db(app).write() as session:
        session.add(models.Pool(
            id=pool_id, loadbalancer_id=lb["id"], project_id=lb["project_id"],
            protocol=protocol, lb_algorithm="ROUND_ROBIN", provisioning_status="ACTIVE",
            operating_status="ONLINE"))
    return pool_id


def report_stats(app, listener_id, **counters):
    """Report a listener's absolute counters as a provider driver does."""
    record = {"id": listener_id, "active_connections": 0, "bytes_in": 0, "bytes_out": 0,
              "request_errors": 0, "total_connections": 0}
    record.update(counters)
    app.extensions["lbaas_core"].library.update_listener_statistics({"listeners": [record]})


def create_listener(client, lb, protocol="HTTP", port=80, **fields):
    """Create a listener and wait until it and its load balancer are ACTIVE."""
    body = listener_body(lb["id"], protocol, port, **fields)["listener"]
    return client.create("listeners", "listener", body, lb["id"])


SHARED_NET = "0f0e0d0c-0000-4000-8000-00000000aaaa"
SHARED_V4 = "0f0e0d0c-0000-4000-8000-0000000004a1"
SHARED_V4B = "0f0e0d0c-0000-4000-8000-0000000004b2"
SHARED_V6 = "0f0e0d0c-0000-4000-8000-0000000006a1"
EMPTY_NET = "0f0e0d0c-0000-4000-8000-00000000eeee"


class SharedNetwork(noop.NoopNetwork):
    """The noop network plus, as a Neutron would hold them, one network with two IPv4
    subnets and one IPv6 subnet (no other subnet is on it) and one network with none."""

    CIDRS = {SHARED_V4: "10.99.0.0/24", SHARED_V4B: "10.98.0.0/24", SHARED_V6: "fd00:99::/64"}

    def _network(self, network_id):
        net = super()._network(network_id)
        if network_id == SHARED_NET:
            net["subnets"] = list(self.CIDRS)
        elif network_id == EMPTY_NET:
            net["subnets"] = []
        return net

    def subnet_on_network(self, subnet_id, network_id):
        if network_id in (SHARED_NET, EMPTY_NET) or subnet_id in self.CIDRS:
            return network.NetworkBackend.subnet_on_network(self, subnet_id, network_id)
        return super().subnet_on_network(subnet_id, network_id)

    def _subnet(self, subnet_id):
        if subnet_id not in self.CIDRS:
            return super()._subnet(subnet_id)
        cidr = self.CIDRS[subnet_id]
        return {"id": subnet_id, "name": "", "network_id": SHARED_NET, "cidr": cidr,
                "ip_version": ipaddress.ip_network(cidr).version, "gateway_ip": None,
                "enable_dhcp": False, "project_id": "", "tenant_id": ""}


@pytest.fixture
def shared_network(app, monkeypatch):
    """Swap in a network backend whose SHARED_NET has IPv4 and IPv6 subnets."""
    monkeypatch.setattr(app.extensions["lbaas_core"], "network", SharedNetwork(None))
