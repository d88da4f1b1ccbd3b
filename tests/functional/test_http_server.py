"""The HTTP server under real clients: slow ones, silent ones, and malformed requests.

Both ways the API is served run here as real processes: `lbaas serve` (one process, SQLite)
and `lbaas-api` (gunicorn's arbiter with two workers, on the test PostgreSQL). Slow clients
are raw sockets that send half a request line and then nothing; the errors are written on
the wire, where the HTTP server, not the application, has to answer them.
"""
import contextlib
import http.client
import json
import select
import socket
import time
import uuid

import pytest
import requests

from testbed.service import Service, clean_env, free_port, venv_command
from tests.functional.test_gunicorn_pg import db_manage

pytestmark = pytest.mark.functional

SLOW_CLIENTS = 16          # more than lbaas-api's 2 workers x 4 threads here, lbaas serve's 8
HALF_LINE = b"GET /v2/lbaas/loadbalancers HT"
IDLE = 2                   # client_idle_timeout of the short-timeout servers (s)
HEADER = 4                 # client_header_timeout of the short-timeout servers (s)
PROMPT = 5.0               # how long a normal request may take beside the slow clients (s)
FAULT_KEYS = {"faultcode", "faultstring", "debuginfo"}


def write_config(path, port, state, database=None, **api_settings):
    """An lbaas.conf for one server: its port, state directory, database and [api_settings]."""
    api = "".join(f"{key} = {value}\n" for key, value in api_settings.items())
    text = (f"[DEFAULT]\nstate_path = {state}\n\n"
            f"[api_settings]\nbind_host = 127.0.0.1\nbind_port = {port}\n{api}")
    if database:
        text += f"\n[database]\nconnection = {database}\n"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def pg_database(pg_cluster):
    """A migrated PostgreSQL database for the lbaas-api servers of this module."""
    return pg_cluster.create_database(f"httpserver_{uuid.uuid4().hex[:8]}")


def start_gunicorn(tmp_path_factory, database, **api_settings):
    """`lbaas-api --workers 2` (4 threads each) on the database, with these [api_settings]."""
    state = tmp_path_factory.mktemp("lbaas-api")
    port = free_port()
    config = write_config(state / "lbaas.conf", port, state, database, api_threads=4,
                          **api_settings)
    db_manage(config, "upgrade", "head")
    return Service("lbaas-api", [venv_command("lbaas-api"), "--config-file", str(config),
                                 "--workers", "2"],
                   port, state / "lbaas-api.log", env=clean_env()).start()


def start_serve(tmp_path_factory, **api_settings):
    """`lbaas serve` (noop provider, SQLite) with these [api_settings]."""
    state = tmp_path_factory.mktemp("lbaas-serve")
    port = free_port()
    config = write_config(state / "lbaas.conf", port, state, **api_settings)
    return Service("lbaas serve", [venv_command("lbaas"), "--config-file", str(config),
                                   "serve"],
                   port, state / "lbaas-serve.log").start()


@pytest.fixture(scope="module")
def gunicorn_api(tmp_path_factory, pg_database):
    service = start_gunicorn(tmp_path_factory, pg_database)
    yield service
    service.stop()


@pytest.fixture(params=["lbaas serve", "lbaas-api"])
def server(request):
    """Each way of serving the API, with the default timeouts."""
    if request.param == "lbaas serve":
        return request.getfixturevalue("lbaas_server")
    return request.getfixturevalue("gunicorn_api")


@pytest.fixture(scope="module")
def short_serve(tmp_path_factory):
    service = start_serve(tmp_path_factory, client_idle_timeout=IDLE,
                          client_header_timeout=HEADER)
    yield service
    service.stop()


@pytest.fixture(scope="module")
def short_gunicorn(tmp_path_factory, pg_database):
    service = start_gunicorn(tmp_path_factory, pg_database, client_idle_timeout=IDLE,
                             client_header_timeout=HEADER)
    yield service
    service.stop()


@pytest.fixture(params=["lbaas serve", "lbaas-api"])
def short_server(request):
    """Each way of serving the API, with short idle and header timeouts."""
    return request.getfixturevalue("short_serve" if request.param == "lbaas serve"
                                   else "short_gunicorn")


@contextlib.contextmanager
def slow_clients(port, count=SLOW_CLIENTS):
    """`count` connections that each sent half a request line and then nothing."""
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            socks.append(sock)
            sock.sendall(HALF_LINE)
        yield socks
    finally:
        for sock in socks:
            sock.close()


def exchange(port, data):
    """Send raw bytes, read one HTTP response: (status, headers, body bytes)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        response = http.client.HTTPResponse(sock)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def is_client_fault(body):
    """Whether a body is Octavia's client fault body."""
    fault = json.loads(body)
    return set(fault) == FAULT_KEYS and fault["faultcode"] == "Client" and \
        fault["debuginfo"] is None and isinstance(fault["faultstring"], str)


