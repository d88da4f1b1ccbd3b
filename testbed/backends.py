"""Real HTTP backends and clients in network namespaces, for the amphora tests and benchmarks.

Run as a script (stdlib only, so it starts in ~0.1 s and never resolves a name):

    python backends.py --bind IP --port N --name NAME [--tls-cert CERT_AND_KEY.pem]

(with --tls-cert it serves HTTPS, HTTP/1.1 over TLS, with that certificate) and answers

* ``GET /echo[...]``        -> JSON ``{"name", "path", "headers"}`` of the request;
* ``GET /big?bytes=N[&chunk=C][&delay=S]`` -> N bytes, C at a time, S seconds apart;
* ``GET /app[...]``         -> NAME, and sets ``APPSID=<NAME>-<n>`` (APP_COOKIE tests);
* ``GET /health``           -> ``ok``;
* any other GET             -> NAME (text/plain).

Imported, it offers helpers: `Namespace` (a netns hung off a bridge by a veth, made with
pyroute2 only), `Backend` (the script above started inside a namespace, stopped and
restarted at will) and `http_get` (a short-timeout HTTP client that runs from this host
or from inside a namespace).
"""
import argparse
import itertools
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from socketserver import TCPServer, ThreadingMixIn
from urllib.parse import parse_qs, urlsplit

# --------------------------------------------------------------------------------------
# The backend server (runs as its own process; stdlib only)
# --------------------------------------------------------------------------------------


