"""The amphora health manager: heartbeats in, operating statuses, liveness and statistics out.

`HeartbeatServer` receives and verifies the UDP datagrams (lbaas.agent.wire), `HealthManager`
applies each heartbeat to the database, `lbaas.drivers.rollup` holds the status rules (pure functions, shared with the OVN driver).
"""
from lbaas.drivers.amphora.health.manager import HealthManager
from lbaas.drivers.amphora.health.server import HeartbeatServer

__all__ = ["HealthManager", "HeartbeatServer"]
