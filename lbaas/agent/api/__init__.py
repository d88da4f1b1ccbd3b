"""The amphora agent's REST API 1.0 for HAProxy (spec amphora.md §3): create_app builds it.

One blueprint per resource area. What the views share lives on the app, never in closures:
the HAProxy and keepalived managers (and, set by lbaas-agent, the heartbeat sender and the
server certificate) in app.extensions, the request limit in app.config; see api.common.
"""
import flask
from werkzeug.exceptions import RequestEntityTooLarge

from lbaas.agent.api import (certificates, errors, info, listeners, loadbalancers, plug,
                             rotation, vrrp)
from lbaas.agent.api.common import PREFIX
from lbaas.agent.fence import Fences
from lbaas.agent.haproxy import HAProxyManager
from lbaas.agent.vrrp import KeepalivedManager
from lbaas.agent.wire import FENCE_HEADER

# Largest request body (a haproxy.cfg, keepalived.conf, PEM file or JSON): larger is a 413.
# A load balancer with 10,000 health-checked members renders 1 MB of haproxy.cfg.
MAX_REQUEST_BYTES = 4 * 1024 * 1024


def _bounded_body():
    limit = flask.current_app.config["AGENT_MAX_REQUEST_BYTES"]
    if len(flask.request.get_data()) > limit:   # read once, kept for the view
        raise RequestEntityTooLarge(f"the request body is larger than {limit} bytes")


def _fenced():
    """Refuse a request from a superseded lease holder (lbaas.agent.fence), before it runs."""
    header = flask.request.headers.get(FENCE_HEADER)
    if header is not None:
        flask.current_app.extensions["fences"].admit(header)


def _journal(response):
    """Journal a change that succeeded, with its fence (lbaas.agent.fence)."""
    request = flask.request
    if request.method not in ("GET", "HEAD") and response.status_code < 400:
        flask.current_app.extensions["fences"].record(
            request.headers.get(FENCE_HEADER), request.method, request.path,
            response.status_code)
    return response


def create_app(base_dir, haproxy_bin="haproxy", keepalived_bin="keepalived",
               max_request_bytes=MAX_REQUEST_BYTES, plug_mac_wait=0.0):
    """The agent's Flask application managing HAProxy instances (and keepalived) under base_dir;
    plug_mac_wait: seconds a plug waits for its interface to appear (a hot-plugged NIC)."""
    app = flask.Flask(__name__)
    # werkzeug answers 413 for a Content-Length past the limit, but cuts a chunked body
    # at the limit without a word: one byte more is read, and a body that has it is 413.
    app.config.update(MAX_CONTENT_LENGTH=max_request_bytes + 1,
                      AGENT_MAX_REQUEST_BYTES=max_request_bytes,
                      AGENT_PLUG_MAC_WAIT=plug_mac_wait)
    app.extensions["haproxy"] = HAProxyManager(base_dir, haproxy_bin)
    app.extensions["vrrp"] = KeepalivedManager(base_dir, keepalived_bin)
    app.extensions["fences"] = Fences(base_dir)
    errors.register(app)
    app.before_request(_bounded_body)
    app.before_request(_fenced)
    app.after_request(_journal)
    app.register_blueprint(info.blp)
    for module in (loadbalancers, certificates, listeners, plug, vrrp, rotation):
        app.register_blueprint(module.blp, url_prefix=PREFIX)
    return app
