"""Downloads and printable briefings for patrol plans (``/patrol/...``).

Every export is built from :func:`geo.plan.build_plan` with the page's own parameters, so what
an officer is handed matches what the sergeant saw, and carries the same provenance.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

import numpy as np
from flask import Blueprint, Response, request

from dashboard import services
from dashboard.inputs import query_params
from geo.plan import (
    PlanResult,
    parse_plan_params,
    plan_csv,
    plan_geojson,
    plan_provenance_json,
)
from geo.projection import to_bng
from geo.query import FilterError, check_date_in_range

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
def _esc(value: Any) -> str:
    return html.escape(str(value))


def _hotspot_points(result: PlanResult, rank: int) -> dict[str, np.ndarray]:
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


def _svg_map(result: PlanResult, rank: int, pts: dict[str, Any]) -> str:
    """Draw a small offline map: the hotspot and its incidents, in metres, north up."""
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

    def sx(x: np.ndarray) -> np.ndarray:
        return (x - xmin) * scale

    def sy(y: np.ndarray) -> np.ndarray:
        return size - (y - ymin) * scale

    poly = " ".join(f"{a:.1f},{b:.1f}" for a, b in zip(sx(ex), sy(ny), strict=True))
    dots = "".join(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.2"/>'
                   for a, b in zip(sx(px), sy(py), strict=True))
    bar_m = 100 if (xmax - xmin) < 1200 else 500
    return (
        f'<svg class="map" viewBox="0 0 {size:.0f} {size + 18:.0f}" role="img" '
        f'aria-label="Outline of hotspot {rank} with {len(px)} incidents">'
        f'<rect width="{size:.0f}" height="{size:.0f}" fill="#f7f7f4" stroke="#999"/>'
        f'<polygon points="{poly}" fill="rgba(240,59,32,0.18)" stroke="#b30000" '
        f'stroke-width="2"/><g fill="#222" opacity="0.7">{dots}</g>'
        f'<line x1="8" y1="{size + 10:.0f}" x2="{8 + bar_m * scale:.1f}" y2="{size + 10:.0f}" '
        f'stroke="#000" stroke-width="2"/><text x="{12 + bar_m * scale:.1f}" '
        f'y="{size + 14:.0f}" font-size="10">{bar_m} m</text>'
        f'<text x="{size - 14:.0f}" y="16" font-size="12" font-weight="bold">N↑</text></svg>'
    )


def _svg_hours(hours: np.ndarray, shift_hours: tuple[int, int]) -> str:
    counts = np.bincount(hours[hours >= 0], minlength=24)
    top = max(1, int(counts.max()))
    bars = []
    from geo.query import hours_in_band

    in_shift = set(hours_in_band(*shift_hours)) if shift_hours[0] != shift_hours[1] else set(
        range(24))
    for h in range(24):
        height = 60 * counts[h] / top
        colour = "#c0392b" if h in in_shift else "#bbb"
        bars.append(f'<rect x="{h * 12 + 2}" y="{62 - height:.1f}" width="10" '
                    f'height="{height:.1f}" fill="{colour}"><title>{h:02d}:00 — '
                    f'{int(counts[h])} incidents</title></rect>')
        if h % 3 == 0:
            bars.append(f'<text x="{h * 12 + 2}" y="76" font-size="9">{h:02d}</text>')
    return (f'<svg class="hours" viewBox="0 0 290 80" role="img" aria-label="Incidents by '
            f'hour">{"".join(bars)}</svg>')


def _briefing_page(result: PlanResult, rank: int) -> str:
    svc = services.current()
    fr = svc.query.frame()
    row = result.table[result.table["rank"] == rank].iloc[0]
    pts = _hotspot_points(result, rank)
    visits = result.schedule[result.schedule["hotspot"] == rank]
    p = result.params
    areas = svc.boundaries.names()
    area = ", ".join(areas.get(a, a) for a in p.areas) if p.areas else "whole area"
    cats = _esc(row["main_categories"] or "not recorded")
    visit_list = "".join(f"<li>{_esc(a)}–{_esc(b)}</li>" for a, b in zip(
        visits["start"], visits["end"], strict=True))
    if result.month_only:
        per_month = row["expected_per_month"]
        months = f"{result.window[0]:%b %Y} – {result.window[1]:%b %Y}"
        when_line = f"Months: <b>{_esc(months)}</b> (the data give only the month)"
        dots = f"Dots: incidents in public places, {_esc(months)}."
        when = ("<p>Days and times not known: the data give only the month of each "
                "incident.</p>")
        trend_base = f"the {result.n_months} months before"
        patrol = ("<p>No visit times are suggested: the data give only the month of each "
                  "incident, so they cannot say when to patrol. Use local knowledge or "
                  "timestamped data for the shift.</p>"
                  f"<p>Expected incidents per month here: <b>"
                  f"{'not available' if per_month != per_month else f'{per_month:.1f}'}</b> "
                  f"({int(row['count'])} in {result.n_months} months).</p>")
    else:
        per_shift = row["expected_per_shift"]
        per_shift_text = f"{per_shift:.2f}" if per_shift == per_shift else "not available"
        when_line = f"Shift: <b>{_esc(p.shift.label)}</b>"
        dots = (f"Dots: incidents in public places on this shift, "
                f"{result.window[0]:%d %b} – {result.window[1]:%d %b %Y}.")
        when = (f"{_svg_hours(fr.hour[pts['idx']], p.hours)}<p class=\"small\">Incidents by "
                f"hour; red = inside the shift. Busiest: {_esc(row['peak_hours'])}.</p>")
        trend_base = f"same shift, the {p.lookback_weeks} weeks before"
        patrol = (f"<p>Visible presence of about 15 minutes at varied times (Koper 1995): "
                  f"{len(visits)} visit{'s' if len(visits) != 1 else ''} this shift, in "
                  "proportion to this place's expected harm (the busiest place on the plan "
                  "gets one in every two hours of the shift, every place at least one):</p>"
                  f"<ul class=\"visits\">{visit_list}</ul>"
                  f"<p>Expected incidents per shift here: <b>{per_shift_text}</b> "
                  f"({int(row['count'])} in {result.n_shifts} shifts).</p>")
    return f"""
