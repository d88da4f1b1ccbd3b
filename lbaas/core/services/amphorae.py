"""Amphorae (admin): list, show, delete, failover, agent config push and per-listener stats.

Amphora failover, config and delete are not part of octavia-lib's provider contract.
lbaas calls them as an optional extension of provider drivers (docs/driver-authors.md):
`amphora_failover(amphora_id)`, `amphora_config(amphora_id)`, `amphora_delete(amphora_id)`,
on the driver of the amphora's load balancer; a spare amphora (no load balancer) goes to
the first enabled driver that implements the hook. A driver without the hook answers 501.
"""
import dataclasses

from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, errors, listing, models
from lbaas.core.services import common

FIELDS = ("id", "loadbalancer_id", "compute_id", "lb_network_ip", "vrrp_ip", "ha_ip",
          "vrrp_port_id", "ha_port_id", "cert_expiration", "cert_busy", "role", "status",
          "vrrp_interface", "vrrp_id", "vrrp_priority", "cached_zone", "created_at",
          "updated_at", "image_id", "compute_flavor")
NOT_IMPLEMENTED = "This feature is not implemented by the provider."
# An amphora's project is its load balancer's: filtered through a subquery, not a column.
PROJECT_FILTER = "project_id"
LOAD = (selectinload(models.Amphora.load_balancer),)
RBAC = "amphora"


def _amphora_options(options):
    """The list options with project_id taken out (returned apart)."""
    filters = dict(options.filters)
    projects = filters.pop(PROJECT_FILTER, None)
    return dataclasses.replace(options, filters=filters), projects


def _hooked_driver(core, lb, hook):
    """The driver that answers an amphora hook, or a 501 naming the provider that lacks it."""
    if lb is not None:
        driver = core.drivers.get(lb.provider)
        if getattr(driver, hook, None) is None:
            raise errors.ProviderNotImplementedError(
                f"provider driver has no {hook}", prov=driver.name,
                user_msg=NOT_IMPLEMENTED)
        return driver
    for name in core.drivers.available():
        driver = core.drivers.get(name)
        if getattr(driver, hook, None) is not None:
            return driver
    raise errors.ProviderNotImplementedError(
        f"no enabled provider driver has {hook}", prov=core.drivers.default,
        user_msg=NOT_IMPLEMENTED)


class AmphoraService:
    """Every rule of the admin amphora resource."""

    def __init__(self, core):
        self.core = core

    def get(self, ctx, amphora_id):
        """One amphora (404 if absent or DELETED)."""
        with self.core.db.read() as session:
            row = common.get_or_404(session, models.Amphora, amphora_id)
        self.core.policy.authorize_own(ctx, RBAC, "get_one")
        return row

    def list(self, ctx, options):
        """A page of live amphorae matching the list options (project_id via the load balancer)."""
        self.core.policy.authorize_own(ctx, RBAC, "get_all")
        options, projects = _amphora_options(options)
        stmt = select(models.Amphora).where(models.Amphora.status != c.DELETED)
        if projects:
            stmt = stmt.where(models.Amphora.loadbalancer_id.in_(
                select(models.LoadBalancer.id).where(
                    models.LoadBalancer.project_id.in_(projects))))
        with self.core.db.read() as session:
            return listing.fetch_page(session, stmt, models.Amphora, options,
                                      common.columns(models.Amphora, FIELDS))

    def delete(self, ctx, amphora_id):
        """Tear down an amphora in ERROR: PENDING_DELETE, then the provider deletes it."""
        core = self.core
        core.policy.authorize_own(ctx, RBAC, "delete")
        with core.db.write() as session:
            amp = common.get_or_404(session, models.Amphora, amphora_id, LOAD)
            driver = _hooked_driver(core, amp.load_balancer, "amphora_delete")
            result = session.execute(
                update(models.Amphora)
                .where(models.Amphora.id == amp.id, models.Amphora.status == c.ERROR)
                .values(status=c.PENDING_DELETE, updated_at=models.utcnow())
                .execution_options(synchronize_session=False))
            if result.rowcount != 1:
                raise errors.ImmutableObject(resource="amphora", id=amp.id)
            drivers.call(driver, "amphora_delete", amp.id)

    def failover(self, ctx, amphora_id):
        """Replace an amphora; its load balancer must be ACTIVE and is held PENDING_UPDATE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Amphora, amphora_id)
            amp = common.get_or_404(session, models.Amphora, amphora_id, LOAD)
            lb = amp.load_balancer
            core.policy.authorize(ctx, RBAC, "put_failover",
                                  lb.project_id if lb is not None else ctx.project_id)
            driver = _hooked_driver(core, lb, "amphora_failover")
            if lb is not None:
                common.lock_loadbalancer(session, lb)
            drivers.call(driver, "amphora_failover", amp.id)

    def config(self, ctx, amphora_id):
        """Push the controller's current agent configuration to an amphora (no lock)."""
        core = self.core
        with core.db.read() as session:
            amp = common.get_or_404(session, models.Amphora, amphora_id, LOAD)
            lb = amp.load_balancer
        core.policy.authorize_own(ctx, RBAC, "put_config")
        driver = _hooked_driver(core, lb, "amphora_config")
        drivers.call(driver, "amphora_config", amp.id)

    def stats(self, ctx, amphora_id):
        """The amphora's counters, one entry per listener it serves (404 when none)."""
        self.core.policy.authorize_own(ctx, RBAC, "get_stats")
        s, amp = models.ListenerStatistics, models.Amphora
        stmt = (select(amp.id, amp.loadbalancer_id, s.listener_id,
                       *[getattr(s, f) for f in c.STAT_FIELDS])
                .join(amp, amp.id == s.amphora_id)
                .where(s.amphora_id == amphora_id, amp.status != c.DELETED)
                .order_by(s.listener_id))
        with self.core.db.read() as session:
            rows = session.execute(stmt).all() if amphora_id else []
        if not rows:
            raise errors.NotFound(resource="Amphora stats for", id=amphora_id)
        return [{"id": r.id, "loadbalancer_id": r.loadbalancer_id, "listener_id": r.listener_id,
                 "active_connections": r.active_connections, "bytes_in": r.bytes_in,
                 "bytes_out": r.bytes_out, "request_errors": r.request_errors,
                 "total_connections": r.total_connections} for r in rows]
