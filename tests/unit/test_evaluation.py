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
    # Cd0=60 Cd1=45. Each area is predicted by its own control's trend:
    #   expected T1 = 50 * 90/100 = 45, prevented in T = 45 - 30 = 15
    #   expected D1 = 40 * 45/60 = 30, prevented in D = 30 - 42 = -12 (displacement)
    #   WDD = 15 - 12 = 3 (positive: 3 fewer than the comparisons predict)
    # Delta-method variances (the two parts share no count, so they add):
    #   T part: 0.9^2*50 + 30 + (50/100)^2*90 + (50*90/100^2)^2*100 = 40.5+30+22.5+20.25 = 113.25
    #   D part: 0.75^2*40 + 42 + (40/60)^2*45 + (40*45/60^2)^2*60 = 22.5+42+20+15 = 99.5
    #   Var = 212.75, se = 14.586, z = 0.2057, 95% CI 3 -/+ 1.96*14.586 = -25.59 to 31.59
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
    assert_allclose([r["expected"]["target"], r["expected"]["buffer"]], [45, 30], rtol=EXACT)
    assert_allclose([r["local"], r["displacement"], r["wdd"]], [15, -12, 3], rtol=EXACT)
    assert r["prevented"] == {"target": r["local"], "buffer": r["displacement"]}
    assert_allclose(r["variance"], 212.75, rtol=EXACT)
    assert_allclose([r["local_se"], r["displacement_se"]], np.sqrt([113.25, 99.5]), rtol=EXACT)
    assert_allclose(r["z"], 3 / math.sqrt(212.75), rtol=EXACT)
    assert_allclose([r["ci_low"], r["ci_high"]], [-25.59, 31.59], atol=0.01)
    # percentage changes from the counts: -40%, -10%, +5%, -25%
    assert_allclose(
        [r["pct_change"][k] for k in ("target", "comparison", "buffer", "comparison_buffer")],
        [-40.0, -10.0, 5.0, -25.0], rtol=EXACT,
    )
    assert not r["small_numbers"] and r["small_numbers_message"] is None
    assert r["interpretation"].startswith(
        "About 3 fewer incidents than the comparison area predicts in the target and buffer "
        "together, i.e. incidents prevented (WDD +3, 95% CI -26 to +32).")
    assert "not statistically distinguishable from no effect" in r["interpretation"]
    assert "positive = fewer incidents than the comparison area predicts" in r["interpretation"]
    assert not r["significant"]
    counts_only = wdd_counts(50, 30, 100, 90, 40, 42, 60, 45)
    assert_allclose([counts_only["wdd"], counts_only["variance"]], [3, 212.75], rtol=EXACT)


def test_hand_worked_wdd_with_one_comparison_area_for_both() -> None:
    # Ct = Cd = C (100 -> 90, r = 0.9) predicts both:
    #   expected T1 = 45, prevented 15; expected D1 = 36, prevented 36 - 42 = -6; WDD = 9.
    # WDD = (T0 + D0) r - T1 - D1, so C enters the variance once with T0 + D0 = 90:
    #   Var = r^2 (T0 + D0) + T1 + D1 + (90/100)^2 C1 + (90*90/100^2)^2 C0
    #       = 72.9 + 72 + 72.9 + 65.61 = 283.41
    # Two independent copies of C would give 72.9 + 72 + (0.5^2+0.4^2)*90 + (0.45^2+0.36^2)*100
    # = 215.01, too small: the copies are the same counts.
    plan = {k: v for k, v in HAND.items() if k[0] != "comparison_buffer"}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["shared_comparison"]
    assert_allclose([r["expected"]["target"], r["expected"]["buffer"]], [45, 36], rtol=EXACT)
    assert_allclose(r["wdd"], 9.0, rtol=EXACT)
    assert_allclose(r["variance"], 283.41, rtol=EXACT)
    assert_allclose([r["ci_low"], r["ci_high"]], [9 - Z95 * math.sqrt(283.41),
                                                  9 + Z95 * math.sqrt(283.41)], rtol=EXACT)
    assert any("counts enter the variance once, not twice" in note for note in r["notes"])
    assert any("target 50 × 90/100 = 45.0; buffer 40 × 90/100 = 36.0" in note
               for note in r["notes"])
    counts_only = wdd_counts(50, 30, 100, 90, 40, 42)
    assert_allclose([counts_only["wdd"], counts_only["variance"]], [9, 283.41], rtol=EXACT)


