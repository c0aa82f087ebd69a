"""Trends and evaluation: reporting-period trends, rates by area, emerging hotspots, before/after.

For Violence Reduction Unit analysts. Every change on this page is computed from counts shown
beside it, with its baseline named (:mod:`geo.vru`).
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
from dash import Input, Output, State, callback, dcc, html

from dashboard import services
from dashboard.basemap import basemap_layout
from dashboard.components import days_and_hours
from dashboard.figures import graph_config
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params
from dashboard.params import (
    parse_emerging_params,
    parse_evaluate_params,
    parse_trends_params,
)
from dashboard.serialise import emerging_json, evaluation_json, trends_json
from geo.query import AUTHORITY, FilterError
from geo.trends import EVENT_KINDS
from geo.vru import StaggeredResult

dash.register_page(__name__, path="/trends", name="Trends", title="Hotspot · Trends", order=3)

P = "trends-"
(AREA, PERIOD, CATS, SOURCE, SERIES, SOURCES_FIG, LEAGUE, LEAGUE_NOTE, NOTE, EM_RUN, EM_TABLE,
 EM_RULES, EM_MAP, EV_TARGET, EV_START, EV_END, EV_BASELINE, EV_BUFFER, EV_RUN, EV_TABLE,
 EV_TEXT, EV_NAME, EV_FROM, EV_TO, EV_KIND, EV_ADD, EV_LIST, SEARCH) = (P + s for s in (
    "area", "period", "categories", "source", "series", "sources", "league", "league-note",
    "note", "em-run", "em-table", "em-rules", "em-map", "ev-target", "ev-start", "ev-end",
    "ev-baseline", "ev-buffer", "ev-run", "ev-table", "ev-text", "event-name", "event-from",
    "event-to", "event-kind", "event-add", "event-list", "search"))
DAYS, H_FROM, H_TO, LEAGUE_BASE = P + "days", P + "hour-from", P + "hour-to", P + "league-base"
(SEASONAL, PEAKED, EV_COMPARE, EV_WEEKLY, EV_STAGGERED, EM_SERIES, EV_DELETE_NAME,
 EV_DELETE) = (P + s for s in ("seasonal", "peaked", "ev-compare", "ev-weekly",
                               "ev-staggered", "em-series", "event-delete-name",
                               "event-delete"))
EM_NOTE, EM_PERIODS = P + "em-note", P + "em-periods"
LEVEL, LEVEL_BOX, LEAGUE_TITLE = P + "level", P + "level-box", P + "league-title"


def layout(**query: str) -> html.Div:
    """Build the page; the query string restores the area, period and filters."""
    query = query_params(query)  # a repeated link parameter arrives as a list
    svc = services.current()
    status = svc.query.status()
    names = svc.boundaries.names()
    zones = svc.zones().zones
    targets = [{"label": f"zone: {n}", "value": z}
               for z, n in zip(zones["zone_id"], zones["name"], strict=True)]
    targets += [{"label": n, "value": c} for c, n in names.items()]
    month_only = bool(status["incidents"]) and status["month_only_incidents"] == status[
        "incidents"]
    # a link without categories starts with the default crime-type group, as the API does
    try:
        grouped, choice = svc.resolve_group({k: v for k, v in query.items()
                                             if k in {"group", "categories"}})
    except FilterError:
        grouped, choice = {}, None
    start_categories = [c for c in str(grouped.get("categories") or "").split(",") if c]
    group_note = choice.describe() if choice is not None and choice.is_default else ""
    levels = svc.level_names()
    level = str(query.get("level") or AUTHORITY).strip().lower()
    level = level if level in levels else AUTHORITY
    sidebar = html.Div([
        html.H2("Selection"),
        html.Label("Area (shown beside the rest of the area)", htmlFor=AREA),
        dcc.Dropdown(id=AREA, value=query.get("la") or (
            f"zone:{query['zone']}" if query.get("zone") else None), placeholder="Whole area",
                     options=[{"label": n, "value": c} for c, n in names.items()] + [
                         {"label": f"zone: {o['label'][6:]}", "value": f"zone:{o['value']}"}
                         for o in targets if o["label"].startswith("zone: ")]),
        html.P("To follow a place of your own, draw it as a zone on the NTE zones page.",
               className="hint"),
        html.Label("Period", htmlFor=PERIOD),
        dcc.RadioItems(id=PERIOD, value=query.get("period", "fyq"), options=[
            # month-only data (police.uk) cannot be counted by day or week
            {"label": " day", "value": "day", "disabled": month_only},
            {"label": " week", "value": "week", "disabled": month_only},
            {"label": " month (with rolling 12 months)", "value": "month"},
            {"label": " financial-year quarter (Q1 = Apr–Jun)", "value": "fyq"}]),
        *days_and_hours(DAYS, H_FROM, H_TO,
                        "Days of week (with hours: nights, as on the Explorer)"),
        # shown only when boundaries of another level (wards, beats...) have been imported
        html.Div([
            html.Label("League table level", htmlFor=LEVEL),
            dcc.RadioItems(id=LEVEL, value=level, options=[
                {"label": f" {_level_label(n)}", "value": n} for n in levels]),
        ], id=LEVEL_BOX, style=None if len(levels) > 1 else {"display": "none"}),
        html.Label("League table baseline", htmlFor=LEAGUE_BASE),
        dcc.Dropdown(id=LEAGUE_BASE, value="", clearable=False, options=[
            {"label": "the 12 months before", "value": ""}] + [
            {"label": f"financial year {y}/{(y + 1) % 100:02d}", "value": f"fy:{y}"}
            for y in _fy_options(status)]),
        html.Label("Categories", htmlFor=CATS),
        dcc.Dropdown(id=CATS, multi=True, options=status["categories"],
                     value=start_categories, placeholder="All categories"),
        html.Div(group_note, className="note"),
        html.Label("Source", htmlFor=SOURCE),
        dcc.Dropdown(id=SOURCE, multi=True, options=status["sources"],
                     placeholder="All sources"),
        html.H2("Events calendar"),
        html.P("Periods such as lockdowns or weeks of action are shaded on charts and left out "
               "of baselines.", className="hint"),
        dcc.Input(id=EV_NAME, placeholder="Event name"),
        html.Div([dcc.DatePickerSingle(id=EV_FROM, placeholder="from",
                                       display_format="D MMM YYYY"),
                  dcc.DatePickerSingle(id=EV_TO, placeholder="to",
                                       display_format="D MMM YYYY")], className="pair"),
        dcc.Dropdown(id=EV_KIND, value="operation", clearable=False, options=list(EVENT_KINDS)),
        html.Button("Add event", id=EV_ADD, n_clicks=0),
        html.Ul(id=EV_LIST, children=_event_items()),
        html.Div([dcc.Input(id=EV_DELETE_NAME, placeholder="Event name to delete"),
                  html.Button("Delete", id=EV_DELETE, n_clicks=0)], className="inline"),
    ], className="sidebar")
    main = html.Div([
        html.Div(id=NOTE, className="message", role="status"),
        dcc.Graph(id=SERIES, config=graph_config()),
        dcc.Graph(id=SOURCES_FIG, config=graph_config()),
        html.Div([dcc.Graph(id=SEASONAL, config=graph_config(displayModeBar=False)),
                  html.Div(id=PEAKED)], className="two"),
        html.H3(_league_title(level), id=LEAGUE_TITLE),
        html.P(id=LEAGUE_NOTE, className="hint"),
        dag.AgGrid(id=LEAGUE, rowData=[], className="ag-theme-alpine",
                   columnSize="responsiveSizeToFit",
                   dashGridOptions={"domLayout": "autoHeight"},
                   columnDefs=[{"field": "rank", "maxWidth": 70},
                               {"field": "name", "minWidth": 170},
                               {"field": "count_text", "headerName": "Incidents (base)",
                                "minWidth": 160},
                               {"field": "rate_text", "headerName": "Rate /1,000 (base)",
                                "minWidth": 160},
                               {"field": "change_text", "headerName": "Change",
                                "minWidth": 160},
                               {"field": "note", "headerName": "Note", "minWidth": 200}]),
        html.Div([
            html.H3("Emerging hotspots (H3 resolution 8)"),
            html.P("The last ten six-weekly periods, ending on the last day of the data."
                   if not (
                       status["incidents"] and status["month_only_incidents"] ==
                       status["incidents"]) else
                   "These data give only the month of each incident (police.uk), so the "
                   "periods are the last 12 calendar months.", className="hint"),
            html.Button("Find emerging hotspots", id=EM_RUN, n_clicks=0),
            html.Div(id=EM_NOTE, role="status"),
            dcc.Store(id=EM_PERIODS),
            dcc.Graph(id=EM_MAP, config=graph_config(scrollZoom=True),
                      figure={"data": [], "layout": {
                          "height": 80, "xaxis": {"visible": False},
                          "yaxis": {"visible": False}, "annotations": [{
                              "text": "Press the button to classify cells",
                              "showarrow": False, "xref": "paper", "yref": "paper"}]}}),
            dag.AgGrid(id=EM_TABLE, rowData=[], className="ag-theme-alpine",
                       columnSize="responsiveSizeToFit",
                       dashGridOptions={"domLayout": "autoHeight", "pagination": True,
                                        "paginationPageSize": 10, "rowSelection": {
                                            "mode": "singleRow", "checkboxes": False,
                                            "enableClickSelection": True}},
                       columnDefs=[{"field": "category", "minWidth": 130},
                                   {"field": "hot", "headerName": "Hot periods"},
                                   {"field": "trend"}, {"field": "series_text",
                                                        "headerName": "Counts per period "
                                                        "(oldest first; * = hot)",
                                                        "minWidth": 300},
                                   {"field": "latest", "headerName": "Latest period",
                                    "minWidth": 160},
                                   {"field": "cell", "minWidth": 150}]),
            dcc.Graph(id=EM_SERIES, config=graph_config(displayModeBar=False),
                      figure={"data": [], "layout": {"height": 220, "xaxis": {
                          "visible": False}, "yaxis": {"visible": False}, "annotations": [{
                              "text": "Select a cell in the table to see its series",
                              "showarrow": False, "xref": "paper", "yref": "paper"}]}}),
            html.Details([html.Summary("How the categories are decided"),
                          html.Ul(id=EM_RULES)], open=True),
        ], className="panel"),
        html.Div([
            html.H3("Did an intervention work? (before/after with comparison and "
                    "displacement)"),
            html.Div([
                dcc.Dropdown(id=EV_TARGET, options=targets, placeholder="Target: zone or area",
                             style={"minWidth": "260px"}),
                dcc.DatePickerSingle(id=EV_START, placeholder="start",
                                     display_format="D MMM YYYY"),
                dcc.DatePickerSingle(id=EV_END, placeholder="end (default: end of data)",
                                     display_format="D MMM YYYY"),
                dcc.Dropdown(id=EV_BASELINE, value="equal_before", clearable=False,
                             style={"minWidth": "220px"}, options=[
                                 {"label": "equal period before", "value": "equal_before"},
                                 {"label": "same period last year", "value": "last_year"}] + [
                                 {"label": f"financial year {y}/{(y + 1) % 100:02d} (scaled)",
                                  "value": f"year:{y}"} for y in _fy_options(status)]),
                dcc.Dropdown(id=EV_COMPARE, placeholder="Comparison (default: rest of the "
                             "authority)", style={"minWidth": "260px"},
                             options=[{"label": n, "value": c} for c, n in names.items()]),
                dcc.Input(id=EV_BUFFER, type="number", value=250, min=10, max=5000,
                          step=10),
                html.Span("m ring"),
                html.Button("Evaluate", id=EV_RUN, n_clicks=0),
            ], className="inline"),
            dag.AgGrid(id=EV_TABLE, rowData=[], className="ag-theme-alpine",
                       columnSize="responsiveSizeToFit",
                       dashGridOptions={"domLayout": "autoHeight"},
                       columnDefs=[{"field": "area", "minWidth": 220}, {"field": "before"},
                                   {"field": "after"}, {"field": "change"},
                                   {"field": "expected",
                                    "headerName": "Expected after (comparison's trend)"},
                                   {"field": "prevented",
                                    "headerName": "Prevented (+) / more than expected (−)"}]),
            html.P("The comparison area's trend, scaled to each area's own before count, "
                   "predicts its after count. The weighted displacement difference adds up "
                   "the incidents prevented in the target and its buffer: positive = fewer "
                   "incidents than the comparison predicts (incidents prevented); negative = "
                   "more. Significance is claimed only when the 95% interval leaves out zero "
                   "and no count is small.", className="hint"),
            html.Div(id=EV_TEXT),
            dcc.Graph(id=EV_WEEKLY, config=graph_config(displayModeBar=False),
                      figure={"data": [], "layout": {"height": 60, "xaxis": {"visible": False},
                                                     "yaxis": {"visible": False}}}),
            html.Label("Staggered roll-out (optional): targets with their own start dates, "
                       "e.g. z-1234abcd@2024-06-01, E07000123@2024-09-01/2024-12-31",
                       htmlFor=EV_STAGGERED),
            dcc.Input(id=EV_STAGGERED, style={"width": "100%"},
                      placeholder="zone or area id@start[/end], …"),
        ], className="panel"),
        dcc.Store(id=SEARCH),
    ], className="main")
    return html.Div([sidebar, main], className="explorer")


def _level_label(level: str) -> str:
    """Name a boundary level for the level selector, e.g. "local authorities", "ward"."""
    return "local authorities" if level == AUTHORITY else level.replace("_", " ")


def _league_title(level: str) -> str:
    """Head the league table with the level it ranks."""
    what = "Local authorities" if level == AUTHORITY else (
        f"Areas of the {_level_label(level)} level")
    return f"{what} by rate per 1,000 residents"


def _fy_options(status: dict[str, Any]) -> list[int]:
    """Financial years (April start) wholly inside the data."""
    if not status["first_date"]:
        return []
    first, last = date.fromisoformat(status["first_date"]), date.fromisoformat(
        status["last_date"])
    start = first.year if first <= date(first.year, 4, 1) else first.year + 1
    return [y for y in range(start, last.year) if date(y + 1, 3, 31) <= last]


def _event_items() -> list[Any]:
    from geo.trends import load_events

    events = load_events(services.current().data.events)
    if not events:
        return [html.Li("No events yet.", className="hint")]
    return [html.Li(f"{e.name} ({e.kind}): {e.start:%d %b %Y} – {e.end:%d %b %Y}")
            for e in events]


def _shading(first: str | None, last: str | None) -> list[dict[str, Any]]:
    """Shade each event, clipped to the data's span so a long event cannot stretch the axis."""
    from geo.trends import load_events

    svc = services.current()
    status = svc.query.status()
    first = first or status["first_date"]
    last = last or status["last_date"]
    shapes = []
    for e in load_events(svc.data.events):
        x0, x1 = e.start.isoformat(), e.end.isoformat()
        if first and last:
            if x1 < first or x0 > last:
                continue
            x0, x1 = max(x0, first), min(x1, last)
        shapes.append({"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
                       "x0": x0, "x1": x1,
                       "fillcolor": "rgba(120,120,120,0.18)", "line": {"width": 0},
                       "layer": "below"})
    return shapes


