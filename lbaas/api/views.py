"""Response bodies: each object rendered as Octavia renders it."""


def ts(value):
    """A timestamp as Octavia shows it: ISO 8601, naive UTC, no zone suffix."""
    return value.isoformat() if value is not None else None


def _ids(rows):
    return [{"id": r.id} for r in rows]


def _common(row):
    return {"id": row.id, "name": row.name or "", "project_id": row.project_id,
            "provisioning_status": row.provisioning_status,
            "operating_status": row.operating_status, "admin_state_up": row.admin_state_up,
            "tags": row.tag_list, "created_at": ts(row.created_at),
            "updated_at": ts(row.updated_at)}


def loadbalancer(row):
    """A load balancer with its children as id references."""
    body = _common(row)
    body.update(
        description=row.description or "", vip_address=row.vip_address,
        vip_port_id=row.vip_port_id, vip_subnet_id=row.vip_subnet_id,
        vip_network_id=row.vip_network_id, vip_qos_policy_id=row.vip_qos_policy_id,
        vip_sg_ids=list(row.vip_sg_ids or []), vip_vnic_type=row.vip_vnic_type,
        additional_vips=[{"subnet_id": v.subnet_id, "ip_address": v.ip_address,
                          "port_id": v.port_id} for v in row.additional_vips],
        listeners=_ids(row.listeners), pools=_ids(row.pools),
        provider=row.provider or "octavia", flavor_id=row.flavor_id,
        availability_zone=row.availability_zone)
    return body


def loadbalancer_full(row):
    """A load balancer with its listeners and pools expanded (the graph-create answer)."""
    body = loadbalancer(row)
    body["listeners"] = [listener(li, nested=True) for li in row.listeners]
    body["pools"] = [pool(p, nested=True) for p in row.pools]
    return body


def listener(row, nested=False):
    """A listener; nested inside a graph it drops its back-references."""
    body = _common(row)
    body.update(
        description=row.description or "", protocol=row.protocol,
        protocol_port=row.protocol_port, connection_limit=row.connection_limit,
        default_tls_container_ref=row.default_tls_container_ref,
        sni_container_refs=list(row.sni_container_refs or []),
        default_pool_id=row.default_pool_id, l7policies=[],
        insert_headers=dict(row.insert_headers or {}),
        timeout_client_data=row.timeout_client_data,
        timeout_member_connect=row.timeout_member_connect,
        timeout_member_data=row.timeout_member_data,
        timeout_tcp_inspect=row.timeout_tcp_inspect,
        client_ca_tls_container_ref=row.client_ca_tls_container_ref,
        client_authentication=row.client_authentication,
        client_crl_container_ref=row.client_crl_container_ref,
        allowed_cidrs=list(row.allowed_cidrs) if row.allowed_cidrs else None,
        tls_ciphers=row.tls_ciphers, tls_versions=row.tls_versions,
        alpn_protocols=row.alpn_protocols, hsts_max_age=row.hsts_max_age,
        hsts_include_subdomains=row.hsts_include_subdomains, hsts_preload=row.hsts_preload)
    if not nested:
        body["loadbalancers"] = [{"id": row.loadbalancer_id}]
    return body


def session_persistence(value):
    """The persistence object with all four keys, or None."""
    if not value:
        return None
    return {k: value.get(k) for k in ("type", "cookie_name", "persistence_timeout",
                                      "persistence_granularity")}


def pool(row, nested=False):
    """A pool; nested inside a graph it carries its members and monitor in full."""
    body = _common(row)
    body.update(
        description=row.description or "", protocol=row.protocol,
        lb_algorithm=row.lb_algorithm,
        session_persistence=session_persistence(row.session_persistence),
        listeners=_ids(row.listeners), tls_enabled=row.tls_enabled,
        tls_container_ref=row.tls_container_ref,
        ca_tls_container_ref=row.ca_tls_container_ref,
        crl_container_ref=row.crl_container_ref, tls_ciphers=row.tls_ciphers,
        tls_versions=row.tls_versions, alpn_protocols=row.alpn_protocols)
    if nested:
        body["members"] = [member(m) for m in row.members]
        body["healthmonitor"] = healthmonitor(row.healthmonitor, nested=True) \
            if row.healthmonitor else None
    else:
        body["loadbalancers"] = [{"id": row.loadbalancer_id}]
        body["members"] = _ids(row.members)
        body["healthmonitor_id"] = row.healthmonitor.id if row.healthmonitor else None
    return body


def member(row):
    """A member of a pool."""
    body = _common(row)
    body.update(address=row.address, protocol_port=row.protocol_port, weight=row.weight,
                backup=row.backup, subnet_id=row.subnet_id,
                monitor_address=row.monitor_address, monitor_port=row.monitor_port,
                vnic_type=row.vnic_type)
    return body


def healthmonitor(row, nested=False):
    """A health monitor."""
    body = _common(row)
    body.update(type=row.type, delay=row.delay, timeout=row.timeout,
                max_retries=row.max_retries, max_retries_down=row.max_retries_down,
                http_method=row.http_method, url_path=row.url_path,
                expected_codes=row.expected_codes, http_version=row.http_version,
                domain_name=row.domain_name)
    if not nested:
        body["pools"] = [{"id": row.pool_id}]
    return body
