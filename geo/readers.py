"""Readers: turn one incident file into raw incidents plus rejected rows with reasons.

Four formats are understood (:func:`detect_format`): the police.uk street-level CSV, any other
CSV described by a column :class:`Mapping`, and GeoJSON / GeoPackage point layers. Every file may
be gzipped. A reader returns a :class:`geo.schema.ReadResult`: the rows that can become incidents
(:data:`geo.schema.RAW_COLUMNS`) and, for every other data row, its line number, a reason a police
analyst can act on and the row's text. No row is dropped silently:
``len(rows) + len(rejects) == lines_read``.

A file that cannot be read at all raises :class:`geo.schema.ReadError` with one message naming
the file and the problem.

Readers do not project, assign areas or de-duplicate: the ingest pipeline does that.

CSV files are parsed by ``pyarrow.csv`` in blocks with every column read as text and validated
column-wise, so a police.uk file of a million rows reads in about a second. Line numbers come
for free when every data row is one physical line; a file with blank lines, line breaks inside
quoted values or rows with the wrong number of fields is re-read with Python's ``csv`` module,
which is slower but knows where every row starts.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import re
import tomllib
import warnings
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from geo.schema import (
    OPTIONAL_RAW_COLUMNS,
    RAW_COLUMNS,
    ReadError,
    ReadResult,
    empty_raw,
    empty_rejects,
)
from geo.settings import CRS_STORAGE, TIMEZONE, limits

__all__ = [
    "FORMATS",
    "POLICE_UK_COLUMNS",
    "Mapping",
    "Progress",
    "detect_format",
    "load_mapping",
    "mapping_from_options",
    "read_file",
    "read_generic_csv",
    "read_points",
    "read_police_uk",
]

#: ``progress(done_bytes, total_bytes)``; bytes are of the file on disk (compressed if gzipped).
Progress = Callable[[int, int], None]

#: What :func:`detect_format` can return.
FORMATS = ("police_uk", "csv", "geojson", "gpkg")

#: The police.uk street-level crime header, exactly as published.
POLICE_UK_COLUMNS = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "LSOA name",
    "Crime type",
    "Last outcome category",
    "Context",
)
#: Columns a police.uk file must have; the rest are carried only into rejected rows' text.
_POLICE_REQUIRED = (
    "Crime ID",
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "Crime type",
)
#: What identifies an incident that has no Crime ID (every anti-social behaviour row).
_POLICE_ID_PARTS = (
    "Month",
    "Reported by",
    "Falls within",
    "Longitude",
    "Latitude",
    "Location",
    "LSOA code",
    "Crime type",
)

_SUPPORTED = (
    "Supported formats: the police.uk street-level crime CSV, any other CSV with a column "
    "mapping (a TOML file or command-line options), GeoJSON and GeoPackage point layers; "
    "each may be gzipped (.gz)."
)

#: Bytes per pyarrow block; 8 MiB is about 37,000 police.uk rows.
_BLOCK_BYTES = 8 << 20
#: Rows per chunk on the slow (Python csv) path.
_SLOW_CHUNK_ROWS = 200_000
#: Longest value (in UTF-8 bytes) a row may hold; a longer one rejects its row. No field of an
#: incident record comes near it: such a value is a free-text dump or a broken quote.
_MAX_FIELD_BYTES = 128 << 10
#: Longest value the slow path reads at all before it gives up on the file (broken quoting).
_MAX_READ_FIELD_CHARS = 64 << 20
_LONG_FIELD_REASON = (
    f"a value is longer than {_MAX_FIELD_BYTES >> 10} KiB, the most one field may hold "
    "(a quote mark never closed, or text pasted into the wrong column?)"
)
#: A NUL (zero) byte never occurs in text; one in a CSV means the file was damaged (a disk or
#: copy error, or binary data pasted in). The row is rejected rather than cleaned: its other
#: values may be damaged too, and a rejected row is visible where a cleaned one is not.
_NUL_REASON = ("a value holds a NUL byte (a zero byte, which text never contains): the file "
               "may be damaged")

_GZIP_MAGIC = b"\x1f\x8b"
_SQLITE_MAGIC = b"SQLite format 3\x00"


# --------------------------------------------------------------------------------------------
# Column mapping
# --------------------------------------------------------------------------------------------

_COLUMN_KEYS = (
    "id",
    "datetime",
    "date",
    "time",
    "lon",
    "lat",
    "easting",
    "northing",
    "category",
    "source",
    "domestic",
    "location",
)
_DEFAULT_KEYS = ("source", "category")
_DATETIME_KEYS = ("format", "dayfirst", "offset")
_OFFSET_CHOICES = ("convert", "ignore")


@dataclass
class Mapping:
    """Which column of a file holds which incident field, and how to read its timestamps.

    Column fields hold a column name in the file, or ``None`` when the file has no such column.
    It mirrors the TOML file read by :func:`load_mapping`: ``[columns]`` keys are the fields of
    the same name, ``[defaults]`` keys are ``default_*`` and ``[datetime]`` keys are
    ``datetime_format``, ``dayfirst`` and ``offset``.

    Parameters
    ----------
    id : str, optional
        Incident id column; rows without one get an id derived from their content.
    datetime : str, optional
        One column holding date and time. Give either this or ``date`` (plus optional ``time``).
    date, time : str, optional
        Date and time in two columns; ``time`` may be blank on a row (then the time is a day).
    lon, lat : str, optional
        WGS84 longitude and latitude columns.
    easting, northing : str, optional
        British National Grid columns in metres; give this pair or ``lon``/``lat``, not both.
        A point layer needs neither: its coordinates come from the geometry.
    category : str, optional
        Offence or incident category; required unless ``default_category`` is set.
    source : str, optional
        Column naming the source (police, ED, ambulance, ...).
    domestic : str, optional
        Domestic flag column: true/false, yes/no, y/n, 1/0; blank means unknown.
    location : str, optional
        Free-text location or address.
    default_source : str
        Source of every row when there is no ``source`` column (default ``"police"``).
    default_category : str, optional
        Category of every row when there is no ``category`` column.
    datetime_format : str
        ``"auto"`` (ISO 8601, UK ``dd/mm/yyyy [hh:mm[:ss]]``, ``yyyy-mm-dd``, ``yyyy-mm`` and
        ``01-Jun-2024 23:15``) or a ``strptime`` format such as ``"%d/%m/%Y %H:%M"``. With
        ``date`` + ``time`` columns the format describes ``"<date> <time>"``.
    dayfirst : bool
        For ``"auto"``: read ``03/04/2024`` as 3 April (UK, the default) or, if false, 4 March.
        The file is read one way only: values that fit only the other order are rejected.
    offset : {"convert", "ignore"}
        Timestamps carrying ``Z`` or a UTC offset: ``"convert"`` them to UK time, or
        ``"ignore"`` the offset and take the clock time as UK local time (for exports that
        stamp a ``Z`` on local times).

    Examples
    --------
    >>> m = Mapping(datetime="date_time", lon="longitude", lat="latitude", category="type")
    >>> m.coordinate_kind(), m.default_source
    ('lonlat', 'police')
    >>> Mapping(datetime="t", lon="x", category="c")
    Traceback (most recent call last):
    ...
    ValueError: coordinates: 'lon' is given without 'lat'; give both lon and lat, or both easting and northing
    """  # noqa: E501

    id: str | None = None
    datetime: str | None = None
    date: str | None = None
    time: str | None = None
    lon: str | None = None
    lat: str | None = None
    easting: str | None = None
    northing: str | None = None
    category: str | None = None
    source: str | None = None
    domestic: str | None = None
    location: str | None = None
    default_source: str = "police"
    default_category: str | None = None
    datetime_format: str = "auto"
    dayfirst: bool = True
    offset: str = "convert"

    def __post_init__(self) -> None:
        for key in _COLUMN_KEYS:
            value = getattr(self, key)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ValueError(f"column '{key}' must be a column name (text), got {value!r}")
        if self.datetime and (self.date or self.time):
            raise ValueError("give either 'datetime' or 'date' (+ 'time'), not both")
        if self.time and not self.date:
            raise ValueError("'time' needs a 'date' column too")
        if not (self.datetime or self.date):
            raise ValueError("no date column: give 'datetime', or 'date' (+ optional 'time')")
        for a, b in (("lon", "lat"), ("easting", "northing")):
            if bool(getattr(self, a)) != bool(getattr(self, b)):
                given, missing = (a, b) if getattr(self, a) else (b, a)
                raise ValueError(
                    f"coordinates: '{given}' is given without '{missing}'; give both lon and "
                    "lat, or both easting and northing"
                )
        if self.lon and self.easting:
            raise ValueError(
                "coordinates: give either lon + lat or easting + northing, not both pairs"
            )
        if not self.category and not (self.default_category or "").strip():
            raise ValueError(
                "no category: give a 'category' column or a default category ([defaults] category)"
            )
        if not isinstance(self.default_source, str) or not self.default_source.strip():
            raise ValueError("default source must be non-empty text")
        if not isinstance(self.datetime_format, str) or not (
            self.datetime_format == "auto" or "%" in self.datetime_format
        ):
            raise ValueError(
                f"datetime format {self.datetime_format!r} must be \"auto\" or a strptime format "
                "such as \"%d/%m/%Y %H:%M\""
            )
        if not isinstance(self.dayfirst, bool):
            raise ValueError(f"dayfirst must be true or false, got {self.dayfirst!r}")
        if self.offset not in _OFFSET_CHOICES:
            raise ValueError(f"offset must be \"convert\" or \"ignore\", got {self.offset!r}")

    def coordinate_kind(self) -> str | None:
        """Return ``"lonlat"``, ``"bng"`` or ``None`` (coordinates come from a geometry)."""
        if self.lon:
            return "lonlat"
        if self.easting:
            return "bng"
        return None

    def columns(self) -> dict[str, str]:
        """Return ``{field: column name}`` for every column the mapping names."""
        return {k: getattr(self, k) for k in _COLUMN_KEYS if getattr(self, k)}


def load_mapping(path: str | Path) -> Mapping:
    r"""Read a column mapping from a TOML file.

    Parameters
    ----------
    path : str or Path
        TOML file with ``[columns]``, optional ``[defaults]`` and ``[datetime]`` tables.

    Returns
    -------
    Mapping

    Raises
    ------
    geo.schema.ReadError
        If the file is missing or not TOML, has a key this version does not know (a typo),
        or describes an impossible mapping (e.g. ``lon`` without ``lat``).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.toml"
    >>> _ = p.write_text('[columns]\ndatetime = "when"\nlon = "x"\nlat = "y"\n'
    ...                  'category = "type"\n[datetime]\noffset = "ignore"\n')
    >>> m = load_mapping(p)
    >>> m.datetime, m.offset
    ('when', 'ignore')
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"Mapping file {path} was not found.")
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ReadError(f"Mapping file {path} is not valid TOML: {exc}") from None
    known = {"columns": _COLUMN_KEYS, "defaults": _DEFAULT_KEYS, "datetime": _DATETIME_KEYS}
    kwargs: dict[str, Any] = {}
    for table, body in doc.items():
        if table not in known:
            raise ReadError(
                f"Mapping file {path}: unknown section [{table}]; the sections are "
                "[columns], [defaults] and [datetime]."
            )
        if not isinstance(body, dict):
            raise ReadError(f"Mapping file {path}: '{table}' must be a [{table}] section.")
        for key, value in body.items():
            if key not in known[table]:
                raise ReadError(
                    f"Mapping file {path}: unknown key '{key}' in [{table}]; known keys are "
                    f"{', '.join(known[table])}."
                )
            if table == "columns":
                kwargs[key] = value
            elif table == "defaults":
                kwargs[f"default_{key}"] = value
            else:
                kwargs["datetime_format" if key == "format" else key] = value
    try:
        return Mapping(**kwargs)
    except ValueError as exc:
        raise ReadError(f"Mapping file {path}: {exc}.") from None