@callback(
    Output(SERIES, "figure"), Output(SOURCES_FIG, "figure"), Output(LEAGUE, "rowData"),
    Output(LEAGUE_NOTE, "children"), Output(NOTE, "children"), Output(SEARCH, "data"),
    Output(SEASONAL, "figure"), Output(PEAKED, "children"), Output(LEAGUE_TITLE, "children"),
    Input(AREA, "value"), Input(PERIOD, "value"), Input(CATS, "value"),
    Input(SOURCE, "value"), Input(EV_LIST, "children"), Input(DAYS, "value"),
    Input(H_FROM, "value"), Input(H_TO, "value"), Input(LEAGUE_BASE, "value"),
    Input(LEVEL, "value"), Input(LIVE_VERSION, "data"),
)
def update_trends(area: str | None, period: str | None, cats: list[str] | None,
                  sources: list[str] | None, _events: Any, days: list[str] | None,
                  h0: Any, h1: Any, league_base: str | None, level: str | None = None,
                  _live: Any = None) -> tuple[Any, ...]:
    """Series for the area beside the rest, sources indexed, and the league table."""
    svc = services.current()
    params: dict[str, str] = {"period": period or "fyq"}
    if level and level != AUTHORITY:
        params["level"] = level
    if area and area.startswith("zone:"):
        params["zone"] = area[5:]
    elif area:
        params["la"] = area
    if cats:
        params["categories"] = ",".join(cats)
    else:  # every category, said in the link (without it the default group would apply)
        params["group"] = "all"
    if sources:
        params["source"] = ",".join(sources)
    if days and len(days) < 7:
        params["days"] = ",".join(days)
    if h0 is not None and h1 is not None and (h0, h1) != (0, 24):
        params["hours"] = f"{h0}-{h1}"
    if league_base:
        params["league_baseline"] = league_base
    try:
        body = trends_json(svc.trends(parse_trends_params(svc.resolve_group(params)[0])))
    except ValueError as exc:  # a bad filter, or an events file that cannot be read
        message = exc.message if isinstance(exc, FilterError) else str(exc)
        return (dash.no_update,) * 4 + (f"Cannot show trends: {message}",) + (
            dash.no_update,) * 4
    traces = []
    for group in dict.fromkeys(r["group"] for r in body["rows"]):
        rows = [r for r in body["rows"] if r["group"] == group]
        traces.append({"type": "scatter", "mode": "lines+markers", "name": group,
                       "x": [r["start"] for r in rows], "y": [r["count"] for r in rows],
                       "text": [r["label"] for r in rows],
                       "hovertemplate": "%{text}: %{y:,} incidents<extra>%{fullData.name}"
                                        "</extra>"})
        if body["period"] != "month" and group == body["area"]:
            traces.append({"type": "scatter", "mode": "lines", "name": f"{group}: same "
                           "period last year", "line": {"dash": "dash", "width": 1},
                           "x": [r["start"] for r in rows],
                           "y": [r.get("same_period_last_year") for r in rows]})
        if body["period"] == "month":
            traces.append({"type": "scatter", "mode": "lines", "name": f"{group}: rolling 12 "
                           "months ÷ 12", "line": {"dash": "dot"},
                           "x": [r["start"] for r in rows],
                           "y": [None if r.get("rolling_12m") is None else
                                 r["rolling_12m"] / 12 for r in rows]})
            traces.append({"type": "scatter", "mode": "lines", "name": f"{group}: same month "
                           "last year", "line": {"dash": "dash", "width": 1},
                           "x": [r["start"] for r in rows],
                           "y": [r.get("same_period_last_year") for r in rows]})
    series = {"data": traces, "layout": {
        "title": {"text": f"Incidents by {_period_name(body['period'])}: {body['area']}"
                          + (" beside the rest of the area" if area else "")},
        "height": 360, "shapes": _shading(None, None), "hovermode": "x unified",
        "margin": {"t": 50, "l": 50, "r": 10, "b": 40}, "legend": {"orientation": "h"}}}
    src_traces = []
    for group in dict.fromkeys(r["group"] for r in body["sources"]):
        rows = [r for r in body["sources"] if r["group"] == group]
        src_traces.append({"type": "scatter", "mode": "lines", "name": group,
                           "x": [r["start"] for r in rows], "y": [r.get("index") for r in rows],
                           "customdata": [r["count"] for r in rows],
                           "hovertemplate": "index %{y:.0f} (%{customdata:,} incidents)"
                                            "<extra>%{fullData.name}</extra>"})
    sources_fig = {"data": src_traces, "layout": {
        "title": {"text": "Sources side by side, each indexed to its own baseline (= 100, "
                          f"{body.get('sources_baseline', '')})"},
        "height": 300, "shapes": _shading(None, None),
        "margin": {"t": 50, "l": 50, "r": 10, "b": 40}}}
    league = []
    for r in body["league"]:
        rate = r["rate_per_1000"]
        base_rate = r["baseline_rate_per_1000"]
        pct = r["change_pct"]
        league.append({
            "rank": r["rank"], "name": r["name"],
            "count_text": f"{r['count']:,} ({r['baseline_count']:,})",
            "rate_text": "–" if rate is None else
            f"{rate:.2f} ({'–' if base_rate is None else f'{base_rate:.2f}'})",
            "change_text": f"{r['change']:+,.0f}" + ("" if pct is None else f" ({pct:+.1f}%)"),
            "note": ("small numbers: " if r["small_number"] else "") + (r.get("note") or ""),
        })
    cur, base = body["league_current"], body["league_baseline"]
    if cur[0] and base[0]:
        outside = body.get("league_outside_level") or 0
        league_note = (f"{_nice(cur[0])} to {_nice(cur[1])} against {_nice(base[0])} to "
                       f"{_nice(base[1])}; percentages from the counts shown; fewer than 10 "
                       "incidents is too few to compare. Areas with incidents only; "
                       + (body.get("league_population_source") or "no populations") + ". "
                       + (f"{outside:,} incidents of these periods lie outside every area of "
                          f"the {_level_label(body['league_level'])} level, so in no row. "
                          if outside else "")
                       + (body.get("league_message") or ""))
    else:
        league_note = " ".join(n for n in body.get("notes", []) if "league" in n.lower())
    note = " ".join(body.get("notes", []))
    if body.get("incomplete_periods"):
        note += (" Incomplete periods at the edges of the data are left out: "
                 f"{', '.join(body['incomplete_periods'])}.")
    if body.get("unplaced"):
        note += (f" {body['unplaced']:,} month-only incidents cannot be placed in days or "
                 "weeks.")
    if body.get("synthetic_sample"):
        note += " SYNTHETIC sample data."
    seasonal: dict[str, Any] = {"data": [], "layout": {
        "title": {"text": f"Seasonal profile: {body['area']}, years overlaid"}, "height": 300,
        "xaxis": {"tickvals": list(range(1, 13)), "ticktext": [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]},
        "margin": {"t": 50, "l": 50, "r": 10, "b": 40}}}
    for year in dict.fromkeys(r["year"] for r in body["seasonal"]):
        rows = [r for r in body["seasonal"] if r["year"] == year]
        seasonal["data"].append({"type": "scatter", "mode": "lines+markers", "name": str(year),
                                 "x": [r["month"] for r in rows],
                                 "y": [r["count"] if r.get("complete", True) else None
                                       for r in rows]})
    peaked_rows = [r for r in body.get("peaked_last_summer", []) if r.get("peaked")]
    peaked = [html.H4(f"Areas that peaked in summer {body.get('peaked_summer_year', '')}"),
              html.P("Summer (June–August) strictly above each other season of the year to "
                     "August and above the area's own mean per season.", className="hint")]
    peaked.append(html.Ul([html.Li(f"{r['name']}: {r['summer']:,} in summer, "
                                   f"{r['summer_vs_mean_pct']:+.0f}% on its mean "
                                   f"({r['mean_season_count']:,.0f})") for r in peaked_rows])
                  if peaked_rows else html.P(body.get("peaked_note") or "None."))
    return (series, sources_fig, league, league_note, note.strip(), "?" + urlencode(params),
            seasonal, peaked, _league_title(body.get("league_level") or AUTHORITY))


