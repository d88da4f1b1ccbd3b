"""TLS references through the real API: `lbaas certificate import` into the database of a
real `lbaas serve --driver noop`, then listeners and pools that use (or misuse) them.

Every refusal is a 400 with Octavia's fault body, and leaves no listener or pool row.
"""
import subprocess
import uuid

import pytest
import requests

from testbed import tls_certs
from testbed.service import Service, clean_env, free_port, venv_command, wait_for

pytestmark = pytest.mark.functional
K = tls_certs.kit()
PROJECT = "5f2d0c3a-tls0-4e0b-9a7c-000000000001"
HEADERS = {"X-Project-Id": PROJECT}


class Cloud:
    """`lbaas serve` and the `lbaas certificate` command on one state directory."""

    def __init__(self, state, service):
        self.state, self.service, self.url = state, service, service.url + "/v2/lbaas"

    def import_(self, *args, **files):
        """`lbaas certificate import` with files written from bytes; (exit code, stdout, stderr)."""
        argv = [venv_command("lbaas"), "certificate", "--state-path", str(self.state), "import"]
        for option, data in files.items():
            path = self.state / f"{uuid.uuid4()}.in"
            path.write_bytes(data)
            argv += [f"--{option}", str(path)]
        proc = subprocess.run(argv + list(args), capture_output=True, text=True, timeout=60,
                              env=clean_env(LBAAS_CONFIG_FILE=""))
        return proc.returncode, proc.stdout.strip(), proc.stderr

    def ref(self, **files):
        """Import that must succeed; the reference printed."""
        code, out, err = self.import_(**files)
        assert code == 0 and out.startswith("lbaas://certificates/"), err
        return out

    def post(self, path, body):
        return requests.post(f"{self.url}/{path}", json=body, headers=HEADERS, timeout=10)

    def count(self, path):
        return len(requests.get(f"{self.url}/{path}", headers=HEADERS, timeout=10)
                   .json()[path])

    def settle(self, lb_id):
        wait_for(lambda: requests.get(f"{self.url}/loadbalancers/{lb_id}", headers=HEADERS,
                                      timeout=10).json()["loadbalancer"]
                 ["provisioning_status"] == "ACTIVE", 30, "the load balancer to be ACTIVE")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    state = tmp_path_factory.mktemp("tls-serve")
    port = free_port()
    service = Service("lbaas serve (tls)", [venv_command("lbaas"), "serve", "--driver", "noop",
                                            "--state-path", str(state), "--port", str(port)],
                      port, state / "serve.log", env=clean_env(LBAAS_CONFIG_FILE=""))
    service.start()
    yield Cloud(state, service)
    service.stop()


@pytest.fixture(scope="module")
def refs(cloud):
    """References of every kind, imported with the command."""
    return {"www": cloud.ref(cert=K.www.cert_pem, key=K.www.key_pem),
            "api": cloud.ref(cert=K.api.cert_pem, key=K.api.key_pem),
            "shop": cloud.ref(pkcs12=K.shop.pkcs12()),
            "client": cloud.ref(cert=K.client.cert_pem, key=K.client.key_pem),
            "ca": cloud.ref(cert=K.ca.cert_pem), "crl": cloud.ref(crl=K.crl),
            "other_ca": cloud.ref(cert=K.other_ca.cert_pem)}


@pytest.fixture(scope="module")
def lb(cloud):
    resp = cloud.post("loadbalancers", {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                                         "provider": "noop"}})
    assert resp.status_code == 201, resp.text
    lb_id = resp.json()["loadbalancer"]["id"]
    cloud.settle(lb_id)
    return lb_id


def listener(lb, port, **fields):
    return {"listener": dict(loadbalancer_id=lb, protocol="TERMINATED_HTTPS",
                             protocol_port=port, **fields)}


def test_terminated_https_listener_with_sni_and_client_auth_is_created(cloud, refs, lb):
    resp = cloud.post("listeners", listener(
        lb, 443, default_tls_container_ref=refs["www"],
        sni_container_refs=[refs["api"], refs["shop"]], client_authentication="MANDATORY",
        client_ca_tls_container_ref=refs["ca"], client_crl_container_ref=refs["crl"]))
    assert resp.status_code == 201, resp.text
    body = resp.json()["listener"]
    assert body["sni_container_refs"] == [refs["api"], refs["shop"]]
    assert body["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    cloud.settle(lb)


def test_tls_enabled_pool_with_client_cert_ca_and_crl_is_created(cloud, refs, lb):
    resp = cloud.post("pools", {"pool": dict(
        loadbalancer_id=lb, protocol="HTTP", lb_algorithm="ROUND_ROBIN", tls_enabled=True,
        tls_container_ref=refs["client"], ca_tls_container_ref=refs["ca"],
        crl_container_ref=refs["crl"])})
    assert resp.status_code == 201, resp.text
    cloud.settle(lb)


def _bad_listener_cases(refs, cloud):
    missing = "lbaas://certificates/" + str(uuid.uuid4())
    return [
        (dict(default_tls_container_ref=missing), f"Could not retrieve certificate: {missing}"),
        (dict(default_tls_container_ref="https://elsewhere.example/v1/secrets/1"),
         "Could not retrieve certificate: https://elsewhere.example/v1/secrets/1"),
        (dict(default_tls_container_ref=refs["www"], sni_container_refs=[refs["ca"]]),
         "is a ca bundle, not a certificate"),
        (dict(default_tls_container_ref=refs["www"], client_ca_tls_container_ref=refs["www"]),
         "is not a CA bundle"),
        (dict(default_tls_container_ref=refs["www"], client_ca_tls_container_ref=refs["ca"],
              client_crl_container_ref=refs["ca"]), "is not one PEM X509 CRL"),
        (dict(default_tls_container_ref=refs["www"],
              client_ca_tls_container_ref=refs["other_ca"], client_crl_container_ref=refs["crl"]),
         "is not signed by the CA certificate"),
    ]


def test_unusable_references_are_400_and_write_nothing(cloud, refs, lb):
    before = cloud.count("listeners")
    for n, (fields, message) in enumerate(_bad_listener_cases(refs, cloud)):
        resp = cloud.post("listeners", listener(lb, 8443 + n, **fields))
        assert resp.status_code == 400, (fields, resp.text)
        assert message in resp.json()["faultstring"], (fields, resp.json())
        assert resp.json()["faultcode"] == "Client"
    assert cloud.count("listeners") == before
    cloud.settle(lb)


def test_unusable_pool_references_are_400_and_write_nothing(cloud, refs, lb):
    before = cloud.count("pools")
    for fields, message in [(dict(tls_container_ref=refs["ca"]), "not a certificate"),
                            (dict(ca_tls_container_ref=refs["client"]), "is not a CA bundle"),
                            (dict(ca_tls_container_ref=refs["other_ca"],
                                  crl_container_ref=refs["crl"]), "is not signed by")]:
        resp = cloud.post("pools", {"pool": dict(loadbalancer_id=lb, protocol="HTTP",
                                                 lb_algorithm="ROUND_ROBIN", tls_enabled=True,
                                                 **fields)})
        assert resp.status_code == 400 and message in resp.json()["faultstring"], resp.text
    assert cloud.count("pools") == before


@pytest.mark.parametrize("files,message", [
    (lambda: dict(cert=K.expired.cert_pem, key=K.expired.key_pem), "expired on"),
    (lambda: dict(cert=K.www.cert_pem, key=K.client.key_pem), "does not match"),
])
def test_import_refuses_what_the_api_would_refuse(cloud, files, message):
    code, out, err = cloud.import_(**files())
    assert (code, out) == (1, "") and message in err