def mapping_from_options(**cli_options: Any) -> Mapping:
    """Build a mapping from command-line options; options whose value is ``None`` are unset.

    Option names are the :class:`Mapping` field names: the column keys (``id``, ``datetime``,
    ``date``, ``time``, ``lon``, ``lat``, ``easting``, ``northing``, ``category``, ``source``,
    ``domestic``, ``location``) and ``default_source``, ``default_category``,
    ``datetime_format``, ``dayfirst``, ``offset``.

    Raises
    ------
    geo.schema.ReadError
        For an unknown option name or an impossible mapping.

    Examples
    --------
    >>> m = mapping_from_options(datetime="when", easting="e", northing="n",
    ...                          default_category="Violence", id=None)
    >>> m.coordinate_kind(), m.category, m.default_category
    ('bng', None, 'Violence')
    """
    names = {f.name for f in fields(Mapping)}
    unknown = sorted(set(cli_options) - names)
    if unknown:
        raise ReadError(
            f"Unknown mapping option(s): {', '.join(unknown)}; known options are "
            f"{', '.join(f.name for f in fields(Mapping))}."
        )
    try:
        return Mapping(**{k: v for k, v in cli_options.items() if v is not None})
    except ValueError as exc:
        raise ReadError(f"Column mapping options: {exc}.") from None


# --------------------------------------------------------------------------------------------
# Opening files
# --------------------------------------------------------------------------------------------


def _check_file(path: Path) -> int:
    """Return the size of ``path`` or raise ReadError if it is missing or empty."""
    if not path.exists():
        raise ReadError(f"{path}: file not found.")
    if path.is_dir():
        raise ReadError(f"{path}: is a folder, not a file.")
    if not path.is_file():  # a device, a pipe or a socket: no end to read to
        raise ReadError(f"{path}: is not an ordinary file (a device or a pipe); give a file.")
    size = path.stat().st_size
    if size == 0:
        raise ReadError(f"{path}: the file is empty (0 bytes).")
    return size


def _is_gzip(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def _is_sqlite(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC


def _gzip_error(path: Path, exc: BaseException) -> ReadError:
    return ReadError(
        f"{path}: the gzip data is corrupt or cut short ({exc}). Download or copy the file "
        "again, or unzip it with another tool to check it."
    )


class _Counting:
    """A read-only byte stream that counts the newlines and keeps the tail of what it passes.

    pyarrow pulls blocks through it; the counts let the fast CSV path check afterwards that
    every data row was exactly one physical line (so line = row number + 1).
    """

    def __init__(self, inner: _Inflated) -> None:
        self.inner = inner
        self.newlines = 0
        self.nbytes = 0
        self.tail = b""
        self.closed = False

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.inner.read(size)
        if data:
            self.newlines += data.count(b"\n")
            self.nbytes += len(data)
            # Only the tail: concatenating whole 16 MiB blocks would copy every byte again.
            self.tail = (self.tail + data[-4096:])[-4096:]
        return data

    def close(self) -> None:
        self.closed = True

    def physical_records(self) -> int | None:
        """Non-blank physical lines, assuming blank lines occur only at the end."""
        if self.nbytes == 0:
            return 0
        lines = self.newlines + (0 if self.tail.endswith(b"\n") else 1)
        trimmed = self.tail.rstrip(b"\r\n")
        if not trimmed and self.nbytes > len(self.tail):
            return None  # more trailing newlines than the tail holds: count them the slow way
        trailing_blank = max(self.tail[len(trimmed):].count(b"\n") - 1, 0)
        return lines - trailing_blank


class _Inflated(io.BufferedIOBase):
    """The decompressed bytes of an input file, checked as they pass.

    Counts what it hands on and refuses a gzip file that unpacks to more than the ingest
    limit (a "zip bomb"), and remembers why reading failed (a gzip stream cut short, corrupt
    data). With ``quiet`` it reports a failure to its reader as the end of the data and keeps
    it in :attr:`failure` instead of raising: pyarrow reads on a background thread, and an
    exception raised there can leave its thread pool waiting at interpreter exit. Whoever
    reads quietly must call :meth:`check` afterwards.
    """

    def __init__(self, path: Path, raw: BinaryIO, gz: bool, quiet: bool = False) -> None:
        super().__init__()
        self.path = path
        self.gz = gz
        self.inner: BinaryIO = (
            gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
        )
        self.cap = limits().ingest_decompressed_bytes
        self.quiet = quiet
        self.nbytes = 0
        self.ended = False
        self.failure: ReadError | None = None
        #: Whether a NUL byte has passed (a cheap scan; rows are checked only if one has).
        self.saw_nul = False
        #: The last byte passed on (a complete text file ends with a line break).
        self.last_byte = b""

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.failure is not None:
            return self._fail(self.failure)
        try:
            data = self.inner.read(-1 if size is None else size)
        except (OSError, EOFError, zlib.error) as exc:
            return self._fail(_gzip_error(self.path, exc) if self.gz else ReadError(
                f"{self.path}: the file could not be read ({exc})."))
        if not data:
            if size != 0:
                self.ended = True
            return data
        self.nbytes += len(data)
        self.last_byte = data[-1:]
        if not self.saw_nul and b"\x00" in data:
            self.saw_nul = True
        if self.gz and self.nbytes > self.cap:
            return self._fail(ReadError(
                f"{self.path}: the file unpacks to more than {self.cap // (1 << 20):,} MB, the "
                "most 'hotspot ingest' will decompress (setting "
                "HOTSPOT_MAX_INGEST_DECOMPRESSED_MB). "
                "A real incident extract is far smaller, so the file is probably damaged or "
                "made to exhaust the machine ('zip bomb'). Nothing was stored."
            ))
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def _fail(self, failure: ReadError) -> bytes:
        self.failure = failure
        if self.quiet:
            return b""
        raise failure

    def check(self) -> None:
        """Raise the failure kept while reading quietly, if any."""
        if self.failure is not None:
            raise self.failure
        if not self.ended:
            raise ReadError(f"{self.path}: the file was not read to its end.")


class _Source:
    """An open input file: the raw handle (for progress) and the decompressed byte stream."""

    def __init__(self, path: Path, quiet: bool = False) -> None:
        self.path = path
        self.total = _check_file(path)
        self.raw = path.open("rb")
        self.gzip = self.raw.read(2) == _GZIP_MAGIC
        self.raw.seek(0)
        self.stream = _Inflated(path, self.raw, self.gzip, quiet=quiet)

    def close(self) -> None:
        self.stream.inner.close()
        self.raw.close()

    def __enter__(self) -> _Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def done(self) -> int:
        try:
            return min(self.raw.tell(), self.total)
        except (OSError, ValueError):
            return self.total


def _verify_stream(path: Path) -> None:
    """Read a whole (gzipped) file once to prove it is complete and within the limit.

    GDAL reads gzipped GeoJSON itself (``/vsigzip/``); checking first means a file cut short
    or a "zip bomb" is refused with a plain message before GDAL sees it.
    """
    with _Source(path) as src:
        while src.stream.read(1 << 20):
            pass
        src.stream.check()


def _utf8_error(path: Path) -> ReadError:
    """Locate the first byte that is not UTF-8 and explain it (the slow, error-only path)."""
    offset = 0
    line = 1
    carry = b""
    try:
        with _Source(path) as src:
            while True:
                chunk = src.stream.read(1 << 20)
                final = not chunk
                buf = carry + chunk
                try:
                    _, used = codecs.utf_8_decode(buf, "strict", final)
                except UnicodeDecodeError as exc:
                    bad = buf[exc.start]
                    line += buf[: exc.start].count(b"\n")
                    at = offset + exc.start
                    break
                line += buf[:used].count(b"\n")
                offset += used
                carry = buf[used:]
                if final:
                    return ReadError(f"{path}: the file is not valid UTF-8 text.")
    except ReadError as exc:
        return exc
    except (OSError, EOFError, zlib.error) as exc:
        return _gzip_error(path, exc)
    hint = ""
    if at < 2 and offset == 0 and buf[:2] in (b"\xff\xfe", b"\xfe\xff"):
        hint = " It looks like UTF-16 ('Unicode text')."
    elif bad >= 0x80:
        hint = " It looks like Windows-1252 / Latin-1 (e.g. a '£' or accented letter)."
    where = " (counted in the uncompressed text)" if _is_gzip(path) else ""
    return ReadError(
        f"{path}: the file is not UTF-8 text: byte 0x{bad:02X} at byte offset {at}{where} "
        f"(line {line}) is not valid UTF-8.{hint} Re-save the file as UTF-8 (in Excel: "
        "Save As > 'CSV UTF-8 (Comma delimited)')."
    )


def _head_text(path: Path) -> tuple[bytes, bool]:
    """Return up to 64 KiB of the decompressed start of ``path`` and whether it is gzipped."""
    _check_file(path)
    gz = _is_gzip(path)
    try:
        with _Source(path) as src:
            head = src.stream.read(1 << 16)
    except (OSError, EOFError, zlib.error) as exc:
        raise _gzip_error(path, exc) from None
    return head, gz


def _read_header(path: Path, head: bytes) -> list[str]:
    """Parse the CSV header line from the start of a file."""
    text = head.lstrip(b"\xef\xbb\xbf")
    if not text.strip():
        raise ReadError(f"{path}: the file is empty (it holds no text).")
    first = text.split(b"\n", 1)[0]
    try:
        line = first.decode("utf-8")
    except UnicodeDecodeError:
        raise _utf8_error(path) from None
    return next(csv.reader([line.rstrip("\r")]), [])


def detect_format(path: str | Path) -> str:
    r"""Say which kind of incident file ``path`` is.

    Parameters
    ----------
    path : str or Path
        The file; gzip compression is recognised by its magic bytes, whatever the name.

    Returns
    -------
    str
        ``"police_uk"`` (the exact police.uk street-level header), ``"csv"`` (any other CSV:
        a column mapping is needed), ``"geojson"`` or ``"gpkg"``.

    Raises
    ------
    geo.schema.ReadError
        If the file is missing, empty, corrupt, not UTF-8 or in no supported format.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "crimes.csv"
    >>> _ = p.write_text(",".join(POLICE_UK_COLUMNS) + "\n")
    >>> detect_format(p)
    'police_uk'
    >>> _ = p.write_text("when,x,y,type\n")
    >>> detect_format(p)
    'csv'
    """
    path = Path(path)
    head, _gz = _head_text(path)
    if head.startswith(_SQLITE_MAGIC):
        return "gpkg"
    if head.startswith(b"PK\x03\x04"):
        raise ReadError(
            f"{path}: this is a zip archive or an Excel workbook, not a supported file. Unzip "
            f"it, or save the sheet as 'CSV UTF-8'. {_SUPPORTED}"
        )
    stripped = head.lstrip(b"\xef\xbb\xbf").lstrip()
    if stripped.startswith(b"{"):
        return "geojson"
    if b"\x00" in head[:4096] and not head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ReadError(
            f"{path}: this is a binary file, not a format this tool reads. {_SUPPORTED}"
        )
    header = _read_header(path, head)
    if tuple(header) == POLICE_UK_COLUMNS:
        return "police_uk"
    if len(header) >= 2:
        return "csv"
    first = ",".join(header)
    for sep, name in ((";", "semicolons"), ("\t", "tabs")):
        if sep in first:
            raise ReadError(
                f"{path}: the header row is separated by {name}, not commas: {first[:120]!r}. "
                f"Save the file as a comma-separated CSV. {_SUPPORTED}"
            )
    raise ReadError(f"{path}: header row not recognised: {first[:120]!r}. {_SUPPORTED}")


# --------------------------------------------------------------------------------------------
# CSV batches
# --------------------------------------------------------------------------------------------


@dataclass
class _Batch:
    """A block of CSV rows as text columns (one per header column, in header order)."""

    table: pa.Table
    lines: np.ndarray  # 1-based physical line where each row starts
    bad_lines: np.ndarray  # rows with the wrong number of fields (slow path only)
    bad_reasons: list[str]
    bad_raw: list[str]
    maybe_nul: bool = True  # False only when no NUL byte has been read so far


def _internal_names(n: int) -> list[str]:
    # Positional names: the header may repeat names, leave them blank or carry a BOM.
    return [f"c{i}" for i in range(n)]


def _fast_batches(path: Path, ncols: int, progress: Progress | None) -> Iterator[_Batch]:
    """Stream blocks with pyarrow; raise _NeedsSlowPath if line numbers would be wrong."""
    names = _internal_names(ncols)
    invalid: list[object] = []

    def on_invalid(row: object) -> str:
        invalid.append(row)
        return "skip"

    read_opts = pcsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK_BYTES)
    parse_opts = pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid)
    convert_opts = pcsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=False
    )
    with _Source(path, quiet=True) as src:
        counter = _Counting(src.stream)
        start = 2
        reader = None
        while True:
            try:
                if reader is None:
                    reader = pcsv.open_csv(
                        counter, read_options=read_opts, parse_options=parse_opts,
                        convert_options=convert_opts,
                    )
                record_batch = reader.read_next_batch()
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                if src.stream.failure is not None:
                    raise src.stream.failure from None
                if "straddl" in str(exc):
                    # A value longer than a block (or a quote never closed): the slow path
                    # reads it whole and rejects that row alone.
                    raise _NeedsSlowPath from None
                raise
            n = record_batch.num_rows
            if src.stream.failure is not None:
                src.stream.check()
            if invalid:
                raise _NeedsSlowPath
            yield _Batch(
                pa.Table.from_batches([record_batch]),
                np.arange(start, start + n, dtype="int64"),
                np.empty(0, dtype="int64"), [], [], src.stream.saw_nul,
            )
            start += n
            if progress is not None:
                progress(src.done(), src.total)
        # The stream reports a cut-short or oversized file to pyarrow as the end of the data;
        # it must not pass for a complete file.
        src.stream.check()
        records = counter.physical_records()
        if invalid or records is None or records - 1 != start - 2:
            raise _NeedsSlowPath


