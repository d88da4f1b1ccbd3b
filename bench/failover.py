"""Amphora failover under traffic, end to end on this host (see bench/README.md).

Run as root: `python -m bench.failover`. Builds the amphora benchmarks' world
(bench/world.py): bridges `lbb<4 hex>*`, random 10.x.y.0/24 subnets, backends in
namespaces, `lbaas serve --config-file` (SQLite, temp state dir, free port) with the
amphora provider. Traffic: from this host to the VIP, one GET every 10 ms on
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

ACTIVE_STANDBY (a third lbaas serve: [controller_worker] loadbalancer_topology =
ACTIVE_STANDBY, spare pool 1; two amphorae, keepalived VRRP, the VIP on the MASTER):
  as_master_death           SIGKILL every process (agent, HAProxy, keepalived) of the amphora
                            that holds the VIP. Goal: gap < 2 s. Also takeover (kill -> the
                            peer's namespace carries the VIP), detection, and kill -> a new
                            pair with the LB ACTIVE
  as_haproxy_death          SIGKILL HAProxy (master and workers) in the VIP's holder; the agent
                            starts it again (no failover: the same two amphorae)
  as_keepalived_death       SIGKILL keepalived (parent and children) in the VIP's holder: the
                            peer takes the VIP, the agent removes the stale copy and starts
                            keepalived again
  as_manual_failover        PUT .../loadbalancers/{id}/failover on a healthy pair: both
                            amphorae replaced, one at a time
"""
import argparse
import datetime
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

from bench.client import LB, http_status
from bench.harness import (ROOT, add_output_args, cannot_run, finish, guarded,
                           interrupt_on_signals, log, measured, rounded, run_meta, stats,
                           version_line)
from bench.world import (HAPROXY, Instance, Network, amp_namespaces, amp_ns, haproxy_pids,
                         leftovers_of, program_pids, teardown, unavailable)

SCENARIOS = ("single_amphora_death", "single_haproxy_death", "manual_failover",
             "manual_failover_no_spare")
AS_SCENARIOS = ("as_master_death", "as_haproxy_death", "as_keepalived_death",
                "as_manual_failover")
GOAL_GAP_S = 5.0
AS_GOAL_GAP_S = 2.0
AS_CONFIG = {"controller_worker": {"loadbalancer_topology": "ACTIVE_STANDBY"}}
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


def first_times(conditions, t0, timeout, interval=0.02):
    """{name: seconds from t0 (monotonic) until conditions[name]() first held}; polls them
    together until all held, or TimeoutError naming those that did not."""
    pending, found = dict(conditions), {}
    end = time.monotonic() + timeout
    while pending:
        for name, condition in list(pending.items()):
            if condition():
                found[name] = time.monotonic() - t0
                del pending[name]
        if pending and time.monotonic() > end:
            raise TimeoutError(f"{', '.join(pending)}: not after {timeout} s")
        if pending:
            time.sleep(interval)
    return found


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


def kill_keepalived(ns):
    """SIGKILL keepalived's parent and its children (VRRP, checker); the agent lives on."""
    pids = program_pids(ns, "keepalived")
    if not pids:
        raise RuntimeError(f"no keepalived in {ns}")
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return sorted(pids)


def ns_holds(ns, address):
    """Whether the namespace carries `address` on an interface (False when it is gone)."""
    from pyroute2 import NetNS
    try:
        with NetNS(ns) as h:
            return any(a.get_attr("IFA_ADDRESS") == address for a in h.get_addr())
    except Exception:
        return False


