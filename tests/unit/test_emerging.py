"""Emerging hot spots: the Mann-Kendall test, the periods, and a planted space-time pattern."""

from __future__ import annotations

from datetime import date
from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from h3.api import basic_int as h3b
from numpy.testing import assert_allclose
from scipy import stats

from geo.emerging import CATEGORIES, RULES, emerging_hotspots, mann_kendall, period_edges
from geo.h3index import cells_at

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

EXACT = 1e-12


def direct_mann_kendall(x: list[float]) -> tuple[int, float, float]:
    """S, z and p the textbook way: a double loop and the tie-corrected variance."""
    n = len(x)
    s = sum(int(np.sign(x[j] - x[i])) for i, j in combinations(range(n), 2))
    groups = [x.count(v) for v in set(x)]
    var = (n * (n - 1) * (2 * n + 5) - sum(t * (t - 1) * (2 * t + 5) for t in groups)) / 18
    if s > 0:
        z = (s - 1) / var**0.5
    elif s < 0:
        z = (s + 1) / var**0.5
    else:
        z = 0.0
    return s, z, 2 * (1 - stats.norm.cdf(abs(z)))


SERIES = {
    "rising": [1, 3, 2, 5, 7, 6, 9, 12, 11, 14],
    "falling": [9.5, 8.1, 8.4, 6.0, 5.2, 5.9, 3.3, 2.0],
    "flat-noise": [4, 6, 5, 3, 6, 4, 5, 3, 6, 4, 5],
    "ties": [2, 2, 3, 3, 3, 1, 4, 4, 2, 5, 5, 5],
}


@pytest.mark.parametrize("name", list(SERIES), ids=list(SERIES))
def test_mann_kendall_matches_direct_computation(name: str) -> None:
    x = SERIES[name]
    s_direct, z, p = direct_mann_kendall([float(v) for v in x])
    r = mann_kendall(np.array(x))
    assert int(r.S) == s_direct
    assert_allclose([r.z, r.p], [z, p], rtol=EXACT, atol=EXACT)


@pytest.mark.parametrize("name", list(SERIES), ids=list(SERIES))
def test_mann_kendall_tau_is_scipy_tau_b(name: str) -> None:
    # tau-b equals tau-a without ties; with ties ours is still tau-b, as scipy's
    x = SERIES[name]
    expected = stats.kendalltau(np.arange(len(x)), x).statistic
    assert_allclose(mann_kendall(np.array(x)).tau, expected, rtol=EXACT)


def test_mann_kendall_hand_values() -> None:
    # 1..6 strictly rising: S = 15 pairs, Var = 6*5*17/18 = 28.333, z = 14/sqrt(28.333)
    r = mann_kendall(np.arange(1, 7))
    assert r.S == 15
    assert_allclose(r.z, 14 / np.sqrt(6 * 5 * 17 / 18), rtol=EXACT)
    assert r.tau == 1.0
    assert r.p < 0.01


def test_mann_kendall_degenerate_series() -> None:
    flat = mann_kendall(np.full(8, 3.0))
    assert (flat.S, flat.z, flat.p) == (0, 0.0, 1.0)
    assert np.isnan(flat.tau)
    assert mann_kendall(np.array([5.0])).p == 1.0
    with pytest.raises(ValueError, match="NaN"):
        mann_kendall(np.array([1.0, np.nan, 2.0]))


def test_period_edges_end_on_last_day_and_drop_partial_start() -> None:
    edges = period_edges(100, 100 + 42 * 3 + 10)  # three whole periods and ten spare days
    assert edges == [(111, 152), (153, 194), (195, 236)]
    assert all(b - a + 1 == 42 for a, b in edges)
    weekly = period_edges(date(2024, 1, 1), date(2024, 1, 28), period_days=7)
    assert len(weekly) == 4
    assert weekly[-1][1] == (date(2024, 1, 28) - date(1970, 1, 1)).days
    with pytest.raises(ValueError, match="shorter than one period"):
        period_edges(0, 40)


