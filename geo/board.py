"""The partnership board's numbers and sentences: headlines, what changed, and data currency.

Partnership boards (police, councils, the NHS, the PCC's office) meet on UK financial-year
quarters and ask for plain language. The page, the API and the board pack all take their
figures and words from here, so they cannot disagree.

Every headline is for the latest *complete* period of one source: police, ED and ambulance data
arrive on different clocks, and a quarter is complete for a source only when that source's
data cover its last day. A period is compared with its baseline only when both are complete
and no month of either is missing; otherwise the headline says why there is no comparison.
Each change is computed from the two counts it is shown with, and a count below
:data:`geo.settings.SMALL_NUMBER_THRESHOLD` carries a caution. Nothing here tests
significance, so no sentence claims it.

Periods reuse :mod:`geo.trends` (``month`` and ``fyq`` keys and labels); ``12m`` is the twelve
whole months to the latest complete month. Every period here is made of whole months, so
month-only rows (police.uk) are counted exactly like dated ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from geo.settings import SMALL_NUMBER_THRESHOLD
from geo.trends import (
    DayLike,
    day_iso,
    known_population,
    league_table,
    period_bounds,
    period_key,
    period_label,
    to_day,
)

__all__ = [
    "BASELINES",
    "CADENCES",
    "GRACE_DAYS",
    "PERIOD_KINDS",
    "Currency",
    "Headline",
    "WhatChanged",
    "area_changes",
    "area_sentences",
    "emerging_sentence",
    "event_caveats",
    "Activity",
    "need_and_activity",
    "read_activity",
    "currency",
    "headline",
    "headlines",
    "sentence",
    "sources_agree",
    "what_changed",
    "Target",
    "TargetStatus",
    "target_status",
]

#: The periods a board headline can be for: a month, a financial-year quarter, 12 months to date.
PERIOD_KINDS: tuple[str, ...] = ("month", "fyq", "12m")
#: The baselines: the same period a year earlier, a named financial year, the period before.
BASELINES: tuple[str, ...] = ("last_year", "baseline_year", "previous")
#: How often each source's extracts are expected.
CADENCES: tuple[str, ...] = ("daily", "weekly", "monthly")
#: Days after the expected date before a source counts as late.
GRACE_DAYS: Mapping[str, int] = {"daily": 1, "weekly": 1, "monthly": 5}

_MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December")
_MINUS = "\u2212"
_EPOCH_DATE = date(1970, 1, 1)


# --------------------------------------------------------------------------------------------
# Month arithmetic (month keys are months since January 1970, as in geo.trends)
# --------------------------------------------------------------------------------------------


def _month_key(day: int) -> int:
    return int(period_key(np.array([day], dtype=np.int64), "month")[0])


def _month_bounds(month: int) -> tuple[int, int]:
    s, e = period_bounds(np.array([month], dtype=np.int64), "month")
    return int(s[0]), int(e[0])


def _month_name(month: int) -> str:
    return f"{_MONTH_NAMES[month % 12]} {1970 + month // 12}"


def _date_words(day: int | date) -> str:
    d = day if isinstance(day, date) else _EPOCH_DATE + timedelta(days=int(day))
    return f"{d.day} {_MONTH_NAMES[d.month - 1]} {d.year}"


@dataclass(frozen=True)
class _Window:
    first_month: int
    months: int
    label: str

    @property
    def last_month(self) -> int:
        return self.first_month + self.months - 1

    @property
    def start(self) -> int:
        return _month_bounds(self.first_month)[0]

    @property
    def end(self) -> int:
        return _month_bounds(self.last_month)[1]


def _twelve_label(last_month: int) -> str:
    return f"12 months to {_month_name(last_month)}"


def _latest_complete(period: str, last_day: int) -> _Window:
    """Return the latest period of this kind ending on or before ``last_day``."""
    month = _month_key(last_day)
    if _month_bounds(month)[1] != last_day:
        month -= 1
    if period == "month":
        return _Window(month, 1, _month_name(month))
    if period == "12m":
        return _Window(month - 11, 12, _twelve_label(month))
    quarter = int(period_key(np.array([_month_bounds(month)[0]]), "fyq")[0])
    q_start, q_end = period_bounds(np.array([quarter]), "fyq")
    if int(q_end[0]) > _month_bounds(month)[1]:
        quarter -= 1
        q_start, _ = period_bounds(np.array([quarter]), "fyq")
    return _Window(_month_key(int(q_start[0])), 3, period_label(quarter, "fyq"))


def _window_label(period: str, first_month: int, months: int) -> str:
    if period == "month":
        return _month_name(first_month)
    if period == "fyq":
        return period_label(period_key(np.array([_month_bounds(first_month)[0]]), "fyq")[0],
                            "fyq")
    return _twelve_label(first_month + months - 1)


def _baseline_window(
    period: str, current: _Window, baseline: str, baseline_year: int | None
) -> tuple[_Window, str]:
    """Return the baseline window and how a sentence names it."""
    unit = {"month": "month", "fyq": "quarter", "12m": "12 months"}[period]
    if baseline == "last_year":
        first = current.first_month - 12
        phrase = "the previous 12 months" if period == "12m" else f"the same {unit} last year"
        return _Window(first, current.months, _window_label(period, first, current.months)), phrase
    if baseline == "previous":
        first = current.first_month - current.months
        phrase = "the previous 12 months" if period == "12m" else f"the previous {unit}"
        return _Window(first, current.months, _window_label(period, first, current.months)), phrase
    if baseline_year is None:
        raise ValueError("a 'baseline_year' baseline needs the financial year, e.g. 2019 "
                         "for 2019/20")
    fy = period_label(baseline_year, "fy")
    april = (baseline_year - 1970) * 12 + 3
    if period == "12m":
        window = _Window(april, 12, fy)
        return window, f"{fy} (the baseline year)"
    # The same month or quarter in that financial year: its offset from April is kept.
    offset = (current.first_month - 3) % 12
    first = april + offset
    window = _Window(first, current.months, _window_label(period, first, current.months))
    return window, f"{window.label} (the baseline year {fy})"


# --------------------------------------------------------------------------------------------
# Headlines
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    """One source's figure for its latest complete period against the chosen baseline.

    Attributes
    ----------
    source : str
        The source code ("police", "ed", "ambulance").
    period, baseline : str
        The period kind (:data:`PERIOD_KINDS`) and baseline kind (:data:`BASELINES`).
    period_label, baseline_label : str
        E.g. "2024/25 Q2" and "2023/24 Q2"; "June 2024"; "12 months to June 2025".
    baseline_phrase : str
        How a sentence names the baseline, e.g. "the same quarter last year".
    period_start, period_end, baseline_start, baseline_end : str
        ISO first and last days (inclusive) of the two periods.
    count, baseline_count : int
        Incidents of this source in each period (in the chosen areas).
    change : int or None
        ``count - baseline_count``; None when no comparison is made.
    change_pct : float or None
        ``100 * change / baseline_count``; None when the baseline is 0 or no comparison is made.
    population : float or None
        Residents of the chosen areas, None unless every one has a known population.
    rate_per_1000, baseline_rate_per_1000 : float or None
        Incidents per 1,000 residents in each period, None without a population.
    comparable : bool
        Both periods are complete and no month of either is missing.
    reason : str
        Why no comparison is made ("" when ``comparable``).
    small_number : bool
        ``count`` or ``baseline_count`` is below :data:`geo.settings.SMALL_NUMBER_THRESHOLD`.
    """

    source: str
    period: str
    baseline: str
    period_label: str
    baseline_label: str
    baseline_phrase: str
    period_start: str
    period_end: str
    baseline_start: str
    baseline_end: str
    count: int
    baseline_count: int
    change: int | None
    change_pct: float | None
    population: float | None
    rate_per_1000: float | None
    baseline_rate_per_1000: float | None
    comparable: bool
    reason: str
    small_number: bool


def _area_population(
    areas: Sequence[str] | None, population: Mapping[str, Any] | None
) -> float | None:
    if areas is None or population is None or len(areas) == 0:
        return None
    pops = [known_population(population.get(str(a))) for a in areas]
    if any(p is None for p in pops):
        return None
    return float(sum(p for p in pops if p is not None))


def _gaps(window: _Window, present: NDArray[np.int64], covered_from: int | None,
          covered_to: int) -> list[str]:
    """Months of the window that the source's data do not cover, in words."""
    out = []
    for m in range(window.first_month, window.last_month + 1):
        lo, hi = _month_bounds(m)
        partial = (covered_from is not None and lo < covered_from) or hi > covered_to
        if partial or present[m - window.first_month] == 0:
            out.append(_month_name(m))
    return out


