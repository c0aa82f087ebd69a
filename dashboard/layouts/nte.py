"""NTE zones: night-time economy zones, weekend risk status, hour profiles and deployment sheets.

Zones are imported, drawn with the map's lasso, or suggested from the data and accepted one by
one; they are saved in the data directory. Every count uses the night rule: a night runs from
the evening start to the next morning and belongs to the date it started.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import numpy as np
import pandas as pd
from dash import Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import services
from dashboard.basemap import basemap_layout
from dashboard.components import upload, uploaded_file
from dashboard.figures import graph_config
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params
from dashboard.params import parse_nte_params
from geo.nte_report import NteParams
from geo.query import FilterError

dash.register_page(__name__, path="/nte", name="NTE zones", title="Hotspot · NTE zones", order=2)

P = "nte-"
(ZONE, RENAME, RENAME_BTN, DELETE_BTN, IMPORT, IMPORT_FIELD, DRAW_NAME, DRAW_BTN, SUGGEST_BTN,
 SUGGESTIONS, ACCEPT_BTN, NIGHT_FROM, NIGHT_TO, MODE, GREEN_Q, RED_Q, AMBER_N, RED_N, CATS,
 PUBLIC, VENUES, RANKS, RADIUS, MAP, ZONE_TABLE, SERIES, PROFILE, DETAIL, WEEKEND, SHEET, MSG,
 VERSION, RULE_TEXT, SEARCH, VENUE_TABLE) = (P + s for s in (
    "zone", "rename", "rename-btn", "delete-btn", "import", "import-field", "draw-name",
    "draw-btn", "suggest-btn", "suggestions", "accept-btn", "night-from", "night-to", "mode",
    "green-q", "red-q", "amber-n", "red-n", "categories", "public", "venues", "ranks",
    "radius", "map", "zone-table", "series", "profile", "detail", "weekend", "sheet", "msg",
    "version", "rule-text", "search", "venue-table"))

#: Deleting asks first (the confirm dialog) and can be undone (the restore button).
DELETE_CONFIRM, RESTORE_BTN = P + "delete-confirm", P + "restore-btn"

STATUS_COLOURS = {"red": "#c0392b", "amber": "#e67e22", "green": "#27ae60",
                  "not enough history": "#95a5a6", None: "#95a5a6"}
#: Each status's zone outline on the map: its shape says the status as well as its colour
#: (width in pixels; dash as dash and gap lengths, in line widths).
STATUS_LINES = {"red": (5, None), "amber": (4, [2, 1]), "green": (3, [0.5, 1.5])}
STATUS_KEY = ("Zone outlines: red, thick and solid; amber, dashed; green, dotted; a thin "
              "black line on grey: not enough weekends yet to rate. Each zone's status is in "
              "words in the table below.")
RULE_INPUTS = [Input(NIGHT_FROM, "value"), Input(NIGHT_TO, "value"), Input(MODE, "value"),
               Input(GREEN_Q, "value"), Input(RED_Q, "value"), Input(AMBER_N, "value"),
               Input(RED_N, "value"), Input(CATS, "value"), Input(PUBLIC, "value")]


def _nte_query(night_from: int | None, night_to: int | None, mode: str | None, green: Any,
               red: Any,
               amber_n: Any, red_n: Any, cats: list[str] | None,
               public: list[str] | None) -> dict[str, str]:
    q: dict[str, str] = {"night": f"{night_from}-{night_to}"}
    if mode == "fixed":
        q["amber"], q["red"] = _text(amber_n), _text(red_n)
    else:
        q["green_below"], q["red_above"] = _share(green), _share(red)
    if cats:
        q["categories"] = ",".join(map(str, cats))
    else:  # every category, said in the link (without it the default group would apply)
        q["group"] = "all"
    if public:
        q["public_only"] = "1"
    return q


def _text(value: Any) -> str:
    """Return a control's value as query text ("" when blank: the parser names it)."""
    return "" if value is None else str(value)[:40]


def _share(percent: Any) -> str:
    """Return a percentile box (0-100) as a share ("" or the raw text if not a number)."""
    try:
        return f"{float(percent) / 100:g}"
    except (TypeError, ValueError):
        return _text(percent)


