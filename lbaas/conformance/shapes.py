"""Shared helpers of the contract checks: the base protocol, bodies, waits on parents."""
from lbaas.conformance.bench import Outcome

MONITOR_FOR = {"TCP": "TCP", "HTTP": "HTTP", "HTTPS": "TLS-HELLO", "UDP": "UDP-CONNECT",
               "SCTP": "SCTP"}


def base_protocol(bench):
    """The first of TCP, HTTP, UDP, SCTP the provider accepts for a listener (cached)."""
    if getattr(bench, "base", None):
        return bench.base
    refusals = []
    for protocol in ("TCP", "HTTP", "UDP", "SCTP"):
        body = {"name": f"conformance-base-{protocol.lower()}", "loadbalancer_id": bench.lb_id,
                "protocol": protocol, "protocol_port": bench.port()}
        try:
            listener = bench.attempt("listeners", body, bench.lb_id)
        except Outcome as out:
            refusals.append(f"{protocol}: {out.state}: {out.detail}")
            continue
        bench.remove("listeners", listener["id"], bench.lb_id)
        bench.base = protocol
        return protocol
    raise AssertionError("the provider accepts no listener protocol (tried TCP, HTTP, UDP, "
                         "SCTP): " + "; ".join(refusals))


def base_algorithm(bench, protocol):
    """The first algorithm the provider accepts for a pool of `protocol` (cached)."""
    cache = bench.__dict__.setdefault("algorithms", {})
    if protocol in cache:
        return cache[protocol]
    for algorithm in ("ROUND_ROBIN", "SOURCE_IP_PORT", "SOURCE_IP", "LEAST_CONNECTIONS"):
        body = {"name": "conformance-base-pool", "loadbalancer_id": bench.lb_id,
                "protocol": protocol, "lb_algorithm": algorithm}
        try:
            pool = bench.attempt("pools", body, bench.lb_id)
        except Outcome:
            continue
        bench.remove("pools", pool["id"], bench.lb_id)
        cache[protocol] = algorithm
        return algorithm
    raise AssertionError(f"the provider accepts no lb_algorithm for a {protocol} pool")


def monitor_body(pool_id, protocol, **extra):
    return {"pool_id": pool_id, "type": MONITOR_FOR[protocol], "delay": 5, "timeout": 3,
            "max_retries": 2, **extra}


def updated(bench, kind, object_id, body, lb_id, parent=None):
    """PUT a change, wait until the object and its load balancer are ACTIVE; -> object."""
    from lbaas.conformance.api import KINDS
    bench.api.expect("PUT", bench.api.path_of(kind, object_id, parent),
                     {KINDS[kind][0]: body}, (200,))
    obj = bench.api.wait_status(kind, object_id, pool_id=parent)
    bench.api.wait_status("loadbalancers", lb_id)
    for key, value in body.items():
        assert obj.get(key) == value, \
            f"{kind} {object_id}: PUT {key}={value!r}, but the API shows {obj.get(key)!r}"
    return obj


def created(bench, kind, body, lb_id, parent=None):
    """POST an object that must be accepted and reach ACTIVE (with its LB); -> object."""
    path = bench.api.path_of(kind, "", parent).rstrip("/")
    try:
        return bench.attempt(kind, body, lb_id, path, parent)
    except Outcome as out:
        raise AssertionError(f"creating {kind} {body}: {out.state}: {out.detail}") from None
