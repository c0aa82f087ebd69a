"""Downloads and printable briefings for patrol plans (``/patrol/...``).

Every export is built from :func:`geo.plan.build_plan` with the page's own parameters, so what
an officer is handed matches what the sergeant saw, and carries the same provenance.
"""

from __future__ import annotations

import html
import json
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, request

from dashboard import services
from geo.plan import PlanResult, parse_plan_params, plan_csv, plan_geojson
from geo.projection import to_bng
from geo.query import FilterError

bp = Blueprint("patrol_exports", __name__, url_prefix="/patrol")


@bp.errorhandler(FilterError)
def _bad_parameter(exc: FilterError) -> tuple[Response, int]:
    return jsonify({"error": exc.message, "parameter": exc.param}), 400


def _plan() -> PlanResult:
    args = {k: v for k, v in request.args.items() if k != "rank"}
    return services.current().plan(parse_plan_params(args))


def _filename(result: PlanResult, ext: str) -> str:
    p = result.params
    area = "-".join(p.areas) if p.areas else "all-areas"
    return f"patrol-plan_{area}_{result.window[1].isoformat()}.{ext}"


@bp.get("/plan.csv")
def plan_csv_download() -> Response:
    """Download the plan as CSV, headed by ``#`` provenance lines."""
    result = _plan()
    return Response(plan_csv(result), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{_filename(result, "csv")}"'})


@bp.get("/plan.geojson")
def plan_geojson_download() -> Response:
    """Download the plan as GeoJSON (WGS84) with dosage and provenance."""
    result = _plan()
    body = json.dumps(plan_geojson(result), ensure_ascii=False)
    return Response(body, mimetype="application/geo+json", headers={
        "Content-Disposition": f'attachment; filename="{_filename(result, "geojson")}"'})


@bp.get("/briefing")
def briefing() -> Response:
    """Printable one-page briefings: every hotspot of the plan, or only ``rank``."""
    result = _plan()
    only = request.args.get("rank")
    ranks = list(result.table["rank"])
    if only:
        if not only.isdigit() or int(only) not in ranks:
            raise FilterError("rank", f"'{only}' is not a hotspot of this plan (1 to "
                              f"{len(ranks)})")
        ranks = [int(only)]
    pages = [_briefing_page(result, r) for r in ranks]
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
    per_shift = row["expected_per_shift"]
    per_shift_text = f"{per_shift:.2f}" if per_shift == per_shift else "not available"
    return f"""
<section class="page">
  <header>
    <h1>Hotspot {rank} of {len(result.table)} · {_esc(area)}</h1>
    <p class="shift">Shift: <b>{_esc(p.shift.label)}</b> · {_esc(row["id"])} ·
       centre {row["lat"]:.5f}, {row["lon"]:.5f}</p>
  </header>
  <div class="cols">
    <div>{_svg_map(result, rank, pts)}
      <p class="small">Dots: incidents in public places on this shift,
      {result.window[0]:%d %b} – {result.window[1]:%d %b %Y}. Domestic incidents are never
      shown.</p></div>
    <div>
      <h2>Why here</h2><p>{_esc(row["why"])}</p>
      <h2>When</h2>{_svg_hours(fr.hour[pts["idx"]], p.hours)}
      <p class="small">Incidents by hour; red = inside the shift.
      Busiest: {_esc(row["peak_hours"])}.</p>
      <h2>What</h2><p>{cats}</p>
      <h2>Trend</h2><p>{_esc(row["trend"])} (same shift, the {p.lookback_weeks} weeks before)</p>
      <h2>Patrol</h2><p>Visible presence of about 15 minutes, at varied times, at least every
      two hours (Koper 1995). Suggested this shift:</p><ul class="visits">{visit_list}</ul>
      <p>Expected incidents per shift here: <b>{per_shift_text}</b>
      ({int(row["count"])} in {result.n_shifts} shifts).</p>
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
