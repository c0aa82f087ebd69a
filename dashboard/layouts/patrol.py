"""Patrol plan: which few places to patrol on a shift, why, and for how long.

For Grip hotspot teams. One plan object (:func:`geo.plan.build_plan`) feeds the map, the table,
the dosage, the downloads and the briefings, so they always agree.
"""

from __future__ import annotations

from html import escape as html_escape
from typing import Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import pandas as pd
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import services
from dashboard.basemap import basemap_layout
from dashboard.components import upload, uploaded_file
from dashboard.figures import graph_config
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params, selected_point
from dashboard.params import parse_plan_params
from geo.plan import MONTHS_DEFAULT, PlanParams
from geo.query import DAY_NAMES, FilterError

dash.register_page(__name__, path="/patrol", name="Patrol plan", title="Hotspot · Patrol plan",
                   order=1)

P = "patrol-"
AREA, WEEKS, AS_OF, DAYS, HOUR_FROM, HOUR_TO = (P + s for s in (
    "area", "weeks", "as-of", "days", "hour-from", "hour-to"))
UNIT, HOW_MANY, N, SHARE, CATEGORIES, PUBLIC, SEED = (P + s for s in (
    "unit", "how-many", "n", "share", "categories", "public", "seed"))
PRESET, MAP, TABLE, SUMMARY, METHOD, DOWNLOADS, DOSAGE, SEARCH, ERROR = (P + s for s in (
    "preset", "map", "table", "summary", "method", "downloads", "dosage", "search", "error"))
WEIGHTS_UPLOAD, WEIGHTS_TEXT, WEIGHTS_RESET = P + "weights-upload", P + "weights-text", \
    P + "weights-reset"
SIG, BT_RUN, BT_HORIZON, BT_TABLE, BT_CURVE, BT_ROLLING, BT_NOTE = (P + s for s in (
    "significant", "backtest-run", "backtest-horizon", "backtest-table", "backtest-curve",
    "backtest-rolling", "backtest-note"))
LOG_UPLOAD, LOG_TABLE, LOG_TEXT = P + "log-upload", P + "log-table", P + "log-text"

PRESETS = {
    "nte": ("Fri & Sat nights 20:00–04:00", ["fri", "sat"], 20, 4),
    "school": ("Weekday after school 15:00–19:00", ["mon", "tue", "wed", "thu", "fri"], 15, 19),
}
PLAN_INPUTS = [
    Input(AREA, "value"), Input(WEEKS, "value"), Input(AS_OF, "date"), Input(DAYS, "value"),
    Input(HOUR_FROM, "value"), Input(HOUR_TO, "value"), Input(UNIT, "value"),
    Input(HOW_MANY, "value"), Input(N, "value"), Input(SHARE, "value"),
    Input(CATEGORIES, "value"), Input(PUBLIC, "value"), Input(SEED, "value"),
    Input(SIG, "value"), Input(WEIGHTS_TEXT, "children"),
]


def _month_only() -> bool:
    """Whether every incident gives only a month (police.uk): no days, hours or visits."""
    status = services.current().query.status()
    return bool(status["incidents"]) and status["month_only_incidents"] == status["incidents"]


def _params_from_controls(area: list[str] | None, weeks: Any, as_of: str | None,
                          days: list[str] | None, h0: Any, h1: Any, unit: str | None,
                          how: str | None, n: Any, share: Any, categories: list[str] | None,
                          public: list[str] | None, seed: Any,
                          significant: str | None = None,
                          month_only: bool = False) -> dict[str, str]:
    params: dict[str, str] = {"unit": unit or "h3-9"}
    if area:
        params["la"] = ",".join(area)
    if weeks not in (None, ""):
        # on month-only data the look-back box holds months
        params["lookback_months" if month_only else "lookback_weeks"] = str(weeks)
    if as_of:
        params["as_of"] = str(as_of)[:10]
    if not month_only:
        params["days"] = ",".join(days or [])
    if not month_only and h0 is not None and h1 is not None and (h0, h1) != (0, 24):
        params["hours"] = f"{h0}-{h1}"
    if how == "share" and share not in (None, ""):
        params["target_share"] = str(share)
    elif n not in (None, ""):
        params["n"] = str(n)
    if categories:
        params["categories"] = ",".join(categories)
    params["public_only"] = "1" if public else "0"
    if seed not in (None, ""):
        params["seed"] = str(seed)
    if significant and unit != "dbscan":
        params["significant"] = significant
    return params


