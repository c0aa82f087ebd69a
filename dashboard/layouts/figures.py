"""Area figures: counts by local authority or by hexagon, as a role that sees aggregates may.

For partners under a data-sharing agreement and for partnership boards. Everything here
comes through the query layer's disclosed figures: for those roles a count from 1 to 4 is
shown as "fewer than 5", cells that would let a total reveal one are hidden too, and domestic
incidents count only in whole-authority figures. Analysts see the same page unsuppressed.
"""

from __future__ import annotations

from typing import Any

import dash
import dash_ag_grid as dag
import numpy as np
import pandas as pd
from dash import Input, Output, callback, dcc, html

from dashboard import services
from dashboard.access.gate import current
from dashboard.basemap import basemap_layout
from dashboard.components import days_and_hours, frame_areas
from dashboard.figures import graph_config
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params
from dashboard.params import parse_filters
from geo.h3index import cell_boundaries, cells_to_str
from geo.query import FilterError
from geo.settings import H3_RESOLUTIONS

dash.register_page(__name__, path="/figures", name="Area figures",
                   title="Hotspot · Area figures", order=4)

P = "figures-"
LEVEL, START, END, DAYS, H_FROM, H_TO, CATS, MAP, TABLE, NOTE = (P + s for s in (
    "level", "start", "end", "days", "hour-from", "hour-to", "categories", "map", "table",
    "note"))


def _levels() -> list[dict[str, str]]:
    """Return the levels the signed-in role may see: authorities, hexagons up to its limit."""
    who = current()
    out = [{"label": " by local authority", "value": "la"}]
    if who.may_see("h3"):
        finest = who.policy.max_h3_res or max(H3_RESOLUTIONS)
        out += [{"label": f" by hexagon (H3 resolution {r})", "value": f"h3-{r}"}
                for r in H3_RESOLUTIONS if r <= finest]
    return out


def layout(**query: str) -> html.Div:
    """Build the page (the role decides which levels are offered)."""
    query = query_params(query)
    svc = services.current()
    status = svc.query.status()
    sidebar = html.Div([
        html.H2("Selection"),
        html.Label("Show", htmlFor=LEVEL),
        dcc.RadioItems(id=LEVEL, value="la", options=_levels()),
        html.Label("From and to (YYYY-MM-DD, empty for all)", htmlFor=START),
        html.Div([dcc.Input(id=START, type="text", placeholder=status["first_date"] or "",
                            debounce=True),
                  dcc.Input(id=END, type="text", placeholder=status["last_date"] or "",
                            debounce=True)], className="pair"),
        *days_and_hours(DAYS, H_FROM, H_TO, "Days of week"),
        html.Label("Categories", htmlFor=CATS),
        dcc.Dropdown(id=CATS, multi=True, options=status["categories"],
                     placeholder="All categories"),
    ], className="sidebar")
    main = html.Div([
        dcc.Graph(id=MAP, config=graph_config(), className="map"),
        html.Div(id=NOTE, className="method"),
        dag.AgGrid(id=TABLE, columnDefs=[
            {"field": "name", "headerName": "Area or hexagon", "flex": 2},
            {"field": "shown", "headerName": "Incidents", "flex": 1},
            {"field": "domestic", "headerName": "Domestic (whole authority)", "flex": 1},
            {"field": "rate", "headerName": "Per 1,000 residents", "flex": 1}],
            rowData=[], dashGridOptions={"domLayout": "autoHeight"}),
    ], className="main")
    return html.Div([sidebar, main], className="explorer")


def _filters(start: str | None, end: str | None, days: list[str] | None, hour_from: int | None,
             hour_to: int | None, cats: list[str] | None) -> Any:
    params: dict[str, str] = {}
    if start:
        params["start"] = start
    if end:
        params["end"] = end
    if days and len(days) < 7:
        params["days"] = ",".join(days)
    if hour_from not in (None, 0) or hour_to not in (None, 24):
        params["hours"] = f"{hour_from or 0}-{hour_to if hour_to is not None else 24}"
    if cats:
        params["categories"] = ",".join(cats)
    filters = parse_filters(params)
    services.current().query.validate(filters)
    return filters


def _shown(value: Any, hidden: bool, primary: bool, label: str) -> str:
    if hidden:
        return label if primary else "hidden"
    return f"{int(value):,}"


@callback(Output(MAP, "figure"), Output(TABLE, "rowData"), Output(NOTE, "children"),
          Input(LEVEL, "value"), Input(START, "value"), Input(END, "value"),
          Input(DAYS, "value"), Input(H_FROM, "value"), Input(H_TO, "value"),
          Input(CATS, "value"), Input(LIVE_VERSION, "data"))
