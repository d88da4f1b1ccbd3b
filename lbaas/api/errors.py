"""Every error leaves the API in Octavia's shape: {"faultcode", "faultstring", "debuginfo"}."""
import json
import logging

from flask import Response, current_app, g, request
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from lbaas.api import access
from lbaas.core import errors, lost_race

LOG = logging.getLogger(__name__)
UNKNOWN = "Unknown field."
INVALID_JSON = "Request is not in valid JSON format"


def fault_body(code, message):
    """Octavia's error body for an HTTP status and a message, as JSON bytes."""
    body = {"faultcode": "Client" if code < 500 else "Server", "faultstring": message,
            "debuginfo": None}
    return json.dumps(body).encode()


def fault(code, message):
    """A response carrying Octavia's error body."""
    return Response(fault_body(code, message), status=code, mimetype="application/json")


def not_acceptable():
    """The 406 Octavia answers, in the API-WG error shape."""
    body = {"errors": [{"status": 406, "title": "Not Acceptable",
                        "detail": "Only content type application/json is accepted.",
                        "request_id": access.request_id(request.environ)}]}
    return Response(json.dumps(body), status=406, mimetype="application/json")


def _raw_value(raw, path):
    for key in path:
        if isinstance(raw, dict):
            raw = raw.get(key)
        elif isinstance(raw, list) and isinstance(key, int) and key < len(raw):
            raw = raw[key]
        else:
            return None
    return raw


def _first_error(messages, path=()):
    """The path and reason of the first leaf error, and any unknown attributes beside it."""
    unknown = [k for k, v in messages.items() if v == [UNKNOWN]] if isinstance(messages, dict) \
        else []
    if unknown:
        return path, None, unknown
    if isinstance(messages, list):
        return path, messages[0] if messages else "Invalid value", []
    for key, value in messages.items():
        if key == "_schema":
            return path, value[0] if isinstance(value, list) else str(value), []
        return _first_error(value, path + (key,))
    return path, "Invalid value", []


def validation_message(messages, raw):
    """Octavia's faultstring for a marshmallow error tree over the raw request body."""
    path, reason, unknown = _first_error(messages)
    dotted = ".".join(str(p) for p in path if not isinstance(p, int))
    if unknown:
        noun = "attributes" if len(unknown) > 1 else "attribute"
        return f"Unknown {noun} for argument {dotted or 'body'}: {', '.join(sorted(unknown))}"
    if not path:
        return reason
    attr = str([p for p in path if not isinstance(p, int)][-1])
    if reason == "Value should be an object" and len(path) == 1:
        return f"Missing argument: \"{attr}\""
    value = _raw_value(raw, path)
    return f"Invalid input for field/attribute {attr}. Value: '{value}'. {reason}"


def _webargs_error(exc):
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages") or {}
    if "json" in messages:
        messages = messages["json"]
    if messages == ["Invalid JSON body."] or messages == {"_schema": ["Invalid JSON body."]}:
        return fault(400, INVALID_JSON)
    if "_schema" in messages and messages["_schema"] == ["Invalid input type."]:
        return fault(400, "Invalid input for body. The request body must be an object.")
    raw = request.get_json(silent=True)
    return fault(400, validation_message(messages, raw))


def _first_bad_text(body):
    """The (key, string) of the first string no database can store: NUL or a lone surrogate."""
    stack = [(None, body)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((None, k) for k in value)
            stack.extend(value.items())
        elif isinstance(value, list):
            stack.extend((key, v) for v in value)
        elif isinstance(value, str) and not _storable(value):
            return key, value
    return None


def _storable(text):
    """Whether a string can be stored as text by every supported database."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_request():
    """A fault for a request no handler should see: bad JSON, text no database can store, or
    a query string longer than allowed."""
    req = request._get_current_object()   # one proxy lookup, not one per use
    if not _storable(req.path):
        return fault(404, "The requested URL was not found on the server.")
    query = req.query_string
    if query:
        limit = current_app.config["LBAAS_CONF"].api_settings.max_query_string_length
        if len(query) > limit:
            too_long = errors.QueryStringTooLong(length=len(query), limit=limit)
            return fault(too_long.code, too_long.message)
        if any(not _storable(v) for values in req.args.listvalues() for v in values):
            return fault(400, "Query parameters may not contain NUL characters.")
    if req.method not in ("POST", "PUT") or not req.get_data(cache=True):
        return None
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return fault(400, INVALID_JSON)
    g.json_body = body  # parsed once: the schemas' parser reads it from here
    bad = _first_bad_text(body)
    if bad is not None:
        key, value = bad
        return fault(400, f"Invalid input for field/attribute {key or 'body'}. Value: "
                          f"'{ascii(value)[1:-1]}'. Value should not contain NUL characters "
                          "or unpaired surrogates.")
    return None


def register(app):
    """Install the error handlers on a Flask app."""

    @app.errorhandler(errors.APIError)
    def _api_error(exc):
        if exc.code >= 500:
            LOG.error("%s (operator detail: %s)", exc.message, exc.operator_message)
        return fault(exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc):
        if getattr(exc, "data", None) and exc.code in (400, 422):
            return _webargs_error(exc)
        if exc.code == 413:
            limit = app.config.get("MAX_CONTENT_LENGTH")
            return fault(413, f"Request body is larger than {limit} bytes.")
        response = fault(exc.code or 500, exc.description or exc.name)
        for name, value in exc.get_headers():   # Allow of a 405, WWW-Authenticate, ...
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(DBAPIError)
    def _database_error(exc):
        if lost_race.lost(exc):   # still losing after the retries (api.retry_lost_races)
            busy = errors.ConcurrentUpdate()
            LOG.warning("%s %s: %s (%s)", request.method, request.path, busy.message, exc.orig)
            return fault(busy.code, busy.message)
        return _unexpected(exc)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        LOG.exception("unexpected error serving %s %s", request.method, request.path)
        return fault(500, "Something unknown went wrong")
