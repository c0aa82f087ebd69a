"""Before/after evaluation: hand-worked weighted displacement difference tests and baselines."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from shapely.geometry import Point, box

from geo.evaluation import (
    baseline_window,
    buffer_ring,
    count_in,
    evaluate,
    evaluate_staggered,
    wdd_counts,
    weekly_series,
)

EXACT = 1e-9
Z95 = 1.959963984540054  # the 97.5% point of the standard normal

# Preston-ish BNG squares, 200 m across; the comparison area is 3 km east of the target.
TARGET = box(353000, 429000, 353200, 429200)
COMPARISON = box(356000, 429000, 356200, 429200)
RING = buffer_ring(TARGET, 250)
COMPARISON_RING = buffer_ring(COMPARISON, 250)
# a point well inside each area
SPOT = {
    "target": (353100.0, 429100.0),
    "comparison": (356100.0, 429100.0),
    "buffer": (353100.0, 429350.0),  # 150 m north of the target's edge
    "comparison_buffer": (356100.0, 429350.0),
}
START, END = 20_000, 20_027  # 28 days; the equal-length baseline is 19_972..19_999


def day_of(d: date) -> int:
    return (d - date(1970, 1, 1)).days


def incidents(
    plan: dict[tuple[str, str], int],
    before: tuple[int, int] = (START - 28, START - 1),
    after: tuple[int, int] = (START, END),
    weight_of: dict[tuple[str, str], float] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Points at each area's spot, spread over the days of the phase's window."""
    e, n, d, w = [], [], [], []
    windows = {"before": before, "after": after}
    for (role, phase), count in plan.items():
        lo, hi = windows[phase]
        for i in range(count):
            e.append(SPOT[role][0])
            n.append(SPOT[role][1])
            d.append(lo + i % (hi - lo + 1))
            w.append((weight_of or {}).get((role, phase), 1.0))
    return np.array(e), np.array(n), np.array(d), np.array(w)


HAND = {
    ("target", "before"): 50, ("target", "after"): 30,
    ("comparison", "before"): 100, ("comparison", "after"): 90,
    ("buffer", "before"): 40, ("buffer", "after"): 42,
    ("comparison_buffer", "before"): 60, ("comparison_buffer", "after"): 45,
}


def test_hand_worked_wdd_with_separate_controls() -> None:
    # Wheeler & Ratcliffe with four areas: T0=50 T1=30, Ct0=100 Ct1=90, D0=40 D1=42,
    # Cd0=60 Cd1=45.
    # WDD = (30-50) - (90-100) + (42-40) - (45-60) = -20 + 10 + 2 + 15 = 7
    # Var = 50+30+100+90+40+42+60+45 = 457; se = sqrt(457) = 21.3776
    # z = 7 / 21.3776 = 0.32745; 95% CI = 7 -/+ 1.96 * 21.3776 = -34.90 to 48.90
    e, n, d, _ = incidents(HAND)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END,
                 comparison_buffer=COMPARISON_RING)
    assert r["counts"] == {
        "target": {"before": 50, "after": 30},
        "buffer": {"before": 40, "after": 42},
        "comparison": {"before": 100, "after": 90},
        "comparison_buffer": {"before": 60, "after": 45},
    }
    assert not r["shared_comparison"]
    assert r["wdd"] == 7.0
    assert r["variance"] == 457.0
    assert_allclose(r["se"], math.sqrt(457), rtol=EXACT)
    assert_allclose(r["z"], 7 / math.sqrt(457), rtol=EXACT)
    assert_allclose([r["ci_low"], r["ci_high"]], [-34.90, 48.90], atol=0.01)
    assert_allclose(r["p"], 0.7433, atol=1e-4)
    # local = (30-50) - (90-100) = -10, var 270; displacement = (42-40) - (45-60) = 17, var 187
    assert (r["local"], r["displacement"]) == (-10.0, 17.0)
    assert_allclose([r["local_se"], r["displacement_se"]], np.sqrt([270, 187]), rtol=EXACT)
    # percentage changes from the counts: -40%, -10%, +5%, -25%
    assert_allclose(
        [r["pct_change"][k] for k in ("target", "comparison", "buffer", "comparison_buffer")],
        [-40.0, -10.0, 5.0, -25.0], rtol=EXACT,
    )
    assert not r["small_numbers"] and r["small_numbers_message"] is None
    assert r["interpretation"].startswith("A net increase of about 7 incidents (95% CI -35 to 49)")
    assert "not statistically distinguishable from no change" in r["interpretation"]
    assert wdd_counts(50, 30, 100, 90, 40, 42, 60, 45)["wdd"] == 7.0


