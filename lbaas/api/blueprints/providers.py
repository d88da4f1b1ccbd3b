"""The provider resource: /v2/lbaas/providers and each provider's capabilities."""
import flask
from flask.views import MethodView

from lbaas.api import rendering
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current

blp = Blueprint("providers", __name__, description="Provider drivers")
FILTERS = ("name", "description")


def _filters():
    return {k: flask.request.args.getlist(k) for k in FILTERS if k in flask.request.args}


def _selected(items):
    wanted = rendering.wanted_fields()
    return [{k: v for k, v in i.items() if k in wanted} for i in items] if wanted else items


@blp.route("/providers")
class Providers(MethodView):
    def get(self):
        """List the enabled provider drivers."""
        return {"providers": _selected(core().providers.list(current(), _filters()))}


@blp.route("/providers/<provider>/flavor_capabilities")
class FlavorCapabilities(MethodView):
    def get(self, provider):
        """The flavor metadata a provider accepts."""
        items = core().providers.flavor_capabilities(current(), provider, _filters())
        return {"flavor_capabilities": _selected(items)}


@blp.route("/providers/<provider>/availability_zone_capabilities")
class AvailabilityZoneCapabilities(MethodView):
    def get(self, provider):
        """The availability-zone metadata a provider accepts."""
        items = core().providers.availability_zone_capabilities(current(), provider,
                                                                 _filters())
        return {"availability_zone_capabilities": _selected(items)}
