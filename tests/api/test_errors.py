"""Errors: the Octavia fault body for bad bodies, types, ids, sizes, media types and URLs.

The fuzz tests at the end throw junk at every field of the load balancer and
listener schemas and assert that nothing ever answers 5xx.
"""
import json
import uuid

import pytest

from lbaas.api.schemas.listener import ListenerPOST, ListenerPUT
from lbaas.api.schemas.loadbalancer import LoadBalancerPOST, LoadBalancerPUT
from tests.api.support import LBS, LISTENERS, create_listener, fault, lb_url, listener_url

JUNK = [None, True, False, 0, -1, 2 ** 64, 1.5, -1e308, "", "x" * 5000, "a\u0000b", "\ud800",
        "\u00fc\u4e2d", "not-a-uuid", "1e3", "-0", [], [None], [{}], [[1]], {},
        {"a": {"b": []}}, [{"id": {"x": [1, {"y": None}]}}]]
FAULT_KEYS = {"faultcode", "faultstring", "debuginfo"}
SOME_ID = "5a0c7b4e-1f2d-4c3b-8a9e-6d5f4e3c2b1a"  # fixed, so parametrized test ids are stable


def is_fault(resp, code):
    """Whether a response has this status and Octavia's client fault body."""
    body = resp.get_json()
    return resp.status_code == code and set(body) == FAULT_KEYS and \
        body["faultcode"] == "Client" and body["debuginfo"] is None and \
        isinstance(body["faultstring"], str)


def raw_post(client, url, data, content_type="application/json"):
    """POST raw bytes or text."""
    return client.raw.post(url, data=data, content_type=content_type)


# Malformed bodies.

@pytest.mark.parametrize("data", ["{bad", "{\"loadbalancer\": }", "[", "\"", "nul",
                                  b"\xff\xfe\x00", "{'loadbalancer': {}}"])
def test_malformed_json_is_400(client, data):
    """Bodies that are not JSON get Octavia's text."""
    resp = raw_post(client, LBS, data)
    assert is_fault(resp, 400)
    assert fault(resp) == "Request is not in valid JSON format"


def test_deeply_nested_json_is_400_not_500(client):
    """JSON nested past the parser's depth is invalid JSON, not a crash."""
    resp = raw_post(client, LBS, "[" * 100000)
    assert fault(resp) == "Request is not in valid JSON format"


def test_body_without_envelope_is_400(client):
    """An empty object lacks the loadbalancer key."""
    resp = client.post(LBS, {})
    assert fault(resp) == ("Invalid input for field/attribute loadbalancer. Value: 'None'. "
                           "Mandatory field missing.")


def test_body_with_wrong_envelope_is_400(client):
    """Another top-level key is an unknown attribute."""
    resp = client.post(LBS, {"lb": {"vip_subnet_id": str(uuid.uuid4())}})
    assert is_fault(resp, 400)
    assert fault(resp).startswith("Unknown attribute for argument") and "lb" in fault(resp)


@pytest.mark.parametrize("body", [[], "text", 5, None])
def test_body_that_is_not_an_object_is_400(client, body):
    """A JSON list, string, number or null is not a request body."""
    resp = raw_post(client, LBS, json.dumps(body))
    assert is_fault(resp, 400)


@pytest.mark.parametrize("inner", [None, [], "x", 1])
def test_envelope_that_is_not_an_object_is_400(client, inner):
    """The envelope's value must be an object."""
    resp = client.post(LBS, {"loadbalancer": inner})
    assert is_fault(resp, 400)
    assert fault(resp).startswith("Invalid input for field/attribute loadbalancer.")


def test_unknown_attribute_in_create_is_400(client):
    """Unknown attributes are refused by name."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()), "color": 1}})
    assert fault(resp) == "Unknown attribute for argument loadbalancer: color"


def test_unknown_attribute_in_nested_object_names_its_path(client):
    """The dotted path of a nested unknown attribute is named."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "additional_vips": [{"subnet": "x"}]}})
    assert fault(resp) == "Unknown attribute for argument loadbalancer.additional_vips: subnet"


def test_body_without_content_type_is_read_as_json(client):
    """A JSON body sent without Content-Type is accepted (a documented leniency)."""
    data = json.dumps({"loadbalancer": {"vip_subnet_id": str(uuid.uuid4())}})
    resp = client.raw.post(LBS, data=data)
    assert resp.status_code == 201


