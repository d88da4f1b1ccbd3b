"""The OVN sync service: periodic sync, resync after reconnecting, member health from SB.

`lbaas serve` starts it beside the API (start_in_process); split deployments run it once,
as `lbaas-ovn-sync`, next to their lbaas-api processes (whose OVN drivers only write).
"""
import argparse
import signal
import sys
import threading
import time

from lbaas.drivers.ovn.worker import SYNC, Worker


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
        """Stop queueing syncs."""
        self._stop.set()
        self._thread.join(5)


def ovn_worker(core):
    """The worker of the process's OVN driver, or None when no OVN provider is enabled."""
    from lbaas.drivers.ovn.driver import OvnProviderDriver
    for driver in core.drivers._drivers.values():
        if isinstance(driver, OvnProviderDriver):
            return driver.worker
    return None


def start_in_process(core):
    """Start the sync service on the in-process OVN driver's worker; returns it, or None."""
    worker = ovn_worker(core)
    return SyncService(worker).start() if worker is not None else None


def sync_once(worker, timeout):
    """Queue one sync on the worker's thread and wait for it; -> whether it finished."""
    before = worker.last_sync
    worker.submit(SYNC)
    deadline = time.monotonic() + timeout
    while worker.last_sync == before:
        if time.monotonic() > deadline:
            print("lbaas-ovn-sync: the sync did not finish (see the log)", file=sys.stderr)
            return False
        time.sleep(0.02)
    return True


def main(argv=None):
    """Entry point of `lbaas-ovn-sync`; runs until SIGTERM or SIGINT (or one pass: --once)."""
    parser = argparse.ArgumentParser(prog="lbaas-ovn-sync", description=__doc__)
    parser.add_argument("--config-file", action="append",
                        help="configuration file (repeatable; default $LBAAS_CONFIG_FILE)")
    parser.add_argument("--provider", default="ovn",
                        help="the provider name the OVN driver is enabled under (default ovn)")
    parser.add_argument("--once", action="store_true", help="sync once, then exit")
    args = parser.parse_args(argv)
    from lbaas.cmd import common
    from lbaas.core.controller import Core
    common.setup_logging()
    core = Core(common.load_conf(args.config_file))
    worker = ovn_worker(core)
    own = worker is None
    if own:
        worker = Worker(core, args.provider).start()
    try:
        if args.once:
            return 0 if sync_once(worker, 2 * core.conf.ovn.ovsdb_connection_timeout) else 1
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        service = SyncService(worker).start()
        print(f"lbaas-ovn-sync: NB {core.conf.ovn.ovn_nb_connection}, SB "
              f"{core.conf.ovn.ovn_sb_connection or '(none)'}, every "
              f"{core.conf.ovn.sync_interval} s", flush=True)
        while not stop.wait(3600):
            pass
        service.stop()
    finally:
        if own:
            worker.stop()
        core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
