"""Backtests: every metric of a small planted dataset matches a hand computation.

The planted dataset (``planted()``) has four fake cells A, B, C, D, each with one location in
British National Grid (EPSG:27700) 3 km from the next, so kernels (250 m) never overlap:

    cell  id  easting   look-back (days 72-99)      horizon (days 100-106)
    A     10  350_050   6 incidents, days 72-77     3 incidents
    B     20  353_050   2 incidents, days 95-96     1 incident
    C     30  356_050   1 incident,  day 80         -
    D     40  359_050   (1 on day 50, too early)    1 incident (+1 on day 120, too late)

Cutoff day 100, look-back 28 days, horizon 7 days, so the last period is days 93-99. Each H3
"cell" has 0.09 km² and the study area is 3.6 km²: one cell is 1/40 of it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import h3
import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose

from geo.backtest import (
    RESULT_COLUMNS,
    BacktestData,
    backtest_at,
    boundary_area_km2,
    rank_cells_for_window,
    rolling_backtest,
    rolling_cutoffs,
    score_selection,
    summarise,
    top_kde_cells,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.exists(), reason=f"real public data folder {SHARED} is absent"
)

#: Ratios are sums of a handful of floats: anything beyond rounding is a real difference.
RTOL = 1e-12
A, B, C, D = 10, 20, 30, 40
XY = {A: 350_050.0, B: 353_050.0, C: 356_050.0, D: 359_050.0}
NORTHING = 430_050.0
CELL_KM2 = 0.09
STUDY_KM2 = 3.6
CUTOFF = 100
WINDOWS = {"lookback_days": 28, "horizon_days": 7}


def make_data(rows: list[tuple[int, int, float]], **extra: object) -> BacktestData:
    """Build day-dated data from ``(day, cell, weight)`` rows placed at each cell's location."""
    day = np.array([r[0] for r in rows])
    cell = np.array([r[1] for r in rows])
    return BacktestData(
        day=day, month_first=np.zeros(len(rows)), month_only=np.zeros(len(rows), bool),
        cell=cell, easting=np.array([XY[c] for c in cell]),
        northing=np.full(len(rows), NORTHING), weight=np.array([r[2] for r in rows]),
        **extra,  # type: ignore[arg-type]
    )


def planted(lookback_c_weight: float = 1.0, horizon_d_weight: float = 1.0) -> BacktestData:
    rows = [(72 + i, A, 1.0) for i in range(6)]
    rows += [(95, B, 1.0), (96, B, 1.0), (80, C, lookback_c_weight)]
    rows += [(100, A, 1.0), (101, A, 1.0), (102, A, 1.0), (103, B, 1.0),
             (104, D, horizon_d_weight)]
    rows += [(50, D, 1.0), (120, D, 1.0)]  # outside both windows
    return make_data(rows)


def run(data: BacktestData, **kw: object) -> pd.DataFrame:
    args: dict[str, object] = {"study_area_km2": STUDY_KM2, "cell_area_km2": CELL_KM2,
                               "n": 1, "coverages": (), **WINDOWS}
    args.update(kw)
    return backtest_at(data, CUTOFF, **args)  # type: ignore[arg-type]


def row(table: pd.DataFrame, method: str, selection: str = "top 1") -> pd.Series:
    found = table[(table["method"] == method) & (table["selection"] == selection)]
    assert len(found) == 1, (method, selection)
    return found.iloc[0]


# --------------------------------------------------------------------------- scoring


def test_score_selection_by_hand():
    # Selected: cell 7 (1 km² of 40 km²). Horizon: 7, 7, 7, 8, 9 with harm 1, 1, 2, 4, 2.
    # hit rate = 3/5; area share = 1/40; PAI = 0.6 * 40 = 24.
    # harm hit rate = (1 + 1 + 2) / (1 + 1 + 2 + 4 + 2) = 4/10; harm-PAI = 0.4 * 40 = 16.
    s = score_selection(np.array([7]), np.array([7, 7, 7, 8, 9]),
                        np.array([1.0, 1, 2, 4, 2]), cell_area_km2=1.0, study_area_km2=40.0)
    assert (s["n_hits"], s["n_horizon"]) == (3, 5)
    assert_allclose([s["hit_rate"], s["area_share"], s["pai"]], [0.6, 1 / 40, 24.0], rtol=RTOL)
    assert_allclose([s["harm_hits"], s["horizon_harm"], s["harm_hit_rate"], s["harm_pai"]],
                    [4.0, 10.0, 0.4, 16.0], rtol=RTOL)
    # Per-cell areas: cells 7 and 8 of 1.5 and 0.5 km² -> 2 km² = 1/20; hits 4/5 -> PAI 16.
    s2 = score_selection(np.array([7, 8]), np.array([7, 7, 7, 8, 9]), np.ones(5),
                         cell_area_km2=np.array([1.5, 0.5]), study_area_km2=40.0)
    assert_allclose([s2["area_km2"], s2["hit_rate"], s2["pai"]], [2.0, 0.8, 16.0], rtol=RTOL)


