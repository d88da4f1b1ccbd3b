"""The local certificate manager and `lbaas certificate`: a real SQLite database, real Fernet."""
import dataclasses
import logging

import pytest
from sqlalchemy import create_engine, text

from lbaas import certificates
from lbaas.certificates import local, pem
from lbaas.cmd import main as lbaas_main
from lbaas.cmd import common
from lbaas.core.context import RequestContext
from testbed import tls_certs

K = tls_certs.kit()


@pytest.fixture
def state(tmp_path, monkeypatch):
    """An embedded state directory (no configuration file)."""
    monkeypatch.delenv(common.CONFIG_ENV, raising=False)
    return tmp_path / "state"


@pytest.fixture
def conf(state):
    """The configuration `lbaas serve --state-path state` runs with."""
    conf = common.load_conf([])
    conf.set_override("state_path", str(state))
    return conf


def write(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def cli(state, *args, capsys=None):
    """Run `lbaas certificate --state-path state ...`; (exit code, stdout, stderr).

    The command sets up the process's logging (oslo.log) on the stderr of this moment,
    pytest's capture, which is closed after the test: the root logger's handlers are put
    back, or every later log line of this test process fails to write."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        code = lbaas_main.main(["certificate", "--state-path", str(state), *args])
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    out = capsys.readouterr() if capsys else None
    return code, (out.out.strip() if out else ""), (out.err if out else "")


@pytest.fixture
def imported(state, tmp_path, capsys):
    """Import the www certificate and its key; its reference."""
    code, ref, err = cli(state, "import", "--cert", write(tmp_path, "c.pem", K.www.cert_pem),
                         "--key", write(tmp_path, "k.pem", K.www.key_pem), "--name", "www",
                         capsys=capsys)
    assert code == 0, err
    return ref


def test_import_prints_a_reference_the_manager_reads_back(imported, conf):
    assert imported.startswith("lbaas://certificates/")
    cert = certificates.get_manager(conf).get_cert(None, imported)
    assert cert.certificate == K.www.cert_pem
    assert pem.validate(cert, imported).private_key == K.www.key_pem


def test_private_key_is_encrypted_at_rest(imported, conf):
    engine = create_engine(f"sqlite:///{conf.state_path}/lbaas.sqlite")
    with engine.connect() as db:
        stored = db.execute(text("select private_key from certificate")).scalar_one()
    engine.dispose()
    assert b"PRIVATE KEY" not in stored and K.www.key_pem not in stored


def test_generated_key_file_is_private(imported, conf):
    import os
    assert os.stat(local.key_path(conf)).st_mode & 0o777 == 0o600


def test_another_encryption_key_cannot_decrypt(imported, conf):
    conf.set_override("encryption_key", "a-different-secret-of-enough-length-0123456789",
                      group="certificates")
    with pytest.raises(certificates.CertificateNotFound) as err:
        local.LocalCertManager(conf).get_cert(None, imported)
    assert "encryption_key" in err.value.operator_message


def test_without_any_key_the_operator_is_told_what_to_set(conf, tmp_path):
    conf.set_override("state_path", str(tmp_path / "empty"))
    with pytest.raises(certificates.CertificateNotFound) as err:
        local.fernet(conf)
    assert "[certificates] encryption_key is not set" in err.value.operator_message
    assert "encryption_key" not in err.value.user_message


def test_unknown_and_foreign_references_are_not_found(conf, imported):
    manager = local.LocalCertManager(conf)
    for ref in ("lbaas://certificates/5a0c7b4e-1f2d-4c3b-8a9e-6d5f4e3c2b1a",
                "https://barbican.example/v1/secrets/x", "lbaas://certificates/../../etc"):
        with pytest.raises(certificates.CertificateNotFound):
            manager.get_cert(None, ref)


def test_project_scoped_certificate_is_hidden_from_other_projects(state, tmp_path, capsys,
                                                                   conf):
    code, ref, _ = cli(state, "import", "--cert", write(tmp_path, "c.pem", K.api.cert_pem),
                       "--key", write(tmp_path, "k.pem", K.api.key_pem),
                       "--project-id", "p-1", capsys=capsys)
    manager = local.LocalCertManager(conf)
    assert manager.get_cert(RequestContext(project_id="p-1"), ref).certificate == K.api.cert_pem
    with pytest.raises(certificates.CertificateNotFound):
        manager.get_cert(RequestContext(project_id="p-2"), ref)


def test_pkcs12_with_passphrase_imports_key_and_chain(state, tmp_path, capsys, conf):
    bundle = K.shop.pkcs12(b"s3cret", chain=[K.ca])
    code, ref, err = cli(state, "import", "--pkcs12", write(tmp_path, "b.p12", bundle),
                         "--passphrase", "s3cret", capsys=capsys)
    assert code == 0, err
    cert = local.LocalCertManager(conf).get_cert(None, ref)
    assert cert.certificate == K.shop.cert_pem and cert.intermediates == (K.ca.cert_pem,)


def test_encrypted_key_is_stored_decrypted_and_reencrypted(state, tmp_path, capsys, conf):
    key = write(tmp_path, "k.pem", tls_certs.key_pem(K.www.key, b"pw"))
    code, ref, err = cli(state, "import", "--cert", write(tmp_path, "c.pem", K.www.cert_pem),
                         "--key", key, "--passphrase", "pw", capsys=capsys)
    assert code == 0, err
    assert local.LocalCertManager(conf).get_cert(None, ref).private_key == K.www.key_pem


def test_ca_bundle_and_crl_are_stored_as_secrets(state, tmp_path, capsys, conf):
    _, ca_ref, _ = cli(state, "import", "--cert", write(tmp_path, "ca.pem", K.ca.cert_pem),
                       capsys=capsys)
    _, crl_ref, _ = cli(state, "import", "--crl", write(tmp_path, "crl.pem", K.crl),
                        capsys=capsys)
    manager = local.LocalCertManager(conf)
    assert manager.get_secret(None, ca_ref) == K.ca.cert_pem
    assert manager.get_secret(None, crl_ref) == K.crl
    with pytest.raises(certificates.InvalidCertificate):
        manager.get_cert(None, ca_ref)


@pytest.mark.parametrize("files,message", [
    (lambda: (K.expired.cert_pem, K.expired.key_pem), "expired on"),
    (lambda: (K.not_yet_valid.cert_pem, K.not_yet_valid.key_pem), "is not valid before"),
    (lambda: (K.www.cert_pem, K.api.key_pem), "does not match its certificate"),
    (lambda: (b"not a certificate", K.www.key_pem), "not PEM or PKCS12"),
    (lambda: (K.www.cert_pem, b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
     "cannot be read"),
])
def test_import_refuses_unusable_certificates(state, tmp_path, capsys, files, message):
    cert, key = files()
    code, out, err = cli(state, "import", "--cert", write(tmp_path, "c.pem", cert),
                         "--key", write(tmp_path, "k.pem", key), capsys=capsys)
    assert (code, out) == (1, "") and message in err


def test_import_refuses_a_server_certificate_as_ca_bundle(state, tmp_path, capsys):
    code, _, err = cli(state, "import", "--cert", write(tmp_path, "c.pem", K.www.cert_pem),
                       capsys=capsys)
    assert code == 1 and "is not a CA bundle" in err


def test_list_and_delete(state, imported, capsys, conf):
    cli(state, "list", capsys=capsys)
    code, listing, _ = cli(state, "list", capsys=capsys)
    assert imported in listing and "www" in listing
    assert cli(state, "delete", imported, capsys=capsys)[0] == 0
    with pytest.raises(certificates.CertificateNotFound):
        local.LocalCertManager(conf).get_cert(None, imported)


def test_unknown_manager_is_a_clear_startup_error(conf):
    conf.set_override("cert_manager", "vault", group="certificates")
    with pytest.raises(RuntimeError, match="lbaas.cert_manager:vault"):
        certificates.get_manager(conf)


def test_certificate_dataclass_is_frozen():
    cert = certificates.Certificate(certificate=b"x")
    with pytest.raises(dataclasses.FrozenInstanceError):
        cert.certificate = b"y"
