"""One door to the hospital and ambulance figures: the Health page and ``/api/v1/health-data``.

Both read the same parameters (strings, as in a query string) through :func:`coverage` and
:func:`compare`, so they show the same numbers. Every figure comes from the query layer as
the signed-in person may see it: small numbers suppressed for roles that suppress, no rows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geo.health import HoursError, Shift, parse_days, parse_hours, parse_shifts
from geo.query import FilterError, Filters
from geo.schema import HEALTH_SOURCES
from geo.settings import H3_RESOLUTIONS

#: Service hours when none are given: a navigator's working day.
DEFAULT_SHIFTS = "mon-fri 9-17"
SOURCES = HEALTH_SOURCES
PERIODS = ("month", "quarter", "year", "fy")
COVERAGE_PARAMETERS = ("hours", "days", "shifts", "add_hours", "add_days", "add_shifts",
                       "source")
COMPARE_PARAMETERS = ("period", "level", "source")


def _filters(params: Mapping[str, Any], own: tuple[str, ...]) -> Filters:
    from dashboard import services
    from dashboard.params import parse_filters

    rest = {k: v for k, v in params.items() if k not in own}
    for name in ("days", "hours", "source", "categories"):
        if name in rest:
            raise FilterError(name, "is not a filter here")
    filters = parse_filters(rest)
    services.current().query.validate(filters)
    return filters


def _source(params: Mapping[str, Any]) -> str:
    source = str(params.get("source") or "ed").strip().lower()
    if source not in SOURCES:
        raise FilterError("source", f"{source[:20]!r} is not a health source; use ed or "
                          "ambulance")
    return source


def _shifts(params: Mapping[str, Any], prefix: str = "") -> tuple[Shift, ...]:
    """Read ``shifts`` (several, ``;``-separated) or ``hours`` with ``days`` (one shift)."""
    try:
        text = str(params.get(f"{prefix}shifts") or "").strip()
        hours = str(params.get(f"{prefix}hours") or "").strip()
        days = str(params.get(f"{prefix}days") or "").strip()
        if text and (hours or days):
            raise HoursError(f"{prefix}shifts", f"give either {prefix}shifts or "
                             f"{prefix}hours with {prefix}days, not both")
        if text:
            if len(text) > 500:
                raise HoursError(f"{prefix}shifts", "is too long (at most 500 characters)")
            return parse_shifts(text, f"{prefix}shifts")
        if hours or days:
            start, end = parse_hours(hours or "0-24", f"{prefix}hours")
            return (Shift(parse_days(days or "all", f"{prefix}days"), start, end),)
        return parse_shifts(DEFAULT_SHIFTS) if not prefix else ()
    except HoursError as exc:
        raise FilterError(exc.param, exc.message) from None


def coverage(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return navigator-hours coverage for ``params`` (see docs/API.md)."""
    from dashboard import services

    source = _source(params)
    shifts = _shifts(params)
    if not shifts:
        raise FilterError("shifts", "no service hours given")
    extension = _shifts(params, "add_")
    filters = _filters(params, COVERAGE_PARAMETERS)
    out = services.current().query.health_coverage(filters, source, shifts, extension)
    out["filters"] = filters.to_params()
    return out


def _with_time_of_week(filters: Filters, params: Mapping[str, Any]) -> Filters:
    """Add the ``days`` and ``hours`` filters (read as everywhere else) to ``filters``."""
    from dataclasses import replace

    from dashboard.params import parse_filters

    wanted = {k: params[k] for k in ("days", "hours") if params.get(k)}
    if not wanted:
        return filters
    parsed = parse_filters(wanted)
    return replace(filters, days=parsed.days, hours=parsed.hours)


def compare(params: Mapping[str, Any]) -> dict[str, Any]:
    """Return hospital beside police for ``params`` (see docs/API.md)."""
    from dashboard import services

    source = _source(params)
    period = str(params.get("period") or "month").strip().lower()
    if period not in PERIODS:
        raise FilterError("period", f"{period[:20]!r} is not a period; use month, quarter, "
                          "year or fy (financial year)")
    svc = services.current()
    level = str(params.get("level") or "authority").strip()
    hexagons = [f"h3-{r}" for r in H3_RESOLUTIONS]
    if level not in svc.query.level_names() and level not in hexagons:
        raise FilterError("level", f"{level[:30]!r} is not a level; levels: "
                          f"{', '.join(svc.query.level_names() + hexagons)}")
    # weekdays and hours narrow the comparison here (late weekend nights, say)
    filters = _filters(params, COMPARE_PARAMETERS + ("days", "hours"))
    filters = _with_time_of_week(filters, params)
    out = svc.query.health_compare(filters, source, period, level)
    out["filters"] = filters.to_params()
    return out
