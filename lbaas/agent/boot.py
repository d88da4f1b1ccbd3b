"""The amphora image's boot step: from Nova's config drive to a running agent.

Run by the image's init (`python3 -m lbaas.agent.boot --init`, as PID 1): find the config
drive (filesystem label `config-2`, ISO 9660 or vfat), decode `openstack/latest/user_data`
with lbaas.agent.bootdata, write its files (0600) under the agent's base directory,
configure the interfaces from `openstack/latest/network_data.json` (lbaas.agent.netconfig),
then start `lbaas.agent.server` on the management address and say on the console when it
answers. As PID 1 it then reaps every orphan and restarts an agent that died, a few times.

Every problem with the boot data is one console line starting "lbaas-amphora: boot failed"
and no agent: nothing here loops on a traceback.
"""
import argparse
import ipaddress
import json
import os
import signal
import socket
import subprocess
import sys
import time

from lbaas.agent import bootdata, files, netconfig

LABEL = "config-2"
BASE_DIR = "/var/lib/lbaas-agent"
MOUNT_POINT = "/run/lbaas/config-drive"
USER_DATA = "openstack/latest/user_data"
NETWORK_DATA = "openstack/latest/network_data.json"
# The files a compute backend puts in the boot data (the names lbaas's fleet delivers).
CA, CERT, HEARTBEAT_KEY = "ca.pem", "server.pem", "heartbeat.key"
DRIVE_WAIT = 30.0      # seconds for the config drive's device to appear
AGENT_WAIT = 120.0     # seconds for the agent to listen (TCG is slow)
RESTARTS = 3           # an agent that dies is started again this many times, then left
# seconds a plug waits for a NIC Nova hot-plugs to show up in the guest (under the
# controller's agent_request_timeout, 30 s by default): without it the first plug of a member
# network is a 404 and the controller's retry comes much later
PLUG_MAC_WAIT = 15.0
UDHCPC_HOOK = "/usr/lib/lbaas-amphora/udhcpc-hook"


class BootError(Exception):
    """The boot cannot go on; the message is the console line's reason."""


def say(message):
    """One line on the console (PID 1's stdout), prefixed so it is easy to find."""
    print(f"lbaas-amphora: {message}", flush=True)


def find_config_drive(label=LABEL, timeout=DRIVE_WAIT):
    """The device holding the filesystem labelled `label`; BootError once timeout passed."""
    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run(["blkid", "-c", "/dev/null", "-L", label],
                              capture_output=True, text=True)
        device = proc.stdout.strip()
        if proc.returncode == 0 and device:
            return device
        if time.monotonic() > deadline:
            raise BootError(f"no filesystem labelled {label} (the config drive) appeared "
                            f"within {timeout:.0f} s")
        time.sleep(0.2)


def mount_read_only(device, mount_point=MOUNT_POINT):
    """Mount device (ISO 9660 or vfat, found by mount) read-only at mount_point."""
    os.makedirs(mount_point, mode=0o700, exist_ok=True)
    proc = subprocess.run(["mount", "-o", "ro", device, mount_point], capture_output=True,
                          text=True)
    if proc.returncode:
        raise BootError(f"cannot mount the config drive {device}: {proc.stderr.strip()}")
    return mount_point


def read_drive(root):
    """(BootData, network document or None) from a mounted config drive."""
    try:
        with open(os.path.join(root, USER_DATA), "rb") as f:
            raw = f.read(bootdata.MAX_BYTES + 1)
    except OSError as exc:
        raise BootError(f"the config drive has no {USER_DATA}: {exc.strerror}") from None
    try:
        boot = bootdata.decode(raw)
    except bootdata.BootDataError as exc:
        raise BootError(f"bad boot data in {USER_DATA}: {exc}") from None
    for name in (CA, CERT):
        if name not in boot.files:
            raise BootError(f"the boot data carries no {name}")
    try:
        with open(os.path.join(root, NETWORK_DATA), "rb") as f:
            network = json.loads(f.read(1 << 20).decode("utf-8"))
    except FileNotFoundError:
        network = None
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise BootError(f"{NETWORK_DATA} is not readable JSON: {exc}") from None
    return boot, network


def write_files(base_dir, delivered):
    """Write the boot data's files (0600, directories 0700) under base_dir."""
    base = os.path.abspath(base_dir)
    os.makedirs(base, mode=0o700, exist_ok=True)
    os.chmod(base, 0o700)
    for rel, data in delivered.items():
        path = os.path.normpath(os.path.join(base, rel))
        if not path.startswith(base + os.sep):   # bootdata refuses these; belt and braces
            raise BootError(f"file {rel!r} would land outside {base}")
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        files.write_atomic(path, data)


def dhcp(ifname, timeout=20):
    """(ip_interface, router or None) leased on ifname by busybox udhcpc; BootError if none."""
    lease = f"/run/lbaas/dhcp-{ifname}"
    proc = subprocess.run(["busybox", "udhcpc", "-i", ifname, "-f", "-q", "-n", "-t", "10",
                           "-T", "2", "-s", UDHCPC_HOOK], capture_output=True, text=True,
                          timeout=timeout + 30)
    try:
        with open(lease) as f:
            values = dict(line.split("=", 1) for line in f.read().splitlines() if "=" in line)
        address = ipaddress.ip_interface(f"{values['ip']}/{values['subnet']}")
    except (OSError, KeyError, ValueError):
        raise BootError(f"no DHCP lease on {ifname}: {proc.stderr.strip()[-200:]}") from None
    router = values.get("router", "").split()
    return address, (ipaddress.ip_address(router[0]) if router else None)


