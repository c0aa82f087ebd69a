"""Gi* hot spots on H3 cells: the ArcGIS formula, planted hot and cold spots, FDR, study area."""

from __future__ import annotations

import h3
import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import stats

from geo.gistar import bin_labels, fdr_bins, gi_star, ring1_weights

Z_TOL = 1e-9
RES = 9
#: Preston city centre (WGS84 lat, lng) and a point about 2 km east of it.
HOT_CENTRE = h3.latlng_to_cell(53.759, -2.703, RES)
COLD_CENTRE = h3.latlng_to_cell(53.759, -2.670, RES)


def direct_gi_star(cells: list[str], values: np.ndarray) -> np.ndarray:
    """Gi* straight from Getis & Ord (1995) / the ArcGIS documentation, binary ring-1 weights."""
    x = np.asarray(values, dtype=float)
    n = len(x)
    index = {c: i for i, c in enumerate(cells)}
    x_bar = x.mean()
    s = np.sqrt((x**2).sum() / n - x_bar**2)
    z = np.empty(n)
    for i, c in enumerate(cells):
        w = np.zeros(n)
        for nb in h3.grid_disk(c, 1):  # includes c itself: w_ii = 1
            if nb in index:
                w[index[nb]] = 1.0
        num = (w * x).sum() - x_bar * w.sum()
        den = s * np.sqrt((n * (w**2).sum() - w.sum() ** 2) / (n - 1))
        z[i] = num / den
    return z


def planted_field(seed: int = 7) -> tuple[list[str], np.ndarray]:
    """A field of cells around 10 incidents each, a hot cluster (35) and a cold cluster (0)."""
    rng = np.random.default_rng(seed)
    cells = sorted(set(h3.grid_disk(HOT_CENTRE, 7)) | set(h3.grid_disk(COLD_CENTRE, 7)))
    values = rng.poisson(10, len(cells)).astype(float)
    hot = set(h3.grid_disk(HOT_CENTRE, 1))
    cold = set(h3.grid_disk(COLD_CENTRE, 1))
    for i, c in enumerate(cells):
        if c in hot:
            values[i] = 35.0
        elif c in cold:
            values[i] = 0.0
    return cells, values


def as_int(cells: list[str]) -> np.ndarray:
    return np.array([h3.str_to_int(c) for c in cells], dtype="uint64")


def test_z_matches_direct_formula_with_data_cells_only():
    cells, values = planted_field()
    out = gi_star(as_int(cells), values, include_empty_neighbours=False)
    assert len(out) == len(cells) and not out["added"].any()
    assert_allclose(out["z"].to_numpy(), direct_gi_star(cells, values), rtol=0, atol=Z_TOL)
    assert_allclose(out["p"].to_numpy(), 2 * stats.norm.sf(np.abs(out["z"])), rtol=1e-12)


def test_empty_neighbours_join_the_study_area_as_zeros_and_match_the_formula():
    cells, values = planted_field()
    out = gi_star(as_int(cells), values)
    added = out[out["added"]]
    study = set(cells)
    for c in cells:
        study |= set(h3.grid_disk(c, 1))
    # every ring-1 neighbour, and nothing else, joins with value 0
    assert {h3.int_to_str(int(c)) for c in added["cell"]} == study - set(cells)
    assert (added["value"] == 0).all()
    # input cells come first, in the given order
    assert out["cell"].iloc[: len(cells)].tolist() == as_int(cells).tolist()
    full_cells = [h3.int_to_str(int(c)) for c in out["cell"]]
    assert_allclose(
        out["z"].to_numpy(), direct_gi_star(full_cells, out["value"].to_numpy()),
        rtol=0, atol=Z_TOL,
    )


