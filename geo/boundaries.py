"""Study-area boundaries: the bundled Lancashire authorities, user imports, and point assignment.

Every incident is given the code of the area (local authority, ward, beat...) it falls in.
The bundled boundaries are the 14 local authorities of the Lancashire Violence Reduction
Network; an analyst can import their own polygons (GeoJSON, GeoPackage or Shapefile, any CRS)
into a data directory, and those are used instead.

Areas are stored in WGS84 and measured in British National Grid (metres).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.atomic import replace_durably, write_text_atomic
from geo.polygons import check_source_path, polygonal_parts, read_polygon_layer, to_storage
from geo.settings import AREA_TOLERANCE_M, CRS_METRIC, CRS_STORAGE, bundled_boundaries_dir

__all__ = [
    "AreaAssignment",
    "BoundaryError",
    "Boundaries",
    "assign_areas",
    "describe_outside",
    "import_boundaries",
    "load_boundaries",
]

#: File names inside a data directory's ``boundaries/`` folder.
IMPORTED_AREAS = "areas.geojson"
IMPORTED_META = "meta.json"
#: File names of the bundled boundaries.
BUNDLED_AREAS = "lancashire_lads.geojson"
BUNDLED_POPULATION = "population.csv"

_BUNDLED_SOURCE = "bundled Lancashire boundaries"
#: Coordinates are rounded to this before de-duplication (1 cm), so points that differ only by
#: floating-point noise from a reprojection are tested once.
_DEDUP_SCALE = 100.0
#: Points are bucketed into this many easting strips so each area tests only the strips its
#: bounding box covers; a small integer key sorts in linear time.
_N_STRIPS = 4096
_MAX_COORD_M = 1e7
#: Rows probed to decide whether de-duplicating points is worth it.
_DEDUP_PROBE = 4096


class BoundaryError(Exception):
    """Boundaries cannot be read or imported; the message says why in plain English."""


@dataclass(eq=False)
class Boundaries:
    """A set of areas that incidents are assigned to.

    Attributes
    ----------
    areas : geopandas.GeoDataFrame
        One row per area, sorted by code, in EPSG:4326, with columns ``code`` (str), ``name``
        (str), ``population`` (float, NaN when unknown) and ``geometry`` (polygonal).
    source : str
        Short description for the interface, e.g. ``"bundled Lancashire boundaries"``.
    notes : list of str
        What was repaired or merged when the areas were imported.

    Examples
    --------
    >>> b = load_boundaries(None)
    >>> b.names()["E07000123"]
    'Preston'
    >>> b.areas_bng.crs.to_epsg()
    27700
    """

    areas: gpd.GeoDataFrame
    source: str
    notes: list[str] = field(default_factory=list)

    @cached_property
    def areas_bng(self) -> gpd.GeoDataFrame:
        """The areas in British National Grid (EPSG:27700)."""
        return self.areas.to_crs(CRS_METRIC)

    @cached_property
    def _index(self) -> _AreaIndex:
        return _AreaIndex.build(self.areas_bng)

    def names(self) -> dict[str, str]:
        """Return ``{code: name}`` for every area."""
        return dict(zip(self.areas["code"], self.areas["name"], strict=True))

    def population(self) -> dict[str, float]:
        """Return ``{code: population}`` for every area (NaN when unknown)."""
        pops = self.areas["population"].astype("float64")
        return dict(zip(self.areas["code"], pops.tolist(), strict=True))


# --------------------------------------------------------------------------------------------
# Loading


def load_boundaries(boundaries_dir: Path | None) -> Boundaries:
    """Load the imported boundaries of a data directory, or the bundled ones.

    Parameters
    ----------
    boundaries_dir : Path or None
        A data directory's ``boundaries/`` folder (:attr:`geo.settings.DataPaths.boundaries`).
        If it holds an imported ``areas.geojson`` that is loaded; otherwise (or when ``None``)
        the bundled Lancashire boundaries from :func:`geo.settings.bundled_boundaries_dir`.

    Returns
    -------
    Boundaries
        Areas sorted by code. Populations missing from the area file are filled from the
        bundled ``population.csv`` by code; other areas get NaN.

    Raises
    ------
    BoundaryError
        If the boundary file exists but cannot be read.

    Examples
    --------
    >>> b = load_boundaries(None)
    >>> len(b.areas), b.source
    (14, 'bundled Lancashire boundaries')
    >>> round(b.population()["E06000009"])
    138381
    """
    if boundaries_dir is not None and (Path(boundaries_dir) / IMPORTED_AREAS).is_file():
        folder = Path(boundaries_dir)
        areas = _read_areas(folder / IMPORTED_AREAS)
        meta = _read_meta(folder / IMPORTED_META)
        source = _imported_source(meta)
        raw_notes = meta.get("notes")
        notes = [str(n) for n in raw_notes] if isinstance(raw_notes, list) else []
    else:
        areas = _read_areas(bundled_boundaries_dir() / BUNDLED_AREAS)
        source = _BUNDLED_SOURCE
        notes = []
    areas = _attach_population(areas, _bundled_population())
    return Boundaries(areas=areas, source=source, notes=notes)


def _read_areas(path: Path) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise BoundaryError(f"The boundary file {path} could not be read ({exc}).") from exc
    missing = {"code", "name"} - set(gdf.columns)
    if missing:
        raise BoundaryError(
            f"The boundary file {path} lacks the field(s) {', '.join(sorted(missing))}; "
            "import the boundaries again."
        )
    if gdf.crs is None:
        gdf = gdf.set_crs(CRS_STORAGE)
    gdf = gdf.to_crs(CRS_STORAGE)
    out = gpd.GeoDataFrame(
        {
            "code": gdf["code"].astype(str).to_numpy(),
            "name": gdf["name"].astype(str).to_numpy(),
            "population": (
                pd.to_numeric(gdf["population"], errors="coerce").astype("float64").to_numpy()
                if "population" in gdf.columns
                else np.full(len(gdf), np.nan)
            ),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=CRS_STORAGE,
    )
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def _read_meta(path: Path) -> dict[str, object]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _imported_source(meta: dict[str, object]) -> str:
    name = meta.get("source_file") or "a file"
    when = str(meta.get("imported_at") or "")[:10] or "an unknown date"
    return f"imported from {name} on {when}"


def _bundled_population() -> pd.Series:
    path = bundled_boundaries_dir() / BUNDLED_POPULATION
    try:
        table = pd.read_csv(path, dtype={"code": str})
    except (OSError, ValueError):
        return pd.Series(dtype="float64")
    return table.set_index("code")["population"].astype("float64")


def _attach_population(areas: gpd.GeoDataFrame, known: pd.Series) -> gpd.GeoDataFrame:
    fill = areas["code"].map(known).astype("float64")
    areas["population"] = areas["population"].astype("float64").fillna(fill)
    return areas


# --------------------------------------------------------------------------------------------
# Import


def import_boundaries(
    path: Path | str,
    code_field: str,
    name_field: str,
    dest_dir: Path,
    population_field: str | None = None,
) -> Boundaries:
    """Import area polygons from a GeoJSON, GeoPackage or Shapefile into a data directory.

    The file may be in any coordinate reference system; it is stored in WGS84 as
    ``dest_dir/areas.geojson`` (written atomically, so a failed import leaves the previous
    boundaries in place) with ``dest_dir/meta.json`` describing the import. The format is
    recognised from the file's content by the same reader as uploaded zones
    (:func:`geo.polygons.read_polygon_layer`): a GDAL virtual dataset (VRT), a ``/vsi...``
    path, a web address or any other format is refused.

    Parameters
    ----------
    path : Path or str
        A file on this computer: GeoJSON, GeoPackage, a zip of a Shapefile's parts, or a
        ``.shp`` with its ``.shx``, ``.dbf`` and ``.prj`` beside it.
    code_field : str
        Field holding each area's unique code.
    name_field : str
        Field holding each area's display name.
    dest_dir : Path
        A data directory's ``boundaries/`` folder; created if missing.
    population_field : str, optional
        Field holding each area's resident population.

    Returns
    -------
    Boundaries
        The imported areas as :func:`load_boundaries` will load them. ``notes`` says what was
        repaired (invalid polygons), dropped (features without a polygon or a code) or merged
        (several features with one code).

    Raises
    ------
    BoundaryError
        If the file is missing, unreadable or not an accepted format, has more features than
        ``limits().polygon_features``, has no CRS, lacks a named field (the message lists the
        fields it has), or holds no polygons.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> square = shapely.box(350_000, 430_000, 351_000, 431_000)
    >>> gdf = gpd.GeoDataFrame({"ID": ["A1"], "NAME": ["Square"]}, geometry=[square],
    ...                        crs="EPSG:27700")
    >>> gdf.to_file(tmp / "areas.gpkg")
    >>> b = import_boundaries(tmp / "areas.gpkg", "ID", "NAME", tmp / "boundaries")
    >>> b.names(), b.areas.crs.to_epsg()
    ({'A1': 'Square'}, 4326)
    >>> import_boundaries(tmp / "areas.gpkg", "CODE", "NAME", tmp / "boundaries")
    Traceback (most recent call last):
    ...
    geo.boundaries.BoundaryError: The file areas.gpkg has no field 'CODE'. Its fields are: ID, NAME.
    """
    check_source_path(path, BoundaryError)
    path = Path(path)
    dest_dir = Path(dest_dir)
    if not path.exists():
        raise BoundaryError(f"The boundary file {path} does not exist.")
    if path.is_dir():
        raise BoundaryError(f"{path} is a folder; choose the boundary file inside it.")

    gdf, notes = _read_source(path)
    fields = [c for c in gdf.columns if c != gdf.geometry.name]
    for wanted in (code_field, name_field, population_field):
        if wanted is not None and wanted not in fields:
            listed = ", ".join(fields) if fields else "(none)"
            raise BoundaryError(
                f"The file {path.name} has no field '{wanted}'. Its fields are: {listed}."
            )
    if gdf.crs is None:
        raise BoundaryError(
            f"The file {path.name} does not say which coordinate reference system it uses. "
            "Supply the .prj file beside a Shapefile, or save the file with its CRS "
            "(e.g. EPSG:27700 for British National Grid) and import it again."
        )

    codes = gdf[code_field].astype("string").str.strip()
    names = gdf[name_field].astype("string").str.strip()
    pops = (
        pd.to_numeric(gdf[population_field], errors="coerce").astype("float64")
        if population_field is not None
        else pd.Series(np.nan, index=gdf.index)
    )
    geoms, geom_notes = _polygonal_parts(gdf.geometry.to_numpy())
    notes.extend(geom_notes)

    keep = ~pd.isna(geoms) & codes.notna().to_numpy() & (codes.fillna("") != "").to_numpy()
    n_no_code = int((codes.isna() | (codes.fillna("") == "")).sum())
    if n_no_code:
        notes.append(f"{n_no_code} feature(s) without a code in '{code_field}' were left out.")
    if not keep.any():
        raise BoundaryError(
            f"The file {path.name} holds no polygons with a code: boundaries must be areas "
            "(polygons), not points or lines."
        )

    table = pd.DataFrame(
        {
            "code": codes[keep].astype(str).to_numpy(),
            "name": names[keep].fillna(codes[keep]).astype(str).to_numpy(),
            "population": pops[keep].to_numpy(),
            "geometry": geoms[keep],
        }
    )
    table, dup_note = _merge_duplicates(table)
    if dup_note:
        notes.append(dup_note)

    areas = gpd.GeoDataFrame(
        table[["code", "name", "population"]],
        geometry=to_storage(gpd.GeoSeries(table["geometry"].to_numpy(), crs=gdf.crs),
                            path.name, BoundaryError).to_numpy(),
        crs=CRS_STORAGE,
    )
    areas = areas.sort_values("code", kind="stable").reset_index(drop=True)

    dest_dir.mkdir(parents=True, exist_ok=True)
    stored = areas if population_field is not None else areas.drop(columns="population")
    _write_geojson_atomic(stored, dest_dir / IMPORTED_AREAS)
    meta = {
        "source_file": path.name,
        "code_field": code_field,
        "name_field": name_field,
        "population_field": population_field,
        "source_crs": gdf.crs.to_string(),
        "imported_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "n_areas": len(areas),
        "notes": notes,
    }
    write_text_atomic(dest_dir / IMPORTED_META, json.dumps(meta, indent=2) + "\n")
    return load_boundaries(dest_dir)


def _read_source(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    return read_polygon_layer(path, BoundaryError)


def _polygonal_parts(geoms: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Repair invalid geometries and keep only their polygonal parts (None when there are none)."""
    out, repaired, without = polygonal_parts(geoms)
    notes = []
    if repaired:
        notes.append(f"{repaired} invalid polygon(s) were repaired.")
    if without:
        notes.append(f"{without} feature(s) without a polygon (empty, points or lines) "
                     "were left out.")
    return out, notes


