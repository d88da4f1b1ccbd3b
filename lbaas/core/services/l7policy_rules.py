"""The L7 policy's field rules: action versus redirect arguments, and the redirect pool."""
from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.services import config_rules

REJECT, TO_URL, TO_POOL, PREFIX = "REJECT", "REDIRECT_TO_URL", "REDIRECT_TO_POOL", "REDIRECT_PREFIX"
REDIRECT_FIELDS = ("redirect_pool_id", "redirect_url", "redirect_prefix", "redirect_http_code")
# The redirect fields each action keeps; the others are stored null.
KEPT = {REJECT: (), TO_POOL: ("redirect_pool_id",),
        TO_URL: ("redirect_url", "redirect_http_code"),
        PREFIX: ("redirect_prefix", "redirect_http_code")}
# What each redirecting action cannot do without.
ARGUMENT = {TO_POOL: "redirect_pool_id", TO_URL: "redirect_url", PREFIX: "redirect_prefix"}
# Fields rendered into haproxy.cfg as text.
RENDERED = ("redirect_url", "redirect_prefix")
# Fields a create or update body may set on the row (position is placed, not set).
WRITABLE = ("name", "description", "admin_state_up", "action") + REDIRECT_FIELDS


def _explicit_action(values):
    """Clear or demand the redirect arguments an explicitly given action implies."""
    action = values["action"]
    if action == REJECT:
        values.update(redirect_url=None, redirect_pool_id=None)
    elif action == TO_URL:
        if not values.get("redirect_url"):
            raise errors.InvalidL7PolicyArgs(msg="redirect_url must not be None")
        values["redirect_pool_id"] = None
    elif action == TO_POOL:
        if not values.get("redirect_pool_id"):
            raise errors.InvalidL7PolicyArgs(
                msg="redirect_pool_id or redirect_pool must not be None")
        values["redirect_url"] = None
    elif action == PREFIX:
        if not values.get("redirect_prefix"):
            raise errors.InvalidL7PolicyArgs(msg="redirect_prefix must not be None")
    else:
        raise errors.InvalidL7PolicyAction(action=action)


def _implicit_action(values):
    """A non-null redirect argument decides the action and clears the other arguments."""
    if values.get("redirect_pool_id"):
        values.update(action=TO_POOL, redirect_url=None, redirect_prefix=None,
                      redirect_http_code=None)
    if values.get("redirect_url"):
        values.update(action=TO_URL, redirect_pool_id=None, redirect_prefix=None)
        values["redirect_http_code"] = values.get("redirect_http_code") or \
            c.DEFAULT_REDIRECT_HTTP_CODE
    if values.get("redirect_prefix"):
        values.update(action=PREFIX, redirect_pool_id=None, redirect_url=None)
        values["redirect_http_code"] = values.get("redirect_http_code") or \
            c.DEFAULT_REDIRECT_HTTP_CODE


def normalize(sent, create=False):
    """The action and redirect arguments of a body made consistent, as Octavia does (a copy).

    An explicit action demands its argument and clears the others; then a non-null
    redirect argument switches the action to the one it belongs to (so an update that
    only sends redirect_url turns the policy into a URL redirect).
    """
    values = dict(sent)
    if "action" in values:
        _explicit_action(values)
    if values.get("redirect_pool_id") and (values.get("redirect_url")
                                           or values.get("redirect_prefix")):
        raise errors.InvalidL7PolicyArgs(
            msg="Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the "
                "same time")
    _implicit_action(values)
    if create and "action" not in values:
        raise errors.InvalidL7PolicyAction(action=None)
    return values


def settle(action, values):
    """Null the redirect fields the final action does not use; 400 if it lacks its argument.

    A redirecting action whose code is null gets the default code.
    """
    for field in REDIRECT_FIELDS:
        if field not in KEPT[action]:
            values[field] = None
    if "redirect_http_code" in KEPT[action] and values.get("redirect_http_code") is None:
        values["redirect_http_code"] = c.DEFAULT_REDIRECT_HTTP_CODE
    needed = ARGUMENT.get(action)
    if needed and not values.get(needed):
        raise errors.InvalidL7PolicyArgs(msg=f"{needed} must not be None")
    return values


def values_for_create(body):
    """A new policy's column values: the body's, made consistent, with defaults."""
    config_rules.check(body, text=RENDERED)
    values = normalize({k: body[k] for k in WRITABLE if k in body}, create=True)
    values = {k: values.get(k) for k in WRITABLE}
    values["admin_state_up"] = bool(body.get("admin_state_up", True))
    values["position"] = body.get("position") or c.MAX_POSITION
    return settle(values["action"], values)


def changes_for_update(row, body):
    """The validated column changes of a policy update body (position included, if sent).

    The body is made consistent on its own first, as Octavia does; then the fields the
    resulting action does not use are nulled against the stored ones too.
    """
    config_rules.check(body, text=RENDERED)
    sent = {k: body[k] for k in WRITABLE + ("position",) if k in body}
    if not sent and "tags" not in body:
        raise errors.InvalidL7PolicyArgs(msg="Invalid update options")
    changes = normalize(sent)
    if "admin_state_up" in changes:
        changes["admin_state_up"] = bool(changes["admin_state_up"])
    if "position" in changes and changes["position"] is None:
        changes["position"] = c.MAX_POSITION
    merged = {k: getattr(row, k) for k in REDIRECT_FIELDS}
    merged.update({k: v for k, v in changes.items() if k in REDIRECT_FIELDS})
    action = changes.get("action", row.action)
    for field, value in settle(action, merged).items():
        if value != getattr(row, field) or field in changes:
            changes[field] = value
    return changes


def check_listener(listener):
    """400 for a policy on a listener that takes no children (PROMETHEUS)."""
    if listener.protocol == "PROMETHEUS":
        raise errors.ListenerNoChildren(protocol=listener.protocol)


def check_redirect_pool(listener, pool, pool_id):
    """404 unless the pool is on the listener's load balancer; 400 if it cannot take its traffic."""
    if pool is None or pool.loadbalancer_id != listener.loadbalancer_id:
        raise errors.NotFound(resource="Pool", id=pool_id)
    if pool.protocol not in c.LISTENER_POOL_PROTOCOLS[listener.protocol]:
        raise errors.ValidationException(
            detail=f"The pool protocol '{pool.protocol}' is invalid while the listener "
                   f"protocol is '{listener.protocol}'.")
