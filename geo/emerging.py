"""Emerging hot spots: how each H3 cell's hot spot status has changed over a run of periods.

This follows the approach of ArcGIS Pro's Emerging Hot Spot Analysis, adapted to H3 cells and
stated here because tools disagree on the details:

1. **Periods.** Incidents are counted per cell in consecutive periods of equal length
   (:func:`period_edges`; six weeks by default, as in the six-weekly report), or in calendar
   months (:func:`month_periods`) for data that give only the month (police.uk).
2. **Hot spots per period.** Each period's counts (or harm) go through Getis-Ord Gi*
   (:func:`geo.gistar.gi_star`, ring-1 neighbours, self included) over one fixed study area: every
   cell with at least one incident in any period, plus their ring-1 neighbours at zero, so a cell
   with nothing in a period enters that period as 0 rather than dropping out. A cell is *hot* in
   a period if its z is positive and its p-value passes ``alpha`` (after the Benjamini-Hochberg
   false discovery rate correction when ``fdr=True``) **and** it had at least ``min_count``
   incidents itself in that period (:data:`MIN_HOT_COUNT` by default): Gi* counts the
   neighbours too, so without this a quiet cell beside a busy one (2, 3, 2, 3, 1, 1, 2, 0, 0, 1
   incidents) would be called a persistent hot spot. *Cold* is Gi* alone, with z negative.
3. **Trend.** A Mann-Kendall test (:func:`mann_kendall`) on each cell's series of Gi* z-scores,
   as ArcGIS does for "the intensity of clustering". Why the z-scores rather than the counts:
   the z-score measures how much a place stands out from the whole area in that period, so a
   force-wide rise in recording (a new crime-recording rule, a busy summer) does not make every
   hot spot "intensifying". The price is that z-scores are relative: a spot whose counts are flat
   can drift down when another spot grows. ``trend_on="count"`` tests the counts instead.
4. **Categories.** :data:`RULES`, checked in that order; the first that applies wins.

Cold-spot categories (ArcGIS's mirror images) are not produced: for violence reduction the
question is where harm is concentrating, and a place that is quiet needs no category.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from geo.gistar import gi_star_series

__all__ = [
    "CATEGORIES",
    "MIN_HOT_COUNT",
    "RULES",
    "MannKendall",
    "emerging_hotspots",
    "hot_rule",
    "mann_kendall",
    "month_periods",
    "period_edges",
    "period_label",
]

_EPOCH = date(1970, 1, 1)

#: Share of periods a cell must be hot in to count as a long-standing hot spot (ArcGIS: 90%).
MAJORITY_SHARE = 0.9

#: Incidents a cell needs itself in a period to be hot in it (Gi* alone counts neighbours).
MIN_HOT_COUNT = 3


def hot_rule(min_count: int = MIN_HOT_COUNT, alpha: float = 0.05) -> str:
    """Say in words when a cell is hot in a period (printed above :data:`RULES`).

    Examples
    --------
    >>> hot_rule(3)[:60]
    'A cell is a hot spot in a period when Getis-Ord Gi* marks it'
    """
    return (f"A cell is a hot spot in a period when Getis-Ord Gi* marks it a significant hot "
            f"spot ({100 * (1 - alpha):g}% confidence, false discovery rate controlled; "
            f"ring-1 neighbours count with the cell) and it had at least {min_count} "
            f"incident{'s' if min_count != 1 else ''} itself in that period, so a quiet cell "
            "beside a busy one is not called a hot spot.")

#: (category, plain-English rule) in the order they are checked: the first rule that fits wins.
RULES: list[tuple[str, str]] = [
    (
        "intensifying",
        "A hot spot in at least 90% of the periods, including the latest, and the intensity of "
        "the hot spot (its Gi* z-score) has risen significantly over the periods "
        "(Mann-Kendall trend test).",
    ),
    (
        "persistent",
        "A hot spot in at least 90% of the periods, including the latest, with no significant "
        "rise or fall in intensity.",
    ),
    (
        "diminishing",
        "A hot spot in at least 90% of the periods, including the latest, but its intensity has "
        "fallen significantly over the periods.",
    ),
    (
        "new",
        "A hot spot in the latest period and never before.",
    ),
    (
        "consecutive",
        "A hot spot in an unbroken run of two or more periods ending with the latest, never hot "
        "before that run, and hot in fewer than 90% of the periods.",
    ),
    (
        "oscillating",
        "A hot spot in the latest period that was a significant cold spot in some earlier "
        "period, and hot in fewer than 90% of the periods.",
    ),
    (
        "sporadic",
        "A hot spot in the latest period that has been on and off before (hot in some earlier "
        "periods but not in an unbroken run), never a cold spot, and hot in fewer than 90% of "
        "the periods.",
    ),
    (
        "historical",
        "Not a hot spot in the latest period, but a hot spot in at least 90% of the periods.",
    ),
    (
        "no pattern",
        "None of the above: never hot, or hot now and then but not in the latest period.",
    ),
]

#: Category names in rule order.
CATEGORIES: tuple[str, ...] = tuple(name for name, _ in RULES)


class MannKendall(NamedTuple):
    """Result of :func:`mann_kendall`."""

    S: int
    z: float
    p: float
    tau: float


#: Elements of the rows x n x n tie comparison held at once (bounds memory to tens of MB).
_TIE_BLOCK = 4_000_000


def _mk_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return Mann-Kendall S, z, two-sided p and tau-b for each row of ``x`` (rows x times).

    The time index has no ties, so tau-b = S / sqrt(n0 * (n0 - n2)) with n0 = n(n-1)/2 and
    n2 = sum over tied groups of t(t-1)/2; the variance of S is corrected for tied values:
    Var(S) = (n(n-1)(2n+5) - sum t(t-1)(2t+5)) / 18.
    """
    rows, n = x.shape
    s = np.zeros(rows, dtype="int64")
    for i in range(n - 1):
        s += np.sign(x[:, i + 1 :] - x[:, i : i + 1]).sum(axis=1).astype("int64")
    # each value's tie-group size t; summing a per-value share over the row gives per-group sums.
    # The comparison is rows x n x n, so it runs in blocks of rows to bound memory.
    tie_var = np.zeros(rows)
    tie_pairs = np.zeros(rows)
    step = max(1, _TIE_BLOCK // max(1, n * n))
    for lo in range(0, rows, step):
        block = x[lo:lo + step]
        t = (block[:, :, None] == block[:, None, :]).sum(axis=2).astype("float64")
        tie_var[lo:lo + step] = ((t - 1.0) * (2.0 * t + 5.0)).sum(axis=1)
        tie_pairs[lo:lo + step] = ((t - 1.0) / 2.0).sum(axis=1)
    var = (n * (n - 1) * (2 * n + 5) - tie_var) / 18.0
    z = np.zeros(rows)
    ok = var > 0
    # continuity correction: S moves in steps of 2 except at ties, so shift it 1 towards 0
    z[ok] = (s[ok] - np.sign(s[ok])) / np.sqrt(var[ok])
    p = 2.0 * stats.norm.sf(np.abs(z))
    n0 = n * (n - 1) / 2.0
    denom = np.sqrt(n0 * (n0 - tie_pairs))
    with np.errstate(divide="ignore", invalid="ignore"):
        tau = np.where(denom > 0, s / denom, np.nan)
    return s, z, p, tau


def mann_kendall(series: np.ndarray) -> MannKendall:
    """Return the Mann-Kendall trend test of a series taken at equally spaced times.

    ``S = sum_{i<j} sign(x_j - x_i)``; its variance under "no trend" is
    ``(n(n-1)(2n+5) - sum_t t(t-1)(2t+5)) / 18``, the sum running over groups of ``t`` tied
    values; ``z = (S - sign(S)) / sqrt(Var S)`` (continuity correction; 0 when S is 0) and ``p``
    is two-sided from the normal approximation. ``tau`` is Kendall's tau-b between time and
    the series (equal to ``scipy.stats.kendalltau(range(n), series)``), NaN for a constant
    series.

    With fewer than five values no trend can reach p < 0.05. A series shorter than two values,
    or one with every value tied, has ``S = 0``, ``z = 0`` and ``p = 1``.

    Parameters
    ----------
    series : numpy.ndarray
        One value per period, oldest first; no NaN.

    Returns
    -------
    MannKendall
        ``(S, z, p, tau)``.

    Raises
    ------
    ValueError
        If the series is not one-dimensional or holds NaN.

    Examples
    --------
    >>> r = mann_kendall(np.array([1, 3, 2, 5, 7, 6, 9, 12, 11, 14]))
    >>> r.S, round(r.z, 2), round(r.p, 4), round(r.tau, 3)
    (39, 3.4, 0.0007, 0.867)
    """
    x = np.asarray(series, dtype="float64")
    if x.ndim != 1:
        raise ValueError("series must be one-dimensional: one value per period")
    if np.isnan(x).any():
        raise ValueError("series holds NaN; fill periods without data with 0")
    if len(x) < 2:
        return MannKendall(0, 0.0, 1.0, float("nan"))
    s, z, p, tau = _mk_rows(x[None, :])
    return MannKendall(int(s[0]), float(z[0]), float(p[0]), float(tau[0]))


def _day_number(day: int | date | np.integer) -> int:
    if isinstance(day, date):
        return (day - _EPOCH).days
    return int(day)


def period_edges(
    first_day: int | date, last_day: int | date, period_days: int = 42
) -> list[tuple[int, int]]:
    """Return consecutive periods of ``period_days`` days, the last one ending on ``last_day``.

    Days are day numbers (days since 1970-01-01, as the query layer's ``IncidentFrame.day``) or
    dates. Periods are aligned to the end of the data, as ArcGIS aligns time steps by default,
    so the latest period is complete and the most recent incidents are in it; any days at the
    start that do not fill a whole period are left out.

    Parameters
    ----------
    first_day, last_day : int or datetime.date
        First and last day of the data, both included.
    period_days : int
        Length of each period in days; 42 (six weeks) by default.

    Returns
    -------
    list of (int, int)
        ``(start, end)`` day numbers of each period, both included, oldest first.

    Raises
    ------
    ValueError
        If ``period_days`` is not positive or the span is shorter than one period.

    Examples
    --------
    >>> period_edges(date(2024, 1, 1), date(2024, 3, 31), period_days=42)
    [(19730, 19771), (19772, 19813)]
    >>> len(period_edges(0, 419))
    10
    """
    first, last = _day_number(first_day), _day_number(last_day)
    if period_days < 1:
        raise ValueError(f"period_days must be at least 1, got {period_days}")
    count = (last - first + 1) // period_days
    if count < 1:
        raise ValueError(
            f"the data cover {max(last - first + 1, 0)} day(s), shorter than one period of "
            f"{period_days} days"
        )
    return [
        (last - (count - k) * period_days + 1, last - (count - 1 - k) * period_days)
        for k in range(count)
    ]


def month_periods(first_day: int | date, last_day: int | date,
                  count: int | None = None) -> list[tuple[int, int]]:
    """Return whole calendar months inside ``first_day..last_day``, the latest ``count`` of them.

    For month-only data (police.uk). A month the range only partly covers is left out, so
    every period is a whole month.

    Parameters
    ----------
    first_day, last_day : int or datetime.date
        First and last day of the data, both included.
    count : int, optional
        Keep only the latest ``count`` months.

    Returns
    -------
    list of (int, int)
        ``(first, last)`` day numbers of each month, oldest first.

    Raises
    ------
    ValueError
        If the range holds no whole month.

    Examples
    --------
    >>> [(period_label(a, b)) for a, b in month_periods(date(2024, 1, 15), date(2024, 4, 30))]
    ['Feb 2024', 'Mar 2024', 'Apr 2024']
    """
    first, last = _day_number(first_day), _day_number(last_day)
    d0 = _EPOCH + timedelta(days=first)
    m = d0.year * 12 + d0.month - 1 + (0 if d0.day == 1 else 1)
    out = []
    while True:
        start = date(m // 12, m % 12 + 1, 1)
        end = date((m + 1) // 12, (m + 1) % 12 + 1, 1) - timedelta(days=1)
        if _day_number(end) > last:
            break
        out.append((_day_number(start), _day_number(end)))
        m += 1
    if not out:
        raise ValueError("the data do not cover one whole calendar month")
    return out[-count:] if count else out


def period_label(first_day: int | date, last_day: int | date) -> str:
    """Name a period by its dates: "Mar 2024" for a whole month, else "6 Jan – 16 Feb 2025".

    Examples
    --------
    >>> period_label(date(2024, 3, 1), date(2024, 3, 31))
    'Mar 2024'
    >>> period_label(date(2024, 12, 30), date(2025, 2, 9))
    '30 Dec 2024 – 9 Feb 2025'
    >>> period_label(date(2025, 1, 6), date(2025, 2, 16))
    '6 Jan – 16 Feb 2025'
    """
    a = _EPOCH + timedelta(days=_day_number(first_day))
    b = _EPOCH + timedelta(days=_day_number(last_day))
    if a.day == 1 and (b + timedelta(days=1)).day == 1 and (a.year, a.month) == (b.year,
                                                                                 b.month):
        return f"{a:%b %Y}"
    left = f"{a.day} {a:%b}" if a.year == b.year else f"{a.day} {a:%b %Y}"
    return f"{left} – {b.day} {b:%b %Y}"


def _check_periods(periods: list[tuple[int, int]]) -> np.ndarray:
    edges = np.array([(_day_number(a), _day_number(b)) for a, b in periods], dtype="int64")
    if edges.ndim != 2 or len(edges) < 2:
        raise ValueError(
            "give at least two periods (ArcGIS asks for ten; with fewer than five no trend "
            "can be significant)"
        )
    if (edges[:, 1] < edges[:, 0]).any():
        raise ValueError("a period ends before it starts")
    if (edges[1:, 0] <= edges[:-1, 1]).any():
        raise ValueError("periods must be in time order and must not overlap")
    return edges


def _categorise(
    hot: np.ndarray, cold: np.ndarray, trend: np.ndarray
) -> np.ndarray:
    """Apply :data:`RULES` to boolean (cells x periods) hot/cold tables and trend labels."""
    n = hot.shape[1]
    hot_count = hot.sum(axis=1)
    last_hot = hot[:, -1]
    # integer comparison, so 9 of 10 periods is exactly 90%
    majority = hot_count * 10 >= round(MAJORITY_SHARE * 10) * n
    # length of the unbroken run of hot periods that ends with the latest one
    final_run = np.cumprod(hot[:, ::-1], axis=1).sum(axis=1)
    cold_before = cold[:, :-1].any(axis=1)
    conditions = [
        last_hot & majority & (trend == "up"),
        last_hot & majority & (trend == "none"),
        last_hot & majority & (trend == "down"),
        last_hot & (hot_count == 1),
        last_hot & (final_run >= 2) & (hot_count == final_run),
        last_hot & cold_before,
        last_hot,
        ~last_hot & majority,
    ]
    # np.select takes the first condition that holds, matching the order of RULES
    return np.select(conditions, list(CATEGORIES[: len(conditions)]), default="no pattern")


def emerging_hotspots(
    cells_per_incident: np.ndarray,
    day: np.ndarray,
    periods: list[tuple[int, int]],
    *,
    weight: np.ndarray | None = None,
    alpha: float = 0.05,
    fdr: bool = True,
    trend_on: Literal["z", "count"] = "z",
    include_empty_neighbours: bool = True,
    min_count: int = MIN_HOT_COUNT,
    incidents: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return the emerging hot spot category of every H3 cell over a run of periods.

    See the module notes for the method and :data:`RULES` for the categories.

    Parameters
    ----------
    cells_per_incident : numpy.ndarray
        uint64 H3 cell of each incident, all of one resolution.
    day : numpy.ndarray
        Day number of each incident (days since 1970-01-01); incidents outside every period
        (including undated ones, day -1) are left out.
    periods : list of (int, int)
        ``(start, end)`` day numbers of each period, both included, oldest first, not
        overlapping (e.g. from :func:`period_edges`). At least two.
    weight : numpy.ndarray, optional
        Harm weight of each incident; Gi* then runs on harm totals (the trend too, with
        ``trend_on="count"``) and ``harm_series`` is added.
    alpha : float
        Significance level for a hot or cold spot in a period and for the trend.
    fdr : bool
        Judge each period's hot spots with the Benjamini-Hochberg false discovery rate
        correction (the trend test is per cell and is not corrected, as in ArcGIS).
    trend_on : {"z", "count"}
        Test the trend of the Gi* z-scores (the default, as ArcGIS) or of the counts (harm).
    include_empty_neighbours : bool
        Passed to :func:`geo.gistar.gi_star`: add the ring-1 neighbours of the cells with
        incidents to the study area at zero (they are returned too, ``added`` true).
    min_count : int
        Incidents a cell needs itself in a period to be hot in it (see :func:`hot_rule`);
        1 keeps Gi* alone, bar the empty cells.
    incidents : numpy.ndarray, optional
        How many incidents each entry stands for (entries already counted by cell and day,
        as a national-scale engine sends them); default one each. ``weight`` is then each
        entry's harm in all.

    Returns
    -------
    pandas.DataFrame
        One row per study-area cell, cells with incidents first (in cell order), then the added
        neighbours: ``cell`` (uint64), ``added``, ``n_periods``, ``hot_periods``, ``last_hot``,
        ``trend_z``, ``trend_p``, ``trend_tau``, ``trend`` ("up", "down" or "none"),
        ``category`` (one of :data:`CATEGORIES`), ``series`` (list of counts per period),
        ``z_series`` (list of Gi* z per period), ``bin_series`` (list of Gi* +1 hot, -1 cold,
        0 per period), ``hot_series`` (list of bool: hot in the period, ``min_count`` applied)
        and, with weights, ``harm_series``. ``attrs["periods"]`` holds the periods.

    Raises
    ------
    ValueError
        For mismatched lengths, fewer than two periods, overlapping periods, no incidents in
        any period, or a study area too small for Gi*.

    Examples
    --------
    >>> from h3.api import basic_int as h3b
    >>> centre = h3b.latlng_to_cell(53.759, -2.703, 9)
    >>> field = np.array(h3b.grid_disk(centre, 3), dtype="uint64")
    >>> hot = set(h3b.grid_disk(centre, 1))
    >>> periods = period_edges(0, 99, period_days=10)
    >>> cells, days = [], []
    >>> for k, (start, _) in enumerate(periods):
    ...     for c in field.tolist():
    ...         n = 12 if (c in hot and k == 9) else 1
    ...         cells += [c] * n
    ...         days += [start] * n
    >>> out = emerging_hotspots(np.array(cells, dtype="uint64"), np.array(days), periods)
    >>> out.loc[out["cell"] == centre, "category"].item()
    'new'
    """
    cells = np.asarray(cells_per_incident)
    if cells.dtype.kind not in "ui":
        raise ValueError(
            f"cells_per_incident must be integer H3 indexes (uint64), got dtype {cells.dtype}"
        )
    cells = cells.astype("uint64")
    day = np.asarray(day, dtype="int64")
    if cells.shape != day.shape:
        raise ValueError(f"cells and day differ in length ({len(cells)} and {len(day)})")
    if weight is not None:
        weight = np.asarray(weight, dtype="float64")
        if weight.shape != cells.shape:
            raise ValueError(f"weight and cells differ in length ({len(weight)}, {len(cells)})")
    times = (np.ones(len(cells), dtype=np.int64) if incidents is None
             else np.asarray(incidents, dtype=np.int64))
    if times.shape != cells.shape:
        raise ValueError(f"incidents and cells differ in length ({len(times)}, {len(cells)})")
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must lie between 0 and 1, got {alpha}")
    if trend_on not in ("z", "count"):
        raise ValueError(f"trend_on must be 'z' or 'count', got {trend_on!r}")
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, got {min_count}")
    edges = _check_periods(periods)
    n_periods = len(edges)

    k = np.searchsorted(edges[:, 0], day, side="right") - 1
    inside = (k >= 0) & (day <= edges[np.clip(k, 0, None), 1])
    if not inside.any():
        raise ValueError("no incident falls in any of the periods")
    study_cells, cell_idx = np.unique(cells[inside], return_inverse=True)
    flat = cell_idx * n_periods + k[inside]
    size = len(study_cells) * n_periods
    counts = np.bincount(flat, weights=times[inside], minlength=size).astype(np.int64).reshape(
        -1, n_periods)
    harm = None
    if weight is not None:
        harm = np.bincount(flat, weights=weight[inside], minlength=size).reshape(-1, n_periods)
    values = harm if harm is not None else counts.astype("float64")

    # one study area and one weights matrix for every period (gi_star_series agrees with
    # gi_star per period to 1e-9; building the weights once is what makes this fast)
    all_cells, z, _p, bins = gi_star_series(
        study_cells, values, include_empty_neighbours=include_empty_neighbours, fdr=fdr,
        alpha_levels=(alpha,))
    bins = bins.astype("int8")
    n_all = len(all_cells)
    pad = np.zeros((n_all - len(study_cells), n_periods))
    counts_all = np.vstack([counts, pad.astype("int64")])
    values_all = np.vstack([values, pad])

    _, trend_z, trend_p, trend_tau = _mk_rows(z if trend_on == "z" else values_all)
    significant = trend_p <= alpha
    trend = np.where(significant & (trend_z > 0), "up",
                     np.where(significant & (trend_z < 0), "down", "none"))
    hot, cold = (bins > 0) & (counts_all >= min_count), bins < 0
    out = pd.DataFrame(
        {
            "cell": all_cells.astype("uint64"),
            "added": np.arange(n_all) >= len(study_cells),
            "n_periods": np.full(n_all, n_periods, dtype="int64"),
            "hot_periods": hot.sum(axis=1).astype("int64"),
            "last_hot": hot[:, -1],
            "trend_z": trend_z,
            "trend_p": trend_p,
            "trend_tau": trend_tau,
            "trend": pd.Series(trend, dtype="string"),
            "category": pd.Series(_categorise(hot, cold, trend), dtype="string"),
            "series": pd.Series(counts_all.tolist(), dtype="object"),
            "z_series": pd.Series(z.tolist(), dtype="object"),
            "bin_series": pd.Series(bins.astype("int64").tolist(), dtype="object"),
        }
    )
    if harm is not None:
        out["harm_series"] = pd.Series(values_all.tolist(), dtype="object")
    out["hot_series"] = pd.Series(hot.tolist(), dtype="object")
    out.attrs["periods"] = [(int(a), int(b)) for a, b in edges]
    out.attrs["trend_on"] = trend_on
    out.attrs["min_count"] = min_count
    return out
