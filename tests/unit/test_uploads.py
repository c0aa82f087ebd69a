"""Hostile and careless uploads: polygon files, browser data URLs, bombs and size limits.

Every hostile file is built here. The polygon cases run through both importers: NTE zones (the
page's upload) and boundaries (``hotspot boundaries import``), which share one reader.
"""

from __future__ import annotations

import base64
import gzip
import http.server
import json
import sqlite3
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
import shapely.geometry

from geo.boundaries import BoundaryError, import_boundaries
from geo.harm import load_harm_weights
from geo.patrol_log import read_patrol_log
from geo.schema import ReadError
from geo.venues import read_venues
from geo.zones import ZoneError, import_zones, load_zones
from tests.conftest import SHARED_DATA, needs_shared

# Manchester city centre, British National Grid metres (EPSG:27700).
X0, Y0 = 384_000.0, 398_000.0
SECRET = "alice:s3cret"


def _squares(n: int = 2) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {"code": [f"A{i}" for i in range(n)], "name": [f"Zone {i}" for i in range(n)]},
        geometry=[shapely.box(X0 + 500 * i, Y0, X0 + 500 * i + 100, Y0 + 100)
                  for i in range(n)],
        crs="EPSG:27700",
    )


def _import_zone(path: Path, tmp: Path) -> list[str]:
    zones, _ = import_zones(path, "name", tmp / "zones")
    return list(zones.names().values())


def _import_boundary(path: Path, tmp: Path) -> list[str]:
    return list(import_boundaries(path, "code", "name", tmp / "boundaries").names().values())


IMPORTERS = {"zones": (_import_zone, ZoneError), "boundaries": (_import_boundary, BoundaryError)}


@pytest.fixture(params=sorted(IMPORTERS), ids=sorted(IMPORTERS))
def importer(request) -> tuple[Callable[[Path, Path], list[str]], type[Exception]]:
    return IMPORTERS[request.param]


def _nothing_saved(tmp: Path) -> None:
    assert load_zones(tmp / "zones").names() == {}
    assert not (tmp / "boundaries" / "areas.geojson").exists()


def _secret_file(tmp: Path) -> Path:
    path = tmp / "secret.txt"
    path.write_text(f"{SECRET}\nbob:hunter2\n", encoding="utf-8")
    return path


def _leaking_vrt(tmp: Path) -> str:
    """A GDAL virtual dataset that turns each line of a local file into a named polygon."""
    square = "POLYGON((-2.25 53.47,-2.24 53.47,-2.24 53.48,-2.25 53.47))"
    return f"""<OGRVRTDataSource>
  <OGRVRTLayer name="zones">
    <SrcDataSource>CSV:{_secret_file(tmp)}</SrcDataSource>
    <OpenOptions><OOI key="HEADERS">NO</OOI></OpenOptions>
    <SrcSQL dialect="SQLITE">SELECT field_1 AS name, field_1 AS code, '{square}' AS wkt
      FROM secret</SrcSQL>
    <GeometryField encoding="WKT" field="wkt"/>
    <LayerSRS>EPSG:4326</LayerSRS>
  </OGRVRTLayer>
</OGRVRTDataSource>
"""


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def _shapefile_parts(tmp: Path, gdf: gpd.GeoDataFrame | None = None) -> dict[str, bytes]:
    folder = tmp / "shp-src"
    folder.mkdir(exist_ok=True)
    (gdf if gdf is not None else _squares()).to_file(folder / "beats.shp")
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# ---------------------------------------------------------------------------------------------
# Hostile polygon files are refused, by content, before GDAL can follow them


@pytest.mark.parametrize("name", ["evil.vrt", "zones.geojson", "zones.gpkg"],
                         ids=["vrt", "vrt-renamed-geojson", "vrt-renamed-gpkg"])
def test_a_vrt_reading_a_local_file_is_refused_whatever_its_name(tmp_path, importer, name):
    run, error = importer
    path = tmp_path / name
    path.write_text(_leaking_vrt(tmp_path), encoding="utf-8")
    with pytest.raises(error, match=r"GDAL virtual dataset \(VRT\).*not accepted"):
        run(path, tmp_path)
    _nothing_saved(tmp_path)