def _missing_reason(what: str, label: str, gaps: list[str], months: int) -> str:
    if len(gaps) == months:
        return f"the {what} {label} has no data"
    shown = ", ".join(gaps[:-1]) + f" and {gaps[-1]}" if len(gaps) > 1 else gaps[0]
    return f"the {what} {label} has no data for {shown}"


def headline(
    day: ArrayLike,
    source: ArrayLike,
    which: str,
    covered_to: DayLike,
    *,
    period: str = "fyq",
    baseline: str = "last_year",
    baseline_year: int | None = None,
    month_first: ArrayLike | None = None,
    month_only: ArrayLike | None = None,
    area: ArrayLike | None = None,
    areas: Sequence[str] | None = None,
    population: Mapping[str, Any] | None = None,
    covered_from: DayLike | None = None,
    until: DayLike | None = None,
    counts: ArrayLike | None = None,
    incidents: ArrayLike | None = None,
) -> Headline:
    """Return one source's count for its latest complete period against a baseline.

    Parameters
    ----------
    day : array of int
        Day numbers of the incidents (days since 1970-01-01), ``-1`` where unknown.
    source : array of str
        Source of each incident ("police", "ed", "ambulance").
    which : str
        The source to report.
    covered_to : date, ISO string or day number
        The last day this source's data cover. A period ending after it is not complete.
    period : {"month", "fyq", "12m"}, default "fyq"
        A calendar month, a UK financial-year quarter (Q1 is April to June), or the 12 whole
        months to the latest complete month.
    baseline : {"last_year", "baseline_year", "previous"}, default "last_year"
        The same period a year earlier; the same month or quarter of ``baseline_year`` (the
        whole financial year for ``12m``); or the equal-length period just before.
    baseline_year : int, optional
        The calendar year in which the baseline financial year starts (2019 for 2019/20).
    month_first, month_only : arrays, optional
        For month-only rows, as :func:`geo.trends.period_key` takes them.
    area : array of str, optional
        Area code of each incident; with ``areas``, only incidents in those areas count.
    areas : sequence of str, optional
        The areas to report on (e.g. one local authority); default every incident.
    population : mapping, optional
        Residents by area code. The rate is given only when every area in ``areas`` has one.
    covered_from : date, ISO string or day number, optional
        The first day this source's data cover; months before it are missing.
    until : date, ISO string or day number, optional
        Report no period ending after this day (so that sources can share one quarter).
    counts : array of bool, optional
        The rows that count (e.g. the crime types chosen); default all. Whether a month is
        present is still judged on every row of the source, so a month without a robbery
        is a real zero, not a missing extract.
    incidents : array of int, optional
        How many incidents each row stands for (rows already counted by month, source and
        area); default one each. A row of weight 0 counts nothing and makes no month present.

    Returns
    -------
    Headline
        Counts, change and rates. A month of either period in which the source has no rows at
        all (in any area) is treated as missing, as is a month outside the data's cover: then
        ``comparable`` is False, ``change`` and ``change_pct`` are None and ``reason`` says why.

    Raises
    ------
    ValueError
        For an unknown period or baseline, or a baseline that is not before the period.

    Examples
    --------
    >>> d = [to_day(f"2023-{m:02d}-15") for m in range(4, 13)] * 2 + [to_day("2024-07-01")]
    >>> h = headline(d, ["police"] * len(d), "police", "2024-11-20")
    >>> h.period_label, h.baseline_label, h.count, h.baseline_count
    ('2024/25 Q2', '2023/24 Q2', 1, 6)
    >>> h.comparable, h.reason
    (False, 'the period 2024/25 Q2 has no data for August 2024 and September 2024')
    """
    if period not in PERIOD_KINDS:
        raise ValueError(f"'{period}' is not a board period; choose one of "
                         f"{', '.join(PERIOD_KINDS)}")
    if baseline not in BASELINES:
        raise ValueError(f"'{baseline}' is not a baseline; choose one of {', '.join(BASELINES)}")
    d = np.asarray(day, dtype=np.int64).reshape(-1)
    src = np.asarray(source).astype(str).reshape(-1)
    if src.size != d.size:
        raise ValueError(f"source has {src.size} values for {d.size} rows")
    last_day = to_day(covered_to)
    if until is not None:
        last_day = min(last_day, to_day(until))
    first_day = None if covered_from is None else to_day(covered_from)

    current = _latest_complete(period, last_day)
    base, phrase = _baseline_window(period, current, baseline, baseline_year)
    if base.last_month >= current.first_month:
        raise ValueError(f"the baseline {base.label} is not before {current.label}; "
                         "choose an earlier baseline year")

    months = period_key(d, "month", month_only=month_only, month_first=month_first)
    mine = src == which
    if areas is not None:
        if area is None:
            raise ValueError("areas were chosen but no area was given for the incidents")
        codes = np.asarray(area).astype(str).reshape(-1)
        in_areas = np.isin(codes, [str(a) for a in areas])
    else:
        in_areas = np.ones(d.size, dtype=bool)
    if counts is not None:
        in_areas = in_areas & np.asarray(counts, dtype=bool).reshape(-1)

    w = (np.ones(d.size, dtype=np.int64) if incidents is None
         else np.asarray(incidents, dtype=np.int64).reshape(-1))
    if w.size != d.size:
        raise ValueError(f"incidents has {w.size} values for {d.size} rows")

    def counted(window: _Window, rows: NDArray[np.bool_]) -> NDArray[np.int64]:
        m, n = months[rows], w[rows]
        inside = (m >= window.first_month) & (m <= window.last_month)
        return np.bincount(m[inside] - window.first_month, weights=n[inside],
                           minlength=window.months).astype(np.int64)

    count = int(counted(current, mine & in_areas).sum())
    base_count = int(counted(base, mine & in_areas).sum())

    reasons = []
    # Presence is judged on the source as a whole: a month with no row anywhere is a missing
    # extract, whereas a quiet month in one small area is a real zero.
    for what, window in (("period", current), ("baseline", base)):
        gaps = _gaps(window, counted(window, mine), first_day, last_day)
        if gaps:
            reasons.append(_missing_reason(what, window.label, gaps, window.months))
    comparable = not reasons
    change = count - base_count if comparable else None
    pct = (100.0 * (count - base_count) / base_count
           if comparable and base_count != 0 else None)
    pop = _area_population(areas, population)
    return Headline(
        source=which,
        period=period,
        baseline=baseline,
        period_label=current.label,
        baseline_label=base.label,
        baseline_phrase=phrase,
        period_start=day_iso(current.start),
        period_end=day_iso(current.end),
        baseline_start=day_iso(base.start),
        baseline_end=day_iso(base.end),
        count=count,
        baseline_count=base_count,
        change=change,
        change_pct=pct,
        population=pop,
        rate_per_1000=None if pop is None else 1000.0 * count / pop,
        baseline_rate_per_1000=None if pop is None else 1000.0 * base_count / pop,
        comparable=comparable,
        reason="; ".join(reasons),
        small_number=min(count, base_count) < SMALL_NUMBER_THRESHOLD,
    )