<section class="page">
  <header>
    <h1>Hotspot {rank} of {len(result.table)} · {_esc(area)}</h1>
    <p class="shift">{when_line} · {_esc(row["id"])} ·
       centre {row["lat"]:.5f}, {row["lon"]:.5f}</p>
  </header>
  <div class="cols">
    <div>{_svg_map(result, rank, pts)}
      <p class="small">{dots} Domestic incidents are never shown.</p></div>
    <div>
      <h2>Why here</h2><p>{_esc(row["why"])}</p>
      <h2>When</h2>{when}
      <h2>What</h2><p>{cats}</p>
      <h2>Trend</h2><p>{_esc(row["trend"])} ({_esc(trend_base)})</p>
      <h2>Patrol</h2>{patrol}
    </div>
  </div>
  <footer class="small">{"SYNTHETIC SAMPLE DATA — not real incidents. " if result.synthetic else ""}
  Hotspot plan {result.window[1].isoformat()} ·
  {_esc(result.weights_source)}{_weights_text(result)} ·
  printed from the Patrol plan page · OFFICIAL-SENSITIVE: handle as your force requires.</footer>
</section>"""


def _weights_text(result: PlanResult) -> str:
    if not result.weights:
        return ""
    return " (" + ", ".join(f"{_esc(k)} {v:g}" for k, v in sorted(result.weights.items())) + ")"


def _document(result: PlanResult, pages: list[str]) -> str:
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Patrol briefing</title>
<style>
body {{ font-family: system-ui, Arial, sans-serif; color: #111; margin: 0; }}
.page {{ padding: 14mm 12mm; page-break-after: always; max-width: 190mm; margin: 0 auto; }}
h1 {{ font-size: 20px; margin: 0 0 4px; }} h2 {{ font-size: 14px; margin: 10px 0 2px; }}
.shift {{ margin: 0 0 8px; }}
.cols {{ display: grid; grid-template-columns: 270px 1fr; gap: 16px; }}
.small {{ font-size: 11px; color: #444; }} svg.map {{ width: 260px; }}
svg.hours {{ width: 100%; max-width: 300px; }} .visits {{ columns: 2; margin: 4px 0; }}
footer {{ margin-top: 10px; border-top: 1px solid #999; padding-top: 4px; }}
@media print {{ .page {{ padding: 8mm; }} }}
</style></head><body>{"".join(pages)}</body></html>"""


# ---------------------------------------------------------------------------------------------
# Night-time economy deployment sheets (/nte/sheet)
nte_bp = Blueprint("nte_exports", __name__, url_prefix="/nte")


