"""Operating statuses from one heartbeat-shaped report and the load balancer's tree (pure
functions; the amphora health manager and the OVN driver's Service_Monitor follower).

The rules are the reference health manager's (status-model.md §6.2, amphora.md §4.1),
with the refinements lbaas documents in docs/amphora.md ("Health manager"):

* objects in PENDING_DELETE (or DELETED) are left alone, and so are their children;
* an object the heartbeat does not report while it is PENDING_CREATE keeps its status
  (the amphora has not received it yet);
* "enabled" means the object's admin_state_up and the load balancer's (a disabled load
  balancer renders no proxies, so its listeners are OFFLINE, not ERROR);
* a pool whose reported, health-checked members are all DOWN is ERROR like a DOWN backend.
"""
from lbaas.core import constants as c

SKIPPED = (c.PENDING_DELETE, c.DELETED)

# Severity when one pool is reported by several backends ("<pool>:<listener>" each).
_RANK = {c.ERROR: 5, c.OFFLINE: 4, c.DRAINING: 3, c.NO_MONITOR: 2, c.ONLINE: 1}
_MEMBER_WORDS = {"UP": c.ONLINE, "DOWN": c.ERROR, "DRAIN": c.DRAINING, "NOLB": c.DRAINING,
                 "MAINT": c.OFFLINE}
_CHECKED = (c.ONLINE, c.ERROR, c.DRAINING)


def member_status(text):
    """The operating status a HAProxy server status string means, or None (keep the status).

    "UP", "UP 1/3" (up, failing checks) -> ONLINE; "DOWN", "DOWN 1/2" (down, passing
    checks) -> ERROR; "DRAIN"/"NOLB" -> DRAINING; "MAINT", "MAINT(via)" (admin down) ->
    OFFLINE; "no check" -> NO_MONITOR; anything else ("RESTARTING", unknown) -> None.
    """
    text = text.strip()
    if text.lower() == "no check":
        return c.NO_MONITOR
    word = text.split(" ", 1)[0].split("(", 1)[0].upper()
    return _MEMBER_WORDS.get(word)


def _worst(statuses):
    statuses = [s for s in statuses if s is not None]
    return max(statuses, key=_RANK.__getitem__) if statuses else None


def pool_reports(pools):
    """{pool id: [reports]}: keys "<pool id>:<listener id>" or "<pool id>", cut at the last ':'."""
    reports = {}
    for key, report in pools.items():
        reports.setdefault(key.rpartition(":")[0] or key, []).append(report)
    return reports


class _LoadBalancerState:
    """The load balancer's status as the pass goes: ERROR is never lowered to DEGRADED."""

    def __init__(self, enabled):
        self.status = c.ONLINE if enabled else c.OFFLINE

    def degrade(self):
        if self.status == c.ONLINE:
            self.status = c.DEGRADED

    def fail(self):
        if self.status != c.OFFLINE:
            self.status = c.ERROR


def _member(member, reported, pool_enabled):
    """A member's new status, or None to keep it."""
    if not (member["admin_state_up"] and pool_enabled):
        return c.OFFLINE
    if reported:
        return _worst(member_status(text) for text in reported)
    if member["provisioning_status"] == c.PENDING_CREATE \
            or member["operating_status"] == c.NO_MONITOR:
        return None
    return c.OFFLINE


