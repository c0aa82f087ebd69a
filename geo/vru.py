"""Trends, league tables, emerging hotspots and evaluations from the store, for VRU analysts.

One composition layer over :mod:`geo.trends`, :mod:`geo.emerging` and :mod:`geo.evaluation`
that the Trends page and the API share, so a figure on screen and the same figure pulled into a
report always agree. Every change is computed here from counts, with its baseline named.
Each analysis returns a result dataclass (tables as DataFrames, days as dates);
``dashboard/serialise.py`` writes it as the API's JSON.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from geo.query import (
    AUTHORITY,
    FilterError,
    Filters,
    QueryLayer,
    TrendRows,
)

PERIODS = ("day", "week", "month", "fyq", "fy")
_EPOCH = date(1970, 1, 1)


class _AsPairs:
    """Parameters that also read as (name, text) pairs: equal pairs for an equal question.

    ``items()`` lets a cache key on them as it would on query parameters.
    """

    def to_params(self) -> dict[str, str]:  # pragma: no cover - every subclass defines it
        raise NotImplementedError

    def items(self) -> list[tuple[str, str]]:
        """Return :meth:`to_params` as sorted (name, text) pairs."""
        return sorted(self.to_params().items())


@dataclass(frozen=True)
class TrendsParams(_AsPairs):
    """What :func:`trends` depends on, besides the data, the areas and the zones.

    Examples
    --------
    >>> TrendsParams(period="fyq", league_baseline=2022).to_params()
    {'period': 'fyq', 'league_baseline': 'fy:2022'}
    """

    filters: Filters = Filters()
    #: One of :data:`PERIODS`.
    period: str = "month"
    #: A saved NTE zone id: the series is for the zone against the rest.
    zone: str | None = None
    #: The league table's baseline: the financial year from 1 April of this year (None: the
    #: 12 months before the latest 12).
    league_baseline: int | None = None
    #: The boundary level the league table ranks: ``"authority"`` or another (wards...).
    level: str = AUTHORITY

    def to_params(self) -> dict[str, str]:
        """Return the parameters as query-string values."""
        out = {**self.filters.to_params(), "period": self.period}
        if self.zone:
            out["zone"] = self.zone
        if self.league_baseline is not None:
            out["league_baseline"] = f"fy:{self.league_baseline}"
        if self.level != AUTHORITY:
            out["level"] = self.level
        return out


@dataclass(frozen=True)
class EmergingParams(_AsPairs):
    """What :func:`emerging` depends on, besides the data.

    ``period_days`` and ``periods`` left as None are chosen from the data: periods of 42 days,
    the latest 10, for dated incidents; the latest :data:`EMERGING_MONTHS_DEFAULT` calendar
    months for month-only data (which refuse a ``period_days``).

    Examples
    --------
    >>> EmergingParams(res=9, periods=12).to_params()
    {'res': '9', 'min_count': '3', 'periods': '12'}
    """

    filters: Filters = Filters()
    #: H3 resolution of the cells classified.
    res: int = 8
    #: Fewest incidents in a cell and period for it to count as hot.
    min_count: int = 3
    period_days: int | None = None
    periods: int | None = None

    def to_params(self) -> dict[str, str]:
        """Return the parameters as query-string values."""
        out = {**self.filters.to_params(), "res": str(self.res),
               "min_count": str(self.min_count)}
        if self.period_days is not None:
            out["period_days"] = str(self.period_days)
        if self.periods is not None:
            out["periods"] = str(self.periods)
        return out


@dataclass(frozen=True)
class StaggeredTarget:
    """One place of a staggered roll-out: a zone id or area code and its intervention dates."""

    key: str
    start: date
    #: None: the intervention runs to the end of the data.
    end: date | None
    #: The target as written (``id@start/end``), quoted in messages about it.
    text: str


@dataclass(frozen=True)
class EvaluateParams(_AsPairs):
    """What :func:`evaluate` depends on, besides the data, areas, zones and harm weights.

    Examples
    --------
    >>> p = EvaluateParams(target="E07000123", start=date(2024, 6, 1))
    >>> p.to_params()["start"], p.to_params()["buffer_m"]
    ('2024-06-01', '250.0')
    """

    filters: Filters = Filters()
    #: A saved zone id or an area code.
    target: str = ""
    #: The intervention's first and last days (``end`` None: the end of the data).
    start: date | None = None
    end: date | None = None
    #: ``equal_before``, ``last_year`` or ``year:YYYY``
    #: (:func:`geo.evaluation.baseline_window`).
    baseline: str = "equal_before"
    #: An area code (None: the rest of the target's authority, or of the whole area).
    comparison: str | None = None
    #: Width of the displacement ring round the target, metres.
    buffer_m: float = 250.0
    #: A staggered roll-out: several targets, each with its own dates (``target``, ``start``
    #: and ``end`` are then not used).
    targets: tuple[StaggeredTarget, ...] = ()

    def to_params(self) -> dict[str, str]:
        """Return the parameters as query-string values."""
        out = {**self.filters.to_params(), "baseline": self.baseline,
               "buffer_m": repr(float(self.buffer_m))}
        if self.comparison:
            out["comparison"] = self.comparison
        if self.targets:
            out["targets"] = ",".join(
                f"{t.key}@{t.start.isoformat()}" + (f"/{t.end.isoformat()}" if t.end else "")
                for t in self.targets)
            return out
        out["target"] = self.target
        if self.start is not None:
            out["start"] = self.start.isoformat()
        if self.end is not None:
            out["end"] = self.end.isoformat()
        return out


@dataclass(frozen=True)
class LeagueTable:
    """Areas by rate per 1,000: the latest 12 whole months against a baseline year."""

    #: One row per area with incidents (the columns of :func:`geo.trends.league_table`).
    rows: pd.DataFrame
    #: First and last days of the current and baseline years; None when no table could be
    #: made (``notes`` of the :class:`TrendsResult` say why).
    current: tuple[date, date] | None
    baseline: tuple[date, date] | None
    #: Ranked by rate; False when populations are missing, and ``message`` says so.
    ranked: bool
    message: str
    #: Where the populations come from, in words ("" without any).
    population_source: str
    #: The boundary level ranked: ``"authority"`` or another (wards, beats...).
    level: str = AUTHORITY
    #: Incidents of the current and baseline periods outside every area of a level other
    #: than the authorities (so in no row); 0 at the authority level.
    outside_level: int = 0

    @classmethod
    def empty(cls, level: str = AUTHORITY) -> LeagueTable:
        """Return the table that could not be computed: no rows and no years."""
        return cls(rows=pd.DataFrame(), current=None, baseline=None, ranked=False, message="",
                   population_source="", level=level)


@dataclass(frozen=True)
class TrendsResult:
    """What :func:`trends` found: series, indexed sources, seasons and the league table."""

    #: One of :data:`PERIODS`.
    period: str
    filters: Filters
    #: The selection the series is for: area names, a zone's name or "whole area".
    area: str
    #: Counts per period and group (the selection, and "rest of the area" beside it), with
    #: the year-earlier comparison (:func:`geo.trends.series` and its comparisons).
    series: pd.DataFrame
    #: Each source's series indexed to its own first complete 12 months.
    sources: pd.DataFrame
    #: First and last days of the sources' baseline (None: they could not be indexed).
    sources_baseline: tuple[date, date] | None
    #: Counts per calendar month and year, for years overlaid.
    seasonal: pd.DataFrame
    #: Areas by whether they peaked in the summer of ``peaked_summer_year`` (no rows when it
    #: could not be said, and ``peaked_note`` says why).
    peaked: pd.DataFrame
    peaked_summer_year: int | None
    peaked_note: str | None
    league: LeagueTable
    synthetic_sample: bool
    #: Labels of the periods at the edges of the data left out as incomplete.
    incomplete_periods: tuple[str, ...]
    #: Month-only incidents a day or week series cannot place.
    unplaced: int
    notes: tuple[str, ...]


@dataclass(frozen=True)
class EmergingResult:
    """What :func:`emerging` found: the periods, the rules and each cell's category."""

    #: H3 resolution of the cells.
    res: int
    #: Days in a period; None for calendar months (``period_unit`` "month", else "days").
    period_days: int | None
    period_unit: str
    min_count: int
    #: First and last day of each period, oldest first, and their names.
    periods: tuple[tuple[date, date], ...]
    period_labels: tuple[str, ...]
    filters: Filters
    #: When a cell is hot in a period, in words, and each category's rule.
    hot_rule: str
    rules: tuple[tuple[str, str], ...]
    #: The cells with a pattern, from :func:`geo.emerging.emerging_hotspots` ("no pattern"
    #: left out): ``cell`` (uint64), ``category``, ``hot_periods``, ``n_periods``,
    #: ``trend``, ``trend_p``, ``series`` and ``hot_series`` among its columns.
    cells: pd.DataFrame
    notes: tuple[str, ...]
    synthetic_sample: bool


