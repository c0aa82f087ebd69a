"""Premises (venues) and taxi ranks: read from a CSV, keep in a data directory.

Two kinds of file are understood by :func:`read_venues`:

* a simple CSV with a name, an optional type (``bar``, ``nightclub``, ``taxi rank``...) and
  coordinates as ``lat``/``lon`` (or ``latitude``/``longitude``) or British National Grid
  ``easting``/``northing`` in metres; column names are matched ignoring case;
* a council **premises-licence register** in the Local Government Association open-data layout
  (``PREMISESNAME``, ``LOCATIONTEXT``, ``POSTCODE``, ``OPENINGHOURS``, ``LATENIGHTREFRESHMENT``,
  ``ALCOHOLSUPPLY``, ``ENTERTAINMENTTYPELABEL``, ``latitude``, ``longitude``...), as Manchester
  City Council publishes it. ``NA`` means missing there, and many rows have a postcode but no
  coordinates.

Every data row becomes a venue or a reject with its line number and a reason a licensing or
police analyst can act on: ``len(venues) + len(rejects)`` is the number of data rows. A row
with a postcode but no coordinates is placed at the postcode's grid reference when a postcode
directory has been imported (:mod:`geo.postcodes`, ``hotspot postcodes import FILE``; the
venue's ``placed_by`` says ``"postcode centroid"``), and rejected with the reason otherwise.

Venues are kept as one Parquet file per kind (``venues``, ``taxi_ranks``) in a data
directory's ``venues/`` folder, written atomically.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.atomic import write_bytes_atomic
from geo.postcodes import PostcodeLookup
from geo.projection import to_bng, to_wgs84
from geo.schema import ReadError, make_rejects
from geo.settings import limits
from geo.uploads import read_upload_bytes, row_limit_message, text_lines

__all__ = [
    "KINDS",
    "PLACED_BY_COORDINATES",
    "PLACED_BY_POSTCODE",
    "UK_LAT",
    "UK_LON",
    "VENUE_COLUMNS",
    "load_venues",
    "read_venues",
    "save_venues",
]

#: Columns of the table :func:`read_venues` returns, in order. ``postcode``, ``opening_hours``,
#: ``address`` and ``details`` are NA when the file does not give them; ``details`` holds a
#: register's licensable activities in words. ``placed_by`` says where the point came from:
#: :data:`PLACED_BY_COORDINATES` or :data:`PLACED_BY_POSTCODE`.
VENUE_COLUMNS = (
    "line",
    "name",
    "type",
    "lat",
    "lon",
    "easting",
    "northing",
    "postcode",
    "opening_hours",
    "address",
    "details",
    "placed_by",
)
#: The row's own latitude/longitude or easting/northing.
PLACED_BY_COORDINATES = "coordinates"
#: The grid reference of the row's postcode in the imported postcode directory: the middle of
#: the postcode's addresses, typically within 100 m of the premises in a town centre.
PLACED_BY_POSTCODE = "postcode centroid"
#: What :func:`save_venues` can keep, one file each.
KINDS = ("venues", "taxi_ranks")
#: The UK with Northern Ireland, Scilly and Shetland (WGS84 degrees); a point outside is a
#: geocoding mistake, not a venue this tool can map.
UK_LAT = (49.8, 60.9)
UK_LON = (-8.7, 1.8)

#: Text that means "no value" in council open data (``NA`` in R exports) and spreadsheets.
_MISSING = frozenset({"", "na", "n/a", "null", "none", "nan", "-"})

_NAME_COLS = ("name", "premisesname", "premises name", "premises_name", "venue", "venue name",
              "venue_name", "rank name", "rank_name", "site name", "site_name")
_TYPE_COLS = ("type", "venue type", "venue_type", "premises type", "premises_type", "category",
              "kind")
_LAT_COLS = ("lat", "latitude")
_LON_COLS = ("lon", "lng", "long", "longitude")
_EAST_COLS = ("easting", "eastings", "bng_e", "x_bng")
_NORTH_COLS = ("northing", "northings", "bng_n", "y_bng")
_POSTCODE_COLS = ("postcode", "post code", "post_code")
_HOURS_COLS = ("opening_hours", "openinghours", "opening hours", "hours")
_ADDRESS_COLS = ("address", "locationtext", "location", "addr")

#: A column getter: position in the header (None = absent) -> text with NA for missing values.
_Getter = Callable[[int | None], pd.Series]

#: A decimal number as a coordinate is written: 53.4747, -2.2452, 383820, 1.5e5.
_NUMBER = r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"

_ZIP_MAGIC = b"PK\x03\x04"
_SQLITE_MAGIC = b"SQLite format 3\x00"


# --------------------------------------------------------------------------------------------
# Reading


def read_venues(
    path: str | Path,
    *,
    kind_default: str = "venue",
    name_col: str | None = None,
    type_col: str | None = None,
    lat_col: str | None = None,
    lon_col: str | None = None,
    source_name: str | None = None,
    postcodes: PostcodeLookup | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Read venues or taxi ranks from a CSV (optionally gzipped).

    The file's size (decompressed) and number of rows are bounded by
    :func:`geo.settings.limits`; the reader's time and memory grow in proportion to the file.

    Parameters
    ----------
    path : str or Path
        The CSV: a simple list (name, type, coordinates) or a premises-licence register.
    kind_default : str
        Type given to rows with no type (and to every row when there is no type column),
        e.g. ``"taxi rank"`` for a file of ranks.
    name_col, type_col, lat_col, lon_col : str, optional
        Column names to use instead of the ones found automatically (matched ignoring case).
        ``lat_col`` and ``lon_col`` go together.
    source_name : str, optional
        How to name the file in messages (an upload's original name); default: ``path``.
    postcodes : geo.postcodes.PostcodeLookup, optional
        The imported postcode directory (``PostcodeLookup.load(data)``). Rows with a postcode
        but no coordinates are placed at the postcode's grid reference (``placed_by`` is
        ``"postcode centroid"``); without it they are rejected, saying how to import one. A
        file with a postcode column then needs no coordinate columns at all.

    Returns
    -------
    venues : pandas.DataFrame
        Columns :data:`VENUE_COLUMNS`: ``line`` (1-based line in the file, header = 1),
        ``name``, ``type``, ``lat``/``lon`` (WGS84), ``easting``/``northing`` (British
        National Grid, metres), ``postcode``, ``opening_hours``, ``address``, ``details``,
        ``placed_by``. ``venues.attrs["notes"]`` lists what the reader noticed (e.g. the text
        encoding, how many were placed by postcode), ``venues.attrs["layout"]`` is
        ``"register"`` or ``"simple"`` and ``venues.attrs["placed_by_postcode"]`` counts the
        venues placed at their postcode's centroid.
    rejects : pandas.DataFrame
        Columns ``line``, ``reason`` and ``raw`` (the row's text), one per row not placed.

    Raises
    ------
    geo.schema.ReadError
        If the file is missing, empty or not a CSV, larger than the upload limits (the message
        names the limit and its setting), has no name column or no coordinate columns (the
        message lists the columns it has), or a named column is absent.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "venues.csv"
    >>> _ = p.write_text("Name,Type,Lat,Lon\nRain Bar,bar,53.4747,-2.2452\n"
    ...                  "Lost,bar,,\nAbroad,club,48.85,2.35\n")
    >>> venues, rejects = read_venues(p)
    >>> venues[["line", "name", "type"]].values.tolist()
    [[2, 'Rain Bar', 'bar']]
    >>> round(float(venues["easting"].iloc[0]), -1)
    383820.0
    >>> rejects["line"].tolist()
    [3, 4]
    >>> print(rejects["reason"].iloc[0])
    no coordinates (Lat and Lon are blank); add latitude/longitude to place it
    """
    path = Path(path)
    label = source_name or str(path)
    data, encoding, notes = _decode(path, label)
    header, rows = _records(label, data, encoding)
    cols = _Columns.find(label, header, name_col, type_col, lat_col, lon_col,
                         postcodes is not None)
    table = _Table.collect(rows, cols.positions(), label)
    n_cols = len(header)
    n = table.n
    lines = table.lines

    def column(i: int | None) -> pd.Series:
        if i is None:
            return pd.Series(pd.NA, index=range(n), dtype="string")
        s = table.column(i)
        return s.mask(s.str.lower().isin(_MISSING))

    reasons = np.full(n, "", dtype=object)
    wrong = np.flatnonzero(table.widths != n_cols)
    said = _Said()

    def wrong_width(got: int) -> str:
        return (f"the row has {got} values but the header has {n_cols} columns (a comma "
                "inside an unquoted name or address?), so its columns cannot be trusted")

    for k, got in zip(wrong.tolist(), table.widths[wrong].tolist(), strict=True):
        reasons[k] = said(wrong_width, got)

    name = column(cols.name)
    postcode = _tidy_postcodes(column(cols.postcode))
    lat, lon, easting, northing, by_postcode = _place(column, cols, postcode, reasons, said,
                                                      postcodes)
    placed = reasons == ""
    if by_postcode.any():
        notes.append(f"{int(by_postcode.sum()):,} rows had no coordinates and were placed at "
                     f"their postcode's centroid from the imported postcode directory "
                     f"({postcodes.source if postcodes is not None else ''}); placed_by says "
                     "which.")

    if cols.register:
        kind, details = _register_types(column, cols)
    else:
        kind = column(cols.type).fillna(kind_default)
        details = pd.Series(pd.NA, index=range(n), dtype="string")
    kind = kind.fillna(kind_default)

    venues = pd.DataFrame(
        {
            "line": lines,
            "name": name.fillna("(no name given)"),
            "type": kind,
            "lat": lat,
            "lon": lon,
            "easting": easting,
            "northing": northing,
            "postcode": postcode,
            "opening_hours": column(cols.hours),
            "address": column(cols.address),
            "details": details,
            "placed_by": pd.Series(np.where(by_postcode, PLACED_BY_POSTCODE,
                                            PLACED_BY_COORDINATES), dtype="string"),
        }
    )
    venues = venues.loc[placed].reset_index(drop=True)
    bad = np.flatnonzero(~placed)
    # Only rejected rows need their full text: read it in a second pass rather than keeping
    # every field of every row.
    raw = _raw_rows(_records(label, data, encoding)[1], bad)
    rejects = make_rejects(lines[bad], [str(r) for r in reasons[bad]], raw)
    venues.attrs["notes"] = notes
    venues.attrs["layout"] = "register" if cols.register else "simple"
    venues.attrs["placed_by_postcode"] = int((by_postcode & placed).sum())
    return venues, rejects


