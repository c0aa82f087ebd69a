"""Patrol planning: the few places to patrol on a shift, why each is there, and for how long.

Method (stated on the page and in every export):

* **Unit.** Equal-sized places: H3 cells (resolution 9, about 0.1 km², or 10, about 0.015 km²)
  or DBSCAN cluster footprints. The College of Policing hot spots guide asks for harm-ranked,
  equal-sized places rather than patrols spread evenly.
* **Ranking.** Incidents in the look-back window that fall in the shift (its days and hour band;
  with a band that wraps midnight the small hours belong to the night they started), summed
  by harm weight (equal weights unless the force loads its own table), ranked by harm, then
  count, then a stable id. The plan takes the top ``n`` places, or the fewest places that hold
  ``target_share`` of the shift's harm in the area.
* **Expected incidents per shift** = incidents in the place during the shift in the window ÷
  shifts in the window (the number of shift starts, e.g. 12 weeks × 2 nights = 24).
* **Trend** compares the same place and shift in the window of equal length just before.
* **Dosage** follows Koper (1995, Justice Quarterly 12(4)): visible stops of about 15 minutes
  give the longest residual deterrence, repeated at unpredictable times. The busiest place
  gets one visit in every two hours of the shift (4 on an 8-hour shift); every other place gets
  visits in proportion to its expected harm per shift, ``round(most x harm / top harm)``, at
  least 1 (it is on the plan) and at most the busiest place's (:func:`suggested_visits`).
  Visits are spread over the shift at seeded random times.
* **Month-only data** (police.uk) have no day or hour: a plan can rank places over whole
  months and give expected incidents per month, but no shift, peak hours, visit times or
  patrol hours.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from geo.hotspots import main_categories
from geo.query import DAY_LABELS, hours_in_band

#: Koper (1995): stops of about 15 minutes maximise residual deterrence.
VISIT_MINUTES = 15
#: The busiest hotspot is visited at least this often across the shift.
MAX_GAP_MINUTES = 120
#: The dosage rule in words, printed with every plan (``{most}`` is the busiest place's visits).
VISIT_RULE = (
    "visits of about 15 minutes (Koper 1995) in proportion to each place's expected harm per "
    "shift: the busiest place gets one in every two hours of the shift ({most} on this shift), "
    "every other place round({most} × its harm ÷ the busiest place's), at least 1"
)
DOSAGE_SOURCE = (
    "Koper, C. S. (1995). Just enough police presence: reducing crime and disorderly behavior "
    "by optimizing patrol time in crime hot spots. Justice Quarterly, 12(4), 649-672."
)


class PlaceForecast(Protocol):
    """A forecast per place (index = place), as :class:`geo.forecast.Forecast` gives."""

    expected: np.ndarray
    score: np.ndarray
    low: np.ndarray
    high: np.ndarray

    def why(self, i: int, per_label: str = "") -> str:
        """Return the terms behind place ``i``'s forecast, in words."""


@dataclass(frozen=True)
class Shift:
    """The days a shift starts on (0 = Monday) and its hour band (end exclusive, may wrap).

    Examples
    --------
    >>> s = Shift(frozenset({4, 5}), (20, 4))
    >>> s.length_hours, s.label
    (8, 'Fri, Sat 20:00–04:00')
    >>> Shift(frozenset(range(7)), (0, 0)).label
    'every day, all day'
    """

    days: frozenset[int]
    hours: tuple[int, int]

    @property
    def length_hours(self) -> int:
        """Hours in the band."""
        return len(hours_in_band(*self.hours))

    @property
    def label(self) -> str:
        """Plain-English label, e.g. "Fri, Sat 20:00–04:00" or "every day, all day"."""
        days = ("every day" if len(self.days) == 7 else
                ", ".join(DAY_LABELS[d][:3] for d in sorted(self.days)))
        if self.hours[0] == self.hours[1]:
            return f"{days}, all day"
        return f"{days} {self.hours[0]:02d}:00–{self.hours[1] % 24:02d}:00"


def count_shifts(first_day: int, last_day: int, shift: Shift) -> int:
    """Count the shifts that start on days ``first_day..last_day`` (days since 1970-01-01).

    Examples
    --------
    >>> # 12 weeks from Monday 2024-01-01 (day 19723): 12 Fridays and 12 Saturdays
    >>> count_shifts(19723, 19723 + 83, Shift(frozenset({4, 5}), (20, 4)))
    24
    """
    if last_day < first_day:
        return 0
    days = np.arange(first_day, last_day + 1)
    dow = (days + 3) % 7  # 1970-01-01 was a Thursday
    return int(np.isin(dow, list(shift.days)).sum())


