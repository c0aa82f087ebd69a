"""Place names on real police.uk data: four months of Merseyside, through the API and prints.

Every ranked place must carry a street-level name drawn from its own incidents, and the name
must be what a direct pandas count of the place's ``Location`` strings gives: the most
frequent street (police.uk's generic map points such as "Supermarket" rank below streets),
and the second when it holds a quarter of the place's street incidents. The counts here read
the stored rows with pandas, never the code under test.
"""

from __future__ import annotations

import html
import re

import h3
import numpy as np
import pandas as pd
import pytest

from geo.settings import DataPaths
from tests.conftest import SHARED_DATA

LAD_FILE = SHARED_DATA / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"
POLICE_FILES = sorted((SHARED_DATA / "police_uk").glob("*/*-merseyside-street.csv.gz"))
LIVERPOOL = "E08000012"

pytestmark = [
    pytest.mark.skipif(not LAD_FILE.exists() or len(POLICE_FILES) != 4,
                       reason=f"real public data not found in {SHARED_DATA}"),
    pytest.mark.slow,
]

#: police.uk's generic map points seen in these files: kinds of place, not streets.
GENERIC = {g.casefold() for g in (
    "Supermarket", "Parking Area", "Shopping Area", "Petrol Station", "Sports/Recreation Area",
    "Nightclub", "Hospital", "Further/Higher Educational Building", "Pedestrian Subway",
    "Bus/Coach Station", "Police Station", "Theatre/Concert Hall", "Park/Open Space",
    "Conference/Exhibition Centre", "Airport/Airfield", "Ferry Terminal")}
#: What tells apart two places of one answer that share a name: their towns, or where each is.
APART = re.compile(r"(?:, [^,]+| \((?:north|south|east|west|north-east|north-west|south-east"
                   r"|south-west|\d+ of \d+)\))$")
PLAN = "/api/v1/patrol-plan?n=10&lookback_months=4&group=all"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.access import load_roles
    from geo.boundaries import import_boundaries
    from geo.ingest import ingest_file

    data = DataPaths(tmp_path_factory.mktemp("names") / "d")
    import_boundaries(LAD_FILE, "LAD21CD", "LAD21NM", data.boundaries)
    for path in POLICE_FILES:
        ingest_file(path, data)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {"analyst": accounts.create_token("analyst-t", "analyst"),
                  "officer": accounts.create_token("officer-t", "officer", (LIVERPOOL,)),
                  "partner": accounts.create_token("partner-t", "partner")}
    app.data = data
    return app


def get(site, role: str, path: str):
    headers = {"Authorization": f"Bearer {site.tokens[role]}"}
    return site.server.test_client().get(path, headers=headers)


@pytest.fixture(scope="module")
def stored(site) -> pd.DataFrame:
    """Every stored incident: its cells, authority, month and Location as police.uk gave it."""
    from geo.store import Store

    _, table = Store(site.data.store).read(
        columns=["h3_9", "h3_10", "la_code", "month", "location", "lsoa_name"])
    return table.to_pandas()


def expected_name(locations: pd.Series) -> str | None:
    """The place name a direct count of Location strings gives (None: generic points only)."""
    text = (locations.fillna("").str.replace(r"^On or near\s*", "", regex=True).str.strip()
            .str.replace(r"(?<=\w)'S\b", "'s", regex=True))
    counts = text[text != ""].value_counts()
    counts = counts[counts >= 2]  # one incident's text is never printed
    streets = counts[~counts.index.str.casefold().isin(GENERIC)]
    if streets.empty:
        return None
    ranked = sorted(streets.items(), key=lambda kv: (-kv[1], kv[0].casefold(), kv[0]))
    name = ranked[0][0]
    if len(ranked) > 1 and ranked[1][1] >= 0.25 * streets.sum():
        name += " / " + ranked[1][0]
    return name


def _check_named_by_streets(features, rows_of) -> None:
    assert features
    for f in features:
        props = f["properties"]
        name = props["place_name"]
        assert props["name_source"] == "incident locations", props
        expected = expected_name(rows_of(f)["location"])
        assert expected is not None, f"{props} is a place of generic points only"
        assert APART.sub("", name) == expected


