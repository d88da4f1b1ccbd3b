"""The amphora control plane with 1, 2, 3... `lbaas-worker` processes (see bench/README.md).

`python -m bench.scale` starts a throwaway PostgreSQL (testbed/pg.py) and RabbitMQ node
(testbed/rabbitmq.py), then for each worker count of `--workers` in turn: a fresh database,
one `lbaas-api` and that many `lbaas-worker` processes on the amphora provider with the
noop compute, network and agent backends (the control plane alone: leases, casts,
reconciles, status reports; `--boot-delay` stands in for a cloud's boot time), or with
`--compute local` real amphorae (root: each is a network namespace on this host running the
agent and HAProxy, on the local network backend; each load balancer gets an HTTP listener,
a pool and a member, so its reconcile boots, plugs and pushes a real configuration).
`--lbs` load balancers are created by `--clients` concurrent clients; a poller reads their
statuses in the database every 20 ms. Per worker count:

  reconciles_per_s      reconciles logged by all workers / (first POST -> last ACTIVE)
  lbs_active_per_s      load balancers / the same span
  post_to_active_ms     POST sent -> ACTIVE seen, p50 and p90
  worker_cpu_ms_per_reconcile, api_cpu_ms_per_post  from /proc, over the burst
  takeover_s            with 2 workers or more, `--takeovers` times: a load balancer is
                        created, the worker holding its lease is SIGKILLed in the middle of
                        its reconcile, and the time from the kill to ACTIVE (reconciled by
                        another worker, a later lease generation) is measured; bounded by
                        `--lease-duration` + `--sweep-interval` + one reconcile

and an extrapolation of the CPU cost to a control plane of `--nodes` hosts managing
`--fleet` load balancers. One JSON document on stdout and in bench/results/scale-latest.json,
a table on stderr. Everything started is stopped on every exit path.
"""
import argparse
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from bench.harness import (CLK_TCK, ROOT, add_output_args, cannot_run, finish, guarded,
                           interrupt_on_signals, log, percentile, proc_ticks, remove_dir,
                           rounded, run_meta)
from testbed.service import Service, clean_env, free_port, venv_command

RECONCILED = re.compile(rb"reconciled load balancer \S+ \(lease generation")


def worker_counts(text):
    """"1,2,3" -> [1, 2, 3] (ascending, no repeats); ValueError unless each is 1..16."""
    counts = sorted({int(part) for part in text.split(",") if part.strip()})
    if not counts or counts[0] < 1 or counts[-1] > 16:
        raise ValueError(f"worker counts must be 1..16, got {text!r}")
    return counts


def parse_args(argv=None):
    """The command line."""
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--workers", type=_counts, default=[1, 2, 3],
                   help="worker counts to measure, comma-separated (default 1,2,3)")
    p.add_argument("--lbs", type=int, default=60, help="load balancers per run (default 60)")
    p.add_argument("--clients", type=int, default=8, help="concurrent creating clients")
    p.add_argument("--boot-delay", type=float, default=0.0,
                   help="[amphora_compute] noop_boot_delay, seconds (default 0)")
    p.add_argument("--threads", type=int, default=4,
                   help="[controller_worker] workers: reconcile threads per process")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds per run")
    p.add_argument("--compute", choices=("noop", "local"), default="noop",
                   help="noop: the control plane alone; local: real amphorae (root)")
    p.add_argument("--takeovers", type=int, default=3,
                   help="take-over samples per run with 2 workers or more (0: none)")
    p.add_argument("--lease-duration", type=float, default=20.0,
                   help="[controller_worker] lease_duration, seconds (default 20)")
    p.add_argument("--sweep-interval", type=int, default=30,
                   help="[controller_worker] sweep_interval, seconds (default 30)")
    p.add_argument("--fleet", type=int, default=10000, help="load balancers to extrapolate to")
    p.add_argument("--nodes", type=int, default=3, help="control-plane hosts to extrapolate to")
    p.add_argument("--cores", type=int, default=2, help="cores per control-plane host")
    add_output_args(p, "scale-latest.json")
    args = p.parse_args(argv)
    if args.lbs < 1 or args.clients < 1 or args.threads < 1:
        p.error("--lbs, --clients and --threads must be at least 1")
    if args.takeovers < 0 or args.lease_duration < 1 or args.sweep_interval < 1:
        p.error("--takeovers must be at least 0, --lease-duration and --sweep-interval 1")
    return args


