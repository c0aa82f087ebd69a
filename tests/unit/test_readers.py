"""Readers: formats, rejects with reasons and line numbers, timestamps, mappings, point layers."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from pyproj import Transformer
from shapely.geometry import LineString, Point

from geo.readers import (
    POLICE_UK_COLUMNS,
    Mapping,
    _content_ids_fast,
    detect_format,
    load_mapping,
    mapping_from_options,
    read_file,
    read_generic_csv,
    read_points,
    read_police_uk,
)
from geo.schema import RAW_COLUMNS, ReadError, content_ids, empty_raw

HEADER = ",".join(POLICE_UK_COLUMNS)
#: Degrees; 1e-6 degrees is about 0.1 m, far below anything a hotspot map shows.
LONLAT_TOL_DEG = 1e-6


def police_row(
    crime_id: str = "abc123",
    month: str = "2024-03",
    lon: str = "-2.703",
    lat: str = "53.759",
    location: str = "On or near Fishergate",
    crime_type: str = "Violence and sexual offences",
) -> str:
    return (
        f"{crime_id},{month},Lancashire Constabulary,Lancashire Constabulary,{lon},{lat},"
        f"{location},E01025385,Preston 014C,{crime_type},Under investigation,"
    )


def asb_row(lon: str = "-2.703", lat: str = "53.759", location: str = "On or near Park") -> str:
    return police_row(crime_id="", lon=lon, lat=lat, location=location,
                      crime_type="Anti-social behaviour").replace("Under investigation", "")


def write(path: Path, text: str, *, gz: bool = False, encoding: str = "utf-8") -> Path:
    data = text.encode(encoding)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def police_file(tmp_path: Path, rows: list[str], name: str = "street.csv", **kw: bool) -> Path:
    return write(tmp_path / name, HEADER + "\n" + "\n".join(rows) + "\n", **kw)


def assert_accounted(result) -> None:
    assert len(result.rows) + len(result.rejects) == result.lines_read
    assert list(result.rows.columns) == list(RAW_COLUMNS)
    assert result.rows.dtypes.to_dict() == empty_raw().dtypes.to_dict()
    # Every line appears once, either accepted or rejected.
    lines = np.concatenate([result.rows["line"].to_numpy(), result.rejects["line"].to_numpy()])
    assert len(np.unique(lines)) == len(lines)


# --------------------------------------------------------------------------------------------
# Format detection and whole-file errors
# --------------------------------------------------------------------------------------------


def test_detect_police_uk_header_plain_bom_and_gzip_without_suffix(tmp_path):
    assert detect_format(police_file(tmp_path, [police_row()])) == "police_uk"
    bom = write(tmp_path / "bom.csv", "\ufeff" + HEADER + "\n" + police_row() + "\n")
    assert detect_format(bom) == "police_uk"
    # Gzip is recognised by its magic bytes, not the name.
    disguised = police_file(tmp_path, [police_row()], name="street.csv", gz=True)
    assert detect_format(disguised) == "police_uk"


def test_detect_other_csv_geojson_and_gpkg(tmp_path):
    assert detect_format(write(tmp_path / "ed.csv", "when,x,y,type\n")) == "csv"
    # One column fewer than police.uk is a different file, even with the same names.
    short = ",".join(POLICE_UK_COLUMNS[:-1])
    assert detect_format(write(tmp_path / "short.csv", short + "\n")) == "csv"
    gj = write(tmp_path / "p.json", json.dumps({"type": "FeatureCollection", "features": []}))
    assert detect_format(gj) == "geojson"
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(0, 1)], crs="EPSG:4326")
    gdf.to_file(tmp_path / "p.gpkg", driver="GPKG")
    assert detect_format(tmp_path / "p.gpkg") == "gpkg"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (None, "file not found"),
        (b"", "empty"),
        (b"\n\n  \n", "empty"),
        (b"just one column\n1\n", "header row not recognised"),
        (b"a;b;c\n1;2;3\n", "separated by semicolons"),
        (b"PK\x03\x04rest-of-zip", "Excel"),
        (b"\x00\x01\x02binary", "binary"),
    ],
    ids=["missing", "empty", "blank-lines-only", "one-column", "semicolons", "xlsx", "binary"],
)
def test_unreadable_files_raise_one_clear_error(tmp_path, content, expected):
    path = tmp_path / "input.csv"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ReadError, match=expected) as err:
        read_file(path)
    assert str(path) in str(err.value)
    if content not in (None, b"", b"\n\n  \n"):
        assert "Supported formats" in str(err.value)


def test_corrupt_gzip_raises_read_error(tmp_path):
    good = gzip.compress((HEADER + "\n" + "\n".join([police_row()] * 5000) + "\n").encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ReadError, match="gzip data is corrupt or cut short"):
        read_police_uk(path)


def test_not_utf8_names_offset_line_and_fix(tmp_path):
    text = HEADER + "\n" + police_row() + "\n" + police_row(location="On or near Caf\u00e9") + "\n"
    path = write(tmp_path / "latin1.csv", text, encoding="cp1252")
    offset = text.encode("utf-8").index("\u00e9".encode())
    with pytest.raises(ReadError) as err:
        read_police_uk(path)
    message = str(err.value)
    assert f"byte offset {offset}" in message
    assert "(line 3)" in message
    assert "0xE9" in message
    assert "UTF-8" in message and "Re-save" in message


def test_utf8_bom_is_accepted(tmp_path):
    path = write(tmp_path / "bom.csv", "\ufeff" + HEADER + "\n" + police_row() + "\n")
    result = read_police_uk(path)
    assert result.rows["incident_id"].tolist() == ["abc123"]
    assert result.rows["line"].tolist() == [2]


def test_police_missing_required_column_is_named(tmp_path):
    cols = [c for c in POLICE_UK_COLUMNS if c != "Latitude"]
    path = write(tmp_path / "x.csv", ",".join(cols) + "\n")
    with pytest.raises(ReadError, match="'Latitude'") as err:
        read_police_uk(path)
    assert "Columns found: 'Crime ID', 'Month'" in str(err.value)


def test_header_only_file_reads_no_rows(tmp_path):
    result = read_police_uk(write(tmp_path / "h.csv", HEADER + "\n"))
    assert result.lines_read == 0 and result.rows.empty and result.rejects.empty
    assert_accounted(result)


# --------------------------------------------------------------------------------------------
# police.uk rows
# --------------------------------------------------------------------------------------------


def test_police_rows_become_raw_incidents(tmp_path):
    result = read_police_uk(police_file(tmp_path, [police_row()]))
    row = result.rows.iloc[0]
    assert row["incident_id"] == "abc123"
    assert row["month"] == "2024-03" and row["time_precision"] == "month"
    assert pd.isna(row["occurred_at"])
    assert (row["lon"], row["lat"]) == (-2.703, 53.759)
    assert np.isnan(row["easting"]) and np.isnan(row["northing"])
    assert row["category"] == "Violence and sexual offences"
    assert row["source"] == "police" and pd.isna(row["domestic"])
    assert row["location"] == "On or near Fishergate"
    assert_accounted(result)


def test_gzip_reads_the_same_as_plain(tmp_path):
    rows = [police_row(crime_id=f"id{i}") for i in range(50)] + [asb_row()] * 3
    plain = read_police_uk(police_file(tmp_path, rows, name="a.csv"))
    gz = read_police_uk(police_file(tmp_path, rows, name="a.csv.gz", gz=True))
    pd.testing.assert_frame_equal(plain.rows, gz.rows)


def test_asb_ids_stable_across_reads_and_distinct_for_identical_rows(tmp_path):
    path = police_file(tmp_path, [asb_row(), police_row(), asb_row(), asb_row(lon="-2.71")])
    first = read_police_uk(path).rows
    second = read_police_uk(path).rows
    assert first["incident_id"].tolist() == second["incident_id"].tolist()
    asb = first.loc[first["category"] == "Anti-social behaviour", "incident_id"].tolist()
    assert len(asb) == 3 and len(set(asb)) == 3
    assert all(i.startswith("asb-") for i in asb)


def test_asb_ids_are_schema_content_ids_of_the_agreed_fields(tmp_path):
    path = police_file(tmp_path, [asb_row(), asb_row(), asb_row(location="On or near Road")])
    ids = read_police_uk(path).rows["incident_id"]
    parts = pd.read_csv(path, dtype=str, keep_default_na=False)[
        ["Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
         "LSOA code", "Crime type"]
    ]
    assert ids.tolist() == content_ids(parts, "asb").tolist()


def test_asb_ids_do_not_depend_on_block_boundaries(tmp_path, monkeypatch):
    rows = [asb_row()] * 30 + [police_row(crime_id=f"c{i}") for i in range(30)] + [asb_row()] * 30
    path = police_file(tmp_path, rows)
    whole = read_police_uk(path).rows["incident_id"]
    import geo.readers as readers

    monkeypatch.setattr(readers, "_BLOCK_BYTES", 1024)  # many small blocks
    blocked = read_police_uk(path).rows["incident_id"]
    assert whole.tolist() == blocked.tolist()
    assert whole.nunique() == 90


@pytest.mark.parametrize(
    "parts",
    [
        pd.DataFrame({"a": ["x", "x", "y", "x"], "b": ["1", "1", "2", "1"]}),
        pd.DataFrame({"a": pd.array(["é", None, "é", ""], dtype="string"), "b": ["", "", "", ""]}),
        pd.DataFrame({"only": ["same"] * 5}),
    ],
    ids=["duplicates", "unicode-and-missing", "one-column"],
)
def test_fast_content_ids_equal_schema_content_ids(parts):
    assert _content_ids_fast(parts, "asb").tolist() == content_ids(parts, "asb").tolist()


def test_blank_coordinates_rejected_with_line_numbers(tmp_path):
    rows = [
        police_row(crime_id="ok1"),
        police_row(crime_id="nocoords", lon="", lat=""),
        police_row(crime_id="ok2"),
        police_row(crime_id="nolat", lat=""),
    ]
    result = read_police_uk(police_file(tmp_path, rows))
    assert result.rows["line"].tolist() == [2, 4]
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [3, "no coordinates (Longitude and Latitude are blank)"],
        [5, "no coordinates (Latitude is blank)"],
    ]
    assert result.rejects["raw"].iloc[0].startswith("nocoords,2024-03,")
    assert_accounted(result)


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (police_row(month="2019-13"), "Month '2019-13' is not a valid YYYY-MM month"),
        (police_row(month="March 2019"), "Month 'March 2019' is not a valid YYYY-MM month"),
        (police_row(month=""), "no Month"),
        (police_row(crime_type=""), "no Crime type"),
        (police_row(lon="abc"), "coordinates are not numbers: Longitude 'abc', Latitude '53.759'"),
        (police_row(lon="0", lat="0"), "coordinates are 0, 0"),
        (police_row(lat="95.1"), "coordinates are impossible: Longitude -2.703, Latitude 95.1"),
        (police_row(month="2019-13", lon="", lat=""),
         "no coordinates (Longitude and Latitude are blank); Month '2019-13' is not a valid"),
    ],
    ids=["month-13", "month-words", "no-month", "no-category", "non-numeric-lon",
         "null-island", "lat-95", "two-problems"],
)
def test_bad_police_rows_are_rejected_with_reasons(tmp_path, row, reason):
    result = read_police_uk(police_file(tmp_path, [police_row(crime_id="good"), row]))
    assert result.rows["incident_id"].tolist() == ["good"]
    assert result.rejects["line"].tolist() == [3]
    assert result.rejects["reason"].iloc[0].startswith(reason)
    assert_accounted(result)


def test_blank_lines_and_multiline_values_keep_physical_line_numbers(tmp_path):
    text = (
        HEADER + "\n"
        + police_row(crime_id="a") + "\n"
        + "\n"  # blank line: not a row
        + police_row(crime_id="b", location='"On or near\nTwo Lines"') + "\n"
        + police_row(crime_id="c", lon="") + "\n"
        + police_row(crime_id="d") + "\n\n\n"
    )
    result = read_police_uk(write(tmp_path / "odd.csv", text))
    assert result.rows["incident_id"].tolist() == ["a", "b", "d"]
    assert result.rows["line"].tolist() == [2, 4, 7]
    assert result.rows["location"].iloc[1] == "On or near\nTwo Lines"
    assert result.rejects["line"].tolist() == [6]
    assert result.lines_read == 4
    assert_accounted(result)


def test_rows_with_wrong_field_count_are_rejected_not_fatal(tmp_path):
    text = HEADER + "\n" + police_row(crime_id="a") + "\n" + "x,2024-03,extra\n" + police_row(
        crime_id="b", location="On or near A, B") + "\n"
    result = read_police_uk(write(tmp_path / "ragged.csv", text))
    assert result.rows["incident_id"].tolist() == ["a"]
    assert result.rejects["line"].tolist() == [3, 4]
    assert result.rejects["reason"].iloc[0].startswith("row has 3 fields but the header has 12")
    assert result.rejects["reason"].iloc[1].startswith("row has 13 fields")
    assert_accounted(result)


def test_crlf_and_no_final_newline(tmp_path):
    text = HEADER + "\r\n" + police_row(crime_id="a") + "\r\n" + police_row(crime_id="b")
    result = read_police_uk(write(tmp_path / "crlf.csv", text))
    assert result.rows["line"].tolist() == [2, 3]
    assert result.rows["incident_id"].tolist() == ["a", "b"]


def test_progress_reaches_total_and_never_goes_back(tmp_path, monkeypatch):
    import geo.readers as readers

    monkeypatch.setattr(readers, "_BLOCK_BYTES", 4096)
    path = police_file(tmp_path, [police_row(crime_id=f"id{i}") for i in range(400)], gz=True)
    calls: list[tuple[int, int]] = []
    read_police_uk(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(calls) > 2
    assert calls[-1] == (size, size)
    assert all(total == size for _, total in calls)
    done = [d for d, _ in calls]
    assert done == sorted(done)


# --------------------------------------------------------------------------------------------
# Mapping files and options
# --------------------------------------------------------------------------------------------

SAMPLE_TOML = """
[columns]
id = "uid"
datetime = "date_time"
lon = "longitude"
lat = "latitude"
category = "offense_type"
source = "source"
domestic = "domestic"
location = "address"

