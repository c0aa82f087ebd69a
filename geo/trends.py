"""Trends for Violence Reduction Unit analysts: periods, series, year on year and league tables.

VRU analysts report by day, week, month, financial-year quarter and financial year (April to
March), compare districts by rate per 1,000 residents and always show counts with the baseline
named. Published claims often pick the best month or a convenient baseline; everything here
computes each change itself from counts it also returns, so a percent can always be checked
against the two numbers beside it.

Dates are day numbers: days since 1970-01-01 of the local date, as
:class:`geo.query.IncidentFrame` holds them in ``day`` (``-1`` where unknown). Month-only rows
(police.uk) carry the first day of their month in ``month_first``; they can be placed in a
month, quarter or financial year but not in a day or a week, and every function says how many
rows it could not place. Dates before 1970 are not supported (``-1`` is the "unknown" marker).

Periods are integer keys, consecutive periods differing by one:

- ``day``: the day number; label ``2024-06-03``.
- ``week``: ISO weeks (starting Monday) since the week of 1969-12-29; label ``w/c 2024-06-03``.
- ``month``: months since January 1970; label ``2024-06``.
- ``fyq``: UK financial-year quarters since April 1969; label ``2024/25 Q1``.
- ``fy``: the calendar year in which the financial year starts; label ``2024/25``.

Financial-year quarters: Q1 is April to June, Q2 July to September, Q3 October to December and
Q4 January to March, so January 2025 is 2024/25 Q4.

Baselines leave out events (lockdowns, weeks of action) saved in an events calendar; see
:class:`Event`, :func:`load_events` and :func:`excluded_days`. No events are built in;
:func:`uk_covid_lockdowns` returns the three national lockdowns in England for a user who
wants them.

Tables report what they left out in ``DataFrame.attrs`` (rows not placed, incomplete periods
dropped, baseline periods or days excluded) so a caller can say so beside the chart.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

from geo.atomic import write_text_atomic
from geo.settings import SMALL_NUMBER_THRESHOLD, limits

__all__ = [
    "DAYS_PER_YEAR",
    "EVENTS_FILE",
    "EVENT_KINDS",
    "PERIODS",
    "SEASONS",
    "UNPLACED",
    "Event",
    "add_event",
    "day_iso",
    "delete_event",
    "event_bounds",
    "events_dir",
    "excluded_days",
    "league_table",
    "load_events",
    "normalise_to_baseline",
    "peaked_last_summer",
    "period_bounds",
    "period_key",
    "period_label",
    "rolling_12_months",
    "save_events",
    "seasonal_profile",
    "series",
    "to_day",
    "uk_covid_lockdowns",
]

Period = Literal["day", "week", "month", "fyq", "fy"]
DayLike = int | np.integer | date | str | np.datetime64

#: The periods a series can be counted in.
PERIODS: tuple[str, ...] = ("day", "week", "month", "fyq", "fy")
#: Key given to a row that cannot be placed in the requested period.
UNPLACED = -1
#: Days in an average year, used to put rates for periods of different lengths on one footing.
DAYS_PER_YEAR = 365.25
#: The kinds of event the calendar knows.
EVENT_KINDS: tuple[str, ...] = ("lockdown", "week of action", "operation", "recording change",
                                "other")
#: Name of the events file inside the events folder.
EVENTS_FILE = "events.json"
#: Meteorological seasons, in the order the year to August runs through them.
SEASONS: tuple[str, ...] = ("autumn", "winter", "spring", "summer")

_EPOCH = np.datetime64("1970-01-01", "D")
_EPOCH_DATE = date(1970, 1, 1)
# 1970-01-01 was a Thursday: adding 3 makes Monday 1969-12-29 the start of week 0.
_THURSDAY_OFFSET = 3
# The financial year starts in April, month 3 counted from January = 0; shifting month keys by
# 9 makes April 1969 quarter 0 so that every key from 1970 on is positive.
_FY_SHIFT = 9
_FY_BASE_YEAR = 1969
_MONTH_LABEL = re.compile(r"^\d{4}-\d{2}$")
_EVENTS_VERSION = 1
#: Events may be planned ahead (a week of action next year), but not for ever: an event ends
#: at the latest on 31 December this many years after today.
EVENT_YEARS_AHEAD = 5


def event_bounds() -> tuple[date, date]:
    """Return the earliest start and latest end an event may have.

    The earliest is the earliest incident date Hotspot accepts (``HOTSPOT_EARLIEST_DATE``,
    1 January 1990 by default); the latest is 31 December :data:`EVENT_YEARS_AHEAD` years on.

    Examples
    --------
    >>> lo, hi = event_bounds()
    >>> lo.isoformat(), (hi.month, hi.day)
    ('1990-01-01', (12, 31))
    """
    lim = limits()
    return lim.earliest_date, date(lim.latest_date.year + EVENT_YEARS_AHEAD, 12, 31)


# --------------------------------------------------------------------------------------------
# Day numbers
# --------------------------------------------------------------------------------------------


def to_day(value: DayLike) -> int:
    """Return the day number (days since 1970-01-01) of a date, ISO string or day number.

    Examples
    --------
    >>> to_day("2024-06-03"), to_day(date(1970, 1, 2)), to_day(19877)
    (19877, 1, 19877)
    """
    if isinstance(value, bool):
        raise TypeError("a day must be a date, an ISO date string or a day number, not a bool")
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, datetime):
        value = value.date()
    if isinstance(value, date):
        return (value - _EPOCH_DATE).days
    if isinstance(value, str):
        try:
            return to_day(date.fromisoformat(value.strip()[:10]))
        except ValueError:
            raise ValueError(f"'{value}' is not a date; write it as YYYY-MM-DD") from None
    if isinstance(value, np.datetime64):
        return int((value.astype("datetime64[D]") - _EPOCH).astype(np.int64))
    raise TypeError(f"cannot read {value!r} as a day")


def day_iso(day: int | np.integer) -> str:
    """Return the ISO date of a day number.

    Examples
    --------
    >>> day_iso(19877)
    '2024-06-03'
    """
    return str(_EPOCH + np.timedelta64(int(day), "D"))


def _iso_array(days: NDArray[np.int64]) -> list[str]:
    return [str(d) for d in (_EPOCH + days.astype("timedelta64[D]"))]


def _month_of(days: NDArray[np.int64]) -> NDArray[np.int64]:
    """Months since January 1970 of each day number."""
    return days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)


def _month_start(months: NDArray[np.int64]) -> NDArray[np.int64]:
    """Day number of the first day of each month key."""
    return (months.astype("datetime64[M]").astype("datetime64[D]") - _EPOCH).astype(np.int64)


def _month_end(months: NDArray[np.int64]) -> NDArray[np.int64]:
    """Day number of the last day of each month key."""
    return _month_start(months + 1) - 1


def _bool_array(values: ArrayLike | None, n: int) -> NDArray[np.bool_]:
    if values is None:
        return np.zeros(n, dtype=bool)
    out = np.asarray(values, dtype=bool)
    if out.shape != (n,):
        raise ValueError(f"month_only has {out.size} values for {n} rows")
    return out


def _extent(
    day: ArrayLike, month_first: ArrayLike | None, month_only: ArrayLike | None
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    """First and last day each row may have happened on, and whether the row has only a month.

    A dated row's extent is its day; a month-only row's (or a row with no day but a month) is
    its whole month. Rows that cannot be placed at all get ``-1`` for both.
    """
    d = np.asarray(day, dtype=np.int64).reshape(-1)
    n = d.size
    monthly = _bool_array(month_only, n) | (d < 0)
    first = d.copy()
    if monthly.any():
        if month_first is None:
            # Without month_first a month-only row's day, if it has one, still names its month.
            dm = d[monthly]
            has = dm >= 0
            mf = np.full(dm.size, -1, dtype=np.int64)
            mf[has] = _month_start(_month_of(dm[has]))
        else:
            mf_all = np.asarray(month_first, dtype=np.int64).reshape(-1)
            if mf_all.size != n:
                raise ValueError(f"month_first has {mf_all.size} values for {n} rows")
            mf = mf_all[monthly]
        first[monthly] = mf
    first[first < 0] = -1
    last = first.copy()
    widen = monthly & (first >= 0)
    if widen.any():
        last[widen] = _month_end(_month_of(first[widen]))
    return first, last, monthly


def _keys(first: NDArray[np.int64], monthly: NDArray[np.bool_], period: str) -> NDArray[np.int64]:
    """Period keys from :func:`_extent` output; ``UNPLACED`` where a row has no such period."""
    # A day or a week needs the day itself; a month, quarter or year only the month.
    ok = ~monthly & (first >= 0) if period in ("day", "week") else first >= 0
    key = np.full(first.size, UNPLACED, dtype=np.int64)
    key[ok] = _key_of_days(first[ok], period)
    return key


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------


def _check_period(period: str) -> None:
    if period not in PERIODS:
        raise ValueError(f"'{period}' is not a period; choose one of {', '.join(PERIODS)}")


def _key_of_days(days: NDArray[np.int64], period: str) -> NDArray[np.int64]:
    if period == "day":
        return days.copy()
    if period == "week":
        return (days + _THURSDAY_OFFSET) // 7
    months = _month_of(days)
    if period == "month":
        return months
    if period == "fyq":
        return (months + _FY_SHIFT) // 3
    return (months + _FY_SHIFT) // 12 + _FY_BASE_YEAR


def period_key(
    day: ArrayLike,
    period: str,
    *,
    month_only: ArrayLike | None = None,
    month_first: ArrayLike | None = None,
) -> NDArray[np.int64]:
    """Return the period key of every row, or ``UNPLACED`` (-1) where it cannot be placed.

    Parameters
    ----------
    day : array of int
        Day numbers (days since 1970-01-01 of the local date), ``-1`` where unknown.
    period : {"day", "week", "month", "fyq", "fy"}
        ``week`` is the ISO week starting Monday; ``fyq`` and ``fy`` are UK financial-year
        quarters and years (April to March).
    month_only : array of bool, optional
        Rows that have only a month (police.uk). They are placed by ``month_first`` in
        ``month``, ``fyq`` and ``fy`` and cannot be placed in ``day`` or ``week``.
    month_first : array of int, optional
        Day number of the first day of each row's month; used for month-only rows and rows
        whose day is unknown.

    Returns
    -------
    numpy.ndarray of int64
        Keys (see the module table); ``-1`` marks a row that could not be placed, and
        ``(key == UNPLACED).sum()`` is the number to report.

    Examples
    --------
    >>> days = np.array([to_day("2025-01-31"), to_day("2025-03-31"), to_day("2025-04-01")])
    >>> [period_label(k, "fyq") for k in period_key(days, "fyq")]
    ['2024/25 Q4', '2024/25 Q4', '2025/26 Q1']
    >>> period_key(np.array([-1, 19877]), "week", month_only=np.array([True, False]),
    ...            month_first=np.array([19875, 19875]))
    array([  -1, 2840])
    """
    _check_period(period)
    first, _, monthly = _extent(day, month_first, month_only)
    return _keys(first, monthly, period)


def period_bounds(
    key: ArrayLike, period: str
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Return the first and last day number (both inclusive) of each period key.

    Examples
    --------
    >>> s, e = period_bounds(np.array([2024]), "fy")
    >>> day_iso(s[0]), day_iso(e[0])
    ('2024-04-01', '2025-03-31')
    >>> s, e = period_bounds(period_key(np.array([to_day("2024-06-05")]), "week"), "week")
    >>> day_iso(s[0]), day_iso(e[0])
    ('2024-06-03', '2024-06-09')
    """
    _check_period(period)
    k = np.asarray(key, dtype=np.int64).reshape(-1)
    if period == "day":
        return k.copy(), k.copy()
    if period == "week":
        start = k * 7 - _THURSDAY_OFFSET
        return start, start + 6
    if period == "month":
        return _month_start(k), _month_end(k)
    if period == "fyq":
        first_month = 3 * k - _FY_SHIFT
        return _month_start(first_month), _month_end(first_month + 2)
    first_month = 12 * (k - _FY_BASE_YEAR) - _FY_SHIFT
    return _month_start(first_month), _month_end(first_month + 11)


