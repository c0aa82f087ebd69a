"""Backtests: how well last period's hotspots would have predicted the next period.

A hotspot patrol plan is only worth its cost if the places it names keep being where harm
happens. This module answers that on the user's own data, in the open, with the standard
measures and against simple baselines, so a commander or a sceptical analyst can check every
figure by hand.

Definitions
-----------
cutoff
    The first day of the **horizon**. Everything before it is history a method may use.
look-back window
    The incidents a method may learn from: ``lookback_days`` days before the cutoff
    (``window_unit="day"``), or ``lookback_months`` whole calendar months before it
    (``window_unit="month"``).
horizon
    The period being predicted: ``horizon_days`` days from the cutoff, or ``horizon_months``
    (default 1) whole months from it.
method
    A rule that picks a set of areas (H3 cells at one resolution, or grid cells of a kernel
    density surface) from the look-back incidents alone.
hit rate
    ``n_hits / n_horizon``: horizon incidents inside the selected areas over all horizon
    incidents in the data given (the study area). Both counts are reported.
harm hit rate
    The same with each incident weighted by its harm: harm-weighted horizon incidents inside
    the selected areas over the total harm of the horizon.
area share
    ``area_km2 / study_area_km2``: area of the selected areas over the study area.
PAI
    Predictive Accuracy Index, ``hit rate / area share`` (Chainey, Tompson & Uhlig 2008, "The
    utility of hotspot mapping for predicting spatial patterns of crime", *Security Journal*
    21, 4-28). 1 means no better than choosing places at random; 24 means the selected areas
    hold 24 times their share of the area's incidents.
harm-PAI
    ``harm hit rate / area share``: the PAI with harm-weighted incidents, so a method is
    credited more for catching a serious assault than a minor public-order offence.

Any ratio whose denominator is zero (no horizon incidents, no horizon harm, nothing selected)
is NaN, with the counts still filled in. Nothing here raises for an empty window.

Methods compared
----------------
``hotspots``
    Our ranking: H3 cells ranked by harm (sum of weights), then count, over the whole
    look-back window, from incidents already restricted to the shift by the caller (as the
    patrol plan is).
``last_period_count``
    Baseline: H3 cells ranked by raw count (no harm weights) over the last period only, the
    most recent ``last_period_days`` (default: the horizon's length) of the look-back window.
    "Where it happened last month" is the rule any crime analyst would start from.
``kde``
    Baseline: an unweighted quartic kernel density surface (:func:`geo.kde.quartic_kde`,
    ``kde_bandwidth_m`` radius on a grid of ``kde_cell_m`` metre squares) over the look-back
    incidents. Its top grid cells are selected until they cover the area that ``hotspots``
    selected at the same level (``floor(area / grid-cell area)`` cells), or all the cells
    with any density if there are fewer. A horizon incident is a hit when its easting and
    northing fall inside a selected grid cell.

Selections
----------
``top N``
    The first ``n`` cells of each H3 ranking; the KDE baseline takes the same area.
``coverage x%``
    Each H3 method selects whole cells in rank order while their total area stays within
    ``x%`` of the study area: it stops at the first cell that would exceed the budget (so the
    area selected is at most the budget, and can be less). If a method runs out of cells with
    any look-back incident first, it selects them all and the smaller area is reported.
    The KDE baseline matches the area ``hotspots`` actually selected at that level.

Ties are broken deterministically: harm descending, then count descending, then H3 cell id
ascending (KDE: density descending, then grid cell index ascending, row 0 southernmost). Harm
sums are compared after rounding to 1e-9 so float rounding cannot reorder equal harm.

Areas
-----
``study_area_km2`` is passed in by the caller. We recommend, and :func:`boundary_area_km2`
computes, the area of the local-authority (or other boundary) polygons of the study area in
British National Grid (EPSG:27700): it is well defined, the same for every method and every
resolution. H3 cells along the edge can stick out beyond it; their whole area counts.

H3 cell areas are by default exact per cell (``h3.cell_area(cell, "km^2")``, computed only for
the cells a selection needs and cached): at Lancashire's latitude a resolution-9 hexagon is
about 0.094 km², 11 % less than the global average of 0.105 km², so the average would
understate PAI by about that much. Pass ``cell_area_km2=h3.average_hexagon_area(res, "km^2")``
to use one figure for every cell instead. KDE grid cells are ``(kde_cell_m / 1000) ** 2`` km².

Month-only data
---------------
police.uk gives only a month, no day or hour. With ``window_unit="month"`` the cutoff must be
the first day of a month and windows are whole months, read from ``month_first`` (for every
row, dated or not). No weekday or hour is known, so a day/hour shift cannot apply: backtesting
month windows on data restricted to a shift raises ``ValueError``. With ``window_unit="day"``
every row needs a known day; month-only rows raise ``ValueError`` rather than being dropped
silently.

Night shifts that cross midnight (e.g. Friday and Saturday 20:00-04:00) are windowed by the
incident's local date; choose cutoffs on a day the shift does not touch (a Monday for a
Friday/Saturday night shift) so that no night is split between look-back and horizon.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo.kde import Grid, quartic_kde

if TYPE_CHECKING:
    from collections.abc import Mapping

    from geo.query import Filters, QueryLayer

__all__ = [
    "METHODS",
    "RESULT_COLUMNS",
    "BacktestData",
    "backtest_at",
    "boundary_area_km2",
    "h3_cell_areas_km2",
    "months_without_data",
    "rank_cells_for_window",
    "rolling_backtest",
    "rolling_cutoffs",
    "score_selection",
    "summarise",
    "top_kde_cells",
    "window_bounds",
    "window_coverage",
]

#: Method names, in the order rows are returned.
METHODS = ("hotspots", "last_period_count", "kde")

#: Columns of :func:`backtest_at` and :func:`rolling_backtest`, in order.
RESULT_COLUMNS = [
    "cutoff", "window_unit", "lookback_from", "horizon_to", "method", "selection",
    "coverage", "n_lookback", "n_cells", "area_km2", "area_share", "n_horizon", "n_hits",
    "hit_rate", "horizon_harm", "harm_hits", "harm_hit_rate", "pai", "harm_pai",
]

_EPOCH = np.datetime64("1970-01-01", "D")
# A cumulative area within this relative margin of the budget counts as within it, so a
# budget that is an exact multiple of the cell area is not missed by float rounding.
_BUDGET_RTOL = 1e-9
# Harm sums are rounded to this many decimals before ranking (see the module docstring).
_HARM_DECIMALS = 9
_NO_RANK = np.iinfo(np.int64).max


#: A day: days since 1970-01-01, a date, a numpy datetime64 or an ISO date string.
DayLike = int | np.integer | date | np.datetime64 | str


def _as_day(value: DayLike) -> int:
    if isinstance(value, np.datetime64):
        return int((value.astype("datetime64[D]") - _EPOCH).astype(int))
    if isinstance(value, (date, str)):
        return int((np.datetime64(value, "D") - _EPOCH).astype(int))
    return int(value)


def _iso(day: int) -> str:
    return str(_EPOCH + np.timedelta64(int(day), "D"))


def _month_index(day: int) -> int:
    """Months since January 1970 of the month holding ``day``."""
    return int((_EPOCH + np.timedelta64(int(day), "D")).astype("datetime64[M]").astype(int))


def _month_first_day(month_index: int) -> int:
    return int((np.datetime64(month_index, "M").astype("datetime64[D]") - _EPOCH).astype(int))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class BacktestData:
    """The incidents to backtest on, already filtered by area, category and shift.

    Parameters
    ----------
    day : numpy.ndarray
        int32 days since 1970-01-01 of each incident's local date; -1 where unknown.
    month_first : numpy.ndarray
        int32 day number of the first day of the incident's month (used for every row when
        ``window_unit="month"``).
    month_only : numpy.ndarray
        bool, True where only the month is known (police.uk).
    cell : numpy.ndarray
        uint64 H3 cell of each incident at the resolution being tested.
    easting, northing : numpy.ndarray
        British National Grid metres (EPSG:27700).
    weight : numpy.ndarray
        Harm weight of each incident (all 1.0 for equal weights); finite, non-negative.
    shift : str, optional
        A label of the day/hour restriction the caller applied (e.g. ``"fri,sat 20-4"``), or
        None if none was. Month windows refuse data restricted to a shift.

    Examples
    --------
    >>> d = BacktestData(day=[0, 1], month_first=[0, 0], month_only=[False, False],
    ...                  cell=[5, 5], easting=[350_000.0, 350_010.0],
    ...                  northing=[430_000.0, 430_000.0], weight=[1.0, 2.0])
    >>> len(d), d.cell.dtype.name, d.day.dtype.name
    (2, 'uint64', 'int32')
    """

    day: np.ndarray
    month_first: np.ndarray
    month_only: np.ndarray
    cell: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    weight: np.ndarray
    shift: str | None = None

    def __post_init__(self) -> None:
        # Frozen, so the coerced arrays are set through object.__setattr__.
        coerce = {
            "day": "int32", "month_first": "int32", "month_only": "bool", "cell": "uint64",
            "easting": "float64", "northing": "float64", "weight": "float64",
        }
        for name, dtype in coerce.items():
            arr = np.asarray(getattr(self, name)).astype(dtype, copy=False).reshape(-1)
            object.__setattr__(self, name, arr)
        n = self.day.size
        bad = [k for k in coerce if getattr(self, k).size != n]
        if bad:
            raise ValueError(f"every column needs one value per incident ({n}); {bad[0]} differs")
        if n and (not np.isfinite(self.weight).all() or self.weight.min() < 0):
            raise ValueError("weight must be finite and not negative")

    def __len__(self) -> int:
        return int(self.day.size)

    @classmethod
    def from_query(
        cls,
        query: QueryLayer,
        filters: Filters,
        res: int,
        harm_weights: Mapping[str, float] | None = None,
    ) -> BacktestData:
        """Take the incidents ``filters`` select from a query layer, with cells at ``res``.

        Parameters
        ----------
        query : geo.query.QueryLayer
            The query layer over the store.
        filters : geo.query.Filters
            Area, category, source and shift (days/hours) to backtest; leave ``start`` and
            ``end`` empty unless the data should be cut short, as the windows come from the
            cutoffs.
        res : int
            H3 resolution of the cells.
        harm_weights : mapping of str to float, optional
            Weight per category; every incident weighs 1 when omitted.

        Returns
        -------
        BacktestData
            With ``shift`` set when ``filters`` restrict days or hours.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from geo.boundaries import load_boundaries
        >>> from geo.query import Filters, QueryLayer
        >>> from geo.store import Store
        >>> empty = QueryLayer(Store(Path(tempfile.mkdtemp())), load_boundaries(None))
        >>> d = BacktestData.from_query(empty, Filters(days=frozenset({4})), res=9)
        >>> len(d), d.shift
        (0, 'days=fri')
        """
        fr = query.frame()
        mask = query.select(filters).mask
        shift = None
        if filters.uses_time_of_week:
            params = filters.to_params()
            shift = " ".join(f"{k}={params[k]}" for k in ("days", "hours") if k in params)
        return cls(
            day=fr.day[mask],
            month_first=fr.month_first[mask],
            month_only=fr.month_only[mask],
            cell=fr.cells[res][fr.cell_codes[res][mask]],
            easting=fr.easting[mask],
            northing=fr.northing[mask],
            weight=query.weights(harm_weights)[mask],
            shift=shift,
        )


# --------------------------------------------------------------------------- areas


def boundary_area_km2(polygons_bng: Any) -> float:
    """Area (km²) of the union of boundary polygons in British National Grid.

    The recommended ``study_area_km2``: overlaps between neighbouring polygons are counted once.

    Parameters
    ----------
    polygons_bng : geopandas.GeoDataFrame, GeoSeries, shapely geometry or iterable of them
        Areas in EPSG:27700 metres; a GeoDataFrame or GeoSeries with a geographic CRS is
        refused.

    Returns
    -------
    float
        Area in km².

    Examples
    --------
    >>> from shapely.geometry import box
    >>> boundary_area_km2([box(0, 0, 2000, 1000), box(1000, 0, 3000, 1000)])
    3.0
    """
    import shapely

    crs = getattr(polygons_bng, "crs", None)
    if crs is not None and getattr(crs, "is_geographic", False):
        raise ValueError(
            "boundary_area_km2 needs polygons in British National Grid metres (EPSG:27700), "
            f"got a geographic CRS ({crs}); reproject with .to_crs(27700)"
        )
    geoms = getattr(polygons_bng, "geometry", polygons_bng)
    parts = [geoms] if isinstance(geoms, shapely.Geometry) else [g for g in geoms if g is not None]
    if not parts:
        return 0.0
    return float(shapely.union_all(np.asarray(parts, dtype=object)).area) / 1e6


@lru_cache(maxsize=1 << 17)
def _one_cell_area_km2(cell: int) -> float:
    from h3.api import numpy_int as h3int

    return float(h3int.cell_area(cell, unit="km^2"))


def h3_cell_areas_km2(cells: np.ndarray) -> np.ndarray:
    """Exact area (km²) of each H3 cell, as ``h3.cell_area(cell, "km^2")``.

    Parameters
    ----------
    cells : numpy.ndarray
        uint64 H3 indexes.

    Returns
    -------
    numpy.ndarray
        float64 areas, one per cell.

    Examples
    --------
    >>> import h3
    >>> c = h3.str_to_int(h3.latlng_to_cell(53.759, -2.703, 9))
    >>> a = h3_cell_areas_km2(np.array([c], dtype="uint64"))
    >>> round(float(a[0]), 4), round(h3.average_hexagon_area(9, "km^2"), 4)
    (0.094, 0.1053)
    """
    arr = np.asarray(cells, dtype="uint64").reshape(-1)
    return np.fromiter((_one_cell_area_km2(c) for c in arr.tolist()), dtype="float64",
                       count=arr.size)


# --------------------------------------------------------------------------- scoring


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else math.nan


def _score(hit: np.ndarray, horizon_weight: np.ndarray, area_km2: float,
           study_area_km2: float) -> dict[str, Any]:
    n_horizon = int(hit.size)
    n_hits = int(np.count_nonzero(hit))
    total_harm = float(horizon_weight.sum())
    harm_hits = float(horizon_weight[hit].sum())
    hit_rate = _ratio(n_hits, n_horizon)
    harm_hit_rate = _ratio(harm_hits, total_harm)
    area_share = _ratio(area_km2, study_area_km2)
    pai = hit_rate / area_share if area_share > 0 else math.nan
    harm_pai = harm_hit_rate / area_share if area_share > 0 else math.nan
    return {
        "n_horizon": n_horizon, "n_hits": n_hits, "hit_rate": hit_rate,
        "horizon_harm": total_harm, "harm_hits": harm_hits, "harm_hit_rate": harm_hit_rate,
        "area_km2": float(area_km2), "area_share": area_share, "pai": pai, "harm_pai": harm_pai,
    }


def _check_study_area(study_area_km2: float) -> float:
    value = float(study_area_km2)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"study_area_km2 must be a positive number of km², got {study_area_km2!r}")
    return value


def score_selection(
    selected_cells: np.ndarray,
    horizon_cells: np.ndarray,
    horizon_weight: np.ndarray,
    cell_area_km2: float | np.ndarray,
    study_area_km2: float,
) -> dict[str, Any]:
    """Hit rate, area share, PAI and harm-PAI of one selection against the horizon.

    Parameters
    ----------
    selected_cells : numpy.ndarray
        Ids of the selected areas (H3 cells, or grid cell indexes), each once.
    horizon_cells : numpy.ndarray
        Area id of each horizon incident (same kind of id; an id selected nowhere, such as -1
        for "off the grid", is a miss).
    horizon_weight : numpy.ndarray
        Harm weight of each horizon incident.
    cell_area_km2 : float or numpy.ndarray
        Area of every selected cell (one number), or of each selected cell (aligned with
        ``selected_cells``), km².
    study_area_km2 : float
        Area of the whole study area, km² (positive).

    Returns
    -------
    dict
        ``n_horizon``, ``n_hits``, ``hit_rate``, ``horizon_harm``, ``harm_hits``,
        ``harm_hit_rate``, ``area_km2``, ``area_share``, ``pai``, ``harm_pai``. Ratios with a
        zero denominator are NaN.

    Examples
    --------
    Three of five horizon incidents fall in the one selected 1 km² cell of a 40 km² area:
    hit rate 3/5, area share 1/40, PAI 0.6 / 0.025 = 24.

    >>> s = score_selection(np.array([7]), np.array([7, 7, 7, 8, 9]), np.ones(5),
    ...                     cell_area_km2=1.0, study_area_km2=40.0)
    >>> s["n_hits"], s["n_horizon"], s["hit_rate"], s["area_share"], round(s["pai"], 9)
    (3, 5, 0.6, 0.025, 24.0)
    >>> score_selection(np.array([7]), np.array([], dtype=int), np.ones(0), 1.0, 40.0)["pai"]
    nan
    """
    study = _check_study_area(study_area_km2)
    selected = np.asarray(selected_cells).reshape(-1)
    cells = np.asarray(horizon_cells).reshape(-1)
    w = np.asarray(horizon_weight, dtype="float64").reshape(-1)
    if w.size != cells.size:
        raise ValueError("horizon_weight needs one value per horizon incident")
    areas = np.asarray(cell_area_km2, dtype="float64")
    if areas.ndim == 0:
        area = float(areas) * selected.size
    elif areas.size == selected.size:
        area = float(areas.sum())
    else:
        raise ValueError("cell_area_km2 must be one number or one per selected cell")
    if selected.size and cells.size and selected.dtype != cells.dtype:
        # Mixed uint64 and int64 would compare as floats and merge distinct H3 indexes.
        cells = cells.astype(selected.dtype) if np.can_cast(cells, selected.dtype) else cells
    hit = np.isin(cells, selected) if selected.size else np.zeros(cells.size, dtype=bool)
    return _score(hit, w, area, study)


# --------------------------------------------------------------------------- ranking


def _rank(cells: np.ndarray, weight: np.ndarray | None, by_harm: bool) -> np.ndarray:
    if cells.size == 0:
        return np.zeros(0, dtype=cells.dtype)
    uniq, inverse = np.unique(cells, return_inverse=True)
    inverse = inverse.reshape(-1)
    counts = np.bincount(inverse, minlength=uniq.size)
    # np.unique sorts, so the index is the cell id's rank: the last key breaks ties by id.
    keys: list[np.ndarray] = [np.arange(uniq.size), -counts]
    if by_harm:
        w = np.ones(cells.size) if weight is None else weight
        harm = np.round(np.bincount(inverse, weights=w, minlength=uniq.size), _HARM_DECIMALS)
        keys.append(-harm)
    return uniq[np.lexsort(tuple(keys))]


def rank_cells_for_window(
    cells: np.ndarray, weight: np.ndarray | None = None, by_harm: bool = True
) -> np.ndarray:
    """Order the distinct cells of a window: harm desc, count desc, cell id asc.

    Parameters
    ----------
    cells : numpy.ndarray
        Cell of each incident in the window (H3 uint64 indexes or any integer id).
    weight : numpy.ndarray, optional
        Harm weight of each incident; 1 each when omitted.
    by_harm : bool, default True
        False ranks by count alone (then cell id), ignoring ``weight``.

    Returns
    -------
    numpy.ndarray
        Each cell that holds an incident once, best first.

    Examples
    --------
    Cell 3 has the most incidents, cell 9 the most harm; cells 1 and 2 tie and go by id:

    >>> cells = np.array([3, 3, 3, 9, 2, 1], dtype="uint64")
    >>> w = np.array([1, 1, 1, 5, 1, 1.0])
    >>> rank_cells_for_window(cells, w).tolist()
    [9, 3, 1, 2]
    >>> rank_cells_for_window(cells, w, by_harm=False).tolist()
    [3, 1, 2, 9]
    """
    arr = np.asarray(cells).reshape(-1)
    w = None if weight is None else np.asarray(weight, dtype="float64").reshape(-1)
    if w is not None and w.size != arr.size:
        raise ValueError("weight needs one value per incident")
    return _rank(arr, w, by_harm)


def _ranks_of(ordered: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """Position of each of ``cells`` in ``ordered`` (_NO_RANK where absent)."""
    if ordered.size == 0 or cells.size == 0:
        return np.full(cells.size, _NO_RANK, dtype=np.int64)
    sorter = np.argsort(ordered, kind="stable")
    sorted_cells = ordered[sorter]
    idx = np.searchsorted(sorted_cells, cells)
    idx_c = np.minimum(idx, ordered.size - 1)
    found = (idx < ordered.size) & (sorted_cells[idx_c] == cells)
    return np.where(found, sorter[idx_c], _NO_RANK).astype(np.int64)


def _cumulative_area(ordered: np.ndarray, cell_area_km2: float | None,
                     max_area_km2: float) -> np.ndarray:
    """Cumulative area (km²) of ``ordered`` cells, far enough to pass ``max_area_km2``."""
    if cell_area_km2 is not None:
        return float(cell_area_km2) * np.arange(1, ordered.size + 1, dtype="float64")
    # Exact areas cost ~2 µs a cell: only the cells a budget can reach are measured.
    done = np.zeros(0)
    take = 512
    while done.size < ordered.size and (done.size == 0 or done[-1] <= max_area_km2):
        more = h3_cell_areas_km2(ordered[done.size:done.size + take])
        done = np.concatenate([done, (done[-1] if done.size else 0.0) + np.cumsum(more)])
        take *= 2
    return done


def _within(cum_area: np.ndarray, budget_km2: float) -> int:
    """Cells in a prefix whose total area is within the budget."""
    return int(np.searchsorted(cum_area, budget_km2 * (1 + _BUDGET_RTOL), side="right"))


# --------------------------------------------------------------------------- windows


@dataclass(frozen=True)
class _Windows:
    lookback: np.ndarray
    last_period: np.ndarray
    horizon: np.ndarray
    lookback_from: int
    horizon_to: int  # last day, inclusive


def _windows(data: BacktestData, cutoff: int, window_unit: str, lookback_days: int | None,
             horizon_days: int | None, last_period_days: int | None, lookback_months: int,
             horizon_months: int, last_period_months: int | None) -> _Windows:
    if window_unit == "day":
        if lookback_days is None or horizon_days is None:
            raise ValueError("window_unit='day' needs lookback_days and horizon_days")
        last = horizon_days if last_period_days is None else last_period_days
        for name, value in (("lookback_days", lookback_days), ("horizon_days", horizon_days),
                            ("last_period_days", last)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if last > lookback_days:
            raise ValueError(
                f"last_period_days ({last}) cannot be longer than lookback_days ({lookback_days})"
            )
        n_month_only = int(np.count_nonzero(data.day < 0))
        if n_month_only:
            raise ValueError(
                f"{n_month_only} incidents have no known day (month-only data such as "
                "police.uk); use window_unit='month' with whole-month windows, or leave those "
                "incidents out"
            )
        t = data.day
        lo, hi, mid = cutoff - lookback_days, cutoff + horizon_days, cutoff - last
    elif window_unit == "month":
        given = [k for k, v in (("lookback_days", lookback_days), ("horizon_days", horizon_days),
                                ("last_period_days", last_period_days)) if v is not None]
        if given:
            raise ValueError(
                f"{given[0]} applies to window_unit='day'; with window_unit='month' use "
                "lookback_months, horizon_months and last_period_months"
            )
        if data.shift is not None:
            raise ValueError(
                f"these incidents are restricted to a shift ({data.shift}), but month windows "
                "are for month-only data, which has no weekday or hour, so a day/hour shift "
                "cannot apply; remove the days/hours filter, or use window_unit='day' with "
                "timestamped data"
            )
        last_m = horizon_months if last_period_months is None else last_period_months
        for name, value in (("lookback_months", lookback_months),
                            ("horizon_months", horizon_months),
                            ("last_period_months", last_m)):
            if int(value) < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if last_m > lookback_months:
            raise ValueError(
                f"last_period_months ({last_m}) cannot be longer than lookback_months "
                f"({lookback_months})"
            )
        m = _month_index(cutoff)
        if _month_first_day(m) != cutoff:
            raise ValueError(
                f"with window_unit='month' the cutoff must be the first day of a month, "
                f"got {_iso(cutoff)}"
            )
        t = data.month_first
        lo = _month_first_day(m - lookback_months)
        hi = _month_first_day(m + horizon_months)
        mid = _month_first_day(m - last_m)
    else:
        raise ValueError(f"window_unit must be 'day' or 'month', got {window_unit!r}")
    before = t < cutoff
    return _Windows(
        lookback=(t >= lo) & before,
        last_period=(t >= mid) & before,
        horizon=(t >= cutoff) & (t < hi),
        lookback_from=lo,
        horizon_to=hi - 1,
    )


# --------------------------------------------------------------------------- coverage


def months_without_data(month_first: np.ndarray) -> list[int]:
    """Months between the data's first and last month that hold no incident at all.

    A police.uk download with a month missing, or a feed that stopped for a while, shows up
    here. Give the month of **every** row in the store (not a filtered selection: a category
    may rightly be absent in a month), as ``IncidentFrame.month_first``.

    Parameters
    ----------
    month_first : numpy.ndarray
        Day number (days since 1970-01-01) of the first day of each incident's month.

    Returns
    -------
    list of int
        First-day numbers of the empty months, oldest first.

    Examples
    --------
    >>> jan, mar = _as_day("2020-01-01"), _as_day("2020-03-01")
    >>> [_iso(m) for m in months_without_data(np.array([jan, jan, mar]))]
    ['2020-02-01']
    """
    firsts = np.unique(np.asarray(month_first, dtype="int64"))
    if firsts.size < 2:
        return []
    present = {_month_index(int(d)) for d in firsts}
    lo, hi = _month_index(int(firsts[0])), _month_index(int(firsts[-1]))
    return [_month_first_day(m) for m in range(lo, hi + 1) if m not in present]


def _month_name(day: int) -> str:
    return str(np.datetime64(int(day), "D").astype(date).strftime("%B %Y"))


def window_coverage(first_day: DayLike, last_day: DayLike, data_first: DayLike,
                    data_last: DayLike, missing_months: Sequence[int] = ()) -> str | None:
    """Say in words why the data do not cover a window, or None when they cover it whole.

    A window that starts before the data begin, ends after they end, or holds a month with no
    data at all would count too few incidents; a trend or score drawn from it would mislead.

    Parameters
    ----------
    first_day, last_day : int, datetime.date, numpy.datetime64 or str
        The window, both ends included.
    data_first, data_last : int, datetime.date, numpy.datetime64 or str
        The first and last day of the data.
    missing_months : sequence of int
        First days of months with no data (:func:`months_without_data`).

    Returns
    -------
    str or None
        For example "it starts before the data begin (1 Dec 2019)".

    Examples
    --------
    >>> window_coverage("2019-11-01", "2019-12-31", "2019-12-01", "2022-10-31")
    'it starts before the data begin (1 Dec 2019)'
    >>> window_coverage("2020-01-01", "2020-12-31", "2019-12-01", "2022-10-31",
    ...                 [_as_day("2020-06-01")])
    'the data have no incidents at all in June 2020'
    >>> window_coverage("2020-01-01", "2020-12-31", "2019-12-01", "2022-10-31") is None
    True
    """
    lo, hi = _as_day(first_day), _as_day(last_day)
    d0, d1 = _as_day(data_first), _as_day(data_last)
    problems = []
    if hi < d0 or lo > d1:
        return f"it lies outside the data ({_short(d0)} to {_short(d1)})"
    if lo < d0:
        problems.append(f"it starts before the data begin ({_short(d0)})")
    if hi > d1:
        problems.append(f"it ends after the data end ({_short(d1)})")
    gaps = [m for m in missing_months
            if m <= hi and _month_first_day(_month_index(m) + 1) - 1 >= lo]
    if gaps:
        problems.append("the data have no incidents at all in "
                        + ", ".join(_month_name(m) for m in gaps))
    return "; ".join(problems) or None


def _short(day: int) -> str:
    d = np.datetime64(int(day), "D").astype(date)
    return f"{d.day} {d:%b %Y}"


def window_bounds(cutoff_day: DayLike, *, window_unit: str = "day",
                  lookback_days: int | None = None, horizon_days: int | None = None,
                  lookback_months: int = 3, horizon_months: int = 1) -> tuple[int, int]:
    """First day of the look-back and last day of the horizon of a cutoff, as day numbers.

    The same windows :func:`backtest_at` uses, so a caller can check the data cover them
    before running it (:func:`window_coverage`).

    Examples
    --------
    >>> [_iso(d) for d in window_bounds("2021-01-01", window_unit="month", lookback_months=12)]
    ['2020-01-01', '2021-01-31']
    >>> window_bounds(100, lookback_days=84, horizon_days=28)
    (16, 127)
    """
    cutoff = _as_day(cutoff_day)
    if window_unit == "month":
        m = _month_index(cutoff)
        return _month_first_day(m - lookback_months), _month_first_day(m + horizon_months) - 1
    if lookback_days is None or horizon_days is None:
        raise ValueError("window_unit='day' needs lookback_days and horizon_days")
    return cutoff - lookback_days, cutoff + horizon_days - 1


# --------------------------------------------------------------------------- backtest


def _selection_label(coverage: float) -> str:
    return f"coverage {coverage * 100:g}%"


#: Gi* bin a cell needs at each confidence level (bins run 1-3 for 90, 95 and 99%).
_GI_BIN = {0.90: 1, 0.95: 2, 0.99: 3}


def _gi_hot(cells: np.ndarray, weight: np.ndarray, level: float) -> np.ndarray:
    """Cells that are Gi* hot spots of the window's harm at ``level`` confidence or more."""
    from geo.gistar import gi_star

    if cells.size == 0:
        return np.zeros(0, dtype=cells.dtype)
    uniq, inverse = np.unique(cells, return_inverse=True)
    if uniq.size < 3:
        return np.zeros(0, dtype=cells.dtype)
    harm = np.bincount(inverse.reshape(-1), weights=weight, minlength=uniq.size)
    gi = gi_star(uniq.astype("uint64"), harm)
    hot = gi.loc[~gi["added"] & (gi["bin"] >= _GI_BIN[level]), "cell"].to_numpy()
    return hot.astype(cells.dtype)


