"""Quota enforcement: may a project add these objects? Counted in the creating transaction.

Usage is not stored as counters that can drift: it is the number of the project's live
rows, counted after taking a row lock on the project's quota record. Two creates of one
project therefore serialise on that lock (PostgreSQL and MySQL: SELECT ... FOR UPDATE, a
lock on one row, at READ COMMITTED; SQLite: every writer already holds the database lock),
and the second counts what the first committed, so 16 concurrent creates against a limit of 10 leave exactly 10. Usage is
released the moment the driver reports an object DELETED (the row goes, or a load
balancer's status becomes DELETED).
"""
from sqlalchemy import func, select
from sqlalchemy.dialects import mysql, postgresql, sqlite

from lbaas.core import constants as c
from lbaas.core import errors, models

# Each quota resource: the model counted and the name the 403 uses.
COUNTED = {
    "loadbalancer": (models.LoadBalancer, "Load Balancer"),
    "listener": (models.Listener, "Listener"),
    "pool": (models.Pool, "Pool"),
    "healthmonitor": (models.HealthMonitor, "Health Monitor"),
    "member": (models.Member, "Member"),
    "l7policy": (models.L7Policy, "L7Policy"),
    "l7rule": (models.L7Rule, "L7Rule"),
}

# The [quotas] option holding each resource's default.
DEFAULT_OPTION = {
    "loadbalancer": "default_load_balancer_quota",
    "listener": "default_listener_quota",
    "pool": "default_pool_quota",
    "healthmonitor": "default_health_monitor_quota",
    "member": "default_member_quota",
    "l7policy": "default_l7policy_quota",
    "l7rule": "default_l7rule_quota",
}


def defaults(conf):
    """The configured default limit of every resource."""
    return {r: getattr(conf.quotas, opt) for r, opt in DEFAULT_OPTION.items()}


def effective(conf, record):
    """A project's limits: its quota record's values, the defaults where it has none."""
    limits = defaults(conf)
    if record is not None:
        for resource in c.QUOTA_RESOURCES:
            value = getattr(record, resource)
            if value is not None:
                limits[resource] = value
    return limits


def enforced(conf):
    """Whether creates are checked against quotas (never under noauth, unless configured)."""
    return conf.api_settings.auth_strategy != "noauth" or conf.quotas.enforce_with_noauth


def _insert_if_missing(dialect_name, project_id):
    """INSERT of an empty quota record that does nothing if the project has one."""
    if dialect_name == "mysql":
        stmt = mysql.insert(models.Quota).values(project_id=project_id)
        return stmt.on_duplicate_key_update(project_id=stmt.inserted.project_id)
    insert = postgresql.insert if dialect_name == "postgresql" else sqlite.insert
    return insert(models.Quota).values(project_id=project_id) \
        .on_conflict_do_nothing(index_elements=["project_id"])


def lock_record(session, project_id):
    """The project's quota record, created empty if missing, row-locked until commit."""
    session.execute(_insert_if_missing(session.bind.dialect.name, project_id))
    return session.scalars(select(models.Quota).where(models.Quota.project_id == project_id)
                           .with_for_update().execution_options(populate_existing=True)).one()


def in_use(session, project_id, resource):
    """How many live objects of a resource the project has."""
    model, _ = COUNTED[resource]
    stmt = select(func.count()).select_from(model).where(model.project_id == project_id)
    if model is models.LoadBalancer:
        stmt = stmt.where(model.provisioning_status != c.DELETED)
    return session.scalar(stmt)


def reserve(conf, session, project_id, counts):
    """403 unless the project may add counts[resource] more of each resource.

    Call inside the create's write transaction, before inserting the new rows (lock order:
    the load balancer common.hold took, then the quota record). Counts of
    zero or less (a batch that removes as many members as it adds) need no check. Like
    Octavia, the 403 names one resource: the first over its limit in the order of counts.
    """
    wanted = {r: n for r, n in counts.items() if n > 0}
    if not wanted or not project_id or not enforced(conf):
        return
    limits = effective(conf, lock_record(session, project_id))
    for resource, count in wanted.items():
        limit = limits[resource]
        if limit != c.UNLIMITED and in_use(session, project_id, resource) + count > limit:
            raise errors.QuotaException(resource=COUNTED[resource][1])
