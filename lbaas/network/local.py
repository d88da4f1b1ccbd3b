"""The local network backend: subnets declared in configuration, addresses kept in the database.

Each ``[network_local] subnet`` line declares one subnet and the Linux bridge that
carries it on this host; subnets naming the same ``network`` form one network.
``ovn_switch=`` / ``ovn_router=`` name the OVN Logical_Switch and Logical_Router of the
subnet for the OVN provider (ovn_datapaths); with either, the bridge is optional, and a
subnet without one cannot host amphorae (plumbing is None).
Network and subnet ids are uuid5 values of their names, so every process (API,
worker, health manager) derives the same ids from the same configuration.

Every address handed out (a VIP, an amphora's leg on a subnet) is a row of the
``network_port`` table. Its unique (subnet_id, ip_address) constraint is what keeps
two processes from taking one address: an allocation inserts the first address it
believes free and, when another process won the race, moves on to the next.

The core allocates a VIP inside the write transaction that creates the load
balancer (see LoadBalancerService.create). This backend then inserts the port on
that transaction's own connection, under a savepoint, so the port commits or rolls
back with the load balancer; elsewhere it uses a transaction of its own.
"""
import dataclasses
import ipaddress
import re
import uuid

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from lbaas.core import errors, models, network

_NS = uuid.UUID("4b549ee0-9d49-4443-ae29-396cef261c34")
VIP_OWNER = "lbaas:vip"
MTU = 1500
KEYS = ("name", "cidr", "bridge", "network", "gateway", "host_ip", "allocation_start",
        "allocation_end", "ovn_switch", "ovn_router")
REQUIRED = ("name", "cidr")   # and bridge, unless the subnet is in OVN (ovn_switch or ovn_router)
_BRIDGE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,15}$")
_PORTS = models.NetworkPort.__table__


class NoFreeAddress(errors.ValidationException):
    """A subnet's allocation range is used up (400, as Octavia answers a network without room)."""


def network_uuid(name):
    """The id of the network called `name`."""
    return str(uuid.uuid5(_NS, "network:" + name))


def subnet_uuid(name):
    """The id of the subnet called `name`."""
    return str(uuid.uuid5(_NS, "subnet:" + name))


@dataclasses.dataclass(frozen=True)
class Subnet:
    """One configured subnet, parsed and checked."""

    id: str
    name: str
    network: str
    network_id: str
    cidr: ipaddress.IPv4Network | ipaddress.IPv6Network
    bridge: str | None   # None: an OVN-only subnet, where amphorae cannot be plugged
    gateway: ipaddress.IPv4Address | ipaddress.IPv6Address
    host_ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    start: ipaddress.IPv4Address | ipaddress.IPv6Address
    end: ipaddress.IPv4Address | ipaddress.IPv6Address
    ovn_switch: str | None = None   # the OVN Logical_Switch carrying the subnet, if any
    ovn_router: str | None = None   # the OVN Logical_Router the subnet is attached to, if any

    @property
    def reserved(self):
        """Addresses never handed out: the gateway and this host's own address."""
        return {self.gateway, self.host_ip}

    def usable(self, address):
        """Whether `address` is a host address of the subnet (not its network or broadcast)."""
        if address not in self.cidr:
            return False
        if self.cidr.num_addresses <= 2:  # /31, /32, /127, /128: every address is a host
            return True
        if address == self.cidr.network_address:
            return False
        return self.cidr.version == 6 or address != self.cidr.broadcast_address

    def candidates(self, taken):
        """Free addresses of the allocation range in order, skipping `taken` and the reserved."""
        skip = self.reserved | taken
        current, end = self.start, self.end
        while current <= end:
            if current not in skip:
                yield current
            if current == end:
                return
            current += 1

    def as_dict(self):
        """The subnet as Neutron shows it."""
        return {"id": self.id, "name": self.name, "network_id": self.network_id,
                "cidr": str(self.cidr), "ip_version": self.cidr.version,
                "gateway_ip": str(self.gateway),
                "allocation_pools": [{"start": str(self.start), "end": str(self.end)}],
                "enable_dhcp": False, "dns_nameservers": [], "host_routes": [],
                "ipv6_address_mode": None, "ipv6_ra_mode": None, "subnetpool_id": None,
                "description": "", "tags": [], "project_id": "", "tenant_id": ""}


