"""`python -m bench.amphora --network neutron`: the amphora provider's one-call graph to the
first response through the VIP with Neutron ports, against the same on the local backend
in the same run (see bench/README.md).

One run starts a cloud (bench/cloud.py: Keystone, Neutron ML2/OVN on a full OVN stack) and
the local world of bench.amphora (bench/world.py: bridges, backends). Each phase (spare:
`spare_amphora_pool_size = 1`, then cold: 0) runs two `lbaas serve` side by side: one with
the local network backend on our bridges, one with the neutron backend on the cloud
(bench/neutron_world.py: the VIP on alpha's tenant network, members on a second Neutron
subnet behind a router, amphora legs and the client on bound Neutron ports). The samples
alternate between the two (which goes first alternates too), so a drift of the shared
machine's load hits both. A sample: (wait for a READY spare,) POST LB + HTTP :80 listener
+ pool + 2 members in one call, then GET http://VIP/ on a new connection every 5 ms until
200 (from this host for local, from the client namespace for neutron), then ACTIVE, then
DELETE ?cascade. Writes bench/results/amphora-neutron.json; every exit path stops both
lbaas serve, removes the amphorae, our bridges and the cloud.
"""
import contextlib
import os
import tempfile
import time

from bench import cloud as bench_cloud
from bench.client import LB
from bench.harness import (RESULTS, cannot_run, error_text, finish, guarded,
                           interrupt_on_signals, log, rounded, run_meta, stats, version_line)
from bench.neutron_world import NeutronAmphorae, NeutronNetworks, wait_http_200
from bench.world import HAPROXY, Instance, Network, leftovers_of, unavailable

DEFAULT_RUNS = 3
PHASES = (("graph_to_first_response_spare", 1), ("graph_to_first_response_cold", 0))


def sample(inst, name, spare, wait, poll):
    """One graph: seconds POST -> first 200 through the VIP, the POST's own seconds, and
    seconds from that first 200 until the API shows ACTIVE; the LB is deleted after."""
    if spare:
        inst.wait_spare_ready(timeout=180)
    t0 = time.perf_counter()
    body, post = inst.client.call("POST", LB, inst.graph(name), expect=(201,))
    lb = body["loadbalancer"]
    wait(lb["vip_address"], 80, t0 + 180)
    first = time.perf_counter() - t0
    t1 = time.perf_counter()
    inst.wait_active(lb["id"], poll, timeout=180)
    active_after = time.perf_counter() - t1
    inst.delete(lb["id"], poll, timeout=120)
    return first, post, active_after


