#!/usr/bin/env bash
# Idempotent set-up of lbaas on a Debian machine: system packages, then .venv with lbaas in it.
#
#   bash scripts/setup.sh           runtime: .venv with `pip install -e .` (lbaas serve needs no more)
#   bash scripts/setup.sh --test    also test-requirements.txt and PostgreSQL's server binaries
#                                   (same as LBAAS_SETUP_TESTS=1)
#
# A second run with unchanged requirement files returns in well under a second: the pip step is
# skipped while a stamp in .venv matches the hash of requirements.txt, test-requirements.txt
# (with --test), setup.py, entry_points.cfg, the checkout's path and the venv's Python.
# Progress goes to stderr, so `lbaas serve`'s own output stays clean.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV=$ROOT/.venv
tests=${LBAAS_SETUP_TESTS:-0}
for arg in "$@"; do
    case $arg in
        --test) tests=1 ;;
        --runtime) tests=0 ;;
        -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg (try --help)" >&2; exit 2 ;;
    esac
done

say() { echo "setup: $*" >&2; }
cd "$ROOT"

# Two set-ups at once (say run.sh and test.sh) would race on .venv: take turns.
if command -v flock >/dev/null 2>&1; then
    exec 9<"${BASH_SOURCE[0]}"
    flock 9
fi

# --- Debian packages --------------------------------------------------------------------------
apt_updated=0
apt_install() {
    if [ "$(id -u)" != 0 ]; then
        say "cannot install $* without root: run 'sudo apt-get install -y $*'"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    if [ "$apt_updated" = 0 ]; then
        say "apt-get update"
        apt-get -o DPkg::Lock::Timeout=900 -q update >&2
        apt_updated=1
    fi
    say "apt-get install $*"
    apt-get -o DPkg::Lock::Timeout=900 -q install -y --no-install-recommends "$@" >&2
}

pg_present() {
    compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null && id postgres >/dev/null 2>&1 &&
        command -v psql >/dev/null 2>&1
}

# The functional tests start a throwaway PostgreSQL cluster (tests/pg.py); the embedded
# `lbaas serve` runs on SQLite and needs nothing from apt.
if [ "$tests" = 1 ] && ! pg_present; then
    apt_install postgresql || say "going on without PostgreSQL: its tests skip (and fail in CI)"
fi

# --- the virtual environment ------------------------------------------------------------------
PYTHON=${PYTHON:-python3}
if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    say "creating $VENV with $("$PYTHON" --version 2>&1)"
    if ! "$PYTHON" -m venv "$VENV" >&2; then
        # Debian's python3 ships venv/ensurepip in a separate package.
        rm -rf "$VENV"
        apt_install python3-venv
        PYTHON=/usr/bin/python3
        "$PYTHON" -m venv "$VENV" >&2
    fi
fi

stamp_key() {  # $1 = 0 (runtime) or 1 (with tests)
    {
        echo "root=$ROOT tests=$1"
        "$VENV/bin/python" -c 'import sys; print(sys.version)'
        cat requirements.txt setup.py entry_points.cfg
        if [ "$1" = 1 ]; then cat test-requirements.txt; fi
    } | sha256sum | cut -d' ' -f1
}
stamp_ok() {  # $1 = 0 or 1: is that set of packages installed?
    [ "$(cat "$VENV/.lbaas-setup-$1" 2>/dev/null)" = "$(stamp_key "$1")" ]
}

if stamp_ok 1 || { [ "$tests" = 0 ] && stamp_ok 0; }; then
    say "$VENV is up to date"
    exit 0
fi

args=(-e .)
if [ "$tests" = 1 ]; then args+=(-r test-requirements.txt); fi
say "pip install ${args[*]} (into $VENV)"
start=$SECONDS
"$VENV/bin/python" -m pip install --disable-pip-version-check --no-input -q "${args[@]}" >&2
"$VENV/bin/python" -c 'import lbaas' >&2
rm -f "$VENV/.lbaas-setup-0" "$VENV/.lbaas-setup-1"
stamp_key "$tests" >"$VENV/.lbaas-setup-$tests"
say "installed in $((SECONDS - start)) s"
