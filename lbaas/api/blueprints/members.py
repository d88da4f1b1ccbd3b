"""The member resource: /v2/lbaas/pools/{pool_id}/members, single and batch."""
import flask
from flask.views import MethodView
from oslo_utils import strutils

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.member import MemberCreate, MembersBatch, MemberUpdate

blp = Blueprint("members", __name__, description="Pool members")
KEY = "member"


@blp.route("/pools/<pool_id>/members")
class Members(MethodView):
    def get(self, pool_id):
        """List the members of a pool."""
        page = core().members.list(current(), pool_id, rendering.list_options())
        return rendering.many("members", page, views.member)

    @blp.arguments(MemberCreate, error_status_code=400)
    def post(self, body, pool_id):
        """Add a member to a pool."""
        row = core().members.create(current(), pool_id, body[KEY])
        return rendering.one(KEY, views.member(row)), 201

    @blp.arguments(MembersBatch, error_status_code=400)
    def put(self, body, pool_id):
        """Replace the pool's members with those listed (?additive_only=true: add/update only)."""
        additive = strutils.bool_from_string(flask.request.args.get("additive_only", "false"))
        core().members.batch_update(current(), pool_id, body["members"], additive)
        return "", 202


@blp.route("/pools/<pool_id>/members/<member_id>")
class Member(MethodView):
    def get(self, pool_id, member_id):
        """Show a member."""
        return rendering.one(KEY, views.member(core().members.get(current(), pool_id,
                                                                    member_id)))

    @blp.arguments(MemberUpdate, error_status_code=400)
    def put(self, body, pool_id, member_id):
        """Update a member."""
        row = core().members.update(current(), pool_id, member_id, body[KEY])
        return rendering.one(KEY, views.member(row))

    def delete(self, pool_id, member_id):
        """Remove a member from its pool."""
        core().members.delete(current(), pool_id, member_id)
        return "", 204