def layout(**query: str) -> html.Div:
    """Build the page; a shared link's query string restores the plan."""
    query = query_params(query)  # a repeated link parameter arrives as a list
    svc = services.current()
    status = svc.query.status()
    group_note = ""
    try:
        # a link without categories starts with the default crime-type group, as the API does
        grouped, choice = svc.resolve_group(query)
        group_note = choice.describe() if choice.is_default else ""
        p = parse_plan_params(grouped)
        problem = None
    except FilterError as exc:
        p, problem = PlanParams(), f"The link had a setting this page could not use ({exc})."
    month_only = status["incidents"] and status["month_only_incidents"] == status["incidents"]
    controls = html.Div([
        html.H2("Plan"),
        html.Label("Local authority", htmlFor=AREA),
        dcc.Dropdown(id=AREA, multi=True, value=list(p.areas or []), placeholder="Whole area",
                     options=[{"label": n, "value": c} for c, n in svc.boundaries.names().items()]),
        html.Label("Look back (whole months) and plan as of" if month_only else
                   "Look back (weeks) and plan as of", htmlFor=WEEKS),
        html.Div([
            dcc.Input(id=WEEKS, type="number", min=1, max=60 if month_only else 156, step=1,
                      value=(p.lookback_months or MONTHS_DEFAULT) if month_only
                      else p.lookback_weeks, debounce=True),
            dcc.DatePickerSingle(id=AS_OF, date=p.as_of.isoformat() if p.as_of else None,
                                 placeholder=status["last_date"] or "",
                                 min_date_allowed=status["first_date"],
                                 max_date_allowed=status["last_date"],
                                 display_format="D MMM YYYY", clearable=True),
        ], className="pair"),
        html.Label("Shift", htmlFor=PRESET),
        dcc.RadioItems(id=PRESET, value=None, options=[
            {"label": label, "value": k} for k, (label, *_rest) in PRESETS.items()]),
        dcc.Checklist(id=DAYS, inline=True, className="days",
                      options=[{"label": d.title(), "value": d, "disabled": bool(month_only)}
                               for d in DAY_NAMES],
                      value=[DAY_NAMES[d] for d in sorted(p.days)]),
        html.Div([
            dcc.Dropdown(id=HOUR_FROM, clearable=False, value=p.hours[0],
                         disabled=bool(month_only),
                         options=[{"label": f"{h:02d}:00", "value": h} for h in range(24)]),
            html.Span("to"),
            dcc.Dropdown(id=HOUR_TO, clearable=False, value=p.hours[1] or 24,
                         disabled=bool(month_only),
                         options=[{"label": f"{h:02d}:00", "value": h} for h in range(1, 25)]),
        ], className="hour-band"),
        html.Div("These data give only months (police.uk): the plan ranks places over whole "
                 "months and gives incidents per month. It cannot give a shift, peak hours, "
                 "visit times or patrol hours." if month_only else "",
                 className="note"),
        html.Label("Hotspot unit", htmlFor=UNIT),
        dcc.RadioItems(id=UNIT, value=p.unit, options=[
            {"label": " H3 cells, resolution 9 (~0.1 km²)", "value": "h3-9"},
            {"label": " H3 cells, resolution 10 (~0.015 km²)", "value": "h3-10"},
            {"label": " DBSCAN clusters (100 m, 15 incidents)", "value": "dbscan"}]),
        html.Label("How many places", htmlFor=HOW_MANY),
        dcc.RadioItems(id=HOW_MANY, inline=True,
                       value="share" if p.target_share is not None else "n",
                       options=[{"label": " top N ", "value": "n"},
                                {"label": " share of harm (%)", "value": "share"}]),
        html.Div([
            dcc.Input(id=N, type="number", min=1, max=200, step=1, value=p.n or 10,
                      debounce=True),
            dcc.Input(id=SHARE, type="number", min=1, max=100, step=1, debounce=True,
                      value=round(100 * p.target_share) if p.target_share else 50),
        ], className="pair"),
        html.Label("Categories", htmlFor=CATEGORIES),
        dcc.Dropdown(id=CATEGORIES, multi=True, options=status["categories"],
                     value=list(p.categories or []), placeholder="All categories"),
        html.Div(group_note, className="note"),
        dcc.Checklist(id=PUBLIC, value=["yes"] if p.public_only else [], options=[{
            "label": " Public places only (leave out domestic: patrols cannot prevent violence "
                     "in homes, and those locations identify victims)", "value": "yes"}]),
        html.Label("Statistically significant hotspots only", htmlFor=SIG),
        dcc.Dropdown(id=SIG, clearable=False, value=(
            str(round(100 * p.significance)) if p.significance else ""), options=[
            {"label": "No: rank every place", "value": ""},
            {"label": "Gi* hot spots, 90% confidence", "value": "90"},
            {"label": "Gi* hot spots, 95% confidence", "value": "95"},
            {"label": "Gi* hot spots, 99% confidence", "value": "99"}]),
        html.Label("Dosage random seed", htmlFor=SEED),
        dcc.Input(id=SEED, type="number", min=0, step=1, value=p.seed, debounce=True),
        html.H2("Harm weights"),
        html.Div(id=WEIGHTS_TEXT, children=_weights_text()),
        upload(WEIGHTS_UPLOAD, "Load a weight table (CSV)", ".csv,.gz,text/csv"),
        html.Button("Use equal weights", id=WEIGHTS_RESET, n_clicks=0, className="link"),
    ], className="sidebar")
    main = html.Div([
        html.Div(problem, className="warning") if problem else None,
        html.Div(id=ERROR, className="warning"),
        html.H2(id=SUMMARY, className="plan-summary"),
        dcc.Graph(id=MAP, className="map", config=graph_config(scrollZoom=True)),
        html.Div(id=DOSAGE, className="dosage"),
        html.Div(id=DOWNLOADS, className="downloads"),
        dag.AgGrid(id=TABLE, columnDefs=_columns(bool(month_only)), rowData=[],
                   className="ag-theme-alpine",
                   columnSize="responsiveSizeToFit",
                   dashGridOptions={"domLayout": "autoHeight",
                                    "suppressColumnVirtualisation": True,
                                    "rowSelection": {"mode": "singleRow", "checkboxes": False,
                                                     "enableClickSelection": True}}),
        html.Ul(id=METHOD, className="method"),
        html.Div([
            html.H3("Would the forecast have predicted what came next?"),
            html.P("At each past month, rank this plan's places from the months before it "
                   "alone, by the forecast and by simple baselines (the look-back's count, last "
                   "month's count, kernel density), and score each on the month after: hit rate "
                   "(share of that month's incidents inside the top 1%, 2% and 5% of places), "
                   "PAI (hit rate ÷ share of places; Chainey, Tompson & Uhlig 2008) and share of "
                   "the ceiling (the oracle ranks by that month's own counts). Medians over the "
                   "months scored; the same numbers as hotspot backtest and /api/v1/backtest.",
                   className="hint"),
            html.Div([
                html.Label("Look-back (months)", htmlFor=BT_HORIZON),
                dcc.Input(id=BT_HORIZON, type="number", min=1, max=60, step=1, value=12),
                html.Button("Run backtest", id=BT_RUN, n_clicks=0),
            ], className="inline"),
            html.Div(id=BT_NOTE, className="hint"),
            dag.AgGrid(id=BT_TABLE, rowData=[], columnSize="responsiveSizeToFit",
                       className="ag-theme-alpine",
                       dashGridOptions={"domLayout": "autoHeight"},
                       columnDefs=[{"field": "method", "minWidth": 240},
                                   *({"field": f"c{i}", "headerName": f"Top {c} of places: "
                                      "PAI · caught · of ceiling", "minWidth": 300}
                                     for i, c in enumerate(("1%", "2%", "5%")))]),
            html.Div([dcc.Graph(id=BT_CURVE, figure=_placeholder("hit rate by share of places"),
                                config=graph_config(displayModeBar=False)),
                      dcc.Graph(id=BT_ROLLING, figure=_placeholder("hit rate at each past month"),
                                config=graph_config(displayModeBar=False))],
                     className="two"),
        ], className="panel backtest"),
        html.Div([
            html.H3("Patrol log: dosage achieved"),
            html.P("Import a patrol log (CSV with hotspot or lat/lon, start, end, unit) to "
                   "compare the patrols delivered with this plan.", className="hint"),
            upload(LOG_UPLOAD, "Import patrol log (CSV)", ".csv,.gz,text/csv"),
            html.Div(id=LOG_TEXT),
            dag.AgGrid(id=LOG_TABLE, rowData=[], columnSize="responsiveSizeToFit",
                       className="ag-theme-alpine", dashGridOptions={"domLayout": "autoHeight"},
                       columnDefs=[{"field": "hotspot", "minWidth": 150},
                                   {"field": "visits"}, {"field": "planned_visits"},
                                   {"field": "minutes"}, {"field": "planned_minutes"},
                                   {"field": "achieved", "headerName": "Achieved"},
                                   {"field": "mean_gap_min", "headerName": "Mean gap (min)"},
                                   {"field": "max_gap_min", "headerName": "Longest gap (min)"}]),
        ], className="panel patrol-log"),
        dcc.Store(id=SEARCH),
    ], className="main")
    return html.Div([controls, main], className="explorer")


