"""`lbaas-housekeeping`: purge old DELETED rows, delete orphaned amphorae, rotate amphora
agent certificates, every `[house_keeping] cleanup_interval` seconds."""
import argparse
import signal
import sys
import threading

from lbaas.cmd import common


def build(conf):
    """(core, housekeeper) for a configuration. The core loads no provider driver: a
    housekeeper serves no API, and an amphora driver on an in-memory bus would start a
    worker in this process."""
    conf.set_override("enabled_provider_drivers", {}, group="api_settings")
    from lbaas.core.controller import Core
    from lbaas.drivers.amphora import compute as compute_backends
    from lbaas.drivers.amphora.housekeeping import Housekeeper
    from lbaas.drivers.amphora.reconcile import Reconciler
    core = Core(conf)
    compute = compute_backends.load_from_conf(conf)
    return core, Housekeeper(core.context, compute, Reconciler(core.context, compute))


def main(argv=None):
    """Entry point of the `lbaas-housekeeping` console script; runs until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="lbaas-housekeeping", description=__doc__)
    parser.add_argument("--config-file", action="append",
                        help="configuration file (repeatable; default $LBAAS_CONFIG_FILE)")
    parser.add_argument("--once", action="store_true",
                        help="run every job once and exit (1 if one failed), e.g. from cron")
    args = parser.parse_args(argv)
    conf = common.load_conf(args.config_file)
    common.setup_logging(conf)
    core, housekeeper = build(conf)
    try:
        if args.once:
            results = housekeeper.run_once()
            return 1 if any(isinstance(r, Exception) for r in results.values()) else 0
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        housekeeper.start()
        print(f"lbaas-housekeeping: a pass every {conf.house_keeping.cleanup_interval} s",
              flush=True)
        try:
            stop.wait()
        finally:
            housekeeper.stop()
    finally:
        core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
