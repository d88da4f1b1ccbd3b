"""The amphora agent as a real process over mutual TLS, driving a real HAProxy (spec amphora.md §3)."""
import hashlib
import http.server
import itertools
import os
import shutil
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time

import pytest
import requests
from octavia_lib.api.drivers import data_models as dm

from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.haproxy import render as hr
from testbed.service import free_port, venv_command, wait_for

pytestmark = pytest.mark.functional
AMPHORA = "0b3c1d2e-0000-4000-8000-000000000001"
SERIAL = itertools.count(1)


def _haproxy():
    return shutil.which("haproxy") or ("/usr/sbin/haproxy"
                                       if os.access("/usr/sbin/haproxy", os.X_OK) else None)


@pytest.fixture(scope="module")
def haproxy_bin():
    """The haproxy binary, or a skip saying why (a failure under CI=true)."""
    path = _haproxy()
    if path is None:
        reason = "haproxy is not installed (scripts/setup.sh --test installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(reason, pytrace=False)
        print(reason)
        pytest.skip(reason)
    return path


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """A CA with an agent server cert and a controller client cert, plus a stranger's client cert."""
    root = tmp_path_factory.mktemp("pki")
    ca = certs.CertificateAuthority.load_or_create(str(root / "ca"))
    other = certs.CertificateAuthority.load_or_create(str(root / "other-ca"))
    (root / "ca.pem").write_bytes(ca.ca_pem)
    return {"ca": str(root / "ca.pem"),
            "server": certs.write_pair(str(root), "server", *ca.issue_server(AMPHORA, ["127.0.0.1"])),
            "client": certs.write_pair(str(root), "client", *ca.issue_client("controller")),
            "stranger": certs.write_pair(str(root), "stranger", *other.issue_client("controller"))}


def _kill_haproxies(base_dir):
    """SIGKILL every live process whose command line names base_dir (HAProxy daemonizes)."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if base_dir.encode() in f.read():
                    os.kill(int(pid), signal.SIGKILL)
        except OSError:
            pass


def haproxy_pids(base_dir):
    """Live (non-zombie) processes whose command line names base_dir."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read()
            with open(f"/proc/{pid}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if base_dir.encode() in cmdline and state != "Z" and b"haproxy" in cmdline:
            found.append(int(pid))
    return found


class Agent:
    """`lbaas-agent` in its own process group; `url`, `get/put/delete` with the client cert."""

    def __init__(self, base_dir, pki, haproxy_bin, log_path):
        self.base_dir, self.pki, self.port = base_dir, pki, free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.argv = [venv_command("lbaas-agent"), "--base-dir", base_dir, "--bind", "127.0.0.1",
                     "--port", str(self.port), "--ca", pki["ca"], "--cert", pki["server"],
                     "--haproxy", haproxy_bin]
        self.proc = None

    def request(self, method, path, **kw):
        """One request with the controller's client certificate, verifying the agent by the CA."""
        return requests.request(method, self.url + path, cert=self.pki["client"],
                                verify=self.pki["ca"], timeout=30, **kw)

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"lbaas-agent exited with {self.proc.returncode}:\n"
                               + open(self.log_path).read())
        try:
            return self.request("GET", "/").status_code == 200
        except requests.RequestException:
            return False

    def start(self):
        """Launch the agent and wait until it answers over mutual TLS."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        wait_for(self._answers, 30, "lbaas-agent to answer over TLS", 0.05)

    def stop(self):
        """Stop the agent's process group and every HAProxy it started."""
        if self.proc is not None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        _kill_haproxies(self.base_dir)


@pytest.fixture(scope="module")
def agent(tmp_path_factory, pki, haproxy_bin):
    """A running agent on a fresh base directory; it and its HAProxies go at the end."""
    root = tmp_path_factory.mktemp("agent")
    agent = Agent(str(root / "base"), pki, haproxy_bin, str(root / "agent.log"))
    try:
        agent.start()
        yield agent
    finally:
        agent.stop()