def test_score_selection_zero_denominators_are_nan_not_errors():
    none = score_selection(np.array([7]), np.array([], dtype=np.int64), np.ones(0), 1.0, 40.0)
    assert none["n_horizon"] == 0 and none["n_hits"] == 0 and none["area_km2"] == 1.0
    assert np.isnan([none["hit_rate"], none["harm_hit_rate"], none["pai"],
                     none["harm_pai"]]).all()
    empty = score_selection(np.array([], dtype=np.int64), np.array([7, 8]), np.ones(2), 1.0, 40.0)
    assert (empty["n_hits"], empty["n_horizon"], empty["hit_rate"]) == (0, 2, 0.0)
    assert empty["area_share"] == 0.0 and np.isnan(empty["pai"])
    harmless = score_selection(np.array([7]), np.array([7]), np.zeros(1), 1.0, 40.0)
    assert harmless["hit_rate"] == 1.0 and np.isnan(harmless["harm_pai"])
    with pytest.raises(ValueError, match="study_area_km2"):
        score_selection(np.array([7]), np.array([7]), np.ones(1), 1.0, 0.0)


def test_uint64_h3_cells_are_not_merged_through_float_comparison():
    # Two distinct H3 indexes 1 apart: as float64 they would compare equal.
    a = np.uint64(h3.str_to_int(h3.latlng_to_cell(53.759, -2.703, 15)))
    s = score_selection(np.array([a]), np.array([a + np.uint64(1)], dtype=np.int64), np.ones(1),
                        1.0, 40.0)
    assert s["n_hits"] == 0


# --------------------------------------------------------------------------- one cutoff


def test_planted_top_cell_hit_rate_area_share_and_pai():
    t = run(planted())
    assert list(t.columns) == RESULT_COLUMNS
    assert list(t["method"]) == ["hotspots", "last_period_count", "kde"]
    hot = row(t, "hotspots")
    # Look-back harm (equal weights): A 6, B 2, C 1 -> A. Horizon hits: the 3 in A of 5.
    # hit rate 3/5, area share 0.09/3.6 = 1/40, PAI 24; harm hit rate equal (weights 1).
    assert (hot["n_cells"], hot["n_hits"], hot["n_horizon"], hot["n_lookback"]) == (1, 3, 5, 9)
    assert_allclose([hot["hit_rate"], hot["area_km2"], hot["area_share"], hot["pai"],
                     hot["harm_hit_rate"], hot["harm_pai"]],
                    [0.6, 0.09, 1 / 40, 24.0, 0.6, 24.0], rtol=RTOL)
    assert (hot["cutoff"], hot["lookback_from"], hot["horizon_to"]) == (
        "1970-04-11", "1970-03-14", "1970-04-17")


def test_last_period_baseline_picks_a_different_cell():
    t = run(planted())
    last = row(t, "last_period_count")
    # Last period = days 93-99: only B's 2 incidents. B holds 1 of 5 horizon incidents:
    # hit rate 1/5, PAI 0.2 * 40 = 8, where our 12-week ranking picked A (PAI 24).
    assert (last["n_lookback"], last["n_cells"], last["n_hits"]) == (2, 1, 1)
    assert_allclose([last["hit_rate"], last["pai"]], [0.2, 8.0], rtol=RTOL)
    # A longer last period (21 days: 79-99) holds B twice and C once: B still comes first.
    longer = row(run(planted(), last_period_days=21), "last_period_count")
    assert longer["n_lookback"] == 3 and longer["n_hits"] == 1


