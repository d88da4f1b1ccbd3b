"""A load balancer's security group in Neutron: its listeners' ports, limited to allowed_cidrs.

As Octavia does: a group named ``lb-<lb id>`` in lbaas's project, with one ingress rule
per listener port, protocol (tcp; udp for UDP listeners; sctp for SCTP ones) and allowed
CIDR (any source when the listener has none), for each IP version of the VIP addresses;
it replaces the VIP port's groups. An ACTIVE_STANDBY pair also needs its own traffic
between the amphorae: HAProxy's peer port (TCP, any source) and VRRP (IP protocol 112)
and AH (51, keepalived's authentication header) for the VIP's own IP version; Octavia
opens the same, but opens the peer port for a SINGLE amphora too, which has no peer.
No ICMP (neither does Octavia). When the user gives vip_sg_ids, their groups are the VIP
port's and lbaas keeps no group of its own.
"""
import ipaddress

from lbaas.network.neutron_api import together

PREFIX = "lb-"
GONE = ("PENDING_DELETE", "DELETED")
PROTOCOLS = ("tcp", "udp", "sctp")
PAIR_PROTOCOLS = ("112", "51")   # VRRP and AH, by number as Octavia names them
UNKNOWN = object()   # sync's group not looked up yet


def group_name(lb_id):
    """The name of a load balancer's security group (Octavia's)."""
    return PREFIX + lb_id


def _protocol(listener_protocol):
    return {"UDP": "udp", "SCTP": "sctp"}.get(listener_protocol, "tcp")


def _ethertype(network):
    return "IPv6" if ipaddress.ip_network(network, strict=False).version == 6 else "IPv4"


def wanted_rules(loadbalancer):
    """{(port, protocol, remote CIDR or None, ethertype)} the listeners (and a pair) need."""
    addresses = [a for a in loadbalancer.get("vip_addresses") or [] if a]
    ethertypes = {_ethertype(a) for a in addresses}
    rules = set()
    if loadbalancer.get("topology") == "ACTIVE_STANDBY" and addresses:
        for protocol in PAIR_PROTOCOLS:
            rules.add((None, protocol, None, _ethertype(addresses[0])))
        if loadbalancer.get("peer_port"):
            for ethertype in ethertypes:
                rules.add((loadbalancer["peer_port"], "tcp", None, ethertype))
    for listener in loadbalancer.get("listeners") or []:
        if listener.get("provisioning_status") in GONE:
            continue
        protocol = _protocol(listener["protocol"])
        for cidr in listener.get("allowed_cidrs") or [None]:
            for ethertype in ethertypes:
                if cidr is None or _ethertype(cidr) == ethertype:
                    rules.add((listener["protocol_port"], protocol, cidr, ethertype))
    return rules


def _key(rule):
    return (rule.get("port_range_max"), rule.get("protocol"), rule.get("remote_ip_prefix"),
            rule.get("ethertype"))


class SecurityGroups:
    """The security groups of load balancers, through a NeutronApi with lbaas's credentials."""

    def __init__(self, api, project_id):
        self.api, self.project_id = api, project_id   # project_id(): lbaas's own project

    def find(self, lb_id):
        """The load balancer's group (in lbaas's project: a user's namesake is not it), or None."""
        found = self.api.call("GET", "/security-groups", params={
            "name": group_name(lb_id), "project_id": self.project_id()})["security_groups"]
        return found[0] if found else None

    def delete(self, lb_id):
        """Delete the load balancer's group; harmless if there is none."""
        group = self.find(lb_id)
        if group is not None:
            self.api.call("DELETE", f"/security-groups/{group['id']}")

    def sync(self, loadbalancer, vip_ports, group=UNKNOWN):
        """Make the group's rules what the listeners need and put it on the VIP ports.

        loadbalancer: as NetworkBackend.sync_security_group takes it; group: what find
        answered just before (it is asked otherwise). Rules already there are kept, so a
        repeated call changes nothing; the missing ones are made in one bulk call.
        """
        user_groups = list(loadbalancer.get("vip_sg_ids") or [])
        if user_groups:
            self._apply(vip_ports, user_groups)
            self.delete(loadbalancer["id"])
            return None
        if group is UNKNOWN:
            group = self.find(loadbalancer["id"])
        group = group or self.api.call("POST", "/security-groups", {
            "security_group": {"name": group_name(loadbalancer["id"]),
                               "description": "lbaas load balancer listeners"}})["security_group"]
        want = wanted_rules(loadbalancer)
        have = {}
        for rule in group.get("security_group_rules") or []:
            if rule.get("direction") == "ingress" and \
                    rule.get("protocol") in PROTOCOLS + PAIR_PROTOCOLS:
                have[_key(rule)] = rule["id"]
        for key in set(have) - want:
            self.api.call("DELETE", f"/security-group-rules/{have[key]}")
        rules = []
        for port, protocol, cidr, ethertype in sorted(want - set(have), key=str):
            rule = {"security_group_id": group["id"], "direction": "ingress",
                    "protocol": protocol, "remote_ip_prefix": cidr, "ethertype": ethertype}
            if port is not None:
                rule.update(port_range_min=port, port_range_max=port)
            rules.append(rule)
        if rules:   # Neutron's bulk create: all of them or none
            self.api.call("POST", "/security-group-rules", {"security_group_rules": rules})
        self._apply(vip_ports, [group["id"]])
        return group["id"]

    def _apply(self, ports, groups):
        """Put the groups on the ports that do not carry exactly them (at once)."""
        together(*[lambda port=port: self.api.call("PUT", f"/ports/{port['id']}",
                                                   {"port": {"security_groups": groups}})
                   for port in ports
                   if sorted(port.get("security_groups") or []) != sorted(groups)])
