"""prometheus-client's multiprocess mode, for the API's gunicorn workers.

Each worker writes its figures to files in one directory; the scrape (served by gunicorn's
arbiter, lbaas.cmd.api) sums them. prepare() must run before lbaas.metrics.definitions is
imported, since prometheus-client chooses where values live when a metric is created.
"""
import os
import shutil
import sys

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare(directory):
    """Empty `directory` and make every metric created from now on write its values there."""
    if "lbaas.metrics.definitions" in sys.modules:
        raise RuntimeError("lbaas.metrics.multiproc.prepare() after the metrics were created")
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory, mode=0o700)
    os.environ[ENV] = directory
    from prometheus_client import values
    values.ValueClass = values.get_value_class()


def enabled():
    """Whether this process writes its figures to a multiprocess directory."""
    return bool(os.environ.get(ENV))


def registry():
    """The registry a scrape reads: every worker's files summed, or this process's own."""
    from prometheus_client import REGISTRY, CollectorRegistry, multiprocess
    if not enabled():
        return REGISTRY
    collected = CollectorRegistry()
    multiprocess.MultiProcessCollector(collected)
    return collected


def mark_dead(pid):
    """Drop the live gauges of a worker that exited (gunicorn's child_exit hook)."""
    from prometheus_client import multiprocess
    if enabled():
        multiprocess.mark_process_dead(pid)
