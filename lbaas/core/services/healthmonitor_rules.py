"""The health monitor's field rules: type versus pool protocol, HTTP options, defaults."""
import re
import urllib.parse

from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.services import config_rules

HTTP_OPTIONS = ("http_method", "url_path", "expected_codes")
HTTP_DEFAULTS = {"http_method": c.HM_DEFAULT_HTTP_METHOD, "url_path": c.HM_DEFAULT_URL_PATH,
                 "expected_codes": c.HM_DEFAULT_EXPECTED_CODES}
UPDATABLE = ("name", "admin_state_up", "delay", "timeout", "max_retries", "max_retries_down",
             "http_method", "url_path", "expected_codes", "http_version", "domain_name")
_WHITESPACE = re.compile(r"\s")


def check_type(conf, hm_type, pool_protocol):
    """400 unless the operator allows the type and it can watch a pool of this protocol."""
    if hm_type == "PING" and not conf.api_settings.allow_ping_health_monitors:
        raise errors.DisabledOption(option="type", value="PING")
    if pool_protocol in c.DATAGRAM_PROTOCOLS:
        if hm_type not in c.HM_TYPES_FOR_DATAGRAM_POOLS:
            raise errors.ValidationException(
                detail=f"The associated pool protocol is {pool_protocol}, so only a "
                       "UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.")
    elif hm_type not in c.HM_TYPES_FOR_STREAM_POOLS:
        raise errors.ValidationException(
            detail=f"The {hm_type} type is only supported for pools of type "
                   f"{'/'.join(c.DATAGRAM_PROTOCOLS)}.")


def check_delay(conf, hm_type, delay):
    """400 for a UDP-CONNECT monitor probing more often than the operator allows."""
    minimum = conf.api_settings.udp_connect_min_interval_health_monitor
    if hm_type == "UDP-CONNECT" and delay is not None and delay < minimum:
        raise errors.ValidationException(
            detail=f"The request delay value {delay} should be larger than {minimum} for "
                   f"{hm_type} health monitor type.")


def check_http_options(hm_type, values):
    """400 for HTTP-only options on a monitor of another type."""
    if hm_type in c.HM_HTTP_TYPES:
        return
    for attr in HTTP_OPTIONS:
        if values.get(attr) is not None:
            raise errors.InvalidOption(value=attr, option=f"health monitors of type {hm_type}")


def check_url_path(url_path):
    """400 unless the value is an absolute path: no scheme, host, port, user or whitespace."""
    if url_path is None:
        return
    try:
        parts = urllib.parse.urlsplit(url_path)
        bad = bool(parts.scheme or parts.netloc) or not parts.path.startswith("/")
    except ValueError:
        bad = True
    if bad or _WHITESPACE.search(url_path):
        raise errors.InvalidURLPath(url_path=url_path)


def check_domain_name(domain_name, http_version):
    """400 for a domain name without an HTTP version that sends a Host header (1.1)."""
    if not domain_name:
        return
    if http_version is None:
        raise errors.ValidationException(
            detail="'http_version' must be specified when 'domain_name' is provided.")
    if http_version < 1.1:
        raise errors.InvalidOption(value=f"http_version {http_version}",
                                   option="health monitors HTTP 1.1 domain name health check")


def values_for_create(body):
    """A new monitor's column values: the body's, with the type's defaults where it is silent."""
    hm_type = body["type"]
    values = {k: body.get(k) for k in UPDATABLE}
    values.update(type=hm_type, admin_state_up=bool(body.get("admin_state_up", True)))
    if values["max_retries_down"] is None:
        values["max_retries_down"] = c.HM_DEFAULT_MAX_RETRIES_DOWN
    if hm_type in c.HM_HTTP_TYPES:
        for key, value in HTTP_DEFAULTS.items():
            if values[key] is None:
                values[key] = value
    return values


RENDERED = ("url_path", "domain_name", "expected_codes", "http_method")


def check(conf, hm_type, pool_protocol, values):
    """Validate a new monitor's values against its pool."""
    config_rules.check(values, text=RENDERED)
    check_type(conf, hm_type, pool_protocol)
    check_delay(conf, hm_type, values["delay"])
    check_http_options(hm_type, values)
    check_url_path(values.get("url_path"))
    check_domain_name(values.get("domain_name"), values.get("http_version"))


def changes_for_update(conf, row, body):
    """The validated column changes of a monitor update body, nulls replaced by defaults."""
    substitutes = {"admin_state_up": False, "max_retries_down": c.HM_DEFAULT_MAX_RETRIES_DOWN}
    if row.type in c.HM_HTTP_TYPES:
        substitutes.update(HTTP_DEFAULTS)
    changes = {k: (substitutes.get(k) if body[k] is None else body[k])
               for k in UPDATABLE if k in body}
    if "admin_state_up" in changes:
        changes["admin_state_up"] = bool(changes["admin_state_up"])
    config_rules.check(changes, text=RENDERED)
    check_http_options(row.type, changes)
    check_delay(conf, row.type, changes.get("delay"))
    check_url_path(changes.get("url_path"))
    check_domain_name(changes.get("domain_name", row.domain_name),
                      changes.get("http_version", row.http_version))
    return changes
