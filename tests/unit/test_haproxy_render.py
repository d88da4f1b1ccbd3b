"""The amphora driver's haproxy.cfg: directives rendered per option, each file checked by `haproxy -c`."""
import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
from octavia_lib.api.drivers import data_models as dm
from octavia_lib.api.drivers import exceptions

from lbaas.drivers.amphora import config_text
from lbaas.drivers.amphora.haproxy import render as hr
from lbaas.drivers.amphora.haproxy.validate import validate

LB_ID = "11111111-2222-3333-4444-555555555555"
VIP = "192.0.2.10"


def _haproxy():
    """The path of the haproxy binary, or None."""
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.access("/usr/sbin/haproxy", os.X_OK)
                                       else None)


@pytest.fixture(scope="session")
def haproxy_bin():
    """The haproxy binary, or a skip saying why (a failure under CI=true)."""
    path = _haproxy()
    if path is None:
        reason = "haproxy is not installed (scripts/setup.sh --test installs it)"
        if os.environ.get("CI"):
            pytest.fail(reason)
        print(reason)
        pytest.skip(reason)
    return path


@pytest.fixture
def settings(tmp_path):
    """Runtime settings with every path in a temporary directory (the state file exists)."""
    (tmp_path / "state").write_text("1\n")  # what `show servers state` dumps when empty
    return hr.Settings(stats_socket=str(tmp_path / "lb.sock"), pid_file=str(tmp_path / "lb.pid"),
                       state_file=str(tmp_path / "state"), log_targets=("stdout format raw local0",))


@pytest.fixture
def build(haproxy_bin, settings, tmp_path):
    """Render a load balancer, validate the file with `haproxy -c`, return its text."""
    def _build(lb, **overrides):
        cfg = hr.render(lb, dataclasses.replace(settings, **overrides))
        path = tmp_path / "haproxy.cfg"
        path.write_text(cfg)
        proc = subprocess.run([haproxy_bin, "-c", "-f", str(path)], capture_output=True, text=True)
        out = proc.stdout + proc.stderr
        assert proc.returncode == 0, f"haproxy -c failed:\n{out}\n---\n{cfg}"
        assert "[WARNING]" not in out and "[ALERT]" not in out, f"{out}\n---\n{cfg}"
        return cfg
    return _build


def section(cfg, header):
    """The stripped directive lines of the section starting with `header`."""
    lines, inside = [], False
    for raw in cfg.splitlines():
        if raw and not raw[0].isspace():
            inside = raw.strip() == header
            continue
        if inside and raw.strip():
            lines.append(raw.strip())
    assert inside or lines, f"no section {header!r} in:\n{cfg}"
    return lines


def member(mid="m1", address="10.0.0.1", port=8080, **kw):
    """An enabled Member."""
    kw.setdefault("admin_state_up", True)
    return dm.Member(member_id=mid, address=address, protocol_port=port, weight=kw.pop("weight", 1),
                     backup=kw.pop("backup", False), **kw)


def pool(pid="p1", protocol="HTTP", members=None, **kw):
    """An enabled ROUND_ROBIN Pool with one member unless told."""
    kw.setdefault("admin_state_up", True)
    kw.setdefault("lb_algorithm", "ROUND_ROBIN")
    return dm.Pool(pool_id=pid, protocol=protocol,
                   members=[member()] if members is None else members, **kw)


def monitor(type_="HTTP", **kw):
    """An enabled HealthMonitor (delay 5, timeout 3, rise 2, fall 4)."""
    values = dict(healthmonitor_id="hm1", type=type_, delay=5, timeout=3, max_retries=2,
                  max_retries_down=4, admin_state_up=True)
    values.update(kw)
    return dm.HealthMonitor(**values)


def listener(lid="l1", protocol="HTTP", port=80, default_pool_id="p1", **kw):
    """An enabled Listener with the default connection limit (-1)."""
    kw.setdefault("admin_state_up", True)
    kw.setdefault("connection_limit", -1)
    return dm.Listener(listener_id=lid, protocol=protocol, protocol_port=port,
                       default_pool_id=default_pool_id, **kw)


def loadbalancer(listeners, pools=(), **kw):
    """An enabled LoadBalancer graph on VIP."""
    kw.setdefault("admin_state_up", True)
    return dm.LoadBalancer(loadbalancer_id=LB_ID, vip_address=VIP, listeners=list(listeners),
                           pools=list(pools), **kw)


def rule(rid, type_, compare, value, key=None, invert=False, **kw):
    """An enabled L7Rule."""
    kw.setdefault("admin_state_up", True)
    return dm.L7Rule(l7rule_id=rid, type=type_, compare_type=compare, value=value, key=key,
                     invert=invert, **kw)


