"""Hostile and careless requests: every route and every Dash callback answers without a 5xx.

Walks every registered GET route with every parameter it knows (plus an unknown one) set to
hostile values, then calls every Dash callback with values of the wrong type and awkward values
of the right type. A bad value must give a 4xx (JSON naming the parameter) or a normal answer,
never a server error.
"""

from __future__ import annotations

import json
import typing
from typing import Any

import numpy as np
import pytest

from geo.settings import DataPaths

from .access_helpers import acting_as

FILTERS = ["start", "end", "days", "hours", "categories", "source", "la", "public_only",
           "group"]
PLAN = ["unit", "n", "target_share", "lookback_weeks", "lookback_months", "as_of", "seed",
        "eps", "minpts", "significant"]
NTE = ["night", "green_below", "red_above", "amber", "red", "min_history"]

#: Every GET route the server registers, with the parameters it takes. A new route must be
#: added here (the test fails until it is), so nothing escapes the walk.
ROUTES: dict[str, list[str]] = {
    "/api/v1/health": [],
    "/api/v1/whoami": [],
    "/sign-in": ["next"],
    "/api/v1/aggregate": [*FILTERS, "level", "res"],
    "/api/v1/hotspots": [*FILTERS, "res", "n"],
    "/api/v1/patrol-plan": [*FILTERS, *PLAN],
    "/api/v1/backtest": [*FILTERS, "unit", "lookback_months", "horizon_months", "from", "to",
                         "coverage", "study_area"],
    "/api/v1/nte/zones": [*FILTERS, *NTE],
    "/api/v1/nte/nights": [*FILTERS, *NTE],
    "/api/v1/trends": [*FILTERS, "period", "zone", "league_baseline"],
    "/api/v1/emerging": [*FILTERS, "res", "period_days", "periods"],
    "/api/v1/evaluate": [*FILTERS, "target", "baseline", "comparison", "buffer_m",
                         "targets"],
    "/patrol/plan.csv": [*FILTERS, *PLAN],
    "/patrol/plan.geojson": [*FILTERS, *PLAN],
    "/patrol/plan-provenance.json": [*FILTERS, *PLAN],
    "/patrol/briefing": [*FILTERS, *PLAN, "rank"],
    "/nte/zones.geojson": [],
    "/map/geometry.geojson": ["layer", "res", "key"],
    "/nte/sheet": [*FILTERS, *NTE, "zone", "weekend"],
    "/nte/sheet.csv": [*FILTERS, *NTE, "zone", "weekend"],
    "/api/v1/board": [*FILTERS, "period", "baseline", "baseline_year"],
    "/board.csv": [*FILTERS, "period", "baseline", "baseline_year"],
    "/board.pdf": [*FILTERS, "period", "baseline", "baseline_year"],
    "/api/v1/health-data/coverage": [*FILTERS, "shifts", "add_hours", "add_days",
                                     "add_shifts"],
    "/api/v1/health-data/compare": [*FILTERS, "period", "level"],
}
#: Dash's own machinery, static files and the page router: not parameterised by us.
NOT_OURS = {"/static/<path:filename>", "/assets/<path:filename>", "/_dash-layout",
            "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>",
            "/_dash-dependencies", "/_dash-update-component", "/_reload-hash",
            "/_favicon.ico", "/", "/<path:path>", "/api", "/api/<path:rest>"}

#: Routes that take no query parameters, only values in the path, which their own tests walk
#: with hostile values (tests/integration/test_basemap.py: tiles off the grid, bad ranges).
PATH_ONLY = {"/tiles/style.json", "/tiles/<int:z>/<int:x>/<int:y>.<ext>",
             "/tiles/glyphs/<fontstack>/<glyph_range>.pbf", "/tiles/<path:rest>"}

HOSTILE = ["", " ", "0", "-1", "1", "3", "24", "50", "99999999999999999999", "1e309", "nan",
           "-inf", "1.5", "20-4", "25-3", "4-4", "0-24", "0001-01-01", "9999-12-31",
           "2024-02-30", "1969-12-31", "2024-06-07", "2099-01-01", "fri,sat", "fri,,sat", ",",
           "x" * 5000, "../../../../etc/passwd", "/vsicurl/http://example.com/a.geojson",
           "<script>alert(1)</script>", '=HYPERLINK("http://x")', "\x00", "é😀", "true",
           "E07000123", "E07000123,E06000009", "fy:2023", "fy:9999", "year:2023",
           "equal_before", "last_year", "h3-10", "dbscan", "month", "fyq", "week", "day",
           "99", "95", "ZONE", "ZONE@2024-06-01", "ZONE@0001-01-01/9999-12-31", "violence",
           "all"]