def _counts(text):
    try:
        return worker_counts(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def summarize(workers, lbs, posted, active, reconciles, worker_ticks, api_ticks):
    """One run's figures. posted/active: {lb id: monotonic time of the POST / of ACTIVE};
    reconciles: how many the workers logged; *_ticks: CPU clock ticks over the burst."""
    done = [lb for lb in posted if lb in active]
    delays = [(active[lb] - posted[lb]) * 1e3 for lb in done]
    span = (max(active[lb] for lb in done) - min(posted.values())) if done else None
    return {
        "workers": workers, "lbs": lbs, "active": len(done),
        "span_s": rounded(span),
        "reconciles": reconciles,
        "reconciles_per_s": rounded(reconciles / span, 1) if span else None,
        "lbs_active_per_s": rounded(len(done) / span, 1) if span else None,
        "post_to_active_ms": {"p50": rounded(percentile(delays, 50), 1),
                              "p90": rounded(percentile(delays, 90), 1)},
        "worker_cpu_ms_per_reconcile": rounded(worker_ticks / CLK_TCK * 1e3 / reconciles, 2)
        if reconciles else None,
        "api_cpu_ms_per_post": rounded(api_ticks / CLK_TCK * 1e3 / lbs, 2) if lbs else None,
    }


def takeover_summary(samples):
    """Take-over samples (seconds from SIGKILL to ACTIVE) -> {n, min, p50, max}."""
    if not samples:
        return None
    return {"n": len(samples), "min_s": rounded(min(samples), 2),
            "p50_s": rounded(percentile(samples, 50), 2), "max_s": rounded(max(samples), 2)}


def extrapolate(runs, fleet, nodes, cores):
    """What the measured CPU cost per reconcile means for `fleet` load balancers on `nodes`
    hosts of `cores` cores: CPU-seconds for one reconcile of every load balancer (a full
    resync, a mass failover) and the wall time if every core did nothing else."""
    costs = [r["worker_cpu_ms_per_reconcile"] for r in runs
             if r.get("worker_cpu_ms_per_reconcile")]
    if not costs:
        return None
    per = max(costs) / 1e3   # the dearest run: contention included
    total = per * fleet
    return {"fleet": fleet, "nodes": nodes, "cores_per_node": cores,
            "worker_cpu_s_per_reconcile": rounded(per, 4),
            "cpu_s_to_reconcile_all": rounded(total, 1),
            "wall_s_to_reconcile_all_if_cpu_bound": rounded(total / (nodes * cores), 1),
            "note": ("the worker processes' own CPU (with local compute it includes "
                     "making the namespaces, which Nova would do on a compute host; the "
                     "amphorae's agents and HAProxy are not counted)")}


def table(result):
    """The runs side by side, as a Markdown table."""
    rows = [("| workers | LBs ACTIVE | span s | reconciles/s | LBs ACTIVE/s | "
             "POST->ACTIVE p50 ms | p90 ms | worker CPU ms/reconcile | API CPU ms/POST | "
             "take-over s (min/p50/max) |"),
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["runs"]:
        if "error" in r:
            rows.append(f"| {r['workers']} | error: {r['error']} ||||||||| ")
            continue
        t = r.get("takeover")
        rows.append(f"| {r['workers']} | {r['active']}/{r['lbs']} | {r['span_s']} | "
                    f"{r['reconciles_per_s']} | {r['lbs_active_per_s']} | "
                    f"{r['post_to_active_ms']['p50']} | {r['post_to_active_ms']['p90']} | "
                    f"{r['worker_cpu_ms_per_reconcile']} | {r['api_cpu_ms_per_post']} | "
                    + (f"{t['min_s']}/{t['p50_s']}/{t['max_s']} |" if t else "- |"))
    x = result.get("extrapolation")
    if x:
        rows.append(f"\n{x['fleet']} load balancers at {x['worker_cpu_s_per_reconcile']} "
                    f"CPU-s per reconcile: {x['cpu_s_to_reconcile_all']} CPU-s to reconcile "
                    f"all, {x['wall_s_to_reconcile_all_if_cpu_bound']} s on {x['nodes']} "
                    f"hosts x {x['cores_per_node']} cores if CPU-bound")
    return "\n".join(rows)


# --------------------------------------------------------------------------------------------
# One run


class _Stack:
    """lbaas-api and N lbaas-worker processes on one database and one bus."""

    def __init__(self, root, database_url, transport_url, workers, args):
        self.root, self.url_db = root, database_url
        self.port = free_port()
        self.api_url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(root, "lbaas.conf")
        self.local = args.compute == "local"
        self.vip_subnet_id = None
        with open(self.config, "w") as f:
            f.write("\n".join([
                "[DEFAULT]", f"state_path = {root}/state", f"transport_url = {transport_url}",
                "[api_settings]", "bind_host = 127.0.0.1", f"bind_port = {self.port}",
                "enabled_provider_drivers = amphora:The amphora driver",
                "default_provider_driver = amphora",
                "[database]", f"connection = {database_url}",
                "[certificates]", "cert_manager = noop",
                *(self._local_config(root) if self.local else [
                    "[network]", "driver = noop",
                    "[amphora_compute]", "driver = noop",
                    f"noop_boot_delay = {args.boot_delay}",
                    "[controller_worker]", "amphora_driver = amphora_noop_driver"]),
                "[controller_worker]", f"workers = {args.threads}",
                f"sweep_interval = {args.sweep_interval}",
                f"lease_duration = {args.lease_duration}",
                f"lease_renew_interval = {max(0.5, args.lease_duration / 4)}", ""]))
        self.env = clean_env(PYTHONUNBUFFERED="1", PYTHONPATH=str(ROOT))
        self.count = workers
        self.api, self.workers = None, []

    def _local_config(self, root):
        """The configuration of real amphorae: a management and a VIP bridge of their own."""
        import secrets
        from testbed.host import free_subnets
        mgmt, vip = free_subnets(2)
        token = secrets.token_hex(3)
        self.bridges = (f"sm{token}", f"sv{token}")
        self.mgmt_cidr, self.vip_name = str(mgmt), f"vip-{token}"
        self.amphora_dir = os.path.join(root, "amphorae")
        hosts = list(vip.hosts())
        self.member_address = str(hosts[200])   # past the allocation range: no VIP gets it
        return ["[network]", "driver = local",
                "[network_local]",
                f"subnet = name={self.vip_name} cidr={vip} bridge={self.bridges[1]} "
                f"gateway={hosts[0]} allocation_start={hosts[9]} allocation_end={hosts[199]}",
                "[amphora_compute]", "driver = local",
                "[compute_local]", f"management_bridge = {self.bridges[0]}",
                f"management_cidr = {mgmt}", f"state_dir = {self.amphora_dir}",
                "[haproxy_amphora]", "haproxy_cmd = /usr/sbin/haproxy",
                "[controller_worker]", f"agent_port = {free_port()}"]

    def lb_body(self, name):
        """The POST body of one load balancer (with local compute: a listener, a pool and a
        member, so that a real configuration is rendered and pushed)."""
        if not self.local:
            return {"loadbalancer": {"name": name, "project_id": "scale",
                                     "vip_subnet_id": str(uuid.uuid4())}}
        return {"loadbalancer": {
            "name": name, "project_id": "scale", "vip_subnet_id": self.vip_subnet_id,
            "listeners": [{"protocol": "HTTP", "protocol_port": 80, "default_pool": {
                "name": "pool", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
                "members": [{"address": self.member_address, "protocol_port": 8080,
                             "subnet_id": self.vip_subnet_id}]}}]}}

    def start_worker(self, i):
        """Start worker number i (again, after a kill: a log of its own); -> the service."""
        worker = WorkerService(f"worker-{i}", [venv_command("lbaas-worker"), "--config-file",
                                               self.config, "--metrics-port", str(free_port())],
                               0, os.path.join(self.root, f"worker-{i}-{time.time():.0f}.log"),
                               self.env)
        return worker.start(timeout=120)

    def start(self):
        """Migrate the database, start the API, then the workers; -> self."""
        subprocess.run([venv_command("lbaas-db-manage"), "--config-file", self.config,
                        "upgrade", "head"], check=True, env=self.env, capture_output=True,
                       timeout=180)
        self.workers.append(self.start_worker(0))   # with local compute: the bridge
        self.api = Service("lbaas-api", [venv_command("lbaas-api"), "--config-file",
                                         self.config, "--workers", "1"], self.port,
                           os.path.join(self.root, "api.log"), self.env).start()
        for i in range(1, self.count):
            self.workers.append(self.start_worker(i))
        if self.local:
            import requests
            [subnet] = requests.get(f"{self.api_url}/v2.0/subnets?name={self.vip_name}",
                                    timeout=30).json()["subnets"]
            self.vip_subnet_id = subnet["id"]
        return self

    def delete_all(self, timeout=300.0):
        """Delete every load balancer through the API and wait until they are gone."""
        import requests
        url = f"{self.api_url}/v2/lbaas/loadbalancers"
        for lb in requests.get(url, timeout=60).json()["loadbalancers"]:
            requests.delete(f"{url}/{lb['id']}?cascade=true", timeout=60)
        deadline = time.monotonic() + timeout
        while requests.get(url, timeout=60).json()["loadbalancers"]:
            if time.monotonic() > deadline:
                raise TimeoutError("load balancers still there after deleting them")
            time.sleep(0.5)

    def stop(self):
        """Stop the API and the workers (real amphorae deleted first); -> what was left of
        amphorae (a list of names)."""
        left = []
        try:
            if self.local and self.api is not None and self.api.proc.poll() is None:
                self.delete_all()
        finally:
            for service in [self.api, *self.workers]:
                if service is not None:
                    service.stop()
            if self.local:
                left = self._scrub()
        return left

    def _scrub(self):
        """Remove what real amphorae left (reported) and the bridges (always)."""
        from pyroute2 import IPRoute

        from lbaas.drivers.amphora.compute.local import LocalCompute
        left = []
        if os.path.isdir(self.amphora_dir):
            compute = LocalCompute(self.bridges[0], self.mgmt_cidr, self.amphora_dir)
            for instance in compute.list():
                left.append(f"amphora {instance.amphora_id}")
                compute.delete(instance.amphora_id)
        with IPRoute() as ipr:
            for bridge in self.bridges:
                for index in ipr.link_lookup(ifname=bridge):
                    ipr.link("del", index=index)
        return left


class WorkerService(Service):
    """An `lbaas-worker`: ready once its log says it consumes from the bus."""

    def _answers(self):
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
        with open(self.log_path, "rb") as f:
            return b"reconciling" in f.read()

    def reconciles(self):
        """How many reconciles its log reports so far."""
        with open(self.log_path, "rb") as f:
            return len(RECONCILED.findall(f.read()))


def _api_pids(api):
    """The API's process and its children (gunicorn workers)."""
    pids = [api.proc.pid]
    try:
        with open(f"/proc/{api.proc.pid}/task/{api.proc.pid}/children") as f:
            pids += [int(p) for p in f.read().split()]
    except OSError:
        pass
    return pids


def run_once(stack, args):
    """Create args.lbs load balancers through the API and wait for them to be ACTIVE."""
    import requests
    from sqlalchemy import create_engine, text
    engine = create_engine(stack.url_db)
    posted, active, stop = {}, {}, threading.Event()

    def poll():
        while not stop.is_set():
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT id FROM load_balancer WHERE "
                                         "provisioning_status = 'ACTIVE'")).all()
            now = time.monotonic()
            for (lb_id,) in rows:
                active.setdefault(lb_id, now)
            time.sleep(0.02)

    def create(i):
        body = stack.lb_body(f"scale{i}")
        began = time.monotonic()
        resp = requests.post(f"{stack.api_url}/v2/lbaas/loadbalancers", json=body, timeout=60)
        if resp.status_code != 201:
            raise RuntimeError(f"POST load balancer: {resp.status_code} {resp.text[:300]}")
        posted[resp.json()["loadbalancer"]["id"]] = began

    before_r = sum(w.reconciles() for w in stack.workers)
    worker_pids = [w.proc.pid for w in stack.workers]
    ticks_w, ticks_a = proc_ticks(worker_pids), proc_ticks(_api_pids(stack.api))
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        with concurrent.futures.ThreadPoolExecutor(args.clients) as pool:
            list(pool.map(create, range(args.lbs)))
        deadline = time.monotonic() + args.timeout
        while not all(lb in active for lb in posted):
            if time.monotonic() > deadline:
                break
            time.sleep(0.05)
    finally:
        stop.set()
        poller.join(5)
        engine.dispose()
    time.sleep(0.2)   # the last reconciles' log lines
    return summarize(len(stack.workers), args.lbs, posted, active,
                     sum(w.reconciles() for w in stack.workers) - before_r,
                     proc_ticks(worker_pids) - ticks_w,
                     proc_ticks(_api_pids(stack.api)) - ticks_a)


