"""The HTTP server of every API process (`lbaas serve`, each `lbaas-api` worker): waitress.

One I/O thread reads every connection and hands a request to the `[api_settings]
api_threads` pool only once its line, headers and body are all in, so a client that
sends slowly (or stops half-way) costs a buffer, never a thread. Connections silent
for `client_idle_timeout` seconds, and requests whose line and headers take longer
than `client_header_timeout`, are closed. The errors the server answers itself
(malformed request line 400, too long a line 414, headers 431, body 413) carry
Octavia's fault body like every other error of the API.
"""
import socket
import time

from waitress import wasyncore
from waitress.adjustments import Adjustments
from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask, ThreadedTaskDispatcher
from waitress.utilities import Error

from lbaas.api.errors import fault_body

TICK = 1.0          # seconds between two checks of the timeouts (and calls of on_tick)
STOP_GRACE = 5.0    # seconds a stopping server gives requests in progress to finish


class URITooLong(Error):
    """414: the request line is longer than [api_settings] max_request_line."""

    code = 414
    reason = "URI Too Long"


class _Settings(Adjustments):
    """waitress's adjustments, and lbaas's request line limit and header timeout."""

    def __init__(self, max_request_line, header_timeout, **adjustments):
        super().__init__(**adjustments)
        self.max_request_line = max_request_line
        self.header_timeout = header_timeout


def _faultstring(error, adj):
    """The Octavia faultstring of an error the server answers itself."""
    if isinstance(error, URITooLong):
        return f"Request line is longer than {adj.max_request_line} bytes."
    if error.code == 413:
        return f"Request body is larger than {adj.max_request_body_size - 1} bytes."
    if error.code == 431:
        return f"Request headers are larger than {adj.max_request_header_size} bytes."
    if error.code == 500:
        return "Something unknown went wrong"
    return f"{error.reason}: {error.body}"


class _Parser(HTTPRequestParser):
    """waitress's request parser, which also refuses a long request line and notes its start."""

    def __init__(self, adj):
        super().__init__(adj)
        self.started = time.monotonic()   # created when the request's first bytes arrive

    def received(self, data):
        if self.body_rcv is None and not self.completed:
            limit = self.adj.max_request_line + 1   # the line and its CR
            head = (self.header_plus + data).lstrip()
            end = head.find(b"\n", 0, limit + 1)
            if end > limit or (end < 0 and len(head) > limit):
                self.parse_header(b"GET / HTTP/1.0\r\n")   # what the error answer needs
                self.error = URITooLong("request line too long")
                self.completed = True
                return len(data)
        return super().received(data)


class _FaultTask(ErrorTask):
    """An error answered by the server itself, with Octavia's fault body."""

    def execute(self):
        error = self.request.error
        body = fault_body(error.code, _faultstring(error, self.channel.adj))
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _Channel(HTTPChannel):
    error_task_class = _FaultTask
    parser_class = _Parser


class _Listener(TcpWSGIServer):
    """One listening socket; its maintenance also closes requests past the header timeout."""

    channel_class = _Channel

    def maintenance(self, now):
        super().maintenance(now)
        cutoff = time.monotonic() - self.adj.header_timeout
        for channel in self.active_channels.values():
            request = channel.request   # the request still being received, if any
            if (request is not None and not request.headers_finished
                    and not channel.requests and request.started < cutoff):
                channel.will_close = True


def listen(host, port, backlog=1024):
    """A listening TCP socket on host:port (port 0: any free one)."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    return sock


class Server:
    """The API's HTTP server on listening sockets, run by serve() until stop()."""

    def __init__(self, app, sockets, api_settings, threads=None):
        self.adj = _Settings(
            max_request_line=api_settings.max_request_line,
            header_timeout=api_settings.client_header_timeout,
            threads=threads or api_settings.api_threads,
            connection_limit=api_settings.max_connections,
            channel_timeout=api_settings.client_idle_timeout,
            cleanup_interval=int(TICK),
            # waitress refuses a body of exactly its maximum; the API accepts one
            max_request_body_size=api_settings.max_request_body_size + 1,
            max_request_header_size=max(262144, api_settings.max_request_line + 8192),
            server_name=api_settings.bind_host,
            asyncore_use_poll=True,
            asyncore_loop_timeout=TICK)
        self._map = {}
        self._dispatcher = ThreadedTaskDispatcher()
        self._dispatcher.set_thread_count(self.adj.threads)
        self._stopping = False
        self._listeners = [
            _Listener(app, self._map, _sock=sock, dispatcher=self._dispatcher, adj=self.adj,
                      bind_socket=False,
                      sockinfo=(sock.family, sock.type, sock.proto, sock.getsockname()))
            for sock in sockets]

    @property
    def port(self):
        """The port of the first listening socket."""
        return self._listeners[0].effective_port

    def serve(self, on_tick=None, grace=STOP_GRACE):
        """Serve until stop(); then finish requests in progress for up to `grace` seconds."""
        next_tick = 0.0
        while not self._stopping:
            wasyncore.loop(timeout=TICK, use_poll=True, map=self._map, count=1)
            if on_tick is not None and time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK
                on_tick()
        for listener in self._listeners:
            listener.accepting = False
        deadline = time.monotonic() + grace
        while self._busy() and time.monotonic() < deadline:
            wasyncore.loop(timeout=0.05, use_poll=True, map=self._map, count=1)
        self._dispatcher.shutdown(cancel_pending=True, timeout=1)
        wasyncore.close_all(self._map)

    def _busy(self):
        """Whether a request is being served or its answer is still being sent."""
        return any(channel.requests or channel.total_outbufs_len
                   for listener in self._listeners
                   for channel in listener.active_channels.values())

    def stop(self):
        """Make serve() return (safe from a signal handler and from any thread)."""
        if self._stopping:   # a second signal while stopping: the trigger may be closed
            return
        self._stopping = True
        self._listeners[0].pull_trigger()