def _merge_duplicates(table: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    counts = table["code"].value_counts()
    dups = counts[counts > 1]
    if dups.empty:
        return table, None
    merged = []
    for code, part in table.groupby("code", sort=False):
        merged.append(
            {
                "code": code,
                "name": part["name"].iloc[0],
                "population": part["population"].sum(min_count=1),
                "geometry": shapely.union_all(part["geometry"].to_numpy()),
            }
        )
    shown = ", ".join(sorted(dups.index)[:5]) + (" ..." if len(dups) > 5 else "")
    note = (
        f"{len(dups)} code(s) appeared on more than one feature ({shown}); "
        "their polygons were merged into one area each."
    )
    return pd.DataFrame(merged), note


def _write_geojson_atomic(gdf: gpd.GeoDataFrame, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex}.tmp.geojson")
    try:
        # GDAL writes WGS84 GeoJSON; 7 decimals is about 1 cm, plenty for boundaries.
        gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7)
        replace_durably(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Assignment


@dataclass(eq=False)
class AreaAssignment:
    """The area each point falls in.

    Attributes
    ----------
    code : numpy.ndarray
        Object array of area codes; None where the point has no coordinates or lies more
        than the tolerance outside every area.
    distance_m : numpy.ndarray
        0 for points inside an area, the distance in metres to the area for points snapped to
        the nearest one, NaN where ``code`` is None.
    n_snapped : int
        Points outside every area but within the tolerance, given the nearest area.
    nearest_code : numpy.ndarray
        For points with coordinates but no area: the code of the nearest area; None elsewhere.
    nearest_distance_m : numpy.ndarray
        For those points, the distance in metres to that nearest area; NaN elsewhere.
    """

    code: np.ndarray
    distance_m: np.ndarray
    n_snapped: int
    nearest_code: np.ndarray
    nearest_distance_m: np.ndarray

    @property
    def n_outside(self) -> int:
        """Points with coordinates that lie beyond the tolerance of every area."""
        return int(np.count_nonzero(~pd.isna(self.nearest_code)))

    def outside_reasons(self, names: dict[str, str]) -> np.ndarray:
        """Plain-English reason for each point that has no area (None for the others).

        Parameters
        ----------
        names : dict
            ``{code: name}``, e.g. :meth:`Boundaries.names`.
        """
        reasons = np.full(len(self.code), None, dtype=object)
        for i in np.flatnonzero(pd.isna(self.code)):
            near = self.nearest_code[i]
            if near is None:
                reasons[i] = "no usable coordinates"
            else:
                reasons[i] = describe_outside(
                    float(self.nearest_distance_m[i]), names.get(near, near)
                )
        return reasons


def describe_outside(distance_m: float, nearest_name: str) -> str:
    """Word the reason a point is rejected as outside the study area.

    Examples
    --------
    >>> describe_outside(2_340.0, "Preston")
    'outside the study area: 2.3 km from the nearest boundary (Preston)'
    >>> describe_outside(740.0, "Wyre")
    'outside the study area: 740 m from the nearest boundary (Wyre)'
    """
    if distance_m < 1_000:
        far = f"{distance_m:.0f} m"
    elif distance_m < 100_000:
        far = f"{distance_m / 1_000:.1f} km"
    else:
        far = f"{distance_m / 1_000:,.0f} km"
    return f"outside the study area: {far} from the nearest boundary ({nearest_name})"


def assign_areas(
    easting: np.ndarray,
    northing: np.ndarray,
    boundaries: Boundaries,
    tolerance_m: float = AREA_TOLERANCE_M,
) -> AreaAssignment:
    """Give each point (British National Grid) the code of the area it falls in.

    A point inside an area gets that area; inside two overlapping areas, the one with the
    lowest code. A point outside every area but within ``tolerance_m`` of one gets the
    nearest (the bundled polygons are generalised and clipped to the coast, so real incidents
    on promenades fall just outside). Beyond that it gets None, and the assignment records
    the nearest area and its distance so the caller can say why the row was rejected.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Coordinates in metres (EPSG:27700); NaN for points without coordinates.
    boundaries : Boundaries
        The areas.
    tolerance_m : float
        How far outside every area, in metres, a point may lie and still be assigned.

    Returns
    -------
    AreaAssignment

    Examples
    --------
    >>> b = load_boundaries(None)
    >>> a = assign_areas(np.array([353_900.0, 300_000.0]), np.array([429_400.0, 430_000.0]), b)
    >>> a.code.tolist(), a.n_snapped
    (['E07000123', None], 0)
    >>> a.outside_reasons(b.names())[1]
    'outside the study area: 30.4 km from the nearest boundary (Blackpool)'
    """
    x = np.asarray(easting, dtype="float64").ravel()
    y = np.asarray(northing, dtype="float64").ravel()
    if x.shape != y.shape:
        raise ValueError("easting and northing must have the same length")
    if not tolerance_m >= 0:
        raise ValueError(f"tolerance_m must be 0 or more, not {tolerance_m}")
    n = len(x)
    code = np.full(n, None, dtype=object)
    distance = np.full(n, np.nan)
    nearest_code = np.full(n, None, dtype=object)
    nearest_distance = np.full(n, np.nan)
    index = boundaries._index
    # Beyond 10,000 km a "coordinate" is a units or projection mistake, not a place.
    finite = (np.abs(x) < _MAX_COORD_M) & (np.abs(y) < _MAX_COORD_M)
    if n == 0 or not finite.any() or len(index.codes) == 0:
        return AreaAssignment(code, distance, 0, nearest_code, nearest_distance)

    rows = np.flatnonzero(finite)
    xr, yr = x[rows], y[rows]
    inverse = _distinct_points(xr, yr)
    if inverse is not None:
        # police.uk snaps many incidents to one anonymised point: test each distinct point once.
        n_unique = int(inverse.max()) + 1
        first = np.empty(n_unique, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
        xr, yr = xr[first], yr[first]

    u_area, u_dist, u_near, u_near_dist = index.locate(xr, yr, tolerance_m)
    if inverse is not None:
        u_area, u_dist = u_area[inverse], u_dist[inverse]
        u_near, u_near_dist = u_near[inverse], u_near_dist[inverse]

    # One object take per output: index -1 (no area) picks the trailing None.
    codes_or_none = np.empty(len(index.codes) + 1, dtype=object)
    codes_or_none[:-1] = index.codes
    if len(rows) == n:
        code = codes_or_none[u_area]
        distance = u_dist
    else:
        code[rows] = codes_or_none[u_area]
        distance[rows] = u_dist
    if (u_near >= 0).any():
        nearest_code[rows] = codes_or_none[u_near]
        nearest_distance[rows] = u_near_dist
    n_snapped = int(np.count_nonzero(u_dist > 0))
    return AreaAssignment(code, distance, n_snapped, nearest_code, nearest_distance)


def _distinct_points(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Group identical points (to 1 cm); None when too few repeat to be worth it.

    De-duplicating a million distinct points costs about as much as testing them, so for large
    inputs an evenly spaced probe of the rows decides: if the probe has no more distinct points
    than a set where every point appeared twice would give, de-duplicate. Either way every
    point gets the same answer.
    """
    n = len(x)
    if n > _DEDUP_PROBE * 16:
        step = n // _DEDUP_PROBE
        probe = _point_keys(x[::step], y[::step])
        m = len(probe)
        # Expected distinct values in m draws from n/2 equally common points.
        half = n / 2
        if len(np.unique(probe)) > half * (1.0 - np.exp(-m / half)):
            return None
    inverse, _ = pd.factorize(_point_keys(x, y))
    return inverse


def _point_keys(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # |coordinate| < 1e7 m, so each centimetre count fits in 31 bits and the pair in 64.
    key_x = np.round(x * _DEDUP_SCALE).astype(np.int64)
    key_y = np.round(y * _DEDUP_SCALE).astype(np.int64)
    return (key_x << 32) + (key_y & 0xFFFFFFFF)


@dataclass
class _AreaIndex:
    """Prepared area polygons in BNG (in code order) with bounding boxes and a boundary tree.

    The tree holds every boundary segment rather than whole polygons: the distance from an
    outside point to a polygon is its distance to the boundary, and testing a handful of
    nearby segments is far cheaper than a distance to a polygon of thousands of vertices.
    """

    codes: np.ndarray
    geoms: np.ndarray
    bounds: np.ndarray
    segment_area: np.ndarray
    segment_tree: shapely.STRtree

    @classmethod
    def build(cls, areas_bng: gpd.GeoDataFrame) -> _AreaIndex:
        order = np.argsort(areas_bng["code"].to_numpy(dtype=object), kind="stable")
        geoms = np.asarray(areas_bng.geometry.to_numpy(), dtype=object)[order]
        geoms = shapely.make_valid(geoms)
        shapely.prepare(geoms)
        codes = areas_bng["code"].to_numpy(dtype=object)[order]

        parts, part_area = shapely.get_parts(geoms, return_index=True)
        rings, ring_part = shapely.get_rings(parts, return_index=True)
        coords, ring_of = shapely.get_coordinates(rings, return_index=True)
        # A segment joins two consecutive vertices of the same ring.
        starts = np.flatnonzero(ring_of[1:] == ring_of[:-1])
        segments = shapely.linestrings(np.stack([coords[starts], coords[starts + 1]], axis=1))
        segment_area = part_area[ring_part[ring_of[starts]]]
        return cls(codes, geoms, shapely.bounds(geoms), segment_area, shapely.STRtree(segments))

    def locate(
        self, x: np.ndarray, y: np.ndarray, tolerance_m: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Area index and distance within tolerance; nearest index and distance beyond it."""
        n = len(x)
        # Bucket points into easting strips (a radix sort of small integers is linear), so
        # each area's bounding box selects one contiguous run of candidates; work in that
        # order and put the answers back at the end.
        x0, x1 = float(self.bounds[:, 0].min()), float(self.bounds[:, 2].max())
        width = max(x1 - x0, 1.0) / _N_STRIPS
        strip = np.clip((x - x0) // width, -1, _N_STRIPS).astype(np.int16) + 1
        order = np.argsort(strip, kind="stable")
        starts = np.searchsorted(strip[order], np.arange(_N_STRIPS + 3))
        xs, ys = x[order], y[order]
        area_s = np.full(n, -1, dtype=np.int64)
        for i, geom in enumerate(self.geoms):
            minx, miny, maxx, maxy = self.bounds[i]
            s0 = int(np.clip((minx - x0) // width, -1, _N_STRIPS)) + 1
            s1 = int(np.clip((maxx - x0) // width, -1, _N_STRIPS)) + 1
            lo, hi = starts[s0], starts[s1 + 1]
            if lo == hi:
                continue
            cx, cy = xs[lo:hi], ys[lo:hi]
            cand = (cy >= miny) & (cy <= maxy) & (cx >= minx) & (cx <= maxx)
            cand &= area_s[lo:hi] < 0
            idx = np.flatnonzero(cand)
            if idx.size == 0:
                continue
            inside = shapely.contains_xy(geom, cx[idx], cy[idx])
            area_s[lo + idx[inside]] = i
        area = np.empty(n, dtype=np.int64)
        area[order] = area_s
        dist = np.where(area >= 0, 0.0, np.nan)

        # A point exactly on a boundary is not "contained"; the nearest search below finds it
        # 0 m away.
        near = np.full(n, -1, dtype=np.int64)
        near_dist = np.full(n, np.nan)
        outside = np.flatnonzero(area < 0)
        if outside.size:
            pts = shapely.points(x[outside], y[outside])
            # max_distance must be positive; a point on a boundary is 0 m away either way.
            pt, seg, d = self._nearest(pts, max(tolerance_m, 1e-9))
            area[outside[pt]] = self.segment_area[seg]
            dist[outside[pt]] = d
            far = np.ones(outside.size, dtype=bool)
            far[pt] = False
            if far.any():
                pt, seg, d = self._nearest(pts[far], None)
                still = outside[far]
                near[still[pt]] = self.segment_area[seg]
                near_dist[still[pt]] = d
        return area, dist, near, near_dist

    def _nearest(
        self, pts: np.ndarray, max_distance: float | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per point, the nearest segment; ties go to the area with the lowest code."""
        pairs, d = self.segment_tree.query_nearest(
            pts, max_distance=max_distance, return_distance=True, all_matches=True
        )
        if pairs.shape[1] == 0:
            return pairs[0], pairs[1], d
        # A shared edge is two equidistant segments of two areas: sort so the lowest area
        # index (= lowest code) comes first for each point.
        order = np.lexsort((self.segment_area[pairs[1]], pairs[0]))
        pairs, d = pairs[:, order], d[order]
        pt, first = np.unique(pairs[0], return_index=True)
        return pt, pairs[1][first], d[first]