#: The hostile values that exercise a page's link parsing (each page build is costly).
LINK_VALUES = ["", " ", "-1", "99999999999999999999", "nan", "1e309", "25-3", "0001-01-01",
               "9999-12-31", "2024-02-30", "fri,,sat", ",", "x" * 5000, "<script>alert(1)</script>",
               "\x00", "é😀", "E07000123", "99", "dbscan", "ZONE@2024-06-01"]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.app import create_app
    from geo.ingest import load_sample
    from geo.zones import add_zone

    data = DataPaths(tmp_path_factory.mktemp("fuzz-data"))
    load_sample(data, n=4000, seed=7)
    # a small zone round Preston's centre, so zone and sheet routes have something to find
    ring = [[-2.708, 53.755], [-2.690, 53.755], [-2.690, 53.765], [-2.708, 53.765]]
    add_zone(data.zones, {"type": "Polygon", "coordinates": [ring + ring[:1]]}, "Fuzz zone")
    app = create_app(data)
    app.zone_id = _zone_id(data)
    app.server.test_client().get("/")  # Dash registers its callbacks on the first request
    return app


def _zone_id(data: DataPaths) -> str:
    from geo.zones import load_zones

    return str(load_zones(data.zones).zones["zone_id"].iloc[0])


def _value(v: str, zone_id: str) -> str:
    return v.replace("ZONE", zone_id)


def _server_errors(client, path: str, params: dict[str, str]) -> str | None:
    resp = client.get(path, query_string=params)
    if resp.status_code >= 500:
        return f"{resp.status_code} {path} {params!r:.200}"
    if resp.status_code == 400 and resp.is_json:
        body = resp.get_json()
        assert body.get("error"), (path, params)
    return None


def test_every_route_is_walked(app):
    rules = {r.rule for r in app.server.url_map.iter_rules() if "GET" in r.methods}
    assert rules - NOT_OURS - PATH_ONLY == set(ROUTES)


@pytest.mark.slow
@pytest.mark.parametrize("path", list(ROUTES), ids=list(ROUTES))
def test_hostile_query_parameters_never_give_a_server_error(app, path):
    """Every parameter of the route (and one it does not know) set to each hostile value."""
    client = app.server.test_client()
    failures = []
    for name in [*ROUTES[path], "colour"]:
        for raw in HOSTILE:
            query = {name: _value(raw, app.zone_id)}
            if path.startswith("/nte/sheet") and name not in {"zone", "weekend"}:
                query |= {"zone": app.zone_id, "weekend": "2024-06-07"}
            bad = _server_errors(client, path, query)
            if bad:
                failures.append(bad)
    assert failures == [], f"{len(failures)} server errors, e.g. {failures[:15]}"


@pytest.mark.slow
def test_hostile_parameter_combinations_never_give_a_server_error(app):
    """Random combinations of several parameters of a route, seeded."""
    client = app.server.test_client()
    failures = []
    rng = np.random.default_rng(20261202)
    for _ in range(400):
        path = list(ROUTES)[rng.integers(len(ROUTES))]
        names = ROUTES[path] or ["colour"]
        chosen = rng.choice(names, size=min(len(names), int(rng.integers(2, 5))), replace=False)
        query = {str(n): _value(HOSTILE[rng.integers(len(HOSTILE))], app.zone_id)
                 for n in chosen}
        bad = _server_errors(client, path, query)
        if bad:
            failures.append(bad)
    assert failures == [], f"{len(failures)} server errors, e.g. {failures[:15]}"


# ---------------------------------------------------------------------------------------------
# Dash callbacks
# ---------------------------------------------------------------------------------------------
WRONG_TYPES: list[Any] = [None, 7, -1.5, True, "text", "", [], ["x"], [1, None], {},
                          {"a": [1]}, [[1]], "x" * 20_000]


