"""The forecast (geo.forecast) and its backtest protocol (geo.backtest_protocol), on planted
series whose right answers are worked out by hand."""

from __future__ import annotations

import math

import h3
import numpy as np
import pytest
from scipy.stats import nbinom

from geo import backtest_protocol as bp
from geo.forecast import (
    HALF_LIVES,
    choose_half_life,
    forecast,
    places_for,
    predictive_interval,
    recency_weights,
    weighted_rate,
)

# -------------------------------------------------------------------------- forecast terms


def test_recency_weights_halve_every_half_life_and_skip_missing_periods():
    w = recency_weights(7, 3.0)
    assert w[-1] == 1.0 and w[-4] == pytest.approx(0.5) and w[0] == pytest.approx(0.25)
    assert recency_weights(3, math.inf).tolist() == [1.0, 1.0, 1.0]
    assert recency_weights(3, 1.0, np.array([True, False, True])).tolist() == [0.25, 0.0, 1.0]


def test_weighted_rate_by_hand():
    counts = np.array([[4, 0, 2], [1, 1, 1]])
    # half-life 1: weights 1/4, 1/2, 1 -> (4/4 + 0 + 2) / 1.75
    assert weighted_rate(counts, 1.0)[0] == pytest.approx(3 / 1.75)
    assert weighted_rate(counts, math.inf).tolist() == [2.0, 1.0]
    # a missing middle period neither counts nor weighs
    assert weighted_rate(counts, math.inf, np.array([True, False, True]))[0] == 3.0


def _planted(n_cells: int = 200, months: int = 24, seed: int = 0):
    """Poisson counts from known rates: 10 steady hot cells, 10 that turn hotter at month 18
    (over the last 12 months both hold about 48 incidents)."""
    rng = np.random.default_rng(seed)
    rate = np.full((n_cells, months), 0.2)
    rate[:10] = 4.0
    rate[10:20, 18:] = 8.0
    return rng.poisson(rate).astype(float), rate


def test_a_place_that_turned_hot_is_followed_with_a_short_half_life():
    counts, _ = _planted()
    choice = choose_half_life(counts, 12, 0.05)
    assert choice.validated_periods == 12
    assert choice.half_life <= 3 and set(choice.scores) == set(HALF_LIVES)
    f = forecast(counts, None, unit="month", coverage=0.05, lookback=12)
    top = set(np.argsort(-f.expected)[:10].tolist())
    assert len(top & set(range(10, 20))) >= 9  # the new hot spots lead
    by_count = set(np.argsort(-counts[:, -12:].sum(1), kind="stable")[:10].tolist())
    assert len(by_count & set(range(10, 20))) < 9  # the year's count cannot tell them apart
    assert "up in the last 3 months" in f.why(int(np.argmax(f.expected[10:20]) + 10))


def test_steady_places_choose_a_long_half_life_and_say_steady():
    rng = np.random.default_rng(1)
    rate = np.full((200, 24), 0.2)
    rate[:10] = np.linspace(2, 8, 10)[:, None]
    counts = rng.poisson(rate).astype(float)
    choice = choose_half_life(counts, 12, 0.05)
    assert choice.half_life >= 6
    f = forecast(counts, None, unit="month", coverage=0.05, lookback=12)
    assert f.why(9).split(": ")[1].startswith("steady over 12 months")
    # the expected figure is the window's weighted mean: within noise of the true rate
    assert abs(f.expected[9] - 8) < 2


def test_the_seasonal_term_is_said_when_the_same_month_last_year_was_busy():
    counts = np.zeros((3, 12))
    counts[0] = 1
    year_ago = np.array([6.0, 0.0, np.nan])
    f = forecast(counts, None, unit="month", coverage=0.34, lookback=12, year_ago=year_ago)
    assert "busy in the same month last year (6)" in f.why(0)
    assert "last year" not in f.why(1) and "last year" not in f.why(2)


def test_harm_weights_rank_and_counts_give_the_expected_incidents():
    counts = np.array([[2.0, 2, 2], [3.0, 3, 3]])
    harm = np.array([[20.0, 20, 20], [3.0, 3, 3]])  # two serious assaults beat three thefts
    f = forecast(counts, harm, unit="month", coverage=0.5, lookback=3)
    assert f.score[0] > f.score[1] and f.expected.tolist() == [2.0, 3.0]