@dataclass(frozen=True)
class EvaluationResult:
    """A before/after evaluation of one intervention (:func:`evaluate`)."""

    #: Names of the target and the comparison area, and the ring's width in metres.
    target: str
    comparison: str
    buffer_m: float
    #: What :func:`geo.evaluation.evaluate` returned: counts, changes, the weighted
    #: displacement difference and its test, and the interpretation.
    figures: Mapping[str, Any]
    #: First and last days of the before period and of the intervention.
    before_window: tuple[date, date]
    after_window: tuple[date, date]
    #: "month" when the windows are whole months of month-only incidents, else "week".
    series_period: str
    #: Incidents per ``series_period`` in the target, its ring and the comparison area.
    series: pd.DataFrame
    notes: tuple[str, ...]
    synthetic_sample: bool


@dataclass(frozen=True)
class StaggeredResult:
    """A staggered roll-out's evaluation: one row per target, then the pooled row."""

    #: :func:`geo.evaluation.evaluate_staggered`'s table, its day columns as dates.
    rows: pd.DataFrame
    notes: tuple[str, ...]
    #: How to read the sign of the WDD.
    sign: str
    #: The comparison area, in words.
    comparison: str
    synthetic_sample: bool


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _date(n: int) -> date:
    return _EPOCH + timedelta(days=int(n))