def test_planted_hot_and_cold_centres_are_found():
    cells, values = planted_field()
    out = gi_star(as_int(cells), values).set_index("cell")
    hot = out.loc[h3.str_to_int(HOT_CENTRE)]
    cold = out.loc[h3.str_to_int(COLD_CENTRE)]
    assert hot["bin"] == 3 and hot["label"] == "Hot spot, 99% confidence"
    assert cold["bin"] < 0 and cold["label"].startswith("Cold spot")
    # the clusters, not the noise, are what stands out: every 99% hot cell touches the hot centre
    hot99 = {h3.int_to_str(int(c)) for c in out.index[out["bin"] == 3]}
    assert hot99 <= set(h3.grid_disk(HOT_CENTRE, 2))
    cold_cells = {h3.int_to_str(int(c)) for c in out.index[out["bin"] < 0]}
    assert h3.grid_disk(COLD_CENTRE, 0)[0] in cold_cells
    assert not cold_cells & set(h3.grid_disk(HOT_CENTRE, 2))


def test_fdr_turns_marginal_cells_non_significant():
    cells, values = planted_field()
    with_fdr = gi_star(as_int(cells), values, fdr=True)
    without = gi_star(as_int(cells), values, fdr=False)
    assert_allclose(with_fdr["z"], without["z"], rtol=0, atol=0)
    a, b = with_fdr["bin"].to_numpy(), without["bin"].to_numpy()
    # FDR never strengthens a bin or flips its sign...
    assert (np.abs(a) <= np.abs(b)).all() and ((a == 0) | (np.sign(a) == np.sign(b))).all()
    # ...and here some cells significant at face value are not once corrected
    marginal = (b != 0) & (a == 0)
    assert marginal.sum() > 0
    assert (without.loc[marginal, "p"] > with_fdr.loc[with_fdr["bin"] != 0, "p"].max()).all()
    # the planted centre survives the correction
    centre = with_fdr["cell"] == h3.str_to_int(HOT_CENTRE)
    assert with_fdr.loc[centre, "bin"].item() == 3


def test_without_fdr_bins_are_plain_p_thresholds():
    cells, values = planted_field()
    out = gi_star(as_int(cells), values, fdr=False)
    p, z, bins = out["p"].to_numpy(), out["z"].to_numpy(), out["bin"].to_numpy()
    expected = np.sign(z) * ((p <= 0.10).astype(int) + (p <= 0.05) + (p <= 0.01))
    assert bins.tolist() == expected.astype(int).tolist()


def test_bh_critical_values_by_hand():
    # m = 5 sorted p-values; BH at 0.05 compares with 0.01, 0.02, 0.03, 0.04, 0.05
    p = np.array([0.001, 0.015, 0.029, 0.2, 0.5])
    z = np.array([4.0, 2.5, -2.2, 1.0, 0.1])
    # 0.10: thresholds 0.02 0.04 0.06 0.08 0.10 -> first three pass
    # 0.05: 0.001 <= 0.01, 0.015 <= 0.02, 0.029 <= 0.03 -> first three pass
    # 0.01: 0.001 <= 0.002 only
    assert fdr_bins(z, p).tolist() == [3, 2, -2, 0, 0]
    assert fdr_bins(z, p, fdr=False).tolist() == [3, 2, -2, 0, 0]
    # step-up: a later p under its threshold rescues an earlier one above its own
    p2 = np.array([0.012, 0.019, 0.5, 0.6, 0.7])  # 0.012 > 0.01 but 0.019 <= 0.02
    assert fdr_bins(np.ones(5), p2, (0.05,)).tolist() == [1, 1, 0, 0, 0]


def test_bh_agrees_with_esda_fdr_cutoff():
    import esda

    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0, 0.002, 30), rng.uniform(0, 1, 500)])
    z = np.ones_like(p)
    for alpha in (0.10, 0.05, 0.01):
        ours = fdr_bins(z, p, (alpha,)) == 1
        theirs = p < esda.fdr(p, alpha)
        assert ours.sum() > 0
        assert (ours == theirs).all()


def test_labels_follow_alpha_levels():
    assert bin_labels(np.array([2, -2, 1, 0]), (0.05, 0.001)) == [
        "Hot spot, 99.9% confidence", "Cold spot, 99.9% confidence",
        "Hot spot, 95% confidence", "Not significant",
    ]


