"""ACTIVE_STANDBY under real traffic: two amphorae, keepalived VRRP between them, the VIP on
the MASTER; its death, HAProxy's death, keepalived's death, manual failovers and a
controller restart, each while a client sends requests through the VIP.

Each scenario prints the longest gap in traffic and the number of failed requests.
"""
import os
import signal

import pytest
from pyroute2 import NetNS

from tests.functional.amphora_env import wait_until
from tests.functional.test_amphora_failover import (SpareEnv, Traffic, _in_netns, _kill,
                                                    _lb, _serves)
from tests.functional.test_cli import Cli

pytestmark = pytest.mark.functional


@pytest.fixture(scope="module")
def env(amphora_host, tmp_path_factory):
    env = SpareEnv(tmp_path_factory.mktemp("amphora-as"), extra_config={
        "controller_worker": {"loadbalancer_topology": "ACTIVE_STANDBY"},
        "house_keeping": {"spare_amphora_pool_size": 1}})
    try:
        env.start()
        for k, name in ((1, "one"), (2, "two")):
            env.backend(name, k)
        yield env
    finally:
        env.stop()


def _ns(amphora_id):
    return "amp-" + "".join(ch for ch in amphora_id.lower() if ch.isalnum())[:10]


def _holds(amphora_id, address):
    """Whether the amphora's namespace carries `address` on an interface."""
    try:
        with NetNS(_ns(amphora_id)) as ns:
            return any(a.get_attr("IFA_ADDRESS") == address for a in ns.get_addr())
    except OSError:
        return False


def _pair(env, lb_id):
    """{role: amphora} of the load balancer's two amphorae."""
    found = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
    env.amphora_ids.update(a["id"] for a in found)
    assert sorted(a["role"] for a in found) == ["BACKUP", "MASTER"], found
    return {a["role"]: a for a in found}


def _holders(pair, vip):
    return [role for role, amp in pair.items() if _holds(amp["id"], vip)]


def _new_pair(env, lb_id, gone, timeout=40):
    """Wait for a pair without the amphorae in `gone` and the load balancer ACTIVE."""
    def ready():
        found = env.get(f"/v2/octavia/amphorae?loadbalancer_id={lb_id}")["amphorae"]
        if len(found) != 2 or {a["id"] for a in found} & gone or \
                env.show("loadbalancers", lb_id)["provisioning_status"] != "ACTIVE" or \
                not all(a["status"] == "ALLOCATED" for a in found):
            return None
        return {a["role"]: a for a in found}
    pair = wait_until(ready, timeout, "a new pair and the load balancer ACTIVE")
    env.amphora_ids.update(a["id"] for a in pair.values())
    return pair


def _one_holder(pair, vip):
    wait_until(lambda: len(_holders(pair, vip)) == 1, 10, "exactly one amphora with the VIP")
    return _holders(pair, vip)[0]


@pytest.fixture(scope="module")
def lb(env):
    return _lb(env, "as-one")


def test_an_active_standby_lb_has_a_master_holding_the_vip_and_a_backup(env, lb):
    pair = _pair(env, lb["id"])
    vip = lb["vip_address"]
    assert _one_holder(pair, vip) == "MASTER"
    for role, amp in pair.items():
        assert amp["status"] == "ALLOCATED" and amp["ha_ip"] == vip
        assert amp["vrrp_ip"] and amp["vrrp_ip"] != vip and amp["vrrp_id"] == 1
        assert amp["vrrp_priority"] == {"MASTER": 100, "BACKUP": 90}[role]
        assert amp["vrrp_interface"]
        assert _holds(amp["id"], amp["vrrp_ip"])
    assert pair["MASTER"]["vrrp_ip"] != pair["BACKUP"]["vrrp_ip"]
    assert _serves(lb)


def test_haproxy_dying_in_the_master_costs_under_a_second_and_no_failover(env, lb):
    pair = _pair(env, lb["id"])
    master = pair[_one_holder(pair, lb["vip_address"])]
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    killed = [pid for pid in _pids(master["id"]) if _program(pid) == b"haproxy"]
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 20, 15, "traffic after HAProxy's death")
    traffic.finish("ACTIVE_STANDBY: HAProxy SIGKILLed in the MASTER")
    assert traffic.longest < 3, traffic.longest
    assert {a["id"] for a in _pair(env, lb["id"]).values()} == \
        {a["id"] for a in pair.values()}   # the agent restarted it: no failover


