"""The layer rules of docs/architecture.md hold: import-linter's contracts (.importlinter)."""
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_every_layer_contract_is_kept():
    """A broken contract fails with the import that breaks it."""
    lint = shutil.which("lint-imports") or str(pathlib.Path(sys.executable).with_name(
        "lint-imports"))
    result = subprocess.run([lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout, result.stdout[-3000:]
