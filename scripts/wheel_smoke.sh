#!/usr/bin/env bash
# Prove the package a user installs works on its own, as on a network that reaches no package
# index: install the Hotspot wheel and its dependencies from a wheelhouse with --no-index into a
# fresh virtual environment outside the checkout, load the synthetic sample, start the server,
# fetch the health check, the page, its assets and script bundles and every page's layout, then
# stop it. Anything missing fails the script with a message saying what.
#
#   scripts/wheel_smoke.sh                       # builds a wheelhouse first (needs the internet)
#   scripts/wheel_smoke.sh --wheelhouse DIR      # uses one already built (scripts/test.sh does)
#
# Environment: PYTHON, the interpreter that builds and makes the virtual environment (python3).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
WHEELHOUSE=""
while [ $# -gt 0 ]; do
    case "$1" in
        --wheelhouse) WHEELHOUSE="${2:?--wheelhouse needs a folder}"; shift 2 ;;
        *) echo "wheel_smoke: unknown option '$1'" >&2; exit 2 ;;
    esac
done

START=$SECONDS
WORK="$(mktemp -d "${TMPDIR:-/tmp}/hotspot-smoke.XXXXXX")"
SERVER_PID=""
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
fail() {
    echo "wheel smoke test FAILED: $*" >&2
    if [ -f "$WORK/serve.log" ]; then
        echo "--- server log ---" >&2
        tail -n 40 "$WORK/serve.log" >&2
    fi
    exit 1
}
case "$WORK/" in "$ROOT"/*) fail "the temporary folder $WORK is inside the checkout" ;; esac

if [ -z "$WHEELHOUSE" ]; then
    WHEELHOUSE="$WORK/wheelhouse"
    PYTHON="$PYTHON" bash "$ROOT/scripts/build_wheelhouse.sh" --out "$WHEELHOUSE" \
        || fail "could not build the wheelhouse"
fi
WHEELHOUSE="$(cd "$WHEELHOUSE" && pwd)"
WHEEL="$(ls "$WHEELHOUSE"/hotspot-*.whl 2>/dev/null | head -n 1)"
[ -n "$WHEEL" ] || fail "no hotspot-*.whl in $WHEELHOUSE"
echo "wheel: $(basename "$WHEEL"), $(du -k "$WHEEL" | cut -f1) KiB"

# A fresh environment and nothing of the checkout or this shell's settings leaking in: no
# PYTHONPATH, no overrides of the bundled data (they would hide data missing from the wheel),
# no pip configuration (here it names extra local package folders an offline site lacks).
"$PYTHON" -m venv "$WORK/venv" || fail "could not create a virtual environment"
VPY="$WORK/venv/bin/python"
CLEAN_ENV=(env -u PYTHONPATH -u PYTHONHOME -u HOTSPOT_BUNDLED_BOUNDARIES
           -u HOTSPOT_BUNDLED_SAMPLE -u HOTSPOT_DATA_DIR -u PIP_FIND_LINKS -u PIP_INDEX_URL
           -u PIP_EXTRA_INDEX_URL PIP_CONFIG_FILE=/dev/null)
t0=$SECONDS
cd "$WORK"
"${CLEAN_ENV[@]}" "$VPY" -m pip install --quiet --no-compile --no-index \
    --find-links "$WHEELHOUSE" hotspot \
    || fail "installing from the wheelhouse with --no-index failed: a dependency is missing from it"
echo "offline install into a fresh virtual environment: $((SECONDS - t0)) s"

"${CLEAN_ENV[@]}" "$VPY" -I - "$WORK/venv" <<'EOF' || fail "the installed package is incomplete"
import importlib.util
import sys
from pathlib import Path

venv = Path(sys.argv[1]).resolve()
import dashboard
import geo
from geo.settings import bundled_data_dir

for module in (geo, dashboard):
    where = Path(module.__file__).resolve()
    assert venv in where.parents, f"{module.__name__} was imported from {where}, not the venv"
for name in ("data", "tests", "scripts"):
    spec = importlib.util.find_spec(name)
    assert spec is None, f"the install added a top-level '{name}' ({spec.origin or spec})"
bundled = bundled_data_dir()
assert venv in bundled.parents, f"bundled data read from {bundled}, not from the installed package"
for rel in ("boundaries/lancashire_lads.geojson", "boundaries/population.csv",
            "boundaries/lancashire_lsoas.csv", "sample/mapping.toml",
            "sample/lancashire_synthetic_incidents.csv.gz",
            "sample/lancashire_synthetic_ed_attendances.csv.gz",
            "sample/lancashire_synthetic_ambulance_callouts.csv.gz",
            "sample/lancashire_synthetic_postcodes.csv.gz",
            "sample/lancashire_synthetic_lsoa_centroids.csv.gz"):
    assert (bundled / rel).is_file(), f"{rel} is missing from the installed package"
assets = Path(dashboard.__file__).parent / "assets"
assert (assets / "style.css").is_file() and (assets / "hotspot.js").is_file(), \
    f"dashboard assets missing from {assets}"
print(f"imports and bundled data from {venv}")
EOF

"${CLEAN_ENV[@]}" "$WORK/venv/bin/hotspot" --help >/dev/null \
    || fail "the hotspot command does not run"
"${CLEAN_ENV[@]}" "$WORK/venv/bin/hotspot" sample --data-dir "$WORK/data" > "$WORK/sample.log" 2>&1 \
    || { cat "$WORK/sample.log" >&2; fail "hotspot sample failed"; }
grep -q "Loaded the SYNTHETIC sample" "$WORK/sample.log" \
    || { cat "$WORK/sample.log" >&2; fail "hotspot sample did not say it loaded the sample"; }
echo "hotspot sample: $(grep -m1 'accepted' "$WORK/sample.log" | tr -s ' ')"

PORT="$("$VPY" -I -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
"${CLEAN_ENV[@]}" "$WORK/venv/bin/hotspot" serve --data-dir "$WORK/data" --host 127.0.0.1 \
    --port "$PORT" > "$WORK/serve.log" 2>&1 &
SERVER_PID=$!

"${CLEAN_ENV[@]}" "$VPY" -I - "http://127.0.0.1:$PORT" "$SERVER_PID" "$ROOT" <<'EOF' \
    || fail "the installed server did not serve everything"
import json
import os
import re
import sys
import time
import urllib.request
from pathlib import Path

base, pid, root = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])


def get(path, data=None):
    headers = {"Content-Type": "application/json"} if data is not None else {}
    req = urllib.request.Request(base + path, data=data, headers=headers)
    with urllib.request.urlopen(req, timeout=60) as resp:
        assert resp.status == 200, f"{path}: HTTP {resp.status}"
        return resp.read()


deadline = time.monotonic() + 180
while True:
    try:
        health = json.loads(get("/api/v1/health"))
        break
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            sys.exit("the server exited before answering /api/v1/health")
        if time.monotonic() > deadline:
            sys.exit("the server did not answer /api/v1/health within 180 s")
        time.sleep(0.5)
assert health["status"] == "ok", health
assert health["data"]["synthetic_sample"] and health["data"]["incidents"] > 0, health
print(f"/api/v1/health: ok, {health['data']['incidents']:,} incidents (synthetic sample)")

page = get("/").decode()
# Every file in the checkout's dashboard/assets must be linked from the page and served as is.
for asset in sorted((root / "dashboard" / "assets").iterdir()):
    assert f"/assets/{asset.name}" in page, f"the page does not link /assets/{asset.name}"
    assert get(f"/assets/{asset.name}") == asset.read_bytes(), f"/assets/{asset.name} differs"
bundles = sorted(set(re.findall(r'src="(/_dash-component-suites/[^"]+)"', page)))
assert bundles, "the page links no /_dash-component-suites/ script"
for src in bundles:
    assert len(get(src)) > 0, f"{src} is empty"
print(f"/: the page, {len(list((root / 'dashboard' / 'assets').iterdir()))} assets and "
      f"{len(bundles)} script bundles served")

# Every page module in dashboard/layouts must be registered and render its layout.
layout = get("/_dash-layout").decode()
hrefs = sorted(set(re.findall(r'"href":\s*"(/[^"]*)"', layout.replace("\\u002f", "/"))))
modules = [p for p in (root / "dashboard" / "layouts").glob("*.py") if not p.name.startswith("_")]
assert len(hrefs) == len(modules), f"{len(modules)} page modules but the menu links {hrefs}"
for href in hrefs:
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": href},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"],
        "state": [],
    }
    out = json.loads(get("/_dash-update-component", json.dumps(body).encode()))
    title = out["response"]["_pages_store"]["data"]["title"]
    assert out["response"]["_pages_content"]["children"], f"{href} rendered nothing"
    print(f"{href}: {title}")
EOF

kill "$SERVER_PID"
wait "$SERVER_PID" 2>/dev/null || true
SERVER_PID=""
echo "wheel smoke test passed in $((SECONDS - START)) s"
