"""Placing postcodes and LSOA codes offline: the ONSPD and Code-Point Open readers, the lookup.

Every postcode, coordinate and LSOA code here is made up (see tests/postcode_helpers.py).
"""

from __future__ import annotations

import gzip
import json
import zipfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from numpy.testing import assert_allclose

from geo.postcodes import (
    CODE_POINT,
    CODE_POINT_COLUMNS,
    LSOA_CENTROIDS_FILE,
    NO_CENTROIDS_MESSAGE,
    NO_POSTCODES_MESSAGE,
    ONSPD,
    POSTCODES_FILE,
    LsoaCentroids,
    PostcodeLookup,
    import_lsoa_centroids,
    import_postcodes,
    normalise_postcodes,
    postcode_manifest,
    require_lsoa_centroids,
    require_postcode_lookup,
)
from geo.projection import to_bng, to_wgs84
from geo.schema import ReadError
from geo.settings import DataPaths
from tests.postcode_helpers import (
    ONSPD_HEADER,
    code_point_row,
    onspd_row,
    onspd_text,
    write_onspd,
)

#: Coordinates come back exactly as the directory gives them (whole metres).
METRE_ATOL = 0.0
#: A BT postcode is placed from the directory's lat/long (6 decimals: ~0.1 m) through pyproj.
LATLONG_ATOL_M = 1.0

#: Blackpool town centre (made up, British National Grid metres).
LIVE = ("FY1 1AA", 330_900, 436_400, "E01012345")
LIVE2 = ("FY1 1AB", 331_000, 436_300, "E01012346")
TERMINATED = ("FY1 1AD", 331_100, 436_200, "E01012346")
NO_GRID = ("FY1 1AE", None, None, "E01012347")
#: Belfast (made up): the directory's oseast1m/osnrth1m for BT are on the Irish Grid.
BELFAST_LON_LAT = (-5.9301, 54.5973)
BELFAST_IRISH_GRID = (333_900, 374_200)


def onspd_rows() -> list[str]:
    lon, lat = BELFAST_LON_LAT
    bt = onspd_row("BT1 1AA", *BELFAST_IRISH_GRID, lsoa21="")
    # the helper computes lat/long from the grid reference as if it were BNG; put Belfast's in
    bt_fields = bt.split(",")
    at = ONSPD_HEADER.split(",")
    bt_fields[at.index("lat")] = f"{lat:.6f}"
    bt_fields[at.index("long")] = f"{lon:.6f}"
    return [
        onspd_row(LIVE[0], LIVE[1], LIVE[2], lsoa21=LIVE[3], lsoa11="E01000001"),
        onspd_row(LIVE2[0], LIVE2[1], LIVE2[2], lsoa21=LIVE2[3], lsoa11="E01000002"),
        onspd_row(TERMINATED[0], TERMINATED[1], TERMINATED[2], lsoa21=TERMINATED[3],
                  doterm="201906"),
        onspd_row(NO_GRID[0], NO_GRID[1], NO_GRID[2], lsoa21=NO_GRID[3]),
        ",".join(bt_fields),
        # Scotland: its 2021 "LSOA" column holds a data zone code, which is not an LSOA
        onspd_row("AB10 1AB", 394_200, 806_500, lsoa21="S01006514"),
    ]


@pytest.fixture
def data(tmp_path) -> DataPaths:
    return DataPaths(tmp_path / "data")


@pytest.fixture
def onspd_file(tmp_path):
    return write_onspd(tmp_path / "ONSPD_FEB_2024_UK.csv", onspd_rows())


@pytest.fixture
def lookup(onspd_file, data) -> PostcodeLookup:
    import_postcodes(onspd_file, data)
    found = PostcodeLookup.load(data)
    assert found is not None
    return found


# --------------------------------------------------------------------------------------------
# Reading the ONSPD


def test_onspd_import_counts_every_kind_of_postcode(onspd_file, data):
    summary = import_postcodes(onspd_file, data)
    assert summary.source == ONSPD
    assert (summary.read, summary.kept, summary.skipped) == (6, 6, 0)
    assert (summary.live, summary.terminated, summary.no_grid_reference) == (5, 1, 1)
    assert summary.with_lsoa == 4  # not Belfast, not the Scottish data zone
    assert summary.lsoa_column == "lsoa21"
    text = summary.as_text()
    assert "terminated" in text and "ONSPD" in text


