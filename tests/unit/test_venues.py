"""Venues and taxi ranks: simple CSVs, registers, plain-English rejects, save and load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose

from geo.postcodes import PostcodeLookup
from geo.projection import to_bng, to_wgs84
from geo.schema import ReadError
from geo.venues import (
    PLACED_BY_COORDINATES,
    PLACED_BY_POSTCODE,
    VENUE_COLUMNS,
    load_venues,
    read_venues,
    save_venues,
)

#: Projected coordinates agree with pyproj to well under a millimetre.
PROJ_ATOL_M = 1e-3
#: Coordinates written to a CSV with 6 decimals are within this of the true value (degrees).
CSV_DEGREES_ATOL = 1e-6


#: A postcode directory of made-up Manchester postcodes (British National Grid metres).
MADE_UP_POSTCODES = pd.DataFrame({
    "postcode": ["M1 7AG", "M1 5WW", "M1 3NR", "M1 7EL"],
    "easting": [384_330, 384_200, 384_100, None],
    "northing": [397_600, 397_500, 398_150, None],
    "lsoa": ["E01033677", "E01033677", "E01033658", "E01033677"],
    "terminated": [None, None, "2018-06", None],
})


def _write(tmp_path: Path, text: str, name: str = "venues.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _invariant(path: Path, venues: pd.DataFrame, rejects: pd.DataFrame) -> None:
    """Every data row is a venue or a reject, once."""
    rows = len(path.read_text(encoding="utf-8").strip().splitlines()) - 1
    assert len(venues) + len(rejects) == rows
    assert sorted([*venues["line"], *rejects["line"]]) == list(range(2, rows + 2))


def test_simple_csv_with_lat_lon(tmp_path):
    path = _write(tmp_path, (
        "name,type,lat,lon\n"
        "Rain Bar,bar,53.474672,-2.245182\n"
        "Joshua Brooks,nightclub,53.474320,-2.241750\n"
        "Piccadilly Gardens,taxi rank,53.480950,-2.236800\n"
    ))
    venues, rejects = read_venues(path)
    assert rejects.empty
    assert list(venues.columns) == list(VENUE_COLUMNS)
    assert venues["name"].tolist() == ["Rain Bar", "Joshua Brooks", "Piccadilly Gardens"]
    assert venues["type"].tolist() == ["bar", "nightclub", "taxi rank"]
    assert venues["line"].tolist() == [2, 3, 4]
    e, n = to_bng(venues["lon"].to_numpy(), venues["lat"].to_numpy())
    assert_allclose(venues["easting"], e, atol=PROJ_ATOL_M)
    assert_allclose(venues["northing"], n, atol=PROJ_ATOL_M)
    assert venues["postcode"].isna().all() and venues["opening_hours"].isna().all()
    assert venues.attrs["layout"] == "simple"


@pytest.mark.parametrize(
    "header",
    ["Name,Type,Latitude,Longitude", "NAME,TYPE,LAT,LNG", "name,category,latitude,longitude"],
    ids=["latitude-longitude", "upper-case-lng", "category-column"],
)
def test_column_names_are_matched_ignoring_case(tmp_path, header):
    path = _write(tmp_path, f"{header}\nRain Bar,bar,53.474672,-2.245182\n")
    venues, rejects = read_venues(path)
    assert rejects.empty
    assert venues[["name", "type"]].values.tolist() == [["Rain Bar", "bar"]]
    assert_allclose(venues[["lat", "lon"]].to_numpy()[0], [53.474672, -2.245182])


def test_british_national_grid_columns(tmp_path):
    lon, lat = to_wgs84(np.array([383_824.0]), np.array([397_577.0]))
    path = _write(tmp_path, (
        "Venue,Easting,Northing,Postcode,Opening_Hours\n"
        "Rain Bar,383824,397577,m1 5jg,Mon-Sun 11:00-02:00\n"
        "Nowhere,,,,\n"
    ))
    venues, rejects = read_venues(path)
    assert venues["type"].tolist() == ["venue"]
    assert_allclose(venues[["easting", "northing"]].to_numpy()[0], [383_824.0, 397_577.0])
    assert_allclose(venues[["lon", "lat"]].to_numpy()[0], [lon[0], lat[0]], atol=1e-9)
    assert venues["postcode"].tolist() == ["M1 5JG"]
    assert venues["opening_hours"].tolist() == ["Mon-Sun 11:00-02:00"]
    assert rejects["line"].tolist() == [3]
    assert rejects["reason"].iloc[0] == (
        "no coordinates (Easting and Northing are blank); add easting/northing to place it"
    )


def test_rows_without_usable_coordinates_are_rejected_with_line_numbers(tmp_path):
    path = _write(tmp_path, (
        "name,type,postcode,lat,lon\n"
        "Rain Bar,bar,M1 5JG,53.474672,-2.245182\n"   # 2 kept
        "Fifth Avenue,nightclub,M1 7AG,NA,NA\n"       # 3 postcode only
        "Unknown,bar,,,\n"                             # 4 nothing at all
        "Half,bar,,53.47,\n"                           # 5 one blank
        "Typo,bar,,53.47x,-2.24\n"                     # 6 not a number
        "Paris,club,,48.8566,2.3522\n"                 # 7 outside the UK
        "Swapped,bar,,-2.2452,53.4747\n"               # 8 lat/lon swapped
        "Zero,bar,,0,0\n"                              # 9 null island
        "Metres,bar,,397577,383824\n"                  # 10 BNG in lat/lon columns
        "Edinburgh,bar,,55.9533,-3.1883\n"             # 11 kept (Scotland is in the UK)
    ))
    venues, rejects = read_venues(path)
    _invariant(path, venues, rejects)
    assert venues["line"].tolist() == [2, 11]
    reasons = dict(zip(rejects["line"], rejects["reason"], strict=True))
    assert reasons[3] == (
        "no coordinates (postcode M1 7AG given, but no postcode directory is imported: "
        "'hotspot postcodes import FILE' adds one; or add latitude/longitude to place it)"
    )
    assert reasons[4] == (
        "no coordinates (lat and lon are blank); add latitude/longitude to place it"
    )
    assert reasons[5].startswith("no coordinates (lon is blank)")
    assert reasons[6].startswith("coordinates are not numbers (lat '53.47x', lon '-2.24')")
    assert reasons[7].startswith("coordinates outside the UK (lat 48.8566, lon 2.3522;")
    assert reasons[8].startswith("latitude and longitude look swapped")
    assert "placeholder for a missing location" in reasons[9]
    assert "look like British National Grid metres" in reasons[10]
    assert rejects.loc[rejects["line"] == 7, "raw"].iloc[0] == "Paris,club,,48.8566,2.3522"


def test_bng_outside_the_grid_is_rejected(tmp_path):
    path = _write(tmp_path, "name,easting,northing\nA,383824,397577\nB,-5,397577\nC,abc,1\n")
    venues, rejects = read_venues(path)
    _invariant(path, venues, rejects)
    assert rejects["line"].tolist() == [3, 4]
    assert "British National Grid eastings run 0..700000 m" in rejects["reason"].iloc[0]
    assert rejects["reason"].iloc[1].startswith("coordinates are not numbers")


def test_row_with_wrong_number_of_values_is_rejected_not_misread(tmp_path):
    path = _write(tmp_path, (
        "name,type,lat,lon\n"
        "Bar, The,bar,53.47,-2.24\n"
        "\n"                                      # a blank line is not a row
        "\"Quoted, Bar\",bar,53.475,-2.245\n"
    ))
    venues, rejects = read_venues(path)
    assert venues["name"].tolist() == ["Quoted, Bar"]
    assert venues["line"].tolist() == [4]
    assert rejects["line"].tolist() == [2]
    assert "5 values but the header has 4 columns" in rejects["reason"].iloc[0]


def test_taxi_ranks_take_the_default_type(tmp_path):
    path = _write(tmp_path, (
        "Rank_Name,Latitude,Longitude,Hours\n"
        "Piccadilly Station,53.4774,-2.2309,24 hours\n"
        "Peter Street,53.4780,-2.2475,Fri-Sat 22:00-06:00\n"
    ), name="ranks.csv")
    ranks, rejects = read_venues(path, kind_default="taxi rank")
    assert rejects.empty
    assert ranks["type"].tolist() == ["taxi rank", "taxi rank"]
    assert ranks["name"].tolist() == ["Piccadilly Station", "Peter Street"]
    assert ranks["opening_hours"].tolist() == ["24 hours", "Fri-Sat 22:00-06:00"]


def test_blank_type_gets_the_default_and_chosen_columns_win(tmp_path):
    path = _write(tmp_path, "site,what,y,x,name\nA,,53.47,-2.24,ignored\nB,club,53.48,-2.23,x\n")
    venues, _ = read_venues(path, name_col="SITE", type_col="what", lat_col="y", lon_col="x")
    assert venues[["name", "type"]].values.tolist() == [["A", "venue"], ["B", "club"]]


def test_premises_register_layout(tmp_path):
    header = ("PREMISESNAME,LOCATIONTEXT,POSTCODE,ENTERTAINMENTTYPELABEL,LATENIGHTREFRESHMENT,"
              "ALCOHOLSUPPLY,OPENINGHOURS,latitude,longitude")
    path = _write(tmp_path, (
        f"{header}\n"
        "Rain Bar,\"80 Great Bridgewater Street, Manchester\",M1 5JG,"
        "Live Music|Recorded Music,TRUE,TRUE,NA,53.4746719,-2.245182\n"
        "Kebab House,\"1 Oxford Road, Manchester\",M1   7DU,NA,TRUE,FALSE,Daily 17:00-04:00,"
        "53.4706,-2.2373\n"
        "Offy,\"2 Oxford Road, Manchester\",M1 7DY,NA,FALSE,FALSE,NA,NA,NA\n"
    ))
    venues, rejects = read_venues(path)
    assert venues.attrs["layout"] == "register"
    assert venues["name"].tolist() == ["Rain Bar", "Kebab House"]
    assert venues["type"].tolist() == [
        "alcohol + late-night refreshment + entertainment", "late-night refreshment",
    ]
    assert venues["details"].iloc[0] == (
        "sale or supply of alcohol; late-night refreshment; entertainment: live music, "
        "recorded music"
    )
    assert venues["address"].iloc[0] == "80 Great Bridgewater Street, Manchester"
    assert venues["opening_hours"].isna().tolist() == [True, False]
    # Fixed-width padding in the outward code is removed.
    assert venues["postcode"].tolist() == ["M1 5JG", "M1 7DU"]
    assert rejects["line"].tolist() == [4]
    assert "postcode M1 7DY given" in rejects["reason"].iloc[0]


def test_windows_1252_file_is_read_with_a_note(tmp_path):
    path = tmp_path / "cp1252.csv"
    path.write_bytes("name,lat,lon\nCafé Rouge,53.47,-2.24\n".encode("cp1252"))
    venues, rejects = read_venues(path)
    assert venues["name"].tolist() == ["Café Rouge"]
    assert rejects.empty
    assert any("read as Windows-1252" in n and "line 2" in n for n in venues.attrs["notes"])
    utf8 = _write(tmp_path, "name,lat,lon\nCafé Rouge,53.47,-2.24\n", name="utf8.csv")
    assert read_venues(utf8)[0].attrs["notes"] == []


def test_missing_name_column_lists_the_columns(tmp_path):
    path = _write(tmp_path, "title,lat,lon\nA,53.47,-2.24\n")
    with pytest.raises(ReadError, match=r"venues\.csv.*no column holds the venue name.*"
                                        r"Columns found: 'title', 'lat', 'lon'"):
        read_venues(path)
    with pytest.raises(ReadError, match=r"no name column 'label'\. Columns found: 'title'"):
        read_venues(path, name_col="label")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "file not found"),
        (b"", "the file is empty"),
        (b"PK\x03\x04rest-of-a-workbook", "Excel workbook"),
        (b"name,postcode\nA,M1 5JG\n", "no coordinate columns"),
    ],
    ids=["missing", "empty", "xlsx", "no-coordinates"],
)
def test_unreadable_files_raise_read_error_naming_the_file(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ReadError, match=message) as info:
        read_venues(path)
    assert "bad.csv" in str(info.value)


# ---------------------------------------------------------------------------------------------
# Placing by postcode


def test_rows_with_only_a_postcode_are_placed_at_its_centroid(tmp_path):
    header = ("PREMISESNAME,LOCATIONTEXT,POSTCODE,ENTERTAINMENTTYPELABEL,LATENIGHTREFRESHMENT,"
              "ALCOHOLSUPPLY,OPENINGHOURS,latitude,longitude")
    path = _write(tmp_path, (
        f"{header}\n"
        "Rain Bar,80 Great Bridgewater Street,M1 5JG,NA,TRUE,TRUE,NA,53.4746719,-2.245182\n"
        "Fifth Avenue,121 Princess Street,M1 7AG,NA,TRUE,TRUE,NA,NA,NA\n"
        "Sixxis,2 Whitworth Street,M1   5WW,NA,FALSE,TRUE,NA,NA,NA\n"
        "Lost,1 Nowhere,M1 9ZZ,NA,FALSE,TRUE,NA,NA,NA\n"
        "Old,1 Gone Street,M1 3NR,NA,FALSE,TRUE,NA,NA,NA\n"
        "Nogrid,1 Odd Street,M1 7EL,NA,FALSE,TRUE,NA,NA,NA\n"
        "Typo,1 Typo Street,M1 999,NA,FALSE,TRUE,NA,NA,NA\n"
        "Nothing,Somewhere,NA,NA,FALSE,TRUE,NA,NA,NA\n"
    ))
    lookup = PostcodeLookup.from_frame(MADE_UP_POSTCODES)
    venues, rejects = read_venues(path, postcodes=lookup)
    _invariant(path, venues, rejects)
    assert venues["name"].tolist() == ["Rain Bar", "Fifth Avenue", "Sixxis"]
    assert venues["placed_by"].tolist() == [PLACED_BY_COORDINATES, PLACED_BY_POSTCODE,
                                            PLACED_BY_POSTCODE]
    assert_allclose(venues[["easting", "northing"]].to_numpy()[1:],
                    [[384_330, 397_600], [384_200, 397_500]], atol=PROJ_ATOL_M)
    lon, lat = to_wgs84(np.array([384_330.0]), np.array([397_600.0]))
    assert_allclose(venues[["lon", "lat"]].to_numpy()[1], [lon[0], lat[0]], atol=1e-9)
    assert venues.attrs["placed_by_postcode"] == 2
    assert any("2 rows had no coordinates and were placed at their postcode's centroid" in n
               for n in venues.attrs["notes"])
    reasons = dict(zip(rejects["line"], rejects["reason"], strict=True))
    assert reasons == {
        5: "no coordinates, and the postcode could not be placed (postcode not in the postcode "
           "directory: 'M1 9ZZ'); add latitude/longitude to place it",
        6: "no coordinates, and the postcode could not be placed (postcode terminated (no "
           "longer in use since 2018-06): 'M1 3NR'); add latitude/longitude to place it",
        7: "no coordinates, and the postcode could not be placed (postcode has no grid "
           "reference in the postcode directory: 'M1 7EL'); add latitude/longitude to place it",
        8: "no coordinates, and the postcode could not be placed (not a postcode: 'M1 999'); "
           "add latitude/longitude to place it",
        9: "no coordinates (latitude and longitude are blank); add latitude/longitude to "
           "place it",
    }


def test_a_file_of_names_and_postcodes_needs_a_postcode_directory(tmp_path):
    path = _write(tmp_path, "name,type,postcode\nFifth Avenue,nightclub,m1 7ag\nLost,bar,\n")
    with pytest.raises(ReadError, match="no coordinate columns.*hotspot postcodes import FILE"):
        read_venues(path)
    venues, rejects = read_venues(path, postcodes=PostcodeLookup.from_frame(MADE_UP_POSTCODES))
    assert venues[["name", "postcode", "placed_by"]].values.tolist() == [
        ["Fifth Avenue", "M1 7AG", PLACED_BY_POSTCODE]]
    assert rejects["reason"].tolist() == [
        "no coordinates (latitude and longitude are blank); add latitude/longitude to place it"]


def test_placed_by_is_saved_and_old_saved_venues_read_as_coordinates(tmp_path):
    path = _write(tmp_path, "name,postcode,lat,lon\nA,M1 7AG,,\nB,,53.47,-2.24\n")
    venues, _ = read_venues(path, postcodes=PostcodeLookup.from_frame(MADE_UP_POSTCODES))
    dest = tmp_path / "venues"
    save_venues(venues, dest, "venues")
    assert load_venues(dest)["placed_by"].tolist() == [PLACED_BY_POSTCODE,
                                                       PLACED_BY_COORDINATES]
    # a list saved before placed_by existed
    table = pq.read_table(dest / "venues.parquet").drop_columns(["placed_by"])
    pq.write_table(table, dest / "venues.parquet")
    assert load_venues(dest)["placed_by"].tolist() == [PLACED_BY_COORDINATES] * 2


# ---------------------------------------------------------------------------------------------
# Save and load


def test_save_load_round_trip_by_kind(tmp_path):
    venues_csv = _write(tmp_path, (
        "name,type,postcode,lat,lon\n"
        "Rain Bar,bar,M1 5JG,53.474672,-2.245182\n"
        "Joshua Brooks,nightclub,,53.474320,-2.241750\n"
    ))
    ranks_csv = _write(tmp_path, "name,lat,lon\nPiccadilly,53.4774,-2.2309\n", name="r.csv")
    venues, _ = read_venues(venues_csv)
    ranks, _ = read_venues(ranks_csv, kind_default="taxi rank")
    dest = tmp_path / "data" / "venues"
    save_venues(venues, dest, "venues")
    save_venues(ranks, dest, "taxi_ranks")
    assert sorted(p.name for p in dest.iterdir()) == ["taxi_ranks.parquet", "venues.parquet"]

    loaded = load_venues(dest, "venues")
    pd.testing.assert_frame_equal(
        loaded.drop(columns="kind"), venues, check_dtype=False, check_exact=False
    )
    assert loaded["postcode"].isna().tolist() == [False, True]
    both = load_venues(dest)
    assert both["kind"].tolist() == ["venues", "venues", "taxi_ranks"]
    assert both["type"].tolist() == ["bar", "nightclub", "taxi rank"]

    # Saving a kind again replaces that kind only.
    save_venues(venues.iloc[:1], dest, "venues")
    assert load_venues(dest)["name"].tolist() == ["Rain Bar", "Piccadilly"]


def test_load_nothing_saved_and_bad_kind(tmp_path):
    empty = load_venues(tmp_path / "venues")
    assert empty.empty and list(empty.columns) == [*VENUE_COLUMNS, "kind"]
    with pytest.raises(ValueError, match="kind must be one of venues, taxi_ranks"):
        save_venues(empty, tmp_path, "pubs")


def test_corrupt_saved_file_is_reported(tmp_path):
    (tmp_path / "venues.parquet").write_bytes(b"not parquet")
    with pytest.raises(ReadError, match="could not be read"):
        load_venues(tmp_path)


def test_rejected_rows_keep_their_text_and_first_line_across_quoted_newlines(tmp_path):
    path = _write(tmp_path, (
        "name,address,lat,lon\n"
        '"Rain Bar","80 Great Bridgewater St\nManchester",53.4747,-2.2452\n'
        '"Lost","1 Nowhere Rd\nSomewhere",,\n'
        "Abroad,Paris,48.85,2.35\n"
    ))
    venues, rejects = read_venues(path)
    assert venues["line"].tolist() == [2]
    assert venues["address"].tolist() == ["80 Great Bridgewater St\nManchester"]
    assert rejects["line"].tolist() == [4, 6]
    assert rejects["raw"].tolist() == ["Lost,1 Nowhere Rd\nSomewhere,,", "Abroad,Paris,48.85,2.35"]


def test_old_mac_line_endings_are_rows(tmp_path):
    path = tmp_path / "mac.csv"
    path.write_bytes(b"name,lat,lon\rRain Bar,53.4747,-2.2452\rLost,,\r")
    venues, rejects = read_venues(path)
    assert venues["name"].tolist() == ["Rain Bar"]
    assert rejects["line"].tolist() == [3]


def test_many_rows_each_get_the_reason_they_would_get_alone(tmp_path):
    # The reader tests whole columns at once; every row must still get its own reason.
    rows = {
        "Good,53.4747,-2.2452": None,
        "Blank,,": "no coordinates (lat and lon are blank)",
        "Text,north,-2.2": "coordinates are not numbers (lat 'north', lon '-2.2')",
        "Swapped,-2.2452,53.4747": "latitude and longitude look swapped (lat -2.2452",
        "Paris,48.8566,2.3522": "coordinates outside the UK (lat 48.8566, lon 2.3522;",
        "Zero,0,0": "coordinates are 0, 0",
    }
    order = list(rows) * 50
    path = _write(tmp_path, "name,lat,lon\n" + "\n".join(order) + "\n")
    venues, rejects = read_venues(path)
    assert venues["line"].tolist() == [2 + i for i, r in enumerate(order) if rows[r] is None]
    expected = [(2 + i, rows[r]) for i, r in enumerate(order) if rows[r] is not None]
    assert rejects["line"].tolist() == [line for line, _ in expected]
    for (_, reason), got in zip(expected, rejects["reason"], strict=True):
        assert got.startswith(reason)