def _tidy_postcodes(text: pd.Series) -> pd.Series:
    """Upper-case postcodes with one space before the inward code.

    Registers exported from fixed-width systems pad the outward code (``"M1   3LY"``), so
    the same postcode would otherwise be spelled several ways.
    """
    packed = text.str.upper().str.replace(r"\s+", "", regex=True)
    shaped = packed.str.fullmatch(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]{2}").fillna(False)
    spaced = packed.str.slice(0, -3) + " " + packed.str.slice(-3)
    return spaced.where(shaped, text.str.upper().str.replace(r"\s+", " ", regex=True))


def _decode(path: Path, label: str) -> tuple[bytes, str, list[str]]:
    """Return the file's bytes and their encoding: UTF-8 if they are, else Windows-1252.

    A gzipped file is decompressed as a stream, refused once it passes the upload size limit.
    The text itself is decoded a block at a time as it is parsed (:func:`text_lines`).
    """
    data = read_upload_bytes(path, label)
    if not data.strip():
        raise ReadError(f"{label}: the file is empty.")
    if data.startswith(_ZIP_MAGIC):
        raise ReadError(
            f"{label}: this is an Excel workbook or a zip archive, not a CSV. In Excel use "
            "Save As > 'CSV UTF-8 (Comma delimited)'."
        )
    if data.startswith(_SQLITE_MAGIC) or b"\x00" in data[:4096]:
        raise ReadError(f"{label}: this is not a text CSV file (it holds binary data).")
    if data.isascii():
        return data, "utf-8", []
    try:
        data.decode("utf-8-sig")  # only to check it is UTF-8
        return data, "utf-8-sig", []
    except UnicodeDecodeError as exc:
        first_bad = exc.start
    try:
        data.decode("cp1252")
        used, encoding = "Windows-1252", "cp1252"
    except UnicodeDecodeError:
        # Five byte values are undefined in Windows-1252; Latin-1 decodes anything.
        used, encoding = "Latin-1", "latin-1"
    line = data[:first_bad].count(b"\n") + 1
    note = (
        f"The file is not UTF-8 (first at line {line}); it was read as {used}, the usual "
        "encoding of files saved from Excel on Windows. Check names with accents or '£'."
    )
    return data, encoding, [note]


