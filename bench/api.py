"""End-to-end API benchmark of lbaas-api on PostgreSQL and MariaDB (see bench/README.md).

Run as `python -m bench.api`. For each database of `--databases` in turn (default
postgresql,mariadb) it starts a throwaway server (testbed/pg.py, testbed/mariadb.py; unix socket
only), migrates a fresh database, starts `lbaas-api` on 127.0.0.1 against it, runs the scenarios
below with the same lbaas and load settings, and tears it all down before the next database.
One JSON document goes to stdout and to bench/results/latest.json; a table of every figure side
by side (a column per database, and mariadb/postgresql when both ran), start-up times included,
goes to stderr at the end. Every scenario fails soft: its error string is recorded and the run
goes on. Servers are torn down on exit, on errors, on Ctrl-C and on SIGTERM.

Scenarios (upstream = Octavia 19 with noop backends, measured on this machine kind):
  baseline          GET / (version document), concurrency 16: req/s, p50, p95
  get_one           GET /v2/lbaas/loadbalancers/{id}, concurrency 16: req/s, p50, p95
  list_1000         GET /v2/lbaas/loadbalancers with 1,000 load balancers: p50
  create_to_active  POST a load balancer, poll it until ACTIVE: p50
  graph_create      POST LB + listener + pool + HM + 10 members, until all ACTIVE: p50
  members_batch_200 PUT /pools/{id}/members with 200 members, until all ACTIVE: p50
  status_tree_200   GET /loadbalancers/{id}/status, default pool with 200 members: p50
"""
import argparse
import concurrent.futures
import configparser
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

from bench import wrk
from bench.client import HOST, LB, Client, HTTPError
from bench.harness import (CLK_TCK, RESULTS, ROOT, debug_traceback, emit, error_text, guarded,
                           interrupt_on_signals, log, machine_busy, percentile, remove_dir,
                           rounded, run_meta, version_line)
from testbed import mariadb, pg
from testbed.service import Service, free_port, venv_command

PROJECT = "bench"
SUBNET = "8a1d4a3e-5c3b-4f61-9d2a-0b8f6f0e7a11"  # any UUID is a subnet for the noop network

# Octavia 19, noop backends, this machine kind. kind: "latency" (lower is better) or
# "throughput" (higher is better). ratio = upstream/ours for latency, ours/upstream for
# throughput, so a ratio above 1 always means "better than upstream".
UPSTREAM = {
    ("get_one", "throughput"): (141.0, "req/s", "throughput"),
    ("get_one", "p50"): (96.0, "ms", "latency"),
    ("list_1000", "p50"): (402.0, "ms", "latency"),
    ("create_to_active", "p50"): (509.0, "ms", "latency"),
    ("graph_create", "p50"): (1400.0, "ms", "latency"),
    ("members_batch_200", "p50"): (6700.0, "ms", "latency"),
    ("members_batch_200_update", "p50"): (6700.0, "ms", "latency"),
    ("status_tree_200", "p50"): (36.0, "ms", "latency"),
}
TARGET_RATIO = 10.0


# --------------------------------------------------------------------------------------------
# Small helpers


class Deadline:
    """The time budget of the whole run."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def check(self, need=0.0, what="scenario"):
        if self.left() < need:
            raise TimeoutError(f"time budget exhausted before {what} "
                               f"({self.left():.1f} s left, {need:.0f} s needed)")


def summary_ms(seconds):
    """Latency summary of a list of durations in seconds, in ms."""
    ms = [x * 1000.0 for x in seconds]
    return {"n": len(ms), "p50": rounded(percentile(ms, 50)),
            "p95": rounded(percentile(ms, 95)),
            "min": rounded(min(ms)) if ms else None, "max": rounded(max(ms)) if ms else None,
            "mean": rounded(sum(ms) / len(ms)) if ms else None}


def proc_table():
    """pid -> (ppid, pgrp, cpu jiffies incl. reaped children) of every process now."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is field 3 (state) of proc(5): ppid pgrp ... utime stime cutime cstime
        table[int(entry)] = (int(fields[1]), int(fields[2]),
                             sum(int(x) for x in fields[11:15]))
    return table


class CpuMeter:
    """CPU used during an interval by this benchmark's stack and by everything else.

    The machine has few cores and other people's jobs may be using them: `foreign_cores`
    (average cores busy outside lbaas-api, its database server, the load generator and this
    script) tells how much a figure may have been disturbed.
    """

    def __init__(self, stack):
        self.stack = stack

    def _ours(self, table):
        me = os.getpid()
        master = self.stack.proc.pid if self.stack.proc else None
        server = self.stack.database.pid()
        return {pid for pid, (ppid, pgrp, _) in table.items()
                if pid == me or ppid == me or pgrp == master or pid == server
                or (server and ppid == server)}

    def start(self):
        self.t0 = time.monotonic()
        self.busy0 = machine_busy()
        self.before = proc_table()

    def stop(self):
        elapsed = max(time.monotonic() - self.t0, 1e-6)
        after = proc_table()
        busy = machine_busy() - self.busy0
        ours = self._ours(after)
        stack = sum(max(after[pid][2] - self.before.get(pid, (0, 0, 0))[2], 0)
                    for pid in ours)
        return {"seconds": rounded(elapsed, 2),
                "stack_cores": rounded(stack / CLK_TCK / elapsed, 2),
                "foreign_cores": rounded(max(busy - stack, 0) / CLK_TCK / elapsed, 2)}


