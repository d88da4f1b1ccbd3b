"""Configure the amphora's own interfaces with netlink (pyroute2), never by running `ip`.

Everything here acts on the network namespace the agent runs in and is idempotent: an
address already present, an MTU already set or a route already there is left alone, so the
controller may plug the same VIP or network again after a retry or a crash.
"""
import ipaddress
import logging
import socket
import threading
import time

from pyroute2 import IPRoute

LOG = logging.getLogger(__name__)

MAIN_TABLE = 254
_lock = threading.Lock()   # one plug at a time: lookups then changes must not interleave


class BadPlugRequest(ValueError):
    """The request names an invalid address, subnet, route or MTU (HTTP 400)."""


class InterfaceNotFound(LookupError):
    """No interface has the requested MAC address (HTTP 404)."""


def _ip(value, what):
    try:
        return ipaddress.ip_address(str(value))
    except ValueError:
        raise BadPlugRequest(f"{what} {value!r} is not an IP address") from None


def _net(value, what):
    try:
        return ipaddress.ip_network(str(value), strict=False)
    except ValueError:
        raise BadPlugRequest(f"{what} {value!r} is not a CIDR") from None


def _mtu(value):
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or not 68 <= value <= 65535:
        raise BadPlugRequest(f"mtu {value!r} is not an integer between 68 and 65535")
    return value


def _routes(host_routes, subnet):
    """[(destination network, nexthop address)] of a host_routes list, validated."""
    if host_routes is None:
        return []
    if not isinstance(host_routes, list):
        raise BadPlugRequest("host_routes is not a list")
    routes = []
    for route in host_routes:
        if not isinstance(route, dict) or "destination" not in route or "nexthop" not in route:
            raise BadPlugRequest(f"host route {route!r} lacks destination or nexthop")
        dst, hop = _net(route["destination"], "destination"), _ip(route["nexthop"], "nexthop")
        if dst.version != subnet.version or hop.version != subnet.version:
            raise BadPlugRequest(f"host route {route!r} is not IPv{subnet.version}")
        routes.append((dst, hop))
    return routes


def _in_subnet(address, subnet, what):
    if address.version != subnet.version or address not in subnet:
        raise BadPlugRequest(f"{what} {address} is not in subnet {subnet}")


def _family(version):
    return socket.AF_INET if version == 4 else socket.AF_INET6


def _mac(value):
    mac = str(value or "").strip().lower()
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise BadPlugRequest(f"mac_address {value!r} is not a MAC address")
    return mac


def _link_by_mac(ipr, mac):
    """(index, ifname) of the interface with this MAC; InterfaceNotFound if none."""
    for link in ipr.get_links():
        if (link.get_attr("IFLA_ADDRESS") or "").lower() == mac:
            return link["index"], link.get_attr("IFLA_IFNAME")
    raise InterfaceNotFound(f"No interface with MAC address {mac}")


def wait_for_mac(mac, timeout, interval=0.2):
    """Return once an interface with this MAC exists, or after `timeout` seconds.

    A NIC that Nova hot-plugs reaches the controller's plug request before the guest's
    kernel has registered it (seconds later under emulation); waiting here, outside the
    lock, spares the controller a failed request and its retry. The plug that follows
    still answers 404 when the interface never came.
    """
    deadline = time.monotonic() + timeout
    with IPRoute() as ipr:
        while True:
            try:
                _link_by_mac(ipr, mac)
                return
            except InterfaceNotFound:
                if time.monotonic() >= deadline:
                    return
            time.sleep(interval)


def _bring_up(ipr, index, mtu):
    link = ipr.get_links(index)[0]
    if mtu is not None and link.get_attr("IFLA_MTU") != mtu:
        ipr.link("set", index=index, mtu=mtu)
    if not link["flags"] & 1:   # IFF_UP
        ipr.link("set", index=index, state="up")


def _add_address(ipr, index, address, prefixlen):
    """Add address/prefixlen to the interface unless it already has that address."""
    have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=index)}
    if str(address) not in have:
        ipr.addr("add", index=index, address=str(address), prefixlen=prefixlen)


def _has_default_route(ipr, version):
    return any(r["dst_len"] == 0 and r.get_attr("RTA_TABLE", MAIN_TABLE) == MAIN_TABLE
               for r in ipr.get_routes(family=_family(version)))


def _add_routes(ipr, index, routes):
    for dst, hop in routes:
        ipr.route("replace", dst=str(dst), gateway=str(hop), oif=index)


def _subnet_of(fixed_ip):
    """(address, subnet, gateway or None, host routes) of one fixed_ips entry."""
    if not isinstance(fixed_ip, dict) or "ip_address" not in fixed_ip \
            or "subnet_cidr" not in fixed_ip:
        raise BadPlugRequest(f"fixed_ip {fixed_ip!r} lacks ip_address or subnet_cidr")
    address = _ip(fixed_ip["ip_address"], "ip_address")
    subnet = _net(fixed_ip["subnet_cidr"], "subnet_cidr")
    _in_subnet(address, subnet, "ip_address")
    return address, subnet, _routes(fixed_ip.get("host_routes"), subnet)


