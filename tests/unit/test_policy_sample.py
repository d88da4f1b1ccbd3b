"""etc/policy.yaml.sample is what oslopolicy-sample-generator makes from lbaas.policies today."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "etc" / "policy.yaml.sample"


def test_policy_sample_is_up_to_date(tmp_path):
    fresh = tmp_path / "policy.yaml.sample"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gen-config.sh"), "--no-setup",
                           str(tmp_path / "lbaas.conf.sample"), str(fresh)],
                          env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert SAMPLE.read_text() == fresh.read_text(), \
        "etc/policy.yaml.sample is out of date: run `bash scripts/gen-config.sh` and commit it"