def _csv_records(path: Path, reader: Any) -> Iterator[list[str]]:
    """Pass on csv records, explaining a value too long even to read."""
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            if "field limit" not in str(exc):
                raise
            raise ReadError(
                f"{path}: a value starting on or after line {reader.line_num} is longer than "
                f"{_MAX_READ_FIELD_CHARS // (1 << 20)} MB. This is almost always a quote mark (\") "
                "that is never closed, which turns the rest of the file into one value. Check "
                "the quotes on that line, or export the file again."
            ) from None
        yield record


class _NeedsSlowPath(Exception):
    """The file has blank lines, multi-line values or ragged rows: re-read with line tracking."""


def _slow_batches(path: Path, ncols: int, progress: Progress | None) -> Iterator[_Batch]:
    """Read with Python's csv module, which reports where every row starts."""
    names = _internal_names(ncols)
    # The csv module refuses the whole file at its first value over 128 KiB; read values up to
    # _MAX_READ_FIELD_CHARS so that an over-long one rejects its own row only. The limit is
    # process-wide, so it is only ever raised, never put back (another thread may be reading).
    if csv.field_size_limit() < _MAX_READ_FIELD_CHARS:
        csv.field_size_limit(_MAX_READ_FIELD_CHARS)
    with _Source(path) as src:
        # _Inflated is a BufferedIOBase, which typeshed does not count as a wrapped buffer
        text = io.TextIOWrapper(src.stream, encoding="utf-8-sig",  # type: ignore[type-var]
                                newline="")
        reader = csv.reader(text)
        prev_line = 0
        header_seen = False
        cols: list[list[str]] = [[] for _ in range(ncols)]
        lines: list[int] = []
        bad_lines: list[int] = []
        bad_reasons: list[str] = []
        bad_raw: list[str] = []

        def flush() -> _Batch:
            table = pa.table(
                {n: pa.array(c, type=pa.string()) for n, c in zip(names, cols, strict=True)}
            )
            batch = _Batch(table, np.asarray(lines, dtype="int64"),
                           np.asarray(bad_lines, dtype="int64"), list(bad_reasons), list(bad_raw),
                           src.stream.saw_nul)
            for c in cols:
                c.clear()
            lines.clear()
            bad_lines.clear()
            bad_reasons.clear()
            bad_raw.clear()
            return batch

        short_at_end: tuple[int, int] | None = None
        for record in _csv_records(path, reader):
            start, prev_line = prev_line + 1, reader.line_num
            if not record:
                continue  # a blank line is not a row
            if not header_seen:
                header_seen = True
                continue
            short_at_end = (start, len(record)) if len(record) < ncols else None
            if len(record) == ncols:
                for c, v in zip(cols, record, strict=True):
                    c.append(v)
                lines.append(start)
            else:
                bad_lines.append(start)
                fields_word = "field" if len(record) == 1 else "fields"
                reason = (f"row has {len(record)} {fields_word} but the header has {ncols} "
                          "(an unquoted comma, or a row cut short?)")
                longest = max((len(v.encode("utf-8")) for v in record), default=0)
                if longest > _MAX_FIELD_BYTES:
                    reason += "; " + _LONG_FIELD_REASON
                if any("\x00" in v for v in record):
                    reason += "; " + _NUL_REASON
                bad_reasons.append(reason)
                bad_raw.append(",".join(record))
            if len(lines) + len(bad_lines) >= _SLOW_CHUNK_ROWS:
                yield flush()
                if progress is not None:
                    progress(src.done(), src.total)
        if short_at_end and src.stream.last_byte not in (b"\n", b"\r"):
            # A file whose last row stops short with no line break was cut off (a copy or a
            # download that did not finish, or a gzip cut between its parts): the rows after
            # it are missing, which rejecting that one row would hide.
            line, found = short_at_end
            raise ReadError(
                f"{path}: the file ends part-way through a row (line {line} has {found} of "
                f"{ncols} fields and no line end), so it looks cut short and the rows after it "
                "are missing. Copy or download the file again; nothing was stored."
            )
        if lines or bad_lines:
            yield flush()


@dataclass
class _Collected:
    """What a CSV reader has gathered so far; cleared if the slow path has to start over."""

    parts: list[Any] = field(default_factory=list)
    rejects: list[pd.DataFrame] = field(default_factory=list)
    keys: list[pd.DataFrame] = field(default_factory=list)
    lines_read: int = 0
    offsets: int = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def start(self, batch: _Batch) -> int:
        """Count a batch's rows and reject its ragged ones; return its number of good rows."""
        n = batch.table.num_rows
        self.lines_read += n + len(batch.bad_lines)
        if len(batch.bad_lines):
            self.rejects.append(
                _rejects_frame(batch.bad_lines, batch.bad_reasons, batch.bad_raw)
            )
        return n

    def rows_so_far(self) -> int:
        return sum(len(p) for p in self.parts)


def _guarded(path: Path, batches: Iterator[_Batch]) -> Iterator[_Batch]:
    """Pass batches on, turning failures to read the file (not to process it) into ReadError."""
    while True:
        try:
            batch = next(batches)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise _utf8_error(path) from None
        except pa.ArrowInvalid as exc:
            if "UTF8" in str(exc) or "UTF-8" in str(exc):
                raise _utf8_error(path) from None
            raise ReadError(f"{path}: the CSV could not be parsed: {exc}") from None
        except (OSError, EOFError, zlib.error) as exc:
            raise _gzip_error(path, exc) from None
        except csv.Error as exc:
            raise ReadError(f"{path}: the CSV could not be parsed: {exc}") from None
        yield batch


