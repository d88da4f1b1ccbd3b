"""Housekeeping against real things: the agent's TLS context takes a new certificate for new
handshakes; a real amphora's certificate is rotated while traffic flows through its VIP
(no request fails, HAProxy untouched); `lbaas serve`'s housekeeper removes an orphaned
namespace after the grace period."""
import os
import socket
import stat
import threading
import time

import pytest
import requests
from cryptography import x509

from lbaas import conf as lbaas_conf
from lbaas.agent import server as agent_server
from lbaas.drivers.amphora import certs
from testbed import backends
from tests.functional.amphora_env import BACKEND_PORT, AmphoraEnv, wait_until

pytestmark = pytest.mark.functional
AMPHORA = "0b3c1d2e-0000-4000-8000-00000000c0de"
GRACE = 2


def _serial_over_tls(host, port, client_pem, ca_file):
    """(serial, not-after) of the certificate the TLS server at host:port presents now."""
    ctx = certs.client_context(client_pem, open(ca_file, "rb").read())
    ctx.check_hostname = False
    with socket.create_connection((host, port), timeout=5) as raw, \
            ctx.wrap_socket(raw) as tls:
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    return cert.serial_number, cert.not_valid_after_utc.replace(tzinfo=None)


def _serial(pem):
    return x509.load_pem_x509_certificate(pem).serial_number