class Poller:
    """Poll a condition every `interval` seconds at most (no sleep when a call took longer)."""

    def __init__(self, client, interval, timeout):
        self.client = client
        self.interval = interval
        self.timeout = timeout
        self.polls = 0

    def until(self, path, done, what):
        """GET path until done(body) is true; returns the body. Raises on ERROR or timeout."""
        deadline = time.perf_counter() + self.timeout
        while True:
            start = time.perf_counter()
            body, _ = self.client.call("GET", path)
            self.polls += 1
            if done(body):
                return body
            if '"provisioning_status": "ERROR"' in json.dumps(body):
                raise RuntimeError(f"{what}: an object went to ERROR: {json.dumps(body)[:300]}")
            if start > deadline:
                raise TimeoutError(f"{what}: not done after {self.timeout} s: "
                                   f"{json.dumps(body)[:300]}")
            pause = self.interval - (time.perf_counter() - start)
            if pause > 0:
                time.sleep(pause)


def lb_body(name, **extra):
    body = {"name": name, "vip_subnet_id": SUBNET, "project_id": PROJECT}
    body.update(extra)
    return {"loadbalancer": body}


def members(n, port=80, weight=1, net=0):
    return [{"address": f"10.{net}.{i // 250}.{i % 250 + 2}", "protocol_port": port,
             "weight": weight} for i in range(n)]


