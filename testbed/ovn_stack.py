"""A real OVN stack for tests and benchmarks: OVSDB, northd, userspace vswitchd, ovn-controller.

Run as a script (stdlib only) it is a UDP backend: ``python ovn_stack.py udp --bind IP
--port N --name NAME`` answers every datagram with NAME.

`OvnStack(root).start()` brings up, from Debian's ovn-central/ovn-host/openvswitch-switch
and without systemd: the NB and SB ovsdb-servers, ovn-northd, the Open_vSwitch
ovsdb-server, ovs-vswitchd with the userspace datapath (``datapath_type=netdev``, no kernel
module) inside a namespace of its own (so br-int and every tap stay out of the root
namespace), and ovn-controller, which registers the chassis and creates br-int.

Topology (three random 10.x.y.0/24 that overlap no route of this host)::

    client netns --- <p>-ls-cl (client_cidr) ---+
                                                <p>-lr (logical router)
    backend netns -- <p>-ls-be (member_cidr) ---+
    VIPs: vip_cidr, which no switch carries; the client reaches it through its gateway

The VIP subnet is *routed*: a VIP inside a switch's own subnet gets no ARP reply from OVN
(components-here.md section 10), while a VIP the client sends to its gateway is
DNATed by the load balancer where the client's packets enter (the client's switch, and
the router), so the lbaas config declares the VIP subnet with ``ovn_switch`` = the client
switch and ``ovn_router`` = the router. Every "VM" namespace hangs off br-int by a veth
made inside the vswitchd namespace, has a Logical_Switch_Port whose ``addresses`` hold its
MAC and IP, and TX checksum offload off on both veth ends (the userspace datapath reads
veths over AF_PACKET and can see partial checksums).

`stop()` kills every daemon and backend, deletes every namespace and asserts that nothing
of the stack is left: no namespace, no root-namespace link and no process.
"""
import argparse
import socket
import sys


