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


class NetworkBackend(abc.ABC):
    """What lbaas needs from a network: find networks, subnets and ports, and allocate VIPs.

    Lookups return Neutron-shaped dicts (the fields Neutron's API documents) or None.
    """

    def __init__(self, conf):
        self.conf = conf

    @abc.abstractmethod
    def get_network(self, network_id):
        """The network with this id, or None."""

    @abc.abstractmethod
    def get_subnet(self, subnet_id):
        """The subnet with this id, or None."""

    @abc.abstractmethod
    def get_port(self, port_id):
        """The port with this id, or None."""

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


def load(conf):
    """The configured network backend, loaded by name from entry points."""
    name = conf.network.driver
    try:
        mgr = stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=True,
                                             invoke_args=(conf,))
    except Exception as exc:
        raise RuntimeError(f"network backend '{name}' (entry point {NAMESPACE}) "
                           f"could not be loaded: {exc}") from exc
    return mgr.driver