def _fy_text(start_year: int) -> str:
    return f"{start_year}/{(start_year + 1) % 100:02d}"


def period_label(key: int | np.integer, period: str) -> str:
    """Return the label of one period key.

    Raises
    ------
    ValueError
        For ``UNPLACED`` (-1), which marks a row that could not be placed.

    Examples
    --------
    >>> day = np.array([to_day("2024-06-05")])
    >>> [period_label(period_key(day, p)[0], p) for p in PERIODS]
    ['2024-06-05', 'w/c 2024-06-03', '2024-06', '2024/25 Q1', '2024/25']
    """
    _check_period(period)
    k = int(key)
    if k == UNPLACED:
        raise ValueError("key -1 marks a row that could not be placed in a period")
    if period == "day":
        return day_iso(k)
    if period == "week":
        return "w/c " + day_iso(k * 7 - _THURSDAY_OFFSET)
    if period == "month":
        return str(np.datetime64(k, "M"))
    if period == "fyq":
        return f"{_fy_text(k // 4 + _FY_BASE_YEAR)} Q{k % 4 + 1}"
    return _fy_text(k)


# --------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------

_SERIES_COLUMNS = ["period", "label", "start", "end", "group", "count", "harm", "complete"]


def _empty_series() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.Series([], dtype="int64"),
            "label": pd.Series([], dtype="str"),
            "start": pd.Series([], dtype="str"),
            "end": pd.Series([], dtype="str"),
            "group": pd.Series([], dtype="str"),
            "count": pd.Series([], dtype="int64"),
            "harm": pd.Series([], dtype="float64"),
            "complete": pd.Series([], dtype="bool"),
        }
    )