def _records(
    label: str, data: bytes, encoding: str
) -> tuple[list[str], Iterator[tuple[int, list[str]]]]:
    """Split CSV data into a header and, lazily, (first line number, fields) per data row.

    Rows are produced one at a time so a caller keeps only the columns it needs.
    """
    reader = csv.reader(text_lines(data, encoding, label))

    def csv_error(exc: csv.Error) -> ReadError:
        return ReadError(f"{label}: could not be read as CSV near line {reader.line_num} ({exc}).")

    try:
        header = next(reader, None)
        while header is not None and not any(h.strip() for h in header):
            header = next(reader, None)
    except csv.Error as exc:
        raise csv_error(exc) from None
    if header is None:
        raise ReadError(f"{label}: the file holds no header line.")

    def rows() -> Iterator[tuple[int, list[str]]]:
        end = reader.line_num
        try:
            for fields in reader:
                start, end = end + 1, reader.line_num
                # The first field usually settles it; a blank line is not a data row.
                if not (fields and fields[0].strip()) and not any(f.strip() for f in fields):
                    continue
                yield start, fields
        except csv.Error as exc:
            raise csv_error(exc) from None

    return [h.strip() for h in header], rows()


class _Table:
    """The columns :func:`read_venues` uses, as compact Arrow strings, with line numbers.

    Rows are gathered in blocks and each block's text moved into Arrow arrays, so a large
    file costs about its own size in memory rather than a Python string per cell.
    """

    _BLOCK = 65_536

    def __init__(self, positions: list[int]) -> None:
        self.positions = positions
        self.chunks: dict[int, list[pa.Array]] = {p: [] for p in positions}
        self.lines = np.zeros(0, dtype="int64")
        self.widths = np.zeros(0, dtype="int64")

    @property
    def n(self) -> int:
        return len(self.lines)

    @classmethod
    def collect(
        cls, rows: Iterator[tuple[int, list[str]]], positions: list[int], label: str
    ) -> _Table:
        table = cls(positions)
        cap = limits().upload_rows
        cells: dict[int, list[str]] = {p: [] for p in positions}
        line_parts: list[np.ndarray] = []
        width_parts: list[np.ndarray] = []
        block_lines: list[int] = []
        block_widths: list[int] = []

        def flush() -> None:
            line_parts.append(np.asarray(block_lines, dtype="int64"))
            width_parts.append(np.asarray(block_widths, dtype="int64"))
            block_lines.clear()
            block_widths.clear()
            for p in positions:
                table.chunks[p].append(pa.array(cells[p], type=pa.string()))
                cells[p].clear()

        for count, (line, fields) in enumerate(rows, start=1):
            if count > cap:
                raise ReadError(row_limit_message(label, cap))
            width = len(fields)
            block_lines.append(line)
            block_widths.append(width)
            for p in positions:
                cells[p].append(fields[p].strip() if p < width else "")
            if len(block_lines) == cls._BLOCK:
                flush()
        flush()
        table.lines = np.concatenate(line_parts)
        table.widths = np.concatenate(width_parts)
        return table

    def column(self, position: int) -> pd.Series:
        """Return one column's text (stripped; "" where a short row has no such field)."""
        values = pa.chunked_array(self.chunks[position], type=pa.string())
        return pd.Series(pd.array(values, dtype="string"), index=range(self.n))


