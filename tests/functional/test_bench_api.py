"""`python -m bench.api` on MariaDB, the cheapest real run: a fresh mariadbd, the migrations,
lbaas-api under gunicorn on PyMySQL, one sequential scenario, the report, nothing left behind."""
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

import pytest

from testbed import mariadb

pytestmark = pytest.mark.functional

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture
def short_tmp():
    """A temp dir with a short path: mariadbd's socket path must fit in 107 bytes, which
    pytest's tmp_path plus testbed's own directory may not."""
    path = pathlib.Path(tempfile.mkdtemp(prefix="lbb-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_bench_api_measures_mariadb_and_reports_its_start_up(short_tmp):
    if mariadb.binaries() is None:
        if os.environ.get("CI"):  # CI installs mariadb-server (scripts/setup.sh --test)
            pytest.fail("MariaDB server binaries not installed in CI")
        pytest.skip("MariaDB server binaries not installed (apt-get install mariadb-server)")
    output = short_tmp / "api.json"
    env = dict(os.environ, TMPDIR=str(short_tmp))   # every temp dir of the run lands here
    run = subprocess.run(
        [sys.executable, "-m", "bench.api", "--databases", "mariadb", "--only",
         "create_to_active", "--samples", "3", "--quiet-wait", "0", "--budget", "60",
         "--output", str(output)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(run.stdout)
    assert result == json.loads(output.read_text())
    assert result["meta"]["databases"] == ["mariadb"]
    part = result["databases"]["mariadb"]
    assert "MariaDB" in part["server"]["database"] and "MariaDB" in part["server"]["version"]
    assert all(part["startup"][k] > 0 for k in ("database_server_s", "migrations_s", "api_s"))
    create = part["scenarios"]["create_to_active"]
    assert "error" not in create, create
    assert create["p50"]["value"] > 0 and create["detail"]["n"] == 3
    assert create["cpu"]["stack_cores"] > 0
    assert result["comparison"]["columns"] == ["mariadb"]
    assert "| create_to_active, p50 | ms |" in run.stderr
    assert sorted(p.name for p in short_tmp.iterdir()) == ["api.json"]  # servers' dirs removed