def series(
    day: ArrayLike,
    month_first: ArrayLike | None,
    month_only: ArrayLike | None,
    period: str,
    *,
    weight: ArrayLike | None = None,
    group: ArrayLike | None = None,
    group_labels: Sequence[str] | None = None,
    start: DayLike | None = None,
    end: DayLike | None = None,
    span: tuple[DayLike, DayLike] | None = None,
    complete_only: bool = True,
    incidents: ArrayLike | None = None,
) -> pd.DataFrame:
    """Count incidents per period (and per group), empty periods included as zeros.

    Parameters
    ----------
    day, month_first, month_only : arrays
        As :class:`geo.query.IncidentFrame` holds them (``month_first`` and ``month_only`` may
        be None when every row has a day).
    period : {"day", "week", "month", "fyq", "fy"}
        See :func:`period_key`.
    weight : array of float, optional
        Harm weight of each row; ``harm`` is the weighted count (equal to ``count`` without).
    group : array of int, optional
        Group code of each row (for example ``IncidentFrame.source``); rows with a negative
        code are left out and counted in ``attrs["ungrouped"]``. Without it every row is in
        one group called "all".
    group_labels : sequence of str, optional
        Label of each group code (``IncidentFrame.sources``); every label gets a row for every
        period, even a group with no incidents. Defaults to the codes as text.
    start, end : date, ISO string or day number, optional
        The range to count (inclusive); default the span of the data. A month-only row counts
        when its month overlaps the range, as in :meth:`geo.query.QueryLayer.select`.
    span : (first, last), optional
        The first and last day the data covers (for example ``IncidentFrame.date_span()`` of
        the whole store). Default: the first and last day of the rows that can be placed in
        this period (a weekly series is covered only by dated rows; with none, nothing is
        complete). A filtered selection usually starts after the data does, so pass the
        store's span when you have it; it is then also the default range.
    complete_only : bool, default True
        Drop periods that do not lie wholly inside both the span and ``[start, end]`` (a
        half-covered first or last month would look like a fall). With False they are kept and
        flagged ``complete = False``.
    incidents : array of int, optional
        How many incidents each row stands for (rows already counted by day, area and
        source, as a national-scale engine returns them); default one each.
        ``weight`` is then each row's harm in all, not per incident.

    Returns
    -------
    pandas.DataFrame
        Long table ``period, label, start, end, group, count, harm, complete`` ordered by group
        then period; ``start`` and ``end`` are ISO dates (inclusive). ``attrs`` holds
        ``period``, ``unplaced`` (rows in range that cannot be placed in this period, such as
        month-only rows in a weekly series), ``ungrouped``, ``incomplete_periods`` (labels
        of the periods dropped or flagged) and ``span`` (ISO first and last day covered).

    Examples
    --------
    >>> day = np.array([to_day(d) for d in ["2024-04-02", "2024-06-30", "2024-06-30"]])
    >>> t = series(day, None, None, "month", start="2024-04-01", end="2024-06-30",
    ...            span=("2024-04-01", "2024-06-30"))
    >>> t[["label", "count", "complete"]].to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'label': '2024-04', 'count': 1, 'complete': True},
     {'label': '2024-05', 'count': 0, 'complete': True},
     {'label': '2024-06', 'count': 2, 'complete': True}]
    """
    _check_period(period)
    first, last, monthly = _extent(day, month_first, month_only)
    n = first.size
    valid = first >= 0
    key = _keys(first, monthly, period)
    placed = key != UNPLACED
    if span is not None:
        cover_lo, cover_hi = to_day(span[0]), to_day(span[1])
        data_lo, data_hi = cover_lo, cover_hi
    elif valid.any():
        data_lo, data_hi = int(first[valid].min()), int(last[valid].max())
        if placed.any():
            cover_lo, cover_hi = int(first[placed].min()), int(last[placed].max())
        else:
            # Nothing can be placed (month-only rows in a weekly series): nothing is covered.
            cover_lo, cover_hi = data_hi + 1, data_hi
    elif start is None or end is None:
        out = _empty_series()
        out.attrs.update(period=period, unplaced=0, ungrouped=0, incomplete_periods=[],
                         span=None)
        return out
    else:
        data_lo, data_hi = to_day(start), to_day(end)
        cover_lo, cover_hi = data_hi + 1, data_hi
    lo = to_day(start) if start is not None else data_lo
    hi = to_day(end) if end is not None else data_hi
    if hi < lo:
        raise ValueError(f"the end {day_iso(hi)} is before the start {day_iso(lo)}")

    times = _incidents(incidents, n)
    in_range = valid & (last >= lo) & (first <= hi)
    unplaced = int(times[in_range & ~placed].sum())
    use = in_range & placed

    if group is None:
        codes = np.zeros(n, dtype=np.int64)
        labels = ["all"]
    else:
        codes = np.asarray(group, dtype=np.int64).reshape(-1)
        if codes.size != n:
            raise ValueError(f"group has {codes.size} values for {n} rows")
        if group_labels is None:
            top = int(codes[codes >= 0].max()) if (codes >= 0).any() else -1
            labels = [str(i) for i in range(top + 1)]
        else:
            labels = [str(g) for g in group_labels]
            if (codes >= len(labels)).any():
                raise ValueError("a group code has no label in group_labels")
    ungrouped = int(times[use & (codes < 0)].sum())
    use &= codes >= 0

    k_lo = int(_key_of_days(np.array([lo], dtype=np.int64), period)[0])
    k_hi = int(_key_of_days(np.array([hi], dtype=np.int64), period)[0])
    keys = np.arange(k_lo, k_hi + 1, dtype=np.int64)
    n_periods, n_groups = keys.size, len(labels)
    flat = codes[use] * n_periods + (key[use] - k_lo)
    counts = np.bincount(flat, weights=times[use], minlength=n_groups * n_periods).astype(
        np.int64)
    if weight is None:
        harm = counts.astype("float64")
    else:
        w = np.asarray(weight, dtype="float64").reshape(-1)
        if w.size != n:
            raise ValueError(f"weight has {w.size} values for {n} rows")
        harm = np.bincount(flat, weights=w[use], minlength=n_groups * n_periods)

    p_start, p_end = period_bounds(keys, period)
    complete = (p_start >= max(cover_lo, lo)) & (p_end <= min(cover_hi, hi))
    period_labels = [period_label(k, period) for k in keys]
    out = pd.DataFrame(
        {
            "period": np.tile(keys, n_groups),
            "label": period_labels * n_groups,
            "start": _iso_array(p_start) * n_groups,
            "end": _iso_array(p_end) * n_groups,
            "group": np.repeat(np.asarray(labels, dtype=object), n_periods).astype(str),
            "count": counts.astype(np.int64),
            "harm": harm,
            "complete": np.tile(complete, n_groups),
        },
        columns=_SERIES_COLUMNS,
    )
    incomplete = [lab for lab, ok in zip(period_labels, complete, strict=True) if not ok]
    if complete_only:
        out = out[out["complete"]].reset_index(drop=True)
    out.attrs.update(
        period=period,
        unplaced=unplaced,
        ungrouped=ungrouped,
        incomplete_periods=incomplete,
        span=(day_iso(cover_lo), day_iso(cover_hi)) if cover_lo <= cover_hi else None,
    )
    return out


def _incidents(incidents: ArrayLike | None, n: int) -> NDArray[np.int64]:
    """Return how many incidents each of ``n`` rows stands for (one each by default)."""
    if incidents is None:
        return np.ones(n, dtype=np.int64)
    times = np.asarray(incidents, dtype=np.int64).reshape(-1)
    if times.size != n:
        raise ValueError(f"incidents has {times.size} values for {n} rows")
    if (times < 0).any():
        raise ValueError("a row cannot stand for fewer than 0 incidents")
    return times


def _day_column(values: pd.Series) -> NDArray[np.int64]:
    iso = np.asarray(values.to_numpy(dtype=str), dtype="datetime64[D]")
    return (iso - _EPOCH).astype(np.int64)


def _touches(
    starts: NDArray[np.int64], ends: NDArray[np.int64], exclude: ArrayLike | None
) -> NDArray[np.bool_]:
    """Whether each inclusive day range contains at least one excluded day."""
    if exclude is None:
        return np.zeros(starts.size, dtype=bool)
    ex = np.unique(np.asarray(exclude, dtype=np.int64).reshape(-1))
    return np.searchsorted(ex, starts, side="left") < np.searchsorted(ex, ends, side="right")


def _pct(count: NDArray[np.float64], base: NDArray[np.float64]) -> NDArray[np.float64]:
    """Percent change from base to count; NaN where the base is 0 or missing."""
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * (count - base) / base
    return np.where(np.isfinite(base) & (base != 0), pct, np.nan)


