"""The metrics port of a process: GET /metrics (Prometheus text) and /healthcheck.

A small threaded WSGI server (wsgiref) on [metrics] bind_host and the process's port, off
the public API. Anything else is 404; a request that is not HTTP gets the standard
library's 400; a client that sends nothing for TIMEOUT seconds is dropped.
"""
import logging
import socketserver
import threading
from wsgiref import simple_server

LOG = logging.getLogger(__name__)
TIMEOUT = 10


class _Handler(simple_server.WSGIRequestHandler):
    timeout = TIMEOUT

    def log_message(self, fmt, *args):
        LOG.debug("metrics %s: " + fmt, self.client_address[0], *args)


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True


def _not_found(environ, start_response):
    start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
    return [b"not found: this port serves /metrics and /healthcheck\n"]


def make_app(registry, healthcheck=None):
    """The WSGI application: /metrics from `registry`, /healthcheck from `healthcheck`."""
    from prometheus_client import make_wsgi_app
    metrics = make_wsgi_app(registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthcheck" and healthcheck is not None:
            return healthcheck(environ, start_response)
        return _not_found(environ, start_response)
    return app


class MetricsServer:
    """The metrics port, served by a daemon thread."""

    def __init__(self, host, port, app):
        self._server = simple_server.make_server(host, port, app, server_class=_Server,
                                                 handler_class=_Handler)
        self._thread = None

    @property
    def address(self):
        """(host, port) it listens on."""
        return self._server.server_address[:2]

    def start(self):
        """Serve in a daemon thread; -> self."""
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        name="metrics-server", daemon=True)
        self._thread.start()
        return self

    def close_listener(self):
        """Close the listening socket only (a forked child that must not keep it)."""
        self._server.socket.close()

    def stop(self):
        """Stop serving and close the socket."""
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(5)
        self._server.server_close()

    def describe(self):
        """One line for a process's start-up message."""
        host, port = self.address
        return f"metrics:   http://{host}:{port}/metrics and /healthcheck"


def start(conf, port, loops=False):
    """Serve this process's metrics and health on [metrics] bind_host:port when [metrics]
    enabled; -> the MetricsServer, or None."""
    if not conf.metrics.enabled:
        return None
    from lbaas.metrics import health, multiproc
    healthcheck = health.make_app(conf, health.backends_for(conf, loops=loops), _not_found)
    server = MetricsServer(conf.metrics.bind_host, port,
                           make_app(multiproc.registry(), healthcheck))
    return server.start()