def layout(**query: str) -> html.Div:
    """Build the page (the query string restores the night and status settings)."""
    query = query_params(query)  # a repeated link parameter arrives as a list
    svc = services.current()
    status = svc.query.status()
    group_note = ""
    try:
        # a link without categories starts with the default crime-type group, as the API does
        grouped, choice = svc.resolve_group(query)
        group_note = choice.describe() if choice.is_default else ""
        p = parse_nte_params(grouped)
        problem = None
    except FilterError as exc:
        p, problem = NteParams(), f"The link had a setting this page could not use ({exc})."
    st = p.status
    hours = [{"label": f"{h:02d}:00", "value": h} for h in range(24)]
    sidebar = html.Div([
        html.H2("Zones"),
        dcc.Dropdown(id=ZONE, placeholder="Choose a zone", clearable=False),
        html.Div([dcc.Input(id=RENAME, placeholder="New name", debounce=False),
                  html.Button("Rename", id=RENAME_BTN, n_clicks=0)], className="inline"),
        dcc.ConfirmDialogProvider(
            html.Button("Delete this zone", id=DELETE_BTN, n_clicks=0, className="link"),
            id=DELETE_CONFIRM,
            message="Delete the chosen zone? Its figures leave every page. You can bring it "
                    "back with \"Restore last deleted zone\"."),
        html.Button("Restore last deleted zone", id=RESTORE_BTN, n_clicks=0, className="link"),
        html.A("Export all zones (GeoJSON)", href="/nte/zones.geojson", download=""),
        html.Label("Import zones (GeoJSON, GeoPackage, zipped Shapefile; any CRS)",
                   htmlFor=IMPORT_FIELD),
        dcc.Input(id=IMPORT_FIELD, placeholder="name field (e.g. name)", value="name"),
        upload(IMPORT, "Import zone file", ".geojson,.json,.gpkg,.zip"),
        html.Label("Draw a zone: pick the lasso in the map's toolbar, circle the area, "
                   "then name and save it", htmlFor=DRAW_NAME),
        html.Div([dcc.Input(id=DRAW_NAME, placeholder="Zone name"),
                  html.Button("Save drawn zone", id=DRAW_BTN, n_clicks=0)], className="inline"),
        html.Label("Suggest zones from the data (Friday and Saturday nights, as the night "
                   "rule below defines them)", htmlFor=SUGGEST_BTN),
        html.Button("Suggest zones", id=SUGGEST_BTN, n_clicks=0),
        dag.AgGrid(id=SUGGESTIONS, rowData=[], className="ag-theme-alpine",
                   columnSize="responsiveSizeToFit",
                   columnDefs=[{"field": "rank", "maxWidth": 60},
                               {"field": "name", "editable": True, "minWidth": 150},
                               {"field": "count", "headerName": "Incidents", "maxWidth": 100},
                               {"field": "area_km2", "headerName": "km²", "maxWidth": 80}],
                   dashGridOptions={"domLayout": "autoHeight", "rowSelection": {
                       "mode": "multiRow", "checkboxes": True, "headerCheckbox": False}}),
        html.Button("Accept ticked suggestions", id=ACCEPT_BTN, n_clicks=0),
        html.H2("Night and status"),
        html.Label("A night runs from … to … (it belongs to the date it started)",
                   htmlFor=NIGHT_FROM),
        html.Div([dcc.Dropdown(id=NIGHT_FROM, options=hours, value=p.rule.evening_start,
                               clearable=False), html.Span("to"),
                  dcc.Dropdown(id=NIGHT_TO, options=hours, value=p.rule.morning_end,
                               clearable=False)], className="hour-band"),
        html.Label("Weekend status compares with", htmlFor=MODE),
        dcc.RadioItems(id=MODE, value=st.mode, options=[
            {"label": " the zone's own past weekends (percentiles)", "value": "history"},
            {"label": " fixed counts", "value": "fixed"}]),
        html.Div([
            html.Span("green at or below percentile"),
            dcc.Input(id=GREEN_Q, type="number", min=1, max=98, value=round(100 *
                                                                          st.green_below)),
            html.Span("red above percentile"),
            dcc.Input(id=RED_Q, type="number", min=2, max=99, value=round(100 * st.red_above)),
        ], className="thresholds"),
        html.Div([
            html.Span("amber from"), dcc.Input(id=AMBER_N, type="number", min=0,
                                               value=st.fixed_amber or 10),
            html.Span("red from"), dcc.Input(id=RED_N, type="number", min=1,
                                             value=st.fixed_red or 20),
            html.Span("incidents per weekend"),
        ], className="thresholds"),
        html.Label("Categories", htmlFor=CATS),
        dcc.Dropdown(id=CATS, multi=True, options=status["categories"],
                     value=list(p.filters.categories or []), placeholder="All categories"),
        html.Div(group_note, className="note"),
        dcc.Checklist(id=PUBLIC, value=["yes"] if p.filters.exclude_domestic else [],
                      options=[{"label": " Public places only (leave out domestic)",
                                "value": "yes"}]),
        html.H2("Venues and taxi ranks"),
        upload(VENUES, "Load venues (CSV or licence register)", ".csv,.gz,text/csv"),
        upload(RANKS, "Load taxi ranks (CSV)", ".csv,.gz,text/csv"),
        html.Label("Count incidents within (m)", htmlFor=RADIUS),
        dcc.Input(id=RADIUS, type="number", min=10, max=1000, step=10, value=50),
    ], className="sidebar")
    main = html.Div([
        html.Div(problem, className="warning") if problem else None,
        html.Div(id=MSG, className="message", role="status"),
        html.P(id=RULE_TEXT, className="method"),
        dcc.Graph(id=MAP, className="map", config=graph_config(scrollZoom=True)),
        html.P(STATUS_KEY, className="hint"),
        dag.AgGrid(id=ZONE_TABLE, rowData=[], className="ag-theme-alpine",
                   columnSize="responsiveSizeToFit",
                   dashGridOptions={"domLayout": "autoHeight",
                                    "suppressColumnVirtualisation": True},
                   columnDefs=[
                       {"field": "name", "headerName": "Zone", "minWidth": 170},
                       {"field": "place_name", "headerName": "Where", "minWidth": 200,
                        "tooltipField": "name_source"},
                       {"field": "status", "headerName": "Latest weekend", "minWidth": 200,
                        "cellStyle": {"function": "params.value && params.value.startsWith("
                                      "'red') ? {'color': '#c0392b', 'fontWeight': 'bold'} : "
                                      "params.value && params.value.startsWith('amber') ? "
                                      "{'color': '#d35400', 'fontWeight': 'bold'} : "
                                      "{'color': '#1e8449'}"}},
                       {"field": "night_incidents", "headerName": "Night incidents"},
                       {"field": "share_text", "headerName": "Share at night", "minWidth": 170},
                       {"field": "main_categories", "headerName": "Main categories",
                        "minWidth": 320}]),
        html.Div(id=DETAIL, className="panel", children=[
            html.H3("Zone detail"),
            html.Div([dcc.Graph(id=SERIES, config=graph_config(displayModeBar=False)),
                      dcc.Graph(id=PROFILE, config=graph_config(displayModeBar=False))],
                     className="two"),
            html.Div([html.Label("Deployment sheet for the weekend of", htmlFor=WEEKEND),
                      dcc.Dropdown(id=WEEKEND, clearable=False),
                      html.Div(id=SHEET)], className="inline"),
            dag.AgGrid(id=VENUE_TABLE, rowData=[], className="ag-theme-alpine",
                       columnSize="responsiveSizeToFit",
                       dashGridOptions={"domLayout": "autoHeight"},
                       columnDefs=[{"field": "name", "minWidth": 200},
                                   {"field": "kind"}, {"field": "type", "minWidth": 160},
                                   {"field": "incidents", "headerName": "Night incidents near"},
                                   {"field": "opening_hours", "minWidth": 200},
                                   {"field": "placed_by", "headerName": "Placed by"}]),
        ]),
        dcc.Store(id=VERSION, data=0),
        dcc.Store(id=SEARCH),
    ], className="main")
    return html.Div([sidebar, main], className="explorer")


