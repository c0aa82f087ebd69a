"""The ingest pipeline: read a file, derive every key the views need, store it as one batch.

Everything a filter or a map needs per row is computed here, once: British National Grid and
WGS84 coordinates, the local authority, H3 cells at every offered resolution, the local date,
weekday and hour. A filter change in the dashboard then touches only small integer arrays.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.boundaries import Boundaries, assign_areas, load_boundaries
from geo.h3index import cells_multi
from geo.istv import HealthMapping, file_kind, read_health
from geo.projection import to_bng, to_wgs84
from geo.readers import Mapping, detect_format, read_file
from geo.schema import (
    H3_COLUMNS,
    STORED_SCHEMA,
    ReadResult,
    content_differences,
    describe_differences,
    make_rejects,
    row_text,
)
from geo.settings import AREA_TOLERANCE_M, H3_RESOLUTIONS, DataPaths
from geo.store import CONFLICT_IN_FILE, CommitResult, Store

Progress = Callable[[int, int], None]


@dataclass
class IngestSummary:
    """What happened to every row of one file.

    ``read == accepted + duplicates + conflicts + rejected``: a row is stored (accepted), an
    exact repeat of a row already in the file or the store (duplicate), a different row under
    an id already used in the file or the store (conflict), or unusable (rejected). Conflicts
    and rejected rows are in the rejects file with a reason; a conflict's reason names the
    line (or the stored file) holding the other row and what differs.
    """

    file: str
    read: int = 0
    accepted: int = 0
    duplicates: int = 0
    conflicts: int = 0
    rejected: int = 0
    rejected_by_reason: dict[str, int] = field(default_factory=dict)
    conflicts_by_reason: dict[str, int] = field(default_factory=dict)
    rejects_file: str | None = None
    snapped_to_nearest_area: int = 0
    #: Health files (geo.istv): the columns not stored, by why (patient identifiers, free
    #: text, date of birth, not recognised).
    columns_dropped: dict[str, list[str]] = field(default_factory=dict)
    batch_id: str | None = None
    notes: list[str] = field(default_factory=list)

    def committed(self, outcome: CommitResult, store_root: Path, duplicates: int,
                  conflicts: int) -> IngestSummary:
        """Fill in what the commit did; return self.

        ``duplicates`` and ``conflicts`` are those found among the rows before the commit
        (in the file, or in an archive's month).
        """
        record = outcome.record
        self.duplicates = duplicates + outcome.duplicates
        self.conflicts = conflicts + outcome.conflicts
        self.conflicts_by_reason = dict(record.summary.get("conflicts_by_reason", {}))
        self.accepted = record.rows
        self.batch_id = record.batch_id
        if record.rejects_file:
            self.rejects_file = str(store_root / record.rejects_file)
        return self

    def as_json(self) -> dict[str, Any]:
        """Return the summary as the documented ``hotspot ingest --json`` object."""
        return asdict(self)

    def as_text(self) -> str:
        """Return the summary as lines for a person."""
        lines = [
            f"{self.file}",
            f"  rows read:            {self.read:>10,}",
            f"  accepted (new):       {self.accepted:>10,}",
            f"  duplicates skipped:   {self.duplicates:>10,}  (exact repeats of rows in the "
            "file or the store)",
            f"  conflicts:            {self.conflicts:>10,}  (an id already used, with different "
            "content: not stored)",
        ]
        for reason, count in sorted(self.conflicts_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {count:>8,}  {reason}")
        lines.append(f"  rejected:             {self.rejected:>10,}")
        for reason, count in sorted(self.rejected_by_reason.items(), key=lambda kv: -kv[1]):
            lines.append(f"    {count:>8,}  {reason}")
        if self.snapped_to_nearest_area:
            lines.append(
                f"  {self.snapped_to_nearest_area:,} points just outside the boundaries were "
                f"given the nearest area (within {AREA_TOLERANCE_M:,.0f} m)"
            )
        if self.rejects_file:
            lines.append(f"  rejected and conflicting rows, with reasons: {self.rejects_file}")
        for why, names in self.columns_dropped.items():
            lines.append(f"  columns dropped, {why}: {', '.join(names)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines)


_REASON_KEY = re.compile(r"\s*[:(]")


def reason_key(reason: str) -> str:
    """Group a specific reason ("date not understood: '31/02'") under its kind."""
    return _REASON_KEY.split(reason, maxsplit=1)[0].strip()


def derive(
    rows: pd.DataFrame, boundaries: Boundaries, tolerance_m: float = AREA_TOLERANCE_M
) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """Add coordinates, areas, cells and time keys to raw rows.

    The geometry (projection, area, H3) is computed once per distinct coordinate: police.uk
    snaps incidents to shared map points, so a million rows often hold a few tens of thousands
    of places. Returns the derived rows, the rows rejected here (outside the study area), and
    how many points were snapped to the nearest area.
    """
    rows = rows.reset_index(drop=True)
    lon = rows["lon"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    lat = rows["lat"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    east = rows["easting"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    north = rows["northing"].to_numpy(dtype="float64", na_value=np.nan, copy=True)
    has_ll = np.isfinite(lon) & np.isfinite(lat)
    has_en = ~has_ll & np.isfinite(east) & np.isfinite(north)
    # One complex number per row names its place; grid metres are offset so they can never
    # equal a longitude/latitude pair.
    if has_ll.all():
        place = lon + 1j * lat
    else:
        place = np.where(has_ll, lon + 1j * lat, (east + 1e7) + 1j * north)
    # hashing (factorize) rather than sorting: the order of places does not matter
    inverse, uniq = pd.factorize(place)
    inverse = np.asarray(inverse)
    uniq = np.asarray(uniq)
    u_ll = uniq.real < 1e6
    u_lon, u_lat = np.where(u_ll, uniq.real, np.nan), np.where(u_ll, uniq.imag, np.nan)
    u_east = np.where(u_ll, np.nan, uniq.real - 1e7)
    u_north = np.where(u_ll, np.nan, uniq.imag)
    if u_ll.any():
        u_east[u_ll], u_north[u_ll] = to_bng(u_lon[u_ll], u_lat[u_ll])
    if (~u_ll).any():
        u_lon[~u_ll], u_lat[~u_ll] = to_wgs84(u_east[~u_ll], u_north[~u_ll])
    finite = np.isfinite(u_east) & np.isfinite(u_north)
    assignment = assign_areas(u_east, u_north, boundaries, tolerance_m=tolerance_m)
    u_codes = assignment.code
    u_out = pd.isna(u_codes) | ~finite
    u_reasons = assignment.outside_reasons(boundaries.names())

    outside = u_out[inverse] | ~(has_ll | has_en)
    reasons = [u_reasons[i] or "no usable coordinates" for i in inverse[outside]]
    rejects = make_rejects(rows.loc[outside, "line"].to_numpy(), reasons, _raw_text(rows[outside]))
    keep = ~outside
    kept_places = inverse[keep]
    out = rows.copy(deep=False) if keep.all() else rows.loc[keep].copy()
    out["lon"], out["lat"] = u_lon[kept_places], u_lat[kept_places]
    out["easting"], out["northing"] = u_east[kept_places], u_north[kept_places]
    # areas by place, expanded as codes: a million Python strings would cost a third of a second
    area_labels, area_of_place = np.unique(
        np.where(u_out, "", u_codes).astype(str), return_inverse=True)
    out["la_code"] = pd.Categorical.from_codes(area_of_place.reshape(-1)[kept_places],
                                               categories=area_labels)
    inside = ~u_out
    cells = cells_multi(u_lat[inside], u_lon[inside], H3_RESOLUTIONS, distinct=True)
    position = np.cumsum(inside) - 1  # place index -> index among the places kept
    for res, col in zip(H3_RESOLUTIONS, H3_COLUMNS, strict=True):
        out[col] = cells[res][position[kept_places]]

    local = out["occurred_at"].dt.tz_localize(None).to_numpy()
    hour_known = ~np.isnat(local)
    precision = out["time_precision"]
    has_day = hour_known & (precision != "month").to_numpy(dtype=bool)
    has_hour = hour_known & precision.isin(["minute", "hour"]).to_numpy(dtype=bool)
    day = local.astype("datetime64[D]")
    out["local_date"] = np.where(has_day, day, np.datetime64("NaT"))
    dow = ((day.astype("int64") + 3) % 7).astype("int8")  # 1970-01-01 was a Thursday
    out["dow"] = np.where(has_day, dow, -1).astype("int8")
    hours = ((local - day).astype("timedelta64[h]").astype("int64") % 24).astype("int8")
    out["hour"] = np.where(has_hour, hours, -1).astype("int8")
    snapped_rows = int(np.count_nonzero((assignment.distance_m > 0)[kept_places]))
    return out, rejects, snapped_rows


def _raw_text(rows: pd.DataFrame) -> list[str]:
    if rows.empty:
        return []
    cols = ["incident_id", "occurred_at", "month", "lon", "lat", "category", "source"]
    return rows[cols].astype("string").fillna("").agg(",".join, axis=1).tolist()


def _first_of_id(ids: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Return, for each row, the position of the first row with the same id (hash-based)."""
    if len(ids) == 0:
        return np.zeros(0, dtype="int64")
    if isinstance(ids, pa.ChunkedArray):  # large columns arrive in chunks
        ids = ids.combine_chunks()
    codes = np.asarray(pc.dictionary_encode(ids, null_encoding="encode").indices.to_numpy(
        zero_copy_only=False))
    # dictionary codes are numbered in order of first appearance, so code k first occurs at
    # the k-th new id
    is_new = np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]]
    return np.flatnonzero(is_new)[codes]


