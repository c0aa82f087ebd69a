"""NTE zones through the API and the deployment sheets, on the synthetic sample."""

from __future__ import annotations

import json

import pytest
import shapely

from geo.settings import DataPaths


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard import services
    from dashboard.app import create_app, ensure_data
    from dashboard.params import parse_filters
    from geo.nte import suggest_zones
    from geo.zones import add_zone

    data = DataPaths(tmp_path_factory.mktemp("nte-data"))
    ensure_data(data)
    app = create_app(data)
    svc = services.current()
    from .access_helpers import acting_as

    with acting_as():
        fr = svc.query.frame()
        mask = svc.query.select(parse_filters({"days": "fri,sat", "hours": "20-6"})).mask
    zones = suggest_zones(fr.easting[mask], fr.northing[mask]).to_crs("EPSG:4326")
    for name, geom in zip(["Blackpool centre", "Preston centre"], zones.geometry[:2],
                          strict=True):
        add_zone(svc.zones_dir, json.loads(json.dumps(shapely.geometry.mapping(geom))), name,
                 origin="suggested")
    return app.server.test_client()


def test_zones_geojson_with_figures(client):
    body = client.get("/api/v1/nte/zones").get_json()
    names = [f["properties"]["name"] for f in body["features"]]
    assert names == ["Blackpool centre", "Preston centre"]
    first = body["features"][0]["properties"]
    assert first["night_incidents"] > 1000
    assert 0.9 < first["night_share"] <= 1  # the planted town-centre violence is at night
    assert first["night_count"] <= first["all_count"]
    assert first["latest_status"] in {"red", "amber", "green"}
    assert "previous weekends" in body["status_rule"] and body["night_rule"] == "18:00–06:00"


def test_nights_rows_follow_the_night_rule_and_statuses(client):
    body = client.get("/api/v1/nte/nights").get_json()
    rows = body["rows"]
    assert {r["zone_name"] for r in rows} == {"Blackpool centre", "Preston centre"}
    assert {r["status"] for r in rows} <= {"red", "amber", "green", "not enough history"}
    fridays = [r for r in rows if r["weekend"]]
    assert fridays and all(r["night"] >= "2022-04-01" for r in rows)
    # weekend nights are busier than weekday nights in a town centre
    blackpool = [r for r in rows if r["zone_name"] == "Blackpool centre"]
    wk = [r["count"] for r in blackpool if r["weekend"]]
    other = [r["count"] for r in blackpool if not r["weekend"]]
    assert sum(wk) / len(wk) > 3 * sum(other) / len(other)


def test_fixed_thresholds_and_bad_parameters(client):
    body = client.get("/api/v1/nte/nights?amber=5&red=10").get_json()
    assert "fixed" in body["status_rule"] or "10" in body["status_rule"]
    for r in body["rows"][:200]:
        expected = "red" if r["count"] >= 10 else "amber" if r["count"] >= 5 else "green"
        assert r["status"] == expected
    for query, param in [("night=25-3", "night"), ("amber=9&red=3", "red"),
                         ("green_below=0.9&red_above=0.5", "red_above"), ("days=fry", "days")]:
        resp = client.get(f"/api/v1/nte/nights?{query}")
        assert resp.status_code == 400 and resp.get_json()["parameter"] == param


def test_zones_export_round_trips(client):
    body = client.get("/nte/zones.geojson").get_data(as_text=True)
    exported = json.loads(body)
    assert [f["properties"]["name"] for f in exported["features"]] == [
        "Blackpool centre", "Preston centre"]
    assert exported["features"][0]["geometry"]["type"] in {"Polygon", "MultiPolygon"}


def test_deployment_sheet_html_and_csv(client):
    zone = client.get("/api/v1/nte/zones").get_json()["features"][0]["id"]
    html = client.get(f"/nte/sheet?zone={zone}&weekend=2025-03-28").get_data(as_text=True)
    assert "Deployment sheet: Blackpool centre" in html
    assert "When to deploy" in html and "Last weekends" in html and "SYNTHETIC" in html
    csv = client.get(f"/nte/sheet.csv?zone={zone}&weekend=2025-03-28").get_data(as_text=True)
    assert csv.startswith("section,item,value") and "when (last weekends)" in csv
    assert client.get(f"/nte/sheet?zone={zone}&weekend=2025-03-27").status_code == 400
    assert client.get("/nte/sheet?zone=nope&weekend=2025-03-28").status_code == 400
