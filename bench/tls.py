"""TLS termination through an amphora's VIP, against plain HTTP through the same load
balancer, same run (see bench/README.md and docs/tls.md).

Run as root: `python -m bench.tls`. Builds the amphora benchmarks' world (bench/world.py:
bridges, subnets, backend namespaces with a static HAProxy backend; `lbaas serve
--config-file` with the amphora provider, SQLite). One load balancer, one member (the
static backend):
HTTP :80 and TERMINATED_HTTPS :443 (ECDSA P-256 certificate from testbed/tls_certs.py,
imported with `lbaas certificate import`, default tls_versions TLSv1.2+TLSv1.3) in front
of the same pool member. wrk measures, --runs times each, alternating the order:

  http_keepalive     plain HTTP, keep-alive: requests/s
  https_keepalive    HTTPS, keep-alive (one handshake per connection): requests/s
  http_close         plain HTTP, `Connection: close`: a new TCP connection per request
  https_resumed      HTTPS, `Connection: close`: a new TLS connection per request, but
                     wrk keeps its session (SSL_clear) so each one is a TLS 1.3 resumption
                     (HAProxy's SslFrontendSessionReuse_pct, sampled mid-run, says so)
  https_full         `openssl s_time -new -www /` in --stime-procs parallel processes: a
                     full handshake (certificate, ECDHE, signature) and one request per
                     connection: TLS handshakes/s

Ratios (p50 over runs): https_keepalive / http_keepalive, https_full / http_close,
https_resumed / http_close, and the HAProxy CPU µs per request of each. Prints one JSON
document and writes it to bench/results/tls-latest.json; everything (service, amphora,
namespaces, bridges) is removed on every exit path.
"""
import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

from bench import wrk
from bench.client import LB, http_status
from bench.harness import (CLK_TCK, ROOT, Busy, add_output_args, cannot_run, debug_traceback,
                           error_text, finish, guarded, interrupt_on_signals, log, percentile,
                           proc_ticks, rounded, run_meta, sample_midway, stats, version_line)
from bench.world import (HAPROXY, STATIC_PORT, Instance, Network, amp_ns, haproxy_pids,
                         leftovers_of, teardown, unavailable)
from testbed import tls_certs
from testbed.service import venv_command

HTTP_PORT, HTTPS_PORT = 80, 443
MODES = {"http_keepalive": ("http", HTTP_PORT, False),
         "https_keepalive": ("https", HTTPS_PORT, False),
         "http_close": ("http", HTTP_PORT, True),
         "https_resumed": ("https", HTTPS_PORT, True), "https_full": ("s_time", HTTPS_PORT, True)}


def run_s_time(vip, args, duration=None, sample=None):
    """--stime-procs `openssl s_time -new -www /` in parallel: full handshakes per second."""
    duration = duration or args.wrk_duration
    cmd = ["openssl", "s_time", "-connect", f"{vip}:{HTTPS_PORT}", "-new", "-www", "/",
           "-time", str(duration)]
    t0 = time.monotonic()
    procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(args.stime_procs)]
    seen = sample_midway(procs, duration, sample)
    outs = [p.communicate(timeout=duration + 30) for p in procs]
    wall = time.monotonic() - t0
    total = 0
    for proc, (stdout, stderr) in zip(procs, outs):
        match = re.search(r"(\d+) connections in [\d.]+s;", stdout)
        if proc.returncode != 0 or match is None:
            raise RuntimeError(f"openssl s_time failed (rc {proc.returncode}): "
                               f"{(stdout + stderr)[-300:]}")
        total += int(match.group(1))
    return {"rps": total / wall, "requests": total, "p50_ms": None, "p99_ms": None,
            "errors": 0, "mid_run": seen}


def ssl_info(inst, amphora_id, lb_id):
    """HAProxy's `show info` TLS counters of the load balancer on the amphora."""
    from lbaas.agent.haproxy import unix_command
    from lbaas.drivers.amphora.compute.local import short_id
    directory = os.path.join(inst.amphora_dir, short_id(amphora_id), "lb", lb_id)
    text = unix_command("stats.sock", "show info", directory=directory)
    wanted = ("CumSslConns", "SslFrontendSessionReuse_pct", "SslFrontendKeyRate")
    return {k: float(v) for k, _, v in (ln.partition(": ") for ln in text.splitlines())
            if k in wanted}


