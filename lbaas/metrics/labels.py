"""Label values with a bounded set of values: a label must never carry what a client chose."""

OTHER = "other"
UNROUTED = "unrouted"
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))
MAX_ROUTE = 200


def bounded(value, allowed, other=OTHER):
    """`value` when it is one of `allowed`, else `other`."""
    return value if value in allowed else other


def method(value):
    """The HTTP method as a label: one of METHODS or "other"."""
    return bounded(str(value).upper(), METHODS)


def status(code):
    """An HTTP status code as a label: its three digits, or "other" outside 100-599."""
    try:
        code = int(code)
    except (TypeError, ValueError):
        return OTHER
    return str(code) if 100 <= code <= 599 else OTHER


def route(rule):
    """The URL rule a request matched (Flask's `url_rule.rule`), or "unrouted" for none.

    A rule comes from the application's own routes, never from the request, so the label
    has as many values as the application has routes."""
    if not rule:
        return UNROUTED
    rule = str(rule)
    return rule if len(rule) <= MAX_ROUTE else OTHER
