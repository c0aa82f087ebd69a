"""H3 indexing, vectorised where the h3 library is scalar.

h3-py 4 indexes one point per call (about 1 µs each), so each distinct coordinate is indexed once
per resolution. Every resolution is indexed from the point itself, not derived from the finest
cell's parent: H3 children are not nested exactly inside their parents, and a point near a
hexagon's edge can lie in a different cell at resolution 9 from the parent of its resolution-10
cell. An analyst hovering over a hexagon must see the incidents drawn inside it.
"""

from __future__ import annotations

import h3
import numpy as np
from h3.api import numpy_int as h3int

_RES_SHIFT = np.uint64(52)
_RES_MASK = np.uint64(0xF) << _RES_SHIFT


def cells_multi(
    lat: np.ndarray, lon: np.ndarray, resolutions: tuple[int, ...], *, distinct: bool = False
) -> dict[int, np.ndarray]:
    """Return H3 cells (uint64) of each point at each of ``resolutions``.

    Each distinct coordinate is indexed once; pass ``distinct=True`` when the caller already
    removed repeats.

    Examples
    --------
    >>> out = cells_multi(np.array([53.759, 53.759]), np.array([-2.703, -2.703]), (7, 9))
    >>> sorted(out), len(out[9])
    ([7, 9], 2)
    """
    lat = np.asarray(lat, dtype="float64")
    lon = np.asarray(lon, dtype="float64")
    if lat.size == 0:
        return {res: np.zeros(0, dtype="uint64") for res in resolutions}
    if distinct:
        ulat, ulon, inverse = lat.tolist(), lon.tolist(), np.arange(len(lat))
    else:
        # a complex number per point sorts far faster than np.unique(axis=0) on row pairs
        uniq, inverse = np.unique(lat + 1j * lon, return_inverse=True)
        inverse = inverse.reshape(-1)
        ulat, ulon = uniq.real.tolist(), uniq.imag.tolist()
    out = {}
    for res in resolutions:
        cells = np.fromiter(
            (h3int.latlng_to_cell(a, b, res) for a, b in zip(ulat, ulon, strict=True)),
            dtype="uint64",
            count=len(ulat),
        )
        out[res] = cells[inverse]
    return out


def cells_at(lat: np.ndarray, lon: np.ndarray, res: int) -> np.ndarray:
    """Return H3 cell indexes (uint64) of each point at resolution ``res``.

    Distinct coordinates are indexed once, so data snapped to shared points (police.uk) is cheap.

    Examples
    --------
    >>> c = cells_at(np.array([53.759]), np.array([-2.703]), 9)
    >>> h3.int_to_str(int(c[0])) == h3.latlng_to_cell(53.759, -2.703, 9)
    True
    """
    return cells_multi(lat, lon, (res,))[res]


def parent_cells(cells: np.ndarray, res: int) -> np.ndarray:
    """Return the parents at the coarser resolution ``res`` of H3 cells (all of one resolution).

    Examples
    --------
    >>> child = h3.str_to_int(h3.latlng_to_cell(53.759, -2.703, 10))
    >>> p = parent_cells(np.array([child], dtype="uint64"), 7)
    >>> h3.int_to_str(int(p[0])) == h3.cell_to_parent(h3.int_to_str(child), 7)
    True
    """
    cells = np.asarray(cells, dtype="uint64")
    unused_digits = np.uint64((1 << (3 * (15 - res))) - 1)
    out = (cells & ~_RES_MASK) | (np.uint64(res) << _RES_SHIFT)
    return out | unused_digits


def cells_to_str(cells: np.ndarray) -> list[str]:
    """Return H3 indexes as the hexadecimal strings other tools (QGIS, kepler, DuckDB) use."""
    return [format(int(c), "x") for c in np.asarray(cells, dtype="uint64")]


def cell_boundaries(cells: np.ndarray) -> list[list[tuple[float, float]]]:
    """Return each cell's boundary as a closed ring of (lon, lat) pairs."""
    rings = []
    for c in np.asarray(cells, dtype="uint64").tolist():
        ring = [(lng, lat) for lat, lng in h3int.cell_to_boundary(c)]
        ring.append(ring[0])
        rings.append(ring)
    return rings


def cell_area_km2(res: int) -> float:
    """Return the average hexagon area at resolution ``res`` in km²."""
    return float(h3.average_hexagon_area(res, unit="km^2"))
