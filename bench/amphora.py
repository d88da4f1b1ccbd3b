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
  vip_rps_ratio                  wrk through the VIP vs wrk straight to the pool's only
                                 member (the same backend), same settings, same run, for
                                 two backend kinds: `app` (a Python app server) and
                                 `static` (HAProxy answering itself); CPU per request of
                                 the amphora's HAProxy, the backend and wrk
  proxy_config_ab                (--config-ab) variants of the amphora's rendered HAProxy
                                 config run standalone in the amphora's namespace, A/B
                                 against the static backend, interleaved
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
import resource
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
from testbed import backends as tb  # noqa: E402  (Namespace, Backend, http_get)

LB = "/v2/lbaas/loadbalancers"
STATIC_PORT = 8080      # HAProxy answering "ok" itself: a fixed, fast backend
PY_PORT = 8081          # tests/functional/backends.py: /big for the long transfer
APP_PORT = 8082         # serve_app below: the `app` backend of vip_rps_ratio
APP_PATH = "/items"
AB_PORT = 9000          # proxy_config_ab: variant k listens on VIP:AB_PORT+k
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


def proc_ticks(pids):
    """utime + stime (clock ticks) of these processes, all threads; gone pids count 0."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def haproxy_pids(ns_name):
    """Pids of the HAProxy processes (master and workers) in a namespace."""
    from lbaas.drivers.amphora.compute import processes
    found = set()
    for pid in processes.pids_in(ns_name):
        try:
            with open(f"/proc/{pid}/comm") as fh:
                if fh.read().strip() == "haproxy":
                    found.add(pid)
        except OSError:
            pass
    return found


def run_wrk(url, args):
    cmd = ["wrk", f"-t{args.wrk_threads}", f"-c{args.wrk_connections}",
           f"-d{args.wrk_duration}s", "--timeout", "5s", "-s", str(BENCH / "wrk_report.lua"), url]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.wrk_duration + 30)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (rc {out.returncode}): {out.stderr[-300:]}")
    data = json.loads(line[len("WRK_JSON "):])
    return {"rps": data["requests"] / (data["duration_us"] / 1e6),
            "p50_ms": data["latency_us"]["p50"] / 1000.0,
            "p99_ms": data["latency_us"]["p99"] / 1000.0,
            "errors": sum(data["errors"].values()), "requests": data["requests"],
            "wrk_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)}


class Busy:
    """Average cores busy on the whole machine during an interval, and the load average."""

    def __init__(self):
        self.t0, self.b0 = time.monotonic(), _machine_busy()

    def stop(self):
        dt = max(time.monotonic() - self.t0, 1e-6)
        return {"machine_busy_cores": _r((_machine_busy() - self.b0) / CLK_TCK / dt, 2),
                "loadavg_1m": _r(os.getloadavg()[0], 2)}


# --------------------------------------------------------------------------------------------
# The `app` backend of vip_rps_ratio: `amphora.py --serve-app IP PORT WORKERS` in a namespace


def serve_app(ip, port, workers):
    """A small stdlib application server: WORKERS processes (one per core, like gunicorn's
    default) sharing one socket, a thread per keep-alive connection, and per request a little
    work: a JSON document of 20 computed and sorted items plus the request's headers, sent
    in one write with TCP_NODELAY (as any production server does: no Nagle stall)."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from socketserver import TCPServer

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, fmt, *args):
            pass

        def do_GET(self):
            items = sorted(({"id": i, "name": f"item-{i}", "score": (i * 7919 + len(self.path))
                             % 101} for i in range(20)), key=lambda it: (-it["score"], it["id"]))
            body = json.dumps({"path": self.path, "headers": dict(self.headers.items()),
                               "items": items}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self._headers_buffer.append(b"\r\n" + body)   # headers and body: one send
            self.flush_headers()

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256

        def server_bind(self):   # TCPServer's only: no getfqdn() (a DNS wait in a netns)
            TCPServer.server_bind(self)

        def handle_error(self, request, client_address):   # wrk resets its connections
            pass

    server = Server((ip, port), Handler)
    for _ in range(workers - 1):
        if os.fork() == 0:
            break
    server.serve_forever()


# --------------------------------------------------------------------------------------------
# The world: bridges, backends, lbaas serve instances


class Network:
    """Our bridges and subnets, and two backend namespaces on the member subnet."""

    def __init__(self, root, app_workers=2):
        self.root, self.app_workers = root, app_workers
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
            if k == 1:
                self.app = processes.spawn(ns.name, [sys.executable, __file__, "--serve-app",
                                                     ip, str(APP_PORT), str(self.app_workers)],
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
                    if b"--serve-app" in fh.read():
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
        for section, options in self.extra.items():
            where = (lines.index(f"[{section}]") + 1 if f"[{section}]" in lines
                     else len(lines) + 1)
            if where > len(lines):
                lines.append(f"[{section}]")
            lines[where:where] = [f"{k} = {v}" for k, v in options.items()]
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


VARIANT_DOC = {
    "as rendered": "the amphora's config (nbthread default = 2 here, splice on)",
    "no splice": "without `option splice-request` / `option splice-response`",
    "nbthread 1": "`nbthread 1` in global",
    "nbthread 1, no splice": "both of the above",
    "http-reuse always": "`http-reuse always` in the backend (default: safe)",
    "cpu-map": "`nbthread 2` + `cpu-map auto:1/1-2 0-1` (one thread per core, pinned)",
    "tune.maxpollevents 1024": "`tune.maxpollevents 1024`, `tune.recv_enough 16384` in global",
}


def config_variants(text):
    """name -> config text: the rendered config made standalone, and the A/B candidates."""
    drop = ("master-worker", "pidfile ", "stats socket ", "stats timeout ",
            "server-state-file ", "load-server-state-from-file ")
    base = "\n".join(ln for ln in text.splitlines()
                     if not ln.strip().startswith(drop)) + "\n"

    def add_global(t, *lines):
        return t.replace("global\n", "global\n" + "".join(f"    {ln}\n" for ln in lines), 1)

    def no_splice(t):
        return re.sub(r"    option splice-(request|response)\n", "", t)

    def in_backends(t, line):
        return re.sub(r"(\nbackend [^\n]*\n)", rf"\1    {line}\n", t)
    return {"as rendered": base,
            "no splice": no_splice(base),
            "nbthread 1": add_global(base, "nbthread 1"),
            "nbthread 1, no splice": add_global(no_splice(base), "nbthread 1"),
            "http-reuse always": in_backends(base, "http-reuse always"),
            "cpu-map": add_global(base, "nbthread 2", "cpu-map auto:1/1-2 0-1"),
            "tune.maxpollevents 1024": add_global(base, "tune.maxpollevents 1024",
                                                  "tune.recv_enough 16384")}


class Bench:
    def __init__(self, args, net, deadline):
        self.args, self.net, self.deadline = args, net, deadline
        self.results = {}
        self.deletes = {"spare": [], "cold": []}

    def run(self, name, fn, *a):
        if self.args.only and name not in self.args.only:
            return
        log(f"{name} ...")
        entry = measured(fn, *a, deadline=self.deadline)
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

    def setup_ratio_lb(self, inst):
        """The LB of vip_rps_ratio: :80 -> static, :APP_PORT -> app, ONE member each, the
        backend that the direct runs target (so VIP and direct are like for like)."""
        inst.wait_spare_ready()
        ip = self.net.backend_ips[0]
        body, _ = inst.client.call("POST", LB, inst.graph("ratio", app_listener=True,
                                                          member_ips=[ip]), expect=(201,))
        lb = inst.wait_active(body["loadbalancer"]["id"], 0.05)
        amphora = inst.amphora_of(lb["id"])[0]
        self.ratio = {"lb": lb, "vip": lb["vip_address"], "amphora": amphora,
                      "ns": amp_ns(amphora), "backend": ip}
        end = time.monotonic() + 15
        while not (http_status(lb["vip_address"], 80) == 200
                   and http_status(lb["vip_address"], APP_PORT, APP_PATH) == 200):
            if time.monotonic() > end:
                raise TimeoutError("the ratio LB's VIP does not answer")
            time.sleep(0.05)

    def _measured(self, url, proxy_pids, backend_pids):
        """One wrk run; CPU µs per request of the machine, the proxy, the backend and wrk."""
        busy, p0, b0 = Busy(), proc_ticks(proxy_pids), proc_ticks(backend_pids)
        r = run_wrk(url, self.args)
        p1, b1, cores = proc_ticks(proxy_pids), proc_ticks(backend_pids), busy.stop()
        n = max(r["requests"], 1)
        r["cpu_us"] = {"machine": cores["machine_busy_cores"] * 1e6 / r["rps"],
                       "proxy": (p1 - p0) / CLK_TCK * 1e6 / n,
                       "backend": (b1 - b0) / CLK_TCK * 1e6 / n,
                       "wrk": r["wrk_cpu_s"] * 1e6 / n}
        r["loadavg_1m"] = cores["loadavg_1m"]
        return r

    def vip_rps_ratio(self, inst):
        rt, net = self.ratio, self.net
        ip, vip = rt["backend"], rt["vip"]
        proxy = haproxy_pids(rt["ns"])
        kinds = {"app": (f"http://{vip}:{APP_PORT}{APP_PATH}",
                         f"http://{ip}:{APP_PORT}{APP_PATH}", net.app_pids()),
                 "static": (f"http://{vip}/", f"http://{ip}:{STATIC_PORT}/",
                            {net.procs[0][0]})}
        warm = argparse.Namespace(**dict(vars(self.args), wrk_duration=1))
        for vip_url, direct_url, _ in kinds.values():
            run_wrk(direct_url, warm)
            run_wrk(vip_url, warm)
        runs = {k: {"vip": [], "direct": []} for k in kinds}
        errors = 0
        for i in range(self.args.runs):
            for kind, (vip_url, direct_url, backend) in kinds.items():
                # alternate which side goes first, so a drift of the machine cancels out
                order = [("direct", direct_url), ("vip", vip_url)][::1 if i % 2 == 0 else -1]
                for side, url in order:
                    r = self._measured(url, proxy if side == "vip" else set(), backend)
                    runs[kind][side].append(r)
                    errors += r["errors"]
        out = {}
        for kind, sides in runs.items():
            vip_rps = [r["rps"] for r in sides["vip"]]
            direct_rps = [r["rps"] for r in sides["direct"]]

            def cpu(side, key):
                return _r(percentile([r["cpu_us"][key] for r in sides[side]], 50), 1)
            cpu_us = {side: {key: cpu(side, key) for key in ("machine", "proxy", "backend",
                                                              "wrk")}
                      for side in ("vip", "direct")}
            lat = {side: _r(percentile([r["p50_ms"] for r in sides[side]], 50), 3)
                   for side in ("vip", "direct")}
            out[kind] = {
                "ratio": _r(percentile(vip_rps, 50) / percentile(direct_rps, 50), 3),
                "vip_rps": stats(vip_rps, 1), "direct_rps": stats(direct_rps, 1),
                "per_run_ratio": stats([v / d for v, d in zip(vip_rps, direct_rps)], 3),
                "cpu_us_per_request_p50": cpu_us,
                "proxy_cpu_us_per_request": cpu_us["vip"]["proxy"],
                "latency_p50_ms": lat,
                "latency_p99_ms_p50": {side: _r(percentile([r["p99_ms"] for r in sides[side]],
                                                           50), 3) for side in ("vip", "direct")},
                "loadavg_1m_max": max(r["loadavg_1m"] for s in sides.values() for r in s)}
        return {"ratio": out["app"]["ratio"],
                "unit": "through-VIP / direct req/s, app backend (headline)",
                "static_ratio": out["static"]["ratio"],
                "proxy_cpu_us_per_request": {k: out[k]["proxy_cpu_us_per_request"]
                                             for k in out},
                "app": out["app"], "static": out["static"], "wrk_errors": errors,
                "detail": {
                    "wrk": f"-t{self.args.wrk_threads} -c{self.args.wrk_connections} "
                           f"-d{self.args.wrk_duration}s keep-alive",
                    "vip": "an LB of its own: HTTP :80 -> static, HTTP :8081 -> app; each "
                           "pool has ONE member, the backend the direct runs target",
                    "app": f"GET {APP_PATH} on serve_app (bench/amphora.py): stdlib "
                           f"ThreadingHTTPServer, {net.app_workers} processes, HTTP/1.1 "
                           "keep-alive, TCP_NODELAY; a JSON document of 20 sorted items and "
                           "the request's headers",
                    "static": "HAProxy answering `http-request return` (200, 'ok'): the run "
                              "is bound by the proxy's own CPU",
                    "cpu_us_per_request": "CPU µs per request: machine = every process; "
                                          "proxy = the amphora's HAProxy processes; backend "
                                          "= the backend process; wrk = wrk itself",
                    "amphora_haproxy_cfg": inst.haproxy_cfg(rt["amphora"], rt["lb"]["id"])}}

    def proxy_config_ab(self, inst):
        """Variants of the rendered config, standalone in the amphora's namespace, A/B."""
        from lbaas.drivers.amphora.compute import processes
        rt = self.ratio
        base = inst.haproxy_cfg(rt["amphora"], rt["lb"]["id"])
        if not base:
            raise RuntimeError("no rendered haproxy.cfg for the ratio LB")
        variants = config_variants(base)
        amphora = "amphora (the agent's HAProxy, :80)"
        procs, ports = {}, {amphora: 80}
        try:
            for k, (name, text) in enumerate(variants.items(), 1):
                port = AB_PORT + k
                cfg = os.path.join(self.net.root, f"ab-{k}.cfg")
                with open(cfg, "w") as fh:
                    fh.write(re.sub(r"(\n    bind \S+):80\n", rf"\1:{port}\n", text))
                procs[name] = processes.spawn(rt["ns"], [HAPROXY, "-db", "-f", cfg],
                                              os.path.join(self.net.root, f"ab-{k}.log"))
                ports[name] = port
            urls = {name: f"http://{rt['vip']}:{port}/" for name, port in ports.items()}
            end = time.monotonic() + 10
            for name, port in ports.items():
                while http_status(rt["vip"], port) != 200:
                    if time.monotonic() > end:
                        raise RuntimeError(f"variant {name!r} does not answer")
                    time.sleep(0.05)
            pids = {name: {pid} for name, (pid, _) in procs.items()}
            pids[amphora] = haproxy_pids(rt["ns"]) - {
                pid for pid, _ in procs.values()}
            backend = {self.net.procs[0][0]}
            warm = argparse.Namespace(**dict(vars(self.args), wrk_duration=1))
            for url in urls.values():
                run_wrk(url, warm)
            results = {name: [] for name in urls}
            names = list(urls)
            for i in range(self.args.ab_runs):
                for name in names[i % len(names):] + names[:i % len(names)]:   # rotate
                    results[name].append(self._measured(urls[name], pids[name], backend))
        finally:
            if procs:
                processes.stop(dict(procs.values()), 5.0)
        ref = percentile([r["rps"] for r in results["as rendered"]], 50)
        out = {}
        for name, rs in results.items():
            rps = [r["rps"] for r in rs]
            out[name] = {"rps": stats(rps, 1), "vs_as_rendered": _r(percentile(rps, 50) / ref, 3),
                         "proxy_cpu_us_per_request": stats([r["cpu_us"]["proxy"] for r in rs],
                                                           1),
                         "machine_cpu_us_per_request": stats(
                             [r["cpu_us"]["machine"] for r in rs], 1),
                         "latency_p50_ms": _r(percentile([r["p50_ms"] for r in rs], 50), 3),
                         "errors": sum(r["errors"] for r in rs)}
        return {"variants": out,
                "detail": {"how": "each variant is the amphora's rendered haproxy.cfg (global "
                                  "lines that name files dropped, :80 moved to its own port), "
                                  "started with `haproxy -db` in the amphora's namespace; wrk "
                                  "to VIP:port, pool = the static backend; variants rotated "
                                  "within each of --ab-runs rounds",
                           "changes": {name: VARIANT_DOC[name] for name in variants}}}

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
    ap.add_argument("--app-workers", type=int, default=os.cpu_count(),
                    help="processes of the `app` backend (vip_rps_ratio)")
    ap.add_argument("--config-ab", action="store_true",
                    help="also run proxy_config_ab (HAProxy config variants, A/B)")
    ap.add_argument("--ab-runs", type=int, default=3, help="rounds of proxy_config_ab")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds after which no new scenario starts")
    ap.add_argument("--only", type=lambda s: set(s.split(",")),
                    help="comma-separated scenarios to run")
    ap.add_argument("--output", default=str(BENCH / "results" / "amphora-latest.json"))
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir (logs)")
    return ap.parse_args(argv)


MAIN_PID = os.getpid()


def _terminate(signum, _frame):
    """Stop the benchmark (cleaning up) on a signal; a forked helper just exits.

    pyroute2 forks helper processes that inherit this handler and are ended with SIGTERM:
    raising there made the helper run the benchmark's clean-up, which removed the running
    benchmark's temporary directory (the "backend2.cfg: No such file" failures).
    """
    if os.getpid() != MAIN_PID:
        os._exit(0)
    raise KeyboardInterrupt(f"signal {signum}")


def unavailable():
    if os.geteuid() != 0:
        return "not root (amphorae are network namespaces)"
    for path in (HAPROXY, "/usr/bin/wrk"):
        if not os.access(path, os.X_OK):
            return f"{path} is missing"
    return None


def emit(result, output, interrupted, fatal, leftovers):
    """Note how the run ended in result["meta"], print it as JSON and write it to output."""
    if interrupted:
        result["meta"]["interrupted"] = interrupted
    if fatal:
        result["meta"]["fatal"] = fatal
    text = json.dumps(result, indent=2)
    print(text)
    out = pathlib.Path(output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    if leftovers:
        log(f"LEFT BEHIND: {leftovers}")


def measured(fn, *args, deadline=None):
    """One scenario's entry: fn(*args)'s dict, or {"error": ...} when it raised (fail soft;
    Ctrl-C passes), plus its "seconds" and what the machine was doing ("machine")."""
    t0, busy = time.monotonic(), Busy()
    entry = {}
    try:
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError("time budget exhausted")
        entry.update(fn(*args))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # fail soft
        entry["error"] = f"{type(exc).__name__}: {exc}"
        if os.environ.get("BENCH_DEBUG"):
            traceback.print_exc()
    entry["seconds"] = _r(time.monotonic() - t0, 1)
    entry["machine"] = busy.stop()
    return entry


def leftovers_of(instances, net, tmp, keep_logs=False):
    """(our amphora namespaces still there, every leftover as text) after teardown; the
    temporary directory is removed unless keep_logs."""
    ours = {amp_ns(a) for inst in instances for a in inst.seen_amphorae}
    left = sorted(ours & amp_namespaces())
    leftovers = [f"namespace {n}" for n in left] + net.leftovers()
    if keep_logs:
        log(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return left, leftovers


def teardown(instances, net):
    """Stop every lbaas instance, then the network, deaf to Ctrl-C and SIGTERM meanwhile."""
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


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve-app"]:
        serve_app(argv[1], int(argv[2]), int(argv[3]))
        return 0
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
    net = Network(tmp, args.app_workers)
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
        try:
            if not args.only or args.only & {"vip_rps_ratio", "proxy_config_ab"}:
                bench.setup_ratio_lb(spare)
        except Exception as exc:
            bench.results["setup_ratio_lb"] = {"error": f"{type(exc).__name__}: {exc}"}
        bench.run("vip_rps_ratio", bench.vip_rps_ratio, spare)
        if args.config_ab:
            bench.run("proxy_config_ab", bench.proxy_config_ab, spare)
        if hasattr(bench, "ratio"):
            try:
                spare.delete(bench.ratio["lb"]["id"], args.poll_interval)
            except Exception as exc:
                log(f"deleting the ratio LB: {exc}")
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
        teardown(instances, net)
    left, leftovers = leftovers_of(instances, net, tmp, args.keep_logs)
    order = ("graph_to_first_response_spare", "graph_to_first_response_cold", "graph_to_active",
             "reload_ms", "vip_rps_ratio", "proxy_config_ab", "delete_seconds",
             "setup_steady_lb", "setup_ratio_lb")
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
    emit(result, args.output, interrupted, fatal, leftovers)
    return 130 if interrupted else (1 if fatal or leftovers else 0)


if __name__ == "__main__":
    sys.exit(main())
