"""An imported gazetteer: streets and localities that name places the incidents do not.

Incidents from a source without location text (an ED system, a CAD extract) leave a place
with no street name. ``hotspot gazetteer import FILE`` keeps the streets and localities of a
gazetteer, and :mod:`geo.names` names such a place by the nearest street and locality to its
centre ("Talbot Road, Blackpool").

Two layouts are read, plain, gzipped or inside a zip (the OS download's ``Data/*.csv``):

* **OS Open Names** (Ordnance Survey, OGL): its CSV files have no header row and the 34
  columns of :data:`OS_OPEN_NAMES_COLUMNS` (a file that starts with that header is read too).
  Roads (``TYPE`` ``transportNetwork`` with a ``LOCAL_TYPE`` of a named or numbered road or a
  section of one) are streets; ``populatedPlace`` rows (city, town, village, hamlet, suburban
  area, other settlement) are localities; ``GEOMETRY_X``/``GEOMETRY_Y`` are British National
  Grid metres. Every other feature (rivers, hills, woods) is rejected with its type.
* **Any CSV of name, type and coordinates** with a header row. Columns are found by their
  usual names or given (``--name-col``, ``--type-col``, ``--x-col``, ``--y-col``, optionally
  ``--locality-col``); the type says street (``street``, ``road``...) or locality (``town``,
  ``village``, ``suburb``...); coordinates are British National Grid metres unless the columns
  are longitude and latitude or ``--crs`` says otherwise.

Every row is accepted or rejected with a reason: no name, a type that is neither a street nor
a locality, coordinates that are not numbers or not in Great Britain, more than
:data:`AREA_MARGIN_M` beyond the boundaries in use, a repeat of an earlier row, or beyond the
size limit (``HOTSPOT_MAX_GAZETTEER_ROWS``). The gazetteer is one Parquet file under the data
directory, replaced atomically: a page naming places sees the old gazetteer or the new one.
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import gzip
import io
import json
import os
import zipfile
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy.spatial import cKDTree

from geo.atomic import replace_durably, temp_path, write_bytes_atomic
from geo.settings import CRS_METRIC, limits

if TYPE_CHECKING:
    from geo.boundaries import Boundaries

__all__ = [
    "GAZETTEER_FILE",
    "LOCALITY_RADIUS_M",
    "OS_OPEN_NAMES_COLUMNS",
    "STREET_RADIUS_M",
    "Gazetteer",
    "GazetteerColumns",
    "GazetteerError",
    "ImportSummary",
    "import_gazetteer",
    "load_gazetteer",
    "remove_gazetteer",
]

GAZETTEER_FILE = "gazetteer.parquet"
REJECTS_FILE = "rejects.csv"
_META_KEY = b"hotspot.gazetteer"

#: The columns of an OS Open Names CSV file, in order (OS_Open_Names_Header.csv of the
#: product; the data files carry no header row).
OS_OPEN_NAMES_COLUMNS = (
    "ID", "NAMES_URI", "NAME1", "NAME1_LANG", "NAME2", "NAME2_LANG", "TYPE", "LOCAL_TYPE",
    "GEOMETRY_X", "GEOMETRY_Y", "MOST_DETAIL_VIEW_RES", "LEAST_DETAIL_VIEW_RES", "MBR_XMIN",
    "MBR_YMIN", "MBR_XMAX", "MBR_YMAX", "POSTCODE_DISTRICT", "POSTCODE_DISTRICT_URI",
    "POPULATED_PLACE", "POPULATED_PLACE_URI", "POPULATED_PLACE_TYPE", "DISTRICT_BOROUGH",
    "DISTRICT_BOROUGH_URI", "DISTRICT_BOROUGH_TYPE", "COUNTY_UNITARY", "COUNTY_UNITARY_URI",
    "COUNTY_UNITARY_TYPE", "REGION", "REGION_URI", "COUNTRY", "COUNTRY_URI",
    "RELATED_SPATIAL_OBJECT", "SAME_AS_DBPEDIA", "SAME_AS_GEONAMES",
)
#: OS Open Names ``TYPE`` values (its INSPIRE feature types).
_OS_TYPES = frozenset({"populatedPlace", "transportNetwork", "landform", "hydrography",
                       "landcover", "other"})
_OS_ROADS = frozenset({"named road", "numbered road", "section of named road",
                       "section of numbered road"})

STREET, LOCALITY = "street", "locality"
#: Types (compared ignoring case, spaces and underscores) read as a street or a locality.
STREET_TYPES = frozenset({"street", "streets", "road", "roads", "namedroad", "numberedroad",
                          "sectionofnamedroad", "sectionofnumberedroad", "transportnetwork",
                          "highway", "lane", "avenue", "way"})
LOCALITY_TYPES = frozenset({"locality", "localities", "populatedplace", "city", "town",
                            "village", "hamlet", "suburb", "suburbanarea", "othersettlement",
                            "settlement", "neighbourhood", "neighborhood", "district", "place"})

#: A street names a place when its point lies within this distance of the place's centre
#: (metres). OS Open Names gives each road, or each section of a long road, one point.
STREET_RADIUS_M = 250.0
#: A locality names a place when its point lies within this distance of the centre (metres).
LOCALITY_RADIUS_M = 3_000.0
#: Rows further than this beyond the boundaries in use are left out (metres): a national
#: file imported for one force keeps only the force's streets.
AREA_MARGIN_M = 5_000.0
#: Rejected rows written to the rejects file for each reason (the counts cover every row).
REJECTS_PER_REASON = 1_000
#: Rows checked together (coordinates, area, limit), so a national file never sits in memory.
_CHUNK_ROWS = 100_000
#: Column names tried, in order, when none is given (compared ignoring case).
_NAME_COLS = ("name", "name1", "street", "place_name", "placename", "label")
_TYPE_COLS = ("type", "local_type", "kind", "feature_type", "class", "category")
_X_COLS = ("x", "easting", "geometry_x", "east", "lon", "longitude", "lng")
_Y_COLS = ("y", "northing", "geometry_y", "north", "lat", "latitude")
_LOCALITY_COLS = ("locality", "populated_place", "town", "district_borough")
_LONLAT_COLS = frozenset({"lon", "longitude", "lng", "lat", "latitude"})
#: Great Britain in British National Grid metres.
_GB_BOUNDS = (0.0, 0.0, 700_000.0, 1_300_000.0)


class GazetteerError(Exception):
    """A gazetteer file cannot be used at all; the message says why and what to do."""


@dataclass(frozen=True)
class GazetteerColumns:
    """Which columns hold what, for a CSV that is not in the OS Open Names layout.

    None means "find it by its usual names". ``crs`` is the coordinates' reference system
    (e.g. ``"EPSG:27700"``); None means British National Grid, or WGS84 when the columns are
    named longitude and latitude.
    """

    name: str | None = None
    type: str | None = None
    x: str | None = None
    y: str | None = None
    locality: str | None = None
    crs: str | None = None


@dataclass
class ImportSummary:
    """What happened to every row of the files imported."""

    files: list[str]
    layouts: list[str] = field(default_factory=list)
    crs: str = CRS_METRIC
    read: int = 0
    streets: int = 0
    localities: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    kept_streets: int = 0
    kept_localities: int = 0
    added: bool = False
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Return the summary as the ``hotspot gazetteer import --json`` object."""
        return asdict(self)

    def as_text(self) -> str:
        """Return the summary as lines for a person."""
        lines = [f"{', '.join(self.files)} ({'; '.join(dict.fromkeys(self.layouts))}, "
                 f"coordinates in {self.crs})",
                 f"  rows read:        {self.read:>10,}",
                 f"  streets:          {self.streets:>10,}",
                 f"  localities:       {self.localities:>10,}",
                 f"  rejected:         {self.rejected:>10,}"]
        for reason, count in sorted(self.rejected_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {count:>10,}  {reason}")
        if self.rejects_file:
            lines.append(f"  rejected rows, with reasons (the first {REJECTS_PER_REASON:,} of "
                         f"each reason): {self.rejects_file}")
        lines.extend(f"  note: {n}" for n in self.notes)
        lines.append(f"The gazetteer now holds {self.kept_streets:,} streets and "
                     f"{self.kept_localities:,} localities"
                     + (" (added to those already imported)." if self.added else "."))
        return "\n".join(lines)


@dataclass
class Gazetteer:
    """Streets and localities, each a name at a point in British National Grid metres.

    Attributes
    ----------
    streets : pandas.DataFrame
        ``name``, ``locality`` (the settlement the file puts the street in; may be blank),
        ``easting``, ``northing``.
    localities : pandas.DataFrame
        ``name``, ``easting``, ``northing``.
    sources : list of dict
        Each file imported: ``file``, ``layout``, ``crs``, ``imported_at``, ``streets``,
        ``localities``.

    Examples
    --------
    >>> g = Gazetteer(pd.DataFrame({"name": ["Talbot Road", "Topping Street"],
    ...                             "locality": ["", ""], "easting": [330_900.0, 331_100.0],
    ...                             "northing": [436_400.0, 436_300.0]}),
    ...               pd.DataFrame({"name": ["Blackpool"], "easting": [331_000.0],
    ...                             "northing": [436_000.0]}))
    >>> g.nearest(np.array([330_950.0, 340_000.0]), np.array([436_380.0, 436_000.0]))
    (['Talbot Road', ''], ['Blackpool', ''])
    """

    streets: pd.DataFrame
    localities: pd.DataFrame
    sources: list[dict[str, Any]] = field(default_factory=list)

    @cached_property
    def _street_tree(self) -> cKDTree | None:
        return _tree(self.streets)

    @cached_property
    def _locality_tree(self) -> cKDTree | None:
        return _tree(self.localities)

    def describe(self) -> str:
        """Say what the gazetteer holds and where it came from."""
        files = ", ".join(s.get("file", "?") for s in self.sources) or "unknown files"
        return (f"{len(self.streets):,} streets and {len(self.localities):,} localities, "
                f"from {files}")

    def nearest(self, east: np.ndarray, north: np.ndarray, *,
                street_radius_m: float = STREET_RADIUS_M,
                locality_radius_m: float = LOCALITY_RADIUS_M) -> tuple[list[str], list[str]]:
        """Return the nearest street and locality to each point ("" where none is in reach).

        Parameters
        ----------
        east, north : numpy.ndarray
            Points in British National Grid metres (EPSG:27700); NaN gives "".
        street_radius_m, locality_radius_m : float
            How far (metres) a street's or locality's point may lie from the point. A point
            with no locality in reach takes its street's own locality, if the file gave one.

        Returns
        -------
        streets, localities : list of str
            One of each per point. Ties in distance go to the alphabetically first name.
        """
        x = np.asarray(east, dtype="float64").reshape(-1)
        y = np.asarray(north, dtype="float64").reshape(-1)
        streets, street_of = _nearest_names(self._street_tree, self.streets, x, y,
                                            street_radius_m)
        localities, _ = _nearest_names(self._locality_tree, self.localities, x, y,
                                       locality_radius_m)
        own = self.streets["locality"].astype(str).to_numpy() if len(self.streets) else None
        for i, at in enumerate(street_of):
            if not localities[i] and at >= 0 and own is not None:
                localities[i] = str(own[at])
        return streets, localities


def _tree(table: pd.DataFrame) -> cKDTree | None:
    if not len(table):
        return None
    return cKDTree(np.column_stack([table["easting"].to_numpy("float64"),
                                    table["northing"].to_numpy("float64")]))


def _nearest_names(tree: cKDTree | None, table: pd.DataFrame, x: np.ndarray, y: np.ndarray,
                   radius_m: float) -> tuple[list[str], np.ndarray]:
    """Each point's nearest name within ``radius_m`` (ties: alphabetical) and its row."""
    names = [""] * len(x)
    rows = np.full(len(x), -1, dtype="int64")
    finite = np.isfinite(x) & np.isfinite(y)
    if tree is None or not finite.any():
        return names, rows
    points = np.column_stack([x, y])
    labels = table["name"].astype(str).to_numpy()
    k = min(8, len(table))
    dist, idx = tree.query(points[finite], k=k, distance_upper_bound=radius_m)
    dist, idx = dist.reshape(len(dist), k), idx.reshape(len(idx), k)
    for at, d_row, i_row in zip(np.flatnonzero(finite), dist, idx, strict=True):
        ok = np.isfinite(d_row)
        if not ok.any():
            continue
        best = float(d_row[ok].min())
        tied = sorted((str(labels[j]), int(j)) for j, d in zip(i_row[ok], d_row[ok],
                                                               strict=True) if d <= best + 0.5)
        names[at], rows[at] = tied[0]
    return names, rows


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


class _Budget(io.RawIOBase):
    """A binary stream that refuses to decompress more than ``limit`` bytes in all."""

    def __init__(self, raw: IO[bytes], label: str, spent: list[int], limit: int) -> None:
        self.raw, self.label, self.spent, self.limit = raw, label, spent, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        self.spent[0] += len(data)
        if self.spent[0] > self.limit:
            raise GazetteerError(
                f"{self.label}: decompresses to more than {self.limit >> 20:,} MB, the most "
                "one import may read (HOTSPOT_MAX_INGEST_DECOMPRESSED_MB).")
        buffer[: len(data)] = data
        return len(data)


def _texts(path: Path) -> Iterator[tuple[str, IO[str]]]:
    """Yield each CSV text inside ``path``: the file itself, gunzipped, or a zip's CSVs."""
    limit = limits().ingest_decompressed_bytes
    spent = [0]

    def text(raw: IO[bytes], label: str) -> IO[str]:
        budget = io.BufferedReader(_Budget(raw, label, spent, limit), 1 << 20)
        return io.TextIOWrapper(budget, encoding="utf-8-sig", newline="")

    if not path.is_file():
        raise GazetteerError(f"{path}: no such file.")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic.startswith(b"PK"):
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.infolist() if not m.is_dir()
                       and m.filename.lower().endswith(".csv")
                       and "doc" not in {p.lower() for p in Path(m.filename).parts[:-1]}]
            if not members:
                raise GazetteerError(f"{path}: the zip holds no CSV file (OS Open Names keeps "
                                     "its data in Data/*.csv).")
            for m in sorted(members, key=lambda m: m.filename):
                with zf.open(m) as raw:
                    yield f"{path.name}:{m.filename}", text(raw, f"{path.name}:{m.filename}")
        return
    if magic.startswith(b"\x1f\x8b"):
        with gzip.open(path, "rb") as unzipped:
            yield path.name, text(cast(IO[bytes], unzipped), path.name)
        return
    with open(path, "rb") as raw:
        yield path.name, text(raw, path.name)


