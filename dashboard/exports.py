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
    def build() -> tuple[list[dict[str, Any]], PrintedMap | None]:
        pages = [_briefing_page(result, r) for r in ranks]
        # the whole plan at a glance: its places numbered as in the table and on their pages
        overview = _overview_map(result) if not only and len(result.table) else None
        return pages, overview

    pages, overview = services.current().in_lane(build)
    return Response(_document(result, pages, overview), mimetype="text/html")


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
class PrintedMap:
    """A printed map in SVG units (image pixels, north up).

    The basemap image, the outlines, the incidents and the numbered markers that match the
    page's table.
    """

    width: float
    height: float
    #: The background: the site's basemap, or the boundaries (a ``data:`` PNG).
    image: str
    #: What the background is, for the caption.
    source: str
    outlines: list[list[tuple[float, float]]]
    points: list[tuple[float, float]]
    #: Numbered markers: x, y and the number in the table beside the map, and where the
    #: place really is (a marker moved off a neighbour has a leader line to it).
    markers: list[tuple[float, float, int, float, float]]
    #: The scale bar: its length in metres and in SVG units.
    bar_m: int
    bar_px: float
    label: str = "Map"

    @property
    def bar_text(self) -> str:
        """The scale bar's length in words (metres, or km from 1,000 m)."""
        return f"{self.bar_m // 1000} km" if self.bar_m >= 1000 else f"{self.bar_m} m"


#: Radius of a numbered marker in SVG units (a printed map is :data:`MAP_PX` wide).
MARKER_R = 15.0


def place_markers(points: list[tuple[float, float, int]], r: float = MARKER_R
                  ) -> list[tuple[float, float, int, float, float]]:
    """Move numbered markers off each other, lowest number first, so every number can be read.

    A marker that would cover one already placed moves outward, step by step round a circle,
    to the first free spot; the template draws a line from it to the true place.

    Examples
    --------
    >>> [(round(x), round(y), n) for x, y, n, _, _ in place_markers([(0, 0, 1), (5, 0, 2)])]
    [(0, 0, 1), (36, 0, 2)]
    """
    import math

    placed: list[tuple[float, float, int, float, float]] = []
    for x, y, n in sorted(points, key=lambda p: p[2]):
        spot = (x, y)
        ring = 0
        while any(math.dist(spot, (px, py)) < 2.1 * r for px, py, *_ in placed) and ring < 12:
            ring += 1
            free = [(x + ring * 2.1 * r * math.cos(a), y + ring * 2.1 * r * math.sin(a))
                    for a in (i * math.pi / 6 for i in range(12))]
            spot = next((c for c in free if all(math.dist(c, (px, py)) >= 2.1 * r
                                                for px, py, *_ in placed)), spot)
        placed.append((spot[0], spot[1], n, x, y))
    return placed


#: Printed maps are drawn at twice the size they print, so they stay sharp on paper.
MAP_PX = 520


def _nice_bar(metres_per_px: float, width: float) -> tuple[int, float]:
    """Return a round scale-bar length, about a quarter of the map's width."""
    target = width * metres_per_px / 4
    bar = min((b for b in (25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000)
               if b >= target * 0.6), default=10_000)
    return bar, bar / metres_per_px


def _outlines() -> list[tuple[str, list[list[tuple[float, float]]]]]:
    """Return the boundaries as (name, rings of lon/lat): a printed map's fallback."""
    out = []
    for feat in services.current().areas_geojson().get("features", []):
        geom = feat.get("geometry") or {}
        polys = ([geom["coordinates"]] if geom.get("type") == "Polygon" else
                 geom.get("coordinates", []) if geom.get("type") == "MultiPolygon" else [])
        rings = [[(float(x), float(y)) for x, y, *_ in ring] for poly in polys for ring in poly]
        out.append((str(feat.get("properties", {}).get("name", "")), rings))
    return out