class _Recorder(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 -- the name http.server calls
        type(self).hits.append(self.path)
        body = b'GEOGCS["x",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563]],' \
               b'PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]]'
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def local_web_server() -> Iterator[tuple[str, list[str]]]:
    """A web server on localhost that records every request (no outside network needed)."""
    _Recorder.hits = []
    server = http.server.HTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", _Recorder.hits
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    "crs",
    [
        lambda url: {"type": "link", "properties": {"href": f"{url}/crs", "type": "ogcwkt"}},
        lambda url: {"type": "link", "properties": {"href": f"/vsicurl/{url}/crs"}},
        lambda url: {"type": "name", "properties": {"name": f"/vsicurl/{url}/crs"}},
        lambda url: {"type": "name", "properties": {"name": "/etc/hostname"}},
    ],
    ids=["link-url", "link-vsicurl", "name-vsicurl", "name-local-file"],
)
def test_a_geojson_crs_pointing_at_a_url_or_file_is_refused_and_never_fetched(
        tmp_path, importer, local_web_server, crs):
    run, error = importer
    url, hits = local_web_server
    feature = {"type": "Feature", "properties": {"name": "A", "code": "A"},
               "geometry": shapely.geometry.mapping(shapely.box(-2.25, 53.47, -2.24, 53.48))}
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "crs": crs(url),
                                "features": [feature]}), encoding="utf-8")
    with pytest.raises(error, match="not an EPSG code; links to other files or web addresses"):
        run(path, tmp_path)
    assert hits == []
    _nothing_saved(tmp_path)


@pytest.mark.parametrize(
    "members, why",
    [
        ({"layer.vrt": b"<OGRVRTDataSource/>"}, "virtual dataset"),
        ({"../../evil.shp": b"x", "../../evil.shx": b"x", "../../evil.dbf": b"x"},
         "points outside the archive"),
        ({"/etc/evil.shp": b"x"}, "points outside the archive"),
        ({"inner.zip": b"PK\x05\x06" + b"\0" * 18}, "another archive"),
        ({"notes.txt": b"hello"}, "not part of a Shapefile"),
        ({"a.shp": b"x", "a.shx": b"x", "a.dbf": b"x", "b.shp": b"x", "b.shx": b"x",
          "b.dbf": b"x"}, "2 .shp files"),
        ({"a.shp": b"x", "a.dbf": b"x"}, r"lacks the Shapefile's \.shx"),
    ],
    ids=["vrt-member", "dot-dot", "absolute", "nested-zip", "other-file", "two-layers",
         "missing-shx"],
)
def test_a_zip_that_is_not_exactly_one_shapefile_is_refused(tmp_path, importer, members, why):
    run, error = importer
    parts = _shapefile_parts(tmp_path)
    if why in ("virtual dataset", "another archive", "not part of a Shapefile"):
        members = {**parts, **members}  # a genuine Shapefile plus the unwanted member
    path = _zip(tmp_path / "beats.zip", members)
    with pytest.raises(error, match=why):
        run(path, tmp_path)
    _nothing_saved(tmp_path)
    assert not (tmp_path.parent / "evil.shp").exists()


def test_a_zip_bomb_stops_at_the_decompressed_size_limit(tmp_path, importer, monkeypatch):
    run, error = importer
    monkeypatch.setenv("HOTSPOT_MAX_DECOMPRESSED_MB", "1")
    parts = _shapefile_parts(tmp_path)
    parts["beats.dbf"] = parts["beats.dbf"] + b" " * (3 * 1024 * 1024)  # 3 MB of padding
    path = _zip(tmp_path / "beats.zip", parts)
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(error, match=r"larger than 1 MB once decompressed; the limit is 1 MB "
                                    r"\(setting HOTSPOT_MAX_DECOMPRESSED_MB\)"):
        run(path, tmp_path)
    _nothing_saved(tmp_path)