# ----------------------------------------------------------------------------------------------
def _zone_options() -> list[dict[str, str]]:
    zs = services.current().zones().zones
    return [{"label": n, "value": z} for z, n in zip(zs["zone_id"], zs["name"], strict=True)]


def _venue_labels(venues: pd.DataFrame) -> list[str]:
    """Each venue's name, saying so when it stands at its postcode's centre."""
    from geo.venues import PLACED_BY_POSTCODE

    by_postcode = (venues["placed_by"] == PLACED_BY_POSTCODE).fillna(False).tolist() \
        if "placed_by" in venues.columns else [False] * len(venues)
    return [f"{n} (at its postcode's centre)" if p else str(n)
            for n, p in zip(venues["name"].tolist(), by_postcode, strict=True)]


def _map_figure(report: Any, venues: pd.DataFrame, night_points: tuple[np.ndarray, ...]
                ) -> dict[str, Any]:
    svc = services.current()
    zs = svc.zones()
    summary = report.zone_summary()
    status = dict(zip(summary["zone_id"], summary["latest_status"], strict=True))
    gj = json.loads(zs.zones[["zone_id", "name", "geometry"]].to_json(drop_id=True))
    for f in gj["features"]:
        f["id"] = f["properties"]["zone_id"]
    codes = {"green": 0, "amber": 1, "red": 2}
    lon, lat = night_points
    traces: list[dict[str, Any]] = [
        # night incidents: also what the lasso selects when drawing a zone
        {"type": "scattermap", "lon": lon.tolist(), "lat": lat.tolist(), "mode": "markers",
         "marker": {"size": 3, "color": "#555", "opacity": 0.2}, "name": "night incidents",
         "hoverinfo": "skip"},
        {"type": "choroplethmap", "geojson": gj, "featureidkey": "id",
         "locations": list(status), "z": [codes.get(s, -1) for s in status.values()],
         "zmin": -1, "zmax": 2, "showscale": False,
         "colorscale": [[0, "#95a5a6"], [0.33, "#95a5a6"], [0.34, "#27ae60"],
                        [0.66, "#e67e22"], [1, "#c0392b"]],
         "marker": {"opacity": 0.6, "line": {"width": 1, "color": "#111"}},
         "text": [f"{n}: {s or 'no status'}" for n, s in zip(summary["name"], status.values(),
                                                             strict=True)],
         "hovertemplate": "%{text}<extra>zone</extra>"},
    ]
    for kind, colour in (("venues", "#6a1b9a"), ("taxi_ranks", "#f1c40f")):
        v = venues[venues["kind"] == kind] if len(venues) else venues
        if len(v):
            traces.append({"type": "scattermap", "lon": v["lon"].tolist(),
                           "lat": v["lat"].tolist(), "mode": "markers",
                           "marker": {"size": 8, "color": colour},
                           "text": _venue_labels(v), "name": kind,
                           "hovertemplate": "%{text}<extra>" + kind.replace("_", " ") +
                                            "</extra>"})
    if len(zs.zones):
        minx, miny, maxx, maxy = zs.zones.total_bounds
        center = {"lon": float((minx + maxx) / 2), "lat": float((miny + maxy) / 2)}
        span = max(maxx - minx, (maxy - miny) * 1.6, 0.01)
        zoom = float(np.clip(np.log2(360 / span) - 0.2, 8, 15))
    else:
        center, zoom = svc.map_center()
    return {"data": traces, "layout": {
        "map": basemap_layout(center=center, zoom=zoom, layers=[
            {"sourcetype": "geojson", "source": svc.areas_geojson(), "type": "line",
             "color": "#4a4a4a", "line": {"width": 1}}, *_status_outlines(gj, status)]),
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "showlegend": False,
        # a new set of zones re-frames the map; filter changes keep the analyst's view
        "dragmode": "pan", "uirevision": "-".join(zs.zones["zone_id"]) or "none"}}


