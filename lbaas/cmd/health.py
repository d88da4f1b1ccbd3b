"""`lbaas-health`: receive amphora heartbeats, keep operating statuses and statistics current."""
import argparse
import signal
import sys
import threading

from lbaas.cmd import common


def main(argv=None):
    """Entry point of the `lbaas-health` console script; runs until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="lbaas-health", description=__doc__)
    parser.add_argument("--config-file", action="append",
                        help="configuration file (repeatable; default $LBAAS_CONFIG_FILE)")
    parser.add_argument("--metrics-port", type=int,
                        help="metrics port (default [metrics] health_port)")
    args = parser.parse_args(argv)
    conf = common.load_conf(args.config_file)
    common.setup_logging(conf)
    from lbaas.core.controller import Core
    from lbaas.drivers.amphora.health import HealthManager, HeartbeatServer
    from lbaas.drivers.amphora import rpc
    core = Core(conf)
    try:
        bus = rpc.bus(conf)
        try:
            server = HeartbeatServer(conf, HealthManager(core.context,
                                                         delete_zombie=bus.delete_amphora))
        except (ValueError, OSError) as exc:
            print(f"lbaas-health: {exc}", file=sys.stderr)
            return 2
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        server.start()
        scanner = failover_scanner(core, bus).start()
        metrics = start_metrics(core, args.metrics_port)
        host, port = server.address
        host = f"[{host}]" if ":" in host else host
        print(f"lbaas-health: receiving heartbeats on udp {host}:{port}", flush=True)
        if metrics is not None:
            print(f"lbaas-health: {metrics.describe()}", flush=True)
        try:
            while not stop.wait(3600):
                pass
        finally:
            if metrics is not None:
                metrics.stop()
            scanner.stop()
            server.stop()
    finally:
        core.close()
    return 0


def start_metrics(core, port=None):
    """The metrics port ([metrics] enabled), exporting the amphorae by status and role too."""
    from lbaas.drivers.amphora.store import Amphorae
    from lbaas.metrics import collectors, server
    conf = core.conf
    if not conf.metrics.enabled:
        return None
    collectors.set_amphora_counts(Amphorae(core.context).counts)
    return server.start(conf, conf.metrics.health_port if port is None else port, loops=True)


def failover_scanner(core, bus):
    """The scanner that fails over silent amphorae by casting to the workers' bus."""
    from lbaas.drivers.amphora.health.failover import FailoverScanner
    return FailoverScanner(core.context, bus.failover)


if __name__ == "__main__":
    sys.exit(main())
