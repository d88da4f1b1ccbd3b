"""One HAProxy per load balancer, in master-worker mode, under a base directory.

Layout: <base>/<lb_id>/haproxy.cfg (as uploaded), haproxy.run.cfg (what HAProxy reads),
haproxy.applied (the MD5 of the haproxy.cfg HAProxy was last started or reloaded with, so
an upload not yet followed by a reload shows: `applied`),
haproxy.pid (unless the config names its own `pidfile`), master.sock (the master CLI, `-S`).
The config's own `stats socket` and `server-state-file` are read from the file: the state is
saved through the stats socket before a reload.

Certificate files (TLS) live in <base>/<lb_id>/certs/ (mode 0700), each file 0600, named
`*.pem`; the controller names them `certs/<file>` in the config, relative to the LB directory.

Relative paths: HAProxy runs with its working directory = the LB directory (it does not
chdir when it daemonizes, and the master re-execs in place on reload), so `pidfile`,
`server-state-file` and `stats socket` may be relative to it, and the agent resolves them
the same way. A bare relative `stats socket stats.sock` (which HAProxy would read as a host
name) becomes `unix@stats.sock` in haproxy.run.cfg. The agent reaches unix sockets through
/proc/self/fd/<fd of the directory>/<name>, so a long base directory never hits the 107-byte
limit of socket paths. Every wait is on a condition with a deadline, never a fixed sleep.
"""
import hashlib
import logging
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time

from lbaas.agent import files

LB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")   # fullmatch: no trailing newline
LOG = logging.getLogger("lbaas.agent")
CONFIG, RUN_CONFIG = "haproxy.cfg", "haproxy.run.cfg"
PID, MASTER, APPLIED = "haproxy.pid", "master.sock", "haproxy.applied"
STOPPED = "stopped"   # marker: the controller stopped this HAProxy; do not revive it
SUN_PATH_MAX = 107      # bytes of a unix socket path (sun_path without its NUL)
STATS_SOCKET = re.compile(r"^(\s*stats\s+socket\s+)(\S+)", re.MULTILINE)
CERTS = "certs"         # the LB's certificate directory, relative to its own directory
CERT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,250}\.pem")   # fullmatch
PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=:,\- \r\n]*?)"
                       rb"-----END \1-----")


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


def _bare_path(address):
    """Whether a `stats socket` address is a relative file path without any prefix."""
    return not address.startswith("/") and "@" not in address and ":" not in address


def runtime_config(text):
    """The config text HAProxy reads: a bare relative `stats socket` path gets `unix@`."""
    return STATS_SOCKET.sub(lambda m: m.group(1) + ("unix@" if _bare_path(m.group(2)) else "")
                            + m.group(2), text)


def socket_path(address):
    """The AF_UNIX path of a HAProxy socket address ('\\0name' for abns@), or None for TCP."""
    if address.startswith("abns@"):
        return "\0" + address[5:]
    if address.startswith("unix@"):
        return address[5:]
    return address if _bare_path(address) or address.startswith("/") else None


def connect_unix(sock, path, directory):
    """Connect sock to unix socket `path`, relative to `directory` unless absolute.

    A relative path, or one too long for sun_path, goes through the short name
    /proc/self/fd/<fd of its directory>/<file name>.
    """
    if path.startswith("\0"):
        sock.connect(path)
        return
    full = os.path.join(directory, path)
    if os.path.isabs(path) and len(full.encode()) <= SUN_PATH_MAX:
        sock.connect(full)
        return
    fd = os.open(os.path.dirname(full) or ".", os.O_PATH | os.O_DIRECTORY)
    try:
        sock.connect(f"/proc/self/fd/{fd}/{os.path.basename(full)}")
    finally:
        os.close(fd)


def unix_command(path, command, timeout=5.0, directory="/"):
    """Send one command to a HAProxy CLI socket (path relative to directory) and return its answer."""
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(timeout)
        connect_unix(sock, path, directory)
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


