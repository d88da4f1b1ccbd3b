"""The OVN sync service: periodic sync, resync after reconnecting, member health from SB.

`lbaas serve` starts it beside the API (the OVN driver declares it among its background
services); split deployments run it once, as `lbaas-ovn-sync` (lbaas.cmd.ovn_sync), next
to their lbaas-api processes (whose OVN drivers only write).
"""
import logging
import threading
import time

from lbaas.drivers.ovn.worker import SYNC

LOG = logging.getLogger(__name__)


class SyncService:
    """Queues SYNC at start and every [ovn] sync_interval; lets the worker follow SB."""

    def __init__(self, worker, interval=None):
        """interval: seconds between syncs (default [ovn] sync_interval; 0: none)."""
        self.worker = worker
        self.interval = worker.conf.sync_interval if interval is None else interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ovn-sync", daemon=True)

    def start(self):
        """Turn on resync-after-reconnect and SB following, queue a first sync; returns self."""
        self.worker.syncing = True
        self.worker.submit(SYNC)
        self._thread.start()
        return self

    def _run(self):
        while self.interval and not self._stop.wait(self.interval):
            self.worker.submit(SYNC)

    def stop(self):
        """Stop queueing syncs (harmless if it never started)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def describe(self):
        """What it does, in one line for `lbaas serve`'s start-up message."""
        conf = self.worker.conf
        return (f"ovn sync:  NB {conf.ovn_nb_connection}, SB {conf.ovn_sb_connection or '(none)'}, "
                f"every {self.interval} s")


def sync_once(worker, timeout):
    """Queue one sync on the worker's thread and wait for it; -> whether it finished."""
    before = worker.last_sync
    worker.submit(SYNC)
    deadline = time.monotonic() + timeout
    while worker.last_sync == before:
        if time.monotonic() > deadline:
            LOG.error("the sync did not finish within %.0f s", timeout)
            return False
        time.sleep(0.02)
    return True