def test_rules_name_every_category_in_order() -> None:
    names = [name for name, _ in RULES]
    assert tuple(names) == CATEGORIES
    for required in ("new", "intensifying", "persistent", "diminishing", "sporadic",
                     "historical"):
        assert required in names
    assert all(len(rule) > 20 for _, rule in RULES)


N_PERIODS = 10
AMP = 12  # extra incidents per cell of a planted hot spot in a "hot" period


def planted_incidents(seed: int) -> tuple[np.ndarray, np.ndarray, list, dict[str, int]]:
    """A Poisson(1) background on an H3 disk with six planted spots, one per category.

    Each planted spot is a cell and its ring-1 neighbours (Gi* finds clusters), at least four
    cells from the others so their neighbourhoods do not overlap. The rising and falling spots
    mirror each other so the study area's spread stays about the same from period to period.
    """
    centre = h3b.latlng_to_cell(53.759, -2.703, 9)
    field = h3b.grid_disk(centre, 8)
    spots = h3b.grid_ring(centre, 4)[::4]
    plan = {
        "new": np.r_[np.zeros(N_PERIODS - 1), AMP],
        "intensifying": np.round(np.linspace(0.8 * AMP, 2.0 * AMP, N_PERIODS)),
        "persistent": np.full(N_PERIODS, AMP),
        "diminishing": np.round(np.linspace(2.0 * AMP, 0.8 * AMP, N_PERIODS)),
        "sporadic": np.array([0, 0, AMP, 0, 0, AMP, 0, 0, 0, AMP]),
        "historical": np.r_[np.full(N_PERIODS - 1, AMP), 0],
    }
    rng = np.random.default_rng(seed)
    counts = {c: rng.poisson(1.0, N_PERIODS) for c in field}
    where = {}
    for (name, extra), spot in zip(plan.items(), spots, strict=True):
        where[name] = spot
        for c in h3b.grid_disk(spot, 1):
            counts[c] = counts[c] + extra.astype(int)
    first = (date(2024, 1, 1) - date(1970, 1, 1)).days
    periods = period_edges(first, first + 7 * N_PERIODS - 1, period_days=7)
    cells, days = [], []
    rng_day = np.random.default_rng(seed + 1)
    for c, series in counts.items():
        for t, n in enumerate(series):
            start, end = periods[t]
            cells += [c] * int(n)
            days += rng_day.integers(start, end + 1, int(n)).tolist()
    return np.array(cells, dtype="uint64"), np.array(days), periods, where


@pytest.mark.parametrize("trend_on", ["z", "count"], ids=["trend-of-z", "trend-of-counts"])
def test_planted_spots_get_their_categories(trend_on: str) -> None:
    cells, days, periods, where = planted_incidents(seed=7)
    out = emerging_hotspots(cells, days, periods, trend_on=trend_on).set_index("cell")
    got = {name: out.loc[np.uint64(c), "category"] for name, c in where.items()}
    assert got == {name: name for name in where}
    intens = out.loc[np.uint64(where["intensifying"])]
    assert intens["trend"] == "up" and intens["trend_p"] < 0.05
    assert out.loc[np.uint64(where["diminishing"]), "trend"] == "down"
    assert out.loc[np.uint64(where["historical"]), "hot_periods"] == N_PERIODS - 1
    assert not out.loc[np.uint64(where["historical"]), "last_hot"]
    assert out.loc[np.uint64(where["sporadic"]), "hot_periods"] == 3


