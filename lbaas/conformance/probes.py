"""The capability probes: one small create-wait-delete per option, on one shared load balancer.

Each probe ends supported (created, reached ACTIVE, deleted), refused (501 naming an
unsupported option or action, nothing written, load balancer ACTIVE) or broken (anything
else). A probe whose prerequisite (say, an HTTP listener for an L7 policy) is refused is
refused too, with the prerequisite named.
"""
import dataclasses

from lbaas.conformance.api import ConformanceError
from lbaas.conformance.bench import BROKEN, NOT_PROBED, REFUSED, SUPPORTED, Outcome

PROTOCOLS = ("HTTP", "HTTPS", "TCP", "UDP", "SCTP", "PROMETHEUS", "TERMINATED_HTTPS")
POOL_PROTOCOLS = ("HTTP", "HTTPS", "TCP", "UDP", "SCTP", "PROXY", "PROXYV2")
ALGORITHMS = ("ROUND_ROBIN", "LEAST_CONNECTIONS", "SOURCE_IP", "SOURCE_IP_PORT")
PERSISTENCE = ("SOURCE_IP", "HTTP_COOKIE", "APP_COOKIE")
MONITORS = ("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP")
MONITOR_POOL = {"UDP-CONNECT": "UDP", "SCTP": "SCTP"}  # others watch a TCP pool
L7_ACTIONS = ("REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX")
L7_RULES = {  # type -> (key, value)
    "HOST_NAME": (None, "www.example.com"), "PATH": (None, "/api"),
    "FILE_TYPE": (None, "png"), "HEADER": ("X-Conformance", "yes"),
    "COOKIE": ("session", "abc"), "SSL_CONN_HAS_CERT": (None, "True"),
    "SSL_VERIFY_RESULT": (None, "0"), "SSL_DN_FIELD": ("CN", "conformance")}
TOPOLOGIES = ("SINGLE", "ACTIVE_STANDBY")


@dataclasses.dataclass
class Probe:
    """One option to try: category, option and the function that tries it."""

    category: str
    option: str
    run: object  # callable(bench) -> None, raising Outcome when not supported
    needs_certificates: bool = False

    @property
    def id(self):
        return f"{self.category}:{self.option}".replace(" ", "-")


@dataclasses.dataclass
class Result:
    """What one probe found."""

    category: str
    option: str
    state: str
    detail: str = ""


def execute(probe, bench):
    """Run one probe; -> Result (never raises for a driver's behaviour)."""
    if probe.needs_certificates and not bench.cert_refs:
        return Result(probe.category, probe.option, NOT_PROBED,
                      "no certificate store: run the suite with a configuration file "
                      "(or let it start lbaas) so it can import a certificate")
    try:
        probe.run(bench)
    except Outcome as out:
        if out.state == BROKEN:
            bench.replace_if_broken()
        return Result(probe.category, probe.option, out.state, out.detail)
    except ConformanceError as exc:  # a prerequisite (the shared load balancer) failed
        return Result(probe.category, probe.option, BROKEN, str(exc))
    return Result(probe.category, probe.option, SUPPORTED, "created and reached ACTIVE")


# -- building blocks -------------------------------------------------------------------------
def _name(*parts):
    return "conformance-" + "-".join(str(p).lower().replace("_", "-") for p in parts)


def _try(bench, kind, body, what, path=None, pool_id=None, keep=False):
    """Create an object; -> it. Deleted again unless keep (the caller deletes it)."""
    obj = bench.attempt(kind, body, bench.lb_id, path, pool_id)
    if not keep:
        bench.remove(kind, obj["id"], bench.lb_id, pool_id)
    return obj


def _needed(bench, kind, body, what, pool_id=None, path=None):
    """A prerequisite: refused or broken prerequisites make the probe refused or broken."""
    try:
        return bench.attempt(kind, body, bench.lb_id, path, pool_id)
    except Outcome as out:
        raise Outcome(out.state, f"needs {what}, which is {out.state}: {out.detail}") from None


