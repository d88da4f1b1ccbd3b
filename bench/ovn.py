"""End-to-end benchmark of the OVN provider on a real OVN data plane (see bench/README.md).

Run as root: `python -m bench.ovn`. Starts the OVN stack the tests use
(testbed/ovn_stack.py: NB/SB ovsdb-servers, ovn-northd, ovs-vswitchd with the userspace
datapath in its own namespace, ovn-controller, a router with a client and a member switch,
backends in namespaces) and `lbaas serve --config-file` with provider `ovn` (SQLite in a
temporary state dir, a free port). Prints one JSON document on stdout and writes it to
bench/results/ovn-latest.json. Every scenario fails soft; the stack, its namespaces and lbaas
are removed on every exit path (errors, Ctrl-C, SIGTERM), and the JSON lists anything left
behind.

Timing probes, all started before the request is sent:
  nb       a single-threaded IDL watching NB's Load_Balancer table: the moment a new row
           with the VIP and every expected backend appears (the commit, seen from NB)
  traffic  a thread in the client namespace sending a new non-blocking connect to VIP:80
           every 2 ms (a new source port each time, each given 50 ms): the first accepted
           connection (lbaas: probing starts when the 201 gives the VIP)
  active   GET of the load balancer (or pool) every --poll-interval s until ACTIVE

Scenarios (each --runs times; min/p50/max):
  graph             one POST of LB + TCP :80 listener + pool (SOURCE_IP_PORT) + 2 members:
                    seconds to 201, to NB commit, to ACTIVE, to the first connection
  graph_baseline    the same load balancer written straight to NB with ovsdbapp in one
                    transaction (row + both switches + router): to commit, to first
                    connection. Ratios lbaas/baseline are in "ratios"
  members_1000      PUT /pools/{id}/members with 1,000 members (2 backend IPs x 500 ports)
                    into an empty pool, then a second PUT replacing them by 1,000 others:
                    to pool ACTIVE and to NB holding exactly those 1,000 backends
  members_baseline  the same two updates as one ovsdbapp db_set of `vips` each
"""
import argparse
import os
import socket
import sys
import tempfile
import threading
import time
import warnings

from bench.client import LB, Client
from bench.harness import (add_output_args, cannot_run, debug_traceback, error_text, finish,
                           guarded, interrupt_on_signals, log, remove_dir, rounded, run_meta,
                           stats, version_line)
from testbed import ovn_stack
from testbed.backends import setns

warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
BACKEND_PORT = 8080
VIP_PORT = 80
BATCH_PORTS = (20000, 21000)    # members_1000: ports 20000.. of be1 and be2 (then 21000..)


# --------------------------------------------------------------------------------------------
# Probes


class NbWatch(threading.Thread):
    """Follow NB's Load_Balancer rows; report when a new row maps `vip_key` to `backends`."""

    def __init__(self, remote, vip_key=None, backends=(), timeout=60.0):
        super().__init__(daemon=True)
        from ovs.db import idl as ovs_idl
        from ovsdbapp.backend.ovs_idl import idlutils
        helper = idlutils.get_schema_helper(remote, "OVN_Northbound")
        helper.register_table("Load_Balancer")
        self.idl = ovs_idl.Idl(remote, helper)
        self.vip_key, self.backends, self.timeout = vip_key, set(backends), timeout
        self.ready, self.stop_event = threading.Event(), threading.Event()
        self.seen_at = None
        self.known = None

    def expect(self, vip_key, backends):
        """Set what to wait for (the VIP may only be known after the POST answered)."""
        self.vip_key, self.backends = vip_key, set(backends)

    def _match(self):
        for uuid, row in self.idl.tables["Load_Balancer"].rows.items():
            vips = dict(row.vips)
            for key, value in vips.items():
                if self.vip_key not in (None, key):
                    continue
                got = {b for b in value.split(",") if b}
                if got == self.backends and (self.vip_key or uuid not in self.known):
                    return True
        return False

    def run(self):
        from ovs import poller as ovs_poller
        deadline = time.perf_counter() + self.timeout
        while not self.stop_event.is_set() and time.perf_counter() < deadline:
            self.idl.run()
            if self.known is None and self.idl.has_ever_connected():
                self.known = set(self.idl.tables["Load_Balancer"].rows)
                self.ready.set()
            if self.known is not None and self.backends and self._match():
                self.seen_at = time.perf_counter()
                return
            poll = ovs_poller.Poller()
            self.idl.wait(poll)
            poll.timer_wait(5)
            poll.block()

    def close(self):
        self.stop_event.set()
        self.join(5)
        self.idl.close()


