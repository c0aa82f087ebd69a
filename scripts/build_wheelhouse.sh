#!/usr/bin/env bash
# Build a wheelhouse on a machine with internet access: one folder holding the Hotspot wheel and
# a wheel of every dependency, to carry to a machine that installs nothing from the internet:
#
#     scripts/build_wheelhouse.sh                       # for this machine's Python and platform
#     scripts/build_wheelhouse.sh --platform win_amd64 --python-version 3.11   # for Windows
#
# then, on the locked-down machine (README, "Installing without internet access"):
#
#     python3 -m venv hotspot-venv
#     hotspot-venv/bin/pip install --no-index --find-links wheelhouse hotspot
#
# Options:
#   --out DIR              the wheelhouse folder (default: ./wheelhouse in the checkout)
#   --platform TAG         a target platform tag, repeatable (win_amd64, manylinux2014_x86_64,
#                          macosx_11_0_arm64 ...); only published binary wheels are fetched
#   --python-version X.Y   the target Python (default: the Python running pip)
#   --extras A,B           optional extras to include too (e.g. test)
#   --project-only         build just the Hotspot wheel (what the package test uses)
# Environment: PYTHON, the interpreter whose pip does the work (default python3).
#
# The Hotspot wheel is built from a clean copy of the source (the files git tracks or would
# track), so nothing lying in build/ or other ignored folders can slip into it.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
OUT="$ROOT/wheelhouse"
PLATFORMS=()
PYVER=""
EXTRAS=""
PROJECT_ONLY=0

die() { echo "build_wheelhouse: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
    case "$1" in
        --out) OUT="${2:?--out needs a folder}"; shift 2 ;;
        --platform) PLATFORMS+=("${2:?--platform needs a tag}"); shift 2 ;;
        --python-version) PYVER="${2:?--python-version needs X.Y}"; shift 2 ;;
        --extras) EXTRAS="${2:?--extras needs a comma-separated list}"; shift 2 ;;
        --project-only) PROJECT_ONLY=1; shift ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

# 1. A clean copy of the source. In a git checkout: tracked files plus new ones not ignored
#    (so an uncommitted change is tested too); otherwise everything but the usual clutter.
mkdir "$WORK/src"
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    (cd "$ROOT" && git ls-files -z --cached --others --exclude-standard) |
        (cd "$ROOT" && while IFS= read -r -d '' f; do
            # a file deleted but not yet committed is still listed by --cached
            [ -e "$f" ] && printf '%s\0' "$f"
        done) |
        (cd "$ROOT" && tar -c --null -T - -f -) | tar -x -C "$WORK/src"
else
    (cd "$ROOT" && tar -c --exclude=.venv --exclude=build --exclude=dist --exclude='*.egg-info' \
        --exclude=wheelhouse --exclude=.cache --exclude=test-artifacts .) | tar -x -C "$WORK/src"
fi
[ -f "$WORK/src/pyproject.toml" ] || die "no pyproject.toml in $ROOT"

