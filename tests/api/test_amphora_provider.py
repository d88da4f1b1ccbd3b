"""What the amphora provider refuses at the API, before anything is written or reconciled.

These requests never reach a worker: the driver raises UnsupportedOptionError, the API
answers 501 ("Provider 'amphora' does not support a requested option", as upstream maps
that exception) naming the option, and no object is created. (Traffic through real amphorae
is tests/functional/test_amphora_traffic.py.)
"""
import pytest

from lbaas.api import create_app
from tests.api.support import LBS
from tests.conftest import BACKENDS, ApiClient, database_url, make_conf

SUBNET = "8a0ab8f1-4d0e-4e3b-9c63-1b1a3c1d2e01"


@pytest.fixture(scope="module", params=BACKENDS)
def amphora_app(request, tmp_path_factory):
    conf = make_conf(database_url(request.param, request, "amphora_provider"), **{
        "api_settings.enabled_provider_drivers": {"amphora": "amphora", "noop": "noop"},
        "api_settings.default_provider_driver": "amphora",
        "state_path": str(tmp_path_factory.mktemp("amphora-provider")),
        "controller_worker.sweep_interval": 3600,
        # an accepted load balancer is reconciled by the in-process worker: on the noop
        # compute backend it fails at once instead of booting a real amphora
        "amphora_compute.driver": "noop", "controller_worker.agent_timeout": 1.0,
        "controller_worker.reconcile_attempts": 1})
    application = create_app(conf)
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture
def api(amphora_app):
    return ApiClient(amphora_app.test_client())


def _graph(listener=None, pool=None):
    pool = {"name": "p", "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN", **(pool or {})}
    listener = {"protocol": "HTTP", "protocol_port": 80, "default_pool": pool,
                **(listener or {})}
    return {"loadbalancer": {"vip_subnet_id": SUBNET, "listeners": [listener]}}


def _refused(api, body, words):
    before = len(api.get(LBS).get_json()["loadbalancers"])
    resp = api.post(LBS, body)
    assert resp.status_code == 501, resp.get_json()
    text = resp.get_json()["faultstring"]
    for word in words:
        assert word in text, text
    assert len(api.get(LBS).get_json()["loadbalancers"]) == before   # nothing half-written


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_udp_and_sctp_listeners_are_refused_naming_the_protocol(api, protocol):
    _refused(api, _graph({"protocol": protocol, "protocol_port": 53},
                         {"protocol": protocol}), [protocol, "amphora"])


def test_ping_monitors_are_refused(api):
    hm = {"type": "PING", "delay": 5, "timeout": 3, "max_retries": 3}
    _refused(api, _graph(pool={"healthmonitor": hm}), ["PING"])


def test_source_ip_port_is_refused(api):
    _refused(api, _graph(pool={"lb_algorithm": "SOURCE_IP_PORT"}), ["SOURCE_IP_PORT"])


def test_tls_rule_types_are_refused(api):
    policy = {"action": "REJECT", "rules": [{"type": "SSL_CONN_HAS_CERT", "compare_type":
                                              "EQUAL_TO", "value": "True"}]}
    _refused(api, _graph({"l7policies": [policy]}), ["SSL_CONN_HAS_CERT"])


def test_the_flavor_topology_is_checked_by_the_provider(api):
    for topology, status in (("ACTIVE_STANDBY", 201), ("SINGLE", 201),
                             ("ACTIVE_ACTIVE", 501)):
        body = {"flavorprofile": {"name": f"fp-{topology}", "provider_name": "amphora",
                                  "flavor_data": f'{{"loadbalancer_topology": "{topology}"}}'}}
        resp = api.post("/v2/lbaas/flavorprofiles", body)
        assert resp.status_code == status, resp.get_json()


def test_upstreams_availability_zone_keys_are_accepted(api):
    """compute_zone, management_network, valid_vip_networks and volume_zone, as upstream's
    amphora provider accepts them (lbaas records what it cannot act on yet)."""
    data = ('{"compute_zone": "nova", "management_network": "3f1c2d0e-0000-4000-8000-'
            '000000000001", "valid_vip_networks": ["n1"], "volume_zone": "v"}')
    resp = api.post("/v2/lbaas/availabilityzoneprofiles", {"availability_zone_profile": {
        "name": "azp-amphora", "provider_name": "amphora", "availability_zone_data": data}})
    assert resp.status_code == 201, resp.get_json()
    names = {c["name"] for c in api.get("/v2/lbaas/providers/amphora/"
                                        "availability_zone_capabilities").get_json()[
        "availability_zone_capabilities"]}
    assert names == {"compute_zone", "management_network", "valid_vip_networks", "volume_zone"}


