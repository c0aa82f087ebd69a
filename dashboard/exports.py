"""Downloads and printable briefings for patrol plans (``/patrol/...``).

Every export is built from :func:`geo.plan.build_plan` with the page's own parameters, so what
an officer is handed matches what the sergeant saw, and carries the same provenance.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import jinja2
import numpy as np
from flask import Blueprint, Response, request

from dashboard import services
from dashboard.inputs import query_params
from dashboard.params import check_date_in_range, parse_nte_params, parse_plan_params
from dashboard.serialise import plan_csv, plan_geojson, plan_provenance_json
from geo.plan import PlanResult
from geo.projection import to_bng
from geo.query import FilterError

bp = Blueprint("patrol_exports", __name__, url_prefix="/patrol")


def _plan() -> PlanResult:
    svc = services.current()
    args, _ = svc.resolve_group({k: v for k, v in query_params(request.args).items()
                                 if k != "rank"})
    return svc.plan(parse_plan_params(args))


def attachment(name: str) -> str:
    """Return a Content-Disposition value for a download named ``name``.

    Area codes and zone ids come from user files, so the name may hold any character: the
    plain ``filename`` keeps only safe ASCII (quotes and slashes can never break out of it) and
    ``filename*`` carries the full name, encoded as RFC 6266 says.

    Examples
    --------
    >>> print(attachment("patrol-plan_Beat\u2013" + "1.csv"))
    attachment; filename="patrol-plan_Beat_1.csv"; filename*=UTF-8''patrol-plan_Beat%E2%80%931.csv
    """
    from urllib.parse import quote

    plain = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:150] or "download"
    return f'attachment; filename="{plain}"; filename*=UTF-8\'\'{quote(name[:150], safe="")}'


def _filename(result: PlanResult, ext: str) -> str:
    p = result.params
    area = "-".join(p.areas) if p.areas else "all-areas"
    return f"patrol-plan_{area}_{result.window[1].isoformat()}.{ext}"


@bp.get("/plan.csv")
def plan_csv_download() -> Response:
    """Download the plan as a clean CSV (header and rows); provenance is the file beside it."""
    result = _plan()
    return Response(plan_csv(result), mimetype="text/csv", headers={
        "Content-Disposition": attachment(_filename(result, "csv"))})


@bp.get("/plan-provenance.json")
def plan_provenance_download() -> Response:
    """Download where the plan CSV came from: software, data period, parameters, weights."""
    result = _plan()
    name = _filename(result, "csv").removesuffix(".csv") + "_provenance.json"
    return Response(plan_provenance_json(result), mimetype="application/json", headers={
        "Content-Disposition": attachment(name)})


@bp.get("/plan.geojson")
def plan_geojson_download() -> Response:
    """Download the plan as GeoJSON (WGS84) with dosage and provenance."""
    result = _plan()
    body = json.dumps(plan_geojson(result), ensure_ascii=False)
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": attachment(_filename(result, "geojson"))})


@bp.get("/briefing")
def briefing() -> Response:
    """Printable one-page briefings: every hotspot of the plan, or only ``rank``."""
    result = _plan()
    only = query_params(request.args).get("rank")
    ranks = list(result.table["rank"])
    if only:
        if not (only.isascii() and only.isdecimal()) or int(only) not in ranks:
            raise FilterError("rank", f"'{only}' is not a hotspot of this plan (1 to "
                              f"{len(ranks)})")
        ranks = [int(only)]
    # a page per hotspot, each selecting its incidents: heavy work, in the heavy lane
    pages = services.current().in_lane(lambda: [_briefing_page(result, r) for r in ranks])
    return Response(_document(result, pages), mimetype="text/html")


# ----------------------------------------------------------------------------------------------
@functools.cache
def templates() -> jinja2.Environment:
    """Return the environment the printed documents are rendered with.

    Auto-escaping is on for every template, so a zone, street, category or file name holding
    markup prints as text; a name the template does not know is an error, not a blank.
    """
    return jinja2.Environment(loader=jinja2.PackageLoader("dashboard", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined)


@dataclass(frozen=True)
class HotspotMap:
    """A hotspot's outline and incidents in SVG units (north up), for a printed page."""

    rank: int
    size: float
    outline: list[tuple[float, float]]
    points: list[tuple[float, float]]
    #: The scale bar: its length in metres and in SVG units.
    bar_m: int
    bar_px: float


@dataclass(frozen=True)
class HourBar:
    """One hour of a briefing's incidents-by-hour chart."""

    hour: int
    count: int
    height: float
    in_shift: bool


