#!/usr/bin/env bash
# One command from a fresh clone to a full test run: installs Debian's Chromium (for the
# browser tests), the project with its test extras into .venv, then runs the three tiers.
#   ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet --upgrade pip
.venv/bin/pip install --quiet -e ".[test,browser]"

export HOTSPOT_CHROMIUM="${HOTSPOT_CHROMIUM:-$(command -v chromium)}"
mkdir -p test-artifacts

status=0
echo "== unit tests (and the runnable examples in geo/) =="
.venv/bin/python -m pytest tests/unit geo --doctest-modules -q || status=1
echo "== integration tests =="
.venv/bin/python -m pytest tests/integration -q || status=1
echo "== browser tests (headless Chromium) =="
.venv/bin/python -m pytest tests/browser -m browser -q || status=1
exit $status
