"""Coordinate conversion between WGS84 (storage, display) and British National Grid (metres).

The transformers are built once per process: building a pyproj ``Transformer`` costs far more
than converting a million points with it.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from pyproj import Transformer

from geo.settings import CRS_METRIC, CRS_STORAGE


@cache
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def to_bng(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 longitude/latitude to British National Grid easting/northing in metres.

    Examples
    --------
    >>> e, n = to_bng(np.array([-2.7030]), np.array([53.7590]))
    >>> round(float(e[0]), -2), round(float(n[0]), -2)
    (353700.0, 429400.0)
    """
    e, n = _transformer(CRS_STORAGE, CRS_METRIC).transform(
        np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
    )
    return np.asarray(e, dtype="float64"), np.asarray(n, dtype="float64")


def to_wgs84(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Convert British National Grid metres back to WGS84 longitude/latitude.

    Examples
    --------
    >>> lon, lat = to_wgs84(np.array([353800.0]), np.array([429300.0]))
    >>> round(float(lon[0]), 2), round(float(lat[0]), 2)
    (-2.7, 53.76)
    """
    lon, lat = _transformer(CRS_METRIC, CRS_STORAGE).transform(
        np.asarray(easting, dtype="float64"), np.asarray(northing, dtype="float64")
    )
    return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")
