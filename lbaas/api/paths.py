"""WSGI middleware mapping Octavia's URL aliases onto one canonical tree.

/v2.0/... is /v2/...; /v2/<collection> is /v2/lbaas/<collection>; a .json
suffix on the last segment is ignored. The path the client used is kept in
the environ for pagination links.
"""
LBAAS_COLLECTIONS = frozenset((
    "loadbalancers", "listeners", "pools", "healthmonitors", "l7policies", "quotas",
    "providers", "flavors", "flavorprofiles", "availabilityzones", "availabilityzoneprofiles"))
ORIGINAL_PATH = "lbaas.original_path"
OPENAPI_PATH = "/v2/openapi.json"  # a real file name: its .json is not the ignored suffix


def canonical(path):
    """The canonical form of a request path."""
    if path == "/v2.0" or path.startswith("/v2.0/"):
        path = "/v2" + path[5:]
    if path.endswith(".json") and path != OPENAPI_PATH:
        path = path[:-5]
    parts = path.split("/")
    if len(parts) > 2 and parts[1] == "v2" and parts[2] in LBAAS_COLLECTIONS:
        path = "/v2/lbaas/" + "/".join(parts[2:])
    return path


class PathAliases:
    """Rewrite PATH_INFO to its canonical form before Flask routes it."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        environ[ORIGINAL_PATH] = path
        environ["PATH_INFO"] = canonical(path)
        return self.app(environ, start_response)
