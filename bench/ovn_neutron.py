"""`python -m bench.ovn --network neutron`: the OVN provider's one-call graph to the first
connection through the VIP from a Neutron network, beside the same on the suite's own OVN
stack in the same run (see bench/README.md).

One run starts bench.ovn's world (its own OVN stack, backends, `lbaas serve` with the local
network backend) and a cloud (bench/cloud.py: Keystone, Neutron ML2/OVN on a second, full
OVN stack) with alpha's networks on it (bench/neutron_world.py: a VIP network and a member
network behind a router, a client and two members on bound Neutron ports) and `lbaas serve`
with provider ovn and the neutron network backend on Neutron's NB/SB. Scenario `graph`
(own stack) and `graph_neutron` run interleaved, `--runs` times each, with the same probes
(bench.ovn: the NB watcher, a connect every 2 ms from the client namespace, the ACTIVE
poll). Writes bench/results/ovn-neutron.json; every exit path deletes the load balancers,
stops both lbaas serve, the cloud and the own stack, and lists anything left behind.
"""
import contextlib
import os
import tempfile
import time
import types

from bench import cloud as bench_cloud
from bench.harness import (RESULTS, cannot_run, error_text, finish, guarded,
                           interrupt_on_signals, log, remove_dir, rounded, run_meta, version_line)
from bench.neutron_world import NeutronNetworks, OvnOnNeutron
from bench.ovn import BACKEND_PORT, Bench, FirstConnect, NbWatch
from testbed import ovn_stack

DEFAULT_RUNS = 3
KEYS = ("to_201", "to_nb_commit", "to_active", "to_first_connection")


class NeutronBench(Bench):
    """bench.ovn's graph scenario against lbaas on Neutron: the cloud's NB, alpha's subnets,
    members and client namespace, calls with alpha-member's token."""

    def __init__(self, args, stack, networks, service):
        self.args, self.stack, self.networks = args, stack, networks
        self.cloud = types.SimpleNamespace(vip_subnet_id=networks.vip_subnet_id,
                                           member_subnet_id=networks.member_subnet_id)
        self.client = service.client
        self.results = {}
        self.be = networks.members
        self.members = [f"{vm.ip}:{BACKEND_PORT}" for vm in self.be]

    def _probes(self):
        watch = NbWatch(self.stack.nb)
        watch.start()
        if not watch.ready.wait(10):
            raise RuntimeError("the NB watcher did not connect")
        probe = FirstConnect(self.networks.client.netns)
        probe.start()
        return watch, probe


class Run:
    """The own OVN stack with its lbaas, the cloud with its lbaas; their scenarios."""

    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.stack = ovn_stack.OvnStack(os.path.join(tmp, "ovn"),
                                        prefix=f"lbb{os.getpid() % 4096:03x}")
        self.exits = contextlib.ExitStack()
        self.own = self.own_bench = self.networks = self.service = None
        self.startup = {}

    def start(self):
        """bench.ovn's stack, backends and lbaas; the cloud, alpha's networks, lbaas on it."""
        t0 = time.monotonic()
        self.stack.start()
        for k in (1, 2):
            self.stack.backend(k).start_tcp(BACKEND_PORT)
        self.own = ovn_stack.OvnCloud(self.stack, os.path.join(self.tmp, "lbaas")).start()
        self.startup["own_stack_and_lbaas_s"] = rounded(time.monotonic() - t0, 1)
        t0 = time.monotonic()
        parts = self.exits.enter_context(bench_cloud.cloud(os.path.join(self.tmp, "cloud")))
        self.startup["cloud_s"] = rounded(time.monotonic() - t0, 1)
        self.startup["cloud_parts_s"] = parts.timings
        t0 = time.monotonic()
        self.networks = NeutronNetworks(parts.neutron, "bno").build()
        self.service = OvnOnNeutron(parts.neutron, os.path.join(self.tmp, "lbaas-neutron"),
                                    ovn_stack.SYNC_INTERVAL).start()
        self.startup["neutron_networks_and_lbaas_s"] = rounded(time.monotonic() - t0, 1)
        self.own_bench = Bench(self.args, self.stack, self.own)
        return NeutronBench(self.args, parts.neutron.stack, self.networks, self.service)

    def stop(self):
        """Delete and stop on both sides (each step even if another fails); -> leftovers."""
        left = []
        if self.service is not None:
            try:
                self.service.delete_all()
            except Exception as exc:
                log(f"deleting the neutron side's load balancers: {exc}")
            self.service.stop()
        if self.networks is not None:
            self.networks.close()
        try:
            self.exits.close()
        except Exception as exc:   # the cloud's OVN stack says what it left behind
            left.append(f"cloud: {error_text(exc)}")
        if self.own is not None:
            try:
                self.own.delete_all()
            except Exception as exc:
                log(f"deleting the own stack's load balancers: {exc}")
            self.own.stop()
        return left + self.stack.stop(check=False)


def ratios(results):
    """graph_neutron p50 / graph p50 for each timing both have."""
    found = {}
    for key in KEYS:
        x = results.get("graph_neutron", {}).get(key, {}).get("p50")
        y = results.get("graph", {}).get(key, {}).get("p50")
        if x and y:
            found[key] = {"neutron_p50_s": x, "own_ovn_p50_s": y, "ratio": rounded(x / y, 2)}
    return found


def main(args):
    """The Neutron mode: run, tear down, print and write the JSON; -> the exit status."""
    reason = (ovn_stack.unavailable() or ovn_stack.provider_missing()
              or bench_cloud.unavailable())
    if reason:
        return cannot_run("bench.ovn --network neutron", reason)
    if args.runs is None:
        args.runs = DEFAULT_RUNS
    if args.output == str(RESULTS / "ovn-latest.json"):
        args.output = str(RESULTS / "ovn-neutron.json")
    started, load_before = time.time(), os.getloadavg()
    interrupt_on_signals()
    tmp = tempfile.mkdtemp(prefix="lbaas-ovn-neutron-")
    run, leftovers = Run(args, tmp), []
    with guarded(lambda: leftovers.extend(run.stop())) as outcome:
        neutron = run.start()
        log(f"started: {run.startup}")
        run.own_bench.run([("graph", run.own_bench.graph),
                           ("graph_neutron", neutron.graph)], args.runs)
    remove_dir(tmp, args.keep_logs)
    results = run.own_bench.results if run.own_bench else {}
    result = {
        "meta": {
            **run_meta(started, load_before),
            "ovn": version_line(["ovn-nbctl", "--version"]),
            "runs": args.runs, "poll_interval_s": args.poll_interval,
            "server": "two lbaas serve --config-file (provider ovn, SQLite, sync_interval "
                      f"{ovn_stack.SYNC_INTERVAL}): `graph` with the local network backend on "
                      "the own OVN stack, no auth; `graph_neutron` with the neutron network "
                      "backend and Keystone auth on Neutron's NB/SB",
            "datapath": "ovs-vswitchd userspace (netdev) in its own netns, one chassis, per "
                        "stack",
            "startup": run.startup,
        },
        "ratios_neutron_over_own": ratios(results),
        "leftovers": leftovers,
        "scenarios": results,
    }
    failed = any("error" in e for e in results.values())
    return finish(result, args.output, outcome, leftovers, failed)