def _key(text: str) -> str:
    return "".join(text.casefold().replace("_", " ").split())


def _find(header: list[str], given: str | None, usual: Sequence[str], what: str, label: str,
          required: bool = True) -> int | None:
    folded = [h.strip().casefold() for h in header]
    if given is not None:
        if given.strip().casefold() in folded:
            return folded.index(given.strip().casefold())
        raise GazetteerError(f"{label}: there is no column '{given}' for the {what}; the "
                             f"columns are {', '.join(repr(h) for h in header)}.")
    for name in usual:
        if name in folded:
            return folded.index(name)
    if not required:
        return None
    option = {"name": "--name-col", "type": "--type-col", "x coordinate": "--x-col",
              "y coordinate": "--y-col"}[what]
    raise GazetteerError(f"{label}: no column for the {what} was found (tried "
                         f"{', '.join(usual)}); name it with {option}. The columns are "
                         f"{', '.join(repr(h) for h in header)}.")


@dataclass
class _Layout:
    """Where each field is, and how to read a type."""

    name: str  # "OS Open Names" or "CSV"
    width: int
    name_at: int
    type_at: int
    x_at: int
    y_at: int
    locality_at: int | None
    local_type_at: int | None  # OS Open Names' LOCAL_TYPE
    crs: str


def _is_os_row(fields: list[str]) -> bool:
    if len(fields) != len(OS_OPEN_NAMES_COLUMNS) or fields[6].strip() not in _OS_TYPES:
        return False
    try:
        float(fields[8]), float(fields[9])
    except ValueError:
        return False
    return True


