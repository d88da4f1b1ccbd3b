"""Render the complete haproxy.cfg of one load balancer from octavia-lib data models."""
import dataclasses
import pathlib

import jinja2
from octavia_lib.common import constants as c

from lbaas.drivers.amphora import config_text
from lbaas.drivers.amphora.haproxy import tls
from lbaas.drivers.amphora.haproxy.validate import validate
from lbaas.drivers.amphora.lvs.validate import is_lvs_listener

TEMPLATES = pathlib.Path(__file__).parent / "templates"
MAX_GLOBAL_CONN = 1_000_000
LISTENER_MODES = {c.PROTOCOL_HTTP: "http", c.PROTOCOL_PROMETHEUS: "http",
                  c.PROTOCOL_TERMINATED_HTTPS: "http",
                  c.PROTOCOL_TCP: "tcp", c.PROTOCOL_HTTPS: "tcp"}
BALANCE = {c.LB_ALGORITHM_ROUND_ROBIN: "roundrobin", c.LB_ALGORITHM_LEAST_CONNECTIONS: "leastconn",
           c.LB_ALGORITHM_SOURCE_IP: "source"}
MATCH = {c.L7RULE_COMPARE_TYPE_REGEX: "-m reg", c.L7RULE_COMPARE_TYPE_STARTS_WITH: "-m beg",
         c.L7RULE_COMPARE_TYPE_ENDS_WITH: "-m end", c.L7RULE_COMPARE_TYPE_CONTAINS: "-m sub",
         c.L7RULE_COMPARE_TYPE_EQUAL_TO: "-m str"}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Runtime values of one amphora that the data models do not carry."""

    stats_socket: str
    pid_file: str
    state_file: str
    vip_addresses: tuple = ()          # empty: the LB's vip_address and additional VIPs
    user: str = "nobody"
    group: str = "nogroup"
    log_targets: tuple = ()            # e.g. ("/dev/log local0",); empty: no logging
    peer_name: str | None = None       # this amphora's name in `peers` (localpeer)
    peers: tuple = ()                  # ((name, "address:port"), ...) for stick-table sync
    default_connection_limit: int = 50000
    max_connections: int = MAX_GLOBAL_CONN   # global cap (what the amphora's files allow)
    threads: int | None = None         # nbthread; None: HAProxy's default (one per CPU)
    splice: bool = False               # option splice-request/-response
    stick_size: str = "10k"
    timeout_client_data: int = 50000
    timeout_member_connect: int = 5000
    timeout_member_data: int = 50000
    ping_command: str = "/usr/lib/lbaas/ping-wrapper.sh"
    prometheus_path: str = "/metrics"
    cert_dir: str = "/var/lib/lbaas/certs"   # where tls.certificate_files' files are written


def _on(obj):
    """Whether an object is administratively up (Unset counts as up)."""
    return obj.admin_state_up is not False


def _items(value):
    """A data-model list field as a list (Unset and None are empty)."""
    return list(value or [])


def _limit(value, settings):
    """A connection limit with -1/None/Unset meaning the configured default."""
    return value if isinstance(value, int) and value >= 0 else settings.default_connection_limit


def _ms(value, default):
    """A timeout in milliseconds, or the default when the model leaves it unset."""
    return value if isinstance(value, int) and value >= 0 else default


# What HAProxy's line parser reads specially outside quotes, as it must be written. `$` is
# not among them: variables expand only inside double quotes, and `\$` stays two characters.
# Line breaks are never rendered at all (config_text.check).
_ESCAPES = str.maketrans({"\\": "\\\\", " ": "\\ ", "\t": "\\t", "#": "\\#", '"': '\\"',
                          "'": "\\'"})


def escape(value):
    """One HAProxy config word: backslash-escape what the parser would otherwise interpret."""
    return str(value).translate(_ESCAPES)


def expected_codes(codes):
    """Expand '200', '200,202' or '200-204' into the alternatives of one rstatus regex."""
    result = []
    for part in str(codes or "200").replace(" ", "").split(","):
        low, _, high = part.partition("-")
        result.extend(str(n) for n in range(int(low), int(high or low) + 1))
    return "^(" + "|".join(result) + ")$"


def _true(value):
    """An insert_headers value ('true', True) as a boolean."""
    return str(value).lower() == "true"


def _persistence(pool):
    """(type, cookie_name) of a pool's session persistence, or (None, None)."""
    sp = pool.session_persistence
    if not sp:
        return None, None
    get = sp.get if isinstance(sp, dict) else (lambda k: getattr(sp, k, None))
    return get("type"), get("cookie_name")


