"""The neutron network backend: VIPs and amphora ports are Neutron ports (openstacksdk).

Octavia's conventions, so that an operator's tooling recognises what lbaas made: a VIP
port is named ``octavia-lb-<lb id>``, with device_owner ``Octavia``, device_id
``lb-<lb id>``, admin_state_up false, in the load balancer's project (its additional VIPs
are more fixed IPs of the same port); an OVN provider's VIP port follows
ovn-octavia-provider's instead (``ovn-lb-vip-<lb id>``, no device_owner, up),
the style the core passes (lbaas.core.network.VIP_PORT_STYLES). A port the caller brought
(vip_port_id) is used as it is and never deleted. Amphora and OVN health-check ports
(allocate_port) are made in lbaas's own project, and release_ports deletes only ports of
that project.

What a caller names (network, subnet, port, QoS policy, security group) is looked up with
the caller's token (as_caller), unless [networking] allow_invisible_resource_usage;
everything else runs with lbaas's credentials ([service_auth]). Neutron's refusals become
lbaas's errors (lbaas.network.neutron_api); lbaas.network.neutron_sg keeps the load
balancers' security groups.
"""
import contextlib
import contextvars
import copy
import ipaddress
import logging
import re

from lbaas.core import errors, network
from lbaas.network import neutron_api, neutron_sg

LOG = logging.getLogger(__name__)
OWNER = network.OCTAVIA_VIP_PORT.device_owner
ROUTER_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                 "network:ha_router_replicated_interface")
# path -> answer of the subnet and network reads made inside reads_cached (one reconcile)
_READS = contextvars.ContextVar("lbaas_neutron_reads", default=None)


def vip_port_name(lb_id, style=network.OCTAVIA_VIP_PORT):
    """The name of a load balancer's VIP port (Octavia's, or the given style's)."""
    return style.name(lb_id)


def _made_for(port, lb_id):
    """Whether the port is a VIP port lbaas made for the load balancer, in any style."""
    return any(port.get("device_owner") == style.device_owner and
               port.get("name") == style.name(lb_id) for style in network.VIP_PORT_STYLES)


def _is_vip(port):
    """Whether the port is named and owned as a VIP port of some style."""
    return any(port.get("device_owner", "") == style.device_owner and
               (port.get("name") or "").startswith(style.name_prefix)
               for style in network.VIP_PORT_STYLES)


def vip_device_id(lb_id):
    """The device_id of a load balancer's VIP port (Octavia's)."""
    return f"lb-{lb_id}"


# What an id may be before it is put into a Neutron URL path (Neutron's ids are UUIDs).
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _same_address(a, b):
    return ipaddress.ip_address(a) == ipaddress.ip_address(b)


def _address_on(port, subnet_id, address=None):
    """The port's fixed IP on the subnet (the given address, if any), or None."""
    for fixed in port.get("fixed_ips") or []:
        if fixed["subnet_id"] == subnet_id and \
                (address is None or _same_address(fixed["ip_address"], address)):
            return fixed["ip_address"]
    return None


def _differs(port, wanted):
    """Whether a port's binding host, MAC or allowed address pairs differ from the wanted ones."""
    for key in ("binding:host_id", "mac_address"):
        if key in wanted and port.get(key) != wanted[key]:
            return True
    if "allowed_address_pairs" in wanted:
        have = sorted(p["ip_address"] for p in port.get("allowed_address_pairs") or [])
        return have != sorted(p["ip_address"] for p in wanted["allowed_address_pairs"])
    return False


def _query(filters):
    """Neutron query parameters from a seam filter dict (field -> accepted values)."""
    return {k: list(v) for k, v in filters.items() if v}


