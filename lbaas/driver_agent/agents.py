"""Provider agents: long-running callables a driver declares, each in a process of its own.

An agent is an entry point in the `octavia.driver_agent.provider_agents` namespace naming
a callable `agent(exit_event)`, where `exit_event` is a multiprocessing.Event set when the
driver agent stops. Each runs in a spawned process (not forked: the parent has threads and
database connections). Inside it, an agent that raises or returns is called again after a
second; a process that dies (killed, crashed) is started again by a supervisor thread a
second later. At shutdown the event is set, and whatever has not exited within
`[driver_agent] provider_agent_shutdown_timeout` seconds is killed.
"""
import logging
import multiprocessing
import os
import signal
import threading
import time

from stevedore import driver as stevedore_driver

from lbaas import conf as lbaas_conf

LOG = logging.getLogger(__name__)
NAMESPACE = "octavia.driver_agent.provider_agents"
RESTART_DELAY = 1.0


def load(name):
    """The agent callable of an entry point; a clear error naming it if it cannot load."""
    try:
        return stevedore_driver.DriverManager(NAMESPACE, name, invoke_on_load=False).driver
    except Exception as exc:
        raise RuntimeError(f"provider agent {name!r} (entry point {NAMESPACE}) failed to "
                           f"load: {exc}") from exc


def run_agent(name, exit_event, environment=None):
    """The body of an agent process: call the agent until the exit event is set."""
    os.environ.update(environment or {})
    lbaas_conf.setup_logging(lbaas_conf.load_conf())   # the API's file, from the environment
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # a terminal's ^C goes to the parent
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a process-group TERM ends it at once
    agent = load(name)
    while not exit_event.is_set():
        try:
            agent(exit_event)
        except Exception:
            LOG.exception("provider agent %s failed; restarting it in %.0f s", name,
                          RESTART_DELAY)
        if not exit_event.is_set():
            exit_event.wait(RESTART_DELAY)


class ProviderAgents:
    """Start, watch and stop the enabled provider agents."""

    def __init__(self, names, shutdown_timeout=60, poll_interval=0.2, environment=None):
        self.environment = dict(environment or {})
        self.names = list(dict.fromkeys(names))
        self.shutdown_timeout = shutdown_timeout
        self.poll_interval = poll_interval
        self._ctx = multiprocessing.get_context("spawn")
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._procs = {}
        self._died = {}
        self.restarts = {name: 0 for name in self.names}
        self._thread = threading.Thread(target=self._watch, name="provider-agents", daemon=True)

    def start(self):
        """Check that every agent loads, start one process each and the supervisor."""
        for name in self.names:
            load(name)
        with self._lock:
            for name in self.names:
                self._spawn(name)
        self._thread.start()
        return self

    def pids(self):
        """{name: pid of its live process, or None}."""
        with self._lock:
            return {n: (p.pid if p.is_alive() else None) for n, p in self._procs.items()}

    def _spawn(self, name):
        # An event per process: a multiprocessing.Event whose waiter was killed blocks set()
        # for ever, so a dead process's event is dropped with it.
        exit_event = self._ctx.Event()
        proc = self._ctx.Process(target=run_agent, args=(name, exit_event, self.environment),
                                 name=f"provider-agent-{name}", daemon=False)
        proc.start()
        proc.exit_event = exit_event
        self._procs[name] = proc
        LOG.info("provider agent %s started (pid %s)", name, proc.pid)

    def _watch(self):
        while not self._stopping.wait(self.poll_interval):
            with self._lock:
                if self._stopping.is_set():
                    return
                now = time.monotonic()
                for name, proc in list(self._procs.items()):
                    if proc.is_alive():
                        continue
                    died = self._died.setdefault(name, now)
                    if died == now:
                        LOG.warning("provider agent %s (pid %s) exited with %s; restarting it "
                                    "in %.0f s", name, proc.pid, proc.exitcode, RESTART_DELAY)
                    if now - died >= RESTART_DELAY:
                        del self._died[name]
                        proc.close()
                        self.restarts[name] += 1
                        self._spawn(name)

    def stop(self):
        """Tell every agent to exit, wait for them, kill the stragglers."""
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(5)
        with self._lock:
            for proc in self._procs.values():
                if proc.is_alive():  # set() from a thread: a waiter killed just now blocks it
                    threading.Thread(target=proc.exit_event.set, daemon=True).start()
            deadline = time.monotonic() + self.shutdown_timeout
            for name, proc in self._procs.items():
                proc.join(max(0.0, deadline - time.monotonic()))
                if proc.is_alive():
                    LOG.warning("provider agent %s did not exit in %s s; killing it", name,
                                self.shutdown_timeout)
                    proc.kill()
                    proc.join(5)
            self._procs.clear()
