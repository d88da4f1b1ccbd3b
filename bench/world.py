"""The amphora benchmarks' world: our bridges, subnets and backends, and `lbaas serve`.

bench.amphora, bench.failover and bench.tls build it: bridges `lbb<4 hex>m|v|b`
(management, VIP, member), random 10.x.y.0/24 subnets that overlap no route of this host,
backend namespaces on the member subnet, and `lbaas serve --config-file` instances with the
amphora provider (local compute and network, SQLite) on it. Everything is removed again,
and `leftovers_of` lists anything of ours still there.
"""
import json
import os
import secrets
import sys
import time

from bench import app_server
from bench.client import LB, Client, HTTPError, http_status
from bench.harness import ROOT, log, percentile, remove_dir, rounded
from testbed import backends
from testbed.host import free_subnets
from testbed.service import Service, clean_env, free_port, free_udp_port, venv_command

STATIC_PORT = 8080      # HAProxy answering "ok" itself: a fixed, fast backend
PY_PORT = 8081          # testbed/backends.py: /big for the long transfer
APP_PORT = 8082         # bench/app_server.py: the `app` backend of vip_rps_ratio
APP_PATH = "/items"
HAPROXY = "/usr/sbin/haproxy"


def unavailable(wrk=True):
    """Why the amphora benchmarks cannot run here (wrk: whether it needs wrk), or None."""
    if os.geteuid() != 0:
        return "not root (amphorae are network namespaces)"
    for path in (HAPROXY, "/usr/bin/wrk") if wrk else (HAPROXY,):
        if not os.access(path, os.X_OK):
            return f"{path} is missing"
    return None


def host(net, k):
    """The k-th address of a subnet (1: its gateway)."""
    return str(net.network_address + k)


def amp_namespaces():
    """Every amphora namespace on this host (ours and anybody else's)."""
    from pyroute2 import netns
    return {n for n in netns.listnetns() if n.startswith("amp-")}


def amp_ns(amphora_id):
    """The network namespace of an amphora."""
    from lbaas.drivers.amphora.compute.local import ns_name
    return ns_name(amphora_id)


def program_pids(ns, program):
    """Pids of the processes in a namespace whose comm is `program`."""
    from lbaas.drivers.amphora.compute import processes
    found = set()
    for pid in processes.pids_in(ns):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().strip() == program:
                    found.add(pid)
        except OSError:
            pass
    return found


def haproxy_pids(ns):
    """Pids of the HAProxy processes (master and workers) in a namespace."""
    return program_pids(ns, "haproxy")


