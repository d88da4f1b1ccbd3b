"""`lbaas-agent`: serve the agent API over HTTPS with mutual TLS (stdlib ssl, werkzeug)."""
import argparse
import faulthandler
import logging
import os
import resource
import signal
import ssl
import threading

from werkzeug.serving import WSGIRequestHandler, make_server

from lbaas.agent import files
from lbaas.agent.api import MAX_REQUEST_BYTES, create_app
from lbaas.agent.heartbeat import HeartbeatSender
from lbaas.agent.supervisor import Supervisor

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


def _loads(path):
    """Raise ValueError unless the file holds a certificate and its key that load together."""
    try:
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(path)
    except ssl.SSLError as exc:
        raise ValueError(f"the certificate and key do not load: {exc}") from None


class _Handler(WSGIRequestHandler):
    timeout = IDLE_TIMEOUT   # a silent peer's thread ends; it never blocks the accept loop


class ServerCertificate:
    """The agent's server certificate: its file and the live SSLContext serving it.

    `replace` (PUT /1.0/certificate) loads a new certificate into the same context: each
    connection copies the context's certificate when it is accepted (SSL_new), so later
    handshakes present the new one and open connections keep theirs. OpenSSL does not
    guard a context being changed while a connection is made from it, and
    load_cert_chain sets the certificate and the key in two steps, so accepting and
    replacing take one lock.
    """

    def __init__(self, path, context):
        self.path, self.context = path, context
        self._lock = threading.Lock()

    def wrap(self, sock):
        """An accepted socket as a server-side TLS socket (handshake on first read)."""
        with self._lock:
            return self.context.wrap_socket(sock, server_side=True,
                                            do_handshake_on_connect=False)

    def replace(self, pem):
        """Check cert + key PEM, write it over the file (atomically, 0600), serve it.

        Raises ValueError for a certificate and key that do not load or do not match.
        """
        if not self.path:
            raise ValueError("this agent was started without a certificate file")
        files.write_atomic(self.path, pem, check=_loads)
        with self._lock:
            self.context.load_cert_chain(self.path)
        LOG.info("server certificate replaced (%s)", self.path)


def serve(host, port, app, context, certificate=None):
    """A threaded werkzeug server whose TLS handshakes run in the request threads.

    werkzeug's own ssl_context handshakes inside accept(), so one client that connects and
    says nothing would stall every other; here accept() only accepts. certificate: the
    ServerCertificate that wraps accepted sockets (default: one on `context`, no file).
    """
    certificate = certificate or ServerCertificate(None, context)
    server = make_server(host, port, app, threaded=True, request_handler=_Handler)
    listener = server.socket

    def get_request():
        sock, address = listener.accept()
        try:
            return certificate.wrap(sock), address
        except BaseException:
            sock.close()
            raise

    server.get_request = get_request
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
    parser.add_argument("--keepalived", default="keepalived",
                        help="the keepalived binary (ACTIVE_STANDBY amphorae)")
    parser.add_argument("--tls-min", default="TLSv1.2", help="minimum TLS version")
    parser.add_argument("--max-request-bytes", type=int, default=MAX_REQUEST_BYTES,
                        metavar="BYTES", help="largest request body accepted (larger: 413)")
    parser.add_argument("--amphora-id", default="", help="this amphora's id, sent in heartbeats")
    parser.add_argument("--heartbeat-key-file", help="file holding the heartbeat HMAC key")
    parser.add_argument("--controller", action="append", default=[], metavar="IP:PORT",
                        help="a health manager to send heartbeats to ([IPv6]:PORT; repeatable)")
    parser.add_argument("--heartbeat-interval", type=float, default=10.0, metavar="SECONDS")
    parser.add_argument("--plug-mac-wait", type=float, default=0.0, metavar="SECONDS",
                        help="how long a plug request waits for an interface with its MAC to "
                             "appear (a NIC hot-plugged into a VM; 0: not at all)")
    parser.add_argument("--supervise-interval", type=float, default=0.25, metavar="SECONDS",
                        help="how often a HAProxy or keepalived that died on its own is "
                             "started again (a dead keepalived's VIP is removed then)")
    args = parser.parse_args(argv)
    faulthandler.register(signal.SIGUSR1)   # kill -USR1 <pid>: every thread's stack to the log
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    raise_nofile()
    context = tls_context(args.cert, args.ca, ssl.TLSVersion[args.tls_min.replace(".", "_")])
    app = create_app(args.base_dir, args.haproxy, args.keepalived, args.max_request_bytes,
                     args.plug_mac_wait)
    certificate = ServerCertificate(args.cert, context)
    app.extensions["certificate"] = certificate
    sender = heartbeat_sender(args, app.extensions["haproxy"])
    supervisor = Supervisor(app.extensions["haproxy"], args.supervise_interval,
                            app.extensions["vrrp"])
    if sender is not None:
        app.extensions["heartbeat"] = sender
    server = serve(args.bind, args.port, app, context, certificate)
    try:
        if sender is not None:
            sender.start()
        supervisor.start()
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop(5)
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