def test_hand_worked_wdd_with_one_comparison_area_for_both() -> None:
    # Ct = Cd = C: WDD = (30-50) - (90-100) + (42-40) - (90-100) = -20 + 10 + 2 + 10 = 2.
    # The two copies of C are the same counts, so C's coefficient is -2 after and +2 before
    # and its counts enter the variance 2^2 = 4 times:
    # Var = 50+30+40+42 + 4*(100+90) = 162 + 760 = 922; se = 30.3645; z = 2/30.3645 = 0.0659
    # 95% CI = 2 -/+ 1.96*30.3645 = -57.51 to 61.51
    plan = {k: v for k, v in HAND.items() if k[0] != "comparison_buffer"}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["shared_comparison"]
    assert r["wdd"] == 2.0
    assert r["variance"] == 922.0
    assert_allclose(r["z"], 2 / math.sqrt(922), rtol=EXACT)
    assert_allclose([r["ci_low"], r["ci_high"]], [2 - Z95 * math.sqrt(922),
                                                  2 + Z95 * math.sqrt(922)], rtol=EXACT)
    assert_allclose([r["ci_low"], r["ci_high"]], [-57.51, 61.51], atol=0.01)
    assert any("counts twice" in note for note in r["notes"])
    counts_only = wdd_counts(50, 30, 100, 90, 40, 42)
    assert (counts_only["wdd"], counts_only["variance"]) == (2.0, 922.0)


def test_significant_reduction_reads_as_one() -> None:
    # T 200 -> 100, C 200 -> 200, D 50 -> 50: WDD = -100 + 0 + 0 - 0 = -100
    # Var = 300 + 4*400 + 100 = 2000, z = -100/44.72 = -2.236, p = 0.0253
    plan = {("target", "before"): 200, ("target", "after"): 100,
            ("comparison", "before"): 200, ("comparison", "after"): 200,
            ("buffer", "before"): 50, ("buffer", "after"): 50}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, None, e, n, d, start_day=START, end_day=END)
    assert (r["wdd"], r["variance"]) == (-100.0, 2000.0)
    assert_allclose(r["p"], 0.02535, atol=1e-5)
    assert r["significant"]
    assert r["interpretation"] == (
        "A net reduction of about 100 incidents (95% CI -188 to -12); statistically "
        "significant at the 5% level."
    )


def test_harm_weighted_wdd_uses_sum_of_squared_weights() -> None:
    # Target: 10 incidents of weight 2 before (harm 20, var 10*4 = 40) and 10 of weight 1
    # after (harm 10, var 10). Comparison: 10 of weight 1 before and after (change 0, var 10
    # each, counted four times as it is the control for the buffer too). Buffer: none.
    # WDD = (10-20) - (10-10) + 0 - (10-10) = -10; Var = 40 + 10 + 4*(10+10) = 130
    plan = {("target", "before"): 10, ("target", "after"): 10,
            ("comparison", "before"): 10, ("comparison", "after"): 10}
    e, n, d, w = incidents(plan, weight_of={("target", "before"): 2.0})
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END, weight=w)
    assert r["measure"] == "harm"
    assert r["harm"]["target"] == {"before": 20.0, "after": 10.0}
    assert r["counts"]["target"] == {"before": 10, "after": 10}
    assert (r["wdd"], r["variance"]) == (-10.0, 130.0)
    assert "harm units" in r["interpretation"]


def test_small_numbers_are_flagged() -> None:
    plan = dict(HAND)
    plan[("target", "after")] = 8
    plan[("buffer", "before")] = 3
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["small_numbers"]
    msg = r["small_numbers_message"]
    assert "too few incidents to say whether anything changed" in msg.lower()
    assert "target after (8)" in msg and "buffer before (3)" in msg
    assert r["interpretation"].startswith(msg)
    # a lower threshold of the user's choosing clears it
    r5 = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END,
                  small_number_threshold=3)
    assert not r5["small_numbers"]