def _share_count(ordered: np.ndarray, cells: np.ndarray, weight: np.ndarray | None,
                 share: float) -> int:
    """Return how many of the ``ordered`` cells (a prefix) hold ``share`` of the total."""
    if ordered.size == 0:
        return 0
    uniq, inverse = np.unique(cells, return_inverse=True)
    w = np.ones(cells.size) if weight is None else weight
    totals = np.bincount(inverse.reshape(-1), weights=w, minlength=uniq.size)
    whole = float(totals.sum())
    if not whole > 0:
        return 0
    cum = np.cumsum(totals[np.searchsorted(uniq, ordered)]) / whole
    return min(int(np.searchsorted(cum, share - 1e-12)) + 1, int(ordered.size))


def top_kde_cells(
    easting: np.ndarray,
    northing: np.ndarray,
    *,
    cell_m: float,
    bandwidth_m: float,
    k: int,
) -> tuple[Grid | None, np.ndarray]:
    """Return the ``k`` densest cells of an unweighted quartic KDE surface over the points.

    The grid covers the points padded by the bandwidth, its origin snapped to a multiple of
    ``cell_m`` (:meth:`geo.kde.Grid.from_bounds`). Only cells with a positive density count,
    so fewer than ``k`` may come back. Ties go to the lower flat index ``iy * nx + ix`` (row 0
    southernmost).

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Points in British National Grid metres.
    cell_m : float
        Grid cell side (m).
    bandwidth_m : float
        Quartic kernel radius (m), at least ``cell_m``.
    k : int
        How many cells to return.

    Returns
    -------
    grid : geo.kde.Grid or None
        The grid (None when there are no points or ``k`` is 0).
    cells : numpy.ndarray
        int64 flat indexes into ``grid``, densest first.

    Examples
    --------
    One point at a cell centre: its own cell, then the four cells 100 m away, tied and so in
    index order (south, west, east, north):

    >>> grid, top = top_kde_cells(np.array([350_050.0]), np.array([430_050.0]),
    ...                           cell_m=100.0, bandwidth_m=250.0, k=5)
    >>> grid.nx, [divmod(int(c), grid.nx) for c in top]  # (iy, ix)
    (5, [(2, 2), (1, 2), (2, 1), (2, 3), (3, 2)])
    """
    e = np.asarray(easting, dtype="float64").reshape(-1)
    n = np.asarray(northing, dtype="float64").reshape(-1)
    if e.size == 0 or k <= 0:
        return None, np.zeros(0, dtype=np.int64)
    grid = Grid.from_bounds(float(e.min()), float(n.min()), float(e.max()), float(n.max()),
                            cell_m, pad_m=bandwidth_m)
    flat = quartic_kde(e, n, grid, bandwidth_m).ravel()
    positive = np.flatnonzero(flat > 0)
    if positive.size > k:
        # The k-th largest density; every cell at least that dense is a candidate, so cells
        # tied at the threshold are ordered by index, never by where argpartition put them.
        threshold = np.partition(flat[positive], positive.size - k)[positive.size - k]
        positive = positive[flat[positive] >= threshold]
    order = positive[np.lexsort((positive, -flat[positive]))][:k]
    return grid, order.astype(np.int64)