def headlines(
    day: ArrayLike,
    source: ArrayLike,
    covered_to: Mapping[str, DayLike],
    *,
    covered_from: Mapping[str, DayLike] | None = None,
    **options: Any,
) -> tuple[Headline, ...]:
    """Return :func:`headline` for every source in ``covered_to``, in its order.

    ``covered_from`` gives each source's first covered day; ``options`` are passed on to
    :func:`headline` (``period``, ``baseline``, ``areas`` ...).

    Examples
    --------
    >>> d = [to_day("2024-05-01"), to_day("2024-05-02"), to_day("2024-04-03")]
    >>> hs = headlines(d, ["police", "ed", "police"], {"police": "2024-05-31",
    ...                "ed": "2024-06-10"}, period="month", baseline="previous")
    >>> [(h.source, h.period_label, h.count, h.baseline_count, h.comparable) for h in hs]
    [('police', 'May 2024', 1, 1, True), ('ed', 'May 2024', 1, 0, False)]
    """
    first = covered_from or {}
    return tuple(
        headline(day, source, name, last, covered_from=first.get(name), **options)
        for name, last in covered_to.items()
    )


# --------------------------------------------------------------------------------------------
# Sentences
# --------------------------------------------------------------------------------------------


def _shown(count: int, suppress_below: int | None) -> str:
    if suppress_below is not None and 0 < count < suppress_below:
        return f"fewer than {suppress_below}"
    return f"{count:,}"


def _hidden(count: int, suppress_below: int | None) -> bool:
    return suppress_below is not None and 0 < count < suppress_below


def _signed_pct(pct: float) -> str:
    text = f"{abs(pct):.1f}%"
    if text == "0.0%":
        return text
    return (_MINUS if pct < 0 else "+") + text


def _in(label: str) -> str:
    return f"the {label}" if label.startswith("12 months") else label


def sentence(h: Headline, source_label: str, area_name: str, *,
             suppress_below: int | None = None) -> str:
    """Return the headline in plain English.

    Parameters
    ----------
    h : Headline
        From :func:`headline`.
    source_label : str
        What the source counts, e.g. "Police-recorded serious violence".
    area_name : str
        Where, e.g. "Blackpool".
    suppress_below : int, optional
        Show counts from 1 to ``suppress_below - 1`` as "fewer than N" (5 for partners); the
        change is then given only as a direction, since a number would reveal the count.

    Examples
    --------
    >>> h = Headline("police", "fyq", "last_year", "2024/25 Q2", "2023/24 Q2",
    ...              "the same quarter last year", "2024-07-01", "2024-09-30", "2023-07-01",
    ...              "2023-09-30", 612, 653, -41, 100 * -41 / 653, None, None, None, True, "",
    ...              False)
    >>> sentence(h, "Police-recorded serious violence", "Blackpool")
    'Police-recorded serious violence in Blackpool: 612 in 2024/25 Q2, down 41 (\u22126.3%) on 653 in the same quarter last year.'
    """  # noqa: E501
    head = f"{source_label} in {area_name}: {_shown(h.count, suppress_below)} in " \
           f"{_in(h.period_label)}"
    base = f"{_shown(h.baseline_count, suppress_below)} in {h.baseline_phrase}"
    if not h.comparable:
        return f"{head}; no comparison is made because {h.reason}."
    hidden = _hidden(h.count, suppress_below) or _hidden(h.baseline_count, suppress_below)
    # a disclosed headline has no change where a count is hidden: say only the direction
    change = h.change if h.change is not None else h.count - h.baseline_count
    if hidden:
        if _hidden(h.count, suppress_below) and _hidden(h.baseline_count, suppress_below):
            text = f"{head}, against {base}."
        else:
            text = f"{head}, {'up' if change > 0 else 'down'} on {base}."
    elif change == 0:
        text = f"{head}, no change on {base}."
    else:
        way = "up" if change > 0 else "down"
        pct = ("" if h.change_pct is None else f" ({_signed_pct(h.change_pct)})")
        text = f"{head}, {way} {abs(change):,}{pct} on {base}."
        if h.change_pct is None:
            text = text[:-1] + " (no percentage can be given from 0)."
    if h.small_number:
        text += (f" These are small numbers (under {SMALL_NUMBER_THRESHOLD}), so the change "
                 "may be chance.")
    return text


