"""End-to-end benchmark of the amphora provider on this host (see bench/README.md).

Run as root: `python -m bench.amphora`. Builds bridges, subnets and backends of its own
(bench/world.py: bridges `lbb<4 hex>*`, random 10.x.y.0/24 subnets that overlap no route of
this host), starts `lbaas serve
--config-file` (SQLite in a temporary state dir, a free port) twice: once with
`[house_keeping] spare_amphora_pool_size = 1`, once with 0. Prints one JSON document on
stdout and writes it to bench/results/amphora-latest.json. Every scenario fails soft; the
services, amphorae, backend namespaces, veths and bridges are removed on every exit path
(errors, Ctrl-C, SIGTERM), and the JSON says whether any `amp-*` namespace of ours is left.
`--compute nova`: VM amphorae through Nova on a real cloud instead (bench/amphora_nova.py).

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
import json
import os
import re
import sys
import tempfile
import threading
import time

from bench import amphora_nova, wrk
from bench.client import LB, http_status
from bench.harness import (CLK_TCK, Busy, add_output_args, cannot_run, error_text, finish,
                           guarded, interrupt_on_signals, log, measured, percentile, proc_ticks,
                           rounded, run_meta, stats, version_line)
from bench.world import (APP_PATH, APP_PORT, HAPROXY, PY_PORT, STATIC_PORT, Instance, Network,
                         amp_namespaces, amp_ns, haproxy_pids, leftovers_of, teardown,
                         unavailable)

AB_PORT = 9000          # proxy_config_ab: variant k listens on VIP:AB_PORT+k
GOALS = {"graph_to_first_response_spare": ("p50", "<", 1.0),
         "vip_rps_ratio": ("ratio", ">=", 0.8)}


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
                            "last_update_active_ms": rounded(times[-1], 1),
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
        r = wrk.run_with(self.args, url)
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
            wrk.run_with(warm, direct_url)
            wrk.run_with(warm, vip_url)
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
                return rounded(percentile([r["cpu_us"][key] for r in sides[side]], 50), 1)
            cpu_us = {side: {key: cpu(side, key) for key in ("machine", "proxy", "backend",
                                                              "wrk")}
                      for side in ("vip", "direct")}
            lat = {side: rounded(percentile([r["p50_ms"] for r in sides[side]], 50), 3)
                   for side in ("vip", "direct")}
            out[kind] = {
                "ratio": rounded(percentile(vip_rps, 50) / percentile(direct_rps, 50), 3),
                "vip_rps": stats(vip_rps, 1), "direct_rps": stats(direct_rps, 1),
                "per_run_ratio": stats([v / d for v, d in zip(vip_rps, direct_rps)], 3),
                "cpu_us_per_request_p50": cpu_us,
                "proxy_cpu_us_per_request": cpu_us["vip"]["proxy"],
                "latency_p50_ms": lat,
                "latency_p99_ms_p50": {side: rounded(percentile([r["p99_ms"] for r in sides[side]],
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
                    "app": f"GET {APP_PATH} on serve_app (bench/app_server.py): stdlib "
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
                wrk.run_with(warm, url)
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
            out[name] = {"rps": stats(rps, 1),
                         "vs_as_rendered": rounded(percentile(rps, 50) / ref, 3),
                         "proxy_cpu_us_per_request": stats([r["cpu_us"]["proxy"] for r in rs],
                                                           1),
                         "machine_cpu_us_per_request": stats(
                             [r["cpu_us"]["machine"] for r in rs], 1),
                         "latency_p50_ms": rounded(percentile([r["p50_ms"] for r in rs], 50), 3),
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
                            "steady_lb_two_listeners": [rounded(x, 4) for x in
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
    ap.add_argument("--runs", type=int, help="repetitions of each scenario (default 5; 3 "
                    "with --network neutron, 2 with --compute nova)")
    ap.add_argument("--network", choices=("local", "neutron"), default="local",
                    help="neutron: graph_to_first_response on Neutron ports against the "
                    "local backend, same run (bench/amphora_neutron.py)")
    ap.add_argument("--compute", choices=("local", "nova"), default="local",
                    help="amphorae as namespaces (local) or VMs through Nova "
                         "(bench/amphora_nova.py, with the namespace figures beside)")
    ap.add_argument("--poll-interval", type=float, default=0.005,
                    help="seconds between API polls")
    wrk.add_args(ap)
    ap.add_argument("--app-workers", type=int, default=os.cpu_count(),
                    help="processes of the `app` backend (vip_rps_ratio)")
    ap.add_argument("--config-ab", action="store_true",
                    help="also run proxy_config_ab (HAProxy config variants, A/B)")
    ap.add_argument("--ab-runs", type=int, default=3, help="rounds of proxy_config_ab")
    ap.add_argument("--budget", type=float, default=600.0,
                    help="seconds after which no new scenario starts")
    ap.add_argument("--only", type=lambda s: set(s.split(",")),
                    help="comma-separated scenarios to run")
    amphora_nova.add_args(ap)
    add_output_args(ap, "amphora-latest.json")
    args = ap.parse_args(argv)
    if args.compute == "nova":
        args.runs = args.runs or 2
        if args.output == ap.get_default("output"):
            args.output = amphora_nova.OUTPUT
    return args


def run_scenarios(args, tmp, net, bench, instances, baselines):
    """The network, the spare-pool instance and its scenarios, then the cold one's."""
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
        bench.results["setup_steady_lb"] = {"error": error_text(exc)}
    bench.run("reload_ms", bench.reload_ms, spare)
    try:
        if not args.only or args.only & {"vip_rps_ratio", "proxy_config_ab"}:
            bench.setup_ratio_lb(spare)
    except Exception as exc:
        bench.results["setup_ratio_lb"] = {"error": error_text(exc)}
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
        bench.results["delete_seconds"].setdefault("detail", {}).update(bench.cold_delete())


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.compute == "nova":
        return amphora_nova.main(args)
    if args.network == "neutron":
        from bench import amphora_neutron
        return amphora_neutron.main(args)
    args.runs = args.runs or 5
    started = time.time()
    reason = unavailable()
    if reason:
        return cannot_run("bench.amphora", reason)
    interrupt_on_signals()
    tmp = tempfile.mkdtemp(prefix="lbaas-amp-bench-")
    amp_before = amp_namespaces()
    load_before = os.getloadavg()
    net = Network(tmp, args.app_workers)
    bench = Bench(args, net, time.monotonic() + args.budget)
    instances, baselines = [], {}
    with guarded(lambda: teardown(instances, net)) as outcome:
        run_scenarios(args, tmp, net, bench, instances, baselines)
    left, leftovers = leftovers_of(instances, net, tmp, args.keep_logs)
    order = ("graph_to_first_response_spare", "graph_to_first_response_cold", "graph_to_active",
             "reload_ms", "vip_rps_ratio", "proxy_config_ab", "delete_seconds",
             "setup_steady_lb", "setup_ratio_lb")
    scenarios = {k: bench.results[k] for k in order if k in bench.results}
    sp, co = (scenarios.get("graph_to_first_response_spare", {}),
              scenarios.get("graph_to_first_response_cold", {}))
    result = {
        "meta": {
            **run_meta(started, load_before),
            "haproxy": version_line([HAPROXY, "-v"]),
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
            rounded(co["p50"] / sp["p50"], 2) if sp.get("p50") and co.get("p50") else None),
        "leftovers": leftovers,
        "amphora_namespaces_of_ours_left": left,
        "scenarios": scenarios,
    }
    return finish(result, args.output, outcome, leftovers)


if __name__ == "__main__":
    sys.exit(main())