def _hotspot_points(result: PlanResult, rank: int) -> dict[str, Any]:
    """Incidents of the plan's window and shift that fall in hotspot ``rank`` (never domestic)."""
    from dataclasses import replace

    import shapely

    from geo.query import Filters

    svc = services.current()
    p = result.params
    fr = svc.query.frame()
    hours = None if p.hours[0] == p.hours[1] else p.hours
    filters = Filters(start=result.window[0], end=result.window[1],
                      days=p.days if len(p.days) < 7 else None, hours=hours,
                      categories=p.categories, areas=p.areas, exclude_domestic=True)
    mask = svc.query.select(filters).mask
    row = result.table[result.table["rank"] == rank].iloc[0]
    geom = shapely.geometry.shape(row["geometry"])
    idx = np.flatnonzero(mask)
    inside = shapely.contains_xy(geom, fr.lon[idx], fr.lat[idx])
    idx = idx[inside]
    prev = svc.query.select(replace(filters, start=result.previous_window[0],
                                    end=result.previous_window[1])).mask
    pidx = np.flatnonzero(prev)
    pidx = pidx[shapely.contains_xy(geom, fr.lon[pidx], fr.lat[pidx])]
    return {"idx": idx, "prev_idx": pidx, "geom": geom}


def _hotspot_map(rank: int, pts: dict[str, Any]) -> HotspotMap:
    """Scale a hotspot's outline and incidents (BNG metres) to a small square map."""
    fr = services.current().query.frame()
    geom = pts["geom"]
    ring = np.asarray(geom.exterior.coords if geom.geom_type == "Polygon"
                      else max(geom.geoms, key=lambda g: g.area).exterior.coords)
    ex, ny = to_bng(ring[:, 0], ring[:, 1])
    px, py = fr.easting[pts["idx"]], fr.northing[pts["idx"]]
    xmin, xmax, ymin, ymax = ex.min(), ex.max(), ny.min(), ny.max()
    pad = max(xmax - xmin, ymax - ymin) * 0.25 + 30
    xmin, xmax, ymin, ymax = xmin - pad, xmax + pad, ymin - pad, ymax + pad
    size = 260.0
    scale = size / max(xmax - xmin, ymax - ymin)

    def svg_xy(x: np.ndarray, y: np.ndarray) -> list[tuple[float, float]]:
        return [(float(a), float(b)) for a, b in zip((x - xmin) * scale,
                                                     size - (y - ymin) * scale, strict=True)]

    bar_m = 100 if (xmax - xmin) < 1200 else 500
    # incident positions only for roles that may see points; others get the outline alone
    who = services.current().query.principal()
    points = svg_xy(px, py) if who is None or who.may_see("points") else []
    return HotspotMap(rank=rank, size=size, outline=svg_xy(ex, ny), points=points,
                      bar_m=bar_m, bar_px=float(bar_m * scale))


def _hour_bars(hours: np.ndarray, shift_hours: tuple[int, int]) -> list[HourBar]:
    """Incidents per hour of the day, scaled to a 60-unit tall chart."""
    from geo.query import hours_in_band

    counts = np.bincount(hours[hours >= 0], minlength=24)
    top = max(1, int(counts.max()))
    in_shift = set(hours_in_band(*shift_hours)) if shift_hours[0] != shift_hours[1] else set(
        range(24))
    return [HourBar(hour=h, count=int(counts[h]), height=float(60 * counts[h] / top),
                    in_shift=h in in_shift) for h in range(24)]


def _briefing_page(result: PlanResult, rank: int) -> dict[str, Any]:
    """Return what one hotspot's page shows (the template lays it out)."""
    fr = services.current().query.frame()
    row = result.table[result.table["rank"] == rank].iloc[0]
    pts = _hotspot_points(result, rank)
    visits = result.schedule[result.schedule["hotspot"] == rank]
    expected = row["expected_per_month" if result.month_only else "expected_per_shift"]
    return {
        "rank": rank, "place_id": row["id"], "place_name": row["place_name"],
        "lat": row["lat"], "lon": row["lon"],
        "why": row["why"], "categories": row["main_categories"], "trend": row["trend"],
        "peak_hours": row["peak_hours"], "count": int(row["count"]),
        "expected": None if expected != expected else float(expected),
        "visits": list(zip(visits["start"], visits["end"], strict=True)),
        "map": _hotspot_map(rank, pts),
        "hours": [] if result.month_only else _hour_bars(fr.hour[pts["idx"]],
                                                         result.params.hours),
    }


