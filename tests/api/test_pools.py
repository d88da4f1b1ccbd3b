"""Pools: create rules, listener association, session persistence, TLS, locks, update, delete."""
import uuid

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.core import models
from tests.api import support
from tests.api.support import fault

POOLS = "/v2/lbaas/pools"


def set_refs(app, pool_id, **refs):
    """Store certificate references directly (the API cannot: no certificate store is readable)."""
    with support.db(app).write() as session:
        row = session.get(models.Pool, pool_id)
        for key, value in refs.items():
            setattr(row, key, value)


def pool_body(lb_id=None, protocol="HTTP", **fields):
    body = {"protocol": protocol, "lb_algorithm": "ROUND_ROBIN"}
    if lb_id:
        body["loadbalancer_id"] = lb_id
    body.update(fields)
    return body


def listener(client, lb, protocol="HTTP", port=80):
    body = {"loadbalancer_id": lb["id"], "protocol": protocol, "protocol_port": port}
    return client.create("listeners", "listener", body, lb["id"])


def create_pool(client, lb, **fields):
    return client.create("pools", "pool", pool_body(lb["id"], **fields), lb["id"])


def post(client, body):
    return client.post(POOLS, {"pool": body})


def lb_status(client, lb):
    return client.get(f"/v2/lbaas/loadbalancers/{lb['id']}").get_json()["loadbalancer"][
        "provisioning_status"]


# Create.

def test_pool_on_load_balancer_reaches_active(client, project):
    lb = client.create_lb(project)
    pool = create_pool(client, lb, name="web")
    assert (pool["operating_status"], pool["name"], pool["project_id"]) == \
        ("ONLINE", "web", project)
    assert (pool["loadbalancers"], pool["listeners"], pool["members"]) == \
        ([{"id": lb["id"]}], [], [])
    assert pool["healthmonitor_id"] is None and pool["session_persistence"] is None


def test_pool_create_answers_201_pending_create_offline(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"]))
    assert resp.status_code == 201
    body = resp.get_json()["pool"]
    assert (body["provisioning_status"], body["operating_status"]) == ("PENDING_CREATE", "OFFLINE")


def test_pool_without_tls_has_no_tls_options(client, project):
    pool = create_pool(client, client.create_lb(project))
    assert [pool[k] for k in ("tls_enabled", "tls_ciphers", "tls_versions", "alpn_protocols")] \
        == [False, None, None, None]


def test_pool_needs_load_balancer_or_listener(client, project):
    resp = post(client, pool_body())
    assert resp.status_code == 400
    assert fault(resp) == ("Validation failure: Must provide at least one of: loadbalancer_id, "
                           "listener_id")


def test_pool_on_unknown_load_balancer_is_404(client):
    lb_id = str(uuid.uuid4())
    resp = post(client, pool_body(lb_id))
    assert (resp.status_code, fault(resp)) == (404, f"Load Balancer {lb_id} not found.")


def test_pool_on_unknown_listener_is_404(client):
    li_id = str(uuid.uuid4())
    resp = post(client, pool_body(listener_id=li_id))
    assert (resp.status_code, fault(resp)) == (404, f"Listener {li_id} not found.")


def test_pool_missing_protocol_is_rejected(client, project):
    lb = client.create_lb(project)
    resp = post(client, {"loadbalancer_id": lb["id"], "lb_algorithm": "ROUND_ROBIN"})
    assert fault(resp) == ("Invalid input for field/attribute protocol. Value: 'None'. "
                           "Mandatory field missing.")


def test_pool_project_comes_from_load_balancer(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], project_id="someone-else"))
    assert resp.get_json()["pool"]["project_id"] == project


# Listener association.

def test_pool_with_listener_becomes_its_default_pool(client, project):
    lb = client.create_lb(project)
    li = listener(client, lb)
    pool = client.create("pools", "pool", pool_body(listener_id=li["id"]), lb["id"])
    assert pool["listeners"] == [{"id": li["id"]}]
    assert pool["loadbalancers"] == [{"id": lb["id"]}]
    got = client.get(f"/v2/lbaas/listeners/{li['id']}").get_json()["listener"]
    assert got["default_pool_id"] == pool["id"]


def test_pool_for_listener_with_default_pool_conflicts(client, project):
    lb = client.create_lb(project)
    li = listener(client, lb)
    client.create("pools", "pool", pool_body(listener_id=li["id"]), lb["id"])
    resp = post(client, pool_body(listener_id=li["id"]))
    assert (resp.status_code, fault(resp)) == (409, "This listener already has a default pool")


