"""The query layer selects exactly the rows a filter describes."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.params import parse_filters
from geo.query import FilterError, Filters, QueryLayer, hours_in_band
from geo.schema import empty_rejects
from geo.store import Store
from tests.conftest import stored_table


class TwoAreas:
    """Just the parts of Boundaries the query layer reads."""

    source = "test areas"

    def names(self):
        return {"E07000123": "Preston", "E06000009": "Blackpool"}

    def population(self):
        return {"E07000123": 144_147.0, "E06000009": 138_381.0}


# Fri 7 Jun 2024 .. Sun 9 Jun 2024, plus one month-only row (police.uk style).
TIMES = [
    "2024-06-07 19:59",  # Fri, just before a 20-4 band
    "2024-06-07 20:00",  # Fri, first minute of the band
    "2024-06-07 23:30",  # Fri
    "2024-06-08 00:10",  # Sat, after midnight: inside 20-4
    "2024-06-08 03:59",  # Sat, last minute of the band
    "2024-06-08 04:00",  # Sat, first minute after the band
    "2024-06-09 12:00",  # Sun midday
    None,                # month-only, June 2024
]


@pytest.fixture
def layer(tmp_path) -> QueryLayer:
    n = len(TIMES)
    table = stored_table(
        np.full(n, 353_750.0) + np.arange(n) * 10, np.full(n, 429_410.0), TIMES,
        category=["Violence with injury", "Robbery", "Robbery", "Public order",
                  "Violence with injury", "Robbery", "Public order", "Robbery"],
        source=["police"] * 6 + ["ed", "police"],
        domestic=[False, False, True, None, False, False, True, None],
        la_code=["E07000123"] * 7 + ["E06000009"],
        month=[t[:7] if t else "2024-06" for t in TIMES],
    )
    store = Store(tmp_path / "store")
    store.commit(table, source_file="t", rejects=empty_rejects(), summary={}, kind="user")
    return QueryLayer(store, TwoAreas())


def selected_times(layer: QueryLayer, filters: Filters) -> list[str | None]:
    """The selected rows' times, in the order of TIMES (files are stored in time order)."""
    mask = layer.select(filters).mask
    _, stored = layer.store.read(columns=["incident_id"])
    rows = [int(i[1:]) for i in stored.column(0).to_pylist()]  # ids are T000000, T000001...
    return [TIMES[k] for k in sorted(k for k, m in zip(rows, mask, strict=True) if m)]


@pytest.mark.parametrize(
    ("band", "expected"),
    [((20, 4), [20, 21, 22, 23, 0, 1, 2, 3]), ((15, 19), [15, 16, 17, 18]),
     ((23, 24), [23]), ((22, 0), [22, 23])],
    ids=["wraps-midnight", "afternoon", "last-hour", "to-midnight"],
)
def test_hours_in_band(band, expected):
    assert hours_in_band(*band) == expected


def test_hour_band_wrapping_midnight_selects_the_right_rows(layer):
    got = selected_times(layer, parse_filters({"hours": "20-4"}))
    assert got == ["2024-06-07 20:00", "2024-06-07 23:30", "2024-06-08 00:10",
                   "2024-06-08 03:59"]
    # month-only rows cannot be placed in an hour band, and the layer says how many it left out
    assert layer.select(parse_filters({"hours": "20-4"})).month_only_excluded == 1


def test_a_night_band_belongs_to_the_day_it_started(layer):
    # Friday night 20-4 runs into Saturday morning, and not into Friday's own small hours
    got = selected_times(layer, parse_filters({"days": "fri", "hours": "20-4"}))
    assert got == ["2024-06-07 20:00", "2024-06-07 23:30", "2024-06-08 00:10",
                   "2024-06-08 03:59"]
    assert selected_times(layer, parse_filters({"days": "sat", "hours": "20-4"})) == []


def test_days_use_the_calendar_day_of_the_incident(layer):
    got = selected_times(layer, parse_filters({"days": "sat"}))
    assert got == ["2024-06-08 00:10", "2024-06-08 03:59", "2024-06-08 04:00"]


def test_date_range_keeps_month_only_rows_whose_month_overlaps(layer):
    f = parse_filters({"start": "2024-06-08", "end": "2024-06-08"})
    got = selected_times(layer, f)
    assert got == ["2024-06-08 00:10", "2024-06-08 03:59", "2024-06-08 04:00", None]
    f = parse_filters({"start": "2024-07-01"})
    assert layer.select(f).count == 0


def test_category_source_area_and_public_only(layer):
    assert layer.select(parse_filters({"categories": "Robbery"})).count == 4
    assert layer.select(parse_filters({"source": "ED"})).count == 1
    assert layer.select(parse_filters({"la": "E06000009"})).count == 1
    assert layer.select(parse_filters({"public_only": "1"})).count == 6  # unknown is kept


def test_unknown_category_names_the_parameter(layer):
    with pytest.raises(FilterError) as err:
        layer.select(parse_filters({"categories": "Burglary"}))
    assert err.value.param == "categories" and "Robbery" in err.value.message


def test_aggregations_agree_with_a_direct_count(layer):
    f = parse_filters({"hours": "20-4"})
    cells, counts, harm = layer.cell_counts(f, 10)
    assert counts.sum() == 4 and len(cells) == len(counts)
    np.testing.assert_array_equal(harm, counts)
    areas = layer.area_table(Filters()).set_index("code")
    assert areas.loc["E07000123", "count"] == 7
    assert areas.loc["E07000123", "rate_per_1000"] == pytest.approx(7 * 1000 / 144_147)
    assert bool(areas.loc["E06000009", "small_number"])
    grid = layer.day_hour_grid(Filters())
    assert grid.sum() == 7  # the month-only row has no square
    assert grid[4, 20] == 1 and grid[5, 0] == 1 and grid[6, 12] == 1


def test_harm_weights_weight_the_sums(layer):
    _, counts, harm = layer.cell_counts(Filters(), 7, {"Robbery": 3.0})
    assert harm.sum() == pytest.approx(4 * 3.0 + 4 * 1.0)


def test_new_commit_is_picked_up(layer, tmp_path):
    before = layer.frame().n
    extra = stored_table(np.array([353_800.0]), np.array([429_400.0]), ["2024-06-10 10:00"])
    extra = extra.set_column(0, "incident_id", __import__("pyarrow").array(["NEW1"]))
    layer.store.commit(extra, source_file="t2", rejects=empty_rejects(), summary={},
                       kind="user")
    assert layer.frame().n == before + 1