def _repeated(ids: pd.Series) -> np.ndarray:
    """Mark every id already seen earlier in the column (hash-based, via Arrow)."""
    values = pa.array(ids, type=pa.string(), from_pandas=True)
    return _first_of_id(values) != np.arange(len(values))


@dataclass
class _Repeats:
    """Rows of one file whose id an earlier valid row already has."""

    keep: np.ndarray  # rows to go on to the store (first of each id)
    duplicates: int  # later rows equal to the first
    rejects: pd.DataFrame  # later rows that differ from the first (conflicts), with reasons
    conflicts: np.ndarray  # the positions of those rows


def _in_file_repeats(table: pa.Table, lines: np.ndarray, *,
                     where: Callable[[int], str] | None = None,
                     what: str = CONFLICT_IN_FILE) -> _Repeats:
    """Split the valid rows of one file into first rows, exact repeats and conflicts.

    The first valid row of an id is kept; a later one is a duplicate when its content
    (:data:`geo.schema.CONTENT_COLUMNS`) equals the first's, and a conflict otherwise. Only
    valid rows take part: an invalid row never hides a valid one with the same id.
    ``where(position)`` names the first row in a conflict's reason (default: its line) and
    ``what`` begins the reason (an archive's month uses both: rows come from several files).
    """
    n = table.num_rows
    first = _first_of_id(table.column("incident_id"))
    later = np.flatnonzero(first != np.arange(n))
    keep = np.ones(n, dtype=bool)
    keep[later] = False
    if len(later) == 0:
        return _Repeats(keep, 0, make_rejects([], []), later)
    here = table.take(pa.array(later))
    there = table.take(pa.array(first[later]))
    differs = content_differences(here, there)
    conflict = np.logical_or.reduce(list(differs.values()))
    bad = np.flatnonzero(conflict)
    name = where or (lambda position: f"line {lines[position]}")
    others = [name(int(p)) for p in first[later[bad]]]
    how = [
        describe_differences(here, there, differs, np.array([i]), f"on {other}")[0]
        for i, other in zip(bad, others, strict=True)
    ]
    ids = here.column("incident_id").take(pa.array(bad)).to_pylist()
    reasons = [
        f"{what}: the same id '{i}' as {other}, with {h}"
        for i, other, h in zip(ids, others, how, strict=True)
    ]
    rejects = make_rejects(lines[later[bad]], reasons, row_text(here.take(pa.array(bad))))
    return _Repeats(keep, int(len(later) - len(bad)), rejects, later[bad])


