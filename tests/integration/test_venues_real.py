"""The real Manchester premises-licence register and city-centre boundary."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from numpy.testing import assert_allclose

from geo.venues import VENUE_COLUMNS, read_venues
from geo.zones import assign_zones, import_zones

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
REGISTER = SHARED / "venues" / "city_centre_prems.csv"
CITY_CENTRE = SHARED / "venues" / "mcr_city_centre.geojson"

pytestmark = pytest.mark.skipif(
    not REGISTER.exists(), reason=f"shared real data not found at {SHARED}"
)

#: Rain Bar, 80 Great Bridgewater Street, as the register places it (WGS84 degrees).
RAIN_BAR_LON_LAT = (-2.245182, 53.4746719)
#: The register gives 7 decimal places; the reader must not move a point.
DEGREES_ATOL = 1e-7


@pytest.fixture(scope="module")
def register():
    return read_venues(REGISTER)


def test_every_one_of_the_353_rows_is_a_venue_or_a_reject(register):
    venues, rejects = register
    with REGISTER.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 353
    no_coords = [r for r in rows if r["latitude"] == "NA" or r["longitude"] == "NA"]
    assert len(no_coords) == 107
    assert (len(venues), len(rejects)) == (246, 107)
    # Header is line 1 and every record sits on one line, so row i is line i + 2.
    assert sorted([*venues["line"], *rejects["line"]]) == list(range(2, 355))
    assert list(venues.columns) == list(VENUE_COLUMNS)
    assert venues.attrs["layout"] == "register"
    assert venues.attrs["notes"] == []  # the file is plain ASCII, so UTF-8 reads it


def test_every_reject_is_for_missing_coordinates_and_names_its_postcode(register):
    _, rejects = register
    assert rejects["reason"].str.startswith("no coordinates (postcode ").all()
    assert rejects["reason"].str.contains("no postcode lookup offline").all()
    fifth = rejects.loc[rejects["raw"].str.contains("Fifth Avenue Nightclub"), "reason"]
    assert fifth.tolist() == [
        "no coordinates (postcode M1 7AG given, but this tool has no postcode lookup offline; "
        "add latitude/longitude to place it)"
    ]


def test_register_fields_become_names_types_and_addresses(register):
    venues, _ = register
    assert venues["name"].notna().all() and venues["name"].ne("NA").all()
    # The register's OPENINGHOURS column is NA on every row.
    assert venues["opening_hours"].isna().all()
    # Six postcodes are padded in the file ("M1   3LY"); all come out in one spelling.
    assert venues["postcode"].str.fullmatch(r"M\d{1,2} \d[A-Z]{2}").all()
    assert "M1 3LY" in set(venues.loc[venues["name"].str.startswith("Safad"), "postcode"])
    types = set(venues["type"])
    assert "late-night refreshment" in types
    assert "alcohol + late-night refreshment + entertainment" in types
    assert len(types) <= 8


def test_rain_bar_is_where_the_register_puts_it(register):
    venues, _ = register
    rain = venues[venues["name"] == "Rain Bar"]
    assert len(rain) == 1
    assert_allclose(rain[["lon", "lat"]].to_numpy()[0], RAIN_BAR_LON_LAT, atol=DEGREES_ATOL)
    assert rain["address"].iloc[0] == "80 Great Bridgewater Street, Manchester"
    assert rain["postcode"].iloc[0] == "M1 5JG"
    assert rain["type"].iloc[0] == "alcohol + late-night refreshment + entertainment"


@pytest.mark.skipif(not CITY_CENTRE.exists(), reason=f"{CITY_CENTRE} not found")
def test_city_centre_zone_from_british_national_grid_holds_rain_bar(register, tmp_path):
    venues, _ = register
    zones, notes = import_zones(CITY_CENTRE, None, tmp_path / "zones")
    assert zones.zones.crs.to_epsg() == 4326
    assert zones.zones["name"].tolist() == ["mcr_city_centre"]
    assert any("named after the file" in n for n in notes)
    # About 4 km² of central Manchester, measured in BNG.
    assert_allclose(zones.zones_bng.area.iloc[0] / 1e6, 3.99, atol=0.01)
    inside = assign_zones(venues["easting"].to_numpy(), venues["northing"].to_numpy(), zones)
    rain = (venues["name"] == "Rain Bar").to_numpy()
    assert inside[rain].tolist() == [0]
    # The register extract strays south of the boundary along Oxford Road (M1 7): 230 of
    # the 246 placed premises are inside.
    assert int((inside == 0).sum()) == 230
