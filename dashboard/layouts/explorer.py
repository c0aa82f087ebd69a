"""Explorer: where, and at what times, violence concentrates.

The map's hexagons and areas are painted by the page's script from values alone (see
:mod:`dashboard.figures`): a filter change sends numbers, never outlines, and does not touch
the Plotly figure. The outlines are fetched again only when the resolution changes or new data
arrive. The page state lives in the URL so a view can be shared as a link.
"""

from __future__ import annotations

import contextlib
from datetime import date
from typing import Any
from urllib.parse import urlencode

import dash
import dash_ag_grid as dag
import numpy as np
from dash import ClientsideFunction, Input, Output, Patch, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import figures, ids, services
from dashboard.basemap import map_style
from dashboard.figures import graph_config
from dashboard.inputs import clicked_cell, number, query_params, selected_point
from dashboard.params import parse_filters
from dashboard.services import DbscanParams, KdeParams
from geo.groups import CUSTOM  # the group value for categories chosen one by one
from geo.h3index import cell_area_km2
from geo.query import DAY_NAMES, FilterError, Filters
from geo.settings import H3_DEFAULT_RESOLUTION, H3_RESOLUTIONS

dash.register_page(__name__, path="/", name="Explorer", title="Hotspot · Explorer", order=0)

PRESETS = {
    "all": ("All times", None, (0, 24)),
    "nte": ("Friday and Saturday nights 20:00–04:00", ["fri", "sat"], (20, 4)),
    "school": ("After school (weekdays 15:00–19:00)", ["mon", "tue", "wed", "thu", "fri"],
               (15, 19)),
}
LAYER_OPTIONS = [
    {"label": "H3 hexagons", "value": "cells"},
    {"label": "Local authorities", "value": "areas"},
    {"label": "Kernel density", "value": "kde"},
    {"label": "DBSCAN clusters", "value": "clusters"},
]
#: The view a role needs for each layer that is not plain counts.
LAYER_VIEWS = {"kde": "density", "clusters": "clusters"}
DAY_OPTIONS = [{"label": n.title(), "value": n} for n in DAY_NAMES]


def _may_layer(layer: str) -> bool:
    """Say whether the signed-in role may see ``layer`` (or rank by it, for clusters)."""
    from dashboard.access.gate import principal_or_none

    who = principal_or_none()
    view = LAYER_VIEWS.get(layer)
    return view is None or who is None or who.may_see(view)


def _my_area(code: str) -> bool:
    """Say whether the signed-in user may choose the area ``code`` (their own, if limited)."""
    from dashboard.access.gate import principal_or_none

    who = principal_or_none()
    return who is None or who.areas is None or code in who.areas


def _public_only_role() -> bool:
    from dashboard.access.gate import principal_or_none

    who = principal_or_none()
    return bool(who is not None and who.policy.public_only)


def _layer_options() -> list[dict[str, str]]:
    return [o for o in LAYER_OPTIONS if _may_layer(o["value"])]
VIEW_PARAMS = ("layers", "res", "measure", "bw", "eps", "minpts", "unit")
#: The crime-type group control and the sentence saying which group is in use.
GROUP = "explorer-group"
GROUP_NOTE = "explorer-group-note"


# --------------------------------------------------------------------------------------------
# State <-> URL
# --------------------------------------------------------------------------------------------
def _filters_from_controls(
    start: str | None, end: str | None, days: list[str] | None, hour_from: int | None,
    hour_to: int | None, categories: list[str] | None, sources: list[str] | None,
    areas: list[str] | None, public_only: list[str] | None,
) -> Filters:
    params: dict[str, str] = {}
    if start:
        params["start"] = start
    if end:
        params["end"] = end
    if days is not None and 0 < len(days) < 7:
        params["days"] = ",".join(days)
    if days is not None and len(days) == 0:
        params["days"] = ""  # nothing ticked: handled below as "no day selected"
    if hour_from is not None and hour_to is not None and (hour_from, hour_to) != (0, 24):
        params["hours"] = f"{hour_from}-{hour_to}"
    if categories:
        params["categories"] = ",".join(categories)
    if sources:
        params["source"] = ",".join(sources)
    if areas:
        params["la"] = ",".join(areas)
    if public_only:
        params["public_only"] = "1"
    filters = parse_filters({k: v for k, v in params.items() if v != ""})
    if days is not None and len(days) == 0:
        filters = Filters(**{**filters.__dict__, "days": frozenset()})
    return filters


def _url_search(filters: Filters, view: dict[str, Any]) -> str:
    params = filters.to_params()
    group = view.get("group")
    if group and group != CUSTOM:
        # a named group stays a name in the link, so it follows the group's definition
        params.pop("categories", None)
        params["group"] = str(group)
    for key in VIEW_PARAMS:
        value = view.get(key)
        if key == "group":
            continue
        if value not in (None, "", []):
            params[key] = ",".join(value) if isinstance(value, list) else str(value)
    return "?" + urlencode(params) if params else ""


def _resolution(res: Any) -> int:
    """Return the hexagon resolution the control holds (the default when it holds none)."""
    if res is None:
        return H3_DEFAULT_RESOLUTION
    if isinstance(res, bool) or res not in H3_RESOLUTIONS:
        raise FilterError("res", f"{str(res)[:20]} is not offered; choose one of "
                          f"{', '.join(map(str, H3_RESOLUTIONS))}")
    return int(res)