# --------------------------------------------------------------------------------------------
# What changed
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WhatChanged:
    """Sentences on what changed between the headline periods.

    Attributes
    ----------
    areas : tuple of str
        The areas that rose and fell most by rate, per source.
    agreement : tuple of str
        Whether the sources move the same way.
    """

    areas: tuple[str, ...]
    agreement: tuple[str, ...]

    @property
    def sentences(self) -> tuple[str, ...]:
        """Every sentence, areas first."""
        return self.areas + self.agreement


def _lower_first(label: str) -> str:
    # "Police-recorded violence" reads "police-recorded violence" mid-sentence; "ED ..." stays.
    if len(label) > 1 and label[1].islower():
        return label[0].lower() + label[1:]
    return label


def _upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def _rate(value: float) -> str:
    return f"{value:.2f}"


def area_changes(
    h: Headline,
    source_label: str,
    day: ArrayLike,
    source: ArrayLike,
    area: ArrayLike,
    area_codes: Sequence[str],
    names: Mapping[str, str],
    population: Mapping[str, Any],
    *,
    month_first: ArrayLike | None = None,
    month_only: ArrayLike | None = None,
    top: int = 1,
    suppress_below: int | None = None,
) -> tuple[str, ...]:
    """Say which areas rose and fell most by rate between a headline's two periods.

    Only areas with a known population are compared; rates are per 1,000 residents in the
    period, counts are given beside them, and an area with fewer than
    :data:`geo.settings.SMALL_NUMBER_THRESHOLD` incidents in either period carries a caution.
    With ``suppress_below``, a count of 1 to ``suppress_below - 1`` is shown as "fewer than
    N" and the area's rates, which would reveal it, are left out.

    Parameters
    ----------
    h : Headline
        Gives the source and the two periods; nothing is compared when it is not comparable.
    source_label : str
        E.g. "Police-recorded serious violence".
    day, source, area : arrays
        Day number, source and area code of every incident.
    area_codes, names, population : sequence and mappings
        The areas to compare, their names and residents, as :func:`geo.trends.league_table`.
    month_first, month_only : arrays, optional
        For month-only rows.
    top : int, default 1
        How many risers and fallers to name.
    suppress_below : int, optional
        See above.

    Returns
    -------
    tuple of str
        One sentence per area named, risers first; or one sentence saying why none is.

    Examples
    --------
    >>> h = Headline("police", "month", "previous", "May 2024", "April 2024",
    ...              "the previous month", "2024-05-01", "2024-05-31", "2024-04-01",
    ...              "2024-04-30", 30, 20, 10, 50.0, None, None, None, True, "", False)
    >>> d = [to_day("2024-05-02")] * 20 + [to_day("2024-04-02")] * 10 + [
    ...      to_day("2024-05-03")] * 10 + [to_day("2024-04-03")] * 10
    >>> a = ["A"] * 30 + ["B"] * 20
    >>> area_changes(h, "Police-recorded violence", d, ["police"] * 50, a, ["A", "B"],
    ...              {"A": "Avon", "B": "Bury"}, {"A": 2000, "B": 1000})[0]
    'Police-recorded violence rose most by rate in Avon: 10.00 per 1,000 residents in May 2024 against 5.00 in the previous month (20 against 10).'
    """  # noqa: E501
    if not h.comparable:
        return (f"No area comparison for {_lower_first(source_label)}: {h.reason}.",)
    d = np.asarray(day, dtype=np.int64).reshape(-1)
    rows = np.asarray(source).astype(str).reshape(-1) == h.source

    def pick(values: ArrayLike | None) -> ArrayLike | None:
        return None if values is None else np.asarray(values).reshape(-1)[rows]

    table = league_table(
        area_codes, names, population, (h.period_start, h.period_end),
        (h.baseline_start, h.baseline_end), np.asarray(area).astype(str).reshape(-1)[rows],
        d[rows], month_first=pick(month_first), month_only=pick(month_only),
    )
    if suppress_below:
        hide = ((table["count"] >= 1) & (table["count"] < suppress_below)) | (
            (table["baseline_count"] >= 1) & (table["baseline_count"] < suppress_below))
        table = table.assign(suppressed=hide, baseline_suppressed=hide)
    return area_sentences(h, source_label, table, top=top)


