"""Test certificates made with `cryptography`: a CA, server certificates per name, client
certificates, a revoked one and the CRL that revokes it, and a few broken ones."""
import dataclasses
import datetime
import functools

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PEM = serialization.Encoding.PEM
DAY = datetime.timedelta(days=1)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _name(cn):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def key_pem(key, passphrase=None):
    """A private key as PKCS8 PEM, encrypted when a passphrase is given."""
    enc = (serialization.BestAvailableEncryption(passphrase) if passphrase
           else serialization.NoEncryption())
    return key.private_bytes(PEM, serialization.PrivateFormat.PKCS8, enc)


@dataclasses.dataclass
class Issued:
    """A certificate and its key."""

    cert: x509.Certificate
    key: object

    @property
    def cert_pem(self):
        return self.cert.public_bytes(PEM)

    @property
    def key_pem(self):
        return key_pem(self.key)

    def pkcs12(self, passphrase=None, chain=()):
        """The certificate, key and chain as a PKCS12 bundle."""
        enc = (serialization.BestAvailableEncryption(passphrase) if passphrase
               else serialization.NoEncryption())
        return pkcs12.serialize_key_and_certificates(b"test", self.key, self.cert,
                                                     [c.cert for c in chain] or None, enc)


class CA:
    """A certificate authority that issues server and client certificates and CRLs."""

    def __init__(self, cn="lbaas test CA", not_before=None, not_after=None):
        self.key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        self.cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
                     .public_key(self.key.public_key())
                     .serial_number(x509.random_serial_number())
                     .not_valid_before(not_before or now - DAY)
                     .not_valid_after(not_after or now + 30 * DAY)
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True,
                                                  False, False), True)
                     .add_extension(x509.SubjectKeyIdentifier.from_public_key(
                         self.key.public_key()), False)
                     .sign(self.key, hashes.SHA256()))

    @property
    def cert_pem(self):
        return self.cert.public_bytes(PEM)

    def issue(self, cn, dns=(), client=False, not_before=None, not_after=None, ca=False):
        """A leaf (or intermediate, ca=True) certificate signed by this CA."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        builder = (x509.CertificateBuilder().subject_name(_name(cn))
                   .issuer_name(self.cert.subject).public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(not_before or now - DAY)
                   .not_valid_after(not_after or now + 10 * DAY)
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), True)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), False))
        if dns:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), False)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        if not ca:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), False)
        return Issued(builder.sign(self.key, hashes.SHA256()), key)

    def crl(self, revoked=(), signer=None):
        """A PEM CRL revoking the given Issued certificates (signed by `signer`, default self)."""
        signer = signer or self
        now = _now()
        builder = (x509.CertificateRevocationListBuilder().issuer_name(signer.cert.subject)
                   .last_update(now - DAY).next_update(now + 10 * DAY))
        for item in revoked:
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder().serial_number(item.cert.serial_number)
                .revocation_date(now - DAY).build())
        return builder.sign(signer.key, hashes.SHA256()).public_bytes(PEM)


@dataclasses.dataclass
class Kit:
    """Everything a TLS test needs, made once per session."""

    ca: CA
    other_ca: CA
    www: Issued          # www.example.test (the default certificate)
    api: Issued          # api.example.test (an SNI certificate)
    shop: Issued         # shop.example.test, *.shop.example.test (an SNI certificate)
    client: Issued       # a valid client certificate
    revoked: Issued      # a client certificate the CRL revokes
    expired: Issued
    not_yet_valid: Issued
    member: Issued       # a backend member's server certificate (for re-encryption)
    crl: bytes           # revokes `revoked`, signed by `ca`
    foreign_crl: bytes   # signed by `other_ca`


@functools.lru_cache(maxsize=None)
def kit():
    """The session's test certificates (ECDSA P-256: fast to make)."""
    ca, other = CA(), CA("another CA")
    now = _now()
    revoked = ca.issue("revoked client", client=True)
    return Kit(
        ca=ca, other_ca=other,
        www=ca.issue("www.example.test", ["www.example.test"]),
        api=ca.issue("api.example.test", ["api.example.test"]),
        shop=ca.issue("shop.example.test", ["shop.example.test", "*.shop.example.test"]),
        client=ca.issue("good client", client=True), revoked=revoked,
        expired=ca.issue("old.example.test", ["old.example.test"],
                         not_before=now - 20 * DAY, not_after=now - DAY),
        not_yet_valid=ca.issue("new.example.test", ["new.example.test"],
                               not_before=now + DAY, not_after=now + 20 * DAY),
        member=ca.issue("member.example.test", ["member.example.test"]),
        crl=ca.crl([revoked]), foreign_crl=other.crl())
