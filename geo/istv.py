"""Hospital emergency-department (ISTV / Cardiff Model) and ambulance records, no identifiers.

The Information Sharing to Tackle Violence (ISTV) minimum data set is what an emergency
department (ED) records for each assault patient and shares, anonymised, with community safety
partners: arrival date and time, the time and place of the assault, the kind of place, the
weapon or mechanism, the number of assailants and their relationship to the patient, age and
sex. EDs export it as CSV or as an Excel workbook, each with its own column names; ambulance
services share assault call-outs (call time, location, call category) much the same way.

These readers keep an **allow-list**: a column is stored only when it is recognised as one of
the ISTV fields below. Everything else is dropped and named in the ingest summary: patient
names, NHS and hospital numbers, home addresses and postcodes, telephone numbers, free-text
notes, and any column not recognised. A date of birth becomes an age band at the time of
arrival and is not kept. Rejected rows are written to the rejects file with only their
allowed fields, so no identifier reaches the data directory by that door either; a row with
more or fewer fields than the header (an unquoted comma in a name) is rejected with no value
at all, since read by position its allowed fields would hold other columns' values.

Where the assault was at a home, its location text is dropped too (it would be the patient's
address): the record keeps its place and its location type. A home is known by its location
type, or by text that names one or starts like a street address (:func:`home_text`).

Records without coordinates are placed at their postcode's centroid or, failing that, at their
LSOA's population-weighted centroid (:mod:`geo.postcodes`), and ``location_precision`` says
which: ``point``, ``postcode`` or ``lsoa``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import tomllib
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.schema import (
    HEALTH_COLUMNS,
    HEALTH_SOURCES,
    RAW_COLUMNS,
    ReadError,
    ReadResult,
    make_rejects,
)
from geo.settings import TIMEZONE, DataPaths

#: The two kinds of health file.
KINDS = HEALTH_SOURCES

#: How exact a record's place is: its own coordinates, its postcode's centroid (a postcode
#: unit holds about 15 addresses, typically within 100 m) or its LSOA's population-weighted
#: centroid (an LSOA holds about 1,500 residents: up to a few km across in the country).
LOCATION_PRECISIONS = ("point", "postcode", "lsoa")

#: The age bands records are kept in. Under-25s are the first four.
AGE_BANDS = ("0-9", "10-14", "15-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+")
UNDER_25_BANDS = AGE_BANDS[:4]
_AGE_EDGES = (0, 10, 15, 18, 25, 35, 45, 55, 65, 200)

LOCATION_TYPES = (
    "Street or public place", "Licensed premises", "Home", "School or college", "Workplace",
    "Shop", "Public transport", "Other",
)
WEAPONS = (
    "Knife or sharp object", "Glass or bottle", "Blunt object", "Firearm", "Body (fists, feet)",
    "Other",
)
RELATIONSHIPS = ("Stranger", "Acquaintance", "Partner or ex-partner", "Family member", "Other")

#: The fields a health file may give: canonical name -> header spellings (compared lower-case,
#: with everything but letters and digits removed).
_ED_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("attendanceid", "attendanceref", "attendancereference", "attendanceno",
           "attendancenumber", "recordid", "recordref", "episodeid", "episoderef", "edref",
           "edattendanceid", "id", "ref", "reference", "incidentid"),
    "arrival": ("arrivaldatetime", "arrivaldateandtime", "attendancedatetime",
                "dateandtimeofarrival", "datetimeofarrival", "arrivaltimestamp", "arrived",
                "attendancedateandtime"),
    "arrival_date": ("arrivaldate", "attendancedate", "dateofattendance", "dateofarrival",
                     "date", "dateseen"),
    "arrival_time": ("arrivaltime", "attendancetime", "timeofarrival", "timeofattendance",
                     "time", "timeseen"),
    "assault": ("assaultdatetime", "assaultdateandtime", "dateandtimeofassault",
                "datetimeofassault", "incidentdatetime", "incidentdateandtime",
                "dateandtimeofincident", "injurydatetime"),
    "assault_date": ("assaultdate", "dateofassault", "incidentdate", "dateofincident",
                     "injurydate", "dateofinjury"),
    "assault_time": ("assaulttime", "timeofassault", "incidenttime", "timeofincident",
                     "injurytime", "timeofinjury"),
    **{},
}
_PLACE_FIELDS: dict[str, tuple[str, ...]] = {
    "location": ("assaultlocation", "locationofassault", "incidentlocation", "location",
                 "placeofassault", "whereassaulted", "wheredidtheassaulthappen",
                 "locationdescription", "preciselocation", "assaultplace", "venue",
                 "venuename", "locationname", "calllocation"),
    "postcode": ("postcode", "assaultpostcode", "locationpostcode", "incidentpostcode",
                 "postcodeofassault", "venuepostcode", "pc", "callpostcode"),
    "lsoa": ("lsoa", "lsoacode", "lsoa11", "lsoa21", "lsoa11cd", "lsoa21cd", "lsoacd",
             "incidentlsoa", "assaultlsoa"),
    "lon": ("longitude", "lon", "long", "lng", "x_lon"),
    "lat": ("latitude", "lat", "y_lat"),
    "easting": ("easting", "eastings", "bnge", "bngeasting", "oseast", "gridx", "x"),
    "northing": ("northing", "northings", "bngn", "bngnorthing", "osnorth", "gridy", "y"),
}
_PERSON_FIELDS: dict[str, tuple[str, ...]] = {
    "location_type": ("locationtype", "typeoflocation", "assaultlocationtype", "placetype",
                      "typeofplace", "venuetype", "locationcategory", "settingtype"),
    "weapon": ("weapon", "weaponused", "weapons", "mechanism", "mechanismofinjury",
               "injurymechanism", "weaponormechanism", "weaponmechanism", "assaultmechanism",
               "methodofassault", "weaponused1"),
    "assailants": ("numberofassailants", "noofassailants", "assailants", "assailantcount",
                   "numassailants", "howmanyassailants", "numberofattackers"),
    "relationship": ("relationship", "relationshiptoassailant", "assailantrelationship",
                     "relationshiptopatient", "relationshipofassailant", "victimrelationship",
                     "relationshipwithassailant"),
    "age": ("age", "ageyears", "patientage", "ageatattendance", "ageonarrival"),
    "age_band": ("ageband", "agegroup", "agerange", "patientageband"),
    "dob": ("dateofbirth", "dob", "birthdate", "patientdob", "patientdateofbirth"),
    "sex": ("sex", "gender", "patientsex", "patientgender"),
}
_AMBULANCE_FIELDS: dict[str, tuple[str, ...]] = {
    "id": ("incidentid", "incidentnumber", "incidentno", "callid", "callref", "callreference",
           "cadref", "cadnumber", "cadincident", "recordid", "id", "ref", "reference"),
    "call": ("calldatetime", "calldateandtime", "datetimeofcall", "dateandtimeofcall",
             "callreceived", "timecallreceived", "incidentdatetime", "calltimestamp",
             "datetime"),
    "call_date": ("calldate", "dateofcall", "incidentdate", "date"),
    "call_time": ("calltime", "timeofcall", "incidenttime", "time"),
    "call_category": ("callcategory", "category", "responsecategory", "arpcategory",
                      "priority", "callpriority", "dispatchcategory", "cat"),
    "nature": ("nature", "natureofcall", "chiefcomplaint", "incidenttype", "calltype",
               "callnature", "complaint", "determinant", "cardnumber", "protocol"),
}

#: Columns that identify a patient (dropped, and named as such in the summary).
_IDENTIFIER_SPELLINGS = (
    "name", "forename", "forenames", "firstname", "givenname", "surname", "lastname",
    "familyname", "patientname", "fullname", "middlename", "nhsnumber", "nhsno", "nhs",
    "hospitalnumber", "hospitalno", "mrn", "pasnumber", "pasno", "pasid", "casenotenumber",
    "unitnumber", "patientid", "patientnumber", "address", "homeaddress", "patientaddress",
    "addressline1", "addressline2", "addressline3", "address1", "address2", "street",
    "homepostcode", "patientpostcode", "residencepostcode", "postcodeofresidence",
    "homepc", "phone", "telephone", "telephonenumber", "phonenumber", "mobile",
    "mobilenumber", "email", "emailaddress", "gp", "gpname", "gppractice", "nextofkin",
    "school", "schoolname",
)
#: Free-text columns other than the location (dropped: they may name anyone).
_FREE_TEXT_SPELLINGS = (
    "notes", "note", "comments", "comment", "freetext", "description", "narrative",
    "details", "presentingcomplaint", "complaint_text", "triagenotes", "clinicalnotes",
    "historyofpresentingcomplaint", "hpc", "remarks", "additionalinformation", "otherinfo",
    "circumstances", "whathappened",
)


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


@dataclass(frozen=True)
class HealthMapping:
    """Which column holds which field, for a health file whose names are not recognised.

    ``columns`` maps a field name (``arrival``, ``arrival_date``, ``arrival_time``, ``assault``,
    ``assault_date``, ``assault_time``, ``location``, ``postcode``, ``lsoa``, ``lon``, ``lat``,
    ``easting``, ``northing``, ``location_type``, ``weapon``, ``assailants``, ``relationship``,
    ``age``, ``age_band``, ``dob``, ``sex``, ``id``; for ambulance files ``call``,
    ``call_date``, ``call_time``, ``call_category``, ``nature``, the place fields,
    ``location_type``, ``age``, ``age_band``, ``dob`` and ``sex``) to the column as the file
    spells it. Fields not named are found by their usual spellings.

    Examples
    --------
    >>> m = HealthMapping(kind="ed", columns={"arrival": "Seen At"})
    >>> m.kind, m.category
    ('ed', 'Violence with injury')
    """

    kind: str
    columns: dict[str, str] = field(default_factory=dict)
    category: str = "Violence with injury"
    dayfirst: bool = True

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        known = set(_fields(self.kind))
        for key, value in self.columns.items():
            if key not in known:
                raise ValueError(
                    f"column mapping: '{key}' is not a field of a {self.kind} file; fields are "
                    f"{', '.join(sorted(known))}")
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"column mapping: '{key}' must name a column (text)")
        if not isinstance(self.category, str) or not self.category.strip():
            raise ValueError("category must be non-empty text")


def _fields(kind: str) -> dict[str, tuple[str, ...]]:
    if kind == "ed":
        return {**_ED_FIELDS, **_PLACE_FIELDS, **_PERSON_FIELDS}
    # an ambulance service records the kind of place less often, but a call to a home needs
    # its "Home" recognised as much as an ED attendance does
    return {**_AMBULANCE_FIELDS, **_PLACE_FIELDS,
            **{k: v for k, v in _PERSON_FIELDS.items()
               if k in ("location_type", "age", "age_band", "dob", "sex")}}


def load_health_mapping(path: str | Path) -> HealthMapping:
    r"""Read a health-file mapping from TOML.

    The file has a ``[health]`` table with ``kind`` (``"ed"`` or ``"ambulance"``), optional
    ``category`` (what police-style category the records count under; default "Violence with
    injury") and ``dayfirst``, and a ``[health.columns]`` table of field = column name.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.toml"
    >>> _ = p.write_text('[health]\nkind = "ed"\n[health.columns]\narrival = "Seen"\n')
    >>> load_health_mapping(p).columns
    {'arrival': 'Seen'}
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: the mapping file cannot be read: {exc}") from None
    table = doc.get("health")
    if not isinstance(table, dict):
        raise ValueError(f"{path}: a health mapping needs a [health] table with kind = \"ed\" "
                         "or \"ambulance\"")
    columns = table.get("columns", {})
    if not isinstance(columns, dict):
        raise ValueError(f"{path}: [health.columns] must be a table of field = \"column\"")
    extra = set(table) - {"kind", "columns", "category", "dayfirst"}
    if extra:
        raise ValueError(f"{path}: [health] has unknown key(s) {', '.join(sorted(extra))}")
    return HealthMapping(kind=str(table.get("kind", "")), columns=dict(columns),
                         category=table.get("category", "Violence with injury"),
                         dayfirst=table.get("dayfirst", True))


def is_health_mapping(path: str | Path) -> bool:
    """Say whether a mapping TOML file is a health mapping (has a ``[health]`` table)."""
    try:
        doc = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return False
    return isinstance(doc.get("health"), dict)


# --------------------------------------------------------------------------------------------
# Reading the cells of a CSV or an Excel sheet, bounded
# --------------------------------------------------------------------------------------------

#: The most rows one health file may hold (a large ED sees about 150,000 attendances a year,
#: a few thousand of them assaults).
MAX_ROWS = 2_000_000
_XLSX_MAX_UNCOMPRESSED = 512 << 20
_XLSX_MAX_RATIO = 200


def _is_xlsx(path: Path) -> bool:
    """Say whether ``path`` is an Excel workbook; raise ReadError if it is a damaged zip.

    A file that starts like a zip but cannot be opened as one is refused here with that
    reason: otherwise it would be called "not a supported file", which sends the analyst
    looking for the wrong problem.
    """
    with path.open("rb") as fh:
        if fh.read(4) != b"PK\x03\x04":
            return False
    try:
        with zipfile.ZipFile(path) as zf:
            return "xl/workbook.xml" in zf.namelist()
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(
            f"{path}: this looks like an Excel workbook (or a zip archive), but it is damaged "
            f"or cut short ({str(exc)[:200]}): a copy or download that did not finish? Open it "
            "in Excel and save it again, or save the sheet as 'CSV UTF-8' and ingest that."
        ) from None


def _cell_text(value: Any) -> str:
    from datetime import datetime, time

    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M") if (value.hour or value.minute) \
            else value.strftime("%Y-%m-%d")
    if isinstance(value, date):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _read_xlsx(path: Path, max_rows: int,
               header_only: bool = False) -> tuple[list[str], list[list[str]], list[int]]:
    """Read the first sheet of a workbook as text, refusing archives that inflate too far.

    Returns the header, the rows and each row's number on the sheet.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            packed = max(1, sum(i.compress_size for i in infos))
    except (zipfile.BadZipFile, OSError) as exc:
        raise ReadError(f"{path}: the Excel workbook cannot be opened ({exc}).") from None
    if total > _XLSX_MAX_UNCOMPRESSED:
        raise ReadError(
            f"{path}: the workbook is too large once unpacked: it unpacks to "
            f"{total / 2**20:,.0f} MB, more than the {_XLSX_MAX_UNCOMPRESSED >> 20} MB this "
            "tool reads from one workbook. Save the sheet as 'CSV UTF-8' and ingest that.")
    if total / packed > _XLSX_MAX_RATIO:
        raise ReadError(
            f"{path}: the workbook is too large once unpacked: it unpacks to "
            f"{total / 2**20:,.0f} MB, {total / packed:,.0f}× its size on disk, where this tool "
            f"reads at most {_XLSX_MAX_RATIO}× (a real export packs far less tightly: the "
            "workbook may be damaged, or made to exhaust the machine). Save the sheet as "
            "'CSV UTF-8' and ingest that.")
    import openpyxl  # only workbooks need it

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
        raise ReadError(f"{path}: the Excel workbook cannot be read ({type(exc).__name__}: "
                        f"{str(exc)[:200]}). Save the sheet as 'CSV UTF-8' and ingest that."
                        ) from None
    try:
        sheet = book.worksheets[0]
        # from row 1, gaps included, so that counting gives each row's number on the sheet
        rows = sheet.iter_rows(min_row=1, values_only=True)
        header: list[str] | None = None
        body: list[list[str]] = []
        lines: list[int] = []
        for line, values in enumerate(rows, start=1):
            cells = [_cell_text(v) for v in values]
            if header is None:
                if not any(cells):
                    continue
                header = cells
                if header_only:
                    break
                continue
            if not any(cells):
                continue
            if len(body) >= max_rows:
                raise ReadError(f"{path}: the sheet has more than {max_rows:,} rows, the most "
                                "one health file may hold; split it.")
            body.append(cells)
            lines.append(line)
    finally:
        book.close()
    if header is None:
        raise ReadError(f"{path}: the first sheet of the workbook is empty.")
    while header and not header[-1]:
        header.pop()
    width = len(header)
    return header, [(r + [""] * width)[:width] for r in body], lines


@dataclass
class _Table:
    """The cells of a health file as text, and the rows whose values were too long to keep."""

    header: list[str]
    rows: list[list[str]]
    #: Each row's line in the file (where it starts), or its row number on the sheet.
    lines: np.ndarray
    #: Positions in ``rows`` of rows with a value over 128 KiB; such a row is kept empty.
    too_long: np.ndarray


def _read_table(path: Path) -> _Table:
    """Return the header and the rows of a health file as text (CSV, gzipped CSV or XLSX)."""
    from geo.readers import (
        _MAX_FIELD_BYTES,
        _MAX_READ_FIELD_CHARS,
        _check_file,
        _csv_records,
        _head_text,
        _Source,
        _utf8_error,
    )

    _check_file(path)
    max_rows = MAX_ROWS
    if _is_xlsx(path):
        # a cell holds at most 32,767 characters: none is too long
        names, cells, at = _read_xlsx(path, max_rows)
        return _Table(names, cells, np.asarray(at, dtype="int64"),
                      np.zeros(len(cells), dtype=bool))
    head, _gz = _head_text(path)
    if b"\x00" in head[:4096]:
        raise ReadError(f"{path}: this is a binary file, not a CSV or an Excel workbook.")
    # The csv module refuses the whole file at its first value over 128 KiB; read values up to
    # _MAX_READ_FIELD_CHARS (beyond that, a quote never closed: refused whole, with where) and
    # reject the row of one over 128 KiB without keeping it. The limit is process-wide, so it
    # is only ever raised (another thread may be reading), as geo.readers does.
    if csv.field_size_limit() < _MAX_READ_FIELD_CHARS:
        csv.field_size_limit(_MAX_READ_FIELD_CHARS)
    too_long: list[int] = []
    starts: list[int] = []
    try:
        with _Source(path) as src:
            text = io.TextIOWrapper(cast(Any, src.stream), encoding="utf-8-sig", newline="")
            reader = csv.reader(text)
            records = _csv_records(path, reader)
            header = next(records, None)
            if header is None:
                raise ReadError(f"{path}: the file is empty (it holds no text).")
            body: list[list[str]] = []
            # a row starts on the line after the previous one ended: blank lines and values
            # with line breaks in them move the rows after them down
            prev_line = reader.line_num
            for row in records:
                start, prev_line = prev_line + 1, reader.line_num
                if not any(c.strip() for c in row):
                    continue
                if len(body) >= max_rows:
                    raise ReadError(f"{path}: the file has more than {max_rows:,} rows, the "
                                    "most one health file may hold; split it.")
                # characters, then bytes only when it could matter (a UTF-8 character is at
                # most 4 bytes)
                if any(len(c) * 4 > _MAX_FIELD_BYTES and len(c.encode("utf-8")) >
                       _MAX_FIELD_BYTES for c in row):
                    too_long.append(len(body))
                    row = []
                body.append(row)
                starts.append(start)
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    except csv.Error as exc:
        raise ReadError(f"{path}: the CSV cannot be read: {exc}.") from None
    header = [h.strip() for h in header]
    width = len(header)
    if width < 2:
        raise ReadError(f"{path}: header row not recognised: {','.join(header)[:120]!r}.")
    long_rows = np.zeros(len(body), dtype=bool)
    long_rows[too_long] = True
    return _Table(header, body, np.asarray(starts, dtype="int64"), long_rows)


def header_kind(header: Iterable[str]) -> str | None:
    """Say whether a header is an ED (ISTV) file, an ambulance file, or neither.

    An ED file names an arrival date; an ambulance file a call date or a call category
    together with no arrival.

    Examples
    --------
    >>> header_kind(["Arrival Date", "Arrival Time", "Postcode", "Weapon"])
    'ed'
    >>> header_kind(["Call DateTime", "Call Category", "LSOA"])
    'ambulance'
    >>> header_kind(["when", "x", "y"]) is None
    True
    """
    names = {_norm(h) for h in header}
    ed_time = set(_ED_FIELDS["arrival"]) | set(_ED_FIELDS["arrival_date"]) - {"date"}
    if names & ed_time:
        return "ed"
    amb = set(_AMBULANCE_FIELDS["call"]) - {"datetime", "incidentdatetime"}
    amb |= set(_AMBULANCE_FIELDS["call_date"]) - {"date", "incidentdate"}
    if names & amb or (names & {"callcategory", "responsecategory", "arpcategory"}):
        return "ambulance"
    return None


def file_kind(path: str | Path) -> str | None:
    """Return ``"ed"``, ``"ambulance"`` or None for a file, judged by its header row.

    Raises
    ------
    geo.schema.ReadError
        If the file is an Excel workbook that cannot be read (too large once unpacked,
        damaged or cut short): no other reader takes a workbook, so the real reason is given
        here. A CSV whose header cannot be read gives None (the other readers say why).
    """
    path = Path(path)
    if path.is_file() and _is_xlsx(path):
        header, _, _ = _read_xlsx(path, 0, header_only=True)
        return header_kind(header)
    try:
        from geo.readers import _head_text, _read_header

        head, _ = _head_text(path)
        return header_kind(_read_header(path, head))
    except ReadError:
        return None


# --------------------------------------------------------------------------------------------
# Normalising the ISTV fields
# --------------------------------------------------------------------------------------------

_LOCATION_WORDS = (
    ("Licensed premises", ("pub", "club", "bar", "nightclub", "licensed", "inn", "disco",
                           "venue", "hotel")),
    ("Home", ("home", "house", "dwelling", "flat", "residence", "residential", "domestic",
              "ownhome", "someoneelseshome", "garden", "bedsit", "hostel")),
    ("School or college", ("school", "college", "university", "academy", "campus")),
    ("Workplace", ("work", "workplace", "office", "factory", "atwork")),
    ("Public transport", ("bus", "train", "station", "taxi", "tram", "transport", "railway",
                          "busstop", "metro")),
    ("Shop", ("shop", "store", "supermarket", "takeaway", "restaurant", "cafe", "retail")),
    ("Street or public place", ("street", "road", "public", "outside", "park", "carpark",
                                "alley", "footpath", "pavement", "outdoors", "beach",
                                "promenade", "highstreet", "town", "city", "field")),
)
_WEAPON_WORDS = (
    ("Firearm", ("gun", "firearm", "shot", "shotgun", "pistol", "rifle", "airgun")),
    ("Knife or sharp object", ("knife", "blade", "sharp", "stab", "stabbed", "machete",
                               "slash", "cut", "razor", "screwdriver", "scissors", "sword")),
    ("Glass or bottle", ("glass", "bottle", "glassed")),
    ("Blunt object", ("blunt", "bat", "club", "hammer", "stick", "brick", "stone", "pole",
                      "object", "bar", "weapon")),
    ("Body (fists, feet)", ("fist", "fists", "punch", "punched", "kick", "kicked", "feet",
                            "foot", "hand", "hands", "head", "headbutt", "body", "bite",
                            "bitten", "slap", "push", "pushed", "stamp", "strangle",
                            "bodilyforce", "noweapon", "none")),
)
_RELATIONSHIP_WORDS = (
    ("Partner or ex-partner", ("partner", "expartner", "spouse", "husband", "wife",
                               "boyfriend", "girlfriend", "exboyfriend", "exgirlfriend",
                               "exhusband", "exwife", "intimate")),
    ("Family member", ("family", "relative", "parent", "mother", "father", "son", "daughter",
                       "brother", "sister", "sibling", "stepfather", "stepmother", "uncle",
                       "aunt", "cousin", "grandparent", "child")),
    ("Stranger", ("stranger", "strangers", "unknown person", "notknown", "unknownassailant")),
    ("Acquaintance", ("acquaintance", "friend", "known", "neighbour", "colleague",
                      "classmate", "peer", "associate")),
    ("Other", ("security", "doorstaff", "bouncer", "police", "staff", "other")),
)
_UNKNOWN_WORDS = ("", "unknown", "notknown", "notrecorded", "na", "n/a", "none recorded",
                  "notstated", "declined", "refused", "notgiven", "missing", "-", "?",
                  "notapplicable")


def _words(value: str) -> list[str]:
    low = value.lower()
    return [low.replace(" ", "").replace("-", "").replace("'", "")] + re.findall(r"[a-z]+", low)


def _classify(values: pd.Series, table: tuple[tuple[str, tuple[str, ...]], ...],
              other: str | None) -> pd.Series:
    """Map free spellings to a fixed list by keyword, each distinct value once."""
    out: dict[str, Any] = {}
    for value in values.dropna().unique():
        text = str(value).strip()
        key = _norm(text)
        if key in {_norm(u) for u in _UNKNOWN_WORDS}:
            out[value] = pd.NA
            continue
        words = _words(text)
        found = next((label for label, keys in table
                      if any(w in keys for w in words) or key in {_norm(k) for k in keys}),
                     None)
        out[value] = found or other or pd.NA
    return values.map(out).astype("string")


def location_types(values: pd.Series) -> pd.Series:
    """Return each location description's type (:data:`LOCATION_TYPES`), NA when unknown.

    Examples
    --------
    >>> location_types(pd.Series(["Pub/Club", "Own home", "street", "Hospital", ""])).tolist()
    ['Licensed premises', 'Home', 'Street or public place', 'Other', <NA>]
    """
    return _classify(values.fillna(""), _LOCATION_WORDS, "Other")


#: Location text that says the place is a home. Word by word, any case: "Warehouse" is not a
#: house, nor is a "public house" (a pub).
_HOME_WORDS = re.compile(
    r"\b(?:homes?|(?<!public )houses?|flats?|apartments?|apt|maisonettes?|bedsits?|bungalows?|"
    r"residences?|residential|address(?:es)?|dwellings?|domestic)\b", re.IGNORECASE)
#: Location text that starts like a street address: a house number then a word ("17 Xylophone
#: Terrace", "17a, Xylophone Terrace"), or has one before a street word anywhere ("Outside 17
#: Xylophone Terrace").
_ADDRESS = re.compile(
    r"^\W*\d+[a-z]?\b[\s,]+[a-z]|\b\d+[a-z]?,?\s+(?:[a-z'’-]+\s+){0,3}(?:street|st|road|rd|"
    r"avenue|ave|lane|ln|close|drive|dr|way|terrace|crescent|cres|grove|place|pl|court|ct|"
    r"gardens|gdns|square|sq|walk|row|mews|hill|parade|rise|view|vale|green|fold|brow|"
    r"croft|meadows?|park)\b", re.IGNORECASE)


def home_text(values: pd.Series) -> np.ndarray:
    """Say which location texts are at a home: they name one, or look like a street address.

    Such text would be an address (most often the patient's own), so it is never stored,
    whatever the location type says. It errs towards dropping: "The Counting House" (a pub)
    and "24 hour garage" are dropped too. Text that names a person without a home word or a
    house number ("outside Zebedee's car") is not caught.

    Examples
    --------
    >>> home_text(pd.Series(["At his own home, 17 Xylophone Terrace", "Outside Zeb's house",
    ...                      "17 Xylophone Terrace", "Flat 3", "Outside the Crown public house",
    ...                      "Talbot Road, outside a bar", "Warehouse", "", None])).tolist()
    [True, True, True, True, False, False, False, False, False]
    """
    text = values.fillna("").astype(str)
    found = text.str.contains(_HOME_WORDS) | text.str.contains(_ADDRESS)
    return found.to_numpy(dtype=bool)


def weapons(values: pd.Series) -> pd.Series:
    """Return each weapon or mechanism's kind (:data:`WEAPONS`), NA when unknown.

    Examples
    --------
    >>> weapons(pd.Series(["Knife", "Fist/feet", "Bottle", "unknown", "taser"])).tolist()
    ['Knife or sharp object', 'Body (fists, feet)', 'Glass or bottle', <NA>, 'Other']
    """
    return _classify(values.fillna(""), _WEAPON_WORDS, "Other")


def relationships(values: pd.Series) -> pd.Series:
    """Return each relationship's kind (:data:`RELATIONSHIPS`), NA when unknown.

    Examples
    --------
    >>> relationships(pd.Series(["Ex-partner", "Stranger(s)", "Friend", "Not known"])).tolist()
    ['Partner or ex-partner', 'Stranger', 'Acquaintance', <NA>]
    """
    return _classify(values.fillna(""), _RELATIONSHIP_WORDS, "Other")


def sexes(values: pd.Series) -> pd.Series:
    """Return ``Male``, ``Female``, ``Other`` or NA.

    Examples
    --------
    >>> sexes(pd.Series(["M", "female", "X", "", "Unknown"])).tolist()
    ['Male', 'Female', 'Other', <NA>, <NA>]
    """
    table = {"m": "Male", "male": "Male", "man": "Male", "boy": "Male", "f": "Female",
             "female": "Female", "woman": "Female", "girl": "Female"}
    unknown = {_norm(u) for u in _UNKNOWN_WORDS} | {"u", "notspecified", "9", "0"}

    def one(v: str) -> Any:
        k = _norm(v)
        if k in unknown:
            return pd.NA
        return table.get(k, "Other")

    return values.fillna("").map(one).astype("string")


def age_bands_from_years(age: np.ndarray) -> pd.Series:
    """Return the :data:`AGE_BANDS` band of each age in years (NaN gives NA).

    Examples
    --------
    >>> age_bands_from_years(np.array([3, 14, 17, 24, 25, 70, np.nan])).tolist()
    ['0-9', '10-14', '15-17', '18-24', '25-34', '65+', <NA>]
    """
    age = np.asarray(age, dtype="float64")
    ok = np.isfinite(age) & (age >= 0) & (age < 130)
    idx = np.searchsorted(np.asarray(_AGE_EDGES), np.where(ok, age, 0), side="right") - 1
    labels = np.asarray(AGE_BANDS, dtype=object)[np.clip(idx, 0, len(AGE_BANDS) - 1)]
    labels[~ok] = None
    return pd.Series(labels, dtype="string")


_BAND_RE = re.compile(r"^\s*(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})\s*$")
_PLUS_RE = re.compile(r"^\s*(\d{1,3})\s*(?:\+|and over|plus|or over)\s*$", re.I)
_UNDER_RE = re.compile(r"^\s*(?:under|<)\s*(\d{1,3})\s*$", re.I)


def age_bands_from_text(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Normalise given age bands; return them and which values were not understood.

    A band that lies within one of ours is given as ours ("16-17" -> "15-17"); one that spans
    several is kept as written ("16-25"), so the under-25 split never guesses.

    Examples
    --------
    >>> bands, bad = age_bands_from_text(pd.Series(["18-24", "16-17", "65+", "16-25", "x", ""]))
    >>> bands.tolist(), bad.tolist()
    (['18-24', '15-17', '65+', '16-25', <NA>, <NA>], [False, False, False, False, True, False])
    """
    out: dict[str, Any] = {}
    bad_values = set()
    for value in values.dropna().unique():
        text = str(value).strip()
        if _norm(text) in {_norm(u) for u in _UNKNOWN_WORDS}:
            out[value] = pd.NA
            continue
        lo = hi = None
        if m := _BAND_RE.match(text):
            lo, hi = int(m.group(1)), int(m.group(2))
        elif m := _PLUS_RE.match(text):
            lo, hi = int(m.group(1)), 199
        elif m := _UNDER_RE.match(text):
            lo, hi = 0, int(m.group(1)) - 1
        elif text.isdigit():
            lo = hi = int(text)
        if lo is None or hi is None or lo > hi:
            out[value] = pd.NA
            bad_values.add(value)
            continue
        band = next((b for b, a, z in zip(AGE_BANDS, _AGE_EDGES, _AGE_EDGES[1:], strict=False)
                     if a <= lo and hi < z), None)
        out[value] = band or text.replace(" ", "")
    series = values.map(out).astype("string")
    return series, values.isin(bad_values).to_numpy(dtype=bool)


def assailant_counts(values: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Return ``1``, ``2`` or ``3+`` (NA unknown) and which values were not understood.

    Examples
    --------
    >>> counts, bad = assailant_counts(pd.Series(["1", "Two", "5", "Multiple", "?", "lots"]))
    >>> counts.tolist(), bad.tolist()
    (['1', '2', '3+', '3+', <NA>, <NA>], [False, False, False, False, False, True])
    """
    words = {"one": 1, "single": 1, "two": 2, "three": 3, "four": 4, "five": 5,
             "multiple": 3, "several": 3, "group": 3, "gang": 3, "many": 3, "3+": 3, "3ormore": 3}
    out: dict[str, Any] = {}
    bad_values = set()
    for value in values.dropna().unique():
        text = str(value).strip()
        key = _norm(text)
        if key in {_norm(u) for u in _UNKNOWN_WORDS}:
            out[value] = pd.NA
            continue
        n = int(key) if key.isdigit() else words.get(key, words.get(text.lower()))
        if n is None or n < 0 or n > 1000:
            bad_values.add(value)
            out[value] = pd.NA
            continue
        out[value] = "0" if n == 0 else ("3+" if n >= 3 else str(n))
    series = values.map(out).astype("string")
    bad = values.isin(bad_values).to_numpy(dtype=bool)
    return series, bad


def call_categories(values: pd.Series) -> pd.Series:
    """Return ``Category 1`` … ``Category 5`` for the usual spellings, else the text as given.

    Examples
    --------
    >>> call_categories(pd.Series(["C1", "Cat 2", "3", "Category 4", "Hear and treat"])).tolist()
    ['Category 1', 'Category 2', 'Category 3', 'Category 4', 'Hear and treat']
    """
    def one(v: str) -> Any:
        text = str(v).strip()
        m = re.fullmatch(r"(?i)(?:c|cat|category|cat\.)?\s*([1-5])[a-z]?", text)
        if m:
            return f"Category {m.group(1)}"
        return text[:40] or pd.NA

    return values.fillna("").map(one).astype("string")


# --------------------------------------------------------------------------------------------
# The reader
# --------------------------------------------------------------------------------------------


_UK_LON, _UK_LAT = (-8.7, 2.0), (49.8, 60.9)
_UK_E, _UK_N = (0.0, 700_000.0), (0.0, 1_250_000.0)


@dataclass
class Columns:
    """Which header column each field was read from, and what was dropped, and why."""

    used: dict[str, int]
    names: dict[str, str]
    identifiers: list[str] = field(default_factory=list)
    free_text: list[str] = field(default_factory=list)
    converted: list[str] = field(default_factory=list)
    unrecognised: list[str] = field(default_factory=list)

    def dropped(self) -> dict[str, list[str]]:
        """Return the dropped columns by why, as the ingest summary shows them."""
        out = {
            "patient identifiers (not stored)": self.identifiers,
            "free text other than the location (not stored)": self.free_text,
            "date of birth (turned into an age band, not stored)": self.converted,
            "not recognised (not stored)": self.unrecognised,
        }
        return {k: v for k, v in out.items() if v}


def resolve_columns(header: list[str], kind: str, mapping: HealthMapping | None,
                    path: Path | str = "") -> Columns:
    """Find each field's column, and sort every other column into why it is dropped.

    Examples
    --------
    >>> cols = resolve_columns(["Arrival Date", "Arrival Time", "Patient Name", "NHS No",
    ...                         "Postcode", "DOB", "Notes", "Shoe size"], "ed", None)
    >>> sorted(cols.used), cols.identifiers, cols.converted, cols.unrecognised
    (['arrival_date', 'arrival_time', 'dob', 'postcode'], ['Patient Name', 'NHS No'], ['DOB'], ['Shoe size'])
    """  # noqa: E501
    fields = _fields(kind)
    norm = [_norm(h) for h in header]
    used: dict[str, int] = {}
    taken: set[int] = set()
    given = mapping.columns if mapping else {}
    for key, column in given.items():
        matches = [i for i, h in enumerate(header) if h.strip() == column.strip()]
        if not matches:
            matches = [i for i, n in enumerate(norm) if n == _norm(column)]
        if not matches:
            raise ReadError(
                f"{path}: the mapping names column '{column}' for {key}, but the file has no "
                f"such column. Columns found: {', '.join(repr(h) for h in header)}.")
        used[key] = matches[0]
        taken.add(matches[0])
    for key, spellings in fields.items():
        if key in used:
            continue
        for spelling in spellings:
            hit = next((i for i, n in enumerate(norm) if n == spelling and i not in taken), None)
            if hit is not None:
                used[key] = hit
                taken.add(hit)
                break
    # A single date-time column and a date column: the date-time one wins.
    for whole, part_date, _part_time in (("arrival", "arrival_date", "arrival_time"),
                                        ("assault", "assault_date", "assault_time"),
                                        ("call", "call_date", "call_time")):
        if whole in used and part_date in used and whole not in given:
            taken.discard(used.pop(whole))
    for key, at in used.items():
        twins = [h for i, h in enumerate(header) if i != at and norm[i] == norm[at]]
        if twins:
            # two columns of one name: one may be the patient's (a home postcode, a birth
            # date), and taking the first would store it as the assault's
            raise ReadError(
                f"{path}: the file has {len(twins) + 1} columns named '{header[at].strip()}', "
                f"so which one holds the {key.replace('_', ' ')} cannot be told. Rename the "
                "others (or remove them) and ingest the file again.")
    cols = Columns(used=used, names={k: header[i] for k, i in used.items()})
    for i, h in enumerate(header):
        if i in taken or not h.strip():
            continue
        n = norm[i]
        if n in _IDENTIFIER_SPELLINGS or any(n.startswith(p) for p in (
                "nhsn", "patientname", "hospitalnumber", "address", "telephone", "email")):
            cols.identifiers.append(h)
        elif n in _FREE_TEXT_SPELLINGS or n.endswith("notes") or n.endswith("comments"):
            cols.free_text.append(h)
        else:
            cols.unrecognised.append(h)
    if "dob" in used:
        cols.converted.append(header[used["dob"]])
    return cols


def _when(frame: pd.DataFrame, whole: str, part_date: str, part_time: str) -> pd.Series | None:
    if whole in frame:
        return frame[whole]
    if part_date not in frame:
        return None
    day = frame[part_date].str.strip()
    if part_time in frame:
        clock = frame[part_time].str.strip()
        # Excel exports a time of day as "1899-12-30 23:15" or a fraction of a day
        clock = clock.str.replace(r"^1899-12-3[01][ T]", "", regex=True)
        # a time with no date is no date: left blank, so the row says "no arrival date"
        day = day.where((clock == "") | (day == ""), day + " " + clock)
    return day


def _parse_when(text: pd.Series, dayfirst: bool) -> Any:
    from geo.readers import _parse_datetimes

    return _parse_datetimes(pa.array(text.fillna("").astype(str), type=pa.string()),
                            "auto", dayfirst, "convert")


def _hash_ids(values: pd.Series, kind: str) -> pd.Series:
    """Turn a source's own record references into ids that do not show them."""
    out = [f"{kind}-" + hashlib.blake2b(v.encode("utf-8"), digest_size=12,
                                         person=b"hotspot-istv").hexdigest()
           for v in values.astype(str)]
    return pd.Series(out, index=values.index, dtype="string")


def _numbers(text: pd.Series) -> np.ndarray:
    return pd.to_numeric(text.str.strip().replace("", np.nan), errors="coerce").to_numpy(
        dtype="float64")


def read_health(path: str | Path, data: DataPaths | None = None,
                mapping: HealthMapping | None = None, kind: str | None = None) -> ReadResult:
    """Read an ED (ISTV) or ambulance file: raw incidents with their health fields.

    Parameters
    ----------
    path : str or Path
        CSV (optionally gzipped, UTF-8) or Excel workbook (first sheet).
    data : DataPaths, optional
        The data directory whose postcode and LSOA centroid lookups place rows without
        coordinates (:mod:`geo.postcodes`). Without it, such rows are rejected.
    mapping : HealthMapping, optional
        Column names the usual spellings do not cover, and the file's kind.
    kind : {"ed", "ambulance"}, optional
        The file's kind when the mapping does not say; judged from the header otherwise.

    Returns
    -------
    geo.schema.ReadResult
        ``rows`` holds :data:`geo.schema.RAW_COLUMNS` plus :data:`HEALTH_COLUMNS`; ``notes``
        name every dropped column and say why. ``dropped`` (an attribute added to the result)
        is the same as a dict.

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be read, is not a health file, or has no arrival (call) date.
    """
    path = Path(path)
    table = _read_table(path)
    header, body = table.header, table.rows
    kind = (mapping.kind if mapping else None) or kind or header_kind(header)
    if kind not in KINDS:
        raise ReadError(
            f"{path}: this does not look like an emergency-department (ISTV) or ambulance file: "
            "no arrival date or call date column was recognised. Give a health mapping "
            "([health] kind = \"ed\" and [health.columns] arrival = \"<column>\"). Columns "
            f"found: {', '.join(repr(h) for h in header)}.")
    cols = resolve_columns(header, kind, mapping, path)
    whole, part = ("arrival", "arrival_date") if kind == "ed" else ("call", "call_date")
    if whole not in cols.used and part not in cols.used:
        what = "arrival date" if kind == "ed" else "call date"
        raise ReadError(
            f"{path}: no {what} column was recognised. Name it in a health mapping "
            f"([health.columns] {whole} = \"<column>\"). Columns found: "
            f"{', '.join(repr(h) for h in header)}.")
    n = len(body)
    width = len(header)
    # A row with more or fewer fields than the header (an unquoted comma in a name, a row cut
    # short) cannot be read by position: its "Age" may hold the free text of a dropped column.
    # None of its values is read, not even into the rejects file; nor of a row with a value
    # over 128 KiB (kept empty by the reader).
    too_long = table.too_long
    ragged = np.array([len(r) != width for r in body], dtype=bool) & ~too_long
    unread = ragged | too_long
    blank_row = [""] * width
    frame = pd.DataFrame(
        {key: pd.Series([(blank_row if bad else r)[i] for r, bad in zip(body, unread,
                                                                        strict=True)],
                        dtype="string")
         for key, i in cols.used.items()})
    frame = frame.fillna("")
    lines = table.lines
    reasons = np.full(n, "", dtype=object)

    def reject(mask: np.ndarray, why: str | np.ndarray) -> None:
        fresh = mask & (reasons == "")
        if isinstance(why, str):
            reasons[fresh] = why
        else:
            reasons[fresh] = why[fresh]

    if too_long.any():
        from geo.readers import _LONG_FIELD_REASON

        reject(too_long, _LONG_FIELD_REASON)
    if ragged.any():
        reject(ragged, np.array([_ragged_reason(len(r), width) for r in body], dtype=object))
    dayfirst = mapping.dayfirst if mapping else True
    when_text = _when(frame, whole, part, f"{kind == 'ed' and 'arrival' or 'call'}_time")
    assert when_text is not None
    parsed = _parse_when(when_text, dayfirst)
    from geo.readers import _dates_plausible, _Plausible

    blank = (when_text.str.strip() == "").to_numpy(dtype=bool)
    what = "arrival date" if kind == "ed" else "call date"
    reject(blank, f"no {what}")
    bad = ~blank & ~parsed.ok
    quoted = np.array([f"{what} not understood: '{t[:40]}'" for t in when_text], dtype=object)
    reject(bad, quoted)
    span = _Plausible.now()
    implausible = parsed.ok & ~_dates_plausible(parsed, span)
    reject(implausible, np.array([f"{what} outside the plausible range ({span.days}): "
                                  f"'{t[:40]}'" for t in when_text], dtype=object))
    notes: list[str] = []
    occurred = pd.DatetimeIndex(parsed.utc).tz_localize("UTC").tz_convert(TIMEZONE)
    arrival_day = np.where(parsed.ok, occurred.tz_localize(None).to_numpy(), np.datetime64("NaT"))

    assault_at = pd.Series(pd.NaT, index=frame.index, dtype=f"datetime64[us, {TIMEZONE}]")
    if kind == "ed":
        a_text = _when(frame, "assault", "assault_date", "assault_time")
        if a_text is not None:
            a = _parse_when(a_text, dayfirst)
            a_ok = a.ok & (a.precision != "month") & ~np.isnat(a.utc)
            given = (a_text.str.strip() != "").to_numpy(dtype=bool)
            a_at = pd.DatetimeIndex(a.utc).tz_localize("UTC").tz_convert(TIMEZONE)
            later = a_ok & parsed.ok & (a.utc > parsed.utc)
            unread = given & ~a_ok
            if unread.any():
                notes.append(f"{int(unread.sum()):,} assault date(s) not understood were left "
                             "blank (the rows are kept: the arrival time is what counts).")
            if later.any():
                notes.append(f"{int(later.sum()):,} assault time(s) after the arrival time were "
                             "left blank.")
            keep_a = a_ok & ~later
            assault_at[keep_a] = a_at[keep_a].as_unit("us")

    # --- place -----------------------------------------------------------------------------
    east = np.full(n, np.nan)
    north = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    precision = np.full(n, None, dtype=object)
    has_point = np.zeros(n, dtype=bool)
    if "lon" in frame and "lat" in frame:
        x, y = _numbers(frame["lon"]), _numbers(frame["lat"])
        given = (frame["lon"].str.strip() != "").to_numpy() | (
            frame["lat"].str.strip() != "").to_numpy()
        ok = np.isfinite(x) & np.isfinite(y)
        in_uk = ok & (x >= _UK_LON[0]) & (x <= _UK_LON[1]) & (y >= _UK_LAT[0]) & (y <= _UK_LAT[1])
        reject(given & ~ok, "coordinates not understood (longitude and latitude must be "
               "numbers)")
        reject(ok & ~in_uk, "coordinates outside Great Britain (check longitude and latitude "
               "are not swapped)")
        lon[in_uk], lat[in_uk] = x[in_uk], y[in_uk]
        has_point |= in_uk
    if "easting" in frame and "northing" in frame:
        x, y = _numbers(frame["easting"]), _numbers(frame["northing"])
        given = ((frame["easting"].str.strip() != "") | (frame["northing"].str.strip() != "")
                 ).to_numpy()
        ok = np.isfinite(x) & np.isfinite(y) & ~has_point
        in_gb = ok & (x >= _UK_E[0]) & (x <= _UK_E[1]) & (y >= _UK_N[0]) & (y <= _UK_N[1])
        reject(given & ~has_point & ~np.isfinite(x + y), "grid reference not understood "
               "(easting and northing must be numbers in metres)")
        reject(ok & ~in_gb, "grid reference outside Great Britain")
        east[in_gb], north[in_gb] = x[in_gb], y[in_gb]
        has_point |= in_gb
    precision[has_point] = "point"
    need = ~has_point & (reasons == "")
    postcode = frame["postcode"].str.strip() if "postcode" in frame else None
    lsoa = frame["lsoa"].str.strip().str.upper() if "lsoa" in frame else None
    has_pc = (postcode != "").to_numpy() if postcode is not None else np.zeros(n, bool)
    has_lsoa = (lsoa != "").to_numpy() if lsoa is not None else np.zeros(n, bool)
    pc_reason = np.full(n, None, dtype=object)
    if (need & has_pc).any():
        assert postcode is not None
        from geo.postcodes import PostcodeLookup

        lookup = PostcodeLookup.load(data) if data is not None else None
        rows = np.flatnonzero(need & has_pc)
        if lookup is None:
            pc_reason[rows] = ("postcode given but no postcode directory is imported (run "
                               "'hotspot postcodes import FILE' with the ONS Postcode "
                               "Directory or OS Code-Point Open)")
        else:
            # a postcode terminated later was in use when the record was made
            placed = lookup.place(postcode.to_numpy(dtype=object)[rows],
                                  at=pd.Series(occurred[rows]))
            ok = np.asarray([r is None for r in placed.reason], dtype=bool)
            east[rows[ok]] = np.asarray(placed.easting)[ok]
            north[rows[ok]] = np.asarray(placed.northing)[ok]
            precision[rows[ok]] = "postcode"
            pc_reason[rows[~ok]] = np.asarray(placed.reason, dtype=object)[~ok]
            # a postcode known to the directory but with no grid reference still names its
            # LSOA: the record may be placed there instead. Not a terminated one: a record
            # dated after it ended does not say where it happened (a mistyped or out-of-date
            # postcode), so it is rejected with that reason unless the row gives an LSOA too.
            if lsoa is None:
                lsoa = pd.Series("", index=frame.index, dtype="string")
            ended = np.asarray(placed.terminated, dtype=bool)
            known = np.asarray([c is not None for c in placed.lsoa], dtype=bool) & ~ok & ~ended
            for r, code in zip(rows[known], np.asarray(placed.lsoa, dtype=object)[known],
                               strict=True):
                if not lsoa.iat[r]:
                    lsoa.iat[r] = str(code)
            has_lsoa = (lsoa != "").to_numpy()
    need = need & (precision == None)  # noqa: E711 (an object array)
    if (need & has_lsoa).any():
        assert lsoa is not None
        from geo.postcodes import LsoaCentroids

        cent = LsoaCentroids.load(data) if data is not None else None
        rows = np.flatnonzero(need & has_lsoa)
        if cent is None:
            why = ("LSOA code given but no LSOA centroids are imported (run 'hotspot "
                   "lsoa-centroids import FILE' with the ONS population-weighted centroids)")
            for r in rows:
                pc_reason[r] = pc_reason[r] or why
        else:
            placed = cent.place(lsoa.to_numpy(dtype=object)[rows])
            ok = np.asarray([r is None for r in placed.reason], dtype=bool)
            east[rows[ok]] = np.asarray(placed.easting)[ok]
            north[rows[ok]] = np.asarray(placed.northing)[ok]
            precision[rows[ok]] = "lsoa"
            fell_back = ok & np.asarray([pc_reason[r] is not None for r in rows], dtype=bool)
            if fell_back.any():
                notes.append(f"{int(fell_back.sum()):,} row(s) whose postcode could not be "
                             "placed were placed by their LSOA code instead.")
            for r, why in zip(rows[~ok], np.asarray(placed.reason, dtype=object)[~ok],
                              strict=True):
                pc_reason[r] = pc_reason[r] or why
    unplaced = (reasons == "") & (precision == None)  # noqa: E711
    no_place = unplaced & ~has_pc & ~has_lsoa
    reject(no_place, "no place: no coordinates, postcode or LSOA code")
    reject(unplaced & ~no_place, np.array([str(r) for r in pc_reason], dtype=object))

    # --- the ISTV fields -------------------------------------------------------------------
    def col(key: str) -> pd.Series:
        return frame[key] if key in frame else pd.Series("", index=frame.index, dtype="string")

    loc_type = location_types(col("location_type")) if "location_type" in frame else \
        pd.Series(pd.NA, index=frame.index, dtype="string")
    if "weapon" in frame:
        weapon = weapons(col("weapon"))
    elif "nature" in frame:  # an ambulance call's nature names a weapon only sometimes
        weapon = _classify(col("nature"), _WEAPON_WORDS, None)
    else:
        weapon = pd.Series(pd.NA, index=frame.index, dtype="string")
    relationship = relationships(col("relationship")) if "relationship" in frame else \
        pd.Series(pd.NA, index=frame.index, dtype="string")
    assailants, bad_assailants = assailant_counts(col("assailants"))
    if "assailants" not in frame:
        assailants = pd.Series(pd.NA, index=frame.index, dtype="string")
    elif bad_assailants.any():
        notes.append(f"{int(bad_assailants.sum()):,} number(s) of assailants not understood "
                     "were left blank.")
    sex = sexes(col("sex")) if "sex" in frame else pd.Series(pd.NA, index=frame.index,
                                                             dtype="string")
    age_band = pd.Series(pd.NA, index=frame.index, dtype="string")
    if "age" in frame:
        years = _numbers(col("age"))
        odd = (col("age").str.strip() != "").to_numpy() & ~(
            np.isfinite(years) & (years >= 0) & (years < 130))
        if odd.any():
            notes.append(f"{int(odd.sum()):,} age(s) not understood were left blank.")
        age_band = age_bands_from_years(years)
        age_band.index = frame.index
    if "dob" in frame:
        born = _parse_when(col("dob"), dayfirst)
        born_day = np.where(born.ok & (born.precision != "month"),
                            pd.DatetimeIndex(born.utc).tz_localize("UTC").tz_convert(TIMEZONE)
                            .tz_localize(None).to_numpy(), np.datetime64("NaT"))
        years = _age_years(born_day.astype("datetime64[D]"),
                           arrival_day.astype("datetime64[D]"))
        from_dob = age_bands_from_years(years)
        from_dob.index = frame.index
        age_band = age_band.fillna(from_dob)
    if "age_band" in frame:
        given_band, bad_band = age_bands_from_text(col("age_band"))
        given_band.index = frame.index
        age_band = age_band.fillna(given_band)
        if bad_band.any():
            notes.append(f"{int(bad_band.sum()):,} age band(s) not understood were left blank.")
    call_category = call_categories(col("call_category")) if "call_category" in frame else \
        pd.Series(pd.NA, index=frame.index, dtype="string")

    domestic = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    domestic[relationship.isin(["Partner or ex-partner", "Family member"]).to_numpy()] = True
    domestic[relationship.isin(["Stranger", "Acquaintance"]).to_numpy()] = False
    location = col("location").str.strip().str.slice(0, 200).replace("", pd.NA)
    # At a home the location text would be an address: by the location type when one says so,
    # and by the text itself (an ambulance file often has no location type, an ED row may
    # leave it blank)
    at_home = (loc_type == "Home").fillna(False).to_numpy(dtype=bool) | home_text(
        col("location"))
    # counted among the rows kept: a rejected row is not stored anyway
    dropped_home = int((at_home & location.notna().to_numpy() & (reasons == "")).sum())
    if dropped_home:
        location = location.mask(at_home, pd.NA)
        notes.append(f"The location text of {dropped_home:,} assault(s) at a home was not "
                     "stored (it would be an address: the location type says Home, or the "
                     "text names a home or starts like a street address); their place and "
                     "location type are.")

    if "id" in frame:
        raw_ids = col("id").str.strip()
        ids = _hash_ids(raw_ids, kind)
        no_id = (raw_ids == "").to_numpy(dtype=bool)
    else:
        ids = pd.Series("", index=frame.index, dtype="string")
        no_id = np.ones(n, dtype=bool)
    if no_id.any():
        from geo.schema import content_ids

        key = pd.DataFrame({k: frame[k] for k in frame.columns if k not in ("dob", "id")})
        ids[no_id] = content_ids(key.loc[no_id], kind).to_numpy()

    good = reasons == ""
    keep = np.flatnonzero(good)
    rows = pd.DataFrame({
        "line": lines[keep],
        "incident_id": ids.iloc[keep].reset_index(drop=True),
        "occurred_at": pd.Series(occurred[keep].as_unit("us")),
        "month": pd.array(parsed.month[keep], dtype="string"),
        "time_precision": pd.array(parsed.precision[keep], dtype="string"),
        "lon": lon[keep], "lat": lat[keep], "easting": east[keep], "northing": north[keep],
        "category": pd.array([mapping.category if mapping else "Violence with injury"]
                             * len(keep), dtype="string"),
        "source": pd.array([kind] * len(keep), dtype="string"),
        "domestic": domestic.iloc[keep].reset_index(drop=True),
        "location": location.iloc[keep].reset_index(drop=True).astype("string"),
        "lsoa_name": pd.array([pd.NA] * len(keep), dtype="string"),
        "location_precision": pd.array(precision[keep], dtype="string"),
        "assault_at": assault_at.iloc[keep].reset_index(drop=True),
        "location_type": loc_type.iloc[keep].reset_index(drop=True),
        "weapon": weapon.iloc[keep].reset_index(drop=True),
        "assailants": assailants.iloc[keep].reset_index(drop=True),
        "relationship": relationship.iloc[keep].reset_index(drop=True),
        "age_band": age_band.iloc[keep].reset_index(drop=True),
        "sex": sex.iloc[keep].reset_index(drop=True),
        "call_category": call_category.iloc[keep].reset_index(drop=True),
    })[[*RAW_COLUMNS, *HEALTH_COLUMNS]]
    bad_rows = np.flatnonzero(~good)
    rejects = make_rejects(lines[bad_rows], list(reasons[bad_rows]),
                           _safe_raw(frame, cols, bad_rows, at_home))
    dropped = cols.dropped()
    for why, names in dropped.items():
        notes.append(f"Columns dropped, {why}: {', '.join(names)}.")
    if has_point.any() or (precision != None).any():  # noqa: E711
        placed_by = Counter(p for p in precision[keep] if p)
        notes.append("Placed by " + ", ".join(
            f"{label}: {placed_by.get(p, 0):,}" for p, label in (
                ("point", "coordinates"), ("postcode", "postcode centroid"),
                ("lsoa", "LSOA population-weighted centroid"))) + ".")
    result = ReadResult(rows=rows, rejects=rejects, lines_read=n, notes=notes)
    result.dropped = dropped  # type: ignore[attr-defined]
    return result


def _age_years(born: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Whole years between two day arrays (NaN where either is missing or born is later)."""
    ok = ~np.isnat(born) & ~np.isnat(on)
    out = np.full(len(born), np.nan)
    if ok.any():
        b = pd.DatetimeIndex(born[ok])
        o = pd.DatetimeIndex(on[ok])
        years = o.year - b.year - ((o.month < b.month) | ((o.month == b.month) & (o.day < b.day)))
        years = np.asarray(years, dtype="float64")
        years[years < 0] = np.nan
        out[ok] = years
    return out


def _ragged_reason(found: int, width: int) -> str:
    """Say why a row whose field count differs from the header's is rejected."""
    why = ("a comma inside an unquoted field?" if found > width
           else "a row cut short, or a line break inside an unquoted field?")
    word = "field" if found == 1 else "fields"
    return f"the row has {found} {word} where the header has {width} ({why})"


def _safe_raw(frame: pd.DataFrame, cols: Columns, rows: np.ndarray,
              at_home: np.ndarray) -> list[str]:
    """Return a rejected row as text with its allowed fields only.

    Never a date of birth, nor the source's own record reference (the line number finds the
    row in the file), nor an ambulance call's nature as written (free text that may name
    anyone: only the weapon it names is kept), nor the location text of an assault at a
    home. A row whose values were not read (its field count differs from the header's) is
    all blank in ``frame``, so it keeps nothing.
    """
    keys = [k for k in cols.used if k not in ("dob", "id", "nature")]
    out = []
    for r in rows:
        parts = [f"{cols.names[k]}={frame.at[r, k]}" for k in keys if frame.at[r, k] != ""
                 and not (k == "location" and at_home[r])]
        out.append("; ".join(parts)[:500])
    return out
