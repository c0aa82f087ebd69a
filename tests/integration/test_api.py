"""The HTTP API's contract: 200s with the documented shapes, 400s naming the parameter."""

from __future__ import annotations

import pytest

from dashboard.params import parse_filters
from geo.settings import DataPaths


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app, ensure_data

    data = DataPaths(tmp_path_factory.mktemp("api-data"))
    assert "SYNTHETIC" in (ensure_data(data) or "")
    app = create_app(data)
    return app.server.test_client()


def test_health_reports_data_currency(client):
    body = client.get("/api/v1/health").get_json()
    assert body["status"] == "ok"
    data = body["data"]
    assert data["incidents"] > 10_000 and data["synthetic_sample"] is True
    assert data["first_date"] < data["last_date"] and data["last_ingested"]


def test_aggregate_by_local_authority(client):
    body = client.get("/api/v1/aggregate?level=la").get_json()
    total = client.get("/api/v1/health").get_json()["data"]["incidents"]
    assert body["level"] == "la" and len(body["rows"]) == 14
    assert sum(r["count"] for r in body["rows"]) == total
    preston = next(r for r in body["rows"] if r["code"] == "E07000123")
    assert preston["name"] == "Preston" and preston["population"] == 144_147
    assert preston["rate_per_1000"] == pytest.approx(preston["count"] * 1000 / 144_147)


def test_aggregate_by_h3_matches_filters(client):
    all_rows = client.get("/api/v1/aggregate?level=h3&res=9").get_json()["rows"]
    nights = client.get("/api/v1/aggregate?level=h3&res=9&days=fri,sat&hours=20-4").get_json()
    assert all(len(r["cell"]) == 15 and r["count"] > 0 for r in all_rows)
    n_all = sum(r["count"] for r in all_rows)
    n_nights = sum(r["count"] for r in nights["rows"])
    assert 0 < n_nights < n_all
    assert nights["filters"] == {"days": "fri,sat", "hours": "20-4"}
    la = client.get("/api/v1/aggregate?level=la&days=fri,sat&hours=20-4").get_json()["rows"]
    # the hexagons plus the records placed too coarsely for them (the sample's health records
    # placed only by an LSOA centroid) make the selection, and the answer says how many
    assert nights["left_out"]["count"] > 0 and "LSOA" in nights["left_out"]["why"]
    assert sum(r["count"] for r in la) == n_nights + nights["left_out"]["count"]


def test_hotspots_geojson_ranked(client):
    body = client.get("/api/v1/hotspots?n=5&res=9&days=fri,sat&hours=20-4").get_json()
    assert body["type"] == "FeatureCollection" and len(body["features"]) == 5
    harms = [f["properties"]["harm"] for f in body["features"]]
    assert harms == sorted(harms, reverse=True)
    first = body["features"][0]
    assert first["geometry"]["type"] == "Polygon"
    assert {"rank", "cell", "count", "share", "peak_day", "peak_hour",
            "main_categories"} <= set(first["properties"])
    assert body["synthetic_sample"] is True


@pytest.mark.parametrize(
    ("query", "param"),
    [("/api/v1/aggregate?hours=25-3", "hours"), ("/api/v1/aggregate?days=fry", "days"),
     ("/api/v1/aggregate?level=street", "level"), ("/api/v1/aggregate?level=h3&res=11", "res"),
     ("/api/v1/hotspots?n=lots", "n"), ("/api/v1/hotspots?n=0", "n"),
     ("/api/v1/aggregate?categories=Burglary", "categories"),
     ("/api/v1/aggregate?start=2024-02-30", "start"), ("/api/v1/aggregate?la=E99999999", "la"),
     ("/api/v1/aggregate?colour=red", "colour")],
    ids=["hours", "days", "level", "res", "n-text", "n-zero", "category", "date", "la",
         "unknown"],
)
def test_bad_parameters_get_400_naming_them(client, query, param):
    resp = client.get(query)
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == param and body["error"]


def test_filter_parameters_mean_the_same_as_the_query_layer(client):
    from dashboard import services

    f = parse_filters({"days": "sat", "hours": "22-2", "public_only": "1"})
    from .access_helpers import acting_as

    with acting_as():
        expected = services.current().query.select(f).count
    rows = client.get("/api/v1/aggregate?days=sat&hours=22-2&public_only=1").get_json()["rows"]
    assert sum(r["count"] for r in rows) == expected


def test_map_outlines_are_refused_for_data_the_page_no_longer_shows(client):
    # MapLibre's worker fetches the hexagons by the page's key and numbers them as the page's
    # values: outlines of other data would paint counts on the wrong places
    body = client.get("/map/geometry.geojson?layer=cells&res=9").get_json()
    version, tag, res = body["key"]
    assert res == 9 and [f["id"] for f in body["features"]] == list(range(len(body["features"])))
    current = f"{version}-{tag}-9"
    ok = client.get(f"/map/geometry.geojson?layer=cells&res=9&key={current}")
    assert ok.status_code == 200 and ok.get_json()["key"] == body["key"]
    assert ok.headers["Cache-Control"] == "no-store"  # where incidents are: not on disk
    areas = client.get(f"/map/geometry.geojson?layer=areas&key={current}")
    assert areas.status_code == 200 and len(areas.get_json()["features"]) == 14
    for stale in (f"{version + 1}-{tag}-9", f"{version}-0123456789abcdef-9", "x"):
        refused = client.get(f"/map/geometry.geojson?layer=cells&res=9&key={stale}")
        assert refused.status_code == 409, stale
        assert "data changed" in refused.get_data(as_text=True)


def test_the_map_draws_no_hexagon_that_only_coarsely_placed_records_fall_in(client):
    # the sample's health records placed by an LSOA centroid are too coarse for resolution 9:
    # they are counted as left out, and a hexagon holding only them is not drawn at all
    counted = client.get("/api/v1/aggregate?level=h3&res=9").get_json()
    assert counted["left_out"]["count"] > 0
    drawn = client.get("/map/geometry.geojson?layer=cells&res=9").get_json()
    assert sorted(f["properties"]["cell"] for f in drawn["features"]) == sorted(
        r["cell"] for r in counted["rows"])
