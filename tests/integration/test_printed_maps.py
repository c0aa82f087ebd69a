"""Printed maps (briefing, deployment sheet): the basemap or the boundaries, drawn into the
page, with numbered markers that match the table; the sheet is for the coming weekend."""

from __future__ import annotations

import re
from datetime import date

import pytest

from geo.settings import DataPaths
from tests.tiles_helpers import vector_mbtiles

RING = [[-2.708, 53.755], [-2.690, 53.755], [-2.690, 53.765], [-2.708, 53.765]]
MARKER = re.compile(r'<g class="marker">.*?<text [^>]*>(\d+)</text></g>')


def _client(tmp_path_factory, name, basemap=None):
    from dashboard.app import create_app
    from geo.ingest import load_sample
    from geo.zones import add_zone

    data = DataPaths(tmp_path_factory.mktemp(name))
    load_sample(data, n=3000, seed=5)
    add_zone(data.zones, {"type": "Polygon", "coordinates": [RING + RING[:1]]}, "Preston")
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("HOTSPOT_TILE_URL", raising=False)
        if basemap:
            mp.setenv("HOTSPOT_BASEMAP", str(basemap))
        else:
            mp.delenv("HOTSPOT_BASEMAP", raising=False)
        return create_app(data).server.test_client()


@pytest.fixture(scope="module")
def with_basemap(tmp_path_factory):
    path = vector_mbtiles(tmp_path_factory.mktemp("tiles") / "v.mbtiles", zooms=range(8, 15))
    return _client(tmp_path_factory, "maps-basemap", path)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return _client(tmp_path_factory, "maps-plain")


def _zone(client) -> str:
    return client.get("/api/v1/nte/zones").get_json()["features"][0]["id"]


def test_briefing_overview_numbers_match_the_table_and_each_page(with_basemap):
    html = with_basemap.get("/patrol/briefing?n=6").get_data(as_text=True)
    overview = html.split('<section class="page overview">')[1].split("</section>")[0]
    table = re.findall(r"<tr><td><b>(\d+)</b></td>", overview)
    assert table == ["1", "2", "3", "4", "5", "6"]
    assert sorted(MARKER.findall(overview), key=int) == table  # a marker for every row
    pages = html.split('<section class="page">')[1:]
    assert len(pages) == 6
    for rank, page in enumerate(pages, start=1):
        assert f"<h1>Hotspot {rank} of 6" in page and MARKER.findall(page) == [str(rank)]
    # the background is the basemap, drawn into the page (nothing to fetch when printed)
    assert html.count('<image href="data:image/png;base64,') == 7
    assert html.count("Map: test vector") == 7 and "boundaries only" not in html


def test_without_a_basemap_the_printed_maps_show_the_boundaries(plain):
    html = plain.get("/patrol/briefing?n=2").get_data(as_text=True)
    assert html.count('<image href="data:image/png;base64,') == 3
    assert "Map: boundaries only" in html
    assert sorted(MARKER.findall(html)) == ["1", "1", "2", "2"]


def test_the_sheet_is_for_the_coming_weekend_from_the_last_weekends(with_basemap):
    zone = _zone(with_basemap)
    html = with_basemap.get(f"/nte/sheet?zone={zone}").get_data(as_text=True)
    today = date.today()
    # the sample ends in March 2025, so the coming weekend is counted from today
    friday = date.fromordinal(today.toordinal() + (4 - today.weekday()) % 7) \
        if today.weekday() not in (5, 6) else date.fromordinal(
            today.toordinal() - (today.weekday() - 4))
    assert f"Friday {friday:%d %B %Y}" in html and "the coming weekend, counted from today" in html
    assert "Expected: about" in html and "Read with care" in html
    history = [int(n) for n in re.findall(r"<tr><td>Fri [\d-]+</td><td>(\d+)</td>", html)]
    assert len(history) == 12
    # every count on the sheet is over those twelve weekends: none exceeds their total
    where = html.split("<h2>Where</h2>")[1].split("</table>")[0]
    cells = [int(n) for n in re.findall(r"<tr><td><b>\d+</b></td><td>(\d+)</td>", where)]
    assert cells and sum(cells) <= sum(history)
    when = html.split("<h2>When to deploy</h2>")[1].split("</p>")[0]
    assert sum(int(n) for n in re.findall(r"\((\d+), ", when)) <= sum(history)
    mean = sum(history) / len(history)
    assert f"Expected: about {mean:.1f} incidents" in html
    # numbered markers on the map match the table's rows
    assert sorted(MARKER.findall(where), key=int) == [str(i) for i in range(1, len(cells) + 1)]
    assert "Map: test vector" in where


def test_a_past_weekend_shows_its_forecast_beside_what_was_recorded(with_basemap):
    zone = _zone(with_basemap)
    html = with_basemap.get(f"/nte/sheet?zone={zone}&weekend=2025-03-28").get_data(
        as_text=True)
    assert "a past weekend" in html and "Recorded:" in html
    assert "Fri 2025-03-28" not in html  # its own count is not part of its forecast
    resp = with_basemap.get(f"/nte/sheet?zone={zone}&weekend=2099-01-02")
    assert resp.status_code == 400


def test_a_map_printed_again_is_not_drawn_again_until_the_boundaries_change(
        tmp_path_factory, monkeypatch):
    """The briefing's places do not move between prints: their backgrounds are drawn once.
    New boundaries (the fallback draws them) are drawn afresh."""
    import dashboard.staticmap as staticmap
    from dashboard import services
    from geo.boundaries import import_boundaries
    from geo.settings import bundled_data_dir

    client = _client(tmp_path_factory, "maps-again")
    drawn = []
    real = staticmap.render
    monkeypatch.setattr(staticmap, "render",
                        lambda frame, *a, **k: drawn.append(frame) or real(frame, *a, **k))
    images = re.compile(r'data:image/png;base64,[^"]+')
    first = images.findall(client.get("/patrol/briefing?n=2").get_data(as_text=True))
    assert len(first) == 3 and len(drawn) == 3  # two places and the overview
    again = images.findall(client.get("/patrol/briefing?n=2").get_data(as_text=True))
    one = images.findall(client.get("/patrol/briefing?n=2&rank=2").get_data(as_text=True))
    assert again == first and len(one) == 1 and one[0] in first and len(drawn) == 3
    data = client.application.extensions[services.EXTENSION].data
    import_boundaries(bundled_data_dir() / "boundaries" / "lancashire_lads.geojson", "code",
                      "name", data.boundaries)
    redrawn = images.findall(client.get("/patrol/briefing?n=2").get_data(as_text=True))
    assert len(drawn) == 6 and drawn[3:] == drawn[:3]  # the same frames, drawn again
    assert len(redrawn) == 3
