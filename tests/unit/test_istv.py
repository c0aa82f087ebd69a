"""ED (ISTV) and ambulance readers: variants, every row accounted for, no identifier stored."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.ingest import ingest_file
from geo.istv import (
    HealthMapping,
    file_kind,
    header_kind,
    load_health_mapping,
    read_health,
    resolve_columns,
)
from geo.schema import ReadError
from geo.settings import DataPaths

# Made-up people: the test checks that none of these values reaches the data directory.
NAMES = ("Alice Example", "Bob Placeholder", "Carol Madeup", "Dan Invented", "Eve Fictional",
         "Frank Notreal")
NHS = ("9990000011", "9990000022", "9990000033", "9990000044", "9990000055", "9990000066")
DOBS = ("14/02/2004", "01/03/1990", "30/06/2008", "11/11/1975", "05/05/2001", "23/09/1999")

# Blackpool town centre, inside the bundled Lancashire boundaries.
ISTV_CSV = """Attendance Ref,Patient Name,NHS Number,Date of Birth,Arrival Date,Arrival Time,\
Date of Assault,Time of Assault,Assault Location,Location Type,Weapon Used,\
No. of Assailants,Relationship to Assailant,Gender,Latitude,Longitude,Triage Notes
ED-001,{n0},{h0},{d0},07/06/2024,23:40,07/06/2024,23:05,Outside a bar on Talbot Square,\
Pub/Club,Glass,2,Stranger,M,53.8175,-3.0540,intoxicated
ED-002,{n1},{h1},{d1},08/06/2024,01:15,,,12 Example Street,Own home,Fists,1,Ex-partner,F,\
53.8100,-3.0450,
ED-003,{n2},{h2},{d2},31/02/2024,01:15,,,Street,Street,Knife,1,Stranger,F,53.80,-3.04,
ED-004,{n3},{h3},{d3},09/06/2024,14:00,,,,School,Kick,3,Friend,M,,,
ED-005,{n4},{h4},{d4},09/06/2024,02:10,09/06/2024,01:50,Promenade,Street,Stabbed,Multiple,\
Stranger,Male,53.7960,-3.0560,
ED-006,{n5},{h5},{d5},10/06/2024,12:00,,,Promenade,Street,Knife,1,Stranger,F,61.5,-3.05,
""".format(**{f"n{i}": n for i, n in enumerate(NAMES)},
           **{f"h{i}": h for i, h in enumerate(NHS)},
           **{f"d{i}": d for i, d in enumerate(DOBS)})


@pytest.fixture
def data(tmp_path: Path) -> DataPaths:
    return DataPaths(tmp_path / "data")


def _every_byte(root: Path) -> bytes:
    out = b""
    for path in sorted(root.rglob("*")):
        if path.is_file():
            raw = path.read_bytes()
            out += gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    return out


def _stored(root: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    files = sorted((root / "store" / "incidents").rglob("*.parquet"))
    return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)


def test_an_istv_file_is_recognised_by_its_header(tmp_path):
    p = tmp_path / "ed.csv"
    p.write_text(ISTV_CSV)
    assert file_kind(p) == "ed"
    assert header_kind(["Call Date", "Call Time", "Call Category", "Postcode"]) == "ambulance"
    assert header_kind(["Crime ID", "Month", "Longitude", "Latitude"]) is None


def test_every_row_is_accounted_for_and_no_identifier_is_stored(tmp_path, data):
    p = tmp_path / "ed.csv"
    p.write_text(ISTV_CSV)
    summary = ingest_file(p, data)
    assert summary.read == 6
    assert summary.read == summary.accepted + summary.duplicates + summary.conflicts + \
        summary.rejected
    assert summary.accepted == 3 and summary.rejected == 3
    assert summary.rejected_by_reason == {
        "arrival date not understood": 1, "no place": 1, "coordinates outside Great Britain": 1}
    dropped = summary.columns_dropped
    assert dropped["patient identifiers (not stored)"] == ["Patient Name", "NHS Number"]
    assert dropped["free text other than the location (not stored)"] == ["Triage Notes"]
    assert dropped["date of birth (turned into an age band, not stored)"] == ["Date of Birth"]
    text = summary.as_text()
    assert "columns dropped, patient identifiers (not stored): Patient Name, NHS Number" in text

    # nothing of a patient anywhere in the data directory: store, rejects, manifest
    everything = _every_byte(data.root)
    for value in (*NAMES, *NHS, *DOBS, "intoxicated", "12 Example Street", "ED-001", "ED-003"):
        assert value.encode() not in everything, value

    rows = _stored(data.root).sort_values("occurred_at").reset_index(drop=True)
    assert rows["source"].tolist() == ["ed"] * 3
    assert rows["location_precision"].tolist() == ["point"] * 3
    # ages at arrival from the date of birth: 20 (born Feb 2004), 34, 23 (born May 2001)
    assert rows["age_band"].tolist() == ["18-24", "25-34", "18-24"]
    assert rows["location_type"].tolist() == ["Licensed premises", "Home",
                                              "Street or public place"]
    assert rows["weapon"].tolist() == ["Glass or bottle", "Body (fists, feet)",
                                       "Knife or sharp object"]
    assert rows["assailants"].tolist() == ["2", "1", "3+"]
    assert rows["relationship"].tolist() == ["Stranger", "Partner or ex-partner", "Stranger"]
    assert rows["domestic"].tolist() == [False, True, False]
    assert rows["sex"].tolist() == ["Male", "Female", "Male"]
    # a home's location text would be an address: not kept; the others are
    assert pd.isna(rows.loc[1, "location"]) and rows.loc[0, "location"].startswith("Outside")
    assert str(rows.loc[0, "assault_at"]) == "2024-06-07 23:05:00+01:00"
    assert rows["hour"].tolist() == [23, 1, 2]  # arrival hours


def test_reading_the_same_file_again_adds_nothing(tmp_path, data):
    p = tmp_path / "ed.csv"
    p.write_text(ISTV_CSV)
    ingest_file(p, data)
    again = ingest_file(p, data)
    assert again.accepted == 0 and again.duplicates == 3


def test_an_excel_export_reads_like_the_csv(tmp_path, data):
    openpyxl = pytest.importorskip("openpyxl")
    from datetime import datetime, time

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Attendance ID", "Patient Name", "Date of Attendance", "Time of Arrival",
                  "Location Type", "Mechanism of Injury", "Age", "Sex", "Easting", "Northing"])
    sheet.append(["X1", "Alice Example", datetime(2024, 6, 7), time(23, 40), "Nightclub",
                  "Bottle", 19, "F", 330700, 436200])
    sheet.append(["X2", "Bob Placeholder", datetime(2024, 6, 8, 2, 5), None, "Road",
                  "Punched", 41.0, "M", 331600, 434250])
    p = tmp_path / "ed.xlsx"
    book.save(p)
    assert file_kind(p) == "ed"
    result = read_health(p)
    rows = result.rows
    assert len(rows) == 2 and result.rejects.empty
    assert [str(t) for t in rows["occurred_at"]] == ["2024-06-07 23:40:00+01:00",
                                                     "2024-06-08 02:05:00+01:00"]
    assert rows["age_band"].tolist() == ["18-24", "35-44"]
    assert rows["weapon"].tolist() == ["Glass or bottle", "Body (fists, feet)"]
    assert np.isfinite(rows["easting"]).all()
    summary = ingest_file(p, data)
    assert summary.accepted == 2
    assert b"Alice Example" not in _every_byte(data.root)


def test_a_workbook_that_inflates_too_far_is_refused(tmp_path):
    p = tmp_path / "bomb.xlsx"
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (40 << 20))
    with pytest.raises(ReadError, match="unpacks to"):
        read_health(p, kind="ed")


def test_a_mapping_names_columns_the_usual_spellings_miss(tmp_path):
    p = tmp_path / "odd.csv"
    p.write_text("Seen,Where (grid E),Where (grid N),Kind of place\n"
                 "2024-06-07 22:10,330700,436200,Pub\n")
    m = tmp_path / "m.toml"
    m.write_text('[health]\nkind = "ed"\n[health.columns]\narrival = "Seen"\n'
                 'easting = "Where (grid E)"\nnorthing = "Where (grid N)"\n'
                 'location_type = "Kind of place"\n')
    mapping = load_health_mapping(m)
    rows = read_health(p, mapping=mapping).rows
    assert rows["location_type"].tolist() == ["Licensed premises"]
    with pytest.raises(ReadError, match="names column 'Nope'"):
        read_health(p, mapping=HealthMapping(kind="ed", columns={"arrival": "Nope"}))
    with pytest.raises(ValueError, match="not a field"):
        HealthMapping(kind="ed", columns={"shoe_size": "Seen"})


def test_a_file_without_an_arrival_date_says_what_is_missing(tmp_path):
    p = tmp_path / "x.csv"
    p.write_text("Location Type,Weapon\nStreet,Knife\n")
    with pytest.raises(ReadError, match="does not look like an emergency-department"):
        read_health(p)


def test_columns_are_sorted_into_kept_and_dropped():
    cols = resolve_columns(["Arrival Date", "Forename", "Surname", "Home Postcode",
                            "Postcode", "Comments", "LSOA code", "Shoe size"], "ed", None)
    assert sorted(cols.used) == ["arrival_date", "lsoa", "postcode"]
    assert cols.identifiers == ["Forename", "Surname", "Home Postcode"]
    assert cols.free_text == ["Comments"] and cols.unrecognised == ["Shoe size"]


def test_ambulance_call_outs_are_read(tmp_path):
    p = tmp_path / "amb.csv"
    p.write_text("Incident Number,Call Date,Call Time,Call Category,Nature,Latitude,Longitude\n"
                 "A1,07/06/2024,23:50,C2,Stab/Gunshot,53.8175,-3.0540\n"
                 "A2,07/06/2024,,Cat 1,Assault,53.8175,-3.0540\n")
    result = read_health(p)
    rows = result.rows
    assert rows["source"].tolist() == ["ambulance", "ambulance"]
    assert rows["call_category"].tolist() == ["Category 2", "Category 1"]
    # the nature names a weapon only sometimes: "Assault" says nothing of one
    assert rows["weapon"].iloc[0] == "Knife or sharp object" and pd.isna(rows["weapon"].iloc[1])
    assert rows["time_precision"].tolist() == ["minute", "day"]


# Made-up postcodes and centroids (shaped like the real ones, placed in Blackpool): see
# tests/postcode_helpers.py.
VARIANTS_CSV = """Attendance ID,Forename,Surname,DOB,Arrival Date,Arrival Time,Postcode,LSOA,\
Latitude,Longitude,Location Type
V1,Gina,Example,01/01/2005,07/06/2024,23:40,,,53.8175,-3.0540,Street
V2,Hal,Example,02/02/1999,07/06/2024,23:50,fy1 1zz,,,,Pub
V3,Ivy,Example,03/03/1980,08/06/2024,00:20,,E01099001,,,Street
V4,Jo,Example,04/04/2001,08/06/2024,01:10,FY1 9ZZ,,,,Street
V5,Kit,Example,05/05/2003,08/06/2024,01:40,FY1 2ZZ,,,,Street
V6,Lou,Example,06/06/2000,08/06/2024,02:00,FY1 2ZZ,E01099002,,,Street
V7,Max,Example,07/07/1995,08/06/2024,02:30,,E01099999,,,Street
V8,Ned,Example,08/08/1990,08/06/2024,03:00,FY1 3ZZ,,,,Street
V9,Oli,Example,09/09/1991,08/06/2024,03:10,not a pc,,,,Street
"""


def _lookups(tmp_path: Path, data: DataPaths) -> None:
    from geo.postcodes import import_lsoa_centroids, import_postcodes
    from tests.postcode_helpers import onspd_row, onspd_text

    onspd = tmp_path / "ONSPD_TEST.csv"
    onspd.write_text(onspd_text([
        onspd_row("FY1 1ZZ", 330800, 436100, lsoa21="E01099001", lad="E06000009"),
        # terminated before the attendances: not placed, nor at its LSOA (the directory's)
        onspd_row("FY1 2ZZ", 330900, 436300, lsoa21="E01099002", doterm="202001",
                  lad="E06000009"),
        # terminated after them: it was in use then, so it places them
        onspd_row("FY1 3ZZ", 331000, 436000, lsoa21="E01099001", doterm="202501",
                  lad="E06000009"),
    ]), newline="")
    import_postcodes(onspd, data)
    pwc = tmp_path / "pwc.csv"
    pwc.write_text("FID,LSOA21CD,LSOA21NM,GlobalID,x,y\n"
                   "1,E01099001,Blackpool 901A,{A},331200,436400\n"
                   "2,E01099002,Blackpool 902A,{B},331500,435800\n")
    import_lsoa_centroids(pwc, data)


def test_postcode_lsoa_and_point_variants_are_placed_with_their_precision(tmp_path, data):
    _lookups(tmp_path, data)
    p = tmp_path / "ed.csv"
    p.write_text(VARIANTS_CSV)
    summary = ingest_file(p, data)
    assert summary.read == 9
    assert summary.read == summary.accepted + summary.rejected
    assert summary.accepted == 5
    assert summary.rejected_by_reason == {
        "postcode not in the postcode directory": 1, "LSOA code not recognised": 1,
        "not a postcode": 1, "postcode terminated": 1}
    assert "1 row(s) whose postcode could not be placed were placed by their LSOA code " \
        "instead." in summary.notes
    rows = _stored(data.root).set_index("occurred_at").sort_index()
    got = rows[["location_precision", "easting", "northing"]].round(0).values.tolist()
    assert got[0][0] == "point"
    assert got[1] == ["postcode", 330800, 436100]        # FY1 1ZZ, typed in lower case
    assert got[2] == ["lsoa", 331200, 436400]            # LSOA only
    assert got[3] == ["lsoa", 331500, 435800]            # terminated, LSOA given too
    assert got[4] == ["postcode", 331000, 436000]        # terminated after the attendance
    rejects = pd.read_csv(summary.rejects_file)
    reasons = dict(zip(rejects["line"], rejects["reason"], strict=True))
    assert reasons[5] == "postcode not in the postcode directory: 'FY1 9ZZ'"
    # terminated before the attendance, no LSOA given: the place is not known
    assert reasons[6] == "postcode terminated (no longer in use since 2020-01): 'FY1 2ZZ'"
    assert reasons[8].startswith("LSOA code not recognised")
    assert reasons[10] == "not a postcode: 'not a pc'"
    everything = _every_byte(data.root)
    for value in (b"Gina", b"Example", b"01/01/2005", b"V4"):
        assert value not in everything, value
    assert "Forename, Surname" in summary.as_text()


def test_without_a_postcode_directory_the_reason_says_what_to_import(tmp_path, data):
    p = tmp_path / "ed.csv"
    p.write_text(VARIANTS_CSV)
    summary = ingest_file(p, data)
    assert summary.accepted == 1  # only the row with coordinates
    rejects = pd.read_csv(summary.rejects_file)
    assert rejects["reason"].str.contains("hotspot postcodes import").any()
    assert rejects["reason"].str.contains("hotspot lsoa-centroids import").any()


# A name typed with an unquoted comma pushes every later value one column to the right: read by
# header position, "Age" would hold the free text. Made-up people, as above.
RAGGED_CSV = """Attendance ID,Arrival Date,Arrival Time,Patient Name,Free text,Age,Sex,\
Location Type,Weapon,Latitude,Longitude
R1,05/03/2024,01:15,Zebedee Quiggleworth,BARTHOLOMEW stabbed him,30,M,Street,Knife,53.8175,\
-3.0500
R2,05/03/2024,01:25,QUIGGLEWORTH, Zebedee,BARTHOLOMEW stabbed him,30,M,Street,Knife,53.8175,\
-3.0500
R3,05/03/2024,01:35,Griselda Quiggleworth
"""


def test_a_ragged_row_is_rejected_with_no_values_kept(tmp_path, data):
    p = tmp_path / "ragged.csv"
    p.write_text(RAGGED_CSV)
    summary = ingest_file(p, data)
    assert summary.read == 3 and summary.accepted == 1 and summary.rejected == 2
    rejects = pd.read_csv(summary.rejects_file, keep_default_na=False)
    assert rejects["reason"].tolist() == [
        "the row has 12 fields where the header has 11 (a comma inside an unquoted field?)",
        "the row has 4 fields where the header has 11 (a row cut short, or a line break "
        "inside an unquoted field?)",
    ]
    # not even its allowed fields: read by position they may hold another column's value
    assert rejects["raw"].tolist() == ["", ""]
    # the shifted values are not read at all, so no note counts them
    assert not any("age(s) not understood" in n for n in summary.notes)
    everything = _every_byte(data.root)
    for value in ("BARTHOLOMEW", "Zebedee", "QUIGGLEWORTH", "Griselda"):
        assert value.encode() not in everything, value


@pytest.fixture
def csv_default_field_limit():
    """Python's own limit on a CSV value (128 KiB), as a fresh process has it.

    Another reader may have raised the process-wide limit earlier in the run.
    """
    import csv

    before = csv.field_size_limit(128 << 10)
    yield
    csv.field_size_limit(max(before, csv.field_size_limit()))


def test_a_value_over_128_kib_rejects_its_row_only(tmp_path, data, csv_default_field_limit):
    long_note = "x" * (200 << 10)
    p = tmp_path / "ed.csv"
    p.write_text("Attendance ID,Arrival Date,Arrival Time,Triage Notes,Latitude,Longitude\n"
                 "L1,05/03/2024,01:15,fine,53.8175,-3.0500\n"
                 f'L2,05/03/2024,01:25,"{long_note}",53.8175,-3.0500\n'
                 "L3,05/03/2024,01:35,fine,53.8175,-3.0500\n")
    summary = ingest_file(p, data)
    assert summary.read == 3 and summary.accepted == 2 and summary.rejected == 1
    rejects = pd.read_csv(summary.rejects_file, keep_default_na=False)
    assert rejects["line"].tolist() == [3]
    assert rejects["reason"].iloc[0].startswith("a value is longer than 128 KiB")
    assert rejects["raw"].tolist() == [""]
    assert b"xxxxxxxx" not in _every_byte(data.root)


def test_a_rejected_row_is_named_by_its_line_in_the_file(tmp_path):
    # a blank line and a value with a line break in it move the rows after them down
    p = tmp_path / "ed.csv"
    p.write_text("Attendance ID,Arrival Date,Arrival Time,Location Type,Latitude,Longitude\n"
                 "N1,05/03/2024,01:15,Street,53.8175,-3.0500\n"
                 "\n"
                 "N2,31/02/2024,01:25,Street,53.8175,-3.0500\n"
                 'N3,05/03/2024,01:35,"Street\nor road",53.8175,-3.0500\n'
                 "N4,31/02/2024,01:45,Street,53.8175,-3.0500\n")
    result = read_health(p)
    assert result.rejects["line"].tolist() == [4, 7]
    assert result.rows["line"].tolist() == [2, 5]


def test_a_rejected_workbook_row_is_named_by_its_row_on_the_sheet(tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Attendance ID", "Arrival Date", "Arrival Time", "Latitude", "Longitude"])
    sheet.append(["W1", "05/03/2024", "01:15", 53.8175, -3.05])
    sheet.append([])  # a blank row on the sheet
    sheet.append(["W2", "31/02/2024", "01:25", 53.8175, -3.05])
    p = tmp_path / "ed.xlsx"
    book.save(p)
    assert read_health(p).rejects["line"].tolist() == [4]


def test_a_time_with_no_date_is_no_arrival_date(tmp_path):
    p = tmp_path / "ed.csv"
    p.write_text("Attendance ID,Arrival Date,Arrival Time,Date of Assault,Time of Assault,"
                 "Latitude,Longitude\n"
                 "T1,,01:15,,00:50,53.8175,-3.0500\n"
                 "T2,05/03/2024,01:15,,00:50,53.8175,-3.0500\n")
    result = read_health(p)
    assert result.rejects["reason"].tolist() == ["no arrival date"]
    # an assault time with no date is no assault time, and no note calls it not understood
    assert pd.isna(result.rows["assault_at"].iloc[0])
    assert not any("assault date" in n for n in result.notes)
    amb = tmp_path / "amb.csv"
    amb.write_text("Incident Number,Call Date,Call Time,Call Category,Latitude,Longitude\n"
                   "A1,,23:50,C2,53.8175,-3.0540\n")
    assert read_health(amb).rejects["reason"].tolist() == ["no call date"]


def _bomb(p: Path) -> None:
    with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (40 << 20))


def test_a_workbook_that_cannot_be_read_is_refused_with_the_real_reason(tmp_path, data):
    openpyxl = pytest.importorskip("openpyxl")
    bomb = tmp_path / "bomb.xlsx"
    _bomb(bomb)
    with pytest.raises(ReadError, match="unpacks to") as caught:
        ingest_file(bomb, data)
    assert "not a supported file" not in str(caught.value)

    damaged = tmp_path / "damaged.xlsx"
    with zipfile.ZipFile(damaged, "w") as zf:
        zf.writestr("xl/workbook.xml", "this is not XML <<<")
    with pytest.raises(ReadError, match="the Excel workbook cannot be read"):
        ingest_file(damaged, data)

    book = openpyxl.Workbook()
    book.active.append(["Arrival Date", "Arrival Time"])
    whole = tmp_path / "whole.xlsx"
    book.save(whole)
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(whole.read_bytes()[:-200])  # a copy that did not finish
    with pytest.raises(ReadError, match="damaged or cut short"):
        ingest_file(cut, data)


def test_a_terminated_postcode_places_only_records_from_before_it_ended(tmp_path, data):
    from geo.postcodes import import_postcodes
    from tests.postcode_helpers import onspd_row, onspd_text

    onspd = tmp_path / "ONSPD_TEST.csv"
    onspd.write_text(onspd_text([
        onspd_row("FY1 3CC", 331500, 436500, lsoa21="E01012673", doterm="201906",
                  lad="E06000009"),
        # live, but with no grid reference: placed at its LSOA's centroid, as before
        onspd_row("FY1 4DD", None, None, lsoa21="E01012674", lad="E06000009"),
    ]), newline="")
    import_postcodes(onspd, data)
    from geo.postcodes import import_lsoa_centroids

    pwc = tmp_path / "pwc.csv"
    pwc.write_text("FID,LSOA21CD,LSOA21NM,GlobalID,x,y\n"
                   "1,E01012673,Blackpool 673A,{A},331200,436400\n"
                   "2,E01012674,Blackpool 674A,{B},331500,435800\n")
    import_lsoa_centroids(pwc, data)
    p = tmp_path / "ed.csv"
    p.write_text("Attendance ID,Arrival Date,Arrival Time,Location Type,Postcode\n"
                 "P1,05/03/2024,01:15,Street,FY1 3CC\n"      # after it ended in June 2019
                 "P2,05/03/2018,01:15,Street,FY1 3CC\n"      # while it was in use
                 "P3,05/03/2024,01:15,Street,FY1 4DD\n")
    result = read_health(p, data)
    assert result.rejects[["line", "reason"]].values.tolist() == [
        [2, "postcode terminated (no longer in use since 2019-06): 'FY1 3CC'"]]
    rows = result.rows.set_index("line")
    assert rows.loc[3, "location_precision"] == "postcode"
    assert rows.loc[3, ["easting", "northing"]].tolist() == [331500, 436500]
    assert rows.loc[4, "location_precision"] == "lsoa"


# Made-up addresses and people. With no "Home" location type the text itself says it is a
# home, or looks like a street address: it is not stored either.
HOME_TEXT_CSV = """Attendance ID,Arrival Date,Arrival Time,Assault Location,Location Type,\
Latitude,Longitude
H1,05/03/2024,01:15,"At his own home, 17 Xylophone Terrace",,53.8175,-3.0500
H2,05/03/2024,01:16,Outside Zebedee Quiggleworth's house,,53.8175,-3.0500
H3,05/03/2024,01:17,17 Xylophone Terrace,,53.8175,-3.0500
H4,05/03/2024,01:18,"Flat 3, Yodel Court",Other,53.8175,-3.0500
H5,05/03/2024,01:19,Outside 17a Xylophone Terrace,Street,53.8175,-3.0500
H6,05/03/2024,01:20,Patient's residence,,53.8175,-3.0500
H7,05/03/2024,01:21,Outside the Crown public house,Pub,53.8175,-3.0500
H8,05/03/2024,01:22,"Talbot Road, outside a bar",Street,53.8175,-3.0500
H9,05/03/2024,01:23,Warehouse loading bay,Workplace,53.8175,-3.0500
H10,31/02/2024,01:24,Quiggleworth family home,,53.8175,-3.0500
"""


def test_location_text_that_says_home_or_looks_like_an_address_is_not_stored(tmp_path, data):
    p = tmp_path / "ed.csv"
    p.write_text(HOME_TEXT_CSV)
    summary = ingest_file(p, data)
    assert summary.accepted == 9 and summary.rejected == 1
    assert "The location text of 6 assault(s) at a home was not stored" in " ".join(
        summary.notes)
    rows = _stored(data.root).sort_values("occurred_at").reset_index(drop=True)
    assert rows["location"].isna().tolist() == [True] * 6 + [False] * 3
    assert rows["location"].iloc[6:].tolist() == [
        "Outside the Crown public house", "Talbot Road, outside a bar", "Warehouse loading bay"]
    # their place and location type are kept
    assert rows["location_precision"].tolist() == ["point"] * 9
    assert rows["location_type"].iloc[3:5].tolist() == ["Other", "Street or public place"]
    everything = _every_byte(data.root)
    for value in ("Xylophone", "Quiggleworth", "Yodel", "residence"):
        assert value.encode() not in everything, value


def test_an_ambulance_call_to_a_home_keeps_no_location_text(tmp_path, data):
    p = tmp_path / "amb.csv"
    p.write_text("Incident ID,Call Date,Call Time,Call Category,Location,Location Type,"
                 "Latitude,Longitude\n"
                 'A1,05/03/2024,01:10,C2,"17 Xylophone Terrace (patient home)",Home,53.8175,'
                 "-3.05\n"
                 "A2,05/03/2024,01:20,C2,Yodel Street near the flats,,53.8175,-3.05\n"
                 "A3,05/03/2024,01:30,C2,Outside a bar,Pub,53.8175,-3.05\n")
    summary = ingest_file(p, data)
    assert summary.accepted == 3
    assert "Location Type" not in str(summary.columns_dropped)  # recognised, not dropped
    rows = _stored(data.root).sort_values("occurred_at").reset_index(drop=True)
    assert rows["location"].isna().tolist() == [True, True, False]
    assert rows["location_type"].tolist()[::2] == ["Home", "Licensed premises"]
    assert "The location text of 2 assault(s) at a home was not stored" in " ".join(
        summary.notes)
    assert b"Xylophone" not in _every_byte(data.root)


def test_a_rejected_ambulance_call_keeps_no_nature_text(tmp_path, data):
    # the nature of a call is read only for the weapon it names; as written it may name anyone
    p = tmp_path / "amb.csv"
    p.write_text("Incident ID,Call Date,Call Time,Call Category,Nature,Latitude,Longitude\n"
                 "A1,05/03/2024,01:10,C2,Assault - stabbed by BARTHOLOMEW,,\n")
    summary = ingest_file(p, data)
    assert summary.rejected == 1
    rejects = pd.read_csv(summary.rejects_file, keep_default_na=False)
    assert rejects["raw"].iloc[0] == "Call Date=05/03/2024; Call Time=01:10; Call Category=C2"
    assert b"BARTHOLOMEW" not in _every_byte(data.root)


def test_two_columns_of_one_name_are_refused(tmp_path):
    """Two 'Postcode' columns: one may be the patient's home, so neither is guessed."""
    with pytest.raises(ReadError, match="2 columns named 'Postcode'"):
        resolve_columns(["Arrival Date", "Postcode", "Weapon", "postcode"], "ed", None)
    with pytest.raises(ReadError, match="2 columns named 'Postcode'"):
        resolve_columns(["Arrival Date", "Postcode", "Weapon", "Postcode"], "ed",
                        HealthMapping(kind="ed", columns={"postcode": "Postcode"}))
    p = tmp_path / "twice.csv"
    p.write_text("Arrival Date,Arrival Time,Postcode,Postcode\n07/06/2024,22:10,FY1 1AA,X\n")
    with pytest.raises(ReadError, match="Rename the others"):
        read_health(p)