class FirstConnect(threading.Thread):
    """From inside a namespace, a new non-blocking connect to vip:port every 2 ms (each
    attempt given 50 ms): the moment the first one is accepted (2 ms resolution)."""

    def __init__(self, netns, vip=None, port=VIP_PORT, timeout=30.0):
        super().__init__(daemon=True)
        self.netns, self.vip, self.port, self.timeout = netns, vip, port, timeout
        self.ok_at, self.attempts, self.refused = None, 0, 0
        self.go = threading.Event()

    def run(self):
        import errno
        import select
        setns(self.netns)
        self.go.wait(self.timeout)
        deadline = time.perf_counter() + self.timeout
        pending = {}                            # socket -> time sent
        try:
            while time.perf_counter() < deadline:
                sock = socket.socket()
                sock.setblocking(False)
                code = sock.connect_ex((self.vip, self.port))
                self.attempts += 1
                if code not in (0, errno.EINPROGRESS):
                    sock.close()
                else:
                    pending[sock] = time.perf_counter()
                _r_, ready, _x = select.select([], list(pending), [], 0.002)
                now = time.perf_counter()
                for s in ready:
                    if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                        self.ok_at = now
                        return
                    self.refused += 1
                    del pending[s]
                    s.close()
                for s, sent in list(pending.items()):
                    if now - sent > 0.05:
                        del pending[s]
                        s.close()
        finally:
            for s in pending:
                s.close()

    def start_probing(self, vip):
        self.vip = vip
        self.go.set()


# --------------------------------------------------------------------------------------------
# Scenarios


