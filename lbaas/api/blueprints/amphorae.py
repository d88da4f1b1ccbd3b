"""The admin amphora resource: /v2/octavia/amphorae (list, show, delete, failover, config, stats)."""
from flask.views import MethodView

from lbaas.api import rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current

blp = Blueprint("amphorae", __name__, description="Amphorae (admin)")
KEY = "amphora"


def render(row):
    """An amphora as Octavia shows it (loadbalancer_id, not load_balancer_id)."""
    return {
        "id": row.id, "loadbalancer_id": row.loadbalancer_id, "compute_id": row.compute_id,
        "lb_network_ip": row.lb_network_ip, "vrrp_ip": row.vrrp_ip, "ha_ip": row.ha_ip,
        "vrrp_port_id": row.vrrp_port_id, "ha_port_id": row.ha_port_id,
        "cert_expiration": views.ts(row.cert_expiration), "cert_busy": bool(row.cert_busy),
        "role": row.role, "status": row.status, "vrrp_interface": row.vrrp_interface,
        "vrrp_id": row.vrrp_id, "vrrp_priority": row.vrrp_priority,
        "cached_zone": row.cached_zone, "created_at": views.ts(row.created_at),
        "updated_at": views.ts(row.updated_at), "image_id": row.image_id,
        "compute_flavor": row.compute_flavor}


@blp.route("/amphorae")
class Amphorae(MethodView):
    def get(self):
        """List amphorae."""
        page = core().amphorae.list(current(), rendering.list_options())
        return rendering.many("amphorae", page, render)


@blp.route("/amphorae/<amphora_id>")
class Amphora(MethodView):
    def get(self, amphora_id):
        """Show an amphora."""
        return rendering.one(KEY, render(core().amphorae.get(current(), amphora_id)))

    def delete(self, amphora_id):
        """Delete an amphora in ERROR."""
        core().amphorae.delete(current(), amphora_id)
        return "", 204


@blp.route("/amphorae/<amphora_id>/failover")
class AmphoraFailover(MethodView):
    def put(self, amphora_id):
        """Replace an amphora with a new one."""
        core().amphorae.failover(current(), amphora_id)
        return "", 202


@blp.route("/amphorae/<amphora_id>/config")
class AmphoraConfig(MethodView):
    def put(self, amphora_id):
        """Push the current agent configuration to an amphora."""
        core().amphorae.config(current(), amphora_id)
        return "", 202


@blp.route("/amphorae/<amphora_id>/stats")
class AmphoraStats(MethodView):
    def get(self, amphora_id):
        """Traffic counters of an amphora, one entry per listener."""
        return {"amphora_stats": core().amphorae.stats(current(), amphora_id)}
