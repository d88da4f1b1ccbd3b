"""HeartbeatServer: receive heartbeat datagrams over UDP, verify them, hand them on."""
import collections
import logging
import selectors
import socket
import threading
import time

from lbaas.agent import wire

LOG = logging.getLogger(__name__)


class _RateLimitedLog:
    """Log the first of each kind of problem, then at most once per interval with a count."""

    def __init__(self, interval):
        self.interval = interval
        self._next = {}          # kind -> clock value before which the kind stays quiet
        self._suppressed = collections.Counter()

    def __call__(self, kind, fmt, *args):
        now = time.monotonic()
        if now < self._next.get(kind, 0.0):
            self._suppressed[kind] += 1
            return
        self._next[kind] = now + self.interval
        more = self._suppressed.pop(kind, 0)
        suffix = f" ({more} more since the last report)" if more else ""
        LOG.warning(fmt + suffix, *args)


class HeartbeatServer:
    """A daemon thread reading heartbeats from a UDP socket and passing them to a manager.

    The socket is bound at construction (`address` then says where; port 0 picks a free
    one). Datagrams that fail wire.decode (forged, damaged, stale) or the replay guard are
    dropped and counted in `counters` by reason ("dropped_InvalidSignature", ...); good
    ones are counted "accepted" and given to manager.process(message, received_at).
    """

    def __init__(self, conf, manager, bind_ip=None, bind_port=None, log_interval=60.0):
        hm = conf.health_manager
        if not hm.heartbeat_key:
            raise ValueError("[health_manager] heartbeat_key is not set: the health manager "
                             "needs the key the amphorae sign their heartbeats with")
        self.manager = manager
        self._key = hm.heartbeat_key
        window = hm.heartbeat_replay_window
        self._max_age = window or None
        self._guard = wire.ReplayGuard(window) if window else None
        host = hm.bind_ip if bind_ip is None else bind_ip
        port = hm.bind_port if bind_port is None else bind_port
        family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        self._sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            self._sock.bind(sockaddr)
        except OSError:
            self._sock.close()
            raise
        self._wake_r, self._wake_w = socket.socketpair()
        self._log = _RateLimitedLog(log_interval)
        self._thread = None
        self._changed = threading.Condition()
        self.counters = collections.Counter()

    @property
    def address(self):
        """(host, port) the socket is bound to."""
        return self._sock.getsockname()[:2]

    def start(self):
        """Start receiving in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="heartbeat-server", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout=10.0):
        """Stop receiving (the datagram being processed finishes) and close the socket."""
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(timeout)
            self._thread = None
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def wait(self, predicate, timeout):
        """Wait until predicate(counters) is true (re-checked after each datagram); its value."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.counters), timeout)

    def _run(self):
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                ready = {key.fileobj for key, _ in selector.select()}
                if self._wake_r in ready:
                    return
                try:
                    datagram, peer = self._sock.recvfrom(wire.MAX_DATAGRAM + 1)
                except OSError as exc:
                    self._log("recv", "heartbeat socket error: %s", exc)
                    continue
                self.handle(datagram, peer)

    def handle(self, datagram, peer=None, received_at=None):
        """Verify one datagram and process it (what the receiving thread does with each)."""
        received_at = time.monotonic() if received_at is None else received_at
        try:
            try:
                message = wire.decode(datagram, self._key, max_age=self._max_age)
                if self._guard is not None:
                    self._guard.check(datagram)
            except wire.HeartbeatError as exc:
                kind = type(exc).__name__
                self.counters["dropped"] += 1
                self.counters[f"dropped_{kind}"] += 1
                self._log(kind, "heartbeat from %s dropped: %s", _peer(peer), exc)
                return
            self.counters["accepted"] += 1
            try:
                self.manager.process(message, received_at=received_at)
            except Exception as exc:  # the server keeps serving; the next heartbeat retries
                self.counters["failed"] += 1
                self._log("failed", "heartbeat of amphora %s not processed: %s: %s",
                          message.get("id"), type(exc).__name__, exc)
                LOG.debug("heartbeat processing failed", exc_info=True)
            else:
                self.counters["processed"] += 1
        finally:
            with self._changed:
                self._changed.notify_all()


def _peer(peer):
    return f"{peer[0]}:{peer[1]}" if peer else "?"
