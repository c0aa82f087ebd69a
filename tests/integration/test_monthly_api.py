"""Month-only data (police.uk) through the plan, backtest, emerging and evaluation endpoints.

police.uk gives each incident only its month. These tests load two years of such months for
Preston (``monthly_data``) and check that every figure is drawn from whole months, that nothing
claims a day, an hour or a visit time the data cannot give, and that a missing month is found
and said, not silently counted as a quiet month.
"""

from __future__ import annotations

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
    if endpoint == "backtest" and param == "lookback_weeks":
        query = "lookback_months=6&days=sat"  # the backtest counts months anyway
        param = "days"
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
    assert body["protocol"]["lookback_months"] == 12
    # two years of months (2022 and 2023): the first whole look-back ends December 2022
    assert [c["cutoff"] for c in body["cutoffs"]] == [f"2023-{m:02d}" for m in range(1, 13)]
    assert body["skipped"] == []
    six = client.get("/api/v1/backtest?la=E07000123&lookback_months=6").get_json()
    assert six["protocol"]["from"] == "2022-07" and len(six["cutoffs"]) == 18
    early = client.get("/api/v1/backtest?la=E07000123&from=2022-06&to=2022-12").get_json()
    assert early["cutoffs"] == [] and len(early["skipped"]) == 7
    assert all("before the data start" in s["reason"] for s in early["skipped"])
    assert early["sentence"].startswith("No cutoff could be scored")


def test_backtest_skips_past_dates_whose_windows_hold_a_missing_month(gapped):
    body = serve(gapped).get("/api/v1/backtest?la=E07000123").get_json()
    # March 2023 is the horizon of the March cutoff and in the look-back of April onwards
    assert [c["cutoff"] for c in body["cutoffs"]] == ["2023-01", "2023-02"]
    skipped = {s["cutoff"]: s["reason"] for s in body["skipped"]}
    assert list(skipped) == [f"2023-{m:02d}" for m in range(3, 13)]
    assert skipped["2023-03"] == "its horizon has no data for 2023-03"
    assert all(skipped[f"2023-{m:02d}"] == "its look-back has no data for 2023-03"
               for m in range(4, 13))
