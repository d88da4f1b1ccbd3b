"""The driver conformance suite (`lbaas conformance`) against every driver that can run here.

Each run is a real `lbaas conformance` process (which starts its own `lbaas serve`, or uses
the amphora environment's) and is judged by its exit code, its output and its report.
With $LBAAS_PROVIDERS_REPORT_DIR set, each report is also copied to DIR/<provider>.json
(scripts/gen-providers.sh builds docs/providers.md from them).
"""
import json
import os
import shutil
import subprocess

import pytest

from testbed.cloud import ovn_nb
from testbed.service import clean_env, venv_command

pytestmark = pytest.mark.functional
CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _unavailable(what, reason):
    if CI:
        pytest.fail(f"the {what} conformance run needs {reason!r} fixed in CI", pytrace=False)
    pytest.skip(f"no {what} here: {reason}")


def conformance(tmp_path, provider, *args, config_file=None, timeout=900):
    """Run `lbaas [--config-file F] conformance --provider P ARGS`; -> (exit code, output,
    report dict or None)."""
    report_dir = tmp_path / f"report-{provider}"
    pre = ["--config-file", str(config_file)] if config_file else []
    proc = subprocess.run([venv_command("lbaas"), *pre, "conformance", "--provider", provider,
                           "--report-dir", str(report_dir), *args], capture_output=True,
                          text=True,
                          timeout=timeout, env=clean_env(PYTHONUNBUFFERED="1"))
    path = report_dir / "report.json"
    report = json.loads(path.read_text()) if path.exists() else None
    keep = os.environ.get("LBAAS_PROVIDERS_REPORT_DIR")
    if keep and report is not None:  # broken or not, the matrix shows it
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, f"{provider}.json"))
    return proc.returncode, proc.stdout + proc.stderr, report


def assert_conforms(code, output, report, provider):
    assert code == 0, f"{provider} failed the conformance suite:\n{output[-8000:]}"
    assert f"provider {provider} conforms" in output, output[-3000:]
    states = {c["state"] for c in report["capabilities"]}
    assert "broken" not in states, report["capabilities"]
    assert report["summary"]["supported"] > 0, report["summary"]


def test_noop_conforms(tmp_path):
    code, output, report = conformance(tmp_path, "noop")
    assert_conforms(code, output, report, "noop")
    assert report["summary"]["supported"] == len(report["capabilities"]), \
        "noop accepts everything, so every option must be supported"


@pytest.fixture(scope="module")
def sample_driver():
    """The out-of-tree sample driver installed into this venv (tests/sample_driver_env.py)."""
    try:
        from tests import sample_driver_env
    except ImportError as exc:
        pytest.skip(f"tests/sample_driver_env.py is not there yet: {exc}")
    sample_driver_env.ensure_installed()
    return sample_driver_env


def test_sample_driver_conforms(sample_driver, tmp_path):
    code, output, report = conformance(tmp_path, "sample", "--status-timeout", "20")
    assert_conforms(code, output, report, "sample")
    checks = {c["check"]: c["outcome"] for c in report["contract"]}
    received = [k for k in checks if k.startswith("driver view")]
    assert received and checks[received[0]] == "passed", \
        f"the get-socket check of what the driver receives did not run: {checks}"
    refused = {(c["category"], c["option"]) for c in report["capabilities"]
               if c["state"] == "refused"}
    assert ("algorithm", "SOURCE_IP_PORT") in refused, refused


def test_broken_sample_driver_is_caught(sample_driver, tmp_path):
    code, output, report = conformance(tmp_path, "sample_broken", "--status-timeout", "5")
    assert code != 0, f"the suite passed a driver that never reports a status:\n{output[-3000:]}"
    assert "provider sample_broken does NOT conform" in output, output[-3000:]
    assert "expected provisioning_status ACTIVE within 5 s, still PENDING_CREATE" in output, \
        output[-3000:]
    assert "accepted silently" in output, output[-3000:]


def test_amphora_conforms(tmp_path):
    from tests.functional import amphora_env
    reason = amphora_env.unavailable()
    if reason:
        _unavailable("amphora provider", reason)
    env = amphora_env.AmphoraEnv(tmp_path / "amphora")
    try:
        env.start()
        code, output, report = conformance(tmp_path, "amphora", "--url", env.url,
                                           config_file=env.config_path)
    finally:
        env.stop()
    assert_conforms(code, output, report, "amphora")


OVN_SUBNETS = ["name=conf-vip network=conf-pub cidr=10.62.31.0/24 ovn_router=lr-conf",
               "name=conf-members network=conf-priv cidr=10.62.30.0/24 ovn_switch=ls-conf "
               "ovn_router=lr-conf"]


def ovn_config(root, dbs):
    """An lbaas configuration enabling the ovn provider on the given NB/SB servers."""
    lines = ["[DEFAULT]", f"state_path = {root}/state", "[api_settings]",
             "enabled_provider_drivers = ovn:OVN", "default_provider_driver = ovn",
             "[network]", "driver = local", "[network_local]"]
    lines += [f"subnet = {s}" for s in OVN_SUBNETS]
    lines += ["[ovn]", f"ovn_nb_connection = {dbs.nb.connection}",
              f"ovn_sb_connection = {dbs.sb.connection}", "sync_interval = 0",
              "status_debounce = 0.0"]
    path = os.path.join(root, "lbaas.conf")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def test_ovn_conforms(tmp_path):
    reason = ovn_nb.unavailable()
    if reason:
        _unavailable("OVN databases", reason)
    (tmp_path / "ovn").mkdir()
    dbs = ovn_nb.Databases(tmp_path / "ovn").start()
    try:
        dbs.nbctl("lr-add", "lr-conf", "--", "ls-add", "ls-conf")
        code, output, report = conformance(tmp_path, "ovn",
                                           config_file=ovn_config(str(tmp_path), dbs))
    finally:
        dbs.stop()
    assert_conforms(code, output, report, "ovn")
