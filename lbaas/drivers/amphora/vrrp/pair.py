"""An ACTIVE_STANDBY pair's VRRP side of a reconcile: addresses, keepalived configs, and the
order keepalived starts in.

Each amphora of a pair has its own address on the VIP subnet (a network-backend port
recorded on its row); keepalived moves the VIP between them. The reconciler plumbs and
pushes HAProxy as for SINGLE and hands the VRRP part to a `Pair`.
"""
import dataclasses
import hashlib
import logging
import time

from lbaas.core import network
from lbaas.drivers.amphora.agent_client import AgentError
from lbaas.drivers.amphora.vrrp import render as vrrp_render
from lbaas.drivers.amphora.vrrp.render import ACTIVE_STANDBY, PRIORITIES, VRID

LOG = logging.getLogger(__name__)
AMP_PORT_OWNER = "lbaas:amphora"
PEER_PORT = 1025         # HAProxy's stick-table peers listen on the VRRP addresses
MASTER_WAIT_ADVERTS, MASTER_WAIT_EXTRA = 10, 2.0   # a first election: 3 adverts + skew


@dataclasses.dataclass
class Leg:
    """One amphora of a pair on the VIP subnet: its own address, port and interface."""

    address: str
    port_id: str
    role: str
    interface: str | None = None
    port: dict | None = None   # the network backend's port (plugged when it binds ports)


def vip_port_name(amphora_id):
    """The name of an amphora's own port on the VIP subnet (a pair's VRRP leg)."""
    return network.amphora_vip_port_name(amphora_id)   # the network backend finds it by it


def vip_addresses(want):
    """The load balancer's VIP and additional VIP addresses (what the amphora may hold)."""
    extra = [v.get("ip_address") for v in getattr(want.model, "additional_vips", None) or []
             if isinstance(v, dict) and v.get("ip_address")]
    return [a for a in (want.vip_address, *extra) if a]


def vip_port_extras(want, plumbing, compute):
    """allocate_port's host and allowed addresses for an amphora's VIP-subnet port when the
    backend binds ports ({} otherwise)."""
    if plumbing is None or not plumbing.bound_ports:
        return {}
    return {"host": compute.host, "allowed": vip_addresses(want)}


def peer_name(amphora_id):
    """The amphora's name in HAProxy's `peers` section (localpeer)."""
    return hashlib.sha1(amphora_id.encode()).hexdigest()[:16]