def test_the_lookup_file_is_compact_and_typed(onspd_file, data):
    import_postcodes(onspd_file, data)
    table = pq.read_table(data.postcodes / POSTCODES_FILE)
    assert table.column_names == ["postcode", "easting", "northing", "lsoa", "terminated",
                                  "source"]
    assert str(table.schema.field("easting").type) == "int32"
    rows = table.to_pandas().set_index("postcode")
    assert rows.loc["FY11AA", "easting"] == LIVE[1]
    assert rows.loc["FY11AD", "terminated"] == "2019-06"
    assert pd.isna(rows.loc["FY11AE", "easting"])
    assert set(rows["source"].astype(str)) == {ONSPD}
    manifest = json.loads((data.postcodes / "postcodes.json").read_text())
    assert manifest["file"] == onspd_file.name and manifest["rows"] == 6
    assert manifest["source"] == ONSPD and manifest["imported_at"]
    assert postcode_manifest(data) == manifest


def test_place_gives_a_point_or_a_reason_for_every_row(lookup):
    placed = lookup.place(np.asarray(
        ["FY1 1AA", "fy11ab", " FY1  1AB ", "FY1 9ZZ", "FY1 1AD", "FY1 1AE", "XYZ", None,
         np.nan, "", "   ", "FY1\u00a01AA"], dtype=object))
    assert_allclose(placed.easting[:3], [LIVE[1], LIVE2[1], LIVE2[1]], atol=METRE_ATOL)
    assert_allclose(placed.northing[:3], [LIVE[2], LIVE2[2], LIVE2[2]], atol=METRE_ATOL)
    assert placed.easting.dtype == np.float64 and placed.northing.dtype == np.float64
    assert np.isnan(placed.easting[3:11]).all()
    assert placed.reason.tolist() == [
        None, None, None,
        "postcode not in the postcode directory: 'FY1 9ZZ'",
        "postcode terminated (no longer in use since 2019-06): 'FY1 1AD'",
        "postcode has no grid reference in the postcode directory: 'FY1 1AE'",
        "not a postcode: 'XYZ'",
        "no postcode", "no postcode", "no postcode", "no postcode",
        None,
    ]
    # The LSOA is known for every postcode in the directory, placed or not.
    assert placed.lsoa.tolist() == ["E01012345", "E01012346", "E01012346", None, "E01012346",
                                    "E01012347", None, None, None, None, None, "E01012345"]
    assert placed.placed.tolist() == [True] * 3 + [False] * 8 + [True]


def test_a_terminated_postcode_is_placed_for_records_from_when_it_was_in_use(lookup):
    at = pd.to_datetime(["2019-05-31 23:00", "2019-06-01 00:00", None])
    placed = lookup.place(np.asarray(["FY1 1AD"] * 3, dtype=object), at=at)
    assert placed.reason[0] is None
    assert_allclose(placed.easting[:1], [TERMINATED[1]], atol=METRE_ATOL)
    assert placed.reason[1].startswith("postcode terminated (no longer in use since 2019-06)")
    assert placed.reason[2].startswith("postcode terminated")
    # which were refused for being terminated, so a caller does not place them at their LSOA
    assert placed.terminated is not None
    assert placed.terminated.tolist() == [False, True, True]


def test_northern_ireland_postcodes_are_placed_from_lat_long_not_the_irish_grid(lookup):
    placed = lookup.place(["BT1 1AA"])
    expected = to_bng(np.array([BELFAST_LON_LAT[0]]), np.array([BELFAST_LON_LAT[1]]))
    assert_allclose([placed.easting[0], placed.northing[0]],
                    [expected[0][0], expected[1][0]], atol=LATLONG_ATOL_M)
    lon, lat = to_wgs84(placed.easting, placed.northing)
    assert_allclose([lon[0], lat[0]], BELFAST_LON_LAT, atol=1e-4)


