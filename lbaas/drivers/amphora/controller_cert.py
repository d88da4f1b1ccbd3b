"""This process's client certificate file for the agents, and the removal of those left behind.

Every controller process (worker, housekeeping, `lbaas serve`) issues its own client
certificate and keeps it in <state_path>/controller-certs/ as
client-<pid>-<start time>.pem, written again in place when it is renewed. The file is
removed when the process exits, and a process that writes its file removes those of
processes that are gone (killed, crashed), so the directory holds one file per running
process. A process is named by its pid and its start time (clock ticks after boot,
/proc/<pid>/stat), so a file is never kept alive by an unrelated process that got its pid.
"""
import atexit
import logging
import os
import re

from lbaas.drivers.amphora import certs
from lbaas.drivers.amphora.compute.processes import start_time

LOG = logging.getLogger(__name__)
DIRECTORY = "controller-certs"
_NAME = re.compile(r"client-(\d+)-(\d+)\.pem")
_OLD_NAME = re.compile(r"client-(\d+)\.pem")   # before the start time was part of the name
_registered = set()   # paths this process removes at exit


def own_name():
    """The file name of this process's certificate."""
    pid = os.getpid()
    return f"client-{pid}-{start_time(pid)}.pem"


def _gone(name):
    """Whether a file name in the directory belongs to a process that no longer runs."""
    match = _NAME.fullmatch(name)
    if match:
        pid, started = int(match.group(1)), int(match.group(2))
        return start_time(pid) != started
    match = _OLD_NAME.fullmatch(name)
    return bool(match) and start_time(int(match.group(1))) is None


def prune(directory):
    """Remove the certificate files of processes that are gone; the names removed."""
    removed = []
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return removed
    for name in sorted(names):
        if _gone(name):
            try:
                os.unlink(os.path.join(directory, name))
            except FileNotFoundError:
                continue   # another process pruned it first
            removed.append(name)
    if removed:
        LOG.info("removed %d client certificate(s) of controller processes that are gone "
                 "from %s", len(removed), directory)
    return removed


def _remove(path, pid):
    """At exit: remove the process's own file (not in a forked child, which inherits this)."""
    if os.getpid() != pid:
        return
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def write(directory, cert_pem, key_pem):
    """Write (or renew) this process's certificate and key, 0600, and prune the directory;
    returns the file's path, which is removed when the process exits."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    name = own_name()
    path = certs.write_pair(directory, name[:-len(".pem")], cert_pem, key_pem)
    if path not in _registered:
        _registered.add(path)
        atexit.register(_remove, path, os.getpid())
    prune(directory)
    return path