class Bench:
    """The scenarios, against one OVN stack and one lbaas serve."""

    def __init__(self, args, stack, cloud):
        self.args, self.stack, self.cloud = args, stack, cloud
        self.client = Client(cloud.port)
        self.results = {}
        self.be = [stack.backend(1), stack.backend(2)]
        self.members = [f"{vm.ip}:{BACKEND_PORT}" for vm in self.be]
        self._nb_api = None
        self.baseline_k = 150

    def run(self, scenarios, runs):
        """Run the (name, fn) pairs interleaved `runs` times (so load drift hits them alike);
        gather each fn's dict of seconds into min/p50/max per key. A failure ends that
        scenario only."""
        scenarios = [(n, fn) for n, fn in scenarios if not self.args.only or n in self.args.only]
        samples = {name: {} for name, _ in scenarios}
        errors = {}
        for i in range(runs):
            for name, fn in scenarios:
                if name in errors:
                    continue
                try:
                    for key, value in fn().items():
                        samples[name].setdefault(key, []).append(value)
                except Exception as exc:
                    errors[name] = f"run {i + 1}: {error_text(exc)}"
                    log(f"{name}: {errors[name]}")
                    debug_traceback()
        for name, _ in scenarios:
            entry = {k: stats(v) for k, v in samples[name].items()}
            if name in errors:
                entry["error"] = errors[name]
            self.results[name] = entry
            log(f"{name}: " + ", ".join(f"{k} p50 {v.get('p50')}" for k, v in entry.items()
                                        if isinstance(v, dict)))

    def nb_api(self):
        if self._nb_api is None:
            from ovsdbapp.backend.ovs_idl import connection
            from ovsdbapp.schema.ovn_northbound import impl_idl
            idl = connection.OvsdbIdl.from_server(self.stack.nb, "OVN_Northbound")
            self._nb_api = impl_idl.OvnNbApiIdlImpl(connection.Connection(idl=idl, timeout=30))
        return self._nb_api

    def _probes(self):
        watch = NbWatch(self.stack.nb)
        watch.start()
        if not watch.ready.wait(10):
            raise RuntimeError("the NB watcher did not connect")
        probe = FirstConnect(self.stack.client.netns)
        probe.start()
        return watch, probe

    def graph(self):
        """POST the graph; seconds to 201, NB commit, ACTIVE, first connection."""
        listener = {"name": "tcp-80", "protocol": "TCP", "protocol_port": VIP_PORT,
                    "default_pool": {"name": "p", "protocol": "TCP",
                                     "lb_algorithm": "SOURCE_IP_PORT", "members": [
                                         {"address": vm.ip, "protocol_port": BACKEND_PORT,
                                          "subnet_id": self.cloud.member_subnet_id}
                                         for vm in self.be]}}
        body = {"loadbalancer": {"name": "bench-graph", "vip_subnet_id":
                                 self.cloud.vip_subnet_id, "listeners": [listener]}}
        watch, probe = self._probes()
        try:
            watch.expect(None, self.members)
            t0 = time.perf_counter()
            lb, _ = self.client.call("POST", LB, body, expect=(201,))
            t201 = time.perf_counter()
            lb = lb["loadbalancer"]
            probe.start_probing(lb["vip_address"])
            active = self._until_active(f"{LB}/{lb['id']}", "loadbalancer")
            probe.join(30)
            watch.join(30)
            if probe.ok_at is None or watch.seen_at is None:
                raise RuntimeError(f"no connection ({probe.attempts} attempts) or no NB row "
                                   f"(seen: {watch.seen_at})")
            result = {"to_201": t201 - t0, "to_nb_commit": watch.seen_at - t0,
                      "to_active": active - t0, "to_first_connection": probe.ok_at - t0}
        finally:
            watch.close()
        self._delete(lb["id"])
        return result

    def graph_baseline(self):
        """The same load balancer in one ovsdbapp transaction: to commit, to first connection."""
        api = self.nb_api()
        self.baseline_k += 1
        vip = self.stack.host(self.stack.vip_cidr, self.baseline_k)  # outside lbaas's range
        name = f"baseline-{self.baseline_k}"
        watch, probe = self._probes()
        try:
            watch.expect(f"{vip}:{VIP_PORT}", self.members)
            probe.start_probing(vip)
            t0 = time.perf_counter()
            with api.transaction(check_error=True) as txn:
                row = txn.add(api.db_create(
                    "Load_Balancer", name=name, protocol="tcp",
                    vips={f"{vip}:{VIP_PORT}": ",".join(self.members)},
                    selection_fields=["ip_src", "ip_dst", "tp_src", "tp_dst"],
                    external_ids={"bench": "baseline"}))
                for switch in (self.stack.client_switch, self.stack.member_switch):
                    txn.add(api.ls_lb_add(switch, row, may_exist=True))
                txn.add(api.lr_lb_add(self.stack.router, row, may_exist=True))
            committed = time.perf_counter()
            probe.join(30)
            watch.join(30)
            if probe.ok_at is None:
                raise RuntimeError(f"no connection after {probe.attempts} attempts")
            result = {"to_nb_commit": committed - t0, "to_first_connection": probe.ok_at - t0}
        finally:
            watch.close()
        api.lb_del(name, if_exists=True).execute(check_error=True)
        return result

    def _until_active(self, path, key, timeout=120.0):
        """Poll path until its object is ACTIVE; the perf_counter time it was seen so."""
        deadline = time.perf_counter() + timeout
        while True:
            body, _ = self.client.call("GET", path)
            status = body[key]["provisioning_status"]
            if status == "ACTIVE":
                return time.perf_counter()
            if status == "ERROR" or time.perf_counter() > deadline:
                raise RuntimeError(f"{path}: {status}")
            time.sleep(self.args.poll_interval)

    def _delete(self, lb_id):
        self.client.call("DELETE", f"{LB}/{lb_id}?cascade=true", expect=(204,))
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            status, _, _ = self.client.raw("GET", f"{LB}/{lb_id}")
            if status == 404:
                return
            time.sleep(0.02)
        raise RuntimeError(f"load balancer {lb_id} not deleted after 60 s")

    def _batch(self, base):
        return [{"address": vm.ip, "protocol_port": base + i,
                 "subnet_id": self.cloud.member_subnet_id}
                for vm in self.be for i in range(500)]

    def members_1000(self):
        """PUT 1,000 members into an empty pool, then replace them: to ACTIVE and to NB."""
        listener = {"name": "tcp-80", "protocol": "TCP", "protocol_port": VIP_PORT,
                    "default_pool": {"name": "p", "protocol": "TCP",
                                     "lb_algorithm": "SOURCE_IP_PORT"}}
        body = {"loadbalancer": {"name": "bench-batch", "vip_subnet_id":
                                 self.cloud.vip_subnet_id, "listeners": [listener]}}
        lb, _ = self.client.call("POST", LB, body, expect=(201,))
        lb = lb["loadbalancer"]
        self._until_active(f"{LB}/{lb['id']}", "loadbalancer")
        full, _ = self.client.call("GET", f"{LB}/{lb['id']}")
        pool_id = full["loadbalancer"]["pools"][0]["id"]
        vip_key = f"{lb['vip_address']}:{VIP_PORT}"
        result = {}
        try:
            for label, base in (("create", BATCH_PORTS[0]), ("replace", BATCH_PORTS[1])):
                members = self._batch(base)
                watch = NbWatch(self.stack.nb, timeout=120)
                watch.expect(vip_key, {f"{m['address']}:{m['protocol_port']}" for m in members})
                watch.start()
                watch.ready.wait(10)
                try:
                    t0 = time.perf_counter()
                    self.client.call("PUT", f"/v2/lbaas/pools/{pool_id}/members",
                                     {"members": members}, expect=(202,))
                    t202 = time.perf_counter()
                    active = self._until_active(f"/v2/lbaas/pools/{pool_id}", "pool")
                    watch.join(120)
                    if watch.seen_at is None:
                        raise RuntimeError("NB never held the 1,000 backends")
                finally:
                    watch.close()
                result.update({f"{label}_to_202": t202 - t0, f"{label}_to_active": active - t0,
                               f"{label}_to_nb": watch.seen_at - t0})
        finally:
            self._delete(lb["id"])
        return result

    def members_baseline(self):
        """The same two updates as one ovsdbapp db_set of `vips` each: to commit."""
        api = self.nb_api()
        self.baseline_k += 1
        vip_key = f"{self.stack.host(self.stack.vip_cidr, self.baseline_k)}:{VIP_PORT}"
        name = f"baseline-batch-{self.baseline_k}"
        api.lb_add(name, vip_key, self.members, protocol="tcp").execute(check_error=True)
        lb = api.lb_get(name).execute(check_error=True)
        result = {}
        try:
            for label, base in (("create", BATCH_PORTS[0]), ("replace", BATCH_PORTS[1])):
                backends = ",".join(f"{m['address']}:{m['protocol_port']}"
                                    for m in self._batch(base))
                t0 = time.perf_counter()
                api.db_set("Load_Balancer", lb.uuid,
                           ("vips", {vip_key: backends})).execute(check_error=True)
                result[f"{label}_to_nb"] = time.perf_counter() - t0
        finally:
            api.lb_del(name, if_exists=True).execute(check_error=True)
        return result


