"""Reading MBTiles files (geo/tiles.py), the basemap styles and the label glyphs."""

from __future__ import annotations

import sqlite3

import pytest

from geo.tiles import MBTiles, MBTilesError, check_tile, gunzip_tile, write_mbtiles
from tests.tiles_helpers import png_tile, vector_tile


def test_tiles_are_found_by_web_map_y_though_stored_in_tms_order(tmp_path):
    north, south = png_tile((255, 0, 0)), png_tile((0, 0, 255))
    path = tmp_path / "t.mbtiles"
    # at zoom 1, web-map y=0 is the northern row; MBTiles stores it as tile_row 1
    write_mbtiles(path, {(1, 0, 0): north, (1, 0, 1): south}, format="png")
    with sqlite3.connect(path) as con:
        assert con.execute("SELECT tile_row FROM tiles WHERE tile_data = ?",
                           (north,)).fetchone() == (1,)
    tiles = MBTiles(path)
    assert tiles.tile(1, 0, 0) == north and tiles.tile(1, 0, 1) == south
    assert tiles.tile(1, 1, 0) is None  # in the grid, not in the file
    assert (tiles.info.format, tiles.info.minzoom, tiles.info.maxzoom) == ("png", 1, 1)
    assert tiles.info.content_type == "image/png" and not tiles.info.is_vector


@pytest.mark.parametrize("z, x, y", [(-1, 0, 0), (25, 0, 0), (2, 4, 0), (2, 0, 4), (0, -1, 0),
                                     (3, 2**40, 1)],
                         ids=["negative zoom", "zoom too deep", "x off the grid",
                              "y off the grid", "negative x", "huge x"])
def test_tiles_off_the_web_map_grid_are_refused(z, x, y):
    with pytest.raises(ValueError, match="there is no"):
        check_tile(z, x, y)


def test_the_file_cannot_be_changed_through_the_reader(tmp_path):
    path = tmp_path / "t.mbtiles"
    write_mbtiles(path, {(0, 0, 0): b"x"}, format="png")
    tiles = MBTiles(path)
    with pytest.raises(sqlite3.OperationalError):
        tiles._con().execute("DELETE FROM tiles")
    assert tiles.tile(0, 0, 0) == b"x"


def _sqlite(path, *statements):
    con = sqlite3.connect(path)
    for s in statements:
        con.execute(s)
    con.commit()
    con.close()
    return path


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "does not exist"),
    (lambda p: (p.write_text("name,value\nformat,png\n"), p)[1], "not an SQLite database"),
    (lambda p: _sqlite(p, "CREATE TABLE things (a)"), "no metadata and no tiles table"),
    (lambda p: _sqlite(p, "CREATE TABLE metadata (name, value)",
                       "CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data)",
                       "INSERT INTO metadata VALUES ('format', 'geojson')",
                       "INSERT INTO tiles VALUES (0, 0, 0, x'00')"), "format 'geojson'"),
    (lambda p: _sqlite(p, "CREATE TABLE metadata (name, value)",
                       "CREATE TABLE tiles (z, x, y, data)"), "lacks the columns"),
    (lambda p: _sqlite(p, "CREATE TABLE metadata (name, value)",
                       "CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data)",
                       "INSERT INTO metadata VALUES ('format', 'png')"), "holds no tiles"),
    (lambda p: _sqlite(p, "CREATE TABLE metadata (name, value)",
                       "CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data)",
                       "INSERT INTO metadata VALUES ('format', 'png')",
                       "INSERT INTO metadata VALUES ('minzoom', '0')",
                       "INSERT INTO metadata VALUES ('maxzoom', '0')",
                       "INSERT INTO metadata VALUES ('bounds', 'somewhere')"), "bounds"),
], ids=["missing", "a CSV", "other tables", "unknown format", "wrong columns", "empty",
        "bad bounds"])
def test_a_file_that_is_not_a_usable_mbtiles_is_refused_with_the_reason(tmp_path, make,
                                                                          message):
    path = make(tmp_path / "basemap.mbtiles")
    with pytest.raises(MBTilesError, match=message):
        MBTiles(path)


def test_a_file_without_a_format_is_recognised_from_its_tiles(tmp_path):
    path = _sqlite(tmp_path / "t.mbtiles", "CREATE TABLE metadata (name, value)",
                   "CREATE TABLE tiles (zoom_level, tile_column, tile_row, tile_data)")
    with sqlite3.connect(path) as con:
        con.execute("INSERT INTO tiles VALUES (0, 0, 0, ?)", (vector_tile(),))
    info = MBTiles(path).info
    assert info.format == "pbf" and info.is_vector and (info.minzoom, info.maxzoom) == (0, 0)


def test_a_tile_that_inflates_past_the_bound_is_refused(monkeypatch):
    import geo.tiles
    from geo.tiles import gzip_bytes

    monkeypatch.setattr(geo.tiles, "MAX_UNZIPPED_TILE_BYTES", 1000)
    assert gunzip_tile(gzip_bytes(b"a" * 1000)) == b"a" * 1000
    with pytest.raises(MBTilesError, match="more than"):
        gunzip_tile(gzip_bytes(b"a" * 1001))


