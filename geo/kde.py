"""Quartic (biweight) kernel density estimation on a regular British National Grid raster.

The kernel is the one ArcGIS and CrimeStat call quartic:
``K(d) = 3 / (pi h^2) * (1 - d^2 / h^2)^2`` for ``d < h`` and 0 beyond, so a surface integrates
to the number of points (or the sum of their weights). Every density here is per km^2; every
distance is in metres of British National Grid (EPSG:27700). Arrays are laid out
``density[iy, ix]`` with row 0 the southernmost row.

* :func:`quartic_kde_direct` sums the kernel of every point at every cell centre with numpy. It
  is the reference the fast function is tested against.
* :func:`quartic_kde` computes the same sum fast. By default it is exact: points at identical
  coordinates are merged into one weighted point, then each distinct point adds its kernel to
  the cell centres within ``h`` in a compiled loop (the "scatter"). Only when the bandwidth is
  wide *and* the points are mostly distinct does it switch to binning onto sub-cells and an FFT
  convolution, which is within 1 % of the peak. ``oversample=`` forces that binned route.

Why this design. The target is a million incidents on a 100 m grid over a whole force (820 x
850 cells for Lancashire) in at most 0.2 s, within 1 % of the peak of the direct sum, for any
bandwidth of at least 2 cells. Measured on the 2-core development machine (other jobs running,
load average 1.6-2.6), a million points, h = 300 m:

* binning to cell centres and one FFT: 0.15 s, but 4.6-11 % off on police.uk data, whose
  incidents are snapped to shared map points so that one point can dominate a peak;
* the same on sub-cells fine enough for 1 %: 0.3-0.8 s, since the raster grows with the square
  of the sub-division;
* exact scatter of every point, in input order: 0.25-0.55 s, most of it cache misses;
* exact scatter after grouping points by 16 x 16-cell tiles and merging duplicates: 0.13-0.15 s
  for a million distinct points (about 0.05 s of it the grouping), 0.03-0.04 s when they sit on
  20,000 shared locations, as police.uk data does. Error: float rounding, ~1e-14 of the peak.

A second-order moment ("Taylor") binning was considered and not built: the quartic kernel's
second derivative jumps at ``d = h``, so near the rim its error stays of order
``(cell / h) ** 2``, no better than plain binning on sub-cells, for six FFTs instead of one.

The scatter's cost grows with the number of distinct points times the ``(2 h / cell + 1) ** 2``
cells each touches; the FFT route's with the sub-cell raster. Each call estimates both and
takes the scatter unless that is estimated over 0.05 s and the FFT route at least 1.25 times
faster. For a million distinct points on the Lancashire grid that happens from h = 6 cells
(0.19 s at h = 1000 m, 0.13 % off); for police-like data (20,000-50,000 locations) it happens
only past h = 15 cells. The compiled loops are built when this module is first imported (a few
seconds, once per installation: numba caches them beside this file; loading the cache takes
about 0.3 s).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numba
import numpy as np
import numpy.typing as npt
import scipy.fft as sp_fft
import shapely

__all__ = [
    "FALLBACK_BANDWIDTH_M",
    "MAX_GRID_CELLS",
    "MIN_BANDWIDTH_CELLS",
    "Grid",
    "KdeResult",
    "area_mask",
    "default_bandwidth_m",
    "kde_surface",
    "quartic_kde",
    "quartic_kde_direct",
    "sklearn_baseline_seconds",
]

#: Bandwidth used when the points carry no spread to estimate one from (fewer than two distinct
#: weighted locations). A round figure of street-to-neighbourhood scale; nothing in the data
#: supports any other value, so the result says the fallback was used.
FALLBACK_BANDWIDTH_M = 500.0

#: Smallest bandwidth, in cells, for which :func:`quartic_kde` is documented to match the
#: direct sum within 1 % of the peak (see its Notes). :func:`kde_surface` raises a default
#: bandwidth that falls below it.
MIN_BANDWIDTH_CELLS = 2.0

#: Widest kernel the surface takes, in cells (10 km at 100 m cells). The work grows with the
#: square of the kernel's width in cells: a 100 km kernel took minutes, and a kernel wider than
#: a town smooths away the hotspots it is drawn to show.
MAX_BANDWIDTH_CELLS = 100.0

#: Largest grid either route will build. 40 million float64 cells is 320 MB before the FFT's
#: own buffers; beyond that a wrong CRS or cell size is far likelier than a real need.
MAX_GRID_CELLS = 40_000_000

#: When :func:`quartic_kde` takes its binned FFT route, it bins onto sub-cells small enough that
#: the bandwidth spans at least this many of them. Binning error falls as ``(sub-cell / h) ** 2``;
#: for the worst case, all the weight at one location, it is 1.6 % of the peak at 8 sub-cells,
#: 1.0 % at 10 and 0.7 % at 12.
FINE_BANDWIDTH_CELLS = 12.0

#: Most sub-cells per cell side the FFT route uses (16 sub-cells per cell).
MAX_OVERSAMPLE = 4

#: Largest sub-cell raster the FFT route builds; past it the exact scatter is used instead.
MAX_FINE_CELLS = 12_000_000

# Points are grouped by tiles of this many cells a side before the scatter: the tile's part of
# the raster then stays in cache. 16 beat 8 by a third and matched 32 on the Lancashire grid.
_TILE_CELLS = 16

# Cost model for choosing a route, measured on the 2-core development machine: the scatter's
# time per kernel evaluation, the FFT route's binning time per point and FFT time per
# butterfly (size * log2 size). Only their ratios matter.
_SCATTER_S_PER_KERNEL = 1.3e-9
_BIN_S_PER_POINT = 1.0e-8
_FFT_S_PER_BUTTERFLY = 0.7e-9
# The scatter is split over threads only past this much estimated work (thread start-up and
# the extra rasters cost a few ms), over at most this many threads, whose private rasters
# may take at most this much memory between them.
_SCATTER_THREAD_MIN_S = 0.01
_SCATTER_MAX_THREADS = 8
_SCATTER_THREAD_MAX_BYTES = 256 * 2**20
# The FFT route is taken only when estimated this many times faster than the exact scatter,
# and never when the scatter is estimated to take under _SCATTER_ALWAYS_S anyway.
_EXACT_PREFERENCE = 1.25
_SCATTER_ALWAYS_S = 0.05

_M2_PER_KM2 = 1.0e6
# Elements per temporary array in the direct sum: about 16 MB of float64 each.
_DIRECT_CHUNK_ELEMENTS = 1 << 21


@dataclass(frozen=True)
class Grid:
    """A regular raster in British National Grid metres.

    Parameters
    ----------
    x0, y0 : float
        Easting and northing (m) of the lower-left corner of cell ``(0, 0)``.
    cell_m : float
        Side of a square cell (m).
    nx, ny : int
        Number of columns (eastwards) and rows (northwards). Arrays on the grid are indexed
        ``[iy, ix]`` with row 0 the southernmost.

    Examples
    --------
    >>> g = Grid(x0=1000.0, y0=2000.0, cell_m=100.0, nx=3, ny=2)
    >>> g.bounds
    (1000.0, 2000.0, 1300.0, 2200.0)
    >>> xs, ys = g.centres()
    >>> xs.tolist(), ys.tolist()
    ([1050.0, 1150.0, 1250.0], [2050.0, 2150.0])
    >>> g.cell_area_km2
    0.01
    """

    x0: float
    y0: float
    cell_m: float
    nx: int
    ny: int

    def __post_init__(self) -> None:
        if not (math.isfinite(self.x0) and math.isfinite(self.y0)):
            raise ValueError("grid origin must be finite")
        if not (math.isfinite(self.cell_m) and self.cell_m > 0):
            raise ValueError(f"cell_m must be a positive number of metres, got {self.cell_m!r}")
        if int(self.nx) != self.nx or int(self.ny) != self.ny or self.nx < 1 or self.ny < 1:
            raise ValueError(
                f"grid needs at least one whole cell each way, got {self.nx}x{self.ny}"
            )

    @classmethod
    def from_bounds(
        cls,
        xmin: float,
        ymin: float,
        xmax: float,
        ymax: float,
        cell_m: float,
        pad_m: float = 0.0,
    ) -> Grid:
        """Build the grid covering a box, its origin snapped to a multiple of ``cell_m``.

        Snapping keeps cell edges in the same places whatever box is asked for, so two
        surfaces of the same cell size line up cell for cell and a cached mask stays valid.

        Parameters
        ----------
        xmin, ymin, xmax, ymax : float
            The box to cover (BNG metres).
        cell_m : float
            Cell side (m).
        pad_m : float, default 0.0
            Margin added on every side before snapping (m).

        Returns
        -------
        Grid
            The smallest snapped grid containing the padded box (at least one cell).

        Examples
        --------
        >>> Grid.from_bounds(1234.0, 5678.0, 1500.0, 5700.0, cell_m=100.0)
        Grid(x0=1200.0, y0=5600.0, cell_m=100.0, nx=3, ny=1)
        >>> Grid.from_bounds(1234.0, 5678.0, 1500.0, 5700.0, cell_m=100.0, pad_m=50.0).bounds
        (1100.0, 5600.0, 1600.0, 5800.0)
        """
        values = (xmin, ymin, xmax, ymax, cell_m, pad_m)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("bounds, cell_m and pad_m must be finite numbers")
        if cell_m <= 0:
            raise ValueError(f"cell_m must be a positive number of metres, got {cell_m!r}")
        if pad_m < 0:
            raise ValueError(f"pad_m must not be negative, got {pad_m!r}")
        if xmax < xmin or ymax < ymin:
            raise ValueError(
                "bounds must be (xmin, ymin, xmax, ymax) with xmin <= xmax, ymin <= ymax"
            )
        lo_x, lo_y = xmin - pad_m, ymin - pad_m
        hi_x, hi_y = xmax + pad_m, ymax + pad_m
        x0 = math.floor(lo_x / cell_m) * cell_m
        y0 = math.floor(lo_y / cell_m) * cell_m
        # The tolerance stops float noise (e.g. 820.0000000001 cells) adding an empty column.
        nx = max(1, math.ceil((hi_x - x0) / cell_m - 1e-9))
        ny = max(1, math.ceil((hi_y - y0) / cell_m - 1e-9))
        return cls(x0=float(x0), y0=float(y0), cell_m=float(cell_m), nx=int(nx), ny=int(ny))

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the cell-centre eastings (length ``nx``) and northings (length ``ny``), m."""
        xs = self.x0 + (np.arange(self.nx, dtype=np.float64) + 0.5) * self.cell_m
        ys = self.y0 + (np.arange(self.ny, dtype=np.float64) + 0.5) * self.cell_m
        return xs, ys

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Outer edges ``(xmin, ymin, xmax, ymax)`` of the grid, m."""
        return (
            self.x0,
            self.y0,
            self.x0 + self.nx * self.cell_m,
            self.y0 + self.ny * self.cell_m,
        )

    @property
    def cell_area_km2(self) -> float:
        """Area of one cell, km^2."""
        return self.cell_m * self.cell_m / _M2_PER_KM2

    @property
    def shape(self) -> tuple[int, int]:
        """Array shape ``(ny, nx)`` of a surface on this grid."""
        return (self.ny, self.nx)


@dataclass(frozen=True)
class KdeResult:
    """A density surface and how it was made.

    Attributes
    ----------
    density : numpy.ndarray
        ``(ny, nx)`` float64, points (or summed weights) per km^2; NaN outside the mask.
    grid : Grid
        The raster the density lies on.
    bandwidth_m : float
        Kernel radius used (m).
    bandwidth_rule : str
        How the bandwidth was chosen, in words a user can be shown.
    n_points : int
        Number of points given.
    n_outside_grid : int
        Points more than ``bandwidth_m`` beyond the grid's edges: they cannot touch any cell
        centre and are left out.
    """

    density: np.ndarray
    grid: Grid
    bandwidth_m: float
    bandwidth_rule: str
    n_points: int
    n_outside_grid: int


# --------------------------------------------------------------------------- validation


def _as_coords(
    easting: npt.ArrayLike, northing: npt.ArrayLike, weights: npt.ArrayLike | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    x = np.asarray(easting, dtype=np.float64)
    y = np.asarray(northing, dtype=np.float64)
    if x.ndim != 1 or y.ndim != 1:
        raise ValueError("easting and northing must be one-dimensional arrays")
    if x.shape != y.shape:
        raise ValueError(f"easting and northing differ in length ({x.size} and {y.size} values)")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise ValueError("easting and northing must not contain NaN or infinite values")
    if x.size and (x.min() < 0 or y.min() < 0):
        raise ValueError(
            "easting and northing must not be negative: British National Grid (EPSG:27700) "
            "metres are positive across Great Britain; were the points projected?"
        )
    w: np.ndarray | None = None
    if weights is not None:
        w = np.asarray(weights, dtype=np.float64)
        if w.ndim != 1 or w.shape != x.shape:
            raise ValueError(
                f"weights must hold one value per point ({x.size} points, {w.size} weights)"
            )
        if not np.isfinite(w).all():
            raise ValueError("weights must not contain NaN or infinite values")
        if w.size and w.min() < 0:
            raise ValueError("weights must not be negative")
    return x, y, w


def _check_bandwidth(bandwidth_m: float) -> float:
    h = float(bandwidth_m)
    if not (math.isfinite(h) and h > 0):
        raise ValueError(f"bandwidth_m must be a positive number of metres, got {bandwidth_m!r}")
    return h


def _check_grid(grid: Grid) -> None:
    if not isinstance(grid, Grid):
        raise TypeError(f"grid must be a Grid, got {type(grid).__name__}")
    if grid.nx * grid.ny > MAX_GRID_CELLS:
        raise ValueError(
            f"grid of {grid.nx} x {grid.ny} cells is larger than {MAX_GRID_CELLS:,} cells; "
            "use a larger cell_m or a smaller area"
        )


def _kernel_peak_per_km2(h: float) -> float:
    return 3.0 / (math.pi * h * h) * _M2_PER_KM2


# --------------------------------------------------------------------------- direct sum


def quartic_kde_direct(
    easting: npt.ArrayLike,
    northing: npt.ArrayLike,
    grid: Grid,
    bandwidth_m: float,
    weights: npt.ArrayLike | None = None,
) -> np.ndarray:
    """Sum the quartic kernel of every point at every cell centre (the exact reference).

    Every point counts, including points outside the grid whose kernel reaches into it. Work
    is done in chunks of points so temporary arrays stay near 16 MB each; the cost is about
    ``n_points * min((2 h / cell_m + 3) ** 2, nx * ny)`` kernel evaluations, which suits tests
    and small areas. Use :func:`quartic_kde` for whole-force surfaces.

    Parameters
    ----------
    easting, northing : array_like
        Point coordinates, British National Grid metres (1-D, same length, finite, >= 0).
    grid : Grid
        Cells to evaluate at.
    bandwidth_m : float
        Kernel radius ``h`` (m); the kernel is zero at and beyond it.
    weights : array_like, optional
        Non-negative weight per point; each point counts 1 when omitted.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` float64 density, points (or summed weights) per km^2.

    Raises
    ------
    ValueError
        On NaN, negative or mismatched coordinates, negative weights or a non-positive
        bandwidth.

    Examples
    --------
    One point at a cell centre gives the kernel's peak, ``3 / (pi h^2)``, there:

    >>> g = Grid(x0=0.0, y0=0.0, cell_m=100.0, nx=5, ny=5)
    >>> d = quartic_kde_direct([250.0], [250.0], g, bandwidth_m=200.0)
    >>> round(float(d[2, 2]), 3), round(3 / (np.pi * 0.2**2), 3)
    (23.873, 23.873)
    >>> round(float(d[2, 3]), 3)  # 100 m away: (1 - 1/4)^2 of the peak
    13.429
    >>> float(d[2, 4])  # 200 m away: the kernel has reached zero
    0.0
    """
    x, y, w = _as_coords(easting, northing, weights)
    h = _check_bandwidth(bandwidth_m)
    _check_grid(grid)
    density = np.zeros(grid.ny * grid.nx, dtype=np.float64)
    if x.size == 0:
        return density.reshape(grid.shape)

    cell = grid.cell_m
    xs, ys = grid.centres()
    h2 = h * h
    # A cell centre within h of a point is at most ceil(h / cell) + 1 cells from the point's cell.
    reach = math.ceil(h / cell) + 1
    side = 2 * reach + 1
    if side * side < grid.nx * grid.ny:
        _direct_windowed(x, y, w, grid, h2, reach, density)
    else:
        _direct_dense(x, y, w, xs, ys, h2, density)
    density *= _kernel_peak_per_km2(h)
    return density.reshape(grid.shape)


def _direct_windowed(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    grid: Grid,
    h2: float,
    reach: int,
    out: np.ndarray,
) -> None:
    cell = grid.cell_m
    ix0 = np.floor((x - grid.x0) / cell).astype(np.int64)
    iy0 = np.floor((y - grid.y0) / cell).astype(np.int64)
    touches = (ix0 >= -reach) & (ix0 < grid.nx + reach) & (iy0 >= -reach) & (iy0 < grid.ny + reach)
    x, y, ix0, iy0 = x[touches], y[touches], ix0[touches], iy0[touches]
    if w is not None:
        w = w[touches]
    off = np.arange(-reach, reach + 1, dtype=np.int64)
    off_y, off_x = (a.ravel() for a in np.meshgrid(off, off, indexing="ij"))
    chunk = max(1, _DIRECT_CHUNK_ELEMENTS // off_x.size)
    for start in range(0, x.size, chunk):
        sl = slice(start, start + chunk)
        ix = ix0[sl, None] + off_x[None, :]
        iy = iy0[sl, None] + off_y[None, :]
        dx = grid.x0 + (ix + 0.5) * cell - x[sl, None]
        dy = grid.y0 + (iy + 0.5) * cell - y[sl, None]
        d2 = dx * dx + dy * dy
        keep = (d2 < h2) & (ix >= 0) & (ix < grid.nx) & (iy >= 0) & (iy < grid.ny)
        shape = 1.0 - d2[keep] / h2
        k = shape * shape
        if w is not None:
            k *= np.broadcast_to(w[sl, None], keep.shape)[keep]
        flat = iy[keep] * grid.nx + ix[keep]
        out += np.bincount(flat, weights=k, minlength=out.size)


def _direct_dense(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    xs: np.ndarray,
    ys: np.ndarray,
    h2: float,
    out: np.ndarray,
) -> None:
    ny, nx = ys.size, xs.size
    chunk = max(1, _DIRECT_CHUNK_ELEMENTS // (nx * ny))
    acc = out.reshape(ny, nx)
    for start in range(0, x.size, chunk):
        sl = slice(start, start + chunk)
        dx2 = (xs[None, :] - x[sl, None]) ** 2
        dy2 = (ys[None, :] - y[sl, None]) ** 2
        d2 = dy2[:, :, None] + dx2[:, None, :]
        shape = np.clip(1.0 - d2 / h2, 0.0, None)
        k = shape * shape
        if w is not None:
            acc += np.tensordot(w[sl], k, axes=1)
        else:
            acc += k.sum(axis=0)


# --------------------------------------------------------------------------- exact scatter


# Signatures are given so each loop is compiled (or loaded from numba's cache) once, when this
# module is imported, rather than inside the first density request that reaches it.
@numba.njit(
    "Tuple((float64[::1], float64[::1], float64[::1], int64))(float64[::1], float64[::1], "
    "float64[::1], boolean, float64, float64, float64, int64, int64, float64, int64)",
    cache=True,
)
def _collapse_points(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    has_w: bool,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    h: float,
    tile: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Merge points at identical coordinates into one weighted point, ordered tile by tile.

    Points more than ``h`` beyond the grid's edges are dropped and counted. The rest are
    counting-sorted by the tile of ``tile x tile`` cells holding them, on the grid widened by
    the kernel's reach, so that the scatter that follows writes to one small patch of the
    raster at a time. Equal coordinates always share a tile, so a small hash table per tile
    finds every duplicate. Coordinates are compared exactly: merging changes the result only
    by the rounding of the summed weights.
    """
    n = x.size
    reach = int(math.ceil(h / cell)) + 1
    wide_x = nx + 2 * reach
    wide_y = ny + 2 * reach
    tiles_x = (wide_x + tile - 1) // tile
    tiles_y = (wide_y + tile - 1) // tile
    n_tiles = tiles_x * tiles_y
    lo_x = x0 - h
    hi_x = x0 + nx * cell + h
    lo_y = y0 - h
    hi_y = y0 + ny * cell + h
    inv = 1.0 / cell
    key = np.empty(n, np.int64)
    start = np.zeros(n_tiles + 1, np.int64)
    n_far = 0
    for p in range(n):
        px = x[p]
        py = y[p]
        if px < lo_x or px > hi_x or py < lo_y or py > hi_y:
            key[p] = -1
            n_far += 1
            continue
        bx = min(max(int(math.floor((px - x0) * inv)) + reach, 0), wide_x - 1)
        by = min(max(int(math.floor((py - y0) * inv)) + reach, 0), wide_y - 1)
        k = (by // tile) * tiles_x + bx // tile
        key[p] = k
        start[k + 1] += 1
    for k in range(n_tiles):
        start[k + 1] += start[k]
    m = start[n_tiles]
    fill = start[:-1].copy()
    sx = np.empty(m)
    sy = np.empty(m)
    sw = np.empty(m)
    for p in range(n):
        k = key[p]
        if k >= 0:
            q = fill[k]
            fill[k] = q + 1
            sx[q] = x[p]
            sy[q] = y[p]
            sw[q] = w[p] if has_w else 1.0
    biggest = 1
    for k in range(n_tiles):
        biggest = max(biggest, start[k + 1] - start[k])
    size = 2
    while size < 2 * biggest:
        size *= 2
    table = np.full(size, -1, np.int64)
    # Unique points are compacted in place: the write position never passes the read position.
    u = 0
    for k in range(n_tiles):
        a = start[k]
        b = start[k + 1]
        if a == b:
            continue
        slots = 2
        while slots < 2 * (b - a):
            slots *= 2
        mask = slots - 1
        for q in range(a, b):
            px = sx[q]
            py = sy[q]
            # Any mix works as long as equal coordinates hash equally; int64 products wrap.
            hx = np.int64(px * 64.0) * np.int64(-7046029254386353131)
            hy = np.int64(py * 64.0) * np.int64(-4658895280553007687)
            hh = hx ^ hy
            s = (hh ^ (hh >> 31)) & mask
            while True:
                v = table[s]
                if v < 0:
                    table[s] = u
                    sx[u] = px
                    sy[u] = py
                    sw[u] = sw[q]
                    u += 1
                    break
                if sx[v] == px and sy[v] == py:
                    sw[v] += sw[q]
                    break
                s = (s + 1) & mask
        table[:slots] = -1
    return sx[:u], sy[:u], sw[:u], n_far


@numba.njit(
    "void(float64[::1], float64[::1], float64[::1], float64, float64, float64, int64, int64, "
    "float64, float64[::1])",
    cache=True,
    nogil=True,
)
def _scatter_quartic(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    x0: float,
    y0: float,
    cell: float,
    nx: int,
    ny: int,
    h: float,
    out: np.ndarray,
) -> None:
    """Add ``w * (h^2 - d^2)^2`` to every cell centre within ``h`` of each point.

    ``out`` is the flattened ``(ny, nx)`` raster; the caller scales it by the kernel's constant.
    No square root is needed: the quartic kernel depends on ``d^2`` only. The column offsets'
    squares are computed once per point and each row reuses them; ``max(..., 0)`` rather than
    a branch keeps the inner loop free of jumps so the compiler vectorises it.
    """
    h2 = h * h
    inv = 1.0 / cell
    dx2 = np.empty(2 * (int(math.ceil(h / cell)) + 2) + 1)
    for p in range(x.size):
        px = x[p]
        py = y[p]
        pw = w[p]
        # Centre i is at x0 + (i + 0.5) * cell; keep those with |centre - px| <= h.
        ia = max(int(math.ceil((px - h - x0) * inv - 0.5)), 0)
        ib = min(int(math.floor((px + h - x0) * inv - 0.5)), nx - 1)
        ja = max(int(math.ceil((py - h - y0) * inv - 0.5)), 0)
        jb = min(int(math.floor((py + h - y0) * inv - 0.5)), ny - 1)
        if ia > ib or ja > jb:
            continue
        cols = ib - ia + 1
        for k in range(cols):
            d = x0 + (ia + k + 0.5) * cell - px
            dx2[k] = d * d
        for j in range(ja, jb + 1):
            d = y0 + (j + 0.5) * cell - py
            t = h2 - d * d
            if t <= 0.0:
                continue
            row = j * nx + ia
            for k in range(cols):
                u = max(t - dx2[k], 0.0)
                out[row + k] += pw * u * u


@numba.njit(
    "void(float64[::1], float64[::1], float64[::1], boolean, float64, float64, float64, int64, "
    "int64, float64[::1])",
    cache=True,
)
def _linear_bin(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray,
    has_w: bool,
    origin_x: float,
    origin_y: float,
    step: float,
    wide_x: int,
    wide_y: int,
    out: np.ndarray,
) -> None:
    """Add each point's cloud-in-cell shares to the nodes ``origin + k * step`` (k >= 0).

    ``out`` is the flattened ``(wide_y, wide_x)`` raster. Points whose four nodes are not all
    on it are left out: the caller sizes the raster so that only points out of reach are.
    """
    inv = 1.0 / step
    for p in range(x.size):
        u = (x[p] - origin_x) * inv
        v = (y[p] - origin_y) * inv
        fu = math.floor(u)
        fv = math.floor(v)
        if fu < 0 or fv < 0 or fu > wide_x - 2 or fv > wide_y - 2:
            continue
        fx = u - fu
        fy = v - fv
        gy = 1.0 - fy
        if has_w:
            gy *= w[p]
            fy *= w[p]
        base = int(fv) * wide_x + int(fu)
        out[base] += (1.0 - fx) * gy
        out[base + 1] += fx * gy
        out[base + wide_x] += (1.0 - fx) * fy
        out[base + wide_x + 1] += fx * fy


def _scatter_threads(n_unique: int, grid: Grid, h: float) -> int:
    """Threads worth giving the scatter: one per core, if the work and the memory justify it."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    if _scatter_seconds(n_unique, grid, h) < _SCATTER_THREAD_MIN_S:
        return 1
    # Each extra thread sums into its own copy of the raster.
    by_memory = 1 + _SCATTER_THREAD_MAX_BYTES // (8 * grid.nx * grid.ny)
    return max(1, min(cores, _SCATTER_MAX_THREADS, by_memory))


def _scatter_route(
    ux: np.ndarray, uy: np.ndarray, uw: np.ndarray, grid: Grid, h: float
) -> np.ndarray:
    args = (grid.x0, grid.y0, grid.cell_m, grid.nx, grid.ny, h)
    threads = _scatter_threads(ux.size, grid, h)
    out = np.zeros(grid.nx * grid.ny, dtype=np.float64)
    if threads == 1:
        _scatter_quartic(ux, uy, uw, *args, out)
    else:
        # The loop releases the GIL. Plain threads, not numba's parallel mode: its default
        # threading layer aborts when two server threads launch parallel loops at once.
        cut = np.linspace(0, ux.size, threads + 1).astype(np.int64)
        parts = [np.zeros_like(out) for _ in range(threads - 1)]
        with ThreadPoolExecutor(threads - 1) as pool:
            jobs = [
                pool.submit(_scatter_quartic, ux[a:b], uy[a:b], uw[a:b], *args, part)
                for a, b, part in zip(cut[1:-1], cut[2:], parts, strict=True)
            ]
            _scatter_quartic(ux[: cut[1]], uy[: cut[1]], uw[: cut[1]], *args, out)
            for job in jobs:
                job.result()
        for part in parts:
            out += part
    out *= _kernel_peak_per_km2(h) / (h * h) ** 2
    return out.reshape(grid.shape)


# --------------------------------------------------------------------------- binned FFT route


def _kernel_stencil(h: float, step: float) -> np.ndarray:
    """Quartic kernel (per km^2) at offsets that are whole multiples of ``step`` metres.

    A ``(2r + 1)`` square with ``r = floor(h / step)``; offsets beyond that are all zero.
    """
    r = int(math.floor(h / step))
    off = np.arange(-r, r + 1, dtype=np.float64) * step
    d2 = off[:, None] ** 2 + off[None, :] ** 2
    shape = np.clip(1.0 - d2 / (h * h), 0.0, None)
    return shape * shape * _kernel_peak_per_km2(h)


def _outside_reach(x: np.ndarray, y: np.ndarray, grid: Grid, h: float) -> np.ndarray:
    """Flag points more than ``h`` beyond the grid's edges: no cell centre is within reach."""
    xmin, ymin, xmax, ymax = grid.bounds
    return (x < xmin - h) | (x > xmax + h) | (y < ymin - h) | (y > ymax + h)


def _fine_shape(grid: Grid, h: float, s: int) -> tuple[int, int]:
    """Size ``(wide_y, wide_x)`` of the node raster the FFT route bins onto at ``s`` sub-cells."""
    # The same arithmetic as _kernel_stencil, so the two agree on r to the last bit.
    margin = int(math.floor(h / (grid.cell_m / s))) + 1
    return (grid.ny - 1) * s + 1 + 2 * margin, (grid.nx - 1) * s + 1 + 2 * margin


def _auto_oversample(grid: Grid, h: float) -> int | None:
    """Sub-cells per cell side that make ``h`` span ``FINE_BANDWIDTH_CELLS`` nodes.

    None when that needs more than ``MAX_OVERSAMPLE`` or a node raster over ``MAX_FINE_CELLS``:
    the FFT route cannot then promise 1 % and the exact scatter is used whatever its cost.
    """
    s = max(1, math.ceil(FINE_BANDWIDTH_CELLS * grid.cell_m / h - 1e-9))
    if s > MAX_OVERSAMPLE:
        return None
    wide_y, wide_x = _fine_shape(grid, h, s)
    if wide_x * wide_y > MAX_FINE_CELLS:
        return None
    return s


def _fft_convolve_full(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    # scipy.signal.fftconvolve does the same single-threaded; rfft2 with workers=-1 and padding
    # to a 5-smooth length is about a third faster on two cores (see the benchmark notes).
    shape = tuple(a.shape[i] + k.shape[i] - 1 for i in range(2))
    fast = tuple(sp_fft.next_fast_len(n, real=True) for n in shape)
    spec = sp_fft.rfft2(a, fast, workers=-1)
    spec *= sp_fft.rfft2(k, fast, workers=-1)
    full = sp_fft.irfft2(spec, fast, workers=-1)
    return full[: shape[0], : shape[1]]


def _fft_route(
    x: np.ndarray, y: np.ndarray, w: np.ndarray | None, grid: Grid, h: float, s: int
) -> np.ndarray:
    step = grid.cell_m / s
    stencil = _kernel_stencil(h, step)
    r = (stencil.shape[0] - 1) // 2
    # Nodes up to r + 1 steps outside the outermost centres still feed the edge cells; binning
    # points there too makes the edges match the direct sum instead of fading.
    margin = r + 1
    wide_y, wide_x = _fine_shape(grid, h, s)
    origin_x = grid.x0 + 0.5 * grid.cell_m - margin * step
    origin_y = grid.y0 + 0.5 * grid.cell_m - margin * step
    counts = np.zeros(wide_x * wide_y, dtype=np.float64)
    has_w = w is not None
    _linear_bin(
        x, y, x if w is None else w, has_w, origin_x, origin_y, step, wide_x, wide_y, counts
    )
    full = _fft_convolve_full(counts.reshape(wide_y, wide_x), stencil)
    # Fine node k * s (k = 0 .. n - 1) sits on cell centre k; the full convolution is shifted
    # by the margin and the stencil's half-width.
    start = margin + r
    stop_y = start + (grid.ny - 1) * s + 1
    stop_x = start + (grid.nx - 1) * s + 1
    density = np.ascontiguousarray(full[start:stop_y:s, start:stop_x:s])
    # FFT round-off leaves values of order 1e-16 of the peak where the true density is zero;
    # clear them so "no incidents within h" reads as exactly zero on a map.
    peak = density.max()
    density[density < peak * 1e-12] = 0.0
    return density


# --------------------------------------------------------------------------- route choice


def _scatter_seconds(n_unique: int, grid: Grid, h: float) -> float:
    side = 2.0 * h / grid.cell_m + 1.0
    return n_unique * side * side * _SCATTER_S_PER_KERNEL


def _fft_seconds(n_unique: int, grid: Grid, h: float, s: int) -> float:
    wide_y, wide_x = _fine_shape(grid, h, s)
    r = int(math.floor(h / (grid.cell_m / s)))
    size = sp_fft.next_fast_len(wide_y + 2 * r, real=True) * sp_fft.next_fast_len(
        wide_x + 2 * r, real=True
    )
    # Three transforms (counts, stencil, inverse) of size * log2(size) butterflies each.
    return n_unique * _BIN_S_PER_POINT + 3.0 * size * math.log2(size) * _FFT_S_PER_BUTTERFLY


def _choose_route(n_unique: int, grid: Grid, h: float) -> tuple[str, int]:
    """Pick ``("scatter", 0)`` or ``("fft", oversample)`` for ``n_unique`` distinct locations.

    The exact scatter is kept when it is quick in absolute terms, or unless the FFT route is
    estimated to take under ``1 / _EXACT_PREFERENCE`` of its time: both are within 1 %, but
    only one is exact.
    """
    s = _auto_oversample(grid, h)
    if s is None:
        return "scatter", 0
    scatter = _scatter_seconds(n_unique, grid, h)
    if (
        scatter > _SCATTER_ALWAYS_S
        and _fft_seconds(n_unique, grid, h, s) * _EXACT_PREFERENCE < scatter
    ):
        return "fft", s
    return "scatter", 0


def _quartic_kde_counted(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    grid: Grid,
    h: float,
    oversample: int | None = None,
) -> tuple[np.ndarray, int]:
    if h < grid.cell_m:
        raise ValueError(
            f"bandwidth_m ({h:g} m) is smaller than the cell size ({grid.cell_m:g} m): the grid "
            f"cannot resolve it. Use cells of at most bandwidth_m / {MIN_BANDWIDTH_CELLS:g} m, "
            "or quartic_kde_direct"
        )
    if oversample is not None and (int(oversample) != oversample or oversample < 1):
        raise ValueError(f"oversample must be a whole number >= 1, got {oversample!r}")
    # The compiled loops take contiguous arrays only; a column of a 2-D array is a strided view.
    x = np.ascontiguousarray(x)
    y = np.ascontiguousarray(y)
    w = None if w is None else np.ascontiguousarray(w)
    if oversample is not None:
        n_out = int(np.count_nonzero(_outside_reach(x, y, grid, h)))
        if x.size == n_out:
            return np.zeros(grid.shape, dtype=np.float64), n_out
        return _fft_route(x, y, w, grid, h, int(oversample)), n_out
    has_w = w is not None
    ux, uy, uw, n_out = _collapse_points(
        x,
        y,
        x if w is None else w,
        has_w,
        grid.x0,
        grid.y0,
        grid.cell_m,
        grid.nx,
        grid.ny,
        h,
        _TILE_CELLS,
    )
    route, s = _choose_route(ux.size, grid, h)
    if route == "fft":
        return _fft_route(ux, uy, uw, grid, h, s), int(n_out)
    return _scatter_route(ux, uy, uw, grid, h), int(n_out)


def quartic_kde(
    easting: npt.ArrayLike,
    northing: npt.ArrayLike,
    grid: Grid,
    bandwidth_m: float,
    weights: npt.ArrayLike | None = None,
    *,
    oversample: int | None = None,
) -> np.ndarray:
    """Quartic kernel density on a grid: the direct sum, computed fast.

    Parameters
    ----------
    easting, northing : array_like
        Point coordinates, British National Grid metres (1-D, same length, finite, >= 0).
    grid : Grid
        Cells to evaluate at.
    bandwidth_m : float
        Kernel radius ``h`` (m). Must be at least ``grid.cell_m``; the accuracy below is stated
        for ``bandwidth_m >= MIN_BANDWIDTH_CELLS * grid.cell_m`` (2 cells).
    weights : array_like, optional
        Non-negative weight per point; each point counts 1 when omitted.
    oversample : int, optional
        Leave it out for the automatic choice described in the Notes. Given, it forces the
        binned FFT route with this many sub-cells per cell side: 1 bins straight onto the cell
        centres (off by up to 22 % of the peak at h = 2 cells; see the Notes).

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` float64 density, points (or summed weights) per km^2, row 0 southernmost.

    Raises
    ------
    ValueError
        If ``bandwidth_m < grid.cell_m`` (the grid cannot resolve the kernel), or on NaN,
        negative or mismatched coordinates, negative weights, or a bad ``oversample``.

    See Also
    --------
    quartic_kde_direct : the reference sum.

    Notes
    -----
    Points outside the grid still count when they lie within ``bandwidth_m`` of its edges, so
    edges match the direct sum; points further out cannot touch any cell and are left out
    (:func:`kde_surface` reports how many).

    Exact route (the default whenever it is not much slower). Points at identical coordinates
    are merged into one point carrying their summed weight, then every distinct point adds
    ``w * K(d)`` to each cell centre within ``h`` in a compiled loop. The result equals the
    direct sum up to float rounding (about 1e-14 of the peak). Its cost is the number of
    distinct locations times ``(2 h / cell_m + 1) ** 2``; police.uk data, snapped to shared map
    points, has 10-50 times fewer locations than incidents.

    Binned FFT route (taken automatically only when the scatter is estimated over 0.05 s and
    this route at least 1.25 times faster, i.e. for wide bandwidths over many distinct
    locations, or forced by ``oversample``). Each
    point is shared among the four sub-cell nodes around it in proportion to its nearness
    (linear, or cloud-in-cell, binning), the shares are convolved by FFT with the kernel at
    whole-node offsets, and the result is read at the cell centres. Binning smooths the surface
    a little more than the kernel alone; the error falls as ``(node spacing / h) ** 2``. It is
    worst when one location holds most of the weight near the peak: 22 % of the peak with
    nodes at the cell centres and h = 2 cells, 11 % at 3 cells, 1.6 % with h spanning 8 nodes,
    0.7 % at 12. The automatic choice therefore uses sub-cells that make h span at least
    ``FINE_BANDWIDTH_CELLS`` (12) nodes, and keeps the exact route where that would need more
    than ``MAX_OVERSAMPLE`` (4) sub-cells per side. On four months of Merseyside police.uk data
    ``oversample=1`` was off by 11 % of the peak at h = 2 cells, 4.6 % at 3 and 1.6 % at 5.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(350_000, 400, 2_000)
    >>> y = rng.normal(430_000, 400, 2_000)
    >>> g = Grid.from_bounds(x.min(), y.min(), x.max(), y.max(), cell_m=50.0, pad_m=300.0)
    >>> fast = quartic_kde(x, y, g, bandwidth_m=300.0)
    >>> exact = quartic_kde_direct(x, y, g, bandwidth_m=300.0)
    >>> bool(np.abs(fast - exact).max() / exact.max() < 1e-12)
    True
    >>> round(float(fast.sum() * g.cell_area_km2))  # integrates to the number of points
    2000
    >>> plain = quartic_kde(x, y, g, bandwidth_m=300.0, oversample=1)  # binned onto centres
    >>> bool(np.abs(plain - exact).max() / exact.max() < 0.05)
    True
    """
    x, y, w = _as_coords(easting, northing, weights)
    h = _check_bandwidth(bandwidth_m)
    _check_grid(grid)
    density, _ = _quartic_kde_counted(x, y, w, grid, h, oversample)
    return density


# --------------------------------------------------------------------------- bandwidth


def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    order = np.argsort(values, kind="stable")
    v = values[order]
    cum = np.cumsum(weights[order])
    half = cum[-1] / 2.0
    k = int(np.searchsorted(cum, half, side="left"))
    # With equal weights and an even count this averages the two middle values, as np.median does.
    if math.isclose(cum[k], half, rel_tol=1e-12) and k + 1 < v.size:
        return float((v[k] + v[k + 1]) / 2.0)
    return float(v[k])


def _default_bandwidth(x: np.ndarray, y: np.ndarray, w: np.ndarray | None) -> tuple[float, str]:
    if w is not None:
        keep = w > 0
        x, y, w = x[keep], y[keep], w[keep]
    if x.size == 0 or (np.ptp(x) == 0 and np.ptp(y) == 0):
        return FALLBACK_BANDWIDTH_M, (
            f"fallback {FALLBACK_BANDWIDTH_M:g} m: fewer than two distinct locations to "
            "estimate a spread from"
        )
    wt = np.ones_like(x) if w is None else w
    total = float(wt.sum())
    cx = float(np.dot(wt, x) / total)
    cy = float(np.dot(wt, y) / total)
    dx = x - cx
    dy = y - cy
    d2 = dx * dx + dy * dy
    standard_distance = math.sqrt(float(np.dot(wt, d2)) / total)
    dist = np.sqrt(d2)
    median_distance = float(np.median(dist)) if w is None else _weighted_median(dist, wt)
    scaled_median = math.sqrt(1.0 / math.log(2.0)) * median_distance
    spread = min(standard_distance, scaled_median)
    rule = "ArcGIS Pro default search radius (spatial Silverman rule)"
    if spread == 0.0:
        # Over half the (weighted) points sit on the mean centre: the median says nothing, so
        # the standard distance alone gives the spread.
        spread = standard_distance
        rule += ", standard distance only (median distance is zero)"
    n = total
    return 0.9 * spread * n**-0.2, rule


def default_bandwidth_m(
    easting: npt.ArrayLike,
    northing: npt.ArrayLike,
    weights: npt.ArrayLike | None = None,
) -> float:
    """ArcGIS Pro's default search radius for kernel density, in metres.

    ``h = 0.9 * min(SD, sqrt(1 / ln 2) * Dm) * n ** -0.2``, the spatial form of Silverman's rule
    of thumb given in ArcGIS Pro's "How Kernel Density works" (Esri documentation), where
    ``SD`` is the standard distance of the points from their mean centre, ``Dm`` the median
    distance from that centre, and ``n`` the number of points. With weights (ArcGIS's
    population field) the mean centre, standard distance and median are weighted and ``n`` is
    the sum of the weights.

    Fallbacks, so a surface can always be drawn: points with zero weight are ignored; with no
    points, or all remaining points at one location, there is no spread to measure and
    :data:`FALLBACK_BANDWIDTH_M` (500 m) is returned; if more than half the weight sits on the
    mean centre (``Dm = 0``) the standard distance alone is used.

    Parameters
    ----------
    easting, northing : array_like
        Point coordinates, British National Grid metres.
    weights : array_like, optional
        Non-negative weight per point.

    Returns
    -------
    float
        Bandwidth (search radius) in metres.

    Examples
    --------
    Four points at the corners of a 200 m square: SD = Dm = sqrt(2) * 100 m, so
    ``h = 0.9 * sqrt(2) * 100 * 4 ** -0.2``:

    >>> round(default_bandwidth_m([0, 200, 0, 200], [0, 0, 200, 200]), 3)
    96.46
    >>> round(0.9 * 2**0.5 * 100 * 4**-0.2, 3)
    96.46
    >>> default_bandwidth_m([350_000.0], [430_000.0])  # one point: the documented fallback
    500.0
    """
    x, y, w = _as_coords(easting, northing, weights)
    return _default_bandwidth(x, y, w)[0]


# --------------------------------------------------------------------------- mask


def area_mask(grid: Grid, polygons_bng: Any) -> np.ndarray:
    """Mark the cells whose centre lies inside any of the polygons.

    Parameters
    ----------
    grid : Grid
        The raster.
    polygons_bng : shapely geometry, iterable of geometries, or GeoSeries / GeoDataFrame
        Areas in British National Grid metres. A GeoSeries or GeoDataFrame with a geographic
        CRS is refused.

    Returns
    -------
    numpy.ndarray
        ``(ny, nx)`` bool, True inside. Centres exactly on a boundary count as outside.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = Grid(x0=0.0, y0=0.0, cell_m=100.0, nx=4, ny=3)
    >>> area_mask(g, [box(0, 0, 200, 300)]).astype(int)
    array([[1, 1, 0, 0],
           [1, 1, 0, 0],
           [1, 1, 0, 0]])
    """
    _check_grid(grid)
    crs = getattr(polygons_bng, "crs", None)
    if crs is not None and getattr(crs, "is_geographic", False):
        raise ValueError(
            "area_mask needs polygons in British National Grid metres (EPSG:27700), "
            f"got a geographic CRS ({crs}); reproject with .to_crs(27700)"
        )
    geoms = getattr(polygons_bng, "geometry", polygons_bng)
    if isinstance(geoms, shapely.Geometry):
        parts = [geoms]
    elif isinstance(geoms, Iterable):
        parts = [g for g in geoms if g is not None]
    else:
        raise TypeError("polygons_bng must be a shapely geometry or an iterable of them")
    if not parts:
        return np.zeros(grid.shape, dtype=bool)
    union = shapely.union_all(np.asarray(parts, dtype=object))
    shapely.prepare(union)
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    return np.asarray(shapely.contains_xy(union, gx, gy), dtype=bool)


# --------------------------------------------------------------------------- convenience


def kde_surface(
    easting: npt.ArrayLike,
    northing: npt.ArrayLike,
    *,
    cell_m: float,
    bandwidth_m: float | None = None,
    weights: npt.ArrayLike | None = None,
    bounds: tuple[float, float, float, float] | None = None,
    mask_polygons: Any = None,
    oversample: int | None = None,
) -> KdeResult:
    """Choose a grid and bandwidth, compute the quartic density, and blank cells outside areas.

    Parameters
    ----------
    easting, northing : array_like
        Point coordinates, British National Grid metres.
    cell_m : float
        Cell side (m).
    bandwidth_m : float, optional
        Kernel radius (m). When omitted, :func:`default_bandwidth_m`; if that is under
        ``MIN_BANDWIDTH_CELLS`` cells it is raised to that, and ``bandwidth_rule`` says so.
        A bandwidth given here is used as it is (it must be at least ``cell_m``).
    weights : array_like, optional
        Non-negative weight per point.
    bounds : tuple of float, optional
        ``(xmin, ymin, xmax, ymax)`` of the area to draw (m). When omitted, the points' own
        extent padded by the bandwidth, so no kernel is cut off.
    mask_polygons : optional
        Anything :func:`area_mask` takes; cells whose centre is outside become NaN.
    oversample : int, optional
        Passed to :func:`quartic_kde`: None (the default) for its automatic, normally exact,
        route; a whole number forces binning onto that many sub-cells per cell side.

    Returns
    -------
    KdeResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.uniform(350_000, 352_000, 500)
    >>> y = rng.uniform(430_000, 432_000, 500)
    >>> res = kde_surface(x, y, cell_m=50.0, bandwidth_m=250.0)
    >>> res.grid.cell_m, res.bandwidth_rule, res.n_points, res.n_outside_grid
    (50.0, 'set by user', 500, 0)
    >>> round(float(np.nansum(res.density) * res.grid.cell_area_km2))
    500
    """
    x, y, w = _as_coords(easting, northing, weights)
    if not (math.isfinite(cell_m) and cell_m > 0):
        raise ValueError(f"cell_m must be a positive number of metres, got {cell_m!r}")
    ceiling_m = MAX_BANDWIDTH_CELLS * cell_m
    if bandwidth_m is None:
        h, rule = _default_bandwidth(x, y, w)
        floor_m = MIN_BANDWIDTH_CELLS * cell_m
        if h < floor_m:
            rule += (
                f"; its {h:.0f} m was raised to {floor_m:g} m "
                f"({MIN_BANDWIDTH_CELLS:g} cells) so the grid resolves the kernel"
            )
            h = floor_m
        elif h > ceiling_m:
            rule += (
                f"; its {h:,.0f} m was lowered to {ceiling_m:,.0f} m "
                f"({MAX_BANDWIDTH_CELLS:g} cells): points this spread out need a smaller area"
            )
            h = ceiling_m
    else:
        h = _check_bandwidth(bandwidth_m)
        rule = "set by user"
        if h > ceiling_m:
            raise ValueError(f"bandwidth_m of {h:,.0f} m is more than {MAX_BANDWIDTH_CELLS:g} "
                             f"cells of {cell_m:g} m; use at most {ceiling_m:,.0f} m or "
                             "larger cells")
    if bounds is not None:
        xmin, ymin, xmax, ymax = (float(b) for b in bounds)
        grid = Grid.from_bounds(xmin, ymin, xmax, ymax, cell_m)
    elif x.size:
        grid = Grid.from_bounds(
            float(x.min()), float(y.min()), float(x.max()), float(y.max()), cell_m, pad_m=h
        )
    else:
        raise ValueError("no points and no bounds: there is no area to draw a surface over")
    _check_grid(grid)
    density, n_out = _quartic_kde_counted(x, y, w, grid, h, oversample)
    if mask_polygons is not None:
        density[~area_mask(grid, mask_polygons)] = np.nan
    return KdeResult(
        density=density,
        grid=grid,
        bandwidth_m=h,
        bandwidth_rule=rule,
        n_points=int(x.size),
        n_outside_grid=n_out,
    )


# --------------------------------------------------------------------------- benchmark baseline


def sklearn_baseline_seconds(
    easting: npt.ArrayLike,
    northing: npt.ArrayLike,
    grid: Grid,
    bandwidth_m: float,
    max_points: int = 20000,
    seed: int = 0,
) -> float:
    """Time scikit-learn's tree KDE on the same grid, scaled to the full number of points.

    scikit-learn has no quartic kernel; its Epanechnikov kernel (``1 - d^2/h^2`` within ``h``)
    has the same support and a similar cost, so it stands in as the baseline. It is fitted on a
    random subsample of at most ``max_points`` points, scored at every cell centre, and the
    measured time is multiplied by ``n_points / n_subsample``: a linear extrapolation, since
    scoring the whole set would take minutes. The densities themselves are not used.

    Parameters
    ----------
    easting, northing : array_like
        Point coordinates, British National Grid metres.
    grid : Grid
        Cells to score.
    bandwidth_m : float
        Kernel radius (m).
    max_points : int, default 20000
        Subsample size.
    seed : int, default 0
        Seed of the subsample.

    Returns
    -------
    float
        Estimated seconds for scikit-learn to compute the full surface.

    Examples
    --------
    >>> g = Grid(x0=0.0, y0=0.0, cell_m=100.0, nx=10, ny=10)
    >>> rng = np.random.default_rng(0)
    >>> t = sklearn_baseline_seconds(rng.uniform(0, 1000, 200), rng.uniform(0, 1000, 200),
    ...                              g, bandwidth_m=300.0)
    >>> t > 0
    True
    """
    # Imported here: scikit-learn is slow to import and only the benchmark needs it.
    from sklearn.neighbors import KernelDensity

    x, y, _ = _as_coords(easting, northing, None)
    h = _check_bandwidth(bandwidth_m)
    _check_grid(grid)
    if x.size == 0:
        return 0.0
    rng = np.random.default_rng(seed)
    take = min(int(max_points), x.size)
    idx = rng.choice(x.size, size=take, replace=False) if take < x.size else np.arange(x.size)
    xs, ys = grid.centres()
    gx, gy = np.meshgrid(xs, ys)
    cells = np.column_stack([gx.ravel(), gy.ravel()])
    start = time.perf_counter()
    kde = KernelDensity(kernel="epanechnikov", bandwidth=h)
    kde.fit(np.column_stack([x[idx], y[idx]]))
    kde.score_samples(cells)
    elapsed = time.perf_counter() - start
    return elapsed * x.size / take
