"""`lbaas-driver-agent` as a real process: sockets up, the sample provider agent supervised,
a clean stop on SIGTERM; an agent that cannot load is a clear start-up error."""
import os
import signal
import subprocess
import sys
import tempfile

from octavia_lib.api.drivers import driver_lib

from lbaas.db import migrate
from tests import sample_driver_env
from testbed.service import clean_env, wait_for


def _config(folder, agents):
    url = "sqlite:///" + os.path.join(folder, "lbaas.sqlite")
    migrate.upgrade(url)
    path = os.path.join(folder, "lbaas.conf")
    with open(path, "w") as f:
        f.write(f"[database]\nconnection = {url}\n\n[driver_agent]\n"
                f"status_socket_path = {folder}/s/status.sock\n"
                f"stats_socket_path = {folder}/s/stats.sock\n"
                f"get_socket_path = {folder}/s/get.sock\n"
                f"enabled_provider_agents = {agents}\nprovider_agent_shutdown_timeout = 5\n")
    return path


def _start(config, env):
    return subprocess.Popen([sys.executable, "-m", "lbaas.cmd.driver_agent", "--config-file",
                             config], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serves_supervises_and_stops_cleanly():
    sample_driver_env.ensure_installed()
    folder = tempfile.mkdtemp(prefix="dac-")
    pid_file = os.path.join(folder, "agent.pid")
    proc = _start(_config(folder, sample_driver_env.AGENT),
                  clean_env(LBAAS_SAMPLE_AGENT_PID_FILE=pid_file))
    try:
        socks = {n: f"{folder}/s/{n}.sock" for n in ("status", "stats", "get")}
        wait_for(lambda: all(os.path.exists(p) for p in socks.values()), 30, "the sockets")
        lib = driver_lib.DriverLibrary(status_socket=socks["status"],
                                       stats_socket=socks["stats"], get_socket=socks["get"])
        assert lib.get_loadbalancer("nope") is None
        pid = wait_for(lambda: os.path.exists(pid_file) and int(open(pid_file).read()), 60,
                       "the provider agent")
        os.kill(pid, signal.SIGKILL)
        new = wait_for(lambda: (int(open(pid_file).read()) != pid) and
                       int(open(pid_file).read()), 60, "the provider agent's restart")
        assert _alive(new)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        wait_for(lambda: not _alive(new), 10, "the provider agent to exit")
        assert not any(os.path.exists(p) for p in socks.values())
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def test_an_agent_that_cannot_load_is_a_clear_error():
    folder = tempfile.mkdtemp(prefix="dac-")
    proc = _start(_config(folder, "no_such_agent"), clean_env())
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert "no_such_agent" in out and "octavia.driver_agent.provider_agents" in out
    assert not os.path.exists(f"{folder}/s/status.sock")
