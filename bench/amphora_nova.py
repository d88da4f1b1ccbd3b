"""The amphora benchmark with VM amphorae through Nova: `python -m bench.amphora --compute nova`
(see bench/README.md).

Run as root. First the namespace figures of the same run: bench.amphora's
graph_to_first_response_spare and _cold on the local backend (bench/world.py), --ns-runs
each. Then one real cloud (bench/cloud.py: MariaDB, OVN, Keystone, Neutron, RabbitMQ,
Placement, Glance, Nova, and a nova-compute with the libvirt driver on QEMU/TCG), the
amphora image (lbaas.image.build, from its cache) in Glance, a management network whose
controller end is a root-namespace veth, and the user's VIP and member networks with a
client and two members as namespaces on Neutron ports (testbed/cloud/nova_amphora.py).
`lbaas serve` runs twice on it, one after the other, with `[amphora_compute] driver =
nova` and `[network] driver = neutron`: with `[house_keeping] spare_amphora_pool_size = 0`,
then 1.

Scenarios (each --runs times, 2 by default: a TCG guest takes about a minute to boot):
  graph_to_first_response_cold   POST LB + HTTP :80 listener + pool + 2 members in one call,
                                 no spare (Nova boots the amphora on demand): seconds until
                                 the client namespace gets a 200 through the VIP; also until
                                 the API shows ACTIVE, Nova's build (created -> launched_at)
                                 and the DELETE ?cascade=true until the server is gone
  graph_to_first_response_spare  the same with a spare amphora VM READY before the POST
  failover_gap_spare             SINGLE amphora, spare pool 1 (a spare READY), GET through the
                                 VIP from the client namespace every --interval s; SIGKILL
                                 of the amphora VM's QEMU: until the health manager's
                                 "failing it over" line, until traffic flows again, the
                                 longest gap between two answers, until the LB is ACTIVE on
                                 a new amphora
  failover_gap_cold              the same with no spare (the new amphora is booted then)

One JSON document on stdout and in bench/results/amphora-nova.json, with the namespace
figures and the VM/namespace ratios of the p50s. Every exit path (errors, Ctrl-C, SIGTERM)
stops lbaas, deletes the load balancers and servers, and stops the cloud (the libvirt
compute destroys its guests, the OVN stack removes its namespaces); `leftovers` lists
anything of ours still there.
"""
import argparse
import contextlib
import datetime
import os
import re
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

from bench import cloud as bench_cloud
from bench.harness import (
    RESULTS,
    cannot_run,
    error_text,
    finish,
    guarded,
    interrupt_on_signals,
    log,
    measured,
    remove_dir,
    rounded,
    run_meta,
    stats,
)
from bench.world import Instance, Network, leftovers_of, teardown
from bench.world import unavailable as namespaces_unavailable
from testbed import backends
from testbed.cloud import nova_libvirt
from testbed.cloud.lbaas_serve import LBS, Lbaas
from testbed.cloud.nova_amphora import (
    ADMIN,
    AGENT_TIMEOUT,
    MEMBER,
    AmphoraSite,
    UserSide,
    build_image,
)
from testbed.host import free_subnets, processes_mentioning
from testbed.service import free_udp_port, wait_for

AMPHORAE = "/v2/octavia/amphorae"
OUTPUT = str(RESULTS / "amphora-nova.json")
FIRST_RESPONSE = ("graph_to_first_response_cold", "graph_to_first_response_spare")
FAILOVER = ("failover_gap_spare", "failover_gap_cold")
SCENARIOS = FIRST_RESPONSE + FAILOVER
BOOT_TIMEOUT = AGENT_TIMEOUT + 120      # POST (or a spare's boot) until it answers
STEADY = 10                             # answers in a row = traffic is steady
UPSTREAM = {
    "source": "Octavia with amphora VMs (nova), as reported by operators and in the "
              "issue: 43-97 s from the POST to ACTIVE; [health_manager] heartbeat_timeout "
              "60 s by default, so a dead amphora is noticed about 60 s after its last "
              "heartbeat",
    "active_s": [43, 97], "detection_s": 60}
