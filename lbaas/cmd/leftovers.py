"""What `lbaas serve`'s local backends left on this host: amphora namespaces, their processes
and veths, the bridges the local compute backend made; found and removed.

Only what this state path's compute backend recorded is touched: namespaces and veths named
after the amphorae in its records, bridges whose alias is its mark (local.bridge_mark).
Another lbaas's amphorae, a user's namespaces and bridges that existed before are never
matched.
"""
import dataclasses
import os
import re

from pyroute2 import IPRoute, netns

from lbaas.drivers.amphora import compute
from lbaas.drivers.amphora.compute import local, processes


@dataclasses.dataclass
class Leftovers:
    """Everything found; empty lists when nothing is left."""

    state_dir: str
    amphorae: list   # (amphora id, namespace or None when the namespace is gone)
    processes: dict   # namespace -> [(pid, command)]
    veths: list
    bridges: list
    foreign_bridges: list   # configured bridges that exist but carry no lbaas mark: kept

    def __bool__(self):
        return bool(self.namespaces or self.veths or self.bridges or self.amphorae)

    @property
    def namespaces(self):
        """The amphora namespaces present."""
        return [ns for _, ns in self.amphorae if ns]

    def lines(self):
        """One line per object, for listing."""
        out = []
        for amphora_id, ns in self.amphorae:
            if ns is None:
                out.append(f"amphora {amphora_id}: record only (no namespace)")
                continue
            procs = ", ".join(f"{pid} {cmd}" for pid, cmd in self.processes.get(ns, []))
            out.append(f"namespace {ns} (amphora {amphora_id})"
                       + (f": processes {procs}" if procs else ""))
        out += [f"veth {name}" for name in self.veths]
        out += [f"bridge {name}" for name in self.bridges]
        return out


def _command(pid):
    """A process's program name: its module for `python -m M`, else its executable's name."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return "?"
    argv = [a.decode(errors="replace") for a in argv if a]
    if len(argv) > 2 and argv[1] == "-m":   # the agent: python -m lbaas.agent.server
        return argv[2]
    return os.path.basename(argv[0]) if argv else "?"


def _records(state_dir):
    """Amphora ids recorded by the local compute backend in state_dir."""
    if not os.path.isdir(state_dir):
        return []
    return sorted(e[:-5] for e in os.listdir(state_dir) if e.endswith(".json"))


def _configured_bridges(conf):
    names = {conf.compute_local.management_bridge}
    for raw in conf.network_local.subnet:
        for token in raw.split():
            key, _, value = token.partition("=")
            if key == "bridge" and value:
                names.add(value)
    return names


def find(conf):
    """The leftovers of the local backends configured in `conf` (its state path)."""
    state_dir = compute.local_state_dir(conf)
    spaces = set(netns.listnetns())
    with IPRoute() as ipr:
        links = {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
    amphorae, procs, stems = [], {}, []
    for amphora_id in _records(state_dir):
        try:
            stem = local.short_id(amphora_id)
        except compute.ComputeError:
            continue   # not a record of the backend's (it names every file by a uuid)
        stems.append(stem)
        ns = local.ns_name(amphora_id)
        amphorae.append((amphora_id, ns if ns in spaces else None))
        if ns in spaces:
            procs[ns] = [(pid, _command(pid)) for pid in sorted(processes.pids_in(ns))]
    veths = sorted(n for n in links if n and any(
        re.fullmatch(local.VETH_RE.format(stem=s), n) for s in stems))
    bridges = local.marked_bridges(local.bridge_mark(state_dir))
    foreign = sorted((_configured_bridges(conf) & links) - set(bridges))
    return Leftovers(state_dir, amphorae, procs, veths, bridges, foreign)


def remove(conf, found):
    """Delete the amphorae (processes, veths, namespaces, records) and the marked bridges."""
    if found.amphorae:
        backend = local.LocalCompute(
            management_bridge=conf.compute_local.management_bridge,
            management_cidr=conf.compute_local.management_cidr, state_dir=found.state_dir,
            integration_bridge=conf.compute_local.integration_bridge,
            ovs_db=conf.compute_local.ovs_db, ovs_netns=conf.compute_local.ovs_netns)
        for amphora_id, _ in found.amphorae:
            backend.delete(amphora_id)
    with IPRoute() as ipr:
        for name in found.bridges:
            for index in ipr.link_lookup(ifname=name):
                ipr.link("del", index=index)


def summary(found):
    """'2 amphora namespaces (12 processes), 2 bridges (a, b)': the counts of `found`."""
    spaces = found.namespaces
    count = sum(len(p) for p in found.processes.values())
    parts = [(f"{len(spaces)} amphora namespace{'s' * (len(spaces) != 1)} "
              f"({count} process{'es' * (count != 1)}: agents, HAProxy, keepalived)")]
    if found.bridges:
        parts.append(f"{len(found.bridges)} bridge{'s' * (len(found.bridges) != 1)} "
                     f"({', '.join(found.bridges)})")
    return " and ".join(parts)