def _status_outlines(gj: dict[str, Any], status: dict[str, Any]) -> list[dict[str, Any]]:
    """Zone outlines whose line says the status (solid, dashed, dotted), not colour alone."""
    layers = []
    for name, (width, dashes) in STATUS_LINES.items():
        feats = [f for f in gj["features"] if status.get(f["id"]) == name]
        if feats:
            line: dict[str, Any] = {"width": width}
            if dashes:
                line["dash"] = dashes
            layers.append({"sourcetype": "geojson", "type": "line",
                           "source": {"type": "FeatureCollection", "features": feats},
                           "color": STATUS_COLOURS[name], "line": line})
    return layers


def _night_points(params: NteParams, limit: int = 30_000
                  ) -> tuple[np.ndarray, np.ndarray, str]:
    """Night-time incidents to draw (a seeded sample when there are many), and a note.

    Only for roles that may see incident points; others get the zones and their figures.
    On an engine too many incidents to read one by one are not drawn, and the note says so.
    """
    from dashboard.access.gate import principal_or_none
    from geo.nte import night_of

    who = principal_or_none()
    if who is not None and not who.may_see("points"):
        return np.zeros(0), np.zeros(0), ""
    svc = services.current()
    try:
        layer = svc.query.within(params.filters, "Drawing the night-time incidents",
                                 "fewer crime types")
    except FilterError as exc:
        return np.zeros(0), np.zeros(0), f"Incidents are not drawn: {exc.message}"
    fr = layer.frame()
    mask = layer.select(params.filters).mask & (fr.hour >= 0)
    idx = np.flatnonzero(mask)
    idx = idx[night_of(fr.day[idx], fr.hour[idx], params.rule) >= 0]
    if len(idx) > limit:
        idx = np.sort(np.random.default_rng(0).choice(idx, limit, replace=False))
    return fr.lon[idx], fr.lat[idx], ""