@pytest.mark.parametrize(
    "content, why",
    [
        (b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"/>', "XML file"),
        (b"name,wkt\nA,\"POLYGON((0 0,1 0,1 1,0 0))\"\n", "none of these formats"),
        (gzip.compress(b'{"type": "FeatureCollection", "features": []}'), "gzip"),
        (b"SQLite format 3\x00" + b"\x00" * 200, "SQLite database but not a GeoPackage"),
        (b'["not", "geojson"]', "none of these formats"),
        (b'{"type": "Topology", "objects": {}}', "not a GeoJSON FeatureCollection"),
    ],
    ids=["kml", "csv-with-wkt", "gzip", "plain-sqlite", "json-list", "topojson"],
)
def test_other_formats_are_refused_with_the_accepted_ones_named(tmp_path, importer, content,
                                                                why):
    run, error = importer
    path = tmp_path / "zones.geojson"
    path.write_bytes(content)
    with pytest.raises(error, match=why) as err:
        run(path, tmp_path)
    assert "GeoJSON, GeoPackage or a zipped Shapefile" in str(err.value)


@pytest.mark.parametrize("source", ["/vsicurl/http://127.0.0.1:9/areas.geojson",
                                    "/vsizip//tmp/areas.zip/areas.shp",
                                    "https://example.org/areas.geojson"],
                         ids=["vsicurl", "vsizip", "url"])
def test_gdal_virtual_paths_and_urls_are_refused_before_gdal(tmp_path, importer, source):
    run, error = importer
    with pytest.raises(error, match="GDAL virtual path or a web address, not a file"):
        run(Path(source) if source.startswith("/") else source, tmp_path)


def test_a_geopackage_with_a_view_is_refused(tmp_path, importer):
    run, error = importer
    path = tmp_path / "areas.gpkg"
    _squares().to_file(path)
    with sqlite3.connect(path) as con:
        con.execute("CREATE VIEW sneaky AS SELECT sqlite_version() AS v")
    con.close()
    with pytest.raises(error, match=r"holds a view \('sneaky'\)"):
        run(path, tmp_path)


def test_geojson_with_non_finite_numbers_is_refused(tmp_path, importer):
    run, error = importer
    path = tmp_path / "zones.geojson"
    path.write_text('{"type": "Feature", "properties": {"name": "A", "code": "A"}, "geometry": '
                    '{"type": "Polygon", "coordinates": [[[0, 0], [1e999, 0], [1, 1], [0, 0]]]}}')
    with pytest.raises(error, match="not valid JSON"):
        run(path, tmp_path)


@pytest.mark.parametrize(
    "code, why",
    [(5701, r"ODN height \(Vertical CRS\), which is not a map projection"),
     (4978, r"\(Geocentric CRS\), which is not a map projection"),
     (27700, "do not land on the globe")],
    ids=["vertical", "geocentric", "far-off-the-grid"])
def test_a_crs_that_cannot_place_shapes_on_the_map_is_refused(tmp_path, importer, code, why):
    run, error = importer
    square = [[0, 0], [1e9, 0], [1e9, 1e9], [0, 0]]
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps({
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": f"urn:ogc:def:crs:EPSG::{code}"}},
        "features": [{"type": "Feature", "properties": {"name": "A", "code": "A"},
                      "geometry": {"type": "Polygon", "coordinates": [square]}}]}))
    with pytest.raises(error, match=why):
        run(path, tmp_path)
    _nothing_saved(tmp_path)


# ---------------------------------------------------------------------------------------------
# Genuine files still import


def test_geopackage_and_geojson_in_any_crs_import(tmp_path, importer):
    run, _ = importer
    _squares().to_file(tmp_path / "a.gpkg")
    assert run(tmp_path / "a.gpkg", tmp_path / "1") == ["Zone 0", "Zone 1"]
    _squares().to_file(tmp_path / "a.geojson", driver="GeoJSON")  # names EPSG:27700
    assert "27700" in (tmp_path / "a.geojson").read_text()
    assert run(tmp_path / "a.geojson", tmp_path / "2") == ["Zone 0", "Zone 1"]