def _layout(first: list[str], columns: GazetteerColumns, label: str) -> tuple[_Layout, bool]:
    """Work out the file's layout from its first row; True if that row is a header."""
    os_header = [h.strip().upper() for h in first] == list(OS_OPEN_NAMES_COLUMNS)
    if os_header or _is_os_row(first):
        header = list(OS_OPEN_NAMES_COLUMNS)
        given = any(getattr(columns, k) for k in ("name", "type", "x", "y", "locality"))
        at = {c: i for i, c in enumerate(header)}
        if given:  # e.g. --name-col NAME2 for the Welsh or Gaelic name
            return _csv_layout(header, columns, label, "OS Open Names"), os_header
        return _Layout("OS Open Names", len(header), at["NAME1"], at["TYPE"], at["GEOMETRY_X"],
                       at["GEOMETRY_Y"], at["POPULATED_PLACE"], at["LOCAL_TYPE"],
                       columns.crs or CRS_METRIC), os_header
    return _csv_layout(first, columns, label, "CSV"), True


def _csv_layout(header: list[str], columns: GazetteerColumns, label: str, name: str) -> _Layout:
    name_at = _find(header, columns.name, _NAME_COLS, "name", label)
    type_at = _find(header, columns.type, _TYPE_COLS, "type", label)
    x_at = _find(header, columns.x, _X_COLS, "x coordinate", label)
    y_at = _find(header, columns.y, _Y_COLS, "y coordinate", label)
    locality_at = _find(header, columns.locality, _LOCALITY_COLS, "locality", label,
                        required=False)
    assert name_at is not None and type_at is not None and x_at is not None and y_at is not None
    local_at = None
    if name == "OS Open Names" and columns.type is None:
        local_at = OS_OPEN_NAMES_COLUMNS.index("LOCAL_TYPE")
    lonlat = {header[x_at].strip().casefold(), header[y_at].strip().casefold()} & _LONLAT_COLS
    crs = columns.crs or ("EPSG:4326" if lonlat else CRS_METRIC)
    return _Layout(name, len(header), name_at, type_at, x_at, y_at, locality_at, local_at, crs)


