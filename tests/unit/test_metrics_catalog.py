"""Every metric is documented, and the Grafana dashboard uses only metrics that exist."""
import json
import pathlib
import re

from prometheus_client import Counter, Gauge, Histogram, Metric

from lbaas.metrics import collectors, definitions

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = (ROOT / "docs" / "operators.md").read_text()
DASHBOARD = json.loads((ROOT / "etc" / "grafana-lbaas.json").read_text())
COLLECTED = {"lbaas_heartbeats_total", "lbaas_heartbeats_rejected_total",
             "lbaas_heartbeats_late_total", "lbaas_heartbeat_receiver_restarts_total",
             "lbaas_amphorae"}


def _defined():
    names = set()
    for value in vars(definitions).values():
        if not isinstance(value, (Counter, Gauge, Histogram)):
            continue
        for family in value.describe():
            if isinstance(family, Metric):
                suffix = "_total" if family.type == "counter" else ""
                names.add(family.name + suffix)
    return names | COLLECTED


def _documented():
    return set(re.findall(r"^\| `(lbaas_\w+)` \|", DOCS, re.M))


def test_every_metric_is_in_the_operators_table_and_nothing_else():
    assert _defined() == _documented()


class _Receiver:
    """Stands in for a HeartbeatServer: only its stats() and manager are read (the real
    one is scraped in tests/functional/test_amphora_failover.py)."""

    class manager:   # noqa: N801 - an attribute, as on the real server
        counters = {"late": 2}

    def stats(self):
        return {"counters": {"accepted": 5, "processed": 4, "failed": 1, "rejected": 3},
                "rejected": {"forged": 2, "malformed": 1}}


def test_the_collected_families_are_the_ones_listed_and_sum_their_sources():
    receivers = [_Receiver(), _Receiver()]
    for receiver in receivers:
        collectors.add_heartbeat_server(receiver)
    collectors.set_amphora_counts(lambda: {("ALLOCATED", "MASTER"): 2, ("READY", None): 1})
    try:
        families = list(collectors._Collector().collect())
    finally:
        for receiver in receivers:
            collectors.remove_heartbeat_server(receiver)
        collectors._amphora_counts.clear()
    names = {f.name + ("_total" if f.type == "counter" else "") for f in families}
    assert names == COLLECTED
    values = {(s.name, tuple(sorted(s.labels.items()))): s.value
              for f in families for s in f.samples}
    assert values[("lbaas_heartbeats_rejected_total", (("cause", "forged"),))] == 4
    assert values[("lbaas_heartbeats_late_total", ())] == 4
    assert values[("lbaas_amphorae", (("role", "none"), ("status", "READY")))] == 1


def _exprs(panels):
    for panel in panels:
        yield from (t["expr"] for t in panel.get("targets", ()))
        yield from _exprs(panel.get("panels", ()))


def test_the_dashboard_uses_only_metrics_that_exist():
    used = set()
    for expr in _exprs(DASHBOARD["panels"]):
        used |= set(re.findall(r"\b(lbaas_\w+)", expr))
    assert used, "no expression found"
    known = _defined()
    series = {re.sub(r"_(bucket|sum|count)$", "", name) for name in used}
    assert series - known == set()