def _grid_ids(grid: Grid | None, e: np.ndarray, n: np.ndarray) -> np.ndarray:
    if grid is None:
        return np.full(e.size, -1, dtype=np.int64)
    ix = np.floor((e - grid.x0) / grid.cell_m).astype(np.int64)
    iy = np.floor((n - grid.y0) / grid.cell_m).astype(np.int64)
    inside = (ix >= 0) & (ix < grid.nx) & (iy >= 0) & (iy < grid.ny)
    return np.where(inside, iy * grid.nx + ix, -1)


def backtest_at(
    data: BacktestData,
    cutoff_day: DayLike,
    *,
    lookback_days: int | None = None,
    horizon_days: int | None = None,
    last_period_days: int | None = None,
    study_area_km2: float,
    cell_area_km2: float | None = None,
    n: int | None = 10,
    coverages: Sequence[float] = (0.01, 0.02, 0.05, 0.10),
    kde_cell_m: float = 100.0,
    kde_bandwidth_m: float = 250.0,
    window_unit: str = "day",
    lookback_months: int = 3,
    horizon_months: int = 1,
    last_period_months: int | None = None,
    target_share: float | None = None,
    significance: float | None = None,
) -> pd.DataFrame:
    """Score the three methods at one cutoff: top ``n`` cells and each coverage level.

    See the module docstring for every definition.

    Parameters
    ----------
    data : BacktestData
        Incidents already filtered by area, category and shift, with cells at one resolution.
    cutoff_day : int, datetime.date, numpy.datetime64 or str
        First day of the horizon: days since 1970-01-01, or a date (``"2019-12-01"``).
    lookback_days, horizon_days : int
        Window lengths in days (``window_unit="day"`` only).
    last_period_days : int, optional
        Length of the ``last_period_count`` baseline's window, the end of the look-back;
        default ``horizon_days``.
    study_area_km2 : float
        Area of the study area, km² (see :func:`boundary_area_km2`).
    cell_area_km2 : float, optional
        One area for every H3 cell (e.g. ``h3.average_hexagon_area(res, "km^2")``); by default
        each cell's exact area.
    n : int or None, default 10
        Size of the "top N" selection; None leaves it out.
    coverages : sequence of float, default (0.01, 0.02, 0.05, 0.10)
        Area budgets as shares of the study area, each in (0, 1].
    kde_cell_m, kde_bandwidth_m : float
        KDE grid cell side and quartic kernel radius, metres.
    window_unit : {"day", "month"}
        "month" for month-only data: whole-month windows, cutoff on the 1st of a month.
    lookback_months, horizon_months : int
        Window lengths in months (``window_unit="month"`` only).
    last_period_months : int, optional
        Months in the ``last_period_count`` window; default ``horizon_months``.
    target_share : float, optional
        Instead of ``n``: a ``share x%`` selection, the fewest cells holding at least this
        share (0, 1] of their method's look-back harm (``hotspots``) or count
        (``last_period_count``, over its own window); the KDE baseline takes the area
        ``hotspots`` took.
    significance : float, optional
        0.90, 0.95 or 0.99: ``hotspots`` ranks only the cells that are Getis-Ord Gi* hot spots
        of the look-back harm at that confidence (ring-1 weights with the cell, false
        discovery rate control), as the patrol plan's "significant only" does.

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS`: one row per method and selection (``top N`` first, then
        coverage levels ascending), ``cutoff``, ``lookback_from`` and ``horizon_to``
        (inclusive) as ISO dates.

    Raises
    ------
    ValueError
        For a bad window, month-only rows in day windows, a shift with month windows, a
        cutoff that is not the 1st of a month with month windows, a non-positive study area
        or a coverage outside (0, 1].

    Examples
    --------
    Cell 1 held the look-back incidents; two of the three horizon incidents fall in it:

    >>> d = BacktestData(day=[0, 1, 2, 10, 11, 12], month_first=[0] * 6,
    ...                  month_only=[False] * 6, cell=[1, 1, 2, 1, 1, 3],
    ...                  easting=[350_050.0] * 6, northing=[430_050.0] * 6, weight=[1.0] * 6)
    >>> t = backtest_at(d, 10, lookback_days=10, horizon_days=7, study_area_km2=40.0,
    ...                 cell_area_km2=1.0, n=1, coverages=(0.05,))
    >>> cols = ["method", "selection", "n_cells", "n_hits", "n_horizon", "pai"]
    >>> t.loc[t["method"] == "hotspots", cols].round(2)
         method    selection  n_cells  n_hits  n_horizon    pai
    0  hotspots        top 1        1       2          3  26.67
    1  hotspots  coverage 5%        2       2          3  13.33

    The last week of the look-back (the default last period) was empty, so that baseline
    selects nothing and its PAI is NaN:

    >>> t.loc[t["method"] == "last_period_count", cols[:4] + ["pai"]]
                  method    selection  n_cells  n_hits  pai
    2  last_period_count        top 1        0       0  NaN
    3  last_period_count  coverage 5%        0       0  NaN
    """
    cutoff = _as_day(cutoff_day)
    study = _check_study_area(study_area_km2)
    levels = sorted(float(c) for c in coverages)
    if any(not (0 < c <= 1) for c in levels):
        raise ValueError(f"coverages must lie in (0, 1], got {list(coverages)}")
    if n is not None and int(n) < 1:
        raise ValueError(f"n must be at least 1 (or None), got {n}")
    if target_share is not None:
        if not 0 < target_share <= 1:
            raise ValueError(f"target_share must lie in (0, 1], got {target_share}")
        n = None
    if significance is not None and significance not in _GI_BIN:
        raise ValueError(f"significance must be one of {sorted(_GI_BIN)}, got {significance}")
    if cell_area_km2 is not None and not (math.isfinite(cell_area_km2) and cell_area_km2 > 0):
        raise ValueError(f"cell_area_km2 must be positive, got {cell_area_km2!r}")
    win = _windows(data, cutoff, window_unit, lookback_days, horizon_days, last_period_days,
                   lookback_months, horizon_months, last_period_months)

    h_cells = data.cell[win.horizon]
    h_weight = data.weight[win.horizon]
    h_e, h_n = data.easting[win.horizon], data.northing[win.horizon]
    budgets = [c * study for c in levels]
    max_budget = budgets[-1] if budgets else 0.0

    # (label, coverage) of each selection, in output order.
    selections: list[tuple[str, float]] = []
    if n is not None:
        selections.append((f"top {int(n)}", math.nan))
    elif target_share is not None:
        selections.append((f"share {100 * target_share:g}%", math.nan))
    selections += [(_selection_label(c), c) for c in levels]
    headline = n is not None or target_share is not None

    rows: list[dict[str, Any]] = []
    hotspot_areas: list[float] = []
    h3_methods = (
        ("hotspots", win.lookback, True),
        ("last_period_count", win.last_period, False),
    )
    for method, mask, by_harm in h3_methods:
        ordered = _rank(data.cell[mask], data.weight[mask], by_harm)
        if method == "hotspots" and significance is not None:
            ordered = ordered[np.isin(ordered, _gi_hot(data.cell[mask], data.weight[mask],
                                                       significance))]
        if target_share is not None:
            n_top = _share_count(ordered, data.cell[mask], data.weight[mask] if by_harm
                                 else None, target_share)
        else:
            n_top = 0 if n is None else min(int(n), ordered.size)
        cum = _cumulative_area(ordered, cell_area_km2, max_budget)
        if cum.size < n_top:
            cum = _cumulative_area(ordered[:n_top], cell_area_km2, math.inf)
        counts = ([n_top] if headline else []) + [_within(cum, b) for b in budgets]
        # Only ranks below the largest selection matter; searching a shorter list is faster.
        ranks = _ranks_of(ordered[:max(counts, default=0)], h_cells)
        for (label, cov), k in zip(selections, counts, strict=True):
            area = float(cum[k - 1]) if k else 0.0
            if method == "hotspots":
                hotspot_areas.append(area)
            rows.append({"method": method, "selection": label, "coverage": cov,
                         "n_lookback": int(np.count_nonzero(mask)), "n_cells": k,
                         **_score(ranks < k, h_weight, area, study)})

    grid_cell_km2 = (float(kde_cell_m) / 1000.0) ** 2
    kde_counts = [int(math.floor(a / grid_cell_km2 * (1 + _BUDGET_RTOL))) for a in hotspot_areas]
    e, nn = data.easting[win.lookback], data.northing[win.lookback]
    grid, order = top_kde_cells(e, nn, cell_m=float(kde_cell_m),
                                bandwidth_m=float(kde_bandwidth_m), k=max(kde_counts, default=0))
    ids = _grid_ids(grid, h_e, h_n)
    kde_ranks = np.full(ids.size, _NO_RANK, dtype=np.int64)
    if grid is not None:
        rank_flat = np.full(grid.nx * grid.ny, _NO_RANK, dtype=np.int64)
        rank_flat[order] = np.arange(order.size)
        on_grid = ids >= 0
        kde_ranks[on_grid] = rank_flat[ids[on_grid]]
    for (label, cov), k_want in zip(selections, kde_counts, strict=True):
        k = min(k_want, order.size)
        rows.append({"method": "kde", "selection": label, "coverage": cov,
                     "n_lookback": int(e.size), "n_cells": k,
                     **_score(kde_ranks < k, h_weight, k * grid_cell_km2, study)})

    out = pd.DataFrame(rows)
    out["cutoff"] = _iso(cutoff)
    out["window_unit"] = window_unit
    out["lookback_from"] = _iso(win.lookback_from)
    out["horizon_to"] = _iso(win.horizon_to)
    return out[RESULT_COLUMNS]


