"""The multi-process deployment: PostgreSQL, `lbaas-db-manage upgrade head`, `lbaas-api`.

Nothing here runs in-process: the schema comes from the real migration
command, the API from gunicorn with two worker processes (each with its own
noop driver), and the clients are openstacksdk and 16 threads of `requests`.
"""
import collections
import random
import subprocess
import threading
import time
import uuid

import pytest
import requests

from tests.functional import sdk
from tests.functional.sdk import ids
from testbed.service import (Service, children, clean_env, cpu_ticks, free_port,
                             venv_command, wait_for)

pytestmark = pytest.mark.functional

WORKERS = 2
CLIENTS = 16
OK = {200, 201, 202, 204}


Deployment = collections.namedtuple("Deployment", "config_file port")


@pytest.fixture(scope="module")
def deployment(pg_cluster, tmp_path_factory):
    """A configuration file naming a fresh PostgreSQL database and a free port."""
    state = tmp_path_factory.mktemp("lbaas-api")
    url = pg_cluster.create_database(f"gunicorn_{uuid.uuid4().hex[:8]}")
    port = free_port()
    path = state / "lbaas.conf"
    path.write_text(f"[DEFAULT]\nstate_path = {state}\n\n"
                    f"[api_settings]\nbind_host = 127.0.0.1\nbind_port = {port}\n\n"
                    f"[database]\nconnection = {url}\n")
    return Deployment(path, port)


