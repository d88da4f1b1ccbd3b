"""The read paths polling clients hammer, in the production shape (see bench/README.md).

Run as `python -m bench.reads`. It starts a throwaway PostgreSQL and `lbaas-api` under
gunicorn (bench.api's Stack), creates one load balancer with an HTTP listener whose pool has
200 members (the status-tree target), and measures, with the standard-library load generator
(keep-alive http.client threads in `--processes` processes, the same for every server, so
no figure depends on wrk) at `--concurrency`:

  floor         GET /                                the cheapest answer of the same stack
  get_one       GET /v2/lbaas/loadbalancers/{id}     a full answer
  get_one_304   the same with If-None-Match: <its ETag>
  status_tree   GET .../loadbalancers/{id}/status    200 members
  status_304    the same with If-None-Match
  list_page     GET /v2/lbaas/loadbalancers?limit=10   (the same page size at every count)

for every count of load balancers in `--sizes` (default 10 and 10,000; the extra ones are
inserted as ACTIVE rows straight into the database, which takes seconds, not the minutes
10,000 POSTs would). Each figure: req/s, p50/p95 latency, and the server's CPU per request
(the gunicorn workers' and PostgreSQL's CPU time over the run, divided by the requests),
the figure a busy machine inflates least. With `--upstream-url` (an Octavia endpoint, e.g.
one started by ../shared/reference/upstream-octavia/start.sh) the same load balancer is
created there and get_one, status_tree and floor are measured against it in the same run,
and the report gives ours/upstream.

One JSON document goes to stdout and bench/results/reads.json; a table goes to stderr.
"""
import argparse
import datetime
import json
import os
import sys
import time
import types
import uuid

from bench.api import PROJECT, SUBNET, Stack, graph_body, proc_table, run_python_load
from bench.client import LB, Client
from bench.harness import (CLK_TCK, RESULTS, interrupt_on_signals, log, rounded, run_meta)

SCENARIOS = ("floor", "get_one", "get_one_304", "status_tree", "status_304", "list_page")
UPSTREAM_SCENARIOS = ("floor", "get_one", "status_tree")
MEMBERS = 200


def cpu_ticks(pids):
    """CPU these processes have used, reaped children included, in clock ticks."""
    table = proc_table()
    return sum(table[pid][2] for pid in pids if pid in table)


def server_pids(stack):
    """The gunicorn workers and the PostgreSQL processes serving this stack."""
    postmaster = stack.database.pid()
    return stack.worker_pids() + [pid for pid, (ppid, _, _) in proc_table().items()
                                  if postmaster and postmaster in (pid, ppid)]


