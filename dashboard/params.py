"""Query parameters to the engine's typed parameters: where the dashboard parses its input.

A link, a page's controls and an API request all arrive as text (``{"la": "E07000123",
"n": "10"}``). The parsers here turn that text into the dataclasses :mod:`geo` takes
(:class:`~geo.plan.PlanParams`, :class:`~geo.nte_report.NteParams`), so a page and the API
asked the same question always ask :mod:`geo` the same thing. A bad value raises
:class:`~geo.query.FilterError` naming the parameter: an HTTP 400 from the API, a message on
a page.

Checks that need the data (is ``la`` an area, does a zone exist, do the data cover a window)
are made by :mod:`geo` when it computes, not here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from geo.nte import NightRule, StatusRule
from geo.nte_report import NteParams
from geo.plan import MONTHS_DEFAULT, UNITS, PlanParams
from geo.query import FilterError, Filters, int_param, parse_filters
from geo.settings import limits

__all__ = ["BACKTEST_PARAMETERS", "PLAN_PARAMETERS", "parse_backtest_params",
           "parse_nte_params", "parse_plan_params"]

#: Parameters the plan (and the backtest) take besides the shared filters.
PLAN_PARAMETERS = ("unit", "n", "target_share", "lookback_weeks", "lookback_months", "as_of",
                   "seed", "eps", "minpts", "public_only", "significant")
#: Parameters the backtest takes besides the plan's.
BACKTEST_PARAMETERS = frozenset({"horizon_weeks", "rolling"})
#: The shared filters' own names, listed when an unknown parameter is refused.
_FILTER_PARAMETERS = {"start", "end", "days", "hours", "categories", "source", "la",
                      "public_only"}


def _nice(d: date) -> str:
    return f"{d.day} {d:%b %Y}"


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
    )


def parse_backtest_params(params: Mapping[str, Any]) -> tuple[PlanParams, int, bool]:
    """Parse the backtest's query parameters: the plan's, ``horizon_weeks`` and ``rolling``.

    Examples
    --------
    >>> p, weeks, rolling = parse_backtest_params({"la": "E07000123", "horizon_weeks": "2",
    ...                                            "rolling": "1"})
    >>> p.areas, weeks, rolling
    (('E07000123',), 2, True)
    """
    horizon = int_param(params, "horizon_weeks", 4, 1, 52)
    flag = str(params.get("rolling", "0")).strip().lower()
    if flag not in {"", "0", "1", "true", "false", "yes", "no"}:
        raise FilterError("rolling", f"'{params['rolling']}': use 1 for a series over past "
                          "dates, 0 for one date")
    return (parse_plan_params(params, also_accepted=BACKTEST_PARAMETERS), horizon,
            flag in {"1", "true", "yes"})


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