@callback(
    Output(MAP, "figure"), Output(ZONE_TABLE, "rowData"), Output(ZONE, "options"),
    Output(ZONE, "value"), Output(RULE_TEXT, "children"), Output(SEARCH, "data"),
    *RULE_INPUTS, Input(VERSION, "data"), Input(LIVE_VERSION, "data"), State(ZONE, "value"),
)
def update_zones(night_from: int | None, night_to: int | None, mode: str | None, green: Any,
                 red: Any, amber_n: Any, red_n: Any, cats: list[str] | None,
                 public: list[str] | None, _version: int | None, _live: Any,
                 zone: str | None) -> tuple[Any, ...]:
    """Recompute every zone's figures when the rule, filters or zones change."""
    q = _nte_query(night_from, night_to, mode, green, red, amber_n, red_n, cats, public)
    svc = services.current()
    try:
        params = parse_nte_params(svc.resolve_group(q)[0])
    except FilterError as exc:
        return (dash.no_update,) * 4 + (f"Cannot use these settings: {exc.message}",
                                        dash.no_update)
    report = svc.nte_report(params)
    summary = report.zone_summary()
    rows = []
    for r in summary.to_dict("records"):
        latest = (f"{r['latest_status']} ({r['latest_count']} on {r['latest_weekend']})"
                  if r["latest_status"] else "no weekends yet")
        share = r["night_share"]
        rows.append({"name": r["name"], "zone_id": r["zone_id"], "status": latest,
                     "place_name": r["place_name"],
                     "name_source": f"named from: {r['name_source']}",
                     "night_incidents": r["night_incidents"],
                     "share_text": "–" if share != share else
                     f"{100 * share:.0f}% ({r['night_count']:,} of {r['all_count']:,})",
                     "main_categories": r["main_categories"]})
    options = _zone_options()
    ids = [o["value"] for o in options]
    value = zone if zone in ids else (ids[0] if ids else None)
    text = (f"Nights run {params.rule.label}; weekend nights are Friday and Saturday nights. "
            f"Status: {params.status.describe()}")
    if not ids:
        text += " No zones yet: import, draw or accept suggested zones (left)."
    lon, lat, not_drawn = _night_points(params)
    for note in (*report.notes, not_drawn):
        text += f" {note}" if note else ""
    fig = _map_figure(report, svc.venues(), (lon, lat))
    return fig, rows, options, value, text, "?" + urlencode(q)


