"""Getis-Ord Gi* hot spot statistics on H3 cells, as ArcGIS's Hot Spot Analysis computes them.

The neighbourhood is fixed: each cell's neighbours are the cells of its ring-1 H3 disk
(``h3.grid_disk(cell, 1)``: six hexagons, five round a pentagon) with **binary weights that
include the cell itself** (the "star" in Gi*). That is ArcGIS's Hot Spot Analysis (Getis-Ord
Gi*) with a fixed neighbourhood of one ring and no row standardisation.

Study area
----------
Gi* compares each neighbourhood's total with the mean and spread over *every* cell in the
study area, so cells where nothing happened count as zeros. Police data only lists places where
something happened; with ``include_empty_neighbours=True`` (the default) the study area is the
cells with data **plus their ring-1 neighbours**, the neighbours that have no data entering with
value 0. Those added cells are returned too (``added`` is true): a quiet cell ringed by busy ones
can itself be part of a hot spot.

Significance
------------
``z`` is the analytic Gi* z-score and ``p`` its two-sided normal p-value, ``2 * (1 - Phi(|z|))``,
as ArcGIS reports them. ``bin`` is ArcGIS's ``Gi_Bin``: +3/+2/+1 for a hot spot at 99/95/90%
confidence, -3/-2/-1 for a cold spot, 0 for not significant. With ``fdr=True`` each confidence
level is judged against the Benjamini-Hochberg critical p-value for that level
(:func:`fdr_bins`): ArcGIS documents its "Apply False Discovery Rate (FDR) Correction" as
lowering the critical p-value of each confidence level by ranking the p-values, which is this
procedure.

The statistic itself comes from PySAL's ``esda.G_Local`` (``star=True``, binary weights,
analytic inference, no permutations, so nothing here is random).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd
import scipy.sparse as sp
from h3.api import basic_int as h3b
from scipy import stats

__all__ = ["DEFAULT_ALPHA_LEVELS", "bin_labels", "fdr_bins", "gi_star", "ring1_weights"]

#: Significance levels of ArcGIS's confidence bins: 90%, 95% and 99%.
DEFAULT_ALPHA_LEVELS = (0.10, 0.05, 0.01)

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF)


def _levels(alpha_levels: Sequence[float]) -> list[float]:
    """Return the levels from least to most strict, after checking them."""
    levels = sorted((float(a) for a in alpha_levels), reverse=True)
    if not levels:
        raise ValueError("alpha_levels is empty; give e.g. (0.10, 0.05, 0.01)")
    if any(not (0.0 < a < 1.0) for a in levels):
        raise ValueError(f"alpha levels must lie between 0 and 1, got {tuple(alpha_levels)}")
    if len(set(levels)) != len(levels):
        raise ValueError(f"alpha levels repeat: {tuple(alpha_levels)}")
    return levels


def _bh_critical_p(p: np.ndarray, alpha: float) -> float:
    """Return the Benjamini-Hochberg critical p-value at ``alpha`` (0.0 if nothing passes).

    With the m p-values sorted, p(1) <= ... <= p(m), the critical value is the largest p(k)
    with p(k) <= k * alpha / m; every test with p at or below it is significant.
    """
    m = len(p)
    if m == 0:
        return 0.0
    ordered = np.sort(p)
    passes = np.flatnonzero(ordered <= alpha * np.arange(1, m + 1) / m)
    return float(ordered[passes[-1]]) if len(passes) else 0.0


def fdr_bins(
    z: np.ndarray,
    p: np.ndarray,
    alpha_levels: Sequence[float] = DEFAULT_ALPHA_LEVELS,
    *,
    fdr: bool = True,
) -> np.ndarray:
    """Return ArcGIS-style confidence bins, with or without the false discovery rate correction.

    For each level ``alpha`` (0.10, 0.05 and 0.01 by default), a cell is significant if its
    p-value is at or below the critical p-value for that level: ``alpha`` itself when
    ``fdr=False``, or with ``fdr=True`` the Benjamini-Hochberg (1995) critical value, i.e. the
    largest sorted p-value ``p(k)`` with ``p(k) <= k * alpha / m`` over all ``m`` cells (no
    cell passes if none satisfies it; unlike ``esda.fdr`` there is no Bonferroni fallback). The
    bin's size is the number of levels at which the cell is significant, so with the default
    levels 3 means 99% confidence, 2 means 95% and 1 means 90%; its sign is the sign of ``z``
    (+ hot, - cold). Cells with a missing z or p are 0. Because a stricter level always has a
    lower critical value, a cell significant at 99% is also significant at 95% and 90%.

    Parameters
    ----------
    z : numpy.ndarray
        Gi* z-scores.
    p : numpy.ndarray
        Two-sided p-values of the same cells.
    alpha_levels : sequence of float
        Significance levels, in any order.
    fdr : bool
        Apply the Benjamini-Hochberg correction (True) or compare with each level as it is.

    Returns
    -------
    numpy.ndarray
        int8 bins from ``-len(alpha_levels)`` to ``+len(alpha_levels)``.

    Examples
    --------
    >>> z = np.array([3.0, 2.2, -1.8, 0.3])
    >>> p = 2 * stats.norm.sf(np.abs(z))
    >>> fdr_bins(z, p, fdr=False).tolist()
    [3, 2, -1, 0]
    >>> fdr_bins(z, p).tolist()
    [2, 1, -1, 0]
    """
    z = np.asarray(z, dtype="float64")
    p = np.asarray(p, dtype="float64")
    if z.shape != p.shape:
        raise ValueError(f"z and p differ in length ({len(z)} and {len(p)})")
    known = np.isfinite(z) & np.isfinite(p)
    level_count = np.zeros(len(p), dtype="int8")
    for alpha in _levels(alpha_levels):
        critical = _bh_critical_p(p[known], alpha) if fdr else alpha
        level_count += (known & (p <= critical)).astype("int8")
    sign = np.where(z > 0, 1, -1).astype("int8")
    return np.where(level_count > 0, sign * level_count, 0).astype("int8")


def bin_labels(bins: np.ndarray, alpha_levels: Sequence[float] = DEFAULT_ALPHA_LEVELS) -> list[str]:
    """Return ArcGIS's wording for each bin, e.g. ``"Hot spot, 99% confidence"``.

    Examples
    --------
    >>> bin_labels(np.array([3, -1, 0]))
    ['Hot spot, 99% confidence', 'Cold spot, 90% confidence', 'Not significant']
    """
    levels = _levels(alpha_levels)
    names = {0: "Not significant"}
    for k, alpha in enumerate(levels, start=1):
        confidence = f"{round(100.0 * (1.0 - alpha), 6):g}%"
        names[k] = f"Hot spot, {confidence} confidence"
        names[-k] = f"Cold spot, {confidence} confidence"
    return [names[int(b)] for b in np.asarray(bins)]


def _check_cells(cells: np.ndarray) -> np.ndarray:
    cells = np.asarray(cells)
    if cells.ndim != 1:
        raise ValueError("cells must be a one-dimensional array of H3 cell indexes")
    if cells.dtype.kind not in "ui":
        raise ValueError(
            f"cells must be integer H3 indexes (uint64), got dtype {cells.dtype}; convert text "
            "cells with h3.str_to_int"
        )
    cells = cells.astype("uint64")
    if len(np.unique(cells)) != len(cells):
        raise ValueError("cells repeat: give one value per cell (sum the incidents first)")
    bad = [c for c in cells.tolist() if not h3b.is_valid_cell(c)]
    if bad:
        raise ValueError(f"{len(bad)} value(s) are not H3 cells, e.g. {bad[0]:#x}")
    res = np.unique((cells >> _RES_SHIFT) & _RES_MASK)
    if len(res) > 1:
        raise ValueError(
            f"cells mix H3 resolutions {', '.join(str(int(r)) for r in res)}; use one"
        )
    return cells


def ring1_weights(
    cells: np.ndarray, *, include_empty_neighbours: bool = True
) -> tuple[np.ndarray, sp.csr_matrix]:
    """Return the study-area cells and their binary ring-1 weights, self-weight included.

    Parameters
    ----------
    cells : numpy.ndarray
        Distinct uint64 H3 cells of one resolution.
    include_empty_neighbours : bool
        Extend the study area with every ring-1 neighbour not in ``cells`` (appended after
        ``cells``, sorted); otherwise only neighbours that are themselves in ``cells`` count.

    Returns
    -------
    study_cells : numpy.ndarray
        ``cells`` followed by the added neighbours.
    weights : scipy.sparse.csr_matrix
        ``weights[i, j] = 1`` if cell j is in cell i's ring-1 disk (which includes i itself).

    Examples
    --------
    >>> c = np.array([h3b.latlng_to_cell(53.759, -2.703, 9)], dtype="uint64")
    >>> study, w = ring1_weights(c)
    >>> len(study), int(w.sum()), float(w[0, 0])
    (7, 31, 1.0)
    """
    cells = np.asarray(cells, dtype="uint64")
    # the plain-int API returns lists: several times faster per call than the numpy one
    disks = [h3b.grid_disk(c, 1) for c in cells.tolist()]
    if include_empty_neighbours and disks:
        around = np.unique(np.fromiter(chain.from_iterable(disks), dtype="uint64"))
        extra = np.setdiff1d(around, cells, assume_unique=True)
        disks += [h3b.grid_disk(c, 1) for c in extra.tolist()]
        study = np.concatenate([cells, extra])
    else:
        study = cells
    n = len(study)
    if n == 0:
        return study, sp.csr_matrix((0, 0))
    sizes = np.fromiter((len(d) for d in disks), dtype="int64", count=n)
    members = np.fromiter(chain.from_iterable(disks), dtype="uint64", count=int(sizes.sum()))
    order = np.argsort(study)
    sorted_cells = study[order]
    pos = np.minimum(np.searchsorted(sorted_cells, members), n - 1)
    inside = sorted_cells[pos] == members
    rows = np.repeat(np.arange(n), sizes)[inside]
    cols = order[pos[inside]]
    weights = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    return study, weights


def gi_star(
    cells: np.ndarray,
    values: np.ndarray,
    *,
    include_empty_neighbours: bool = True,
    fdr: bool = True,
    alpha_levels: Sequence[float] = DEFAULT_ALPHA_LEVELS,
) -> pd.DataFrame:
    """Return the Getis-Ord Gi* z-score, p-value and hot/cold spot bin of every cell.

    ``G*_i = (sum_j w_ij x_j - X * sum_j w_ij) / (S * sqrt((n * sum_j w_ij^2 - (sum_j w_ij)^2)
    / (n - 1)))`` with binary ring-1 weights that include the cell itself, and ``X`` and ``S``
    the mean and (population) standard deviation of the values over all ``n`` study-area cells
    (Getis & Ord 1995; ArcGIS "How Hot Spot Analysis works").

    If every study-area value is the same there is nothing to compare: every z is 0 and every
    p is 1. A cell whose disk covers the whole study area (only possible with very few cells)
    likewise gets z = 0 and p = 1.

    Parameters
    ----------
    cells : numpy.ndarray
        Distinct uint64 H3 cells, all of one resolution.
    values : numpy.ndarray
        Incident count or harm of each cell: finite and not negative.
    include_empty_neighbours : bool
        Take the study area to be the cells plus their ring-1 neighbours, the neighbours
        without data counting 0 (see the module notes). If false, the study area is ``cells``.
    fdr : bool
        Judge significance with the Benjamini-Hochberg false discovery rate correction
        (:func:`fdr_bins`).
    alpha_levels : sequence of float
        Significance levels of the bins; ArcGIS's 90/95/99% by default.

    Returns
    -------
    pandas.DataFrame
        One row per study-area cell, ``cells`` first in their given order, then the added
        neighbours: ``cell`` (uint64), ``value``, ``z``, ``p`` (two-sided), ``bin`` (int8,
        -3..3), ``label`` (e.g. ``"Hot spot, 99% confidence"``) and ``added`` (true for a
        neighbour added with value 0).

    Raises
    ------
    ValueError
        For repeated or invalid cells, mixed resolutions, mismatched lengths, negative or
        missing values, or a study area of fewer than three cells.

    Examples
    --------
    >>> centre = h3b.latlng_to_cell(53.759, -2.703, 9)
    >>> field = np.array(h3b.grid_disk(centre, 4), dtype="uint64")
    >>> hot = set(h3b.grid_disk(centre, 1))
    >>> values = np.array([20.0 if c in hot else 1.0 for c in field.tolist()])
    >>> out = gi_star(field, values)
    >>> out.loc[out["cell"] == centre, "label"].item()
    'Hot spot, 99% confidence'
    """
    cells = _check_cells(cells)
    values = np.asarray(values, dtype="float64")
    if values.shape != cells.shape:
        raise ValueError(f"cells and values differ in length ({len(cells)} and {len(values)})")
    if not np.isfinite(values).all():
        raise ValueError("values must all be numbers (no NaN or infinity); use 0 for none")
    if (values < 0).any():
        raise ValueError("values must not be negative: give counts or harm totals")
    study, weights = ring1_weights(cells, include_empty_neighbours=include_empty_neighbours)
    n = len(study)
    if n < 3:
        raise ValueError(f"Gi* needs a study area of at least three cells, got {n}")
    y = np.zeros(n)
    y[: len(cells)] = values
    z = np.zeros(n)
    if np.ptp(y) > 0:
        z = _esda_z(y, weights)
    # A disk holding the whole study area has zero variance under the null: 0/0, not a signal.
    z[~np.isfinite(z)] = 0.0
    p = 2.0 * stats.norm.sf(np.abs(z))
    bins = fdr_bins(z, p, alpha_levels, fdr=fdr)
    return pd.DataFrame(
        {
            "cell": study,
            "value": y,
            "z": z,
            "p": p,
            "bin": bins,
            "label": pd.Series(bin_labels(bins, alpha_levels), dtype="string"),
            "added": np.arange(n) >= len(cells),
        }
    )


def _esda_z(y: np.ndarray, weights: sp.csr_matrix) -> np.ndarray:
    """Return esda's analytic Gi* z-scores for binary weights that already hold the diagonal."""
    import esda
    from libpysal.graph import Graph

    # A sparse-backed Graph, not a dict-backed W: building a W for 30,000 cells and letting
    # esda turn it back into a sparse matrix takes seconds; the Graph takes a fraction of one.
    w = Graph.from_sparse(weights)
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        # libpysal notes disconnected components and islands; with star weights every cell
        # is its own neighbour, so neither changes the statistic.
        warnings.filterwarnings("ignore", message=".*(islands|disconnected).*")
        g = esda.G_Local(y, w, star=True, transform="B", permutations=0)
    return np.asarray(g.Zs, dtype="float64")