def db_manage(config_file, *args):
    proc = subprocess.run([venv_command("lbaas-db-manage"), "--config-file", str(config_file),
                           *args], env=clean_env(), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout + proc.stderr


@pytest.fixture(scope="module")
def migrated(deployment):
    """The deployment once `lbaas-db-manage upgrade head` has run on its database."""
    db_manage(deployment.config_file, "upgrade", "head")
    return deployment


@pytest.fixture(scope="module")
def api(migrated):
    """`lbaas-api --workers 2` (gunicorn) on the migrated PostgreSQL database."""
    config = migrated.config_file
    service = Service("lbaas-api", [venv_command("lbaas-api"), "--config-file", str(config),
                                    "--workers", str(WORKERS)],
                      migrated.port, config.parent / "lbaas-api.log")
    service.start()
    yield service
    service.stop()


@pytest.fixture(scope="module")
def conn(api):
    connection = sdk.connect(api.url)
    yield connection
    connection.close()


def test_db_manage_upgrade_reaches_head_and_is_idempotent(migrated):
    assert "(head)" in db_manage(migrated.config_file, "current")
    db_manage(migrated.config_file, "upgrade", "head")  # a second upgrade is a no-op
    assert "(head)" in db_manage(migrated.config_file, "current")


def test_gunicorn_runs_the_requested_workers(api):
    wait_for(lambda: len(children(api.proc.pid)) == WORKERS, 30, f"{WORKERS} workers", 0.1)
    assert requests.get(api.url + "/v2", timeout=10).json() == "v2"


def test_load_balancer_and_listener_over_postgresql(conn):
    lb = conn.load_balancer.create_load_balancer(name="pg-web", vip_subnet_id=str(uuid.uuid4()))
    lb = sdk.settle(conn, lb.id)
    assert (lb.provisioning_status, lb.operating_status) == ("ACTIVE", "ONLINE")
    li = conn.load_balancer.create_listener(name="pg-http", protocol="HTTP", protocol_port=80,
                                            load_balancer_id=lb.id)
    sdk.active(conn, li)
    tree = sdk.status_tree(conn, sdk.settle(conn, lb.id).id)
    assert [x["id"] for x in tree["listeners"]] == [li.id]
    conn.load_balancer.delete_load_balancer(lb, cascade=True)
    sdk.gone(conn, lb)
    assert conn.load_balancer.find_listener(li.id) is None


def test_full_graph_status_tree_and_cascade_delete(conn):
    lb = conn.load_balancer.create_load_balancer(name="pg-graph", vip_subnet_id=str(uuid.uuid4()))
    sdk.settle(conn, lb.id)
    li = conn.load_balancer.create_listener(protocol="HTTP", protocol_port=80,
                                            load_balancer_id=lb.id)
    sdk.settle(conn, lb.id)
    pool = conn.load_balancer.create_pool(protocol="HTTP", lb_algorithm="ROUND_ROBIN",
                                          listener_id=li.id)
    sdk.settle(conn, lb.id)
    member = conn.load_balancer.create_member(pool, address="192.0.2.21", protocol_port=8080)
    sdk.settle(conn, lb.id)
    hm = conn.load_balancer.create_health_monitor(pool_id=pool.id, type="TCP", delay=5,
                                                  timeout=3, max_retries=3)
    sdk.settle(conn, lb.id)
    assert ids(sdk.active(conn, hm).pools) == [pool.id]

    tree = sdk.status_tree(conn, lb.id)
    [tree_listener] = tree["listeners"]
    [tree_pool] = tree_listener["pools"]
    [tree_member] = tree_pool["members"]
    assert (tree_listener["id"], tree_pool["id"], tree_member["id"]) == (li.id, pool.id,
                                                                         member.id)
    assert tree_pool["health_monitor"]["id"] == hm.id
    statuses = [tree["provisioning_status"], tree_listener["provisioning_status"],
                tree_pool["provisioning_status"], tree_member["provisioning_status"],
                tree_pool["health_monitor"]["provisioning_status"]]
    assert statuses == ["ACTIVE"] * 5

    conn.load_balancer.delete_load_balancer(lb, cascade=True)
    sdk.gone(conn, lb)
    assert conn.load_balancer.find_pool(pool.id) is None
    assert conn.load_balancer.find_health_monitor(hm.id) is None


def test_concurrent_clients_on_one_load_balancer(api, conn):
    """16 clients create, rename and (half of them) delete listeners of one load balancer.

    Every answer is 2xx or 409 (the load balancer is busy), a client retries
    409s, and in the end the load balancer holds exactly the surviving
    listeners, all ACTIVE, with their new names.
    """
    lb = sdk.settle(conn, conn.load_balancer.create_load_balancer(
        name="pg-busy", vip_subnet_id=str(uuid.uuid4())).id)
    base = api.url + "/v2/lbaas"
    deadline = time.monotonic() + 120
    codes = collections.Counter()
    unexpected = []
    errors = []
    lock = threading.Lock()

    def call(session, method, path, body=None):
        for _attempt in range(5000):  # bounded by count and by the deadline
            resp = session.request(method, base + path, json=body, timeout=30)
            with lock:
                codes[resp.status_code] += 1
                if resp.status_code not in OK | {409}:
                    unexpected.append((method, path, resp.status_code, resp.text[:300]))
            if resp.status_code != 409:
                return resp
            if time.monotonic() > deadline:
                break
            time.sleep(random.uniform(0.005, 0.03))
        raise AssertionError(f"{method} {path}: still 409 at the deadline")

    def client(i):
        try:
            with requests.Session() as session:
                resp = call(session, "POST", "/listeners", {"listener": {
                    "loadbalancer_id": lb.id, "protocol": "TCP", "protocol_port": 10000 + i,
                    "name": f"c{i}"}})
                assert resp.status_code == 201, resp.text
                lid = resp.json()["listener"]["id"]
                resp = call(session, "PUT", f"/listeners/{lid}", {"listener": {
                    "name": f"c{i}-renamed", "connection_limit": 100 + i}})
                assert resp.status_code == 200, resp.text
                if i % 2 == 0:
                    assert call(session, "DELETE", f"/listeners/{lid}").status_code == 204
        except Exception as exc:  # reported below with the client's number
            errors.append((i, repr(exc)))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(150)
    assert not any(t.is_alive() for t in threads), "clients still running after 150 s"
    assert not unexpected, unexpected
    assert not errors, errors
    print(f"status codes over {CLIENTS} clients: {dict(sorted(codes.items()))}")

    lb = sdk.settle(conn, lb.id)
    survivors = {f"c{i}-renamed": 100 + i for i in range(1, CLIENTS, 2)}
    listeners = requests.get(f"{base}/listeners", params={"loadbalancer_id": lb.id},
                             timeout=10).json()["listeners"]
    assert {li["name"]: li["connection_limit"] for li in listeners} == survivors
    assert {li["provisioning_status"] for li in listeners} == {"ACTIVE"}
    assert sorted(li["protocol_port"] for li in listeners) == \
        [10000 + i for i in range(1, CLIENTS, 2)]
    tree = sdk.status_tree(conn, lb.id)
    assert tree["provisioning_status"] == "ACTIVE"
    assert sorted(x["id"] for x in tree["listeners"]) == sorted(li["id"] for li in listeners)
    assert sorted(ids(lb.listeners)) == sorted(li["id"] for li in listeners)

    conn.load_balancer.delete_load_balancer(lb, cascade=True)
    sdk.gone(conn, lb)


def test_openstack_cli_against_gunicorn_on_postgresql(api):
    """The real CLI creates, extends and cascade-deletes a load balancer on the multi-process set-up."""
    from tests.functional.test_cli import Cli
    cli = Cli(api.url)
    lb = cli.json("loadbalancer", "create", "--name", "cli-on-pg", "--vip-subnet-id",
                  "public-subnet", "--wait")
    assert (lb["provisioning_status"], lb["vip_address"].startswith("172.24.")) == ("ACTIVE", True)
    listener = cli.json("loadbalancer", "listener", "create", "--name", "cli-http", "--protocol",
                        "HTTP", "--protocol-port", "80", lb["id"])
    assert listener["protocol_port"] == 80
    cli.settle(lb["id"])
    cli("loadbalancer", "delete", "--cascade", "--wait", lb["id"])
    cli.gone(lb["id"])


def test_every_worker_answers_a_change_at_once_with_one_etag(api, conn):
    """No worker keeps anything that could go stale: after a change, every GET, on fresh
    connections spread over both workers, shows it, with the same ETag everywhere (tags are
    computed from the database, not from a process's memory); the old tag gets 200, the
    new one 304."""
    lb = sdk.settle(conn, conn.load_balancer.create_load_balancer(
        name="etag-before", vip_subnet_id=str(uuid.uuid4())).id)
    url = f"{api.url}/v2/lbaas/loadbalancers/{lb.id}"
    old = requests.get(url, timeout=10).headers["ETag"]
    conn.load_balancer.update_load_balancer(lb.id, name="etag-after")
    sdk.settle(conn, lb.id)
    workers = children(api.proc.pid)
    before = {pid: cpu_ticks(pid) for pid in workers}
    tags, names = set(), set()
    for _ in range(60):
        with requests.Session() as fresh:   # a new connection each time
            resp = fresh.get(url, headers={"If-None-Match": old}, timeout=10)
        assert resp.status_code == 200
        tags.add(resp.headers["ETag"])
        names.add(resp.json()["loadbalancer"]["name"])
    assert names == {"etag-after"} and len(tags) == 1 and old not in tags
    assert all(cpu_ticks(pid) > before[pid] for pid in workers), "one worker answered all"
    [new] = tags
    for _ in range(10):
        with requests.Session() as fresh:
            assert fresh.get(url, headers={"If-None-Match": new}, timeout=10).status_code \
                == 304
    conn.load_balancer.delete_load_balancer(lb.id)


def test_one_plain_access_line_per_request_with_request_id_and_project(api):
    """lbaas's access line, and only it: gunicorn's own access log stays off, waitress has none."""
    missing = str(uuid.uuid4())
    resp = requests.get(f"{api.url}/v2/lbaas/loadbalancers/{missing}",
                        headers={"X-Project-Id": "gunicorn-project"}, timeout=10)
    assert resp.status_code == 404
    rid = resp.headers["X-Openstack-Request-Id"]
    wait_for(lambda: rid in api.log_tail(), 10, "the access line")
    lines = [line for line in api.log_tail(200000).splitlines() if missing in line]
    assert len(lines) == 1, lines   # no second line in another format mentions the request
    assert f"{rid} - gunicorn-project " in lines[0]
    assert f'"GET /v2/lbaas/loadbalancers/{missing} HTTP/1.1" status: 404 len: ' in lines[0]
    assert "\x1b" not in api.log_tail(200000)


def test_a_drivers_status_report_shows_at_once_on_every_worker(api, conn, migrated):
    """No cache can serve a stale status: a driver's status report, committed by another
    process (as the driver agent commits an out-of-tree driver's), is what the very next GET
    of the load balancer and of its status tree answer, whichever worker serves them."""
    from lbaas.core import status
    from lbaas.core.db import Database
    lb = sdk.settle(conn, conn.load_balancer.create_load_balancer(
        name="status-report", vip_subnet_id=str(uuid.uuid4())).id)
    url = f"{api.url}/v2/lbaas/loadbalancers/{lb.id}"
    [database_url] = [line.split("=", 1)[1].strip()
                      for line in migrated.config_file.read_text().splitlines()
                      if line.startswith("connection")]
    driver_side = Database(database_url, pool_size=1)
    workers = children(api.proc.pid)
    before = {pid: cpu_ticks(pid) for pid in workers}
    try:
        for value in ("ERROR", "DEGRADED", "ONLINE"):
            status.apply_status_update(driver_side, {
                "loadbalancers": [{"id": lb.id, "operating_status": value}]})
            for _ in range(15):
                with requests.Session() as fresh:   # a new connection: either worker
                    one = fresh.get(url, timeout=10).json()["loadbalancer"]
                    tree = fresh.get(f"{url}/status", timeout=10).json()["statuses"]
                assert (one["operating_status"], tree["loadbalancer"]["operating_status"]) \
                    == (value, value)
    finally:
        driver_side.dispose()
    assert all(cpu_ticks(pid) > before[pid] for pid in workers), "one worker answered all"
    conn.load_balancer.delete_load_balancer(lb.id)
