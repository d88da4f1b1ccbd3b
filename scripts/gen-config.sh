#!/usr/bin/env bash
# Regenerate etc/lbaas.conf.sample from the options declared in lbaas/conf.py
# (oslo-config-generator, namespace "lbaas" = entry point lbaas.conf:list_opts), with the
# [keystone_authtoken] and [oslo_policy] options of the libraries lbaas configures.
#
#   bash scripts/gen-config.sh              set up .venv, then write etc/lbaas.conf.sample
#   bash scripts/gen-config.sh --no-setup F write to F with $PYTHON (default .venv/bin/python);
#                                           tests/unit/test_config_sample.py runs it this way
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup=1
if [ "${1:-}" = "--no-setup" ]; then setup=0; shift; fi
out=${1:-$ROOT/etc/lbaas.conf.sample}
if [ "$setup" = 1 ]; then bash "$ROOT/scripts/setup.sh" >&2; fi
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
# state_path's default is computed from $XDG_STATE_HOME or $HOME at import time; pin it so
# the sample reads "~/.local/state/lbaas" on every machine instead of the generating user's home.
XDG_STATE_HOME='~/.local/state' "$PYTHON" -m oslo_config.generator --namespace lbaas \
    --namespace keystonemiddleware.auth_token --namespace oslo.policy \
    --output-file "$out"
echo "gen-config: wrote $out" >&2
