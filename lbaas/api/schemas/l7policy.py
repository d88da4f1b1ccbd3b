"""Request bodies of the L7 policy resource."""
import re
import urllib.parse

from marshmallow import ValidationError, fields, validate

from lbaas.api.schemas import fields as f
from lbaas.api.schemas.l7rule import GraphL7Rule
from lbaas.api.schemas.pool import GraphPool
from lbaas.core import constants as c

URL_REASON = "Value must be a valid URL string"
# The characters RFC 3986 allows in a URI; '%' only as the start of an escape.
_URI_CHARS = re.compile(r"\A(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+\Z")


def _url(value):
    """An absolute http(s) URL with a host (and a valid port, if any)."""
    try:
        parts = urllib.parse.urlsplit(value)
        ok = bool(_URI_CHARS.match(value)) and parts.scheme in ("http", "https") \
            and bool(parts.hostname) and parts.port != 0
    except ValueError:  # an unparsable host or a port out of range
        ok = False
    if not ok:
        raise ValidationError(URL_REASON)


def Url(**kw):
    """A redirect target: an http or https URL of at most 255 characters."""
    return fields.String(validate=[validate.Length(
        max=c.MAX_REF, error="Value should have a maximum character requirement of {max}"), _url],
        error_messages={"null": "Value may not be null.", "invalid": URL_REASON,
                        "required": f.MANDATORY}, **kw)


def HttpCode(**kw):
    """A redirect HTTP status code."""
    codes = ", ".join(str(code) for code in c.REDIRECT_HTTP_CODES)
    return f.Integer(strict=False, validate=validate.OneOf(
        c.REDIRECT_HTTP_CODES, error=f"Value should be one of: {codes}"),
        error_messages={"null": "Value may not be null.",
                        "invalid": "Wrong type. Expected 'int'", "required": f.MANDATORY}, **kw)


class _L7Policy(f.Strict):
    name = f.Str(allow_none=True)
    description = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    action = f.Enum(c.L7_ACTIONS, allow_none=True)
    redirect_url = Url(allow_none=True)
    redirect_prefix = Url(allow_none=True)
    redirect_http_code = HttpCode(allow_none=True)
    position = f.Int(c.MIN_POSITION, c.MAX_POSITION, allow_none=True)
    tags = f.Tags(allow_none=True)


class L7PolicyPUT(_L7Policy):
    redirect_pool_id = f.Uuid(allow_none=True)


class GraphL7Policy(_L7Policy):
    """A policy nested in a listener of a load balancer graph; its pool is given as an object."""

    action = f.Enum(c.L7_ACTIONS, required=True)
    redirect_pool = fields.Nested(GraphPool, allow_none=True)
    rules = f.List(fields.Nested(GraphL7Rule), allow_none=True)


class L7PolicyPOST(L7PolicyPUT, f.Owned):
    listener_id = f.Uuid(required=True)
    action = f.Enum(c.L7_ACTIONS, required=True)
    rules = f.List(fields.Nested(GraphL7Rule), allow_none=True)


L7PolicyCreate = f.envelope("l7policy", L7PolicyPOST, "L7PolicyCreate")
L7PolicyUpdate = f.envelope("l7policy", L7PolicyPUT, "L7PolicyUpdate")