#: The controls' own bounds, enforced on the server too: a link or a hand-made request can send
#: anything, and an unbounded bandwidth costs minutes of the heavy lane.
BANDWIDTH_M = (100.0, 5000.0)
EPS_M = (10.0, 2000.0)
MIN_SAMPLES = (2.0, 1000.0)


def _bounded(value: Any, name: str, bounds: tuple[float, float],
             default: float | None) -> float | None:
    """Return a control's number within its bounds (``default`` when blank), or refuse it."""
    if value is None or value == "":
        return default
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise FilterError(name, f"'{str(value)[:20]}' is not a number") from None
    if not (np.isfinite(v) and bounds[0] <= v <= bounds[1]):
        raise FilterError(name, f"use a value from {bounds[0]:,g} to {bounds[1]:,g}")
    return v


def _kde_params(bandwidth: Any) -> KdeParams:
    return KdeParams(bandwidth_m=_bounded(bandwidth, "bw", BANDWIDTH_M, None))


def _db_params(eps: Any, minpts: Any) -> DbscanParams:
    eps_m = _bounded(eps, "eps", EPS_M, DbscanParams.eps_m) or DbscanParams.eps_m
    n = _bounded(minpts, "minpts", MIN_SAMPLES, DbscanParams.min_samples)
    return DbscanParams(eps_m=eps_m, min_samples=int(n or DbscanParams.min_samples))