[defaults]
source = "police"
category = "Violence"

[datetime]
format = "auto"
dayfirst = true
offset = "convert"
"""


def test_load_mapping_reads_the_agreed_format(tmp_path):
    mapping = load_mapping(write(tmp_path / "m.toml", SAMPLE_TOML))
    assert mapping == Mapping(
        id="uid", datetime="date_time", lon="longitude", lat="latitude",
        category="offense_type", source="source", domestic="domestic", location="address",
        default_source="police", default_category="Violence", datetime_format="auto",
        dayfirst=True, offset="convert",
    )


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (SAMPLE_TOML.replace('lat = "latitude"', 'latt = "latitude"'), "unknown key 'latt'"),
        (SAMPLE_TOML + "\n[colums]\nid = 'x'\n", r"unknown section \[colums\]"),
        (SAMPLE_TOML.replace('offset = "convert"', 'offset = "utc"'), "offset must be"),
        (SAMPLE_TOML.replace('lat = "latitude"\n', ""), "'lon' is given without 'lat'"),
        (SAMPLE_TOML.replace('lat = "latitude"', 'lat = "latitude"\neasting = "e"\n'
                             'northing = "n"'), "not both pairs"),
        (SAMPLE_TOML.replace('datetime = "date_time"\n', ""), "no date column"),
        ("[columns\n", "not valid TOML"),
    ],
    ids=["typo-key", "typo-section", "bad-offset", "half-pair", "two-pairs", "no-date",
         "not-toml"],
)
def test_bad_mapping_files_raise_read_error_naming_the_problem(tmp_path, toml, message):
    path = write(tmp_path / "m.toml", toml)
    with pytest.raises(ReadError, match=message) as err:
        load_mapping(path)
    assert str(path) in str(err.value)


def test_mapping_from_options_ignores_unset_and_rejects_unknown():
    mapping = mapping_from_options(datetime="when", lon="x", lat="y", category="type",
                                   id=None, dayfirst=None, offset="ignore")
    assert mapping.offset == "ignore" and mapping.dayfirst is True and mapping.id is None
    with pytest.raises(ReadError, match="catgory"):
        mapping_from_options(datetime="when", lon="x", lat="y", catgory="type")
    with pytest.raises(ReadError, match="no category"):
        mapping_from_options(datetime="when", lon="x", lat="y")


# --------------------------------------------------------------------------------------------
# Generic CSV
# --------------------------------------------------------------------------------------------

LONLAT = {"lon": "x", "lat": "y", "category": "type"}


def generic(tmp_path: Path, when: list[str], mapping: Mapping | None = None,
            extra: dict[str, list[str]] | None = None) -> tuple[Path, Mapping]:
    frame = pd.DataFrame({"when": when, "x": "-2.703", "y": "53.759", "type": "Assault"})
    for col, values in (extra or {}).items():
        frame[col] = values
    path = tmp_path / "incidents.csv"
    frame.to_csv(path, index=False)
    return path, mapping or Mapping(datetime="when", **LONLAT)


@pytest.mark.parametrize(
    ("text", "local", "precision"),
    [
        ("2019-01-01T19:50:00Z", "2019-01-01 19:50", "minute"),
        ("2024-06-01 23:15", "2024-06-01 23:15", "minute"),
        ("2024-06-01T23:15:00+01:00", "2024-06-01 23:15", "minute"),
        ("2024-06-01T22:15:00.250Z", "2024-06-01 23:15", "minute"),
        ("2024-06-01 23", "2024-06-01 23:00", "hour"),
        ("01/06/2024 23:15", "2024-06-01 23:15", "minute"),
        ("01/06/2024 23:15:42", "2024-06-01 23:15", "minute"),
        ("3/4/2024 09:05", "2024-04-03 09:05", "minute"),
        ("01/06/2024", "2024-06-01 00:00", "day"),
        ("2024-06-01", "2024-06-01 00:00", "day"),
        ("01-Jun-2024 23:15", "2024-06-01 23:15", "minute"),
        ("01-Jun-2024", "2024-06-01 00:00", "day"),
        ("2024/06/01 23:15", "2024-06-01 23:15", "minute"),
    ],
    ids=["iso-z-winter", "iso-space", "iso-offset", "iso-fraction-z", "iso-hour", "uk-minute",
         "uk-seconds", "uk-unpadded", "uk-date", "iso-date", "excel-minute", "excel-date",
         "slashed-iso"],
)
def test_auto_formats_give_local_time_and_precision(tmp_path, text, local, precision):
    path, mapping = generic(tmp_path, [text])
    row = read_generic_csv(path, mapping).rows.iloc[0]
    assert str(row["occurred_at"].tz) == "Europe/London"
    assert row["occurred_at"].strftime("%Y-%m-%d %H:%M") == local
    assert row["time_precision"] == precision
    assert row["month"] == local[:7]


def test_month_only_has_no_timestamp(tmp_path):
    path, mapping = generic(tmp_path, ["2024-06"])
    row = read_generic_csv(path, mapping).rows.iloc[0]
    assert pd.isna(row["occurred_at"]) and row["month"] == "2024-06"
    assert row["time_precision"] == "month"


def test_bst_ambiguous_hour_is_first_occurrence_and_gap_shifts_forward(tmp_path):
    path, mapping = generic(tmp_path, ["27/10/2024 01:30", "31/03/2024 01:30", "31/03/2024 00:59"])
    stamps = read_generic_csv(path, mapping).rows["occurred_at"]
    # 01:30 on fall-back night happens twice; the first (BST, UTC+1) is taken.
    assert stamps.iloc[0].isoformat() == "2024-10-27T01:30:00+01:00"
    # 01:30 on spring-forward night never happened; it becomes 02:00 BST.
    assert stamps.iloc[1].isoformat() == "2024-03-31T02:00:00+01:00"
    assert stamps.iloc[2].isoformat() == "2024-03-31T00:59:00+00:00"


@pytest.mark.parametrize(
    ("offset", "local", "month"),
    [("convert", "2024-07-01T00:30:00+01:00", "2024-07"),
     ("ignore", "2024-06-30T23:30:00+01:00", "2024-06")],
    ids=["convert", "ignore"],
)
def test_offset_convert_or_ignore(tmp_path, offset, local, month):
    path, _ = generic(tmp_path, ["2024-06-30T23:30:00Z"])
    result = read_generic_csv(path, Mapping(datetime="when", offset=offset, **LONLAT))
    assert result.rows["occurred_at"].iloc[0].isoformat() == local
    assert result.rows["month"].iloc[0] == month
    assert "1 timestamp(s) carried a UTC offset" in result.notes[0]


def test_dayfirst_false_reads_us_order_and_rejects_uk_only_dates(tmp_path):
    path, _ = generic(tmp_path, ["03/04/2024 10:00", "25/12/2024 10:00"])
    result = read_generic_csv(path, Mapping(datetime="when", dayfirst=False, **LONLAT))
    assert result.rows["occurred_at"].iloc[0].strftime("%d %B") == "04 March"
    assert result.rejects["reason"].tolist() == ["date not understood: '25/12/2024 10:00'"]


def test_bad_and_blank_dates_rejected_with_reasons(tmp_path):
    path, mapping = generic(tmp_path, ["31/02/2024 25:00", "", "2024-06-01 10:00"])
    result = read_generic_csv(path, mapping)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [2, "date not understood: '31/02/2024 25:00'"],
        [3, "no date (column 'when' is blank)"],
    ]
    assert_accounted(result)


def test_explicit_format_and_separate_date_time_columns(tmp_path):
    frame = pd.DataFrame({"d": ["01.06.2024", "02.06.2024"], "t": ["23:15", ""],
                          "x": "-2.7", "y": "53.7", "type": "A"})
    frame.to_csv(tmp_path / "dt.csv", index=False)
    auto = Mapping(date="d", time="t", datetime_format="%d.%m.%Y %H:%M", **LONLAT)
    result = read_generic_csv(tmp_path / "dt.csv", auto)
    assert result.rows["occurred_at"].iloc[0].isoformat() == "2024-06-01T23:15:00+01:00"
    # The format describes "<date> <time>", so a row without a time does not fit it.
    assert result.rejects["reason"].tolist() == ["date not understood: '02.06.2024'"]

    frame.assign(d=["01/06/2024", "02/06/2024"]).to_csv(tmp_path / "dt2.csv", index=False)
    rows = read_generic_csv(tmp_path / "dt2.csv", Mapping(date="d", time="t", **LONLAT)).rows
    assert rows["time_precision"].tolist() == ["minute", "day"]


def test_easting_northing_mapping_fills_bng_and_rejects_impossible(tmp_path):
    frame = pd.DataFrame({"when": ["2024-06-01 10:00"] * 3, "E": ["354000", "-5", "354000.5"],
                          "N": ["429000", "429000", "1500000"], "type": "Assault"})
    frame.to_csv(tmp_path / "bng.csv", index=False)
    mapping = Mapping(datetime="when", easting="E", northing="N", category="type")
    result = read_generic_csv(tmp_path / "bng.csv", mapping)
    row = result.rows.iloc[0]
    assert (row["easting"], row["northing"]) == (354000.0, 429000.0)
    assert np.isnan(row["lon"]) and np.isnan(row["lat"])
    assert result.rejects["line"].tolist() == [3, 4]
    assert all(r.startswith("coordinates are impossible: E ") for r in result.rejects["reason"])
    assert_accounted(result)


def test_mapping_naming_a_missing_column_raises_with_columns_found(tmp_path):
    path, _ = generic(tmp_path, ["2024-06-01"])
    mapping = Mapping(datetime="when", lon="longitude", lat="y", category="offence")
    with pytest.raises(ReadError) as err:
        read_generic_csv(path, mapping)
    message = str(err.value)
    assert "'longitude', 'offence'" in message and "are not in the file" in message
    assert "Columns found: 'when', 'x', 'y', 'type'" in message


def test_column_names_match_ignoring_case_and_padding(tmp_path):
    write(tmp_path / "c.csv", " When ,X,Y,Type\n2024-06-01,-2.7,53.7,A\n")
    result = read_generic_csv(tmp_path / "c.csv", Mapping(datetime="when", **LONLAT))
    assert len(result.rows) == 1


def test_generic_csv_without_mapping_asks_for_one(tmp_path):
    path, _ = generic(tmp_path, ["2024-06-01"])
    with pytest.raises(ReadError, match="column mapping is needed") as err:
        read_file(path)
    assert "'when', 'x', 'y', 'type'" in str(err.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("Yes", True), ("Y", True), ("1", True), ("FALSE", False), ("no", False),
     ("n", False), ("0", False), ("", None), ("  ", None)],
    ids=lambda v: repr(v) if isinstance(v, str) else None,
)
def test_domestic_values(tmp_path, value, expected):
    path, _ = generic(tmp_path, ["2024-06-01"], extra={"dom": [value]})
    rows = read_generic_csv(path, Mapping(datetime="when", domestic="dom", **LONLAT)).rows
    got = rows["domestic"].iloc[0]
    assert (pd.isna(got) and expected is None) or got == expected


def test_unreadable_domestic_value_is_rejected(tmp_path):
    path, _ = generic(tmp_path, ["2024-06-01", "2024-06-01"], extra={"dom": ["maybe", "y"]})
    result = read_generic_csv(path, Mapping(datetime="when", domestic="dom", **LONLAT))
    assert result.rows["domestic"].tolist() == [True]
    assert result.rejects["reason"].iloc[0].startswith("dom value 'maybe' not understood")


def test_source_spellings_and_blank_source(tmp_path):
    values = ["A&E", "ED", "Emergency Department", " NWAS ", "Ambulance", "POLICE", "Youth Club",
              ""]
    path, _ = generic(tmp_path, ["2024-06-01"] * len(values), extra={"src": values})
    result = read_generic_csv(path, Mapping(datetime="when", source="src", **LONLAT))
    assert result.rows["source"].tolist() == ["ed", "ed", "ed", "ambulance", "ambulance",
                                              "police", "youth club"]
    assert result.rejects["reason"].tolist() == ["no source (column 'src' is blank)"]


def test_default_source_and_category(tmp_path):
    path, _ = generic(tmp_path, ["2024-06-01"])
    mapping = Mapping(datetime="when", lon="x", lat="y", default_source="A&E",
                      default_category="Violence")
    row = read_generic_csv(path, mapping).rows.iloc[0]
    assert (row["source"], row["category"]) == ("ed", "Violence")


def test_ids_from_column_or_content(tmp_path):
    path, _ = generic(tmp_path, ["2024-06-01"] * 4, extra={"uid": ["u1", "", "", "u4"]})
    mapping = Mapping(datetime="when", id="uid", **LONLAT)
    first = read_generic_csv(path, mapping).rows["incident_id"].tolist()
    again = read_generic_csv(path, mapping).rows["incident_id"].tolist()
    assert first[0] == "u1" and first[3] == "u4"
    # Rows 2 and 3 are identical apart from their position: distinct, stable content ids.
    assert first[1].startswith("row-") and first[1] != first[2]
    assert first == again


# --------------------------------------------------------------------------------------------
# GeoJSON and GeoPackage
# --------------------------------------------------------------------------------------------

POINT_MAPPING = Mapping(datetime="when", category="type", id="ref")
PRESTON = (-2.7035, 53.7590)


def bng_points(n_extra_geoms: list | None = None) -> gpd.GeoDataFrame:
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    e, n = to_bng.transform(*PRESTON)
    geoms = [Point(e, n), *(n_extra_geoms or [])]
    k = len(geoms)
    return gpd.GeoDataFrame(
        {"ref": [f"r{i}" for i in range(k)], "when": ["2024-06-01 23:15"] * k,
         "type": ["Assault"] * k},
        geometry=geoms, crs="EPSG:27700",
    )


def test_geojson_in_bng_reads_back_to_lonlat(tmp_path):
    path = tmp_path / "bng.geojson"
    bng_points().to_file(path, driver="GeoJSON")
    assert detect_format(path) == "geojson"
    result = read_file(path, POINT_MAPPING)
    row = result.rows.iloc[0]
    assert_allclose([row["lon"], row["lat"]], PRESTON, atol=LONLAT_TOL_DEG)
    assert 300_000 < row["easting"] < 400_000  # kept from the BNG geometry
    assert row["incident_id"] == "r0" and row["line"] == 1
    assert row["occurred_at"].isoformat() == "2024-06-01T23:15:00+01:00"
    assert_accounted(result)


def test_gpkg_with_non_point_and_empty_geometries(tmp_path):
    path = tmp_path / "points.gpkg"
    gdf = bng_points([LineString([(354000, 429000), (354100, 429100)]), Point(), None])
    gdf.to_file(path, driver="GPKG")
    result = read_points(path, POINT_MAPPING)
    assert_allclose(result.rows[["lon", "lat"]].to_numpy()[0], PRESTON, atol=LONLAT_TOL_DEG)
    reasons = dict(zip(result.rejects["line"], result.rejects["reason"], strict=True))
    assert reasons[2] == "geometry is a LineString, not a point"
    assert reasons[3].startswith("empty geometry")
    assert reasons[4] in ("no geometry", "empty geometry (no coordinates)")
    assert_accounted(result)


def test_points_without_crs_raise(tmp_path):
    path = tmp_path / "nocrs.gpkg"
    with pytest.warns(UserWarning, match="'crs' was not provided"):
        bng_points().set_crs(None, allow_override=True).to_file(path, driver="GPKG")
    with pytest.raises(ReadError, match="no coordinate reference system"):
        read_points(path, POINT_MAPPING)


def test_points_need_a_mapping_and_name_their_attributes(tmp_path):
    path = tmp_path / "p.geojson"
    bng_points().to_crs("EPSG:4326").to_file(path, driver="GeoJSON")
    with pytest.raises(ReadError, match="Attributes found: 'ref', 'when', 'type'"):
        read_file(path)
    with pytest.raises(ReadError, match="'date_time'"):
        read_points(path, Mapping(datetime="date_time", category="type"))


def test_gzipped_geojson(tmp_path):
    plain = tmp_path / "p.geojson"
    bng_points().to_crs("EPSG:4326").to_file(plain, driver="GeoJSON")
    gz = write(tmp_path / "p.geojson.gz", plain.read_text(), gz=True)
    assert detect_format(gz) == "geojson"
    rows = read_file(gz, POINT_MAPPING).rows
    assert_allclose(rows[["lon", "lat"]].to_numpy()[0], PRESTON, atol=LONLAT_TOL_DEG)


def test_point_attribute_times_keep_their_text_and_precision(tmp_path):
    feats = [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": list(PRESTON)},
         "properties": {"ref": f"r{i}", "when": when, "type": "Assault"}}
        for i, when in enumerate(["2024-06-01 23", "2024-06-01T22:15:00Z", "01/06/2024"])
    ]
    path = write(tmp_path / "t.geojson", json.dumps({"type": "FeatureCollection",
                                                      "features": feats}))
    rows = read_points(path, POINT_MAPPING).rows
    assert rows["time_precision"].tolist() == ["hour", "minute", "day"]
    assert rows["occurred_at"].iloc[1].isoformat() == "2024-06-01T23:15:00+01:00"


def test_gpkg_datetime_attributes(tmp_path):
    stamps = pd.to_datetime(["2024-06-01 23:15"]).tz_localize("Europe/London")
    gdf = bng_points().assign(when=stamps)
    gdf.to_file(tmp_path / "dt.gpkg", driver="GPKG")
    result = read_points(tmp_path / "dt.gpkg", POINT_MAPPING)
    assert result.rows["occurred_at"].iloc[0].isoformat() == "2024-06-01T23:15:00+01:00"


@pytest.mark.parametrize("tail", ["\n", "\n\n\n", "\r\n\r\n"], ids=["plain", "trailing-blank",
                                                                    "trailing-blank-crlf"])
def test_one_line_rows_stay_on_the_fast_path(tmp_path, monkeypatch, tail):
    import geo.readers as readers

    def refuse(*args, **kwargs):
        raise AssertionError("slow path used")

    monkeypatch.setattr(readers, "_slow_batches", refuse)
    text = HEADER + "\n" + police_row(crime_id="a") + "\n" + police_row(crime_id="b") + tail
    result = read_police_uk(write(tmp_path / "fast.csv", text))
    assert result.rows["line"].tolist() == [2, 3]


def test_utf16_file_is_named_as_such(tmp_path):
    path = write(tmp_path / "u16.csv", HEADER + "\n" + police_row() + "\n", encoding="utf-16")
    with pytest.raises(ReadError, match="UTF-16"):
        read_file(path)


def test_not_utf8_inside_gzip_counts_uncompressed_bytes(tmp_path):
    text = HEADER + "\n" + police_row(location="Caf\u00e9") + "\n"
    path = write(tmp_path / "l1.csv.gz", text, gz=True, encoding="cp1252")
    with pytest.raises(ReadError, match="counted in the uncompressed text"):
        read_police_uk(path)


def test_mixed_layouts_in_one_column_each_parse(tmp_path):
    # The first value of a layout is impossible, and "1-Jun-2024" has the same length and
    # separators as "2024-06-01": both must still be read by the right format.
    values = ["31/02/2024 10:00", "01/06/2024 10:00", "1-Jun-2024", "2024-06-01", "2024-06",
              "2024-06-01T10:00:00Z"]
    path, mapping = generic(tmp_path, values)
    result = read_generic_csv(path, mapping)
    assert result.rejects["line"].tolist() == [2]
    rows = result.rows
    assert rows["time_precision"].tolist() == ["minute", "day", "day", "month", "minute"]
    assert rows["occurred_at"].iloc[0].isoformat() == "2024-06-01T10:00:00+01:00"
    assert rows["occurred_at"].iloc[1].isoformat() == "2024-06-01T00:00:00+01:00"
    assert rows["occurred_at"].iloc[2].isoformat() == "2024-06-01T00:00:00+01:00"
    assert rows["occurred_at"].iloc[4].isoformat() == "2024-06-01T11:00:00+01:00"


def test_offsets_of_several_forms(tmp_path):
    values = ["2024-01-15T10:00:00+0530", "2024-01-15 10:00-05", "2024-01-15T10:00:00 UTC",
              "2024-07-15T10:00:00+01:00"]
    path, mapping = generic(tmp_path, values)
    stamps = read_generic_csv(path, mapping).rows["occurred_at"]
    assert [s.isoformat() for s in stamps] == [
        "2024-01-15T04:30:00+00:00", "2024-01-15T15:00:00+00:00", "2024-01-15T10:00:00+00:00",
        "2024-07-15T10:00:00+01:00",
    ]


# --------------------------------------------------------------------------------------------
# Files cut short, decompression limit, long values, NUL bytes, implausible dates
# --------------------------------------------------------------------------------------------


def _points_geojson(n: int, when: str = "2024-06-01 23:15") -> str:
    feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": list(PRESTON)},
              "properties": {"ref": f"r{i}", "when": when, "type": "Assault"}} for i in range(n)]
    return json.dumps({"type": "FeatureCollection", "features": feats})


def _cut(path: Path, text: str, fraction: float = 0.5) -> Path:
    data = gzip.compress(text.encode())
    path.write_bytes(data[: int(len(data) * fraction)])
    return path


@pytest.mark.parametrize("kind", ["police", "generic", "geojson"])
def test_gzip_cut_short_is_refused_on_every_reader_path(tmp_path, kind):
    if kind == "police":
        text = HEADER + "\n" + "\n".join(police_row(crime_id=f"c{i}") for i in range(20_000))
        path, mapping = _cut(tmp_path / "street.csv.gz", text + "\n"), None
    elif kind == "generic":
        text = "when,x,y,type\n" + "2024-06-01 23:15,-2.703,53.759,Assault\n" * 20_000
        path, mapping = _cut(tmp_path / "ed.csv.gz", text), Mapping(datetime="when", **LONLAT)
    else:
        path = _cut(tmp_path / "points.geojson.gz", _points_geojson(5_000))
        mapping = POINT_MAPPING
    with pytest.raises(ReadError) as err:
        read_file(path, mapping)
    # one plain message naming the file, never GDAL's or zlib's own words alone
    assert str(path) in str(err.value)
    assert "cut short" in str(err.value) and "again" in str(err.value)


def test_a_stream_failure_passes_to_pyarrow_as_the_end_but_is_never_lost(tmp_path):
    import geo.readers as readers

    path = _cut(tmp_path / "cut.csv.gz", HEADER + "\n" + police_row() * 1000)
    with readers._Source(path, quiet=True) as src:
        while src.stream.read(1 << 16):
            pass
        assert src.stream.failure is not None
        with pytest.raises(ReadError, match="cut short"):
            src.stream.check()


@pytest.mark.parametrize("kind", ["police", "geojson"])
def test_gzip_beyond_the_ingest_decompression_limit_is_refused(tmp_path, monkeypatch, kind):
    monkeypatch.setenv("HOTSPOT_MAX_INGEST_DECOMPRESSED_MB", "1")
    if kind == "police":
        # about 2.6 MB of text that compresses to a few kilobytes
        text = HEADER + "\n" + (police_row() + "\n") * 20_000
        path, mapping = write(tmp_path / "bomb.csv.gz", text, gz=True), None
    else:
        path = write(tmp_path / "bomb.geojson.gz", _points_geojson(10_000), gz=True)
        mapping = POINT_MAPPING
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ReadError) as err:
        read_file(path, mapping)
    assert str(path) in str(err.value)
    assert "more than 1 MB" in str(err.value)
    assert "HOTSPOT_MAX_INGEST_DECOMPRESSED_MB" in str(err.value)


@pytest.mark.parametrize("slow", [False, True], ids=["fast-path", "slow-path"])
def test_an_over_long_value_rejects_its_row_only(tmp_path, slow):
    # The slow (line-tracking) path is taken when a value spans lines.
    first = police_row(crime_id="a", location='"On or near\nTwo Lines"' if slow else "X")
    rows = [first, police_row(crime_id="b", location="y" * 200_000), police_row(crime_id="c")]
    result = read_police_uk(police_file(tmp_path, rows))
    assert result.rows["incident_id"].tolist() == ["a", "c"]
    assert result.rejects["line"].tolist() == [4 if slow else 3]
    assert "longer than 128 KiB" in result.rejects["reason"].iloc[0]
    assert_accounted(result)


def test_a_value_longer_than_a_read_block_rejects_its_row_only(tmp_path):
    rows = [police_row(crime_id="a"), police_row(crime_id="b", location="y" * 9_000_000),
            police_row(crime_id="c")]
    result = read_police_uk(police_file(tmp_path, rows))
    assert result.rows["incident_id"].tolist() == ["a", "c"]
    assert result.rejects["line"].tolist() == [3]


def test_over_long_value_in_a_generic_csv_and_a_point_layer(tmp_path):
    path, mapping = generic(tmp_path, ["2024-06-01 10:00"] * 2,
                            extra={"notes": ["fine", "z" * 140_000]})
    result = read_generic_csv(path, mapping)
    assert result.rejects["line"].tolist() == [3] and len(result.rows) == 1
    feats = json.loads(_points_geojson(2))
    feats["features"][1]["properties"]["type"] = "w" * 140_000
    gj = write(tmp_path / "long.geojson", json.dumps(feats))
    result = read_points(gj, POINT_MAPPING)
    assert result.rejects["line"].tolist() == [2] and len(result.rows) == 1
    assert "longer than 128 KiB" in result.rejects["reason"].iloc[0]


@pytest.mark.parametrize("slow", [False, True], ids=["fast-path", "slow-path"])
def test_a_nul_byte_rejects_its_row_as_likely_damage(tmp_path, slow):
    first = police_row(crime_id="a", location='"On or near\nTwo Lines"' if slow else "X")
    rows = [first, *(police_row(crime_id=f"k{i}") for i in range(50)),
            police_row(crime_id="nul", location="On or\x00near")]
    result = read_police_uk(police_file(tmp_path, rows))
    assert "nul" not in result.rows["incident_id"].tolist()
    assert not result.rows["location"].str.contains("\x00").any()
    assert len(result.rows) == 51
    (reason,) = result.rejects["reason"]
    assert "NUL byte" in reason and "damaged" in reason
    assert_accounted(result)


def test_police_months_outside_the_plausible_range_are_rejected(tmp_path):
    from datetime import date, timedelta

    this_month = date.today().strftime("%Y-%m")
    next_year = f"{date.today().year + 1}-01"
    rows = [police_row(crime_id="old", month="1989-12"), police_row(crime_id="first",
            month="1990-01"), police_row(crime_id="now", month=this_month),
            police_row(crime_id="ahead", month=next_year),
            police_row(crime_id="typo", month="2099-01")]
    result = read_police_uk(police_file(tmp_path, rows))
    accepted = result.rows["incident_id"].tolist()
    assert accepted[:2] == ["first", "now"]
    # next January is accepted only when tomorrow is already in it (31 December)
    assert ("ahead" in accepted) == ((date.today() + timedelta(days=1)).year > date.today().year)
    rejected = dict(zip(result.rejects["line"], result.rejects["reason"], strict=True))
    assert rejected[2] == (f"Month outside the plausible range (1990-01 to "
                           f"{date.today() + timedelta(days=1):%Y-%m}): '1989-12'")
    assert rejected[6].endswith("'2099-01'")
    assert_accounted(result)


def test_generic_dates_outside_the_plausible_range_are_rejected(tmp_path):
    from datetime import date, timedelta

    today = date.today()
    tomorrow, after = today + timedelta(days=1), today + timedelta(days=2)
    values = ["2099-06-01 12:00", "01/01/1900", "1969-12-31 23:00", "1989-12",
              f"{tomorrow:%d/%m/%Y} 10:00", f"{after:%Y-%m-%d}", "1990-01-01 00:00",
              "2024-06-01 10:00"]
    path, mapping = generic(tmp_path, values)
    result = read_generic_csv(path, mapping)
    assert result.rows["line"].tolist() == [6, 8, 9]
    assert result.rejects["line"].tolist() == [2, 3, 4, 5, 7]
    latest = today + timedelta(days=1)
    assert result.rejects["reason"].iloc[0] == (
        f"date outside the plausible range (1 January 1990 to {latest.day} {latest:%B %Y}): "
        "'2099-06-01 12:00'"
    )
    assert_accounted(result)


def test_plausible_range_follows_the_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTSPOT_EARLIEST_DATE", "2020-01-01")
    path, mapping = generic(tmp_path, ["2019-12-31 23:00", "2020-01-01 00:30"])
    result = read_generic_csv(path, mapping)
    assert result.rows["line"].tolist() == [3]
    assert "(1 January 2020 to " in result.rejects["reason"].iloc[0]


def test_point_layer_dates_outside_the_plausible_range_are_rejected(tmp_path):
    feats = json.loads(_points_geojson(2))
    feats["features"][1]["properties"]["when"] = "2099-06-01 23:15"
    result = read_points(write(tmp_path / "p.geojson", json.dumps(feats)), POINT_MAPPING)
    assert result.rows["incident_id"].tolist() == ["r0"]
    assert result.rejects["reason"].iloc[0].startswith("date outside the plausible range (")


@pytest.mark.parametrize("kind", ["plain", "gzip-member-boundary"])
def test_a_file_ending_part_way_through_a_row_is_refused_as_cut_short(tmp_path, kind):
    text = (HEADER + "\n" + "\n".join(police_row(crime_id=f"c{i}") for i in range(3000))
            + "\n").encode()
    cut = len(text) // 2
    assert text[cut - 1:cut] != b"\n"
    path = tmp_path / ("street.csv" if kind == "plain" else "street.csv.gz")
    # A gzip may be several complete parts one after another; a copy cut between two of them
    # is a valid gzip, and only the unfinished last row shows the cut.
    path.write_bytes(text[:cut] if kind == "plain" else gzip.compress(text[:cut]))
    with pytest.raises(ReadError, match="ends part-way through a row") as err:
        read_police_uk(path)
    assert str(path) in str(err.value) and "cut short" in str(err.value)


def test_a_complete_last_row_without_a_line_end_is_still_read(tmp_path):
    text = HEADER + "\n" + police_row(crime_id="a") + "\n" + "x,2024-03,short"
    path = write(tmp_path / "short-middle.csv", text + "\n" + police_row(crime_id="b"))
    result = read_police_uk(path)
    assert result.rows["incident_id"].tolist() == ["a", "b"]
    assert result.rejects["line"].tolist() == [3]
