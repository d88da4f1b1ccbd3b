"""The amphora driver's keepalived LVS config for UDP/SCTP listeners, each file checked by
`keepalived -t`."""
import dataclasses
import os
import shutil
import subprocess

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from lbaas.drivers.amphora import config_text, lvs
from lbaas.drivers.amphora.haproxy import render as hr

LB_ID = "11111111-2222-3333-4444-555555555555"
VIP = "192.0.2.10"
VIP6 = "2001:db8::10"
IPVS_ABSENT = ("this kernel has no IPVS (LVS): UDP/SCTP traffic through keepalived cannot be "
               "tested here")


@pytest.fixture(scope="session")
def keepalived_bin():
    """The keepalived binary, or a skip saying why (a failure under CI=true)."""
    path = lvs.keepalived_binary()
    if path is None:
        reason = "keepalived is not installed (scripts/setup.sh --test installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        print(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def build(keepalived_bin):
    """Render a load balancer's LVS config, require a clean `keepalived -t`, return the text."""
    def _build(lb, **overrides):
        cfg = lvs.render(lb, dataclasses.replace(lvs.Settings(), **overrides))
        complaint = lvs.check(cfg, keepalived_bin)
        assert complaint is None, f"keepalived -t:\n{complaint}\n---\n{cfg}"
        return cfg
    return _build


def block(cfg, header):
    """The stripped lines inside the `{ }` block whose first line is `header {`."""
    lines = [ln.strip() for ln in cfg.splitlines()]
    start = lines.index(header + " {")
    depth, body = 0, []
    for ln in lines[start:]:
        depth += ln.count("{") - ln.count("}")
        body.append(ln)
        if depth == 0:
            break
    return [ln for ln in body[1:-1] if ln and not ln.startswith("#")]


def servers(cfg):
    """The `virtual_server` header lines of a config, in order."""
    return [ln.strip() for ln in cfg.splitlines() if ln.startswith("virtual_server ")]


def member(mid="m1", address="10.0.0.1", port=5353, **kw):
    """An enabled Member."""
    kw.setdefault("admin_state_up", True)
    return dm.Member(member_id=mid, address=address, protocol_port=port, weight=kw.pop("weight", 1),
                     backup=kw.pop("backup", False), **kw)


def pool(pid="p1", protocol="UDP", members=None, **kw):
    """An enabled ROUND_ROBIN Pool with one member unless told."""
    kw.setdefault("admin_state_up", True)
    kw.setdefault("lb_algorithm", "ROUND_ROBIN")
    return dm.Pool(pool_id=pid, protocol=protocol,
                   members=[member()] if members is None else members, **kw)


def monitor(type_="UDP-CONNECT", **kw):
    """An enabled HealthMonitor (delay 5, timeout 3, rise 2, fall 4)."""
    values = dict(healthmonitor_id="hm1", type=type_, delay=5, timeout=3, max_retries=2,
                  max_retries_down=4, admin_state_up=True)
    values.update(kw)
    return dm.HealthMonitor(**values)


def listener(lid="l1", protocol="UDP", port=53, default_pool_id="p1", **kw):
    """An enabled Listener with the default connection limit (-1)."""
    kw.setdefault("admin_state_up", True)
    kw.setdefault("connection_limit", -1)
    return dm.Listener(listener_id=lid, protocol=protocol, protocol_port=port,
                       default_pool_id=default_pool_id, **kw)


def loadbalancer(listeners, pools=(), **kw):
    """An enabled LoadBalancer graph on VIP."""
    kw.setdefault("admin_state_up", True)
    kw.setdefault("vip_address", VIP)
    return dm.LoadBalancer(loadbalancer_id=LB_ID, listeners=list(listeners), pools=list(pools),
                           **kw)


def vs(cfg, address=VIP, port=53):
    """The lines of one virtual server."""
    return block(cfg, f"virtual_server {address} {port}")


def simple(**pool_kw):
    """One UDP listener on one UDP pool."""
    return loadbalancer([listener()], [pool(**pool_kw)])


# --- virtual servers ------------------------------------------------------------------------------

def test_udp_listener_is_one_nat_virtual_server(build):
    cfg = build(simple())
    assert servers(cfg) == [f"virtual_server {VIP} 53 {{"]
    body = vs(cfg)
    assert body[:3] == ["lb_algo wrr", "lb_kind NAT", "protocol UDP"]
    assert block(cfg, "real_server 10.0.0.1 5353") == ["weight 1"]


