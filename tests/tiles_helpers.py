"""Tiny MBTiles files for the basemap tests: raster tiles drawn with Pillow, vector tiles
encoded with mapbox-vector-tile (the library the app decodes them with)."""

from __future__ import annotations

import io
import math
from pathlib import Path

from geo.tiles import gzip_bytes, write_mbtiles

#: The bundled sample's force area (Lancashire), west, south, east, north.
LANCASHIRE = (-3.2, 53.45, -2.0, 54.25)
#: The raster tiles' colour: a magenta no real map or data layer uses, so a screenshot can be
#: searched for it.
TILE_RGB = (214, 0, 214)


def tiles_covering(bounds: tuple[float, float, float, float], z: int) -> list[tuple[int, int]]:
    west, south, east, north = bounds
    n = 1 << z

    def tx(lon: float) -> int:
        return min(n - 1, int((lon + 180) / 360 * n))

    def ty(lat: float) -> int:
        s = math.sin(math.radians(lat))
        return min(n - 1, int((0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * n))

    return [(x, y) for x in range(tx(west), tx(east) + 1) for y in range(ty(north), ty(south) + 1)]


def png_tile(rgb: tuple[int, int, int] = TILE_RGB, label: str = "") -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (256, 256), rgb)
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, 255, 255), outline=(255, 255, 255), width=2)
    if label:
        draw.text((10, 10), label, fill=(255, 255, 255))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def raster_mbtiles(path: Path, zooms: range = range(6, 13),
                   bounds: tuple[float, float, float, float] = LANCASHIRE) -> Path:
    """Write a raster MBTiles of plain magenta tiles over ``bounds``."""
    tile = png_tile()
    tiles = {(z, x, y): tile for z in zooms for x, y in tiles_covering(bounds, z)}
    write_mbtiles(path, tiles, format="png", name="test raster", bounds=bounds)
    return path


def vector_tile(road_name: str = "Test Street", place: str = "Testford") -> bytes:
    """One gzipped vector tile in OS Open Zoomstack's layout: roads, buildings, names."""
    import mapbox_vector_tile

    layers = [
        {"name": "roads", "features": [
            {"geometry": "LINESTRING (0 2048, 4096 2048)",
             "properties": {"type": "A Road", "name": road_name, "level": 0}},
            {"geometry": "LINESTRING (2048 0, 2048 4096)",
             "properties": {"type": "Local", "name": "Cross Lane", "level": 0}}]},
        {"name": "buildings", "features": [
            {"geometry": "POLYGON ((600 600, 1400 600, 1400 1400, 600 1400, 600 600))",
             "properties": {}}]},
        {"name": "names", "features": [
            {"geometry": "POINT (1024 3072)", "properties": {"type": "Town", "name1": place}}]},
    ]
    raw = mapbox_vector_tile.encode(layers, default_options={"y_coord_down": True})
    return gzip_bytes(raw)


def vector_mbtiles(path: Path, zooms: range = range(6, 15),
                   bounds: tuple[float, float, float, float] = LANCASHIRE) -> Path:
    """Write a vector MBTiles (gzipped pbf) of one cross of roads and a town per tile."""
    tile = vector_tile()
    tiles = {(z, x, y): tile for z in zooms for x, y in tiles_covering(bounds, z)}
    write_mbtiles(path, tiles, format="pbf", name="test vector", bounds=bounds,
                  vector_layers=["roads", "buildings", "names"])
    return path
