"""Listeners through the API: defaults, port rules, protocol options, CIDRs, update and delete."""
import uuid

import pytest
from octavia_lib.api.drivers import exceptions as lib_exc

from lbaas.core import models
from lbaas.core.services import tls_rules
from tests.api.support import (LISTENERS, SHARED_V4, SHARED_V6, add_pool, create_listener, fault,
                               lb_url, listener_body, listener_url, overridden, report_stats,
                               set_status)
from tests.api.support import shared_network  # noqa: F401  (a fixture)

CERT = "https://keys.example/v1/secrets/cert-1"
SOME_ID = "5a0c7b4e-1f2d-4c3b-8a9e-6d5f4e3c2b1a"
DEFAULT_CIPHERS_PREFIX = "ECDHE-ECDSA-AES256-GCM-SHA384:"


@pytest.fixture
def lb(client, project):
    """An ACTIVE load balancer of the test's project."""
    return client.create_lb(project)


@pytest.fixture
def certs(monkeypatch):
    """A certificate store that can read every reference (none is configured otherwise)."""
    monkeypatch.setattr(tls_rules, "check_refs", lambda *args, **kwargs: None)


def post(client, lb, protocol="HTTP", port=80, **fields):
    """POST a listener; the raw response."""
    return client.post(LISTENERS, listener_body(lb["id"], protocol, port, **fields))


def created(client, lb, protocol="HTTP", port=80, **fields):
    """POST a listener that must be accepted; the 201 body."""
    resp = post(client, lb, protocol, port, **fields)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["listener"]


def put(client, listener, **fields):
    """PUT fields on a listener; the raw response."""
    return client.put(listener_url(listener["id"]), {"listener": fields})


def https(client, lb, port=443, **fields):
    """Create a TERMINATED_HTTPS listener (needs the certs fixture) and wait for it."""
    return create_listener(client, lb, "TERMINATED_HTTPS", port,
                           default_tls_container_ref=CERT, **fields)


# Create: defaults and rendering.

def test_create_answers_201_pending_create_offline(client, lb):
    """A new listener is PENDING_CREATE/OFFLINE in the create answer."""
    li = created(client, lb)
    assert (li["provisioning_status"], li["operating_status"]) == ("PENDING_CREATE", "OFFLINE")


def test_create_locks_the_load_balancer(client, app, lb, monkeypatch):
    """Creating a listener moves its load balancer to PENDING_UPDATE until the provider reports."""
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_create", lambda listener: None)  # never reports
    created(client, lb)
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"


def test_update_locks_listener_and_load_balancer(client, app, lb, monkeypatch):
    """Updating a listener holds it and its load balancer PENDING_UPDATE until the report."""
    li = create_listener(client, lb)
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_update", lambda old, new: None)  # never reports
    put(client, li, name="x")
    statuses = (client.get(lb_url(lb["id"])).get_json()["loadbalancer"]["provisioning_status"],
                client.get(listener_url(li["id"])).get_json()["listener"]["provisioning_status"])
    assert statuses == ("PENDING_UPDATE", "PENDING_UPDATE")


def test_http_listener_defaults(client, lb):
    """Every optional field gets Octavia's default; TLS options stay null off TLS listeners."""
    li = created(client, lb)
    expected = {
        "name": "", "description": "", "admin_state_up": True, "connection_limit": -1,
        "default_pool_id": None, "default_tls_container_ref": None, "sni_container_refs": [],
        "insert_headers": {}, "timeout_client_data": 50000, "timeout_member_connect": 5000,
        "timeout_member_data": 50000, "timeout_tcp_inspect": 0,
        "client_ca_tls_container_ref": None, "client_authentication": "NONE",
        "client_crl_container_ref": None, "allowed_cidrs": None, "tls_ciphers": None,
        "tls_versions": None, "alpn_protocols": None, "hsts_max_age": None,
        "hsts_include_subdomains": False, "hsts_preload": False, "l7policies": [], "tags": [],
        "project_id": lb["project_id"], "loadbalancers": [{"id": lb["id"]}]}
    assert {k: li[k] for k in expected} == expected


def test_response_has_no_loadbalancer_id(client, lb):
    """The load balancer is referenced as loadbalancers: [{"id"}], never loadbalancer_id."""
    assert "loadbalancer_id" not in created(client, lb)


