"""The shift view's small offline map (dashboard/layouts/_shiftmap.py), as plain functions."""

from __future__ import annotations

import doctest
import math

import pytest
from numpy.testing import assert_allclose
from shapely.geometry import Point, box

from dashboard.layouts import _shiftmap
from dashboard.layouts._shiftmap import Place, fit_view, mercator, scale_bar, shift_map, spread

#: Positions compared to a millionth of the map: far below a pixel.
FRACTION_TOL = 1e-6
#: Two places about 1 km apart in Blackpool.
PLACES = [Place(1, -3.0527, 53.8193), Place(2, -3.0380, 53.8120)]


def test_examples_in_the_docstrings_run():
    result = doctest.testmod(_shiftmap, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted >= 5 and result.failed == 0


def test_every_place_is_inside_the_view_with_room_around_it():
    view = fit_view(PLACES)
    for p in PLACES:
        fx, fy = view.fraction(p.lon, p.lat)
        assert 0.1 < fx < 0.9 and 0.1 < fy < 0.9
    # the map keeps its 4:3 shape in ground distance: Mercator units are square
    assert_allclose((view.x1 - view.x0) / (view.y1 - view.y0), 4 / 3, rtol=1e-9)


def test_one_place_is_not_drawn_at_street_level():
    view = fit_view(PLACES[:1])
    assert view.width_m() == pytest.approx(_shiftmap.MIN_SPAN_M, rel=1e-6)
    assert_allclose(view.fraction(PLACES[0].lon, PLACES[0].lat), (0.5, 0.5),
                    atol=FRACTION_TOL)


def test_north_is_up_and_east_is_right():
    view = fit_view(PLACES)
    (x1, y1), (x2, y2) = (view.fraction(p.lon, p.lat) for p in PLACES)
    assert x2 > x1 and y2 > y1  # place 2 lies east and south of place 1


def test_markers_on_the_same_spot_are_parted_and_others_stay_put():
    parted = spread([(0.5, 0.5), (0.5, 0.5), (0.1, 0.9)])
    (ax, ay), (bx, by), far = parted
    assert math.hypot(ax - bx, (ay - by) * 0.75) >= 0.075 - 1e-9
    assert far == (0.1, 0.9)


def test_scale_bar_is_a_round_length_about_a_quarter_of_the_map():
    bar, share = scale_bar(fit_view(PLACES))
    assert bar in _shiftmap.BAR_LENGTHS_M and 0.1 < share < 0.45


def test_the_map_has_a_text_alternative_and_a_numbered_marker_per_place():
    # the officer's area has an edge through the map; another area lies 20 km away
    areas = [(box(-3.1, 53.80, -3.045, 53.85), True), (Point(-2.7, 53.76).buffer(0.05), False)]
    places = [Place(p.rank, p.lon, p.lat, Point(p.lon, p.lat).buffer(0.001).__geo_interface__)
              for p in PLACES]
    component, view, credit = shift_map(places, areas, map_id="m", here_id="h",
                                label="Map of the 2 places in the list above")
    assert component.role == "img" and credit == ""  # no basemap set up
    assert getattr(component, "aria-label") == "Map of the 2 places in the list above"
    markers = [c for c in component.children if getattr(c, "className", "") == "shift-marker"]
    assert [m.children for m in markers] == ["1", "2"]
    here = next(c for c in component.children if getattr(c, "id", None) == "h")
    assert here.hidden is True  # nobody is located without asking
    svg = next(c for c in component.children if getattr(c, "className", "") == "shift-outlines")
    assert svg.src.startswith("data:image/svg+xml") and svg.alt == ""
    # the officer's area's edge and each place's outline; the far-away area is clipped out
    assert svg.src.count("%3Cpath") == 1 + len(places)
    assert "stroke-dasharray%3D%22none%22" in svg.src  # the officer's own area: solid
    assert view.x0 < mercator(PLACES[0].lon, PLACES[0].lat)[0] < view.x1


def test_the_sites_basemap_is_drawn_beneath_with_its_credit(tmp_path):
    import base64
    import io

    from PIL import Image

    from geo.tiles import MBTiles
    from tests.tiles_helpers import TILE_RGB, raster_mbtiles

    tiles = MBTiles(raster_mbtiles(tmp_path / "magenta.mbtiles"))
    component, _view, credit = shift_map(PLACES, [], map_id="m", here_id="h", label="Map",
                                         basemap=tiles)
    assert credit.startswith("Map: test raster")
    [background] = [c for c in component.children
                    if getattr(c, "className", "") == "shift-basemap"]
    assert background.src.startswith("data:image/png;base64,")  # in the page: nothing fetched
    png = Image.open(io.BytesIO(base64.b64decode(background.src.split(",", 1)[1])))
    assert png.size == _shiftmap.BACKGROUND_PX
    assert png.convert("RGB").getpixel((320, 240)) == TILE_RGB  # the basemap's own tiles
