"""Real processes for tests and benchmarks: start one in its own process group, wait, stop it."""
import os
import signal
import socket
import subprocess
import sys
import time

import requests


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_udp_port():
    """A UDP port on 127.0.0.1 that nothing is bound to right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def health_manager_section():
    """A [health_manager] section listening on a free UDP port of 127.0.0.1: test processes
    running the amphora provider never contend for Octavia's default port 5555."""
    return f"\n[health_manager]\nbind_ip = 127.0.0.1\nbind_port = {free_udp_port()}\n"


def venv_command(name):
    """The path of a console script installed beside the running interpreter."""
    path = os.path.join(os.path.dirname(sys.executable), name)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{path} is missing: run scripts/setup.sh --test")
    return path


def venv_unavailable(venv, failed, commands):
    """Why a service venv made by `scripts/setup.sh --test` cannot be used, or None.

    failed: the file setup.sh writes when the install failed; commands: what must be in bin/.
    """
    try:
        return (f"the last `scripts/setup.sh --test` could not install it in {venv}:\n"
                + failed.read_text().strip())
    except OSError:
        pass
    missing = [name for name in commands if not os.access(venv / "bin" / name, os.X_OK)]
    if missing:
        return f"{', '.join(missing)} missing from {venv} (run `bash scripts/setup.sh --test`)"
    return None


def _stat(pid):
    """The fields of /proc/<pid>/stat after the command name (fields[0] is the state)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()


def children(pid):
    """PIDs of the direct children of a process."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if int(_stat(entry)[1]) == pid:
                    found.append(int(entry))
            except (OSError, IndexError, ValueError):
                continue
    return found


def cpu_ticks(pid):
    """CPU a process has used so far: utime + stime, in clock ticks."""
    fields = _stat(pid)
    return int(fields[11]) + int(fields[12])


def wait_for(condition, timeout, what, interval=0.02):
    """Call condition() until it returns a true value, which is returned; fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def clean_env(**extra):
    """This process's environment without OS_* variables, so no caller's cloud leaks in."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    env.update(extra)
    return env


class Service:
    """A long-running command in its own process group, logging to a file.

    `start()` returns once `GET <url>/` answers 200 (a condition, never a fixed
    sleep) and fails with the log if the process exits or the deadline passes.
    `stop()` sends SIGTERM, then SIGKILL to the whole group.
    """

    running = []  # every started, not yet stopped Service (their logs go into failure reports)

    def __init__(self, name, argv, port, log_path, env=None, cwd=None):
        """cwd: the process's working directory (default: this one's)."""
        self.name = name
        self.argv = list(argv)
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log_path = str(log_path)
        self.env = env or clean_env()
        self.cwd = cwd
        self.proc = None

    def start(self, timeout=60.0):
        """Launch the process and wait until its HTTP port answers."""
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(self.argv, stdout=log, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=self.env,
                                         cwd=self.cwd, start_new_session=True)
        Service.running.append(self)
        try:
            wait_for(self._answers, timeout, f"{self.name} to answer on {self.url}", 0.05)
        except (AssertionError, RuntimeError) as exc:
            self.stop()
            raise RuntimeError(f"{exc}\n{self.log_tail()}") from None
        return self

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before answering")
        try:
            return requests.get(self.url + "/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self, grace=15.0):
        """SIGTERM the process, wait up to `grace` seconds, then SIGKILL its process group."""
        if self in Service.running:
            Service.running.remove(self)
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # whatever is left of the group goes too
        except ProcessLookupError:
            pass
        self.proc.wait(10)

    def log_tail(self, limit=20000):
        """The end of the process's log."""
        try:
            with open(self.log_path, "rb") as log:
                log.seek(0, os.SEEK_END)
                log.seek(max(0, log.tell() - limit))
                return log.read().decode(errors="replace")
        except OSError as exc:
            return f"(no log: {exc})"


class GunicornService(Service):
    """gunicorn serving a WSGI application; ready when `GET <ready_path>` answers 200.

    Stopped with SIGINT, gunicorn's quick shutdown: after SIGTERM it waits for idle
    keep-alive clients, and Neutron's worker (OVSDB connections, periodic-task threads) does
    not exit before the graceful timeout runs out (measured: SIGTERM 5.3 s with
    --graceful-timeout 5, SIGINT 2.5 s).
    """

    ready_path = "/"

    def __init__(self, name, argv, port, log_path, env=None, ready_path=None):
        super().__init__(name, argv, port, log_path, env)
        if ready_path is not None:
            self.ready_path = ready_path

    def stop(self, grace=15.0):
        """SIGINT the master, then Service.stop (SIGTERM, SIGKILL to the group)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                pass
        super().stop(grace)

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode} before answering")
        try:
            return requests.get(self.url + self.ready_path, timeout=2).status_code == 200
        except requests.RequestException:
            return False
