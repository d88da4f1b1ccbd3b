#!/usr/bin/env python3
"""Amphora failover under traffic, end to end on this host (see bench/README.md).

Runs as root. Reuses bench/amphora.py's world: bridges `lbb<4 hex>*`, random 10.x.y.0/24
subnets, backends in namespaces, `lbaas serve --config-file` (SQLite, temp state dir, free
port) with the amphora provider. Traffic: from this host to the VIP, one GET every 10 ms on
a new connection, 200 ms timeout; per run the longest interval between two successful
requests (the gap) and the failed requests. One JSON document on stdout and in
bench/results/failover-latest.json; progress on stderr. Everything is removed on every exit
path (errors, Ctrl-C, SIGTERM).

Scenarios (each --runs times on one load balancer per scenario; min/p50/max):
  single_amphora_death      SIGKILL every process in a SINGLE amphora's namespace (agent and
                            HAProxy); spare pool 1. Goal: gap < 5 s. Also detection (kill ->
                            the health manager's "failing it over" log line) and rebuild
                            (that line -> first successful request)
  single_haproxy_death      SIGKILL only HAProxy (master and workers), the agent lives on and
                            starts it again (its supervisor); the amphora is kept
  manual_failover           PUT /v2/lbaas/loadbalancers/{id}/failover, healthy amphora, spare 1
  manual_failover_no_spare  the same on a second lbaas serve with spare_amphora_pool_size 0
"""
import argparse
import datetime
import os
import pathlib
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

BENCH = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
from amphora import (HAPROXY, LB, Busy, Instance, Network, _r, _terminate,  # noqa: E402
                     amp_namespaces, amp_ns, emit, haproxy_pids, http_status, log, stats,
                     teardown)

SCENARIOS = ("single_amphora_death", "single_haproxy_death", "manual_failover",
             "manual_failover_no_spare")
GOAL_GAP_S = 5.0
INTERVAL, TIMEOUT = 0.010, 0.200      # traffic: a request every 10 ms, 200 ms timeout
STEADY = 30                           # consecutive successes = traffic is steady
HEALTH = {"heartbeat_interval_s": 1, "heartbeat_timeout_s": 3, "health_check_interval_s": 1}
UPSTREAM = {
    "source": "Octavia (upstream), amphora VMs, ACTIVE_STANDBY off",
    "detection": "[health_manager] heartbeat_timeout defaults to 60 s: a dead amphora is "
                 "noticed about 60 s after its last heartbeat",
    "rebuild": "the failover flow then boots a new amphora VM (nova), plugs the VIP port "
               "and pushes the configuration",
    "end_to_end_reported_s": [68, 72],
    "end_to_end_note": "operators report 68-72 s of outage end to end for a SINGLE "
                       "amphora (not measured here)",
}
ACTIVE_STANDBY = ("not implemented in lbaas yet (docs/amphora.md, 'Not done yet': "
                  "ACTIVE_STANDBY with VRRP): no figures; every scenario here is a SINGLE "
                  "(STANDALONE) amphora")
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) WARNING \S+: amphora (\S+) of load "
                  r"balancer (\S+) sent no heartbeat since (.+?): failing it over", re.M)


def wait_until(condition, timeout, what, interval=0.02):
    """condition()'s first truthy value, or TimeoutError naming `what`."""
    end = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > end:
            raise TimeoutError(f"{what}: not after {timeout} s")
        time.sleep(interval)