class _Server(ThreadingMixIn, HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    tls = None   # an ssl.SSLContext when serving HTTPS

    def server_bind(self):
        """TCPServer's bind only: HTTPServer's calls getfqdn(), a DNS wait in a netns."""
        TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def finish_request(self, request, client_address):
        """Serve one connection; with TLS, the handshake runs here, in the request's thread."""
        if self.tls is not None:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except OSError:   # a refused or aborted handshake (e.g. a client that verifies)
                return
        super().finish_request(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "lbaas-test-backend"
    counter = itertools.count(1)

    def log_message(self, fmt, *args):  # quiet: the tests count responses, not log lines
        pass

    def _send(self, body, ctype="text/plain", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Backend", self.server.name)
        for key, value in extra:
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_HEAD(self):
        self._send(self.server.name)

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        name = self.server.name
        if url.path.startswith("/echo"):
            self._send(json.dumps({"name": name, "path": self.path,
                                   "headers": dict(self.headers.items())}),
                       "application/json")
        elif url.path == "/big":
            self._big(int(query["bytes"][0]), int(query.get("chunk", ["65536"])[0]),
                      float(query.get("delay", ["0"])[0]))
        elif url.path.startswith("/app"):
            self._send(name, extra=[("Set-Cookie",
                                     f"APPSID={name}-{next(self.counter)}; Path=/")])
        elif url.path == "/health":
            self._send("ok")
        else:
            self._send(name)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._send(self.server.name)

    def _big(self, size, chunk, delay):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(size))
        self.send_header("X-Backend", self.server.name)
        self.end_headers()
        sent, block = 0, b"x" * chunk
        while sent < size:
            part = block[:min(chunk, size - sent)]
            self.wfile.write(part)
            self.wfile.flush()
            sent += len(part)
            if delay and sent < size:
                time.sleep(delay)


def serve(argv=None):
    """Entry point of the script: serve until killed."""
    parser = argparse.ArgumentParser(description="a tiny HTTP backend for lbaas tests")
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--tls-cert", help="PEM certificate and key: serve HTTPS")
    args = parser.parse_args(argv)
    server = _Server((args.bind, args.port), _Handler)
    server.name = args.name
    if args.tls_cert:
        import ssl
        server.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.tls.load_cert_chain(args.tls_cert)
        server.tls.set_alpn_protocols(["http/1.1"])
    print(f"backend {args.name} on {args.bind}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    serve()
    sys.exit(0)

# --------------------------------------------------------------------------------------
# Helpers for the tests (import pyroute2 lazily: the script above must stay stdlib only)
# --------------------------------------------------------------------------------------
import contextlib  # noqa: E402
import ctypes  # noqa: E402
import http.client  # noqa: E402
import socket  # noqa: E402

SCRIPT = os.path.abspath(__file__)
NETNS_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
_libc = None


def setns(name):
    """Move the calling thread (only) into netns `name`."""
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(os.path.join(NETNS_DIR, name), os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({name}): {os.strerror(err)}")
    finally:
        os.close(fd)


def in_netns(name, fn, *args, **kwargs):
    """Run fn(*args, **kwargs) in a short-lived thread inside netns `name` (None: here).

    A socket belongs to the namespace of the thread that created it, so a connection
    made by `fn` lives in `name` even after the thread is gone.
    """
    if name is None:
        return fn(*args, **kwargs)
    result = {}

    def run():
        try:
            setns(name)
            result["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed back to the caller's thread
            result["error"] = exc
    thread = threading.Thread(target=run, name=f"in-{name}", daemon=True)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]


def connect(host, port, netns=None, timeout=3.0):
    """A TCP connection to host:port, made from this host or from inside `netns`."""
    return in_netns(netns, socket.create_connection, (host, port), timeout)


class _Conn(http.client.HTTPConnection):
    """An HTTPConnection whose socket is made inside a network namespace."""

    def __init__(self, host, port, netns, timeout):
        super().__init__(host, port, timeout=timeout)
        self.netns = netns

    def connect(self):
        self.sock = connect(self.host, self.port, self.netns, self.timeout)


class Response:
    """What http_get saw: status, headers (lower-cased names), body (bytes)."""

    def __init__(self, status, headers, body):
        self.status, self.headers, self.body = status, headers, body

    @property
    def text(self):
        return self.body.decode(errors="replace")

    def json(self):
        return json.loads(self.body)

    def cookies(self):
        """{name: value} of the Set-Cookie headers."""
        found = {}
        for key, value in self.headers:
            if key == "set-cookie":
                pair = value.split(";", 1)[0]
                name, _, val = pair.partition("=")
                found[name.strip()] = val.strip()
        return found

    def header(self, name):
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def __repr__(self):
        return f"<Response {self.status} {self.body[:80]!r}>"


def http_get(host, path="/", port=80, headers=None, netns=None, timeout=3.0, method="GET"):
    """One request on a new connection (so each one is balanced anew); -> Response."""
    conn = _Conn(host, port, netns, timeout)
    try:
        conn.request(method, path, headers=dict(headers or {}))
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, [(k.lower(), v) for k, v in resp.getheaders()], body)
    finally:
        conn.close()


def names(host, count, path="/", port=80, headers=None, netns=None):
    """The bodies (backend names) of `count` requests, each on a new connection."""
    return [http_get(host, path, port, headers, netns).text for _ in range(count)]


class Namespace:
    """A network namespace with `eth0` on a host bridge (made if missing) and addresses.

    Everything is made with pyroute2; `remove()` deletes the namespace (its veth goes with
    it) and is safe to call twice.
    """

    def __init__(self, name, bridge, addresses, gateway=None):
        if len(name) > 15:
            raise ValueError(f"{name!r}: the host-side veth name must fit IFNAMSIZ (15)")
        self.name, self.bridge = name, bridge
        self.addresses = list(addresses)    # "ip/prefix"
        self.gateway = gateway
        self.veth = name                    # host side of the veth pair

    @property
    def ips(self):
        return [a.split("/")[0] for a in self.addresses]

    def create(self):
        from pyroute2 import IPRoute, NetNS, netns
        from lbaas.drivers.amphora.compute.local import ensure_bridge
        netns.create(self.name)
        try:
            with IPRoute() as ipr:
                br = ensure_bridge(ipr, self.bridge)
                ipr.link("add", ifname=self.veth, kind="veth",
                         peer={"ifname": "eth0", "net_ns_fd": self.name})
                ipr.link("set", index=ipr.link_lookup(ifname=self.veth)[0], master=br,
                         state="up")
            with NetNS(self.name) as ns:
                ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
                index = ns.link_lookup(ifname="eth0")[0]
                for address in self.addresses:
                    ip, prefix = address.split("/")
                    ns.addr("add", index=index, address=ip, prefixlen=int(prefix))
                ns.link("set", index=index, state="up")
                if self.gateway:
                    ns.route("add", dst="0.0.0.0/0", gateway=self.gateway)
        except Exception:
            self.remove()
            raise
        return self

    def remove(self):
        from pyroute2 import IPRoute, netns
        from lbaas.drivers.amphora.compute import processes
        with contextlib.suppress(Exception):
            processes.stop({pid: None for pid in processes.pids_in(self.name)}, 5.0)
        if self.name in netns.listnetns():
            netns.remove(self.name)
        with IPRoute() as ipr:
            for index in ipr.link_lookup(ifname=self.veth):
                with contextlib.suppress(Exception):
                    ipr.link("del", index=index)


class Backend:
    """The backend script, listening on ip:port inside a namespace, under a name."""

    def __init__(self, namespace, ip, port, name, log_dir, tls_cert=None):
        """tls_cert: a PEM file with certificate and key: the backend serves HTTPS."""
        self.namespace, self.ip, self.port, self.name = namespace, ip, port, name
        self.log_path = os.path.join(str(log_dir), f"backend-{name}.log")
        self.tls_cert = tls_cert
        self.proc = None   # (pid, start time)

    def _answers(self):
        """Whether the server answers: /health over HTTP, or a TCP connection under TLS."""
        if self.tls_cert:
            connect(self.ip, self.port, self.namespace.name, 0.5).close()
            return True
        return http_get(self.ip, "/health", self.port, netns=self.namespace.name,
                        timeout=0.5).status == 200

    def start(self, timeout=10.0):
        """Start the server in the namespace; return once it answers there."""
        from lbaas.drivers.amphora.compute import processes
        argv = [sys.executable, SCRIPT, "--bind", self.ip, "--port", str(self.port),
                "--name", self.name] + (["--tls-cert", self.tls_cert] if self.tls_cert else [])
        self.proc = processes.spawn(self.namespace.name, argv, self.log_path)
        deadline = time.monotonic() + timeout
        while True:
            if not processes.alive(*self.proc):
                raise RuntimeError(f"backend {self.name} exited:\n{self._log()}")
            try:
                if self._answers():
                    return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"backend {self.name} did not answer within {timeout} s:\n"
                                   f"{self._log()}")
            time.sleep(0.02)

    def stop(self):
        """Stop the server (and wait until it is gone)."""
        from lbaas.drivers.amphora.compute import processes
        if self.proc is not None:
            processes.stop({self.proc[0]: self.proc[1]}, 5.0)
            self.proc = None

    @property
    def running(self):
        from lbaas.drivers.amphora.compute import processes
        return self.proc is not None and processes.alive(*self.proc)

    def _log(self):
        try:
            with open(self.log_path) as f:
                return f.read()[-4000:]
        except OSError as exc:
            return f"(no log: {exc})"
