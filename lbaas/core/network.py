"""The network backend seam: VIP allocation and the read-only network/subnet/port lookups."""
import abc
import contextlib
import dataclasses

from stevedore import driver as stevedore_driver

NAMESPACE = "lbaas.network"


@dataclasses.dataclass
class Vip:
    """An allocated virtual IP: its address and where it lives."""

    address: str
    network_id: str
    subnet_id: str
    port_id: str | None = None


@dataclasses.dataclass(frozen=True)
class VipPortStyle:
    """How a VIP port lbaas makes is named and owned, so that tooling recognises it.

    A provider driver names its style in a `vip_port_style` attribute; the core passes it
    to allocate_vip. A backend without ports of its own ignores it.
    """

    name_prefix: str        # the port's name is name_prefix + the load balancer id
    device_owner: str
    admin_state_up: bool

    def name(self, loadbalancer_id):
        """The name of a load balancer's VIP port in this style."""
        return self.name_prefix + loadbalancer_id


# Octavia's amphora convention (the port is unbound; amphorae hold the address as an
# allowed address pair), and ovn-octavia-provider's (an OVN Load_Balancer answers for it).
# The OVN style has no device_owner, as ovn-octavia-provider's VIP port: ML2/OVN writes an
# unowned, unbound `ovn-lb-vip-*` port's Logical_Switch_Port without addresses, so the
# router answers ARP for the VIP; with an owner the LSP keeps "MAC VIP", OVN answers with
# that MAC, and a client on the VIP's own network sends its load-balanced traffic to the
# unbound port, where it is dropped.
OCTAVIA_VIP_PORT = VipPortStyle("octavia-lb-", "Octavia", False)
OVN_VIP_PORT = VipPortStyle("ovn-lb-vip-", "", True)
VIP_PORT_STYLES = (OCTAVIA_VIP_PORT, OVN_VIP_PORT)


def amphora_vip_port_name(amphora_id):
    """The name of an amphora's own port on the VIP subnet (the one holding the VIP)."""
    # how a network backend finds that port: Nova rewrites its device_id and device_owner
    # when it attaches it to the amphora's server, never its name
    return f"lbaas-amphora-vrrp-{amphora_id}"


@dataclasses.dataclass(frozen=True)
class Plumbing:
    """How amphorae on this host join a subnet: the bridge to plug into and its addressing.

    bound_ports: every amphora interface on the subnet is a port of the backend
    (allocate_port with host=the compute host), plugged by the compute backend into its
    integration bridge with the port's MAC and id (OVS external_ids:iface-id), so that the
    network's own agent (ovn-controller) binds it; `bridge` then only names the network.
    """

    subnet_id: str
    network_id: str
    bridge: str
    cidr: str
    gateway: str | None = None
    host_ip: str | None = None
    mtu: int = 1500
    bound_ports: bool = False


