"""`lbaas-driver-agent`: serve octavia-lib's status, stats and get sockets for provider drivers
in other processes, and run the enabled provider agents, until SIGTERM or SIGINT."""
import argparse
import signal
import sys
import threading

from lbaas.cmd import common


def build(conf):
    """The core the sockets write to. It loads no provider driver: the drivers run in the API
    processes, and an amphora driver on an in-memory bus would start a worker here."""
    conf.set_override("enabled_provider_drivers", {}, group="api_settings")
    from lbaas.core.controller import Core
    return Core(conf)


def main(argv=None):
    """Entry point of the `lbaas-driver-agent` console script."""
    parser = argparse.ArgumentParser(prog="lbaas-driver-agent", description=__doc__)
    parser.add_argument("--config-file", action="append",
                        help="configuration file (repeatable; default $LBAAS_CONFIG_FILE)")
    args = parser.parse_args(argv)
    conf = common.load_conf(args.config_file)
    common.setup_logging(conf)
    from lbaas.driver_agent import service
    from lbaas.driver_agent.server import DriverAgent
    core = build(conf)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        try:
            agent = DriverAgent(core).start()
        except Exception as exc:
            print(f"lbaas-driver-agent: {exc}", file=sys.stderr)
            return 1
        service.export(agent)
        paths = agent.paths
        print(f"lbaas-driver-agent: status {paths['status']}, stats {paths['stats']}, "
              f"get {paths['get']}; provider agents: "
              f"{', '.join(conf.driver_agent.enabled_provider_agents) or 'none'}", flush=True)
        try:
            stop.wait()
        finally:
            agent.stop()
    finally:
        core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
