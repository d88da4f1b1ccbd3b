"""The controller's certificate authority for amphora agents (mutual TLS, spec amphora.md §3).

The CA lives in one directory (default <state_path>/amphora-ca/): ca.key (0600) and ca.pem.
It is created on first use and loaded afterwards; creation holds an exclusive flock on
<dir>/.lock and writes each file to a temporary name then renames it, so processes that start
together end up sharing one CA and nobody ever reads a half-written key. ca.pem is written
last: it marks the CA complete.

Each amphora gets a server certificate (SAN: its management IPs and its id as a DNS name,
serverAuth); the controller gets a client certificate (clientAuth). Keys are EC P-256.
"""
import datetime
import fcntl
import ipaddress
import os
import ssl

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from lbaas.core import private

CA_KEY, CA_CERT, LOCK = "ca.key", "ca.pem", ".lock"
DEFAULT_VALIDITY = datetime.timedelta(days=30)      # Octavia's cert_validity_time
DEFAULT_CA_VALIDITY = datetime.timedelta(days=3650)
CLOCK_SKEW = datetime.timedelta(minutes=5)          # not_valid_before margin


def _new_key():
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key):
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def write_pair(directory, name, cert_pem, key_pem):
    """Write <name>.pem (cert then key, 0600) under directory; return its path."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, f"{name}.pem")
    private.write_atomic(path, cert_pem + key_pem)
    return path


class CertificateAuthority:
    """A self-signed CA kept in a directory; issues amphora server and controller client certs."""

    def __init__(self, key, cert, validity=DEFAULT_VALIDITY, directory=None):
        """Wrap a loaded CA key and certificate; validity is the lifetime of issued certs."""
        self.key, self.cert, self.validity = key, cert, validity
        self.directory = directory

    @classmethod
    def load_or_create(cls, directory, validity=DEFAULT_VALIDITY, ca_validity=DEFAULT_CA_VALIDITY,
                       common_name="lbaas amphora CA"):
        """The CA in directory, created there (under a lock) if it does not exist yet."""
        os.makedirs(directory, mode=0o700, exist_ok=True)
        key_path, cert_path = os.path.join(directory, CA_KEY), os.path.join(directory, CA_CERT)
        fd = os.open(os.path.join(directory, LOCK), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            if not os.path.exists(cert_path):
                key = _new_key()
                cert = _self_signed(key, common_name, ca_validity)
                private.write_atomic(key_path, _key_pem(key))
                private.write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM),
                                     0o644)
            with open(key_path, "rb") as f:
                key = serialization.load_pem_private_key(f.read(), password=None)
            with open(cert_path, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
        finally:
            os.close(fd)       # releases the flock
        return cls(key, cert, validity, directory)

    @classmethod
    def from_conf(cls, conf):
        """The CA configured in [certificates] (ca_dir, default <state_path>/amphora-ca)."""
        cert = conf.certificates
        return cls.load_or_create(
            cert.ca_dir or os.path.join(conf.state_path, "amphora-ca"),
            validity=datetime.timedelta(seconds=cert.cert_validity_time),
            ca_validity=datetime.timedelta(seconds=cert.ca_validity_time))

    @property
    def ca_pem(self):
        """The CA certificate in PEM (what both sides trust)."""
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def issue_server(self, amphora_id, ips, validity=None):
        """(cert PEM, key PEM) for an amphora agent: SAN its IPs and DNS:<id>, serverAuth."""
        names = [x509.DNSName(str(amphora_id))]
        names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ips]
        return self._issue(str(amphora_id), names, ExtendedKeyUsageOID.SERVER_AUTH, validity)

    def issue_client(self, name, validity=None):
        """(cert PEM, key PEM) for a controller process talking to agents: clientAuth."""
        return self._issue(name, [], ExtendedKeyUsageOID.CLIENT_AUTH, validity)

    def _issue(self, common_name, san, usage, validity):
        key = _new_key()
        now = datetime.datetime.now(datetime.timezone.utc)
        builder = (x509.CertificateBuilder()
                   .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
                   .issuer_name(self.cert.subject)
                   .public_key(key.public_key())
                   .serial_number(x509.random_serial_number())
                   .not_valid_before(now - CLOCK_SKEW)
                   .not_valid_after(now + (validity or self.validity))
                   .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                   .add_extension(_key_usage(digital_signature=True, key_cert_sign=False),
                                  critical=True)
                   .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
                   .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                                  critical=False)
                   .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                       self.key.public_key()), critical=False))
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        cert = builder.sign(self.key, hashes.SHA256())
        return cert.public_bytes(serialization.Encoding.PEM), _key_pem(key)


def expiry(cert_pem):
    """When a PEM certificate expires, as a naive UTC datetime (how the database stores it)."""
    cert = x509.load_pem_x509_certificate(cert_pem)
    return cert.not_valid_after_utc.replace(tzinfo=None)


def _key_usage(digital_signature, key_cert_sign):
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=key_cert_sign, crl_sign=key_cert_sign,
                         encipher_only=False, decipher_only=False)


def _self_signed(key, common_name, validity):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    return (x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - CLOCK_SKEW)
            .not_valid_after(now + validity)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(digital_signature=False, key_cert_sign=True), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .sign(key, hashes.SHA256()))


def _context(purpose, cert_file, ca_pem, minimum_version):
    ctx = ssl.create_default_context(purpose, cadata=ca_pem.decode("ascii"))
    ctx.minimum_version = minimum_version
    ctx.load_cert_chain(cert_file)
    return ctx


def tls_version(name):
    """ssl.TLSVersion for a config value such as "TLSv1.2" ([amphora_agent] agent_tls_protocol)."""
    return ssl.TLSVersion[name.replace(".", "_")]


def server_context(cert_file, ca_pem, minimum_version=ssl.TLSVersion.TLSv1_2):
    """SSLContext for an agent: serves cert_file (cert+key PEM), requires a CA-signed client."""
    ctx = _context(ssl.Purpose.CLIENT_AUTH, cert_file, ca_pem, minimum_version)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cert_file, ca_pem, minimum_version=ssl.TLSVersion.TLSv1_2):
    """SSLContext for the controller: presents cert_file, verifies the agent against the CA.

    Hostname checking is on: connect with server_hostname=<amphora IP> (or the amphora id).
    """
    ctx = _context(ssl.Purpose.SERVER_AUTH, cert_file, ca_pem, minimum_version)
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