# --------------------------------------------------------------------------------------------
# Layout
# --------------------------------------------------------------------------------------------
def layout(**query: str) -> html.Div:
    """Build the page from the URL's query parameters (a shared link restores the view)."""
    query = query_params(query)  # a repeated link parameter arrives as a list
    svc = services.current()
    status = svc.query.status()
    filter_query = {k: v for k, v in query.items() if k not in VIEW_PARAMS}
    url_problem = None
    try:
        resolved, choice = svc.resolve_group(filter_query)
        filters = parse_filters(resolved)
        svc.query.validate(filters)
    except FilterError as exc:
        url_problem = f"The link had a filter this page could not use ({exc}); it was ignored."
        resolved, choice = svc.resolve_group({})
        filters = parse_filters(resolved)
    layers = [v for v in query.get("layers", "cells,areas").split(",")
              if v in {o["value"] for o in _layer_options()}]
    res = H3_DEFAULT_RESOLUTION
    with contextlib.suppress(ValueError):
        if int(query.get("res", "")) in H3_RESOLUTIONS:
            res = int(query["res"])
    measure = query.get("measure") if query.get("measure") in {"count", "rate"} else "count"
    try:
        kde_params = _kde_params(query.get("bw"))
        db_params = _db_params(query.get("eps"), query.get("minpts"))
    except FilterError as exc:
        url_problem = (url_problem or "") + (f" The link had a map setting this page could not "
                                             f"use ({exc}); the default was used.")
        kde_params, db_params = KdeParams(), DbscanParams()
    bandwidth = kde_params.bandwidth_m
    eps, minpts = db_params.eps_m, db_params.min_samples
    all_month_only = status["incidents"] > 0 and status["month_only_incidents"] == status[
        "incidents"]
    hours = filters.hours or (0, 24)
    view = {"layers": layers, "res": res, "measure": measure}
    unit = "clusters" if query.get("unit") == "clusters" and _may_layer("clusters") else "cells"
    fig, key = _full_figure(filters, view, kde_params, db_params)
    values = _map_values(filters, view, key)
    first = status["first_date"]
    last = status["last_date"]

    controls = html.Div(
        [
            html.H2("Filters"),
            html.Label("Presets", htmlFor=ids.PRESET),
            dcc.RadioItems(
                id=ids.PRESET,
                options=[{"label": label, "value": key} for key, (label, _, _) in
                         PRESETS.items()],
                value=None,
                className="presets",
                inputClassName="preset-input",
            ),
            html.Label("Dates (inclusive)", htmlFor=ids.DATES),
            dcc.DatePickerRange(
                id=ids.DATES,
                start_date=filters.start.isoformat() if filters.start else None,
                end_date=filters.end.isoformat() if filters.end else None,
                min_date_allowed=first,
                max_date_allowed=last,
                initial_visible_month=last,
                display_format="D MMM YYYY",
                clearable=True,
                start_date_placeholder_text=_nice_date(first),
                end_date_placeholder_text=_nice_date(last),
            ),
            html.Label("Days of week", htmlFor=ids.DAYS),
            dcc.Checklist(
                id=ids.DAYS,
                options=DAY_OPTIONS,
                value=[DAY_NAMES[d] for d in sorted(filters.days)] if filters.days is not None
                else list(DAY_NAMES),
                inline=True,
                className="days",
                inputStyle={} if not all_month_only else {"pointerEvents": "none"},
            ) if not all_month_only else dcc.Checklist(
                id=ids.DAYS, options=[{**o, "disabled": True} for o in DAY_OPTIONS],
                value=list(DAY_NAMES), inline=True, className="days"),
            html.Label("Hours (may wrap midnight)", htmlFor=ids.HOUR_FROM),
            html.Div(
                [
                    dcc.Dropdown(id=ids.HOUR_FROM, options=[
                        {"label": f"{h:02d}:00", "value": h} for h in range(24)],
                        value=hours[0], clearable=False, disabled=all_month_only),
                    html.Span("to"),
                    dcc.Dropdown(id=ids.HOUR_TO, options=[
                        {"label": f"{h:02d}:00", "value": h} for h in range(1, 25)],
                        value=hours[1] if hours[1] else 24, clearable=False,
                        disabled=all_month_only),
                ],
                className="hour-band",
            ),
            html.Div(id=ids.TIME_NOTE, className="note", children=_time_note(status)),
            html.Label("Crime-type group", htmlFor=GROUP),
            dcc.Dropdown(id=GROUP, options=_group_options(), clearable=False,
                         value=choice.name or CUSTOM),
            html.Div(id=GROUP_NOTE, className="note", children=choice.describe()),
            html.Label("Categories", htmlFor=ids.CATEGORIES),
            dcc.Dropdown(id=ids.CATEGORIES, options=status["categories"], multi=True,
                         value=list(filters.categories or []), placeholder="All categories"),
            html.Label("Source", htmlFor=ids.SOURCES),
            dcc.Dropdown(id=ids.SOURCES, options=status["sources"], multi=True,
                         value=list(filters.sources or []), placeholder="All sources"),
            html.Label("Local authority", htmlFor=ids.AREAS),
            dcc.Dropdown(
                id=ids.AREAS,
                options=[{"label": n, "value": c} for c, n in svc.boundaries.names().items()
                         if _my_area(c)],
                multi=True, value=list(filters.areas or []), placeholder="Whole area",
            ),
            dcc.Checklist(
                id=ids.PUBLIC_ONLY,
                # a role that sees public places only has it ticked, and cannot untick it
                options=[{"label": " Public places only (leave out domestic incidents)",
                          "value": "yes", "disabled": _public_only_role()}],
                value=["yes"] if filters.exclude_domestic or _public_only_role() else [],
            ),
            html.H2("Map layers"),
            dcc.Checklist(id=ids.LAYERS, options=_layer_options(), value=layers,
                          className="layers"),
            html.Div([
                html.Label("Hexagon size (H3 resolution)", htmlFor=ids.RES),
                dcc.Dropdown(id=ids.RES, clearable=False, value=res, options=[
                    {"label": f"{r} (about {cell_area_km2(r):.3g} km²)", "value": r}
                    for r in H3_RESOLUTIONS]),
                html.Label("Local authorities show", htmlFor=ids.AREA_MEASURE),
                dcc.RadioItems(id=ids.AREA_MEASURE, inline=True, value=measure, options=[
                    {"label": " count", "value": "count"},
                    {"label": " rate per 1,000 residents", "value": "rate"}]),
                # density and clusters read from every engine (a bounded selection on
                # DuckDB and Dask: geo.door)
                html.Div([
                    html.Label("Kernel density bandwidth (m; blank = default rule)",
                               htmlFor=ids.KDE_BANDWIDTH),
                    dcc.Input(id=ids.KDE_BANDWIDTH, type="number", min=100, max=5000, step=50,
                              value=bandwidth, debounce=True, placeholder="default rule"),
                    html.Label("DBSCAN distance eps (m) and minimum incidents",
                               htmlFor=ids.DBSCAN_EPS),
                    html.Div([
                        dcc.Input(id=ids.DBSCAN_EPS, type="number", min=10, max=2000, step=10,
                                  value=eps, debounce=True),
                        dcc.Input(id=ids.DBSCAN_MIN, type="number", min=2, max=1000, step=1,
                                  value=minpts, debounce=True),
                    ], className="pair"),
                ]),
            ], className="layer-settings"),
            html.H2("Data"),
            html.Div(id=ids.DATA_PANEL, children=_data_panel(status), className="data-panel"),
        ],
        className="sidebar",
    )
    main = html.Div(
        [
            html.Div(url_problem, className="warning") if url_problem else None,
            html.Div(id=ids.SELECTION_TEXT, className="selection",
                     children=_selection_text(filters)),
            html.Div([
                dcc.Graph(id=ids.MAP, figure=fig, className="map",
                          config=graph_config(scrollZoom=True)),
                html.Div(id=ids.MAP_LEGEND, className="map-legend",
                         children=_legend(values, view)),
            ], className="map-wrap"),
            html.Div(id=ids.METHOD_TEXT, className="method",
                     children=_method_text(view, KdeParams(bandwidth_m=bandwidth),
                                           DbscanParams(eps_m=eps or 100.0,
                                                        min_samples=minpts), filters)),
            html.Div(
                [
                    html.Div([
                        html.H3("When: incidents by weekday and hour"),
                        html.P("Calendar day and hour: a night's small hours sit on the next "
                               "morning's row. Click a square to filter to it.",
                               className="hint"),
                        dcc.Graph(id=ids.GRID, figure=_grid(filters, status),
                                  config=graph_config(displayModeBar=False)),
                    ], className="panel grid-panel"),
                    html.Div([
                        html.H3("Where: ranked hotspots"),
                        dcc.RadioItems(
                            id=ids.TABLE_UNIT, inline=True, value=unit,
                            options=[{"label": " H3 cells", "value": "cells"}] + (
                                [{"label": " DBSCAN clusters", "value": "clusters"}]
                                if _may_layer("clusters") else [])),
                        html.P(_ranking_hint(), className="hint"),
                        dag.AgGrid(
                            id=ids.TABLE,
                            rowData=_table_rows(filters, res, unit, db_params),
                            columnDefs=_table_columns(_weights_source(), all_month_only),
                            columnSize="responsiveSizeToFit",
                            dashGridOptions={"rowSelection": {"mode": "singleRow",
                                                              "checkboxes": False,
                                                              "enableClickSelection": True},
                                             "domLayout": "autoHeight",
                                             # ten rows: render every column, so the
                                             # cell id stays in the page for copy and find
                                             "suppressColumnVirtualisation": True},
                            className="ag-theme-alpine",
                        ),
                    ], className="panel table-panel"),
                ],
                className="lower",
            ),
            dcc.Store(id=ids.GEOMETRY_KEY, data=key),
            # numbers aligned to the outlines the map fetched for ``key``: no geometry
            dcc.Store(id=ids.MAP_VALUES, data=values),
            dcc.Store(id=KDE_FILTERS), dcc.Store(id=CLUSTER_FILTERS),
            dcc.Store(id=ids.URL_SEARCH),
        ],
        className="main",
    )
    return html.Div([controls, main], className="explorer")


