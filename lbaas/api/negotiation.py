"""Content negotiation: whether a request's Accept header admits the API's only answer, JSON."""
import functools
import re

from werkzeug.datastructures import MIMEAccept
from werkzeug.http import parse_accept_header

_MEDIA_RANGE = re.compile(r"^[A-Za-z0-9!#$&^_.+*-]+/[A-Za-z0-9!#$&^_.+*-]+$")


@functools.lru_cache(maxsize=256)
def accepts_json(header):
    """Whether an Accept header admits JSON; a header webob cannot parse counts as absent.

    Cached by value: clients send few distinct headers, and parsing one each time was a
    noticeable part of a cheap GET."""
    if not header:
        return True
    accept = parse_accept_header(header, MIMEAccept)
    values = list(accept.values())
    if not values or not all(_MEDIA_RANGE.match(v) for v in values):
        return True
    return bool(accept.best_match(["application/json"]))
