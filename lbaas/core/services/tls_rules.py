"""TLS option rules shared by listeners and pools: ciphers, versions, ALPN, certificate refs."""
import logging
import re

from lbaas.core import certificates
from lbaas.core import pem
from lbaas.core import constants as c
from lbaas.core import errors

LOG = logging.getLogger(__name__)

_CIPHER_CHARS = re.compile(r"[A-Za-z0-9\-+!:@=_.]*")   # fullmatch: "$" lets "\n" end it


def check_ciphers(conf, ciphers):
    """400 for characters OpenSSL cipher strings do not use, or ciphers the operator prohibits."""
    if ciphers is None:
        return
    if not _CIPHER_CHARS.fullmatch(ciphers):
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


class _Checker:
    """Loads references through the configured manager, collecting what goes wrong."""

    def __init__(self, conf, ctx):
        self.manager = certificates.get_manager(conf)
        self.ctx = ctx
        self.unreadable, self.invalid = [], None

    def run(self, ref, fn):
        """fn() under the collection rules; its result, or None if it failed."""
        try:
            return fn()
        except certificates.CertificateNotFound as exc:
            LOG.warning("certificate reference %s unreadable: %s", ref, exc.operator_message)
            self.unreadable.append(ref)
        except certificates.InvalidCertificate as exc:
            LOG.info("certificate reference %s refused: %s", ref, exc.operator_message)
            self.invalid = self.invalid or exc
        return None

    def raise_first(self):
        """400 for unreadable references (all of them), else for the first invalid one."""
        if self.unreadable:
            raise errors.CertificateRetrievalException(ref=", ".join(self.unreadable))
        if self.invalid is not None:
            raise errors.ValidationException(detail=self.invalid.user_message,
                                             operator_message=self.invalid.operator_message)


def check_refs(conf, certs=(), ca=None, crl=None, ca_for_crl=None, ctx=None):
    """400 unless every reference loads through the configured certificate manager and is valid.

    `certs` are certificate-with-key references (in date, key matching); `ca` is a CA
    bundle reference (certificates only, each a CA); `crl` a CRL reference, which must
    be signed by a CA of `ca_for_crl` (default `ca`). Nothing is written before this passes.
    """
    certs = [r for r in certs if r]
    if not (certs or ca or crl):
        return
    checker = _Checker(conf, ctx)
    for ref in dict.fromkeys(certs):
        checker.run(ref, lambda r=ref: pem.validate(checker.manager.get_cert(ctx, r), r))
    bundle = None
    if ca:
        bundle = checker.run(ca, lambda: pem.validate_ca_bundle(
            checker.manager.get_secret(ctx, ca), ca))
    ca_for_crl = ca_for_crl or ca
    if crl:
        if ca_for_crl and ca_for_crl != ca:
            bundle = checker.run(ca_for_crl, lambda: checker.manager.get_secret(ctx, ca_for_crl))
        if bundle is not None or not ca_for_crl:
            checker.run(crl, lambda: pem.validate_crl(checker.manager.get_secret(ctx, crl), crl,
                                                      bundle, ca_for_crl))
    checker.raise_first()