def test_interval_is_the_negative_binomial_predictive_by_hand():
    # 12 incidents over 12 equally weighted months: rate ~ Gamma(12.5, 12);
    # next month ~ NB(12.5, 12/13)
    lo, hi = predictive_interval(np.array([12.0]), 12.0)
    assert lo[0] == nbinom.ppf(0.1, 12.5, 12 / 13) and hi[0] == nbinom.ppf(0.9, 12.5, 12 / 13)
    # per shift of a month's 8 shifts: exposure 96 shifts
    lo, hi = predictive_interval(np.array([12.0]), 12.0, per=1 / 8)
    assert hi[0] == nbinom.ppf(0.9, 12.5, 96 / 97)
    # few incidents: a wide interval; many: narrow relative to the mean
    _, hi_few = predictive_interval(np.array([1.0]), 12.0)
    assert hi_few[0] >= 1


def test_too_short_a_history_uses_the_default_and_says_so():
    counts = np.array([[1.0, 2.0], [0.0, 1.0]])
    f = forecast(counts, None, unit="month", coverage=0.5, lookback=2)
    assert f.choice.validated_periods == 0
    assert "the default" in f.choice.describe("month")


# ---------------------------------------------------------------------- protocol arithmetic

BASE = h3.latlng_to_cell(52.6369, -1.1398, 9)  # Leicester
CELLS = sorted(h3.grid_disk(BASE, 3))  # 37 cells


def _incidents(plan: dict[tuple[int, int], int]):
    """Incidents from {(cell index, month index): count}; BNG positions at the cell centres."""
    from geo.projection import to_bng

    month, cell, e, n = [], [], [], []
    for (ci, m), k in plan.items():
        lat, lon = h3.cell_to_latlng(CELLS[ci])
        ee, nn = to_bng(np.array([lon]), np.array([lat]))
        for _ in range(k):
            month.append(m)
            cell.append(int(CELLS[ci], 16))
            e.append(float(ee[0]))
            n.append(float(nn[0]))
    return bp.Incidents(np.array(month), np.array(cell, dtype="uint64"), np.array(e),
                        np.array(n))


def test_metrics_and_the_oracle_by_hand():
    # 10 cells, look-back 2 months, cutoff month 2; coverage 0.1 -> 1 cell, 0.2 -> 2 cells
    plan = {(0, 0): 5, (0, 1): 5,  # cell 0: busy in the look-back, quiet after
            (1, 1): 3,             # cell 1: last month only
            (2, 2): 6, (3, 2): 3, (1, 2): 1}  # the horizon: 10 incidents
    plan.update({(i, 0): 1 for i in range(4, 10)})  # every cell inhabited
    inc = _incidents(plan)
    study = bp.StudyArea.inhabited(inc.cell)
    p = bp.Protocol(first_cutoff=2, last_cutoff=2, lookback_months=2, coverages=(0.1, 0.2))
    out = bp.run(p, inc, study, data_first=0, data_last=2)
    (row,) = out.cutoffs
    assert row.horizon_incidents == 10 and len(study.cells) == 10
    m = row.scores
    # oracle: the horizon's busiest cell (6 of 10), then the next (3)
    assert m["oracle"][0.1].hits == 6 and m["oracle"][0.2].hits == 9
    assert m["oracle"][0.1].hit_rate == pytest.approx(0.6)
    assert m["oracle"][0.1].pai == pytest.approx(0.6 / 0.1)
    # count over the look-back: cell 0 (10) then cell 1 (3): 0 + 1 hits of 10
    assert m["count_12m"][0.1].hits == 0 and m["count_12m"][0.2].hits == 1
    assert m["count_12m"][0.2].share_of_ceiling == pytest.approx(0.1 / 0.9)
    # last month: cell 0 (5) then cell 1 (3)
    assert m["count_last"][0.2].cells == 2 and m["count_last"][0.2].hits == 1
    assert m["oracle"][0.2].area_share == pytest.approx(0.2)
    s = out.summary["oracle"][0.1]
    assert s.share_of_ceiling == 1.0 and s.hit_rate == pytest.approx(0.6)


def test_coverage_takes_whole_cells_and_reports_the_share_used():
    assert places_for(0.01, 4080) == 40 and places_for(0.05, 37) == 1
    assert places_for(0.02, 0) == 0


