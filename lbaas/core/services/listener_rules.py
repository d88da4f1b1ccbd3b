"""The listener's field rules: defaults, protocol-specific options, CIDRs, HSTS, TLS."""
import ipaddress

from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.services import config_rules, tls_rules

CERT_REFS = ("default_tls_container_ref", "client_ca_tls_container_ref",
             "client_crl_container_ref")


def creation_defaults(conf, protocol):
    """Values a new listener of this protocol gets for fields the caller left out."""
    timeouts = conf.haproxy_amphora
    values = {
        "connection_limit": -1, "insert_headers": {}, "sni_container_refs": [],
        "client_authentication": "NONE", "allowed_cidrs": [], "hsts_include_subdomains": False,
        "hsts_preload": False, "timeout_client_data": timeouts.timeout_client_data,
        "timeout_member_connect": timeouts.timeout_member_connect,
        "timeout_member_data": timeouts.timeout_member_data,
        "timeout_tcp_inspect": timeouts.timeout_tcp_inspect,
    }
    values.update(tls_defaults(conf, protocol))
    return values


def tls_defaults(conf, protocol):
    """TLS option defaults: only TERMINATED_HTTPS listeners have any."""
    if protocol != "TERMINATED_HTTPS":
        return {"tls_ciphers": None, "tls_versions": None, "alpn_protocols": None}
    api = conf.api_settings
    return {"tls_ciphers": api.default_listener_ciphers,
            "tls_versions": list(api.default_listener_tls_versions),
            "alpn_protocols": list(api.default_listener_alpn_protocols)}


def null_substitutes(conf, protocol):
    """What an explicit null on update means for each field that has a default."""
    values = creation_defaults(conf, protocol)
    values.update({"default_pool_id": None, "default_tls_container_ref": None,
                   "client_ca_tls_container_ref": None, "client_crl_container_ref": None,
                   "hsts_max_age": None, "name": None, "description": None,
                   "admin_state_up": False})
    return values


def normalize_cidrs(cidrs):
    """CIDRs as network/prefix, de-duplicated, order kept."""
    result = []
    for cidr in cidrs or []:
        try:
            net = str(ipaddress.ip_network(cidr, strict=False))
        except ValueError:
            raise errors.InvalidInput(attr="allowed_cidrs", value=cidr,
                                      reason="Value should be a valid CIDR.") from None
        if net not in result:
            result.append(net)
    return result


def check_cidrs(lb, cidrs):
    """400 if CIDRs are used with VIP security groups or match no VIP's IP family."""
    if not cidrs:
        return
    if lb.vip_sg_ids:
        raise errors.ValidationException(
            detail="Allowed CIDRs are not allowed when using custom VIP Security Groups.")
    vips = [lb.vip_address] + [v.ip_address for v in lb.additional_vips]
    versions = {ipaddress.ip_address(v).version for v in vips if v}
    for cidr in cidrs:
        if versions and ipaddress.ip_network(cidr).version not in versions:
            raise errors.ValidationException(
                detail=f"CIDR {cidr} IP version incompatible with all VIPs "
                       f"{', '.join(v for v in vips if v)} IP version.")


def _tls_capable(protocol, values):
    has_ref = any(values.get(k) for k in CERT_REFS) or values.get("sni_container_refs")
    return protocol == "TERMINATED_HTTPS" or (protocol == "PROMETHEUS" and bool(has_ref))


