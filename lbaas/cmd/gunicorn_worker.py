"""A gunicorn worker that serves with lbaas's HTTP server (lbaas.cmd.httpserver, waitress).

gunicorn's arbiter keeps `--workers` of these running (restarts, reloads, the heartbeat);
each reads connections with one I/O thread and runs complete requests on gunicorn's
`--threads` threads, so slow clients cannot occupy it the way they occupy a sync worker.
The timeouts and limits come from [api_settings] ($LBAAS_CONFIG_FILE). Any gunicorn
set-up can use it: `gunicorn -k lbaas.cmd.gunicorn_worker.Worker --threads 4
lbaas.api.wsgi:application`.
"""
import os

from gunicorn.workers import base

from lbaas.cmd import common, httpserver


class Worker(base.Worker):
    """One gunicorn worker process serving the API with waitress."""

    server = None

    def run(self):
        """Serve on the arbiter's sockets until told to stop, reporting alive every second."""
        api = common.load_conf().api_settings
        self.server = httpserver.Server(self.wsgi, [s.sock for s in self.sockets], api,
                                        threads=self.cfg.threads)
        self.server.serve(on_tick=self._tick, grace=self.cfg.graceful_timeout)

    def _tick(self):
        self.notify()
        if not self.alive or self.ppid != os.getppid():
            self.server.stop()

    def handle_exit(self, sig, frame):
        """SIGTERM: finish the requests in progress, then exit."""
        super().handle_exit(sig, frame)
        if self.server is not None:
            self.server.stop()
