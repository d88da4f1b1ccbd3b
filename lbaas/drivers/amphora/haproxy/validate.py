"""Options of a load balancer that this HAProxy renderer cannot express yet.

UDP and SCTP listeners, and the pools of those protocols, are keepalived LVS's
(lbaas.drivers.amphora.lvs, which validates them): they are skipped here, not refused.
"""
from octavia_lib.api.drivers import exceptions
from octavia_lib.common import constants as c

from lbaas.drivers.amphora.lvs.validate import LVS_PROTOCOLS, is_lvs_listener

LISTENER_PROTOCOLS = {c.PROTOCOL_HTTP, c.PROTOCOL_TCP, c.PROTOCOL_HTTPS, c.PROTOCOL_PROMETHEUS}
POOL_PROTOCOLS = {c.PROTOCOL_HTTP, c.PROTOCOL_TCP, c.PROTOCOL_HTTPS, c.PROTOCOL_PROXY,
                  c.PROTOCOL_PROXYV2}
ALGORITHMS = {c.LB_ALGORITHM_ROUND_ROBIN, c.LB_ALGORITHM_LEAST_CONNECTIONS,
              c.LB_ALGORITHM_SOURCE_IP}
MONITORS = {c.HEALTH_MONITOR_HTTP, c.HEALTH_MONITOR_HTTPS, c.HEALTH_MONITOR_TCP,
            c.HEALTH_MONITOR_PING, c.HEALTH_MONITOR_TLS_HELLO}
RULE_TYPES = {c.L7RULE_TYPE_HOST_NAME, c.L7RULE_TYPE_PATH, c.L7RULE_TYPE_FILE_TYPE,
              c.L7RULE_TYPE_HEADER, c.L7RULE_TYPE_COOKIE}


def _unsupported(option, what):
    """The octavia-lib error for one unsupported option."""
    return exceptions.UnsupportedOptionError(
        user_fault_string=f"The amphora provider does not support {option} {what!r} yet.",
        operator_fault_string=f"amphora HAProxy renderer: unsupported {option} {what!r}")


def _items(value):
    """A data-model list field as a list (Unset and None are empty)."""
    return list(value or [])


def validate_pool(pool):
    """Raise UnsupportedOptionError for a pool option HAProxy rendering cannot express."""
    if pool.protocol not in POOL_PROTOCOLS:
        raise _unsupported("pool protocol", pool.protocol)
    if pool.lb_algorithm and pool.lb_algorithm not in ALGORITHMS:
        raise _unsupported("lb_algorithm", pool.lb_algorithm)
    if pool.tls_enabled:
        raise _unsupported("pool option", "tls_enabled")
    hm = pool.healthmonitor
    if hm and hm.type not in MONITORS:
        raise _unsupported("health monitor type", hm.type)


def validate_listener(listener):
    """Raise UnsupportedOptionError for a listener option HAProxy rendering cannot express."""
    if listener.protocol not in LISTENER_PROTOCOLS:
        raise _unsupported("listener protocol", listener.protocol)
    for policy in _items(listener.l7policies):
        for rule in _items(policy.rules):
            if rule.type not in RULE_TYPES:
                raise _unsupported("L7 rule type", rule.type)


def validate(loadbalancer):
    """Raise UnsupportedOptionError naming the first option this driver cannot render.

    UDP/SCTP listeners and pools are left to the LVS renderer's validate_lvs.
    """
    pools = {p.pool_id: p for p in _items(loadbalancer.pools)}
    for listener in _items(loadbalancer.listeners):
        if is_lvs_listener(listener):
            continue
        validate_listener(listener)
        default = listener.default_pool or pools.get(listener.default_pool_id)
        if default:
            validate_pool(default)  # a UDP/SCTP pool behind a TCP-family listener is refused
    for pool in _items(loadbalancer.pools):
        if pool.protocol not in LVS_PROTOCOLS:
            validate_pool(pool)