def import_cert(inst, cert_pem, key_pem):
    """`lbaas certificate import` on the instance's database; the reference."""
    paths = []
    for name, data in (("cert.pem", cert_pem), ("key.pem", key_pem)):
        path = os.path.join(inst.dir, name)
        with open(path, "wb") as fh:
            fh.write(data)
        paths.append(path)
    out = subprocess.run([venv_command("lbaas"), "--config-file",
                          os.path.join(inst.dir, "lbaas.conf"), "certificate", "import",
                          "--cert", paths[0], "--key", paths[1]],
                         capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, PYTHONPATH=str(ROOT), LBAAS_CONFIG_FILE=""))
    if out.returncode != 0:
        raise RuntimeError(f"lbaas certificate import failed: {out.stderr[-500:]}")
    return out.stdout.strip()


def graph(inst, ref, member_ip):
    """HTTP :80 and TERMINATED_HTTPS :443, each with a pool of the one static member."""
    def listener(protocol, port, **extra):
        return dict({"name": f"tls-bench-{port}", "protocol": protocol, "protocol_port": port,
                     "default_pool": {"name": f"pool-{port}", "protocol": "HTTP",
                                      "lb_algorithm": "ROUND_ROBIN",
                                      "members": [{"address": member_ip,
                                                   "protocol_port": STATIC_PORT,
                                                   "subnet_id": inst.member_subnet}]}},
                    **extra)
    return {"loadbalancer": {"name": "tls-bench", "vip_subnet_id": inst.vip_subnet,
                             "listeners": [listener("HTTP", HTTP_PORT),
                                           listener("TERMINATED_HTTPS", HTTPS_PORT,
                                                    default_tls_container_ref=ref)]}}


def setup_lb(inst, net):
    """Import the certificate, create the load balancer, wait until both ports answer."""
    kit = tls_certs.kit()
    ref = import_cert(inst, kit.www.cert_pem, kit.www.key_pem)
    body, _ = inst.client.call("POST", LB, graph(inst, ref, net.backend_ips[0]),
                               expect=(201,))
    lb = inst.wait_active(body["loadbalancer"]["id"], 0.05, timeout=120)
    amphora = inst.amphora_of(lb["id"])[0]
    vip, end = lb["vip_address"], time.monotonic() + 20
    while http_status(vip, HTTP_PORT) != 200 or run_probe(vip) is not True:
        if time.monotonic() > end:
            raise TimeoutError("the VIP does not answer on both ports")
        time.sleep(0.05)
    return {"lb": lb, "vip": vip, "amphora": amphora, "ns": amp_ns(amphora), "ref": ref}


def run_probe(vip):
    """Whether one HTTPS request through the VIP answers 200 (no verification: a probe)."""
    import http.client
    import ssl
    ctx = ssl.create_default_context()
    ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
    conn = http.client.HTTPSConnection(vip, HTTPS_PORT, timeout=0.5, context=ctx)
    try:
        conn.request("GET", "/")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def measure(args, inst, lb):
    """--runs rounds of the four modes (order alternating); per mode rps, latency, CPU."""
    proxy = haproxy_pids(lb["ns"])
    urls = {m: (f"{scheme}://{lb['vip']}:{port}/", close)
            for m, (scheme, port, close) in MODES.items()}
    def info():
        return ssl_info(inst, lb["amphora"], lb["lb"]["id"])

    def one(mode, duration=None):
        url, close = urls[mode]
        if MODES[mode][0] == "s_time":
            return run_s_time(lb["vip"], args, duration, info)
        return wrk.run_with(args, url, close, duration, info)
    for mode in MODES:   # warm-up: caches, HAProxy's first connections
        one(mode, duration=1)
    runs = {m: [] for m in MODES}
    for i in range(args.runs):
        order = list(MODES) if i % 2 == 0 else list(MODES)[::-1]
        for mode in order:
            before, t0, busy, wall = info(), proc_ticks(proxy), Busy(), time.monotonic()
            r = one(mode)
            r["wall"], r["machine"] = time.monotonic() - wall, busy.stop()
            n = max(r["requests"], 1)
            r["proxy_cpu_us_per_request"] = (proc_ticks(proxy) - t0) / CLK_TCK * 1e6 / n
            r["ssl_conns"] = info().get("CumSslConns", 0) - before.get("CumSslConns", 0)
            r["session_reuse_pct"] = (r.pop("mid_run") or {}).get("SslFrontendSessionReuse_pct")
            runs[mode].append(r)
    return summarize(runs, args)


