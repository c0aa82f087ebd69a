"""Trends for VRU analysts: periods, series, year on year, baselines, league table, events."""

from __future__ import annotations

import doctest
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose, assert_array_equal

import geo.trends as trends
from geo.settings import SMALL_NUMBER_THRESHOLD
from geo.trends import (
    EVENTS_FILE,
    UNPLACED,
    Event,
    add_event,
    delete_event,
    events_dir,
    excluded_days,
    league_table,
    load_events,
    normalise_to_baseline,
    peaked_last_summer,
    period_bounds,
    period_key,
    period_label,
    rolling_12_months,
    save_events,
    seasonal_profile,
    series,
    to_day,
    uk_covid_lockdowns,
)

#: Rates and means are exact arithmetic on small integers; this only absorbs float rounding.
RTOL = 1e-12


def days(*iso: str) -> np.ndarray:
    return np.array([to_day(d) for d in iso], dtype=np.int64)


def label_of(iso: str, period: str) -> str:
    return period_label(period_key(days(iso), period)[0], period)


def test_module_examples_run():
    result = doctest.testmod(trends, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 15
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# Periods
# --------------------------------------------------------------------------------------------

FY_BOUNDARIES = [
    ("2024-03-31", "2023/24 Q4", "2023/24"),
    ("2024-04-01", "2024/25 Q1", "2024/25"),
    ("2024-06-30", "2024/25 Q1", "2024/25"),
    ("2024-07-01", "2024/25 Q2", "2024/25"),
    ("2024-09-30", "2024/25 Q2", "2024/25"),
    ("2024-10-01", "2024/25 Q3", "2024/25"),
    ("2024-12-31", "2024/25 Q3", "2024/25"),
    ("2025-01-01", "2024/25 Q4", "2024/25"),
    ("2025-01-31", "2024/25 Q4", "2024/25"),
    ("2025-03-31", "2024/25 Q4", "2024/25"),
    ("2025-04-01", "2025/26 Q1", "2025/26"),
    ("2024-02-29", "2023/24 Q4", "2023/24"),
    ("2024-03-01", "2023/24 Q4", "2023/24"),
    ("1999-12-31", "1999/00 Q3", "1999/00"),
    ("2000-01-01", "1999/00 Q4", "1999/00"),
]


@pytest.mark.parametrize(
    ("iso", "quarter", "year"), FY_BOUNDARIES, ids=[f"{d}->{q}" for d, q, _ in FY_BOUNDARIES]
)
def test_financial_year_quarter_at_each_boundary(iso, quarter, year):
    assert label_of(iso, "fyq") == quarter
    assert label_of(iso, "fy") == year
    # The quarter's own bounds contain the day (keys and bounds agree).
    start, end = period_bounds(period_key(days(iso), "fyq"), "fyq")
    assert start[0] <= to_day(iso) <= end[0]


def test_financial_quarters_have_the_right_first_and_last_days():
    key = period_key(days("2024-05-10"), "fyq")[0]
    start, end = period_bounds(np.arange(key, key + 4), "fyq")
    got = [(trends.day_iso(s), trends.day_iso(e)) for s, e in zip(start, end, strict=True)]
    assert got == [("2024-04-01", "2024-06-30"), ("2024-07-01", "2024-09-30"),
                   ("2024-10-01", "2024-12-31"), ("2025-01-01", "2025-03-31")]


def test_leap_day_is_its_own_day_in_february():
    assert label_of("2024-02-29", "day") == "2024-02-29"
    assert label_of("2024-02-29", "month") == "2024-02"
    assert period_key(days("2024-03-01"), "day")[0] - period_key(days("2024-02-28"), "day")[0] == 2


WEEK_CASES = [
    ("2024-12-29", "w/c 2024-12-23"),  # a Sunday ends the week begun the Monday before
    ("2024-12-30", "w/c 2024-12-30"),  # Monday: ISO week 1 of 2025 begins in 2024
    ("2025-01-01", "w/c 2024-12-30"),
    ("2025-01-05", "w/c 2024-12-30"),
    ("2025-01-06", "w/c 2025-01-06"),
    ("2020-12-31", "w/c 2020-12-28"),  # ISO week 53 of 2020
    ("2021-01-03", "w/c 2020-12-28"),
    ("1970-01-01", "w/c 1969-12-29"),
]


@pytest.mark.parametrize(("iso", "label"), WEEK_CASES, ids=[c[0] for c in WEEK_CASES])
def test_week_labels_across_year_ends(iso, label):
    assert label_of(iso, "week") == label


def test_week_keys_follow_iso_weeks_for_seven_years():
    first = date(2019, 1, 1)
    dates = [first + timedelta(days=i) for i in range(7 * 365)]
    keys = period_key(np.array([to_day(d) for d in dates]), "week")
    iso = [d.isocalendar()[:2] for d in dates]
    same_key = keys[1:] == keys[:-1]
    same_iso = np.array([a == b for a, b in zip(iso[1:], iso[:-1], strict=True)])
    assert_array_equal(same_key, same_iso)
    assert set(np.diff(keys)) == {0, 1}
    assert keys.min() >= 0


def test_month_only_rows_go_in_months_quarters_and_years_but_not_days_or_weeks():
    day = np.array([-1, to_day("2025-01-14"), -1])
    month_only = np.array([True, False, False])
    month_first = days("2025-01-01", "2025-01-01", "2025-02-01")
    # The third row has no day but a month: like a month-only row it has no day or week.
    for period, placed in [("day", [False, True, False]), ("week", [False, True, False]),
                           ("month", [True, True, True]), ("fyq", [True, True, True]),
                           ("fy", [True, True, True])]:
        key = period_key(day, period, month_only=month_only, month_first=month_first)
        assert_array_equal(key != UNPLACED, placed, err_msg=period)
    # A row with no day and no month cannot be placed anywhere.
    assert period_key(np.array([-1]), "fy")[0] == UNPLACED
    fyq = period_key(day, "fyq", month_only=month_only, month_first=month_first)
    assert [period_label(k, "fyq") for k in fyq] == ["2024/25 Q4"] * 3


def test_unknown_period_and_unplaced_key_are_refused():
    with pytest.raises(ValueError, match="not a period"):
        period_key(days("2024-01-01"), "quarter")
    with pytest.raises(ValueError, match="could not be placed"):
        period_label(UNPLACED, "month")


# --------------------------------------------------------------------------------------------
# Series
# --------------------------------------------------------------------------------------------


def test_series_counts_empty_periods_as_zero_and_flags_incomplete_edges():
    day = days("2024-01-10", "2024-01-20", "2024-03-05")
    full = series(day, None, None, "month", complete_only=False)
    assert full["label"].tolist() == ["2024-01", "2024-02", "2024-03"]
    assert full["count"].tolist() == [2, 0, 1]
    assert full["complete"].tolist() == [False, True, False]
    assert full["start"].tolist() == ["2024-01-01", "2024-02-01", "2024-03-01"]
    assert full["end"].tolist() == ["2024-01-31", "2024-02-29", "2024-03-31"]
    assert full.attrs["incomplete_periods"] == ["2024-01", "2024-03"]
    assert full.attrs["span"] == ("2024-01-10", "2024-03-05")

    only = series(day, None, None, "month")
    assert only[["label", "count"]].to_dict("records") == [{"label": "2024-02", "count": 0}]

    covered = series(day, None, None, "month", span=("2024-01-01", "2024-03-31"))
    assert covered["complete"].all()
    assert covered["count"].tolist() == [2, 0, 1]


def test_series_start_inside_a_month_makes_that_month_incomplete():
    day = days("2024-01-02", "2024-01-20", "2024-02-10")
    t = series(day, None, None, "month", start="2024-01-15", span=("2024-01-01", "2024-02-29"),
               complete_only=False)
    assert t["count"].tolist() == [1, 1]  # the 2 January incident is before the start
    assert t["complete"].tolist() == [False, True]


def test_series_groups_weights_and_month_only_rows():
    day = np.array([to_day("2024-04-03"), to_day("2024-04-04"), -1, to_day("2024-05-01"),
                    to_day("2024-05-02")])
    month_first = days("2024-04-01", "2024-04-01", "2024-05-01", "2024-05-01", "2024-05-01")
    month_only = np.array([False, False, True, False, False])
    group = np.array([0, 1, 0, 0, -1])
    weight = np.array([2.0, 1.0, 5.0, 0.5, 9.0])
    t = series(day, month_first, month_only, "month", weight=weight, group=group,
               group_labels=["police", "ed", "ambulance"], span=("2024-04-01", "2024-05-31"))
    got = {(r.group, r.label): (r.count, r.harm) for r in t.itertuples()}
    assert got == {
        ("police", "2024-04"): (1, 2.0), ("police", "2024-05"): (2, 5.5),
        ("ed", "2024-04"): (1, 1.0), ("ed", "2024-05"): (0, 0.0),
        ("ambulance", "2024-04"): (0, 0.0), ("ambulance", "2024-05"): (0, 0.0),
    }
    assert t["group"].tolist()[:2] == ["police", "police"]  # group-major order
    assert t.attrs["ungrouped"] == 1
    assert t.attrs["unplaced"] == 0

    weekly = series(day, month_first, month_only, "week", group=group,
                    group_labels=["police", "ed", "ambulance"], complete_only=False)
    assert weekly.attrs["unplaced"] == 1  # the month-only row has no week
    assert weekly["count"].sum() == 3


def test_weekly_series_of_month_only_rows_is_not_shown_as_zero_weeks():
    month_first = days("2019-09-01", "2019-10-01", "2019-10-01")
    day = np.full(3, -1)
    month_only = np.ones(3, dtype=bool)
    t = series(day, month_first, month_only, "week", complete_only=False)
    assert t.attrs["unplaced"] == 3
    assert not t["complete"].any()  # no dated rows: no week is covered
    assert len(series(day, month_first, month_only, "week")) == 0
    # Dated rows cover only their own span in a weekly series, whatever the months cover.
    mixed = series(np.concatenate([day, days("2019-09-10", "2019-09-30")]),
                   np.concatenate([month_first, days("2019-09-01", "2019-09-01")]),
                   np.concatenate([month_only, [False, False]]), "week", complete_only=False)
    assert mixed.loc[mixed["complete"], "label"].tolist() == ["w/c 2019-09-16",
                                                              "w/c 2019-09-23"]


def test_series_in_financial_years_spans_the_january_boundary():
    day = days("2024-03-31", "2024-04-01", "2025-01-15", "2025-03-31")
    t = series(day, None, None, "fy", span=("2023-04-01", "2025-03-31"))
    assert t[["label", "count", "start", "end"]].to_dict("records") == [
        {"label": "2023/24", "count": 1, "start": "2023-04-01", "end": "2024-03-31"},
        {"label": "2024/25", "count": 3, "start": "2024-04-01", "end": "2025-03-31"},
    ]


def test_series_of_nothing_is_an_empty_table_with_its_columns():
    t = series(np.array([], dtype=np.int64), None, None, "month")
    assert list(t.columns) == ["period", "label", "start", "end", "group", "count", "harm",
                               "complete"]
    assert len(t) == 0


# --------------------------------------------------------------------------------------------
# Rolling 12 months and same period last year
# --------------------------------------------------------------------------------------------


def month_days(first_month: str, counts: list[int]) -> np.ndarray:
    """Incidents on the 15th of consecutive months, ``counts[i]`` in month i."""
    m0 = np.datetime64(first_month, "M")
    out = []
    for i, c in enumerate(counts):
        out += [to_day((m0 + i).astype("datetime64[D]") + 14)] * c
    return np.array(out, dtype=np.int64)


def monthly(first_month: str, counts: list[int]) -> pd.DataFrame:
    m0 = np.datetime64(first_month, "M")
    last = (m0 + len(counts)).astype("datetime64[D]") - 1
    return series(month_days(first_month, counts), None, None, "month",
                  span=(str(m0.astype("datetime64[D]")), str(last)))


def test_rolling_12_months_on_counts_equal_to_the_month_number():
    t = rolling_12_months(monthly("2022-01", list(range(1, 25))))
    assert t["count"].tolist() == list(range(1, 25))
    assert t["rolling_12m"].iloc[:11].isna().all()
    assert t["rolling_12m"].iloc[11] == 78  # 1 + 2 + ... + 12
    assert t["rolling_12m"].iloc[23] == 222  # 13 + ... + 24
    assert t["same_period_last_year"].iloc[23] == 12
    assert t["change_vs_last_year"].iloc[23] == 12
    assert t["change_pct_vs_last_year"].iloc[23] == 100.0
    assert t["same_period_last_year"].iloc[:12].isna().all()
    assert t["rolling_12m_last_year"].iloc[23] == 78
    assert_allclose(t["rolling_12m_change_pct"].iloc[23], 100 * (222 - 78) / 78, rtol=RTOL)
    assert t.loc[12, "change_text"] == "13 in 2023-01 against 1 in 2022-01 (+1200.0%)"


def test_change_percent_is_always_computed_from_the_counts_shown():
    counts = [5, 0, 7, 3, 9, 4, 6, 2, 8, 1, 10, 11, 6, 4, 7, 0, 12, 2, 3, 5, 8, 1, 10, 22]
    t = rolling_12_months(monthly("2022-04", counts))
    cur, base = t["count"].to_numpy(float), t["same_period_last_year"].to_numpy()
    has = np.isfinite(base) & (base != 0)
    assert_allclose(t["change_pct_vs_last_year"][has], 100 * (cur[has] - base[has]) / base[has],
                    rtol=RTOL)
    # May 2023 (4) against May 2022 (0): no percent from a zero base, but both counts shown.
    may = t[t["label"] == "2023-05"].iloc[0]
    assert may["same_period_last_year"] == 0 and may["change_vs_last_year"] == 4
    assert np.isnan(may["change_pct_vs_last_year"])
    assert may["change_text"] == "4 in 2023-05 against 0 in 2022-05 (no percent from 0)"


def test_rolling_window_with_an_incomplete_month_is_not_summed():
    day = month_days("2022-01", [1] * 14)
    t = rolling_12_months(series(day, None, None, "month", span=("2022-01-10", "2023-02-28"),
                                 complete_only=False))
    assert not t["complete"].iloc[0]
    # Windows ending Dec 2022 and Jan 2023 contain January 2022 (incomplete) only in the first.
    assert np.isnan(t["rolling_12m"].iloc[11])
    assert t["rolling_12m"].iloc[12] == 12
    # January 2023 would compare with the incomplete January 2022: no comparison.
    assert np.isnan(t["same_period_last_year"].iloc[12])


def test_excluded_month_is_not_used_as_last_year():
    t = rolling_12_months(monthly("2020-01", list(range(1, 25))),
                          exclude=excluded_days(uk_covid_lockdowns()[:1]))
    by = t.set_index("label")
    assert by.loc["2021-04", "last_year_excluded"]
    assert np.isnan(by.loc["2021-04", "same_period_last_year"])
    assert "excluded event" in by.loc["2021-04", "change_text"]
    assert by.loc["2021-02", "same_period_last_year"] == 2  # February 2020 was before it
    assert not by.loc["2021-02", "last_year_excluded"]
    assert t.attrs["excluded_periods"] == ["2020-03", "2020-04", "2020-05", "2020-06",
                                           "2020-07"]
    # March to July 2020 withhold the month comparisons of March to July 2021 and, through
    # the 12-month windows, the rolling comparisons of March to December 2021.
    assert t.attrs["excluded_comparisons"] == 5
    assert t.attrs["excluded_rolling_comparisons"] == 10
    assert by.loc["2021-08", "same_period_last_year"] == 8
    assert not by.loc["2021-08", "last_year_excluded"]
    assert by.loc["2021-08", "rolling_12m_last_year_excluded"]
    assert np.isnan(by.loc["2021-08", "rolling_12m_last_year"])
    assert by.loc["2021-08", "change_text"] == "20 in 2021-08 against 8 in 2020-08 (+150.0%)"


def test_rolling_needs_a_monthly_table():
    weekly = series(days("2024-01-01", "2024-02-01"), None, None, "week")
    with pytest.raises(ValueError, match="monthly series"):
        rolling_12_months(weekly)


# --------------------------------------------------------------------------------------------
# Sources against their own baselines
# --------------------------------------------------------------------------------------------


def test_normalisation_leaves_an_event_month_out_of_the_baseline_mean():
    police = [10, 12, 14, 40, 8, 6, 9]  # January to July 2019; April had an operation
    ed = [20, 20, 20, 20, 20, 20, 30]
    day = np.concatenate([month_days("2019-01", police), month_days("2019-01", ed)])
    group = np.array([0] * sum(police) + [1] * sum(ed))
    t = series(day, None, None, "month", group=group, group_labels=["police", "ed"],
               span=("2019-01-01", "2019-07-31"))
    baseline = ("2019-01-01", "2019-06-30")

    plain = normalise_to_baseline(t, baseline)
    p = plain[plain["group"] == "police"]
    assert p["baseline_mean"].iloc[0] == 15.0  # 90 / 6
    assert p["baseline_periods"].iloc[0] == 6

    op = Event("Op April", date(2019, 4, 10), date(2019, 4, 16), "operation")
    norm = normalise_to_baseline(t, baseline, exclude=excluded_days([op]))
    p = norm[norm["group"] == "police"].set_index("label")
    assert p["baseline_mean"].iloc[0] == 10.0  # (90 - 40) / 5: the mean falls by 5
    assert p["baseline_periods"].iloc[0] == 5
    assert p["baseline_excluded_periods"].iloc[0] == 1
    assert not p.loc["2019-04", "in_baseline"] and not p.loc["2019-07", "in_baseline"]
    assert_allclose(p["index"].to_numpy(), [100, 120, 140, 400, 80, 60, 90], rtol=RTOL)
    e = norm[norm["group"] == "ed"]
    assert e["baseline_mean"].iloc[0] == 20.0
    assert_allclose(e["index"].iloc[-1], 150.0, rtol=RTOL)  # each source against itself
    assert (norm["baseline"] == "2019-01-01 to 2019-06-30").all()


def test_normalisation_ignores_incomplete_periods_and_refuses_an_empty_baseline():
    day = month_days("2019-01", [4, 8, 12])
    t = series(day, None, None, "month", span=("2019-01-20", "2019-03-31"), complete_only=False)
    n = normalise_to_baseline(t, ("2019-01-01", "2019-03-31"))
    assert n["baseline_mean"].iloc[0] == 10.0  # January is incomplete and left out
    zero = series(day, None, None, "month", span=("2019-01-01", "2019-03-31"))
    zero.loc[:, "count"] = 0
    assert normalise_to_baseline(zero, ("2019-01-01", "2019-03-31"))["index"].isna().all()
    with pytest.raises(ValueError, match="no complete period"):
        normalise_to_baseline(t, ("2018-01-01", "2018-12-31"))


# --------------------------------------------------------------------------------------------
# League table
# --------------------------------------------------------------------------------------------

CUR = ("2024-04-01", "2024-06-30")  # 91 days
BASE = ("2023-04-01", "2023-06-30")  # 91 days
NAMES = {"A": "Avon", "B": "Bury", "C": "Crewe", "D": "Dover", "E": "Ely"}
POP = {"A": 1000, "B": 2000, "C": None, "D": 500, "E": 100}
PLAN = {  # area: (current count, baseline count)
    "A": (30, 20), "B": (40, 50), "C": (15, 10), "D": (5, 4), "E": (12, 0),
}


def league_incidents(plan=PLAN, cur_day="2024-05-15", base_day="2023-05-15"):
    area, day = [], []
    for code, (cur, base) in plan.items():
        area += [code] * (cur + base)
        day += [to_day(cur_day)] * cur + [to_day(base_day)] * base
    return np.array(area), np.array(day, dtype=np.int64)


def test_league_table_rates_ranks_changes_and_small_numbers():
    area, day = league_incidents()
    t = league_table(list(NAMES), NAMES, POP, CUR, BASE, area, day)
    assert t["code"].tolist() == ["E", "A", "B", "D", "C"]
    assert t["rank"].tolist()[:4] == [1, 2, 3, 4] and pd.isna(t["rank"].iloc[4])
    by = t.set_index("code")
    assert_allclose(by.loc[["E", "A", "B", "D"], "rate_per_1000"], [120, 30, 20, 10],
                    rtol=RTOL)
    assert_allclose(by.loc[["A", "B", "D"], "baseline_rate_per_1000"], [20, 25, 8], rtol=RTOL)
    assert by.loc["A", "change"] == 10 and by.loc["A", "change_pct"] == 50.0
    assert by.loc["B", "change"] == -10 and by.loc["B", "change_pct"] == -20.0
    assert by.loc["D", "change_pct"] == 25.0
    assert np.isnan(by.loc["E", "change_pct"])  # baseline 0
    assert np.isnan(by.loc["C", "rate_per_1000"]) and "population unknown" in by.loc["C", "note"]
    small = {c for c, (a, b) in PLAN.items() if min(a, b) < SMALL_NUMBER_THRESHOLD}
    assert set(by.index[by["small_number"]]) == small == {"D", "E"}
    assert (by.loc[sorted(small), "note"].str.contains("too few to compare")).all()
    assert by.loc["A", "note"] == ""
    assert (t["baseline_count_scaled"] == t["baseline_count"]).all()
    assert t.attrs["current"] == "2024-04-01 to 2024-06-30"
    assert t.attrs["baseline"] == "2023-04-01 to 2023-06-30"


def test_league_table_refuses_unequal_periods_unless_allowed_then_annualises():
    area, day = league_incidents()
    short_base = ("2023-04-01", "2023-05-31")  # 61 days against 91
    with pytest.raises(ValueError, match="91 days and the baseline 61"):
        league_table(list(NAMES), NAMES, POP, CUR, short_base, area, day)
    t = league_table(list(NAMES), NAMES, POP, CUR, short_base, area, day, allow_unequal=True)
    a = t.set_index("code").loc["A"]
    assert_allclose(a["rate_per_1000"], 30 * 365.25 / 91, rtol=RTOL)
    assert_allclose(a["baseline_rate_per_1000"], 20 * 365.25 / 61, rtol=RTOL)
    assert_allclose(a["baseline_count_scaled"], 20 * 91 / 61, rtol=RTOL)
    assert_allclose(a["change_pct"], 100 * (30 - 20 * 91 / 61) / (20 * 91 / 61), rtol=RTOL)
    assert "per year" in a["note"]


def test_twelve_months_to_june_against_the_year_before_is_equal_across_a_leap_day():
    area, day = league_incidents()
    t = league_table(list(NAMES), NAMES, POP, ("2023-07-01", "2024-06-30"),
                     ("2022-07-01", "2023-06-30"), area, day)
    assert t.attrs["current_days"] == 366 and t.attrs["baseline_days"] == 365
    assert t.set_index("code").loc["A", "change_pct"] == 50.0


def test_league_table_refuses_overlapping_periods():
    area, day = league_incidents()
    with pytest.raises(ValueError, match="overlaps"):
        league_table(list(NAMES), NAMES, POP, CUR, ("2024-01-01", "2024-04-01"), area, day)


def test_league_table_scales_a_baseline_with_excluded_days():
    area, day = league_incidents()
    # Two more baseline incidents in A, inside a week of action that is left out.
    area = np.concatenate([area, ["A", "A"]])
    day = np.concatenate([day, days("2023-04-03", "2023-04-03")])
    week = Event("Week of action", date(2023, 4, 1), date(2023, 4, 7), "week of action")
    t = league_table(list(NAMES), NAMES, POP, CUR, BASE, area, day,
                     exclude=excluded_days([week]))
    a = t.set_index("code").loc["A"]
    assert a["baseline_count"] == 20
    assert_allclose(a["baseline_count_scaled"], 20 * 91 / 84, rtol=RTOL)
    assert_allclose(a["change_pct"], 100 * (30 - 20 * 91 / 84) / (20 * 91 / 84), rtol=RTOL)
    assert "84 of 91 days used, 7 in excluded events" in a["note"]
    assert t.attrs["excluded_baseline_days"] == 7


def test_league_table_integer_codes_and_month_only_rows():
    labels = ["A", "B"]
    # A month-only row counts in a period only when its whole month lies inside it.
    area = np.array([0, 0, 1, 1, -1])
    day = np.array([-1, -1, -1, to_day("2024-05-05"), to_day("2024-05-05")])
    month_first = days("2024-05-01", "2024-03-01", "2023-06-01", "2024-05-01", "2024-05-01")
    month_only = np.array([True, True, True, False, False])
    t = league_table(labels, NAMES, POP, CUR, BASE, area, day, area_labels=labels,
                     month_first=month_first, month_only=month_only)
    by = t.set_index("code")
    assert (by.loc["A", "count"], by.loc["A", "baseline_count"]) == (1, 0)  # May 2024 row
    assert (by.loc["B", "count"], by.loc["B", "baseline_count"]) == (1, 1)
    assert t.attrs["month_only_straddling"] == 0
    # From 15 May, May 2024 is cut by the edge (not counted, reported); June 2023 still lies
    # inside 15 May to 13 August 2023, and the dated 5 May 2024 row is before the start.
    t2 = league_table(labels, NAMES, POP, ("2024-05-15", "2024-08-13"),
                      ("2023-05-15", "2023-08-13"), area, day, area_labels=labels,
                      month_first=month_first, month_only=month_only)
    by2 = t2.set_index("code")
    assert t2.attrs["month_only_straddling"] == 1
    assert by2["count"].to_dict() == {"A": 0, "B": 0}
    assert by2["baseline_count"].to_dict() == {"A": 0, "B": 1}


def test_league_table_reports_incidents_outside_the_listed_areas():
    area, day = league_incidents()
    area = np.concatenate([area.astype(object), ["Z", None, ""]])
    day = np.concatenate([day, days("2024-05-15", "2024-05-15", "2024-05-15")])
    t = league_table(["A", "B"], NAMES, POP, CUR, BASE, area, day)
    assert t["code"].tolist() == ["A", "B"]
    assert t.attrs["outside_listed_areas"] == 15 + 10 + 5 + 4 + 12 + 1  # C, D, E and Z


def test_league_table_lists_only_areas_with_data_when_asked():
    # 374 national districts, of which a force's data touch a handful: the rest are not rows.
    area, day = league_incidents()
    codes = [*NAMES, "Q", "R"]
    full = league_table(codes, NAMES, {**POP, "Q": 10, "R": 10}, CUR, BASE, area, day)
    assert {"Q", "R"} <= set(full["code"])
    t = league_table(codes, NAMES, {**POP, "Q": 10, "R": 10}, CUR, BASE, area, day,
                     only_with_data=True)
    assert set(t["code"]) == set(NAMES)
    baseline_only = league_table(["A", "B"], NAMES, POP, CUR, BASE, np.array(["B"]),
                                 days("2023-05-15"), only_with_data=True)
    assert baseline_only["code"].tolist() == ["B"]  # an area that fell to zero stays listed


def test_league_table_refuses_to_rank_when_an_area_with_data_has_no_population():
    # One district with a borrowed population and 19 incidents once ranked first above the
    # force's own districts, which had none.
    plan = {"A": (19, 15), "B": (4000, 3900), "C": (2500, 2600)}
    area, day = league_incidents(plan)
    pops = {"A": 1000, "B": None, "C": None}
    t = league_table(list(plan), NAMES, pops, CUR, BASE, area, day, require_population=True)
    assert t["rank"].isna().all()
    assert t["code"].tolist() == ["B", "C", "A"]  # by count, not by the one rate there is
    assert t.attrs["unranked_reason"] == (
        "not ranked: 2 of 3 areas have no population (Bury, Crewe), so their rates cannot "
        "be compared")
    complete = league_table(list(plan), NAMES, {"A": 1000, "B": 2e5, "C": 2e5}, CUR, BASE,
                            area, day, require_population=True)
    assert complete["rank"].tolist() == [1, 2, 3] and complete.attrs["unranked_reason"] == ""
    # an area with no incidents and no population does not block the ranking
    t2 = league_table([*plan, "E"], NAMES, {"A": 1000, "B": 2e5, "C": 2e5}, CUR, BASE, area,
                      day, only_with_data=True, require_population=True)
    assert t2["rank"].notna().all() and "E" not in set(t2["code"])


# --------------------------------------------------------------------------------------------
# Events calendar
# --------------------------------------------------------------------------------------------


def test_events_round_trip_in_the_data_directory(tmp_path):
    folder = events_dir(tmp_path)
    assert load_events(folder) == []  # nothing is built in
    ops = [Event("Op Sceptre", date(2024, 5, 13), date(2024, 5, 19), "week of action"),
           Event("Op Ember", date(2023, 12, 1), date(2023, 12, 31), "operation", False)]
    target = save_events(ops, folder)
    assert target == tmp_path / "events" / EVENTS_FILE
    assert [p.name for p in folder.iterdir()] == [EVENTS_FILE]  # no temporary file left
    back = load_events(folder)
    assert back == sorted(ops, key=lambda e: e.start)
    assert json.loads(target.read_text())["events"][0]["start"] == "2023-12-01"

    after_add = add_event(folder, uk_covid_lockdowns()[1])
    assert len(after_add) == 3
    with pytest.raises(ValueError, match="already saved"):
        add_event(folder, Event("op sceptre ", date(2024, 1, 1), date(2024, 1, 1), "other"))
    assert [e.name for e in delete_event(folder, "OP EMBER")] == [
        "Second national lockdown (England)", "Op Sceptre"]
    with pytest.raises(ValueError, match="no saved event called 'Op Nothing'"):
        delete_event(folder, "Op Nothing")
    assert len(load_events(folder)) == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Late", "start": date(2024, 2, 1), "end": date(2024, 1, 31)},
         "ends on 2024-01-31, before it starts on 2024-02-01"),
        ({"name": "  ", "start": date(2024, 1, 1), "end": date(2024, 1, 1)}, "needs a name"),
        ({"name": "Odd", "start": date(2024, 1, 1), "end": date(2024, 1, 1), "kind": "party"},
         "choose one of lockdown"),
        ({"name": "Text", "start": "2024-01-01", "end": date(2024, 1, 1)}, "needs a start date"),
    ],
    ids=["end-before-start", "blank-name", "unknown-kind", "start-not-a-date"],
)
def test_event_validation_says_what_is_wrong(kwargs, message):
    kwargs.setdefault("kind", "other")
    with pytest.raises(ValueError, match=message):
        Event(**kwargs)


