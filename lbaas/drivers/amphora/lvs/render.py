"""Render the keepalived.conf (LVS virtual servers) of one load balancer's UDP/SCTP listeners."""
import dataclasses
import ipaddress
import pathlib

import jinja2
from octavia_lib.common import constants as c

from lbaas.drivers.amphora import config_text
from lbaas.drivers.amphora.lvs.validate import granularity, is_lvs_listener, validate_lvs

TEMPLATES = pathlib.Path(__file__).parent / "templates"
# IPVS schedulers. ROUND_ROBIN is `wrr` so member weights count, as HAProxy's roundrobin does.
# SOURCE_IP_PORT is `sh` hashing the source port too (keepalived's `sh-port` flag).
SCHEDULERS = {c.LB_ALGORITHM_ROUND_ROBIN: "wrr", c.LB_ALGORITHM_LEAST_CONNECTIONS: "lc",
              c.LB_ALGORITHM_SOURCE_IP: "sh", c.LB_ALGORITHM_SOURCE_IP_PORT: "sh"}
DEFAULT_PERSISTENCE_TIMEOUT = 360
FULL_ADDRESS = {4: "255.255.255.255", 6: "128"}


@dataclasses.dataclass(frozen=True)
class Settings:
    """Runtime values of one amphora that the data models do not carry.

    Pid files are not here: keepalived takes them on its command line (-p/-r/-c), not from
    the configuration file.
    """

    vip_addresses: tuple = ()          # empty: the LB's vip_address and additional VIPs
    # A UDP-CONNECT monitor runs `<udp_check_command> <address> <port>`, exit 0 = up.
    udp_check_command: str = "/usr/lib/lbaas/lvs-udp-check.sh"
    # An SCTP monitor runs `<sctp_check_command> -t <timeout> <address> <port>`, exit 0 = up.
    sctp_check_command: str = "/usr/lib/lbaas/lvs-sctp-check.sh"
    script_user: str = "nobody"        # keepalived runs the check scripts as this user/group
    script_group: str = "nogroup"
    router_id: str | None = None       # global_defs router_id (keepalived's default: hostname)


def _on(obj):
    """Whether an object is administratively up (Unset counts as up)."""
    return obj.admin_state_up is not False


def _items(value):
    """A data-model list field as a list (Unset and None are empty)."""
    return list(value or [])


def _family(address):
    """4 or 6."""
    return ipaddress.ip_address(address).version


def _vips(loadbalancer, settings):
    """The addresses the virtual servers listen on: the settings' or the LB's VIPs."""
    if settings.vip_addresses:
        return list(settings.vip_addresses)
    vips = [loadbalancer.vip_address] if loadbalancer.vip_address else []
    for extra in _items(loadbalancer.additional_vips):
        address = extra.get("ip_address") if isinstance(extra, dict) else extra.ip_address
        if address:
            vips.append(address)
    return vips


def _sp(pool, key):
    """One field of a pool's session persistence (dict or object), or None."""
    sp = pool.session_persistence
    if not sp:
        return None
    value = sp.get(key) if isinstance(sp, dict) else getattr(sp, key, None)
    return value if value or value == 0 else None


def _check(hm, member, settings):
    """The checker block of one real server: (keyword, [lines]), or None without a monitor."""
    if not hm:
        return None
    address = member.monitor_address or member.address
    port = member.monitor_port or member.protocol_port
    if hm.type == c.HEALTH_MONITOR_UDP_CONNECT:
        return "MISC_CHECK", [f'misc_path "{settings.udp_check_command} {address} {port}"',
                              f"misc_timeout {hm.timeout}"]
    if hm.type == c.HEALTH_MONITOR_SCTP:
        # the script gets the probe timeout; keepalived kills it one second later
        return "MISC_CHECK", [f'misc_path "{settings.sctp_check_command} -t {hm.timeout} '
                              f'{address} {port}"', f"misc_timeout {hm.timeout + 1}"]
    connect = [f"connect_ip {address}", f"connect_port {port}", f"connect_timeout {hm.timeout}"]
    if hm.type == c.HEALTH_MONITOR_TCP:
        return "TCP_CHECK", connect
    if hm.type == c.HEALTH_MONITOR_PING:
        return "PING_CHECK", [f"connect_ip {address}", f"connect_timeout {hm.timeout}"]
    lines = ["url {", f"    path {hm.url_path or '/'}",
             f"    status_code {status_codes(hm.expected_codes)}", "}"]
    if hm.http_version == 1.1:
        lines.append("http_protocol 1.1")
        if hm.domain_name:
            lines.append(f"virtualhost {hm.domain_name}")
    return "HTTP_GET", lines + connect


