"""The health monitor resource: /v2/lbaas/healthmonitors."""
from flask.views import MethodView

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.healthmonitor import HealthMonitorCreate, HealthMonitorUpdate

blp = Blueprint("healthmonitors", __name__, description="Health monitors")
KEY = "healthmonitor"


@blp.route("/healthmonitors")
class HealthMonitors(MethodView):
    def get(self):
        """List health monitors."""
        page = core().healthmonitors.list(current(), rendering.list_options())
        return rendering.many("healthmonitors", page, views.healthmonitor)

    @blp.arguments(HealthMonitorCreate, error_status_code=400)
    def post(self, body):
        """Create a health monitor for a pool."""
        row = core().healthmonitors.create(current(), body[KEY])
        return rendering.one(KEY, views.healthmonitor(row)), 201


@blp.route("/healthmonitors/<hm_id>")
class HealthMonitor(MethodView):
    def get(self, hm_id):
        """Show a health monitor."""
        return rendering.one(KEY, views.healthmonitor(core().healthmonitors.get(current(),
                                                                                hm_id)))

    @blp.arguments(HealthMonitorUpdate, error_status_code=400)
    def put(self, body, hm_id):
        """Update a health monitor."""
        row = core().healthmonitors.update(current(), hm_id, body[KEY])
        return rendering.one(KEY, views.healthmonitor(row))

    def delete(self, hm_id):
        """Delete a health monitor."""
        core().healthmonitors.delete(current(), hm_id)
        return "", 204
