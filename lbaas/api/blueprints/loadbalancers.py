"""The load balancer resource: /v2/lbaas/loadbalancers."""
import flask
from flask.views import MethodView
from oslo_utils import strutils

from lbaas.api import conditional, hot_reads, rendering, views
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.loadbalancer import LoadBalancerCreate, LoadBalancerUpdate

blp = Blueprint("loadbalancers", __name__, description="Load balancers")
KEY = "loadbalancer"


@blp.route("/loadbalancers")
class LoadBalancers(MethodView):
    def get(self):
        """List load balancers."""
        page = core().loadbalancers.list(current(), rendering.list_options())
        return rendering.many("loadbalancers", page, views.loadbalancer)

    @blp.arguments(LoadBalancerCreate, error_status_code=400)
    def post(self, body):
        """Create a load balancer, optionally with its whole graph of children."""
        row = core().loadbalancers.create(current(), body[KEY])
        return rendering.one(KEY, views.loadbalancer_full(row)), 201


@blp.route("/loadbalancers/<lb_id>")
class LoadBalancer(MethodView):
    def get(self, lb_id):
        """Show a load balancer (304 from its records when If-None-Match names them; the
        plain GET is answered by lbaas.api.hot_reads before Flask)."""
        tag, render = hot_reads.loadbalancer(core(), current(), lb_id,
                                             rendering.wanted_fields())
        return conditional.not_modified(tag) or conditional.tagged(render(), tag)

    @blp.arguments(LoadBalancerUpdate, error_status_code=400)
    def put(self, body, lb_id):
        """Update a load balancer."""
        row = core().loadbalancers.update(current(), lb_id, body[KEY])
        return rendering.one(KEY, views.loadbalancer(row))

    def delete(self, lb_id):
        """Delete a load balancer (?cascade=true also deletes its children)."""
        cascade = strutils.bool_from_string(flask.request.args.get("cascade", "false"))
        core().loadbalancers.delete(current(), lb_id, cascade)
        return "", 204


@blp.route("/loadbalancers/<lb_id>/stats")
class LoadBalancerStats(MethodView):
    def get(self, lb_id):
        """Traffic counters summed over the load balancer's listeners."""
        return {"stats": core().loadbalancers.stats(current(), lb_id)}


@blp.route("/loadbalancers/<lb_id>/status")
@blp.route("/loadbalancers/<lb_id>/statuses", endpoint="LoadBalancerStatuses")
class LoadBalancerStatus(MethodView):
    def get(self, lb_id):
        """The status tree of a load balancer (304 from its records, as above)."""
        tag, render = hot_reads.status_tree(core(), current(), lb_id)
        return conditional.not_modified(tag) or conditional.tagged(render(), tag)


@blp.route("/loadbalancers/<lb_id>/failover")
class LoadBalancerFailover(MethodView):
    def put(self, lb_id):
        """Rebuild the load balancer's data plane."""
        core().loadbalancers.failover(current(), lb_id)
        return "", 202