def test_zero_before_count_gives_nan_percent_with_note() -> None:
    plan = dict(HAND)
    plan[("buffer", "before")] = 0
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert math.isnan(r["pct_change"]["buffer"])
    assert_allclose(r["pct_change"]["target"], -40.0, rtol=EXACT)
    assert any("No incidents in the buffer before" in note for note in r["notes"])


def test_equal_before_window() -> None:
    lo, hi = baseline_window(date(2024, 3, 1), date(2024, 3, 31), "equal_before")
    assert (lo, hi) == (day_of(date(2024, 1, 30)), day_of(date(2024, 2, 29)))
    assert hi - lo + 1 == 31
    assert baseline_window(START, END) == (START - 28, START - 1)


@pytest.mark.parametrize(
    ("start", "end", "want_start", "want_end"),
    [
        (date(2024, 2, 29), date(2024, 3, 28), date(2023, 2, 28), date(2023, 3, 28)),
        (date(2024, 2, 1), date(2024, 2, 29), date(2023, 2, 1), date(2023, 2, 28)),
        (date(2023, 6, 1), date(2023, 6, 30), date(2022, 6, 1), date(2022, 6, 30)),
    ],
    ids=["starts-29-feb", "ends-29-feb", "june"],
)
def test_last_year_window(start: date, end: date, want_start: date, want_end: date) -> None:
    assert baseline_window(start, end, "last_year") == (day_of(want_start), day_of(want_end))


def test_last_year_scales_a_short_february() -> None:
    # 1-29 Feb 2024 (29 days) against 1-28 Feb 2023 (28 days): before counts x 29/28
    # target 28 -> 29 incidents: scaled before = 28 * 29/28 = 29, so a change of 0%
    start, end = day_of(date(2024, 2, 1)), day_of(date(2024, 2, 29))
    before = baseline_window(start, end, "last_year")
    plan = {("target", "before"): 28, ("target", "after"): 29,
            ("comparison", "before"): 28, ("comparison", "after"): 29}
    e, n, d, _ = incidents(plan, before=before, after=(start, end))
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=start, end_day=end,
                 baseline="last_year")
    assert (r["before_days"], r["after_days"]) == (28, 29)
    assert_allclose(r["before_scale"], 29 / 28, rtol=EXACT)
    assert_allclose(r["pct_change"]["target"], 0.0, atol=EXACT)
    assert_allclose(r["wdd"], 0.0, atol=EXACT)
    assert any("scaled by 29/28" in note for note in r["notes"])


def test_financial_year_baseline_is_scaled_to_the_intervention() -> None:
    # FY 2023/24 runs 1 Apr 2023 - 31 Mar 2024: 366 days (it holds 29 Feb 2024).
    # Intervention 1 Jun - 29 Aug 2024: 90 days, so k = 90/366.
    # Target: 366 before (one a day) -> scaled 366k = 90; 60 after: -33.3%.
    # Comparison: 732 before -> scaled 180; 180 after: 0%.  No buffer incidents.
    # WDD = (60 - 90) - (180 - 180) + (0 - 0) - (180 - 180) = -30
    # Var = 60 + k^2*366 + (-2)^2*180 + (2k)^2*732
    start, end = day_of(date(2024, 6, 1)), day_of(date(2024, 8, 29))
    fy = baseline_window(start, end, "year:2023")
    assert fy == (day_of(date(2023, 4, 1)), day_of(date(2024, 3, 31)))
    assert baseline_window(start, end, "year:2023/24") == fy
    plan = {("target", "before"): 366, ("target", "after"): 60,
            ("comparison", "before"): 732, ("comparison", "after"): 180}
    e, n, d, _ = incidents(plan, before=fy, after=(start, end))
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=start, end_day=end,
                 baseline="year:2023")
    k = 90 / 366
    assert_allclose(r["before_scale"], k, rtol=EXACT)
    assert_allclose(r["pct_change"]["target"], -100 / 3, rtol=EXACT)
    assert_allclose(r["pct_change"]["comparison"], 0.0, atol=EXACT)
    assert_allclose(r["wdd"], -30.0, rtol=EXACT)
    assert_allclose(r["variance"], 60 + k**2 * 366 + 4 * 180 + 4 * k**2 * 732, rtol=EXACT)
    assert any("2023/24" in note and "90/366" in note for note in r["notes"])


