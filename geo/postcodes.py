"""Placing records that give a postcode or an LSOA code instead of coordinates, offline.

Emergency-department and ambulance extracts, and premises registers, often give no
coordinates: only the patient's or the premises' postcode, or the LSOA the record was coded
to. Hotspot places them with files the user imports once, so nothing is looked up over a
network:

* a **postcode directory** (``hotspot postcodes import FILE``), one of

  - the **ONS Postcode Directory** (ONSPD, ONS, OGL) as published: a CSV with a header row
    naming its columns (``pcd``, ``pcd2``, ``pcds``, ``dointr``, ``doterm``, ``oseast1m``,
    ``osnrth1m``, ``osgrdind``, ``lsoa21``/``lsoa11``, ``lat``, ``long`` ... in any case), or
    the download's zip, whose ``Data/ONSPD_*_UK.csv`` is read (the per-area copies in
    ``Data/multi_csv/`` only when the single file is absent). Live and terminated postcodes
    are kept; a postcode whose ``osgrdind`` is 9 (or with no ``oseast1m``/``osnrth1m``) is
    kept as having no grid reference. Northern Ireland's grid references in the ONSPD are on
    the Irish Grid, so ``BT`` postcodes are placed from the directory's ``lat``/``long``. The
    National Statistics Postcode Lookup (NSPL) has the same columns and is read the same way;
  - **OS Code-Point Open** (Ordnance Survey, OGL): CSV files with no header row and ten
    columns (:data:`CODE_POINT_COLUMNS`; a file starting with that header is read too), or the
    download's zip of one CSV per postcode area (``Data/CSV/*.csv``). It holds live postcodes
    only, in Great Britain, and no LSOA. A positional quality of 90 means no coordinates.

  Any of these may be gzipped. The lookup kept is one Parquet file, ``postcodes.parquet`` in
  the data directory's ``postcodes/`` folder: the postcode (upper case, no spaces), easting
  and northing (whole British National Grid metres, empty where there is no grid reference),
  LSOA code (2011 or 2021, as the directory gives; empty where none), the month it was
  terminated (``YYYY-MM``; empty while live) and the source; ``postcodes.json`` beside it says
  what was imported and when. An import replaces both in one step each, so a reader sees the
  old lookup or the new one, never half of either.

* **LSOA population-weighted centroids** (``hotspot lsoa-centroids import FILE``): the ONS
  "LSOA (December 2021 / 2011) Population Weighted Centroids" as a CSV (``LSOA21CD`` or
  ``LSOA11CD`` with ``x``/``y`` or ``BNG_E``/``BNG_N`` in metres, or ``LAT``/``LONG``),
  plain, gzipped or zipped, or GeoJSON/GeoPackage points in any CRS. Kept as
  ``lsoa_centroids.parquet`` in the same folder.

:class:`PostcodeLookup` and :class:`LsoaCentroids` place a whole column at once and give every
row either a point or a plain-English reason it has none. A postcode's grid reference is near
the middle of its addresses (about 15 on average: a street or part of one); an LSOA centroid
stands for about 1,500 residents' homes, so a point placed by LSOA says which neighbourhood,
not which street. For another module::

    lookup = PostcodeLookup.load(data)       # None if no directory is imported
    placed = lookup.place(postcodes)         # .easting .northing .lsoa .reason, row by row
    cent = LsoaCentroids.load(data)          # None if no centroids are imported
    placed = cent.place(lsoa_codes)

Every file is read as a stream within :func:`geo.settings.limits` (the decompressed size one
import may read: ``HOTSPOT_MAX_INGEST_DECOMPRESSED_MB``); zips are read in place, never
extracted, and one naming a member outside itself is refused.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import gzip
import io
import json
import re
import threading
import time
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from geo.atomic import replace_durably, temp_path, write_text_atomic
from geo.schema import ReadError
from geo.settings import CRS_METRIC, DataPaths, limits

__all__ = [
    "CODE_POINT",
    "CODE_POINT_COLUMNS",
    "LSOA_CENTROIDS_FILE",
    "LSOA_PATTERN",
    "NO_CENTROIDS_MESSAGE",
    "NO_POSTCODES_MESSAGE",
    "ONSPD",
    "POSTCODES_FILE",
    "POSTCODE_PATTERN",
    "CentroidImportSummary",
    "LsoaCentroids",
    "Placement",
    "PostcodeImportSummary",
    "PostcodeLookup",
    "format_postcodes",
    "import_lsoa_centroids",
    "import_postcodes",
    "lsoa_centroid_manifest",
    "normalise_lsoa_codes",
    "normalise_postcodes",
    "postcode_manifest",
    "require_lsoa_centroids",
    "require_postcode_lookup",
]

POSTCODES_FILE = "postcodes.parquet"
POSTCODES_MANIFEST = "postcodes.json"
LSOA_CENTROIDS_FILE = "lsoa_centroids.parquet"
LSOA_MANIFEST = "lsoa_centroids.json"
_META_KEY = b"hotspot.postcodes"

ONSPD = "ONSPD"
CODE_POINT = "Code-Point Open"

#: The columns of an OS Code-Point Open CSV file, in order (its data files have no header).
CODE_POINT_COLUMNS = (
    "Postcode", "Positional_quality_indicator", "Eastings", "Northings", "Country_code",
    "NHS_regional_HA_code", "NHS_HA_code", "Admin_county_code", "Admin_district_code",
    "Admin_ward_code",
)
#: The short header of the same columns (``Doc/Code-Point_Open_Column_Headers.csv``).
_CODE_POINT_SHORT = ("pc", "pq", "ea", "no", "cy", "rh", "lh", "cc", "dc", "wc")
#: Code-Point Open's positional quality for "no coordinates".
_CODE_POINT_NO_COORDS = "90"
#: ONSPD ``osgrdind`` for "no grid reference".
_ONSPD_NO_GRID = "9"

#: A UK postcode written without spaces, upper case (the shape, not a list of real ones):
#: outward code A9, A99, AA9, AA99, A9A or AA9A, then inward code 9AA.
POSTCODE_PATTERN = r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}"
#: An LSOA code of England (E01) or Wales (W01), 2011 or 2021.
LSOA_PATTERN = r"[EW]01[0-9]{6}"
_POSTCODE_RE = re.compile(POSTCODE_PATTERN)
_LSOA_RE = re.compile(LSOA_PATTERN)
_KEY_BYTES = 7  # the longest postcode without its space

#: What to tell a user who has not imported a postcode directory.
NO_POSTCODES_MESSAGE = (
    "no postcode directory is imported, so postcodes cannot be placed. Import the ONS "
    "Postcode Directory (ONSPD) or OS Code-Point Open once with: hotspot postcodes import FILE")
#: What to tell a user who has not imported LSOA centroids.
NO_CENTROIDS_MESSAGE = (
    "no LSOA centroids are imported, so LSOA codes cannot be placed. Import the ONS LSOA "
    "population-weighted centroids once with: hotspot lsoa-centroids import FILE")

#: Columns read from an ONSPD-layout header (compared ignoring case), most preferred first.
_ONSPD_POSTCODE = ("pcds", "pcd", "pcd2", "pcd7", "pcd8")
_ONSPD_EAST, _ONSPD_NORTH, _ONSPD_QUALITY = "oseast1m", "osnrth1m", "osgrdind"
_ONSPD_TERMINATED = "doterm"
_ONSPD_LSOA = ("lsoa21", "lsoa21cd", "lsoa11", "lsoa11cd")
_ONSPD_LAT, _ONSPD_LON = "lat", "long"
#: Folders of a download's zip that hold documentation and lookups, never data.
_DOC_FOLDERS = frozenset({"doc", "docs", "documents", "document", "user guide", "userguide",
                          "user_guide", "metadata"})
#: A zip with more members than this is not a postcode download (Code-Point Open: ~120).
MAX_ZIP_MEMBERS = 5_000
#: Bytes of each file read to find its header and layout.
_PEEK_BYTES = 1 << 16
#: Arrow reads CSV in blocks of this many bytes, so memory stays bounded on a 2 GB file.
_BLOCK_BYTES = 4 << 20

#: Most rows in an LSOA centroid file (England and Wales have about 36,000 LSOAs; a UK file
#: of small areas about 50,000).
MAX_CENTROID_ROWS = 250_000
#: Largest GeoJSON or GeoPackage of centroids read (it is read whole; the real one is ~10 MB).
MAX_CENTROID_FILE_BYTES = 512 << 20
_LSOA_CODE_COLS = ("lsoa21cd", "lsoa11cd", "lsoa21", "lsoa11", "lsoa_code", "lsoacd",
                   "lsoa", "code")
#: Coordinate column pairs tried in order; the first two are British National Grid metres, the
#: last longitude/latitude; ``x``/``y`` are judged by their values.
_XY_PAIRS = (("bng_e", "bng_n"), ("easting", "northing"), ("eastings", "northings"),
             ("x", "y"), ("long", "lat"), ("longitude", "latitude"), ("lon", "lat"))
_LONLAT_COLS = frozenset({"long", "longitude", "lon"})

#: Great Britain and Northern Ireland in British National Grid metres.
_BNG_BOUNDS = (0.0, 0.0, 700_000.0, 1_300_000.0)
#: Input text shown in a reason is cut to this many characters.
_SHOWN_CHARS = 40

_MISSING_TEXT = frozenset({"", "na", "n/a", "nan", "none", "null", "-"})


# --------------------------------------------------------------------------------------------
# Normalising
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Typed:
    """A column as typed (Arrow strings, null where missing) and packed for matching."""

    text: pa.Array  # as given, null where missing
    packed: pa.Array  # upper case, every space removed; null where missing
    missing: np.ndarray  # None, NaN, blank, "NA"...

    def shown(self, k: int) -> str:
        """Row ``k`` as typed, cut short, for a reason."""
        return _shown(self.text[k].as_py())


def _typed(values: Any) -> _Typed:
    """Read a column of postcodes or codes in Arrow, so a million rows cost no Python loop."""
    arr = np.asarray(values, dtype=object).reshape(-1)
    try:
        text = pa.array(arr, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers or other objects among the text
        missing = np.asarray(pd.isna(arr), dtype=bool)
        text = pa.array([None if m else str(v) for v, m in zip(arr.tolist(), missing.tolist(),
                                                               strict=True)], pa.string())
    packed = pc.utf8_upper(pc.replace_substring_regex(text, r"[\s\x{00a0}]+", ""))
    blank = pc.is_in(pc.utf8_lower(packed), value_set=pa.array(sorted(_MISSING_TEXT)))
    missing = np.asarray(pc.or_kleene(pc.is_null(text), blank).fill_null(True)
                         .to_numpy(zero_copy_only=False), dtype=bool)
    packed = pc.if_else(pa.array(missing), pa.scalar(None, pa.string()), packed)
    return _Typed(text, packed, missing)


def _matches(packed: pa.Array, pattern: str) -> np.ndarray:
    return np.asarray(pc.match_substring_regex(packed, f"^(?:{pattern})$").fill_null(False)
                      .to_numpy(zero_copy_only=False), dtype=bool)


def _packed(values: Any) -> np.ndarray:
    """Upper case with every space removed; None where missing (a new, writable array)."""
    return np.array(_typed(values).packed.to_numpy(zero_copy_only=False), dtype=object)


def normalise_postcodes(values: Any) -> np.ndarray:
    """Return postcodes as the lookup keeps them: upper case, every space removed.

    Parameters
    ----------
    values : array-like
        Postcodes as typed: any case, any spacing (``"fy1 1aa"``, ``" FY11AA "``,
        ``"FY1  1AA"``). None, NaN and blank (or ``NA``) are missing.

    Returns
    -------
    numpy.ndarray
        Object array of ``str`` (None where missing). Text that is not shaped like a postcode
        is returned normalised the same way; :data:`POSTCODE_PATTERN` tells the two apart.

    Examples
    --------
    >>> normalise_postcodes(["fy1 1aa", " M1   5JG", None, "", float("nan"), "not one"])
    array(['FY11AA', 'M15JG', None, None, None, 'NOTONE'], dtype=object)
    """
    return _packed(values)


def format_postcodes(normalised: Any) -> np.ndarray:
    """Write normalised postcodes with their one space: ``FY11AA`` -> ``FY1 1AA``.

    Examples
    --------
    >>> format_postcodes(np.array(["FY11AA", "SW1A1AA", None], dtype=object))
    array(['FY1 1AA', 'SW1A 1AA', None], dtype=object)
    """
    arr = np.asarray(normalised, dtype=object).reshape(-1)
    return np.array([None if v is None else f"{v[:-3]} {v[-3:]}" for v in arr.tolist()],
                    dtype=object)


def normalise_lsoa_codes(values: Any) -> np.ndarray:
    """Return LSOA codes upper case without spaces (None where missing).

    Examples
    --------
    >>> normalise_lsoa_codes([" e01012345", "W01000001", None, "NA"])
    array(['E01012345', 'W01000001', None, None], dtype=object)
    """
    return _packed(values)


def _shown(text: object) -> str:
    value = " ".join(str(text).split())
    return value if len(value) <= _SHOWN_CHARS else value[: _SHOWN_CHARS - 1] + "…"


def _shown_long(text: str) -> str:
    return text if len(text) <= 300 else text[:299] + "…"


def _keys(values: np.ndarray, width: int) -> np.ndarray:
    """Fixed-width byte keys of ASCII strings (their shape was checked), for searchsorted."""
    return np.array([v.encode("ascii") for v in values.tolist()], dtype=f"S{width}")


def _spaced(code: str) -> str:
    return f"{code[:-3]} {code[-3:]}"


# --------------------------------------------------------------------------------------------
# Placing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Placement:
    """Where each postcode or LSOA code was placed, or why it was not.

    Attributes
    ----------
    easting, northing : numpy.ndarray
        British National Grid metres (float64); NaN where not placed.
    lsoa : numpy.ndarray
        Object array: the LSOA code (2011 or 2021, as the directory gives) or None. A postcode
        in the directory has its LSOA even when it is not placed (terminated, or no grid
        reference), so a caller may fall back to the LSOA's centroid for one with no grid
        reference. Not for a terminated one (see ``terminated``): a record giving a postcode
        after it ended does not say where it happened, so its LSOA is no better a guess.
    reason : numpy.ndarray
        Object array: None where placed, else why not, in plain English (``"no postcode"``,
        ``"postcode not in the postcode directory: 'FY1 9ZZ'"``...).
    terminated : numpy.ndarray or None
        Boolean array: True where a postcode was not placed because it is terminated (for the
        record's date, when dates were given). None for LSOA codes.
    """

    easting: np.ndarray
    northing: np.ndarray
    lsoa: np.ndarray
    reason: np.ndarray
    terminated: np.ndarray | None = None

    @property
    def placed(self) -> np.ndarray:
        """Boolean array: True where a point was found."""
        return np.array([r is None for r in self.reason.tolist()], dtype=bool)

    def __len__(self) -> int:
        return len(self.reason)


def _months(at: Any, n: int) -> np.ndarray:
    """Each record's month as YYYYMM (int; -1 where unknown)."""
    series = pd.Series(at) if not isinstance(at, pd.Series) else at.reset_index(drop=True)
    if not pd.api.types.is_datetime64_any_dtype(series):
        # text is read as ISO 8601 only: a day-first "01/06/2019" must be parsed by the caller
        series = pd.to_datetime(series.astype(object), errors="coerce", format="ISO8601")
    stamps = series
    if len(stamps) != n:
        raise ValueError(f"at has {len(stamps)} values for {n} postcodes")
    months = (stamps.dt.year * 100 + stamps.dt.month).to_numpy(dtype="float64", na_value=np.nan)
    return np.where(np.isfinite(months), months, -1).astype("int64")


class PostcodeLookup:
    """The imported postcode directory, searchable a whole column at a time.

    Build it with :meth:`load` (the data directory's lookup) or :meth:`from_frame`.

    Examples
    --------
    >>> lookup = PostcodeLookup.from_frame(pd.DataFrame({
    ...     "postcode": ["FY1 1AA", "FY1 1AB", "FY1 1AD", "FY1 1AE"],
    ...     "easting": [330_900, 331_000, 331_100, None],
    ...     "northing": [436_400, 436_300, 436_200, None],
    ...     "lsoa": ["E01012345", "E01012345", "E01012346", None],
    ...     "terminated": [None, None, "2019-06", None]}))
    >>> placed = lookup.place(np.asarray(["fy11aa", "FY1 9ZZ", "FY1 1AD", "FY1 1AE", "bad",
    ...                                   None], dtype=object))
    >>> placed.easting.tolist()[:2], placed.lsoa.tolist()[:3]
    ([330900.0, nan], ['E01012345', None, 'E01012346'])
    >>> for reason in placed.reason:
    ...     print(reason)
    None
    postcode not in the postcode directory: 'FY1 9ZZ'
    postcode terminated (no longer in use since 2019-06): 'FY1 1AD'
    postcode has no grid reference in the postcode directory: 'FY1 1AE'
    not a postcode: 'bad'
    no postcode
    """

    def __init__(self, keys: np.ndarray, easting: np.ndarray, northing: np.ndarray,
                 lsoa_codes: np.ndarray, lsoa_names: np.ndarray, terminated_codes: np.ndarray,
                 terminated_names: np.ndarray, info: dict[str, Any] | None = None) -> None:
        self._keys = keys
        self._east = easting
        self._north = northing
        self._lsoa_codes = lsoa_codes
        self._lsoa_names = lsoa_names
        self._term_codes = terminated_codes
        self._term_names = terminated_names
        self._term_months = np.array(
            [int(t.replace("-", "")) if re.fullmatch(r"\d{4}-\d{2}", t) else 0
             for t in terminated_names.tolist()], dtype="int64")
        self.info: dict[str, Any] = dict(info or {})

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def source(self) -> str:
        """Where the lookup came from: ``"ONSPD"`` or ``"Code-Point Open"``."""
        return str(self.info.get("source", ""))

    def describe(self) -> str:
        """Say what the lookup holds, in one line.

        Examples
        --------
        >>> PostcodeLookup.from_frame(pd.DataFrame({"postcode": ["M1 5JG"], "easting": [383820],
        ...     "northing": [397770]}), source="ONSPD").describe()
        '1 postcode (1 live, 0 terminated; 0 with no grid reference) from ONSPD'
        """
        i = self.info
        plural = "" if len(self) == 1 else "s"
        text = (f"{len(self):,} postcode{plural} ({i.get('live', 0):,} live, "
                f"{i.get('terminated', 0):,} terminated; {i.get('no_grid_reference', 0):,} "
                f"with no grid reference) from {i.get('source', 'an unknown source')}")
        if i.get("file"):
            text += f" file {i['file']}"
        if i.get("imported_at"):
            text += f", imported {i['imported_at']}"
        return text

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, *, source: str = ONSPD) -> PostcodeLookup:
        """Build a lookup from a table (for tests and callers with their own directory).

        Parameters
        ----------
        frame : pandas.DataFrame
            ``postcode`` (any spacing and case), ``easting`` and ``northing`` (British
            National Grid metres; NaN for no grid reference), optionally ``lsoa`` and
            ``terminated`` (``YYYY-MM``, None while live). Rows that are not postcodes are
            left out; a repeated postcode keeps its first row.
        source : str
            What the table came from.
        """
        norm = normalise_postcodes(frame["postcode"].to_numpy(dtype=object))
        ok = np.array([v is not None and _POSTCODE_RE.fullmatch(v) is not None
                       for v in norm.tolist()], dtype=bool)
        n = len(frame)

        def col(name: str) -> np.ndarray:
            if name in frame.columns:
                return frame[name].to_numpy(dtype=object)
            return np.full(n, None, dtype=object)

        east = pd.to_numeric(pd.Series(col("easting")), errors="coerce").to_numpy("float64")
        north = pd.to_numeric(pd.Series(col("northing")), errors="coerce").to_numpy("float64")
        table = pa.table({
            "postcode": pa.array(norm[ok].tolist(), pa.string()),
            "easting": pa.array(np.round(east[ok]), pa.float64(), mask=~np.isfinite(east[ok])),
            "northing": pa.array(np.round(north[ok]), pa.float64(),
                                 mask=~np.isfinite(north[ok])),
            "lsoa": pa.array([_none(v) for v in col("lsoa")[ok].tolist()], pa.string()),
            "terminated": pa.array([_none(v) for v in col("terminated")[ok].tolist()],
                                   pa.string()),
        })
        table = _dedupe(table)
        live = int(pc.sum(pc.is_null(table["terminated"])).as_py() or 0)
        no_grid = int(pc.sum(pc.is_null(table["easting"])).as_py() or 0)
        return cls._from_table(table, {"source": source, "rows": table.num_rows, "live": live,
                                       "terminated": table.num_rows - live,
                                       "no_grid_reference": no_grid})

    @classmethod
    def _from_table(cls, table: pa.Table, info: dict[str, Any]) -> PostcodeLookup:
        keys = _fixed_keys(table["postcode"], _KEY_BYTES)
        east = _floats(table["easting"])
        north = _floats(table["northing"])
        lsoa_codes, lsoa_names = _dictionary(table["lsoa"])
        term_codes, term_names = _dictionary(table["terminated"])
        order = None
        if len(keys) > 1 and not bool(np.all(keys[1:] > keys[:-1])):
            order = np.argsort(keys, kind="stable")
        if order is not None:
            keys, east, north = keys[order], east[order], north[order]
            lsoa_codes, term_codes = lsoa_codes[order], term_codes[order]
        return cls(np.ascontiguousarray(keys), east, north, lsoa_codes, lsoa_names, term_codes,
                   term_names, info)

    @classmethod
    def load(cls, data: DataPaths) -> PostcodeLookup | None:
        """Return the postcode lookup imported into a data directory, or None if there is none.

        The lookup is read once and kept while its file is unchanged, so calling this for
        every file or request costs a ``stat``.

        Raises
        ------
        geo.schema.ReadError
            If the lookup file exists but cannot be read (import it again).
        """
        return _cached(data.postcodes / POSTCODES_FILE, _load_postcodes)

    def place(self, postcodes: Any, *, at: Any = None) -> Placement:
        """Place each postcode at its directory grid reference.

        Parameters
        ----------
        postcodes : array-like
            Postcodes as typed (any case and spacing); None, NaN and blanks are missing.
        at : array-like, optional
            Each record's date (datetimes, or ISO 8601 text). A terminated postcode is then
            placed for records dated before the month it was terminated (it was in use then).
            Without dates a terminated postcode is not placed.

        Returns
        -------
        Placement
            One entry per postcode, in order.
        """
        typed = _typed(postcodes)
        n = len(typed.missing)
        east = np.full(n, np.nan)
        north = np.full(n, np.nan)
        lsoa = np.full(n, None, dtype=object)
        reason = np.full(n, None, dtype=object)
        reason[typed.missing] = "no postcode"
        shaped = _matches(typed.packed, POSTCODE_PATTERN)
        for k in np.flatnonzero(~typed.missing & ~shaped).tolist():
            reason[k] = f"not a postcode: '{typed.shown(k)}'"
        idx = np.flatnonzero(shaped)
        ended = np.zeros(n, dtype=bool)
        if not len(idx):
            return Placement(east, north, lsoa, reason, ended)
        wanted = _fixed_keys(typed.packed.filter(pa.array(shaped)), _KEY_BYTES)
        if len(self._keys):
            at_row = np.minimum(np.searchsorted(self._keys, wanted), len(self._keys) - 1)
            found = self._keys[at_row] == wanted
        else:
            at_row, found = np.zeros(len(idx), dtype="int64"), np.zeros(len(idx), dtype=bool)

        def text(k: int) -> str:
            return _spaced(str(typed.packed[k].as_py()))

        for k in idx[~found].tolist():
            reason[k] = f"postcode not in the postcode directory: '{text(k)}'"
        rows = at_row[found]
        hit = idx[found]
        codes = self._lsoa_codes[rows]
        if len(self._lsoa_names):
            known = codes >= 0
            lsoa[hit[known]] = self._lsoa_names[codes[known]]
        term = self._term_codes[rows]
        terminated = term >= 0
        if at is not None and terminated.any():
            month = _months(at, n)[hit]
            end_month = self._term_months[np.maximum(term, 0)]
            terminated &= ~((month > 0) & (end_month > 0) & (month < end_month))
        ended[hit[terminated]] = True
        e = self._east[rows].astype("float64")
        no_grid = ~np.isfinite(e) & ~terminated
        for k, t in zip(hit[terminated].tolist(), term[terminated].tolist(), strict=True):
            since = self._term_names[t]
            reason[k] = (f"postcode terminated (no longer in use since {since}): '{text(k)}'"
                         if since else f"postcode terminated (no longer in use): '{text(k)}'")
        for k in hit[no_grid].tolist():
            reason[k] = f"postcode has no grid reference in the postcode directory: '{text(k)}'"
        good = ~terminated & ~no_grid
        east[hit[good]] = e[good]
        north[hit[good]] = self._north[rows][good].astype("float64")
        return Placement(east, north, lsoa, reason, ended)