def test_scottish_data_zones_are_not_given_as_lsoas(lookup):
    placed = lookup.place(["AB10 1AB"])
    assert placed.reason[0] is None and placed.lsoa[0] is None


def test_upper_case_header_and_lsoa21cd_are_read(tmp_path, data):
    header = ONSPD_HEADER.upper().replace("LSOA21", "LSOA21CD")
    path = write_onspd(tmp_path / "onspd_upper.csv", onspd_rows(), header=header)
    summary = import_postcodes(path, data)
    assert summary.kept == 6 and summary.lsoa_column == "LSOA21CD"
    assert PostcodeLookup.load(data).place(["FY1 1AA"]).lsoa.tolist() == ["E01012345"]


def test_lsoa11_is_used_when_the_directory_has_no_2021_lsoas(tmp_path, data):
    header = ONSPD_HEADER.replace(",lsoa21,", ",lsoa21x,")
    path = write_onspd(tmp_path / "old.csv", onspd_rows(), header=header)
    assert import_postcodes(path, data).lsoa_column == "lsoa11"
    assert PostcodeLookup.load(data).place(["FY1 1AA"]).lsoa.tolist() == ["E01000001"]


def test_malformed_and_repeated_postcodes_are_counted(tmp_path, data):
    rows = onspd_rows()
    rows += [onspd_row("FY1 1AA", 1, 2, lsoa21="E01012345").replace('"FY1 1AA"', '"NOT ONE"'),
             onspd_row(LIVE[0], 330_000, 436_000, lsoa21=LIVE[3], doterm="200101")]
    path = write_onspd(tmp_path / "onspd.csv", rows)
    summary = import_postcodes(path, data)
    assert summary.read == 8
    assert summary.skipped_by_reason == {"not a postcode": 1,
                                         "a repeat of an earlier row's postcode": 1}
    # of a repeated postcode, the live row with a grid reference is kept
    assert_allclose(PostcodeLookup.load(data).place(["FY1 1AA"]).easting, [LIVE[1]])


def test_gzipped_onspd(tmp_path, data):
    path = tmp_path / "onspd.csv.gz"
    path.write_bytes(gzip.compress(onspd_text(onspd_rows()).encode()))
    assert import_postcodes(path, data).kept == 6


def test_onspd_zip_reads_the_whole_uk_file_once(tmp_path, data):
    path = tmp_path / "ONSPD_FEB_2024.zip"
    whole = onspd_text(onspd_rows())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/ONSPD_FEB_2024_UK.csv", whole)
        # the same rows again, split by postcode area: reading them too would double up
        zf.writestr("Data/multi_csv/ONSPD_FEB_2024_UK_FY.csv", whole)
        zf.writestr("Documents/LA_UA names and codes UK as at 04_23.csv",
                    "LAD23CD,LAD23NM\nE06000009,Blackpool\n")
        zf.writestr("User Guide/ONSPD User Guide Feb 2024.pdf", b"%PDF-1.7 ...")
    summary = import_postcodes(path, data)
    assert (summary.read, summary.kept) == (6, 6)
    assert summary.skipped_by_reason == {}


def test_nspl_zip_reads_its_whole_uk_file_once(tmp_path, data):
    # The National Statistics Postcode Lookup has the ONSPD's layout and zip structure.
    path = tmp_path / "NSPL21_FEB_2024.zip"
    whole = onspd_text(onspd_rows())
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/NSPL21_FEB_2024_UK.csv", whole)
        zf.writestr("Data/multi_csv/NSPL21_FEB_2024_UK_FY.csv", whole)
    assert (import_postcodes(path, data).read, PostcodeLookup.load(data).source) == (6, ONSPD)


def test_onspd_zip_of_area_files_only(tmp_path, data):
    path = tmp_path / "onspd_multi.zip"
    rows = onspd_rows()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/multi_csv/ONSPD_FEB_2024_UK_FY.csv", onspd_text(rows[:4]))
        zf.writestr("Data/multi_csv/ONSPD_FEB_2024_UK_BT.csv", onspd_text(rows[4:]))
    assert import_postcodes(path, data).kept == 6


# --------------------------------------------------------------------------------------------
# Reading Code-Point Open