def test_global_defs_enable_script_security(build):
    cfg = build(simple(), router_id="amp1", script_user="root", script_group="root")
    assert block(cfg, "global_defs") == ["router_id amp1", "enable_script_security",
                                         "script_user root root"]


def test_sctp_listener(build):
    lb = loadbalancer([listener(protocol="SCTP", port=3868)], [pool(protocol="SCTP")])
    assert "protocol SCTP" in vs(build(lb), port=3868)


@pytest.mark.parametrize("algorithm,scheduler", [("ROUND_ROBIN", "wrr"),
                                                 ("LEAST_CONNECTIONS", "lc"),
                                                 ("SOURCE_IP", "sh"),
                                                 ("SOURCE_IP_PORT", "sh")])
def test_lb_algorithm(build, algorithm, scheduler):
    body = vs(build(simple(lb_algorithm=algorithm)))
    assert f"lb_algo {scheduler}" in body
    assert ("sh-port" in body) == (algorithm == "SOURCE_IP_PORT")


def test_ipv6_vip_gets_ipv6_members_only(build):
    members = [member("m4", "10.0.0.4"), member("m6", "fd00::6")]
    cfg = build(loadbalancer([listener()], [pool(members=members)], vip_address=VIP6))
    assert servers(cfg) == [f"virtual_server {VIP6} 53 {{"]
    assert block(cfg, "real_server fd00::6 5353") == ["weight 1"]
    assert "10.0.0.4" not in cfg


def test_dual_stack_vips_get_one_virtual_server_each(build):
    members = [member("m4", "10.0.0.4"), member("m6", "fd00::6")]
    lb = loadbalancer([listener()], [pool(members=members)],
                      additional_vips=[{"ip_address": VIP6}])
    cfg = build(lb)
    assert servers(cfg) == [f"virtual_server {VIP} 53 {{", f"virtual_server {VIP6} 53 {{"]
    assert "real_server 10.0.0.4 5353 {" in "\n".join(vs(cfg))
    assert "real_server fd00::6 5353 {" in "\n".join(vs(cfg, VIP6))


def test_vip_without_members_of_its_family_is_left_out(build):
    cfg = build(loadbalancer([listener()], [pool()], additional_vips=[{"ip_address": VIP6}]))
    assert servers(cfg) == [f"virtual_server {VIP} 53 {{"]
    assert f"# listener l1: not served (no enabled IPv6 member for {VIP6})" in cfg


def test_settings_vips_override_model_vip(build):
    cfg = build(simple(), vip_addresses=("10.9.9.9",))
    assert servers(cfg) == ["virtual_server 10.9.9.9 53 {"]


def test_multiple_listeners(build):
    lb = loadbalancer([listener("l2", port=5060, default_pool_id="p2"), listener()],
                      [pool(), pool("p2", members=[member("m2", "10.0.0.2", 5060)])])
    cfg = build(lb)
    assert servers(cfg) == [f"virtual_server {VIP} 53 {{", f"virtual_server {VIP} 5060 {{"]
    assert "real_server 10.0.0.2 5060 {" in "\n".join(vs(cfg, port=5060))


def test_udp_and_sctp_on_the_same_port(build):
    lb = loadbalancer([listener(), listener("l2", protocol="SCTP", default_pool_id="p2")],
                      [pool(), pool("p2", protocol="SCTP")])
    cfg = build(lb)
    assert sorted(ln.strip() for ln in cfg.splitlines() if ln.strip().startswith("protocol ")) \
        == ["protocol SCTP", "protocol UDP"]


def test_admin_down_listener_pool_or_lb_are_left_out(build):
    assert servers(build(loadbalancer([listener(admin_state_up=False)], [pool()]))) == []
    assert servers(build(loadbalancer([listener()], [pool(admin_state_up=False)]))) == []
    assert servers(build(loadbalancer([listener()], [pool()], admin_state_up=False))) == []


def test_listener_without_default_pool_is_left_out(build):
    cfg = build(loadbalancer([listener(default_pool_id=None)], [pool()]))
    assert servers(cfg) == [] and "no enabled default pool" in cfg


def test_graph_default_pool_is_used(build):
    lb = loadbalancer([listener(default_pool=pool(members=[member("g1", "10.0.0.7")]))], [])
    assert "real_server 10.0.0.7 5353 {" in "\n".join(vs(build(lb)))


# --- members --------------------------------------------------------------------------------------