@callback(
    Output(SERIES, "figure"), Output(PROFILE, "figure"), Output(WEEKEND, "options"),
    Output(WEEKEND, "value"), Output(VENUE_TABLE, "rowData"),
    Input(ZONE, "value"), Input(SEARCH, "data"), Input(RADIUS, "value"),
    State(WEEKEND, "value"),
)
def zone_detail(zone: str | None, search: str | None, radius: Any,
                weekend: str | None) -> tuple[Any, ...]:
    """Nightly series (weekend nights highlighted), hour profile, weekends and venues."""
    from urllib.parse import parse_qsl

    if not zone or not search:
        raise PreventUpdate
    svc = services.current()
    params = parse_nte_params(svc.resolve_group(dict(parse_qsl(search.lstrip("?"))))[0])
    report = svc.nte_report(params)
    if zone not in report.zone_ids:
        raise PreventUpdate
    z = report.zone_ids.index(zone)
    name = report.zone_names[z]
    nightly = report.nightly[report.nightly["zone"] == z]
    recent = nightly.tail(7 * 26)  # about six months of nights
    series = {"data": [
        {"type": "bar", "x": recent["night"].tolist(), "y": recent["count"].tolist(),
         "marker": {"color": ["#c0392b" if w else "#b0b7c3" for w in recent["weekend"]],
                    "pattern": {"shape": ["/" if w else "" for w in recent["weekend"]]}},
         "customdata": ["weekend night" if w else "weeknight" for w in recent["weekend"]],
         "hovertemplate": "night of %{x} (%{customdata}): %{y} incidents<extra></extra>"}],
        "layout": {"title": {"text": f"{name}: incidents per night (weekend nights red, "
                                     "hatched)"},
                   "height": 280, "margin": {"t": 40, "l": 40, "r": 10, "b": 40}}}
    labels = [f"{h:02d}" for h in report.night_hours]
    profile = {"data": [{"type": "bar", "x": labels, "y": report.profile[z].tolist(),
                         "marker": {"color": "#34495e"},
                         "hovertemplate": "%{x}:00 — %{y} incidents<extra></extra>"}],
               "layout": {"title": {"text": f"Hour profile, {report.params.rule.label}"},
                          "height": 280, "xaxis": {"type": "category"},
                          "margin": {"t": 40, "l": 40, "r": 10, "b": 40}}}
    wk = report.weekends[report.weekends["zone"] == z].tail(26)
    options = [{"label": f"Fri {w} — {s} ({c})", "value": w}
               for w, s, c in zip(wk["weekend"][::-1], wk["status"][::-1], wk["count"][::-1],
                                  strict=True)]
    values = [o["value"] for o in options]
    chosen = weekend if weekend in values else (values[0] if values else None)
    venues = _venue_rows(report, z, params, _radius(radius))
    return series, profile, options, chosen, venues


def _radius(value: Any) -> float:
    """Return the venue radius asked for (10 to 1,000 m, as the page offers), else 50 m."""
    try:
        radius = float(value)
    except (TypeError, ValueError):
        return 50.0
    return radius if 10.0 <= radius <= 1000.0 else 50.0


def _venue_rows(report: Any, z: int, params: NteParams, radius_m: float) -> list[dict[str, Any]]:
    from geo.nte import night_of, rank_by_nearby
    from geo.zones import assign_zones

    svc = services.current()
    venues = svc.venues()
    if venues.empty:
        return []
    zs = svc.zones()
    inside = assign_zones(venues["easting"].to_numpy(), venues["northing"].to_numpy(), zs) == z
    v = venues[inside]
    if v.empty:
        return []
    from geo.nte_report import zone_bounds

    # the incidents near the zone's venues: inside its bounds widened by the radius
    layer = svc.query.within(params.filters, "Ranking the venues", "fewer crime types",
                             boxes=zone_bounds([zs.zones_bng.geometry.iloc[z]], radius_m))
    fr = layer.frame()
    mask = layer.select(params.filters).mask & (fr.hour >= 0)
    idx = np.flatnonzero(mask)
    idx = idx[night_of(fr.day[idx], fr.hour[idx], params.rule) >= 0]
    counts = rank_by_nearby(v["easting"].to_numpy(), v["northing"].to_numpy(),
                            fr.easting[idx], fr.northing[idx], radius_m=radius_m)
    out = v.assign(incidents=counts).sort_values("incidents", ascending=False)
    cols = ["name", "kind", "type", "incidents", "opening_hours", "placed_by"]
    return out.reindex(columns=cols).head(25).to_dict("records")


@callback(Output(SHEET, "children"), Input(WEEKEND, "value"), State(ZONE, "value"),
          State(SEARCH, "data"))
def sheet_links(weekend: str | None, zone: str | None, search: str | None) -> Any:
    """Links to the printable deployment sheet for the coming weekend, and for the chosen one.

    The sheet is for the coming weekend, forecast from the zone's last weekends; a past
    weekend's sheet shows what its forecast was beside what was recorded.
    """
    if not zone:
        return ""
    q = f"{(search or '?').lstrip('?')}&zone={zone}"
    links: list[Any] = [
        html.A("Deployment sheet for the coming weekend (print)", href=f"/nte/sheet?{q}",
               target="_blank"),
        " · ", html.A("CSV", href=f"/nte/sheet.csv?{q}", download="")]
    if weekend:
        links += [" · ", html.A(f"the sheet as it would have been for Fri {weekend}",
                                href=f"/nte/sheet?{q}&weekend={weekend}", target="_blank")]
    return links


