"""Single-call creation of a whole load balancer graph: listeners, pools, members, monitors.

Pools are defined once, in full, either in the top-level `pools` list or
inline as a listener's `default_pool`; everywhere else they are referenced by
name only. Pools (with their monitor, then members) are created first, then
listeners, each validated exactly as a standalone create would be.
"""
from lbaas.core import errors
from lbaas.core.services import healthmonitors, listener_rules, listeners, members, pools


def _is_reference(pool):
    """A pool given by name only (as opposed to a full definition)."""
    return set(pool) <= {"name"}


def _collect_pools(body):
    """Every full pool definition by name, checked for names, uniqueness and required fields."""
    definitions = {}
    inline = [li["default_pool"] for li in body.get("listeners") or [] if li.get("default_pool")]
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
    for listener in body.get("listeners") or []:
        ref = listener.get("default_pool")
        if ref and ref["name"] not in definitions:
            raise errors.ValidationException(
                detail=f"Pool '{ref['name']}' was referenced but no full definition was found.")
    return definitions


def _create_pool(core, session, lb, definition):
    """One pool with its health monitor and members."""
    spec = {k: v for k, v in definition.items() if k not in ("healthmonitor", "members")}
    row = pools.insert(session, lb, spec, pools.prepare(core.conf, session, lb, spec))
    monitor = definition.get("healthmonitor")
    if monitor:
        monitor = dict(monitor, pool_id=row.id)
        healthmonitors.insert(session, row, monitor,
                              healthmonitors.prepare(core.conf, row, monitor))
    entries = [(member, members.prepare(core.conf, core.network, row, member))
               for member in definition.get("members") or []]
    if entries:
        members.insert_many(session, row, entries)
    return row


def _create_listener(core, session, lb, spec, pool_rows):
    """One listener, attached to its default pool when it names one."""
    if spec.get("l7policies"):
        raise errors.ValidationException(
            detail="L7 policies are not available in this version of lbaas.")
    ref = spec.get("default_pool")
    body = {k: v for k, v in spec.items() if k not in ("default_pool", "l7policies")}
    values = listeners.prepare(core.conf, session, lb, body)
    if ref:
        pool = pool_rows[ref["name"]]
        listener_rules.check_default_pool(body["protocol"], pool, pool.id, lb.id)
        values["default_pool_id"] = pool.id
    return listeners.insert(session, lb, body, values)


def create_children(core, session, lb, body):
    """Create the listeners and pools nested in a load balancer create body."""
    if not body.get("listeners") and not body.get("pools"):
        return
    for listener in body.get("listeners") or []:
        if listener.get("protocol") == "PROMETHEUS" and listener.get("default_pool"):
            raise errors.ListenerNoChildren(protocol="PROMETHEUS")
    definitions = _collect_pools(body)
    session.flush()
    pool_rows = {name: _create_pool(core, session, lb, d) for name, d in definitions.items()}
    for listener in body.get("listeners") or []:
        _create_listener(core, session, lb, listener, pool_rows)
    session.flush()