def _raw_rows(rows: Iterator[tuple[int, list[str]]], wanted: np.ndarray) -> list[str]:
    """Return the text of the data rows at positions ``wanted`` (ascending), joined by commas."""
    out: list[str] = []
    if len(wanted) == 0:
        return out
    targets = wanted.tolist()
    j = 0
    for i, (_, fields) in enumerate(rows):
        if i == targets[j]:
            out.append(",".join(fields))
            j += 1
            if j == len(targets):
                break
    return out


class _Columns:
    """Positions of the columns :func:`read_venues` uses (None where absent)."""

    def __init__(self) -> None:
        self.register = False
        self.name: int | None = None
        self.type: int | None = None
        self.lat: int | None = None
        self.lon: int | None = None
        self.east: int | None = None
        self.north: int | None = None
        self.postcode: int | None = None
        self.hours: int | None = None
        self.address: int | None = None
        self.alcohol: int | None = None
        self.late: int | None = None
        self.entertainment: int | None = None
        self.labels: dict[str, str] = {}

    @classmethod
    def find(
        cls,
        label: str,
        header: list[str],
        name_col: str | None,
        type_col: str | None,
        lat_col: str | None,
        lon_col: str | None,
        postcode_lookup: bool = False,
    ) -> _Columns:
        lower = [h.lower() for h in header]
        listed = ", ".join(repr(h) for h in header)

        def auto(names: tuple[str, ...]) -> int | None:
            for wanted in names:
                if wanted in lower:
                    return lower.index(wanted)
            return None

        def given(col: str | None, what: str) -> int | None:
            if col is None:
                return None
            if col in header:
                return header.index(col)
            if col.lower() in lower:
                return lower.index(col.lower())
            raise ReadError(f"{label}: there is no {what} column '{col}'. Columns found: {listed}.")

        if (lat_col is None) != (lon_col is None):
            raise ReadError(
                f"{label}: give both a latitude and a longitude column, or neither "
                "(they are then found by name)."
            )
        c = cls()
        c.register = "premisesname" in lower and "latitude" in lower and "longitude" in lower
        c.name = given(name_col, "name") if name_col else auto(_NAME_COLS)
        if c.name is None:
            raise ReadError(
                f"{label}: no column holds the venue name (looked for 'name', 'premises name', "
                f"'venue'...). Columns found: {listed}. Name the column 'name' or choose it."
            )
        c.type = given(type_col, "type") if type_col else auto(_TYPE_COLS)
        c.lat = given(lat_col, "latitude") if lat_col else auto(_LAT_COLS)
        c.lon = given(lon_col, "longitude") if lon_col else auto(_LON_COLS)
        if (c.lat is None) != (c.lon is None):
            c.lat = c.lon = None
        c.east, c.north = auto(_EAST_COLS), auto(_NORTH_COLS)
        if (c.east is None) != (c.north is None):
            c.east = c.north = None
        c.postcode = auto(_POSTCODE_COLS)
        if c.lat is None and c.east is None and not (postcode_lookup and c.postcode is not None):
            hint = (" (or a postcode column, once a postcode directory is imported with "
                    "'hotspot postcodes import FILE')" if c.postcode is None or not
                    postcode_lookup else "")
            raise ReadError(
                f"{label}: no coordinate columns: a venue needs 'latitude' and 'longitude' (or "
                f"'lat'/'lon'), or British National Grid 'easting' and 'northing' in metres"
                f"{hint}. Columns found: {listed}."
            )
        c.hours = auto(_HOURS_COLS)
        c.address = auto(_ADDRESS_COLS)
        if c.register:
            c.address = auto(("locationtext", "addr"))
            c.alcohol = auto(("alcoholsupply",))
            c.late = auto(("latenightrefreshment",))
            c.entertainment = auto(("entertainmenttypelabel",))
        for attr in ("lat", "lon", "east", "north"):
            pos = getattr(c, attr)
            if pos is not None:
                c.labels[attr] = header[pos]
        return c

    def positions(self) -> list[int]:
        """Header positions of every column used, each once."""
        used = (self.name, self.type, self.lat, self.lon, self.east, self.north, self.postcode,
                self.hours, self.address, self.alcohol, self.late, self.entertainment)
        return sorted({p for p in used if p is not None})


