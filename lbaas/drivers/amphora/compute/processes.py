"""Processes inside a network namespace: start one there, find and stop all of them."""
import os
import signal
import subprocess
import time

from pyroute2 import netns

NETNS_DIR = "/var/run/netns"


def start_time(pid):
    """The start time of `pid` in clock ticks after boot (field 22 of /proc/PID/stat), or
    None if no live process has that pid (a zombie counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None  # a zombie is gone for our purposes
    return int(fields[19])


def spawn(ns_name, argv, log_path):
    """Start argv in its own session inside netns `ns_name`; -> (pid, start time)."""
    def enter():
        netns.setns(ns_name, flags=0)

    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True, preexec_fn=enter, close_fds=True)
    return proc.pid, start_time(proc.pid)


def pids_in(ns_name):
    """Pids of every process whose network namespace is `ns_name` (like `ip netns pids`)."""
    try:
        target = os.stat(os.path.join(NETNS_DIR, ns_name))
    except FileNotFoundError:
        return set()
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_ino, st.st_dev) == (target.st_ino, target.st_dev):
            found.add(int(entry))
    return found


def alive(pid, started=None):
    """Whether `pid` runs (and, if `started` (its start_time) is given, is still the same
    process)."""
    _reap(pid)
    now = start_time(pid)
    return now is not None and (started is None or now == started)


def _reap(pid):
    """Collect `pid` if it is our exited child, so it does not linger as a zombie."""
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass


def _signal(pid, sig):
    """Send sig to pid's process group if it leads one, else to pid; ignore if gone."""
    try:
        target = -pid if os.getpgid(pid) == pid else pid
        os.kill(target, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop(procs, timeout=5.0):
    """Terminate {pid: start_time or None}; wait until all are gone, then SIGKILL stragglers."""
    procs = {pid: st for pid, st in procs.items() if alive(pid, st)}
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, timeout)):
        for pid, st in procs.items():
            if alive(pid, st):
                _signal(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            procs = {pid: st for pid, st in procs.items() if alive(pid, st)}
            if not procs:
                return
            time.sleep(0.02)
    if procs:
        raise RuntimeError(f"processes {sorted(procs)} survived SIGKILL")
