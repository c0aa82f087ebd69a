"""Hospital and ambulance: navigator hours, hospital beside police, weapons and places.

For VRU analysts and health partners. Everything on the page comes through
:mod:`dashboard.health_data` (the same door as ``/api/v1/health-data``), so the page and the
API agree; roles that suppress small numbers see "fewer than 5" and counts with a small fixed
adjustment, and no health record is ever drawn as a point here.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard import health_data, services
from dashboard.access.gate import current
from dashboard.figures import graph_config
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params
from geo.access import Scope
from geo.health import share
from geo.query import FilterError

dash.register_page(__name__, path="/health", name="Hospital & ambulance",
                   title="Hotspot · Hospital & ambulance", order=5)

P = "health-"
(SOURCE, AREA, START, END, SHIFTS, EXTEND, PERIOD, LEVEL, STATUS, COVER_TEXT, COVER_HOURS,
 COVER_DAYS, COVER_GRID, COVER_AGE, CMP_TEXT, CMP_CHART, CMP_PERIODS, CMP_AREAS, CMP_HOURS,
 CMP_METHOD, PROFILE, ERROR, CONCERN, CMP_DAYS, CMP_HOURS_IN) = (P + s for s in (
    "source", "area", "start", "end", "shifts", "extend", "period", "level", "status",
    "cover-text", "cover-hours", "cover-days", "cover-grid", "cover-age", "cmp-text",
    "cmp-chart", "cmp-periods", "cmp-areas", "cmp-hours", "cmp-method", "profile", "error",
    "concern", "cmp-days", "cmp-hours-in"))

_SOURCE_LABELS = {"ed": "Emergency department attendances", "ambulance": "Ambulance call-outs"}
_INSIDE, _OUTSIDE, _POLICE = "#3182bd", "#f03b20", "#636363"


def layout(**query: str) -> html.Div:
    """Build the page; the parameters of a shared link fill its controls."""
    query = query_params(query)
    svc = services.current()
    status = svc.query.status()
    sources = svc.query.health_sources()
    who = current()
    mine = Scope.of(who).areas if who is not None else None
    held = set(svc.query.labels().areas)
    areas = [{"label": name, "value": code}
             for code, name in sorted(svc.boundaries.names().items(), key=lambda kv: kv[1])
             if code in held and (mine is None or code in mine)]
    levels = [{"label": " local authorities" if lv == "authority" else f" {lv}s",
               "value": lv} for lv in svc.query.level_names()]
    if who is not None and who.may_see("h3"):
        finest = who.policy.max_h3_res or 9
        levels += [{"label": f" hexagons (H3 resolution {r})", "value": f"h3-{r}"}
                   for r in (8, 9) if r <= finest]
    sidebar = html.Div([
        html.H2("Health data"),
        html.Label("Source", htmlFor=SOURCE),
        dcc.RadioItems(id=SOURCE, value=query.get("source") or (sources[0] if sources else "ed"),
                       options=[{"label": " " + _SOURCE_LABELS[s], "value": s}
                                for s in health_data.SOURCES]),
        html.Label("Local authority", htmlFor=AREA),
        dcc.Dropdown(id=AREA, options=areas, value=query.get("la") or None,
                     placeholder="All authorities you may see"),
        html.Label("From and to (YYYY-MM-DD, empty for all)", htmlFor=START),
        html.Div([dcc.Input(id=START, type="text", value=query.get("start") or "",
                            placeholder=status["first_date"] or "", debounce=True),
                  dcc.Input(id=END, type="text", value=query.get("end") or "",
                            placeholder=status["last_date"] or "", debounce=True)],
                 className="pair"),
        html.H2("Navigator hours"),
        html.Label("Service hours (days and hours; separate shifts with ;)", htmlFor=SHIFTS),
        dcc.Input(id=SHIFTS, type="text", debounce=True,
                  value=query.get("shifts") or health_data.DEFAULT_SHIFTS),
        html.Label("What if we added… (optional)", htmlFor=EXTEND),
        dcc.Input(id=EXTEND, type="text", debounce=True,
                  value=query.get("add_shifts") or "fri,sat 18-2",
                  placeholder="e.g. fri,sat 18-2"),
        html.P("Write shifts like 'mon-fri 9-17' or 'fri,sat 18-2' (18:00 to 02:00: a shift "
               "past midnight belongs to the day it starts).", className="hint"),
        html.H2("Beside police"),
        html.Label("Period", htmlFor=PERIOD),
        dcc.RadioItems(id=PERIOD, value=query.get("period") or "quarter", options=[
            {"label": " month", "value": "month"}, {"label": " quarter", "value": "quarter"},
            {"label": " year", "value": "year"},
            {"label": " financial year", "value": "fy"}]),
        html.Label("Areas", htmlFor=LEVEL),
        dcc.RadioItems(id=LEVEL, value=query.get("level") or "authority", options=levels),
        html.Label("Only these days and hours (optional)", htmlFor=CMP_DAYS),
        html.Div([dcc.Input(id=CMP_DAYS, type="text", debounce=True,
                            value=query.get("days") or "", placeholder="e.g. fri,sat"),
                  dcc.Input(id=CMP_HOURS_IN, type="text", debounce=True,
                            value=query.get("hours") or "", placeholder="e.g. 23-4")],
                 className="pair"),
    ], className="sidebar")
    main = html.Div([
        html.Div(id=ERROR, role="alert", className="error"),
        html.P(id=STATUS, className="hint"),
        html.H2("Navigator hours: who arrives when the service is closed"),
        html.Div(id=COVER_TEXT, className="sentences"),
        html.Div([dcc.Graph(id=COVER_HOURS, config=graph_config(), className="chart"),
                  dcc.Graph(id=COVER_DAYS, config=graph_config(), className="chart")],
                 className="charts"),
        dcc.Graph(id=COVER_GRID, config=graph_config(), className="chart",
                  style={"display": "none"}),
        html.Div(id=COVER_AGE),
        html.H2("Hospital beside police"),
        html.Div(id=CMP_TEXT, className="sentences"),
        dcc.Graph(id=CMP_CHART, config=graph_config(), className="chart"),
        html.Div(id=CMP_PERIODS),
        html.H3("Where the hospital sees violence the police data does not"),
        html.Div(id=CMP_AREAS),
        html.Div(id=CMP_HOURS),
        html.P(id=CMP_METHOD, className="method"),
        html.H2("Areas of concern"),
        html.Div(id=CONCERN),
        *([html.P(html.A("See ED hotspots on the Explorer map (hexagons, density, clusters, "
                         "at the precision each record allows)",
                         href=f"/?source={query.get('source') or 'ed'}&res=8"))]
          if who is not None and who.may_see("explorer") else []),
        html.H2("Weapon and place"),
        html.Div(id=PROFILE),
    ], className="main health")
    return html.Div([sidebar, main], className="explorer")


def _n(value: int | None) -> str:
    return "fewer than 5" if value is None else f"{value:,}"


def _table(header: list[str], rows: list[list[Any]], caption: str = "") -> html.Table:
    return html.Table([
        *([html.Caption(caption)] if caption else []),
        html.Thead(html.Tr([html.Th(h, scope="col") for h in header])),
        html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows]),
    ], className="data-table")


def _bars(labels: list[str], inside: list[int | None], outside: list[int | None],
          title: str) -> dict[str, Any]:
    def y(values: list[int | None]) -> list[float | None]:
        return [None if v is None else float(v) for v in values]

    return {"data": [
        {"type": "bar", "name": "inside the service hours", "x": labels, "y": y(inside),
         "marker": {"color": _INSIDE}},
        {"type": "bar", "name": "outside", "x": labels, "y": y(outside),
         "marker": {"color": _OUTSIDE}}],
        "layout": {"barmode": "stack", "title": {"text": title, "font": {"size": 14}},
                   "margin": {"l": 40, "r": 10, "t": 40, "b": 40}, "height": 280,
                   "legend": {"orientation": "h", "y": -0.2}}}


def _params(source: str | None, area: str | None, start: str | None,
            end: str | None) -> dict[str, str]:
    out = {"source": source or "ed"}
    if area:
        out["la"] = area
    if start:
        out["start"] = start.strip()
    if end:
        out["end"] = end.strip()
    return out


@callback(
    Output(STATUS, "children"), Output(COVER_TEXT, "children"), Output(COVER_HOURS, "figure"),
    Output(COVER_DAYS, "figure"), Output(COVER_GRID, "figure"), Output(COVER_GRID, "style"),
    Output(COVER_AGE, "children"), Output(CMP_TEXT, "children"), Output(CMP_CHART, "figure"),
    Output(CMP_PERIODS, "children"), Output(CMP_AREAS, "children"),
    Output(CMP_HOURS, "children"), Output(CMP_METHOD, "children"), Output(PROFILE, "children"),
    Output(ERROR, "children"), Output(CONCERN, "children"),
    Input(SOURCE, "value"), Input(AREA, "value"), Input(START, "value"), Input(END, "value"),
    Input(SHIFTS, "value"), Input(EXTEND, "value"), Input(PERIOD, "value"),
    Input(LEVEL, "value"), Input(CMP_DAYS, "value"), Input(CMP_HOURS_IN, "value"),
    Input(LIVE_VERSION, "data"), State(ERROR, "id"))
def update_health(source: str | None, area: str | None, start: str | None, end: str | None,
                  shifts: str | None, extend: str | None, period: str | None,
                  level: str | None, cmp_days: str | None = None, cmp_hours: str | None = None,
                  _live: Any = None, _error_id: Any = None) -> tuple[Any, ...]:
    """Answer the navigator and hospital-beside-police questions for the selection."""
    base = _params(source, area, start, end)
    try:
        cov = health_data.coverage({**base, "shifts": shifts or health_data.DEFAULT_SHIFTS,
                                    **({"add_shifts": extend} if (extend or "").strip()
                                       else {})})
        narrow = {k: str(v).strip() for k, v in (("days", cmp_days), ("hours", cmp_hours))
                  if isinstance(v, str) and v.strip()}
        cmp = health_data.compare({**base, "period": period or "quarter",
                                   "level": level or "authority", **narrow})
    except FilterError as exc:
        blank = {"data": [], "layout": {"height": 40}}
        return ("", [], blank, blank, blank, {"display": "none"}, "", "", blank, "", "", "",
                "", "", f"Please check '{exc.param}': {exc.message}", "")
    svc = services.current()
    src = cov["source"]
    what = "attendances" if src == "ed" else "call-outs"
    status = svc.query.health_status().get(src)
    if status:
        status_text = (
            f"{_SOURCE_LABELS[src]}: {_n(status['records'])} records you may see, placed by "
            f"their own coordinates ({_n(status['point'])}), a postcode centroid "
            f"({_n(status['postcode'])}) or an LSOA centroid ({_n(status['lsoa'])}). Records "
            "placed only by LSOA count in areas and coarse hexagons, never in density or "
            "clusters.")
    else:
        status_text = (f"No {_SOURCE_LABELS[src].lower()} are loaded. Ingest an ISTV export "
                       "with `hotspot ingest FILE` (see the README).")
    if cov["suppressed"]:
        status_text += (" Counts from 1 to 4 are shown as 'fewer than 5'; counts shown carry "
                        "a small fixed adjustment.")
    cover_text = [html.P(s) for s in cov["sentences"]]
    hours = [f"{h['hour']:02d}" for h in cov["by_hour"]]
    fig_hours = _bars(hours, [h["inside"] for h in cov["by_hour"]],
                      [h["outside"] for h in cov["by_hour"]], f"{what.capitalize()} by hour "
                      "of arrival")
    days = [d["day"][:3] for d in cov["by_weekday"]]
    fig_days = _bars(days, [d["inside"] for d in cov["by_weekday"]],
                     [d["outside"] for d in cov["by_weekday"]], "by day of the week")
    grid_style = {"display": "none"}
    fig_grid: dict[str, Any] = {"data": [], "layout": {"height": 40}}
    if cov["grid"] is not None:
        grid_style = {}
        fig_grid = {"data": [{
            "type": "heatmap", "z": cov["grid"], "x": hours,
            "y": [d["day"][:3] for d in cov["by_weekday"]], "colorscale": "YlOrRd",
            "reversescale": True, "hovertemplate": "%{y} %{x}:00: %{z}<extra></extra>"}],
            "layout": {"title": {"text": f"{what.capitalize()} by day and hour (the service "
                                 "hours outlined)", "font": {"size": 14}},
                       "height": 280, "margin": {"l": 40, "r": 10, "t": 40, "b": 40},
                       "yaxis": {"autorange": "reversed"},
                       "shapes": _service_shapes(cov["inside_hours"])}}
    age_rows = [[r["age_band"] + (" (under 25)" if r["under_25"] else ""), _n(r["inside"]),
                 _n(r["outside"]), _pct(r["outside"], r["inside"], r["outside"])]
                for r in cov["by_age"]]
    cover_age = _table(["Age band", "Inside the hours", "Outside", "Share outside"], age_rows,
                       "By age band")

    periods = cmp["periods"]
    cats = ", ".join(cmp["police_categories"]) or "none found"
    cmp_text = [html.P(cmp["different_things"], className="caveat")]
    if periods:
        ed_total, po_total = cmp["ed_total"], cmp["police_total"]
        ratio = (f": {ed_total / po_total:.2f} for every police record"
                 if ed_total is not None and po_total else "")
        cmp_text.append(html.P(
            f"From {cmp['first_month']} to {cmp['last_month']} ({cmp['months_compared']} months "
            f"both sources cover): {_n(ed_total)} {what} beside {_n(po_total)} police-recorded "
            f"crimes of {cats}{ratio}."
            if po_total != 0 else f"No police-recorded {cats} in the months both cover."))
        flagged = [a for a in cmp["areas"] if a["flagged"]]
        if flagged:
            names = ", ".join(f"{a['name']} ({_n(a['ed'])} {what} beside {_n(a['police'])} "
                              "police records)" for a in flagged[:5])
            cmp_text.append(html.P(f"The hospital sees clearly more than the police in: "
                                   f"{names}."))
        else:
            cmp_text.append(html.P("No area stands out: the hospital's share is about the "
                                   "same everywhere."))
    else:
        cmp_text.append(html.P(f"No month holds both {_SOURCE_LABELS[src].lower()} and police "
                               "records in the selection, so nothing can be compared."))
    cmp_chart = {"data": [
        {"type": "scatter", "mode": "lines+markers", "name": _SOURCE_LABELS[src],
         "x": [p["period"] for p in periods], "y": [p["ed"] for p in periods],
         "line": {"color": _OUTSIDE}},
        {"type": "scatter", "mode": "lines+markers", "name": f"Police: {cats}",
         "x": [p["period"] for p in periods], "y": [p["police"] for p in periods],
         "line": {"color": _POLICE}}],
        "layout": {"height": 300, "margin": {"l": 50, "r": 10, "t": 20, "b": 40},
                   "legend": {"orientation": "h", "y": -0.2}, "yaxis": {"rangemode": "tozero"},
                   "xaxis": {"type": "category"}}}
    period_rows = [[p["period"], _n(p["ed"]), _n(p["police"]),
                    "–" if p["ratio"] is None else f"{p['ratio']:.2f}",
                    _change(p["ed_change"]), _change(p["police_change"]), p["note"]]
                   for p in periods]
    cmp_periods = _table(["Period", _SOURCE_LABELS[src], f"Police ({cats})",
                          "Hospital per police record", "Hospital change", "Police change",
                          "Note"], period_rows)
    area_rows = [[a["name"], _n(a["ed"]), _n(a["police"]),
                  "–" if a["index"] is None else f"{a['index']:.2f}×",
                  "yes" if a["flagged"] else ""] for a in cmp["areas"][:25]]
    cmp_areas = _table(["Area", _SOURCE_LABELS[src], "Police", "Hospital share against the "
                        "average", "Stands out"], area_rows, "By area (the 25 highest)")
    if cmp["hours"]:
        hour_rows = [[h["name"], _n(h["ed"]), _n(h["police"]),
                      "–" if h["index"] is None else f"{h['index']:.2f}×",
                      "yes" if h["flagged"] else ""] for h in cmp["hours"][:8]]
        cmp_hours: Any = _table(["Hour", _SOURCE_LABELS[src], "Police", "Hospital share "
                                 "against the average", "Stands out"], hour_rows,
                                "By hour of the day (the 8 highest)")
    else:
        cmp_hours = html.P(cmp["hours_note"] or "", className="hint")
    profile = _profile(src, base)
    return (status_text, cover_text, fig_hours, fig_days, fig_grid, grid_style, cover_age,
            cmp_text, cmp_chart, cmp_periods, cmp_areas, cmp_hours, cmp["method"], profile, "",
            _concern(cmp, what))


def _concern(cmp: dict[str, Any], what: str) -> Any:
    """Show the areas with clearly more records than their population would give."""
    level = cmp["level"]
    one = ("local authority" if level == "authority" else
           "hexagon" if level.startswith("h3-") else level)
    where = "local authorities" if level == "authority" else f"{one}s"
    if level.startswith("h3-"):
        return html.P("Areas of concern are judged against resident population, which "
                      "hexagons do not have: choose local authorities or another boundary "
                      "level.", className="hint")
    flagged = [c for c in cmp["concern"] if c["flagged"]]
    if flagged:
        head = html.P(f"{len(flagged)} {where} of concern: " + ", ".join(
            f"{c['name']} ({_n(c['count'])} {what})" for c in flagged[:8]) + ".")
    else:
        head = html.P(f"No {one} stands out against its resident population.")
    rows = [[c["name"], _n(c["count"]),
             "–" if c["rate_per_1000"] is None else f"{c['rate_per_1000']:.2f}",
             "–" if c["ratio"] is None else f"{c['ratio']:.2f}×",
             "yes" if c["flagged"] else ""] for c in cmp["concern"][:25]]
    return [head, _table([one.capitalize(), what.capitalize(), "Per 1,000 residents",
                          "Against the population share", "Of concern"], rows,
                         f"By {one} (the 25 highest)"),
            html.P(cmp["concern_method"], className="method")]


def _profile(source: str, base: dict[str, str]) -> Any:
    from dashboard.params import parse_filters

    svc = services.current()
    filters = parse_filters({k: v for k, v in base.items() if k != "source"})
    p = svc.query.health_profile(filters, source)
    if p["weapon_recorded"] is None:  # 1 to 4, hidden from this role
        return html.P("Fewer than 5 records of the selection name a weapon or mechanism: too "
                      "few to show.", className="hint")
    if not p["weapon_recorded"]:
        return html.P("No weapon or mechanism is recorded for the selection.", className="hint")
    sentence = html.P(
        f"A knife or sharp object was recorded for {share(p['knife'], p['weapon_recorded'])} "
        f"of the records with a weapon or mechanism ({_n(p['knife'])} of "
        f"{_n(p['weapon_recorded'])}).") if p["knife"] is not None else html.P(
        "Fewer than 5 records name a knife or sharp object.")
    rows = [[w, *[_n(v) for v in row]] for w, row in zip(p["weapons"], p["counts"],
                                                         strict=True)]
    return [sentence, _table(["Weapon or mechanism", *p["places"]], rows,
                             "Weapon or mechanism by type of place")]


def _pct(part: int | None, a: int | None, b: int | None) -> str:
    if part is None or a is None or b is None:
        return "–"
    return share(part, a + b)


def _change(value: float | None) -> str:
    return "" if value is None else f"{value:+.0%}"


def _service_shapes(inside: list[list[int]]) -> list[dict[str, Any]]:
    """Outline each service-hours cell of the day-by-hour grid."""
    return [{"type": "rect", "xref": "x", "yref": "y", "x0": h - 0.5, "x1": h + 0.5,
             "y0": d - 0.5, "y1": d + 0.5, "line": {"color": _INSIDE, "width": 1.5}}
            for d, row in enumerate(inside) for h, v in enumerate(row) if v]

