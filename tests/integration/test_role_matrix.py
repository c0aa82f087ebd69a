"""Every route, callback and page against every role: generated from the app itself.

The lists come from the running app (Flask's URL map, Dash's callback map, the page
registry), so a new route, callback or page that was given no access decision fails here, and
each role is checked against the decision table in :mod:`dashboard.access.policy`.
"""

from __future__ import annotations

import json
from typing import Any

import dash
import pytest

from dashboard.access.policy import CALLBACKS, PAGES, ROUTES, Need
from geo.access import load_roles
from geo.settings import DataPaths

ROLES = ("admin", "analyst", "officer", "partner", "board", "feed")

#: A concrete address for each route (the rule's placeholders filled in); a new route needs
#: one here, so it is walked.
EXAMPLES = {
    "static": None,  # Flask's own static folder: the app serves none
    "_dash_assets.static": "/assets/style.css",
    "/_favicon.ico": "/_favicon.ico",
    "hotspot_signin.sign_in_form": "/sign-in",
    "hotspot_signin.sign_in": None,  # POST only: see test_access_api.py
    "hotspot_signin.sign_out": None,  # POST only: see test_access_api.py
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": "SUITE",
    "/_dash-layout": "/_dash-layout",
    "/_dash-dependencies": "/_dash-dependencies",
    "/_reload-hash": "/_reload-hash",
    "/": "/",
    "/<path:path>": "/patrol",
    "/_dash-update-component": None,  # POST: the callbacks below
    "api_v1.health": "/api/v1/health",
    "api_v1.whoami": "/api/v1/whoami",
    "api_v1.aggregate": "/api/v1/aggregate",
    "api_v1.patrol_plan": "/api/v1/patrol-plan",
    "api_v1.backtest": "/api/v1/backtest?lookback_months=6",
    "api_v1.nte_zones": "/api/v1/nte/zones",
    "api_v1.nte_nights": "/api/v1/nte/nights",
    "api_v1.trends": "/api/v1/trends",
    "api_v1.emerging": "/api/v1/emerging?periods=4",
    "api_v1.evaluate": "/api/v1/evaluate",
    "api_v1.hotspots": "/api/v1/hotspots",
    "api_v1.ingest": None,  # POST only: see test_ingest_api.py
    "api_v1.board": "/api/v1/board",
    "api_v1.health_coverage": "/api/v1/health-data/coverage",
    "api_v1.health_compare": "/api/v1/health-data/compare?period=quarter",
    "board_exports.board_csv": "/board.csv",
    "board_exports.board_pdf": "/board.pdf",
    "unknown_api_root": "/api",
    "unknown_api": "/api/v2/nothing",
    "patrol_exports.plan_csv_download": "/patrol/plan.csv",
    "patrol_exports.plan_provenance_download": "/patrol/plan-provenance.json",
    "patrol_exports.plan_geojson_download": "/patrol/plan.geojson",
    "patrol_exports.briefing": "/patrol/briefing",
    "nte_exports.zones_download": "/nte/zones.geojson",
    "map_geometry.geometry": "/map/geometry.geojson?layer=cells&res=9",
    "nte_exports.deployment_sheet": "/nte/sheet?zone=ZONE",
    "nte_exports.deployment_sheet_csv": "/nte/sheet.csv?zone=ZONE",
    # the basemap (none configured here: the answers are 404 once the role is let through)
    "tiles.style": "/tiles/style.json",
    "tiles.tile": "/tiles/0/0/0.png",
    "tiles.glyphs": "/tiles/glyphs/Hotspot%20Sans/0-255.pbf",
    "tiles.unknown": "/tiles/nothing",
}

COUNTS: dict[str, int] = {}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.ingest import load_sample
    from geo.zones import add_zone, load_zones

    data = DataPaths(tmp_path_factory.mktemp("roles-data"))
    load_sample(data, n=3000, seed=11)
    ring = [[-2.708, 53.755], [-2.690, 53.755], [-2.690, 53.765], [-2.708, 53.765]]
    add_zone(data.zones, {"type": "Polygon", "coordinates": [ring + ring[:1]]}, "Matrix zone")
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    tokens = {role: accounts.create_token(f"{role}-client", role,
                                          ("E06000009",) if role == "officer" else None)
              for role in ROLES}
    app = create_app(data)
    app.tokens = tokens
    app.zone_id = str(load_zones(data.zones).zones["zone_id"].iloc[0])
    client = app.server.test_client()
    client.get("/", headers=_auth(tokens["analyst"]))  # Dash registers callbacks on first use
    return app


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _allowed(role: str, need: Need) -> bool:
    policy = load_roles()[role]
    if need.public:
        return True
    return ((need.see is None or policy.may_see(need.see))
            and (need.change is None or policy.may_change(need.change)))


def _url(app, endpoint: str) -> str | None:
    url = EXAMPLES[endpoint]
    if url == "SUITE":
        html = app.server.test_client().get("/", headers=_auth(app.tokens["analyst"])).text
        start = html.index("/_dash-component-suites/")
        return html[start:html.index('"', start)]
    return url.replace("ZONE", app.zone_id) if url else None


def test_every_route_has_a_decision_and_an_example(app):
    endpoints = {r.endpoint for r in app.server.url_map.iter_rules()}
    assert endpoints - set(ROUTES) == set(), "routes with no access decision"
    assert endpoints - set(EXAMPLES) == set(), "routes this test does not walk"