def to_table(rows: pd.DataFrame, batch_id: str = "") -> pa.Table:
    """Convert derived rows to the stored Arrow schema."""
    frame = rows.assign(batch_id=batch_id)
    arrays = []
    for fld in STORED_SCHEMA:
        if fld.name not in frame:  # a column only some readers fill (health fields)
            arrays.append(pa.nulls(len(frame), type=fld.type))
            continue
        col = frame[fld.name]
        if fld.name in ("occurred_at", "assault_at"):
            arrays.append(pa.array(col, type=fld.type, from_pandas=True))
        elif isinstance(col.dtype, pd.CategoricalDtype):
            arrays.append(pa.array(col, from_pandas=True).cast(fld.type))
        else:
            arrays.append(pa.array(col.tolist() if col.dtype == object else col,
                                   type=fld.type, from_pandas=True))
    return pa.Table.from_arrays(arrays, schema=STORED_SCHEMA)


def ingest_file(
    path: Path,
    data: DataPaths,
    *,
    mapping: Mapping | HealthMapping | None = None,
    progress: Progress | None = None,
    kind: str = "user",
    boundaries: Boundaries | None = None,
    extend_sample: bool = False,
    lookups: DataPaths | None = None,
) -> IngestSummary:
    """Read ``path``, derive keys, and commit the accepted rows to the store in ``data``.

    Raises :class:`geo.schema.ReadError` for a file that cannot be read at all; every row of a
    readable file is either accepted, a duplicate, or written to the rejects file with a reason.

    A ``kind="sample"`` file replaces whatever the store holds, unless ``extend_sample`` adds
    it to the sample already stored (the bundled sample is several files). ``lookups`` is the
    data directory whose postcode directory and LSOA centroids place health records that give
    no coordinates (:mod:`geo.postcodes`); by default ``data``'s own.
    """
    path = Path(path)
    boundaries = boundaries or load_boundaries(data.boundaries)
    ready = prepare_file(path, boundaries, lookups or data, mapping=mapping, progress=progress)
    summary = ready.summary
    outcome = Store.of(data).commit(
        ready.table,
        source_file=str(path),
        rejects=ready.rejects,
        summary=ready.batch_summary(),
        kind=kind,
        lines=ready.lines,
        extend_sample=extend_sample,
    )
    return summary.committed(outcome, data.store, ready.duplicates, ready.conflicts)


