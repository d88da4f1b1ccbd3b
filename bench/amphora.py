#!/usr/bin/env python3
"""End-to-end benchmark of the amphora provider on this host (see bench/README.md).

Runs as root. Builds bridges, subnets and backends of its own (bridges `lbb<4 hex>*`,
random 10.x.y.0/24 subnets that overlap no route of this host), starts `lbaas serve
--config-file` (SQLite in a temporary state dir, a free port) twice: once with
`[house_keeping] spare_amphora_pool_size = 1`, once with 0. Prints one JSON document on
stdout and writes it to bench/results/amphora-latest.json. Every scenario fails soft; the
services, amphorae, backend namespaces, veths and bridges are removed on every exit path
(errors, Ctrl-C, SIGTERM), and the JSON says whether any `amp-*` namespace of ours is left.

Scenarios (each --runs times; min/p50/max):
  graph_to_first_response_spare  POST LB + HTTP :80 listener + pool + 2 members in one call,
                                 a spare amphora READY: seconds until the VIP answers 200
  graph_to_first_response_cold   the same without spare amphorae (booted on demand)
  graph_to_active                the same POST until the API shows the LB ACTIVE (spare)
  reload_ms                      PUT a listener (name, timeout) until ACTIVE again; the
                                 HAProxy reload from the amphora agent's log; whether a
                                 long transfer through the VIP survives the reload
  vip_rps_ratio                  wrk through the VIP (2 HAProxy static backends) vs wrk
                                 straight to one backend, same settings, same run
  delete_seconds                 DELETE ?cascade=true until the LB is gone and its
                                 amphora namespace too
"""
import argparse
import http.client
import ipaddress
import json
import os
import pathlib
import platform
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

ROOT = pathlib.Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(BENCH))
from api import (CLK_TCK, Client, HTTPError, _machine_busy, _r, console_script,  # noqa: E402
                 free_port, log, percentile)
from tests.functional import backends as tb  # noqa: E402  (Namespace, Backend, http_get)

LB = "/v2/lbaas/loadbalancers"
STATIC_PORT = 8080      # HAProxy answering "ok" itself: a fixed, fast backend
PY_PORT = 8081          # tests/functional/backends.py: /big for the long transfer
HAPROXY = "/usr/sbin/haproxy"
GOALS = {"graph_to_first_response_spare": ("p50", "<", 1.0),
         "vip_rps_ratio": ("ratio", ">=", 0.8)}


# --------------------------------------------------------------------------------------------
# Small helpers


def stats(values, nd=4):
    """min/p50/max of a list of numbers, with the values themselves."""
    if not values:
        return {"n": 0}
    return {"n": len(values), "min": _r(min(values), nd), "p50": _r(percentile(values, 50), nd),
            "max": _r(max(values), nd), "values": [_r(v, nd) for v in values]}


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def pick_subnets(count):
    """`count` random /24s in 10.0.0.0/8 that overlap no route of this host."""
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        taken = [ipaddress.ip_network(f"{r.get_attr('RTA_DST')}/{r['dst_len']}", strict=False)
                 for r in ipr.get_routes(family=socket.AF_INET) if r.get_attr("RTA_DST")]
    found = []
    while len(found) < count:
        net = ipaddress.ip_network(f"10.{100 + secrets.randbelow(150)}."
                                   f"{secrets.randbelow(256)}.0/24")
        if net not in found and not any(net.overlaps(t) for t in taken):
            found.append(net)
    return found


def host(net, k):
    return str(net.network_address + k)


def amp_namespaces():
    from pyroute2 import netns
    return {n for n in netns.listnetns() if n.startswith("amp-")}


def amp_ns(amphora_id):
    from lbaas.drivers.amphora.compute.local import ns_name
    return ns_name(amphora_id)


def http_status(address, port, path="/", timeout=0.25):
    """Status of one GET on a new connection; None when it fails."""
    conn = http.client.HTTPConnection(address, port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except OSError:
        return None
    except http.client.HTTPException:
        return None
    finally:
        conn.close()


def run_wrk(url, args):
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.wrk_connections}",
           f"-d{args.wrk_duration}s", "--timeout", "5s", "-s", str(BENCH / "wrk_report.lua"), url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.wrk_duration + 30)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (rc {out.returncode}): {out.stderr[-300:]}")
    data = json.loads(line[len("WRK_JSON "):])
    return {"rps": data["requests"] / (data["duration_us"] / 1e6),
            "p50_ms": data["latency_us"]["p50"] / 1000.0,
            "p99_ms": data["latency_us"]["p99"] / 1000.0,
            "errors": sum(data["errors"].values())}