class Backend(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """A loopback HTTP backend answering its name; /slow holds its body until `release` is set."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, name):
        self.name, self.release, self.slow_started = name, threading.Event(), threading.Event()
        super().__init__(("127.0.0.1", 0), _Handler)

    def server_bind(self):
        socketserver.TCPServer.server_bind(self)   # no getfqdn()
        self.server_name, self.server_port = self.server_address[:2]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"backend {self.server.name}\n".encode() * (1000 if self.path == "/slow" else 1)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.path == "/slow":
            self.wfile.write(body[:10])
            self.wfile.flush()
            self.server.slow_started.set()
            self.server.release.wait(20)
        self.wfile.write(body[10:] if self.path == "/slow" else body)

    def log_message(self, *args):
        pass


@pytest.fixture
def backends():
    """Two running backends, A and B, shut down after the test."""
    servers = [Backend("A"), Backend("B")]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for t in threads:
        t.start()
    yield servers
    for s in servers:
        s.release.set()
        s.shutdown()
        s.server_close()


def render(agent, lb_id, port, backend):
    """A rendered haproxy.cfg: one HTTP listener on 127.0.0.1:port, one member `backend`."""
    lb_dir = os.path.join(agent.base_dir, lb_id)
    settings = hr.Settings(stats_socket=f"{lb_dir}/stats.sock", pid_file=f"{lb_dir}/haproxy.pid",
                           state_file=f"{lb_dir}/servers.state", vip_addresses=("127.0.0.1",),
                           default_connection_limit=100)
    member = dm.Member(member_id="m1", address="127.0.0.1", protocol_port=backend.server_port,
                       weight=1, backup=False, admin_state_up=True)
    pool = dm.Pool(pool_id="p1", protocol="HTTP", lb_algorithm="ROUND_ROBIN", members=[member],
                   admin_state_up=True)
    listener = dm.Listener(listener_id="l1", protocol="HTTP", protocol_port=port,
                           default_pool_id="p1", connection_limit=100, admin_state_up=True)
    lb = dm.LoadBalancer(loadbalancer_id=lb_id, vip_address="127.0.0.1", listeners=[listener],
                         pools=[pool], admin_state_up=True)
    return hr.render(lb, settings)


def upload(agent, lb_id, text):
    return agent.request("PUT", f"/1.0/loadbalancer/{AMPHORA}/{lb_id}/haproxy", data=text)


def fetch(port, path="/"):
    return requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).text


@pytest.fixture
def started(agent, backends, request):
    """A load balancer (its own id) uploaded and started, on backend A; (lb_id, port)."""
    lb_id, port = f"lb{next(SERIAL)}", free_port()   # short: unix socket paths max 107 bytes
    assert upload(agent, lb_id, render(agent, lb_id, port, backends[0])).status_code == 202
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/start").status_code == 202
    yield lb_id, port
    agent.request("DELETE", f"/1.0/listeners/{lb_id}")


def test_version_document(agent):
    response = agent.request("GET", "/")
    assert (response.status_code, response.json()) == (200, {"api_version": "1.0"})


def test_info_reports_haproxy_version(agent):
    body = agent.request("GET", "/1.0/info").json()
    assert body["api_version"] == "1.0" and body["haproxy_version"].startswith("2.")
    assert body["hostname"] == socket.gethostname()


def test_invalid_config_is_refused_with_haproxy_complaint(agent):
    response = upload(agent, "lb-bad", "global\n    no-such-directive 1\n")
    assert response.status_code == 400
    body = response.json()
    assert body["message"] == "Invalid request"
    assert "no-such-directive" in body["details"]
    assert agent.request("GET", "/1.0/loadbalancer/lb-bad/haproxy").status_code == 404


def test_upload_answers_md5_etag_and_config_reads_back(agent, backends):
    text = render(agent, "lb-etag", free_port(), backends[0])
    response = upload(agent, "lb-etag", text)
    etag = hashlib.md5(text.encode()).hexdigest()
    assert (response.status_code, response.json()) == (202, {"message": "OK"})
    assert response.headers["ETag"].strip('"') == etag
    back = agent.request("GET", "/1.0/loadbalancer/lb-etag/haproxy")
    assert (back.status_code, back.text, back.headers["ETag"].strip('"')) == (200, text, etag)
    assert agent.request("DELETE", "/1.0/listeners/lb-etag").status_code == 200


def test_unknown_action_is_400_and_unknown_lb_404(agent):
    assert agent.request("PUT", "/1.0/loadbalancer/lb-x/explode").status_code == 400
    assert agent.request("PUT", "/1.0/loadbalancer/lb-x/start").status_code == 404


def test_started_lb_forwards_to_its_member(agent, started):
    lb_id, port = started
    assert fetch(port) == "backend A\n"
    assert {"status": "ACTIVE", "uuid": lb_id, "type": "HTTP", "applied": True} in \
        agent.request("GET", "/1.0/listeners").json()


def test_reload_finishes_inflight_response_and_applies_new_config(agent, backends, started):
    lb_id, port = started
    result = {}
    slow = threading.Thread(target=lambda: result.update(body=fetch(port, "/slow")))
    slow.start()
    assert backends[0].slow_started.wait(10), "the slow request never reached backend A"
    assert upload(agent, lb_id, render(agent, lb_id, port, backends[1])).status_code == 202
    response = agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/reload")
    assert response.status_code == 202, response.text
    assert fetch(port) == "backend B\n"
    backends[0].release.set()
    slow.join(15)
    assert result.get("body") == "backend A\n" * 1000


def test_an_upload_no_reload_followed_shows_as_not_applied_until_the_reload(agent, backends,
                                                                           started):
    lb_id, port = started

    def applied():
        return {e["uuid"]: e["applied"] for e in
                agent.request("GET", "/1.0/listeners").json()}[lb_id]
    assert applied() is True
    # its sender killed between the upload and the reload: HAProxy still runs the old one
    assert upload(agent, lb_id, render(agent, lb_id, port, backends[1])).status_code == 202
    assert applied() is False and fetch(port) == "backend A\n"
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/reload").status_code == 202
    assert applied() is True and fetch(port) == "backend B\n"


def test_stop_closes_the_port_and_leaves_no_haproxy(agent, started):
    lb_id, port = started
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/stop").status_code == 202
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert haproxy_pids(os.path.join(agent.base_dir, lb_id)) == []
    assert {"status": "STOPPED", "uuid": lb_id, "type": "HTTP", "applied": True} in \
        agent.request("GET", "/1.0/listeners").json()


def test_delete_stops_haproxy_and_removes_its_files(agent, started):
    lb_id, port = started
    assert agent.request("DELETE", f"/1.0/listeners/{lb_id}").json() == {"message": "OK"}
    assert not os.path.exists(os.path.join(agent.base_dir, lb_id))
    assert haproxy_pids(os.path.join(agent.base_dir, lb_id)) == []
    assert agent.request("GET", f"/1.0/loadbalancer/{lb_id}/haproxy").status_code == 404


def _tls_handshake(agent, cert=None):
    """A raw TLS request to the agent, presenting cert (or none); returns the reply bytes."""
    ctx = ssl.create_default_context(cafile=agent.pki["ca"])
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(cert)
    with socket.create_connection(("127.0.0.1", agent.port), timeout=5) as raw:
        with ctx.wrap_socket(raw) as tls:
            tls.sendall(b"GET / HTTP/1.0\r\n\r\n")
            return tls.recv(1024)   # TLS 1.3 reports a refused client cert on first read


@pytest.mark.parametrize("who", [None, "stranger"])
def test_client_without_a_cert_from_our_ca_is_refused_by_tls(agent, who):
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        _tls_handshake(agent, agent.pki[who] if who else None)
    assert agent.request("GET", "/").status_code == 200   # the agent still serves others


def test_a_silent_connection_does_not_block_other_clients(agent):
    with socket.create_connection(("127.0.0.1", agent.port), timeout=5):   # no ClientHello
        assert agent.request("GET", "/").status_code == 200


def test_reload_saves_server_state_first(agent, backends, started):
    lb_id, port = started
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/reload").status_code == 202
    with open(os.path.join(agent.base_dir, lb_id, "servers.state")) as f:
        assert " p1:l1 " in f.read()


def test_a_haproxy_that_dies_on_its_own_is_started_again_within_a_second(agent, started):
    lb_id, port = started
    lb_dir = os.path.join(agent.base_dir, lb_id)
    before = set(haproxy_pids(lb_dir))
    for pid in before:
        os.kill(pid, signal.SIGKILL)
    def serves():
        try:
            return fetch(port) == "backend A\n"
        except requests.RequestException:
            return False
    wait_for(serves, 5, "the agent's supervisor to start HAProxy again")
    assert not set(haproxy_pids(lb_dir)) & before


def test_a_haproxy_the_controller_stopped_stays_stopped(agent, started):
    lb_id, port = started
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/stop").status_code == 202
    deadline = time.monotonic() + 2.5   # more than two supervisor rounds (1 s each)
    while time.monotonic() < deadline:
        assert haproxy_pids(os.path.join(agent.base_dir, lb_id)) == []
        time.sleep(0.1)
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/start").status_code == 202
    assert fetch(port) == "backend A\n"


# -- certificate files (PUT/GET/DELETE /1.0/loadbalancer/<lb>/certificates/<file>) ----------

def _cert_url(lb_id, name=""):
    return f"/1.0/loadbalancer/{lb_id}/certificates" + (f"/{name}" if name else "")


def _served_cn(port, server_name):
    """The subject CN of the certificate 127.0.0.1:port presents for an SNI name."""
    from cryptography import x509
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value


def render_tls(agent, lb_id, port, backend):
    """A TERMINATED_HTTPS listener on 127.0.0.1:port whose crt is `certs/l1-0.pem` (relative)."""
    lb_dir = os.path.join(agent.base_dir, lb_id)
    settings = hr.Settings(stats_socket=f"{lb_dir}/stats.sock", pid_file=f"{lb_dir}/haproxy.pid",
                           state_file=f"{lb_dir}/servers.state", vip_addresses=("127.0.0.1",),
                           default_connection_limit=100, cert_dir="certs")
    member = dm.Member(member_id="m1", address="127.0.0.1", protocol_port=backend.server_port,
                       weight=1, backup=False, admin_state_up=True)
    pool = dm.Pool(pool_id="p1", protocol="HTTP", lb_algorithm="ROUND_ROBIN", members=[member],
                   admin_state_up=True)
    listener = dm.Listener(listener_id="l1", protocol="TERMINATED_HTTPS", protocol_port=port,
                           default_pool_id="p1", connection_limit=100, admin_state_up=True,
                           default_tls_container_ref="ref:www")
    lb = dm.LoadBalancer(loadbalancer_id=lb_id, vip_address="127.0.0.1", listeners=[listener],
                         pools=[pool], admin_state_up=True)
    return hr.render(lb, settings)


def _crt(issued):
    return issued.cert_pem + issued.key_pem


def test_certificate_put_get_list_delete_with_tight_permissions(agent):
    from testbed import tls_certs
    lb_id, data = "lb-certs", _crt(tls_certs.kit().www)
    response = agent.request("PUT", _cert_url(lb_id, "l1-0.pem"), data=data)
    md5 = hashlib.md5(data).hexdigest()
    assert (response.status_code, response.json()) == (200, {"message": "OK"})
    assert response.headers["ETag"].strip('"') == md5
    path = os.path.join(agent.base_dir, lb_id, "certs", "l1-0.pem")
    with open(path, "rb") as f:
        assert f.read() == data
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(os.path.dirname(path)).st_mode & 0o777 == 0o700
    assert agent.request("GET", _cert_url(lb_id, "l1-0.pem")).json() == {"md5sum": md5}
    assert agent.request("GET", _cert_url(lb_id)).json() == {
        "certificates": [{"filename": "l1-0.pem", "md5sum": md5}]}
    assert agent.request("DELETE", _cert_url(lb_id, "l1-0.pem")).json() == {"message": "OK"}
    assert agent.request("GET", _cert_url(lb_id, "l1-0.pem")).status_code == 404
    assert not os.path.exists(path)
    assert agent.request("GET", _cert_url(lb_id)).json() == {"certificates": []}


@pytest.mark.parametrize("name,body", [
    ("server.crt", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    (".hidden.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    ("x.pem", b"not a certificate"),
    ("x.pem", b""),
    ("x.pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\nrm -rf /\n"),
    ("x.pem", b"-----BEGIN CERTIFICATE-----\n\xff\xfe\n-----END CERTIFICATE-----\n"),
])
def test_certificate_with_a_bad_name_or_a_body_that_is_not_pem_is_400(agent, name, body):
    response = agent.request("PUT", _cert_url("lb-bad-cert", name), data=body)
    assert response.status_code == 400, response.text
    assert response.json()["message"] == "Invalid request"
    assert not os.path.exists(os.path.join(agent.base_dir, "lb-bad-cert", "certs", name))


def test_haproxy_serves_the_pushed_certificate_and_a_replaced_one_after_reload(agent, backends):
    from testbed import tls_certs
    kit = tls_certs.kit()
    lb_id, port = f"lb{next(SERIAL)}", free_port()
    assert agent.request("PUT", _cert_url(lb_id, "l1-0.pem"), data=_crt(kit.www)).ok
    text = render_tls(agent, lb_id, port, backends[0])
    assert "crt certs/l1-0.pem" in text
    response = upload(agent, lb_id, text)   # `haproxy -c` resolves certs/ in the LB directory
    assert response.status_code == 202, response.text
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/start").status_code == 202
    assert _served_cn(port, "www.example.test") == "www.example.test"
    renewed = kit.ca.issue("renewed www", ["www.example.test"])
    assert agent.request("PUT", _cert_url(lb_id, "l1-0.pem"), data=_crt(renewed)).ok
    assert agent.request("PUT", f"/1.0/loadbalancer/{lb_id}/reload").status_code == 202
    assert _served_cn(port, "www.example.test") == "renewed www"
    assert agent.request("DELETE", f"/1.0/listeners/{lb_id}").status_code == 200
    assert not os.path.exists(os.path.join(agent.base_dir, lb_id))


def test_config_naming_a_missing_certificate_is_refused(agent, backends):
    lb_id = f"lb{next(SERIAL)}"
    response = upload(agent, lb_id, render_tls(agent, lb_id, free_port(), backends[0]))
    assert response.status_code == 400
    assert "l1-0.pem" in response.json()["details"]


# -- what a request may name and carry ------------------------------------------------------

def _all_names(root):
    return {name for _, dirs, files in os.walk(root) for name in dirs + files}


PEM = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
PEM_END = len(b"-----END CERTIFICATE-----\n")


@pytest.mark.parametrize("method, path, body", [
    ("PUT", _cert_url("lb-names", "x.pem%0A"), PEM),
    ("PUT", _cert_url("lb-names%0A", "x.pem"), PEM),
    ("PUT", f"/1.0/loadbalancer/{AMPHORA}/lb-names%0A/haproxy", b"global\n"),
], ids=["file-name", "lb-id-of-a-certificate", "lb-id-of-a-config"])
def test_a_name_ending_in_a_newline_is_400_and_writes_nothing(agent, method, path, body):
    """Anchored with `$`, the checks let "x.pem\\n" through: a file by that name was made."""
    response = agent.request(method, path, data=body)
    assert response.status_code == 400, response.text
    assert not [n for n in _all_names(agent.base_dir) if "\n" in n]


@pytest.mark.parametrize("streamed", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("path", [
    f"/1.0/loadbalancer/{AMPHORA}/lb-big/haproxy", _cert_url("lb-big", "big.pem")],
    ids=["config", "certificate"])
def test_a_body_past_the_limit_is_413_and_writes_nothing(agent, path, streamed):
    """20 MB used to be read whole; a chunked body is not cut silently at the limit either."""
    from lbaas.agent.api import MAX_REQUEST_BYTES
    if path.endswith(".pem"):
        body = PEM[:-PEM_END] + b"A" * (MAX_REQUEST_BYTES + 1) + PEM[-PEM_END:]
    else:   # a valid configuration up to the limit, then more of it
        body = b"global\n" + b"#" * (MAX_REQUEST_BYTES - 8) + b"\n" + b"#" * 1024 + b"\n"
    data = (body[i:i + 65536] for i in range(0, len(body), 65536)) if streamed else body
    response = agent.request("PUT", path, data=data)
    assert response.status_code == 413, response.text
    assert response.json()["http_code"] == 413
    assert not os.path.exists(os.path.join(agent.base_dir, "lb-big"))
    assert agent.request("GET", "/").status_code == 200


def test_a_body_at_the_limit_is_read_whole(agent):
    from lbaas.agent.api import MAX_REQUEST_BYTES
    body = PEM[:-PEM_END] + b"A" * (MAX_REQUEST_BYTES - len(PEM)) + PEM[-PEM_END:]
    assert len(body) == MAX_REQUEST_BYTES
    response = agent.request("PUT", _cert_url("lb-limit", "at.pem"), data=iter([body]))
    assert response.status_code == 200, response.text
    with open(os.path.join(agent.base_dir, "lb-limit", "certs", "at.pem"), "rb") as f:
        assert f.read() == body
    agent.request("DELETE", "/1.0/listeners/lb-limit")


def test_a_superseded_lease_holder_is_refused_by_the_agent(agent, backends):
    """Two controllers' agent clients, the lease taken over from the first (generation 1) by
    the second (2): once the second has reached the amphora, even by a read, the first's
    writes get 409 and change nothing; requests without a generation still pass."""
    from lbaas.drivers.amphora.agent_client import AgentClient, AgentError
    lb_id, port = f"lb{next(SERIAL)}", free_port()
    old, new = (AgentClient(agent.pki["ca"], agent.pki["client"], agent.port) for _ in "ab")
    text = render(agent, lb_id, port, backends[0])
    old.fence("127.0.0.1", lb_id, 1)
    old.upload("127.0.0.1", AMPHORA, lb_id, text)
    new.fence("127.0.0.1", lb_id, 2)
    assert new.config("127.0.0.1", lb_id) == text          # a read raises the floor
    with pytest.raises(AgentError) as refused:
        old.upload("127.0.0.1", AMPHORA, lb_id, text + "# stale\n")
    assert refused.value.status == 409 and "generation 1" in str(refused.value.details)
    assert new.config("127.0.0.1", lb_id) == text
    assert new.details("127.0.0.1")["fences"][lb_id] == 2
    old.unfence(lb_id)                                      # no lease: not fenced
    old.remove("127.0.0.1", lb_id)
    assert new.config("127.0.0.1", lb_id) is None