def policy(pid, action, rules, position=1, **kw):
    """An enabled L7Policy."""
    kw.setdefault("admin_state_up", True)
    return dm.L7Policy(l7policy_id=pid, action=action, rules=rules, position=position, **kw)


def simple(**listener_kw):
    """One listener on one pool."""
    return loadbalancer([listener(**listener_kw)], [pool()])


# --- global / defaults ----------------------------------------------------------------------------

def test_global_has_stats_socket_for_seamless_reload(build, settings):
    cfg = build(simple())
    glob = section(cfg, "global")
    assert f"stats socket {settings.stats_socket} mode 0600 level admin expose-fd listeners" in glob
    assert "master-worker" in glob
    assert f"pidfile {settings.pid_file}" in glob
    assert f"server-state-file {settings.state_file}" in glob
    assert "user nobody" in glob and "group nogroup" in glob
    assert "log stdout format raw local0" in glob


def test_global_maxconn_sums_listener_limits(build):
    lb = loadbalancer([listener(connection_limit=100),
                       listener("l2", port=81, connection_limit=-1)], [pool()])
    assert "maxconn 50100" in section(build(lb), "global")


def test_global_maxconn_is_capped(build):
    lb = loadbalancer([listener(f"l{i}", port=80 + i, connection_limit=900_000) for i in range(2)],
                      [pool()])
    assert "maxconn 1000000" in section(build(lb), "global")


def test_global_maxconn_fits_the_amphoras_files(build):
    lb = loadbalancer([listener(f"l{i}", port=80 + i, connection_limit=2000) for i in range(7)],
                      [pool()])
    assert "maxconn 9500" in section(build(lb, max_connections=9500), "global")


def test_threads_and_splice_follow_the_settings(build):
    cfg = build(simple(), threads=1, splice=False)
    assert "nbthread 1" in section(cfg, "global") and "option splice" not in cfg
    cfg = build(simple(), threads=None, splice=True)
    assert "nbthread" not in cfg
    assert "option splice-request" in section(cfg, "defaults")
    assert "option splice-response" in section(cfg, "defaults")


def test_defaults_without_log_targets_say_no_log(build):
    cfg = build(simple(), log_targets=())
    assert "no log" in section(cfg, "defaults")
    assert not any(ln.startswith("log ") for ln in section(cfg, "global"))
    assert "option httplog" not in section(cfg, "frontend l1")


