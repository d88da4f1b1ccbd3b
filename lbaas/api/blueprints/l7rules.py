"""The L7 rule resource: /v2/lbaas/l7policies/{l7policy_id}/rules (envelope `rule`)."""
from flask.views import MethodView

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.l7rule import L7RuleCreate, L7RuleUpdate

blp = Blueprint("l7rules", __name__, description="L7 rules")
KEY = "rule"


@blp.route("/l7policies/<l7policy_id>/rules")
class L7Rules(MethodView):
    def get(self, l7policy_id):
        """List the rules of an L7 policy."""
        page = core().l7rules.list(current(), l7policy_id, rendering.list_options())
        return rendering.many("rules", page, views.l7rule)

    @blp.arguments(L7RuleCreate, error_status_code=400)
    def post(self, body, l7policy_id):
        """Add a rule to an L7 policy."""
        row = core().l7rules.create(current(), l7policy_id, body[KEY])
        return rendering.one(KEY, views.l7rule(row)), 201


@blp.route("/l7policies/<l7policy_id>/rules/<l7rule_id>")
class L7Rule(MethodView):
    def get(self, l7policy_id, l7rule_id):
        """Show a rule of an L7 policy."""
        return rendering.one(KEY, views.l7rule(core().l7rules.get(current(), l7policy_id,
                                                                    l7rule_id)))

    @blp.arguments(L7RuleUpdate, error_status_code=400)
    def put(self, body, l7policy_id, l7rule_id):
        """Update a rule of an L7 policy."""
        row = core().l7rules.update(current(), l7policy_id, l7rule_id, body[KEY])
        return rendering.one(KEY, views.l7rule(row))

    def delete(self, l7policy_id, l7rule_id):
        """Remove a rule from its L7 policy."""
        core().l7rules.delete(current(), l7policy_id, l7rule_id)
        return "", 204