def test_zipped_shapefile_imports_leaving_gis_sidecars_aside(tmp_path):
    parts = _shapefile_parts(tmp_path)
    extra = {"beats.sbn": b"\0" * 10, "beats.shp.xml": b"<metadata/>",
             "__MACOSX/._beats.shp": b"\0", "beats/": b""}
    path = _zip(tmp_path / "beats.zip", {**{f"folder/{k}": v for k, v in parts.items()},
                                         **extra})
    zones, notes = import_zones(path, "name", tmp_path / "zones")
    assert list(zones.names().values()) == ["Zone 0", "Zone 1"]
    assert any("beats.sbn" in n and "left aside" in n for n in notes)
    b = import_boundaries(path, "code", "name", tmp_path / "boundaries")
    assert sorted(b.names()) == ["A0", "A1"]


def test_uploaded_geojson_is_named_after_the_users_file_not_the_servers(tmp_path):
    from dashboard.components import uploaded_file

    text = json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {},
         "geometry": shapely.geometry.mapping(shapely.box(-2.25, 53.47, -2.24, 53.48))}]})
    url = "data:application/geo+json;base64," + base64.b64encode(text.encode()).decode()
    with uploaded_file(url, "C:\\fakepath\\Northern Quarter.geojson", "zones") as upload:
        assert upload.path.name == "upload"
        zones, notes = import_zones(upload.path, None, tmp_path / "zones",
                                    source_name=upload.name)
    assert list(zones.names().values()) == ["Northern Quarter"]
    assert zones.zones["notes"].tolist() == ["Imported from Northern Quarter.geojson"]


@needs_shared
def test_real_city_centre_uploaded_as_a_file_imports(tmp_path):
    from dashboard.components import uploaded_file

    raw = (SHARED_DATA / "venues" / "mcr_city_centre.geojson").read_bytes()
    url = "data:application/octet-stream;base64," + base64.b64encode(raw).decode()
    with uploaded_file(url, "mcr_city_centre.geojson") as upload:
        zones, _ = import_zones(upload.path, None, tmp_path / "zones", source_name=upload.name)
    assert list(zones.names().values()) == ["mcr_city_centre"]
    assert 1.0 < zones.zones_bng.geometry.iloc[0].area / 1e6 < 10.0  # km²: a city centre


# ---------------------------------------------------------------------------------------------
# Feature limit


@pytest.mark.parametrize("fmt", ["gpkg", "geojson", "zip"])
def test_more_polygons_than_the_limit_are_refused_naming_the_setting(tmp_path, importer,
                                                                    monkeypatch, fmt):
    run, error = importer
    monkeypatch.setenv("HOTSPOT_MAX_POLYGONS", "2")
    if fmt == "zip":
        path = _zip(tmp_path / "a.zip", _shapefile_parts(tmp_path, _squares(3)))
    else:
        path = tmp_path / f"a.{fmt}"
        _squares(3).to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON")
    with pytest.raises(error, match=r"has 3 features; the limit is 2 \(setting "
                                    r"HOTSPOT_MAX_POLYGONS\)"):
        run(path, tmp_path)
    monkeypatch.setenv("HOTSPOT_MAX_POLYGONS", "3")
    assert len(run(path, tmp_path)) == 3


# ---------------------------------------------------------------------------------------------
# The browser's data URL


@pytest.mark.parametrize(
    "contents, why",
    [
        ("no comma at all", "not a base64 data URL"),
        ("data:text/csv;base64,@@@not base64@@@", "base64 encoding is invalid"),
        ("data:text/csv,name,lat,lon", "not a base64 data URL"),
        (["data:text/csv;base64,YQ=="], "did not arrive as a file"),
        (None, "did not arrive as a file"),
    ],
    ids=["no-comma", "bad-base64", "not-base64", "a-list", "nothing"],
)
def test_malformed_upload_contents_get_a_plain_message(contents, why):
    from dashboard.components import UploadError, uploaded_file

    with pytest.raises(UploadError, match=why) as err, uploaded_file(contents, "venues.csv"):
        pass
    assert str(err.value).startswith("venues.csv: ")
    assert isinstance(err.value, ReadError)