def test_timeouts_default_from_configuration(client, app, lb):
    """Timeout defaults come from [haproxy_amphora]."""
    with overridden(app, **{"haproxy_amphora.timeout_client_data": 1234,
                            "haproxy_amphora.timeout_tcp_inspect": 7}):
        li = created(client, lb)
    assert (li["timeout_client_data"], li["timeout_tcp_inspect"]) == (1234, 7)


def test_terminated_https_gets_tls_defaults(client, lb, certs):
    """TERMINATED_HTTPS listeners get the configured ciphers, versions and ALPN protocols."""
    li = https(client, lb)
    assert li["tls_ciphers"].startswith(DEFAULT_CIPHERS_PREFIX)
    assert li["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert li["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]


def test_tcp_listener_has_no_tls_defaults(client, lb):
    """Off TERMINATED_HTTPS, TLS options stay null."""
    li = created(client, lb, "TCP", 9000)
    assert (li["tls_ciphers"], li["tls_versions"], li["alpn_protocols"]) == (None, None, None)


def test_project_is_inherited_from_the_load_balancer(client, lb):
    """A body project_id is overwritten by the load balancer's."""
    li = created(client, lb, project_id="someone-else")
    assert li["project_id"] == lb["project_id"]


def test_listener_becomes_active_and_online(client, lb):
    """The provider reports the listener ACTIVE and ONLINE."""
    li = create_listener(client, lb)
    assert (li["provisioning_status"], li["operating_status"]) == ("ACTIVE", "ONLINE")


def test_disabled_listener_is_offline(client, lb):
    """admin_state_up false makes the provider report OFFLINE."""
    li = create_listener(client, lb, admin_state_up=False)
    assert li["operating_status"] == "OFFLINE"


def test_tags_on_create_are_rendered(client, lb):
    """Listener tags are stored and shown."""
    assert sorted(created(client, lb, tags=["x", "y"])["tags"]) == ["x", "y"]


# Provider failures.

def _failing(*_args):
    raise lib_exc.DriverError(user_fault_string="backend down", operator_fault_string="x")


def test_provider_error_is_500_with_its_message(client, app, lb, monkeypatch):
    """A provider DriverError is a 500 naming the provider and its user message."""
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_create", _failing)
    resp = post(client, lb)
    assert resp.status_code == 500
    assert resp.get_json() == {"faultcode": "Server", "debuginfo": None,
                               "faultstring": "Provider 'noop' reports error: backend down"}


def test_provider_error_rolls_back_the_create(client, app, lb, monkeypatch):
    """After a failed driver call the load balancer is ACTIVE and no listener exists."""
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_create", _failing)
    post(client, lb)
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert (shown["provisioning_status"], shown["listeners"]) == ("ACTIVE", [])


def test_provider_error_rolls_back_the_update(client, app, lb, monkeypatch):
    """A failed update leaves the listener's values and statuses as they were."""
    li = create_listener(client, lb, name="before")
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_update", _failing)
    put(client, li, name="after")
    shown = client.get(listener_url(li["id"])).get_json()["listener"]
    assert (shown["name"], shown["provisioning_status"]) == ("before", "ACTIVE")


def test_unsupported_option_is_501(client, app, lb, monkeypatch):
    """A provider refusing an option answers 501 with its message."""
    def refuse(_listener):
        raise lib_exc.UnsupportedOptionError(user_fault_string="no timeouts here",
                                             operator_fault_string="x")

    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_create", refuse)
    resp = post(client, lb)
    assert (resp.status_code, fault(resp)) == (
        501, "Provider 'noop' does not support a requested option: no timeouts here")


# Create: load balancer state and existence.

def test_create_on_unknown_load_balancer_is_404(client):
    """The load balancer must exist."""
    lb_id = str(uuid.uuid4())
    resp = client.post(LISTENERS, listener_body(lb_id))
    assert resp.status_code == 404
    assert fault(resp) == f"Load Balancer {lb_id} not found."


@pytest.mark.parametrize("status", ["PENDING_UPDATE", "ERROR"])
def test_create_on_busy_load_balancer_is_409(client, app, lb, status):
    """Children may only be added to an ACTIVE load balancer."""
    set_status(app, models.LoadBalancer, lb["id"], status)
    resp = post(client, lb)
    assert resp.status_code == 409
    assert fault(resp) == f"Load Balancer {lb['id']} is immutable and cannot be updated."


def test_busy_load_balancer_is_reported_before_option_errors(client, app, lb):
    """As in Octavia, the lock is tested before the protocol options: 409, not 400."""
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = post(client, lb, "TCP", 81, insert_headers={"X-Forwarded-For": "true"})
    assert resp.status_code == 409


