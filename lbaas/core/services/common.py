"""Helpers every resource service shares: lookups, the compare-and-swap locks, field defaults."""
import ipaddress

from sqlalchemy import and_, case, func, literal, select, update
from sqlalchemy.exc import IntegrityError

from lbaas.core import constants as c
from lbaas.core import drivers, errors, models
from lbaas.core.services import config_rules

HUMAN_NAMES = {
    models.LoadBalancer: "Load Balancer",
    models.Listener: "Listener",
    models.Pool: "Pool",
    models.Member: "Member",
    models.HealthMonitor: "Health Monitor",
    models.L7Policy: "L7Policy",
    models.L7Rule: "L7Rule",
    models.Flavor: "Flavor",
    models.FlavorProfile: "Flavor profile",
    models.AvailabilityZone: "Availability Zone",
    models.AvailabilityZoneProfile: "Availability Zone Profile",
    models.Amphora: "Amphora",
}


def _gone(row):
    """Whether a row is soft-deleted (a load balancer or amphora awaiting purge)."""
    status = getattr(row, "provisioning_status", None) or getattr(row, "status", None)
    return status == c.DELETED


def get_or_404(session, model, object_id, options=(), lock=False):
    """The live object with this id (row-locked until commit with lock=True), or a 404."""
    row = session.get(model, object_id, options=options, with_for_update=lock or None) \
        if object_id else None
    if row is None or _gone(row):
        raise errors.NotFound(resource=HUMAN_NAMES[model], id=object_id)
    return row


def child_or_404(session, model, object_id, parent_column, parent_id):
    """The object with this id if it belongs to the given parent, else a 404 naming it."""
    row = session.get(model, object_id) if object_id else None
    if row is None or getattr(row, parent_column) != parent_id:
        raise errors.NotFound(resource=HUMAN_NAMES[model], id=object_id)
    return row


def snapshot(session, model, object_id, options=()):
    """The object as this transaction leaves it, loaded so it renders after the commit.

    Answers show the state at commit time (PENDING_*), whatever the provider
    reports a moment later.
    """
    session.flush()
    return session.get(model, object_id, options=options, populate_existing=True)


# Filter names clients send that differ from the attribute they mean
# (openstacksdk filters listeners and pools by load_balancer_id).
FILTER_ALIASES = {"load_balancer_id": "loadbalancer_id"}


def columns(model, names):
    """Map API attribute names (and their accepted aliases) to the model's columns."""
    mapping = {n: getattr(model, n) for n in names}
    mapping.update({alias: mapping[name] for alias, name in FILTER_ALIASES.items()
                    if name in mapping})
    return mapping


def _owner(model, object_id):
    """The id of the load balancer an object belongs to, as an SQL expression."""
    lb, listener, pool = models.LoadBalancer, models.Listener, models.Pool
    if model is lb:
        return literal(object_id, lb.id.type)
    if model is models.Listener:
        stmt = select(listener.loadbalancer_id).where(listener.id == object_id)
    elif model is models.Pool:
        stmt = select(pool.loadbalancer_id).where(pool.id == object_id)
    elif model is models.HealthMonitor:
        monitor = models.HealthMonitor
        stmt = select(pool.loadbalancer_id).join(monitor, monitor.pool_id == pool.id) \
            .where(monitor.id == object_id)
    elif model is models.L7Policy:
        policy = models.L7Policy
        stmt = select(listener.loadbalancer_id).join(policy, policy.listener_id == listener.id) \
            .where(policy.id == object_id)
    else:
        stmt = select(models.Amphora.loadbalancer_id).where(models.Amphora.id == object_id)
    return stmt.scalar_subquery()