@dataclass
class Prepared:
    """One file read and derived, ready to commit: what :func:`prepare_file` returns."""

    summary: IngestSummary
    #: The rows to store (repeats within the file already taken out) and their input lines.
    table: pa.Table
    lines: np.ndarray
    #: Rejected rows (unreadable, outside the area, conflicting repeats), with reasons.
    rejects: pd.DataFrame
    #: Exact repeats and conflicting repeats within the file.
    duplicates: int
    conflicts: int
    dropped: dict[str, list[str]]

    def batch_summary(self) -> dict[str, Any]:
        """Return the summary the store records with the batch."""
        s = self.summary
        return {
            "read": s.read,
            "rejected": s.rejected,
            "duplicates": self.duplicates,
            "conflicts": self.conflicts,
            "rejected_by_reason": s.rejected_by_reason,
            "conflicts_by_reason": {CONFLICT_IN_FILE: self.conflicts} if self.conflicts else {},
            **({"columns_dropped": self.dropped} if self.dropped else {}),
        }


def prepare_file(path: Path, boundaries: Boundaries, lookups: DataPaths, *,
                 mapping: Mapping | HealthMapping | None = None,
                 progress: Progress | None = None) -> Prepared:
    """Read ``path`` and derive its keys, with no store involved (see :func:`ingest_file`).

    ``lookups`` is the data directory whose postcode directory and LSOA centroids place health
    records that give no coordinates.
    """
    health = isinstance(mapping, HealthMapping) or (mapping is None and file_kind(path))
    result: ReadResult
    if health:
        result = read_health(path, lookups,
                             mapping if isinstance(mapping, HealthMapping) else None)
    else:
        assert not isinstance(mapping, HealthMapping)
        result = read_file(path, mapping=mapping, progress=progress)
    dropped = getattr(result, "dropped", {})
    summary = IngestSummary(file=str(path), read=result.lines_read,
                            notes=[n for n in result.notes if not n.startswith("Columns dropped")],
                            columns_dropped=dropped)
    rows = result.rows
    if not result.rows.empty and (health or detect_format(path) != "police_uk"):
        # Hospital and police systems number their records independently; an ED record 1 is
        # not police record 1. police.uk Crime IDs are already unique hashes.
        rows = rows.assign(incident_id=rows["source"].astype("string") + ":"
                           + rows["incident_id"].astype("string"))
    # Validate first (the reader did, derive rejects rows outside the area), then look for
    # repeated ids among the valid rows only: an invalid row must never hide a valid one.
    derived, outside, snapped = derive(rows, boundaries)
    rejects = pd.concat([result.rejects, outside], ignore_index=True).sort_values("line")
    summary.rejected = len(rejects)
    summary.rejected_by_reason = dict(Counter(reason_key(r) for r in rejects["reason"]))
    summary.snapped_to_nearest_area = snapped

    table = to_table(derived)
    lines = derived["line"].to_numpy(dtype="int64")
    repeats = _in_file_repeats(table, lines)
    if not repeats.keep.all():
        table = table.filter(pa.array(repeats.keep))
        lines = lines[repeats.keep]
    return Prepared(summary, table, lines,
                    pd.concat([rejects, repeats.rejects], ignore_index=True),
                    repeats.duplicates, len(repeats.rejects), dropped)