def test_cutoffs_with_a_missing_month_or_outside_the_data_are_skipped_with_reasons():
    plan = {(i % 5, m): 1 + i % 3 for i in range(20) for m in range(8) if m != 4}
    inc = _incidents(plan)
    study = bp.StudyArea.inhabited(inc.cell)
    p = bp.Protocol(first_cutoff=1, last_cutoff=8, lookback_months=2, coverages=(0.2,))
    out = bp.run(p, inc, study, data_first=0, data_last=7, missing=[4])
    scored = [bp.month_text(c.cutoff) for c in out.cutoffs]
    skipped = {bp.month_text(c): why for c, why in out.skipped}
    assert scored == [bp.month_text(m) for m in (2, 3, 7)]
    assert "before the data start" in skipped[bp.month_text(1)]
    assert "horizon has no data for 1970-05" in skipped[bp.month_text(4)]
    assert "look-back has no data for 1970-05" in skipped[bp.month_text(5)]
    assert "look-back has no data" in skipped[bp.month_text(6)]
    assert "after the data end" in skipped[bp.month_text(8)]
    assert len(scored) + len(skipped) == 8


def test_no_cutoff_sees_data_after_it():
    # shuffling everything from the horizon on (which months, which cells) changes no method's
    # choice but the oracle's
    rng = np.random.default_rng(3)
    plan = {(int(rng.integers(37)), m): int(rng.integers(1, 4)) for m in range(14)
            for _ in range(40)}
    inc = _incidents(plan)
    study = bp.StudyArea.inhabited(inc.cell)
    p = bp.Protocol(first_cutoff=10, last_cutoff=10, lookback_months=6, coverages=(0.1,))
    future = inc.month >= 10
    shuffled = bp.Incidents(inc.month.copy(), inc.cell.copy(), inc.easting.copy(),
                            inc.northing.copy())
    perm = rng.permutation(np.flatnonzero(future))
    shuffled.cell[future] = inc.cell[perm]
    shuffled.easting[future] = inc.easting[perm]
    shuffled.northing[future] = inc.northing[perm]
    shuffled.month[future] = rng.integers(10, 14, future.sum())
    # the same study area (it is every cell with any incident, in any month)
    assert np.array_equal(bp.StudyArea.inhabited(shuffled.cell).cells, study.cells)

    def scores(incidents):
        counts = bp._month_counts(np.searchsorted(study.cells, incidents.cell),
                                  incidents.month, len(study.cells), 14)
        present = np.ones(14, bool)
        return bp.method_scores(p, study, counts, 0, 10, present, incidents,
                                bp._centres_bng(study.cells))[0]

    before, after = scores(inc), scores(shuffled)
    for name in ("forecast", "count_12m", "count_last", "kde"):
        assert np.array_equal(before[name], after[name]), name
    assert not np.array_equal(before["oracle"], after["oracle"])


def test_kde_scores_the_quartic_kernel_by_hand():
    e, n = np.array([0.0, 0.0]), np.array([0.0, 100.0])
    got = bp.kde_scores(e, n, np.array([0.0]), np.array([50.0]), 250.0)
    u = (50 / 250) ** 2
    assert got[0] == pytest.approx(2 * (1 - u) ** 2)


def test_boundaries_study_area_counts_area_not_cells():
    from shapely.geometry import box

    poly = box(-1.16, 52.62, -1.12, 52.65)  # about 2.7 km x 3.3 km around Leicester centre
    study = bp.StudyArea.boundaries([poly], 9, total_km2=9.0)
    assert len(study.cells) > 50 and study.by_area
    order = np.arange(len(study.cells))
    chosen = study.select(order, 0.05)
    assert study.cell_km2[chosen].sum() <= 0.05 * 9.0 < study.cell_km2[
        order[:len(chosen) + 1]].sum()


def test_the_sentence_names_the_winner_and_the_margin():
    summary = {m: {0.01: bp.Median(pai=v, hit_rate=v / 100, share_of_ceiling=v / 20,
                                   area_share=0.01, cutoffs=23)}
               for m, v in [("forecast", 15.0), ("count_12m", 14.0), ("count_last", 12.0),
                            ("kde", 13.0), ("oracle", 20.0)]}
    text = bp.sentence(summary, (0.01,), 23)
    assert text.startswith("At 1% of the study area, the forecast did best over 23 cutoffs")
    assert "PAI 15.0" in text and "PAI 14.0) for the look-back's count" in text
    assert bp.sentence(summary, (0.01,), 0).startswith("No cutoff could be scored")
