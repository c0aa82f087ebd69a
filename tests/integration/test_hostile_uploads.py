"""Hostile uploads end to end: the NTE page's callbacks over HTTP, and ``hotspot boundaries``.

The page's upload callbacks are posted exactly as a browser (or an attacker's script) would
post them to Dash; every answer must be a plain message with status 200, never a 500, and
nothing a hostile file points at may reach ``/api/v1/nte/zones``.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from geo.settings import DataPaths
from tests.conftest import SHARED_DATA, needs_shared

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))
SECRET = "alice:s3cret"

_INPUTS = ["nte-rename-btn.n_clicks", "nte-delete-confirm.submit_n_clicks",
           "nte-import.contents", "nte-draw-btn.n_clicks", "nte-accept-btn.n_clicks",
           "nte-venues.contents", "nte-ranks.contents", "nte-restore-btn.n_clicks"]
_STATES = ["nte-zone.value", "nte-rename.value", "nte-import.filename", "nte-import-field.value",
           "nte-map.selectedData", "nte-draw-name.value", "nte-suggestions.selectedRows",
           "nte-venues.filename", "nte-ranks.filename", "nte-version.data"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app, ensure_data

    data = DataPaths(tmp_path_factory.mktemp("hostile-data"))
    ensure_data(data)
    return create_app(data).server.test_client()


def _edit_zones(client, changed: str, **values):
    """Post the NTE page's edit_zones callback with ``values`` ({"nte-import.contents": ...})."""

    def entry(key: str) -> dict:
        ident, prop = key.split(".")
        return {"id": ident, "property": prop, "value": values.get(key)}

    body = {
        "output": "..nte-version.data...nte-msg.children..",
        "outputs": [{"id": "nte-version", "property": "data"},
                    {"id": "nte-msg", "property": "children"}],
        "inputs": [entry(k) for k in _INPUTS],
        "state": [entry(k) for k in _STATES],
        "changedPropIds": [changed],
    }
    return client.post("/_dash-update-component", json=body)


def _message(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return response.get_json()["response"]["nte-msg"]["children"]


def _data_url(raw: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(raw).decode()


def _zone_names(client) -> list[str]:
    body = client.get("/api/v1/nte/zones").get_json()
    return [f["properties"]["name"] for f in body["features"]]


def _leaking_vrt(tmp_path: Path) -> bytes:
    secret = tmp_path / "secret.txt"
    secret.write_text(f"{SECRET}\n", encoding="utf-8")
    square = "POLYGON((-2.25 53.47,-2.24 53.47,-2.24 53.48,-2.25 53.47))"
    return f"""<OGRVRTDataSource><OGRVRTLayer name="zones">
<SrcDataSource>CSV:{secret}</SrcDataSource>
<OpenOptions><OOI key="HEADERS">NO</OOI></OpenOptions>
<SrcSQL dialect="SQLITE">SELECT field_1 AS name, '{square}' AS wkt FROM secret</SrcSQL>
<GeometryField encoding="WKT" field="wkt"/><LayerSRS>EPSG:4326</LayerSRS>
</OGRVRTLayer></OGRVRTDataSource>""".encode()


@pytest.mark.parametrize("filename", ["zones.geojson", "../../zones.vrt",
                                      "/vsicurl/http://127.0.0.1:9/zones.geojson"],
                         ids=["renamed-geojson", "traversal-name", "vsicurl-name"])
def test_a_vrt_upload_is_refused_and_the_file_it_points_at_never_reaches_the_api(
        client, tmp_path, filename):
    before = _zone_names(client)
    response = _edit_zones(client, "nte-import.contents", **{
        "nte-import.contents": _data_url(_leaking_vrt(tmp_path)),
        "nte-import.filename": filename, "nte-import-field.value": "name"})
    assert "GDAL virtual dataset (VRT)" in _message(response)
    names = _zone_names(client)
    assert names == before
    assert SECRET not in json.dumps(client.get("/api/v1/nte/zones").get_json())


@pytest.mark.parametrize(
    "contents",
    ["no comma", "data:application/json;base64,!!!!", ["a", "list"], {"a": "dict"}],
    ids=["no-comma", "bad-base64", "a-list", "a-dict"])
@pytest.mark.parametrize("target", ["nte-import", "nte-venues", "nte-ranks"])
def test_malformed_upload_contents_get_a_message_not_a_500(client, contents, target):
    response = _edit_zones(client, f"{target}.contents", **{f"{target}.contents": contents,
                                                            f"{target}.filename": "f.csv"})
    if not isinstance(contents, str):  # the wrong type is refused at the door, by name
        assert response.status_code == 400
        assert response.get_json()["parameter"] == f"{target}.contents"
        return
    assert "did not arrive" in _message(response) or "damaged" in _message(response)


def test_a_venue_gzip_bomb_is_refused_with_the_limit(client, monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_DECOMPRESSED_MB", "1")
    bomb = gzip.compress(b"name,type,lat,lon\n" + b"Bar,bar,53.4794,-2.2453\n" * 200_000)
    response = _edit_zones(client, "nte-venues.contents", **{
        "nte-venues.contents": _data_url(bomb), "nte-venues.filename": "venues.csv.gz"})
    assert _message(response) == (
        "venues.csv.gz: the file is larger than 1 MB once decompressed; the limit is 1 MB "
        "(setting HOTSPOT_MAX_DECOMPRESSED_MB).")


@pytest.mark.parametrize(
    "selected, suggestions, changed, why",
    [
        ({"lassoPoints": {"map": [[-2.25, 53.47], ["x", 1], [-2.24, 53.48]]}}, None,
         "nte-draw-btn.n_clicks", "Point 2 of the drawn outline"),
        ({"lassoPoints": {"map": [[-2.25, 53.47], [float("nan"), 53.4], [-2.24, 53.48]]}},
         None, "nte-draw-btn.n_clicks", "not a finite number"),
        ({"lassoPoints": "nonsense"}, None, "nte-draw-btn.n_clicks", "Draw the zone first"),
        (None, [{"rank": 1, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [200, 0],
                                                                             [0, 1]]]}}],
         "nte-accept-btn.n_clicks", "not longitude/latitude"),
        (None, ["not a row"], "nte-accept-btn.n_clicks", "at most 15"),
        (None, [{"rank": i} for i in range(16)], "nte-accept-btn.n_clicks", "at most 15"),
    ],
    ids=["lasso-text", "lasso-nan", "lasso-junk", "suggestion-off-earth",
         "suggestion-not-a-row", "too-many-suggestions"],
)
def test_drawn_and_accepted_outlines_from_the_browser_get_a_message(client, selected,
                                                                   suggestions, changed, why):
    before = _zone_names(client)
    response = _edit_zones(client, changed, **{"nte-map.selectedData": selected,
                                               "nte-suggestions.selectedRows": suggestions,
                                               changed: 1})
    if suggestions and not all(isinstance(s, dict) for s in suggestions):
        # not table rows at all: refused at the door, naming the component
        assert response.status_code == 400
        assert response.get_json()["parameter"] == "nte-suggestions.selectedRows"
    else:
        assert why in _message(response)
    assert _zone_names(client) == before