def load_sample(data: DataPaths, n: int | None = None, seed: int = 20240401
                ) -> list[IngestSummary]:
    """Load the bundled SYNTHETIC sample (or a fresh one of ``n`` incidents) into ``data``.

    The sample is three files (:data:`geo.sample.SAMPLE_FILES`): police records, ED
    attendances in the ISTV layout and ambulance call-outs. The health records that give only a
    postcode or an LSOA code are placed with the sample's own made-up postcode directory and
    LSOA centroids, imported into a throw-away folder rather than into ``data``: a made-up
    postcode must never place a real record ingested later, nor replace a real postcode
    directory the user imported.

    Refuses a data directory that holds the user's own incidents: the sample is never mixed in.

    Returns
    -------
    list of IngestSummary
        One per file: police, ED, ambulance.
    """
    import tempfile

    from geo.postcodes import import_lsoa_centroids, import_postcodes
    from geo.readers import load_mapping
    from geo.sample import SAMPLE_FILES, write_sample
    from geo.settings import bundled_sample_dir

    if Store(data.store).manifest().kind == "user":
        raise ValueError(
            f"{data.root} already holds your own incident data; the synthetic sample is never "
            "mixed with it. Choose another --data-dir to explore the sample."
        )
    sample_dir = bundled_sample_dir()
    mapping = load_mapping(sample_dir / "mapping.toml")
    with tempfile.TemporaryDirectory(prefix="hotspot-sample-") as tmp:
        if n is None:
            files = {key: sample_dir / name for key, name in SAMPLE_FILES.items()}
        else:
            # level 1: a million-row sample is written and read once, then thrown away
            files = write_sample(Path(tmp), n=n, seed=seed, compresslevel=1)
        lookups = DataPaths(Path(tmp) / "lookups")
        import_postcodes(files["postcodes"], lookups)
        import_lsoa_centroids(files["lsoa_centroids"], lookups)
        summaries = [ingest_file(files["incidents"], data, mapping=mapping, kind="sample")]
        for key in ("ed", "ambulance"):
            summaries.append(ingest_file(files[key], data, kind="sample", extend_sample=True,
                                         lookups=lookups))
    return summaries


def relabel_store(data: DataPaths, boundaries: Boundaries) -> str | None:
    """Re-assign every stored incident to the areas of ``boundaries`` (after an import).

    Incidents outside the new areas stay in the store with an empty area code, so nothing is
    lost; the returned message says how many.
    """
    store = Store.of(data)
    if not store.manifest().batches:
        return None
    outside_total = 0

    def transform(table: pa.Table) -> pa.Table:
        nonlocal outside_total
        east = table.column("easting").to_numpy()
        north = table.column("northing").to_numpy()
        codes = assign_areas(east, north, boundaries).code
        outside = pd.isna(codes)
        outside_total += int(outside.sum())
        labels = np.where(outside, "", codes.astype(object)).astype(str)
        idx = table.schema.get_field_index("la_code")
        return table.set_column(idx, STORED_SCHEMA.field("la_code"), pa.array(labels))

    manifest = store.rewrite(transform)
    text = f"Re-assigned {manifest.rows:,} stored incidents to the new areas."
    if outside_total:
        text += (f" {outside_total:,} lie outside every new area; they are kept and shown as "
                 "'outside the boundaries in use'.")
    return text
