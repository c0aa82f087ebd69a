"""Night-time-economy zone figures from the store: one report for the page, the API and sheets.

Composes the query layer (selection), :mod:`geo.zones` (which zone each incident is in),
:mod:`geo.nte` (the night rule, nightly counts, hour profiles, red/amber/green status) and
:mod:`geo.venues` (premises and taxi ranks near incidents).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from geo.hotspots import main_categories
from geo.nte import (
    NightRule,
    StatusRule,
    hour_profile,
    night_of,
    night_share,
    night_status,
    nightly_counts,
    weekend_counts,
    weekend_status,
)
from geo.query import Filters, QueryLayer

_EPOCH = date(1970, 1, 1)


def _iso(day: int) -> str:
    return (_EPOCH + timedelta(days=int(day))).isoformat()


@dataclass(frozen=True)
class NteParams:
    """What an NTE report depends on, besides the data and the zones."""

    filters: Filters = Filters()
    rule: NightRule = NightRule()
    status: StatusRule = StatusRule()


@dataclass
class NteReport:
    """Per-zone night-time figures."""

    params: NteParams
    zone_ids: list[str]
    zone_names: list[str]
    nightly: pd.DataFrame  # zone, night, weekend, count (zone = index into zone_ids)
    weekends: pd.DataFrame  # zone, weekend, count, status, thresholds
    nights: pd.DataFrame  # zone, night, count, status
    profile: np.ndarray  # zones x night hours
    share: pd.DataFrame
    categories: list[str]
    night_hours: list[int]
    notes: list[str] = field(default_factory=list)
    #: Each zone's place name and where it came from (:func:`geo.names.name_places`), from
    #: every selected incident inside it, at any time (month-only ones too).
    place_names: list[str] = field(default_factory=list)
    name_sources: list[str] = field(default_factory=list)

    def zone_summary(self) -> pd.DataFrame:
        """One row per zone: night incidents, share at night, latest weekend and its status."""
        rows = []
        for z, (zid, name) in enumerate(zip(self.zone_ids, self.zone_names, strict=True)):
            wk = self.weekends[self.weekends["zone"] == z]
            last = wk.iloc[-1] if len(wk) else None
            sh = self.share[self.share["zone"] == z]
            rows.append({
                "zone_id": zid, "name": name,
                "place_name": self.place_names[z] if self.place_names else "",
                "name_source": self.name_sources[z] if self.name_sources else "",
                "night_incidents": int(self.nightly.loc[self.nightly["zone"] == z,
                                                        "count"].sum()),
                "night_share": float(sh["share"].iloc[0]) if len(sh) else float("nan"),
                "night_count": int(sh["night_count"].iloc[0]) if len(sh) else 0,
                "all_count": int(sh["all_count"].iloc[0]) if len(sh) else 0,
                "latest_weekend": None if last is None else last["weekend"],
                "latest_count": None if last is None else int(last["count"]),
                "latest_status": None if last is None else last["status"],
                "main_categories": self.categories[z],
            })
        return pd.DataFrame(rows, columns=[
            "zone_id", "name", "place_name", "name_source", "night_incidents", "night_share",
            "night_count", "all_count", "latest_weekend", "latest_count", "latest_status",
            "main_categories"])


def build_report(query: QueryLayer, zone_set: Any, params: NteParams) -> NteReport:
    """Compute every zone's night-time figures for the selection."""
    from geo.zones import assign_zones

    zones = zone_set.zones
    n_zones = len(zones)
    span = query.month_cover()[0]
    month_only = query.month_only_count()
    # only incidents inside a zone count: an engine reads those inside the zones' bounds
    # (none without zones), bounded; in memory every incident is there
    boxes = zone_bounds(zone_set.zones_bng.geometry) if n_zones else []
    query = query.within(
        params.filters if boxes else replace(params.filters, areas=()),
        "The night-time economy figures", "fewer crime types, or fewer or smaller zones",
        boxes=boxes)
    fr = query.frame()
    sel = query.select(params.filters)
    chosen = np.flatnonzero(sel.mask)
    notes = []
    if month_only:
        notes.append(f"{month_only:,} incidents have only a month (police.uk) and "
                     "cannot be placed in a night; they are left out.")
    # every selected incident is placed once: all of them name the zones, the dated ones count
    zone_all = assign_zones(fr.easting[chosen], fr.northing[chosen], zone_set) if n_zones \
        else np.full(len(chosen), -1)
    names = zone_names(query, fr, chosen, zone_all, list(zone_set.zones_bng.geometry)
                       if n_zones else [])
    dated = (fr.hour[chosen] >= 0) & (fr.day[chosen] >= 0)
    idx, zone = chosen[dated], zone_all[dated]
    night = night_of(fr.day[idx], fr.hour[idx], params.rule)
    at_night = night >= 0
    in_zone = zone >= 0
    if span is not None:
        # Nights only where there are data: a range reaching past them would add a row of
        # zeros for every night in between (and count against the zone's status).
        first = max(params.filters.start or span[0], span[0]) - _EPOCH
        last = min(params.filters.end or span[1], span[1]) - _EPOCH
        first_night, last_night = first.days, last.days
    else:
        first_night = last_night = 0
    sel_n = at_night & in_zone
    night_range: dict[str, int | None] = {"first_night": first_night,
                                          "last_night": last_night}
    if last_night < first_night:  # the range lies wholly outside the data: no nights
        sel_n = np.zeros_like(sel_n)
        night_range = {"first_night": None, "last_night": None}
    nightly = nightly_counts(zone[sel_n], night[sel_n], n_zones, **night_range)
    weekends = weekend_status(weekend_counts(nightly), params.status)
    nights = night_status(nightly, params.status)
    profile = hour_profile(zone[sel_n], fr.hour[idx][sel_n], n_zones, params.rule)
    share = night_share(zone[in_zone], night[in_zone], n_zones, hour=fr.hour[idx][in_zone])
    labels = [str(c) for c in fr.categories]
    cats = []
    for z in range(n_zones):
        members = fr.category[idx][sel_n & (zone == z)]
        cats.append(main_categories(members, labels))
    night_hours = [*range(params.rule.evening_start, 24), *range(0, params.rule.morning_end)]
    return NteReport(params=params, zone_ids=list(zones["zone_id"]),
                     zone_names=list(zones["name"]), nightly=nightly, weekends=weekends,
                     nights=nights, profile=profile, share=share, categories=cats,
                     night_hours=night_hours, notes=notes,
                     place_names=names["place_name"].tolist(),
                     name_sources=names["name_source"].tolist())