def is_pem(data):
    """Whether bytes are PEM: only PEM blocks (ASCII, base64 bodies) and blank space."""
    if not isinstance(data, bytes) or not data.strip():
        return False
    try:
        data.decode("ascii")
    except UnicodeDecodeError:
        return False
    return bool(PEM_BLOCK.search(data)) and not PEM_BLOCK.sub(b"", data).strip()


class HAProxyManager:
    """Validate, install, start, reload, stop and remove the HAProxy of each load balancer."""

    def __init__(self, base_dir, haproxy_bin="haproxy", timeout=15.0):
        """Manage instances under base_dir with the given binary; waits end after timeout s."""
        self.base_dir, self.bin, self.timeout = os.path.abspath(base_dir), haproxy_bin, timeout
        os.makedirs(self.base_dir, mode=0o700, exist_ok=True)
        self._locks, self._locks_lock = {}, threading.Lock()

    def _lock(self, lb_id):
        """The lock serialising start, reload, stop, remove and revive of one load balancer."""
        with self._locks_lock:
            return self._locks.setdefault(lb_id, threading.RLock())

    def path(self, lb_id, name=""):
        """A file of one load balancer's directory (ValueError for an unsafe id)."""
        if not LB_ID.fullmatch(lb_id or ""):
            raise ValueError(f"invalid load balancer id {lb_id!r}")
        return os.path.join(self.base_dir, lb_id, name)

    def version(self):
        """The HAProxy version string, e.g. '2.6.12-1+deb12u4'."""
        out = subprocess.run([self.bin, "-v"], capture_output=True, text=True).stdout
        match = re.search(r"version (\S+)", out)
        return match.group(1) if match else ""

    def validate(self, text, lb_id=None):
        """HAProxy's complaint about a config text (`haproxy -c`), or None when it is valid.

        With lb_id, the check runs in the LB's directory (when it exists), as HAProxy will:
        relative paths such as `certs/<file>.pem` resolve there.
        """
        cwd = self.path(lb_id) if lb_id and os.path.isdir(self.path(lb_id)) else self.base_dir
        fd, tmp = tempfile.mkstemp(dir=self.base_dir, prefix=".check-", suffix=".cfg")
        try:
            with os.fdopen(fd, "w") as f:
                f.write(runtime_config(text))
            proc = subprocess.run([self.bin, "-c", "-f", tmp], capture_output=True, text=True,
                                  timeout=self.timeout, cwd=cwd)
        finally:
            os.unlink(tmp)
        if proc.returncode != 0:
            return (proc.stdout + proc.stderr).replace(tmp, "haproxy.cfg").strip()
        return None

    def install(self, lb_id, text):
        """Write a load balancer's config atomically (it should have been validated)."""
        os.makedirs(self.path(lb_id), mode=0o700, exist_ok=True)
        files.write_atomic(self.path(lb_id, CONFIG), text.encode())

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
                      if LB_ID.fullmatch(d) and os.path.exists(os.path.join(self.base_dir, d, CONFIG)))

    def resolve(self, lb_id, path):
        """A file path from a config, relative to the LB directory (HAProxy's cwd) unless absolute."""
        return os.path.join(self.path(lb_id), path)

    def pid_file(self, lb_id):
        """Where the master's pid is written: the config's `pidfile`, else <lb dir>/haproxy.pid."""
        return self.resolve(lb_id, directive(self.config(lb_id) or "", "pidfile") or PID)

    def state_file(self, lb_id, text=None):
        """The config's server-state-file (after server-state-base), resolved; or None."""
        text = self.config(lb_id) if text is None else text
        state = directive(text or "", "server-state-file")
        if not state:
            return None
        return self.resolve(lb_id, os.path.join(directive(text, "server-state-base") or "", state))

    def stats_socket(self, lb_id, text=None):
        """The AF_UNIX path of the config's first `stats socket` (maybe relative), or None."""
        text = self.config(lb_id) if text is None else text
        address = directive(text or "", "stats socket")
        return socket_path(address) if address else None

    def stats_command(self, lb_id, command, timeout=5.0):
        """Send a command to the LB's stats socket; its answer (OSError if unreachable)."""
        path = self.stats_socket(lb_id)
        if path is None:
            raise FileNotFoundError(f"{lb_id} has no unix stats socket")
        return unix_command(path, command, timeout, self.path(lb_id))

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

    def applied(self, lb_id):
        """Whether HAProxy was last started or reloaded with the installed haproxy.cfg (an
        upload whose reload never came, its sender killed in between, shows as False)."""
        text = self.config(lb_id)
        try:
            with open(self.path(lb_id, APPLIED)) as f:
                done = f.read().strip()
        except FileNotFoundError:
            return False
        return text is not None and done == hashlib.md5(text.encode()).hexdigest()

    def _applied(self, lb_id, text):
        files.write_atomic(self.path(lb_id, APPLIED),
                           hashlib.md5(text.encode()).hexdigest().encode())

    def _require(self, lb_id):
        text = self.config(lb_id)
        if text is None:
            raise FileNotFoundError(lb_id)
        return text

    def _prepare(self, lb_id, text):
        """Write the runtime config; create a missing server-state file with the empty dump."""
        files.write_atomic(self.path(lb_id, RUN_CONFIG), runtime_config(text).encode())
        state = self.state_file(lb_id, text)
        if state and not os.path.exists(state):
            os.makedirs(os.path.dirname(state), exist_ok=True)
            files.write_atomic(state, b"1\n")

    def start(self, lb_id):
        """Start the load balancer's HAProxy (no-op if running); return its master pid."""
        with self._lock(lb_id):
            self._forget_stop(lb_id)
            return self._start(lb_id)

    def _forget_stop(self, lb_id):
        if os.path.exists(self.path(lb_id, STOPPED)):
            os.unlink(self.path(lb_id, STOPPED))

    def _start(self, lb_id):
        text = self._require(lb_id)
        if (pid := self.pid(lb_id)) is not None:
            return pid
        self._prepare(lb_id, text)
        # cwd = the LB directory: relative paths in the config and -S resolve there, now and
        # after every reload (the master re-execs with the same argv and directory)
        argv = [self.bin, "-W", "-D", "-f", self.path(lb_id, RUN_CONFIG),
                "-S", f"unix@{MASTER},mode,600"]
        if not directive(text, "pidfile"):
            argv += ["-p", PID]
        # -D returns once the listeners are bound and the master has daemonized
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=self.timeout,
                              cwd=self.path(lb_id))
        if proc.returncode != 0:
            raise HAProxyError("HAProxy failed to start", (proc.stdout + proc.stderr).strip())
        if not wait_for(lambda: self.pid(lb_id) and self._show_proc(lb_id), self.timeout):
            raise HAProxyError("HAProxy did not come up", (proc.stdout + proc.stderr).strip())
        self._applied(lb_id, text)
        return self.pid(lb_id)

    def _master(self, lb_id, command):
        return unix_command(MASTER, command, directory=self.path(lb_id))

    def _show_proc(self, lb_id):
        try:
            return self._master(lb_id, "show proc")
        except OSError:
            return ""

    def save_state(self, lb_id):
        """Dump `show servers state` into the config's server-state-file, if it has both."""
        text = self._require(lb_id)
        state = self.state_file(lb_id, text)
        if not (state and self.stats_socket(lb_id, text)):
            return
        try:
            dump = self.stats_command(lb_id, "show servers state")
        except OSError:
            return   # no socket to ask: keep the previous state
        if dump.strip():
            files.write_atomic(state, dump.encode())

    def reload(self, lb_id):
        """Seamless reload through the master CLI; start instead when not running."""
        with self._lock(lb_id):
            self._forget_stop(lb_id)
            return self._reload(lb_id)

    def _reload(self, lb_id):
        text = self._require(lb_id)
        if self.pid(lb_id) is None:
            return self._start(lb_id)
        before = workers(self._show_proc(lb_id))
        self.save_state(lb_id)
        self._prepare(lb_id, text)    # the re-executed master reads the new runtime config
        self._master(lb_id, "reload")
        if not wait_for(lambda: (w := workers(self._show_proc(lb_id))) and not w & before,
                        self.timeout):
            raise HAProxyError("HAProxy reload did not complete", self._show_proc(lb_id))
        self._applied(lb_id, text)
        return self.pid(lb_id)

    def stop(self, lb_id):
        """Terminate the master and its workers; return once none of them is alive.

        The stop is remembered (a marker file), so revive() leaves this HAProxy down.
        """
        with self._lock(lb_id):
            if os.path.isdir(self.path(lb_id)):
                with open(self.path(lb_id, STOPPED), "w"):
                    pass
            self._stop(lb_id)

    def _stop(self, lb_id):
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
        for path in (self.path(lb_id, MASTER), self.pid_file(lb_id)):
            if os.path.exists(path):
                os.unlink(path)

    def remove(self, lb_id):
        """Stop the load balancer's HAProxy and delete its directory; False if it was unknown."""
        with self._lock(lb_id):
            directory = self.path(lb_id)
            if not os.path.isdir(directory):
                return False
            if self.config(lb_id) is not None:
                self._stop(lb_id)
            self._remove_certificates(lb_id)
            for name in os.listdir(directory):
                os.unlink(os.path.join(directory, name))
            os.rmdir(directory)
            return True

    # -- certificate files ------------------------------------------------------------
    def certificate_path(self, lb_id, name=""):
        """A file of the LB's certs/ directory (ValueError for an unsafe id or file name)."""
        if name and not CERT_NAME.fullmatch(name):
            raise ValueError(f"invalid certificate file name {name!r} (expected <name>.pem)")
        return os.path.join(self.path(lb_id, CERTS), name)

    def write_certificate(self, lb_id, name, data):
        """Store a PEM file (mode 0600) in the LB's certs/ (ValueError if not PEM); its md5."""
        path = self.certificate_path(lb_id, name)
        if not is_pem(data):
            raise ValueError(f"{name}: the body is not PEM")
        with self._lock(lb_id):   # not while remove() empties the directory
            os.makedirs(self.path(lb_id), mode=0o700, exist_ok=True)
            os.makedirs(self.certificate_path(lb_id), mode=0o700, exist_ok=True)
            files.write_atomic(path, data)
        return hashlib.md5(data).hexdigest()

    def certificate_md5(self, lb_id, name):
        """The md5 of one certificate file of the LB, or None when it has none by that name."""
        try:
            with open(self.certificate_path(lb_id, name), "rb") as f:
                return hashlib.md5(f.read()).hexdigest()
        except FileNotFoundError:
            return None

    def certificates(self, lb_id):
        """{file name: md5} of every certificate file of the LB ({} when it has none)."""
        try:
            names = os.listdir(self.certificate_path(lb_id))
        except FileNotFoundError:
            return {}
        found = {name: self.certificate_md5(lb_id, name) for name in sorted(names)
                 if CERT_NAME.fullmatch(name)}
        return {name: md5 for name, md5 in found.items() if md5 is not None}

    def delete_certificate(self, lb_id, name):
        """Remove one certificate file of the LB; False when it did not exist."""
        path = self.certificate_path(lb_id, name)
        with self._lock(lb_id):
            try:
                os.unlink(path)
            except FileNotFoundError:
                return False
        return True

    def _remove_certificates(self, lb_id):
        """Delete the LB's certs/ directory and every file in it."""
        directory = self.certificate_path(lb_id)
        if os.path.isdir(directory):
            for name in os.listdir(directory):
                os.unlink(os.path.join(directory, name))
            os.rmdir(directory)

    def revive(self, lb_id):
        """Start a HAProxy that died on its own (not stopped by the controller); True if so."""
        with self._lock(lb_id):
            if self.config(lb_id) is None or os.path.exists(self.path(lb_id, STOPPED)) \
                    or self.pid(lb_id) is not None:
                return False
            LOG.warning("HAProxy of load balancer %s is not running: starting it again", lb_id)
            self._start(lb_id)
            return True

    def mode(self, lb_id):
        """The listener type of a config ('HTTP' or 'TCP') from its first `mode` line."""
        return (directive(self.config(lb_id) or "", "mode") or "tcp").upper()