def test_member_weights(build):
    members = [member("m1", weight=10), member("m2", "10.0.0.2", weight=0),
               member("m3", "10.0.0.3", weight=256)]
    cfg = build(simple(members=members))
    assert block(cfg, "real_server 10.0.0.1 5353") == ["weight 10"]
    assert block(cfg, "real_server 10.0.0.2 5353") == ["weight 0"]
    assert block(cfg, "real_server 10.0.0.3 5353") == ["weight 256"]


def test_admin_down_member_is_left_out(build):
    cfg = build(simple(members=[member(), member("m2", "10.0.0.2", admin_state_up=False)]))
    assert "10.0.0.2" not in cfg


def test_only_admin_down_members_leave_the_listener_out(build):
    cfg = build(simple(members=[member(admin_state_up=False)]))
    assert servers(cfg) == []


def test_backup_member_is_the_sorry_server(build):
    cfg = build(simple(members=[member(), member("b1", "10.0.0.9", backup=True)]))
    body = vs(cfg)
    assert "sorry_server 10.0.0.9 5353" in body
    assert "real_server 10.0.0.9 5353 {" not in body


def test_backup_members_alone_serve_as_real_servers(build):
    cfg = build(simple(members=[member("b1", "10.0.0.9", backup=True)]))
    assert not any(ln.startswith("sorry_server") for ln in vs(cfg))
    assert block(cfg, "real_server 10.0.0.9 5353") == ["weight 1"]


def test_connection_limit_is_uthreshold_per_member(build):
    lb = loadbalancer([listener(connection_limit=500)],
                      [pool(members=[member(), member("m2", "10.0.0.2")])])
    cfg = build(lb)
    assert block(cfg, "real_server 10.0.0.1 5353") == ["weight 1", "uthreshold 500"]
    assert block(cfg, "real_server 10.0.0.2 5353") == ["weight 1", "uthreshold 500"]


def test_unlimited_connections_have_no_uthreshold(build):
    assert "uthreshold" not in build(simple())


# --- session persistence --------------------------------------------------------------------------

def test_source_ip_persistence_defaults(build):
    body = vs(build(simple(session_persistence={"type": "SOURCE_IP"})))
    assert "persistence_timeout 360" in body
    assert "persistence_granularity 255.255.255.255" in body


def test_source_ip_persistence_fields(build):
    sp = {"type": "SOURCE_IP", "persistence_timeout": 60,
          "persistence_granularity": "255.255.255.0"}
    body = vs(build(simple(session_persistence=sp)))
    assert "persistence_timeout 60" in body and "persistence_granularity 255.255.255.0" in body


def test_ipv6_persistence_default_granularity_is_128(build):
    lb = loadbalancer([listener()], [pool(members=[member(address="fd00::1")],
                                          session_persistence={"type": "SOURCE_IP"})],
                      vip_address=VIP6)
    assert "persistence_granularity 128" in vs(build(lb), VIP6)


@pytest.mark.parametrize("value,v4,v6", [("255.255.0.0", "255.255.0.0", "128"),
                                         ("24", "255.255.255.0", "24"),
                                         ("/64", "255.255.255.255", "64"),
                                         ("ffff:ffff:ffff:ffff::", "255.255.255.255", "64")])
def test_persistence_granularity_per_family(build, value, v4, v6):
    lb = loadbalancer([listener()], [pool(members=[member(), member("m6", "fd00::6")],
                                          session_persistence={"type": "SOURCE_IP",
                                                               "persistence_granularity": value})],
                      additional_vips=[{"ip_address": VIP6}])
    cfg = build(lb)
    assert f"persistence_granularity {v4}" in vs(cfg)
    assert f"persistence_granularity {v6}" in vs(cfg, VIP6)


def test_no_persistence_no_persistence_lines(build):
    assert "persistence" not in build(simple())


# --- health monitors ------------------------------------------------------------------------------

def test_monitor_timers_on_the_virtual_server(build):
    body = vs(build(simple(healthmonitor=monitor(delay=7, max_retries_down=4))))
    assert body[3:6] == ["delay_loop 7", "delay_before_retry 7", "retry 3"]


def test_monitor_fall_of_one_leaves_retry_to_keepalived(build):
    """keepalived refuses `retry 0`; MISC_CHECK's own default (0) then gives fall 1."""
    body = vs(build(simple(healthmonitor=monitor(max_retries_down=1))))
    assert "delay_loop 5" in body and not any(ln.startswith("retry") for ln in body)


def test_udp_connect_monitor_runs_the_udp_check_script(build):
    cfg = build(simple(healthmonitor=monitor()), udp_check_command="/bin/true")
    assert block(cfg, "MISC_CHECK") == ['misc_path "/bin/true 10.0.0.1 5353"', "misc_timeout 3"]


