"""VIP resolution for a new load balancer: which network, subnet, port and address it gets."""
import dataclasses
import ipaddress

from lbaas.core import errors
from lbaas.core.services import config_rules


@dataclasses.dataclass
class VipRequest:
    """The resolved VIP of a load balancer about to be created."""

    network_id: str
    subnet_id: str
    address: str | None
    port_id: str | None
    qos_policy_id: str | None
    sg_ids: list
    additional: list


def _in_subnet(address, subnet):
    """Whether the address lies in the subnet's CIDR (a subnet without one takes any)."""
    try:
        if subnet.get("cidr") is None:
            ipaddress.ip_address(address)
            return True
        return ipaddress.ip_address(address) in ipaddress.ip_network(subnet["cidr"])
    except ValueError:
        return False


def _check_allowed(conf, body):
    net = conf.networking
    flags = (("vip_port_id", net.allow_vip_port_id), ("vip_network_id", net.allow_vip_network_id),
             ("vip_subnet_id", net.allow_vip_subnet_id))
    allowed = [name for name, ok in flags if ok]
    if not any(body.get(name) for name, _ in flags):
        raise errors.VIPValidationException(objects=", ".join(allowed))
    for name, ok in flags:
        if body.get(name) and not ok:
            raise errors.ValidationException(
                detail=f"use of {name} is disallowed by this deployment's configuration.")


def _subnet_or_400(network, subnet_id):
    subnet = network.get_subnet(subnet_id)
    if subnet is None:
        raise errors.InvalidSubresource(resource="Subnet", id=subnet_id)
    return subnet


def _from_port(network, body):
    port_id = body["vip_port_id"]
    port = network.get_port(port_id)
    if port is None:
        raise errors.InvalidSubresource(resource="Port", id=port_id)
    if port.get("device_id"):
        raise errors.BadRequest(
            message=f"Port {port_id} is already used by device {port['device_id']}")
    fixed = port.get("fixed_ips") or []
    subnet_id, address = body.get("vip_subnet_id"), body.get("vip_address")
    if subnet_id:
        _subnet_or_400(network, subnet_id)
        on_subnet = [ip["ip_address"] for ip in fixed if ip.get("subnet_id") == subnet_id]
        if fixed and not on_subnet:
            raise errors.ValidationException(
                detail=f"No VIP address found on subnet {subnet_id} of port {port_id}.")
        address = on_subnet[0] if on_subnet else address
    elif address:
        match = [ip for ip in fixed if ipaddress.ip_address(ip["ip_address"]) ==
                 ipaddress.ip_address(address)]
        if fixed and not match:
            raise errors.ValidationException(
                detail=f"VIP address {address} is not a fixed IP of port {port_id}.")
        subnet_id = match[0]["subnet_id"] if match else None
    elif len(fixed) == 1:
        subnet_id, address = fixed[0]["subnet_id"], fixed[0]["ip_address"]
    elif fixed:
        raise errors.ValidationException(
            detail="VIP port's subnet could not be determined. Please specify either a "
                   "VIP subnet or address.")
    if subnet_id is None:
        raise errors.ValidationException(
            detail="VIP port's subnet could not be determined. Please specify either a "
                   "VIP subnet or address.")
    return port["network_id"], subnet_id, address, port.get("qos_policy_id")


def _from_network(conf, network, body):
    network_id = body["vip_network_id"]
    net = network.get_network(network_id)
    if net is None:
        raise errors.InvalidSubresource(resource="Network", id=network_id)
    subnet_id, address = body.get("vip_subnet_id"), body.get("vip_address")
    if subnet_id:
        if network.subnet_on_network(subnet_id, network_id) is None:
            raise errors.InvalidSubresource(resource="Subnet", id=subnet_id)
        return network_id, subnet_id, address
    subnets = [s for s in (network.get_subnet(i) for i in net.get("subnets") or []) if s]
    if address:
        match = [s for s in subnets if _in_subnet(address, s)]
        if not match:
            raise errors.ValidationException(
                detail=f"Unable to find a subnet of network {network_id} for VIP address "
                       f"{address}.")
        return network_id, match[0]["id"], address
    if not subnets:
        raise errors.ValidationException(
            detail=f"Supplied network does not contain a subnet with available IPs: "
                   f"{network_id}")
    free = network.subnet_free_addresses(network_id)
    if free is not None:
        subnets = [s for s in subnets if free.get(s["id"], 0) >= _addresses_needed(conf)]
        if not subnets:
            raise errors.ValidationException(
                detail="Subnet(s) in the supplied network do not contain enough available "
                       "IPs.")
    v4 = [s for s in subnets if s.get("ip_version") == 4]
    return network_id, (v4 or subnets)[0]["id"], None