class Traffic(threading.Thread):
    """GET http://VIP/ every 10 ms, new connection each, 200 ms timeout, from this host.

    Keeps (wall, monotonic) of every success and counts failures (no answer or not 200)."""

    def __init__(self, vip):
        super().__init__(daemon=True)
        self.vip, self.stopped = vip, threading.Event()
        self.ok, self.failures, self.streak = [], [], 0

    @property
    def failed(self):
        return len(self.failures)

    def run(self):
        nxt = time.monotonic()
        while not self.stopped.is_set():
            if http_status(self.vip, 80, timeout=TIMEOUT) == 200:
                self.ok.append((time.time(), time.monotonic()))
                self.streak += 1
            else:
                self.failures.append(time.time())
                self.streak = 0
            nxt = max(nxt + INTERVAL, time.monotonic())
            self.stopped.wait(max(0.0, nxt - time.monotonic()))

    def stop(self):
        self.stopped.set()
        self.join(5)

    def steady(self):
        return self.streak >= STEADY

    def first_ok_after(self, wall):
        return next((w for w, _ in self.ok if w > wall), None)

    def oks_after(self, wall):
        return sum(1 for w, _ in self.ok if w > wall)

    def outage(self, wall):
        """(first failure, first success after it) after `wall`; (None, None) if none failed."""
        fail = next((w for w in self.failures if w > wall), None)
        return (fail, self.first_ok_after(fail)) if fail is not None else (None, None)

    def longest_gap(self):
        mono = [m for _, m in self.ok]
        return max((b - a for a, b in zip(mono, mono[1:])), default=0.0)


