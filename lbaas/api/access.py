"""Per-request logging of the API: the request id and project in every record, one access line.

`AccessLog` is the outermost WSGI middleware: it gives each request its id (`req-<uuid>`,
answered in X-Openstack-Request-Id and kept in environ["openstack.request_id"]), stores an
oslo.context RequestContext thread-locally so oslo.log's formatter prints the id in every
record of the request, and logs one line when the answer is sent:

    127.0.0.1 "GET /v2/lbaas/loadbalancers HTTP/1.1" status: 200 len: 45 time: 0.0031

on logger `lbaas.api.access` at INFO (`default_log_levels = lbaas.api.access=WARN` turns
it off). `CallerContext`, inside authentication, adds the caller's project and user once
they are known (from auth_token's headers, or X-Project-Id under noauth).
"""
import logging
import time
import uuid

from oslo_context import context as oslo_context

from lbaas.api.access_line import AccessWriter

LOG = logging.getLogger(__name__)
REQUEST_ID_ENV = "openstack.request_id"   # where oslo.middleware's RequestId keeps it too
REQUEST_ID_HEADER = "X-OpenStack-Request-ID"
MAX_ID = 255   # a longer or unprintable project or user id is not logged as given


def request_id(environ):
    """The id of the request an environ belongs to (a new one outside AccessLog)."""
    return environ.get(REQUEST_ID_ENV) or "req-" + str(uuid.uuid4())


def printable(text):
    """`text` with control characters escaped, so a client cannot write them into a log."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _target(environ):
    path = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    query = environ.get("QUERY_STRING")
    return printable(path + ("?" + query if query else ""))


class _Body:
    """The answer's body, counted as it is sent; the access line is logged on close()."""

    def __init__(self, body, done):
        self._body, self._done, self.length = body, done, 0

    def __iter__(self):
        for chunk in self._body:
            self.length += len(chunk)
            yield chunk

    def close(self):
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            self._done(self.length)


class AccessLog:
    """The request id, the thread-local logging context and one access line per request."""

    def __init__(self, app):
        self.app = app
        self.writer = AccessWriter(LOG)

    def __call__(self, environ, start_response):
        started = time.monotonic()
        rid = environ[REQUEST_ID_ENV] = "req-" + str(uuid.uuid4())
        oslo_context.RequestContext(request_id=rid, overwrite=True)
        status = []

        def start(code, headers, exc_info=None):
            status[:] = [code.split(" ", 1)[0]]
            headers = [(k, v) for k, v in headers if k.lower() != REQUEST_ID_HEADER.lower()]
            headers.append((REQUEST_ID_HEADER, rid))
            return start_response(code, headers, exc_info)

        def done(length):
            self.writer.write(
                f'{environ.get("REMOTE_ADDR", "-")} '
                f'"{printable(environ.get("REQUEST_METHOD", ""))} {_target(environ)} '
                f'{printable(environ.get("SERVER_PROTOCOL", ""))}" '
                f'status: {status[0] if status else "-"} len: {length} '
                f'time: {time.monotonic() - started:.4f}')

        try:
            body = self.app(environ, start)
        except BaseException:
            done(0)
            raise
        return _Body(body, done)


def _identity(value):
    if value and len(value) <= MAX_ID and value.isprintable():
        return value
    return None


class CallerContext:
    """Add the caller's project and user to the request's logging context (after auth)."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        project = next(filter(None, (environ.get(k) for k in (
            "HTTP_X_PROJECT_ID", "HTTP_X_TENANT_ID", "HTTP_X_TENANT"))), None)
        oslo_context.RequestContext(request_id=request_id(environ),
                                    project_id=_identity(project),
                                    user_id=_identity(environ.get("HTTP_X_USER_ID")),
                                    overwrite=True)
        return self.app(environ, start_response)
