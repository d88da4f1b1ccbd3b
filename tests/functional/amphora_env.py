"""`lbaas serve` with the amphora provider on this host: local compute, local network.

An `AmphoraEnv` picks CIDRs and bridge names of its own (unique per pytest-xdist
worker), writes the configuration, starts `lbaas serve` as a process, builds backend
namespaces on the member subnet and a client namespace on the VIP subnet, and at the
end deletes every load balancer, stops everything and asserts that nothing is left:
no amphora namespace, no amphora veth, no agent or HAProxy process, no amphora file.
"""
import json
import os
import re
import secrets
import shutil
import time
import uuid

import requests

from testbed import backends
from testbed.host import free_subnets, namespaces_unavailable, processes_mentioning
from testbed.service import (Service, clean_env, free_port, free_udp_port, venv_command,
                             wait_for)

HEARTBEAT_INTERVAL = 1
BACKEND_PORT = 8080


def unavailable():
    """Why amphorae cannot run on this host, or None."""
    if os.geteuid() != 0:
        return "not root (amphorae are network namespaces)"
    if not os.access("/usr/sbin/haproxy", os.X_OK):
        return "/usr/sbin/haproxy is missing (scripts/setup.sh --test installs it)"
    return namespaces_unavailable()


def amphora_stem(amphora_id):
    return re.sub(r"[^0-9a-z]", "", amphora_id.lower())[:10]


def host_links():
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}


def host_addresses():
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        return {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr()}


class ApiError(AssertionError):
    pass


