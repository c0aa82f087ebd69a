"""Night-time economy engine: nights, per-zone night figures, weekend ratings, suggested zones."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
import shapely
from numpy.testing import assert_allclose, assert_array_equal

from geo.nte import (
    STATUSES,
    NightRule,
    StatusRule,
    day_number,
    hour_profile,
    is_weekend_night,
    night_of,
    night_share,
    night_status,
    nightly_counts,
    rank_by_nearby,
    suggest_zones,
    weekend_counts,
    weekend_status,
)
from geo.settings import TIMEZONE

#: A Friday, and the days around it, as day numbers.
FRI = day_number("2024-06-07")
SAT, SUN, MON = FRI + 1, FRI + 2, FRI + 3
THU = FRI - 1

#: Preston-ish origin in British National Grid metres (EPSG:27700).
E0, N0 = 353_000.0, 429_000.0

#: Thresholds are rounded to this many decimals before comparing with counts.
QUANTILE_ATOL = 1e-9


def local_day_hour(utc: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray]:
    """Local date (day number) and local clock hour of UTC instants, as the store holds them."""
    local = utc.tz_convert(TIMEZONE)
    day = (np.asarray(local.date, dtype="datetime64[D]") - np.datetime64("1970-01-01")).astype(
        np.int64
    )
    return day, np.asarray(local.hour, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# NightRule and night_of
# --------------------------------------------------------------------------------------------


def test_weekday_arithmetic_matches_calendar():
    assert date(2024, 6, 7).weekday() == 4  # FRI really is a Friday
    assert day_number(date(2024, 6, 7)) == FRI == day_number("2024-06-07T23:00")


@pytest.mark.parametrize(
    ("day", "hour", "expected"),
    [
        (FRI, 17, -1),  # 17:59 is still daytime
        (FRI, 18, FRI),  # 18:00 opens the night of the same date
        (FRI, 23, FRI),
        (SAT, 0, FRI),  # 00:00 belongs to the previous date's night
        (SAT, 5, FRI),  # 05:59
        (SAT, 6, -1),  # 06:00 is daytime again
        (SAT, 12, -1),
    ],
    ids=["17:59", "18:00", "23:59", "00:00", "05:59", "06:00", "noon"],
)
def test_night_boundaries_default_rule(day, hour, expected):
    assert night_of(np.array([day]), np.array([hour])).tolist() == [expected]


def test_friday_late_and_saturday_small_hours_are_one_weekend_night():
    night = night_of([FRI, SAT], [23, 2])
    assert night.tolist() == [FRI, FRI]
    assert is_weekend_night(night).tolist() == [True, True]


def test_sunday_small_hours_are_saturday_night_and_monday_small_hours_are_not_weekend():
    night = night_of([SUN, MON], [1, 1])
    assert night.tolist() == [SAT, SUN]
    assert is_weekend_night(night).tolist() == [True, False]


def test_thursday_night_and_no_night_are_not_weekend():
    assert is_weekend_night([THU, FRI, SAT, SUN, -1]).tolist() == [False, True, True, False, False]


def test_unknown_date_or_hour_is_no_night():
    assert night_of([-1, FRI, -1], [23, -1, -1]).tolist() == [-1, -1, -1]


def test_night_of_returns_int32_and_rejects_mismatched_shapes():
    assert night_of([FRI], [20]).dtype == np.int32
    with pytest.raises(ValueError, match="shape"):
        night_of([FRI, SAT], [20])


@pytest.mark.parametrize(
    ("day", "hour", "expected"),
    [(FRI, 19, -1), (FRI, 20, FRI), (SAT, 3, FRI), (SAT, 4, -1), (SAT, 5, -1)],
    ids=["19:00", "20:00", "03:59", "04:00", "05:00"],
)
def test_custom_rule_20_to_04(day, hour, expected):
    assert night_of([day], [hour], NightRule(20, 4)).tolist() == [expected]


def test_night_rule_label_hours_and_length():
    rule = NightRule(20, 4)
    assert rule.label == "20:00–04:00"
    assert rule.hours == (20, 21, 22, 23, 0, 1, 2, 3)
    assert rule.n_hours == 8
    assert NightRule().label == "18:00–06:00"
    assert NightRule().n_hours == 12


@pytest.mark.parametrize(
    ("start", "end"),
    [(6, 18), (18, 18), (24, 6), (18, -1), (18.5, 6), (True, 0)],
    ids=["no-wrap", "empty", "hour-24", "negative", "fraction", "bool"],
)
def test_night_rule_rejects_bad_hours(start, end):
    with pytest.raises(ValueError):
        NightRule(start, end)


def test_autumn_clock_change_night_is_13_local_hours_with_0130_twice():
    # Clocks go back at 02:00 BST on Sunday 2024-10-27: 01:30 local happens twice.
    utc = pd.date_range("2024-10-26 16:30", "2024-10-27 06:30", freq="1h", tz="UTC")
    day, hour = local_day_hour(utc)
    night = night_of(day, hour)
    saturday = day_number("2024-10-26")
    assert int((night == saturday).sum()) == 13
    assert int(((hour == 1) & (night == saturday)).sum()) == 2
    # The instants either side are daytime: 17:30 BST and 06:30 GMT.
    assert night[0] == -1 and night[-1] == -1
    profile = hour_profile(np.zeros(night.size, dtype=int), hour, 1)[0]
    assert profile.tolist() == [1] * 7 + [2] + [1] * 4  # 18..23, 0, 1 (twice), 2..5


def test_spring_clock_change_night_is_11_local_hours():
    # Clocks go forward at 01:00 GMT on Sunday 2024-03-31: there is no 01:xx local time.
    utc = pd.date_range("2024-03-30 17:30", "2024-03-31 05:30", freq="1h", tz="UTC")
    day, hour = local_day_hour(utc)
    night = night_of(day, hour)
    saturday = day_number("2024-03-30")
    assert int((night == saturday).sum()) == 11
    assert 1 not in hour[night == saturday].tolist()
    # 05:30 UTC is 06:30 BST: daytime by the local clock although before 06:00 UTC.
    assert (hour[-1], night[-1]) == (6, -1)


# --------------------------------------------------------------------------------------------
# Per-zone figures
# --------------------------------------------------------------------------------------------


def test_nightly_counts_lists_every_night_of_every_zone_with_zeros():
    zone = np.array([0, 0, 0, 1, -1, 0])
    night = np.array([FRI, FRI, SAT, SAT, FRI, -1])
    t = nightly_counts(zone, night, 3, first_night=THU, last_night=SUN)
    assert list(t.columns) == ["zone", "night", "weekend", "count"]
    assert len(t) == 3 * 4
    z0 = t[t["zone"] == 0]
    assert z0["night"].tolist() == ["2024-06-06", "2024-06-07", "2024-06-08", "2024-06-09"]
    assert z0["count"].tolist() == [0, 2, 1, 0]
    assert z0["weekend"].tolist() == [False, True, True, False]
    assert t.loc[t["zone"] == 1, "count"].tolist() == [0, 0, 1, 0]
    assert t.loc[t["zone"] == 2, "count"].tolist() == [0, 0, 0, 0]
    assert int(t["count"].sum()) == 4  # zone -1 and daytime are left out


def test_nightly_counts_drops_nights_outside_range_and_accepts_dates():
    t = nightly_counts(
        [0, 0, 0], [THU, FRI, SUN], 1, first_night=date(2024, 6, 7), last_night="2024-06-08"
    )
    assert t["night"].tolist() == ["2024-06-07", "2024-06-08"]
    assert t["count"].tolist() == [1, 0]


def test_nightly_counts_defaults_to_the_nights_seen():
    t = nightly_counts([0, 1], [FRI, MON], 2)
    assert t["night"].tolist()[:4] == ["2024-06-07", "2024-06-08", "2024-06-09", "2024-06-10"]
    assert len(t) == 8


def test_nightly_counts_rejects_bad_input():
    with pytest.raises(ValueError, match="only 2 zones"):
        nightly_counts([2], [FRI], 2, first_night=FRI, last_night=FRI)
    with pytest.raises(ValueError, match="before"):
        nightly_counts([0], [FRI], 1, first_night=SAT, last_night=FRI)
    with pytest.raises(ValueError, match="one value per incident"):
        nightly_counts([0, 0], [FRI], 1)


def test_hour_profile_runs_in_night_order_and_ignores_daytime():
    zone = np.array([0, 0, 0, 0, 1, 1, -1, 0])
    hour = np.array([18, 23, 0, 5, 5, 12, 22, -1])
    profile = hour_profile(zone, hour, 2)
    assert profile.shape == (2, 12)
    assert profile[0].tolist() == [1, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1]
    assert profile[1].tolist() == [0] * 11 + [1]
    custom = hour_profile(zone, hour, 2, NightRule(22, 2))
    assert custom.shape == (2, 4)  # 22, 23, 0, 1
    assert custom[0].tolist() == [0, 1, 1, 0]


def test_night_share_counts_daytime_but_not_unknown_times():
    zone = np.array([0, 0, 0, 0, 1, -1])
    hour = np.array([22, 12, -1, 2, 10, 23])
    day = np.array([FRI, FRI, FRI, SAT, FRI, FRI])
    night = night_of(day, hour)
    t = night_share(zone, night, 3, hour=hour)
    assert list(t.columns) == ["zone", "night_count", "all_count", "share"]
    assert t["night_count"].tolist() == [2, 0, 0]
    assert t["all_count"].tolist() == [3, 1, 0]
    assert_allclose(t["share"].to_numpy()[:2], [2 / 3, 0.0])
    assert np.isnan(t["share"].iloc[2])


# --------------------------------------------------------------------------------------------
# Weekends and ratings
# --------------------------------------------------------------------------------------------


def test_weekend_counts_adds_friday_and_saturday_nights_only():
    # Friday 23:00, Saturday 02:00 (Friday night), Sunday 01:00 (Saturday night), Sunday 22:00
    # (Sunday night), Thursday 23:00: the weekend holds the first three.
    day = np.array([FRI, SAT, SUN, SUN, THU])
    hour = np.array([23, 2, 1, 22, 23])
    nightly = nightly_counts(
        np.zeros(5, int), night_of(day, hour), 1, first_night=THU, last_night=SUN
    )
    w = weekend_counts(nightly)
    assert list(w.columns) == ["zone", "weekend", "count"]
    assert w.to_numpy().tolist() == [[0, "2024-06-07", 3]]


def test_weekend_counts_drops_half_weekends_at_the_ends_of_the_range():
    # The range starts on a Saturday and ends on a Friday: neither end is a whole weekend.
    nightly = nightly_counts(
        [0, 0, 0], [SAT, FRI + 7, FRI + 14], 1, first_night=SAT, last_night=FRI + 14
    )
    w = weekend_counts(nightly)
    assert w["weekend"].tolist() == ["2024-06-14"]
    assert w["count"].tolist() == [1]


def weekends_table(counts_by_zone: dict[int, list[int]]) -> pd.DataFrame:
    rows = []
    for zone, counts in counts_by_zone.items():
        for k, c in enumerate(counts):
            friday = np.datetime64("2024-01-05") + np.timedelta64(7 * k, "D")
            rows.append({"zone": zone, "weekend": str(friday), "count": c})
    return pd.DataFrame(rows)


def test_weekend_status_uses_previous_weekends_only():
    rng = np.random.default_rng(7)
    counts = rng.poisson(6, 40).tolist()
    rule = StatusRule(min_history=8)
    t = weekend_status(weekends_table({0: counts}), rule)
    assert t["status"].iloc[:8].eq("not enough history").all()
    assert t[["median", "p90"]].iloc[:8].isna().all().all()
    for i in range(8, 40):
        previous = np.array(counts[:i], dtype=float)
        assert_allclose(t["median"].iloc[i], np.quantile(previous, 0.5), atol=QUANTILE_ATOL)
        assert_allclose(t["p90"].iloc[i], np.quantile(previous, 0.9), atol=QUANTILE_ATOL)
    # Changing the future must not change any earlier rating or threshold.
    later = counts.copy()
    later[30:] = [100] * 10
    t2 = weekend_status(weekends_table({0: later}), rule)
    pd.testing.assert_frame_equal(t.iloc[:30], t2.iloc[:30])
    # The first changed weekend is still rated on the unchanged past.
    assert t2[["median", "p90"]].iloc[30].tolist() == t[["median", "p90"]].iloc[30].tolist()
    assert t2["status"].iloc[30] == "red"


def test_weekend_status_ties_at_median_are_green_and_at_p90_amber():
    # History 1..9: median exactly 5, p90 8.2.
    history = [1, 2, 3, 4, 5, 6, 7, 8, 9]
    assert np.quantile(history, 0.5) == 5.0
    assert np.quantile(history, 0.9) == pytest.approx(8.2)
    cases = {4: "green", 5: "green", 6: "amber", 8: "amber", 9: "red"}
    for count, expected in cases.items():
        t = weekend_status(weekends_table({0: history + [count]}), StatusRule(min_history=9))
        assert t["status"].iloc[-1] == expected, count
    # A p90 that is a whole count: a count exactly at it is amber, one above is red.
    flat = [2, 2, 2, 2, 3, 3, 3, 3, 3, 3]
    assert np.quantile(flat, 0.9) == 3.0 and np.quantile(flat, 0.5) == 3.0
    statuses = [
        weekend_status(weekends_table({0: flat + [c]}), StatusRule(min_history=8))["status"].iloc[
            -1
        ]
        for c in (3, 4)
    ]
    assert statuses == ["green", "red"]
    # median 2.5, p90 exactly 3: count 3 sits above the median and on p90 -> amber.
    even = [2, 2, 2, 2, 2, 3, 3, 3, 3, 3]
    assert np.quantile(even, 0.5) == 2.5 and np.quantile(even, 0.9) == 3.0
    t = weekend_status(weekends_table({0: even + [3]}), StatusRule(min_history=8))
    assert (t["status"].iloc[-1], t["median"].iloc[-1], t["p90"].iloc[-1]) == ("amber", 2.5, 3.0)


def test_weekend_status_quiet_zone_is_green_until_anything_happens():
    t = weekend_status(weekends_table({0: [0] * 8 + [0, 1]}), StatusRule())
    assert t["status"].tolist()[-2:] == ["green", "red"]


def test_weekend_status_rates_zones_independently():
    table = weekends_table({1: [10] * 9, 0: [1] * 8 + [10]})
    t = weekend_status(table.sample(frac=1.0, random_state=3), StatusRule())
    assert t["zone"].tolist() == [0] * 9 + [1] * 9  # sorted by zone then weekend
    assert t.loc[t["zone"] == 0, "status"].iloc[-1] == "red"
    assert t.loc[t["zone"] == 1, "status"].iloc[-1] == "green"
    assert set(t["status"]) <= set(STATUSES)


def test_weekend_status_max_history_uses_only_the_latest_weekends():
    counts = [50] * 10 + [1] * 4 + [2]
    t_all = weekend_status(weekends_table({0: counts}), StatusRule(min_history=4))
    t_recent = weekend_status(weekends_table({0: counts}), StatusRule(min_history=4, max_history=4))
    assert t_all["status"].iloc[-1] == "green"  # 2 is far below the old median of 50
    assert t_recent["status"].iloc[-1] == "red"  # but above everything in the last four
    assert t_recent["median"].iloc[-1] == 1.0


def test_weekend_status_fixed_mode_uses_absolute_counts():
    rule = StatusRule(mode="fixed", fixed_amber=5, fixed_red=10)
    t = weekend_status(weekends_table({0: [4, 5, 9, 10, 30]}), rule)
    assert t["status"].tolist() == ["green", "amber", "amber", "red", "red"]
    assert t["median"].isna().all()
    assert "green below 5, amber from 5, red from 10" in rule.describe()


def test_status_rule_describe_states_the_rule():
    assert StatusRule().describe() == (
        "Each weekend is compared with the zone's own previous weekends (at least 8): green at "
        "or below their median, red above their 90th percentile, amber between."
    )
    text = StatusRule(green_below=0.75, red_above=0.95, min_history=12).describe("night")
    assert "75th percentile" in text and "95th percentile" in text and "at least 12" in text
    assert "same weekday" in text


@pytest.mark.parametrize(
    "kwargs",
    [
        {"green_below": 0.9, "red_above": 0.5},
        {"red_above": 1.5},
        {"min_history": 0},
        {"mode": "weekly"},
        {"mode": "fixed", "fixed_amber": 5},
        {"mode": "fixed", "fixed_amber": 10, "fixed_red": 5},
        {"min_history": 8, "max_history": 4},
    ],
    ids=["order", "above-1", "no-history", "mode", "fixed-missing", "fixed-order", "window"],
)
def test_status_rule_rejects_bad_settings(kwargs):
    with pytest.raises(ValueError):
        StatusRule(**kwargs)


def test_night_status_compares_each_night_with_the_same_weekday():
    # Ten weeks: Fridays busy (10), Saturdays quiet (0); then a Friday and a Saturday of 5.
    weeks = 10
    nights, zones = [], []
    for k in range(weeks):
        nights += [FRI + 7 * k] * 10
    nights += [FRI + 7 * weeks] * 5 + [SAT + 7 * weeks] * 5
    zones = [0] * len(nights)
    nightly = nightly_counts(zones, nights, 1, first_night=FRI, last_night=SAT + 7 * weeks)
    t = night_status(nightly, StatusRule())
    last_fri = t[t["night"] == str(np.datetime64("2024-06-07") + np.timedelta64(70, "D"))]
    last_sat = t[t["night"] == str(np.datetime64("2024-06-08") + np.timedelta64(70, "D"))]
    assert last_fri[["count", "status"]].to_numpy().tolist() == [[5, "green"]]
    assert last_sat[["count", "status"]].to_numpy().tolist() == [[5, "red"]]
    assert {"zone", "night", "count", "status", "median", "p90"} <= set(t.columns)
    # Sundays to Thursdays have had only zeros: quiet, and rated once they have 8 of their own.
    sundays = t[(t["night"] >= "2024-06-09") & (t["weekend"] == False)]  # noqa: E712
    assert set(sundays["status"]) == {"green", "not enough history"}


# --------------------------------------------------------------------------------------------
# Suggested zones and venues
# --------------------------------------------------------------------------------------------


def planted_town_centres(seed: int) -> tuple[np.ndarray, np.ndarray, list[tuple[float, float]]]:
    rng = np.random.default_rng(seed)
    centres = [(E0 + 1000.0, N0 + 1000.0), (E0 + 4000.0, N0 + 3000.0)]
    parts_e, parts_n = [], []
    for (ce, cn), size in zip(centres, (400, 250), strict=True):
        parts_e.append(rng.normal(ce, 50.0, size))
        parts_n.append(rng.normal(cn, 50.0, size))
    # Background: 600 incidents over 6 km x 6 km, far too thin for 25 within 150 m.
    parts_e.append(rng.uniform(E0, E0 + 6000.0, 600))
    parts_n.append(rng.uniform(N0, N0 + 6000.0, 600))
    return np.concatenate(parts_e), np.concatenate(parts_n), centres


def test_suggest_zones_finds_the_two_planted_town_centres():
    e, n, centres = planted_town_centres(11)
    zones = suggest_zones(e, n)
    assert str(zones.crs) == "EPSG:27700"
    assert len(zones) == 2
    assert zones["rank"].tolist() == [1, 2]
    assert zones.geometry.iloc[0].covers(shapely.Point(centres[0]))
    assert zones.geometry.iloc[1].covers(shapely.Point(centres[1]))
    assert zones["count"].iloc[0] >= 400 > zones["count"].iloc[1] >= 250
    assert {"rank", "count", "clusters", "area_km2", "centroid_e", "centroid_n"} <= set(
        zones.columns
    )
    # Counts are every incident inside the zone, background included.
    inside = shapely.contains_xy(zones.geometry.iloc[0], e, n).sum()
    assert zones["count"].iloc[0] == inside
    assert_allclose(zones["area_km2"], zones.geometry.area / 1e6)
    # Deterministic: shuffling the input gives the same table.
    order = np.random.default_rng(1).permutation(e.size)
    again = suggest_zones(e[order], n[order])
    assert zones["count"].tolist() == again["count"].tolist()
    assert all(a.equals(b) for a, b in zip(zones.geometry, again.geometry, strict=True))


def two_grid_clusters(distance_m: float) -> tuple[np.ndarray, np.ndarray]:
    # Two 40 m x 40 m grids of 25 map points with 2 incidents each, centres distance_m apart:
    # footprints (hull + 100 m) are distance_m - 240 m apart.
    g = np.arange(-20.0, 21.0, 10.0)
    gx, gy = np.meshgrid(g, g)
    x, y = np.repeat(gx.ravel(), 2), np.repeat(gy.ravel(), 2)
    return E0 + np.concatenate([x, x + distance_m]), N0 + np.concatenate([y, y])


@pytest.mark.parametrize(
    ("distance_m", "n_zones"), [(320.0, 1), (360.0, 2)], ids=["gap-80m", "gap-120m"]
)
def test_suggest_zones_merges_footprints_closer_than_the_gap(distance_m, n_zones):
    e, n = two_grid_clusters(distance_m)
    zones = suggest_zones(e, n, eps_m=150, min_samples=25, buffer_m=100, merge_gap_m=100)
    assert len(zones) == n_zones
    assert all(g.geom_type == "Polygon" for g in zones.geometry)
    assert int(zones["count"].sum()) == 100
    if n_zones == 1:
        assert zones["clusters"].tolist() == [2]
        # The merged zone bridges the gap between the two footprints.
        assert zones.geometry.iloc[0].covers(shapely.Point(E0 + distance_m / 2, N0))


def test_suggest_zones_names_and_empty_input():
    e, n, _ = planted_town_centres(5)
    zones = suggest_zones(e, n, names=lambda x, y: "east" if x > E0 + 2500 else "west")
    assert zones["name"].tolist() == ["west", "east"]
    empty = suggest_zones(np.array([]), np.array([]))
    assert len(empty) == 0 and str(empty.crs) == "EPSG:27700"
    background_only = suggest_zones(e[-600:], n[-600:])
    assert len(background_only) == 0
    with pytest.raises(ValueError):
        suggest_zones(e, n[:-1])


def test_rank_by_nearby_counts_incidents_within_the_radius():
    venues_e = np.array([0.0, 100.0, 1000.0])
    venues_n = np.array([0.0, 0.0, 0.0])
    # (3, 4) is exactly 5 m from the first venue and counts; (5.01, 0) does not.
    inc_e = np.array([3.0, 0.0, 5.01, 100.0, 104.0, 50.0])
    inc_n = np.array([4.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    counts = rank_by_nearby(venues_e, venues_n, inc_e, inc_n, radius_m=5.0)
    assert_array_equal(counts, [2, 2, 0])
    assert counts.dtype == np.int64
    assert rank_by_nearby(venues_e, venues_n, [], [], radius_m=5.0).tolist() == [0, 0, 0]
    with pytest.raises(ValueError):
        rank_by_nearby(venues_e, venues_n, inc_e, inc_n, radius_m=-1.0)


def test_ratings_of_an_empty_range_are_empty_tables_with_their_columns():
    nightly = nightly_counts([], [], 0)
    assert len(nightly) == 0 and list(nightly.columns) == ["zone", "night", "weekend", "count"]
    rated = weekend_status(weekend_counts(nightly))
    assert len(rated) == 0
    assert list(rated.columns) == ["zone", "weekend", "count", "status", "median", "p90"]
    assert len(night_status(nightly)) == 0
