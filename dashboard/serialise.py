"""Engine results to the formats users download: GeoJSON, JSON and CSV.

:mod:`geo` returns dataclasses, DataFrames and arrays; the API and the exports turn them into
text here, so every download of the same result is written the same way.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import pandas as pd

from geo.nte_report import NteReport
from geo.plan import PlanResult


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


PLAN_CSV_COLUMNS = ["rank", "id", "count", "harm", "share_harm", "share_count",
                    "cum_share_harm", "expected_per_shift", "peak_hours", "main_categories",
                    "prev_count", "trend", "lat", "lon", "dosage", "why"]
#: What each column of the plan CSV holds, stated in the provenance file beside it.
PLAN_CSV_COLUMN_MEANINGS = {
    "rank": "1 = most harm in the look-back window",
    "id": "H3 cell or DBSCAN cluster id",
    "count": "incidents in the look-back window and shift",
    "harm": "sum of harm weights (equals count when no weights are loaded)",
    "share_harm": "the place's share of the shift's harm (0-1)",
    "share_count": "the place's share of the shift's incidents (0-1)",
    "cum_share_harm": "share of harm covered by this and the places above it (0-1)",
    "expected_per_shift": "incidents per shift in the look-back window",
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
