"""Member health from Service_Monitor results, rolled up like the amphora driver's heartbeats.

The Southbound statuses become the same message a heartbeat carries (every listener open,
every pool up, each member "UP", "DOWN" or "no check"), and the health manager's rollup turns
it into operating statuses for members, pools, listeners and the load balancer. A
monitored member without a Service_Monitor result yet is not reported: it stays OFFLINE.
"""
from lbaas.drivers import rollup
from lbaas.drivers.ovn import plan

_WORDS = {"online": "UP", "offline": "DOWN", "error": "DOWN"}
_PROTOCOLS = {"TCP": "tcp", "UDP": "udp"}   # what a Service_Monitor can check


def _monitored(pool):
    monitor = pool.healthmonitor
    return monitor is not None and monitor.admin_state_up is not False


def message(loadbalancer, statuses):
    """A heartbeat-shaped message for an octavia-lib load balancer and SB statuses."""
    pools = {}
    for pool in loadbalancer.pools or ():
        members = {}
        protocol = _PROTOCOLS.get(pool.protocol)
        for member in pool.members or ():
            if not _monitored(pool):
                members[member.member_id] = "no check"
                continue
            status = statuses.get((plan.canonical(member.address), member.protocol_port,
                                   protocol))
            if status in _WORDS:
                members[member.member_id] = _WORDS[status]
        pools[pool.pool_id] = {"status": "UP", "members": members}
    listeners = {li.listener_id: {"status": "OPEN"} for li in loadbalancer.listeners or ()}
    return {"listeners": listeners, "pools": pools}


def changes(tree, loadbalancer, statuses):
    """The operating-status update the SB statuses call for ({} when nothing changes)."""
    return rollup.changes(tree, message(loadbalancer, statuses))