def test_emerging_table_shape_and_series() -> None:
    cells, days, periods, where = planted_incidents(seed=3)
    out = emerging_hotspots(cells, days, periods, weight=np.full(len(cells), 2.0))
    expected_cols = {"cell", "n_periods", "hot_periods", "last_hot", "trend_z", "trend_p",
                     "trend", "category", "series", "z_series", "harm_series"}
    assert expected_cols <= set(out.columns)
    assert out["cell"].is_unique and out["cell"].dtype == np.uint64
    assert (out["n_periods"] == N_PERIODS).all()
    # the series are the incident counts per period, and they add up to every incident
    assert sum(sum(s) for s in out["series"]) == len(cells)
    row = out.loc[out["cell"] == np.uint64(where["persistent"])].iloc[0]
    assert row["harm_series"] == [2.0 * v for v in row["series"]]
    assert len(row["z_series"]) == N_PERIODS
    # added neighbours never had an incident
    assert all(sum(s) == 0 for s in out.loc[out["added"], "series"])
    assert set(out["category"]) <= set(CATEGORIES)
    assert out.attrs["periods"] == [tuple(p) for p in periods]


def test_incidents_outside_the_periods_are_left_out() -> None:
    cells, days, periods, _ = planted_incidents(seed=3)
    base = emerging_hotspots(cells, days, periods)
    late = np.r_[days, periods[-1][1] + 1, -1]
    more = np.r_[cells, cells[:2]]
    again = emerging_hotspots(more, late, periods)
    assert base["series"].tolist() == again["series"].tolist()


def test_emerging_rejects_bad_input() -> None:
    cells, days, periods, _ = planted_incidents(seed=3)
    with pytest.raises(ValueError, match="at least two periods"):
        emerging_hotspots(cells, days, periods[:1])
    with pytest.raises(ValueError, match="overlap"):
        emerging_hotspots(cells, days, [periods[1], periods[0]])
    with pytest.raises(ValueError, match="differ in length"):
        emerging_hotspots(cells, days[:-1], periods)
    with pytest.raises(ValueError, match="no incident"):
        emerging_hotspots(cells, days + 10_000, periods)


def test_rules_on_hand_made_hot_cold_tables() -> None:
    # Rows: periods left to right, "H" hot, "C" cold, "." neither. Ten periods, so 90% is 9.
    from geo.emerging import _categorise

    # rules are checked in order, so a run after an old cold spot is "consecutive"
    rows = [
        ("HHHHHHHHHH", "up", "intensifying"),
        (".HHHHHHHHH", "none", "persistent"),
        ("HHHHHHHHHH", "down", "diminishing"),
        ("HHHHHHHHH.", "down", "historical"),
        (".........H", "up", "new"),
        (".......HHH", "none", "consecutive"),
        ("..C.....HH", "none", "consecutive"),
        ("C....H...H", "none", "oscillating"),
        (".H..H....H", "none", "sporadic"),
        (".H.HHHHHHH", "none", "sporadic"),
        ("HHHHHHHH..", "none", "no pattern"),
        ("CCCCCCCCCC", "none", "no pattern"),
        ("..........", "none", "no pattern"),
    ]
    hot = np.array([[ch == "H" for ch in p] for p, _, _ in rows])
    cold = np.array([[ch == "C" for ch in p] for p, _, _ in rows])
    trend = np.array([t for _, t, _ in rows])
    got = _categorise(hot, cold, trend).tolist()
    assert got == [want for _, _, want in rows]