@pytest.mark.parametrize("kind,data,reason", [
    ("availability_zone", '{"nova_zone": "x"}', "'nova_zone' was unexpected"),
    ("availability_zone", '{"valid_vip_networks": "n1"}', "is not of type 'array'"),
    ("flavor", '{"compute_flavor": 3}', "is not of type 'string'"),
    ("flavor", '{"loadbalancer_topology": "SINGLE", "bogus": 1}', "'bogus' was unexpected"),
])
def test_unknown_keys_and_wrong_types_are_refused(api, kind, data, reason):
    collection = "availabilityzoneprofiles" if kind == "availability_zone" else "flavorprofiles"
    envelope = "availability_zone_profile" if kind == "availability_zone" else "flavorprofile"
    resp = api.post(f"/v2/lbaas/{collection}", {envelope: {
        "name": "refused", "provider_name": "amphora", f"{kind}_data": data}})
    assert resp.status_code == 501, resp.get_json()
    assert reason in resp.get_json()["faultstring"]


def test_upstreams_flavor_keys_are_accepted(api):
    data = ('{"loadbalancer_topology": "SINGLE", "compute_flavor": "m1", "amp_image_tag": '
            '"amphora", "sriov_vip": false, "allow_member_sriov": false}')
    resp = api.post("/v2/lbaas/flavorprofiles", {"flavorprofile": {
        "name": "fp-all", "provider_name": "amphora", "flavor_data": data}})
    assert resp.status_code == 201, resp.get_json()


def _settle(amphora_app, lb_id):
    """Mark the load balancer and its children ACTIVE, as a worker would."""
    core = amphora_app.extensions["lbaas_core"]
    tree = core.library.loadbalancer_tree(lb_id)
    policies = [p for li in tree["listeners"] for p in li.get("l7policies", ())]
    core.library.update_loadbalancer_status({
        "loadbalancers": [{"id": lb_id, "provisioning_status": "ACTIVE"}],
        "listeners": [{"id": li["id"], "provisioning_status": "ACTIVE"}
                      for li in tree["listeners"]],
        "pools": [{"id": p["id"], "provisioning_status": "ACTIVE"} for p in tree["pools"]],
        "l7policies": [{"id": p["id"], "provisioning_status": "ACTIVE"} for p in policies]})


def test_ssl_rules_on_a_listener_that_does_not_terminate_tls_are_refused(api, amphora_app):
    made = api.post(LBS, _graph())
    assert made.status_code == 201, made.get_json()
    lb = made.get_json()["loadbalancer"]
    listener_id = lb["listeners"][0]["id"]
    _settle(amphora_app, lb["id"])
    ssl_rule = {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True"}
    refused = api.post("/v2/lbaas/l7policies", {"l7policy": {
        "listener_id": listener_id, "action": "REJECT", "rules": [ssl_rule]}})
    assert refused.status_code == 501, refused.get_json()
    assert "SSL_CONN_HAS_CERT" in refused.get_json()["faultstring"]
    assert api.get(f"/v2/lbaas/l7policies?listener_id={listener_id}").get_json()[
        "l7policies"] == []
    policy = api.post("/v2/lbaas/l7policies", {"l7policy": {
        "listener_id": listener_id, "action": "REJECT"}})
    assert policy.status_code == 201, policy.get_json()
    policy_id = policy.get_json()["l7policy"]["id"]
    _settle(amphora_app, lb["id"])
    rules = f"/v2/lbaas/l7policies/{policy_id}/rules"
    assert api.post(rules, {"rule": ssl_rule}).status_code == 501
    assert api.get(rules).get_json()["rules"] == []
    header = {"type": "HEADER", "key": "X-A", "compare_type": "EQUAL_TO", "value": "b"}
    assert api.post(rules, {"rule": header}).status_code == 201
