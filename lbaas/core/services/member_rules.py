"""The member's field rules, and how a batch request matches a pool's stored members."""
import dataclasses
import ipaddress

from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.services import common

UPDATABLE = ("name", "admin_state_up", "weight", "backup", "monitor_address", "monitor_port")
# What an omitted field on create, or an explicit null on update, becomes.
DEFAULTS = {"weight": 1, "backup": False, "admin_state_up": True}
# Fields a batch item overwrites on a matched member only when it carries them.
BATCH_OPTIONAL = ("name", "subnet_id")


def base_values(body):
    """A member's column values from a create body, with defaults; addresses as sent."""
    monitor = body.get("monitor_address")
    return {
        "name": body.get("name"), "address": common.checked_ip(body["address"], "address"),
        "protocol_port": body["protocol_port"],
        "admin_state_up": bool(body.get("admin_state_up", True)),
        "weight": common.default(body.get("weight"), DEFAULTS["weight"]),
        "backup": bool(body.get("backup")), "subnet_id": body.get("subnet_id"),
        "monitor_address": common.checked_ip(monitor, "monitor_address") if monitor else None,
        "monitor_port": body.get("monitor_port"), "vnic_type": c.VNIC_NORMAL,
    }


def check_address(conf, address):
    """400 for an address the operator reserved (e.g. the metadata service)."""
    reserved = {ipaddress.ip_address(common.checked_ip(ip, "reserved_ips"))
                for ip in conf.networking.reserved_ips}
    if ipaddress.ip_address(address) in reserved:
        raise errors.InvalidOption(value=address, option="member address")


def check_subnet(network, subnet_id, known=None):
    """400 unless the subnet exists (when one is named); `known` caches subnets seen to exist."""
    if not subnet_id or (known is not None and subnet_id in known):
        return
    if network.get_subnet(subnet_id) is None:
        raise errors.InvalidSubresource(resource="Subnet", id=subnet_id)
    if known is not None:
        known.add(subnet_id)


def check_sriov(body):
    """400 for SR-IOV members: no flavor allows them in this version."""
    if body.get("request_sriov"):
        raise errors.MemberSRIOVDisabled()


def changes_for_update(body):
    """The column changes of a member update body, nulls replaced by defaults."""
    changes = {}
    for key in UPDATABLE:
        if key in body:
            value = body[key]
            changes[key] = (False if key == "admin_state_up" else DEFAULTS.get(key)) \
                if value is None else value
    for key in ("admin_state_up", "backup"):
        if key in changes:
            changes[key] = bool(changes[key])
    if changes.get("monitor_address"):
        changes["monitor_address"] = common.checked_ip(changes["monitor_address"],
                                                         "monitor_address")
    return changes


def batch_changes(body, values):
    """What a batch item writes over the member it matches: defaults apply, except to names."""
    changes = {k: values[k] for k in UPDATABLE if k != "name"}
    changes.update({k: values[k] for k in BATCH_OPTIONAL if k in body})
    return changes


@dataclasses.dataclass
class BatchPlan:
    """A batch request matched against the stored members of a pool."""

    new: list        # (body, values) of members to create
    updated: list    # (row, body, values) of stored members to overwrite
    untouched: list  # stored members the request does not name

    def empty(self, additive_only):
        """True when the request would create, update and delete nothing."""
        return not (self.new or self.updated or (self.untouched and not additive_only))


def plan_batch(conf, network, stored, items):
    """Match batch items to stored members by (address, protocol_port); 400 on a bad item."""
    by_key = {(m.address, m.protocol_port): m for m in stored}
    seen, subnets = set(), set()
    plan = BatchPlan([], [], [])
    for body in items:
        values = base_values(body)
        key = (values["address"], values["protocol_port"])
        if key in seen:
            raise errors.ValidationException(
                detail="Member must be updated only once in the same request.")
        seen.add(key)
        check_subnet(network, values["subnet_id"], subnets)
        check_sriov(body)
        if key in by_key:
            plan.updated.append((by_key[key], body, values))
        else:
            check_address(conf, values["address"])
            plan.new.append((body, values))
    plan.untouched = [m for k, m in by_key.items() if k not in seen]
    return plan
