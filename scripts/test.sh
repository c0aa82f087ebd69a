#!/usr/bin/env bash
# One command from a fresh clone to a full test run: installs Debian's Chromium (for the
# browser tests), installs the project with its test extras into .venv (editable), then runs
# lint, type checks, the three test tiers and the offline install test of the built wheel. Every step runs even when an earlier one fails; the exit status is
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

# .venv holds an editable install, so the tests and `.venv/bin/hotspot` always run the source
# as it is now. The package as users get it is tested separately (last step): its wheel, built
# with a wheelhouse of its dependencies (.cache/, ignored by git, kept between runs), installed
# offline into a fresh environment outside the checkout.
.venv/bin/pip install --quiet -e ".[test,browser,dev]"
WHEELHOUSE=.cache/wheelhouse

export HOTSPOT_CHROMIUM="${HOTSPOT_CHROMIUM:-$(command -v chromium)}"
mkdir -p test-artifacts

status=0
summary=()
step() {  # step NAME COMMAND...: run it, remember the outcome and time, carry on either way
    local name="$1" started=$SECONDS
    shift
    echo "== $name =="
    if "$@"; then
        summary+=("ok      $name ($((SECONDS - started)) s)")
    else
        summary+=("FAILED  $name ($((SECONDS - started)) s)")
        status=1
    fi
}
# Each test tier runs in one process per core (pytest-xdist). Unit and integration tests go
# to whichever process is free ("worksteal"); a browser test module stays in one process
# ("loadfile"), so its server starts once and its tests run in file order.
step "lint (ruff check .)" .venv/bin/ruff check .
step "types (mypy geo)" .venv/bin/mypy geo
step "unit tests (and the runnable examples in geo/ and the dashboard's parsers and writers)" \
    .venv/bin/python -m pytest tests/unit geo dashboard/params.py dashboard/serialise.py \
    dashboard/figures.py \
    --doctest-modules -q -n auto --dist worksteal
step "integration tests" .venv/bin/python -m pytest tests/integration -q -n auto --dist worksteal
step "browser tests (headless Chromium)" .venv/bin/python -m pytest tests/browser -m browser -q \
    -n 2 --dist loadfile
package_smoke() {
    PYTHON=.venv/bin/python bash scripts/build_wheelhouse.sh --out "$WHEELHOUSE" &&
        PYTHON=.venv/bin/python bash scripts/wheel_smoke.sh --wheelhouse "$WHEELHOUSE"
}
step "package: the wheel installed offline outside the checkout, served and fetched" \
    package_smoke

echo "== summary =="
printf '%s\n' "${summary[@]}"
echo "all steps, with the installation: $SECONDS s"
exit $status