def _nice_date(iso: str | None) -> str:
    return date.fromisoformat(iso).strftime("%-d %b %Y") if iso else ""


def _time_note(status: dict[str, Any]) -> str:
    n_month = status["month_only_incidents"]
    if not n_month:
        return ""
    if n_month == status["incidents"]:
        return ("These data give only the month of each incident (police.uk publishes no day "
                "or time), so the day and hour filters and the weekday-by-hour grid are off.")
    return (f"{n_month:,} incidents have only a month (police.uk data). They are left out "
            "whenever a day or hour filter is set, rather than given invented times.")


def _data_panel(status: dict[str, Any]) -> list[Any]:
    items = [
        html.Li(f"{status['incidents']:,} incidents"),
        html.Li(f"{_nice_date(status['first_date'])} to {_nice_date(status['last_date'])}"
                if status["first_date"] else "no dates"),
        html.Li(f"last ingested {status['last_ingested'].replace('T', ' ')[:16]} UTC"
                if status["last_ingested"] else "nothing ingested yet"),
        html.Li(f"{status['rejected_rows']:,} input rows rejected (see the rejects files "
                "in the data directory)"),
        html.Li(f"boundaries: {status['boundaries']}"),
    ]
    if status.get("engine"):
        items.append(html.Li(f"counted by {status['engine']} over the stored files"))
    if status["synthetic_sample"]:
        items.insert(0, html.Li("SYNTHETIC sample: generated data, not real incidents.",
                                className="synthetic"))
    return [html.Ul(items)]


def _selection_text(filters: Filters, extra: str = "") -> str:
    svc = services.current()
    sel = svc.query.select(filters)
    total = svc.query.select(Filters()).count  # every row the principal may count
    share = f"{100.0 * sel.count / total:.1f}%" if total else "0%"
    text = f"{sel.count:,} of {total:,} incidents selected ({share})."
    if sel.month_only_excluded:
        text += (f" {sel.month_only_excluded:,} month-only incidents are left out by the day "
                 "or hour filter.")
    return text + extra


def _method_text(view: dict[str, Any], kde: KdeParams, db: DbscanParams,
                 filters: Filters) -> list[Any]:
    svc = services.current()
    res = view["res"]
    parts = [html.B("Methods. "),
             f"Hexagons: H3 resolution {res} (average {cell_area_km2(res):.3g} km²), "
             "incident counts. "]
    if "kde" in view["layers"]:
        result = svc.kde(filters, kde)
        if result:
            parts.append(
                f"Kernel density: quartic kernel, bandwidth {result['bandwidth_m']:,.0f} m "
                f"({result['bandwidth_rule']}), {result['cell_m']:.0f} m cells, incidents per "
                f"km², peak {result['peak_per_km2']:,.1f}. ")
    if "clusters" in view["layers"]:
        parts.append(f"DBSCAN: eps {db.eps_m:,.0f} m, at least {db.min_samples} incidents; "
                     f"footprints are cluster hulls buffered by {db.eps_m / 2:,.0f} m. ")
    coarse_cells = svc.query.left_out(filters, res)
    coarse_points = svc.query.left_out(filters, None) if {"kde", "clusters"} & set(
        view["layers"]) else 0
    if coarse_cells or coarse_points:
        # health records placed only by a postcode or an LSOA centroid (geo.istv)
        said = []
        if coarse_cells:
            said.append(f"{coarse_cells:,} selected records placed only by a postcode or LSOA "
                        f"centroid are left out of these hexagons (too coarse for resolution "
                        f"{res})")
        if coarse_points:
            said.append(f"{coarse_points:,} placed only by an LSOA centroid are left out of "
                        "the density and clusters")
        parts.append("; ".join(said) + ". ")
    parts.append("Distances in metres on the British National Grid.")
    return parts


def _grid(filters: Filters, status: dict[str, Any]) -> dict[str, Any]:
    grid = services.current().query.day_hour_grid(filters)
    note = None
    if status["incidents"] and status["month_only_incidents"] == status["incidents"]:
        note = "Month-only data: no weekday or hour to show"
    return figures.grid_figure(grid, disabled_note=note)