def printed_map(lons: list[float], lats: list[float], *, outlines: list[Any],
                points: tuple[np.ndarray, np.ndarray] | None = None,
                markers: list[tuple[float, float, int]] = (),  # type: ignore[assignment]
                width: int = MAP_PX, height: int = MAP_PX, min_span_m: float = 300.0,
                label: str = "Map") -> PrintedMap:
    """Draw a printed map around ``lons``/``lats``: basemap, outlines, dots, numbered markers.

    ``outlines`` are rings of (lon, lat); ``markers`` are (lon, lat, number).
    """
    from dashboard.staticmap import frame_around, render

    frame = frame_around(lons, lats, width=width, height=height, min_span_m=min_span_m)
    svc = services.current()
    background = svc.printed_background(frame, lambda: render(frame, svc.basemap, _outlines()))

    def xy(ring: Any) -> list[tuple[float, float]]:
        return [frame.xy(float(a), float(b)) for a, b in ring]

    dots = [] if points is None else xy(zip(points[0], points[1], strict=True))
    bar_m, bar_px = _nice_bar(frame.metres_per_px, width)
    return PrintedMap(width=width, height=height, image=background.uri,
                      source=background.source, outlines=[xy(r) for r in outlines],
                      points=dots,
                      markers=place_markers([(*frame.xy(lo, la), n) for lo, la, n in markers]),
                      bar_m=bar_m, bar_px=bar_px, label=label)


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

    from geo.plan import PLAN_BOUND
    from geo.query import Filters

    svc = services.current()
    p = result.params
    # the plan's own incidents (on an engine, the bounded selection it was made from)
    layer = svc.query.within(result.bound or Filters(), *PLAN_BOUND)
    fr = layer.frame()
    hours = None if p.hours[0] == p.hours[1] else p.hours
    filters = Filters(start=result.window[0], end=result.window[1],
                      days=p.days if len(p.days) < 7 else None, hours=hours,
                      categories=p.categories, areas=p.areas, exclude_domestic=True)
    mask = layer.select(filters).mask
    row = result.table[result.table["rank"] == rank].iloc[0]
    geom = shapely.geometry.shape(row["geometry"])
    idx = np.flatnonzero(mask)
    inside = shapely.contains_xy(geom, fr.lon[idx], fr.lat[idx])
    idx = idx[inside]
    prev = layer.select(replace(filters, start=result.previous_window[0],
                                end=result.previous_window[1])).mask
    pidx = np.flatnonzero(prev)
    pidx = pidx[shapely.contains_xy(geom, fr.lon[pidx], fr.lat[pidx])]
    return {"idx": idx, "prev_idx": pidx, "geom": geom, "frame": fr}


def _hotspot_map(rank: int, pts: dict[str, Any], centre: tuple[float, float]) -> PrintedMap:
    """Draw a hotspot's map: its outline, its incidents and its number, on the basemap."""
    fr = pts["frame"]
    geom = pts["geom"]
    ring = np.asarray(geom.exterior.coords if geom.geom_type == "Polygon"
                      else max(geom.geoms, key=lambda g: g.area).exterior.coords)
    # incident positions only for roles that may see points; others get the outline alone
    who = services.current().query.principal()
    dots = ((fr.lon[pts["idx"]], fr.lat[pts["idx"]]) if who is None or who.may_see("points")
            else None)
    return printed_map(list(ring[:, 0]), list(ring[:, 1]), outlines=[ring.tolist()],
                       points=dots, markers=[(centre[0], centre[1], rank)],
                       label=f"Hotspot {rank}")


def _overview_map(result: PlanResult) -> PrintedMap:
    """Every hotspot of the plan as a numbered marker, matching the plan's table."""
    t = result.table
    return printed_map(list(t["lon"]), list(t["lat"]), outlines=[], min_span_m=1000.0,
                       markers=[(float(lo), float(la), int(r)) for lo, la, r
                                in zip(t["lon"], t["lat"], t["rank"], strict=True)],
                       width=2 * MAP_PX, height=int(1.3 * MAP_PX), label="Hotspots")


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
    row = result.table[result.table["rank"] == rank].iloc[0]
    pts = _hotspot_points(result, rank)
    fr = pts["frame"]
    visits = result.schedule[result.schedule["hotspot"] == rank]
    expected = row["expected_per_month" if result.month_only else "expected_per_shift"]
    return {
        "rank": rank, "place_id": row["id"], "place_name": row["place_name"],
        "lat": row["lat"], "lon": row["lon"],
        "why": row["why"], "categories": row["main_categories"], "trend": row["trend"],
        "peak_hours": row["peak_hours"], "count": int(row["count"]),
        "expected": None if expected != expected else float(expected),
        "visits": list(zip(visits["start"], visits["end"], strict=True)),
        "map": _hotspot_map(rank, pts, (float(row["lon"]), float(row["lat"]))),
        "hours": [] if result.month_only else _hour_bars(fr.hour[pts["idx"]],
                                                         result.params.hours),
    }