def test_everything_falls_but_the_comparison_falls_furthest() -> None:
    # The reported example: target -10.3% (650 -> 583), ring -8.6% (35 -> 32), comparison
    # -22.8% (738 -> 570). The old reading subtracted the comparison's raw change twice:
    # (583-650) - 2*(570-738) + (32-35) = +266, "a net increase ... statistically significant",
    # and "the buffer rose by about 165 more". Nothing rose. Against the comparison's trend
    # r = 570/738 = 0.77236:
    #   expected T1 = 650 r = 502.03, prevented = 502.03 - 583 = -80.97
    #   expected D1 = 35 r = 27.03, prevented = 27.03 - 32 = -4.97
    #   WDD = -85.94: about 86 more incidents than the comparison predicts.
    #   Var = r^2*685 + 615 + (685/738)^2*570 + (685*570/738^2)^2*738
    #       = 408.63 + 615 + 491.08 + 379.27 = 1893.98, se = 43.52, 95% CI -171.2 to -0.6
    plan = {("target", "before"): 650, ("target", "after"): 583,
            ("comparison", "before"): 738, ("comparison", "after"): 570,
            ("buffer", "before"): 35, ("buffer", "after"): 32}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert_allclose([r["pct_change"][k] for k in ("target", "buffer", "comparison")],
                    [-10.31, -8.57, -22.76], atol=0.01)
    ratio = 570 / 738
    assert_allclose([r["expected"]["target"], r["expected"]["buffer"]],
                    [650 * ratio, 35 * ratio], rtol=EXACT)
    assert_allclose(r["wdd"], 685 * ratio - 615, rtol=EXACT)
    assert_allclose(r["wdd"], -85.94, atol=0.01)
    variance = (ratio**2 * 685 + 615 + (685 / 738) ** 2 * 570
                + (685 * 570 / 738**2) ** 2 * 738)
    assert_allclose(r["variance"], variance, rtol=EXACT)
    assert_allclose([r["ci_low"], r["ci_high"]], [-171.23, -0.64], atol=0.01)
    text = r["interpretation"]
    assert text.startswith("About 86 more incidents than the comparison area predicts")
    assert "increase" not in text and "rose" not in text
    assert "Every area fell, but the comparison fell furthest" in text
    assert "negative = more incidents than it predicts" in text
    # the ring's own part (-5, se 7.4) is no evidence of displacement, so none is claimed
    assert "displacement" not in text


def test_comparison_eight_times_the_target_is_scaled_not_taken_raw() -> None:
    # T 100 -> 70 (-30%), C 800 -> 720 (-10%), D 40 -> 38. A comparison 8x the target
    # predicts 100 * 720/800 = 90 for the target, not a fall of 80: prevented 90 - 70 = 20;
    # the ring: 40 * 0.9 = 36 expected, 38 seen, -2. WDD = +18.
    #   Var = 0.81*140 + 108 + (140/800)^2*720 + (140*720/800^2)^2*800
    #       = 113.4 + 108 + 22.05 + 19.845 = 263.295, se = 16.226, z = 1.109, p = 0.267
    # (The raw form said (70-100) - 2*(720-800) + (38-40) = +128, "a net increase".)
    plan = {("target", "before"): 100, ("target", "after"): 70,
            ("comparison", "before"): 800, ("comparison", "after"): 720,
            ("buffer", "before"): 40, ("buffer", "after"): 38}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert_allclose([r["local"], r["displacement"], r["wdd"]], [20, -2, 18], rtol=EXACT)
    assert_allclose(r["variance"], 263.295, rtol=EXACT)
    assert_allclose(r["p"], 0.2673, atol=1e-4)
    assert not r["significant"]
    assert r["interpretation"].startswith("About 18 fewer incidents than the comparison area "
                                          "predicts")
    assert "not statistically distinguishable from no effect (p = 0.27)" in r["interpretation"]


