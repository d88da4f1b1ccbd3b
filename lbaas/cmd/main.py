"""The `lbaas` command: `lbaas serve` runs everything in one process on embedded defaults."""
import argparse
import faulthandler
import logging
import os
import shlex
import signal
import sys

from lbaas import conf as lbaas_conf
from lbaas.certificates import local as local_certs
from lbaas.cmd import (api_processes, background, certificate, cleanup, common, conformance,
                       embedded, httpserver, serve_lock)
from lbaas.core import private
from lbaas.db import migrate


def serve(args):
    """Migrate the database, then serve the API (with in-process drivers) until stopped."""
    faulthandler.register(signal.SIGUSR1)   # kill -USR1: every thread's stack to stderr
    files = common.config_files(args.config_file)
    if files and args.driver:   # a written configuration is never second-guessed
        where = "" if args.config_file else f" (from ${common.CONFIG_ENV})"
        print(f"lbaas serve: error: --driver applies only without a configuration file, and "
              f"{', '.join(files)}{where} is given: enable providers in its [api_settings] "
              f"enabled_provider_drivers", file=sys.stderr)
        return 2
    conf = common.load_conf(files)
    common.setup_logging(conf)
    if files:
        note = f"none: {', '.join(files)} enables only the providers it names"
    else:
        _, note = embedded.apply(conf, args.driver or "auto")
    if args.state_path:
        conf.set_override("state_path", args.state_path)
    if args.port:
        conf.set_override("bind_port", args.port, group="api_settings")
    if args.processes is not None:
        conf.set_override("serve_api_processes", args.processes, group="api_settings")
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
    api = conf.api_settings
    sock = httpserver.listen(api.bind_host, api.bind_port)
    readers = api_processes.Readers(conf, sock, api_processes.count(conf) - 1)
    from lbaas.api import create_app
    app = create_app(conf)
    readers.take_casts()
    server = httpserver.Server(app, [sock], api)

    def _stop(*_):
        server.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    core = app.extensions["lbaas_core"]
    try:
        services = background.start_services(core)
    except OSError as exc:   # a port taken, an address not on this host
        raise SystemExit(f"lbaas serve: {exc.strerror or exc}") from None
    driver_agent = background.start_driver_agent(core, embedded=not files)
    from lbaas.metrics import server as metrics_server
    metrics = metrics_server.start(conf, conf.metrics.bind_port, loops=True)
    print(f"lbaas: Octavia v2 API at http://{api.bind_host}:{server.port}\n"
          f"  database:  {url}\n"
          f"  providers: {', '.join(core.drivers.available())} "
          f"(default {api.default_provider_driver})\n"
          f"  network:   {conf.network.driver}\n"
          f"  auth:      {api.auth_strategy}", flush=True)
    print(f"  embedded:  {note}", flush=True)
    for line in filter(None, (getattr(s, "describe", lambda: None)()
                              for s in services + [metrics])):
        print(f"  {line}", flush=True)
    if driver_agent is not None:
        print(f"  drivers:   status/stats/get sockets "
              f"{', '.join(driver_agent.paths.values())}", flush=True)
    if readers.pids:
        print(f"  processes: {1 + len(readers.pids)} answer the API (pids {os.getpid()}, "
              f"{', '.join(map(str, readers.pids))}); the first runs the workers", flush=True)
    try:
        server.serve(on_tick=readers.replace_dead)
    finally:
        readers.stop()
        if metrics is not None:
            metrics.stop()
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
    parser.add_argument("--config-file", action="append", metavar="FILE",
                        help=common.CONFIG_FILE_HELP)
    sub = parser.add_subparsers(dest="command", required=True)
    p_serve = sub.add_parser("serve", help="run API, drivers and workers in one process")
    p_serve.add_argument("--state-path", help="directory for the embedded database")
    p_serve.add_argument("--port", type=int, help="API port (default [api_settings] bind_port)")
    p_serve.add_argument("--processes", type=int, choices=range(0, 65), metavar="N",
                         help="processes answering the API (default [api_settings] "
                              "serve_api_processes; 0: one per core, at most 4)")
    p_serve.add_argument("--driver", choices=embedded.CHOICES,
                         help="only without a configuration file: amphora (real HAProxy load "
                              "balancers; needs root and haproxy), noop, or auto (amphora "
                              "when possible; the default)")
    p_serve.set_defaults(func=serve)
    certificate.add_parser(sub)
    cleanup.add_parser(sub)
    conformance.add_parser(sub)
    common.add_config_file(parser)   # on every sub-command: `lbaas serve --config-file F`
    args = common.parse_args(parser, argv)
    common.silence_third_party()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
