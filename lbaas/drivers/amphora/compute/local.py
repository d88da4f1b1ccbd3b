"""The local compute backend: an amphora is a Linux network namespace wired with pyroute2.

Names: namespace `amp-<10 hex>`; host-side veth ends `a<10 hex>m` (management) and
`a<10 hex>n<k>` (plugged networks), inside `mgmt0` and `eth<k>`: all within IFNAMSIZ (15).
State (one JSON file per amphora, process logs) lives in `state_dir`. A bridge this backend
creates carries the alias `lbaas <state_dir>` (bridge_mark), so `lbaas cleanup` removes
exactly the bridges it made, never one that was there before.

An interface on a network port (Network.port_id: the neutron backend's) is a veth whose
host end is an Open vSwitch port of `integration_bridge` with external_ids:iface-id = the
port id, in `ovs_netns` (where ovs-vswitchd's ports live; default this host's namespace),
and whose inner end has the port's MAC: ovn-controller binds the port and OVN carries its
traffic. On a userspace (netdev) datapath both ends have TX checksum offload off
(vswitchd reads a veth over AF_PACKET and would see partial checksums).
"""
import contextlib
import fcntl
import hashlib
import ipaddress
import json
import os
import re
import shutil
import socket
import subprocess

from pyroute2 import IPRoute, NetlinkError, NetNS, config, netns

from lbaas.core import private
from lbaas.drivers.amphora.compute import (AmphoraNotFound, ComputeBackend, ComputeError,
                                           Instance, Interface, Network, processes)

# NetNS forks a helper that pyroute2 ends with SIGTERM; let it die of it, rather than run
# the signal handler of the process that forked it (lbaas serve's shuts the API down).
config.disable_mp_signal = True

MGMT_IFNAME = "mgmt0"
EEXIST = 17
IFALIASZ = 256   # the kernel's limit of a link's alias, its NUL included
VETH_RE = r"a{stem}(m|n\d+)"   # the host ends of an amphora's veths, by short_id


def short_id(amphora_id):
    """The first 10 alphanumerics of an amphora id, lower-cased: the stem of every name."""
    stem = re.sub(r"[^0-9a-z]", "", amphora_id.lower())[:10]
    if len(stem) < 4:
        raise ComputeError(f"amphora id {amphora_id!r} is too short to name a namespace")
    return stem


def ns_name(amphora_id):
    """The network namespace of an amphora."""
    return f"amp-{short_id(amphora_id)}"


def bridge_mark(state_dir):
    """The alias of the bridges made by the backend keeping its state in `state_dir`."""
    mark = f"lbaas {os.path.abspath(state_dir)}"
    if len(mark.encode()) < IFALIASZ:
        return mark
    return "lbaas sha256:" + hashlib.sha256(os.path.abspath(state_dir).encode()).hexdigest()


def marked_bridges(mark):
    """Names of this host's bridges whose alias is `mark`."""
    with IPRoute() as ipr:
        links = ipr.get_links()
    found = []
    for link in links:
        info = link.get_attr("IFLA_LINKINFO")
        if info is not None and info.get_attr("IFLA_INFO_KIND") == "bridge" \
                and link.get_attr("IFLA_IFALIAS") == mark:
            found.append(link.get_attr("IFLA_IFNAME"))
    return sorted(found)


def ensure_bridge(ipr, name, address=None, mark=None):
    """Create Linux bridge `name` if missing, set it up, add `address` (ip/prefix) if given.

    A bridge created here gets the alias `mark` (if given); one found is left unmarked.

    The bridge's MAC address is pinned (set explicitly to its current value): otherwise
    Linux gives a bridge the lowest MAC of its ports, so deleting one amphora changed the
    MAC of this host's address on the bridge, and every other amphora's ARP entry for it
    went stale. Their heartbeats then went nowhere until the controller happened to
    contact them, and healthy amphorae were failed over (seen when a pair was deleted).
    """
    if len(name) > 15:
        raise ComputeError(f"bridge name {name!r} is longer than 15 characters")
    if not ipr.link_lookup(ifname=name):
        try:
            ipr.link("add", ifname=name, kind="bridge")
            if mark:
                ipr.link("set", index=ipr.link_lookup(ifname=name)[0], ifalias=mark)
        except NetlinkError as exc:
            if exc.code != EEXIST:
                raise
    index = ipr.link_lookup(ifname=name)[0]
    mac = ipr.get_links(index)[0].get_attr("IFLA_ADDRESS")
    ipr.link("set", index=index, address=mac, state="up")
    if address:
        ip, prefix = address.split("/")
        have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
        if ip not in have:
            ipr.addr("add", index=index, address=ip, prefixlen=int(prefix))
    return index


