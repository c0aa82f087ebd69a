"""Quartic kernel density: the exact sum, the fast route, the bandwidth rule and the mask."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose
from shapely.geometry import Polygon, box

import geo.kde as kde_module
from geo.kde import (
    FALLBACK_BANDWIDTH_M,
    Grid,
    area_mask,
    default_bandwidth_m,
    kde_surface,
    quartic_kde,
    quartic_kde_direct,
)

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

#: The fast route's documented agreement with the direct sum, as a share of the peak.
FAST_VS_DIRECT_OF_PEAK = 0.01
#: The default route is the direct sum itself; only float rounding may differ.
DEFAULT_VS_DIRECT_OF_PEAK = 1e-9
#: Floating-point agreement between two exact computations of the same sum.
EXACT_RTOL = 1e-12
#: Mass lost or gained by sampling a smooth surface at cell centres (Riemann sum error).
MASS_RTOL = 0.005


def quartic_per_km2(d_m: float, h_m: float) -> float:
    """The kernel written out by hand, per km^2."""
    if d_m >= h_m:
        return 0.0
    return 3.0 / (math.pi * h_m**2) * (1.0 - d_m**2 / h_m**2) ** 2 * 1e6


def rel_err_of_peak(fast: np.ndarray, exact: np.ndarray) -> float:
    return float(np.abs(fast - exact).max() / exact.max())


# --------------------------------------------------------------------------- Grid


def test_grid_snaps_origin_so_overlapping_requests_share_cell_edges():
    a = Grid.from_bounds(350_012.0, 430_077.0, 351_000.0, 431_000.0, cell_m=100.0)
    b = Grid.from_bounds(350_345.0, 430_555.0, 352_000.0, 432_000.0, cell_m=100.0)
    assert (a.x0, a.y0) == (350_000.0, 430_000.0)
    assert (b.x0 - a.x0) % 100.0 == 0 and (b.y0 - a.y0) % 100.0 == 0
    xmin, ymin, xmax, ymax = a.bounds
    assert xmin <= 350_012.0 and xmax >= 351_000.0 and ymin <= 430_077.0 and ymax >= 431_000.0


def test_grid_over_lancashire_has_the_expected_size():
    g = Grid.from_bounds(318_000, 395_000, 400_000, 480_000, cell_m=100.0)
    assert (g.nx, g.ny) == (820, 850)
    assert g.cell_area_km2 == pytest.approx(0.01)
    xs, ys = g.centres()
    assert xs[0] == 318_050.0 and ys[-1] == 479_950.0


def test_grid_rejects_non_positive_cell():
    with pytest.raises(ValueError, match="cell_m"):
        Grid(x0=0.0, y0=0.0, cell_m=0.0, nx=3, ny=3)


# --------------------------------------------------------------------------- direct sum


GRID_10 = Grid(x0=0.0, y0=0.0, cell_m=100.0, nx=10, ny=10)


@pytest.mark.parametrize(
    ("points", "cell", "expected_by_hand"),
    [
        # One point on the centre of cell (ix=4, iy=4) at (450, 450): the kernel's peak.
        ([(450.0, 450.0)], (4, 4), quartic_per_km2(0.0, 300.0)),
        # Two points 100 m and 200 m east of that centre.
        (
            [(550.0, 450.0), (650.0, 450.0)],
            (4, 4),
            quartic_per_km2(100.0, 300.0) + quartic_per_km2(200.0, 300.0),
        ),
        # Three points: one 3-4-5 diagonal (250 m), one beyond the bandwidth, one at 0 m.
        (
            [(600.0, 650.0), (450.0, 800.0), (450.0, 450.0)],
            (4, 4),
            quartic_per_km2(250.0, 300.0) + 0.0 + quartic_per_km2(0.0, 300.0),
        ),
    ],
    ids=["one-point-at-centre", "two-points-east", "three-points-one-out-of-reach"],
)
def test_direct_sum_matches_hand_computed_kernel(points, cell, expected_by_hand):
    x, y = np.array(points).T
    density = quartic_kde_direct(x, y, GRID_10, bandwidth_m=300.0)
    ix, iy = cell
    assert_allclose(density[iy, ix], expected_by_hand, rtol=EXACT_RTOL)


def test_direct_sum_rows_run_south_to_north():
    # A point in the south-west corner must light row 0, column 0, not the last row.
    density = quartic_kde_direct([50.0], [50.0], GRID_10, bandwidth_m=150.0)
    assert density[0, 0] == density.max()
    assert density[-1, :].max() == 0.0


def test_direct_sum_counts_points_outside_the_grid_within_reach():
    # 100 m west of the grid's edge, 150 m from the first centre: it still reaches it.
    density = quartic_kde_direct([0.0], [450.0], Grid(100.0, 0.0, 100.0, 5, 10), 300.0)
    assert_allclose(density[4, 0], quartic_per_km2(150.0, 300.0), rtol=EXACT_RTOL)


def test_direct_sum_windowed_and_dense_paths_agree():
    # A bandwidth wider than the grid takes the dense path; a small one the windowed path.
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1000, 300)
    y = rng.uniform(0, 1000, 300)
    w = rng.uniform(0.5, 2.0, 300)
    small = Grid(0.0, 0.0, 100.0, 10, 10)
    by_hand = np.zeros(small.shape)
    xs, ys = small.centres()
    for px, py, pw in zip(x, y, w, strict=True):
        d = np.hypot(xs[None, :] - px, ys[:, None] - py)
        by_hand += pw * np.where(d < 700.0, (1 - d**2 / 700.0**2) ** 2, 0.0)
    by_hand *= 3 / (math.pi * 700.0**2) * 1e6
    assert_allclose(quartic_kde_direct(x, y, small, 700.0, weights=w), by_hand, rtol=1e-10)
    big = Grid(0.0, 0.0, 20.0, 50, 50)
    xs, ys = big.centres()
    by_hand = np.zeros(big.shape)
    for px, py, pw in zip(x, y, w, strict=True):
        d = np.hypot(xs[None, :] - px, ys[:, None] - py)
        by_hand += pw * np.where(d < 60.0, (1 - d**2 / 60.0**2) ** 2, 0.0)
    by_hand *= 3 / (math.pi * 60.0**2) * 1e6
    assert_allclose(quartic_kde_direct(x, y, big, 60.0, weights=w), by_hand, rtol=1e-10)


# --------------------------------------------------------------------------- fast route


def _clustered_points(seed: int, n: int = 4000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(351_000, 355_000, size=(6, 2))
    which = rng.integers(0, 6, n)
    spread = rng.uniform(80, 600, 6)[which]
    x = centres[which, 0] + rng.normal(0, 1, n) * spread
    y = centres[which, 1] + rng.normal(0, 1, n) * spread
    return x, y


@pytest.mark.parametrize(
    ("cell_m", "bandwidth_m", "weighted"),
    [
        (100.0, 200.0, False),
        (100.0, 300.0, False),
        (50.0, 300.0, False),
        (100.0, 600.0, False),
        (100.0, 1500.0, False),
        (100.0, 300.0, True),
        (50.0, 120.0, True),
    ],
    ids=[
        "cell100-h200",
        "cell100-h300",
        "cell50-h300",
        "cell100-h600",
        "cell100-h1500",
        "cell100-h300-weighted",
        "cell50-h120-weighted",
    ],
)
def test_fast_matches_direct_within_one_percent_of_peak(cell_m, bandwidth_m, weighted):
    x, y = _clustered_points(seed=11)
    w = np.random.default_rng(5).gamma(2.0, 1.0, x.size) if weighted else None
    grid = Grid.from_bounds(350_000, 350_000, 356_000, 356_000, cell_m)
    fast = quartic_kde(x, y, grid, bandwidth_m, weights=w)
    exact = quartic_kde_direct(x, y, grid, bandwidth_m, weights=w)
    assert rel_err_of_peak(fast, exact) < FAST_VS_DIRECT_OF_PEAK


def test_fast_route_keeps_points_just_outside_a_given_area():
    # The view is a window onto a larger cluster: its edge cells must not fade.
    x, y = _clustered_points(seed=2)
    grid = Grid.from_bounds(352_000, 352_000, 354_000, 354_000, 50.0)
    fast = quartic_kde(x, y, grid, 300.0)
    exact = quartic_kde_direct(x, y, grid, 300.0)
    assert rel_err_of_peak(fast, exact) < FAST_VS_DIRECT_OF_PEAK
    edges = np.concatenate([exact[0], exact[-1], exact[:, 0], exact[:, -1]])
    assert edges.max() > 0  # the case really has mass at the edges


def test_plain_binning_is_the_documented_weak_case_for_a_lone_point():
    # Binning straight to centres (oversample=1) is off by far more than 1 % for a lone point
    # at h = 2 cells; the default route is exact there.
    grid = Grid(0.0, 0.0, 100.0, 12, 12)
    x, y = [600.0], [600.0]  # on a cell corner: the worst placement
    exact = quartic_kde_direct(x, y, grid, 200.0)
    assert rel_err_of_peak(quartic_kde(x, y, grid, 200.0, oversample=1), exact) > 0.10
    assert rel_err_of_peak(quartic_kde(x, y, grid, 200.0), exact) < DEFAULT_VS_DIRECT_OF_PEAK
    plain = kde_surface(x, y, cell_m=100.0, bandwidth_m=200.0, bounds=grid.bounds, oversample=1)
    assert_allclose(plain.density, quartic_kde(x, y, grid, 200.0, oversample=1), rtol=EXACT_RTOL)


def _duplicated_weighted_points(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Points snapped to shared locations, some repeated, with uneven weights, some off-grid."""
    rng = np.random.default_rng(seed)
    sites_x = rng.uniform(349_500, 356_500, 300)
    sites_y = rng.uniform(349_500, 356_500, 300)
    pick = rng.integers(0, 300, 3_000)
    x = np.concatenate([sites_x[pick], rng.uniform(349_000, 357_000, 500)])
    y = np.concatenate([sites_y[pick], rng.uniform(349_000, 357_000, 500)])
    w = rng.gamma(1.5, 1.0, x.size)
    w[::97] = 0.0
    return x, y, w