def _read_csv(
    path: Path,
    ncols: int,
    progress: Progress | None,
    handle: Callable[[_Batch], None],
    reset: Callable[[], None],
) -> None:
    """Feed every batch of a CSV to ``handle``; on a fall back to the slow path, ``reset`` first.

    Batches are handled as they stream, so memory holds one block of text at a time and
    progress follows the real work.
    """
    try:
        for batch in _guarded(path, _fast_batches(path, ncols, progress)):
            handle(batch)
    except _NeedsSlowPath:
        reset()
        for batch in _guarded(path, _slow_batches(path, ncols, progress)):
            handle(batch)
    if progress is not None:
        size = path.stat().st_size
        progress(size, size)


def _resolve(path: Path, header: list[str], wanted: dict[str, str], what: str) -> dict[str, int]:
    """Map each wanted column name to its position in ``header`` (exact, then loose match)."""
    exact: dict[str, int] = {}
    for i, name in enumerate(header):
        exact.setdefault(name, i)
    loose: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        loose.setdefault(name.strip().casefold(), []).append(i)
    found: dict[str, int] = {}
    missing: list[str] = []
    for key, name in wanted.items():
        if name in exact:
            found[key] = exact[name]
        elif len(loose.get(name.strip().casefold(), [])) == 1:
            found[key] = loose[name.strip().casefold()][0]
        else:
            missing.append(name)
    if missing:
        listed = ", ".join(f"'{m}'" for m in dict.fromkeys(missing))
        raise ReadError(
            f"{path}: {what} {listed} "
            f"{'is' if len(missing) == 1 else 'are'} not in the file. "
            f"Columns found: {', '.join(repr(h) for h in header)}."
        )
    return found


# --------------------------------------------------------------------------------------------
# Column-wise validation helpers (pyarrow compute: no per-row Python)
# --------------------------------------------------------------------------------------------

_NUMBER_RE = r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"


def _is_blank(arr: pa.ChunkedArray) -> np.ndarray:
    # Two cheap kernels instead of trimming every value (which copies the column).
    return _np(pc.or_(pc.equal(arr, ""), pc.utf8_is_space(arr)))


def _trimmed(arr: pa.ChunkedArray) -> pa.ChunkedArray:
    """Strip surrounding whitespace (a copy, but cheaper than any test for whitespace)."""
    return pc.utf8_trim_whitespace(arr)


def _np(arr: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _to_float(arr: pa.ChunkedArray, blank: np.ndarray) -> np.ndarray:
    """Text to float64; NaN where the text is blank or not a plain decimal number."""
    try:
        # Fast path: every non-blank value is a clean number.
        source = arr if not blank.any() else pc.if_else(pa.array(blank), None, arr)
        return np.asarray(
            pc.cast(source, pa.float64()).to_numpy(zero_copy_only=False), dtype="float64"
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    ok = pc.match_substring_regex(arr, _NUMBER_RE)
    cleaned = pc.if_else(ok, pc.utf8_trim_whitespace(arr), pa.scalar(None, pa.string()))
    values = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype="float64")


class _Reasons:
    """Collects rejection reasons for a batch; a row may fail several checks."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.bad = np.zeros(n, dtype=bool)
        self.text = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, reason: str | np.ndarray) -> None:
        if not mask.any():
            return
        msg = reason[mask] if isinstance(reason, np.ndarray) else reason
        prev = self.text[mask]
        sep = np.where(prev == "", "", "; ").astype(object)
        self.text[mask] = prev + sep + msg
        self.bad |= mask


def _quoted(arr: pa.ChunkedArray, mask: np.ndarray) -> np.ndarray:
    """``'value'`` texts for the masked rows (others empty), for use in reasons."""
    out = np.full(len(mask), "", dtype=object)
    if mask.any():
        vals = arr.filter(pa.array(mask)).to_pylist()
        out[mask] = [f"'{v}'" for v in vals]
    return out


def _check_coordinates(
    reasons: _Reasons,
    x_text: pa.ChunkedArray,
    y_text: pa.ChunkedArray,
    x_name: str,
    y_name: str,
    kind: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Parse and check a coordinate pair; return floats (NaN where rejected)."""
    x_blank = _is_blank(x_text)
    y_blank = _is_blank(y_text)
    both = x_blank & y_blank
    reasons.add(both, f"no coordinates ({x_name} and {y_name} are blank)")
    reasons.add(x_blank & ~y_blank, f"no coordinates ({x_name} is blank)")
    reasons.add(y_blank & ~x_blank, f"no coordinates ({y_name} is blank)")
    x = _to_float(x_text, x_blank)
    y = _to_float(y_text, y_blank)
    given = ~x_blank & ~y_blank
    not_number = given & (np.isnan(x) | np.isnan(y))
    if not_number.any():
        reasons.add(
            not_number,
            "coordinates are not numbers: " + x_name + " " + _quoted(x_text, not_number)
            + ", " + y_name + " " + _quoted(y_text, not_number),
        )
    _check_coordinate_values(reasons, x, y, given & ~not_number, x_name, y_name, kind)
    return x, y


def _check_coordinate_values(
    reasons: _Reasons,
    x: np.ndarray,
    y: np.ndarray,
    numeric: np.ndarray,
    x_name: str,
    y_name: str,
    kind: str,
) -> None:
    with np.errstate(invalid="ignore"):
        null_island = numeric & (x == 0) & (y == 0)
        if kind == "lonlat":
            impossible = numeric & ~null_island & ~(
                (np.abs(y) <= 90) & (np.abs(x) <= 180)
            )
            rule = "latitude must be within -90..90 and longitude within -180..180"
        else:
            # The British National Grid covers 0..700 km east and 0..1300 km north.
            impossible = numeric & ~null_island & ~(
                (x >= 0) & (x <= 700_000) & (y >= 0) & (y <= 1_300_000)
            )
            rule = "British National Grid easting must be 0..700000 m and northing 0..1300000 m"
    reasons.add(
        null_island,
        f"coordinates are 0, 0 ({x_name} and {y_name} both zero): a placeholder for a missing "
        "location, not a real place",
    )
    if impossible.any():
        xs = np.array([f"{v:g}" for v in x[impossible]], dtype=object)
        ys = np.array([f"{v:g}" for v in y[impossible]], dtype=object)
        text = np.full(len(x), "", dtype=object)
        text[impossible] = (
            f"coordinates are impossible: {x_name} " + xs + f", {y_name} " + ys + f" ({rule})"
        )
        reasons.add(impossible, text)


def _check_cells(
    reasons: _Reasons, columns: list[pa.ChunkedArray] | list[pa.Array], maybe_nul: bool = True
) -> None:
    """Reject rows holding a value over the field limit or a NUL byte, in any column."""
    long = np.zeros(reasons.n, dtype=bool)
    nul = np.zeros(reasons.n, dtype=bool)
    for col in columns:
        lengths = pc.binary_length(col)
        if (pc.max(lengths).as_py() or 0) > _MAX_FIELD_BYTES:
            long |= _np(pc.greater(lengths, _MAX_FIELD_BYTES))
        if maybe_nul:  # the substring search is slow; most files hold no NUL at all
            nul |= _np(pc.match_substring(col, "\x00"))
    reasons.add(long, _LONG_FIELD_REASON)
    reasons.add(nul, _NUL_REASON)


def _raw_text(table: pa.Table, mask: np.ndarray) -> list[str]:
    """Return the fields of the masked rows joined by commas."""
    if not mask.any():
        return []
    sub = table.filter(pa.array(mask))
    joined = pc.binary_join_element_wise(*sub.columns, ",")
    return [str(v) for v in joined.to_pylist()]


def _rejects_frame(
    lines: np.ndarray, reasons: np.ndarray | list[str], raw: list[str]
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": np.asarray(lines, dtype="int64"),
            "reason": pd.array(list(reasons), dtype=object),
            "raw": pd.array(list(raw), dtype=object),
        }
    )


def _string_series(arr: pa.ChunkedArray | pa.Array | np.ndarray | list) -> pd.Series:
    if isinstance(arr, (pa.ChunkedArray, pa.Array)):
        return pd.Series(pd.array(arr, dtype="string"))
    return pd.Series(arr, dtype="string")


def _finish(
    parts: list[pd.DataFrame], rejects: list[pd.DataFrame], lines_read: int, notes: list[str]
) -> ReadResult:
    """Concatenate batch results into one ReadResult with the canonical dtypes."""
    template = empty_raw()
    frames = [p for p in parts if len(p)]
    if frames:
        rows = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
        rows = rows.reset_index(drop=True)
        for col in OPTIONAL_RAW_COLUMNS:
            if col not in rows:
                rows[col] = pd.Series(pd.NA, index=rows.index, dtype="string")
        for col in RAW_COLUMNS:
            if rows[col].dtype != template[col].dtype:
                rows[col] = rows[col].astype(template[col].dtype)
        rows = rows[list(RAW_COLUMNS)]
    else:
        rows = template
    rej_frames = [r for r in rejects if len(r)]
    if rej_frames:
        rej = pd.concat(rej_frames, ignore_index=True).sort_values("line", kind="stable")
        rej = rej.reset_index(drop=True)
    else:
        rej = empty_rejects()
    return ReadResult(rows=rows, rejects=rej, lines_read=lines_read, notes=notes)


def _content_id_list(columns: list[pa.ChunkedArray | pa.Array], prefix: str) -> list[str]:
    """Byte-for-byte the ids :func:`geo.schema.content_ids` gives, computed column-wise.

    ``content_ids`` joins each row's fields with a row-wise ``DataFrame.agg``, about 0.2 ms a
    row on pandas 3 string columns: 30 s for the anti-social behaviour rows of a million-row
    police.uk file. Here the join and the numbering of identical rows are column-wise and
    only the hash is per row. A unit test holds the two to identical output; once
    ``schema.content_ids`` is vectorised, call it instead.
    """
    filled = [pc.fill_null(pc.cast(c, pa.string()), "") for c in columns]
    text = pc.binary_join_element_wise(*filled, "\x1f") if len(filled) > 1 else filled[0]
    codes = np.asarray(
        pc.dictionary_encode(text).combine_chunks().indices
        if isinstance(text, pa.ChunkedArray)
        else pc.dictionary_encode(text).indices
    )
    # How many identical rows came before each row: a rank within each group, in file order.
    order = np.argsort(codes, kind="stable")
    sorted_codes = codes[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_codes)) + 1]
    group_start = np.repeat(starts, np.diff(np.r_[starts, len(codes)]))
    ordinal = np.empty(len(codes), dtype="int64")
    ordinal[order] = np.arange(len(codes)) - group_start
    keys = pc.binary_join_element_wise(text, pc.cast(pa.array(ordinal), pa.string()), "\x1e")
    # As bytes: the UTF-8 text as stored, so no per-row encode.
    key_bytes = pc.cast(keys, pa.binary()).to_pylist()
    blake2b = hashlib.blake2b
    head = prefix + "-"
    return [head + blake2b(k, digest_size=12).hexdigest() for k in key_bytes]


