#!/usr/bin/env bash
# Set up (runtime packages only), then run lbaas in one process on the embedded defaults:
# the Octavia v2 API at http://127.0.0.1:9876, SQLite under ~/.local/state/lbaas, the noop
# provider driver and network backend, no authentication. Arguments go to `lbaas serve`:
#   bash scripts/run.sh [--state-path DIR] [--port N] [--config-file FILE]
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bash "$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/lbaas" serve "$@"
