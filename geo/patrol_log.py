"""Patrol logs: what Grip teams actually did, matched to the plan, and the dosage achieved.

A patrol log is a CSV with one row per visit: where (a hotspot id from the plan, such as an H3
cell or a rank id, or the latitude and longitude of the visit), when (start and end, UK local
time) and, optionally, which officer or unit. :func:`read_patrol_log` reads it, rejecting rows
that cannot be counted with a reason and line number; :func:`assign_visits` places every visit
in a planned hotspot; :func:`dosage_achieved` compares visits and minutes with the plan and
:func:`patrol_hours_total` gives the patrol hours for the Home Office return.

How time is counted
-------------------
* **Patrol hours are officer-unit hours.** Two units patrolling at once both count: two units
  for an hour are two patrol hours. Overlapping visits logged by the *same* unit are merged
  first (a unit cannot be in two places; an overlap is a logging slip or a double entry), so
  no unit's time is counted twice. Rows with no unit are treated as one unnamed unit per
  hotspot: overlapping unnamed visits at one hotspot are merged, never double counted.
* A visit's ``minutes`` run from its start to its end as instants, so a visit across a clock
  change is counted in real minutes (00:30 to 02:30 on the October change is 180 minutes).
* **Gaps** (:func:`dosage_achieved`) are the unpatrolled time at a hotspot between the end of
  one period of patrol presence (any unit) and the start of the next, counted only between
  presences that start on the same *patrol day*. A patrol day runs from ``day_starts_hour``
  (06:00 by default) to the same hour next morning, so a night shift of 20:00-04:00 is one day
  and the gap from the last visit at 02:00 to the first the next evening is not a gap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.harm import _find_column, _read_small_csv, _row_text
from geo.projection import to_bng
from geo.readers import _parse_datetimes
from geo.schema import ReadError, empty_rejects, make_rejects
from geo.settings import TIMEZONE

__all__ = [
    "MAX_VISIT_HOURS",
    "assign_visits",
    "dosage_achieved",
    "patrol_hours_total",
    "read_patrol_log",
]

#: A logged visit longer than this is almost always a wrong end time (a date or AM/PM slip).
MAX_VISIT_HOURS = 12

_US_PER_MIN = 60_000_000
_NO_UNIT = "\x00no unit"

LOG_COLUMNS = ("line", "hotspot", "lat", "lon", "start", "end", "unit", "minutes")


def _empty_log() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "line": pd.Series([], dtype="int64"),
            "hotspot": pd.Series([], dtype="string"),
            "lat": pd.Series([], dtype="float64"),
            "lon": pd.Series([], dtype="float64"),
            "start": pd.Series([], dtype=f"datetime64[us, {TIMEZONE}]"),
            "end": pd.Series([], dtype=f"datetime64[us, {TIMEZONE}]"),
            "unit": pd.Series([], dtype="string"),
            "minutes": pd.Series([], dtype="float64"),
        }
    )


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _coordinate_problem(lat_text: str, lon_text: str) -> tuple[float, float, str | None]:
    """Return ``(lat, lon, None)`` or NaNs and what is wrong with the coordinates."""
    nan = math.nan
    if not lat_text and not lon_text:
        return nan, nan, "no hotspot and no coordinates: give a hotspot id, or lat and lon"
    if not lat_text or not lon_text:
        given = "latitude" if lat_text else "longitude"
        return nan, nan, f"no hotspot, and only the {given} is given"
    lat, lon = _number(lat_text), _number(lon_text)
    if lat is None:
        return nan, nan, f"no hotspot, and latitude '{lat_text}' is not a number"
    if lon is None:
        return nan, nan, f"no hotspot, and longitude '{lon_text}' is not a number"
    if not (-90 <= lat <= 90) or not (-180 <= lon <= 180):
        swapped = " (latitude and longitude swapped?)" if -90 <= lon <= 90 else ""
        return nan, nan, f"no hotspot, and latitude {lat_text} / longitude {lon_text} are not " \
                         f"valid coordinates{swapped}"
    return lat, lon, None


def _duration_text(minutes: float) -> str:
    whole = int(round(minutes))
    return f"{whole // 60} h {whole % 60:02d} min"


def read_patrol_log(
    path: str | Path,
    *,
    hotspot_col: str = "hotspot",
    lat_col: str = "lat",
    lon_col: str = "lon",
    start_col: str = "start",
    end_col: str = "end",
    unit_col: str = "unit",
    source_name: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    r"""Read a patrol log CSV: one row per visit to a hotspot.

    Column names are matched exactly, then ignoring case and surrounding spaces. The file
    needs the start and end columns and either the hotspot column or both coordinate columns
    (it may have all three; a row with a hotspot id is placed by the id, a row without one by
    its coordinates). The unit column is optional. Times are read like incident times: ISO
    8601, UK ``dd/mm/yyyy hh:mm[:ss]`` or ``01-Jun-2024 23:15``, in UK local time (Europe/
    London; in the repeated autumn hour the first, BST, occurrence); a time with ``Z`` or an
    offset is converted. A time must include the time of day.

    A row is rejected, with its line number, when it has no hotspot id and no usable
    coordinates, when its start or end is blank, not understood or has no time of day, when
    it ends before it starts, when it lasts more than 12 hours, or when it repeats an earlier
    row (same hotspot or coordinates, start, end and unit). A visit of zero minutes is kept:
    it counts as a visit with no time.

    Parameters
    ----------
    path : str or Path
        UTF-8 CSV (a byte-order mark is fine).
    hotspot_col, lat_col, lon_col, start_col, end_col, unit_col : str
        Column names in the file.
    source_name : str, optional
        How to name the file in messages (an upload's original name); default: ``path``.

    Returns
    -------
    visits : pandas.DataFrame
        ``line``, ``hotspot`` (string or NA), ``lat``, ``lon`` (WGS84, NaN if not given),
        ``start``, ``end`` (Europe/London), ``unit`` (string or NA) and ``minutes``.
    rejects : pandas.DataFrame
        ``line``, ``reason``, ``raw``. Every data row is in exactly one of the two tables.

    Raises
    ------
    geo.schema.ReadError
        If the file is missing, empty or not UTF-8, beyond the upload limits (the message
        names the limit and its setting), or lacks the columns it needs (the message lists
        the columns found).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = p.write_text("hotspot,start,end,unit\nH1,01/06/2024 22:00,01/06/2024 22:15,PC1\n"
    ...                  "H1,01/06/2024 23:00,01/06/2024 22:50,PC1\n")
    >>> visits, rejects = read_patrol_log(p)
    >>> visits[["hotspot", "minutes"]].values.tolist(), str(visits.loc[0, "start"])
    ([['H1', 15.0]], '2024-06-01 22:00:00+01:00')
    >>> rejects["reason"].tolist()
    ['end 01/06/2024 22:50 is before start 01/06/2024 23:00']
    """
    path = Path(path)
    label = source_name or str(path)
    header, rows = _read_small_csv(path, "patrol log", label)
    found = {
        key: _find_column(header, [" ".join(name.split()).casefold()]) if name else None
        for key, name in (("hotspot", hotspot_col), ("lat", lat_col), ("lon", lon_col),
                          ("start", start_col), ("end", end_col), ("unit", unit_col))
    }
    # An exact name wins over a loose match (two columns may differ only in case).
    for key, name in (("hotspot", hotspot_col), ("lat", lat_col), ("lon", lon_col),
                      ("start", start_col), ("end", end_col), ("unit", unit_col)):
        if name in header:
            found[key] = header.index(name)
    columns_found = f"Columns found: {', '.join(repr(h) for h in header)}."
    missing = [name for key, name in (("start", start_col), ("end", end_col))
               if found[key] is None]
    if missing:
        raise ReadError(
            f"{label}: the patrol log needs start and end time columns; "
            f"{' and '.join(repr(m) for m in missing)} not found. {columns_found}"
        )
    has_coords = found["lat"] is not None and found["lon"] is not None
    if found["hotspot"] is None and not has_coords:
        raise ReadError(
            f"{label}: the patrol log needs a hotspot column ('{hotspot_col}') or both "
            f"coordinate columns ('{lat_col}' and '{lon_col}'). {columns_found}"
        )
    positions = {k: v for k, v in found.items() if v is not None}
    needed = max(positions.values()) + 1

    def cell(record: list[str], key: str) -> str:
        pos = positions.get(key)
        return record[pos].strip() if pos is not None and pos < len(record) else ""

    start_text = [cell(r, "start") for _, r in rows]
    end_text = [cell(r, "end") for _, r in rows]
    start_utc, start_ok = _times(start_text)
    end_utc, end_ok = _times(end_text)

    lines: list[int] = []
    out: dict[str, list[Any]] = {k: [] for k in ("hotspot", "lat", "lon", "start", "end", "unit")}
    bad_lines: list[int] = []
    reasons: list[str] = []
    raws: list[str] = []
    first_line: dict[tuple[Any, ...], int] = {}
    for i, (line, record) in enumerate(rows):
        problems: list[str] = []
        if len(record) < needed:
            problems.append(
                f"row has {len(record)} field{'s' if len(record) != 1 else ''} but the header "
                f"has {len(header)} (a row cut short?)"
            )
        hotspot = cell(record, "hotspot")
        lat = lon = math.nan
        if not problems:
            lat, lon, coord_problem = _coordinate_problem(cell(record, "lat"), cell(record, "lon"))
            if hotspot:
                coord_problem = None  # the id places the visit; coordinates are only kept
            if coord_problem:
                problems.append(coord_problem)
            for what, text, ok in (("start", start_text[i], start_ok[i]),
                                   ("end", end_text[i], end_ok[i])):
                if not text:
                    problems.append(f"{what} time is blank")
                elif ok == "bad":
                    problems.append(f"{what} time not understood: '{text}'")
                elif ok == "no time":
                    problems.append(f"{what} '{text}' has no time of day")
        if not problems:
            minutes = (end_utc[i] - start_utc[i]) / _US_PER_MIN
            if minutes < 0:
                problems.append(f"end {end_text[i]} is before start {start_text[i]}")
            elif minutes > MAX_VISIT_HOURS * 60:
                problems.append(
                    f"visit is longer than {MAX_VISIT_HOURS} hours ({_duration_text(minutes)}): "
                    "check the end time"
                )
        unit = cell(record, "unit")
        if not problems:
            same = (hotspot, round(lat, 7) if hotspot == "" else None,
                    round(lon, 7) if hotspot == "" else None, start_utc[i], end_utc[i], unit)
            if same in first_line:
                problems.append(
                    f"duplicate of line {first_line[same]} (same "
                    f"{'hotspot' if hotspot else 'place'}, start, end and unit)"
                )
            else:
                first_line[same] = line
        if problems:
            bad_lines.append(line)
            reasons.append("; ".join(problems))
            raws.append(_row_text(record))
            continue
        lines.append(line)
        out["hotspot"].append(hotspot or None)
        out["lat"].append(lat)
        out["lon"].append(lon)
        out["start"].append(start_utc[i])
        out["end"].append(end_utc[i])
        out["unit"].append(unit or None)
    rejects = make_rejects(bad_lines, reasons, raws) if bad_lines else empty_rejects()
    if not lines:
        return _empty_log(), rejects
    start = _local(np.asarray(out["start"], dtype="int64"))
    end = _local(np.asarray(out["end"], dtype="int64"))
    visits = pd.DataFrame(
        {
            "line": np.asarray(lines, dtype="int64"),
            "hotspot": pd.array(out["hotspot"], dtype="string"),
            "lat": np.asarray(out["lat"], dtype="float64"),
            "lon": np.asarray(out["lon"], dtype="float64"),
            "start": start,
            "end": end,
            "unit": pd.array(out["unit"], dtype="string"),
            "minutes": (np.asarray(out["end"]) - np.asarray(out["start"])) / _US_PER_MIN,
        }
    )
    return visits, rejects


def _times(texts: list[str]) -> tuple[np.ndarray, list[str]]:
    """Return UTC microseconds (int64) and a status per value: "ok", "bad" or "no time"."""
    if not texts:
        return np.zeros(0, dtype="int64"), []
    parsed = _parse_datetimes(pa.array(texts, type=pa.string()), "auto", True, "convert")
    status = [
        "bad" if not ok else ("ok" if prec in ("minute", "hour") else "no time")
        for ok, prec in zip(parsed.ok.tolist(), parsed.precision.tolist(), strict=True)
    ]
    utc = parsed.utc.astype("datetime64[us]").astype("int64")
    return utc, status


def _local(utc_us: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(utc_us.astype("datetime64[us]")).tz_localize("UTC").tz_convert(TIMEZONE)


def _instants(values: pd.Series) -> np.ndarray:
    """Return tz-aware times as UTC microseconds since the epoch (int64)."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        raise ValueError("patrol times must be time-zone aware (as read_patrol_log returns them)")
    return np.asarray(index.as_unit("us").asi8, dtype="int64")


def _log_text(row: pd.Series) -> str:
    parts = [row.get("hotspot"), row.get("lat"), row.get("lon"), row.get("start"), row.get("end"),
             row.get("unit")]
    return ",".join("" if v is None or (not isinstance(v, str) and pd.isna(v)) else str(v)
                    for v in parts)


def assign_visits(
    log: pd.DataFrame,
    hotspots: Mapping[str, Any],
    *,
    tolerance_m: float = 50.0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Place every visit in a planned hotspot; reject visits that fit none.

    A visit with a hotspot id is placed by the id (matched exactly, then ignoring case and
    surrounding spaces) and rejected if the plan has no such hotspot. A visit with only
    coordinates is placed in the hotspot whose polygon contains the point or lies within
    ``tolerance_m`` metres of it (measured in British National Grid), the nearest if several
    do (the first in plan order on a tie); if none does, it is rejected with the distance to
    the nearest hotspot.

    Parameters
    ----------
    log : pandas.DataFrame
        Visits as :func:`read_patrol_log` returns them.
    hotspots : mapping of str to shapely Polygon or MultiPolygon
        The plan's hotspots: id -> polygon in WGS84 (longitude, latitude).
    tolerance_m : float
        How far outside a hotspot polygon, in metres, a logged point still counts as in it
        (GPS error, an officer standing on the boundary road).

    Returns
    -------
    visits : pandas.DataFrame
        The placed visits, ``hotspot`` set to the plan's id, plus ``assigned_by`` (``"id"`` or
        ``"point"``) and ``distance_m`` (0 inside the polygon, NaN when placed by id).
    rejects : pandas.DataFrame
        ``line``, ``reason``, ``raw`` for visits that fit no hotspot.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> import pandas as pd
    >>> plan = {"H1": box(-2.705, 53.758, -2.700, 53.761)}
    >>> log = pd.DataFrame({"line": [2, 3, 4], "hotspot": pd.array([None, "h1", "H9"], "string"),
    ...                     "lat": [53.759, float("nan"), float("nan")],
    ...                     "lon": [-2.703, float("nan"), float("nan")]})
    >>> placed, rejects = assign_visits(log, plan)
    >>> placed[["line", "hotspot", "assigned_by"]].values.tolist()
    [[2, 'H1', 'point'], [3, 'H1', 'id']]
    >>> rejects["reason"].tolist()
    ["hotspot 'H9' is not in the plan"]
    """
    import shapely

    if tolerance_m < 0:
        raise ValueError(f"tolerance_m must be zero or more, got {tolerance_m}")
    ids = [str(k) for k in hotspots]
    exact = {k: k for k in ids}
    loose: dict[str, list[str]] = {}
    for k in ids:
        loose.setdefault(k.strip().casefold(), []).append(k)
    n = len(log)
    resolved = np.full(n, None, dtype=object)
    assigned_by = np.full(n, None, dtype=object)
    distance = np.full(n, np.nan)
    reasons = np.full(n, None, dtype=object)
    hotspot_text = log["hotspot"].astype("string").fillna("").str.strip().tolist()
    for i, text in enumerate(hotspot_text):
        if not text:
            continue
        match = exact.get(text)
        if match is None and len(loose.get(text.casefold(), [])) == 1:
            match = loose[text.casefold()][0]
        if match is None:
            reasons[i] = f"hotspot '{text}' is not in the plan"
        else:
            resolved[i] = match
            assigned_by[i] = "id"
    by_point = np.flatnonzero(np.asarray([t == "" for t in hotspot_text], dtype=bool))
    if len(by_point):
        lat = log["lat"].to_numpy(dtype="float64")[by_point]
        lon = log["lon"].to_numpy(dtype="float64")[by_point]
        if not ids:
            for row_i in by_point.tolist():
                reasons[row_i] = "the plan has no hotspots to place this visit in"
        else:
            polygons = np.asarray([hotspots[k] for k in hotspots], dtype=object)
            if any(g is None or shapely.is_empty(g) for g in polygons):
                raise ValueError("every hotspot needs a polygon; one is missing or empty")
            bng_polygons = shapely.transform(
                polygons, lambda xy: np.column_stack(to_bng(xy[:, 0], xy[:, 1]))
            )
            east, north = to_bng(lon, lat)
            points = shapely.points(east, north)
            tree = shapely.STRtree(bng_polygons)
            nearest_idx, nearest_d = tree.query_nearest(points, return_distance=True,
                                                        all_matches=True)
            # nearest_idx is (point, polygon) pairs; keep the first polygon per point
            # (plan order on ties) by sorting pairs on (point, polygon).
            order = np.lexsort((nearest_idx[1], nearest_idx[0]))
            pt, poly, d = nearest_idx[0][order], nearest_idx[1][order], nearest_d[order]
            first = np.ones(len(pt), dtype=bool)
            first[1:] = pt[1:] != pt[:-1]
            best_poly = np.full(len(by_point), -1)
            best_d = np.full(len(by_point), np.nan)
            best_poly[pt[first]] = poly[first]
            best_d[pt[first]] = d[first]
            for j, i in enumerate(by_point.tolist()):
                if best_poly[j] >= 0 and best_d[j] <= tolerance_m:
                    resolved[i] = ids[best_poly[j]]
                    assigned_by[i] = "point"
                    distance[i] = best_d[j]
                elif best_poly[j] >= 0:
                    reasons[i] = (
                        f"the point {lat[j]:.5f}, {lon[j]:.5f} is in no hotspot (nearest: "
                        f"'{ids[best_poly[j]]}', {best_d[j]:,.0f} m away)"
                    )
                else:
                    reasons[i] = "the point could not be placed on the map"
    ok = resolved != None  # noqa: E711 -- element-wise comparison on an object array
    placed = log.loc[ok].copy()
    placed["hotspot"] = pd.array(resolved[ok].tolist(), dtype="string")
    placed["assigned_by"] = pd.array(assigned_by[ok].tolist(), dtype="string")
    placed["distance_m"] = distance[ok]
    placed = placed.reset_index(drop=True)
    bad = ~ok
    if bad.any():
        bad_rows = log.loc[bad]
        rejects = make_rejects(
            bad_rows["line"].to_numpy(dtype="int64"),
            reasons[bad].tolist(),
            [_log_text(r) for _, r in bad_rows.iterrows()],
        )
    else:
        rejects = empty_rejects()
    return placed, rejects


def _period_bounds(period_start: Any, period_end: Any) -> tuple[int, int]:
    """Return ``[start, end)`` as UTC microseconds; dates are whole local days, end included."""

    def instant(value: Any, is_end: bool) -> int:
        if isinstance(value, date) and not isinstance(value, datetime):
            ts = pd.Timestamp(value)
            if is_end:
                ts = ts + pd.Timedelta(days=1)
            ts = ts.tz_localize(TIMEZONE, ambiguous=True, nonexistent="shift_forward")
        else:
            ts = pd.Timestamp(value)
            ts = (ts.tz_localize(TIMEZONE, ambiguous=True, nonexistent="shift_forward")
                  if ts.tzinfo is None else ts.tz_convert(TIMEZONE))
        return int(pd.DatetimeIndex([ts]).as_unit("us").asi8[0])

    lo, hi = instant(period_start, False), instant(period_end, True)
    if hi <= lo:
        raise ValueError(f"period_end {period_end} is not after period_start {period_start}")
    return lo, hi


def _merge(group: np.ndarray, start: np.ndarray, end: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge overlapping or touching intervals within each group.

    Returns the group, start and end of each merged interval, sorted by group then start.
    """
    if len(group) == 0:
        return group, start, end
    order = np.lexsort((start, group))
    g, s, e = group[order], start[order], end[order]
    running = pd.Series(e).groupby(g).cummax().to_numpy()
    new = np.ones(len(g), dtype=bool)
    new[1:] = (g[1:] != g[:-1]) | (s[1:] > running[:-1])
    first = np.flatnonzero(new)
    return g[first], s[first], np.maximum.reduceat(e, first)


def _unit_keys(visits: pd.DataFrame, per_hotspot: bool) -> np.ndarray:
    """Who made each visit, for merging: the unit, or an unnamed unit per hotspot."""
    unit = visits["unit"].astype("string")
    hotspot = visits["hotspot"].astype("string").fillna("")
    unnamed = _NO_UNIT + "\x1f" + hotspot
    key = unit.where(unit.notna() & (unit.str.strip() != ""), unnamed)
    if per_hotspot:
        key = hotspot + "\x1e" + key
    return np.asarray(key.to_numpy(dtype=object))


def _clip(visits: pd.DataFrame, lo: int | None, hi: int | None
          ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Return the visits inside ``[lo, hi)`` with their start/end clipped to it (UTC µs)."""
    start, end = _instants(visits["start"]), _instants(visits["end"])
    if lo is None or hi is None:
        return visits, start, end
    s, e = np.maximum(start, lo), np.minimum(end, hi)
    # a zero-minute visit still counts when it happens inside the period
    keep = (e > s) | ((start == end) & (start >= lo) & (start < hi))
    return visits.loc[keep], s[keep], e[keep]


def patrol_hours_total(
    visits: pd.DataFrame, *, period_start: Any = None, period_end: Any = None
) -> float:
    """Return patrol hours for the Home Office return: officer-unit hours, no unit counted twice.

    Each unit's overlapping or touching visits are merged (across hotspots: a unit is in one
    place at a time); different units' time adds up. Rows with no unit are one unnamed unit per
    hotspot. With ``period_start`` and ``period_end`` (dates are whole days, both included;
    date-times bound ``[start, end)``) visits are clipped to the period.

    Examples
    --------
    >>> t = lambda s: pd.Timestamp(s, tz="Europe/London")
    >>> v = pd.DataFrame({"hotspot": ["A", "A", "B"], "unit": ["PC1", "PC1", "PC2"],
    ...                   "start": [t("2024-06-01 20:00"), t("2024-06-01 20:30"),
    ...                             t("2024-06-01 20:00")],
    ...                   "end": [t("2024-06-01 21:00"), t("2024-06-01 21:30"),
    ...                           t("2024-06-01 21:00")]})
    >>> patrol_hours_total(v)
    2.5
    """
    if (period_start is None) != (period_end is None):
        raise ValueError("give both period_start and period_end, or neither")
    lo = hi = None
    if period_start is not None:
        lo, hi = _period_bounds(period_start, period_end)
    kept, s, e = _clip(visits, lo, hi)
    if len(kept) == 0:
        return 0.0
    _, ms, me = _merge(_unit_keys(kept, per_hotspot=False), s, e)
    return float((me - ms).sum() / (_US_PER_MIN * 60))


def dosage_achieved(
    visits: pd.DataFrame,
    planned: pd.DataFrame,
    period_start: Any,
    period_end: Any,
    *,
    day_starts_hour: int = 6,
) -> pd.DataFrame:
    """Compare the patrols delivered at each hotspot with the plan for a period.

    Visits are clipped to the period (dates are whole local days, both included; date-times
    bound ``[start, end)``). At each hotspot each unit's overlapping visits are merged first
    (see the module notes), then:

    * ``visits``: the merged visits (a unit's double entry is one visit; two units arriving
      together are two visits);
    * ``minutes``: officer-unit minutes of those visits, as for :func:`patrol_hours_total`;
    * ``presence_minutes``: minutes with at least one unit there (the union of all visits);
    * ``mean_gap_min``, ``max_gap_min``: unpatrolled minutes between consecutive periods of
      presence on the same patrol day (a day starts at ``day_starts_hour`` local time); NaN
      when no day has two separate presences;
    * ``planned_visits``, ``planned_minutes``: from ``planned`` (NA for a hotspot visited but
      not planned);
    * ``achieved_share``: ``minutes / planned_minutes`` (NaN when nothing was planned).

    Parameters
    ----------
    visits : pandas.DataFrame
        Placed visits (:func:`assign_visits`): ``hotspot``, ``start``, ``end``, ``unit``.
    planned : pandas.DataFrame
        ``hotspot``, ``planned_visits``, ``planned_minutes`` for the period.
    period_start, period_end : date, datetime or pandas.Timestamp
        The period; naive date-times are UK local time.
    day_starts_hour : int
        Local hour at which one patrol day (for gaps) ends and the next begins.

    Returns
    -------
    pandas.DataFrame
        One row per planned hotspot, in the plan's order, then any unplanned hotspot visited.

    Examples
    --------
    >>> t = lambda s: pd.Timestamp(s, tz="Europe/London")
    >>> v = pd.DataFrame({"hotspot": ["A", "A"], "unit": ["PC1", "PC2"],
    ...                   "start": [t("2024-06-01 20:00"), t("2024-06-01 22:00")],
    ...                   "end": [t("2024-06-01 20:15"), t("2024-06-01 22:20")]})
    >>> plan = pd.DataFrame({"hotspot": ["A", "B"], "planned_visits": [4, 4],
    ...                      "planned_minutes": [60, 60]})
    >>> out = dosage_achieved(v, plan, date(2024, 6, 1), date(2024, 6, 1))
    >>> out[["hotspot", "visits", "minutes", "max_gap_min", "achieved_share"]].values.tolist()
    [['A', 2, 35.0, 105.0, 0.5833333333333334], ['B', 0, 0.0, nan, 0.0]]
    """
    need = {"hotspot", "planned_visits", "planned_minutes"}
    if not need <= set(planned.columns):
        raise ValueError(f"planned needs columns {sorted(need)}; it has {list(planned.columns)}")
    if not 0 <= day_starts_hour <= 23:
        raise ValueError(f"day_starts_hour must be 0-23, got {day_starts_hour}")
    lo, hi = _period_bounds(period_start, period_end)
    kept, s, e = _clip(visits, lo, hi)
    hotspot = kept["hotspot"].astype("string").fillna("").to_numpy(dtype=object)

    stats: dict[str, dict[str, float]] = {}
    if len(kept):
        g, ms, me = _merge(_unit_keys(kept, per_hotspot=True), s, e)
        spot = np.asarray([k.split("\x1e", 1)[0] for k in g.tolist()], dtype=object)
        unit_frame = pd.DataFrame({"hotspot": spot, "minutes": (me - ms) / _US_PER_MIN})
        per_spot = unit_frame.groupby("hotspot", sort=False)["minutes"].agg(["size", "sum"])
        pg, ps, pe = _merge(hotspot, s, e)
        day_shift = day_starts_hour * 60 * _US_PER_MIN
        local_wall = _local(ps).tz_localize(None).as_unit("us").asi8
        patrol_day = (local_wall - day_shift) // (24 * 60 * _US_PER_MIN)
        same = np.zeros(len(pg), dtype=bool)
        same[1:] = (pg[1:] == pg[:-1]) & (patrol_day[1:] == patrol_day[:-1])
        gap_idx = np.flatnonzero(same)
        gaps = pd.DataFrame({
            "hotspot": pg[gap_idx],
            "gap": (ps[gap_idx] - pe[gap_idx - 1]) / _US_PER_MIN,
        }).groupby("hotspot", sort=False)["gap"].agg(["mean", "max"])
        presence = pd.Series((pe - ps) / _US_PER_MIN).groupby(pg).sum()
        for spot_id, row in per_spot.iterrows():
            stats[str(spot_id)] = {
                "visits": int(row["size"]),
                "minutes": float(row["sum"]),
                "presence_minutes": float(presence.get(spot_id, 0.0)),
                "mean_gap_min": float(gaps["mean"].get(spot_id, np.nan)),
                "max_gap_min": float(gaps["max"].get(spot_id, np.nan)),
            }
    plan_ids = planned["hotspot"].astype(str).tolist()
    order = plan_ids + sorted(k for k in stats if k not in set(plan_ids))
    plan = planned.assign(hotspot=plan_ids).drop_duplicates("hotspot").set_index("hotspot")
    rows = []
    for spot_id in order:
        got = stats.get(spot_id, {})
        planned_visits = plan["planned_visits"].get(spot_id, np.nan)
        planned_minutes = plan["planned_minutes"].get(spot_id, np.nan)
        minutes = got.get("minutes", 0.0)
        share = (minutes / float(planned_minutes)
                 if pd.notna(planned_minutes) and float(planned_minutes) > 0 else np.nan)
        rows.append({
            "hotspot": spot_id,
            "visits": got.get("visits", 0),
            "minutes": minutes,
            "presence_minutes": got.get("presence_minutes", 0.0),
            "mean_gap_min": got.get("mean_gap_min", np.nan),
            "max_gap_min": got.get("max_gap_min", np.nan),
            "planned_visits": planned_visits,
            "planned_minutes": planned_minutes,
            "achieved_share": share,
        })
    out = pd.DataFrame(rows, columns=[
        "hotspot", "visits", "minutes", "presence_minutes", "mean_gap_min", "max_gap_min",
        "planned_visits", "planned_minutes", "achieved_share",
    ])
    out["hotspot"] = out["hotspot"].astype("string")
    out["visits"] = out["visits"].astype("int64")
    for col in ("minutes", "presence_minutes", "mean_gap_min", "max_gap_min",
                "planned_visits", "planned_minutes", "achieved_share"):
        out[col] = out[col].astype("float64")
    return out
