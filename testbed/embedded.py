"""`lbaas serve`'s embedded amphora defaults on this host, for tests: one run at a time, and
what it leaves behind by design (the spare amphora, bridges lbaas-public and lbaas-mgmt)
removed afterwards.

The embedded defaults use fixed names and addresses (bridge lbaas-public with 172.24.4.1,
lbaas-mgmt with 172.31.255.1, heartbeats on udp 172.31.255.1:5555), so two such runs on
one host (two xdist workers) would share and then delete each other's bridges: every test
that starts `lbaas serve` on them holds LOCK while it runs.
"""
import contextlib
import fcntl
import os
import signal
import subprocess
import time

from testbed.host import processes_mentioning

LOCK = "/tmp/lbaas-embedded-amphora.lock"
BRIDGES = ("lbaas-public", "lbaas-mgmt")


@contextlib.contextmanager
def exclusive():
    """Hold the host-wide lock of the embedded amphora defaults."""
    with open(LOCK, "a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def remove_leftovers(state_path, timeout=10.0):
    """Kill the processes of a stopped run's amphorae, delete their namespaces and the bridges;
    returns what was still there (names), for the test's report."""
    found = []
    pids = processes_mentioning(str(state_path))
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while processes_mentioning(str(state_path)) and time.monotonic() < deadline:
        time.sleep(0.05)
    found += [f"pid {pid}" for pid in pids]
    amphorae = os.path.join(state_path, "amphorae")
    for short in sorted(os.listdir(amphorae)) if os.path.isdir(amphorae) else []:
        name = f"amp-{short}"
        if subprocess.run(["ip", "netns", "del", name], capture_output=True,
                          check=False).returncode == 0:
            found.append(name)
    for bridge in BRIDGES:
        if subprocess.run(["ip", "link", "del", bridge], capture_output=True,
                          check=False).returncode == 0:
            found.append(bridge)
    return found
