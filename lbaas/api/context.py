"""The request context: who is calling, taken from the authentication in force."""
from flask import current_app, request

from lbaas.core.context import RequestContext


def current():
    """The caller of the current request (under noauth: an admin of the header's project)."""
    conf = current_app.config["LBAAS_CONF"]
    project = (request.headers.get("X-Project-Id") or request.headers.get("X-Tenant-Id")
               or request.headers.get("X-Tenant"))
    return RequestContext(project_id=project, is_admin=True, roles=("admin",),
                          auth_strategy=conf.api_settings.auth_strategy)


def core():
    """The core this app serves."""
    return current_app.extensions["lbaas_core"]
