"""Query parameters to the engine's typed parameters: where the dashboard parses its input.

A link, a page's controls and an API request all arrive as text (``{"la": "E07000123",
"n": "10"}``). The parsers here turn that text into the dataclasses :mod:`geo` takes
(:class:`~geo.plan.PlanParams`, :class:`~geo.nte_report.NteParams`,
:class:`~geo.vru.TrendsParams` ...), so a page and the API asked the same question always
ask :mod:`geo` the same thing. A bad value raises :class:`~geo.query.FilterError` naming the
parameter: an HTTP 400 from the API, a message on a page.

The shared filters (:func:`parse_filters`), whole numbers (:func:`int_param`) and dates
(:func:`check_date_in_range`) are parsed here too, for the pages, the API and the exports alike;
:mod:`geo` parses no query strings (``tests/unit/test_architecture.py``).

Checks that need the data (is ``la`` an area, does a zone exist, do the data cover a window)
are made by :mod:`geo` when it computes, not here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from geo.boundaries import AUTHORITY, BoundaryError, check_level_name
from geo.emerging import MIN_HOT_COUNT
from geo.nte import NightRule, StatusRule
from geo.nte_report import NteParams
from geo.plan import MONTHS_DEFAULT, UNITS, PlanParams
from geo.query import DAY_NAMES, FilterError, Filters
from geo.settings import limits
from geo.vru import PERIODS, EmergingParams, EvaluateParams, StaggeredTarget, TrendsParams

__all__ = ["PLAN_PARAMETERS", "SHIFT_PARAMETERS", "ShiftParams",
           "check_date_in_range", "int_param", "parse_emerging_params",
           "parse_evaluate_params", "parse_filters", "parse_level", "parse_nte_params",
           "parse_plan_params", "parse_shift_params", "parse_trends_params", "shift_start"]

#: Parameters the plan (and the backtest) take besides the shared filters.
PLAN_PARAMETERS = ("unit", "n", "target_share", "lookback_weeks", "lookback_months", "as_of",
                   "seed", "eps", "minpts", "public_only", "significant", "ranking")
#: The bounds (inclusive) the emerging hot spots accept for ``res``, ``periods`` and
#: ``period_days``; every answer states them.
EMERGING_RES = (7, 10)
EMERGING_PERIODS = (3, 60)
EMERGING_PERIOD_DAYS = (7, 365)
#: The shared filters' own names, listed when an unknown parameter is refused.
#: Most distinct values one list parameter (``la``, ``categories``) may hold.
MAX_LIST_ITEMS = 1000
_FILTER_PARAMETERS = {"start", "end", "days", "hours", "categories", "source", "la",
                      "public_only"}


# -------------------------------------------------------------------------- shared filters
def _items(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _list(params: Mapping[str, Any], name: str, what: str) -> list[str]:
    """Split a comma-separated parameter; one that names nothing (", ") is refused."""
    items = _items(str(params[name]))
    if not items:
        raise FilterError(name, f"'{params[name]}' names nothing; give {what}, or leave "
                          "the parameter out for all")
    return items


def parse_filters(params: Mapping[str, Any]) -> Filters:
    """Parse query parameters (strings) into :class:`Filters`.

    Raises
    ------
    FilterError
        Naming the parameter and saying what a valid value looks like.

    Examples
    --------
    >>> f = parse_filters({"days": "fri,sat", "hours": "20-4"})
    >>> sorted(f.days), f.hours
    ([4, 5], (20, 4))
    """
    known = _FILTER_PARAMETERS
    start = _parse_date(params, "start")
    end = _parse_date(params, "end")
    if start and end and end < start:
        raise FilterError("end", f"{end.isoformat()} is before start {start.isoformat()}")
    days = None
    if params.get("days"):
        names = [d.lower()[:3] for d in _list(params, "days", "a day, e.g. fri,sat")]
        bad = [d for d in names if d not in DAY_NAMES]
        if bad:
            raise FilterError("days", f"'{bad[0]}' is not a day; use mon,tue,wed,thu,fri,sat,sun")
        days = frozenset(DAY_NAMES.index(d) for d in names)
    hours = None
    if params.get("hours"):
        text = str(params["hours"]).strip()
        try:
            a_text, b_text = text.replace(":00", "").split("-")
            a, b = int(a_text), int(b_text)
        except ValueError:
            raise FilterError(
                "hours", f"'{text}' is not an hour band; write it as start-end, e.g. 20-4"
            ) from None
        if not (0 <= a <= 23 and 0 <= b <= 24):
            raise FilterError("hours", f"'{text}': hours run from 0 to 24")
        if a == b % 24:
            if (a, b) != (0, 24):
                raise FilterError("hours", f"'{text}': start and end are the same hour")
        else:
            hours = (a, b % 24)
    categories = tuple(dict.fromkeys(_list(params, "categories", "a category"))) if \
        params.get("categories") else None
    if categories is not None and len(categories) > MAX_LIST_ITEMS:
        raise FilterError("categories", f"{len(categories):,} crime types is more than the "
                          f"{MAX_LIST_ITEMS:,} one question may name")
    sources = tuple(s.lower() for s in _list(params, "source", "a source, e.g. police")) if \
        params.get("source") else None
    # each area once (a repeated code would count its residents twice), and a bounded list
    areas = tuple(dict.fromkeys(_list(params, "la", "an area code"))) if params.get(
        "la") else None
    if areas is not None and len(areas) > MAX_LIST_ITEMS:
        raise FilterError("la", f"{len(areas):,} area codes is more than the "
                          f"{MAX_LIST_ITEMS:,} one question may name")
    public_only = str(params.get("public_only", "")).lower() in {"1", "true", "yes"}
    unknown = [k for k in params if k not in known]
    if unknown:
        raise FilterError(
            unknown[0], f"unknown filter parameter; known: {', '.join(sorted(known))}"
        )
    return Filters(start, end, days, hours, categories, sources, areas, public_only)


def int_param(params: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    """Parse a whole-number parameter in ``lo..hi``; a blank or missing one gives ``default``.

    Examples
    --------
    >>> int_param({"n": "5"}, "n", 10, 1, 500), int_param({}, "n", 10, 1, 500)
    (5, 10)
    """
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(str(raw))
    except ValueError:
        raise FilterError(name, f"'{raw}' is not a whole number") from None
    if not lo <= value <= hi:
        raise FilterError(name, f"{value} is out of range; use {lo} to {hi}")
    return value


def _parse_date(params: Mapping[str, Any], name: str) -> date | None:
    value = params.get(name)
    if not value:
        return None
    text = str(value).strip()
    try:
        day = date.fromisoformat(text[:10]) if len(text) in (10, 19, 20, 25) else None
    except ValueError:
        day = None
    if day is None:
        raise FilterError(name, f"'{text[:40]}' is not a date; use YYYY-MM-DD")
    return check_date_in_range(day, name)


def check_date_in_range(day: date, name: str) -> date:
    """Refuse a date outside the plausible range of incidents (a setting), naming ``name``.

    A date in 9999 or 0001 is a typing error, and an unbounded range would make day-by-day
    figures (nights, weeks) cost time and memory for every day in between.

    Examples
    --------
    >>> check_date_in_range(date(2024, 6, 7), "start")
    datetime.date(2024, 6, 7)
    >>> check_date_in_range(date(9999, 12, 31), "end")
    Traceback (most recent call last):
    ...
    geo.query.FilterError: end: 9999-12-31 is outside the dates this tool accepts (1990-01-01 to ...
    """
    lim = limits()
    if not lim.earliest_date <= day <= lim.latest_date:
        raise FilterError(name, f"{day.isoformat()} is outside the dates this tool accepts "
                          f"({lim.earliest_date.isoformat()} to {lim.latest_date.isoformat()}; "
                          "settings HOTSPOT_EARLIEST_DATE and HOTSPOT_DAYS_AHEAD)")
    return day


def _nice(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


def _date_in_limits(value: Any, name: str) -> date:
    """Return a date parameter within the dates Hotspot accepts, or refuse it by name."""
    try:
        day = date.fromisoformat(str(value).strip())
    except ValueError:
        raise FilterError(name, f"'{value}' is not a date; use YYYY-MM-DD") from None
    bounds = limits()
    if not bounds.earliest_date <= day <= bounds.latest_date:
        raise FilterError(name, f"{day.isoformat()} is outside the dates Hotspot accepts "
                          f"({_nice(bounds.earliest_date)} to {_nice(bounds.latest_date)})")
    return day


def _split(params: Mapping[str, Any], own: set[str] | frozenset[str]
           ) -> tuple[Filters, dict[str, Any]]:
    """Separate an endpoint's own parameters from the shared filters, which are parsed."""
    mine = {k: v for k, v in params.items() if k in own}
    return parse_filters({k: v for k, v in params.items() if k not in own}), mine


# ---------------------------------------------------------------------------- patrol plans
def _plan_filters(shared: Mapping[str, Any], own: set[str] | frozenset[str]) -> Filters:
    """Parse the shared filters; an unknown parameter's message lists every accepted one."""
    try:
        return parse_filters(shared)
    except FilterError as exc:
        if exc.message.startswith("unknown filter parameter"):
            known = sorted(own | _FILTER_PARAMETERS)
            raise FilterError(exc.param, f"'{exc.param}' is not a parameter here; accepted: "
                              f"{', '.join(known)}") from None
        raise


def parse_plan_params(params: Mapping[str, Any],
                      also_accepted: frozenset[str] = frozenset()) -> PlanParams:
    """Parse query parameters into :class:`~geo.plan.PlanParams`, naming any bad parameter.

    ``also_accepted`` names parameters the caller reads itself (such as the backtest's
    ``horizon_weeks``): they are ignored here but listed when an unknown one is refused.

    Examples
    --------
    >>> p = parse_plan_params({"la": "E07000123", "days": "fri,sat", "hours": "20-4", "n": "10"})
    >>> p.areas, sorted(p.days), p.hours, p.n
    (('E07000123',), [4, 5], (20, 4), 10)
    >>> parse_plan_params({"unit": "hexagons"})
    Traceback (most recent call last):
    ...
    geo.query.FilterError: unit: 'hexagons' is not a hotspot unit; use h3-9, h3-10, dbscan
    """
    own = set(PLAN_PARAMETERS)
    shared = {k: v for k, v in params.items() if k not in own | also_accepted}
    filters = _plan_filters(shared, own | also_accepted)
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
        bounds = limits()
        if not bounds.earliest_date <= as_of <= bounds.latest_date:
            raise FilterError("as_of", f"{as_of.isoformat()} is outside the dates Hotspot "
                              f"accepts ({_nice(bounds.earliest_date)} to "
                              f"{_nice(bounds.latest_date)})")
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
    ranking = str(params.get("ranking") or "forecast").strip().lower()
    if ranking not in ("forecast", "harm"):
        raise FilterError("ranking", "use forecast (the next period's forecast, the default) or "
                          "harm (the look-back window's harm)")
    try:
        eps = float(str(params.get("eps") or 100.0))
    except ValueError:
        raise FilterError("eps", f"'{params.get('eps')}' is not a number of metres") from None
    if not 10 <= eps <= 2000:
        raise FilterError("eps", "use a distance from 10 to 2,000 metres")
    return PlanParams(
        areas=filters.areas,
        lookback_weeks=int_param(params, "lookback_weeks", 12, 1, 156),
        weeks_given=params.get("lookback_weeks") not in (None, ""),
        lookback_months=(int_param(params, "lookback_months", MONTHS_DEFAULT, 1, 60)
                         if params.get("lookback_months") not in (None, "") else None),
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
        ranking=ranking,
    )


# ------------------------------------------------------------------------- an officer's shift
#: Parameters the shift view (``/shift``) takes besides the plan's.
SHIFT_PARAMETERS = frozenset({"date"})
#: Places on an officer's shift plan unless the link asks otherwise (``n`` or
#: ``target_share``): about as many as one officer can visit, and few enough to read on a phone.
SHIFT_PLACES = 5
#: The shift's hours unless the link gives ``hours``: the evening and night shift.
SHIFT_HOURS = "20-4"


@dataclass(frozen=True)
class ShiftParams:
    """One officer's shift: the day it starts and the plan that ranks its places.

    ``plan`` is exactly what the Patrol plan page, the API and the printed briefing are
    asked for the same places (:meth:`~geo.plan.PlanParams.to_params` makes their link).
    """

    #: The day the shift starts (a night shift ends on the next day).
    start: date
    plan: PlanParams
    #: ``date`` was given in the link (else: the current or next shift by the clock).
    date_given: bool = False


def shift_start(now: datetime, hours: tuple[int, int]) -> date:
    """Return the day the current shift started, or the next one starts if none is running.

    ``hours`` is the shift's band (end exclusive; it may wrap past midnight, ``(0, 0)`` is all
    day). A night shift that is still running in the small hours started the day before.

    Examples
    --------
    >>> shift_start(datetime(2026, 12, 5, 14, 0), (20, 4))  # Saturday afternoon: tonight
    datetime.date(2026, 12, 5)
    >>> shift_start(datetime(2026, 12, 6, 2, 30), (20, 4))  # 02:30: Saturday night's shift
    datetime.date(2026, 12, 5)
    >>> shift_start(datetime(2026, 12, 5, 16, 0), (7, 15))  # after an early shift: tomorrow's
    datetime.date(2026, 12, 6)
    """
    a, b = hours
    today = now.date()
    if a == b:
        return today
    if a > b:  # wraps midnight
        return today - timedelta(days=1) if now.hour < b else today
    return today + timedelta(days=1) if now.hour >= b else today


def parse_shift_params(params: Mapping[str, Any], now: datetime, *,
                       data_end: date | None = None, month_only: bool = False) -> ShiftParams:
    """Parse the shift view's query parameters: ``date`` and every plan parameter.

    Defaults make "tonight's plan": the current or next shift by ``now`` (:func:`shift_start`)
    over :data:`SHIFT_HOURS`, its places ranked on incidents of the same weekday and hours,
    :data:`SHIFT_PLACES` of them, visit times seeded by the date (so they change from night to
    night, yet a link or a printed briefing for a night gives the same times), and the
    look-back ending the day before the shift (or with the data, if they end sooner). A link
    may set any of them. On month-only data (``month_only``) no days or hours are assumed:
    the data have none.

    Raises
    ------
    FilterError
        Naming the parameter and saying what a valid value looks like.

    Examples
    --------
    >>> s = parse_shift_params({"la": "E06000009"}, datetime(2026, 12, 5, 14, 0))
    >>> s.start, sorted(s.plan.days), s.plan.hours, s.plan.n, s.plan.seed, s.plan.as_of
    (datetime.date(2026, 12, 5), [5], (20, 4), 5, 20261205, datetime.date(2026, 12, 4))
    >>> parse_shift_params({"date": "5 Dec"}, datetime(2026, 12, 5, 14, 0))
    Traceback (most recent call last):
    ...
    geo.query.FilterError: date: '5 Dec' is not a date; use YYYY-MM-DD
    """
    given = {k: v for k, v in params.items() if k not in SHIFT_PARAMETERS}
    date_text = str(params.get("date") or "").strip()
    if not month_only and not given.get("hours"):
        given["hours"] = SHIFT_HOURS
    # the band is checked (and its bad values named) by the plan's own parser below; the
    # default day needs it parsed first
    hours = parse_filters({"hours": given["hours"]}).hours if given.get("hours") else None
    start = (_date_in_limits(date_text, "date") if date_text
             else shift_start(now, hours or (0, 0)))
    if not month_only and not given.get("days"):
        given["days"] = DAY_NAMES[start.weekday()]
    if given.get("n") in (None, "") and given.get("target_share") in (None, ""):
        given["n"] = str(SHIFT_PLACES)
    if given.get("seed") in (None, ""):
        given["seed"] = start.strftime("%Y%m%d")
    plan = parse_plan_params(given, also_accepted=SHIFT_PARAMETERS)
    if plan.as_of is None and not month_only:
        day_before = start - timedelta(days=1)
        if data_end is None or day_before < data_end:
            plan = replace(plan, as_of=day_before)
    return ShiftParams(start=start, plan=plan, date_given=bool(date_text))


# ---------------------------------------------------------------------- night-time economy
def parse_nte_params(params: Mapping[str, Any]) -> NteParams:
    """Parse query parameters: the shared filters, the night and the status rule.

    ``night`` is e.g. ``18-6``; the status rule is ``green_below`` and ``red_above``
    quantiles, or ``amber`` and ``red`` fixed counts.

    Examples
    --------
    >>> p = parse_nte_params({"night": "20-4", "categories": "Robbery"})
    >>> p.rule.evening_start, p.rule.morning_end, p.filters.categories
    (20, 4, ('Robbery',))
    """
    filters, own = _split(params, {"night", "green_below", "red_above", "amber", "red",
                                   "min_history"})
    rule = NightRule()
    if own.get("night"):
        text = str(own["night"])
        try:
            a, b = (int(x) for x in text.split("-"))
            rule = NightRule(a, b % 24)
        except ValueError:
            raise FilterError("night", f"'{text}' is not a night; write evening-morning "
                              "hours such as 18-6") from None
    status = StatusRule()
    try:
        if own.get("amber") or own.get("red"):
            amber = int_param(own, "amber", 0, 0, 100_000)
            red = int_param(own, "red", 0, 1, 100_000)
            if red <= amber:
                raise FilterError("red", "the red count must be above the amber count")
            status = StatusRule(mode="fixed", fixed_amber=amber, fixed_red=red)
        else:
            green = float(own.get("green_below") or status.green_below)
            red_q = float(own.get("red_above") or status.red_above)
            if not 0 < green < red_q < 1:
                raise FilterError("red_above", "quantiles must satisfy 0 < green_below < "
                                  "red_above < 1")
            status = StatusRule(green_below=green, red_above=red_q,
                                min_history=int_param(own, "min_history",
                                                      status.min_history, 1, 520))
    except ValueError as exc:
        if isinstance(exc, FilterError):
            raise
        raise FilterError("green_below", "thresholds must be numbers") from None
    return NteParams(filters=filters, rule=rule, status=status)


# ---------------------------------------------------------------------- VRU analyses
def _league_baseline_year(value: Any) -> int | None:
    """Return the first year of a ``fy:YYYY`` league baseline Hotspot could hold data for."""
    if value in (None, ""):
        return None
    match = re.fullmatch(r"(?:fy:)?(\d{4})(?:/\d{2})?", str(value).strip())
    bounds = limits()
    if not match or not bounds.earliest_date.year <= int(match.group(1)) <= \
            bounds.latest_date.year:
        raise FilterError("league_baseline", f"'{value}' is not a financial year; use "
                          f"fy:YYYY for the year from 1 April YYYY (YYYY from "
                          f"{bounds.earliest_date.year} to {bounds.latest_date.year}), e.g. "
                          "fy:2022 for 2022/23")
    return int(match.group(1))


def parse_level(value: Any) -> str:
    """Parse a boundary level's name (``level``): ``authority`` when blank or missing.

    Only the form is checked here; whether the level exists is for the query layer, which
    knows the levels imported (:meth:`geo.query.QueryLayer.level_boundaries`).

    Examples
    --------
    >>> parse_level(None), parse_level(" Ward ")
    ('authority', 'ward')
    >>> parse_level("police beats")
    Traceback (most recent call last):
    ...
    geo.query.FilterError: level: 'police beats' is not a level name; use authority or the ...
    """
    if value is None or str(value).strip() == "":
        return AUTHORITY
    try:
        return check_level_name(str(value))
    except BoundaryError:
        raise FilterError("level", f"'{str(value).strip()[:40]}' is not a level name; use "
                          "authority or the name of an imported level, e.g. ward") from None


def parse_trends_params(params: Mapping[str, Any]) -> TrendsParams:
    """Parse the trends' query parameters: the filters, ``period``, ``zone``, ``league_baseline``.

    ``level`` picks the boundary level the league table ranks (default ``authority``).

    Examples
    --------
    >>> p = parse_trends_params({"la": "E07000123", "period": "fyq",
    ...                          "league_baseline": "fy:2022", "level": "ward"})
    >>> p.filters.areas, p.period, p.zone, p.league_baseline, p.level
    (('E07000123',), 'fyq', None, 2022, 'ward')
    """
    filters, own = _split(params, {"period", "zone", "league_baseline", "level"})
    period = str(own.get("period") or "month")
    if period not in PERIODS:
        raise FilterError("period", f"'{period}' is not a period; use {', '.join(PERIODS)}")
    return TrendsParams(filters=filters, period=period, zone=own.get("zone") or None,
                        league_baseline=_league_baseline_year(own.get("league_baseline")),
                        level=parse_level(own.get("level")))


def parse_emerging_params(params: Mapping[str, Any]) -> EmergingParams:
    """Parse the emerging hot spots' query parameters.

    ``res`` (7 to 10), ``min_count``, ``period_days`` and ``periods``; a period length or
    count left out is chosen from the data (:class:`~geo.vru.EmergingParams`).

    Examples
    --------
    >>> p = parse_emerging_params({"categories": "Robbery", "periods": "12"})
    >>> p.res, p.periods, p.period_days, p.filters.categories
    (8, 12, None, ('Robbery',))
    """
    filters, own = _split(params, {"res", "period_days", "periods", "min_count"})
    res = int_param(own, "res", 8, *EMERGING_RES)
    min_count = int_param(own, "min_count", MIN_HOT_COUNT, 1, 1000)
    if filters.categories is not None and not filters.categories:
        raise FilterError("categories", "no category was given; leave categories out for all "
                          "of them, or name them, e.g. categories=Robbery")
    given = {k for k in ("period_days", "periods") if own.get(k) not in (None, "")}
    return EmergingParams(
        filters=filters, res=res, min_count=min_count,
        period_days=int_param(own, "period_days", 0, *EMERGING_PERIOD_DAYS)
        if "period_days" in given else None,
        periods=int_param(own, "periods", 0, *EMERGING_PERIODS) if "periods" in given
        else None)


def _buffer_m(own: Mapping[str, Any]) -> float:
    raw = own.get("buffer_m")
    if raw in (None, ""):
        return 250.0
    try:
        buffer_m = float(str(raw))
    except ValueError:
        raise FilterError("buffer_m", f"'{raw}' is not a number of metres; use a ring width "
                          "from 1 to 5,000 metres, e.g. 250") from None
    if not 1 <= buffer_m <= 5000:  # also refuses nan and inf
        raise FilterError("buffer_m", f"{raw} m is out of range; use a ring width from 1 to "
                          "5,000 metres")
    return buffer_m


def _staggered_targets(text: str) -> tuple[StaggeredTarget, ...]:
    """Parse ``targets=id@start[/end],...`` (an end left out is the end of the data)."""
    items = [item for item in text.split(",") if item.strip()]
    if not items or len(items) > 50:
        raise FilterError("targets", "give from 1 to 50 targets, each as id@YYYY-MM-DD or "
                          "id@YYYY-MM-DD/YYYY-MM-DD")
    targets = []
    for item in items:
        key, _, when = item.strip().partition("@")
        start_text, _, end_text = when.partition("/")
        try:
            start = date.fromisoformat(start_text)
            end = date.fromisoformat(end_text) if end_text else None
        except ValueError:
            raise FilterError("targets", f"'{item}': write each target as id@YYYY-MM-DD or "
                              "id@YYYY-MM-DD/YYYY-MM-DD") from None
        _date_in_limits(start.isoformat(), "targets")
        if end is not None:
            _date_in_limits(end.isoformat(), "targets")
            if end < start:
                raise FilterError("targets", f"'{item}': the intervention ends before it "
                                  "starts")
        targets.append(StaggeredTarget(key=key, start=start, end=end, text=item))
    return tuple(targets)


def parse_evaluate_params(params: Mapping[str, Any]) -> EvaluateParams:
    """Parse an evaluation's query parameters (see :func:`geo.vru.evaluate`).

    ``start`` and ``end`` bound the intervention here, not the selection; with ``targets``
    (a staggered roll-out) they are not used.

    Examples
    --------
    >>> p = parse_evaluate_params({"target": "E07000123", "start": "2024-06-01",
    ...                            "buffer_m": "300"})
    >>> p.target, p.start, p.end, p.baseline, p.buffer_m
    ('E07000123', datetime.date(2024, 6, 1), None, 'equal_before', 300.0)
    >>> parse_evaluate_params({"target": "E07000123"})
    Traceback (most recent call last):
    ...
    geo.query.FilterError: start: give the date the intervention started (YYYY-MM-DD)
    """
    filters, own = _split(params, {"target", "start", "end", "baseline", "comparison",
                                   "buffer_m", "targets"})
    baseline = str(own.get("baseline") or "equal_before")
    comparison = str(own["comparison"]) if own.get("comparison") else None
    if own.get("targets"):
        targets = _staggered_targets(str(own["targets"]))
        return EvaluateParams(filters=filters, baseline=baseline, comparison=comparison,
                              buffer_m=_buffer_m(own), targets=targets)
    if not own.get("start"):
        raise FilterError("start", "give the date the intervention started (YYYY-MM-DD)")
    start = _date_in_limits(own["start"], "start")
    end = _date_in_limits(own["end"], "end") if own.get("end") else None
    if end is not None and end < start:
        raise FilterError("end", "the intervention ends before it starts")
    target = str(own.get("target") or (filters.areas[0] if filters.areas else ""))
    return EvaluateParams(filters=filters, target=target, start=start, end=end,
                          baseline=baseline, comparison=comparison, buffer_m=_buffer_m(own))
