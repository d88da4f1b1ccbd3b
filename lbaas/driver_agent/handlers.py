"""What each socket does with a request: the core's status callback and provider models.

Every handler takes the process's Core and the decoded request and returns the reply
object; none raises. Status and stats replies are `{"status_code": 200}` or
`{"status_code": 500, "fault_string": ..., <object and id named when known>}`; a get
reply is the object as `to_dict(recurse=True, render_unsets=True)`, or `{}`.
"""
import logging

from octavia_lib.api.drivers import exceptions as lib_exc
from octavia_lib.common import constants as lib_c

from lbaas.core import constants as c
from lbaas.core import models, provider_objects

LOG = logging.getLogger(__name__)

OK = {lib_c.STATUS_CODE: lib_c.DRVR_STATUS_CODE_OK}


def failed(fault_string, **named):
    """An error reply: the fault and whichever of object / object id are known."""
    reply = {lib_c.STATUS_CODE: lib_c.DRVR_STATUS_CODE_FAILED, lib_c.FAULT_STRING: fault_string}
    reply.update({k: v for k, v in named.items() if v is not None})
    return reply


def status(core, request):
    """Apply a status update (loadbalancers, listeners, pools, members, ... records)."""
    if not isinstance(request, dict):
        return failed("a status update must be a JSON object")
    try:
        core.library.update_loadbalancer_status(request)
    except lib_exc.UpdateStatusError as exc:
        LOG.warning("status update refused: %s (%s %s)", exc.fault_string, exc.status_object,
                    exc.status_object_id)
        return failed(exc.fault_string, status_object=exc.status_object,
                      status_object_id=exc.status_object_id)
    except Exception as exc:  # the database, most likely: answer, and keep serving
        LOG.exception("status update failed")
        return failed(f"the status update failed: {exc}")
    return dict(OK)


def stats(core, request):
    """Store absolute listener counters: {"listeners": [{"id", the six counters}, ...]}."""
    listeners = request.get("listeners") if isinstance(request, dict) else None
    if not isinstance(listeners, list) or not all(isinstance(r, dict) for r in listeners):
        return failed('statistics must be {"listeners": [{"id": ..., counters...}, ...]}',
                      stats_object="listeners")
    for record in listeners:
        bad = [k for k in c.STAT_FIELDS if k in record and not _is_count(record[k])]
        if bad:
            return failed(f"statistics {', '.join(bad)} must be non-negative integers",
                          stats_object="listeners", stats_object_id=record.get("id"))
    unknown = _unknown_listeners(core, [r.get("id") for r in listeners if r.get("id")])
    if unknown:
        return failed(f"listener {unknown} not found", stats_object="listeners",
                      stats_object_id=unknown)
    try:
        core.library.update_listener_statistics(request)
    except lib_exc.UpdateStatisticsError as exc:
        LOG.warning("statistics refused: %s (%s %s)", exc.fault_string, exc.stats_object,
                    exc.stats_object_id)
        return failed(exc.fault_string, stats_object=exc.stats_object,
                      stats_object_id=exc.stats_object_id)
    except Exception as exc:
        LOG.exception("statistics update failed")
        return failed(f"the statistics update failed: {exc}", stats_object="listeners")
    return dict(OK)


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _unknown_listeners(core, ids):
    """The first id that names no listener, or None."""
    with core.db.read() as session:
        for listener_id in dict.fromkeys(ids):
            if not isinstance(listener_id, str) or session.get(models.Listener,
                                                               listener_id) is None:
                return listener_id
    return None


def get(core, request):
    """One object as its provider data model would travel; {} if unknown or DELETED."""
    if not isinstance(request, dict):
        return {}
    collection, object_id = request.get(lib_c.OBJECT), request.get(lib_c.ID)
    if collection not in provider_objects.GETTERS or not isinstance(object_id, str) \
            or not object_id:
        return {}
    try:
        obj = provider_objects.get(core.db, collection, object_id)
        return {} if obj is None else obj.to_dict(recurse=True, render_unsets=True)
    except Exception as exc:  # an answer the client can tell from "not found"
        LOG.exception("get %s %s failed", request.get(lib_c.OBJECT), object_id)
        return failed(f"could not read {request.get(lib_c.OBJECT)} {object_id}: {exc}")