def test_one_day_event_is_allowed_and_duplicate_names_are_refused(tmp_path):
    one = Event("Match day", date(2024, 8, 17), date(2024, 8, 17), "other")
    assert one.days == 1
    with pytest.raises(ValueError, match="Two events are called"):
        save_events([one, Event("MATCH DAY", date(2024, 9, 1), date(2024, 9, 1), "other")],
                    tmp_path)


def test_unreadable_events_file_is_reported_and_kept(tmp_path):
    (tmp_path / EVENTS_FILE).write_text("{not json")
    with pytest.raises(ValueError, match="cannot be read"):
        load_events(tmp_path)
    assert (tmp_path / EVENTS_FILE).read_text() == "{not json"
    (tmp_path / EVENTS_FILE).write_text(json.dumps(
        {"version": 1, "events": [{"name": "x", "start": "2024-13-01", "end": "2024-01-01",
                                   "kind": "other"}]}))
    with pytest.raises(ValueError, match="not a date"):
        load_events(tmp_path)


def test_excluded_days_and_the_optional_lockdowns():
    lockdowns = uk_covid_lockdowns()
    assert [e.days for e in lockdowns] == [104, 28, 62]
    assert all(e.kind == "lockdown" and e.exclude_from_baselines for e in lockdowns)
    ex = excluded_days(lockdowns + [Event("kept", date(2019, 1, 1), date(2019, 1, 9), "other",
                                          exclude_from_baselines=False)])
    assert ex.size == 104 + 28 + 62
    assert to_day("2020-03-22") not in ex and to_day("2020-03-23") in ex
    assert to_day("2020-07-04") in ex and to_day("2020-07-05") not in ex
    assert to_day("2021-03-08") in ex and to_day("2021-03-09") not in ex
    assert to_day("2019-01-05") not in ex
    overlapping = [Event("a", date(2024, 1, 1), date(2024, 1, 5), "other"),
                   Event("b", date(2024, 1, 4), date(2024, 1, 6), "other")]
    assert_array_equal(excluded_days(overlapping), np.arange(to_day("2024-01-01"),
                                                             to_day("2024-01-07")))