def ratios(results):
    """lbaas p50 / baseline p50 where both were measured in this run."""
    pairs = {"graph_to_nb_commit": ("graph", "to_nb_commit", "graph_baseline", "to_nb_commit"),
             "graph_to_first_connection": ("graph", "to_first_connection", "graph_baseline",
                                           "to_first_connection"),
             "members_create_to_nb": ("members_1000", "create_to_nb", "members_baseline",
                                      "create_to_nb"),
             "members_replace_to_nb": ("members_1000", "replace_to_nb", "members_baseline",
                                       "replace_to_nb")}
    found = {}
    for label, (a, ka, b, kb) in pairs.items():
        x = results.get(a, {}).get(ka, {}).get("p50")
        y = results.get(b, {}).get(kb, {}).get("p50")
        if x and y:
            found[label] = {"lbaas_p50_s": x, "baseline_p50_s": y, "ratio": rounded(x / y, 2)}
    return found


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, help="runs of each graph scenario (default 5; 3 "
                        "with --network neutron)")
    parser.add_argument("--network", choices=("local", "neutron"), default="local",
                        help="neutron: the graph from a Neutron network beside the own OVN "
                        "stack's, same run (bench/ovn_neutron.py)")
    parser.add_argument("--batch-runs", type=int, default=3, help="runs of the member batches")
    parser.add_argument("--poll-interval", type=float, default=0.005)
    parser.add_argument("--only", type=lambda s: set(s.split(",")), default=None)
    add_output_args(parser, "ovn-latest.json")
    return parser.parse_args(argv)