def test_create_without_protocol_is_400(client, lb):
    """protocol is mandatory."""
    resp = client.post(LISTENERS, {"listener": {"loadbalancer_id": lb["id"],
                                                "protocol_port": 80}})
    assert fault(resp) == ("Invalid input for field/attribute protocol. Value: 'None'. "
                           "Mandatory field missing.")


def test_create_without_loadbalancer_id_is_400(client):
    """loadbalancer_id is mandatory."""
    resp = client.post(LISTENERS, {"listener": {"protocol": "HTTP", "protocol_port": 80}})
    assert fault(resp) == ("Invalid input for field/attribute loadbalancer_id. Value: 'None'. "
                           "Mandatory field missing.")


def test_create_with_unknown_protocol_is_400(client, lb):
    """protocol must be one of the listener protocols."""
    resp = post(client, lb, "PROXY")
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute protocol. Value: 'PROXY'.")


@pytest.mark.parametrize("field", ["default_pool", "l7policies"])
def test_graph_only_fields_are_400_on_listener_post(client, lb, field):
    """default_pool and l7policies belong to a load balancer graph create only."""
    value = {"name": "p"} if field == "default_pool" else [{"action": "REJECT"}]
    resp = post(client, lb, **{field: value})
    assert resp.status_code == 400


# Create: ports.

@pytest.mark.parametrize("first,second", [("HTTP", "TCP"), ("TCP", "HTTPS"),
                                          ("HTTP", "TERMINATED_HTTPS"), ("HTTPS", "PROMETHEUS")])
def test_same_l4_port_conflicts_across_protocols(client, lb, certs, first, second):
    """Two TCP-based listeners cannot share a port."""
    create_listener(client, lb, first, 80)
    fields = {"default_tls_container_ref": CERT} if second == "TERMINATED_HTTPS" else {}
    resp = post(client, lb, second, 80, **fields)
    assert resp.status_code == 409
    assert fault(resp) == ("Another Listener on this Load Balancer is already using protocol "
                           f"{second} and protocol_port 80")


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_datagram_listener_coexists_on_a_tcp_port(client, lb, protocol):
    """UDP:80 and SCTP:80 live beside HTTP:80."""
    create_listener(client, lb, "HTTP", 80)
    assert post(client, lb, protocol, 80).status_code == 201


def test_same_port_on_another_load_balancer_is_fine(client, lb, project):
    """Port uniqueness is per load balancer."""
    create_listener(client, lb, "HTTP", 80)
    other = client.create_lb(project)
    assert post(client, other, "HTTP", 80).status_code == 201


def test_port_is_free_again_after_delete(client, lb):
    """A deleted listener's port can be reused."""
    li = create_listener(client, lb, "HTTP", 80)
    client.delete(listener_url(li["id"]))
    client.wait(lb_url(lb["id"]), "loadbalancer")
    assert post(client, lb, "TCP", 80).status_code == 201


@pytest.mark.parametrize("port", [0, 65536, -1])
def test_port_out_of_range_is_400(client, lb, port):
    """protocol_port is 1..65535."""
    resp = post(client, lb, "HTTP", port)
    assert resp.status_code == 400
    assert fault(resp).startswith(
        f"Invalid input for field/attribute protocol_port. Value: '{port}'.")


# Create: protocol-specific options.

@pytest.mark.parametrize("protocol", ["TCP", "HTTPS", "UDP", "SCTP", "PROMETHEUS"])
def test_insert_headers_only_on_http_protocols(client, lb, protocol):
    """insert_headers on a non-HTTP listener is refused."""
    resp = post(client, lb, protocol, 81, insert_headers={"X-Forwarded-For": "true"})
    assert resp.status_code == 400
    assert fault(resp) == (f"insert-headers is not a valid option for a {protocol} protocol "
                           "listener.")


def test_insert_headers_accepted_on_http(client, lb):
    """A known header on an HTTP listener is stored as given."""
    li = created(client, lb, insert_headers={"X-Forwarded-For": "true",
                                             "X-Forwarded-Port": "false"})
    assert li["insert_headers"] == {"X-Forwarded-For": "true", "X-Forwarded-Port": "false"}


def test_unknown_insert_header_is_400(client, lb):
    """A header name Octavia does not know is refused, and named."""
    resp = post(client, lb, insert_headers={"X-Bogus": "true"})
    assert resp.status_code == 400
    assert "X-Bogus" in fault(resp)