def test_events_outside_plausible_dates_are_refused_or_clipped(tmp_path):
    from geo.settings import limits
    from geo.trends import EVENT_YEARS_AHEAD, event_bounds

    lo, hi = event_bounds()
    assert lo == date(1990, 1, 1)
    assert hi == date(limits().latest_date.year + EVENT_YEARS_AHEAD, 12, 31)
    with pytest.raises(ValueError, match="an event must lie between 1990-01-01 and"):
        Event("forever", date(1, 1, 1), date(9999, 12, 31), "other")
    # a file written by hand (or an older version) keeps working: the event is clipped
    (tmp_path / EVENTS_FILE).write_text(json.dumps({"version": 1, "events": [
        {"name": "forever", "start": "0001-01-01", "end": "9999-12-31", "kind": "other"},
        {"name": "later", "start": "9000-01-01", "end": "9000-01-02", "kind": "other"}]}))
    forever, later = load_events(tmp_path)
    assert (forever.start, forever.end) == (lo, hi)
    assert (later.start, later.end) == (hi, hi)
    # excluded days are clipped to the bounds, and to the data's span when given
    assert excluded_days([forever]).size == (hi - lo).days + 1
    span = excluded_days([forever], within=(date(2022, 4, 1), date(2025, 3, 31)))
    assert_array_equal(span, np.arange(to_day("2022-04-01"), to_day("2025-04-01")))