def closed_after(sock, timeout):
    """Seconds until the server closes `sock` (it reads EOF), or None within `timeout`."""
    start = time.monotonic()
    sock.settimeout(timeout)
    try:
        data = sock.recv(4096)
    except socket.timeout:
        return None
    except ConnectionResetError:
        data = b""
    return time.monotonic() - start if data == b"" else None


def thread_count(pid):
    """Threads of a process now."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError(f"no Threads line for {pid}")


def test_slow_clients_do_not_stop_a_normal_request(server):
    """With 16 half-sent requests open, a normal request is still answered at once."""
    with slow_clients(server.port):
        start = time.monotonic()
        resp = requests.get(server.url + "/v2/lbaas/loadbalancers", timeout=PROMPT)
        elapsed = time.monotonic() - start
    assert resp.status_code == 200 and "loadbalancers" in resp.json()
    assert elapsed < PROMPT


def test_slow_clients_hold_no_thread(lbaas_server):
    """`lbaas serve` keeps its threads bounded: 50 half-sent requests add no thread."""
    pid = lbaas_server.proc.pid
    requests.get(lbaas_server.url + "/v2", timeout=10)   # every pool thread started
    before = thread_count(pid)
    with slow_clients(lbaas_server.port, 50):
        time.sleep(1.0)
        during = thread_count(pid)
        assert requests.get(lbaas_server.url + "/v2", timeout=PROMPT).json() == "v2"
    assert during - before <= 2, (before, during)


def test_half_sent_request_is_closed_after_the_idle_timeout(short_server):
    """A request line left half-sent is closed once the client has been silent IDLE s."""
    with slow_clients(short_server.port, 1) as (sock,):
        elapsed = closed_after(sock, IDLE + 15)
    assert elapsed is not None, "still open 15 s after the idle timeout"
    assert IDLE - 0.5 <= elapsed <= IDLE + 5


def test_trickled_headers_are_closed_after_the_header_timeout(short_server):
    """A client sending a byte every 0.5 s (never idle) is cut off after HEADER s."""
    request = b"GET /v2 HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 1000
    with socket.create_connection(("127.0.0.1", short_server.port), timeout=10) as sock:
        start = time.monotonic()
        closed = None
        for i in range(len(request)):
            try:
                sock.sendall(request[i:i + 1])
            except (BrokenPipeError, ConnectionResetError):
                closed = time.monotonic() - start
                break
            if select.select([sock], [], [], 0.5)[0]:
                if sock.recv(4096) == b"":
                    closed = time.monotonic() - start
                    break
            if time.monotonic() - start > HEADER + 15:
                break
    assert closed is not None, "still open 15 s after the header timeout"
    assert HEADER - 0.5 <= closed <= HEADER + 5


def test_long_request_line_is_414_with_fault_body(server):
    """A query string past max_request_line (64 KiB) is 414 with Octavia's fault body."""
    line = b"GET /v2/lbaas/loadbalancers?name=" + b"a" * 70000 + b" HTTP/1.1\r\n"
    status, headers, body = exchange(server.port, line + b"Host: x\r\n\r\n")
    assert (status, headers["Content-Type"]) == (414, "application/json")
    assert is_client_fault(body)


@pytest.mark.parametrize("line", [b"GARBAGE", b"get / HTTP/1.1", b"GET / HTTP/1.1 extra",
                                  b"GET / HTTP/1.1\r\nNo colon here"])
def test_malformed_request_is_400_with_fault_body(server, line):
    """A request line (or header) the server cannot parse is 400 with the fault body."""
    status, headers, body = exchange(server.port, line + b"\r\n\r\n")
    assert (status, headers["Content-Type"]) == (400, "application/json")
    assert is_client_fault(body)


def test_too_large_body_is_413_with_fault_body(server):
    """A declared body over max_request_body_size is refused before it is read."""
    head = (b"POST /v2/lbaas/loadbalancers HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n")
    status, headers, body = exchange(server.port, head)
    assert (status, headers["Content-Type"]) == (413, "application/json")
    assert is_client_fault(body)


def test_method_not_allowed_is_405_with_allow_and_fault_body(server):
    """A 405 names the allowed methods in Allow and carries the fault body."""
    resp = requests.patch(server.url + "/v2/lbaas/loadbalancers", timeout=10)
    assert resp.status_code == 405 and is_client_fault(resp.content)
    assert {m.strip() for m in resp.headers["Allow"].split(",")} == \
        {"GET", "HEAD", "OPTIONS", "POST"}
