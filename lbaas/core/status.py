"""The status callback: apply a driver's status-update or statistics message to the database."""
import logging

from sqlalchemy import case, or_, select
from sqlalchemy import update as update_stmt

from lbaas.core import constants as c
from lbaas.core import events, models, queries
from lbaas.core.errors import StatusUpdateError
from lbaas.core.network import Vip
from lbaas.core.services import l7policy_positions

LOG = logging.getLogger(__name__)

# Children before parents, so that a load balancer is unlocked last.
ORDER = (
    ("members", models.Member),
    ("healthmonitors", models.HealthMonitor),
    ("pools", models.Pool),
    ("l7rules", models.L7Rule),
    ("l7policies", models.L7Policy),
    ("listeners", models.Listener),
    ("loadbalancers", models.LoadBalancer),
)


def _check(record, collection):
    if not isinstance(record, dict) or not record.get("id"):
        raise StatusUpdateError("every status record needs an id", collection)
    prov = record.get("provisioning_status")
    oper = record.get("operating_status")
    if prov is not None and prov not in c.PROVISIONING_STATUSES:
        raise StatusUpdateError(f"invalid provisioning_status {prov!r}", collection, record["id"])
    if oper is not None and oper not in c.OPERATING_STATUSES:
        raise StatusUpdateError(f"invalid operating_status {oper!r}", collection, record["id"])
    return prov, oper


def _delete_loadbalancer(session, lb, network):
    """Mark the load balancer DELETED, drop its children; returns the VIP release to run later."""
    for child in list(lb.listeners) + list(lb.pools):
        session.delete(child)
    lb.provisioning_status = c.DELETED
    if lb.vip_octavia_owned and network is not None:
        vip = Vip(address=lb.vip_address, network_id=lb.vip_network_id,
                  subnet_id=lb.vip_subnet_id, port_id=lb.vip_port_id)
        return lambda: network.deallocate_vip(lb.id, vip)
    return None


def _group(records, collection):
    """Validate a collection's records; returns {(prov, oper): [ids]} and the DELETED ids."""
    groups, deleted = {}, []
    for record in records:
        prov, oper = _check(record, collection)
        if prov == c.DELETED:
            deleted.append(record["id"])
        elif prov is not None or oper is not None:
            groups.setdefault((prov, oper), []).append(record["id"])
    return groups, deleted


def _set_statuses(session, model, collection, prov, oper, ids):
    """One UPDATE for every record of a group; StatusUpdateError naming the first one missing.

    updated_at moves only on rows whose status changes, as an ORM flush of the same
    assignments did (it writes nothing for an unchanged value).
    """
    values, changed = {}, []
    for name, value in (("provisioning_status", prov), ("operating_status", oper)):
        if value is not None:
            values[name] = value
            changed.append(getattr(model, name) != value)
    # updated_at is assigned first: MySQL evaluates SET assignments left to right, each
    # seeing the values assigned before it, so it would compare the new status with itself.
    stamp = ("updated_at", case((or_(*changed), models.utcnow()), else_=model.updated_at))
    unique = list(dict.fromkeys(ids))
    result = session.execute(
        update_stmt(model).where(queries.id_in(session, model.id, unique))
        .ordered_values(stamp, *values.items())
        .execution_options(synchronize_session=False))
    if result.rowcount != len(unique):
        found = set(session.scalars(select(model.id).where(
            queries.id_in(session, model.id, unique))))
        missing = next(i for i in unique if i not in found)
        raise StatusUpdateError(f"{collection} {missing} not found", collection, missing)


def _delete(session, model, object_id, network, releases):
    """Apply a DELETED record: drop the object (a load balancer is marked DELETED instead).

    A policy's removal renumbers its listener's other policies 1..N.
    """
    row = session.get(model, object_id)
    if row is None:
        return
    if model is models.L7Policy:
        session.delete(row)
        session.flush()
        l7policy_positions.renumber(session, row.listener_id)
    elif model is not models.LoadBalancer:
        session.delete(row)
    elif row.provisioning_status != c.DELETED:
        release = _delete_loadbalancer(session, row, network)
        if release is not None:
            releases.append(release)