def area_sentences(h: Headline, source_label: str, table: Any, *, top: int = 1) -> tuple[str, ...]:
    """Say which areas rose and fell most by rate, from a table of the two periods' counts.

    ``table`` has one row per area with ``code``, ``name``, ``population``, ``count``,
    ``baseline_count``, ``rate_per_1000`` and ``baseline_rate_per_1000``, and optionally
    ``suppressed`` / ``baseline_suppressed`` (counts too small to show, which are never
    ranked: ranking them would tell something of them). Areas are ranked by the change in
    rate; ties go to the lower code. See :func:`area_changes` for the words. A table of one
    area gives no sentence: its headline already says how it moved.

    Examples
    --------
    >>> import pandas as pd
    >>> h = Headline("police", "month", "previous", "May 2024", "April 2024",
    ...              "the previous month", "2024-05-01", "2024-05-31", "2024-04-01",
    ...              "2024-04-30", 33, 30, 3, 10.0, None, None, None, True, "", False)
    >>> t = pd.DataFrame({"code": ["A", "B", "C"], "name": ["Avon", "Bury", "Cole"],
    ...     "population": [1000.0, 4000.0, 1000.0], "count": [30, 2, 1],
    ...     "baseline_count": [20, 8, 2], "rate_per_1000": [30.0, 0.5, 1.0],
    ...     "baseline_rate_per_1000": [20.0, 2.0, 2.0], "suppressed": [False, True, True],
    ...     "baseline_suppressed": [False, False, True]})
    >>> area_sentences(h, "Police-recorded violence", t)
    ('Police-recorded violence rose most by rate in Avon: 30.00 per 1,000 residents in May 2024 against 20.00 in the previous month (30 against 20).', 'No area whose counts can be shown saw a fall in the rate of police-recorded violence (2 areas have counts too small to show and are not ranked).')
    """  # noqa: E501
    if len(table) < 2:  # one area: its headline says it all
        return ()
    if not h.comparable:
        return (f"No area comparison for {_lower_first(source_label)}: {h.reason}.",)
    table = table[table["population"].notna() & (table["population"] > 0)].copy()
    if table.empty:
        return (f"No area can be compared by rate for {_lower_first(source_label)}: no "
                "area has a known population.",)
    hidden = np.zeros(len(table), dtype=bool)
    for col in ("suppressed", "baseline_suppressed"):
        if col in table:
            hidden |= table[col].to_numpy(dtype=bool)
    small = int(hidden.sum())
    table = table[~hidden]
    table["rate_change"] = (table["rate_per_1000"].astype("float64")
                            - table["baseline_rate_per_1000"].astype("float64"))
    risers = table[table["rate_change"] > 0].sort_values(
        ["rate_change", "code"], ascending=[False, True], kind="mergesort").head(top)
    fallers = table[table["rate_change"] < 0].sort_values(
        ["rate_change", "code"], ascending=[True, True], kind="mergesort").head(top)
    out = []
    unranked = (f" ({small} area{'s have' if small != 1 else ' has'} counts too small to show "
                "and " + ("are" if small != 1 else "is") + " not ranked)") if small else ""
    for way, chosen in (("rose", risers), ("fell", fallers)):
        for row in chosen.itertuples():
            count, base = int(row.count), int(row.baseline_count)
            text = (f"{source_label} {way} most by rate in {row.name}: "
                    f"{_rate(row.rate_per_1000)} per 1,000 residents in "
                    f"{_in(h.period_label)} against {_rate(row.baseline_rate_per_1000)} "
                    f"in {h.baseline_phrase} ({count:,} against {base:,}).")
            if count < SMALL_NUMBER_THRESHOLD or base < SMALL_NUMBER_THRESHOLD:
                text += (f" Small numbers (under {SMALL_NUMBER_THRESHOLD}): this may be "
                         "chance.")
            out.append(text)
        if chosen.empty and small:
            noun = "rise" if way == "rose" else "fall"
            out.append(f"No area whose counts can be shown saw a {noun} in the rate of "
                       f"{_lower_first(source_label)}{unranked}.")
    if not out:
        return (f"No area's rate of {_lower_first(source_label)} changed.",)
    if not small and (risers.empty or fallers.empty):
        out.append(f"No area's rate of {_lower_first(source_label)} "
                   f"{'rose' if risers.empty else 'fell'}.")
    return tuple(out)


def _moved(h: Headline, label: str) -> str:
    if h.change == 0:
        return f"{label} did not change"
    way = "rose" if (h.change or 0) > 0 else "fell"
    if h.change_pct is None:
        return f"{label} {way} from 0 to {h.count:,}"
    pct = abs(h.change_pct)
    amount = "less than 1%" if round(pct) == 0 else f"{pct:.0f}%"
    return f"{label} {way} {amount}"


def sources_agree(
    hs: Sequence[Headline], source_labels: Mapping[str, str]
) -> tuple[str, ...]:
    """Say whether the sources' changes point the same way.

    Percentages are rounded to whole numbers for reading aloud; the headlines hold them
    exactly. Sources that cannot be compared are named with the reason. When the sources'
    latest complete periods differ, each is named.

    Examples
    --------
    >>> def h(src, count, base):
    ...     return Headline(src, "fyq", "last_year", "2024/25 Q2", "2023/24 Q2",
    ...                     "the same quarter last year", "2024-07-01", "2024-09-30",
    ...                     "2023-07-01", "2023-09-30", count, base, count - base,
    ...                     100 * (count - base) / base, None, None, None, True, "", False)
    >>> sources_agree([h("ed", 89, 100), h("police", 97, 100)], {
    ...     "ed": "ED assault attendances", "police": "Police-recorded violence"})[0]
    'ED assault attendances fell 11% while police-recorded violence fell 3%, against the same quarter last year: both fell.'
    """  # noqa: E501
    usable = [h for h in hs if h.comparable]
    out = []
    if len(usable) >= 2:
        same_period = len({(h.period_label, h.baseline_label) for h in usable}) == 1
        parts = []
        for i, h in enumerate(usable):
            label = source_labels.get(h.source, h.source)
            part = _moved(h, label if i == 0 else _lower_first(label))
            if not same_period:
                part += f" ({h.period_label} against {h.baseline_label})"
            parts.append(part)
        joined = (f"{parts[0]} while {parts[1]}" if len(parts) == 2
                  else ", ".join(parts[:-1]) + f" and {parts[-1]}")
        if same_period:
            joined += f", against {usable[0].baseline_phrase}"
        signs = {int(np.sign(h.change or 0)) for h in usable}
        everyone = "both" if len(usable) == 2 else "all"
        if len(signs) > 1:
            verdict = "the sources do not agree on the direction"
        else:
            verdict = {1: f"{everyone} rose", -1: f"{everyone} fell",
                       0: f"{'neither' if len(usable) == 2 else 'none'} changed"}[signs.pop()]
        text = f"{joined}: {verdict}."
        if any(h.small_number for h in usable):
            text += " Some counts are small, so part of this may be chance."
        out.append(_upper_first(text))
    elif len(usable) == 1:
        only = usable[0]
        out.append(f"Only {_lower_first(source_labels.get(only.source, only.source))} can be "
                   "compared, so the sources cannot be set against each other.")
    for h in hs:
        if not h.comparable:
            label = source_labels.get(h.source, h.source)
            out.append(f"{label} cannot be compared: {h.reason}.")
    return tuple(out)


