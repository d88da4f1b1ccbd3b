"""The `noop` manager: one sample certificate for any reference, for tests and demos only.

Upstream Octavia's noop job reads TLS references with its `noop_cert_manager`, which
answers every reference with the same sample certificate; its API tests send random UUIDs
as references. This manager does the same: get_cert returns a certificate and key issued
by a throwaway CA (made once per process, in date, EC P-256), get_secret that CA's
certificate (a usable CA bundle; a CRL reference is therefore refused as not a CRL).
Nothing it returns is secret or trusted anywhere: never configure it in production.
"""
import datetime
import threading

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from lbaas.core.certificates import CertManager, Certificate

VALIDITY = datetime.timedelta(days=3650)
_lock = threading.Lock()
_sample = None   # (CA PEM, Certificate), made on first use


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _issue(subject, issuer, public_key, signing_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + VALIDITY)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("noop.lbaas.invalid")]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def _make_sample():
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("lbaas noop sample CA")
    ca = _issue(ca_name, ca_name, ca_key.public_key(), ca_key, ca=True)
    leaf = _issue(_name("noop.lbaas.invalid"), ca_name, key.public_key(), ca_key, ca=False)
    pem = serialization.Encoding.PEM
    ca_pem = ca.public_bytes(pem)
    return ca_pem, Certificate(
        certificate=leaf.public_bytes(pem),
        private_key=key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()),
        intermediates=(ca_pem,))


def sample():
    """(the sample CA's PEM, the sample Certificate), the same for the life of the process."""
    global _sample
    with _lock:
        if _sample is None:
            _sample = _make_sample()
        return _sample


class NoopCertManager(CertManager):
    """Answers every reference with the sample certificate (or the sample CA)."""

    def get_cert(self, context, ref):
        """The sample certificate and key, whatever the reference."""
        return sample()[1]

    def get_secret(self, context, ref):
        """The sample CA's certificate, whatever the reference."""
        return sample()[0]
