"""The flavor profile resource: /v2/lbaas/flavorprofiles (admin only)."""
from flask.views import MethodView

from lbaas.api import catalog_views as views
from lbaas.api import rendering
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.catalog import FlavorProfileCreate, FlavorProfileUpdate

blp = Blueprint("flavorprofiles", __name__, description="Flavor profiles")
KEY = "flavorprofile"


@blp.route("/flavorprofiles")
class FlavorProfiles(MethodView):
    def get(self):
        """List flavor profiles."""
        page = core().flavor_profiles.list(current(), rendering.list_options())
        body = rendering.many("flavorprofiles", page, views.flavor_profile)
        body["flavorprofile_links"] = body.pop("flavorprofiles_links")  # singular upstream
        return body

    @blp.arguments(FlavorProfileCreate, error_status_code=400)
    def post(self, body):
        """Create a flavor profile whose data its provider accepts."""
        row = core().flavor_profiles.create(current(), body[KEY])
        return rendering.one(KEY, views.flavor_profile(row)), 201


@blp.route("/flavorprofiles/<flavorprofile_id>")
class FlavorProfile(MethodView):
    def get(self, flavorprofile_id):
        """Show a flavor profile."""
        row = core().flavor_profiles.get(current(), flavorprofile_id)
        return rendering.one(KEY, views.flavor_profile(row))

    @blp.arguments(FlavorProfileUpdate, error_status_code=400)
    def put(self, body, flavorprofile_id):
        """Update a flavor profile (provider and data only while no flavor uses it)."""
        row = core().flavor_profiles.update(current(), flavorprofile_id, body[KEY])
        return rendering.one(KEY, views.flavor_profile(row))

    def delete(self, flavorprofile_id):
        """Delete a flavor profile no flavor uses."""
        core().flavor_profiles.delete(current(), flavorprofile_id)
        return "", 204