def _kind(layout: _Layout, fields: list[str]) -> tuple[str | None, str]:
    """Return ``(street/locality/None, what the row is)`` for a row's type."""
    kind = fields[layout.type_at].strip()
    if layout.local_type_at is not None:  # OS Open Names: TYPE and LOCAL_TYPE together
        local = fields[layout.local_type_at].strip()
        if kind == "populatedPlace":
            return LOCALITY, local
        if kind == "transportNetwork" and local.casefold() in _OS_ROADS:
            return STREET, local
        return None, f"{kind}, {local}" if local else kind
    key = _key(kind)
    if key in STREET_TYPES:
        return STREET, kind
    if key in LOCALITY_TYPES:
        return LOCALITY, kind
    return None, kind


@dataclass
class _Collected:
    """Rows accepted so far and rejected rows kept for the rejects file."""

    kind: list[str] = field(default_factory=list)
    name: list[str] = field(default_factory=list)
    locality: list[str] = field(default_factory=list)
    x: list[str] = field(default_factory=list)
    y: list[str] = field(default_factory=list)
    line: list[int] = field(default_factory=list)
    raw: list[str] = field(default_factory=list)
    file: list[str] = field(default_factory=list)
    kept: list[pd.DataFrame] = field(default_factory=list)
    reasons: Counter[str] = field(default_factory=Counter)
    rejects: list[tuple[str, int, str, str]] = field(default_factory=list)

    def reject(self, reason: str, file: str, line: int, raw: str, detail: str = "") -> None:
        self.reasons[reason] += 1
        if self.reasons[reason] <= REJECTS_PER_REASON:
            text = f"{reason}: {detail}" if detail else reason
            self.rejects.append((file, line, text, raw[:300]))


