#!/usr/bin/env bash
# Install what is needed, then run the whole platform with its simulators (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/vigil run --site "${VIGIL_SITE:-sites/demo.yaml}" "$@"
