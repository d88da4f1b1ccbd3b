"""What makes PEM data usable: parse, decrypt, check dates, key match, CA bundles and CRLs."""
import datetime
import re

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12

from lbaas.core.certificates import Certificate, InvalidCertificate

_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n.*?-----END \1-----\r?\n?", re.S)
_KEY_BLOCKS = (b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY", b"ENCRYPTED PRIVATE KEY")


def blocks(data, label=None):
    """The PEM blocks of `data` (optionally only those labelled `label`), each as bytes."""
    found = [(m.group(1), m.group(0)) for m in _BLOCK.finditer(data or b"")]
    return [b if b.endswith(b"\n") else b + b"\n" for kind, b in found
            if label is None or kind == label]


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def load_certs(data, what, ref):
    """Every x509 certificate of PEM `data`; InvalidCertificate if there is none or one is bad."""
    pems = blocks(data, b"CERTIFICATE")
    if not pems:
        raise InvalidCertificate(f"The {what} {ref} is not a PEM x509 certificate.")
    try:
        return [x509.load_pem_x509_certificate(p) for p in pems]
    except ValueError as exc:
        raise InvalidCertificate(f"The {what} {ref} is not a valid PEM x509 certificate.",
                                 f"{ref}: {exc}") from None


def check_dates(cert, what, ref):
    """InvalidCertificate if the certificate is expired or not valid yet."""
    now = _now()
    if cert.not_valid_after_utc < now:
        raise InvalidCertificate(f"The {what} {ref} expired on "
                                 f"{cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}.")
    if cert.not_valid_before_utc > now:
        raise InvalidCertificate(f"The {what} {ref} is not valid before "
                                 f"{cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}.")


def load_key(data, passphrase, ref):
    """The private key of PEM `data`, decrypted with `passphrase` if it is encrypted."""
    pems = [b for b in blocks(data) if _BLOCK.match(b).group(1) in _KEY_BLOCKS]
    if len(pems) != 1:
        raise InvalidCertificate(f"The private key of {ref} is missing or not one PEM key.")
    try:
        return serialization.load_pem_private_key(pems[0], password=passphrase or None)
    except TypeError:
        raise InvalidCertificate(f"The private key of {ref} is encrypted and no passphrase "
                                 "was given, or it is not encrypted and one was.") from None
    except ValueError as exc:
        raise InvalidCertificate(f"The private key of {ref} cannot be read (a wrong "
                                 "passphrase, or not a PEM private key).",
                                 f"{ref}: {exc}") from None


def _public_bytes(key):
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def key_matches(cert, key):
    """Whether the private key belongs to the certificate."""
    return _public_bytes(cert.public_key()) == _public_bytes(key.public_key())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def validate(cert, ref):
    """The certificate checked and normalised: one leaf, a matching unencrypted key, in date.

    InvalidCertificate names `ref` and says what is wrong. The intermediates must parse,
    and their dates are checked too (an expired chain fails the handshake as surely).
    """
    leaf = load_certs(cert.certificate, "certificate", ref)[0]
    check_dates(leaf, "certificate", ref)
    if not cert.private_key:
        raise InvalidCertificate(f"The certificate {ref} has no private key.")
    key = load_key(cert.private_key, cert.private_key_passphrase, ref)
    if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey,
                            ed25519.Ed25519PrivateKey, ed448.Ed448PrivateKey)):
        raise InvalidCertificate(f"The private key of {ref} is of an unsupported type.")
    if not key_matches(leaf, key):
        raise InvalidCertificate(f"The private key of {ref} does not match its certificate.")
    chain = []
    for pem in cert.intermediates:
        for inter in load_certs(pem, "intermediate certificate of", ref):
            check_dates(inter, "intermediate certificate of", ref)
            chain.append(inter.public_bytes(serialization.Encoding.PEM))
    return Certificate(certificate=leaf.public_bytes(serialization.Encoding.PEM),
                       private_key=_key_pem(key), intermediates=tuple(chain))