# --------------------------------------------------------------------------------------------
# Seasonal profile and last summer's peaks
# --------------------------------------------------------------------------------------------


def test_seasonal_profile_overlays_years_month_by_month():
    day = np.concatenate([days("2022-07-04", "2022-07-30", "2023-07-09"), [-1]])
    month_first = np.concatenate([days("2022-07-01", "2022-07-01", "2023-07-01"),
                                  days("2023-12-01")])
    month_only = np.array([False, False, False, True])
    p = seasonal_profile(day, month_first, month_only, years=[2022, 2023],
                         span=("2022-03-01", "2023-12-31"))
    assert len(p) == 24
    assert p["month"].tolist() == list(range(1, 13)) * 2
    by = p.set_index(["year", "month"])
    assert by.loc[(2022, 7), "count"] == 2
    assert by.loc[(2023, 7), "count"] == 1
    assert by.loc[(2023, 12), "count"] == 1  # the month-only row
    assert p["count"].sum() == 4
    assert not by.loc[(2022, 2), "complete"] and by.loc[(2022, 3), "complete"]


SPAN = ("2022-09-01", "2024-08-31")  # two years to August: eight whole seasons
SEASON_DAYS = ["2022-10-15", "2023-01-15", "2023-04-15", "2023-07-15",
               "2023-10-15", "2024-01-15", "2024-04-15", "2024-07-15"]