def test_harm_weights_change_harm_pai_and_the_ranking():
    # Horizon D weighs 5: total horizon harm 1+1+1+1+5 = 9; A's harm 3 -> harm hit rate 1/3,
    # harm-PAI (1/3) * 40 = 13.33; the plain hit rate and PAI stay 3/5 and 24.
    hot = row(run(planted(horizon_d_weight=5.0)), "hotspots")
    assert_allclose([hot["hit_rate"], hot["pai"], hot["horizon_harm"], hot["harm_hits"]],
                    [0.6, 24.0, 9.0, 3.0], rtol=RTOL)
    assert_allclose([hot["harm_hit_rate"], hot["harm_pai"]], [1 / 3, 40 / 3], rtol=RTOL)
    # C's single look-back incident weighs 10 > A's 6: our ranking now picks C, which has no
    # horizon incident (hit rate 0, PAI 0). The count baseline ignores weights: still B.
    t = run(planted(lookback_c_weight=10.0))
    assert row(t, "hotspots")["n_hits"] == 0 and row(t, "hotspots")["pai"] == 0.0
    assert row(t, "last_period_count")["n_hits"] == 1
    # The KDE baseline is unweighted: identical with and without the weights.
    pd.testing.assert_frame_equal(t[t["method"] == "kde"], run(planted())[lambda x:
                                                                          x["method"] == "kde"])