def _listener(bench, protocol, name, **extra):
    body = {"name": name, "loadbalancer_id": bench.lb_id, "protocol": protocol,
            "protocol_port": bench.port(), **extra}
    if protocol == "TERMINATED_HTTPS" and "default_tls_container_ref" not in extra:
        body["default_tls_container_ref"] = bench.cert_refs["cert"]
    return body


def _pool(bench, protocol, name, algorithm="ROUND_ROBIN", **extra):
    return {"name": name, "loadbalancer_id": bench.lb_id, "protocol": protocol,
            "lb_algorithm": algorithm, **extra}


def _with_http_listener(bench, tag, then):
    """Create an HTTP listener, call then(listener), delete the listener."""
    listener = _needed(bench, "listeners", _listener(bench, "HTTP", _name(tag, "listener")),
                       "an HTTP listener")
    try:
        then(listener)
    finally:
        bench.remove("listeners", listener["id"], bench.lb_id)


def _with_pool(bench, protocol, tag, then, algorithm=None):
    """Create a pool on the load balancer (first accepted algorithm), call then(pool)."""
    outcome = None
    for algo in ((algorithm,) if algorithm else ALGORITHMS):
        try:
            pool = bench.attempt("pools", _pool(bench, protocol, _name(tag, "pool"), algo),
                                 bench.lb_id)
            break
        except Outcome as out:
            outcome = out
            if out.state == BROKEN:
                break
    else:
        pool = None
    if pool is None:
        raise Outcome(outcome.state, f"needs a {protocol} pool, which is {outcome.state}: "
                                     f"{outcome.detail}")
    try:
        then(pool)
    finally:
        bench.remove("pools", pool["id"], bench.lb_id)


# -- the catalogue ---------------------------------------------------------------------------
def _listener_protocol(protocol):
    def run(bench):
        _try(bench, "listeners", _listener(bench, protocol, _name("listener", protocol)),
             f"a {protocol} listener")
    return Probe("listener protocol", protocol, run, protocol == "TERMINATED_HTTPS")


def _pool_protocol(protocol):
    def run(bench):
        _try(bench, "pools", _pool(bench, protocol, _name("pool", protocol), _algorithm(bench)),
             f"a {protocol} pool")
    return Probe("pool protocol", protocol, run)


def _algorithm(bench):
    """The first algorithm the provider accepted in the algorithm probes (default ROUND_ROBIN)."""
    return getattr(bench, "accepted_algorithm", None) or "ROUND_ROBIN"


def _lb_algorithm(algorithm):
    def run(bench):
        _try(bench, "pools", _pool(bench, "TCP", _name("algorithm", algorithm), algorithm),
             f"a {algorithm} pool")
        if getattr(bench, "accepted_algorithm", None) is None:
            bench.accepted_algorithm = algorithm
    return Probe("algorithm", algorithm, run)


def _persistence(kind):
    def run(bench):
        protocol = "TCP" if kind == "SOURCE_IP" else "HTTP"
        persistence = {"type": kind}
        if kind == "APP_COOKIE":
            persistence["cookie_name"] = "conformance"
        _try(bench, "pools", _pool(bench, protocol, _name("persistence", kind),
                                   _algorithm(bench), session_persistence=persistence),
             f"{kind} persistence")
    return Probe("session persistence", kind, run)


def _monitor(kind):
    def run(bench):
        def then(pool):
            body = {"name": _name("monitor", kind), "pool_id": pool["id"], "type": kind,
                    "delay": 5, "timeout": 3, "max_retries": 2}
            _try(bench, "healthmonitors", body, f"a {kind} monitor")
        _with_pool(bench, MONITOR_POOL.get(kind, "TCP"), f"monitor-{kind}", then,
                   _algorithm(bench))
    return Probe("health monitor", kind, run)