def detection_line(inst, amphora_id, offset):
    """(wall time, 'since' text) of the scanner's 'failing it over' line for this amphora."""
    try:
        with open(inst.log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
    except OSError:
        return None
    for m in LINE.finditer(text):
        if m.group(2) == amphora_id:
            when = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f")
            return when.timestamp(), m.group(4)   # asctime is local time, ms resolution
    return None


def kill_all(ns):
    """SIGKILL every process in the namespace (agent and HAProxy): the amphora dies."""
    from lbaas.drivers.amphora.compute import processes
    pids = processes.pids_in(ns)
    if not pids:
        raise RuntimeError(f"no process in {ns}")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return sorted(pids)


def kill_haproxy(ns):
    """SIGKILL HAProxy's master and workers only; the agent lives on."""
    pids = haproxy_pids(ns)
    if not pids:
        raise RuntimeError(f"no haproxy in {ns}")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return sorted(pids)


class Failover:
    def __init__(self, args):
        self.args = args
        self.results = {}

    def setup_lb(self, inst, name):
        """A long-lived LB: HTTP :80 -> the two static backends; returns (lb, vip)."""
        if inst.spare:
            inst.wait_spare_ready()
        body, _ = inst.client.call("POST", LB, inst.graph(name), expect=(201,))
        lb = inst.wait_active(body["loadbalancer"]["id"], 0.05, 90)
        vip = lb["vip_address"]
        wait_until(lambda: http_status(vip, 80) == 200, 30, f"VIP {vip} answering")
        return lb, vip

    def one_run(self, inst, lb, vip, kind):
        """Steady traffic, the event, recovery; -> the run's figures."""
        inst.wait_active(lb["id"], 0.05, 60)
        if inst.spare:
            inst.wait_spare_ready(90)
        old = wait_until(lambda: inst.amphora_of(lb["id"]), 30, "the LB's amphora")
        if len(old) != 1:
            raise RuntimeError(f"expected one amphora, got {old}")
        old = old[0]
        ns = amp_ns(old)
        offset = os.path.getsize(inst.log_path)
        traffic = Traffic(vip)
        traffic.start()
        try:
            wait_until(traffic.steady, 15, f"{STEADY} successful requests in a row")
            before = traffic.failed
            wall0 = time.time()
            t0 = time.monotonic()
            if kind == "all":
                killed = kill_all(ns)
            elif kind == "haproxy":
                killed = kill_haproxy(ns)
            else:
                killed = []
                inst.client.call("PUT", f"{LB}/{lb['id']}/failover", expect=(202,))
            put_s = time.monotonic() - t0

            def replaced():
                amps = inst.amphora_of(lb["id"])
                return (amps and amps[0] != old and
                        inst.lb(lb["id"])["provisioning_status"] == "ACTIVE" and amps[0])
            if kind == "haproxy":   # the agent restarts HAProxy: traffic returns, same amphora
                wait_until(lambda: traffic.oks_after(time.time() - 0.5) >= STEADY, 30,
                           "traffic through the restarted HAProxy", 0.05)
                new = inst.amphora_of(lb["id"])[0]
            else:
                new = wait_until(replaced, 60, "a new amphora and the LB ACTIVE", 0.05)
            replaced_s = time.monotonic() - t0
            done = time.time()
            wait_until(lambda: traffic.steady() and traffic.oks_after(done) >= STEADY, 30,
                       f"{STEADY} successful requests in a row after the failover")
        finally:
            traffic.stop()
        fail, back = traffic.outage(wall0)
        run = {"gap_ms": _r(traffic.longest_gap() * 1000, 1),
               "failed_requests": traffic.failed - before,
               "served": len(traffic.ok),
               "event_to_new_amphora_active_s": _r(replaced_s, 3),
               "event_to_first_failure_ms": _r((fail - wall0) * 1000, 1) if fail else None,
               "event_to_recovered_ms": _r((back - wall0) * 1000, 1) if back else None,
               "old_amphora": old, "new_amphora": new,
               "old_namespace_gone": ns not in amp_namespaces(),
               "loadavg_1m": _r(os.getloadavg()[0], 2)}
        if killed:
            run["killed_pids"] = killed
        else:
            run["put_s"] = _r(put_s, 3)
        line = wait_until(lambda: detection_line(inst, old, offset), 5,
                          "the failover log line") if kind == "all" else None
        if line:
            seen, since = line
            run["detection_ms"] = _r((seen - wall0) * 1000, 1)
            first = traffic.first_ok_after(seen)
            run["rebuild_ms"] = _r((first - seen) * 1000, 1) if first else None
            run["last_heartbeat_utc"] = since
        return run

    def scenario(self, inst, name, kind):
        lb, vip = self.setup_lb(inst, f"fo-{name}"[:40])
        runs = []
        for i in range(self.args.runs):
            run = self.one_run(inst, lb, vip, kind)
            log(f"{name} run {i + 1}: gap {run['gap_ms']} ms, {run['failed_requests']} failed"
                + (f", detection {run.get('detection_ms')} ms, rebuild "
                   f"{run.get('rebuild_ms')} ms" if "detection_ms" in run else ""))
            runs.append(run)
        try:
            inst.delete(lb["id"], 0.05)
        except Exception as exc:
            log(f"deleting {lb['id']}: {exc}")
        out = {"gap_ms": stats([r["gap_ms"] for r in runs], 1),
               "failed_requests": stats([r["failed_requests"] for r in runs], 1)}
        if kind == "all":
            out["detection_ms"] = stats([r["detection_ms"] for r in runs if "detection_ms" in r],
                                        1)
            out["rebuild_ms"] = stats([r["rebuild_ms"] for r in runs if r.get("rebuild_ms")], 1)
        if kind == "haproxy":
            out["amphora_kept"] = all(r["old_amphora"] == r["new_amphora"] for r in runs)
        out["event_to_new_amphora_active_s"] = stats(
            [r["event_to_new_amphora_active_s"] for r in runs], 3)
        out["runs"] = runs
        return out

    def run(self, name, fn, *a):
        if self.args.only and name not in self.args.only:
            return
        log(f"{name} ...")
        t0, busy = time.monotonic(), Busy()
        entry = {}
        try:
            entry.update(fn(*a))
        except KeyboardInterrupt:
            raise
        except Exception as exc:   # fail soft
            entry["error"] = f"{type(exc).__name__}: {exc}"
            if os.environ.get("BENCH_DEBUG"):
                traceback.print_exc()
        entry["seconds"] = _r(time.monotonic() - t0, 1)
        entry["machine"] = busy.stop()
        self.results[name] = entry


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="failovers per scenario")
    ap.add_argument("--only", type=lambda s: set(s.split(",")),
                    help=f"comma-separated scenarios ({','.join(SCENARIOS)})")
    ap.add_argument("--output", default=str(BENCH / "results" / "failover-latest.json"))
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir (logs)")
    return ap.parse_args(argv)


def uptime():
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None


