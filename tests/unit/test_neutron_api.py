"""Neutron's error responses as lbaas's API errors (lbaas.network.neutron_api), and the
security group rules listeners need (lbaas.network.neutron_sg).

The bodies are Neutron 29's own, as the functional tests (test_neutron_backend.py) saw
them from a real Neutron; here each mapping is checked one by one.
"""
import json

import pytest
import requests
from keystoneauth1 import session

from lbaas.core import errors
from lbaas.network import neutron_api, neutron_sg
from testbed.service import free_port


def response(status, kind, message):
    resp = requests.Response()
    resp.status_code = status
    resp._content = json.dumps({"NeutronError": {"type": kind, "message": message,
                                                 "detail": ""}}).encode()
    return resp


def api_answering(resp):
    return neutron_api.NeutronApi(lambda method, path, **kwargs: resp)


@pytest.mark.parametrize("status,kind,error,code", [
    (409, "IpAddressAlreadyAllocated", errors.VIPAddressConflict, 409),
    (409, "IpAddressGenerationFailure", errors.NetworkConflict, 409),
    (409, "OverQuota", errors.NetworkConflict, 409),
    (400, "InvalidIpForSubnet", errors.BadRequest, 400),
    (404, "NetworkNotFound", errors.BadRequest, 400),
    (403, "PolicyNotAuthorized", errors.ServiceUnavailable, 503),
    (500, "HTTPInternalServerError", errors.ServiceUnavailable, 503),
])
def test_a_refusal_becomes_an_api_error(status, kind, error, code):
    with pytest.raises(error) as raised:
        api_answering(response(status, kind, "Neutron says no")).call("POST", "/ports", {})
    assert raised.value.code == code
    assert kind in raised.value.operator_message
    if code < 500:
        assert "Neutron says no" in raised.value.message


def test_a_lookup_of_what_the_caller_may_not_see_is_none():
    for status in (403, 404):
        assert api_answering(response(status, "X", "no")).call(
            "GET", "/networks/x", missing_ok=True) is None


def test_deleting_what_is_gone_is_harmless():
    assert api_answering(response(404, "PortNotFound", "gone")).call("DELETE", "/ports/x") is None


def test_neutron_unreachable_is_a_503_naming_it():
    url = f"http://127.0.0.1:{free_port()}"
    sess = session.Session()
    api = neutron_api.NeutronApi(lambda method, path, **kw: sess.request(url + path, method, **kw))
    with pytest.raises(errors.ServiceUnavailable) as raised:
        api.call("GET", "/networks")
    assert raised.value.code == 503
    assert raised.value.message.startswith("The network service (Neutron) could not be reached")
    assert "ConnectFailure" in raised.value.operator_message


def test_rules_follow_listener_protocols_cidrs_and_address_families():
    lb = {"id": "x", "vip_addresses": ["10.0.0.5", "fd00::5"], "listeners": [
        {"protocol": "HTTP", "protocol_port": 80, "allowed_cidrs": ["10.1.0.0/16"]},
        {"protocol": "UDP", "protocol_port": 53},
        {"protocol": "SCTP", "protocol_port": 9, "allowed_cidrs": ["fd00:1::/64"]},
        {"protocol": "TCP", "protocol_port": 22, "provisioning_status": "PENDING_DELETE"}]}
    assert neutron_sg.wanted_rules(lb) == {
        (80, "tcp", "10.1.0.0/16", "IPv4"),
        (53, "udp", None, "IPv4"), (53, "udp", None, "IPv6"),
        (9, "sctp", "fd00:1::/64", "IPv6")}


def test_a_reset_connection_is_tried_again_for_a_read_but_never_for_a_create():
    from keystoneauth1 import exceptions as ks_exc
    calls = []

    def flaky(method, path, **kwargs):
        calls.append(method)
        if len(calls) == 1:
            raise ks_exc.ConnectFailure("Connection reset by peer")
        resp = requests.Response()
        resp.status_code, resp._content = 200, b'{"ports": []}'
        return resp
    assert neutron_api.NeutronApi(flaky).call("GET", "/ports") == {"ports": []}
    assert calls == ["GET", "GET"]
    calls.clear()
    with pytest.raises(errors.ServiceUnavailable):
        neutron_api.NeutronApi(flaky).call("POST", "/ports", {"port": {}})
    assert calls == ["POST"]


def test_a_pair_also_opens_vrrp_ah_and_the_peer_port():
    lb = {"id": "x", "vip_addresses": ["10.0.0.5", "fd00::5"], "topology": "ACTIVE_STANDBY",
          "peer_port": 1025, "listeners": [{"protocol": "TCP", "protocol_port": 80}]}
    assert neutron_sg.wanted_rules(lb) == {
        (80, "tcp", None, "IPv4"), (80, "tcp", None, "IPv6"),
        (1025, "tcp", None, "IPv4"), (1025, "tcp", None, "IPv6"),
        (None, "112", None, "IPv4"), (None, "51", None, "IPv4")}
    assert neutron_sg.wanted_rules(dict(lb, topology="SINGLE")) == {
        (80, "tcp", None, "IPv4"), (80, "tcp", None, "IPv6")}


@pytest.mark.parametrize("bad_id", ["", "a/b", "../networks", "x?fields=id", "x#y", "é", "a" * 65,
                                    None, 7])
def test_an_id_that_is_no_neutron_id_never_reaches_a_url(bad_id):
    from lbaas.network.neutron import NeutronNetwork
    calls = []
    backend = NeutronNetwork.__new__(NeutronNetwork)   # no credentials: nothing may be called
    backend.reader = neutron_api.NeutronApi(lambda *args, **kwargs: calls.append(args))
    assert backend.get_network(bad_id) is None and backend.get_port(bad_id) is None
    assert calls == []


def test_together_runs_the_calls_at_once_and_raises_only_once_all_ended():
    """Independent Neutron calls overlap; a failure is raised after the others finished,
    so a caller cleaning up sees everything the calls made."""
    import threading
    import time
    barrier, ended = threading.Barrier(2, timeout=5), []

    def waits():   # returns only if the other call runs at the same time
        barrier.wait()
        return "a"

    def fails():
        barrier.wait()
        raise errors.BadRequest("no", message="no")

    def slow():
        time.sleep(0.2)
        ended.append(True)

    assert neutron_api.together(waits, lambda: (barrier.wait(), "b")[1]) == ["a", "b"]
    barrier.reset()
    with pytest.raises(errors.BadRequest):
        neutron_api.together(fails, waits, slow)
    assert ended == [True]
    assert neutron_api.together() == []
