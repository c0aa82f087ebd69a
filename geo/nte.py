"""The night-time economy (NTE): nights as the unit, per-zone night figures and weekend ratings.

Violence in town centres peaks on Friday and Saturday nights after midnight, so this module
counts by *night* rather than by calendar day: a night runs from an evening hour to the next
morning and belongs to the date it started, so 02:00 on a Sunday is part of Saturday night.
Forces split their town centres into NTE zones and rate each weekend red, amber or green to shape
pulse patrols; :func:`weekend_status` and :func:`night_status` do that rating against each zone's
own earlier weekends (or nights), never looking ahead. :func:`suggest_zones` proposes zones from
where night-time incidents cluster, and :func:`rank_by_nearby` counts incidents around venues.

Everything here takes the arrays of :class:`geo.query.IncidentFrame` (``day`` = days since
1970-01-01 of the *local* date, ``hour`` = local clock hour, ``-1`` where unknown) and a zone
index per incident (``-1`` = in no zone) that the caller assigns from its zone polygons.
Distances are metres in British National Grid (EPSG:27700).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray
from scipy.spatial import cKDTree

from geo.dbscan import cluster_summary, dbscan
from geo.settings import CRS_METRIC

__all__ = [
    "NightRule",
    "StatusRule",
    "STATUSES",
    "day_number",
    "hour_profile",
    "is_weekend_night",
    "night_of",
    "night_share",
    "night_status",
    "nightly_counts",
    "rank_by_nearby",
    "suggest_zones",
    "weekend_counts",
    "weekend_status",
]

#: Every status a rating can give, most urgent first.
STATUSES = ("red", "amber", "green", "not enough history")

_EPOCH = np.datetime64("1970-01-01", "D")
# 1970-01-01 was a Thursday: (day + 3) % 7 gives 0 = Monday.
_THURSDAY_OFFSET = 3
_FRIDAY, _SATURDAY = 4, 5
# Quantiles are rounded before they are compared with whole counts, so that a count exactly at a
# threshold is a tie however the interpolation rounded (pandas and numpy differ in the last bit).
_QUANTILE_DECIMALS = 9


# --------------------------------------------------------------------------------------------
# The night as the unit
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NightRule:
    """When a night starts and ends, in whole hours of local clock time.

    A night runs from ``evening_start`` on its date to ``morning_end`` the next morning (end
    exclusive) and always wraps midnight.

    Parameters
    ----------
    evening_start : int
        First hour of the night, 0–23 (18 = from 18:00).
    morning_end : int
        Hour the night ends the next morning, 0–23, exclusive (6 = up to 05:59).

    Raises
    ------
    ValueError
        If an hour is outside 0–23 or the night does not wrap midnight
        (``evening_start <= morning_end``).

    Examples
    --------
    >>> NightRule().label
    '18:00–06:00'
    >>> NightRule(20, 4).hours
    (20, 21, 22, 23, 0, 1, 2, 3)
    """

    evening_start: int = 18
    morning_end: int = 6

    def __post_init__(self) -> None:
        for name in ("evening_start", "morning_end"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | np.integer):
                raise ValueError(f"{name} must be a whole hour 0–23; got {value!r}.")
            if not 0 <= value <= 23:
                raise ValueError(f"{name} must be a whole hour 0–23; got {value}.")
        if self.evening_start <= self.morning_end:
            raise ValueError(
                f"A night must wrap midnight: evening_start ({self.evening_start}) must be later "
                f"than morning_end ({self.morning_end})."
            )

    @property
    def label(self) -> str:
        """The night as text, e.g. ``'18:00–06:00'``."""
        return f"{self.evening_start:02d}:00–{self.morning_end:02d}:00"

    @property
    def hours(self) -> tuple[int, ...]:
        """The clock hours of the night in the order they happen (evening first)."""
        return tuple(range(self.evening_start, 24)) + tuple(range(self.morning_end))

    @property
    def n_hours(self) -> int:
        """How many clock hours the night spans (12 for 18:00–06:00)."""
        return 24 - self.evening_start + self.morning_end


def day_number(value: int | np.integer | date | str | np.datetime64) -> int:
    """Return a date as days since 1970-01-01 (the ``day`` and night numbers of this module).

    Examples
    --------
    >>> day_number("2024-10-26"), day_number(date(1970, 1, 2)), day_number(19_000)
    (20022, 1, 19000)
    """
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a date.")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, str):
        value = np.datetime64(value[:10], "D")
    elif isinstance(value, date):
        value = np.datetime64(value, "D")
    return int((value.astype("datetime64[D]") - _EPOCH).astype(np.int64))


def _iso(days: ArrayLike) -> NDArray[np.str_]:
    return np.datetime_as_string(_EPOCH + np.asarray(days, dtype=np.int64), unit="D")


def _from_iso(text: pd.Series) -> NDArray[np.int64]:
    return (np.asarray(text, dtype="datetime64[D]") - _EPOCH).astype(np.int64)


def night_of(day: ArrayLike, hour: ArrayLike, rule: NightRule | None = None) -> NDArray[np.int32]:
    """Return the night each incident belongs to, as the day number of the night's start date.

    Parameters
    ----------
    day : array-like of int
        Days since 1970-01-01 of each incident's local date, ``-1`` where unknown.
    hour : array-like of int
        Local clock hour 0–23 of each incident, ``-1`` where unknown.
    rule : NightRule, optional
        When nights run; 18:00–06:00 if omitted.

    Returns
    -------
    numpy.ndarray of int32
        The day number of the date the night started on: the same date for hours at or after
        ``evening_start``, the day before for hours before ``morning_end``, and ``-1`` for
        daytime hours and for incidents without a date or an hour.

    Raises
    ------
    ValueError
        If ``day`` and ``hour`` differ in shape.

    Notes
    -----
    Nights follow local clock time, as the store holds local dates and hours. On the night the
    clocks go back (the last Saturday of October) the hour 01:00–01:59 happens twice and both
    belong to that Saturday night, which is therefore 13 hours long; on the night they go
    forward (the last Saturday of March) there is no 01:00 hour and the night is 11 hours
    long. Counts per night are not adjusted for this: a night is a night to a patrol plan.

    Examples
    --------
    >>> fri = day_number("2024-10-25")  # a Friday
    >>> out = night_of([fri, fri, fri + 1, fri + 1, -1], [17, 23, 2, 6, 23])
    >>> np.where(out >= 0, out - fri, -1).tolist()  # 0 = Friday night
    [-1, 0, 0, -1, -1]
    >>> night_of([fri + 1], [3], NightRule(20, 4)).tolist() == [fri]
    True
    """
    rule = NightRule() if rule is None else rule
    d = np.asarray(day, dtype=np.int64)
    h = np.asarray(hour, dtype=np.int64)
    if d.shape != h.shape:
        raise ValueError(f"day and hour differ in shape: {d.shape} and {h.shape}.")
    known = (d >= 0) & (h >= 0)
    evening = known & (h >= rule.evening_start)
    morning = known & (h < rule.morning_end)
    out = np.full(d.shape, -1, dtype=np.int32)
    out[evening] = d[evening]
    out[morning] = d[morning] - 1
    return out


def is_weekend_night(night: ArrayLike) -> NDArray[np.bool_]:
    """Return True for Friday and Saturday nights (by the night's start date).

    Parameters
    ----------
    night : array-like of int
        Night numbers from :func:`night_of`; ``-1`` (no night) is never a weekend night.

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> fri = day_number("2024-10-25")
    >>> is_weekend_night([fri - 1, fri, fri + 1, fri + 2, -1]).tolist()
    [False, True, True, False, False]
    """
    n = np.asarray(night, dtype=np.int64)
    dow = (n + _THURSDAY_OFFSET) % 7
    return (n >= 0) & ((dow == _FRIDAY) | (dow == _SATURDAY))


# --------------------------------------------------------------------------------------------
# Per-zone figures
# --------------------------------------------------------------------------------------------


def _zone_array(zone: ArrayLike, n_zones: int, length: int | None = None) -> NDArray[np.int64]:
    z = np.asarray(zone, dtype=np.int64)
    if z.ndim != 1:
        raise ValueError("zone must be a one-dimensional array of zone numbers.")
    if length is not None and z.size != length:
        raise ValueError(f"zone must have one value per incident; got {z.size} for {length}.")
    if n_zones < 0:
        raise ValueError(f"n_zones must be zero or more; got {n_zones}.")
    if z.size and z.max() >= n_zones:
        raise ValueError(f"zone holds {int(z.max())}, but there are only {n_zones} zones.")
    return z


def nightly_counts(
    zone: ArrayLike,
    night: ArrayLike,
    n_zones: int,
    *,
    first_night: int | date | str | None = None,
    last_night: int | date | str | None = None,
) -> pd.DataFrame:
    """Count incidents per zone per night, with a row for every night of the range.

    Parameters
    ----------
    zone : array-like of int
        Zone of each incident, ``0..n_zones-1``, or ``-1`` for none.
    night : array-like of int
        Night of each incident from :func:`night_of` (``-1`` = not at night).
    n_zones : int
        Number of zones; every zone gets rows, even one without incidents.
    first_night, last_night : int, datetime.date or str, optional
        The range of nights (inclusive), as day numbers, dates or ISO dates. Nights outside it
        are left out. If omitted, the first or last night any incident falls on.

    Returns
    -------
    pandas.DataFrame
        ``zone`` (int), ``night`` (ISO date the night started), ``weekend`` (Friday or
        Saturday night) and ``count``, one row per zone and night, sorted by zone then night.
        Nights without incidents have ``count`` 0: a median over nights needs them.

    Raises
    ------
    ValueError
        If the arrays differ in length, a zone number is ``n_zones`` or more, or
        ``last_night`` is before ``first_night``.

    Examples
    --------
    >>> fri = day_number("2024-10-25")
    >>> t = nightly_counts([0, 0, 1, -1], [fri, fri + 1, fri + 1, fri], 2,
    ...                    first_night="2024-10-25", last_night="2024-10-27")
    >>> t.loc[t["zone"] == 0, ["night", "weekend", "count"]].to_numpy().tolist()
    [['2024-10-25', True, 1], ['2024-10-26', True, 1], ['2024-10-27', False, 0]]
    >>> len(t)
    6
    """
    n_arr = np.asarray(night, dtype=np.int64)
    z = _zone_array(zone, n_zones, n_arr.size)
    dated = (n_arr >= 0) & (z >= 0)
    if first_night is None or last_night is None:
        if dated.any():
            seen_first, seen_last = int(n_arr[dated].min()), int(n_arr[dated].max())
        else:
            seen_first, seen_last = 0, -1
    first = seen_first if first_night is None else day_number(first_night)
    last = seen_last if last_night is None else day_number(last_night)
    if first_night is not None and last_night is not None and last < first:
        raise ValueError(
            f"last_night ({_iso([last])[0]}) is before first_night ({_iso([first])[0]})."
        )
    n_nights = max(last - first + 1, 0)
    keep = dated & (n_arr >= first) & (n_arr <= last)
    flat = z[keep] * n_nights + (n_arr[keep] - first)
    counts = np.bincount(flat, minlength=n_zones * n_nights)
    nights = np.arange(first, first + n_nights, dtype=np.int64)
    all_nights = np.tile(nights, n_zones)
    return pd.DataFrame(
        {
            "zone": np.repeat(np.arange(n_zones, dtype=np.int64), n_nights),
            "night": pd.array(_iso(all_nights), dtype="str"),
            "weekend": is_weekend_night(all_nights),
            "count": counts.astype(np.int64),
        }
    )


def hour_profile(
    zone: ArrayLike, hour: ArrayLike, n_zones: int, rule: NightRule | None = None
) -> NDArray[np.int64]:
    """Count each zone's night-time incidents by clock hour, in the order the night runs.

    Parameters
    ----------
    zone : array-like of int
        Zone of each incident, ``0..n_zones-1``, or ``-1`` for none.
    hour : array-like of int
        Local clock hour of each incident, ``-1`` where unknown.
    n_zones : int
        Number of zones (rows of the result).
    rule : NightRule, optional
        When nights run; 18:00–06:00 if omitted.

    Returns
    -------
    numpy.ndarray of int64, shape (n_zones, rule.n_hours)
        Column ``j`` is hour ``rule.hours[j]``: 18, 19, …, 23, 0, …, 5 by default. Daytime
        hours and unknown hours are not counted.

    Examples
    --------
    >>> hour_profile([0, 0, 0, 1, -1], [18, 5, 12, 23, 23], 2, NightRule(18, 6))
    array([[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
           [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]])
    """
    rule = NightRule() if rule is None else rule
    h = np.asarray(hour, dtype=np.int64)
    z = _zone_array(zone, n_zones, h.size)
    at_night = (h >= 0) & ((h >= rule.evening_start) | (h < rule.morning_end)) & (z >= 0)
    position = (h[at_night] - rule.evening_start) % 24
    flat = z[at_night] * rule.n_hours + position
    counts = np.bincount(flat, minlength=n_zones * rule.n_hours)
    return counts.reshape(n_zones, rule.n_hours).astype(np.int64)


def night_share(
    zone: ArrayLike, night: ArrayLike, n_zones: int, *, hour: ArrayLike
) -> pd.DataFrame:
    """Return the share of each zone's incidents (with a known hour) that happen at night.

    Parameters
    ----------
    zone : array-like of int
        Zone of each incident, ``0..n_zones-1``, or ``-1`` for none.
    night : array-like of int
        Night of each incident from :func:`night_of` (``-1`` = daytime or unknown time).
    n_zones : int
        Number of zones (rows of the result).
    hour : array-like of int
        Local clock hour of each incident, ``-1`` where unknown. Needed because ``night`` alone
        cannot tell a daytime incident (which counts in ``all_count``) from one without a time
        (which counts nowhere).

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``night_count`` (incidents at night), ``all_count`` (incidents with a known
        date and hour) and ``share`` (``night_count / all_count``, NaN for a zone without any).

    Examples
    --------
    >>> t = night_share([0, 0, 0, 0, 1], [5, -1, -1, 6, -1], 2, hour=[22, 12, -1, 1, 9])
    >>> t.to_numpy().tolist()
    [[0.0, 2.0, 3.0, 0.6666666666666666], [1.0, 0.0, 1.0, 0.0]]
    """
    n_arr = np.asarray(night, dtype=np.int64)
    h = np.asarray(hour, dtype=np.int64)
    z = _zone_array(zone, n_zones, n_arr.size)
    if h.shape != n_arr.shape:
        raise ValueError(f"hour and night differ in shape: {h.shape} and {n_arr.shape}.")
    in_zone = z >= 0
    timed = in_zone & (h >= 0)
    at_night = in_zone & (n_arr >= 0)
    night_count = np.bincount(z[at_night], minlength=n_zones).astype(np.int64)
    all_count = np.bincount(z[timed], minlength=n_zones).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(all_count > 0, night_count / np.maximum(all_count, 1), np.nan)
    return pd.DataFrame(
        {
            "zone": np.arange(n_zones, dtype=np.int64),
            "night_count": night_count,
            "all_count": all_count,
            "share": share,
        }
    )


# --------------------------------------------------------------------------------------------
# Red / amber / green
# --------------------------------------------------------------------------------------------


def weekend_counts(nightly: pd.DataFrame) -> pd.DataFrame:
    """Add up each zone's Friday and Saturday nights into weekends.

    Parameters
    ----------
    nightly : pandas.DataFrame
        A table from :func:`nightly_counts` (columns ``zone``, ``night``, ``count``).

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``weekend`` (ISO date of the Friday) and ``count`` (Friday night plus
        Saturday night), sorted by zone then weekend. A weekend is listed only when both of
        its nights are in ``nightly``: half a weekend at either end of the range would be
        rated as if it were quiet.

    Examples
    --------
    >>> fri = day_number("2024-10-25")
    >>> nightly = nightly_counts([0, 0, 0], [fri, fri + 1, fri + 2], 1,
    ...                          first_night="2024-10-24", last_night="2024-11-01")
    >>> weekend_counts(nightly).to_numpy().tolist()
    [[0, '2024-10-25', 2]]
    """
    nights = _from_iso(nightly["night"])
    dow = (nights + _THURSDAY_OFFSET) % 7
    weekend = (dow == _FRIDAY) | (dow == _SATURDAY)
    friday = nights - (dow == _SATURDAY)
    parts = pd.DataFrame(
        {
            "zone": np.asarray(nightly["zone"], dtype=np.int64)[weekend],
            "friday": friday[weekend],
            "count": np.asarray(nightly["count"], dtype=np.int64)[weekend],
        }
    )
    grouped = parts.groupby(["zone", "friday"], sort=True)["count"].agg(["sum", "size"])
    grouped = grouped[grouped["size"] == 2].reset_index()
    return pd.DataFrame(
        {
            "zone": grouped["zone"].to_numpy(dtype=np.int64),
            "weekend": pd.array(_iso(grouped["friday"].to_numpy()), dtype="str"),
            "count": grouped["sum"].to_numpy(dtype=np.int64),
        }
    )


def _quantile_name(q: float) -> str:
    if q == 0.5:
        return "median"
    pct = q * 100
    if abs(pct - round(pct)) < 1e-9:
        p = int(round(pct))
        suffix = "th" if 10 <= p % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(p % 10, "th")
        return f"{p}{suffix} percentile"
    return f"{q:g} quantile"


@dataclass(frozen=True)
class StatusRule:
    """How a weekend (or night) is rated red, amber or green.

    In ``"history"`` mode each weekend is compared with the same zone's *previous* weekends
    only, so a rating never uses what came after it:

    * **green** when the count is at or below the ``green_below`` quantile of those weekends
      (the median by default): a typical weekend or quieter;
    * **red** when the count is strictly above the ``red_above`` quantile (the 90th
      percentile): busier than nine weekends in ten;
    * **amber** in between, including a count exactly at the ``red_above`` quantile;
    * **not enough history** while the zone has fewer than ``min_history`` previous weekends.

    So with a history of only zeros, a quiet weekend (0) is green and any incident makes it red.
    Quantiles interpolate linearly between counts (numpy's default).

    In ``"fixed"`` mode counts are rated against fixed numbers: red at ``fixed_red`` or more,
    amber at ``fixed_amber`` or more, green below ``fixed_amber``; every weekend gets a status.

    Parameters
    ----------
    green_below : float
        Quantile (0–1) of previous counts at or below which a count is green.
    red_above : float
        Quantile (0–1) of previous counts above which a count is red; at least ``green_below``.
    min_history : int
        Previous weekends (or nights) needed before a rating is given.
    mode : {"history", "fixed"}
        Compare with the zone's own history, or with ``fixed_amber`` and ``fixed_red``.
    fixed_amber, fixed_red : int, optional
        Counts at which amber and red start in ``"fixed"`` mode (both required there).
    max_history : int, optional
        Use at most this many of the latest previous weekends (e.g. 52 for a year), so that an
        old pattern fades out; all previous weekends if omitted.

    Raises
    ------
    ValueError
        For quantiles outside 0–1 or out of order, ``min_history`` below 1, ``max_history``
        below ``min_history``, an unknown mode, or fixed mode without both counts in order.

    Examples
    --------
    >>> print(StatusRule().describe())
    Each weekend is compared with the zone's own previous weekends (at least 8): green at or below their median, red above their 90th percentile, amber between.
    >>> print(StatusRule(mode="fixed", fixed_amber=10, fixed_red=20).describe())
    Each weekend is rated on its own count of incidents: green below 10, amber from 10, red from 20.
    """  # noqa: E501

    green_below: float = 0.5
    red_above: float = 0.9
    min_history: int = 8
    mode: Literal["history", "fixed"] = "history"
    fixed_amber: int | None = None
    fixed_red: int | None = None
    max_history: int | None = None

    def __post_init__(self) -> None:
        if self.mode not in ("history", "fixed"):
            raise ValueError(f"mode must be 'history' or 'fixed'; got {self.mode!r}.")
        if not (0.0 <= self.green_below <= self.red_above <= 1.0):
            raise ValueError(
                "green_below and red_above are quantiles with 0 <= green_below <= red_above "
                f"<= 1; got {self.green_below} and {self.red_above}."
            )
        if int(self.min_history) != self.min_history or self.min_history < 1:
            raise ValueError(
                f"min_history must be a whole number of 1 or more; got {self.min_history!r}."
            )
        if self.max_history is not None and self.max_history < self.min_history:
            raise ValueError(
                f"max_history ({self.max_history}) is below min_history ({self.min_history})."
            )
        if self.mode == "fixed":
            if self.fixed_amber is None or self.fixed_red is None:
                raise ValueError("fixed mode needs both fixed_amber and fixed_red counts.")
            if not 0 <= self.fixed_amber <= self.fixed_red:
                raise ValueError(
                    f"fixed counts must satisfy 0 <= fixed_amber <= fixed_red; got "
                    f"{self.fixed_amber} and {self.fixed_red}."
                )

    def describe(self, unit: Literal["weekend", "night"] = "weekend") -> str:
        """State the rule in plain English, for a legend or a briefing.

        Parameters
        ----------
        unit : {"weekend", "night"}
            What is being rated: weekends (:func:`weekend_status`) or single nights
            (:func:`night_status`, compared with the same night of the week).

        Returns
        -------
        str

        Examples
        --------
        >>> print(StatusRule(min_history=4, max_history=52).describe("night"))
        Each night is compared with the zone's own previous nights of the same weekday (at least 4, the latest 52 at most): green at or below their median, red above their 90th percentile, amber between.
        """  # noqa: E501
        if self.mode == "fixed":
            return (
                f"Each {unit} is rated on its own count of incidents: green below "
                f"{self.fixed_amber}, amber from {self.fixed_amber}, red from {self.fixed_red}."
            )
        what = "weekends" if unit == "weekend" else "nights of the same weekday"
        limit = f"at least {self.min_history}"
        if self.max_history is not None:
            limit += f", the latest {self.max_history} at most"
        return (
            f"Each {unit} is compared with the zone's own previous {what} ({limit}): green at "
            f"or below their {_quantile_name(self.green_below)}, red above their "
            f"{_quantile_name(self.red_above)}, amber between."
        )


def _rate(table: pd.DataFrame, group: NDArray[np.int64], rule: StatusRule) -> pd.DataFrame:
    # ``table`` is sorted so that each group's rows run in date order; ``group`` labels them.
    count = table["count"].to_numpy(dtype=np.int64)
    out = table.copy()
    if rule.mode == "fixed":
        status = np.where(
            count >= rule.fixed_red, "red", np.where(count >= rule.fixed_amber, "amber", "green")
        )
        out["status"] = pd.array(status, dtype="str")
        out["median"] = np.nan
        out["p90"] = np.nan
        return out
    previous = pd.Series(count, dtype="float64").groupby(group, sort=False).shift(1)
    thresholds = []
    for q in (rule.green_below, rule.red_above):
        by_group = previous.groupby(group, sort=False)
        if rule.max_history is None:
            moving = by_group.expanding(min_periods=rule.min_history)
        else:
            # The series is shifted by one, so a window ending at a row holds the
            # max_history rows before it.
            moving = by_group.rolling(rule.max_history, min_periods=rule.min_history)
        values = moving.quantile(q).reset_index(level=0, drop=True).sort_index()
        thresholds.append(np.round(values.to_numpy(dtype=np.float64), _QUANTILE_DECIMALS))
    low, high = thresholds
    rated = ~np.isnan(low)
    status = np.where(count > high, "red", np.where(count <= low, "green", "amber"))
    status = np.where(rated, status, "not enough history")
    out["status"] = pd.array(status, dtype="str")
    out["median"] = low
    out["p90"] = high
    return out


def weekend_status(weekends: pd.DataFrame, rule: StatusRule | None = None) -> pd.DataFrame:
    """Rate each zone's weekends red, amber or green against its own previous weekends.

    Parameters
    ----------
    weekends : pandas.DataFrame
        A table from :func:`weekend_counts` (columns ``zone``, ``weekend``, ``count``).
    rule : StatusRule, optional
        How to rate; :class:`StatusRule` defaults if omitted.

    Returns
    -------
    pandas.DataFrame
        ``zone``, ``weekend``, ``count``, ``status`` (one of :data:`STATUSES`) and the
        thresholds used: ``median`` (the ``green_below`` quantile, the median by default) and
        ``p90`` (the ``red_above`` quantile), computed from the zone's previous weekends only,
        never the weekend being rated. They are NaN where there is not enough history and in
        fixed mode. Sorted by zone then weekend.

    Notes
    -----
    "Previous weekends" are the earlier rows of the same zone in ``weekends``; a table from
    :func:`weekend_counts` holds every weekend of the range, quiet ones included.

    Examples
    --------
    >>> weekends = pd.DataFrame({"zone": [0] * 5, "count": [3, 5, 4, 4, 9],
    ...                          "weekend": ["2024-01-05", "2024-01-12", "2024-01-19",
    ...                                      "2024-01-26", "2024-02-02"]})
    >>> t = weekend_status(weekends, StatusRule(min_history=3))
    >>> t[["weekend", "count", "status", "median", "p90"]].to_numpy().tolist()[3:]
    [['2024-01-26', 4, 'green', 4.0, 4.8], ['2024-02-02', 9, 'red', 4.0, 4.7]]
    """
    rule = StatusRule() if rule is None else rule
    table = pd.DataFrame(
        {
            "zone": np.asarray(weekends["zone"], dtype=np.int64),
            "weekend": pd.array(np.asarray(weekends["weekend"], dtype=str), dtype="str"),
            "count": np.asarray(weekends["count"], dtype=np.int64),
        }
    )
    table = table.sort_values(["zone", "weekend"], kind="stable").reset_index(drop=True)
    return _rate(table, table["zone"].to_numpy(), rule)


def night_status(nightly: pd.DataFrame, rule: StatusRule | None = None) -> pd.DataFrame:
    """Rate single nights against the same zone's previous nights of the same weekday.

    A Friday night is compared with the zone's previous Friday nights, a Saturday with
    previous Saturdays, and so on, with the same rule as :func:`weekend_status`
    (``min_history`` then counts previous nights of that weekday; in fixed mode the fixed
    counts are per night).

    Parameters
    ----------
    nightly : pandas.DataFrame
        A table from :func:`nightly_counts` (columns ``zone``, ``night``, ``count``; other
        columns are kept).
    rule : StatusRule, optional
        How to rate; :class:`StatusRule` defaults if omitted.

    Returns
    -------
    pandas.DataFrame
        The rows of ``nightly`` sorted by zone then night, with ``status``, ``median`` and
        ``p90`` added (thresholds from previous nights of the same weekday only).

    Examples
    --------
    >>> fri = day_number("2024-01-05")
    >>> nights = [fri + 7 * k for k in range(4)] + [fri + 1]
    >>> nightly = nightly_counts([0, 0, 0, 0, 0], nights, 1,
    ...                          first_night="2024-01-05", last_night="2024-01-26")
    >>> t = night_status(nightly, StatusRule(min_history=2))
    >>> t.loc[t["night"] == "2024-01-26", ["count", "status"]].to_numpy().tolist()
    [[1, 'green']]
    >>> t.loc[t["night"] == "2024-01-20", ["count", "status"]].to_numpy().tolist()
    [[0, 'green']]
    """
    rule = StatusRule() if rule is None else rule
    table = nightly.copy()
    table["zone"] = np.asarray(table["zone"], dtype=np.int64)
    table["count"] = np.asarray(table["count"], dtype=np.int64)
    table = table.sort_values(["zone", "night"], kind="stable").reset_index(drop=True)
    weekday = (_from_iso(table["night"]) + _THURSDAY_OFFSET) % 7
    group = table["zone"].to_numpy() * 7 + weekday
    return _rate(table, group, rule)


# --------------------------------------------------------------------------------------------
# Zones and venues
# --------------------------------------------------------------------------------------------


def _empty_zones(with_names: bool) -> gpd.GeoDataFrame:
    columns: dict[str, pd.Series] = {
        "rank": pd.Series(dtype=np.int64),
        "count": pd.Series(dtype=np.int64),
        "clusters": pd.Series(dtype=np.int64),
        "area_km2": pd.Series(dtype=np.float64),
        "centroid_e": pd.Series(dtype=np.float64),
        "centroid_n": pd.Series(dtype=np.float64),
    }
    if with_names:
        columns["name"] = pd.Series(dtype="str")
    return gpd.GeoDataFrame(columns, geometry=gpd.GeoSeries([], crs=CRS_METRIC), crs=CRS_METRIC)


def suggest_zones(
    easting: ArrayLike,
    northing: ArrayLike,
    *,
    eps_m: float = 150.0,
    min_samples: int = 25,
    buffer_m: float = 100.0,
    merge_gap_m: float = 100.0,
    names: Callable[[float, float], str] | None = None,
) -> gpd.GeoDataFrame:
    """Suggest night-time economy zones where night-time incidents cluster.

    The caller passes only incidents in NTE hours (by default Friday and Saturday nights,
    20:00–06:00). They are clustered with :func:`geo.dbscan.dbscan`; each cluster's footprint is
    its convex hull grown by ``buffer_m``; footprints less than ``merge_gap_m`` apart are merged
    into one zone; and every incident inside a zone (noise points too) is counted.

    Parameters
    ----------
    easting, northing : array-like of float
        Incident coordinates in British National Grid (EPSG:27700), metres.
    eps_m : float
        DBSCAN neighbourhood radius, metres.
    min_samples : int
        DBSCAN core-point threshold (incidents within ``eps_m``, the point itself included).
    buffer_m : float
        Metres by which each cluster's convex hull is grown into its footprint.
    merge_gap_m : float
        Footprints closer than this (metres) become one zone. The merged zone is the union of
        the footprints with the gaps between them closed (a buffer out and back in by half the
        gap); if that still leaves separate pieces, the convex hull of the footprints.
    names : callable, optional
        Called as ``names(centroid_e, centroid_n)`` for each zone; its text goes in a ``name``
        column (e.g. the nearest town centre).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per zone in EPSG:27700, most incidents first: ``rank`` (1 = most), ``count``
        (incidents inside the zone), ``clusters`` (DBSCAN clusters merged into it),
        ``area_km2``, ``centroid_e``, ``centroid_n`` (mean position of the incidents inside),
        ``name`` (only with ``names``) and ``geometry`` (a polygon). Ties in count are broken
        by position, so the result is the same on every run.

    Raises
    ------
    ValueError
        For coordinates of different lengths or not finite, or a negative distance.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> e = np.concatenate([rng.normal(0, 20, 60), rng.normal(3000, 20, 40)])
    >>> n = np.concatenate([rng.normal(0, 20, 60), rng.normal(0, 20, 40)])
    >>> zones = suggest_zones(e, n, names=lambda x, y: "west" if x < 1500 else "east")
    >>> zones[["rank", "count", "name"]].to_numpy().tolist()
    [[1, 60, 'west'], [2, 40, 'east']]
    >>> str(zones.crs)
    'EPSG:27700'
    """
    x = np.asarray(easting, dtype=np.float64).reshape(-1)
    y = np.asarray(northing, dtype=np.float64).reshape(-1)
    if x.shape != y.shape:
        raise ValueError(f"easting and northing differ in length: {x.size} and {y.size}.")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("easting and northing must be finite numbers (metres, EPSG:27700).")
    for name, value in (("buffer_m", buffer_m), ("merge_gap_m", merge_gap_m)):
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(f"{name} must be a distance of zero or more metres; got {value!r}.")
    with_names = names is not None
    if x.size == 0:
        return _empty_zones(with_names)
    labels = dbscan(x, y, eps_m=eps_m, min_samples=min_samples)
    clusters = cluster_summary(labels, x, y, buffer_m=buffer_m)
    if clusters.empty:
        return _empty_zones(with_names)
    # Sorting footprints by position first makes grouping and union independent of how DBSCAN
    # happened to number the clusters.
    clusters = clusters.sort_values(["centroid_e", "centroid_n"], kind="stable")
    footprints = np.asarray(clusters.geometry.to_numpy(), dtype=object)

    half_gap = merge_gap_m / 2.0
    grown = shapely.buffer(footprints, half_gap) if half_gap > 0 else footprints
    pieces = shapely.get_parts(shapely.union_all(grown))
    tree = shapely.STRtree(pieces)
    # Each footprint lies inside exactly one piece of the grown union: the piece it belongs to
    # is the one containing its representative point.
    piece_of = tree.query(shapely.point_on_surface(footprints), predicate="intersects")
    group = np.empty(footprints.size, dtype=np.int64)
    group[piece_of[0]] = piece_of[1]

    zones = []
    merged_clusters = []
    for g in np.unique(group):
        members = footprints[group == g]
        union = shapely.union_all(members)
        if members.size > 1 and half_gap > 0:
            closed = shapely.buffer(shapely.buffer(union, half_gap), -half_gap)
            shape = shapely.union(closed, union)
            if shapely.get_num_geometries(shape) != 1:
                shape = shapely.convex_hull(union)
        else:
            shape = union
        zones.append(shape)
        merged_clusters.append(int(members.size))
    zone_geoms = np.asarray(zones, dtype=object)

    points = shapely.points(x, y)
    hit = shapely.STRtree(zone_geoms).query(points, predicate="intersects")
    count = np.bincount(hit[1], minlength=zone_geoms.size)
    sum_e = np.bincount(hit[1], weights=x[hit[0]], minlength=zone_geoms.size)
    sum_n = np.bincount(hit[1], weights=y[hit[0]], minlength=zone_geoms.size)
    centroid_e = sum_e / np.maximum(count, 1)
    centroid_n = sum_n / np.maximum(count, 1)
    order = np.lexsort((centroid_n, centroid_e, -count))

    table = pd.DataFrame(
        {
            "rank": np.arange(1, order.size + 1, dtype=np.int64),
            "count": count[order].astype(np.int64),
            "clusters": np.asarray(merged_clusters, dtype=np.int64)[order],
            "area_km2": shapely.area(zone_geoms[order]) / 1e6,
            "centroid_e": centroid_e[order],
            "centroid_n": centroid_n[order],
        }
    )
    if names is not None:
        table["name"] = pd.array(
            [
                str(names(float(e), float(n)))
                for e, n in zip(table["centroid_e"], table["centroid_n"], strict=True)
            ],
            dtype="str",
        )
    return gpd.GeoDataFrame(table, geometry=list(zone_geoms[order]), crs=CRS_METRIC)


def rank_by_nearby(
    points_e: ArrayLike,
    points_n: ArrayLike,
    incident_e: ArrayLike,
    incident_n: ArrayLike,
    *,
    radius_m: float,
) -> NDArray[np.int64]:
    """Count the incidents within ``radius_m`` of each point (e.g. each licensed venue).

    Parameters
    ----------
    points_e, points_n : array-like of float
        Venue coordinates in British National Grid (EPSG:27700), metres.
    incident_e, incident_n : array-like of float
        Incident coordinates in British National Grid, metres.
    radius_m : float
        Search radius in metres; an incident exactly ``radius_m`` away counts.

    Returns
    -------
    numpy.ndarray of int64
        Number of incidents near each venue, in the venues' order (sort it to rank them).

    Raises
    ------
    ValueError
        For arrays of different lengths, coordinates that are not finite, or a negative radius.

    Examples
    --------
    >>> rank_by_nearby([0.0, 100.0], [0.0, 0.0], [3.0, 0.0, 99.0, 500.0], [4.0, 1.0, 0.0, 0.0],
    ...                radius_m=5.0).tolist()
    [2, 1]
    """
    pe = np.asarray(points_e, dtype=np.float64).reshape(-1)
    pn = np.asarray(points_n, dtype=np.float64).reshape(-1)
    ie = np.asarray(incident_e, dtype=np.float64).reshape(-1)
    inn = np.asarray(incident_n, dtype=np.float64).reshape(-1)
    if pe.shape != pn.shape or ie.shape != inn.shape:
        raise ValueError("each easting array needs a northing array of the same length.")
    if not all(np.isfinite(a).all() for a in (pe, pn, ie, inn)):
        raise ValueError("coordinates must be finite numbers (metres, EPSG:27700).")
    if not (math.isfinite(radius_m) and radius_m >= 0):
        raise ValueError(f"radius_m must be a distance of zero or more metres; got {radius_m!r}.")
    if pe.size == 0 or ie.size == 0:
        return np.zeros(pe.size, dtype=np.int64)
    tree = cKDTree(np.column_stack((ie, inn)))
    counts = tree.query_ball_point(np.column_stack((pe, pn)), r=radius_m, return_length=True)
    return np.asarray(counts, dtype=np.int64)