def test_pool_protocol_incompatible_with_listener_is_rejected(client, project):
    lb = client.create_lb(project)
    li = listener(client, lb)
    resp = post(client, pool_body(listener_id=li["id"], protocol="UDP"))
    assert resp.status_code == 400
    assert fault(resp) == ("Validation failure: The pool protocol 'UDP' is invalid while the "
                           "listener protocol is 'HTTP'.")


def test_protocol_compatibility_is_checked_when_both_ids_are_sent(client, project):
    lb = client.create_lb(project)
    li = listener(client, lb)
    resp = post(client, pool_body(lb["id"], listener_id=li["id"], protocol="TCP"))
    assert resp.status_code == 400


@pytest.mark.parametrize("listener_protocol,pool_protocol", [
    ("TCP", "HTTPS"), ("HTTPS", "TCP"), ("HTTP", "PROXYV2"), ("UDP", "UDP")])
def test_compatible_protocols_are_accepted(client, project, listener_protocol, pool_protocol):
    lb = client.create_lb(project)
    li = listener(client, lb, listener_protocol)
    resp = post(client, pool_body(listener_id=li["id"], protocol=pool_protocol))
    assert resp.status_code == 201


def test_pool_on_prometheus_listener_is_rejected(client, project):
    lb = client.create_lb(project)
    li = listener(client, lb, "PROMETHEUS", 9100)
    resp = post(client, pool_body(listener_id=li["id"]))
    assert (resp.status_code, fault(resp)) == \
        (400, "Protocol PROMETHEUS listeners cannot have child objects.")


def test_listener_of_another_load_balancer_is_404(client, project):
    lb, other = client.create_lb(project), client.create_lb(project)
    li = listener(client, other)
    resp = post(client, pool_body(lb["id"], listener_id=li["id"]))
    assert (resp.status_code, fault(resp)) == (404, f"Listener {li['id']} not found.")


# Session persistence.

def test_app_cookie_persistence_is_shown_with_all_keys(client, project):
    pool = create_pool(client, client.create_lb(project),
                       session_persistence={"type": "APP_COOKIE", "cookie_name": "sid"})
    assert pool["session_persistence"] == {"type": "APP_COOKIE", "cookie_name": "sid",
                                           "persistence_timeout": None,
                                           "persistence_granularity": None}


@pytest.mark.parametrize("persistence,message", [
    ({"type": "APP_COOKIE"}, 'Field "cookie_name" must be specified when using the "APP_COOKIE" '
                             'session persistence type.'),
    ({"type": "HTTP_COOKIE", "cookie_name": "sid"},
     'Field "cookie_name" can only be specified with session persistence of type "APP_COOKIE".'),
    ({"type": "APP_COOKIE", "cookie_name": "a=b"}, 'Supplied "cookie_name" is invalid.'),
    ({"type": "SOURCE_IP", "persistence_timeout": 60},
     "persistence_timeout and persistence_granularity is only for UDP and SCTP protocol pools."),
])
def test_invalid_persistence_on_http_pool_is_rejected(client, project, persistence, message):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], session_persistence=persistence))
    assert (resp.status_code, fault(resp)) == (400, f"Validation failure: {message}")


def test_cookie_name_with_whitespace_fails_the_pattern(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], session_persistence={"type": "APP_COOKIE",
                                                                 "cookie_name": "a b"}))
    assert fault(resp) == ("Invalid input for field/attribute cookie_name. Value: 'a b'. "
                           "Value should match the pattern ^[^\\s,;\\\\]+$")


def test_persistence_without_type_is_rejected(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], session_persistence={"cookie_name": "sid"}))
    assert fault(resp) == ("Invalid input for field/attribute type. Value: 'None'. "
                           "Mandatory field missing.")


def test_udp_pool_accepts_source_ip_with_timeout_and_granularity(client, project):
    persistence = {"type": "SOURCE_IP", "persistence_timeout": 60,
                   "persistence_granularity": "255.255.255.0"}
    pool = create_pool(client, client.create_lb(project), protocol="UDP",
                       session_persistence=persistence)
    assert pool["session_persistence"] == dict(persistence, cookie_name=None)


