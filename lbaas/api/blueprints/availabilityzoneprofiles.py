"""The availability zone profile resource: /v2/lbaas/availabilityzoneprofiles (admin only)."""
from flask.views import MethodView

from lbaas.api import catalog_views as views
from lbaas.api import rendering
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.catalog import (AvailabilityZoneProfileCreate,
                                       AvailabilityZoneProfileUpdate)

blp = Blueprint("availabilityzoneprofiles", __name__, description="Availability zone profiles")
KEY = "availability_zone_profile"


@blp.route("/availabilityzoneprofiles")
class AvailabilityZoneProfiles(MethodView):
    def get(self):
        """List availability zone profiles."""
        page = core().availability_zone_profiles.list(current(), rendering.list_options())
        body = rendering.many("availability_zone_profiles", page,
                              views.availability_zone_profile)
        # Upstream's links key is singular.
        body["availability_zone_profile_links"] = body.pop("availability_zone_profiles_links")
        return body

    @blp.arguments(AvailabilityZoneProfileCreate, error_status_code=400)
    def post(self, body):
        """Create an availability zone profile whose data its provider accepts."""
        row = core().availability_zone_profiles.create(current(), body[KEY])
        return rendering.one(KEY, views.availability_zone_profile(row)), 201


@blp.route("/availabilityzoneprofiles/<azprofile_id>")
class AvailabilityZoneProfile(MethodView):
    def get(self, azprofile_id):
        """Show an availability zone profile."""
        row = core().availability_zone_profiles.get(current(), azprofile_id)
        return rendering.one(KEY, views.availability_zone_profile(row))

    @blp.arguments(AvailabilityZoneProfileUpdate, error_status_code=400)
    def put(self, body, azprofile_id):
        """Update an availability zone profile (provider and data only while no zone uses it)."""
        row = core().availability_zone_profiles.update(current(), azprofile_id, body[KEY])
        return rendering.one(KEY, views.availability_zone_profile(row))

    def delete(self, azprofile_id):
        """Delete an availability zone profile no zone uses."""
        core().availability_zone_profiles.delete(current(), azprofile_id)
        return "", 204