def _row_text(fields: list[str]) -> str:
    return ",".join(fields)


def _check_chunk(got: _Collected, crs: str, area: Any, seen: set[tuple[str, str, int, int]],
                 room: list[int]) -> None:
    """Check coordinates, area, repeats and the size limit of the rows gathered; keep them."""
    from geo.projection import to_bng

    if not got.name:
        return
    x = pd.to_numeric(pd.Series(got.x, dtype="str").str.strip(), errors="coerce").to_numpy(
        "float64")
    y = pd.to_numeric(pd.Series(got.y, dtype="str").str.strip(), errors="coerce").to_numpy(
        "float64")
    numbers = np.isfinite(x) & np.isfinite(y)
    usable = numbers.copy()
    if crs != CRS_METRIC:
        from pyproj import Transformer
        from pyproj.exceptions import CRSError

        if crs == "EPSG:4326":
            usable &= (np.abs(np.nan_to_num(x)) <= 180) & (np.abs(np.nan_to_num(y)) <= 90)
            e, n = to_bng(np.where(usable, x, 0.0), np.where(usable, y, 0.0))
        else:
            try:
                t = Transformer.from_crs(crs, CRS_METRIC, always_xy=True)
            except CRSError as exc:
                raise GazetteerError(f"--crs {crs}: not a coordinate reference system "
                                     f"({exc}).") from None
            e, n = (np.asarray(a, dtype="float64") for a in t.transform(
                np.where(usable, x, 0.0), np.where(usable, y, 0.0)))
        x, y = np.where(usable, e, np.nan), np.where(usable, n, np.nan)
    xmin, ymin, xmax, ymax = _GB_BOUNDS
    with np.errstate(invalid="ignore"):
        in_gb = usable & (x >= xmin) & (x <= xmax) & (y >= ymin) & (y <= ymax)
    near = in_gb.copy()
    if area is not None and in_gb.any():
        import shapely

        near[in_gb] = shapely.contains_xy(area, x[in_gb], y[in_gb])
    for i in range(len(got.name)):
        if not numbers[i]:
            got.reject("coordinates are not numbers", got.file[i], got.line[i], got.raw[i],
                       f"'{got.x[i][:20]}', '{got.y[i][:20]}'")
        elif not in_gb[i]:
            got.reject(f"coordinates are not in Great Britain (read as {crs})", got.file[i],
                       got.line[i], got.raw[i])
        elif not near[i]:
            got.reject(f"more than {AREA_MARGIN_M / 1000:g} km beyond the boundaries in use",
                       got.file[i], got.line[i], got.raw[i])
        else:
            key = (got.kind[i], got.name[i].casefold(), round(x[i]), round(y[i]))
            if key in seen:
                got.reject("the same name, type and point as an earlier row", got.file[i],
                           got.line[i], got.raw[i])
                near[i] = False
            elif room[0] <= 0:
                got.reject("beyond the gazetteer's size limit (HOTSPOT_MAX_GAZETTEER_ROWS)",
                           got.file[i], got.line[i], got.raw[i])
                near[i] = False
            else:
                seen.add(key)
                room[0] -= 1
    keep = np.flatnonzero(near)
    if len(keep):
        got.kept.append(pd.DataFrame({
            "kind": np.asarray(got.kind, dtype=object)[keep],
            "name": np.asarray(got.name, dtype=object)[keep],
            "locality": np.asarray(got.locality, dtype=object)[keep],
            "easting": x[keep], "northing": y[keep]}))
    for column in (got.kind, got.name, got.locality, got.x, got.y, got.line, got.raw, got.file):
        column.clear()