def test_id_in_create_body_is_refused(client):
    """Ids are generated; a body id is an unknown attribute."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "id": str(uuid.uuid4())}})
    assert fault(resp) == "Unknown attribute for argument loadbalancer: id"


@pytest.mark.parametrize("text", ["a\u0000b", "\ud800"])
def test_text_no_database_can_store_is_400(client, text):
    """NUL characters and lone surrogates are refused, naming the attribute."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()), "name": text}})
    assert is_fault(resp, 400)
    assert fault(resp).startswith("Invalid input for field/attribute name.")


# Types, conversions and bounds.

@pytest.mark.parametrize("field,value,reason", [
    ("vip_subnet_id", "abc", "Value should be UUID format"),
    ("admin_state_up", "maybe", "Value not an unambiguous boolean"),
    ("admin_state_up", "2", "Value not an unambiguous boolean"),
    ("admin_state_up", "True", "Value not an unambiguous boolean"),
    ("admin_state_up", " yes", "Value not an unambiguous boolean"),
])
def test_wrong_value_gives_field_value_and_reason(client, field, value, reason):
    """Type failures use WSME's 'Invalid input for field/attribute' text."""
    body = {"vip_subnet_id": str(uuid.uuid4()), field: value}
    resp = client.post(LBS, {"loadbalancer": body})
    assert fault(resp) == f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}"


@pytest.mark.parametrize("field,value", [("name", 5), ("description", ["a"]), ("tags", "a"),
                                         ("tags", [1]), ("vip_address", "1.2.3"),
                                         ("provider", {}), ("additional_vips", {})])
def test_wrong_type_is_400_naming_field(client, field, value):
    """A value of the wrong JSON type is refused, naming the attribute."""
    body = {"vip_subnet_id": str(uuid.uuid4()), field: value}
    resp = client.post(LBS, {"loadbalancer": body})
    assert is_fault(resp, 400)
    assert fault(resp).startswith(f"Invalid input for field/attribute {field}. Value: ")


def test_name_longer_than_255_is_400(client):
    """name is at most 255 characters."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "name": "n" * 256}})
    assert fault(resp).endswith("Value should have a maximum character requirement of 255")


def test_project_id_longer_than_36_is_400(client):
    """project_id is at most 36 characters."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "project_id": "p" * 37}})
    assert fault(resp).startswith("Invalid input for field/attribute project_id.")


@pytest.mark.parametrize("word,expected", [("yes", True), ("off", False), (1, True), (0, False),
                                           (2, True), ("t", True), ("n", False), ("1", True)])
def test_boolean_words_are_accepted(client, word, expected):
    """Booleans accept JSON booleans, any integer by its truth, and WSME's lower-case words."""
    resp = client.post(LBS, {"loadbalancer": {"vip_subnet_id": str(uuid.uuid4()),
                                              "admin_state_up": word}})
    assert resp.get_json()["loadbalancer"]["admin_state_up"] is expected


def test_numeric_strings_are_accepted_as_integers(client, project):
    """Integer fields take numeric strings and answer numbers."""
    lb = client.create_lb(project)
    resp = client.post(LISTENERS, {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": "8080",
        "connection_limit": "100", "timeout_client_data": "1000"}})
    li = resp.get_json()["listener"]
    assert (li["protocol_port"], li["connection_limit"], li["timeout_client_data"]) == \
        (8080, 100, 1000)


@pytest.mark.parametrize("field,value,bound", [
    ("connection_limit", -2, "greater or equal to -1"),
    ("timeout_client_data", 2073600001, "lower or equal to 2073600000"),
    ("timeout_member_connect", -1, "greater or equal to 0"),
    ("connection_limit", 2 ** 40, "lower or equal to 2147483647"),
    ("protocol_port", 65536, "lower or equal to 65535"),
])
def test_out_of_range_integer_names_the_bound(client, project, field, value, bound):
    """Integers outside their range are refused, naming the bound crossed."""
    lb = client.create_lb(project)
    body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80, field: value}
    resp = client.post(LISTENERS, {"listener": body})
    assert fault(resp) == (f"Invalid input for field/attribute {field}. Value: '{value}'. "
                           f"Value should be {bound}")


def test_insert_header_value_of_wrong_type_names_insert_headers(client, project):
    """A non-string header value is reported against insert_headers as a whole."""
    lb = client.create_lb(project)
    resp = client.post(LISTENERS, {"listener": {
        "loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80,
        "insert_headers": {"X-Forwarded-For": 5}}})
    assert fault(resp).startswith("Invalid input for field/attribute insert_headers. Value: ")


# Unknown ids.

