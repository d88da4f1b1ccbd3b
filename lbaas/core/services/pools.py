"""Pools: create, read, update, delete; and the lock member and monitor changes take."""
from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, errors, listing, models
from lbaas.core import provider_models as pm
from lbaas.core.services import common, pool_rules as rules
from lbaas.core.services import quota_usage

FIELDS = ("id", "name", "description", "admin_state_up", "project_id", "provisioning_status",
          "operating_status", "protocol", "lb_algorithm", "loadbalancer_id", "tls_enabled",
          "tls_container_ref", "ca_tls_container_ref", "crl_container_ref", "tls_ciphers",
          "created_at", "updated_at")
RBAC = "pool"
# What the pool views and provider objects read after the session closes.
LOAD = (selectinload(models.Pool.listeners), selectinload(models.Pool.members),
        selectinload(models.Pool.healthmonitor))


def prepare(conf, session, lb, body, listener=None, ctx=None):
    """Validate a pool body against its load balancer (and listener), certificate references
    read with ctx's credentials; returns the row's values."""
    protocol = body["protocol"]
    if listener is not None:
        if listener.loadbalancer_id != lb.id:
            raise errors.NotFound(resource="Listener", id=listener.id)
        rules.check_listener(listener, protocol)
    values = rules.values_for_create(conf, body)
    rules.check_persistence(protocol, values["session_persistence"])
    rules.check_tls_create(conf, values, ctx)
    return values


def insert(session, lb, body, values):
    """Add a validated pool to a load balancer, PENDING_CREATE and OFFLINE."""
    row = models.Pool(id=models.new_id(), loadbalancer_id=lb.id, project_id=lb.project_id,
                      provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE,
                      **values)
    row.set_tags(body.get("tags") or [])
    session.add(row)
    session.flush()
    return row


def lock_for_child(session, pool):
    """Hold an ACTIVE pool, its listeners and its load balancer for a member or monitor change."""
    common.require_active(pool)
    common.lock_loadbalancer(session, pool.load_balancer)
    common.mark(common.pool_listeners(session, pool.id) + [pool], c.PENDING_UPDATE)


def _check_unused_by_policies(session, pool):
    """409 while an L7 policy redirects to the pool."""
    policy_id = session.scalars(select(models.L7Policy.id).where(
        models.L7Policy.redirect_pool_id == pool.id).order_by(models.L7Policy.created_at)
        .limit(1)).first()
    if policy_id is not None:
        raise errors.PoolInUseByL7Policy(id=pool.id, l7policy_id=policy_id)


def _parents(session, body):
    """The load balancer (held) and the listener (optional) a new pool belongs to."""
    lb_id, listener_id = body.get("loadbalancer_id"), body.get("listener_id")
    if not lb_id and not listener_id:
        raise errors.ValidationException(
            detail="Must provide at least one of: loadbalancer_id, listener_id")
    if lb_id:
        common.hold(session, models.LoadBalancer, lb_id)
    else:
        common.hold(session, models.Listener, listener_id)
    listener = common.get_or_404(session, models.Listener, listener_id) if listener_id else None
    lb = common.get_or_404(session, models.LoadBalancer, lb_id or listener.loadbalancer_id)
    return lb, listener


class PoolService:
    """Every rule of the pool resource."""

    def __init__(self, core):
        self.core = core

    def get(self, ctx, pool_id):
        """One pool (404 if absent)."""
        with self.core.db.read() as session:
            row = common.get_or_404(session, models.Pool, pool_id, LOAD)
        self.core.policy.authorize(ctx, RBAC, "get_one", row.project_id)
        return row

    def list(self, ctx, options):
        """A page of pools matching the list options."""
        options = self.core.policy.scope_list(ctx, RBAC, options)
        stmt = select(models.Pool).options(*LOAD)
        with self.core.db.read() as session:
            return listing.fetch_page(session, stmt, models.Pool, options,
                                      common.columns(models.Pool, FIELDS))

    def create(self, ctx, body):
        """Add a pool to an ACTIVE load balancer, as a listener's default pool if one is named."""
        core = self.core
        with core.db.write() as session:
            lb, listener = _parents(session, body)
            core.policy.authorize(ctx, RBAC, "post", lb.project_id)
            values = prepare(core.conf, session, lb, body, listener, ctx)
            driver = core.drivers.get(lb.provider)
            if listener is not None and listener.default_pool_id:
                raise errors.DuplicatePoolEntry()
            quota_usage.reserve(core.conf, session, lb.project_id, {"pool": 1})
            common.lock_loadbalancer(session, lb)
            row = insert(session, lb, body, values)
            if listener is not None:
                listener.provisioning_status = c.PENDING_UPDATE
                listener.default_pool_id = row.id
                session.flush()
            drivers.call(driver, "pool_create", pm.pool(row))
            return common.snapshot(session, models.Pool, row.id, LOAD)

    def update(self, ctx, pool_id, body):
        """Change a pool; its load balancer must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Pool, pool_id)
            row = common.get_or_404(session, models.Pool, pool_id, LOAD)
            core.policy.authorize(ctx, RBAC, "put", row.project_id)
            changes = rules.changes_for_update(core.conf, row, body, ctx)
            driver = core.drivers.get(row.load_balancer.provider)
            old = pm.pool(row)
            common.lock_loadbalancer(session, row.load_balancer)
            common.mark(list(row.listeners) + [row], c.PENDING_UPDATE)
            new = pm.partial(dm.Pool, "pool_id", row.id, changes)
            drivers.call(driver, "pool_update", old, new)
            common.apply_changes(row, changes, body.get("tags"))
            return common.snapshot(session, models.Pool, row.id, LOAD)

    def delete(self, ctx, pool_id):
        """Remove a pool with its members and monitor; its load balancer must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Pool, pool_id)
            row = common.get_or_404(session, models.Pool, pool_id, LOAD)
            core.policy.authorize(ctx, RBAC, "delete", row.project_id)
            _check_unused_by_policies(session, row)
            driver = core.drivers.get(row.load_balancer.provider)
            full = pm.pool(row)
            common.lock_loadbalancer(session, row.load_balancer)
            common.mark(row.listeners, c.PENDING_UPDATE)
            row.provisioning_status = c.PENDING_DELETE
            drivers.call(driver, "pool_delete", full)
