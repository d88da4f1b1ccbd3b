"""The `lbaas` command: `lbaas serve` runs everything in one process on embedded defaults."""
import argparse
import faulthandler
import logging
import shlex
import signal
import sys

from lbaas import conf as lbaas_conf
from lbaas.certificates import local as local_certs
from lbaas.cmd import (background, certificate, cleanup, common, conformance, embedded,
                       httpserver, serve_lock)
from lbaas.core import private
from lbaas.db import migrate


def serve(args):
    """Migrate the database, then serve the API (with in-process drivers) until stopped."""
    faulthandler.register(signal.SIGUSR1)   # kill -USR1: every thread's stack to stderr
    files = common.config_files(args.config_file)
    conf = common.load_conf(files)
    if files:   # a written configuration is never second-guessed: say so
        note = (f"none: {', '.join(files)} enables only the providers it names"
                + (f" (--driver {args.driver} applies without a file)"
                   if args.driver != "auto" else ""))
    else:
        _, note = embedded.apply(conf, args.driver)
    if args.state_path:
        conf.set_override("state_path", args.state_path)
    if args.port:
        conf.set_override("bind_port", args.port, group="api_settings")
    private.ensure_dir(conf.state_path)
    try:
        lock = serve_lock.hold_serving(conf.state_path)  # `lbaas cleanup` waits for us
    except serve_lock.StatePathBusy as exc:
        raise SystemExit(f"lbaas serve: {exc}") from None
    url = lbaas_conf.database_url(conf)
    migrate.upgrade(url)
    background.ensure_heartbeat_key(conf)
    if conf.certificates.cert_manager == "local":
        local_certs.ensure_key_file(conf)  # unless [certificates] encryption_key is set
    from lbaas.api import create_app
    app = create_app(conf)
    api = conf.api_settings
    server = httpserver.Server(app, [httpserver.listen(api.bind_host, api.bind_port)], api)

    def _stop(*_):
        server.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    core = app.extensions["lbaas_core"]
    services = background.start_services(core)
    driver_agent = background.start_driver_agent(core, embedded=not files)
    print(f"lbaas: Octavia v2 API at http://{api.bind_host}:{server.port}\n"
          f"  database:  {url}\n"
          f"  providers: {', '.join(core.drivers.available())} "
          f"(default {api.default_provider_driver})\n"
          f"  network:   {conf.network.driver}\n"
          f"  auth:      {api.auth_strategy}", flush=True)
    print(f"  embedded:  {note}", flush=True)
    for line in filter(None, (getattr(s, "describe", lambda: None)() for s in services)):
        print(f"  {line}", flush=True)
    if driver_agent is not None:
        print(f"  drivers:   status/stats/get sockets "
              f"{', '.join(driver_agent.paths.values())}", flush=True)
    try:
        server.serve()
    finally:
        if driver_agent is not None:
            driver_agent.stop()
        core.close()   # stops the drivers' services and workers, the last started first
        _say_what_is_left(conf, files, args.state_path)
        lock.close()
    return 0


def _say_what_is_left(conf, files, state_path):
    """Print one line naming what keeps running by design, and the command removing it."""
    from lbaas.cmd import leftovers   # pyroute2: 0.2 s, paid at stop only
    try:
        found = leftovers.find(conf)
    except Exception:   # a report must not turn a clean stop into a crash
        logging.getLogger(__name__).exception("listing what is left running failed")
        return
    if not found.namespaces and not found.bridges:
        return
    command = ["lbaas", *(a for f in files for a in ("--config-file", f)), "cleanup",
               *(["--state-path", state_path] if state_path else [])]
    print(f"lbaas: stopped; left running by design: {leftovers.summary(found)}, so the load "
          f"balancers keep serving and the next `lbaas serve` takes them back; remove them "
          f"with: {shlex.join(command)}", flush=True)


def main(argv=None):
    """Entry point of the `lbaas` console script."""
    parser = argparse.ArgumentParser(prog="lbaas", description=__doc__)
    parser.add_argument("--config-file", action="append",
                        help="configuration file (repeatable; default $LBAAS_CONFIG_FILE)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run API, drivers and workers in one process")
    p_serve.add_argument("--state-path", help="directory for the embedded database")
    p_serve.add_argument("--port", type=int, help="API port (default [api_settings] bind_port)")
    p_serve.add_argument("--driver", choices=embedded.CHOICES, default="auto",
                         help="without a configuration file: amphora (real HAProxy load "
                              "balancers; needs root and haproxy), noop, or auto (amphora "
                              "when possible; the default)")
    p_serve.set_defaults(func=serve)
    certificate.add_parser(sub)
    cleanup.add_parser(sub)
    conformance.add_parser(sub)
    args = parser.parse_args(argv)
    common.setup_logging()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