def _document(result: PlanResult, pages: list[dict[str, Any]],
              overview: PrintedMap | None = None) -> str:
    """Render the briefing document: the plan's shared figures and one page per hotspot."""
    p = result.params
    names = services.current().boundaries.names()
    months = f"{result.window[0]:%b %Y} – {result.window[1]:%b %Y}"
    t = result.table
    expected = t["expected_per_month" if result.month_only else "expected_per_shift"]
    rows = [{"rank": int(r), "place_id": pid, "place_name": name, "count": int(c),
             "expected": None if e != e else float(e), "why": why}
            for r, pid, name, c, e, why in zip(t["rank"], t["id"], t["place_name"], t["count"],
                                               expected, t["why"], strict=True)]
    return templates().get_template("briefing.html").render(
        overview=overview, rows=rows, pages=pages, n_hotspots=len(result.table),
        month_only=result.month_only,
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
    """Everything a zone's deployment sheet shows for one weekend, by default the coming one.

    Every figure rests on the zone's last :data:`geo.nte_report.SHEET_WEEKENDS` weekends in the
    data before it, and says so: the forecast is their mean, and the hours, places and venues
    are counted over their nights alone, never over the whole selection beside one weekend.
    """
    from datetime import date as _date
    from datetime import timedelta

    import h3

    from geo.hotspots import main_categories
    from geo.nte import night_of, rank_by_nearby
    from geo.nte_report import coming_friday, weekend_outlook
    from geo.zones import assign_zones

    zone_id = args.pop("zone", "")
    weekend_text = args.pop("weekend", "")
    svc = services.current()
    params = parse_nte_params(svc.resolve_group(args)[0])
    report = svc.nte_report(params)
    if zone_id not in report.zone_ids:
        raise FilterError("zone", f"'{zone_id}' is not a saved zone")
    span = svc.query.month_cover()[0]
    data_end = span[1] if span is not None else None
    coming, basis = coming_friday(_date.today(), data_end)
    weekend = coming
    if weekend_text:
        try:
            weekend = _date.fromisoformat(weekend_text)
        except ValueError:
            raise FilterError("weekend", f"'{weekend_text[:40]}' is not a date (the Friday, "
                              "YYYY-MM-DD)") from None
        if weekend != coming:
            check_date_in_range(weekend, "weekend")
        if weekend.weekday() != 4:
            raise FilterError("weekend", f"{weekend.isoformat()} is not a Friday")
        if weekend > coming:
            raise FilterError("weekend", f"{weekend.isoformat()} is beyond the coming weekend "
                              f"(Friday {coming.isoformat()}): a sheet forecasts no further")
    z = report.zone_ids.index(zone_id)
    outlook = weekend_outlook(report, z, weekend, data_end)
    wk = report.weekends[report.weekends["zone"] == z]
    chosen = wk[wk["weekend"] == weekend.isoformat()]
    n_weekends = len(outlook.last)
    fridays = {_date.fromisoformat(w) for w in outlook.last["weekend"]}
    epoch = _date(1970, 1, 1)
    friday_days = np.array(sorted((f - epoch).days for f in fridays), dtype=np.int64)
    # the zone's incidents on the Friday and Saturday nights of those weekends only (on an
    # engine, those inside the zone's bounds are read, bounded)
    from geo.nte_report import zone_bounds

    layer = svc.query.within(params.filters, "The deployment sheet", "fewer crime types",
                             boxes=zone_bounds([svc.zones().zones_bng.geometry.iloc[z]]))
    fr = layer.frame()
    mask = layer.select(params.filters).mask & (fr.hour >= 0)
    idx = np.flatnonzero(mask)
    night = night_of(fr.day[idx], fr.hour[idx], params.rule).astype(np.int64)
    weekday = (night + 3) % 7  # day 0, 1 January 1970, was a Thursday
    friday_of = night - (weekday == 5)
    keep = (night >= 0) & np.isin(weekday, (4, 5)) & np.isin(friday_of, friday_days)
    idx = idx[keep]
    idx = idx[assign_zones(fr.easting[idx], fr.northing[idx], svc.zones()) == z]
    per = max(1, n_weekends)
    hour_counts = np.bincount(fr.hour[idx], minlength=24) if len(idx) else np.zeros(24, int)
    hours = [h for h in report.night_hours if hour_counts[h] > 0]
    peak = [{"hours": f"{h:02d}:00–{(h + 1) % 24:02d}:00", "count": int(hour_counts[h]),
             "per_weekend": hour_counts[h] / per}
            for h in sorted(hours, key=lambda h: -hour_counts[h])[:3]]
    codes = fr.cell_codes[10][idx]
    counts = np.bincount(codes, minlength=len(fr.cells[10])) if len(codes) else np.zeros(0)
    top_cells = []
    for c in np.argsort(-counts, kind="stable")[:5]:
        if counts.size and counts[c] > 0:
            cid = format(int(fr.cells[10][c]), "x")
            lat, lon = h3.cell_to_latlng(cid)
            top_cells.append({"n": len(top_cells) + 1, "cell": cid, "code": int(c),
                              "count": int(counts[c]), "per_weekend": counts[c] / per,
                              "lat": lat, "lon": lon})
    _name_spots(layer, top_cells, idx, codes)
    venues = svc.venues()
    top_venues: list[dict[str, Any]] = []
    if len(venues):
        v = venues[assign_zones(venues["easting"].to_numpy(), venues["northing"].to_numpy(),
                                svc.zones()) == z]
        if len(v):
            near = rank_by_nearby(v["easting"].to_numpy(), v["northing"].to_numpy(),
                                  fr.easting[idx], fr.northing[idx], radius_m=50.0)
            v = v.assign(incidents=near).sort_values("incidents", ascending=False).head(8)
            top_venues = v[["name", "kind", "type", "incidents"]].to_dict("records")
    geom = svc.zones().zones.geometry.iloc[z]
    rings = [list(p.exterior.coords) for p in getattr(geom, "geoms", [geom])]
    lons = [x for r in rings for x, _ in r] + [c["lon"] for c in top_cells]
    lats = [y for r in rings for _, y in r] + [c["lat"] for c in top_cells]
    zone_map = printed_map(lons, lats, outlines=rings, label="Zone",
                           markers=[(c["lon"], c["lat"], c["n"]) for c in top_cells])
    last = outlook.last
    labels = [str(c) for c in fr.categories]
    return {
        "zone": report.zone_names[z], "zone_id": zone_id, "weekend": weekend,
        "place_name": report.place_names[z] if report.place_names else "",
        "sunday": weekend + timedelta(days=2), "is_coming": weekend == coming,
        "basis": basis, "data_end": data_end, "gap_days": outlook.gap_days,
        "n_weekends": n_weekends,
        "first_weekend": last["weekend"].iloc[0] if n_weekends else None,
        "last_weekend": last["weekend"].iloc[-1] if n_weekends else None,
        "expected": None if outlook.expected != outlook.expected else outlook.expected,
        "low": outlook.low, "high": outlook.high,
        "green_at_most": outlook.green_at_most, "red_above": outlook.red_above,
        "count": int(chosen["count"].iloc[0]) if len(chosen) else None,
        "status": chosen["status"].iloc[0] if len(chosen) else None,
        "history": last[["weekend", "count", "status"]].iloc[::-1].to_dict("records"),
        "peak": peak, "cells": top_cells, "venues": top_venues, "map": zone_map,
        "rule": report.params.rule.label, "status_rule": report.params.status.describe(),
        "categories": main_categories(fr.category[idx], labels) if len(idx) else "",
        "synthetic": svc.query.status()["synthetic_sample"],
    }


def _name_spots(layer: Any, cells: list[dict[str, Any]], rows: np.ndarray,
                codes: np.ndarray) -> None:
    """Give each of a sheet's busiest cells its place name, from its own night incidents.

    ``rows`` index ``layer``'s frame.
    """
    from geo.names import group_index
    from geo.projection import to_bng

    if not cells:
        return
    east, north = to_bng(np.array([c["lon"] for c in cells]), np.array([c["lat"] for c in cells]))
    names = layer.place_names(
        rows, group_index(codes, np.array([c["code"] for c in cells])), len(cells), east, north)
    for cell, name, source in zip(cells, names["place_name"], names["name_source"],
                                  strict=True):
        cell["place_name"], cell["name_source"] = str(name), str(source)
        del cell["code"]  # the frame's own numbering: named now, never shown


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
                             ["weekend", "counted from", d["basis"]],
                             ["forecast", "weekends looked back over", d["n_weekends"]],
                             ["forecast", "expected incidents",
                              "" if d["expected"] is None else f"{d['expected']:.1f}"],
                             ["forecast", "lowest", d["low"]], ["forecast", "highest", d["high"]],
                             ["weekend", "recorded status", d["status"] or ""],
                             ["weekend", "recorded incidents",
                              "" if d["count"] is None else d["count"]]]
    rows += [["when (last weekends)", p["hours"], p["count"]] for p in d["peak"]]
    rows += [["where (last weekends)", f"{c['n']}: {c['place_name']} (cell {c['cell']})",
              c["count"]] for c in d["cells"]]
    rows += [["venue (last weekends)", v["name"], v["incidents"]] for v in d["venues"]]
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