def check(conf, protocol, values, explicit, ctx=None):
    """Validate a listener's merged values; `explicit` are the keys the caller sent.

    Certificate references are read through the configured manager (as `ctx`, the caller,
    when given) after every other rule passed.
    """
    api = conf.api_settings
    config_rules.check(values, addresses=("allowed_cidrs",))
    headers = values.get("insert_headers") or {}
    if headers:
        if protocol not in ("HTTP", "TERMINATED_HTTPS"):
            raise errors.InvalidOption(value="insert-headers",
                                       option=f"a {protocol} protocol listener.")
        for name in headers:
            if name in c.SSL_CLIENT_HEADERS:
                if protocol != "TERMINATED_HTTPS":
                    raise errors.InvalidOption(value=name,
                                               option=f"a {protocol} protocol listener.")
            elif name not in c.INSERT_HEADERS:
                raise errors.InvalidOption(value=name, option="insert_headers")
    refs = [values.get(k) for k in CERT_REFS] + list(values.get("sni_container_refs") or [])
    has_refs = any(refs)
    if protocol in c.DATAGRAM_PROTOCOLS and has_refs:
        raise errors.ValidationException(
            detail=f"{protocol} protocol listener does not support TLS.")
    capable = _tls_capable(protocol, values)
    if capable and not api.allow_tls_terminated_listeners:
        value = "TERMINATED_HTTPS" if protocol == "TERMINATED_HTTPS" else "PROMETHEUS with TLS"
        raise errors.DisabledOption(option="protocol", value=value)
    if protocol == "PROMETHEUS" and not api.allow_prometheus_listeners:
        raise errors.DisabledOption(option="protocol", value="PROMETHEUS")
    if has_refs and not capable:
        raise errors.ValidationException(
            detail=f"Certificate container references are not allowed on {protocol} protocol "
                   "listeners.")
    has_cert = values.get("default_tls_container_ref") or values.get("sni_container_refs")
    if values.get("client_ca_tls_container_ref") and not has_cert:
        raise errors.ValidationException(
            detail="An SNI or default certificate container reference must be provided with "
                   "a client CA container reference.")
    if capable and not has_cert:
        raise errors.ValidationException(
            detail="An SNI or default certificate container reference must be provided for "
                   f"{protocol} protocol listeners.")
    if values.get("client_authentication", "NONE") != "NONE" and \
            not values.get("client_ca_tls_container_ref"):
        raise errors.ValidationException(
            detail=f"Client authentication setting {values['client_authentication']} requires "
                   "a client CA container reference.")
    if values.get("client_crl_container_ref") and not values.get("client_ca_tls_container_ref"):
        raise errors.ValidationException(
            detail="A client authentication CA reference is required to specify a client "
                   "authentication revocation list.")
    tls_rules.check_ciphers(conf, values.get("tls_ciphers"))
    if capable or "tls_versions" in explicit:
        tls_rules.check_versions(conf, values.get("tls_versions"))
    if capable or "alpn_protocols" in explicit:
        tls_rules.check_alpn(values.get("alpn_protocols"))
    _check_hsts(protocol, values)
    check_refs(conf, values, explicit, ctx)


def check_refs(conf, values, explicit, ctx=None):
    """400 unless the sent references load and are valid (a CRL also against a stored CA)."""
    certs = [values.get("default_tls_container_ref")] \
        if "default_tls_container_ref" in explicit else []
    if "sni_container_refs" in explicit:
        certs += list(values.get("sni_container_refs") or [])
    ca = values.get("client_ca_tls_container_ref")
    ca_sent = "client_ca_tls_container_ref" in explicit
    crl = values.get("client_crl_container_ref") \
        if "client_crl_container_ref" in explicit or ca_sent else None
    tls_rules.check_refs(conf, certs, ca=ca if ca_sent else None, crl=crl, ca_for_crl=ca,
                         ctx=ctx)


def _check_hsts(protocol, values):
    max_age = values.get("hsts_max_age")
    if (values.get("hsts_include_subdomains") or values.get("hsts_preload")) and max_age is None:
        raise errors.ValidationException(
            detail="HTTP Strict Transport Security requires hsts_max_age to be set when "
                   "hsts_include_subdomains or hsts_preload is enabled.")
    if max_age is not None and protocol != "TERMINATED_HTTPS":
        raise errors.ValidationException(
            detail="The HSTS feature can only be used for listeners using the "
                   "TERMINATED_HTTPS protocol.")


def check_default_pool(listener_protocol, pool, pool_id, lb_id):
    """400/404 unless the pool can be this listener's default pool."""
    if listener_protocol == "PROMETHEUS":
        raise errors.ListenerNoChildren(protocol=listener_protocol)
    if pool is None or pool.loadbalancer_id != lb_id or pool.provisioning_status == c.DELETED:
        raise errors.NotFound(resource="Pool", id=pool_id)
    if pool.protocol not in c.LISTENER_POOL_PROTOCOLS[listener_protocol]:
        raise errors.ValidationException(
            detail=f"The pool protocol '{pool.protocol}' is invalid while the listener "
                   f"protocol is '{listener_protocol}'.")