@pytest.mark.parametrize("protocol,persistence,message", [
    ("UDP", {"type": "SOURCE_IP", "cookie_name": "sid"},
     "session_persistence SOURCE_IP type for UDP and SCTP protocols only accepts: type, "
     "persistence_timeout, persistence_granularity."),
    ("SCTP", {"type": "APP_COOKIE", "cookie_name": "sid"},
     "Cookie names are not supported for UDP/SCTP pools."),
    ("UDP", {"type": "HTTP_COOKIE"},
     "Session persistence of type HTTP_COOKIE is not supported for UDP/SCTP protocol pools."),
])
def test_invalid_persistence_on_datagram_pool_is_rejected(client, project, protocol,
                                                          persistence, message):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], protocol=protocol, session_persistence=persistence))
    assert (resp.status_code, fault(resp)) == (400, f"Validation failure: {message}")


# TLS toward members.

def test_tls_enabled_pool_gets_default_tls_options(client, project, app):
    api = app.config["LBAAS_CONF"].api_settings
    pool = create_pool(client, client.create_lb(project), tls_enabled=True)
    assert (pool["tls_ciphers"], pool["tls_versions"], pool["alpn_protocols"]) == \
        (api.default_pool_ciphers, list(api.default_pool_tls_versions),
         list(api.default_pool_alpn_protocols))


def test_tls_enabled_pool_keeps_given_tls_versions(client, project):
    pool = create_pool(client, client.create_lb(project), tls_enabled=True,
                       tls_versions=["TLSv1.3"])
    assert pool["tls_versions"] == ["TLSv1.3"]


def test_tls_pool_with_empty_tls_versions_is_rejected(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], tls_enabled=True, tls_versions=[]))
    assert fault(resp) == "Validation failure: TLS versions cannot be an empty list."


def test_prohibited_cipher_is_rejected(client, project, app):
    lb = client.create_lb(project)
    with support.overridden(app, **{"api_settings.tls_cipher_prohibit_list": "RC4-MD5"}):
        resp = post(client, pool_body(lb["id"], tls_enabled=True, tls_ciphers="RC4-MD5:AES128"))
    assert fault(resp) == ("Validation failure: The following ciphers have been prohibited by an "
                           "administrator: RC4-MD5")


def test_crl_without_ca_is_rejected(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], crl_container_ref="crl-ref"))
    assert fault(resp) == ("Validation failure: A CA certificate reference is required to "
                           "specify a revocation list.")


def test_unreadable_certificate_ref_is_rejected(client, project):
    lb = client.create_lb(project)
    resp = post(client, pool_body(lb["id"], tls_container_ref="cert-ref"))
    assert (resp.status_code, fault(resp)) == (400, "Could not retrieve certificate: cert-ref")


# Locks.

def test_pool_create_on_busy_load_balancer_conflicts(client, project, app):
    lb = client.create_lb(project)
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = post(client, pool_body(lb["id"]))
    assert (resp.status_code, fault(resp)) == \
        (409, f"Load Balancer {lb['id']} is immutable and cannot be updated.")
    assert client.get(f"{POOLS}?loadbalancer_id={lb['id']}").get_json()["pools"] == []


def test_pool_create_on_errored_load_balancer_conflicts(client, project, app):
    lb = client.create_lb(project)
    support.set_status(app, models.LoadBalancer, lb["id"], "ERROR")
    assert post(client, pool_body(lb["id"])).status_code == 409


def test_pool_create_holds_load_balancer_and_listener(client, project, freeze):
    lb = client.create_lb(project)
    li = listener(client, lb)
    freeze()
    post(client, pool_body(listener_id=li["id"]))
    got = client.get(f"/v2/lbaas/listeners/{li['id']}").get_json()["listener"]
    assert (lb_status(client, lb), got["provisioning_status"]) == \
        ("PENDING_UPDATE", "PENDING_UPDATE")


def test_second_write_while_pending_conflicts(client, project, freeze):
    lb = client.create_lb(project)
    freeze()
    pool = post(client, pool_body(lb["id"])).get_json()["pool"]
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"name": "x"}})
    assert resp.status_code == 409


def test_driver_error_rolls_back_the_create(client, project, driver, monkeypatch):
    lb = client.create_lb(project)

    def fail(pool):
        raise lib_exc.DriverError(user_fault_string="boom", operator_fault_string="boom")

    monkeypatch.setattr(driver, "pool_create", fail)
    resp = post(client, pool_body(lb["id"]))
    assert (resp.status_code, fault(resp)) == (500, "Provider 'noop' reports error: boom")
    assert lb_status(client, lb) == "ACTIVE"
    assert client.get(f"{POOLS}?loadbalancer_id={lb['id']}").get_json()["pools"] == []


# Update.