def code_point_lines() -> list[str]:
    return [code_point_row("FY1 1AA", 10, 330_900, 436_400),
            code_point_row("FY1 1AB", 10, 331_000, 436_300),
            code_point_row("FY1 1AE", 90, 0, 0)]


@pytest.mark.parametrize("header", [None, ",".join(CODE_POINT_COLUMNS),
                                    "PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC"],
                         ids=["no header", "long header", "short header"])
def test_code_point_open_csv(tmp_path, data, header):
    lines = ([header] if header else []) + code_point_lines()
    path = tmp_path / "fy.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    summary = import_postcodes(path, data)
    assert summary.source == CODE_POINT
    assert (summary.read, summary.kept, summary.no_grid_reference) == (3, 3, 1)
    assert (summary.terminated, summary.with_lsoa) == (0, 0)
    placed = PostcodeLookup.load(data).place(["FY1 1AB", "FY1 1AE"])
    assert_allclose(placed.easting[:1], [331_000], atol=METRE_ATOL)
    assert placed.reason[1] == ("postcode has no grid reference in the postcode directory: "
                                "'FY1 1AE'")
    assert placed.lsoa.tolist() == [None, None]


def test_code_point_open_zip_reads_every_area(tmp_path, data):
    path = tmp_path / "codepo_gb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/CSV/fy.csv", "\r\n".join(code_point_lines()) + "\r\n")
        zf.writestr("Data/CSV/m.csv", code_point_row("M1 5JG", 10, 383_820, 397_770,
                                                     "E08000003") + "\r\n")
        zf.writestr("Doc/Code-Point_Open_Column_Headers.csv",
                    "PC,PQ,EA,NO,CY,RH,LH,CC,DC,WC\nPostcode,Positional_quality_indicator,"
                    "Eastings,Northings,Country_code,NHS_regional_HA_code,NHS_HA_code,"
                    "Admin_county_code,Admin_district_code,Admin_ward_code\n")
        zf.writestr("Doc/licence.txt", "Contains OS data")
    summary = import_postcodes(path, data)
    assert (summary.source, summary.kept) == (CODE_POINT, 4)
    assert_allclose(PostcodeLookup.load(data).place(["m15jg"]).northing, [397_770])


# --------------------------------------------------------------------------------------------
# Files that are not postcode directories, damaged or hostile: one clear ReadError each


def _zip_with(path, name: str, data: bytes = b"x"):
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/ONSPD_FEB_2024_UK.csv", onspd_text(onspd_rows()))
        zf.writestr(name, data)
    return path


@pytest.mark.parametrize("name", ["../../etc/cron.d/evil.csv", "/tmp/evil.csv",
                                  "Data\\..\\..\\evil.csv", "C:/Windows/evil.csv"],
                         ids=["dot-dot", "absolute", "backslashes", "drive"])
def test_a_zip_naming_a_member_outside_itself_is_refused(tmp_path, data, name):
    path = _zip_with(tmp_path / "onspd.zip", name)
    with pytest.raises(ReadError, match="points outside the archive"):
        import_postcodes(path, data)
    assert not (data.postcodes / POSTCODES_FILE).exists()


def test_a_zip_member_larger_than_the_limit_is_refused_unread(tmp_path, data, monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_INGEST_DECOMPRESSED_MB", "1")
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/ONSPD_FEB_2024_UK.csv",
                    onspd_text(onspd_rows()) + "\r\n" * (3 * 1024 * 1024))
    assert path.stat().st_size < 100_000  # small on disk, 3 MB once decompressed
    with pytest.raises(ReadError, match="HOTSPOT_MAX_INGEST_DECOMPRESSED_MB"):
        import_postcodes(path, data)


