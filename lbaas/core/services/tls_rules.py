"""TLS option rules shared by listeners and pools: ciphers, versions, ALPN, certificate refs."""
import re

from lbaas.core import constants as c
from lbaas.core import errors

_CIPHER_CHARS = re.compile(r"^[A-Za-z0-9\-+!:@=_.]*$")


def check_ciphers(conf, ciphers):
    """400 for characters OpenSSL cipher strings do not use, or ciphers the operator prohibits."""
    if ciphers is None:
        return
    if not _CIPHER_CHARS.match(ciphers):
        raise errors.InvalidInput(attr="tls_ciphers", value=ciphers,
                                  reason="Value contains characters not allowed in a cipher "
                                         "string.")
    prohibited = {x for x in conf.api_settings.tls_cipher_prohibit_list.split(":") if x}
    rejected = [x for x in ciphers.split(":") if x in prohibited]
    if rejected:
        raise errors.ValidationException(
            detail="The following ciphers have been prohibited by an administrator: "
                   + ", ".join(rejected))


def check_versions(conf, versions):
    """400 for an empty list or versions below the configured minimum."""
    if versions is None:
        return
    if not versions:
        raise errors.ValidationException(detail="TLS versions cannot be an empty list.")
    minimum = conf.api_settings.minimum_tls_version
    if minimum:
        floor = c.TLS_VERSIONS.index(minimum)
        low = [v for v in versions if c.TLS_VERSIONS.index(v) < floor]
        if low:
            raise errors.ValidationException(
                detail=f"TLS version {', '.join(low)} is below the minimum {minimum} allowed "
                       "in this deployment.")


def check_alpn(protocols):
    """400 for an empty ALPN list."""
    if protocols is not None and not protocols:
        raise errors.ValidationException(detail="ALPN protocols cannot be an empty list.")


def check_refs_retrievable(refs):
    """400 for certificate references no certificate store can read.

    No certificate manager is configured in this version, so every reference is
    unreadable: TLS-terminating objects cannot be created until one is.
    """
    bad = [r for r in refs if r]
    if bad:
        raise errors.CertificateRetrievalException(ref=", ".join(bad))
