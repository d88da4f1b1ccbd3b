"""What `lbaas serve` writes is readable by its own user only, whatever the umask.

The SQLite database (with its -wal and -shm files) holds every project's configuration and
the state directory holds the keys; they were 0644 in 0755 folders. `lbaas serve` runs
here under umask 000, once on a fresh state directory and once on one an earlier version
left open, and makes a load balancer so the write-ahead log is in use.
"""
import os
import stat
import uuid

import pytest
import requests

from testbed.service import Service, free_port, venv_command, wait_for

pytestmark = pytest.mark.functional

PRIVATE_FILES = ("lbaas.sqlite", "lbaas.sqlite-wal", "lbaas.sqlite-shm", "heartbeat.key",
                 "certificates.key")


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def _serve_with_umask_000(state, log):
    port = free_port()
    command = [venv_command("lbaas"), "serve", "--driver", "noop", "--state-path", str(state),
               "--port", str(port)]
    return Service("lbaas serve", ["/bin/sh", "-c", 'umask 000 && exec "$@"', "sh", *command],
                   port, log)


def _make_lb(url):
    body = {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()), "project_id": "p-files"}}
    resp = requests.post(f"{url}/v2/lbaas/loadbalancers", json=body, timeout=10)
    assert resp.status_code == 201, resp.text
    lb_url = f"{url}/v2/lbaas/loadbalancers/{resp.json()['loadbalancer']['id']}"
    wait_for(lambda: requests.get(lb_url, timeout=5).json()["loadbalancer"][
        "provisioning_status"] == "ACTIVE", 30, "the load balancer to be ACTIVE")


def _open_to_others(state):
    """Everything under the state directory that another user could read or enter."""
    found = []
    for root, dirs, files in os.walk(state):
        for name in dirs + files:
            path = os.path.join(root, name)
            if _mode(path) & 0o077:
                found.append((os.path.relpath(path, state), oct(_mode(path))))
    return found


@pytest.mark.parametrize("earlier", [False, True], ids=["fresh", "left-open-before"])
def test_state_is_private_under_umask_000(tmp_path, earlier):
    """State directory 0700; database, its -wal and -shm, and the keys 0600; nothing under
    the directory (the driver-agent sockets included) open to others."""
    state = tmp_path / "state"
    if earlier:  # what an earlier version left: a 0755 folder with a 0644 database in it
        state.mkdir(mode=0o755)
        os.chmod(state, 0o755)
        (state / "lbaas.sqlite").touch()
        os.chmod(state / "lbaas.sqlite", 0o644)
    service = _serve_with_umask_000(state, tmp_path / "serve.log").start()
    try:
        _make_lb(service.url)
        assert _mode(state) == 0o700
        assert {name: oct(_mode(state / name)) for name in PRIVATE_FILES} == \
            dict.fromkeys(PRIVATE_FILES, "0o600")
        assert _open_to_others(state) == []
    finally:
        service.stop()