def run_scenarios(args, tmp, stack, parts, startup):
    """The OVN stack, its backends and lbaas serve (parts["cloud"]), then the scenarios
    (parts["bench"]); startup: how long each part took to start."""
    t0 = time.monotonic()
    stack.start()
    startup["ovn_stack_s"] = rounded(time.monotonic() - t0, 3)
    startup["ovn_stack_phases_s"] = {k: rounded(v, 3) for k, v in stack.timings.items()}
    t0 = time.monotonic()
    for k in (1, 2):
        stack.backend(k).start_tcp(BACKEND_PORT)
    startup["backends_s"] = rounded(time.monotonic() - t0, 3)
    t0 = time.monotonic()
    cloud = parts["cloud"] = ovn_stack.OvnCloud(stack, os.path.join(tmp, "lbaas")).start()
    startup["lbaas_serve_s"] = rounded(time.monotonic() - t0, 3)
    log(f"stack up: {startup}")
    bench = parts["bench"] = Bench(args, stack, cloud)
    bench.run([("graph", bench.graph), ("graph_baseline", bench.graph_baseline)], args.runs)
    bench.run([("members_1000", bench.members_1000),
               ("members_baseline", bench.members_baseline)], args.batch_runs)


def stop(stack, parts):
    """Delete every load balancer, stop lbaas serve and the stack; parts["leftovers"]."""
    cloud = parts.get("cloud")
    if cloud is not None:
        try:
            cloud.delete_all()
        except Exception as exc:
            log(f"deleting load balancers: {exc}")
        cloud.stop()
    parts["leftovers"] = stack.stop(check=False)


def main(argv=None):
    args = parse_args(sys.argv[1:] if argv is None else argv)
    if args.network == "neutron":
        from bench import ovn_neutron
        return ovn_neutron.main(args)
    args.runs = args.runs or 5
    started = time.time()
    reason = ovn_stack.unavailable() or ovn_stack.provider_missing()
    if reason:
        return cannot_run("bench.ovn", reason)
    interrupt_on_signals()
    tmp = tempfile.mkdtemp(prefix="lbaas-ovn-bench-")
    load_before = os.getloadavg()
    stack = ovn_stack.OvnStack(os.path.join(tmp, "ovn"), prefix=f"lbb{os.getpid() % 4096:03x}")
    parts, startup = {}, {}
    with guarded(lambda: stop(stack, parts)) as outcome:
        run_scenarios(args, tmp, stack, parts, startup)
    leftovers = parts["leftovers"]
    remove_dir(tmp, args.keep_logs)
    bench = parts.get("bench")
    results = bench.results if bench else {}
    result = {
        "meta": {
            **run_meta(started, load_before),
            "ovn": version_line(["ovn-nbctl", "--version"]),
            "ovs": version_line(["ovs-vswitchd", "--version"]),
            "runs": args.runs, "batch_runs": args.batch_runs,
            "poll_interval_s": args.poll_interval,
            "server": "lbaas serve --config-file (provider ovn, local network, SQLite)",
            "datapath": "ovs-vswitchd userspace (netdev) in its own netns, one chassis",
            "startup": startup,
        },
        "ratios": ratios(results),
        "leftovers": leftovers,
        "scenarios": results,
    }
    return finish(result, args.output, outcome, leftovers)


if __name__ == "__main__":
    sys.exit(main())
