"""Reconcile requests from the amphora provider driver to its workers, over oslo.messaging.

A message only says "reconcile load balancer X": the worker reads everything else from the
database, so a lost message is healed by the next sweep and a duplicate changes nothing.

`[DEFAULT] transport_url` names the bus (RabbitMQ between processes). Without it the bus is
in this process, private to this configuration object: `lbaas serve` and in-process tests
run driver and worker in one process, and two such processes, or two configurations in one
process, never see each other's messages. That bus hands a cast straight to the worker's
endpoint (whose methods only queue work): no broker, no polling. (oslo.messaging's in-memory
kombu transport polls with a zero interval, so an idle `lbaas serve` spun a quarter of a
core; its fake driver polls every 50 ms, which would delay every reconcile.)
"""
import contextlib
import itertools
import json
import logging
import os
import queue
import socket
import threading
import weakref

import oslo_messaging as messaging

LOG = logging.getLogger(__name__)
NAMESPACE = "lbaas.amphora"
VERSION = "1.0"
PENDING_MAX = 10000   # casts kept for a worker that has not started yet (the sweep heals more)

_lock = threading.Lock()
_buses = {}   # id(conf) -> (weak reference to conf, Bus)


def _register(conf):
    """Register transport_url and the groups oslo.messaging reads but registers only globally.

    (oslo.messaging 18.3.1 fails every call on a private ConfigOpts without the last two.)
    """
    from oslo_messaging import transport
    from oslo_messaging._metrics import client as metrics
    from oslo_messaging._tracing import client as tracing
    for group, opts in ((None, transport._transport_opts),
                        ("oslo_messaging_tracing", tracing.oslo_messaging_tracing),
                        ("oslo_messaging_metrics", metrics.oslo_messaging_metrics)):
        conf.register_opts(opts, group=group)   # idempotent for the same option objects
    conf.set_default("transport_url", None)     # lbaas's default: in memory, not rabbit://


class Bus:
    """The casts workers serve, over one configuration's transport (created once, shared)."""

    in_memory = False

    def __init__(self, conf):
        _register(conf)
        self.transport = messaging.get_rpc_transport(conf)
        self.topic = conf.oslo_messaging.topic
        target = messaging.Target(topic=self.topic, namespace=NAMESPACE, version=VERSION)
        self.client = messaging.get_rpc_client(self.transport, target)

    def _cast(self, method, **kwargs):
        self.client.cast({}, method, **kwargs)

    def reconcile(self, loadbalancer_id):
        """Ask some worker to reconcile one load balancer (fire and forget)."""
        self._cast("reconcile", loadbalancer_id=loadbalancer_id)

    def delete_amphora(self, amphora_id):
        """Ask some worker to tear one amphora down (fire and forget)."""
        self._cast("delete_amphora", amphora_id=amphora_id)

    def failover(self, loadbalancer_id, amphora_id=None):
        """Ask some worker to replace one amphora of a load balancer (None: all of them)."""
        self._cast("failover", loadbalancer_id=loadbalancer_id, amphora_id=amphora_id)

    def server(self, endpoint, server_name):
        """An RPC server on this bus's topic dispatching to `endpoint` (not started)."""
        target = messaging.Target(topic=self.topic, server=server_name)
        return messaging.get_rpc_server(self.transport, target, [endpoint], executor="threading")

    def close(self):
        """Release the transport's connections."""
        self.transport.cleanup()


class LocalBus(Bus):
    """The bus of one process: a thread hands each cast to a started server's endpoint.

    Casts made before any server started wait for the first one; past PENDING_MAX waiting
    casts, new ones are dropped with a warning (the worker's sweep heals what they asked).
    """

    in_memory = True

    def __init__(self, conf):
        self._queue = queue.Queue(maxsize=PENDING_MAX)
        self._servers = []
        self._turn = itertools.count()
        self._ready = threading.Condition()
        self._closed = False
        threading.Thread(target=self._run, name="amphora-bus", daemon=True).start()

    def _cast(self, method, **kwargs):
        try:
            self._queue.put_nowait((method, kwargs))
        except queue.Full:
            LOG.warning("in-process bus: %d casts wait for a worker; %s dropped", PENDING_MAX,
                        method)

    def _run(self):
        while True:
            item = self._queue.get()
            with self._ready:
                while not (self._servers or self._closed):
                    self._ready.wait()
                if self._closed:
                    return
                server = self._servers[next(self._turn) % len(self._servers)]
            try:
                server.deliver(*item)
            except Exception:
                LOG.exception("in-process bus: %s failed", item[0])

    def server(self, endpoint, server_name):
        """A server handing this bus's casts to `endpoint` once started."""
        return _LocalServer(self, endpoint)

    def take_casts(self, sock):
        """Also deliver the casts other API processes send to `sock` (bind_cast_socket)."""
        threading.Thread(target=self._receive, args=(sock,), name="amphora-bus-socket",
                         daemon=True).start()

    def _receive(self, sock):
        while not self._closed:
            try:
                data = sock.recv(MAX_CAST + 1)
                method, kwargs = decode_cast(data)
            except OSError:
                return   # closed
            except ValueError as exc:
                LOG.warning("dropped a malformed cast on the bus socket: %s", exc)
                continue
            except Exception:   # never let the reader die: casts would stop for good
                LOG.exception("dropped a cast on the bus socket")
                continue
            self._cast(method, **kwargs)

    def _attach(self, server):
        with self._ready:
            self._servers.append(server)
            self._ready.notify_all()

    def _detach(self, server):
        with self._ready:
            if server in self._servers:
                self._servers.remove(server)

    def close(self):
        """Stop handing casts over (those still queued are dropped)."""
        with self._ready:
            self._closed = True
            self._ready.notify_all()
        try:
            self._queue.put_nowait(("close", {}))   # wake the thread if it waits for a cast
        except queue.Full:
            pass