def update_figures(level: str | None, start: str | None, end: str | None,
                   days: list[str] | None, hour_from: int | None, hour_to: int | None,
                   cats: list[str] | None, _live: Any = None) -> tuple[Any, ...]:
    """Draw the figures for the selection at the chosen level."""
    svc = services.current()
    if days is not None and not days:
        raise FilterError("days", "no day is ticked; tick at least one")
    filters = _filters(start, end, days, hour_from, hour_to, cats)
    center, zoom = svc.map_center()
    level = level or "la"
    if level == "la":
        found = svc.query.disclosed_areas(filters)
        table, disclosed, domestic = found.table, found.count, found.domestic
        hidden = disclosed.hidden if disclosed is not None else np.zeros(len(table), dtype=bool)
        primary = disclosed.primary if disclosed is not None else hidden
        label = disclosed.label() if disclosed is not None else ""
        rows = [{"name": r.name, "shown": _shown(r.count, h, p, label),
                 "rate": "" if r.rate_per_1000 is None or h else f"{r.rate_per_1000:,.2f}"}
                for r, h, p in zip(table.itertuples(), hidden, primary, strict=True)]
        recorded = svc.query.domestic_recorded()
        if domestic is not None:
            for row, r, h, p in zip(rows, table.itertuples(), domestic.hidden, domestic.primary,
                                    strict=True):
                row["domestic"] = _shown(r.domestic, h, p, label) if recorded else \
                    "not recorded"
        # areas with nothing in the selection are left out, so the map frames the data
        some = [h or (c is not pd.NA and c > 0) or (r.get("domestic") not in (None, "0"))
                for c, h, r in zip(table["count"], hidden, rows, strict=True)]
        table = table[some]
        rows = [r for r, k in zip(rows, some, strict=True) if k]
        hidden = hidden[some]
        values = [None if h else float(c) for c, h in zip(table["count"], hidden, strict=True)]
        center, zoom = frame_areas(svc.boundaries.areas, list(table["code"])) or (center, zoom)
        trace = {"type": "choroplethmap", "geojson": svc.areas_geojson(),
                 "featureidkey": "properties.code", "locations": list(table["code"]),
                 "z": values, "text": [r["name"] + ": " + r["shown"] for r in rows],
                 "hovertemplate": "%{text}<extra></extra>", "colorscale": "YlOrRd",
                 "reversescale": True, "marker": {"opacity": 0.6}}
        what = "local authorities"
    else:
        try:
            res = int(level.removeprefix("h3-"))
        except ValueError:
            raise FilterError("level", f"'{level}' is not a level") from None
        cells, counts, disclosed = svc.query.disclosed_cells(filters, res)
        domestic = None
        keep = np.isnan(counts) | (counts > 0)
        cells, counts = cells[keep], counts[keep]
        hidden = np.isnan(counts)
        primary = disclosed.primary[keep] if disclosed is not None else hidden
        label = disclosed.label() if disclosed is not None else ""
        ids = cells_to_str(cells)
        order = np.argsort(np.where(hidden, -1, np.nan_to_num(counts)))[::-1]
        rows = [{"name": ids[i], "shown": _shown(counts[i], hidden[i], primary[i], label),
                 "rate": ""} for i in order[:500]]
        features = [{"type": "Feature", "id": cid,
                     "geometry": {"type": "Polygon", "coordinates": [
                         [[round(x, 5), round(y, 5)] for x, y in ring]]}}
                    for cid, ring in zip(ids, cell_boundaries(cells), strict=True)]
        trace = {"type": "choroplethmap",
                 "geojson": {"type": "FeatureCollection", "features": features},
                 "featureidkey": "id", "locations": ids,
                 "z": [None if h else float(c) for c, h in zip(counts, hidden, strict=True)],
                 "text": [_shown(c, h, p, label)
                          for c, h, p in zip(counts, hidden, primary, strict=True)],
                 "hovertemplate": "%{location}: %{text}<extra></extra>",
                 "colorscale": "YlOrRd", "reversescale": True,
                 "marker": {"opacity": 0.7, "line": {"width": 0}}}
        what = f"H3 resolution {res} hexagons"
    figure = {"data": [trace], "layout": {
        "map": basemap_layout(center=center, zoom=zoom),
        "margin": {"l": 0, "r": 0, "t": 0, "b": 0}, "uirevision": level}}
    note = [f"Incidents by {what} for the selection. "]
    if disclosed is not None:
        t = disclosed.threshold
        note.append(f"Counts from 1 to {t - 1} are shown as 'fewer than {t}'; where a total "
                    "could reveal one, further cells are shown as 'hidden'. Counts shown carry "
                    "a small fixed adjustment of at most 2 either way (the same every time for "
                    "the same incidents), so two answers cannot be subtracted to reveal a "
                    "small number.")
        if level == "la" and domestic is not None and not svc.query.domestic_recorded():
            note.append(" These data do not say which incidents are domestic (police.uk data "
                        "never do), so every incident is counted and none as domestic.")
        elif level == "la" and domestic is not None:
            note.append(" Incidents are those in public places; domestic incidents are "
                        "counted only by whole authority, in their own column.")
        elif domestic is None and level != "la" and not current().policy.domestic_below_authority:
            note.append(" Hexagons count public-place incidents only: domestic incidents are "
                        "counted only by whole authority.")
    return figure, rows, note
