"""Reconcile requests from the amphora provider driver to its workers, over oslo.messaging.

A message only says "reconcile load balancer X": the worker reads everything else from the
database, so a lost message is healed by the next sweep and a duplicate changes nothing.

`[DEFAULT] transport_url` names the bus (RabbitMQ between processes). Without it the bus is
kombu's in-memory transport, private to this configuration object: `lbaas serve` and
in-process tests run driver and worker in one process, and two such processes, or two
configurations in one process, never see each other's messages.
"""
import threading
import uuid
import weakref

import oslo_messaging as messaging

NAMESPACE = "lbaas.amphora"
VERSION = "1.0"
MEMORY_URL = "kombu+memory:////"

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
    """One configuration's transport, topic and client, created once and shared."""

    def __init__(self, conf):
        _register(conf)
        self.in_memory = not conf.transport_url
        self.transport = messaging.get_rpc_transport(
            conf, url=MEMORY_URL if self.in_memory else None)
        topic = conf.oslo_messaging.topic
        # the in-memory broker is process-wide: keep this configuration's messages its own
        self.topic = f"{topic}.{uuid.uuid4().hex}" if self.in_memory else topic
        target = messaging.Target(topic=self.topic, namespace=NAMESPACE, version=VERSION)
        self.client = messaging.get_rpc_client(self.transport, target)

    def reconcile(self, loadbalancer_id):
        """Ask some worker to reconcile one load balancer (fire and forget)."""
        self.client.cast({}, "reconcile", loadbalancer_id=loadbalancer_id)

    def delete_amphora(self, amphora_id):
        """Ask some worker to tear one amphora down (fire and forget)."""
        self.client.cast({}, "delete_amphora", amphora_id=amphora_id)

    def failover(self, loadbalancer_id, amphora_id=None):
        """Ask some worker to replace one amphora of a load balancer (None: all of them)."""
        self.client.cast({}, "failover", loadbalancer_id=loadbalancer_id, amphora_id=amphora_id)

    def server(self, endpoint, server_name):
        """An RPC server on this bus's topic dispatching to `endpoint` (not started)."""
        target = messaging.Target(topic=self.topic, server=server_name)
        return messaging.get_rpc_server(self.transport, target, [endpoint], executor="threading")

    def close(self):
        """Release the transport's connections."""
        self.transport.cleanup()


def bus(conf):
    """The Bus of a configuration object (one per ConfigOpts, shared by driver and worker)."""
    with _lock:
        ref, found = _buses.get(id(conf), (None, None))
        if ref is None or ref() is not conf:
            found = Bus(conf)
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