@pytest.mark.parametrize(
    ("cell_m", "bandwidth_m"),
    [(100.0, 200.0), (100.0, 300.0), (100.0, 250.0), (50.0, 700.0), (100.0, 1500.0)],
    ids=["h-2-cells", "h-3-cells", "h-2.5-cells", "h-14-cells", "h-15-cells"],
)
def test_default_route_is_the_direct_sum_on_weighted_duplicated_points(cell_m, bandwidth_m):
    # The grid is smaller than the points' spread, so points beyond its edges must count too.
    x, y, w = _duplicated_weighted_points(seed=4)
    grid = Grid.from_bounds(350_000, 350_000, 356_000, 356_000, cell_m)
    for weights in (None, w):
        fast = quartic_kde(x, y, grid, bandwidth_m, weights=weights)
        exact = quartic_kde_direct(x, y, grid, bandwidth_m, weights=weights)
        assert rel_err_of_peak(fast, exact) < DEFAULT_VS_DIRECT_OF_PEAK
        # Exactly zero, not round-off, where no point is within reach.
        assert np.array_equal(fast == 0.0, exact == 0.0)


def test_heavily_duplicated_points_give_the_surface_of_their_locations():
    # 20,000 incidents on 25 map points, as police.uk snaps them: the surface must equal the
    # direct sum over the incidents and over the 25 locations weighted by their counts.
    rng = np.random.default_rng(8)
    sites = np.column_stack([rng.uniform(401_000, 404_000, 25), rng.uniform(401_000, 404_000, 25)])
    counts = rng.multinomial(20_000, rng.dirichlet(np.full(25, 0.3)))
    x = np.repeat(sites[:, 0], counts)
    y = np.repeat(sites[:, 1], counts)
    order = rng.permutation(x.size)
    x, y = x[order], y[order]
    grid = Grid.from_bounds(400_000, 400_000, 405_000, 405_000, 100.0)
    fast = quartic_kde(x, y, grid, 300.0)
    by_location = quartic_kde_direct(sites[:, 0], sites[:, 1], grid, 300.0, weights=counts)
    assert rel_err_of_peak(fast, by_location) < DEFAULT_VS_DIRECT_OF_PEAK
    assert rel_err_of_peak(fast, quartic_kde_direct(x, y, grid, 300.0)) < DEFAULT_VS_DIRECT_OF_PEAK
    ux, _, uw, n_far = kde_module._collapse_points(
        x, y, x, False, grid.x0, grid.y0, grid.cell_m, grid.nx, grid.ny, 300.0, 16
    )
    assert (ux.size, float(uw.sum()), n_far) == (np.count_nonzero(counts), 20_000.0, 0)


