"""docs/providers.md's noop column is what the conformance suite finds today."""
import json
import pathlib
import subprocess
import sys

from lbaas.conformance import docs, report

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "providers.md"


def test_providers_doc_is_up_to_date_for_noop(tmp_path):
    lbaas = pathlib.Path(sys.executable).parent / "lbaas"
    proc = subprocess.run([str(lbaas), "conformance", "--provider", "noop", "--report-dir",
                           str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    fresh = json.loads((tmp_path / "report.json").read_text())
    committed = DOC.read_text()
    assert report.document(docs.merge({"noop": fresh}, committed)) == committed, \
        "docs/providers.md is out of date: run `bash scripts/gen-providers.sh` and commit it"
