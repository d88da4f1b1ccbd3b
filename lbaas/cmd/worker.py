"""`lbaas-worker`: reconcile amphora load balancers requested over `[DEFAULT] transport_url`."""
import argparse
import signal
import sys
import threading

from lbaas.cmd import common


def main(argv=None):
    """Entry point of the `lbaas-worker` console script: serve until SIGTERM or SIGINT."""
    parser = argparse.ArgumentParser(prog="lbaas-worker", description=__doc__)
    parser.add_argument("--config-file", action="append", help="configuration file")
    parser.add_argument("--provider", default="amphora",
                        help="provider whose load balancers this worker reconciles")
    parser.add_argument("--metrics-port", type=int,
                        help="metrics port (default [metrics] worker_port)")
    args = parser.parse_args(argv)
    conf = common.load_conf(args.config_file)
    common.setup_logging(conf)
    from lbaas.drivers.amphora import rpc
    if rpc.is_in_memory(conf):
        print("lbaas-worker: [DEFAULT] transport_url is not set; a separate worker needs a "
              "message bus (RabbitMQ). `lbaas serve` runs its worker in-process.",
              file=sys.stderr)
        return 2
    from lbaas.core.controller import Core
    from lbaas.drivers.amphora.worker import Worker
    core = Core(conf)
    worker = Worker(core.context, args.provider).start()
    from lbaas.metrics import server
    metrics = server.start(conf, args.metrics_port if args.metrics_port is not None
                           else conf.metrics.worker_port, loops=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"lbaas-worker: reconciling {args.provider} load balancers from topic "
          f"{conf.oslo_messaging.topic}", flush=True)
    if metrics is not None:
        print(f"lbaas-worker: {metrics.describe()}", flush=True)
    stop.wait()
    if metrics is not None:
        metrics.stop()
    worker.stop()
    core.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
