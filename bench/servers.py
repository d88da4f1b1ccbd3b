"""Server models for `lbaas-api` side by side: CPU per request in one run (bench/README.md).

Run as `python -m bench.servers`. It starts one throwaway PostgreSQL and `lbaas-api` under
gunicorn (bench.api's Stack: the product, waitress in gunicorn's workers), then, on the same
database and with the same configuration file, each other server of `--servers`:

  lbaas-api   the product (always measured)
  baseline    `lbaas-api` from another source tree (`--baseline-tree`, e.g. a `git archive`
              of main): before/after in one run
  granian     granian's WSGI interface, `--workers` processes (needs `granian` importable,
              e.g. on PYTHONPATH; it is not a dependency of lbaas)
  gthread     gunicorn's own threaded workers

and measures, with the standard-library load generator at `--concurrency`, GET / (the
floor), GET one load balancer and the status tree of a 200-member pool on each server in
turn, `--rounds` times, the order reversed every other round, so a busy machine's drift
falls on every server alike. The figure to read is the server's CPU per request: the server
processes' (the master excluded) and PostgreSQL's CPU over the run divided by the requests.
JSON on stdout and in bench/results/servers.json; a table on stderr.
"""
import argparse
import configparser
import json
import os
import sys
import time
import types

from bench.api import Stack, proc_table, run_python_load
from bench.client import HOST, LB
from bench.harness import CLK_TCK, RESULTS, interrupt_on_signals, log, rounded, run_meta
from bench.reads import create_target
from testbed.service import Service, free_port, venv_command

SCENARIOS = ("floor", "get_one", "status_tree")
SERVERS = ("lbaas-api", "baseline", "granian", "gthread")


def descendants(root):
    """`root`'s descendants (root excluded)."""
    table = proc_table()
    found, grew = {root}, True
    while grew:
        grew = False
        for pid, (ppid, _, _) in table.items():
            if ppid in found and pid not in found:
                found.add(pid)
                grew = True
    return found - {root}


def ticks(pids):
    """CPU these processes have used, in clock ticks."""
    table = proc_table()
    return sum(table[pid][2] for pid in pids if pid in table)


def other_server(name, stack, args):
    """Start server `name` beside the stack's lbaas-api; -> its Service."""
    port = free_port()
    env = dict(stack.env, LBAAS_CONFIG_FILE=stack.conf_path)
    log_path = os.path.join(stack.tmp, f"{name}.log")
    if name == "baseline":
        conf = configparser.ConfigParser()
        conf.read(stack.conf_path)
        conf["api_settings"]["bind_port"] = str(port)
        conf["DEFAULT"]["state_path"] = os.path.join(stack.tmp, "state-baseline")
        path = os.path.join(stack.tmp, "baseline.conf")
        with open(path, "w") as fh:
            conf.write(fh)
        env["PYTHONPATH"] = args.baseline_tree
        argv = [venv_command("lbaas-api"), "--config-file", path, "--workers", str(args.workers)]
    elif name == "granian":
        argv = [venv_command("python"), "-m", "granian", "--interface", "wsgi", "--host", HOST,
                "--port", str(port), "--workers", str(args.workers), "--blocking-threads",
                str(args.threads), "--no-ws", "--http", "1", "--log-level", "warning",
                "lbaas.api.wsgi:application"]
    else:
        argv = [venv_command("gunicorn"), "-k", "gthread", "--threads", str(args.threads),
                "-w", str(args.workers), "-b", f"{HOST}:{port}", "lbaas.api.wsgi:application"]
    return Service(name, argv, port, log_path, env=env, cwd=stack.tmp).start(60)