def most_visits(shift: Shift, max_gap_minutes: int = MAX_GAP_MINUTES) -> int:
    """Visits per shift for the busiest place: one in every ``max_gap_minutes`` of the shift.

    Examples
    --------
    >>> most_visits(Shift(frozenset({4, 5}), (20, 4))), most_visits(Shift(frozenset({0}), (9, 10)))
    (4, 1)
    """
    return max(1, math.ceil(shift.length_hours * 60 / max_gap_minutes))


def suggested_visits(harm: np.ndarray, most: int) -> np.ndarray:
    """Visits per shift for each place, in proportion to its harm (see :data:`VISIT_RULE`).

    The place with the most harm gets ``most``; every other place ``round(most * harm / top
    harm)`` (halves round up), at least 1 and at most ``most``. Harm per shift and harm in the
    window differ by the same factor, so either may be given.

    Parameters
    ----------
    harm : numpy.ndarray
        Harm (or expected harm per shift) of each place on the plan.
    most : int
        Visits for the busiest place (:func:`most_visits`).

    Returns
    -------
    numpy.ndarray
        int64 visits per shift, one per place.

    Examples
    --------
    A place with 1 incident beside one with 30 gets 1 visit to its 4:

    >>> suggested_visits(np.array([30.0, 15.0, 9.0, 1.0]), 4).tolist()
    [4, 2, 1, 1]
    """
    h = np.asarray(harm, dtype="float64")
    if h.size == 0:
        return np.zeros(0, dtype="int64")
    top = float(h.max())
    if not top > 0:
        return np.ones(h.size, dtype="int64")
    share = np.floor(most * h / top + 0.5)
    return np.clip(share, 1, most).astype("int64")


#: Peak-hours text when incidents carry only a month.
NO_TIMES = "not known: the data give only the month"


def _peak_hours(hours: np.ndarray, top: int = 3) -> str:
    known = hours[hours >= 0]
    if known.size == 0:
        return "no times recorded"
    counts = np.bincount(known, minlength=24)
    order = np.lexsort((np.arange(24), -counts))[:top]
    return ", ".join(f"{h:02d}:00 ({int(counts[h])})" for h in order if counts[h] > 0)


def _trend(now: int, before: int) -> str:
    if before == 0 and now == 0:
        return "none in either window"
    if before == 0:
        return f"new: {now} now, none in the window before"
    change = 100.0 * (now - before) / before
    word = "up" if now > before else "down" if now < before else "level"
    return f"{word} {abs(change):.0f}% ({before} → {now})"


