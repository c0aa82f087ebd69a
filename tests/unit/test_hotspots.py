"""The ranked hotspot table finds a planted hotspot and explains it with correct figures."""

from __future__ import annotations

import h3
import numpy as np
import pytest

from geo.h3index import cells_multi
from geo.hotspots import night_days, rank_cells
from geo.projection import to_wgs84


def test_planted_hotspot_ranks_first(planted_points):
    lon, lat = to_wgs84(planted_points["easting"], planted_points["northing"])
    cells = cells_multi(lat, lon, (9,))[9]
    uniq, codes = np.unique(cells, return_inverse=True)
    n = len(cells)
    # planted incidents all happen on Saturday at 23:00; the background is spread out
    rng = np.random.default_rng(7)
    dow = np.where(planted_points["is_planted"], 5, rng.integers(0, 7, n))
    hour = np.where(planted_points["is_planted"], 23, rng.integers(0, 24, n))
    table = rank_cells(codes, uniq, dow=dow, hour=hour, category=np.zeros(n, dtype=int),
                       category_labels=["Violence with injury"], n=3)
    centre_lon, centre_lat = to_wgs84(*[np.array([v]) for v in planted_points["centre"]])
    planted_cell = h3.latlng_to_cell(float(centre_lat[0]), float(centre_lon[0]), 9)
    assert table.loc[0, "cell"] == planted_cell
    top = table.loc[0]
    expected = int(np.sum(cells == h3.str_to_int(planted_cell)))
    assert top["count"] == expected
    assert top["share"] == expected / n
    assert top["peak_day"].startswith("Saturday")
    assert top["peak_hour"].startswith("23:00")
    assert list(table["rank"]) == [1, 2, 3]
    assert table["count"].is_monotonic_decreasing


def test_harm_weights_reorder_the_ranking():
    codes = np.array([0, 0, 0, 1, 1])
    cells = np.array([10, 20], dtype="uint64")
    plain = rank_cells(codes, cells, dow=np.full(5, -1), hour=np.full(5, -1),
                       category=np.array([0, 0, 0, 1, 1]), category_labels=["Public order",
                                                                            "Robbery"], n=2)
    weighted = rank_cells(codes, cells, dow=np.full(5, -1), hour=np.full(5, -1),
                          category=np.array([0, 0, 0, 1, 1]),
                          category_labels=["Public order", "Robbery"],
                          weight=np.array([1.0, 1.0, 1.0, 5.0, 5.0]), n=2)
    assert list(plain["cell"]) == ["a", "14"]
    assert list(weighted["cell"]) == ["14", "a"]
    assert weighted.loc[0, "harm"] == 10.0 and weighted.loc[0, "count"] == 2
    assert weighted.loc[0, "peak_day"] == "unknown"


def test_peak_day_counts_nights_when_the_band_wraps_midnight():
    # Friday and Saturday nights 20:00-04:00: one cell with two incidents on Friday night
    # (Fri 22:00, Sat 01:00) and one on Saturday night (Sun 02:00). By calendar day Saturday
    # looked like the peak (Sat 01:00, and Sunday's 02:00 counted as a third day).
    codes = np.array([0, 0, 0])
    cells = np.array([h3.str_to_int("89195da49b3ffff")], dtype="uint64")
    dow, hour = np.array([4, 5, 6]), np.array([22, 1, 2])
    nights = rank_cells(codes, cells, dow=dow, hour=hour, category=np.zeros(3, dtype=int),
                        category_labels=["Robbery"], hours=(20, 4))
    assert nights.loc[0, "peak_day"] == "Friday night (2 of 3)"
    days = rank_cells(codes, cells, dow=dow, hour=hour, category=np.zeros(3, dtype=int),
                      category_labels=["Robbery"], hours=(18, 23))
    assert days.loc[0, "peak_day"] == "Friday (1 of 3)"  # a band within one day: calendar days


@pytest.mark.parametrize(
    ("hours", "expected", "friday"),
    [((20, 4), [6, 0, 5, -1], "Friday night"), ((22, 0), [0, 1, 5, -1], "Friday"),
     (None, [0, 1, 5, -1], "Friday"), ((3, 5), [0, 1, 5, -1], "Friday")],
    ids=["wraps", "ends-at-midnight", "all-hours", "small-hours-only"],
)
def test_night_days_moves_only_the_small_hours_of_a_wrapping_band(hours, expected, friday):
    # Monday 03:00 and Tuesday 02:00 belong to the nights before under 20:00-04:00;
    # Saturday 21:00 stays Saturday; an unknown weekday stays unknown.
    dow, hour = np.array([0, 1, 5, -1]), np.array([3, 2, 21, 1])
    got, names = night_days(dow, hour, hours)
    assert got.tolist() == expected
    assert names[4] == friday
