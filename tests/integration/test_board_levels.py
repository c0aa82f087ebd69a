"""The board at ward level: areas by rate, what changed and need, below the authorities.

The wards are built here: each bundled Lancashire district cut in two through its centroid,
each half with half the district's residents, imported as the ``ward`` level.
"""

from __future__ import annotations

from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.access import load_roles
from geo.settings import DataPaths, bundled_data_dir


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.boundaries import import_level
    from geo.ingest import load_sample

    root = tmp_path_factory.mktemp("board-levels")
    data = DataPaths(root / "data")
    load_sample(data, n=20000, seed=4)
    from geo.groups import set_group

    for name, cats in (("weapons", ["Possession of weapons"]), ("robbery", ["Robbery"]),
                       ("public-order", ["Public order"]),
                       ("sexual", ["Sexual offences"])):
        set_group(data.groups, name, cats)
    districts = gpd.read_file(bundled_data_dir() / "boundaries" / "lancashire_lads.geojson")
    pops = pd.read_csv(bundled_data_dir() / "boundaries" / "population.csv",
                       dtype={"code": str}).set_index("code")["population"]
    code_col, name_col = "code", "name"
    bng = districts.to_crs(27700)
    rows = []
    for code, name, geom in zip(bng[code_col], bng[name_col], bng.geometry, strict=True):
        x = geom.centroid.x
        minx, miny, maxx, maxy = geom.bounds
        for side, cut in (("W", shapely.box(minx - 1, miny - 1, x, maxy + 1)),
                          ("E", shapely.box(x, miny - 1, maxx + 1, maxy + 1))):
            rows.append({"WD": f"{code}{side}", "WDNM": f"{name} {side}",
                         "POP": float(pops[code]) / 2, "geometry": geom.intersection(cut)})
    wards = gpd.GeoDataFrame(rows, crs=27700)
    path = root / "wards.geojson"
    wards.to_crs(4326).to_file(path, driver="GeoJSON")
    import_level(path, "WD", "WDNM", data.boundaries, "ward", population_field="POP")
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {r: accounts.create_token(f"{r}-levels", r) for r in ("board", "analyst")}
    app.wards = wards.to_crs(4326)
    return app


def get(app, role, path):
    resp = app.server.test_client().get(path, headers={"Authorization":
                                                       f"Bearer {app.tokens[role]}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def test_ward_counts_are_a_direct_point_in_polygon_count(app):
    from dashboard import services

    body = get(app, "analyst", "/api/v1/board?level=ward")
    police = body["areas"][0]
    assert police["level"] == "ward" and not police["public_places_only"]
    h = body["headlines"][0]
    with app.server.test_request_context("/"):
        fr = services.current().query.labels()
    day = np.where(fr.day >= 0, fr.day, fr.month_first)
    src = np.asarray(fr.sources, dtype=object)[fr.source]
    lo = (date.fromisoformat(h["period_start"]) - date(1970, 1, 1)).days
    hi = (date.fromisoformat(h["period_end"]) - date(1970, 1, 1)).days
    keep = (src == "police") & (day >= lo) & (day <= hi)
    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(fr.lon[keep], fr.lat[keep]),
                              crs=4326)
    joined = gpd.sjoin(points, app.wards, predicate="within")
    expected = joined["WD"].value_counts()
    got = {r["code"]: r["count"] for r in police["rows"]}
    assert got == {c: int(expected.get(c, 0)) for c in got}
    assert sum(got.values()) == len(joined) <= h["count"]
    assert h["count"] - sum(got.values()) <= 3  # a point or two on a cut line at most
    pops = {r["code"]: r["population"] for r in police["rows"]}
    for r in police["rows"]:
        assert r["rate_per_1000"] == pytest.approx(1000 * r["count"] / pops[r["code"]])
    # what changed names wards, and the need table lists wards
    assert any(" most by rate in " in s and (" W:" in s or " E:" in s)
               for s in body["changes"])
    assert {r["code"] for r in body["activity"]} == set(got)


def test_a_board_member_sees_wards_suppressed_and_public_places_only(app):
    body = get(app, "board", "/api/v1/board?level=ward&group=weapons")
    table = body["areas"][0]
    assert table["level"] == "ward" and table["public_places_only"]
    hidden = 0
    for t in body["areas"]:
        for r in t["rows"]:
            for key in ("count", "baseline_count"):
                assert r[key] is None or r[key] == 0 or r[key] >= 5, r
                hidden += r[key] is None and bool(t["baseline_label"] or key == "count")
    assert hidden
    # one authority's wards, and nothing outside it
    preston = get(app, "board", "/api/v1/board?level=ward&la=E07000123")
    assert {r["code"] for r in preston["areas"][0]["rows"]} == {"E07000123W", "E07000123E"}


def test_an_unknown_level_is_named(app):
    resp = app.server.test_client().get(
        "/api/v1/board?level=beat", headers={"Authorization": f"Bearer {app.tokens['board']}"})
    assert resp.status_code == 400
    assert "'beat' is not a boundary level here" in resp.get_json()["error"]


def test_the_page_offers_the_level_and_maps_the_wards(app):
    from dashboard.layouts import board as page

    from .access_helpers import acting_as, principal

    with app.server.test_request_context("/"), acting_as(principal("board")):
        layout = str(page.layout())
        out = page.update_board("fyq", "last_year", None, "police", None, "ward")
        links = page.download_links("fyq", "last_year", None, None, "ward")
    assert "by ward" in layout
    figure = out[6]
    drawn = {f["properties"]["code"] for f in figure["data"][0]["geojson"]["features"]}
    assert drawn and all(c.endswith(("W", "E")) for c in drawn)
    assert "public places only" in out[8]
    assert links[1].endswith("level=ward")


def test_the_pack_maps_the_wards(app):
    import io

    from pypdf import PdfReader

    resp = app.server.test_client().get(
        "/board.pdf?level=ward", headers={"Authorization": f"Bearer {app.tokens['board']}"})
    assert resp.status_code == 200
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(resp.data)).pages)
    assert "by ward" in text and "Map not available" not in text
