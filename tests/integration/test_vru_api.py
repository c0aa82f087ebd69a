"""Trends, emerging hot spots and evaluations through the API, on the synthetic sample."""

from __future__ import annotations

import pytest

from geo.settings import DataPaths


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app, ensure_data

    data = DataPaths(tmp_path_factory.mktemp("vru-data"))
    ensure_data(data)
    return create_app(data).server.test_client()


def test_financial_year_quarters_for_blackpool_beside_the_rest(client):
    body = client.get("/api/v1/trends?la=E06000009&period=fyq").get_json()
    labels = [r["label"] for r in body["rows"] if r["group"] == "Blackpool"]
    assert labels[0] == "2022/23 Q1" and labels[-1] == "2024/25 Q4" and len(labels) == 12
    first = next(r for r in body["rows"] if r["label"] == "2022/23 Q1")
    assert (first["start"], first["end"]) == ("2022-04-01", "2022-06-30")
    groups = {r["group"] for r in body["rows"]}
    assert groups == {"Blackpool", "rest of the area"}
    total = client.get("/api/v1/health").get_json()["data"]["incidents"]
    assert sum(r["count"] for r in body["rows"]) == total


def test_monthly_rolling_twelve_months_and_league_table(client):
    body = client.get("/api/v1/trends?period=month").get_json()
    rows = body["rows"]
    assert len(rows) == 36
    assert rows[10]["rolling_12m"] is None
    assert rows[11]["rolling_12m"] == sum(r["count"] for r in rows[:12])
    league = body["league"]
    assert len(league) == 14 and [r["rank"] for r in league] == list(range(1, 15))
    top = league[0]
    assert top["rate_per_1000"] == pytest.approx(1000 * top["count"] / top["population"])
    assert top["change_pct"] == pytest.approx(
        100 * (top["count"] - top["baseline_count"]) / top["baseline_count"])
    assert body["league_current"] == ["2024-04-01", "2025-03-31"]
    assert body["league_baseline"] == ["2023-04-01", "2024-03-31"]


def test_sources_are_indexed_to_their_own_baseline(client):
    body = client.get("/api/v1/trends?period=month").get_json()
    sources = {r["group"] for r in body["sources"]}
    assert {"police", "ed"} <= sources
    base = [r for r in body["sources"] if r["group"] == "police" and r["in_baseline"]]
    assert sum(r["index"] for r in base) / len(base) == pytest.approx(100)


def test_emerging_hot_spots_with_rules(client):
    body = client.get("/api/v1/emerging?res=8").get_json()
    assert len(body["periods"]) == 10 and body["period_days"] == 42
    cats = {r["category"] for r in body["rows"]}
    assert cats and cats <= {r["category"] for r in body["rules"]}
    assert all(len(r["series"]) == 10 for r in body["rows"])


def test_emerging_periods_are_named_by_their_dates(client):
    body = client.get("/api/v1/emerging?res=8").get_json()
    # six-week periods ending on the last day of the sample, 31 March 2025
    assert body["periods"][-1] == ["2025-02-18", "2025-03-31"]
    assert body["period_labels"][-1] == "18 Feb – 31 Mar 2025"
    assert len(body["period_labels"]) == len(body["periods"]) == 10


def test_emerging_needs_a_minimum_count_to_call_a_cell_hot(client):
    body = client.get("/api/v1/emerging?res=8").get_json()
    assert body["min_count"] == 3 and "at least 3 incidents itself" in body["hot_rule"]
    for r in body["rows"]:
        assert all(n >= 3 for n, hot in zip(r["series"], r["hot"], strict=True) if hot)
        assert r["hot_periods"] == sum(r["hot"])
    # without the rule (min_count=1) quiet cells beside busy ones are called hot spots
    loose = client.get("/api/v1/emerging?res=8&min_count=1").get_json()
    assert any(n < 3 for r in loose["rows"] for n, hot in zip(r["series"], r["hot"],
                                                              strict=True) if hot)


def test_emerging_refuses_work_beyond_its_bound(client):
    resp = client.get("/api/v1/emerging?res=10&periods=60&period_days=7")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == "periods"
    assert "cell-periods" in body["error"] and "300,000" in body["error"]


