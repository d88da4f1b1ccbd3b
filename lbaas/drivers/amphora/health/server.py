"""HeartbeatServer: receive heartbeat datagrams over UDP, verify them, hand them on.

Nothing a datagram holds may stop the receiver: wire.decode bounds what it parses (sizes,
nesting, numbers) and raises only HeartbeatError; any other exception a datagram causes
is caught and counted too; and the receiving thread is supervised, started again if it
ever ends while the server runs.
"""
import collections
import logging
import selectors
import socket
import threading
import time

from lbaas.agent import wire
from lbaas.metrics import collectors, liveness

LOG = logging.getLogger(__name__)
RESTART_DELAY = 0.5   # seconds before a receiving thread that died is started again
# Causes a datagram is rejected for (HeartbeatServer.rejected); "error": it raised
# something wire.decode should never raise (a bug, logged with its traceback).
CAUSES = ("forged", "replayed", "stale", "malformed", "oversized", "truncated", "error")


class _RateLimitedLog:
    """Log the first of each kind of problem, then at most once per interval with a count."""

    def __init__(self, interval):
        self.interval = interval
        self._next = {}          # kind -> clock value before which the kind stays quiet
        self._suppressed = collections.Counter()

    def __call__(self, kind, fmt, *args, exc_info=None):
        now = time.monotonic()
        if now < self._next.get(kind, 0.0):
            self._suppressed[kind] += 1
            return
        self._next[kind] = now + self.interval
        more = self._suppressed.pop(kind, 0)
        suffix = f" ({more} more since the last report)" if more else ""
        LOG.warning(fmt + suffix, *args, exc_info=exc_info)


class HeartbeatServer:
    """A supervised daemon thread reading heartbeats from a UDP socket for a manager.

    The socket is bound at construction (`address` then says where; port 0 picks a free
    one). Good datagrams are counted in `counters` ("accepted", then "processed" or
    "failed") and given to manager.process(message, received_at). Bad ones are dropped
    ("rejected" in `counters`) and counted by cause in `rejected` (see CAUSES); every
    log_interval seconds in which some were, one line sums them up.
    `counters["restarts"]` counts receiving threads started again after dying.
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
        except OSError as exc:
            self._sock.close()
            raise OSError(exc.errno, f"the health manager cannot listen on {host}:{port} "
                                     f"([health_manager] bind_ip, bind_port): "
                                     f"{exc.strerror}") from None
        self._wake_r, self._wake_w = socket.socketpair()
        self._log = _RateLimitedLog(log_interval)
        self.log_interval = log_interval
        self._supervisor = None
        self._loop = None   # its liveness.Loop while started
        self._stopping = threading.Event()
        self._changed = threading.Condition()
        self.counters = collections.Counter()
        self.rejected = collections.Counter()
        self._reported = collections.Counter()   # `rejected` as of the last summary line
        self._next_summary = time.monotonic() + log_interval

    @property
    def address(self):
        """(host, port) the socket is bound to."""
        return self._sock.getsockname()[:2]

    def start(self):
        """Start receiving in a supervised daemon thread."""
        self._loop = liveness.register("heartbeat_receiver", self.log_interval)
        collectors.add_heartbeat_server(self)
        self._supervisor = threading.Thread(target=self._supervise,
                                            name="heartbeat-supervisor", daemon=True)
        self._supervisor.start()
        return self

    def stop(self, timeout=10.0):
        """Stop receiving (the datagram being processed finishes) and close the socket."""
        self._stopping.set()
        collectors.remove_heartbeat_server(self)
        if self._loop is not None:
            liveness.unregister(self._loop)
        if self._supervisor is not None:
            self._wake_w.send(b"x")
            self._supervisor.join(timeout)
            self._supervisor = None
        for sock in (self._sock, self._wake_r, self._wake_w):
            sock.close()

    def wait(self, predicate, timeout):
        """Wait until predicate(counters) is true (re-checked after each datagram); its value."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.counters), timeout)

    def stats(self):
        """{"counters": {...}, "rejected": {cause: count}}: a snapshot for operators."""
        return {"counters": dict(self.counters),
                "rejected": {cause: self.rejected[cause] for cause in CAUSES}}

    # -- the receiving thread and its supervisor ----------------------------------------
    def _supervise(self):
        while not self._stopping.is_set():
            receiver = threading.Thread(target=self._receive, name="heartbeat-server",
                                        daemon=True)
            receiver.start()
            receiver.join()
            if self._stopping.wait(RESTART_DELAY):
                return
            with self._changed:
                self.counters["restarts"] += 1
                self._changed.notify_all()
            LOG.error("the heartbeat receiving thread ended unexpectedly: started again "
                      "(%d restarts)", self.counters["restarts"])

    def _receive(self):
        try:
            self._run()
        except BaseException:   # logged here; the supervisor starts the thread again
            LOG.exception("the heartbeat receiving thread failed")

    def _run(self):
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._stopping.is_set():
                ready = {key.fileobj for key, _ in selector.select(self.log_interval)}
                if self._loop is not None:
                    self._loop.beat()
                self._summarize()
                if self._wake_r in ready:
                    return
                if self._sock not in ready:
                    continue
                try:
                    datagram, peer = self._sock.recvfrom(wire.MAX_DATAGRAM + 1)
                except OSError as exc:
                    self._log("recv", "heartbeat socket error: %s", exc)
                    continue
                self.handle(datagram, peer)

    def _summarize(self):
        """Every log_interval seconds, one line with what was rejected since the last one."""
        now = time.monotonic()
        if now < self._next_summary:
            return
        self._next_summary = now + self.log_interval
        recent = self.rejected - self._reported
        if recent:
            self._reported = collections.Counter(self.rejected)
            LOG.warning("heartbeats rejected in the last %g s: %s (since start: %s)",
                        self.log_interval, _causes(recent), _causes(self.rejected))

    # -- one datagram -------------------------------------------------------------------
    def handle(self, datagram, peer=None, received_at=None):
        """Verify one datagram and process it (what the receiving thread does with each)."""
        received_at = time.monotonic() if received_at is None else received_at
        try:
            message = self._verify(datagram, peer)
            if message is None:
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

    def _verify(self, datagram, peer):
        """The datagram's message, or None once it is counted as rejected and logged."""
        try:
            message = wire.decode(datagram, self._key, max_age=self._max_age)
            if self._guard is not None:
                self._guard.check(datagram)
            return message
        except wire.HeartbeatError as exc:
            cause, detail, bug = exc.cause, str(exc), None
        except Exception as exc:   # noqa: BLE001 - a decoder bug must not stop the receiver
            cause, detail, bug = "error", f"{type(exc).__name__}: {exc}", exc
        self.counters["rejected"] += 1
        self.rejected[cause] += 1
        self._log(cause, "heartbeat from %s rejected (%s): %s", _peer(peer), cause,
                  detail[:200], exc_info=bug)
        return None


def _causes(counter):
    return " ".join(f"{cause}={counter[cause]}" for cause in CAUSES if counter[cause])


def _peer(peer):
    return f"{peer[0]}:{peer[1]}" if peer else "?"