def zone_bounds(polygons: Any, margin_m: float = 0.0) -> list[tuple[float, float, float, float]]:
    """Return each polygon's bounds (British National Grid), widened by ``margin_m``.

    Empty polygons have none and are left out, and so are polygons whose bounds are not
    finite numbers (a zone drawn so far from Great Britain that the grid has no metres for
    it holds no incident).

    Examples
    --------
    >>> import shapely
    >>> zone_bounds([shapely.box(0, 0, 10, 5), shapely.Polygon(),
    ...              shapely.box(0, 0, float("inf"), 1)], margin_m=1)
    [(-1.0, -1.0, 11.0, 6.0)]
    """
    import math

    out = []
    for g in polygons:
        if g is None or g.is_empty:
            continue
        x0, y0, x1, y1 = (float(v) for v in g.bounds)
        box = (x0 - margin_m, y0 - margin_m, x1 + margin_m, y1 + margin_m)
        if all(math.isfinite(v) for v in box):
            out.append(box)
    return out


def zone_names(query: QueryLayer, fr: Any, rows: np.ndarray, zone: np.ndarray,
               polygons_bng: list[Any]) -> pd.DataFrame:
    """Name zones (saved or suggested) from the incidents in them, as the principal may see.

    Parameters
    ----------
    query : QueryLayer
        Names come from its pinned frame (:meth:`geo.query.QueryLayer.place_names`).
    fr : IncidentFrame
        The frame ``rows`` index.
    rows, zone : numpy.ndarray
        Incident rows and the zone each lies in (-1: none).
    polygons_bng : list of shapely geometries
        The zones in British National Grid: a zone without named incidents is named from a
        point surely inside it.

    Returns
    -------
    pandas.DataFrame
        ``place_name`` and ``name_source`` per zone.
    """
    import shapely

    if polygons_bng:
        inside = shapely.point_on_surface(np.asarray(polygons_bng, dtype=object))
        east, north = shapely.get_x(inside), shapely.get_y(inside)
    else:
        east = north = np.zeros(0)
    return query.place_names(rows, zone, len(polygons_bng), np.asarray(east, dtype="float64"),
                             np.asarray(north, dtype="float64"), frame=fr)


def nte_filters(params: NteParams, weekend: date | None = None) -> Filters:
    """Return a report's filters, optionally narrowed to one weekend (Fri and Sat nights)."""
    if weekend is None:
        return params.filters
    return replace(params.filters, start=weekend, end=weekend + timedelta(days=2))


#: Weekends a deployment sheet's forecast looks back over: the patrol plan's default look-back
#: of twelve weeks, so both rest on the same recent past.
SHEET_WEEKENDS = 12