def _require_columns(df: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise ValueError(f"{what} needs a table from series(); it lacks {', '.join(missing)}")


# --------------------------------------------------------------------------------------------
# Rolling 12 months and same period last year
# --------------------------------------------------------------------------------------------


def rolling_12_months(
    monthly_df: pd.DataFrame, *, exclude: ArrayLike | None = None
) -> pd.DataFrame:
    """Add the rolling 12 months and the same month a year earlier, with changes from counts.

    Parameters
    ----------
    monthly_df : pandas.DataFrame
        A monthly table from :func:`series` (``period="month"``), one or more groups.
    exclude : array of int, optional
        Day numbers to leave out of baselines (:func:`excluded_days`). A month a year earlier
        that touches any of them is not used as a comparison: its columns are NaN and
        ``last_year_excluded`` is True.

    Returns
    -------
    pandas.DataFrame
        A copy with these columns added:

        - ``rolling_12m``: the sum of the 12 months ending at this month; NaN until 12 whole
          months exist (a missing or incomplete month in the window also gives NaN).
        - ``same_period_last_year``: the count of the same month a year earlier.
        - ``change_vs_last_year``: ``count - same_period_last_year``.
        - ``change_pct_vs_last_year``: that change as a percent of ``same_period_last_year``
          (NaN when it is 0), always computed from the two counts shown.
        - ``rolling_12m_last_year`` and ``rolling_12m_change_pct``: the same comparison for the
          12 months to this month against the 12 months to the same month a year earlier
          ("the 12 months to June against the 12 months to June last year").
        - ``last_year_excluded``: the month a year earlier touched an excluded event, and
          ``rolling_12m_last_year_excluded``: so did some month of the 12 months to it.
        - ``change_text``: the comparison in words, counts first.

        The comparisons of an incomplete month are NaN. ``attrs["excluded_periods"]`` lists the
        months of the table that touch excluded days; ``attrs["excluded_comparisons"]``
        and ``attrs["excluded_rolling_comparisons"]`` count the rows whose year-earlier
        month and 12-month comparisons were withheld for them.

    Examples
    --------
    >>> t = pd.DataFrame({"period": np.arange(24), "label": [f"{1970 + m // 12}-{m % 12 + 1:02d}"
    ...                   for m in range(24)], "group": "all", "count": np.arange(1, 25),
    ...                   "complete": True})
    >>> r = rolling_12_months(t)
    >>> r["rolling_12m"].iloc[[10, 11, 23]].tolist()
    [nan, 78.0, 222.0]
    >>> r.loc[23, "change_text"]
    '24 in 1971-12 against 12 in 1970-12 (+100.0%)'
    """
    _require_columns(monthly_df, ["period", "label", "group", "count"], "rolling_12_months")
    bad = [lab for lab in monthly_df["label"].astype(str) if not _MONTH_LABEL.match(lab)]
    if bad:
        raise ValueError(
            f"rolling_12_months needs a monthly series; '{bad[0]}' is not a month. "
            "Build it with series(..., period='month')."
        )
    out = monthly_df.copy()
    n = len(out)
    keys = out["period"].to_numpy(dtype=np.int64)
    counts = out["count"].to_numpy(dtype="float64")
    complete = (
        out["complete"].to_numpy(dtype=bool) if "complete" in out.columns
        else np.ones(n, dtype=bool)
    )
    touched = _touches(_month_start(keys), _month_end(keys), exclude)
    rolling = np.full(n, np.nan)
    last_year = np.full(n, np.nan)
    rolling_last_year = np.full(n, np.nan)
    ly_excluded = np.zeros(n, dtype=bool)
    ly_window_excluded = np.zeros(n, dtype=bool)
    groups = out["group"].astype(str).to_numpy()
    for g in pd.unique(groups):
        rows = np.flatnonzero(groups == g)
        k0 = int(keys[rows].min())
        width = int(keys[rows].max()) - k0 + 1
        dense = np.full(width, np.nan)
        dense_ex = np.zeros(width, dtype=bool)
        pos = keys[rows] - k0
        dense[pos] = np.where(complete[rows], counts[rows], np.nan)
        dense_ex[pos] = touched[rows]
        roll = pd.Series(dense).rolling(12, min_periods=12).sum().to_numpy()
        # Any excluded month inside a year-earlier window disqualifies that window as a base.
        roll_ex = pd.Series(dense_ex.astype(float)).rolling(12, min_periods=1).max().to_numpy()
        rolling[rows] = roll[pos]
        back = pos - 12
        has = back >= 0
        idx = rows[has]
        b = back[has]
        # roll_ex covers the month itself too, so a window is excluded whenever its month is.
        excluded_back = roll_ex[b] > 0
        last_year[idx] = np.where(dense_ex[b], np.nan, dense[b])
        rolling_last_year[idx] = np.where(excluded_back, np.nan, roll[b])
        ly_excluded[idx] = dense_ex[b]
        ly_window_excluded[idx] = excluded_back
    current = np.where(complete, counts, np.nan)
    out["rolling_12m"] = rolling
    out["same_period_last_year"] = last_year
    out["change_vs_last_year"] = current - last_year
    out["change_pct_vs_last_year"] = _pct(current, last_year)
    out["rolling_12m_last_year"] = rolling_last_year
    out["rolling_12m_change_pct"] = _pct(rolling, rolling_last_year)
    out["last_year_excluded"] = ly_excluded
    out["rolling_12m_last_year_excluded"] = ly_window_excluded
    labels = out["label"].astype(str).tolist()
    out["change_text"] = [
        _change_text(c, b, lab, ok, ex)
        for c, b, lab, ok, ex in zip(counts, last_year, labels, complete, ly_excluded,
                                     strict=True)
    ]
    out.attrs["excluded_periods"] = sorted({lab for lab, t in zip(labels, touched,
                                                                  strict=True) if t})
    out.attrs["excluded_comparisons"] = int(ly_excluded.sum())
    out.attrs["excluded_rolling_comparisons"] = int(ly_window_excluded.sum())
    return out


def _year_earlier(label: str) -> str:
    return f"{int(label[:4]) - 1}{label[4:]}"


def _change_text(count: float, base: float, label: str, complete: bool, excluded: bool) -> str:
    before = _year_earlier(label)
    if not complete:
        return f"{label} is not complete; not compared"
    if excluded:
        return f"{int(count):,} in {label}; {before} is in an excluded event, not compared"
    if not np.isfinite(base):
        return f"{int(count):,} in {label}; no complete {before} to compare with"
    if base == 0:
        return f"{int(count):,} in {label} against 0 in {before} (no percent from 0)"
    pct = 100.0 * (count - base) / base
    return f"{int(count):,} in {label} against {int(base):,} in {before} ({pct:+.1f}%)"


# --------------------------------------------------------------------------------------------
# Sources side by side, each against its own baseline
# --------------------------------------------------------------------------------------------


def normalise_to_baseline(
    series_df: pd.DataFrame,
    baseline: tuple[DayLike, DayLike],
    *,
    exclude: ArrayLike | None = None,
) -> pd.DataFrame:
    """Index each group's counts to its own baseline mean (baseline mean = 100).

    Police, emergency department and ambulance data move differently over the same period
    (Merseyside once reported -3%, -10.9% and -14.7%), so each source is compared with itself.

    Parameters
    ----------
    series_df : pandas.DataFrame
        A table from :func:`series`, typically grouped by source.
    baseline : (first day, last day)
        The baseline, inclusive. Only complete periods lying wholly inside it count.
    exclude : array of int, optional
        Day numbers to leave out (:func:`excluded_days`); a baseline period touching any of
        them is left out of the mean.

    Returns
    -------
    pandas.DataFrame
        A copy with ``index`` (count / baseline mean x 100; NaN when the mean is 0),
        ``baseline_mean``, ``baseline_periods`` (periods averaged), ``baseline_excluded_periods``
        (baseline periods left out for an event), ``in_baseline`` (this row was averaged) and
        ``baseline`` (the baseline named, "2019-04-01 to 2020-03-31").

    Raises
    ------
    ValueError
        If no complete period of the table lies inside the baseline.

    Examples
    --------
    >>> t = series(np.array([to_day(d) for d in ["2024-01-05", "2024-02-05", "2024-02-06",
    ...            "2024-03-05"]]), None, None, "month", span=("2024-01-01", "2024-03-31"))
    >>> normalise_to_baseline(t, ("2024-01-01", "2024-02-29"))["index"].round(1).tolist()
    [66.7, 133.3, 66.7]
    """
    _require_columns(series_df, ["group", "count", "start", "end"], "normalise_to_baseline")
    b0, b1 = to_day(baseline[0]), to_day(baseline[1])
    if b1 < b0:
        raise ValueError(f"the baseline ends {day_iso(b1)} before it starts {day_iso(b0)}")
    out = series_df.copy()
    starts, ends = _day_column(out["start"]), _day_column(out["end"])
    complete = (
        out["complete"].to_numpy(dtype=bool) if "complete" in out.columns
        else np.ones(len(out), dtype=bool)
    )
    inside = (starts >= b0) & (ends <= b1) & complete
    if not inside.any():
        raise ValueError(
            f"no complete period of the table lies inside the baseline {day_iso(b0)} to "
            f"{day_iso(b1)}; widen the baseline or the series"
        )
    touched = _touches(starts, ends, exclude)
    used = inside & ~touched
    counts = out["count"].to_numpy(dtype="float64")
    groups = out["group"].astype(str).to_numpy()
    mean = np.full(len(out), np.nan)
    n_used = np.zeros(len(out), dtype=np.int64)
    n_excluded = np.zeros(len(out), dtype=np.int64)
    for g in pd.unique(groups):
        rows = groups == g
        sel = rows & used
        n_used[rows] = int(sel.sum())
        n_excluded[rows] = int((rows & inside & touched).sum())
        if sel.any():
            mean[rows] = counts[sel].mean()
    with np.errstate(divide="ignore", invalid="ignore"):
        index = 100.0 * counts / mean
    out["index"] = np.where(np.isfinite(mean) & (mean > 0), index, np.nan)
    out["baseline_mean"] = mean
    out["baseline_periods"] = n_used
    out["baseline_excluded_periods"] = n_excluded
    out["in_baseline"] = used
    out["baseline"] = f"{day_iso(b0)} to {day_iso(b1)}"
    return out


# --------------------------------------------------------------------------------------------
# League table of areas
# --------------------------------------------------------------------------------------------


def _listed_index(
    area: ArrayLike, area_labels: Sequence[str] | None, listed: Sequence[str]
) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Position of each row's area in ``listed`` (-1 if not listed) and whether it has an area."""
    lookup = {c: i for i, c in enumerate(listed)}
    values = np.asarray(area)
    if area_labels is not None:
        codes = values.astype(np.int64).reshape(-1)
        # One extra slot at the end catches -1 (no area).
        lut = np.array([lookup.get(str(lab), -1) for lab in area_labels] + [-1], dtype=np.int64)
        return lut[np.where(codes >= 0, codes, len(lut) - 1)], codes >= 0
    text = pd.Series(values.reshape(-1), dtype=object)
    has = text.notna().to_numpy() & (text.astype(str) != "").to_numpy()
    idx = pd.Index(list(listed), dtype=object).get_indexer(text.where(has, None))
    return np.asarray(idx, dtype=np.int64), has


def known_population(value: Any) -> float | None:
    """Return a usable population (a positive finite number), or None.

    Examples
    --------
    >>> known_population("139,000".replace(",", "")), known_population(0), known_population("n/a")
    (139000.0, None, None)
    """
    try:
        pop = float(value)
    except (TypeError, ValueError):
        return None
    return pop if np.isfinite(pop) and pop > 0 else None


def _whole_months(lo: int, hi: int) -> int | None:
    """Return how many calendar months a range spans, or None if it is not whole months."""
    m_lo, m_hi = _month_of(np.array([lo, hi], dtype=np.int64))
    if _month_start(np.array([m_lo]))[0] != lo or _month_end(np.array([m_hi]))[0] != hi:
        return None
    return int(m_hi - m_lo + 1)


def league_table(
    area_codes: Sequence[str],
    names: Mapping[str, str],
    population: Mapping[str, Any],
    current: tuple[DayLike, DayLike],
    baseline: tuple[DayLike, DayLike],
    area: ArrayLike,
    day: ArrayLike,
    *,
    area_labels: Sequence[str] | None = None,
    month_first: ArrayLike | None = None,
    month_only: ArrayLike | None = None,
    exclude: ArrayLike | None = None,
    allow_unequal: bool = False,
    only_with_data: bool = False,
    require_population: bool = False,
    incidents: ArrayLike | None = None,
) -> pd.DataFrame:
    """Rank areas by rate per 1,000 residents, each beside its own baseline, counts shown.

    Parameters
    ----------
    area_codes : sequence of str
        The areas to list (every one gets a row, even with no incidents).
    names, population : mappings
        Name and resident population of each code. A missing, zero or NaN population gives a
        NaN rate; such areas sort last without a rank.
    current, baseline : (first day, last day)
        Inclusive periods. They must not overlap and must be of equal length: the same
        number of days, or the same number of whole calendar months (so the 12 months to
        June 2024 against the 12 months to June 2023 is equal even across a leap day).
    area : array
        Area of each incident: codes into ``area_labels`` (``IncidentFrame.area``, -1 for
        none) or the area codes themselves as text.
    day : array of int
        Day numbers, ``-1`` where unknown.
    area_labels : sequence of str, optional
        ``IncidentFrame.areas`` when ``area`` holds integer codes.
    month_first, month_only : arrays, optional
        For month-only rows: such a row counts in a period only when its whole month lies
        inside it; those straddling an edge are counted in ``attrs["month_only_straddling"]``.
    exclude : array of int, optional
        Day numbers to leave out of the baseline (:func:`excluded_days`). Incidents on those
        days are not counted and the baseline count is scaled up by its days over the days
        used (``baseline_count_scaled``). If month-only rows fall in the baseline, excluded
        days are widened to whole months for every row so both kinds are treated alike.
    allow_unequal : bool, default False
        Permit periods of different lengths. Rates are then per 1,000 residents per year
        (annualised over 365.25 days) and the baseline count is scaled to the current
        period's length; the note says so.
    only_with_data : bool, default False
        List only areas with an incident in either period (national boundaries would
        otherwise list hundreds of districts at zero).
    require_population : bool, default False
        Rank only if every listed area has a population. Otherwise no area is ranked, rows
        are ordered by count, and ``attrs["unranked_reason"]`` names the areas without one:
        ranking the few areas that happen to have populations would put a neighbouring
        district with a handful of incidents above the real ones.
    incidents : array of int, optional
        How many incidents each row stands for (rows already counted by day, area and
        source, as a national-scale engine returns them); default one each.

    Returns
    -------
    pandas.DataFrame
        One row per area sorted by ``rate_per_1000`` descending: ``code, name, population,
        count, rate_per_1000, baseline_count, baseline_count_scaled,
        baseline_rate_per_1000, change, change_pct, small_number, rank, note``.
        ``change = count - baseline_count_scaled`` and ``change_pct`` is that as a percent of
        ``baseline_count_scaled`` (NaN if it is 0); ``baseline_count_scaled`` equals
        ``baseline_count`` when the periods are equal and nothing is excluded.
        ``small_number`` is True when ``count`` or ``baseline_count`` is below
        :data:`geo.settings.SMALL_NUMBER_THRESHOLD` and the note then says "too few to
        compare". ``attrs`` names the periods and reports ``excluded_baseline_days``,
        ``month_only_straddling`` and ``outside_listed_areas`` (incidents in neither period's
        listed areas).

    Raises
    ------
    ValueError
        For periods of unequal length without ``allow_unequal``, overlapping periods, a period
        that ends before it starts, or a baseline entirely excluded.

    Examples
    --------
    >>> day = np.array([to_day("2024-05-01")] * 12 + [to_day("2023-05-01")] * 10 + [to_day(
    ...     "2024-05-02")] * 3)
    >>> area = np.array(["A"] * 22 + ["B"] * 3)
    >>> t = league_table(["A", "B"], {"A": "Avon", "B": "Bury"}, {"A": 2000, "B": 1000},
    ...                  ("2024-04-01", "2024-06-30"), ("2023-04-01", "2023-06-30"), area, day)
    >>> t[["code", "count", "rate_per_1000", "baseline_count", "change_pct", "rank"]].to_dict(
    ...     "records")  # doctest: +NORMALIZE_WHITESPACE
    [{'code': 'A', 'count': 12, 'rate_per_1000': 6.0, 'baseline_count': 10,
      'change_pct': 20.0, 'rank': 1},
     {'code': 'B', 'count': 3, 'rate_per_1000': 3.0, 'baseline_count': 0,
      'change_pct': nan, 'rank': 2}]
    """
    c0, c1 = to_day(current[0]), to_day(current[1])
    b0, b1 = to_day(baseline[0]), to_day(baseline[1])
    for what, lo, hi in (("current period", c0, c1), ("baseline", b0, b1)):
        if hi < lo:
            raise ValueError(f"the {what} ends {day_iso(hi)} before it starts {day_iso(lo)}")
    if c0 <= b1 and b0 <= c1:
        raise ValueError(
            f"the current period ({day_iso(c0)} to {day_iso(c1)}) overlaps the baseline "
            f"({day_iso(b0)} to {day_iso(b1)}); compare periods that do not share days"
        )
    cur_days, base_days = c1 - c0 + 1, b1 - b0 + 1
    cur_months, base_months = _whole_months(c0, c1), _whole_months(b0, b1)
    equal = cur_days == base_days or (cur_months is not None and cur_months == base_months)
    if not equal and not allow_unequal:
        raise ValueError(
            f"the current period has {cur_days} days and the baseline {base_days}; compare "
            "periods of equal length, or allow unequal periods to compare rates per year"
        )

    first, last, monthly = _extent(day, month_first, month_only)
    listed = list(dict.fromkeys(str(c) for c in area_codes))
    where, has_area = _listed_index(area, area_labels, listed)
    if where.size != first.size:
        raise ValueError(f"area has {where.size} values for {first.size} rows")
    valid = first >= 0

    ex = np.asarray([] if exclude is None else exclude, dtype=np.int64).reshape(-1)
    ex = np.unique(ex[(ex >= b0) & (ex <= b1)])
    months_widened = False
    in_base_month = valid & monthly & (last >= b0) & (first <= b1)
    if ex.size and in_base_month.any():
        months = np.unique(_month_of(ex))
        widened = np.concatenate(
            [np.arange(s, e + 1) for s, e in zip(_month_start(months), _month_end(months),
                                                 strict=True)]
        )
        widened = widened[(widened >= b0) & (widened <= b1)]
        months_widened = widened.size > ex.size
        ex = widened
    used_days = base_days - int(ex.size)
    if used_days <= 0:
        raise ValueError("every day of the baseline is in an excluded event; choose another")

    in_current = valid & (first >= c0) & (last <= c1)
    in_baseline = valid & (first >= b0) & (last <= b1) & ~_touches(first, last, ex)
    straddling = valid & monthly & (
        ((last >= c0) & (first <= c1) & ~((first >= c0) & (last <= c1)))
        | ((last >= b0) & (first <= b1) & ~((first >= b0) & (last <= b1)))
    )

    times = _incidents(incidents, first.size)

    def by_area(rows: NDArray[np.bool_]) -> NDArray[np.int64]:
        rows = rows & (where >= 0)
        return np.bincount(where[rows], weights=times[rows], minlength=len(listed)).astype(
            np.int64)

    cur_counts, base_counts = by_area(in_current), by_area(in_baseline)
    outside = int(times[(in_current | in_baseline) & has_area & (where < 0)].sum())

    target_days = base_days if equal else cur_days
    scale = target_days / used_days
    notes_all: list[str] = []
    if not equal:
        notes_all.append(
            f"rates per 1,000 per year: the periods differ ({cur_days} days against "
            f"{base_days})"
        )
    if ex.size:
        widened_text = " (whole months, as some rows have only a month)" if months_widened else ""
        notes_all.append(
            f"baseline scaled: {used_days} of {base_days} days used, {ex.size} in excluded "
            f"events{widened_text}"
        )

    rows = []
    for i, code in enumerate(listed):
        count = int(cur_counts[i])
        base_count = int(base_counts[i])
        scaled = base_count * scale
        pop = known_population(population.get(code))
        if pop is None:
            rate = base_rate = np.nan
        elif equal:
            rate, base_rate = 1000.0 * count / pop, 1000.0 * scaled / pop
        else:
            rate = 1000.0 * count / pop * DAYS_PER_YEAR / cur_days
            base_rate = 1000.0 * base_count / pop * DAYS_PER_YEAR / used_days
        small = count < SMALL_NUMBER_THRESHOLD or base_count < SMALL_NUMBER_THRESHOLD
        notes = (["too few to compare"] if small else []) + (
            ["population unknown"] if pop is None else []) + notes_all
        rows.append({
            "code": code,
            "name": str(names.get(code, code)),
            "population": np.nan if pop is None else pop,
            "count": count,
            "rate_per_1000": rate,
            "baseline_count": base_count,
            "baseline_count_scaled": scaled,
            "baseline_rate_per_1000": base_rate,
            "change": count - scaled,
            "change_pct": np.nan if scaled == 0 else 100.0 * (count - scaled) / scaled,
            "small_number": small,
            "note": "; ".join(notes),
        })
    columns = ["code", "name", "population", "count", "rate_per_1000", "baseline_count",
               "baseline_count_scaled", "baseline_rate_per_1000", "change", "change_pct",
               "small_number", "rank", "note"]
    out = pd.DataFrame(rows, columns=[c for c in columns if c != "rank"])
    if only_with_data:
        out = out[(out["count"] > 0) | (out["baseline_count"] > 0)]
    out = out.astype({"count": "int64", "baseline_count": "int64", "population": "float64",
                      "rate_per_1000": "float64", "baseline_rate_per_1000": "float64",
                      "baseline_count_scaled": "float64", "change": "float64",
                      "change_pct": "float64", "small_number": "bool"})
    lacking = out.loc[out["population"].isna(), "name"].tolist()
    unranked = ""
    if require_population and lacking:
        shown = ", ".join(lacking[:5]) + (f" and {len(lacking) - 5} more" if len(lacking) > 5
                                          else "")
        unranked = (f"not ranked: {len(lacking)} of {len(out)} areas have no population "
                    f"({shown}), so their rates cannot be compared")
        out = out.sort_values(["count", "code"], ascending=[False, True],
                              kind="mergesort").reset_index(drop=True)
        out.insert(columns.index("rank"), "rank", pd.array([pd.NA] * len(out), dtype="Int64"))
    else:
        out = out.sort_values(["rate_per_1000", "count", "code"],
                              ascending=[False, False, True], na_position="last",
                              kind="mergesort").reset_index(drop=True)
        out.insert(columns.index("rank"), "rank",
                   out["rate_per_1000"].rank(method="min", ascending=False).astype("Int64"))
    out.attrs.update(
        current=f"{day_iso(c0)} to {day_iso(c1)}",
        baseline=f"{day_iso(b0)} to {day_iso(b1)}",
        current_days=cur_days,
        baseline_days=base_days,
        baseline_days_used=used_days,
        excluded_baseline_days=int(ex.size),
        equal_periods=bool(equal),
        month_only_straddling=int(times[straddling].sum()),
        outside_listed_areas=outside,
        unranked_reason=unranked,
    )
    return out


# --------------------------------------------------------------------------------------------
# Events calendar
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """Something that made a stretch of days unusual: a lockdown, a week of action.

    Parameters
    ----------
    name : str
        Unique name, shown beside charts.
    start, end : datetime.date
        First and last day, both inclusive.
    kind : {"lockdown", "week of action", "operation", "recording change", "other"}
        A recording change (a new counting rule or system) makes counts before and after
        it unlike; the board says so when compared periods straddle it.
    exclude_from_baselines : bool, default True
        Leave these days out of every baseline (:func:`excluded_days`).

    Examples
    --------
    >>> Event("Op Ember", date(2024, 7, 1), date(2024, 7, 7), "operation").kind
    'operation'
    >>> Event("Backwards", date(2024, 7, 7), date(2024, 7, 1), "other")
    Traceback (most recent call last):
    ...
    ValueError: The event 'Backwards' ends on 2024-07-01, before it starts on 2024-07-07.
    """

    name: str
    start: date
    end: date
    kind: str
    exclude_from_baselines: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ValueError("An event needs a name.")
        for which in ("start", "end"):
            value = getattr(self, which)
            if not isinstance(value, date) or isinstance(value, datetime):
                raise ValueError(
                    f"The event '{self.name}' needs a {which} date (a calendar date, no time)."
                )
        if self.end < self.start:
            raise ValueError(
                f"The event '{self.name}' ends on {self.end.isoformat()}, before it starts on "
                f"{self.start.isoformat()}."
            )
        lo, hi = event_bounds()
        if self.start < lo or self.end > hi:
            raise ValueError(
                f"The event '{self.name}' runs from {self.start.isoformat()} to "
                f"{self.end.isoformat()}; an event must lie between {lo.isoformat()} and "
                f"{hi.isoformat()}."
            )
        if self.kind not in EVENT_KINDS:
            raise ValueError(
                f"The event '{self.name}' has kind '{self.kind}'; choose one of "
                f"{', '.join(EVENT_KINDS)}."
            )
        if not isinstance(self.exclude_from_baselines, bool):
            raise ValueError(
                f"The event '{self.name}': exclude_from_baselines must be true or false."
            )

    @property
    def days(self) -> int:
        """Number of days the event lasts (both ends included)."""
        return (self.end - self.start).days + 1

    def to_dict(self) -> dict[str, Any]:
        """Return the event as JSON-ready values."""
        return {
            "name": self.name,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "kind": self.kind,
            "exclude_from_baselines": self.exclude_from_baselines,
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Event:
        """Build an event from :meth:`to_dict` output, with plain-English errors.

        Dates outside :func:`event_bounds` (a file edited by hand, or saved by an older
        version, with say 0001-01-01 to 9999-12-31) are clipped to those bounds, so one odd
        event cannot stop every chart from being drawn.
        """
        name = str(doc.get("name", "")).strip()
        dates = []
        for which in ("start", "end"):
            text = doc.get(which)
            try:
                dates.append(date.fromisoformat(str(text)))
            except ValueError:
                raise ValueError(
                    f"The event '{name}' has {which} '{text}', which is not a date like "
                    "2024-06-03."
                ) from None
        lo, hi = event_bounds()
        start, end = dates
        if start <= end:
            start, end = min(max(start, lo), hi), max(min(end, hi), lo)
        return cls(name, start, end, str(doc.get("kind", "")),
                   doc.get("exclude_from_baselines", True))


def events_dir(data_dir: str | Path) -> Path:
    """Return the events folder of a data directory, ``<data dir>/events``.

    Examples
    --------
    >>> events_dir("/data").as_posix()
    '/data/events'
    """
    return Path(data_dir) / "events"


def _check_unique(events: Sequence[Event]) -> None:
    seen: dict[str, str] = {}
    for ev in events:
        key = ev.name.strip().casefold()
        if key in seen:
            raise ValueError(
                f"Two events are called '{ev.name}'; each event needs its own name."
            )
        seen[key] = ev.name


def load_events(dest_dir: str | Path) -> list[Event]:
    """Return the saved events, oldest first (none if nothing was saved).

    Parameters
    ----------
    dest_dir : str or Path
        The events folder, ``events_dir(data_dir)``; the file is ``events.json`` inside it.

    Raises
    ------
    ValueError
        If the file exists but cannot be read; it is then left as it is.

    Examples
    --------
    >>> import tempfile
    >>> load_events(tempfile.mkdtemp())
    []
    """
    target = Path(dest_dir) / EVENTS_FILE
    if not target.exists():
        return []
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"The events file {target} cannot be read: {exc}") from None
    if not isinstance(doc, dict) or doc.get("version") != _EVENTS_VERSION or not isinstance(
            doc.get("events"), list):
        raise ValueError(f"The events file {target} is not one this version can read.")
    events = []
    for i, item in enumerate(doc["events"], start=1):
        if not isinstance(item, dict):
            raise ValueError(f"Event {i} in {target} is not a set of fields.")
        events.append(Event.from_dict(item))
    _check_unique(events)
    return events


def save_events(events: Sequence[Event], dest_dir: str | Path) -> Path:
    """Save the events (replacing the file atomically), sorted by start date then name.

    Raises
    ------
    ValueError
        If two events share a name (ignoring case).

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> ev = Event("Week of action", date(2024, 5, 13), date(2024, 5, 19), "week of action")
    >>> _ = save_events([ev], d)
    >>> load_events(d) == [ev]
    True
    """
    events = list(events)
    for ev in events:
        if not isinstance(ev, Event):
            raise ValueError(f"{ev!r} is not an Event")
    _check_unique(events)
    events.sort(key=lambda e: (e.start, e.end, e.name))
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / EVENTS_FILE
    doc = {"version": _EVENTS_VERSION, "events": [ev.to_dict() for ev in events]}
    write_text_atomic(target, json.dumps(doc, ensure_ascii=False, indent=1))
    return target


def add_event(dest_dir: str | Path, event: Event) -> list[Event]:
    """Add an event to the saved calendar and return the calendar.

    Raises
    ------
    ValueError
        If an event of that name (ignoring case) is already saved.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> [e.name for e in add_event(d, Event("Op A", date(2024, 1, 1), date(2024, 1, 2),
    ...                                     "operation"))]
    ['Op A']
    """
    events = load_events(dest_dir)
    taken = {e.name.strip().casefold() for e in events}
    if event.name.strip().casefold() in taken:
        raise ValueError(
            f"An event called '{event.name}' is already saved; choose another name or delete it "
            "first."
        )
    events.append(event)
    save_events(events, dest_dir)
    return load_events(dest_dir)


def delete_event(dest_dir: str | Path, name: str) -> list[Event]:
    """Delete the saved event called ``name`` (ignoring case) and return the calendar.

    Raises
    ------
    ValueError
        If no saved event has that name.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> _ = save_events(uk_covid_lockdowns(), d)
    >>> len(delete_event(d, "Second national lockdown (England)"))
    2
    """
    events = load_events(dest_dir)
    key = name.strip().casefold()
    keep = [e for e in events if e.name.strip().casefold() != key]
    if len(keep) == len(events):
        known = ", ".join(f"'{e.name}'" for e in events) or "none"
        raise ValueError(f"There is no saved event called '{name}'. Saved events: {known}.")
    save_events(keep, dest_dir)
    return keep


def excluded_days(events: Iterable[Event],
                  within: tuple[DayLike, DayLike] | None = None) -> NDArray[np.int64]:
    """Return the sorted day numbers covered by events marked to leave out of baselines.

    Each event is clipped to :func:`event_bounds` and, if given, to ``within`` (say the
    data's span), so a very long event costs no more than the days that matter.

    Examples
    --------
    >>> evs = [Event("a", date(2024, 1, 1), date(2024, 1, 3), "other"),
    ...        Event("b", date(2024, 1, 3), date(2024, 1, 4), "other"),
    ...        Event("c", date(2024, 2, 1), date(2024, 2, 9), "other", False)]
    >>> [day_iso(d) for d in excluded_days(evs)]
    ['2024-01-01', '2024-01-02', '2024-01-03', '2024-01-04']
    """
    lo, hi = (to_day(d) for d in event_bounds())
    if within is not None:
        lo, hi = max(lo, to_day(within[0])), min(hi, to_day(within[1]))
    parts = [
        np.arange(max(to_day(ev.start), lo), min(to_day(ev.end), hi) + 1, dtype=np.int64)
        for ev in events if ev.exclude_from_baselines
    ]
    if not parts:
        return np.array([], dtype=np.int64)
    return np.unique(np.concatenate(parts))


def uk_covid_lockdowns() -> list[Event]:
    """Return the three national COVID-19 lockdowns in England, for a user who wants them.

    Nothing calls this by default: an analyst adds them to the calendar (and may edit or
    delete them there, for example to use 1 June 2020 as the end of the first).

    Dates are inclusive and follow the UK Government announcements as set out in the
    Institute for Government's "Timeline of UK government coronavirus lockdowns and measures,
    March 2020 to December 2021":

    - First: 23 March 2020 (the stay-at-home announcement; the regulations took legal effect
      on 26 March) to 4 July 2020, the day pubs, restaurants and hairdressers reopened. The
      stay-at-home rule was eased from 1 June, but for violence the closure of the night-time
      economy matters most, so this ends on 4 July; that first weekend of reopening was itself
      unusual, so it is left in the event.
    - Second: 5 November 2020 to 2 December 2020, when England moved back into tiers.
    - Third: 6 January 2021 to 8 March 2021, step 1 of the roadmap out of lockdown, when
      schools reopened.

    Each end date is the day restrictions were lifted and is included, so the exclusion errs
    on the side of leaving a transitional day out of a baseline.

    Examples
    --------
    >>> [(e.start.isoformat(), e.end.isoformat()) for e in uk_covid_lockdowns()]
    ... # doctest: +NORMALIZE_WHITESPACE
    [('2020-03-23', '2020-07-04'), ('2020-11-05', '2020-12-02'),
     ('2021-01-06', '2021-03-08')]
    """
    return [
        Event("First national lockdown (England)", date(2020, 3, 23), date(2020, 7, 4),
              "lockdown"),
        Event("Second national lockdown (England)", date(2020, 11, 5), date(2020, 12, 2),
              "lockdown"),
        Event("Third national lockdown (England)", date(2021, 1, 6), date(2021, 3, 8),
              "lockdown"),
    ]


# --------------------------------------------------------------------------------------------
# Seasonal profile and last summer's peaks
# --------------------------------------------------------------------------------------------


def seasonal_profile(
    day: ArrayLike,
    month_first: ArrayLike | None = None,
    month_only: ArrayLike | None = None,
    *,
    years: Iterable[int] | None = None,
    weight: ArrayLike | None = None,
    span: tuple[DayLike, DayLike] | None = None,
    incidents: ArrayLike | None = None,
) -> pd.DataFrame:
    """Count incidents per calendar month of each year, to overlay years on one chart.

    Parameters
    ----------
    day, month_first, month_only : arrays
        As in :func:`series`; month-only rows are placed by their month.
    years : iterable of int, optional
        Calendar years to return (default every year the data touches); each gets 12 rows.
    weight : array of float, optional
        Harm weights (``harm`` column).
    span : (first, last), optional
        Days the data covers (default the rows' own span); months outside it are flagged
        ``complete = False`` so a chart does not show them as zeros.
    incidents : array of int, optional
        How many incidents each row stands for (rows already counted by day, area and
        source, as a national-scale engine returns them); default one each.

    Returns
    -------
    pandas.DataFrame
        ``year, month (1 to 12), label, count, harm, complete``, by year then month.

    Examples
    --------
    >>> day = np.array([to_day(d) for d in ["2023-01-10", "2023-01-11", "2024-07-01"]])
    >>> p = seasonal_profile(day, years=[2023, 2024])
    >>> p.loc[p["count"] > 0, ["year", "month", "count"]].to_dict("records")
    [{'year': 2023, 'month': 1, 'count': 2}, {'year': 2024, 'month': 7, 'count': 1}]
    """
    first, last, monthly = _extent(day, month_first, month_only)
    valid = first >= 0
    if years is None:
        if not valid.any():
            wanted: list[int] = []
        else:
            y_lo = int(np.datetime64(int(first[valid].min()), "D").astype(object).year)
            y_hi = int(np.datetime64(int(last[valid].max()), "D").astype(object).year)
            wanted = list(range(y_lo, y_hi + 1))
    else:
        wanted = sorted({int(y) for y in years})
    columns = ["year", "month", "label", "count", "harm", "complete"]
    if not wanted:
        return pd.DataFrame({c: [] for c in columns}).astype(
            {"year": "int64", "month": "int64", "label": "str", "count": "int64",
             "harm": "float64", "complete": "bool"})
    if span is None and valid.any():
        span = (int(first[valid].min()), int(last[valid].max()))
    elif span is None:
        span = (1, 0)  # covers nothing: every month is flagged incomplete
    t = series(first, first, monthly, "month", weight=weight,
               start=date(wanted[0], 1, 1), end=date(wanted[-1], 12, 31), span=span,
               complete_only=False, incidents=incidents)
    key = t["period"].to_numpy(dtype=np.int64)
    t["year"] = key // 12 + 1970
    t["month"] = key % 12 + 1
    t = t[t["year"].isin(wanted)].reset_index(drop=True)
    return t[columns]


def _season_bounds(season: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    # Season s spans months 3s - 1 .. 3s + 1 (s = 0 is December 1969 to February 1970).
    return _month_start(3 * season - 1), _month_end(3 * season + 1)


def peaked_last_summer(
    area_codes: Sequence[str],
    area: ArrayLike,
    day: ArrayLike,
    month_first: ArrayLike | None = None,
    month_only: ArrayLike | None = None,
    *,
    year: int,
    area_labels: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
    span: tuple[DayLike, DayLike] | None = None,
    exclude: ArrayLike | None = None,
    all_areas: bool = False,
    incidents: ArrayLike | None = None,
) -> pd.DataFrame:
    """List the areas whose summer of ``year`` was their peak season and above their norm.

    Definition. Seasons are meteorological: winter December to February, spring March to May,
    summer June to August, autumn September to November. For the year to August ``year``
    (autumn ``year - 1``, winter, spring, summer ``year``) an area *peaked last summer* when

    1. its summer count is strictly greater than each of its other three seasons' counts
       (a tie is not a peak), and
    2. its summer count is strictly greater than its own mean count per season, taken over
       every whole season the data covers up to and including that summer, leaving out
       seasons that touch an excluded day.

    The year runs to August so that "last summer" can be asked as soon as August is over.
    Condition 2 separates a real summer peak from an area whose counts fell all year long.

    Parameters
    ----------
    area_codes : sequence of str
        Areas to assess.
    area, day, month_first, month_only : arrays
        As in :func:`league_table`; month-only rows are placed by their month.
    year : int
        The summer to test (June to August of this calendar year).
    area_labels, names : optional
        Labels of integer area codes, and area names.
    span : (first, last), optional
        Days the data covers (default the rows' own span). The four seasons of the year to
        August ``year`` must lie wholly inside it.
    exclude : array of int, optional
        Day numbers to leave out of the mean (:func:`excluded_days`).
    all_areas : bool, default False
        Return every area with a ``peaked`` column instead of only those that peaked.
    incidents : array of int, optional
        How many incidents each row stands for (rows already counted by day, area and
        source, as a national-scale engine returns them); default one each.

    Returns
    -------
    pandas.DataFrame
        ``code, name, autumn, winter, spring, summer, mean_season_count, seasons_in_mean,
        excluded_seasons, summer_vs_mean_pct, small_number, peaked``, sorted by summer count
        descending. ``small_number`` flags a summer count below the threshold.

    Raises
    ------
    ValueError
        If the data does not cover September ``year - 1`` to August ``year``.

    Examples
    --------
    >>> months = ["2023-09-15", "2023-12-15", "2024-03-15"] + ["2024-07-15"] * 4
    >>> day = np.array([to_day(d) for d in months])
    >>> peaked_last_summer(["A"], np.array(["A"] * 7), day, year=2024,
    ...                    span=("2023-09-01", "2024-08-31"))[["code", "summer", "peaked"]]
    ... # doctest: +NORMALIZE_WHITESPACE
      code  summer  peaked
    0    A       4    True
    """
    first, last, monthly = _extent(day, month_first, month_only)
    listed = list(dict.fromkeys(str(c) for c in area_codes))
    where, _ = _listed_index(area, area_labels, listed)
    if where.size != first.size:
        raise ValueError(f"area has {where.size} values for {first.size} rows")
    valid = first >= 0
    if span is not None:
        s_lo, s_hi = to_day(span[0]), to_day(span[1])
    elif valid.any():
        s_lo, s_hi = int(first[valid].min()), int(last[valid].max())
    else:
        raise ValueError("there are no incidents to assess")
    summer = (int(year) - 1970) * 4 + 2
    year_seasons = np.arange(summer - 3, summer + 1, dtype=np.int64)
    y_lo, y_hi = _season_bounds(year_seasons)
    if y_lo[0] < s_lo or y_hi[-1] > s_hi:
        raise ValueError(
            f"the data covers {day_iso(s_lo)} to {day_iso(s_hi)}; assessing summer {year} needs "
            f"the whole year from {day_iso(y_lo[0])} to {day_iso(y_hi[-1])}"
        )
    # Every row is a month or a day, so its season follows from its first day.
    season = (_month_of(np.where(valid, first, 0)) + 1) // 3
    first_season = int((_month_of(np.array([s_lo]))[0] + 1) // 3)
    history = np.arange(first_season, summer + 1, dtype=np.int64)
    h_lo, h_hi = _season_bounds(history)
    whole = (h_lo >= s_lo) & (h_hi <= s_hi)
    touched = _touches(h_lo, h_hi, exclude)
    mean_seasons = history[whole & ~touched]
    n_excluded = int((whole & touched).sum())

    times = _incidents(incidents, first.size)
    use = valid & (season >= history[0]) & (season <= summer) & (where >= 0)
    width = history.size
    grid = np.bincount(where[use] * width + (season[use] - history[0]), weights=times[use],
                       minlength=len(listed) * width).astype(np.int64).reshape(len(listed),
                                                                               width)
    yr = grid[:, year_seasons - history[0]]
    in_mean = grid[:, mean_seasons - history[0]]
    mean = in_mean.mean(axis=1) if mean_seasons.size else np.full(len(listed), np.nan)
    summer_count = yr[:, 3]
    peak = (summer_count > yr[:, :3].max(axis=1)) & (summer_count > mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        vs_mean = np.where(mean > 0, 100.0 * (summer_count - mean) / mean, np.nan)
    names = names or {}
    out = pd.DataFrame({
        "code": listed,
        "name": [str(names.get(c, c)) for c in listed],
        **{s: yr[:, i].astype(np.int64) for i, s in enumerate(SEASONS)},
        "mean_season_count": mean,
        "seasons_in_mean": int(mean_seasons.size),
        "excluded_seasons": n_excluded,
        "summer_vs_mean_pct": vs_mean,
        "small_number": summer_count < SMALL_NUMBER_THRESHOLD,
        "peaked": peak,
    })
    out = out.sort_values(["summer", "code"], ascending=[False, True],
                          kind="mergesort").reset_index(drop=True)
    if not all_areas:
        out = out[out["peaked"]].reset_index(drop=True)
    out.attrs.update(year_to=f"{day_iso(y_lo[0])} to {day_iso(y_hi[-1])}",
                     month_only_rows=int(times[use & monthly].sum()))
    return out
