"""keepalived (VRRP) of an ACTIVE_STANDBY amphora: config, process, the VIPs it owns.

Layout: <base>/vrrp/keepalived.conf (as uploaded), keepalived.pid / vrrp.pid (the parent
and its VRRP child), keepalived.log, check-haproxy.sh (the track script the config names),
notify.sh (keepalived's notify script, which writes this node's VRRP state to `state`),
and `stopped` once the controller stopped it. keepalived runs in the foreground of its own
session (`-n -l`) so its log goes to a file the agent owns; it outlives an agent restart.

keepalived killed with SIGKILL leaves the VIP on the interface. Before keepalived is started
(again) every address of the config's `virtual_ipaddress` blocks is removed, so a node that
comes back never answers for a VIP its peer now holds.
"""
import ipaddress
import logging
import os
import re
import signal
import subprocess
import tempfile
import threading

from pyroute2 import IPRoute

from lbaas.agent import files
from lbaas.agent.haproxy import HAProxyError, alive, wait_for

LOG = logging.getLogger("lbaas.agent")
CONFIG, PID, VRRP_PID, LOG_FILE = "keepalived.conf", "keepalived.pid", "vrrp.pid", "keepalived.log"
CHECK_SCRIPT, NOTIFY_SCRIPT, STATE, STOPPED = "check-haproxy.sh", "notify.sh", "state", "stopped"
VIP_BLOCK = re.compile(r"virtual_ipaddress\s*\{([^}]*)\}", re.MULTILINE)

# Passes while every load balancer's HAProxy master that should run does (the agent's
# layout: <base>/<lb>/haproxy.cfg, haproxy.pid, and a `stopped` marker for a stop on purpose).
CHECK_TEXT = """#!/bin/sh
# keepalived's track script: fail while a load balancer's HAProxy is down.
cd "$(dirname "$0")/.." || exit 1
for d in */; do
    [ -f "$d/haproxy.cfg" ] || continue
    [ -f "$d/stopped" ] && continue
    pid=$(cat "$d/haproxy.pid" 2>/dev/null) || exit 1
    kill -0 "$pid" 2>/dev/null || exit 1
done
exit 0
"""


# keepalived runs it on every state change with: INSTANCE <name> <state> <priority>.
NOTIFY_TEXT = """#!/bin/sh
# keepalived's notify script: record this node's VRRP state (MASTER, BACKUP, FAULT, STOP).
cd "$(dirname "$0")" || exit 1
echo "$3" > state.tmp && mv state.tmp state
"""


def vip_addresses(text):
    """The interface addresses [(ip, prefixlen)] a keepalived config's VIP blocks name."""
    found = []
    for block in VIP_BLOCK.findall(text or ""):
        for line in block.splitlines():
            words = line.split()
            if not words:
                continue
            try:
                iface = ipaddress.ip_interface(words[0])
            except ValueError:
                continue
            found.append((str(iface.ip), iface.network.prefixlen))
    return found


