"""The request context: who is calling, taken from the authentication in force."""
import dataclasses

from flask import current_app, request
from oslo_context import context as oslo_context

from lbaas.core import constants as c
from lbaas.core import errors
from lbaas.core.context import RequestContext

KEYSTONE = "keystone"
CONFIRMED = "Confirmed"
# Where a noauth caller names its project, first match wins (upstream's order).
PROJECT_HEADERS = ("X-Project-Id", "X-Tenant-Id", "X-Tenant")
# ... and their WSGI environ keys (read there: request.headers costs more per lookup)
_PROJECT_KEYS = tuple((name, "HTTP_" + name.upper().replace("-", "_")) for name in PROJECT_HEADERS)


def current():
    """The caller of the current request (under noauth: an admin of the header's project)."""
    return caller(request.environ, current_app.config["LBAAS_CONF"], core().policy)


def caller(environ, conf, authorizer):
    """The caller of the request a WSGI environ belongs to, under `conf`'s auth_strategy."""
    strategy = conf.api_settings.auth_strategy
    if strategy == KEYSTONE:
        return from_identity(environ, authorizer)
    return RequestContext(project_id=header_project(environ), is_admin=True, roles=("admin",),
                          auth_strategy=strategy)


def header_project(environ):
    """The project a noauth caller names in its headers, held to the body's project_id rules."""
    for name, key in _PROJECT_KEYS:
        value = environ.get(key)
        if not value:
            continue
        if len(value) > c.MAX_PROJECT_ID:
            raise errors.InvalidInput(
                attr=name, value=value,
                reason=f"Value should have a maximum character requirement of "
                       f"{c.MAX_PROJECT_ID}")
        if "\x00" in value:
            raise errors.InvalidInput(attr=name, value=ascii(value)[1:-1],
                                      reason="Value should not contain NUL characters.")
        return value
    return None


def from_identity(environ, authorizer):
    """The caller auth_token identified, from the headers it set in a WSGI environ.

    Only a request auth_token marked `X-Identity-Status: Confirmed` has an identity;
    any other is anonymous (no project, no roles), so every rule denies it. Roles are
    lowercased, and is_admin is the `context_is_admin` rule.
    """
    if environ.get("HTTP_X_IDENTITY_STATUS") != CONFIRMED:
        return RequestContext(auth_strategy=KEYSTONE)
    # overwrite=False: the request's logging context (lbaas.api.access) stays in force
    identity = oslo_context.RequestContext.from_environ(environ, overwrite=False)
    ctx = RequestContext(
        project_id=identity.project_id or None, user_id=identity.user_id or None,
        roles=tuple(r.lower() for r in identity.roles if r), auth_strategy=KEYSTONE,
        system_scope=identity.system_scope or None, domain_id=identity.domain_id or None,
        user_domain_id=identity.user_domain_id or None,
        project_domain_id=identity.project_domain_id or None,
        auth_token=identity.auth_token or None)
    return dataclasses.replace(ctx, is_admin=authorizer.is_admin(ctx))


def core():
    """The core this app serves."""
    return current_app.extensions["lbaas_core"]
