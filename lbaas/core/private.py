"""Files and folders only lbaas's own user may read: 0600 and 0700, whatever the umask.

The state directory, the SQLite database (with its -wal and -shm files) and what else
holds project data or secrets are made with these, and tightened when they exist already
(an earlier version left them 0644 in 0755 folders). write_atomic is how the controller
writes a whole file (the agent has its twin in lbaas.agent.files: it imports nothing of ours).
"""
import contextlib
import logging
import os
import stat
import tempfile

LOG = logging.getLogger(__name__)
DIR_MODE = 0o700
FILE_MODE = 0o600


def _tighten(path, mode):
    """chmod to mode unless it is so already; a path of another owner is left, with a warning."""
    try:
        if stat.S_IMODE(os.stat(path).st_mode) != mode:
            os.chmod(path, mode)
    except PermissionError:
        LOG.warning("cannot restrict %s to mode %o: owned by another user", path, mode)


def ensure_dir(path, tighten=True):
    """Create a folder (and missing parents) if needed; the folder itself ends 0700.

    With tighten=False a folder that exists already keeps its mode (a folder the operator
    chose, such as the one of a configured SQLite path); one created here is still 0700.
    """
    try:
        os.makedirs(path)
    except FileExistsError:
        if not tighten:
            return
    _tighten(path, DIR_MODE)


def ensure_file(path):
    """Create an empty file 0600 if missing, else make it 0600."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        _tighten(path, FILE_MODE)
        return
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits from FILE_MODE
    finally:
        os.close(fd)


def tighten_if_present(path):
    """Make an existing file 0600; a missing one is fine."""
    if os.path.exists(path):
        _tighten(path, FILE_MODE)


TEMP_PREFIX = ".tmp-"   # write_atomic's file before its rename (left behind by a killed writer)


def write_atomic(path, data, mode=FILE_MODE):
    """Replace path by bytes data, 0600 or mode whatever the umask, never seen half-written."""
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=TEMP_PREFIX)
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)   # the rename itself survives a crash
    finally:
        os.close(dir_fd)