def test_points_a_hair_apart_are_not_merged():
    # Merging compares coordinates exactly: 1 mm apart are two locations.
    grid = Grid(400_000.0, 400_000.0, 100.0, 10, 10)
    x = np.array([400_450.0, 400_450.001, 400_450.0])
    y = np.array([400_450.0, 400_450.0, 400_450.0])
    ux, _, uw, _ = kde_module._collapse_points(
        x, y, x, False, grid.x0, grid.y0, grid.cell_m, grid.nx, grid.ny, 300.0, 16
    )
    assert sorted(uw.tolist()) == [1.0, 2.0]
    exact = quartic_kde_direct(x, y, grid, 300.0)
    assert rel_err_of_peak(quartic_kde(x, y, grid, 300.0), exact) < DEFAULT_VS_DIRECT_OF_PEAK


def test_default_route_takes_strided_and_integer_coordinates():
    # A column of a 2-D array is a strided view; the compiled loops need contiguous float64.
    pts = np.random.default_rng(6).integers(400_000, 402_000, size=(500, 3))
    grid = Grid(400_000.0, 400_000.0, 50.0, 40, 40)
    fast = quartic_kde(pts[:, 0], pts[:, 2], grid, 200.0, weights=pts[:, 1] % 3)
    exact = quartic_kde_direct(pts[:, 0], pts[:, 2], grid, 200.0, weights=pts[:, 1] % 3)
    assert rel_err_of_peak(fast, exact) < DEFAULT_VS_DIRECT_OF_PEAK