def _content_ids_fast(parts: pd.DataFrame, prefix: str) -> pd.Series:
    """:func:`geo.schema.content_ids` for a DataFrame, column-wise (see _content_id_list)."""
    if len(parts) == 0:
        return pd.Series([], index=parts.index, dtype="string")
    cols = [pa.array(parts[c].astype("string"), type=pa.string()) for c in parts.columns]
    return pd.Series(_content_id_list(cols, prefix), index=parts.index, dtype="string")


# --------------------------------------------------------------------------------------------
# police.uk
# --------------------------------------------------------------------------------------------

_MONTH_RE = r"^\d{4}-(0[1-9]|1[0-2])$"
_ASB = "Anti-social behaviour"


def read_police_uk(path: str | Path, progress: Progress | None = None) -> ReadResult:
    r"""Read a police.uk street-level crime CSV (optionally gzipped).

    ``Month`` (``YYYY-MM``) becomes ``month`` with ``time_precision="month"`` and no
    ``occurred_at``; ``Crime type`` is the category; ``Location`` the location (``LSOA name``,
    where the file has it, is kept to name places); the source is
    ``"police"`` and ``domestic`` unknown. Rows without a ``Crime ID`` (every anti-social
    behaviour row) get a stable id derived from their content as
    :func:`geo.schema.content_ids` does (prefix ``asb``, or ``puk`` for another crime type),
    from Month, Reported by, Falls within, Longitude, Latitude, Location, LSOA code and Crime
    type: re-reading a file gives the same ids, and identical rows stay distinct incidents.

    Rows are rejected, with a reason, for blank, non-numeric or impossible coordinates, a
    missing or invalid ``Month`` and a blank ``Crime type``.

    Parameters
    ----------
    path : str or Path
        The file. Columns are found by name, so their order does not matter.
    progress : callable, optional
        Called as ``progress(done_bytes, total_bytes)`` while the file is read.

    Returns
    -------
    geo.schema.ReadResult

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be read, or lacks a column this reader needs.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "street.csv"
    >>> _ = p.write_text(",".join(POLICE_UK_COLUMNS) + "\n"
    ...     "abc,2024-03,Lancashire Police,Lancashire Police,-2.7,53.76,On or near X,"
    ...     "E01012345,Preston 001A,Burglary,Under investigation,\n"
    ...     ",2024-03,Lancashire Police,Lancashire Police,,,No location,,,"
    ...     "Anti-social behaviour,,\n")
    >>> res = read_police_uk(p)
    >>> res.rows[["incident_id", "month", "category"]].values.tolist()
    [['abc', '2024-03', 'Burglary']]
    >>> res.rejects[["line", "reason"]].values.tolist()
    [[3, 'no coordinates (Longitude and Latitude are blank)']]
    """
    path = Path(path)
    head, _ = _head_text(path)
    header = _read_header(path, head)
    if len(header) < 2:
        raise ReadError(
            f"{path}: header row not recognised as a police.uk street-level CSV: "
            f"{','.join(header)[:120]!r}. {_SUPPORTED}"
        )
    pos = _resolve(
        path, header, {c: c for c in _POLICE_REQUIRED},
        "is not a complete police.uk street-level CSV: required column(s)",
    )
    # older downloads and hand-made extracts may lack it: the LSOA only names places
    lsoa_at = {n.strip().casefold(): i for i, n in enumerate(header)}.get("lsoa name")
    if lsoa_at is not None:
        pos["LSOA name"] = lsoa_at
    col = {key: f"c{i}" for key, i in pos.items()}
    got = _Collected()
    span = _Plausible.now()

    def handle(batch: _Batch) -> None:
        n = got.start(batch)
        if n == 0:
            return
        t = batch.table
        reasons = _Reasons(n)
        _check_cells(reasons, batch.table.columns, batch.maybe_nul)
        lon, lat = _check_coordinates(
            reasons, t[col["Longitude"]], t[col["Latitude"]], "Longitude", "Latitude", "lonlat"
        )
        month = _trimmed(t[col["Month"]])
        month_blank = _np(pc.equal(month, ""))
        reasons.add(month_blank, "no Month")
        month_bad = ~month_blank & ~_np(pc.match_substring_regex(month, _MONTH_RE))
        if month_bad.any():
            reasons.add(
                month_bad, "Month " + _quoted(month, month_bad) + " is not a valid YYYY-MM month"
            )
        month_ok = ~month_blank & ~month_bad
        implausible = month_ok & ~_months_plausible(month, month_ok, span)
        if implausible.any():
            reasons.add(implausible, f"Month outside the plausible range ({span.months}): "
                        + _quoted(month, implausible))
        category = _trimmed(t[col["Crime type"]])
        reasons.add(_np(pc.equal(category, "")), "no Crime type")
        out = pa.table(
            {
                "line": pa.array(batch.lines),
                "incident_id": _trimmed(t[col["Crime ID"]]),
                "month": month,
                "lon": pa.array(lon),
                "lat": pa.array(lat),
                "category": category,
                "location": t[col["Location"]],
                "lsoa_name": (_trimmed(t[col["LSOA name"]]) if "LSOA name" in col
                              else pa.nulls(n, pa.string())),
                **{f"_id_{c}": t[col[c]] for c in _POLICE_ID_PARTS},
            }
        )
        if reasons.bad.any():
            got.rejects.append(
                _rejects_frame(
                    batch.lines[reasons.bad], reasons.text[reasons.bad],
                    _raw_text(t, reasons.bad),
                )
            )
            out = out.filter(pa.array(~reasons.bad))
        got.parts.append(out)

    _read_csv(path, len(header), progress, handle, got.reset)
    notes: list[str] = []
    if not got.parts:
        return _finish([], got.rejects, got.lines_read, notes)
    table = pa.concat_tables(got.parts)
    ids = table["incident_id"]
    no_id = _np(pc.equal(ids, ""))
    if no_id.any():
        # Ids need the whole file: identical rows are numbered in file order across batches.
        parts = table.select([f"_id_{c}" for c in _POLICE_ID_PARTS]).filter(pa.array(no_id))
        asb = _np(pc.equal(parts["_id_Crime type"], _ASB))
        derived = np.empty(len(asb), dtype=object)
        for mask, prefix in ((asb, "asb"), (~asb, "puk")):
            if mask.any():
                derived[mask] = _content_id_list(parts.filter(pa.array(mask)).columns, prefix)
        ids = pc.replace_with_mask(
            ids.combine_chunks(), pa.array(no_id), pa.array(derived, type=pa.string())
        )
        notes.append(
            f"{int(no_id.sum()):,} row(s) had no Crime ID (anti-social behaviour rows never have "
            "one); their ids were derived from their content."
        )
    k = table.num_rows
    frame = pd.DataFrame(
        {
            "line": table["line"].to_numpy(),
            "incident_id": _string_series(ids),
            "occurred_at": pd.Series(pd.NaT, index=range(k), dtype=f"datetime64[us, {TIMEZONE}]"),
            "month": _string_series(table["month"]),
            "time_precision": pd.Series("month", index=range(k), dtype="string"),
            "lon": table["lon"].to_numpy(),
            "lat": table["lat"].to_numpy(),
            "easting": np.full(k, np.nan),
            "northing": np.full(k, np.nan),
            "category": _string_series(table["category"]),
            "source": pd.Series("police", index=range(k), dtype="string"),
            "domestic": pd.Series(pd.NA, index=range(k), dtype="boolean"),
            "location": _string_series(table["location"]),
            "lsoa_name": _string_series(pc.if_else(pc.equal(table["lsoa_name"], ""),
                                                   pa.scalar(None, pa.string()),
                                                   table["lsoa_name"])),
        }
    )
    return _finish([frame], got.rejects, got.lines_read, notes)


# --------------------------------------------------------------------------------------------
# Timestamps
# --------------------------------------------------------------------------------------------

#: ``(strptime format, precision)`` tried by ``datetime_format="auto"``. The formats are
#: mutually exclusive (a value can match at most one exactly), so their order only matters
#: for speed. Seconds are read but the precision stays "minute".
_ISO_FORMATS = tuple(
    (fmt.replace(" ", sep), prec)
    for sep in (" ", "T")
    for fmt, prec in (
        ("%Y-%m-%d %H:%M:%S", "minute"),
        ("%Y-%m-%d %H:%M", "minute"),
        ("%Y-%m-%d %H:%M:%S.%f", "minute"),
        ("%Y-%m-%d %H", "hour"),
    )
) + (
    ("%Y-%m-%d", "day"),
    ("%Y-%m", "month"),
    ("%Y/%m/%d %H:%M:%S", "minute"),
    ("%Y/%m/%d %H:%M", "minute"),
    ("%Y/%m/%d", "day"),
)
_EXCEL_FORMATS = (
    ("%d-%b-%Y %H:%M:%S", "minute"),
    ("%d-%b-%Y %H:%M", "minute"),
    ("%d-%b-%Y", "day"),
)
_PRECISION_CODES = ("", "minute", "hour", "day", "month")


def _auto_formats(dayfirst: bool) -> tuple[tuple[str, str], ...]:
    dm = "%d/%m/%Y" if dayfirst else "%m/%d/%Y"
    slashed = ((f"{dm} %H:%M", "minute"), (f"{dm} %H:%M:%S", "minute"), (dm, "day"))
    return _ISO_FORMATS + slashed + _EXCEL_FORMATS


def _format_precision(fmt: str) -> str:
    if "%M" in fmt:
        return "minute"
    if "%H" in fmt or "%I" in fmt:
        return "hour"
    if "%d" in fmt or "%j" in fmt:
        return "day"
    return "month"


#: An ISO date-time followed by a UTC designator or offset.
_ISO_OFFSET_RE = (
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{1,2}(?::\d{2}(?::\d{2}(?:\.\d+)?)?)?)"
    r"\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
)
#: Any value ending in a digit followed by a UTC designator or offset (explicit ``%z`` formats).
_ANY_OFFSET_RE = r"^(.*?\d)\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"


