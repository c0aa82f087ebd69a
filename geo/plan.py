"""A patrol plan from the store: ranked places with geometry, dosage and provenance.

This is the one place the page, the API and the exports get a plan from, so all three always
agree. It composes the query layer (selection), :mod:`geo.patrol` (ranking, dosage) and the
unit geometry (H3 cells or DBSCAN footprints).
"""

from __future__ import annotations

import json
import math
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
    Shift,
    count_shifts,
    dosage_schedule,
    patrol_hours,
    rank_places,
)
from geo.query import DAY_NAMES, FilterError, Filters, QueryLayer, int_param, parse_filters
from geo.settings import CRS_STORAGE

UNITS = ("h3-9", "h3-10", "dbscan")
PUBLIC_TEXT = ", public places only (domestic left out)"
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class PlanParams:
    """Everything that defines a plan (all of it is printed in the provenance)."""

    areas: tuple[str, ...] | None = None
    lookback_weeks: int = 12
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

    @property
    def shift(self) -> Shift:
        """The shift as days and an hour band."""
        return Shift(self.days, self.hours)

    def to_params(self) -> dict[str, str]:
        """Return the parameters as query-string values (the inverse of parse)."""
        out = {"days": ",".join(DAY_NAMES[d] for d in sorted(self.days)),
               "hours": f"{self.hours[0]}-{self.hours[1] or 24}",
               "unit": self.unit, "lookback_weeks": str(self.lookback_weeks),
               "seed": str(self.seed)}
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
        return out


def parse_plan_params(params: Mapping[str, Any]) -> PlanParams:
    """Parse query parameters into :class:`PlanParams`, naming any bad parameter.

    Examples
    --------
    >>> p = parse_plan_params({"la": "E07000123", "days": "fri,sat", "hours": "20-4", "n": "10"})
    >>> p.areas, sorted(p.days), p.hours, p.n
    (('E07000123',), [4, 5], (20, 4), 10)
    """
    own = {"unit", "n", "target_share", "lookback_weeks", "as_of", "seed", "eps", "minpts",
           "public_only", "significant"}
    shared = {k: v for k, v in params.items() if k not in own}
    filters = parse_filters(shared)
    if filters.start or filters.end:
        raise FilterError("start", "a plan uses a look-back window: give lookback_weeks and "
                          "as_of instead of start and end")
    unit = str(params.get("unit") or "h3-9")
    if unit not in UNITS:
        raise FilterError("unit", f"'{unit}' is not a hotspot unit; use {', '.join(UNITS)}")
    target = params.get("target_share")
    target_share = None
    if target not in (None, ""):
        try:
            target_share = float(str(target))
        except ValueError:
            raise FilterError("target_share", f"'{target}' is not a number") from None
        if target_share > 1:
            target_share /= 100.0  # "50" means 50%
        if not 0 < target_share <= 1:
            raise FilterError("target_share", "give a share between 0 and 1 (or a percentage)")
    as_of = None
    if params.get("as_of"):
        try:
            as_of = date.fromisoformat(str(params["as_of"]))
        except ValueError:
            raise FilterError("as_of", f"'{params['as_of']}' is not a date; use YYYY-MM-DD") \
                from None
    public = str(params.get("public_only", "1")).lower() not in {"0", "false", "no"}
    significance = None
    if params.get("significant") not in (None, "", "0"):
        levels = {"90": 0.90, "95": 0.95, "99": 0.99}
        significance = levels.get(str(params["significant"]).rstrip("%"))
        if significance is None:
            raise FilterError("significant", "use 90, 95 or 99 (percent confidence)")
        if unit == "dbscan":
            raise FilterError("significant", "Gi* significance applies to H3 cells, not "
                              "DBSCAN clusters")
    try:
        eps = float(str(params.get("eps") or 100.0))
    except ValueError:
        raise FilterError("eps", f"'{params.get('eps')}' is not a number of metres") from None
    if not 10 <= eps <= 2000:
        raise FilterError("eps", "use a distance from 10 to 2,000 metres")
    return PlanParams(
        areas=filters.areas,
        lookback_weeks=int_param(params, "lookback_weeks", 12, 1, 156),
        days=filters.days if filters.days is not None else frozenset(range(7)),
        hours=filters.hours or (0, 0),
        unit=unit,
        n=None if target_share is not None else int_param(params, "n", 10, 1, 200),
        target_share=target_share,
        categories=filters.categories,
        public_only=public,
        as_of=as_of,
        eps_m=eps,
        min_samples=int_param(params, "minpts", 15, 2, 1000),
        seed=int_param(params, "seed", 1, 0, 2**31 - 1),
        significance=significance,
    )