def _nice(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


#: Periods a year apart, for "the same period last year".
_YEAR_LAG = {"day": 364, "week": 52, "month": 12, "fyq": 4, "fy": 1}


#: What trends for a zone or below whole authorities read, and how to narrow it, when an
#: engine refuses so many incidents (:meth:`geo.query.QueryLayer.within`).
LEVEL_BOUND = ("Trends for a zone or below whole authorities",
               "a shorter date range, fewer crime types or one area")


def trends(query: QueryLayer, boundaries: Any, params: TrendsParams,
           exclude: np.ndarray | None = None, zones: Any = None) -> TrendsResult:
    """Series for the selected area beside the rest, sources indexed, and the league table.

    ``params.period`` is one of :data:`PERIODS`. With areas in the filters the series is for
    those areas and "the rest" is every other area; ``params.zone`` (a saved NTE zone id) does
    the same for a zone; without either, the whole area. Day and week series compare with 364
    days and 52 weeks earlier (same weekday); month, quarter and year with a year earlier.
    """
    from geo import trends as tr

    filters, period = params.filters, params.period
    query.validate(filters)
    query.level_boundaries(params.level)  # an unknown level is refused before any work
    whole = replace(filters, areas=None)
    if params.zone or params.level != AUTHORITY:
        # positions are needed: in memory every incident is there; an engine reads the
        # selected ones as a bounded selection (refused in words when too many)
        query = query.within(whole, *LEVEL_BOUND)
    rows = query.trend_rows(whole)  # each row stands for rows.incidents incidents
    span = rows.span
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    if period in {"day", "week"} and rows.all_month_only:
        # every count would be zero, and look like no violence at all
        raise FilterError("period", "these data give only the month of each incident "
                          "(police.uk), so they cannot be counted by day or week; use month, "
                          "fyq or fy")
    names = boundaries.names()
    zone_id = params.zone
    if zone_id:
        from geo.zones import assign_zones

        zone_names = zones.names() if zones is not None else {}
        if zone_id not in zone_names:
            raise FilterError("zone", f"'{zone_id}' is not a saved zone")
        z = list(zones.zones["zone_id"]).index(zone_id)
        fr = query.frame()  # positions: in memory, where trend rows are the selected rows
        in_sel = (assign_zones(fr.easting, fr.northing, zones) == z)[
            query.select(whole, fr).mask]
        label = zone_names[zone_id]
    elif filters.areas:
        in_sel = np.isin(np.array(rows.areas, dtype=object)[rows.area], list(filters.areas))
        label = ", ".join(names.get(c, c) for c in filters.areas)
    else:
        in_sel = np.ones(len(rows.day), dtype=bool)
        label = "whole area"
    group = np.where(in_sel, 0, 1)
    labels = [label, "rest of the area"]
    times = rows.incidents
    s = tr.series(rows.day, rows.month_first, rows.month_only, period,
                  weight=times.astype("float64"), group=group, group_labels=labels,
                  span=(span[0], span[1]), incidents=times)
    if not filters.areas and not zone_id:
        s = s[s["group"] == label]
    if period == "month":
        s = tr.rolling_12_months(s, exclude=exclude)
    else:
        s = _same_period_last_year(s, _YEAR_LAG[period])
    # sources side by side, each indexed to its own first complete 12 months
    mine = rows.subset(in_sel)
    src = tr.series(mine.day, mine.month_first, mine.month_only,
                    "month" if period in {"day", "week"} else period, group=mine.source,
                    group_labels=list(mine.sources), span=(span[0], span[1]),
                    incidents=mine.incidents)
    notes: list[str] = []
    sources_baseline = None
    if len(src):
        first = int(tr.to_day(src["start"].min()))
        base = (first, first + 364)
        try:
            src = tr.normalise_to_baseline(src, base, exclude=exclude)
            sources_baseline = (_date(base[0]), _date(base[1]))
        except ValueError as exc:
            # e.g. an event in the calendar covers the whole first year
            src = src.iloc[0:0]
            notes.append(f"Sources cannot be indexed: {exc}")
    try:
        league = league_table(query, boundaries, filters, exclude=exclude,
                              baseline_year=params.league_baseline, level=params.level,
                              rows=rows)
    except ValueError as exc:
        if isinstance(exc, FilterError):
            raise
        # the events calendar can leave a baseline with no days at all: say so, draw the rest
        league = LeagueTable.empty(params.level)
        notes.append(f"The league table cannot be computed: {exc}. Check the events "
                     "calendar.")
    season = tr.seasonal_profile(mine.day, mine.month_first, mine.month_only,
                                 span=(span[0], span[1]), incidents=mine.incidents)
    year = span[1].year if span[1].month >= 9 else span[1].year - 1
    peaked_year: int | None = year
    peaked_note = None
    try:
        peaked = tr.peaked_last_summer(
            list(names), rows.area, rows.day, rows.month_first, rows.month_only, year=year,
            area_labels=list(rows.areas), names=names, span=(span[0], span[1]),
            exclude=exclude, incidents=rows.incidents)
    except ValueError as exc:
        peaked, peaked_year, peaked_note = pd.DataFrame(), None, str(exc)
    unplaced = int(s.attrs.get("unplaced", 0) or 0)
    if unplaced and period in {"day", "week"}:
        notes.append(f"{unplaced:,} incidents give only a month, so they are not in these "
                     f"{period} counts.")
    return TrendsResult(
        period=period, filters=filters, area=label, series=s, sources=src,
        sources_baseline=sources_baseline, seasonal=season, peaked=peaked,
        peaked_summer_year=peaked_year, peaked_note=peaked_note, league=league,
        synthetic_sample=query.status()["synthetic_sample"],
        incomplete_periods=tuple(s.attrs.get("incomplete_periods", [])), unplaced=unplaced,
        notes=tuple(notes))


def _same_period_last_year(s: pd.DataFrame, lag: int) -> pd.DataFrame:
    """Add the count a year earlier and the change from it, both counts kept."""
    out = []
    for _, g in s.groupby("group", sort=False):
        g = g.sort_values("period").copy()
        by_key = dict(zip(g["period"], g["count"], strict=True))
        prev = [by_key.get(k - lag) for k in g["period"]]
        g["same_period_last_year"] = [np.nan if v is None else v for v in prev]
        base = g["same_period_last_year"].to_numpy(dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            g["change_vs_last_year_pct"] = np.where(base > 0, 100 * (g["count"] - base) / base,
                                                    np.nan)
        out.append(g)
    return pd.concat(out) if out else s


def league_table(query: QueryLayer, boundaries: Any, filters: Filters,
                 exclude: np.ndarray | None = None, baseline_year: int | None = None,
                 level: str = AUTHORITY, rows: TrendRows | None = None) -> LeagueTable:
    """Areas by rate per 1,000: the latest 12 whole months against a baseline year.

    ``baseline_year`` is None for the 12 months before, or YYYY for the financial year
    starting April YYYY (the "baseline year" of a VRU's reporting). ``level`` is
    ``"authority"`` (the areas of ``boundaries``) or another boundary level of the query layer
    (wards, beats...): its areas the principal may see (:meth:`QueryLayer.level_area`) are
    ranked by the same rules, with the level's own populations; incidents outside every area
    of the level are counted in ``outside_level`` and in no row. ``rows`` are the trend rows
    of ``filters`` without their areas, when the caller has them already.
    """
    from geo import trends as tr

    if level != AUTHORITY:
        # positions: in memory every incident is there; an engine reads the selected ones as
        # a bounded selection, whose trend rows are then its own rows in its frame's order
        layer = query.within(replace(filters, areas=None), *LEVEL_BOUND)
        if layer is not query:
            query, rows = layer, None
    if rows is None:
        rows = query.trend_rows(replace(filters, areas=None))
    span = rows.span
    assert span is not None
    end_month = date(span[1].year, span[1].month, 1)
    if span[1] != (end_month + timedelta(days=32)).replace(day=1) - timedelta(days=1):
        end_month = (end_month - timedelta(days=1)).replace(day=1)  # last whole month
    cur_end = (end_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    cur_start = date(cur_end.year - 1, cur_end.month, 1) + timedelta(days=32)
    cur_start = cur_start.replace(day=1)
    base_end = cur_start - timedelta(days=1)
    base_start = date(cur_start.year - 1, cur_start.month, 1)
    if baseline_year is not None:
        year = baseline_year
        base_start, base_end = date(year, 4, 1), date(year + 1, 3, 31)
        if base_start < span[0] or base_end >= cur_start:
            raise FilterError("league_baseline", f"{year}/{(year + 1) % 100:02d} is not a whole "
                              "year of the data before the latest 12 months")
    elif base_start < span[0]:
        # not two full years: compare equal halves of what there is
        half = (span[1] - span[0]).days // 2
        base_start, base_end = span[0], span[0] + timedelta(days=half - 1)
        cur_start, cur_end = base_end + timedelta(days=1), base_end + timedelta(days=half)
    outside = 0
    if level == AUTHORITY:
        codes = list(boundaries.names())
        area, labels = rows.area, list(rows.areas)
        where = ""
    else:
        # positions: trend rows are the selected rows in the frame's order (above)
        fr = query.frame()
        boundaries = query.level_boundaries(level)
        listed, index = query.level_area(level, fr)
        # rows outside every area of the level get a label no area has (codes are never
        # blank), so the table counts them in ``outside_listed_areas``
        codes, labels = list(listed), [*listed, ""]
        area = np.where(index >= 0, index, len(listed))[
            query.select(replace(filters, areas=None), fr).mask]
        where = f" --level {level}"
    table = tr.league_table(
        codes, boundaries.names(), boundaries.population(), (cur_start, cur_end),
        (base_start, base_end), area, rows.day, area_labels=labels,
        month_first=rows.month_first, month_only=rows.month_only, exclude=exclude,
        only_with_data=True, require_population=True, incidents=rows.incidents)
    if level != AUTHORITY:
        outside = int(table.attrs.get("outside_listed_areas", 0) or 0)
    message = ""
    if table.attrs.get("unranked_reason"):
        message = (f"Areas are listed by count and {table.attrs['unranked_reason']}. Add a "
                   "population table for the boundaries in use with 'hotspot boundaries "
                   f"population FILE.csv{where}' (columns code, population, year).")
    population_source = getattr(boundaries, "population_source", lambda: "")()
    return LeagueTable(rows=table, current=(cur_start, cur_end), baseline=(base_start, base_end),
                       ranked=not message, message=message, population_source=population_source,
                       level=level, outside_level=outside)


#: Most cell-periods (cells with incidents x periods) one emerging-hot-spot request may
#: classify: Gi* and the trend test grow with it; this keeps a request to a few seconds.
EMERGING_MAX_CELL_PERIODS = 300_000
#: Months in a monthly run when ``periods`` is not given (month-only data).
EMERGING_MONTHS_DEFAULT = 12


def emerging(query: QueryLayer, params: EmergingParams) -> EmergingResult:
    """Emerging hot spot categories per H3 cell over six-weekly (or given) periods.

    Month-only data (police.uk) use calendar months instead (the latest ``periods`` whole
    months, default 12); dated incidents use periods of ``period_days`` ending on the last day
    of the data. Every period is named by its dates. A request that would classify more than
    :data:`EMERGING_MAX_CELL_PERIODS` cell-periods is refused with the figures.
    """
    from geo.emerging import (
        RULES,
        emerging_hotspots,
        hot_rule,
        month_periods,
        period_edges,
        period_label,
    )

    filters, res, min_count = params.filters, params.res, params.min_count
    query.validate(filters)
    span, month_only, months = query.month_cover()
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    notes: list[str] = []
    if month_only:
        if params.period_days is not None:
            raise FilterError("period_days", "these data give only the month of each incident "
                              "(police.uk), so the periods are calendar months; leave "
                              "period_days out")
        days = None
        n_periods = params.periods or EMERGING_MONTHS_DEFAULT
        try:
            edges = month_periods(_day(span[0]), _day(span[1]), n_periods)
        except ValueError as exc:
            raise FilterError("periods", str(exc)) from None
        unit = "month"
        notes.append("These data give only the month of each incident (police.uk), so the "
                     "periods are calendar months.")
    else:
        days = params.period_days or 42
        n_periods = params.periods or 10
        try:
            edges = period_edges(_day(span[0]), _day(span[1]), days)[-n_periods:]
        except ValueError as exc:
            raise FilterError("period_days", str(exc)) from None
        unit = "days"
    _refuse_missing_months(months, span, edges)
    if len(edges) < 3:
        raise FilterError("periods", f"the data hold only {len(edges)} whole period(s) of "
                          f"{'a month' if unit == 'month' else f'{days} days'}; at least 3 are "
                          "needed (ten or more for a trend worth reading)")
    if len(edges) < n_periods:
        notes.append(f"The data hold only {len(edges)} whole periods, not the {n_periods} "
                     "asked for.")
    # rows in the periods, placed finely enough for res; in data with days, month-only rows
    # cannot be placed in periods of days and are left out, said so
    cells, day, incidents, left_out = query.period_rows(filters, res, edges,
                                                        dated_only=days is not None)
    if days is not None and left_out:
        notes.append(f"{left_out:,} incidents give only a month (police.uk) and cannot be "
                     "placed in these periods; they are left out.")
    n_cells = int(np.unique(cells).size)
    work = n_cells * len(edges)
    if work > EMERGING_MAX_CELL_PERIODS:
        raise FilterError("periods", f"this would classify {n_cells:,} cells over "
                          f"{len(edges)} periods ({work:,} cell-periods); the limit is "
                          f"{EMERGING_MAX_CELL_PERIODS:,}. Choose fewer periods, a coarser "
                          "resolution (res 7 to 9), or a smaller area or fewer categories.")
    if n_cells == 0:
        notes.append("No incident matching these filters falls in the periods, so there is "
                     "nothing to classify.")
        table = pd.DataFrame()
    else:
        table = emerging_hotspots(cells, day, edges, min_count=min_count,
                                  incidents=incidents)
        table = table[table["category"] != "no pattern"] if len(table) else table
    return EmergingResult(
        res=res, period_days=days, period_unit=unit, min_count=min_count,
        periods=tuple((_date(a), _date(b)) for a, b in edges),
        period_labels=tuple(period_label(a, b) for a, b in edges), filters=filters,
        hot_rule=hot_rule(min_count), rules=tuple(RULES), cells=table, notes=tuple(notes),
        synthetic_sample=query.status()["synthetic_sample"])


def _refuse_missing_months(months: np.ndarray, span: tuple[date, date],
                           edges: list[tuple[int, int]]) -> None:
    """Refuse periods that hold a month with no data: every cell would read 0 in it.

    ``months`` are the first days of the months holding any incident; ``span`` the data's.
    """
    from geo.backtest import months_without_data, window_coverage

    gaps = months_without_data(months)
    if not gaps:
        return
    bad = [k for k, (a, b) in enumerate(edges) if window_coverage(a, b, span[0], span[1],
                                                                  gaps)]
    if not bad:
        return
    missing = sorted({window_coverage(*edges[k], span[0], span[1], gaps) or "" for k in bad})
    clear = len(edges) - 1 - bad[-1]
    advice = (f"the latest {clear} periods avoid it: ask for periods={clear}" if clear >= 3
              else "there are too few periods after it; a trend cannot be read until more "
              "months arrive")
    raise FilterError("periods", f"the periods include a month the data do not cover ("
                      f"{'; '.join(missing)}), so every cell would count 0 there and none could be "
                      f"a hot spot; {advice}.")


def _evaluation_days(fr: Any, mask: np.ndarray, windows: list[tuple[date, date]],
                     n_month_only: int) -> tuple[np.ndarray, bool, list[str]]:
    """Day of each selected incident for counting, whether months are whole, and notes.

    Month-only incidents (police.uk) can be counted only in windows of whole months; there
    they count on the 1st of their month. In other windows they are left out, and said so.
    ``n_month_only`` is how many selected incidents give only a month, wherever they are.
    """
    from geo.evaluation import is_whole_months

    day = fr.day[mask]
    month_only = fr.month_only[mask]
    if not n_month_only:
        return day, False, []
    whole = all(is_whole_months(a, b) for a, b in windows)
    if whole:
        return np.where(month_only, fr.month_first[mask], day), True, [
            f"{n_month_only:,} incidents give only a month (police.uk); the windows "
            "are whole months, so each counts in its month."]
    return day, False, [
        f"{n_month_only:,} incidents give only a month (police.uk) and are left out: "
        "to count them, start on the 1st of a month and end on the last day of one."]


def _check_coverage(cover: tuple[Any, ...], windows: Mapping[str, tuple[int, int]],
                    param: str) -> None:
    """Refuse windows the data do not cover: their counts would be too low to compare.

    ``cover`` is :meth:`geo.query.QueryLayer.month_cover`.
    """
    from geo.backtest import months_without_data, window_coverage

    span, _all_month_only, months = cover
    gaps = months_without_data(months)
    for label, (lo, hi) in windows.items():
        problem = window_coverage(lo, hi, span[0], span[1], gaps)
        if problem:
            raise FilterError(param, f"the {label} period ({_nice(_date(lo))} to "
                              f"{_nice(_date(hi))}) is not covered by the data: {problem}. "
                              "Counts from it would be too low; choose dates the data cover "
                              "in full.")


def evaluate(query: QueryLayer, boundaries: Any, zones: Any, params: EvaluateParams,
             harm_weights: Mapping[str, float] | None = None
             ) -> EvaluationResult | StaggeredResult:
    """Before/after evaluation of an intervention in a zone or an area.

    ``params.target`` names a saved zone id (``z-…``) or an area code. ``start`` (and ``end``,
    default the end of the data) bound the intervention; ``baseline`` is ``equal_before``,
    ``last_year`` or ``year:YYYY``; ``comparison`` is an area code (default: the rest of the
    target's authority, or of the whole area for an authority); ``buffer_m`` the displacement
    ring. Both periods must lie inside the data, with no month missing. Month-only incidents
    count when the intervention runs over whole months (the default baseline is then the same
    number of whole months before). With ``params.targets``, a staggered roll-out is
    evaluated instead.
    """
    import shapely

    from geo.evaluation import baseline_window, buffer_ring
    from geo.evaluation import evaluate as run

    filters = params.filters
    query.validate(replace(filters, areas=None))
    cover = query.month_cover()
    span = cover[0]
    if span is None:
        raise FilterError("target", "there are no incidents in the store yet")
    if params.targets:
        return _staggered(query, boundaries, zones, params, harm_weights)
    if params.start is None:
        raise FilterError("start", "give the date the intervention started (YYYY-MM-DD)")
    start = params.start
    end = params.end or span[1]
    if end < start:
        raise FilterError("end", "the intervention ends before it starts")
    target_key = params.target
    areas_bng = boundaries.areas_bng.set_index("code")
    names = boundaries.names()
    zone_names = zones.names() if zones is not None else {}
    if target_key in zone_names:
        zbng = zones.zones_bng.set_index("zone_id")
        target = zbng.geometry.loc[target_key]
        target_name = zone_names[target_key]
        centroid = target.representative_point()
        home = areas_bng[areas_bng.geometry.contains(centroid)]
        home_code = home.index[0] if len(home) else None
    elif target_key in names:
        target = areas_bng.geometry.loc[target_key]
        target_name = names[target_key]
        home_code = None
    else:
        raise FilterError("target", f"'{target_key}' is neither a saved zone nor an area code")
    buffer_m = params.buffer_m
    baseline = params.baseline
    selected, month_only = query.selected_counts(replace(filters, areas=None))
    all_month_only = selected > 0 and month_only == selected
    try:
        before = baseline_window(start, end, baseline, whole_months=all_month_only)
    except ValueError as exc:
        raise FilterError("start" if all_month_only and "whole months" in str(exc)
                          else "baseline", str(exc)) from None
    _check_coverage(cover, {"intervention": (_day(start), _day(end))},
                    "end" if start >= span[0] and end > span[1] else "start")
    _check_coverage(cover, {"before": before},
                    "start" if baseline == "equal_before" else "baseline")
    ring = buffer_ring(target, buffer_m)
    comp_code = params.comparison
    if comp_code:
        if comp_code not in names:
            raise FilterError("comparison", f"'{comp_code}' is not an area code")
        comparison = areas_bng.geometry.loc[comp_code]
        comp_name = names[comp_code]
    elif home_code is not None:
        comparison = areas_bng.geometry.loc[home_code]
        comp_name = f"rest of {names[home_code]}"
    else:
        comparison = shapely.union_all(list(_areas_with_data(
            areas_bng, query.labels().areas).geometry))
        comp_name = "rest of the area"
    comparison = comparison.difference(target.buffer(buffer_m))
    if comparison.is_empty:
        raise FilterError("comparison", "nothing is left of the comparison area once the "
                          "target and its ring are taken out; choose another comparison area")
    # only incidents in the target, its ring or the comparison area count (on an engine,
    # those inside their bounds are read, bounded)
    door, query = query, _evaluated(query, filters, [target.buffer(buffer_m), comparison])
    fr = query.frame()
    mask = query.select(replace(filters, areas=None), fr).mask
    day, whole_months, month_notes = _evaluation_days(
        fr, mask, [(_date(before[0]), _date(before[1])), (start, end)], month_only)
    weights = query.weights(harm_weights)[mask] if harm_weights else None
    try:
        result = run(target, comparison, ring, fr.easting[mask], fr.northing[mask],
                     day, start_day=start, end_day=end, baseline=baseline, weight=weights,
                     whole_months=whole_months)
    except ValueError as exc:
        raise FilterError("baseline", str(exc)) from None
    from geo.evaluation import monthly_series, weekly_series

    polygons = {"target": target, "buffer": ring, "comparison": comparison}
    first = min(result["before_window"][0], result["after_window"][0])
    last = max(result["before_window"][1], result["after_window"][1])
    counting = monthly_series if whole_months else weekly_series
    series = counting(polygons, fr.easting[mask], fr.northing[mask], day, first, last)
    notes = [*(result.get("notes") or []), *month_notes]
    scale_note = _comparison_note(result["counts"]["comparison"]["before"])
    if scale_note:
        notes.append(scale_note)
    return EvaluationResult(
        target=target_name, comparison=comp_name, buffer_m=buffer_m, figures=result,
        before_window=(_date(result["before_window"][0]), _date(result["before_window"][1])),
        after_window=(_date(result["after_window"][0]), _date(result["after_window"][1])),
        series_period="month" if whole_months else "week", series=series,
        notes=tuple(notes), synthetic_sample=door.status()["synthetic_sample"])


def _evaluated(query: QueryLayer, filters: Filters, places: list[Any]) -> QueryLayer:
    """Return a layer holding every selected incident inside ``places`` (BNG polygons)."""
    from geo.nte_report import zone_bounds

    return query.within(replace(filters, areas=None), "The evaluation",
                        "a smaller comparison area, fewer crime types or a shorter date range",
                        boxes=zone_bounds(places))


def _areas_with_data(areas_bng: Any, held_codes: Sequence[str]) -> Any:
    """Return the areas (indexed by code) that hold any incident: "the rest of the area".

    ``held_codes`` are the authorities the store holds incidents in. Imported national
    boundaries must not make a force's comparison area the whole country.
    """
    held = areas_bng[areas_bng.index.isin([a for a in held_codes if a])]
    return held if len(held) else areas_bng


def _comparison_note(comparison_before: float) -> str | None:
    """Warn when the comparison area is too quiet for its trend to predict much."""
    from geo.settings import SMALL_NUMBER_THRESHOLD

    if comparison_before < 5 * SMALL_NUMBER_THRESHOLD:
        return (f"The comparison area had only {comparison_before:,.0f} incidents before: its "
                "trend, and so the prediction for the target, is uncertain (the interval "
                "allows for it). A busier comparison area with a similar trend gives a "
                "sharper test (Wheeler & Ratcliffe 2018).")
    return None


def _place(key: str, boundaries: Any, zones: Any) -> tuple[Any, str]:
    """Return (BNG polygon, name) of a saved zone id or an area code."""
    zone_names = zones.names() if zones is not None else {}
    if key in zone_names:
        return zones.zones_bng.set_index("zone_id").geometry.loc[key], zone_names[key]
    names = boundaries.names()
    if key in names:
        return boundaries.areas_bng.set_index("code").geometry.loc[key], names[key]
    raise FilterError("targets", f"'{key}' is neither a saved zone nor an area code")


def _staggered(query: QueryLayer, boundaries: Any, zones: Any, params: EvaluateParams,
               harm_weights: Mapping[str, float] | None) -> StaggeredResult:
    """Evaluate a staggered roll-out: each target with its own intervention dates."""
    import shapely

    from geo.evaluation import baseline_window, evaluate_staggered

    cover = query.month_cover()
    span = cover[0]
    assert span is not None
    baseline = params.baseline
    selected, month_only = query.selected_counts(replace(params.filters, areas=None))
    all_month_only = selected > 0 and month_only == selected
    targets = []
    windows: list[tuple[date, date]] = []
    for target in params.targets:
        key, start, item = target.key, target.start, target.text
        end = target.end or span[1]
        if end < start:
            raise FilterError("targets", f"'{item}': the intervention ends before it starts")
        try:
            before = baseline_window(start, end, baseline, whole_months=all_month_only)
        except ValueError as exc:
            raise FilterError("targets" if "whole months" in str(exc) else "baseline",
                              f"'{item}': {exc}") from None
        _check_coverage(cover, {f"before period of {key}": before,
                             f"intervention at {key}": (_day(start), _day(end))}, "targets")
        polygon, name = _place(key, boundaries, zones)
        targets.append((name, polygon, start, end))
        windows += [(_date(before[0]), _date(before[1])), (start, end)]
    buffer_m = params.buffer_m
    union = shapely.union_all([t[1].buffer(buffer_m) for t in targets])
    comp_code = params.comparison
    if comp_code:
        comparison = _place(str(comp_code), boundaries, None)[0]
    else:
        comparison = shapely.union_all(list(_areas_with_data(
            boundaries.areas_bng.set_index("code"), query.labels().areas).geometry))
    comparison = comparison.difference(union)
    door, query = query, _evaluated(query, params.filters, [union, comparison])
    fr = query.frame()
    mask = query.select(replace(params.filters, areas=None), fr).mask
    day, whole_months, month_notes = _evaluation_days(fr, mask, windows, month_only)
    weights = query.weights(harm_weights)[mask] if harm_weights else None
    try:
        table = evaluate_staggered(targets, comparison, fr.easting[mask], fr.northing[mask],
                                   day, baseline=baseline, weight=weights, buffer_m=buffer_m,
                                   whole_months=whole_months)
    except ValueError as exc:
        raise FilterError("targets", str(exc)) from None
    for col in ("start_day", "end_day", "before_start", "before_end"):
        if col in table:
            table[col] = [_date(int(d)) for d in table[col]]
    notes = list(month_notes)
    for r in table.to_dict("records"):
        note = _comparison_note(r.get("comparison_before", 0))
        if note and r.get("name") != "All targets (pooled)":
            notes.append(f"{r['name']}: {note}")
    from geo.evaluation import SIGN_READING

    return StaggeredResult(rows=table, notes=tuple(notes), sign=SIGN_READING,
                           comparison="the chosen area" if comp_code else "rest of the area",
                           synthetic_sample=door.status()["synthetic_sample"])
