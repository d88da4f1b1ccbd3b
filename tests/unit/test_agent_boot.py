"""The amphora image's boot step, on a config drive laid out in a directory."""
import json
import os
import stat
import subprocess
import sys

import pytest

from lbaas.agent import boot, bootdata

FILES = {"ca.pem": b"CA", "server.pem": b"CERT+KEY", "heartbeat.key": b"k"}


def drive(tmp_path, user_data=None, network=None):
    latest = tmp_path / "drive" / "openstack" / "latest"
    latest.mkdir(parents=True)
    if user_data is not None:
        (latest / "user_data").write_bytes(user_data)
    if network is not None:
        (latest / "network_data.json").write_text(network)
    return str(tmp_path / "drive")


def good():
    return bootdata.encode("amp-1", FILES, 9443, ["10.0.0.1:5555"], 2.5)


def test_read_drive_decodes_user_data_and_network_data(tmp_path):
    data, network = boot.read_drive(drive(tmp_path, good(), json.dumps({"links": []})))
    assert (data.amphora_id, data.files, data.port) == ("amp-1", FILES, 9443)
    assert network == {"links": []}


def test_missing_network_data_is_none(tmp_path):
    assert boot.read_drive(drive(tmp_path, good()))[1] is None


@pytest.mark.parametrize("user_data, words", [
    (None, "has no openstack/latest/user_data"),
    (b"#cloud-config\n", "bad boot data"),
    (b"x" * (bootdata.MAX_BYTES + 1), "bad boot data"),
    (bootdata.encode("amp-1", {"ca.pem": b"CA"}, 9443, [], 1.0), "carries no server.pem"),
])
def test_bad_or_missing_user_data_is_one_clear_reason(tmp_path, user_data, words):
    with pytest.raises(boot.BootError, match=words):
        boot.read_drive(drive(tmp_path, user_data))


def test_unreadable_network_data_is_refused(tmp_path):
    with pytest.raises(boot.BootError, match="not readable JSON"):
        boot.read_drive(drive(tmp_path, good(), "{"))


def test_files_are_written_0600_in_a_0700_base(tmp_path):
    base = tmp_path / "base"
    boot.write_files(str(base), {**FILES, "sub/x.pem": b"x"})
    assert (base / "server.pem").read_bytes() == b"CERT+KEY"
    assert stat.S_IMODE(os.stat(base / "server.pem").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(base / "sub").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(base).st_mode) == 0o700


def test_agent_command_line_carries_the_boot_data():
    argv = boot.agent_argv(bootdata.decode(good()), "/b", "10.0.0.5")
    assert argv[1:3] == ["-m", "lbaas.agent.server"]
    line = " ".join(argv)
    for part in ("--base-dir /b/lb", "--bind 10.0.0.5", "--port 9443", "--ca /b/ca.pem",
                 "--cert /b/server.pem", "--amphora-id amp-1", "--heartbeat-interval 2.5",
                 "--heartbeat-key-file /b/heartbeat.key", "--controller 10.0.0.1:5555",
                 f"--plug-mac-wait {boot.PLUG_MAC_WAIT}"):
        assert part in line


def test_no_heartbeat_key_means_no_heartbeat_options():
    data = bootdata.decode(bootdata.encode("amp-1", {"ca.pem": b"", "server.pem": b""},
                                           9443, ["10.0.0.1:5555"], 1.0))
    assert "--controller" not in boot.agent_argv(data, "/b", "10.0.0.5")


def test_missing_network_data_is_a_boot_error():
    with pytest.raises(boot.BootError, match="no management address"):
        boot.configure_network(None)


def test_a_failed_boot_says_one_line_and_starts_no_agent(tmp_path):
    # not as PID 1 (no --init): the command returns 1 instead of reaping forever
    proc = subprocess.run([sys.executable, "-m", "lbaas.agent.boot", "--label",
                           "no-such-label-here", "--drive-wait", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert proc.stdout.strip().splitlines() == [(
        "lbaas-amphora: boot failed: no filesystem labelled no-such-label-here (the config "
        "drive) appeared within 0 s; no agent started")]
    assert "Traceback" not in proc.stderr


def test_boot_imports_only_the_agent_package():
    code = ("import sys, lbaas.agent.boot; "
            "print(' '.join(m for m in sys.modules if m.startswith('lbaas')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert [m for m in out.stdout.split() if m != "lbaas" and not m.startswith("lbaas.agent")] \
        == []