def what_changed(
    hs: Sequence[Headline],
    source_labels: Mapping[str, str],
    day: ArrayLike,
    source: ArrayLike,
    area: ArrayLike,
    area_codes: Sequence[str],
    names: Mapping[str, str],
    population: Mapping[str, Any],
    *,
    month_first: ArrayLike | None = None,
    month_only: ArrayLike | None = None,
    top: int = 1,
    suppress_below: int | None = None,
) -> WhatChanged:
    """Return the areas that rose and fell most, per source, and whether the sources agree.

    See :func:`area_changes` and :func:`sources_agree`; the arguments are theirs.

    Examples
    --------
    >>> h = Headline("ed", "month", "previous", "May 2024", "April 2024",
    ...              "the previous month", "2024-05-01", "2024-05-31", "2024-04-01",
    ...              "2024-04-30", 2, 1, 1, 100.0, None, None, None, True, "", True)
    >>> w = what_changed([h], {"ed": "ED assault attendances"}, [to_day("2024-05-01")] * 2
    ...                  + [to_day("2024-04-01")], ["ed"] * 3, ["A"] * 3, ["A", "B"],
    ...                  {"A": "Avon", "B": "Bury"}, {"A": 1000, "B": 500}, suppress_below=5)
    >>> w.areas[0]
    'No area whose counts can be shown saw a rise in the rate of ED assault attendances (1 area has counts too small to show and is not ranked).'
    """  # noqa: E501
    areas: list[str] = []
    for h in hs:
        areas.extend(area_changes(
            h, source_labels.get(h.source, h.source), day, source, area, area_codes, names,
            population, month_first=month_first, month_only=month_only, top=top,
            suppress_below=suppress_below))
    return WhatChanged(areas=tuple(areas), agreement=sources_agree(hs, source_labels))


# --------------------------------------------------------------------------------------------
# Data currency
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Currency:
    """How up to date one source is.

    Attributes
    ----------
    source, cadence : str
        The source and how often its extracts are expected (:data:`CADENCES`).
    covered_to : datetime.date
        The last day its data cover.
    arrived : datetime.date
        When its last batch arrived.
    next_expected : datetime.date
        When the next batch is due: a day, a week or a calendar month after the last arrived.
    late : bool
        ``now`` is after ``next_expected`` plus :data:`GRACE_DAYS` for the cadence.
    days_late : int
        Days past that grace (0 when not late).
    sentence : str
        All of this in words.
    """

    source: str
    cadence: str
    covered_to: date
    arrived: date
    next_expected: date
    late: bool
    days_late: int
    sentence: str


def _as_date(value: date | datetime | DayLike) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return _EPOCH_DATE + timedelta(days=to_day(value))


def _add_month(d: date) -> date:
    year, month = (d.year + 1, 1) if d.month == 12 else (d.year, d.month + 1)
    # 31 January is followed by the last day of February, not 3 March.
    for day in range(d.day, 27, -1):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    return date(year, month, d.day)


def currency(
    covered_to: Mapping[str, DayLike | date],
    arrived: Mapping[str, date | datetime | DayLike],
    cadence: Mapping[str, str],
    now: date | datetime,
    source_labels: Mapping[str, str] | None = None,
) -> tuple[Currency, ...]:
    """Return each source's last covered day, last arrival, next expected batch and lateness.

    Parameters
    ----------
    covered_to : mapping
        The last day each source's data cover.
    arrived : mapping
        When each source's last batch arrived.
    cadence : mapping
        "daily", "weekly" or "monthly" per source.
    now : date or datetime
        The moment to judge lateness at (the caller's clock, so tests can fix it).
    source_labels : mapping, optional
        Names for the sentences; default the source codes.

    Returns
    -------
    tuple of Currency
        In the order of ``covered_to``.

    Examples
    --------
    >>> c = currency({"ed": "2024-09-30"}, {"ed": date(2024, 10, 3)}, {"ed": "monthly"},
    ...              now=date(2024, 11, 9), source_labels={"ed": "ED data"})[0]
    >>> c.next_expected.isoformat(), c.late, c.days_late
    ('2024-11-03', True, 1)
    >>> c.sentence
    'ED data cover to 30 September 2024; the last batch arrived on 3 October 2024 and the next was expected by 3 November 2024 (monthly). Late by 1 day.'
    """  # noqa: E501
    labels = source_labels or {}
    today = _as_date(now)
    out = []
    for name, last in covered_to.items():
        every = cadence.get(name)
        if every not in CADENCES:
            raise ValueError(f"the cadence of '{name}' is {every!r}; choose one of "
                             f"{', '.join(CADENCES)}")
        if name not in arrived:
            raise ValueError(f"no arrival is recorded for '{name}'")
        came = _as_date(arrived[name])
        due = (came + timedelta(days=1) if every == "daily"
               else came + timedelta(days=7) if every == "weekly" else _add_month(came))
        over = (today - (due + timedelta(days=GRACE_DAYS[every]))).days
        late = over > 0
        cover = _as_date(last)
        text = (f"{labels.get(name, name)} cover to {_date_words(cover)}; the last batch "
                f"arrived on {_date_words(came)} and the next "
                f"{'was' if today > due else 'is'} expected by {_date_words(due)} ({every}).")
        if late:
            text += f" Late by {over} day{'s' if over != 1 else ''}."
        out.append(Currency(source=name, cadence=every, covered_to=cover, arrived=came,
                            next_expected=due, late=late, days_late=max(over, 0),
                            sentence=text))
    return tuple(out)


# --------------------------------------------------------------------------------------------
# Targets
@dataclass(frozen=True)
class Target:
    """A partnership target: a reduction of one source's count against a baseline.

    Green when the count is down by at least ``reduction_pct``; amber when down by at least
    ``reduction_pct - amber_within_pct``; red otherwise.
    """

    name: str
    source: str
    reduction_pct: float
    amber_within_pct: float = 5.0


@dataclass(frozen=True)
class TargetStatus:
    """A target's status for one headline, with the rule in words ("none": no comparison)."""

    name: str
    source: str
    status: str  # "green", "amber", "red" or "none"
    rule: str
    sentence: str


def target_status(target: Target, h: Headline) -> TargetStatus:
    """Judge ``target`` on the headline ``h`` of its source.

    Examples
    --------
    >>> h = Headline("police", "fyq", "last_year", "2024/25 Q2", "2023/24 Q2",
    ...              "the same quarter last year", "2024-07-01", "2024-09-30", "2023-07-01",
    ...              "2023-09-30", 612, 653, -41, -41 / 653 * 100, None, None, None, True,
    ...              "", False)
    >>> s = target_status(Target("Violence down 10%", "police", 10.0), h)
    >>> s.status
    'amber'
    >>> print(s.sentence)
    Violence down 10%: amber. Down 6.3% on the same quarter last year, short of the 10% reduction.
    """
    green, amber = target.reduction_pct, target.reduction_pct - target.amber_within_pct
    rule = (f"Green when down at least {green:g}% on {h.baseline_phrase}; amber when down at "
            f"least {max(amber, 0):g}%; red otherwise.")
    if not h.comparable or h.change_pct is None:
        why = (h.reason if not h.comparable
               else "the baseline is 0, so no percentage can be given"
               if h.baseline_count == 0 and h.change is not None
               else "a count is too small to show, so no percentage can be given")
        return TargetStatus(target.name, target.source, "none", rule,
                            f"{target.name}: no status, because {why}.")
    down = -h.change_pct
    status = "green" if down >= green else "amber" if down >= amber else "red"
    moved = (f"Down {down:.1f}%" if down > 0 else f"Up {-down:.1f}%" if down < 0
             else "No change")
    verdict = ("meeting the" if status == "green" else "short of the")
    return TargetStatus(target.name, target.source, status, rule,
                        f"{target.name}: {status}. {moved} on {h.baseline_phrase}, {verdict} "
                        f"{green:g}% reduction.")