def test_ssl_client_header_on_http_is_400(client, lb):
    """Client-certificate headers need TERMINATED_HTTPS."""
    resp = post(client, lb, insert_headers={"X-SSL-Client-DN": "true"})
    assert resp.status_code == 400
    assert "X-SSL-Client-DN" in fault(resp)


def test_ssl_client_header_on_terminated_https_is_accepted(client, lb, certs):
    """Client-certificate headers are fine on TERMINATED_HTTPS."""
    li = https(client, lb, insert_headers={"X-SSL-Client-DN": "true"})
    assert li["insert_headers"] == {"X-SSL-Client-DN": "true"}


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
@pytest.mark.parametrize("field,value", [("default_tls_container_ref", CERT),
                                         ("sni_container_refs", [CERT]),
                                         ("client_ca_tls_container_ref", CERT)])
def test_datagram_listener_with_tls_ref_is_400(client, lb, protocol, field, value):
    """UDP and SCTP listeners cannot carry certificates."""
    resp = post(client, lb, protocol, 82, **{field: value})
    assert resp.status_code == 400
    assert fault(resp).endswith(f"{protocol} protocol listener does not support TLS.")


@pytest.mark.parametrize("protocol", ["HTTP", "TCP", "HTTPS"])
def test_cert_refs_on_non_tls_protocol_are_400(client, lb, protocol):
    """Certificates only go on TLS-terminating listeners."""
    resp = post(client, lb, protocol, 83, default_tls_container_ref=CERT)
    assert resp.status_code == 400
    assert fault(resp) == ("Validation failure: Certificate container references are not "
                           f"allowed on {protocol} protocol listeners.")


def test_terminated_https_without_certificate_is_400(client, lb):
    """TERMINATED_HTTPS needs a default or SNI certificate."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443)
    assert resp.status_code == 400
    assert fault(resp) == ("Validation failure: An SNI or default certificate container "
                           "reference must be provided for TERMINATED_HTTPS protocol listeners.")


def test_unreadable_certificate_is_400(client, lb):
    """A reference the key manager cannot read is refused and named."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT)
    assert resp.status_code == 400
    assert fault(resp) == f"Could not retrieve certificate: {CERT}"


def test_sni_only_terminated_https_is_accepted(client, lb, certs):
    """SNI references alone satisfy TERMINATED_HTTPS."""
    li = created(client, lb, "TERMINATED_HTTPS", 443, sni_container_refs=[CERT])
    assert li["sni_container_refs"] == [CERT]


def test_terminated_https_disabled_by_config_is_400(client, app, lb, certs):
    """allow_tls_terminated_listeners=false refuses TERMINATED_HTTPS."""
    with overridden(app, **{"api_settings.allow_tls_terminated_listeners": False}):
        resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT)
    assert fault(resp) == ("The selected protocol is not allowed in this deployment: "
                           "TERMINATED_HTTPS")


def test_prometheus_disabled_by_config_is_400(client, app, lb):
    """allow_prometheus_listeners=false refuses PROMETHEUS."""
    with overridden(app, **{"api_settings.allow_prometheus_listeners": False}):
        resp = post(client, lb, "PROMETHEUS", 9100)
    assert fault(resp) == "The selected protocol is not allowed in this deployment: PROMETHEUS"


def test_client_authentication_without_ca_is_400(client, lb, certs):
    """client_authentication other than NONE needs a client CA."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                client_authentication="MANDATORY")
    assert resp.status_code == 400


def test_crl_without_ca_is_400(client, lb, certs):
    """A CRL needs a client CA."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                client_crl_container_ref=CERT + "-crl")
    assert resp.status_code == 400


def test_client_ca_without_server_certificate_is_400(client, lb, certs):
    """A client CA needs a default or SNI certificate."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, client_ca_tls_container_ref=CERT)
    assert resp.status_code == 400


# Create: HSTS.

def test_hsts_max_age_off_terminated_https_is_400(client, lb):
    """HSTS is only for TERMINATED_HTTPS."""
    resp = post(client, lb, hsts_max_age=10)
    assert resp.status_code == 400
    assert "TERMINATED_HTTPS" in fault(resp)


@pytest.mark.parametrize("flag", ["hsts_include_subdomains", "hsts_preload"])
def test_hsts_flag_without_max_age_is_400(client, lb, certs, flag):
    """include_subdomains and preload need hsts_max_age."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                **{flag: True})
    assert resp.status_code == 400
    assert "hsts_max_age" in fault(resp)