def test_self_weight_is_counted_once():
    cell = h3.str_to_int(HOT_CENTRE)
    study, w = ring1_weights(np.array([cell], dtype="uint64"))
    assert w.diagonal().tolist() == [1.0] * 7
    assert w.max() == 1.0
    assert np.asarray(w.sum(axis=1)).ravel()[0] == 7


def test_pentagon_neighbourhood():
    pentagon = sorted(h3.get_pentagons(RES))[0]
    disk = h3.grid_disk(pentagon, 3)
    values = np.array([9.0 if c == pentagon else 1.0 for c in disk])
    out = gi_star(as_int(disk), values, include_empty_neighbours=True)
    _, w = ring1_weights(np.array([h3.str_to_int(pentagon)], dtype="uint64"))
    assert np.asarray(w.sum(axis=1)).ravel()[0] == 6  # itself + five neighbours
    full = [h3.int_to_str(int(c)) for c in out["cell"]]
    assert_allclose(out["z"], direct_gi_star(full, out["value"].to_numpy()), rtol=0, atol=Z_TOL)


def test_all_equal_values_are_not_significant():
    cells = as_int(h3.grid_disk(HOT_CENTRE, 2))
    out = gi_star(cells, np.full(len(cells), 4.0), include_empty_neighbours=False)
    assert (out["z"] == 0).all() and (out["p"] == 1).all()
    assert (out["label"] == "Not significant").all()


@pytest.mark.parametrize(
    ("cells", "values", "message"),
    [
        ([HOT_CENTRE, HOT_CENTRE], [1, 2], "repeat"),
        ([HOT_CENTRE, h3.cell_to_parent(HOT_CENTRE, 8)], [1, 2], "mix H3 resolutions"),
        ([HOT_CENTRE], [1, 2], "differ in length"),
        ([HOT_CENTRE], [-1], "negative"),
        ([HOT_CENTRE], [np.nan], "NaN"),
    ],
    ids=["duplicate-cell", "mixed-resolution", "length", "negative", "nan"],
)
def test_bad_input_is_refused(cells, values, message):
    with pytest.raises(ValueError, match=message):
        gi_star(as_int(cells), np.asarray(values, dtype=float))


def test_text_cells_are_refused_with_a_hint():
    with pytest.raises(ValueError, match="str_to_int"):
        gi_star(np.array([HOT_CENTRE]), np.array([1.0]))


@pytest.mark.slow
def test_thirty_thousand_cells_complete():
    # Speed is measured by the benchmark, not asserted here: timings in tests fail on loaded
    # machines without telling anyone anything.
    rng = np.random.default_rng(11)
    centre = h3.str_to_int(h3.latlng_to_cell(53.759, -2.703, 10))
    from h3.api import numpy_int as h3int

    pool = np.asarray(h3int.grid_disk(centre, 110), dtype="uint64")
    cells = rng.choice(pool, 30_000, replace=False)
    values = rng.poisson(2, len(cells)).astype(float)
    out = gi_star(cells, values)
    assert len(out) > 30_000
    assert np.isfinite(out["z"]).all()


def test_series_matches_gi_star_period_by_period():
    from geo.gistar import gi_star_series

    rng = np.random.default_rng(5)
    centre = h3.latlng_to_cell(53.759, -2.703, 9)
    field = np.array([h3.str_to_int(c) for c in h3.grid_disk(centre, 5)], dtype="uint64")
    values = rng.poisson(2.0, size=(len(field), 4)).astype(float)
    values[0, 2] = 40.0  # a hot cell in one period
    values[:, 3] = 0.0  # a period with no incidents: no variation at all
    study, z, p, bins = gi_star_series(field, values)
    for t in range(values.shape[1]):
        one = gi_star(field, values[:, t])
        np.testing.assert_array_equal(study, one["cell"].to_numpy())
        np.testing.assert_allclose(z[:, t], one["z"].to_numpy(), atol=1e-9)
        np.testing.assert_array_equal(bins[:, t], one["bin"].to_numpy())
    assert (z[:, 3] == 0).all()