def _sheet_data(args: dict[str, str]) -> dict[str, Any]:
    """Everything a zone's deployment sheet shows for one weekend."""
    from datetime import date as _date
    from datetime import timedelta

    import h3

    from geo.nte import night_of, rank_by_nearby
    from geo.nte_report import parse_nte_params
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
            top_cells.append({"cell": cid, "count": int(counts[c]), "lat": lat, "lon": lon})
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
        "sunday": weekend + timedelta(days=2),
        "count": int(chosen["count"].iloc[0]) if len(chosen) else None,
        "status": chosen["status"].iloc[0] if len(chosen) else "no data for this weekend",
        "history": history[["weekend", "count", "status"]].to_dict("records"),
        "peak": peak, "cells": top_cells, "venues": top_venues,
        "rule": report.params.rule.label, "status_rule": report.params.status.describe(),
        "categories": report.categories[z], "synthetic": svc.query.status()["synthetic_sample"],
    }


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
    hist = "".join(f"<tr><td>Fri {_esc(h['weekend'])}</td><td>{h['count']}</td>"
                   f"<td class='{_esc(h['status']).split()[0]}'>{_esc(h['status'])}</td></tr>"
                   for h in d["history"])
    cells = "".join(f"<li>{c['count']} incidents around {c['lat']:.5f}, {c['lon']:.5f} "
                    f"(cell {c['cell']})</li>" for c in d["cells"]) or "<li>none</li>"
    venues = "".join(f"<li>{_esc(v['name'])} ({_esc(v['type'])}): {v['incidents']} incidents "
                     "within 50 m</li>" for v in d["venues"]) or \
        "<li>no venue list loaded for this zone</li>"
    peak = ", ".join(_esc(p) for p in d["peak"]) or "no night incidents recorded"
    body = f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Deployment sheet · {_esc(d["zone"])}</title><style>
body {{ font-family: system-ui, Arial, sans-serif; margin: 12mm; color: #111; max-width: 190mm; }}
h1 {{ font-size: 20px; margin: 0; }} h2 {{ font-size: 15px; margin: 12px 0 4px; }}
.status {{ font-size: 18px; font-weight: bold; }} .red {{ color: #c0392b; }}
.amber {{ color: #d35400; }} .green {{ color: #1e8449; }}
table {{ border-collapse: collapse; }} td, th {{ border-bottom: 1px solid #ccc; padding: 2px 8px; }}
.small {{ font-size: 11px; color: #444; }}</style></head><body>
<h1>Deployment sheet: {_esc(d["zone"])}</h1>
<p>Weekend of Friday {d["weekend"]:%d %B %Y} (Friday and Saturday nights, {_esc(d["rule"])})</p>
<p class="status {_esc(d["status"]).split()[0]}">Status: {_esc(d["status"])}
{f"({d['count']} incidents)" if d["count"] is not None else ""}</p>
<h2>When to deploy</h2><p>Peak night hours in this zone: {peak}.</p>
<h2>Where</h2><ul>{cells}</ul><h2>Venues</h2><ul>{venues}</ul>
<h2>Main categories at night</h2><p>{_esc(d["categories"] or "none recorded")}</p>
<h2>Last weekends</h2><table><tr><th>weekend</th><th>incidents</th><th>status</th></tr>{hist}
</table>
<p class="small">Status rule: {_esc(d["status_rule"])}</p>
<p class="small">{"SYNTHETIC SAMPLE DATA — not real incidents. " if d["synthetic"] else ""}
Printed from Hotspot's NTE zones page. OFFICIAL-SENSITIVE: handle as your force requires.</p>
</body></html>"""
    return Response(body, mimetype="text/html")


@nte_bp.get("/sheet.csv")
def deployment_sheet_csv() -> Response:
    """Download the deployment sheet's figures as CSV rows (section, item, value)."""
    from geo.csvsafe import rows_to_csv_text

    args = query_params(request.args)
    d = services.current().in_lane(lambda: _sheet_data(args))
    rows: list[list[Any]] = [["section", "item", "value"],
                             ["zone", d["zone"], d["zone_id"]],
                             ["weekend", "friday", d["weekend"].isoformat()],
                             ["weekend", "status", d["status"]],
                             ["weekend", "incidents", "" if d["count"] is None else d["count"]]]
    rows += [["when", "peak hour", p] for p in d["peak"]]
    rows += [["where", c["cell"], c["count"]] for c in d["cells"]]
    rows += [["venue", v["name"], v["incidents"]] for v in d["venues"]]
    rows += [["history", h["weekend"], f"{h['count']} ({h['status']})"] for h in d["history"]]
    rows += [["method", "night", d["rule"]], ["method", "status rule", d["status_rule"]]]
    name = f"deployment_{d['zone_id']}_{d['weekend'].isoformat()}.csv"
    return Response(rows_to_csv_text(rows), mimetype="text/csv",
                    headers={"Content-Disposition": attachment(name)})