def gi_star_series(
    cells: np.ndarray,
    values: np.ndarray,
    *,
    include_empty_neighbours: bool = True,
    fdr: bool = True,
    alpha_levels: Sequence[float] = DEFAULT_ALPHA_LEVELS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Gi* for many periods over one study area: the weights are built once.

    The same statistic as :func:`gi_star` (a test checks they agree to 1e-9), computed for
    every column of ``values`` with one sparse matrix product instead of one esda call per
    period: with binary weights ``sum_j w_ij^2 = sum_j w_ij``, so the formula needs only each
    cell's neighbour count and the weighted sums.

    Parameters
    ----------
    cells : numpy.ndarray
        Distinct uint64 H3 cells of one resolution.
    values : numpy.ndarray
        Shape (len(cells), n_periods): count or harm of each cell in each period.
    include_empty_neighbours, fdr, alpha_levels
        As in :func:`gi_star`.

    Returns
    -------
    study, z, p, bins : numpy.ndarray
        The study-area cells (``cells`` then added neighbours) and, per cell and period, the
        z-score, two-sided p-value and bin.

    Examples
    --------
    >>> centre = h3b.latlng_to_cell(53.759, -2.703, 9)
    >>> field = np.array(h3b.grid_disk(centre, 4), dtype="uint64")
    >>> hot = set(h3b.grid_disk(centre, 1))
    >>> v = np.array([20.0 if c in hot else 1.0 for c in field.tolist()])
    >>> study, z, p, bins = gi_star_series(field, np.column_stack([v, v]))
    >>> bool(np.allclose(z[:, 0], gi_star(field, v)["z"]))
    True
    """
    cells = _check_cells(cells)
    values = np.asarray(values, dtype="float64")
    if values.ndim != 2 or values.shape[0] != len(cells):
        raise ValueError("values must have one row per cell and one column per period")
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("values must be numbers that are not negative")
    study, weights = ring1_weights(cells, include_empty_neighbours=include_empty_neighbours)
    n = len(study)
    if n < 3:
        raise ValueError(f"Gi* needs a study area of at least three cells, got {n}")
    y = np.zeros((n, values.shape[1]))
    y[: len(cells)] = values
    w_sum = np.asarray(weights.sum(axis=1)).ravel()
    mean = y.mean(axis=0)
    sd = np.sqrt(np.maximum((y**2).mean(axis=0) - mean**2, 0.0))
    numerator = weights @ y - np.outer(w_sum, mean)
    spread = np.sqrt(np.maximum((n * w_sum - w_sum**2) / (n - 1), 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = numerator / np.outer(spread, sd)
    z[~np.isfinite(z)] = 0.0
    p = 2.0 * stats.norm.sf(np.abs(z))
    bins = np.column_stack([fdr_bins(z[:, t], p[:, t], alpha_levels, fdr=fdr)
                            for t in range(z.shape[1])]) if z.shape[1] else np.zeros(
        (n, 0), dtype="int8")
    return study, z, p, bins
