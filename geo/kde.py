"""Quartic (biweight) kernel density estimation on a regular British National Grid raster.

Two routes compute the same surface:

* :func:`quartic_kde_direct` sums the kernel of every point at every cell centre. It is exact and
  is the reference the fast route is tested against.
* :func:`quartic_kde` spreads each point over its four nearest cell centres (linear, or
  cloud-in-cell, binning) and convolves those counts with the kernel sampled at whole-cell
  offsets, by FFT. Its cost hardly depends on the number of points or the bandwidth.

The kernel is the one ArcGIS and CrimeStat call quartic:
``K(d) = 3 / (pi h^2) * (1 - d^2 / h^2)^2`` for ``d < h`` and 0 beyond, so a surface integrates
to the number of points (or the sum of their weights). Every density here is per km^2; every
distance is in metres of British National Grid (EPSG:27700). Arrays are laid out
``density[iy, ix]`` with row 0 the southernmost row.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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

#: Largest grid either route will build. 40 million float64 cells is 320 MB before the FFT's
#: own buffers; beyond that a wrong CRS or cell size is far likelier than a real need.
MAX_GRID_CELLS = 40_000_000

#: :func:`quartic_kde` bins onto sub-cells small enough that the bandwidth spans at least this
#: many of them (see its Notes). 8 is the least that kept tight clusters and police.uk data
#: (snapped to shared map points, the hard case) within 1 % of the peak; 6 gave 1.3-1.7 %.
FINE_BANDWIDTH_CELLS = 8.0

#: Most sub-cells per cell side the automatic choice uses (16 sub-cells per cell).
MAX_OVERSAMPLE = 4

#: Largest sub-cell raster the automatic choice builds; past it the oversampling is reduced.
MAX_FINE_CELLS = 12_000_000

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


# --------------------------------------------------------------------------- fast route


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


def _auto_oversample(grid: Grid, h: float) -> int:
    """Sub-cells per cell side that bring the kernel to ``FINE_BANDWIDTH_CELLS`` sub-cells."""
    s = math.ceil(FINE_BANDWIDTH_CELLS * grid.cell_m / h - 1e-9)
    s = max(1, min(MAX_OVERSAMPLE, s))
    # Never let the fine raster outgrow the memory cap; accuracy then degrades as documented.
    while s > 1 and grid.nx * grid.ny * s * s > MAX_FINE_CELLS:
        s -= 1
    return s


def _linear_bin(
    x: np.ndarray,
    y: np.ndarray,
    w: np.ndarray | None,
    origin_x: float,
    origin_y: float,
    step: float,
    wide_x: int,
    wide_y: int,
) -> np.ndarray:
    """Cloud-in-cell shares of each point on the nodes ``origin + k * step`` (k >= 0).

    Returns a ``(wide_y, wide_x)`` float64 array. Points whose four nodes are not all on it are
    left out: the caller sizes the raster so that only points out of the kernel's reach are.
    """
    inv = 1.0 / step
    u = (x - origin_x) * inv
    v = (y - origin_y) * inv
    iu = np.floor(u)
    iv = np.floor(v)
    inside = (iu >= 0) & (iu <= wide_x - 2) & (iv >= 0) & (iv <= wide_y - 2)
    if not inside.all():
        u, v, iu, iv = u[inside], v[inside], iu[inside], iv[inside]
        if w is not None:
            w = w[inside]
    fx = u - iu
    fy = v - iv
    base = iv.astype(np.int64) * wide_x + iu.astype(np.int64)
    gx = 1.0 - fx
    gy = 1.0 - fy
    if w is not None:
        gy *= w
        fy *= w
    # One bincount over the four corners allocates the output once instead of four times.
    index = np.concatenate((base, base + 1, base + wide_x, base + (wide_x + 1)))
    share = np.concatenate((gx * gy, fx * gy, gx * fy, fx * fy))
    counts = np.bincount(index, share, minlength=wide_x * wide_y)
    return counts.reshape(wide_y, wide_x)


def _fft_convolve_full(a: np.ndarray, k: np.ndarray) -> np.ndarray:
    # scipy.signal.fftconvolve does the same single-threaded; rfft2 with workers=-1 and padding
    # to a 5-smooth length is about a third faster on two cores (see the benchmark notes).
    shape = tuple(a.shape[i] + k.shape[i] - 1 for i in range(2))
    fast = tuple(sp_fft.next_fast_len(n, real=True) for n in shape)
    spec = sp_fft.rfft2(a, fast, workers=-1)
    spec *= sp_fft.rfft2(k, fast, workers=-1)
    full = sp_fft.irfft2(spec, fast, workers=-1)
    return full[: shape[0], : shape[1]]


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
    if oversample is None:
        s = _auto_oversample(grid, h)
    elif int(oversample) != oversample or oversample < 1:
        raise ValueError(f"oversample must be a whole number >= 1, got {oversample!r}")
    else:
        s = int(oversample)
    far = _outside_reach(x, y, grid, h)
    n_out = int(np.count_nonzero(far))
    if x.size == n_out:
        return np.zeros(grid.shape, dtype=np.float64), n_out
    step = grid.cell_m / s
    stencil = _kernel_stencil(h, step)
    r = (stencil.shape[0] - 1) // 2
    # Nodes up to r + 1 steps outside the outermost centres still feed the edge cells; binning
    # points there too makes the edges match the direct sum instead of fading.
    margin = r + 1
    wide_x = (grid.nx - 1) * s + 1 + 2 * margin
    wide_y = (grid.ny - 1) * s + 1 + 2 * margin
    origin_x = grid.x0 + 0.5 * grid.cell_m - margin * step
    origin_y = grid.y0 + 0.5 * grid.cell_m - margin * step
    counts = _linear_bin(x, y, w, origin_x, origin_y, step, wide_x, wide_y)
    full = _fft_convolve_full(counts, stencil)
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
    return density, n_out


def quartic_kde(
    easting: npt.ArrayLike,
    northing: npt.ArrayLike,
    grid: Grid,
    bandwidth_m: float,
    weights: npt.ArrayLike | None = None,
    *,
    oversample: int | None = None,
) -> np.ndarray:
    """Quartic kernel density on a grid by linear binning and FFT convolution.

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
        Sub-cells per cell side to bin onto. By default the fewest that make the bandwidth
        span ``FINE_BANDWIDTH_CELLS`` (8) sub-cells, at most ``MAX_OVERSAMPLE`` (4); 1 bins
        straight onto the cell centres (fastest, least accurate for small bandwidths).

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
    quartic_kde_direct : the exact sum this approximates.

    Notes
    -----
    Each point is shared among the four raster nodes around it in proportion to its nearness
    (linear, or cloud-in-cell, binning), the shares are summed with ``numpy.bincount`` in
    float64, the sums are convolved by FFT with the kernel evaluated at whole-node offsets, and
    the result is read at the cell centres. Points outside the grid still count when they lie
    within ``bandwidth_m`` of its edges, so edges match the direct sum; points further out
    cannot touch any cell and are left out (:func:`kde_surface` reports how many).

    Accuracy. Binning moves each point by up to a node spacing, which smooths the surface a
    little more than the kernel alone; the error falls as ``(node spacing / h) ** 2``. With
    nodes at the cell centres (``oversample=1``) that is too coarse for small bandwidths: on
    four months of Merseyside police.uk data, whose incidents are snapped to shared map points,
    the largest error was 11 % of the peak at h = 2 cells, 4.6 % at 3 and 1.6 % at 5, and a
    lone point reads up to 22 % (2 cells) or 11 % (3 cells) low. Hence the default sub-cells:
    with the bandwidth spanning at least 8 nodes, for any ``bandwidth_m >= 2 * cell_m``, that
    data and tight synthetic clusters stayed within 1 % of the peak (0.6 % at worst for the
    police data), while a lone point, or one location holding most of the incidents near the
    peak, stays within 1.6 %. Sub-cells cost time, since the raster grows with
    ``oversample ** 2``: pass ``oversample=1`` where speed matters more than the last few
    per cent (h = 3 cells needs 3 sub-cells, about five times the plain route's time).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(350_000, 400, 2_000)
    >>> y = rng.normal(430_000, 400, 2_000)
    >>> g = Grid.from_bounds(x.min(), y.min(), x.max(), y.max(), cell_m=50.0, pad_m=300.0)
    >>> fast = quartic_kde(x, y, g, bandwidth_m=300.0)
    >>> exact = quartic_kde_direct(x, y, g, bandwidth_m=300.0)
    >>> bool(np.abs(fast - exact).max() / exact.max() < 0.01)
    True
    >>> round(float(fast.sum() * g.cell_area_km2))  # integrates to the number of points
    2000
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
        Passed to :func:`quartic_kde`: None for its accurate default, 1 for the fastest route.

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
    if bandwidth_m is None:
        h, rule = _default_bandwidth(x, y, w)
        floor_m = MIN_BANDWIDTH_CELLS * cell_m
        if h < floor_m:
            rule += (
                f"; its {h:.0f} m was raised to {floor_m:g} m "
                f"({MIN_BANDWIDTH_CELLS:g} cells) so the grid resolves the kernel"
            )
            h = floor_m
    else:
        h = _check_bandwidth(bandwidth_m)
        rule = "set by user"
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