# lbaas serve's log (oslo.log's format: time with milliseconds, pid, level, logger, context)
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[.,]\d{3}) \d+ WARNING \S+ \[[^\]]*\] "
                  r"amphora (\S+) of load balancer (\S+) sent no heartbeat since (.+?): "
                  r"failing it over", re.MULTILINE)


def answer(vip, netns, timeout):
    """Whether GET http://vip/ from the namespace got a 200 (a new connection)."""
    try:
        return backends.http_get(vip, "/", 80, netns=netns, timeout=timeout).status == 200
    except OSError:
        return False


class Traffic(threading.Thread):
    """GET http://VIP/ from the client namespace every `interval` s on a new connection;
    keeps the (wall, monotonic) time of every answer and the wall time of every failure."""

    def __init__(self, vip, netns, interval, timeout):
        super().__init__(daemon=True)
        self.vip, self.netns, self.interval, self.timeout = vip, netns, interval, timeout
        self.stopped = threading.Event()
        self.ok, self.failures, self.streak = [], [], 0

    def run(self):
        nxt = time.monotonic()
        while not self.stopped.is_set():
            if answer(self.vip, self.netns, self.timeout):
                self.ok.append((time.time(), time.monotonic()))
                self.streak += 1
            else:
                self.failures.append(time.time())
                self.streak = 0
            nxt = max(nxt + self.interval, time.monotonic())
            self.stopped.wait(max(0.0, nxt - time.monotonic()))

    def stop(self):
        """End the thread."""
        self.stopped.set()
        self.join(10)

    def oks_after(self, wall):
        """How many answers came after a wall time."""
        return sum(1 for w, _ in self.ok if w > wall)

    def recovered(self, wall):
        """Wall time of the first answer after the first failure after `wall`, or None."""
        fail = next((w for w in self.failures if w > wall), None)
        return next((w for w, _ in self.ok if fail is not None and w > fail), None)

    def longest_gap(self):
        """The longest interval (s) between two answers."""
        mono = [m for _, m in self.ok]
        return max((b - a for a, b in zip(mono, mono[1:])), default=0.0)


def qemu_pids(server_id):
    """Pids of the QEMU processes of a Nova server (libvirt passes `-uuid <server id>`)."""
    return sorted(pid for pid, cmd in processes_mentioning(server_id).items()
                  if "qemu-system" in cmd)


