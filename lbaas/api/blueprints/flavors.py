"""The flavor resource: /v2/lbaas/flavors (also /v2/flavors)."""
from flask.views import MethodView

from lbaas.api import catalog_views as views
from lbaas.api import rendering
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.catalog import FlavorCreate, FlavorUpdate

blp = Blueprint("flavors", __name__, description="Flavors")
KEY = "flavor"


@blp.route("/flavors")
class Flavors(MethodView):
    def get(self):
        """List flavors."""
        page = core().flavors.list(current(), rendering.list_options())
        return rendering.many("flavors", page, views.flavor)

    @blp.arguments(FlavorCreate, error_status_code=400)
    def post(self, body):
        """Create a flavor on a flavor profile."""
        row = core().flavors.create(current(), body[KEY])
        return rendering.one(KEY, views.flavor(row)), 201


@blp.route("/flavors/<flavor_id>")
class Flavor(MethodView):
    def get(self, flavor_id):
        """Show a flavor."""
        return rendering.one(KEY, views.flavor(core().flavors.get(current(), flavor_id)))

    @blp.arguments(FlavorUpdate, error_status_code=400)
    def put(self, body, flavor_id):
        """Update a flavor's name, description or enabled flag."""
        row = core().flavors.update(current(), flavor_id, body[KEY])
        return rendering.one(KEY, views.flavor(row))

    def delete(self, flavor_id):
        """Delete a flavor no load balancer uses."""
        core().flavors.delete(current(), flavor_id)
        return "", 204