def serve_udp(argv=None):
    """Entry point of the UDP backend script: answer each datagram with the name."""
    parser = argparse.ArgumentParser(description="a tiny UDP backend for lbaas OVN tests")
    parser.add_argument("mode", choices=["udp"])
    parser.add_argument("--bind", required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", required=True)
    args = parser.parse_args(argv)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((args.bind, args.port))
    reply = args.name.encode()
    while True:
        _data, peer = sock.recvfrom(2048)
        sock.sendto(reply, peer)


if __name__ == "__main__":
    serve_udp()
    sys.exit(0)

import contextlib  # noqa: E402
import ipaddress  # noqa: E402
import os  # noqa: E402
import secrets  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

SCRIPT = os.path.abspath(__file__)
BINARIES = ("ovsdb-tool", "ovsdb-server", "ovs-vsctl", "ovs-vswitchd", "ovn-northd",
            "ovn-controller", "ovn-nbctl", "ovn-sbctl", "ethtool", "ip")
SCHEMAS = {"nb": "/usr/share/ovn/ovn-nb.ovsschema", "sb": "/usr/share/ovn/ovn-sb.ovsschema",
           "conf": "/usr/share/openvswitch/vswitch.ovsschema"}
SETUP_HINT = "scripts/setup.sh --test installs ovn-central ovn-host openvswitch-switch ethtool"


def _which(name):
    for d in ("/usr/sbin", "/usr/bin", "/sbin", "/bin"):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    return shutil.which(name)


def unavailable():
    """Why a real OVN stack cannot run on this host, or None."""
    if os.geteuid() != 0:
        return "not root (the OVN data plane needs network namespaces)"
    missing = [b for b in BINARIES if not _which(b)]
    missing += [p for p in SCHEMAS.values() if not os.path.exists(p)]
    if missing:
        return f"{', '.join(missing)} missing ({SETUP_HINT})"
    from testbed.host import namespaces_unavailable
    return namespaces_unavailable()


def wait_for(condition, timeout, what, interval=0.01):
    """Call condition() until it returns a true value (returned); fail at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


def mac_of(ip):
    """A locally administered MAC derived from an IPv4 address (unique per address)."""
    return "0a:00:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def _pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def _reap(pid):
    """Collect `pid` if it is our exited child (no zombie left)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _kill(pids, grace=5.0):
    """SIGTERM the pids, wait up to `grace` s, SIGKILL what is left; reap our children."""
    pids = [p for p in pids if p]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            for pid in pids:
                _reap(pid)
            pids = [p for p in pids if _pid_alive(p)]
            if not pids:
                return
            time.sleep(0.01)


class Vm:
    """A namespace on a logical switch: veth to br-int, an LSP, one IPv4 address."""

    def __init__(self, stack, name, switch, ip, cidr, gateway):
        self.stack, self.name, self.switch = stack, name, switch
        self.ip, self.cidr, self.gateway = ip, cidr, gateway
        self.mac = mac_of(ip)
        self.netns = f"{stack.prefix}-{name}"
        self.tap = f"t-{name}"[:15]          # lives in the vswitchd namespace only
        self.lsp = f"{stack.prefix}-{name}"
        self.servers = {}                    # (proto, port) -> (pid, log)

    def create(self):
        """Make the namespace, its veth, the LSP and the OVS port (waits for nothing)."""
        from pyroute2 import NetNS, netns
        netns.create(self.netns)
        self.stack.namespaces.append(self.netns)
        with NetNS(self.stack.hv_netns) as hv:
            hv.link("add", ifname=self.tap, kind="veth",
                    peer={"ifname": "eth0", "net_ns_fd": self.netns})
            hv.link("set", index=hv.link_lookup(ifname=self.tap)[0], state="up")
        with NetNS(self.netns) as ns:
            ns.link("set", index=ns.link_lookup(ifname="lo")[0], state="up")
            eth0 = ns.link_lookup(ifname="eth0")[0]
            ns.link("set", index=eth0, address=self.mac)
            ns.addr("add", index=eth0, address=self.ip, prefixlen=self.cidr.prefixlen)
            ns.link("set", index=eth0, state="up")
            ns.route("add", dst="0.0.0.0/0", gateway=str(self.gateway))
        self.stack.ethtool_tx_off(self.netns, "eth0")
        self.stack.ethtool_tx_off(self.stack.hv_netns, self.tap)
        self.stack.nbctl("lsp-add", self.switch, self.lsp, "--", "lsp-set-addresses",
                         self.lsp, f"{self.mac} {self.ip}")
        self.stack.vsctl("add-port", "br-int", self.tap, "--", "set", "Interface", self.tap,
                         f"external_ids:iface-id={self.lsp}")
        return self

    def wait_up(self, timeout=20.0):
        """Wait until ovn-controller has bound the LSP (NB `up` is true)."""
        wait_for(lambda: self.stack.nbctl("get", "Logical_Switch_Port", self.lsp,
                                          "up").strip() == "true",
                 timeout, f"LSP {self.lsp} up", 0.01)
        return self

    # -- backends ---------------------------------------------------------------------------
    def start_tcp(self, port, name=None, wait=True):
        """An HTTP backend (testbed/backends.py) answering its name on ip:port."""
        from testbed import backends
        return self._start("tcp", port, name, [backends.SCRIPT], wait)

    def start_udp(self, port, name=None, wait=True):
        """The UDP backend (this file as a script) answering its name on ip:port."""
        return self._start("udp", port, name, [SCRIPT, "udp"], wait)

    def _start(self, proto, port, name, script, wait):
        name = name or self.name
        log = os.path.join(self.stack.log_dir, f"backend-{name}-{proto}{port}.log")
        pid = self.stack.spawn_in(self.netns, [sys.executable, *script, "--bind", self.ip,
                                               "--port", str(port), "--name", name], log)
        self.servers[(proto, port)] = (pid, log, name)
        if wait:
            self.wait_servers()
        return pid

    def wait_servers(self, timeout=10.0):
        """Wait until every backend server started here answers (started ones in parallel)."""
        for (proto, port), (pid, log, name) in self.servers.items():
            wait_for(lambda: self._answers(proto, port, pid, log, name), timeout,
                     f"{proto} backend {name} on {self.ip}:{port}")

    def _answers(self, proto, port, pid, log, name):
        from testbed import backends
        if not _pid_alive(pid):
            raise RuntimeError(f"backend on {self.ip}:{port}/{proto} exited: {_tail(log)}")
        if proto == "udp":
            return udp_request(self.ip, port, self.netns, 0.2) == name
        try:
            return backends.http_get(self.ip, "/health", port, netns=self.netns,
                                     timeout=0.5).status == 200
        except OSError:
            return False

    def kill(self, proto, port):
        """SIGKILL one backend server (as a crash would) and wait until it is gone."""
        pid = self.servers.pop((proto, port))[0]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for(lambda: (_reap(pid), not _pid_alive(pid))[1], 5, f"backend {pid} to die")

    def stop_servers(self):
        _kill([entry[0] for entry in self.servers.values()])
        self.servers.clear()


def _tail(path, limit=3000):
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read().decode(errors="replace")
    except OSError as exc:
        return f"(no log: {exc})"


def udp_request(host, port, netns=None, timeout=1.0, payload=b"?"):
    """One datagram from a fresh socket (a new source port, so balanced anew); the reply
    as text, or None on timeout or error."""
    from testbed import backends

    def ask():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            try:
                sock.sendto(payload, (host, port))
                return sock.recvfrom(2048)[0].decode()
            except OSError:
                return None
    return backends.in_netns(netns, ask)


def tcp_request(host, port, netns=None, timeout=1.0):
    """One HTTP GET / on a new connection: the answering backend's name, or None."""
    from testbed import backends
    try:
        resp = backends.http_get(host, "/", port, netns=netns, timeout=timeout)
    except OSError:
        return None
    return resp.text if resp.status == 200 else None


class OvnStack:
    """One OVN deployment (all daemons, a router, two switches) under a unique prefix."""

    def __init__(self, root, prefix=None):
        from testbed.host import free_subnets
        self.root = str(root)
        self.prefix = prefix or f"lbo{os.getpid() % 4096:03x}{secrets.token_hex(1)}"
        self.run_dir = os.path.join(self.root, "run")
        self.log_dir = os.path.join(self.root, "log")
        self.nb_sock = os.path.join(self.run_dir, "nb.sock")
        self.sb_sock = os.path.join(self.run_dir, "sb.sock")
        self.db_sock = os.path.join(self.run_dir, "db.sock")
        self.nb, self.sb = f"unix:{self.nb_sock}", f"unix:{self.sb_sock}"
        self.hv_netns = f"{self.prefix}-hv"
        self.chassis = f"{self.prefix}-chassis"
        self.router = f"{self.prefix}-lr"
        self.client_switch, self.member_switch = f"{self.prefix}-ls-cl", f"{self.prefix}-ls-be"
        self.client_cidr, self.member_cidr, self.vip_cidr = free_subnets(3)
        self.namespaces, self.vms, self.spawned, self.commands = [], {}, [], {}
        self.timings = {}
        self.env = dict(os.environ, OVS_RUNDIR=self.run_dir, OVS_LOGDIR=self.log_dir,
                        OVS_DBDIR=self.root, OVN_RUNDIR=self.run_dir, OVN_LOGDIR=self.log_dir,
                        OVN_DBDIR=self.root)

    # -- addresses ---------------------------------------------------------------------------
    @staticmethod
    def host(cidr, k):
        """The k-th host address of a subnet (1: the gateway)."""
        return str(cidr.network_address + k)

    def member_ip(self, k):
        """Backend addresses start at the 200th host (the allocation range ends at 99)."""
        return self.host(self.member_cidr, 200 + k)

    def subnet_lines(self, vip_name, member_name):
        """The two `[network_local] subnet` values lbaas needs for this topology."""
        def line(name, cidr, switch):
            return (f"name={name} cidr={cidr} ovn_switch={switch} ovn_router={self.router} "
                    f"gateway={self.host(cidr, 1)} allocation_start={self.host(cidr, 10)} "
                    f"allocation_end={self.host(cidr, 99)}")
        return [line(vip_name, self.vip_cidr, self.client_switch),
                line(member_name, self.member_cidr, self.member_switch)]

    # -- commands ----------------------------------------------------------------------------
    def _run(self, argv, timeout=30):
        argv = [_which(argv[0]) or argv[0], *argv[1:]]   # /usr/sbin may be off PATH
        proc = subprocess.run(argv, capture_output=True, text=True, env=self.env,
                              timeout=timeout)
        if proc.returncode:
            raise RuntimeError(f"{' '.join(argv)} -> {proc.returncode}: {proc.stderr.strip()}")
        return proc.stdout

    def nbctl(self, *args):
        return self._run(["ovn-nbctl", f"--db={self.nb}", "--timeout=20", *args])

    def sbctl(self, *args):
        return self._run(["ovn-sbctl", f"--db={self.sb}", "--timeout=20", *args])

    def vsctl(self, *args):
        return self._run(["ovs-vsctl", f"--db=unix:{self.db_sock}", "--timeout=20", *args])

    def ethtool_tx_off(self, netns, dev):
        self._run(["ip", "netns", "exec", netns, "ethtool", "-K", dev, "tx", "off"])

    def _daemon_args(self, name, unixctl=True):
        args = [f"--pidfile={self.run_dir}/{name}.pid", f"--log-file={self.log_dir}/{name}.log",
                "--detach", "--no-chdir"]
        if unixctl:
            args.append(f"--unixctl={self.run_dir}/{name}.ctl")
        return args

    def _detach(self, name, argv, netns=None):
        """Run a daemon with --detach (it returns once the daemon is ready); remember its pid."""
        pidfile = os.path.join(self.run_dir, f"{name}.pid")
        if pidfile not in self.spawned:
            self.spawned.append(pidfile)
        self.commands[name] = (argv, netns)
        if netns:
            argv = ["ip", "netns", "exec", netns, *argv]
        try:
            self._run(argv)
        except RuntimeError as exc:
            raise RuntimeError(f"{exc}\n{_tail(os.path.join(self.log_dir, name + '.log'))}")

    def spawn_in(self, netns, argv, log):
        """Start argv inside netns in its own session (a backend); -> pid."""
        from lbaas.drivers.amphora.compute import processes
        pid, _start = processes.spawn(netns, argv, log)
        self.backend_pids.append(pid)
        return pid

    # -- life cycle --------------------------------------------------------------------------
    def start(self):
        """Start every daemon and build the topology; record the phases in self.timings."""
        from pyroute2 import netns
        t0 = time.monotonic()
        self.backend_pids = []
        os.makedirs(self.run_dir, exist_ok=True)
        os.makedirs(self.log_dir, exist_ok=True)
        try:
            for db in ("nb", "sb", "conf"):
                self._run(["ovsdb-tool", "create", os.path.join(self.root, f"{db}.db"),
                           SCHEMAS[db]])
            for db, sock in (("nb", self.nb_sock), ("sb", self.sb_sock), ("conf", self.db_sock)):
                remote = [f"--remote=punix:{sock}"]
                if db == "conf":
                    remote.append("--remote=db:Open_vSwitch,Open_vSwitch,manager_options")
                self._detach(f"ovsdb-{db}", ["ovsdb-server", os.path.join(self.root, f"{db}.db"),
                                             *remote, *self._daemon_args(f"ovsdb-{db}")])
            self.vsctl("--no-wait", "init", "--", "set", "Open_vSwitch", ".",
                       f"external_ids:system-id={self.chassis}",
                       f"external_ids:ovn-remote={self.sb}",
                       "external_ids:ovn-encap-type=geneve",
                       "external_ids:ovn-encap-ip=127.0.0.1",
                       "external_ids:ovn-bridge=br-int",
                       "external_ids:ovn-bridge-datapath-type=netdev")
            self.timings["ovsdb"] = time.monotonic() - t0
            netns.create(self.hv_netns)
            self.namespaces.append(self.hv_netns)
            self._detach("ovs-vswitchd", ["ovs-vswitchd", f"unix:{self.db_sock}",
                                          *self._daemon_args("ovs-vswitchd")], self.hv_netns)
            # br-int made here, and its OpenFlow socket waited for, before ovn-controller
            # starts: otherwise its first connection fails and it retries only 1 s later
            self.vsctl("--may-exist", "add-br", "br-int", "--", "set", "Bridge", "br-int",
                       "datapath_type=netdev", "fail-mode=secure",
                       "other-config:disable-in-band=true")
            mgmt = os.path.join(self.run_dir, "br-int.mgmt")
            wait_for(lambda: os.path.exists(mgmt), 20, f"{mgmt} (vswitchd's br-int)")
            self._detach("ovn-northd", ["ovn-northd", f"--ovnnb-db={self.nb}",
                                        f"--ovnsb-db={self.sb}",
                                        *self._daemon_args("ovn-northd")])
            self._detach("ovn-controller", ["ovn-controller", f"unix:{self.db_sock}",
                                            *self._daemon_args("ovn-controller", False)])
            self.timings["daemons"] = time.monotonic() - t0
            self._topology()
            wait_for(lambda: self.chassis in self.sbctl("--bare", "--columns=name", "list",
                                                        "Chassis"),
                     20, f"chassis {self.chassis} in SB")
            self.timings["chassis"] = time.monotonic() - t0
            self.client = self.add_vm("cl", self.client_switch,
                                      self.host(self.client_cidr, 200), self.client_cidr)
            self.client.wait_up()
            self.nbctl("--wait=hv", "sync")
            self.timings["ready"] = time.monotonic() - t0
        except BaseException:
            self.stop(check=False)
            raise
        return self

    def _topology(self):
        """The router, its two switches and their router ports, in one NB transaction."""
        cmds = ["lr-add", self.router]
        for switch, cidr, tag in ((self.client_switch, self.client_cidr, "cl"),
                                  (self.member_switch, self.member_cidr, "be")):
            gw = self.host(cidr, 1)
            lrp, rp = f"{self.prefix}-lrp-{tag}", f"{self.prefix}-rp-{tag}"
            cmds += ["--", "ls-add", switch,
                     "--", "lrp-add", self.router, lrp, mac_of(gw), f"{gw}/{cidr.prefixlen}",
                     "--", "lsp-add", switch, rp, "--", "lsp-set-type", rp, "router",
                     "--", "lsp-set-addresses", rp, "router",
                     "--", "lsp-set-options", rp, f"router-port={lrp}"]
        self.nbctl(*cmds)

    def add_vm(self, name, switch, ip, cidr):
        """A namespace with `ip` on `switch` (see Vm); not waited for."""
        vm = Vm(self, name, switch, ip, cidr, ipaddress.IPv4Address(self.host(cidr, 1)))
        self.vms[name] = vm
        return vm.create()

    def backend(self, k):
        """The k-th backend namespace on the member switch (made once, waited until bound)."""
        name = f"be{k}"
        if name not in self.vms:
            self.add_vm(name, self.member_switch, self.member_ip(k), self.member_cidr)
            self.vms[name].wait_up()
        return self.vms[name]

    def daemon_pid(self, name):
        with open(os.path.join(self.run_dir, f"{name}.pid")) as f:
            return int(f.read().strip())

    def restart(self, name):
        """Stop a daemon (SIGTERM, as an operator would) and start it again, same command."""
        old = self.daemon_pid(name)
        _kill([old])
        self._detach(name, *self.commands[name])
        return old, self.daemon_pid(name)

    def lb_rows(self):
        """NB's Load_Balancer rows as {uuid: {"name", "vips", "external_ids"}}."""
        import json
        out = json.loads(self.nbctl("--format=json", "--columns=_uuid,name,vips,external_ids",
                                    "list", "Load_Balancer"))
        rows = {}
        for uuid, name, vips, ext in out["data"]:
            rows[uuid[1]] = {"name": name, "vips": dict(vips[1]), "external_ids": dict(ext[1])}
        return rows

    def service_monitors(self):
        """{(ip, port, protocol): status} of SB Service_Monitor rows."""
        out = self.sbctl("--bare", "--format=csv", "--columns=ip,port,protocol,status",
                         "list", "Service_Monitor")
        found = {}
        for line in out.splitlines():
            parts = line.split(",")
            if len(parts) == 4:
                found[(parts[0], int(parts[1]), parts[2])] = parts[3]
        return found

    def leftovers(self):
        """What of this stack still exists: namespaces, root links, processes (strings)."""
        from pyroute2 import IPRoute, netns
        found = [f"namespace {n}" for n in netns.listnetns() if n.startswith(self.prefix)]
        with IPRoute() as ipr:
            names = {link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        found += [f"root link {n}" for n in sorted(names)
                  if n in ("br-int", "ovs-netdev") or n.startswith(self.prefix)]
        from testbed.host import processes_mentioning
        found += [f"process {pid}: {cmd[:160]}"
                  for pid, cmd in processes_mentioning(self.root).items()]
        found += [f"process {pid}" for pid in getattr(self, "backend_pids", [])
                  if _pid_alive(pid)]
        return found

    def stop(self, check=True):
        """Stop everything in the teardown order of the notes; assert nothing is left."""
        from pyroute2 import netns
        for vm in self.vms.values():
            vm.stop_servers()
        _kill(getattr(self, "backend_pids", []))
        by_name = {}
        for pidfile in self.spawned:
            with contextlib.suppress(OSError, ValueError):
                with open(pidfile) as f:
                    by_name[os.path.basename(pidfile)[:-4]] = int(f.read().strip())
        order = ("ovn-controller", "ovn-northd", "ovs-vswitchd", "ovsdb-conf", "ovsdb-sb",
                 "ovsdb-nb")
        for name in order:
            if name in by_name:
                _kill([by_name[name]])
        for name in reversed(self.namespaces):
            with contextlib.suppress(Exception):
                if name in netns.listnetns():
                    netns.remove(name)
        left = self.leftovers()
        if check and left:
            raise AssertionError("the OVN stack left things behind:\n  " + "\n  ".join(left))
        return left


def provider_missing():
    """Why lbaas has no `ovn` provider driver installed, or None."""
    from importlib.metadata import entry_points
    if not [ep for ep in entry_points(group="octavia.api.drivers") if ep.name == "ovn"]:
        return ("lbaas has no provider 'ovn' (no octavia.api.drivers entry point named ovn: "
                "lbaas/drivers/ovn not there yet, or run scripts/setup.sh to refresh the "
                "entry points)")
    return None


SYNC_INTERVAL = 1   # seconds between the driver's full NB syncs in the tests' lbaas


class OvnCloud:
    """`lbaas serve --config-file` with provider `ovn` on an OvnStack, plus a REST client."""

    VIP_SUBNET, MEMBER_SUBNET = "ovn-vip", "ovn-members"

    def __init__(self, stack, root, extra_config=None):
        from testbed.service import free_port
        self.stack, self.root = stack, str(root)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra_config = extra_config or {}
        self.service = None
        self.vip_subnet_id = self.member_subnet_id = None

    def config_text(self):
        vip_line, member_line = self.stack.subnet_lines(self.VIP_SUBNET, self.MEMBER_SUBNET)
        groups = {
            "DEFAULT": {"state_path": os.path.join(self.root, "state")},
            "api_settings": {"bind_host": "127.0.0.1", "bind_port": self.port,
                             "enabled_provider_drivers": "ovn:The OVN driver",
                             "default_provider_driver": "ovn"},
            "network": {"driver": "local"},
            "ovn": {"ovn_nb_connection": self.stack.nb, "ovn_sb_connection": self.stack.sb,
                    "sync_interval": SYNC_INTERVAL},
        }
        for group, options in self.extra_config.items():
            groups.setdefault(group, {}).update(options)
        lines = []
        for group, options in groups.items():
            lines.append(f"[{group}]")
            lines += [f"{k} = {v}" for k, v in options.items()]
        lines += ["[network_local]", f"subnet = {vip_line}", f"subnet = {member_line}"]
        return "\n".join(lines) + "\n"

    def start(self):
        """Write the config, start lbaas serve, look the two subnets up through the API."""
        from testbed.service import Service, clean_env, venv_command
        os.makedirs(os.path.join(self.root, "state"), exist_ok=True)
        self.config_path = os.path.join(self.root, "lbaas.conf")
        with open(self.config_path, "w") as f:
            f.write(self.config_text())
        self.service = Service("lbaas serve (ovn)",
                               [venv_command("lbaas"), "--config-file", self.config_path,
                                "serve"], self.port, os.path.join(self.root, "lbaas-serve.log"),
                               env=clean_env(PYTHONUNBUFFERED="1"))
        self.service.start()
        self.vip_subnet_id = self.subnet_id(self.VIP_SUBNET)
        self.member_subnet_id = self.subnet_id(self.MEMBER_SUBNET)
        return self

    def subnet_id(self, name):
        subnets = self.request("GET", f"/v2.0/subnets?name={name}", expect=200)["subnets"]
        assert len(subnets) == 1, subnets
        return subnets[0]["id"]

    def request(self, method, path, body=None, expect=None):
        """One API call; the parsed body (None if empty). expect: a status or a tuple."""
        import requests
        resp = requests.request(method, self.url + path, json=body, timeout=30)
        if expect is not None and resp.status_code not in (
                expect if isinstance(expect, tuple) else (expect,)):
            raise AssertionError(f"{method} {path} -> {resp.status_code} (expected {expect}): "
                                 f"{resp.text[:2000]}\n--- lbaas serve log ---\n"
                                 f"{self.service.log_tail(4000)}")
        return resp.json() if resp.content else None

    def lb_status(self, lb_id):
        return self.request("GET", f"/v2/lbaas/loadbalancers/{lb_id}",
                            expect=200)["loadbalancer"]["provisioning_status"]

    def wait_lb_active(self, lb_id, timeout=30.0, interval=0.01):
        """Wait until the load balancer is ACTIVE (fail at once on ERROR)."""
        def active():
            status = self.lb_status(lb_id)
            if status == "ERROR":
                raise AssertionError(f"load balancer {lb_id} went to ERROR\n"
                                     f"{self.service.log_tail(4000)}")
            return status == "ACTIVE"
        wait_for(active, timeout, f"load balancer {lb_id} ACTIVE", interval)

    def delete_all(self, timeout=30.0):
        """Delete every load balancer (cascade) and wait until each is gone."""
        for lb in self.request("GET", "/v2/lbaas/loadbalancers", expect=200)["loadbalancers"]:
            self.request("DELETE", f"/v2/lbaas/loadbalancers/{lb['id']}?cascade=true",
                         expect=(204, 404))
        wait_for(lambda: not self.request("GET", "/v2/lbaas/loadbalancers",
                                          expect=200)["loadbalancers"],
                 timeout, "every load balancer to be deleted", 0.05)

    def stop(self):
        if self.service is not None:
            self.service.stop()
