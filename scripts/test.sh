#!/usr/bin/env bash
# One command from a fresh clone to a full test run: installs Debian's Chromium (for the
# browser tests), builds the wheel and a wheelhouse of its dependencies, installs the wheel with
# its test extras into .venv, then runs lint, type checks, the three test tiers and the offline
# install test of the wheel. Every step runs even when an earlier one fails; the exit status is
# non-zero if any failed.
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

# The package under test is the wheel users get, installed the way they install it (not an
# editable install, whose import hook makes setuptools warn about same-named folders): the CLI,
# server and browser tests then run the installed package with its bundled data and assets,
# while pytest imports the checkout beside them (its root is on sys.path), the same source.
# The wheelhouse (.cache/, ignored by git) keeps the dependency wheels between runs.
WHEELHOUSE=.cache/wheelhouse
echo "== build: the wheel and a wheelhouse of its dependencies =="
PYTHON=.venv/bin/python bash scripts/build_wheelhouse.sh --out "$WHEELHOUSE"
WHEEL="$(ls "$WHEELHOUSE"/hotspot-*.whl)"
.venv/bin/pip install --quiet --find-links "$WHEELHOUSE" "$WHEEL[test,browser,dev]"
# An earlier build has the same version number, so pip would keep it: put this one in.
.venv/bin/pip install --quiet --no-deps --force-reinstall "$WHEEL"
touch .venv/.hotspot-installed  # scripts/serve.sh: the install is as new as the source

export HOTSPOT_CHROMIUM="${HOTSPOT_CHROMIUM:-$(command -v chromium)}"
mkdir -p test-artifacts

status=0
summary=()
step() {  # step NAME COMMAND...: run it, remember the outcome, carry on either way
    local name="$1"
    shift
    echo "== $name =="
    if "$@"; then
        summary+=("ok      $name")
    else
        summary+=("FAILED  $name")
        status=1
    fi
}
step "lint (ruff check .)" .venv/bin/ruff check .
step "types (mypy geo)" .venv/bin/mypy geo
step "unit tests (and the runnable examples in geo/)" \
    .venv/bin/python -m pytest tests/unit geo --doctest-modules -q
step "integration tests" .venv/bin/python -m pytest tests/integration -q
step "browser tests (headless Chromium)" .venv/bin/python -m pytest tests/browser -m browser -q
step "package: the wheel installed offline outside the checkout, served and fetched" \
    env PYTHON=.venv/bin/python bash scripts/wheel_smoke.sh --wheelhouse "$WHEELHOUSE"

echo "== summary =="
printf '%s\n' "${summary[@]}"
exit $status
