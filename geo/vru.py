"""Trends, league tables, emerging hotspots and evaluations from the store, for VRU analysts.

One composition layer over :mod:`geo.trends`, :mod:`geo.emerging` and :mod:`geo.evaluation`
that the Trends page and the API share, so a figure on screen and the same figure pulled into a
report always agree. Every change is computed here from counts, with its baseline named.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd

from geo.query import FilterError, Filters, QueryLayer, int_param, parse_filters

PERIODS = ("day", "week", "month", "fyq", "fy")
_EPOCH = date(1970, 1, 1)


def _day(d: date) -> int:
    return (d - _EPOCH).days


def _date(n: int) -> date:
    return _EPOCH + timedelta(days=int(n))


def _clean(v: Any) -> Any:
    if isinstance(v, np.generic):
        v = v.item()
    if v is pd.NA or (isinstance(v, float) and not math.isfinite(v)):
        return None
    if isinstance(v, date):
        return v.isoformat()
    return v


def _records(df: pd.DataFrame, columns: list[str] | None = None) -> list[dict[str, Any]]:
    frame = df if columns is None else df.reindex(columns=columns)
    return [{k: _clean(v) for k, v in row.items()} for row in frame.to_dict("records")]


def split_params(params: Mapping[str, Any], own: set[str]) -> tuple[Filters, dict[str, Any]]:
    """Separate endpoint parameters from the shared filters (which are parsed and checked)."""
    mine = {k: v for k, v in params.items() if k in own}
    filters = parse_filters({k: v for k, v in params.items() if k not in own})
    return filters, mine


#: Periods a year apart, for "the same period last year".
_YEAR_LAG = {"day": 364, "week": 52, "month": 12, "fyq": 4, "fy": 1}


def trends(query: QueryLayer, boundaries: Any, params: Mapping[str, Any],
           exclude: np.ndarray | None = None, zones: Any = None) -> dict[str, Any]:
    """Series for the selected area beside the rest, sources indexed, and the league table.

    ``period`` is one of :data:`PERIODS` (default ``month``). With ``la`` the series is for
    those areas and "the rest" is every other area; ``zone`` (a saved NTE zone id) does the
    same for a zone; without either, the whole area. Day and week series compare with 364
    days and 52 weeks earlier (same weekday); month, quarter and year with a year earlier.
    """
    from geo import trends as tr

    filters, own = split_params(params, {"period", "zone", "league_baseline"})
    period = str(own.get("period") or "month")
    if period not in PERIODS:
        raise FilterError("period", f"'{period}' is not a period; use {', '.join(PERIODS)}")
    query.validate(filters)
    fr = query.frame()
    span = fr.date_span()
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    whole = replace(filters, areas=None)
    mask = query.select(whole).mask
    names = boundaries.names()
    zone_id = own.get("zone")
    if zone_id:
        from geo.zones import assign_zones

        zone_names = zones.names() if zones is not None else {}
        if zone_id not in zone_names:
            raise FilterError("zone", f"'{zone_id}' is not a saved zone")
        z = list(zones.zones["zone_id"]).index(zone_id)
        in_sel = assign_zones(fr.easting, fr.northing, zones) == z
        label = zone_names[zone_id]
    elif filters.areas:
        in_sel = np.isin(np.array(fr.areas, dtype=object)[fr.area], list(filters.areas))
        label = ", ".join(names.get(c, c) for c in filters.areas)
    else:
        in_sel = np.ones(fr.n, dtype=bool)
        label = "whole area"
    group = np.where(in_sel, 0, 1)[mask]
    labels = [label, "rest of the area"]
    s = tr.series(fr.day[mask], fr.month_first[mask], fr.month_only[mask], period,
                  weight=query.weights(None)[mask], group=group, group_labels=labels,
                  span=(span[0], span[1]))
    if not filters.areas and not zone_id:
        s = s[s["group"] == label]
    extra: dict[str, Any] = {}
    if period == "month":
        s = tr.rolling_12_months(s, exclude=exclude)
    else:
        s = _same_period_last_year(s, _YEAR_LAG[period])
    # sources side by side, each indexed to its own first complete 12 months
    src = tr.series(fr.day[mask & in_sel], fr.month_first[mask & in_sel],
                    fr.month_only[mask & in_sel], "month" if period in {"day", "week"}
                    else period, group=fr.source[mask & in_sel],
                    group_labels=list(fr.sources), span=(span[0], span[1]))
    if len(src):
        first = int(tr.to_day(src["start"].min()))
        base = (first, first + 364)
        src = tr.normalise_to_baseline(src, base, exclude=exclude)
        extra["sources_baseline"] = f"{_date(base[0]):%d %b %Y} to {_date(base[1]):%d %b %Y}"
    league = league_table(query, boundaries, filters, exclude=exclude,
                          baseline=own.get("league_baseline"))
    sel = mask & in_sel
    season = tr.seasonal_profile(fr.day[sel], fr.month_first[sel], fr.month_only[sel],
                                 span=(span[0], span[1]))
    extra["seasonal"] = _records(season)
    try:
        year = span[1].year if span[1].month >= 9 else span[1].year - 1
        peaked = tr.peaked_last_summer(
            list(names), fr.area[mask], fr.day[mask], fr.month_first[mask],
            fr.month_only[mask], year=year, area_labels=list(fr.areas), names=names,
            span=(span[0], span[1]), exclude=exclude)
        extra["peaked_last_summer"] = _records(peaked)
        extra["peaked_summer_year"] = year
    except ValueError as exc:
        extra["peaked_last_summer"] = []
        extra["peaked_note"] = str(exc)
    return {
        "period": period, "filters": filters.to_params(), "area": label,
        "rows": _records(s), "sources": _records(src), **extra,
        "league": league["rows"], "league_current": league["current"],
        "league_baseline": league["baseline"], "league_ranked": league["ranked"],
        "league_message": league["message"],
        "league_population_source": league["population_source"],
        "synthetic_sample": query.status()["synthetic_sample"],
        "incomplete_periods": list(s.attrs.get("incomplete_periods", [])),
        "unplaced": int(s.attrs.get("unplaced", 0) or 0),
    }


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
                 exclude: np.ndarray | None = None, baseline: str | None = None
                 ) -> dict[str, Any]:
    """Areas by rate per 1,000: the latest 12 whole months against a baseline year.

    ``baseline`` is None for the 12 months before, or ``fy:YYYY`` for the financial year
    starting April YYYY (the "baseline year" of a VRU's reporting).
    """
    from geo import trends as tr

    fr = query.frame()
    span = fr.date_span()
    assert span is not None
    end_month = date(span[1].year, span[1].month, 1)
    if span[1] != (end_month + timedelta(days=32)).replace(day=1) - timedelta(days=1):
        end_month = (end_month - timedelta(days=1)).replace(day=1)  # last whole month
    cur_end = (end_month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    cur_start = date(cur_end.year - 1, cur_end.month, 1) + timedelta(days=32)
    cur_start = cur_start.replace(day=1)
    base_end = cur_start - timedelta(days=1)
    base_start = date(cur_start.year - 1, cur_start.month, 1)
    if baseline:
        try:
            year = int(str(baseline).removeprefix("fy:")[:4])
        except ValueError:
            raise FilterError("league_baseline", f"'{baseline}' is not a financial year; "
                              "use fy:YYYY, e.g. fy:2022 for 2022/23") from None
        base_start, base_end = date(year, 4, 1), date(year + 1, 3, 31)
        if base_start < span[0] or base_end >= cur_start:
            raise FilterError("league_baseline", f"{year}/{(year + 1) % 100:02d} is not a whole "
                              "year of the data before the latest 12 months")
    elif base_start < span[0]:
        # not two full years: compare equal halves of what there is
        half = (span[1] - span[0]).days // 2
        base_start, base_end = span[0], span[0] + timedelta(days=half - 1)
        cur_start, cur_end = base_end + timedelta(days=1), base_end + timedelta(days=half)
    mask = query.select(replace(filters, areas=None)).mask
    codes = list(boundaries.names())
    table = tr.league_table(
        codes, boundaries.names(), boundaries.population(), (cur_start, cur_end),
        (base_start, base_end), fr.area[mask], fr.day[mask], area_labels=list(fr.areas),
        month_first=fr.month_first[mask], month_only=fr.month_only[mask], exclude=exclude,
        only_with_data=True, require_population=True)
    message = ""
    if table.attrs.get("unranked_reason"):
        message = (f"Areas are listed by count and {table.attrs['unranked_reason']}. Add a "
                   "population table for the boundaries in use with 'hotspot boundaries "
                   "population FILE.csv' (columns code, population, year).")
    population_source = getattr(boundaries, "population_source", lambda: "")()
    return {"rows": _records(table), "current": [cur_start.isoformat(), cur_end.isoformat()],
            "baseline": [base_start.isoformat(), base_end.isoformat()],
            "ranked": not message, "message": message, "population_source": population_source}


def emerging(query: QueryLayer, params: Mapping[str, Any]) -> dict[str, Any]:
    """Emerging hot spot categories per H3 cell over six-weekly (or given) periods."""
    from geo.emerging import RULES, emerging_hotspots, period_edges

    filters, own = split_params(params, {"res", "period_days", "periods"})
    res = int_param(own, "res", 8, 7, 10)
    days = int_param(own, "period_days", 42, 7, 365)
    n_periods = int_param(own, "periods", 10, 3, 60)
    query.validate(filters)
    fr = query.frame()
    span = fr.date_span()
    if span is None:
        raise FilterError("la", "there are no incidents in the store yet")
    if fr.month_only_count == fr.n:
        raise FilterError("period_days", "these data give only months; emerging hot spots "
                          "need dated incidents")
    edges = period_edges(_day(span[0]), _day(span[1]), days)[-n_periods:]
    mask = query.select(filters).mask & (fr.day >= 0)
    cells = fr.cells[res][fr.cell_codes[res][mask]]
    table = emerging_hotspots(cells, fr.day[mask], edges)
    table = table[table["category"] != "no pattern"] if len(table) else table
    rows = []
    for r in table.to_dict("records"):
        rows.append({"cell": format(int(r["cell"]), "x"), "category": r["category"],
                     "hot_periods": _clean(r.get("hot_periods")),
                     "n_periods": _clean(r.get("n_periods")),
                     "trend": r.get("trend"), "trend_p": _clean(r.get("trend_p")),
                     "series": [int(x) for x in r.get("series", [])]})
    return {"res": res, "period_days": days,
            "periods": [[_date(a).isoformat(), _date(b).isoformat()] for a, b in edges],
            "filters": filters.to_params(), "rules": [{"category": c, "rule": t}
                                                       for c, t in RULES],
            "rows": rows, "synthetic_sample": query.status()["synthetic_sample"]}


def evaluate(query: QueryLayer, boundaries: Any, zones: Any, params: Mapping[str, Any],
             harm_weights: Mapping[str, float] | None = None) -> dict[str, Any]:
    """Before/after evaluation of an intervention in a zone or an area.

    ``target`` names a saved zone id (``z-…``) or an area code; ``la`` alone means that area.
    ``start`` (and ``end``, default the end of the data) bound the intervention; ``baseline``
    is ``equal_before``, ``last_year`` or ``year:YYYY``; ``comparison`` is an area code
    (default: the rest of the target's authority, or of the whole area for an authority);
    ``buffer_m`` the displacement ring (default 250 m).
    """
    import shapely

    from geo.evaluation import buffer_ring
    from geo.evaluation import evaluate as run

    own_keys = {"target", "start", "end", "baseline", "comparison", "buffer_m", "targets"}
    filters, own = split_params({k: v for k, v in params.items() if k not in {"start", "end"}}
                                | {k: params[k] for k in ("start", "end") if k in params},
                                own_keys)
    query.validate(replace(filters, areas=None))
    if own.get("targets"):
        return _staggered(query, boundaries, zones, filters, own, harm_weights)
    if not own.get("start"):
        raise FilterError("start", "give the date the intervention started (YYYY-MM-DD)")
    try:
        start = date.fromisoformat(str(own["start"]))
        fr = query.frame()
        span = fr.date_span()
        assert span is not None
        end = date.fromisoformat(str(own["end"])) if own.get("end") else span[1]
    except ValueError as exc:
        raise FilterError("start" if "start" in str(exc) else "end",
                          f"not a date ({exc}); use YYYY-MM-DD") from None
    if end < start:
        raise FilterError("end", "the intervention ends before it starts")
    target_key = str(own.get("target") or (filters.areas[0] if filters.areas else ""))
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
    buffer_m = float(own.get("buffer_m") or 250.0)
    if not 0 < buffer_m <= 5000:
        raise FilterError("buffer_m", "use a ring width from 1 to 5,000 metres")
    ring = buffer_ring(target, buffer_m)
    comp_code = own.get("comparison")
    if comp_code:
        if comp_code not in names:
            raise FilterError("comparison", f"'{comp_code}' is not an area code")
        comparison = areas_bng.geometry.loc[comp_code]
        comp_name = names[comp_code]
    elif home_code is not None:
        comparison = areas_bng.geometry.loc[home_code]
        comp_name = f"rest of {names[home_code]}"
    else:
        comparison = shapely.union_all(list(areas_bng.geometry))
        comp_name = "rest of the area"
    comparison = comparison.difference(target.buffer(buffer_m))
    mask = query.select(replace(filters, areas=None)).mask & (fr.day >= 0)
    weights = query.weights(harm_weights)[mask] if harm_weights else None
    try:
        result = run(target, comparison, ring, fr.easting[mask], fr.northing[mask],
                     fr.day[mask], start_day=start, end_day=end,
                     baseline=str(own.get("baseline") or "equal_before"), weight=weights)
    except ValueError as exc:
        raise FilterError("baseline", str(exc)) from None
    out = {k: _clean(v) if not isinstance(v, dict | list) else v for k, v in result.items()}
    for key in ("before_window", "after_window"):
        out[key] = [_date(d).isoformat() for d in result[key]]
    from geo.evaluation import weekly_series

    weekly = weekly_series({"target": target, "buffer": ring, "comparison": comparison},
                           fr.easting[mask], fr.northing[mask], fr.day[mask],
                           min(result["before_window"][0], result["after_window"][0]),
                           max(result["before_window"][1], result["after_window"][1]))
    out["weekly"] = _records(weekly)
    scale_note = _comparison_scale_note(result["counts"]["target"]["before"],
                                        result["counts"]["comparison"]["before"])
    if scale_note:
        out["notes"] = [*(result.get("notes") or []), scale_note]
    out.update({"target": target_name, "comparison": comp_name,
                "buffer": f"{buffer_m:g} m ring round the target",
                "synthetic_sample": query.status()["synthetic_sample"]})
    return _jsonable(out)


def _comparison_scale_note(target_before: float, comparison_before: float) -> str | None:
    """Warn when the comparison area dwarfs the target: the WDD compares raw changes."""
    if target_before and comparison_before > 5 * target_before:
        return (f"The comparison area had {comparison_before:,.0f} incidents before against the "
                f"target's {target_before:,.0f}: the weighted displacement difference compares "
                "raw changes, so a comparison area of similar size gives a fairer test "
                "(Wheeler & Ratcliffe 2018). Choose one with the comparison setting.")
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


def _staggered(query: QueryLayer, boundaries: Any, zones: Any, filters: Filters,
               own: Mapping[str, Any], harm_weights: Mapping[str, float] | None) -> dict[str, Any]:
    """Evaluate a staggered roll-out: ``targets=id@start[/end],id@start[/end],...``."""
    import shapely

    from geo.evaluation import evaluate_staggered

    fr = query.frame()
    span = fr.date_span()
    assert span is not None
    targets = []
    for item in str(own["targets"]).split(","):
        key, _, when = item.strip().partition("@")
        start_text, _, end_text = when.partition("/")
        try:
            start = date.fromisoformat(start_text)
            end = date.fromisoformat(end_text) if end_text else span[1]
        except ValueError:
            raise FilterError("targets", f"'{item}': write each target as id@YYYY-MM-DD or "
                              "id@YYYY-MM-DD/YYYY-MM-DD") from None
        polygon, name = _place(key, boundaries, zones)
        targets.append((name, polygon, start, end))
    buffer_m = float(own.get("buffer_m") or 250.0)
    union = shapely.union_all([t[1].buffer(buffer_m) for t in targets])
    comp_code = own.get("comparison")
    if comp_code:
        comparison = _place(str(comp_code), boundaries, None)[0]
    else:
        comparison = shapely.union_all(list(boundaries.areas_bng.geometry))
    comparison = comparison.difference(union)
    mask = query.select(replace(filters, areas=None)).mask & (fr.day >= 0)
    weights = query.weights(harm_weights)[mask] if harm_weights else None
    try:
        table = evaluate_staggered(targets, comparison, fr.easting[mask], fr.northing[mask],
                                   fr.day[mask], baseline=str(own.get("baseline") or
                                                              "equal_before"),
                                   weight=weights, buffer_m=buffer_m)
    except ValueError as exc:
        raise FilterError("targets", str(exc)) from None
    for col in ("start_day", "end_day", "before_start", "before_end"):
        if col in table:
            table[col] = [_date(int(d)).isoformat() for d in table[col]]
    notes = []
    for r in table.to_dict("records"):
        note = _comparison_scale_note(r.get("target_before", 0), r.get("comparison_before", 0))
        if note and r.get("name") != "All targets (pooled)":
            notes.append(f"{r['name']}: {note}")
    return _jsonable({"staggered": True, "rows": _records(table), "notes": notes,
                      "comparison": "the chosen area" if comp_code else "rest of the area",
                      "synthetic_sample": query.status()["synthetic_sample"]})


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return _clean(obj)
