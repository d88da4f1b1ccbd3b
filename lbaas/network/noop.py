"""The noop network backend: every UUID is a network, subnet or port, as upstream's noop is.

It behaves as Octavia's noop network driver does, which is what clients and upstream's
API tests (octavia-tempest-plugin with `test_with_noop`) expect of it:

- any UUID is a network, and every network has a subnet;
- any UUID is a subnet, with no CIDR (so any IPv4 or IPv6 address is an address on it);
  a subnet named together with a network is on that network (it is bound to the first
  network it is looked up on, in this process);
- any UUID is an unbound port.

It also offers one named network, ``public`` with subnet ``public-subnet``
(172.24.0.0/16), so that `--vip-subnet-id public-subnet` works from the CLI; that subnet
has a CIDR and is on the public network only. VIP addresses come from the subnet's CIDR,
or from 198.51.100.0/24 (TEST-NET-2) for a subnet without one, and are remembered in
memory only.
"""
import collections
import ipaddress
import itertools
import threading
import uuid

from lbaas.core import network

_NS = uuid.UUID("6f1c1f4e-7d55-4b0e-9a43-5e1e0b3d2a10")
PUBLIC_NETWORK_ID = str(uuid.uuid5(_NS, "network:public"))
PUBLIC_SUBNET_ID = str(uuid.uuid5(_NS, "subnet:public-subnet"))
PUBLIC_CIDR = "172.24.0.0/16"
UNNUMBERED_POOL = ipaddress.ip_network("198.51.100.0/24")  # VIPs of subnets without a CIDR
MAX_BINDINGS = 10000  # subnet -> network bindings remembered; the oldest are forgotten


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _matches(obj, filters):
    return all(str(obj.get(k)) in {str(v) for v in vals} for k, vals in filters.items()
               if k in obj)


def default_subnet_id(network_id):
    """The id of the subnet every noop network has."""
    return str(uuid.uuid5(_NS, "subnet-of:" + network_id))


class NoopNetwork(network.NetworkBackend):
    """Accepts any id; binds subnets to the network they are named with; hands out VIPs."""

    def __init__(self, conf, database=None):
        super().__init__(conf, database)
        self._lock = threading.Lock()
        self._next = {}
        self._bound = collections.OrderedDict()  # subnet id -> network id

    def _bind(self, subnet_id, network_id):
        with self._lock:
            self._bound[subnet_id] = network_id
            self._bound.move_to_end(subnet_id)
            while len(self._bound) > MAX_BINDINGS:
                self._bound.popitem(last=False)

    def _network_of(self, subnet_id):
        with self._lock:
            found = self._bound.get(subnet_id)
        return found or str(uuid.uuid5(_NS, subnet_id))

    def _network(self, network_id):
        if network_id == PUBLIC_NETWORK_ID:
            name, subnets = "public", [PUBLIC_SUBNET_ID]
        else:
            name, subnets = "", [default_subnet_id(network_id)]
            self._bind(subnets[0], network_id)
        return {"id": network_id, "name": name, "status": "ACTIVE", "admin_state_up": True,
                "subnets": subnets, "shared": True, "project_id": "", "tenant_id": "",
                "port_security_enabled": True, "mtu": 1500}

    def _subnet(self, subnet_id):
        if subnet_id == PUBLIC_SUBNET_ID:
            return {"id": subnet_id, "name": "public-subnet", "network_id": PUBLIC_NETWORK_ID,
                    "cidr": PUBLIC_CIDR, "ip_version": 4, "gateway_ip": "172.24.0.1",
                    "enable_dhcp": False, "project_id": "", "tenant_id": ""}
        return {"id": subnet_id, "name": "", "network_id": self._network_of(subnet_id),
                "cidr": None, "ip_version": None, "gateway_ip": None,
                "enable_dhcp": False, "project_id": "", "tenant_id": ""}

    def get_network(self, network_id):
        """Any UUID is a network."""
        return self._network(network_id) if _is_uuid(network_id) else None

    def get_subnet(self, subnet_id):
        """Any UUID is a subnet."""
        return self._subnet(subnet_id) if _is_uuid(subnet_id) else None

    def subnet_on_network(self, subnet_id, network_id):
        """Any subnet but public-subnet is on the network it is named with (and stays so)."""
        if not _is_uuid(subnet_id):
            return None
        if subnet_id == PUBLIC_SUBNET_ID or network_id == PUBLIC_NETWORK_ID:
            return super().subnet_on_network(subnet_id, network_id)
        self._bind(subnet_id, network_id)
        return self._subnet(subnet_id)

    def get_port(self, port_id):
        """Any UUID is an unbound port."""
        if not _is_uuid(port_id):
            return None
        return {"id": port_id, "name": "", "network_id": str(uuid.uuid5(_NS, port_id)),
                "device_id": "", "device_owner": "", "fixed_ips": [], "status": "DOWN"}

    def _list(self, filters, named, getter):
        ids = filters.get("id")
        if ids:
            found = [getter(i) for i in ids]
        else:
            found = [named]
        return [o for o in found if o is not None and _matches(o, filters)]

    def list_networks(self, filters):
        """The public network, or the networks named by id."""
        return self._list(filters, self._network(PUBLIC_NETWORK_ID), self.get_network)

    def list_subnets(self, filters):
        """The public subnet, or the subnets named by id."""
        return self._list(filters, self._subnet(PUBLIC_SUBNET_ID), self.get_subnet)

    def list_ports(self, filters):
        """The ports named by id (no port is listed otherwise)."""
        return [p for p in (self.get_port(i) for i in filters.get("id", [])) if p]

    def allocate_vip(self, loadbalancer_id, network_id, subnet_id, address=None, *,
                     port_id=None, project_id=None, sg_ids=(), style=None):
        """The requested address, or the next host of the subnet's CIDR (or of TEST-NET-2)."""
        if address is None:
            cidr = self._subnet(subnet_id)["cidr"]
            net = ipaddress.ip_network(cidr) if cidr else UNNUMBERED_POOL
            pool = subnet_id if cidr else None   # subnets without a CIDR share one pool
            with self._lock:
                if len(self._next) >= MAX_BINDINGS and pool not in self._next:
                    self._next.clear()  # only spreads addresses out; forgetting is harmless
                counter = self._next.setdefault(pool, itertools.count(2))
                host = next(counter) % (net.num_addresses - 3) + 2
            address = str(net.network_address + host)
        return network.Vip(address=address, network_id=network_id, subnet_id=subnet_id,
                           port_id=str(uuid.uuid5(_NS, "vip:" + loadbalancer_id)))

    def deallocate_vip(self, loadbalancer_id, vip):
        """Nothing to release."""