def _placeholder(what: str) -> dict[str, Any]:
    """Return an empty chart that says what will appear, instead of bare axes."""
    return {"data": [], "layout": {
        "height": 280, "xaxis": {"visible": False}, "yaxis": {"visible": False},
        "annotations": [{"text": f"Run the backtest to see the {what}", "showarrow": False,
                         "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}]}}


def _weights_text() -> list[Any]:
    weights, source = services.current().harm_weights()
    if not weights:
        return [html.P(f"In use: {source}.", className="hint")]
    rows = [html.Tr([html.Td(k), html.Td(f"{v:g}")]) for k, v in sorted(weights.items())]
    return [html.P(f"In use: {source}.", className="hint"),
            html.Table([html.Thead(html.Tr([html.Th("category"), html.Th("weight")])),
                        html.Tbody(rows)], className="weights")]


def _columns(month_only: bool = False) -> list[dict[str, Any]]:
    timed = [] if month_only else [
        {"field": "peak_hours", "headerName": "Peak hours", "minWidth": 200},
        {"field": "visits", "headerName": "Suggested visits (per shift)", "minWidth": 260}]
    return [
        {"field": "rank", "headerName": "#", "minWidth": 55, "maxWidth": 60},
        {"field": "place_name", "headerName": "Where", "minWidth": 220,
         "tooltipField": "name_source", "headerTooltip": "the place's most frequent streets "
         "in the incidents, or else the nearest gazetteer street, ward, LSOA or authority"},
        {"field": "incidents_text", "headerName": "Incidents (share)", "minWidth": 210,
         "headerTooltip": "share of harm when harm weights are loaded, else of incidents"},
        {"field": "expected_text", "headerName": "Next month" if month_only else "Per shift",
         "minWidth": 130, "headerTooltip": "the forecast, with its 80% interval in brackets"},
        {"field": "main_categories", "headerName": "Main categories", "minWidth": 300},
        {"field": "trend", "headerName": "Trend vs before", "minWidth": 190},
        *timed,
        {"field": "briefing", "headerName": "Briefing", "minWidth": 100,
         "cellRenderer": "markdown", "linkTarget": "_blank"},
        {"field": "why", "headerName": "Why", "minWidth": 520, "tooltipField": "why"},
        {"field": "id", "headerName": "Place", "minWidth": 150},
    ]


GI_COLOURS = {-3: "#2166ac", -2: "#67a9cf", -1: "#d1e5f0", 1: "#fddbc7", 2: "#ef8a62",
              3: "#b2182b"}


def _gi_trace(gi: Any) -> dict[str, Any]:
    """Hot and cold spot bins (Gi*, 90/95/99%) as a choropleth under the ranked places."""
    import h3

    shown = gi[gi["bin"] != 0]
    feats = []
    for cell in shown["cell"]:
        cid = format(int(cell), "x")
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cid)]
        feats.append({"type": "Feature", "id": cid,
                      "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
    bins = shown["bin"].astype(int).tolist()
    scale = [[(b + 3) / 6, GI_COLOURS.get(b, "#ffffff")] for b in range(-3, 4)]
    return {"type": "choroplethmap", "name": "Gi* bins",
            "geojson": {"type": "FeatureCollection", "features": feats},
            "featureidkey": "id", "locations": [f["id"] for f in feats], "z": bins,
            "zmin": -3, "zmax": 3, "colorscale": scale, "marker": {"opacity": 0.55,
                                                                  "line": {"width": 0}},
            "text": shown["label"].tolist(), "hovertemplate": "%{text}<extra>Gi*</extra>",
            "colorbar": {"title": {"text": "Gi* bin"}, "x": 0.0, "xanchor": "left",
                         "len": 0.45, "tickvals": [-3, -2, -1, 0, 1, 2, 3],
                         "ticktext": ["cold 99%", "cold 95%", "cold 90%", "not sig.",
                                      "hot 90%", "hot 95%", "hot 99%"]}}


def _figure(result: Any, center: dict[str, float], zoom: float) -> dict[str, Any]:
    feats = [{"type": "Feature", "id": str(r["rank"]), "geometry": r["geometry"]}
             for r in result.table.to_dict("records")]
    t = result.table
    svc = services.current()
    under = [_gi_trace(result.gi)] if result.gi is not None and len(result.gi) else []
    return {
        "data": [
            *under,
            {"type": "choroplethmap", "geojson": {"type": "FeatureCollection",
                                                  "features": feats},
             "featureidkey": "id", "locations": [f["id"] for f in feats],
             "z": t["harm"].tolist(), "colorscale": [[0, "#fdae6b"], [1, "#a50f15"]],
             "marker": {"opacity": 0.75, "line": {"width": 1.5, "color": "#67000d"}},
             "customdata": [[r["count"], r["why"]] for r in t.to_dict("records")],
             "hovertemplate": "<b>Hotspot %{location}</b><br>%{customdata[0]} incidents"
                              "<extra></extra>",
             "colorbar": {"title": {"text": "harm"}, "len": 0.4, "y": 0.95,
                          "yanchor": "top"}},
            # markers, not text: map text needs glyph files fetched from the internet
            {"type": "scattermap", "mode": "markers", "lon": t["lon"].tolist(),
             "lat": t["lat"].tolist(),
             # plotly reads a few HTML tags in hover text: a street name is escaped to text
             "text": [f"Hotspot {r}: {html_escape(str(n))}"
                      for r, n in zip(t["rank"], t["place_name"], strict=True)],
             "marker": {"size": 9, "color": "#111"},
             "customdata": [[r["count"], r["trend"]] for r in t.to_dict("records")],
             "hovertemplate": "<b>%{text}</b><br>%{customdata[0]} incidents<br>"
                              "%{customdata[1]}<extra></extra>"},
        ],
        "layout": {
            "map": basemap_layout(center=center, zoom=zoom, layers=[
                {"sourcetype": "geojson", "source": svc.areas_geojson(), "type": "line",
                 "color": "#4a4a4a", "line": {"width": 1}}]),
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "showlegend": False,
            "uirevision": "patrol",
        },
    }


@callback(
    Output(MAP, "figure"), Output(TABLE, "rowData"), Output(SUMMARY, "children"),
    Output(METHOD, "children"), Output(DOWNLOADS, "children"), Output(DOSAGE, "children"),
    Output(SEARCH, "data"), Output(ERROR, "children"),
    *PLAN_INPUTS, Input(LIVE_VERSION, "data"),
)
def update_plan(area: list[str] | None, weeks: Any, as_of: str | None, days: list[str] | None,
                h0: Any, h1: Any, unit: str | None, how: str | None, n: Any, share: Any,
                categories: list[str] | None, public: list[str] | None, seed: Any,
                significant: str | None, _weights: Any, _live: Any = None) -> tuple[Any, ...]:
    """Rebuild the plan whenever a setting changes (plans are cached per parameters)."""
    month_only = _month_only()
    params = _params_from_controls(area, weeks, as_of, days, h0, h1, unit, how, n, share,
                                   categories, public, seed, significant, month_only)
    svc = services.current()
    try:
        plan_params = parse_plan_params(params)
        if not plan_params.days:
            raise FilterError("days", "tick at least one day for the shift")
        result = svc.plan(plan_params)
    except FilterError as exc:
        return (dash.no_update,) * 7 + (f"Cannot plan: {exc.message}",)
    # no categories ticked means every category: the link says so, or it would open on the
    # default group
    query = urlencode({**plan_params.to_params(),
                       **({} if plan_params.categories else {"group": "all"})})
    t = result.table
    visits = result.schedule
    rows = []
    for r in t.to_dict("records"):
        v = visits[visits["hotspot"] == r["rank"]]
        expected = r["expected_per_month"] if result.month_only else r["expected_per_shift"]
        times = ", ".join(f"{a}–{b}" for a, b in zip(v["start"], v["end"], strict=True))
        rows.append({
            "rank": r["rank"], "id": r["id"], "lon": r["lon"], "lat": r["lat"],
            "place_name": r["place_name"], "name_source": f"named from: {r['name_source']}",
            # with equal weights harm is the count: say "incidents", not "harm"
            "incidents_text": f"{r['count']:,} ({100 * r['share_harm']:.1f}% of "
                              f"{result.totals['harm']:,.0f}"
                              + (" harm)" if result.weights else " incidents)"),
            "expected_text": ("–" if expected != expected else
                              (f"{expected:.1f}" if result.month_only else f"{expected:.2f}")
                              + ("" if r["forecast_low"] != r["forecast_low"] else
                                 f" ({r['forecast_low']:g}–{r['forecast_high']:g})")),
            "peak_hours": r["peak_hours"], "main_categories": r["main_categories"],
            "trend": r["trend"], "why": r["why"],
            "visits": f"{len(v)}: {times}" if len(v) else "–",
            "briefing": f"[print](/patrol/briefing?{query}&rank={r['rank']})",
        })
    names = svc.boundaries.names()
    where = ", ".join(names.get(a, a) for a in plan_params.areas) if plan_params.areas \
        else "the whole area"
    covered = t["cum_share_harm"].iloc[-1] if len(t) else 0.0
    held = t["count"].sum() if len(t) else 0
    if result.month_only:
        summary = (f"{len(t)} places in {where}: {100 * covered:.0f}% of the harm ({held:,} of "
                   f"{result.totals['incidents']:,} incidents), {result.window[0]:%b %Y} – "
                   f"{result.window[1]:%b %Y}, {result.n_months} months with data.")
        dosage = html.P([
            html.B("Patrol time: "),
            "not suggested. These data give only the month of each incident, so they cannot "
            "say which days or hours to patrol, nor when to visit; choose the shift from "
            "local knowledge or timestamped data.",
        ])
    else:
        summary = (f"{len(t)} places in {where}, {result.params.shift.label}: "
                   f"{100 * covered:.0f}% of the shift's harm ({held:,} of "
                   f"{result.totals['incidents']:,} incidents), "
                   f"{result.window[0]:%d %b} – {result.window[1]:%d %b %Y}, "
                   f"{result.n_shifts} shifts.")
        hours = result.hours
        dosage = html.P([
            html.B("Patrol time: "),
            f"{int(hours['visits_per_shift'] or 0)} visits of 15 minutes per shift across "
            f"{len(t)} places = {hours['per_shift_hours'] or 0:.1f} patrol hours per shift, "
            f"{hours['per_week_hours'] or 0:.1f} per week ({len(result.params.days)} shifts). "
            "Visits follow each place's expected harm: the busiest place gets one in every two "
            "hours of the shift, the others fewer in proportion, at least one.",
        ])
    if result.synthetic:
        summary += " SYNTHETIC sample data."
    downloads = html.Div([
        html.B("Export: "),
        html.A("CSV", href=f"/patrol/plan.csv?{query}", download=""), " (",
        html.A("its provenance", href=f"/patrol/plan-provenance.json?{query}", download=""),
        ") · ",
        html.A("GeoJSON", href=f"/patrol/plan.geojson?{query}", download=""), " · ",
        html.A("All briefings (print)", href=f"/patrol/briefing?{query}", target="_blank"),
    ])
    method = [html.Li(m) for m in result.method + result.notes]
    if len(t):
        center = {"lon": float(t["lon"].mean()), "lat": float(t["lat"].mean())}
        span = max(float(t["lon"].max() - t["lon"].min()), float(t["lat"].max() -
                                                                  t["lat"].min()) * 1.6)
        import math

        zoom = max(8.0, min(15.0, math.log2(360 / max(span, 0.002)) - 1.2))
    else:
        center, zoom = svc.map_center()
    return (_figure(result, center, zoom), rows, summary, method, downloads, dosage,
            "?" + query, "")


@callback(
    Output(MAP, "figure", allow_duplicate=True),
    Input(TABLE, "selectedRows"),
    prevent_initial_call=True,
)
def zoom_to_hotspot(rows: list[dict[str, Any]] | None) -> Any:
    """Centre the map on the hotspot selected in the table."""
    lon, lat, label = selected_point(rows)
    patch = dash.Patch()
    patch["layout"]["map"]["center"] = {"lon": lon, "lat": lat}
    patch["layout"]["map"]["zoom"] = 15.5
    patch["layout"]["uirevision"] = f"row-{label}"
    return patch


@callback(
    Output(DAYS, "value"), Output(HOUR_FROM, "value"), Output(HOUR_TO, "value"),
    Input(PRESET, "value"), prevent_initial_call=True,
)
def apply_shift_preset(preset: str | None) -> tuple[Any, ...]:
    """Set the shift's days and hours from a preset."""
    if preset not in PRESETS:
        raise PreventUpdate
    _, days, h0, h1 = PRESETS[preset]
    return days, h0, h1


@callback(
    Output(WEIGHTS_TEXT, "children"), Output(ERROR, "children", allow_duplicate=True),
    Input(WEIGHTS_UPLOAD, "contents"), Input(WEIGHTS_RESET, "n_clicks"),
    State(WEIGHTS_UPLOAD, "filename"), prevent_initial_call=True,
)
def load_weights(contents: str | None, _reset: int, filename: str | None) -> tuple[Any, Any]:
    """Load (or clear) the harm weight table; report its bad rows in plain English."""
    from geo.harm import EQUAL, load_harm_weights, store_harm_weights
    from geo.schema import ReadError

    svc = services.current()
    dest = svc.data.harm
    if dash.ctx.triggered_id == WEIGHTS_RESET:
        store_harm_weights(EQUAL, dest)
        return _weights_text(), ""
    if not contents:
        raise PreventUpdate
    try:
        with uploaded_file(contents, filename, "weights.csv") as upload:
            weights, rejects = load_harm_weights(upload.path, source_name=upload.name)
    except ReadError as exc:
        return dash.no_update, f"Weight table not loaded: {exc}"
    store_harm_weights(weights, dest)
    text = _weights_text()
    if len(rejects):
        # shown beside the table in use: the plan's own refresh (which the new weights set
        # off) writes the plan's error line, and once wiped this report from it
        lines = "; ".join(f"line {r.line}: {r.reason}" for r in rejects.itertuples())
        text.append(html.P(f"{len(rejects)} rows of the weight table were not used: {lines}",
                           className="warning"))
    return text, ""


dash.clientside_callback(
    dash.ClientsideFunction(namespace="hotspot", function_name="replaceSearch"),
    Output(SEARCH, "id"), Input(SEARCH, "data"), prevent_initial_call=True,
)


def _current_params(search: str | None) -> Any:
    from urllib.parse import parse_qsl

    grouped, _ = services.current().resolve_group(dict(parse_qsl((search or "").lstrip("?"))))
    return parse_plan_params(grouped)


@callback(
    Output(BT_TABLE, "rowData"), Output(BT_CURVE, "figure"), Output(BT_ROLLING, "figure"),
    Output(BT_NOTE, "children"),
    Input(BT_RUN, "n_clicks"), State(SEARCH, "data"), State(BT_HORIZON, "value"),
    prevent_initial_call=True,
)
def run_backtest_panel(_clicks: int, search: str | None, lookback: Any) -> tuple[Any, ...]:
    """Backtest the forecast for the plan's area, categories and shift (issue 12)."""
    from dashboard.backtest_run import METHOD_LABELS

    svc = services.current()
    try:
        plan_params = _current_params(search)
        months = (int(lookback) if isinstance(lookback, int | float) and 1 <= lookback <= 60
                  else 12)
        params = {"lookback_months": str(months), **{
            k: v for k, v in plan_params.to_params().items()
            if k in ("la", "categories", "days", "hours")}}
        # the plan's own incidents: public places only unless the plan includes domestic
        params["public_only"] = "1" if plan_params.public_only else "0"
        if len(plan_params.days) == 7:
            params.pop("days", None)
        if plan_params.hours[0] == plan_params.hours[1]:
            params.pop("hours", None)
        result = svc.backtest(params)
    except (FilterError, ValueError) as exc:
        message = exc.message if isinstance(exc, FilterError) else str(exc)
        return [], {}, {}, f"Cannot backtest: {message}"
    covs = [f"{c:g}" for c in result["protocol"]["coverage"]]

    def cell(s: dict[str, Any]) -> str:
        if s["pai"] is None:
            return "–"
        ceiling = ("–" if s["share_of_ceiling"] is None
                   else f"{100 * s['share_of_ceiling']:.0f}%")
        return f"{s['pai']:.1f} · {100 * s['hit_rate']:.1f}% · {ceiling}"

    rows = [{"method": METHOD_LABELS[m], **{f"c{i}": cell(by[c]) for i, c in enumerate(covs)}}
            for m, by in result["summary"].items()]
    curve: dict[str, Any] = {"data": [], "layout": {
        "title": {"text": "Median share of next month's incidents caught"}, "height": 280,
        "xaxis": {"title": {"text": "share of places selected"}, "tickformat": ".0%"},
        "yaxis": {"tickformat": ".0%"}, "margin": {"t": 40, "l": 50, "r": 10, "b": 40}}}
    series: dict[str, Any] = {"data": [], "layout": {
        "title": {"text": f"Caught at each past month (top {100 * float(covs[0]):g}%)"},
        "height": 280, "yaxis": {"tickformat": ".0%"}, "showlegend": False,
        "margin": {"t": 40, "l": 50, "r": 10, "b": 40}}}
    for m, by in result["summary"].items():
        curve["data"].append({
            "type": "scatter", "mode": "lines+markers", "name": METHOD_LABELS[m],
            "x": [by[c]["area_share"] for c in covs], "y": [by[c]["hit_rate"] for c in covs],
            "hovertemplate": "%{x:.1%} of places: %{y:.1%} caught<extra>%{fullData.name}"
                             "</extra>"})
        series["data"].append({
            "type": "scatter", "mode": "lines+markers", "name": METHOD_LABELS[m],
            "x": [c["cutoff"] for c in result["cutoffs"]],
            "y": [c["methods"][m][covs[0]]["hit_rate"] for c in result["cutoffs"]]})
    p = result["protocol"]
    note = [result["sentence"], html.Br(),
            f"Months scored {p['from']} to {p['to']} ({len(result['cutoffs'])}), "
            f"{p['lookback_months']}-month look-back, study area: the "
            f"{result['study_area']['cells']:,} places with any of these incidents."]
    if result["skipped"]:
        note += [html.Br(), "Skipped: " + "; ".join(
            f"{s['cutoff']} ({s['reason']})" for s in result["skipped"][:12])
            + (" …" if len(result["skipped"]) > 12 else "")]
    if result.get("synthetic_sample"):
        note += [html.Br(), "SYNTHETIC sample data."]
    return rows, curve, series, note


@callback(
    Output(LOG_TABLE, "rowData"), Output(LOG_TEXT, "children"),
    Input(LOG_UPLOAD, "contents"), State(LOG_UPLOAD, "filename"), State(SEARCH, "data"),
    prevent_initial_call=True,
)
def import_patrol_log(contents: str | None, filename: str | None,
                      search: str | None) -> tuple[Any, ...]:
    """Read a patrol log, place its visits in this plan's hotspots, compare with the plan."""
    import shapely

    from geo.patrol_log import assign_visits, dosage_achieved, patrol_hours_total, read_patrol_log
    from geo.schema import ReadError

    if not contents:
        raise PreventUpdate
    svc = services.current()
    try:
        with uploaded_file(contents, filename, "patrol_log.csv") as upload:
            log, rejects = read_patrol_log(upload.path, source_name=upload.name)
    except ReadError as exc:
        return [], html.P(f"Patrol log not read: {exc}", className="warning")
    result = svc.plan(_current_params(search))
    polygons = {r["id"]: shapely.geometry.shape(r["geometry"])
                for r in result.table.to_dict("records")}
    visits, unplaced = assign_visits(log, polygons)
    if visits.empty:
        return [], html.P(f"No visit in the log matched a hotspot of this plan "
                          f"({len(rejects) + len(unplaced)} rows set aside).", className="warning")
    start, end = visits["start"].min(), visits["end"].max()
    days = max(1, (end.normalize() - start.normalize()).days + 1)
    shifts = sum(1 for d in range(days) if (start + pd.Timedelta(
        days=d)).dayofweek in result.params.days)
    per_spot = result.schedule.groupby("hotspot").size()
    planned = pd.DataFrame({
        "hotspot": result.table["id"],
        "planned_visits": [int(per_spot.get(r, 0)) * shifts for r in result.table["rank"]],
    })
    planned["planned_minutes"] = planned["planned_visits"] * 15
    achieved = dosage_achieved(visits, planned, start.date(), end.date())
    rows = []
    for r in achieved.to_dict("records"):
        share = r.get("achieved_share")
        rows.append({
            "hotspot": r["hotspot"], "visits": int(r["visits"]),
            "planned_visits": r["planned_visits"], "minutes": round(float(r["minutes"])),
            "planned_minutes": r["planned_minutes"],
            "achieved": "–" if share is None or share != share else
            f"{100 * share:.0f}% ({round(float(r['minutes']))} of "
            f"{round(float(r['planned_minutes']))} min)",
            "mean_gap_min": None if r["mean_gap_min"] != r["mean_gap_min"] else round(
                float(r["mean_gap_min"])),
            "max_gap_min": None if r["max_gap_min"] != r["max_gap_min"] else round(
                float(r["max_gap_min"])),
        })
    set_aside = [*(f"line {x.line}: {x.reason}" for x in rejects.itertuples()),
                 *(f"line {x.line}: {x.reason}" for x in unplaced.itertuples())]
    text: list[Any] = [html.P([html.B("Patrol hours (Home Office return): "),
                    f"{patrol_hours_total(visits):,.1f} hours, {start:%d %b %Y} to "
                    f"{end:%d %b %Y}, {len(visits):,} visits placed in this plan's hotspots."])]
    if set_aside:
        text.append(html.Details([html.Summary(f"{len(set_aside)} log rows set aside"),
                                  html.Ul([html.Li(t) for t in set_aside[:200]])],
                                 open=True))
    return rows, text
