"""Certificate managers (stevedore namespace `lbaas.cert_manager`) and the shared PEM checks."""
import threading

from stevedore import driver as stevedore_driver

from lbaas.certificates.base import (CertManager, Certificate, CertificateError,  # noqa: F401
                                     CertificateNotFound, InvalidCertificate)

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