def test_hsts_on_terminated_https_is_stored(client, lb, certs):
    """A complete HSTS setting on TERMINATED_HTTPS is accepted and rendered."""
    li = https(client, lb, hsts_max_age=3600, hsts_include_subdomains=True, hsts_preload=True)
    assert (li["hsts_max_age"], li["hsts_include_subdomains"], li["hsts_preload"]) == \
        (3600, True, True)


def test_hsts_max_age_below_zero_is_400(client, lb, certs):
    """hsts_max_age is at least 0."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                hsts_max_age=-1)
    assert fault(resp).startswith("Invalid input for field/attribute hsts_max_age. Value: '-1'.")


# Create: TLS versions, ALPN, ciphers.

@pytest.mark.parametrize("field", ["tls_versions", "alpn_protocols"])
def test_empty_tls_list_is_400(client, lb, certs, field):
    """tls_versions and alpn_protocols may not be empty lists."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                **{field: []})
    assert resp.status_code == 400
    assert fault(resp).startswith("Validation failure: ")


@pytest.mark.parametrize("field,value", [("tls_versions", "TLSv4"), ("alpn_protocols", "h3")])
def test_unknown_tls_list_item_is_400(client, lb, certs, field, value):
    """Items outside Octavia's vocabulary are refused by the schema."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                **{field: [value]})
    assert fault(resp).startswith(f"Invalid input for field/attribute {field}. Value: '{value}'.")


def test_tls_version_below_minimum_is_400(client, app, lb, certs):
    """[api_settings] minimum_tls_version refuses older versions."""
    with overridden(app, **{"api_settings.minimum_tls_version": "TLSv1.2"}):
        resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                    tls_versions=["TLSv1.1", "TLSv1.2"])
    assert resp.status_code == 400
    assert "TLSv1.1" in fault(resp)


def test_given_tls_options_are_stored(client, lb, certs):
    """Explicit ciphers, versions and ALPN replace the defaults."""
    li = https(client, lb, tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256",
               tls_versions=["TLSv1.3"], alpn_protocols=["h2"])
    assert (li["tls_ciphers"], li["tls_versions"], li["alpn_protocols"]) == \
        ("ECDHE-RSA-AES128-GCM-SHA256", ["TLSv1.3"], ["h2"])


@pytest.mark.parametrize("ciphers", ["AES 256", "AES;rm", "AES/x", "AES$"])
def test_cipher_string_with_bad_characters_is_400(client, lb, certs, ciphers):
    """Cipher strings use OpenSSL's characters only."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                tls_ciphers=ciphers)
    assert resp.status_code == 400
    assert fault(resp).startswith("Invalid input for field/attribute tls_ciphers.")


def test_prohibited_cipher_is_400(client, app, lb, certs):
    """Ciphers on [api_settings] tls_cipher_prohibit_list are refused and named."""
    with overridden(app, **{"api_settings.tls_cipher_prohibit_list": "RC4-MD5:DES-CBC3-SHA"}):
        resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                    tls_ciphers="ECDHE-RSA-AES128-GCM-SHA256:RC4-MD5")
    assert fault(resp) == ("Validation failure: The following ciphers have been prohibited by "
                           "an administrator: RC4-MD5")


def test_cipher_string_too_long_is_400(client, lb, certs):
    """tls_ciphers is at most 2048 characters."""
    resp = post(client, lb, "TERMINATED_HTTPS", 443, default_tls_container_ref=CERT,
                tls_ciphers="A" * 2049)
    assert resp.status_code == 400


# allowed_cidrs.

def test_allowed_cidrs_are_normalised_and_deduplicated(client, lb):
    """Host bits are cleared, bare addresses become /32, duplicates go, order stays."""
    li = created(client, lb, allowed_cidrs=["10.0.0.5/24", "192.168.1.1", "10.0.0.0/24"])
    assert li["allowed_cidrs"] == ["10.0.0.0/24", "192.168.1.1/32"]


def test_empty_allowed_cidrs_render_null(client, lb):
    """allowed_cidrs: [] is shown as null."""
    assert created(client, lb, allowed_cidrs=[])["allowed_cidrs"] is None