@callback(
    Output(VERSION, "data"), Output(MSG, "children"),
    Input(RENAME_BTN, "n_clicks"), Input(DELETE_CONFIRM, "submit_n_clicks"),
    Input(IMPORT, "contents"),
    Input(DRAW_BTN, "n_clicks"), Input(ACCEPT_BTN, "n_clicks"), Input(VENUES, "contents"),
    Input(RANKS, "contents"), Input(RESTORE_BTN, "n_clicks"),
    State(ZONE, "value"), State(RENAME, "value"), State(IMPORT, "filename"),
    State(IMPORT_FIELD, "value"), State(MAP, "selectedData"), State(DRAW_NAME, "value"),
    State(SUGGESTIONS, "selectedRows"), State(VENUES, "filename"), State(RANKS, "filename"),
    State(VERSION, "data"),
    prevent_initial_call=True,
)
def edit_zones(_rename: int, _delete: int, import_contents: str | None, _draw: int,
               _accept: int, venue_contents: str | None, rank_contents: str | None,
               _restore: int | None, zone: str | None, new_name: str | None,
               import_name: str | None, name_field: str | None,
               selected: dict[str, Any] | None, draw_name: str | None,
               suggestions: list[dict[str, Any]] | None, venue_name: str | None,
               rank_name: str | None, version: int) -> tuple[Any, Any]:
    """Every change to the saved zones, venues and taxi ranks; each is saved at once."""
    from dashboard.access.gate import current
    from geo.postcodes import PostcodeLookup
    from geo.schema import ReadError
    from geo.venues import read_venues, save_venues
    from geo.zones import (
        ZoneError,
        add_zone,
        delete_zone,
        import_zones,
        lasso_polygon,
        rename_zone,
        restore_deleted_zone,
    )

    svc = services.current()
    trigger = ctx.triggered_id
    message = ""
    # zones need "zones" (checked at the door); venues and taxi ranks, and any file, need more
    if trigger in (VENUES, RANKS):
        current().require_change("venues", "change the venues and taxi ranks")
    if trigger in (IMPORT, VENUES, RANKS):
        current().require_change("uploads", "upload files")
    try:
        if trigger == RENAME_BTN:
            cleaned = new_name.strip() if isinstance(new_name, str) else ""
            if not zone or not cleaned:
                return dash.no_update, "Choose a zone and type its new name."
            rename_zone(svc.zones_dir, zone, cleaned)
        elif trigger == DELETE_CONFIRM:
            if not zone:
                return dash.no_update, "Choose a zone to delete."
            name = svc.zones().names().get(zone, zone)
            delete_zone(svc.zones_dir, zone)
            message = (f"Deleted the zone '{name}'. \"Restore last deleted zone\" brings it "
                       "back.")
        elif trigger == RESTORE_BTN:
            _, name = restore_deleted_zone(svc.zones_dir)
            message = f"Restored the zone '{name}'."
        elif trigger == IMPORT and import_contents:
            field = name_field.strip() if isinstance(name_field, str) else ""
            with uploaded_file(import_contents, import_name, "zones") as upload:
                _, notes = import_zones(upload.path, field or None, svc.zones_dir,
                                        source_name=upload.name)
            message = " ".join(notes)
        elif trigger == DRAW_BTN:
            lasso = (selected or {}).get("lassoPoints") if isinstance(selected, dict) else None
            ring = lasso.get("map") if isinstance(lasso, dict) else None
            typed = draw_name.strip() if isinstance(draw_name, str) else ""
            add_zone(svc.zones_dir, lasso_polygon(ring), typed or "Drawn zone")
        elif trigger == ACCEPT_BTN:
            if not suggestions or not isinstance(suggestions, list):
                return dash.no_update, "Tick the suggested zones to accept first."
            # The page offers 15 suggestions; more came from something other than the page.
            if len(suggestions) > 15 or not all(isinstance(s, dict) for s in suggestions):
                return dash.no_update, "Accept at most 15 suggested zones at a time."
            for s in suggestions:
                add_zone(svc.zones_dir, s.get("geometry"),
                         s.get("name") or f"Zone {s.get('rank', '')}".strip(),
                         origin="suggested")
        elif trigger in (VENUES, RANKS):
            contents = venue_contents if trigger == VENUES else rank_contents
            name = venue_name if trigger == VENUES else rank_name
            kind = "venues" if trigger == VENUES else "taxi_ranks"
            if not contents:
                raise PreventUpdate
            # Rows with a postcode but no coordinates are placed by the imported postcode
            # directory, if there is one (hotspot postcodes import FILE).
            lookup = PostcodeLookup.load(svc.data)
            with uploaded_file(contents, name, f"{kind}.csv") as upload:
                table, rejects = read_venues(
                    upload.path, kind_default="taxi rank" if kind == "taxi_ranks" else "venue",
                    source_name=upload.name, postcodes=lookup)
            save_venues(table, svc.venues_dir, kind)
            message = f"Loaded {len(table):,} {kind.replace('_', ' ')} from {upload.name}."
            if table.attrs.get("placed_by_postcode"):
                message += (f" {table.attrs['placed_by_postcode']:,} of them had no coordinates "
                            "and are placed at their postcode's centre.")
            if len(rejects):
                from geo.ingest import reason_key

                reasons = rejects["reason"].map(reason_key).value_counts()
                example = rejects["reason"].iloc[0]
                message += (f" {len(rejects):,} rows were not placed: " + "; ".join(
                    f"{n:,} × {r}" for r, n in reasons.items()) +
                    f" (for example line {int(rejects['line'].iloc[0])}: {example}).")
        else:
            raise PreventUpdate
    except (ZoneError, ReadError) as exc:
        return dash.no_update, str(exc)
    return (version or 0) + 1, message


