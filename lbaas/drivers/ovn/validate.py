"""What OVN load balancers cannot do, refused at the API with UnsupportedOptionError.

OVN balances L4 connections in the datapath: TCP, UDP and SCTP, hashing header fields to
pick a backend. It has no proxy, so no HTTP, TLS, L7 rules, headers, session persistence,
timeouts or connection limits; no ordered algorithms (round robin, least connections); no
weights or backup members; no source filtering (allowed_cidrs); health checks are TCP or
UDP connection checks of the member address itself. A refused request writes nothing.
"""
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.common import constants as lib_c

PROTOCOLS = (lib_c.PROTOCOL_TCP, lib_c.PROTOCOL_UDP, lib_c.PROTOCOL_SCTP)
ALGORITHMS = (lib_c.LB_ALGORITHM_SOURCE_IP_PORT, lib_c.LB_ALGORITHM_SOURCE_IP)
MONITOR_FOR = {lib_c.PROTOCOL_TCP: lib_c.HEALTH_MONITOR_TCP,
               lib_c.PROTOCOL_UDP: lib_c.HEALTH_MONITOR_UDP_CONNECT}
TIMEOUTS = ("timeout_client_data", "timeout_member_connect", "timeout_member_data",
            "timeout_tcp_inspect")
LISTENER_UNSUPPORTED = ("default_tls_container_ref", "sni_container_refs",
                        "client_ca_tls_container_ref", "client_crl_container_ref",
                        "tls_versions", "tls_ciphers", "alpn_protocols", "hsts_max_age",
                        "insert_headers", "allowed_cidrs", "l7policies")
POOL_UNSUPPORTED = ("session_persistence", "tls_container_ref", "ca_tls_container_ref",
                    "crl_container_ref", "tls_versions", "tls_ciphers", "alpn_protocols")
MEMBER_UNSUPPORTED = ("monitor_address", "monitor_port")


def given(value):
    """Whether a data-model field carries a value (Unset, None and empty do not)."""
    return value is not None and not isinstance(value, dm.UnsetType) and value not in ([], {}, "")


def refuse(option, why):
    """Raise UnsupportedOptionError naming the option."""
    message = f"OVN provider does not support {option}: {why}"
    raise lib_exc.UnsupportedOptionError(user_fault_string=message,
                                         operator_fault_string=message)


def listener(obj, timeout_defaults):
    """Refuse a listener (or the given fields of an update) OVN cannot serve."""
    if given(obj.protocol) and obj.protocol not in PROTOCOLS:
        refuse(f"protocol {obj.protocol}", "OVN balances TCP, UDP and SCTP only")
    for field in LISTENER_UNSUPPORTED:
        if given(getattr(obj, field, None)):
            refuse(field, "OVN is not a proxy and does not filter sources")
    if given(obj.connection_limit) and obj.connection_limit != -1:
        refuse("connection_limit", "OVN does not limit connections")
    for field in TIMEOUTS:
        value = getattr(obj, field, None)
        if given(value) and value != timeout_defaults.get(field):
            refuse(field, "OVN keeps no proxy timeouts")
    if given(obj.default_pool):
        pool(obj.default_pool)


def pool(obj):
    """Refuse a pool OVN cannot serve (and its members and monitor when given)."""
    if given(obj.protocol) and obj.protocol not in PROTOCOLS:
        refuse(f"protocol {obj.protocol}", "OVN balances TCP, UDP and SCTP only")
    if given(obj.lb_algorithm) and obj.lb_algorithm not in ALGORITHMS:
        refuse(f"lb_algorithm {obj.lb_algorithm}",
               "OVN hashes packets to backends: use SOURCE_IP_PORT or SOURCE_IP")
    for field in POOL_UNSUPPORTED:
        if given(getattr(obj, field, None)):
            refuse(field, "OVN has no proxy and keeps no sessions")
    if obj.tls_enabled is True:
        refuse("tls_enabled", "OVN does not speak TLS to members")
    for item in obj.members if given(obj.members) else ():
        member(item)
    if given(obj.healthmonitor):
        healthmonitor(obj.healthmonitor, obj.protocol)


def member(obj):
    """Refuse member options OVN cannot honour."""
    for field in MEMBER_UNSUPPORTED:
        if given(getattr(obj, field, None)):
            refuse(field, "OVN checks the member address itself")
    if given(obj.weight) and obj.weight != 1:
        refuse(f"weight {obj.weight}", "OVN spreads connections evenly (weight 1 only)")
    if obj.backup is True:
        refuse("backup", "OVN has no backup members")


def healthmonitor(obj, pool_protocol):
    """Refuse monitors OVN cannot run: TCP checks TCP pools, UDP-CONNECT checks UDP pools."""
    if not given(obj.type):
        return
    wanted = MONITOR_FOR.get(pool_protocol)
    if obj.type != wanted:
        why = f"a {pool_protocol} pool is checked with {wanted} only" if wanted else \
            f"OVN cannot health check {pool_protocol} pools"
        refuse(f"health monitor type {obj.type}", why)


def loadbalancer(obj, timeout_defaults):
    """Refuse a load balancer graph OVN cannot serve."""
    if given(obj.additional_vips):
        refuse("additional_vips", "an OVN load balancer here has one VIP")
    if given(getattr(obj, "vip_sg_ids", None)):
        refuse("vip_sg_ids", "OVN load balancers have no VIP port of their own")
    for item in obj.listeners if given(obj.listeners) else ():
        listener(item, timeout_defaults)
    for item in obj.pools if given(obj.pools) else ():
        pool(item)


def metadata(kind, values):
    """Refuse every flavor or availability-zone key: OVN load balancers take none."""
    for key in values or {}:
        refuse(f"{kind} key {key!r}", "OVN load balancers have no such settings")