def _address(value, field, cidr, raw):
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError(f"[network_local] subnet {raw!r}: {field} {value!r} is not an IP "
                         f"address") from None
    if address not in cidr:
        raise ValueError(f"[network_local] subnet {raw!r}: {field} {value} is outside {cidr}")
    return address


def parse_subnet(raw):
    """One `[network_local] subnet` value -> Subnet; ValueError naming the value if malformed."""
    fields = {}
    for token in raw.split():
        key, sep, value = token.partition("=")
        if not sep or not value:
            raise ValueError(f"[network_local] subnet {raw!r}: {token!r} is not key=value")
        if key not in KEYS:
            raise ValueError(f"[network_local] subnet {raw!r}: unknown key {key!r} "
                             f"(known: {', '.join(KEYS)})")
        if key in fields:
            raise ValueError(f"[network_local] subnet {raw!r}: {key} given twice")
        fields[key] = value
    missing = [k for k in REQUIRED if k not in fields]
    if not {"bridge", "ovn_switch", "ovn_router"} & set(fields):
        missing.append("bridge (or ovn_switch / ovn_router)")
    if missing:
        raise ValueError(f"[network_local] subnet {raw!r}: missing {', '.join(missing)}")
    try:
        cidr = ipaddress.ip_network(fields["cidr"])
    except ValueError as exc:
        raise ValueError(f"[network_local] subnet {raw!r}: cidr {fields['cidr']!r}: {exc}") \
            from None
    if "bridge" in fields and not _BRIDGE_RE.match(fields["bridge"]):
        raise ValueError(f"[network_local] subnet {raw!r}: bridge {fields['bridge']!r} must be "
                         "1 to 15 letters, digits, '.', '_' or '-'")
    hosts = (cidr.network_address, cidr.broadcast_address) if cidr.num_addresses <= 2 else \
        (cidr.network_address + 1,
         cidr.broadcast_address - (1 if cidr.version == 4 else 0))
    gateway = _address(fields["gateway"], "gateway", cidr, raw) if "gateway" in fields \
        else hosts[0]
    host_ip = _address(fields["host_ip"], "host_ip", cidr, raw) if "host_ip" in fields \
        else gateway
    first, last = hosts
    while first in (gateway, host_ip) and first < last:
        first += 1
    while last in (gateway, host_ip) and last > first:
        last -= 1
    start = _address(fields["allocation_start"], "allocation_start", cidr, raw) \
        if "allocation_start" in fields else first
    end = _address(fields["allocation_end"], "allocation_end", cidr, raw) \
        if "allocation_end" in fields else last
    name = fields["name"]
    net = fields.get("network", name)
    subnet = Subnet(id=subnet_uuid(name), name=name, network=net, network_id=network_uuid(net),
                    cidr=cidr, bridge=fields.get("bridge"), gateway=gateway, host_ip=host_ip,
                    start=start, end=end, ovn_switch=fields.get("ovn_switch"),
                    ovn_router=fields.get("ovn_router"))
    for field, address in (("gateway", gateway), ("host_ip", host_ip),
                           ("allocation_start", start), ("allocation_end", end)):
        if not subnet.usable(address):
            raise ValueError(f"[network_local] subnet {raw!r}: {field} {address} is not a "
                             f"host address of {cidr}")
    if start > end:
        raise ValueError(f"[network_local] subnet {raw!r}: allocation_start {start} is after "
                         f"allocation_end {end}")
    if next(subnet.candidates(set()), None) is None:
        raise ValueError(f"[network_local] subnet {raw!r}: the allocation range holds no "
                         "address besides the gateway and host_ip")
    return subnet


def parse_subnets(values):
    """Every configured subnet, in order; ValueError on a malformed or duplicate one."""
    subnets = {}
    for raw in values:
        subnet = parse_subnet(raw)
        if subnet.id in subnets:
            raise ValueError(f"[network_local] subnet {raw!r}: another subnet is already "
                             f"called {subnet.name!r}")
        subnets[subnet.id] = subnet
    return subnets


def _text(value):
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _fixed_ip_matches(port, wanted):
    """Neutron's `fixed_ips=ip_address=X` / `fixed_ips=subnet_id=Y` filter."""
    for item in wanted:
        key, _, value = str(item).partition("=")
        if key not in ("ip_address", "subnet_id"):
            return False
        if not any(_text(ip.get(key)) == value for ip in port["fixed_ips"]):
            return False
    return True