# --------------------------------------------------------------------------------------------
# Need and activity
#: Most rows an activity file may hold, and its largest size in bytes.
ACTIVITY_MAX_ROWS = 5_000
ACTIVITY_MAX_BYTES = 2_000_000


@dataclass(frozen=True)
class Activity:
    """One piece of funded or commissioned work in an area (``<data>/board/activity.csv``)."""

    name: str
    area: str  # area code
    kind: str = ""
    funding_gbp: float | None = None
    hours_per_week: float | None = None


def read_activity(text: str, codes_by_name: Mapping[str, str],
                  file_name: str = "activity.csv", *,
                  elsewhere: Mapping[str, str] | None = None
                  ) -> tuple[list[Activity], list[str]]:
    r"""Read a partnership's funded activity, saying what was left out and why.

    Columns: ``name`` and ``area`` (an area code or name) are required; ``kind``,
    ``funding_gbp`` and ``hours_per_week`` are optional. ``codes_by_name`` maps every area's
    code and lower-case name to its code. ``elsewhere`` maps the codes and lower-case names
    of areas of another level (the authorities, when the board shows wards): rows naming
    one are left out together, with one sentence saying how many, not one each.

    Returns
    -------
    (list of Activity, list of str)
        The rows kept, and one sentence per row (or file problem) left out.

    Examples
    --------
    >>> rows, problems = read_activity(
    ...     "name,area,funding_gbp,hours_per_week\nStreet pastors,Preston,12000,20\n"
    ...     "Youth club,Nowhere,5000,\n", {"preston": "E07000123", "E07000123": "E07000123"})
    >>> rows[0].area, rows[0].funding_gbp, rows[0].hours_per_week
    ('E07000123', 12000.0, 20.0)
    >>> problems
    ["Row 3 of activity.csv: 'Nowhere' is not an area of these boundaries; left out."]
    """
    import csv
    import io

    if len(text) > ACTIVITY_MAX_BYTES:
        return [], [f"{file_name} is larger than {ACTIVITY_MAX_BYTES:,} bytes; it was not read."]
    reader = csv.DictReader(io.StringIO(text))
    fields = {f.strip().lower() for f in reader.fieldnames or []}
    missing = {"name", "area"} - fields
    if missing:
        return [], [f"{file_name} needs the columns name and area; "
                    f"{' and '.join(sorted(missing))} {'is' if len(missing) == 1 else 'are'} "
                    "missing. No activity is shown."]
    rows: list[Activity] = []
    problems: list[str] = []
    other = 0
    for line, raw in enumerate(reader, start=2):
        if line - 1 > ACTIVITY_MAX_ROWS:
            problems.append(f"{file_name} has more than {ACTIVITY_MAX_ROWS:,} rows; the rest "
                            "were not read.")
            break
        row = {str(k).strip().lower(): str(v or "").strip() for k, v in raw.items() if k}
        where = f"Row {line} of {file_name}"
        name, area = row.get("name", "")[:200], row.get("area", "")
        code = codes_by_name.get(area) or codes_by_name.get(area.lower())
        if not name:
            problems.append(f"{where}: no name; left out.")
            continue
        if code is None:
            if elsewhere and (area in elsewhere or area.lower() in elsewhere):
                other += 1
                continue
            problems.append(f"{where}: '{area[:80]}' is not an area of these boundaries; "
                            "left out.")
            continue
        numbers: dict[str, float | None] = {}
        bad = ""
        for col in ("funding_gbp", "hours_per_week"):
            text_value = row.get(col, "").replace(",", "").lstrip("£")
            try:
                value = float(text_value) if text_value else None
            except ValueError:
                value = None
                bad = f"{col} '{row.get(col, '')[:40]}' is not a number"
            if value is not None and not (0 <= value < 1e12):
                bad = f"{col} must be zero or more"
            numbers[col] = value
        if bad:
            problems.append(f"{where}: {bad}; left out.")
            continue
        rows.append(Activity(name, code, row.get("kind", "")[:80], numbers["funding_gbp"],
                             numbers["hours_per_week"]))
    if other:
        problems.append(f"{other} row(s) of {file_name} name an area of another level (an "
                        "authority): that activity is shown at that level only.")
    return rows, problems


