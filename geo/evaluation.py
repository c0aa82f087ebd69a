"""Did an intervention work? Before/after counts with a comparison area and a displacement buffer.

Everything is measured in British National Grid (EPSG:27700, metres): areas are shapely polygons
in BNG and incidents are easting/northing arrays with a day number (days since 1970-01-01, as the
query layer's ``IncidentFrame.day``; undated rows, day -1, fall in no window).

The test is Wheeler & Ratcliffe's **weighted displacement difference** (Wheeler, A. P. and
Ratcliffe, J. H. (2018) "A simple weighted displacement difference test to evaluate place based
crime interventions", *Crime Science* 7:11, https://doi.org/10.1186/s40163-018-0085-5), read as
they read it: the comparison area says what would have happened without the intervention, and the
WDD counts the **incidents prevented** against that prediction, in the target and in the
displacement buffer together. With counts before (0) and after (1) in the treated area T, its
control Ct, the displacement area D (the ring round T) and the ring's control Cd::

    expected T1 = T0 * Ct1 / Ct0          (T follows the comparison's trend)
    expected D1 = D0 * Cd1 / Cd0
    prevented in T = expected T1 - T1     ("local")
    prevented in D = expected D1 - D1     ("displacement"; negative = displacement)
    WDD = prevented in T + prevented in D

**Positive = fewer incidents than the comparison predicts (incidents prevented); negative =
more.** The comparison's change is scaled to each area's own baseline, never taken raw, so a
comparison area eight times the target's size predicts an eighth of its change, not all of it
(with areas of equal counts this is the paper's difference form ``-(dT - dCt) - (dD - dCd)``).

Its variance treats every count as Poisson and is propagated by the delta method (first-order
Taylor expansion): with ``r = C1 / C0``, ``expected = A0 r`` has partial derivatives ``r`` for
A0, ``A0 / C0`` for C1 and ``-A0 C1 / C0^2`` for C0, and ``-1`` for A1. The derivatives of
terms that share a count are added **before** squaring, so when one comparison area is the
control for both the target and the ring (the default: no ``comparison_buffer``) its counts
enter the variance once, with the target's and the ring's baselines added together
(``((T0 + D0) / C0)^2 C1 + ((T0 + D0) C1 / C0^2)^2 C0``), not twice as if they were independent
areas. ``z = WDD / sqrt(Var)``, a two-sided ``p`` from the normal distribution, and the 95%
interval ``WDD +/- 1.96 sqrt(Var)``. A test checks this variance against a seeded simulation.

A comparison area with no incidents before cannot predict anything: the WDD is then left blank
(NaN) with a note, never guessed. A before period of a different length from the intervention
(a named financial year, or a February with 29 days) needs no scaling for the WDD, as the
length cancels in ``T0 * Ct1 / Ct0``; percentage changes scale the before counts by
``after_days / before_days``.

With harm weights the test runs on harm totals and each total's variance is approximated by the
sum of its squared weights (exact for a compound Poisson count; an approximation here).
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
    "is_whole_months",
    "monthly_series",
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


def _month_number(d: date) -> int:
    return d.year * 12 + d.month - 1


def _month_start(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def is_whole_months(start_day: int | date, end_day: int | date) -> bool:
    """Say whether a window runs from the 1st of a month to the last day of a month.

    Month-only incidents (police.uk) can be counted exactly in such a window and in no other.

    Examples
    --------
    >>> is_whole_months(date(2022, 1, 1), date(2022, 10, 31))
    True
    >>> is_whole_months(date(2022, 1, 2), date(2022, 10, 31))
    False
    """
    first, last = _date(_day(start_day)), _date(_day(end_day))
    return first.day == 1 and (last + timedelta(days=1)).day == 1


def baseline_window(
    start_day: int | date, end_day: int | date, kind: str = "equal_before",
    *, whole_months: bool = False,
) -> Window:
    """Return the before-period (baseline) that an intervention period is compared with.

    ``equal_before``
        The same number of days immediately before the start (with ``whole_months``, the same
        number of calendar months).
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
    whole_months : bool
        For month-only data: the intervention must run over whole calendar months (see
        :func:`is_whole_months`) and so does the baseline (``last_year`` and ``year:YYYY`` are
        whole months already).

    Returns
    -------
    (int, int)
        First and last day number of the baseline, both included.

    Raises
    ------
    ValueError
        For an unknown kind, an end before the start, a baseline that does not end before
        the intervention starts, or (with ``whole_months``) an intervention that does not run
        over whole months.

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
    >>> b = baseline_window(date(2022, 1, 1), date(2022, 10, 31), whole_months=True)
    >>> _date(b[0]), _date(b[1])
    (datetime.date(2021, 3, 1), datetime.date(2021, 12, 31))
    """
    start, end = _day(start_day), _day(end_day)
    if end < start:
        raise ValueError(f"the intervention ends ({_fmt_date(end)}) before it starts "
                         f"({_fmt_date(start)})")
    if whole_months and not is_whole_months(start, end):
        raise ValueError(
            f"these incidents give only a month, so the intervention must run over whole "
            f"months: start on the 1st of a month and end on the last day of one (not "
            f"{_fmt_date(start)} to {_fmt_date(end)})"
        )
    if kind == "equal_before":
        if whole_months:
            first = _month_number(_date(start))
            months = _month_number(_date(end)) - first + 1
            return _day(_month_start(first - months)), start - 1
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
        if is_whole_months(*before) and before_days >= 28:
            months = _month_number(_date(before[1])) - _month_number(_date(before[0])) + 1
            return (f"Before: the {months} whole month{'s' if months > 1 else ''} immediately "
                    f"before the start ({span}).")
        return f"Before: the {before_days} days immediately before the start ({span})."
    if kind == "last_year":
        return f"Before: the same dates a year earlier ({span})."
    year = _financial_year(kind)
    return (
        f"Before: financial year {year}/{(year + 1) % 100:02d} ({span}, {before_days} days); "
        f"percentage changes scale its counts by {after_days}/{before_days} to the "
        f"intervention's {after_days} days (the WDD needs no scaling: the comparison's trend "
        "is a ratio of counts over the same two periods)."
    )


def _pct(before_scaled: float, after: float) -> float:
    if before_scaled <= 0:
        return float("nan")
    return 100.0 * (after - before_scaled) / before_scaled


# One WDD component: (area role, "before" or "after") -> value and variance.
_Key = tuple[str, str]
#: The two parts of the WDD: (part name, treated area, its control when each has its own).
_PARTS = (("local", "target", "comparison"), ("displacement", "buffer", "comparison_buffer"))


def _wdd_stats(
    value: Mapping[_Key, float],
    variance: Mapping[_Key, float],
    shared: bool,
) -> dict[str, float]:
    """Return expected counts, incidents prevented and their delta-method variances.

    For each part, ``expected = A0 * C1 / C0`` and ``prevented = expected - A1``. Partial
    derivatives of terms that share a count are added before squaring, so a comparison area
    that controls both the target and the buffer enters the variance once, with their
    baselines added together. A control with nothing before cannot predict: NaN.
    """
    out: dict[str, float] = {}
    total: dict[_Key, float] = {}
    for part, area, own_control in _PARTS:
        control = "comparison" if shared else own_control
        a0, a1 = value[(area, "before")], value[(area, "after")]
        c0, c1 = value[(control, "before")], value[(control, "after")]
        if a0 == 0:
            # nothing before predicts nothing after, whatever the comparison did
            ratio, grad = 0.0, {(area, "after"): -1.0}
        elif c0 > 0:
            ratio = c1 / c0
            grad = {(area, "before"): ratio, (area, "after"): -1.0,
                    (control, "after"): a0 / c0, (control, "before"): -a0 * c1 / c0**2}
        else:
            for key in (part, f"{part}_expected", f"{part}_variance"):
                out[key] = math.nan
            total[(area, "after")] = math.nan
            continue
        out[f"{part}_expected"] = a0 * ratio
        out[part] = a0 * ratio - a1
        out[f"{part}_variance"] = sum(g * g * variance[k] for k, g in grad.items())
        for k, g in grad.items():
            total[k] = total.get(k, 0.0) + g
    out["wdd"] = out["local"] + out["displacement"]
    out["variance"] = sum(g * g * variance[k] for k, g in total.items())
    return out


def _inference(wdd: float, variance: float) -> dict[str, float]:
    if not (math.isfinite(wdd) and math.isfinite(variance)):
        nan = math.nan
        return {"wdd": nan, "variance": nan, "se": nan, "z": nan, "p": nan, "ci_low": nan,
                "ci_high": nan}
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
    return f"{x:,.0f}" if abs(x) >= 10 or x == round(x) else f"{x:.1f}"


def _signed(x: float) -> str:
    text = _num(abs(x))
    return "0" if text in {"0", "0.0"} else f"{'+' if x > 0 else '-'}{text}"


#: How the sign of the WDD reads, printed with every interpretation.
SIGN_READING = ("Reading the WDD: positive = fewer incidents than the comparison area predicts "
                "(incidents prevented); negative = more incidents than it predicts.")


def _changes_text(pct: Mapping[str, float] | None) -> str:
    """One sentence on which way each area went, so the WDD can be checked against it."""
    if not pct:
        return ""
    named = {"target": "target", "buffer": "buffer", "comparison": "comparison"}
    shown = {k: pct.get(k, math.nan) for k in named}
    parts = [f"{named[k]} {v:+.1f}%" for k, v in shown.items() if math.isfinite(v)]
    if not parts:
        return ""
    text = "Change from before: " + ", ".join(parts) + "."
    t, c = shown["target"], shown["comparison"]
    finite = [v for v in shown.values() if math.isfinite(v)]
    if len(finite) == 3 and all(v < 0 for v in finite) and math.isfinite(t) and \
            math.isfinite(c):
        if c < t:
            text += (" Every area fell, but the comparison fell furthest, so the target did "
                     "worse than the comparison predicts.")
        else:
            text += (" Every area fell, and the target fell further than the comparison, so "
                     "it did better than the comparison predicts.")
    return text


def _interpret(res: Mapping[str, float], unit: str, *, small: bool = False,
               pct: Mapping[str, float] | None = None) -> str:
    """Say what the WDD means in words, with its sign spelled out and no unearned claims."""
    wdd, lo, hi = res["wdd"], res["ci_low"], res["ci_high"]
    if not math.isfinite(wdd):
        return ("The comparison area had no incidents before the intervention, so it cannot "
                "predict what would have happened; no WDD can be given. Choose a comparison "
                "area with incidents in both periods.")
    ci = f"95% CI {_signed(lo)} to {_signed(hi)}"
    if round(wdd, 1) == 0:
        head = (f"About as many {unit} as the comparison area predicts in the target and "
                f"buffer together (WDD 0, {ci}).")
    elif wdd > 0:
        head = (f"About {_num(wdd)} fewer {unit} than the comparison area predicts in the "
                f"target and buffer together, i.e. {unit} prevented (WDD {_signed(wdd)}, "
                f"{ci}).")
    else:
        head = (f"About {_num(-wdd)} more {unit} than the comparison area predicts in the "
                f"target and buffer together (WDD {_signed(wdd)}, {ci}).")
    if small:
        verdict = "With numbers this small no significance is claimed."
    elif res["se"] > 0 and res["p"] < 0.05:
        verdict = (f"The interval leaves out zero: statistically significant at the 5% level "
                   f"(p = {res['p']:.3f}).")
    else:
        verdict = (f"The interval includes zero, so this is not statistically distinguishable "
                   f"from no effect (p = {res['p']:.2f}).")
    text = f"{head} {verdict}"
    local = res.get("local")
    if local is not None and math.isfinite(local):
        text += (f" In the target alone: {_signed(local)} against "
                 f"{_num(res.get('local_expected', math.nan))} expected.")
    disp, disp_se = res.get("displacement"), res.get("displacement_se")
    if disp is not None and math.isfinite(disp) and disp_se and not small and \
            abs(disp) > _Z95 * disp_se:
        if disp < 0:
            text += (f" The buffer had about {_num(-disp)} more {unit} than the comparison "
                     "predicts, which suggests some displacement.")
        else:
            text += (f" The buffer had about {_num(disp)} fewer {unit} than the comparison "
                     "predicts, which suggests a diffusion of benefits.")
    changes = _changes_text(pct)
    if changes:
        text += f" {changes}"
    return f"{text} {SIGN_READING}"


def _expected_note(counts: Mapping[str, Mapping[str, int]], expected: Mapping[str, float],
                   shared: bool, harm: bool) -> str:
    """Show the prediction as a sum a reader can check by hand."""
    text = ("Expected after = before × the comparison area's after ÷ before "
            + ("(one comparison predicts both the target and the buffer)" if shared else
               "(the comparison buffer predicts the buffer)"))
    if harm:
        return text + ", in harm units."
    sums = []
    for role in ("target", "buffer"):
        control = "comparison" if shared or role == "target" else "comparison_buffer"
        if math.isfinite(expected[role]):
            sums.append(f"{role} {counts[role]['before']:,} × "
                        f"{counts[control]['after']:,}/{counts[control]['before']:,} = "
                        f"{expected[role]:,.1f}")
    return text + (": " + "; ".join(sums) if sums else "") + "."


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

    Counts before (0) and after (1) in the treated area T, its control Ct, the displacement
    area D and its control Cd, as in Wheeler & Ratcliffe (2018). Leave ``cd0``/``cd1`` out to
    use Ct as the displacement area's control too (its counts then enter the variance once,
    with T's and D's baselines added together; see the module notes). Give zeros for D to
    leave displacement out.

    Returns
    -------
    dict
        ``wdd`` (incidents prevented against the comparison's prediction: positive = fewer
        than predicted), ``variance``, ``se``, ``z``, ``p`` (two-sided), ``ci_low``,
        ``ci_high`` (95%), ``local`` (prevented in T) and ``displacement`` (prevented in D,
        negative = displacement), their ``*_se`` and ``*_expected`` (the predicted after
        counts). NaN when a control with something to predict had nothing before.

    Examples
    --------
    T falls 50 -> 30 while its control falls 10% (100 -> 90): 45 expected, 15 prevented.
    D rises 40 -> 42 while its control falls 25% (60 -> 45): 30 expected, 12 more.

    >>> r = wdd_counts(50, 30, 100, 90, 40, 42, 60, 45)
    >>> r["local"], r["displacement"], r["wdd"], r["variance"], round(r["z"], 3)
    (15.0, -12.0, 3.0, 212.75, 0.206)
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
    if any(not v >= 0 for v in value.values()):
        raise ValueError("counts must be numbers, none negative")
    return _result(_wdd_stats(value, value, shared))


def _result(parts: Mapping[str, float]) -> dict[str, float]:
    res = _inference(parts["wdd"], parts["variance"])
    for part in ("local", "displacement"):
        res[part] = parts[part]
        res[f"{part}_expected"] = parts[f"{part}_expected"]
        variance = parts[f"{part}_variance"]
        res[f"{part}_se"] = math.sqrt(variance) if math.isfinite(variance) else math.nan
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
    whole_months: bool = False,
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
        Below this many incidents in any area, before or after, the result is flagged as too
        small to judge and no significance is claimed.
    whole_months : bool
        The incidents' days are month starts (month-only data): the intervention must run over
        whole months, and an ``equal_before`` baseline is the same number of months before.

    Returns
    -------
    dict
        ``measure`` ("count" or "harm"), ``baseline``, ``before_window``, ``after_window``,
        ``before_days``, ``after_days``, ``before_scale`` (after_days / before_days, used for
        percentages only), ``shared_comparison``, ``counts`` and ``harm`` (``{area: {"before",
        "after"}}`` for target, comparison, buffer and, if given, comparison_buffer; ``harm``
        is None without weights), ``pct_change`` (``{area: percent}`` from the counts, before
        scaled; NaN when the before count is 0), ``expected`` and ``prevented`` (``{"target",
        "buffer"}``: the after count the comparison predicts, and that minus the actual),
        ``wdd`` (positive = incidents prevented), ``variance``, ``se``, ``z``, ``p``,
        ``ci_low``, ``ci_high``, ``significant`` (p < 0.05, never with small numbers),
        ``local`` and ``displacement`` (prevented in target and buffer, with ``*_se`` and
        ``*_expected``), ``small_numbers``, ``small_numbers_message``, ``sign`` (how to read
        the sign), ``interpretation`` and ``notes``. The WDD figures are NaN when the
        comparison area had nothing before.

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
    >>> r["counts"]["target"], r["expected"]["target"], r["wdd"]
    ({'before': 30, 'after': 12}, 30.0, 18.0)
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
    before = baseline_window(start, end, baseline, whole_months=whole_months)
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
    res = _result(_wdd_stats(value, variance, shared))

    notes = [_describe_baseline(baseline, before, after_days)]
    if scale != 1.0 and not baseline.startswith("year:"):
        notes.append(
            f"The before period has {before_days} days and the intervention {after_days}, so "
            f"percentage changes scale before counts by {after_days}/{before_days} (the WDD "
            "needs no scaling)."
        )
    pct: dict[str, float] = {}
    for role in areas:
        pct[role] = _pct(scale * counts[role]["before"], counts[role]["after"])
        if counts[role]["before"] == 0:
            notes.append(f"No incidents in the {role.replace('_', ' ')} before, so its "
                         "percentage change cannot be given.")
    expected = {"target": res["local_expected"], "buffer": res["displacement_expected"]}
    notes.append(_expected_note(counts, expected, shared, w is not None))
    if shared:
        notes.append("The comparison area is the control for both the target and the buffer: "
                     "its trend is used once, scaled to each area's own baseline, and its "
                     "counts enter the variance once, not twice.")
    if w is not None:
        notes.append("Harm-weighted: the WDD is in harm units and its variance is approximated "
                      "by the sum of squared weights in each area and period.")

    judged = ["target", "buffer", "comparison"] + (["comparison_buffer"] if not shared else [])
    low = [f"{role.replace('_', ' ')} {phase} ({counts[role][phase]})"
           for role in judged for phase in ("before", "after")
           if counts[role][phase] < small_number_threshold]
    small = bool(low)
    message = _small_message(low, small_number_threshold) if small else None
    unit = "incidents" if w is None else "harm units"
    interpretation = _interpret(res, unit, small=small, pct=pct)
    if message:
        interpretation = f"{message} For what it is worth: {interpretation}"
    finite = math.isfinite(res["wdd"])
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
        "expected": expected,
        "prevented": {"target": res["local"], "buffer": res["displacement"]},
        **res,
        # never claimed on small numbers or when the comparison could not predict
        "significant": bool(finite and not small and res["se"] > 0 and res["p"] < 0.05),
        "small_numbers": small,
        "small_numbers_message": message,
        "sign": SIGN_READING,
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


def monthly_series(
    polygons: Mapping[str, Polygon | MultiPolygon],
    easting: np.ndarray,
    northing: np.ndarray,
    day: np.ndarray,
    first_day: int | date,
    last_day: int | date,
) -> pd.DataFrame:
    """Return incident counts per calendar month in each area (for month-only data).

    ``day`` may be any day of the incident's month (month-only rows give the 1st). Every area
    has a row for every month from ``first_day``'s to ``last_day``'s, zeros included; ``days``
    says how many days of each month are in range. Areas are counted independently.

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

    Returns
    -------
    pandas.DataFrame
        ``month_start`` (datetime, the 1st), ``area``, ``count`` and ``days``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> area = box(350000, 430000, 350100, 430100)
    >>> jan = (date(2024, 1, 1) - _EPOCH).days
    >>> out = monthly_series({"A": area}, np.array([350050.0] * 3), np.array([430050.0] * 3),
    ...                      np.array([jan, jan, jan + 31]), jan, jan + 59)
    >>> out["count"].tolist(), out["days"].tolist(), str(out["month_start"].iloc[1].date())
    ([2, 1], [31, 29], '2024-02-01')
    """
    first, last = _day(first_day), _day(last_day)
    if last < first:
        raise ValueError("last_day is before first_day")
    e, n, d, _ = _points(easting, northing, day, None)
    m0, m1 = _month_number(_date(first)), _month_number(_date(last))
    starts = np.array([_day(_month_start(m)) for m in range(m0, m1 + 2)], dtype="int64")
    days_in = np.minimum(starts[1:] - 1, last) - np.maximum(starts[:-1], first) + 1
    in_range = _in_window(d, (first, last))
    frames = []
    for name, geom in polygons.items():
        geom = _check_polygon(geom, f"area {name!r}")
        mask = in_range.copy()
        mask[mask] = _inside(geom, e[mask], n[mask])
        month = np.searchsorted(starts, d[mask], side="right") - 1
        frames.append(pd.DataFrame({
            "month_start": (np.datetime64("1970-01-01", "D") + starts[:-1]).astype(
                "datetime64[ns]"),
            "area": pd.Series([name] * len(days_in), dtype="string"),
            "count": np.bincount(month, minlength=len(days_in)).astype("int64"),
            "days": days_in.astype("int64"),
        }))
    if not frames:
        return pd.DataFrame(columns=["month_start", "area", "count", "days"])
    return pd.concat(frames, ignore_index=True)


_ROW_COLUMNS = [
    "name", "start_day", "end_day", "before_start", "before_end", "measure",
    "target_before", "target_after", "comparison_before", "comparison_after",
    "buffer_before", "buffer_after", "expected_target", "expected_buffer", "local",
    "displacement", "wdd", "variance", "se", "z", "p", "ci_low", "ci_high", "significant",
    "small_numbers", "interpretation",
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
    whole_months: bool = False,
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
        As for :func:`evaluate`; so is ``whole_months``.
    pooled_name : str
        Name of the pooled row.

    Returns
    -------
    pandas.DataFrame
        One row per target, then the pooled row: ``name``, ``start_day``, ``end_day``,
        ``before_start``, ``before_end`` (day numbers; the pooled row spans every target),
        ``measure``, the six counts (``target_before`` ... ``buffer_after``),
        ``expected_target``, ``expected_buffer``, ``local``, ``displacement``, ``wdd``,
        ``variance``, ``se``, ``z``, ``p``, ``ci_low``, ``ci_high``, ``significant``,
        ``small_numbers`` and ``interpretation``.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> a, b = box(350000, 430000, 350100, 430100), box(352000, 430000, 352100, 430100)
    >>> comparison = box(355000, 430000, 355100, 430100)
    >>> # A: 4 before, 1 after; B: 4 before, 3 after; the comparison halves in both windows
    >>> e = np.r_[np.full(5, 350050.0), np.full(7, 352050.0), np.full(12, 355050.0)]
    >>> n = np.full(24, 430050.0)
    >>> d = np.r_[[5] * 4, 15, [25] * 4, [35] * 3, [5] * 4, [15] * 2, [25] * 4, [35] * 2]
    >>> out = evaluate_staggered([("A", a, 10, 19), ("B", b, 30, 39)], comparison, e, n, d)
    >>> out["name"].tolist(), out["expected_target"].tolist(), out["wdd"].tolist()
    (['A', 'B', 'All targets (pooled)'], [2.0, 2.0, 4.0], [1.0, -1.0, 0.0])
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
            small_number_threshold=small_number_threshold, whole_months=whole_months,
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
            "expected_target": res["local_expected"],
            "expected_buffer": res["displacement_expected"],
            "local": res["local"], "displacement": res["displacement"],
            "local_variance": res["local_se"] ** 2,
            "displacement_variance": res["displacement_se"] ** 2,
            "wdd": res["wdd"], "variance": res["variance"],
            "small_numbers": res["small_numbers"], "interpretation": res["interpretation"],
            **{k: res[k] for k in ("se", "z", "p", "ci_low", "ci_high", "significant")},
        })
    table = pd.DataFrame(rows)
    # skipna=False: a target whose comparison could not predict leaves the pooled WDD blank
    sums = table[[col for col in table.columns if col.endswith(("_before", "_after"))]
                 + ["expected_target", "expected_buffer", "local", "displacement",
                    "local_variance", "displacement_variance", "wdd", "variance"]].sum(
        skipna=False)
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
    low = [f"{role} {phase} ({pooled[f'{role}_{phase}']})"
           for role in ("target", "buffer", "comparison") for phase in ("before", "after")
           if pooled[f"{role}_{phase}"] < small_number_threshold]
    pooled["small_numbers"] = bool(low)
    pooled["significant"] = bool(math.isfinite(inference["wdd"]) and not low and
                                 inference["se"] > 0 and inference["p"] < 0.05)
    pooled_res = dict(inference)
    pooled_res["local"] = pooled["local"]
    pooled_res["local_expected"] = pooled["expected_target"]
    pooled_res["displacement"] = pooled["displacement"]
    pooled_res["displacement_se"] = math.sqrt(pooled["displacement_variance"]) if \
        math.isfinite(pooled["displacement_variance"]) else math.nan
    text = _interpret(pooled_res, "incidents" if weight is None else "harm units",
                      small=bool(low))
    if low:
        text = f"{_small_message(low, small_number_threshold)} For what it is worth: {text}"
    pooled["interpretation"] = text
    table = pd.concat([table, pd.DataFrame([pooled])], ignore_index=True)
    table["name"] = table["name"].astype("string")
    table["measure"] = table["measure"].astype("string")
    table["interpretation"] = table["interpretation"].astype("string")
    return table[_ROW_COLUMNS]
