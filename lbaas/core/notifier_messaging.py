"""Event notifications through oslo.messaging's Notifier, from one sending thread.

The caller only queues (bounded, never waits): a slow or unreachable bus delays no API
request and no status update. The transport is made at start (a bad URL stops the
process there); the thread and the connection on the first event. oslo.messaging chooses the bus as Octavia's does: [oslo_messaging_notifications]
transport_url, else [DEFAULT] transport_url; its drivers (messagingv2, messaging, log,
routing, noop) and topics come from [oslo_messaging_notifications] too.
"""
import logging
import queue
import threading

import oslo_messaging as messaging
from oslo_context import context as oslo_context
from oslo_messaging.notify import notifier as oslo_notifier

from lbaas.conf.notifications import NOTIFICATIONS_GROUP
from lbaas.core.notifier import Notifier

LOG = logging.getLogger(__name__)
BUS_DRIVERS = {"messaging", "messagingv2"}   # the drivers that publish on the transport
_STOP = object()


def register(conf):
    """Register the options oslo.messaging reads on this (private) configuration object."""
    from oslo_messaging import transport
    from oslo_messaging._metrics import client as metrics
    from oslo_messaging._tracing import client as tracing
    for group, opts in ((None, transport._transport_opts),
                        ("oslo_messaging_tracing", tracing.oslo_messaging_tracing),
                        ("oslo_messaging_metrics", metrics.oslo_messaging_metrics),
                        (NOTIFICATIONS_GROUP, oslo_notifier._notifier_opts)):
        conf.register_opts(opts, group=group)   # idempotent for the same option objects
    conf.set_default("transport_url", None)     # lbaas's default: no bus unless one is named


def drivers(conf):
    """The configured notification drivers (registering oslo.messaging's options first)."""
    register(conf)
    return list(getattr(conf, NOTIFICATIONS_GROUP).driver)


# oslo.messaging logs a failed send instead of raising it: the Notifier when a driver
# raises, the messaging drivers when the bus refuses (after [oslo_messaging_notifications] retry).
FAILURE_LOGGERS = ("oslo_messaging.notify.notifier", "oslo_messaging.notify.messaging")


class _FailureCounter(logging.Filter):
    """Notes an ERROR that oslo.messaging logs from the sending thread: that send failed."""

    def __init__(self, owner):
        super().__init__()
        self.owner = owner

    def filter(self, record):
        """Keep every record; note a failure when it is an ERROR of the sending thread."""
        if record.thread == self.owner.thread_id and record.levelno >= logging.ERROR:
            self.owner.failure_seen = True
        return True


class MessagingNotifier(Notifier):
    """Sends each event once, in order, from a daemon thread; drops when its queue is full."""

    enabled = True

    def __init__(self, conf):
        register(conf)
        group = getattr(conf, NOTIFICATIONS_GROUP)
        if set(group.driver) & BUS_DRIVERS and not (group.transport_url or conf.transport_url):
            raise RuntimeError(
                f"event notifications: [{NOTIFICATIONS_GROUP}] driver = "
                f"{', '.join(group.driver)} publishes on a message bus, but neither "
                f"[{NOTIFICATIONS_GROUP}] transport_url nor [DEFAULT] transport_url is set")
        # The drivers that only log or route need no bus: oslo.messaging still wants a
        # transport, and its in-memory one opens nothing.
        url = None if group.transport_url or conf.transport_url else "fake://"
        try:
            self._transport = messaging.get_notification_transport(conf, url=url)
        except Exception as exc:
            raise RuntimeError(f"event notifications: no transport for [{NOTIFICATIONS_GROUP}] "
                               f"(transport_url, else [DEFAULT] transport_url): {exc}") from exc
        self._sender = messaging.Notifier(self._transport, publisher_id=None, retry=group.retry)
        self._options = conf.controller_worker
        self._queue = queue.Queue(maxsize=self._options.event_notifications_queue)
        self._lock = threading.Lock()
        self._thread = None
        self._closed = False
        self._counts = {"sent": 0, "dropped": 0, "failed": 0}
        self.thread_id = None
        self.failure_seen = False
        LOG.info("event notifications: driver %s, topics %s", ", ".join(group.driver),
                 ", ".join(group.topics))

    def notify(self, event):
        """Queue one event for the sending thread; drop it (logged, counted) if the queue is full."""
        with self._lock:
            if self._closed:
                self._drop(event, "the process is stopping")
                return
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lbaas-notifier",
                                                daemon=True)
                self._thread.start()
            try:
                self._queue.put_nowait(event)
            except queue.Full:
                self._drop(event, f"{self._queue.maxsize} notifications are waiting for the bus")

    def _drop(self, event, why):
        self._counts["dropped"] += 1
        dropped = self._counts["dropped"]
        if dropped == 1 or dropped % 100 == 0:   # one line per hundred while the bus is away
            LOG.warning("event notification %s for project %s dropped (%d so far): %s",
                        event.event_type, event.project_id, dropped, why)

    def counters(self):
        """How many events were sent, dropped (queue full) and failed (bus refused)."""
        with self._lock:
            return dict(self._counts)

    def _run(self):
        self.thread_id = threading.get_ident()
        counter = _FailureCounter(self)
        loggers = [logging.getLogger(name) for name in FAILURE_LOGGERS]
        for logger in loggers:
            logger.addFilter(counter)
        try:
            while True:
                event = self._queue.get()
                if event is _STOP:
                    return
                self._send(event)
        finally:
            for logger in loggers:
                logger.removeFilter(counter)

    def _send(self, event):
        """Send one event as Octavia does: INFO, the load balancer's project as context."""
        self.failure_seen = False
        ctxt = oslo_context.RequestContext(project_id=event.project_id)
        try:
            self._sender.info(ctxt, event.event_type, event.payload)
        except Exception:
            LOG.exception("event notification %s could not be sent", event.event_type)
            self.failure_seen = True
        with self._lock:
            self._counts["failed" if self.failure_seen else "sent"] += 1
            failed = self._counts["failed"]
        if self.failure_seen and (failed == 1 or failed % 100 == 0):
            LOG.warning("event notification %s for project %s not sent (%d so far; "
                        "oslo.messaging logged why)", event.event_type, event.project_id,
                        failed)

    def close(self):
        """Send what is queued, for at most event_notifications_stop_timeout seconds."""
        with self._lock:
            self._closed = True
            thread = self._thread
        if thread is None:
            self._transport.cleanup()
            return
        try:
            self._queue.put(_STOP, timeout=self._options.event_notifications_stop_timeout)
        except queue.Full:
            pass
        thread.join(self._options.event_notifications_stop_timeout)
        if thread.is_alive():   # still retrying the bus: leave it; it dies with the process
            LOG.warning("event notifications: %d left unsent at stop (the bus did not "
                        "answer within %.1f s)", self._queue.qsize(),
                        self._options.event_notifications_stop_timeout)
        else:
            self._transport.cleanup()