class _LocalServer:
    """start/stop/wait of an oslo.messaging server, for a LocalBus."""

    def __init__(self, bus, endpoint):
        self._bus, self._endpoint = bus, endpoint

    def deliver(self, method, kwargs):
        """Call the endpoint's method as oslo.messaging would (an empty context first)."""
        getattr(self._endpoint, method)({}, **kwargs)

    def start(self):
        """Receive casts."""
        self._bus._attach(self)

    def stop(self):
        """Receive no more casts."""
        self._bus._detach(self)

    def wait(self):
        """Nothing to wait for: deliveries run on the bus's thread."""


# -- several API processes of one `lbaas serve` ----------------------------------------------
# lbaas serve may answer the API from several processes (lbaas.cmd.api_processes); only the
# first runs the worker. The others cast over a unix datagram socket that the first one's
# LocalBus reads (in the state directory, which is private to its user): the same fire-and-
# forget casts, each a small JSON datagram, checked like any input from outside the process.
CASTS = {"reconcile": ("loadbalancer_id",), "delete_amphora": ("amphora_id",),
         "failover": ("loadbalancer_id", "amphora_id")}
MAX_CAST = 1024   # bytes of one datagram
_ID_MAX = 64


def _encode(method, kwargs):
    return json.dumps({"method": method, "kwargs": kwargs}).encode()


def decode_cast(data):
    """(method, kwargs) of a datagram from another API process; ValueError if it is not one."""
    if len(data) > MAX_CAST:
        raise ValueError("cast too long")
    try:
        message = json.loads(data)
    except RecursionError:   # nested past the parser's stack, within MAX_CAST bytes
        raise ValueError("nested too deep") from None
    if not isinstance(message, dict) or set(message) != {"method", "kwargs"}:
        raise ValueError("not a cast")
    method, kwargs = message["method"], message["kwargs"]
    if method not in CASTS or not isinstance(kwargs, dict) or \
            not set(kwargs) <= set(CASTS[method]) or CASTS[method][0] not in kwargs:
        raise ValueError("unknown cast")
    for value in kwargs.values():
        if value is not None and (not isinstance(value, str) or not 0 < len(value) <= _ID_MAX):
            raise ValueError("bad cast argument")
    return method, kwargs


def bind_cast_socket(path):
    """The unix datagram socket at `path` (mode 0600) the other API processes cast to."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    finally:
        os.umask(old)
    return sock


class SocketBus(Bus):
    """The bus of an API process of `lbaas serve` that runs no worker: casts go to the first
    process's LocalBus over its unix socket (lost ones are healed by the worker's sweep)."""

    in_memory = False   # this process starts no worker of its own

    def __init__(self, path):
        self.path = path
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)

    def _cast(self, method, **kwargs):
        try:
            self._socket.sendto(_encode(method, kwargs), self.path)
        except OSError as exc:
            LOG.warning("cast %s to the worker's process failed (its sweep heals it): %s",
                        method, exc)

    def server(self, endpoint, server_name):
        """No worker listens here."""
        raise RuntimeError("an API process of lbaas serve runs no worker")

    def close(self):
        """Close the socket."""
        self._socket.close()


def use_socket_bus(conf, path):
    """Make this process's bus for `conf` a SocketBus to `path` (before anything asks)."""
    with _lock:
        _buses[id(conf)] = (weakref.ref(conf), SocketBus(path))


def bus(conf):
    """The Bus of a configuration object (one per ConfigOpts, shared by driver and worker)."""
    with _lock:
        ref, found = _buses.get(id(conf), (None, None))
        if ref is None or ref() is not conf:
            found = LocalBus(conf) if is_in_memory(conf) else Bus(conf)
            _buses[id(conf)] = (weakref.ref(conf), found)
        return found


def is_in_memory(conf):
    """Whether driver and worker must live in this process (no transport_url)."""
    _register(conf)
    return not conf.transport_url


class Endpoint:
    """The methods workers serve: `handler(loadbalancer_id)`, `delete_handler(amphora_id)`,
    `failover_handler(loadbalancer_id, amphora_id)`."""

    target = messaging.Target(namespace=NAMESPACE, version=VERSION)

    def __init__(self, handler, delete_handler=None, failover_handler=None):
        self._handler, self._delete_handler = handler, delete_handler
        self._failover_handler = failover_handler

    def failover(self, ctxt, loadbalancer_id, amphora_id=None):
        """Replace an amphora of a load balancer, or all of them (queued; returns at once)."""
        if self._failover_handler is not None:
            self._failover_handler(loadbalancer_id, amphora_id)

    def reconcile(self, ctxt, loadbalancer_id):
        """Reconcile one load balancer (queued; returns at once)."""
        self._handler(loadbalancer_id)

    def delete_amphora(self, ctxt, amphora_id):
        """Tear one amphora down (queued; returns at once)."""
        if self._delete_handler is not None:
            self._delete_handler(amphora_id)
