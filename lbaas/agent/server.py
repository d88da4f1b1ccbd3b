"""`lbaas-agent`: serve the agent API over HTTPS with mutual TLS (stdlib ssl, werkzeug)."""
import argparse
import signal
import faulthandler
import logging
import os
import resource
import ssl

from werkzeug.serving import WSGIRequestHandler, make_server

from lbaas.agent.api import create_app
from lbaas.agent.heartbeat import HeartbeatSender

LOG = logging.getLogger("lbaas.agent")

WANTED_NOFILE = 262144   # HAProxy needs about 2 x maxconn descriptors
IDLE_TIMEOUT = 75        # seconds a connection may stay silent


def tls_context(cert_file, ca_file, minimum_version=ssl.TLSVersion.TLSv1_2):
    """A server SSLContext serving cert_file (cert+key PEM) that requires a client cert from ca_file."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = minimum_version
    ctx.load_cert_chain(cert_file)
    ctx.load_verify_locations(cafile=ca_file)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def raise_nofile():
    """Raise RLIMIT_NOFILE as far as allowed (HAProxy children inherit it); return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    for limit in ((WANTED_NOFILE, max(hard, WANTED_NOFILE)), (hard, hard)):
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, limit)
            return limit[0]
        except (ValueError, OSError):
            continue
    return soft


class _Handler(WSGIRequestHandler):
    timeout = IDLE_TIMEOUT   # a silent peer's thread ends; it never blocks the accept loop


def serve(host, port, app, context):
    """A threaded werkzeug server whose TLS handshakes run in the request threads.

    werkzeug's own ssl_context handshakes inside accept(), so one client that connects and
    says nothing would stall every other; here accept() only accepts.
    """
    server = make_server(host, port, app, threaded=True, request_handler=_Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True,
                                        do_handshake_on_connect=False)
    server.ssl_context = context   # werkzeug then reports https and the peer certificate
    return server


def main(argv=None):
    """Parse the command line and serve until interrupted."""
    parser = argparse.ArgumentParser(prog="lbaas-agent", description=__doc__)
    parser.add_argument("--base-dir", required=True, help="where HAProxy configs and sockets live")
    parser.add_argument("--bind", default="::")
    parser.add_argument("--port", type=int, default=9443)
    parser.add_argument("--ca", required=True, help="CA certificate that signs client certs")
    parser.add_argument("--cert", required=True, help="server certificate and key (PEM)")
    parser.add_argument("--haproxy", default="haproxy", help="the haproxy binary")
    parser.add_argument("--tls-min", default="TLSv1.2", help="minimum TLS version")
    parser.add_argument("--amphora-id", default="", help="this amphora's id, sent in heartbeats")
    parser.add_argument("--heartbeat-key-file", help="file holding the heartbeat HMAC key")
    parser.add_argument("--controller", action="append", default=[], metavar="IP:PORT",
                        help="a health manager to send heartbeats to ([IPv6]:PORT; repeatable)")
    parser.add_argument("--heartbeat-interval", type=float, default=10.0, metavar="SECONDS")
    args = parser.parse_args(argv)
    faulthandler.register(signal.SIGUSR1)   # kill -USR1 <pid>: every thread's stack to the log
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_nofile()
    context = tls_context(args.cert, args.ca, ssl.TLSVersion[args.tls_min.replace(".", "_")])
    app = create_app(args.base_dir, args.haproxy)
    sender = heartbeat_sender(args, app.extensions["haproxy"])
    if sender is not None:
        app.extensions["heartbeat"] = sender
    server = serve(args.bind, args.port, app, context)
    try:
        if sender is not None:
            sender.start()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        if sender is not None:
            sender.stop(5)
        server.server_close()


def heartbeat_sender(args, manager):
    """The HeartbeatSender the command line asks for, or None (said once in the log)."""
    if not (args.heartbeat_key_file and args.controller):
        LOG.warning("no --heartbeat-key-file or no --controller: sending no heartbeats")
        return None
    if not args.amphora_id:
        raise SystemExit("lbaas-agent: --amphora-id is required to send heartbeats")
    if args.heartbeat_interval <= 0:
        raise SystemExit("lbaas-agent: --heartbeat-interval must be positive")
    with open(args.heartbeat_key_file) as f:
        key = f.read().strip()
    if not key:
        raise SystemExit(f"lbaas-agent: {args.heartbeat_key_file} holds no key")
    try:
        sender = HeartbeatSender(manager, args.amphora_id, key, args.controller,
                                 args.heartbeat_interval,
                                 state_path=os.path.join(manager.base_dir, ".heartbeat.json"))
    except ValueError as exc:
        raise SystemExit(f"lbaas-agent: {exc}") from None
    LOG.info("sending heartbeats every %s s to %s", args.heartbeat_interval,
             ", ".join(args.controller))
    return sender


if __name__ == "__main__":
    main()
