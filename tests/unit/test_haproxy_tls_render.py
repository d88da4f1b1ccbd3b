"""TLS in the amphora's haproxy.cfg: every config checked by `haproxy -c` against real PEM
files written by tls.certificate_files, and the handshake itself with HAProxy running."""
import http.server
import os
import socket
import ssl
import subprocess
import threading

import pytest
from octavia_lib.api.drivers import exceptions

from lbaas.certificates import CertManager, Certificate, CertificateNotFound
from lbaas.drivers.amphora.haproxy import render as hr
from lbaas.drivers.amphora.haproxy import tls
from testbed import tls_certs
from tests.unit import test_haproxy_render as base
from tests.unit.test_haproxy_render import (_free_port, listener, loadbalancer, member, monitor,
                                            policy, pool, rule, running, section)

K = tls_certs.kit()
WWW, API, SHOP = "ref:www", "ref:api", "ref:shop"
CA, CRL, MEMBER_CA = "ref:ca", "ref:crl", "ref:member-ca"
CLIENT = "ref:client"


class DictManager(CertManager):
    """A certificate manager over a dict (the store is not what these tests are about)."""

    def __init__(self):
        super().__init__(None)
        self.certs = {WWW: K.www, API: K.api, SHOP: K.shop, CLIENT: K.client}
        self.secrets = {CA: K.ca.cert_pem, CRL: K.crl, MEMBER_CA: K.ca.cert_pem}

    def get_cert(self, context, ref):
        if ref not in self.certs:
            raise CertificateNotFound(f"{ref} not found")
        item = self.certs[ref]
        return Certificate(certificate=item.cert_pem, private_key=item.key_pem)

    def get_secret(self, context, ref):
        if ref not in self.secrets:
            raise CertificateNotFound(f"{ref} not found")
        return self.secrets[ref]


@pytest.fixture(scope="session")
def haproxy_path():
    """The haproxy binary (a skip, or a failure under CI, without it)."""
    path = base._haproxy()
    if path is None:
        reason = "haproxy is not installed (scripts/setup.sh --test installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def tls_settings(tmp_path):
    """Runtime settings in a temporary directory, certificate files in its certs/."""
    (tmp_path / "certs").mkdir()
    (tmp_path / "state").write_text("1\n")
    return hr.Settings(stats_socket=str(tmp_path / "lb.sock"), pid_file=str(tmp_path / "lb.pid"),
                       state_file=str(tmp_path / "state"), cert_dir=str(tmp_path / "certs"),
                       log_targets=("stdout format raw local0",))


@pytest.fixture
def build(haproxy_path, tls_settings, tmp_path):
    """Write the certificate files, render, and check the config with `haproxy -c`."""
    def _build(lb):
        write_files(lb, tls_settings)
        cfg = hr.render(lb, tls_settings)
        path = tmp_path / "haproxy.cfg"
        path.write_text(cfg)
        proc = subprocess.run([haproxy_path, "-c", "-f", str(path)], capture_output=True,
                              text=True)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"haproxy -c failed:\n{out}\n---\n{cfg}"
        assert "[WARNING]" not in out and "[ALERT]" not in out, f"{out}\n---\n{cfg}"
        return cfg
    return _build


def write_files(lb, tls_settings):
    """certificate_files of the load balancer, written into its cert_dir."""
    files = tls.certificate_files(lb, DictManager())
    for name, data in files.items():
        path = f"{tls_settings.cert_dir}/{name}"
        with open(path, "wb") as f:
            f.write(data)
    return files


def https(lid="l1", port=443, **kw):
    """A TERMINATED_HTTPS listener serving the www certificate."""
    kw.setdefault("default_tls_container_ref", WWW)
    return listener(lid, protocol="TERMINATED_HTTPS", port=port, **kw)


def bind_words(cfg, lid="l1"):
    """The words of the frontend's first bind line."""
    return next(ln for ln in section(cfg, f"frontend {lid}") if ln.startswith("bind ")).split()


def test_sni_certificates_follow_the_default_one(build, tls_settings):
    """The default certificate is the first `crt`, the SNI ones follow in order."""
    cfg = build(loadbalancer([https(sni_container_refs=[API, SHOP])], [pool()]))
    words = bind_words(cfg)
    crts = [words[i + 1] for i, w in enumerate(words) if w == "crt"]
    assert crts == [f"{tls_settings.cert_dir}/l1-{n}.pem" for n in range(3)]
    assert words[2] == "ssl" and "mode http" in section(cfg, "frontend l1")


def test_crt_file_is_certificate_then_key(tls_settings):
    """A crt file holds the certificate and its unencrypted key, nothing else."""
    files = write_files(loadbalancer([https()], [pool()]), tls_settings)
    assert set(files) == {"l1-0.pem"}
    data = files["l1-0.pem"]
    assert data.startswith(K.www.cert_pem) and data.endswith(K.www.key_pem)


@pytest.mark.parametrize("auth,verify", [("NONE", "none"), ("OPTIONAL", "optional"),
                                         ("MANDATORY", "required")])