@pytest.mark.skipif(not SHARED.exists(), reason="shared real data folder /work/shared/data absent")
def test_san_francisco_robberies_persist_in_the_tenderloin() -> None:
    # 2019 robberies; date_time ends in Z but is local clock time, so the Z is dropped
    df = pd.read_csv(SHARED / "timestamped" / "san_francisco_robbery.csv")
    stamp = pd.to_datetime(df["date_time"].str.rstrip("Z"))
    day = (stamp.dt.normalize() - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    cells = cells_at(df["latitude"].to_numpy(), df["longitude"].to_numpy(), 8)
    periods = period_edges(int(day.min()), int(day.max()), period_days=28)
    assert len(periods) == 13
    out = emerging_hotspots(cells, day, periods)
    in_periods = int((day >= periods[0][0]).sum())
    assert sum(sum(s) for s in out["series"]) == in_periods
    busiest = out.loc[out["series"].map(sum).idxmax()]
    assert busiest["category"] == "persistent"
    tenderloin = h3b.latlng_to_cell(37.7835, -122.4145, 8)
    assert h3b.grid_distance(int(busiest["cell"]), tenderloin) <= 1
    # every long-standing hot spot is in the city centre, within about 4 km of it
    persistent = out.loc[out["category"] == "persistent", "cell"].tolist()
    assert all(h3b.grid_distance(int(c), tenderloin) <= 6 for c in persistent)


def test_a_quiet_cell_beside_a_busy_one_is_not_a_persistent_hot_spot() -> None:
    # The reported cell: 2, 3, 2, 3, 1, 1, 2, 0, 0, 1 incidents in ten periods, beside a cell
    # with 30 in every one. Gi* counts the neighbours with the cell, so it marks the quiet
    # cell hot in all ten periods (bin_series), and on Gi* alone it was "persistent". With
    # the minimum of 3 incidents in a hot period it is hot only in periods 2 and 4, is not hot
    # now, and has no pattern; the busy cell stays persistent.
    centre = h3b.latlng_to_cell(53.759, -2.703, 9)
    quiet = h3b.grid_ring(centre, 1)[0]
    periods = period_edges(0, 99, period_days=10)
    series = [2, 3, 2, 3, 1, 1, 2, 0, 0, 1]
    cells, days = [], []
    for k, (start, _) in enumerate(periods):
        for c in h3b.grid_disk(centre, 4):
            n = 30 if c == centre else series[k] if c == quiet else int((c + k) % 3 == 0)
            cells += [c] * n
            days += [start] * n
    out = emerging_hotspots(np.array(cells, dtype="uint64"), np.array(days), periods)
    row = out.loc[out["cell"] == quiet].iloc[0]
    assert row["bin_series"] == [1] * 10  # Gi* alone: hot every period
    assert row["series"] == series
    assert row["hot_series"] == [n >= 3 for n in series]
    assert row["hot_periods"] == 2 and row["category"] == "no pattern"
    assert out.loc[out["cell"] == centre, "category"].item() == "persistent"
    loose = emerging_hotspots(np.array(cells, dtype="uint64"), np.array(days), periods,
                              min_count=1)
    assert loose.loc[loose["cell"] == quiet, "hot_periods"].item() == 8  # the 0s drop out


def test_month_periods_are_whole_calendar_months_named_by_their_dates() -> None:
    from geo.emerging import month_periods, period_label

    edges = month_periods(date(2019, 12, 1), date(2022, 10, 31), 12)
    assert len(edges) == 12
    assert [period_label(a, b) for a, b in edges[:2]] == ["Nov 2021", "Dec 2021"]
    assert period_label(*edges[-1]) == "Oct 2022"
    first = date(1970, 1, 1) + pd.Timedelta(days=edges[3][0])
    assert first == date(2022, 2, 1) and edges[3][1] - edges[3][0] == 27  # 28 days
    # a month the data only partly cover is left out
    assert period_label(*month_periods(date(2024, 1, 2), date(2024, 3, 30))[0]) == "Feb 2024"
    with pytest.raises(ValueError, match="whole calendar month"):
        month_periods(date(2024, 1, 2), date(2024, 1, 30))
    assert period_label(date(2025, 2, 18), date(2025, 3, 31)) == "18 Feb – 31 Mar 2025"


def test_mann_kendall_in_blocks_matches_all_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import geo.emerging as em

    x = np.random.default_rng(5).integers(0, 4, size=(50, 12)).astype(float)
    whole = em._mk_rows(x)
    monkeypatch.setattr(em, "_TIE_BLOCK", 300)  # two rows of 144 comparisons at a time
    for a, b in zip(whole, em._mk_rows(x), strict=True):
        assert_allclose(a, b, rtol=EXACT)