def _completed(session, records):
    """The events of the load balancer operations these (already applied) records end."""
    found = []
    for record in records:
        event = events.complete(session, record["id"], record.get("provisioning_status"))
        if event is not None:
            found.append(event)
    return found


def apply_status_update(db, update, network=None):
    """Apply one status-update message atomically; returns the events.Event it completes.

    Raises StatusUpdateError naming the bad record. The events are for the caller to send
    once this has returned, that is once the transaction has committed.
    """
    if not isinstance(update, dict):
        raise StatusUpdateError("a status update must be an object")
    releases = []
    with db.write() as session:
        for collection, model in ORDER:
            groups, deleted = _group(update.get(collection) or (), collection)
            for (prov, oper), ids in groups.items():
                _set_statuses(session, model, collection, prov, oper, ids)
            for object_id in deleted:
                _delete(session, model, object_id, network, releases)
        completed = _completed(session, update.get("loadbalancers") or ())
    for release in releases:
        try:
            release()
        except Exception:  # the VIP leaks, the status is right: log for the operator
            LOG.exception("could not release a VIP")
    return completed


def apply_statistics(db, stats):
    """Store absolute per-listener counters reported by a driver (one row per listener)."""
    if not isinstance(stats, dict):
        raise StatusUpdateError("a statistics message must be an object")
    records = stats.get("listeners") or []
    for record in records:
        missing = [k for k in ("id",) + c.STAT_FIELDS if k not in record]
        if missing:
            raise StatusUpdateError(f"statistics record lacks {', '.join(missing)}", "listeners",
                                    record.get("id"))
    with db.write() as session:
        for record in records:
            row = session.get(models.ListenerStatistics, (record["id"], record["id"]))
            if row is None:
                row = models.ListenerStatistics(listener_id=record["id"], amphora_id=record["id"])
                session.add(row)
            for key in c.STAT_FIELDS:
                setattr(row, key, int(record[key]))


def apply_amphora_status(db, amphora_id, status):
    """Record an amphora status a driver reports (DELETED once it is torn down)."""
    if status not in c.AMPHORA_STATUSES:
        raise StatusUpdateError(f"invalid amphora status {status!r}", "amphorae", amphora_id)
    with db.write() as session:
        row = session.get(models.Amphora, amphora_id)
        if row is None:
            raise StatusUpdateError("no such amphora", "amphorae", amphora_id)
        row.status = status
        row.updated_at = models.utcnow()


def pending_loadbalancer_ids(db, provider):
    """Ids of the provider's load balancers that have anything in PENDING_*."""
    with db.read() as session:
        ids = set(session.scalars(select(models.LoadBalancer.id).where(
            models.LoadBalancer.provider == provider,
            models.LoadBalancer.provisioning_status.in_(c.PENDING_STATUSES))))
        for model, lb_col in ((models.Listener, models.Listener.loadbalancer_id),
                              (models.Pool, models.Pool.loadbalancer_id)):
            ids.update(session.scalars(
                select(lb_col).join(models.LoadBalancer, models.LoadBalancer.id == lb_col)
                .where(models.LoadBalancer.provider == provider,
                       model.provisioning_status.in_(c.PENDING_STATUSES))))
        for model in (models.Member, models.HealthMonitor):
            ids.update(session.scalars(
                select(models.Pool.loadbalancer_id).join(model, model.pool_id == models.Pool.id)
                .join(models.LoadBalancer, models.LoadBalancer.id == models.Pool.loadbalancer_id)
                .where(models.LoadBalancer.provider == provider,
                       model.provisioning_status.in_(c.PENDING_STATUSES))))
        for model in (models.L7Policy, models.L7Rule):
            stmt = (select(models.Listener.loadbalancer_id)
                    .join(models.L7Policy, models.L7Policy.listener_id == models.Listener.id)
                    .join(models.LoadBalancer,
                          models.LoadBalancer.id == models.Listener.loadbalancer_id))
            if model is models.L7Rule:
                stmt = stmt.join(models.L7Rule, models.L7Rule.l7policy_id == models.L7Policy.id)
            ids.update(session.scalars(stmt.where(
                models.LoadBalancer.provider == provider,
                model.provisioning_status.in_(c.PENDING_STATUSES))))
    return sorted(ids)
