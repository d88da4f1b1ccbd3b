"""The two GETs polling clients send most, answered without Flask's request cycle.

Every `--wait`, every Kubernetes reconcile and every `terraform plan` polls one load
balancer or its status tree. Through Flask, a request context, URL routing, the before- and
after-request hooks and a response object cost more CPU than the read itself. `HotReads`
sits where Flask's application would (inside authentication, the caller's logging context,
the metrics and the access line, so those stay as they are) and answers exactly these
requests itself:

    GET /v2/lbaas/loadbalancers/<lb_id>                    (no query string)
    GET /v2/lbaas/loadbalancers/<lb_id>/status[es]         (no query string)

with the same bytes and headers the Flask views give (`loadbalancer` and `status_tree`
below are the answers; the views call them too). Anything else, and every request of those
whose answer is not a success (a 404, a 403, a refused Accept header, a database error),
goes to the Flask application, which answers it with its error handlers; a read is safe to
run twice. Nothing is cached: each request reads the database.
"""
import re

from lbaas.api import conditional, metrics, negotiation, rendering, views
from lbaas.api.context import caller

LB_KEY = "loadbalancer"
STATUS_KEY = "statuses"
# The URL rules of the Flask views these requests would reach (the metrics' route label)
ONE_RULE = "/v2/lbaas/loadbalancers/<lb_id>"
STATUS_RULES = {"status": ONE_RULE + "/status", "statuses": ONE_RULE + "/statuses"}

_PREFIX = "/v2/lbaas/loadbalancers/"
# An id the fast path takes: what ids look like (anything else is Flask's to judge)
_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_OK = "200 OK"
_NOT_MODIFIED = "304 NOT MODIFIED"   # werkzeug's reason phrases, as the views answer


def loadbalancer(core, ctx, lb_id, fields=None):
    """GET one load balancer: (ETag, a function rendering the body) from its record."""
    record = core.loadbalancers.get(ctx, lb_id)
    tag = conditional.tag_of(LB_KEY, record, fields)
    return tag, lambda: rendering.selected(LB_KEY, views.loadbalancer(record), fields)


def status_tree(core, ctx, lb_id):
    """GET a load balancer's status tree: (ETag, a function rendering the body)."""
    tree = core.loadbalancers.status_tree_records(ctx, lb_id)
    tag = conditional.tag_of(STATUS_KEY, tree.rows)
    return tag, lambda: {STATUS_KEY: core.loadbalancers.render_status_tree(tree)}


def _route(path):
    """(rule, lb_id, answer) for a path the fast path takes, else None."""
    if not path.startswith(_PREFIX):
        return None
    lb_id, _, rest = path[len(_PREFIX):].partition("/")
    if not _ID.fullmatch(lb_id):
        return None
    if not rest and not path.endswith("/"):
        return ONE_RULE, lb_id, loadbalancer
    rule = STATUS_RULES.get(rest)
    return (rule, lb_id, status_tree) if rule else None


class HotReads:
    """WSGI: GET one load balancer and its status tree answered here, all else by `app`."""

    def __init__(self, flask_app, app):
        self.app = app
        self.conf = flask_app.config["LBAAS_CONF"]
        self.core = flask_app.extensions["lbaas_core"]
        self.json = flask_app.json   # the views' JSON provider: its escapes and defaults

    def __call__(self, environ, start_response):
        found = None
        if environ.get("REQUEST_METHOD") == "GET" and not environ.get("QUERY_STRING"):
            found = _route(environ.get("PATH_INFO", ""))
        if found is None or not negotiation.accepts_json(environ.get("HTTP_ACCEPT")):
            return self.app(environ, start_response)
        rule, lb_id, answer = found
        try:
            ctx = caller(environ, self.conf, self.core.policy)
            tag, render = answer(self.core, ctx, lb_id)
            etag = f'"{tag}"'
            wanted = environ.get("HTTP_IF_NONE_MATCH")
            if wanted is not None and conditional.names(wanted, tag):
                status, headers, data = _NOT_MODIFIED, [("ETag", etag)], b""
            else:
                # as the provider's response() writes it (app.json.compact is set)
                data = (self.json.dumps(render(), separators=(",", ":")) + "\n").encode()
                status = _OK
                headers = [("Content-Type", "application/json"),
                           ("Content-Length", str(len(data))), ("ETag", etag)]
        except Exception:   # noqa: BLE001 - every failure is answered by the views' handlers
            return self.app(environ, start_response)
        environ[metrics.ROUTE_KEY] = rule
        start_response(status, headers)
        return [data]
