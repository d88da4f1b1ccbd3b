"""Single-call creation of a whole load balancer graph: listeners, L7 policies and rules,
pools, members, monitors.

Pools are defined once, in full, either in the top-level `pools` list or
inline as a listener's `default_pool` or an L7 policy's `redirect_pool`;
everywhere else they are referenced by name only. Pools (with their monitor,
then members) are created first, then listeners, each followed by its L7
policies and their rules, each validated exactly as a standalone create would be.
"""
from lbaas.core import errors
from lbaas.core.services import (healthmonitors, l7policies, listener_rules, listeners,
                                 members, pools)


def _is_reference(pool):
    """A pool given by name only (as opposed to a full definition)."""
    return set(pool) <= {"name"}


def _policies(body):
    """Every L7 policy of every listener of a graph body."""
    return [policy for li in body.get("listeners") or [] for policy in li.get("l7policies") or []]


def _nested_pools(body):
    """The pools given inline: listeners' default pools and L7 policies' redirect pools."""
    nested = [li.get("default_pool") for li in body.get("listeners") or []]
    nested += [policy.get("redirect_pool") for policy in _policies(body)]
    return [pool for pool in nested if pool]


def _collect_pools(body):
    """Every full pool definition by name, checked for names, uniqueness and required fields."""
    definitions = {}
    inline = _nested_pools(body)
    for pool in list(body.get("pools") or []) + inline:
        name = pool.get("name")
        if not name:
            raise errors.ValidationException(
                detail="Pools must be named when creating a fully populated loadbalancer.")
        if _is_reference(pool):
            continue
        if name in definitions:
            raise errors.ValidationException(
                detail="Pool names must be unique when creating a fully populated "
                       "loadbalancer.")
        for attr in ("protocol", "lb_algorithm"):
            if not pool.get(attr):
                raise errors.ValidationException(
                    detail=f"Pool definition for '{name}' missing required attribute: {attr}")
        definitions[name] = pool
    for ref in inline:
        if ref["name"] not in definitions:
            raise errors.ValidationException(
                detail=f"Pool '{ref['name']}' was referenced but no full definition was found.")
    return definitions


def _create_pool(core, session, lb, definition, ctx=None):
    """One pool with its health monitor and members."""
    spec = {k: v for k, v in definition.items() if k not in ("healthmonitor", "members")}
    row = pools.insert(session, lb, spec, pools.prepare(core.conf, session, lb, spec, ctx=ctx))
    monitor = definition.get("healthmonitor")
    if monitor:
        monitor = dict(monitor, pool_id=row.id)
        healthmonitors.insert(session, row, monitor,
                              healthmonitors.prepare(core.conf, row, monitor))
    subnets = set()   # a subnet several members name is looked up once
    entries = [(member, members.prepare(core.conf, core.network, row, member, subnets))
               for member in definition.get("members") or []]
    if entries:
        members.insert_many(session, row, entries)
    return row


def _create_listener(core, session, lb, spec, pool_rows, ctx=None):
    """One listener, attached to its default pool when it names one, with its L7 policies."""
    ref = spec.get("default_pool")
    body = {k: v for k, v in spec.items() if k not in ("default_pool", "l7policies")}
    values = listeners.prepare(core.conf, session, lb, body, ctx)
    if ref:
        pool = pool_rows[ref["name"]]
        listener_rules.check_default_pool(body["protocol"], pool, pool.id, lb.id)
        values["default_pool_id"] = pool.id
    row = listeners.insert(session, lb, body, values)
    for policy in spec.get("l7policies") or []:
        _create_policy(session, row, policy, pool_rows)
    return row


def _create_policy(session, listener, spec, pool_rows):
    """One L7 policy of a new listener, with its rules; its redirect pool named in the graph."""
    ref = spec.get("redirect_pool")
    body = {k: v for k, v in spec.items() if k != "redirect_pool"}
    if ref:
        body["redirect_pool_id"] = pool_rows[ref["name"]].id
    values, rule_entries = l7policies.prepare(session, listener, body)
    return l7policies.insert(session, listener, body, values, rule_entries)


def quota_counts(body):
    """What a load balancer create body adds, per quota resource, the load balancer included.

    Ordered as Octavia checks them, so the 403 names the resource it would name. A graph
    that is not valid counts as the load balancer alone: create_children rejects it (400)
    in the same transaction, with the error it always gave.
    """
    try:
        definitions = _collect_pools(body)
    except errors.APIError:
        return {"loadbalancer": 1}
    return {
        "loadbalancer": 1,
        "pool": len(definitions),
        "listener": len(body.get("listeners") or []),
        "healthmonitor": sum(1 for d in definitions.values() if d.get("healthmonitor")),
        "member": sum(len(d.get("members") or []) for d in definitions.values()),
        "l7policy": len(_policies(body)),
        "l7rule": sum(len(p.get("rules") or []) for p in _policies(body)),
    }


def create_children(core, session, lb, body, ctx=None):
    """Create the listeners and pools nested in a load balancer create body (ctx: the caller,
    whose credentials read certificate references)."""
    if not body.get("listeners") and not body.get("pools"):
        return
    for listener in body.get("listeners") or []:
        if listener.get("protocol") == "PROMETHEUS" and (listener.get("default_pool")
                                                         or listener.get("l7policies")):
            raise errors.ListenerNoChildren(protocol="PROMETHEUS")
    definitions = _collect_pools(body)
    session.flush()
    pool_rows = {name: _create_pool(core, session, lb, d, ctx)
                 for name, d in definitions.items()}
    for listener in body.get("listeners") or []:
        _create_listener(core, session, lb, listener, pool_rows, ctx)
    session.flush()