# 2. The Hotspot wheel (an older one in the folder would be installed by mistake: remove it).
rm -f "$OUT"/hotspot-*.whl
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$OUT" "$WORK/src" \
    || die "building the Hotspot wheel failed (see pip's output above)"
WHEEL="$(ls "$OUT"/hotspot-*.whl 2>/dev/null | head -n 1)"
[ -n "$WHEEL" ] || die "pip reported success but left no hotspot-*.whl in $OUT"
echo "built $(basename "$WHEEL") ($(du -k "$WHEEL" | cut -f1) KiB)"
[ "$PROJECT_ONLY" -eq 1 ] && exit 0

# Print each requirement (one a line) that a wheel in $OUT has on the target platform and
# Python but that no wheel in $OUT satisfies.
target_requirements_missing() {
    "$PYTHON" - "$OUT" "$PYVER" "$EXTRAS" "${PLATFORMS[@]}" <<'PY'
import re
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name, parse_wheel_filename
except ImportError:  # pip always carries a copy
    from pip._vendor.packaging.markers import Marker  # noqa: F401
    from pip._vendor.packaging.requirements import Requirement
    from pip._vendor.packaging.utils import canonicalize_name, parse_wheel_filename

out, pyver, extras, platforms = Path(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
pyver = pyver or "%d.%d" % sys.version_info[:2]
tag = platforms[0] if platforms else ""
if tag.startswith("win"):
    system = ("win32", "Windows", "nt", "ARM64" if "arm64" in tag else "AMD64")
elif tag.startswith("macosx"):
    system = ("darwin", "Darwin", "posix", "arm64" if "arm64" in tag else "x86_64")
else:
    machine = re.sub(r"^(many|musl)?linux[_0-9]*_", "", tag) or "x86_64"
    system = ("linux", "Linux", "posix", machine)
env = {"sys_platform": system[0], "platform_system": system[1], "os_name": system[2],
       "platform_machine": system[3], "python_version": pyver,
       "python_full_version": pyver + ".0", "implementation_name": "cpython",
       "platform_python_implementation": "CPython"}

have = {}
for wheel in out.glob("*.whl"):
    name, version, _, _ = parse_wheel_filename(wheel.name)
    have[name] = (wheel, version)


def requirements(wheel):
    with zipfile.ZipFile(wheel) as zf:
        meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        return Parser().parsestr(zf.read(meta).decode()).get_all("Requires-Dist") or []


wanted = {}  # name -> extras asked for
todo = [("hotspot", {e for e in extras.split(",") if e})]
missing = set()
while todo:
    name, asked = todo.pop()
    if name in wanted and asked <= wanted[name]:
        continue
    wanted[name] = wanted.get(name, set()) | asked
    if name not in have:
        continue
    for text in requirements(have[name][0]):
        req = Requirement(text)
        active = req.marker is None or any(
            req.marker.evaluate({**env, "extra": e}) for e in (wanted[name] or {""}))
        if not active:
            continue
        dep = canonicalize_name(req.name)
        if dep not in have or not req.specifier.contains(have[dep][1], prereleases=True):
            missing.add(str(Requirement(f"{req.name}{req.specifier}")))
        else:
            todo.append((dep, set(req.extras)))
for text in sorted(missing):
    print(text)
PY
}

# 3. Every dependency as a wheel.
REQ="$WHEEL"
[ -n "$EXTRAS" ] && REQ="$WHEEL[$EXTRAS]"
if [ ${#PLATFORMS[@]} -eq 0 ] && [ -z "$PYVER" ]; then
    # For this machine: pip wheel also turns any dependency published only as source into a
    # wheel, so the offline machine needs no compiler.
    "$PYTHON" -m pip wheel --quiet --wheel-dir "$OUT" --find-links "$OUT" "$REQ" \
        || die "fetching the dependencies failed (see pip's output above)"
else
    # For another machine: only published binary wheels can be fetched for a foreign target.
    args=(--only-binary=:all: --implementation cp)
    for p in "${PLATFORMS[@]}"; do args+=(--platform "$p"); done
    [ -n "$PYVER" ] && args+=(--python-version "$PYVER")
    "$PYTHON" -m pip download --quiet --dest "$OUT" --find-links "$OUT" "${args[@]}" "$REQ" \
        || die "fetching wheels for ${PLATFORMS[*]:-this platform} python ${PYVER:-this} failed"
    # pip judges a dependency's environment markers by the machine it runs on, not the target,
    # so a dependency only the target needs (colorama for tqdm on Windows) is left out. Read
    # every wheel's requirements with the target's markers and fetch what is missing.
    for _ in 1 2 3 4 5; do
        mapfile -t missing < <(target_requirements_missing)
        [ ${#missing[@]} -eq 0 ] && break
        echo "fetching what the target needs beyond this machine: ${missing[*]}"
        "$PYTHON" -m pip download --quiet --dest "$OUT" --find-links "$OUT" "${args[@]}" \
            "${missing[@]}" || die "fetching ${missing[*]} for the target failed"
    done
    mapfile -t missing < <(target_requirements_missing)
    [ ${#missing[@]} -eq 0 ] || die "the wheelhouse still lacks ${missing[*]} for the target"
fi

# 4. Checksums to verify the folder after carrying it across, and the install steps beside it.
if command -v sha256sum >/dev/null 2>&1; then
    (cd "$OUT" && sha256sum -- *.whl > SHA256SUMS)
else  # macOS
    (cd "$OUT" && shasum -a 256 -- *.whl > SHA256SUMS)
fi
TARGET_PY="${PYVER:-$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')}"
TARGET_OS="${PLATFORMS[*]:-$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_platform())')}"
cat > "$OUT/INSTALL.txt" <<EOF
Hotspot wheelhouse: $(basename "$WHEEL") and its dependencies, built $(date -u +%Y-%m-%d)
for Python $TARGET_PY on $TARGET_OS.

Check the files arrived intact (Linux):   sha256sum -c SHA256SUMS
Install with no internet access:
  Linux/macOS:  python$TARGET_PY -m venv hotspot-venv
                hotspot-venv/bin/pip install --no-index --find-links . hotspot
                hotspot-venv/bin/hotspot serve
  Windows:      py -$TARGET_PY -m venv hotspot-venv
                hotspot-venv\\Scripts\\pip install --no-index --find-links . hotspot
                hotspot-venv\\Scripts\\hotspot serve
EOF
echo "wheelhouse $OUT: $(ls "$OUT"/*.whl | wc -l) wheels, $(du -sh "$OUT" | cut -f1)"