class Network:
    """Our bridges and subnets, and two backend namespaces on the member subnet."""

    def __init__(self, root, app_workers=2):
        self.root, self.app_workers = root, app_workers
        self.token = secrets.token_hex(2)
        second = 100 + secrets.randbelow(150)   # apart from the tests' (50 + pid % 200)
        self.mgmt_cidr, self.vip_cidr, self.member_cidr = free_subnets(3, second)
        self.bridges = {"mgmt": f"lbb{self.token}m", "vip": f"lbb{self.token}v",
                        "member": f"lbb{self.token}b"}
        self.namespaces, self.procs, self.backends = [], [], []
        self.backend_ips = [host(self.member_cidr, 201), host(self.member_cidr, 202)]

    def subnet_lines(self):
        def line(name, cidr, bridge):
            return (f"name={name} cidr={cidr} bridge={bridge} gateway={host(cidr, 1)} "
                    f"allocation_start={host(cidr, 10)} allocation_end={host(cidr, 100)}")
        return [line(f"vip-{self.token}", self.vip_cidr, self.bridges["vip"]),
                line(f"mem-{self.token}", self.member_cidr, self.bridges["member"])]

    def start_backends(self):
        from lbaas.drivers.amphora.compute import processes
        prefix = self.member_cidr.prefixlen
        for k, ip in enumerate(self.backend_ips, 1):
            ns = backends.Namespace(f"lbb{self.token}be{k}", self.bridges["member"],
                                    [f"{ip}/{prefix}"])
            self.namespaces.append(ns.create())
            cfg = os.path.join(self.root, f"backend{k}.cfg")
            with open(cfg, "w") as fh:
                fh.write("global\n    maxconn 4096\n"
                         "defaults\n    mode http\n    timeout client 30s\n"
                         "    timeout server 30s\n    timeout connect 5s\n"
                         f"frontend static\n    bind {ip}:{STATIC_PORT}\n"
                         "    http-request return status 200 content-type text/plain "
                         "string ok\n")
            self.procs.append(processes.spawn(ns.name, [HAPROXY, "-db", "-f", cfg],
                                              os.path.join(self.root, f"backend{k}.log")))
            self.backends.append(backends.Backend(ns, ip, PY_PORT, f"be{k}", self.root).start())
            if k == 1:
                self.app = processes.spawn(ns.name, [sys.executable, app_server.__file__, ip,
                                                     str(APP_PORT), str(self.app_workers)],
                                           os.path.join(self.root, "app.log"))
                self.procs.append(self.app)
        # This host's own address on the member bridge, so wrk can reach a backend directly.
        from pyroute2 import IPRoute
        with IPRoute() as ipr:
            index = ipr.link_lookup(ifname=self.bridges["member"])[0]
            ipr.addr("add", index=index, address=host(self.member_cidr, 250), prefixlen=prefix)
        deadline = time.monotonic() + 10
        for ip, port in [(ip, STATIC_PORT) for ip in self.backend_ips] + [
                (self.backend_ips[0], APP_PORT)]:
            while http_status(ip, port, timeout=0.5) != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"backend {ip}:{port} does not answer")
                time.sleep(0.05)

    def app_pids(self):
        """The app's processes (the one spawned and its forks)."""
        from lbaas.drivers.amphora.compute import processes
        found = set()
        for pid in processes.pids_in(self.namespaces[0].name):
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    if app_server.__file__.encode() in fh.read():
                        found.add(pid)
            except OSError:
                pass
        return found

    def stop(self):
        from lbaas.drivers.amphora.compute import processes
        for b in self.backends:
            try:
                b.stop()
            except Exception as exc:
                log(f"backend stop: {exc}")
        if self.procs:
            processes.stop({pid: st for pid, st in self.procs}, 5.0)
        for ns in self.namespaces:
            try:
                ns.remove()
            except Exception as exc:
                log(f"namespace {ns.name} removal: {exc}")
        from pyroute2 import IPRoute
        with IPRoute() as ipr:
            for bridge in self.bridges.values():
                for index in ipr.link_lookup(ifname=bridge):
                    ipr.link("del", index=index)

    def leftovers(self):
        from pyroute2 import IPRoute, netns
        spaces = set(netns.listnetns())
        found = [f"namespace {ns.name}" for ns in self.namespaces if ns.name in spaces]
        with IPRoute() as ipr:
            links = {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        ours = set(self.bridges.values()) | {ns.veth for ns in self.namespaces}
        found += [f"link {n}" for n in sorted(links & ours)]
        return found


class Instance:
    """One `lbaas serve --config-file` with the amphora provider on our network."""

    def __init__(self, net, root, label, spare, extra=None):
        """extra: {section: {option: value}} added to the config (e.g. a topology)."""
        self.net, self.label, self.spare = net, label, spare
        self.extra = extra or {}
        self.dir = os.path.join(root, label)
        self.state = os.path.join(self.dir, "state")
        self.amphora_dir = os.path.join(self.state, "amphorae")
        self.port = free_port()
        self.service = None
        self.seen_amphorae = set()
        self.log_path = os.path.join(self.dir, "lbaas-serve.log")

    def config_text(self):
        n = self.net
        lines = ["[DEFAULT]", f"state_path = {self.state}",
                 "[api_settings]", "bind_host = 127.0.0.1", f"bind_port = {self.port}",
                 "enabled_provider_drivers = amphora:The amphora driver",
                 "default_provider_driver = amphora",
                 "[network]", "driver = local",
                 "[network_local]"] + [f"subnet = {s}" for s in n.subnet_lines()] + [
                 "[amphora_compute]", "driver = local",
                 "[compute_local]", f"management_bridge = {n.bridges['mgmt']}",
                 f"management_cidr = {n.mgmt_cidr}", f"state_dir = {self.amphora_dir}",
                 "[health_manager]", f"heartbeat_key = {secrets.token_hex(16)}",
                 "heartbeat_interval = 1", f"bind_port = {free_udp_port()}",
                 "[haproxy_amphora]", "default_connection_limit = 2000",
                 f"haproxy_cmd = {HAPROXY}",
                 "[controller_worker]", f"agent_port = {free_port()}",
                 "[house_keeping]", f"spare_amphora_pool_size = {self.spare}"]
        for section, options in self.extra.items():
            where = (lines.index(f"[{section}]") + 1 if f"[{section}]" in lines
                     else len(lines) + 1)
            if where > len(lines):
                lines.append(f"[{section}]")
            lines[where:where] = [f"{k} = {v}" for k, v in options.items()]
        return "\n".join(lines) + "\n"

    def serve(self, name, timeout):
        """Write config_text() and start `lbaas serve --config-file` on it as self.service."""
        os.makedirs(self.state, exist_ok=True)
        conf = os.path.join(self.dir, "lbaas.conf")
        with open(conf, "w") as fh:
            fh.write(self.config_text())
        env = clean_env(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self.service = Service(name, [venv_command("lbaas"), "--config-file", conf, "serve"],
                               self.port, self.log_path, env=env, cwd=self.dir).start(timeout)

    def start(self):
        self.serve(f"lbaas serve ({self.label})", 60)
        self.client = Client(self.port, timeout=30)
        self.vip_subnet = self.subnet_id(f"vip-{self.net.token}")
        self.member_subnet = self.subnet_id(f"mem-{self.net.token}")
        log(f"lbaas serve ({self.label}, spare pool {self.spare}) on 127.0.0.1:{self.port}, "
            f"pid {self.proc.pid}")
        return self

    @property
    def proc(self):
        """lbaas serve's Popen, once started."""
        return self.service.proc if self.service else None

    def subnet_id(self, name):
        body, _ = self.client.call("GET", f"/v2.0/subnets?name={name}")
        return body["subnets"][0]["id"]

    def log_tail(self, n=3000):
        """The end of lbaas serve's log."""
        return self.service.log_tail(n) if self.service else ""

    def api_baseline(self, n=30):
        """p50 ms of GET / on this lbaas serve (the cheapest request: a same-run baseline)."""
        times = [self.client.call("GET", "/")[1] for _ in range(n)]
        return rounded(percentile(times, 50) * 1000, 3)

    # -- the API ---------------------------------------------------------------------------
    def amphorae(self, **query):
        qs = "&".join(f"{k}={v}" for k, v in query.items())
        body, _ = self.client.call("GET", "/v2/octavia/amphorae" + (f"?{qs}" if qs else ""))
        amps = body["amphorae"]
        self.seen_amphorae |= {a["id"] for a in amps}
        return amps

    def wait_spare_ready(self, timeout=90):
        end = time.monotonic() + timeout
        while True:
            amps = self.amphorae(status="READY")
            if any(not a.get("loadbalancer_id") for a in amps):
                return
            if time.monotonic() > end:
                raise TimeoutError(f"no READY spare amphora after {timeout} s: "
                                   f"{[(a['id'], a['status']) for a in self.amphorae()]}")
            time.sleep(0.05)

    def graph(self, name, python_listener=False, member_ips=None, app_listener=False):
        """LB + HTTP :80 -> STATIC_PORT (+ :PY_PORT, + :APP_PORT), members: every backend."""
        def member(ip, port):
            return {"address": ip, "protocol_port": port, "subnet_id": self.member_subnet}

        def listener(port, backend_port):
            return {"name": f"{name}-{port}", "protocol": "HTTP", "protocol_port": port,
                    "default_pool": {"name": f"{name}-pool-{port}", "protocol": "HTTP",
                                     "lb_algorithm": "ROUND_ROBIN",
                                     "members": [member(ip, backend_port) for ip in
                                                 member_ips or self.net.backend_ips]}}
        listeners = [listener(80, STATIC_PORT)]
        if python_listener:
            listeners.append(listener(PY_PORT, PY_PORT))
        if app_listener:
            listeners.append(listener(APP_PORT, APP_PORT))
        return {"loadbalancer": {"name": name, "vip_subnet_id": self.vip_subnet,
                                 "listeners": listeners}}

    def lb(self, lb_id):
        status, payload, _ = self.client.raw("GET", f"{LB}/{lb_id}")
        if status == 404:
            return None
        if status != 200:
            raise HTTPError("GET", f"{LB}/{lb_id}", status, payload.decode(errors="replace"))
        return json.loads(payload)["loadbalancer"]

    def wait_active(self, lb_id, interval, timeout=90):
        end = time.perf_counter() + timeout
        while True:
            lb = self.lb(lb_id)
            status = lb and lb["provisioning_status"]
            if status == "ACTIVE":
                return lb
            if status == "ERROR":
                raise RuntimeError(f"load balancer {lb_id} went to ERROR: {self.log_tail()}")
            if time.perf_counter() > end:
                raise TimeoutError(f"load balancer {lb_id} not ACTIVE after {timeout} s "
                                   f"({status})")
            time.sleep(interval)

    def amphora_of(self, lb_id):
        return [a["id"] for a in self.amphorae(loadbalancer_id=lb_id)]

    def delete(self, lb_id, interval, timeout=90):
        """DELETE ?cascade=true; -> (s until the API says gone, s until its namespaces are)."""
        from pyroute2 import netns
        spaces = {amp_ns(a) for a in self.amphora_of(lb_id)}
        t0 = time.perf_counter()
        self.client.call("DELETE", f"{LB}/{lb_id}?cascade=true", expect=(204,))
        end = t0 + timeout
        api_gone = None
        while True:
            now = time.perf_counter()
            if api_gone is None:
                lb = self.lb(lb_id)
                if lb is None or lb["provisioning_status"] == "DELETED":
                    api_gone = time.perf_counter() - t0
            if api_gone is not None and not spaces & set(netns.listnetns()):
                return api_gone, time.perf_counter() - t0
            if now > end:
                raise TimeoutError(f"load balancer {lb_id} not gone after {timeout} s "
                                   f"(API gone: {api_gone}, namespaces {spaces})")
            time.sleep(interval)

    def delete_all(self):
        body, _ = self.client.call("GET", LB)
        for lb in body["loadbalancers"]:
            try:
                if lb["provisioning_status"].startswith("PENDING"):
                    self.wait_active(lb["id"], 0.1, 60)
                self.amphora_of(lb["id"])
                self.delete(lb["id"], 0.05, 60)
            except Exception as exc:
                log(f"could not delete {lb['id']}: {exc}")

    def stop(self):
        """Delete what is left, stop lbaas serve, remove every amphora it made (spares too)."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.amphorae()
                self.delete_all()
                self.amphorae()
            except Exception as exc:
                log(f"clean-up through the API failed: {exc}")
        if self.service is not None:
            self.service.stop(grace=15)
        self.scrub()

    def scrub(self):
        """Delete the amphorae (spares included) of this instance's state dir."""
        if not os.path.isdir(self.amphora_dir):
            return
        from lbaas.drivers.amphora.compute.local import LocalCompute
        compute = LocalCompute(self.net.bridges["mgmt"], str(self.net.mgmt_cidr),
                               self.amphora_dir)
        self.seen_amphorae |= {e[:-5] for e in os.listdir(self.amphora_dir)
                               if e.endswith(".json")}
        for inst in compute.list():
            compute.delete(inst.amphora_id)
        for amphora_id in self.seen_amphorae:
            compute.delete(amphora_id)

    def haproxy_cfg(self, amphora_id, lb_id):
        """The HAProxy configuration the amphora runs for lb_id (as uploaded)."""
        from lbaas.drivers.amphora.compute.local import short_id
        try:
            with open(os.path.join(self.amphora_dir, short_id(amphora_id), "lb", lb_id,
                                   "haproxy.cfg")) as fh:
                return fh.read()
        except OSError:
            return ""

    def agent_log(self, amphora_id):
        try:
            with open(os.path.join(self.amphora_dir, f"{amphora_id}.log"), "rb") as fh:
                return fh.read().decode(errors="replace")
        except OSError:
            return ""




def teardown(instances, net):
    """Stop every lbaas instance, then the network; each failure is logged, not raised."""
    for inst in instances:
        try:
            inst.stop()
        except Exception as exc:
            log(f"stopping {inst.label}: {exc}")
    try:
        net.stop()
    except Exception as exc:
        log(f"network teardown: {exc}")


def leftovers_of(instances, net, tmp, keep_logs=False):
    """(our amphora namespaces still there, every leftover as text) after teardown; the
    temporary directory is removed unless keep_logs."""
    ours = {amp_ns(a) for inst in instances for a in inst.seen_amphorae}
    left = sorted(ours & amp_namespaces())
    leftovers = [f"namespace {n}" for n in left] + net.leftovers()
    remove_dir(tmp, keep_logs)
    return left, leftovers
