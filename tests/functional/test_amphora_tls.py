"""Real TLS traffic through an amphora's VIP (docs/tls.md): certificates imported with
`lbaas certificate import`, pushed by the worker to the amphora agent, served by HAProxy.

One load balancer carries every scenario, one listener each, so the module pays for one
amphora: SNI and ALPN on :443, MANDATORY client authentication with a CRL on :444,
re-encryption to a TLS member whose CA is (:80) or is not (:81) the pool's CA. The
changes come last: a new reference, new content behind the same reference, a deleted
listener's files leaving the amphora, an ACTIVE_STANDBY pair (a load balancer of its own),
and a reference deleted from the store (the update goes ERROR).
"""
import http.client
import json
import socket
import sqlite3
import ssl
import subprocess
import uuid

import pytest
from cryptography import x509

from testbed import tls_certs
from testbed import backends
from tests.functional.amphora_env import wait_until
from testbed.service import clean_env, venv_command

pytestmark = pytest.mark.functional
K = tls_certs.kit()
SNI, MTLS, REENCRYPT, WRONG_CA = 443, 444, 80, 81
K_BACKEND, PLAIN_PORT, TLS_PORT = 9, 8091, 8443   # the member subnet's 209th address
SSL_HEADERS = ["X-SSL-Client-Verify", "X-SSL-Client-Has-Cert", "X-SSL-Client-DN",
               "X-SSL-Client-CN", "X-SSL-Issuer"]


def import_cert(env, **files):
    """`lbaas certificate import` on the env's database; the reference it prints."""
    argv = [venv_command("lbaas"), "--config-file", env.config_path, "certificate", "import"]
    for option, data in files.items():
        path = f"{env.root}/{uuid.uuid4()}.in"
        with open(path, "wb") as f:
            f.write(data)
        argv += [f"--{option}", path]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60,
                          env=clean_env(LBAAS_CONFIG_FILE=""))
    assert proc.returncode == 0 and proc.stdout.startswith("lbaas://certificates/"), proc.stderr
    return proc.stdout.strip()


