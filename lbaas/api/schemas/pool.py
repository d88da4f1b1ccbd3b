"""Request bodies of the pool resource."""
from marshmallow import fields

from lbaas.api.schemas import fields as f
from lbaas.api.schemas.healthmonitor import GraphHealthMonitor
from lbaas.api.schemas.member import MemberPOST
from lbaas.core import constants as c


COOKIE_NAME = r"^[^\s,;\\]+$"


class SessionPersistence(f.Strict):
    type = f.Enum(c.SESSION_PERSISTENCE_TYPES)
    cookie_name = f.Str(allow_none=True, pattern=COOKIE_NAME)
    persistence_timeout = f.Int(0, allow_none=True)
    persistence_granularity = f.IP(allow_none=True)


class SessionPersistencePOST(SessionPersistence):
    """On create the persistence type is mandatory (on update it defaults to the stored one)."""

    type = f.Enum(c.SESSION_PERSISTENCE_TYPES, required=True)


class PoolPUT(f.Strict):
    lb_algorithm = f.Enum(c.LB_ALGORITHMS)
    name = f.Str(allow_none=True)
    description = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    session_persistence = fields.Nested(SessionPersistence, allow_none=True)
    tls_enabled = f.Bool(allow_none=True)
    tls_container_ref = f.Str(c.MAX_REF, allow_none=True)
    ca_tls_container_ref = f.Str(c.MAX_REF, allow_none=True)
    crl_container_ref = f.Str(c.MAX_REF, allow_none=True)
    tls_ciphers = f.Str(c.MAX_CIPHERS, allow_none=True)
    tls_versions = f.List(f.Enum(c.TLS_VERSIONS), allow_none=True)
    alpn_protocols = f.List(f.Enum(c.ALPN_PROTOCOLS), allow_none=True)
    tags = f.Tags(allow_none=True)


class GraphPool(PoolPUT, f.Owned):
    """A pool in a load balancer graph: defined once in full, elsewhere named only."""

    protocol = f.Enum(c.POOL_PROTOCOLS)
    lb_algorithm = f.Enum(c.LB_ALGORITHMS)
    session_persistence = fields.Nested(SessionPersistencePOST, allow_none=True)
    healthmonitor = fields.Nested(GraphHealthMonitor, allow_none=True)
    members = f.List(fields.Nested(MemberPOST), allow_none=True)


class PoolPOST(PoolPUT, f.Owned):
    loadbalancer_id = f.Uuid()
    listener_id = f.Uuid()
    protocol = f.Enum(c.POOL_PROTOCOLS, required=True)
    lb_algorithm = f.Enum(c.LB_ALGORITHMS, required=True)
    session_persistence = fields.Nested(SessionPersistencePOST, allow_none=True)


PoolCreate = f.envelope("pool", PoolPOST, "PoolCreate")
PoolUpdate = f.envelope("pool", PoolPUT, "PoolUpdate")