def test_invalid_cidr_is_400(client, lb):
    """A string that is not a CIDR is refused, naming it."""
    resp = post(client, lb, allowed_cidrs=["10.0.0.0/33"])
    assert resp.status_code == 400
    assert fault(resp).startswith(
        "Invalid input for field/attribute allowed_cidrs. Value: '10.0.0.0/33'.")


def test_cidr_of_other_ip_family_than_vip_is_400(client, lb):
    """An IPv6 CIDR on an IPv4-only load balancer is refused."""
    resp = post(client, lb, allowed_cidrs=["2001:db8::/32"])
    assert resp.status_code == 400
    assert fault(resp).startswith(
        "Validation failure: CIDR 2001:db8::/32 IP version incompatible with all VIPs")


@pytest.mark.usefixtures("shared_network")
def test_cidr_matching_an_additional_vip_family_is_accepted(client, project):
    """An IPv6 CIDR is fine when one of the VIPs is IPv6."""
    lb = client.create_lb(project, vip_subnet_id=SHARED_V4,
                          additional_vips=[{"subnet_id": SHARED_V6}])
    li = created(client, lb, allowed_cidrs=["2001:db8::/32", "10.0.0.0/8"])
    assert li["allowed_cidrs"] == ["2001:db8::/32", "10.0.0.0/8"]


def test_allowed_cidrs_with_vip_security_groups_is_400(client, project):
    """Listeners of a load balancer using VIP security groups cannot have allowed_cidrs."""
    lb = client.create_lb(project, vip_sg_ids=[str(uuid.uuid4())])
    resp = post(client, lb, allowed_cidrs=["10.0.0.0/8"])
    assert resp.status_code == 400


# default_pool_id.

def test_default_pool_on_same_lb_is_accepted(client, app, lb):
    """A compatible pool of the same load balancer can be the default pool."""
    pool_id = add_pool(client, app, lb, "HTTP")
    assert created(client, lb, default_pool_id=pool_id)["default_pool_id"] == pool_id


def test_default_pool_of_another_lb_is_404(client, app, lb, project):
    """A pool of another load balancer is not found from here."""
    other = client.create_lb(project)
    pool_id = add_pool(client, app, other, "HTTP")
    resp = post(client, lb, default_pool_id=pool_id)
    assert resp.status_code == 404
    assert fault(resp) == f"Pool {pool_id} not found."


def test_unknown_default_pool_is_404(client, lb):
    """A default_pool_id that exists nowhere is 404."""
    pool_id = str(uuid.uuid4())
    assert fault(post(client, lb, default_pool_id=pool_id)) == f"Pool {pool_id} not found."


@pytest.mark.parametrize("listener,pool", [("HTTP", "TCP"), ("TCP", "UDP"), ("UDP", "HTTP"),
                                           ("TERMINATED_HTTPS", "HTTPS")])
def test_incompatible_default_pool_is_400(client, app, lb, certs, listener, pool):
    """The pool's protocol must suit the listener's."""
    pool_id = add_pool(client, app, lb, pool)
    fields = {"default_tls_container_ref": CERT} if listener == "TERMINATED_HTTPS" else {}
    resp = post(client, lb, listener, 84, default_pool_id=pool_id, **fields)
    assert resp.status_code == 400
    assert fault(resp).endswith(
        f"The pool protocol '{pool}' is invalid while the listener protocol is '{listener}'.")


def test_prometheus_with_default_pool_is_400(client, app, lb):
    """PROMETHEUS listeners cannot have children."""
    pool_id = add_pool(client, app, lb, "HTTP")
    resp = post(client, lb, "PROMETHEUS", 9100, default_pool_id=pool_id)
    assert fault(resp) == "Protocol PROMETHEUS listeners cannot have child objects."


def test_pool_may_be_default_of_two_listeners(client, app, lb):
    """Nothing stops two listeners sharing a default pool through PUT."""
    pool_id = add_pool(client, app, lb, "HTTP")
    create_listener(client, lb, "HTTP", 80, default_pool_id=pool_id)
    second = create_listener(client, lb, "TCP", 81)
    assert put(client, second, default_pool_id=pool_id).status_code == 200


# Update.

def test_update_answers_200_with_new_values(client, lb):
    """PUT answers 200 with the new values, listener and load balancer PENDING_UPDATE."""
    li = create_listener(client, lb)
    resp = put(client, li, name="n", connection_limit=10, timeout_member_data=1000)
    body = resp.get_json()["listener"]
    assert resp.status_code == 200
    assert (body["name"], body["connection_limit"], body["timeout_member_data"]) == \
        ("n", 10, 1000)
    assert body["provisioning_status"] == "PENDING_UPDATE"


