"""Figures read at scrape time from objects that already keep them, never counted twice.

The heartbeat receivers' counters (lbaas.drivers.amphora.health.server.HeartbeatServer,
with their managers' "late" count) and the amphora rows by status and role (a function the
process that owns a database gives). Registered on prometheus-client's default registry
the first time a source is added.
"""
import logging
import threading
import weakref

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

LOG = logging.getLogger(__name__)
HEARTBEAT_RESULTS = ("accepted", "processed", "failed", "rejected")
_lock = threading.Lock()
_servers = weakref.WeakSet()
_amphora_counts = []   # [callable() -> {(status, role): count}], the last one is used
_registered = False


class _Collector:
    def collect(self):
        yield from _heartbeat_families()
        yield from _amphora_families()

    def describe(self):
        return []   # no families at registration: they depend on the sources present


def _register():
    global _registered
    with _lock:
        if not _registered:
            REGISTRY.register(_Collector())
            _registered = True


def add_heartbeat_server(server):
    """Export a heartbeat receiver's counters (until it is removed or garbage)."""
    _register()
    _servers.add(server)


def remove_heartbeat_server(server):
    """Stop exporting a receiver's counters."""
    _servers.discard(server)


def set_amphora_counts(count):
    """Export count() -> {(status, role): n} as lbaas_amphorae at each scrape."""
    _register()
    with _lock:
        _amphora_counts[:] = [count]


def _heartbeat_families():
    servers = list(_servers)
    if not servers:
        return
    results = CounterMetricFamily(
        "lbaas_heartbeats", "Heartbeat datagrams received, by result: accepted (verified), "
        "processed, failed (verified but not applied), rejected.", labels=["result"])
    causes = CounterMetricFamily(
        "lbaas_heartbeats_rejected", "Heartbeat datagrams rejected, by cause.",
        labels=["cause"])
    late = CounterMetricFamily(
        "lbaas_heartbeats_late", "Heartbeats handled a heartbeat interval or more after "
        "they arrived (an overloaded health manager).")
    restarts = CounterMetricFamily(
        "lbaas_heartbeat_receiver_restarts", "Heartbeat receiving threads started again "
        "after dying.")
    totals, rejected, late_total, restart_total = {}, {}, 0, 0
    for server in servers:
        stats = server.stats()
        for result in HEARTBEAT_RESULTS:
            totals[result] = totals.get(result, 0) + stats["counters"].get(result, 0)
        for cause, count in stats["rejected"].items():
            rejected[cause] = rejected.get(cause, 0) + count
        restart_total += stats["counters"].get("restarts", 0)
        late_total += getattr(server.manager, "counters", {}).get("late", 0)
    for result in HEARTBEAT_RESULTS:
        results.add_metric([result], totals[result])
    for cause, count in rejected.items():
        causes.add_metric([cause], count)
    late.add_metric([], late_total)
    restarts.add_metric([], restart_total)
    yield from (results, causes, late, restarts)


def _amphora_families():
    with _lock:
        count = _amphora_counts[-1] if _amphora_counts else None
    if count is None:
        return
    try:
        counts = count()
    except Exception as exc:   # noqa: BLE001 - a scrape must answer; the figure is absent
        LOG.warning("amphora counts not exported in this scrape: %s", exc)
        return
    family = GaugeMetricFamily("lbaas_amphorae", "Amphorae (not DELETED) by status and role.",
                               labels=["status", "role"])
    for (status, role), n in sorted(counts.items(), key=lambda kv: tuple(map(str, kv[0]))):
        family.add_metric([str(status), str(role or "none")], n)
    yield family