def _link_mac(ns, ifname):
    """The MAC address of `ifname` in NetNS `ns`."""
    index = ns.link_lookup(ifname=ifname)[0]
    return ns.get_links(index)[0].get_attr("IFLA_ADDRESS")


class LocalCompute(ComputeBackend):
    """Amphorae as network namespaces on this host, wired to Linux bridges with veth pairs."""

    def __init__(self, management_bridge="lbaas-mgmt", management_cidr="172.31.255.0/24",
                 state_dir=None, stop_timeout=5.0, integration_bridge="br-int", ovs_db="",
                 ovs_netns="", host="", **_):
        self.integration_bridge, self.ovs_db = integration_bridge, ovs_db
        self.ovs_netns, self.host = ovs_netns or None, host or socket.gethostname()
        self.bridge = management_bridge
        self.network = ipaddress.ip_network(management_cidr)
        self.gateway = f"{next(self.network.hosts())}/{self.network.prefixlen}"
        self.state_dir = state_dir or "/var/lib/lbaas/amphorae"
        self.stop_timeout = stop_timeout
        self.mark = bridge_mark(self.state_dir)
        private.ensure_dir(self.state_dir)  # records name project addresses: 0700

    def prepare(self):
        """Make the management bridge and put the host's address on it (idempotent)."""
        with IPRoute() as ipr:
            ensure_bridge(ipr, self.bridge, self.gateway, self.mark)

    # -- state -------------------------------------------------------------------------
    def _path(self, amphora_id, suffix=".json"):
        return os.path.join(self.state_dir, amphora_id + suffix)

    @contextlib.contextmanager
    def _locked(self):
        with open(os.path.join(self.state_dir, ".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            self._sweep_orphans()
            yield

    def _sweep_orphans(self):
        """Remove what writers killed mid-write left (write_atomic's temporary files): every
        record is written under the lock, and a dead process holds no lock, so no write is
        in progress while it is held."""
        for entry in os.listdir(self.state_dir):
            if entry.startswith(private.TEMP_PREFIX):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(self.state_dir, entry))

    def _read(self, amphora_id):
        try:
            with open(self._path(amphora_id)) as f:
                return json.load(f)
        except FileNotFoundError:
            return None

    def _write(self, record):
        private.write_atomic(self._path(record["amphora_id"]), json.dumps(record).encode())

    def _records(self):
        for entry in sorted(os.listdir(self.state_dir)):
            if entry.endswith(".json"):
                record = self._read(entry[:-5])
                if record:
                    yield record

    def _allocate_ip(self):
        used = {r["management_ip"] for r in self._records()}
        used.add(self.gateway.split("/")[0])
        for host in self.network.hosts():
            if str(host) not in used:
                return str(host)
        raise ComputeError(f"management network {self.network} is full",
                           "No address is left for a new amphora.")

    def files_dir(self, amphora_id):
        """Where an amphora's delivered files and its processes' run-time state live."""
        return os.path.join(self.state_dir, short_id(amphora_id))

    def _instance(self, record):
        ifaces = tuple(Interface(**i) for i in record["interfaces"])
        return Instance(record["amphora_id"], record["name"], record["management_ip"], ifaces,
                        self.files_dir(record["amphora_id"]))

    def _deliver(self, amphora_id, files):
        """Write the amphora's files (0600) under files_dir; refuse paths that escape it."""
        base = self.files_dir(amphora_id)
        os.makedirs(base, mode=0o700, exist_ok=True)
        for rel, data in (files or {}).items():
            path = os.path.normpath(os.path.join(base, rel))
            if not path.startswith(base + os.sep):
                raise ComputeError(f"file {rel!r} would land outside {base}")
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            private.write_atomic(path, data)

    # -- contract ----------------------------------------------------------------------
    def create(self, amphora_id, management=None, files=None):
        """Create namespace, management veth and address, deliver files; idempotent; -> Instance."""
        name = ns_name(amphora_id)
        with self._locked():
            record = self._read(amphora_id)
            if record and name in netns.listnetns():
                self._deliver(amphora_id, files)
                return self._instance(record)
            owner = self._owner(name)
            if owner not in (None, amphora_id):
                raise ComputeError(f"namespace {name} already belongs to amphora {owner}")
            self._teardown(amphora_id)
            bridge = management.bridge if management else self.bridge
            if management and management.address:
                address = management.address
            else:
                address = f"{self._allocate_ip()}/{self.network.prefixlen}"
            record = {"amphora_id": amphora_id, "name": name, "bridge": bridge,
                      "management_ip": address.split("/")[0], "interfaces": [], "pids": {}}
            try:
                self._wire(name, bridge, f"a{short_id(amphora_id)}m", MGMT_IFNAME, address,
                           management.gateway if management else None,
                           bridge_address=None if management else self.gateway)
                self._deliver(amphora_id, files)
            except Exception as exc:
                self._teardown(amphora_id)
                raise ComputeError(f"creating namespace {name} failed: {exc}") from exc
            self._write(record)
            return self._instance(record)

    def _wire(self, name, bridge, host_if, inner_if, address, gateway, bridge_address=None):
        """Make netns `name` (if missing) and a veth from bridge `bridge` into it; -> MAC."""
        if name not in netns.listnetns():
            netns.create(name)
        with IPRoute() as ipr:
            br = ensure_bridge(ipr, bridge, bridge_address, self.mark)
            ipr.link("add", ifname=host_if, kind="veth",
                     peer={"ifname": inner_if, "net_ns_fd": name})
            host = ipr.link_lookup(ifname=host_if)[0]
            ipr.link("set", index=host, master=br, state="up")
        with NetNS(name) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            index = ns.link_lookup(ifname=inner_if)[0]
            if address:
                ip, prefix = address.split("/")
                ns.addr("add", index=index, address=ip, prefixlen=int(prefix))
            ns.link("set", index=index, state="up")
            if gateway:
                ns.route("replace", dst="0.0.0.0/0", gateway=gateway)
            return _link_mac(ns, inner_if)

    # -- Open vSwitch -------------------------------------------------------------------
    def _vsctl(self, *args):
        argv = ["ovs-vsctl", "--timeout=20", *([f"--db={self.ovs_db}"] if self.ovs_db else []),
                *args]
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if proc.returncode:
            raise ComputeError(f"{' '.join(argv)}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def _ovs_links(self):
        """IPRoute or NetNS of the namespace where the integration bridge's ports live."""
        return NetNS(self.ovs_netns) if self.ovs_netns else IPRoute()

    @staticmethod
    def _tx_off(namespace, dev):
        argv = ["ethtool", "-K", dev, "tx", "off"]
        if namespace:
            argv = ["ip", "netns", "exec", namespace, *argv]
        subprocess.run(argv, capture_output=True, check=True, timeout=30)

    def _wire_port(self, name, host_if, inner_if, network):
        """A veth from the integration bridge (port iface-id, the port's MAC inside) into
        netns `name`, with the network's address and gateway; -> the MAC."""
        with self._ovs_links() as host:
            host.link("add", ifname=host_if, kind="veth",
                      peer={"ifname": inner_if, "net_ns_fd": name})
            host.link("set", index=host.link_lookup(ifname=host_if)[0], state="up")
        with NetNS(name) as ns:
            index = ns.link_lookup(ifname=inner_if)[0]
            ns.link("set", index=index, address=network.mac)
            if network.address:
                ip, prefix = network.address.split("/")
                ns.addr("add", index=index, address=ip, prefixlen=int(prefix))
            ns.link("set", index=index, state="up")
            if network.gateway:
                ns.route("replace", dst="0.0.0.0/0", gateway=network.gateway)
        datapath = self._vsctl("get", "Bridge", self.integration_bridge, "datapath_type")
        if datapath.strip('"') == "netdev":
            self._tx_off(name, inner_if)
            self._tx_off(self.ovs_netns, host_if)
        self._vsctl("--may-exist", "add-port", self.integration_bridge, host_if, "--",
                    "set", "Interface", host_if, f"external_ids:iface-id={network.port_id}",
                    "external_ids:iface-status=active",
                    f"external_ids:attached-mac={network.mac}")
        return network.mac

    def _unwire_ports(self, names):
        """Remove OVS ports and their veths (host ends in ovs_netns); harmless if gone."""
        for n in names:
            with contextlib.suppress(ComputeError):
                self._vsctl("--if-exists", "del-port", self.integration_bridge, n)
        with self._ovs_links() as host:
            for n in names:
                for index in host.link_lookup(ifname=n):
                    with contextlib.suppress(NetlinkError):
                        host.link("del", index=index)

    def plug(self, amphora_id, network):
        """Add eth<k> on bridge `network.bridge` (created if missing) with its address, or on
        the integration bridge bound to network.port_id; -> Interface."""
        with self._locked():
            record = self._read(amphora_id)
            if not record:
                raise AmphoraNotFound(f"no amphora {amphora_id} in {self.state_dir}")
            used = {int(i["name"][3:]) for i in record["interfaces"]}
            k = min(set(range(1, len(used) + 2)) - used)
            inner, host = f"eth{k}", f"a{short_id(amphora_id)}n{k}"
            # a link by that name that the record does not list was left by a plug cut short
            # (its process killed before it wrote the record): remove it, or adding fails
            self._delete_links([host])
            try:
                if network.port_id:
                    mac = self._wire_port(record["name"], host, inner, network)
                else:
                    mac = self._wire(record["name"], network.bridge, host, inner,
                                     network.address, network.gateway,
                                     bridge_address=network.host_address)
            except Exception as exc:
                if network.port_id:
                    self._unwire_ports([host])
                self._delete_links([host])
                raise ComputeError(f"plugging {record['name']} into {network.bridge} failed: "
                                   f"{exc}") from exc
            iface = Interface(inner, mac, network.bridge, network.address, host,
                              network.port_id)
            record["interfaces"].append(vars(iface))
            self._write(record)
            return iface

    def unplug(self, amphora_id, interface_name):
        """Delete the veth pair behind `interface_name`; harmless if it is already gone."""
        with self._locked():
            record = self._read(amphora_id)
            if not record:
                return
            gone = [i for i in record["interfaces"] if i["name"] == interface_name]
            self._unwire_ports([i["host_name"] for i in gone if i.get("port_id")])
            self._delete_links([i["host_name"] for i in gone])
            record["interfaces"] = [i for i in record["interfaces"] if i not in gone]
            self._write(record)

    def spawn(self, amphora_id, argv, log_path=None):
        """Run argv inside the amphora's namespace, in its own session; -> pid (recorded)."""
        with self._locked():
            record = self._read(amphora_id)
            if not record:
                raise AmphoraNotFound(f"no amphora {amphora_id} in {self.state_dir}")
            pid, started = processes.spawn(record["name"], argv,
                                           log_path or self._path(amphora_id, ".log"))
            record["pids"][str(pid)] = started
            self._write(record)
            return pid

    def delete(self, amphora_id):
        """Stop its processes, remove namespace, veths and state files; idempotent."""
        with self._locked():
            self._teardown(amphora_id)

    def _owner(self, name):
        """The amphora id whose record claims namespace `name`, or None."""
        return next((r["amphora_id"] for r in self._records() if r["name"] == name), None)

    def _teardown(self, amphora_id):
        name, record = ns_name(amphora_id), self._read(amphora_id)
        if self._owner(name) not in (None, amphora_id):
            return  # a colliding id: the namespace is another amphora's
        procs = {pid: None for pid in processes.pids_in(name)}
        if record:
            procs.update({int(p): st for p, st in record["pids"].items()})
        processes.stop(procs, self.stop_timeout)
        with IPRoute() as ipr:
            ours = [link.get_attr("IFLA_IFNAME") for link in ipr.get_links()]
        self._delete_links([n for n in ours
                            if n and re.fullmatch(VETH_RE.format(stem=short_id(amphora_id)), n)])
        if record and any(i.get("port_id") for i in record["interfaces"]):
            self._unwire_ports([i["host_name"] for i in record["interfaces"]
                                if i.get("port_id")])
        if name in netns.listnetns():
            netns.remove(name)
        for suffix in (".json", ".json.tmp", ".log"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self._path(amphora_id, suffix))
        shutil.rmtree(self.files_dir(amphora_id), ignore_errors=True)

    @staticmethod
    def _delete_links(names):
        with IPRoute() as ipr:
            for n in names:
                for index in ipr.link_lookup(ifname=n):
                    with contextlib.suppress(NetlinkError):
                        ipr.link("del", index=index)

    def exists(self, amphora_id):
        """Whether the amphora's record and namespace both exist."""
        return self._read(amphora_id) is not None and ns_name(amphora_id) in netns.listnetns()

    def get(self, amphora_id):
        """The Instance of an amphora; raises AmphoraNotFound."""
        record = self._read(amphora_id)
        if not record:
            raise AmphoraNotFound(f"no amphora {amphora_id} in {self.state_dir}")
        return self._instance(record)

    def list(self):
        """Every amphora recorded in state_dir."""
        return [self._instance(r) for r in self._records()]


__all__ = ["LocalCompute", "Network", "bridge_mark", "marked_bridges", "ns_name",
           "short_id"]