def _weights_source() -> str | None:
    """Where the harm weights come from, or None when none are loaded (every weight 1)."""
    weights, source = services.current().harm_weights()
    return source if weights else None


def _ranking_hint() -> str:
    if _weights_source() is None:
        return ("Ranked by count: no harm weights are loaded (load them on the Patrol plan "
                "page), so harm would only repeat the count. Select a row to zoom to it.")
    return "Ranked by harm, then count. Select a row to zoom to it."


def _group_options() -> list[dict[str, str]]:
    groups = services.current().groups()
    options = [{"label": f"{name}: {', '.join(cats)}", "value": name}
               for name, cats in sorted(groups.groups.items())]
    return [*options, {"label": "All categories (every category in the data)", "value": "all"},
            {"label": "Categories chosen below", "value": CUSTOM}]


def _table_columns(weights_source: str | None = None,
                   month_only: bool = False) -> list[dict[str, Any]]:
    """Return the hotspot table's columns.

    A harm column only when harm weights are loaded; no peak day or hour when the data give
    only months (they would all read "unknown").
    """
    harm = [{"field": "harm", "headerName": "Harm", "minWidth": 80, "maxWidth": 90,
             "headerTooltip": f"sum of harm weights ({weights_source})",
             "valueFormatter": {"function": "d3.format(',.1f')(params.value)"}}]
    timed = [] if month_only else [
        {"field": "peak_day", "headerName": "Peak day", "minWidth": 165},
        {"field": "peak_hour", "headerName": "Peak hour", "minWidth": 140}]
    return [
        {"field": "rank", "headerName": "#", "minWidth": 55, "maxWidth": 60},
        {"field": "place_name", "headerName": "Where", "minWidth": 200,
         "tooltipField": "name_source"},
        {"field": "share_text", "headerName": "Incidents (share of selection)",
         "minWidth": 200},
        *(harm if weights_source else []),
        *timed,
        {"field": "main_categories", "headerName": "Main categories", "minWidth": 420,
         "tooltipField": "main_categories"},
        {"field": "cell", "headerName": "H3 cell", "minWidth": 140},
    ]


def _table_rows(filters: Filters, res: int, unit: str = "cells",
                db: DbscanParams | None = None) -> list[dict[str, Any]]:
    svc = services.current()
    if unit == "clusters":
        total = svc.query.select(filters).count
        feats = svc.clusters(filters, db or DbscanParams())["features"][:10]
        return [
            {**{k: f["properties"][k] for k in ("rank", "place_name", "name_source", "count",
                                                  "harm", "peak_day", "peak_hour",
                                                  "main_categories", "lon", "lat")},
             "cell": f"cluster {f['id']} ({f['properties']['area_km2']:.3f} km²)",
             "share_text": f"{f['properties']['count']:,} of {total:,} "
                           f"({100 * f['properties']['share']:.1f}%)"}
            for f in feats
        ]
    weights, _source = svc.harm_weights()
    table = svc.hotspot_table(filters, res, 10, weights or None)
    total = svc.query.select(filters).count
    rows = table.to_dict("records")
    for r in rows:
        r["share_text"] = f"{r['count']:,} of {total:,} ({100 * r['share']:.1f}%)"
    return rows


# --------------------------------------------------------------------------------------------
# Figure assembly
# --------------------------------------------------------------------------------------------
def _area_values(filters: Filters, measure: str) -> tuple[list[str], list[str], list[Any], str]:
    """Values for every area drawn, in the boundaries' order; blank where not selected.

    The map draws every area once and a filter change sends values alone, so the list must
    always name the same areas in the same order: an authority filter blanks the others
    rather than shortening the list (which would paint one area's count on another).
    """
    svc = services.current()
    table = svc.query.area_table(filters).set_index("code")
    names = svc.boundaries.names()
    codes = list(names)
    column = "rate_per_1000" if measure == "rate" else "count"
    values: list[Any] = []
    for code in codes:
        value = table[column].get(code) if code in table.index else None
        if value is None or value != value:
            values.append(None)
        elif measure == "rate":
            values.append(round(float(value), 3))
        else:
            values.append(int(value))
    label = ("incidents per 1,000 residents" + _population_label(svc.boundaries)
             if measure == "rate" else "incidents")
    return codes, [names[c] for c in codes], values, label


def _population_label(boundaries: Any) -> str:
    # rates are only as good as their populations: name the table and its year on the map
    described = boundaries.population_source()
    return f"<br>({described})" if described else "<br>(no populations: rates cannot be shown)"


def _kde_layer(filters: Filters, params: KdeParams) -> dict[str, Any] | None:
    result = services.current().kde(filters, params)
    if result is None:
        return None
    return figures.kde_map_layer(result["density"], result["corners"])


def _full_figure(filters: Filters, view: dict[str, Any], kde: KdeParams,
                 db: DbscanParams) -> tuple[dict[str, Any], list[Any]]:
    svc = services.current()
    center, zoom = svc.map_center()
    if filters.areas:  # a link naming areas opens on them
        center, zoom = svc.areas_view(sorted(filters.areas)) or (center, zoom)
    layers = set(view["layers"])
    fig = figures.map_figure(
        areas_geojson=svc.areas_geojson(),
        clusters=svc.clusters(filters, db) if "clusters" in layers else None,
        kde_layer=_kde_layer(filters, kde) if "kde" in layers else None,
        visible=layers, center=center, zoom=zoom, style=map_style(svc),
    )
    return fig, svc.geometry_key(view["res"])


