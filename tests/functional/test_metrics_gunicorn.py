"""lbaas-api under gunicorn with [metrics] on: the arbiter's scrape sums both workers, and
/healthcheck follows a PostgreSQL that stops and comes back.

The PostgreSQL cluster is this module's own (stopped and started by a test, so never the
session's); the API runs on it with two workers.
"""
import os
import re
import socket
import subprocess
import time
import uuid

import pytest
import requests

from testbed import pg
from tests.functional import scrape as scraping
from tests.functional.scrape import sample
from testbed.service import Service, clean_env, free_port, venv_command, wait_for

pytestmark = pytest.mark.functional
WORKERS = 2


@pytest.fixture(scope="module")
def cluster():
    """A throwaway PostgreSQL cluster of this module's own."""
    try:
        cluster = pg.Cluster(port=17432 + (os.getpid() % 1000)).start()
    except Exception as exc:  # printed in the skip reason, never silent
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not available in CI: {exc}")
        pytest.skip(f"PostgreSQL not available: {exc}")
    yield cluster
    cluster.stop()


@pytest.fixture(scope="module")
def api(cluster, tmp_path_factory):
    """`lbaas-api --workers 2` with the metrics port and /healthcheck on."""
    state = tmp_path_factory.mktemp("metrics-api")
    url = cluster.create_database(f"metrics_{uuid.uuid4().hex[:8]}")
    port, metrics_port = free_port(), free_port()
    config = state / "lbaas.conf"
    config.write_text(f"[DEFAULT]\nstate_path = {state}\n"
                      f"[api_settings]\nbind_host = 127.0.0.1\nbind_port = {port}\n"
                      "healthcheck_enabled = true\nhealthcheck_refresh_interval = 0\n"
                      f"[database]\nconnection = {url}\n"
                      f"[metrics]\nenabled = true\nbind_port = {metrics_port}\n")
    proc = subprocess.run([venv_command("lbaas-db-manage"), "--config-file", str(config),
                           "upgrade", "head"], env=clean_env(), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    service = Service("lbaas-api (metrics)", [venv_command("lbaas-api"), "--config-file",
                                              str(config), "--workers", str(WORKERS)],
                      port, state / "lbaas-api.log")
    service.start()
    service.metrics_url = f"http://127.0.0.1:{metrics_port}"
    service.metrics_port = metrics_port
    service.state = state
    yield service
    service.stop()


def scrape(api):
    return scraping.scrape(api.metrics_url)


ROUTE = "/v2/lbaas/loadbalancers"


def test_the_scrape_sums_both_workers(api, capsys):
    before = sample(scrape(api), "lbaas_api_requests_total", route=ROUTE, method="GET",
                    status="200")
    sent = 40
    for _ in range(sent):   # a new connection each: gunicorn hands them to both workers
        assert requests.get(f"{api.url}{ROUTE}", timeout=10,
                            headers={"Connection": "close"}).status_code == 200
    started = time.perf_counter()
    text = scrape(api)
    took = time.perf_counter() - started
    with capsys.disabled():
        print(f"\nscrape of the arbiter (2 workers' files summed): {took * 1e3:.1f} ms, "
              f"{len(text)} bytes")
    assert sample(text, "lbaas_api_requests_total", route=ROUTE, method="GET",
                  status="200") == before + sent
    assert sample(text, "lbaas_api_request_duration_seconds_count", route=ROUTE,
                  method="GET") >= sent
    # each worker wrote its own figures: the scrape above is their sum
    writers = {int(m.group(1)) for m in (re.match(r"counter_(\d+)\.db$", f)
                                         for f in os.listdir(api.state / "metrics-api")) if m}
    workers = writers - {api.proc.pid}   # the arbiter's own file holds zeros
    assert len(workers) == WORKERS, writers
    assert sample(text, "lbaas_db_pool_size") == 2 * 10   # [database] max_pool_size each


def health(url):
    resp = requests.get(url + "/healthcheck", timeout=15,
                        headers={"Accept": "application/json"})
    return resp.status_code, resp.json()["reasons"] if resp.content else None


def test_healthcheck_follows_postgresql(api, cluster):
    assert health(api.url) == (200, ["database: OK"])
    assert health(api.metrics_url)[0] == 200
    cluster.pause()
    try:
        status, reasons = health(api.url)
        assert status == 503, reasons
        assert reasons == ["database: OperationalError"]
        assert health(api.metrics_url)[0] == 503
    finally:
        cluster.resume()
    wait_for(lambda: health(api.url)[0] == 200, 30, "/healthcheck to be 200 again")
    assert health(api.metrics_url)[0] == 200


GARBAGE = [
    b"\x00\x01\x02garbage\r\n\r\n",
    b"GET /metrics HTTP/9.9\r\n\r\n",
    b"GET " + b"/x" * 40000 + b" HTTP/1.1\r\nHost: a\r\n\r\n",
    b"POST /metrics HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
    b"GET /metrics?name[]=%ff%fe&<script> HTTP/1.1\r\nHost: a\r\n\r\n",
    b"GET /../../etc/passwd HTTP/1.1\r\nHost: a\r\n\r\n",
    b"BREW /healthcheck HTTP/1.1\r\nHost: a\r\nAccept: x/y;q=oops\r\n\r\n",
]


@pytest.mark.parametrize("request_bytes", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_to_the_metrics_port_is_never_a_500(api, request_bytes):
    with socket.create_connection(("127.0.0.1", api.metrics_port), timeout=10) as sock:
        answer = b""
        try:   # the server may answer and close before all of it is sent (414)
            sock.sendall(request_bytes)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    status = re.match(rb"HTTP/1\.\d (\d{3})", answer)
    assert status is None or int(status.group(1)) < 500, answer[:300]
    assert scrape(api)   # still serving
