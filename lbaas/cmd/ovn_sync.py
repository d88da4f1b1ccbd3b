"""`lbaas-ovn-sync`: the OVN provider's periodic sync and Southbound health follower, for
split deployments (`lbaas serve` runs it in-process)."""
import argparse
import signal
import sys
import threading

from lbaas.cmd import common


def main(argv=None):
    """Entry point of `lbaas-ovn-sync`; runs until SIGTERM or SIGINT (or one pass: --once)."""
    parser = argparse.ArgumentParser(prog="lbaas-ovn-sync", description=__doc__)
    parser.add_argument("--config-file", action="append",
                        help="configuration file (repeatable; default $LBAAS_CONFIG_FILE)")
    parser.add_argument("--provider", default="ovn",
                        help="the provider name the OVN driver is enabled under (default ovn)")
    parser.add_argument("--once", action="store_true", help="sync once, then exit")
    args = parser.parse_args(argv)
    from lbaas.core.controller import Core
    from lbaas.drivers.ovn.service import SyncService, sync_once
    from lbaas.drivers.ovn.worker import Worker
    conf = common.load_conf(args.config_file)
    common.setup_logging(conf)
    core = Core(conf)
    worker = core.context.shared("ovn-worker",
                                 lambda: Worker(core.context, args.provider).start())
    try:
        if args.once:
            if sync_once(worker, 2 * core.conf.ovn.ovsdb_connection_timeout):
                return 0
            print("lbaas-ovn-sync: the sync did not finish (see the log)", file=sys.stderr)
            return 1
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        service = SyncService(worker).start()
        print(f"lbaas-ovn-sync: {service.describe()}", flush=True)
        while not stop.wait(3600):
            pass
        service.stop()
    finally:
        core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
