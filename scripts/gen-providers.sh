#!/usr/bin/env bash
# Regenerate docs/providers.md, the provider feature matrix, by running the driver
# conformance suite (tests/functional/test_conformance.py) against every built-in provider
# this host can run: noop always, amphora with root + haproxy, ovn with ovsdb-server.
#
#   bash scripts/gen-providers.sh            run the suites, write docs/providers.md
#   bash scripts/gen-providers.sh --no-run D  only merge the reports in D/*.json
#
# A provider whose run cannot happen here keeps the column docs/providers.md already has.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
if [ "${1:-}" = "--no-run" ]; then
    reports=$2
else
    reports=$(mktemp -d)
    trap 'rm -rf "$reports"' EXIT
    (cd "$ROOT" && LBAAS_PROVIDERS_REPORT_DIR=$reports "$PYTHON" -m pytest -q \
        -p no:cacheprovider tests/functional/test_conformance.py \
        -k "noop or amphora or ovn") || echo "gen-providers: a provider does not conform;" \
        "its BROKEN options are in the matrix" >&2
fi
"$PYTHON" -m lbaas.conformance.docs "$ROOT/docs/providers.md" "$reports"