@dataclass
class _Parsed:
    utc: np.ndarray  # datetime64[us] UTC instants; NaT for month precision and failures
    month: np.ndarray  # object array of "YYYY-MM" ("" on failure)
    precision: np.ndarray  # object array ("" on failure)
    ok: np.ndarray  # bool
    offsets: int  # values that carried an offset
    wall: np.ndarray | None = None  # datetime64[us] UK clock time of timed values, else NaT


def _shape_keys(arr: pa.Array) -> np.ndarray:
    """Cheap per-value signature: values of one layout (e.g. ``99/99/9999 99:99``) share it."""
    key = np.asarray(pc.utf8_length(arr).to_numpy(zero_copy_only=False), dtype="int64")
    for sep in (":", "/", "-", " ", "T", "."):
        count = pc.count_substring(arr, sep).to_numpy(zero_copy_only=False)
        key = key * 7 + np.minimum(np.asarray(count, dtype="int64"), 6)
    return key


def _strptime(values: pd.Series, fmt: str) -> np.ndarray:
    """Strictly parse with one format; NaT where a value does not match it exactly."""
    parsed = pd.to_datetime(values, format=fmt, errors="coerce")
    return np.asarray(parsed.to_numpy(dtype="datetime64[us]"))


def _parse_clock(
    clock: pa.Array, todo: np.ndarray, formats: tuple[tuple[str, str], ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Parse naive clock times; return datetime64[us] values and precision codes (0 = failed).

    Values are grouped by layout and each group is parsed with the one format its first
    value fits, so a column is parsed about once whatever the number of formats; values that
    fit no group's format (typos, impossible dates, mixed layouts) are then tried against
    every format in turn.
    """
    n = len(clock)
    naive = np.full(n, np.datetime64("NaT", "us"), dtype="datetime64[us]")
    code = np.zeros(n, dtype="int8")
    text = pd.Series(pd.array(clock, dtype="string"))
    idx = np.flatnonzero(todo)
    if len(idx) == 0:
        return naive, code
    prec_code = {p: i for i, p in enumerate(_PRECISION_CODES)}
    if len(formats) > 1:
        keys = _shape_keys(clock.take(pa.array(idx)))
        uniq, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
        if len(uniq) <= 500:
            reps = text.iloc[idx[first]]
            chosen = np.full(len(uniq), -1)
            for f_i, (fmt, _) in enumerate(formats):
                open_ = chosen < 0
                if not open_.any():
                    break
                hit = ~np.isnat(_strptime(reps[open_], fmt))
                chosen[np.flatnonzero(open_)[hit]] = f_i
            for f_i in np.unique(chosen[chosen >= 0]):
                rows = idx[np.isin(inverse, np.flatnonzero(chosen == f_i))]
                fmt, prec = formats[f_i]
                got = _strptime(text.iloc[rows], fmt)
                good = ~np.isnat(got)
                naive[rows[good]] = got[good]
                code[rows[good]] = prec_code[prec]
    remaining = todo & (code == 0)
    for fmt, prec in formats:
        if not remaining.any():
            break
        rows = np.flatnonzero(remaining)
        got = _strptime(text.iloc[rows], fmt)
        good = ~np.isnat(got)
        naive[rows[good]] = got[good]
        code[rows[good]] = prec_code[prec]
        remaining[rows[good]] = False
    return naive, code


def _offset_minutes(codes: pa.Array) -> np.ndarray:
    """``Z``/``UTC``/``GMT``/``+01``/``+01:00``/``-0530`` to signed minutes east of UTC."""
    named = _np(pc.is_in(codes, value_set=pa.array(["Z", "UTC", "GMT"])))
    digits = pc.replace_substring(pc.if_else(pa.array(named), "+00", codes), ":", "")
    hours = pc.cast(pc.utf8_slice_codeunits(digits, 1, 3), pa.int64()).to_numpy()
    mins_text = pc.utf8_slice_codeunits(digits, 3, 5)
    mins = pc.cast(pc.if_else(pc.equal(mins_text, ""), "0", mins_text), pa.int64()).to_numpy()
    sign = np.where(_np(pc.starts_with(digits, "-")), -1, 1)
    return sign * (hours * 60 + mins).astype("float64")


def _parse_datetimes(text: pa.Array, fmt: str, dayfirst: bool, offset: str) -> _Parsed:
    """Parse timestamps column-wise: explicit formats, each applied to a whole set of values.

    Naive clock times are UK local time (Europe/London). In the autumn fall-back hour a clock
    time happens twice; it is taken as the first occurrence (BST). A clock time in the spring
    gap (01:00-02:00 on the last Sunday of March) never happened and is shifted forward to
    02:00 BST.
    """
    n = len(text)
    clock = pc.utf8_trim_whitespace(pc.fill_null(text, ""))
    if fmt != "auto":
        takes_offset = bool(re.search(r"\s*%[zZ]\s*$", fmt))
        clean_fmt = re.sub(r"\s*%[zZ]\s*$", "", fmt)
        formats: tuple[tuple[str, str], ...] = ((clean_fmt, _format_precision(clean_fmt)),)
        offset_re = _ANY_OFFSET_RE if takes_offset else None
    else:
        formats = _auto_formats(dayfirst)
        offset_re = _ISO_OFFSET_RE
    offset_min = np.full(n, np.nan)
    if offset_re is not None:
        has_off = _np(pc.match_substring_regex(clock, offset_re))
        if has_off.any():
            where = np.flatnonzero(has_off)
            found = pc.extract_regex(clock.take(pa.array(where)), offset_re.replace(
                "^(", "^(?P<clock>", 1).replace(r"\s*(", r"\s*(?P<off>", 1))
            clock = pc.replace_with_mask(
                clock, pa.array(has_off), pc.struct_field(found, "clock")
            )
            offset_min[where] = _offset_minutes(pc.struct_field(found, "off"))
    todo = _np(pc.not_equal(clock, ""))
    naive, code = _parse_clock(clock, todo, formats)
    precision = np.asarray(_PRECISION_CODES, dtype=object)[code]
    ok = code > 0
    month_only = code == _PRECISION_CODES.index("month")
    timed = ok & ~month_only
    offsets = int((ok & ~np.isnan(offset_min)).sum())
    use_offset = timed & ~np.isnan(offset_min) & (offset == "convert")
    local = timed & ~use_offset
    utc = np.full(n, np.datetime64("NaT", "us"), dtype="datetime64[us]")
    if local.any():
        k = int(local.sum())
        stamped = pd.DatetimeIndex(naive[local]).tz_localize(
            TIMEZONE, ambiguous=np.ones(k, dtype=bool), nonexistent="shift_forward"
        )
        utc[local] = stamped.tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[us]")
    if use_offset.any():
        shift = (offset_min[use_offset] * 60_000_000).astype("int64").astype("timedelta64[us]")
        utc[use_offset] = naive[use_offset] - shift
    month = np.full(n, "", dtype=object)
    wall = np.full(n, np.datetime64("NaT", "us"), dtype="datetime64[us]")
    if timed.any():
        wall[timed] = (
            pd.DatetimeIndex(utc[timed]).tz_localize("UTC").tz_convert(TIMEZONE)
            .tz_localize(None).to_numpy(dtype="datetime64[us]")
        )
        month[timed] = np.datetime_as_string(wall[timed].astype("datetime64[M]"), unit="M")
    if month_only.any():
        month[month_only] = np.datetime_as_string(
            naive[month_only].astype("datetime64[M]"), unit="M"
        )
    return _Parsed(utc, month, precision, ok, offsets, wall)


@dataclass(frozen=True)
class _Plausible:
    """The incident dates accepted (:func:`geo.settings.limits`), as day numbers since 1970."""

    first: date
    last: date

    @classmethod
    def now(cls) -> _Plausible:
        lim = limits()
        return cls(lim.earliest_date, lim.latest_date)

    @property
    def days(self) -> str:
        return f"{_long_date(self.first)} to {_long_date(self.last)}"

    @property
    def months(self) -> str:
        return f"{self.first:%Y-%m} to {self.last:%Y-%m}"


def _long_date(day: date) -> str:
    return f"{day.day} {day:%B %Y}"


def _dates_plausible(parsed: _Parsed, span: _Plausible) -> np.ndarray:
    """Mark the parsed values that lie in ``span``: by UK date, or for a month, any of its days.

    A month is plausible when it overlaps the span, so the month of the earliest date and the
    current month are accepted.
    """
    lo = np.datetime64(span.first, "D")
    hi = np.datetime64(span.last, "D")
    out = np.ones(len(parsed.ok), dtype=bool)
    if parsed.wall is not None:
        timed = ~np.isnat(parsed.wall)
        day = parsed.wall[timed].astype("datetime64[D]")
        out[timed] = (day >= lo) & (day <= hi)
    months = parsed.ok & (parsed.precision == "month")
    if months.any():
        start = parsed.month[months].astype("datetime64[M]")
        out[months] = ((start + 1).astype("datetime64[D]") > lo) & (
            start.astype("datetime64[D]") <= hi)
    return out


def _months_plausible(month: pa.ChunkedArray, valid: np.ndarray,
                      span: _Plausible) -> np.ndarray:
    """Mark the valid ``YYYY-MM`` months that overlap ``span`` (others are marked too).

    A file holds a handful of distinct months, so each is judged once.
    """
    lo = span.first.year * 12 + span.first.month - 1
    hi = span.last.year * 12 + span.last.month - 1
    bad = [
        m for m in pc.unique(month.filter(pa.array(valid))).to_pylist()
        if not lo <= int(m[:4]) * 12 + int(m[5:7]) - 1 <= hi
    ]
    if not bad:
        return np.ones(len(valid), dtype=bool)
    return ~(valid & _np(pc.is_in(month, value_set=pa.array(bad, pa.string()))))


# --------------------------------------------------------------------------------------------
# Mapped fields shared by the generic CSV and point readers
# --------------------------------------------------------------------------------------------

_SOURCE_SPELLINGS = {
    "a&e": "ed",
    "a & e": "ed",
    "ed": "ed",
    "emergency department": "ed",
    "ambulance": "ambulance",
    "nwas": "ambulance",
    "police": "police",
}
_TRUE = ("true", "yes", "y", "1")
_FALSE = ("false", "no", "n", "0")


def _normalise_source(values: pd.Series) -> pd.Series:
    low = values.str.strip().str.lower()
    return low.replace(_SOURCE_SPELLINGS)


def _mapped_fields(
    frame: pd.DataFrame,
    lines: np.ndarray,
    mapping: Mapping,
    reasons: _Reasons,
    col_names: dict[str, str],
) -> tuple[dict[str, Any], int]:
    """Validate and convert the mapped non-coordinate fields of one batch.

    ``frame`` holds the mapped columns as text under their mapping keys, indexed 0..n-1;
    ``col_names`` gives the column names as the file spells them, for the reasons. Returns
    columns aligned to ``frame`` (Series or arrays) and the number of values with an offset.
    """
    if mapping.datetime:
        when = frame["datetime"].fillna("")
        blank_what = f"no date (column '{col_names['datetime']}' is blank)"
    else:
        date = frame["date"].fillna("").str.strip()
        when = date
        if mapping.time:
            time = frame["time"].fillna("").str.strip()
            when = date.where(time == "", date + " " + time)
        blank_what = f"no date (column '{col_names['date']}' is blank)"
    when_arr = pa.array(when.astype("string"), type=pa.string())
    blank = _is_blank(when_arr)
    reasons.add(blank, blank_what)
    parsed = _parse_datetimes(when_arr, mapping.datetime_format, mapping.dayfirst, mapping.offset)
    bad_date = ~blank & ~parsed.ok
    if bad_date.any():
        reasons.add(bad_date, "date not understood: " + _quoted(when_arr, bad_date))
    span = _Plausible.now()
    implausible = parsed.ok & ~_dates_plausible(parsed, span)
    if implausible.any():
        reasons.add(implausible, f"date outside the plausible range ({span.days}): "
                    + _quoted(when_arr, implausible))

    if mapping.category:
        category = frame["category"].fillna("").str.strip()
        reasons.add(
            (category == "").to_numpy(dtype=bool),
            f"no category (column '{col_names['category']}' is blank)",
        )
    else:
        category = pd.Series(str(mapping.default_category).strip(), index=frame.index,
                             dtype="string")

    if mapping.source:
        source = _normalise_source(frame["source"].fillna(""))
        reasons.add(
            (source == "").to_numpy(dtype=bool),
            f"no source (column '{col_names['source']}' is blank)",
        )
    else:
        default = _normalise_source(pd.Series([mapping.default_source], dtype="string")).iloc[0]
        source = pd.Series(default, index=frame.index, dtype="string")

    domestic = pd.Series(pd.NA, index=frame.index, dtype="boolean")
    if mapping.domestic:
        raw_dom = frame["domestic"].fillna("").str.strip()
        low = raw_dom.str.lower()
        is_true = low.isin(_TRUE).to_numpy(dtype=bool)
        is_false = low.isin(_FALSE).to_numpy(dtype=bool)
        unknown = (low == "").to_numpy(dtype=bool)
        domestic[is_true] = True
        domestic[is_false] = False
        bad = ~(is_true | is_false | unknown)
        if bad.any():
            dom_arr = pa.array(raw_dom.astype("string"), type=pa.string())
            reasons.add(
                bad,
                f"{col_names['domestic']} value " + _quoted(dom_arr, bad)
                + " not understood (expected true/false, yes/no, y/n or 1/0; blank = unknown)",
            )

    location = (
        frame["location"].str.strip().replace("", pd.NA)
        if mapping.location
        else pd.Series(pd.NA, index=frame.index, dtype="string")
    )
    ids = (
        frame["id"].fillna("").str.strip()
        if mapping.id
        else pd.Series("", index=frame.index, dtype="string")
    )
    out = {
        "line": lines,
        "incident_id": ids,
        "utc": parsed.utc,
        "month": parsed.month,
        "time_precision": parsed.precision,
        "category": category,
        "source": source,
        "domestic": domestic,
        "location": location,
    }
    return out, parsed.offsets


def _assemble(
    out: dict[str, Any],
    good: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    east: np.ndarray,
    north: np.ndarray,
) -> pd.DataFrame:
    """Build the raw-incident rows of one batch from the accepted (``good``) positions."""
    keep = np.flatnonzero(good)

    def text(values: pd.Series) -> pd.Series:
        return values.iloc[keep].astype("string").reset_index(drop=True)

    occurred = pd.DatetimeIndex(out["utc"][keep]).tz_localize("UTC").tz_convert(TIMEZONE)
    return pd.DataFrame(
        {
            "line": np.asarray(out["line"])[keep],
            "incident_id": text(out["incident_id"]),
            "occurred_at": pd.Series(occurred.as_unit("us")),
            "month": pd.array(out["month"][keep], dtype="string"),
            "time_precision": pd.array(out["time_precision"][keep], dtype="string"),
            "lon": lon[keep],
            "lat": lat[keep],
            "easting": east[keep],
            "northing": north[keep],
            "category": text(out["category"]),
            "source": text(out["source"]),
            "domestic": out["domestic"].iloc[keep].reset_index(drop=True),
            "location": text(out["location"]),
        }
    )


def _fill_content_ids(result: ReadResult, keys: list[pd.DataFrame], prefix: str) -> None:
    """Give rows with a blank id a content-derived one (over the whole file, in order)."""
    if not keys:
        return
    key = pd.concat(keys)
    result.rows.loc[key.index, "incident_id"] = _content_ids_fast(key, prefix).to_numpy()


def _offset_note(count: int, offset: str) -> list[str]:
    if not count:
        return []
    if offset == "convert":
        return [
            f"{count:,} timestamp(s) carried a UTC offset or 'Z' and were converted to UK time."
        ]
    return [
        f"{count:,} timestamp(s) carried a UTC offset or 'Z'; as the mapping asks (offset = "
        "\"ignore\"), their clock time was taken as UK local time."
    ]


# --------------------------------------------------------------------------------------------
# Generic CSV
# --------------------------------------------------------------------------------------------


def read_generic_csv(
    path: str | Path, mapping: Mapping, progress: Progress | None = None
) -> ReadResult:
    r"""Read any incident CSV whose columns are described by ``mapping``.

    Timestamps are parsed column-wise (see :class:`Mapping` for the formats ``"auto"``
    understands). ``time_precision`` is ``minute`` when a time with minutes is given (seconds
    are ignored), ``hour`` for an hour only, ``day`` for a date and ``month`` for ``yyyy-mm``.
    Naive clock times are UK local time: in the autumn fall-back hour, which happens twice, the
    first occurrence (BST) is taken; a time in the spring-forward gap is shifted forward by the
    gap (01:30 becomes 02:30 BST... i.e. the first valid instant after it). Values with ``Z`` or
    an offset are converted to UK time, or taken as local clock time with
    ``offset="ignore"``.

    Sources are lower-cased, with common spellings unified (``A&E``/``ED``/``emergency
    department`` -> ``ed``, ``ambulance``/``NWAS`` -> ``ambulance``). Rows without an id get one
    derived from their content (prefix ``row``).

    Parameters
    ----------
    path : str or Path
        The CSV file, optionally gzipped; UTF-8 with or without a byte-order mark.
    mapping : Mapping
        Which column holds what; it must name a coordinate pair.
    progress : callable, optional
        Called as ``progress(done_bytes, total_bytes)`` while the file is read.

    Returns
    -------
    geo.schema.ReadResult

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be read or the mapping names a column the file does not have.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "ed.csv"
    >>> _ = p.write_text("when,x,y,type\n01/06/2024 23:15,-2.7,53.76,Assault\n"
    ...                  "31/02/2024 25:00,-2.7,53.76,Assault\n")
    >>> m = Mapping(datetime="when", lon="x", lat="y", category="type", default_source="A&E")
    >>> res = read_generic_csv(p, m)
    >>> str(res.rows.loc[0, "occurred_at"]), res.rows.loc[0, "source"]
    ('2024-06-01 23:15:00+01:00', 'ed')
    >>> res.rejects.loc[0, "reason"]
    "date not understood: '31/02/2024 25:00'"
    """
    path = Path(path)
    kind = mapping.coordinate_kind()
    if kind is None:
        raise ReadError(
            f"{path}: the column mapping names no coordinate columns; give lon + lat, or "
            "easting + northing (British National Grid metres)."
        )
    head, _ = _head_text(path)
    header = _read_header(path, head)
    wanted = mapping.columns()
    pos = _resolve(path, header, wanted, "the column mapping names column(s)")
    x_key, y_key = ("lon", "lat") if kind == "lonlat" else ("easting", "northing")
    got = _Collected()
    names = {k: header[i] for k, i in pos.items()}

    def handle(batch: _Batch) -> None:
        n = got.start(batch)
        if n == 0:
            return
        t = batch.table
        reasons = _Reasons(n)
        _check_cells(reasons, batch.table.columns, batch.maybe_nul)
        x, y = _check_coordinates(
            reasons, t[f"c{pos[x_key]}"], t[f"c{pos[y_key]}"], names[x_key], names[y_key], kind
        )
        frame = pd.DataFrame({key: _string_series(t[f"c{i}"]) for key, i in pos.items()})
        out, n_off = _mapped_fields(frame, batch.lines, mapping, reasons, names)
        got.offsets += n_off
        if reasons.bad.any():
            got.rejects.append(
                _rejects_frame(
                    batch.lines[reasons.bad], reasons.text[reasons.bad],
                    _raw_text(t, reasons.bad),
                )
            )
        good = ~reasons.bad
        nan = np.full(n, np.nan)
        lon, lat, east, north = (x, y, nan, nan) if kind == "lonlat" else (nan, nan, x, y)
        rows = _assemble(out, good, lon, lat, east, north)
        no_id = (rows["incident_id"].fillna("") == "").to_numpy(dtype=bool)
        if no_id.any():
            key = frame.loc[good].reset_index(drop=True).loc[no_id]
            key = key.drop(columns="id", errors="ignore")
            key.index = key.index + got.rows_so_far()
            got.keys.append(key)
        got.parts.append(rows)

    _read_csv(path, len(header), progress, handle, got.reset)
    notes = _offset_note(got.offsets, mapping.offset)
    result = _finish(got.parts, got.rejects, got.lines_read, notes)
    _fill_content_ids(result, got.keys, "row")
    return result


# --------------------------------------------------------------------------------------------
# GeoJSON / GeoPackage
# --------------------------------------------------------------------------------------------


def read_points(
    path: str | Path, mapping: Mapping | None = None, progress: Progress | None = None
) -> ReadResult:
    """Read a GeoJSON or GeoPackage point layer (optionally gzipped GeoJSON).

    Coordinates come from the geometry, reprojected from the layer's CRS to WGS84; when the
    layer is in British National Grid its eastings and northings are kept as well. Attribute
    columns are found through the mapping's columns as for a CSV (its coordinate columns, if
    any, are not used). Features whose geometry is missing, empty or not a point (a
    multipoint of a single point counts as a point) are rejected; ``line`` is the 1-based
    feature number. With several layers, the first point layer is read.

    Parameters
    ----------
    path : str or Path
        The file.
    mapping : Mapping
        Which attribute holds what; required (a ReadError lists the attributes otherwise).
    progress : callable, optional
        Called as ``progress(done_bytes, total_bytes)``, once at the start and once at the end.

    Returns
    -------
    geo.schema.ReadResult

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be opened, has no CRS or no point layer, or the mapping names an
        attribute the layer does not have.

    Examples
    --------
    >>> import tempfile, pathlib, json
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "points.geojson"
    >>> feats = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [-2.7, 53.76]},
    ...           "properties": {"when": "2024-06-01 23:15", "type": "Assault"}}]
    >>> _ = p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    >>> res = read_points(p, Mapping(datetime="when", category="type"))
    >>> res.rows[["lon", "lat", "category"]].values.tolist()
    [[-2.7, 53.76, 'Assault']]
    """
    import pyogrio
    import shapely

    path = Path(path)
    total = _check_file(path)
    if progress is not None:
        progress(0, total)
    gz = _is_gzip(path)
    if gz:
        _verify_stream(path)
    source = f"/vsigzip/{path}" if gz else str(path)
    try:
        layers = pyogrio.list_layers(source)
        # Prefer a point layer; a layer of mixed geometry ("Unknown") is read and its
        # non-point features rejected one by one.
        with_geometry = [(n, str(g).lower()) for n, g in layers if g is not None]
        points = [n for n, g in with_geometry if "point" in g]
        mixed = [n for n, g in with_geometry if g in ("unknown", "geometry", "geometrycollection")]
        layer = (points or mixed or [None])[0]
        if layer is None:
            kinds = ", ".join(f"{n} ({g or 'no geometry'})" for n, g in layers) or "none"
            raise ReadError(f"{path}: no point layer found; layers: {kinds}.")
        # Dates are read as the text in the file, so the timestamp rules (and precision) are
        # the same as for a CSV; GeoJSON needs its own option to stop GDAL typing them.
        options = {} if _is_sqlite(path) else {"DATE_AS_STRING": "YES"}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            gdf = pyogrio.read_dataframe(
                source, layer=layer, datetime_as_string=True, **options
            )
    except ReadError:
        raise
    except Exception as exc:  # pyogrio raises several GDAL-derived types
        raise ReadError(f"{path}: could not be opened as GeoJSON or GeoPackage: {exc}") from None
    notes = [f"GDAL: {w.message}" for w in caught]
    if len(layers) > 1:
        notes.append(
            f"Read layer '{layer}'; the file also has "
            f"{', '.join(str(n) for n, _ in layers if n != layer)}."
        )
    if gdf.crs is None:
        raise ReadError(
            f"{path}: the layer has no coordinate reference system (CRS), so its coordinates "
            "cannot be placed on a map. Set the CRS (e.g. EPSG:27700 or EPSG:4326) in your GIS "
            "and export again."
        )
    attrs = [c for c in gdf.columns if c != gdf.geometry.name]
    if mapping is None:
        raise ReadError(
            f"{path}: a column mapping (a TOML file or command-line options) is needed to say "
            f"which attribute holds the date, category and so on. Attributes found: "
            f"{', '.join(repr(a) for a in attrs)}."
        )
    wanted = {k: v for k, v in mapping.columns().items()
              if k not in ("lon", "lat", "easting", "northing")}
    pos = _resolve(path, attrs, wanted, "the column mapping names attribute(s)")
    n = len(gdf)
    lines = np.arange(1, n + 1, dtype="int64")
    frame = pd.DataFrame(
        {key: _attribute_text(gdf[attrs[i]]) for key, i in pos.items()}
    ).reset_index(drop=True)
    reasons = _Reasons(n)
    _check_cells(reasons, [pa.array(frame[c], type=pa.string()) for c in frame.columns])
    geoms = np.asarray(gdf.geometry.array, dtype=object)
    missing = np.asarray(shapely.is_missing(geoms), dtype=bool)
    types = np.asarray(shapely.get_type_id(geoms))
    empty = ~missing & np.asarray(shapely.is_empty(geoms), dtype=bool)
    parts_n = np.asarray(shapely.get_num_geometries(geoms))
    single_multi = (types == 4) & (parts_n == 1)
    point_like = ~missing & ~empty & ((types == 0) | single_multi)
    reasons.add(missing, "no geometry")
    reasons.add(empty, "empty geometry (no coordinates)")
    wrong = ~missing & ~empty & ~point_like
    if wrong.any():
        names = np.asarray([g.geom_type for g in geoms[wrong]], dtype=object)
        text = np.full(n, "", dtype=object)
        text[wrong] = "geometry is a " + names + ", not a point"
        reasons.add(wrong, text)
    pts = geoms.copy()
    pts[single_multi] = shapely.get_geometry(geoms[single_multi], 0)
    xs = np.full(n, np.nan)
    ys = np.full(n, np.nan)
    if point_like.any():
        xs[point_like] = shapely.get_x(pts[point_like])
        ys[point_like] = shapely.get_y(pts[point_like])
    bng = gdf.crs.to_epsg() == 27700
    if bng:
        east, north = xs, ys
        lon, lat = _transform(xs, ys, gdf.crs, CRS_STORAGE)
    else:
        lon, lat = _transform(xs, ys, gdf.crs, CRS_STORAGE)
        east, north = np.full(n, np.nan), np.full(n, np.nan)
    finite = point_like & np.isfinite(lon) & np.isfinite(lat)
    reasons.add(point_like & ~finite, "coordinates could not be converted to longitude/latitude")
    _check_coordinate_values(reasons, lon, lat, finite, "longitude", "latitude", "lonlat")
    out, n_off = _mapped_fields(frame, lines, mapping, reasons,
                                {k: attrs[i] for k, i in pos.items()})
    notes += _offset_note(n_off, mapping.offset)
    rejects = []
    if reasons.bad.any():
        raw = _feature_text(frame, geoms, reasons.bad)
        rejects.append(_rejects_frame(lines[reasons.bad], reasons.text[reasons.bad], raw))
    good = ~reasons.bad
    rows = _assemble(out, good, lon, lat, east, north)
    result = _finish([rows], rejects, n, notes)
    no_id = (result.rows["incident_id"].fillna("") == "").to_numpy(dtype=bool)
    if no_id.any():
        key = frame.loc[good].reset_index(drop=True).drop(columns="id", errors="ignore")
        key = key.assign(
            _x=pd.Series(lon[good]).map("{:.7f}".format),
            _y=pd.Series(lat[good]).map("{:.7f}".format),
        ).loc[no_id]
        _fill_content_ids(result, [key], "feat")
    if progress is not None:
        progress(total, total)
    return result


def _transform(x: np.ndarray, y: np.ndarray, crs: Any, to: str) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import Transformer

    if crs.to_epsg() == 4326 or crs.equals(to):
        return x.copy(), y.copy()
    transformer = Transformer.from_crs(crs, to, always_xy=True)
    ok = np.isfinite(x) & np.isfinite(y)
    lon = np.full(len(x), np.nan)
    lat = np.full(len(x), np.nan)
    if ok.any():
        lon[ok], lat[ok] = transformer.transform(x[ok], y[ok])
    return lon, lat


def _attribute_text(values: pd.Series) -> pd.Series:
    """Return an attribute column as text, as it would read in a CSV."""
    if values.dtype.kind == "f":
        whole = values.dropna()
        if len(whole) and (whole == np.floor(whole)).all():
            values = values.astype("Int64")
    text = values.astype("string").fillna("")
    return text


def _feature_text(frame: pd.DataFrame, geoms: np.ndarray, mask: np.ndarray) -> list[str]:
    import shapely

    sub = frame.loc[mask]
    out = []
    for (_, row), geom in zip(sub.iterrows(), geoms[mask], strict=True):
        wkt = "no geometry" if geom is None else shapely.to_wkt(geom, rounding_precision=6)
        out.append(",".join(str(v) for v in row.tolist()) + f",{wkt[:200]}")
    return out


# --------------------------------------------------------------------------------------------
# Dispatch
# --------------------------------------------------------------------------------------------


def read_file(
    path: str | Path, mapping: Mapping | None = None, progress: Progress | None = None
) -> ReadResult:
    r"""Read any supported incident file, choosing the reader by :func:`detect_format`.

    A police.uk file is read as such (a mapping, if given, is not needed and not used); any
    other CSV, GeoJSON or GeoPackage needs ``mapping``.

    Parameters
    ----------
    path : str or Path
        The file, optionally gzipped.
    mapping : Mapping, optional
        Column mapping for files that are not police.uk street-level CSVs.
    progress : callable, optional
        Called as ``progress(done_bytes, total_bytes)`` while the file is read.

    Returns
    -------
    geo.schema.ReadResult

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be read, or a mapping is needed and missing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("when,x,y\n2024-06-01,1,2\n")
    >>> try:
    ...     read_file(p)
    ... except ReadError as exc:
    ...     print(str(exc).split("Columns found: ")[1])
    'when', 'x', 'y'.
    >>> m = Mapping(datetime="when", lon="x", lat="y", default_category="Violence")
    >>> read_file(p, m).rows[["month", "time_precision", "category"]].values.tolist()
    [['2024-06', 'day', 'Violence']]
    """
    path = Path(path)
    fmt = detect_format(path)
    if fmt == "police_uk":
        result = read_police_uk(path, progress=progress)
        if mapping is not None:
            result.notes.append(
                "This is a police.uk street-level file; the column mapping was not used."
            )
        return result
    if fmt == "csv":
        if mapping is None:
            head, _ = _head_text(path)
            header = _read_header(path, head)
            raise ReadError(
                f"{path}: this CSV is not a police.uk street-level file, so a column mapping is "
                "needed (a TOML file or command-line options) to say which column holds the "
                "date, the coordinates and the category. Columns found: "
                f"{', '.join(repr(h) for h in header)}."
            )
        return read_generic_csv(path, mapping, progress=progress)
    return read_points(path, mapping, progress=progress)
