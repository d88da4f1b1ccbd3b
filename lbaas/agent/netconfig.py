"""The amphora's interfaces from Nova's `openstack/latest/network_data.json`.

Nova's document: `links` (an interface each, found here by `ethernet_mac_address`, with an
optional `mtu`), `networks` (one per address: `link` names a link; type `ipv4`/`ipv6` with
`ip_address`, `netmask` and `routes` [{network, netmask, gateway}], or `ipv4_dhcp`,
`ipv6_dhcp`, `ipv6_slaac` without an address) and `services` (DNS, unused here).

The first network is the management network (Nova lists networks in the server's NIC
order, and a compute backend boots an amphora with its management NIC first): the agent
binds to its address. Only its routes may carry a default route; the VIP network's default
route is the agent's to set when the controller plugs the VIP (POST /plug/vip), so one in a
later network is left out (and said so).

`parse` checks the document (NetworkDataError, never another exception: it came from the
cloud), `apply` configures the interfaces with pyroute2.
"""
import dataclasses
import ipaddress
import os

MAX_LINKS = 64
STATIC = ("ipv4", "ipv6")
DHCP = ("ipv4_dhcp", "ipv6_dhcp", "ipv6_slaac")


class NetworkDataError(ValueError):
    """network_data.json is malformed or names something this image cannot configure."""


@dataclasses.dataclass(frozen=True)
class Network:
    """One address to configure on the interface with MAC `mac`."""

    mac: str
    mtu: object            # int or None
    kind: str              # "static" or "dhcp"
    address: object        # ipaddress.ip_interface (static) or None
    routes: tuple          # ((ip_network destination, ip_address gateway), ...)


def _mac(value, where):
    mac = str(value or "").strip().lower()
    parts = mac.split(":")
    if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdef" for c in p)
                                  for p in parts):
        raise NetworkDataError(f"{where}: {value!r} is not a MAC address")
    return mac


def _prefix(netmask, version, where):
    """The prefix length of a netmask ("255.255.255.0", "ffff:ffff::" or "24")."""
    text = str(netmask)
    if text.isdigit():
        length = int(text)
    else:
        try:
            mask = int(ipaddress.ip_address(text))
        except ValueError:
            raise NetworkDataError(f"{where}: netmask {netmask!r} is not a netmask") from None
        bits = 32 if version == 4 else 128
        length = bin(mask).count("1")
        if mask != ((1 << length) - 1) << (bits - length):
            raise NetworkDataError(f"{where}: netmask {netmask!r} is not contiguous")
    if not 0 <= length <= (32 if version == 4 else 128):
        raise NetworkDataError(f"{where}: netmask {netmask!r} is out of range")
    return length


def _routes(routes, version, where):
    if routes is None:
        return ()
    if not isinstance(routes, list):
        raise NetworkDataError(f"{where}: routes is not a list")
    found = []
    for route in routes:
        if not isinstance(route, dict):
            raise NetworkDataError(f"{where}: a route is not an object")
        try:
            gateway = ipaddress.ip_address(str(route.get("gateway")))
            network = ipaddress.ip_address(str(route.get("network")))
        except ValueError:
            raise NetworkDataError(f"{where}: route {route!r} has no valid network and "
                                   "gateway") from None
        if gateway.version != version or network.version != version:
            raise NetworkDataError(f"{where}: route {route!r} is not IPv{version}")
        prefix = _prefix(route.get("netmask", 0 if version == 4 else "::"), version, where)
        try:
            destination = ipaddress.ip_network(f"{network}/{prefix}")
        except ValueError:
            raise NetworkDataError(f"{where}: route {route!r} has host bits set") from None
        found.append((destination, gateway))
    return tuple(found)