def git_state():
    """HEAD and the files changed in the tree measured (others may be editing lbaas/)."""
    def git(*a):
        try:
            return subprocess.run(["git", "-C", str(BENCH.parent), *a], capture_output=True,
                                  text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": git("rev-parse", "--short", "HEAD").strip(),
            "changed": [ln[3:] for ln in git("status", "--short").splitlines()]}


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    started = time.time()
    reason = ("not root (amphorae are network namespaces)" if os.geteuid() != 0 else
              None if os.access(HAPROXY, os.X_OK) else f"{HAPROXY} is missing")
    if reason:
        print(f"bench/failover.py: cannot run: {reason}", file=sys.stderr)
        return 2
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _terminate)
    load_before, uptime_before, tree = os.getloadavg(), uptime(), git_state()
    log(f"load before: {uptime_before}")
    tmp = tempfile.mkdtemp(prefix="lbaas-failover-bench-")
    net = Network(tmp, app_workers=1)
    bench = Failover(args)
    instances, interrupted, fatal = [], None, None
    want = args.only or set(SCENARIOS)
    try:
        net.start_backends()
        log(f"network {net.token}: vip {net.vip_cidr}, member {net.member_cidr}, "
            f"mgmt {net.mgmt_cidr}")
        if want & set(SCENARIOS[:3]):
            spare = Instance(net, tmp, "spare", 1)
            instances.append(spare)
            spare.start()
            bench.run("single_amphora_death", bench.scenario, spare, "single_amphora_death",
                      "all")
            bench.run("single_haproxy_death", bench.scenario, spare, "single_haproxy_death",
                      "haproxy")
            bench.run("manual_failover", bench.scenario, spare, "manual_failover", "api")
            spare.stop()
        if "manual_failover_no_spare" in want:
            cold = Instance(net, tmp, "cold", 0)
            instances.append(cold)
            cold.start()
            bench.run("manual_failover_no_spare", bench.scenario, cold,
                      "manual_failover_no_spare", "api")
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
    for r in bench.results.values():   # amphorae that runs created and replaced
        for run in r.get("runs", []):
            for inst in instances:
                inst.seen_amphorae |= {run["old_amphora"], run["new_amphora"]}
    ours = {amp_ns(a) for inst in instances for a in inst.seen_amphorae}
    left = sorted(ours & amp_namespaces())
    leftovers = [f"namespace {n}" for n in left] + net.leftovers()
    if args.keep_logs:
        log(f"logs kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    scenarios = {k: bench.results[k] for k in SCENARIOS if k in bench.results}
    single = scenarios.get("single_amphora_death", {})
    gap = single.get("gap_ms", {})
    result = {
        "meta": {
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "wall_seconds": _r(time.time() - started, 1),
            "host": platform.node(), "cpus": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(), "tree": tree,
            "uptime_before": uptime_before, "uptime_after": uptime(),
            "loadavg_before": [_r(x, 2) for x in load_before],
            "loadavg_after": [_r(x, 2) for x in os.getloadavg()],
            "haproxy": subprocess.run([HAPROXY, "-v"], capture_output=True,
                                      text=True).stdout.split("\n")[0],
            "runs": args.runs,
            "traffic": {"interval_ms": INTERVAL * 1000, "timeout_ms": TIMEOUT * 1000,
                        "connection": "new per request, GET http://VIP:80/ from this host",
                        "steady_before_event": f"{STEADY} successes in a row",
                        "gap": "longest interval between two successful requests"},
            "health_manager": HEALTH,
            "server": "lbaas serve --config-file (amphora provider, local compute and "
                      "network, SQLite); spare_amphora_pool_size 1, and 0 for "
                      "manual_failover_no_spare",
            "network": {"vip": str(net.vip_cidr), "member": str(net.member_cidr),
                        "mgmt": str(net.mgmt_cidr), "bridges": net.bridges},
        },
        "goals": {"single_amphora_death": {
            "gap_ms_max": gap.get("max"), "goal": f"< {GOAL_GAP_S * 1000:.0f}",
            "met": gap["max"] < GOAL_GAP_S * 1000 if gap.get("max") is not None else None}},
        "upstream": UPSTREAM,
        "active_standby": ACTIVE_STANDBY,
        "leftovers": leftovers,
        "amphora_namespaces_of_ours_left": left,
        "scenarios": scenarios,
    }
    emit(result, args.output, interrupted, fatal, leftovers)
    failed = any("error" in s for s in scenarios.values())
    return 130 if interrupted else (1 if fatal or leftovers or failed else 0)


if __name__ == "__main__":
    sys.exit(main())
