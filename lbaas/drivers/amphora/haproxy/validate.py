"""Options of a load balancer that this HAProxy renderer cannot express yet.

TLS renders (haproxy/tls.py); still refused: SSLv3 (the amphora's OpenSSL 3 has none), a
TLS-terminating listener without any certificate reference, and SSL_* L7 rules on a
listener that does not terminate TLS (no client certificate to test).

UDP and SCTP listeners, and the pools of those protocols, are keepalived LVS's
(lbaas.drivers.amphora.lvs, which validates them): they are skipped here, not refused.
"""
from octavia_lib.api.drivers import exceptions
from octavia_lib.common import constants as c

from lbaas.drivers.amphora.haproxy import tls
from lbaas.drivers.amphora.lvs.validate import LVS_PROTOCOLS, is_lvs_listener

LISTENER_PROTOCOLS = {c.PROTOCOL_HTTP, c.PROTOCOL_TCP, c.PROTOCOL_HTTPS, c.PROTOCOL_PROMETHEUS,
                      c.PROTOCOL_TERMINATED_HTTPS}
POOL_PROTOCOLS = {c.PROTOCOL_HTTP, c.PROTOCOL_TCP, c.PROTOCOL_HTTPS, c.PROTOCOL_PROXY,
                  c.PROTOCOL_PROXYV2}
ALGORITHMS = {c.LB_ALGORITHM_ROUND_ROBIN, c.LB_ALGORITHM_LEAST_CONNECTIONS,
              c.LB_ALGORITHM_SOURCE_IP}
MONITORS = {c.HEALTH_MONITOR_HTTP, c.HEALTH_MONITOR_HTTPS, c.HEALTH_MONITOR_TCP,
            c.HEALTH_MONITOR_PING, c.HEALTH_MONITOR_TLS_HELLO}
RULE_TYPES = {c.L7RULE_TYPE_HOST_NAME, c.L7RULE_TYPE_PATH, c.L7RULE_TYPE_FILE_TYPE,
              c.L7RULE_TYPE_HEADER, c.L7RULE_TYPE_COOKIE, c.L7RULE_TYPE_SSL_CONN_HAS_CERT,
              c.L7RULE_TYPE_SSL_VERIFY_RESULT, c.L7RULE_TYPE_SSL_DN_FIELD}
SSL_RULE_TYPES = {c.L7RULE_TYPE_SSL_CONN_HAS_CERT, c.L7RULE_TYPE_SSL_VERIFY_RESULT,
                  c.L7RULE_TYPE_SSL_DN_FIELD}
# HAProxy with OpenSSL 3 (the amphora's) cannot speak SSLv3: a listener or pool asking for
# it would fail `haproxy -c` or silently not offer it, so it is refused by name.
UNSUPPORTED_VERSIONS = {"SSLv3"}


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
        _check_versions(pool.tls_versions)
    hm = pool.healthmonitor
    if hm and hm.type not in MONITORS:
        raise _unsupported("health monitor type", hm.type)


def validate_listener(listener):
    """Raise UnsupportedOptionError for a listener option HAProxy rendering cannot express."""
    if listener.protocol not in LISTENER_PROTOCOLS:
        raise _unsupported("listener protocol", listener.protocol)
    terminates = tls.terminates(listener)
    if terminates:
        if not tls.server_refs(listener):  # the API refuses it too: no certificate to serve
            raise _unsupported("TERMINATED_HTTPS listener without", "default_tls_container_ref")
        _check_versions(listener.tls_versions)
    for policy in _items(listener.l7policies):
        for rule in _items(policy.rules):
            if rule.type not in RULE_TYPES:
                raise _unsupported("L7 rule type", rule.type)
            if rule.type in SSL_RULE_TYPES and not terminates:
                raise _unsupported(f"L7 rule type {rule.type} on a listener that does not "
                                   "terminate TLS:", listener.protocol)


def _check_versions(versions):
    bad = sorted(set(_items(versions)) & UNSUPPORTED_VERSIONS)
    if bad:
        raise _unsupported("TLS version", bad[0])


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
