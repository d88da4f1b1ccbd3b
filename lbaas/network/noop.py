"""The noop network backend: every UUID is a network, subnet or port that exists.

It also offers one named network, ``public`` with subnet ``public-subnet``
(172.24.0.0/16), so that `--vip-subnet-id public-subnet` works from the CLI.
VIP addresses are handed out from the subnet's CIDR and remembered in memory.
"""
import hashlib
import ipaddress
import itertools
import threading
import uuid

from lbaas.core import network

_NS = uuid.UUID("6f1c1f4e-7d55-4b0e-9a43-5e1e0b3d2a10")
PUBLIC_NETWORK_ID = str(uuid.uuid5(_NS, "network:public"))
PUBLIC_SUBNET_ID = str(uuid.uuid5(_NS, "subnet:public-subnet"))
PUBLIC_CIDR = "172.24.0.0/16"


def _is_uuid(value):
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True


def _matches(obj, filters):
    return all(str(obj.get(k)) in {str(v) for v in vals} for k, vals in filters.items()
               if k in obj)


class NoopNetwork(network.NetworkBackend):
    """Accepts any id; allocates VIPs from a CIDR derived from the subnet id."""

    def __init__(self, conf, database=None):
        super().__init__(conf, database)
        self._lock = threading.Lock()
        self._next = {}

    def _network(self, network_id):
        name = "public" if network_id == PUBLIC_NETWORK_ID else ""
        subnets = [PUBLIC_SUBNET_ID] if network_id == PUBLIC_NETWORK_ID else []
        return {"id": network_id, "name": name, "status": "ACTIVE", "admin_state_up": True,
                "subnets": subnets, "shared": True, "project_id": "", "tenant_id": "",
                "port_security_enabled": True, "mtu": 1500}

    def _subnet(self, subnet_id):
        if subnet_id == PUBLIC_SUBNET_ID:
            return {"id": subnet_id, "name": "public-subnet", "network_id": PUBLIC_NETWORK_ID,
                    "cidr": PUBLIC_CIDR, "ip_version": 4, "gateway_ip": "172.24.0.1",
                    "enable_dhcp": False, "project_id": "", "tenant_id": ""}
        digest = hashlib.sha256(subnet_id.encode()).digest()
        cidr = f"10.{digest[0]}.{digest[1]}.0/24"
        return {"id": subnet_id, "name": "", "network_id": str(uuid.uuid5(_NS, subnet_id)),
                "cidr": cidr, "ip_version": 4, "gateway_ip": cidr.replace(".0/24", ".1"),
                "enable_dhcp": False, "project_id": "", "tenant_id": ""}

    def ovn_datapaths(self, subnet_id):
        """No subnet is in OVN: the OVN provider then writes rows with no switch or router.

        (A Neutron backend would answer ("neutron-<network id>", the "neutron-<router id>"
        of the router that has a port on the subnet, or None).)
        """
        return None

    def get_network(self, network_id):
        """Any UUID is a network."""
        return self._network(network_id) if _is_uuid(network_id) else None

    def get_subnet(self, subnet_id):
        """Any UUID is a subnet."""
        return self._subnet(subnet_id) if _is_uuid(subnet_id) else None

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

    def allocate_vip(self, loadbalancer_id, network_id, subnet_id, address=None):
        """The requested address, or the next host of the subnet."""
        subnet = self._subnet(subnet_id)
        if address is None:
            net = ipaddress.ip_network(subnet["cidr"])
            with self._lock:
                counter = self._next.setdefault(subnet_id, itertools.count(2))
                host = next(counter) % (net.num_addresses - 3) + 2
            address = str(net.network_address + host)
        return network.Vip(address=address, network_id=subnet["network_id"], subnet_id=subnet_id,
                           port_id=str(uuid.uuid5(_NS, "vip:" + loadbalancer_id)))

    def deallocate_vip(self, loadbalancer_id, vip):
        """Nothing to release."""