class NeutronNetwork(network.NetworkBackend):
    """Networks, subnets and ports of a real Neutron; VIPs and amphora ports as Neutron ports."""

    answers_lookups = False  # Neutron is in the catalog: it answers the CLI's lookups

    def __init__(self, conf, database=None):
        super().__init__(conf, database)
        from lbaas.conf import register_neutron_opts
        register_neutron_opts(conf)  # idempotent; make_conf did it for [network] driver
        self.clients = neutron_api.Clients(conf)
        self.api = self.clients.service()
        self.reader = self.api  # the client of lookups: the caller's in an as_caller view
        self.groups = neutron_sg.SecurityGroups(self.api, self.clients.project_id)

    def as_caller(self, context):
        """A view whose lookups use the caller's token (unless invisible resources are allowed)."""
        token = getattr(context, "auth_token", None)
        if not token or self.conf.networking.allow_invisible_resource_usage:
            return self
        view = copy.copy(self)
        view.reader = self.clients.caller(token)
        return view

    # -- lookups -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def reads_cached(self):
        """Within the block, a subnet or network read with lbaas's credentials is asked of
        Neutron once (one reconcile: its steps read the same subnets several times)."""
        token = _READS.set({})
        try:
            yield
        finally:
            _READS.reset(token)

    def _read(self, kind, object_id):
        """GET /<kind>s/<id> with lbaas's credentials (None when missing), answered from the
        reads_cached block's earlier answer when there is one."""
        path = f"/{kind}s/{object_id}"
        memo = _READS.get()
        if memo is not None and path in memo:
            return copy.deepcopy(memo[path])
        found = self.api.call("GET", path, missing_ok=True)
        if memo is not None:
            memo[path] = copy.deepcopy(found)
        return found

    def _get(self, kind, object_id, path=None):
        if not isinstance(object_id, str) or not _ID.fullmatch(object_id):
            return None   # no such object: nothing else may reach the URL
        found = self.reader.call("GET", f"{path or '/' + kind + 's'}/{object_id}",
                                 missing_ok=True)
        return found and found[kind]

    def get_network(self, network_id):
        """The network, as Neutron shows it to this view's credentials, or None."""
        return self._get("network", network_id)

    def get_subnet(self, subnet_id):
        """The subnet, or None."""
        return self._get("subnet", subnet_id)

    def get_port(self, port_id):
        """The port, or None."""
        return self._get("port", port_id)

    def get_qos_policy(self, policy_id):
        """The QoS policy, or None."""
        return self._get("policy", policy_id, path="/qos/policies")

    def get_security_group(self, group_id):
        """The security group, or None."""
        return self._get("security_group", group_id, path="/security-groups")

    def list_networks(self, filters):
        """Networks matching every filter."""
        return self.reader.call("GET", "/networks", params=_query(filters))["networks"]

    def list_subnets(self, filters):
        """Subnets matching every filter."""
        return self.reader.call("GET", "/subnets", params=_query(filters))["subnets"]

    def list_ports(self, filters):
        """Ports matching every filter."""
        return self.reader.call("GET", "/ports", params=_query(filters))["ports"]

    def subnet_free_addresses(self, network_id):
        """Free addresses per subnet (Neutron's network IP availability, lbaas's credentials)."""
        found = self.api.call("GET", f"/network-ip-availabilities/{network_id}", missing_ok=True)
        if not found:
            return None
        return {s["subnet_id"]: s["total_ips"] - s["used_ips"]
                for s in found["network_ip_availability"]["subnet_ip_availability"]}

    def plumbing(self, subnet_id):
        """The subnet's addressing for amphorae on bound Neutron ports (bound_ports), or None."""
        found = self._read("subnet", subnet_id)
        if not found:
            return None
        subnet = found["subnet"]
        net = self._read("network", subnet["network_id"])
        mtu = (net or {}).get("network", {}).get("mtu") or 1500
        return network.Plumbing(subnet_id=subnet_id, network_id=subnet["network_id"],
                                bridge=subnet["network_id"], cidr=subnet["cidr"],
                                gateway=subnet.get("gateway_ip"), mtu=mtu, bound_ports=True)

    def ovn_datapaths(self, subnet_id):
        """("neutron-<network id>", "neutron-<router id>" or None) as ML2/OVN names them."""
        subnet = self._read("subnet", subnet_id)
        if not subnet:
            return None
        ports = self.api.call("GET", "/ports", params={
            "device_owner": list(ROUTER_OWNERS), "fixed_ips": f"subnet_id={subnet_id}"})["ports"]
        router = next((p["device_id"] for p in ports if p.get("device_id")), None)
        return (f"neutron-{subnet['subnet']['network_id']}",
                f"neutron-{router}" if router else None)

    # -- VIPs --------------------------------------------------------------------------------
    def _vip_ports(self, lb_id):
        """The VIP ports lbaas made for a load balancer (normally one), in any style."""
        found = self.api.call("GET", "/ports", params={
            "device_id": vip_device_id(lb_id)})["ports"]   # one style has no owner to filter on
        return [port for port in found if _made_for(port, lb_id)]

    def allocate_vip(self, loadbalancer_id, network_id, subnet_id, address=None, *,
                     port_id=None, project_id=None, sg_ids=(), style=network.OCTAVIA_VIP_PORT):
        """The caller's port as it is, else lbaas's VIP port: created, or given one more address."""
        if port_id:
            return self._callers_port(port_id, subnet_id, address)
        fixed = {"subnet_id": subnet_id}
        if address:
            fixed["ip_address"] = address
        ours = self._vip_ports(loadbalancer_id)
        if not ours:
            body = {"name": style.name(loadbalancer_id), "network_id": network_id,
                    "admin_state_up": style.admin_state_up,
                    "device_id": vip_device_id(loadbalancer_id),
                    "device_owner": style.device_owner, "fixed_ips": [fixed]}
            if project_id:
                body["project_id"] = project_id
            if sg_ids:
                body["security_groups"] = list(sg_ids)
            port = self.api.call("POST", "/ports", {"port": body})["port"]
        elif _address_on(ours[0], subnet_id, address):
            port = ours[0]  # allocated before (a repeated call)
        else:
            fixed_ips = [{"subnet_id": f["subnet_id"], "ip_address": f["ip_address"]}
                         for f in ours[0]["fixed_ips"]] + [fixed]
            port = self.api.call("PUT", f"/ports/{ours[0]['id']}",
                                 {"port": {"fixed_ips": fixed_ips}})["port"]
        return network.Vip(address=_address_on(port, subnet_id, address),
                           network_id=port["network_id"], subnet_id=subnet_id,
                           port_id=port["id"])

    def _callers_port(self, port_id, subnet_id, address):
        port = self.api.call("GET", f"/ports/{port_id}", missing_ok=True)
        if port is None:
            raise errors.InvalidSubresource(resource="Port", id=port_id)
        port = port["port"]
        found = _address_on(port, subnet_id, address)
        if found is None:
            raise errors.ValidationException(
                detail=f"Port {port_id} has no fixed IP on subnet {subnet_id}"
                       + (f" with address {address}." if address else "."))
        return network.Vip(address=found, network_id=port["network_id"], subnet_id=subnet_id,
                           port_id=port_id)

    def deallocate_vip(self, loadbalancer_id, vip):
        """Delete the VIP ports lbaas made, then the load balancer's security group."""
        for port in self._vip_ports(loadbalancer_id):
            self.api.call("DELETE", f"/ports/{port['id']}")
        self.groups.delete(loadbalancer_id)

    # -- amphora and health-check ports ------------------------------------------------------
    def allocate_port(self, device_id, subnet_id, device_owner, address=None, name="",
                      host=None, allowed=(), mac_address=None):
        """A port of lbaas's project for a device on a subnet (bound to host, with allowed
        address pairs and MAC); the existing one if any, brought up to date."""
        subnet = self._read("subnet", subnet_id)
        if subnet is None:
            raise errors.InvalidSubresource(resource="Subnet", id=subnet_id)
        existing = self.api.call("GET", "/ports", params={
            "device_id": device_id, "device_owner": device_owner,
            "fixed_ips": f"subnet_id={subnet_id}"})["ports"]
        if not existing and name:   # a port Nova attached has Nova's device_id and owner
            existing = self.api.call("GET", "/ports", params={
                "name": name, "project_id": self.clients.project_id(),
                "fixed_ips": f"subnet_id={subnet_id}"})["ports"]
        wanted = {}
        if host:
            wanted["binding:host_id"] = host
        if allowed:
            wanted["allowed_address_pairs"] = [{"ip_address": a} for a in allowed]
        if mac_address and (any(p.get("mac_address") == mac_address for p in existing) or
                            self._mac_free(subnet["subnet"]["network_id"], mac_address,
                                           {p["id"] for p in existing}, device_id)):
            wanted["mac_address"] = mac_address
        for port in existing:
            if address is None or _address_on(port, subnet_id, address):
                if _differs(port, wanted):
                    port = self.api.call("PUT", f"/ports/{port['id']}",
                                         {"port": wanted})["port"]
                return port
        fixed = {"subnet_id": subnet_id}
        if address:
            fixed["ip_address"] = address
        return self.api.call("POST", "/ports", {"port": {
            "name": name, "network_id": subnet["subnet"]["network_id"], "device_id": device_id,
            "device_owner": device_owner, "fixed_ips": [fixed], **wanted}})["port"]

    def _mac_free(self, network_id, mac_address, mine, device_id):
        """Whether no port on the network but `mine` has the MAC (Neutron wants MACs unique
        per network: a second health-check port there keeps a MAC of Neutron's)."""
        holders = [p["id"] for p in self.api.call("GET", "/ports", params={
            "network_id": network_id, "mac_address": mac_address})["ports"]
            if p["id"] not in mine]
        if holders:
            LOG.warning("MAC %s is already port %s's on network %s: the port of %s keeps a "
                        "MAC of Neutron's", mac_address, holders[0], network_id, device_id)
        return not holders

    def release_ports(self, device_id):
        """Delete the device's ports in lbaas's project (never another project's, nor a VIP)."""
        ports = self.api.call("GET", "/ports", params={
            "device_id": device_id, "project_id": self.clients.project_id()})["ports"]
        for port in ports:
            if not _is_vip(port):
                self.api.call("DELETE", f"/ports/{port['id']}")

    # -- security groups (called by providers after listener changes) ------------------------
    def sync_security_group(self, loadbalancer):
        """Make the load balancer's VIP port admit its listeners' traffic (neutron_sg).

        Only a VIP port lbaas made: a port the caller brought (vip_port_id) keeps the
        groups its owner gave it, and no group is made that nothing would carry.
        """
        lb_id = loadbalancer["id"]
        ports, amphora_ports, group = neutron_api.together(
            lambda: self._vip_ports(lb_id),
            lambda: self._amphora_vip_ports(loadbalancer.get("amphorae") or ()),
            lambda: None if loadbalancer.get("vip_sg_ids") else self.groups.find(lb_id))
        if ports:
            network_id = ports[0]["network_id"]
            self.groups.sync(loadbalancer, ports + [
                p for p in amphora_ports if p["network_id"] == network_id], group=group)

    def _amphora_vip_ports(self, amphora_ids):
        """The amphorae's ports holding an allowed address pair (their VIP-subnet ports),
        found by name: Nova rewrites the device_id of a port it attaches to a server."""
        if not amphora_ids:
            return []
        return [p for p in self.api.call("GET", "/ports", params={
            "name": sorted(network.amphora_vip_port_name(a) for a in amphora_ids),
            "project_id": self.clients.project_id()})["ports"]
            if p.get("allowed_address_pairs")]
