"""Files the agent writes whole or not at all: a temporary file beside them, then a rename.

The controller has its twin in lbaas.core.private: the agent shares no code with the
controller except lbaas.agent.wire (DESIGN.md), so neither imports the other's.
"""
import contextlib
import os
import tempfile


def write_atomic(path, data, mode=0o600, check=None):
    """Replace path by bytes data with this mode (whatever the umask), surviving a crash whole.

    check, if given, is called with the temporary file's path before the rename; what it
    raises leaves path as it was and no temporary file behind.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if check is not None:
            check(tmp)
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