class Run:
    """The two worlds of one run, their lbaas serve instances and the samples."""

    def __init__(self, args, tmp):
        self.args, self.tmp = args, tmp
        self.local = Network(tmp, 2)
        self.exits = contextlib.ExitStack()
        self.parts = self.neutron = None
        self.instances = {"local": [], "neutron": []}
        self.results, self.startup = {}, {}

    def start(self):
        """The local world's backends, then the cloud and alpha's networks on it."""
        self.local.start_backends()
        log(f"local network {self.local.token}: vip {self.local.vip_cidr}, member "
            f"{self.local.member_cidr}")
        t0 = time.monotonic()
        self.parts = self.exits.enter_context(bench_cloud.cloud(os.path.join(self.tmp, "cloud")))
        self.startup["cloud_s"] = rounded(time.monotonic() - t0, 1)
        self.startup["cloud_parts_s"] = self.parts.timings
        t0 = time.monotonic()
        self.neutron = NeutronNetworks(self.parts.neutron, "bna").build()
        self.startup["neutron_networks_s"] = rounded(time.monotonic() - t0, 1)

    def phase(self, name, spare):
        """Both instances of a phase started, their samples interleaved, both stopped."""
        label = name.rsplit("_", 1)[1]
        local = Instance(self.local, self.tmp, f"local-{label}", spare)
        self.instances["local"].append(local)
        neutron = NeutronAmphorae(self.parts.neutron, self.neutron, self.tmp,
                                  f"neutron-{label}", spare)
        self.instances["neutron"].append(neutron)
        sides = {"local": (local, wait_http_200),
                 "neutron": (neutron, lambda vip, port, deadline: self.neutron.in_client(
                     wait_http_200, vip, port, deadline))}
        samples = {side: {"first": [], "post": [], "active_after": [], "loadavg_1m": []}
                   for side in sides}
        errors = {}
        for side, (inst, _) in sides.items():
            try:
                inst.start()
            except Exception as exc:
                errors[side] = f"start: {error_text(exc)}"
                log(f"{name} {side}: {errors[side]}")
        for i in range(self.args.runs):
            order = list(sides) if i % 2 == 0 else list(sides)[::-1]
            for side in order:
                if side in errors:
                    continue
                inst, wait = sides[side]
                try:
                    first, post, after = sample(inst, f"{label}-{side}-{i}", spare, wait,
                                                self.args.poll_interval)
                except Exception as exc:
                    errors[side] = f"run {i + 1}: {error_text(exc)}"
                    log(f"{name} {side}: {errors[side]}")
                    continue
                for key, value in (("first", first), ("post", post),
                                   ("active_after", after),
                                   ("loadavg_1m", os.getloadavg()[0])):
                    samples[side][key].append(value)
                log(f"{name} {side} run {i + 1}: first response {first:.3f} s")
        for inst, _ in sides.values():
            inst.stop()
        entry = {}
        for side, got in samples.items():
            entry[side] = dict(stats(got["first"]), unit="s", post=stats(got["post"]),
                               active_seen_after_first_response_s=stats(got["active_after"]),
                               loadavg_1m=[rounded(x, 2) for x in got["loadavg_1m"]])
            if side in errors:
                entry[side]["error"] = errors[side]
        n, lo = entry["neutron"].get("p50"), entry["local"].get("p50")
        entry["ratio_neutron_local_p50"] = rounded(n / lo, 2) if n and lo else None
        entry["spare_pool_size"] = spare
        self.results[name] = entry

    def stop(self):
        """Stop every lbaas serve (neutron ones before the cloud), the cloud, the bridges;
        -> what is left of the neutron side and the cloud."""
        left = []
        for inst in self.instances["local"] + self.instances["neutron"]:
            try:
                inst.stop()
            except Exception as exc:
                log(f"stopping {inst.label}: {exc}")
        for inst in self.instances["neutron"]:
            left += inst.leftovers()
        if self.neutron is not None:
            self.neutron.close()
        try:
            self.exits.close()
        except Exception as exc:   # the OVN stack says what it left behind
            left.append(f"cloud: {error_text(exc)}")
        try:
            self.local.stop()
        except Exception as exc:
            log(f"network teardown: {exc}")
        return left


def main(args):
    """The Neutron mode: run, tear down, print and write the JSON; -> the exit status."""
    reason = unavailable(wrk=False) or bench_cloud.unavailable()
    if reason:
        return cannot_run("bench.amphora --network neutron", reason)
    if args.runs is None:
        args.runs = DEFAULT_RUNS
    if args.output == str(RESULTS / "amphora-latest.json"):
        args.output = str(RESULTS / "amphora-neutron.json")
    started, load_before = time.time(), os.getloadavg()
    interrupt_on_signals()
    tmp = tempfile.mkdtemp(prefix="lbaas-amp-neutron-")
    run, neutron_left = Run(args, tmp), []
    with guarded(lambda: neutron_left.extend(run.stop())) as outcome:
        run.start()
        for name, spare in PHASES:
            if not args.only or name in args.only:
                log(f"{name} ...")
                run.phase(name, spare)
    _, local_left = leftovers_of(run.instances["local"], run.local, tmp, args.keep_logs)
    leftovers = local_left + neutron_left
    result = {
        "meta": {
            **run_meta(started, load_before),
            "haproxy": version_line([HAPROXY, "-v"]),
            "runs": args.runs, "poll_interval_s": args.poll_interval,
            "server": "two lbaas serve --config-file per phase, side by side (amphora "
                      "provider, local compute, SQLite): `local` with the local network "
                      "backend on our bridges; `neutron` with the neutron backend, Keystone "
                      "auth, amphora legs on bound Neutron ports (br-int of the cloud's OVN "
                      "stack)",
            "probe": "GET http://VIP/ on a new connection every 5 ms (250 ms timeout): from "
                     "this host (local), from a namespace on a Neutron port of the VIP "
                     "network (neutron)",
            "startup": run.startup,
        },
        "ratios": {name: e.get("ratio_neutron_local_p50") for name, e in run.results.items()},
        "leftovers": leftovers,
        "scenarios": run.results,
    }
    failed = any("error" in e.get(s, {}) for e in run.results.values()
                 for s in ("local", "neutron"))
    return finish(result, args.output, outcome, leftovers, failed)
