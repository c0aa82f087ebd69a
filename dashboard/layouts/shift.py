"""On shift: tonight's plan for an officer, read on a phone.

Read-only and built for a 390-pixel screen: a short header, the places in order (what each
is called, why it is on the plan and when to visit), a small map numbered like the list, the
printed briefing one tap away, and "you are here" when the officer asks for it.

The plan is :func:`geo.plan.build_plan` for the parameters in the link, through the same
cached service as the Patrol plan page, the API and the briefing, so all four agree; the
query layer is pinned to the officer, so the plan holds only their areas and public places.
Defaults (:func:`dashboard.params.parse_shift_params`): the current or next shift, 20:00 to
04:00, ranked on the same weekday and hours, five places.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import services
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params
from dashboard.layouts._shiftmap import Place, shift_map
from dashboard.params import ShiftParams, parse_shift_params, shift_start
from geo.plan import MONTHS_DEFAULT, PlanResult
from geo.query import DAY_LABELS, FilterError
from geo.settings import TIMEZONE

dash.register_page(__name__, path="/shift", name="On shift", title="Hotspot · On shift",
                   order=1.5)

P = "shift-"
CONTENT, QUERY, LIST, MAP, HERE, LOCATE, LOCATE_STATUS, VIEW, BRIEFING, ERROR = (
    P + s for s in ("content", "query", "list", "map", "here", "locate", "locate-status",
                    "view", "briefing", "error"))


def layout(**query: str) -> html.Div:
    """Build the page from its link: the plan is drawn at once, with no callback to wait for."""
    query = query_params(query)
    return html.Div([
        dcc.Store(id=QUERY, data=query),
        html.Div(_content(query), id=CONTENT),
    ], className="shift")


@callback(Output(CONTENT, "children"), Input(LIVE_VERSION, "data"), State(QUERY, "data"),
          prevent_initial_call=True)
def refresh_shift(_live: Any, query: dict[str, str] | None) -> list[Any]:
    """Draw the plan again when new data land (the link's parameters are kept)."""
    if not isinstance(query, dict):
        raise PreventUpdate
    return _content(query)


# the device's position is read and drawn in the browser: no server callback ever sees it
dash.clientside_callback(
    dash.ClientsideFunction(namespace="hotspot", function_name="locate"),
    Output(HERE, "style"), Output(HERE, "hidden"), Output(LOCATE_STATUS, "children"),
    Input(LOCATE, "n_clicks"), State(VIEW, "data"), prevent_initial_call=True,
)


# ----------------------------------------------------------------------------------------------
def _now() -> datetime:
    """Return the local clock time of the force (:data:`geo.settings.TIMEZONE`)."""
    return datetime.now(ZoneInfo(TIMEZONE)).replace(tzinfo=None)


def _content(query: dict[str, str]) -> list[Any]:
    """Return the page's content for the link's parameters, or say what is wrong with them."""
    svc = services.current()
    status = svc.query.status()
    month_only = bool(status["incidents"]) and \
        status["month_only_incidents"] == status["incidents"]
    last = date.fromisoformat(status["last_date"]) if status["last_date"] else None
    try:
        grouped, _choice = svc.resolve_group(query)
        shift = parse_shift_params(grouped, _now(), data_end=last, month_only=month_only)
        who = svc.query.principal()
        if shift.plan.areas is None and who is not None and who.areas:
            # the officer's own areas, named: the briefing and the link then say where
            shift = replace(shift, plan=replace(shift.plan, areas=who.areas))
        result = svc.plan(shift.plan)
    except FilterError as exc:
        if exc.param == "engine":  # not a setting: the engine in use (geo.door)
            return _problem(exc.message)
        return _problem(f"This link has a setting the shift view cannot use ({exc.param}): "
                        f"{exc.message}.")
    except services.Busy as exc:
        return _problem(f"{exc} Reload the page to try again.")
    return _plan_view(shift, result, "categories" in query or "group" in query)


def _problem(text: str) -> list[Any]:
    return [html.H1("On shift"),
            html.P(text, id=ERROR, className="warning", role="alert"),
            html.P(dcc.Link("Open tonight's plan", href="/shift", className="shift-button"))]


def _hours_text(hours: tuple[int, int]) -> str:
    a, b = hours
    return "all day" if a == b else f"{a:02d}:00–{b or 24:02d}:00"


def _days_text(days: frozenset[int], hours: tuple[int, int]) -> str:
    """Say which shifts the incidents were counted on: "Friday nights (20:00–04:00)"."""
    night = hours[0] != hours[1] and (hours[0] > hours[1] or hours[0] >= 17)
    names = [DAY_LABELS[d] for d in sorted(days)]
    if len(names) == 7:
        when = "any day"
    elif night:
        when = " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names) \
            + " nights"
    else:
        when = " and ".join([", ".join(n + "s" for n in names[:-1]), names[-1] + "s"]
                            if len(names) > 1 else [names[0] + "s"])
    return f"{when} ({_hours_text(hours)})" if hours[0] != hours[1] else when


def _title(shift: ShiftParams, now: datetime) -> str:
    hours = shift.plan.hours
    night = hours[0] != hours[1] and (hours[0] > hours[1] or hours[0] >= 17)
    if shift.start == shift_start(now, hours):
        return "Tonight's plan" if night else "Today's plan"
    return f"Plan for {shift.start:%A} {shift.start.day} {shift.start:%B %Y}"


def _area_label(result: PlanResult) -> str:
    names = services.current().boundaries.names()
    codes = result.params.areas
    return ", ".join(names.get(c, c) for c in codes) if codes else "All areas"


def _fallback_names(result: PlanResult) -> list[str]:
    """Name each place by the areas it lies in ("Claremont, Blackpool").

    Used when no place name is known: better than a cell id, which means nothing on the street.
    """
    import numpy as np

    from geo.boundaries import locate_areas
    from geo.projection import to_bng

    svc = services.current()
    t = result.table
    if not len(t):
        return []
    east, north = to_bng(t["lon"].to_numpy(dtype=float), t["lat"].to_numpy(dtype=float))
    levels = svc.levels()
    labels = [[] for _ in range(len(t))]  # type: list[list[str]]
    # the finest level first (wards, beats...), then the authority
    for name in [n for n in levels if n != "authority"][:1] + ["authority"]:
        codes, index = locate_areas(np.asarray(east), np.asarray(north), levels[name])
        names = levels[name].names()
        for i, k in enumerate(index):
            if k >= 0:
                labels[i].append(names.get(codes[k], codes[k]))
    return [", ".join(dict.fromkeys(parts)) if parts else "Place outside the areas"
            for parts in labels]


def _why(row: dict[str, Any], result: PlanResult) -> str:
    """Why the place is on the plan, in words an officer reads at a glance."""
    p = result.params
    count = int(row["count"])
    incidents = f"{count} incident{'s' if count != 1 else ''}"
    if result.month_only:
        text = f"{incidents} in {_months_text(result)} (the data give no days or times)"
    else:
        text = (f"{incidents} on {_days_text(p.days, p.hours)} in the {p.lookback_weeks} "
                f"weeks to {result.window[1].day} {result.window[1]:%b}")
        peak = str(row.get("peak_hours") or "").split(",")[0].split(" (")[0].strip()
        if peak:
            text += f"; busiest {peak}"
    mostly = str(row.get("main_categories") or "").split(",")[0].split(" (")[0].strip()
    if mostly:
        text += f"; mostly {mostly}"
    trend = str(row.get("trend") or "")
    if trend and not trend.startswith("not compared"):
        before = (f"{p.lookback_months or MONTHS_DEFAULT} months" if result.month_only
                  else f"{p.lookback_weeks} weeks")
        if trend.startswith("new"):
            text += f"; none in the {before} before"
        elif trend.startswith(("up ", "down ", "level ")):
            change, _, counts = trend.partition(" (")
            change = "level" if change.startswith("level") else change
            text += f"; {change} on the {before} before" + (f" ({counts}" if counts else "")
    return text + "."


def _plan_view(shift: ShiftParams, result: PlanResult, chose_group: bool) -> list[Any]:
    svc = services.current()
    who = svc.query.principal()
    now = _now()
    p = result.params
    # no categories means every category: the link says so, or it would open on the default
    # crime-type group (as the Patrol plan page does)
    query = urlencode({**p.to_params(), **({} if p.categories else {"group": "all"})})
    t = result.table
    area = _area_label(result)
    fallback = _fallback_names(result)
    end_day = shift.start.toordinal() + (1 if p.hours[0] > p.hours[1] else 0)
    when = (f"{shift.start:%A} {shift.start.day} {shift.start:%B}" +
            ("" if result.month_only else f", {_hours_text(p.hours)}" +
             (f" (ends {date.fromordinal(end_day):%A})" if end_day != shift.start.toordinal()
              else "")))
    header: list[Any] = [
        html.H1(_title(shift, now)),
        html.P([html.B(area), " · ", when], className="shift-when"),
    ]
    if result.synthetic:
        header.append(html.P("SYNTHETIC SAMPLE: not real incidents", className="shift-synthetic"))
    basis = (f"Places ranked on {'harm' if result.weights else 'incidents'} in "
             f"{_months_text(result)}" if result.month_only else
             f"Places ranked on {'harm' if result.weights else 'incidents'} on "
             f"{_days_text(p.days, p.hours)}, {result.window[0].day} {result.window[0]:%b} to "
             f"{result.window[1].day} {result.window[1]:%b %Y}")
    basis += ", public places only." if p.public_only else "."
    header.append(html.P(basis, className="hint"))
    if last_gap := _stale_note(result, shift):
        header.append(html.P(last_gap, className="note"))

    may_brief = who is None or who.may_see("briefing")
    actions = html.Div([
        html.A("Printed briefing", href=f"/patrol/briefing?{query}", id=BRIEFING,
               className="shift-button") if may_brief and len(t) else None,
        html.A("Jump to the map", href="#" + MAP, className="shift-button secondary")
        if len(t) else None,
    ], className="shift-actions")

    items = []
    visits = result.schedule
    for i, row in enumerate(t.to_dict("records")):
        rank = int(row["rank"])
        name = str(row.get("place_name") or "").strip() or fallback[i]
        v = visits[visits["hotspot"] == rank]
        times = [f"{a}–{b}" for a, b in zip(v["start"], v["end"], strict=True)]
        parts: list[Any] = [
            html.H3([html.Span(str(rank), className="place-number"),
                     html.Span(name, className="place-name")]),
            html.P([html.B("Why: "), _why(row, result)], className="place-why"),
        ]
        if result.month_only:
            parts.append(html.P([html.B("Visits: "), "no times suggested (the data give only "
                                 "the month of each incident)."], className="place-visits"))
        else:
            parts.append(html.P([html.B(f"Visit{'s' if len(times) != 1 else ''}, about 15 "
                                        "minutes each: "),
                                 html.Span(", ".join(times), className="visit-times")],
                                className="place-visits"))
        parts.append(html.P(f"Centre {row['lat']:.5f}, {row['lon']:.5f}", className="hint"))
        if may_brief:
            parts.append(html.A(f"Briefing for place {rank}",
                                href=f"/patrol/briefing?{query}&rank={rank}",
                                className="place-briefing"))
        items.append(html.Li(parts, className="shift-place", id=f"{P}place-{rank}"))

    if not len(t):
        places_block: list[Any] = [
            html.H2("Places"),
            html.P("No place has incidents on this shift in the look-back window, so there is "
                   "nothing to patrol from these data. Patrol as briefed.", id=LIST,
                   className="message")]
        map_block: list[Any] = []
    else:
        total_visits = len(visits)
        heading = f"{len(t)} place{'s' if len(t) != 1 else ''}, in order"
        if not result.month_only:
            heading += f" · {total_visits} visits"
        labelled: dict[str, Any] = {"aria-labelledby": P + "places-heading"}
        places_block = [html.H2(heading, id=P + "places-heading"),
                        html.Ol(items, id=LIST, className="shift-list", **labelled)]
        map_block = _map_block(result, t)
    method = html.Details([
        html.Summary("How this plan was made"),
        html.Ul([html.Li(m) for m in result.method + result.notes], className="method"),
        html.P(["The same plan, with every setting, is on the ",
                dcc.Link("Patrol plan page", href=f"/patrol?{query}")
                if who is None or who.may_see("patrol") else "Patrol plan page", "."],
               className="hint"),
    ], className="shift-method")
    return [html.Header(header, className="shift-head"), actions, *places_block, *map_block,
            method]


def _months_text(result: PlanResult) -> str:
    """Return the months a month-only plan counted, as they are.

    "the 4 months with data to December 2019": a 12-month look-back over 4 months of data
    is not "the last 12 months".
    """
    p = result.params
    wanted = p.lookback_months or MONTHS_DEFAULT
    have = result.n_months or wanted
    end = f"{result.window[1]:%B %Y}"
    if have < wanted:
        return f"the {have} month{'s' if have != 1 else ''} with data to {end}"
    return f"the {wanted} months to {end}"


def _stale_note(result: PlanResult, shift: ShiftParams) -> str:
    """Say so when the data end well before the shift: the plan is older than it looks."""
    gap = (shift.start - result.window[1]).days
    if gap <= 7:
        return ""
    return (f"The data end on {result.window[1].day} {result.window[1]:%B %Y}, {gap} days "
            "before this shift: the places are where incidents were then.")


def _map_block(result: PlanResult, t: Any) -> list[Any]:
    from shapely.geometry import shape

    svc = services.current()
    places = [Place(int(r["rank"]), float(r["lon"]), float(r["lat"]), r["geometry"])
              for r in t.to_dict("records")]
    mine = set(result.params.areas or ())
    areas = []
    for feature in svc.areas_geojson()["features"]:
        code = feature["properties"]["code"]
        areas.append((shape(feature["geometry"]), not mine or code in mine))
    label = (f"Map of the {len(places)} places, numbered as in the list of places above; "
             "the list gives the same places in order.")
    component, view, credit = shift_map(places, areas, map_id=MAP, here_id=HERE, label=label,
                                        basemap=svc.basemap, tile_url=svc.tile_url)
    store = {"x0": view.x0, "y0": view.y0, "x1": view.x1, "y1": view.y1,
             "places": [[p.rank, round(p.lon, 6), round(p.lat, 6)] for p in places]}
    return [
        html.H2("Map"),
        component,
        html.P(["Numbered circles: the places in the list. ",
                html.Span("▼", className="shift-here-shape"), " You are here, once you ask. "
                "Bold line: ", _area_label(result), "; dashed: neighbouring areas."
                + (f" {credit}." if credit else "")],
               className="hint shift-key"),
        html.Div([
            html.Button("Show where I am", id=LOCATE, n_clicks=0, className="shift-button",
                        type="button"),
            html.P("Your position is drawn on this map by your phone and is not sent anywhere.",
                   className="hint"),
            html.P(id=LOCATE_STATUS, role="status", className="shift-locate-status"),
        ], className="shift-locate"),
        dcc.Store(id=VIEW, data=store),
    ]