def test_update_reaches_active_again(client, lb):
    """After an update the listener and load balancer are ACTIVE."""
    li = create_listener(client, lb)
    put(client, li, description="d")
    client.wait(lb_url(lb["id"]), "loadbalancer")
    assert client.wait(listener_url(li["id"]), "listener")["description"] == "d"


@pytest.mark.parametrize("field,value", [("protocol", "TCP"), ("protocol_port", 81),
                                         ("loadbalancer_id", SOME_ID),
                                         ("project_id", "p"), ("default_pool", None)])
def test_update_of_create_only_field_is_400(client, lb, field, value):
    """protocol, protocol_port and loadbalancer_id cannot change."""
    li = create_listener(client, lb)
    resp = put(client, li, **{field: value})
    assert resp.status_code == 400
    assert fault(resp) == f"Unknown attribute for argument listener: {field}"


@pytest.mark.parametrize("field,expected", [
    ("connection_limit", -1), ("timeout_client_data", 50000), ("timeout_member_connect", 5000),
    ("timeout_member_data", 50000), ("timeout_tcp_inspect", 0), ("client_authentication", "NONE"),
    ("insert_headers", {}), ("allowed_cidrs", None), ("sni_container_refs", []), ("name", ""),
    ("description", ""), ("default_pool_id", None), ("admin_state_up", False),
    ("hsts_include_subdomains", False), ("hsts_preload", False)])
def test_null_on_update_resets_to_default(client, lb, field, expected):
    """An explicit null on PUT means the field's default."""
    li = create_listener(client, lb, name="x", description="y", connection_limit=5,
                         timeout_client_data=1, timeout_member_connect=2,
                         timeout_member_data=3, timeout_tcp_inspect=4,
                         insert_headers={"X-Forwarded-For": "true"}, allowed_cidrs=["10.0.0.0/8"])
    assert put(client, li, **{field: None}).get_json()["listener"][field] == expected


def test_null_tls_versions_on_update_resets_to_default(client, lb, certs):
    """tls_versions: null on a TERMINATED_HTTPS listener brings back the configured default."""
    li = https(client, lb, tls_versions=["TLSv1.3"])
    resp = put(client, li, tls_versions=None)
    assert resp.get_json()["listener"]["tls_versions"] == ["TLSv1.2", "TLSv1.3"]


def test_absent_fields_are_left_alone_on_update(client, lb):
    """Fields a PUT does not name keep their values."""
    li = create_listener(client, lb, connection_limit=5, name="keep")
    body = put(client, li, description="d").get_json()["listener"]
    assert (body["connection_limit"], body["name"]) == (5, "keep")


def test_update_replaces_allowed_cidrs(client, lb):
    """allowed_cidrs on PUT replaces the list, normalised."""
    li = create_listener(client, lb, allowed_cidrs=["10.0.0.0/8"])
    resp = put(client, li, allowed_cidrs=["172.16.0.1/12"])
    assert resp.get_json()["listener"]["allowed_cidrs"] == ["172.16.0.0/12"]


def test_update_empty_allowed_cidrs_renders_null(client, lb):
    """allowed_cidrs: [] on PUT clears them (rendered null)."""
    li = create_listener(client, lb, allowed_cidrs=["10.0.0.0/8"])
    assert put(client, li, allowed_cidrs=[]).get_json()["listener"]["allowed_cidrs"] is None


def test_update_checks_rules_against_stored_protocol(client, lb):
    """insert_headers on a TCP listener are refused on update too."""
    li = create_listener(client, lb, "TCP", 81)
    resp = put(client, li, insert_headers={"X-Forwarded-For": "true"})
    assert fault(resp) == "insert-headers is not a valid option for a TCP protocol listener."


def test_update_hsts_flag_with_stored_max_age_is_accepted(client, lb, certs):
    """HSTS flags may rely on a max age stored earlier."""
    li = https(client, lb, hsts_max_age=60)
    assert put(client, li, hsts_preload=True).get_json()["listener"]["hsts_preload"] is True


def test_update_tls_versions_empty_is_400_even_off_tls(client, lb):
    """tls_versions is validated whenever present, even on a non-TLS listener."""
    li = create_listener(client, lb)
    assert put(client, li, tls_versions=[]).status_code == 400