class LbaasOnCloud:
    """One `lbaas serve` on the cloud (nova compute, neutron network) and what the
    scenarios ask of it."""

    def __init__(self, world, label, spare, heartbeat_timeout):
        self.world, self.label, self.spare = world, label, spare
        state = world.tmp / f"lbaas-{label}"
        state.mkdir()
        config = world.site.config(
            free_udp_port(), heartbeat_timeout=heartbeat_timeout,
            extra=f"\n[house_keeping]\nspare_amphora_pool_size = {spare}\n")
        self.lbaas = Lbaas(world.parts.neutron, state, str(uuid.uuid4()), extra=config)
        self.log_path = state / "lbaas-serve.log"
        self.lb_ids = set()

    def start(self):
        """Start lbaas serve; -> self."""
        self.lbaas.service.start()
        return self

    def call(self, method, path, user=MEMBER, **kwargs):
        """A REST call as `user`; -> the response."""
        return self.lbaas.call(user, method, path, **kwargs)

    def lb(self, lb_id):
        """The load balancer's body, or None once it is gone."""
        resp = self.call("GET", f"{LBS}/{lb_id}")
        return resp.json()["loadbalancer"] if resp.status_code == 200 else None

    def amphorae(self, **query):
        """The amphorae the API lists (as the cloud's admin)."""
        return self.call("GET", AMPHORAE, user=ADMIN, params=query,
                         expect=200).json()["amphorae"]

    def spare_ready(self):
        """Whether a spare amphora (no load balancer) is READY."""
        return any(not a.get("loadbalancer_id") for a in self.amphorae(status="READY"))

    def post(self, name):
        """POST the user's graph; -> (its body, seconds the POST took)."""
        t0 = time.monotonic()
        lb = self.call("POST", LBS, json=self.world.user.graph(name),
                       expect=201).json()["loadbalancer"]
        self.lb_ids.add(lb["id"])
        return lb, time.monotonic() - t0

    def delete(self, lb_id):
        """DELETE ?cascade=true; -> seconds until the API says gone and until no server of
        the load balancer is left in Nova."""
        servers = self.world.servers_of(self.amphorae(loadbalancer_id=lb_id))
        t0 = time.monotonic()
        self.call("DELETE", f"{LBS}/{lb_id}?cascade=true", expect=204)
        wait_for(lambda: self.lb(lb_id) is None, 300, f"{lb_id} gone", 0.5)
        api = time.monotonic() - t0
        wait_for(lambda: not set(servers) & set(self.world.server_ids()), 300,
                   f"the servers of {lb_id} gone", 0.5)
        self.lb_ids.discard(lb_id)
        return api, time.monotonic() - t0

    def detection(self, amphora_id, offset):
        """(wall time, 'since' text) of the health manager's failover line for the amphora."""
        with open(self.log_path, "rb") as fh:
            fh.seek(offset)
            text = fh.read().decode(errors="replace")
        for m in LINE.finditer(text):
            if m.group(2) == amphora_id:
                when = datetime.datetime.strptime(m.group(1).replace(",", "."),
                                                  "%Y-%m-%d %H:%M:%S.%f")
                return when.timestamp(), m.group(4)
        return None

    def stop(self):
        """Ask for the deletion of our load balancers left (best effort; the servers that
        lbaas leaves go with the libvirt compute), stop lbaas serve."""
        for lb_id in list(self.lb_ids):
            try:
                self.call("DELETE", f"{LBS}/{lb_id}?cascade=true")
            except Exception as exc:
                log(f"deleting {lb_id}: {error_text(exc)}")
        self.lbaas.service.stop()


class NovaWorld:
    """The cloud, the amphora site and the user's side; the servers of our amphorae."""

    def __init__(self, tmp):
        self.tmp = Path(tmp)
        self.stack = contextlib.ExitStack()
        self.parts = self.site = self.user = self.image = None
        self.timings = {}

    def start(self):
        """Cloud, image, site, user side; -> self."""
        started = time.monotonic()
        self.parts = self.stack.enter_context(bench_cloud.cloud(self.tmp / "cloud", nova=True))
        self.timings["cloud"] = dict(self.parts.timings)
        t0 = time.monotonic()
        self.image = build_image(log)
        self.timings["image"] = {"cached": self.image.cached,
                                 "seconds": rounded(time.monotonic() - t0, 1)}
        mgmt, vip, member = free_subnets(3)
        self.site = AmphoraSite(self.parts.neutron, self.parts.nova, self.image,
                                mgmt_cidr=mgmt, prefix="bn")
        self.stack.callback(self.site.delete)
        self.site.create()
        self.timings["site"] = self.site.timings
        self.user = UserSide(self.parts.neutron, vip, member, prefix="bn").create()
        self.timings["total_s"] = rounded(time.monotonic() - started, 1)
        self.cidrs = {"mgmt": str(mgmt), "vip": str(vip), "member": str(member)}
        return self

    def servers(self):
        """Every server on the libvirt host (any project)."""
        return self.parts.libvirt.servers(self.parts.nova.connection(ADMIN))

    def server_ids(self):
        """The ids of every server on the libvirt host."""
        return [s.id for s in self.servers()]

    def servers_of(self, amphorae):
        """{server id: server} of these amphorae (Nova's name: amphora-<amphora id>)."""
        names = {f"amphora-{a['id']}" for a in amphorae}
        return {s.id: s for s in self.servers() if s.name in names}

    def build_seconds(self, server_id):
        """Nova's build of a server: created -> launched_at (s), or None."""
        s = self.parts.nova.connection(ADMIN).compute.get_server(server_id)
        if not s.launched_at or not s.created_at:
            return None

        def ts(text):
            return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")
                                                   ).replace(tzinfo=datetime.timezone.utc)
        return rounded((ts(s.launched_at) - ts(s.created_at)).total_seconds(), 1)

    def stop(self):
        """Stop the site's link and the cloud (the libvirt compute destroys its guests)."""
        self.stack.close()