def rolling_backtest(data: BacktestData, cutoffs: Iterable[DayLike],
                     **kwargs: Any) -> pd.DataFrame:
    """Run :func:`backtest_at` at each cutoff and stack the results.

    Parameters
    ----------
    data : BacktestData
        As for :func:`backtest_at`.
    cutoffs : iterable of int, datetime.date, numpy.datetime64 or str
        Cutoff days (see :func:`rolling_cutoffs`).
    **kwargs
        Passed to :func:`backtest_at` unchanged.

    Returns
    -------
    pandas.DataFrame
        :data:`RESULT_COLUMNS`, one row per cutoff, method and selection, cutoffs in the
        order given.

    Examples
    --------
    >>> d = BacktestData(day=list(range(60)), month_first=[0] * 60, month_only=[False] * 60,
    ...                  cell=[1] * 60, easting=[350_050.0] * 60, northing=[430_050.0] * 60,
    ...                  weight=[1.0] * 60)
    >>> t = rolling_backtest(d, [28, 42], lookback_days=28, horizon_days=14,
    ...                      study_area_km2=10.0, cell_area_km2=0.1, n=1, coverages=())
    >>> t.groupby("cutoff")["hit_rate"].max().to_dict()
    {'1970-01-29': 1.0, '1970-02-12': 1.0}
    """
    frames = [backtest_at(data, c, **kwargs) for c in cutoffs]
    if not frames:
        return pd.DataFrame(columns=RESULT_COLUMNS)
    return pd.concat(frames, ignore_index=True)