def test_client_authentication_sets_ca_file_verify_and_crl(build, tls_settings, auth, verify):
    cfg = build(loadbalancer([https(client_ca_tls_container_ref=CA, client_authentication=auth,
                                    client_crl_container_ref=CRL)], [pool()]))
    line = " ".join(bind_words(cfg))
    d = tls_settings.cert_dir
    assert f"ca-file {d}/l1-client-ca.pem verify {verify} crl-file {d}/l1-client-crl.pem" in line


def test_ciphers_versions_and_alpn_on_the_bind_line(build):
    cfg = build(loadbalancer([https(tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256:TLS_AES_256_GCM_SHA384",
                                    tls_versions=["TLSv1.2", "TLSv1.3"],
                                    alpn_protocols=["h2", "http/1.1"])], [pool()]))
    line = " ".join(bind_words(cfg))
    assert "ciphers ECDHE-RSA-AES128-GCM-SHA256 ciphersuites TLS_AES_256_GCM_SHA384" in line
    assert "ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3" in line and "alpn h2,http/1.1" in line


def test_a_gap_in_tls_versions_is_excluded(build):
    """TLSv1.1 and TLSv1.3 without TLSv1.2: a no-* flag for each version left out."""
    words = bind_words(build(loadbalancer([https(tls_versions=["TLSv1.1", "TLSv1.3"])],
                                          [pool()])))
    line = " ".join(words)
    assert "no-sslv3 no-tlsv10 no-tlsv12" in line and "ssl-min-ver" not in line


def test_hsts_header_is_set_on_responses(build):
    cfg = build(loadbalancer([https(hsts_max_age=31536000, hsts_include_subdomains=True,
                                    hsts_preload=True)], [pool()]))
    assert ('http-response set-header Strict-Transport-Security '
            '"max-age=31536000; includeSubDomains; preload"') in section(cfg, "frontend l1")


def test_ssl_client_headers_reach_the_backend(build):
    headers = {name: "true" for name in tls.SSL_HEADERS}
    headers.update({"X-Forwarded-Proto": "true", "X-SSL-Client-DN": "false"})
    cfg = build(loadbalancer([https(client_ca_tls_container_ref=CA,
                                    client_authentication="OPTIONAL",
                                    insert_headers=headers)], [pool()]))
    be = section(cfg, "backend p1:l1")
    assert "http-request set-header X-SSL-Client-Verify %[ssl_c_verify]" in be
    assert "http-request set-header X-SSL-Client-SHA1 %{+Q}[ssl_c_sha1,hex]" in be
    assert "http-request set-header X-Forwarded-Proto https" in be
    assert not any("X-SSL-Client-DN" in ln for ln in be)
    assert sum("X-SSL-" in ln for ln in be) == len(tls.SSL_HEADERS) - 1


def test_ssl_l7_rules_render_on_a_terminating_listener(build):
    rules = [rule("r1", "SSL_CONN_HAS_CERT", "EQUAL_TO", "true"),
             rule("r2", "SSL_VERIFY_RESULT", "EQUAL_TO", "0"),
             rule("r3", "SSL_DN_FIELD", "STARTS_WITH", "good", key="CN")]
    cfg = build(loadbalancer([https(client_ca_tls_container_ref=CA,
                                    client_authentication="OPTIONAL",
                                    l7policies=[policy("pol", "REJECT", rules)])], [pool()]))
    fe = section(cfg, "frontend l1")
    assert {"acl r1 ssl_c_used", "acl r2 ssl_c_verify eq 0",
            "acl r3 ssl_c_s_dn(CN) -m beg good"} <= set(fe)