def _period_name(period: str) -> str:
    return {"day": "day", "week": "week", "month": "month",
            "fyq": "financial-year quarter", "fy": "financial year"}.get(period, period)


def _nice(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%-d %b %Y")


@callback(
    Output(EM_TABLE, "rowData"), Output(EM_RULES, "children"), Output(EM_MAP, "figure"),
    Output(EM_NOTE, "children"), Output(EM_PERIODS, "data"),
    Input(EM_RUN, "n_clicks"), State(CATS, "value"), prevent_initial_call=True,
)
def run_emerging(_clicks: int, cats: list[str] | None) -> tuple[Any, ...]:
    """Classify cells over six-weekly (or, for month-only data, monthly) periods; map, table."""
    import h3


    svc = services.current()
    params = {"res": "8"}
    if cats:
        params["categories"] = ",".join(cats)
    try:
        body = emerging_json(svc.emerging(parse_emerging_params(params)))
    except FilterError as exc:
        return ([], dash.no_update, dash.no_update,
                html.P(f"Cannot find emerging hotspots: {exc.message}", className="warning"),
                dash.no_update)
    labels = body["period_labels"]
    rows = [{"cell": r["cell"], "category": r["category"],
             "hot": f"{r['hot_periods']} of {r['n_periods']}", "trend": r["trend"],
             "series_text": ", ".join(f"{x}*" if hot else str(x)
                                      for x, hot in zip(r["series"], r["hot"], strict=True)),
             "latest": f"{r['series'][-1]} in {labels[-1]}"} for r in body["rows"]]
    rules = [html.Li([html.B("hot spot in a period: "), body["hot_rule"]])]
    rules += [html.Li([html.B(r["category"] + ": "), r["rule"]]) for r in body["rules"]]
    unit = ("calendar months" if body["period_unit"] == "month" else
            f"periods of {body['period_days']} days")
    note = [html.P(f"{len(labels)} {unit}, {labels[0]} to {labels[-1]}; "
                   f"{len(body['rows']):,} cells with a pattern.", className="hint")]
    note += [html.P(n, className="hint") for n in body.get("notes", [])]
    colours = {"new": "#d7191c", "intensifying": "#fdae61", "persistent": "#a50026",
               "diminishing": "#74add1", "sporadic": "#f46d43", "historical": "#999999",
               "consecutive": "#fee090", "oscillating": "#abd9e9"}
    traces = []
    for cat, colour in colours.items():
        cells = [r["cell"] for r in body["rows"] if r["category"] == cat]
        if not cells:
            continue
        feats = []
        for c in cells:
            ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(c)]
            feats.append({"type": "Feature", "id": c,
                          "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
        traces.append({"type": "choroplethmap", "name": cat, "showlegend": True,
                       "geojson": {"type": "FeatureCollection", "features": feats},
                       "featureidkey": "id", "locations": cells, "z": [1] * len(cells),
                       "colorscale": [[0, colour], [1, colour]], "showscale": False,
                       "marker": {"opacity": 0.75}, "hovertemplate": cat + "<extra></extra>"})
    center, zoom = svc.map_center()
    fig = {"data": traces, "layout": {
        "map": basemap_layout(center=center, zoom=zoom, layers=[
            {"sourcetype": "geojson", "source": svc.areas_geojson(), "type": "line",
             "color": "#4a4a4a", "line": {"width": 1}}]),
        "height": 420, "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
        "legend": {"x": 0, "y": 1, "bgcolor": "rgba(255,255,255,0.8)"}}}
    return rows, rules, fig, note, labels


@callback(
    Output(EV_TABLE, "rowData"), Output(EV_TEXT, "children"), Output(EV_WEEKLY, "figure"),
    Input(EV_RUN, "n_clicks"), State(EV_TARGET, "value"), State(EV_START, "date"),
    State(EV_END, "date"), State(EV_BASELINE, "value"), State(EV_BUFFER, "value"),
    State(EV_COMPARE, "value"), State(EV_STAGGERED, "value"),
    prevent_initial_call=True,
)
def run_evaluation(_clicks: int, target: str | None, start: str | None, end: str | None,
                   baseline: str | None, buffer_m: Any, comparison: str | None,
                   staggered: str | None) -> tuple[Any, ...]:
    """Before/after counts for target, comparison and buffer, and the WDD in words."""
    svc = services.current()
    params = {"target": target or "", "start": (start or "")[:10],
              "baseline": baseline or "equal_before", "buffer_m": str(buffer_m or 250)}
    if end:
        params["end"] = end[:10]
    if comparison:
        params["comparison"] = comparison
    stagger_text = (staggered or "").strip()
    if stagger_text:
        params = {"targets": stagger_text, "baseline": params["baseline"],
                  "buffer_m": params["buffer_m"], **(
                      {"comparison": comparison} if comparison else {})}
    try:
        result = svc.evaluate(parse_evaluate_params(params))
    except FilterError as exc:
        return [], html.P(f"Cannot evaluate: {exc.message}", className="warning"), \
            dash.no_update
    body = evaluation_json(result)
    if isinstance(result, StaggeredResult):
        return _staggered_rows(body)
    names = {"target": f"Target: {body['target']}", "buffer": f"Buffer: {body['buffer']}",
             "comparison": f"Comparison: {body['comparison']}"}
    rows = []
    for key, label in names.items():
        c = body["counts"][key]
        pct = body["pct_change"].get(key)
        expected = (body.get("expected") or {}).get(key)
        prevented = (body.get("prevented") or {}).get(key)
        rows.append({"area": label, "before": c["before"], "after": c["after"],
                     "change": f"{c['after'] - c['before']:+,}" + (
                         "" if pct is None else f" ({pct:+.1f}%)"),
                     "expected": "predicts the others" if key == "comparison" else
                     "–" if expected is None else f"{expected:,.1f}",
                     "prevented": "" if key == "comparison" else
                     "–" if prevented is None else f"{prevented:+,.1f}"})
    text = [html.P([html.B("Weighted displacement difference (Wheeler & Ratcliffe 2018): "),
                    _wdd_headline(body), " ", body["interpretation"]])]
    text.append(html.P(f"Before: {_nice(body['before_window'][0])} to "
                       f"{_nice(body['before_window'][1])}; after: "
                       f"{_nice(body['after_window'][0])} to {_nice(body['after_window'][1])}.",
                       className="hint"))
    if body.get("small_numbers"):
        text.append(html.P(body["small_numbers_message"], className="warning"))
    text += [html.P(n, className="hint") for n in body.get("notes", [])]
    if body.get("synthetic_sample"):
        text.append(html.P("SYNTHETIC sample data.", className="hint"))
    return rows, text, _weekly_figure(body)


def _wdd_headline(body: dict[str, Any]) -> str:
    """Return the WDD with its sign spelled out: positive means incidents prevented."""
    wdd = body.get("wdd")
    if wdd is None:
        return "not available."
    unit = "incidents" if body.get("measure") != "harm" else "harm units"
    word = "prevented" if wdd >= 0 else "more than the comparison predicts"
    return (f"{wdd:+,.1f} ({abs(wdd):,.1f} {unit} {word}; 95% CI {body['ci_low']:+,.1f} to "
            f"{body['ci_high']:+,.1f}, p = {body['p']:.3f}).")


def _weekly_figure(body: dict[str, Any]) -> dict[str, Any]:
    monthly = body.get("series_period") == "month"
    series = body.get("monthly" if monthly else "weekly") or []
    key = "month_start" if monthly else "week_start"
    traces = []
    for area in ("target", "buffer", "comparison"):
        rows = [r for r in series if r["area"] == area]
        traces.append({"type": "scatter", "mode": "lines", "name": area,
                       "x": [r[key][:10] for r in rows],
                       "y": [r["count"] for r in rows],
                       "yaxis": "y2" if area == "comparison" else "y"})
    after = body["after_window"]
    return {"data": traces, "layout": {
        "title": {"text": f"{'Monthly' if monthly else 'Weekly'} incidents; the intervention "
                          "is shaded"}, "height": 300,
        "shapes": [{"type": "rect", "xref": "x", "yref": "paper", "y0": 0, "y1": 1,
                    "x0": after[0], "x1": after[1], "fillcolor": "rgba(39,174,96,0.15)",
                    "line": {"width": 0}, "layer": "below"}],
        "yaxis": {"title": {"text": "target and buffer"}},
        "yaxis2": {"title": {"text": "comparison"}, "overlaying": "y", "side": "right"},
        "legend": {"orientation": "h"}, "margin": {"t": 50, "l": 50, "r": 50, "b": 40}}}


def _staggered_rows(body: dict[str, Any]) -> tuple[Any, ...]:
    rows = [{"area": r["name"], "before": r.get("target_before"),
             "after": r.get("target_after"),
             "expected": "–" if r.get("expected_target") is None else
             f"{r['expected_target']:,.1f}",
             "prevented": "–" if r.get("local") is None else f"{r['local']:+,.1f}",
             "change": "WDD not available" if r.get("wdd") is None else
             f"WDD {r['wdd']:+,.1f} (95% CI {r['ci_low']:+,.1f} to {r['ci_high']:+,.1f})"}
            for r in body["rows"]]
    text = [html.P(f"{r['name']}: {r.get('interpretation') or ''}", className="hint")
            for r in body["rows"]]
    text += [html.P(n, className="warning") for n in body.get("notes", [])]
    return rows, text, dash.no_update


@callback(
    Output(EV_LIST, "children"), Input(EV_ADD, "n_clicks"), State(EV_NAME, "value"),
    State(EV_FROM, "date"), State(EV_TO, "date"), State(EV_KIND, "value"),
    prevent_initial_call=True,
)
def add_event(_clicks: int, name: str | None, start: str | None, end: str | None,
              kind: str | None) -> list[Any]:
    """Add a period to the events calendar (shaded on charts, left out of baselines)."""
    from geo.trends import Event
    from geo.trends import add_event as save

    if not name or not start or not end:
        return [*_event_items(), html.Li("Give the event a name, a start and an end.",
                                         className="warning")]
    try:
        save(services.current().data.events,
             Event(name.strip(), date.fromisoformat(start[:10]), date.fromisoformat(end[:10]),
                   kind or "other"))
    except ValueError as exc:
        return [*_event_items(), html.Li(str(exc), className="warning")]
    return _event_items()


dash.clientside_callback(
    dash.ClientsideFunction(namespace="hotspot", function_name="replaceSearch"),
    Output(SEARCH, "id"), Input(SEARCH, "data"), prevent_initial_call=True,
)


@callback(Output(EM_SERIES, "figure"), Input(EM_TABLE, "selectedRows"),
          State(EM_PERIODS, "data"), prevent_initial_call=True)
def emerging_series(rows: list[dict[str, Any]] | None,
                    labels: list[str] | None) -> dict[str, Any]:
    """Show the selected cell's counts per period, each period named by its dates."""
    row = rows[0] if rows and isinstance(rows[0], dict) else {}
    try:
        parts = str(row["series_text"]).split(", ")
        counts = [int(x.rstrip("*")) for x in parts]
    except (KeyError, ValueError):
        raise dash.exceptions.PreventUpdate from None
    hot = [x.endswith("*") for x in parts]
    names = labels if labels and len(labels) == len(counts) else [
        str(i) for i in range(1, len(counts) + 1)]
    return {"data": [{"type": "bar", "x": names, "y": counts,
                      "marker": {"color": ["#a50026" if h else "#bbbbbb" for h in hot],
                                 "pattern": {"shape": ["/" if h else "" for h in hot]}},
                      "customdata": ["hot" if h else "not hot" for h in hot],
                      "hovertemplate": "%{x}: %{y} incidents (%{customdata})<extra></extra>"}],
            "layout": {"title": {"text": f"Cell {row.get('cell')} ({row.get('category')}): "
                                         "incidents per period (hot: red, hatched)"},
                       "height": 240,
                       "xaxis": {"type": "category"},
                       "margin": {"t": 40, "l": 40, "r": 10, "b": 60}}}


@callback(Output(EV_LIST, "children", allow_duplicate=True), Input(EV_DELETE, "n_clicks"),
          State(EV_DELETE_NAME, "value"), prevent_initial_call=True)
def delete_event(_clicks: int, name: str | None) -> list[Any]:
    """Remove an event from the calendar by name."""
    from geo.trends import delete_event as remove

    try:
        remove(services.current().data.events, (name or "").strip())
    except (ValueError, KeyError) as exc:
        return [*_event_items(), html.Li(str(exc), className="warning")]
    return _event_items()