def _l7_action(action):
    def run(bench):
        def then(listener):
            body = {"name": _name("l7", action), "listener_id": listener["id"],
                    "action": action}
            if action == "REDIRECT_TO_URL":
                body["redirect_url"] = "http://example.com/"
            elif action == "REDIRECT_PREFIX":
                body["redirect_prefix"] = "https://example.com"
            if action == "REDIRECT_TO_POOL":
                def with_pool(pool):
                    _try(bench, "l7policies", {**body, "redirect_pool_id": pool["id"]},
                         "an L7 policy")
                _with_pool(bench, "HTTP", "l7-redirect", with_pool, _algorithm(bench))
            else:
                _try(bench, "l7policies", body, f"an L7 {action} policy")
        _with_http_listener(bench, f"l7-{action}", then)
    return Probe("L7 action", action, run)


def _l7_rule(rule_type):
    key, value = L7_RULES[rule_type]

    def run(bench):
        def then(listener):
            policy = _needed(bench, "l7policies",
                             {"name": _name("l7rule", rule_type, "policy"),
                              "listener_id": listener["id"], "action": "REJECT"},
                             "a REJECT L7 policy")
            body = {"type": rule_type, "compare_type": "EQUAL_TO", "value": value}
            if key:
                body["key"] = key
            path = f"/v2/lbaas/l7policies/{policy['id']}/rules"
            try:
                bench.attempt("l7rules", body, bench.lb_id, path, policy["id"])
            finally:
                bench.remove("l7policies", policy["id"], bench.lb_id)  # its rules go too
        _with_http_listener(bench, f"l7rule-{rule_type}", then)
    return Probe("L7 rule", rule_type, run)


def _tls(option, listener_extra=None, pool_extra=None):
    def run(bench):
        refs = bench.cert_refs
        if listener_extra is not None:
            extra = {k: (refs[v[1:]] if isinstance(v, str) and v.startswith("@") else v)
                     for k, v in listener_extra.items()}
            extra = {k: ([refs["cert"]] if k == "sni_container_refs" else v)
                     for k, v in extra.items()}
            _try(bench, "listeners", _listener(bench, "TERMINATED_HTTPS", _name("tls", option),
                                               **extra), option)
        else:
            extra = {k: (refs[v[1:]] if isinstance(v, str) and v.startswith("@") else v)
                     for k, v in pool_extra.items()}
            _try(bench, "pools", _pool(bench, "HTTP", _name("tls", option), _algorithm(bench),
                                       **extra), option)
    return Probe("TLS", option, run, True)


def _topology(topology):
    def run(bench):
        from lbaas.conformance import flavors
        flavors.topology_probe(bench, topology)
    return Probe("topology", topology, run)


def catalogue():
    """Every probe, in the order they run (algorithms first: later pools reuse one)."""
    probes = [_lb_algorithm(a) for a in ALGORITHMS]
    probes += [_listener_protocol(p) for p in PROTOCOLS]
    probes += [_pool_protocol(p) for p in POOL_PROTOCOLS]
    probes += [_persistence(k) for k in PERSISTENCE]
    probes += [_monitor(k) for k in MONITORS]
    probes += [_l7_action(a) for a in L7_ACTIONS]
    probes += [_l7_rule(t) for t in L7_RULES]
    probes += [
        _tls("TLS termination", {}),
        _tls("SNI certificates", {"sni_container_refs": "@cert"}),
        _tls("client authentication", {"client_ca_tls_container_ref": "@ca",
                                        "client_authentication": "MANDATORY"}),
        _tls("TLS versions", {"tls_versions": ["TLSv1.2", "TLSv1.3"]}),
        _tls("ALPN", {"alpn_protocols": ["h2", "http/1.1"]}),
        _tls("HSTS", {"hsts_max_age": 3600, "hsts_include_subdomains": True}),
        _tls("backend re-encryption", pool_extra={"tls_enabled": True}),
        _tls("backend CA verification", pool_extra={"tls_enabled": True,
                                                    "ca_tls_container_ref": "@ca"}),
        _tls("backend client certificate", pool_extra={"tls_enabled": True,
                                                       "tls_container_ref": "@cert"}),
    ]
    probes += [_topology(t) for t in TOPOLOGIES]
    return probes


STATES = (SUPPORTED, REFUSED, BROKEN, NOT_PROBED)