class Busy:
    """Average cores busy on the whole machine during an interval, and the load average."""

    def __init__(self):
        self.t0, self.b0 = time.monotonic(), _machine_busy()

    def stop(self):
        dt = max(time.monotonic() - self.t0, 1e-6)
        return {"machine_busy_cores": _r((_machine_busy() - self.b0) / CLK_TCK / dt, 2),
                "loadavg_1m": _r(os.getloadavg()[0], 2)}


# --------------------------------------------------------------------------------------------
# The world: bridges, backends, lbaas serve instances


class Network:
    """Our bridges and subnets, and two backend namespaces on the member subnet."""

    def __init__(self, root):
        self.root = root
        self.token = secrets.token_hex(2)
        self.mgmt_cidr, self.vip_cidr, self.member_cidr = pick_subnets(3)
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
            ns = tb.Namespace(f"lbb{self.token}be{k}", self.bridges["member"],
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
            self.backends.append(tb.Backend(ns, ip, PY_PORT, f"be{k}", self.root).start())
        # This host's own address on the member bridge, so wrk can reach a backend directly.
        from pyroute2 import IPRoute
        with IPRoute() as ipr:
            index = ipr.link_lookup(ifname=self.bridges["member"])[0]
            ipr.addr("add", index=index, address=host(self.member_cidr, 250), prefixlen=prefix)
        deadline = time.monotonic() + 10
        for ip in self.backend_ips:
            while http_status(ip, STATIC_PORT, timeout=0.5) != 200:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"HAProxy backend {ip}:{STATIC_PORT} does not answer")
                time.sleep(0.05)

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

    def __init__(self, net, root, label, spare):
        self.net, self.label, self.spare = net, label, spare
        self.dir = os.path.join(root, label)
        self.state = os.path.join(self.dir, "state")
        self.amphora_dir = os.path.join(self.state, "amphorae")
        self.port = free_port()
        self.proc = None
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
        return "\n".join(lines) + "\n"

    def start(self):
        os.makedirs(self.state, exist_ok=True)
        conf = os.path.join(self.dir, "lbaas.conf")
        with open(conf, "w") as fh:
            fh.write(self.config_text())
        env = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
        env.update(PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1", PYTHONWARNINGS="ignore")
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([console_script("lbaas"), "--config-file", conf, "serve"],
                                     stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                                     cwd=self.dir)
        self.client = Client(self.port, timeout=30)
        end = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lbaas serve ({self.label}) exited: {self.log_tail()}")
            try:
                if self.client.raw("GET", "/")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > end:
                raise RuntimeError(f"lbaas serve ({self.label}) did not answer: "
                                   f"{self.log_tail()}")
            time.sleep(0.05)
        self.vip_subnet = self.subnet_id(f"vip-{self.net.token}")
        self.member_subnet = self.subnet_id(f"mem-{self.net.token}")
        log(f"lbaas serve ({self.label}, spare pool {self.spare}) on 127.0.0.1:{self.port}, "
            f"pid {self.proc.pid}")
        return self

    def subnet_id(self, name):
        body, _ = self.client.call("GET", f"/v2.0/subnets?name={name}")
        return body["subnets"][0]["id"]

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as fh:
                return fh.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def api_baseline(self, n=30):
        """p50 ms of GET / on this lbaas serve (the cheapest request: a same-run baseline)."""
        times = [self.client.call("GET", "/")[1] for _ in range(n)]
        return _r(percentile(times, 50) * 1000, 3)

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

    def graph(self, name, python_listener=False):
        def member(ip, port):
            return {"address": ip, "protocol_port": port, "subnet_id": self.member_subnet}

        def listener(port, backend_port):
            return {"name": f"{name}-{port}", "protocol": "HTTP", "protocol_port": port,
                    "default_pool": {"name": f"{name}-pool-{port}", "protocol": "HTTP",
                                     "lb_algorithm": "ROUND_ROBIN",
                                     "members": [member(ip, backend_port)
                                                 for ip in self.net.backend_ips]}}
        listeners = [listener(80, STATIC_PORT)]
        if python_listener:
            listeners.append(listener(PY_PORT, PY_PORT))
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
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(15)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(10)
        if getattr(self, "log", None):
            self.log.close()
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


# --------------------------------------------------------------------------------------------
# Scenarios


class Bench:
    def __init__(self, args, net, deadline):
        self.args, self.net, self.deadline = args, net, deadline
        self.results = {}
        self.deletes = {"spare": [], "cold": []}

    def run(self, name, fn, *a):
        if self.args.only and name not in self.args.only:
            return
        log(f"{name} ...")
        t0, busy = time.monotonic(), Busy()
        entry = {}
        try:
            if time.monotonic() > self.deadline:
                raise TimeoutError("time budget exhausted")
            entry.update(fn(*a))
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # fail soft
            entry["error"] = f"{type(exc).__name__}: {exc}"
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
        entry["seconds"] = _r(time.monotonic() - t0, 1)
        entry["machine"] = busy.stop()
        self.results[name] = entry
        log(f"{name}: {json.dumps({k: v for k, v in entry.items() if k != 'detail'})[:400]}")

    def _first_response(self, inst, name, spare):
        """One sample: POST the graph, poll the VIP until 200 -> (s, POST s, lb_id)."""
        if spare:
            inst.wait_spare_ready()
        t0 = time.perf_counter()
        body, post = inst.client.call("POST", LB, inst.graph(name), expect=(201,))
        lb = body["loadbalancer"]
        vip, end = lb["vip_address"], t0 + 90
        while http_status(vip, 80, timeout=0.25) != 200:
            if time.perf_counter() > end:
                raise TimeoutError(f"{vip}:80 did not answer 200 within 90 s")
            time.sleep(0.005)
        return time.perf_counter() - t0, post, lb["id"]

    def first_response(self, inst, spare):
        times, posts, active_after = [], [], []
        for i in range(self.args.runs):
            t, post, lb_id = self._first_response(inst, f"first-{inst.label}-{i}", spare)
            times.append(t)
            posts.append(post)
            t1 = time.perf_counter()
            inst.wait_active(lb_id, self.args.poll_interval)
            active_after.append(time.perf_counter() - t1)
            self.deletes[inst.label].append(inst.delete(lb_id, self.args.poll_interval))
        return dict(stats(times), unit="s", post=stats(posts),
                    detail={"active_seen_after_first_response_s": stats(active_after),
                            "spare_pool_size": inst.spare})

    def graph_to_active(self, inst):
        times, vip_after = [], []
        for i in range(self.args.runs):
            inst.wait_spare_ready()
            t0 = time.perf_counter()
            body, _ = inst.client.call("POST", LB, inst.graph(f"active-{i}"), expect=(201,))
            lb = inst.wait_active(body["loadbalancer"]["id"], self.args.poll_interval)
            times.append(time.perf_counter() - t0)
            vip_after.append(http_status(lb["vip_address"], 80, timeout=2) == 200)
            self.deletes[inst.label].append(inst.delete(lb["id"], self.args.poll_interval))
        return dict(stats(times), unit="s",
                    detail={"vip_answered_200_when_active": vip_after,
                            "spare_pool_size": inst.spare, "poll_interval_s":
                            self.args.poll_interval})

    def setup_long_lived(self, inst):
        """The LB for reload and wrk: :80 -> 2 HAProxy backends, :8081 -> 2 Python backends."""
        inst.wait_spare_ready()
        body, _ = inst.client.call("POST", LB, inst.graph("steady", python_listener=True),
                                   expect=(201,))
        lb = inst.wait_active(body["loadbalancer"]["id"], 0.05)
        self.steady = {"lb": lb, "vip": lb["vip_address"], "amphora": inst.amphora_of(lb["id"])[0],
                       "listener80": next(li["id"] for li in inst.client.call(
                           "GET", f"/v2/lbaas/listeners?loadbalancer_id={lb['id']}")[0]
                           ["listeners"] if li["protocol_port"] == 80)}
        end = time.monotonic() + 15
        while not (http_status(self.steady["vip"], 80) == 200
                   and http_status(self.steady["vip"], PY_PORT, "/health") == 200):
            if time.monotonic() > end:
                raise TimeoutError("the steady LB's VIP does not answer")
            time.sleep(0.05)

    def _transfer(self, vip, size, out):
        """GET a slow /big through the VIP; out: first byte time, bytes, status, end time."""
        conn = http.client.HTTPConnection(vip, PY_PORT, timeout=30)
        try:
            conn.request("GET", f"/big?bytes={size}&chunk=65536&delay=0.04")
            resp = conn.getresponse()
            out["status"] = resp.status
            got = 0
            while True:
                chunk = resp.read1(65536)
                if not chunk:
                    break
                if not got:
                    out["first_byte"] = time.perf_counter()
                got += len(chunk)
            out["bytes"] = got
        except Exception as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            out["end"] = time.perf_counter()
            conn.close()

    def reload_ms(self, inst):
        s = self.steady
        lb_id, listener = s["lb"]["id"], s["listener80"]
        size = 64 * 65536  # 4 MiB, 64 chunks 40 ms apart: about 2.6 s
        times, reloads, survived, spans = [], [], [], []
        for i in range(self.args.runs):
            out = {}
            th = threading.Thread(target=self._transfer, args=(s["vip"], size, out), daemon=True)
            th.start()
            end = time.monotonic() + 5
            while "first_byte" not in out and "end" not in out and time.monotonic() < end:
                time.sleep(0.01)
            time.sleep(0.2)
            log_mark = len(inst.agent_log(s["amphora"]))
            wall0 = time.time()
            t0 = time.perf_counter()
            inst.client.call("PUT", f"/v2/lbaas/listeners/{listener}", {"listener": {
                "name": f"reloaded-{i}", "timeout_client_data": 50000 + i}}, expect=(200, 202))
            inst.wait_active(lb_id, self.args.poll_interval)
            t_active = time.perf_counter()
            times.append((t_active - t0) * 1000)
            th.join(30)
            ok = out.get("status") == 200 and out.get("bytes") == size
            survived.append(ok)
            spans.append(out.get("end", 0) > t_active and out.get("first_byte", 1e18) < t0)
            time.sleep(0.3)   # let the agent log catch up (and show any late call)
            calls = self._agent_calls(inst.agent_log(s["amphora"])[log_mark:], wall0)
            r = self._reload_from_log(inst, s["amphora"], lb_id)
            if r is not None:
                reloads.append(r)
            else:
                self.agent_tail = inst.agent_log(s["amphora"])[-1500:]
        return dict(stats(times, 2), unit="ms",
                    reload_in_agent_ms=stats(reloads, 2),
                    long_transfer_survived=all(survived),
                    detail={"transfer_ok_per_run": survived,
                            "transfer_spanned_the_reload": spans,
                            "transfer_bytes": size,
                            "agent_calls_of_last_update": calls,
                            "last_update_active_ms": _r(times[-1], 1),
                            "agent_log_tail_when_unparsed": getattr(self, "agent_tail", None),
                            "reload_in_agent": "agent log: time between the end of the "
                                               "config upload (validated, installed) and "
                                               "the end of PUT .../reload (new workers up)"})

    @staticmethod
    def _agent_calls(text, wall0):
        """["+ms METHOD path status"] of the agent's request log lines, ms after wall0."""
        calls = []
        for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
            m = re.match(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d{3}) .*"(\w+) (\S+) '
                         r'HTTP[^"]*" (\d+)', line)
            if m:
                t = time.mktime(time.strptime(m[1], "%Y-%m-%d %H:%M:%S")) + int(m[2]) / 1000
                path = re.sub(r"[0-9a-f]{8}-[0-9a-f-]{27}", "<id>", m[4])
                calls.append(f"+{(t - wall0) * 1000:.0f}ms {m[3]} {path} {m[5]}")
        return calls

    @staticmethod
    def _reload_from_log(inst, amphora_id, lb_id):
        """ms from the last config upload's log line to the reload's, in the agent log."""
        stamp = r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .*"
        text = inst.agent_log(amphora_id)
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)   # werkzeug colours its request log
        ups = re.findall(stamp + rf'"PUT /[^ ]*/{lb_id}/haproxy HTTP[^"]*" 202', text, re.M)
        rel = re.findall(stamp + rf'"PUT /[^ ]*/{lb_id}/reload HTTP[^"]*" 202', text, re.M)
        if not ups or not rel:
            return None

        def ms(s):
            t = time.strptime(s[:19], "%Y-%m-%d %H:%M:%S")
            return time.mktime(t) * 1000 + int(s[20:])
        d = ms(rel[-1]) - ms(ups[-1])
        return d if d >= 0 else None

    def vip_rps_ratio(self, inst):
        vip_url = f"http://{self.steady['vip']}/"
        direct_url = f"http://{self.net.backend_ips[0]}:{STATIC_PORT}/"
        warm = argparse.Namespace(**dict(vars(self.args), wrk_duration=1))
        run_wrk(direct_url, warm)
        run_wrk(vip_url, warm)
        vip, direct, ratios, errors = [], [], [], 0
        cpu = {"direct": [], "vip": []}

        def measured(url, key):
            busy = Busy()
            r = run_wrk(url, self.args)
            cores = busy.stop()["machine_busy_cores"]
            cpu[key].append(cores * 1e6 / r["rps"])   # CPU µs (whole machine) per request
            return r
        for _ in range(self.args.runs):
            d = measured(direct_url, "direct")
            v = measured(vip_url, "vip")
            direct.append(d["rps"])
            vip.append(v["rps"])
            ratios.append(v["rps"] / d["rps"])
            errors += d["errors"] + v["errors"]
            last = (d, v)
        ratio = percentile(vip, 50) / percentile(direct, 50)
        return {"ratio": _r(ratio, 3), "unit": "through-VIP / direct req/s",
                "vip_rps": stats(vip, 1), "direct_rps": stats(direct, 1),
                "per_run_ratio": stats(ratios, 3), "wrk_errors": errors,
                "machine_cpu_us_per_request": {"direct": stats(cpu["direct"], 1),
                                               "vip": stats(cpu["vip"], 1)},
                "detail": {"wrk": f"-t{self.args.wrk_threads} -c{self.args.wrk_connections} "
                                  f"-d{self.args.wrk_duration}s keep-alive",
                           "vip": "HTTP listener :80, ROUND_ROBIN over 2 HAProxy backends",
                           "direct": "one of those HAProxy backends (http-request return)",
                           "amphora_haproxy_cfg": inst.haproxy_cfg(
                               self.steady["amphora"], self.steady["lb"]["id"]),
                           "last_p50_ms": {"direct": _r(last[0]["p50_ms"], 3),
                                           "vip": _r(last[1]["p50_ms"], 3)},
                           "last_p99_ms": {"direct": _r(last[0]["p99_ms"], 3),
                                           "vip": _r(last[1]["p99_ms"], 3)}}}

    def delete_seconds(self, inst):
        if inst.proc is not None and hasattr(self, "steady"):
            self.deletes["steady"] = [inst.delete(self.steady["lb"]["id"],
                                                  self.args.poll_interval)]
        samples = self.deletes["spare"]
        if not samples:
            raise RuntimeError("no load balancer was deleted (the create scenarios failed)")
        return dict(stats([s[1] for s in samples]), unit="s",
                    api_gone=stats([s[0] for s in samples]),
                    detail={"what": "LBs of graph_to_first_response_spare and graph_to_active; "
                                    "value = until the amphora namespace is gone",
                            "steady_lb_two_listeners": [_r(x, 4) for x in
                                                        self.deletes.get("steady", [[]])[-1]]})

    def cold_delete(self):
        samples = self.deletes["cold"]
        return {"cold_instance": stats([s[1] for s in samples])}


