"""Load balancer events: which operation a status report completes, and what it announces.

Octavia announces a load balancer's create, update and delete once each has completed
(`octavia.loadbalancer.<operation>.end`, priority INFO), with the load balancer as octavia-lib
describes it to a provider driver. The API's transaction records the operation
(`expect`); the status report that ends it takes the record in its own transaction
(`complete`), so an operation is announced once however many reports a provider sends, and
a report that ends a listener's or a pool's change (which also holds the load balancer in
PENDING_UPDATE) announces nothing. An operation that ends in ERROR is not announced: Octavia
sends no event for a failed flow.
"""
import dataclasses
import json
import logging

from sqlalchemy import delete, select

from lbaas.core import constants as c
from lbaas.core import models
from lbaas.core import provider_models as pm

LOG = logging.getLogger(__name__)

CREATE, UPDATE, DELETE = "create", "update", "delete"
EVENT_TYPES = {op: f"octavia.loadbalancer.{op}.end" for op in (CREATE, UPDATE, DELETE)}
PRIORITY = "INFO"
# The provisioning status that completes each operation.
COMPLETED_BY = {CREATE: c.ACTIVE, UPDATE: c.ACTIVE, DELETE: c.DELETED}


@dataclasses.dataclass(frozen=True)
class Event:
    """One notification to send: its event type, payload and the project it concerns."""

    event_type: str
    payload: dict
    project_id: str | None


def expect(session, loadbalancer_id, operation):
    """Record, in the caller's transaction, that an operation on the load balancer began."""
    if operation not in EVENT_TYPES:
        raise ValueError(f"unknown load balancer operation {operation!r}")
    row = None
    if operation != CREATE:   # a new load balancer has no record yet: no query
        row = session.get(models.LoadBalancerEvent, loadbalancer_id)
    if row is None:
        session.add(models.LoadBalancerEvent(loadbalancer_id=loadbalancer_id,
                                             operation=operation))
    else:  # left by an operation that never reported its end (a reset database, a bug)
        row.operation = operation
        row.created_at = models.utcnow()


def complete(session, loadbalancer_id, provisioning_status):
    """The Event a reported status completes, or None; takes the record (once) when final."""
    if provisioning_status not in (c.ACTIVE, c.DELETED, c.ERROR):
        return None
    table = models.LoadBalancerEvent
    operation = session.scalar(select(table.operation).where(
        table.loadbalancer_id == loadbalancer_id))
    if operation is None:
        return None
    taken = session.execute(
        delete(table).where(table.loadbalancer_id == loadbalancer_id,
                            table.operation == operation)
        .execution_options(synchronize_session=False))
    if taken.rowcount != 1:   # another report of the same end took it first
        return None
    if COMPLETED_BY.get(operation) != provisioning_status:
        LOG.info("load balancer %s: %s ended %s; no event is sent", loadbalancer_id,
                 operation, provisioning_status)
        return None
    lb = session.get(models.LoadBalancer, loadbalancer_id)
    if lb is None:
        return None
    return Event(EVENT_TYPES[operation], payload(session, lb), lb.project_id)


def payload(session, lb):
    """Octavia's payload: the load balancer as octavia-lib's LoadBalancer.to_dict() gives it.

    That is the provider view without lists (listeners, pools, additional_vips and
    vip_sg_ids are left out, as in Octavia): loadbalancer_id, project_id, name,
    description, admin_state_up, the vip_* fields, availability_zone (its name) and, when
    the load balancer has a flavor, flavor (the flavor profile's metadata).
    """
    flavor = _flavor_metadata(session, lb.flavor_id) if lb.flavor_id else None
    return pm.loadbalancer(lb, flavor=flavor).to_dict()


def _flavor_metadata(session, flavor_id):
    """The metadata of a flavor's profile; {} when the flavor or its JSON is gone or bad."""
    raw = session.scalar(
        select(models.FlavorProfile.flavor_data)
        .join(models.Flavor, models.Flavor.flavor_profile_id == models.FlavorProfile.id)
        .where(models.Flavor.id == flavor_id))
    try:
        data = json.loads(raw) if raw else {}
    except (TypeError, ValueError, RecursionError):
        data = {}
    return data if isinstance(data, dict) else {}
