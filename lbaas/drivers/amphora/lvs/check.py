"""`keepalived -t`: the real binary's verdict on a rendered configuration."""
import os
import re
import shutil
import signal
import subprocess
import tempfile

DEBIAN_PATH = "/usr/sbin/keepalived"
# keepalived 2.2.7 (Debian 12) kills itself with SIGTERM in `-t` when a non-root script_user is
# set (acassen/keepalived#2617, fixed in 2.2.8); the daemon itself runs such scripts fine.
SCRIPT_USER = re.compile(r"^(\s*script_user)\s+(?!root\b)\S+.*$", re.M)


def keepalived_binary():
    """The path of the keepalived binary, or None when it is not installed."""
    return shutil.which("keepalived") or (DEBIAN_PATH if os.access(DEBIAN_PATH, os.X_OK) else None)


def check(text, binary=None, timeout=30):
    """keepalived's complaint about a configuration text, or None when it has none.

    `keepalived -t -f FILE` parses the file, prints what it ignores or rejects to stderr and
    exits non-zero (5 for a bad keyword or value, 6 for script security) without forking,
    creating files or reading /run (checked with strace on 2.2.7). The pid-file options still
    point into the temporary directory so no version can touch the system's pid files.
    Any output counts as a complaint: keepalived prints only what it ignored or refused.
    A non-root `script_user` is tested as root (keepalived 2.2.7 bug, see SCRIPT_USER).
    FileNotFoundError when keepalived is not installed.
    """
    binary = binary or keepalived_binary()
    if binary is None:
        raise FileNotFoundError("keepalived is not installed (Debian: apt-get install keepalived)")
    returncode, out = _config_test(binary, text, timeout)
    if returncode == -signal.SIGTERM and SCRIPT_USER.search(text):
        # the 2.2.7 bug above: test the same file with the scripts' user set to root instead
        returncode, out = _config_test(binary, SCRIPT_USER.sub(r"\1 root", text), timeout)
    if returncode != 0:
        return out or f"keepalived -t exited with status {returncode}"
    return out or None


def _config_test(binary, text, timeout):
    """(exit status, output) of `keepalived -t` on a text, in a temporary directory."""
    with tempfile.TemporaryDirectory(prefix="lbaas-keepalived-") as tmp:
        path = os.path.join(tmp, "keepalived.conf")
        with open(path, "w") as f:
            f.write(text)
        proc = subprocess.run(
            [binary, "-t", "-f", path, "-p", os.path.join(tmp, "keepalived.pid"),
             "-r", os.path.join(tmp, "vrrp.pid"), "-c", os.path.join(tmp, "checkers.pid"),
             "-b", os.path.join(tmp, "bfd.pid")],
            capture_output=True, text=True, timeout=timeout, cwd=tmp)
    return proc.returncode, (proc.stdout + proc.stderr).replace(path, "keepalived.conf").strip()
