"""Listeners: create, read, update, delete and statistics."""
from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, errors, listing, models
from lbaas.core import provider_models as pm
from lbaas.core.services import common, listener_rules as rules
from lbaas.core.services import quota_usage

FIELDS = ("id", "name", "description", "admin_state_up", "project_id", "provisioning_status",
          "operating_status", "protocol", "protocol_port", "connection_limit", "default_pool_id",
          "loadbalancer_id", "timeout_client_data", "timeout_member_connect",
          "timeout_member_data", "timeout_tcp_inspect", "default_tls_container_ref",
          "client_ca_tls_container_ref", "client_authentication", "client_crl_container_ref",
          "tls_ciphers", "hsts_max_age", "hsts_include_subdomains", "hsts_preload",
          "created_at", "updated_at")
# Fields a create or update body may set on the row, as they are.
WRITABLE = ("name", "description", "admin_state_up", "connection_limit", "default_pool_id",
            "insert_headers", "timeout_client_data", "timeout_member_connect",
            "timeout_member_data", "timeout_tcp_inspect", "default_tls_container_ref",
            "sni_container_refs", "client_ca_tls_container_ref", "client_authentication",
            "client_crl_container_ref", "allowed_cidrs", "tls_ciphers", "tls_versions",
            "alpn_protocols", "hsts_max_age", "hsts_include_subdomains", "hsts_preload")


RBAC = "listener"
# What the listener view reads after the session closes: its L7 policies' ids.
LOAD = (selectinload(models.Listener.l7policies),)


def _load():
    return (selectinload(models.Listener.load_balancer),)


def values_for_create(conf, body):
    """A new listener's field values: the body's, with defaults where it is silent or null."""
    protocol = body["protocol"]
    values = rules.creation_defaults(conf, protocol)
    for key in WRITABLE:
        if body.get(key) is not None:
            values[key] = body[key]
    values["admin_state_up"] = bool(body.get("admin_state_up", True))
    values["allowed_cidrs"] = rules.normalize_cidrs(values.get("allowed_cidrs"))
    return values


def check_port_free(session, lb_id, protocol, port, exclude=None):
    """409 if another listener of the load balancer holds this transport port."""
    l4 = c.L4_PROTOCOL[protocol]
    stmt = select(models.Listener.id).where(
        models.Listener.loadbalancer_id == lb_id, models.Listener.l4_protocol == l4,
        models.Listener.protocol_port == port)
    if session.scalars(stmt).first() not in (None, exclude):
        raise errors.DuplicateListenerEntry(protocol=protocol, port=port)


def prepare(conf, session, lb, body, ctx=None):
    """Validate a listener body against its load balancer (certificate references read with
    ctx's credentials); returns the new row's values."""
    protocol = body["protocol"]
    if body.get("default_pool") is not None or body.get("l7policies"):
        raise errors.ValidationException(
            detail="default_pool and l7policies can only be given when creating a fully "
                   "populated load balancer.")
    values = values_for_create(conf, body)
    rules.check(conf, protocol, values, set(body), ctx)
    rules.check_cidrs(lb, values["allowed_cidrs"])
    if values.get("default_pool_id"):
        pool = session.get(models.Pool, values["default_pool_id"])
        rules.check_default_pool(protocol, pool, values["default_pool_id"], lb.id)
    return values


def insert(session, lb, body, values):
    """Add a validated listener, PENDING_CREATE, unless its port is taken (409)."""
    protocol, port = body["protocol"], body["protocol_port"]
    check_port_free(session, lb.id, protocol, port)
    row = models.Listener(
        id=models.new_id(), loadbalancer_id=lb.id, project_id=lb.project_id,
        protocol=protocol, l4_protocol=c.L4_PROTOCOL[protocol], protocol_port=port,
        provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE, **values)
    row.set_tags(body.get("tags") or [])
    session.add(row)
    common.flush_or_conflict(session, errors.DuplicateListenerEntry(protocol=protocol,
                                                                    port=port))
    return row


