"""controller-certs/ holds one client certificate per running controller process: a process
removes its own at exit, and the next one to start removes those of processes that died."""
import os
import signal
import subprocess
import sys

import pytest

from lbaas.drivers.amphora import controller_cert
from lbaas.drivers.amphora.compute.noop import NoopCompute
from lbaas.drivers.amphora.fleet import Fleet

# A controller process: writes its certificate, says where, then waits or exits.
CHILD = """
import sys, time
from lbaas.drivers.amphora import controller_cert
print(controller_cert.write(sys.argv[1], b"CERT\\n", b"KEY\\n"), flush=True)
if sys.argv[2] == "wait":
    time.sleep(60)
"""


def _start(directory, then):
    """A child process that wrote its certificate; (process, path of its file)."""
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(directory), then],
                            stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().strip()


def _dead_pid():
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_a_process_removes_its_own_certificate_when_it_exits(tmp_path):
    proc, path = _start(tmp_path, "exit")
    assert proc.wait(30) == 0
    assert path.startswith(str(tmp_path)) and not os.path.exists(path)


def test_process_starts_leave_one_certificate_per_running_process(tmp_path):
    """Before: one file from every start, killed or not, never removed."""
    for _ in range(5):
        proc, path = _start(tmp_path, "wait")
        os.kill(proc.pid, signal.SIGKILL)   # no atexit: the file stays behind
        proc.wait(30)
        assert os.path.exists(path)
    running, path = _start(tmp_path, "wait")
    try:
        assert os.listdir(tmp_path) == [os.path.basename(path)]
    finally:
        running.kill()
        running.wait(30)


def test_prune_keeps_live_processes_and_removes_the_others(tmp_path):
    live = subprocess.Popen(["sleep", "60"])
    try:
        started = controller_cert.start_time(live.pid)
        dead = _dead_pid()
        keep = [f"client-{live.pid}-{started}.pem", f"client-{live.pid}.pem", "notes.txt",
                "client-x.pem"]
        gone = [f"client-{dead}-{started}.pem",
                f"client-{live.pid}-{started + 1}.pem",   # its pid, another process
                f"client-{dead}.pem"]                     # a name of the previous version
        for name in keep + gone:
            (tmp_path / name).write_bytes(b"x")
        assert controller_cert.prune(tmp_path) == sorted(gone)
        assert sorted(os.listdir(tmp_path)) == sorted(keep)
    finally:
        live.kill()
        live.wait(30)


def test_prune_of_a_missing_directory_removes_nothing(tmp_path):
    assert controller_cert.prune(tmp_path / "none") == []


def test_a_zombie_counts_as_gone(tmp_path):
    proc = subprocess.Popen(["true"])
    try:
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)   # exited, not reaped
        assert controller_cert.start_time(proc.pid) is None
    finally:
        proc.wait(30)


@pytest.fixture
def state_path(app, tmp_path):
    conf = app.extensions["lbaas_core"].conf
    conf.set_override("ca_dir", str(tmp_path / "ca"), group="certificates")
    conf.set_override("state_path", str(tmp_path / "state"))
    yield tmp_path / "state"
    conf.clear_override("state_path")
    conf.clear_override("ca_dir", group="certificates")


def test_the_fleet_writes_its_certificate_there_and_prunes(app, state_path):
    directory = state_path / controller_cert.DIRECTORY
    directory.mkdir(parents=True)
    stale = directory / f"client-{_dead_pid()}.pem"
    stale.write_bytes(b"x")
    fleet = Fleet(app.extensions["lbaas_core"].context, NoopCompute(), controller="127.0.0.1:5555")
    assert fleet.agents._session.cert == str(directory / controller_cert.own_name())
    assert os.listdir(directory) == [controller_cert.own_name()]
    assert os.stat(fleet.agents._session.cert).st_mode & 0o777 == 0o600
