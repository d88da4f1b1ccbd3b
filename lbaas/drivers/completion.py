"""The status update that finishes a reconciled load balancer, shared by the built-in drivers.

`tree` is InProcessLibrary.loadbalancer_tree(): every object's statuses and admin state.
Pending objects end ACTIVE (DELETED when PENDING_DELETE), or all ERROR when the driver
failed. Operating statuses are set as a healthy data plane shows them; a driver whose data
plane reports health itself (`observed=True`, the amphora driver's heartbeats) leaves the
operating status of monitored members and of settled objects to those reports.

`measured=False` is a data plane that measures nothing (upstream Octavia with noop
backends, whose statuses its API tests assert): the measured operating statuses (load
balancer, listener, pool, monitored member) stay as they are; what follows from the
configuration alone still changes (health monitors and L7 policies and rules ONLINE or
OFFLINE by their admin state, members of an unmonitored pool NO_MONITOR).
"""
from lbaas.core import constants as c

COLLECTIONS = ("members", "healthmonitors", "pools", "l7rules", "l7policies", "listeners",
               "loadbalancers")


def _operating(node, online=c.ONLINE):
    return online if node["admin_state_up"] else c.OFFLINE


class _Settler:
    def __init__(self, observed, outcome, measured):
        self.observed, self.outcome, self.measured = observed, outcome, measured
        self.update = {k: [] for k in COLLECTIONS}

    def measure(self, node, desired, collection):
        """settle() for an object whose operating status the data plane measures."""
        self.settle(node, desired, collection, observed_here=not self.measured)

    def settle(self, node, desired, collection, observed_here=False):
        """Add a record that finishes a pending object or corrects its operating status."""
        status, records = node["provisioning_status"], self.update[collection]
        pending = status in c.PENDING_STATUSES
        if status == c.PENDING_DELETE and self.outcome == c.ACTIVE:
            records.append({"id": node["id"], "provisioning_status": c.DELETED})
            return
        record = {"id": node["id"]}
        if pending:
            record["provisioning_status"] = self.outcome
        if self.outcome == c.ACTIVE and (pending or not self.observed) and not observed_here \
                and desired != node["operating_status"]:
            record["operating_status"] = desired
        if len(record) > 1:
            records.append(record)

    def member(self, member, monitored):
        if not self.measured:
            self.settle(member, c.NO_MONITOR, "members", observed_here=monitored)
        elif not self.observed or not member["admin_state_up"] or not monitored:
            self.settle(member, _operating(member, c.ONLINE if monitored else c.NO_MONITOR),
                        "members")
        else:   # the data plane reports it; a member that just gained a monitor starts OFFLINE
            fresh = member["operating_status"] == c.NO_MONITOR
            self.settle(member, c.OFFLINE, "members", observed_here=not fresh)


def completion(tree, observed=False, outcome=c.ACTIVE, measured=True):
    """The status update that brings a load balancer tree to its terminal state."""
    if tree["provisioning_status"] == c.PENDING_DELETE and outcome == c.ACTIVE:
        return {"loadbalancers": [{"id": tree["id"], "provisioning_status": c.DELETED}]}
    s = _Settler(observed, outcome, measured)
    for pool in tree["pools"]:
        hm = pool["healthmonitor"]
        monitored = hm is not None and hm["provisioning_status"] != c.PENDING_DELETE
        if hm is not None:
            s.settle(hm, _operating(hm), "healthmonitors")
        for member in pool["members"]:
            s.member(member, monitored)
        s.measure(pool, _operating(pool), "pools")
    for listener in tree["listeners"]:
        for policy in listener.get("l7policies", ()):
            for rule in policy["rules"]:
                s.settle(rule, _operating(rule), "l7rules")
            s.settle(policy, _operating(policy), "l7policies")
        s.measure(listener, _operating(listener), "listeners")
    s.measure(tree, _operating(tree), "loadbalancers")
    return {k: v for k, v in s.update.items() if v}
