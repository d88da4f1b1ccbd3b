"""Request bodies of the member resource (single and batch)."""
from marshmallow import fields

from lbaas.api.schemas import fields as f
from lbaas.core import constants as c


class MemberPOST(f.Owned):
    name = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    address = f.IP(required=True)
    protocol_port = f.Int(c.MIN_PORT, c.MAX_PORT, required=True)
    weight = f.Int(c.MIN_WEIGHT, c.MAX_WEIGHT, allow_none=True)
    backup = f.Bool(allow_none=True)
    subnet_id = f.Uuid(allow_none=True)
    monitor_address = f.IP(allow_none=True)
    monitor_port = f.Int(c.MIN_PORT, c.MAX_PORT, allow_none=True)
    request_sriov = f.Bool(allow_none=True)
    tags = f.Tags(allow_none=True)


class MemberPUT(f.Strict):
    name = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    weight = f.Int(c.MIN_WEIGHT, c.MAX_WEIGHT, allow_none=True)
    backup = f.Bool(allow_none=True)
    monitor_address = f.IP(allow_none=True)
    monitor_port = f.Int(c.MIN_PORT, c.MAX_PORT, allow_none=True)
    tags = f.Tags(allow_none=True)


MemberCreate = f.envelope("member", MemberPOST, "MemberCreate")
MemberUpdate = f.envelope("member", MemberPUT, "MemberUpdate")
MembersBatch = f.Strict.from_dict(
    {"members": f.List(fields.Nested(MemberPOST), required=True)}, name="MembersBatch")
