#!/usr/bin/env bash
# One command from a fresh clone to a running dashboard on the bundled SYNTHETIC sample:
#   ./scripts/serve.sh            then open http://127.0.0.1:8050
# Extra arguments go to `hotspot serve` (e.g. --port 8060, --data-dir DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
    .venv/bin/pip install --quiet --upgrade pip
fi
# .venv holds the package built from this checkout (as users install it, see scripts/test.sh);
# rebuild it when the source is newer than the install, so the server never runs stale code.
STAMP=.venv/.hotspot-installed
if [ ! -x .venv/bin/hotspot ] || [ ! -f "$STAMP" ] || [ -n "$(find pyproject.toml geo dashboard \
        data -name __pycache__ -prune -o -newer "$STAMP" -print -quit)" ]; then
    echo "Installing Hotspot from this checkout into .venv (the first time takes a few minutes)"
    PYTHON=.venv/bin/python bash scripts/build_wheelhouse.sh --project-only --out .cache/wheel
    WHEEL="$(ls .cache/wheel/hotspot-*.whl)"
    .venv/bin/pip install --quiet "$WHEEL"
    # An earlier build has the same version number, so pip would keep it: put this one in.
    .venv/bin/pip install --quiet --no-deps --force-reinstall "$WHEEL"
    touch "$STAMP"
fi
exec .venv/bin/hotspot serve "$@"