def _read(paths: Sequence[Path], columns: GazetteerColumns, area: Any,
          seen: set[tuple[str, str, int, int]], room: int,
          summary: ImportSummary) -> tuple[pd.DataFrame, _Collected]:
    got = _Collected()
    budget = [room]
    crs_used: set[str] = set()
    for path in paths:
        for label, stream in _texts(Path(path)):
            reader = csv.reader(stream)
            first: list[str] | None = None
            try:
                for first in reader:
                    if any(f.strip() for f in first):
                        break
            except (csv.Error, UnicodeDecodeError) as exc:
                raise GazetteerError(f"{label}: not a CSV text file ({exc}).") from None
            if not first or not any(f.strip() for f in first):
                summary.notes.append(f"{label} is empty.")
                continue
            layout, is_header = _layout(first, columns, label)
            summary.layouts.append(layout.name)
            crs_used.add(layout.crs)
            rows = _numbered(reader, None if is_header else (reader.line_num, first))
            line = reader.line_num
            try:
                for line, fields in rows:
                    if not any(f.strip() for f in fields):
                        continue
                    summary.read += 1
                    raw = _row_text(fields)
                    if len(fields) != layout.width:
                        got.reject("the wrong number of fields", label, line, raw,
                                   f"{len(fields)}, not {layout.width}")
                        continue
                    name = " ".join(fields[layout.name_at].split())
                    if not name:
                        got.reject("no name", label, line, raw)
                        continue
                    kind, what = _kind(layout, fields)
                    if kind is None:
                        got.reject("neither a street nor a locality", label, line, raw,
                                   what[:60] or "no type")
                        continue
                    got.kind.append(kind)
                    got.name.append(name[:120])
                    got.locality.append(" ".join(fields[layout.locality_at].split())[:120]
                                        if layout.locality_at is not None else "")
                    got.x.append(fields[layout.x_at])
                    got.y.append(fields[layout.y_at])
                    got.line.append(line)
                    got.raw.append(raw)
                    got.file.append(label)
                    if len(got.name) >= _CHUNK_ROWS:
                        _check_chunk(got, layout.crs, area, seen, budget)
            except (csv.Error, UnicodeDecodeError) as exc:
                raise GazetteerError(f"{label}: could not be read as UTF-8 CSV near line "
                                     f"{line} ({exc}).") from None
            _check_chunk(got, layout.crs, area, seen, budget)
    summary.crs = ", ".join(sorted(crs_used)) or CRS_METRIC
    kept = (pd.concat(got.kept, ignore_index=True) if got.kept else
            pd.DataFrame({"kind": [], "name": [], "locality": [], "easting": [],
                          "northing": []}))
    return kept, got


