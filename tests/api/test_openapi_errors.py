"""The OpenAPI document describes the error bodies the API really sends.

Every error is Octavia's fault body ({"faultcode", "faultstring", "debuginfo"}); a 406 is
the API-WG error list. flask-smorest's own {code, status, message, errors} is documented
nowhere, and real error answers of several kinds validate against the document.
"""
import uuid

import pytest
import schemathesis
from schemathesis.specs.openapi.checks import response_schema_conformance

METHODS = ("get", "post", "put", "delete", "patch")


@pytest.fixture
def doc(app):
    """The served OpenAPI document."""
    return app.test_client().get("/v2/openapi.json").get_json()


def _resolve(doc, node):
    """A component a $ref points at, or the node itself."""
    while isinstance(node, dict) and "$ref" in node:
        kind, name = node["$ref"].split("/")[-2:]
        node = doc["components"][kind][name]
    return node


def _error_schemas(doc):
    """{(path, method, code): schema name} of every documented error response."""
    found = {}
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in METHODS:
                continue
            for code, response in operation["responses"].items():
                if code == "default" or code.startswith(("4", "5")):
                    schema = _resolve(doc, response)["content"]["application/json"]["schema"]
                    found[(path, method, code)] = schema["$ref"].rsplit("/", 1)[-1]
    return found


def test_every_operation_documents_the_fault_body(doc):
    """Each operation's default and 4xx responses are the Fault, its 406 the API-WG list."""
    found = _error_schemas(doc)
    operations = {(p, m) for p, item in doc["paths"].items() for m in item if m in METHODS}
    assert {(p, m) for p, m, code in found if code == "default"} == operations
    assert {(p, m) for p, m, code in found if code == "406"} == operations
    wrong = {k: v for k, v in found.items() if v != ("ApiWgErrors" if k[2] == "406" else "Fault")}
    assert wrong == {}
    assert "Error" not in doc["components"]["schemas"]


def test_fault_schema_is_octavias(doc):
    """The Fault names exactly Octavia's three keys, all required, debuginfo nullable."""
    fault = doc["components"]["schemas"]["Fault"]
    assert sorted(fault["required"]) == ["debuginfo", "faultcode", "faultstring"]
    assert set(fault["properties"]) == {"faultcode", "faultstring", "debuginfo"}
    assert fault["properties"]["faultcode"]["enum"] == ["Client", "Server"]
    assert fault["properties"]["debuginfo"]["nullable"] is True


SOME = "5a0c7b4e-1f2d-4c3b-8a9e-6d5f4e3c2b1a"
ERRORS = [
    # path, method, path parameters, body, headers, expected status
    ("/v2/lbaas/loadbalancers/{lb_id}", "GET", {"lb_id": SOME}, None, {}, 404),
    ("/v2/lbaas/loadbalancers", "POST", {}, {"loadbalancer": {"vip_subnet_id": "x"}}, {}, 400),
    ("/v2/lbaas/loadbalancers", "POST", {}, {"loadbalancer": {}}, {}, 400),
    ("/v2/lbaas/listeners", "GET", {}, None, {}, 400),          # an unknown filter (below)
    ("/v2/lbaas/pools/{pool_id}/members", "GET", {"pool_id": SOME}, None, {}, 404),
    ("/v2/lbaas/quotas/{project_id}", "PUT", {"project_id": "p"}, {"quota": {"pool": 1.5}},
     {}, 400),
    ("/v2/lbaas/loadbalancers/{lb_id}", "GET", {"lb_id": SOME}, None,
     {"Accept": "text/html"}, 406),
    ("/v2/lbaas/flavors", "GET", {}, None, {"X-Project-Id": "p" * 40}, 400),
]


@pytest.mark.parametrize("path, method, params, body, headers, status", ERRORS)
def test_real_errors_match_the_document(app, doc, path, method, params, body, headers, status):
    """Error answers of several kinds validate against the documented response schema."""
    schema = schemathesis.openapi.from_dict(doc, config=schemathesis.Config.from_dict({}))
    schema.app = app
    operation = schema[path][method]
    kwargs = {"path_parameters": params, "headers": headers}
    if body is not None:
        kwargs["body"] = body
    if path == "/v2/lbaas/listeners":
        kwargs["query"] = {"no_such_attribute": "x"}
    case = operation.Case(**kwargs)
    resp = case.call()
    assert resp.status_code == status, resp.text
    case.validate_response(resp, checks=[response_schema_conformance])


def test_a_server_error_matches_the_document(app, doc, monkeypatch):
    """A 500 (any unexpected exception) is a Server fault the document describes."""
    from lbaas.core.services import loadbalancers

    def broken(*_args, **_kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(loadbalancers.LoadBalancerService, "get", broken)
    schema = schemathesis.openapi.from_dict(doc, config=schemathesis.Config.from_dict({}))
    schema.app = app
    case = schema["/v2/lbaas/loadbalancers/{lb_id}"]["GET"].Case(
        path_parameters={"lb_id": str(uuid.uuid4())})
    resp = case.call()
    assert resp.status_code == 500 and resp.json()["faultcode"] == "Server"
    case.validate_response(resp, checks=[response_schema_conformance])
