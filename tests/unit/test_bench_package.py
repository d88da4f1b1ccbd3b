"""bench/ is a package of importable modules that share their harness and reach no private
names, no tests/ and no sys.path; testbed/, which tests and bench share, imports neither."""
import ast
import importlib
import pathlib
import pkgutil
import signal

import pytest

import bench
from bench import harness

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIRST_PARTY = ("bench", "testbed", "lbaas", "tests")


def _modules(package):
    return sorted(m.name for m in pkgutil.iter_modules([str(ROOT / package)]))


def _top(name):
    return name.split(".")[0]


def _problems(path, forbidden_tops):
    """What a module does that the layering forbids: sys.path edits, imports of private names
    or of forbidden packages, private attributes of first-party modules it imported."""
    tree = ast.parse(path.read_text(), str(path))
    found, first_party_names = [], set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if _top(alias.name) in forbidden_tops:
                    found.append(f"line {node.lineno}: import {alias.name}")
                if any(part.startswith("_") for part in alias.name.split(".")):
                    found.append(f"line {node.lineno}: import {alias.name} (private)")
                if _top(alias.name) in FIRST_PARTY:
                    first_party_names.add(alias.asname or _top(alias.name))
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level or _top(module) in forbidden_tops:
                found.append(f"line {node.lineno}: from {'.' * node.level}{module} import ...")
            for alias in node.names:
                if alias.name.startswith("_"):
                    found.append(f"line {node.lineno}: from {module} import {alias.name} "
                                 "(private)")
                if _top(module) in FIRST_PARTY:
                    first_party_names.add(alias.asname or alias.name)
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute)
              and node.attr in ("insert", "append", "extend")
              and node.value.attr == "path" and isinstance(node.value.value, ast.Name)
              and node.value.value.id == "sys"):
            found.append(f"line {node.lineno}: sys.path.{node.attr}")
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in first_party_names and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            found.append(f"line {node.lineno}: {node.value.id}.{node.attr} (private)")
    return found


@pytest.mark.parametrize("name", _modules("bench"))
def test_every_bench_module_imports(name):
    module = importlib.import_module(f"bench.{name}")
    assert module.__doc__, f"bench.{name} has no docstring"


@pytest.mark.parametrize("name", _modules("bench"))
def test_no_bench_module_edits_sys_path_or_reaches_private_names_or_tests(name):
    assert _problems(ROOT / "bench" / f"{name}.py", forbidden_tops={"tests"}) == []


def _testbed_modules():
    """Every module of testbed and of its subpackages, as a dotted name under testbed."""
    return sorted(m.name.removeprefix("testbed.")
                  for m in pkgutil.walk_packages([str(ROOT / "testbed")], "testbed.")
                  if not m.ispkg)


@pytest.mark.parametrize("name", _testbed_modules())
def test_testbed_imports_neither_tests_nor_bench(name):
    importlib.import_module(f"testbed.{name}")
    path = ROOT / "testbed" / (name.replace(".", "/") + ".py")
    assert _problems(path, forbidden_tops={"tests", "bench"}) == []


def test_the_check_sees_what_the_old_scripts_did(tmp_path):
    old = tmp_path / "old.py"
    old.write_text("import sys\nsys.path.insert(0, 'x')\nfrom api import _r, log\n"
                   "from tests.functional import backends as tb\ntb._setns('ns')\n")
    assert _problems(old, forbidden_tops={"tests"}) == [
        "line 3: from api import _r (private)",
        "line 4: from tests.functional import ...",
        "line 2: sys.path.insert",
        "line 5: tb._setns (private)",
    ]


def test_the_package_documents_every_module():
    assert set(_modules("bench")) - {"api", "amphora", "failover", "tls", "ovn"} <= {
        name for name in _modules("bench") if f"`{name}`" in bench.__doc__}


def test_guarded_cleans_up_on_every_exit_and_says_how_the_run_ended():
    calls = []
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with harness.guarded(lambda: calls.append(signal.getsignal(signal.SIGINT))) as failed:
        raise RuntimeError("no bridge")
    with harness.guarded(lambda: calls.append("stopped")) as interrupted:
        raise KeyboardInterrupt("signal 15")
    with harness.guarded(lambda: calls.append("stopped")) as fine:
        pass
    assert (failed.fatal, failed.interrupted) == ("RuntimeError: no bridge", None)
    assert (interrupted.fatal, interrupted.interrupted) == (None, "signal 15")
    assert (fine.fatal, fine.interrupted) == (None, None)
    assert calls == [signal.SIG_IGN, "stopped", "stopped"]   # clean-up is deaf to Ctrl-C
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers
