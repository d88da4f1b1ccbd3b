"""Telling a live process from a gone one, and from a later one that reuses its pid."""
import subprocess

from lbaas.drivers.amphora.compute import processes


def test_a_running_process_is_alive_and_is_itself_only_with_its_start_time():
    proc = subprocess.Popen(["sleep", "30"])
    try:
        started = processes.start_time(proc.pid)
        assert isinstance(started, int)
        assert processes.alive(proc.pid)
        assert processes.alive(proc.pid, started)
        assert not processes.alive(proc.pid, started + 1)   # another process with this pid
    finally:
        proc.kill()
        proc.wait()
    assert processes.start_time(proc.pid) is None
    assert not processes.alive(proc.pid, started)