def test_a_gzip_that_expands_beyond_the_limit_is_stopped_while_reading(tmp_path, data,
                                                                         monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_INGEST_DECOMPRESSED_MB", "1")
    path = tmp_path / "bomb.csv.gz"
    # gzip declares no size up front, so the limit is enforced on the bytes as they come
    text = onspd_text(onspd_rows() * 4000)
    assert len(text) > 2 * 1024 * 1024
    path.write_bytes(gzip.compress(text.encode()))
    with pytest.raises(ReadError, match="more than 1 MB.*HOTSPOT_MAX_INGEST_DECOMPRESSED_MB"):
        import_postcodes(path, data)


def test_a_zip_that_lies_about_its_member_size_is_stopped_while_reading(tmp_path, data,
                                                                          monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_INGEST_DECOMPRESSED_MB", "1")
    # A zip whose member is a gzipped CSV: the declared size is the small compressed size.
    inner = gzip.compress(onspd_text(onspd_rows() * 4000).encode())
    path = tmp_path / "nested.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("Data/ONSPD_FEB_2024_UK.csv.gz", inner)
    with pytest.raises(ReadError, match="HOTSPOT_MAX_INGEST_DECOMPRESSED_MB"):
        import_postcodes(path, data)


@pytest.mark.parametrize(("content", "message"), [
    (b"", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200), "binary data"),
    (b"id,name,lat,lon\n1,Rain Bar,53.47,-2.24\n", "no postcode column was found"),
    (b"pcds,lat,long\nFY1 1AA,53.8,-3.05\n", "no grid reference columns"),
    (ONSPD_HEADER.encode() + b"\r\n", "no postcode could be read"),
    (onspd_text(onspd_rows()).encode().replace(b"FY1 1AB", b"FY1 1\xff\xfe"), "not UTF-8"),
    (onspd_text(onspd_rows()).encode() + b'"FY1 1ZZ","FY1  1ZZ","FY1 1ZZ"\r\n',
     "Expected 52 columns, got 3.*cut short or damaged"),
], ids=["empty", "binary", "no postcode column", "no grid columns", "header only",
        "not utf-8", "a row cut short"])
def test_files_that_cannot_be_used_are_refused_with_a_reason(tmp_path, data, content,
                                                             message):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    try:
        import_postcodes(path, data)
    except ReadError as exc:
        text = str(exc)
        assert "upload.csv" in text
        assert pd.Series([text]).str.contains(message).all(), text
        assert "Traceback" not in text
    else:
        pytest.fail(f"{message}: no ReadError")
    assert not (data.postcodes / POSTCODES_FILE).exists()


def test_a_cut_short_gzip_is_refused(tmp_path, data):
    whole = gzip.compress(onspd_text(onspd_rows() * 200).encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ReadError, match="damaged or cut short"):
        import_postcodes(path, data)


def test_a_zip_with_no_csv_is_refused(tmp_path, data):
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
    with pytest.raises(ReadError, match="no CSV data file"):
        import_postcodes(path, data)


def test_a_missing_file_is_refused(tmp_path, data):
    with pytest.raises(ReadError, match="no such file"):
        import_postcodes(tmp_path / "nope.csv", data)


# --------------------------------------------------------------------------------------------
# Replacing, loading and caching


def test_reimport_replaces_the_lookup_and_a_failed_one_keeps_it(tmp_path, data, onspd_file):
    import_postcodes(onspd_file, data)
    first = PostcodeLookup.load(data)
    assert PostcodeLookup.load(data) is first  # cached while the file is unchanged
    cp = tmp_path / "cp.csv"
    cp.write_text(code_point_row("M1 5JG", 10, 383_820, 397_770) + "\n")
    import_postcodes(cp, data)
    second = PostcodeLookup.load(data)
    assert second is not first and len(second) == 1 and second.source == CODE_POINT
    bad = tmp_path / "bad.csv"
    bad.write_text("name,town\nRain Bar,Manchester\n")
    with pytest.raises(ReadError):
        import_postcodes(bad, data)
    assert PostcodeLookup.load(data).source == CODE_POINT
    # nothing half-written is left beside the lookup
    assert sorted(p.name for p in data.postcodes.iterdir()) == [".lock", "postcodes.json",
                                                                "postcodes.parquet"]


def test_no_lookup_imported(data):
    assert PostcodeLookup.load(data) is None
    assert postcode_manifest(data) is None
    with pytest.raises(ReadError) as info:
        require_postcode_lookup(data)
    assert str(info.value) == NO_POSTCODES_MESSAGE
    assert "hotspot postcodes import FILE" in NO_POSTCODES_MESSAGE


def test_a_damaged_lookup_file_says_to_import_again(data):
    data.postcodes.mkdir(parents=True)
    (data.postcodes / POSTCODES_FILE).write_bytes(b"not parquet")
    with pytest.raises(ReadError, match="import it again"):
        PostcodeLookup.load(data)


def test_normalise_postcodes_keeps_order_and_missing():
    out = normalise_postcodes(np.asarray(["m1 5jg", " M1   5JG ", None, 12345, "n/a"],
                                         dtype=object))
    assert out.tolist() == ["M15JG", "M15JG", None, "12345", None]


def test_place_accepts_lists_series_and_non_text(lookup):
    placed = lookup.place(pd.Series(["FY1 1AA", 12345, 1.5]))
    assert placed.reason.tolist() == [None, "not a postcode: '12345'", "not a postcode: '1.5'"]
    assert len(lookup.place(np.asarray([], dtype=object))) == 0


def test_an_empty_directory_places_nothing():
    empty = PostcodeLookup.from_frame(pd.DataFrame({"postcode": [], "easting": [],
                                                    "northing": []}))
    placed = empty.place(["FY1 1AA"])
    assert placed.reason.tolist() == ["postcode not in the postcode directory: 'FY1 1AA'"]


def test_placing_a_million_postcodes_is_vectorised(lookup):
    values = np.asarray(["FY1 1AA", "fy1 1ab", "FY1 9ZZ", None] * 250_000, dtype=object)
    import time

    started = time.perf_counter()
    placed = lookup.place(values)
    took = time.perf_counter() - started
    assert int(placed.placed.sum()) == 500_000
    assert took < 20, f"placing 1M postcodes took {took:.1f} s"


# --------------------------------------------------------------------------------------------
# LSOA population-weighted centroids


PWC_2021 = ("FID,LSOA21CD,LSOA21NM,GlobalID,x,y\r\n"
            "1,E01012345,Blackpool 010A,{0C5F0B43-0000-0000-0000-000000000001},331012.345,"
            "436050.5\r\n"
            "2,W01000001,Isle of Anglesey 007A,{0C5F0B43-0000-0000-0000-000000000002},"
            "246120.1,388110.9\r\n"
            "3,S01006514,Not an LSOA,{0C5F0B43-0000-0000-0000-000000000003},394200,806500\r\n"
            "4,E01012345,Blackpool 010A,{0C5F0B43-0000-0000-0000-000000000004},1,2\r\n"
            "5,E01012346,Blackpool 010B,{0C5F0B43-0000-0000-0000-000000000005},,\r\n"
            "6,E01012347,Blackpool 010C,{0C5F0B43-0000-0000-0000-000000000006},1,2,3\r\n")


def test_lsoa_centroid_csv_2021(tmp_path, data):
    path = tmp_path / "LSOA_PopCentroids_EW_2021_V3.csv"
    path.write_text(PWC_2021)
    summary = import_lsoa_centroids(path, data)
    assert (summary.read, summary.kept, summary.vintage) == (6, 2, "2021")
    assert summary.skipped_by_reason == {
        "not an English or Welsh LSOA code (E01/W01 and six digits)": 1,
        "a repeat of an earlier row's LSOA code": 1, "coordinates are not numbers": 1,
        "more fields than the header has": 1}
    cent = LsoaCentroids.load(data)
    assert cent is not None and len(cent) == 2
    placed = cent.place(np.asarray(["E01012345", "w01000001", "E01999999", "S01006514",
                                    "E0101234", None, ""], dtype=object))
    assert_allclose(placed.easting[:2], [331012.345, 246120.1])
    assert_allclose(placed.northing[:2], [436050.5, 388110.9])
    assert placed.lsoa.tolist() == ["E01012345", "W01000001", None, None, None, None, None]
    assert placed.reason.tolist() == [
        None, None, "LSOA code not recognised: 'E01999999'",
        "not an LSOA code: 'S01006514'", "not an LSOA code: 'E0101234'", "no LSOA code",
        "no LSOA code"]
    manifest = json.loads((data.postcodes / "lsoa_centroids.json").read_text())
    assert manifest["rows"] == 2 and manifest["vintage"] == "2021"
    assert pq.read_table(data.postcodes / LSOA_CENTROIDS_FILE).num_rows == 2


@pytest.mark.parametrize(("header", "row"), [
    ("OBJECTID,LSOA11CD,LSOA11NM,BNG_E,BNG_N,LAT,LONG",
     "1,E01012345,Blackpool 010A,331012,436050,53.8,-3.05"),
    ("lsoa11cd,lsoa11nm,LAT,LONG", "E01012345,Blackpool 010A,{lat},{lon}"),
    ("X,Y,objectid,lsoa11cd,lsoa11nm", "{lon},{lat},1,E01012345,Blackpool 010A"),
], ids=["BNG_E/BNG_N", "LAT/LONG", "x/y in degrees"])
def test_lsoa_centroid_layouts_of_other_releases(tmp_path, data, header, row):
    lon, lat = to_wgs84(np.array([331_012.0]), np.array([436_050.0]))
    path = tmp_path / "pwc.csv"
    path.write_text(f"{header}\n{row.format(lat=lat[0], lon=lon[0])}\n")
    summary = import_lsoa_centroids(path, data)
    assert (summary.kept, summary.vintage) == (1, "2011")
    placed = LsoaCentroids.load(data).place(["E01012345"])
    assert_allclose([placed.easting[0], placed.northing[0]], [331_012, 436_050],
                    atol=LATLONG_ATOL_M)


@pytest.mark.parametrize("crs", ["EPSG:4326", "EPSG:27700"])
def test_lsoa_centroid_geojson(tmp_path, data, crs):
    import geopandas as gpd
    from shapely.geometry import Point

    gdf = gpd.GeoDataFrame({"LSOA21CD": ["E01012345", "W01000001"],
                            "LSOA21NM": ["Blackpool 010A", "Anglesey 007A"]},
                           geometry=[Point(331_012, 436_050), Point(246_120, 388_110)],
                           crs="EPSG:27700").to_crs(crs)
    path = tmp_path / "pwc.geojson"
    gdf.to_file(path, driver="GeoJSON")
    summary = import_lsoa_centroids(path, data)
    assert summary.kept == 2
    placed = LsoaCentroids.load(data).place(["W01000001"])
    assert_allclose([placed.easting[0], placed.northing[0]], [246_120, 388_110],
                    atol=LATLONG_ATOL_M)


def test_lsoa_boundaries_instead_of_centroids_are_refused(tmp_path, data):
    import geopandas as gpd
    from shapely.geometry import box

    path = tmp_path / "lsoa_polygons.geojson"
    gpd.GeoDataFrame({"LSOA21CD": ["E01012345"]}, geometry=[box(0, 0, 100, 100)],
                     crs="EPSG:27700").to_file(path, driver="GeoJSON")
    with pytest.raises(ReadError, match="centroids are points"):
        import_lsoa_centroids(path, data)


@pytest.mark.parametrize(("content", "message"), [
    ("FID,name,x,y\n1,a,1,2\n", "no LSOA code column"),
    ("FID,LSOA21CD,colour\n1,E01012345,red\n", "no coordinate columns"),
    ("FID,LSOA21CD,x,y\n1,S01006514,394200,806500\n", "no LSOA centroid could be read"),
], ids=["no code column", "no coordinates", "no usable row"])
def test_lsoa_centroid_files_that_cannot_be_used(tmp_path, data, content, message):
    path = tmp_path / "pwc.csv"
    path.write_text(content)
    with pytest.raises(ReadError, match=message):
        import_lsoa_centroids(path, data)
    assert LsoaCentroids.load(data) is None


def test_lsoa_centroids_in_a_zip(tmp_path, data):
    path = tmp_path / "pwc.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("LSOA_PopCentroids_EW_2021_V3.csv", PWC_2021)
    assert import_lsoa_centroids(path, data).kept == 2


def test_no_centroids_imported(data):
    assert LsoaCentroids.load(data) is None
    with pytest.raises(ReadError) as info:
        require_lsoa_centroids(data)
    assert str(info.value) == NO_CENTROIDS_MESSAGE
    assert "hotspot lsoa-centroids import FILE" in NO_CENTROIDS_MESSAGE

