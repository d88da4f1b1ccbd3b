"""Options of a UDP/SCTP listener that keepalived LVS (IPVS) cannot express."""
import ipaddress

from octavia_lib.api.drivers import exceptions
from octavia_lib.common import constants as c

LVS_PROTOCOLS = frozenset({c.PROTOCOL_UDP, c.PROTOCOL_SCTP})
ALGORITHMS = {c.LB_ALGORITHM_ROUND_ROBIN, c.LB_ALGORITHM_LEAST_CONNECTIONS,
              c.LB_ALGORITHM_SOURCE_IP, c.LB_ALGORITHM_SOURCE_IP_PORT}
MONITORS = {c.HEALTH_MONITOR_UDP_CONNECT, c.HEALTH_MONITOR_SCTP, c.HEALTH_MONITOR_TCP,
            c.HEALTH_MONITOR_HTTP, c.HEALTH_MONITOR_PING}
# keepalived splits words on blanks and starts comments at `#` and `!`; quotes and braces are
# syntax. A monitor's url_path carrying any of them cannot be written as one safe word.
UNSAFE_PATH_CHARS = frozenset(" \t\r\n#!\"'{}\\")


def is_lvs_listener(listener):
    """Whether keepalived LVS (not HAProxy) serves this listener."""
    return listener.protocol in LVS_PROTOCOLS


def _unsupported(option, what):
    """The octavia-lib error for one option LVS cannot express."""
    return exceptions.UnsupportedOptionError(
        user_fault_string=f"The amphora provider does not support {option} {what!r} on UDP or "
                          "SCTP listeners.",
        operator_fault_string=f"amphora keepalived LVS renderer: unsupported {option} {what!r}")


def _items(value):
    """A data-model list field as a list (Unset and None are empty)."""
    return list(value or [])


def _get(obj, key):
    """A field of a dict or a data-model object; None when missing or Unset."""
    value = obj.get(key) if isinstance(obj, dict) else getattr(obj, key, None)
    return value if value or value == 0 else None


def granularity(value, family):
    """The keepalived persistence_granularity of `value` for a virtual server of this IP family.

    IPv4 virtual servers take a dotted netmask (`255.255.255.0`, or a prefix length 0-32
    converted to one); IPv6 virtual servers take a prefix length (`64`, `/64`, or an IPv6
    netmask converted to one). A value of the other family gives None: the caller uses the
    whole-address default. ValueError when the value is a netmask of neither family.
    """
    text = str(value).strip().lstrip("/")
    if text.isdigit():
        bits = int(text)
        if bits > 128:
            raise ValueError(value)
        if family == 4:
            return str(ipaddress.IPv4Network(f"0.0.0.0/{bits}").netmask) if bits <= 32 else None
        return str(bits)
    if ":" in text:
        mask = int(ipaddress.IPv6Address(text))
        bits = bin(mask).count("1")
        if mask != ((1 << 128) - 1) ^ ((1 << (128 - bits)) - 1):
            raise ValueError(value)  # not contiguous
        return str(bits) if family == 6 else None
    mask = ipaddress.IPv4Network(f"0.0.0.0/{text}")  # ValueError for a non-contiguous mask
    return str(mask.netmask) if family == 4 else None


def validate_pool(pool):
    """Raise UnsupportedOptionError for an option of a pool an LVS listener uses."""
    if pool.protocol not in LVS_PROTOCOLS:
        raise _unsupported("pool protocol", pool.protocol)
    if pool.lb_algorithm and pool.lb_algorithm not in ALGORITHMS:
        raise _unsupported("lb_algorithm", pool.lb_algorithm)
    if pool.tls_enabled:
        raise _unsupported("pool option", "tls_enabled")
    sp = pool.session_persistence
    if sp:
        kind = _get(sp, "type")
        if kind != c.SESSION_PERSISTENCE_SOURCE_IP:
            raise _unsupported("session_persistence type", kind)
        value = _get(sp, "persistence_granularity")
        if value is not None:
            try:
                granularity(value, 4)
            except ValueError:
                raise _unsupported("persistence_granularity", value) from None
    backups = [m for m in _items(pool.members) if m.backup and m.admin_state_up is not False]
    for family in (4, 6):
        same = [m for m in backups if ipaddress.ip_address(m.address).version == family]
        if len(same) > 1:
            raise _unsupported("member backup", f"{len(same)} IPv{family} backup members "
                               "(LVS has one sorry_server per virtual server)")
    hm = pool.healthmonitor
    if hm:
        if hm.type not in MONITORS:
            raise _unsupported("health monitor type", hm.type)
        if hm.type == c.HEALTH_MONITOR_HTTP:
            if hm.http_method and hm.http_method != "GET":
                raise _unsupported("health monitor http_method", hm.http_method)
            if hm.url_path and UNSAFE_PATH_CHARS & set(hm.url_path):
                raise _unsupported("health monitor url_path", hm.url_path)


def validate_listener(listener, source_filter=False):
    """Raise UnsupportedOptionError for an option of a UDP/SCTP listener.

    source_filter: whether the amphora filters VIP traffic by source for IPVS, so that
    allowed_cidrs can be honoured.
    """
    if _items(listener.l7policies):
        raise _unsupported("l7policies", f"{len(listener.l7policies)} L7 policies")
    if _items(listener.allowed_cidrs) and not source_filter:
        # HAProxy enforces allowed_cidrs in its own config; IPVS cannot, and nothing else in
        # lbaas filters VIP traffic yet, so accepting it would silently admit every source.
        raise _unsupported("allowed_cidrs", ",".join(listener.allowed_cidrs))
    if listener.default_pool:
        validate_pool(listener.default_pool)


def validate_lvs(loadbalancer, source_filter=False):
    """Raise UnsupportedOptionError naming the first LVS option keepalived cannot render.

    Only UDP/SCTP listeners and the pools they (or nobody else) use are looked at; HAProxy's
    validate covers the rest. source_filter: as validate_listener's.
    """
    pools = {p.pool_id: p for p in _items(loadbalancer.pools)}
    for listener in _items(loadbalancer.listeners):
        if not is_lvs_listener(listener):
            continue
        validate_listener(listener, source_filter)
        pool = pools.get(listener.default_pool_id) if listener.default_pool_id else None
        if pool is not None:
            validate_pool(pool)
    for pool in pools.values():
        if pool.protocol in LVS_PROTOCOLS:
            validate_pool(pool)