def configure_network(document):
    """Configure the interfaces; -> the management address the agent binds to."""
    from pyroute2 import IPRoute   # the image's; imported late so --help needs no netlink
    if document is None:
        raise BootError(f"the config drive has no {NETWORK_DATA}: no management address")
    try:
        networks = netconfig.parse(document)
    except netconfig.NetworkDataError as exc:
        raise BootError(f"bad {NETWORK_DATA}: {exc}") from None
    names = netconfig.interfaces_by_mac()
    with IPRoute() as ipr:
        ipr.link("set", index=ipr.link_lookup(ifname="lo")[0], state="up")
        first = networks[0]
        if first.kind == "dhcp" and first.mac in names:
            ipr.link("set", index=ipr.link_lookup(ifname=names[first.mac])[0], state="up")
            address, router = dhcp(names[first.mac])
            routes = ((ipaddress.ip_network("0.0.0.0/0"), router),) if router else ()
            networks[0] = netconfig.Network(first.mac, first.mtu, "static", address, routes)
        try:
            management = netconfig.apply(networks, ipr, names, say)
        except netconfig.NetworkDataError as exc:
            raise BootError(f"{NETWORK_DATA}: {exc}") from None
    return management


def agent_argv(boot, base_dir, address):
    """The command line of the agent for this boot data, bound to `address`."""
    argv = [sys.executable, "-m", "lbaas.agent.server", "--base-dir", f"{base_dir}/lb",
            "--bind", address, "--port", str(boot.port), "--ca", f"{base_dir}/{CA}",
            "--cert", f"{base_dir}/{CERT}", "--amphora-id", boot.amphora_id,
            "--heartbeat-interval", str(boot.heartbeat_interval),
            "--plug-mac-wait", str(PLUG_MAC_WAIT)]
    if HEARTBEAT_KEY in boot.files and boot.controllers:
        argv += ["--heartbeat-key-file", f"{base_dir}/{HEARTBEAT_KEY}"]
        for controller in boot.controllers:
            argv += ["--controller", controller]
    return argv


def listening(address, port, timeout=0.5):
    """Whether something accepts TCP connections on address:port."""
    try:
        with socket.create_connection((address, port), timeout):
            return True
    except OSError:
        return False


def start_agent(argv):
    """Start the agent, its output on the console; -> the Popen."""
    env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin")
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, env=env)


def prepare(args):
    """Everything before the agent starts; -> (agent argv, address, port). Raises BootError."""
    started = time.monotonic()
    device = find_config_drive(args.label, args.drive_wait)
    boot, network = read_drive(mount_read_only(device, args.mount_point))
    say(f"config drive {device}: amphora {boot.amphora_id}, {len(boot.files)} files")
    write_files(args.base_dir, boot.files)
    address = configure_network(network)
    if address is None:
        raise BootError("the management network has no address")
    say(f"boot data applied in {time.monotonic() - started:.1f} s")
    return agent_argv(boot, args.base_dir, address), address, boot.port


def run(args):
    """Prepare, start the agent and say when it answers; -> its Popen or None (failed)."""
    try:
        argv, address, port = prepare(args)
    except BootError as exc:
        say(f"boot failed: {exc}; no agent started")
        return None, None
    agent = start_agent(argv)
    deadline = time.monotonic() + args.agent_wait
    host = f"[{address}]" if ":" in address else address
    while not listening(address, port):
        if agent.poll() is not None or time.monotonic() > deadline:
            say(f"agent did not start listening on {host}:{port}")
            return agent, argv
        time.sleep(0.2)
    say(f"agent up on https://{host}:{port} ({time.monotonic():.1f} s since boot)")
    return agent, argv


def reap_forever(agent, argv):
    """As PID 1: collect every exited process; start a dead agent again, at most RESTARTS times."""
    restarts = 0
    while True:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            signal.pause()   # nothing left to wait for; a signal (or nothing) wakes us
            continue
        except InterruptedError:
            continue
        if agent is not None and pid == agent.pid:
            code = os.waitstatus_to_exitcode(status)
            agent.returncode = code
            if restarts >= RESTARTS:
                say(f"agent exited with {code}; not restarted again ({RESTARTS} restarts)")
                agent = None
                continue
            restarts += 1
            say(f"agent exited with {code}; restarting it ({restarts}/{RESTARTS})")
            time.sleep(2 * restarts)
            agent = start_agent(argv)


def main(argv=None):
    """Parse the command line, boot, then reap as PID 1 (--init) or wait for the agent."""
    parser = argparse.ArgumentParser(prog="lbaas-amphora-boot", description=__doc__.split("\n")[0])
    parser.add_argument("--init", action="store_true",
                        help="run as the image's PID 1: never exit, reap orphans")
    parser.add_argument("--label", default=LABEL, help="the config drive's filesystem label")
    parser.add_argument("--base-dir", default=BASE_DIR, help="where the agent's files go")
    parser.add_argument("--mount-point", default=MOUNT_POINT)
    parser.add_argument("--drive-wait", type=float, default=DRIVE_WAIT, metavar="SECONDS")
    parser.add_argument("--agent-wait", type=float, default=AGENT_WAIT, metavar="SECONDS")
    args = parser.parse_args(argv)
    if args.init:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # ^C on the console must not end PID 1
    try:
        agent, agent_argv_ = run(args)
    except Exception as exc:   # noqa: BLE001 - PID 1 must not die: say it once and stay
        say(f"boot failed: {type(exc).__name__}: {exc}; no agent started")
        agent, agent_argv_ = None, None
    if args.init:
        reap_forever(agent, agent_argv_)
    if agent is None:
        return 1
    return agent.wait()


if __name__ == "__main__":
    sys.exit(main())