@dataclass
class PlanResult:
    """A plan and everything needed to explain, export and brief it."""

    params: PlanParams
    window: tuple[date, date]
    previous_window: tuple[date, date]
    n_shifts: int
    table: pd.DataFrame  # rank, place id, figures, why, lon/lat, geometry (GeoJSON dict)
    schedule: pd.DataFrame
    hours: dict[str, float]
    weights_source: str
    weights: dict[str, float]
    totals: dict[str, float]
    notes: list[str] = field(default_factory=list)
    synthetic: bool = False
    #: Gi* result for every cell of the study area (cell, bin, label) when significance is on.
    gi: pd.DataFrame | None = None

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
        pick = (f"the fewest places holding {100 * p.target_share:.0f}% of the shift's harm"
                if p.target_share is not None else f"the top {p.n} places")
        return [
            f"Places: {unit}.",
            f"Incidents: {self.window[0]:%d %b %Y} to {self.window[1]:%d %b %Y} "
            f"({p.lookback_weeks} weeks), shift {p.shift.label} (small hours count with the "
            f"night they started){PUBLIC_TEXT if p.public_only else ''}.",
            f"Ranking: by harm ({self.weights_source}), then count; {pick}.{pick_gi}",
            f"Expected per shift = incidents ÷ {self.n_shifts} shifts in the window.",
            f"Trend: against {self.previous_window[0]:%d %b %Y} to "
            f"{self.previous_window[1]:%d %b %Y}.",
            f"Dosage: one visible visit of about 15 minutes in each two-hour block of the "
            f"shift, at random times (seed {p.seed}); source: {DOSAGE_SOURCE}",
        ]

    def provenance(self) -> dict[str, Any]:
        """Return the provenance block every export carries."""
        return {
            "software": f"Hotspot {__version__}",
            "extracted_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "data_period": f"{self.window[0].isoformat()} to {self.window[1].isoformat()}",
            "parameters": self.params.to_params(),
            "harm_weights": {"source": self.weights_source, "weights": self.weights},
            "crs": f"{CRS_STORAGE} (WGS84 longitude/latitude); distances in EPSG:27700 metres",
            "method": self.method,
            "synthetic_sample": self.synthetic,
        }


def _day(d: date) -> int:
    return (d - _EPOCH).days