class NetworkBackend(abc.ABC):
    """What lbaas needs from a network: find networks, subnets and ports, and allocate VIPs.

    Lookups return Neutron-shaped dicts (the fields Neutron's API documents) or None.
    A subnet whose "cidr" is None takes any address (the noop backend's do).
    Backends that record allocations in lbaas's database receive it as `database`.
    The amphora driver also uses plumbing, allocate_port and release_ports; a backend
    that cannot wire amphorae leaves plumbing returning None. The OVN provider uses
    ovn_datapaths and allocate_port; a backend whose subnets are not in OVN leaves
    ovn_datapaths returning None.

    The caller's credentials: the core validates a new VIP (its network, subnet, port,
    QoS policy and security groups) through `as_caller(context)`, the view of the backend
    that makes those lookups as the caller (the request's RequestContext, whose
    auth_token is the caller's Keystone token under keystone authentication), so that a
    user cannot name another project's network, port or policy by its id. A backend with
    no such notion (noop, local) returns itself. Allocation (allocate_vip, allocate_port,
    security groups) always runs with the backend's own credentials.

    Errors: a backend raises lbaas.core.errors (their `message` is what the user sees,
    `operator_message` what the operator needs): InvalidSubresource or
    ValidationException (400) for what the request named wrongly, VIPAddressConflict or
    NetworkConflict (409) for an address in use, a full subnet or a quota, and
    ServiceUnavailable (503) when the network service cannot be reached.

    `answers_lookups`: whether lbaas's own Neutron-style read-only endpoints (which the
    `openstack` CLI calls before it posts) are served from this backend. A backend in
    front of a real Neutron says False: the catalog's Neutron answers those itself.
    """

    answers_lookups = True

    def __init__(self, conf, database=None):
        self.conf = conf
        self.database = database

    def as_caller(self, context):
        """The backend as seen by a request's caller (for validating what the caller names)."""
        return self

    def reads_cached(self):
        """A context in which a subnet or network read twice is asked for once (one
        reconcile: never across requests); a backend without remote reads caches nothing."""
        return contextlib.nullcontext()

    def get_qos_policy(self, policy_id):
        """The QoS policy with this id, or None (a backend without QoS accepts any id)."""
        return {"id": policy_id}

    def get_security_group(self, group_id):
        """The security group with this id, or None (a backend without them accepts any id)."""
        return {"id": group_id}

    def sync_security_group(self, loadbalancer):
        """Make the VIP port admit the listeners' traffic, or the caller's vip_sg_ids only.

        loadbalancer: {"id", "vip_sg_ids", "vip_addresses", "listeners": [{"protocol",
        "protocol_port", "allowed_cidrs", "provisioning_status"}], "topology" (SINGLE or
        ACTIVE_STANDBY), "peer_port" (the port a pair's HAProxys sync on, or None),
        "amphorae" (ids of the amphorae whose VIP-subnet ports, named
        amphora_vip_port_name(id), carry the VIP: they get the same groups; may be absent)}; a
        provider calls it after listener changes, and may call it again with the same
        state (nothing changes then). A backend without security groups does nothing;
        the group goes in deallocate_vip.
        """

    def subnet_free_addresses(self, network_id):
        """{subnet id: free addresses} of a network's subnets, or None when unknown."""
        return None

    def plumbing(self, subnet_id):
        """How an amphora on this host joins the subnet (a Plumbing), or None if it cannot."""
        return None

    def ovn_datapaths(self, subnet_id):
        """(OVN logical switch, OVN logical router) of a subnet, either may be None, or None
        when the subnet is not in OVN (what the OVN provider attaches load balancers to)."""
        return None

    def allocate_port(self, device_id, subnet_id, device_owner, address=None, name="",
                      host=None, allowed=(), mac_address=None):
        """Reserve an address on a subnet for a device; -> a Neutron-shaped port dict.

        host: bind the port to that compute host (Plumbing.bound_ports); allowed: addresses
        the device may also use on it (a VIP it holds: allowed address pairs), kept as given
        on an existing port. Backends without bound ports ignore both. mac_address: the
        MAC the port should have (OVN's health-check MAC on a health-check source port),
        set on an existing port too; a backend that cannot set MACs ignores it.
        """
        raise NotImplementedError(f"{type(self).__name__} allocates no ports")

    def release_ports(self, device_id):
        """Release every port allocate_port reserved for a device; harmless if none."""

    @abc.abstractmethod
    def get_network(self, network_id):
        """The network with this id, or None."""

    @abc.abstractmethod
    def get_subnet(self, subnet_id):
        """The subnet with this id, or None."""

    @abc.abstractmethod
    def get_port(self, port_id):
        """The port with this id, or None."""

    def subnet_on_network(self, subnet_id, network_id):
        """The subnet if it is on the network, else None."""
        subnet = self.get_subnet(subnet_id)
        if subnet is None or subnet["network_id"] != network_id:
            return None
        return subnet

    @abc.abstractmethod
    def list_networks(self, filters):
        """Networks matching every filter (field name to list of accepted values)."""

    @abc.abstractmethod
    def list_subnets(self, filters):
        """Subnets matching every filter."""

    @abc.abstractmethod
    def list_ports(self, filters):
        """Ports matching every filter."""

    @abc.abstractmethod
    def allocate_vip(self, loadbalancer_id, network_id, subnet_id, address=None, *,
                     port_id=None, project_id=None, sg_ids=(), style=OCTAVIA_VIP_PORT):
        """Reserve an address for a load balancer; returns a Vip.

        Called once for the VIP and once per additional VIP (same load balancer, another
        subnet of the network). port_id: the caller's own port (vip_port_id), to be used as
        it is, never deleted; project_id: the load balancer's project; sg_ids: the
        caller's security groups for the VIP port (vip_sg_ids); style: the VipPortStyle of
        the port made (one of VIP_PORT_STYLES, which deallocate_vip recognises).
        """

    @abc.abstractmethod
    def deallocate_vip(self, loadbalancer_id, vip):
        """Release what allocate_vip reserved (never a port the caller brought)."""


def load(conf, database=None):
    """The configured network backend, loaded by name from entry points."""
    name = conf.network.driver
    try:
        mgr = stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=True,
                                             invoke_args=(conf,),
                                             invoke_kwds={"database": database})
    except Exception as exc:
        raise RuntimeError(f"network backend '{name}' (entry point {NAMESPACE}) "
                           f"could not be loaded: {exc}") from exc
    return mgr.driver
