"""The sample third-party driver (tests/sample_driver), installed into the running venv.

`ensure_installed()` is the one call the tests need: it installs the distribution in
development mode the first time (pip, or setuptools' develop when pip cannot build
offline), and is a quick check afterwards. Safe under pytest-xdist: a file lock
serializes the installs.
"""
import fcntl
import importlib
import importlib.metadata
import importlib.util
import os
import site
import subprocess
import sys
import sysconfig

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.join(HERE, "sample_driver")
DISTRIBUTION = "lbaas-sample-driver"
PROVIDERS = {"sample": "The sample out-of-tree driver (tests/sample_driver).",
             "sample_broken": "The sample driver with deliberate bugs."}
AGENT = "sample_agent"


def _installed():
    """True when the distribution installed here provides both providers from SOURCE."""
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return False
    names = {ep.name for ep in dist.entry_points if ep.group == "octavia.api.drivers"}
    if not set(PROVIDERS) <= names:
        return False
    spec = importlib.util.find_spec("lbaas_sample_driver")
    return spec is not None and spec.origin is not None and \
        os.path.dirname(os.path.dirname(spec.origin)) == SOURCE


def _refresh():
    """Let this process see a distribution installed since it started (.pth, metadata)."""
    importlib.invalidate_caches()
    site.addsitedir(sysconfig.get_paths()["purelib"])
    importlib.invalidate_caches()


def _install():
    pip = [sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
           "-q", "--no-deps", "-e", SOURCE]
    proc = subprocess.run(pip, capture_output=True, text=True, timeout=300)
    if proc.returncode == 0:
        return
    # pip builds in an isolated environment that needs an index; setuptools' develop does not
    develop = [sys.executable, "setup.py", "-q", "develop", "--no-deps"]
    fallback = subprocess.run(develop, cwd=SOURCE, capture_output=True, text=True, timeout=300)
    if fallback.returncode != 0:
        raise RuntimeError(f"could not install {SOURCE}:\npip: {proc.stderr}\n"
                           f"setup.py develop: {fallback.stderr}")


def ensure_installed():
    """Install tests/sample_driver into this interpreter's environment once; returns None."""
    if _installed():
        return
    lock_path = os.path.join(sysconfig.get_paths()["purelib"], ".lbaas-sample-driver.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        _refresh()
        if not _installed():
            _install()
            _refresh()
    if not _installed():
        raise RuntimeError(f"{DISTRIBUTION} was installed but this interpreter does not see it")
