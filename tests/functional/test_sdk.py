"""openstacksdk's load_balancer proxy against `lbaas serve`, without Keystone.

`Connection(auth_type="none", auth={"endpoint": URL})` discovers the API through
`GET /` and then talks to `/v2/lbaas/...`. The tests build one load balancer
graph in order, the way an SDK user would, waiting with the SDK's own waiters.
"""
import ipaddress
import uuid

import openstack.exceptions
import pytest

from tests.functional import sdk
from tests.functional.sdk import ids

pytestmark = pytest.mark.functional

NAME = "sdk-web"


@pytest.fixture(scope="module")
def conn(lbaas_server):
    connection = sdk.connect(lbaas_server.url)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def graph():
    """Ids of the objects the tests below create, in order."""
    return {}


def test_load_balancer_create_and_wait(conn, graph):
    subnet = str(uuid.uuid4())
    lb = conn.load_balancer.create_load_balancer(name=NAME, vip_subnet_id=subnet,
                                                 description="made by the sdk")
    assert lb.id and lb.name == NAME
    lb = conn.load_balancer.wait_for_load_balancer(lb.id, interval=sdk.INTERVAL, wait=sdk.TIMEOUT)
    assert (lb.provisioning_status, lb.operating_status) == ("ACTIVE", "ONLINE")
    assert lb.vip_subnet_id == subnet
    assert ipaddress.ip_address(lb.vip_address).version == 4
    assert lb.provider == "noop" and lb.description == "made by the sdk"
    graph["lb"] = lb.id

    assert conn.load_balancer.find_load_balancer(NAME).id == lb.id
    assert [x.id for x in conn.load_balancer.load_balancers(name=NAME)] == [lb.id]


def test_load_balancer_update_statistics_failover(conn, graph):
    lb = conn.load_balancer.update_load_balancer(graph["lb"], description="updated",
                                                 tags=["sdk"])
    assert lb.description == "updated"
    lb = sdk.settle(conn, graph["lb"])
    assert (lb.description, lb.tags) == ("updated", ["sdk"])

    stats = conn.load_balancer.get_load_balancer_statistics(graph["lb"])
    assert (stats.bytes_in, stats.bytes_out, stats.active_connections,
            stats.total_connections, stats.request_errors) == (0, 0, 0, 0, 0)

    conn.load_balancer.failover_load_balancer(graph["lb"])
    assert sdk.settle(conn, graph["lb"]).provisioning_status == "ACTIVE"


def test_listener_create_update_statistics(conn, graph):
    li = conn.load_balancer.create_listener(name="sdk-http", protocol="HTTP", protocol_port=80,
                                            load_balancer_id=graph["lb"])
    li = sdk.active(conn, li)
    assert (li.protocol, li.protocol_port, li.connection_limit) == ("HTTP", 80, -1)
    assert ids(li.load_balancers) == [graph["lb"]]
    graph["listener"] = li.id

    sdk.settle(conn, graph["lb"])
    with pytest.raises(openstack.exceptions.ConflictException):  # TCP:80 is taken by HTTP:80
        conn.load_balancer.create_listener(protocol="TCP", protocol_port=80,
                                           load_balancer_id=graph["lb"])

    conn.load_balancer.update_listener(li, connection_limit=50, description="sdk listener")
    sdk.settle(conn, graph["lb"])
    li = conn.load_balancer.get_listener(li.id)
    assert (li.connection_limit, li.description) == (50, "sdk listener")
    assert conn.load_balancer.find_listener("sdk-http").id == li.id

    stats = conn.load_balancer.get_listener_statistics(li.id)
    assert (stats.bytes_in, stats.total_connections) == (0, 0)


def test_listener_delete(conn, graph):
    extra = conn.load_balancer.create_listener(name="sdk-extra", protocol="TCP",
                                               protocol_port=8443, load_balancer_id=graph["lb"])
    sdk.active(conn, extra)
    sdk.settle(conn, graph["lb"])
    conn.load_balancer.delete_listener(extra)
    sdk.gone(conn, extra)
    lb = sdk.settle(conn, graph["lb"])
    assert ids(lb.listeners) == [graph["listener"]]


