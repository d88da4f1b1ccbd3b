"""The `local` manager: certificates in lbaas's own database, private keys encrypted at rest.

References are `lbaas://certificates/<uuid>`. Rows are written by `lbaas certificate
import` (lbaas.cmd.certificate), which validates them first. A row with a project id is
readable by that project (and admins) only; one without is shared by every project.
"""
import base64
import hashlib
import os
import re
import secrets
import threading

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy.exc import SQLAlchemyError

from lbaas import conf as lbaas_conf
from lbaas.core import pem
from lbaas.core.certificates import (CertManager, Certificate, CertificateNotFound,
                                     InvalidCertificate)
from lbaas.core import private
from lbaas.core.db import Database
from lbaas.db.certificate import StoredCertificate

PREFIX = "lbaas://certificates/"
KEY_FILE = "certificates.key"
_REF = re.compile(r"^lbaas://certificates/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-"
                  r"[0-9a-f]{12})$")


def ref_of(cert_id):
    """The API reference of a stored object."""
    return PREFIX + cert_id


def key_path(conf):
    """Where the generated encryption key lives when [certificates] encryption_key is unset."""
    return os.path.join(conf.state_path, KEY_FILE)


def ensure_key_file(conf):
    """Create <state_path>/certificates.key (mode 0600) unless a key is configured or exists."""
    if conf.certificates.encryption_key:
        return
    private.ensure_dir(conf.state_path)
    try:
        fd = os.open(key_path(conf), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.fchmod(fd, 0o600)  # whatever the umask took
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))


def fernet(conf):
    """The Fernet of the configured key; CertificateNotFound (operator detail) when none is."""
    secret = conf.certificates.encryption_key
    if not secret:
        try:
            with open(key_path(conf)) as f:
                secret = f.read().strip()
        except OSError:
            secret = None
    if not secret:
        raise CertificateNotFound(
            "The certificate store of this deployment is not configured.",
            "[certificates] encryption_key is not set and "
            f"{key_path(conf)} does not exist: the local certificate manager cannot "
            "decrypt private keys. Set the option (the same in every API process).")
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(secret.encode()).digest()))


def parse_ref(ref):
    """The uuid of a local reference, or CertificateNotFound."""
    match = _REF.match(ref or "")
    if not match:
        raise CertificateNotFound(f"{ref} is not a reference of this deployment's "
                                  "certificate store (lbaas://certificates/<uuid>).")
    return match.group(1)


class LocalCertManager(CertManager):
    """Certificates, CA bundles and CRLs stored in the lbaas database."""

    def __init__(self, conf):
        super().__init__(conf)
        self._db = None
        self._lock = threading.Lock()

    @property
    def db(self):
        """The database (opened on first use, so loading the manager costs nothing)."""
        with self._lock:
            if self._db is None:
                self._db = Database(lbaas_conf.database_url(self.conf), pool_size=2)
            return self._db

    def _row(self, context, ref):
        cert_id = parse_ref(ref)
        try:
            with self.db.read() as session:
                row = session.get(StoredCertificate, cert_id)
        except SQLAlchemyError as exc:
            raise CertificateNotFound("The certificate store could not be read.",
                                      f"reading certificate {cert_id}: {exc}") from None
        if row is None or not _visible(row, context):
            raise CertificateNotFound(f"Certificate {ref} not found.",
                                      f"no row {cert_id} in table certificate visible to "
                                      f"project {getattr(context, 'project_id', None)}")
        return row

    def get_cert(self, context, ref):
        """A stored certificate with its decrypted key (kind `certificate` only)."""
        row = self._row(context, ref)
        if row.kind != "certificate":
            raise InvalidCertificate(f"{ref} is a {row.kind.replace('_', ' ')}, not a "
                                     "certificate with a private key.")
        try:
            key = fernet(self.conf).decrypt(row.private_key)
        except InvalidToken:
            raise CertificateNotFound(
                f"Could not decrypt the private key of {ref}.",
                f"the private key of certificate {row.id} does not decrypt with the "
                "configured [certificates] encryption_key (was the key changed?)") from None
        return Certificate(certificate=row.certificate.encode(), private_key=key,
                           intermediates=tuple(pem.blocks((row.intermediates or "").encode())))

    def get_secret(self, context, ref):
        """A CA bundle's or CRL's PEM; for a certificate, its certificates without the key."""
        row = self._row(context, ref)
        return (row.certificate + (row.intermediates or "")).encode()

    def store(self, session, *, kind, certificate, intermediates=(), private_key=None,
              name=None, project_id=None):
        """Add validated PEM objects to `session`; returns the row (key encrypted here)."""
        row = StoredCertificate(
            kind=kind, name=name, project_id=project_id,
            certificate=certificate.decode(),
            intermediates=b"".join(intermediates).decode() or None,
            private_key=fernet(self.conf).encrypt(private_key) if private_key else None,
            expires_at=pem.expiry(certificate) if kind != "crl" else None)
        session.add(row)
        return row


def _visible(row, context):
    if row.project_id is None or context is None or getattr(context, "is_admin", False):
        return True
    return row.project_id == getattr(context, "project_id", None)
