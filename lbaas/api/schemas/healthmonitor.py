"""Request bodies of the health monitor resource."""
from marshmallow import fields, validate

from lbaas.api.schemas import fields as f
from lbaas.core import constants as c

# One code, a comma-separated list of codes, or one range.
EXPECTED_CODES = r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$"
# Dot-separated labels of letters, digits, '-' and '_' (no label starts or ends with '-').
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
DOMAIN_NAME = rf"^(?=.{{1,253}}\.?$){_LABEL}(\.{_LABEL})*\.?$"


def _http_version():
    return fields.Float(allow_none=True, validate=validate.OneOf(
        c.HTTP_VERSIONS, error="Value should be one of: 1.0, 1.1"),
        error_messages={"invalid": "Wrong type. Expected 'float'"})


class HealthMonitorPUT(f.Strict):
    name = f.Str(allow_none=True)
    admin_state_up = f.Bool(allow_none=True)
    delay = f.Int(0)
    timeout = f.Int(0)
    max_retries = f.Int(c.MIN_RETRIES, c.MAX_RETRIES)
    max_retries_down = f.Int(c.MIN_RETRIES, c.MAX_RETRIES, allow_none=True)
    http_method = f.Enum(c.HTTP_METHODS, allow_none=True)
    url_path = f.Str(2048, allow_none=True)
    expected_codes = f.Str(64, allow_none=True, pattern=EXPECTED_CODES)
    http_version = _http_version()
    domain_name = f.Str(255, min_len=1, allow_none=True, pattern=DOMAIN_NAME)
    tags = f.Tags(allow_none=True)


class GraphHealthMonitor(HealthMonitorPUT, f.Owned):
    """A monitor nested in a pool of a load balancer graph."""

    type = f.Enum(c.HM_TYPES, required=True)
    delay = f.Int(0, required=True)
    timeout = f.Int(0, required=True)
    max_retries = f.Int(c.MIN_RETRIES, c.MAX_RETRIES, required=True)


class HealthMonitorPOST(GraphHealthMonitor):
    pool_id = f.Uuid(required=True)


HealthMonitorCreate = f.envelope("healthmonitor", HealthMonitorPOST, "HealthMonitorCreate")
HealthMonitorUpdate = f.envelope("healthmonitor", HealthMonitorPUT, "HealthMonitorUpdate")
