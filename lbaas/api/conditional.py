"""Conditional GETs: a strong ETag on every successful GET, 304 Not Modified on a match.

Every 200 answer to a GET carries `ETag`, a digest of exactly the bytes of its body, so it
changes when, and only when, the answer would change. A request whose `If-None-Match`
names the current tag (or `*`) gets 304 with no body. The hot reads (one load balancer, a
status tree) compute their tag from the database records they read, before rendering, so
their 304 skips rendering and serialisation altogether; records hold every value the
answer is made of, so the tag is as exact as the body's. The tags are the same in every
process of a deployment (no per-process state: nothing can be stale).
"""
import hashlib
import importlib.metadata
import marshal
import pathlib

import flask
from werkzeug.http import parse_etags

from lbaas.api import views
from lbaas.core.services import loadbalancers as status_tree_view


def _digest(data):
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def _render_revision():
    """What else the answers depend on: lbaas's version and the code of its views and of the
    status tree's (a deployment upgraded with a changed view must not answer 304 to an old
    tag)."""
    try:
        version = importlib.metadata.version("lbaas")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    code = b"".join(pathlib.Path(module.__file__).read_bytes()
                    for module in (views, status_tree_view))
    return version + _digest(code)


_CONDITIONAL = ("GET", "HEAD")


REVISION = _render_revision()


def _exact_bytes(value):
    """Bytes that differ exactly when `value` does, the same in every process: marshal's
    format 2 where it can write the value (plain tuples, lists, strings, numbers, None: it
    writes values, never object references, so equal values give equal bytes), else repr."""
    try:
        return marshal.dumps(value, 2)
    except ValueError:   # datetimes, records
        return repr(value).encode()


def tag_of(kind, records, fields=None):
    """The ETag of the answer rendered from `records` (plain values, or records of them)
    with the fields= selection `fields`."""
    return _digest(_exact_bytes((REVISION, kind, records, sorted(fields or ()))))


def names(header, tag):
    """Whether an If-None-Match header's value names `tag` (or is `*`)."""
    return parse_etags(header).contains_weak(tag)


def _matches(tag):
    request = flask.request._get_current_object()
    header = request.environ.get("HTTP_IF_NONE_MATCH")
    return header is not None and request.method in _CONDITIONAL and names(header, tag)


def not_modified(tag):
    """A 304 answer if the request's If-None-Match names `tag` (or `*`), else None."""
    if not _matches(tag):
        return None
    response = flask.Response(status=304)
    response.set_etag(tag)
    return response


def tagged(body, tag):
    """The JSON answer of `body` with the ETag `tag`."""
    response = flask.current_app.json.response(body)
    response.set_etag(tag)
    return response


def add_etag(response):
    """after_request: tag a successful GET's body (unless its view did), or turn it into a
    304 when If-None-Match names that tag."""
    if flask.request.method not in _CONDITIONAL or response.status_code != 200 \
            or response.direct_passthrough or "ETag" in response.headers:
        return response
    tag = _digest(response.get_data())
    if _matches(tag):
        response = flask.Response(status=304, headers={
            k: v for k, v in response.headers.items()
            if k.lower() not in ("content-type", "content-length")})
    response.set_etag(tag)
    return response
