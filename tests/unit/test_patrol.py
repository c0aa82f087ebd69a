"""Patrol plans: ranking by harm for a shift, the explaining figures, and the dosage rule."""

from __future__ import annotations

import numpy as np
import pytest

from geo.patrol import (
    NO_TIMES,
    Shift,
    count_shifts,
    dosage_schedule,
    most_visits,
    patrol_hours,
    rank_places,
    suggested_visits,
)

NIGHTS = Shift(frozenset({4, 5}), (20, 4))


def test_count_shifts_counts_shift_starts():
    monday = 19723  # 2024-01-01
    assert count_shifts(monday, monday + 6, NIGHTS) == 2
    assert count_shifts(monday, monday + 3, NIGHTS) == 0
    assert count_shifts(monday + 4, monday + 4, Shift(frozenset({4}), (9, 17))) == 1


def planted():
    # place 0: 6 incidents of weight 1; place 1: 3 incidents of weight 5; place 2: 1; 2 outside
    place = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 2, -1, -1])
    weight = np.array([1.0] * 6 + [5.0] * 3 + [1.0, 1.0, 1.0])
    hour = np.array([22, 22, 23, 1, 1, 1, 21, 21, 3, 0, 22, 23])
    category = np.array([0] * 6 + [1] * 3 + [0, 0, 0])
    return place, weight, hour, category


def test_ranked_by_harm_with_figures_computed_from_counts():
    place, weight, hour, category = planted()
    t = rank_places(place, 3, weight=weight, hour=hour, category=category,
                    category_labels=["Public order", "Robbery"],
                    prev_place=np.array([0, 0, 0, 1]), prev_weight=np.ones(4), n_shifts=24, n=2)
    assert list(t["place"]) == [1, 0]  # harm 15 beats harm 6
    top = t.iloc[0]
    total_harm = 6 + 15 + 1 + 2
    assert top["harm"] == 15 and top["count"] == 3
    assert top["share_harm"] == pytest.approx(15 / total_harm)
    assert top["share_count"] == pytest.approx(3 / 12)
    assert top["expected_per_shift"] == pytest.approx(3 / 24)
    assert top["peak_hours"].startswith("21:00 (2)")
    assert top["main_categories"] == "Robbery (3)"
    assert top["trend"] == "up 200% (1 → 3)"
    assert t.iloc[1]["cum_share_harm"] == pytest.approx(21 / total_harm)
    assert "3 incidents on this shift" in top["why"]


def test_target_share_takes_the_fewest_places_reaching_it():
    place, weight, hour, category = planted()
    kwargs = dict(weight=weight, hour=hour, category=category,
                  category_labels=["Public order", "Robbery"], prev_place=np.array([], int),
                  prev_weight=np.array([]), n_shifts=24, n=None)
    assert list(rank_places(place, 3, target_share=0.5, **kwargs)["place"]) == [1]
    assert list(rank_places(place, 3, target_share=0.7, **kwargs)["place"]) == [1, 0]
    with pytest.raises(ValueError, match="target_share"):
        rank_places(place, 3, target_share=1.5, **kwargs)


@pytest.mark.parametrize(
    ("shift", "visits"),
    [(NIGHTS, 4), (Shift(frozenset({0}), (15, 19)), 2), (Shift(frozenset({0}), (22, 23)), 1)],
    ids=["8h-night", "4h-after-school", "1h"],
)
def test_dosage_every_two_hours_fifteen_minute_visits(shift, visits):
    d = dosage_schedule(shift, 3, seed=11)
    for _, one in d.groupby("hotspot"):
        offsets = one["offset_min"].to_numpy()
        assert len(offsets) == visits
        assert offsets[0] <= 120 - 15
        assert (np.diff(offsets) <= 120).all() and (np.diff(offsets) >= 30).all()
        assert offsets[-1] + 15 <= shift.length_hours * 60
    # unpredictable: hotspots differ, and the same seed repeats
    assert d[d.hotspot == 1]["offset_min"].tolist() != d[d.hotspot == 2]["offset_min"].tolist()
    assert d.equals(dosage_schedule(shift, 3, seed=11))
    hours = patrol_hours(d, shifts_per_week=len(shift.days))
    assert hours["per_shift_hours"] == pytest.approx(3 * visits * 15 / 60)


