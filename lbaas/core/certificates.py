"""The certificate-manager seam: one base class, the certificate it returns, its errors, and
the loader of the managers (stevedore namespace `lbaas.cert_manager`; the implementations
live in lbaas.certificates)."""
import dataclasses
import threading

from stevedore import driver as stevedore_driver


@dataclasses.dataclass(frozen=True)
class Certificate:
    """A TLS certificate as a store holds it: PEM bytes, the key perhaps still encrypted."""

    certificate: bytes                    # the leaf certificate, PEM
    private_key: bytes | None = None      # PEM; encrypted when private_key_passphrase is set
    intermediates: tuple = ()             # PEM certificates of the chain, leaf-side first
    private_key_passphrase: bytes | None = None


class CertificateError(Exception):
    """A reference that cannot be used: what the user may see, and what the operator needs."""

    def __init__(self, user_message, operator_message=None):
        super().__init__(user_message)
        self.user_message = user_message
        self.operator_message = operator_message or user_message


class CertificateNotFound(CertificateError):
    """The store does not know the reference, or refuses to read it (unreadable)."""


class InvalidCertificate(CertificateError):
    """The store returned data that is not a usable certificate, key, CA bundle or CRL."""


class CertManager:
    """A certificate store, loaded by name from the `lbaas.cert_manager` entry points.

    `context` is the caller's lbaas.core.context.RequestContext, or None when the
    control plane reads on its own behalf (a worker pushing files to an amphora).
    Both methods raise CertificateNotFound for a reference the store cannot read
    (unknown, malformed, forbidden, store down) and InvalidCertificate for data that
    is not of the asked kind. Neither validates dates or key/cert matching: callers
    use lbaas.certificates.pem for that.
    """

    def __init__(self, conf):
        self.conf = conf

    def get_cert(self, context, ref):
        """The certificate, private key and intermediates behind `ref` (a Certificate)."""
        raise NotImplementedError

    def get_secret(self, context, ref):
        """The PEM bytes of a certificate-only reference: a CA bundle or a CRL."""
        raise NotImplementedError


NAMESPACE = "lbaas.cert_manager"
_managers = {}  # id(conf) -> (conf, manager)
_lock = threading.Lock()


def load(conf, name=None):
    """A new manager named `name` (default `[certificates] cert_manager`); clear error if absent."""
    name = name or conf.certificates.cert_manager
    try:
        return stevedore_driver.DriverManager(namespace=NAMESPACE, name=name,
                                              invoke_on_load=True, invoke_args=(conf,)).driver
    except Exception as exc:
        raise RuntimeError(f"certificate manager {name!r} (entry point {NAMESPACE}:{name}) "
                           f"cannot be loaded: {exc}") from exc


def get_manager(conf):
    """The configured manager of this configuration, loaded once."""
    with _lock:
        name = conf.certificates.cert_manager
        held, manager = _managers.get(id(conf), (None, None))
        if held is not conf or manager.name != name:
            manager = load(conf, name)
            manager.name = name
            _managers[id(conf)] = (conf, manager)
        return manager
