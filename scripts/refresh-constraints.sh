#!/usr/bin/env bash
# Rewrite constraints.txt: the exact version of every package a fresh install resolves today.
#
#   bash scripts/refresh-constraints.sh
#
# Builds a throw-away venv, installs requirements.txt and test-requirements.txt into it WITHOUT
# the current constraints (so each package takes the newest version its bounds allow), and
# writes its `pip freeze` (lbaas itself and editable installs left out) to constraints.txt.
# Then run `bash scripts/test.sh` (setup.sh re-installs .venv: constraints.txt is part of its
# stamp) and commit constraints.txt only if the suite passes: the file records what CI tested.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
PYTHON=${PYTHON:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$PYTHON" -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --disable-pip-version-check --no-input -q \
    --retries 5 --timeout 60 -r requirements.txt -r test-requirements.txt >&2
{
    echo "# The exact versions CI tested, for every package of requirements.txt and"
    echo "# test-requirements.txt and their dependencies (pip install -c constraints.txt)."
    echo "# Python $("$work/venv/bin/python" -c 'import platform; print(platform.python_version())')." \
         "Refresh with bash scripts/refresh-constraints.sh; do not edit by hand."
    "$work/venv/bin/python" -m pip freeze --disable-pip-version-check --exclude-editable \
        | grep -v -i -E '^(lbaas|lbaas-sample-driver)==' | LC_ALL=C sort -f
} >"$work/constraints.txt"
mv "$work/constraints.txt" constraints.txt
echo "refresh-constraints: $(grep -c '==' constraints.txt) packages pinned in constraints.txt" >&2