def _server(member, pool, persistence, hm, tls_words=(), ssl_cn=False):
    """One `server` line (without the keyword) for a member; tls_words re-encrypt."""
    words = [member.member_id, f"{member.address}:{member.protocol_port}",
             "weight", str(member.weight if isinstance(member.weight, int) else 1)]
    if hm:
        words += ["check", "inter", f"{hm.delay}s", "fall", str(hm.max_retries_down or 3),
                  "rise", str(hm.max_retries)]
        if member.monitor_address:
            words += ["addr", member.monitor_address]
        if member.monitor_port:
            words += ["port", str(member.monitor_port)]
        if tls_words:  # checks go over the server's TLS, with its verification
            if "alpn" in tls_words:
                words += ["check-alpn", tls_words[tls_words.index("alpn") + 1]]
        elif hm.type in (c.HEALTH_MONITOR_HTTPS, c.HEALTH_MONITOR_TLS_HELLO):
            words += ["check-ssl", "verify", "none"]
    if persistence == c.SESSION_PERSISTENCE_HTTP_COOKIE:
        words += ["cookie", member.member_id]
    if pool.protocol == c.PROTOCOL_PROXY:
        words.append("send-proxy")
    elif pool.protocol == c.PROTOCOL_PROXYV2:
        words.append("send-proxy-v2-ssl-cn" if ssl_cn else "send-proxy-v2")
    if member.backup:
        words.append("backup")
    if not _on(member):
        words.append("disabled")
    return " ".join(words + list(tls_words))


def backend(pool, listener, mode, settings):
    """The template context of one backend (a pool as used by one listener)."""
    persistence, cookie_name = _persistence(pool)
    hm = pool.healthmonitor if pool.healthmonitor and _on(pool.healthmonitor) else None
    members = _items(pool.members)
    http = mode == "http" and pool.protocol == c.PROTOCOL_HTTP
    headers = {k: v for k, v in (listener.insert_headers or {}).items() if _true(v)}
    terminates = tls.terminates(listener)
    tls_words = [escape(w) for w in tls.server_options(pool, listener, settings.cert_dir)] \
        if pool.tls_enabled else []
    return {
        "name": f"{pool.pool_id}:{listener.listener_id}",
        "mode": mode,
        "balance": BALANCE.get(pool.lb_algorithm, "roundrobin"),
        "persistence": persistence,
        "cookie_name": escape(cookie_name) if cookie_name else None,
        "peers": bool(settings.peers),
        "timeout_connect": _ms(listener.timeout_member_connect, settings.timeout_member_connect),
        "timeout_server": _ms(listener.timeout_member_data, settings.timeout_member_data),
        "fullconn": _limit(listener.connection_limit, settings),
        "allbackups": any(m.backup for m in members),
        "hm": hm and {
            "type": hm.type, "timeout": hm.timeout,
            "method": hm.http_method or "GET", "url_path": escape(hm.url_path or "/"),
            "version": f"HTTP/{hm.http_version}" if hm.http_version else None,
            "host": escape(hm.domain_name) if hm.domain_name and hm.http_version == 1.1 else None,
            "expect": expected_codes(hm.expected_codes)},
        "forwardfor": http and "X-Forwarded-For" in headers,
        "forwarded_port": http and "X-Forwarded-Port" in headers,
        "forwarded_proto": ("https" if terminates else "http")
        if http and "X-Forwarded-Proto" in headers else None,
        "ssl_headers": [f"{name} {value}" for name, value in tls.SSL_HEADERS.items()
                        if name in headers] if mode == "http" and terminates else [],
        "servers": [_server(m, pool, persistence, hm, tls_words, terminates) for m in members],
    }