def test_scatter_split_over_threads_adds_up_to_the_direct_sum(monkeypatch):
    # Big inputs are split over threads with their own rasters; force that on a small one.
    monkeypatch.setattr(kde_module, "_scatter_threads", lambda *_: 3)
    x, y, w = _duplicated_weighted_points(seed=9)
    grid = Grid.from_bounds(350_000, 350_000, 356_000, 356_000, 100.0)
    fast = quartic_kde(x, y, grid, 400.0, weights=w)
    exact = quartic_kde_direct(x, y, grid, 400.0, weights=w)
    assert rel_err_of_peak(fast, exact) < DEFAULT_VS_DIRECT_OF_PEAK


LANCASHIRE = Grid.from_bounds(318_000, 395_000, 400_000, 480_000, cell_m=100.0)


@pytest.mark.parametrize(
    ("n_unique", "bandwidth_m", "route"),
    [
        (1_000_000, 300.0, "scatter"),
        (20_000, 1000.0, "scatter"),
        (1_000_000, 1000.0, "fft"),
        (5_000, 1500.0, "scatter"),  # binning would be faster, but both take milliseconds
        (50_000_000, 200.0, "scatter"),  # binning would need 6 sub-cells: never taken
    ],
    ids=["1M-distinct-h3", "police-like-h10", "1M-distinct-h10", "small-h15", "50M-distinct-h2"],
)
def test_route_choice_on_the_lancashire_grid(n_unique, bandwidth_m, route):
    assert kde_module._choose_route(n_unique, LANCASHIRE, bandwidth_m)[0] == route


@pytest.mark.parametrize("bandwidth_cells", [4.0, 6.5, 10.0, 12.5, 20.0])
def test_binned_route_as_chosen_automatically_is_within_one_percent(bandwidth_cells):
    # When the FFT route is taken, its sub-cells must keep the worst case, one location with
    # all the weight, within 1 % of the peak; tight clusters too.
    s = kde_module._auto_oversample(Grid(0.0, 0.0, 100.0, 50, 50), bandwidth_cells * 100.0)
    assert s is not None
    h = bandwidth_cells * 100.0
    lone = Grid(0.0, 0.0, 100.0, 50, 50)
    for fx, fy in [(0.0, 0.0), (0.5, 0.5), (0.5, 0.0), (0.25, 0.4)]:
        x, y = [2550.0 + fx * 100], [2550.0 + fy * 100]
        exact = quartic_kde_direct(x, y, lone, h)
        assert rel_err_of_peak(quartic_kde(x, y, lone, h, oversample=s), exact) < 0.01
    cx, cy = _clustered_points(seed=12)
    grid = Grid.from_bounds(350_000, 350_000, 356_000, 356_000, 100.0)
    exact = quartic_kde_direct(cx, cy, grid, h)
    assert rel_err_of_peak(quartic_kde(cx, cy, grid, h, oversample=s), exact) < 0.01