@pytest.mark.parametrize(
    ("harm", "most", "want"),
    [([30, 15, 9, 1], 4, [4, 2, 1, 1]),   # 4*15/30 = 2; 4*9/30 = 1.2 -> 1; 1 place -> floor 1
     ([8, 7, 5, 1], 4, [4, 4, 3, 1]),     # 3.5 rounds up to 4, 2.5 up to 3 (halves go up)
     ([5, 5], 12, [12, 12]),              # ties share the most
     ([3, 0.1], 2, [2, 1]),
     ([0, 0], 4, [1, 1])],                # no harm at all: one visit each, nothing to scale
    ids=["reported", "halves", "ties", "short-shift", "no-harm"],
)
def test_suggested_visits_scale_with_harm_between_one_and_the_most(harm, most, want):
    assert suggested_visits(np.array(harm, dtype=float), most).tolist() == want


def test_most_visits_is_one_in_every_two_hours():
    assert most_visits(NIGHTS) == 4
    assert most_visits(Shift(frozenset({0}), (15, 19))) == 2
    assert most_visits(Shift(frozenset({0}), (9, 14))) == 3  # 5 hours
    assert most_visits(Shift(frozenset(range(7)), (0, 0))) == 12  # all day


def test_dosage_schedule_gives_each_place_its_own_visits():
    d = dosage_schedule(NIGHTS, 3, seed=4, visits=np.array([4, 2, 1]))
    assert d.groupby("hotspot").size().tolist() == [4, 2, 1]
    for _, one in d.groupby("hotspot"):
        offsets = one["offset_min"].to_numpy()
        assert (np.diff(offsets) >= 30).all() and offsets[-1] + 15 <= 8 * 60
    two = d[d.hotspot == 2]["offset_min"].tolist()
    assert two[0] < 240 <= two[1]  # one visit in each half of the shift
    hours = patrol_hours(d, shifts_per_week=2)
    assert hours["per_shift_hours"] == pytest.approx(7 * 15 / 60)
    with pytest.raises(ValueError, match="visits"):
        dosage_schedule(NIGHTS, 2, seed=1, visits=np.array([1]))


def test_month_only_ranking_gives_figures_per_month_and_no_hours():
    place, weight, hour, category = planted()
    hour = np.full(len(place), -1)
    t = rank_places(place, 3, weight=weight, hour=hour, category=category,
                    category_labels=["Public order", "Robbery"],
                    prev_place=np.array([0, 0, 0, 1]), prev_weight=np.ones(4), n_shifts=0,
                    n=2, n_months=12)
    top = t.iloc[0]
    assert np.isnan(top["expected_per_shift"])
    assert top["expected_per_month"] == pytest.approx(3 / 12)
    assert top["peak_hours"] == NO_TIMES
    assert "a month" in top["why"] and "per shift" not in top["why"]
    assert "no times recorded" not in top["why"]


def test_no_trend_is_claimed_from_a_window_the_data_do_not_cover():
    place, weight, hour, category = planted()
    t = rank_places(place, 3, weight=weight, hour=hour, category=category,
                    category_labels=["Public order", "Robbery"],
                    prev_place=np.array([], int), prev_weight=np.array([]), n_shifts=24, n=2,
                    no_trend="it starts before the data begin (1 Apr 2022)")
    assert t["trend"].tolist() == ["not compared: it starts before the data begin "
                                   "(1 Apr 2022)"] * 2
    assert "new:" not in t.iloc[0]["why"]


def test_a_whole_day_shift_is_labelled_as_such():
    assert Shift(frozenset(range(7)), (0, 0)).label == "every day, all day"
    assert "00:00–00:00" not in Shift(frozenset({4}), (0, 0)).label


def test_a_dbscan_plan_with_no_cluster_is_empty_not_broken(tmp_path):
    """Too few incidents for any cluster: an empty plan with every column, not a crash."""
    import numpy as np

    from geo.boundaries import load_boundaries
    from geo.plan import PlanParams, build_plan
    from geo.query import QueryLayer
    from geo.schema import empty_rejects
    from geo.store import Store
    from tests.conftest import PRESTON_BNG, stored_table

    table = stored_table(np.array([PRESTON_BNG[0], PRESTON_BNG[0] + 900]),
                         np.array([PRESTON_BNG[1], PRESTON_BNG[1]]),
                         ["2024-06-07 22:00", "2024-06-08 23:00"])
    store = Store(tmp_path)
    store.commit(table, source_file="t", rejects=empty_rejects(), summary={}, kind="user")
    plan = build_plan(QueryLayer(store, load_boundaries(None)),
                      PlanParams(unit="dbscan", lookback_weeks=4, min_samples=5))
    assert len(plan.table) == 0
    assert {"lat", "lon", "id", "geometry"} <= set(plan.table.columns)
