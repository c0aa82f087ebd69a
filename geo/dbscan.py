"""Exact DBSCAN for a million points in British National Grid metres, and a table of its clusters.

scikit-learn's ``DBSCAN`` first builds every point's list of neighbours within ``eps``. On police
data that list is quadratic in the size of a hotspot: police.uk snaps incidents to anonymised map
points, so one town-centre point can carry thousands of rows, and a million clustered incidents need
tens of GB of neighbour lists. ``scipy.spatial.cKDTree.query_pairs`` blows up in the same way on the
same hotspots. So this module runs a grid DBSCAN instead: square cells of side ``eps/√2``, so that
any two points in one cell are within ``eps`` of each other; a cell holding at least ``min_samples``
(weight) makes all its points core without a single distance computation; every other point counts
neighbours in the 5×5 block of cells around it and stops as soon as it has enough; core cells are
joined with union-find. Exact duplicates are collapsed into one weighted point first, so a
thousand rows at one map point cost one point. The loops are compiled with numba: they are
branchy, early-exiting scans that numpy cannot vectorise without building the very pair lists that
run out of memory, and numba keeps each pass a single linear walk over arrays sorted by cell.
``cache=True`` stores the compiled code beside this file, so only the first process pays for
compiling (a few seconds).

The result matches scikit-learn's exact DBSCAN (``algorithm="auto"``, Euclidean distance) for core
points and for noise: a point's neighbourhood holds itself and every point at distance ``<= eps``,
and a point is core when the weight of its neighbourhood reaches ``min_samples``. A border point
(not core, but within ``eps`` of a core point) joins the cluster of its nearest core point, where
scikit-learn gives it to whichever cluster reaches it first; the two can differ only for a border
point within ``eps`` of two clusters.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numba
import numpy as np
import pandas as pd
import shapely
from numpy.typing import ArrayLike, NDArray

from geo.settings import CRS_METRIC

__all__ = ["DEFAULT_BUFFER_M", "cluster_summary", "dbscan", "sklearn_dbscan_baseline"]

#: Footprint buffer (metres) used by :func:`cluster_summary` when the caller gives none.
#: Half of a typical 100 m ``eps``: wide enough that a one-point or one-line cluster still has an
#: area and a visible outline, narrow enough not to swallow the next street.
DEFAULT_BUFFER_M = 50.0

# Cells are made a hair smaller than eps/√2 so that rounding in the cell index can never put
# two points more than eps apart into one cell; the 5×5 block still covers every neighbour.
_CELL_SHRINK = 1.0 - 1e-9
# Padding of cell indices so that the ±2 neighbour offsets never leave a row of the key space.
_PAD = 2

_CATEGORY_TOP = 3


# --------------------------------------------------------------------------------------------
# Compiled kernels
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True)
def _hull_vertices(
    group: NDArray[np.int64], x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.int64]:
    # Andrew's monotone chain over points sorted by (group, x, y) and free of duplicates; returns
    # the indices of each group's hull vertices. Points exactly on a hull edge are kept, so that
    # rounding can only add a vertex, never cut a member out of the hull.
    n = x.shape[0]
    keep = np.zeros(n, dtype=np.bool_)
    stack = np.empty(n + 1, dtype=np.int64)
    a = 0
    while a < n:
        b = a + 1
        while b < n and group[b] == group[a]:
            b += 1
        for sweep in range(2):
            top = 0
            for t in range(b - a):
                i = a + t if sweep == 0 else b - 1 - t
                while top >= 2:
                    o = stack[top - 2]
                    p = stack[top - 1]
                    cross = (x[p] - x[o]) * (y[i] - y[o]) - (y[p] - y[o]) * (x[i] - x[o])
                    if cross < 0:
                        top -= 1
                    else:
                        break
                stack[top] = i
                top += 1
            for t in range(top):
                keep[stack[t]] = True
        a = b
    return np.flatnonzero(keep)


@numba.njit(cache=True)
def _neighbour_cell_ranges(cell_key: NDArray[np.int64], row_len: int) -> NDArray[np.int64]:
    # For each cell and each of the five rows of its 5×5 block, the half-open range of cell
    # indices whose keys fall in that row's five columns. Keys are sorted, and each row's
    # query window moves forward with the cell, so one sweep per row is enough.
    ncell = cell_key.shape[0]
    ranges = np.empty((ncell, 5, 2), dtype=np.int64)
    for r in range(5):
        offset = (r - 2) * row_len
        lo = 0
        hi = 0
        for c in range(ncell):
            first = cell_key[c] + offset - 2
            last = first + 4
            while lo < ncell and cell_key[lo] < first:
                lo += 1
            if hi < lo:
                hi = lo
            while hi < ncell and cell_key[hi] <= last:
                hi += 1
            ranges[c, r, 0] = lo
            ranges[c, r, 1] = hi
    return ranges


@numba.njit(cache=True)
def _bboxes(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    cell_start: NDArray[np.int64],
    members: NDArray[np.int64],
) -> NDArray[np.float64]:
    # Bounding box (min x, max x, min y, max y) of each cell's members; an empty cell gets an
    # inverted box, which is "infinitely far" from everything under _box_gap2.
    ncell = cell_start.shape[0] - 1
    box = np.empty((ncell, 4), dtype=np.float64)
    for c in range(ncell):
        box[c, 0] = np.inf
        box[c, 1] = -np.inf
        box[c, 2] = np.inf
        box[c, 3] = -np.inf
        for p in range(cell_start[c], cell_start[c + 1]):
            i = members[p]
            box[c, 0] = min(box[c, 0], x[i])
            box[c, 1] = max(box[c, 1], x[i])
            box[c, 2] = min(box[c, 2], y[i])
            box[c, 3] = max(box[c, 3], y[i])
    return box


@numba.njit(cache=True)
def _box_gap2(box: NDArray[np.float64], c: int, px: float, py: float) -> float:
    # Squared distance from a point to a box: 0 inside, infinite for an empty box.
    if box[c, 0] > box[c, 1]:
        return np.inf
    dx = max(box[c, 0] - px, 0.0, px - box[c, 1])
    dy = max(box[c, 2] - py, 0.0, py - box[c, 3])
    return dx * dx + dy * dy


@numba.njit(cache=True)
def _boxes_gap2(box_a: NDArray[np.float64], a: int, box_b: NDArray[np.float64], b: int) -> float:
    if box_a[a, 0] > box_a[a, 1] or box_b[b, 0] > box_b[b, 1]:
        return np.inf
    dx = max(box_a[a, 0] - box_b[b, 1], 0.0, box_b[b, 0] - box_a[a, 1])
    dy = max(box_a[a, 2] - box_b[b, 3], 0.0, box_b[b, 2] - box_a[a, 3])
    return dx * dx + dy * dy


@numba.njit(cache=True)
def _core_points(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    w: NDArray[np.float64],
    cell_start: NDArray[np.int64],
    ranges: NDArray[np.int64],
    eps2: float,
    min_samples: float,
) -> NDArray[np.bool_]:
    ncell = cell_start.shape[0] - 1
    npts = x.shape[0]
    core = np.zeros(npts, dtype=np.bool_)
    box = _bboxes(x, y, cell_start, np.arange(npts))
    for c in range(ncell):
        a = cell_start[c]
        b = cell_start[c + 1]
        cell_weight = 0.0
        for i in range(a, b):
            cell_weight += w[i]
        if cell_weight >= min_samples:
            for i in range(a, b):
                core[i] = True
            continue
        for i in range(a, b):
            # Every point of its own cell is within eps, so the cell's weight is a head start.
            total = cell_weight
            xi = x[i]
            yi = y[i]
            for r in range(5):
                if total >= min_samples:
                    break
                for c2 in range(ranges[c, r, 0], ranges[c, r, 1]):
                    # Skipping whole cells out of reach keeps a sparse point beside a dense
                    # hotspot from measuring its distance to every point of the hotspot.
                    if c2 == c or _box_gap2(box, c2, xi, yi) > eps2:
                        continue
                    for j in range(cell_start[c2], cell_start[c2 + 1]):
                        dx = x[j] - xi
                        dy = y[j] - yi
                        if dx * dx + dy * dy <= eps2:
                            total += w[j]
                            if total >= min_samples:
                                break
                    if total >= min_samples:
                        break
            core[i] = total >= min_samples
    return core


@numba.njit(cache=True)
def _find(parent: NDArray[np.int64], c: int) -> int:
    root = c
    while parent[root] != root:
        root = parent[root]
    # Path compression keeps later finds near O(1).
    while parent[c] != root:
        nxt = parent[c]
        parent[c] = root
        c = nxt
    return root


@numba.njit(cache=True)
def _cells_linked(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    core_idx: NDArray[np.int64],
    core_start: NDArray[np.int64],
    box: NDArray[np.float64],
    c: int,
    c2: int,
    eps2: float,
    near: NDArray[np.int64],
) -> bool:
    # True when some core point of c is within eps of some core point of c2. Only the points
    # of c2 within eps of c's box can be partners, and usually few are: two dense cells two
    # apart would otherwise cost the product of their sizes.
    n_near = 0
    for q in range(core_start[c2], core_start[c2 + 1]):
        j = core_idx[q]
        if _box_gap2(box, c, x[j], y[j]) <= eps2:
            near[n_near] = j
            n_near += 1
    if n_near == 0:
        return False
    for p in range(core_start[c], core_start[c + 1]):
        i = core_idx[p]
        xi = x[i]
        yi = y[i]
        if _box_gap2(box, c2, xi, yi) > eps2:
            continue
        for t in range(n_near):
            j = near[t]
            dx = x[j] - xi
            dy = y[j] - yi
            if dx * dx + dy * dy <= eps2:
                return True
    return False


@numba.njit(cache=True)
def _cluster_cells(
    x: NDArray[np.float64],
    y: NDArray[np.float64],
    core: NDArray[np.bool_],
    cell_start: NDArray[np.int64],
    ranges: NDArray[np.int64],
    eps2: float,
) -> NDArray[np.int64]:
    # Returns, for every (unique) point, the index of the root cell of its cluster, or -1.
    ncell = cell_start.shape[0] - 1
    npts = x.shape[0]
    # Core points of each cell, packed contiguously, so pair checks skip no border points.
    core_start = np.zeros(ncell + 1, dtype=np.int64)
    largest = 0
    for c in range(ncell):
        n_core = 0
        for i in range(cell_start[c], cell_start[c + 1]):
            if core[i]:
                n_core += 1
        core_start[c + 1] = core_start[c] + n_core
        largest = max(largest, n_core)
    core_idx = np.flatnonzero(core)
    box = _bboxes(x, y, core_start, core_idx)
    near = np.empty(largest, dtype=np.int64)

    parent = np.arange(ncell)
    # Cells whose core points come within eps/2 first: in a dense hotspot they join everything,
    # so the pairs further apart, dearer to test, are then mostly skipped as already joined.
    for far in range(2):
        for c in range(ncell):
            if core_start[c + 1] == core_start[c]:
                continue
            # Rows 0 and 1 hold only smaller keys: each pair of cells is looked at once.
            for r in range(2, 5):
                for c2 in range(ranges[c, r, 0], ranges[c, r, 1]):
                    if c2 <= c or core_start[c2 + 1] == core_start[c2]:
                        continue
                    gap2 = _boxes_gap2(box, c, box, c2)
                    if gap2 > eps2 or (far == 0) == (gap2 > 0.25 * eps2):
                        continue
                    ra = _find(parent, c)
                    rb = _find(parent, c2)
                    if ra == rb:
                        continue
                    if _cells_linked(x, y, core_idx, core_start, box, c, c2, eps2, near):
                        # Smaller root wins, so the result does not depend on visit order.
                        if ra < rb:
                            parent[rb] = ra
                        else:
                            parent[ra] = rb

    label = np.full(npts, -1, dtype=np.int64)
    for c in range(ncell):
        if core_start[c + 1] == core_start[c]:
            continue
        root = _find(parent, c)
        for p in range(core_start[c], core_start[c + 1]):
            label[core_idx[p]] = root

    # Border points: the cluster of the nearest core point within eps.
    for c in range(ncell):
        for i in range(cell_start[c], cell_start[c + 1]):
            if core[i]:
                continue
            xi = x[i]
            yi = y[i]
            best = np.inf
            for r in range(5):
                for c2 in range(ranges[c, r, 0], ranges[c, r, 1]):
                    if _box_gap2(box, c2, xi, yi) > eps2:
                        continue
                    for q in range(core_start[c2], core_start[c2 + 1]):
                        j = core_idx[q]
                        dx = x[j] - xi
                        dy = y[j] - yi
                        d2 = dx * dx + dy * dy
                        if d2 <= eps2 and d2 < best:
                            best = d2
                            label[i] = label[j]
    return label


@numba.njit(cache=True)
def _number_clusters(root: NDArray[np.int64], core: NDArray[np.bool_], n_roots: int) -> Any:
    # Clusters are numbered in the order of their first core point in the input, as
    # scikit-learn numbers them, so labels usually agree without relabelling.
    new = np.full(n_roots, -1, dtype=np.int64)
    k = 0
    for i in range(root.shape[0]):
        r = root[i]
        if r >= 0 and core[i] and new[r] < 0:
            new[r] = k
            k += 1
    out = np.empty(root.shape[0], dtype=np.int32)
    for i in range(root.shape[0]):
        r = root[i]
        out[i] = new[r] if r >= 0 else -1
    return out


# --------------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------------


def _as_coordinates(easting: ArrayLike, northing: ArrayLike) -> tuple[NDArray, NDArray]:
    x = np.ascontiguousarray(easting, dtype=np.float64)
    y = np.ascontiguousarray(northing, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("easting and northing must be one-dimensional arrays of metres.")
    if x.shape != y.shape:
        raise ValueError(
            f"easting and northing must have the same length; got {x.size} eastings and "
            f"{y.size} northings."
        )
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError(
            "easting and northing must be finite numbers; drop points without a location first."
        )
    return x, y


def _codes(col: NDArray) -> tuple[NDArray[np.int64], int]:
    if col.dtype.kind == "f":
        # ``+ 0.0`` folds -0.0 into 0.0, which are the same place.
        codes, uniques = pd.factorize(col + 0.0)
        return codes.astype(np.int64, copy=False), len(uniques)
    # Integer columns are already non-negative codes (cluster ids).
    return col.astype(np.int64, copy=False), int(col.max()) + 1 if col.size else 0


def _distinct_points(
    first: NDArray, *others: NDArray
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    # Ids of the distinct rows of the given columns, by hashing rather than sorting (a
    # three-key lexsort of a million rows costs more than the whole clustering): returns each
    # row's id and, for each id, one row holding it.
    ids, _ = _codes(first)
    for col in others:
        codes, n_codes = _codes(col)
        ids = pd.factorize(ids * n_codes + codes)[0].astype(np.int64, copy=False)
    rows = np.empty(int(ids.max()) + 1 if ids.size else 0, dtype=np.int64)
    # Any row of a group will do: they are identical in every column.
    rows[ids] = np.arange(ids.size)
    return ids, rows


def dbscan(
    easting: ArrayLike,
    northing: ArrayLike,
    eps_m: float,
    min_samples: float,
    sample_weight: ArrayLike | None = None,
) -> NDArray[np.int32]:
    """Cluster points with exact DBSCAN on a grid, in memory linear in the number of points.

    Parameters
    ----------
    easting, northing : array-like of float
        Point coordinates in British National Grid (EPSG:27700), metres.
    eps_m : float
        Neighbourhood radius in metres; points at distance ``<= eps_m`` are neighbours.
    min_samples : float
        A point is core when the number (or, with ``sample_weight``, the weight) of points in its
        neighbourhood, itself included, is at least this.
    sample_weight : array-like of float, optional
        Non-negative weight of each point, as in scikit-learn (e.g. a harm score or a count).

    Returns
    -------
    numpy.ndarray of int32
        Cluster label of each point in input order, ``-1`` for noise. Clusters are numbered
        ``0..k-1`` in the order of their first core point, as scikit-learn numbers them.

    Raises
    ------
    ValueError
        For coordinates of different lengths or that are not finite, a non-positive ``eps_m`` or
        ``min_samples``, or weights that are negative, not finite or of the wrong length.

    Notes
    -----
    Core points and noise are exactly those of ``sklearn.cluster.DBSCAN(eps, min_samples)``.
    A border point goes to the cluster of its nearest core point; scikit-learn gives it to the
    first cluster that reaches it, so the two differ only for border points shared by clusters.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.array([0.0, 10.0, 20.0, 500.0, 510.0, 520.0, 5000.0])
    >>> n = np.zeros(7)
    >>> dbscan(e, n, eps_m=15.0, min_samples=3).tolist()
    [0, 0, 0, 1, 1, 1, -1]
    >>> dbscan(e, n, eps_m=15.0, min_samples=3, sample_weight=[1, 1, 1, 1, 1, 1, 3]).tolist()
    [0, 0, 0, 1, 1, 1, 2]
    """
    x, y = _as_coordinates(easting, northing)
    eps = float(eps_m)
    if not (math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps_m must be a positive distance in metres; got {eps_m!r}.")
    min_s = float(min_samples)
    if not (math.isfinite(min_s) and min_s > 0):
        raise ValueError(f"min_samples must be a positive number; got {min_samples!r}.")
    n = x.size
    if sample_weight is None:
        w = np.ones(n, dtype=np.float64)
    else:
        w = np.ascontiguousarray(sample_weight, dtype=np.float64)
        if w.shape != x.shape:
            raise ValueError(
                f"sample_weight must have one weight per point; got {w.size} weights for "
                f"{n} points."
            )
        if not np.isfinite(w).all() or (w < 0).any():
            raise ValueError("sample_weight must hold finite, non-negative numbers.")
    if n == 0:
        return np.empty(0, dtype=np.int32)

    side = eps / math.sqrt(2.0) * _CELL_SHRINK
    x0 = x.min()
    y0 = y.min()
    nx = int((x.max() - x0) // side) + 1 + 2 * _PAD
    row_len = int((y.max() - y0) // side) + 1 + 2 * _PAD
    if nx * row_len >= 2**62:
        raise ValueError(
            f"eps_m={eps} is too small for points spread over this extent; use a larger eps_m "
            "or cluster a smaller area."
        )
    ix = ((x - x0) // side).astype(np.int64) + _PAD
    iy = ((y - y0) // side).astype(np.int64) + _PAD
    key = ix * row_len + iy
    del ix, iy
    # Collapse exact duplicates into one weighted point each, then sort the points by cell.
    unique_id, first = _distinct_points(x, y)
    ukey = key[first]
    del key
    order = np.argsort(ukey)
    ukey = ukey[order]
    ux = x[first][order]
    uy = y[first][order]
    uw = np.bincount(unique_id, weights=w, minlength=first.size)[order].astype(np.float64)
    rank = np.empty(first.size, dtype=np.int64)
    rank[order] = np.arange(first.size)
    inverse = rank[unique_id]
    del order, rank, unique_id, first

    cell_first = np.flatnonzero(np.diff(ukey)) + 1
    cell_start = np.concatenate(([0], cell_first, [ukey.size])).astype(np.int64)
    cell_key = np.ascontiguousarray(ukey[cell_start[:-1]])
    del ukey, cell_first

    ranges = _neighbour_cell_ranges(cell_key, row_len)
    eps2 = eps * eps
    core_u = _core_points(ux, uy, uw, cell_start, ranges, eps2, min_s)
    root_u = _cluster_cells(ux, uy, core_u, cell_start, ranges, eps2)
    del ranges
    labels: NDArray[np.int32] = _number_clusters(root_u[inverse], core_u[inverse], cell_key.size)
    return labels


def _peak(labels: NDArray, values: NDArray, n_clusters: int, n_values: int) -> pd.Series:
    # Most frequent known value per cluster (ties to the smallest); NA where none is known.
    known = (values >= 0) & (values < n_values)
    counts = np.bincount(
        labels[known] * n_values + values[known].astype(np.int64),
        minlength=n_clusters * n_values,
    ).reshape(n_clusters, n_values)
    peak = pd.array(counts.argmax(axis=1), dtype="Int64")
    peak[counts.sum(axis=1) == 0] = pd.NA
    return pd.Series(peak)


def _main_categories(labels: NDArray, category: ArrayLike, n_clusters: int) -> list[str]:
    codes, names = pd.factorize(np.asarray(category, dtype=object), use_na_sentinel=True)
    known = codes >= 0
    n_names = max(len(names), 1)
    pair, count = np.unique(labels[known] * n_names + codes[known], return_counts=True)
    cluster_of = pair // n_names
    code_of = pair % n_names
    # Within a cluster: most frequent first, then alphabetical, so ties read the same every run.
    name_rank = np.argsort(np.argsort(np.asarray(names, dtype=str), kind="stable"))
    order = np.lexsort((name_rank[code_of], -count, cluster_of))
    texts = [[] for _ in range(n_clusters)]  # type: list[list[str]]
    for p in order:
        parts = texts[cluster_of[p]]
        if len(parts) < _CATEGORY_TOP:
            parts.append(f"{names[code_of[p]]} ({count[p]})")
    return [", ".join(parts) for parts in texts]


def cluster_summary(
    labels: ArrayLike,
    easting: ArrayLike,
    northing: ArrayLike,
    *,
    dow: ArrayLike | None = None,
    hour: ArrayLike | None = None,
    category: ArrayLike | None = None,
    weight: ArrayLike | None = None,
    buffer_m: float | None = None,
) -> gpd.GeoDataFrame:
    """Describe each cluster: size, harm, when it peaks, what it holds and its footprint.

    Parameters
    ----------
    labels : array-like of int
        Cluster label of each point, ``-1`` for noise (as returned by :func:`dbscan`).
    easting, northing : array-like of float
        Point coordinates in British National Grid (EPSG:27700), metres.
    dow : array-like of int, optional
        Day of the week of each point, 0 = Monday .. 6 = Sunday, -1 where unknown.
    hour : array-like of int, optional
        Hour of the day of each point, 0..23, -1 where unknown (police.uk gives months only).
    category : array-like of str, optional
        Crime category of each point; missing values are left out of ``main_categories``.
    weight : array-like of float, optional
        Harm weight of each point (e.g. a crime harm index); every point weighs 1 if omitted.
    buffer_m : float, optional
        Distance in metres by which each cluster's convex hull is grown into its footprint.
        Callers usually pass ``eps_m / 2``; if omitted, :data:`DEFAULT_BUFFER_M` (50 m).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per cluster in EPSG:27700, sorted by ``harm`` then ``count`` (largest first),
        with columns ``cluster`` (label), ``count``, ``harm`` (sum of weights), ``share`` (count
        over all points given, noise included), ``peak_dow`` and ``peak_hour`` (most frequent
        known value, nullable integers, NA when unknown for every member), ``main_categories``
        (top three as ``"Name (count)"``, empty without categories), ``centroid_e``,
        ``centroid_n`` (mean position, metres), ``area_km2`` (footprint area) and ``geometry``
        (footprint polygon).

    Raises
    ------
    ValueError
        If the arrays differ in length, coordinates are not finite, or ``buffer_m`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array([0, 0, 0, -1])
    >>> table = cluster_summary(
    ...     labels, [0.0, 100.0, 0.0, 9000.0], [0.0, 0.0, 100.0, 0.0],
    ...     hour=[22, 22, 3, 1], category=["Robbery", "Robbery", "Drugs", "Drugs"], buffer_m=10.0,
    ... )
    >>> row = table.iloc[0]
    >>> int(row["cluster"]), int(row["count"]), float(row["share"]), int(row["peak_hour"])
    (0, 3, 0.75, 22)
    >>> row["main_categories"]
    'Robbery (2), Drugs (1)'
    >>> bool(table.geometry.iloc[0].covers(shapely.Point(0, 100)))
    True
    """
    lab = np.asarray(labels)
    if lab.ndim != 1:
        raise ValueError("labels must be a one-dimensional array of cluster numbers.")
    lab = lab.astype(np.int64)
    x, y = _as_coordinates(easting, northing)
    n = lab.size
    if x.size != n:
        raise ValueError(f"labels and coordinates differ in length: {n} labels, {x.size} points.")
    buffer = DEFAULT_BUFFER_M if buffer_m is None else float(buffer_m)
    if not (math.isfinite(buffer) and buffer >= 0):
        raise ValueError(f"buffer_m must be a distance of zero or more metres; got {buffer_m!r}.")

    def column(values: ArrayLike | None, name: str, dtype: Any) -> NDArray | None:
        if values is None:
            return None
        arr = np.asarray(values) if dtype is None else np.asarray(values, dtype=dtype)
        if arr.shape != (n,):
            raise ValueError(f"{name} must have one value per point; got {arr.size} for {n}.")
        return arr

    dow_a = column(dow, "dow", np.int64)
    hour_a = column(hour, "hour", np.int64)
    cat_a = column(category, "category", object)
    w = column(weight, "weight", np.float64)
    if w is not None and not np.isfinite(w).all():
        raise ValueError("weight must hold finite numbers.")

    in_cluster = lab >= 0
    # Labels need not be contiguous (a caller may filter clusters out); work on dense ids.
    ids, dense = np.unique(lab[in_cluster], return_inverse=True)
    k = ids.size
    columns = [
        "cluster", "count", "harm", "share", "peak_dow", "peak_hour", "main_categories",
        "centroid_e", "centroid_n", "area_km2",
    ]  # fmt: skip
    if k == 0:
        empty = pd.DataFrame({c: pd.Series(dtype=float) for c in columns})
        for c in ("cluster", "count"):
            empty[c] = empty[c].astype(np.int64)
        for c in ("peak_dow", "peak_hour"):
            empty[c] = empty[c].astype("Int64")
        empty["main_categories"] = empty["main_categories"].astype(object)
        return gpd.GeoDataFrame(empty, geometry=gpd.GeoSeries([], crs=CRS_METRIC), crs=CRS_METRIC)

    cx = x[in_cluster]
    cy = y[in_cluster]
    count = np.bincount(dense, minlength=k)
    harm = count.astype(np.float64) if w is None else np.bincount(dense, w[in_cluster], k)
    table = pd.DataFrame(
        {
            "cluster": ids.astype(np.int64),
            "count": count.astype(np.int64),
            "harm": harm,
            "share": count / n,
        }
    )
    missing = pd.Series(pd.array([pd.NA] * k, dtype="Int64"))
    table["peak_dow"] = missing if dow_a is None else _peak(dense, dow_a[in_cluster], k, 7)
    table["peak_hour"] = missing if hour_a is None else _peak(dense, hour_a[in_cluster], k, 24)
    table["main_categories"] = (
        [""] * k if cat_a is None else _main_categories(dense, cat_a[in_cluster], k)
    )
    table["main_categories"] = table["main_categories"].astype(object)
    table["centroid_e"] = np.bincount(dense, cx, k) / count
    table["centroid_n"] = np.bincount(dense, cy, k) / count

    # Hulls of each cluster's distinct points: a hotspot of 5,000 rows at one snapped map
    # point is one vertex, not 5,000.
    # Only hull vertices are handed to shapely: building a million shapely points costs more
    # than the whole clustering.
    ids_xy, rows = _distinct_points(dense, cx, cy)
    del ids_xy
    order = np.lexsort((cy[rows], cx[rows], dense[rows]))
    d_s, x_s, y_s = dense[rows][order], cx[rows][order], cy[rows][order]
    vertex = _hull_vertices(d_s, x_s, y_s)
    points = shapely.multipoints(np.column_stack((x_s[vertex], y_s[vertex])), indices=d_s[vertex])
    hulls = shapely.convex_hull(points)
    footprint = shapely.buffer(hulls, buffer) if buffer > 0 else hulls
    table["area_km2"] = shapely.area(footprint) / 1e6

    out = gpd.GeoDataFrame(table, geometry=footprint, crs=CRS_METRIC)
    out = out.sort_values(
        ["harm", "count", "cluster"], ascending=[False, False, True], kind="stable"
    )
    return out.reset_index(drop=True)


_BASELINE_CHILD = """
import json, resource, sys, time
import numpy as np
limit = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
from sklearn.cluster import DBSCAN
xy = np.load(sys.argv[1])
start = time.perf_counter()
DBSCAN(eps=float(sys.argv[2]), min_samples=int(sys.argv[4])).fit(xy)
seconds = time.perf_counter() - start
peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "peak_mb": peak_mb}))
"""


def sklearn_dbscan_baseline(
    easting: ArrayLike,
    northing: ArrayLike,
    eps_m: float,
    min_samples: int,
    max_points_candidates: Sequence[int] = (10_000, 30_000, 100_000, 300_000, 1_000_000),
    seed: int = 0,
    *,
    memory_limit_mb: int = 8192,
    time_limit_s: float = 60.0,
) -> dict[str, Any]:
    """Find the largest sample scikit-learn's DBSCAN can cluster within a memory and time budget.

    Each size in ``max_points_candidates`` (smallest first) is run in a fresh Python process
    whose address space is capped at ``memory_limit_mb``, on a seeded random sample of the
    points. The search stops at the first size that fails, runs out of memory or takes longer
    than ``time_limit_s``. Nothing it does can raise into the caller.

    Parameters
    ----------
    easting, northing : array-like of float
        Point coordinates in British National Grid (EPSG:27700), metres.
    eps_m : float
        Neighbourhood radius in metres, passed to ``DBSCAN(eps=...)``.
    min_samples : int
        Passed to ``DBSCAN(min_samples=...)``.
    max_points_candidates : sequence of int
        Sample sizes to try; sizes above the number of points are capped at it.
    seed : int
        Seed of the subsampling.
    memory_limit_mb : int
        Address-space cap of each child process, in MB.
    time_limit_s : float
        A run longer than this is stopped and counts as a failure.

    Returns
    -------
    dict
        ``n`` (largest size that succeeded, 0 if none), ``seconds`` and ``peak_mb`` (peak
        resident memory of that run's process, MB; both ``None`` if none succeeded),
        ``failed_n`` (first size that failed, or ``None``) and ``failure`` (why, in words).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> e, n = rng.normal(0, 50, 500), rng.normal(0, 50, 500)

    A budget too small for scikit-learn even to load is reported, not raised:

    >>> result = sklearn_dbscan_baseline(
    ...     e, n, 30.0, 5, max_points_candidates=(200, 400), memory_limit_mb=64
    ... )
    >>> result["n"], result["failed_n"], result["failure"] is not None
    (0, 200, True)

    With the default 8 GB, ``sklearn_dbscan_baseline(e, n, 30.0, 5, (200, 400))`` returns
    ``n == 400`` with its time and peak memory.
    """
    result: dict[str, Any] = {
        "n": 0, "seconds": None, "peak_mb": None, "failed_n": None, "failure": None,
    }  # fmt: skip
    try:
        x, y = _as_coordinates(easting, northing)
        rng = np.random.default_rng(seed)
        sizes = sorted({min(int(s), x.size) for s in max_points_candidates if int(s) > 0})
        limit_bytes = int(memory_limit_mb) * 1024 * 1024
        with tempfile.TemporaryDirectory(prefix="hotspot-dbscan-") as tmp:
            for size in sizes:
                pick = rng.choice(x.size, size=size, replace=False)
                path = Path(tmp) / f"xy_{size}.npy"
                np.save(path, np.column_stack((x[pick], y[pick])))
                # One BLAS thread: the cap is on address space, which thread arenas inflate.
                env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
                cmd = [
                    sys.executable, "-c", _BASELINE_CHILD,
                    str(path), repr(float(eps_m)), str(limit_bytes), str(int(min_samples)),
                ]  # fmt: skip
                try:
                    done = subprocess.run(
                        cmd, capture_output=True, text=True, timeout=time_limit_s, env=env
                    )
                except subprocess.TimeoutExpired:
                    result.update(failed_n=size, failure=f"took over {time_limit_s:g} s")
                    break
                if done.returncode != 0:
                    tail = (done.stderr.strip().splitlines() or ["no message"])[-1]
                    why = "ran out of memory" if "MemoryError" in done.stderr else tail
                    result.update(failed_n=size, failure=why)
                    break
                measured = json.loads(done.stdout.strip().splitlines()[-1])
                result.update(n=size, seconds=measured["seconds"], peak_mb=measured["peak_mb"])
                path.unlink()
    except Exception as exc:  # noqa: BLE001 - a benchmark helper must never take its caller down
        result["failure"] = f"{type(exc).__name__}: {exc}"
    return result