class AmphoraEnv:
    """One `lbaas serve` with the amphora provider, its subnets, bridges and backends."""

    def __init__(self, root, database_url=None, label="sqlite", extra_config=None):
        """extra_config: {"group": {"option": value}} added to (or replacing) the defaults."""
        self.root = str(root)
        self.extra_config = extra_config or {}
        self.label = label
        self.token = secrets.token_hex(2) + f"{os.getpid() % 4096:03x}"  # 7 hex chars
        self.state_path = os.path.join(self.root, "state")
        self.amphora_dir = os.path.join(self.state_path, "amphorae")
        self.database_url = database_url
        mgmt, vip, member = free_subnets(3)
        self.mgmt_cidr, self.vip_cidr, self.member_cidr = mgmt, vip, member
        self.mgmt_bridge = f"lm{self.token}"
        self.vip_bridge = f"lv{self.token}"
        self.member_bridge = f"lb{self.token}"
        self.vip_subnet_name = f"vip-{self.token}"
        self.member_subnet_name = f"mem-{self.token}"
        self.port = free_port()
        self.hm_port = free_udp_port()
        self.metrics_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.metrics_url = f"http://127.0.0.1:{self.metrics_port}"
        self.service = None
        self.namespaces = []
        self.backends = {}
        self.amphora_ids = set()
        self.vip_subnet_id = self.member_subnet_id = None
        self.session = requests.Session()

    # -- configuration and life cycle --------------------------------------------------
    def _subnet_line(self, name, cidr, bridge):
        hosts = list(cidr.hosts())
        return (f"name={name} cidr={cidr} bridge={bridge} gateway={hosts[0]} "
                f"allocation_start={hosts[9]} allocation_end={hosts[99]}")

    def config_text(self):
        lines = [
            "[DEFAULT]",
            f"state_path = {self.state_path}",
            "[api_settings]",
            "bind_host = 127.0.0.1",
            f"bind_port = {self.port}",
            "enabled_provider_drivers = amphora:The amphora driver,noop:The noop driver",
            "default_provider_driver = amphora",
            "[network]",
            "driver = local",
            "[network_local]",
            f"subnet = {self._subnet_line(self.vip_subnet_name, self.vip_cidr, self.vip_bridge)}",
            "subnet = " + self._subnet_line(self.member_subnet_name, self.member_cidr,
                                            self.member_bridge),
            "[amphora_compute]",
            "driver = local",
            "[compute_local]",
            f"management_bridge = {self.mgmt_bridge}",
            f"management_cidr = {self.mgmt_cidr}",
            f"state_dir = {self.amphora_dir}",
            "[health_manager]",
            f"heartbeat_key = {secrets.token_hex(16)}",
            f"heartbeat_interval = {HEARTBEAT_INTERVAL}",
            f"bind_port = {self.hm_port}",
            "[haproxy_amphora]",
            "default_connection_limit = 2000",
            "haproxy_cmd = /usr/sbin/haproxy",
            "[controller_worker]",
            f"agent_port = {free_port()}",
            "[metrics]",
            "enabled = true",
            f"bind_port = {self.metrics_port}",
        ]
        if self.database_url:
            lines += ["[database]", f"connection = {self.database_url}"]
        for group, options in self.extra_config.items():
            lines += [f"[{group}]"] + [f"{k} = {v}" for k, v in options.items()]
        return "\n".join(lines) + "\n"

    def start(self):
        os.makedirs(self.state_path, exist_ok=True)
        self.config_path = os.path.join(self.root, "lbaas.conf")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        self.service = Service(f"lbaas serve ({self.label})",
                               [venv_command("lbaas"), "--config-file", self.config_path,
                                "serve"],
                               self.port, os.path.join(self.root, "lbaas-serve.log"),
                               env=clean_env(PYTHONUNBUFFERED="1"))
        self.service.start()
        self.vip_subnet_id = self.subnet_id(self.vip_subnet_name)
        self.member_subnet_id = self.subnet_id(self.member_subnet_name)
        return self

    def subnet_id(self, name):
        subnets = self.get(f"/v2.0/subnets?name={name}")["subnets"]
        assert len(subnets) == 1, subnets
        return subnets[0]["id"]

    # -- addresses ---------------------------------------------------------------------
    def vip_host(self, k):
        """The k-th host address of the VIP subnet (allocation range: 10th to 100th)."""
        return str(list(self.vip_cidr.hosts())[k - 1])

    def member_host(self, k):
        return str(list(self.member_cidr.hosts())[k - 1])

    # -- backends and clients ----------------------------------------------------------
    def namespace(self, role, bridge, addresses):
        ns = backends.Namespace(f"t{self.token}{role}"[:15], bridge, addresses).create()
        self.namespaces.append(ns)
        return ns

    def backend_namespace(self):
        """The namespace holding every backend address (created once)."""
        if not hasattr(self, "_backend_ns"):
            prefix = self.member_cidr.prefixlen
            addresses = [f"{self.member_host(200 + k)}/{prefix}" for k in range(1, 11)]
            self._backend_ns = self.namespace("be", self.member_bridge, addresses)
        return self._backend_ns

    def backend(self, name, k, port=BACKEND_PORT):
        """Backend `name` on the member subnet's (200+k)-th address, started once."""
        key = (k, port)
        if key not in self.backends:
            ns = self.backend_namespace()
            self.backends[key] = backends.Backend(ns, self.member_host(200 + k), port, name,
                                                  self.root).start()
        return self.backends[key]

    def client_namespace(self):
        """A namespace with its own address (the 250th) on the VIP subnet's bridge."""
        if not hasattr(self, "_client_ns"):
            self._client_ns = self.namespace(
                "cl", self.vip_bridge, [f"{self.vip_host(250)}/{self.vip_cidr.prefixlen}"])
        return self._client_ns

    # -- the API -------------------------------------------------------------------------
    def request(self, method, path, body=None, expect=None):
        resp = self.session.request(method, self.url + path, json=body, timeout=30)
        if expect is not None and resp.status_code not in (
                expect if isinstance(expect, tuple) else (expect,)):
            raise ApiError(f"{method} {path} {json.dumps(body) if body else ''} -> "
                           f"{resp.status_code} (expected {expect}): {resp.text[:2000]}")
        return resp.json() if resp.content else None

    def get(self, path, expect=200):
        return self.request("GET", path, expect=expect)

    def post(self, path, body, expect=201):
        return self.request("POST", path, body, expect)

    def put(self, path, body, expect=200):
        return self.request("PUT", path, body, expect)

    def delete(self, path, expect=204):
        return self.request("DELETE", path, expect=expect)

    def show(self, kind, object_id):
        singular = {"loadbalancers": "loadbalancer", "listeners": "listener", "pools": "pool",
                    "healthmonitors": "healthmonitor", "l7policies": "l7policy"}[kind]
        return self.get(f"/v2/lbaas/{kind}/{object_id}")[singular]

    def wait_active(self, kind, object_id, timeout=60.0):
        """Wait until the object's provisioning_status is ACTIVE (fail at once on ERROR)."""
        def active():
            obj = self.show(kind, object_id)
            if obj["provisioning_status"] == "ERROR":
                raise AssertionError(f"{kind}/{object_id} went to ERROR: {obj}\n"
                                     f"{self.log_excerpt()}")
            return obj if obj["provisioning_status"] == "ACTIVE" else None
        return self._wait(active, timeout, f"{kind}/{object_id} ACTIVE")

    def wait_operating(self, kind, object_id, status, timeout=30.0, member_of=None):
        """Wait until an object's (or a member's, member_of=pool id) operating_status."""
        def reached():
            if member_of:
                obj = self.get(f"/v2/lbaas/pools/{member_of}/members/{object_id}")["member"]
            else:
                obj = self.show(kind, object_id)
            return obj if obj["operating_status"] == status else None
        return self._wait(reached, timeout, f"{kind}/{object_id} operating {status}")

    def _wait(self, condition, timeout, what):
        try:
            return wait_for(condition, timeout, what, interval=0.05)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.log_excerpt()}") from None

    def log_excerpt(self, limit=6000):
        parts = [f"--- lbaas serve log (tail) ---\n{self.service.log_tail(limit)}"]
        if os.path.isdir(self.amphora_dir):
            for entry in sorted(os.listdir(self.amphora_dir)):
                if entry.endswith(".log"):
                    with open(os.path.join(self.amphora_dir, entry), "rb") as f:
                        parts.append(f"--- {entry} (tail) ---\n"
                                     f"{f.read()[-limit // 2:].decode(errors='replace')}")
        return "\n".join(parts)

    def create_graph(self, name, listeners, vip_address=None):
        """Create a load balancer with its listeners/pools/members in one call; wait ACTIVE."""
        body = {"name": name, "vip_subnet_id": self.vip_subnet_id, "listeners": listeners}
        if vip_address:
            body["vip_address"] = vip_address
        lb = self.post("/v2/lbaas/loadbalancers", {"loadbalancer": body})["loadbalancer"]
        lb = self.wait_active("loadbalancers", lb["id"])
        self.remember_amphorae(lb["id"])
        return lb

    def remember_amphorae(self, lb_id):
        for amp in self.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]:
            self.amphora_ids.add(amp["id"])

    def wait_vip(self, address, port=80, timeout=15.0, netns=None):
        """Wait until address:port accepts connections."""
        def answers():
            try:
                backends.connect(address, port, netns, 0.5).close()
                return True
            except OSError:
                return False
        return self._wait(answers, timeout, f"{address}:{port} to accept")

    def delete_lb(self, lb_id, timeout=60.0):
        self.remember_amphorae(lb_id)
        self.delete(f"/v2/lbaas/loadbalancers/{lb_id}?cascade=true", expect=(204, 404))
        self._wait(lambda: self.request("GET", f"/v2/lbaas/loadbalancers/{lb_id}")
                   .get("loadbalancer", {}).get("provisioning_status") in (None, "DELETED"),
                   timeout, f"load balancer {lb_id} to be deleted")

    # -- leftovers -----------------------------------------------------------------------
    def leftovers(self, amphora_ids=None):
        """What remains of amphorae (default: every one this env saw): a list of strings."""
        from pyroute2 import netns
        ids = set(amphora_ids if amphora_ids is not None else self.amphora_ids)
        if amphora_ids is None and os.path.isdir(self.amphora_dir):
            ids |= {e[:-5] for e in os.listdir(self.amphora_dir) if e.endswith(".json")}
        stems = {amphora_stem(i) for i in ids}
        found = []
        spaces = set(netns.listnetns())
        found += [f"namespace amp-{s}" for s in sorted(stems) if f"amp-{s}" in spaces]
        found += [f"veth {n}" for n in sorted(host_links())
                  if n and any(re.fullmatch(f"a{s}(m|n\\d+)", n) for s in stems)]
        for pid, cmd in processes_mentioning(self.amphora_dir).items():
            if amphora_ids is None or any(s in cmd for s in stems):
                found.append(f"process {pid}: {cmd[:200]}")
        if os.path.isdir(self.amphora_dir):
            files = [e for e in os.listdir(self.amphora_dir)
                     if e != ".lock" and (amphora_ids is None
                                          or any(e.startswith((i, amphora_stem(i)))
                                                 for i in ids))]
            found += [f"file {self.amphora_dir}/{e}" for e in sorted(files)]
        return found

    def stop(self):
        """Delete every load balancer, stop lbaas and backends; assert nothing is left."""
        problems = []
        if self.service is not None and self.service.proc.poll() is None:
            try:
                for lb in self.get("/v2/lbaas/loadbalancers")["loadbalancers"]:
                    self.remember_amphorae(lb["id"])
                    self.delete_lb(lb["id"])
            except Exception as exc:  # reported below, after the clean-up
                problems.append(f"deleting load balancers failed: {exc}")
            self.service.stop()
        for backend in self.backends.values():
            backend.stop()
        problems += self.leftovers()
        self._scrub()
        for ns in self.namespaces:
            ns.remove()
        from pyroute2 import IPRoute
        with IPRoute() as ipr:
            for bridge in (self.mgmt_bridge, self.vip_bridge, self.member_bridge):
                for index in ipr.link_lookup(ifname=bridge):
                    ipr.link("del", index=index)
        if problems:
            raise AssertionError(f"lbaas ({self.label}) left things behind:\n  "
                                 + "\n  ".join(problems))

    def _scrub(self):
        """Remove what lbaas left, so the machine stays clean even when a test failed."""
        from lbaas.drivers.amphora.compute.local import LocalCompute
        if os.path.isdir(self.amphora_dir):
            compute = LocalCompute(self.mgmt_bridge, str(self.mgmt_cidr), self.amphora_dir)
            for inst in compute.list():
                compute.delete(inst.amphora_id)
            for amphora_id in self.amphora_ids:
                compute.delete(amphora_id)
        for pid in processes_mentioning(self.amphora_dir):
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass

    def cleanup_files(self):
        shutil.rmtree(self.root, ignore_errors=True)


def new_id():
    return str(uuid.uuid4())


def wait_until(condition, timeout, what):
    """wait_for with a 50 ms poll (re-exported for the tests)."""
    return wait_for(condition, timeout, what, interval=0.05)


def elapsed(start):
    return time.monotonic() - start
