"""Database rows turned into the octavia-lib data models a provider driver receives."""
from octavia_lib.api.drivers import data_models as dm


def member(row):
    """A Member as octavia-lib describes it."""
    return dm.Member(
        member_id=row.id, pool_id=row.pool_id, name=row.name or "",
        admin_state_up=row.admin_state_up, project_id=row.project_id, address=row.address,
        protocol_port=row.protocol_port, weight=row.weight, backup=row.backup,
        subnet_id=row.subnet_id, monitor_address=row.monitor_address,
        monitor_port=row.monitor_port, vnic_type=row.vnic_type)


def healthmonitor(row):
    """A HealthMonitor as octavia-lib describes it."""
    return dm.HealthMonitor(
        healthmonitor_id=row.id, pool_id=row.pool_id, name=row.name or "",
        admin_state_up=row.admin_state_up, project_id=row.project_id, type=row.type,
        delay=row.delay, timeout=row.timeout, max_retries=row.max_retries,
        max_retries_down=row.max_retries_down, http_method=row.http_method,
        url_path=row.url_path, expected_codes=row.expected_codes,
        http_version=row.http_version, domain_name=row.domain_name)


def pool(row):
    """A Pool with its members and health monitor."""
    first_listener = row.listeners[0].id if row.listeners else None
    return dm.Pool(
        pool_id=row.id, loadbalancer_id=row.loadbalancer_id, listener_id=first_listener,
        name=row.name or "", description=row.description or "",
        admin_state_up=row.admin_state_up, project_id=row.project_id, protocol=row.protocol,
        lb_algorithm=row.lb_algorithm, session_persistence=row.session_persistence,
        healthmonitor=healthmonitor(row.healthmonitor) if row.healthmonitor else None,
        members=[member(m) for m in row.members], tls_enabled=row.tls_enabled,
        tls_container_ref=row.tls_container_ref, ca_tls_container_ref=row.ca_tls_container_ref,
        crl_container_ref=row.crl_container_ref, tls_versions=row.tls_versions,
        tls_ciphers=row.tls_ciphers, alpn_protocols=row.alpn_protocols)


def l7rule(row):
    """An L7Rule as octavia-lib describes it."""
    return dm.L7Rule(
        l7rule_id=row.id, l7policy_id=row.l7policy_id, admin_state_up=row.admin_state_up,
        project_id=row.project_id, type=row.type, compare_type=row.compare_type, key=row.key,
        value=row.value, invert=row.invert)


def l7policy(row):
    """An L7Policy with its rules."""
    return dm.L7Policy(
        l7policy_id=row.id, listener_id=row.listener_id, name=row.name or "",
        description=row.description or "", admin_state_up=row.admin_state_up,
        project_id=row.project_id, action=row.action, position=row.position,
        redirect_pool_id=row.redirect_pool_id, redirect_url=row.redirect_url,
        redirect_prefix=row.redirect_prefix, redirect_http_code=row.redirect_http_code,
        rules=[l7rule(r) for r in row.rules])


def listener(row, with_default_pool=False):
    """A Listener; with its default pool expanded when asked (graph create)."""
    kwargs = {}
    if with_default_pool and row.default_pool is not None:
        kwargs["default_pool"] = pool(row.default_pool)
    return dm.Listener(
        listener_id=row.id, loadbalancer_id=row.loadbalancer_id, name=row.name or "",
        description=row.description or "", admin_state_up=row.admin_state_up,
        project_id=row.project_id, protocol=row.protocol, protocol_port=row.protocol_port,
        connection_limit=row.connection_limit, default_pool_id=row.default_pool_id,
        l7policies=[l7policy(p) for p in row.l7policies],
        insert_headers=dict(row.insert_headers or {}),
        timeout_client_data=row.timeout_client_data,
        timeout_member_connect=row.timeout_member_connect,
        timeout_member_data=row.timeout_member_data,
        timeout_tcp_inspect=row.timeout_tcp_inspect,
        default_tls_container_ref=row.default_tls_container_ref,
        sni_container_refs=list(row.sni_container_refs or []),
        client_ca_tls_container_ref=row.client_ca_tls_container_ref,
        client_authentication=row.client_authentication,
        client_crl_container_ref=row.client_crl_container_ref,
        allowed_cidrs=list(row.allowed_cidrs or []) or None, tls_versions=row.tls_versions,
        tls_ciphers=row.tls_ciphers, alpn_protocols=row.alpn_protocols,
        hsts_max_age=row.hsts_max_age, hsts_include_subdomains=row.hsts_include_subdomains,
        hsts_preload=row.hsts_preload, **kwargs)


def loadbalancer(row, graph=False, flavor=None, availability_zone=None):
    """A LoadBalancer; with every listener and pool expanded for a graph create."""
    kwargs = {}
    if graph:
        kwargs["listeners"] = [listener(li, with_default_pool=True) for li in row.listeners] \
            or dm.Unset
        kwargs["pools"] = [pool(p) for p in row.pools] or dm.Unset
        kwargs["flavor"] = flavor or {}
        kwargs["availability_zone"] = availability_zone or {}
    else:
        kwargs["availability_zone"] = row.availability_zone
        if flavor:
            kwargs["flavor"] = flavor
    return dm.LoadBalancer(
        loadbalancer_id=row.id, name=row.name or "", description=row.description or "",
        admin_state_up=row.admin_state_up, project_id=row.project_id,
        vip_address=row.vip_address, vip_network_id=row.vip_network_id,
        vip_port_id=row.vip_port_id, vip_subnet_id=row.vip_subnet_id,
        vip_qos_policy_id=row.vip_qos_policy_id, vip_sg_ids=list(row.vip_sg_ids or []),
        additional_vips=[{"ip_address": v.ip_address, "network_id": v.network_id,
                          "port_id": v.port_id, "subnet_id": v.subnet_id}
                         for v in row.additional_vips], **kwargs)


def partial(cls, id_field, object_id, changes, rename=None):
    """The 'new' object of an update: the id plus only the fields the caller sent."""
    rename = rename or {}
    fields = {rename.get(k, k): v for k, v in changes.items()}
    fields[id_field] = object_id
    return cls(**fields)
