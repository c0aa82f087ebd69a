"""The app serves its basemap from a local MBTiles file (HOTSPOT_BASEMAP), at its own URLs."""

from __future__ import annotations

import gzip
import subprocess
import sys

import pytest

from geo.settings import DataPaths
from tests.tiles_helpers import png_tile, raster_mbtiles, tiles_covering, vector_mbtiles

PRESTON = (-2.70, 53.76)


def _app(tmp_path_factory, name, basemap):
    from dashboard.app import create_app

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOTSPOT_BASEMAP", str(basemap))
        mp.delenv("HOTSPOT_TILE_URL", raising=False)
        return create_app(DataPaths(tmp_path_factory.mktemp(name))).server.test_client()


@pytest.fixture(scope="module")
def raster(tmp_path_factory):
    path = raster_mbtiles(tmp_path_factory.mktemp("raster") / "r.mbtiles", zooms=range(9, 11))
    return _app(tmp_path_factory, "raster-data", path)


@pytest.fixture(scope="module")
def vector(tmp_path_factory):
    path = vector_mbtiles(tmp_path_factory.mktemp("vector") / "v.mbtiles", zooms=range(9, 11))
    return _app(tmp_path_factory, "vector-data", path)


def _a_tile(z=10):
    from tests.tiles_helpers import LANCASHIRE

    return tiles_covering(LANCASHIRE, z)[0]


