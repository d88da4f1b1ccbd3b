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
import itertools
import logging
import queue
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