PLANTED = {
    "P": [5, 5, 5, 5, 5, 5, 5, 12],  # peaked: top of its year and above its mean of 5.875
    "T": [5, 5, 5, 5, 5, 5, 8, 8],  # summer ties spring: not a peak
    "D": [20, 20, 20, 20, 3, 3, 3, 6],  # top of its year but below its own mean of 11.875
    "W": [5, 5, 5, 5, 5, 10, 5, 5],  # winter peak
}


def planted():
    area, day = [], []
    for code, counts in PLANTED.items():
        for iso, c in zip(SEASON_DAYS, counts, strict=True):
            area += [code] * c
            day += [to_day(iso)] * c
    return np.array(area), np.array(day, dtype=np.int64)


def test_peaked_last_summer_on_a_planted_set():
    area, day = planted()
    codes = list(PLANTED)
    out = peaked_last_summer(codes, area, day, year=2024, span=SPAN)
    assert out["code"].tolist() == ["P"]
    every = peaked_last_summer(codes, area, day, year=2024, span=SPAN, all_areas=True)
    by = every.set_index("code")
    assert by["peaked"].to_dict() == {"P": True, "T": False, "D": False, "W": False}
    assert_allclose(by.loc[["P", "D"], "mean_season_count"], [47 / 8, 95 / 8], rtol=RTOL)
    assert by.loc["P", ["autumn", "winter", "spring", "summer"]].tolist() == [5, 5, 5, 12]
    assert (every["seasons_in_mean"] == 8).all()
    assert by.loc["D", "summer"] > by.loc["D", ["autumn", "winter", "spring"]].max()


