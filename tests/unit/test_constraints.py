"""constraints.txt pins every requirement at one exact version that its bounds allow, and
scripts/setup.sh installs with it (a fresh machine gets what CI tested)."""
import pathlib
import re

from packaging.requirements import Requirement
from packaging.version import Version

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _normal(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def _lines(path):
    return [line.split("#", 1)[0].strip() for line in (ROOT / path).read_text().splitlines()
            if line.split("#", 1)[0].strip()]


def _pins():
    pins = {}
    for line in _lines("constraints.txt"):
        req = Requirement(line)
        specs = list(req.specifier)
        assert len(specs) == 1 and specs[0].operator == "==", f"not an exact pin: {line}"
        assert _normal(req.name) not in pins, f"pinned twice: {line}"
        pins[_normal(req.name)] = Version(specs[0].version)
    return pins


def _requirements():
    return [Requirement(line) for path in ("requirements.txt", "test-requirements.txt")
            for line in _lines(path)]


def test_every_requirement_is_pinned_within_its_bounds():
    pins = _pins()
    missing = [str(r) for r in _requirements() if _normal(r.name) not in pins]
    assert not missing, f"constraints.txt lacks {missing}: bash scripts/refresh-constraints.sh"
    outside = [f"{r} (pinned {pins[_normal(r.name)]})" for r in _requirements()
               if not r.specifier.contains(pins[_normal(r.name)], prereleases=True)]
    assert not outside, f"pins outside their requirement's bounds: {outside}"


def test_lbaas_itself_is_not_pinned():
    assert not {"lbaas", "lbaas-sample-driver"} & set(_pins())


def test_setup_installs_with_the_constraints_and_stamps_them():
    setup = (ROOT / "scripts/setup.sh").read_text()
    assert re.search(r"^\s*args=\(-c constraints\.txt -e \.\)", setup, re.M), \
        "setup.sh must pass -c constraints.txt to pip install -e ."
    stamp = setup[setup.index("stamp_key() {"):setup.index("stamp_ok() {")]
    assert "constraints.txt" in stamp, "a changed constraints.txt must re-install .venv"
