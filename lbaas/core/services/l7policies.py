"""L7 policies: create (with rules), read, update, delete; and the lock rule changes take."""
from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, listing, models
from lbaas.core import provider_models as pm
from lbaas.core.services import common, quota_usage
from lbaas.core.services import l7policy_positions as positions
from lbaas.core.services import l7policy_rules as rules
from lbaas.core.services import l7rule_rules

FIELDS = ("id", "name", "description", "admin_state_up", "project_id", "provisioning_status",
          "operating_status", "action", "listener_id", "redirect_pool_id", "redirect_url",
          "redirect_prefix", "redirect_http_code", "position", "created_at", "updated_at")
RBAC = "l7policy"
# What the policy views and provider objects read after the session closes.
LOAD = (selectinload(models.L7Policy.rules),)


def _with_parents():
    return (selectinload(models.L7Policy.listener).selectinload(models.Listener.load_balancer),
            selectinload(models.L7Policy.rules))


def prepare(session, listener, body):
    """Validate a policy body, and the rules it nests, for a listener.

    Returns the new row's values (with its id) and (rule body, rule values) pairs.
    """
    rules.check_listener(listener)
    values = dict(rules.values_for_create(body), id=models.new_id())
    pool_id = values["redirect_pool_id"]
    if pool_id:
        rules.check_redirect_pool(listener, session.get(models.Pool, pool_id), pool_id)
    nested = body.get("rules") or []
    l7rule_rules.check_room(values["id"], len(nested))
    return values, [(rule, l7rule_rules.values_for_create(rule)) for rule in nested]


def insert(session, listener, body, values, rule_entries=()):
    """Add a validated policy (and its rules) to a listener, PENDING_CREATE, at its position."""
    values = dict(values)
    position = values.pop("position")
    row = models.L7Policy(listener_id=listener.id, project_id=listener.project_id,
                          provisioning_status=c.PENDING_CREATE, operating_status=c.OFFLINE,
                          **values)
    positions.place(session, listener.id, row, position)
    row.set_tags(body.get("tags") or [])
    session.add(row)
    session.flush()
    if rule_entries:
        add_rules(session, row, rule_entries)
    return row


def add_rules(session, policy, entries):
    """Add validated rules ((body, values) pairs) to a policy, PENDING_CREATE; returns them."""
    rows = []
    for body, values in entries:
        row = models.L7Rule(id=models.new_id(), l7policy_id=policy.id,
                            project_id=policy.project_id, provisioning_status=c.PENDING_CREATE,
                            operating_status=c.OFFLINE, **values)
        row.set_tags(body.get("tags") or [])
        rows.append(row)
    session.add_all(rows)
    session.flush()
    return rows


def lock(session, listener):
    """Hold a listener and its ACTIVE load balancer for a change to one of its policies."""
    common.lock_loadbalancer(session, listener.load_balancer)
    listener.provisioning_status = c.PENDING_UPDATE


def lock_for_rule(session, policy):
    """Hold an ACTIVE policy, its listener and its load balancer for a change to a rule."""
    common.require_active(policy)
    lock(session, policy.listener)
    policy.provisioning_status = c.PENDING_UPDATE


class L7PolicyService:
    """Every rule of the L7 policy resource."""

    def __init__(self, core):
        self.core = core

    def get(self, ctx, policy_id):
        """One L7 policy (404 if absent)."""
        with self.core.db.read() as session:
            row = common.get_or_404(session, models.L7Policy, policy_id, LOAD)
        self.core.policy.authorize(ctx, RBAC, "get_one", row.project_id)
        return row

    def list(self, ctx, options):
        """A page of L7 policies matching the list options."""
        options = self.core.policy.scope_list(ctx, RBAC, options)
        stmt = select(models.L7Policy).options(*LOAD)
        with self.core.db.read() as session:
            return listing.fetch_page(session, stmt, models.L7Policy, options,
                                      common.columns(models.L7Policy, FIELDS))

    def create(self, ctx, body):
        """Add a policy (with any rules it nests) to a listener of an ACTIVE load balancer."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.Listener, body["listener_id"])
            if body.get("redirect_pool_id"):  # Octavia looks the pool up before the listener
                common.get_or_404(session, models.Pool, body["redirect_pool_id"])
            listener = common.get_or_404(session, models.Listener, body["listener_id"],
                                         (selectinload(models.Listener.load_balancer),))
            core.policy.authorize(ctx, RBAC, "post", listener.load_balancer.project_id)
            values, rule_entries = prepare(session, listener, body)
            driver = core.drivers.get(listener.load_balancer.provider)
            quota_usage.reserve(core.conf, session, listener.project_id,
                                {"l7policy": 1, "l7rule": len(rule_entries)})
            lock(session, listener)
            row = insert(session, listener, body, values, rule_entries)
            full = common.snapshot(session, models.L7Policy, row.id, LOAD)
            drivers.call(driver, "l7policy_create", pm.l7policy(full))
            return full

    def update(self, ctx, policy_id, body):
        """Change a policy (its action, redirect, position...); its load balancer must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.L7Policy, policy_id)
            row = common.get_or_404(session, models.L7Policy, policy_id, _with_parents())
            core.policy.authorize(ctx, RBAC, "put", row.project_id)
            listener = row.listener
            changes = rules.changes_for_update(row, body)
            if changes.get("redirect_pool_id"):
                pool_id = changes["redirect_pool_id"]
                rules.check_redirect_pool(listener, session.get(models.Pool, pool_id), pool_id)
            driver = core.drivers.get(listener.load_balancer.provider)
            old = pm.l7policy(row)
            lock(session, listener)
            row.provisioning_status = c.PENDING_UPDATE
            new = pm.partial(dm.L7Policy, "l7policy_id", row.id, changes)
            drivers.call(driver, "l7policy_update", old, new)
            position = changes.pop("position", None)
            common.apply_changes(row, changes, body.get("tags"))
            if position is not None:
                positions.place(session, listener.id, row, position)
            return common.snapshot(session, models.L7Policy, row.id, LOAD)

    def delete(self, ctx, policy_id):
        """Remove a policy with its rules; its load balancer must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            common.hold(session, models.L7Policy, policy_id)
            row = common.get_or_404(session, models.L7Policy, policy_id, _with_parents())
            core.policy.authorize(ctx, RBAC, "delete", row.project_id)
            driver = core.drivers.get(row.listener.load_balancer.provider)
            full = pm.l7policy(row)
            lock(session, row.listener)
            row.provisioning_status = c.PENDING_DELETE
            drivers.call(driver, "l7policy_delete", full)
