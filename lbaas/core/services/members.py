"""Members of a pool: create, read, update, delete, and the declarative batch update."""
from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, errors, listing, models
from lbaas.core import provider_models as pm
from lbaas.core.services import common, member_rules as rules, pools
from lbaas.core.services import quota_usage

FIELDS = ("id", "name", "admin_state_up", "project_id", "provisioning_status",
          "operating_status", "address", "protocol_port", "weight", "backup", "subnet_id",
          "monitor_address", "monitor_port", "vnic_type", "created_at", "updated_at")
# Filterable and sortable, though not in the body: the parent's id (openstacksdk sends it).
FILTERS = FIELDS + ("pool_id",)
RBAC = "member"


def prepare(conf, network, pool, body, known_subnets=None):
    """Validate a member body for a pool; returns the new row's values (known_subnets:
    subnets this request already found, rules.check_subnet's cache)."""
    values = rules.base_values(body)
    rules.check_address(conf, values["address"])
    rules.check_subnet(network, values["subnet_id"], known_subnets)
    rules.check_sriov(body)
    return values


def _monitored(session, pool):
    return session.scalar(select(models.HealthMonitor.id).where(
        models.HealthMonitor.pool_id == pool.id)) is not None


def _duplicate(values):
    return errors.DuplicateMemberEntry(ip_address=values["address"],
                                       port=values["protocol_port"])


def insert_many(session, pool, entries):
    """Add validated members ((body, values) pairs) to a pool, PENDING_CREATE, in one flush.

    A repeated address and port among the entries, or one the pool already holds (caught by
    the unique constraint, not looked up first), is a 409 naming it.
    """
    status = c.OFFLINE if _monitored(session, pool) else c.NO_MONITOR
    rows, seen = [], set()
    for body, values in entries:
        key = (values["address"], values["protocol_port"])
        if key in seen:
            raise _duplicate(values)
        seen.add(key)
        row = models.Member(id=models.new_id(), pool_id=pool.id, project_id=pool.project_id,
                            provisioning_status=c.PENDING_CREATE, operating_status=status,
                            **values)
        row.set_tags(body.get("tags") or [])
        rows.append(row)
    session.add_all(rows)
    _flush_new(session, pool, [values for _, values in entries])
    return rows


def _flush_new(session, pool, new_values):
    """Flush the new members; a unique-constraint violation is a 409 naming the taken one."""
    if len(new_values) == 1:
        common.flush_or_conflict(session, _duplicate(new_values[0]))
        return
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        with session.no_autoflush:
            taken = set(session.execute(select(
                models.Member.address, models.Member.protocol_port).where(
                models.Member.pool_id == pool.id)).tuples())
        for values in new_values:
            if (values["address"], values["protocol_port"]) in taken:
                raise _duplicate(values) from None
        raise


def _pool_load():
    return (selectinload(models.Pool.load_balancer),)