def test_peaked_last_summer_with_an_excluded_season_and_month_only_rows():
    area, day = planted()
    month_first = np.where(day >= 0, day, -1)
    month_only = np.zeros(day.size, dtype=bool)
    # P's summer 2024 as police.uk month-only rows in June.
    p_summer = (area == "P") & (day == to_day("2024-07-15"))
    day = np.where(p_summer, -1, day)
    month_first = np.where(p_summer, to_day("2024-06-01"), month_first)
    month_only |= p_summer
    ex = excluded_days([Event("Op Winter", date(2023, 1, 10), date(2023, 1, 12), "operation")])
    every = peaked_last_summer(list(PLANTED), area, day, month_first, month_only, year=2024,
                               span=SPAN, exclude=ex, all_areas=True)
    by = every.set_index("code")
    assert by.loc["P", "summer"] == 12 and by.loc["P", "peaked"]
    assert (every["seasons_in_mean"] == 7).all() and (every["excluded_seasons"] == 1).all()
    assert_allclose(by.loc[["P", "D"], "mean_season_count"], [42 / 7, 75 / 7], rtol=RTOL)
    assert every.attrs["month_only_rows"] == 12


def test_peaked_last_summer_needs_the_whole_year_to_august():
    area, day = planted()
    with pytest.raises(ValueError, match="needs the whole year from 2023-09-01 to 2024-08-31"):
        peaked_last_summer(list(PLANTED), area, day, year=2024,
                           span=("2023-10-01", "2024-08-31"))