def test_every_hotspot_of_the_patrol_plan_is_named_by_its_most_frequent_streets(site, stored):
    body = get(site, "analyst", PLAN).get_json()
    assert body["month_only"] and body["window"] == ["2019-09-01", "2019-12-31"]
    assert len(body["features"]) == 10

    def rows_of(f):
        return stored[stored["h3_9"] == h3.str_to_int(f["id"])]

    _check_named_by_streets(body["features"], rows_of)
    # e.g. the busiest cell of Liverpool city centre
    assert body["features"][0]["properties"]["place_name"] == "Roe Alley"


def test_hotspots_api_names_every_ranked_cell(site, stored):
    body = get(site, "analyst", "/api/v1/hotspots?res=9&n=25&group=all").get_json()
    assert len(body["features"]) == 25

    def rows_of(f):
        return stored[stored["h3_9"] == h3.str_to_int(f["properties"]["cell"])]

    _check_named_by_streets(body["features"], rows_of)
    names = [f["properties"]["place_name"] for f in body["features"]]
    assert len(set(names)) == len(names)  # two places never read the same


def test_an_officers_names_come_from_their_own_area_only(site, stored):
    body = get(site, "officer", PLAN).get_json()
    mine = stored[stored["la_code"] == LIVERPOOL]

    def rows_of(f):
        return mine[mine["h3_9"] == h3.str_to_int(f["id"])]

    _check_named_by_streets(body["features"], rows_of)
    # places named from aggregates only never reach a partner
    assert get(site, "partner", PLAN).status_code == 403
    assert get(site, "partner", "/api/v1/hotspots?res=9&group=all").status_code == 403
    cells = get(site, "partner", "/api/v1/aggregate?level=h3&res=8&group=all").get_json()
    assert cells["rows"] and not any("place_name" in r for r in cells["rows"])


def test_plan_downloads_and_the_briefing_carry_the_names(site):
    body = get(site, "analyst", PLAN).get_json()
    names = [f["properties"]["place_name"] for f in body["features"]]
    query = PLAN.split("?", 1)[1]
    csv_text = get(site, "analyst", f"/patrol/plan.csv?{query}").get_data(as_text=True)
    table = pd.read_csv(pd.io.common.StringIO(csv_text))
    assert table["place_name"].tolist() == names
    assert set(table["name_source"]) == {"incident locations"}
    page = get(site, "analyst", f"/patrol/briefing?{query}").get_data(as_text=True)
    for name in names:
        assert f"· {html.escape(name)} ·" in page


def test_dbscan_clusters_are_named_too(site):
    body = get(site, "analyst", PLAN.replace("n=10", "n=5") + "&unit=dbscan").get_json()
    assert len(body["features"]) == 5
    for f in body["features"]:
        assert f["properties"]["name_source"] == "incident locations"
        assert f["properties"]["place_name"]


def test_an_nte_zone_and_its_deployment_sheet_are_named_from_its_streets(site, stored):
    import shapely

    from geo.zones import add_zone

    # Liverpool's night-time centre: a 300 m square on Concert Square and Seel Street
    lon, lat = -2.9797, 53.4026
    d_lon, d_lat = 0.0023, 0.00135
    square = shapely.box(lon - d_lon, lat - d_lat, lon + d_lon, lat + d_lat)
    add_zone(site.data.zones, shapely.geometry.mapping(square), "Ropewalks")
    body = get(site, "analyst", "/api/v1/nte/zones?group=all").get_json()
    (zone,) = body["features"]
    props = zone["properties"]
    assert props["name"] == "Ropewalks"
    assert props["name_source"] == "incident locations"
    from geo.projection import to_bng
    from geo.store import Store

    _, table = Store(site.data.store).read(columns=["easting", "northing", "location"])
    rows = table.to_pandas()
    ring_e, ring_n = to_bng(np.array(square.exterior.xy[0]), np.array(square.exterior.xy[1]))
    inside = rows[shapely.contains_xy(shapely.Polygon(np.column_stack([ring_e, ring_n])),
                                      rows["easting"], rows["northing"])]
    assert len(inside) > 100
    assert props["place_name"] == expected_name(inside["location"])
    sheet = get(site, "analyst", f"/nte/sheet?zone={props['zone_id']}&weekend=2019-12-06"
                "&group=all").get_data(as_text=True)
    assert f"Around {html.escape(props['place_name'])}" in sheet