def _awkward(tp: Any) -> list[Any]:
    """Values of the right type that a careless or hostile client might send."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, __import__("types").UnionType):
        return [v for a in typing.get_args(tp) for v in _awkward(a)]
    if tp is str:
        return ["", " ", "0001-01-01", "9999-12-31", "2024-02-30", "not a date", "x" * 5000,
                "../../etc/passwd", "=1+2", "\x00", "data:text/csv;base64,@@@",
                "data:application/octet-stream;base64,UEsDBAo=", "fri", "E07000123", "fyq",
                "count", "z-nope", "h3-10", "dbscan"]
    if tp is int:
        return [0, -1, 1, 2**40, -(2**40), 24, 25]
    if tp is float:
        return [0.0, -1.0, 1e308, 1e-9, 0.5, 24]
    if tp is bool:
        return [True, False]
    if typing.get_origin(tp) is list or tp is list:
        return [[], [""], ["fri", "fri"], ["zzz"], [{}], [{"rank": 1}],
                [{"lon": "x", "lat": None, "cell": "y", "rank": 1}], ["x"] * 3000]
    if typing.get_origin(tp) is dict or tp is dict:
        return [{}, {"points": []}, {"points": [{"x": "a", "y": "b"}]},
                {"lassoPoints": {"map": [[0, 0], [1, 1], [2, 2]]}},
                {"lassoPoints": {"map": [["a", "b"]] * 3}}, {"range": None}]
    if tp is type(None):
        return [None]
    return [None, 0, "x", [], {}]


def _callback_cases(app):
    for output, cb in app.callback_map.items():
        if "callback" not in cb:  # runs in the browser
            continue
        func = getattr(cb["callback"], "__wrapped__", cb["callback"])
        hints = typing.get_type_hints(func)
        params = list(__import__("inspect").signature(func).parameters)
        declared = [*cb["inputs"], *cb["state"]]
        types = [hints.get(p, Any) for p in params]
        for i, spec in enumerate(declared):
            for value in [*WRONG_TYPES, *_awkward(types[i] if i < len(types) else Any)]:
                yield output, cb, declared, i, spec, value


def _page_values(app) -> dict[tuple[str, str], Any]:
    """The value every component property starts with on its page, as the browser sends it."""
    import dash

    found: dict[tuple[str, str], Any] = {}

    def walk(component):
        props = getattr(component, "to_plotly_json", lambda: {})().get("props", {})
        if isinstance(props.get("id"), str):
            for key, val in props.items():
                try:
                    json.dumps(val)
                except TypeError:  # components inside: not a value the browser sends back
                    continue
                found[(props["id"], key)] = val
        children = getattr(component, "children", None)
        for child in children if isinstance(children, list | tuple) else [children]:
            if child is not None and hasattr(child, "to_plotly_json"):
                walk(child)

    with app.server.test_request_context("/"), acting_as():
        for page in dash.page_registry.values():
            walk(page["layout"]())
    return found


def _body(output: str, cb: dict[str, Any], declared: list[dict[str, Any]], i: int,
          value: Any, others: dict[tuple[str, str], Any] | None = None) -> dict[str, Any]:
    from dash._utils import split_callback_id

    n_in = len(cb["inputs"])
    others = others or {}
    values = [others.get((d["id"], d["property"])) for d in declared]
    values[i] = value
    entries = [{"id": d["id"], "property": d["property"], "value": v}
               for d, v in zip(declared, values, strict=True)]
    trigger = cb["inputs"][i] if i < n_in else cb["inputs"][0]
    outputs = split_callback_id(output)
    return {"output": output, "outputs": outputs, "inputs": entries[:n_in],
            "state": entries[n_in:],
            "changedPropIds": [f"{trigger['id']}.{trigger['property']}"]}


@pytest.mark.slow
@pytest.mark.parametrize("others", ["empty", "as-the-page-starts"])
def test_dash_callbacks_never_give_a_server_error(app, caplog, others):
    """Neither a 5xx nor a callback fault: faults are shown on the page and logged, so the
    log is where they are caught. Each input takes each awkward value while the callback's
    other inputs are empty, then while they hold the values the page starts with."""
    client = app.server.test_client()
    failures, n = [], 0
    on_page = _page_values(app) if others == "as-the-page-starts" else None
    for output, cb, declared, i, spec, value in _callback_cases(app):
        body = _body(output, cb, declared, i, value, on_page)
        caplog.clear()
        with caplog.at_level("ERROR", logger="hotspot.callbacks"):
            resp = client.post("/_dash-update-component", data=json.dumps(body),
                               content_type="application/json")
        n += 1
        faults = [r for r in caplog.records if r.name == "hotspot.callbacks"]
        if resp.status_code >= 500 or faults:
            failures.append(f"{spec['id']}.{spec['property']}={value!r:.60} -> "
                            f"{resp.status_code} {faults[0].exc_info[1]!r:.80}" if faults else
                            f"{spec['id']}.{spec['property']}={value!r:.60} -> "
                            f"{resp.status_code}")
    assert n > 500
    assert failures == [], f"{len(failures)} of {n} callback calls failed: {failures}"


def test_malformed_callback_requests_are_refused(app):
    client = app.server.test_client()
    output = next(o for o, cb in app.callback_map.items() if "callback" in cb)
    browser_side = next(o for o, cb in app.callback_map.items() if "callback" not in cb)
    for body in ("not json", "[]", "{}", json.dumps({"output": "nope.children"}),
                 json.dumps({"output": browser_side, "inputs": [], "state": []}),
                 json.dumps({"output": output, "inputs": "x"}),
                 json.dumps({"output": output, "inputs": [{"id": "other", "property": "v"}]})):
        resp = client.post("/_dash-update-component", data=body,
                           content_type="application/json")
        assert resp.status_code == 400, body
        assert resp.get_json()["error"]


def test_page_layouts_take_hostile_links(app):
    """A shared link is user input too: every page builds from any query string."""
    import dash

    with app.server.test_request_context("/"), acting_as():
        for page in dash.page_registry.values():
            for name in ["start", "end", "days", "hours", "categories", "la", "res", "layers",
                         "bw", "eps", "minpts", "unit", "measure", "as_of", "lookback_weeks",
                         "n", "target_share", "night", "green_below", "amber", "red",
                         "period", "zone", "significant", "seed"]:
                for raw in LINK_VALUES:
                    page["layout"](**{name: raw})
