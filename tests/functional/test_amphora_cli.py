"""The amphora provider driven by the real `openstack loadbalancer` CLI, then real traffic.

The basic scenario once, the way a user types it: a load balancer on the VIP subnet by
name, an HTTP listener, a ROUND_ROBIN pool, three members on the member subnet by name,
requests through the VIP, and a cascade delete that leaves nothing behind.
"""
import collections

import pytest

from testbed import backends
from testbed.host import processes_mentioning
from tests.functional.amphora_env import BACKEND_PORT
from tests.functional.test_cli import Cli

pytestmark = pytest.mark.functional


def test_cli_builds_a_load_balancer_that_serves_traffic_and_deletes_it(amphora_cloud):
    env = amphora_cloud
    for k in (1, 2, 3):
        env.backend(f"b{k}", k)
    cli = Cli(env.url)
    name = f"cli-{env.token}"
    lb = cli.json("loadbalancer", "create", "--name", name, "--vip-subnet-id",
                  env.vip_subnet_name, "--wait")
    assert (lb["provisioning_status"], lb["provider"]) == ("ACTIVE", "amphora")
    assert lb["vip_subnet_id"] == env.vip_subnet_id
    env.remember_amphorae(lb["id"])

    listener = cli.json("loadbalancer", "listener", "create", "--name", f"{name}-http",
                        "--protocol", "HTTP", "--protocol-port", "80", lb["id"])
    env.wait_active("listeners", listener["id"])
    pool = cli.json("loadbalancer", "pool", "create", "--name", f"{name}-pool", "--protocol",
                    "HTTP", "--lb-algorithm", "ROUND_ROBIN", "--listener", listener["id"])
    env.wait_active("pools", pool["id"])
    for k in (1, 2, 3):
        cli.json("loadbalancer", "member", "create", "--name", f"b{k}", "--subnet-id",
                 env.member_subnet_name, "--address", env.member_host(200 + k),
                 "--protocol-port", str(BACKEND_PORT), pool["id"])
        env.wait_active("loadbalancers", lb["id"])
    members = cli.json("loadbalancer", "member", "list", pool["id"])
    assert sorted(m["name"] for m in members) == ["b1", "b2", "b3"]
    assert {m["provisioning_status"] for m in members} == {"ACTIVE"}

    vip = lb["vip_address"]
    env.wait_vip(vip)
    counts = collections.Counter(backends.names(vip, 30))
    assert set(counts) == {"b1", "b2", "b3"}, counts
    assert all(9 <= n <= 11 for n in counts.values()), counts

    # the amphora commands show the real amphora behind it
    listed = [a for a in cli.json("loadbalancer", "amphora", "list")
              if a["loadbalancer_id"] == lb["id"]]
    assert len(listed) == 1 and listed[0]["status"] == "ALLOCATED", listed
    shown = cli.json("loadbalancer", "amphora", "show", listed[0]["id"])
    assert shown["role"] == "STANDALONE" and shown["lb_network_ip"], shown
    assert shown["cert_expiration"], shown
    stats = env._wait(lambda: (s := cli.json("loadbalancer", "amphora", "stats", "show",
                                             listed[0]["id"]))["total_connections"] >= 30
                      and s, 15, "amphora stats to count the 30 requests")
    assert stats["bytes_out"] > 0, stats
    # a second reconcile of an unchanged load balancer changes nothing: no reload
    def haproxy():
        return {pid for pid, cmd in processes_mentioning(env.amphora_dir).items()
                if "haproxy" in cmd and "lbaas.agent" not in cmd}
    before = haproxy()
    assert before
    cli("loadbalancer", "amphora", "configure", listed[0]["id"])
    env.wait_active("loadbalancers", lb["id"])
    assert haproxy() == before

    amphorae = {a["id"] for a in env.get(
        f"/v2/octavia/amphorae?loadbalancer_id={lb['id']}")["amphorae"]}
    cli("loadbalancer", "delete", "--cascade", "--wait", lb["id"])
    assert cli.run("loadbalancer", "show", lb["id"])[0] != 0
    assert env.leftovers(amphorae) == [], env.log_excerpt()
    with pytest.raises(OSError):
        backends.connect(vip, 80, timeout=1).close()