def test_a_dead_master_is_taken_over_by_the_backup_then_replaced(env, lb):
    pair = _pair(env, lb["id"])
    vip = lb["vip_address"]
    holder = _one_holder(pair, vip)
    master, backup = pair[holder], pair["BACKUP" if holder == "MASTER" else "MASTER"]
    traffic = Traffic(vip)
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    _kill(master["id"])                       # agent, HAProxy and keepalived: the node is gone
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 10, 15, "traffic through the backup")
    assert _holds(backup["id"], vip)
    new = _new_pair(env, lb["id"], {master["id"]})
    # the survivor kept the VIP and is now the MASTER; the replacement is its BACKUP
    assert new["MASTER"]["id"] == backup["id"] and new["BACKUP"]["id"] != master["id"]
    assert _one_holder(new, vip) == "MASTER"
    wait_until(lambda: traffic.ok >= served + 30, 15, "traffic after the failover")
    traffic.finish("ACTIVE_STANDBY: MASTER SIGKILLed")
    assert traffic.longest < 3, traffic.longest
    assert env.leftovers({master["id"]}) == []     # the dead node and its VIP are gone
    env.wait_operating("loadbalancers", lb["id"], "ONLINE")


def test_keepalived_killed_leaves_no_second_vip_behind(env, lb):
    pair = _pair(env, lb["id"])
    vip = lb["vip_address"]
    holder = pair[_one_holder(pair, vip)]
    traffic = Traffic(vip)
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    killed = [pid for pid in _pids(holder["id"]) if _program(pid) == b"keepalived"]
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    # the peer takes the VIP; the agent removes the copy keepalived left and restarts it
    other = next(a for a in pair.values() if a["id"] != holder["id"])
    wait_until(lambda: _holds(other["id"], vip) and not _holds(holder["id"], vip), 15,
               "the VIP on the peer only")
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 10, 15, "traffic through the peer")
    traffic.finish("ACTIVE_STANDBY: keepalived SIGKILLed in the MASTER")
    assert traffic.longest < 3, traffic.longest
    wait_until(lambda: any(_program(p) == b"keepalived" for p in _pids(holder["id"])), 10,
               "keepalived started again")
    assert {a["id"] for a in _pair(env, lb["id"]).values()} == {a["id"] for a in pair.values()}


def test_manual_failover_replaces_both_one_at_a_time(env, lb):
    pair = _pair(env, lb["id"])
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    env.put(f"/v2/lbaas/loadbalancers/{lb['id']}/failover", None, expect=202)
    gone = {a["id"] for a in pair.values()}
    new = _new_pair(env, lb["id"], gone, timeout=60)
    wait_until(lambda: _serves(lb), 15, "traffic through the new pair")
    Cli(env.url)("loadbalancer", "amphora", "failover", new["BACKUP"]["id"])
    newer = _new_pair(env, lb["id"], {new["BACKUP"]["id"]}, timeout=60)
    assert newer["MASTER"]["id"] == new["MASTER"]["id"]
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 10, 15, "traffic after the failovers")
    traffic.finish("ACTIVE_STANDBY: manual failovers (API, then CLI)")
    assert traffic.failed <= 2 and traffic.longest < 2, (traffic.failed, traffic.longest)
    assert env.leftovers(gone | {new["BACKUP"]["id"]}) == []
    assert _one_holder(newer, lb["vip_address"]) == "MASTER"


def test_restarting_the_controller_changes_nothing_for_a_pair(env, lb):
    pair = _pair(env, lb["id"])
    traffic = Traffic(lb["vip_address"])
    traffic.start()
    wait_until(lambda: traffic.ok >= 5, 10, "traffic through the VIP")
    env.service.stop()
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 20, 10, "traffic without the controller")
    env.service.start()
    wait_until(lambda: env.show("loadbalancers", lb["id"])["provisioning_status"] == "ACTIVE",
               20, "the API back")
    served = traffic.ok
    wait_until(lambda: traffic.ok >= served + 100, 30, "traffic after the restart")
    traffic.finish("ACTIVE_STANDBY: controller restarted")
    assert traffic.failed == 0
    assert {a["id"] for a in _pair(env, lb["id"]).values()} == {a["id"] for a in pair.values()}


def _pids(amphora_id):
    name = _ns(amphora_id)
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and _in_netns(int(p), name)]


def _program(pid):
    """The base name of the program a process runs (b"" once it is gone)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0])
    except OSError:
        return b""
