#!/usr/bin/env bash
# Regenerate etc/lbaas.conf.sample from the options declared in lbaas/conf.py
# (oslo-config-generator, namespace "lbaas" = entry point lbaas.conf:list_opts), with the
# [keystone_authtoken] and [oslo_policy] options of the libraries lbaas configures.
#
# Also regenerate etc/policy.yaml.sample, the policy rules with their defaults
# (oslopolicy-sample-generator, namespace "lbaas" = entry point lbaas.policies:list_rules).
#
#   bash scripts/gen-config.sh              set up .venv, then write etc/lbaas.conf.sample
#                                           and etc/policy.yaml.sample
#   bash scripts/gen-config.sh --no-setup F [P]
#                                           write the config sample to F (and the policy
#                                           sample to P) with $PYTHON (default .venv/bin/python);
#                                           tests/unit/test_config_sample.py and
#                                           tests/unit/test_policy_sample.py run it this way
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
setup=1
if [ "${1:-}" = "--no-setup" ]; then setup=0; shift; fi
if [ $# -eq 0 ]; then policy_out=$ROOT/etc/policy.yaml.sample; else policy_out=${2:-}; fi
out=${1:-$ROOT/etc/lbaas.conf.sample}
if [ "$setup" = 1 ]; then bash "$ROOT/scripts/setup.sh" >&2; fi
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
# state_path's default is computed from $XDG_STATE_HOME or $HOME at import time; pin it so
# the sample reads "~/.local/state/lbaas" on every machine instead of the generating user's home.
XDG_STATE_HOME='~/.local/state' "$PYTHON" -m oslo_config.generator --namespace lbaas \
    --namespace keystonemiddleware.auth_token --namespace oslo.policy \
    --namespace oslo.middleware.healthcheck \
    --output-file "$out"
echo "gen-config: wrote $out" >&2
if [ -n "$policy_out" ]; then
    "$PYTHON" -c 'import sys; from oslo_policy import generator; generator.generate_sample(sys.argv[1:])' \
        --namespace lbaas --output-file "$policy_out"
    echo "gen-config: wrote $policy_out" >&2
fi
