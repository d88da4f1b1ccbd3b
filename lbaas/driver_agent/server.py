"""The three driver-agent socket servers and the DriverAgent that runs them together.

Each socket is a threading unix stream server: one thread per connection, at most
`[driver_agent] *_max_processes` at once (more wait in the accept loop). A connection
carries one framed request and gets one framed reply (lbaas.driver_agent.framing); a
malformed request gets an error reply, a request that never fully arrives gets none.
"""
import logging
import os
import socket
import socketserver
import threading
import time

from lbaas.core import private
from lbaas.driver_agent import framing, handlers
from lbaas.metrics import definitions as m
from lbaas.metrics import labels

LOG = logging.getLogger(__name__)
MAX_PATH = 107  # bytes in sun_path, with its terminating NUL
# How drivers and provider agents learn where the sockets are (lbaas.driver_agent.service).
ENV = {"status": "LBAAS_DRIVER_AGENT_STATUS_SOCKET", "stats": "LBAAS_DRIVER_AGENT_STATS_SOCKET",
       "get": "LBAAS_DRIVER_AGENT_GET_SOCKET"}
SOCKETS = frozenset(ENV)   # the values of the socket label of lbaas_driver_agent_*


class SocketInUse(RuntimeError):
    """Another live server answers on a socket path."""


def _remove_stale(path):
    """Delete a leftover socket file; refuse to steal one that a live server still answers."""
    if not os.path.lexists(path):
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(1)
    try:
        probe.connect(path)
    except OSError:
        os.unlink(path)  # nobody listens: stale
    else:
        raise SocketInUse(f"another driver agent is serving {path}")
    finally:
        probe.close()


class _Handler(socketserver.StreamRequestHandler):
    def setup(self):
        self.timeout = self.server.request_timeout  # applied to the connection by setup()
        super().setup()

    def handle(self):
        started, socket_label = time.monotonic(), labels.bounded(self.server.name, SOCKETS)
        try:
            request = framing.read(self.rfile)
        except framing.ConnectionClosed as exc:
            LOG.debug("%s: no request (%s)", self.server.name, exc)
            m.DRIVER_AGENT_REQUESTS.labels(socket_label, "closed").inc()
            return
        except framing.BadMessage as exc:
            LOG.warning("%s: bad request: %s", self.server.name, exc)
            reply = self.server.bad_request(str(exc))
            m.DRIVER_AGENT_REQUESTS.labels(socket_label, "bad_request").inc()
        else:
            reply = self.server.handler(self.server.core, request)
            m.DRIVER_AGENT_REQUESTS.labels(socket_label, "ok").inc()
        m.DRIVER_AGENT_LATENCY.labels(socket_label).observe(time.monotonic() - started)
        try:
            self.wfile.write(framing.encode(reply))
        except OSError as exc:
            LOG.debug("%s: the client left before the reply: %s", self.server.name, exc)


class SocketServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    """One driver-agent socket: a path, a handler(core, request) -> reply, a thread each."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, name, path, core, handler, request_timeout=5, max_connections=50,
                 warning_fraction=0.75):
        if len(os.fsencode(path)) > MAX_PATH:
            raise ValueError(f"socket path {path} is longer than {MAX_PATH} bytes")
        self.name = name
        self.path = path
        self.core = core
        self.handler = handler
        self.request_timeout = request_timeout
        self.max_connections = max_connections
        self._warn_at = max(1, int(max_connections * warning_fraction))
        self._slots = threading.BoundedSemaphore(max_connections)
        self._busy = 0
        self._busy_lock = threading.Lock()
        self._thread = None
        private.ensure_dir(os.path.dirname(path) or ".", tighten=False)
        _remove_stale(path)
        # DriverLibrary connects with a timeout, i.e. non-blocking: a full backlog is an
        # immediate EAGAIN for the driver, so keep it deep (the kernel caps it at somaxconn)
        self.request_queue_size = max(128, max_connections * 4)
        super().__init__(path, _Handler)
        # The get socket answers any project's objects: only this user may connect, as
        # under the usual umask, whatever the umask is.
        os.chmod(path, private.FILE_MODE)

    def bad_request(self, message):
        """The reply to a request that could not be decoded."""
        return handlers.failed(f"bad request: {message}")

    def process_request(self, request, client_address):
        self._slots.acquire()  # at the cap, the accept loop waits for a free slot
        with self._busy_lock:
            self._busy += 1
            if self._busy == self._warn_at:
                LOG.warning("%s socket: %d of %d request threads busy", self.name,
                            self._busy, self.max_connections)
        try:
            super().process_request(request, client_address)
        except Exception:
            self._release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._release()

    def _release(self):
        with self._busy_lock:
            self._busy -= 1
        self._slots.release()

    def start(self):
        """Serve in a background thread; returns self."""
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.2},
                                        name=f"driver-agent-{self.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop accepting, close the socket and remove its file."""
        if self._thread is not None:
            self.shutdown()
            self._thread.join(5)
            self._thread = None
        self.server_close()
        try:
            if os.path.exists(self.path):
                os.unlink(self.path)
        except OSError as exc:
            LOG.warning("could not remove %s: %s", self.path, exc)


class DriverAgent:
    """The status, stats and get sockets of a configuration, and its provider agents."""

    def __init__(self, core, conf=None):
        self.core = core
        self.conf = conf or core.conf
        self.servers = []
        self.agents = None

    @property
    def environment(self):
        """The socket paths as the LBAAS_DRIVER_AGENT_*_SOCKET environment variables."""
        return {ENV[name]: path for name, path in self.paths.items()}

    @property
    def paths(self):
        """{"status": path, "stats": path, "get": path} as configured."""
        da = self.conf.driver_agent
        return {"status": da.status_socket_path, "stats": da.stats_socket_path,
                "get": da.get_socket_path}

    def start(self, provider_agents=True):
        """Bind the three sockets and serve them; then start the provider agents."""
        da = self.conf.driver_agent
        try:
            for name, handler in (("status", handlers.status), ("stats", handlers.stats),
                                  ("get", handlers.get)):
                server = SocketServer(
                    name, self.paths[name], self.core, handler,
                    request_timeout=getattr(da, f"{name}_request_timeout"),
                    max_connections=getattr(da, f"{name}_max_processes"),
                    warning_fraction=da.max_process_warning_percent)
                self.servers.append(server.start())
            if provider_agents and da.enabled_provider_agents:
                from lbaas.driver_agent.agents import ProviderAgents
                self.agents = ProviderAgents(da.enabled_provider_agents,
                                             da.provider_agent_shutdown_timeout,
                                             environment=self.environment).start()
        except BaseException:
            self.stop()
            raise
        LOG.info("driver agent: status %s, stats %s, get %s", *self.paths.values())
        return self

    def stop(self):
        """Stop the provider agents, then the sockets (their files are removed)."""
        if self.agents is not None:
            self.agents.stop()
            self.agents = None
        while self.servers:
            self.servers.pop().stop()
