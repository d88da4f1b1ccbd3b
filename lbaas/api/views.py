"""Response bodies: each object rendered as Octavia renders it.

Hot path (a list renders up to 1,000 objects per request): values are read from the row's
instance __dict__ when everything needed is loaded there, which is several times cheaper
than going through SQLAlchemy's instrumented attributes; otherwise (an attribute not loaded
yet) each read goes through getattr, exactly as before. Key order is part of the output.
Load balancers on the GET paths arrive as lbaas.core.queries.LoadBalancerRecord, whose
__dict__ holds every value, so they take the same fast path as a loaded row.
"""


def ts(value):
    """A timestamp as Octavia shows it: ISO 8601, naive UTC, no zone suffix."""
    return value.isoformat() if value is not None else None


class _Attrs:
    """getattr behind the [] of a dict: the fallback when a row has something unloaded."""

    __slots__ = ("row",)

    def __init__(self, row):
        self.row = row

    def __getitem__(self, key):
        return getattr(self.row, key)


def _values(row, keys):
    """The row's loaded values if all of `keys` are loaded, else a getattr accessor."""
    d = getattr(row, "__dict__", None)
    return d if d is not None and keys <= d.keys() else _Attrs(row)


COMMON = frozenset(("id", "name", "project_id", "provisioning_status", "operating_status",
                    "admin_state_up", "created_at", "updated_at"))
LOADBALANCER = COMMON | {
    "description", "vip_address", "vip_port_id", "vip_subnet_id", "vip_network_id",
    "vip_qos_policy_id", "vip_sg_ids", "vip_vnic_type", "additional_vips", "listeners",
    "pools", "provider", "flavor_id", "availability_zone"}
LISTENER = COMMON | {
    "description", "protocol", "protocol_port", "connection_limit",
    "default_tls_container_ref", "sni_container_refs", "default_pool_id", "insert_headers",
    "timeout_client_data", "timeout_member_connect", "timeout_member_data",
    "timeout_tcp_inspect", "client_ca_tls_container_ref", "client_authentication",
    "client_crl_container_ref", "allowed_cidrs", "tls_ciphers", "tls_versions",
    "alpn_protocols", "hsts_max_age", "hsts_include_subdomains", "hsts_preload",
    "loadbalancer_id", "l7policies"}
POOL = COMMON | {
    "description", "protocol", "lb_algorithm", "session_persistence", "listeners",
    "tls_enabled", "tls_container_ref", "ca_tls_container_ref", "crl_container_ref",
    "tls_ciphers", "tls_versions", "alpn_protocols", "loadbalancer_id", "members",
    "healthmonitor"}
MEMBER = COMMON | {
    "address", "protocol_port", "weight", "backup", "subnet_id", "monitor_address",
    "monitor_port", "vnic_type"}
HEALTHMONITOR = COMMON | {
    "type", "delay", "timeout", "max_retries", "max_retries_down", "http_method", "url_path",
    "expected_codes", "http_version", "domain_name", "pool_id"}
L7POLICY = COMMON | {
    "description", "action", "listener_id", "redirect_pool_id", "redirect_url",
    "redirect_prefix", "redirect_http_code", "position", "rules"}
L7RULE = frozenset(("id", "project_id", "provisioning_status", "operating_status",
                    "admin_state_up", "created_at", "updated_at", "type", "compare_type", "key",
                    "value", "invert"))


def _ids(rows):
    return [{"id": r.id} for r in rows]


def _owned(body):
    """The body with upstream's legacy tenant_id (the project_id again) as its last key."""
    body["tenant_id"] = body["project_id"]
    return body


def _common(row, d=None):
    if d is None:
        d = _values(row, COMMON)
    created, updated = d["created_at"], d["updated_at"]
    return {"id": d["id"], "name": d["name"] or "", "project_id": d["project_id"],
            "provisioning_status": d["provisioning_status"],
            "operating_status": d["operating_status"], "admin_state_up": d["admin_state_up"],
            "tags": row.tag_list,
            "created_at": created.isoformat() if created is not None else None,
            "updated_at": updated.isoformat() if updated is not None else None}


def loadbalancer(row):
    """A load balancer with its children as id references."""
    d = _values(row, LOADBALANCER)
    body = _common(row, d)
    body.update(
        description=d["description"] or "", vip_address=d["vip_address"],
        vip_port_id=d["vip_port_id"], vip_subnet_id=d["vip_subnet_id"],
        vip_network_id=d["vip_network_id"], vip_qos_policy_id=d["vip_qos_policy_id"],
        vip_sg_ids=list(d["vip_sg_ids"] or []), vip_vnic_type=d["vip_vnic_type"],
        additional_vips=[{"subnet_id": v.subnet_id, "ip_address": v.ip_address,
                          "port_id": v.port_id} for v in d["additional_vips"]],
        listeners=_ids(d["listeners"]), pools=_ids(d["pools"]),
        provider=d["provider"] or "octavia", flavor_id=d["flavor_id"],
        availability_zone=d["availability_zone"])
    return _owned(body)


def loadbalancer_full(row):
    """A load balancer with its listeners and pools expanded (the graph-create answer)."""
    body = loadbalancer(row)
    body["listeners"] = [listener(li, nested=True) for li in row.listeners]
    body["pools"] = [pool(p, nested=True) for p in row.pools]
    return _owned(body)


