"""Request bodies of the listener resource."""
from marshmallow import fields

from lbaas.api.schemas import fields as f
from lbaas.api.schemas.l7policy import GraphL7Policy
from lbaas.api.schemas.pool import GraphPool
from lbaas.core import constants as c


def _timeout():
    return f.Int(0, c.MAX_TIMEOUT_MS, allow_none=True)


class ListenerPUT(f.Strict):
    name = f.Str(allow_none=True)
    description = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    connection_limit = f.Int(c.MIN_CONNECTION_LIMIT, allow_none=True)
    default_pool_id = f.Uuid(allow_none=True)
    insert_headers = f.Dict(allow_none=True)
    timeout_client_data = _timeout()
    timeout_member_connect = _timeout()
    timeout_member_data = _timeout()
    timeout_tcp_inspect = _timeout()
    default_tls_container_ref = f.Str(c.MAX_REF, allow_none=True)
    sni_container_refs = f.List(f.Str(c.MAX_REF), allow_none=True)
    client_ca_tls_container_ref = f.Str(c.MAX_REF, allow_none=True)
    client_authentication = f.Enum(c.CLIENT_AUTH_MODES, allow_none=True)
    client_crl_container_ref = f.Str(c.MAX_REF, allow_none=True)
    allowed_cidrs = f.List(f.Str(64), allow_none=True)
    tls_ciphers = f.Str(c.MAX_CIPHERS, allow_none=True)
    tls_versions = f.List(f.Enum(c.TLS_VERSIONS), allow_none=True)
    alpn_protocols = f.List(f.Enum(c.ALPN_PROTOCOLS), allow_none=True)
    hsts_max_age = f.Int(0, allow_none=True)
    hsts_include_subdomains = f.Bool(allow_none=True)
    hsts_preload = f.Bool(allow_none=True)
    tags = f.Tags(allow_none=True)


class GraphListener(ListenerPUT, f.Owned):
    """A listener nested in a load balancer graph, with its default pool inline or by name."""

    protocol = f.Enum(c.LISTENER_PROTOCOLS, required=True)
    protocol_port = f.Int(c.MIN_PORT, c.MAX_PORT, required=True)
    default_pool = fields.Nested(GraphPool, allow_none=True)
    l7policies = f.List(fields.Nested(GraphL7Policy), allow_none=True)


class ListenerPOST(GraphListener):
    loadbalancer_id = f.Uuid(required=True)


ListenerCreate = f.envelope("listener", ListenerPOST, "ListenerCreate")
ListenerUpdate = f.envelope("listener", ListenerPUT, "ListenerUpdate")
