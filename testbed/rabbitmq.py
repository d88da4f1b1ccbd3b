"""A throwaway RabbitMQ node for the test session, from Debian's rabbitmq-server.

Loopback only: the AMQP listener, the Erlang distribution port and epmd all bind 127.0.0.1
(see /work/shared/notes/components-here.md section 5). The node has its own name, its own
config, data, log and pid files under one temporary directory, and two ports chosen free at
run time, so two sessions on one machine do not collide.

One node per test session, shared by the pytest-xdist workers:

* the controller (or the only process, without xdist) names a session directory in
  `configure()` and hands its path to the workers in $LBAAS_TEST_RABBITMQ_SESSION (execnet
  workers inherit the environment);
* the first worker that needs a broker starts it under a file lock in that directory and
  writes its state there; the others read the state and use the same node (`session_broker`);
* the controller stops it in `finish()` at session end, after every worker is done.
"""
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

RABBITMQ_SERVER = "/usr/lib/rabbitmq/bin/rabbitmq-server"
RABBITMQCTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
SESSION_ENV = "LBAAS_TEST_RABBITMQ_SESSION"
EPMD_PORT = 4369
LOOPBACK_ERL_ARGS = "-kernel inet_dist_use_interface {127,0,0,1}"


def installed():
    """Why no broker can be started here, or None when rabbitmq-server is installed."""
    for path in (RABBITMQ_SERVER, RABBITMQCTL):
        if not os.access(path, os.X_OK):
            return f"{path} is missing (apt-get install rabbitmq-server; scripts/setup.sh --test)"
    return None


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _accepts(port, host="127.0.0.1"):
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def _alive(pid):
    """Whether `pid` runs and is not a zombie (an orphan's zombie may never be reaped here)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as comm:
            return comm.read().strip()
    except OSError:
        return ""


def _wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)


class Broker:
    """One RabbitMQ node: `start()`, `stop()`, `restart()`; `url(vhost)`, `add_vhost()`."""

    def __init__(self, directory, node=None, port=None, dist_port=None):
        self.dir = str(directory)
        self.node = node or f"lbaas-test-{uuid.uuid4().hex[:8]}@localhost"
        self.port = port or free_port()
        self.dist_port = dist_port or free_port()
        self.pid = None                 # beam.smp, from the pidfile
        self.started_epmd = False       # epmd was not running before this node started
        self.startup_seconds = None     # launch -> await_startup returned, of the last start
        self._proc = None               # the rabbitmq-server script, when started here

    # --- paths and environment ------------------------------------------------------------
    def _path(self, *parts):
        return os.path.join(self.dir, *parts)

    @property
    def pidfile(self):
        return self._path("rabbitmq.pid")

    @property
    def log_path(self):
        return self._path("log", "server.out")

    def env(self):
        """The environment of rabbitmq-server and rabbitmqctl for this node (same HOME, so the
        same Erlang cookie; an empty env file, so /etc/rabbitmq is never read)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(
            HOME=self._path("home"), RABBITMQ_NODENAME=self.node,
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(self.port),
            RABBITMQ_DIST_PORT=str(self.dist_port), ERL_EPMD_ADDRESS="127.0.0.1",
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=LOOPBACK_ERL_ARGS,
            RABBITMQ_CTL_ERL_ARGS=LOOPBACK_ERL_ARGS,
            RABBITMQ_CONF_ENV_FILE=self._path("etc", "rabbitmq-env.conf"),
            RABBITMQ_CONFIG_FILE=self._path("etc", "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=self._path("etc", "enabled_plugins"),
            RABBITMQ_MNESIA_BASE=self._path("mnesia"), RABBITMQ_LOG_BASE=self._path("log"),
            RABBITMQ_PID_FILE=self.pidfile)
        return env

    def _write_config(self):
        for sub in ("etc", "home", "log", "mnesia"):
            os.makedirs(self._path(sub), exist_ok=True)
        with open(self._path("etc", "rabbitmq.conf"), "w") as conf:
            conf.write(f"listeners.tcp.default = 127.0.0.1:{self.port}\n"
                       "loopback_users.guest = true\n"
                       "log.file.level = warning\n")
        with open(self._path("etc", "enabled_plugins"), "w") as plugins:
            plugins.write("[].\n")
        open(self._path("etc", "rabbitmq-env.conf"), "w").close()

    # --- life cycle -----------------------------------------------------------------------
    def start(self, timeout=120.0):
        """Start the node (a fresh or an existing data dir) and wait until it serves AMQP."""
        self._write_config()
        if os.path.exists(self.pidfile):
            os.unlink(self.pidfile)
        self.started_epmd = self.started_epmd or not _accepts(EPMD_PORT)
        begin = time.monotonic()
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen([RABBITMQ_SERVER], env=self.env(), stdout=log,
                                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                          start_new_session=True)
        try:
            # rabbitmqctl await_startup fails at once while the node is not registered with
            # epmd yet, so first the pidfile (beam.smp writes it once it runs)
            _wait(self._pidfile_or_exit, timeout, f"{self.pidfile} of {self.node}")
            if self._proc.poll() is not None:
                raise RuntimeError(f"rabbitmq-server exited with {self._proc.returncode}")
            with open(self.pidfile) as pidfile:
                self.pid = int(pidfile.read().split()[0])
            self.ctl("await_startup", "--timeout", str(int(timeout)), timeout=timeout + 10)
            if not _accepts(self.port):
                raise RuntimeError(f"{self.node} is up but 127.0.0.1:{self.port} refuses")
        except Exception as exc:
            self.stop()
            raise RuntimeError(f"RabbitMQ did not start: {exc}\n{self.log_tail()}") from None
        self.startup_seconds = time.monotonic() - begin
        return self

    def _pidfile_or_exit(self):
        if self._proc.poll() is not None:
            return True
        try:
            return os.path.getsize(self.pidfile) > 0
        except OSError:
            return False

    def alive(self):
        return self.pid is not None and _alive(self.pid) and _comm(self.pid) == "beam.smp"

    def stop(self, timeout=30.0):
        """Stop the node (its data dir stays, for `start()` again); then epmd if ours and idle."""
        if self.pid is not None and _alive(self.pid):
            os.kill(self.pid, signal.SIGTERM)
            try:
                _wait(lambda: not _alive(self.pid), timeout, f"{self.node} to stop")
            except RuntimeError:
                os.killpg(os.getpgid(self.pid), signal.SIGKILL)  # the setsid group: script too
        if self._proc is not None:
            try:
                self._proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
            self._proc = None
        self.pid = None

    def restart(self, timeout=120.0):
        """Stop and start again on the same data dir, name and ports (epmd is left running)."""
        self.stop()
        return self.start(timeout)

    def destroy(self):
        """Stop the node, stop epmd if this node started it and no other node uses it, and
        remove the directory."""
        try:
            self.stop()
            if self.started_epmd:
                self._stop_idle_epmd()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _stop_idle_epmd(self):
        names = subprocess.run(["epmd", "-names"], capture_output=True, text=True,
                               env=self.env(), timeout=10)
        if names.returncode != 0 or "\nname " in "\n" + names.stdout:
            return  # unreachable already, or another node (another session) still uses it
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _comm(entry) == "epmd":
                try:
                    os.kill(int(entry), signal.SIGTERM)
                except OSError:
                    pass

    # --- use ------------------------------------------------------------------------------
    def ctl(self, *args, timeout=60.0):
        """Run rabbitmqctl against this node; its stdout."""
        done = subprocess.run([RABBITMQCTL, "-n", self.node, "-q", *args], env=self.env(),
                              capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl {' '.join(args)}: exit {done.returncode}: "
                               f"{done.stderr.strip() or done.stdout.strip()}")
        return done.stdout

    def url(self, vhost="/"):
        """The oslo.messaging transport_url of a virtual host ("/" is the default one)."""
        return f"rabbit://guest:guest@127.0.0.1:{self.port}/{'' if vhost == '/' else vhost}"

    def add_vhost(self, name=None):
        """Create a virtual host that guest may use fully; its transport_url."""
        name = name or f"t-{uuid.uuid4().hex[:12]}"
        self.ctl("add_vhost", name)
        self.ctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        return self.url(name)

    def queues(self, vhost="/"):
        """{queue name: (messages ready, consumers, durable)} of a virtual host."""
        out = self.ctl("list_queues", "-p", vhost, "--no-table-headers",
                       "name", "messages_ready", "consumers", "durable")
        found = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 4:
                found[parts[0]] = (int(parts[1]), int(parts[2]), parts[3] == "true")
        return found

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, errors="replace") as log:
                return "".join(log.readlines()[-lines:])
        except OSError:
            return "(no log)"

    # --- shared state ---------------------------------------------------------------------
    def state(self):
        return {"dir": self.dir, "node": self.node, "port": self.port,
                "dist_port": self.dist_port, "pid": self.pid, "started_epmd": self.started_epmd,
                "startup_seconds": self.startup_seconds}

    @classmethod
    def from_state(cls, state):
        broker = cls(state["dir"], state["node"], state["port"], state["dist_port"])
        broker.pid = state["pid"]
        broker.started_epmd = state["started_epmd"]
        broker.startup_seconds = state["startup_seconds"]
        return broker