def test_variance_and_interval_match_a_seeded_simulation() -> None:
    # Poisson counts with known means; the target and ring are the same size, so counting
    # the shared comparison twice (as two independent areas) would understate the standard
    # error by 14%. True WDD = (200*0.9 - 150) + (200*0.9 - 190) = 20.
    mean = {"t0": 200, "t1": 150, "c0": 400, "c1": 360, "d0": 200, "d1": 190}
    rng = np.random.default_rng(20180711)
    draws = {k: rng.poisson(v, size=4000) for k, v in mean.items()}
    results = [wdd_counts(*(int(draws[k][i]) for k in ("t0", "t1", "c0", "c1", "d0", "d1")))
               for i in range(4000)]
    wdd = np.array([r["wdd"] for r in results])
    at_means = wdd_counts(*mean.values())
    assert at_means["wdd"] == pytest.approx(20.0)
    # by hand at the means: 0.81*400 + 340 + (400/400)^2*360 + (400*360/400^2)^2*400 = 1348
    assert at_means["variance"] == pytest.approx(1348.0)
    simulated_se = float(wdd.std(ddof=1))
    assert simulated_se == pytest.approx(math.sqrt(1348.0), rel=0.05)
    assert abs(simulated_se - math.sqrt(1006.0)) > 0.10 * simulated_se  # the double count
    covered = np.mean([r["ci_low"] <= 20.0 <= r["ci_high"] for r in results])
    assert 0.935 <= covered <= 0.965


def test_significant_reduction_reads_as_incidents_prevented() -> None:
    # T 200 -> 100, C 200 -> 200 (r = 1), D 50 -> 50: expected T 200, prevented 100; WDD +100
    # Var = 1*250 + 150 + (250/200)^2*200 + (250*200/200^2)^2*200 = 250+150+312.5+312.5 = 1025
    # z = 100/32.016 = 3.123, p = 0.0018, 95% CI 37.25 to 162.75
    plan = {("target", "before"): 200, ("target", "after"): 100,
            ("comparison", "before"): 200, ("comparison", "after"): 200,
            ("buffer", "before"): 50, ("buffer", "after"): 50}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, None, e, n, d, start_day=START, end_day=END)
    assert_allclose([r["wdd"], r["variance"]], [100.0, 1025.0], rtol=EXACT)
    assert_allclose(r["p"], 0.00179, atol=1e-5)
    assert r["significant"]
    assert r["interpretation"].startswith(
        "About 100 fewer incidents than the comparison area predicts in the target and buffer "
        "together, i.e. incidents prevented (WDD +100, 95% CI +37 to +163). The interval "
        "leaves out zero: statistically significant at the 5% level (p = 0.002)."
    )


def test_harm_weighted_wdd_uses_sum_of_squared_weights() -> None:
    # Target: 10 incidents of weight 2 before (harm 20, var 10*4 = 40) and 10 of weight 1
    # after (harm 10, var 10). Comparison: 10 of weight 1 before and after (r = 1, var 10
    # each). Buffer: none, so it predicts and adds nothing.
    # expected T = 20, prevented = 10; Var = 1*40 + 10 + (20/10)^2*10 + (20*10/10^2)^2*10 = 130
    plan = {("target", "before"): 10, ("target", "after"): 10,
            ("comparison", "before"): 10, ("comparison", "after"): 10}
    e, n, d, w = incidents(plan, weight_of={("target", "before"): 2.0})
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END, weight=w)
    assert r["measure"] == "harm"
    assert r["harm"]["target"] == {"before": 20.0, "after": 10.0}
    assert r["counts"]["target"] == {"before": 10, "after": 10}
    assert_allclose([r["wdd"], r["variance"]], [10.0, 130.0], rtol=EXACT)
    assert "harm units" in r["interpretation"]


def test_comparison_with_nothing_before_gives_no_wdd() -> None:
    plan = {("target", "before"): 30, ("target", "after"): 20,
            ("comparison", "after"): 12}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert math.isnan(r["wdd"]) and math.isnan(r["se"]) and not r["significant"]
    assert "cannot predict" in r["interpretation"]


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
    assert any("scale before counts by 29/28" in note for note in r["notes"])