def _document(result: PlanResult, pages: list[dict[str, Any]]) -> str:
    """Render the briefing document: the plan's shared figures and one page per hotspot."""
    p = result.params
    names = services.current().boundaries.names()
    months = f"{result.window[0]:%b %Y} – {result.window[1]:%b %Y}"
    return templates().get_template("briefing.html").render(
        pages=pages, n_hotspots=len(result.table), month_only=result.month_only,
        area=", ".join(names.get(a, a) for a in p.areas) if p.areas else "whole area",
        months=months, shift=p.shift.label,
        dots_window=f"{result.window[0]:%d %b} – {result.window[1]:%d %b %Y}",
        trend_base=(f"the {result.n_months} months before" if result.month_only
                    else f"same shift, the {p.lookback_weeks} weeks before"),
        n_months=result.n_months, n_shifts=result.n_shifts, synthetic=result.synthetic,
        plan_date=result.window[1].isoformat(), weights_source=result.weights_source,
        weights=sorted(result.weights.items()))


# ---------------------------------------------------------------------------------------------
# Night-time economy deployment sheets (/nte/sheet)
nte_bp = Blueprint("nte_exports", __name__, url_prefix="/nte")


def _sheet_data(args: dict[str, str]) -> dict[str, Any]:
    """Everything a zone's deployment sheet shows for one weekend."""
    from datetime import date as _date
    from datetime import timedelta

    import h3

    from geo.nte import night_of, rank_by_nearby
    from geo.zones import assign_zones

    zone_id = args.pop("zone", "")
    weekend_text = args.pop("weekend", "")
    svc = services.current()
    params = parse_nte_params(svc.resolve_group(args)[0])
    report = svc.nte_report(params)
    if zone_id not in report.zone_ids:
        raise FilterError("zone", f"'{zone_id}' is not a saved zone")
    try:
        weekend = _date.fromisoformat(weekend_text)
    except ValueError:
        raise FilterError("weekend", f"'{weekend_text[:40]}' is not a date (the Friday, "
                          "YYYY-MM-DD)") from None
    check_date_in_range(weekend, "weekend")
    if weekend.weekday() != 4:
        raise FilterError("weekend", f"{weekend.isoformat()} is not a Friday")
    z = report.zone_ids.index(zone_id)
    wk = report.weekends[report.weekends["zone"] == z]
    chosen = wk[wk["weekend"] == weekend.isoformat()]
    history = wk[wk["weekend"] < weekend.isoformat()].tail(8)
    profile = report.profile[z]
    order = np.argsort(-profile, kind="stable")[:3]
    peak = [f"{report.night_hours[i]:02d}:00–{(report.night_hours[i] + 1) % 24:02d}:00 "
            f"({int(profile[i])})" for i in order if profile[i] > 0]
    # where: the busiest 100 m-scale cells (H3 res 10) in the zone over its night incidents
    fr = svc.query.frame()
    mask = svc.query.select(params.filters).mask & (fr.hour >= 0)
    idx = np.flatnonzero(mask)
    idx = idx[night_of(fr.day[idx], fr.hour[idx], params.rule) >= 0]
    inside = assign_zones(fr.easting[idx], fr.northing[idx], svc.zones()) == z
    idx = idx[inside]
    codes = fr.cell_codes[10][idx]
    counts = np.bincount(codes, minlength=len(fr.cells[10])) if len(codes) else np.zeros(0)
    top_cells = []
    for c in np.argsort(-counts, kind="stable")[:5]:
        if counts.size and counts[c] > 0:
            cid = format(int(fr.cells[10][c]), "x")
            lat, lon = h3.cell_to_latlng(cid)
            top_cells.append({"cell": cid, "code": int(c), "count": int(counts[c]),
                              "lat": lat, "lon": lon})
    _name_spots(top_cells, idx, codes)
    venues = svc.venues()
    top_venues: list[dict[str, Any]] = []
    if len(venues):
        v = venues[assign_zones(venues["easting"].to_numpy(), venues["northing"].to_numpy(),
                                svc.zones()) == z]
        if len(v):
            n = rank_by_nearby(v["easting"].to_numpy(), v["northing"].to_numpy(),
                               fr.easting[idx], fr.northing[idx], radius_m=50.0)
            v = v.assign(incidents=n).sort_values("incidents", ascending=False).head(8)
            top_venues = v[["name", "kind", "type", "incidents"]].to_dict("records")
    return {
        "zone": report.zone_names[z], "zone_id": zone_id, "weekend": weekend,
        "place_name": report.place_names[z] if report.place_names else "",
        "sunday": weekend + timedelta(days=2),
        "count": int(chosen["count"].iloc[0]) if len(chosen) else None,
        "status": chosen["status"].iloc[0] if len(chosen) else "no data for this weekend",
        "history": history[["weekend", "count", "status"]].to_dict("records"),
        "peak": peak, "cells": top_cells, "venues": top_venues,
        "rule": report.params.rule.label, "status_rule": report.params.status.describe(),
        "categories": report.categories[z], "synthetic": svc.query.status()["synthetic_sample"],
    }