def test_sctp_monitor_runs_the_sctp_check_script(build):
    lb = loadbalancer([listener(protocol="SCTP")],
                      [pool(protocol="SCTP", healthmonitor=monitor("SCTP", timeout=4))])
    cfg = build(lb, sctp_check_command="/bin/true")
    assert block(cfg, "MISC_CHECK") == ['misc_path "/bin/true -t 4 10.0.0.1 5353"',
                                        "misc_timeout 5"]


def test_tcp_monitor(build):
    cfg = build(simple(healthmonitor=monitor("TCP", timeout=2)))
    assert block(cfg, "TCP_CHECK") == ["connect_ip 10.0.0.1", "connect_port 5353",
                                       "connect_timeout 2"]


def test_ping_monitor(build):
    cfg = build(simple(healthmonitor=monitor("PING")))
    assert block(cfg, "PING_CHECK") == ["connect_ip 10.0.0.1", "connect_timeout 3"]


def test_http_monitor(build):
    hm = monitor("HTTP", url_path="/healthz", expected_codes="200-204,301")
    cfg = build(simple(healthmonitor=hm))
    assert block(cfg, "HTTP_GET") == [
        "url {", "path /healthz", "status_code 200-204 301", "}",
        "connect_ip 10.0.0.1", "connect_port 5353", "connect_timeout 3"]


def test_http_1_1_monitor_sends_the_domain(build):
    hm = monitor("HTTP", http_method="GET", http_version=1.1, domain_name="app.example.com")
    body = block(build(simple(healthmonitor=hm)), "HTTP_GET")
    assert body[:4] == ["url {", "path /", "status_code 200", "}"]
    assert "http_protocol 1.1" in body and "virtualhost app.example.com" in body


def test_monitor_address_and_port(build):
    members = [member(monitor_address="10.1.1.1", monitor_port=9000)]
    cfg = build(simple(members=members, healthmonitor=monitor("TCP")))
    assert block(cfg, "TCP_CHECK")[:2] == ["connect_ip 10.1.1.1", "connect_port 9000"]
    cfg = build(simple(members=members, healthmonitor=monitor()), udp_check_command="/bin/true")
    assert 'misc_path "/bin/true 10.1.1.1 9000"' in block(cfg, "MISC_CHECK")


def test_admin_down_monitor_is_not_rendered(build):
    cfg = build(simple(healthmonitor=monitor(admin_state_up=False)))
    assert "delay_loop" not in cfg and "MISC_CHECK" not in cfg


def test_ipv6_monitor_connects_to_the_ipv6_member(build):
    lb = loadbalancer([listener()], [pool(members=[member(address="fd00::1")],
                                          healthmonitor=monitor("TCP"))], vip_address=VIP6)
    assert "connect_ip fd00::1" in block(build(lb), "TCP_CHECK")


# --- everything at once, and HAProxy alongside ----------------------------------------------------

def test_everything_at_once_passes_keepalived(build):
    members = [member("m1", weight=5, monitor_port=8080), member("b1", "10.0.0.9", backup=True),
               member("m6", "fd00::6", weight=2), member("off", "10.0.0.8", admin_state_up=False)]
    sp = {"type": "SOURCE_IP", "persistence_timeout": 30, "persistence_granularity": "24"}
    lb = loadbalancer(
        [listener(connection_limit=1000), listener("l2", "SCTP", 3868, "p2")],
        [pool(members=members, lb_algorithm="SOURCE_IP_PORT", session_persistence=sp,
              healthmonitor=monitor("HTTP", url_path="/hc", http_version=1.1,
                                    domain_name="x.example")),
         pool("p2", "SCTP", members=[member("s1", "10.0.0.3", 3868)],
              lb_algorithm="LEAST_CONNECTIONS", healthmonitor=monitor("SCTP"))],
        additional_vips=[{"ip_address": VIP6}])
    cfg = build(lb, udp_check_command="/bin/true", sctp_check_command="/bin/true")
    assert len(servers(cfg)) == 3  # UDP on both VIPs, SCTP on the IPv4 VIP only