def test_evaluation_of_an_intervention_in_preston(client):
    body = client.get("/api/v1/evaluate?target=E07000123&start=2024-06-01&end=2024-11-30"
                      "&baseline=last_year").get_json()
    c = body["counts"]
    ratio = c["comparison"]["after"] / c["comparison"]["before"]
    expected = {"target": c["target"]["before"] * ratio,
                "buffer": c["buffer"]["before"] * ratio}
    assert body["expected"] == pytest.approx(expected)
    prevented = sum(expected[k] - c[k]["after"] for k in ("target", "buffer"))
    assert body["wdd"] == pytest.approx(prevented)
    assert body["before_window"] == ["2023-06-01", "2023-11-30"]
    assert body["target"] == "Preston" and body["comparison"] == "rest of the area"
    assert body["ci_low"] < body["wdd"] < body["ci_high"] and body["interpretation"]
    assert body["sign"].startswith("Reading the WDD: positive = fewer incidents")
    assert body["series_period"] == "week" and body["weekly"]


@pytest.mark.parametrize(
    ("query", "param"),
    [("/api/v1/trends?period=quarterly", "period"), ("/api/v1/emerging?res=12", "res"),
     ("/api/v1/evaluate?target=E07000123", "start"),
     ("/api/v1/evaluate?target=nowhere&start=2024-06-01", "target"),
     ("/api/v1/evaluate?target=E07000123&start=2024-06-01&end=2024-01-01", "end"),
     ("/api/v1/evaluate?target=E07000123&start=2024-06-01&baseline=decade", "baseline"),
     ("/api/v1/evaluate?target=E07000123&start=2024-06-01&buffer_m=20-4", "buffer_m"),
     ("/api/v1/evaluate?target=E07000123&start=2024-06-01&buffer_m=nan", "buffer_m"),
     ("/api/v1/evaluate?target=E07000123&start=0001-01-01", "start"),
     ("/api/v1/evaluate?target=E07000123&start=2024-06-01&end=9999-12-31", "end"),
     ("/api/v1/evaluate?target=E07000123&start=2022-02-01", "start"),
     ("/api/v1/evaluate?target=E07000123&start=2024-06-01&baseline=year:2019", "baseline"),
     ("/api/v1/evaluate?targets=E07000123@0001-01-01", "targets"),
     ("/api/v1/trends?league_baseline=9999-12-31", "league_baseline"),
     ("/api/v1/trends?league_baseline=fy:0001", "league_baseline"),
     ("/api/v1/emerging?categories=%20", "categories"),
     ("/api/v1/emerging?periods=0", "periods")],
    ids=["period", "res", "no-start", "target", "end", "baseline", "buffer-range-text",
         "buffer-nan", "start-year-1", "end-year-9999", "start-before-data",
         "baseline-before-data", "staggered-year-1", "league-9999", "league-fy-1",
         "blank-category", "periods"],
)
def test_bad_parameters_get_400(client, query, param):
    resp = client.get(query)
    assert resp.status_code == 400 and resp.get_json()["parameter"] == param


def test_an_event_spanning_all_time_does_not_break_trends(client):
    import json as _json

    from dashboard import services
    from geo.trends import EVENTS_FILE, load_events

    svc = services.current()
    folder = svc.data.events
    folder.mkdir(parents=True, exist_ok=True)
    saved = (folder / EVENTS_FILE).read_text() if (folder / EVENTS_FILE).exists() else None
    # as a hand-edited file (or an older version) could hold it
    (folder / EVENTS_FILE).write_text(_json.dumps({"version": 1, "events": [
        {"name": "forever", "start": "0001-01-01", "end": "9999-12-31", "kind": "other",
         "exclude_from_baselines": True}]}))
    try:
        resp = client.get("/api/v1/trends?period=month")
        assert resp.status_code == 200
        body = resp.get_json()
        assert len(body["rows"]) == 36
        # every baseline day is in the event: the league table says so instead of failing
        assert body["league"] == [] and any("league table cannot" in n for n in body["notes"])
        (event,) = load_events(folder)
        assert event.start.isoformat() == "1990-01-01" and event.end.year < 9999
        from dashboard.layouts import trends

        from .access_helpers import acting_as

        with acting_as():
            out = trends.update_trends(None, "month", None, None, None, None, 0, 24, "")
        assert "league table cannot" in out[3] and out[0]["data"]
        shapes = out[0]["layout"]["shapes"]
        assert shapes[0]["x0"] == "2022-04-01" and shapes[0]["x1"] == "2025-03-31"
    finally:
        if saved is None:
            (folder / EVENTS_FILE).unlink()
        else:
            (folder / EVENTS_FILE).write_text(saved)


