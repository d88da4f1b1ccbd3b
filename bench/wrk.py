"""The wrk load generator with bench/wrk_report.lua: one run, read back as numbers."""
import json
import resource
import subprocess

from bench.harness import BENCH, sample_midway

REPORT = BENCH / "wrk_report.lua"


def run(url, threads, connections, duration, timeout="5s", headers=(), sample=None):
    """One wrk run of `duration` whole seconds: req/s, latencies (ms), errors, wrk's own CPU
    seconds, and what sample() returned half-way through ("mid_run")."""
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", timeout]
    for header in headers:
        cmd += ["-H", header]
    cmd += ["-s", str(REPORT), url]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        seen = sample_midway([proc], duration, sample)
        stdout, stderr = proc.communicate(timeout=duration + 30)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRK_JSON ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed (rc {proc.returncode}): {stderr[-500:]} "
                           f"{stdout[-500:]}")
    data = json.loads(line[len("WRK_JSON "):])
    lat = data["latency_us"]
    return {"rps": data["requests"] / (data["duration_us"] / 1e6),
            "requests": data["requests"],
            "p50_ms": lat["p50"] / 1000.0, "p90_ms": lat["p90"] / 1000.0,
            "p95_ms": lat["p95"] / 1000.0, "p99_ms": lat["p99"] / 1000.0,
            "mean_ms": lat["mean"] / 1000.0, "max_ms": lat["max"] / 1000.0,
            "errors": sum(data["errors"].values()), "error_detail": data["errors"],
            "wrk_cpu_s": (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime),
            "mid_run": seen}


def add_args(parser):
    """--wrk-threads, --wrk-connections and --wrk-duration (the amphora benchmarks')."""
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=32)
    parser.add_argument("--wrk-duration", type=int, default=5, help="seconds per wrk run")


def run_with(args, url, close=False, duration=None, sample=None):
    """One run with the --wrk-* options (duration: instead of --wrk-duration); close: send
    `Connection: close`, so every request is a new connection."""
    return run(url, args.wrk_threads, args.wrk_connections, duration or args.wrk_duration,
               headers=["Connection: close"] if close else (), sample=sample)