def _addresses_needed(conf):
    """Addresses a new load balancer takes on its VIP subnet: the VIP and one per amphora."""
    return 3 if conf.controller_worker.loadbalancer_topology == "ACTIVE_STANDBY" else 2


def check_network(conf, network_id, valid_networks=None):
    """400 unless a VIP may go on the network.

    An availability zone's valid_vip_networks, when it lists any, replaces the
    [networking] valid_vip_networks allow-list; the deny-list always applies.
    """
    valid = [n.lower() for n in (valid_networks or conf.networking.valid_vip_networks)]
    if (valid and network_id.lower() not in valid) or \
            network_id in conf.networking.denylist_vip_networks:
        raise errors.ValidationException(
            detail="Supplied VIP network_id is not allowed by the configuration of this "
                   "deployment.")


def check_qos_policy(network, policy_id):
    """400 unless the QoS policy (if any) exists for the caller."""
    if policy_id and network.get_qos_policy(policy_id) is None:
        raise errors.InvalidSubresource(resource="qos_policy", id=policy_id)


def resolve(conf, network, body):
    """Resolve the VIP fields of a create body against the network backend (400 when invalid).

    `network` is the backend as the caller sees it (NetworkBackend.as_caller), so what the
    body names is looked up with the caller's own credentials where the backend has any.

    Whether the network is allowed is check_network's business: it depends on the
    availability zone, looked up later.
    """
    _check_allowed(conf, body)
    config_rules.check(body, addresses=("vip_address",))
    qos_policy_id = body.get("vip_qos_policy_id")
    if body.get("vip_port_id"):
        network_id, subnet_id, address, port_qos = _from_port(network, body)
        if "vip_qos_policy_id" not in body:
            qos_policy_id = port_qos  # the port's own policy, unless the body names one
    elif body.get("vip_network_id"):
        network_id, subnet_id, address = _from_network(conf, network, body)
    else:
        subnet = _subnet_or_400(network, body["vip_subnet_id"])
        network_id, subnet_id, address = subnet["network_id"], subnet["id"], \
            body.get("vip_address")
    if address:
        subnet = network.get_subnet(subnet_id)
        if subnet is not None and not _in_subnet(address, subnet):
            raise errors.ValidationException(
                detail=f"VIP address {address} is not in subnet {subnet_id}.")
    additional = _additional(network, network_id, subnet_id, body.get("additional_vips") or [])
    check_qos_policy(network, qos_policy_id)
    for group_id in body.get("vip_sg_ids") or []:
        if network.get_security_group(group_id) is None:
            raise errors.InvalidSubresource(resource="Security Group", id=group_id)
    return VipRequest(network_id=network_id, subnet_id=subnet_id, address=address,
                      port_id=body.get("vip_port_id"),
                      qos_policy_id=qos_policy_id,
                      sg_ids=list(body.get("vip_sg_ids") or []), additional=additional)


def _additional(network, network_id, primary_subnet, items):
    seen = {primary_subnet}
    result = []
    for item in items:
        subnet = _subnet_or_400(network, item["subnet_id"])
        if subnet["id"] in seen:
            raise errors.ValidationException(
                detail="Duplicate VIP subnet(s) specified. Only one IP can be bound per subnet.")
        seen.add(subnet["id"])
        subnet = network.subnet_on_network(subnet["id"], network_id)
        if subnet is None:
            raise errors.ValidationException(
                detail="All VIP subnets must belong to the same network.")
        address = item.get("ip_address")
        config_rules.check_address("ip_address", address)
        if address and not _in_subnet(address, subnet):
            raise errors.ValidationException(
                detail=f"VIP address {address} is not in subnet {subnet['id']}.")
        result.append({"subnet_id": subnet["id"], "ip_address": address,
                       "port_id": item.get("port_id"), "network_id": network_id})
    return result