def client_context(tmp_path, client=None, alpn=None):
    """A TLS client that trusts the test CA, with a client certificate if given."""
    ctx = ssl.create_default_context(cadata=K.ca.cert_pem.decode())
    if client is not None:
        path = tmp_path / f"client-{uuid.uuid4()}.pem"
        path.write_bytes(client.cert_pem + client.key_pem)
        ctx.load_cert_chain(str(path))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def handshake(vip, port, server_name, ctx=None):
    """(subject CN of the served certificate, negotiated ALPN) for one TLS connection."""
    ctx = ctx or ssl.create_default_context(cadata=K.ca.cert_pem.decode())
    with socket.create_connection((vip, port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            der, alpn = tls.getpeercert(binary_form=True), tls.selected_alpn_protocol()
    cert = x509.load_der_x509_certificate(der)
    return cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value, alpn


class _Https(http.client.HTTPConnection):
    """HTTP/1.1 over TLS to an IP, with an SNI name and a context of the test's choosing."""

    def __init__(self, host, port, ctx, server_name, timeout=5):
        super().__init__(host, port, timeout=timeout)
        self.ctx, self.server_name = ctx, server_name

    def connect(self):
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self.ctx.wrap_socket(raw, server_hostname=self.server_name)


def https_get(vip, port, ctx, path="/", server_name="www.example.test"):
    """(status, body) of one HTTPS request through the VIP."""
    conn = _Https(vip, port, ctx, server_name)
    try:
        conn.request("GET", path, headers={"Host": server_name})
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


@pytest.fixture(scope="module")
def tls(amphora_cloud, tmp_path_factory):
    """Imported references, a plain and a TLS backend, and the load balancer; a dict."""
    env = amphora_cloud
    ns = env.backend_namespace()
    ip = env.member_host(200 + K_BACKEND)
    cert_file = tmp_path_factory.mktemp("member") / "member.pem"
    cert_file.write_bytes(K.member.cert_pem + K.member.key_pem)
    for port, name, cert in ((PLAIN_PORT, "tls-plain", None),
                             (TLS_PORT, "tls-member", str(cert_file))):
        if (K_BACKEND, port) not in env.backends:   # env.stop() stops them
            env.backends[(K_BACKEND, port)] = backends.Backend(
                ns, ip, port, name, env.root, tls_cert=cert).start()
    refs = {"www": import_cert(env, cert=K.www.cert_pem, key=K.www.key_pem),
            "api": import_cert(env, cert=K.api.cert_pem, key=K.api.key_pem),
            "shop": import_cert(env, pkcs12=K.shop.pkcs12()),
            "ca": import_cert(env, cert=K.ca.cert_pem), "crl": import_cert(env, crl=K.crl),
            "other_ca": import_cert(env, cert=K.other_ca.cert_pem)}

    def pool(name, port, **extra):
        return dict({"name": name, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                     "members": [{"address": ip, "protocol_port": port,
                                  "subnet_id": env.member_subnet_id}]}, **extra)

    listeners = [
        {"name": "sni", "protocol": "TERMINATED_HTTPS", "protocol_port": SNI,
         "connection_limit": 200, "default_tls_container_ref": refs["www"],
         "sni_container_refs": [refs["api"], refs["shop"]], "alpn_protocols": ["h2", "http/1.1"],
         "default_pool": pool("plain-sni", PLAIN_PORT)},
        {"name": "mtls", "protocol": "TERMINATED_HTTPS", "protocol_port": MTLS,
         "connection_limit": 200, "default_tls_container_ref": refs["www"],
         "client_authentication": "MANDATORY", "client_ca_tls_container_ref": refs["ca"],
         "client_crl_container_ref": refs["crl"],
         "insert_headers": {h: "true" for h in SSL_HEADERS},
         "default_pool": pool("plain-mtls", PLAIN_PORT)},
        {"name": "reencrypt", "protocol": "HTTP", "protocol_port": REENCRYPT,
         "connection_limit": 200,
         "default_pool": pool("tls-ca", TLS_PORT, tls_enabled=True,
                              ca_tls_container_ref=refs["ca"])},
        {"name": "wrong-ca", "protocol": "HTTP", "protocol_port": WRONG_CA,
         "connection_limit": 200,
         "default_pool": pool("tls-other-ca", TLS_PORT, tls_enabled=True,
                              ca_tls_container_ref=refs["other_ca"])},
    ]
    lb = env.create_graph(f"tls-{env.token}", listeners)
    for port in (SNI, MTLS, REENCRYPT, WRONG_CA):
        env.wait_vip(lb["vip_address"], port)
    yield {"env": env, "lb": lb, "vip": lb["vip_address"], "refs": refs}
    env.delete_lb(lb["id"])


def test_each_sni_name_gets_its_certificate_and_others_the_default(tls):
    vip = tls["vip"]
    assert handshake(vip, SNI, "www.example.test")[0] == "www.example.test"
    assert handshake(vip, SNI, "api.example.test")[0] == "api.example.test"
    assert handshake(vip, SNI, "cart.shop.example.test")[0] == "shop.example.test"
    ctx = ssl.create_default_context(cadata=K.ca.cert_pem.decode())
    ctx.check_hostname = False
    assert handshake(vip, SNI, "unknown.example.test", ctx)[0] == "www.example.test"


def test_the_certificate_files_on_the_amphora_are_0600(tls):
    env, lb_id = tls["env"], tls["lb"]["id"]
    (amphora,) = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
    files = env_agent_files(env, amphora, lb_id)
    # :443 three crt files; :444 crt, client CA, CRL; the two re-encrypting pools a CA each
    assert len(files) == 8, files
    assert set(files.values()) == {0o600}, files


def test_alpn_negotiates_h2_and_http11_clients_still_get_answers(tls, tmp_path):
    vip = tls["vip"]
    assert handshake(vip, SNI, "www.example.test",
                     client_context(tmp_path, alpn=["h2", "http/1.1"]))[1] == "h2"
    ctx = client_context(tmp_path, alpn=["http/1.1"])
    assert handshake(vip, SNI, "www.example.test", ctx)[1] == "http/1.1"
    assert https_get(vip, SNI, ctx) == (200, b"tls-plain")


@pytest.mark.parametrize("who", [None, "revoked"])
def test_mandatory_client_auth_refuses_no_certificate_and_a_revoked_one(tls, tmp_path, who):
    ctx = client_context(tmp_path, client=getattr(K, who) if who else None)
    with pytest.raises((OSError, http.client.HTTPException)):
        https_get(tls["vip"], MTLS, ctx)


def test_mandatory_client_auth_accepts_a_valid_client_and_the_member_sees_its_headers(
        tls, tmp_path):
    status, body = https_get(tls["vip"], MTLS, client_context(tmp_path, client=K.client),
                             "/echo")
    assert status == 200, body
    echoed = json.loads(body)
    headers = {k.lower(): v for k, v in echoed["headers"].items()}
    assert echoed["name"] == "tls-plain"
    assert headers["x-ssl-client-verify"] == "0"
    assert headers["x-ssl-client-has-cert"] == "1"
    assert "good client" in headers["x-ssl-client-cn"]
    assert "CN=good client" in headers["x-ssl-client-dn"]
    assert "CN=lbaas test CA" in headers["x-ssl-issuer"]


def test_reencryption_reaches_a_tls_member_whose_certificate_the_pool_ca_signed(tls):
    resp = backends.http_get(tls["vip"], "/", REENCRYPT)
    assert (resp.status, resp.text) == (200, "tls-member")


def test_reencryption_refuses_a_member_the_pool_ca_did_not_sign(tls):
    # each of HAProxy's 3 retries waits up to a second after the failed server handshake
    resp = backends.http_get(tls["vip"], "/", WRONG_CA, timeout=15)
    assert resp.status == 503, resp


def _listener_id(tls, port):
    listeners = tls["env"].get(f"/v2/lbaas/listeners?loadbalancer_id={tls['lb']['id']}")
    return next(li["id"] for li in listeners["listeners"] if li["protocol_port"] == port)


def test_a_new_reference_is_served_after_the_listener_update(tls):
    env, vip = tls["env"], tls["vip"]
    fresh = K.ca.issue("www reissued", ["www.example.test"])
    ref = import_cert(env, cert=fresh.cert_pem, key=fresh.key_pem)
    listener_id = _listener_id(tls, SNI)
    env.put(f"/v2/lbaas/listeners/{listener_id}",
            {"listener": {"default_tls_container_ref": ref}})
    env.wait_active("loadbalancers", tls["lb"]["id"])
    assert handshake(vip, SNI, "www.example.test")[0] == "www reissued"
    assert handshake(vip, SNI, "api.example.test")[0] == "api.example.test"


def _replace_in_store(env, ref, replacement):
    """Put another certificate's content behind `ref` in the local store's table (what a
    renewal behind an unchanged reference looks like; `lbaas certificate` has no replace)."""
    db = sqlite3.connect(f"{env.state_path}/lbaas.sqlite", timeout=10)
    try:
        with db:
            db.execute("UPDATE certificate SET (certificate, private_key, intermediates, "
                       "expires_at) = (SELECT certificate, private_key, intermediates, "
                       "expires_at FROM certificate WHERE id = ?) WHERE id = ?",
                       (replacement.rsplit("/", 1)[1], ref.rsplit("/", 1)[1]))
    finally:
        db.close()


def test_a_certificate_renewed_behind_the_same_reference_is_served_after_a_reconcile(tls):
    env, vip = tls["env"], tls["vip"]
    renewed = K.ca.issue("api renewed", ["api.example.test"])
    _replace_in_store(env, tls["refs"]["api"],
                      import_cert(env, cert=renewed.cert_pem, key=renewed.key_pem))
    assert handshake(vip, SNI, "api.example.test")[0] == "api.example.test"   # not yet
    amphorae = env.get(f"/v2/octavia/amphorae?loadbalancer_id={tls['lb']['id']}")["amphorae"]
    for amphora in amphorae:   # "push the configuration again": a reconcile, nothing changed
        env.put(f"/v2/octavia/amphorae/{amphora['id']}/config", None, expect=202)
    wait_until(lambda: handshake(vip, SNI, "api.example.test")[0] == "api renewed", 30,
               "the renewed certificate to be served")
    assert handshake(vip, SNI, "www.example.test")[0] == "www reissued"


def test_files_of_a_deleted_listener_leave_the_amphora(tls):
    env, lb_id = tls["env"], tls["lb"]["id"]
    (amphora,) = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
    listener_id = _listener_id(tls, MTLS)
    assert {f"{listener_id}-0.pem", f"{listener_id}-client-ca.pem",
            f"{listener_id}-client-crl.pem"} <= set(env_agent_files(env, amphora, lb_id))
    env.delete(f"/v2/lbaas/listeners/{listener_id}")
    env.wait_active("loadbalancers", lb_id)
    left = env_agent_files(env, amphora, lb_id)
    assert not [n for n in left if n.startswith(listener_id)], left
    assert len(left) == 5, left   # :443's three crt files and the two pool CAs
    assert handshake(tls["vip"], SNI, "api.example.test")[0] == "api renewed"


def test_an_active_standby_pair_gets_the_files_on_both_amphorae(tls):
    env = tls["env"]
    profile = env.post("/v2/lbaas/flavorprofiles", {"flavorprofile": {
        "name": f"as-{env.token}", "provider_name": "amphora",
        "flavor_data": json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"})}})
    flavor = env.post("/v2/lbaas/flavors", {"flavor": {
        "name": f"as-{env.token}", "flavor_profile_id": profile["flavorprofile"]["id"],
        "enabled": True}})["flavor"]
    pair = K.ca.issue("pair.example.test", ["pair.example.test"])
    ref = import_cert(env, cert=pair.cert_pem, key=pair.key_pem)
    lb = env.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
        "name": f"tls-pair-{env.token}", "vip_subnet_id": env.vip_subnet_id,
        "flavor_id": flavor["id"], "listeners": [{
            "name": "pair", "protocol": "TERMINATED_HTTPS", "protocol_port": 443,
            "connection_limit": 100, "default_tls_container_ref": ref}]}})["loadbalancer"]
    try:
        env.wait_active("loadbalancers", lb["id"], timeout=90)
        env.remember_amphorae(lb["id"])
        amphorae = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]
        assert sorted(a["role"] for a in amphorae) == ["BACKUP", "MASTER"], amphorae
        for amphora in amphorae:   # the agent answers the md5 of what the worker sent
            files = env_agent_files(env, amphora, lb["id"])
            assert files == {f"{_listener_of(env, lb['id'])}-0.pem": 0o600}, files
        env.wait_vip(lb["vip_address"], 443, timeout=30)
        assert handshake(lb["vip_address"], 443, "pair.example.test")[0] == "pair.example.test"
    finally:
        env.delete_lb(lb["id"])


def _listener_of(env, lb_id):
    return env.get(f"/v2/lbaas/listeners?loadbalancer_id={lb_id}")["listeners"][0]["id"]


def env_agent_files(env, amphora, lb_id):
    """{file name: mode} of the LB's certs/ in one amphora's agent directory."""
    import os
    from lbaas.drivers.amphora.compute.local import short_id
    directory = os.path.join(env.amphora_dir, short_id(amphora["id"]), "lb", lb_id, "certs")
    return {n: os.stat(os.path.join(directory, n)).st_mode & 0o777
            for n in sorted(os.listdir(directory))}


def test_a_reference_gone_from_the_store_puts_the_update_in_error_and_says_why(tls):
    env, vip = tls["env"], tls["vip"]
    ref = tls["refs"]["shop"]
    proc = subprocess.run([venv_command("lbaas"), "--config-file", env.config_path,
                           "certificate", "delete", ref], capture_output=True, text=True,
                          timeout=60, env=clean_env(LBAAS_CONFIG_FILE=""))
    assert proc.returncode == 0, proc.stderr
    listener_id = _listener_id(tls, SNI)
    env.put(f"/v2/lbaas/listeners/{listener_id}", {"listener": {"name": "sni-renamed"}})
    wait_until(lambda: env.show("listeners", listener_id)["provisioning_status"] == "ERROR",
               30, "the listener to go ERROR")
    log = env.service.log_tail(200_000)
    assert "a TLS certificate reference cannot be used" in log
    assert ref.rsplit("/", 1)[1] in log
    # nothing was pushed: the amphora still serves what it had
    assert handshake(vip, SNI, "cart.shop.example.test")[0] == "shop.example.test"
