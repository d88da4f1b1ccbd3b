"""The Octavia v2 API as a Flask application: create_app(conf) builds it, nothing runs at import."""
import functools
import inspect
import logging

import flask

from lbaas.api import access, conditional, errors, hot_reads, metrics, negotiation, openapi, paths

LOG = logging.getLogger(__name__)


class _JsonBodies:
    """Treat a body sent without Content-Type as JSON (upstream answers 400; we document this)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") in ("POST", "PUT") and not environ.get("CONTENT_TYPE"):
            environ["CONTENT_TYPE"] = "application/json"
        return self.app(environ, start_response)


_MAX_KNOWN = 4096


class _Flask(flask.Flask):
    """Flask, remembering which of its functions are coroutine functions (none of lbaas's):
    Flask asks again for every hook and view of every request, at a cost."""

    def ensure_sync(self, func):
        """The function to call for `func` (itself unless it is a coroutine function)."""
        known = self.__dict__.setdefault("_plain", {})
        # a view is a new bound method each request: remember its function
        target = getattr(func, "__func__", func)
        plain = known.get(target)
        if plain is None:
            plain = not inspect.iscoroutinefunction(func)
            if len(known) < _MAX_KNOWN:   # bounded, should a closure come per request
                known[target] = plain
        return func if plain else super().ensure_sync(func)


def retry_lost_races(app):
    """Run a request's view again when its write transaction lost a lock race.

    A request is one write transaction, rolled back whole when it loses a deadlock or a lock
    wait; the core's Database.retrying runs the view again, a bounded number of times, and
    only while the request has committed nothing. What is still lost after that reaches the
    error handler, which answers 409 (errors.register).
    """
    def wrap(view):
        @functools.wraps(view)
        def retried(*args, **kwargs):
            return app.extensions["lbaas_core"].db.retrying(view, *args, **kwargs)
        return retried

    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = wrap(view)


def create_app(conf, core=None, authenticate=True):
    """Build the WSGI application for a configuration (and an existing core, in tests).

    Under auth_strategy=keystone, authenticate=False leaves out the token check: the app
    then trusts the identity headers auth_token would have set (tests of the policy layer).
    """
    from lbaas.api.blueprints import amphorae
    from lbaas.api.blueprints import quotas
    from lbaas.api.blueprints import l7policies, l7rules
    from lbaas.api.blueprints import (availabilityzoneprofiles, availabilityzones,
                                      flavorprofiles, flavors)
    from lbaas.api.blueprints import (healthmonitors, listeners, loadbalancers, members,
                                      networking, pools, providers, versions)
    from lbaas.core.controller import Core

    app = _Flask("lbaas")
    app.config.update(
        LBAAS_CONF=conf,
        API_TITLE="lbaas (Octavia v2 API)",
        API_VERSION="v2",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/v2",
        OPENAPI_JSON_PATH="openapi.json",
        MAX_CONTENT_LENGTH=conf.api_settings.max_request_body_size,
    )
    app.json.sort_keys = False
    app.json.compact = True
    app.extensions["lbaas_core"] = core or Core(conf)
    api = openapi.Api(app)
    errors.register(app)
    app.before_request(metrics.remember_route)   # first: a refusal below still has its route

    @app.before_request
    def _negotiate():
        if not negotiation.accepts_json(flask.request.environ.get("HTTP_ACCEPT")):
            return errors.not_acceptable()
        return errors.check_request()

    app.after_request(conditional.add_etag)

    app.register_blueprint(versions.blp)
    app.register_blueprint(networking.blp)
    if conf.api_settings.auth_strategy == "noauth":
        from lbaas.api.blueprints import projects
        app.register_blueprint(projects.blp)
    for module in (loadbalancers, listeners, pools, members, healthmonitors, providers):
        api.register_blueprint(module.blp, url_prefix="/v2/lbaas")
    api.register_blueprint(quotas.blp, url_prefix="/v2/lbaas")
    for module in (l7policies, l7rules):
        api.register_blueprint(module.blp, url_prefix="/v2/lbaas")
    for module in (flavors, flavorprofiles, availabilityzones, availabilityzoneprofiles):
        api.register_blueprint(module.blp, url_prefix="/v2/lbaas")
    api.register_blueprint(amphorae.blp, url_prefix="/v2/octavia")
    retry_lost_races(app)
    inner = access.CallerContext(hot_reads.HotReads(app, _JsonBodies(app.wsgi_app)))
    if conf.api_settings.auth_strategy == "keystone" and authenticate:
        from lbaas.api.auth import KeystoneAuth
        try:
            inner = KeystoneAuth(inner, conf)
        except Exception:
            if core is None:  # the core this call built: stop its threads
                app.extensions["lbaas_core"].close()
            raise
    # AccessLog: the request id (X-Openstack-Request-Id, which clients print with every
    # error), the logging context and the access line; RequestMetrics: counts and latencies
    app.wsgi_app = access.AccessLog(metrics.RequestMetrics(
        _with_healthcheck(conf, paths.PathAliases(inner))))
    return app


def _with_healthcheck(conf, app):
    """GET /healthcheck answered by oslo.middleware's Healthcheck (before authentication, as
    upstream) when [api_settings] healthcheck_enabled; the application otherwise."""
    if not conf.api_settings.healthcheck_enabled:
        return app
    from lbaas.metrics import health
    check = health.make_app(conf, health.backends_for(conf), app)

    def dispatch(environ, start_response):
        if environ.get("PATH_INFO") == "/healthcheck":
            environ[metrics.ROUTE_KEY] = "/healthcheck"
            return check(environ, start_response)
        return app(environ, start_response)
    return dispatch
