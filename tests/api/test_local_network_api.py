"""Load balancers on the local network backend: VIPs from a configured subnet, through the API."""
import time

import pytest

from lbaas.api import create_app
from lbaas.network import local
from tests.api.support import LBS, create_listener, fault, lb_url
from tests.conftest import BACKENDS, ApiClient, database_url, make_conf

SUBNET = ("name=lb-public network=lb-net cidr=10.77.0.0/24 bridge=lbaas-t77 gateway=10.77.0.1 "
          "allocation_start=10.77.0.10 allocation_end=10.77.0.20")
SUBNET_ID = local.subnet_uuid("lb-public")
NETWORK_ID = local.network_uuid("lb-net")


@pytest.fixture(scope="module", params=BACKENDS)
def local_app(request):
    """The API with `[network] driver = local`, one subnet and the noop provider."""
    conf = make_conf(database_url(request.param, request, "local_net_api"), **{
        "network.driver": "local", "network_local.subnet": [SUBNET]})
    application = create_app(conf)
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture
def api(local_app):
    return ApiClient(local_app.test_client())


@pytest.fixture
def lbs(api, project):
    """Create load balancers (fields -> ACTIVE LB); they are cascade-deleted afterwards."""
    made = []

    def create(**fields):
        body = {"vip_subnet_id": SUBNET_ID, "project_id": project, **fields}
        resp = api.post(LBS, {"loadbalancer": {k: v for k, v in body.items() if v is not None}})
        assert resp.status_code == 201, resp.get_json()
        made.append(resp.get_json()["loadbalancer"]["id"])
        return api.wait(lb_url(made[-1]), "loadbalancer")

    yield create
    for lb_id in made:
        if api.delete(lb_url(lb_id) + "?cascade=true").status_code == 204:
            api.wait(lb_url(lb_id), "loadbalancer", "DELETED")
    _wait_for_ports(api, lambda ports: not ports)


def _vip_ports(api):
    return api.get("/v2.0/ports?device_owner=lbaas:vip").get_json()["ports"]


def _wait_for_ports(api, done, timeout=10.0):
    """The VIP ports once `done(ports)` holds (a VIP is released just after DELETED shows)."""
    deadline = time.monotonic() + timeout
    while True:
        ports = _vip_ports(api)
        if done(ports) or time.monotonic() > deadline:
            return ports
        time.sleep(0.01)


def test_vip_comes_from_the_allocation_range(lbs):
    lb = lbs()
    assert (lb["vip_address"], lb["vip_subnet_id"], lb["vip_network_id"]) == \
        ("10.77.0.10", SUBNET_ID, NETWORK_ID)


def test_requested_vip_address_is_used(lbs):
    assert lbs(vip_address="10.77.0.100")["vip_address"] == "10.77.0.100"


def test_vip_port_id_is_the_backend_port(api, lbs):
    lb = lbs()
    port = api.get(f"/v2.0/ports/{lb['vip_port_id']}").get_json()["port"]
    assert (port["device_id"], port["fixed_ips"]) == (
        lb["id"], [{"subnet_id": SUBNET_ID, "ip_address": lb["vip_address"]}])


def test_same_address_for_a_second_load_balancer_is_409(api, lbs, project):
    lbs(vip_address="10.77.0.101")
    resp = api.post(LBS, {"loadbalancer": {"vip_subnet_id": SUBNET_ID, "project_id": project,
                                           "vip_address": "10.77.0.101"}})
    assert (resp.status_code, fault(resp)) == (
        409, f"The VIP IP address is already in use: 10.77.0.101 is in use on subnet "
             f"{SUBNET_ID}")


def test_refused_create_leaves_no_port(api, lbs, project):
    lbs(vip_address="10.77.0.102")
    api.post(LBS, {"loadbalancer": {"vip_subnet_id": SUBNET_ID, "project_id": project,
                                    "vip_address": "10.77.0.102"}})
    assert [p["fixed_ips"][0]["ip_address"] for p in _vip_ports(api)] == ["10.77.0.102"]


def test_gateway_as_vip_address_is_409(api, project):
    resp = api.post(LBS, {"loadbalancer": {"vip_subnet_id": SUBNET_ID, "project_id": project,
                                           "vip_address": "10.77.0.1"}})
    assert resp.status_code == 409


def test_address_outside_the_subnet_is_400(api, project):
    resp = api.post(LBS, {"loadbalancer": {"vip_subnet_id": SUBNET_ID, "project_id": project,
                                           "vip_address": "10.78.0.5"}})
    assert resp.status_code == 400


def test_vip_network_id_picks_its_subnet(lbs):
    lb = lbs(vip_subnet_id=None, vip_network_id=NETWORK_ID)
    assert (lb["vip_subnet_id"], lb["vip_address"]) == (SUBNET_ID, "10.77.0.10")


def test_unknown_subnet_is_400(api, project):
    resp = api.post(LBS, {"loadbalancer": {"project_id": project,
                                           "vip_subnet_id": local.subnet_uuid("nope")}})
    assert resp.status_code == 400


def test_subnet_lookup_by_name(api):
    body = api.get("/v2.0/subnets?name=lb-public").get_json()
    assert [(s["id"], s["cidr"], s["gateway_ip"]) for s in body["subnets"]] == \
        [(SUBNET_ID, "10.77.0.0/24", "10.77.0.1")]


def test_network_lookup_by_name(api):
    body = api.get("/v2.0/networks?name=lb-net").get_json()
    assert [(n["id"], n["subnets"]) for n in body["networks"]] == [(NETWORK_ID, [SUBNET_ID])]


def test_ports_list_shows_the_vip_port(api, lbs):
    lb = lbs()
    ports = api.get(f"/v2.0/ports?device_id={lb['id']}").get_json()["ports"]
    assert [(p["id"], p["device_owner"], p["fixed_ips"][0]["ip_address"]) for p in ports] == \
        [(lb["vip_port_id"], "lbaas:vip", lb["vip_address"])]


def test_cascade_delete_releases_the_address(api, lbs, project):
    lb = lbs(vip_address="10.77.0.103")
    create_listener(api, lb)
    assert api.delete(lb_url(lb["id"]) + "?cascade=true").status_code == 204
    api.wait(lb_url(lb["id"]), "loadbalancer", "DELETED")
    _wait_for_ports(api, lambda ports: not ports)
    assert lbs(vip_address="10.77.0.103")["vip_address"] == "10.77.0.103"


def test_released_address_is_handed_out_again(api, lbs):
    first = lbs()
    assert api.delete(lb_url(first["id"])).status_code == 204
    api.wait(lb_url(first["id"]), "loadbalancer", "DELETED")
    _wait_for_ports(api, lambda ports: not ports)
    assert lbs()["vip_address"] == first["vip_address"]