def rank_places(
    place: np.ndarray,
    n_places: int,
    *,
    weight: np.ndarray,
    hour: np.ndarray,
    category: np.ndarray,
    category_labels: list[str],
    prev_place: np.ndarray,
    prev_weight: np.ndarray,
    n_shifts: int,
    n: int | None = 10,
    target_share: float | None = None,
    n_months: int | None = None,
    no_trend: str | None = None,
    forecast: PlaceForecast | None = None,
) -> pd.DataFrame:
    """Rank places for a shift (or, on month-only data, over whole months) and explain each.

    Parameters
    ----------
    place : numpy.ndarray
        For each incident in the look-back window and shift, the index of its place
        (``-1`` = in no place, e.g. outside every DBSCAN footprint).
    n_places : int
        Number of places.
    weight, hour, category : numpy.ndarray
        Per incident: harm weight, hour (-1 unknown), category code.
    category_labels : list of str
        Category names for the codes.
    prev_place, prev_weight : numpy.ndarray
        The same for the window of equal length before (for the trend).
    n_shifts : int
        Shifts in the look-back window.
    n : int, optional
        How many places to return.
    target_share : float, optional
        Instead of ``n``: the fewest places holding at least this share (0-1] of the harm.
    n_months : int, optional
        Month-only data: the whole months in the window. Expected figures are then per month
        (``expected_per_month``; ``expected_per_shift`` is NaN) and no hours are claimed.
    no_trend : str, optional
        Why the window before cannot be compared (e.g. the data do not cover it): every
        trend then says so instead of a change.
    forecast : PlaceForecast, optional
        Each place's forecast for the next shift (or month): places are then ranked by it
        (harm-weighted), the expected figure is the forecast with its 80% interval, and the
        why starts with the forecast's terms. Without it, by the window's harm.

    Returns
    -------
    pandas.DataFrame
        ``rank, place, count, harm, share_count, share_harm, cum_share_harm,
        expected_per_shift, expected_per_month, forecast_low, forecast_high, forecast_harm,
        peak_hours, main_categories, prev_count, trend, why``.

    Examples
    --------
    >>> t = rank_places(np.array([0, 0, 1]), 2, weight=np.ones(3), hour=np.array([22, 23, 1]),
    ...                 category=np.zeros(3, int), category_labels=["Robbery"],
    ...                 prev_place=np.array([0]), prev_weight=np.ones(1), n_shifts=4, n=1)
    >>> int(t.loc[0, "count"]), float(t.loc[0, "expected_per_shift"]), t.loc[0, "trend"]
    (2, 0.5, 'up 100% (1 → 2)')
    """
    columns = ["rank", "place", "count", "harm", "share_count", "share_harm", "cum_share_harm",
               "expected_per_shift", "expected_per_month", "forecast_low", "forecast_high",
               "forecast_harm", "peak_hours", "main_categories", "prev_count", "trend", "why"]
    inside = place >= 0
    total_count = int(len(place))
    total_harm = float(np.sum(weight))
    counts = np.bincount(place[inside], minlength=n_places)
    harm = np.bincount(place[inside], weights=weight[inside], minlength=n_places)
    prev_in = prev_place >= 0
    prev_counts = np.bincount(prev_place[prev_in], minlength=n_places)
    if forecast is not None:
        order = np.lexsort((np.arange(n_places), -counts, -harm, -forecast.score))
    else:
        order = np.lexsort((np.arange(n_places), -counts, -harm))
    order = order[counts[order] > 0]
    if target_share is not None:
        if not 0 < target_share <= 1:
            raise ValueError("target_share must be more than 0 and at most 1")
        cum = np.cumsum(harm[order]) / total_harm if total_harm > 0 else np.zeros(len(order))
        k = int(np.searchsorted(cum, target_share - 1e-12) + 1)
        order = order[: min(k, len(order))]
    elif n is not None:
        order = order[:n]
    if len(order) == 0:
        return pd.DataFrame(columns=columns)
    members = np.argsort(np.where(inside, place, n_places), kind="stable")
    sorted_place = np.where(inside, place, n_places)[members]
    rows = []
    cum_harm = 0.0
    for rank, p in enumerate(order, start=1):
        lo, hi = np.searchsorted(sorted_place, [p, p + 1])
        idx = members[lo:hi]
        cum_harm += float(harm[p])
        share_h = float(harm[p]) / total_harm if total_harm else math.nan
        trend = (f"not compared: {no_trend}" if no_trend
                 else _trend(int(counts[p]), int(prev_counts[p])))
        cats = main_categories(category[idx], category_labels)
        mostly = cats.split(",")[0] if cats else "unknown"
        if n_months:
            per_shift, per_month = math.nan, counts[p] / n_months
            why = (
                f"{int(counts[p])} incidents in the {n_months} months of the window "
                f"({100 * share_h:.1f}% of the area's harm, {int(counts[p])} of {total_count} "
                f"incidents); about {per_month:.1f} a month; times not known (the data give "
                f"only the month); mostly {mostly}; trend {trend}."
            )
            peaks = NO_TIMES
        else:
            per_shift = counts[p] / n_shifts if n_shifts else math.nan
            per_month = math.nan
            peaks = _peak_hours(hour[idx])
            why = (
                f"{int(counts[p])} incidents on this shift in the window "
                f"({100 * share_h:.1f}% of the area's harm, {int(counts[p])} of {total_count} "
                f"incidents); about {per_shift:.2f} per shift; busiest {peaks.split(',')[0]}; "
                f"mostly {mostly}; trend {trend}."
            )
        low = high = fharm = math.nan
        if forecast is not None:
            low, high = float(forecast.low[p]), float(forecast.high[p])
            fharm = float(forecast.score[p])
            if n_months:
                per_month = float(forecast.expected[p])
            else:
                per_shift = float(forecast.expected[p])
            why = forecast.why(int(p)) + ". Behind it: " + why
        rows.append({
            "forecast_low": low, "forecast_high": high, "forecast_harm": fharm,
            "rank": rank, "place": int(p), "count": int(counts[p]), "harm": float(harm[p]),
            "share_count": counts[p] / total_count if total_count else math.nan,
            "share_harm": share_h,
            "cum_share_harm": cum_harm / total_harm if total_harm else math.nan,
            "expected_per_shift": per_shift, "expected_per_month": per_month,
            "peak_hours": peaks, "main_categories": cats,
            "prev_count": int(prev_counts[p]), "trend": trend, "why": why,
        })
    return pd.DataFrame(rows, columns=columns)


