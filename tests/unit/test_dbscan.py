"""Grid DBSCAN against scikit-learn's exact DBSCAN, and the cluster summary table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely
from sklearn.cluster import DBSCAN
from sklearn.metrics import adjusted_rand_score

from geo.dbscan import DEFAULT_BUFFER_M, cluster_summary, dbscan, sklearn_dbscan_baseline

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"

#: Lowest agreement accepted overall; border points shared by two clusters may differ.
MIN_ARI = 0.99
#: Tolerance on areas, metres² relative: buffers are polygons of 32 segments, not circles.
AREA_RTOL = 0.01

# Preston-ish origin in British National Grid metres (EPSG:27700).
E0, N0 = 353_000.0, 429_000.0


def blobs_with_background(seed: int, n: int = 3000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 5000, size=(8, 2))
    sd_m = rng.uniform(30, 150, size=8)
    which = rng.integers(0, 8, size=int(n * 0.6))
    clustered = centres[which] + rng.normal(size=(which.size, 2)) * sd_m[which, None]
    background = rng.uniform(0, 5000, size=(n - which.size, 2))
    xy = np.vstack((clustered, background))[rng.permutation(n)]
    return E0 + xy[:, 0], N0 + xy[:, 1]


def snapped(seed: int) -> tuple[np.ndarray, np.ndarray]:
    # police.uk style: incidents snapped to a small set of map points, many rows per point.
    e, n = blobs_with_background(seed, 4000)
    return np.round(e / 40) * 40, np.round(n / 40) * 40


def boundary_chain(beyond_m: float = 0.005) -> tuple[np.ndarray, np.ndarray]:
    # 3-4-5 triangles: consecutive points exactly eps = 5 m apart (exact in floating point),
    # then a point ``beyond_m`` further than eps that must stay out.
    k = np.arange(6, dtype=float)
    step = 1.0 + beyond_m / 5.0
    e = np.concatenate((E0 + 3 * k, [E0 + 15 + 3 * step]))
    n = np.concatenate((N0 + 4 * k, [N0 + 20 + 4 * step]))
    return e, n


DATASETS = {
    "blobs-ms5": (lambda: blobs_with_background(1), 100.0, 5, None),
    "blobs-ms20": (lambda: blobs_with_background(2), 100.0, 20, None),
    "duplicates": (lambda: snapped(3), 100.0, 20, None),
    "weights": (lambda: blobs_with_background(4), 100.0, 12, "random"),
    "all-noise": (
        lambda: (np.arange(50) * 1000.0 + E0, np.full(50, N0)),
        100.0,
        2,
        None,
    ),
    "single-cluster": (
        lambda: tuple(np.random.default_rng(5).normal((E0, N0), 20.0, size=(500, 2)).T),
        50.0,
        10,
        None,
    ),
    # scikit-learn's brute-force distances (|a|² + |b|² - 2a·b) lose about a micrometre at BNG
    # magnitudes, so against it the point beyond eps is 5 mm out, not 1 µm as below.
    "eps-boundary": (boundary_chain, 5.0, 2, None),
}


@pytest.mark.parametrize("name", list(DATASETS), ids=list(DATASETS))
def test_matches_sklearn(name: str) -> None:
    make, eps_m, min_samples, weighting = DATASETS[name]
    e, n = make()
    weights = None
    if weighting == "random":
        weights = np.random.default_rng(6).integers(0, 4, size=e.size).astype(float)
    ours = dbscan(e, n, eps_m, min_samples, sample_weight=weights)
    sk = DBSCAN(eps=eps_m, min_samples=min_samples).fit(
        np.column_stack((e, n)), sample_weight=weights
    )
    core = np.zeros(e.size, dtype=bool)
    core[sk.core_sample_indices_] = True

    assert ours.dtype == np.int32
    assert ours.shape == e.shape
    # Both number clusters by their first core point, so core labels agree exactly.
    np.testing.assert_array_equal(ours[core], sk.labels_[core])
    np.testing.assert_array_equal(ours == -1, sk.labels_ == -1)
    assert adjusted_rand_score(sk.labels_, ours) >= MIN_ARI


def test_eps_boundary_is_inclusive() -> None:
    # Distances are taken from coordinate differences, exact to well under a micrometre.
    e, n = boundary_chain(beyond_m=1e-6)
    labels = dbscan(e, n, 5.0, 2)
    assert labels.tolist() == [0, 0, 0, 0, 0, 0, -1]


def test_all_noise_and_single_cluster_shapes() -> None:
    e, n = DATASETS["all-noise"][0]()
    assert (dbscan(e, n, 100.0, 2) == -1).all()
    e, n = DATASETS["single-cluster"][0]()
    assert set(dbscan(e, n, 50.0, 10).tolist()) <= {-1, 0}


def test_labels_follow_input_order() -> None:
    e, n = blobs_with_background(7, 2000)
    labels = dbscan(e, n, 100.0, 8)
    perm = np.random.default_rng(8).permutation(e.size)
    shuffled = dbscan(e[perm], n[perm], 100.0, 8)
    assert adjusted_rand_score(labels[perm], shuffled) == 1.0
    # Numbered by first core point: the first clustered row of the input is in cluster 0.
    assert labels[labels >= 0][0] == 0
    assert np.array_equal(np.unique(labels[labels >= 0]), np.arange(labels.max() + 1))


def test_duplicates_equal_weights() -> None:
    # Ten rows at one point behave exactly like one row of weight ten.
    e = np.array([E0] * 10 + [E0 + 60.0, E0 + 500.0])
    n = np.full(12, N0)
    rows = dbscan(e, n, 100.0, 11)
    weighted = dbscan(e[9:], n[9:], 100.0, 11, sample_weight=[10.0, 1.0, 1.0])
    assert rows.tolist() == [0] * 11 + [-1]
    assert weighted.tolist() == [0, 0, -1]


def test_fractional_weights_reach_min_samples() -> None:
    e = np.array([E0, E0 + 10.0, E0 + 20.0, E0 + 5000.0])
    n = np.full(4, N0)
    # 0.5 + 0.75 + 0.25 = 1.5 around the middle point; the ends reach only 1.25 and 1.0.
    labels = dbscan(e, n, 10.0, 1.5, sample_weight=[0.5, 0.75, 0.25, 1.0])
    assert labels.tolist() == [0, 0, 0, -1]
    labels = dbscan(e, n, 10.0, 1.5000001, sample_weight=[0.5, 0.75, 0.25, 1.0])
    assert labels.tolist() == [-1, -1, -1, -1]


def test_massive_duplicates_are_collapsed() -> None:
    # 200,000 rows on 20 snapped points: pairwise work would take minutes; collapsed to 20
    # weighted points it is milliseconds (speed itself is measured by `hotspot bench`).
    from geo.dbscan import _distinct_points

    rng = np.random.default_rng(9)
    spots = rng.uniform(0, 3000, size=(20, 2))
    pick = rng.integers(0, 20, size=200_000)
    e, n = E0 + spots[pick, 0], N0 + spots[pick, 1]
    ids, rows = _distinct_points(e, n)
    assert len(rows) == len(np.unique(pick))
    labels = dbscan(e, n, 100.0, 5)
    # Every spot is a cluster of its own rows (or shares one with a spot within 100 m).
    assert (labels >= 0).all()
    assert labels.max() + 1 <= 20


def test_empty_input() -> None:
    labels = dbscan(np.array([]), np.array([]), 100.0, 5)
    assert labels.dtype == np.int32 and labels.size == 0


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"easting": [0.0, 1.0], "northing": [0.0]}, "same length"),
        ({"easting": [0.0, np.nan], "northing": [0.0, 0.0]}, "finite"),
        ({"eps_m": 0.0}, "eps_m must be a positive"),
        ({"eps_m": np.inf}, "eps_m must be a positive"),
        ({"min_samples": 0}, "min_samples must be a positive"),
        ({"sample_weight": [1.0]}, "one weight per point"),
        ({"sample_weight": [1.0, -1.0]}, "non-negative"),
        ({"easting": [[0.0, 1.0]], "northing": [[0.0, 1.0]]}, "one-dimensional"),
    ],
    ids=[
        "lengths",
        "nan",
        "eps-zero",
        "eps-inf",
        "min-samples-zero",
        "weights-length",
        "weights-negative",
        "2d",
    ],
)
def test_dbscan_rejects_bad_input(kwargs: dict, match: str) -> None:
    args = {"easting": [0.0, 1.0], "northing": [0.0, 0.0], "eps_m": 10.0, "min_samples": 2}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        dbscan(**args)


# ---------------------------------------------------------------------------------------------
# cluster_summary
# ---------------------------------------------------------------------------------------------


def tiny_example() -> dict[str, object]:
    # Cluster 3: a 100 m square of five rows, light. Cluster 1: two rows, heavy, no times known.
    # Two noise rows. Labels need not be contiguous.
    return {
        "labels": np.array([3, 3, 3, 3, 3, 1, 1, -1, -1]),
        "easting": E0 + np.array([0, 100, 0, 100, 50, 2000, 2000, 9000, 9500], dtype=float),
        "northing": N0 + np.array([0, 0, 100, 100, 50, 0, 30, 0, 0], dtype=float),
        "dow": np.array([4, 4, 5, 5, 4, -1, -1, 0, 0]),
        "hour": np.array([22, 23, 23, -1, 1, -1, -1, 5, 5]),
        "category": np.array(
            ["Robbery", "Violence", "Violence", "Drugs", "Robbery", "Arson", None, "X", "X"],
            dtype=object,
        ),
        "weight": np.array([1, 1, 1, 1, 1, 10, 5, 100, 100], dtype=float),
    }


def test_summary_values_on_tiny_example() -> None:
    data = tiny_example()
    table = cluster_summary(
        data["labels"],
        data["easting"],
        data["northing"],
        dow=data["dow"],
        hour=data["hour"],
        category=data["category"],
        weight=data["weight"],
        buffer_m=10.0,
    )
    assert list(table.columns) == [
        "cluster",
        "count",
        "harm",
        "share",
        "peak_dow",
        "peak_hour",
        "main_categories",
        "centroid_e",
        "centroid_n",
        "area_km2",
        "geometry",
    ]
    assert table.crs.to_epsg() == 27700
    # Sorted by harm: cluster 1 (15) before cluster 3 (5), despite fewer rows.
    assert table["cluster"].tolist() == [1, 3]
    assert table["count"].tolist() == [2, 5]
    np.testing.assert_allclose(table["harm"], [15.0, 5.0])
    np.testing.assert_allclose(table["share"], [2 / 9, 5 / 9])
    assert table["peak_dow"].isna().tolist() == [True, False]
    assert table["peak_hour"].isna().tolist() == [True, False]
    assert table.loc[1, "peak_dow"] == 4
    # Hours 22, 23, 23, 1 with one unknown: 23 wins.
    assert table.loc[1, "peak_hour"] == 23
    assert table.loc[1, "main_categories"] == "Robbery (2), Violence (2), Drugs (1)"
    assert table.loc[0, "main_categories"] == "Arson (1)"
    np.testing.assert_allclose(table.loc[1, ["centroid_e", "centroid_n"]], [E0 + 50, N0 + 50])
    np.testing.assert_allclose(table.loc[0, ["centroid_e", "centroid_n"]], [E0 + 2000, N0 + 15])
    np.testing.assert_allclose(table["area_km2"], table.geometry.area / 1e6)
    # 100 m square grown by 10 m: 100² + 4·100·10 + π·10².
    np.testing.assert_allclose(
        table.loc[1, "area_km2"], (100**2 + 4000 + np.pi * 100) / 1e6, rtol=AREA_RTOL
    )


def test_summary_top_three_categories_only() -> None:
    cats = np.array(["A"] * 4 + ["B"] * 3 + ["C"] * 2 + ["D"], dtype=object)
    labels = np.zeros(cats.size, dtype=int)
    e = E0 + np.arange(cats.size, dtype=float)
    table = cluster_summary(labels, e, np.full(cats.size, N0), category=cats)
    assert table.loc[0, "main_categories"] == "A (4), B (3), C (2)"


def test_summary_default_buffer_and_no_extras() -> None:
    table = cluster_summary(np.array([0, 0, -1]), [E0, E0, E0 + 1000], [N0, N0, N0])
    assert DEFAULT_BUFFER_M == 50.0
    # One distinct point grown by 50 m: a disc.
    np.testing.assert_allclose(table.loc[0, "area_km2"], np.pi * 50**2 / 1e6, rtol=AREA_RTOL)
    np.testing.assert_allclose(table["harm"], [2.0])
    assert table["peak_dow"].isna().all() and table["peak_hour"].isna().all()
    assert table.loc[0, "main_categories"] == ""


def test_footprints_contain_all_members() -> None:
    e, n = snapped(10)
    rng = np.random.default_rng(11)
    e = e + rng.normal(0, 5, e.size)  # some exact duplicates, many distinct points
    labels = dbscan(e, n, 100.0, 10)
    # A 1 cm buffer: a hull that dropped a true vertex would leave members metres outside.
    table = cluster_summary(labels, e, n, buffer_m=0.01)
    assert len(table) == labels.max() + 1
    footprint = table.set_index("cluster").geometry
    members = labels >= 0
    inside = shapely.covers(
        footprint.loc[labels[members]].to_numpy(), shapely.points(e[members], n[members])
    )
    assert inside.all()


def test_summary_of_all_noise_is_empty_but_typed() -> None:
    table = cluster_summary(np.array([-1, -1]), [E0, E0 + 1], [N0, N0])
    assert len(table) == 0
    assert table.crs.to_epsg() == 27700
    assert "main_categories" in table.columns and "geometry" in table.columns


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"labels": np.array([0, 0, 0])}, "differ in length"),
        ({"hour": np.array([1])}, "hour must have one value per point"),
        ({"buffer_m": -1.0}, "buffer_m"),
        ({"weight": np.array([1.0, np.nan])}, "weight must hold finite"),
    ],
    ids=["labels-length", "hour-length", "negative-buffer", "nan-weight"],
)
def test_summary_rejects_bad_input(kwargs: dict, match: str) -> None:
    args: dict = {"labels": np.array([0, 0]), "easting": [E0, E0], "northing": [N0, N0]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cluster_summary(**args)


# ---------------------------------------------------------------------------------------------
# Baseline and real data
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow  # a fresh Python importing scikit-learn: 2-6 s on a busy two-core machine
def test_sklearn_baseline_reports_largest_size() -> None:
    e, n = blobs_with_background(12, 600)
    result = sklearn_dbscan_baseline(e, n, 100.0, 5, max_points_candidates=(300,), seed=0)
    assert result["n"] == 300
    assert result["failed_n"] is None
    assert result["seconds"] > 0 and result["peak_mb"] > 0


def test_sklearn_baseline_stops_at_memory_cap_without_raising() -> None:
    e, n = blobs_with_background(13, 400)
    # 64 MB of address space is not enough to even import scikit-learn.
    result = sklearn_dbscan_baseline(
        e, n, 100.0, 5, max_points_candidates=(200,), memory_limit_mb=64
    )
    assert result["n"] == 0
    assert result["failed_n"] == 200
    assert result["failure"]


@pytest.mark.skipif(not SHARED.exists(), reason=f"real public data folder {SHARED} is absent")
def test_matches_sklearn_on_real_police_points() -> None:
    from geo.projection import to_bng

    frame = pd.read_csv(SHARED / "police_uk" / "2019-09" / "2019-09-merseyside-street.csv.gz")
    frame = frame.dropna(subset=["Longitude", "Latitude"])
    e, n = to_bng(frame["Longitude"].to_numpy(), frame["Latitude"].to_numpy())
    ours = dbscan(e, n, 100.0, 20)
    sk = DBSCAN(eps=100.0, min_samples=20).fit(np.column_stack((e, n)))
    core = np.zeros(e.size, dtype=bool)
    core[sk.core_sample_indices_] = True
    np.testing.assert_array_equal(ours[core], sk.labels_[core])
    np.testing.assert_array_equal(ours == -1, sk.labels_ == -1)
    assert adjusted_rand_score(sk.labels_, ours) >= MIN_ARI
