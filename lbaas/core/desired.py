"""A load balancer's desired state, read from the database for one reconcile.

Built here, in core, for reconciling in-tree drivers (DriverContext.desired): the
octavia-lib model of the whole load balancer, without the objects being deleted, and the
essentials a reconcile needs beside it. Drivers never see the rows it is read from.
"""
import dataclasses
import json

from lbaas.core import constants as c
from lbaas.core import models, provider_models

GONE = (c.PENDING_DELETE, c.DELETED)


@dataclasses.dataclass
class Desired:
    """What one reconcile works from: the row's essentials and the model to render."""

    loadbalancer_id: str
    provisioning_status: str
    provider: str
    vip_address: str | None
    vip_subnet_id: str | None
    model: object                     # octavia-lib LoadBalancer without objects being deleted
    member_subnets: set
    topology: str = "SINGLE"          # or ACTIVE_STANDBY
    vip_port_id: str | None = None
    zone: dict = dataclasses.field(default_factory=dict)     # its availability zone's metadata
    flavor: dict = dataclasses.field(default_factory=dict)   # its flavor's metadata


def _kept(rows):
    return [r for r in rows if r.provisioning_status not in GONE]


def load(session, loadbalancer_id):
    """The Desired state of a load balancer, or None when it no longer exists."""
    lb = session.get(models.LoadBalancer, loadbalancer_id)
    if lb is None or lb.provisioning_status == c.DELETED:
        return None
    model = provider_models.loadbalancer(lb, graph=True)
    listeners = {li.id: li for li in _kept(lb.listeners)}
    pools = {p.id: p for p in _kept(lb.pools)}
    model.listeners = [provider_models.listener(li, with_default_pool=li.default_pool_id in pools)
                       for li in listeners.values()]
    for lm in model.listeners:
        if lm.default_pool_id not in pools:
            lm.default_pool_id = None
        lm.l7policies = [p for p in lm.l7policies if _alive(session, models.L7Policy, p.l7policy_id)]
        for policy in lm.l7policies:
            policy.rules = [r for r in policy.rules if _alive(session, models.L7Rule, r.l7rule_id)]
            if policy.redirect_pool_id and policy.redirect_pool_id not in pools:
                policy.redirect_pool_id = None
    model.pools = [provider_models.pool(p) for p in pools.values()]
    subnets = set()
    for pm, row in zip(model.pools, pools.values()):
        alive = {m.id for m in _kept(row.members)}
        pm.members = [m for m in pm.members if m.member_id in alive]
        subnets.update(m.subnet_id for m in pm.members if m.subnet_id)
        if row.healthmonitor is not None and row.healthmonitor.provisioning_status in GONE:
            pm.healthmonitor = None
    for lm in model.listeners:   # the default pool copies must match the pruned pools
        if lm.default_pool_id:
            lm.default_pool = next(p for p in model.pools if p.pool_id == lm.default_pool_id)
    return Desired(lb.id, lb.provisioning_status, lb.provider, lb.vip_address, lb.vip_subnet_id,
                   model, subnets, lb.topology or "SINGLE", lb.vip_port_id,
                   _zone(session, lb.availability_zone), _flavor(session, lb.flavor_id))


def _metadata(raw):
    """A profile's JSON metadata as a dict; {} when missing or bad."""
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError, RecursionError):
        data = {}
    return data if isinstance(data, dict) else {}


def _zone(session, name):
    """The metadata of an availability zone's profile; {} without one."""
    row = session.get(models.AvailabilityZone, name) if name else None
    return _metadata(row.availability_zone_profile.availability_zone_data) if row else {}


def _flavor(session, flavor_id):
    """The metadata of a flavor's profile; {} without one."""
    row = session.get(models.Flavor, flavor_id) if flavor_id else None
    return _metadata(row.flavor_profile.flavor_data) if row else {}


def _alive(session, model, object_id):
    row = session.get(model, object_id)
    return row is not None and row.provisioning_status not in GONE