def _numbered(reader: Any, first: tuple[int, list[str]] | None
              ) -> Iterator[tuple[int, list[str]]]:
    """Yield (line number, fields) per record: the line a record ends on, as a reader says."""
    if first is not None:
        yield first
    for fields in reader:
        yield reader.line_num, fields


# --------------------------------------------------------------------------------------------
# Storing
# --------------------------------------------------------------------------------------------


def _area(boundaries: Boundaries | None) -> Any:
    """Return the boundaries in use grown by :data:`AREA_MARGIN_M`, ready for point tests."""
    if boundaries is None:
        return None
    import shapely

    union = shapely.union_all(boundaries.areas_bng.geometry.to_numpy())
    grown = shapely.buffer(shapely.simplify(union, 100.0), AREA_MARGIN_M, quad_segs=4)
    shapely.prepare(grown)
    return grown


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _table(rows: pd.DataFrame, sources: list[dict[str, Any]]) -> pa.Table:
    table = pa.table({
        "kind": pa.array(rows["kind"].astype(str).tolist(), pa.string()).dictionary_encode(),
        "name": pa.array(rows["name"].astype(str).tolist(), pa.string()),
        "locality": pa.array(rows["locality"].astype(str).tolist(), pa.string()),
        "easting": pa.array(rows["easting"].to_numpy("float64")),
        "northing": pa.array(rows["northing"].to_numpy("float64")),
    })
    meta = json.dumps({"format": 1, "sources": sources}).encode()
    return table.replace_schema_metadata({_META_KEY: meta})


def _read_stored(folder: Path) -> tuple[pd.DataFrame, list[dict[str, Any]]] | None:
    path = folder / GAZETTEER_FILE
    if not path.is_file():
        return None
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {}).get(_META_KEY, b"{}"))
    frame = pd.DataFrame({c: table.column(c).to_pylist() if c in ("kind", "name", "locality")
                          else table.column(c).to_numpy() for c in table.column_names})
    return frame, list(meta.get("sources", []))


