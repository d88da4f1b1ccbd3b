"""`lbaas serve` on a NeutronCloud: Keystone authentication, the `neutron` network backend
(service user `lbaas`, admin of project `service`), and REST calls with a user's token.

The tests of the Neutron and Nova modes and the benchmarks that run lbaas on a real cloud
(bench/amphora_nova.py) start it the same way; `extra` adds sections of their own (the
amphora provider, its compute backend, the health manager).
"""
import time

import requests

from testbed.cloud.lbaas_on_neutron import config_text
from testbed.service import Service, free_port, venv_command

LBS = "/v2/lbaas/loadbalancers"


class Lbaas:
    """`lbaas serve` with the neutron backend, and REST calls with a user's token."""

    def __init__(self, cloud, state, denied_network, driver="neutron", extra=""):
        """extra: more configuration text (sections of its own), appended as it is."""
        self.cloud = cloud
        self.port = free_port()
        config = state / "lbaas.conf"
        config.write_text(config_text(cloud, extra, driver, denied_network))
        self.config = config
        self.service = Service("lbaas serve (neutron)",
                               [venv_command("lbaas"), "--config-file", str(config), "serve",
                                "--state-path", str(state), "--port", str(self.port)],
                               self.port, state / "lbaas-serve.log")
        self.url = self.service.url

    def call(self, user, method, path, expect=None, **kwargs):
        """A request as a user; asserts the status when `expect` is given."""
        resp = requests.request(method, self.url + path, timeout=60,
                                headers={"X-Auth-Token": self.cloud.token(user)}, **kwargs)
        if expect is not None:
            assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp

    def create(self, user, expect=201, **vip):
        """POST a load balancer; its body (or the whole response when it must fail)."""
        resp = self.call(user, "POST", LBS, json={"loadbalancer": dict({"name": "nb"}, **vip)})
        assert resp.status_code == expect, resp.text
        return resp.json()["loadbalancer"] if expect == 201 else resp

    def wait(self, user, lb_id, status="ACTIVE"):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            resp = self.call(user, "GET", f"{LBS}/{lb_id}")
            if status == "DELETED" and resp.status_code == 404:
                return None
            if resp.status_code == 200 and \
                    resp.json()["loadbalancer"]["provisioning_status"] == status:
                return resp.json()["loadbalancer"]
            time.sleep(0.1)
        raise AssertionError(f"load balancer {lb_id} never reached {status}")

    def delete(self, user, lb_id):
        self.call(user, "DELETE", f"{LBS}/{lb_id}", expect=204)
        self.wait(user, lb_id, "DELETED")

    def lb_count(self, user):
        return len(self.call(user, "GET", LBS, expect=200).json()["loadbalancers"])