# --- one node per session, shared by xdist workers ------------------------------------------
def _is_worker(config):
    return hasattr(config, "workerinput")


def configure(config):
    """pytest_configure: the controller makes the session directory; workers inherit it."""
    if not _is_worker(config):   # created by the first user: sessions without one make none
        os.environ[SESSION_ENV] = os.path.join(tempfile.gettempdir(),
                                               f"lbaas-rmq-session-{uuid.uuid4().hex}")


class _Locked:
    def __init__(self, session_dir):
        self.path = os.path.join(session_dir, "lock")

    def __enter__(self):
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self.fd, fcntl.LOCK_EX)

    def __exit__(self, *exc):
        os.close(self.fd)   # releases the lock


PORT_ATTEMPTS = 3   # starts with fresh ports when another process took a port first


def session_broker():
    """The session's node, started by the first caller of any worker; raises when impossible.

    A start failure is remembered, so the other workers fail fast with the same reason
    instead of trying again.
    """
    reason = installed()
    if reason:
        raise RuntimeError(reason)
    session_dir = os.environ.get(SESSION_ENV)
    if not session_dir:
        raise RuntimeError(f"${SESSION_ENV} is not set: testbed.rabbitmq.configure() was not "
                           "called from pytest_configure")
    os.makedirs(session_dir, mode=0o700, exist_ok=True)
    state_path = os.path.join(session_dir, "state.json")
    with _Locked(session_dir):
        if os.path.exists(state_path):
            with open(state_path) as state_file:
                state = json.load(state_file)
            if "error" in state:
                raise RuntimeError(state["error"])
            broker = Broker.from_state(state)
            if broker.alive():
                return broker
        for attempt in range(1, PORT_ATTEMPTS + 1):
            broker = Broker(os.path.join(session_dir, f"node-{attempt}"))
            try:
                broker.start()
            except Exception as exc:
                state = {"error": str(exc)}
                if "eaddrinuse" in str(exc):   # a port chosen free was taken meanwhile
                    continue
            else:
                state = broker.state()
            break
        with open(state_path + ".new", "w") as state_file:
            json.dump(state, state_file)
        os.replace(state_path + ".new", state_path)
        if "error" in state:
            raise RuntimeError(state["error"])
        return broker


def finish(config):
    """pytest_sessionfinish: the controller stops the session's node and removes its files."""
    if _is_worker(config):
        return
    session_dir = os.environ.get(SESSION_ENV)
    if not session_dir or not os.path.isdir(session_dir):
        return
    try:
        with _Locked(session_dir):
            state_path = os.path.join(session_dir, "state.json")
            if os.path.exists(state_path):
                with open(state_path) as state_file:
                    state = json.load(state_file)
                if "error" not in state:
                    Broker.from_state(state).destroy()
    finally:
        shutil.rmtree(session_dir, ignore_errors=True)