def dosage_schedule(
    shift: Shift,
    n_hotspots: int,
    *,
    seed: int,
    visit_minutes: int = VISIT_MINUTES,
    max_gap_minutes: int = MAX_GAP_MINUTES,
    visits: np.ndarray | None = None,
) -> pd.DataFrame:
    """Suggest visit times for each hotspot across one shift.

    Hotspot ``h`` gets ``visits[h - 1]`` visits of ``visit_minutes`` (by default
    :func:`most_visits` each), one in each of that many equal blocks of the shift, at seeded
    random times so the pattern is not predictable. With the most visits, starts are never more
    than ``max_gap_minutes`` apart (nor further than that from the start or end of the shift).

    Parameters
    ----------
    shift : Shift
        The shift.
    n_hotspots : int
        Number of hotspots.
    seed : int
        Seed of the random visit times.
    visit_minutes, max_gap_minutes : int
        Length of a visit, and the longest gap between the busiest place's visits.
    visits : numpy.ndarray, optional
        Visits per shift of each hotspot, in rank order (:func:`suggested_visits`).

    Returns
    -------
    pandas.DataFrame
        ``hotspot`` (1-based rank), ``visit``, ``start`` and ``end`` as "HH:MM" clock times,
        ``offset_min`` (minutes from the shift start).

    Examples
    --------
    >>> d = dosage_schedule(Shift(frozenset({4}), (20, 4)), 1, seed=1)
    >>> len(d), bool(d["offset_min"].diff().dropna().le(120).all())
    (4, True)
    """
    length = shift.length_hours * 60
    most = most_visits(shift, max_gap_minutes)
    if visits is None:
        visits = np.full(n_hotspots, most, dtype="int64")
    if len(visits) != n_hotspots:
        raise ValueError(f"visits has {len(visits)} values for {n_hotspots} hotspots")
    rng = np.random.default_rng(seed)
    rows = []
    for h in range(1, n_hotspots + 1):
        k = int(min(max(int(visits[h - 1]), 1), most))
        # one visit in each of k equal blocks of the shift, at a random time inside the block
        # but never more than max(max_gap, block) after the previous visit started
        block = length / k
        starts: list[int] = []
        for b in range(k):
            lo = math.ceil(b * block)
            hi = min(math.floor((b + 1) * block), length) - visit_minutes
            if starts:
                lo = max(lo, starts[-1] + visit_minutes + 15)
                hi = min(hi, starts[-1] + max(max_gap_minutes, math.ceil(block)))
            starts.append(int(rng.integers(lo, max(lo, hi) + 1)))
        for i, t in enumerate(starts, start=1):
            begin = (shift.hours[0] * 60 + t) % (24 * 60)
            end = (begin + visit_minutes) % (24 * 60)
            rows.append({"hotspot": h, "visit": i, "offset_min": t,
                         "start": f"{begin // 60:02d}:{begin % 60:02d}",
                         "end": f"{end // 60:02d}:{end % 60:02d}"})
    return pd.DataFrame(rows, columns=["hotspot", "visit", "offset_min", "start", "end"])


def patrol_hours(schedule: pd.DataFrame, shifts_per_week: int,
                 visit_minutes: int = VISIT_MINUTES) -> dict[str, float]:
    """Return the patrol time a schedule implies, per shift and per week, in hours.

    Examples
    --------
    >>> d = dosage_schedule(Shift(frozenset({4, 5}), (20, 4)), 2, seed=1, visits=np.array([4, 1]))
    >>> patrol_hours(d, shifts_per_week=2)
    {'per_shift_hours': 1.25, 'per_week_hours': 2.5, 'visits_per_shift': 5.0}
    """
    per_shift = len(schedule) * visit_minutes / 60.0
    return {"per_shift_hours": per_shift, "per_week_hours": per_shift * shifts_per_week,
            "visits_per_shift": float(len(schedule))}