def holder_pid(holder):
    """The process id in a worker id ("<host>-<pid>-<8 hex>")."""
    return int(holder.rsplit("-", 2)[1])


def takeover_once(stack, args, engine, name):
    """Create a load balancer, SIGKILL the worker holding its lease while it reconciles it,
    restart that worker; -> seconds from the kill to ACTIVE, or None when the reconcile
    ended before the kill (the caller tries again)."""
    import signal

    import requests
    from sqlalchemy import text

    def read(sql, **params):
        with engine.connect() as conn:
            return conn.execute(text(sql), params).first()
    resp = requests.post(f"{stack.api_url}/v2/lbaas/loadbalancers", json=stack.lb_body(name),
                         timeout=60)
    if resp.status_code != 201:
        raise RuntimeError(f"POST load balancer: {resp.status_code} {resp.text[:300]}")
    lb_id = resp.json()["loadbalancer"]["id"]
    deadline = time.monotonic() + args.timeout
    while (row := read("SELECT holder, generation FROM amphora_lease WHERE "
                       "loadbalancer_id = :lb AND holder IS NOT NULL", lb=lb_id)) is None:
        if time.monotonic() > deadline:
            raise TimeoutError(f"no worker took load balancer {lb_id}")
        time.sleep(0.005)
    holder, generation = row
    victim = next(i for i, w in enumerate(stack.workers) if w.proc.pid == holder_pid(holder))
    os.kill(stack.workers[victim].proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    stack.workers[victim].proc.wait(10)
    if read("SELECT provisioning_status FROM load_balancer WHERE id = :lb",
            lb=lb_id)[0] == "ACTIVE":
        took = None   # too late: its reconcile had ended
    else:
        while read("SELECT provisioning_status FROM load_balancer WHERE id = :lb",
                   lb=lb_id)[0] != "ACTIVE":
            if time.monotonic() - killed > args.timeout:
                raise TimeoutError(f"load balancer {lb_id} not taken over")
            time.sleep(0.02)
        took = time.monotonic() - killed
        after = read("SELECT generation FROM amphora_lease WHERE loadbalancer_id = :lb",
                     lb=lb_id)[0]
        if after <= generation:
            raise AssertionError(f"load balancer {lb_id} ACTIVE without a new lease "
                                 f"({generation} -> {after})")
    stack.workers[victim] = stack.start_worker(victim)
    return took


def takeovers(stack, args):
    """`args.takeovers` take-over times (seconds), each from a fresh load balancer."""
    from sqlalchemy import create_engine
    engine = create_engine(stack.url_db)
    samples = []
    try:
        for attempt in range(args.takeovers * 4):
            if len(samples) == args.takeovers:
                break
            took = takeover_once(stack, args, engine, f"takeover{attempt}")
            log(f"take-over {attempt}: {took if took is None else round(took, 2)} s")
            if took is not None:
                samples.append(took)
    finally:
        engine.dispose()
    return samples


def main(argv=None):
    """Run every worker count; -> the exit status."""
    args = parse_args(argv)
    from testbed import pg, rabbitmq
    if pg.binaries() is None:
        return cannot_run("bench.scale", "PostgreSQL server binaries missing "
                                         "(apt-get install postgresql)")
    why = rabbitmq.installed()
    if why:
        return cannot_run("bench.scale", why)
    if args.compute == "local":
        from testbed.host import namespaces_unavailable
        why = ("not root (amphorae are network namespaces)" if os.geteuid() != 0 else
               "/usr/sbin/haproxy is missing" if not os.access("/usr/sbin/haproxy", os.X_OK)
               else namespaces_unavailable())
        if why:
            return cannot_run("bench.scale --compute local", why)
    interrupt_on_signals()
    started, load = time.time(), os.getloadavg()
    root = tempfile.mkdtemp(prefix="lbaas-scale-")
    result = {"meta": {}, "settings": {k: v for k, v in vars(args).items()
                                       if k not in ("output",)}, "runs": []}
    parts = {"pg": None, "broker": None, "stack": None}
    leftovers = []

    def cleanup():
        if parts["stack"] is not None:
            leftovers.extend(parts["stack"].stop())
        if parts["broker"] is not None:
            parts["broker"].destroy()
        if parts["pg"] is not None:
            parts["pg"].stop()
        remove_dir(root, args.keep_logs)

    with guarded(cleanup) as outcome:
        parts["pg"] = pg.Cluster(port=free_port()).start()
        parts["broker"] = rabbitmq.Broker(os.path.join(root, "rabbitmq"))
        parts["broker"].start()
        for count in args.workers:
            log(f"{count} worker(s): starting")
            run_root = os.path.join(root, f"w{count}")
            os.makedirs(run_root)
            parts["stack"] = _Stack(run_root, parts["pg"].create_database(f"scale_w{count}"),
                                    parts["broker"].add_vhost(), count, args).start()
            try:
                run = run_once(parts["stack"], args)
                if count >= 2 and args.takeovers:
                    run["takeover"] = takeover_summary(takeovers(parts["stack"], args))
            except Exception as exc:   # noqa: BLE001 - recorded, the next count still runs
                run = {"workers": count, "error": f"{type(exc).__name__}: {exc}"}
            finally:
                stack, parts["stack"] = parts["stack"], None
                leftovers.extend(stack.stop())
            log(f"{count} worker(s): {run}")
            result["runs"].append(run)
        result["extrapolation"] = extrapolate(result["runs"], args.fleet, args.nodes,
                                              args.cores)
    result["meta"] = run_meta(started, load)
    print(table(result), file=sys.stderr)
    return finish(result, args.output, outcome, leftovers=leftovers or None,
                  failed=any("error" in r or r["active"] < r["lbs"] for r in result["runs"])
                  or bool(leftovers))


if __name__ == "__main__":
    sys.exit(main())