def from_pem_bundle(data, passphrase, ref):
    """A Certificate from one PEM text holding the leaf, its key and maybe intermediates."""
    certs = blocks(data, b"CERTIFICATE")
    keys = [b for b in blocks(data) if _BLOCK.match(b).group(1) in _KEY_BLOCKS]
    if not certs:
        raise InvalidCertificate(f"The certificate {ref} is not PEM or PKCS12 data.")
    return Certificate(certificate=certs[0], private_key=keys[0] if keys else None,
                       intermediates=tuple(certs[1:]), private_key_passphrase=passphrase)


def from_pkcs12(data, passphrase, ref):
    """A Certificate (key unencrypted) from a PKCS12 bundle."""
    try:
        key, leaf, extra = pkcs12.load_key_and_certificates(data, passphrase or None)
    except ValueError as exc:
        raise InvalidCertificate(f"The PKCS12 bundle {ref} cannot be read (a wrong "
                                 "passphrase, or not PKCS12 data).", f"{ref}: {exc}") from None
    if leaf is None:
        raise InvalidCertificate(f"The PKCS12 bundle {ref} holds no certificate.")
    pem = serialization.Encoding.PEM
    return Certificate(certificate=leaf.public_bytes(pem),
                       private_key=_key_pem(key) if key is not None else None,
                       intermediates=tuple(c.public_bytes(pem) for c in extra or ()))


def from_payload(data, passphrase, ref):
    """A Certificate from a stored payload: PEM (leaf, key, chain) or PKCS12."""
    if b"-----BEGIN" in (data or b""):
        return from_pem_bundle(data, passphrase, ref)
    return from_pkcs12(data, passphrase, ref)


def _is_ca(cert):
    try:
        return cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def validate_ca_bundle(data, ref):
    """The CA bundle's PEM, normalised; InvalidCertificate unless every entry is a CA in date.

    A bundle holding a private key is refused: a CA reference is certificates only.
    """
    if any(_BLOCK.match(b).group(1) in _KEY_BLOCKS for b in blocks(data)):
        raise InvalidCertificate(f"The CA certificate {ref} holds a private key; a CA "
                                 "reference must hold certificates only.")
    certs = load_certs(data, "CA certificate", ref)
    for cert in certs:
        if not _is_ca(cert):
            raise InvalidCertificate(f"The CA certificate {ref} is not a CA bundle: "
                                     f"{cert.subject.rfc4514_string()} is not a CA "
                                     "certificate (basicConstraints CA:TRUE).")
        check_dates(cert, "CA certificate", ref)
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def _signed_by(crl, ca):
    if crl.issuer != ca.subject:
        return False
    try:
        return crl.is_signature_valid(ca.public_key())
    except TypeError:  # a key type CRLs cannot be signed with
        return False


def validate_crl(data, ref, ca_bundle=None, ca_ref=None):
    """The CRL's PEM, normalised; InvalidCertificate unless it parses and a CA signed it."""
    pems = blocks(data, b"X509 CRL")
    if len(pems) != 1:
        raise InvalidCertificate(f"The certificate revocation list {ref} is not one PEM "
                                 "X509 CRL.")
    try:
        crl = x509.load_pem_x509_crl(pems[0])
    except ValueError as exc:
        raise InvalidCertificate(f"The certificate revocation list {ref} is not a valid PEM "
                                 "X509 CRL.", f"{ref}: {exc}") from None
    if ca_bundle is not None:
        cas = load_certs(ca_bundle, "CA certificate", ca_ref)
        if not any(_signed_by(crl, ca) for ca in cas):
            raise InvalidCertificate(f"The certificate revocation list {ref} is not signed by "
                                     f"the CA certificate {ca_ref}.")
    return crl.public_bytes(serialization.Encoding.PEM)


def crt_file(cert):
    """The bytes of one HAProxy `crt` file: leaf, intermediates, then the unencrypted key."""
    return cert.certificate + b"".join(cert.intermediates) + cert.private_key


def expiry(cert_pem):
    """The expiry of a PEM certificate, as naive UTC."""
    cert = x509.load_pem_x509_certificate(blocks(cert_pem, b"CERTIFICATE")[0])
    return cert.not_valid_after_utc.replace(tzinfo=None)