def rolling_cutoffs(
    first_day: DayLike,
    last_day: DayLike,
    *,
    lookback: int,
    horizon: int,
    step: int,
    window_unit: str = "day",
) -> list[int]:
    """Cutoffs whose whole look-back and horizon lie within ``first_day..last_day``.

    The latest horizon ends on ``last_day`` (day windows) or with the last complete month;
    earlier cutoffs follow every ``step`` days (or months) back while the look-back still
    fits. Returned oldest first.

    Parameters
    ----------
    first_day, last_day : int, datetime.date, numpy.datetime64 or str
        The span of the data (inclusive).
    lookback, horizon, step : int
        In days, or in months with ``window_unit="month"``.
    window_unit : {"day", "month"}
        Unit of the three lengths.

    Returns
    -------
    list of int
        Cutoff day numbers, ascending.

    Examples
    --------
    >>> [str(np.datetime64(c, "D")) for c in rolling_cutoffs(
    ...     date(2019, 9, 1), date(2019, 12, 31), lookback=3, horizon=1, step=1,
    ...     window_unit="month")]
    ['2019-12-01']
    >>> rolling_cutoffs(0, 99, lookback=84, horizon=7, step=4)
    [85, 89, 93]
    """
    lo, hi = _as_day(first_day), _as_day(last_day)
    if min(lookback, horizon, step) < 1:
        raise ValueError("lookback, horizon and step must be at least 1")
    out: list[int] = []
    if window_unit == "day":
        c = hi + 1 - horizon
        while c - lookback >= lo:
            out.append(c)
            c -= step
    elif window_unit == "month":
        first_m = _month_index(lo) + (0 if _month_first_day(_month_index(lo)) == lo else 1)
        end_m = _month_index(hi + 1)  # months before this one are complete
        m = end_m - horizon
        while m - lookback >= first_m:
            out.append(_month_first_day(m))
            m -= step
    else:
        raise ValueError(f"window_unit must be 'day' or 'month', got {window_unit!r}")
    return out[::-1]


