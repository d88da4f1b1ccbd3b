"""The listener resource: /v2/lbaas/listeners."""
from flask.views import MethodView

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.listener import ListenerCreate, ListenerUpdate

blp = Blueprint("listeners", __name__, description="Listeners")
KEY = "listener"


@blp.route("/listeners")
class Listeners(MethodView):
    def get(self):
        """List listeners."""
        page = core().listeners.list(current(), rendering.list_options())
        return rendering.many("listeners", page, views.listener)

    @blp.arguments(ListenerCreate, error_status_code=400)
    def post(self, body):
        """Create a listener on a load balancer."""
        row = core().listeners.create(current(), body[KEY])
        return rendering.one(KEY, views.listener(row)), 201


@blp.route("/listeners/<listener_id>")
class Listener(MethodView):
    def get(self, listener_id):
        """Show a listener."""
        return rendering.one(KEY, views.listener(core().listeners.get(current(), listener_id)))

    @blp.arguments(ListenerUpdate, error_status_code=400)
    def put(self, body, listener_id):
        """Update a listener."""
        row = core().listeners.update(current(), listener_id, body[KEY])
        return rendering.one(KEY, views.listener(row))

    def delete(self, listener_id):
        """Delete a listener."""
        core().listeners.delete(current(), listener_id)
        return "", 204


@blp.route("/listeners/<listener_id>/stats")
class ListenerStats(MethodView):
    def get(self, listener_id):
        """Traffic counters of a listener."""
        return {"stats": core().listeners.stats(current(), listener_id)}