@pytest.mark.skipif(not SHARED.exists(), reason="shared real data folder /work/shared/data absent")
def test_fast_matches_direct_on_police_uk_points_snapped_to_map_points():
    import pandas as pd
    from pyproj import Transformer

    path = SHARED / "police_uk" / "2019-09" / "2019-09-merseyside-street.csv.gz"
    with gzip.open(path, "rt") as fh:
        frame = pd.read_csv(fh, usecols=["Longitude", "Latitude"]).dropna()
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = to_bng.transform(frame["Longitude"].to_numpy(), frame["Latitude"].to_numpy())
    cx, cy = float(np.median(x)), float(np.median(y))
    grid = Grid.from_bounds(cx - 2500, cy - 2500, cx + 2500, cy + 2500, 100.0)
    fast = quartic_kde(x, y, grid, 500.0)
    exact = quartic_kde_direct(x, y, grid, 500.0)
    assert rel_err_of_peak(fast, exact) < FAST_VS_DIRECT_OF_PEAK


# --------------------------------------------------------------------------- mass and hotspot


@pytest.mark.parametrize(
    ("cell_m", "bandwidth_m", "weighted"),
    [(100.0, 300.0, False), (50.0, 400.0, False), (100.0, 500.0, True)],
    ids=["cell100-h300", "cell50-h400", "cell100-h500-weighted"],
)
def test_mass_is_conserved_for_points_well_inside(cell_m, bandwidth_m, weighted):
    rng = np.random.default_rng(7)
    x = rng.uniform(352_000, 358_000, 5_000)
    y = rng.uniform(432_000, 438_000, 5_000)
    w = rng.uniform(0.0, 3.0, x.size) if weighted else None
    grid = Grid.from_bounds(350_000, 430_000, 360_000, 440_000, cell_m)
    expected = float(w.sum()) if weighted else float(x.size)
    total = float(quartic_kde(x, y, grid, bandwidth_m, weights=w).sum()) * grid.cell_area_km2
    assert_allclose(total, expected, rtol=MASS_RTOL)


def test_planted_hotspot_peaks_in_the_cell_nearest_its_centre():
    rng = np.random.default_rng(42)
    background_x = rng.uniform(340_000, 350_000, 3_000)
    background_y = rng.uniform(420_000, 430_000, 3_000)
    planted = (344_321.0, 427_654.0)
    cluster_x = rng.normal(planted[0], 60.0, 300)
    cluster_y = rng.normal(planted[1], 60.0, 300)
    x = np.concatenate([background_x, cluster_x])
    y = np.concatenate([background_y, cluster_y])
    res = kde_surface(x, y, cell_m=100.0, bandwidth_m=400.0)
    iy, ix = np.unravel_index(np.nanargmax(res.density), res.density.shape)
    xs, ys = res.grid.centres()
    nearest = (int(np.argmin(np.abs(xs - planted[0]))), int(np.argmin(np.abs(ys - planted[1]))))
    assert (int(ix), int(iy)) == nearest


# --------------------------------------------------------------------------- bandwidth rule


def test_bandwidth_rule_by_hand_when_median_distance_is_smaller():
    # A symmetric set, so the mean centre is its middle point: that point, four at 300 m and
    # two at 1000 m. The two far points inflate SD, so the median term is the smaller.
    x = np.array([0.0, 300.0, -300.0, 0.0, 0.0, 1000.0, -1000.0]) + 400_000.0
    y = np.array([0.0, 0.0, 0.0, 300.0, -300.0, 0.0, 0.0]) + 400_000.0
    # Distances from the mean centre: 0, 300 x4, 1000 x2.
    sd = math.sqrt((4 * 300.0**2 + 2 * 1000.0**2) / 7)  # 591.6 m
    dm = 300.0
    expected = 0.9 * min(sd, math.sqrt(1 / math.log(2)) * dm) * 7**-0.2
    assert min(sd, math.sqrt(1 / math.log(2)) * dm) == pytest.approx(360.3, abs=0.1)
    assert default_bandwidth_m(x, y) == pytest.approx(expected, rel=1e-12)


def test_bandwidth_rule_weights_count_as_repeated_points():
    x = np.array([400_000.0, 400_300.0, 400_000.0, 401_000.0])
    y = np.array([400_000.0, 400_000.0, 400_500.0, 400_700.0])
    w = np.array([1.0, 3.0, 2.0, 1.0])
    repeated = default_bandwidth_m(np.repeat(x, w.astype(int)), np.repeat(y, w.astype(int)))
    assert default_bandwidth_m(x, y, weights=w) == pytest.approx(repeated, rel=1e-12)


