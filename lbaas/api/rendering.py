"""Shared response plumbing: field selection, list envelopes and pagination links."""
import urllib.parse

from flask import current_app, request

from lbaas.api.paths import ORIGINAL_PATH
from lbaas.core import listing

# Characters a link's query values keep as the client wrote them (sort=name:desc,id).
LINK_SAFE = ":,"


def query_args():
    """The query string as a dict of name to list of values."""
    return {k: request.args.getlist(k) for k in request.args}


def list_options():
    """The caller's list options (filters, sort, pagination)."""
    return listing.parse(query_args(), current_app.config["LBAAS_CONF"])


def _selected(body, wanted):
    return {k: v for k, v in body.items() if k in wanted}


def wanted_fields():
    """The attributes named by fields=, or None for all."""
    if not request.query_string:
        return None
    conf = current_app.config["LBAAS_CONF"]
    if not conf.api_settings.allow_field_selection:
        return None
    names = [f for v in request.args.getlist("fields") for f in v.split(",") if f]
    return set(names) or None


def one(key, body):
    """A single object under its envelope key, trimmed to fields= if given."""
    return selected(key, body, wanted_fields())


def selected(key, body, wanted):
    """A single object under its envelope key, trimmed to `wanted` (wanted_fields()) if any."""
    return {key: _selected(body, wanted) if wanted else body}


def _href(params):
    conf = current_app.config["LBAAS_CONF"]
    path = request.environ.get(ORIGINAL_PATH, request.path)
    base = conf.api_settings.api_base_uri
    root = base.rstrip("/") if base else request.host_url.rstrip("/")
    query = "&".join(f"{k}={urllib.parse.quote(str(v), safe=LINK_SAFE)}" for k, v in params)
    return f"{root}{path}?{query}"


def links(page):
    """The previous/next links of a page, in that order."""
    result = []
    if page.previous_marker:
        result.append({"href": _href(page.link_params + [("marker", page.previous_marker),
                                                          ("page_reverse", "True")]),
                       "rel": "previous"})
    if page.next_marker:
        result.append({"href": _href(page.link_params + [("marker", page.next_marker)]),
                       "rel": "next"})
    return result


def many(key, page, render):
    """A list response: objects under `key`, links under `key_links`."""
    wanted = wanted_fields()
    items = [render(r) for r in page.rows]
    if wanted:
        items = [_selected(i, wanted) for i in items]
    return {key: items, f"{key}_links": links(page)}
