"""The network backend seam: VIP allocation and the read-only network/subnet/port lookups."""
import abc
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
class Plumbing:
    """How amphorae on this host join a subnet: the bridge to plug into and its addressing."""

    subnet_id: str
    network_id: str
    bridge: str
    cidr: str
    gateway: str | None = None
    host_ip: str | None = None
    mtu: int = 1500


class NetworkBackend(abc.ABC):
    """What lbaas needs from a network: find networks, subnets and ports, and allocate VIPs.

    Lookups return Neutron-shaped dicts (the fields Neutron's API documents) or None.
    A subnet whose "cidr" is None takes any address (the noop backend's do).
    Backends that record allocations in lbaas's database receive it as `database`.
    The amphora driver also uses plumbing, allocate_port and release_ports; a backend
    that cannot wire amphorae leaves plumbing returning None. The OVN provider uses
    ovn_datapaths and allocate_port; a backend whose subnets are not in OVN leaves
    ovn_datapaths returning None.
    """

    def __init__(self, conf, database=None):
        self.conf = conf
        self.database = database

    def plumbing(self, subnet_id):
        """How an amphora on this host joins the subnet (a Plumbing), or None if it cannot."""
        return None

    def ovn_datapaths(self, subnet_id):
        """(OVN logical switch, OVN logical router) of a subnet, either may be None, or None
        when the subnet is not in OVN (what the OVN provider attaches load balancers to)."""
        return None

    def allocate_port(self, device_id, subnet_id, device_owner, address=None, name=""):
        """Reserve an address on a subnet for a device; -> a Neutron-shaped port dict."""
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
    def allocate_vip(self, loadbalancer_id, network_id, subnet_id, address=None):
        """Reserve an address for a load balancer; returns a Vip."""

    @abc.abstractmethod
    def deallocate_vip(self, loadbalancer_id, vip):
        """Release what allocate_vip reserved."""


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