def hold(session, model, object_id):
    """Hold the load balancer an object belongs to until this transaction ends.

    Call it first in every write to a load balancer's tree: writers of one tree (and the
    provider's status reports, which update the load balancer) then run one after another,
    so what the operation reads next is what it will change. A row read before would be
    stale: a delete and its DELETED report could commit between the read and the lock.
    SQLite needs nothing here: its write transactions already run one at a time.
    """
    if not object_id or session.get_bind().dialect.name == "sqlite":
        return
    lb = models.LoadBalancer
    session.execute(select(lb.id).where(lb.id == _owner(model, object_id))
                    .with_for_update(of=lb))


def lock_loadbalancer(session, lb, allowed=c.MUTABLE_STATUSES, new=c.PENDING_UPDATE,
                      error="immutable"):
    """Move a load balancer to `new` only if its status is in `allowed`, else 409.

    One UPDATE ... WHERE provisioning_status IN (...): zero rows means another
    operation holds the load balancer.
    """
    result = session.execute(
        update(models.LoadBalancer)
        .where(models.LoadBalancer.id == lb.id,
               models.LoadBalancer.provisioning_status.in_(allowed))
        .values(provisioning_status=new, updated_at=models.utcnow())
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.refresh(lb, ["provisioning_status"])
        if error == "immutable":
            raise errors.ImmutableObject(resource="Load Balancer", id=lb.id)
        raise errors.LBPendingStateError(state=lb.provisioning_status, id=lb.id)
    lb.provisioning_status = new
    session.flush()


def require_active(row):
    """409 unless a pool (for members and monitors) is ACTIVE, as the API checks first."""
    if row.provisioning_status != c.ACTIVE:
        raise errors.ImmutableObject(resource=HUMAN_NAMES[type(row)], id=row.id)


def mark(rows, status):
    """Set the provisioning status of parent objects held for a child operation."""
    for row in rows:
        row.provisioning_status = status


def call_driver(core, provider, method, *args):
    """Resolve the provider's driver and call it with the API's error mapping."""
    return drivers.call(core.drivers.get(provider), method, *args)


def flush_or_conflict(session, conflict):
    """Flush, turning a unique-constraint violation into the given 409."""
    try:
        session.flush()
    except IntegrityError as exc:
        raise conflict from exc


def checked_ip(value, attr):
    """A valid IP address, spelled as sent (as upstream keeps it), or a 400 naming the
    attribute."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise errors.InvalidInput(attr=attr, value=value,
                                  reason="Value should be IPv4 or IPv6 format") from None
    config_rules.check_address(attr, value)   # rendered: no IPv6 zone
    return value


def pool_listeners(session, pool_id):
    """The listeners that send traffic to a pool (default pool, or an L7 policy's redirect)."""
    links = models.pool_listener_links()
    return list(session.scalars(select(models.Listener).join(
        links, links.c.listener_id == models.Listener.id).where(links.c.pool_id == pool_id)))


def default(value, fallback):
    """value, or fallback where the caller sent null."""
    return fallback if value is None else value



def sum_statistics(session, *where):
    """Listener counters summed over the statistics rows matching the conditions.

    A listener has one row per reporter (each amphora, or the driver itself). Current
    connections count only from amphorae still ALLOCATED (a failed-over amphora's last
    report is history); rows of drivers without amphorae always count.
    """
    s, amp = models.ListenerStatistics, models.Amphora
    active = case((and_(amp.id.is_not(None), amp.status != "ALLOCATED"), 0),
                  else_=s.active_connections)
    columns = {f: active if f == "active_connections" else getattr(s, f) for f in c.STAT_FIELDS}
    stmt = select(*[func.coalesce(func.sum(columns[f]), 0) for f in c.STAT_FIELDS]) \
        .join(models.Listener, models.Listener.id == s.listener_id) \
        .outerjoin(amp, amp.id == s.amphora_id).where(*where)
    return dict(zip(c.STAT_FIELDS, (int(v) for v in session.execute(stmt).one())))


def apply_changes(row, changes, tags=None):
    """Write an update's field values (and tags, unless None) to the row."""
    for key, value in changes.items():
        setattr(row, key, value)
    if tags is not None:
        row.set_tags(tags)
    row.updated_at = models.utcnow()
