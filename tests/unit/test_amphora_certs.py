"""The controller's CA for amphora agents: files, certificates, and real TLS handshakes."""
import datetime
import ipaddress
import multiprocessing
import os
import socket
import ssl
import stat
import threading

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from lbaas.drivers.amphora import certs

AMP_ID = "8a6bd2a4-52c4-4e3c-9d5b-3b2a4c1b7e11"


@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return certs.CertificateAuthority.load_or_create(str(tmp_path_factory.mktemp("ca")))


@pytest.fixture(scope="module")
def other_ca(tmp_path_factory):
    return certs.CertificateAuthority.load_or_create(str(tmp_path_factory.mktemp("other")))


def _pair(tmp_path, name, pem_pair):
    return certs.write_pair(str(tmp_path), name, *pem_pair)


def _handshake(server_ctx, client_ctx, server_hostname):
    """Run one TLS exchange over loopback; return (server error, client error), None = ok."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(10)
    result = {}

    def serve():
        try:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(tls.recv(4))
            result["server"] = None
        except (OSError, ssl.SSLError) as exc:
            result["server"] = exc

    thread = threading.Thread(target=serve)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=10) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            tls.sendall(b"ping")
            if tls.recv(4) != b"ping":
                raise ConnectionError("no echo")
        result["client"] = None
    except (OSError, ssl.SSLError) as exc:
        result["client"] = exc
    thread.join(20)
    listener.close()
    return result["server"], result["client"]


def test_ca_files_are_private_and_reloaded(tmp_path):
    directory = str(tmp_path / "amphora-ca")
    first = certs.CertificateAuthority.load_or_create(directory)
    assert stat.S_IMODE(os.stat(os.path.join(directory, "ca.key")).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700
    assert certs.CertificateAuthority.load_or_create(directory).ca_pem == first.ca_pem


def test_ca_certificate_is_a_ca(ca):
    assert ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign


def test_server_certificate_names_ips_and_amphora_id(ca):
    cert = x509.load_pem_x509_certificate(ca.issue_server(AMP_ID, ["192.0.2.10", "2001:db8::5"])[0])
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("192.0.2.10"),
                                                       ipaddress.ip_address("2001:db8::5")]
    assert san.get_values_for_type(x509.DNSName) == [AMP_ID]
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_client_certificate_is_for_client_auth(ca):
    cert = x509.load_pem_x509_certificate(ca.issue_client("controller")[0])
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_validity_is_configurable(ca):
    cert = x509.load_pem_x509_certificate(
        ca.issue_server(AMP_ID, ["192.0.2.10"], validity=datetime.timedelta(days=2))[0])
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime == datetime.timedelta(days=2) + certs.CLOCK_SKEW


def test_mutual_tls_handshake_by_ip(ca, tmp_path):
    server = certs.server_context(_pair(tmp_path, "agent", ca.issue_server(AMP_ID, ["127.0.0.1"])),
                                  ca.ca_pem)
    client = certs.client_context(_pair(tmp_path, "ctl", ca.issue_client("controller")), ca.ca_pem)
    assert _handshake(server, client, "127.0.0.1") == (None, None)


def test_mutual_tls_handshake_by_amphora_id(ca, tmp_path):
    server = certs.server_context(_pair(tmp_path, "agent", ca.issue_server(AMP_ID, ["127.0.0.1"])),
                                  ca.ca_pem)
    client = certs.client_context(_pair(tmp_path, "ctl", ca.issue_client("controller")), ca.ca_pem)
    assert _handshake(server, client, AMP_ID) == (None, None)


def test_agent_refuses_client_cert_from_another_ca(ca, other_ca, tmp_path):
    server = certs.server_context(_pair(tmp_path, "agent", ca.issue_server(AMP_ID, ["127.0.0.1"])),
                                  ca.ca_pem)
    client = certs.client_context(_pair(tmp_path, "ctl", other_ca.issue_client("intruder")),
                                  ca.ca_pem)
    server_error, client_error = _handshake(server, client, "127.0.0.1")
    assert isinstance(server_error, ssl.SSLCertVerificationError)
    assert client_error is not None


def test_agent_refuses_client_without_cert(ca, tmp_path):
    server = certs.server_context(_pair(tmp_path, "agent", ca.issue_server(AMP_ID, ["127.0.0.1"])),
                                  ca.ca_pem)
    client = ssl.create_default_context(cadata=ca.ca_pem.decode())
    server_error, client_error = _handshake(server, client, "127.0.0.1")
    assert isinstance(server_error, ssl.SSLError)
    assert client_error is not None


def test_controller_refuses_server_whose_san_does_not_match(ca, tmp_path):
    server = certs.server_context(
        _pair(tmp_path, "agent", ca.issue_server(AMP_ID, ["192.0.2.99"])), ca.ca_pem)
    client = certs.client_context(_pair(tmp_path, "ctl", ca.issue_client("controller")), ca.ca_pem)
    _, client_error = _handshake(server, client, "127.0.0.1")
    assert isinstance(client_error, ssl.SSLCertVerificationError)
    assert "IP address mismatch" in client_error.verify_message


def test_controller_refuses_server_from_another_ca(ca, other_ca, tmp_path):
    server = certs.server_context(
        _pair(tmp_path, "agent", other_ca.issue_server(AMP_ID, ["127.0.0.1"])), ca.ca_pem)
    client = certs.client_context(_pair(tmp_path, "ctl", ca.issue_client("controller")), ca.ca_pem)
    _, client_error = _handshake(server, client, "127.0.0.1")
    assert isinstance(client_error, ssl.SSLCertVerificationError)
    assert "unable to get local issuer" in client_error.verify_message


def test_controller_refuses_a_client_cert_posing_as_server(ca, tmp_path):
    client_pair = _pair(tmp_path, "ctl", ca.issue_client("controller"))
    server = certs.server_context(client_pair, ca.ca_pem)
    client = certs.client_context(client_pair, ca.ca_pem)
    _, client_error = _handshake(server, client, "controller")
    assert isinstance(client_error, ssl.SSLCertVerificationError)
    assert "unsuitable certificate purpose" in client_error.verify_message


def _start(directory, barrier, queue):
    barrier.wait(30)
    queue.put(certs.CertificateAuthority.load_or_create(directory).ca_pem)


def test_concurrent_first_start_yields_one_ca(tmp_path):
    directory = str(tmp_path / "amphora-ca")
    mp = multiprocessing.get_context("spawn")
    barrier, queue, count = mp.Barrier(6), mp.Queue(), 6
    procs = [mp.Process(target=_start, args=(directory, barrier, queue)) for _ in range(count)]
    for proc in procs:
        proc.start()
    pems = [queue.get(timeout=60) for _ in range(count)]
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    with open(os.path.join(directory, "ca.pem"), "rb") as f:
        assert set(pems) == {f.read()}
    assert sorted(os.listdir(directory)) == [".lock", "ca.key", "ca.pem"]


def test_ca_from_conf_defaults_under_state_path(tmp_path):
    from lbaas import conf as lbaas_conf
    conf = lbaas_conf.make_conf()
    conf.set_override("state_path", str(tmp_path))
    ca = certs.CertificateAuthority.from_conf(conf)
    assert os.path.exists(tmp_path / "amphora-ca" / "ca.pem")
    assert ca.validity == datetime.timedelta(days=30)


def test_tls_version_names_map_to_ssl():
    assert certs.tls_version("TLSv1.2") is ssl.TLSVersion.TLSv1_2
    assert certs.tls_version("TLSv1.3") is ssl.TLSVersion.TLSv1_3
