"""Who uses a state path: every `lbaas serve` holds a shared lock, `lbaas cleanup` an exclusive one.

The lock is flock(2) on `<state_path>/lbaas-serve.lock`, so it ends with its process,
however that process ends: no stale pid file to judge. The file names the pid of the last
`lbaas serve` that took it, for the messages.
"""
import fcntl
import os

LOCK_NAME = "lbaas-serve.lock"


class StatePathBusy(Exception):
    """The state path is locked by another process (str: who holds it)."""


def _open(state_path):
    """The lock file, made 0600 like everything else in the state path."""
    fd = os.open(os.path.join(state_path, LOCK_NAME), os.O_RDWR | os.O_CREAT, 0o600)
    return os.fdopen(fd, "r+")


def _holder(lock):
    lock.seek(0)
    pid = lock.read().strip()
    return f"pid {pid}" if pid.isdigit() else "another process"


def hold_serving(state_path):
    """Take the shared lock of a running `lbaas serve` (kept while the file stays open)."""
    lock = _open(state_path)
    try:
        fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise StatePathBusy(f"`lbaas cleanup` is running on {state_path}") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def hold_exclusive(state_path):
    """Take the lock no `lbaas serve` may hold meanwhile; StatePathBusy names the server."""
    if not os.path.isdir(state_path):
        return None   # nothing ever ran here
    lock = _open(state_path)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(lock)
        lock.close()
        raise StatePathBusy(f"an `lbaas serve` ({holder}) is running on {state_path}") \
            from None
    return lock
