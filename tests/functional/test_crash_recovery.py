"""A crash loses nothing: after a restart every pending object reaches its end state by itself."""
import os
import signal
import uuid

import pytest
import requests

from testbed.service import Service, free_port, venv_command, wait_for

pytestmark = pytest.mark.functional


def _serve(state, port, conf):
    return Service("lbaas serve", [venv_command("lbaas"), "--config-file", str(conf), "serve",
                                   "--state-path", str(state), "--port", str(port)],
                   port, state / "serve.log")


def _status(url):
    return requests.get(url, timeout=5).json()


def test_objects_left_pending_by_sigkill_finish_after_restart(tmp_path):
    state, port = tmp_path, free_port()
    slow = tmp_path / "slow.conf"
    slow.write_text("[noop_driver]\nreport_delay = 30\n")
    fast = tmp_path / "fast.conf"
    fast.write_text("[noop_driver]\nreport_delay = 0\n")
    service = _serve(state, port, slow).start()
    api = f"{service.url}/v2/lbaas"
    try:
        created = requests.post(f"{api}/loadbalancers", json={"loadbalancer": {
            "name": "crash", "vip_subnet_id": str(uuid.uuid4()),
            "listeners": [{"protocol": "HTTP", "protocol_port": 80,
                           "default_pool": {"name": "p"}}],
            "pools": [{"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                       "members": [{"address": "10.0.0.7", "protocol_port": 80}]}]}},
            timeout=5).json()["loadbalancer"]
        assert created["provisioning_status"] == "PENDING_CREATE"
        os.killpg(service.proc.pid, signal.SIGKILL)  # no chance to report anything
        service.proc.wait(10)
    finally:
        service.stop()
    lb_url = f"{api}/loadbalancers/{created['id']}"
    restarted = _serve(state, port, fast).start()
    try:
        lb = wait_for(lambda: (b := _status(lb_url)["loadbalancer"])["provisioning_status"]
                      == "ACTIVE" and b, 20, "the load balancer to become ACTIVE")
        assert lb["operating_status"] == "ONLINE"
        tree = _status(lb_url + "/status")["statuses"]["loadbalancer"]
        pool = tree["listeners"][0]["pools"][0]
        assert tree["listeners"][0]["provisioning_status"] == "ACTIVE"
        assert pool["provisioning_status"] == "ACTIVE"
        assert pool["members"][0]["provisioning_status"] == "ACTIVE"
    finally:
        restarted.stop()
