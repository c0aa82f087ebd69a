"""A patrol plan from the store: ranked places with geometry, dosage and provenance.

This is the one place the page, the API and the exports get a plan from, so all three always
agree. It composes the query layer (selection), :mod:`geo.patrol` (ranking, dosage) and the
unit geometry (H3 cells or DBSCAN footprints).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import h3
import numpy as np
import pandas as pd

from geo import __version__
from geo.patrol import (
    DOSAGE_SOURCE,
    VISIT_RULE,
    Shift,
    count_shifts,
    dosage_schedule,
    most_visits,
    patrol_hours,
    rank_places,
    suggested_visits,
)
from geo.query import DAY_NAMES, FilterError, Filters, QueryLayer, precise_enough
from geo.settings import CRS_STORAGE

UNITS = ("h3-9", "h3-10", "dbscan")
#: Look-back in whole months for month-only data (police.uk) when none is given: a year, so
#: every season counts once.
MONTHS_DEFAULT = 12
PUBLIC_TEXT = ", public places only (domestic left out)"
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class PlanParams:
    """Everything that defines a plan (all of it is printed in the provenance)."""

    areas: tuple[str, ...] | None = None
    lookback_weeks: int = 12
    #: Month-only data: whole months of incidents to rank on (None: :data:`MONTHS_DEFAULT`).
    lookback_months: int | None = None
    days: frozenset[int] = frozenset({4, 5})
    hours: tuple[int, int] = (20, 4)
    unit: str = "h3-9"
    n: int | None = 10
    target_share: float | None = None
    categories: tuple[str, ...] | None = None
    public_only: bool = True
    as_of: date | None = None
    eps_m: float = 100.0
    min_samples: int = 15
    seed: int = 1
    #: Keep only cells that are Getis-Ord Gi* hot spots at this confidence (0.90, 0.95, 0.99).
    significance: float | None = None
    #: ``forecast`` (the default: the next period's forecast) or ``harm`` (the window's harm).
    ranking: str = "forecast"
    #: ``lookback_weeks`` was given (not the default): refused on month-only data.
    weeks_given: bool = field(default=False, compare=False, repr=False)

    @property
    def shift(self) -> Shift:
        """The shift as days and an hour band."""
        return Shift(self.days, self.hours)

    def to_params(self) -> dict[str, str]:
        """Return the parameters as query-string values (the inverse of parse)."""
        out = {"days": ",".join(DAY_NAMES[d] for d in sorted(self.days)),
               "hours": f"{self.hours[0]}-{self.hours[1] or 24}",
               "unit": self.unit, "seed": str(self.seed)}
        if self.lookback_months is not None:
            out["lookback_months"] = str(self.lookback_months)
        else:
            out["lookback_weeks"] = str(self.lookback_weeks)
        if self.areas:
            out["la"] = ",".join(self.areas)
        if self.target_share is not None:
            out["target_share"] = f"{self.target_share:g}"
        elif self.n is not None:
            out["n"] = str(self.n)
        if self.categories:
            out["categories"] = ",".join(self.categories)
        if not self.public_only:
            out["public_only"] = "0"
        if self.as_of:
            out["as_of"] = self.as_of.isoformat()
        if self.unit == "dbscan":
            out["eps"] = f"{self.eps_m:g}"
            out["minpts"] = str(self.min_samples)
        if self.significance:
            out["significant"] = f"{round(100 * self.significance)}"
        if self.ranking != "forecast":
            out["ranking"] = self.ranking
        return out


def _nice(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _date(day: int) -> date:
    return _EPOCH + timedelta(days=int(day))


@dataclass
class PlanResult:
    """A plan and everything needed to explain, export and brief it."""

    params: PlanParams
    window: tuple[date, date]
    previous_window: tuple[date, date]
    n_shifts: int
    #: rank, place, id, place_name, name_source, figures, why, lon/lat, geometry (GeoJSON)
    table: pd.DataFrame
    schedule: pd.DataFrame
    hours: dict[str, float | None]
    weights_source: str
    weights: dict[str, float]
    totals: dict[str, float]
    notes: list[str] = field(default_factory=list)
    synthetic: bool = False
    #: Gi* result for every cell of the study area (cell, bin, label) when significance is on.
    gi: pd.DataFrame | None = None
    #: The data give only months (police.uk): whole-month windows, no shift, no visits.
    month_only: bool = False
    #: Month-only plans: the months of the window that hold data (the expected figures' base).
    n_months: int | None = None
    #: Why the data do not cover the window or the window before (None: they do).
    coverage: dict[str, str | None] = field(default_factory=dict)
    #: The forecast that ranks the places, in words (None: ranked by the window's harm).
    forecast_method: str | None = None
    #: The incidents every figure of the plan was drawn from (its briefings read them again).
    bound: Filters | None = None

    @property
    def method(self) -> list[str]:
        """Plain-English statement of the method and parameters."""
        p = self.params
        unit = {"h3-9": "H3 cells at resolution 9 (about 0.1 km² each)",
                "h3-10": "H3 cells at resolution 10 (about 0.015 km² each)",
                "dbscan": f"DBSCAN clusters (eps {p.eps_m:g} m, at least {p.min_samples} "
                          "incidents), footprints buffered by eps/2"}[p.unit]
        if p.significance:
            pick_gi = (f" Only cells that are Getis-Ord Gi* hot spots at "
                       f"{100 * p.significance:.0f}% confidence (binary ring-1 weights "
                       "including the cell, Benjamini-Hochberg false discovery rate).")
        else:
            pick_gi = ""
        whose = "" if self.month_only else "shift's "
        pick = (f"the fewest places holding {100 * p.target_share:.0f}% of the {whose}harm"
                if p.target_share is not None else f"the top {p.n} places")
        if self.forecast_method:
            ranking = (f"Ranking: by the forecast harm of the next "
                       f"{'month' if self.month_only else 'shift'} ({self.weights_source}), "
                       f"then the window's harm and count; {pick}.{pick_gi} "
                       f"{self.forecast_method}")
        else:
            ranking = f"Ranking: by harm ({self.weights_source}), then count; {pick}.{pick_gi}"
        window = f"{_nice(self.window[0])} to {_nice(self.window[1])}"
        before = f"{_nice(self.previous_window[0])} to {_nice(self.previous_window[1])}"
        uncovered = [w for w, key in ((before, "previous_window"), (window, "window"))
                     if self.coverage.get(key)]
        trend = (f"Trend: none given, as the data do not cover {' and '.join(uncovered)} in "
                 "full." if uncovered else f"Trend: against {before}.")
        if self.month_only:
            months = (p.lookback_months or MONTHS_DEFAULT)
            return [
                f"Places: {unit}.",
                f"Incidents: {window} ({months} whole months; the data give only the month, "
                f"so no shift applies){PUBLIC_TEXT if p.public_only else ''}.",
                ranking,
                ("Expected next month = the forecast, with its 80% interval."
                 if self.forecast_method else
                 f"Expected per month = incidents ÷ {self.n_months} months with data in the "
                 "window."),
                trend,
                "Dosage: none suggested; with no days or hours in the data, visit times "
                "cannot be planned from them.",
            ]
        most = most_visits(p.shift)
        return [
            f"Places: {unit}.",
            f"Incidents: {window} ({p.lookback_weeks} weeks), shift {p.shift.label} (small "
            f"hours count with the night they started){PUBLIC_TEXT if p.public_only else ''}.",
            ranking,
            ("Expected per shift = the forecast, with its 80% interval."
             if self.forecast_method else
             f"Expected per shift = incidents ÷ {self.n_shifts} shifts with data in the "
             "window."),
            trend,
            f"Dosage: {VISIT_RULE.format(most=most)}; at random times (seed {p.seed}); "
            f"source: {DOSAGE_SOURCE}",
        ]

    def _parameters(self) -> dict[str, str]:
        out = self.params.to_params()
        if self.month_only:
            # a monthly plan has no shift and counts months, not weeks
            for key in ("days", "hours", "lookback_weeks"):
                out.pop(key, None)
            out["lookback_months"] = str(self.params.lookback_months or MONTHS_DEFAULT)
        return out

    def provenance(self) -> dict[str, Any]:
        """Return the provenance block every export carries."""
        return {
            "software": f"Hotspot {__version__}",
            "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_period": f"{self.window[0].isoformat()} to {self.window[1].isoformat()}",
            "parameters": self._parameters(),
            "harm_weights": {"source": self.weights_source, "weights": self.weights},
            "crs": f"{CRS_STORAGE} (WGS84 longitude/latitude); distances in EPSG:27700 metres",
            "method": self.method,
            "synthetic_sample": self.synthetic,
        }


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _check_lookback_unit(params: PlanParams, month_only: bool) -> None:
    """Refuse a look-back in the unit the data cannot use, rather than ignore it."""
    if params.lookback_months is not None and not month_only:
        raise FilterError("lookback_months", "these data have dates, so the look-back is in "
                          "weeks: give lookback_weeks instead")
    if params.weeks_given and month_only:
        raise FilterError("lookback_weeks", "these data give only the month of each incident "
                          "(police.uk), so the look-back is in whole months: give "
                          f"lookback_months instead (default {MONTHS_DEFAULT})")


def _month_end(d: date) -> date:
    return (d.replace(day=1) + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def _months_back(first: date, months: int) -> date:
    index = first.year * 12 + first.month - 1 - months
    return date(index // 12, index % 12 + 1, 1)


def _covered(lo: date, hi: date, span: tuple[date, date], gaps: list[int]
             ) -> list[tuple[int, int]]:
    """Day ranges of ``lo..hi`` the data cover: inside their span, outside empty months."""
    a, b = max(_day(lo), _day(span[0])), min(_day(hi), _day(span[1]))
    if b < a:
        return []
    out = []
    for g in sorted(gaps):
        g_end = _day(_month_end(_EPOCH + timedelta(days=g)))
        if g_end < a or g > b:
            continue
        if g > a:
            out.append((a, g - 1))
        a = g_end + 1
    if a <= b:
        out.append((a, b))
    return out


def build_plan(query: QueryLayer, params: PlanParams,
               harm_weights: Mapping[str, float] | None = None,
               weights_source: str = "equal weights (default)") -> PlanResult:
    """Build the patrol plan ``params`` describe from the incidents in ``query``.

    A look-back (or earlier) window the data do not fully cover is flagged in the notes, and
    no trend is claimed from a window before that the data do not cover. On month-only data
    (police.uk) the windows are whole months (``lookback_months``, default
    :data:`MONTHS_DEFAULT`), expected figures are per month and there are no visit times or
    patrol hours: the data say nothing about days or hours.
    """
    from geo.backtest import months_without_data, window_coverage

    span, month_only, months = query.month_cover()
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    _check_lookback_unit(params, month_only)
    notes: list[str] = []
    hours = None if params.hours[0] == params.hours[1] else params.hours
    n_months: int | None = None
    if month_only:
        if len(params.days) < 7 or hours is not None:
            raise FilterError("days" if len(params.days) < 7 else "hours",
                              "these data give only the month of each incident (police.uk), "
                              "so there is no weekday or hour to make a shift from; leave days "
                              "and hours out")
        n_months = params.lookback_months or MONTHS_DEFAULT
        last = params.as_of or span[1]
        if last != _month_end(last):
            last = last.replace(day=1) - timedelta(days=1)
            notes.append(f"Month-only data: the plan uses whole months, so it ends with "
                         f"{last:%B %Y}, the last whole month up to {_nice(params.as_of or last)}.")
        as_of = last
        start = _months_back(as_of.replace(day=1), n_months - 1)
        prev_end = start - timedelta(days=1)
        prev_start = _months_back(start, n_months)
    else:
        as_of = params.as_of or span[1]
        start = as_of - timedelta(days=7 * params.lookback_weeks - 1)
        prev_end = start - timedelta(days=1)
        prev_start = prev_end - timedelta(days=7 * params.lookback_weeks - 1)
    gaps = months_without_data(months)
    gap_problem = window_coverage(start, as_of, span[0], span[1], gaps)
    if gap_problem:
        notes.append(f"The look-back window ({_nice(start)} to {_nice(as_of)}) is not fully "
                     f"covered by the data: {gap_problem}. Its counts are lower than a whole "
                     f"window's; expected figures are per {'month' if month_only else 'shift'} "
                     "with data only.")
    prev_problem = window_coverage(prev_start, prev_end, span[0], span[1], gaps)
    no_trend = None
    if prev_problem or gap_problem:
        no_trend = (f"the window before ({_nice(prev_start)} to {_nice(prev_end)}) is not fully "
                    f"covered by the data: {prev_problem}" if prev_problem else
                    "this window is not fully covered by the data")
        notes.append(f"No trend is given: {no_trend}.")
    base = Filters(start=start, end=as_of, days=params.days if len(params.days) < 7 else None,
                   hours=hours, categories=params.categories, areas=params.areas,
                   exclude_domestic=params.public_only)
    query.validate(base)
    # the incidents every selection below falls in: the window, the one before and the
    # forecast's history (an engine reads just these, bounded; in memory, all are there)
    first = prev_start
    if params.unit.startswith("h3") and params.ranking == "forecast":
        first = min(first, _history_start(start, span, month_only))
    bound = replace(base, start=first, days=None, hours=None)
    door, query = query, query.within(bound, *PLAN_BOUND)
    fr = query.frame()
    sel = query.select(base)
    # what the shift leaves out is counted over all the principal's data (the selection
    # holds only the plan's crime types and areas)
    left_out = door.select(base).month_only_excluded if door is not query else \
        sel.month_only_excluded
    if left_out:
        notes.append(f"{left_out:,} incidents in the window have only a month "
                     "(police.uk), so they cannot be placed in a shift and are left out.")
    mask = sel.mask
    prev_mask = query.select(replace(base, start=prev_start, end=prev_end)).mask
    # health records placed only by a postcode or LSOA centroid are too coarse for fine places
    fine = precise_enough(fr, int(params.unit.split("-")[1]) if params.unit.startswith("h3")
                          else None)
    if not fine.all():
        coarse = int((mask & ~fine).sum())
        if coarse:
            notes.append(f"{coarse:,} records placed only by a postcode or LSOA centroid are "
                         "too coarse for these places and are left out.")
        mask, prev_mask = mask & fine, prev_mask & fine
    weights = query.weights(harm_weights)
    covered = _covered(start, as_of, span, gaps)
    if month_only:
        n_shifts = 0
        # months of the window the data hold: the expected figure's denominator
        n_months = len({(_EPOCH + timedelta(days=d)).replace(day=1)
                        for a, b in covered for d in range(a, b + 1)}) or n_months
    else:
        n_shifts = sum(count_shifts(a, b, params.shift) for a, b in covered)
    labels = [str(c) for c in fr.categories]

    geometry: list[dict[str, Any]]
    ids: list[str]
    gi: pd.DataFrame | None = None
    if params.unit.startswith("h3"):
        res = int(params.unit.split("-")[1])
        codes = fr.cell_codes[res]
        place, prev_place = codes[mask], codes[prev_mask]
        n_places = len(fr.cells[res])
        cells = fr.cells[res]
        if params.significance:
            place, gi_note, gi = _keep_significant(place, weights[mask], cells,
                                                   params.significance)
            notes.append(gi_note)
    else:
        from geo.dbscan import cluster_summary, dbscan

        idx = np.flatnonzero(mask)
        labels_db = (dbscan(fr.easting[idx], fr.northing[idx], eps_m=params.eps_m,
                            min_samples=params.min_samples) if len(idx) else np.zeros(0, int))
        place = labels_db.astype("int64")
        n_places = int(place.max(initial=-1)) + 1
        summary = cluster_summary(labels_db, fr.easting[idx], fr.northing[idx],
                                  buffer_m=params.eps_m / 2) if n_places else None
        # the previous window's incidents count for a cluster if they fall in its footprint
        prev_place = np.full(int(prev_mask.sum()), -1, dtype="int64")
        if summary is not None and len(prev_place):
            import shapely

            pidx = np.flatnonzero(prev_mask)
            pts = shapely.points(fr.easting[pidx], fr.northing[pidx])
            for row in summary.itertuples():
                inside = shapely.contains(row.geometry, pts) & (prev_place < 0)
                prev_place[inside] = int(row.cluster)
    place_forecast = None
    if params.unit.startswith("h3") and params.ranking == "forecast":
        place_forecast = _forecast_places(
            query, fr, base, weights, res, n_places, month_only=month_only,
            start=start, as_of=as_of, params=params, gaps=gaps, span=span)
    table = rank_places(
        place, n_places, weight=weights[mask], hour=fr.hour[mask],
        category=fr.category[mask], category_labels=labels,
        prev_place=prev_place, prev_weight=weights[prev_mask], n_shifts=n_shifts,
        n=params.n, target_share=params.target_share,
        n_months=n_months if month_only else None, no_trend=no_trend,
        forecast=place_forecast,
    )
    if params.unit.startswith("h3"):
        ids = [format(int(cells[p]), "x") for p in table["place"]]
        geometry = []
        centres = []
        for cid in ids:
            ring = [[round(lng, 6), round(lat, 6)] for lat, lng in h3.cell_to_boundary(cid)]
            geometry.append({"type": "Polygon", "coordinates": [ring + ring[:1]]})
            centres.append(h3.cell_to_latlng(cid))
        table["lat"] = [c[0] for c in centres]
        table["lon"] = [c[1] for c in centres]
    else:
        ids, geometry = [], []
        if summary is not None and len(table):
            wgs = summary.set_index("cluster").to_crs(CRS_STORAGE)
            for p in table["place"]:
                geom = wgs.geometry.loc[int(p)]
                ids.append(f"cluster-{int(p) + 1}")
                geometry.append(json.loads(json.dumps(geom.__geo_interface__)))
            table["lat"] = [wgs.geometry.loc[int(p)].centroid.y for p in table["place"]]
            table["lon"] = [wgs.geometry.loc[int(p)].centroid.x for p in table["place"]]
        else:  # no cluster: an empty plan still has every column
            table["lat"] = np.zeros(len(table))
            table["lon"] = np.zeros(len(table))
    table["id"] = ids
    table["geometry"] = geometry
    _name(query, fr, table, np.flatnonzero(mask), place)
    hours_out: dict[str, float | None]
    if month_only:
        table["visits_per_shift"] = np.full(len(table), np.nan)
        schedule = dosage_schedule(params.shift, 0, seed=params.seed)
        hours_out = {"per_shift_hours": None, "per_week_hours": None, "visits_per_shift": None}
        notes.append(MONTH_ONLY_NOTE)
    else:
        # visits in proportion to the expected harm per shift: the forecast's when it ranks
        expected_harm = (table["forecast_harm"] if place_forecast is not None
                         else table["harm"]).to_numpy()
        visits = suggested_visits(expected_harm, most_visits(params.shift))
        table["visits_per_shift"] = visits
        schedule = dosage_schedule(params.shift, len(table), seed=params.seed, visits=visits)
        hours_out = dict(patrol_hours(schedule, shifts_per_week=len(params.days)))
        if n_shifts == 0:
            notes.append("No shift of these days falls in the window; expected figures are "
                         "blank.")
    totals = {"incidents": int(mask.sum()), "harm": float(weights[mask].sum()),
              "previous_incidents": int(prev_mask.sum())}
    return PlanResult(
        params=replace(params, as_of=as_of), window=(start, as_of),
        previous_window=(prev_start, prev_end), n_shifts=n_shifts, table=table,
        schedule=schedule, hours=hours_out,
        weights_source=weights_source, weights=dict(harm_weights or {}), totals=totals,
        notes=notes, synthetic=door.status()["synthetic_sample"], gi=gi,
        month_only=month_only, n_months=n_months if month_only else None,
        coverage={"window": gap_problem, "previous_window": prev_problem},
        forecast_method=place_forecast.method if place_forecast is not None else None,
        bound=bound,
    )


#: What a plan's incidents are called, and how to narrow them, when an engine refuses them.
PLAN_BOUND = ("The patrol plan", "fewer areas, fewer crime types or a shorter look-back")


class _PlanForecast:
    """A :class:`geo.forecast.Forecast` over some places, indexed by every place's number."""

    def __init__(self, fc: Any, rows: np.ndarray, n_places: int, per_label: str,
                 method: str) -> None:
        self._fc, self._label, self.method = fc, per_label, method
        self._at = np.full(n_places, -1, dtype="int64")
        self._at[rows] = np.arange(len(rows))

        def spread(values: np.ndarray) -> np.ndarray:
            out = np.zeros(n_places)
            out[rows] = values
            return out

        self.expected, self.score = spread(fc.expected), spread(fc.score)
        self.low, self.high = spread(fc.low), spread(fc.high)

    def why(self, i: int, per_label: str = "") -> str:
        at = int(self._at[i])
        return self._fc.why(at, per_label or self._label) if at >= 0 else "no forecast"


