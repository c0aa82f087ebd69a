"""League table and API at ward level, on real data.

The authority level is the real ONS district file; the ward level is built here by cutting
three real districts (Leicester, Rutland, Charnwood) into quarters through their centroids,
with a population table; the incidents are the real Leicestershire police.uk months. The
expected counts come from a geopandas spatial join of the same stored incidents with the
wards as built here, never from the code under test.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pytest
import shapely

from geo.settings import DataPaths
from tests.conftest import SHARED_DATA

LAD_FILE = SHARED_DATA / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"
POLICE_FILES = sorted((SHARED_DATA / "police_uk_leicestershire").glob("*/*.csv.gz"))
HOTSPOT = str(Path(sys.executable).with_name("hotspot"))

pytestmark = [
    pytest.mark.skipif(not LAD_FILE.exists() or not POLICE_FILES,
                       reason=f"real public data not found in {SHARED_DATA}"),
    pytest.mark.slow,
]

#: The districts cut into wards, with a population each (ONS mid-2021, rounded).
SPLIT = {"E06000016": 368_600, "E06000017": 41_100, "E07000130": 183_900}
QUARTERS = ("NE", "NW", "SE", "SW")


def _quarters(geom: shapely.Geometry) -> list[shapely.Geometry]:
    """Cut a polygon into four by a vertical and a horizontal line through its centroid."""
    cx, cy = geom.centroid.x, geom.centroid.y
    minx, miny, maxx, maxy = geom.bounds
    boxes = {"NE": (cx, cy, maxx, maxy), "NW": (minx, cy, cx, maxy),
             "SE": (cx, miny, maxx, cy), "SW": (minx, miny, cx, cy)}
    return [geom.intersection(shapely.box(*boxes[q])) for q in QUARTERS]


def _build_wards(folder: Path) -> gpd.GeoDataFrame:
    lads = gpd.read_file(LAD_FILE).to_crs("EPSG:27700").set_index("LAD21CD")
    rows = []
    for code, population in SPLIT.items():
        geom = lads.loc[code, "geometry"]
        for q, piece in zip(QUARTERS, _quarters(geom), strict=True):
            assert not piece.is_empty
            share = piece.area / geom.area
            rows.append({"WD23CD": f"{code}{q}", "WD23NM": f"{lads.loc[code, 'LAD21NM']} {q}",
                         "lad": code, "population": round(population * share),
                         "geometry": piece})
    wards = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:27700")
    wards.drop(columns=["lad", "population"]).to_file(folder / "wards.gpkg")
    with (folder / "ward_populations.csv").open("w", encoding="utf-8") as fh:
        fh.write("code,population,year\n")
        for r in rows:
            fh.write(f"{r['WD23CD']},{r['population']},2021\n")
    return wards


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.access import load_roles
    from geo.boundaries import import_boundaries
    from geo.ingest import ingest_file

    folder = tmp_path_factory.mktemp("levels")
    data = DataPaths(folder / "d")
    import_boundaries(LAD_FILE, "LAD21CD", "LAD21NM", data.boundaries)
    for path in POLICE_FILES:
        ingest_file(path, data)
    wards = _build_wards(folder)
    proc = subprocess.run(
        [HOTSPOT, "boundaries", "import", str(folder / "wards.gpkg"), "--level", "ward",
         "--code-field", "WD23CD", "--name-field", "WD23NM",
         "--population", str(folder / "ward_populations.csv"), "--data-dir", str(data.root)],
        capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    assert "Imported 12 areas" in proc.stdout and "as the 'ward' level" in proc.stdout
    assert "12 population(s) imported (populations: 2021, imported from " \
           "ward_populations.csv)" in proc.stdout
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {"analyst": accounts.create_token("analyst-t", "analyst"),
                  "partner": accounts.create_token("partner-t", "partner"),
                  "leicester": accounts.create_token("leicester-t", "officer", ("E06000016",))}
    app.data, app.wards = data, wards
    return app


def get(site, role: str, path: str):
    headers = {"Authorization": f"Bearer {site.tokens[role]}"}
    return site.server.test_client().get(path, headers=headers)


def _stored_in(site, first: str, last: str) -> gpd.GeoDataFrame:
    """The stored incidents of the whole months first..last (police.uk gives only months)."""
    from geo.store import Store

    _, table = Store(site.data.store).read(columns=["easting", "northing", "month"])
    rows = table.to_pandas()
    months = rows["month"].str.slice(0, 7)
    rows = rows[(months >= first[:7]) & (months <= last[:7])]
    return gpd.GeoDataFrame(geometry=gpd.points_from_xy(rows["easting"], rows["northing"]),
                            crs="EPSG:27700")


def _expected_by_ward(points: gpd.GeoDataFrame, wards: gpd.GeoDataFrame) -> dict[str, int]:
    """Count the points in each ward by a spatial join."""
    joined = gpd.sjoin(points, wards[["WD23CD", "geometry"]], predicate="within")
    assert joined.index.is_unique  # the wards do not overlap
    return joined["WD23CD"].value_counts().to_dict()


def test_the_ward_league_table_counts_what_a_spatial_join_counts(site):
    resp = get(site, "analyst", "/api/v1/trends?level=ward&period=month&group=all")
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["league_level"] == "ward"
    # 35 months to October 2022: the latest 12 whole months against the 12 before
    assert body["league_current"] == ["2021-11-01", "2022-10-31"]
    assert body["league_baseline"] == ["2020-11-01", "2021-10-31"]
    league = {r["code"]: r for r in body["league"]}
    assert set(league) == set(site.wards["WD23CD"])
    in_current = _stored_in(site, *body["league_current"])
    in_baseline = _stored_in(site, *body["league_baseline"])
    current = _expected_by_ward(in_current, site.wards)
    baseline = _expected_by_ward(in_baseline, site.wards)
    assert {c: r["count"] for c, r in league.items()} == current
    assert {c: r["baseline_count"] for c, r in league.items()} == baseline
    assert sum(current.values()) > 40_000
    # every other incident of the two periods lies outside every ward and is in no row
    assert body["league_outside_level"] == (len(in_current) + len(in_baseline)
                                            - sum(current.values()) - sum(baseline.values()))


def test_the_ward_league_table_ranks_by_the_wards_own_populations(site):
    body = get(site, "analyst", "/api/v1/trends?level=ward&period=month&group=all").get_json()
    assert body["league_ranked"] is True and body["league_message"] == ""
    assert body["league_population_source"] == ("populations: 2021, imported from "
                                                "ward_populations.csv")
    rates = [r["rate_per_1000"] for r in body["league"]]
    assert rates == sorted(rates, reverse=True)
    assert [r["rank"] for r in body["league"]] == list(range(1, 13))
    for r in body["league"]:
        assert r["rate_per_1000"] == pytest.approx(1000 * r["count"] / r["population"])


def test_ward_counts_add_up_to_their_districts(site):
    wards = get(site, "analyst", "/api/v1/trends?level=ward&period=month&group=all").get_json()
    lads = get(site, "analyst", "/api/v1/trends?period=month&group=all").get_json()
    assert lads["league_level"] == "authority"
    by_lad = {r["code"]: r for r in lads["league"]}
    for code in SPLIT:
        mine = [r for r in wards["league"] if r["code"].startswith(code)]
        assert len(mine) == 4
        assert sum(r["count"] for r in mine) == by_lad[code]["count"]
        assert sum(r["baseline_count"] for r in mine) == by_lad[code]["baseline_count"]
    # and the same in the aggregate API, for a filtered selection
    query = "group=all&start=2022-01-01&end=2022-06-30&days=fri,sat"
    ward_agg = get(site, "analyst", f"/api/v1/aggregate?level=ward&{query}").get_json()
    lad_agg = get(site, "analyst", f"/api/v1/aggregate?level=la&{query}").get_json()
    assert ward_agg["level"] == "ward" and lad_agg["level"] == "la"
    lad_counts = {r["code"]: r["count"] for r in lad_agg["rows"]}
    for code in SPLIT:
        assert sum(r["count"] for r in ward_agg["rows"] if r["code"].startswith(code)) == \
            lad_counts[code]


def test_an_unknown_level_is_a_400_naming_the_levels(site):
    resp = get(site, "analyst", "/api/v1/trends?level=beat")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == "level"
    assert "'beat' is not a boundary level here; the levels are authority, ward" in \
        body["error"]
    bad = get(site, "analyst", "/api/v1/trends?level=police%20beat")
    assert bad.status_code == 400 and "not a level name" in bad.get_json()["error"]
    agg = get(site, "analyst", "/api/v1/aggregate?level=beat")
    assert agg.status_code == 400
    assert "use la (the local authorities), h3, or a boundary level: ward" in \
        agg.get_json()["error"]


def test_a_partner_gets_ward_counts_from_1_to_4_suppressed(site):
    query = "level=ward&categories=Possession of weapons&start=2022-10-01&end=2022-10-31"
    exact = {r["code"]: r["count"]
             for r in get(site, "analyst", f"/api/v1/aggregate?{query}").get_json()["rows"]}
    small = {c for c, n in exact.items() if 1 <= n <= 4}
    assert small, "the selection must hold a small count for this test to mean anything"
    body = get(site, "partner", f"/api/v1/aggregate?{query}").get_json()
    assert body["level"] == "ward"
    assert "Domestic incidents are counted only by whole authority" in body["suppression"]
    for row in body["rows"]:
        assert "domestic" not in row
        assert row["rate_per_1000"] is None and row["harm"] is None
        if row["code"] in small:
            assert row["suppressed"] and row["shown_as"] == "fewer than 5"
        if row["count"] is not None:
            assert row["count"] == 0 or row["count"] >= 5
            assert abs(row["count"] - exact[row["code"]]) <= 2


def test_an_officer_of_one_authority_gets_only_its_wards(site):
    body = get(site, "leicester", "/api/v1/aggregate?level=ward&group=all").get_json()
    codes = [r["code"] for r in body["rows"]]
    assert codes == [f"E06000016{q}" for q in sorted(QUARTERS)]
    everyone = {r["code"]: r["count"] for r in get(
        site, "analyst", "/api/v1/aggregate?level=ward&group=all").get_json()["rows"]}
    assert {r["code"]: r["count"] for r in body["rows"]} == {c: everyone[c] for c in codes}


def test_the_cli_lists_the_levels_with_their_coverage(site):
    proc = subprocess.run([HOTSPOT, "boundaries", "--data-dir", str(site.data.root)],
                          capture_output=True, text=True, timeout=600, env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Boundary levels:"
    assert lines[1].startswith("  authority  374 areas, 0 with a population; imported from "
                               "Local_Authority_Districts_(December_2021)_UK_BUC.geojson")
    assert lines[2].startswith("  ward       12 areas, 12 with a population; imported from "
                               "wards.gpkg on ")
    assert lines[2].endswith("; populations: 2021, imported from ward_populations.csv")


def test_the_trends_page_offers_the_level_and_ranks_wards(site):
    from dashboard.layouts import trends

    from .access_helpers import acting_as

    with site.server.app_context(), acting_as():
        page = trends.layout(level="ward")
        out = trends.update_trends(None, "month", None, None, None, None, 0, 24, "", "ward")
    box = _find(page, trends.LEVEL_BOX)
    assert box.style is None  # shown: there is more than one level
    radio = _find(page, trends.LEVEL)
    assert radio.value == "ward"
    assert [o["value"] for o in radio.options] == ["authority", "ward"]
    league, note, title = out[2], out[3], out[8]
    assert title == "Areas of the ward level by rate per 1,000 residents"
    assert {r["name"] for r in league} == {f"{n} {q}" for n in ("Leicester", "Rutland",
                                                                 "Charnwood") for q in QUARTERS}
    assert "populations: 2021, imported from ward_populations.csv" in note
    assert "lie outside every area of the ward level" in note
    assert "level=ward" in out[5]  # the page's link keeps the level


def _find(component, target: str):
    if getattr(component, "id", None) == target:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, target)
            if found is not None:
                return found
    return None

