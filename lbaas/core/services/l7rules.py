"""L7 rules of a policy: create, read, update, delete; at most 50 per policy."""
from octavia_lib.api.drivers import data_models as dm
from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from lbaas.core import constants as c
from lbaas.core import drivers, listing, models
from lbaas.core import provider_models as pm
from lbaas.core.services import common, l7policies, quota_usage
from lbaas.core.services import l7rule_rules as rules

FIELDS = ("id", "admin_state_up", "project_id", "provisioning_status", "operating_status",
          "type", "compare_type", "key", "value", "invert", "created_at", "updated_at")
# Filterable and sortable, though not in the body: the parent's id (openstacksdk sends it).
FILTERS = FIELDS + ("l7policy_id",)
RBAC = "l7rule"


def _policy_load():
    return (selectinload(models.L7Policy.listener).selectinload(models.Listener.load_balancer),)


class L7RuleService:
    """Every rule of the L7 rule resource."""

    def __init__(self, core):
        self.core = core

    @staticmethod
    def _policy(session, policy_id):
        return common.get_or_404(session, models.L7Policy, policy_id, _policy_load())

    def _held_policy(self, session, policy_id):
        """The policy, read once its load balancer is held for a write."""
        common.hold(session, models.L7Policy, policy_id)
        return self._policy(session, policy_id)

    def _held_rule(self, session, policy_id, rule_id):
        """The policy and its rule, read once their load balancer is held for a write."""
        common.hold(session, models.L7Policy, policy_id)
        return self._rule(session, policy_id, rule_id)

    def _rule(self, session, policy_id, rule_id):
        policy = self._policy(session, policy_id)
        return policy, common.child_or_404(session, models.L7Rule, rule_id, "l7policy_id",
                                           policy.id)

    def get(self, ctx, policy_id, rule_id):
        """One rule of a policy (404 for an unknown policy, or a rule of another policy)."""
        with self.core.db.read() as session:
            row = self._rule(session, policy_id, rule_id)[1]
        self.core.policy.authorize(ctx, RBAC, "get_one", row.project_id)
        return row

    def list(self, ctx, policy_id, options):
        """A page of the policy's rules matching the list options."""
        with self.core.db.read() as session:
            policy = self._policy(session, policy_id)
            self.core.policy.authorize(ctx, RBAC, "get_all", policy.project_id)
            stmt = select(models.L7Rule).where(models.L7Rule.l7policy_id == policy_id)
            return listing.fetch_page(session, stmt, models.L7Rule, options,
                                      common.columns(models.L7Rule, FILTERS))

    def create(self, ctx, policy_id, body):
        """Add a rule to an ACTIVE policy (409 beyond 50 rules)."""
        core = self.core
        values = rules.values_for_create(body)  # Octavia validates before looking anything up
        with core.db.write() as session:
            policy = self._held_policy(session, policy_id)
            core.policy.authorize(ctx, RBAC, "post", policy.listener.load_balancer.project_id)
            held = session.scalar(select(func.count()).select_from(models.L7Rule).where(
                models.L7Rule.l7policy_id == policy.id))
            rules.check_room(policy.id, held + 1)
            driver = core.drivers.get(policy.listener.load_balancer.provider)
            quota_usage.reserve(core.conf, session, policy.project_id, {"l7rule": 1})
            l7policies.lock_for_rule(session, policy)
            row = l7policies.add_rules(session, policy, [(body, values)])[0]
            drivers.call(driver, "l7rule_create", pm.l7rule(row))
            return common.snapshot(session, models.L7Rule, row.id)

    def update(self, ctx, policy_id, rule_id, body):
        """Change a rule (validated as the whole rule it leaves); its policy must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            policy, row = self._held_rule(session, policy_id, rule_id)
            core.policy.authorize(ctx, RBAC, "put", row.project_id)
            changes = rules.changes_for_update(row, body)
            driver = core.drivers.get(policy.listener.load_balancer.provider)
            old = pm.l7rule(row)
            l7policies.lock_for_rule(session, policy)
            row.provisioning_status = c.PENDING_UPDATE
            new = pm.partial(dm.L7Rule, "l7rule_id", row.id, changes)
            drivers.call(driver, "l7rule_update", old, new)
            common.apply_changes(row, changes, body.get("tags"))
            return common.snapshot(session, models.L7Rule, row.id)

    def delete(self, ctx, policy_id, rule_id):
        """Remove a rule; its policy must be ACTIVE."""
        core = self.core
        with core.db.write() as session:
            policy, row = self._held_rule(session, policy_id, rule_id)
            core.policy.authorize(ctx, RBAC, "delete", row.project_id)
            driver = core.drivers.get(policy.listener.load_balancer.provider)
            full = pm.l7rule(row)
            l7policies.lock_for_rule(session, policy)
            row.provisioning_status = c.PENDING_DELETE
            drivers.call(driver, "l7rule_delete", full)