def listener(row, nested=False):
    """A listener; nested inside a graph it drops its back-references."""
    d = _values(row, LISTENER)
    body = _common(row, d)
    allowed_cidrs = d["allowed_cidrs"]
    body.update(
        description=d["description"] or "", protocol=d["protocol"],
        protocol_port=d["protocol_port"], connection_limit=d["connection_limit"],
        default_tls_container_ref=d["default_tls_container_ref"],
        sni_container_refs=list(d["sni_container_refs"] or []),
        default_pool_id=d["default_pool_id"],
        l7policies=[l7policy(p, nested=True) for p in d["l7policies"]] if nested
        else _ids(d["l7policies"]),
        insert_headers=dict(d["insert_headers"] or {}),
        timeout_client_data=d["timeout_client_data"],
        timeout_member_connect=d["timeout_member_connect"],
        timeout_member_data=d["timeout_member_data"],
        timeout_tcp_inspect=d["timeout_tcp_inspect"],
        client_ca_tls_container_ref=d["client_ca_tls_container_ref"],
        client_authentication=d["client_authentication"],
        client_crl_container_ref=d["client_crl_container_ref"],
        allowed_cidrs=list(allowed_cidrs) if allowed_cidrs else None,
        tls_ciphers=d["tls_ciphers"], tls_versions=d["tls_versions"],
        alpn_protocols=d["alpn_protocols"], hsts_max_age=d["hsts_max_age"],
        hsts_include_subdomains=d["hsts_include_subdomains"], hsts_preload=d["hsts_preload"])
    if not nested:
        body["loadbalancers"] = [{"id": d["loadbalancer_id"]}]
    return _owned(body)


def session_persistence(value):
    """The persistence object with all four keys, or None."""
    if not value:
        return None
    return {k: value.get(k) for k in ("type", "cookie_name", "persistence_timeout",
                                      "persistence_granularity")}


def pool(row, nested=False):
    """A pool; nested inside a graph it carries its members and monitor in full."""
    d = _values(row, POOL)
    body = _common(row, d)
    body.update(
        description=d["description"] or "", protocol=d["protocol"],
        lb_algorithm=d["lb_algorithm"],
        session_persistence=session_persistence(d["session_persistence"]),
        listeners=_ids(d["listeners"]), tls_enabled=d["tls_enabled"],
        tls_container_ref=d["tls_container_ref"],
        ca_tls_container_ref=d["ca_tls_container_ref"],
        crl_container_ref=d["crl_container_ref"], tls_ciphers=d["tls_ciphers"],
        tls_versions=d["tls_versions"], alpn_protocols=d["alpn_protocols"])
    hm = d["healthmonitor"]
    if nested:
        body["members"] = [member(m) for m in d["members"]]
        body["healthmonitor"] = healthmonitor(hm, nested=True) if hm else None
    else:
        body["loadbalancers"] = [{"id": d["loadbalancer_id"]}]
        body["members"] = _ids(d["members"])
        body["healthmonitor_id"] = hm.id if hm else None
    return _owned(body)


def member(row):
    """A member of a pool."""
    d = _values(row, MEMBER)
    body = _common(row, d)
    body.update(address=d["address"], protocol_port=d["protocol_port"], weight=d["weight"],
                backup=d["backup"], subnet_id=d["subnet_id"],
                monitor_address=d["monitor_address"], monitor_port=d["monitor_port"],
                vnic_type=d["vnic_type"])
    return _owned(body)


def healthmonitor(row, nested=False):
    """A health monitor."""
    d = _values(row, HEALTHMONITOR)
    body = _common(row, d)
    body.update(type=d["type"], delay=d["delay"], timeout=d["timeout"],
                max_retries=d["max_retries"], max_retries_down=d["max_retries_down"],
                http_method=d["http_method"], url_path=d["url_path"],
                expected_codes=d["expected_codes"], http_version=d["http_version"],
                domain_name=d["domain_name"])
    if not nested:
        body["pools"] = [{"id": d["pool_id"]}]
    return _owned(body)


def l7policy(row, nested=False):
    """An L7 policy; nested inside a graph it carries its rules in full."""
    d = _values(row, L7POLICY)
    body = _common(row, d)
    body.update(
        description=d["description"] or "", action=d["action"], listener_id=d["listener_id"],
        redirect_pool_id=d["redirect_pool_id"], redirect_url=d["redirect_url"],
        redirect_prefix=d["redirect_prefix"], position=d["position"],
        rules=[l7rule(r) for r in d["rules"]] if nested else _ids(d["rules"]),
        redirect_http_code=d["redirect_http_code"])
    return _owned(body)


def l7rule(row):
    """An L7 rule (it has no name or description)."""
    d = _values(row, L7RULE)
    created, updated = d["created_at"], d["updated_at"]
    return {"id": d["id"], "type": d["type"], "compare_type": d["compare_type"],
            "key": d["key"], "value": d["value"], "invert": d["invert"],
            "project_id": d["project_id"], "provisioning_status": d["provisioning_status"],
            "operating_status": d["operating_status"], "admin_state_up": d["admin_state_up"],
            "tags": row.tag_list,
            "created_at": created.isoformat() if created is not None else None,
            "updated_at": updated.isoformat() if updated is not None else None,
            "tenant_id": d["project_id"]}
