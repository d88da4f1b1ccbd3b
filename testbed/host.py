"""What this host offers: free subnets, working network namespaces, its processes."""
import ipaddress
import os
import secrets
import socket


def namespaces_unavailable():
    """Why network namespaces and bridges cannot be made here (probed for real), or None."""
    if os.geteuid() != 0:
        return "not root"
    try:
        from pyroute2 import IPRoute, netns
    except ImportError as exc:
        return f"pyroute2 is missing: {exc}"
    probe = f"lbt-probe-{secrets.token_hex(3)}"
    try:
        netns.create(probe)
        with IPRoute() as ipr:
            name = f"lbtp{secrets.token_hex(3)}"
            ipr.link("add", ifname=name, kind="bridge")
            ipr.link("del", index=ipr.link_lookup(ifname=name)[0])
    except Exception as exc:  # noqa: BLE001 - any failure means "unsupported here"
        return f"network namespaces or bridges unsupported: {exc!r}"
    finally:
        if probe in netns.listnetns():
            netns.remove(probe)
    return None


def free_subnets(count, second=None):
    """`count` /24s in 10.0.0.0/8 that overlap no route of this host.

    second: their second octet; by default one derived from the pid, so parallel test
    workers start apart. The third octet is random.
    """
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        taken = [ipaddress.ip_network(f"{r.get_attr('RTA_DST')}/{r['dst_len']}", strict=False)
                 for r in ipr.get_routes(family=socket.AF_INET) if r.get_attr("RTA_DST")]
    if second is None:
        second = 50 + os.getpid() % 200
    found = []
    while len(found) < count:
        net = ipaddress.ip_network(f"10.{second}.{secrets.randbelow(256)}.0/24")
        if net not in found and not any(net.overlaps(t) for t in taken):
            found.append(net)
    return found


def processes_mentioning(text):
    """{pid: cmdline} of live (non-zombie) processes whose command line contains text."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X") and text in cmd:
            found[int(entry)] = cmd
    return found
