"""`lbaas-api`: serve the API with [api_settings] api_workers processes under gunicorn's arbiter.

Each worker is lbaas.cmd.gunicorn_worker.Worker: waitress with api_threads threads, so
slow clients hold no worker (gunicorn's own sync workers would each be held by one).
"""
import argparse
import os
import sys

from gunicorn.app.base import BaseApplication

from lbaas.cmd import common
from lbaas.core import private


class _Gunicorn(BaseApplication):
    def __init__(self, options):
        self._options = options
        super().__init__()

    def load_config(self):
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self):
        from lbaas.api.wsgi import application
        return application


def main(argv=None):
    """Entry point of the `lbaas-api` console script."""
    parser = argparse.ArgumentParser(prog="lbaas-api", description=__doc__)
    parser.add_argument("--config-file", action="append", help="configuration file")
    parser.add_argument("--workers", type=int, help="worker processes")
    parser.add_argument("--threads", type=int,
                        help="request threads per worker (default [api_settings] api_threads)")
    args = parser.parse_args(argv)
    files = common.config_files(args.config_file)
    if files:
        os.environ[common.CONFIG_ENV] = ":".join(files)
    conf = common.load_conf(files)
    common.setup_logging(conf)
    private.ensure_dir(conf.state_path)
    hooks = metrics_hooks(conf)   # first: before any metric exists
    if "amphora" in conf.api_settings.enabled_provider_drivers:
        from lbaas.drivers.amphora import rpc
        if rpc.is_in_memory(conf):
            print("lbaas-api: the amphora provider needs [DEFAULT] transport_url (RabbitMQ) "
                  "and lbaas-worker processes when the API runs under gunicorn; without a bus "
                  "every API worker would reconcile on its own. `lbaas serve` runs the "
                  "worker in-process instead.", file=sys.stderr)
            return 2
    api = conf.api_settings
    _Gunicorn({"bind": f"{api.bind_host}:{api.bind_port}",
               "workers": args.workers or api.api_workers,
               "threads": args.threads or api.api_threads,
               "worker_class": "lbaas.cmd.gunicorn_worker.Worker",
               # the arbiter restarts a worker whose I/O loop stalls this long
               "timeout": 60, "accesslog": None,
               # gunicorn's control socket defaults to one path per user; keep ours apart.
               "control_socket": os.path.join(conf.state_path, "gunicorn.ctl"),
               **hooks}).run()
    return 0


def metrics_hooks(conf):
    """gunicorn hooks serving [metrics] from the arbiter, summing the workers' figures
    (prometheus-client's multiprocess mode); {} when [metrics] enabled is off."""
    if not conf.metrics.enabled:
        return {}
    from lbaas.metrics import multiproc, server
    multiproc.prepare(conf.metrics.multiprocess_dir
                      or os.path.join(conf.state_path, "metrics-api"))
    served = []

    def when_ready(arbiter):
        served.append(server.start(conf, conf.metrics.bind_port))
        arbiter.log.info("metrics: http://%s:%s/metrics", *served[0].address)

    def post_fork(arbiter, worker):
        for metrics_server in served:   # the arbiter's: a worker must not hold its socket
            metrics_server.close_listener()

    def child_exit(arbiter, worker):
        multiproc.mark_dead(worker.pid)

    return {"when_ready": when_ready, "post_fork": post_fork, "child_exit": child_exit}


if __name__ == "__main__":
    sys.exit(main())
