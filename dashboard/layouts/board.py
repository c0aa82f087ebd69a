"""The partnership board view: each source's latest complete period against its baseline.

For boards (police, councils, NHS, youth services): headline figures in plain English, with
the counts every change is worked from, arrows and words rather than colour alone, whether
the sources agree, how current each source is, and the caveats. The words come from
:mod:`dashboard.board`, which the API (``/api/v1/board``) shares, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import services
from dashboard.basemap import basemap_layout
from dashboard.board import PERIODS, board_from_params
from dashboard.components import frame_areas
from dashboard.figures import graph_config
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params
from geo.query import BOARD_MIN_SHARE, FilterError

dash.register_page(__name__, path="/board", name="Board", title="Hotspot · Board", order=5)

P = "board-"
PERIOD, BASELINE, AREA, CARDS, AGREE, CURRENCY, CAVEATS, KIOSK_TICK, DOWNLOAD, TARGETS = (
    P + s for s in ("period", "baseline", "area", "cards", "agree", "currency", "caveats",
                    "kiosk-tick", "download", "targets"))
DOWNLOAD_PDF = P + "download-pdf"
LEVEL, GROUP = P + "level", P + "group"
CHANGES, AREA_SOURCE, AREA_MAP, AREA_TABLE, AREA_NOTE, TRENDS, NEED = (
    P + s for s in ("changes", "area-source", "area-map", "area-table", "area-note", "trends",
                    "need"))
#: How each status is shown: a word and a symbol, never colour alone.
STATUS_MARKS = {"green": "● GREEN", "amber": "◐ AMBER", "red": "○ RED", "none": "– NO STATUS"}
#: Seconds each area stays on a kiosk screen before the next.
KIOSK_SECONDS = 30
BASELINE_OPTIONS = [{"label": " the same period last year", "value": "last_year"},
                    {"label": " the equal period before", "value": "previous"},
                    {"label": " a baseline financial year", "value": "baseline_year"}]
#: Shortest and longest time a kiosk may stay on one area (``?kiosk=1&every=SECONDS``).
KIOSK_RANGE = (5, 600)
BASELINE_YEAR = P + "baseline-year"


def layout(**query: str) -> html.Div:
    """Build the page: the period and baseline, then the figures (drawn by the callback)."""
    query = query_params(query)
    svc = services.current()
    names = svc.boundaries.names()
    # the areas that hold data (national boundaries hold hundreds that do not), in name order
    held, years = svc.query.board_choices()
    mine = sorted(held, key=lambda c: names.get(c, c))
    kiosk = str(query.get("kiosk", "")) in {"1", "true", "yes"}
    try:
        every = int(str(query.get("every", KIOSK_SECONDS)))
    except ValueError:
        every = KIOSK_SECONDS
    every = min(max(every, KIOSK_RANGE[0]), KIOSK_RANGE[1])
    baseline = query.get("baseline") if query.get("baseline") in {
        o["value"] for o in BASELINE_OPTIONS} else "last_year"
    year = str(query.get("baseline_year", ""))
    area = query.get("la") if query.get("la") in mine else None
    levels = svc.level_names()
    level = query.get("level") if query.get("level") in levels else "authority"
    # crime types by named group (the board's figures are for a group, never a free list)
    groups = svc.groups()
    default = groups.default_for(svc.query.labels().categories)
    names_of_groups = [*groups.groups, "all"]
    group = query.get("group") if query.get("group") in names_of_groups else default
    sidebar = html.Div([
        html.H2("Board"),
        html.Label("Period", htmlFor=PERIOD),
        dcc.RadioItems(id=PERIOD, value=query.get("period") if query.get("period") in PERIODS
                       else "fyq",
                       options=[{"label": f" {v}", "value": k} for k, v in PERIODS.items()]),
        html.Label("Compared with", htmlFor=BASELINE),
        dcc.RadioItems(id=BASELINE, value=baseline, options=BASELINE_OPTIONS),
        dcc.Dropdown(id=BASELINE_YEAR, clearable=False, searchable=False,
                     options=[{"label": f"{y}/{(y + 1) % 100:02d}", "value": y} for y in years],
                     value=int(year) if year.isdigit() and int(year) in years
                     else (years[0] if years else None),
                     placeholder="No whole financial year yet"),
        html.Label("Crime types", htmlFor=GROUP),
        dcc.Dropdown(id=GROUP, clearable=False, value=group,
                     options=[{"label": ("every crime type" if n == "all" else n)
                               + (" (the default)" if n == default else ""), "value": n}
                              for n in names_of_groups]),
        html.Label("Area", htmlFor=AREA),
        dcc.Dropdown(id=AREA, options=[{"label": names[c], "value": c} for c in mine],
                     placeholder="The whole area", value=area),
        html.P(html.A("Every figure as CSV", id=DOWNLOAD, href="/board.csv"),
               className="downloads"),
        html.P(html.A("Board pack (PDF)", id=DOWNLOAD_PDF, href="/board.pdf"),
               className="downloads"),
        html.P(html.A("Full-screen kiosk (cycles through the areas)", href="/board?kiosk=1"),
               className="hint"),
        # a kiosk moves on to the next area every KIOSK_SECONDS; off otherwise
        dcc.Interval(id=KIOSK_TICK, interval=every * 1000, disabled=not kiosk),
    ], className="sidebar")
    main = html.Div([
        html.Div(id=CARDS, className="board-cards"),
        html.H3("Targets"),
        html.Ul(id=TARGETS),
        html.H3("What changed"),
        html.Ul(id=CHANGES),
        html.H3("Do the sources agree?"),
        html.Ul(id=AGREE),
        html.H3("Areas by rate"),
        dcc.RadioItems(id=AREA_SOURCE, value="police", inline=True, options=[]),
        # authorities, or wards (or another imported level): offered only when there are two
        dcc.RadioItems(id=LEVEL, inline=True, value=level,
                       options=[{"label": f" by {n}", "value": n} for n in levels],
                       style={} if len(levels) > 1 else {"display": "none"}),
        html.P(id=AREA_NOTE, className="hint"),
        html.Div([
            dcc.Graph(id=AREA_MAP, config=graph_config(), className="board-map",
                      figure={"data": [], "layout": {"map": basemap_layout()}}),
            html.Div(id=AREA_TABLE, className="board-table"),
        ], className="board-areas"),
        html.H3("Need and activity"),
        html.P("Where the need is (the rate, and how many of the busiest places lie in each "
               "area: the 20 places of about 0.7 km² with the most police-recorded incidents "
               "in the year to the latest period, each with at least 5 where small numbers "
               "are suppressed) beside the zones and the funded activity recorded there.",
               className="hint"),
        html.Div(id=NEED, className="board-table"),
        html.H3("Trend by month"),
        html.Div(id=TRENDS, className="board-trends"),
        html.H3("How current each source is"),
        html.Ul(id=CURRENCY),
        html.H3("Read with care"),
        html.Ul(id=CAVEATS, className="hint"),
    ], className="main")
    return html.Div([sidebar, main], className="explorer kiosk" if kiosk else "explorer")


def _params(period: Any, baseline: Any, baseline_year: Any, area: Any, level: Any,
            group: Any) -> dict[str, str]:
    """Return the page's settings as the query parameters the API takes (text, checked there).

    A baseline year is needed, and must be a year, when the baseline is a financial year.
    """
    params = {"period": period if isinstance(period, str) and period else "fyq",
              "baseline": baseline if isinstance(baseline, str) and baseline else "last_year"}
    if params["baseline"] == "baseline_year":
        if not isinstance(baseline_year, int) or isinstance(baseline_year, bool):
            raise FilterError("baseline_year", "there is no whole financial year in the data "
                              "to use as a baseline yet; choose another baseline")
        params["baseline_year"] = str(baseline_year)  # its range is checked by the parser
    if isinstance(area, str) and area:
        params["la"] = area
    if isinstance(level, str) and level and level != "authority":
        params["level"] = level
    if isinstance(group, str) and group:
        params["group"] = group
    return params


@callback(Output(DOWNLOAD, "href"), Output(DOWNLOAD_PDF, "href"), Input(PERIOD, "value"),
          Input(BASELINE, "value"), Input(BASELINE_YEAR, "value"), Input(AREA, "value"),
          Input(LEVEL, "value"), Input(GROUP, "value"))
def download_links(period: str | None, baseline: str | None, baseline_year: Any,
                   area: str | None, level: str | None = None,
                   group: str | None = None) -> tuple[str, str]:
    """Point the CSV and the board pack at the figures the page shows."""
    from urllib.parse import urlencode

    try:
        query = "?" + urlencode(_params(period, baseline, baseline_year, area, level, group))
    except FilterError:
        query = ""
    return "/board.csv" + query, "/board.pdf" + query


@callback(Output(BASELINE_YEAR, "style"), Input(BASELINE, "value"))
def show_baseline_year(baseline: str | None) -> dict[str, str]:
    """Show the year picker only when a baseline year is chosen."""
    return {} if baseline == "baseline_year" else {"display": "none"}


def _arrow(h: dict[str, Any]) -> str:
    if h["change"] is None:
        return "no comparison"
    if h["change"] > 0:
        return "▲ up"
    if h["change"] < 0:
        return "▼ down"
    return "▶ no change"


def _card(h: dict[str, Any]) -> html.Div:
    shown = f"{h['count']:,}" if h["count"] is not None else h.get("count_shown_as", "")
    change = ""
    if h["change"] is not None:
        pct = f" ({h['change_pct']:+.1f}%)".replace("-", "−") if h["change_pct"] is not None \
            else ""
        change = f"{_arrow(h)} {abs(h['change']):,}{pct}"
    else:
        change = _arrow(h)
    rate = (f"{h['rate_per_1000']:,.2f} per 1,000 residents"
            if h.get("rate_per_1000") is not None else "")
    return html.Div([
        html.Div(h["label"], className="board-source"),
        html.Div(h["period_label"], className="hint"),
        html.Div(shown, className="board-count"),
        html.Div(change, className="board-change"),
        html.Div(rate, className="hint"),
        html.P(h["sentence"], className="board-sentence"),
    ], className="panel board-card", id=f"board-card-{h['source']}")


@callback(Output(AREA, "value"), Input(KIOSK_TICK, "n_intervals"), Input(AREA, "options"),
          dash.State(AREA, "value"), prevent_initial_call=True)
def next_area(_ticks: int | None, options: list[dict[str, str]] | None,
              area: str | None) -> str | None:
    """On a kiosk, show the next area (after the last, the whole area again)."""
    if dash.ctx.triggered_id != KIOSK_TICK:
        return dash.no_update
    codes = [o["value"] for o in options or [] if isinstance(o, dict) and "value" in o]
    if not codes:
        return None
    if area not in codes:
        return codes[0]
    i = codes.index(area) + 1
    return codes[i] if i < len(codes) else None


@callback(Output(CARDS, "children"), Output(AGREE, "children"), Output(CURRENCY, "children"),
          Output(CAVEATS, "children"), Output(TARGETS, "children"), Output(CHANGES, "children"),
          Output(AREA_MAP, "figure"), Output(AREA_TABLE, "children"),
          Output(AREA_NOTE, "children"), Output(NEED, "children"), Output(TRENDS, "children"),
          Output(AREA_SOURCE, "options"),
          Input(PERIOD, "value"), Input(BASELINE, "value"), Input(AREA, "value"),
          Input(AREA_SOURCE, "value"), Input(BASELINE_YEAR, "value"), Input(LEVEL, "value"),
          Input(GROUP, "value"), Input(LIVE_VERSION, "data"))
def update_board(period: str | None, baseline: str | None, area: str | None,
                 area_source: str | None = None, baseline_year: int | None = None,
                 level: str | None = None, group: str | None = None,
                 _live: Any = None) -> tuple[Any, ...]:
    """Draw every section of the board from one :func:`dashboard.board.board` body.

    The figures are those of :func:`dashboard.board.board_from_params` for the page's
    settings: the same answer as the API, the CSV and the pack the page links to.
    """
    params = _params(period, baseline, baseline_year, area, level, group)
    body = board_from_params(params)
    place = body["area"][:1].upper() + body["area"][1:]
    cards: list[Any] = []
    if body["synthetic_sample"]:  # said here too: a kiosk shows no header
        cards.append(html.Div("SYNTHETIC SAMPLE DATA — not real incidents",
                              className="sample-badge board-synthetic"))
    cards.append(html.H2(f"{place}: latest complete {PERIODS[body['period']]}",
                         className="board-area"))
    cards += [_card(h) for h in body["headlines"]] or [html.P("No data yet.")]
    agree = [html.Li(s) for s in body["agreement"]]
    current = [html.Li(("LATE: " if c["late"] else "") + c["sentence"],
                       className="late" if c["late"] else "") for c in body["currency"]]
    caveats = [html.Li(c) for c in body["caveats"]]
    targets = [html.Li([html.Strong(STATUS_MARKS[t["status"]], className=f"status-{t['status']}"),
                        " ", t["sentence"], html.Span(f" ({t['rule']})", className="hint")])
               for t in body["targets"]] or [html.Li("No targets are set (an administrator "
                                                     "sets them in board/targets.toml).",
                                                     className="hint")]
    changes = [html.Li(c) for c in body["changes"]] or [html.Li("Nothing to compare yet.")]
    table = next((t for t in body["areas"] if t["source"] == area_source),
                 body["areas"][0] if body["areas"] else None)
    figure, area_table, area_note = _areas(table)
    sources = [{"label": f" {t['label']}", "value": t["source"]} for t in body["areas"]]
    return (cards, agree, current, caveats, targets, changes, figure, area_table, area_note,
            _need(body["activity"]), [_trend(t) for t in body["trend"]], sources)


def _shown(row: dict[str, Any], key: str) -> str:
    if row.get(key) is None:
        return str(row.get(f"{key}_shown_as", "–"))
    return f"{row[key]:,}"


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.2f}"


def _areas(table: dict[str, Any] | None) -> tuple[dict[str, Any], Any, str]:
    """Return the map and table of areas by rate for one source (suppressed counts in words)."""
    empty = {"data": [], "layout": {"map": basemap_layout()}}
    if table is None:
        return empty, html.P("No data yet."), ""
    svc = services.current()
    rows = table["rows"]
    base = table["baseline_label"]
    level = table.get("level", "authority")
    head = ["Area", f"{table['period_label']}", "per 1,000"]
    if base:
        head += [base, "per 1,000", "change in rate"]
    body = []
    for r in rows:
        cells = [r["name"], _shown(r, "count"), _rate(r["rate_per_1000"])]
        if base:
            change = ("–" if r["rate_per_1000"] is None or r["baseline_rate_per_1000"] is None
                      else _signed(r["rate_per_1000"] - r["baseline_rate_per_1000"]))
            cells += [_shown(r, "baseline_count"), _rate(r["baseline_rate_per_1000"]), change]
        body.append(html.Tr([html.Td(c) for c in cells],
                            className="small-number" if r["small_number"] else ""))
    grid = html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                      className="data-table")
    codes = [r["code"] for r in rows]
    geojson = svc.areas_geojson(level)
    wanted = set(codes)
    features = [f for f in geojson["features"] if f["properties"]["code"] in wanted]
    text = [f"{r['name']}: {_shown(r, 'count')} ({_rate(r['rate_per_1000'])} per 1,000)"
            for r in rows]
    center, zoom = frame_areas(svc.query.level_boundaries(level).areas, codes) or \
        svc.map_center()
    zoom -= 0.4  # the map is about square: leave room above and below
    figure = {"data": [{
        "type": "choroplethmap", "geojson": {"type": "FeatureCollection", "features": features},
        "featureidkey": "properties.code", "locations": codes,
        "z": [r["rate_per_1000"] for r in rows], "text": text,
        "hovertemplate": "%{text}<extra></extra>", "colorscale": "YlOrRd",
        "reversescale": True,  # plotly's YlOrRd runs dark to light; higher rates are darker
        "marker": {"opacity": 0.7, "line": {"width": 1, "color": "#444"}},
        "colorbar": {"title": {"text": "per 1,000"}}}],
        "layout": {"map": basemap_layout(center=center, zoom=zoom),
                   "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "height": 420}}
    note = (f"{table['label']} by {level}, {table['period_label']}"
            + (f" against {base}" if base else " (no comparison: " + "the baseline is not "
               "complete)") + ", by rate per 1,000 residents, highest first. Areas with a "
            "count too small to show have no rate and are left blank on the map. Rows in "
            "italics have fewer than 10 incidents: read them with care. Areas holding under "
            f"{BOARD_MIN_SHARE:.1%} of the incidents (a few placed outside the force area) "
            "are not listed.")
    if table.get("public_places_only"):
        note += (f" By {level}, incidents in public places only: domestic incidents are "
                 "counted only by whole authority, so these do not add up to the headline.")
    return figure, grid, note


def _signed(value: float) -> str:
    return f"{value:+.2f}".replace("-", "−")


def _need(rows: list[dict[str, Any]]) -> Any:
    if not rows:
        return html.P("No data yet.")
    head = ["Area", "Rate per 1,000", "Busiest places", "Zones", "Funded activity", "In words"]
    body = []
    for r in rows:
        funded = "; ".join(f["name"] + (f" (£{f['funding_gbp']:,.0f})" if f["funding_gbp"]
                                        else "") for f in r["funded"]) or "none recorded"
        body.append(html.Tr([html.Td(x) for x in (
            r["name"], _rate(r["rate_per_1000"]), str(r["hotspot_cells"]), str(r["zones"]),
            funded, r["words"])]))
    return html.Table([html.Thead(html.Tr([html.Th(h) for h in head])), html.Tbody(body)],
                      className="data-table")


def _trend(t: dict[str, Any]) -> Any:
    """One source's monthly counts: gaps where a month is suppressed or has no data."""
    months = [m["month"] for m in t["months"]]
    counts = [m["count"] for m in t["months"]]
    gaps = [f"{m['month']}: {m['shown_as']}" for m in t["months"] if m["count"] is None]
    figure = {"data": [{"type": "scatter", "mode": "lines+markers",
                        "x": [f"{m}-01" for m in months], "y": counts,
                        "name": t["label"], "connectgaps": False,
                        "hovertemplate": "%{x|%B %Y}: %{y:,}<extra></extra>"}],
              "layout": {"title": {"text": t["label"], "font": {"size": 14}},
                         "height": 220, "margin": {"l": 50, "r": 10, "t": 30, "b": 40},
                         "yaxis": {"title": {"text": "incidents"}, "rangemode": "tozero"},
                         "xaxis": {"type": "date", "tickformat": "%b %Y"}}}
    return html.Div([dcc.Graph(figure=figure, config=graph_config()),
                     html.P("Gaps: " + "; ".join(gaps) + ".", className="hint")
                     if gaps else None], className="board-trend")
