"""Certificate managers: where listener and pool TLS references are read from.

Implementations of the lbaas.core.certificates seam, loaded by name from the stevedore
namespace `lbaas.cert_manager`: `local` (this database), `barbican`, `noop`. The seam and
the PEM checks every manager's callers use are core's; they are named here too.
"""
from lbaas.core import pem  # noqa: F401
from lbaas.core.certificates import (NAMESPACE, CertManager, Certificate,  # noqa: F401
                                     CertificateError, CertificateNotFound,
                                     InvalidCertificate, get_manager, load)
