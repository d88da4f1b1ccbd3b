"""Keystone authentication: keystonemiddleware's auth_token in front of the API.

Configured in `[keystone_authtoken]`, as every OpenStack service is. auth_token
validates the X-Auth-Token of each request (401 when it is missing or invalid),
strips identity headers a caller may have forged, and sets X-User-Id,
X-Project-Id, X-Roles and friends from the token; lbaas.api.context reads them.
The version document at `/` stays public, because clients discover the API
before they authenticate.
"""
from keystonemiddleware import auth_token

from lbaas.conf import register_keystone_opts

# Paths answered without a token.
PUBLIC_PATHS = frozenset(("/", ""))


class KeystoneAuth:
    """auth_token for every request except the public version document."""

    def __init__(self, app, conf):
        self.app = app
        register_keystone_opts(conf)
        self.protected = auth_token.AuthProtocol(app, {"oslo_config_config": conf})
        settings = conf.keystone_authtoken
        if not settings.www_authenticate_uri and not settings.auth_type:
            # Without either, every request would fail inside auth_token: say so at start-up.
            raise ValueError("auth_strategy = keystone needs [keystone_authtoken] "
                             "www_authenticate_uri and auth_type (with its credentials)")

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "") in PUBLIC_PATHS:
            return self.app(environ, start_response)
        return self.protected(environ, start_response)
