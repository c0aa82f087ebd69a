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
    assert rejects["reason"].str.contains("hotspot postcodes import FILE").all()
    fifth = rejects.loc[rejects["raw"].str.contains("Fifth Avenue Nightclub"), "reason"]
    assert fifth.tolist() == [
        "no coordinates (postcode M1 7AG given, but no postcode directory is imported: "
        "'hotspot postcodes import FILE' adds one; or add latitude/longitude to place it)"
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


# ---------------------------------------------------------------------------------------------
# Placing the register's 107 rows without coordinates from an imported postcode directory

#: MADE-UP grid references (British National Grid metres, within Manchester city centre) for
#: some of the postcodes the register gives without coordinates. They are not the real
#: directory's values: the test checks that each venue lands on its postcode's entry.
MADE_UP_MCR = {
    "M1 5LH": (384_050, 397_700),
    "M1 5QS": (384_400, 397_650),
    "M1 4HF": (384_130, 398_030),
    "M1 5WW": (384_200, 397_500),
    "M1 2EJ": (384_720, 398_300),
    "M1 7AG": (384_330, 397_600),
}
#: Rows of the register placed by those postcodes: M1 5LH 6, M1 5QS 4, M1 4HF 3, M1 5WW 3 and
#: one written "M1   5WW", M1 2EJ 3, M1 7AG 1. The directory also holds M1 3NR (2 rows) as
#: terminated and M1 7EL (2 rows) with no grid reference, which stay rejected.
PLACED_BY_MADE_UP = 21


@pytest.fixture(scope="module")
def postcode_data(tmp_path_factory):
    from geo.postcodes import import_postcodes
    from geo.settings import DataPaths
    from tests.postcode_helpers import onspd_row, write_onspd

    rows = [onspd_row(pc, e, n, lsoa21="E01033677") for pc, (e, n) in MADE_UP_MCR.items()]
    rows += [onspd_row("M1 3NR", 384_100, 398_150, lsoa21="E01033658", doterm="201806"),
             onspd_row("M1 7EL", None, None, lsoa21="E01033677")]
    root = tmp_path_factory.mktemp("postcodes")
    data = DataPaths(root / "data")
    import_postcodes(write_onspd(root / "ONSPD_MADE_UP_UK.csv", rows), data)
    return data


def test_register_rows_with_only_a_postcode_are_placed_from_the_directory(postcode_data):
    import geopandas as gpd
    import numpy as np
    import shapely

    from geo.postcodes import PostcodeLookup
    from geo.venues import PLACED_BY_POSTCODE

    lookup = PostcodeLookup.load(postcode_data)
    venues, rejects = read_venues(REGISTER, postcodes=lookup)
    assert (len(venues), len(rejects)) == (246 + PLACED_BY_MADE_UP, 107 - PLACED_BY_MADE_UP)
    assert sorted([*venues["line"], *rejects["line"]]) == list(range(2, 355))
    by_postcode = venues[venues["placed_by"] == PLACED_BY_POSTCODE]
    assert len(by_postcode) == PLACED_BY_MADE_UP == venues.attrs["placed_by_postcode"]
    expected = np.array([MADE_UP_MCR[p] for p in by_postcode["postcode"]], dtype="float64")
    assert_allclose(by_postcode[["easting", "northing"]].to_numpy(), expected, atol=1e-6)
    fifth = by_postcode[by_postcode["name"] == "Fifth Avenue Nightclub"]
    assert fifth["postcode"].tolist() == ["M1 7AG"]
    # Everything placed by postcode is inside the city-centre boundary, in WGS84 too.
    if CITY_CENTRE.exists():
        area = gpd.read_file(CITY_CENTRE).to_crs(4326).geometry.iloc[0]
        assert shapely.contains_xy(area, by_postcode["lon"], by_postcode["lat"]).all()
    # The rest keep a reason that says what is wrong with their postcode.
    reasons = rejects["reason"]
    assert reasons.str.startswith("no coordinates, and the postcode could not be placed (").all()
    kinds = reasons.str.extract(r"placed \((.*?) ?[:(]")[0].value_counts().to_dict()
    assert kinds == {"postcode not in the postcode directory": 81,
                     "postcode has no grid reference in the postcode directory": 2,  # M1 7EL
                     "postcode terminated": 2,  # M1 3NR
                     "not a postcode": 1}  # the register's "M1 999"
    assert reasons.str.contains("not a postcode: 'M1 999'").sum() == 1
