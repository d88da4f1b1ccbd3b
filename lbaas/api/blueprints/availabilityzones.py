"""The availability zone resource: /v2/lbaas/availabilityzones, each known by name."""
from flask.views import MethodView

from lbaas.api import catalog_views as views
from lbaas.api import rendering
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.catalog import AvailabilityZoneCreate, AvailabilityZoneUpdate

blp = Blueprint("availabilityzones", __name__, description="Availability zones")
KEY = "availability_zone"


@blp.route("/availabilityzones")
class AvailabilityZones(MethodView):
    def get(self):
        """List availability zones."""
        page = core().availability_zones.list(current(), rendering.list_options())
        return rendering.many("availability_zones", page, views.availability_zone)

    @blp.arguments(AvailabilityZoneCreate, error_status_code=400)
    def post(self, body):
        """Create an availability zone on an availability zone profile."""
        row = core().availability_zones.create(current(), body[KEY])
        return rendering.one(KEY, views.availability_zone(row)), 201


@blp.route("/availabilityzones/<availability_zone_name>")
class AvailabilityZone(MethodView):
    def get(self, availability_zone_name):
        """Show an availability zone."""
        row = core().availability_zones.get(current(), availability_zone_name)
        return rendering.one(KEY, views.availability_zone(row))

    @blp.arguments(AvailabilityZoneUpdate, error_status_code=400)
    def put(self, body, availability_zone_name):
        """Update an availability zone's description or enabled flag."""
        row = core().availability_zones.update(current(), availability_zone_name, body[KEY])
        return rendering.one(KEY, views.availability_zone(row))

    def delete(self, availability_zone_name):
        """Delete an availability zone no load balancer uses."""
        core().availability_zones.delete(current(), availability_zone_name)
        return "", 204
