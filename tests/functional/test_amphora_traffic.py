"""Real traffic through amphorae: the API builds a load balancer, an HTTP client goes through
its VIP to backends in network namespaces (docs/amphora.md).

One load balancer (`main`) carries most scenarios, one listener per scenario, so the
module pays for a single amphora: namespace, agent and HAProxy. The scenarios that
change shared state (a killed backend, a reload) come last; deletion uses load
balancers of its own. The environment (tests.functional.amphora_env) checks at the
end of the session that nothing is left behind.
"""
import collections
import http.client
import threading
import time

import pytest

from testbed import backends
from tests.functional.amphora_env import (BACKEND_PORT, HEARTBEAT_INTERVAL, AmphoraEnv,
                                          wait_until)

pytestmark = pytest.mark.functional

HM = {"type": "HTTP", "delay": 1, "timeout": 1, "max_retries": 1, "max_retries_down": 2,
      "url_path": "/health", "http_method": "GET", "expected_codes": "200"}
# ports of the listeners of the main load balancer, one per scenario
CONNECTION_LIMIT = 500
RR, WEIGHTED, LEASTCONN, SOURCE_IP, HTTP_COOKIE, APP_COOKIE, ALLOWED = range(80, 87)


def _members(env, *ks, weights=None):
    return [{"name": f"m{k}", "address": env.member_host(200 + k), "protocol_port": BACKEND_PORT,
             "subnet_id": env.member_subnet_id, "weight": (weights or {}).get(k, 1)}
            for k in ks]


def _pool(name, members, algorithm="ROUND_ROBIN", persistence=None, hm=None):
    pool = {"name": name, "protocol": "HTTP", "lb_algorithm": algorithm, "members": members}
    if persistence:
        pool["session_persistence"] = persistence
    if hm:
        pool["healthmonitor"] = dict(hm)
    return pool


def _listener(port, pool, **extra):
    # HAProxy's global maxconn is the sum of the listeners' limits and needs ~2.5 FDs per
    # connection: 7 listeners at the default 2000 exceed this host's hard limit (20000)
    return dict({"name": f"http-{port}", "protocol": "HTTP", "protocol_port": port,
                 "connection_limit": CONNECTION_LIMIT, "default_pool": pool}, **extra)


class Main:
    """The main load balancer: ids, VIP, and the backends behind it."""

    def __init__(self, env, lb, backends_by_name):
        self.env, self.lb, self.backends = env, lb, backends_by_name
        self.vip = lb["vip_address"]
        tree = env.get(f"/v2/lbaas/loadbalancers/{lb['id']}")["loadbalancer"]
        self.listeners = {}
        for ref in tree["listeners"]:
            li = env.show("listeners", ref["id"])
            self.listeners[li["protocol_port"]] = li
        self.pools = {}
        for ref in tree["pools"]:
            pool = env.show("pools", ref["id"])
            self.pools[pool["name"]] = pool

    def member_ids(self, pool_name):
        """{member name: member id} of a pool."""
        pool_id = self.pools[pool_name]["id"]
        members = self.env.get(f"/v2/lbaas/pools/{pool_id}/members")["members"]
        return {m["name"]: m["id"] for m in members}

    def get(self, path="/", port=RR, **kw):
        return backends.http_get(self.vip, path, port, **kw)

    def names(self, count, path="/", port=RR, **kw):
        return collections.Counter(backends.names(self.vip, count, path, port, **kw))


