"""A load balancer's security group in Neutron: its listeners' ports, limited to allowed_cidrs.

As Octavia does: a group named ``lb-<lb id>`` in lbaas's project, with one ingress rule
per listener port, protocol (tcp; udp for UDP listeners; sctp for SCTP ones) and allowed
CIDR (any source when the listener has none), for each IP version of the VIP addresses;
it replaces the VIP port's groups. When the user gives vip_sg_ids, their groups are the
VIP port's and lbaas keeps no group of its own.
"""
import ipaddress

PREFIX = "lb-"
GONE = ("PENDING_DELETE", "DELETED")
PROTOCOLS = ("tcp", "udp", "sctp")


def group_name(lb_id):
    """The name of a load balancer's security group (Octavia's)."""
    return PREFIX + lb_id


def _protocol(listener_protocol):
    return {"UDP": "udp", "SCTP": "sctp"}.get(listener_protocol, "tcp")


def _ethertype(network):
    return "IPv6" if ipaddress.ip_network(network, strict=False).version == 6 else "IPv4"


def wanted_rules(loadbalancer):
    """{(port, protocol, remote CIDR or None, ethertype)} the listeners need."""
    ethertypes = {_ethertype(a) for a in loadbalancer.get("vip_addresses") or [] if a}
    rules = set()
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

    def __init__(self, api):
        self.api = api

    def find(self, lb_id):
        """The load balancer's group, or None."""
        found = self.api.call("GET", "/security-groups",
                              params={"name": group_name(lb_id)})["security_groups"]
        return found[0] if found else None

    def delete(self, lb_id):
        """Delete the load balancer's group; harmless if there is none."""
        group = self.find(lb_id)
        if group is not None:
            self.api.call("DELETE", f"/security-groups/{group['id']}")

    def sync(self, loadbalancer, vip_ports):
        """Make the group's rules what the listeners need and put it on the VIP ports.

        loadbalancer: {"id", "vip_sg_ids", "vip_addresses", "listeners": [{"protocol",
        "protocol_port", "allowed_cidrs", "provisioning_status"}]}.
        """
        user_groups = list(loadbalancer.get("vip_sg_ids") or [])
        if user_groups:
            self._apply(vip_ports, user_groups)
            self.delete(loadbalancer["id"])
            return None
        group = self.find(loadbalancer["id"]) or self.api.call("POST", "/security-groups", {
            "security_group": {"name": group_name(loadbalancer["id"]),
                               "description": "lbaas load balancer listeners"}})["security_group"]
        want = wanted_rules(loadbalancer)
        have = {}
        for rule in group.get("security_group_rules") or []:
            if rule.get("direction") == "ingress" and rule.get("protocol") in PROTOCOLS:
                have[_key(rule)] = rule["id"]
        for key in set(have) - want:
            self.api.call("DELETE", f"/security-group-rules/{have[key]}")
        for port, protocol, cidr, ethertype in sorted(want - set(have), key=str):
            self.api.call("POST", "/security-group-rules", {"security_group_rule": {
                "security_group_id": group["id"], "direction": "ingress",
                "protocol": protocol, "port_range_min": port, "port_range_max": port,
                "remote_ip_prefix": cidr, "ethertype": ethertype}})
        self._apply(vip_ports, [group["id"]])
        return group["id"]

    def _apply(self, ports, groups):
        for port in ports:
            if sorted(port.get("security_groups") or []) != sorted(groups):
                self.api.call("PUT", f"/ports/{port['id']}",
                              {"port": {"security_groups": groups}})