# --------------------------------------------------------------------------------------------
# Real police.uk months (month-only rows)
# --------------------------------------------------------------------------------------------

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
POLICE_UK = SHARED / "police_uk"


@pytest.mark.skipif(not SHARED.exists(), reason=f"real public data folder {SHARED} is absent")
def test_real_merseyside_months_fill_one_whole_quarter_and_no_weeks():
    files = sorted(POLICE_UK.glob("2019-*/*-merseyside-street.csv.gz"))
    assert len(files) == 4
    frame = pd.concat([pd.read_csv(f, usecols=["Month", "Crime type"]) for f in files])
    per_month = frame["Month"].value_counts().sort_index()
    month_first = np.array([to_day(f"{m}-01") for m in frame["Month"]])
    day = np.full(len(frame), -1)
    month_only = np.ones(len(frame), dtype=bool)

    months = series(day, month_first, month_only, "month")
    assert months["label"].tolist() == ["2019-09", "2019-10", "2019-11", "2019-12"]
    assert months["count"].tolist() == per_month.tolist()

    quarters = series(day, month_first, month_only, "fyq", complete_only=False)
    assert quarters["label"].tolist() == ["2019/20 Q2", "2019/20 Q3"]
    assert quarters["complete"].tolist() == [False, True]  # Q2 holds only September
    assert quarters["count"].iloc[1] == per_month.loc[["2019-10", "2019-11", "2019-12"]].sum()

    weeks = series(day, month_first, month_only, "week")
    assert len(weeks) == 0 and weeks.attrs["unplaced"] == len(frame)
