"""The OVN driver's desired Northbound rows, from octavia-lib models (pure, no OVN needed)."""
from octavia_lib.api.drivers import data_models as dm

from lbaas.drivers.ovn import plan

SWITCHES = {"s-vip": (None, "lr0"), "s-mem": ("ls-mem", "lr0")}


def _lb(admin=True, listener_admin=True, pool_admin=True, member_admin=(True, True),
        monitor=True, algorithm="SOURCE_IP_PORT", protocol="TCP", vip="10.0.1.5"):
    members = [dm.Member(member_id=f"m{i}", address=f"10.0.0.1{i}", protocol_port=8080,
                         subnet_id="s-mem", admin_state_up=up)
               for i, up in enumerate(member_admin)]
    hm = dm.HealthMonitor(healthmonitor_id="hm", type="TCP", delay=5, timeout=2, max_retries=2,
                          max_retries_down=3, admin_state_up=True) if monitor else None
    pool = dm.Pool(pool_id="p", protocol=protocol, lb_algorithm=algorithm, members=members,
                   healthmonitor=hm, admin_state_up=pool_admin)
    listener = dm.Listener(listener_id="l", protocol=protocol, protocol_port=80,
                           default_pool_id="p", default_pool=pool, admin_state_up=listener_admin)
    return dm.LoadBalancer(loadbalancer_id="lb", vip_address=vip, vip_subnet_id="s-vip",
                           admin_state_up=admin, listeners=[listener], pools=[pool])


def _build(lb, sources=None):
    return plan.build(lb, SWITCHES.get, {"s-mem": "10.0.0.2"} if sources is None else sources)


def test_one_row_per_listener_named_and_tagged_with_lbaas_ids():
    p = _build(_lb())
    (row,) = p.rows.values()
    assert row.name == "lbaas-l" and row.protocol == "tcp"
    assert row.external_ids == {plan.LB_KEY: "lb", plan.LISTENER_KEY: "l", plan.POOL_KEY: "p",
                                plan.VIP_KEY: "10.0.1.5"}
    assert row.vips == {"10.0.1.5:80": "10.0.0.10:8080,10.0.0.11:8080"}


def test_rows_name_the_vip_port_as_ovn_octavia_provider_does():
    lb = _lb()
    lb.vip_port_id = "port-1"
    (row,) = _build(lb).rows.values()
    assert row.external_ids[plan.VIP_PORT_KEY] == "port-1"
    assert row.external_ids[plan.VIP_KEY] == "10.0.1.5"


def test_switches_and_routers_come_from_the_vip_and_member_subnets():
    p = _build(_lb())
    assert p.switches == {"ls-mem"} and p.routers == {"lr0"}


def test_source_ip_hashes_addresses_and_source_ip_port_adds_ports():
    assert _build(_lb(algorithm="SOURCE_IP")).rows["lbaas-l"].selection_fields == \
        ["ip_dst", "ip_src"]
    assert _build(_lb()).rows["lbaas-l"].selection_fields == \
        ["ip_dst", "ip_src", "tp_dst", "tp_src"]


def test_health_check_options_and_mappings():
    row = _build(_lb()).rows["lbaas-l"]
    assert row.health_check["vip"] == "10.0.1.5:80"
    assert row.health_check["options"] == {"interval": "5", "timeout": "2",
                                           "success_count": "2", "failure_count": "3"}
    assert row.mappings == {"10.0.0.10": ("ls-mem", "10.0.0.2"),
                            "10.0.0.11": ("ls-mem", "10.0.0.2")}


def test_a_disabled_member_leaves_the_backends():
    row = _build(_lb(member_admin=(True, False))).rows["lbaas-l"]
    assert row.vips == {"10.0.1.5:80": "10.0.0.10:8080"}


def test_a_disabled_load_balancer_or_listener_has_no_vip():
    assert _build(_lb(admin=False)).rows["lbaas-l"].vips == {}
    assert _build(_lb(listener_admin=False)).rows["lbaas-l"].vips == {}


def test_a_disabled_pool_keeps_the_vip_with_no_backend_and_rejects():
    row = _build(_lb(pool_admin=False)).rows["lbaas-l"]
    assert row.vips == {"10.0.1.5:80": ""} and row.options == {"reject": "true"}
    assert row.health_check is None


def test_ipv6_endpoints_are_bracketed():
    assert plan.endpoint("fd00::5", 80) == "[fd00::5]:80"


def test_members_needing_a_source_are_listed_by_subnet():
    assert plan.monitored_subnets(_lb()) == {"s-mem"}
    assert plan.monitored_subnets(_lb(monitor=False)) == set()
