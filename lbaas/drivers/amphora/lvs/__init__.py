"""keepalived LVS (IPVS) configuration for the UDP and SCTP listeners of one load balancer.

HAProxy serves the TCP-family listeners (see ..haproxy); UDP and SCTP listeners are served by
keepalived's `virtual_server` blocks, rendered here from the same octavia-lib data models.
"""
from lbaas.drivers.amphora.lvs.check import check, keepalived_binary
from lbaas.drivers.amphora.lvs.render import Settings, render
from lbaas.drivers.amphora.lvs.validate import LVS_PROTOCOLS, is_lvs_listener, validate_lvs

__all__ = ["LVS_PROTOCOLS", "Settings", "check", "is_lvs_listener", "keepalived_binary", "render",
           "validate_lvs"]