def test_pool_on_listener(conn, graph):
    pool = conn.load_balancer.create_pool(name="sdk-pool", protocol="HTTP",
                                          lb_algorithm="ROUND_ROBIN",
                                          listener_id=graph["listener"])
    pool = sdk.active(conn, pool)
    assert ids(pool.listeners) == [graph["listener"]]
    assert ids(pool.loadbalancers) == [graph["lb"]]
    graph["pool"] = pool.id

    sdk.settle(conn, graph["lb"])
    conn.load_balancer.update_pool(pool, lb_algorithm="SOURCE_IP",
                                   session_persistence={"type": "HTTP_COOKIE"})
    sdk.settle(conn, graph["lb"])
    pool = conn.load_balancer.get_pool(pool.id)
    assert pool.lb_algorithm == "SOURCE_IP"
    assert pool.session_persistence["type"] == "HTTP_COOKIE"
    assert [p.id for p in conn.load_balancer.pools(loadbalancer_id=graph["lb"])] == [pool.id]
    assert conn.load_balancer.get_listener(graph["listener"]).default_pool_id == pool.id


def test_members(conn, graph):
    pool = graph["pool"]
    m1 = conn.load_balancer.create_member(pool, name="sdk-m1", address="192.0.2.11",
                                          protocol_port=8080, weight=3)
    sdk.active(conn, m1)
    sdk.settle(conn, graph["lb"])
    m2 = conn.load_balancer.create_member(pool, name="sdk-m2", address="192.0.2.12",
                                          protocol_port=8080, subnet_id=str(uuid.uuid4()))
    sdk.active(conn, m2)
    sdk.settle(conn, graph["lb"])
    graph["member"] = m1.id

    conn.load_balancer.update_member(m1, pool, weight=7, backup=True)
    sdk.settle(conn, graph["lb"])
    m1 = conn.load_balancer.get_member(m1.id, pool)
    assert (m1.address, m1.protocol_port, m1.weight, m1.backup) == ("192.0.2.11", 8080, 7, True)
    assert m1.operating_status == "NO_MONITOR"

    conn.load_balancer.delete_member(m2, pool)
    sdk.gone(conn, m2)
    sdk.settle(conn, graph["lb"])
    assert [m.id for m in conn.load_balancer.members(pool)] == [m1.id]
    assert conn.load_balancer.find_member("sdk-m1", pool).id == m1.id


def test_health_monitor(conn, graph):
    hm = conn.load_balancer.create_health_monitor(pool_id=graph["pool"], name="sdk-hm",
                                                  type="HTTP", delay=5, timeout=3,
                                                  max_retries=2, url_path="/healthz")
    hm = sdk.active(conn, hm)
    assert (hm.type, hm.delay, hm.timeout, hm.max_retries, hm.max_retries_down) == \
        ("HTTP", 5, 3, 2, 3)
    assert (hm.url_path, hm.http_method, hm.expected_codes) == ("/healthz", "GET", "200")
    assert ids(hm.pools) == [graph["pool"]]
    graph["hm"] = hm.id

    sdk.settle(conn, graph["lb"])
    conn.load_balancer.update_health_monitor(hm, delay=10, expected_codes="200,204")
    sdk.settle(conn, graph["lb"])
    hm = conn.load_balancer.get_health_monitor(hm.id)
    assert (hm.delay, hm.expected_codes) == (10, "200,204")
    assert conn.load_balancer.get_pool(graph["pool"]).health_monitor_id == hm.id
    assert graph["hm"] in [h.id for h in conn.load_balancer.health_monitors()]


def test_status_tree(conn, graph):
    tree = sdk.status_tree(conn, graph["lb"])
    assert (tree["name"], tree["provisioning_status"]) == (NAME, "ACTIVE")
    [listener] = tree["listeners"]
    [pool] = listener["pools"]
    assert (listener["id"], pool["id"]) == (graph["listener"], graph["pool"])
    assert pool["health_monitor"]["id"] == graph["hm"]
    assert [m["id"] for m in pool["members"]] == [graph["member"]]


def test_cascade_delete(conn, graph):
    lb = conn.load_balancer.get_load_balancer(graph["lb"])
    conn.load_balancer.delete_load_balancer(lb, cascade=True)
    sdk.gone(conn, lb)
    assert conn.load_balancer.find_load_balancer(NAME) is None
    assert conn.load_balancer.find_listener(graph["listener"]) is None