def test_financial_year_baseline_is_scaled_for_percentages_only() -> None:
    # FY 2023/24 runs 1 Apr 2023 - 31 Mar 2024: 366 days (it holds 29 Feb 2024).
    # Intervention 1 Jun - 29 Aug 2024: 90 days, so k = 90/366.
    # Target: 366 before (one a day) -> scaled 366k = 90; 60 after: -33.3%.
    # Comparison: 732 before -> scaled 180; 180 after: 0%.  No buffer incidents.
    # The WDD needs no k: expected T1 = 366 * 180/732 = 90 (k cancels), prevented 30.
    # Var = r^2*366 + 60 + (366/732)^2*180 + (366*180/732^2)^2*732 with r = 180/732
    start, end = day_of(date(2024, 6, 1)), day_of(date(2024, 8, 29))
    fy = baseline_window(start, end, "year:2023")
    assert fy == (day_of(date(2023, 4, 1)), day_of(date(2024, 3, 31)))
    assert baseline_window(start, end, "year:2023/24") == fy
    plan = {("target", "before"): 366, ("target", "after"): 60,
            ("comparison", "before"): 732, ("comparison", "after"): 180}
    e, n, d, _ = incidents(plan, before=fy, after=(start, end))
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=start, end_day=end,
                 baseline="year:2023")
    k, ratio = 90 / 366, 180 / 732
    assert_allclose(r["before_scale"], k, rtol=EXACT)
    assert_allclose(r["pct_change"]["target"], -100 / 3, rtol=EXACT)
    assert_allclose(r["pct_change"]["comparison"], 0.0, atol=EXACT)
    assert_allclose(r["expected"]["target"], 90.0, rtol=EXACT)
    assert_allclose(r["wdd"], 30.0, rtol=EXACT)
    assert_allclose(r["variance"], ratio**2 * 366 + 60 + 0.25 * 180
                    + (366 * 180 / 732**2) ** 2 * 732, rtol=EXACT)
    assert any("2023/24" in note and "90/366" in note for note in r["notes"])


def test_whole_month_windows_for_month_only_data() -> None:
    # Jan-Oct 2022 (10 months) against the 10 whole months before: Mar-Dec 2021
    start, end = date(2022, 1, 1), date(2022, 10, 31)
    assert baseline_window(start, end, whole_months=True) == (
        day_of(date(2021, 3, 1)), day_of(date(2021, 12, 31)))
    assert baseline_window(start, end, "last_year", whole_months=True) == (
        day_of(date(2021, 1, 1)), day_of(date(2021, 10, 31)))
    with pytest.raises(ValueError, match="whole months"):
        baseline_window(date(2022, 1, 2), end, whole_months=True)
    # month-only incidents all sit on the 1st of their month and are counted in full
    jan, mar21 = day_of(start), day_of(date(2021, 3, 1))
    e = np.r_[np.full(5, SPOT["target"][0]), np.full(3, SPOT["target"][0]),
              np.full(10, SPOT["comparison"][0]), np.full(10, SPOT["comparison"][0])]
    n = np.r_[np.full(8, SPOT["target"][1]), np.full(20, SPOT["comparison"][1])]
    d = np.r_[np.full(5, mar21), np.full(3, jan), np.full(10, mar21), np.full(10, jan)]
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=start, end_day=end,
                 whole_months=True)
    assert r["counts"]["target"] == {"before": 5, "after": 3}
    assert r["counts"]["comparison"] == {"before": 10, "after": 10}
    assert any("10 whole months immediately before" in note for note in r["notes"])


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
    # target two: 25 before, 18 after; the comparison 20 before and 10 after in its windows
    d2 = np.r_[np.full(25, s2 - 5), np.full(18, s2 + 3), np.full(20, s2 - 5),
               np.full(10, s2 + 3)]
    e = np.r_[e1, np.full(43, spot2[0]), np.full(30, SPOT["comparison"][0])]
    n = np.r_[n1, np.full(43, spot2[1]), np.full(30, SPOT["comparison"][1])]
    d = np.r_[d1, d2]
    out = evaluate_staggered([("one", TARGET, START, END), ("two", second, s2, t2)],
                             COMPARISON, e, n, d)
    assert out["name"].tolist() == ["one", "two", "All targets (pooled)"]
    single = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert out.loc[0, "wdd"] == single["wdd"]
    assert out.loc[0, "variance"] == single["variance"]
    # target two: expected 25 * 10/20 = 12.5, prevented 12.5 - 18 = -5.5; no buffer incidents
    # Var = 0.25*25 + 18 + (25/20)^2*10 + (25*10/20^2)^2*20 = 6.25+18+15.625+7.8125 = 47.6875
    assert (out.loc[1, "target_before"], out.loc[1, "target_after"]) == (25, 18)
    assert_allclose([out.loc[1, "expected_target"], out.loc[1, "wdd"],
                     out.loc[1, "variance"]], [12.5, -5.5, 47.6875], rtol=EXACT)
    pooled = out.iloc[2]
    components = ["target_before", "target_after", "comparison_before", "comparison_after",
                  "buffer_before", "buffer_after", "expected_target", "wdd", "variance"]
    for col in components:
        assert pooled[col] == pytest.approx(out.loc[:1, col].sum()), col
    assert_allclose(pooled["se"], math.sqrt(out.loc[:1, "variance"].sum()), rtol=EXACT)
    assert_allclose(pooled["z"], pooled["wdd"] / pooled["se"], rtol=EXACT)
    assert_allclose(pooled["ci_high"] - pooled["ci_low"], 2 * Z95 * pooled["se"], rtol=EXACT)
    assert (pooled["start_day"], pooled["end_day"]) == (START, t2)
    assert isinstance(out, pd.DataFrame) and out["name"].dtype == "string"