def _map_values(filters: Filters, view: dict[str, Any], key: list[Any]) -> dict[str, Any]:
    """Return the values the map paints on the outlines of ``key``: numbers only."""
    svc = services.current()
    _, counts, _ = svc.query.cell_counts(filters, view["res"])
    counts = counts[svc.query.drawn_cells(view["res"])]  # aligned to cells_geojson's hexagons
    codes, _names, values, label = _area_values(filters, view["measure"])
    return figures.map_values(key=key, layers=view["layers"], cell_values=counts,
                              area_codes=codes, area_values=values,
                              area_integer=view["measure"] != "rate",
                              area_unit=label.split("<br>")[0])


def _legend(values: dict[str, Any], view: dict[str, Any]) -> list[Any]:
    """Say in words what each drawn layer's colours mean: one titled key per layer."""
    layers = view["layers"]
    parts: list[Any] = []

    def classes(title: str, layer: dict[str, Any], integer: bool, empty: str) -> html.Div:
        rows = [html.Li([html.Span(className="swatch", style={"background": colour}), words])
                for colour, words in figures.map_legend_classes(layer, integer)]
        return html.Div([html.Div(title, className="legend-title"),
                         html.Ul(rows) if rows else html.Div(empty, className="legend-note")],
                        className="legend-layer")

    if "cells" in layers:
        parts.append(classes(f"Incidents per hexagon (H3 resolution {view['res']})",
                             values["cells"], True, "none in this selection"))
    if "areas" in layers:
        title = ("Incidents per 1,000 residents, by local authority"
                 if view["measure"] == "rate" else "Incidents per local authority")
        parts.append(classes(title, values["areas"], view["measure"] != "rate",
                             "none in this selection"))
    if "kde" in layers:
        parts.append(html.Div([
            html.Div("Kernel density (incidents per km²)", className="legend-title"),
            html.Div([html.Span("lower", className="legend-end"),
                      html.Span(className="ramp", style={"background": "linear-gradient("
                                "to right, " + ", ".join(figures.KDE_COLOURS) + ")"}),
                      html.Span("higher", className="legend-end")], className="legend-ramp"),
        ], className="legend-layer"))
    if "clusters" in layers:
        parts.append(html.Div([
            html.Div("DBSCAN clusters", className="legend-title"),
            html.Ul([html.Li([html.Span(className="swatch outlined", style={
                "background": figures.CLUSTER_COLOUR, "borderColor": figures.CLUSTER_LINE}),
                "cluster footprint (darker: more incidents)"])]),
        ], className="legend-layer"))
    return parts


# --------------------------------------------------------------------------------------------
# Callbacks
# --------------------------------------------------------------------------------------------
FILTER_INPUTS = [
    Input(ids.DATES, "start_date"), Input(ids.DATES, "end_date"), Input(ids.DAYS, "value"),
    Input(ids.HOUR_FROM, "value"), Input(ids.HOUR_TO, "value"),
    Input(ids.CATEGORIES, "value"), Input(ids.SOURCES, "value"), Input(ids.AREAS, "value"),
    Input(ids.PUBLIC_ONLY, "value"),
]
FILTER_STATES = [State(i.component_id, i.component_property) for i in FILTER_INPUTS]


@callback(
    Output(ids.MAP, "figure"),
    Output(ids.GEOMETRY_KEY, "data"),
    Output(ids.GRID, "figure"),
    Output(ids.TABLE, "rowData"),
    Output(ids.SELECTION_TEXT, "children"),
    Output(ids.URL_SEARCH, "data"),
    Output(ids.METHOD_TEXT, "children"),
    Input(ids.TABLE_UNIT, "value"),
    Input(ids.DBSCAN_EPS, "value"),
    Input(ids.DBSCAN_MIN, "value"),
    # a filter or layer change comes here once the map has its values (see below)
    Input(ids.MAP_VALUES, "data"),
    *FILTER_STATES,
    State(ids.LAYERS, "value"),
    State(ids.RES, "value"),
    State(ids.AREA_MEASURE, "value"),
    State(ids.KDE_BANDWIDTH, "value"),
    State(ids.GEOMETRY_KEY, "data"),
    State(GROUP, "value"),
    prevent_initial_call=True,
)
def update_view(unit: str, eps: float | None, minpts: int | None, _values: Any,
                start: str | None, end: str | None, days: list[str], hour_from: int,
                hour_to: int, categories: list[str], sources: list[str], areas: list[str],
                public_only: list[str], layers: list[str], res: int, measure: str,
                bandwidth: float | None, geometry_key: list[Any] | None,
                group: str | None = None) -> tuple[Any, ...]:
    """Apply a filter or view change to the grid, the table, the texts and the link.

    It runs after :func:`update_map_values` has answered (its values are this callback's
    trigger), so the map's numbers are counted first and the map repaints while the ranked
    table is built: on two cores the two answers otherwise share the processor and the map
    waits for both. The Plotly figure is left alone unless the outlines change (another
    resolution, new data, another scope).
    """
    filters = _filters_from_controls(start, end, days, hour_from, hour_to, categories,
                                     sources, areas, public_only)
    svc = services.current()
    # a layer the role may not see is dropped, whatever the request says
    layers = [v for v in layers or [] if _may_layer(v)]
    unit = unit if unit != "clusters" or _may_layer("clusters") else "cells"
    view: dict[str, Any] = {"layers": layers, "res": _resolution(res),
                            "measure": measure if measure in {"count", "rate"} else "count"}
    kde = _kde_params(bandwidth)
    db = _db_params(eps, minpts)
    key = svc.geometry_key(view["res"])
    fig: Any = dash.no_update
    if geometry_key != key:
        fig, key = _full_figure(filters, view, kde, db)
    status = svc.query.status()
    search = _url_search(filters, {**view, "bw": bandwidth, "eps": eps, "minpts": minpts,
                                   "unit": unit if unit == "clusters" else None,
                                   "group": group})
    return (fig, key, _grid(filters, status), _table_rows(filters, view["res"], unit, db),
            _selection_text(filters), search, _method_text(view, kde, db, filters))


