"""One HAProxy per load balancer, in master-worker mode, under a base directory.

Layout: <base>/<lb_id>/haproxy.cfg, haproxy.pid (unless the config names its own `pidfile`),
master.sock (the master CLI, `-S`). The config's own `stats socket` and `server-state-file`
are read from the file: the state is saved through the stats socket before a reload.
Every wait is on a condition with a deadline, never a fixed sleep.
"""
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

LB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
CONFIG, PID, MASTER = "haproxy.cfg", "haproxy.pid", "master.sock"


class HAProxyError(Exception):
    """A HAProxy command failed; `details` holds what HAProxy said."""

    def __init__(self, message, details=""):
        super().__init__(message)
        self.message, self.details = message, details


def wait_for(condition, timeout, interval=0.02):
    """Call condition() until it is true (return True) or the deadline passes (return False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def directive(text, name):
    """The argument of the first `global` directive `name` in a config text, or None."""
    match = re.search(rf"^\s*{re.escape(name)}\s+(\S+)", text, re.MULTILINE)
    return match.group(1) if match else None


def alive(pid):
    """Whether pid is a live process (a zombie left for an absent reaper counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _is_haproxy(pid):
    """Whether pid runs haproxy (guards a stale pid file against pid reuse)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"haproxy" in f.read().split(b"\0")[0]
    except OSError:
        return False


def unix_command(path, command, timeout=5.0):
    """Send one command to a HAProxy CLI socket and return its whole answer."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        sock.sendall(command.encode() + b"\n")
        sock.shutdown(socket.SHUT_WR)   # the master CLI answers only once input ends
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    return data.decode(errors="replace")


def workers(show_proc):
    """The current (not old) worker pids in a master CLI `show proc` answer."""
    pids, section = set(), None
    for line in show_proc.splitlines():
        if line.startswith("#"):
            section = line.strip("# ").split()[0] if line.strip("# ") else None
            continue
        words = line.split()
        if section == "workers" and len(words) > 1 and words[1] == "worker":
            pids.add(int(words[0]))
    return pids


def _write_atomic(path, data):
    """Write bytes to path through a same-directory temporary file and a rename."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class HAProxyManager:
    """Validate, install, start, reload, stop and remove the HAProxy of each load balancer."""

    def __init__(self, base_dir, haproxy_bin="haproxy", timeout=15.0):
        """Manage instances under base_dir with the given binary; waits end after timeout s."""
        self.base_dir, self.bin, self.timeout = os.path.abspath(base_dir), haproxy_bin, timeout
        os.makedirs(self.base_dir, mode=0o700, exist_ok=True)

    def path(self, lb_id, name=""):
        """A file of one load balancer's directory (ValueError for an unsafe id)."""
        if not LB_ID.match(lb_id or ""):
            raise ValueError(f"invalid load balancer id {lb_id!r}")
        return os.path.join(self.base_dir, lb_id, name)

    def version(self):
        """The HAProxy version string, e.g. '2.6.12-1+deb12u4'."""
        out = subprocess.run([self.bin, "-v"], capture_output=True, text=True).stdout
        match = re.search(r"version (\S+)", out)
        return match.group(1) if match else ""

    def validate(self, text):
        """HAProxy's complaint about a config text (`haproxy -c`), or None when it is valid."""
        fd, tmp = tempfile.mkstemp(dir=self.base_dir, prefix=".check-", suffix=".cfg")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(text)
            proc = subprocess.run([self.bin, "-c", "-f", tmp], capture_output=True, text=True,
                                  timeout=self.timeout)
        finally:
            os.unlink(tmp)
        if proc.returncode != 0:
            return (proc.stdout + proc.stderr).replace(tmp, "haproxy.cfg").strip()
        return None

    def install(self, lb_id, text):
        """Write a load balancer's config atomically (it should have been validated)."""
        os.makedirs(self.path(lb_id), mode=0o700, exist_ok=True)
        _write_atomic(self.path(lb_id, CONFIG), text.encode())

    def config(self, lb_id):
        """The installed config text of a load balancer, or None."""
        try:
            with open(self.path(lb_id, CONFIG)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def lb_ids(self):
        """The ids of every load balancer with an installed config."""
        return sorted(d for d in os.listdir(self.base_dir)
                      if LB_ID.match(d) and os.path.exists(os.path.join(self.base_dir, d, CONFIG)))

    def pid_file(self, lb_id):
        """Where the master's pid is written: the config's `pidfile`, else <lb dir>/haproxy.pid."""
        return directive(self.config(lb_id) or "", "pidfile") or self.path(lb_id, PID)

    def pid(self, lb_id):
        """The pid of the running master, or None."""
        try:
            with open(self.pid_file(lb_id)) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        return pid if alive(pid) and _is_haproxy(pid) else None

    def status(self, lb_id):
        """'ACTIVE' when the master runs, else 'STOPPED'."""
        return "ACTIVE" if self.pid(lb_id) else "STOPPED"

    def _require(self, lb_id):
        text = self.config(lb_id)
        if text is None:
            raise FileNotFoundError(lb_id)
        return text

    def _prepare_state(self, text):
        """Create a missing server-state file with the empty dump (an empty file warns)."""
        state = directive(text, "server-state-file")
        if state and not os.path.exists(state):
            os.makedirs(os.path.dirname(state) or ".", exist_ok=True)
            _write_atomic(state, b"1\n")

    def start(self, lb_id):
        """Start the load balancer's HAProxy (no-op if running); return its master pid."""
        text = self._require(lb_id)
        if (pid := self.pid(lb_id)) is not None:
            return pid
        self._prepare_state(text)
        argv = [self.bin, "-W", "-D", "-f", self.path(lb_id, CONFIG),
                "-S", self.path(lb_id, MASTER)]
        if not directive(text, "pidfile"):
            argv += ["-p", self.path(lb_id, PID)]
        # -D returns once the listeners are bound and the master has daemonized
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout)
        if proc.returncode != 0:
            raise HAProxyError("HAProxy failed to start", (proc.stdout + proc.stderr).strip())
        if not wait_for(lambda: self.pid(lb_id) and self._show_proc(lb_id), self.timeout):
            raise HAProxyError("HAProxy did not come up", (proc.stdout + proc.stderr).strip())
        return self.pid(lb_id)

    def _show_proc(self, lb_id):
        try:
            return unix_command(self.path(lb_id, MASTER), "show proc")
        except OSError:
            return ""

    def save_state(self, lb_id):
        """Dump `show servers state` into the config's server-state-file, if it has both."""
        text = self._require(lb_id)
        state, stats = directive(text, "server-state-file"), directive(text, "stats socket")
        if not (state and stats):
            return
        try:
            dump = unix_command(stats, "show servers state")
        except OSError:
            return   # no socket to ask: keep the previous state
        if dump.strip():
            _write_atomic(state, dump.encode())

    def reload(self, lb_id):
        """Seamless reload through the master CLI; start instead when not running."""
        self._require(lb_id)
        if self.pid(lb_id) is None:
            return self.start(lb_id)
        before = workers(self._show_proc(lb_id))
        self.save_state(lb_id)
        unix_command(self.path(lb_id, MASTER), "reload")
        if not wait_for(lambda: (w := workers(self._show_proc(lb_id))) and not w & before,
                        self.timeout):
            raise HAProxyError("HAProxy reload did not complete", self._show_proc(lb_id))
        return self.pid(lb_id)

    def stop(self, lb_id):
        """Terminate the master and its workers; return once none of them is alive."""
        pid = self.pid(lb_id)
        if pid is None:
            return
        pids = {pid} | workers(self._show_proc(lb_id))
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        if not wait_for(lambda: not any(alive(p) for p in pids), self.timeout):
            for p in pids:
                if alive(p):
                    os.kill(p, signal.SIGKILL)
            wait_for(lambda: not any(alive(p) for p in pids), self.timeout)
        for name in (MASTER, PID):
            if os.path.exists(self.path(lb_id, name)):
                os.unlink(self.path(lb_id, name))

    def remove(self, lb_id):
        """Stop the load balancer's HAProxy and delete its directory; False if it was unknown."""
        directory = self.path(lb_id)
        if not os.path.isdir(directory):
            return False
        if self.config(lb_id) is not None:
            self.stop(lb_id)
        for name in os.listdir(directory):
            os.unlink(os.path.join(directory, name))
        os.rmdir(directory)
        return True

    def mode(self, lb_id):
        """The listener type of a config ('HTTP' or 'TCP') from its first `mode` line."""
        return (directive(self.config(lb_id) or "", "mode") or "tcp").upper()