def test_reencryption_verifies_members_with_ca_and_crl(build, tls_settings):
    p = pool(tls_enabled=True, tls_container_ref=CLIENT, ca_tls_container_ref=MEMBER_CA,
             crl_container_ref=CRL, tls_versions=["TLSv1.3"], alpn_protocols=["h2"],
             tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256", healthmonitor=monitor("HTTPS"))
    cfg = build(loadbalancer([https()], [p]))
    server = next(ln for ln in section(cfg, "backend p1:l1") if ln.startswith("server "))
    d = tls_settings.cert_dir
    assert (f"ssl sni ssl_fc_sni crt {d}/p1-client.pem ca-file {d}/p1-ca.pem verify required "
            f"crl-file {d}/p1-crl.pem ciphers ECDHE-ECDSA-AES128-GCM-SHA256 ssl-min-ver TLSv1.3 "
            "ssl-max-ver TLSv1.3 alpn h2") in server
    assert "check-alpn h2" in server and "check-ssl" not in server


def test_reencryption_without_ca_does_not_verify(build):
    cfg = build(loadbalancer([listener()], [pool(tls_enabled=True)]))
    server = next(ln for ln in section(cfg, "backend p1:l1") if ln.startswith("server "))
    assert server.endswith("ssl verify none") and "sni" not in server


def test_proxy_v2_pool_behind_tls_sends_the_client_cn(build):
    cfg = build(loadbalancer([https()], [pool(protocol="PROXYV2")]))
    assert any("send-proxy-v2-ssl-cn" in ln for ln in section(cfg, "backend p1:l1"))


def test_certificate_files_names_every_file_the_config_uses(tls_settings):
    lb = loadbalancer([https(sni_container_refs=[API], client_ca_tls_container_ref=CA,
                             client_crl_container_ref=CRL)],
                      [pool(tls_enabled=True, tls_container_ref=CLIENT,
                            ca_tls_container_ref=MEMBER_CA)])
    files = tls.certificate_files(lb, DictManager())
    cfg = hr.render(lb, tls_settings)
    assert sorted(files) == ["l1-0.pem", "l1-1.pem", "l1-client-ca.pem", "l1-client-crl.pem",
                             "p1-ca.pem", "p1-client.pem"]
    assert all(f"{tls_settings.cert_dir}/{name}" in cfg for name in files)


def test_certificate_files_raise_for_an_unreadable_reference():
    with pytest.raises(CertificateNotFound):
        tls.certificate_files(loadbalancer([https(default_tls_container_ref="ref:gone")],
                                           [pool()]), DictManager())


@pytest.mark.parametrize("lb,option", [
    (loadbalancer([https(tls_versions=["SSLv3", "TLSv1.2"])], [pool()]), "SSLv3"),
    (loadbalancer([listener()], [pool(tls_enabled=True, tls_versions=["SSLv3"])]), "SSLv3"),
    (loadbalancer([https(default_tls_container_ref=None)], [pool()]), "TERMINATED_HTTPS"),
])
def test_what_still_cannot_render_is_refused(tls_settings, lb, option):
    with pytest.raises(exceptions.UnsupportedOptionError) as err:
        hr.render(lb, tls_settings)
    assert option in err.value.user_fault_string


# --- HAProxy running: the handshake ---------------------------------------------------------------

class _Echo(http.server.BaseHTTPRequestHandler):
    """A member answering with the request headers it received."""

    def do_GET(self):
        body = "".join(f"{k}: {v}\n" for k, v in self.headers.items()).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def echo_member():
    """An HTTP server on 127.0.0.1 that echoes request headers; its port."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def _handshake(port, name, client=None, alpn=None, request=False):
    """Connect with SNI `name`; (peer certificate CN, ALPN, response text or None)."""
    ctx = ssl.create_default_context(cadata=K.ca.cert_pem.decode())
    if alpn:
        ctx.set_alpn_protocols(alpn)
    if client is not None:
        import tempfile
        with tempfile.NamedTemporaryFile("wb", suffix=".pem", delete=False) as f:
            f.write(client.cert_pem + client.key_pem)
        ctx.load_cert_chain(f.name)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=name) as conn:
            cn = dict(x[0] for x in conn.getpeercert()["subject"])["commonName"]
            text = None
            if request:
                conn.sendall(f"GET / HTTP/1.1\r\nHost: {name}\r\nConnection: close\r\n\r\n"
                             .encode())
                chunks = []
                while data := conn.recv(65536):
                    chunks.append(data)
                text = b"".join(chunks).decode(errors="replace")
            return cn, conn.selected_alpn_protocol(), text


def test_running_haproxy_serves_the_certificate_of_each_sni_name(haproxy_path, tls_settings):
    port = _free_port()
    lb = loadbalancer([https(port=port, sni_container_refs=[API, SHOP], connection_limit=100,
                             alpn_protocols=["h2", "http/1.1"])], [pool()])
    write_files(lb, tls_settings)
    with running(haproxy_path, lb, tls_settings):
        assert _handshake(port, "api.example.test")[0] == "api.example.test"
        assert _handshake(port, "x.shop.example.test")[0] == "shop.example.test"
        assert _handshake(port, "www.example.test", alpn=["h2", "http/1.1"]) == \
            ("www.example.test", "h2", None)


def test_running_haproxy_enforces_mandatory_client_auth_and_the_crl(haproxy_path, tls_settings,
                                                                    echo_member):
    port = _free_port()
    headers = {"X-SSL-Client-CN": "true", "X-SSL-Client-Verify": "true"}
    lb = loadbalancer([https(port=port, connection_limit=100, client_ca_tls_container_ref=CA,
                             client_authentication="MANDATORY", client_crl_container_ref=CRL,
                             alpn_protocols=["http/1.1"], insert_headers=headers)],
                      [pool(members=[member(address="127.0.0.1", port=echo_member)])])
    write_files(lb, tls_settings)
    with running(haproxy_path, lb, tls_settings):
        _, _, text = _handshake(port, "www.example.test", client=K.client, request=True)
        assert text.split("\r\n")[0].endswith("200 OK")
        echoed = text.lower()
        assert "x-ssl-client-cn: good client" in echoed and "x-ssl-client-verify: 0" in echoed
        for client in (None, K.revoked):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                _handshake(port, "www.example.test", client=client, request=True)