def _accepts(value, accepted):
    if isinstance(value, bool):
        return _text(value) in {str(v).lower() for v in accepted}
    return str(value) in {str(v) for v in accepted}


def _matches(obj, filters):
    """Whether obj passes every filter on one of its fields (field -> accepted values).

    As with noop, a filter on a field the object lacks is ignored; `fixed_ips` takes
    Neutron's `ip_address=X` / `subnet_id=Y` forms.
    """
    for key, accepted in filters.items():
        if key not in obj:
            continue
        if key == "fixed_ips":
            if not _fixed_ip_matches(obj, accepted):
                return False
        elif not isinstance(obj[key], list | dict) and not _accepts(obj[key], accepted):
            return False
    return True


def _mac(port_id):
    """A stable MAC for a port, in the fa:16:3e range Neutron uses."""
    tail = uuid.UUID(port_id).bytes[-3:]
    return "fa:16:3e:" + ":".join(f"{b:02x}" for b in tail)


def _port_dict(row):
    created = row.created_at.strftime("%Y-%m-%dT%H:%M:%SZ") if row.created_at else None
    return {"id": row.id, "name": row.name, "network_id": row.network_id,
            "mac_address": row.mac_address, "admin_state_up": True, "status": "ACTIVE",
            "device_id": row.device_id, "device_owner": row.device_owner,
            "fixed_ips": [{"subnet_id": row.subnet_id, "ip_address": row.ip_address}],
            "project_id": row.project_id, "tenant_id": row.project_id, "description": "",
            "tags": [], "security_groups": [], "allowed_address_pairs": [],
            "port_security_enabled": False, "created_at": created, "updated_at": created}