@needs_shared
def test_the_real_city_centre_geojson_uploads_through_the_page(client):
    raw = (SHARED_DATA / "venues" / "mcr_city_centre.geojson").read_bytes()
    response = _edit_zones(client, "nte-import.contents", **{
        "nte-import.contents": _data_url(raw), "nte-import.filename": "mcr_city_centre.geojson",
        "nte-import-field.value": ""})
    assert response.status_code == 200
    assert "mcr_city_centre" in _zone_names(client)


# ---------------------------------------------------------------------------------------------
# hotspot boundaries import: the same reader


def _boundaries_import(tmp_path: Path, source: str):
    return subprocess.run(
        [HOTSPOT, "boundaries", "import", source, "--data-dir", str(tmp_path / "data"),
         "--code-field", "code", "--name-field", "name"],
        capture_output=True, text=True, timeout=300, env=dict(os.environ))


@pytest.mark.parametrize("source", ["/vsicurl/http://127.0.0.1:9/areas.geojson",
                                    "/vsizip//tmp/areas.zip/areas.shp"], ids=["vsicurl", "vsizip"])
def test_cli_refuses_gdal_virtual_paths(tmp_path, source):
    proc = _boundaries_import(tmp_path, source)
    assert proc.returncode != 0
    assert "GDAL virtual path or a web address, not a file" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize("name", ["areas.vrt", "areas.geojson"])
def test_cli_refuses_a_vrt_whatever_its_name(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(_leaking_vrt(tmp_path).replace(b"field_1 AS name", b"field_1 AS name, "
                                                                        b"field_1 AS code"))
    proc = _boundaries_import(tmp_path, str(path))
    assert proc.returncode != 0
    assert "GDAL virtual dataset (VRT)" in proc.stderr
    assert SECRET not in proc.stdout + proc.stderr
    assert not (tmp_path / "data" / "boundaries" / "areas.geojson").exists()


def test_cli_refuses_other_drivers(tmp_path):
    path = tmp_path / "areas.kml"
    path.write_text('<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>')
    proc = _boundaries_import(tmp_path, str(path))
    assert proc.returncode != 0
    assert "GeoJSON, GeoPackage or a zipped Shapefile" in proc.stderr


# ---------------------------------------------------------------------------------------------
# The patrol page's uploads


def _callback(client, changed: str, **values):
    """Post the page callback that ``changed`` (``"id.property"``) triggers, as Dash's renderer
    would, with ``values`` for some of its inputs and states and None for the rest."""
    deps = client.get("/_dash-dependencies").get_json()
    spec = next(c for c in deps
                if any(f"{i['id']}.{i['property']}" == changed for i in c["inputs"]))

    def entry(dep: dict) -> dict:
        key = f"{dep['id']}.{dep['property']}"
        return {"id": dep["id"], "property": dep["property"], "value": values.get(key)}

    parts = spec["output"].strip(".").split("...")
    outputs = [dict(zip(("id", "property"), p.rsplit(".", 1), strict=True)) for p in parts]
    body = {"output": spec["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": [entry(d) for d in spec["inputs"]],
            "state": [entry(d) for d in spec["state"]], "changedPropIds": [changed]}
    response = client.post("/_dash-update-component", json=body)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return json.dumps(response.get_json())


@pytest.mark.parametrize("upload", ["patrol-weights-upload", "patrol-log-upload"])
@pytest.mark.parametrize("contents, why", [
    ("no comma", "did not arrive as a file"),
    ("data:text/csv;base64,!!!!", "damaged"),
    (_data_url(gzip.compress(b"category,weight\n" + b"Robbery,5\n" * 300_000)),
     "the limit is 1 MB (setting HOTSPOT_MAX_DECOMPRESSED_MB)"),
], ids=["no-comma", "bad-base64", "gzip-bomb"])
def test_patrol_uploads_get_a_message_not_a_500(client, monkeypatch, upload, contents, why):
    monkeypatch.setenv("HOTSPOT_MAX_DECOMPRESSED_MB", "1")
    text = _callback(client, f"{upload}.contents", **{f"{upload}.contents": contents,
                                                      f"{upload}.filename": "table.csv"})
    assert why in text and "table.csv" in text