def test_zone_trends_seasonal_profile_and_summer_peaks(client):
    import json

    import shapely
    from shapely.geometry import box

    from dashboard import services
    from geo.projection import to_wgs84
    from geo.zones import add_zone

    svc = services.current()
    lon, lat = to_wgs84([353_250.0, 354_250.0], [428_900.0, 429_900.0])
    square = box(lon[0], lat[0], lon[1], lat[1])
    zs = add_zone(svc.zones_dir, json.loads(json.dumps(shapely.geometry.mapping(square))),
                  "Preston test zone")
    zid = zs.zones["zone_id"].iloc[-1]
    body = client.get(f"/api/v1/trends?zone={zid}&period=fyq").get_json()
    assert body["area"] == "Preston test zone"
    q = [r for r in body["rows"] if r["group"] == "Preston test zone"]
    assert q[4]["same_period_last_year"] == q[0]["count"]  # 2023/24 Q1 against 2022/23 Q1
    months = {(r["year"], r["month"]) for r in body["seasonal"]}
    assert (2023, 7) in months
    assert body["peaked_summer_year"] == 2024 and body["peaked_last_summer"]
    assert client.get("/api/v1/trends?zone=z-nothere").status_code == 400


def test_staggered_roll_out_pooled_row_adds_up(client):
    body = client.get("/api/v1/evaluate?targets=E07000123@2024-06-01,"
                      "E06000009@2024-09-01/2024-12-31&comparison=E07000117").get_json()
    assert body["staggered"] is True
    rows = body["rows"]
    assert [r["name"] for r in rows[:2]] == ["Preston", "Blackpool"]
    pooled = rows[-1]
    assert pooled["wdd"] == pytest.approx(rows[0]["wdd"] + rows[1]["wdd"])
    assert pooled["variance"] == pytest.approx(rows[0]["variance"] + rows[1]["variance"])
    assert rows[1]["start_day"] == "2024-09-01" and rows[1]["end_day"] == "2024-12-31"
    bad = client.get("/api/v1/evaluate?targets=E07000123@June")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "targets"


def test_league_against_a_named_baseline_year_with_a_night_filter(client):
    body = client.get("/api/v1/trends?period=month&league_baseline=fy:2022"
                      "&days=fri,sat&hours=20-4").get_json()
    assert body["league_baseline"] == ["2022-04-01", "2023-03-31"]
    assert body["league_current"] == ["2024-04-01", "2025-03-31"]
    assert body["filters"] == {"days": "fri,sat", "hours": "20-4"}
    bad = client.get("/api/v1/trends?league_baseline=fy:2030")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "league_baseline"


def test_evaluation_panel_spells_out_the_sign(client):
    from dashboard.layouts import trends

    from .access_helpers import acting_as

    with acting_as():
        rows, text, figure = trends.run_evaluation(1, "E07000123", "2024-06-01", "2024-11-30",
                                                   "last_year", 250, None, None)
    target = rows[0]
    assert target["area"] == "Target: Preston" and target["expected"] != "–"
    assert target["prevented"].startswith(("+", "-"))
    words = str(text)
    assert "positive = fewer incidents than the comparison area predicts" in words
    assert "incidents prevented" in words or "more than the comparison predicts" in words
    assert figure["layout"]["title"]["text"].startswith("Weekly incidents")


def test_adding_an_event_beyond_the_plausible_dates_is_refused_in_words(client):
    from dashboard.layouts import trends

    items = trends.add_event(1, "forever", "0001-01-01", "9999-12-31", "other")
    assert "an event must lie between 1990-01-01 and" in str(items[-1])


def test_the_level_selector_is_hidden_while_there_is_one_level(client):
    from dashboard.layouts import trends

    from .access_helpers import acting_as

    with acting_as():
        page = trends.layout(level="ward")  # a link naming a level this site does not have
        out = trends.update_trends(None, "month", None, None, None, None, 0, 24, "", None)

    def find(component, target):
        if getattr(component, "id", None) == target:
            return component
        children = getattr(component, "children", None)
        for child in children if isinstance(children, list) else [children]:
            if child is not None and not isinstance(child, str | int | float):
                found = find(child, target)
                if found is not None:
                    return found
        return None

    assert find(page, trends.LEVEL_BOX).style == {"display": "none"}
    assert find(page, trends.LEVEL).value == "authority"
    assert find(page, trends.LEAGUE_TITLE).children == \
        "Local authorities by rate per 1,000 residents"
    assert out[8] == "Local authorities by rate per 1,000 residents" and len(out[2]) == 14
    assert "level=" not in out[5]
    body = client.get("/api/v1/trends?level=ward").get_json()
    assert body["parameter"] == "level"
    assert body["error"] == "'ward' is not a boundary level here; the levels are authority"
