"""The built wheel is the product: it carries its data, assets and pages and runs on its own.

The wheel is built once from a clean copy of the source (``scripts/build_wheelhouse.sh
--project-only``, which needs the build backend from the package index or pip's cache). The full
install into a fresh virtual environment, offline, with a live server is ``scripts/wheel_smoke.sh``
(run by ``scripts/test.sh``); here the wheel is unpacked and run from outside the checkout, which
needs no new environment.
"""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

from geo import settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "build_wheelhouse.sh"), "--project-only", "--out",
         str(out)],
        capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHON": sys.executable},
    )
    assert proc.returncode == 0, f"building the wheel failed:\n{proc.stdout}\n{proc.stderr}"
    (built,) = out.glob("hotspot-*.whl")
    return built


def _names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as zf:
        return set(zf.namelist())


def _shipped_files() -> dict[str, Path]:
    """Every file the wheel must carry, by its path inside the wheel."""
    files = {}
    for folder in ("boundaries", "sample"):
        for path in sorted((ROOT / "data" / folder).iterdir()):
            files[f"geo/_bundled/{folder}/{path.name}"] = path
    for folder in ("assets", "templates"):
        for path in sorted((ROOT / "dashboard" / folder).iterdir()):
            files[f"dashboard/{folder}/{path.name}"] = path
    for path in sorted((ROOT / "dashboard" / "layouts").glob("*.py")):
        files[f"dashboard/layouts/{path.name}"] = path
    return files


def test_wheel_carries_bundled_data_assets_and_pages_byte_for_byte(wheel):
    names = _names(wheel)
    expected = _shipped_files()
    missing = sorted(set(expected) - names)
    assert not missing, f"the wheel lacks {missing}"
    with zipfile.ZipFile(wheel) as zf:
        for name, source in expected.items():
            assert zf.read(name) == source.read_bytes(), f"{name} differs from {source}"


def test_wheel_installs_only_the_two_packages(wheel):
    # A top-level "data" (or "tests", "scripts") in site-packages would collide with other
    # projects; the bundled data lives inside geo/.
    tops = {name.split("/")[0] for name in _names(wheel)}
    dist_info = {t for t in tops if t.endswith(".dist-info")}
    assert tops - dist_info == {"geo", "dashboard"}


