"""What the Northbound database should hold for one load balancer (pure functions).

One OVN Load_Balancer row per listener (a row has one protocol and one set of
selection_fields, and an Octavia listener has one protocol and one default pool), named
`lbaas-<listener id>` and identified by external_ids:

  lbaas:loadbalancer_id, lbaas:listener_id, lbaas:pool_id (when it has a pool),
  lbaas:healthmonitor_id on its Load_Balancer_Health_Check row;

and, as ovn-octavia-provider marks its rows, `neutron:vip` (the VIP address) and
`neutron:vip_port_id` (its port), where Neutron's ML2/OVN looks for the load balancer of a
VIP port (floating IPs on a VIP). Only lbaas:loadbalancer_id makes a row lbaas's.

Disabled objects, as Octavia's OVN provider documents them: a disabled load balancer or
listener keeps its row with no VIP at all (nothing answers on it); a disabled pool, or a
pool without enabled members, leaves the VIP with no backend and `options:reject=true`
(clients get a reset instead of silence); a disabled member is left out of the backends;
a disabled health monitor writes no health check.
"""
import dataclasses
import ipaddress

from octavia_lib.common import constants as lib_c

PREFIX = "lbaas-"
LB_KEY = "lbaas:loadbalancer_id"
LISTENER_KEY = "lbaas:listener_id"
POOL_KEY = "lbaas:pool_id"
HM_KEY = "lbaas:healthmonitor_id"
VIP_KEY = "neutron:vip"
VIP_PORT_KEY = "neutron:vip_port_id"
SELECTION_FIELDS = {   # Octavia algorithm -> the header fields OVN hashes to pick a backend
    lib_c.LB_ALGORITHM_SOURCE_IP_PORT: ["ip_dst", "ip_src", "tp_dst", "tp_src"],
    lib_c.LB_ALGORITHM_SOURCE_IP: ["ip_dst", "ip_src"],
}
PROTOCOLS = {lib_c.PROTOCOL_TCP: "tcp", lib_c.PROTOCOL_UDP: "udp", lib_c.PROTOCOL_SCTP: "sctp"}


@dataclasses.dataclass
class Row:
    """One Load_Balancer row as it should be."""

    name: str
    protocol: str
    vips: dict
    selection_fields: list
    options: dict
    external_ids: dict
    health_check: dict | None = None       # {"vip", "options", "external_ids"} or None
    mappings: dict = dataclasses.field(default_factory=dict)  # member ip -> (switch, src ip)


@dataclasses.dataclass
class Plan:
    """Every row of one load balancer, and the switches and routers each is attached to."""

    loadbalancer_id: str
    rows: dict                 # name -> Row
    switches: set
    routers: set


def canonical(address):
    """An address as OVN writes it (members keep the spelling their users sent)."""
    return str(ipaddress.ip_address(address))


def endpoint(address, port):
    """"ip:port", with brackets for IPv6."""
    ip = ipaddress.ip_address(address)
    return f"[{ip}]:{port}" if ip.version == 6 else f"{ip}:{port}"


def _given(value):
    """Whether a data-model field carries a value (not Unset, None or empty)."""
    return isinstance(value, str) and value != ""


def _enabled(obj):
    return obj is not None and obj.admin_state_up is not False


def _subnet_of(member, loadbalancer):
    return member.subnet_id or loadbalancer.vip_subnet_id


def _health_check(vip, monitor):
    options = {"interval": str(monitor.delay), "timeout": str(monitor.timeout),
               "success_count": str(monitor.max_retries),
               "failure_count": str(monitor.max_retries_down or 3)}
    return {"vip": vip, "options": options, "external_ids": {HM_KEY: monitor.healthmonitor_id}}


def _row(loadbalancer, listener, pool, datapaths, sources):
    ids = {LB_KEY: loadbalancer.loadbalancer_id, LISTENER_KEY: listener.listener_id}
    if pool is not None:
        ids[POOL_KEY] = pool.pool_id
    if _given(loadbalancer.vip_address):
        ids[VIP_KEY] = canonical(loadbalancer.vip_address)
    if _given(loadbalancer.vip_port_id):
        ids[VIP_PORT_KEY] = loadbalancer.vip_port_id
    row = Row(name=PREFIX + listener.listener_id, protocol=PROTOCOLS[listener.protocol],
              vips={}, selection_fields=[], options={}, external_ids=ids)
    if not (_enabled(loadbalancer) and _enabled(listener)) or not loadbalancer.vip_address:
        return row
    vip = endpoint(loadbalancer.vip_address, listener.protocol_port)
    members = [m for m in (pool.members or ()) if _enabled(m)] if _enabled(pool) else []
    row.vips[vip] = ",".join(endpoint(m.address, m.protocol_port) for m in members)
    if not members:
        row.options["reject"] = "true"
    if pool is not None:
        row.selection_fields = list(SELECTION_FIELDS.get(pool.lb_algorithm, []))
    monitor = pool.healthmonitor if pool is not None else None
    if _enabled(monitor) and members:
        row.health_check = _health_check(vip, monitor)
        for member in members:
            subnet = _subnet_of(member, loadbalancer)
            switch = (datapaths(subnet) or (None, None))[0]
            if switch and subnet in sources:
                row.mappings[canonical(member.address)] = (switch, sources[subnet])
    return row


def monitored_subnets(loadbalancer):
    """Subnets of members checked by an enabled health monitor (each needs a source IP)."""
    subnets = set()
    for listener in loadbalancer.listeners or ():
        pool = listener.default_pool if listener.default_pool_id else None
        if pool is None or not _enabled(pool) or not _enabled(pool.healthmonitor):
            continue
        subnets.update(_subnet_of(m, loadbalancer) for m in pool.members or () if _enabled(m))
    return subnets


def build(loadbalancer, datapaths, sources):
    """The Plan of a load balancer (octavia-lib model with its listeners and pools).

    datapaths(subnet_id) -> (switch or None, router or None) or None; sources: subnet id ->
    the health-check source address allocated on it.
    """
    rows, subnets = {}, {loadbalancer.vip_subnet_id}
    for pool in loadbalancer.pools or ():
        subnets.update(_subnet_of(m, loadbalancer) for m in pool.members or ())
    for listener in loadbalancer.listeners or ():
        pool = listener.default_pool if listener.default_pool_id else None
        row = _row(loadbalancer, listener, pool, datapaths, sources)
        rows[row.name] = row
    switches, routers = set(), set()
    for subnet in filter(None, subnets):
        switch, router = datapaths(subnet) or (None, None)
        if switch:
            switches.add(switch)
        if router:
            routers.add(router)
    return Plan(loadbalancer.loadbalancer_id, rows, switches, routers)
