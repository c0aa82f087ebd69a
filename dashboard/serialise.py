"""Engine results to the formats users download: GeoJSON, JSON and CSV.

:mod:`geo` returns dataclasses, DataFrames and arrays; the API and the exports turn them into
text here, so every download of the same result is written the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from dashboard.params import EMERGING_PERIOD_DAYS, EMERGING_PERIODS, EMERGING_RES
from geo.backtest_protocol import BacktestRun
from geo.nte_report import NteReport
from geo.plan import PlanResult
from geo.vru import (
    EMERGING_MAX_CELL_PERIODS,
    EmergingResult,
    EvaluationResult,
    LeagueTable,
    StaggeredResult,
    TrendsResult,
)


def json_value(value: Any) -> Any:
    """Return ``value`` ready for JSON: numpy numbers as Python ones, NaN, inf and NA as None.

    Examples
    --------
    >>> json_value(np.int64(3)), json_value(np.float32(0.5)), json_value(float("nan"))
    (3, 0.5, None)
    >>> json_value(pd.NA) is None, json_value("Preston")
    (True, 'Preston')
    """
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


def _cell(value: Any) -> Any:
    """Return a table cell ready for JSON: :func:`json_value`, and dates as ISO text."""
    value = json_value(value)
    return value.isoformat() if isinstance(value, date) else value


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Return a table's rows as JSON-ready dicts: missing values None, dates ISO text.

    Examples
    --------
    >>> t = pd.DataFrame({"start": [date(2024, 4, 1)], "count": [np.int64(7)],
    ...                   "change_pct": [float("nan")]})
    >>> table_records(t)
    [{'start': '2024-04-01', 'count': 7, 'change_pct': None}]
    """
    return [{k: _cell(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _nested(value: Any) -> Any:
    """Return dicts, lists and tuples of values ready for JSON, to any depth."""
    if isinstance(value, Mapping):
        return {str(k): _nested(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_nested(v) for v in value]
    return _cell(value)


def _days(window: tuple[date, date] | None) -> list[str | None]:
    return [None, None] if window is None else [window[0].isoformat(), window[1].isoformat()]


# ---------------------------------------------------------------------------- patrol plans
def plan_geojson(result: PlanResult) -> dict[str, Any]:
    """Return the plan as a GeoJSON FeatureCollection with figures, dosage and provenance."""
    features = []
    for row in result.table.to_dict("records"):
        visits = result.schedule[result.schedule["hotspot"] == row["rank"]]
        props = {k: json_value(v) for k, v in row.items() if k not in {"geometry", "place"}}
        props["dosage"] = [f"{a}–{b}" for a, b in zip(visits["start"], visits["end"],
                                                       strict=True)]
        props["visits_per_shift"] = None if result.month_only else len(visits)
        features.append({"type": "Feature", "id": row["id"], "geometry": row["geometry"],
                         "properties": props})
    return {"type": "FeatureCollection", "features": features,
            "provenance": result.provenance(), "notes": result.notes,
            "patrol_hours": result.hours, "month_only": result.month_only,
            "window": [result.window[0].isoformat(), result.window[1].isoformat()],
            "previous_window": [result.previous_window[0].isoformat(),
                                result.previous_window[1].isoformat()],
            "coverage": result.coverage}


PLAN_CSV_COLUMNS = ["rank", "id", "place_name", "name_source", "count", "harm", "share_harm",
                    "share_count", "cum_share_harm", "expected_per_shift",
                    "expected_per_month", "forecast_low", "forecast_high", "peak_hours",
                    "main_categories", "prev_count", "trend", "lat", "lon", "dosage", "why"]
#: What each column of the plan CSV holds, stated in the provenance file beside it.
PLAN_CSV_COLUMN_MEANINGS = {
    "rank": "1 = the highest forecast harm next shift (month-only data: next month); with "
            "ranking=harm, the most harm in the look-back window",
    "id": "H3 cell or DBSCAN cluster id",
    "place_name": "the place in words: its most frequent streets, or else the nearest "
                  "gazetteer street, its ward, LSOA or authority",
    "name_source": "where place_name comes from: incident locations, gazetteer, ward, lsoa, "
                   "authority or coordinates",
    "count": "incidents in the look-back window and shift",
    "harm": "sum of harm weights (equals count when no weights are loaded)",
    "share_harm": "the place's share of the shift's harm (0-1)",
    "share_count": "the place's share of the shift's incidents (0-1)",
    "cum_share_harm": "share of harm covered by this and the places above it (0-1)",
    "expected_per_shift": "forecast incidents per shift (with ranking=harm: incidents per "
                          "shift in the look-back window); blank on month-only data",
    "expected_per_month": "month-only data: forecast incidents next month (with ranking=harm: "
                          "incidents per month in the window)",
    "forecast_low": "the forecast's 80% interval, lower end (incidents)",
    "forecast_high": "the forecast's 80% interval, upper end (incidents)",
    "peak_hours": "busiest hours, with counts",
    "main_categories": "most frequent categories, with counts",
    "prev_count": "incidents in the window before",
    "trend": "change against the window before",
    "lat": "latitude of the centre (WGS84)",
    "lon": "longitude of the centre (WGS84)",
    "dosage": "suggested 15-minute visits in one shift (start-end)",
    "why": "plain-English reason the place is on the plan",
}


def plan_csv(result: PlanResult) -> str:
    """Return the plan as a plain CSV: one header line, then one row per place.

    Excel and Power BI read every line of a CSV as data, so the provenance travels beside it
    (:func:`plan_provenance_json`), not in ``#`` lines inside it. Every text cell goes through
    :mod:`geo.csvsafe`, so a category or place named ``=HYPERLINK(...)`` stays text.
    """
    from geo.csvsafe import to_csv_text

    table = result.table.copy()
    table["dosage"] = [
        "; ".join(f"{a}–{b}" for a, b in zip(
            result.schedule.loc[result.schedule.hotspot == r, "start"],
            result.schedule.loc[result.schedule.hotspot == r, "end"], strict=True))
        for r in table["rank"]
    ]
    return to_csv_text(table.reindex(columns=PLAN_CSV_COLUMNS), lineterminator="\n")


def plan_provenance_json(result: PlanResult) -> str:
    """Return the provenance of a plan download as JSON, with what each CSV column means."""
    body = {**result.provenance(), "columns": dict(PLAN_CSV_COLUMN_MEANINGS)}
    return json.dumps(body, ensure_ascii=False, indent=2) + "\n"


# ---------------------------------------------------------------------- night-time economy
def nte_zones_geojson(report: NteReport, zone_set: Any) -> dict[str, Any]:
    """Return the saved zones as GeoJSON, each with its night-time figures and latest status."""
    summary = report.zone_summary().set_index("zone_id")
    gj: dict[str, Any] = json.loads(zone_set.zones.to_json(drop_id=True))
    for f in gj["features"]:
        zid = f["properties"]["zone_id"]
        f["id"] = zid
        f["properties"].update({k: json_value(v) for k, v in summary.loc[zid].items()})
    gj["night_rule"] = report.params.rule.label
    gj["status_rule"] = report.params.status.describe()
    return gj


def nte_nights_json(report: NteReport) -> dict[str, Any]:
    """Return one row per zone and night: the night's date, its count and its status."""
    rows = [{"zone": report.zone_ids[int(r.zone)], "zone_name": report.zone_names[int(r.zone)],
             "night": r.night, "weekend": bool(r.weekend), "count": int(r.count),
             "status": r.status}
            for r in report.nights.itertuples()]
    return {"night_rule": report.params.rule.label,
            "status_rule": report.params.status.describe("night"), "rows": rows}


# ------------------------------------------------------------------------------- backtests
def backtest_json(result: BacktestRun, synthetic: bool) -> dict[str, Any]:
    """Return a forecast backtest as the API, the page and ``hotspot backtest --json`` give it.

    Coverages are keyed as text (``"0.01"``); months as ``YYYY-MM``.
    """
    from geo.backtest_protocol import month_text
    from geo.forecast import half_life_words

    def score(s: Any) -> dict[str, Any]:
        return {"cells": s.cells, "hits": s.hits, "hit_rate": s.hit_rate,
                "area_share": s.area_share, "pai": s.pai,
                "share_of_ceiling": s.share_of_ceiling}

    study: dict[str, Any] = {"kind": result.protocol.study_area, "cells": result.study_cells,
                             "area_km2": round(result.study_km2, 3)}
    if result.areas is not None:
        study["areas"] = result.areas
    return {
        "protocol": result.protocol.as_dict(),
        "study_area": study,
        "cutoffs": [{
            "cutoff": month_text(c.cutoff), "horizon_incidents": c.horizon_incidents,
            "forecast_half_life": {
                "half_life_months": (None if math.isinf(c.forecast_fit.half_life)
                                     else c.forecast_fit.half_life),
                "half_life": half_life_words(c.forecast_fit.half_life, "month"),
                "validated_months": c.forecast_fit.validated_periods},
            "methods": {m: {f"{cov:g}": score(s) for cov, s in by.items()}
                        for m, by in c.scores.items()},
        } for c in result.cutoffs],
        "skipped": [{"cutoff": month_text(c), "reason": why} for c, why in result.skipped],
        "summary": {m: {f"{cov:g}": {"pai": v.pai, "hit_rate": v.hit_rate,
                                     "share_of_ceiling": v.share_of_ceiling,
                                     "area_share": v.area_share, "cutoffs": v.cutoffs}
                        for cov, v in by.items()}
                    for m, by in result.summary.items()},
        "sentence": result.sentence,
        "synthetic_sample": synthetic,
    }


# ----------------------------------------------------------------------------- VRU analyses
def _league_json(league: LeagueTable) -> dict[str, Any]:
    return {"league": table_records(league.rows), "league_current": _days(league.current),
            "league_baseline": _days(league.baseline), "league_ranked": league.ranked,
            "league_message": league.message,
            "league_population_source": league.population_source,
            "league_level": league.level, "league_outside_level": league.outside_level}


def trends_json(result: TrendsResult) -> dict[str, Any]:
    """Return trends as the API gives them: series, sources, seasons and the league table."""
    out: dict[str, Any] = {"period": result.period, "filters": result.filters.to_params(),
                           "area": result.area, "rows": table_records(result.series),
                           "sources": table_records(result.sources)}
    if result.sources_baseline is not None:
        first, last = result.sources_baseline
        out["sources_baseline"] = f"{first:%d %b %Y} to {last:%d %b %Y}"
    out["seasonal"] = table_records(result.seasonal)
    out["peaked_last_summer"] = table_records(result.peaked)
    if result.peaked_summer_year is not None:
        out["peaked_summer_year"] = result.peaked_summer_year
    if result.peaked_note is not None:
        out["peaked_note"] = result.peaked_note
    return {**out, **_league_json(result.league),
            "synthetic_sample": result.synthetic_sample,
            "incomplete_periods": list(result.incomplete_periods), "unplaced": result.unplaced,
            "notes": list(result.notes)}


def emerging_json(result: EmergingResult) -> dict[str, Any]:
    """Return emerging hot spots as the API gives them: periods, rules and each cell's category.

    The answer also states the bounds the request's parameters may take.
    """
    limits = {"res": list(EMERGING_RES), "periods": list(EMERGING_PERIODS),
              "period_days": list(EMERGING_PERIOD_DAYS),
              "max_cell_periods": EMERGING_MAX_CELL_PERIODS}
    rows = [{"cell": format(int(r["cell"]), "x"), "category": r["category"],
             "hot_periods": _cell(r.get("hot_periods")), "n_periods": _cell(r.get("n_periods")),
             "trend": r.get("trend"), "trend_p": _cell(r.get("trend_p")),
             "series": [int(x) for x in r.get("series", [])],
             "hot": [bool(x) for x in r.get("hot_series", [])]}
            for r in result.cells.to_dict("records")]
    return {
        "res": result.res, "period_days": result.period_days, "period_unit": result.period_unit,
        "min_count": result.min_count, "periods": [_days(p) for p in result.periods],
        "period_labels": list(result.period_labels), "filters": result.filters.to_params(),
        "hot_rule": result.hot_rule,
        "rules": [{"category": c, "rule": t} for c, t in result.rules],
        "limits": limits, "notes": list(result.notes), "rows": rows,
        "synthetic_sample": result.synthetic_sample,
    }


def evaluation_json(result: EvaluationResult | StaggeredResult) -> dict[str, Any]:
    """Return an evaluation as the API gives it: counts, the WDD and its test, the series."""
    if isinstance(result, StaggeredResult):
        return _nested({"staggered": True, "rows": table_records(result.rows),
                        "notes": list(result.notes), "sign": result.sign,
                        "comparison": result.comparison,
                        "synthetic_sample": result.synthetic_sample})
    series = table_records(result.series)
    by_period = ({"monthly": series, "weekly": []} if result.series_period == "month"
                 else {"weekly": series})
    return _nested({**result.figures, "before_window": _days(result.before_window),
                    "after_window": _days(result.after_window),
                    "series_period": result.series_period, **by_period,
                    "notes": list(result.notes), "target": result.target,
                    "comparison": result.comparison,
                    "buffer": f"{result.buffer_m:g} m ring round the target",
                    "synthetic_sample": result.synthetic_sample})


#: The columns of the board's CSV: one row per figure, each section named in the first.
BOARD_CSV_HEADER = ["section", "source", "area", "period", "count", "baseline period",
                    "baseline count", "change", "change %", "rate per 1,000",
                    "baseline rate per 1,000", "comparable", "sentence or note"]


def board_csv_rows(body: dict[str, Any]) -> list[list[Any]]:
    """Return every figure of a board body (:func:`dashboard.board.board`) as CSV rows.

    Suppressed counts are written as the page shows them ("fewer than 5"), never as numbers.

    Examples
    --------
    >>> rows = board_csv_rows({"area": "the whole area", "headlines": [], "targets": [],
    ...     "changes": ["Violence rose."], "agreement": [], "areas": [], "trend": [
    ...     {"label": "Police", "months": [{"month": "2024-04", "count": None,
    ...      "shown_as": "fewer than 5"}]}], "activity": [], "currency": [], "caveats": []})
    >>> rows[1], rows[2][:5]
    (['what changed', '', '', '', '', '', '', '', '', '', '', '', 'Violence rose.'], ['trend', 'Police', 'the whole area', '2024-04', 'fewer than 5'])
    """  # noqa: E501
    def shown(row: dict[str, Any], key: str) -> Any:
        value = row.get(key)
        return value if value is not None else row.get(f"{key}_shown_as", "")

    def num(value: Any, places: int) -> str:
        return "" if value is None else f"{value:.{places}f}"

    def note(section: str, text: str, source: str = "") -> list[Any]:
        return [section, source, "", "", "", "", "", "", "", "", "", "", text]

    area = body.get("area", "")
    rows: list[list[Any]] = [list(BOARD_CSV_HEADER)]
    for h in body["headlines"]:
        rows.append(["headline", h["label"], area, h["period_label"], shown(h, "count"),
                     h["baseline_label"], shown(h, "baseline_count"),
                     "" if h["change"] is None else h["change"], num(h["change_pct"], 1),
                     num(h["rate_per_1000"], 3), num(h.get("baseline_rate_per_1000"), 3),
                     "yes" if h["comparable"] else "no",
                     h["sentence"] + (f" ({h['reason']})" if h.get("reason") and
                                      h["reason"] not in h["sentence"] else "")])
    for t in body["targets"]:
        rows.append(["target", t["source"], area, "", "", "", "", "", "", "", "", t["status"],
                     f"{t['sentence']} ({t['rule']})"])
    rows += [note("what changed", s) for s in body.get("changes", [])]
    rows += [note("agreement", s) for s in body["agreement"]]
    for table in body.get("areas", []):
        for r in table["rows"]:
            change = ("" if r["rate_per_1000"] is None or r["baseline_rate_per_1000"] is None
                      else r["rate_per_1000"] - r["baseline_rate_per_1000"])
            rows.append(["area", table["label"], r["name"], table["period_label"],
                         shown(r, "count"), table["baseline_label"] or "",
                         shown(r, "baseline_count"), "", "", num(r["rate_per_1000"], 3),
                         num(r["baseline_rate_per_1000"], 3),
                         "yes" if table["baseline_label"] else "no",
                         ("rate change " + num(change, 3) if change != "" else "")
                         + ("; fewer than 10 incidents" if r["small_number"] else "")])
    for t in body.get("trend", []):
        for m in t["months"]:
            rows.append(["trend", t["label"], area, m["month"],
                         m["count"] if m["count"] is not None else m.get("shown_as", ""),
                         "", "", "", "", "", "", "", ""])
    for r in body.get("activity", []):
        rows.append(["need and activity", "", r["name"], "", shown(r, "count"), "", "", "",
                     "", num(r["rate_per_1000"], 3), "", "", r["words"]])
    rows += [note("currency", c["sentence"], c["source"]) for c in body["currency"]]
    rows += [note("caveat", c) for c in body["caveats"]]
    return rows
