"""The basemap from a local MBTiles file is drawn on the maps, with nothing fetched off the
machine (the page fixture fails a test on any request that is not to 127.0.0.1)."""

from __future__ import annotations

import io

import pytest

from tests.browser.conftest import serve
from tests.tiles_helpers import TILE_RGB, raster_mbtiles, vector_mbtiles

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def raster_server(tmp_path_factory):
    path = raster_mbtiles(tmp_path_factory.mktemp("raster-tiles") / "raster.mbtiles")
    with serve(tmp_path_factory.mktemp("raster-data"), {"HOTSPOT_BASEMAP": str(path)}) as url:
        yield url


@pytest.fixture(scope="module")
def vector_server(tmp_path_factory):
    path = vector_mbtiles(tmp_path_factory.mktemp("vector-tiles") / "vector.mbtiles",
                          zooms=range(6, 12))
    with serve(tmp_path_factory.mktemp("vector-data"), {"HOTSPOT_BASEMAP": str(path)}) as url:
        yield url


def _record_tiles(page) -> list[tuple[int, str]]:
    seen: list[tuple[int, str]] = []
    page.on("response", lambda r: seen.append((r.status, r.url)) if "/tiles/" in r.url
            else None)
    return seen


def _map_pixels(page, selector: str):
    from PIL import Image

    box = page.locator(f"{selector} .maplibregl-canvas").first.bounding_box()
    shot = page.screenshot(clip=box)
    return Image.open(io.BytesIO(shot)).convert("RGB")


def _share(img, rgb, tolerance=40) -> float:
    """Share of the image's pixels within ``tolerance`` of ``rgb`` in every channel."""
    import numpy as np

    px = np.asarray(img, dtype=int).reshape(-1, 3)
    return float((np.abs(px - np.array(rgb)) <= tolerance).all(axis=1).mean())


def test_raster_basemap_is_drawn_under_the_explorer_map(page, raster_server):
    tiles = _record_tiles(page)
    # hexagons only: the authorities' shading would tint the whole basemap
    page.goto(raster_server + "/?layers=cells")
    page.wait_for_selector("#explorer-map .js-plotly-plot .maplibregl-canvas", timeout=30_000)
    page.wait_for_function("() => ((window.hotspotMapPainted && window.hotspotMapPainted())"
                           " || {cells: []}).cells.length > 0", timeout=30_000)
    page.wait_for_timeout(2500)
    served = [u for s, u in tiles if s == 200 and u.endswith(".png")]
    assert served, f"no basemap tile was served: {tiles[:5]}"
    assert all(u.startswith(raster_server + "/tiles/") for u in served)
    # the magenta tiles show between the hexagons
    assert _share(_map_pixels(page, "#explorer-map"), TILE_RGB) > 0.05


def test_vector_basemap_draws_streets_and_names_on_every_map(page, vector_server):
    tiles = _record_tiles(page)
    page.goto(vector_server + "/?layers=cells")
    page.wait_for_selector("#explorer-map .js-plotly-plot .maplibregl-canvas", timeout=30_000)
    page.wait_for_timeout(3000)
    ok = {u.split("/tiles/")[1].split("/")[0] for s, u in tiles if s == 200}
    assert {"style.json", "glyphs"} <= ok, tiles[:10]  # names need the app's own glyphs
    assert any(u.endswith(".pbf") and "/glyphs/" not in u for s, u in tiles if s == 200)
    img = _map_pixels(page, "#explorer-map")
    assert _share(img, (0xF4, 0xF3, 0xF0), tolerance=6) > 0.05  # the basemap's land colour
    # the other pages' maps use the same basemap
    for path, graph in (("/patrol", "#patrol-map"), ("/nte", "#nte-map"),
                        ("/figures", "#figures-map"), ("/board", "#board-area-map")):
        before = len(tiles)
        page.goto(vector_server + path)
        page.wait_for_selector(f"{graph} .maplibregl-canvas", timeout=30_000)
        page.wait_for_timeout(1500)
        assert any(s == 200 and u.endswith("/tiles/style.json") for s, u in tiles[before:]), path
