"""A plug that reaches the agent before its NIC (Nova hot-plugs it; the guest's kernel
registers it seconds later under emulation) waits for the interface instead of answering 404,
in a real network namespace where the interface appears while the plug waits."""
import os
import subprocess
import sys
import time
import uuid

import pytest

from testbed import host

pytestmark = pytest.mark.functional
MAC = "02:00:5e:10:20:30"
PLUG = """
import sys, time
from lbaas.agent import interfaces
print("plugging", flush=True)
started = time.monotonic()
try:
    name = interfaces.plug_network({"mac_address": sys.argv[1], "fixed_ips": []},
                                   mac_wait=float(sys.argv[2]))
except interfaces.InterfaceNotFound:
    name = "-"
print(name, round(time.monotonic() - started, 2))
"""


@pytest.fixture
def netns():
    reason = host.namespaces_unavailable()
    if reason:
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(f"the agent's plug test needs namespaces in CI, but {reason}",
                        pytrace=False)
        pytest.skip(f"no network namespaces: {reason}")
    name = f"plugwait-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    yield name
    subprocess.run(["ip", "netns", "delete", name], check=False)


def _plug(netns, wait):
    """Start a plug of MAC inside netns, waiting up to `wait` seconds; -> the process."""
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    return subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", PLUG, MAC,
                             str(wait)], stdout=subprocess.PIPE, text=True, env=env)


def test_a_plug_waits_for_its_interface_to_appear(netns):
    plug = _plug(netns, 20)
    assert plug.stdout.readline() == "plugging\n"
    time.sleep(1.0)   # the NIC arrives while the plug waits: that is the case under test
    subprocess.run(["ip", "-n", netns, "link", "add", "eth1", "address", MAC, "type", "veth",
                    "peer", "name", "eth1-peer"], check=True)   # no dummy module here
    name, seconds = plug.communicate(timeout=30)[0].split()
    assert plug.returncode == 0, "the plug failed (its error is above)"
    assert name == "eth1"
    assert 0.9 <= float(seconds) < 20
    state = subprocess.run(["ip", "-n", netns, "-o", "link", "show", "eth1"], check=True,
                           capture_output=True, text=True).stdout
    assert "UP" in state.split("<", 1)[1].split(">", 1)[0]   # brought up once it came


def test_without_a_wait_a_missing_interface_is_not_found_at_once(netns):
    name, seconds = _plug(netns, 0).communicate(timeout=30)[0].split()[1:]
    assert (name, float(seconds) < 1.0) == ("-", True)


def test_a_wait_ends_when_no_interface_ever_comes(netns):
    name, seconds = _plug(netns, 1.5).communicate(timeout=30)[0].split()[1:]
    assert name == "-"
    assert 1.5 <= float(seconds) < 5
