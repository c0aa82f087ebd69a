"""Did an intervention work? Before/after counts with a comparison area and a displacement buffer.

Everything is measured in British National Grid (EPSG:27700, metres): areas are shapely polygons
in BNG and incidents are easting/northing arrays with a day number (days since 1970-01-01, as the
query layer's ``IncidentFrame.day``; undated rows, day -1, fall in no window).

The test is Wheeler & Ratcliffe's **weighted displacement difference** (Wheeler, A. P. and
Ratcliffe, J. H. (2018) "A simple weighted displacement difference test to evaluate place based
crime interventions", *Crime Science* 7:11, https://doi.org/10.1186/s40163-018-0085-5). With
counts before (0) and after (1) in the treated area T, its control area Ct, the displacement area
D (the buffer round T) and the displacement area's control Cd::

    WDD = (T1 - T0) - (Ct1 - Ct0) + (D1 - D0) - (Cd1 - Cd0)
    Var(WDD) = T0 + T1 + Ct0 + Ct1 + D0 + D1 + Cd0 + Cd1     (counts taken as Poisson)

``z = WDD / sqrt(Var)``, two-sided ``p`` from the normal distribution, and the 95% interval
``WDD +/- 1.96 sqrt(Var)``. A negative WDD is a net reduction: the target fell more than the
comparison area would suggest, after adding back whatever rose in the buffer.

Two cases the paper's sum of eight counts does not cover are handled with the same rule it rests
on, that a sum ``sum a_i X_i`` of independent Poisson counts has variance ``sum a_i^2 X_i``:

* **One comparison area for both** (no ``comparison_buffer``): Ct = Cd = C, so C's change is
  subtracted twice, ``WDD = dT - 2 dC + dD``, and C's counts enter the variance four times
  (``4 (C0 + C1)``), not twice as a literal reading of the eight-count sum would have it: the two
  copies of C are the same counts, not independent ones. Give ``comparison_buffer`` (say the ring
  round the comparison area) to get the paper's four separate areas.
* **A baseline of a different length** (a named financial year, or a February with 29 days):
  before-counts are scaled to the intervention's length by ``k = after_days / before_days`` and
  enter the variance as ``k^2 X`` (the per-unit-time WDD Wheeler describes for unequal periods).

With harm weights the WDD is computed on harm totals and each total's variance is approximated
by the sum of its squared weights (exact for a compound Poisson count; an approximation here).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import stats
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.settings import SMALL_NUMBER_THRESHOLD

__all__ = [
    "BASELINE_KINDS",
    "baseline_window",
    "buffer_ring",
    "count_in",
    "evaluate",
    "evaluate_staggered",
    "wdd_counts",
    "weekly_series",
]

_EPOCH = date(1970, 1, 1)
#: z for a two-sided 95% interval.
_Z95 = float(stats.norm.ppf(0.975))
#: Areas may share an edge; overlapping by more than this (m²) is refused.
_OVERLAP_TOLERANCE_M2 = 1.0
#: Baseline kinds accepted by :func:`baseline_window` (``year:YYYY`` names a financial year).
BASELINE_KINDS = ("equal_before", "last_year", "year:YYYY")

Window = tuple[int, int]


def _day(value: int | date | np.integer) -> int:
    if isinstance(value, date):
        return (value - _EPOCH).days
    return int(value)


def _date(day: int) -> date:
    return _EPOCH + timedelta(days=int(day))


def _fmt_date(day: int) -> str:
    d = _date(day)
    return f"{d.day} {d:%B %Y}"


def _check_polygon(geom: BaseGeometry, name: str) -> Polygon | MultiPolygon:
    if not isinstance(geom, Polygon | MultiPolygon):
        raise ValueError(f"{name} must be a shapely Polygon or MultiPolygon, got "
                         f"{type(geom).__name__}")
    if geom.is_empty:
        raise ValueError(f"{name} is empty")
    if not geom.is_valid:
        raise ValueError(f"{name} is not a valid polygon; repair it with shapely.make_valid")
    minx, miny, maxx, maxy = geom.bounds
    if max(abs(minx), abs(maxx)) <= 180 and max(abs(miny), abs(maxy)) <= 90:
        raise ValueError(
            f"{name} looks like longitude/latitude; give it in British National Grid metres "
            "(EPSG:27700), e.g. with geopandas' to_crs(27700)"
        )
    return geom


def buffer_ring(
    target_bng: Polygon | MultiPolygon, width_m: float = 250.0
) -> Polygon | MultiPolygon:
    """Return the ring of ``width_m`` metres round a target area, the target itself excluded.

    This is the displacement (catchment) area of the weighted displacement difference test:
    where crime pushed out of the target would most likely go.

    Parameters
    ----------
    target_bng : shapely Polygon or MultiPolygon
        The target area in British National Grid metres.
    width_m : float
        Width of the ring in metres.

    Returns
    -------
    shapely Polygon or MultiPolygon
        The buffer minus the target.

    Raises
    ------
    ValueError
        For a width that is not positive, or a target that is empty, invalid or in degrees.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> ring = buffer_ring(box(350000, 430000, 350100, 430100), width_m=50)
    >>> ring.contains(box(350000, 430000, 350100, 430100).centroid), round(ring.area, -2)
    (False, 27800.0)
    """
    target = _check_polygon(target_bng, "target")
    if not width_m > 0:
        raise ValueError(f"width_m must be positive, got {width_m}")
    ring = target.buffer(width_m).difference(target)
    assert isinstance(ring, Polygon | MultiPolygon)
    return ring


def _inside(geom: BaseGeometry, easting: np.ndarray, northing: np.ndarray) -> np.ndarray:
    """Boolean mask of the points in ``geom`` (its edge included)."""
    minx, miny, maxx, maxy = geom.bounds
    # the box test is vectorised and cheap; the exact test runs only on points near the area
    near = (easting >= minx) & (easting <= maxx) & (northing >= miny) & (northing <= maxy)
    mask = np.zeros(len(easting), dtype=bool)
    if near.any():
        shapely.prepare(geom)
        mask[near] = shapely.intersects_xy(geom, easting[near], northing[near])
    return mask


def _in_window(day: np.ndarray, window: Window) -> np.ndarray:
    return (day >= window[0]) & (day <= window[1])


def _points(
    easting: np.ndarray, northing: np.ndarray, day: np.ndarray, weight: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    e = np.asarray(easting, dtype="float64")
    n = np.asarray(northing, dtype="float64")
    d = np.asarray(day, dtype="int64")
    if not (e.shape == n.shape == d.shape) or e.ndim != 1:
        raise ValueError(
            f"easting, northing and day must be 1-D and equally long ({e.shape}, {n.shape}, "
            f"{d.shape})"
        )
    w = None
    if weight is not None:
        w = np.asarray(weight, dtype="float64")
        if w.shape != e.shape:
            raise ValueError(f"weight has {len(w)} values for {len(e)} incidents")
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("weights must be finite and not negative")
    return e, n, d, w


def count_in(
    polygon: Polygon | MultiPolygon,
    easting: np.ndarray,
    northing: np.ndarray,
    day: np.ndarray,
    window: Window,
    weight: np.ndarray | None = None,
) -> tuple[int, float]:
    """Return the number of incidents, and their total harm, in an area during a window.

    A point on the area's edge counts as inside.

    Parameters
    ----------
    polygon : shapely Polygon or MultiPolygon
        The area in British National Grid metres.
    easting, northing : numpy.ndarray
        Incident coordinates in metres (EPSG:27700).
    day : numpy.ndarray
        Day number of each incident (days since 1970-01-01).
    window : (int, int)
        First and last day, both included.
    weight : numpy.ndarray, optional
        Harm weight of each incident; without it the harm is the count.

    Returns
    -------
    (int, float)
        The count and the harm total.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> area = box(350000, 430000, 350100, 430100)
    >>> e = np.array([350050.0, 350050.0, 350500.0])
    >>> n = np.array([430050.0, 430050.0, 430050.0])
    >>> count_in(area, e, n, np.array([10, 20, 10]), (5, 15), weight=np.array([3.0, 1.0, 1.0]))
    (1, 3.0)
    """
    geom = _check_polygon(polygon, "polygon")
    e, n, d, w = _points(easting, northing, day, weight)
    lo, hi = _day(window[0]), _day(window[1])
    mask = _in_window(d, (lo, hi))
    mask[mask] = _inside(geom, e[mask], n[mask])
    count = int(mask.sum())
    harm = float(w[mask].sum()) if w is not None else float(count)
    return count, harm


def _year_earlier(d: date) -> date:
    try:
        return d.replace(year=d.year - 1)
    except ValueError:  # 29 February: the year before has none, so take the 28th
        return date(d.year - 1, 2, 28)


def _financial_year(kind: str) -> int:
    match = re.fullmatch(r"year:(\d{4})(?:[/-](\d{2}|\d{4}))?", kind.strip())
    if not match:
        raise ValueError(
            f"baseline {kind!r} is not known; use 'equal_before', 'last_year' or 'year:YYYY' "
            "(the financial year from 1 April YYYY, e.g. 'year:2023' or 'year:2023/24')"
        )
    year = int(match.group(1))
    if match.group(2) is not None and int(match.group(2)) % 100 != (year + 1) % 100:
        raise ValueError(f"{kind!r}: a financial year runs from April of one year to March "
                         f"of the next, e.g. year:{year}/{(year + 1) % 100:02d}")
    return year


def baseline_window(
    start_day: int | date, end_day: int | date, kind: str = "equal_before"
) -> Window:
    """Return the before-period (baseline) that an intervention period is compared with.

    ``equal_before``
        The same number of days immediately before the start.
    ``last_year``
        The same calendar dates a year earlier; 29 February maps to 28 February (so the
        baseline can be a day shorter: :func:`evaluate` scales for that). Weekdays differ by
        one or two days from the intervention's.
    ``year:YYYY``
        The financial year from 1 April YYYY to 31 March YYYY+1 (``year:2023/24`` is also
        accepted). It is usually longer than the intervention, so :func:`evaluate` scales its
        counts to the intervention period's length.

    Parameters
    ----------
    start_day, end_day : int or datetime.date
        First and last day of the intervention, both included (day numbers or dates).
    kind : str
        ``"equal_before"``, ``"last_year"`` or ``"year:YYYY"``.

    Returns
    -------
    (int, int)
        First and last day number of the baseline, both included.

    Raises
    ------
    ValueError
        For an unknown kind, an end before the start, or a baseline that does not end before
        the intervention starts.

    Examples
    --------
    >>> b = baseline_window(date(2024, 3, 1), date(2024, 3, 31), "equal_before")
    >>> _date(b[0]), _date(b[1])
    (datetime.date(2024, 1, 30), datetime.date(2024, 2, 29))
    >>> b = baseline_window(date(2024, 2, 29), date(2024, 3, 28), "last_year")
    >>> _date(b[0]), _date(b[1])
    (datetime.date(2023, 2, 28), datetime.date(2023, 3, 28))
    >>> b = baseline_window(date(2024, 6, 1), date(2024, 8, 31), "year:2023")
    >>> _date(b[0]), _date(b[1])
    (datetime.date(2023, 4, 1), datetime.date(2024, 3, 31))
    """
    start, end = _day(start_day), _day(end_day)
    if end < start:
        raise ValueError(f"the intervention ends ({_fmt_date(end)}) before it starts "
                         f"({_fmt_date(start)})")
    if kind == "equal_before":
        length = end - start + 1
        return start - length, start - 1
    if kind == "last_year":
        lo, hi = _day(_year_earlier(_date(start))), _day(_year_earlier(_date(end)))
        if hi >= start:
            raise ValueError("the intervention is longer than a year, so the same dates a "
                             "year earlier overlap it; use 'equal_before'")
        return lo, hi
    year = _financial_year(kind)
    lo, hi = _day(date(year, 4, 1)), _day(date(year + 1, 3, 31))
    if hi >= start:
        raise ValueError(
            f"financial year {year}/{(year + 1) % 100:02d} does not end before the "
            f"intervention starts ({_fmt_date(start)}); choose an earlier year"
        )
    return lo, hi


def _describe_baseline(kind: str, before: Window, after_days: int) -> str:
    span = f"{_fmt_date(before[0])} to {_fmt_date(before[1])}"
    before_days = before[1] - before[0] + 1
    if kind == "equal_before":
        return f"Before: the {before_days} days immediately before the start ({span})."
    if kind == "last_year":
        return f"Before: the same dates a year earlier ({span})."
    year = _financial_year(kind)
    return (
        f"Before: financial year {year}/{(year + 1) % 100:02d} ({span}, {before_days} days), "
        f"its counts scaled by {after_days}/{before_days} to the intervention's {after_days} "
        "days."
    )


def _pct(before_scaled: float, after: float) -> float:
    if before_scaled <= 0:
        return float("nan")
    return 100.0 * (after - before_scaled) / before_scaled


# One WDD component: (area role, "before" or "after") -> value and variance.
_Key = tuple[str, str]


def _wdd_stats(
    value: Mapping[_Key, float],
    variance: Mapping[_Key, float],
    shared: bool,
    scale: float,
) -> dict[str, float]:
    """WDD, local and displacement parts and their variances from the eight (or six) terms.

    Coefficients are gathered per distinct (area, window) term before squaring, so an area
    used twice (one comparison for both target and buffer) gets coefficient -2 and variance
    weight 4.
    """
    cd = "comparison" if shared else "comparison_buffer"
    parts = {
        "local": {("target", "after"): 1.0, ("target", "before"): -scale,
                  ("comparison", "after"): -1.0, ("comparison", "before"): scale},
        "displacement": {("buffer", "after"): 1.0, ("buffer", "before"): -scale,
                         (cd, "after"): -1.0, (cd, "before"): scale},
    }
    out: dict[str, float] = {}
    total: dict[_Key, float] = {}
    for name, coefs in parts.items():
        out[name] = sum(a * value[k] for k, a in coefs.items())
        out[f"{name}_variance"] = sum(a * a * variance[k] for k, a in coefs.items())
        for k, a in coefs.items():
            total[k] = total.get(k, 0.0) + a
    out["wdd"] = sum(a * value[k] for k, a in total.items())
    out["variance"] = sum(a * a * variance[k] for k, a in total.items())
    return out


def _inference(wdd: float, variance: float) -> dict[str, float]:
    se = math.sqrt(variance)
    z = wdd / se if se > 0 else 0.0
    return {
        "wdd": wdd,
        "variance": variance,
        "se": se,
        "z": z,
        "p": float(2.0 * stats.norm.sf(abs(z))),
        "ci_low": wdd - _Z95 * se,
        "ci_high": wdd + _Z95 * se,
    }


def _num(x: float) -> str:
    # whole numbers read best for incident counts; keep a decimal where the value is small
    return f"{x:.0f}" if abs(x) >= 10 or x == round(x) else f"{x:.1f}"


def _interpret(res: Mapping[str, float], unit: str) -> str:
    wdd, lo, hi = res["wdd"], res["ci_low"], res["ci_high"]
    ci = f"(95% CI {_num(lo)} to {_num(hi)})"
    if res["se"] > 0 and res["p"] < 0.05:
        verdict = "statistically significant at the 5% level"
    else:
        verdict = "not statistically distinguishable from no change"
    if round(wdd, 1) == 0:
        head = f"No net change {ci}"
    else:
        word = "reduction" if wdd < 0 else "increase"
        head = f"A net {word} of about {_num(abs(wdd))} {unit} {ci}"
    text = f"{head}; {verdict}."
    disp, disp_se = res.get("displacement"), res.get("displacement_se")
    if disp is not None and disp_se and abs(disp) > _Z95 * disp_se:
        if disp > 0:
            text += (f" The buffer rose by about {_num(disp)} {unit} more than the comparison "
                     "area, which suggests some displacement.")
        else:
            text += (f" The buffer fell by about {_num(-disp)} {unit} more than the comparison "
                     "area, which suggests a diffusion of benefits.")
    return text


def _small_message(low: list[str], threshold: int) -> str:
    return (f"Too few incidents to say whether anything changed: fewer than {threshold} in "
            f"the {', '.join(low)}.")


def _disjoint(areas: Mapping[str, BaseGeometry]) -> None:
    names = list(areas)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            overlap = areas[a].intersection(areas[b]).area
            if overlap > _OVERLAP_TOLERANCE_M2:
                raise ValueError(
                    f"the {a.replace('_', ' ')} and the {b.replace('_', ' ')} overlap by "
                    f"{overlap:,.0f} m²; the test needs separate areas (they may share an edge)"
                )


def wdd_counts(
    t0: float, t1: float, ct0: float, ct1: float,
    d0: float = 0.0, d1: float = 0.0,
    cd0: float | None = None, cd1: float | None = None,
) -> dict[str, float]:
    """Return the weighted displacement difference test from the counts alone.

    The spreadsheet form of Wheeler & Ratcliffe (2018): counts before (0) and after (1) in
    the treated area T, its control Ct, the displacement area D and its control Cd. Leave
    ``cd0``/``cd1`` out to use Ct as the displacement area's control too (its change then counts
    twice and its counts enter the variance four times; see the module notes). Give zeros for
    D (and Cd) to leave displacement out.

    Returns
    -------
    dict
        ``wdd``, ``variance``, ``se``, ``z``, ``p`` (two-sided), ``ci_low``, ``ci_high`` (95%),
        ``local`` (dT - dCt), ``displacement`` (dD - dCd) and their ``*_se``.

    Examples
    --------
    >>> r = wdd_counts(50, 30, 100, 90, 40, 42, 60, 45)
    >>> r["wdd"], r["variance"], round(r["z"], 3)
    (7.0, 457.0, 0.327)
    """
    shared = cd0 is None or cd1 is None
    if shared and not (cd0 is None and cd1 is None):
        raise ValueError("give both cd0 and cd1, or neither")
    given = {("target", "before"): t0, ("target", "after"): t1,
             ("comparison", "before"): ct0, ("comparison", "after"): ct1,
             ("buffer", "before"): d0, ("buffer", "after"): d1}
    if cd0 is not None and cd1 is not None:
        given |= {("comparison_buffer", "before"): cd0, ("comparison_buffer", "after"): cd1}
    value = {k: float(v) for k, v in given.items()}
    if any(v < 0 for v in value.values()):
        raise ValueError("counts cannot be negative")
    parts = _wdd_stats(value, value, shared, 1.0)
    res = _inference(parts["wdd"], parts["variance"])
    res["local"] = parts["local"]
    res["local_se"] = math.sqrt(parts["local_variance"])
    res["displacement"] = parts["displacement"]
    res["displacement_se"] = math.sqrt(parts["displacement_variance"])
    return res


def evaluate(
    target: Polygon | MultiPolygon,
    comparison: Polygon | MultiPolygon,
    buffer: Polygon | MultiPolygon | None,
    easting: np.ndarray,
    northing: np.ndarray,
    day: np.ndarray,
    *,
    start_day: int | date,
    end_day: int | date,
    baseline: str = "equal_before",
    weight: np.ndarray | None = None,
    comparison_buffer: Polygon | MultiPolygon | None = None,
    buffer_m: float = 250.0,
    small_number_threshold: int = SMALL_NUMBER_THRESHOLD,
) -> dict[str, Any]:
    """Return a before/after evaluation of an intervention with the weighted displacement test.

    The after window is the intervention itself (``start_day`` to ``end_day``); the before
    window comes from :func:`baseline_window`. See the module notes for the formula.

    Parameters
    ----------
    target : shapely Polygon or MultiPolygon
        Where the intervention ran (A), in British National Grid metres.
    comparison : shapely Polygon or MultiPolygon
        A similar area without the intervention (C), not overlapping the target or buffer.
    buffer : shapely Polygon or MultiPolygon or None
        The displacement area round the target (B); None for :func:`buffer_ring` of
        ``buffer_m`` metres.
    easting, northing : numpy.ndarray
        Incident coordinates in metres (EPSG:27700).
    day : numpy.ndarray
        Day number of each incident (days since 1970-01-01).
    start_day, end_day : int or datetime.date
        First and last day of the intervention, both included.
    baseline : str
        ``"equal_before"``, ``"last_year"`` or ``"year:YYYY"`` (see :func:`baseline_window`).
    weight : numpy.ndarray, optional
        Harm weight of each incident: the test then runs on harm totals.
    comparison_buffer : shapely Polygon or MultiPolygon, optional
        A separate control for the buffer (Cd), e.g. the ring round the comparison area. Without
        it the comparison area is the control for both (see the module notes).
    buffer_m : float
        Width of the default buffer ring in metres.
    small_number_threshold : int
        Below this many incidents in the target or buffer, before or after, the result is
        flagged as too small to judge.

    Returns
    -------
    dict
        ``measure`` ("count" or "harm"), ``baseline``, ``before_window``, ``after_window``,
        ``before_days``, ``after_days``, ``before_scale`` (after_days / before_days),
        ``shared_comparison``, ``counts`` and ``harm`` (``{area: {"before", "after"}}`` for
        target, comparison, buffer and, if given, comparison_buffer; ``harm`` is None without
        weights), ``pct_change`` (``{area: percent}`` from the counts, before scaled; NaN when
        the before count is 0), ``wdd``, ``variance``, ``se``, ``z``, ``p``, ``ci_low``,
        ``ci_high``, ``significant``, ``local`` and ``displacement`` (with ``*_se``),
        ``small_numbers``, ``small_numbers_message``, ``interpretation`` and ``notes``.

    Raises
    ------
    ValueError
        For invalid, overlapping or degree-based areas, a bad baseline, or mismatched arrays.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> target = box(350000, 430000, 350100, 430100)
    >>> comparison = box(355000, 430000, 355100, 430100)
    >>> e = np.r_[np.full(30, 350050.0), np.full(12, 350050.0), np.full(40, 355050.0)]
    >>> n = np.full(82, 430050.0)
    >>> d = np.r_[np.full(30, 5), np.full(12, 15), np.r_[np.full(20, 5), np.full(20, 15)]]
    >>> r = evaluate(target, comparison, None, e, n, d, start_day=10, end_day=19)
    >>> r["counts"]["target"], r["wdd"]
    ({'before': 30, 'after': 12}, -18.0)
    """
    target = _check_polygon(target, "target")
    comparison = _check_polygon(comparison, "comparison")
    ring = buffer_ring(target, buffer_m) if buffer is None else _check_polygon(buffer, "buffer")
    areas: dict[str, BaseGeometry] = {"target": target, "buffer": ring,
                                      "comparison": comparison}
    if comparison_buffer is not None:
        areas["comparison_buffer"] = _check_polygon(comparison_buffer, "comparison buffer")
    _disjoint(areas)
    e, n, d, w = _points(easting, northing, day, weight)

    start, end = _day(start_day), _day(end_day)
    before = baseline_window(start, end, baseline)
    after = (start, end)
    before_days, after_days = before[1] - before[0] + 1, end - start + 1
    scale = after_days / before_days
    windows = {"before": before, "after": after}

    in_any = _in_window(d, before) | _in_window(d, after)
    taken = ~in_any
    value: dict[_Key, float] = {}
    variance: dict[_Key, float] = {}
    counts: dict[str, dict[str, int]] = {}
    harms: dict[str, dict[str, float]] = {}
    # areas in priority order, each point counted once: an edge shared by target and ring
    # belongs to the target
    for role, geom in areas.items():
        mask = ~taken
        mask[mask] = _inside(geom, e[mask], n[mask])
        taken |= mask
        counts[role], harms[role] = {}, {}
        for phase, window in windows.items():
            sel = mask & _in_window(d, window)
            c = int(sel.sum())
            counts[role][phase] = c
            if w is None:
                value[(role, phase)] = variance[(role, phase)] = float(c)
            else:
                harms[role][phase] = float(w[sel].sum())
                value[(role, phase)] = harms[role][phase]
                variance[(role, phase)] = float((w[sel] ** 2).sum())

    shared = comparison_buffer is None
    parts = _wdd_stats(value, variance, shared, scale)
    res = _inference(parts["wdd"], parts["variance"])
    res["local"] = parts["local"]
    res["local_se"] = math.sqrt(parts["local_variance"])
    res["displacement"] = parts["displacement"]
    res["displacement_se"] = math.sqrt(parts["displacement_variance"])

    notes = [_describe_baseline(baseline, before, after_days)]
    if scale != 1.0 and not baseline.startswith("year:"):
        notes.append(
            f"The before period has {before_days} days and the intervention {after_days}, so "
            f"before counts are scaled by {after_days}/{before_days}."
        )
    pct: dict[str, float] = {}
    for role in areas:
        pct[role] = _pct(scale * counts[role]["before"], counts[role]["after"])
        if counts[role]["before"] == 0:
            notes.append(f"No incidents in the {role.replace('_', ' ')} before, so its "
                         "percentage change cannot be given.")
    if shared:
        notes.append("The comparison area is the control for both the target and the buffer, "
                      "so its change counts twice in the WDD (and four times in its variance).")
    if w is not None:
        notes.append("Harm-weighted: the WDD is in harm units and its variance is approximated "
                      "by the sum of squared weights in each area and period.")

    low = [f"{role} {phase} ({counts[role][phase]})"
           for role in ("target", "buffer") for phase in ("before", "after")
           if counts[role][phase] < small_number_threshold]
    small = bool(low)
    message = _small_message(low, small_number_threshold) if small else None
    unit = "incidents" if w is None else "harm units"
    interpretation = _interpret(res, unit)
    if message:
        interpretation = f"{message} For what it is worth: {interpretation}"
    return {
        "measure": "count" if w is None else "harm",
        "baseline": baseline,
        "before_window": before,
        "after_window": after,
        "before_days": before_days,
        "after_days": after_days,
        "before_scale": scale,
        "shared_comparison": shared,
        "counts": counts,
        "harm": harms if w is not None else None,
        "pct_change": pct,
        **res,
        "significant": bool(res["se"] > 0 and res["p"] < 0.05),
        "small_numbers": small,
        "small_numbers_message": message,
        "interpretation": interpretation,
        "notes": notes,
    }


def weekly_series(
    polygons: Mapping[str, Polygon | MultiPolygon],
    easting: np.ndarray,
    northing: np.ndarray,
    day: np.ndarray,
    first_day: int | date,
    last_day: int | date,
    *,
    weight: np.ndarray | None = None,
) -> pd.DataFrame:
    """Return weekly incident counts in each area, for a chart with the intervention shaded.

    Weeks run Monday to Sunday; the first and last may be cut by ``first_day`` and
    ``last_day`` (``days`` says how many of their days are in range, so a chart can mark them).
    Every area has a row for every week, zeros included. Areas are counted independently.

    Parameters
    ----------
    polygons : mapping of str to shapely Polygon or MultiPolygon
        Area name to area in British National Grid metres.
    easting, northing : numpy.ndarray
        Incident coordinates in metres (EPSG:27700).
    day : numpy.ndarray
        Day number of each incident (days since 1970-01-01).
    first_day, last_day : int or datetime.date
        The range to chart, both included.
    weight : numpy.ndarray, optional
        Harm weight of each incident; adds a ``harm`` column.

    Returns
    -------
    pandas.DataFrame
        ``week_start`` (datetime, a Monday), ``area``, ``count``, ``days`` and, with weights,
        ``harm``; areas in the given order, weeks in time order.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> area = box(350000, 430000, 350100, 430100)
    >>> monday = (date(2024, 1, 1) - _EPOCH).days
    >>> out = weekly_series({"A": area}, np.array([350050.0] * 3), np.array([430050.0] * 3),
    ...                     np.array([monday, monday + 6, monday + 7]), monday, monday + 13)
    >>> out["count"].tolist(), str(out["week_start"].iloc[1].date())
    ([2, 1], '2024-01-08')
    """
    first, last = _day(first_day), _day(last_day)
    if last < first:
        raise ValueError("last_day is before first_day")
    e, n, d, w = _points(easting, northing, day, weight)
    # 1970-01-01 was a Thursday, so (day + 3) % 7 is 0 on Mondays
    week0 = first - (first + 3) % 7
    n_weeks = (last - week0) // 7 + 1
    starts = week0 + 7 * np.arange(n_weeks)
    days_in = np.minimum(starts + 6, last) - np.maximum(starts, first) + 1
    in_range = _in_window(d, (first, last))
    frames = []
    for name, geom in polygons.items():
        geom = _check_polygon(geom, f"area {name!r}")
        mask = in_range.copy()
        mask[mask] = _inside(geom, e[mask], n[mask])
        week = (d[mask] - week0) // 7
        frame = pd.DataFrame(
            {
                "week_start": (np.datetime64("1970-01-01", "D") + starts).astype(
                    "datetime64[ns]"),
                "area": pd.Series([name] * n_weeks, dtype="string"),
                "count": np.bincount(week, minlength=n_weeks).astype("int64"),
                "days": days_in.astype("int64"),
            }
        )
        if w is not None:
            frame["harm"] = np.bincount(week, weights=w[mask], minlength=n_weeks)
        frames.append(frame)
    if not frames:
        cols = ["week_start", "area", "count", "days"] + (["harm"] if w is not None else [])
        return pd.DataFrame(columns=cols)
    return pd.concat(frames, ignore_index=True)


_ROW_COLUMNS = [
    "name", "start_day", "end_day", "before_start", "before_end", "measure",
    "target_before", "target_after", "comparison_before", "comparison_after",
    "buffer_before", "buffer_after", "local", "displacement", "wdd", "variance", "se", "z",
    "p", "ci_low", "ci_high", "significant", "small_numbers", "interpretation",
]


def evaluate_staggered(
    targets: Sequence[tuple[str, Polygon | MultiPolygon, int | date, int | date]],
    comparison: Polygon | MultiPolygon,
    easting: np.ndarray,
    northing: np.ndarray,
    day: np.ndarray,
    *,
    baseline: str = "equal_before",
    weight: np.ndarray | None = None,
    comparison_buffer: Polygon | MultiPolygon | None = None,
    buffer_m: float = 250.0,
    small_number_threshold: int = SMALL_NUMBER_THRESHOLD,
    pooled_name: str = "All targets (pooled)",
) -> pd.DataFrame:
    """Return one WDD evaluation per target of a staggered roll-out, plus a pooled row.

    Each target is evaluated with :func:`evaluate` over its own dates against the shared
    comparison area, its buffer being the ring of ``buffer_m`` metres round it minus every
    target (a treated place is never another's displacement area). The pooled row adds up
    each component (counts, WDD) and the variances; adding variances treats the rows as
    independent, which holds when their windows do not overlap in the comparison area and is
    an approximation when they do.

    Parameters
    ----------
    targets : sequence of (name, polygon, start_day, end_day)
        Each target with its own intervention dates (both included).
    comparison : shapely Polygon or MultiPolygon
        The comparison area, not overlapping any target or buffer.
    easting, northing, day, baseline, weight, comparison_buffer, buffer_m, small_number_threshold
        As for :func:`evaluate`.
    pooled_name : str
        Name of the pooled row.

    Returns
    -------
    pandas.DataFrame
        One row per target, then the pooled row: ``name``, ``start_day``, ``end_day``,
        ``before_start``, ``before_end`` (day numbers; the pooled row spans every target),
        ``measure``, the six counts (``target_before`` ... ``buffer_after``), ``local``,
        ``displacement``, ``wdd``, ``variance``, ``se``, ``z``, ``p``, ``ci_low``, ``ci_high``,
        ``significant``, ``small_numbers`` and ``interpretation``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> a, b = box(350000, 430000, 350100, 430100), box(352000, 430000, 352100, 430100)
    >>> comparison = box(355000, 430000, 355100, 430100)
    >>> e, n, d = np.array([350050.0, 352050.0]), np.array([430050.0, 430050.0]), np.array([5, 25])
    >>> out = evaluate_staggered([("A", a, 10, 19), ("B", b, 30, 39)], comparison, e, n, d)
    >>> out["name"].tolist(), out["wdd"].tolist()
    (['A', 'B', 'All targets (pooled)'], [-1.0, -1.0, -2.0])
    """
    if not targets:
        raise ValueError("give at least one target")
    names = [t[0] for t in targets]
    if len(set(names)) != len(names):
        raise ValueError("target names repeat; give each target its own name")
    union = shapely.union_all([_check_polygon(t[1], f"target {t[0]!r}") for t in targets])
    rows = []
    for name, polygon, start, end in targets:
        ring = polygon.buffer(buffer_m).difference(union)
        res = evaluate(
            polygon, comparison, ring, easting, northing, day, start_day=start, end_day=end,
            baseline=baseline, weight=weight, comparison_buffer=comparison_buffer,
            small_number_threshold=small_number_threshold,
        )
        c = res["counts"]
        rows.append({
            "name": name, "start_day": _day(start), "end_day": _day(end),
            "before_start": res["before_window"][0], "before_end": res["before_window"][1],
            "measure": res["measure"],
            "target_before": c["target"]["before"], "target_after": c["target"]["after"],
            "comparison_before": c["comparison"]["before"],
            "comparison_after": c["comparison"]["after"],
            "buffer_before": c["buffer"]["before"], "buffer_after": c["buffer"]["after"],
            "local": res["local"], "displacement": res["displacement"],
            "local_variance": res["local_se"] ** 2,
            "displacement_variance": res["displacement_se"] ** 2,
            "wdd": res["wdd"], "variance": res["variance"],
            "small_numbers": res["small_numbers"], "interpretation": res["interpretation"],
            **{k: res[k] for k in ("se", "z", "p", "ci_low", "ci_high", "significant")},
        })
    table = pd.DataFrame(rows)
    sums = table[[col for col in table.columns if col.endswith(("_before", "_after"))]
                 + ["local", "displacement", "local_variance", "displacement_variance",
                    "wdd", "variance"]].sum()
    pooled: dict[str, Any] = {
        "name": pooled_name,
        "start_day": int(table["start_day"].min()), "end_day": int(table["end_day"].max()),
        "before_start": int(table["before_start"].min()),
        "before_end": int(table["before_end"].max()),
        "measure": rows[0]["measure"],
        **{k: (int(v) if k.endswith(("_before", "_after")) else float(v))
           for k, v in sums.items()},
    }
    inference = _inference(pooled["wdd"], pooled["variance"])
    pooled |= inference
    pooled["significant"] = bool(inference["se"] > 0 and inference["p"] < 0.05)
    low = [f"{role} {phase} ({pooled[f'{role}_{phase}']})"
           for role in ("target", "buffer") for phase in ("before", "after")
           if pooled[f"{role}_{phase}"] < small_number_threshold]
    pooled["small_numbers"] = bool(low)
    pooled_res = dict(inference)
    pooled_res["displacement"] = pooled["displacement"]
    pooled_res["displacement_se"] = math.sqrt(pooled["displacement_variance"])
    text = _interpret(pooled_res, "incidents" if weight is None else "harm units")
    if low:
        text = f"{_small_message(low, small_number_threshold)} For what it is worth: {text}"
    pooled["interpretation"] = text
    table = pd.concat([table, pd.DataFrame([pooled])], ignore_index=True)
    table["name"] = table["name"].astype("string")
    table["measure"] = table["measure"].astype("string")
    table["interpretation"] = table["interpretation"].astype("string")
    return table[_ROW_COLUMNS]
