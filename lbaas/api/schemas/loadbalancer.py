"""Request bodies of the load balancer resource."""
from marshmallow import fields

from lbaas.api.schemas import fields as f
from lbaas.api.schemas.listener import GraphListener
from lbaas.api.schemas.pool import GraphPool


class AdditionalVip(f.Strict):
    subnet_id = f.Uuid(required=True)
    ip_address = f.IP(allow_none=True)
    port_id = f.Uuid(allow_none=True)


class LoadBalancerPOST(f.Owned):
    name = f.Str(allow_none=True)
    description = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    vip_address = f.IP(allow_none=True)
    vip_port_id = f.Uuid(allow_none=True)
    vip_subnet_id = f.Uuid(allow_none=True)
    vip_network_id = f.Uuid(allow_none=True)
    vip_qos_policy_id = f.Uuid(allow_none=True)
    vip_sg_ids = f.List(f.Uuid(), allow_none=True)
    additional_vips = f.List(fields.Nested(AdditionalVip), allow_none=True)
    listeners = f.List(fields.Nested(GraphListener), allow_none=True)
    pools = f.List(fields.Nested(GraphPool), allow_none=True)
    provider = f.Str(64, allow_none=True)
    flavor_id = f.Uuid(allow_none=True)
    availability_zone = f.Str(allow_none=True)
    tags = f.Tags(allow_none=True)


class LoadBalancerPUT(f.Strict):
    name = f.Str(allow_none=True)
    description = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    vip_qos_policy_id = f.Uuid(allow_none=True)
    vip_sg_ids = f.List(f.Uuid(), allow_none=True)
    tags = f.Tags(allow_none=True)


LoadBalancerCreate = f.envelope("loadbalancer", LoadBalancerPOST, "LoadBalancerCreate")
LoadBalancerUpdate = f.envelope("loadbalancer", LoadBalancerPUT, "LoadBalancerUpdate")