def summarise(results: pd.DataFrame) -> pd.DataFrame:
    """Summarise a rolling series per method and selection.

    Pooled figures add up hits, horizon incidents and areas over the cutoffs before dividing,
    so a cutoff with few horizon incidents does not weigh as much as a busy one; the mean and
    median PAI treat every cutoff alike (NaN cutoffs are left out of them).

    Parameters
    ----------
    results : pandas.DataFrame
        Output of :func:`rolling_backtest` or :func:`backtest_at`.

    Returns
    -------
    pandas.DataFrame
        ``method, selection, cutoffs, n_hits, n_horizon, hit_rate, harm_hit_rate,
        area_share, pai, harm_pai, mean_pai, median_pai``; methods in :data:`METHODS` order.

    Examples
    --------
    >>> r = pd.DataFrame({"method": ["kde", "kde"], "selection": ["top 1", "top 1"],
    ...                   "n_hits": [1, 3], "n_horizon": [2, 4], "harm_hits": [1.0, 3.0],
    ...                   "horizon_harm": [2.0, 4.0], "area_share": [0.1, 0.1],
    ...                   "pai": [5.0, 7.5]})
    >>> s = summarise(r)
    >>> s.loc[0, ["cutoffs", "hit_rate", "pai", "mean_pai"]].tolist()
    [2.0, 0.6666666666666666, 6.666666666666666, 6.25]
    """
    g = results.groupby(["method", "selection"], sort=False)
    s = g.agg(cutoffs=("pai", "size"), n_hits=("n_hits", "sum"), n_horizon=("n_horizon", "sum"),
              harm_hits=("harm_hits", "sum"), horizon_harm=("horizon_harm", "sum"),
              area_share=("area_share", "mean"), mean_pai=("pai", "mean"),
              median_pai=("pai", "median")).reset_index()
    s["hit_rate"] = [_ratio(a, b) for a, b in zip(s["n_hits"], s["n_horizon"], strict=True)]
    s["harm_hit_rate"] = [_ratio(a, b) for a, b in zip(s["harm_hits"], s["horizon_harm"],
                                                        strict=True)]
    s["pai"] = [_ratio(h, a) for h, a in zip(s["hit_rate"], s["area_share"], strict=True)]
    s["harm_pai"] = [_ratio(h, a) for h, a in zip(s["harm_hit_rate"], s["area_share"],
                                                   strict=True)]
    order = {m: i for i, m in enumerate(METHODS)}
    s = s.sort_values("method", key=lambda col: col.map(order), kind="stable")
    return s[["method", "selection", "cutoffs", "n_hits", "n_horizon", "hit_rate",
              "harm_hit_rate", "area_share", "pai", "harm_pai", "mean_pai",
              "median_pai"]].reset_index(drop=True)