def build_plan(query: QueryLayer, params: PlanParams,
               harm_weights: Mapping[str, float] | None = None,
               weights_source: str = "equal weights (default)") -> PlanResult:
    """Build the patrol plan ``params`` describe from the incidents in ``query``."""
    fr = query.frame()
    span = fr.date_span()
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    as_of = params.as_of or span[1]
    start = as_of - timedelta(days=7 * params.lookback_weeks - 1)
    prev_end = start - timedelta(days=1)
    prev_start = prev_end - timedelta(days=7 * params.lookback_weeks - 1)
    notes: list[str] = []
    hours = None if params.hours[0] == params.hours[1] else params.hours
    base = Filters(start=start, end=as_of, days=params.days if len(params.days) < 7 else None,
                   hours=hours, categories=params.categories, areas=params.areas,
                   exclude_domestic=params.public_only)
    query.validate(base)
    sel = query.select(base)
    if sel.month_only_excluded:
        notes.append(f"{sel.month_only_excluded:,} incidents in the window have only a month "
                     "(police.uk), so they cannot be placed in a shift and are left out.")
    mask = sel.mask
    prev_mask = query.select(replace(base, start=prev_start, end=prev_end)).mask
    weights = query.weights(harm_weights)
    n_shifts = count_shifts(_day(start), _day(as_of), params.shift)
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
    table = rank_places(
        place, n_places, weight=weights[mask], hour=fr.hour[mask],
        category=fr.category[mask], category_labels=labels,
        prev_place=prev_place, prev_weight=weights[prev_mask], n_shifts=n_shifts,
        n=params.n, target_share=params.target_share,
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
    table["id"] = ids
    table["geometry"] = geometry
    schedule = dosage_schedule(params.shift, len(table), seed=params.seed)
    if n_shifts == 0:
        notes.append("No shift of these days falls in the window; expected figures are blank.")
    totals = {"incidents": int(mask.sum()), "harm": float(weights[mask].sum()),
              "previous_incidents": int(prev_mask.sum())}
    return PlanResult(
        params=replace(params, as_of=as_of), window=(start, as_of),
        previous_window=(prev_start, prev_end), n_shifts=n_shifts, table=table,
        schedule=schedule, hours=patrol_hours(schedule, shifts_per_week=len(params.days)),
        weights_source=weights_source, weights=dict(harm_weights or {}), totals=totals,
        notes=notes, synthetic=query.status()["synthetic_sample"], gi=gi,
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


def _clean(v: Any) -> Any:
    if isinstance(v, float | np.floating) and not math.isfinite(float(v)):
        return None
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def plan_geojson(result: PlanResult) -> dict[str, Any]:
    """Return the plan as a GeoJSON FeatureCollection with figures, dosage and provenance."""
    features = []
    for row in result.table.to_dict("records"):
        visits = result.schedule[result.schedule["hotspot"] == row["rank"]]
        props = {k: _clean(v) for k, v in row.items() if k not in {"geometry", "place"}}
        props["dosage"] = [f"{a}–{b}" for a, b in zip(visits["start"], visits["end"],
                                                       strict=True)]
        props["visits_per_shift"] = len(visits)
        features.append({"type": "Feature", "id": row["id"], "geometry": row["geometry"],
                         "properties": props})
    return {"type": "FeatureCollection", "features": features,
            "provenance": result.provenance(), "notes": result.notes,
            "patrol_hours": result.hours}


PLAN_CSV_COLUMNS = ["rank", "id", "count", "harm", "share_harm", "share_count",
                    "cum_share_harm", "expected_per_shift", "peak_hours", "main_categories",
                    "prev_count", "trend", "lat", "lon", "dosage", "why"]
#: What each column of the plan CSV holds, stated in the provenance file beside it.
PLAN_CSV_COLUMN_MEANINGS = {
    "rank": "1 = most harm in the look-back window",
    "id": "H3 cell or DBSCAN cluster id",
    "count": "incidents in the look-back window and shift",
    "harm": "sum of harm weights (equals count when no weights are loaded)",
    "share_harm": "the place's share of the shift's harm (0-1)",
    "share_count": "the place's share of the shift's incidents (0-1)",
    "cum_share_harm": "share of harm covered by this and the places above it (0-1)",
    "expected_per_shift": "incidents per shift in the look-back window",
    "peak_hours": "busiest hours, with counts",
    "main_categories": "most frequent categories, with counts",
    "prev_count": "incidents in the window before",
    "trend": "change against the window before",
    "lat": "latitude of the centre (WGS84)",
    "lon": "longitude of the centre (WGS84)",
    "dosage": "suggested 15-minute visits in one shift (start-end)",
    "why": "plain-English reason the place is on the plan",
}


def plan_csv(result: PlanResult) -> str:
    """Return the plan as a plain CSV: one header line, then one row per place.

    Excel and Power BI read every line of a CSV as data, so the provenance travels beside it
    (:func:`plan_provenance_json`), not in ``#`` lines inside it. Every text cell goes through
    :mod:`geo.csvsafe`, so a category or place named ``=HYPERLINK(...)`` stays text.
    """
    from geo.csvsafe import to_csv_text

    table = result.table.copy()
    table["dosage"] = [
        "; ".join(f"{a}–{b}" for a, b in zip(
            result.schedule.loc[result.schedule.hotspot == r, "start"],
            result.schedule.loc[result.schedule.hotspot == r, "end"], strict=True))
        for r in table["rank"]
    ]
    return to_csv_text(table.reindex(columns=PLAN_CSV_COLUMNS), lineterminator="\n")


def plan_provenance_json(result: PlanResult) -> str:
    """Return the provenance of a plan download as JSON, with what each CSV column means."""
    body = {**result.provenance(), "columns": dict(PLAN_CSV_COLUMN_MEANINGS)}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


def run_backtest(
    query: QueryLayer,
    polygons_bng: Any,
    params: PlanParams,
    *,
    horizon_weeks: int = 4,
    rolling: bool = False,
    harm_weights: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """Backtest the plan's method: fit before a cutoff, score the weeks after it.

    The cutoff is ``params.as_of`` (default: ``horizon_weeks`` before the end of the data, so
    there is a horizon to score). Month-only data (police.uk) is backtested in whole months:
    a look-back of about ``lookback_weeks`` in months, a one-month horizon, no shift.
    Compares our hotspots with the last period's top cells by raw count and with a kernel
    density surface thresholded to the same area (see :mod:`geo.backtest`).
    """
    from geo.backtest import (
        BacktestData,
        backtest_at,
        boundary_area_km2,
        rolling_backtest,
        rolling_cutoffs,
    )

    if params.unit == "dbscan":
        raise FilterError("unit", "backtests compare equal-sized cells; choose h3-9 or h3-10")
    res = int(params.unit.split("-")[1])
    fr = query.frame()
    span = fr.date_span()
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    month_only = fr.n > 0 and fr.month_only_count == fr.n
    hours = None if params.hours[0] == params.hours[1] else params.hours
    filters = Filters(
        days=None if month_only or len(params.days) == 7 else params.days,
        hours=None if month_only else hours, categories=params.categories,
        areas=params.areas, exclude_domestic=params.public_only)
    query.validate(filters)
    data = BacktestData.from_query(query, filters, res, harm_weights)
    # The study area is the chosen areas, or else the areas that hold any incident: imported
    # national boundaries must not dilute a force's figures with the rest of the country.
    wanted = params.areas or tuple(a for a in fr.areas if a)
    areas = polygons_bng[polygons_bng["code"].isin(wanted)]
    study = boundary_area_km2(areas)
    common: dict[str, Any] = {"study_area_km2": study, "n": params.n or 10}
    if month_only:
        months = max(1, round(params.lookback_weeks / 4.345))
        last = span[1].replace(day=1)
        cutoff = (params.as_of or last).replace(day=1)
        common.update(window_unit="month", lookback_months=months, horizon_months=1)
        note = (f"Month-only data: look-back {months} whole months, horizon one month; "
                "no shift applies.")
    else:
        cutoff = params.as_of or (span[1] - timedelta(days=7 * horizon_weeks - 1))
        common.update(window_unit="day", lookback_days=7 * params.lookback_weeks,
                      horizon_days=7 * horizon_weeks)
        note = (f"Look-back {params.lookback_weeks} weeks, horizon {horizon_weeks} weeks, shift "
                f"{params.shift.label}.")
    table = backtest_at(data, cutoff, **common)
    out: dict[str, Any] = {
        "cutoff": cutoff.isoformat(), "study_area_km2": study, "res": res, "note": note,
        "methods": {}, "coverage_curve": [], "synthetic_sample": query.status()[
            "synthetic_sample"],
    }
    for row in table.to_dict("records"):
        figures = {k: _clean(row.get(k)) for k in (
            "pai", "hit_rate", "area_share", "harm_pai", "harm_hit_rate", "n_hits",
            "n_horizon", "n_cells", "area_km2")}
        if str(row["selection"]).startswith("top"):
            out["methods"][row["method"]] = figures
            out["lookback_from"] = row.get("lookback_from")
            out["horizon"] = [row.get("cutoff"), row.get("horizon_to")]
        else:
            out["coverage_curve"].append({"method": row["method"],
                                          "coverage": _clean(row.get("coverage")), **figures})
    if rolling:
        if month_only:
            cuts = rolling_cutoffs(span[0], span[1], lookback=common["lookback_months"],
                                   horizon=1, step=1, window_unit="month")
        else:
            cuts = rolling_cutoffs(span[0], span[1], lookback=7 * params.lookback_weeks,
                                   horizon=7 * horizon_weeks, step=7 * horizon_weeks)
        roll = rolling_backtest(data, cuts, **common)
        roll = roll[roll["selection"].astype(str).str.startswith("top")]
        out["rolling"] = [{k: _clean(v) for k, v in r.items() if k in (
            "cutoff", "method", "pai", "hit_rate", "area_share", "harm_pai", "n_hits",
            "n_horizon")} for r in roll.to_dict("records")]
    return out