def allow_nonlocal_bind(version):
    """Let HAProxy bind addresses this node does not hold (yet): a VIP keepalived adds on
    takeover, or one moved here at a failover."""
    name = "ipv4" if version == 4 else "ipv6"
    with open(f"/proc/sys/net/{name}/ip_nonlocal_bind", "w") as f:
        f.write("1")


def plug_vip(vip, body, mac_wait=0.0):
    """Put VIP `vip` on the interface with body's MAC, or vrrp_ip when one is given; -> its name.

    body: {"mac_address", "subnet_cidr", "gateway"?, "vrrp_ip"?, "host_routes"?, "mtu"?}.
    With vrrp_ip (ACTIVE_STANDBY) the interface gets that address and keepalived adds the
    VIP on the node that is MASTER. With "standby": true (an lbaas extension) the interface
    is made ready but the VIP is not added yet: a successor amphora starts HAProxy on it
    before the VIP moves over. A default route via the gateway is added only if the
    namespace has none yet.
    """
    if not isinstance(body, dict):
        raise BadPlugRequest("the body is not a JSON object")
    mac = _mac(body.get("mac_address"))
    address = _ip(vip, "VIP")
    if "subnet_cidr" not in body:
        raise BadPlugRequest("subnet_cidr is missing")
    subnet = _net(body["subnet_cidr"], "subnet_cidr")
    _in_subnet(address, subnet, "VIP")
    gateway = body.get("gateway")
    gateway = _ip(gateway, "gateway") if gateway else None
    vrrp = body.get("vrrp_ip")
    vrrp = _ip(vrrp, "vrrp_ip") if vrrp else None
    if vrrp:
        _in_subnet(vrrp, subnet, "vrrp_ip")
    if gateway and gateway.version != subnet.version:
        raise BadPlugRequest(f"gateway {gateway} is not IPv{subnet.version}")
    routes, mtu = _routes(body.get("host_routes"), subnet), _mtu(body.get("mtu"))
    standby = body.get("standby") is True
    if mac_wait > 0:
        wait_for_mac(mac, mac_wait)
    with _lock, IPRoute() as ipr:
        index, name = _link_by_mac(ipr, mac)
        _bring_up(ipr, index, mtu)
        allow_nonlocal_bind(subnet.version)
        if standby and not vrrp:   # no address on the subnet yet: no route can use it
            return name
        _add_address(ipr, index, vrrp or address, subnet.prefixlen)
        _add_routes(ipr, index, routes)
        if gateway and not _has_default_route(ipr, subnet.version):
            ipr.route("replace", dst="0.0.0.0/0" if subnet.version == 4 else "::/0",
                      gateway=str(gateway), oif=index)
    if address.version == 4 and not vrrp:
        announce(name, mac, address)
    return name


def announce(ifname, mac, address):
    """Broadcast a gratuitous ARP for an IPv4 address, so neighbours learn it at once.

    Without it a client that asked for the VIP before it existed waits for its next ARP
    retry (about a second). Best effort: a failure is logged, not raised.
    """
    hw = bytes.fromhex(mac.replace(":", ""))
    ip = address.packed
    frame = (b"\xff" * 6 + hw + b"\x08\x06"           # Ethernet: broadcast, from us, ARP
             + b"\x00\x01\x08\x00\x06\x04\x00\x01"    # Ethernet/IPv4, request
             + hw + ip + b"\x00" * 6 + ip)              # sender = target = the address
    try:
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock:
            sock.bind((ifname, 0))
            sock.send(frame)
    except OSError as exc:
        LOG.warning("gratuitous ARP for %s on %s failed: %s", address, ifname, exc)


def plug_network(body, mac_wait=0.0):
    """Put a member network's fixed IPs and host routes on the interface with body's MAC.

    body: {"mac_address", "fixed_ips"?: [{"ip_address", "subnet_cidr", "host_routes"?}],
    "mtu"?}; never adds a default route. -> the interface name.
    """
    if not isinstance(body, dict):
        raise BadPlugRequest("the body is not a JSON object")
    mac = _mac(body.get("mac_address"))
    fixed_ips = body.get("fixed_ips") or []
    if not isinstance(fixed_ips, list):
        raise BadPlugRequest("fixed_ips is not a list")
    plan, mtu = [_subnet_of(f) for f in fixed_ips], _mtu(body.get("mtu"))
    if mac_wait > 0:
        wait_for_mac(mac, mac_wait)
    with _lock, IPRoute() as ipr:
        index, name = _link_by_mac(ipr, mac)
        _bring_up(ipr, index, mtu)
        for address, subnet, _ in plan:
            _add_address(ipr, index, address, subnet.prefixlen)
        for _, _, routes in plan:
            _add_routes(ipr, index, routes)
    return name


def interface_of(ip):
    """The name of the interface holding address `ip`, or None (BadPlugRequest if not an IP)."""
    address = str(_ip(ip, "address"))
    with IPRoute() as ipr:
        for entry in ipr.get_addr(family=_family(ipaddress.ip_address(address).version)):
            if entry.get_attr("IFA_ADDRESS") == address:
                link = ipr.get_links(entry["index"])[0]
                return link.get_attr("IFLA_IFNAME")
    return None
