"""The quota resource: /v2/lbaas/quotas, a project's quota, and the defaults.

Every quota body carries both spellings of two limits, as Octavia renders them:
`loadbalancer` and `load_balancer`, `healthmonitor` and `health_monitor`, and the legacy
`tenant_id` beside `project_id`. `fields=` does
not apply to quotas.
"""
from flask.views import MethodView

from lbaas.api import errors, rendering
from lbaas.api.blueprints.base import Blueprint
from lbaas.api.context import core, current
from lbaas.api.schemas.quota import QuotaUpdate

blp = Blueprint("quotas", __name__, description="Per-project quotas")
KEY = "quota"
DEFAULTS = "defaults"  # GET /quotas/defaults: the configured defaults, not a project


def quota(q):
    """A quota as Octavia renders it, both spellings included."""
    return {"project_id": q["project_id"],
            "loadbalancer": q["loadbalancer"], "load_balancer": q["loadbalancer"],
            "listener": q["listener"], "member": q["member"], "pool": q["pool"],
            "healthmonitor": q["healthmonitor"], "health_monitor": q["healthmonitor"],
            "l7policy": q["l7policy"], "l7rule": q["l7rule"], "tenant_id": q["project_id"]}


@blp.route("/quotas")
class Quotas(MethodView):
    def get(self):
        """List the stored quota records (null: the project uses the default)."""
        page = core().quotas.list(current(), rendering.list_options())
        return {"quotas": [quota(q) for q in page.rows], "quotas_links": rendering.links(page)}


@blp.route("/quotas/defaults")
class QuotaDefaults(MethodView):
    def get(self):
        """Show the configured default quotas."""
        return {KEY: quota(core().quotas.defaults(current(), DEFAULTS))}

    def put(self):
        """Not allowed: the defaults come from the configuration ([quotas])."""
        return _read_only()

    def delete(self):
        """Not allowed: the defaults come from the configuration ([quotas])."""
        return _read_only()


def _read_only():
    """405 for a write to /quotas/defaults, which is not a project."""
    resp = errors.fault(405, "The default quotas are set in the configuration ([quotas]); "
                             "they cannot be changed through the API.")
    resp.headers["Allow"] = "GET, HEAD, OPTIONS"
    return resp


@blp.route("/quotas/<project_id>")
class Quota(MethodView):
    def get(self, project_id):
        """Show a project's effective quotas (the defaults where it has none)."""
        return {KEY: quota(core().quotas.get(current(), project_id))}

    @blp.arguments(QuotaUpdate, error_status_code=400)
    def put(self, body, project_id):
        """Set some of a project's quotas; null sets one back to the default."""
        return {KEY: quota(core().quotas.update(current(), project_id, body[KEY]))}, 202

    def delete(self, project_id):
        """Reset all of a project's quotas to the defaults."""
        core().quotas.delete(current(), project_id)
        return "", 202


@blp.route("/quotas/<project_id>/default")
class QuotaDefault(MethodView):
    def get(self, project_id):
        """Show the default quotas, for a project."""
        return {KEY: quota(core().quotas.defaults(current(), project_id))}
