"""The noop certificate manager: a usable sample for any reference (tests and demos)."""
import uuid

from lbaas.certificates import noop, pem


def test_any_reference_gives_a_valid_certificate_with_its_key():
    manager = noop.NoopCertManager(conf=None)
    ref = str(uuid.uuid4())
    cert = manager.get_cert(None, ref)
    pem.validate(cert, ref)   # raises InvalidCertificate when not in date or key mismatch
    assert cert is manager.get_cert(None, "another")


def test_secrets_are_the_sample_ca_bundle():
    bundle = noop.NoopCertManager(conf=None).get_secret(None, str(uuid.uuid4()))
    pem.validate_ca_bundle(bundle, "ref")