class Pair:
    """The VRRP steps of reconciling ACTIVE_STANDBY load balancers.

    fleet: the amphorae (and the network backend, through its context); agents: the agent
    client; info(amphora): an agent's /info; each(amphorae, step): step run on every
    amphora (in parallel).
    """

    def __init__(self, fleet, agents, info, each):
        self.fleet, self.agents, self._info, self._each = fleet, agents, info, each
        self.conf, self.network = fleet.conf, fleet.context.network

    def await_standby(self, loadbalancer_id, leaving):
        """Wait until the successors (amphorae not in `leaving`) are VRRP BACKUP or MASTER:
        only then can the VIP's holder go without a gap."""
        want = self.fleet.want(loadbalancer_id)
        fresh = [a for a in (want.amphorae if want else ()) if a.id not in leaving]
        deadline = time.monotonic() + MASTER_WAIT_ADVERTS \
            * self.conf.keepalived_vrrp.vrrp_advert_int + MASTER_WAIT_EXTRA
        while time.monotonic() < deadline:
            if all(self.state(a) in ("BACKUP", "MASTER") for a in fresh):
                return True
            time.sleep(0.05)
        LOG.warning("the new amphorae of load balancer %s are not VRRP peers yet",
                    loadbalancer_id)
        return False

    def state(self, amphora):
        """The amphora's VRRP state as its agent reports it (None when it does not answer)."""
        try:
            return self.agents.details(amphora.lb_network_ip).get("vrrp_state")
        except AgentError:
            return None

    def holds_vip(self, amphora):
        """Whether the amphora's agent says it holds the VIP (False when it does not answer)."""
        try:
            return bool(amphora.lb_network_ip and
                        self.agents.details(amphora.lb_network_ip).get("active"))
        except AgentError:
            return False

    def legs(self, want, amphorae):
        """{amphora id: its VRRP address on the VIP subnet} of a pair ({} for SINGLE).

        Each address is a port of the network backend, recorded on the amphora's row with
        its role's VRRP details (shown by the amphora API).
        """
        if want.topology != ACTIVE_STANDBY or not (want.vip_subnet_id and want.vip_address):
            return {}
        plumbing = self.network.plumbing(want.vip_subnet_id)
        if plumbing is None:
            return {}
        extras = vip_port_extras(want, plumbing, self.fleet.compute)
        legs = {}
        for amphora in amphorae:
            port = self.network.allocate_port(
                amphora.id, want.vip_subnet_id, AMP_PORT_OWNER,
                name=vip_port_name(amphora.id), **extras)
            legs[amphora.id] = Leg(port["fixed_ips"][0]["ip_address"], port["id"], amphora.role,
                                   port=port)
            self._record(want, amphora, legs[amphora.id])
        return legs

    def _record(self, want, amphora, leg):
        """Write the VRRP columns of an amphora's row when they changed."""
        self.fleet.set(amphora, vrrp_ip=leg.address, vrrp_port_id=leg.port_id,
                       ha_ip=want.vip_address, ha_port_id=want.vip_port_id, vrrp_id=VRID,
                       vrrp_priority=PRIORITIES.get(amphora.role))

    def push(self, want, amphora, ip, legs):
        """Install the amphora's keepalived config; -> None (unchanged and running), "reload"
        (running an older config) or "start" (not running)."""
        leg = legs[amphora.id]
        cidr = self.network.plumbing(want.vip_subnet_id).cidr
        info = self._info(amphora)   # the agent says where its scripts are
        check, notify = info["vrrp_check_script"], info["vrrp_notify_script"]
        text = vrrp_render.render(vrrp_render.Vrrp(
            loadbalancer_id=want.loadbalancer_id, amphora_id=amphora.id, role=amphora.role,
            interface=leg.interface, own_ip=leg.address,
            peers=tuple(other.address for key, other in sorted(legs.items())
                        if key != amphora.id),
            vips=(vrrp_render.vip_cidr(want.vip_address, cidr),),
            check_script=check, notify_script=notify,
            **vrrp_render.settings_from_conf(self.conf)))
        running = self._running(ip)
        if running and self.agents.vrrp_config(ip) == text:
            return None
        self.agents.vrrp_upload(ip, text)
        self.fleet.set(amphora, vrrp_interface=leg.interface)
        return "reload" if running else "start"

    def run(self, want, actions, amphorae):
        """Reload or start keepalived where needed. A pair starting together starts its MASTER
        first and its BACKUP once the MASTER holds the VIP: with `nopreempt` whoever is
        elected first keeps the VIP, so this is how the MASTER role gets it."""
        todo = [a for a in amphorae if actions.get(a.id)]
        if not todo:
            return
        if len(todo) > 1 and all(actions[a.id] == "start" for a in todo):
            first = next((a for a in todo if a.role == "MASTER"), todo[0])
            self.agents.vrrp_action(first.lb_network_ip, "start")
            self.await_master(want, [first])
            todo = [a for a in todo if a is not first]
        self._each(todo, lambda a: self.agents.vrrp_action(a.lb_network_ip, actions[a.id]))
        self.await_master(want, amphorae)

    def await_master(self, want, amphorae):
        """Wait (a few adverts at most) until one amphora of the pair holds the VIP, so ACTIVE
        means the VIP answers; a pair still electing is logged, not failed."""
        deadline = time.monotonic() + MASTER_WAIT_ADVERTS * self.conf.keepalived_vrrp \
            .vrrp_advert_int + MASTER_WAIT_EXTRA
        while time.monotonic() < deadline:
            if any(self.holds_vip(a) for a in amphorae):
                return True
            time.sleep(0.05)
        LOG.warning("no amphora of load balancer %s holds VIP %s yet", want.loadbalancer_id,
                    want.vip_address)
        return False

    def _running(self, ip):
        """Whether keepalived runs on the amphora at `ip`."""
        return self.agents.details(ip).get("vrrp_status") == "ACTIVE"