def _pool(pool, reports, lb_enabled, lb_state, out):
    """Decide a pool and its members; returns the pool's new status, or None to keep it."""
    admin_up = bool(pool["admin_state_up"] and lb_enabled)
    enabled = admin_up and bool(reports)
    by_member = {}
    for report in reports:
        for member_id, text in (report.get("members") or {}).items():
            by_member.setdefault(member_id, []).append(text)
    checked = []
    for member in pool["members"]:
        if member["provisioning_status"] in SKIPPED:
            continue
        status = _member(member, by_member.get(member["id"]), admin_up)
        if status is not None:
            out["members"][member["id"]] = status
            if member["admin_state_up"] and status in _CHECKED:
                checked.append(status)
    if not enabled:
        if not reports and pool["provisioning_status"] == c.PENDING_CREATE:
            return None
        return c.OFFLINE
    backends = {report.get("status") for report in reports}
    if "DOWN" in backends or (checked and all(s == c.ERROR for s in checked)):
        lb_state.fail()
        return c.ERROR
    if "UP" not in backends:
        return None
    if c.ERROR in checked:
        lb_state.degrade()
        return c.DEGRADED
    return c.ONLINE


def _listener(listener, report, lb, lb_state):
    """A listener's new status, or None to keep it."""
    if not (listener["admin_state_up"] and lb["admin_state_up"]):
        return c.OFFLINE
    if report is None:
        if listener["provisioning_status"] == c.PENDING_CREATE:
            return None
        return c.ERROR if lb["provisioning_status"] == c.ACTIVE else c.OFFLINE
    status = {"OPEN": c.ONLINE, "FULL": c.DEGRADED}.get(report.get("status"))
    if status == c.DEGRADED:
        lb_state.degrade()
    return status


def derive(tree, message):
    """{"loadbalancers"|"listeners"|"pools"|"members": {id: operating status}} the heartbeat
    decides; objects whose status it leaves alone are absent."""
    out = {"members": {}, "pools": {}, "listeners": {}, "loadbalancers": {}}
    if tree["provisioning_status"] in SKIPPED:
        return out
    lb_enabled = bool(tree["admin_state_up"])
    lb_state = _LoadBalancerState(lb_enabled)
    reported = message.get("listeners") or {}
    for listener in tree["listeners"]:
        if listener["provisioning_status"] in SKIPPED:
            continue
        status = _listener(listener, reported.get(listener["id"]), tree, lb_state)
        if status is not None:
            out["listeners"][listener["id"]] = status
    reports = pool_reports(message.get("pools") or {})
    for pool in tree["pools"]:
        if pool["provisioning_status"] in SKIPPED:
            continue
        status = _pool(pool, reports.get(pool["id"], ()), lb_enabled, lb_state, out)
        if status is not None:
            out["pools"][pool["id"]] = status
    out["loadbalancers"][tree["id"]] = lb_state.status
    return out


def _current(tree):
    """{collection: {id: operating status}} as stored."""
    current = {"loadbalancers": {tree["id"]: tree["operating_status"]}, "listeners": {},
               "pools": {}, "members": {}}
    for listener in tree["listeners"]:
        current["listeners"][listener["id"]] = listener["operating_status"]
    for pool in tree["pools"]:
        current["pools"][pool["id"]] = pool["operating_status"]
        for member in pool["members"]:
            current["members"][member["id"]] = member["operating_status"]
    return current


def changes(tree, message):
    """The status-update message (operating statuses only) of what the heartbeat changes;
    {} when nothing changes."""
    current, update = _current(tree), {}
    for collection, decided in derive(tree, message).items():
        records = [{"id": object_id, "operating_status": status}
                   for object_id, status in decided.items()
                   if current[collection].get(object_id) != status]
        if records:
            update[collection] = records
    return update


def liveness_ok(tree, message):
    """Whether the heartbeat proves the amphora serves its load balancer (amphora.md §4.1).

    Every enabled listener must be reported; not checked while the load balancer is
    PENDING_* or disabled (its configuration is in flux or empty).
    """
    if tree["provisioning_status"] in c.PENDING_STATUSES or not tree["admin_state_up"]:
        return True
    return not missing_listeners(tree, message)


def missing_listeners(tree, message):
    """The enabled listeners of the tree a heartbeat does not report."""
    expected = {li["id"] for li in tree["listeners"]
                if li["admin_state_up"] and li["provisioning_status"] not in SKIPPED}
    return expected - set(message.get("listeners") or ())
