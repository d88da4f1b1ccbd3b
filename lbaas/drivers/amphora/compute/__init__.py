"""Compute backends of the amphora driver: where an amphora lives (namespace, VM, nothing).

The contract is `ComputeBackend`; backends are loaded by name from the stevedore namespace
`lbaas.amphora.compute` (`local`: a Linux network namespace, `noop`: in memory, `nova`: a
Nova server booted from the amphora image).

Two kinds of backend: one whose amphorae are started empty, the fleet then running the agent
in them (`spawn`), and one whose amphorae start their agent themselves at boot
(`agent_at_boot`: a VM reads its certificate, key and agent settings from its boot data),
which `create` receives as a `Boot`.
"""
import abc
import dataclasses
import os

from stevedore import driver as stevedore_driver

NAMESPACE = "lbaas.amphora.compute"


class ComputeError(Exception):
    """A compute backend failed; `user_message` is safe to show, `operator_message` is detailed."""

    def __init__(self, operator_message, user_message="The amphora could not be managed."):
        super().__init__(operator_message)
        self.operator_message = operator_message
        self.user_message = user_message


class AmphoraNotFound(ComputeError):
    """The amphora does not exist in this backend."""


@dataclasses.dataclass(frozen=True)
class Network:
    """Where to plug an interface: a bridge (or network id), an address "ip/prefix", a gateway.

    host_address ("ip/prefix") is put on the bridge on the host side when the bridge is made,
    so that this host reaches the network (the local backend's VIP and member subnets).
    port_id, mac: a network port to bind (lbaas.core.network.Plumbing.bound_ports): the
    interface takes the port's MAC and is plugged into the backend's integration bridge with
    external_ids:iface-id=port_id; `bridge` then only names the network.
    """

    bridge: str
    address: str | None = None
    gateway: str | None = None
    host_address: str | None = None
    port_id: str | None = None
    mac: str | None = None


@dataclasses.dataclass(frozen=True)
class Interface:
    """An interface of an amphora on one network."""

    name: str
    mac: str
    network: str
    address: str | None = None
    host_name: str | None = None
    port_id: str | None = None


@dataclasses.dataclass(frozen=True)
class Boot:
    """What a backend that starts the agent at boot needs besides the amphora's files: the
    agent's settings, and where and how its load balancer wants the amphora booted."""

    agent_port: int
    controllers: tuple
    heartbeat_interval: float
    loadbalancer_id: str | None = None
    zone: str | None = None                 # an availability zone's compute_zone
    management_network: str | None = None   # an availability zone's management_network
    flavor: str | None = None               # a load balancer flavor's compute_flavor
    image_tag: str | None = None            # a load balancer flavor's amp_image_tag
    anti_affinity: bool = False             # with the load balancer's other amphorae


@dataclasses.dataclass(frozen=True)
class Instance:
    """An amphora as the compute backend sees it."""

    amphora_id: str
    name: str
    management_ip: str
    interfaces: tuple = ()
    files_dir: str | None = None


class ComputeBackend(abc.ABC):
    """Creates, wires and deletes amphorae; every method may raise ComputeError.

    `host`: the host name network ports are bound to for this backend's amphorae
    (binding:host_id), or None when it plugs no network ports.
    """

    host = None
    agent_at_boot = False   # True: the amphora starts its agent itself; spawn is never called

    @abc.abstractmethod
    def create(self, amphora_id, management=None, files=None):
        """Create the amphora on the management network (a Network or backend default); -> Instance.

        `files` ({relative path: bytes}) are delivered into the amphora before anything runs
        there (a config drive for a VM); the local backend writes them, mode 0600, under
        Instance.files_dir. A backend with agent_at_boot also takes `boot` (a Boot), and is
        called first without files (the amphora's management address, for its certificate),
        then with them (the amphora booted).
        """

    @abc.abstractmethod
    def plug(self, amphora_id, network):
        """Add an interface on `network` (a Network) to the amphora; -> Interface."""

    @abc.abstractmethod
    def unplug(self, amphora_id, interface_name):
        """Remove an interface added by plug; harmless if it is already gone."""

    @abc.abstractmethod
    def spawn(self, amphora_id, argv, log_path=None):
        """Start a process inside the amphora (e.g. lbaas-agent); -> its pid."""

    @abc.abstractmethod
    def delete(self, amphora_id):
        """Remove the amphora and everything it owns; harmless if it is already gone."""

    @abc.abstractmethod
    def exists(self, amphora_id):
        """Whether the amphora exists."""

    @abc.abstractmethod
    def get(self, amphora_id):
        """The Instance of an amphora; raises AmphoraNotFound."""

    @abc.abstractmethod
    def list(self):
        """Every amphora this backend manages, as Instances."""

    def delete_group(self, loadbalancer_id):
        """Remove what grouped the load balancer's amphorae (a server group); harmless if none."""


def load(name, **kwargs):
    """The compute backend `name` from entry points, constructed with `kwargs`."""
    try:
        mgr = stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=True,
                                             invoke_kwds=kwargs)
    except Exception as exc:
        raise RuntimeError(f"compute backend '{name}' (entry point {NAMESPACE}) "
                           f"could not be loaded: {exc}") from exc
    return mgr.driver


def local_state_dir(conf):
    """Where the local compute backend keeps its records: [compute_local] state_dir."""
    return conf.compute_local.state_dir or os.path.join(conf.state_path, "amphorae")


def load_from_conf(conf):
    """The compute backend named by [amphora_compute] driver, built from [compute_local] (the
    nova backend reads `conf` itself)."""
    local = conf.compute_local
    return load(conf.amphora_compute.driver, conf=conf, management_bridge=local.management_bridge,
                management_cidr=local.management_cidr,
                integration_bridge=local.integration_bridge, ovs_db=local.ovs_db,
                ovs_netns=local.ovs_netns, host=local.host,
                boot_delay=conf.amphora_compute.noop_boot_delay,
                state_dir=local_state_dir(conf))
