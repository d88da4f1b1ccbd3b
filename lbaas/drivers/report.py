"""Finish what a reconcile saw pending: one status report for every reconciling driver.

A reconcile reads the load balancer's tree (`seen`) before its desired state, so whatever
`seen` shows pending was converged by it. Before reporting, the tree is read again: an
object whose provisioning status changed meanwhile (a delete arriving during the reconcile)
is not this run's to finish, since its own request runs another reconcile.
"""
from lbaas.drivers import completion


def statuses(tree):
    """{object id: provisioning_status} of every object of a loadbalancer_tree()."""
    found = {tree["id"]: tree["provisioning_status"]}
    for pool in tree["pools"]:
        found[pool["id"]] = pool["provisioning_status"]
        for member in pool["members"]:
            found[member["id"]] = member["provisioning_status"]
        if pool["healthmonitor"]:
            found[pool["healthmonitor"]["id"]] = pool["healthmonitor"]["provisioning_status"]
    for listener in tree["listeners"]:
        found[listener["id"]] = listener["provisioning_status"]
        for policy in listener.get("l7policies", ()):
            found[policy["id"]] = policy["provisioning_status"]
            for rule in policy["rules"]:
                found[rule["id"]] = rule["provisioning_status"]
    return found


def finish(library, seen, outcome, observed=False, measured=True):
    """Report what `seen` showed pending as `outcome` (ACTIVE or ERROR), and operating
    statuses as completion() says, unless an object changed since; -> the update sent."""
    update = completion.completion(seen, observed=observed, outcome=outcome, measured=measured)
    now = library.loadbalancer_tree(seen["id"])
    if not update or now is None:
        return {}
    before, current = statuses(seen), statuses(now)
    kept = {}
    for collection, records in update.items():
        records = [r for r in records if "provisioning_status" not in r
                   or current.get(r["id"]) == before.get(r["id"])]
        if records:
            kept[collection] = records
    if kept:
        library.update_loadbalancer_status(kept)
    return kept
