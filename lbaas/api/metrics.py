"""Counting API requests for Prometheus: by URL rule (never the raw path), method and status.

A WSGI middleware outside everything else (authentication, path aliases) times each
request and counts its answer; Flask's before_request hook tells it which URL rule matched,
through the WSGI environ. A request no rule matched (404, 405, or refused before routing,
such as a 401) is counted as "unrouted", so the route label has as many values as the
application has routes.
"""
import time

import flask

from lbaas.metrics import labels

ROUTE_KEY = "lbaas.route"


def remember_route():
    """Flask before_request hook: the matched URL rule, for the middleware."""
    rule = flask.request.url_rule
    if rule is not None:
        flask.request.environ[ROUTE_KEY] = rule.rule


class RequestMetrics:
    """WSGI middleware: lbaas_api_requests_total and lbaas_api_request_duration_seconds."""

    def __init__(self, app):
        # imported here, not with the module: `lbaas serve` may switch prometheus-client to
        # its multiprocess mode (lbaas.cmd.api_processes) after importing the API package,
        # but before building the application
        from lbaas.metrics import definitions
        self.app, self.definitions = app, definitions

    def __call__(self, environ, start_response):
        start = time.perf_counter()
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        try:
            return self.app(environ, recording_start_response)
        finally:
            route = labels.route(environ.get(ROUTE_KEY))
            method = labels.method(environ.get("REQUEST_METHOD", ""))
            self.definitions.API_REQUESTS.labels(
                route, method, labels.status(seen.get("status", 500))).inc()
            self.definitions.API_LATENCY.labels(route, method).observe(
                time.perf_counter() - start)
