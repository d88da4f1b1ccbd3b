"""The pool's field rules: listener compatibility, session persistence, TLS toward members."""
from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.services import config_rules, tls_rules

SP_KEYS = ("type", "cookie_name", "persistence_timeout", "persistence_granularity")
CERT_REFS = ("tls_container_ref", "ca_tls_container_ref", "crl_container_ref")
# Fields a create or update body may set on the row.
WRITABLE = ("name", "description", "admin_state_up", "lb_algorithm", "session_persistence",
            "tls_enabled", "tls_container_ref", "ca_tls_container_ref", "crl_container_ref",
            "tls_ciphers", "tls_versions", "alpn_protocols")
_COOKIE_SEPARATORS = set('"(),/:;<=>?@[\\]{}')
_DATAGRAM = "/".join(c.DATAGRAM_PROTOCOLS)


def check_listener(listener, protocol):
    """400 unless a pool of this protocol may be the listener's default pool."""
    if listener.protocol == "PROMETHEUS":
        raise errors.ListenerNoChildren(protocol=listener.protocol)
    if protocol not in c.LISTENER_POOL_PROTOCOLS[listener.protocol]:
        raise errors.ValidationException(
            detail=f"The pool protocol '{protocol}' is invalid while the listener protocol "
                   f"is '{listener.protocol}'.")


def persistence(value):
    """A session persistence object with all four keys, or None."""
    if value is None:
        return None
    return {k: value.get(k) for k in SP_KEYS}


def merged_persistence(stored, sent):
    """The persistence an update leaves: the sent keys over the stored object of the same type."""
    if sent is None:
        return None
    base = dict(stored or {})
    if sent.get("type") not in (None, base.get("type")):
        base = {}
    base.update(sent)
    return persistence(base)


def check_persistence(protocol, sp):
    """400 unless the session persistence object suits a pool of this protocol."""
    if sp is None:
        return
    if sp.get("type") is None:
        raise errors.InvalidInput(attr="type", value=None, reason="Mandatory field missing.")
    config_rules.check(sp, text=("cookie_name",), addresses=("persistence_granularity",))
    if protocol in c.DATAGRAM_PROTOCOLS:
        _check_datagram_persistence(sp)
    elif sp.get("persistence_timeout") or sp.get("persistence_granularity"):
        raise errors.ValidationException(
            detail="persistence_timeout and persistence_granularity is only for UDP and SCTP "
                   "protocol pools.")
    _check_cookie(sp)


def _check_datagram_persistence(sp):
    kind = sp["type"]
    if kind == "SOURCE_IP" and sp.get("cookie_name"):
        raise errors.ValidationException(
            detail="session_persistence SOURCE_IP type for UDP and SCTP protocols only accepts: "
                   "type, persistence_timeout, persistence_granularity.")
    if sp.get("cookie_name"):
        raise errors.ValidationException(
            detail=f"Cookie names are not supported for {_DATAGRAM} pools.")
    if kind in ("HTTP_COOKIE", "APP_COOKIE"):
        raise errors.ValidationException(
            detail=f"Session persistence of type {kind} is not supported for {_DATAGRAM} "
                   "protocol pools.")


def _check_cookie(sp):
    name = sp.get("cookie_name")
    if name:
        if sp["type"] != "APP_COOKIE":
            raise errors.ValidationException(
                detail='Field "cookie_name" can only be specified with session persistence of '
                       'type "APP_COOKIE".')
        if any(ch in _COOKIE_SEPARATORS or ord(ch) <= 0x20 or ord(ch) == 0x7F for ch in name):
            raise errors.ValidationException(detail='Supplied "cookie_name" is invalid.')
    elif sp["type"] == "APP_COOKIE":
        raise errors.ValidationException(
            detail='Field "cookie_name" must be specified when using the "APP_COOKIE" session '
                   'persistence type.')


def tls_defaults(conf):
    """The TLS options a TLS-enabled pool gets when the caller leaves them out."""
    api = conf.api_settings
    return {"tls_ciphers": api.default_pool_ciphers,
            "tls_versions": list(api.default_pool_tls_versions),
            "alpn_protocols": list(api.default_pool_alpn_protocols)}


def values_for_create(conf, body):
    """A new pool's column values: the body's, with defaults where it is silent or null."""
    values = {k: body.get(k) for k in WRITABLE}
    values.update(protocol=body["protocol"],
                  admin_state_up=bool(body.get("admin_state_up", True)),
                  tls_enabled=bool(body.get("tls_enabled")),
                  session_persistence=persistence(body.get("session_persistence")))
    if values["tls_enabled"]:
        for key, value in tls_defaults(conf).items():
            if values[key] is None:
                values[key] = value
    return values


def check_tls_create(conf, values, ctx=None):
    """400 for a CRL without a CA, prohibited ciphers, bad TLS lists or unusable refs."""
    if values.get("crl_container_ref") and not values.get("ca_tls_container_ref"):
        raise errors.ValidationException(
            detail="A CA certificate reference is required to specify a revocation list.")
    tls_rules.check_ciphers(conf, values.get("tls_ciphers"))
    if values.get("tls_enabled"):
        tls_rules.check_versions(conf, values.get("tls_versions"))
        tls_rules.check_alpn(values.get("alpn_protocols"))
    tls_rules.check_refs(conf, [values.get("tls_container_ref")],
                         ca=values.get("ca_tls_container_ref"),
                         crl=values.get("crl_container_ref"), ctx=ctx)


def null_substitutes(conf):
    """What an explicit null on update means for fields that are not simply cleared."""
    api = conf.api_settings
    return {"admin_state_up": False, "tls_enabled": False,
            "tls_ciphers": api.default_pool_ciphers,
            "tls_versions": list(api.default_pool_tls_versions)}


def changes_for_update(conf, row, body, ctx=None):
    """The validated column changes of a pool update body."""
    substitutes = null_substitutes(conf)
    changes = {k: (substitutes.get(k) if body[k] is None else body[k])
               for k in WRITABLE if k in body}
    for key in ("admin_state_up", "tls_enabled"):
        if key in changes:
            changes[key] = bool(changes[key])
    if "session_persistence" in changes:
        changes["session_persistence"] = merged_persistence(row.session_persistence,
                                                            body["session_persistence"])
        check_persistence(row.protocol, changes["session_persistence"])
    _check_tls_update(conf, row, changes, ctx)
    return changes


def _check_tls_update(conf, row, changes, ctx=None):
    ca = changes.get("ca_tls_container_ref", row.ca_tls_container_ref)
    crl = changes.get("crl_container_ref", row.crl_container_ref)
    if crl and not ca:
        if "ca_tls_container_ref" in changes and row.ca_tls_container_ref:
            raise errors.ValidationException(
                detail="A CA reference cannot be removed when a certificate revocation list is "
                       "present.")
        raise errors.ValidationException(
            detail="A CA reference is required to specify a certificate revocation list.")
    tls_rules.check_ciphers(conf, changes.get("tls_ciphers"))
    if "tls_versions" in changes:
        tls_rules.check_versions(conf, changes["tls_versions"])
    if "alpn_protocols" in changes:
        tls_rules.check_alpn(changes["alpn_protocols"])
    ca_sent = "ca_tls_container_ref" in changes
    tls_rules.check_refs(conf, [changes.get("tls_container_ref")],
                         ca=changes.get("ca_tls_container_ref"),
                         crl=crl if "crl_container_ref" in changes or ca_sent else None,
                         ca_for_crl=ca, ctx=ctx)