@pytest.fixture(scope="module")
def main(amphora_cloud):
    """Backends b1..b3 (+ api, hdr, hosty) and one load balancer with every scenario."""
    env = amphora_cloud
    names = {1: "b1", 2: "b2", 3: "b3", 4: "api", 5: "hdr", 6: "hosty"}
    started = {name: env.backend(name, k) for k, name in names.items()}
    three = (1, 2, 3)
    policies = [
        {"name": "api", "action": "REDIRECT_TO_POOL", "position": 1,
         "redirect_pool": _pool("api", _members(env, 4)),
         "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/api"}]},
        {"name": "canary", "action": "REDIRECT_TO_POOL", "position": 2,
         "redirect_pool": _pool("hdr", _members(env, 5)),
         "rules": [{"type": "HEADER", "compare_type": "EQUAL_TO", "key": "X-Route",
                    "value": "canary"}]},
        {"name": "shop", "action": "REDIRECT_TO_POOL", "position": 3,
         "redirect_pool": _pool("host", _members(env, 6)),
         "rules": [{"type": "HOST_NAME", "compare_type": "EQUAL_TO",
                    "value": "shop.example.com"}]},
        {"name": "moved", "action": "REDIRECT_TO_URL", "position": 4,
         "redirect_url": "http://example.com/new-home", "redirect_http_code": 302,
         "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/old"}]},
        {"name": "deny", "action": "REJECT", "position": 5,
         "rules": [{"type": "PATH", "compare_type": "STARTS_WITH", "value": "/forbidden"}]},
    ]
    listeners = [
        _listener(RR, _pool("rr", _members(env, *three), hm=HM), l7policies=policies),
        _listener(WEIGHTED, _pool("weighted", _members(env, 1, 2, weights={1: 3, 2: 1}))),
        _listener(LEASTCONN, _pool("lc", _members(env, *three), "LEAST_CONNECTIONS")),
        _listener(SOURCE_IP, _pool("srcip", _members(env, *three),
                                   persistence={"type": "SOURCE_IP"})),
        _listener(HTTP_COOKIE, _pool("cookie", _members(env, *three),
                                     persistence={"type": "HTTP_COOKIE"})),
        _listener(APP_COOKIE, _pool("app", _members(env, *three),
                                    persistence={"type": "APP_COOKIE",
                                                 "cookie_name": "APPSID"})),
        _listener(ALLOWED, _pool("acl", _members(env, 1)),
                  allowed_cidrs=[f"{env.vip_host(1)}/32"]),
    ]
    lb = env.create_graph(f"main-{env.token}", listeners)
    for port in range(RR, ALLOWED + 1):
        env.wait_vip(lb["vip_address"], port)
    return Main(env, lb, started)


def test_load_balancer_gets_a_vip_on_its_subnet_and_an_amphora(main):
    env = main.env
    assert main.lb["vip_subnet_id"] == env.vip_subnet_id
    assert main.lb["provider"] == "amphora"
    amphorae = env.get(f"/v2/octavia/amphorae?loadbalancer_id={main.lb['id']}")["amphorae"]
    assert [a["status"] for a in amphorae] == ["ALLOCATED"]


def test_round_robin_spreads_requests_evenly(main):
    counts = main.names(30)
    assert set(counts) == {"b1", "b2", "b3"}, counts
    assert all(9 <= n <= 11 for n in counts.values()), counts


def test_weights_split_requests_three_to_one(main):
    counts = main.names(40, port=WEIGHTED)
    assert set(counts) == {"b1", "b2"}, counts
    assert 27 <= counts["b1"] <= 33, counts


def test_least_connections_avoids_the_busy_member(main):
    slow = _Transfer(main.vip, LEASTCONN, bytes_=400_000, chunk=4096, delay=0.02).start()
    busy = slow.wait_started()
    counts = main.names(9, port=LEASTCONN)
    slow.wait_done()
    assert busy in ("b1", "b2", "b3")
    assert busy not in counts and sum(counts.values()) == 9, (busy, counts)
    assert slow.received == 400_000


def test_source_ip_persistence_keeps_a_client_on_one_member(main):
    from_host = main.names(10, port=SOURCE_IP)
    from_client = main.names(10, port=SOURCE_IP, netns=main.env.client_namespace().name)
    assert len(from_host) == 1, from_host
    assert len(from_client) == 1, from_client


def test_http_cookie_persistence_sticks_with_the_cookie_only(main):
    first = main.get(port=HTTP_COOKIE)
    cookie = first.cookies()
    assert "SRV" in cookie, first.headers
    jar = {"Cookie": f"SRV={cookie['SRV']}"}
    with_jar = main.names(10, port=HTTP_COOKIE, headers=jar)
    assert with_jar == {first.text: 10}
    without = main.names(9, port=HTTP_COOKIE)
    assert len(without) >= 2, without


def test_app_cookie_persistence_follows_the_application_cookie(main):
    first = main.get("/app", port=APP_COOKIE)
    appsid = first.cookies()["APPSID"]
    assert appsid.startswith(first.text + "-")
    jar = {"Cookie": f"APPSID={appsid}"}
    assert main.names(10, port=APP_COOKIE, headers=jar) == {first.text: 10}
    assert len(main.names(9, port=APP_COOKIE)) >= 2


def test_l7_redirect_to_pool_by_path(main):
    assert main.names(4, "/api/v1/things") == {"api": 4}
    echoed = main.get("/api/echo").text
    assert echoed == "api"


def test_l7_redirect_to_pool_by_header(main):
    assert main.names(4, headers={"X-Route": "canary"}) == {"hdr": 4}
    assert "hdr" not in main.names(6, headers={"X-Route": "stable"})


def test_l7_redirect_to_pool_by_host_name(main):
    assert main.names(4, headers={"Host": "shop.example.com"}) == {"hosty": 4}
    assert "hosty" not in main.names(6, headers={"Host": "www.example.com"})