class ListenerService:
    """Every rule of the listener resource."""

    def __init__(self, core):
        self.core = core

    def get(self, ctx, listener_id):
        """One listener (404 if absent)."""
        with self.core.db.read() as session:
            row = common.get_or_404(session, models.Listener, listener_id, LOAD)
        self.core.policy.authorize(ctx, RBAC, "get_one", row.project_id)
        return row

    def list(self, ctx, options):
        """A page of listeners matching the list options."""
        options = self.core.policy.scope_list(ctx, RBAC, options)
        stmt = select(models.Listener).options(*LOAD)
        with self.core.db.read() as session:
            return listing.fetch_page(session, stmt, models.Listener, options,
                                      common.columns(models.Listener, FIELDS))

    def create(self, ctx, body):
        """Add a listener to an ACTIVE load balancer."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.LoadBalancer, body["loadbalancer_id"])
            lb = common.get_or_404(session, models.LoadBalancer, body["loadbalancer_id"])
            core.policy.authorize(ctx, RBAC, "post", lb.project_id)
            if body.get("default_pool_id"):  # Octavia checks the pool before the lock ...
                pool = session.get(models.Pool, body["default_pool_id"])
                rules.check_default_pool(body["protocol"], pool, body["default_pool_id"], lb.id)
            driver = core.drivers.get(lb.provider)
            quota_usage.reserve(core.conf, session, lb.project_id, {"listener": 1})
            common.lock_loadbalancer(session, lb)
            values = prepare(core.conf, session, lb, body, ctx)  # ... and the rest after it
            row = insert(session, lb, body, values)
            drivers.call(driver, "listener_create", pm.listener(row))
            return common.snapshot(session, models.Listener, row.id, LOAD)

    def update(self, ctx, listener_id, body):
        """Change a listener; its load balancer must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Listener, listener_id)
            row = common.get_or_404(session, models.Listener, listener_id, _load())
            core.policy.authorize(ctx, RBAC, "put", row.project_id)
            lb = row.load_balancer
            substitutes = rules.null_substitutes(core.conf, row.protocol)
            changes = {k: (substitutes.get(k) if body[k] is None else body[k])
                       for k in WRITABLE if k in body}
            if "admin_state_up" in changes:
                changes["admin_state_up"] = bool(changes["admin_state_up"])
            if "allowed_cidrs" in changes:
                changes["allowed_cidrs"] = rules.normalize_cidrs(changes["allowed_cidrs"])
            merged = {k: getattr(row, k) for k in WRITABLE}
            merged.update(changes)
            rules.check(core.conf, row.protocol, merged, set(body), ctx)
            rules.check_cidrs(lb, merged["allowed_cidrs"])
            if changes.get("default_pool_id"):
                pool = session.get(models.Pool, changes["default_pool_id"])
                rules.check_default_pool(row.protocol, pool, changes["default_pool_id"], lb.id)
            driver = core.drivers.get(lb.provider)
            old = pm.listener(row)
            common.lock_loadbalancer(session, lb)
            row.provisioning_status = c.PENDING_UPDATE
            provider_changes = dict(changes)
            if "allowed_cidrs" in provider_changes:
                provider_changes["allowed_cidrs"] = provider_changes["allowed_cidrs"] or None
            new = pm.partial(dm.Listener, "listener_id", row.id, provider_changes)
            drivers.call(driver, "listener_update", old, new)
            common.apply_changes(row, changes, body.get("tags"))
            return common.snapshot(session, models.Listener, listener_id, LOAD)

    def delete(self, ctx, listener_id):
        """Remove a listener; its load balancer must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Listener, listener_id)
            row = common.get_or_404(session, models.Listener, listener_id, _load())
            core.policy.authorize(ctx, RBAC, "delete", row.project_id)
            lb = row.load_balancer
            driver = core.drivers.get(lb.provider)
            common.lock_loadbalancer(session, lb)
            row.provisioning_status = c.PENDING_DELETE
            drivers.call(driver, "listener_delete", pm.listener(row))

    def stats(self, ctx, listener_id):
        """The listener's counters summed over every reporter."""
        with self.core.db.read() as session:
            row = common.get_or_404(session, models.Listener, listener_id)
            self.core.policy.authorize(ctx, RBAC, "get_stats", row.project_id)
            return common.sum_statistics(session, models.Listener.id == listener_id)