def summarize(runs, args):
    """p50s and ratios of the runs of each mode."""
    def p50(mode, key, nd=1):
        return rounded(percentile([r[key] for r in runs[mode]], 50), nd)
    modes = {m: {"rps": stats([r["rps"] for r in rs], 1),
                 "latency_p50_ms": p50(m, "p50_ms", 3) if rs[0]["p50_ms"] is not None else None,
                 "latency_p99_ms": p50(m, "p99_ms", 3) if rs[0]["p99_ms"] is not None else None,
                 "proxy_cpu_us_per_request": p50(m, "proxy_cpu_us_per_request"),
                 "errors": sum(r["errors"] for r in rs),
                 "haproxy_ssl_conns_per_s": rounded(percentile([r["ssl_conns"] / r["wall"]
                                                           for r in rs], 50), 1),
                 "session_reuse_pct_mid_run": [r["session_reuse_pct"] for r in rs],
                 "machine_busy_cores": rounded(percentile(
                     [r["machine"]["machine_busy_cores"] for r in rs], 50), 2)}
             for m, rs in runs.items()}

    def ratio(a, b):
        return rounded(modes[a]["rps"]["p50"] / modes[b]["rps"]["p50"], 3)
    return {"tls_handshakes_per_s": modes["https_full"]["rps"]["p50"],
            "tls_resumptions_per_s": modes["https_resumed"]["rps"]["p50"],
            "https_keepalive_rps": modes["https_keepalive"]["rps"]["p50"],
            "http_keepalive_rps": modes["http_keepalive"]["rps"]["p50"],
            "http_new_connections_per_s": modes["http_close"]["rps"]["p50"],
            "handshake_ratio": ratio("https_full", "http_close"),
            "resumption_ratio": ratio("https_resumed", "http_close"),
            "keepalive_ratio": ratio("https_keepalive", "http_keepalive"),
            "unit": "ratios: HTTPS / plain HTTP through the same load balancer, p50 req/s",
            "modes": modes}


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3, help="rounds of the four modes")
    wrk.add_args(ap)
    ap.add_argument("--stime-procs", type=int, default=8,
                    help="parallel `openssl s_time` clients of the full-handshake mode")
    add_output_args(ap, "tls-latest.json")
    return ap.parse_args(argv)


def run_scenarios(args, tmp, net, instances, found):
    """The network, lbaas serve, the load balancer; the measurement into found["scenario"]."""
    net.start_backends()
    inst = Instance(net, tmp, "tls", 0)
    instances.append(inst)
    inst.start()
    lb = setup_lb(inst, net)
    log(f"load balancer {lb['lb']['id']}: VIP {lb['vip']}, amphora {lb['amphora']}")
    t0 = time.monotonic()
    try:
        scenario = measure(args, inst, lb)
    except Exception as exc:   # fail soft: the JSON says what went wrong
        scenario = {"error": error_text(exc)}
        debug_traceback()
    scenario["seconds"] = rounded(time.monotonic() - t0, 1)
    scenario["amphora_haproxy_cfg"] = inst.haproxy_cfg(lb["amphora"], lb["lb"]["id"])
    found["scenario"] = scenario
    log(json.dumps({k: v for k, v in scenario.items()
                    if k not in ("modes", "amphora_haproxy_cfg")}))


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.time()
    reason = unavailable()
    if reason:
        return cannot_run("bench.tls", reason)
    interrupt_on_signals()
    tmp = tempfile.mkdtemp(prefix="lbaas-tls-bench-")
    load_before = os.getloadavg()
    net = Network(tmp, 1)
    instances, found = [], {"scenario": {}}
    with guarded(lambda: teardown(instances, net)) as outcome:
        run_scenarios(args, tmp, net, instances, found)
    left, leftovers = leftovers_of(instances, net, tmp, args.keep_logs)
    result = {
        "meta": {
            **run_meta(started, load_before),
            "haproxy": version_line([HAPROXY, "-v"]),
            "openssl": subprocess.run(["openssl", "version"], capture_output=True,
                                      text=True).stdout.strip(),
            "runs": args.runs,
            "wrk": f"-t{args.wrk_threads} -c{args.wrk_connections} -d{args.wrk_duration}s",
            "s_time": f"{args.stime_procs} x openssl s_time -new -www / -time "
                      f"{args.wrk_duration}",
            "certificate": "ECDSA P-256 (testbed/tls_certs.py), TLSv1.2+TLSv1.3 (TLS 1.3 "
                           "negotiated), lbaas's default ciphers",
            "member": "HAProxy answering `http-request return` 200 'ok' (bench/world.py's "
                      "static backend), one member behind both listeners",
            "rusage_children_max_rss_kb": resource.getrusage(resource.RUSAGE_CHILDREN)
            .ru_maxrss,
        },
        "leftovers": leftovers,
        "amphora_namespaces_of_ours_left": left,
        "scenarios": {"tls_vs_http": found["scenario"]},
    }
    return finish(result, args.output, outcome, leftovers)


if __name__ == "__main__":
    sys.exit(main())
