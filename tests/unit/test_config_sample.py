"""etc/lbaas.conf.sample is what oslo-config-generator makes from lbaas/conf.py today."""
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "etc" / "lbaas.conf.sample"


def test_config_sample_is_up_to_date(tmp_path):
    fresh = tmp_path / "lbaas.conf.sample"
    proc = subprocess.run(["bash", str(ROOT / "scripts" / "gen-config.sh"), "--no-setup",
                           str(fresh)], env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert SAMPLE.read_text() == fresh.read_text(), \
        "etc/lbaas.conf.sample is out of date: run `bash scripts/gen-config.sh` and commit it"