def test_raster_tiles_are_served_as_stored_with_caching_headers(raster):
    x, y = _a_tile()
    resp = raster.get(f"/tiles/10/{x}/{y}.png")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert resp.data == png_tile()
    assert resp.headers["Cache-Control"] == "private, max-age=86400"
    assert "no-store" not in resp.headers["Cache-Control"] and resp.headers.get("ETag")
    again = raster.get(f"/tiles/10/{x}/{y}.png",
                       headers={"If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""


@pytest.mark.parametrize("path, status", [
    ("/tiles/10/0/0.png", 204),            # in the file's zooms, outside its area: no tile
    ("/tiles/3/0/0.png", 404),             # a zoom the file does not have
    ("/tiles/10/1024/0.png", 404),         # x off the grid at zoom 10
    ("/tiles/10/0/99999999.png", 404),     # y off the grid
    ("/tiles/25/0/0.png", 404),            # deeper than any map
    ("/tiles/10/-1/0.png", 404),           # not a number the route takes
    ("/tiles/10/0/0.pbf", 404),            # not this file's format
    ("/tiles/10/0/0.png.exe", 404),
    ("/tiles/a/b/c.png", 404),
], ids=["missing tile", "missing zoom", "x off grid", "y off grid", "too deep", "negative",
        "wrong format", "odd extension", "not numbers"])
def test_tiles_that_do_not_exist_are_refused(raster, path, status):
    assert raster.get(path).status_code == status


def test_vector_tiles_go_out_gzipped_as_stored_or_unzipped_for_a_client_that_cannot(vector):
    import mapbox_vector_tile

    x, y = _a_tile()
    zipped = vector.get(f"/tiles/10/{x}/{y}.pbf", headers={"Accept-Encoding": "gzip"})
    assert zipped.status_code == 200 and zipped.mimetype == "application/x-protobuf"
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    plain = vector.get(f"/tiles/10/{x}/{y}.pbf", headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers
    assert gzip.decompress(zipped.data) == plain.data
    layers = mapbox_vector_tile.decode(plain.data)
    assert set(layers) == {"roads", "buildings", "names"}
    assert vector.get(f"/tiles/10/{x}/{y}.mvt").status_code == 200


def test_the_style_points_at_the_apps_own_tiles_and_glyphs(vector, raster):
    style = vector.get("/tiles/style.json", base_url="http://localhost:8050").get_json()
    src = style["sources"]["basemap"]
    assert src["type"] == "vector"
    assert src["tiles"] == ["http://localhost:8050/tiles/{z}/{x}/{y}.pbf"]
    assert style["glyphs"] == "http://localhost:8050/tiles/glyphs/{fontstack}/{range}.pbf"
    ids = {layer["id"] for layer in style["layers"]}
    assert {"zs-roads", "zs-names", "zs-road-names"} <= ids  # streets and names
    rstyle = raster.get("/tiles/style.json").get_json()
    assert rstyle["sources"]["basemap"]["type"] == "raster"
    assert rstyle["sources"]["basemap"]["tiles"][0].endswith("/tiles/{z}/{x}/{y}.png")


def test_glyphs_are_served_and_bad_ranges_refused(vector):
    resp = vector.get("/tiles/glyphs/Hotspot%20Sans/0-255.pbf")
    assert resp.status_code == 200 and resp.mimetype == "application/x-protobuf"
    assert len(resp.data) > 10_000 and "max-age" in resp.headers["Cache-Control"]
    for bad in ("0-254", "256-100", "x-y", "99999999-100000254", "65536-65791"):
        assert vector.get(f"/tiles/glyphs/Hotspot%20Sans/{bad}.pbf").status_code == 404, bad


def test_every_map_uses_the_basemap_style(vector):
    from dashboard import basemap, services
    from dashboard.basemap import basemap_layout

    with vector.application.app_context():
        svc = services.current()
        assert svc.basemap is not None
        assert basemap_layout(center={"lat": 0, "lon": 0}, zoom=3)["style"] == \
            basemap.STYLE_PATH


def test_without_a_basemap_the_maps_stay_plain_and_there_is_no_style(tmp_path_factory):
    from dashboard.app import create_app
    from dashboard.basemap import basemap_layout

    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HOTSPOT_BASEMAP", raising=False)
        mp.delenv("HOTSPOT_TILE_URL", raising=False)
        client = create_app(DataPaths(tmp_path_factory.mktemp("plain"))).server.test_client()
    assert client.get("/tiles/style.json").status_code == 404
    assert client.get("/tiles/0/0/0.png").status_code == 404
    with client.application.app_context():
        assert basemap_layout()["style"] == "white-bg"


def test_a_site_tile_server_still_works_through_the_style(tmp_path_factory):
    from dashboard.app import create_app
    from dashboard.basemap import basemap_layout

    url = "https://tiles.force.example/{z}/{x}/{y}.png"
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HOTSPOT_BASEMAP", raising=False)
        mp.setenv("HOTSPOT_TILE_URL", url)
        client = create_app(DataPaths(tmp_path_factory.mktemp("site"))).server.test_client()
    style = client.get("/tiles/style.json").get_json()
    assert style["sources"]["basemap"]["tiles"] == [url]
    # the site's tile server is the one outside address the page may load images from
    csp = client.get("/tiles/style.json").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://tiles.force.example" in csp
    with client.application.app_context():
        assert basemap_layout()["style"] == "/tiles/style.json"


def test_serve_refuses_to_start_with_a_file_that_is_not_mbtiles(tmp_path):
    bogus = tmp_path / "zoomstack.mbtiles"
    bogus.write_text("this is a GeoPackage, honest")
    env = {"HOTSPOT_BASEMAP": str(bogus), "PATH": "/usr/bin:/bin"}
    import os

    from dashboard.liveserver import free_port

    env["PYTHONPATH"] = os.environ.get("PYTHONPATH", "")
    # a free port: were the file taken, the server must not clash with one of another test
    out = subprocess.run([sys.executable, "-m", "dashboard.cli", "serve", "--data-dir",
                          str(tmp_path / "data"), "--port", str(free_port())], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode != 0
    assert f"{bogus} is not an MBTiles file" in out.stderr
    assert "HOTSPOT_BASEMAP" in out.stderr


def test_tiles_need_a_signed_in_user(tmp_path_factory):
    from dashboard.access.policy import ROUTES, SIGNED_IN

    assert ROUTES["tiles.tile"] == ROUTES["tiles.style"] == ROUTES["tiles.glyphs"] == SIGNED_IN