def wait_active(client, path, timeout=120.0):
    """Poll a load balancer until it is ACTIVE (anything under it too)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body, _ = client.call("GET", path)
        if body["loadbalancer"]["provisioning_status"] == "ACTIVE":
            return body["loadbalancer"]
        time.sleep(0.05)
    raise RuntimeError(f"{path} did not become ACTIVE in {timeout} s")


def create_target(port, headers=None, provider=None):
    """One load balancer with a listener and a 200-member pool; -> its id, ACTIVE."""
    client = Client(port)
    body = graph_body(f"reads-{uuid.uuid4().hex[:6]}", MEMBERS, with_hm=False)
    if provider:
        body["loadbalancer"]["provider"] = provider
    status, payload, _ = client.raw("POST", LB, body, extra_headers=headers)
    if status != 201:
        raise RuntimeError(f"POST {LB} -> {status}: {payload[:300]!r}")
    lb_id = json.loads(payload)["loadbalancer"]["id"]
    wait_active(client, f"{LB}/{lb_id}")
    client.close()
    return lb_id


def top_up(url, count):
    """Insert ACTIVE load balancers into the database until `count` exist."""
    import sqlalchemy

    from lbaas.core import models
    table = models.LoadBalancer.__table__
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            have = conn.execute(sqlalchemy.select(sqlalchemy.func.count()).select_from(table))
            missing = count - have.scalar_one()
            now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
            rows = [{"id": str(uuid.uuid4()), "project_id": PROJECT, "name": f"filler-{i}",
                     "provider": "noop", "provisioning_status": "ACTIVE",
                     "operating_status": "ONLINE", "vip_subnet_id": SUBNET,
                     "vip_address": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
                     "admin_state_up": True, "created_at": now, "vip_sg_ids": [],
                     "vip_vnic_type": "normal", "vip_octavia_owned": False}
                    for i in range(max(missing, 0))]
            for start in range(0, len(rows), 2000):
                conn.execute(table.insert(), rows[start:start + 2000])
    finally:
        engine.dispose()


def etag_of(port, path):
    """The ETag of a GET (None when the server sends none: upstream)."""
    client = Client(port)
    client.conn.request("GET", path, headers={"Accept": "application/json"})
    response = client.conn.getresponse()
    response.read()
    client.close()
    return response.getheader("ETag")


def measure(args, port, path, headers=None, pids=None):
    """A load run of `path`: req/s, latencies and (given the server's pids) CPU/request."""
    before = cpu_ticks(pids) if pids else None
    result = run_python_load(port, path, args.concurrency, args.duration, args.processes,
                             headers)
    figures = {"throughput": rounded(result["throughput"], 1),
               "p50_ms": rounded(result["p50_ms"], 2), "p95_ms": rounded(result["p95_ms"], 2),
               "requests": result["requests"], "errors": result["errors"]}
    if pids and result["requests"]:
        figures["server_cpu_ms"] = rounded(
            (cpu_ticks(pids) - before) / CLK_TCK * 1000 / result["requests"], 3)
    return figures


def ours(args, stack, lb_id):
    """Every scenario at every size of --sizes."""
    one, tree = f"{LB}/{lb_id}", f"{LB}/{lb_id}/status"
    paths = {"floor": ("/", None), "get_one": (one, None), "status_tree": (tree, None),
             "get_one_304": (one, {"If-None-Match": etag_of(stack.port, one)}),
             "status_304": (tree, {"If-None-Match": etag_of(stack.port, tree)}),
             "list_page": (f"{LB}?limit=10", None)}
    found = {}
    for size in args.sizes:
        top_up(stack.database_url, size)
        pids = server_pids(stack)
        found[size] = {}
        for name in SCENARIOS:
            path, headers = paths[name]
            found[size][name] = measure(args, stack.port, path, headers, pids)
            log(f"lbaas, {size} load balancers, {name}: {found[size][name]}")
    return found


def upstream(args):
    """floor, get_one and status_tree against the Octavia at --upstream-url."""
    host, _, port = args.upstream_url.rpartition("//")[2].partition(":")
    port = int(port.rstrip("/") or 80)
    headers = {"X-Project-Id": PROJECT} if args.upstream_project_header else None
    lb_id = create_target(port, headers, args.upstream_provider)
    paths = {"floor": "/", "get_one": f"{LB}/{lb_id}", "status_tree": f"{LB}/{lb_id}/status"}
    found = {}
    for name in UPSTREAM_SCENARIOS:
        found[name] = measure(args, port, paths[name])
        log(f"upstream, {name}: {found[name]}")
    return found


def table(result):
    """A plain-text table of the figures (stderr)."""
    lines = [f"{'scenario':<14}" + "".join(f"{f'{n} LBs':>26}" for n in result["lbaas"])]
    for name in SCENARIOS:
        cells = []
        for size in result["lbaas"]:
            f = result["lbaas"][size][name]
            cells.append(f"{f['throughput']:>8} r/s {f['p50_ms']:>6} ms "
                         f"{f.get('server_cpu_ms', '-'):>6} cpu")
        lines.append(f"{name:<14}" + "".join(f"{c:>26}" for c in cells))
    for name, ratio in result.get("ratios", {}).items():
        lines.append(f"ours/upstream {name}: {ratio}x")
    return "\n".join(lines)


def parse(argv):
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.reads", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,10000",
                        type=lambda v: [int(x) for x in v.split(",") if x],
                        help="counts of load balancers present (default 10,10000)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per scenario")
    parser.add_argument("--processes", type=int, default=2,
                        help="load generator processes (keep-alive threads share them)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--upstream-url", help="an Octavia endpoint to measure beside lbaas")
    parser.add_argument("--upstream-project-header", action="store_true",
                        help="send X-Project-Id to upstream (its noauth mode wants one)")
    parser.add_argument("--upstream-provider",
                        help="provider of the load balancer made upstream (its default if unset)")
    parser.add_argument("--output", default=str(RESULTS / "reads.json"))
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.duration <= 0 or not args.sizes or min(args.sizes) < 1:
        parser.error("concurrency, duration and sizes must be positive")
    return args


def main(argv=None):
    """Run the read benchmark; print the JSON document."""
    args = parse(argv)
    started = time.time()
    stack_args = types.SimpleNamespace(pg_port=None, port=None, workers=args.workers,
                                       threads=args.threads, keep_logs=False)
    stack = Stack(stack_args, "postgresql")
    result = {}
    load_before = os.getloadavg()
    interrupt_on_signals()
    try:
        stack.start()
        lb_id = create_target(stack.port)
        if args.upstream_url:
            result["upstream"] = upstream(args)
        result["lbaas"] = ours(args, stack, lb_id)
    finally:
        stack.stop()
    result["meta"] = run_meta(started, load_before)
    if "upstream" in result:
        first = result["lbaas"][args.sizes[0]]
        result["ratios"] = {name: rounded(first[name]["throughput"] /
                                          result["upstream"][name]["throughput"], 1)
                            for name in UPSTREAM_SCENARIOS
                            if result["upstream"][name]["throughput"]}
    text = json.dumps(result, indent=2)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as fh:
        fh.write(text + "\n")
    print(text)
    print(table(result), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