@callback(Output(SUGGESTIONS, "rowData"), Input(SUGGEST_BTN, "n_clicks"),
          State(SEARCH, "data"), State(NIGHT_FROM, "value"), State(NIGHT_TO, "value"),
          prevent_initial_call=True)
def suggest(_clicks: int | None, search: str | None, night_from: int | None = None,
            night_to: int | None = None) -> list[dict[str, Any]]:
    """DBSCAN on Friday and Saturday night incidents: footprints to accept, rename or ignore.

    Nights are the page's night rule (default 18:00-06:00), so the zones suggested are
    drawn from the same incidents the page then counts in them.
    """
    from urllib.parse import parse_qsl

    from dashboard.params import parse_filters
    from geo.nte import suggest_zones

    svc = services.current()
    base = dict(parse_qsl((search or "").lstrip("?")))
    shared = {k: v for k, v in base.items() if k in {"categories", "public_only"}}
    rule = NteParams().rule
    start = rule.evening_start if night_from is None else night_from
    end = rule.morning_end if night_to is None else night_to
    if not (0 <= start <= 23 and 0 <= end <= 23):
        raise FilterError("night", "the night's hours run from 0 to 23")
    filters = parse_filters({**shared, "days": "fri,sat", "hours": f"{start}-{end or 24}"})
    layer = svc.query.within(filters, "Suggesting zones", "fewer crime types")
    fr = layer.frame()
    mask = layer.select(filters).mask
    sug = suggest_zones(fr.easting[mask], fr.northing[mask]).head(15)
    if sug.empty:
        return []
    wgs = sug.to_crs("EPSG:4326")
    from geo.nte_report import zone_names
    from geo.zones import assign_polygons

    idx = np.flatnonzero(mask)
    shapes = list(sug.geometry)
    names = zone_names(layer, fr, idx,
                       assign_polygons(fr.easting[idx], fr.northing[idx], shapes), shapes)
    rows = []
    for i, r in enumerate(sug.itertuples()):
        geom = json.loads(json.dumps(wgs.geometry.iloc[i].__geo_interface__))
        rows.append({"rank": int(r.rank), "name": names["place_name"].iloc[i],
                     "name_source": names["name_source"].iloc[i], "count": int(r.count),
                     "area_km2": round(float(r.area_km2), 2), "geometry": geom})
    return rows


dash.clientside_callback(
    dash.ClientsideFunction(namespace="hotspot", function_name="replaceSearch"),
    Output(SEARCH, "id"), Input(SEARCH, "data"), prevent_initial_call=True,
)