def goals(results):
    out = {}
    for name, (key, op, want) in GOALS.items():
        v = (results.get(name) or {}).get(key)
        if v is not None:
            out[name] = {key: v, "goal": f"{op} {want}",
                         "met": v < want if op == "<" else v >= want}
    return out


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="repetitions of each scenario")
    ap.add_argument("--poll-interval", type=float, default=0.005,
                    help="seconds between API polls")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk-connections", type=int, default=32)
    ap.add_argument("--wrk-duration", type=int, default=5, help="seconds per wrk run")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds after which no new scenario starts")
    ap.add_argument("--only", type=lambda s: set(s.split(",")),
                    help="comma-separated scenarios to run")
    ap.add_argument("--output", default=str(BENCH / "results" / "amphora-latest.json"))
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir (logs)")
    return ap.parse_args(argv)


def _terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def unavailable():
    if os.geteuid() != 0:
        return "not root (amphorae are network namespaces)"
    for path in (HAPROXY, "/usr/bin/wrk"):
        if not os.access(path, os.X_OK):
            return f"{path} is missing"
    return None


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    reason = unavailable()
    if reason:
        print(f"bench/amphora.py: cannot run: {reason}", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    tmp = tempfile.mkdtemp(prefix="lbaas-amp-bench-")
    amp_before = amp_namespaces()
    load_before = os.getloadavg()
    net = Network(tmp)
    bench = Bench(args, net, time.monotonic() + args.budget)
    instances, interrupted, fatal, baselines = [], None, None, {}
    try:
        net.start_backends()
        log(f"network {net.token}: vip {net.vip_cidr}, member {net.member_cidr}, "
            f"mgmt {net.mgmt_cidr}; backends {net.backend_ips}")
        spare = Instance(net, tmp, "spare", 1)
        instances.append(spare)
        spare.start()
        baselines["spare"] = spare.api_baseline()
        bench.run("graph_to_first_response_spare", bench.first_response, spare, True)
        bench.run("graph_to_active", bench.graph_to_active, spare)
        try:
            bench.setup_long_lived(spare)
        except Exception as exc:
            bench.results["setup_steady_lb"] = {"error": f"{type(exc).__name__}: {exc}"}
        bench.run("reload_ms", bench.reload_ms, spare)
        bench.run("vip_rps_ratio", bench.vip_rps_ratio, spare)
        bench.run("delete_seconds", bench.delete_seconds, spare)
        spare.stop()
        cold = Instance(net, tmp, "cold", 0)
        instances.append(cold)
        cold.start()
        baselines["cold"] = cold.api_baseline()
        bench.run("graph_to_first_response_cold", bench.first_response, cold, False)
        if "delete_seconds" in bench.results and bench.deletes["cold"]:
            bench.results["delete_seconds"].setdefault("detail", {}).update(
                bench.cold_delete())
    except KeyboardInterrupt as exc:
        interrupted = str(exc) or "KeyboardInterrupt"
        log(f"interrupted ({interrupted}); cleaning up")
    except Exception as exc:
        fatal = f"{type(exc).__name__}: {exc}"
        log(f"setup failed: {fatal}")
        if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        for inst in instances:
            try:
                inst.stop()
            except Exception as exc:
                log(f"stopping {inst.label}: {exc}")
        try:
            net.stop()
        except Exception as exc:
            log(f"network teardown: {exc}")
        signal.signal(signal.SIGINT, _terminate)
    ours = {amp_ns(a) for inst in instances for a in inst.seen_amphorae}
    left = sorted(ours & amp_namespaces())
    leftovers = [f"namespace {n}" for n in left] + net.leftovers()
    if args.keep_logs:
        log(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    order = ("graph_to_first_response_spare", "graph_to_first_response_cold", "graph_to_active",
             "reload_ms", "vip_rps_ratio", "delete_seconds", "setup_steady_lb")
    scenarios = {k: bench.results[k] for k in order if k in bench.results}
    sp, co = (scenarios.get("graph_to_first_response_spare", {}),
              scenarios.get("graph_to_first_response_cold", {}))
    result = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_seconds": _r(time.time() - started, 1),
            "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(),
            "loadavg_before": [_r(x, 2) for x in load_before],
            "loadavg_after": [_r(x, 2) for x in os.getloadavg()],
            "haproxy": subprocess.run([HAPROXY, "-v"], capture_output=True,
                                      text=True).stdout.split("\n")[0],
            "runs": args.runs, "poll_interval_s": args.poll_interval,
            "server": "lbaas serve --config-file (amphora provider, local compute and "
                      "network, SQLite)",
            "network": {"vip": str(net.vip_cidr), "member": str(net.member_cidr),
                        "mgmt": str(net.mgmt_cidr), "bridges": net.bridges},
            "api_baseline_get_root_p50_ms": baselines,
            "other_amp_namespaces_at_start": len(amp_before),
        },
        "goals": goals(scenarios),
        "spare_vs_cold_first_response_p50": (
            _r(co["p50"] / sp["p50"], 2) if sp.get("p50") and co.get("p50") else None),
        "leftovers": leftovers,
        "amphora_namespaces_of_ours_left": left,
        "scenarios": scenarios,
    }
    if interrupted:
        result["meta"]["interrupted"] = interrupted
    if fatal:
        result["meta"]["fatal"] = fatal
    text = json.dumps(result, indent=2)
    print(text)
    out = pathlib.Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if leftovers:
        log(f"LEFT BEHIND: {leftovers}")
    return 130 if interrupted else (1 if fatal or leftovers else 0)


if __name__ == "__main__":
    sys.exit(main())