# ---------------------------------------------------------------------------------------------
# Styles and glyphs
# ---------------------------------------------------------------------------------------------
def test_zoomstack_layers_get_the_zoomstack_style_and_unknown_ones_a_generic_one(tmp_path):
    from dashboard.basemap import vector_style

    path = tmp_path / "v.mbtiles"
    write_mbtiles(path, {(0, 0, 0): vector_tile()}, format="pbf",
                  vector_layers=["roads", "names", "buildings", "pylons"])
    info = MBTiles(path).info
    layers = [{"id": n, "fields": ["name"] if n == "pylons" else []}
              for n in ("roads", "names", "buildings", "pylons")]
    style = vector_style(info, ["http://h/tiles/{z}/{x}/{y}.pbf"], "http://h/g/{fontstack}",
                         layers)
    by_id = {layer["id"]: layer for layer in style["layers"]}
    assert {"zs-roads", "zs-road-names", "zs-names", "zs-buildings"} <= set(by_id)
    assert by_id["zs-names"]["layout"]["text-field"][0] == "coalesce"
    # the layer Zoomstack does not have is still drawn, as lines, fills and points, and named
    assert {"g-line-pylons", "g-fill-pylons", "g-circle-pylons", "g-names-pylons"} <= set(by_id)
    assert not any(i.startswith("g-") and i.endswith("roads") for i in by_id)
    assert style["sources"]["basemap"]["tiles"] == ["http://h/tiles/{z}/{x}/{y}.pbf"]
    # every text layer uses the app's own glyphs
    fonts = {str(layer["layout"].get("text-font")) for layer in style["layers"]
             if layer["type"] == "symbol"}
    assert all("Hotspot Sans" in f for f in fonts) and style["glyphs"] == "http://h/g/{fontstack}"


def test_a_vector_file_of_unknown_layers_is_drawn_with_the_generic_style(tmp_path):
    from dashboard.basemap import vector_style

    path = tmp_path / "v.mbtiles"
    write_mbtiles(path, {(0, 0, 0): vector_tile()}, format="pbf")
    info = MBTiles(path).info
    style = vector_style(info, ["u"], "g", [{"id": "water", "fields": []}])
    assert [layer["id"] for layer in style["layers"]] == [
        "background", "g-fill-water", "g-line-water", "g-circle-water"]


def _fields(buf: bytes) -> list[tuple[int, object]]:
    """Decode one protocol-buffer message: (field number, int or bytes) pairs."""
    out, i = [], 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            b = buf[i]
            i += 1
            value |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                return value

    while i < len(buf):
        key = varint()
        if key & 7 == 0:
            out.append((key >> 3, varint()))
        else:
            n = varint()
            out.append((key >> 3, buf[i:i + n]))
            i += n
    return out


def test_glyphs_are_sdf_bitmaps_in_the_layout_maplibre_reads():
    from dashboard.glyphs import BORDER, glyph_range

    (tag, stack), = _fields(glyph_range(0))
    fields = _fields(stack)
    assert tag == 1 and (1, b"Hotspot Sans") in fields and (2, b"0-255") in fields
    glyphs = {dict(_fields(g))[1]: dict(_fields(g)) for t, g in fields if t == 3}
    assert {ord("A"), ord("z"), ord("é"), ord(" ")} <= set(glyphs)
    a = glyphs[ord("A")]
    width, height = a[3], a[4]
    assert 10 <= width <= 24 and 12 <= height <= 24 and a[7] >= width - 2
    bitmap = a[2]
    assert len(bitmap) == (width + 2 * BORDER) * (height + 2 * BORDER)
    # inside the letter the field is high, at the border (outside) it is low
    assert max(bitmap) > 191 and bitmap[0] < 64
    assert 2 not in glyphs[ord(" ")]  # a space has metrics and no bitmap
    with pytest.raises(ValueError, match="multiple of 256"):
        glyph_range(100)


# ---------------------------------------------------------------------------------------------
# Printed maps
# ---------------------------------------------------------------------------------------------
def _decode(uri: str):
    import base64
    import io

    import numpy as np
    from PIL import Image

    png = base64.b64decode(uri.removeprefix("data:image/png;base64,"))
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=int)


def test_a_printed_map_is_stitched_from_raster_tiles(tmp_path):
    import numpy as np

    from dashboard.staticmap import frame_around, render
    from tests.tiles_helpers import TILE_RGB, raster_mbtiles

    tiles = MBTiles(raster_mbtiles(tmp_path / "r.mbtiles", zooms=range(12, 15)))
    frame = frame_around([-2.70, -2.69], [53.755, 53.765], width=300, height=300)
    img = render(frame, tiles)
    px = _decode(img.uri)
    assert px.shape == (300, 300, 3) and img.source == "Map: test raster"
    assert (np.abs(px - TILE_RGB) <= 30).all(axis=2).mean() > 0.8


def test_a_printed_map_draws_vector_streets_and_names(tmp_path):
    from dashboard.staticmap import LAND, frame_around, render
    from tests.tiles_helpers import vector_mbtiles

    tiles = MBTiles(vector_mbtiles(tmp_path / "v.mbtiles", zooms=range(12, 15)))
    frame = frame_around([-2.70, -2.69], [53.755, 53.765], width=300, height=300)
    px = _decode(render(frame, tiles).uri)
    land = (abs(px - LAND) <= 3).all(axis=2).mean()
    white_road = (px >= 250).all(axis=2).mean()
    dark_text = (px <= 90).all(axis=2).mean()  # labels: street and town names
    assert land > 0.3 and white_road > 0.005 and dark_text > 0.0005


def test_without_tiles_a_printed_map_shows_the_boundaries():
    from dashboard.staticmap import frame_around, render

    ring = [(-2.698, 53.757), (-2.692, 53.757), (-2.692, 53.763), (-2.698, 53.763),
            (-2.698, 53.757)]
    frame = frame_around([-2.70, -2.69], [53.755, 53.765], width=300, height=300)
    img = render(frame, None, [("Preston", [ring])])
    px = _decode(img.uri)
    assert "boundaries only" in img.source and (px < 200).all(axis=2).mean() > 0.005