@pytest.mark.parametrize("url,name", [(LBS, "Load Balancer"), (LISTENERS, "Listener")])
def test_unknown_id_is_404_with_fault_body(client, url, name):
    """Show of an unknown id: 404, 'X <id> not found.'."""
    object_id = str(uuid.uuid4())
    resp = client.get(f"{url}/{object_id}")
    assert resp.get_json() == {"faultcode": "Client", "faultstring": f"{name} {object_id} "
                                                                     "not found.",
                               "debuginfo": None}
    assert resp.status_code == 404


def test_non_uuid_id_is_404(client):
    """An id that is not even a UUID is simply not found."""
    resp = client.get(f"{LBS}/not-an-id")
    assert (resp.status_code, fault(resp)) == (404, "Load Balancer not-an-id not found.")


def test_id_with_nul_is_404(client):
    """A NUL in the path is a URL that does not exist."""
    assert is_fault(client.get(f"{LBS}/a%00b"), 404)


def test_query_with_nul_is_400(client):
    """A NUL in a query value is refused."""
    assert is_fault(client.get(f"{LBS}?name=a%00b"), 400)


def test_unknown_query_parameters_on_show_are_ignored(client, project):
    """GET one ignores parameters it does not know."""
    lb = client.create_lb(project)
    assert client.get(lb_url(lb["id"]) + "?color=blue").status_code == 200


# Size, media types, routing.

def test_oversized_body_is_413_with_fault_body(client, app):
    """A body above max_request_body_size is refused before parsing."""
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = raw_post(client, LBS, json.dumps({"loadbalancer": {"name": "x" * limit}}))
    assert is_fault(resp, 413)


def test_accept_xml_is_406_in_api_wg_shape(client):
    """A request that does not accept JSON gets the API-WG error shape."""
    resp = client.get(LBS, headers={"Accept": "application/xml"})
    [error] = resp.get_json()["errors"]
    assert resp.status_code == 406
    assert {k: error[k] for k in ("status", "title", "detail")} == {
        "status": 406, "title": "Not Acceptable",
        "detail": "Only content type application/json is accepted."}
    assert error["request_id"].startswith("req-")


@pytest.mark.parametrize("accept", ["*/*", "application/*", "text/html;q=0.9, application/json",
                                    "garbage;;;", "", "application/json; charset=utf-8"])
def test_accept_admitting_json_or_unparseable_is_served(client, accept):
    """JSON-admitting and unparseable Accept headers are answered with JSON."""
    assert client.get(LBS, headers={"Accept": accept}).status_code == 200


def test_unknown_url_is_404_in_fault_shape(client):
    """Routing 404s carry the fault body too."""
    assert is_fault(client.get("/v2/lbaas/nothing-here"), 404)


@pytest.mark.parametrize("method,url", [("patch", LBS), ("delete", LBS),
                                        ("post", f"{LBS}/{SOME_ID}"),
                                        ("post", f"{LISTENERS}/{SOME_ID}/stats")])
def test_method_not_allowed_is_405_in_fault_shape(client, method, url):
    """A known URL with a wrong method is 405 with the fault body."""
    assert is_fault(getattr(client.raw, method)(url), 405)


