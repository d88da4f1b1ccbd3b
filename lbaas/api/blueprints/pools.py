"""The pool resource: /v2/lbaas/pools."""
from flask.views import MethodView

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.pool import PoolCreate, PoolUpdate

blp = Blueprint("pools", __name__, description="Pools")
KEY = "pool"


@blp.route("/pools")
class Pools(MethodView):
    def get(self):
        """List pools."""
        page = core().pools.list(current(), rendering.list_options())
        return rendering.many("pools", page, views.pool)

    @blp.arguments(PoolCreate, error_status_code=400)
    def post(self, body):
        """Create a pool on a load balancer, optionally as a listener's default pool."""
        row = core().pools.create(current(), body[KEY])
        return rendering.one(KEY, views.pool(row)), 201


@blp.route("/pools/<pool_id>")
class Pool(MethodView):
    def get(self, pool_id):
        """Show a pool."""
        return rendering.one(KEY, views.pool(core().pools.get(current(), pool_id)))

    @blp.arguments(PoolUpdate, error_status_code=400)
    def put(self, body, pool_id):
        """Update a pool."""
        row = core().pools.update(current(), pool_id, body[KEY])
        return rendering.one(KEY, views.pool(row))

    def delete(self, pool_id):
        """Delete a pool with its members and health monitor."""
        core().pools.delete(current(), pool_id)
        return "", 204