def test_pool_update_answers_200_with_new_values(client, project):
    pool = create_pool(client, client.create_lb(project))
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"name": "new",
                                                         "lb_algorithm": "SOURCE_IP"}})
    body = resp.get_json()["pool"]
    assert (resp.status_code, body["name"], body["lb_algorithm"], body["provisioning_status"]) \
        == (200, "new", "SOURCE_IP", "PENDING_UPDATE")


def test_pool_update_reaches_active(client, project):
    lb = client.create_lb(project)
    pool = create_pool(client, lb)
    client.put(f"{POOLS}/{pool['id']}", {"pool": {"admin_state_up": False}})
    client.wait(f"/v2/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
    got = client.wait(f"{POOLS}/{pool['id']}", "pool")
    assert (got["admin_state_up"], got["operating_status"]) == (False, "OFFLINE")


def test_pool_update_holds_load_balancer_listeners_and_pool(client, project, freeze):
    lb = client.create_lb(project)
    li = listener(client, lb)
    pool = client.create("pools", "pool", pool_body(listener_id=li["id"]), lb["id"])
    freeze()
    client.put(f"{POOLS}/{pool['id']}", {"pool": {"name": "x"}})
    got = client.get(f"/v2/lbaas/listeners/{li['id']}").get_json()["listener"]
    assert (lb_status(client, lb), got["provisioning_status"],
            client.get(f"{POOLS}/{pool['id']}").get_json()["pool"]["provisioning_status"]) == \
        ("PENDING_UPDATE", "PENDING_UPDATE", "PENDING_UPDATE")


def test_pool_update_sends_only_given_fields_to_the_driver(client, project, driver,
                                                           monkeypatch):
    pool = create_pool(client, client.create_lb(project))
    calls = []
    original = driver.pool_update
    monkeypatch.setattr(driver, "pool_update",
                        lambda old, new: (calls.append((old, new)), original(old, new)))
    client.put(f"{POOLS}/{pool['id']}", {"pool": {"name": "x", "tls_ciphers": None}})
    old, new = calls[0]
    assert (old.name, new.name, new.pool_id, new.lb_algorithm) == ("", "x", pool["id"], dm.Unset)
    assert new.tls_ciphers  # null means the configured default


def test_pool_update_null_persistence_removes_it(client, project):
    pool = create_pool(client, client.create_lb(project),
                       session_persistence={"type": "SOURCE_IP"})
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"session_persistence": None}})
    assert resp.get_json()["pool"]["session_persistence"] is None


def test_pool_update_persistence_inherits_stored_type(client, project):
    pool = create_pool(client, client.create_lb(project),
                       session_persistence={"type": "APP_COOKIE", "cookie_name": "a"})
    resp = client.put(f"{POOLS}/{pool['id']}",
                      {"pool": {"session_persistence": {"cookie_name": "b"}}})
    assert resp.get_json()["pool"]["session_persistence"]["type"] == "APP_COOKIE"
    assert resp.get_json()["pool"]["session_persistence"]["cookie_name"] == "b"


def test_pool_update_validates_persistence_against_stored_protocol(client, project):
    pool = create_pool(client, client.create_lb(project), protocol="UDP")
    resp = client.put(f"{POOLS}/{pool['id']}",
                      {"pool": {"session_persistence": {"type": "HTTP_COOKIE"}}})
    assert resp.status_code == 400


def test_pool_update_cannot_remove_ca_while_crl_is_stored(client, project, app):
    pool = create_pool(client, client.create_lb(project))
    set_refs(app, pool["id"], ca_tls_container_ref="ca", crl_container_ref="crl")
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"ca_tls_container_ref": None}})
    assert fault(resp) == ("Validation failure: A CA reference cannot be removed when a "
                           "certificate revocation list is present.")


def test_pool_update_crl_without_any_ca_is_rejected(client, project):
    pool = create_pool(client, client.create_lb(project))
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"crl_container_ref": "crl"}})
    assert fault(resp) == ("Validation failure: A CA reference is required to specify a "
                           "certificate revocation list.")


def test_pool_update_null_tls_versions_means_default(client, project, app):
    pool = create_pool(client, client.create_lb(project), tls_enabled=True,
                       tls_versions=["TLSv1.3"])
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"tls_versions": None}})
    assert resp.get_json()["pool"]["tls_versions"] == \
        list(app.config["LBAAS_CONF"].api_settings.default_pool_tls_versions)


