"""Month-only data (police.uk) through the plan, backtest, emerging and evaluation endpoints.

police.uk gives each incident only its month. These tests load two years of such months for
Preston (``monthly_data``) and check that every figure is drawn from whole months, that nothing
claims a day, an hour or a visit time the data cannot give, and that a missing month is found
and said, not silently counted as a quiet month.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.integration.monthly_data import RISING, monthly_data_dir

from .access_helpers import acting_as


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    return monthly_data_dir(tmp_path_factory.mktemp("months"))


@pytest.fixture(scope="module")
def gapped(tmp_path_factory):
    # March 2023 missing, as when one month's file was not downloaded
    return monthly_data_dir(tmp_path_factory.mktemp("gap"), skip=("2023-03",))


def serve(data: Any) -> Any:
    """A test client for ``data``; the app factory also makes it the current services."""
    from dashboard.app import create_app

    return create_app(data).server.test_client()


def rising_cell(res: int = 9) -> str:
    import h3

    return h3.latlng_to_cell(RISING[0], RISING[1], res)


# ------------------------------------------------------------------------------- patrol plan


def test_month_only_plan_ranks_whole_months_with_no_shift_visits_or_hours(monthly):
    client = serve(monthly)
    body = client.get("/api/v1/patrol-plan?la=E07000123&n=3").get_json()
    assert body["month_only"] is True
    # twelve whole months by default, against the twelve before: not 12 weeks cutting months
    assert body["window"] == ["2023-01-01", "2023-12-31"]
    assert body["previous_window"] == ["2022-01-01", "2022-12-31"]
    assert body["patrol_hours"] == {"per_shift_hours": None, "per_week_hours": None,
                                    "visits_per_shift": None}
    top = body["features"][0]["properties"]
    assert top["id"] == rising_cell()
    assert top["dosage"] == [] and top["visits_per_shift"] is None
    assert top["expected_per_shift"] is None
    assert top["expected_per_month"] == pytest.approx(top["count"] / 12)
    assert top["peak_hours"] == "not known: the data give only the month"
    # 20 + 2k incidents in month k at this place: 660 in 2023 against 372 in 2022 (plus the
    # background scattered through the cell)
    assert top["trend"].startswith("up ") and top["prev_count"] < top["count"]
    assert "no times recorded" not in top["why"] and "per shift" not in top["why"]
    assert any("no visit times and no patrol hours" in n for n in body["notes"])
    params = body["provenance"]["parameters"]
    assert params["lookback_months"] == "12"
    assert "hours" not in params and "days" not in params and "lookback_weeks" not in params
    html = client.get("/patrol/briefing?la=E07000123&n=3&rank=1").get_data(as_text=True)
    assert "Days and times not known" in html and "No visit times are suggested" in html
    assert "00:00–00:00" not in html and "Shift:" not in html


def test_month_only_plan_page_says_what_it_cannot_give(monthly):
    serve(monthly)
    from dashboard.layouts import patrol

    with acting_as():
        out = patrol.update_plan(["E07000123"], 12, None, list(patrol.DAY_NAMES), 0, 24,
                                 "h3-9", "n", 3, 50, None, ["yes"], 1, "", None)
    rows, summary, dosage, error = out[1], out[2], out[5], out[7]
    assert error == ""
    assert "Jan 2023 – Dec 2023, 12 months with data" in summary
    assert "not suggested" in str(dosage) and "cannot say which days or hours" in str(dosage)
    assert all(r["visits"] == "–" for r in rows)
    # next month's forecast with its 80% interval; over these steady months the half-life
    # chosen is none, so the forecast is the year's average
    number, interval = rows[0]["expected_text"].split(" (")
    assert number == f"{int(rows[0]['incidents_text'].split()[0]) / 12:.1f}"
    low, high = (float(x) for x in interval.rstrip(")").split("–"))
    assert low <= float(number) <= high


@pytest.mark.parametrize(
    ("query", "param"),
    [("days=fri", "days"), ("hours=20-4", "hours"), ("lookback_weeks=4", "lookback_weeks")],
    ids=["days", "hours", "weeks"],
)
@pytest.mark.parametrize("endpoint", ["patrol-plan", "backtest"])
def test_month_only_plan_refuses_a_shift_or_weeks(monthly, endpoint, query, param):
    resp = serve(monthly).get(f"/api/v1/{endpoint}?la=E07000123&{query}")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == param
    assert "only the month" in resp.get_json()["error"]


def test_month_only_look_back_before_the_data_claims_no_trend(monthly):
    # 18 months to December 2023 against the 18 before: July 2020 to June 2022, which starts
    # before the data (January 2022)
    body = serve(monthly).get("/api/v1/patrol-plan?la=E07000123&n=3&lookback_months=18"
                              ).get_json()
    assert body["coverage"]["previous_window"] == \
        "it starts before the data begin (1 Jan 2022)"
    assert all(f["properties"]["trend"].startswith("not compared")
               for f in body["features"])


def test_a_missing_month_is_flagged_and_leaves_the_trend_out(gapped):
    body = serve(gapped).get("/api/v1/patrol-plan?la=E07000123&n=3").get_json()
    assert body["coverage"]["window"] == "the data have no incidents at all in March 2023"
    top = body["features"][0]["properties"]
    assert top["trend"].startswith("not compared")
    assert top["expected_per_month"] == pytest.approx(top["count"] / 11)  # 11 months held


# ------------------------------------------------------------------------------- backtest


def test_month_only_backtest_looks_back_twelve_months(monthly):
    client = serve(monthly)
    body = client.get("/api/v1/backtest?la=E07000123").get_json()
    assert body["window_unit"] == "month" and body["lookback_months"] == 12
    assert body["cutoff"] == "2023-12-01" and body["lookback_from"] == "2022-12-01"
    assert body["horizon"] == ["2023-12-01", "2023-12-31"]
    assert body["coverage_problems"] == []
    six = client.get("/api/v1/backtest?la=E07000123&lookback_months=6").get_json()
    assert six["lookback_from"] == "2023-06-01"
    rolling = client.get("/api/v1/backtest?la=E07000123&rolling=1").get_json()
    cutoffs = sorted({r["cutoff"] for r in rolling["rolling"]})
    assert cutoffs[0] == "2023-01-01" and cutoffs[-1] == "2023-12-01" and len(cutoffs) == 12
    assert rolling["skipped"] == []


def test_backtest_skips_past_dates_whose_windows_hold_a_missing_month(gapped):
    client = serve(gapped)
    body = client.get("/api/v1/backtest?la=E07000123&rolling=1").get_json()
    assert body["months_without_data"] == ["2023-03-01"]
    # March 2023 is the horizon of the March cutoff and in the look-back of April onwards
    kept = sorted({r["cutoff"] for r in body["rolling"]})
    assert kept == ["2023-01-01", "2023-02-01"]
    skipped = [s["cutoff"] for s in body["skipped"]]
    assert skipped == [f"2023-{m:02d}-01" for m in range(3, 13)]
    assert all(s["reason"] == "the data have no incidents at all in March 2023"
               for s in body["skipped"])
    assert "left out of the series" in body["note"]
    # the single default backtest (cutoff December 2023) is flagged, not passed off as whole
    assert body["coverage_problems"] == [
        "the look-back (1 Dec 2022 to 30 Nov 2023) is not fully covered by the data: the data "
        "have no incidents at all in March 2023"]


# ------------------------------------------------------------------------------- emerging


def test_month_only_emerging_hot_spots_use_calendar_months(monthly):
    client = serve(monthly)
    resp = client.get("/api/v1/emerging?la=E07000123&res=9&group=all")
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["period_unit"] == "month" and body["period_days"] is None
    assert body["period_labels"] == [f"{m} 2023" for m in (
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")]
    assert body["periods"][0] == ["2023-01-01", "2023-01-31"]
    assert "at least 3 incidents itself" in body["hot_rule"]
    by_cell = {r["cell"]: r for r in body["rows"]}
    rising = by_cell[rising_cell()]
    assert rising["category"] in {"intensifying", "persistent"} and all(rising["hot"])
    assert rising["series"][0] >= 44  # 20 + 2 * 12 in January 2023, and some background
    import h3

    from tests.integration.monthly_data import QUIET

    assert h3.latlng_to_cell(QUIET[0], QUIET[1], 9) not in by_cell
    bad = client.get("/api/v1/emerging?la=E07000123&period_days=42")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "period_days"


def test_emerging_refuses_periods_holding_a_missing_month(gapped):
    client = serve(gapped)
    resp = client.get("/api/v1/emerging?la=E07000123&res=9&group=all")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "periods"
    error = resp.get_json()["error"]
    assert "no incidents at all in March 2023" in error
    assert "the latest 9 periods avoid it: ask for periods=9" in error
    body = client.get("/api/v1/emerging?la=E07000123&res=9&periods=9").get_json()
    assert body["period_labels"][0] == "Apr 2023"


def test_month_only_emerging_on_the_page(monthly):
    serve(monthly)
    from dashboard.layouts import trends

    with acting_as():
        rows, rules, _fig, note, labels = trends.run_emerging(1, None)
    assert rows and labels[-1] == "Dec 2023"
    assert "12 calendar months, Jan 2023 to Dec 2023" in str(note)
    assert "at least 3 incidents" in str(rules[0])
    assert rows[0]["latest"].endswith("in Dec 2023")


# ------------------------------------------------------------------------------- evaluation


def _zone_round_rising(monthly: Any) -> str:
    import shapely
    from shapely.geometry import Point

    from dashboard import services
    from geo.projection import to_bng, to_wgs84
    from geo.zones import add_zone

    e, n = to_bng([RISING[1]], [RISING[0]])
    square = Point(float(e[0]), float(n[0])).buffer(150, cap_style="square")
    lon, lat = to_wgs84(*map(list, square.exterior.xy))
    ring = shapely.geometry.Polygon(zip(lon, lat, strict=True))
    zones = add_zone(services.current().zones_dir,
                     json.loads(json.dumps(shapely.geometry.mapping(ring))), "Fishergate")
    return str(zones.zones["zone_id"].iloc[-1])


def test_month_only_evaluation_counts_whole_months(monthly):
    client = serve(monthly)
    zone = _zone_round_rising(monthly)
    body = client.get(f"/api/v1/evaluate?target={zone}&start=2023-01-01&group=all").get_json()
    assert body["before_window"] == ["2022-01-01", "2022-12-31"]
    assert body["after_window"] == ["2023-01-01", "2023-12-31"]
    c = body["counts"]
    assert c["target"]["before"] >= 372 and c["target"]["after"] >= 660
    assert body["series_period"] == "month" and len(body["monthly"]) == 3 * 24
    expected = c["target"]["before"] * c["comparison"]["after"] / c["comparison"]["before"]
    assert body["expected"]["target"] == pytest.approx(expected)
    assert body["wdd"] < 0  # the place rose far faster than the rest of Preston
    assert body["interpretation"].startswith("About ")
    assert "more incidents than the comparison area predicts" in body["interpretation"]
    bad = client.get(f"/api/v1/evaluate?target={zone}&start=2023-01-15")
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "start"
    assert "whole months" in bad.get_json()["error"]


def test_evaluation_refuses_a_period_with_a_missing_month(gapped):
    client = serve(gapped)
    zone = _zone_round_rising(gapped)
    resp = client.get(f"/api/v1/evaluate?target={zone}&start=2023-01-01")
    assert resp.status_code == 400 and resp.get_json()["parameter"] == "start"
    assert "no incidents at all in March 2023" in resp.get_json()["error"]


@pytest.mark.parametrize("period", ["day", "week"])
def test_month_only_trends_by_day_or_week_are_refused_not_zeros(monthly, period):
    """Counting month-only incidents by day would show nothing but zeros: no violence."""
    resp = serve(monthly).get(f"/api/v1/trends?period={period}")
    assert resp.status_code == 400
    body = resp.get_json()
    assert body["parameter"] == "period" and "only the month" in body["error"]