def _month_index_of(d: date) -> int:
    return d.year * 12 + d.month - 1


#: The plan validates the forecast's half-life on up to this many periods before its window.
FORECAST_HISTORY = 12


def _history_start(start: date, span: tuple[date, date], month_only: bool) -> date:
    """Return the first day of the forecast's history before the window from ``start``.

    Up to :data:`FORECAST_HISTORY` periods (months, or weeks) before it, those the data cover.
    """
    if month_only:
        return max(_months_back(start, FORECAST_HISTORY), span[0].replace(day=1))
    hist_start = start - timedelta(days=7 * FORECAST_HISTORY)
    if hist_start < span[0]:
        hist_start = start - timedelta(days=7 * ((start - span[0]).days // 7))
    return hist_start


def _forecast_places(query: QueryLayer, fr: Any, base: Filters, weights: np.ndarray, res: int,
                     n_places: int, *, month_only: bool, start: date, as_of: date,
                     params: PlanParams, gaps: list[int], span: tuple[date, date]
                     ) -> _PlanForecast:
    """Forecast each H3 place's next month (month-only data) or next shift (issue 12).

    Periods are whole months, or weeks of the shift ending on ``as_of``; the window is the
    plan's look-back and up to :data:`FORECAST_HISTORY` periods before it (those the data
    cover) choose the half-life. Nothing after ``as_of`` is read.
    """
    from geo.forecast import describe_method, forecast, period_matrix

    hist_start = _history_start(start, span, month_only)
    if month_only:
        n_window = params.lookback_months or MONTHS_DEFAULT
        month0 = hist_start.year * 12 + hist_start.month - 1
        n_periods = as_of.year * 12 + as_of.month - 1 - month0 + 1
    else:
        n_window = params.lookback_weeks
        n_periods = ((as_of - hist_start).days + 1) // 7
    sel = query.select(replace(base, start=hist_start, end=as_of)).mask & precise_enough(fr, res)
    place = fr.cell_codes[res][sel]
    if month_only:
        m = fr.month_first[sel].astype("datetime64[D]").astype("datetime64[M]").astype("int64")
        period = m - ((hist_start.year - 1970) * 12 + hist_start.month - 1)
        gap_months = {(_EPOCH + timedelta(days=int(g))).replace(day=1) for g in gaps}
        present = np.array([_months_back(as_of.replace(day=1), n_periods - 1 - i)
                            not in gap_months for i in range(n_periods)])
    else:
        period = (fr.day[sel] - _day(as_of) + 7 * n_periods - 1) // 7
        # a week inside a month with no data at all is missing, not a week of zeros
        gap_index = {_month_index_of(_EPOCH + timedelta(days=int(g))) for g in gaps}
        present = np.array([
            not ({_month_index_of(as_of - timedelta(days=7 * (n_periods - i) - 1)),
                  _month_index_of(as_of - timedelta(days=7 * (n_periods - 1 - i)))}
                 & gap_index)
            for i in range(n_periods)])
    rows = np.unique(place)
    local = np.searchsorted(rows, place)
    counts = period_matrix(local, period, len(rows), n_periods)
    harm = period_matrix(local, period, len(rows), n_periods, weights[sel])
    year_ago = None
    if month_only and n_periods >= 12:
        year_ago = counts[:, n_periods - 12]  # the month a year before the one forecast
    unit = "month" if month_only else "week"
    per = 1.0 if month_only else 1.0 / max(len(params.days), 1)
    # validate the half-life at the plan's own size: its n places among those with incidents
    # (a share of harm names no number of places: then 1% of them)
    coverage = (min(max(params.n / max(len(rows), 1), 1e-6), 0.5) if params.n is not None
                and params.target_share is None else 0.01)
    fc = forecast(counts, harm, unit=unit, coverage=coverage, lookback=min(n_window, n_periods),
                  present=present, year_ago=year_ago, per=per)
    per_label = "next month" if month_only else "per shift"
    method = describe_method(fc.choice, unit, min(n_window, n_periods))
    if not month_only:
        method += (f" Weeks hold the shift's incidents; per shift = per week ÷ "
                   f"{len(params.days)} shifts a week.")
    return _PlanForecast(fc, rows, n_places, per_label, method)


def _name(query: QueryLayer, fr: Any, table: pd.DataFrame, rows: np.ndarray,
          place: np.ndarray) -> None:
    """Add ``place_name`` and ``name_source`` to the ranked places (after ``id``).

    ``rows`` are the window's incidents and ``place`` each one's place (-1: none): each
    ranked place is named from its own incidents, or else from the names around its centre.
    """
    from geo.names import group_index
    from geo.projection import to_bng

    at = table.columns.get_loc("id") + 1
    if not len(table):
        table.insert(at, "place_name", pd.Series([], dtype="str"))
        table.insert(at + 1, "name_source", pd.Series([], dtype="str"))
        return
    group = group_index(place, table["place"].to_numpy("int64"))
    east, north = to_bng(table["lon"].to_numpy("float64"), table["lat"].to_numpy("float64"))
    names = query.place_names(rows, group, len(table), east, north, frame=fr)
    table.insert(at, "place_name", names["place_name"].to_numpy())
    table.insert(at + 1, "name_source", names["name_source"].to_numpy())


#: What a plan can and cannot give on month-only data, printed with every such plan.
MONTH_ONLY_NOTE = (
    "Month-only data (police.uk): each incident gives only its month, so the plan ranks places "
    "over whole months and gives expected incidents per month. It cannot say which days or "
    "hours are busiest, so it gives no shift, no peak hours, no visit times and no patrol "
    "hours; choose the shift from local knowledge or timestamped data."
)


def _keep_significant(place: np.ndarray, weight: np.ndarray, cells: np.ndarray,
                      level: float) -> tuple[np.ndarray, str, pd.DataFrame | None]:
    """Mark incidents outside Gi* hot spots of at least ``level`` confidence as in no place."""
    from geo.gistar import gi_star

    used = np.unique(place[place >= 0])
    harm = np.bincount(place[place >= 0], weights=weight[place >= 0], minlength=len(cells))
    if len(used) < 3:
        return (np.full_like(place, -1), "Too few cells with incidents for Gi*: none kept.",
                None)
    gi = gi_star(cells[used], harm[used])
    needed = {0.90: 1, 0.95: 2, 0.99: 3}[level]
    hot = gi.loc[~gi["added"] & (gi["bin"] >= needed), "cell"].to_numpy(dtype="uint64")
    keep = np.zeros(len(cells), dtype=bool)
    keep[np.searchsorted(cells, hot)] = True
    out = np.where((place >= 0) & keep[np.clip(place, 0, None)], place, -1)
    note = (f"Gi*: {len(hot)} of {len(used)} cells with incidents are hot spots at "
            f"{100 * level:.0f}% confidence or more (with false discovery rate control).")
    return out, note, gi[["cell", "bin", "label"]]