@pytest.mark.parametrize("method,url,allowed", [
    ("patch", LBS, {"GET", "HEAD", "OPTIONS", "POST"}),
    ("post", f"{LBS}/{SOME_ID}", {"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})])
def test_method_not_allowed_names_the_allowed_methods(client, method, url, allowed):
    """A 405 carries Allow with the methods the URL does accept (RFC 9110 15.5.6)."""
    resp = getattr(client.raw, method)(url)
    assert resp.status_code == 405
    assert {m.strip() for m in resp.headers.get("Allow", "").split(",")} == allowed


@pytest.mark.parametrize("url", ["/v2", "/v2.0", "/v2/lbaas", "/v2/octavia", "/v2.0/lbaas"])
def test_version_roots_answer_the_string_v2(client, url):
    """The version roots answer the JSON string "v2"."""
    resp = client.get(url)
    assert (resp.status_code, resp.get_json()) == (200, "v2")


@pytest.mark.parametrize("url", ["/v2/loadbalancers", "/v2.0/lbaas/loadbalancers",
                                 "/v2.0/loadbalancers.json", "/v2/lbaas/loadbalancers.json"])
def test_url_aliases_reach_the_collection(client, project, url):
    """/v2.0, collections under /v2 and the .json suffix all reach the same list."""
    lb = client.create_lb(project)
    body = client.get(f"{url}?project_id={project}").get_json()
    assert [o["id"] for o in body["loadbalancers"]] == [lb["id"]]


def test_openapi_document_is_served(client):
    """GET /v2/openapi.json is the OpenAPI document of the resources."""
    resp = client.get("/v2/openapi.json")
    doc = json.loads(resp.get_data())
    assert resp.status_code == 200
    assert {"/v2/lbaas/loadbalancers", "/v2/lbaas/listeners"} <= set(doc["paths"])


# Fuzz: junk at every field; never a 5xx.

def _assert_client_errors(responses):
    bad = [(what, r.status_code, r.get_data(as_text=True)[:200]) for what, r in responses
           if r.status_code >= 500 or (r.status_code >= 400 and not is_fault(r, r.status_code))]
    assert bad == []


@pytest.fixture
def lb(client, project):
    """An ACTIVE load balancer."""
    return client.create_lb(project)


def _settle(client, lb_id, resp):
    """After a write went through, wait for the load balancer so the next one is judged too."""
    if resp.status_code < 300:
        client.wait(lb_url(lb_id), "loadbalancer")


@pytest.mark.parametrize("field", list(LoadBalancerPOST().fields))
def test_fuzz_load_balancer_create_field(client, project, field):
    """Junk in one create field is a 2xx or a 4xx with the fault body."""
    responses = []
    for value in JUNK:
        body = {"vip_subnet_id": str(uuid.uuid4()), "project_id": project, field: value}
        responses.append((value, client.post(LBS, {"loadbalancer": body})))
    _assert_client_errors(responses)


@pytest.mark.parametrize("field", list(LoadBalancerPUT().fields))
def test_fuzz_load_balancer_update_field(client, lb, field):
    """Junk in one update field is a 2xx or a 4xx with the fault body."""
    responses = []
    for value in JUNK:
        resp = client.put(lb_url(lb["id"]), {"loadbalancer": {field: value}})
        responses.append((value, resp))
        _settle(client, lb["id"], resp)
    _assert_client_errors(responses)


@pytest.mark.parametrize("field", list(ListenerPOST().fields))
def test_fuzz_listener_create_field(client, lb, field):
    """Junk in one listener create field is a 2xx or a 4xx with the fault body."""
    responses = []
    for port, value in enumerate(JUNK, start=1000):
        body = {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": port,
                field: value}
        resp = client.post(LISTENERS, {"listener": body})
        responses.append((value, resp))
        _settle(client, lb["id"], resp)
    _assert_client_errors(responses)


@pytest.mark.parametrize("field", list(ListenerPUT().fields))
def test_fuzz_listener_update_field(client, lb, field):
    """Junk in one listener update field is a 2xx or a 4xx with the fault body."""
    li = create_listener(client, lb)
    responses = []
    for value in JUNK:
        resp = client.put(listener_url(li["id"]), {"listener": {field: value}})
        responses.append((value, resp))
        _settle(client, lb["id"], resp)
    _assert_client_errors(responses)


@pytest.mark.parametrize("body", [
    {"loadbalancer": {"listeners": [{"protocol": "HTTP", "protocol_port": 80,
                                     "default_pool": {"name": [1]}}]}},
    {"loadbalancer": {"additional_vips": [{"subnet_id": SOME_ID, "port_id": 5}]}},
    {"loadbalancer": {"vip_sg_ids": [[]]}},
    {"loadbalancer": {"pools": [{"name": "p", "members": {}}]}},
    {"loadbalancer": {"loadbalancer": {"loadbalancer": {}}}},
    {"loadbalancer": {"tags": [["nested"]]}},
])
def test_fuzz_nested_junk_in_load_balancer_body(client, body):
    """Junk nested inside lists and objects is refused as a client error."""
    body = {"loadbalancer": dict(body["loadbalancer"], vip_subnet_id=str(uuid.uuid4()))}
    resp = client.post(LBS, body)
    _assert_client_errors([(body, resp)])
    assert resp.status_code == 400


@pytest.mark.parametrize("query", [
    "limit=1e9", "limit=99999999999999999999999", "marker=%ff", "sort=%00", "sort=,,,",
    "sort=:", "sort_key=&sort_dir=", "fields=", "page_reverse=True", "created_at=yesterday",
    "created_at=2020-01-01T00:00:00", "updated_at=", "protocol_port=99999999999999999999999",
    "vip_address=%e2%98%83", "tags=&tags-any=&not-tags=&not-tags-any=", "sort=updated_at:desc",
    "admin_state_up=maybe", "limit=-5&marker=x&page_reverse=True", "id=" + "x" * 5000])
@pytest.mark.parametrize("url", [LBS, LISTENERS])
def test_fuzz_list_queries(client, url, query):
    """Odd list queries answer 200 or a 4xx fault, never a 5xx."""
    _assert_client_errors([(query, client.get(f"{url}?{query}"))])
