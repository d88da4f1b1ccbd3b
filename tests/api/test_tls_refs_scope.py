"""Certificate references are read with the caller's credentials (listeners, pools, graphs).

Under keystone a certificate the local store holds for project beta is unreadable to a
member of project alpha: a listener, a pool or a one-call graph naming it is refused with
400 and nothing is written, while alpha's own certificate is accepted.
"""
import uuid

import pytest
from sqlalchemy import func, select

from lbaas import certificates
from lbaas.core import models
from tests.api.test_rbac import caller, keystone_app
from tests.conftest import database_url
from testbed.tls_certs import CA

LBS = "/v2/lbaas/loadbalancers"


@pytest.fixture(scope="module")
def kapp(backend, request):
    application = keystone_app(database_url(backend, request, "tlsscope"))
    application.extensions["lbaas_core"].conf.set_override(
        "encryption_key", "k" * 40, group="certificates")
    yield application
    application.extensions["lbaas_core"].close()


@pytest.fixture(scope="module")
def refs(kapp):
    """{project: reference} of one server certificate stored for each project."""
    core = kapp.extensions["lbaas_core"]
    manager = certificates.get_manager(core.conf)
    issued = CA().issue("www.example.test", dns=["www.example.test"])
    found = {}
    with core.db.write() as session:
        for project in ("alpha", "beta"):
            row = manager.store(session, kind="certificate", certificate=issued.cert_pem,
                                private_key=issued.key_pem, project_id=project)
            session.flush()
            found[project] = f"lbaas://certificates/{row.id}"
    return found


def _count(kapp, model):
    with kapp.extensions["lbaas_core"].db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def _lb(client):
    lb = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4())}})
    assert lb.status_code == 201, lb.get_json()
    lb_id = lb.get_json()["loadbalancer"]["id"]
    client.wait(f"{LBS}/{lb_id}", "loadbalancer")
    return lb_id


def test_a_listener_may_use_its_own_projects_certificate_only(kapp, refs):
    alpha = caller(kapp, ["member"], "alpha")
    lb_id = _lb(alpha)
    listeners = _count(kapp, models.Listener)
    body = {"listener": {"loadbalancer_id": lb_id, "protocol": "TERMINATED_HTTPS",
                         "protocol_port": 443, "default_tls_container_ref": refs["beta"]}}
    refused = alpha.post("/v2/lbaas/listeners", body)
    assert refused.status_code == 400, refused.get_json()
    assert refs["beta"] in refused.get_json()["faultstring"]
    assert _count(kapp, models.Listener) == listeners
    body["listener"]["default_tls_container_ref"] = refs["alpha"]
    assert alpha.post("/v2/lbaas/listeners", body).status_code == 201


def test_a_pool_and_a_graph_are_checked_with_the_callers_project(kapp, refs):
    alpha = caller(kapp, ["member"], "alpha")
    lb_id = _lb(alpha)
    pools = _count(kapp, models.Pool)
    pool = {"loadbalancer_id": lb_id, "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN",
            "tls_enabled": True, "tls_container_ref": refs["beta"]}
    assert alpha.post("/v2/lbaas/pools", {"pool": pool}).status_code == 400
    assert _count(kapp, models.Pool) == pools
    lbs = _count(kapp, models.LoadBalancer)
    graph = {"vip_subnet_id": str(uuid.uuid4()), "listeners": [{
        "protocol": "TERMINATED_HTTPS", "protocol_port": 443,
        "default_tls_container_ref": refs["beta"]}]}
    assert alpha.post(LBS, {"loadbalancer": graph}).status_code == 400
    assert _count(kapp, models.LoadBalancer) == lbs
    beta = caller(kapp, ["member"], "beta")
    made = beta.post(LBS, {"loadbalancer": graph})
    assert made.status_code == 201, made.get_json()
