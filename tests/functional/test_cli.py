"""The real `openstack loadbalancer` CLI (python-octaviaclient) against `lbaas serve`.

No Keystone: `--os-auth-type none --os-endpoint URL`, with every OS_* variable
removed from the environment. The tests build one load balancer graph, in
order, and each one asserts on the CLI's JSON output. Every invocation costs
about a second of start-up, so each test does several steps.

The CLI's `--wait` polls every 3 s and nearly always sleeps once (the noop
driver reports a moment after the API answers), so only the steps a user would
script with it use it here (load balancer create, failover, cascade delete, one
listener create); the other steps wait with `Cli.settle()`, which polls the
load balancer over HTTP every 20 ms.
"""
import ipaddress
import json
import subprocess
import uuid

import pytest
import requests

from testbed.service import clean_env, venv_command, wait_for

pytestmark = pytest.mark.functional

LB = "web"  # the README's name; names are unique on this server (the SDK tests use sdk-*)


class Cli:
    """Runs `openstack --os-auth-type none --os-endpoint URL ...`."""

    def __init__(self, url):
        self.url = url
        self.base = [venv_command("openstack"), "--os-auth-type", "none", "--os-endpoint", url]
        self.env = clean_env()

    def run(self, *args):
        """Run a command; returns (returncode, stdout, stderr)."""
        proc = subprocess.run(self.base + list(args), env=self.env, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=180)
        return proc.returncode, proc.stdout, proc.stderr

    def __call__(self, *args):
        """Run a command that must succeed; its output parsed as JSON if it prints any."""
        code, out, err = self.run(*args)
        assert code == 0, f"openstack {' '.join(args)} exited {code}:\n{err}{out}"
        return json.loads(out) if out.strip() else None

    def json(self, *args):
        """Run a command with `-f json` (create, show, list, stats show)."""
        return self(*args, "-f", "json")

    def fails(self, *args):
        """Run a command that must fail; returns its error output."""
        code, out, err = self.run(*args)
        assert code != 0, f"openstack {' '.join(args)} unexpectedly succeeded:\n{out}"
        return err + out

    def settle(self, lb_id, timeout=30.0):
        """Wait until the load balancer is ACTIVE again (polled over HTTP)."""
        url = f"{self.url}/v2/lbaas/loadbalancers/{lb_id}"

        def active():
            resp = requests.get(url, timeout=10)
            return resp.status_code == 200 and \
                resp.json()["loadbalancer"]["provisioning_status"] == "ACTIVE"
        wait_for(active, timeout, f"{url} to be ACTIVE")

    def gone(self, lb_id, timeout=30.0):
        """Wait until the load balancer answers 404."""
        url = f"{self.url}/v2/lbaas/loadbalancers/{lb_id}"
        wait_for(lambda: requests.get(url, timeout=10).status_code == 404, timeout,
                 f"{url} to answer 404")


def ids(refs):
    """The ids of a list of {"id": ...} references."""
    return [ref["id"] for ref in refs]


@pytest.fixture(scope="module")
def cli(lbaas_server):
    return Cli(lbaas_server.url)


@pytest.fixture(scope="module")
def graph():
    """Ids of the objects the tests below create, in order."""
    return {}


def test_loadbalancer_create_on_the_named_public_subnet(cli, graph):
    lb = cli.json("loadbalancer", "create", "--name", LB, "--vip-subnet-id", "public-subnet",
                  "--wait")
    assert lb["name"] == LB
    assert (lb["provisioning_status"], lb["operating_status"]) == ("ACTIVE", "ONLINE")
    assert lb["provider"] == "noop"
    assert ipaddress.ip_address(lb["vip_address"]) in ipaddress.ip_network("172.24.0.0/16")
    uuid.UUID(lb["vip_subnet_id"])  # the name was resolved to the subnet's id
    graph["lb"] = lb["id"]

    listed = cli.json("loadbalancer", "list", "--name", LB)
    assert [(row["id"], row["provisioning_status"]) for row in listed] == [(lb["id"], "ACTIVE")]


def test_loadbalancer_create_on_any_subnet_uuid_and_delete(cli):
    subnet = str(uuid.uuid4())
    lb = cli.json("loadbalancer", "create", "--name", "web-uuid", "--vip-subnet-id", subnet)
    assert lb["vip_subnet_id"] == subnet
    cli.settle(lb["id"])
    cli("loadbalancer", "delete", lb["id"])
    cli.gone(lb["id"])