def test_every_callback_has_a_decision(app):
    from dashboard.access.gate import callback_name

    names = {callback_name(app, out) for out in app.callback_map} - {None}
    assert len(names) >= 25
    assert names - set(CALLBACKS) == set(), "callbacks with no access decision"


def test_every_page_has_a_decision(app):
    assert {p["path"] for p in dash.page_registry.values()} - set(PAGES) == set()


@pytest.mark.parametrize("role", ROLES)
def test_each_route_answers_each_role_as_the_table_says(app, role):
    client = app.server.test_client()
    wrong = []
    for endpoint, need in ROUTES.items():
        url = _url(app, endpoint)
        if url is None:
            continue
        if endpoint == "/<path:path>" or endpoint == "/":
            need = PAGES[url.split("?")[0]]
        resp = client.get(url, headers=_auth(app.tokens[role]))
        resp.close()  # static files are streamed from disk
        allowed = _allowed(role, need)
        if url == "/" and not allowed and _allowed(role, PAGES["/figures"]):
            # the front door sends a role without the Explorer to the first page it may open
            assert resp.status_code == 303 and resp.headers["Location"] == "/figures"
            continue
        if allowed and resp.status_code in (401, 403):
            wrong.append(f"{url}: {resp.status_code} but {role} may ({need.describe()})")
        if not allowed and resp.status_code != 403:
            wrong.append(f"{url}: {resp.status_code} but {role} may not ({need.describe()})")
        if resp.status_code == 403 and resp.is_json:
            assert "role" in resp.get_json()["error"] or "decision" in resp.get_json()["error"]
        COUNTS["route checks"] = COUNTS.get("route checks", 0) + 1
    assert wrong == []


def _body(app, output: str) -> dict[str, Any]:
    from dash._utils import split_callback_id

    cb = app.callback_map[output]
    entries = lambda specs: [{"id": s["id"], "property": s["property"], "value": None}  # noqa: E731
                             for s in specs]
    trigger = cb["inputs"][0]
    return {"output": output, "outputs": split_callback_id(output),
            "inputs": entries(cb["inputs"]), "state": entries(cb["state"]),
            "changedPropIds": [f"{trigger['id']}.{trigger['property']}"]}


@pytest.mark.parametrize("role", ROLES)
def test_each_callback_answers_each_role_as_the_table_says(app, role):
    from dashboard.access.gate import callback_name

    client = app.server.test_client()
    wrong = []
    for output in app.callback_map:
        name = callback_name(app, output)
        if name is None:
            continue
        need = CALLBACKS[name]
        resp = client.post("/_dash-update-component", data=json.dumps(_body(app, output)),
                           content_type="application/json", headers=_auth(app.tokens[role]))
        allowed = _allowed(role, need)
        if allowed and resp.status_code in (401, 403):
            wrong.append(f"{name}: {resp.status_code} {resp.text[:120]}")
        if not allowed and resp.status_code != 403:
            wrong.append(f"{name}: {resp.status_code} but {role} may not ({need.describe()})")
        COUNTS["callback checks"] = COUNTS.get("callback checks", 0) + 1
    assert wrong == []


def test_anonymous_requests_are_refused_once_a_token_exists(app):
    client = app.server.test_client()
    for endpoint, need in ROUTES.items():
        url = _url(app, endpoint)
        if url is None or need.public:
            continue
        resp = client.get(url)
        resp.close()
        if url.startswith(("/api", "/_dash-", "/patrol/", "/nte/")):
            assert resp.status_code == 401, url
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        else:
            assert resp.status_code == 303, url
            assert resp.headers["Location"].startswith("/sign-in?next=")
    for output in app.callback_map:
        if callback_name_or_none(app, output) is None:
            continue
        resp = client.post("/_dash-update-component", data=json.dumps(_body(app, output)),
                           content_type="application/json")
        assert resp.status_code == 401


def callback_name_or_none(app, output: str) -> str | None:
    from dashboard.access.gate import callback_name

    return callback_name(app, output)


def test_a_page_a_role_may_not_open_says_so_even_through_the_router(app):
    """The page router builds layouts for any path it is sent: each page checks the role."""
    router = next(out for out in app.callback_map
                  if "_pages_content.children" in out)
    body = _body(app, router)
    for item in body["inputs"]:
        if item["property"] == "pathname":
            item["value"] = "/patrol"
        if item["property"] == "search":
            item["value"] = ""
    client = app.server.test_client()
    resp = client.post("/_dash-update-component", data=json.dumps(body),
                       content_type="application/json", headers=_auth(app.tokens["board"]))
    assert resp.status_code == 200
    assert "Not available to your role" in resp.text
    assert "patrol-map" not in resp.text
    resp = client.post("/_dash-update-component", data=json.dumps(body),
                       content_type="application/json", headers=_auth(app.tokens["officer"]))
    assert "patrol-map" in resp.text


def test_menu_lists_only_the_pages_a_role_may_open(app):
    client = app.server.test_client()
    layout = client.get("/_dash-layout", headers=_auth(app.tokens["board"])).text
    assert "Patrol plan" not in layout and "Explorer" not in layout
    layout = client.get("/_dash-layout", headers=_auth(app.tokens["officer"])).text
    assert "Patrol plan" in layout and "Trends" not in layout


def test_the_matrix_was_walked():
    # runs last in this module: the generated checks above must have covered something
    assert COUNTS.get("route checks", 0) >= len(ROLES) * 25
    assert COUNTS.get("callback checks", 0) >= len(ROLES) * 25
