"""network_data.json as Nova writes it, parsed for the amphora's boot step."""
import ipaddress

import pytest

from lbaas.agent import netconfig

MAC0, MAC1 = "fa:16:3e:00:00:01", "fa:16:3e:00:00:02"


def document(**network):
    net = {"id": "network0", "type": "ipv4", "link": "tap0", "ip_address": "10.0.0.5",
           "netmask": "255.255.255.0",
           "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"}]}
    net.update(network)
    return {"links": [{"id": "tap0", "type": "ovs", "ethernet_mac_address": MAC0.upper(),
                       "mtu": 1450},
                      {"id": "tap1", "type": "ovs", "ethernet_mac_address": MAC1}],
            "networks": [net, {"id": "network1", "type": "ipv6", "link": "tap1",
                               "ip_address": "2001:db8::5", "netmask": "ffff:ffff:ffff:ffff::",
                               "routes": []}],
            "services": [{"type": "dns", "address": "10.0.0.2"}]}


def test_static_networks_in_order_with_prefix_mtu_and_routes():
    first, second = netconfig.parse(document())
    assert first == netconfig.Network(MAC0, 1450, "static",
                                      ipaddress.ip_interface("10.0.0.5/24"),
                                      ((ipaddress.ip_network("0.0.0.0/0"),
                                        ipaddress.ip_address("10.0.0.1")),))
    assert second.address == ipaddress.ip_interface("2001:db8::5/64")
    assert second.mtu is None


def test_dhcp_network_has_no_address():
    first = netconfig.parse(document(type="ipv4_dhcp"))[0]
    assert (first.kind, first.address, first.mac) == ("dhcp", None, MAC0)


@pytest.mark.parametrize("change, words", [
    ({"link": "tap9"}, "not in links"),
    ({"type": "vlan"}, "is not one of"),
    ({"ip_address": "10.0.0.500"}, "not an address"),
    ({"ip_address": "2001:db8::1"}, "is not IPv4"),
    ({"netmask": "255.0.255.0"}, "not contiguous"),
    ({"netmask": "banana"}, "not a netmask"),
    ({"routes": "x"}, "routes is not a list"),
    ({"routes": [{"network": "10.1.0.1", "netmask": "255.255.0.0", "gateway": "10.0.0.1"}]},
     "host bits"),
    ({"routes": [{"network": "::", "netmask": "::", "gateway": "fe80::1"}]}, "not IPv4"),
])
def test_bad_networks_are_refused_with_a_reason(change, words):
    with pytest.raises(netconfig.NetworkDataError, match=words):
        netconfig.parse(document(**change))


@pytest.mark.parametrize("doc", [[], {"links": {}}, {"links": [], "networks": []},
                                 {"links": [{"id": "a", "ethernet_mac_address": "zz"}]},
                                 {"links": [{"id": "a", "ethernet_mac_address": MAC0,
                                             "mtu": 9}]}])
def test_malformed_documents_are_refused(doc):
    with pytest.raises(netconfig.NetworkDataError):
        netconfig.parse(doc)


def test_interfaces_by_mac_reads_sysfs(tmp_path):
    for name, mac in (("lo", "00:00:00:00:00:00"), ("eth0", MAC0.upper())):
        (tmp_path / name).mkdir()
        (tmp_path / name / "address").write_text(mac + "\n")
    assert netconfig.interfaces_by_mac(str(tmp_path)) == {MAC0: "eth0"}