def test_wheel_metadata_is_complete(wheel):
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    with zipfile.ZipFile(wheel) as zf:
        info = next(n.split("/")[0] for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
        meta = email.parser.Parser().parsestr(zf.read(f"{info}/METADATA").decode())
        entry_points = zf.read(f"{info}/entry_points.txt").decode()
        assert f"{info}/licenses/LICENSE" in zf.namelist()
    assert meta["Name"] == "hotspot" and meta["Version"] == pyproject["version"]
    assert meta["Requires-Python"] == ">=3.11"
    assert meta["License-Expression"] == "MIT"
    assert meta["Description-Content-Type"] == "text/markdown"
    assert "# Hotspot" in meta.get_payload()
    requires = meta.get_all("Requires-Dist")
    for dep in pyproject["dependencies"]:
        name = dep.split(">")[0].split("<")[0].split("=")[0]
        assert any(r.startswith(name) for r in requires), f"{dep} is not a Requires-Dist"
    assert "hotspot = dashboard.cli:main" in entry_points


#: Runs in a fresh interpreter whose only copy of the project is the unpacked wheel.
_INSTALLED_RUN = r"""
import json, re, sys
from pathlib import Path

site = Path(sys.argv[1]).resolve()
import dashboard, geo
from geo.settings import bundled_data_dir

assert site in Path(geo.__file__).resolve().parents, geo.__file__
assert site in Path(dashboard.__file__).resolve().parents, dashboard.__file__
assert bundled_data_dir() == site / "geo" / "_bundled", bundled_data_dir()

from dashboard.cli import main
data_dir = Path(sys.argv[2])
assert main(["sample", "--data-dir", str(data_dir)]) == 0

from dashboard.app import create_app
from geo.settings import DataPaths

client = create_app(DataPaths(data_dir)).server.test_client()
out = {}
health = client.get("/api/v1/health")
out["health"] = [health.status_code, health.get_json()["data"]["incidents"]]
page = client.get("/")
html = page.get_data(as_text=True)
out["page"] = page.status_code
out["assets"] = {}
for name in ("style.css", "hotspot.js"):
    resp = client.get(f"/assets/{name}")
    out["assets"][name] = [resp.status_code, f"/assets/{name}" in html, len(resp.data)]
bundles = sorted(set(re.findall(r'src="(/_dash-component-suites/[^"]+)"', html)))
out["bundles"] = [client.get(src).status_code for src in bundles]
import dash

titles = {}
for page in dash.page_registry.values():
    href = page["relative_path"]
    body = {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [{"id": "_pages_content", "property": "children"},
                    {"id": "_pages_store", "property": "data"}],
        "inputs": [{"id": "_pages_location", "property": "pathname", "value": href},
                   {"id": "_pages_location", "property": "search", "value": ""}],
        "changedPropIds": ["_pages_location.pathname"], "state": [],
    }
    resp = client.post("/_dash-update-component", json=body)
    rendered = resp.get_json()["response"]
    titles[page["module"]] = [resp.status_code, bool(rendered["_pages_content"]["children"]),
                              rendered["_pages_store"]["data"]["title"]]
out["pages"] = titles
print(json.dumps(out))
"""


def test_unpacked_wheel_runs_from_outside_the_checkout(wheel, tmp_path):
    """``hotspot sample`` and the app work from the wheel alone (the reported failure)."""
    site = tmp_path / "site-packages"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(site)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HOTSPOT_BUNDLED_") and k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(site)
    proc = subprocess.run(
        [sys.executable, "-c", _INSTALLED_RUN, str(site), str(tmp_path / "data")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["health"] == [200, 60_314]  # police, ED and ambulance records of the sample
    assert out["page"] == 200
    for name, (status, linked, size) in out["assets"].items():
        assert status == 200 and linked and size > 0, name
    assert out["bundles"] and set(out["bundles"]) == {200}
    # Dash found every page module in site-packages, and each renders its layout.
    modules = {f"dashboard.layouts.{p.stem}" for p in (ROOT / "dashboard" / "layouts").glob("*.py")
               if not p.stem.startswith("_")}
    assert set(out["pages"]) == modules
    for module, (status, has_content, title) in out["pages"].items():
        assert status == 200 and has_content and title.startswith("Hotspot"), module


def test_checkout_reads_the_repository_data_folder():
    assert settings.bundled_data_dir() == ROOT / "data"
    assert settings.bundled_sample_dir() == ROOT / "data" / "sample"


def test_missing_bundled_data_is_named_not_a_traceback(monkeypatch, tmp_path):
    # Neither a checkout beside geo/ nor package data inside it: a broken install.
    monkeypatch.setattr(settings, "PROJECT_ROOT", tmp_path)
    monkeypatch.setattr(settings, "BUNDLED_PACKAGE_DIR", "_absent")
    monkeypatch.delenv("HOTSPOT_BUNDLED_SAMPLE", raising=False)
    with pytest.raises(FileNotFoundError, match="bundled boundaries and sample are missing"):
        settings.bundled_sample_dir()


def test_environment_overrides_still_win(monkeypatch, tmp_path):
    monkeypatch.setenv("HOTSPOT_BUNDLED_SAMPLE", str(tmp_path))
    monkeypatch.setenv("HOTSPOT_BUNDLED_BOUNDARIES", str(tmp_path / "b"))
    assert settings.bundled_sample_dir() == tmp_path
    assert settings.bundled_boundaries_dir() == tmp_path / "b"