def test_bandwidth_rule_falls_back_without_spread():
    assert default_bandwidth_m([400_000.0], [400_000.0]) == FALLBACK_BANDWIDTH_M
    assert default_bandwidth_m([400_000.0] * 5, [400_000.0] * 5) == FALLBACK_BANDWIDTH_M
    assert default_bandwidth_m([], []) == FALLBACK_BANDWIDTH_M


def test_kde_surface_reports_the_rule_and_raises_a_tiny_default():
    rng = np.random.default_rng(0)
    x = rng.uniform(400_000, 401_000, 200)
    y = rng.uniform(400_000, 401_000, 200)
    res = kde_surface(x, y, cell_m=50.0)
    assert res.bandwidth_m == pytest.approx(default_bandwidth_m(x, y))
    assert "ArcGIS" in res.bandwidth_rule
    coarse = kde_surface(x, y, cell_m=200.0)  # the rule's ~130 m is under 2 cells of 200 m
    assert coarse.bandwidth_m == 400.0
    assert "raised" in coarse.bandwidth_rule


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"bandwidth_m": 50.0}, "smaller than the cell size"),
        ({"northing": [400_050.0]}, "differ in length"),
        ({"weights": [1.0, -1.0]}, "weights must not be negative"),
        ({"weights": [1.0]}, "one value per point"),
        ({"easting": [400_050.0, math.nan]}, "NaN"),
        ({"easting": [-5.0, 400_050.0]}, "negative"),
        ({"bandwidth_m": 0.0}, "positive"),
    ],
    ids=[
        "bandwidth-below-cell",
        "mismatched-lengths",
        "negative-weights",
        "weights-wrong-length",
        "nan-coordinate",
        "negative-coordinate",
        "zero-bandwidth",
    ],
)
def test_fast_route_rejects_bad_input_with_a_plain_message(kwargs, message):
    args = {
        "easting": [400_050.0, 400_150.0],
        "northing": [400_050.0, 400_150.0],
        "grid": Grid(400_000.0, 400_000.0, 100.0, 5, 5),
        "bandwidth_m": 300.0,
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match=message):
        quartic_kde(**args)


def test_direct_sum_rejects_mismatched_lengths_too():
    with pytest.raises(ValueError, match="differ in length"):
        quartic_kde_direct([1.0, 2.0], [1.0], GRID_10, 300.0)


def test_kde_surface_counts_points_beyond_reach_of_given_bounds():
    # Two points in the middle of the area and one 8 km beyond it.
    x = np.array([400_450.0, 400_550.0, 409_000.0])
    y = np.array([400_450.0, 400_550.0, 409_000.0])
    bounds = (400_000.0, 400_000.0, 401_000.0, 401_000.0)
    res = kde_surface(x, y, cell_m=100.0, bandwidth_m=300.0, bounds=bounds)
    assert (res.n_points, res.n_outside_grid) == (3, 1)
    assert float(res.density.sum()) * res.grid.cell_area_km2 == pytest.approx(2.0, rel=0.02)


# --------------------------------------------------------------------------- mask


def test_area_mask_marks_centres_inside_a_triangle():
    grid = Grid(0.0, 0.0, 100.0, 4, 4)
    triangle = Polygon([(0, 0), (400, 0), (0, 400)])  # centres with x + y < 400 are inside
    mask = area_mask(grid, [triangle])
    xs, ys = grid.centres()
    expected = (xs[None, :] + ys[:, None]) < 400
    assert mask.shape == (4, 4)
    assert np.array_equal(mask, expected)
    assert mask[0, 0] and not mask[3, 3]


def test_kde_surface_blanks_cells_outside_the_mask():
    rng = np.random.default_rng(1)
    x = rng.uniform(400_000, 402_000, 300)
    y = rng.uniform(400_000, 402_000, 300)
    west_half = box(399_000, 399_000, 401_000, 403_000)
    res = kde_surface(x, y, cell_m=100.0, bandwidth_m=300.0, mask_polygons=west_half)
    xs, _ = res.grid.centres()
    assert np.isnan(res.density[:, xs > 401_000]).all()
    assert not np.isnan(res.density[:, xs < 401_000]).any()


def test_area_mask_refuses_geographic_polygons():
    geopandas = pytest.importorskip("geopandas")
    wgs84 = geopandas.GeoSeries([box(-3.0, 53.0, -2.0, 54.0)], crs="EPSG:4326")
    with pytest.raises(ValueError, match="geographic"):
        area_mask(Grid(0.0, 0.0, 100.0, 3, 3), wgs84)