# -- the agent's TLS context (no root needed) -----------------------------------------------
@pytest.fixture
def tls_agent(tmp_path):
    """A minimal app behind the agent's serve() with a replaceable certificate."""
    ca = certs.CertificateAuthority.load_or_create(str(tmp_path / "ca"))
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca.ca_pem)
    cert_file = certs.write_pair(str(tmp_path), "server", *ca.issue_server(AMPHORA, ["127.0.0.1"]))
    client = certs.write_pair(str(tmp_path), "client", *ca.issue_client("controller"))
    context = agent_server.tls_context(cert_file, str(ca_file))
    holder = agent_server.ServerCertificate(cert_file, context)
    from lbaas.agent.api import create_app
    app = create_app(str(tmp_path / "base"), "/bin/false")
    app.extensions["certificate"] = holder
    server = agent_server.serve("127.0.0.1", 0, app, context, holder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield {"ca": ca, "ca_file": str(ca_file), "cert_file": cert_file, "client": client,
           "port": server.server_port, "url": f"https://127.0.0.1:{server.server_port}"}
    server.shutdown()
    server.server_close()


def _put_certificate(agent, pem):
    return requests.put(agent["url"] + "/1.0/certificate", data=pem, cert=agent["client"],
                        verify=agent["ca_file"], timeout=10)


def test_a_certificate_loaded_into_the_live_context_is_presented_to_new_handshakes(tls_agent):
    before, _ = _serial_over_tls("127.0.0.1", tls_agent["port"], tls_agent["client"],
                                 tls_agent["ca_file"])
    # a connection made before the rotation keeps working on its certificate
    ctx = certs.client_context(tls_agent["client"], tls_agent["ca"].ca_pem)
    ctx.check_hostname = False
    early = ctx.wrap_socket(socket.create_connection(("127.0.0.1", tls_agent["port"]), 5))
    cert, key = tls_agent["ca"].issue_server(AMPHORA, ["127.0.0.1"])
    resp = _put_certificate(tls_agent, cert + key)
    assert resp.status_code == 202, resp.text
    after, _ = _serial_over_tls("127.0.0.1", tls_agent["port"], tls_agent["client"],
                                tls_agent["ca_file"])
    assert before != after == _serial(cert)
    early.sendall(b"GET / HTTP/1.0\r\n\r\n")
    assert early.recv(100).startswith(b"HTTP/1.")
    early.close()
    with open(tls_agent["cert_file"], "rb") as f:
        assert f.read() == cert + key
    assert stat.S_IMODE(os.stat(tls_agent["cert_file"]).st_mode) == 0o600


def test_a_certificate_that_does_not_load_is_refused_and_the_old_one_kept(tls_agent):
    before = open(tls_agent["cert_file"], "rb").read()
    other_cert, _ = tls_agent["ca"].issue_server(AMPHORA, ["127.0.0.1"])
    _, other_key = tls_agent["ca"].issue_server(AMPHORA, ["127.0.0.1"])
    resp = _put_certificate(tls_agent, other_cert + other_key)   # key of another cert
    assert resp.status_code == 400, resp.text
    assert open(tls_agent["cert_file"], "rb").read() == before
    serial, _ = _serial_over_tls("127.0.0.1", tls_agent["port"], tls_agent["client"],
                                 tls_agent["ca_file"])
    assert serial == _serial(before.split(b"-----END CERTIFICATE-----")[0]
                             + b"-----END CERTIFICATE-----\n")
    assert [f for f in os.listdir(os.path.dirname(tls_agent["cert_file"]))
            if f.startswith(".")] == []   # no temporary file left behind


def test_an_agent_without_a_certificate_holder_answers_404():
    from lbaas.agent.api import create_app
    app = create_app("/nonexistent", "/bin/false")
    assert app.test_client().put("/1.0/certificate", data=b"x").status_code == 404


# -- a real amphora ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def env(amphora_host, tmp_path_factory):
    env = AmphoraEnv(tmp_path_factory.mktemp("amphora-housekeeping"), extra_config={
        "house_keeping": {"cleanup_interval": 1, "orphan_grace_period": GRACE}})
    try:
        env.start()
        env.backend("one", 1)
        yield env
    finally:
        env.stop()


@pytest.fixture(scope="module")
def housekeeper(env):
    """A housekeeper of the test's own on env's database, CA and amphorae (as
    lbaas-housekeeping builds it), rotating every certificate (they live 30 days)."""
    from lbaas.cmd.housekeeping import build
    conf = lbaas_conf.make_conf(config_files=[env.config_path])
    conf.set_override("cert_rotate_before", 40 * 24 * 3600, group="house_keeping")
    core, keeper = build(conf)
    yield keeper
    core.close()


class Traffic(threading.Thread):
    """HTTP requests through a VIP every 10 ms, counting successes and failures."""

    def __init__(self, vip):
        super().__init__(daemon=True)
        self.vip, self.stopped = vip, threading.Event()
        self.ok, self.failures = 0, []

    def run(self):
        while not self.stopped.is_set():
            try:
                resp = backends.http_get(self.vip, "/", 80, timeout=2)
                if resp.status == 200:
                    self.ok += 1
                else:
                    self.failures.append(resp.status)
            except OSError as exc:
                self.failures.append(repr(exc))
            self.stopped.wait(0.01)


def test_rotating_a_certificate_under_traffic_fails_no_request(env, housekeeper, tmp_path):
    pool = {"name": "hk-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": [{"address": env.member_host(201), "protocol_port": BACKEND_PORT,
                         "subnet_id": env.member_subnet_id}]}
    lb = env.create_graph("hk-rotate", [{"protocol": "HTTP", "protocol_port": 80,
                                         "default_pool": pool}])
    env.wait_vip(lb["vip_address"])
    amp, = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]
    ca = housekeeper.reconciler.ca
    client = certs.write_pair(str(tmp_path), "client", *ca.issue_client("test"))
    ca_file = os.path.join(ca.directory, certs.CA_CERT)
    port = housekeeper.conf.controller_worker.agent_port
    old_serial, old_expiry = _serial_over_tls(amp["lb_network_ip"], port, client, ca_file)
    pids = _haproxy_pids(env, amp["id"])
    assert pids, "no HAProxy process found for the amphora"
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    try:
        wait_until(lambda: traffic.ok >= 20, 10, "traffic through the VIP")
        assert amp["id"] in housekeeper.rotate_certificates()
        served = traffic.ok
        wait_until(lambda: traffic.ok >= served + 20, 10, "traffic after the rotation")
    finally:
        traffic.stopped.set()
        traffic.join(5)
    assert traffic.failures == [], traffic.failures[:5]
    new_serial, new_expiry = _serial_over_tls(amp["lb_network_ip"], port, client, ca_file)
    assert new_serial != old_serial and new_expiry > old_expiry
    row = env.get(f"/v2/octavia/amphorae/{amp['id']}")["amphora"]
    assert row["cert_busy"] is False
    assert row["cert_expiration"].startswith(new_expiry.isoformat()[:16])
    assert _haproxy_pids(env, amp["id"]) == pids   # HAProxy not restarted
    # the worker still talks to the agent (it trusts the same CA): a change goes through
    env.put(f"/v2/lbaas/loadbalancers/{lb['id']}", {"loadbalancer": {"description": "x"}})
    env.wait_active("loadbalancers", lb["id"])
    env.delete_lb(lb["id"])


def _haproxy_pids(env, amphora_id):
    stem = "".join(ch for ch in amphora_id.lower() if ch.isalnum())[:10]
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"haproxy" in cmd and stem.encode() in cmd and b"lbaas.agent" not in cmd:
            found.append(int(pid))
    return sorted(found)


def test_an_orphaned_namespace_is_removed_after_the_grace_period(env):
    """An amphora left by a crash: a namespace with a process and files, and no row."""
    from lbaas.drivers.amphora.compute.local import LocalCompute
    compute = LocalCompute(env.mgmt_bridge, str(env.mgmt_cidr), env.amphora_dir)
    orphan = "0fab0fab-0000-4000-8000-" + os.urandom(6).hex()
    start = time.monotonic()
    compute.create(orphan, files={"server.pem": b"not a real certificate"})
    compute.spawn(orphan, ["sleep", "600"])
    env.amphora_ids.add(orphan)
    wait_until(lambda: not compute.exists(orphan), 30, "lbaas serve's housekeeper to remove "
                                                       "the orphaned namespace")
    assert time.monotonic() - start >= GRACE     # never before the grace period
    assert env.leftovers({orphan}) == []