def test_loadbalancer_set_unset_stats_failover(cli, graph):
    cli("loadbalancer", "set", "--description", "front door", "--tag", "tour", LB)
    cli.settle(graph["lb"])
    lb = cli.json("loadbalancer", "show", LB)
    assert (lb["description"], lb["tags"]) == ("front door", ["tour"])

    cli("loadbalancer", "unset", "--description", "--all-tag", LB)
    cli.settle(graph["lb"])
    stats = cli.json("loadbalancer", "stats", "show", LB)
    assert stats == {"active_connections": 0, "bytes_in": 0, "bytes_out": 0,
                     "request_errors": 0, "total_connections": 0}

    cli("loadbalancer", "failover", "--wait", LB)
    lb = cli.json("loadbalancer", "show", LB)
    assert lb["provisioning_status"] == "ACTIVE"
    assert (lb["description"], lb["tags"]) == ("", [])  # the unset above


def test_listener_create_set_unset_stats(cli, graph):
    li = cli.json("loadbalancer", "listener", "create", "--name", "http", "--protocol", "HTTP",
                  "--protocol-port", "80", "--wait", LB)
    assert (li["protocol"], li["protocol_port"]) == ("HTTP", 80)
    assert ids(li["loadbalancers"]) == [graph["lb"]]
    assert li["provisioning_status"] == "ACTIVE"
    graph["listener"] = li["id"]

    err = cli.fails("loadbalancer", "listener", "create", "--protocol", "TCP",
                    "--protocol-port", "80", LB)
    assert "409" in err  # TCP:80 collides with HTTP:80 on the same load balancer

    cli("loadbalancer", "listener", "set", "--description", "public", "--connection-limit",
        "100", "--timeout-client-data", "30000", "http")
    cli.settle(graph["lb"])
    li = cli.json("loadbalancer", "listener", "show", "http")
    assert (li["description"], li["connection_limit"], li["timeout_client_data"]) == \
        ("public", 100, 30000)

    cli("loadbalancer", "listener", "unset", "--connection-limit", "--timeout-client-data",
        "http")
    cli.settle(graph["lb"])
    li = cli.json("loadbalancer", "listener", "show", "http")
    assert (li["description"], li["connection_limit"], li["timeout_client_data"]) == \
        ("public", -1, 50000)
    assert li["provisioning_status"] == "ACTIVE"

    stats = cli.json("loadbalancer", "listener", "stats", "show", "http")
    assert (stats["total_connections"], stats["bytes_in"]) == (0, 0)


def test_listener_delete(cli, graph):
    tcp = cli.json("loadbalancer", "listener", "create", "--name", "tcp", "--protocol", "TCP",
                   "--protocol-port", "8443", LB)
    cli.settle(graph["lb"])
    cli("loadbalancer", "listener", "delete", tcp["id"])
    cli.settle(graph["lb"])
    listed = cli.json("loadbalancer", "listener", "list", "--loadbalancer", LB)
    assert [row["id"] for row in listed] == [graph["listener"]]


def test_pool_on_listener(cli, graph):
    pool = cli.json("loadbalancer", "pool", "create", "--name", "pool1", "--protocol", "HTTP",
                    "--lb-algorithm", "ROUND_ROBIN", "--listener", "http")
    assert (pool["lb_algorithm"], pool["protocol"]) == ("ROUND_ROBIN", "HTTP")
    assert ids(pool["listeners"]) == [graph["listener"]]
    assert ids(pool["loadbalancers"]) == [graph["lb"]]
    graph["pool"] = pool["id"]
    cli.settle(graph["lb"])

    cli("loadbalancer", "pool", "set", "--lb-algorithm", "LEAST_CONNECTIONS",
        "--session-persistence", "type=APP_COOKIE,cookie_name=sid", "--description", "app",
        "pool1")
    cli.settle(graph["lb"])
    pool = cli.json("loadbalancer", "pool", "show", "pool1")
    assert (pool["lb_algorithm"], pool["description"]) == ("LEAST_CONNECTIONS", "app")
    assert pool["session_persistence"]["type"] == "APP_COOKIE"
    assert pool["session_persistence"]["cookie_name"] == "sid"

    cli("loadbalancer", "pool", "unset", "--session-persistence", "--description", "pool1")
    cli.settle(graph["lb"])
    listed = cli.json("loadbalancer", "pool", "list", "--loadbalancer", LB)
    assert [(row["id"], row["provisioning_status"]) for row in listed] == \
        [(graph["pool"], "ACTIVE")]
    li = cli.json("loadbalancer", "listener", "show", "http")
    assert li["default_pool_id"] == graph["pool"]