def _name_spots(cells: list[dict[str, Any]], rows: np.ndarray, codes: np.ndarray) -> None:
    """Give each of a sheet's busiest cells its place name, from its own night incidents."""
    from geo.names import group_index

    if not cells:
        return
    east, north = to_bng(np.array([c["lon"] for c in cells]), np.array([c["lat"] for c in cells]))
    names = services.current().query.place_names(
        rows, group_index(codes, np.array([c["code"] for c in cells])), len(cells), east, north)
    for cell, name, source in zip(cells, names["place_name"], names["name_source"],
                                  strict=True):
        cell["place_name"], cell["name_source"] = str(name), str(source)


@nte_bp.get("/zones.geojson")
def zones_download() -> Response:
    """Download every saved zone (imported, drawn or accepted) as GeoJSON."""
    from geo.zones import zones_geojson_export

    body = zones_geojson_export(services.current().zones())
    return Response(body, mimetype="application/geo+json",
                    headers={"Content-Disposition": 'attachment; filename="nte_zones.geojson"'})


@nte_bp.get("/sheet")
def deployment_sheet() -> Response:
    """Print a deployment sheet for one zone and weekend: when, where, recent weekends."""
    args = query_params(request.args)
    d = services.current().in_lane(lambda: _sheet_data(args))
    body = templates().get_template("deployment_sheet.html").render(d)
    return Response(body, mimetype="text/html")


@nte_bp.get("/sheet.csv")
def deployment_sheet_csv() -> Response:
    """Download the deployment sheet's figures as CSV rows (section, item, value)."""
    from geo.csvsafe import rows_to_csv_text

    args = query_params(request.args)
    d = services.current().in_lane(lambda: _sheet_data(args))
    rows: list[list[Any]] = [["section", "item", "value"],
                             ["zone", d["zone"], d["zone_id"]],
                             ["zone", "around", d["place_name"]],
                             ["weekend", "friday", d["weekend"].isoformat()],
                             ["weekend", "status", d["status"]],
                             ["weekend", "incidents", "" if d["count"] is None else d["count"]]]
    rows += [["when", "peak hour", p] for p in d["peak"]]
    rows += [["where", f"{c['place_name']} (cell {c['cell']})", c["count"]] for c in d["cells"]]
    rows += [["venue", v["name"], v["incidents"]] for v in d["venues"]]
    rows += [["history", h["weekend"], f"{h['count']} ({h['status']})"] for h in d["history"]]
    rows += [["method", "night", d["rule"]], ["method", "status rule", d["status_rule"]]]
    name = f"deployment_{d['zone_id']}_{d['weekend'].isoformat()}.csv"
    return Response(rows_to_csv_text(rows), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(name)})


board_bp = Blueprint("board_exports", __name__)


@board_bp.get("/board.csv")
def board_csv() -> Response:
    """Download every figure of the board view as CSV, for the board secretary's minutes."""
    from dashboard.board import board_from_params
    from dashboard.serialise import board_csv_rows
    from geo.csvsafe import rows_to_csv_text

    body = board_from_params(query_params(request.args))
    rows = board_csv_rows(body)
    name = f"hotspot-board-{body['period']}-{body['baseline']}.csv"
    return Response(rows_to_csv_text(rows), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(name)})


@board_bp.get("/board.pdf")
def board_pdf() -> Response:
    """Download the board pack: the board view as a dated A4 PDF for the meeting papers.

    The figures are :func:`dashboard.board.board_from_params` for the same parameters as
    ``/board.csv`` and ``/api/v1/board``, so the pack holds the page's numbers. Laying out
    the document runs in the heavy lane, so a burst of downloads waits its turn (at most a
    minute) instead of starving quick requests.
    """
    from datetime import UTC, datetime

    from dashboard.board import board_from_params
    from dashboard.board_pack import board_pack_pdf

    svc = services.current()
    body = board_from_params(query_params(request.args))
    produced = datetime.now(UTC)
    level = body["areas"][0]["level"] if body.get("areas") else "authority"
    bounds = svc.query.level_boundaries(level)  # the map is drawn at the table's level
    pdf = svc.in_lane(lambda: board_pack_pdf(body, bounds, produced_at=produced))
    place = "" if body["area"] == "the whole area" else f"_{body['area']}"
    name = (f"hotspot-board-pack{place}_{body['period']}-{body['baseline']}_"
            f"{produced.date().isoformat()}.pdf")
    return Response(pdf, mimetype="application/pdf",
                    headers={"Content-Disposition": attachment(name)})