class NovaBench:
    """The scenarios on one NovaWorld."""

    def __init__(self, args, world):
        self.args, self.world = args, world
        self.results = {}

    @property
    def netns(self):
        """The client's namespace (on the VIP network)."""
        return self.world.user.client.netns

    def run(self, name, fn, *a):
        if self.args.only and name not in self.args.only:
            return
        log(f"{name} ...")
        self.results[name] = measured(fn, *a)
        log(f"{name}: " + str({k: v for k, v in self.results[name].items()
                               if k not in ("runs", "machine")})[:400])

    def first_response(self, inst):
        """--runs times: (wait for a spare,) POST the graph, poll the API and the VIP."""
        runs = []
        for i in range(self.args.runs):
            run = {}
            if inst.spare:
                t0 = time.monotonic()
                wait_for(inst.spare_ready, BOOT_TIMEOUT, "a READY spare amphora", 1.0)
                run["waited_for_spare_s"] = rounded(time.monotonic() - t0, 1)
            t0 = time.monotonic()
            lb, run["post_s"] = inst.post(f"bn-{inst.label}-{i}")
            first = active = None
            while first is None or active is None:
                now = time.monotonic() - t0
                if now > BOOT_TIMEOUT:
                    raise TimeoutError(f"{lb['id']}: first answer {first}, ACTIVE {active} "
                                       f"after {BOOT_TIMEOUT} s")
                if active is None:
                    body = inst.lb(lb["id"])
                    if body["provisioning_status"] == "ERROR":
                        raise RuntimeError(f"{lb['id']} went to ERROR")
                    if body["provisioning_status"] == "ACTIVE":
                        active = now
                if first is None and answer(lb["vip_address"], self.netns, 0.5):
                    first = time.monotonic() - t0
                if first is None or active is None:
                    time.sleep(0.2)
            run.update(first_response_s=rounded(first, 2), active_s=rounded(active, 2))
            amps = inst.amphorae(loadbalancer_id=lb["id"])
            servers = self.world.servers_of(amps)
            run["amphora_created_before_post"] = all(
                a.get("created_at", "") < lb.get("created_at", "") for a in amps)
            run["nova_build_s"] = [self.world.build_seconds(s) for s in servers]
            run["delete_api_s"], run["delete_server_gone_s"] = (
                rounded(x, 1) for x in inst.delete(lb["id"]))
            run["loadavg_1m"] = rounded(os.getloadavg()[0], 2)
            log(f"{inst.label} run {i + 1}: first answer {run['first_response_s']} s, "
                f"ACTIVE {run['active_s']} s, Nova build {run['nova_build_s']}")
            runs.append(run)

        def st(key, nd=2):
            return stats([r[key] for r in runs if r.get(key) is not None], nd)
        return dict(st("first_response_s"), unit="s", active_s=st("active_s"),
                    post_s=st("post_s", 3),
                    nova_build_s=stats([b for r in runs for b in r["nova_build_s"] if b], 1),
                    delete_server_gone_s=st("delete_server_gone_s", 1),
                    spare_pool_size=inst.spare, runs=runs)

    def failover(self, inst):
        """One load balancer; --runs times: steady traffic, SIGKILL of its VM's QEMU,
        recovery."""
        if inst.spare:
            wait_for(inst.spare_ready, BOOT_TIMEOUT, "a READY spare amphora", 1.0)
        lb, _ = inst.post(f"bn-fo-{inst.label}")
        vip = lb["vip_address"]
        wait_for(lambda: (inst.lb(lb["id"]) or {}).get("provisioning_status") == "ACTIVE",
                   BOOT_TIMEOUT, f"{lb['id']} ACTIVE", 1.0)
        wait_for(lambda: answer(vip, self.netns, 1.0), 120, f"VIP {vip} answering", 0.5)
        runs = []
        for i in range(self.args.runs):
            run = self.failover_run(inst, lb)
            log(f"failover {inst.label} run {i + 1}: detection {run.get('detection_s')} s, "
                f"traffic back {run.get('traffic_back_s')} s, gap {run['gap_s']} s, "
                f"new amphora ACTIVE {run.get('new_amphora_active_s')} s")
            runs.append(run)
        inst.delete(lb["id"])

        def st(key, nd=2):
            return stats([r[key] for r in runs if r.get(key) is not None], nd)
        return dict(st("gap_s"), unit="s (longest gap)", detection_s=st("detection_s"),
                    traffic_back_s=st("traffic_back_s"),
                    new_amphora_active_s=st("new_amphora_active_s"),
                    failed_requests=st("failed_requests", 0), spare_pool_size=inst.spare,
                    runs=runs)

    def failover_run(self, inst, lb):
        """Steady traffic, the kill, recovery; -> the run's figures."""
        if inst.spare:
            wait_for(inst.spare_ready, BOOT_TIMEOUT, "a READY spare amphora", 1.0)
        (old,) = inst.amphorae(loadbalancer_id=lb["id"])
        (server_id,) = self.world.servers_of([old])
        pids = qemu_pids(server_id)
        if not pids:
            raise RuntimeError(f"no QEMU process of server {server_id}")
        offset = os.path.getsize(inst.log_path)
        traffic = Traffic(lb["vip_address"], self.netns, self.args.interval,
                          self.args.request_timeout)
        traffic.start()
        run = {"old_amphora": old["id"], "old_server": server_id, "killed_pids": pids}
        try:
            wait_for(lambda: traffic.streak >= STEADY, 60, f"{STEADY} answers in a row")
            before = len(traffic.failures)
            wall0, t0 = time.time(), time.monotonic()
            for pid in pids:
                os.kill(pid, signal.SIGKILL)
            run["killed_at_utc"] = datetime.datetime.fromtimestamp(
                wall0, datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")

            def replaced():
                amps = inst.amphorae(loadbalancer_id=lb["id"])
                body = inst.lb(lb["id"]) or {}
                return (amps and old["id"] not in {a["id"] for a in amps}
                        and body.get("provisioning_status") == "ACTIVE" and amps)
            new = wait_for(replaced, BOOT_TIMEOUT, "a new amphora and the LB ACTIVE", 0.5)
            run["new_amphora_active_s"] = rounded(time.monotonic() - t0, 2)
            done = time.time()
            wait_for(lambda: traffic.streak >= STEADY and traffic.oks_after(done) >= STEADY,
                       120, f"{STEADY} answers in a row after the failover", 0.1)
        finally:
            traffic.stop()
        back = traffic.recovered(wall0)
        line = self.detection_line(inst, old["id"], offset)
        run.update(
            gap_s=rounded(traffic.longest_gap(), 2),
            traffic_back_s=rounded(back - wall0, 2) if back else None,
            failed_requests=len(traffic.failures) - before, answered=len(traffic.ok),
            new_amphora=new[0]["id"],
            new_amphora_created_before_kill=new[0].get("created_at", "") < datetime.datetime
            .fromtimestamp(wall0, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S"),
            loadavg_1m=rounded(os.getloadavg()[0], 2))
        if line:
            run["detection_s"] = rounded(line[0] - wall0, 2)
            run["last_heartbeat_utc"] = line[1]
        return run

    @staticmethod
    def detection_line(inst, amphora_id, offset):
        """The failover line (it is written before the new amphora is ACTIVE), or None."""
        try:
            return inst.detection(amphora_id, offset)
        except OSError:
            return None


def namespace_figures(args, tmp):
    """bench.amphora's graph_to_first_response_spare and _cold on the local backend (the
    namespace amphorae of bench/world.py), --ns-runs each; -> (scenarios, leftovers)."""
    from bench.amphora import Bench   # the module that imports this one
    reason = namespaces_unavailable(wrk=False)
    if reason:
        return {"error": f"cannot run: {reason}"}, []
    ns_args = argparse.Namespace(**dict(vars(args), runs=args.ns_runs, only=None))
    os.makedirs(os.path.join(tmp, "ns"))
    net = Network(os.path.join(tmp, "ns"), 1)
    bench = Bench(ns_args, net, time.monotonic() + 600)
    instances = []

    def scenarios():
        net.start_backends()
        for label, spare, name in ((("spare", 1, FIRST_RESPONSE[1])),
                                   (("cold", 0, FIRST_RESPONSE[0]))):
            inst = Instance(net, os.path.join(tmp, "ns"), label, spare)
            instances.append(inst)
            inst.start()
            bench.run(name, bench.first_response, inst, bool(spare))
            inst.stop()
    with guarded(lambda: teardown(instances, net), "namespace scenarios") as outcome:
        scenarios()
    _, leftovers = leftovers_of(instances, net, os.path.join(tmp, "ns"), args.keep_logs)
    out = {k: {key: v for key, v in bench.results[k].items() if key != "detail"}
           for k in FIRST_RESPONSE if k in bench.results}
    if outcome.fatal or outcome.interrupted:
        out["error"] = outcome.fatal or outcome.interrupted
    if outcome.interrupted:
        raise KeyboardInterrupt(outcome.interrupted)
    return out, leftovers


def nova_scenarios(args, world, bench, instances):
    """The cloud, then lbaas without spares (cold), then with one (spare)."""
    world.start()
    log(f"cloud up: {world.timings}")
    want = args.only or set(SCENARIOS)
    for label, spare, names in (("cold", 0, (FIRST_RESPONSE[0], FAILOVER[1])),
                                ("spare", 1, (FIRST_RESPONSE[1], FAILOVER[0]))):
        if not want & set(names):
            continue
        inst = LbaasOnCloud(world, label, spare, args.heartbeat_timeout).start()
        instances.append(inst)
        bench.run(names[0], bench.first_response, inst)
        bench.run(names[1], bench.failover, inst)
        inst.stop()
        instances.remove(inst)
        for server in world.servers():   # the spare it kept
            world.parts.nova.connection(ADMIN).compute.delete_server(server)
        wait_for(lambda: not world.servers(), 300, "no server left", 1.0)


def nova_leftovers(world, tmp):
    """What of ours is still there after the clean-up."""
    found = [f"process {pid}: {cmd[:120]}" for pid, cmd in processes_mentioning(tmp).items()]
    if world.parts is not None and world.parts.libvirt is not None:
        found += [f"process {pid}: {cmd[:120]}" for pid, cmd in processes_mentioning(
            str(world.parts.libvirt.instances)).items()]
    if world.site is not None and world.site.link is not None:
        found.append(f"link {world.site.link.outer}")
    if world.parts is not None and world.parts.neutron is not None:
        prefix = world.parts.neutron.stack.prefix
        names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        found += [f"namespace {n.split()[0]}" for n in names.splitlines()
                  if n.startswith(prefix)]
    return found


def ratios(namespace, nova):
    """VM / namespace, of the p50s measured in this run."""
    out = {}
    for name in FIRST_RESPONSE:
        vm, ns = nova.get(name, {}).get("p50"), namespace.get(name, {}).get("p50")
        out[name] = rounded(vm / ns, 1) if vm and ns else None
    return out


def uptime():
    """`uptime`'s line."""
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def add_args(parser):
    """The options of the Nova mode (bench.amphora's parser)."""
    parser.add_argument("--ns-runs", type=int, default=5,
                        help="--compute nova: runs of each namespace scenario beside it")
    parser.add_argument("--interval", type=float, default=0.05,
                        help="--compute nova: seconds between two requests of failover_gap")
    parser.add_argument("--request-timeout", type=float, default=0.5,
                        help="--compute nova: timeout of each failover_gap request")
    parser.add_argument("--heartbeat-timeout", type=int, default=10,
                        help="--compute nova: [health_manager] heartbeat_timeout (lbaas's "
                             "default is 3: a TCG guest on a loaded host went 3 s without a "
                             "heartbeat while Nova hot-plugged its VIP NIC, and was failed "
                             "over)")


def main(args):
    """Run the namespace and the Nova scenarios; -> the exit status."""
    unknown = (args.only or set()) - set(SCENARIOS)
    if unknown:
        return cannot_run("bench.amphora --compute nova",
                          f"unknown scenario(s) {','.join(sorted(unknown))}; known: "
                          f"{','.join(SCENARIOS)}")
    reason = (bench_cloud.unavailable(nova=True) or nova_libvirt.unavailable()
              or (None if os.geteuid() == 0 else "not root"))
    if reason:
        return cannot_run("bench.amphora --compute nova", reason)
    interrupt_on_signals()
    started, load_before, uptime_before = time.time(), os.getloadavg(), uptime()
    log(f"load before: {uptime_before}")
    tmp = tempfile.mkdtemp(prefix="lbaas-amp-nova-bench-", dir="/var/tmp")
    os.chmod(tmp, 0o755)
    namespace, ns_leftovers = {}, []
    world = NovaWorld(tmp)
    bench = NovaBench(args, world)
    instances = []

    def cleanup():
        for inst in instances:
            try:
                inst.stop()
            except Exception as exc:
                log(f"stopping lbaas {inst.label}: {error_text(exc)}")
        try:
            world.stop()
        except Exception as exc:
            log(f"stopping the cloud: {error_text(exc)}")

    with guarded(cleanup, "the Nova scenarios") as outcome:
        namespace, ns_leftovers = namespace_figures(args, tmp)
        log(f"namespace figures: {namespace}")
        nova_scenarios(args, world, bench, instances)
    leftovers = ns_leftovers + nova_leftovers(world, tmp)
    remove_dir(tmp, args.keep_logs)
    scenarios = {k: bench.results[k] for k in SCENARIOS if k in bench.results}
    result = {
        "meta": {
            **run_meta(started, load_before),
            "uptime_before": uptime_before, "uptime_after": uptime(),
            "runs": args.runs, "ns_runs": args.ns_runs,
            "cloud": world.timings, "networks": getattr(world, "cidrs", None),
            "server": "lbaas serve --config-file: Keystone auth, [network] driver = neutron, "
                      "[amphora_compute] driver = nova (availability zone of the libvirt "
                      "host), SQLite; [house_keeping] spare_amphora_pool_size 0 (cold), then "
                      "1 (spare), one after the other",
            "config_for_tcg": {
                "controller_worker.agent_timeout_s": AGENT_TIMEOUT,
                "controller_worker.amp_active_retries x amp_active_wait_sec": "600 x 1 s",
                "health_manager.heartbeat_timeout_s": args.heartbeat_timeout,
                "health_manager.heartbeat_interval_s": 1,
                "why": "a TCG guest's agent answers 30-85 s after QEMU starts on a loaded "
                       "host: lbaas's default agent_timeout (30 s) and amp_active_retries "
                       "x amp_active_wait_sec (30 x 10 s) are for KVM; with "
                       "heartbeat_timeout 3 s a healthy TCG amphora was failed over at "
                       "load 15-20 (no heartbeat while Nova hot-plugged its VIP NIC)"},
            "traffic": {"interval_s": args.interval, "timeout_s": args.request_timeout,
                        "from": "the client namespace on a Neutron port of the VIP network, "
                                "GET http://VIP/ on a new connection each",
                        "gap": "longest interval between two answers"},
            "kill": "SIGKILL of the amphora VM's QEMU process (libvirt's -uuid <server id>)",
        },
        "upstream": UPSTREAM,
        "namespace": namespace,
        "vm_over_namespace_p50": ratios(namespace, scenarios),
        "leftovers": leftovers,
        "scenarios": scenarios,
    }
    failed = any("error" in s for s in scenarios.values())
    return finish(result, args.output, outcome, leftovers, failed)