def test_kde_baseline_selects_the_grid_cells_around_the_planted_cluster():
    # Quartic kernel, h = 250 m, 100 m cells, points on cell centres. Relative density at a
    # cell d metres from a point is (1 - d²/h²)²: 1 at 0 m, 0.7056 at 100 m, 0.4624 at 141 m,
    # 0.1296 at 200 m. Times the points there:
    #   A (6): 6, 4.234 (x4), 2.774 (x4), 0.778 (x4 at 200 m)
    #   B (2): 2, 1.411 (x4), 0.925 (x4)        C (1): 1, 0.706 (x4)
    # Top 9 = the 3 x 3 block around A; top 18 adds B's centre and its 4 neighbours at 100 m,
    # C's centre, then 3 of B's 4 tied diagonals, by index: south-west, south-east, north-west.
    d = planted()
    look = (d.day >= 72) & (d.day < 100)
    grid, top = top_kde_cells(d.easting[look], d.northing[look], cell_m=100.0,
                              bandwidth_m=250.0, k=18)
    assert grid is not None
    iy, ix = np.divmod(top, grid.nx)
    col = {c: int((XY[c] - grid.x0) // 100) for c in (A, B, C)}
    row0 = int((NORTHING - grid.y0) // 100)
    got = [(int(y) - row0, int(x) - col[c]) for x, y, c in zip(
        ix, iy, [A] * 9 + [B] * 5 + [C] + [B] * 3, strict=True)]
    assert sorted(got[:9]) == [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    assert got[0] == (0, 0) and sorted(got[9:14]) == [(-1, 0), (0, -1), (0, 0), (0, 1), (1, 0)]
    assert got[14] == (0, 0) and got[15:] == [(-1, -1), (-1, 1), (1, -1)]
    # In the backtest the KDE takes the area our top cell took (0.09 km² = 9 grid cells): the
    # block around A, which holds A's 3 horizon incidents. D's lies off the grid: a miss.
    kde = row(run(d), "kde")
    assert (kde["n_cells"], kde["n_hits"], kde["n_horizon"]) == (9, 3, 5)
    assert_allclose([kde["area_km2"], kde["pai"]], [0.09, 24.0], rtol=RTOL)


def test_coverage_curve_selects_whole_cells_within_budget_and_is_monotone():
    # Budgets of 3.6 km²: 2.5 % = 0.09 (A), 3 % = 0.108 (still A: B would exceed it),
    # 5 % = 0.18 (A, B), 10 % = 0.36 (A, B, C: only 3 cells had look-back incidents, 0.27).
    # Hits: A 3, B 1 -> 3, 3, 4, 4 of 5.
    t = run(planted(), n=None, coverages=(0.10, 0.025, 0.05, 0.03))
    hot = t[t["method"] == "hotspots"]
    assert list(hot["selection"]) == ["coverage 2.5%", "coverage 3%", "coverage 5%",
                                      "coverage 10%"]
    assert list(hot["n_cells"]) == [1, 1, 2, 3]
    assert list(hot["n_hits"]) == [3, 3, 4, 4]
    assert_allclose(hot["area_km2"], [0.09, 0.09, 0.18, 0.27], rtol=RTOL)
    assert (hot["area_km2"] <= hot["coverage"] * STUDY_KM2 * (1 + 1e-9)).all()
    for method in ("hotspots", "last_period_count", "kde"):
        part = t[t["method"] == method]
        assert part["area_km2"].is_monotonic_increasing, method
        assert part["n_hits"].is_monotonic_increasing, method
    # The KDE matches our areas: 9, 9, 18, 27 grid cells (fewer only if it runs out).
    assert list(t.loc[t["method"] == "kde", "n_cells"]) == [9, 9, 18, 27]


def test_exact_h3_cell_areas_by_default():
    cells = [h3.str_to_int(h3.latlng_to_cell(53.759 + 0.01 * i, -2.703, 9)) for i in range(3)]
    # cell 0 twice in the look-back, cell 1 once; the horizon has one incident in each cell.
    data = BacktestData(day=[90, 91, 92, 100, 101, 102], month_first=[0] * 6,
                        month_only=[False] * 6, cell=[cells[0], cells[0], cells[1], *cells],
                        easting=[353_750.0] * 6, northing=[429_410.0] * 6, weight=[1.0] * 6)
    t = backtest_at(data, CUTOFF, **WINDOWS, study_area_km2=100.0, n=2, coverages=())
    exact = h3.cell_area(h3.int_to_str(cells[0]), "km^2") + h3.cell_area(
        h3.int_to_str(cells[1]), "km^2")
    hot = row(t, "hotspots", "top 2")
    assert_allclose(hot["area_km2"], exact, rtol=RTOL)
    assert abs(exact / 2 - h3.average_hexagon_area(9, "km^2")) > 0.005  # it matters here
    assert_allclose(hot["pai"], (2 / 3) / (exact / 100.0), rtol=RTOL)


def test_per_cell_budget_grows_past_the_first_chunk_of_exact_areas():
    # 2,000 distinct real cells, a budget needing ~1,100 of them: more than one chunk of
    # exact areas must be measured, and the selection must still stop within the budget.
    lat = 53.5 + (np.arange(2000) // 50) * 0.004
    lng = -2.9 + (np.arange(2000) % 50) * 0.006
    cells = np.array([h3.str_to_int(h3.latlng_to_cell(a, b, 9)) for a, b in
                      zip(lat, lng, strict=True)], dtype="uint64")
    cells = np.unique(cells)
    n = cells.size
    data = BacktestData(day=np.r_[np.full(n, 90), 100], month_first=np.zeros(n + 1),
                        month_only=np.zeros(n + 1, bool), cell=np.r_[cells, cells[:1]],
                        easting=np.full(n + 1, 353_750.0), northing=np.full(n + 1, 429_410.0),
                        weight=np.ones(n + 1))
    budget = 1100 * 0.094
    t = backtest_at(data, CUTOFF, **WINDOWS, study_area_km2=budget / 0.5, n=None,
                    coverages=(0.5,))
    hot = row(t, "hotspots", "coverage 50%")
    areas = np.array([h3.cell_area(h3.int_to_str(int(c)), "km^2") for c in cells])
    k = int(np.searchsorted(np.cumsum(areas), budget, side="right"))  # ties: id ascending
    assert 1000 < k < n and hot["n_cells"] == k
    assert_allclose(hot["area_km2"], areas[:k].sum(), rtol=1e-9)


# --------------------------------------------------------------------------- ties


def test_ties_break_by_harm_then_count_then_cell_id():
    cells = np.array([7, 7, 3, 3, 5, 9], dtype="uint64")
    # harm: 7 -> 2, 3 -> 2, 5 -> 2 (one incident of weight 2), 9 -> 1.
    w = np.array([1, 1, 1, 1, 2, 1.0])
    # 3 and 7 tie on harm and count (2 each): id ascending; 5 has the same harm, fewer counts.
    assert rank_cells_for_window(cells, w).tolist() == [3, 7, 5, 9]
    rng = np.random.default_rng(3)
    perm = rng.permutation(cells.size)
    assert rank_cells_for_window(cells[perm], w[perm]).tolist() == [3, 7, 5, 9]
    # Float rounding must not split a tie: 0.1 + 0.2 != 0.15 + 0.15 in binary.
    assert 0.1 + 0.2 != 0.15 + 0.15
    assert rank_cells_for_window(np.array([5, 5, 3, 3]), np.array([0.1, 0.2, 0.15, 0.15])
                                 ).tolist() == [3, 5]


def test_backtest_does_not_depend_on_row_order():
    d = planted()
    perm = np.random.default_rng(0).permutation(len(d))
    shuffled = BacktestData(**{f.name: getattr(d, f.name)[perm] for f in dataclasses.fields(d)
                               if f.name != "shift"})
    kw = {"n": 2, "coverages": (0.05, 0.1)}
    pd.testing.assert_frame_equal(run(d, **kw), run(shuffled, **kw))


def test_equal_cells_at_the_top_n_boundary_go_by_cell_id():
    # B and C both hold one look-back incident of weight 1 after A (3): top 2 = A, B (20 < 30).
    rows = [(90, A, 1.0)] * 3 + [(91, C, 1.0), (92, B, 1.0), (100, B, 1.0), (101, C, 1.0)]
    hot = row(run(make_data(rows), n=2), "hotspots", "top 2")
    assert (hot["n_hits"], hot["n_horizon"]) == (1, 2)


# --------------------------------------------------------------------------- empty windows


def test_no_horizon_incidents_gives_nan_with_counts_filled():
    d = planted()
    keep = d.day < 100
    only_past = BacktestData(**{f.name: getattr(d, f.name)[keep] for f in dataclasses.fields(d)
                                if f.name != "shift"})
    t = run(only_past, coverages=(0.05,))
    assert (t["n_horizon"] == 0).all() and (t["n_hits"] == 0).all()
    assert list(t["n_cells"]) == [1, 2, 1, 1, 9, 18]
    assert t[["hit_rate", "harm_hit_rate", "pai", "harm_pai"]].isna().all().all()
    assert (t["area_share"] > 0).all()


def test_no_lookback_incidents_selects_nothing():
    t = backtest_at(planted(), 300, **WINDOWS, study_area_km2=STUDY_KM2,
                    cell_area_km2=CELL_KM2, coverages=(0.05,))
    assert (t["n_cells"] == 0).all() and (t["area_km2"] == 0).all()
    assert t["pai"].isna().all() and (t["n_horizon"] == 0).all()
    empty = BacktestData(day=[], month_first=[], month_only=[], cell=[], easting=[],
                         northing=[], weight=[])
    t2 = backtest_at(empty, 300, **WINDOWS, study_area_km2=STUDY_KM2)
    assert len(t2) == 15 and t2["pai"].isna().all()


def test_bad_parameters_are_refused():
    d = planted()
    with pytest.raises(ValueError, match="lookback_days and horizon_days"):
        backtest_at(d, CUTOFF, study_area_km2=1.0)
    with pytest.raises(ValueError, match="coverages"):
        run(d, coverages=(0.0,))
    with pytest.raises(ValueError, match="last_period_days"):
        run(d, last_period_days=29)
    with pytest.raises(ValueError, match="window_unit"):
        run(d, window_unit="week")
    with pytest.raises(ValueError, match="one value per incident"):
        BacktestData(day=[1, 2], month_first=[0], month_only=[False], cell=[1], easting=[0.0],
                     northing=[0.0], weight=[1.0])


def test_target_share_selects_the_fewest_cells_holding_it():
    # Look-back harm A 6, B 2, C 1 of 9: A alone holds 67%, A and B 89%. So 60% takes A and
    # 80% takes A and B: 4 of the 5 horizon incidents, area 2/40, PAI 0.8 / 0.05 = 16.
    # The last period (days 93-99) holds only B, so every share takes B alone.
    t = run(planted(), n=None, target_share=0.6)
    assert row(t, "hotspots", "share 60%")["n_cells"] == 1
    t = run(planted(), n=None, target_share=0.8)
    hot = row(t, "hotspots", "share 80%")
    assert (hot["n_cells"], hot["n_hits"], hot["n_horizon"]) == (2, 4, 5)
    assert_allclose([hot["area_share"], hot["pai"]], [0.05, 16.0], rtol=RTOL)
    assert row(t, "last_period_count", "share 80%")["n_cells"] == 1
    # the KDE baseline takes the area our hotspots took: 0.18 km² = 18 grid cells of 100 m
    assert row(t, "kde", "share 80%")["n_cells"] == 18
    with pytest.raises(ValueError, match="target_share"):
        run(planted(), n=None, target_share=1.5)


def _gi_field() -> tuple[BacktestData, int, list[int]]:
    """A busy disk of 7 H3 cells (20 each) in a field of 1s, and one far cell with 25.

    The far cell has the most incidents of any cell, but nothing round it: Gi* does not call
    it a hot spot (z 0.66), while the 7 cells of the disk are 99% hot spots (bin 3).
    """
    from h3.api import numpy_int as h3i

    from geo.projection import to_bng

    centre = h3.str_to_int(h3.latlng_to_cell(53.759, -2.703, 9))
    far = h3.str_to_int(h3.latlng_to_cell(53.80, -2.60, 9))
    disk = [int(c) for c in h3i.grid_disk(centre, 1)]
    rows: list[tuple[int, int]] = []  # (day, cell)
    for c in (int(c) for c in h3i.grid_disk(centre, 4)):
        rows += [(95, c)] * (20 if c in disk else 1)  # in the last period too
    rows += [(95, far)] * 25
    rows += [(100, far)] * 2 + [(101, c) for c in disk]  # horizon: 2 far, 1 in each of 7
    cells = np.array([r[1] for r in rows], dtype="uint64")
    lat, lon = zip(*(h3.cell_to_latlng(h3.int_to_str(int(c))) for c in cells), strict=True)
    e, n = to_bng(np.array(lon), np.array(lat))
    data = BacktestData(day=[r[0] for r in rows], month_first=np.zeros(len(rows)),
                        month_only=np.zeros(len(rows), bool), cell=cells, easting=e,
                        northing=n, weight=np.ones(len(rows)))
    return data, far, disk


def test_significant_only_ranks_gi_star_hot_spots():
    data, far, disk = _gi_field()
    kw = {"study_area_km2": 100.0, "n": 1, "coverages": (), **WINDOWS}
    plain = row(backtest_at(data, CUTOFF, **kw), "hotspots")
    # the far cell has the most harm, so it is the top cell: its 2 of the 9 horizon incidents
    assert (plain["n_cells"], plain["n_hits"], plain["n_horizon"]) == (1, 2, 9)
    sig = backtest_at(data, CUTOFF, significance=0.95, **kw)
    hot = row(sig, "hotspots")
    # with Gi* at 95%, the top cell is one of the disk's 7 (ties go by cell id): 1 hit
    assert (hot["n_cells"], hot["n_hits"]) == (1, 1)
    # the baselines are not filtered: the last-period count still takes the far cell
    assert row(sig, "last_period_count")["n_hits"] == 2
    with pytest.raises(ValueError, match="significance"):
        backtest_at(data, CUTOFF, significance=0.5, **kw)


def test_missing_months_and_window_coverage():
    from geo.backtest import months_without_data, window_bounds, window_coverage

    firsts = np.array([np.datetime64(m, "D") for m in (
        "2021-01-01", "2021-02-01", "2021-04-01", "2021-05-01")])
    days = (firsts - np.datetime64("1970-01-01", "D")).astype(int)
    assert months_without_data(days) == [int((np.datetime64("2021-03-01") -
                                              np.datetime64("1970-01-01")).astype(int))]
    gaps = months_without_data(days)
    assert window_coverage("2021-02-01", "2021-04-30", "2021-01-01", "2021-05-31", gaps) == \
        "the data have no incidents at all in March 2021"
    assert window_coverage("2021-04-01", "2021-06-30", "2021-01-01", "2021-05-31", gaps) == \
        "it ends after the data end (31 May 2021)"
    assert window_coverage("2021-04-01", "2021-05-31", "2021-01-01", "2021-05-31", gaps) is None
    assert window_bounds("2021-04-01", window_unit="month", lookback_months=3) == (
        int(days[0]), int(days[3]) - 1)


# --------------------------------------------------------------------------- rolling


def test_rolling_cutoffs_fit_whole_windows_inside_the_data():
    # Data days 0-139: the last horizon (7 days) starts on day 133; every 14 days back while
    # 28 days of look-back still fit (35 - 28 = 7 >= 0, 21 - 28 < 0).
    assert rolling_cutoffs(0, 139, lookback=28, horizon=7, step=14) == [
        35, 49, 63, 77, 91, 105, 119, 133]
    assert rolling_cutoffs(0, 30, lookback=28, horizon=7, step=14) == []
    # Months: data from 15 Aug (August incomplete) to 31 Dec 2019: Sep-Nov -> Dec only.
    assert rolling_cutoffs("2019-08-15", "2019-12-31", lookback=3, horizon=1, step=1,
                           window_unit="month") == [18231]  # 2019-12-01
    assert rolling_cutoffs("2019-08-01", "2019-12-30", lookback=3, horizon=1, step=1,
                           window_unit="month") == [18201]  # 2019-11-01 (December incomplete)


def test_rolling_series_one_block_per_cutoff():
    d = planted()
    t = rolling_backtest(d, [93, 100], **WINDOWS, study_area_km2=STUDY_KM2,
                         cell_area_km2=CELL_KM2, n=1, coverages=())
    assert list(t["cutoff"].unique()) == ["1970-04-04", "1970-04-11"]
    assert len(t) == 6
    pd.testing.assert_frame_equal(t.iloc[3:].reset_index(drop=True), run(d))
    # Cutoff 93: look-back 65-92 holds A x6 and C; horizon 93-99 is B's 2 incidents; the
    # last period 86-92 is empty. Our top cell A catches none of B's: PAI 0; baseline NaN.
    early = t[t["cutoff"] == "1970-04-04"]
    assert row(early, "hotspots")["n_horizon"] == 2 and row(early, "hotspots")["pai"] == 0.0
    assert row(early, "last_period_count")["n_cells"] == 0
    assert np.isnan(row(early, "last_period_count")["pai"])
    s = summarise(t)
    hot = s[(s["method"] == "hotspots")].iloc[0]
    # Pooled over both cutoffs: 0 + 3 hits of 2 + 5 incidents = 3/7, area share 1/40.
    assert (hot["cutoffs"], hot["n_hits"], hot["n_horizon"]) == (2, 3, 7)
    assert_allclose([hot["hit_rate"], hot["pai"], hot["mean_pai"]],
                    [3 / 7, 40 * 3 / 7, 12.0], rtol=RTOL)
    assert rolling_backtest(d, [], **WINDOWS, study_area_km2=1.0).columns.tolist() == \
        RESULT_COLUMNS


# --------------------------------------------------------------------------- month-only data


def month_day(text: str) -> int:
    return int((np.datetime64(text, "D") - np.datetime64("1970-01-01", "D")).astype(int))


def month_data(shift: str | None = None) -> BacktestData:
    # A: Sep x3, Oct x3; B: Nov x2; C: Aug x5 (before the look-back); Dec (horizon): A x3,
    # B, D; C: Jan 2020 x4 (after it). Police.uk style: no day, month only.
    spec = ([("2019-09", A)] * 3 + [("2019-10", A)] * 3 + [("2019-11", B)] * 2
            + [("2019-08", C)] * 5 + [("2019-12", A)] * 3 + [("2019-12", B), ("2019-12", D)]
            + [("2020-01", C)] * 4)
    n = len(spec)
    return BacktestData(
        day=np.full(n, -1), month_first=np.array([month_day(m + "-01") for m, _ in spec]),
        month_only=np.ones(n, bool), cell=np.array([c for _, c in spec]),
        easting=np.array([XY[c] for _, c in spec]), northing=np.full(n, NORTHING),
        weight=np.ones(n),
        shift=shift,
    )


def test_month_only_data_with_whole_month_windows():
    t = backtest_at(month_data(), "2019-12-01", window_unit="month", lookback_months=3,
                    study_area_km2=STUDY_KM2, cell_area_km2=CELL_KM2, n=1, coverages=())
    hot, last = row(t, "hotspots"), row(t, "last_period_count")
    # Look-back Sep-Nov: A 6, B 2 (August's C is out). Horizon December: 5 (January out).
    assert (hot["n_lookback"], hot["n_horizon"], hot["n_hits"]) == (8, 5, 3)
    assert_allclose(hot["pai"], 24.0, rtol=RTOL)
    # Last period = the last month (November): B, 1 of 5 -> PAI 8.
    assert (last["n_lookback"], last["n_hits"]) == (2, 1)
    assert_allclose(last["pai"], 8.0, rtol=RTOL)
    assert (hot["lookback_from"], hot["horizon_to"], hot["window_unit"]) == (
        "2019-09-01", "2019-12-31", "month")
    # Two-month look-back (Oct-Nov): A 3, B 2 -> still A.
    two = backtest_at(month_data(), "2019-12-01", window_unit="month", lookback_months=2,
                      study_area_km2=STUDY_KM2, cell_area_km2=CELL_KM2, n=1, coverages=())
    assert row(two, "hotspots")["n_lookback"] == 5


def test_month_only_data_refuses_a_shift_and_day_windows():
    kw = {"window_unit": "month", "study_area_km2": STUDY_KM2, "cell_area_km2": CELL_KM2}
    with pytest.raises(ValueError, match=r"shift \(days=fri,sat hours=20-4\).*no weekday or hour"):
        backtest_at(month_data(shift="days=fri,sat hours=20-4"), "2019-12-01", **kw)
    with pytest.raises(ValueError, match="first day of a month"):
        backtest_at(month_data(), "2019-12-02", **kw)
    with pytest.raises(ValueError, match="lookback_days applies to window_unit='day'"):
        backtest_at(month_data(), "2019-12-01", lookback_days=90, **kw)
    with pytest.raises(ValueError, match="22 incidents have no known day.*window_unit='month'"):
        backtest_at(month_data(), "2019-12-01", study_area_km2=STUDY_KM2, **WINDOWS)


# --------------------------------------------------------------------------- areas


def test_boundary_area_counts_overlaps_once_and_refuses_degrees():
    import geopandas as gpd
    from shapely.geometry import box

    squares = gpd.GeoDataFrame(geometry=[box(0, 0, 2000, 1000), box(1000, 0, 3000, 1000)],
                               crs=27700)
    assert_allclose(boundary_area_km2(squares), 3.0, rtol=RTOL)
    with pytest.raises(ValueError, match="geographic CRS"):
        boundary_area_km2(squares.set_crs(4326, allow_override=True))


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="module")
def sample_query(tmp_path_factory):
    from geo.boundaries import load_boundaries
    from geo.ingest import load_sample
    from geo.query import QueryLayer
    from geo.settings import DataPaths
    from geo.store import Store

    paths = DataPaths(tmp_path_factory.mktemp("sample"))
    load_sample(paths)
    return QueryLayer(Store(paths.store), load_boundaries(None))


@pytest.mark.parametrize(
    ("params", "code"),
    [({"la": "E07000123", "days": "fri,sat", "hours": "20-4"}, "E07000123"), ({}, None)],
    ids=["preston-fri-sat-nights", "whole-force"],
)
def test_sample_hotspots_predict_the_next_four_weeks(sample_query, params, code):
    from dashboard.params import parse_filters

    q = sample_query
    filters = parse_filters(params)
    data = BacktestData.from_query(q, filters, res=9)
    assert len(data) == q.select(filters).count
    assert data.shift == ("days=fri,sat hours=20-4" if params else None)
    areas = q.boundaries.areas_bng
    study = boundary_area_km2(areas[areas["code"] == code] if code else areas)
    # The last four weeks of the sample, from a Monday (3 March 2025), so no night is split.
    t = backtest_at(data, "2025-03-03", lookback_days=84, horizon_days=28,
                    study_area_km2=study)
    hot = row(t, "hotspots", "coverage 1%")
    assert hot["n_horizon"] > 40
    # Persistent planted hotspots: 1 % of the area holds far more than 1 % of incidents.
    assert hot["pai"] > 10 and hot["area_share"] <= 0.01
    for method in ("last_period_count", "kde"):
        assert np.isfinite(row(t, method, "coverage 1%")["pai"])


def test_month_windows_refuse_a_shift_from_the_query_layer(sample_query):
    from dashboard.params import parse_filters

    data = BacktestData.from_query(sample_query, parse_filters({"hours": "20-4"}), res=9)
    with pytest.raises(ValueError, match="hours=20-4"):
        backtest_at(data, "2025-03-01", window_unit="month", study_area_km2=100.0)


@needs_shared
def test_merseyside_months_backtest(tmp_path):
    from dashboard.params import parse_filters
    from geo.boundaries import import_boundaries
    from geo.ingest import ingest_file
    from geo.query import QueryLayer
    from geo.settings import DataPaths
    from geo.store import Store

    paths = DataPaths(tmp_path)
    lads = SHARED / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"
    boundaries = import_boundaries(lads, "LAD21CD", "LAD21NM", paths.boundaries)
    files = sorted((SHARED / "police_uk").glob("*/*.csv.gz"))
    for f in files:
        ingest_file(f, paths, boundaries=boundaries)
    q = QueryLayer(Store(paths.store), boundaries)
    merseyside = ("E08000011", "E08000012", "E08000013", "E08000014", "E08000015")
    filters = parse_filters({"la": ",".join(merseyside)})
    data = BacktestData.from_query(q, filters, res=9)
    areas = boundaries.areas_bng
    study = boundary_area_km2(areas[areas["code"].isin(merseyside)])
    assert 600 < study < 700  # the five Merseyside districts, ~645 km²
    t = backtest_at(data, "2019-12-01", window_unit="month", lookback_months=3,
                    study_area_km2=study)
    december = int((data.month_first == 18231).sum())
    assert (t["n_horizon"] == december).all() and december > 12_000
    hot = row(t, "hotspots", "coverage 1%")
    assert hot["n_lookback"] == int(((data.month_first >= 18140) & (data.month_first < 18231))
                                    .sum())  # 1 September - 30 November
    assert hot["pai"] > 5
    with pytest.raises(ValueError, match="no known day"):
        backtest_at(data, "2019-12-01", lookback_days=91, horizon_days=31, study_area_km2=study)