class VipWatch(threading.Thread):
    """Polls (every 10 ms) which of some amphora namespaces carry the VIP; handles are
    opened before the event, so no fork is on the clock. Keeps every change:
    changes[amphora id] = [(wall, holds), ...]."""

    def __init__(self, vip, amphora_ids):
        from pyroute2 import NetNS
        super().__init__(daemon=True)
        self.vip, self.stopped = vip, threading.Event()
        self.handles = {a: NetNS(amp_ns(a)) for a in amphora_ids}
        self.changes = {a: [] for a in amphora_ids}

    def _holds(self, amphora_id):
        h = self.handles.get(amphora_id)
        if h is None:
            return False
        try:
            return any(a.get_attr("IFA_ADDRESS") == self.vip for a in h.get_addr())
        except Exception:
            return False

    def run(self):
        while not self.stopped.is_set():
            for a, seen in self.changes.items():
                now = self._holds(a)
                if not seen or seen[-1][1] != now:
                    seen.append((time.time(), now))
            self.stopped.wait(0.01)

    def holds(self, amphora_id):
        seen = self.changes[amphora_id]
        return bool(seen) and seen[-1][1]

    def first(self, amphora_id, holds, after):
        """Wall time of the first change of amphora_id to `holds` after `after`."""
        return next((w for w, h in self.changes[amphora_id] if w > after and h == holds), None)

    def stop(self):
        self.stopped.set()
        self.join(5)
        for h in self.handles.values():
            try:
                h.close()
            except Exception:
                pass


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
        run = {"gap_ms": rounded(traffic.longest_gap() * 1000, 1),
               "failed_requests": traffic.failed - before,
               "served": len(traffic.ok),
               "event_to_new_amphora_active_s": rounded(replaced_s, 3),
               "event_to_first_failure_ms": rounded((fail - wall0) * 1000, 1) if fail else None,
               "event_to_recovered_ms": rounded((back - wall0) * 1000, 1) if back else None,
               "old_amphora": old, "new_amphora": new,
               "old_namespace_gone": ns not in amp_namespaces(),
               "loadavg_1m": rounded(os.getloadavg()[0], 2)}
        if killed:
            run["killed_pids"] = killed
        else:
            run["put_s"] = rounded(put_s, 3)
        line = wait_until(lambda: detection_line(inst, old, offset), 5,
                          "the failover log line") if kind == "all" else None
        if line:
            seen, since = line
            run["detection_ms"] = rounded((seen - wall0) * 1000, 1)
            first = traffic.first_ok_after(seen)
            run["rebuild_ms"] = rounded((first - seen) * 1000, 1) if first else None
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

    # -- ACTIVE_STANDBY -------------------------------------------------------------------
    def pair(self, inst, lb_id):
        """{amphora id: amphora} of the LB's two amphorae (None unless exactly two)."""
        amps = [a for a in inst.amphorae(loadbalancer_id=lb_id)]
        return {a["id"]: a for a in amps} if len(amps) == 2 else None

    @staticmethod
    def vrrp_state(inst, amphora_id):
        """keepalived's last reported state of an amphora (its notify script's file)."""
        from lbaas.drivers.amphora.compute.local import short_id
        try:
            with open(os.path.join(inst.amphora_dir, short_id(amphora_id), "lb", "vrrp",
                                   "state")) as fh:
                return fh.read().strip()
        except OSError:
            return None

    def healthy_pair(self, inst, lb_id, vip):
        """(holder id, peer id) once the LB is ACTIVE with a MASTER/BACKUP pair, exactly one
        namespace carries the VIP, keepalived says MASTER there and BACKUP on the peer."""
        def check():
            lb = inst.lb(lb_id)
            pair = self.pair(inst, lb_id)
            if not lb or lb["provisioning_status"] != "ACTIVE" or not pair or \
                    sorted(a["role"] for a in pair.values()) != ["BACKUP", "MASTER"] or \
                    not all(a["status"] == "ALLOCATED" for a in pair.values()):
                return None
            holders = [a for a in pair if ns_holds(amp_ns(a), vip)]
            if len(holders) != 1:
                return None
            holder = holders[0]
            peer = next(a for a in pair if a != holder)
            if self.vrrp_state(inst, holder) != "MASTER" or \
                    self.vrrp_state(inst, peer) != "BACKUP":
                return None
            return holder, peer, pair
        return wait_until(check, 60, "a healthy pair (MASTER with the VIP, BACKUP)", 0.1)

    def as_run(self, inst, lb, vip, kind):
        """Steady traffic on a healthy pair, the event in the VIP's holder, recovery."""
        if inst.spare:
            inst.wait_spare_ready(90)
        holder, peer, pair = self.healthy_pair(inst, lb["id"], vip)
        roles = {a: pair[a]["role"] for a in pair}
        ns = amp_ns(holder)
        offset = os.path.getsize(inst.log_path)
        watch = VipWatch(vip, [holder, peer])
        watch.start()
        traffic = Traffic(vip)
        traffic.start()
        marks = {}
        try:
            wait_until(traffic.steady, 15, f"{STEADY} successful requests in a row")
            wait_until(lambda: watch.holds(holder) and not watch.holds(peer), 5,
                       "the watcher seeing the VIP on the holder only")
            before = traffic.failed
            wall0 = time.time()
            t0 = time.monotonic()
            killed = []
            if kind == "all":
                killed = kill_all(ns)
            elif kind == "haproxy":
                killed = kill_haproxy(ns)
            elif kind == "keepalived":
                killed = kill_keepalived(ns)
            else:
                inst.client.call("PUT", f"{LB}/{lb['id']}/failover", expect=(202,))
            put_s = time.monotonic() - t0
            gone = {holder} if kind == "all" else set(pair) if kind == "api" else set()

            def new_pair():
                now = self.pair(inst, lb["id"])
                return (now and not set(now) & gone and
                        all(a["status"] == "ALLOCATED" and a.get("vrrp_ip")
                            for a in now.values()) and
                        inst.lb(lb["id"])["provisioning_status"] == "ACTIVE" and now)
            dead = set(killed)   # SIGKILLed pids linger as zombies until the agent reaps them
            if kind == "haproxy":   # the agent restarts HAProxy; the pair stays
                marks.update(first_times(
                    {"haproxy_back": lambda: haproxy_pids(ns) - dead}, t0, 30))
                wait_until(lambda: traffic.oks_after(time.time() - 0.5) >= STEADY, 30,
                           "traffic through the restarted HAProxy", 0.05)
                after = self.pair(inst, lb["id"])
            elif kind == "keepalived":   # the peer takes the VIP, the holder drops its copy
                marks.update(first_times(
                    {"vip_on_peer_only": lambda: watch.holds(peer) and not watch.holds(holder),
                     "keepalived_back": lambda: program_pids(ns, "keepalived") - dead}, t0, 30))
                wait_until(lambda: traffic.oks_after(time.time() - 0.5) >= STEADY, 30,
                           "traffic through the peer", 0.05)
                after = self.pair(inst, lb["id"])
            else:
                after = wait_until(new_pair, 90, "a new pair and the LB ACTIVE", 0.05)
            replaced_s = time.monotonic() - t0
            done = time.time()
            wait_until(lambda: traffic.steady() and traffic.oks_after(done) >= STEADY, 30,
                       f"{STEADY} successful requests in a row after the event")
        finally:
            traffic.stop()
            watch.stop()
        fail, back = traffic.outage(wall0)
        takeover = watch.first(peer, True, wall0)
        dropped = watch.first(holder, False, wall0)
        run = {"gap_ms": rounded(traffic.longest_gap() * 1000, 1),
               "failed_requests": traffic.failed - before,
               "served": len(traffic.ok),
               "event_to_first_failure_ms": rounded((fail - wall0) * 1000, 1) if fail else None,
               "event_to_recovered_ms": rounded((back - wall0) * 1000, 1) if back else None,
               "takeover_ms": rounded((takeover - wall0) * 1000, 1) if takeover else None,
               "holder_lost_vip_ms": rounded((dropped - wall0) * 1000, 1) if dropped else None,
               "vip_holder_before": {"id": holder, "role": roles[holder]},
               "peer_before": {"id": peer, "role": roles[peer]},
               "old_amphorae": sorted(pair), "new_amphorae": sorted(after or {}),
               "roles_after": {a: v["role"] for a, v in (after or {}).items()},
               "pair_kept": set(after or {}) == set(pair),
               "loadavg_1m": rounded(os.getloadavg()[0], 2)}
        if kind in ("all", "api"):
            run["event_to_new_pair_active_s"] = rounded(replaced_s, 3)
            run["old_namespaces_gone"] = not ({amp_ns(a) for a in gone} & amp_namespaces())
        if kind == "all":
            run["survivor_is_master"] = (after or {}).get(peer, {}).get("role") == "MASTER"
        if takeover and dropped and dropped < takeover:
            run["vip_on_no_amphora_ms"] = rounded((takeover - dropped) * 1000, 1)
        if "haproxy_back" in marks:
            run["event_to_haproxy_running_ms"] = rounded(marks["haproxy_back"] * 1000, 1)
        if "keepalived_back" in marks:
            run["event_to_keepalived_running_ms"] = rounded(marks["keepalived_back"] * 1000, 1)
        if killed:
            run["killed_pids"] = killed
        else:
            run["put_s"] = rounded(put_s, 3)
            if kind == "api":   # who carries the VIP now (of the new pair)
                run["vip_holder_after"] = next(
                    (a for a in (after or {}) if ns_holds(amp_ns(a), vip)), None)
        line = wait_until(lambda: detection_line(inst, holder, offset), 5,
                          "the failover log line") if kind == "all" else None
        if line:
            seen, since = line
            run["detection_ms"] = rounded((seen - wall0) * 1000, 1)
            run["last_heartbeat_utc"] = since
        return run

    def as_scenario(self, inst, name, kind):
        lb, vip = self.setup_lb(inst, f"fo-{name}"[:40])
        runs = []
        for i in range(self.args.runs):
            run = self.as_run(inst, lb, vip, kind)
            log(f"{name} run {i + 1}: gap {run['gap_ms']} ms, {run['failed_requests']} failed, "
                f"takeover {run['takeover_ms']} ms"
                + (f", new pair ACTIVE {run['event_to_new_pair_active_s']} s"
                   if "event_to_new_pair_active_s" in run else ""))
            runs.append(run)
        try:
            inst.delete(lb["id"], 0.05)
        except Exception as exc:
            log(f"deleting {lb['id']}: {exc}")

        def st(key, nd=1):
            return stats([r[key] for r in runs if r.get(key) is not None], nd)
        out = {"gap_ms": st("gap_ms"), "failed_requests": st("failed_requests"),
               "takeover_ms": st("takeover_ms"), "holder_lost_vip_ms": st("holder_lost_vip_ms")}
        if kind == "all":
            out["detection_ms"] = st("detection_ms")
            out["survivor_is_master"] = all(r.get("survivor_is_master") for r in runs)
        if kind in ("all", "api"):
            out["event_to_new_pair_active_s"] = st("event_to_new_pair_active_s", 3)
        if kind == "haproxy":
            out["event_to_haproxy_running_ms"] = st("event_to_haproxy_running_ms")
        if kind == "keepalived":
            out["event_to_keepalived_running_ms"] = st("event_to_keepalived_running_ms")
            out["vip_on_no_amphora_ms"] = st("vip_on_no_amphora_ms")
        if kind in ("haproxy", "keepalived"):
            out["pair_kept"] = all(r["pair_kept"] for r in runs)
        out["vip_moved_runs"] = sum(1 for r in runs if r["takeover_ms"] is not None)
        out["runs"] = runs
        return out

    def run(self, name, fn, *a):
        if self.args.only and name not in self.args.only:
            return
        log(f"{name} ...")
        self.results[name] = measured(fn, *a)


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="failovers per scenario")
    ap.add_argument("--only", type=lambda s: set(s.split(",")),
                    help=f"comma-separated scenarios ({','.join(SCENARIOS + AS_SCENARIOS)})")
    add_output_args(ap, "failover-latest.json")
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
            return subprocess.run(["git", "-C", str(ROOT), *a], capture_output=True,
                                  text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""
    return {"head": git("rev-parse", "--short", "HEAD").strip(),
            "changed": [ln[3:] for ln in git("status", "--short").splitlines()]}


def keepalived_version():
    try:
        out = subprocess.run(["keepalived", "--version"], capture_output=True, text=True,
                             timeout=5)
        return (out.stdout + out.stderr).split("\n")[0].strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def active_standby_summary(scenarios):
    """AS vs SINGLE, p50 gaps measured in the same run (None where either is missing)."""
    def p50(name):
        return scenarios.get(name, {}).get("gap_ms", {}).get("p50")

    def ratio(a, b):
        return rounded(p50(a) / p50(b), 3) if p50(a) and p50(b) else None
    return {"topology": "ACTIVE_STANDBY: two amphorae, keepalived VRRP (unicast, nopreempt, "
                        "[keepalived_vrrp] vrrp_advert_int default 0.2 s), VIP on the MASTER",
            "gap_p50_ratio_as_over_single": {
                "amphora_death": ratio("as_master_death", "single_amphora_death"),
                "haproxy_death": ratio("as_haproxy_death", "single_haproxy_death"),
                "manual_failover": ratio("as_manual_failover", "manual_failover")},
            "gap_p50_ms": {k: p50(k) for k in SCENARIOS + AS_SCENARIOS if p50(k) is not None}}


def run_scenarios(args, tmp, net, bench, instances):
    """The network, then each instance that the wanted scenarios need, and their runs."""
    want = args.only or set(SCENARIOS + AS_SCENARIOS)
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
        cold.stop()
    if want & set(AS_SCENARIOS):
        pair = Instance(net, tmp, "active-standby", 1, extra=AS_CONFIG)
        instances.append(pair)
        pair.start()
        for name, kind in zip(AS_SCENARIOS, ("all", "haproxy", "keepalived", "api")):
            bench.run(name, bench.as_scenario, pair, name, kind)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    unknown = (args.only or set()) - set(SCENARIOS + AS_SCENARIOS)
    if unknown:
        print(f"bench.failover: unknown scenario(s) {','.join(sorted(unknown))}; known: "
              f"{','.join(SCENARIOS + AS_SCENARIOS)}", file=sys.stderr)
        return 2
    started = time.time()
    reason = unavailable(wrk=False)
    if reason:
        return cannot_run("bench.failover", reason)
    interrupt_on_signals()
    load_before, uptime_before, tree = os.getloadavg(), uptime(), git_state()
    log(f"load before: {uptime_before}")
    tmp = tempfile.mkdtemp(prefix="lbaas-failover-bench-")
    net = Network(tmp, app_workers=1)
    bench = Failover(args)
    instances = []
    with guarded(lambda: teardown(instances, net)) as outcome:
        run_scenarios(args, tmp, net, bench, instances)
    for r in bench.results.values():   # amphorae that runs created and replaced
        for run in r.get("runs", []):
            ids = {run.get("old_amphora"), run.get("new_amphora"),
                   *run.get("old_amphorae", ()), *run.get("new_amphorae", ())} - {None}
            for inst in instances:
                inst.seen_amphorae |= ids
    left, leftovers = leftovers_of(instances, net, tmp, args.keep_logs)
    scenarios = {k: bench.results[k] for k in SCENARIOS + AS_SCENARIOS if k in bench.results}
    single = scenarios.get("single_amphora_death", {})
    gap = single.get("gap_ms", {})
    as_gap = scenarios.get("as_master_death", {}).get("gap_ms", {})
    goals = {}
    if gap.get("max") is not None:
        goals["single_amphora_death"] = {"gap_ms_max": gap["max"],
                                         "goal": f"< {GOAL_GAP_S * 1000:.0f}",
                                         "met": gap["max"] < GOAL_GAP_S * 1000}
    if as_gap.get("max") is not None:
        goals["as_master_death"] = {"gap_ms_max": as_gap["max"],
                                    "goal": f"< {AS_GOAL_GAP_S * 1000:.0f}",
                                    "met": as_gap["max"] < AS_GOAL_GAP_S * 1000}
    result = {
        "meta": {
            **run_meta(started, load_before),
            "tree": tree, "uptime_before": uptime_before, "uptime_after": uptime(),
            "haproxy": version_line([HAPROXY, "-v"]),
            "runs": args.runs,
            "traffic": {"interval_ms": INTERVAL * 1000, "timeout_ms": TIMEOUT * 1000,
                        "connection": "new per request, GET http://VIP:80/ from this host",
                        "steady_before_event": f"{STEADY} successes in a row",
                        "gap": "longest interval between two successful requests"},
            "health_manager": HEALTH,
            "server": "lbaas serve --config-file (amphora provider, local compute and "
                      "network, SQLite); spare_amphora_pool_size 1, and 0 for "
                      "manual_failover_no_spare; as_*: a third one with [controller_worker] "
                      "loadbalancer_topology = ACTIVE_STANDBY, spare pool 1, "
                      "[keepalived_vrrp] defaults",
            "keepalived": keepalived_version(),
            "network": {"vip": str(net.vip_cidr), "member": str(net.member_cidr),
                        "mgmt": str(net.mgmt_cidr), "bridges": net.bridges},
        },
        "goals": goals,
        "upstream": UPSTREAM,
        "active_standby": active_standby_summary(scenarios),
        "leftovers": leftovers,
        "amphora_namespaces_of_ours_left": left,
        "scenarios": scenarios,
    }
    failed = any("error" in s for s in scenarios.values())
    return finish(result, args.output, outcome, leftovers, failed)


if __name__ == "__main__":
    sys.exit(main())
