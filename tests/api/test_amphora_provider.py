"""What the amphora provider refuses at the API, before anything is written or reconciled.

These requests never reach a worker: the driver raises UnsupportedOptionError, the API
answers 501 ("Provider 'amphora' does not support a requested option", as upstream maps
that exception) naming the option, and no object is created. (Traffic through real amphorae
is tests/functional/test_amphora_traffic.py.)
"""
import pytest

from lbaas.api import create_app
from tests.api.support import LBS
from tests.conftest import ApiClient, database_url, make_conf

SUBNET = "8a0ab8f1-4d0e-4e3b-9c63-1b1a3c1d2e01"


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def amphora_app(request, tmp_path_factory):
    conf = make_conf(database_url(request.param, request, "amphora_provider"), **{
        "api_settings.enabled_provider_drivers": {"amphora": "amphora", "noop": "noop"},
        "api_settings.default_provider_driver": "amphora",
        "state_path": str(tmp_path_factory.mktemp("amphora-provider")),
        "controller_worker.sweep_interval": 3600})
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