@pytest.mark.parametrize(
    ("start", "end", "kind", "match"),
    [
        (date(2024, 3, 1), date(2024, 6, 30), "year:2023", "does not end before"),
        (date(2024, 3, 1), date(2025, 6, 30), "last_year", "longer than a year"),
        (date(2024, 6, 1), date(2024, 6, 30), "year:2023/25", "April of one year"),
        (date(2024, 6, 1), date(2024, 6, 30), "fortnight", "not known"),
        (date(2024, 6, 30), date(2024, 6, 1), "equal_before", "before it starts"),
    ],
    ids=["fy-overlaps", "long-last-year", "bad-fy", "unknown", "backwards"],
)
def test_baseline_errors(start: date, end: date, kind: str, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        baseline_window(start, end, kind)


def test_buffer_ring_excludes_the_target() -> None:
    ring = buffer_ring(TARGET, 250)
    assert ring.intersection(TARGET).area < 1e-6
    # 200x200 square grown by 250 m with rounded corners, less the square itself
    assert_allclose(ring.area, 4 * 200 * 250 + math.pi * 250**2, rtol=0.01)
    assert not ring.contains(TARGET.centroid)
    assert ring.contains(Point(353100, 429300))  # 100 m outside the edge
    assert not ring.contains(Point(353100, 429500))  # 300 m outside
    with pytest.raises(ValueError, match="positive"):
        buffer_ring(TARGET, 0)
    with pytest.raises(ValueError, match="longitude/latitude"):
        buffer_ring(box(-2.71, 53.75, -2.70, 53.76))


def test_count_in_window_edges_and_weights() -> None:
    e = np.array([353100.0, 353100.0, 353100.0, 353000.0, 354000.0])
    n = np.array([429100.0, 429100.0, 429100.0, 429100.0, 429100.0])
    d = np.array([10, 20, 21, 15, 15])
    w = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    # days 10..20 included; the point on the western edge counts; the far one does not
    assert count_in(TARGET, e, n, d, (10, 20), weight=w) == (3, 11.0)
    assert count_in(TARGET, e, n, d, (10, 20)) == (3, 3.0)


def test_point_on_shared_edge_counts_once_for_the_target() -> None:
    e, n, d, _ = incidents(HAND)
    on_edge = (np.r_[e, 353200.0], np.r_[n, 429100.0], np.r_[d, START])
    base = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    more = evaluate(TARGET, COMPARISON, RING, *on_edge, start_day=START, end_day=END)
    assert more["counts"]["target"]["after"] == base["counts"]["target"]["after"] + 1
    assert more["counts"]["buffer"] == base["counts"]["buffer"]


def test_overlapping_areas_are_refused() -> None:
    e, n, d, _ = incidents(HAND)
    overlapping = box(353100, 429100, 353400, 429400)
    with pytest.raises(ValueError, match="overlap"):
        evaluate(TARGET, overlapping, RING, e, n, d, start_day=START, end_day=END)


def test_weekly_series_counts_every_week_from_monday() -> None:
    monday = day_of(date(2024, 1, 1))
    days = np.array([monday + 2, monday + 3, monday + 15, monday + 16])  # weeks 0, 0, 2, 2
    e = np.array([SPOT["target"][0]] * 2 + [SPOT["comparison"][0]] * 2)
    n = np.array([SPOT["target"][1]] * 2 + [SPOT["comparison"][1]] * 2)
    out = weekly_series({"target": TARGET, "comparison": COMPARISON}, e, n, days,
                        monday + 2, monday + 20)
    assert list(out.columns) == ["week_start", "area", "count", "days"]
    assert out["week_start"].dt.day_of_week.eq(0).all()
    assert out.loc[out["area"] == "target", "count"].tolist() == [2, 0, 0]
    assert out.loc[out["area"] == "comparison", "count"].tolist() == [0, 0, 2]
    # the first week starts on the Wednesday (5 days in range), the last ends on Sunday + 6
    assert out.loc[out["area"] == "target", "days"].tolist() == [5, 7, 7]
    assert str(out["week_start"].iloc[0].date()) == "2024-01-01"


def test_staggered_rows_and_pooled_row() -> None:
    second = box(359000, 429000, 359200, 429200)
    spot2 = (359100.0, 429100.0)
    # target 1: 28 days from START; target 2: 14 days from START + 60
    e1, n1, d1, _ = incidents({("target", "before"): 40, ("target", "after"): 20,
                               ("comparison", "before"): 30, ("comparison", "after"): 35,
                               ("buffer", "before"): 12, ("buffer", "after"): 15})
    s2, t2 = START + 60, START + 73
    d2 = np.r_[np.full(25, s2 - 5), np.full(18, s2 + 3)]
    e = np.r_[e1, np.full(43, spot2[0])]
    n = np.r_[n1, np.full(43, spot2[1])]
    d = np.r_[d1, d2]
    out = evaluate_staggered([("one", TARGET, START, END), ("two", second, s2, t2)],
                             COMPARISON, e, n, d)
    assert out["name"].tolist() == ["one", "two", "All targets (pooled)"]
    single = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert out.loc[0, "wdd"] == single["wdd"]
    assert out.loc[0, "variance"] == single["variance"]
    # target two: 25 before, 18 after, no comparison incidents in its windows:
    # WDD = (18-25) - 0 + 0 - 0 = -7, Var = 43
    assert (out.loc[1, "target_before"], out.loc[1, "target_after"]) == (25, 18)
    assert (out.loc[1, "wdd"], out.loc[1, "variance"]) == (-7.0, 43.0)
    pooled = out.iloc[2]
    components = ["target_before", "target_after", "comparison_before", "comparison_after",
                  "buffer_before", "buffer_after", "wdd", "variance"]
    for col in components:
        assert pooled[col] == out.loc[:1, col].sum(), col
    assert_allclose(pooled["se"], math.sqrt(out.loc[:1, "variance"].sum()), rtol=EXACT)
    assert_allclose(pooled["z"], pooled["wdd"] / pooled["se"], rtol=EXACT)
    assert_allclose(pooled["ci_high"] - pooled["ci_low"], 2 * Z95 * pooled["se"], rtol=EXACT)
    assert (pooled["start_day"], pooled["end_day"]) == (START, t2)
    assert isinstance(out, pd.DataFrame) and out["name"].dtype == "string"


def test_staggered_buffers_leave_out_other_targets() -> None:
    # the second target sits inside the first one's 250 m ring: its incidents are treated,
    # not the first target's displacement
    neighbour = box(353300, 429000, 353400, 429200)  # 100 m east of TARGET
    e = np.full(30, 353350.0)
    n = np.full(30, 429100.0)
    d = np.full(30, START + 1)
    out = evaluate_staggered([("one", TARGET, START, END), ("two", neighbour, START, END)],
                             COMPARISON, e, n, d)
    assert out.loc[0, "buffer_after"] == 0
    assert out.loc[1, "target_after"] == 30


@pytest.mark.parametrize(
    ("buffer_after", "expected"),
    [
        (150, "which suggests some displacement."),
        (50, "significant at the 5% level."),
    ],
    ids=["displacement", "no-displacement"],
)
def test_interpretation_mentions_significant_displacement(buffer_after: int,
                                                          expected: str) -> None:
    # T 200 -> 100, C 200 -> 200, D 50 -> buffer_after. Displacement part = dD - dC with
    # variance D0 + D1 + C0 + C1: for D1 = 150, 100 / sqrt(600) = 4.1 standard errors.
    plan = {("target", "before"): 200, ("target", "after"): 100,
            ("comparison", "before"): 200, ("comparison", "after"): 200,
            ("buffer", "before"): 50, ("buffer", "after"): buffer_after}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["interpretation"].endswith(expected)
    if buffer_after == 150:
        assert_allclose([r["displacement"], r["displacement_se"]], [100.0, math.sqrt(600)])


def test_no_change_reads_as_no_change() -> None:
    plan = {("target", "before"): 20, ("target", "after"): 20,
            ("comparison", "before"): 20, ("comparison", "after"): 20,
            ("buffer", "before"): 20, ("buffer", "after"): 20}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["wdd"] == 0.0
    assert r["interpretation"].startswith("No net change (95% CI")
    assert not r["significant"]