def test_an_upload_beyond_the_request_limit_is_refused(monkeypatch):
    from dashboard.components import UploadError, decode_upload

    monkeypatch.setenv("HOTSPOT_MAX_REQUEST_MB", "1")
    url = "data:text/csv;base64," + base64.b64encode(b"x" * (1024 * 1024)).decode()
    with pytest.raises(UploadError, match=r"the limit is 1 MB \(setting HOTSPOT_MAX_REQUEST_MB"):
        decode_upload(url, "big.csv")


@pytest.mark.parametrize(
    "filename, shown",
    [("../../etc/passwd", "passwd"), ("/vsicurl/http://x/evil.vrt", "evil.vrt"),
     ("bad\nname\x1b[31m.csv", "bad name [31m.csv"), ("", "venues.csv"), (42, "venues.csv")],
    ids=["traversal", "vsicurl", "control-characters", "blank", "not-text"],
)
def test_the_browsers_file_name_is_only_shown_never_used_as_a_path(filename, shown):
    from dashboard.components import display_name, uploaded_file

    url = "data:text/csv;base64," + base64.b64encode(b"name,lat,lon\n").decode()
    with uploaded_file(url, filename, "venues.csv") as upload:
        assert upload.name == shown
        assert upload.path.name == "upload"
        assert upload.path.read_bytes() == b"name,lat,lon\n"
        folder = upload.path.parent
    assert not folder.exists()
    assert display_name("x" * 500, "d").startswith("x" * 60)
    assert len(display_name("x" * 500, "d")) == 80


# ---------------------------------------------------------------------------------------------
# Tables: gzip bombs and row limits


def _gzip_bomb(path: Path, header: bytes, row: bytes, size: int) -> Path:
    with gzip.open(path, "wb") as fh:
        fh.write(header)
        fh.write(row * (size // len(row)))
    return path


READERS = {
    "venues": (read_venues, b"name,type,lat,lon\n", b"Bar,bar,53.4794,-2.2453\n"),
    "harm": (load_harm_weights, b"category,weight\n", b"Robbery,5\n"),
    "patrol": (read_patrol_log, b"hotspot,start,end\n",
               b"H1,01/06/2024 22:00,01/06/2024 22:15\n"),
}


@pytest.mark.parametrize("kind", sorted(READERS))
def test_a_gzip_bomb_stops_at_the_decompressed_size_limit(tmp_path, monkeypatch, kind):
    read, header, row = READERS[kind]
    monkeypatch.setenv("HOTSPOT_MAX_DECOMPRESSED_MB", "1")
    path = _gzip_bomb(tmp_path / "bomb.csv.gz", header, row, 3 * 1024 * 1024)
    assert path.stat().st_size < 64 * 1024
    with pytest.raises(ReadError, match=r"bomb.csv.gz: the file is larger than 1 MB once "
                                        r"decompressed; the limit is 1 MB \(setting "
                                        r"HOTSPOT_MAX_DECOMPRESSED_MB\)"):
        read(path)


def test_a_gzip_of_one_endless_line_is_refused_not_split_into_a_million_cells(tmp_path):
    path = tmp_path / "commas.csv.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"name,type,lat,lon\n" + b"," * 2_000_000)
    with pytest.raises(ReadError, match=r"line 2 is longer than 1,000,000 characters"):
        read_venues(path)


@pytest.mark.parametrize("kind", sorted(READERS))
def test_more_rows_than_the_limit_are_refused_naming_the_setting(tmp_path, monkeypatch, kind):
    read, header, row = READERS[kind]
    monkeypatch.setenv("HOTSPOT_MAX_UPLOAD_ROWS", "3")
    path = tmp_path / "table.csv"
    # distinct rows, so none is rejected as a repeat of another
    rows = [row.replace(b"Bar", b"Bar%d" % i).replace(b"Robbery", b"Robbery%d" % i)
            .replace(b"H1", b"H%d" % i) for i in range(4)]
    path.write_bytes(header + b"".join(rows))
    with pytest.raises(ReadError, match=r"table.csv: the file has more than 3 rows; the limit "
                                        r"is 3 \(setting HOTSPOT_MAX_UPLOAD_ROWS\)"):
        read(path)
    path.write_bytes(header + b"".join(rows[:3]))
    first, _ = read(path)
    assert len(first if kind != "harm" else first.weights) == 3