@callback(
    Output(ids.MAP_VALUES, "data"),
    Output(ids.MAP_LEGEND, "children"),
    Output(ids.MAP, "figure", allow_duplicate=True),
    *FILTER_INPUTS,
    Input(ids.LAYERS, "value"),
    Input(ids.RES, "value"),
    Input(ids.AREA_MEASURE, "value"),
    Input(ids.LIVE_VERSION, "data"),
    prevent_initial_call=True,
)
def update_map_values(start: str | None, end: str | None, days: list[str], hour_from: int,
                      hour_to: int, categories: list[str], sources: list[str],
                      areas: list[str], public_only: list[str], layers: list[str], res: int,
                      measure: str, _live: Any) -> tuple[Any, ...]:
    """Send the map its new values, and its key, first.

    The map is repainted as soon as its numbers are counted (tens of milliseconds);
    :func:`update_view` then builds the grid, the ranked table and the texts. The values name
    the outlines they fit (the geometry key), so they are painted only on those. Ticking a
    layer shows or hides the DBSCAN footprints; choosing areas frames them on the map.
    """
    filters = _filters_from_controls(start, end, days, hour_from, hour_to, categories,
                                     sources, areas, public_only)
    layers = [v for v in layers or [] if _may_layer(v)]
    view: dict[str, Any] = {"layers": layers, "res": _resolution(res),
                            "measure": measure if measure in {"count", "rate"} else "count"}
    values = _map_values(filters, view, services.current().geometry_key(view["res"]))
    fig: Any = dash.no_update
    if ctx.triggered_id == ids.LAYERS:
        fig = Patch()
        fig["data"][figures.MAP_TRACE_CLUSTERS]["visible"] = "clusters" in layers
    elif ctx.triggered_id == ids.AREAS:
        fig = Patch()
        _frame_areas(fig, filters)
    return values, _legend(values, view), fig


def _frame_areas(patch: Patch, filters: Filters) -> None:
    """Move the map to the areas chosen, or back to the whole force when none is."""
    svc = services.current()
    view = svc.areas_view(sorted(filters.areas)) if filters.areas else None
    center, zoom = view or svc.map_center()
    patch["layout"]["map"]["center"] = center
    patch["layout"]["map"]["zoom"] = zoom
    # a new uirevision lets this move override where the user had panned to
    patch["layout"]["uirevision"] = "areas-" + ",".join(sorted(filters.areas or []))


dash.clientside_callback(
    ClientsideFunction(namespace="hotspotMap", function_name="paint"),
    Output(ids.MAP_VALUES, "id"),
    Input(ids.MAP_VALUES, "data"),
    State(ids.MAP, "id"),
)


#: The filters as the density and cluster callbacks read them: a filter change reaches those
#: callbacks only through :data:`SHOWN_FILTERS` and only while their layer is shown, so a
#: hidden layer costs no request per change.
KDE_FILTERS, CLUSTER_FILTERS = "explorer-kde-filters", "explorer-cluster-filters"
SHOWN_FILTERS = {"kde": KDE_FILTERS, "clusters": CLUSTER_FILTERS}

for _layer, _store in SHOWN_FILTERS.items():
    dash.clientside_callback(
        ClientsideFunction(namespace="hotspotMap",
                           function_name="kdeShown" if _layer == "kde" else "clustersShown"),
        Output(_store, "data"),
        *FILTER_INPUTS,
        State(ids.LAYERS, "value"),
        prevent_initial_call=True,
    )


@callback(
    Output(ids.MAP, "figure", allow_duplicate=True),
    Input(ids.LAYERS, "value"),
    Input(ids.KDE_BANDWIDTH, "value"),
    Input(KDE_FILTERS, "data"),
    *FILTER_STATES,
    prevent_initial_call=True,
)
def update_kde(layers: list[str], bandwidth: float | None, _shown: Any, start: str | None,
               end: str | None, days: list[str], hour_from: int, hour_to: int,
               categories: list[str], sources: list[str], areas: list[str],
               public_only: list[str]) -> Patch:
    """Recompute the kernel density image when it is shown and its inputs change."""
    patch = Patch()
    if "kde" not in (layers or []):
        if ctx.triggered_id != ids.LAYERS:
            raise PreventUpdate  # hidden, and a filter change would only redraw the map
        patch["layout"]["map"]["layers"][figures.LAYER_KDE]["visible"] = False
        return patch
    filters = _filters_from_controls(start, end, days, hour_from, hour_to, categories,
                                     sources, areas, public_only)
    layer = _kde_layer(filters, _kde_params(bandwidth))
    patch["layout"]["map"]["layers"][figures.LAYER_KDE] = layer or {
        "sourcetype": "geojson", "source": {"type": "FeatureCollection", "features": []},
        "visible": False}
    return patch