def test_update_default_pool_of_other_lb_is_404(client, app, lb, project):
    """A PUT default_pool_id must name a pool of the same load balancer."""
    li = create_listener(client, lb)
    other = client.create_lb(project)
    pool_id = add_pool(client, app, other, "HTTP")
    resp = put(client, li, default_pool_id=pool_id)
    assert (resp.status_code, fault(resp)) == (404, f"Pool {pool_id} not found.")


def test_update_on_busy_load_balancer_is_409(client, app, lb):
    """A listener cannot change while its load balancer is not ACTIVE."""
    li = create_listener(client, lb)
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = put(client, li, name="x")
    assert resp.status_code == 409
    assert fault(resp) == f"Load Balancer {lb['id']} is immutable and cannot be updated."


def test_update_tags_replace_and_null_leaves(client, lb):
    """tags on PUT replace the list; null leaves it."""
    li = create_listener(client, lb, tags=["a"])
    put(client, li, tags=["b", "c"])
    client.wait(lb_url(lb["id"]), "loadbalancer")
    assert put(client, li, tags=None).get_json()["listener"]["tags"] == ["b", "c"]


def test_update_unknown_listener_is_404(client):
    """PUT on an unknown listener is 404 with its name."""
    li_id = str(uuid.uuid4())
    resp = client.put(listener_url(li_id), {"listener": {"name": "x"}})
    assert (resp.status_code, fault(resp)) == (404, f"Listener {li_id} not found.")


# Delete and stats.

def test_delete_answers_204_and_listener_goes(client, lb):
    """DELETE answers 204 empty; the listener is then 404."""
    li = create_listener(client, lb)
    resp = client.delete(listener_url(li["id"]))
    assert (resp.status_code, resp.get_data()) == (204, b"")
    client.wait(listener_url(li["id"]), "listener", "DELETED")
    assert fault(client.get(listener_url(li["id"]))) == f"Listener {li['id']} not found."


def test_delete_marks_listener_pending_delete(client, app, lb, monkeypatch):
    """Until the provider reports, a deleted listener is PENDING_DELETE."""
    li = create_listener(client, lb)
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_delete", lambda listener: None)  # never reports
    client.delete(listener_url(li["id"]))
    shown = client.get(listener_url(li["id"])).get_json()["listener"]
    assert shown["provisioning_status"] == "PENDING_DELETE"


def test_delete_locks_the_load_balancer(client, app, lb, monkeypatch):
    """Deleting a listener holds its load balancer PENDING_UPDATE until the report."""
    li = create_listener(client, lb)
    driver = app.extensions["lbaas_core"].drivers.get("noop")
    monkeypatch.setattr(driver, "listener_delete", lambda listener: None)  # never reports
    client.delete(listener_url(li["id"]))
    shown = client.get(lb_url(lb["id"])).get_json()["loadbalancer"]
    assert shown["provisioning_status"] == "PENDING_UPDATE"


def test_delete_on_busy_load_balancer_is_409(client, app, lb):
    """A listener cannot be deleted while its load balancer is not ACTIVE."""
    li = create_listener(client, lb)
    set_status(app, models.LoadBalancer, lb["id"], "PENDING_UPDATE")
    resp = client.delete(listener_url(li["id"]))
    assert resp.status_code == 409
    assert fault(resp) == f"Load Balancer {lb['id']} is immutable and cannot be updated."


def test_delete_unknown_listener_is_404(client):
    """DELETE of an unknown listener is 404."""
    assert client.delete(listener_url(str(uuid.uuid4()))).status_code == 404


def test_stats_are_zero_without_traffic(client, lb):
    """A fresh listener's counters are all zero."""
    li = create_listener(client, lb)
    assert client.get(listener_url(li["id"]) + "/stats").get_json() == {"stats": {
        "bytes_in": 0, "bytes_out": 0, "active_connections": 0, "total_connections": 0,
        "request_errors": 0}}


def test_stats_show_reported_counters(client, app, lb):
    """A listener's stats are the counters its provider reported."""
    li = create_listener(client, lb)
    report_stats(app, li["id"], bytes_in=3, bytes_out=4, total_connections=2)
    assert client.get(listener_url(li["id"]) + "/stats").get_json()["stats"] == {
        "bytes_in": 3, "bytes_out": 4, "active_connections": 0, "total_connections": 2,
        "request_errors": 0}


def test_stats_of_unknown_listener_is_404(client):
    """Stats of an unknown listener are 404."""
    assert client.get(listener_url(str(uuid.uuid4())) + "/stats").status_code == 404
