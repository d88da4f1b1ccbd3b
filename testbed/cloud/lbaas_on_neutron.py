"""`lbaas serve`'s configuration on a NeutronCloud, shared by the tests and the benchmarks.

Keystone authenticates the API's users (auth_token, as the service user `lbaas`); the
neutron network backend reaches Neutron through the catalog with the same user.
`amphora_on_br_int` adds the amphora provider with local compute whose amphora legs are
ports of the cloud's OvnStack br-int (bound to this host), so they carry real traffic.
"""
import secrets
import textwrap

from testbed.cloud.keystone import REGION, authtoken_section, service_auth_section
from testbed.service import free_port, free_udp_port, health_manager_section


def config_text(cloud, extra="", driver="neutron", denied_network=""):
    """The configuration text: Keystone auth, `[network] driver`, the service user; extra
    (sections of its own) appended as it is, and a [health_manager] unless extra has one."""
    extra = textwrap.dedent(extra)
    return textwrap.dedent(f"""\
        [api_settings]
        auth_strategy = keystone

        [networking]
        denylist_vip_networks = {denied_network}

        [network]
        driver = {driver}
        """) + authtoken_section(cloud.auth_url) + service_auth_section(cloud.auth_url) \
        + textwrap.dedent(f"""
        [neutron]
        region_name = {REGION}
        """) + extra + ("" if "[health_manager]" in extra else health_manager_section())


def amphora_on_br_int(stack, mgmt_bridge, mgmt_cidr, host, spare_pool=0):
    """The amphora provider's sections: local compute plugging amphora legs into the stack's
    br-int (bound to `host`), a health manager on a free port, a free agent port."""
    return textwrap.dedent(f"""
        [api_settings]
        enabled_provider_drivers = amphora:The amphora provider.
        default_provider_driver = amphora

        [amphora_compute]
        driver = local

        [compute_local]
        management_bridge = {mgmt_bridge}
        management_cidr = {mgmt_cidr}
        integration_bridge = br-int
        ovs_db = unix:{stack.db_sock}
        ovs_netns = {stack.hv_netns}
        host = {host}

        [health_manager]
        heartbeat_key = {secrets.token_hex(16)}
        heartbeat_interval = 1
        bind_port = {free_udp_port()}

        [haproxy_amphora]
        haproxy_cmd = /usr/sbin/haproxy

        [controller_worker]
        agent_port = {free_port()}

        [house_keeping]
        spare_amphora_pool_size = {spare_pool}
        """)
