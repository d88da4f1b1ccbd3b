#!/usr/bin/env bash
# Set up (with test packages and PostgreSQL), then run the whole test suite.
#   bash scripts/test.sh [PYTEST ARGS...]     e.g. -m 'not functional', -x, tests/unit
# Runs on LBAAS_TEST_WORKERS pytest-xdist workers (default: 2, or 1 on a one-core machine;
# 1 = no xdist). Each worker has its own PostgreSQL cluster and `lbaas serve`; a test module
# stays on one worker (--dist loadfile) because its tests build on one another, and modules
# sharing an expensive service share a worker (tests/conftest.py, SHARED_WORKER).
# Exits non-zero when anything failed or when no test ran at all (pytest's exit 5).
set -uo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
start=$SECONDS
bash scripts/setup.sh --test || { echo "test.sh: FAILED: set-up failed" >&2; exit 1; }

workers=${LBAAS_TEST_WORKERS:-$(( $(nproc) >= 2 ? 2 : 1 ))}
args=(-q -p no:cacheprovider)
if [ "$workers" -gt 1 ]; then args+=(-n "$workers" --dist loadfile); fi
paths=(tests)
for arg in "$@"; do
    case $arg in tests|tests/*) paths=() ;; esac   # the caller named what to run
done

.venv/bin/python -m pytest "${args[@]}" "$@" "${paths[@]}"
rc=$?
elapsed=$((SECONDS - start))
case $rc in
    0) echo "test.sh: OK: all tests passed ($workers worker(s), ${elapsed} s including set-up)" ;;
    5) echo "test.sh: FAILED: no test ran (pytest exit 5) after ${elapsed} s"; rc=1 ;;
    *) echo "test.sh: FAILED: pytest exit $rc ($workers worker(s), ${elapsed} s including set-up)" ;;
esac
exit $rc
