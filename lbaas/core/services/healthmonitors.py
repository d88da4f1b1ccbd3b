"""Health monitors: create, read, update, delete; at most one per pool."""
from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, errors, listing, models
from lbaas.core import provider_models as pm
from lbaas.core.services import common, healthmonitor_rules as rules, pools
from lbaas.core.services import quota_usage

FIELDS = ("id", "name", "admin_state_up", "project_id", "provisioning_status",
          "operating_status", "type", "delay", "timeout", "max_retries", "max_retries_down",
          "http_method", "url_path", "expected_codes", "http_version", "domain_name", "pool_id",
          "created_at", "updated_at")
RBAC = "healthmonitor"


def prepare(conf, pool, body):
    """Validate a health monitor body for a pool; returns the new row's values."""
    values = rules.values_for_create(body)
    rules.check(conf, values["type"], pool.protocol, values)
    return values


def insert(session, pool, body, values):
    """Add a validated monitor to a pool, PENDING_CREATE, unless it has one already (409)."""
    taken = session.scalar(select(models.HealthMonitor.id).where(
        models.HealthMonitor.pool_id == pool.id))
    if taken is not None:
        raise errors.DuplicateHealthMonitor()
    row = models.HealthMonitor(
        id=models.new_id(), pool_id=pool.id, project_id=pool.project_id,
        provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE, **values)
    row.set_tags(body.get("tags") or [])
    session.add(row)
    common.flush_or_conflict(session, errors.DuplicateHealthMonitor())
    return row


def _load():
    return (selectinload(models.HealthMonitor.pool).selectinload(models.Pool.load_balancer),)


class HealthMonitorService:
    """Every rule of the health monitor resource."""

    def __init__(self, core):
        self.core = core

    def get(self, ctx, hm_id):
        """One health monitor (404 if absent)."""
        with self.core.db.read() as session:
            row = common.get_or_404(session, models.HealthMonitor, hm_id)
        self.core.policy.authorize(ctx, RBAC, "get_one", row.project_id)
        return row

    def list(self, ctx, options):
        """A page of health monitors matching the list options."""
        options = self.core.policy.scope_list(ctx, RBAC, options)
        stmt = select(models.HealthMonitor)
        with self.core.db.read() as session:
            return listing.fetch_page(session, stmt, models.HealthMonitor, options,
                                      common.columns(models.HealthMonitor, FIELDS))

    def create(self, ctx, body):
        """Add a health monitor to an ACTIVE pool."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Pool, body["pool_id"])
            pool = common.get_or_404(session, models.Pool, body["pool_id"],
                                     (selectinload(models.Pool.load_balancer),))
            core.policy.authorize(ctx, RBAC, "post", pool.load_balancer.project_id)
            values = prepare(core.conf, pool, body)
            driver = core.drivers.get(pool.load_balancer.provider)
            quota_usage.reserve(core.conf, session, pool.load_balancer.project_id,
                                {"healthmonitor": 1})
            pools.lock_for_child(session, pool)
            row = insert(session, pool, body, values)
            drivers.call(driver, "health_monitor_create", pm.healthmonitor(row))
            return common.snapshot(session, models.HealthMonitor, row.id)

    def update(self, ctx, hm_id, body):
        """Change a health monitor; its pool must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.HealthMonitor, hm_id)
            row = common.get_or_404(session, models.HealthMonitor, hm_id, _load())
            core.policy.authorize(ctx, RBAC, "put", row.project_id)
            changes = rules.changes_for_update(core.conf, row, body)
            driver = core.drivers.get(row.pool.load_balancer.provider)
            old = pm.healthmonitor(row)
            pools.lock_for_child(session, row.pool)
            row.provisioning_status = c.PENDING_UPDATE
            new = pm.partial(dm.HealthMonitor, "healthmonitor_id", row.id, changes)
            drivers.call(driver, "health_monitor_update", old, new)
            common.apply_changes(row, changes, body.get("tags"))
            return common.snapshot(session, models.HealthMonitor, row.id)

    def delete(self, ctx, hm_id):
        """Remove a health monitor; its pool must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.HealthMonitor, hm_id)
            row = common.get_or_404(session, models.HealthMonitor, hm_id, _load())
            core.policy.authorize(ctx, RBAC, "delete", row.project_id)
            driver = core.drivers.get(row.pool.load_balancer.provider)
            pools.lock_for_child(session, row.pool)
            row.provisioning_status = c.PENDING_DELETE
            drivers.call(driver, "health_monitor_delete", pm.healthmonitor(row))