def parse(doc):
    """The Networks of a decoded network_data.json document, management network first."""
    if not isinstance(doc, dict):
        raise NetworkDataError("network_data.json is not an object")
    links, networks = doc.get("links", []), doc.get("networks", [])
    if not isinstance(links, list) or not isinstance(networks, list) \
            or len(links) > MAX_LINKS or len(networks) > MAX_LINKS:
        raise NetworkDataError(f"links and networks are not lists of at most {MAX_LINKS}")
    by_id = {}
    for link in links:
        if not isinstance(link, dict) or not isinstance(link.get("id"), str):
            raise NetworkDataError("a link is not an object with an id")
        where = f"link {link['id']}"
        mtu = link.get("mtu")
        if mtu is not None and (type(mtu) is not int or not 68 <= mtu <= 65535):
            raise NetworkDataError(f"{where}: mtu {mtu!r} is not an integer in 68..65535")
        by_id[link["id"]] = (_mac(link.get("ethernet_mac_address"), where), mtu)
    found = []
    for network in networks:
        if not isinstance(network, dict):
            raise NetworkDataError("a network is not an object")
        where = f"network {network.get('id')}"
        if network.get("link") not in by_id:
            raise NetworkDataError(f"{where}: link {network.get('link')!r} is not in links")
        mac, mtu = by_id[network["link"]]
        kind = network.get("type")
        if kind in DHCP:
            found.append(Network(mac, mtu, "dhcp", None, ()))
            continue
        if kind not in STATIC:
            raise NetworkDataError(f"{where}: type {kind!r} is not one of "
                                   f"{', '.join(STATIC + DHCP)}")
        version = 4 if kind == "ipv4" else 6
        ip = str(network.get("ip_address", "")).split("/")[0]
        try:
            address = ipaddress.ip_address(ip)
        except ValueError:
            raise NetworkDataError(f"{where}: ip_address {ip!r} is not an address") from None
        if address.version != version:
            raise NetworkDataError(f"{where}: ip_address {ip} is not IPv{version}")
        prefix = _prefix(network.get("netmask", 32 if version == 4 else 128), version, where)
        found.append(Network(mac, mtu, "static", ipaddress.ip_interface(f"{address}/{prefix}"),
                             _routes(network.get("routes"), version, where)))
    if not found:
        raise NetworkDataError("network_data.json has no network: no management address")
    return found


def interfaces_by_mac(sys_class_net="/sys/class/net"):
    """{MAC: interface name} of this machine's interfaces (loopback left out)."""
    found = {}
    for name in os.listdir(sys_class_net):
        try:
            with open(os.path.join(sys_class_net, name, "address")) as f:
                mac = f.read().strip().lower()
        except OSError:
            continue
        if name != "lo":
            found[mac] = name
    return found


def apply(networks, ipr, names, say=print):
    """Bring up and address each static network's interface; -> the management address.

    names: {MAC: interface name}. A DHCP network is left to the caller (its address is
    not known here): for it the management address returned is None. A default route in
    any network but the first is left out (said through `say`).
    """
    management = None
    for i, network in enumerate(networks):
        name = names.get(network.mac)
        if name is None:
            raise NetworkDataError(f"no interface has MAC {network.mac}")
        index = ipr.link_lookup(ifname=name)[0]
        changes = {"state": "up"}
        if network.mtu:
            changes["mtu"] = network.mtu
        ipr.link("set", index=index, **changes)
        if network.kind != "static":
            continue
        address = network.address
        have = {(a.get_attr("IFA_ADDRESS"), a["prefixlen"]) for a in ipr.get_addr(index=index)}
        if (str(address.ip), address.network.prefixlen) not in have:
            ipr.addr("add", index=index, address=str(address.ip),
                     prefixlen=address.network.prefixlen)
        for destination, gateway in network.routes:
            if destination.prefixlen == 0 and i > 0:
                say(f"{name}: default route via {gateway} left out (only the management "
                    "network's is set)")
                continue
            ipr.route("replace", dst=str(destination), gateway=str(gateway), oif=index)
        if i == 0:
            management = str(address.ip)
        say(f"{name} ({network.mac}): {address}"
            + "".join(f", route {d} via {g}" for d, g in network.routes))
    return management