def test_pool_protocol_is_not_updatable(client, project):
    pool = create_pool(client, client.create_lb(project))
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"protocol": "TCP"}})
    assert (resp.status_code, fault(resp)) == \
        (400, "Unknown attribute for argument pool: protocol")


def test_pool_update_replaces_tags(client, project):
    pool = create_pool(client, client.create_lb(project), tags=["a", "b"])
    resp = client.put(f"{POOLS}/{pool['id']}", {"pool": {"tags": ["c"]}})
    assert resp.get_json()["pool"]["tags"] == ["c"]


def test_update_of_unknown_pool_is_404(client):
    pool_id = str(uuid.uuid4())
    resp = client.put(f"{POOLS}/{pool_id}", {"pool": {"name": "x"}})
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


# Delete.

def test_pool_delete_answers_204_and_removes_the_pool(client, project):
    lb = client.create_lb(project)
    pool = create_pool(client, lb)
    assert client.delete(f"{POOLS}/{pool['id']}").status_code == 204
    client.wait(f"{POOLS}/{pool['id']}", "pool", status="DELETED")
    assert client.get(f"{POOLS}/{pool['id']}").status_code == 404


def test_pool_delete_marks_pending_delete_and_holds_listener(client, project, freeze):
    lb = client.create_lb(project)
    li = listener(client, lb)
    pool = client.create("pools", "pool", pool_body(listener_id=li["id"]), lb["id"])
    freeze()
    client.delete(f"{POOLS}/{pool['id']}")
    got = client.get(f"/v2/lbaas/listeners/{li['id']}").get_json()["listener"]
    assert (client.get(f"{POOLS}/{pool['id']}").get_json()["pool"]["provisioning_status"],
            got["provisioning_status"], lb_status(client, lb)) == \
        ("PENDING_DELETE", "PENDING_UPDATE", "PENDING_UPDATE")


def test_deleting_a_default_pool_clears_the_listener_reference(client, project):
    lb = client.create_lb(project)
    li = listener(client, lb)
    pool = client.create("pools", "pool", pool_body(listener_id=li["id"]), lb["id"])
    client.delete(f"{POOLS}/{pool['id']}")
    client.wait(f"{POOLS}/{pool['id']}", "pool", status="DELETED")
    got = client.wait(f"/v2/lbaas/listeners/{li['id']}", "listener")
    assert got["default_pool_id"] is None


def test_deleting_a_pool_removes_its_members_and_monitor(client, project, app):
    lb = client.create_lb(project)
    pool = create_pool(client, lb)
    member = client.create("members", "member", {"address": "10.0.0.1", "protocol_port": 80},
                           lb["id"], parent_url=f"{POOLS}/{pool['id']}/members")
    hm = client.create("healthmonitors", "healthmonitor",
                       {"pool_id": pool["id"], "type": "TCP", "delay": 3, "timeout": 1,
                        "max_retries": 2}, lb["id"])
    client.delete(f"{POOLS}/{pool['id']}")
    client.wait(f"{POOLS}/{pool['id']}", "pool", status="DELETED")
    assert client.get(f"/v2/lbaas/healthmonitors/{hm['id']}").status_code == 404
    with app.extensions["lbaas_core"].db.read() as session:
        assert session.get(models.Member, member["id"]) is None


def test_pool_delete_on_busy_load_balancer_conflicts(client, project, app):
    lb = client.create_lb(project)
    pool = create_pool(client, lb)
    support.set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    assert client.delete(f"{POOLS}/{pool['id']}").status_code == 409


# Read.

def test_unknown_pool_is_404(client):
    pool_id = str(uuid.uuid4())
    resp = client.get(f"{POOLS}/{pool_id}")
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_pool_list_filters_by_load_balancer(client, project):
    lb, other = client.create_lb(project), client.create_lb(project)
    pool = create_pool(client, lb)
    create_pool(client, other)
    body = client.get(f"{POOLS}?loadbalancer_id={lb['id']}").get_json()
    assert ([p["id"] for p in body["pools"]], body["pools_links"]) == ([pool["id"]], [])


def test_pool_list_filters_by_tag(client, project):
    lb = client.create_lb(project)
    tagged = create_pool(client, lb, tags=[project])
    create_pool(client, lb)
    body = client.get(f"{POOLS}?tags={project}").get_json()
    assert [p["id"] for p in body["pools"]] == [tagged["id"]]


def test_pool_list_rejects_unknown_filter(client):
    resp = client.get(f"{POOLS}?nonsense=1")
    assert (resp.status_code, fault(resp)) == \
        (400, "One or more arguments are either duplicate or invalid")
