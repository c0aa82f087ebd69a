"""The incidents a backtest scores, the data's missing months and window coverage, areas.

The forecast backtest itself (:mod:`geo.backtest_protocol`) is tested in test_forecast.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose

from geo.backtest import BacktestData, boundary_area_km2, months_without_data, window_coverage

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED.exists(), reason=f"real public data folder {SHARED} is absent"
)

#: Areas are sums of a handful of floats: anything beyond rounding is a real difference.
RTOL = 1e-12


def test_every_column_needs_one_value_per_incident():
    with pytest.raises(ValueError, match="one value per incident"):
        BacktestData(day=[1, 2], month_first=[0], month_only=[False], cell=[1], easting=[0.0],
                     northing=[0.0], weight=[1.0])
    with pytest.raises(ValueError, match="finite and not negative"):
        BacktestData(day=[1], month_first=[0], month_only=[False], cell=[1], easting=[0.0],
                     northing=[0.0], weight=[-1.0])


def test_missing_months_and_window_coverage():
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
    "params",
    [{"la": "E07000123", "days": "fri,sat", "hours": "20-4"}, {}],
    ids=["preston-fri-sat-nights", "whole-force"],
)
def test_from_query_takes_the_selected_incidents(sample_query, params):
    from dashboard.params import parse_filters

    q = sample_query
    filters = parse_filters(params)
    data = BacktestData.from_query(q, filters, res=9)
    mask = q.select(filters).mask
    assert len(data) == int(mask.sum()) > 0
    assert data.shift == ("days=fri,sat hours=20-4" if params else None)
    fr = q.frame()
    np.testing.assert_array_equal(data.easting, fr.easting[mask])
    np.testing.assert_array_equal(data.month_first, fr.month_first[mask])
    assert (data.cell == fr.cells[9][fr.cell_codes[9][mask]]).all()
    assert (data.weight == 1.0).all()  # no harm weights given: every incident weighs 1
    # a caller that has selected the rows already passes them in, with the same result
    again = BacktestData.from_query(q, filters, res=9, selection=q.select(filters))
    np.testing.assert_array_equal(again.cell, data.cell)


@needs_shared
def test_merseyside_months_and_study_area(tmp_path):
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
    data = BacktestData.from_query(q, parse_filters({"la": ",".join(merseyside)}), res=9)
    areas = boundaries.areas_bng
    study = boundary_area_km2(areas[areas["code"].isin(merseyside)])
    assert 600 < study < 700  # the five Merseyside districts, ~645 km²
    # police.uk months: September to December 2019, each with no day, none missing
    assert data.month_only.all() and (data.day == -1).all()
    firsts = sorted(int(d) for d in np.unique(data.month_first))
    assert firsts == [18140, 18170, 18201, 18231]  # 1 September ... 1 December 2019
    assert months_without_data(data.month_first) == []
    assert int((data.month_first == 18231).sum()) > 12_000
    assert window_coverage(18140, 18261, firsts[0], 18261) is None  # September-December