def _free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running(haproxy_bin, lb, settings):
    """HAProxy started for real in master-worker mode on 127.0.0.1 (no namespace needed)."""
    cfg = hr.render(lb, dataclasses.replace(settings, vip_addresses=("127.0.0.1",)))
    path = os.path.join(os.path.dirname(settings.state_file), "haproxy.cfg")
    with open(path, "w") as f:
        f.write(cfg)
    proc = subprocess.Popen([haproxy_bin, "-W", "-db", "-f", path],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while not os.path.exists(settings.stats_socket) and proc.poll() is None \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, proc.stdout.read().decode()
        yield cfg
    finally:
        proc.terminate()
        proc.wait(10)


def test_stats_socket_answers_show_stat(haproxy_bin, settings):
    """The stats socket of a running HAProxy serves `show stat` with our proxy names."""
    # a small maxconn: 50000 per listener needs an FD limit above 100000, which tests may lack
    lb = loadbalancer([listener(port=_free_port(), connection_limit=100)], [pool()])
    with running(haproxy_bin, lb, settings):
        with socket.socket(socket.AF_UNIX) as sock:
            sock.connect(settings.stats_socket)
            sock.sendall(b"show stat\n")
            data = b""
            while chunk := sock.recv(65536):
                data += chunk
    text = data.decode()
    assert text.startswith("# pxname,svname,")
    assert "l1,FRONTEND," in text and "p1:l1,m1," in text


# --- listeners ------------------------------------------------------------------------------------

def test_http_listener_binds_every_vip(build):
    lb = simple(connection_limit=200, timeout_client_data=12000, timeout_tcp_inspect=500)
    lb.additional_vips = [{"ip_address": "2001:db8::10"}]
    fe = section(build(lb), "frontend l1")
    assert fe[:3] == ["mode http", f"bind {VIP}:80", "bind 2001:db8::10:80"]
    assert "maxconn 200" in fe and "timeout client 12000" in fe
    assert "tcp-request inspect-delay 500" in fe
    assert "default_backend p1:l1" in fe


def test_settings_vips_override_model_vip(build):
    fe = section(build(simple(), vip_addresses=("10.9.9.9",)), "frontend l1")
    assert [ln for ln in fe if ln.startswith("bind")] == ["bind 10.9.9.9:80"]


def test_tcp_listener_and_backend_are_tcp_mode(build):
    lb = loadbalancer([listener(protocol="TCP", port=5000)], [pool(protocol="TCP")])
    cfg = build(lb)
    assert "mode tcp" in section(cfg, "frontend l1")
    assert "option tcplog" in section(cfg, "frontend l1")
    assert "mode tcp" in section(cfg, "backend p1:l1")


def test_https_passthrough_listener_is_tcp(build):
    lb = loadbalancer([listener(protocol="HTTPS", port=443)], [pool(protocol="HTTPS")])
    cfg = build(lb)
    fe = section(cfg, "frontend l1")
    assert "mode tcp" in fe and f"bind {VIP}:443" in fe
    assert not any("ssl" in ln for ln in fe)
    assert "mode tcp" in section(cfg, "backend p1:l1")


def test_listener_timeouts_go_to_backend(build):
    cfg = build(simple(timeout_member_connect=1234, timeout_member_data=5678, connection_limit=77))
    be = section(cfg, "backend p1:l1")
    assert "timeout connect 1234" in be and "timeout server 5678" in be and "fullconn 77" in be


def test_unset_timeouts_use_defaults(build):
    cfg = build(simple())
    assert "timeout client 50000" in section(cfg, "frontend l1")
    be = section(cfg, "backend p1:l1")
    assert "timeout connect 5000" in be and "timeout server 50000" in be
    assert not any("inspect-delay" in ln for ln in section(cfg, "frontend l1"))


def test_insert_headers(build):
    cfg = build(simple(insert_headers={"X-Forwarded-For": "true", "X-Forwarded-Port": "True",
                                       "X-Forwarded-Proto": "true", "X-Real-IP": "true"}))
    be = section(cfg, "backend p1:l1")
    assert "option forwardfor" in be
    assert "http-request set-header X-Forwarded-Port %[dst_port]" in be
    assert "http-request set-header X-Forwarded-Proto http" in be
    assert not any("X-Real-IP" in ln for ln in be)


def test_insert_headers_false_are_not_rendered(build):
    be = section(build(simple(insert_headers={"X-Forwarded-For": "false"})), "backend p1:l1")
    assert "option forwardfor" not in be


def test_allowed_cidrs_reject_other_sources(build):
    fe = section(build(simple(allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"])), "frontend l1")
    assert "acl allowed-cidrs src 10.0.0.0/8 2001:db8::/32" in fe
    assert "tcp-request connection reject unless allowed-cidrs" in fe


def test_admin_down_listener_is_left_out(build):
    lb = loadbalancer([listener(), listener("l2", port=81, admin_state_up=False)], [pool()])
    cfg = build(lb)
    assert "frontend l2" not in cfg and "backend p1:l2" not in cfg


def test_admin_down_loadbalancer_has_no_proxies(haproxy_bin, settings):
    cfg = hr.render(loadbalancer([listener()], [pool()], admin_state_up=False), settings)
    assert "frontend" not in cfg and "backend" not in cfg


def test_listener_without_default_pool(build):
    cfg = build(loadbalancer([listener(default_pool_id=None)], [pool()]))
    assert not any(ln.startswith("default_backend") for ln in section(cfg, "frontend l1"))
    assert "backend p1:l1" not in cfg


def test_admin_down_pool_has_no_backend(build):
    cfg = build(loadbalancer([listener()], [pool(admin_state_up=False)]))
    assert "backend p1:l1" not in cfg and "default_backend" not in cfg


def test_graph_default_pool_is_used(build):
    lb = loadbalancer([listener(default_pool=pool(members=[member("g1")]))], [])
    assert "server g1 10.0.0.1:8080 weight 1" in section(build(lb), "backend p1:l1")


def test_prometheus_listener(build):
    lb = loadbalancer([listener(protocol="PROMETHEUS", port=9100, default_pool_id=None)])
    fe = section(build(lb), "frontend l1")
    assert "mode http" in fe
    assert "http-request use-service prometheus-exporter if { path /metrics }" in fe


# --- pools and members ----------------------------------------------------------------------------

@pytest.mark.parametrize("algorithm,balance", [("ROUND_ROBIN", "roundrobin"),
                                               ("LEAST_CONNECTIONS", "leastconn"),
                                               ("SOURCE_IP", "source")])
def test_lb_algorithm(build, algorithm, balance):
    lb = loadbalancer([listener()], [pool(lb_algorithm=algorithm)])
    assert f"balance {balance}" in section(build(lb), "backend p1:l1")


def test_members(build):
    members = [member("m1", weight=10), member("m2", "10.0.0.2", weight=0),
               member("m3", "fd00::3", backup=True), member("m4", "10.0.0.4", admin_state_up=False)]
    be = section(build(loadbalancer([listener()], [pool(members=members)])), "backend p1:l1")
    assert "server m1 10.0.0.1:8080 weight 10" in be
    assert "server m2 10.0.0.2:8080 weight 0" in be
    assert "server m3 fd00::3:8080 weight 1 backup" in be
    assert "server m4 10.0.0.4:8080 weight 1 disabled" in be
    assert "option allbackups" in be


@pytest.mark.parametrize("protocol,word", [("PROXY", "send-proxy"), ("PROXYV2", "send-proxy-v2")])
@pytest.mark.parametrize("listener_protocol,mode", [("HTTP", "http"), ("TCP", "tcp")])
def test_proxy_protocol_pools(build, protocol, word, listener_protocol, mode):
    lb = loadbalancer([listener(protocol=listener_protocol)], [pool(protocol=protocol)])
    be = section(build(lb), "backend p1:l1")
    assert f"mode {mode}" in be
    assert be[-1].split()[-1] == word


def test_persistence_source_ip(build):
    lb = loadbalancer([listener()], [pool(session_persistence={"type": "SOURCE_IP"})])
    be = section(build(lb), "backend p1:l1")
    assert "stick-table type ipv6 size 10k" in be and "stick on src" in be


def test_persistence_source_ip_with_peers(build):
    lb = loadbalancer([listener()], [pool(session_persistence={"type": "SOURCE_IP"})])
    cfg = build(lb, peer_name="amp1", peers=(("amp1", "127.0.0.1:1025"),
                                            ("amp2", "127.0.0.2:1025")))
    name = LB_ID.replace("-", "") + "_peers"
    assert section(cfg, f"peers {name}") == ["peer amp1 127.0.0.1:1025", "peer amp2 127.0.0.2:1025"]
    assert "localpeer amp1" in section(cfg, "global")
    assert f"stick-table type ipv6 size 10k peers {name}" in section(cfg, "backend p1:l1")


def test_persistence_http_cookie(build):
    lb = loadbalancer([listener()], [pool(session_persistence={"type": "HTTP_COOKIE"})])
    be = section(build(lb), "backend p1:l1")
    assert "cookie SRV insert indirect nocache" in be
    assert "server m1 10.0.0.1:8080 weight 1 cookie m1" in be


def test_persistence_app_cookie(build):
    sp = {"type": "APP_COOKIE", "cookie_name": "JSESSIONID"}
    be = section(build(loadbalancer([listener()], [pool(session_persistence=sp)])), "backend p1:l1")
    assert "stick-table type string len 64 size 10k" in be
    assert "stick store-response res.cook(JSESSIONID)" in be
    assert "stick match req.cook(JSESSIONID)" in be


# --- health monitors ------------------------------------------------------------------------------

@pytest.mark.parametrize("codes,regex", [("200", "^(200)$"), ("200,202", "^(200|202)$"),
                                         ("200-203", "^(200|201|202|203)$"),
                                         ("200-201,301", "^(200|201|301)$")])
def test_expected_codes(codes, regex):
    assert hr.expected_codes(codes) == regex


def test_http_monitor(build):
    hm = monitor(http_method="HEAD", url_path="/healthz", expected_codes="200-202",
                 http_version=1.1, domain_name="app.example.com")
    members = [member(monitor_address="10.1.1.1", monitor_port=9000)]
    be = section(build(loadbalancer([listener()], [pool(healthmonitor=hm, members=members)])),
                 "backend p1:l1")
    assert "timeout check 3s" in be and "load-server-state-from-file global" in be
    assert "option httpchk HEAD /healthz HTTP/1.1" in be
    assert "http-check send hdr Host app.example.com" in be
    assert "http-check expect rstatus ^(200|201|202)$" in be
    assert ("server m1 10.0.0.1:8080 weight 1 check inter 5s fall 4 rise 2 addr 10.1.1.1 port 9000"
            in be)


def test_http_monitor_defaults(build):
    be = section(build(loadbalancer([listener()], [pool(healthmonitor=monitor())])), "backend p1:l1")
    assert "option httpchk GET /" in be and "http-check expect rstatus ^(200)$" in be
    assert not any(ln.startswith("http-check send") for ln in be)


def test_https_monitor_checks_over_tls(build):
    lb = loadbalancer([listener(protocol="HTTPS", port=443)],
                      [pool(protocol="HTTPS", healthmonitor=monitor("HTTPS", url_path="/"))])
    be = section(build(lb), "backend p1:l1")
    assert "option httpchk GET /" in be
    assert be[-1].endswith("check inter 5s fall 4 rise 2 check-ssl verify none")


def test_http_1_1_monitor_without_domain(build):
    hm = monitor(http_version=1.1, url_path="/ping")
    be = section(build(loadbalancer([listener()], [pool(healthmonitor=hm)])), "backend p1:l1")
    assert "option httpchk GET /ping HTTP/1.1" in be
    assert not any(ln.startswith("http-check send") for ln in be)


def test_pool_shared_by_two_listeners_gets_two_backends(build):
    cfg = build(loadbalancer([listener(), listener("l2", port=81)], [pool()]))
    assert "default_backend p1:l2" in section(cfg, "frontend l2")
    assert section(cfg, "backend p1:l1") == section(cfg, "backend p1:l2")


def test_http_monitor_on_tcp_pool(build):
    lb = loadbalancer([listener(protocol="TCP")], [pool(protocol="TCP", healthmonitor=monitor())])
    be = section(build(lb), "backend p1:l1")
    assert "mode tcp" in be and "option httpchk GET /" in be


def test_tcp_monitor_is_plain_check(build):
    lb = loadbalancer([listener(protocol="TCP")], [pool(protocol="TCP", healthmonitor=monitor("TCP"))])
    be = section(build(lb), "backend p1:l1")
    assert not any("httpchk" in ln or "external-check" in ln for ln in be)
    assert be[-1] == "server m1 10.0.0.1:8080 weight 1 check inter 5s fall 4 rise 2"


def test_tls_hello_monitor_does_a_tls_handshake(build):
    lb = loadbalancer([listener(protocol="HTTPS")],
                      [pool(protocol="HTTPS", healthmonitor=monitor("TLS-HELLO", delay=7, timeout=2))])
    be = section(build(lb), "backend p1:l1")
    assert "timeout check 2s" in be
    assert be[-1].endswith("check inter 7s fall 4 rise 2 check-ssl verify none")


def test_ping_monitor_uses_external_check(build):
    lb = loadbalancer([listener(protocol="TCP")], [pool(protocol="TCP", healthmonitor=monitor("PING"))])
    cfg = build(lb, ping_command="/bin/true")
    assert "external-check" in section(cfg, "global")
    assert "insecure-fork-wanted" in section(cfg, "global")
    be = section(cfg, "backend p1:l1")
    assert "option external-check" in be and "external-check command /bin/true" in be


def test_admin_down_monitor_is_not_rendered(build):
    lb = loadbalancer([listener()], [pool(healthmonitor=monitor(admin_state_up=False))])
    be = section(build(lb), "backend p1:l1")
    assert not any("check" in ln for ln in be)


# --- L7 policies ----------------------------------------------------------------------------------

ALL_COMPARE = [("REGEX", "-m reg"), ("STARTS_WITH", "-m beg"), ("ENDS_WITH", "-m end"),
               ("CONTAINS", "-m sub"), ("EQUAL_TO", "-m str")]


@pytest.mark.parametrize("compare,match", ALL_COMPARE)
@pytest.mark.parametrize("type_,key,fetch", [("HOST_NAME", None, "req.hdr(host) -i"),
                                             ("PATH", None, "path"),
                                             ("HEADER", "X-Tenant", "req.hdr(X-Tenant)"),
                                             ("COOKIE", "session", "req.cook(session)")])
def test_l7_rule_acls(build, compare, match, type_, key, fetch):
    pol = policy("pol1", "REJECT", [rule("r1", type_, compare, "abc", key=key)])
    fe = section(build(simple(l7policies=[pol])), "frontend l1")
    assert f"acl r1 {fetch} {match} abc" in fe
    assert "http-request deny if r1" in fe


@pytest.mark.parametrize("compare,expected", [("EQUAL_TO", "path_end jpg"),
                                              ("REGEX", "path_end -m reg jpg"),
                                              ("CONTAINS", "path_end -m sub jpg")])
def test_l7_file_type(build, compare, expected):
    pol = policy("pol1", "REJECT", [rule("r1", "FILE_TYPE", compare, "jpg")])
    assert f"acl r1 {expected}" in section(build(simple(l7policies=[pol])), "frontend l1")


def test_l7_values_are_escaped(build):
    pol = policy("pol1", "REJECT", [rule("r1", "PATH", "REGEX", r"^/a b\.(x|y)#'$")])
    assert r"acl r1 path -m reg ^/a\ b\\.(x|y)\#\'$" in section(build(simple(l7policies=[pol])),
                                                                 "frontend l1")


# (rule type, compare, key, value, a request the rule matches, one it does not)
SPECIAL_VALUES = [
    ("PATH", "REGEX", None, "^/api$", {"path": "/api"}, {"path": "/api/x"}),
    ("PATH", "EQUAL_TO", None, "/a$b", {"path": "/a$b"}, {"path": "/a"}),
    ("PATH", "EQUAL_TO", None, "/a'b", {"path": "/a'b"}, {"path": "/a"}),
    ("PATH", "EQUAL_TO", None, "/a\\b", {"path": "/a\\b"}, {"path": "/ab"}),
    ("HEADER", "EQUAL_TO", "X-A", "a b#c", {"X-A": "a b#c"}, {"X-A": "a b"}),
    ("HEADER", "EQUAL_TO", "X-A", 'a"b', {"X-A": 'a"b'}, {"X-A": "ab"}),
    ("HEADER", "EQUAL_TO", "X-A", "a\tb", {"X-A": "a\tb"}, {"X-A": "a b"}),
]


def _request(port, want):
    headers = {k: v for k, v in want.items() if k != "path"}
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        lines = [f"GET {want.get('path', '/')} HTTP/1.1", "Host: x", "Connection: close"]
        sock.sendall(("\r\n".join(lines + [f"{k}: {v}" for k, v in headers.items()])
                      + "\r\n\r\n").encode())
        return int(sock.recv(64).split()[1])


@pytest.mark.parametrize("type_,compare,key,value,matches,misses", SPECIAL_VALUES,
                         ids=["regex-anchor", "dollar", "quote", "backslash", "space-hash",
                              "double-quote", "tab"])
def test_l7_values_with_special_characters_match_in_running_haproxy(
        haproxy_bin, settings, type_, compare, key, value, matches, misses):
    r"""Escaped values mean to HAProxy what they meant to the user (a `$` used to come out as
    `\$`, which HAProxy keeps as two characters outside quotes: `^/api$` never matched)."""
    port = _free_port()
    pol = policy("deny", "REJECT", [rule("r1", type_, compare, value, key=key)])
    lb = loadbalancer([listener(port=port, connection_limit=100, l7policies=[pol],
                                timeout_member_connect=100)],
                      [pool(members=[member("m9", "127.0.0.1", _free_port())])])
    with running(haproxy_bin, lb, settings):
        assert _request(port, matches) == 403
        assert _request(port, misses) == 503   # past the rule: to the pool, no member up


# --- values that would break a line ---------------------------------------------------------------

def _tls_pool(**kw):
    return pool(tls_enabled=True, **kw)


def _poisoned(field, bad):
    """A load balancer whose `field` holds the text `bad` (as a database somehow might)."""
    hm = monitor("HTTP", url_path="/h", expected_codes="200", http_method="GET")
    if field == "url_path":
        hm = monitor("HTTP", url_path="/h" + bad)
    if field == "domain_name":
        hm = monitor("HTTP", http_version=1.1, domain_name="example.com" + bad)
    if field == "http_method":
        hm = monitor("HTTP", http_method="GET" + bad)
    rules = {"rule_value": rule("r1", "PATH", "REGEX", "^/a" + bad),
             "rule_key": rule("r1", "HEADER", "EQUAL_TO", "a", key="X-A" + bad),
             "dn_value": rule("r1", "SSL_DN_FIELD", "EQUAL_TO", "a" + bad, key="CN")}
    policies = []
    if field in rules:
        policies = [policy("p", "REJECT", [rules[field]])]
    if field in ("redirect_url", "redirect_prefix"):
        action = "REDIRECT_TO_URL" if field == "redirect_url" else "REDIRECT_PREFIX"
        policies = [policy("p", action, [rule("r1", "PATH", "EQUAL_TO", "/a")],
                           **{field: "http://example.com/" + bad})]
    members = [member(address="10.0.0.1" + bad if field == "address" else "10.0.0.1",
                      monitor_address="10.0.0.2" + bad if field == "monitor_address" else None)]
    sp = {"type": "APP_COOKIE", "cookie_name": "c" + bad} if field == "cookie_name" else None
    the_pool = pool(members=members, healthmonitor=hm, session_persistence=sp,
                    tls_enabled=field == "pool_tls_ciphers",
                    tls_ciphers="ECDHE" + bad if field == "pool_tls_ciphers" else None)
    the_listener = listener(l7policies=policies,
                            allowed_cidrs=["10.0.0.0/8" + bad] if field == "allowed_cidrs"
                            else None,
                            protocol="TERMINATED_HTTPS" if field == "dn_value" else "HTTP",
                            **({"default_tls_container_ref": "ref", "port": 443}
                               if field == "dn_value" else {}))
    lb = loadbalancer([the_listener], [the_pool])
    if field == "vip_address":
        lb.vip_address = VIP + bad
    return lb


POISONED = ["url_path", "domain_name", "http_method", "rule_value", "rule_key", "dn_value",
            "redirect_url", "redirect_prefix", "address", "monitor_address", "cookie_name",
            "pool_tls_ciphers", "allowed_cidrs", "vip_address"]


@pytest.mark.parametrize("bad", ["\n", "\r", "\r\n", "\x00", "\x0b", "\u2028"],
                         ids=["lf", "cr", "crlf", "nul", "vt", "u2028"])
@pytest.mark.parametrize("field", POISONED)
def test_a_line_break_in_any_rendered_value_is_refused_at_render(settings, field, bad):
    """Even if the database holds one: nothing is rendered, the operator is told where."""
    with pytest.raises(config_text.UnsafeConfigValue) as err:
        hr.render(_poisoned(field, bad + "    bind :2222"), settings)
    assert "haproxy.cfg: refusing to render" in err.value.operator_fault_string
    assert str(err.value) == err.value.operator_fault_string   # the worker logs str()
    assert "line break" in err.value.user_fault_string


def test_names_and_descriptions_are_not_rendered(build):
    text = "web\n    bind :2222"
    lb = loadbalancer([listener(name=text, description=text)], [pool(name=text)], name=text,
                      description=text)
    cfg = build(lb)
    assert ":2222" not in cfg and "web" not in cfg


def test_l7_invert_and_and(build):
    rules = [rule("r1", "PATH", "STARTS_WITH", "/api"), rule("r2", "HOST_NAME", "EQUAL_TO", "a.io",
                                                              invert=True)]
    fe = section(build(simple(l7policies=[policy("pol1", "REJECT", rules)])), "frontend l1")
    assert "http-request deny if r1 !r2" in fe


def test_l7_redirects(build):
    pols = [policy("pol1", "REDIRECT_TO_URL", [rule("r1", "PATH", "EQUAL_TO", "/old")],
                   redirect_url="https://example.com/new", redirect_http_code=301),
            policy("pol2", "REDIRECT_PREFIX", [rule("r2", "PATH", "STARTS_WITH", "/v1")],
                   position=2, redirect_prefix="https://v1.example.com"),
            policy("pol3", "REDIRECT_TO_URL", [rule("r3", "PATH", "EQUAL_TO", "/x")], position=3,
                   redirect_url="https://example.com/x", redirect_http_code=308)]
    fe = section(build(simple(l7policies=pols)), "frontend l1")
    assert "http-request redirect code 301 location https://example.com/new if r1" in fe
    assert "http-request redirect prefix https://v1.example.com if r2" in fe
    assert "http-request redirect code 308 location https://example.com/x if r3" in fe


def test_l7_redirect_to_pool_adds_backend(build):
    pol = policy("pol1", "REDIRECT_TO_POOL", [rule("r1", "PATH", "STARTS_WITH", "/api")],
                 redirect_pool_id="p2")
    lb = loadbalancer([listener(l7policies=[pol])], [pool(), pool("p2", members=[member("m9")])])
    cfg = build(lb)
    fe = section(cfg, "frontend l1")
    assert fe.index("use_backend p2:l1 if r1") < fe.index("default_backend p1:l1")
    assert "server m9 10.0.0.1:8080 weight 1" in section(cfg, "backend p2:l1")


def test_l7_redirect_to_disabled_pool_is_skipped(build):
    pol = policy("pol1", "REDIRECT_TO_POOL", [rule("r1", "PATH", "STARTS_WITH", "/api")],
                 redirect_pool_id="p2")
    cfg = build(loadbalancer([listener(l7policies=[pol])], [pool(), pool("p2", admin_state_up=False)]))
    assert "use_backend" not in cfg and "backend p2:l1" not in cfg


def _status(url):
    """The HTTP status of a GET without following redirects."""
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args):
            return None
    try:
        return urllib.request.build_opener(NoRedirect).open(url, timeout=10).status
    except urllib.error.HTTPError as exc:
        return exc.code


def _first_match_lb(port):
    """Position 1 routes /api to p2 (no live member: 503); position 2 rejects /api (403)."""
    pols = [policy("route", "REDIRECT_TO_POOL", [rule("r1", "PATH", "STARTS_WITH", "/api")],
                   redirect_pool_id="p2"),
            policy("deny", "REJECT", [rule("r2", "PATH", "STARTS_WITH", "/api")], position=2),
            policy("moved", "REDIRECT_PREFIX", [rule("r3", "PATH", "STARTS_WITH", "/old")],
                   position=3, redirect_prefix="http://new.example", redirect_http_code=302)]
    dead = member("m9", "127.0.0.1", _free_port())
    return loadbalancer([listener(port=port, connection_limit=100, l7policies=pols,
                                  timeout_member_connect=100)],
                        [pool(members=[dead]), pool("p2", members=[dead])])


def test_l7_redirect_to_pool_before_reject_guards_the_reject(build):
    fe = section(build(_first_match_lb(80)), "frontend l1")
    assert "http-request set-var(txn.lbaas_l7_routed) bool(true) if r1" in fe
    assert "http-request deny if r2 !{ var(txn.lbaas_l7_routed) -m found }" in fe
    assert ("http-request redirect code 302 prefix http://new.example if r3 "
            "!{ var(txn.lbaas_l7_routed) -m found }") in fe


def test_l7_first_matching_policy_wins_in_running_haproxy(haproxy_bin, settings):
    """Live: /api goes to the pool (503, no member up) instead of the later REJECT (403)."""
    port = _free_port()
    with running(haproxy_bin, _first_match_lb(port), settings):
        assert _status(f"http://127.0.0.1:{port}/api/x") == 503
        assert _status(f"http://127.0.0.1:{port}/old/y") == 302
        assert _status(f"http://127.0.0.1:{port}/other") == 503


def test_l7_redirect_location_percent_is_literal(build):
    pol = policy("pol1", "REDIRECT_TO_URL", [rule("r1", "PATH", "EQUAL_TO", "/a")],
                 redirect_url="https://example.com/a%20b")
    fe = section(build(simple(l7policies=[pol])), "frontend l1")
    assert "http-request redirect location https://example.com/a%%20b if r1" in fe


def test_l7_policies_follow_position(build):
    pols = [policy("late", "REJECT", [rule("r2", "PATH", "EQUAL_TO", "/b")], position=2),
            policy("early", "REJECT", [rule("r1", "PATH", "EQUAL_TO", "/a")], position=1)]
    fe = section(build(simple(l7policies=pols)), "frontend l1")
    assert fe.index("http-request deny if r1") < fe.index("http-request deny if r2")


def test_l7_disabled_or_ruleless_policies_are_skipped(build):
    pols = [policy("off", "REJECT", [rule("r1", "PATH", "EQUAL_TO", "/a")], admin_state_up=False),
            policy("empty", "REJECT", [], position=2),
            policy("offrules", "REJECT", [rule("r3", "PATH", "EQUAL_TO", "/c", admin_state_up=False)],
                   position=3)]
    fe = section(build(simple(l7policies=pols)), "frontend l1")
    assert not any(ln.startswith(("acl r", "http-request deny")) for ln in fe)


# --- unsupported options --------------------------------------------------------------------------

@pytest.mark.parametrize("lb,option", [
    (loadbalancer([listener()], [pool(lb_algorithm="SOURCE_IP_PORT")]), "SOURCE_IP_PORT"),
    (loadbalancer([listener(protocol="TERMINATED_HTTPS", port=443)], [pool()]), "TERMINATED_HTTPS"),
    (loadbalancer([listener(protocol="TCP")], [pool(protocol="UDP")]), "UDP"),
    (loadbalancer([listener()], [pool(tls_enabled=True, tls_versions=["SSLv3"])]), "SSLv3"),
    (loadbalancer([listener()], [pool(healthmonitor=monitor("SCTP"))]), "SCTP"),
    (loadbalancer([listener(l7policies=[policy("p", "REJECT", [
        rule("r", "SSL_CONN_HAS_CERT", "EQUAL_TO", "tls")])])], [pool()]), "SSL_CONN_HAS_CERT"),
])
def test_unsupported_options_are_rejected(settings, lb, option):
    with pytest.raises(exceptions.UnsupportedOptionError) as err:
        hr.render(lb, settings)
    assert option in err.value.user_fault_string


@pytest.mark.parametrize("protocol", ["UDP", "SCTP"])
def test_udp_and_sctp_listeners_are_left_to_keepalived(build, protocol):
    """HAProxy serves the TCP-family listeners; UDP/SCTP ones and their pools are skipped."""
    lb = loadbalancer([listener(), listener("l2", protocol=protocol, port=53,
                                            default_pool_id="p2")],
                      [pool(), pool("p2", protocol=protocol, lb_algorithm="SOURCE_IP_PORT",
                                    healthmonitor=monitor("UDP-CONNECT"))])
    cfg = build(lb)
    assert "frontend l1" in cfg and "backend p1:l1" in cfg
    assert "l2" not in cfg and "p2" not in cfg
    assert "maxconn 50000" in section(cfg, "global")


def test_supported_loadbalancer_validates():
    validate(simple())


def test_templates_ship_as_package_data():
    import pathlib
    setup_py = (pathlib.Path(__file__).parents[2] / "setup.py").read_text()
    assert "drivers/amphora/haproxy/templates/*.j2" in setup_py
    assert (hr.TEMPLATES / "haproxy.cfg.j2").is_file()
