"""The L7 policy resource: /v2/lbaas/l7policies."""
from flask.views import MethodView

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.l7policy import L7PolicyCreate, L7PolicyUpdate

blp = Blueprint("l7policies", __name__, description="L7 policies")
KEY = "l7policy"


@blp.route("/l7policies")
class L7Policies(MethodView):
    def get(self):
        """List L7 policies."""
        page = core().l7policies.list(current(), rendering.list_options())
        return rendering.many("l7policies", page, views.l7policy)

    @blp.arguments(L7PolicyCreate, error_status_code=400)
    def post(self, body):
        """Create an L7 policy on a listener (optionally with its rules)."""
        row = core().l7policies.create(current(), body[KEY])
        return rendering.one(KEY, views.l7policy(row)), 201


@blp.route("/l7policies/<l7policy_id>")
class L7Policy(MethodView):
    def get(self, l7policy_id):
        """Show an L7 policy."""
        return rendering.one(KEY, views.l7policy(core().l7policies.get(current(), l7policy_id)))

    @blp.arguments(L7PolicyUpdate, error_status_code=400)
    def put(self, body, l7policy_id):
        """Update an L7 policy."""
        row = core().l7policies.update(current(), l7policy_id, body[KEY])
        return rendering.one(KEY, views.l7policy(row))

    def delete(self, l7policy_id):
        """Delete an L7 policy with its rules."""
        core().l7policies.delete(current(), l7policy_id)
        return "", 204