def status_codes(codes):
    """An API expected_codes ('200', '200,202', '200-204') as keepalived status_code values."""
    return " ".join(part for part in str(codes or "200").replace(" ", "").split(",") if part)


def _real_server(member, listener, hm, settings):
    """The template context of one real_server."""
    limit = listener.connection_limit
    return {
        "id": member.member_id,
        "address": member.address,
        "port": member.protocol_port,
        "weight": member.weight if isinstance(member.weight, int) else 1,
        "uthreshold": limit if isinstance(limit, int) and limit >= 0 else None,
        "check": _check(hm, member, settings),
    }


def virtual_server(listener, pool, vip, settings):
    """The template context of one virtual server (a listener on one VIP), or None.

    None when no enabled member of the VIP's family exists: keepalived ignores a virtual
    server without real servers (and `keepalived -t` complains), so it is left out.
    """
    family = _family(vip)
    hm = pool.healthmonitor if pool.healthmonitor and _on(pool.healthmonitor) else None
    members = [m for m in _items(pool.members) if _on(m) and _family(m.address) == family]
    primaries = [m for m in members if not m.backup]
    backups = [m for m in members if m.backup]
    sorry = None
    if primaries and backups:
        sorry = backups[0]  # validate_lvs refuses a second backup of one family
    else:
        primaries = primaries or backups  # backups only: nothing to back up, they serve
    if not primaries:
        return None
    algorithm = pool.lb_algorithm or c.LB_ALGORITHM_ROUND_ROBIN
    persistence = _sp(pool, "type") == c.SESSION_PERSISTENCE_SOURCE_IP
    grain = _sp(pool, "persistence_granularity") if persistence else None
    timeout = _sp(pool, "persistence_timeout") if persistence else None
    return {
        "listener_id": listener.listener_id,
        "pool_id": pool.pool_id,
        "vip": vip,
        "port": listener.protocol_port,
        "protocol": listener.protocol,
        "scheduler": SCHEDULERS[algorithm],
        "sh_port": algorithm == c.LB_ALGORITHM_SOURCE_IP_PORT,
        "persistence_timeout": (timeout if isinstance(timeout, int) else
                                DEFAULT_PERSISTENCE_TIMEOUT) if persistence else None,
        "persistence_granularity": ((grain is not None and granularity(grain, family))
                                    or FULL_ADDRESS[family]) if persistence else None,
        # keepalived's retry counts checks *after* the first failure: a member is marked down
        # after retry + 1 failed checks, so fall N is retry N - 1 (same as HAProxy's `fall N`).
        # retry must be >= 1: fall 1 leaves it out, i.e. keepalived's per-checker default
        # (0 for MISC_CHECK, so exact; 1 for the others, so they fall after 2 failures).
        "hm": hm and {"delay": hm.delay, "retry": (hm.max_retries_down or 3) - 1 or None},
        "sorry": sorry and {"address": sorry.address, "port": sorry.protocol_port},
        "real_servers": [_real_server(m, listener, hm, settings) for m in primaries],
    }


def context(loadbalancer, settings):
    """Everything the template needs, computed from the data models and the settings."""
    pools = {p.pool_id: p for p in _items(loadbalancer.pools)}
    listeners = [li for li in _items(loadbalancer.listeners) if _on(li) and is_lvs_listener(li)] \
        if _on(loadbalancer) else []
    servers, skipped = [], []
    for li in sorted(listeners, key=lambda li: (li.protocol_port, li.protocol)):
        pool = pools.get(li.default_pool_id) if li.default_pool_id else None
        pool = pool or (li.default_pool or None)
        if pool is None or not _on(pool):
            skipped.append((li.listener_id, "no enabled default pool"))
            continue
        for vip in _vips(loadbalancer, settings):
            vs = virtual_server(li, pool, vip, settings)
            if vs is None:
                skipped.append((li.listener_id, f"no enabled IPv{_family(vip)} member for {vip}"))
            else:
                servers.append(vs)
    return {"s": settings, "loadbalancer_id": loadbalancer.loadbalancer_id,
            "virtual_servers": servers, "skipped": skipped}


def _environment():
    """The Jinja2 environment over this package's templates."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)), undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, autoescape=False)


def render(loadbalancer, settings):
    """The keepalived.conf text for the UDP/SCTP listeners of one LB; UnsupportedOptionError if
    an option cannot be expressed, UnsafeConfigValue if a value would break a line."""
    validate_lvs(loadbalancer)
    values = context(loadbalancer, settings)
    config_text.check(values, "keepalived.conf (LVS)")
    return _environment().get_template("keepalived.conf.j2").render(values)