def _none(value: object) -> str | None:
    if value is None or (isinstance(value, float) and value != value):
        return None
    text = str(value).strip()
    return text or None


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    values = column.to_numpy(zero_copy_only=False) if isinstance(column, pa.ChunkedArray) \
        else column.to_numpy(zero_copy_only=False)
    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype="float32")


def _dictionary(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes (-1 for null) and the distinct values of a string column."""
    arr = column.combine_chunks()
    if not pa.types.is_dictionary(arr.type):
        arr = pc.dictionary_encode(arr)
    codes = arr.indices.to_numpy(zero_copy_only=False)
    codes = np.where(arr.is_null().to_numpy(zero_copy_only=False), -1,
                     np.nan_to_num(codes, nan=-1)).astype("int32")
    names = np.array(arr.dictionary.to_pylist(), dtype=object)
    return codes, names


def _fixed_keys(column: pa.ChunkedArray | pa.Array, width: int) -> np.ndarray:
    """Fixed-width byte keys (NUL-padded) of an Arrow column of ASCII strings up to ``width``.

    Built in Arrow, without a Python string per row: 2.7 million postcodes take 19 MB.
    """
    chunks = column.chunks if isinstance(column, pa.ChunkedArray) else [column]
    parts = [np.empty(0, dtype=f"S{width}")]
    for chunk in chunks:
        if not len(chunk):
            continue
        fixed = pc.utf8_rpad(chunk, width, "\x00").cast(pa.binary()).cast(pa.binary(width))
        data = fixed.buffers()[1]
        assert data is not None
        parts.append(np.frombuffer(data, dtype=f"S{width}")[fixed.offset:fixed.offset + len(fixed)])
    return np.concatenate(parts)


def _dedupe(table: pa.Table) -> pa.Table:
    """Sort by postcode and keep one row of each: live with a grid reference first.

    One ``take`` of the rows kept, so a national directory is copied once, not three times.
    """
    if table.num_rows == 0:
        return table
    keys = _fixed_keys(table["postcode"], _KEY_BYTES)
    rank = (table["terminated"].is_valid().to_numpy(zero_copy_only=False).astype("int8")
            + 2 * table["easting"].is_null().to_numpy(zero_copy_only=False).astype("int8"))
    order = np.lexsort((rank, keys))
    ordered = keys[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = ordered[1:] != ordered[:-1]
    return table.take(pa.array(order[first]))


# --------------------------------------------------------------------------------------------
# LSOA centroids
# --------------------------------------------------------------------------------------------


class LsoaCentroids:
    """LSOA population-weighted centroids, searchable a whole column at a time.

    Examples
    --------
    >>> cent = LsoaCentroids.from_frame(pd.DataFrame({"code": ["E01012345", "W01000001"],
    ...     "easting": [331_000.5, 318_000.0], "northing": [436_000.0, 175_000.0]}))
    >>> placed = cent.place(np.asarray(["e01012345", "E01999999", "S01000001", None],
    ...                                dtype=object))
    >>> placed.easting.tolist(), placed.lsoa.tolist()
    ([331000.5, nan, nan, nan], ['E01012345', None, None, None])
    >>> placed.reason.tolist()[1:]
    ["LSOA code not recognised: 'E01999999'", "not an LSOA code: 'S01000001'", 'no LSOA code']
    """

    def __init__(self, codes: np.ndarray, easting: np.ndarray, northing: np.ndarray,
                 info: dict[str, Any] | None = None) -> None:
        order = np.argsort(codes, kind="stable")
        self._codes = np.ascontiguousarray(codes[order])
        self._east = np.asarray(easting, dtype="float64")[order]
        self._north = np.asarray(northing, dtype="float64")[order]
        self.info: dict[str, Any] = dict(info or {})

    def __len__(self) -> int:
        return len(self._codes)

    def describe(self) -> str:
        """Say what is imported, in one line."""
        i = self.info
        text = f"{len(self):,} LSOA centroids"
        if i.get("vintage"):
            text += f" ({i['vintage']} LSOAs)"
        if i.get("file"):
            text += f" from {i['file']}"
        if i.get("imported_at"):
            text += f", imported {i['imported_at']}"
        return text

    @classmethod
    def from_frame(cls, frame: pd.DataFrame) -> LsoaCentroids:
        """Build from a table of ``code``, ``easting`` and ``northing`` (BNG metres)."""
        codes = normalise_lsoa_codes(frame["code"].to_numpy(dtype=object))
        ok = np.array([c is not None and _LSOA_RE.fullmatch(c) is not None
                       for c in codes.tolist()], dtype=bool)
        east = pd.to_numeric(frame["easting"], errors="coerce").to_numpy("float64")
        north = pd.to_numeric(frame["northing"], errors="coerce").to_numpy("float64")
        ok &= np.isfinite(east) & np.isfinite(north)
        return cls(_keys(codes[ok], 9), east[ok], north[ok], {"rows": int(ok.sum())})

    @classmethod
    def load(cls, data: DataPaths) -> LsoaCentroids | None:
        """Return the LSOA centroids imported into a data directory, or None.

        Raises
        ------
        geo.schema.ReadError
            If the file exists but cannot be read (import it again).
        """
        return _cached(data.postcodes / LSOA_CENTROIDS_FILE, _load_centroids)

    def place(self, codes: Any) -> Placement:
        """Place each LSOA code at its population-weighted centroid.

        Parameters
        ----------
        codes : array-like
            LSOA codes (``E01``/``W01`` and six digits; any case, spaces ignored); None, NaN
            and blanks are missing.

        Returns
        -------
        Placement
            ``lsoa`` is the code where it was recognised.
        """
        typed = _typed(codes)
        n = len(typed.missing)
        east = np.full(n, np.nan)
        north = np.full(n, np.nan)
        lsoa = np.full(n, None, dtype=object)
        reason = np.full(n, None, dtype=object)
        reason[typed.missing] = "no LSOA code"
        shaped = _matches(typed.packed, LSOA_PATTERN)
        for k in np.flatnonzero(~typed.missing & ~shaped).tolist():
            reason[k] = f"not an LSOA code: '{typed.shown(k)}'"
        idx = np.flatnonzero(shaped)
        if not len(idx):
            return Placement(east, north, lsoa, reason)
        wanted = _fixed_keys(typed.packed.filter(pa.array(shaped)), 9)
        if len(self._codes):
            at_row = np.minimum(np.searchsorted(self._codes, wanted), len(self._codes) - 1)
            found = self._codes[at_row] == wanted
        else:
            at_row, found = np.zeros(len(idx), dtype="int64"), np.zeros(len(idx), dtype=bool)
        for k in idx[~found].tolist():
            reason[k] = f"LSOA code not recognised: '{typed.packed[k].as_py()}'"
        hit = idx[found]
        east[hit] = self._east[at_row[found]]
        north[hit] = self._north[at_row[found]]
        lsoa[hit] = np.asarray(wanted[found].astype("U9"), dtype=object)
        return Placement(east, north, lsoa, reason)


def require_postcode_lookup(data: DataPaths) -> PostcodeLookup:
    """Return the imported postcode lookup, or raise a ReadError saying how to import one."""
    lookup = PostcodeLookup.load(data)
    if lookup is None:
        raise ReadError(NO_POSTCODES_MESSAGE)
    return lookup


def require_lsoa_centroids(data: DataPaths) -> LsoaCentroids:
    """Return the imported LSOA centroids, or raise a ReadError saying how to import them."""
    cent = LsoaCentroids.load(data)
    if cent is None:
        raise ReadError(NO_CENTROIDS_MESSAGE)
    return cent


# --------------------------------------------------------------------------------------------
# Loading and caching
# --------------------------------------------------------------------------------------------

_CACHE: dict[str, tuple[tuple[int, int, int], Any]] = {}
_CACHE_LOCK = threading.Lock()


def _cached(path: Path, loader: Callable[[Path], Any]) -> Any:
    try:
        st = path.stat()
    except FileNotFoundError:
        with _CACHE_LOCK:
            _CACHE.pop(str(path), None)
        return None
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _CACHE_LOCK:
        hit = _CACHE.get(str(path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
    value = loader(path)
    with _CACHE_LOCK:
        _CACHE[str(path)] = (stamp, value)
    return value


def _stored_info(table_or_schema: pa.Table | pa.Schema) -> dict[str, Any]:
    meta = (table_or_schema.schema if isinstance(table_or_schema, pa.Table)
            else table_or_schema).metadata or {}
    try:
        info = json.loads(meta.get(_META_KEY, b"{}"))
    except ValueError:
        return {}
    return info if isinstance(info, dict) else {}


def _load_postcodes(path: Path) -> PostcodeLookup:
    try:
        table = pq.read_table(path, columns=["postcode", "easting", "northing", "lsoa",
                                             "terminated"],
                              read_dictionary=["lsoa", "terminated"])
    except (OSError, pa.ArrowException) as exc:
        raise ReadError(f"{path}: the imported postcode directory could not be read ({exc}); "
                        "import it again with: hotspot postcodes import FILE") from None
    return PostcodeLookup._from_table(table, _stored_info(table))


def _load_centroids(path: Path) -> LsoaCentroids:
    try:
        table = pq.read_table(path, columns=["lsoa", "easting", "northing"])
    except (OSError, pa.ArrowException) as exc:
        raise ReadError(f"{path}: the imported LSOA centroids could not be read ({exc}); "
                        "import them again with: hotspot lsoa-centroids import FILE") from None
    codes = np.array(table["lsoa"].to_pylist(), dtype="S9")
    return LsoaCentroids(codes, table["easting"].to_numpy(), table["northing"].to_numpy(),
                         _stored_info(table))


# --------------------------------------------------------------------------------------------
# Reading files: plain, gzipped or zipped, within the size limit
# --------------------------------------------------------------------------------------------


class _Spent:
    """Bytes decompressed so far in one import, against the limit."""

    def __init__(self) -> None:
        self.limit = limits().ingest_decompressed_bytes
        self.bytes = 0

    def message(self, label: str) -> str:
        return (f"{label}: decompresses to more than {self.limit >> 20:,} MB, the most one "
                "import may read (setting HOTSPOT_MAX_INGEST_DECOMPRESSED_MB).")


class _Limited(io.RawIOBase):
    """A binary stream that refuses to give more bytes than the import's limit."""

    def __init__(self, raw: IO[bytes], label: str, spent: _Spent,
                 also_close: Sequence[IO[bytes]] = ()) -> None:
        self.raw, self.label, self.spent = raw, label, spent
        self.also_close = list(also_close)  # a decompressor's source, which it leaves open

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:
            data = self.raw.read(len(buffer))
        except (zlib.error, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
            raise ReadError(f"{self.label}: the file is damaged or cut short ({exc}); "
                            "download it again.") from None
        self.spent.bytes += len(data)
        if self.spent.bytes > self.spent.limit:
            raise ReadError(self.spent.message(self.label))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        for stream in (self.raw, *self.also_close):
            with contextlib.suppress(Exception):
                stream.close()
        super().close()


@dataclass
class _Member:
    """One CSV text inside the file given: how to open it afresh, and what to call it."""

    label: str
    opener: Callable[[], IO[bytes]]


def _unsafe_member(name: str) -> bool:
    """Say whether a zip member name points outside the archive (absolute, ``..``, a drive)."""
    text = name.replace("\\", "/")
    if text.startswith("/") or re.match(r"^[A-Za-z]:", text):
        return True
    return ".." in PurePosixPath(text).parts


def _in_doc_folder(name: str) -> bool:
    folders = PurePosixPath(name.replace("\\", "/")).parts[:-1]
    return any(f.strip().lower() in _DOC_FOLDERS for f in folders)


@contextlib.contextmanager
def _members(path: Path, spent: _Spent, *, what: str,
             pick: Callable[[list[zipfile.ZipInfo]], list[zipfile.ZipInfo]] | None = None
             ) -> Iterator[list[_Member]]:
    """Yield the CSV texts of ``path``: itself, gunzipped, or the CSVs inside a zip."""
    if not path.is_file():
        raise ReadError(f"{path}: no such file.")
    if path.stat().st_size == 0:
        raise ReadError(f"{path.name}: the file is empty.")
    with open(path, "rb") as fh:
        magic = fh.read(4)

    def limited(raw: IO[bytes], label: str, gzipped: bool = False) -> IO[bytes]:
        if gzipped:
            return io.BufferedReader(_Limited(
                cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb")), label, spent, [raw]),
                1 << 20)
        return io.BufferedReader(_Limited(raw, label, spent), 1 << 20)

    if magic.startswith(b"PK"):
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise ReadError(f"{path.name}: not a readable zip ({exc}); download it again.") \
                from None
        with zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise ReadError(f"{path.name}: the zip holds {len(infos):,} files, more than "
                                f"the {MAX_ZIP_MEMBERS:,} a {what} download has; it is not "
                                "read.")
            for m in infos:
                if _unsafe_member(m.filename):
                    raise ReadError(
                        f"{path.name}: the zip holds a file named '{_shown(m.filename)}', "
                        f"which points outside the archive; a genuine {what} download never "
                        "does, so the zip is not read.")
            csvs = [m for m in infos if not m.is_dir() and not _in_doc_folder(m.filename)
                    and m.filename.lower().endswith((".csv", ".csv.gz"))]
            if pick is not None:
                csvs = pick(csvs)
            if not csvs:
                raise ReadError(f"{path.name}: the zip holds no CSV data file (is it an Excel "
                                f"workbook, or not a {what} download?).")
            for m in csvs:
                if m.file_size > spent.limit:
                    raise ReadError(spent.message(f"{path.name}:{m.filename}"))
                if m.flag_bits & 0x1:
                    raise ReadError(f"{path.name}:{m.filename}: the file is encrypted; "
                                    "export it without a password.")

            def opener(m: zipfile.ZipInfo, label: str) -> Callable[[], IO[bytes]]:
                def open_member() -> IO[bytes]:
                    try:
                        raw: IO[bytes] = zf.open(m)
                    except (NotImplementedError, zipfile.BadZipFile, RuntimeError) as exc:
                        raise ReadError(f"{label}: cannot be read from the zip ({exc}).") \
                            from None
                    return limited(raw, label, m.filename.lower().endswith(".gz"))
                return open_member

            yield [_Member(f"{path.name}:{m.filename}", opener(m, f"{path.name}:{m.filename}"))
                   for m in sorted(csvs, key=lambda m: m.filename)]
        return
    gzipped = magic.startswith(b"\x1f\x8b")

    def open_file() -> IO[bytes]:
        raw = open(path, "rb")  # noqa: SIM115 -- closed with the stream it feeds
        return limited(raw, path.name, gzipped)

    yield [_Member(path.name, open_file)]


def _peek(member: _Member) -> tuple[list[str] | None, int, str]:
    """Return the first non-blank CSV row, the lines up to and including it, and its text.

    Raises
    ------
    geo.schema.ReadError
        For binary data (a NUL byte) or a first line that is not CSV.
    """
    with member.opener() as fh:
        head = fh.read(_PEEK_BYTES)
    if b"\x00" in head:
        raise ReadError(f"{member.label}: this is not a text CSV file (it holds binary data).")
    text = head.decode("utf-8-sig", errors="replace")
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip():
            try:
                row = next(csv.reader([line]))
            except csv.Error as exc:
                raise ReadError(f"{member.label}: the first line is not CSV ({exc}).") from None
            return [f.strip() for f in row], i + 1, line
    return None, 0, ""


# --------------------------------------------------------------------------------------------
# Postcode directories
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Layout:
    """Where the wanted columns of one postcode file are (0-based), and how to read it."""

    source: str
    width: int
    skip_lines: int
    postcode: int
    east: int
    north: int
    quality: int | None = None
    terminated: int | None = None
    lsoa: int | None = None
    lsoa_column: str | None = None
    lat: int | None = None
    lon: int | None = None


def _looks_code_point_row(fields: list[str]) -> bool:
    if len(fields) != len(CODE_POINT_COLUMNS):
        return False
    code = "".join(fields[0].upper().split())
    return (_POSTCODE_RE.fullmatch(code) is not None and fields[1].strip().isdigit()
            and fields[2].strip().isdigit() and fields[3].strip().isdigit())


def _postcode_layout(member: _Member) -> _Layout | str:
    """Return the layout of a postcode file, or why it is not one (a sentence)."""
    first, lines, line = _peek(member)
    if first is None:
        return "empty"
    folded = [f.lower() for f in first]
    listed = ", ".join(repr(f) for f in first[:14]) + (" ..." if len(first) > 14 else "")

    def at(name: str) -> int | None:
        return folded.index(name) if name in folded else None

    pc_name = next((c for c in _ONSPD_POSTCODE if c in folded), None)
    if pc_name is not None:
        east, north = at(_ONSPD_EAST), at(_ONSPD_NORTH)
        if east is None or north is None:
            return (f"{member.label}: it has a postcode column ('{first[folded.index(pc_name)]}') "
                    "but no grid reference columns (oseast1m and osnrth1m, as in the ONS "
                    f"Postcode Directory). The columns are {listed}.")
        lsoa_name = next((c for c in _ONSPD_LSOA if c in folded), None)
        return _Layout(ONSPD, len(first), lines, folded.index(pc_name), east, north,
                       quality=at(_ONSPD_QUALITY), terminated=at(_ONSPD_TERMINATED),
                       lsoa=None if lsoa_name is None else folded.index(lsoa_name),
                       lsoa_column=None if lsoa_name is None else first[folded.index(lsoa_name)],
                       lat=at(_ONSPD_LAT), lon=at(_ONSPD_LON))
    cp_long = [c.lower() for c in CODE_POINT_COLUMNS]
    if folded == cp_long or folded == list(_CODE_POINT_SHORT):
        return _Layout(CODE_POINT, len(first), lines, 0, 2, 3, quality=1)
    if _looks_code_point_row(first):
        return _Layout(CODE_POINT, len(first), lines - 1, 0, 2, 3, quality=1)
    return (f"{member.label}: not a postcode directory: no postcode column was found. The ONS "
            "Postcode Directory has a header row naming pcds, pcd or pcd2 with oseast1m and "
            "osnrth1m; OS Code-Point Open has no header row and 10 columns starting with the "
            f"postcode. The first line is: '{_shown(line)}'.")


def _pick_onspd(members: list[zipfile.ZipInfo]) -> list[zipfile.ZipInfo]:
    """Choose the data files of a download (ONSPD holds its data whole and again per area)."""
    def name(m: zipfile.ZipInfo) -> str:
        return PurePosixPath(m.filename.replace("\\", "/")).name.lower()

    def in_multi(m: zipfile.ZipInfo) -> bool:
        return any(p.lower() == "multi_csv" for p in PurePosixPath(
            m.filename.replace("\\", "/")).parts[:-1])

    whole = [m for m in members if not in_multi(m)
             and re.fullmatch(r"(onspd|nspl)[0-9]*_.*_uk\.csv(\.gz)?", name(m))]
    if whole:
        return whole
    multi = [m for m in members if in_multi(m)]
    return multi or members


@dataclass
class PostcodeImportSummary:
    """What happened to every row of a postcode directory import."""

    files: list[str]
    source: str = ""
    read: int = 0
    kept: int = 0
    live: int = 0
    terminated: int = 0
    no_grid_reference: int = 0
    with_lsoa: int = 0
    lsoa_column: str | None = None
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    lookup_file: str = ""

    def as_json(self) -> dict[str, Any]:
        """Return the summary as the ``hotspot postcodes import --json`` object."""
        return asdict(self)

    def as_text(self) -> str:
        """Return the summary as lines for a person."""
        lines = [f"{', '.join(self.files)} ({self.source})",
                 f"  rows read:                  {self.read:>12,}",
                 f"  postcodes kept:             {self.kept:>12,}",
                 f"    live:                     {self.live:>12,}",
                 f"    terminated:               {self.terminated:>12,}",
                 f"    with no grid reference:   {self.no_grid_reference:>12,}",
                 f"    with an LSOA code:        {self.with_lsoa:>12,}"
                 + (f"  ({self.lsoa_column})" if self.lsoa_column else ""),
                 f"  rows left out:              {self.skipped:>12,}"]
        for reason, count in sorted(self.skipped_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {count:>12,}  {reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"Postcodes are now placed from this directory ({self.seconds:.0f} s; "
                     f"{self.lookup_file}).")
        return "\n".join(lines)


def _trimmed(column: pa.Array) -> pa.Array:
    """Strings with blanks trimmed; empty as null."""
    text = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(text, ""), pa.scalar(None, pa.string()), text)


def _numbers(column: pa.Array) -> pa.Array:
    text = _trimmed(column)
    ok = pc.match_substring_regex(text, r"^[+-]?[0-9]+(\.[0-9]*)?$")
    return pc.cast(pc.if_else(ok, text, pa.scalar(None, pa.string())), pa.float64())


def _postcode_batch(batch: pa.RecordBatch, layout: _Layout, reasons: Counter[str]
                    ) -> pa.Table:
    """Turn one block of rows into the lookup's columns; count rows left out."""
    def col(i: int | None) -> pa.Array | None:
        return None if i is None else batch.column(f"c{i}")

    raw_pc = col(layout.postcode)
    assert raw_pc is not None
    code = pc.utf8_upper(pc.replace_substring_regex(raw_pc, r"\s+", ""))
    ok = pc.fill_null(pc.match_substring_regex(code, f"^{POSTCODE_PATTERN}$"), False)
    bad = batch.num_rows - int(pc.sum(ok).as_py() or 0)
    if bad:
        blank = int(pc.sum(pc.equal(code, "")).as_py() or 0)
        if blank:
            reasons["no postcode"] += blank
        if bad - blank:
            reasons["not a postcode"] += bad - blank
    east = _numbers(col(layout.east))
    north = _numbers(col(layout.north))
    quality = col(layout.quality)
    no_grid = pc.or_kleene(pc.is_null(east), pc.is_null(north))
    no_grid = pc.or_(no_grid, pc.and_(pc.equal(pc.fill_null(east, -1), 0),
                                      pc.equal(pc.fill_null(north, -1), 0)))
    if quality is not None:
        flag = _ONSPD_NO_GRID if layout.source == ONSPD else _CODE_POINT_NO_COORDS
        no_grid = pc.or_(no_grid, pc.equal(pc.fill_null(_trimmed(quality), ""), flag))
    e = east.to_numpy(zero_copy_only=False)
    n = north.to_numpy(zero_copy_only=False)
    missing = np.asarray(no_grid.to_numpy(zero_copy_only=False), dtype=bool)
    e = np.where(missing, np.nan, e).astype("float64")
    n = np.where(missing, np.nan, n).astype("float64")
    if layout.source == ONSPD:
        # ONSPD gives Northern Ireland's grid references on the Irish Grid: use its lat/long.
        ni = np.asarray(pc.fill_null(pc.starts_with(code, "BT"), False).to_numpy(
            zero_copy_only=False), dtype=bool)
        e[ni] = n[ni] = np.nan
        if ni.any() and layout.lat is not None and layout.lon is not None:
            lat = _numbers(col(layout.lat)).to_numpy(zero_copy_only=False)[ni]
            lon = _numbers(col(layout.lon)).to_numpy(zero_copy_only=False)[ni]
            with np.errstate(invalid="ignore"):
                usable = (np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90)
                          & (lat != 99.999999) & (np.abs(lon) <= 180))
            if usable.any():
                from geo.projection import to_bng

                be, bn = to_bng(lon[usable], lat[usable])
                where = np.flatnonzero(ni)[usable]
                e[where], n[where] = be, bn
    xmin, ymin, xmax, ymax = _BNG_BOUNDS
    with np.errstate(invalid="ignore"):
        outside = np.isfinite(e) & ~((e >= xmin) & (e <= xmax) & (n >= ymin) & (n <= ymax))
    if outside.any():
        reasons["grid reference outside Great Britain and Northern Ireland (kept as no grid "
                "reference)"] += int((outside & np.asarray(ok.to_numpy(zero_copy_only=False),
                                                           dtype=bool)).sum())
        e[outside] = n[outside] = np.nan
    rounded_e = np.round(e)
    rounded_n = np.round(n)
    if layout.terminated is not None:
        term_text = _trimmed(col(layout.terminated))
        well = pc.fill_null(pc.match_substring_regex(term_text, r"^[0-9]{6}$"), False)
        formatted = pc.binary_join_element_wise(pc.utf8_slice_codeunits(term_text, 0, 4),
                                                pc.utf8_slice_codeunits(term_text, 4, 6), "-")
        terminated = pc.if_else(well, formatted,
                                pc.if_else(pc.is_valid(term_text), pa.scalar("", pa.string()),
                                           pa.scalar(None, pa.string())))
    else:
        terminated = pa.nulls(batch.num_rows, pa.string())
    if layout.lsoa is not None:
        lsoa_text = pc.utf8_upper(_trimmed(col(layout.lsoa)))
        lsoa = pc.if_else(pc.fill_null(pc.match_substring_regex(lsoa_text, f"^{LSOA_PATTERN}$"),
                                       False), lsoa_text, pa.scalar(None, pa.string()))
    else:
        lsoa = pa.nulls(batch.num_rows, pa.string())
    table = pa.table({
        "postcode": code,
        "easting": pa.array(np.nan_to_num(rounded_e).astype("int32"), pa.int32(),
                            mask=~np.isfinite(rounded_e)),
        "northing": pa.array(np.nan_to_num(rounded_n).astype("int32"), pa.int32(),
                             mask=~np.isfinite(rounded_n)),
        "lsoa": lsoa,
        "terminated": terminated,
    })
    return table.filter(ok)


def _read_postcode_member(member: _Member, layout: _Layout, reasons: Counter[str]
                          ) -> tuple[list[pa.Table], int]:
    names = [f"c{i}" for i in range(layout.width)]
    wanted = sorted({i for i in (layout.postcode, layout.east, layout.north, layout.quality,
                                 layout.terminated, layout.lsoa, layout.lat, layout.lon)
                     if i is not None})
    parts: list[pa.Table] = []
    rows = 0
    stream = member.opener()
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=layout.skip_lines,
                                           block_size=_BLOCK_BYTES),
            convert_options=pacsv.ConvertOptions(
                include_columns=[names[i] for i in wanted],
                column_types={names[i]: pa.string() for i in wanted},
                strings_can_be_null=False, quoted_strings_can_be_null=False))
        for batch in reader:
            rows += batch.num_rows
            parts.append(_postcode_batch(batch, layout, reasons))
    except ReadError:
        raise
    except pa.ArrowInvalid as exc:
        text = str(exc)
        if "Empty CSV file" in text:
            return parts, rows
        if "UTF8" in text or "UTF-8" in text:
            raise ReadError(f"{member.label}: is not UTF-8 text ({text}); a postcode directory "
                            "is plain ASCII, so this file is damaged or not one.") from None
        # A row of the wrong width is refused, not skipped: in a published directory it means
        # the file is cut short or damaged, and half a directory would misplace records.
        raise ReadError(f"{member.label}: could not be read as CSV ({_shown_long(text)}); the "
                        "file may be cut short or damaged: download it again.") from None
    except (zlib.error, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
        raise ReadError(f"{member.label}: the file is damaged or cut short ({exc}); download "
                        "it again.") from None
    finally:
        stream.close()
    return parts, rows


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _write_parquet(table: pa.Table, dest: Path) -> None:
    tmp = temp_path(dest)
    try:
        pq.write_table(table, tmp, compression="zstd")
        replace_durably(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def import_postcodes(path: Path | str, data: DataPaths) -> PostcodeImportSummary:
    r"""Read a postcode directory and make it the data directory's postcode lookup.

    Parameters
    ----------
    path : Path or str
        The ONS Postcode Directory (its CSV or the download's zip) or OS Code-Point Open (a
        CSV, or the zip of one CSV per postcode area); any CSV may be gzipped.
    data : geo.settings.DataPaths
        The data directory; the lookup is written to ``data.postcodes``.

    Returns
    -------
    PostcodeImportSummary

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be read, is not a postcode directory (the message says what was
        looked for and what was found), exceeds the size limit, or holds no postcode. The
        lookup in use is then left as it was.

    Examples
    --------
    >>> import tempfile
    >>> d = DataPaths(Path(tempfile.mkdtemp()))
    >>> f = d.root / "cp.csv"
    >>> _ = f.write_text('"FY1 1AA",10,330900,436400,"E92000001","E19000001","E18000002",'
    ...                  '"","E06000009","E05001633"\n')
    >>> import_postcodes(f, d).kept
    1
    >>> PostcodeLookup.load(d).place(["FY1 1AA"]).easting.tolist()
    [330900.0]
    """
    path = Path(path)
    started = time.monotonic()
    summary = PostcodeImportSummary(files=[path.name])
    reasons: Counter[str] = Counter()
    spent = _Spent()
    parts: list[pa.Table] = []
    sources: set[str] = set()
    lsoa_columns: set[str] = set()
    refusals: list[str] = []
    with _members(path, spent, what="postcode directory", pick=_pick_onspd) as members:
        for member in members:
            layout = _postcode_layout(member)
            if layout == "empty":
                summary.notes.append(f"{member.label} is empty.")
                continue
            if isinstance(layout, str):
                if len(members) == 1:
                    raise ReadError(layout)
                refusals.append(layout)
                continue
            sources.add(layout.source)
            if len(sources) > 1:
                raise ReadError(f"{path.name}: mixes ONS Postcode Directory and Code-Point Open "
                                "files; import one of them.")
            if layout.lsoa_column:
                lsoa_columns.add(layout.lsoa_column)
            got, rows = _read_postcode_member(member, layout, reasons)
            parts.extend(got)
            summary.read += rows
    if refusals:
        summary.notes.append(f"{len(refusals):,} CSV file(s) in the zip were not postcode "
                             f"files and were left out, e.g. {refusals[0]}")
    if not sources:
        raise ReadError(refusals[0] if refusals else
                        f"{path.name}: the file is empty (no postcode rows).")
    summary.source = sources.pop()
    table = pa.concat_tables(parts) if parts else None
    if table is None or table.num_rows == 0:
        raise ReadError(f"{path.name}: no postcode could be read ("
                        + ("; ".join(f"{n:,} {r}" for r, n in reasons.most_common(3))
                           or "no data rows") + "). The postcode lookup in use is unchanged.")
    before = table.num_rows
    table = _dedupe(table)
    del parts  # the rows as read: only the sorted copy is needed from here
    if before > table.num_rows:
        reasons["a repeat of an earlier row's postcode"] += before - table.num_rows
    terminated_n = int(pc.sum(pc.is_valid(table["terminated"])).as_py() or 0)
    summary.kept = table.num_rows
    summary.terminated = terminated_n
    summary.live = table.num_rows - terminated_n
    summary.no_grid_reference = int(pc.sum(pc.is_null(table["easting"])).as_py() or 0)
    summary.with_lsoa = int(pc.sum(pc.is_valid(table["lsoa"])).as_py() or 0)
    summary.lsoa_column = ", ".join(sorted(lsoa_columns)) or None
    summary.skipped_by_reason = {r: n for r, n in reasons.items()
                                 if not r.startswith("grid reference outside")}
    summary.skipped = sum(summary.skipped_by_reason.values())
    for r, n in reasons.items():
        if r.startswith("grid reference outside"):
            summary.notes.append(f"{n:,} postcodes have a {r}.")
    if summary.source == CODE_POINT:
        summary.notes.append("Code-Point Open holds live postcodes in Great Britain only, and "
                             "no LSOA codes: terminated and Northern Ireland postcodes will be "
                             "reported as not in the directory.")
    info = {"file": path.name, "source": summary.source, "rows": summary.kept,
            "live": summary.live, "terminated": summary.terminated,
            "no_grid_reference": summary.no_grid_reference, "with_lsoa": summary.with_lsoa,
            "lsoa_column": summary.lsoa_column,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds")}
    out = pa.table({
        "postcode": table["postcode"],
        "easting": table["easting"],
        "northing": table["northing"],
        "lsoa": pc.dictionary_encode(table["lsoa"]),
        "terminated": pc.dictionary_encode(table["terminated"]),
        "source": pc.dictionary_encode(pa.array([summary.source] * table.num_rows,
                                                pa.string())),
    }).replace_schema_metadata({_META_KEY: json.dumps(info).encode()})
    folder = data.postcodes
    with _locked(folder):
        _write_parquet(out, folder / POSTCODES_FILE)
        write_text_atomic(folder / POSTCODES_MANIFEST, json.dumps(info, indent=1) + "\n")
    summary.seconds = time.monotonic() - started
    summary.lookup_file = str(folder / POSTCODES_FILE)
    return summary


def postcode_manifest(data: DataPaths) -> dict[str, Any] | None:
    """Return what the imported postcode lookup holds (file, source, counts, when), or None.

    Reads only the lookup's metadata, not its rows.
    """
    return _manifest(data.postcodes / POSTCODES_FILE, "postcode directory",
                     "hotspot postcodes import FILE")


def lsoa_centroid_manifest(data: DataPaths) -> dict[str, Any] | None:
    """Return what the imported LSOA centroids are (file, rows, vintage, when), or None."""
    return _manifest(data.postcodes / LSOA_CENTROIDS_FILE, "LSOA centroids",
                     "hotspot lsoa-centroids import FILE")


def _manifest(path: Path, what: str, command: str) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        return _stored_info(pq.read_schema(path))
    except (OSError, pa.ArrowException) as exc:
        raise ReadError(f"{path}: the imported {what} could not be read ({exc}); import it "
                        f"again with: {command}") from None


# --------------------------------------------------------------------------------------------
# LSOA centroid files
# --------------------------------------------------------------------------------------------


@dataclass
class CentroidImportSummary:
    """What happened to every row of an LSOA centroid import."""

    file: str
    vintage: str | None = None
    crs: str = CRS_METRIC
    read: int = 0
    kept: int = 0
    skipped: int = 0
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    lookup_file: str = ""

    def as_json(self) -> dict[str, Any]:
        """Return the summary as a JSON-ready object."""
        return asdict(self)

    def as_text(self) -> str:
        """Return the summary as lines for a person."""
        lines = [f"{self.file} (LSOA population-weighted centroids"
                 + (f", {self.vintage} LSOAs" if self.vintage else "")
                 + f"; coordinates read as {self.crs})",
                 f"  rows read:        {self.read:>10,}",
                 f"  centroids kept:   {self.kept:>10,}",
                 f"  rows left out:    {self.skipped:>10,}"]
        for reason, count in sorted(self.skipped_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {count:>10,}  {reason}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"LSOA codes are now placed at these centroids ({self.lookup_file}).")
        return "\n".join(lines)


def _find(folded: list[str], names: Sequence[str]) -> int | None:
    for name in names:
        if name in folded:
            return folded.index(name)
    return None


def _centroid_columns(header: list[str], label: str) -> tuple[int, int, int, bool | None]:
    """Positions of the code, x and y columns; True/False/None: lon/lat, BNG, judge by values."""
    folded = [h.strip().lower() for h in header]
    listed = ", ".join(repr(h) for h in header[:14])
    code = _find(folded, _LSOA_CODE_COLS)
    if code is None:
        raise ReadError(f"{label}: no LSOA code column was found (looked for "
                        f"{', '.join(c.upper() for c in _LSOA_CODE_COLS[:4])}...). The columns "
                        f"are {listed}.")
    for x_name, y_name in _XY_PAIRS:
        if x_name in folded and y_name in folded:
            lonlat = True if x_name in _LONLAT_COLS else (None if x_name == "x" else False)
            return code, folded.index(x_name), folded.index(y_name), lonlat
    raise ReadError(f"{label}: no coordinate columns were found (looked for x and y, BNG_E and "
                    f"BNG_N, easting and northing, or LAT and LONG). The columns are {listed}.")


def _vintage(name: str) -> str | None:
    low = name.lower()
    return "2021" if "21" in low else ("2011" if "11" in low else None)


def _read_centroid_csv(path: Path, spent: _Spent
                       ) -> tuple[pd.DataFrame, str | None, str, int]:
    """Codes and coordinates (as text) of a centroid CSV, its vintage, CRS, rows too wide."""
    with _members(path, spent, what="LSOA centroid") as members:
        if len(members) > 1:
            raise ReadError(f"{path.name}: the zip holds {len(members)} CSV files; give the one "
                            "with the LSOA centroids.")
        member = members[0]
        first, lines, _ = _peek(member)
        if first is None:
            raise ReadError(f"{member.label}: the file is empty.")
        code_at, x_at, y_at, lonlat = _centroid_columns(first, member.label)
        stream = member.opener()
        too_wide = [0]

        def bad_line(fields: list[str]) -> None:
            too_wide[0] += 1  # counted and left out, like every other unusable row

        try:
            text = io.TextIOWrapper(stream, encoding="utf-8-sig", errors="strict", newline="")
            # Every column is named (not usecols), so a row with more fields than the header
            # reaches bad_line instead of being read shifted.
            frame = pd.read_csv(text, header=None, skiprows=lines, names=range(len(first)),
                                dtype=str, keep_default_na=False, nrows=MAX_CENTROID_ROWS + 1,
                                on_bad_lines=bad_line, engine="python")
        except ReadError:
            raise
        except (UnicodeDecodeError, pd.errors.ParserError, ValueError, csv.Error) as exc:
            raise ReadError(f"{member.label}: could not be read as CSV ({exc}).") from None
        except (zlib.error, EOFError, zipfile.BadZipFile, gzip.BadGzipFile) as exc:
            raise ReadError(f"{member.label}: the file is damaged or cut short ({exc}).") \
                from None
        finally:
            stream.close()
    if len(frame) > MAX_CENTROID_ROWS:
        raise ReadError(f"{member.label}: more than {MAX_CENTROID_ROWS:,} rows; England and "
                        "Wales have about 36,000 LSOAs, so this is not an LSOA centroid file.")
    frame = frame.rename(columns={code_at: "code", x_at: "x", y_at: "y"})
    # "" leaves x and y to be judged by their values
    crs = "EPSG:4326" if lonlat else (CRS_METRIC if lonlat is False else "")
    return frame[["code", "x", "y"]], _vintage(first[code_at]), crs, too_wide[0]


def _read_centroid_layer(path: Path) -> tuple[pd.DataFrame, str | None, str]:
    import pyogrio

    if path.stat().st_size > MAX_CENTROID_FILE_BYTES:
        raise ReadError(f"{path.name}: larger than {MAX_CENTROID_FILE_BYTES >> 20} MB; the ONS "
                        "LSOA centroids are about 10 MB, so this is not one.")
    try:
        gdf = pyogrio.read_dataframe(path, max_features=MAX_CENTROID_ROWS + 1)
    except Exception as exc:  # pyogrio raises several GDAL-derived types
        raise ReadError(f"{path.name}: could not be opened as GeoJSON or GeoPackage ({exc}).") \
            from None
    if len(gdf) > MAX_CENTROID_ROWS:
        raise ReadError(f"{path.name}: more than {MAX_CENTROID_ROWS:,} features; this is not an "
                        "LSOA centroid file.")
    attrs = [c for c in gdf.columns if c != gdf.geometry.name]
    folded = [a.lower() for a in attrs]
    code_at = _find(folded, _LSOA_CODE_COLS)
    if code_at is None:
        raise ReadError(f"{path.name}: no LSOA code attribute was found (looked for LSOA21CD, "
                        f"LSOA11CD...). The attributes are {', '.join(repr(a) for a in attrs)}.")
    types = set(gdf.geometry.geom_type.dropna())
    if types - {"Point"}:
        raise ReadError(f"{path.name}: holds {', '.join(sorted(types))} geometries; LSOA "
                        "centroids are points (use the population-weighted centroids, not the "
                        "LSOA boundaries).")
    # "" (no CRS) leaves the coordinates to be judged by their values
    crs = ""
    if gdf.crs is not None:
        crs = gdf.crs.to_string()
        if gdf.crs.to_epsg() != 27700:
            gdf = gdf.to_crs(CRS_METRIC)
            crs = f"{crs}, converted to {CRS_METRIC}"
    frame = pd.DataFrame({
        "code": gdf[attrs[code_at]].astype(object).to_numpy(),
        "x": gdf.geometry.x.to_numpy(dtype="float64"),
        "y": gdf.geometry.y.to_numpy(dtype="float64"),
    })
    return frame, _vintage(attrs[code_at]), crs


def import_lsoa_centroids(path: Path | str, data: DataPaths) -> CentroidImportSummary:
    r"""Read the ONS LSOA population-weighted centroids and keep them in the data directory.

    Parameters
    ----------
    path : Path or str
        A CSV (plain, gzipped, or alone in a zip) with an LSOA code column (``LSOA21CD``,
        ``LSOA11CD``...) and ``x``/``y``, ``BNG_E``/``BNG_N`` (metres) or ``LAT``/``LONG``;
        or a GeoJSON or GeoPackage of points in any CRS. ``x``/``y`` are read as longitude
        and latitude when every value lies within -180..180 and -90..90, else as metres.
    data : geo.settings.DataPaths
        The data directory; the centroids go to ``data.postcodes``.

    Returns
    -------
    CentroidImportSummary

    Raises
    ------
    geo.schema.ReadError
        If the file cannot be read, has no code or coordinate columns, or holds no usable
        centroid; the centroids in use are then left as they were.

    Examples
    --------
    >>> import tempfile
    >>> d = DataPaths(Path(tempfile.mkdtemp()))
    >>> f = d.root / "pwc.csv"
    >>> _ = f.write_text("FID,LSOA21CD,LSOA21NM,GlobalID,x,y\n"
    ...                  "1,E01012345,Blackpool 010A,{A},331000.1,436000.2\n")
    >>> import_lsoa_centroids(f, d).kept
    1
    >>> LsoaCentroids.load(d).place(["E01012345"]).northing.tolist()
    [436000.2]
    """
    path = Path(path)
    summary = CentroidImportSummary(file=path.name)
    if not path.is_file():
        raise ReadError(f"{path}: no such file.")
    with open(path, "rb") as fh:
        head = fh.read(4096)
    is_layer = (path.suffix.lower() in (".geojson", ".json", ".gpkg")
                or head.lstrip().startswith(b"{") or head.startswith(b"SQLite format 3"))
    too_wide = 0
    if is_layer:
        frame, vintage, crs = _read_centroid_layer(path)
        x = frame["x"].to_numpy(dtype="float64")
        y = frame["y"].to_numpy(dtype="float64")
        if not crs:  # no CRS: judge by the values, as for a CSV's x and y
            crs = "EPSG:4326" if _looks_lonlat(x, y) else CRS_METRIC
            summary.notes.append(f"The file names no CRS; its coordinates were read as {crs}.")
            if crs == "EPSG:4326":
                from geo.projection import to_bng

                x, y = to_bng(x, y)
    else:
        frame, vintage, crs, too_wide = _read_centroid_csv(path, _Spent())
        x = _numbers(pa.array(frame["x"].tolist(), pa.string())).to_numpy(zero_copy_only=False)
        y = _numbers(pa.array(frame["y"].tolist(), pa.string())).to_numpy(zero_copy_only=False)
        x, y = np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
        if not crs:
            crs = "EPSG:4326" if _looks_lonlat(x, y) else CRS_METRIC
        if crs == "EPSG:4326":
            from geo.projection import to_bng

            with np.errstate(invalid="ignore"):
                usable = (np.abs(x) <= 180) & (np.abs(y) <= 90)
            x, y = np.where(usable, x, np.nan), np.where(usable, y, np.nan)
            fin = np.isfinite(x) & np.isfinite(y)
            bx, by = np.full(len(x), np.nan), np.full(len(x), np.nan)
            if fin.any():
                bx[fin], by[fin] = to_bng(x[fin], y[fin])
            x, y = bx, by
            crs = f"EPSG:4326, converted to {CRS_METRIC}"
    summary.crs = crs
    summary.vintage = vintage
    summary.read = len(frame) + too_wide
    codes = normalise_lsoa_codes(frame["code"].to_numpy(dtype=object))
    reasons: Counter[str] = Counter()
    if too_wide:
        reasons["more fields than the header has"] += too_wide
    keep = np.zeros(len(codes), dtype=bool)
    seen: set[str] = set()
    xmin, ymin, xmax, ymax = _BNG_BOUNDS
    with np.errstate(invalid="ignore"):
        in_gb = np.isfinite(x) & np.isfinite(y) & (x >= xmin) & (x <= xmax) & (y >= ymin) \
            & (y <= ymax)
    for i, code in enumerate(codes.tolist()):
        if code is None:
            reasons["no LSOA code"] += 1
        elif _LSOA_RE.fullmatch(code) is None:
            reasons["not an English or Welsh LSOA code (E01/W01 and six digits)"] += 1
        elif not (np.isfinite(x[i]) and np.isfinite(y[i])):
            reasons["coordinates are not numbers"] += 1
        elif not in_gb[i]:
            reasons["coordinates outside Great Britain"] += 1
        elif code in seen:
            reasons["a repeat of an earlier row's LSOA code"] += 1
        else:
            seen.add(code)
            keep[i] = True
    summary.kept = int(keep.sum())
    summary.skipped_by_reason = dict(reasons)
    summary.skipped = sum(reasons.values())
    if not summary.kept:
        raise ReadError(f"{path.name}: no LSOA centroid could be read ("
                        + ("; ".join(f"{n:,} {r}" for r, n in reasons.most_common(3))
                           or "no data rows") + "). The centroids in use are unchanged.")
    info = {"file": path.name, "rows": summary.kept, "vintage": vintage,
            "source": "ONS LSOA population-weighted centroids", "crs": crs,
            "imported_at": datetime.now(UTC).isoformat(timespec="seconds")}
    order = np.argsort(codes[keep].astype(str), kind="stable")
    out = pa.table({
        "lsoa": pa.array(codes[keep][order].tolist(), pa.string()),
        "easting": pa.array(x[keep][order], pa.float64()),
        "northing": pa.array(y[keep][order], pa.float64()),
    }).replace_schema_metadata({_META_KEY: json.dumps(info).encode()})
    folder = data.postcodes
    with _locked(folder):
        _write_parquet(out, folder / LSOA_CENTROIDS_FILE)
        write_text_atomic(folder / LSOA_MANIFEST, json.dumps(info, indent=1) + "\n")
    summary.lookup_file = str(folder / LSOA_CENTROIDS_FILE)
    return summary


def _looks_lonlat(x: np.ndarray, y: np.ndarray) -> bool:
    fin = np.isfinite(x) & np.isfinite(y)
    if not fin.any():
        return False
    return bool(np.all(np.abs(x[fin]) <= 180) and np.all(np.abs(y[fin]) <= 90))
