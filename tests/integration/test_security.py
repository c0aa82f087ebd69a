"""The server's guard rails, as an attacker or a careless client meets them."""

from __future__ import annotations

import json

import pytest

from geo.settings import DataPaths

from .access_helpers import acting_as


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("security-data"))
    load_sample(data, n=2000, seed=3)
    app = create_app(data)
    app.server.test_client().get("/")
    return app


@pytest.fixture
def client(app):
    return app.server.test_client()


@pytest.mark.parametrize("path", ["/", "/patrol", "/api/v1/health", "/api/v1/aggregate",
                                  "/nte/zones.geojson", "/api/v1/nope"],
                         ids=["page", "patrol-page", "health", "data", "export", "404"])
def test_security_headers_on_every_response(client, path):
    resp = client.get(path)
    csp = resp.headers["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self' 'sha256-" in csp and "unsafe-eval" not in csp
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached(client):
    with client.get("/assets/style.css") as resp:
        assert resp.status_code == 200 and resp.headers.get("Cache-Control") != "no-store"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize("host", ["attacker.example", "attacker.example:8050",
                                  "127.0.0.1.attacker.example", "localhost.evil"])
def test_unknown_host_names_are_refused(client, host):
    resp = client.get("/api/v1/health", headers={"Host": host})
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == "Host" and "HOTSPOT_ALLOWED_HOSTS" in body["error"]
    assert client.get("/", headers={"Host": host}).status_code == 400


@pytest.mark.parametrize("host", ["localhost:8050", "127.0.0.1:8050", "[::1]:8050",
                                  "LOCALHOST"])
def test_this_machine_is_answered(client, host):
    assert client.get("/api/v1/health", headers={"Host": host}).status_code == 200


def test_allowed_hosts_come_from_the_setting(tmp_path, monkeypatch):
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path)
    load_sample(data, n=200, seed=1)
    monkeypatch.setenv("HOTSPOT_ALLOWED_HOSTS", "hotspot.force.example, analysts.example")
    client = create_app(data).server.test_client()
    ok = client.get("/api/v1/health", headers={"Host": "hotspot.force.example"})
    assert ok.status_code == 200
    assert client.get("/api/v1/health", headers={"Host": "x.example"}).status_code == 400


@pytest.mark.parametrize("path", ["/api/v1/anything-unknown", "/api/v1/", "/api/v2/health",
                                  "/api", "/api/v1/health/extra"])
def test_unknown_api_paths_are_json_404(client, path):
    resp = client.get(path)
    assert resp.status_code == 404 and resp.is_json
    assert "no API endpoint" in resp.get_json()["error"]


def test_wrong_method_under_api_is_json(client):
    for path in ("/api/v1/health", "/api/v1/nope"):
        resp = client.post(path)
        assert resp.status_code == 405 and resp.is_json


def test_request_body_is_capped_with_the_limit_stated(tmp_path, monkeypatch):
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path)
    load_sample(data, n=200, seed=1)
    monkeypatch.setenv("HOTSPOT_MAX_REQUEST_MB", "1")
    client = create_app(data).server.test_client()
    big = json.dumps({"output": "x", "inputs": [{"value": "a" * (2 * 1024 * 1024)}]})
    resp = client.post("/_dash-update-component", data=big, content_type="application/json")
    assert resp.status_code == 413
    assert "1 MB" in resp.get_json()["error"] and "HOTSPOT_MAX_REQUEST_MB" in resp.get_json()[
        "error"]


def test_callback_with_wrong_types_names_the_component(app, client):
    output = next(o for o in app.callback_map if "explorer-map.figure" in o
                  and "explorer-selection" in o)
    cb = app.callback_map[output]
    from dash._utils import split_callback_id

    entries = [{"id": d["id"], "property": d["property"], "value": None}
               for d in cb["inputs"]]
    state = [{"id": d["id"], "property": d["property"], "value": None} for d in cb["state"]]
    # the filters are the view's state (it runs once the map has its values)
    days = next(e for e in entries + state if e["id"] == "explorer-days")
    days["value"] = "fri"  # a list of days is expected
    body = {"output": output, "outputs": split_callback_id(output), "inputs": entries,
            "state": state, "changedPropIds": [f"{entries[0]['id']}.{entries[0]['property']}"]}
    resp = client.post("/_dash-update-component", data=json.dumps(body),
                       content_type="application/json")
    assert resp.status_code == 400
    assert resp.get_json()["parameter"] == "explorer-days.value"
    assert "list of text" in resp.get_json()["error"]




def test_deployment_sheet_csv_neutralises_formulas(tmp_path):
    from dashboard.app import create_app
    from geo.ingest import load_sample
    from geo.zones import add_zone, load_zones

    data = DataPaths(tmp_path)
    load_sample(data, n=3000, seed=2)
    ring = [[-2.708, 53.755], [-2.690, 53.755], [-2.690, 53.765], [-2.708, 53.765]]
    add_zone(data.zones, {"type": "Polygon", "coordinates": [ring + ring[:1]]},
             '=HYPERLINK("http://evil.example","x")')
    zone_id = load_zones(data.zones).zones["zone_id"].iloc[0]
    client = create_app(data).server.test_client()
    text = client.get(f"/nte/sheet.csv?zone={zone_id}&weekend=2024-06-07").data.decode()
    line = next(row for row in text.splitlines() if row.startswith("zone,"))
    assert ",'=HYPERLINK" in line or ",\"'=HYPERLINK" in line


def _graphs(component):
    from dash import dcc

    if isinstance(component, dcc.Graph):
        yield component
    children = getattr(component, "children", None)
    if children is None:
        return
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            yield from _graphs(child)


def test_no_chart_offers_a_cloud_link(app):
    """Every chart on every page has Plotly's cloud links off ("Share chart..." included)."""
    import dash

    from dashboard.figures import GRAPH_CONFIG

    seen = 0
    with app.server.test_request_context("/"), acting_as():
        for page in dash.page_registry.values():
            for g in _graphs(page["layout"]()):
                seen += 1
                config = getattr(g, "config", None) or {}
                for key, value in GRAPH_CONFIG.items():
                    assert config.get(key) == value, (g.id, key)
    assert seen >= 10


def test_absolute_form_request_lines_are_checked_too(client):
    """'GET http://evil.example/... HTTP/1.1' names the host the client meant (it wins over
    the Host header in HTTP/1.1), so it must be on the allow-list as well."""
    resp = client.get("/api/v1/health", environ_overrides={
        "REQUEST_URI": "http://evil.example/api/v1/health"})
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "Host"
    ok = client.get("/api/v1/health", environ_overrides={
        "REQUEST_URI": "http://localhost:8050/api/v1/health"})
    assert ok.status_code == 200


def test_a_repeated_parameter_means_all_its_values(client):
    both = client.get("/api/v1/aggregate?la=E07000123&la=E06000009").get_json()
    joined = client.get("/api/v1/aggregate?la=E07000123,E06000009").get_json()
    assert both["rows"] == joined["rows"] and len(both["rows"]) == 2
    resp = client.get("/api/v1/hotspots?res=9&res=10")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "res"


@pytest.mark.parametrize("path", ["/api//nosuch", "/api//v1/health", "/api/v1//health"])
def test_odd_api_paths_are_json_404_never_a_page(client, path):
    resp = client.get(path)
    assert resp.status_code == 404 and resp.is_json


def test_a_link_with_a_repeated_parameter_builds_the_page(app):
    import dash

    with app.server.test_request_context("/"), acting_as():
        for page in dash.page_registry.values():
            page["layout"](la=["E07000123", "E06000009"], res=["9", "10"], days=["fri", "sat"])