def _acl(rule):
    """The ACL body (after its name) of one L7 rule."""
    match = MATCH[rule.compare_type]
    value = escape(rule.value)
    if rule.type == c.L7RULE_TYPE_HOST_NAME:
        return f"req.hdr(host) -i {match} {value}"
    if rule.type == c.L7RULE_TYPE_PATH:
        return f"path {match} {value}"
    if rule.type == c.L7RULE_TYPE_FILE_TYPE:
        if rule.compare_type == c.L7RULE_COMPARE_TYPE_EQUAL_TO:
            return f"path_end {value}"
        return f"path_end {match} {value}"
    if rule.type == c.L7RULE_TYPE_HEADER:
        return f"req.hdr({rule.key}) {match} {value}"
    if rule.type == c.L7RULE_TYPE_SSL_CONN_HAS_CERT:
        return "ssl_c_used"
    if rule.type == c.L7RULE_TYPE_SSL_VERIFY_RESULT:
        return f"ssl_c_verify eq {int(rule.value)}"
    if rule.type == c.L7RULE_TYPE_SSL_DN_FIELD:
        return f"ssl_c_s_dn({rule.key}) {match} {value}"
    return f"req.cook({rule.key}) {match} {value}"  # COOKIE


def _redirect_target(value):
    """A redirect location/prefix: HAProxy reads it as a log-format string, so `%` is doubled."""
    return escape(value).replace("%", "%%")


ROUTED = "txn.lbaas_l7_routed"


def _policies(listener, pools):
    """(acls, http-request lines, use_backend lines, backend pools) of a listener's L7 policies.

    HAProxy runs every `http-request` rule before any `use_backend`, whatever their order in
    the file. To keep Octavia's first-match-by-position semantics, a REDIRECT_TO_POOL policy
    that precedes a REJECT/REDIRECT policy also sets a variable, and the later
    `http-request` rules only apply while it is unset.
    """
    active = []
    for policy in sorted((p for p in _items(listener.l7policies) if _on(p)),
                         key=lambda p: p.position or 0):
        rules = [r for r in _items(policy.rules) if _on(r)]
        if not rules:
            continue
        if policy.action == c.L7POLICY_ACTION_REDIRECT_TO_POOL:
            pool = pools.get(policy.redirect_pool_id)
            if pool is None or not _on(pool):
                continue
        active.append((policy, rules))
    acls, requests, use_backends, targets = [], [], [], []
    routed = False
    for index, (policy, rules) in enumerate(active):
        acls += [(r.l7rule_id, _acl(r)) for r in rules]
        cond = "if " + " ".join(("!" if r.invert else "") + r.l7rule_id for r in rules)
        if policy.action == c.L7POLICY_ACTION_REDIRECT_TO_POOL:
            pool = pools[policy.redirect_pool_id]
            use_backends.append(f"use_backend {pool.pool_id}:{listener.listener_id} {cond}")
            targets.append(pool)
            if any(p.action != c.L7POLICY_ACTION_REDIRECT_TO_POOL for p, _ in active[index:]):
                requests.append(f"http-request set-var({ROUTED}) bool(true) {cond}")
                routed = True
            continue
        guard = f" !{{ var({ROUTED}) -m found }}" if routed else ""
        code = f"code {policy.redirect_http_code} " if policy.redirect_http_code else ""
        if policy.action == c.L7POLICY_ACTION_REJECT:
            requests.append(f"http-request deny {cond}{guard}")
        elif policy.action == c.L7POLICY_ACTION_REDIRECT_TO_URL:
            requests.append(f"http-request redirect {code}location "
                            f"{_redirect_target(policy.redirect_url)} {cond}{guard}")
        elif policy.action == c.L7POLICY_ACTION_REDIRECT_PREFIX:
            requests.append(f"http-request redirect {code}prefix "
                            f"{_redirect_target(policy.redirect_prefix)} {cond}{guard}")
    return acls, requests, use_backends, targets