def test_l7_redirect_to_url_answers_302_with_location(main):
    resp = main.get("/old/page")
    assert resp.status == 302, resp
    assert resp.header("location").startswith("http://example.com/new-home"), resp.headers


def test_l7_reject_answers_403(main):
    assert main.get("/forbidden/x").status == 403
    assert main.get("/echo").json()["path"] == "/echo"  # the rest still passes


def test_allowed_cidrs_admit_the_host_and_refuse_another_client(main):
    client = main.env.client_namespace().name
    assert main.get(port=ALLOWED).text == "b1"
    assert main.get(port=RR, netns=client).status == 200   # the client reaches the VIP
    with pytest.raises((OSError, http.client.HTTPException)):
        main.get(port=ALLOWED, netns=client, timeout=2)


def test_backend_sees_the_request_path_and_headers(main):
    echo = main.get("/echo/abc?x=1", headers={"X-Test": "yes"}).json()
    assert echo["path"] == "/echo/abc?x=1"
    headers = {k.lower(): v for k, v in echo["headers"].items()}  # HAProxy lower-cases names
    assert headers.get("x-test") == "yes"
    assert echo["name"] in ("b1", "b2", "b3")


def test_stats_counters_grow_with_traffic(main):
    env = main.env
    url = f"/v2/lbaas/loadbalancers/{main.lb['id']}/stats"
    before = env.get(url)["stats"]
    for _ in range(20):
        assert main.get("/echo").status == 200

    def grown():
        now = env.get(url)["stats"]
        ok = now["total_connections"] >= before["total_connections"] + 20 \
            and now["bytes_in"] > before["bytes_in"] and now["bytes_out"] > before["bytes_out"]
        return now if ok else None
    try:
        after = wait_until(grown, 5 * HEARTBEAT_INTERVAL + 5, "stats to count 20 connections")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nbefore={before} now={env.get(url)['stats']}\n"
                             f"{env.log_excerpt()}") from None
    assert after["bytes_out"] - before["bytes_out"] >= 20 * len("b1")


def test_a_killed_member_goes_error_is_avoided_and_comes_back_online(main):
    env = main.env
    pool_id = main.pools["rr"]["id"]
    ids = main.member_ids("rr")
    settle = HM["delay"] * HM["max_retries_down"] + HM["timeout"] + 2 * HEARTBEAT_INTERVAL + 2
    for name in ("m1", "m2", "m3"):
        env.wait_operating("members", ids[name], "ONLINE", timeout=settle + 10, member_of=pool_id)
    victim = main.backends["b3"]
    victim.stop()
    try:
        start = time.monotonic()
        env.wait_operating("members", ids["m3"], "ERROR", timeout=settle, member_of=pool_id)
        took = time.monotonic() - start
        counts = main.names(12)
        assert set(counts) == {"b1", "b2"}, counts
        assert env.show("pools", pool_id)["operating_status"] in ("ONLINE", "DEGRADED")
    finally:
        victim.start()
    env.wait_operating("members", ids["m3"], "ONLINE", timeout=settle, member_of=pool_id)
    assert "b3" in main.names(9)
    assert took <= settle


def test_listener_update_reloads_haproxy_and_keeps_a_long_transfer(main):
    from lbaas.drivers.amphora.compute import processes
    env = main.env
    amphora = env.get(f"/v2/octavia/amphorae?loadbalancer_id={main.lb['id']}")["amphorae"][0]
    ns = "amp-" + "".join(ch for ch in amphora["id"].lower() if ch.isalnum())[:10]
    before = _haproxies(processes.pids_in(ns))
    assert before, f"no haproxy runs in {ns}"
    size = 3_000_000
    transfer = _Transfer(main.vip, RR, bytes_=size, chunk=32768, delay=0.02).start()
    transfer.wait_started()
    listener = main.listeners[RR]
    env.put(f"/v2/lbaas/listeners/{listener['id']}",
            {"listener": {"name": "http-80-reloaded", "timeout_client_data": 40000}})
    env.wait_active("listeners", listener["id"])
    env.wait_active("loadbalancers", main.lb["id"])
    wait_until(lambda: _haproxies(processes.pids_in(ns)) - before, 10,
               f"a new haproxy process in {ns} (a reload)")
    assert not transfer.done.is_set(), "the transfer ended before the reload: make it longer"
    transfer.wait_done(timeout=60)
    assert transfer.error is None, transfer.error
    assert transfer.received == size
    assert main.get().status == 200


def _haproxies(pids):
    found = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/comm") as f:
                if f.read().strip() == "haproxy":
                    found.add(pid)
        except OSError:
            pass
    return found