class MemberService:
    """Every rule of the member resource."""

    def __init__(self, core):
        self.core = core

    def _pool(self, session, pool_id):
        return common.get_or_404(session, models.Pool, pool_id, _pool_load())

    def _held_pool(self, session, pool_id):
        """The pool, read once its load balancer is held for a write."""
        common.hold(session, models.Pool, pool_id)
        return self._pool(session, pool_id)

    def _held_member(self, session, pool_id, member_id):
        """The pool and its member, read once their load balancer is held for a write."""
        common.hold(session, models.Pool, pool_id)
        return self._member(session, pool_id, member_id)

    def _member(self, session, pool_id, member_id):
        pool = self._pool(session, pool_id)
        return pool, common.child_or_404(session, models.Member, member_id, "pool_id", pool.id)

    def get(self, ctx, pool_id, member_id):
        """One member of a pool (404 for an unknown pool, or a member of another pool)."""
        with self.core.db.read() as session:
            row = self._member(session, pool_id, member_id)[1]
        self.core.policy.authorize(ctx, RBAC, "get_one", row.project_id)
        return row

    def list(self, ctx, pool_id, options):
        """A page of the pool's members matching the list options."""
        with self.core.db.read() as session:
            pool = self._pool(session, pool_id)
            self.core.policy.authorize(ctx, RBAC, "get_all", pool.project_id)
            stmt = select(models.Member).where(models.Member.pool_id == pool_id)
            return listing.fetch_page(session, stmt, models.Member, options,
                                      common.columns(models.Member, FILTERS))

    def create(self, ctx, pool_id, body):
        """Add a member to an ACTIVE pool."""
        core = self.core
        with core.db.write() as session:
            pool = self._held_pool(session, pool_id)
            core.policy.authorize(ctx, RBAC, "post", pool.load_balancer.project_id)
            values = prepare(core.conf, core.network, pool, body)
            driver = core.drivers.get(pool.load_balancer.provider)
            quota_usage.reserve(core.conf, session, pool.load_balancer.project_id, {"member": 1})
            pools.lock_for_child(session, pool)
            row = insert_many(session, pool, [(body, values)])[0]
            drivers.call(driver, "member_create", pm.member(row))
            return common.snapshot(session, models.Member, row.id)

    def update(self, ctx, pool_id, member_id, body):
        """Change a member; its pool must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            pool, row = self._held_member(session, pool_id, member_id)
            core.policy.authorize(ctx, RBAC, "put", row.project_id)
            changes = rules.changes_for_update(body)
            driver = core.drivers.get(pool.load_balancer.provider)
            old = pm.member(row)
            pools.lock_for_child(session, pool)
            row.provisioning_status = c.PENDING_UPDATE
            new = pm.partial(dm.Member, "member_id", row.id, changes)
            drivers.call(driver, "member_update", old, new)
            common.apply_changes(row, changes, body.get("tags"))
            return common.snapshot(session, models.Member, row.id)

    def delete(self, ctx, pool_id, member_id):
        """Remove a member; its pool must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            pool, row = self._held_member(session, pool_id, member_id)
            core.policy.authorize(ctx, RBAC, "delete", row.project_id)
            driver = core.drivers.get(pool.load_balancer.provider)
            pools.lock_for_child(session, pool)
            row.provisioning_status = c.PENDING_DELETE
            drivers.call(driver, "member_delete", pm.member(row))

    def batch_update(self, ctx, pool_id, items, additive_only=False):
        """Make the pool's members those listed (with additive_only: add and update only)."""
        core = self.core
        try:
            with core.db.write() as session:
                pool = self._held_pool(session, pool_id)
                # A batch creates, updates and (unless additive) deletes: each is checked.
                for action in ("post", "put") if additive_only else ("post", "put", "delete"):
                    core.policy.authorize(ctx, RBAC, action, pool.load_balancer.project_id)
                stored = list(session.scalars(select(models.Member).where(
                    models.Member.pool_id == pool.id)))
                plan = rules.plan_batch(core.conf, core.network, stored, items)
                driver = core.drivers.get(pool.load_balancer.provider)
                # Octavia counts what the batch adds net of what it removes.
                added = len(plan.new) - (0 if additive_only else len(plan.untouched))
                quota_usage.reserve(core.conf, session, pool.load_balancer.project_id,
                                    {"member": added})
                pools.lock_for_child(session, pool)
                if plan.empty(additive_only):
                    raise _NothingToDo()
                desired = self._apply(session, pool, plan, additive_only)
                drivers.call(driver, "member_batch_update", pool.id,
                             [pm.member(m) for m in desired])
        except _NothingToDo:
            return

    @staticmethod
    def _apply(session, pool, plan, additive_only):
        """Write a batch plan; returns the members the pool should end up with."""
        for row, body, values in plan.updated:
            for key, value in rules.batch_changes(body, values).items():
                setattr(row, key, value)
            if body.get("tags") is not None:
                row.set_tags(body["tags"])
            row.provisioning_status = c.PENDING_UPDATE
            row.updated_at = models.utcnow()
        kept = []
        if additive_only:
            kept = plan.untouched
        else:
            common.mark(plan.untouched, c.PENDING_DELETE)
        created = insert_many(session, pool, plan.new) if plan.new else []
        session.flush()
        return created + [u[0] for u in plan.updated] + kept


class _NothingToDo(Exception):
    """A batch update that changes nothing: roll back, lock released, driver not called."""
