"""`lbaas serve`'s extra API processes: one Python process is one core's worth of requests.

The first process (the one the user started) runs the API, the drivers' workers and the
background services; `[api_settings] serve_api_processes` - 1 more processes answer the API
only, on the same listening socket (the kernel hands each connection to one of them). They
are forked before the first one builds anything that runs a thread or holds a connection,
so each builds its own application, engines and drivers, as a gunicorn worker does. What
needs one owner stays in the first process: the amphora worker (the others cast to it over
a unix socket in the state directory: lbaas.drivers.amphora.rpc.SocketBus), the health
manager, housekeeping, the OVN sync and the driver agent. A reader that dies is started
again; all of them stop with the first process (and die with it: PR_SET_PDEATHSIG).
"""
import contextlib
import ctypes
import logging
import os
import signal
import sys
import tempfile
import time

LOG = logging.getLogger(__name__)
BUS_SOCKET = "amphora-bus.sock"
SUN_PATH_MAX = 107
PR_SET_PDEATHSIG = 1


def count(conf):
    """How many API processes to run: the option, or 0 = one per core (at most 4)."""
    wanted = conf.api_settings.serve_api_processes
    return wanted or max(1, min(os.cpu_count() or 1, 4))


def bus_path(conf):
    """Where the first process's bus listens: the state directory, or (when that path is too
    long for a unix socket) a private directory of its own."""
    path = os.path.join(conf.state_path, BUS_SOCKET)
    if len(path.encode()) <= SUN_PATH_MAX:
        return path
    return os.path.join(tempfile.mkdtemp(prefix="lbaas-bus-"), BUS_SOCKET)


class Readers:
    """The extra API processes of one `lbaas serve`."""

    def __init__(self, conf, sock, extra):
        """Fork `extra` API processes serving `sock`; the casts they make wait in the bus
        socket, bound now, until the first process's bus reads them (take_casts)."""
        from lbaas.drivers.amphora import rpc
        self.conf, self.sock = conf, sock
        self.metrics = bool(extra and conf.metrics.enabled)
        if self.metrics:   # every process writes its figures where the first one's scrape
            from lbaas.metrics import multiproc   # sums them (as lbaas-api's arbiter does)
            multiproc.prepare(conf.metrics.multiprocess_dir
                              or os.path.join(conf.state_path, "metrics-serve"))
        self.bus = bus_path(conf) if extra else None
        self.bus_socket = rpc.bind_cast_socket(self.bus) if extra else None
        self.pids = [self._fork() for _ in range(extra)]

    def take_casts(self):
        """In the first process, once its drivers are bound: deliver the readers' casts."""
        if self.bus_socket is None:
            return
        from lbaas.drivers.amphora import rpc
        bus = rpc.bus(self.conf)
        if bus.in_memory:
            bus.take_casts(self.bus_socket)

    def _fork(self):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                self.bus_socket.close()
                code = _child(self.conf, self.sock, self.bus)
            except BaseException:   # never return into the parent's code
                LOG.exception("API process %d failed", os.getpid())
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        return pid

    def replace_dead(self):
        """Start a new process for each one that exited (on the first process's tick)."""
        for i, pid in enumerate(self.pids):
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                done, status = pid, 0
            if done:
                LOG.warning("API process %d exited (status %d); starting another", pid, status)
                self._forget(pid)
                self.pids[i] = self._fork()

    def _forget(self, pid):
        if self.metrics:
            from lbaas.metrics import multiproc
            multiproc.mark_dead(pid)

    def stop(self, timeout=10.0):
        """SIGTERM every process and wait for it (SIGKILL after timeout)."""
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        for pid in self.pids:
            while True:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.02)
            self._forget(pid)
        self.pids = []
        if self.bus_socket is not None:
            self.bus_socket.close()
            with contextlib.suppress(OSError):
                os.unlink(self.bus)


def _die_with_parent():
    try:
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        LOG.debug("prctl(PR_SET_PDEATHSIG) unavailable")


def _child(conf, sock, bus):
    """An API-only process: its own application on the shared socket, until SIGTERM."""
    _die_with_parent()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    from lbaas.drivers.amphora import rpc
    rpc.use_socket_bus(conf, bus)
    from lbaas.api import create_app
    from lbaas.cmd import httpserver
    app = create_app(conf)
    server = httpserver.Server(app, [sock], conf.api_settings)
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C reaches the group: the first stops us
    try:
        server.serve()
    finally:
        app.extensions["lbaas_core"].close()
    return 0
