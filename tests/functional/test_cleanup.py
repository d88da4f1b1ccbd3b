"""`lbaas serve` stopped with Ctrl-C leaves its amphorae and bridges running, says so in one
line, and `lbaas cleanup` removes them: no namespace, veth, bridge or agent process is left.

The server runs on the embedded amphora defaults' shape (amphora provider, local compute
and network, one spare amphora) through a configuration file, because the embedded
defaults' bridge names (lbaas-public, lbaas-mgmt) are fixed and would collide with any other
`lbaas serve` on this host; AmphoraEnv gives each run bridges and subnets of its own.
The tests build on one another, in order.
"""
import os
import secrets
import shlex
import signal
import subprocess

import pytest
from pyroute2 import IPRoute, netns

from testbed.host import processes_mentioning
from testbed.service import clean_env, venv_command
from tests.functional.amphora_env import AmphoraEnv, host_links, wait_until

pytestmark = pytest.mark.functional


def _bridges():
    return host_links()


@pytest.fixture(scope="module")
def env(amphora_host, tmp_path_factory):
    env = AmphoraEnv(tmp_path_factory.mktemp("cleanup"), label="cleanup", extra_config={
        "house_keeping": {"spare_amphora_pool_size": 1}})
    # a user's things that look like lbaas's: a bridge the configuration names (made
    # before lbaas could make it) and a namespace named like an amphora's
    env.user_ns = f"amp-{secrets.token_hex(5)}"
    netns.create(env.user_ns)
    with IPRoute() as ipr:
        ipr.link("add", ifname=env.member_bridge, kind="bridge")
    try:
        env.start()
        yield env
    finally:
        try:
            env.stop()   # asserts that no amphora namespace, veth, process or file is left
        finally:
            if env.user_ns in netns.listnetns():
                netns.remove(env.user_ns)


def _cleanup(env, *args):
    return subprocess.run([venv_command("lbaas"), "--config-file", env.config_path, "cleanup",
                           *args], capture_output=True, text=True, timeout=120,
                          env=clean_env())


def _amphora_namespaces(env):
    ids = {e[:-5] for e in os.listdir(env.amphora_dir) if e.endswith(".json")}
    return {n for n in netns.listnetns() if n.startswith("amp-")
            and any(n == f"amp-{i.replace('-', '')[:10]}" for i in ids)}


def test_a_load_balancer_and_a_spare_run_in_namespaces(env):
    lb = env.create_graph("cleanup", [{"protocol": "TCP", "protocol_port": 80,
                                       "name": "l1"}])
    env.lb = lb
    wait_until(lambda: len(_amphora_namespaces(env)) == 2, 60,
               "the load balancer's amphora and a new spare")
    env.wait_vip(lb["vip_address"], 80)


def test_cleanup_refuses_while_serve_runs_on_the_state_path(env):
    before = _amphora_namespaces(env)
    result = _cleanup(env)
    assert result.returncode == 1, result
    assert f"an `lbaas serve` (pid {env.service.proc.pid}) is running on " \
           f"{env.state_path}" in result.stderr, result.stderr
    assert _amphora_namespaces(env) == before


def test_ctrl_c_names_what_is_left_and_the_command_removing_it(env):
    namespaces = _amphora_namespaces(env)
    env.service.proc.send_signal(signal.SIGINT)
    assert env.service.proc.wait(60) == 0
    lines = [line for line in env.service.log_tail().splitlines()
             if line.startswith("lbaas: stopped; left running by design:")]
    assert len(lines) == 1, env.service.log_tail()
    line = lines[0]
    print(line)
    assert "2 amphora namespaces" in line, line
    assert f"2 bridges ({env.mgmt_bridge}, {env.vip_bridge})" in line, line
    command = shlex.split(line.split("remove them with: ", 1)[1])
    assert command == ["lbaas", "--config-file", env.config_path, "cleanup"], command
    # left running by design: the load balancer still answers without its controller
    assert _amphora_namespaces(env) == namespaces
    env.wait_vip(env.lb["vip_address"], 80)


def test_dry_run_lists_everything_and_removes_nothing(env):
    namespaces, links = _amphora_namespaces(env), _bridges()
    result = _cleanup(env, "--dry-run")
    assert result.returncode == 0, result
    print(result.stdout)
    for ns in namespaces:
        assert f"would remove namespace {ns}" in result.stdout, result.stdout
    assert "lbaas.agent.server" in result.stdout and "haproxy" in result.stdout, result.stdout
    assert f"would remove bridge {env.mgmt_bridge}" in result.stdout
    assert f"keep bridge {env.member_bridge}" in result.stdout, result.stdout
    assert env.user_ns not in result.stdout
    assert _amphora_namespaces(env) == namespaces and _bridges() == links


def test_cleanup_leaves_no_namespace_bridge_veth_or_agent_process(env):
    stems = [n[4:] for n in _amphora_namespaces(env)]
    result = _cleanup(env)
    assert result.returncode == 0, result
    assert "removed 2 amphora namespaces" in result.stdout, result.stdout
    assert not _amphora_namespaces(env)
    assert not [n for n in netns.listnetns() if n[4:] in stems]
    links = _bridges()
    assert env.mgmt_bridge not in links and env.vip_bridge not in links
    assert not [n for n in links if n and any(n.startswith(f"a{s}") for s in stems)]
    assert not processes_mentioning(env.amphora_dir)
    assert env.leftovers() == []
    # a user's look-alikes stay
    assert env.member_bridge in links
    assert env.user_ns in netns.listnetns()
    # the database stays (no --purge-state): the load balancer is still defined
    assert os.path.exists(os.path.join(env.state_path, "lbaas.sqlite"))
    again = _cleanup(env)
    assert again.returncode == 0 and "removed 0 amphora namespaces" in again.stdout, again
