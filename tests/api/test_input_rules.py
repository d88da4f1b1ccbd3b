"""Input the API used to take wrongly: fractional integers, and an unchecked project header.

`protocol_port: 1.5` was stored as 1 and a quota of 1.5 as 1; now any number with a
fraction (or an infinite one) is a 400, while an integral one (2.0) is still the integer.
Under noauth the X-Project-Id header (and its legacy spellings) was not length-checked:
300 characters were stored on SQLite and gave 500 on PostgreSQL; it now follows the
body's project_id rule.
"""
import uuid

import pytest

from lbaas.core import models
from tests.api.support import LBS, LISTENERS, db, fault, listener_body


def _lb_count(app, project):
    with db(app).read() as session:
        return session.query(models.LoadBalancer).filter_by(project_id=project).count()


@pytest.mark.parametrize("number", [1.5, 80.25, -0.5, 1e400])
def test_fractional_protocol_port_is_400(client, project, number):
    """A listener port of 1.5 (or 1e400, infinite in JSON) is refused, nothing written."""
    lb = client.create_lb(project)
    body = f'{{"listener": {{"loadbalancer_id": "{lb["id"]}", "protocol": "HTTP", ' \
           f'"protocol_port": {number!r}}}}}'.replace("inf", "1e400")
    resp = client.raw.post(LISTENERS, data=body, content_type="application/json")
    assert resp.status_code == 400, resp.get_json()
    assert fault(resp).startswith("Invalid input for field/attribute protocol_port. Value: ")
    assert fault(resp).endswith("Wrong type. Expected 'int'")
    listed = client.get(f"{LISTENERS}?loadbalancer_id={lb['id']}").get_json()["listeners"]
    assert listed == []


def test_integral_float_port_is_the_integer(client, project):
    """80.0 is the integer 80, as before."""
    lb = client.create_lb(project)
    resp = client.post(LISTENERS, listener_body(lb["id"], port=80.0))
    assert resp.status_code == 201 and resp.get_json()["listener"]["protocol_port"] == 80


def test_fractional_quota_is_400(client, project):
    """A quota of 1.5 is refused and the project keeps its limits."""
    resp = client.put(f"/v2/lbaas/quotas/{project}", {"quota": {"pool": 1.5}})
    assert resp.status_code == 400
    assert fault(resp) == ("Invalid input for field/attribute pool. Value: '1.5'. "
                           "Wrong type. Expected 'int'")
    assert client.get(f"/v2/lbaas/quotas/{project}").get_json()["quota"]["pool"] == -1


@pytest.mark.parametrize("attribute, value", [("weight", 1.5), ("protocol_port", 8080.5)])
def test_fractional_member_numbers_are_400(client, project, attribute, value):
    """Member weights and ports take whole numbers only."""
    lb = client.create_lb(project)
    pool = client.create("pools", "pool", {"loadbalancer_id": lb["id"], "protocol": "HTTP",
                                           "lb_algorithm": "ROUND_ROBIN"}, lb["id"])
    body = {"address": "192.0.2.5", "protocol_port": 80, attribute: value}
    resp = client.post(f"/v2/lbaas/pools/{pool['id']}/members", {"member": body})
    assert resp.status_code == 400 and attribute in fault(resp)


def test_fractional_redirect_code_is_400(client, project):
    """redirect_http_code 301.5 is no redirect code (it was taken as 301)."""
    lb = client.create_lb(project)
    listener = client.create("listeners", "listener",
                             listener_body(lb["id"])["listener"], lb["id"])
    resp = client.post("/v2/lbaas/l7policies", {"l7policy": {
        "listener_id": listener["id"], "action": "REDIRECT_TO_URL",
        "redirect_url": "http://example.com", "redirect_http_code": 301.5}})
    assert resp.status_code == 400 and "redirect_http_code" in fault(resp)


@pytest.mark.parametrize("header", ["X-Project-Id", "X-Tenant-Id", "X-Tenant"])
def test_overlong_project_header_is_400(app, client, header):
    """A 300-character project header is refused like a body project_id of 300 characters,
    and no load balancer is stored for it."""
    project = "p" * 300
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4())}},
                       headers={header: project})
    assert resp.status_code == 400
    assert fault(resp) == (f"Invalid input for field/attribute {header}. Value: '{project}'. "
                           "Value should have a maximum character requirement of 36")
    assert _lb_count(app, project) == 0
    body = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "project_id": project}})
    assert body.status_code == 400


def test_project_header_of_36_characters_is_taken(client):
    """36 characters, the column's width, are fine."""
    project = "p" * 36
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4())}},
                       headers={"X-Project-Id": project})
    assert resp.status_code == 201 and resp.get_json()["loadbalancer"]["project_id"] == project


def test_overlong_project_header_is_400_on_reads_too(client):
    """The rule holds for every request, as the header names the caller's project."""
    resp = client.get(LBS, headers={"X-Project-Id": "p" * 37})
    assert resp.status_code == 400 and "X-Project-Id" in fault(resp)
