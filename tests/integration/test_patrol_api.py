"""Patrol plans through the API and the downloads, as a Grip sergeant would use them."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from geo.settings import DataPaths

PRESTON_NIGHTS = "la=E07000123&days=fri,sat&hours=20-4&n=10"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app, ensure_data

    data = DataPaths(tmp_path_factory.mktemp("patrol-data"))
    ensure_data(data)
    return create_app(data).server.test_client()


def test_patrol_plan_geojson_ranks_ten_hotspots_with_dosage(client):
    body = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}").get_json()
    feats = body["features"]
    assert body["type"] == "FeatureCollection" and len(feats) == 10
    harms = [f["properties"]["harm"] for f in feats]
    assert harms == sorted(harms, reverse=True)
    first = feats[0]["properties"]
    assert first["rank"] == 1 and first["count"] > 0
    assert len(first["dosage"]) == 4 and first["visits_per_shift"] == 4  # 8 h shift
    assert 0 < first["share_harm"] <= 1 and "incidents on this shift" in first["why"]
    prov = body["provenance"]
    assert prov["parameters"]["la"] == "E07000123" and prov["synthetic_sample"] is True
    assert prov["harm_weights"]["source"].startswith("equal weights")
    assert "EPSG:4326" in prov["crs"] and prov["data_period"].endswith("2025-03-31")
    assert body["patrol_hours"]["per_shift_hours"] == pytest.approx(10 * 4 * 15 / 60)


def test_target_share_returns_the_places_holding_it(client):
    body = client.get("/api/v1/patrol-plan?la=E07000123&days=fri,sat&hours=20-4"
                      "&target_share=50").get_json()
    cum = [f["properties"]["cum_share_harm"] for f in body["features"]]
    assert cum[-1] >= 0.5 and (len(cum) == 1 or cum[-2] < 0.5)


@pytest.mark.parametrize(
    ("query", "param"),
    [("unit=hexagons", "unit"), ("n=ten", "n"), ("la=E99999999", "la"),
     ("hours=evening", "hours"), ("target_share=0", "target_share"),
     ("as_of=31/03/2025", "as_of"), ("lookback_weeks=0", "lookback_weeks")],
    ids=["unit", "n", "la", "hours", "share", "as_of", "weeks"],
)
def test_bad_plan_parameters_get_400(client, query, param):
    resp = client.get(f"/api/v1/patrol-plan?{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == param


def test_backtest_reports_ours_beside_both_baselines(client):
    body = client.get(f"/api/v1/backtest?{PRESTON_NIGHTS}").get_json()
    assert set(body["methods"]) == {"hotspots", "last_period_count", "kde"}
    ours = body["methods"]["hotspots"]
    assert ours["pai"] == pytest.approx(ours["hit_rate"] / ours["area_share"])
    assert ours["hit_rate"] == pytest.approx(ours["n_hits"] / ours["n_horizon"])
    assert ours["pai"] > 10  # the planted night-time hotspots persist
    assert {c["coverage"] for c in body["coverage_curve"]} == {0.01, 0.02, 0.05, 0.1}
    assert client.get("/api/v1/backtest?unit=dbscan").status_code == 400


def test_csv_download_carries_provenance_and_the_same_plan(client):
    resp = client.get(f"/patrol/plan.csv?{PRESTON_NIGHTS}")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    assert text.startswith("rank,id,")  # provenance is the sidecar /patrol/plan-provenance.json
    table = pd.read_csv(io.StringIO(text))
    geo = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}").get_json()
    assert list(table["id"]) == [f["id"] for f in geo["features"]]
    assert list(table["count"]) == [f["properties"]["count"] for f in geo["features"]]
    gj = json.loads(client.get(f"/patrol/plan.geojson?{PRESTON_NIGHTS}").get_data())
    assert gj["provenance"]["parameters"] == geo["provenance"]["parameters"]


def test_briefing_prints_one_page_per_hotspot_without_domestic_points(client):
    html = client.get(f"/patrol/briefing?{PRESTON_NIGHTS}").get_data(as_text=True)
    assert html.count('<section class="page">') == 10
    assert "Koper 1995" in html and "SYNTHETIC" in html
    one = client.get(f"/patrol/briefing?{PRESTON_NIGHTS}&rank=2").get_data(as_text=True)
    assert one.count('<section class="page">') == 1 and "Hotspot 2 of 10" in one
    assert client.get(f"/patrol/briefing?{PRESTON_NIGHTS}&rank=11").status_code == 400


def test_significant_only_keeps_gi_star_hot_spots(client):
    plain = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}").get_json()
    hot = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}&significant=95").get_json()
    plain_ids = [f["id"] for f in plain["features"]]
    hot_ids = [f["id"] for f in hot["features"]]
    assert 0 < len(hot_ids) <= len(plain_ids)
    assert any("Gi*" in n for n in hot["notes"])
    assert any("Getis-Ord" in m for m in hot["provenance"]["method"])
    bad = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}&significant=80")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "significant"