def measure(port, pids, path, args):
    """One load run: req/s, p50 and the server's CPU per request."""
    before = ticks(pids)
    result = run_python_load(port, path, args.concurrency, args.duration, args.processes)
    cpu = ((ticks(pids) - before) / CLK_TCK * 1000 / result["requests"]
           if result["requests"] else None)   # a starved run has no figure
    return {"throughput": rounded(result["throughput"], 1), "p50_ms": rounded(result["p50_ms"], 2),
            "requests": result["requests"], "errors": result["errors"],
            "server_cpu_ms": rounded(cpu, 3), "load_1m": rounded(os.getloadavg()[0], 1)}


def run(args, stack, services):
    """Every scenario on every server, --rounds times, alternating the order."""
    lb_id = create_target(stack.port)
    paths = {"floor": "/", "get_one": f"{LB}/{lb_id}", "status_tree": f"{LB}/{lb_id}/status"}
    postgres = stack.database.pid()
    for port, _ in services.values():   # every worker has imported the application
        run_python_load(port, paths["get_one"], 4, 1.0, 1)
    found = {s: {n: [] for n in services} for s in SCENARIOS}
    for number in range(args.rounds):
        order = list(services) if number % 2 == 0 else list(reversed(services))
        for scenario in SCENARIOS:
            for name in order:
                port, root = services[name]
                pids = descendants(root) | descendants(postgres) | {postgres}
                figures = measure(port, pids, paths[scenario], args)
                found[scenario][name].append(figures)
                log(f"round {number + 1}, {scenario}, {name}: {figures}")
    return found


def table(found):
    """CPU per request (ms) per scenario and server, every round (stderr)."""
    names = list(next(iter(found.values())))
    lines = [f"{'server CPU/req':<14}" + "".join(f"{n:>22}" for n in names)]
    for scenario, by_server in found.items():
        cells = [" / ".join("-" if r["server_cpu_ms"] is None else f"{r['server_cpu_ms']:.2f}"
                            for r in by_server[n]) for n in names]
        lines.append(f"{scenario:<14}" + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)


def parse(argv):
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m bench.servers", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--servers", default="lbaas-api,granian,gthread",
                        type=lambda v: [s for s in v.split(",") if s])
    parser.add_argument("--baseline-tree", help="source tree of the `baseline` server")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measurement")
    parser.add_argument("--processes", type=int, default=2, help="load generator processes")
    parser.add_argument("--workers", type=int, default=2, help="server processes")
    parser.add_argument("--threads", type=int, default=4,
                        help="request threads per process of granian and gthread")
    parser.add_argument("--output", default=str(RESULTS / "servers.json"))
    args = parser.parse_args(argv)
    unknown = set(args.servers) - set(SERVERS)
    if unknown:
        parser.error(f"unknown servers {sorted(unknown)}; choose from {SERVERS}")
    if "baseline" in args.servers and not args.baseline_tree:
        parser.error("the baseline server needs --baseline-tree")
    if min(args.rounds, args.concurrency, args.workers, args.threads) < 1 or args.duration <= 0:
        parser.error("rounds, concurrency, duration, workers and threads must be positive")
    return args


def main(argv=None):
    """Run the comparison; print the JSON document."""
    args = parse(argv)
    started, load_before = time.time(), os.getloadavg()
    stack = Stack(types.SimpleNamespace(pg_port=None, port=None, workers=args.workers,
                                        threads=0, keep_logs=False), "postgresql")
    others = []
    interrupt_on_signals()
    try:
        stack.start()
        services = {"lbaas-api": (stack.port, stack.proc.pid)}
        for name in args.servers:
            if name != "lbaas-api":
                others.append(other_server(name, stack, args))
                services[name] = (others[-1].port, others[-1].proc.pid)
        result = {"servers": run(args, stack, services)}
    finally:
        for service in others:
            service.stop(grace=10)
        stack.stop()
    result["meta"] = run_meta(started, load_before)
    text = json.dumps(result, indent=2)
    os.makedirs(os.path.dirname(args.output), exist_ok=True)
    with open(args.output, "w") as fh:
        fh.write(text + "\n")
    print(text)
    print(table(result["servers"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