def test_staggered_pooled_row_is_blank_when_one_target_cannot_be_predicted() -> None:
    second = box(359000, 429000, 359200, 429200)
    e1, n1, d1, _ = incidents({("target", "before"): 40, ("target", "after"): 20,
                               ("comparison", "before"): 30, ("comparison", "after"): 35})
    s2 = START + 60
    e = np.r_[e1, np.full(5, 359100.0)]
    n = np.r_[n1, np.full(5, 429100.0)]
    d = np.r_[d1, np.full(5, s2 - 3)]
    out = evaluate_staggered([("one", TARGET, START, END), ("two", second, s2, s2 + 13)],
                             COMPARISON, e, n, d)
    assert math.isfinite(out.loc[0, "wdd"])
    assert math.isnan(out.loc[1, "wdd"]) and math.isnan(out.loc[2, "wdd"])
    assert not out.loc[2, "significant"]


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
        (20, "which suggests a diffusion of benefits."),
        (50, None),
    ],
    ids=["displacement", "diffusion", "neither"],
)
def test_interpretation_mentions_displacement_only_when_clear(buffer_after: int,
                                                              expected: str | None) -> None:
    # T 200 -> 100, C 200 -> 200 (r = 1), D 50 -> buffer_after. The buffer's part is
    # 50 - D1 with variance 50 + D1 + (50/200)^2*200 + (50*200/200^2)^2*200 = 75 + D1:
    # D1 = 150 gives -100 / 15 = 6.7 standard errors of displacement; D1 = 20 gives +30 / 9.3.
    plan = {("target", "before"): 200, ("target", "after"): 100,
            ("comparison", "before"): 200, ("comparison", "after"): 200,
            ("buffer", "before"): 50, ("buffer", "after"): buffer_after}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert_allclose([r["displacement"], r["displacement_se"]],
                    [50 - buffer_after, math.sqrt(75 + buffer_after)])
    if expected is None:
        assert "displacement." not in r["interpretation"]
        assert "diffusion" not in r["interpretation"]
    else:
        assert expected in r["interpretation"]


def test_no_change_reads_as_no_change() -> None:
    plan = {("target", "before"): 20, ("target", "after"): 20,
            ("comparison", "before"): 20, ("comparison", "after"): 20,
            ("buffer", "before"): 20, ("buffer", "after"): 20}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["wdd"] == 0.0
    assert r["interpretation"].startswith("About as many incidents as the comparison area "
                                          "predicts")
    assert not r["significant"]


def test_small_numbers_never_claim_significance() -> None:
    # a large effect on a target with 9 incidents after: p < 0.05, but too few to judge
    plan = {("target", "before"): 60, ("target", "after"): 9,
            ("comparison", "before"): 60, ("comparison", "after"): 60,
            ("buffer", "before"): 20, ("buffer", "after"): 20}
    e, n, d, _ = incidents(plan)
    r = evaluate(TARGET, COMPARISON, RING, e, n, d, start_day=START, end_day=END)
    assert r["p"] < 0.05 and r["small_numbers"]
    assert not r["significant"]
    assert "significant at" not in r["interpretation"]
    assert "no significance is claimed" in r["interpretation"]