def import_gazetteer(paths: Sequence[Path | str], folder: Path, *,
                     columns: GazetteerColumns | None = None,
                     boundaries: Boundaries | None = None,
                     add: bool = False) -> ImportSummary:
    """Read gazetteer files and make them the gazetteer in ``folder`` (atomically).

    Parameters
    ----------
    paths : sequence of path
        CSV files (plain, gzipped, or zips of CSVs such as the OS Open Names download).
    folder : Path
        The gazetteer folder of the data directory (``DataPaths.gazetteer``).
    columns : GazetteerColumns, optional
        Column names and CRS for a CSV that is not in the OS Open Names layout.
    boundaries : geo.boundaries.Boundaries, optional
        The areas in use: rows more than :data:`AREA_MARGIN_M` beyond them are left out.
    add : bool
        Add to the gazetteer already imported instead of replacing it.

    Returns
    -------
    ImportSummary

    Raises
    ------
    GazetteerError
        For a file that cannot be read at all, a column that is not there, or files that give
        no street or locality (the gazetteer in use is then left as it was).
    """
    columns = columns or GazetteerColumns()
    names = [Path(p).name for p in paths]
    summary = ImportSummary(files=names, added=add)
    with _locked(folder):
        existing = _read_stored(folder) if add else None
        seen: set[tuple[str, str, int, int]] = set()
        old_rows = existing[0] if existing is not None else None
        if old_rows is not None:
            seen = {(k, n.casefold(), round(x), round(y)) for k, n, x, y in zip(
                old_rows["kind"], old_rows["name"], old_rows["easting"], old_rows["northing"],
                strict=True)}
        room = limits().gazetteer_rows - len(seen)
        rows, got = _read([Path(p) for p in paths], columns, _area(boundaries), seen, room,
                          summary)
        summary.rejected = sum(got.reasons.values())
        summary.rejected_by_reason = dict(got.reasons)
        summary.streets = int((rows["kind"] == STREET).sum()) if len(rows) else 0
        summary.localities = int((rows["kind"] == LOCALITY).sum()) if len(rows) else 0
        if not len(rows):
            reasons = "; ".join(f"{n:,} {r}" for r, n in got.reasons.most_common(3))
            raise GazetteerError(
                f"{', '.join(names)}: no street or locality could be used"
                + (f" ({reasons})" if reasons else "") + ". The gazetteer in use is unchanged.")
        source = {"file": ", ".join(names), "layout": "; ".join(dict.fromkeys(summary.layouts)),
                  "crs": summary.crs, "imported_at": datetime.now(UTC).isoformat(
                      timespec="seconds"), "streets": summary.streets,
                  "localities": summary.localities}
        sources = [*(existing[1] if existing else []), source]
        if old_rows is not None:
            rows = pd.concat([old_rows, rows], ignore_index=True)
        dest = folder / GAZETTEER_FILE
        tmp = temp_path(dest)
        try:
            pq.write_table(_table(rows, sources), tmp, compression="zstd")
            replace_durably(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        summary.kept_streets = int((rows["kind"] == STREET).sum())
        summary.kept_localities = int((rows["kind"] == LOCALITY).sum())
        rejects = folder / REJECTS_FILE
        if got.rejects:
            from geo.csvsafe import to_csv_text

            table = pd.DataFrame(got.rejects, columns=["file", "line", "reason", "raw"])
            write_bytes_atomic(rejects, to_csv_text(table).encode("utf-8"))
            summary.rejects_file = str(rejects)
        else:
            rejects.unlink(missing_ok=True)
    return summary


def load_gazetteer(folder: Path) -> Gazetteer | None:
    """Return the gazetteer imported into ``folder``, or None if there is none."""
    stored = _read_stored(folder)
    if stored is None:
        return None
    rows, sources = stored
    kind = rows["kind"].astype(str)
    streets = rows.loc[kind == STREET, ["name", "locality", "easting", "northing"]]
    localities = rows.loc[kind == LOCALITY, ["name", "easting", "northing"]]
    return Gazetteer(streets.reset_index(drop=True), localities.reset_index(drop=True),
                     sources)


def remove_gazetteer(folder: Path) -> bool:
    """Remove the imported gazetteer; return False if there was none."""
    with _locked(folder):
        path = folder / GAZETTEER_FILE
        if not path.exists():
            return False
        os.unlink(path)
        (folder / REJECTS_FILE).unlink(missing_ok=True)
        return True