def graph_body(name, n_members, with_hm=True):
    """LB + one HTTP listener whose default pool (inline, per spec §3.4) has an HM and members."""
    pool = {"name": f"{name}-pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "members": members(n_members)}
    if with_hm:
        pool["healthmonitor"] = {"type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}
    return lb_body(name, listeners=[{"name": f"{name}-listener", "protocol": "HTTP",
                                     "protocol_port": 80, "default_pool": pool}])


def tree_statuses(tree):
    """Every provisioning status in a status tree, with counts of each object kind."""
    lb = tree["statuses"]["loadbalancer"]
    statuses = [lb["provisioning_status"]]
    counts = {"listeners": 0, "pools": 0, "healthmonitors": 0, "members": 0}
    for li in lb.get("listeners", []):
        counts["listeners"] += 1
        statuses.append(li["provisioning_status"])
        for p in li.get("pools", []):
            counts["pools"] += 1
            statuses.append(p["provisioning_status"])
            hm = p.get("health_monitor")
            if hm:
                counts["healthmonitors"] += 1
                statuses.append(hm["provisioning_status"])
            for m in p.get("members", []):
                counts["members"] += 1
                statuses.append(m["provisioning_status"])
    return statuses, counts


def all_active(body, key):
    return body[key]["provisioning_status"] == "ACTIVE"


# --------------------------------------------------------------------------------------------
# Load generators for the concurrency-16 scenarios


def have_wrk():
    return shutil.which("wrk") is not None


def run_wrk(port, path, concurrency, duration, threads):
    duration = max(1, int(round(duration)))  # wrk takes whole seconds
    r = wrk.run(f"http://{HOST}:{port}{path}", threads, concurrency, duration, timeout="10s",
                headers=["Accept: application/json"])
    return {"generator": "wrk", "requests": r["requests"], "throughput": r["rps"],
            "p50_ms": r["p50_ms"], "p90_ms": r["p90_ms"], "p95_ms": r["p95_ms"],
            "p99_ms": r["p99_ms"], "mean_ms": r["mean_ms"], "max_ms": r["max_ms"],
            "errors": r["errors"], "error_detail": r["error_detail"]}


def _py_load_proc(args):
    """One load process: `conns` threads, each a keep-alive loop until the shared stop time."""
    port, path, conns, start_at, stop_at, *rest = args
    headers = rest[0] if rest else None
    lat, errs = [], [0]
    lock = threading.Lock()

    def loop():
        c = Client(port, timeout=10)
        mine, bad = [], 0
        while time.time() < start_at:
            time.sleep(0.001)
        while time.time() < stop_at:
            try:
                status, _, el = c.raw("GET", path, extra_headers=headers)
                if 200 <= status < 400:
                    mine.append(el)
                else:
                    bad += 1
            except OSError:
                bad += 1
                c.close()
        with lock:
            lat.extend(mine)
            errs[0] += bad

    threads = [threading.Thread(target=loop) for _ in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return lat, errs[0]


def run_python_load(port, path, concurrency, duration, processes, headers=None):
    processes = max(1, min(processes, concurrency))
    share = [concurrency // processes + (1 if i < concurrency % processes else 0)
             for i in range(processes)]
    start_at = time.time() + 0.5
    stop_at = start_at + duration
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(processes) as pool:
        results = pool.map(_py_load_proc, [(port, path, n, start_at, stop_at, headers)
                                           for n in share])
    lat = [x for r in results for x in r[0]]
    errors = sum(r[1] for r in results)
    ms = [x * 1000 for x in lat]
    return {"generator": "python", "requests": len(lat), "throughput": len(lat) / duration,
            "p50_ms": percentile(ms, 50), "p90_ms": percentile(ms, 90),
            "p95_ms": percentile(ms, 95), "p99_ms": percentile(ms, 99),
            "mean_ms": sum(ms) / len(ms) if ms else None, "max_ms": max(ms) if ms else None,
            "errors": errors}


def load(args, port, path, duration):
    if args.load_generator == "wrk" or (args.load_generator == "auto" and have_wrk()):
        return run_wrk(port, path, args.concurrency, duration, args.wrk_threads)
    return run_python_load(port, path, args.concurrency, duration, args.py_processes)


# --------------------------------------------------------------------------------------------
# The database servers


class PostgreSQL:
    """A throwaway PostgreSQL cluster (testbed/pg.py) on a unix socket."""

    name = "postgresql"
    label = "PostgreSQL (unix socket)"

    def __init__(self, args):
        self.port = args.pg_port or (20000 + os.getpid() % 20000)
        self.server = None

    def start(self):
        """Create and start the cluster."""
        self.server = pg.Cluster(port=self.port).start()

    def create_database(self, name):
        """A new database's SQLAlchemy URL."""
        return self.server.create_database(name)

    def version(self):
        """The server's version line."""
        return version_line([os.path.join(pg.binaries(), "postgres"), "--version"])

    def pid(self):
        """The postmaster's pid (its backends are its children), or None."""
        try:
            with open(os.path.join(self.server.data, "postmaster.pid")) as fh:
                return int(fh.readline())
        except (OSError, ValueError, AttributeError):
            return None

    def stop(self):
        """Stop the cluster and remove its files."""
        if self.server is not None:
            self.server.stop()
            self.server = None


class MariaDB:
    """A throwaway MariaDB server (testbed/mariadb.py) on a unix socket, reached with PyMySQL."""

    name = "mariadb"
    label = "MariaDB (unix socket, PyMySQL)"

    def __init__(self, args):
        self.server = None

    def start(self):
        """Create the data directory and start mariadbd."""
        self.server = mariadb.Server().start()

    def create_database(self, name):
        """A new utf8mb4 database's SQLAlchemy URL."""
        return self.server.create_database(name)

    def version(self):
        """The server's version line."""
        return version_line([mariadb.MARIADBD, "--version"])

    def pid(self):
        """mariadbd's pid (one process, a thread per connection), or None."""
        proc = self.server.process if self.server else None
        return proc.pid if proc is not None else None

    def stop(self):
        """Stop the server and remove its files."""
        if self.server is not None:
            self.server.stop()
            self.server = None


DATABASES = {"postgresql": PostgreSQL, "mariadb": MariaDB}  # the default order of a run
RATIO = ("mariadb", "postgresql")  # the comparison column: RATIO[0] / RATIO[1]


# --------------------------------------------------------------------------------------------
# The stack: a database server + lbaas-api


class Stack:
    """A throwaway database server and lbaas-api (gunicorn) serving the tree this file is in."""

    def __init__(self, args, database):
        self.args = args
        self.database = DATABASES[database](args)
        self.tmp = tempfile.mkdtemp(prefix=f"lbaas-bench-{database}-")
        self.service = None
        self.port = args.port or free_port()
        self.env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep +
                        os.environ.get("PYTHONPATH", ""), PYTHONWARNINGS="ignore")
        self.log_path = os.path.join(self.tmp, "lbaas-api.log")
        self.startup = {}

    @property
    def proc(self):
        """The gunicorn master's Popen, once started."""
        return self.service.proc if self.service else None

    def start(self):
        """Start the database server, migrate a fresh database, start lbaas-api and warm it.

        `startup` gets the seconds of each step: database_server (started, accepting
        connections, the database created), migrations (lbaas-db-manage upgrade head), api
        (until GET / answers), warm (every worker has served), total."""
        t0 = time.monotonic()
        self.database.start()
        url = self.database_url = self.database.create_database("lbaas_bench")
        t1 = time.monotonic()
        conf = configparser.ConfigParser()
        conf["DEFAULT"] = {"state_path": os.path.join(self.tmp, "state")}
        conf["api_settings"] = {"bind_host": HOST, "bind_port": str(self.port),
                                "api_workers": str(self.args.workers)}
        conf["database"] = {"connection": url}
        self.conf_path = os.path.join(self.tmp, "lbaas.conf")
        with open(self.conf_path, "w") as fh:
            conf.write(fh)
        done = subprocess.run([venv_command("lbaas-db-manage"), "--config-file", self.conf_path,
                               "upgrade", "head"], env=self.env, cwd=self.tmp, text=True,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
        if done.returncode:
            raise RuntimeError(f"lbaas-db-manage upgrade head on {self.database.name} failed: "
                               f"{done.stderr.strip()[-600:]}")
        t2 = time.monotonic()
        cmd = [venv_command("lbaas-api"), "--config-file", self.conf_path,
               "--workers", str(self.args.workers)]
        if self.args.threads:
            cmd += ["--threads", str(self.args.threads)]
        self.service = Service("lbaas-api", cmd, self.port, self.log_path, env=self.env,
                               cwd=self.tmp).start(timeout=60)
        t3 = time.monotonic()
        # Every worker imports the app lazily: touch them all before measuring.
        self.warm()
        t4 = time.monotonic()
        self.startup = {"database_server_s": rounded(t1 - t0, 2),
                        "migrations_s": rounded(t2 - t1, 2), "api_s": rounded(t3 - t2, 2),
                        "warm_s": rounded(t4 - t3, 2), "total_s": rounded(t4 - t0, 2)}
        log(f"{self.database.name} stack up in {t4 - t0:.1f} s ({self.startup}): "
            f"lbaas-api on {HOST}:{self.port}, "
            f"{self.args.workers} workers x {self.args.threads or 'api_threads'} threads, "
            f"master pid "
            f"{self.proc.pid}")

    def warm(self):
        def hit(_):
            c = Client(self.port)
            for _ in range(20):
                c.raw("GET", "/")
                c.raw("GET", LB + "?limit=1")
            c.close()
        with concurrent.futures.ThreadPoolExecutor(self.args.workers * 2) as ex:
            list(ex.map(hit, range(self.args.workers * 2)))

    def worker_pids(self):
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.proc.pid)],
                             capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def stop(self):
        if self.service is not None:
            self.service.stop(grace=10)
        try:
            self.database.stop()
        except Exception as exc:  # still remove our own files
            log(f"{self.database.name} stop failed: {exc}")
        remove_dir(self.tmp, self.args.keep_logs)


# --------------------------------------------------------------------------------------------
# Scenarios


class Bench:
    def __init__(self, args, stack, deadline):
        self.args = args
        self.stack = stack
        self.port = stack.port
        self.deadline = deadline
        self.state = {}

    def client(self):
        return Client(self.port)

    def poller(self, client, timeout=30.0):
        return Poller(client, self.args.poll_interval, timeout)

    # -- concurrency 16 --------------------------------------------------------------------
    def concurrent(self, path):
        d = self.args.duration
        self.deadline.check(d + self.args.warmup + 5, path)
        if self.args.warmup:
            load(self.args, self.port, path, self.args.warmup)
        meter = CpuMeter(self.stack)
        meter.start()
        r = load(self.args, self.port, path, d)
        cpu = meter.stop()
        return {"generator": r["generator"], "concurrency": self.args.concurrency,
                "duration_s": d, "requests": r["requests"], "errors": r["errors"],
                "throughput": rounded(r["throughput"], 1), "p50": rounded(r["p50_ms"]),
                "p95": rounded(r["p95_ms"]), "p99": rounded(r["p99_ms"]),
                "max": rounded(r["max_ms"]),
                # CPU of lbaas-api + database + load generator per request: robust to
                # other jobs on the machine, unlike req/s and latency.
                "stack_cpu_ms_per_request": rounded(cpu["stack_cores"] * cpu["seconds"] * 1000.0
                                               / max(r["requests"], 1)),
                "cpu_during_measurement": cpu}

    def wait_quiet(self):
        """Wait (bounded) until other processes leave the machine's CPUs mostly idle."""
        if self.args.quiet_wait <= 0:
            return None
        end = time.monotonic() + min(self.args.quiet_wait, max(self.deadline.left() - 60, 0))
        waited = 0.0
        while True:
            meter = CpuMeter(self.stack)
            meter.start()
            time.sleep(0.5)
            foreign = meter.stop()["foreign_cores"]
            if foreign <= self.args.quiet_threshold or time.monotonic() >= end:
                return {"waited_s": rounded(waited, 1), "foreign_cores_at_start": foreign}
            waited += 0.5

    def baseline(self):
        return self.concurrent("/")

    def populate(self):
        """1,000 load balancers (one is the GET one target); waits until none is pending."""
        n = self.args.list_size
        self.deadline.check(20, "populate")
        t0 = time.perf_counter()

        def make(chunk):
            c = self.client()
            ids = []
            for i in chunk:
                body, _ = c.call("POST", LB, lb_body(f"list-{i:04d}"), expect=(201,))
                ids.append(body["loadbalancer"]["id"])
            c.close()
            return ids

        chunks = [range(i, n, 8) for i in range(8)]
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            ids = [x for part in ex.map(make, chunks) for x in part]
        c = self.client()
        self.poller(c, timeout=60).until(
            LB + "?provisioning_status=PENDING_CREATE&fields=id&limit=1",
            lambda b: not b["loadbalancers"], "populate")
        c.close()
        self.state["lb_ids"] = ids
        return {"created": len(ids), "seconds": rounded(time.perf_counter() - t0, 2)}

    def get_one(self):
        ids = self.state.get("lb_ids")
        if not ids:
            raise RuntimeError("no load balancer to GET (populate failed)")
        c = self.client()
        c.call("GET", f"{LB}/{ids[0]}")
        c.close()
        return self.concurrent(f"{LB}/{ids[0]}")

    # -- sequential latencies -------------------------------------------------------------
    def list_1000(self):
        if len(self.state.get("lb_ids", [])) < self.args.list_size:
            raise RuntimeError("the 1,000 load balancers were not created")
        c = self.client()
        body, _ = c.call("GET", LB)
        got = len(body["loadbalancers"])
        times, sizes = [], []
        for _ in range(3):  # warm-up
            c.call("GET", LB)
        for _ in range(self.args.samples):
            self.deadline.check(5, "list_1000 sample")
            status, payload, el = c.raw("GET", LB)
            if status != 200:
                raise HTTPError("GET", LB, status, payload.decode(errors="replace"))
            times.append(el)
            sizes.append(len(payload))
        c.close()
        return dict(summary_ms(times), items=got, response_bytes=sizes[-1])

    def create_to_active(self):
        c = self.client()
        p = self.poller(c)
        times, posts = [], []
        p.until(LB + "/" + c.call("POST", LB, lb_body("warm"), expect=(201,))[0]
                ["loadbalancer"]["id"], lambda b: all_active(b, "loadbalancer"), "warm-up")
        polls0 = p.polls
        for i in range(self.args.samples):
            self.deadline.check(5, "create_to_active sample")
            t0 = time.perf_counter()
            body, el = c.call("POST", LB, lb_body(f"create-{i}"), expect=(201,))
            posts.append(el)
            p.until(f"{LB}/{body['loadbalancer']['id']}",
                    lambda b: all_active(b, "loadbalancer"), "create_to_active")
            times.append(time.perf_counter() - t0)
        c.close()
        return dict(summary_ms(times), post_p50=rounded(percentile(posts, 50) * 1000),
                    polls_per_sample=rounded((p.polls - polls0) / len(times), 1),
                    poll_interval_ms=self.args.poll_interval * 1000)

    def _wait_graph(self, c, p, lb_id, expect_members, expect_hm=True):
        """Poll the LB (cheap) until ACTIVE, then the status tree until every object is ACTIVE."""
        p.until(f"{LB}/{lb_id}", lambda b: all_active(b, "loadbalancer"), "graph LB")

        def done(tree):
            statuses, counts = tree_statuses(tree)
            return (all(s == "ACTIVE" for s in statuses) and counts["listeners"] == 1
                    and counts["pools"] == 1 and counts["members"] == expect_members
                    and counts["healthmonitors"] == (1 if expect_hm else 0))
        return p.until(f"{LB}/{lb_id}/status", done, "graph tree")

    def graph_create(self):
        c = self.client()
        p = self.poller(c)
        times, posts = [], []
        n = self.args.graph_samples
        for i in range(n + 1):  # the first one is a warm-up
            self.deadline.check(5, "graph_create sample")
            t0 = time.perf_counter()
            body, el = c.call("POST", LB, graph_body(f"graph-{i}", 10), expect=(201,))
            self._wait_graph(c, p, body["loadbalancer"]["id"], 10)
            if i:
                times.append(time.perf_counter() - t0)
                posts.append(el)
        c.close()
        return dict(summary_ms(times), post_p50=rounded(percentile(posts, 50) * 1000))

    def _lb_with_pool(self, c, p, name):
        """An ACTIVE LB whose listener's default pool has an HM and no members: (lb_id, pool_id).

        One graph create if that is available; else LB, listener and pool one by one.
        """
        try:
            body, _ = c.call("POST", LB, graph_body(name, 0), expect=(201,))
            lb = body["loadbalancer"]
            self._wait_graph(c, p, lb["id"], 0)
            return lb["id"], lb["listeners"][0]["default_pool_id"], "graph"
        except Exception as exc:
            graph_error = f"{type(exc).__name__}: {exc}"
        try:
            return self._lb_with_pool_one_by_one(c, p, name) + (
                f"one by one (graph create failed: {graph_error[:200]})",)
        except Exception as exc:
            raise RuntimeError(f"setup failed; graph create: {graph_error}; one by one: "
                               f"{type(exc).__name__}: {exc}") from exc

    def _lb_with_pool_one_by_one(self, c, p, name):
        body, _ = c.call("POST", LB, lb_body(name), expect=(201,))
        lb_id = body["loadbalancer"]["id"]
        p.until(f"{LB}/{lb_id}", lambda b: all_active(b, "loadbalancer"), "setup LB")
        body, _ = c.call("POST", "/v2/lbaas/listeners", {"listener": {
            "loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}}, expect=(201,))
        p.until(f"{LB}/{lb_id}", lambda b: all_active(b, "loadbalancer"), "setup listener")
        body, _ = c.call("POST", "/v2/lbaas/pools", {"pool": {
            "listener_id": body["listener"]["id"], "protocol": "HTTP",
            "lb_algorithm": "ROUND_ROBIN"}}, expect=(201,))
        pool_id = body["pool"]["id"]
        p.until(f"{LB}/{lb_id}", lambda b: all_active(b, "loadbalancer"), "setup pool")
        body, _ = c.call("POST", "/v2/lbaas/healthmonitors", {"healthmonitor": {
            "pool_id": pool_id, "type": "HTTP", "delay": 5, "timeout": 3, "max_retries": 3}},
            expect=(201,))
        p.until(f"{LB}/{lb_id}", lambda b: all_active(b, "loadbalancer"), "setup HM")
        return lb_id, pool_id

    def _batch(self, c, p, pool_id, items):
        """PUT the members, then wait: the pool (cheap) until ACTIVE, then the member list."""
        path = f"/v2/lbaas/pools/{pool_id}/members"
        t0 = time.perf_counter()
        _, el = c.call("PUT", path, {"members": items}, expect=(202,))
        p.until(f"/v2/lbaas/pools/{pool_id}", lambda b: all_active(b, "pool"), "batch pool")
        want = {(m["address"], m["protocol_port"], m["weight"]) for m in items}

        def done(body):
            got = body["members"]
            return (len(got) == len(items) and all(m["provisioning_status"] == "ACTIVE"
                                                   for m in got)
                    and {(m["address"], m["protocol_port"], m["weight"]) for m in got} == want)
        p.until(path, done, "batch members")
        return time.perf_counter() - t0, el

    def members_batch_200(self):
        """Each sample: a fresh pool, PUT 200 members (200 creates), then PUT them again with
        another weight (200 updates); both until every member is ACTIVE."""
        c = self.client()
        p = self.poller(c)
        creates, updates, puts = [], [], []
        setup = None
        for i in range(self.args.batch_samples):
            self.deadline.check(15, "members_batch_200 sample")
            lb_id, pool_id, setup = self._lb_with_pool(c, p, f"batch-{i}")
            t, el = self._batch(c, p, pool_id, members(200, weight=1))
            creates.append(t)
            puts.append(el)
            t, _ = self._batch(c, p, pool_id, members(200, weight=2))
            updates.append(t)
            self.state["tree_lb"] = lb_id
        c.close()
        self.state["batch_update"] = dict(summary_ms(updates))
        return dict(summary_ms(creates), put_p50=rounded(percentile(puts, 50) * 1000),
                    setup=setup, what="200 new members on an empty pool")

    def members_batch_200_update(self):
        if "batch_update" not in self.state:
            raise RuntimeError("members_batch_200 did not run")
        return dict(self.state["batch_update"], what="the same 200 members, new weight")

    def status_tree_200(self):
        c = self.client()
        lb_id = self.state.get("tree_lb")
        how = "the last members_batch_200 load balancer"
        if lb_id is None:
            how = "graph create with 200 members (members_batch_200 failed)"
            p = self.poller(c)
            body, _ = c.call("POST", LB, graph_body("tree", 200), expect=(201,))
            lb_id = body["loadbalancer"]["id"]
            self._wait_graph(c, p, lb_id, 200)
        path = f"{LB}/{lb_id}/status"
        tree, _ = c.call("GET", path)
        _, counts = tree_statuses(tree)
        if counts["members"] != 200:
            raise RuntimeError(f"status tree has {counts} instead of 200 members")
        for _ in range(3):
            c.call("GET", path)
        times = []
        for _ in range(self.args.samples):
            self.deadline.check(2, "status_tree sample")
            times.append(c.call("GET", path)[1])
        c.close()
        return dict(summary_ms(times), setup=how)


# --------------------------------------------------------------------------------------------
# Report


def metric(value, unit, scenario, name, baseline):
    m = {"value": value, "unit": unit}
    up = UPSTREAM.get((scenario, name))
    if up is not None and value:
        uval, uunit, kind = up
        ratio = uval / value if kind == "latency" else value / uval
        m.update(upstream=uval, upstream_unit=uunit,
                 ratio=rounded(ratio, 2),
                 ratio_is="upstream/ours" if kind == "latency" else "ours/upstream",
                 target_ratio=TARGET_RATIO, meets_target=ratio >= TARGET_RATIO)
    if baseline and value:
        if unit == "req/s" and baseline.get("throughput"):
            m["vs_baseline"] = rounded(value / baseline["throughput"], 3)
            m["vs_baseline_is"] = "ours/baseline throughput"
        elif unit == "ms" and baseline.get("p50"):
            m["vs_baseline"] = rounded(value / baseline["p50"], 2)
            m["vs_baseline_is"] = "ours/baseline p50 latency"
    return m


def report_database(stack, raw):
    """One database's part of the result: its server, start-up times and scenarios."""
    base = raw.get("baseline", {}).get("result") or {}
    scenarios = {}
    for name, entry in raw.items():
        res = entry.get("result")
        out = {"seconds": entry["seconds"]}
        if entry.get("cpu"):
            out["cpu"] = entry["cpu"]
        if entry.get("quiet"):
            out["quiet_wait"] = entry["quiet"]
        if entry.get("error"):
            out["error"] = entry["error"]
        if res:
            if name in ("baseline", "get_one"):
                out["throughput"] = metric(res["throughput"], "req/s", name, "throughput",
                                           None if name == "baseline" else base)
                out["p50"] = metric(res["p50"], "ms", name, "p50",
                                    None if name == "baseline" else base)
                out["p95"] = metric(res["p95"], "ms", name, "p95",
                                    None if name == "baseline" else base)
                out["detail"] = {k: v for k, v in res.items()
                                 if k not in ("throughput", "p50", "p95")}
            elif "p50" in res:
                out["p50"] = metric(res["p50"], "ms", name, "p50", base)
                out["detail"] = {k: v for k, v in res.items() if k != "p50"}
            else:
                out["detail"] = res
        scenarios[name] = out
    noisy = sorted(n for n, e in raw.items()
                   if (e.get("cpu") or {}).get("foreign_cores", 0) > 0.2)
    met = {f"{s}.{m}": v["meets_target"] for s, sc in scenarios.items() for m, v in sc.items()
           if isinstance(v, dict) and "meets_target" in v}
    try:
        version = stack.database.version()
    except Exception as exc:  # a report without the version line rather than none
        version = error_text(exc)
    return {
        "server": {"database": stack.database.label, "version": version,
                   "bind": f"{HOST}:{stack.port}"},
        "startup": stack.startup,
        "disturbed_by_other_processes": noisy,
        "targets_met": met,
        "scenarios": scenarios,
    }


def report(args, databases, started):
    """The whole result: the run's settings, each database's part, and the comparison."""
    return {
        "meta": {
            **run_meta(started, kernel=False),
            "databases": list(databases),
            "server": {"command": "lbaas-api (gunicorn)", "workers": args.workers,
                       "threads": args.threads or "[api_settings] api_threads",
                       "worker_class": "lbaas.cmd.gunicorn_worker.Worker (waitress)"},
            "load_generator": ("wrk" if args.load_generator == "wrk" or
                               (args.load_generator == "auto" and have_wrk()) else "python"),
            "concurrency": args.concurrency, "duration_s": args.duration,
            "samples": {"sequential": args.samples, "graph": args.graph_samples,
                        "batch": args.batch_samples},
            "poll_interval_ms": args.poll_interval * 1000,
            "budget_s_per_database": args.budget,
            "upstream": "Octavia 19, noop backends, same machine kind",
            "ratio": "above 1 = better than upstream (upstream/ours for latencies, "
                     "ours/upstream for throughput); target >= 10",
            "cpu": "per scenario, average cores used by the stack (lbaas-api, its database "
                   "server, load generator, this script) and by every other process "
                   "(foreign); foreign_cores > 0.2 marks a scenario as disturbed",
        },
        "databases": databases,
        "comparison": comparison(databases),
    }


# The figures compared across databases: (label, unit, where in a database's part).
FIGURES = (
    ("database server start-up", "s", ("startup", "database_server_s")),
    ("migrations to head", "s", ("startup", "migrations_s")),
    ("lbaas-api start-up", "s", ("startup", "api_s")),
    ("baseline GET /, c=16", "req/s", ("scenarios", "baseline", "throughput", "value")),
    ("baseline GET /, c=16, p50", "ms", ("scenarios", "baseline", "p50", "value")),
    ("populate: 1,000 POSTs until none pending", "s",
     ("scenarios", "populate", "detail", "seconds")),
    ("get_one, c=16", "req/s", ("scenarios", "get_one", "throughput", "value")),
    ("get_one, c=16, p50", "ms", ("scenarios", "get_one", "p50", "value")),
    ("get_one, stack CPU per request", "ms",
     ("scenarios", "get_one", "detail", "stack_cpu_ms_per_request")),
    ("list_1000, p50", "ms", ("scenarios", "list_1000", "p50", "value")),
    ("create_to_active, p50", "ms", ("scenarios", "create_to_active", "p50", "value")),
    ("graph_create, p50", "ms", ("scenarios", "graph_create", "p50", "value")),
    ("members_batch_200 (creates), p50", "ms",
     ("scenarios", "members_batch_200", "p50", "value")),
    ("members_batch_200_update, p50", "ms",
     ("scenarios", "members_batch_200_update", "p50", "value")),
    ("status_tree_200, p50", "ms", ("scenarios", "status_tree_200", "p50", "value")),
)


def _figure(part, path):
    """The figure at path in one database's part: a number, "error" or None (not run)."""
    node = part
    for key in path:
        if not isinstance(node, dict) or key not in node:
            failed = path[0] == "scenarios" and (part.get("scenarios", {}).get(path[1]) or {})
            return "error" if failed and failed.get("error") else None
        node = node[key]
    return node


def comparison(databases):
    """Every figure of FIGURES side by side, a column per database, with mariadb/postgresql
    when both ran; figures no database has are left out."""
    ratio = f"{RATIO[0]}/{RATIO[1]}" if all(d in databases for d in RATIO) else None
    rows = []
    for label, unit, path in FIGURES:
        row = {"figure": label, "unit": unit}
        row.update((name, _figure(part, path)) for name, part in databases.items())
        if all(row[name] is None for name in databases):
            continue
        if ratio:
            top, bottom = row[RATIO[0]], row[RATIO[1]]
            row[ratio] = (rounded(top / bottom, 2) if isinstance(top, (int, float))
                          and isinstance(bottom, (int, float)) and bottom else None)
        rows.append(row)
    return {"columns": list(databases) + ([ratio] if ratio else []), "rows": rows,
            "ratio_is": (f"{ratio}: above 1 = MariaDB's figure is higher (slower for s and ms, "
                         "faster for req/s)") if ratio else None}


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def table(result):
    """The comparison as a Markdown table, with what disturbed the figures under it."""
    comp = result["comparison"]
    lines = ["| figure | unit | " + " | ".join(comp["columns"]) + " |",
             "|---|---|" + "---:|" * len(comp["columns"])]
    for row in comp["rows"]:
        lines.append(f"| {row['figure']} | {row['unit']} | "
                     + " | ".join(_cell(row[c]) for c in comp["columns"]) + " |")
    if comp["ratio_is"]:
        lines.append(comp["ratio_is"])
    for name, part in result["databases"].items():
        noisy = part.get("disturbed_by_other_processes")
        failed = {s: e["error"] for s, e in part.get("scenarios", {}).items() if e.get("error")}
        if noisy:
            lines.append(f"{name}: disturbed by other processes (> 0.2 cores): "
                         f"{', '.join(noisy)}")
        for scenario, error in failed.items():
            lines.append(f"{name}: {scenario} failed: {error}")
    return "\n".join(lines)


ORDER = ("baseline", "populate", "get_one", "list_1000", "create_to_active", "graph_create",
         "members_batch_200", "members_batch_200_update", "status_tree_200")


def database_list(text):
    """--databases: known names, comma-separated, in the order given, each once."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in DATABASES]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown database {', '.join(unknown) or '(none given)'}; "
            f"choose from {', '.join(DATABASES)}")
    return names


def parse_args(argv=None):
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="gunicorn workers (default: one per core; measured best here)")
    ap.add_argument("--threads", type=int,
                    help="request threads per worker (default [api_settings] api_threads)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per c=16 scenario")
    ap.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds before each")
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--samples", type=int, default=30, help="samples of sequential scenarios")
    ap.add_argument("--graph-samples", type=int, default=10)
    ap.add_argument("--batch-samples", type=int, default=5)
    ap.add_argument("--list-size", type=int, default=1000)
    ap.add_argument("--poll-interval", type=float, default=0.002, help="seconds between polls")
    ap.add_argument("--load-generator", choices=("auto", "wrk", "python"), default="auto")
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--py-processes", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--databases", type=database_list, default=list(DATABASES),
                    help="comma-separated, measured in this order, each on a fresh server "
                         f"(default: {','.join(DATABASES)})")
    ap.add_argument("--budget", type=float, default=280.0,
                    help="seconds for the scenarios on each database")
    ap.add_argument("--quiet-wait", type=float, default=10.0,
                    help="before each scenario, wait up to this many seconds for other "
                         "processes to use under --quiet-threshold cores (0: never wait)")
    ap.add_argument("--quiet-threshold", type=float, default=0.3)
    ap.add_argument("--only", help="comma-separated scenarios (prerequisites are added)")
    ap.add_argument("--port", type=int, help="API port (default: a free one)")
    ap.add_argument("--pg-port", type=int, help="PostgreSQL port number (unix socket only)")
    ap.add_argument("--output", default=str(RESULTS / "latest.json"))
    ap.add_argument("--keep-logs", action="store_true", help="keep the temp dir with the logs")
    ap.add_argument("--hold", type=float, default=0.0,
                    help="after the run, keep the stack up this many seconds (for profiling)")
    return ap.parse_args(argv)


def selected(args):
    if not args.only:
        return ORDER
    want = set(args.only.split(","))
    unknown = want - set(ORDER)
    if unknown:
        raise SystemExit(f"unknown scenarios: {', '.join(sorted(unknown))}")
    if want & {"get_one", "list_1000"}:
        want.add("populate")
    if "members_batch_200_update" in want:
        want.add("members_batch_200")
    return tuple(s for s in ORDER if s in want)


def run_scenarios(args, stack, deadline, raw):
    """Every selected scenario, fail soft, each entry into raw[name] as soon as it ends."""
    bench = Bench(args, stack, deadline)
    for name in selected(args):
        t0 = time.monotonic()
        entry = {}
        log(f"{name} ...")
        if name != "members_batch_200_update":
            entry["quiet"] = bench.wait_quiet()
        meter = CpuMeter(stack)
        meter.start()
        try:
            entry["result"] = getattr(bench, name)()
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # fail soft: record and go on
            entry["error"] = error_text(exc)
            debug_traceback()
        entry["seconds"] = rounded(time.monotonic() - t0, 2)
        if name != "members_batch_200_update":  # that one only reports a stored result
            entry["cpu"] = meter.stop()
        raw[name] = entry
        log(f"{name}: {entry.get('error') or entry.get('result')}")


def run_database(args, name):
    """Every selected scenario on one database's stack; -> (its part of the result, outcome)."""
    deadline = Deadline(args.budget)
    stack = Stack(args, name)
    raw = {}
    log(f"--- {name}")
    with guarded(stack.stop, what=f"{name} stack") as outcome:
        stack.start()
        run_scenarios(args, stack, deadline, raw)
        if args.hold:
            log(f"holding the stack for {args.hold} s on port {stack.port}, master pid "
                f"{stack.proc.pid}, workers {stack.worker_pids()}")
            time.sleep(args.hold)
    if outcome.fatal:
        raw["stack"] = {"error": outcome.fatal, "seconds": 0}
    return report_database(stack, raw), outcome


def main(argv=None):
    args = parse_args(argv)
    started = time.time()
    interrupt_on_signals()
    databases, interrupted = {}, None
    for name in args.databases:
        databases[name], outcome = run_database(args, name)
        if outcome.interrupted:
            interrupted = outcome.interrupted
            break
    result = report(args, databases, started)
    emit(result, args.output, interrupted)
    print(table(result), file=sys.stderr, flush=True)
    return 130 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
