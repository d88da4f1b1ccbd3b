"""The barbican certificate manager against a fake Barbican on loopback.

The real Barbican (barbican 23 from PyPI in .venv-barbican, built by
`scripts/setup.sh --test`) serves tests/functional/test_barbican_real.py: containers,
PKCS12, CA and CRL secrets, unknown references and another project's secret, read by the
manager and through `lbaas serve`. This fake stays for what that server, run without
authentication, does not produce on demand; it follows Barbican's documented v1 REST API:
secret metadata (content_types), payload retrieval whose Accept must match the stored
content type (406 otherwise), certificate containers with named secret_refs, 401 without
a token, and the caller's Keystone token sent as X-Auth-Token (`barbican_auth = token`).
"""
import http.server
import json
import threading
import types
import uuid

import pytest

from lbaas import certificates
from lbaas.certificates import barbican, pem
from lbaas.cmd import common
from testbed import tls_certs

K = tls_certs.kit()
TOKEN = "token-of-the-caller"


class FakeBarbican(http.server.ThreadingHTTPServer):
    """Secrets {uuid: (content type, payload)} and containers {uuid: [(name, secret uuid)]}."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.secrets, self.containers, self.requests = {}, {}, []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def secret(self, payload, content_type="application/octet-stream"):
        sid = str(uuid.uuid4())
        self.secrets[sid] = (content_type, payload)
        return f"{self.url}/v1/secrets/{sid}"

    def container(self, **parts):
        cid = str(uuid.uuid4())
        self.containers[cid] = [(name, ref) for name, ref in parts.items()]
        return f"{self.url}/v1/containers/{cid}"


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        srv = self.server
        srv.requests.append((self.path, dict(self.headers)))
        if self.headers.get("X-Auth-Token") != TOKEN and not self.headers.get("X-Project-Id"):
            return self._send(401, b'{"code": 401}', "application/json")
        parts = self.path.strip("/").split("/")
        if parts[:2] == ["v1", "secrets"] and parts[2] in srv.secrets:
            ctype, payload = srv.secrets[parts[2]]
            if len(parts) == 3:
                body = {"secret_ref": f"{srv.url}/v1/secrets/{parts[2]}", "status": "ACTIVE",
                        "content_types": {"default": ctype}}
                return self._send(200, json.dumps(body).encode(), "application/json")
            if self.headers.get("Accept") != ctype:
                return self._send(406, b'{"code": 406}', "application/json")
            return self._send(200, payload, ctype)
        if parts[:2] == ["v1", "containers"] and parts[2] in srv.containers:
            body = {"type": "certificate", "status": "ACTIVE",
                    "secret_refs": [{"name": n, "secret_ref": r}
                                    for n, r in srv.containers[parts[2]]]}
            return self._send(200, json.dumps(body).encode(), "application/json")
        return self._send(404, b'{"code": 404}', "application/json")

    def _send(self, code, body, ctype):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fake():
    server = FakeBarbican()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def manager(fake, monkeypatch):
    monkeypatch.delenv(common.CONFIG_ENV, raising=False)
    conf = common.load_conf([])
    conf.set_override("cert_manager", "barbican", group="certificates")
    conf.set_override("barbican_endpoint", fake.url, group="certificates")
    return certificates.get_manager(conf)


CALLER = types.SimpleNamespace(project_id="p-1", auth_token=TOKEN, is_admin=False)


def test_pkcs12_secret_gives_certificate_key_and_chain(fake, manager):
    ref = fake.secret(K.www.pkcs12(chain=[K.ca]))
    cert = pem.validate(manager.get_cert(CALLER, ref), ref)
    assert (cert.certificate, cert.intermediates) == (K.www.cert_pem, (K.ca.cert_pem,))
    assert all(h.get("X-Auth-Token") == TOKEN for _, h in fake.requests)


def test_certificate_container_with_encrypted_key(fake, manager):
    ref = fake.container(
        certificate=fake.secret(K.api.cert_pem, "text/plain"),
        private_key=fake.secret(tls_certs.key_pem(K.api.key, b"pw"), "text/plain"),
        private_key_passphrase=fake.secret(b"pw", "text/plain"),
        intermediates=fake.secret(K.ca.cert_pem, "text/plain"))
    cert = pem.validate(manager.get_cert(CALLER, ref), ref)
    assert cert.private_key == K.api.key_pem and cert.intermediates == (K.ca.cert_pem,)


def test_ca_bundle_and_crl_secrets_are_read_as_pem(fake, manager):
    ca, crl = fake.secret(K.ca.cert_pem, "text/plain"), fake.secret(K.crl, "text/plain")
    assert pem.validate_ca_bundle(manager.get_secret(CALLER, ca), ca) == K.ca.cert_pem
    assert pem.validate_crl(manager.get_secret(CALLER, crl), crl, K.ca.cert_pem, ca) == K.crl


def test_without_the_callers_token_nothing_is_read(fake, manager):
    ref = fake.secret(K.www.pkcs12())
    with pytest.raises(certificates.CertificateNotFound) as err:
        manager.get_cert(types.SimpleNamespace(project_id="p-1", auth_token=None), ref)
    assert "auth_token" in err.value.operator_message and fake.requests == []


def test_unknown_secret_is_not_found(fake, manager):
    with pytest.raises(certificates.CertificateNotFound) as err:
        manager.get_cert(CALLER, f"{fake.url}/v1/secrets/{uuid.uuid4()}")
    assert "404" in err.value.operator_message


def test_reference_host_is_ignored_so_the_token_stays_home(fake, manager):
    """A reference naming another host is read from the configured Barbican only."""
    sid = fake.secret(K.www.pkcs12()).rsplit("/", 1)[1]
    cert = manager.get_cert(CALLER, f"https://evil.example/v1/secrets/{sid}")
    assert cert.certificate == K.www.cert_pem


@pytest.mark.parametrize("ref", ["lbaas://certificates/x", "https://b.example/v1/orders/1",
                                 "not a url"])
def test_non_barbican_references_are_not_found(manager, ref):
    with pytest.raises(certificates.CertificateNotFound):
        manager.get_cert(CALLER, ref)


def test_a_container_of_another_type_is_invalid(fake, manager):
    cid = str(uuid.uuid4())
    fake.containers[cid] = []
    with pytest.raises(certificates.InvalidCertificate):
        manager.get_cert(CALLER, f"{fake.url}/v1/containers/{cid}")


def test_unauthenticated_mode_sends_the_project(fake, manager):
    manager.conf.set_override("barbican_auth", "none", group="certificates")
    ref = fake.secret(K.ca.cert_pem, "text/plain")
    assert manager.get_secret(types.SimpleNamespace(project_id="p-9"), ref) == K.ca.cert_pem
    assert fake.requests[-1][1].get("X-Project-Id") == "p-9"
    assert barbican.parse_ref(ref)[0] == "secrets"
