"""Patrol plans through the API and the downloads, as a Grip sergeant would use them."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from geo.settings import DataPaths

PRESTON_NIGHTS = "la=E07000123&days=fri,sat&hours=20-4&n=10"


@pytest.fixture(scope="module")
def patrol_data(tmp_path_factory):
    from dashboard.app import ensure_data

    data = DataPaths(tmp_path_factory.mktemp("patrol-data"))
    ensure_data(data)
    return data


@pytest.fixture(scope="module")
def client(patrol_data):
    from dashboard.app import create_app

    return create_app(patrol_data).server.test_client()


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
    visits = [f["properties"]["visits_per_shift"] for f in feats]
    assert body["patrol_hours"]["per_shift_hours"] == pytest.approx(sum(visits) * 15 / 60)


def test_visits_scale_with_expected_harm(client):
    # The busiest place gets one visit in every two hours of the 8-hour shift (4); the
    # others round(4 x their harm / the top harm), at least 1. Here the top place has 69
    # incidents and the tenth 1: it gets 1 visit, not the same 4.
    body = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}").get_json()
    props = [f["properties"] for f in body["features"]]
    top = props[0]["harm"]
    for p in props:
        want = min(4, max(1, int(4 * p["harm"] / top + 0.5)))
        assert p["visits_per_shift"] == want == len(p["dosage"]), p["rank"]
    assert props[0]["visits_per_shift"] == 4 and props[-1]["visits_per_shift"] == 1
    assert any("in proportion to each place's expected harm" in m
               for m in body["provenance"]["method"])


def test_a_look_back_before_the_data_is_flagged_and_claims_no_trend(client):
    # The sample starts on 1 April 2022: twelve weeks to 1 May 2022 start before it, and the
    # twelve weeks before those lie wholly outside it, so "up x%" would be an artefact.
    body = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}&as_of=2022-05-01").get_json()
    assert body["coverage"]["window"] == "it starts before the data begin (1 Apr 2022)"
    assert body["coverage"]["previous_window"].startswith("it lies outside the data")
    assert any("not fully covered by the data" in n for n in body["notes"])
    for f in body["features"]:
        assert f["properties"]["trend"].startswith("not compared"), f["properties"]["trend"]
        assert "up " not in f["properties"]["why"] and "new:" not in f["properties"]["why"]
    # the forecast reads only the whole weeks the data cover (4 April to 1 May), never the
    # empty weeks before the data as zeros
    method = " ".join(body["provenance"]["method"])
    assert "Expected per shift = the forecast" in method
    assert "the last 4 weeks' counts" in method
    # ranked by the window's harm, the expected figure counts only the shifts the data cover:
    # Friday 1 April to Sunday 1 May 2022 holds 5 Fridays and 5 Saturdays, so 10 shifts,
    # not the window's 24
    body = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}&as_of=2022-05-01"
                      "&ranking=harm").get_json()
    assert "÷ 10 shifts with data" in " ".join(body["provenance"]["method"])


def test_target_share_returns_the_places_holding_it(client):
    body = client.get("/api/v1/patrol-plan?la=E07000123&days=fri,sat&hours=20-4"
                      "&target_share=50").get_json()
    cum = [f["properties"]["cum_share_harm"] for f in body["features"]]
    assert cum[-1] >= 0.5 and (len(cum) == 1 or cum[-2] < 0.5)


@pytest.mark.parametrize(
    ("query", "param"),
    [("unit=hexagons", "unit"), ("n=ten", "n"), ("la=E99999999", "la"),
     ("hours=evening", "hours"), ("target_share=0", "target_share"),
     ("as_of=31/03/2025", "as_of"), ("lookback_weeks=0", "lookback_weeks"),
     ("as_of=0001-01-01", "as_of"), ("as_of=9999-12-31", "as_of"),
     ("lookback_months=0", "lookback_months"), ("lookback_months=3", "lookback_months")],
    ids=["unit", "n", "la", "hours", "share", "as_of", "weeks", "year-1", "year-9999",
         "months", "months-on-dated-data"],
)
def test_bad_plan_parameters_get_400(client, query, param):
    resp = client.get(f"/api/v1/patrol-plan?{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == param


PRESTON_BACKTEST = "la=E07000123&days=fri,sat&hours=20-4&lookback_months=6&public_only=1"


def test_backtest_reports_the_forecast_beside_the_baselines_and_the_oracle(client):
    body = client.get(f"/api/v1/backtest?{PRESTON_BACKTEST}").get_json()
    assert set(body["summary"]) == {"forecast", "count_12m", "count_last", "kde", "oracle"}
    p = body["protocol"]
    assert p["lookback_months"] == 6 and p["coverage"] == [0.01, 0.02, 0.05]
    assert p["filters"]["days"] == "fri,sat" and p["filters"]["hours"] == "20-4"
    # the sample runs April 2022 to March 2025: cutoffs from October 2022 to March 2025
    assert (p["from"], p["to"]) == ("2022-10", "2025-03")
    assert len(body["cutoffs"]) + len(body["skipped"]) == 30
    for cutoff in body["cutoffs"]:
        oracle = cutoff["methods"]["oracle"]
        for method in cutoff["methods"].values():
            for cov, m in method.items():
                assert m["hit_rate"] == pytest.approx(m["hits"] / cutoff["horizon_incidents"])
                assert m["pai"] == pytest.approx(m["hit_rate"] / m["area_share"])
                assert m["hits"] <= oracle[cov]["hits"]
    assert body["summary"]["oracle"]["0.01"]["share_of_ceiling"] == 1.0
    assert body["synthetic_sample"] is True and "did best" in body["sentence"]


def test_the_api_and_the_command_line_give_the_same_backtest(client, patrol_data):
    import subprocess
    import sys
    from pathlib import Path

    api = client.get(f"/api/v1/backtest?{PRESTON_BACKTEST}").get_json()
    hotspot = str(Path(sys.executable).with_name("hotspot"))
    cli = json.loads(subprocess.run(
        [hotspot, "backtest", "--data-dir", str(patrol_data.root), "--la", "E07000123",
         "--days", "fri,sat", "--hours", "20-4", "--lookback-months", "6", "--public-only",
         "--json"],
        capture_output=True, text=True, check=True, timeout=600).stdout)
    assert cli["summary"] == api["summary"] and cli["cutoffs"] == api["cutoffs"]
    assert cli["sentence"] == api["sentence"]


@pytest.mark.parametrize(
    ("query", "param"),
    [("unit=dbscan", "unit"), ("from=October", "from"), ("coverage=0.01,2", "coverage"),
     ("study_area=county", "study_area"), ("lookback_months=0", "lookback_months"),
     ("from=2024-01&to=2023-01", "to"), ("start=2024-01-01", "start")],
    ids=["dbscan", "month", "coverage", "study-area", "look-back", "to-before-from", "start"])
def test_bad_backtest_parameters_get_400_naming_them(client, query, param):
    resp = client.get(f"/api/v1/backtest?{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == param


def test_backtest_unknown_parameter_lists_every_accepted_one(client):
    resp = client.get("/api/v1/backtest?horizon_weeks=3")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == "horizon_weeks"
    for name in ("unit", "lookback_months", "horizon_months", "from", "to", "coverage",
                 "study_area", "days", "hours", "la", "categories"):
        assert name in body["error"], name


def test_backtest_panel_shows_the_api_numbers(client):
    from urllib.parse import urlencode

    from dashboard.layouts import patrol
    from dashboard.params import parse_plan_params

    from .access_helpers import acting_as

    search = "?" + urlencode(parse_plan_params(
        {"la": "E07000123", "days": "fri,sat", "hours": "20-4", "n": "10"}).to_params())
    with acting_as():
        rows, curve, series, note = patrol.run_backtest_panel(1, search, 6)
    body = client.get(f"/api/v1/backtest?{PRESTON_BACKTEST}").get_json()
    assert [r["method"] for r in rows] == [
        "The forecast", "The look-back's count", "Last month's count", "Kernel density",
        "The oracle (the horizon's own counts)"]
    forecast = body["summary"]["forecast"]
    assert rows[0]["c0"].startswith(f"{forecast['0.01']['pai']:.1f} · ")
    assert curve["data"][0]["y"] == [forecast[c]["hit_rate"] for c in ("0.01", "0.02", "0.05")]
    assert series["data"][0]["x"] == [c["cutoff"] for c in body["cutoffs"]]
    assert body["sentence"] in str(note)


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
