#!/usr/bin/env bash
# One command from a fresh clone to a running dashboard on the bundled SYNTHETIC sample:
#   ./scripts/serve.sh            then open http://127.0.0.1:8050
# Extra arguments go to `hotspot serve` (e.g. --port 8060, --data-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/hotspot ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
    .venv/bin/pip install --quiet -e .
fi
exec .venv/bin/hotspot serve "$@"