def coming_friday(today: date, data_end: date | None) -> tuple[date, str]:
    """Return the Friday of the coming weekend and what it was counted from.

    The weekend is the first one from ``today`` or from the day after the data end, whichever
    is later (a weekend already under way on Saturday or Sunday is still "coming": its Sunday
    night is ahead).

    Examples
    --------
    >>> coming_friday(date(2026, 12, 2), date(2025, 3, 31))
    (datetime.date(2026, 12, 4), 'today')
    >>> coming_friday(date(2024, 6, 1), date(2024, 6, 10))
    (datetime.date(2024, 6, 14), 'the day after the data end')
    >>> coming_friday(date(2024, 6, 9), None)[0]  # a Sunday: this weekend
    datetime.date(2024, 6, 7)
    """
    after_data = data_end + timedelta(days=1) if data_end is not None else None
    if after_data is not None and after_data > today:
        start, basis = after_data, "the day after the data end"
    else:
        start, basis = today, "today"
    wd = start.weekday()
    friday = start - timedelta(days=wd - 4) if wd in (5, 6) else \
        start + timedelta(days=(4 - wd) % 7)
    return friday, basis


@dataclass(frozen=True)
class WeekendOutlook:
    """What a zone's last weekends say about one weekend ahead (a deployment sheet).

    The forecast is the mean of the zone's last weekends in the data before ``friday``, the
    same per-shift average the patrol plan's "expected" uses; the status thresholds are those
    :func:`geo.nte.weekend_status` would rate that weekend against (the zone's own previous
    weekends, never the weekend itself).
    """

    friday: date
    #: The last weekends in the data before ``friday`` (zone, weekend, count, status), oldest
    #: first; at most :data:`SHEET_WEEKENDS`.
    last: pd.DataFrame
    #: Mean incidents per weekend over ``last`` (NaN with none).
    expected: float
    low: int
    high: int
    #: Counts that would make the weekend green (at or below) and red (above); None when the
    #: zone has too little history to rate it.
    green_at_most: float | None
    red_above: float | None
    #: Days between the data end and ``friday`` (how stale the basis is).
    gap_days: int | None


def weekend_outlook(report: NteReport, zone: int, friday: date, data_end: date | None,
                    lookback: int = SHEET_WEEKENDS) -> WeekendOutlook:
    """Forecast one zone's weekend from its last ``lookback`` weekends in the data.

    Examples
    --------
    >>> nightly = pd.DataFrame({"zone": [0] * 6, "count": [2, 1, 4, 3, 0, 6],
    ...     "night": ["2024-05-24", "2024-05-25", "2024-05-31", "2024-06-01", "2024-06-07",
    ...               "2024-06-08"], "weekend": [True] * 6})
    >>> report = NteReport(params=NteParams(status=StatusRule(min_history=2)),
    ...     zone_ids=["z"], zone_names=["Z"], nightly=nightly,
    ...     weekends=weekend_status(weekend_counts(nightly), StatusRule(min_history=2)),
    ...     nights=nightly,
    ...     profile=np.zeros((1, 10)), share=pd.DataFrame(), categories=[""],
    ...     night_hours=list(range(10)))
    >>> o = weekend_outlook(report, 0, date(2024, 6, 14), date(2024, 6, 9))
    >>> o.last["count"].tolist(), round(o.expected, 2), (o.low, o.high), o.gap_days
    ([3, 7, 6], 5.33, (3, 7), 5)
    >>> o.green_at_most, o.red_above  # the median and 90th percentile of 3, 7 and 6
    (6.0, 6.8)
    """
    from geo.nte import weekend_status

    wk = report.weekends[report.weekends["zone"] == zone]
    before = wk[wk["weekend"] < friday.isoformat()]
    last = before.tail(lookback).reset_index(drop=True)
    counts = last["count"].to_numpy()
    # the thresholds the weekend itself would be rated against: rate a stand-in row for it
    probe = pd.concat([before[["zone", "weekend", "count"]],
                       pd.DataFrame({"zone": [zone], "weekend": [friday.isoformat()],
                                     "count": [0]})], ignore_index=True)
    rated = weekend_status(probe, report.params.status).iloc[-1]
    rule = report.params.status
    if rule.mode == "fixed":
        green = None if rule.fixed_amber is None else float(rule.fixed_amber - 1)
        red = None if rule.fixed_red is None else float(rule.fixed_red - 1)
    else:
        green = None if rated["median"] != rated["median"] else float(rated["median"])
        red = None if rated["p90"] != rated["p90"] else float(rated["p90"])
    gap = None if data_end is None else (friday - data_end).days
    return WeekendOutlook(friday=friday, last=last,
                          expected=float(counts.mean()) if len(counts) else float("nan"),
                          low=int(counts.min()) if len(counts) else 0,
                          high=int(counts.max()) if len(counts) else 0,
                          green_at_most=green, red_above=red, gap_days=gap)