@callback(
    Output(ids.MAP, "figure", allow_duplicate=True),
    Input(ids.LAYERS, "value"),
    Input(ids.DBSCAN_EPS, "value"),
    Input(ids.DBSCAN_MIN, "value"),
    Input(CLUSTER_FILTERS, "data"),
    *FILTER_STATES,
    prevent_initial_call=True,
)
def update_clusters(layers: list[str], eps: float | None, minpts: int | None, _shown: Any,
                    start: str | None, end: str | None, days: list[str], hour_from: int,
                    hour_to: int, categories: list[str], sources: list[str],
                    areas: list[str], public_only: list[str]) -> Patch:
    """Recompute DBSCAN footprints when they are shown and their inputs change."""
    if "clusters" not in (layers or []):
        raise PreventUpdate
    filters = _filters_from_controls(start, end, days, hour_from, hour_to, categories,
                                     sources, areas, public_only)
    db = _db_params(eps, minpts)
    trace = figures.cluster_trace_values(services.current().clusters(filters, db))
    patch = Patch()
    for key in ("geojson", "locations", "z", "customdata"):
        patch["data"][figures.MAP_TRACE_CLUSTERS][key] = trace[key]
    patch["data"][figures.MAP_TRACE_CLUSTERS]["visible"] = True
    return patch


@callback(
    Output(GROUP, "value"),
    Output(ids.CATEGORIES, "value"),
    Output(GROUP_NOTE, "children"),
    Input(GROUP, "value"),
    Input(ids.CATEGORIES, "value"),
    prevent_initial_call=True,
)
def sync_group(group: str | None, categories: list[str] | None) -> tuple[Any, ...]:
    """Keep the group and the categories in step, and say which group is in use.

    Choosing a group fills in its categories; editing the categories by hand makes the
    selection "chosen below" unless it is exactly a group's.
    """
    svc = services.current()
    if ctx.triggered_id == GROUP:
        if group in (None, CUSTOM):
            raise PreventUpdate
        try:
            resolved, choice = svc.resolve_group({"group": group})
        except FilterError as exc:
            return dash.no_update, dash.no_update, f"Cannot use this group: {exc.message}"
        cats = resolved.get("categories")
        return dash.no_update, (cats.split(",") if cats else []), choice.describe()
    chosen = list(categories or [])
    if not chosen:
        resolved, choice = svc.resolve_group({"group": "all"})
        return "all", dash.no_update, choice.describe()
    for name in svc.groups().groups:
        try:
            resolved, choice = svc.resolve_group({"group": name})
        except FilterError:
            continue
        if sorted(resolved.get("categories", "").split(",")) == sorted(chosen):
            return name, dash.no_update, choice.describe()
    _, choice = svc.resolve_group({"categories": ",".join(chosen)})
    return CUSTOM, dash.no_update, choice.describe()


@callback(
    Output(ids.DAYS, "value"),
    Output(ids.HOUR_FROM, "value"),
    Output(ids.HOUR_TO, "value"),
    Output(ids.PRESET, "value"),
    Input(ids.PRESET, "value"),
    Input(ids.GRID, "clickData"),
    prevent_initial_call=True,
)
def apply_preset_or_grid_click(preset: str | None, click: dict[str, Any] | None) -> tuple[
        Any, ...]:
    """Set days and hours from a preset, or from the grid square the user clicked."""
    if ctx.triggered_id == ids.GRID:
        x, y = clicked_cell(click)
        day = str(y).lower()[:3]
        is_text_number = isinstance(x, str) and x.isascii() and x.isdecimal()
        hour = int(x) if is_text_number else int(number(x, 0, 23))
        if day not in DAY_NAMES or not 0 <= hour <= 23:
            raise PreventUpdate
        return [day], hour, hour + 1, None
    if preset not in PRESETS:
        raise PreventUpdate
    _, days, (h0, h1) = PRESETS[preset]
    return (days or list(DAY_NAMES)), h0, h1, dash.no_update


@callback(
    Output(ids.MAP, "figure", allow_duplicate=True),
    Input(ids.TABLE, "selectedRows"),
    prevent_initial_call=True,
)
def zoom_to_row(rows: list[dict[str, Any]] | None) -> Patch:
    """Centre the map on the hotspot the user selected in the table."""
    lon, lat, label = selected_point(rows)
    patch = Patch()
    patch["layout"]["map"]["center"] = {"lon": lon, "lat": lat}
    patch["layout"]["map"]["zoom"] = 14.5
    # A new uirevision lets this move override where the user had panned to.
    patch["layout"]["uirevision"] = f"row-{label}"
    return patch


dash.clientside_callback(
    ClientsideFunction(namespace="hotspot", function_name="replaceSearch"),
    Output(ids.URL_SEARCH, "id"),
    Input(ids.URL_SEARCH, "data"),
    prevent_initial_call=True,
)
