"""A throw-away CA and server certificate for the TLS probes (PEM files in a directory)."""
import datetime
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def _name(common_name):
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _sign(subject, issuer, public_key, signing_key, ca):
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer)
               .public_key(public_key).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1))
               .not_valid_after(now + datetime.timedelta(days=30))
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("conformance.example")]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


def write(directory):
    """Write ca.pem, server.pem and server.key; -> {"ca": path, "cert": path, "key": path}."""
    os.makedirs(directory, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _sign(_name("conformance CA"), _name("conformance CA"), ca_key.public_key(), ca_key,
               True)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _sign(_name("conformance.example"), ca.subject, key.public_key(), ca_key, False)
    pem = serialization.Encoding.PEM
    files = {"ca": ca.public_bytes(pem), "cert": cert.public_bytes(pem),
             "key": key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())}
    paths = {}
    for name, data in files.items():
        paths[name] = os.path.join(directory, f"{name}.pem")
        with open(paths[name], "wb") as f:
            f.write(data)
    return paths