def test_members(cli, graph):
    m1 = cli.json("loadbalancer", "member", "create", "--name", "m1", "--address", "10.0.0.11",
                  "--protocol-port", "8080", "--weight", "5", "pool1")
    assert (m1["address"], m1["protocol_port"], m1["weight"]) == ("10.0.0.11", 8080, 5)
    assert m1["operating_status"] == "NO_MONITOR"  # the pool has no health monitor yet
    graph["member"] = m1["id"]
    cli.settle(graph["lb"])
    m2 = cli.json("loadbalancer", "member", "create", "--name", "m2", "--address", "10.0.0.12",
                  "--protocol-port", "8080", "pool1")
    cli.settle(graph["lb"])

    cli("loadbalancer", "member", "set", "--weight", "10", "--enable-backup",
        "--monitor-port", "9000", "pool1", "m1")
    cli.settle(graph["lb"])
    m1 = cli.json("loadbalancer", "member", "show", "pool1", "m1")
    assert (m1["weight"], m1["backup"], m1["monitor_port"]) == (10, True, 9000)
    assert m1["provisioning_status"] == "ACTIVE"

    cli("loadbalancer", "member", "unset", "--weight", "--monitor-port", "pool1", "m1")
    cli.settle(graph["lb"])
    cli("loadbalancer", "member", "delete", "pool1", m2["id"])
    cli.settle(graph["lb"])
    listed = cli.json("loadbalancer", "member", "list", "pool1")
    assert [(m["id"], m["weight"]) for m in listed] == [(graph["member"], 1)]


def test_healthmonitor(cli, graph):
    hm = cli.json("loadbalancer", "healthmonitor", "create", "--name", "hm1", "--type", "HTTP",
                  "--delay", "5", "--timeout", "3", "--max-retries", "2", "--url-path",
                  "/health", "--expected-codes", "200-204", "pool1")
    assert (hm["type"], hm["delay"], hm["timeout"], hm["max_retries"]) == ("HTTP", 5, 3, 2)
    assert (hm["url_path"], hm["expected_codes"], hm["http_method"]) == \
        ("/health", "200-204", "GET")
    assert ids(hm["pools"]) == [graph["pool"]]
    graph["hm"] = hm["id"]
    cli.settle(graph["lb"])

    cli("loadbalancer", "healthmonitor", "set", "--delay", "10", "--max-retries-down", "5",
        "hm1")
    cli.settle(graph["lb"])
    cli("loadbalancer", "healthmonitor", "unset", "--url-path", "--expected-codes", "hm1")
    cli.settle(graph["lb"])
    hm = cli.json("loadbalancer", "healthmonitor", "show", "hm1")
    assert (hm["delay"], hm["max_retries_down"]) == (10, 5)
    assert (hm["url_path"], hm["expected_codes"]) == ("/", "200")
    assert hm["provisioning_status"] == "ACTIVE"
    listed = cli.json("loadbalancer", "healthmonitor", "list")
    assert graph["hm"] in [row["id"] for row in listed]


def test_status_tree_shows_the_whole_graph(cli, graph):
    tree = cli("loadbalancer", "status", "show", LB)["loadbalancer"]  # prints JSON itself
    assert (tree["id"], tree["provisioning_status"]) == (graph["lb"], "ACTIVE")
    [listener] = tree["listeners"]
    assert listener["id"] == graph["listener"]
    [pool] = listener["pools"]
    assert pool["id"] == graph["pool"]
    assert pool["health_monitor"]["id"] == graph["hm"]
    assert [(m["id"], m["address"], m["provisioning_status"]) for m in pool["members"]] == \
        [(graph["member"], "10.0.0.11", "ACTIVE")]


def test_cascade_delete_removes_everything(cli, graph):
    cli("loadbalancer", "delete", "--cascade", "--wait", LB)
    assert cli.json("loadbalancer", "list", "--name", LB) == []
    remaining = cli.json("loadbalancer", "listener", "list")
    assert graph["listener"] not in [row["id"] for row in remaining]


def test_provider_list_and_capabilities(cli):
    assert [p["name"] for p in cli.json("loadbalancer", "provider", "list")] == ["noop"]
    caps = cli.json("loadbalancer", "provider", "capability", "list", "noop")
    assert {(c["type"], c["name"]) for c in caps} == {
        ("flavor", "loadbalancer_topology"), ("flavor", "compute_flavor"),
        ("flavor", "amp_image_tag"), ("flavor", "sriov_vip"), ("flavor", "allow_member_sriov"),
        ("availability_zone", "compute_zone"), ("availability_zone", "volume_zone"),
        ("availability_zone", "management_network"),
        ("availability_zone", "valid_vip_networks")}