def need_and_activity(
    areas: Sequence[Mapping[str, Any]],
    hotspots: Mapping[str, int],
    n_hotspots: int,
    zones: Mapping[str, int],
    activity: Sequence[Activity],
) -> list[dict[str, Any]]:
    """Set where the need is beside the work funded there, one row per area.

    ``areas`` are rows with ``code``, ``name``, ``count`` (None where suppressed) and
    ``rate_per_1000`` (None where unknown or hidden). Rows come highest rate first (areas
    without a rate last, by name). Each row says in words how need and activity sit together;
    the words state facts (rank, share of the busiest places, what is funded), not a verdict.

    Examples
    --------
    >>> rows = need_and_activity(
    ...     [{"code": "A", "name": "Avon", "count": 90, "rate_per_1000": 9.0},
    ...      {"code": "B", "name": "Bury", "count": 10, "rate_per_1000": 1.0}],
    ...     {"A": 15, "B": 5}, 20, {"A": 1}, [Activity("Street pastors", "B", "", 1000.0, 4.0)])
    >>> rows[0]["words"]
    'Highest rate of 2 areas (9.00 per 1,000 residents); 15 of the 20 busiest places; 1 zone; no funded activity recorded.'
    >>> rows[1]["words"]
    'Rate 2nd of 2 (1.00 per 1,000 residents); 5 of the 20 busiest places; 1 funded activity (£1,000, 4 hours a week).'
    """  # noqa: E501
    ranked = sorted(areas, key=lambda r: (r.get("rate_per_1000") is None,
                                          -(r.get("rate_per_1000") or 0.0), r["name"]))
    with_rate = [r for r in ranked if r.get("rate_per_1000") is not None]
    out = []
    for i, r in enumerate(ranked):
        funded = [a for a in activity if a.area == r["code"]]
        money = sum(a.funding_gbp or 0.0 for a in funded)
        hours = sum(a.hours_per_week or 0.0 for a in funded)
        rate = r.get("rate_per_1000")
        if rate is None:
            need = "No rate (population unknown or count too small to show)"
        elif i == 0:
            need = (f"Highest rate of {len(with_rate)} area{'s' if len(with_rate) != 1 else ''}"
                    f" ({_rate(rate)} per 1,000 residents)")
        else:
            need = (f"Rate {_ordinal(i + 1)} of {len(with_rate)} ({_rate(rate)} per 1,000 "
                    "residents)")
        parts = [need, f"{hotspots.get(r['code'], 0)} of the {n_hotspots} busiest places"]
        if zones.get(r["code"]):
            n = zones[r["code"]]
            parts.append(f"{n} zone{'s' if n != 1 else ''}")
        if funded:
            extras = [f"£{money:,.0f}"] if money else []
            if hours:
                extras.append(f"{hours:,.0f} hours a week")
            parts.append(f"{len(funded)} funded activit{'ies' if len(funded) != 1 else 'y'}"
                         + (f" ({', '.join(extras)})" if extras else ""))
        else:
            parts.append("no funded activity recorded")
        out.append({"code": r["code"], "name": r["name"], "count": r.get("count"),
                    **({"count_shown_as": r["count_shown_as"]} if r.get("count_shown_as")
                       else {}),
                    "rate_per_1000": rate, "hotspot_cells": int(hotspots.get(r["code"], 0)),
                    "zones": int(zones.get(r["code"], 0)),
                    "funded": [{"name": a.name, "kind": a.kind, "funding_gbp": a.funding_gbp,
                                "hours_per_week": a.hours_per_week} for a in funded],
                    "funding_gbp": money, "hours_per_week": hours,
                    "words": "; ".join(parts) + "."})
    return out


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def emerging_sentence(table: Any, source_label: str, names: Mapping[str, str],
                      months: int, last_month_label: str) -> str:
    """Say in words where hot spots are emerging, by category and area.

    ``table`` has a row per H3 cell with an emerging hot spot category (``category``) and
    its area code (``area``), as :meth:`geo.query.QueryLayer.board_emerging` returns.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"category": ["new", "new", "intensifying", "new"],
    ...                   "area": ["P", "P", "B", "B"]})
    >>> emerging_sentence(t, "Police-recorded violence", {"P": "Preston", "B": "Blackpool"},
    ...                   12, "March 2025")
    'Emerging hot spots in police-recorded violence over the 12 months to March 2025: 1 intensifying (Blackpool); 3 new (2 in Preston, 1 in Blackpool). Each is a place of about 0.7 km² (an H3 cell) judged by the Getis-Ord Gi* statistic month by month with a Mann-Kendall trend test; a category describes a pattern, not its cause.'
    """  # noqa: E501
    from geo.emerging import CATEGORIES

    head = (f"Emerging hot spots in {_lower_first(source_label)} over the {months} months to "
            f"{last_month_label}")
    method = ("Each is a place of about 0.7 km² (an H3 cell) judged by the Getis-Ord Gi* "
              "statistic month by month with a Mann-Kendall trend test; a category describes "
              "a pattern, not its cause.")
    if table is None or len(table) == 0:
        return f"{head}: none. {method}"
    parts = []
    for category in CATEGORIES:
        rows = table[table["category"] == category]
        if rows.empty:
            continue
        by_area = rows["area"].value_counts()
        ordered = sorted(by_area.items(), key=lambda kv: (-kv[1], names.get(kv[0], kv[0])))
        if len(ordered) == 1:
            where = names.get(ordered[0][0], ordered[0][0]) or "outside the areas"
        else:
            where = ", ".join(f"{n} in {names.get(a, a) or 'outside the areas'}"
                              for a, n in ordered)
        parts.append(f"{len(rows)} {category} ({where})")
    return f"{head}: {'; '.join(parts)}. {method}"


def event_caveats(hs: Sequence[Headline], events: Sequence[Any],
                  source_labels: Mapping[str, str]) -> tuple[str, ...]:
    """Say which events of the calendar touch the periods each headline compares.

    ``events`` are :class:`geo.trends.Event`. A recording change between the start of a
    baseline and the end of its period means the two are not counted alike; any other
    event inside either period (a lockdown, a week of action) may explain part of a change.
    The board compares whole periods, so nothing is left out: the caveat says so instead.

    Examples
    --------
    >>> from geo.trends import Event
    >>> h = Headline("police", "fyq", "last_year", "2024/25 Q2", "2023/24 Q2",
    ...              "the same quarter last year", "2024-07-01", "2024-09-30", "2023-07-01",
    ...              "2023-09-30", 612, 653, -41, -6.3, None, None, None, True, "", False)
    >>> event_caveats([h], [Event("New crime recording system", date(2024, 1, 8),
    ...                           date(2024, 1, 8), "recording change")], {"police": "Police"})
    ('Police: recording changed between the periods compared (New crime recording system, 8 January 2024), so 2024/25 Q2 and 2023/24 Q2 are not counted alike; part of the change may be the recording.',)
    """  # noqa: E501
    out = []
    for h in hs:
        if not h.comparable:
            continue
        label = source_labels.get(h.source, h.source)
        lo, hi = date.fromisoformat(h.baseline_start), date.fromisoformat(h.period_end)
        windows = ((date.fromisoformat(h.period_start), date.fromisoformat(h.period_end)),
                   (date.fromisoformat(h.baseline_start), date.fromisoformat(h.baseline_end)))
        for e in events:
            when = (_date_words(e.start) if e.start == e.end
                    else f"{_date_words(e.start)} to {_date_words(e.end)}")
            if e.kind == "recording change":
                if lo < e.start <= hi or lo < e.end <= hi:
                    out.append(f"{label}: recording changed between the periods compared "
                               f"({e.name}, {when}), so {h.period_label} and "
                               f"{h.baseline_label} are not counted alike; part of the change "
                               "may be the recording.")
            elif any(e.start <= b and e.end >= a for a, b in windows):
                out.append(f"{label}: {e.name} ({e.kind}, {when}) falls within the periods "
                           "compared and is counted in them; part of the change may be "
                           "due to it.")
    return tuple(out)