def _place(
    column: _Getter,
    cols: _Columns,
    postcode: pd.Series,
    reasons: np.ndarray,
    said: _Said,
    lookup: PostcodeLookup | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Parse coordinates, write a reason for every row that cannot be placed, return them.

    Rows with no coordinates are placed by their postcode when ``lookup`` is given; the last
    array returned marks them.

    Every test is a whole-column array operation; only rows that fail one are visited one by
    one, to word their reason (once per distinct problem, see :class:`_Said`).
    """
    n = len(reasons)
    lat = np.full(n, np.nan)
    lon = np.full(n, np.nan)
    east = np.full(n, np.nan)
    north = np.full(n, np.nan)
    open_ = reasons == ""
    blank_pair = (np.ones(n, dtype=bool), np.ones(n, dtype=bool))
    labels = cols.labels

    def parse(i: int | None) -> tuple[pd.Series, np.ndarray, np.ndarray]:
        text = column(i)
        return text, text.isna().to_numpy(), _numbers(text)

    if cols.lat is not None:
        lat_t, lat_blank, lat_v = parse(cols.lat)
        lon_t, lon_blank, lon_v = parse(cols.lon)
    else:
        lat_blank, lon_blank = blank_pair
    if cols.east is not None:
        e_t, e_blank, e_v = parse(cols.east)
        n_t, n_blank, n_v = parse(cols.north)
    else:
        e_blank, n_blank = blank_pair

    # Latitude/longitude are used where given; easting/northing fill the rows without them.
    use_ll = open_ & ~(lat_blank & lon_blank)
    use_en = open_ & ~use_ll & ~(e_blank & n_blank)
    no_coords = open_ & ~use_ll & ~use_en

    if use_ll.any():
        lat_name, lon_name = labels["lat"], labels["lon"]
        rest = use_ll.copy()
        one_blank = rest & (lat_blank | lon_blank)
        for k in np.flatnonzero(one_blank).tolist():
            reasons[k] = said(_one_blank, lat_name if lat_blank[k] else lon_name,
                              "latitude and longitude")
        rest &= ~one_blank
        with np.errstate(invalid="ignore"):
            not_numbers = rest & ~(np.isfinite(lat_v) & np.isfinite(lon_v))
            rest &= ~not_numbers
            zero = rest & (lat_v == 0) & (lon_v == 0)
            rest &= ~zero
            good = rest & _in_uk(lat_v, lon_v)
            rest &= ~good
            swapped = rest & _in_uk(lon_v, lat_v)
            rest &= ~swapped
            looks_bng = (rest & (lon_v >= 0) & (lon_v <= 700_000) & (lat_v >= 0)
                         & (lat_v <= 1_300_000) & (np.maximum(np.abs(lat_v), np.abs(lon_v)) > 180))
        idx = np.flatnonzero(not_numbers)
        for k, la, lo in zip(idx.tolist(), lat_t.iloc[idx].tolist(), lon_t.iloc[idx].tolist(),
                             strict=True):
            reasons[k] = said(_not_numbers, lat_name, la, lon_name, lo,
                              "decimal degrees such as 53.4747, -2.2452")
        reasons[zero] = ("coordinates are 0, 0: a placeholder for a missing location (a point "
                         "in the Atlantic off Africa), not a real place")
        for k in np.flatnonzero(swapped).tolist():
            reasons[k] = said(_swapped, lat_name, float(lat_v[k]), lon_name, float(lon_v[k]))
        for k in np.flatnonzero(rest).tolist():
            reasons[k] = said(_outside_lonlat, lat_name, float(lat_v[k]), lon_name,
                              float(lon_v[k]), bool(looks_bng[k]))
        lat[good], lon[good] = lat_v[good], lon_v[good]

    if use_en.any():
        e_name, n_name = labels["east"], labels["north"]
        rest = use_en.copy()
        one_blank = rest & (e_blank | n_blank)
        for k in np.flatnonzero(one_blank).tolist():
            reasons[k] = said(_one_blank, e_name if e_blank[k] else n_name,
                              "easting and northing")
        rest &= ~one_blank
        with np.errstate(invalid="ignore"):
            not_numbers = rest & ~(np.isfinite(e_v) & np.isfinite(n_v))
            rest &= ~not_numbers
            zero = rest & (e_v == 0) & (n_v == 0)
            rest &= ~zero
            good = rest & (e_v >= 0) & (e_v <= 700_000) & (n_v >= 0) & (n_v <= 1_300_000)
            rest &= ~good
        idx = np.flatnonzero(not_numbers)
        for k, et, nt in zip(idx.tolist(), e_t.iloc[idx].tolist(), n_t.iloc[idx].tolist(),
                             strict=True):
            reasons[k] = said(_not_numbers, e_name, et, n_name, nt,
                              "British National Grid metres such as 383820, 397770")
        reasons[zero] = ("coordinates are 0, 0: a placeholder for a missing location, not a "
                         "real place")
        for k in np.flatnonzero(rest).tolist():
            reasons[k] = said(_outside_grid, e_name, float(e_v[k]), n_name, float(n_v[k]))
        east[good], north[good] = e_v[good], n_v[good]

    idx = np.flatnonzero(no_coords)
    lonlat = "lat" in labels or "east" not in labels
    x_name = labels.get("lat") or labels.get("east") or "latitude"
    y_name = labels.get("lon") or labels.get("north") or "longitude"
    by_postcode = np.zeros(n, dtype=bool)
    if lookup is not None and len(idx):
        codes = postcode.iloc[idx].to_numpy(dtype=object, na_value=None)
        got = lookup.place(codes)
        ok = got.placed
        east[idx[ok]], north[idx[ok]] = got.easting[ok], got.northing[ok]
        by_postcode[idx[ok]] = True
        for k, why in zip(idx[~ok].tolist(), got.reason[~ok].tolist(), strict=True):
            reasons[k] = (said(_no_coordinates, x_name, y_name, lonlat, None)
                          if why == "no postcode" else
                          said(_postcode_not_placed, lonlat, str(why)))
    else:
        for k, code in zip(idx.tolist(), postcode.iloc[idx].tolist(), strict=True):
            reasons[k] = said(_no_coordinates, x_name, y_name, lonlat, code)

    from_ll = np.isfinite(lat)
    if from_ll.any():
        east[from_ll], north[from_ll] = to_bng(lon[from_ll], lat[from_ll])
    from_en = np.isfinite(east) & ~from_ll
    if from_en.any():
        lon[from_en], lat[from_en] = to_wgs84(east[from_en], north[from_en])
        outside = from_en & ~_in_uk(lat, lon)
        for k in np.flatnonzero(outside).tolist():
            reasons[k] = said(_point_outside, float(east[k]), float(north[k]))
        lat[outside] = lon[outside] = east[outside] = north[outside] = np.nan
        by_postcode[outside] = False
    return lat, lon, east, north, by_postcode


class _Said:
    """One reason string per distinct problem, shared by every row that has it.

    ``said(word, *args)`` returns ``word(*args)``, worded once per distinct ``args``: a file of
    half a million copies of one bad row then holds one reason, not half a million equal
    strings.
    """

    def __init__(self) -> None:
        self._said: dict[tuple[object, ...], str] = {}

    def __call__(self, word: Callable[..., str], *args: object) -> str:
        key = (word, *args)
        text = self._said.get(key)
        if text is None:
            text = self._said[key] = word(*args)
        return text


def _shown(text: object, limit: int = 40) -> str:
    """Return a cell's text for a reason, cut short: the row's own text is in ``raw``."""
    value = str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _numbers(text: pd.Series) -> np.ndarray:
    """Parse decimal numbers in Arrow, NaN where a cell is blank or not a number.

    ``pandas.to_numeric`` would first copy the column into one Python string per cell, about
    a hundred megabytes for a 20 MB file.
    """
    values = pa.array(text, type=pa.string())
    ok = pc.match_substring_regex(values, _NUMBER)
    numbers = pc.cast(pc.if_else(ok, values, pa.scalar(None, pa.string())), pa.float64())
    return np.asarray(numbers.to_numpy(zero_copy_only=False), dtype="float64")


def _in_uk(lat: np.ndarray | float, lon: np.ndarray | float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.asarray(
            (lat >= UK_LAT[0]) & (lat <= UK_LAT[1]) & (lon >= UK_LON[0]) & (lon <= UK_LON[1])
        )


def _one_blank(missing: str, both: str) -> str:
    return f"no coordinates ({missing} is blank); add both {both} to place it"


def _not_numbers(x_name: str, x_text: object, y_name: str, y_text: object, use: str) -> str:
    return (f"coordinates are not numbers ({x_name} '{_shown(x_text)}', {y_name} "
            f"'{_shown(y_text)}'); use {use}")


def _swapped(lat_name: str, lat: float, lon_name: str, lon: float) -> str:
    return (f"latitude and longitude look swapped ({lat_name} {lat:g}, {lon_name} {lon:g}); "
            "the venue is not placed until they are corrected")


def _outside_lonlat(lat_name: str, lat: float, lon_name: str, lon: float, bng: bool) -> str:
    hint = ("; these look like British National Grid metres, so name the columns "
            "easting/northing" if bng else "")
    return (f"coordinates outside the UK ({lat_name} {lat:g}, {lon_name} {lon:g}; the UK lies "
            f"within latitude {UK_LAT[0]}..{UK_LAT[1]} and longitude {UK_LON[0]}..{UK_LON[1]})"
            + hint)


def _outside_grid(e_name: str, e: float, n_name: str, n: float) -> str:
    return (f"coordinates outside the UK ({e_name} {e:g}, {n_name} {n:g}; British National "
            "Grid eastings run 0..700000 m and northings 0..1300000 m)")


def _point_outside(east: float, north: float) -> str:
    return (f"the point (easting {east:.0f}, northing {north:.0f}) lies outside the UK; check "
            "the coordinates")


def _no_coordinates(x_name: str, y_name: str, lonlat: bool, postcode: object) -> str:
    blank = f"{x_name} and {y_name} are blank"
    how = "latitude/longitude" if lonlat else "easting/northing"
    if isinstance(postcode, str) and postcode:
        return (
            f"no coordinates (postcode {postcode} given, but no postcode directory is imported: "
            f"'hotspot postcodes import FILE' adds one; or add {how} to place it)"
        )
    return f"no coordinates ({blank}); add {how} to place it"


def _postcode_not_placed(lonlat: bool, why: str) -> str:
    how = "latitude/longitude" if lonlat else "easting/northing"
    return f"no coordinates, and the postcode could not be placed ({why}); add {how} to place it"


def _register_types(column: _Getter, cols: _Columns) -> tuple[pd.Series, pd.Series]:
    """Type and activities of premises-licence register rows.

    The type names what a licence allows at night, most specific first: alcohol, late-night
    refreshment (hot food or drink 23:00-05:00) and regulated entertainment, e.g.
    ``"alcohol + late-night refreshment + entertainment"``; ``"premises licence"`` when the
    register says none of them.
    """
    def flag(i: int | None) -> np.ndarray:
        text = column(i).fillna("").str.strip().str.upper()
        return text.isin(["TRUE", "T", "YES", "Y", "1"]).to_numpy(dtype=bool)

    alcohol = flag(cols.alcohol)
    late = flag(cols.late)
    ent_text = column(cols.entertainment)
    ent = ent_text.notna().to_numpy(dtype=bool)
    parts = []
    for a, lnr, e in zip(alcohol, late, ent, strict=True):
        words = [w for w, on in (("alcohol", a), ("late-night refreshment", lnr),
                                 ("entertainment", e)) if on]
        parts.append(" + ".join(words) if words else "premises licence")
    kind = pd.Series(parts, dtype="string")
    ent_words = ent_text.str.replace("|", ", ", regex=False).str.lower()
    detail = []
    for a, lnr, e in zip(alcohol, late, ent_words, strict=True):
        items = []
        if a:
            items.append("sale or supply of alcohol")
        if lnr:
            items.append("late-night refreshment")
        if isinstance(e, str):
            items.append("entertainment: " + e)
        detail.append("; ".join(items) if items else pd.NA)
    return kind, pd.Series(detail, dtype="string")


# --------------------------------------------------------------------------------------------
# Storage


def _file(dest_dir: Path, kind: str) -> Path:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    return Path(dest_dir) / f"{kind}.parquet"


def _empty() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series([], dtype="string") for c in VENUE_COLUMNS})
    frame["line"] = frame["line"].astype("int64")
    for c in ("lat", "lon", "easting", "northing"):
        frame[c] = frame[c].astype("float64")
    frame["kind"] = pd.Series([], dtype="string")
    return frame


def save_venues(venues: pd.DataFrame, dest_dir: Path, kind: str) -> None:
    """Keep venues or taxi ranks in a data directory, replacing that kind's earlier list.

    Parameters
    ----------
    venues : pandas.DataFrame
        As :func:`read_venues` returns (``name``, ``lat`` and ``lon`` are required; other
        :data:`VENUE_COLUMNS` are filled in if absent, BNG computed from lon/lat).
    dest_dir : Path
        A data directory's ``venues/`` folder; created if missing.
    kind : {"venues", "taxi_ranks"}
        Which list this is; each kind is one file, ``<kind>.parquet``.

    Raises
    ------
    ValueError
        If ``kind`` is unknown or a required column is missing.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "venues"
    >>> ranks = pd.DataFrame({"name": ["Piccadilly"], "lat": [53.4808], "lon": [-2.2364]})
    >>> save_venues(ranks, d, "taxi_ranks")
    >>> load_venues(d)[["name", "type", "kind"]].values.tolist()
    [['Piccadilly', 'taxi rank', 'taxi_ranks']]
    """
    dest = _file(dest_dir, kind)
    missing = [c for c in ("name", "lat", "lon") if c not in venues.columns]
    if missing:
        raise ValueError(f"venues lack the column(s) {', '.join(missing)}")
    n = len(venues)
    table = pd.DataFrame(index=range(n))
    for c in VENUE_COLUMNS:
        if c in venues.columns:
            table[c] = venues[c].to_numpy()
        elif c == "line":
            table[c] = np.arange(1, n + 1, dtype="int64")
        elif c == "type":
            table[c] = "taxi rank" if kind == "taxi_ranks" else "venue"
        elif c in ("easting", "northing"):
            table[c] = np.nan
        elif c == "placed_by":
            table[c] = PLACED_BY_COORDINATES
        else:
            table[c] = pd.Series([pd.NA] * n, dtype="string")
    table = table.astype({"line": "int64", "lat": "float64", "lon": "float64",
                          "easting": "float64", "northing": "float64"})
    no_bng = ~np.isfinite(table["easting"].to_numpy())
    if no_bng.any():
        e, nn = to_bng(table["lon"].to_numpy()[no_bng], table["lat"].to_numpy()[no_bng])
        table.loc[no_bng, "easting"] = e
        table.loc[no_bng, "northing"] = nn
    for c in ("name", "type", "postcode", "opening_hours", "address", "details", "placed_by"):
        table[c] = table[c].astype("string")
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), buf)
    dest.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(dest, buf.getvalue())


def load_venues(dest_dir: Path, kind: str | None = None) -> pd.DataFrame:
    """Load the venues and/or taxi ranks kept in a data directory.

    Parameters
    ----------
    dest_dir : Path
        A data directory's ``venues/`` folder (missing means nothing saved yet).
    kind : {"venues", "taxi_ranks"}, optional
        Load one kind only; by default every kind, venues first.

    Returns
    -------
    pandas.DataFrame
        :data:`VENUE_COLUMNS` plus ``kind``; empty (with those columns) when nothing is saved.

    Raises
    ------
    geo.schema.ReadError
        If a saved file exists but cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> load_venues(Path(tempfile.mkdtemp())).columns.tolist()[-3:]
    ['details', 'placed_by', 'kind']
    """
    kinds = KINDS if kind is None else (kind,)
    parts = []
    for k in kinds:
        path = _file(dest_dir, k)
        if not path.is_file():
            continue
        try:
            frame = pq.read_table(path).to_pandas()
        except (OSError, pa.ArrowException) as exc:
            raise ReadError(
                f"{path}: the saved {k.replace('_', ' ')} could not be read ({exc}); import "
                "them again."
            ) from None
        if "placed_by" not in frame.columns:  # saved before venues could be placed by postcode
            frame["placed_by"] = pd.Series([PLACED_BY_COORDINATES] * len(frame),
                                           dtype="string")
        frame["kind"] = pd.Series([k] * len(frame), dtype="string")
        parts.append(frame)
    if not parts:
        return _empty()
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