class LocalNetwork(network.NetworkBackend):
    """Subnets from `[network_local] subnet`, ports in the `network_port` table."""

    def __init__(self, conf, database=None):
        super().__init__(conf, database)
        self.subnets = parse_subnets(conf.network_local.subnet)
        self.networks = {}
        for subnet in self.subnets.values():
            self.networks.setdefault(subnet.network_id, (subnet.network, []))[1].append(subnet)

    # -- the caller's transaction -------------------------------------------------------

    def _writing(self):
        """A context giving a Connection to write on: the caller's transaction, or a new one.

        The core calls allocate_vip inside its own write transaction; a second writer
        would wait forever for SQLite's lock, so the port joins that transaction.
        """
        if self.database is None:
            raise RuntimeError("the local network backend needs lbaas's database "
                               "(LocalNetwork(conf, database))")
        session = self.database.current_write()
        if session is not None:
            return _Joined(session.connection())
        return _Unit(self.database.write())

    # -- lookups ------------------------------------------------------------------------

    def _network_dict(self, net_id):
        name, subnets = self.networks[net_id]
        return {"id": net_id, "name": name, "status": "ACTIVE", "admin_state_up": True,
                "subnets": [s.id for s in subnets], "shared": True, "project_id": "",
                "tenant_id": "", "port_security_enabled": False, "mtu": MTU,
                "router:external": False, "description": "", "tags": []}

    def get_network(self, network_id):
        """A configured network, or None."""
        return self._network_dict(network_id) if network_id in self.networks else None

    def get_subnet(self, subnet_id):
        """A configured subnet, or None."""
        subnet = self.subnets.get(subnet_id)
        return subnet.as_dict() if subnet else None

    def get_port(self, port_id):
        """A port this backend handed out, or None."""
        if self.database is None:
            return None
        with self.database.read() as session:
            row = session.get(models.NetworkPort, str(port_id))
            return _port_dict(row) if row is not None else None

    def list_networks(self, filters):
        """Configured networks matching the filters."""
        found = (self._network_dict(i) for i in self.networks)
        return [n for n in found if _matches(n, filters)]

    def list_subnets(self, filters):
        """Configured subnets matching the filters."""
        found = (s.as_dict() for s in self.subnets.values())
        return [s for s in found if _matches(s, filters)]

    def list_ports(self, filters):
        """Ports matching the filters, oldest first."""
        if self.database is None:
            return []
        cols = models.NetworkPort
        stmt = select(cols).order_by(cols.created_at, cols.id)
        for key, column in (("id", cols.id), ("name", cols.name),
                            ("network_id", cols.network_id), ("device_id", cols.device_id),
                            ("device_owner", cols.device_owner),
                            ("mac_address", cols.mac_address), ("project_id", cols.project_id),
                            ("tenant_id", cols.project_id)):
            if filters.get(key):
                stmt = stmt.where(column.in_([str(v) for v in filters[key]]))
        with self.database.read() as session:
            ports = [_port_dict(row) for row in session.scalars(stmt)]
        return [p for p in ports if _matches(p, filters)]

    def plumbing(self, subnet_id):
        """The bridge and addressing of a configured subnet, or None.

        None too for a subnet declared without a bridge (only OVN keys): it lives in
        OVN alone, and amphorae on this host cannot be plugged into it.
        """
        subnet = self.subnets.get(subnet_id)
        if subnet is None or subnet.bridge is None:
            return None
        return network.Plumbing(subnet_id=subnet.id, network_id=subnet.network_id,
                                bridge=subnet.bridge, cidr=str(subnet.cidr),
                                gateway=str(subnet.gateway), host_ip=str(subnet.host_ip),
                                mtu=MTU)

    def ovn_datapaths(self, subnet_id):
        """(OVN switch, OVN router), either None, of a subnet declared in OVN; else None.

        A VIP subnet behind an OVN router may name only ovn_router.
        """
        subnet = self.subnets.get(subnet_id)
        if subnet is None or (subnet.ovn_switch is None and subnet.ovn_router is None):
            return None
        return subnet.ovn_switch, subnet.ovn_router

    # -- allocation ---------------------------------------------------------------------

    def _subnet_or_400(self, subnet_id):
        subnet = self.subnets.get(subnet_id)
        if subnet is None:
            raise errors.InvalidSubresource(
                resource="Subnet", id=subnet_id,
                operator_message=f"subnet {subnet_id} is not one of [network_local] subnet")
        return subnet

    def _requested(self, subnet, address):
        """The requested address, checked and normalised (400 or 409 when it cannot be had)."""
        try:
            wanted = ipaddress.ip_address(str(address))
        except ValueError:
            raise errors.InvalidIPAddress(ip_addr=address) from None
        if wanted not in subnet.cidr:
            raise errors.ValidationException(
                detail=f"VIP address {address} is not in subnet {subnet.id}.")
        if not subnet.usable(wanted):
            raise errors.ValidationException(
                detail=f"VIP address {address} is not a host address of subnet {subnet.id}.")
        if wanted in subnet.reserved:
            role = "gateway" if wanted == subnet.gateway else "host address"
            raise errors.VIPAddressConflict(
                msg=f"{wanted} is the {role} of subnet {subnet.id}",
                operator_message=f"{wanted} is the {role} of local subnet {subnet.name}")
        return wanted

    def _insert(self, conn, subnet, address, values):
        """Insert a port with `address`, or the first free one; -> its id (409/400 if none)."""
        if address is not None:
            candidates = [address]
        else:
            taken = {ipaddress.ip_address(a) for a in conn.scalars(
                select(_PORTS.c.ip_address).where(_PORTS.c.subnet_id == subnet.id))}
            candidates = subnet.candidates(taken)
        for candidate in candidates:
            port_id = str(uuid.uuid4())
            try:
                with conn.begin_nested():
                    conn.execute(insert(_PORTS).values(
                        id=port_id, network_id=subnet.network_id, subnet_id=subnet.id,
                        ip_address=str(candidate), mac_address=_mac(port_id),
                        created_at=models.utcnow(), **values))
            except IntegrityError:
                if address is not None:
                    raise errors.VIPAddressConflict(
                        msg=f"{address} is in use on subnet {subnet.id}") from None
                continue  # another process took it since we looked: try the next one
            return port_id
        raise NoFreeAddress(
            detail=f"Subnet {subnet.id} has no available IP addresses.",
            operator_message=f"local subnet {subnet.name} ({subnet.cidr}, allocation range "
                             f"{subnet.start}-{subnet.end}) is exhausted")

    def _reserve(self, subnet, address, device_id, device_owner, name, project_id=""):
        """The port of (device, subnet, owner): the existing one, or a new one; -> port dict."""
        wanted = self._requested(subnet, address) if address else None
        with self._writing() as conn:
            existing = conn.execute(select(_PORTS.c.id, _PORTS.c.ip_address).where(
                _PORTS.c.device_id == device_id, _PORTS.c.subnet_id == subnet.id,
                _PORTS.c.device_owner == device_owner).order_by(_PORTS.c.created_at)).first()
            if existing is not None and \
                    (wanted is None or ipaddress.ip_address(existing.ip_address) == wanted):
                port_id = existing.id
            else:
                port_id = self._insert(conn, subnet, wanted, {
                    "name": name, "device_id": device_id, "device_owner": device_owner,
                    "project_id": project_id})
            row = conn.execute(select(_PORTS).where(_PORTS.c.id == port_id)).one()
        return _port_dict(row)

    def _vip_subnet(self, network_id, subnet_id, address):
        """The subnet a VIP goes on: the one named, else the network's first that fits."""
        if subnet_id:
            subnet = self._subnet_or_400(subnet_id)
            if network_id and subnet.network_id != network_id:
                raise errors.InvalidSubresource(resource="Subnet", id=subnet_id)
            return [subnet]
        if network_id not in self.networks:
            raise errors.InvalidSubresource(resource="Network", id=network_id)
        subnets = self.networks[network_id][1]
        if address:
            try:
                wanted = ipaddress.ip_address(str(address))
            except ValueError:
                raise errors.InvalidIPAddress(ip_addr=address) from None
            subnets = [s for s in subnets if wanted in s.cidr]
            if not subnets:
                raise errors.ValidationException(
                    detail=f"Unable to find a subnet of network {network_id} for VIP address "
                           f"{address}.")
            return subnets[:1]
        return sorted(subnets, key=lambda s: s.cidr.version != 4)

    def allocate_vip(self, loadbalancer_id, network_id, subnet_id, address=None, *,
                     port_id=None, project_id=None, sg_ids=(), style=None):
        """Record a VIP port: the requested address, or the first free one of the range."""
        subnets = self._vip_subnet(network_id, subnet_id, address)
        for i, subnet in enumerate(subnets):
            try:
                port = self._reserve(subnet, address, device_id=loadbalancer_id,
                                     device_owner=VIP_OWNER,
                                     name=f"lbaas-vip-{loadbalancer_id}")
            except NoFreeAddress:
                if i == len(subnets) - 1:
                    raise
                continue  # exhausted: the network's next subnet may have room
            return network.Vip(address=port["fixed_ips"][0]["ip_address"],
                               network_id=subnet.network_id, subnet_id=subnet.id,
                               port_id=port["id"])
        raise AssertionError("unreachable: a network has at least one subnet")

    def deallocate_vip(self, loadbalancer_id, vip):
        """Drop the load balancer's VIP ports (additional VIPs too); harmless if gone."""
        where = (_PORTS.c.device_id == loadbalancer_id) & (_PORTS.c.device_owner == VIP_OWNER)
        if vip is not None and vip.port_id:
            where = where | ((_PORTS.c.id == vip.port_id) & (_PORTS.c.device_owner == VIP_OWNER))
        with self._writing() as conn:
            conn.execute(delete(_PORTS).where(where))

    def allocate_port(self, device_id, subnet_id, device_owner, address=None, name="",
                      mac_address=None):
        """A port for a device on a subnet; the existing one if the device already has one
        (its MAC is the backend's own: mac_address is ignored)."""
        subnet = self._subnet_or_400(subnet_id)
        return self._reserve(subnet, address, device_id=device_id, device_owner=device_owner,
                             name=name)

    def release_ports(self, device_id):
        """Drop every port allocate_port reserved for a device (VIP ports stay)."""
        with self._writing() as conn:
            conn.execute(delete(_PORTS).where(_PORTS.c.device_id == device_id,
                                              _PORTS.c.device_owner != VIP_OWNER))


class _Joined:
    """The caller's open transaction: work under a savepoint, commit with the caller."""

    def __init__(self, conn):
        self.conn = conn

    def __enter__(self):
        self.savepoint = self.conn.begin_nested()
        return self.conn

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.savepoint.commit()
        else:
            self.savepoint.rollback()
        return False


class _Unit:
    """A Database.write() unit of work, seen as its Connection."""

    def __init__(self, unit):
        self.unit = unit

    def __enter__(self):
        return self.unit.__enter__().connection()

    def __exit__(self, exc_type, exc, tb):
        return self.unit.__exit__(exc_type, exc, tb)