def _binds(loadbalancer, settings):
    """The addresses a frontend binds: the settings' or the LB's VIPs."""
    if settings.vip_addresses:
        return list(settings.vip_addresses)
    vips = [loadbalancer.vip_address] if loadbalancer.vip_address else []
    for extra in _items(loadbalancer.additional_vips):
        address = extra.get("ip_address") if isinstance(extra, dict) else extra.ip_address
        if address:
            vips.append(address)
    return vips


def frontend(listener, loadbalancer, pools, settings):
    """The template context of one frontend and the backends it uses."""
    mode = LISTENER_MODES[listener.protocol]
    acls, requests, use_backends, targets = ([], [], [], [])
    if mode == "http":
        acls, requests, use_backends, targets = _policies(listener, pools)
    default = pools.get(listener.default_pool_id) if listener.default_pool_id else None
    if default is not None and _on(default):
        targets.insert(0, default)
    else:
        default = None
    seen, backends = set(), []
    for pool in targets:
        if pool.pool_id not in seen:
            seen.add(pool.pool_id)
            pool_mode = mode if pool.protocol in (c.PROTOCOL_PROXY, c.PROTOCOL_PROXYV2) \
                else ("http" if pool.protocol == c.PROTOCOL_HTTP else "tcp")
            backends.append(backend(pool, listener, pool_mode, settings))
    ssl = " ".join(escape(w) for w in tls.bind_options(listener, settings.cert_dir)) \
        if tls.terminates(listener) else ""
    return {
        "name": listener.listener_id,
        "mode": mode,
        "binds": [f"{vip}:{listener.protocol_port}" + (" " + ssl if ssl else "")
                  for vip in _binds(loadbalancer, settings)],
        "hsts": tls.hsts_value(listener) if mode == "http" and ssl else None,
        "maxconn": _limit(listener.connection_limit, settings),
        "timeout_client": _ms(listener.timeout_client_data, settings.timeout_client_data),
        "inspect_delay": listener.timeout_tcp_inspect or 0,
        "allowed_cidrs": _items(listener.allowed_cidrs),
        "prometheus": listener.protocol == c.PROTOCOL_PROMETHEUS,
        "acls": acls, "requests": requests, "use_backends": use_backends,
        "default_backend": f"{default.pool_id}:{listener.listener_id}" if default else None,
    }, backends


def context(loadbalancer, settings):
    """Everything the template needs, computed from the data models and the settings."""
    pools = {p.pool_id: p for p in _items(loadbalancer.pools)}
    # UDP/SCTP listeners are served by keepalived LVS (lbaas.drivers.amphora.lvs), not HAProxy
    listeners = [li for li in _items(loadbalancer.listeners)
                 if _on(li) and not is_lvs_listener(li)] if _on(loadbalancer) else []
    for li in listeners:
        if li.default_pool and li.default_pool.pool_id not in pools:
            pools[li.default_pool.pool_id] = li.default_pool
    frontends, backends = [], []
    for li in sorted(listeners, key=lambda li: li.protocol_port):
        fe, bes = frontend(li, loadbalancer, pools, settings)
        frontends.append(fe)
        backends += bes
    return {
        "s": settings,
        "maxconn": min(sum(fe["maxconn"] for fe in frontends) or settings.default_connection_limit,
                       settings.max_connections, MAX_GLOBAL_CONN),
        "external_check": any(be["hm"] and be["hm"]["type"] == c.HEALTH_MONITOR_PING
                              for be in backends),
        "peers_name": loadbalancer.loadbalancer_id.replace("-", "") + "_peers",
        "frontends": frontends,
        "backends": backends,
    }


def _environment():
    """The Jinja2 environment over this package's templates."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def render(loadbalancer, settings):
    """The haproxy.cfg text of one load balancer's TCP-family listeners (UDP/SCTP ones are
    keepalived LVS's); UnsupportedOptionError if it cannot be rendered, UnsafeConfigValue if a
    value holds a line break or another control character."""
    validate(loadbalancer)
    values = context(loadbalancer, settings)
    config_text.check(values, "haproxy.cfg")
    return _environment().get_template("haproxy.cfg.j2").render(values)