class _Transfer:
    """GET /big?bytes=N slowly through the VIP in a thread; records what arrived."""

    def __init__(self, host, port, bytes_, chunk, delay, netns=None):
        self.host, self.port, self.netns = host, port, netns
        self.path = f"/big?bytes={bytes_}&chunk={chunk}&delay={delay}"
        self.received, self.backend, self.error = 0, None, None
        self.started, self.done = threading.Event(), threading.Event()

    def start(self):
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self):
        try:
            sock = backends.connect(self.host, self.port, self.netns, 10)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
            conn.sock = sock
            conn.request("GET", self.path)
            resp = conn.getresponse()
            self.backend = resp.getheader("X-Backend")
            self.status = resp.status
            while True:
                data = resp.read1(65536)
                if not data:
                    break
                self.received += len(data)
                self.started.set()
            conn.close()
        except Exception as exc:  # noqa: BLE001 - handed to the test
            self.error = exc
        finally:
            self.started.set()
            self.done.set()

    def wait_started(self, timeout=10):
        assert self.started.wait(timeout), "the long transfer did not start"
        assert self.error is None, self.error
        return self.backend

    def wait_done(self, timeout=30):
        assert self.done.wait(timeout), f"the long transfer did not finish ({self.received} B)"


def test_cascade_delete_leaves_nothing_and_releases_the_vip(amphora_cloud):
    env = amphora_cloud
    b1 = env.backend("b1", 1)
    lb = env.create_graph(f"gone-{env.token}", [
        _listener(80, _pool("p", _members(env, 1)))])
    vip = lb["vip_address"]
    env.wait_vip(vip)
    assert backends.http_get(vip).text == b1.name
    amphorae = {a["id"] for a in env.get(
        f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]}
    assert amphorae
    assert not env.leftovers(set())  # sanity: the check itself finds nothing for no amphora
    assert env.leftovers(amphorae), "the leftover check sees a running amphora"

    env.delete_lb(lb["id"])
    assert env.leftovers(amphorae) == []
    assert env.get(f"/v2.0/ports?device_id={lb['id']}")["ports"] == []
    with pytest.raises(OSError):
        backends.connect(vip, 80, timeout=1).close()
    # the address can be had again
    again = env.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
        "name": f"again-{env.token}", "vip_subnet_id": env.vip_subnet_id,
        "vip_address": vip}})["loadbalancer"]
    assert again["vip_address"] == vip
    env.wait_active("loadbalancers", again["id"])
    env.delete_lb(again["id"])


def test_round_robin_and_delete_on_postgresql(amphora_cloud_pg):
    env = amphora_cloud_pg
    for k in (1, 2, 3):
        env.backend(f"pg{k}", k)
    lb = env.create_graph(f"pg-{env.token}", [
        _listener(80, _pool("pg", _members(env, 1, 2, 3)))])
    env.wait_vip(lb["vip_address"])
    counts = collections.Counter(backends.names(lb["vip_address"], 30))
    assert set(counts) == {"pg1", "pg2", "pg3"} and all(9 <= n <= 11 for n in counts.values()), \
        counts
    amphorae = {a["id"] for a in env.get(
        f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]}
    env.delete_lb(lb["id"])
    assert env.leftovers(amphorae) == []


@pytest.fixture(scope="module")
def busy_sweeper_cloud(amphora_host, tmp_path_factory):
    """An environment whose worker sweeps every second ([controller_worker] sweep_interval =
    1), so a load balancer's reconcile is often queued again while it runs."""
    env = AmphoraEnv(tmp_path_factory.mktemp("amphora-sweep"), label="sweep_interval=1",
                     extra_config={"controller_worker": {"sweep_interval": 1}})
    try:
        env.start()
        yield env
    finally:
        env.stop()


def test_delete_just_after_active_leaves_nothing_even_with_a_busy_sweeper(busy_sweeper_cloud):
    env = busy_sweeper_cloud
    leaked = []
    for i in range(4):
        lb = env.post("/v2/lbaas/loadbalancers", {"loadbalancer": {
            "name": f"quick-{i}", "vip_subnet_id": env.vip_subnet_id}})["loadbalancer"]
        env.wait_active("loadbalancers", lb["id"])
        amphorae = {a["id"] for a in env.get(
            f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]}
        env.delete_lb(lb["id"])
        try:
            wait_until(lambda: not env.leftovers(amphorae), 6,
                       f"the amphora of deleted load balancer {lb['id']} to go")
        except AssertionError:
            rows = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]
            leaked.append((lb["id"], [(a["id"], a["status"]) for a in rows],
                           env.leftovers(amphorae)))
    assert not leaked, f"load balancers DELETED but their amphorae kept: {leaked}"