def test_udp_and_tcp_listeners_split_between_haproxy_and_keepalived(build, tmp_path):
    lb = loadbalancer([listener("tcp1", "TCP", 80, "pt"), listener("udp1", "UDP", 53, "pu")],
                      [pool("pt", "TCP"), pool("pu", "UDP", members=[member("mu", "10.0.0.5")])])
    settings = hr.Settings(stats_socket=str(tmp_path / "s"), pid_file=str(tmp_path / "p"),
                           state_file=str(tmp_path / "st"))
    haproxy_cfg = hr.render(lb, settings)
    assert "frontend tcp1" in haproxy_cfg and "backend pt:tcp1" in haproxy_cfg
    assert "udp1" not in haproxy_cfg and "pu:" not in haproxy_cfg
    keepalived_cfg = build(lb)
    assert servers(keepalived_cfg) == [f"virtual_server {VIP} 53 {{"]
    assert "tcp1" not in keepalived_cfg and "10.0.0.5" in keepalived_cfg
    if (haproxy := shutil.which("haproxy") or "/usr/sbin/haproxy") and os.access(haproxy, os.X_OK):
        (tmp_path / "st").write_text("1\n")
        path = tmp_path / "haproxy.cfg"
        path.write_text(haproxy_cfg)
        proc = subprocess.run([haproxy, "-c", "-f", str(path)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_lb_with_only_udp_listeners_has_an_empty_haproxy_config(tmp_path):
    settings = hr.Settings(stats_socket=str(tmp_path / "s"), pid_file=str(tmp_path / "p"),
                           state_file=str(tmp_path / "st"))
    cfg = hr.render(simple(), settings)
    assert "frontend" not in cfg and "backend" not in cfg


def test_tcp_only_lb_has_no_virtual_servers(build):
    lb = loadbalancer([listener(protocol="TCP", port=80)], [pool(protocol="TCP")])
    assert servers(build(lb)) == []


# --- check() --------------------------------------------------------------------------------------

def test_check_returns_keepalived_complaint(keepalived_bin):
    cfg = lvs.render(simple(), lvs.Settings()).replace("lb_algo wrr", "lb_algo bogus")
    complaint = lvs.check(cfg, keepalived_bin)
    assert complaint and "bogus" in complaint


def test_check_accepts_a_clean_config(keepalived_bin):
    assert lvs.check(lvs.render(simple(), lvs.Settings()), keepalived_bin) is None


def test_check_leaves_run_alone(keepalived_bin, tmp_path):
    before = set(os.listdir("/run")) if os.path.isdir("/run") else set()
    lvs.check(lvs.render(simple(), lvs.Settings()), keepalived_bin)
    after = set(os.listdir("/run")) if os.path.isdir("/run") else set()
    assert not {n for n in after - before if "keepalived" in n}


# --- unsupported options --------------------------------------------------------------------------

@pytest.mark.parametrize("lb,option", [
    (loadbalancer([listener(l7policies=[dm.L7Policy(l7policy_id="x", action="REJECT")])],
                  [pool()]), "l7policies"),
    (loadbalancer([listener()], [pool(protocol="PROXY")]), "PROXY"),
    (loadbalancer([listener(allowed_cidrs=["10.0.0.0/8"])], [pool()]), "allowed_cidrs"),
    (loadbalancer([listener()], [pool(lb_algorithm="LEAST_REQUESTS")]), "LEAST_REQUESTS"),
    (simple(session_persistence={"type": "HTTP_COOKIE"}), "HTTP_COOKIE"),
    (simple(session_persistence={"type": "APP_COOKIE", "cookie_name": "c"}), "APP_COOKIE"),
    (simple(session_persistence={"type": "SOURCE_IP", "persistence_granularity": "255.0.255.0"}),
     "persistence_granularity"),
    (simple(session_persistence={"type": "SOURCE_IP", "persistence_granularity": "129"}),
     "persistence_granularity"),
    (simple(tls_enabled=True), "tls_enabled"),
    (simple(healthmonitor=monitor("HTTPS")), "HTTPS"),
    (simple(healthmonitor=monitor("TLS-HELLO")), "TLS-HELLO"),
    (simple(healthmonitor=monitor("HTTP", http_method="HEAD")), "HEAD"),
    (simple(healthmonitor=monitor("HTTP", url_path="/a b")), "url_path"),
    (simple(members=[member(), member("b1", "10.0.0.8", backup=True),
                     member("b2", "10.0.0.9", backup=True)]), "member backup"),
])
def test_unsupported_options_are_rejected(lb, option):
    with pytest.raises(exceptions.UnsupportedOptionError) as err:
        lvs.render(lb, lvs.Settings())
    assert option in err.value.user_fault_string
    assert option in err.value.operator_fault_string


def test_two_backups_of_different_families_are_fine(build):
    members = [member(), member("m6", "fd00::6"), member("b4", "10.0.0.9", backup=True),
               member("b6", "fd00::9", backup=True)]
    lb = loadbalancer([listener()], [pool(members=members)],
                      additional_vips=[{"ip_address": VIP6}])
    cfg = build(lb)
    assert "sorry_server 10.0.0.9 5353" in vs(cfg)
    assert "sorry_server fd00::9 5353" in vs(cfg, VIP6)


def test_haproxy_still_refuses_source_ip_port_for_tcp_pools(tmp_path):
    settings = hr.Settings(stats_socket="s", pid_file="p", state_file="st")
    lb = loadbalancer([listener(protocol="TCP")], [pool(protocol="TCP",
                                                        lb_algorithm="SOURCE_IP_PORT")])
    with pytest.raises(exceptions.UnsupportedOptionError, match="SOURCE_IP_PORT"):
        hr.render(lb, settings)


def test_lvs_options_do_not_block_haproxy_rendering():
    """HAProxy skips UDP pools entirely: their LVS-only problems are validate_lvs's to report."""
    settings = hr.Settings(stats_socket="s", pid_file="p", state_file="st")
    hr.render(simple(healthmonitor=monitor("TLS-HELLO")), settings)
    with pytest.raises(exceptions.UnsupportedOptionError):
        lvs.validate_lvs(simple(healthmonitor=monitor("TLS-HELLO")))


def test_templates_are_in_the_package():
    from lbaas.drivers.amphora.lvs.render import TEMPLATES
    assert (TEMPLATES / "keepalived.conf.j2").is_file()


# --- traffic --------------------------------------------------------------------------------------

def _ipvs_available():
    """Whether this kernel has IPVS, loading ip_vs with modprobe if it is only a module."""
    if os.path.exists("/proc/net/ip_vs"):
        return True
    modprobe = shutil.which("modprobe") or shutil.which("modprobe", path="/usr/sbin:/sbin")
    if modprobe is None or os.geteuid() != 0:
        return False
    proc = subprocess.run([modprobe, "ip_vs"], capture_output=True)
    return proc.returncode == 0 and os.path.exists("/proc/net/ip_vs")


def test_udp_traffic_through_keepalived():
    """Placeholder: UDP datagrams through a running keepalived's IPVS service to members."""
    if not _ipvs_available():
        print(IPVS_ABSENT)
        pytest.skip(IPVS_ABSENT)
    pytest.skip("IPVS is present here, but the UDP traffic test is not written yet: it was "
                "written on a kernel without IPVS and could not be run there")


# --- values that would break a line ---------------------------------------------------------------

def _poisoned(field, bad):
    """A UDP load balancer whose `field` holds the text `bad` (as a database somehow might)."""
    hm = monitor("HTTP", url_path="/h" + bad if field == "url_path" else "/h",
                 expected_codes="200" + bad if field == "expected_codes" else "200",
                 http_version=1.1, domain_name="example.com" + bad if field == "domain_name"
                 else "example.com")
    members = [member(address="10.0.0.1" + bad if field == "address" else "10.0.0.1",
                      monitor_address="10.0.0.2" + bad if field == "monitor_address" else None)]
    return loadbalancer([listener()], [pool(members=members, healthmonitor=hm)])


@pytest.mark.parametrize("bad", ["\n", "\r", "\x00", "\u2028"], ids=["lf", "cr", "nul", "u2028"])
@pytest.mark.parametrize("field", ["url_path", "expected_codes", "domain_name",
                                   "monitor_address"])
def test_a_line_break_in_any_rendered_value_is_refused_at_render(field, bad):
    """keepalived has no escape for a line break: such a load balancer is not rendered (a
    url_path with a blank or a line break was already refused as unsupported)."""
    if field == "url_path" and bad in lvs.validate.UNSAFE_PATH_CHARS:
        with pytest.raises(exceptions.UnsupportedOptionError):
            lvs.render(_poisoned(field, bad), lvs.Settings())
        return
    with pytest.raises(config_text.UnsafeConfigValue) as err:
        lvs.render(_poisoned(field, bad), lvs.Settings())
    assert "keepalived.conf (LVS): refusing to render" in err.value.operator_fault_string


def test_names_are_not_rendered_into_keepalived(build):
    text = "dns\n}\nvirtual_server 10.0.0.9 22 {"
    lb = loadbalancer([listener(name=text, description=text)], [pool(name=text)], name=text)
    cfg = build(lb)
    assert "10.0.0.9" not in cfg and "dns" not in cfg