class KeepalivedManager:
    """Validate, install, start, reload, stop and revive the amphora's keepalived."""

    def __init__(self, base_dir, keepalived_bin="keepalived", timeout=10.0):
        self.dir = os.path.join(os.path.abspath(base_dir), "vrrp")
        self.bin, self.timeout = keepalived_bin, timeout
        self._lock = threading.RLock()

    def path(self, name):
        """A file of the VRRP directory."""
        return os.path.join(self.dir, name)

    def config(self):
        """The installed config text, or None."""
        try:
            with open(self.path(CONFIG)) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def scripts(self):
        """{"vrrp_check_script", "vrrp_notify_script"}: the absolute paths a config names."""
        return {"vrrp_check_script": self.path(CHECK_SCRIPT),
                "vrrp_notify_script": self.path(NOTIFY_SCRIPT)}

    def validate(self, text):
        """keepalived's complaint about a config (`keepalived -t`), or None when valid.

        keepalived prints only what it ignores or refuses, so any output is a complaint.
        Its pid-file options point into a temporary directory: a check never touches the
        running instance's files.
        """
        self._write_check()   # the config names them: keepalived refuses a missing script
        with tempfile.TemporaryDirectory(dir=self.dir, prefix=".check-") as tmp:
            path = os.path.join(tmp, CONFIG)
            with open(path, "w") as f:
                f.write(text)
            proc = subprocess.run(
                [self.bin, "-t", "-f", path] + [arg for flag, name in (
                    ("-p", PID), ("-r", VRRP_PID), ("-c", "checkers.pid"), ("-b", "bfd.pid"))
                    for arg in (flag, os.path.join(tmp, name))],
                capture_output=True, text=True, timeout=self.timeout, cwd=tmp)
        out = (proc.stdout + proc.stderr).replace(path, CONFIG).strip()
        if proc.returncode != 0:
            return out or f"keepalived -t exited with status {proc.returncode}"
        return out or None

    def _write_check(self):
        os.makedirs(self.dir, mode=0o700, exist_ok=True)
        files.write_atomic(self.path(CHECK_SCRIPT), CHECK_TEXT.encode(), 0o700)
        files.write_atomic(self.path(NOTIFY_SCRIPT), NOTIFY_TEXT.encode(), 0o700)

    def state(self):
        """This node's VRRP state as keepalived last reported it (MASTER, BACKUP, FAULT),
        'INIT' before its first report, 'STOPPED' when it does not run; None unconfigured."""
        status = self.status()
        if status != "ACTIVE":
            return status
        try:
            with open(self.path(STATE)) as f:
                return f.read().strip() or "INIT"
        except FileNotFoundError:
            return "INIT"

    def install(self, text):
        """Write the config and the scripts it runs (root-only: keepalived checks them).

        A keepalived not running yet stays down until the controller starts it (the
        supervisor does not start it first): a pair's MASTER must be started before its
        BACKUP, or the BACKUP is elected and keeps the VIP.
        """
        with self._lock:
            self._write_check()
            if self.pid() is None:
                with open(self.path(STOPPED), "w"):
                    pass
            files.write_atomic(self.path(CONFIG), text.encode())

    def pid(self):
        """The running keepalived parent's pid, or None."""
        try:
            with open(self.path(PID)) as f:
                pid = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"keepalived" not in f.read().split(b"\0")[0]:
                    return None
        except OSError:
            return None
        return pid if alive(pid) else None

    def status(self):
        """'ACTIVE' when keepalived runs, 'STOPPED' when configured but down, else None."""
        if self.config() is None:
            return None
        return "ACTIVE" if self.pid() else "STOPPED"

    def holds_vip(self):
        """Whether this node carries any VIP of the config (it is the VRRP MASTER)."""
        wanted = {ip for ip, _ in vip_addresses(self.config())}
        if not wanted:
            return False
        with IPRoute() as ipr:
            return any(a.get_attr("IFA_ADDRESS") in wanted for a in ipr.get_addr())

    def release_vips(self):
        """Remove every VIP of the config from this node's interfaces (left by a SIGKILL)."""
        wanted = dict(vip_addresses(self.config()))
        removed = []
        with IPRoute() as ipr:
            for entry in ipr.get_addr():
                address = entry.get_attr("IFA_ADDRESS")
                if address in wanted:
                    ipr.addr("del", index=entry["index"], address=address,
                             prefixlen=entry["prefixlen"])
                    removed.append(address)
        if removed:
            LOG.warning("removed VIP(s) %s left by a keepalived that died", ", ".join(removed))
        return removed

    def start(self):
        """Start keepalived (no-op when running); -> its pid."""
        with self._lock:
            self._forget_stop()
            return self._start()

    def _forget_stop(self):
        if os.path.exists(self.path(STOPPED)):
            os.unlink(self.path(STOPPED))

    def _start(self):
        if self.config() is None:
            raise FileNotFoundError("no keepalived configuration")
        if (pid := self.pid()) is not None:
            return pid
        self.release_vips()
        if os.path.exists(self.path(STATE)):
            os.unlink(self.path(STATE))   # a new process reports afresh
        argv = [self.bin, "-n", "-l", "-D", "-P", "-f", self.path(CONFIG),
                "-p", self.path(PID), "-r", self.path(VRRP_PID),
                "-c", self.path("checkers.pid")]
        with open(self.path(LOG_FILE), "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                    start_new_session=True, cwd=self.dir)
        threading.Thread(target=proc.wait, daemon=True).start()   # reaped when it ends
        if not wait_for(lambda: self.pid() == proc.pid or proc.poll() is not None,
                        self.timeout):
            raise HAProxyError("keepalived did not come up", self._log_tail())
        if proc.poll() is not None:
            raise HAProxyError("keepalived failed to start", self._log_tail())
        return proc.pid

    def _log_tail(self):
        try:
            with open(self.path(LOG_FILE), errors="replace") as f:
                return "".join(f.readlines()[-20:])
        except OSError:
            return ""

    def reload(self):
        """Make a running keepalived read its config again (SIGHUP); start it if down."""
        with self._lock:
            self._forget_stop()
            pid = self.pid()
            if pid is None:
                return self._start()
            os.kill(pid, signal.SIGHUP)
            return pid

    def stop(self):
        """Stop keepalived (it gives the VIP up to its peer first); remembered by a marker."""
        with self._lock:
            if os.path.isdir(self.dir):
                with open(self.path(STOPPED), "w"):
                    pass
            pid = self.pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
                if not wait_for(lambda: self.pid() is None, self.timeout):
                    os.kill(pid, signal.SIGKILL)
                    wait_for(lambda: self.pid() is None, self.timeout)
            self.release_vips()

    def revive(self):
        """Start a keepalived that died on its own (not stopped on purpose); True if so."""
        with self._lock:
            if self.config() is None or os.path.exists(self.path(STOPPED)) \
                    or self.pid() is not None:
                return False
            LOG.warning("keepalived is not running: starting it again")
            self._start()
            return True
