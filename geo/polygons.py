"""Reading polygon layers (boundaries, zones) from GIS files, shared by their importers."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pyogrio
import shapely

_POLYGONAL = ("Polygon", "MultiPolygon")


def read_polygon_layer(path: Path, error: type[Exception]) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a GeoJSON, GeoPackage or Shapefile; in a multi-layer file, the first polygon layer.

    Raises ``error`` (the caller's own exception type) with one plain-English message when
    the file cannot be read.
    """
    notes: list[str] = []
    unreadable = (f"The file {path.name} could not be read as GeoJSON, GeoPackage or "
                  "Shapefile. Check it opens in a GIS and import it again.")
    try:
        layers = pyogrio.list_layers(path)
        layer = None
        if len(layers) > 1:
            polygonal = [str(n) for n, t in layers if t is not None and "Polygon" in str(t)]
            layer = polygonal[0] if polygonal else str(layers[0][0])
            notes.append(f"The file has {len(layers)} layers; the layer '{layer}' was used.")
        gdf = gpd.read_file(path, layer=layer)
    except Exception as exc:  # pyogrio raises several GDAL-derived types
        raise error(f"{unreadable} (Details: {exc})") from exc
    return gdf, notes


def polygonal_parts(geoms: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Repair invalid geometries and keep only their polygonal parts.

    Returns the geometries (None where a feature has no area: empty, points or lines), how
    many were repaired, and how many have no polygon.

    Examples
    --------
    >>> from shapely.geometry import Point, Polygon
    >>> bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> out, repaired, without = polygonal_parts(np.array([bowtie, Point(0, 0)], dtype=object))
    >>> out[0].geom_type, repaired, without
    ('MultiPolygon', 1, 1)
    """
    geoms = np.asarray(geoms, dtype=object)
    present = ~(shapely.is_missing(geoms) | shapely.is_empty(geoms))
    invalid = present & ~shapely.is_valid(geoms)
    if invalid.any():
        geoms = geoms.copy()
        geoms[invalid] = shapely.make_valid(geoms[invalid])
    out = np.empty(len(geoms), dtype=object)
    for i in np.flatnonzero(present):
        geom = geoms[i]
        if geom.geom_type in _POLYGONAL:
            out[i] = geom
        elif geom.geom_type == "GeometryCollection":
            # make_valid can turn a bow-tie into polygons plus stray lines: keep the areas
            parts = [p for p in shapely.get_parts(geom) if p.geom_type in _POLYGONAL]
            out[i] = shapely.union_all(parts) if parts else None
    without = int(len(geoms) - sum(g is not None for g in out))
    return out, int(invalid.sum()), without
