"""Night-time-economy (NTE) zones: named polygons an analyst imports, draws or accepts.

A zone is an area of late-night activity (a city-centre circuit, a cluster of bars, a taxi-rank
corridor) that incidents and premises are counted in. Zones are kept in a data directory as
one GeoJSON FeatureCollection, ``<data dir>/zones/zones.geojson``, written atomically so a
crash mid-save leaves the previous zones intact and they survive a restart.

Every feature has the properties ``zone_id`` (stable, ``"z-"`` + 8 hex digits), ``name``,
``origin`` (``"imported"``, ``"drawn"`` or ``"suggested"``), ``created_at`` (ISO 8601 local time)
and ``notes``. Zones are stored in WGS84 and measured in British National Grid (metres).

The read-modify-write helpers (:func:`add_zone`, :func:`rename_zone`, :func:`delete_zone`) are
not guarded against two processes editing the same folder at once: the last save wins, and
neither can corrupt the file.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import shapely.geometry

from geo.atomic import write_text_atomic
from geo.polygons import (
    check_source_path,
    plain_errors,
    polygonal_parts,
    read_polygon_layer,
    to_storage,
)
from geo.settings import CRS_METRIC, CRS_STORAGE, limits

__all__ = [
    "MAX_CLIENT_VERTICES",
    "MAX_NAME_CHARS",
    "ORIGINS",
    "ZONES_FILE",
    "ZONE_COLUMNS",
    "ZoneError",
    "ZoneSet",
    "add_zone",
    "assign_zones",
    "delete_zone",
    "deleted_zones",
    "import_zones",
    "lasso_polygon",
    "load_zones",
    "rename_zone",
    "restore_deleted_zone",
    "save_zones",
    "zones_geojson_export",
]

#: File name inside a data directory's ``zones/`` folder.
ZONES_FILE = "zones.geojson"
#: Zones deleted lately, kept so a deletion can be undone.
DELETED_FILE = "deleted.geojson"
DELETED_KEPT = 20
#: How a zone came to exist.
ORIGINS = ("imported", "drawn", "suggested")
#: Attribute columns of :attr:`ZoneSet.zones`, in order (``geometry`` follows).
ZONE_COLUMNS = ("zone_id", "name", "origin", "created_at", "notes")

#: Longest zone name kept; longer names are cut (imports) or refused (typed names).
MAX_NAME_CHARS = 120
#: Most vertices in a zone drawn on the map or accepted from a suggestion (both arrive from
#: the browser): a lasso gives a few hundred, a merged suggestion a few thousand.
MAX_CLIENT_VERTICES = 10_000

_POLYGONAL = ("Polygon", "MultiPolygon")
_FILE_EXTENSIONS = frozenset({"zip", "geojson", "json", "gpkg", "shp"})
#: A rough box around the UK and its waters (WGS84); zones beyond it earn a note, not an error,
#: because a user may legitimately work elsewhere.
_UK_LON = (-8.7, 1.8)
_UK_LAT = (49.8, 60.9)


class ZoneError(Exception):
    """Zones cannot be read, imported or changed; the message says why in plain English."""


@dataclass(eq=False)
class ZoneSet:
    """The night-time-economy zones of one data directory.

    Attributes
    ----------
    zones : geopandas.GeoDataFrame
        One row per zone in EPSG:4326 with columns ``zone_id``, ``name``, ``origin``,
        ``created_at``, ``notes`` (all text) and ``geometry`` (Polygon or MultiPolygon). Row
        order is the order zones were added; :func:`assign_zones` gives overlapping areas to
        the earliest zone.

    Examples
    --------
    >>> zs = ZoneSet.empty()
    >>> len(zs.zones), zs.zones.crs.to_epsg(), zs.names()
    (0, 4326, {})
    """

    zones: gpd.GeoDataFrame

    @classmethod
    def empty(cls) -> ZoneSet:
        """Return a set with no zones."""
        return cls(_frame([], []))

    @cached_property
    def zones_bng(self) -> gpd.GeoDataFrame:
        """The zones in British National Grid (EPSG:27700), for measuring in metres."""
        return self.zones.to_crs(CRS_METRIC)

    def names(self) -> dict[str, str]:
        """Return ``{zone_id: name}`` in zone order."""
        return dict(zip(self.zones["zone_id"], self.zones["name"], strict=True))

    def to_geojson(self) -> dict[str, Any]:
        """Return the zones as a GeoJSON FeatureCollection (WGS84, RFC 7946) dictionary."""
        features = []
        for row, geom in zip(
            self.zones[list(ZONE_COLUMNS)].itertuples(index=False),
            self.zones.geometry,
            strict=True,
        ):
            features.append(
                {
                    "type": "Feature",
                    "properties": {c: str(v) for c, v in zip(ZONE_COLUMNS, row, strict=True)},
                    "geometry": shapely.geometry.mapping(geom),
                }
            )
        return {"type": "FeatureCollection", "features": features}


def _frame(rows: list[dict[str, str]], geoms: list[Any]) -> gpd.GeoDataFrame:
    table = {c: pd.Series([r[c] for r in rows], dtype="str") for c in ZONE_COLUMNS}
    return gpd.GeoDataFrame(
        table, geometry=gpd.GeoSeries(list(geoms), crs=CRS_STORAGE), crs=CRS_STORAGE
    )


def _now() -> str:
    return datetime.now(UTC).astimezone().isoformat(timespec="seconds")


def _new_id(taken: set[str]) -> str:
    # An identifier, not a sample: it only has to be unique within the folder, so it needs no
    # seed; it is stored, which is what keeps it stable across restarts.
    while True:
        zid = "z-" + uuid.uuid4().hex[:8]
        if zid not in taken:
            taken.add(zid)
            return zid


# --------------------------------------------------------------------------------------------
# Storage


def load_zones(zones_dir: Path) -> ZoneSet:
    """Load the zones saved in a data directory's ``zones/`` folder.

    Parameters
    ----------
    zones_dir : Path
        The folder holding ``zones.geojson``. A missing folder or file means no zones yet.

    Returns
    -------
    ZoneSet
        The saved zones in saved order (empty if there are none).

    Raises
    ------
    ZoneError
        If the zones file exists but cannot be read.

    Examples
    --------
    >>> import tempfile
    >>> load_zones(Path(tempfile.mkdtemp()) / "zones").names()
    {}
    """
    path = Path(zones_dir) / ZONES_FILE
    if not path.is_file():
        return ZoneSet.empty()
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        features = doc["features"]
        rows, geoms = [], []
        for feat in features:
            props = feat.get("properties") or {}
            rows.append({c: "" if props.get(c) is None else str(props[c]) for c in ZONE_COLUMNS})
            geoms.append(shapely.geometry.shape(feat["geometry"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ZoneError(
            f"The zones file {path} could not be read ({exc}). Restore it from a backup or "
            "delete it to start again with no zones."
        ) from exc
    return ZoneSet(_frame(rows, geoms))


def save_zones(zone_set: ZoneSet, zones_dir: Path) -> None:
    """Save zones to ``zones_dir/zones.geojson``, all or nothing.

    Parameters
    ----------
    zone_set : ZoneSet
        The zones to keep (they replace whatever was saved before).
    zones_dir : Path
        A data directory's ``zones/`` folder; created if missing.

    Raises
    ------
    ZoneError
        If the set lacks a required column, has duplicate ids or is not in WGS84.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "zones"
    >>> save_zones(ZoneSet.empty(), d)
    >>> sorted(p.name for p in d.iterdir())
    ['zones.geojson']
    """
    zones = zone_set.zones
    missing = [c for c in ZONE_COLUMNS if c not in zones.columns]
    if missing:
        raise ZoneError(f"Zones cannot be saved: column(s) {', '.join(missing)} are missing.")
    if zones.crs is None or not zones.crs.equals(CRS_STORAGE):
        raise ZoneError("Zones cannot be saved: they must be in WGS84 (EPSG:4326).")
    if not zones["zone_id"].is_unique:
        raise ZoneError("Zones cannot be saved: two zones share one zone_id.")
    zones_dir = Path(zones_dir)
    zones_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(zones_dir / ZONES_FILE, zones_geojson_export(zone_set))


def zones_geojson_export(zone_set: ZoneSet) -> str:
    """Return the zones as GeoJSON text, for a download or another GIS.

    The text is what :func:`save_zones` writes; :func:`import_zones` reads it back with
    ``name_field="name"``.

    Examples
    --------
    >>> zs = ZoneSet.empty()
    >>> json.loads(zones_geojson_export(zs))
    {'type': 'FeatureCollection', 'features': []}
    """
    return json.dumps(zone_set.to_geojson(), ensure_ascii=False) + "\n"


# --------------------------------------------------------------------------------------------
# Import


def import_zones(
    path: Path | str,
    name_field: str | None,
    zones_dir: Path,
    *,
    replace: bool = False,
    source_name: str | None = None,
) -> tuple[ZoneSet, list[str]]:
    """Import zone polygons from a GeoJSON, GeoPackage or zipped Shapefile in any CRS.

    Polygons are reprojected to WGS84 and saved with the existing zones (appended after them,
    or instead of them with ``replace=True``) with ``origin="imported"``. The format is
    recognised from the file's content (see :mod:`geo.polygons`): a GDAL virtual dataset
    (VRT), a ``/vsi...`` path, a web address or any other format is refused.

    Parameters
    ----------
    path : Path or str
        The file: GeoJSON, GeoPackage, a zip of a Shapefile's parts, or a ``.shp`` with its
        ``.shx``, ``.dbf`` and ``.prj`` beside it.
    name_field : str or None
        Field holding each zone's name. ``None`` for a file without one (e.g. a single
        boundary polygon): zones are then named after the file (``mcr_city_centre``). Blank
        names become ``"Zone N"`` (N = the feature's number in the file); a name already used
        (by an existing zone or an earlier feature, ignoring case) gets ``" (2)"``, ``" (3)"``...
        Names are cut to :data:`MAX_NAME_CHARS` characters.
    zones_dir : Path
        A data directory's ``zones/`` folder.
    replace : bool
        Discard the existing zones instead of adding to them.
    source_name : str, optional
        The file's name as the user knows it (an upload is saved under a name the server
        chooses); used in messages, notes and zone names. Default: the name of ``path``.

    Returns
    -------
    tuple of (ZoneSet, list of str)
        The zones as :func:`load_zones` will now load them, and notes on what was repaired,
        skipped or renamed.

    Raises
    ------
    ZoneError
        If the file is missing, unreadable or not an accepted format, has more features than
        ``limits().polygon_features``, has no CRS, lacks ``name_field`` (the message lists the
        fields it has), looks mislabelled (metres in a WGS84 file), or holds no polygons.
        Nothing is saved then.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> gdf = gpd.GeoDataFrame({"NAME": ["Gay Village"]},
    ...                        geometry=[shapely.box(384_300, 397_700, 384_600, 398_000)],
    ...                        crs="EPSG:27700")
    >>> gdf.to_file(tmp / "nte.gpkg")
    >>> zs, notes = import_zones(tmp / "nte.gpkg", "NAME", tmp / "zones")
    >>> list(zs.names().values()), zs.zones.crs.to_epsg(), zs.zones["origin"].tolist()
    (['Gay Village'], 4326, ['imported'])
    >>> import_zones(tmp / "nte.gpkg", "ZONE", tmp / "zones")
    Traceback (most recent call last):
    ...
    geo.zones.ZoneError: The file nte.gpkg has no field 'ZONE'. Its fields are: NAME.
    """
    with plain_errors(source_name or Path(path).name, ZoneError):
        check_source_path(path, ZoneError)
        path = Path(path)
        zones_dir = Path(zones_dir)
        if not path.exists():
            raise ZoneError(f"The zone file {source_name or path} does not exist.")
        if path.is_dir():
            raise ZoneError(f"{path} is a folder; choose the zone file inside it.")
        label = source_name or path.name
        gdf, notes = read_polygon_layer(path, ZoneError, source_name=label)
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        if name_field is not None and name_field not in fields:
            listed = ", ".join(fields) if fields else "(none)"
            raise ZoneError(
                f"The file {label} has no field '{name_field}'. Its fields are: {listed}."
            )
        if gdf.crs is None:
            raise ZoneError(
                f"The file {label} does not say which coordinate reference system (CRS) it "
                "uses, so its zones cannot be placed on the map. Set the CRS in your GIS (e.g. "
                "EPSG:27700 for British National Grid, EPSG:4326 for longitude/latitude) and "
                "save it again; for a Shapefile, keep the .prj file beside the .shp."
            )
        geoms, geom_notes = _polygonal(np.asarray(gdf.geometry.array, dtype=object))
        notes.extend(geom_notes)
        keep = np.array([g is not None for g in geoms], dtype=bool)
        if not keep.any():
            raise ZoneError(
                f"The file {label} holds no polygons: zones must be areas (polygons), "
                "not points or lines."
            )
        _check_plausible(label, gdf.crs, geoms[keep])

        if name_field is None:
            stem = _file_stem(label)
            raw_names = [stem] * len(gdf)
            notes.append(f"No name field was chosen; zones are named after the file ('{stem}').")
        else:
            raw_names = [_name_text(v) for v in gdf[name_field].tolist()]
        existing = ZoneSet.empty() if replace else load_zones(zones_dir)
        namer = _Namer(existing.zones["name"])
        ids = set(existing.zones["zone_id"])
        created = _now()
        rows: list[dict[str, str]] = []
        n_blank = n_renamed = n_cut = 0
        for i in np.flatnonzero(keep):
            name = _clean_name(raw_names[i])
            if len(name) > MAX_NAME_CHARS:
                name = name[: MAX_NAME_CHARS - 1].rstrip() + "…"
                n_cut += 1
            if not name or name.upper() in ("NA", "N/A", "NULL", "NONE", "NAN"):
                name = f"Zone {i + 1}"
                n_blank += 1
            unique = namer.unique(name)
            n_renamed += unique != name
            rows.append(
                {
                    "zone_id": _new_id(ids),
                    "name": unique,
                    "origin": "imported",
                    "created_at": created,
                    "notes": f"Imported from {label}",
                }
            )
        if n_cut:
            notes.append(f"{n_cut} zone name(s) were longer than {MAX_NAME_CHARS} characters and "
                         "were shortened.")
        if n_blank:
            notes.append(f"{n_blank} zone(s) had no name in '{name_field}' and were named "
                         "'Zone N'.")
        if n_renamed:
            notes.append(
                f"{n_renamed} zone name(s) were already in use and were given a number, "
                "e.g. ' (2)'."
            )
        new_geoms = to_storage(gpd.GeoSeries(list(geoms[keep]), crs=gdf.crs), label, ZoneError)
        out = _append(existing, rows, list(new_geoms))
        outside = _outside_uk(out.zones.geometry.iloc[len(existing.zones):])
        if outside:
            notes.append(f"{outside} imported zone(s) lie outside the UK; check the file's CRS.")
        save_zones(out, zones_dir)
        return load_zones(zones_dir), notes


def _polygonal(geoms: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Repair invalid shapes; keep polygonal parts (None where a feature has none)."""
    out, repaired, skipped = polygonal_parts(geoms, ZoneError)
    notes: list[str] = []
    if repaired:
        notes.append(f"{repaired} invalid polygon(s) were repaired.")
    if skipped:
        notes.append(f"{skipped} feature(s) were skipped because they are not areas "
                     "(points, lines or empty shapes).")
    return out, notes


def _check_plausible(label: str, crs: Any, geoms: np.ndarray) -> None:
    if not crs.is_geographic:
        return
    minx, miny, maxx, maxy = shapely.total_bounds(geoms)
    if min(minx, miny) < -180 or maxx > 180 or maxy > 90:
        raise ZoneError(
            f"The file {label} says it is in longitude/latitude, but its coordinates "
            f"(up to {max(maxx, maxy):,.0f}) look like metres, e.g. British National Grid. "
            "GeoJSON without a 'crs' member is read as longitude/latitude: set the CRS in "
            "your GIS (EPSG:27700) and save it again, or save it as a GeoPackage."
        )


def _outside_uk(geoms: gpd.GeoSeries) -> int:
    if geoms.empty:
        return 0
    b = shapely.bounds(np.asarray(geoms.array, dtype=object))
    inside = (b[:, 0] >= _UK_LON[0]) & (b[:, 2] <= _UK_LON[1])
    inside &= (b[:, 1] >= _UK_LAT[0]) & (b[:, 3] <= _UK_LAT[1])
    return int((~inside).sum())


def _name_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a numbered zone stored as a real: "7", not "7.0"
    return str(value).strip()


def _append(existing: ZoneSet, rows: list[dict[str, str]], geoms: list[Any]) -> ZoneSet:
    # Every zone is counted night by night on every refresh: the total, not only each file,
    # is bounded.
    most = limits().zones
    if len(existing.zones) + len(rows) > most:
        raise ZoneError(f"That would make {len(existing.zones) + len(rows):,} zones; the limit "
                        f"is {most:,} (setting HOTSPOT_MAX_ZONES). Delete zones you no longer "
                        "use first.")
    new = _frame(rows, geoms)
    if existing.zones.empty:
        return ZoneSet(new)
    merged = pd.concat([existing.zones, new], ignore_index=True)
    return ZoneSet(gpd.GeoDataFrame(merged, geometry="geometry", crs=CRS_STORAGE))


def _file_stem(name: str) -> str:
    """Return a file's name without its extensions: ``beats.shp.zip`` -> ``beats``."""
    stem = name
    while True:
        head, dot, ext = stem.rpartition(".")
        if not dot or not head or ext.casefold() not in _FILE_EXTENSIONS:
            return stem
        stem = head


def _clean_name(text: str) -> str:
    """Return ``text`` with control characters (newlines, escapes) removed, spaces tidied."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


class _Namer:
    """Gives each zone a name no other zone has (ignoring case), adding " (2)", " (3)"...

    The next number to try is remembered per name, so 20,000 features called "Village" take
    linear time, not 20,000 x 20,000 / 2 membership tests. The numbers are the same as trying
    2, 3, ... afresh each time: every number below the remembered one is already taken.

    Examples
    --------
    >>> namer = _Namer(["Village", "village (3)"])
    >>> [namer.unique(n) for n in ["Village", "VILLAGE", "Village", "Arches"]]
    ['Village (2)', 'VILLAGE (4)', 'Village (5)', 'Arches']
    """

    def __init__(self, taken: Any) -> None:
        self._taken = {str(n).casefold() for n in taken}
        self._next: dict[str, int] = {}

    def unique(self, name: str) -> str:
        key = name.casefold()
        if key not in self._taken:
            self._taken.add(key)
            return name
        k = self._next.get(key, 2)
        while f"{name} ({k})".casefold() in self._taken:
            k += 1
        self._next[key] = k + 1
        candidate = f"{name} ({k})"
        self._taken.add(candidate.casefold())
        return candidate


# --------------------------------------------------------------------------------------------
# Editing


def add_zone(
    zones_dir: Path,
    geometry_geojson: dict[str, Any],
    name: str,
    origin: str = "drawn",
) -> ZoneSet:
    """Add one zone (drawn on the map or accepted from a suggestion) and save.

    The outline and name come from the browser, so they are checked before anything is
    saved: at most :data:`MAX_CLIENT_VERTICES` points, every point a finite longitude in
    -180..180 and latitude in -90..90, every ring at least three points, and an outline that
    encloses some area.

    Parameters
    ----------
    zones_dir : Path
        A data directory's ``zones/`` folder.
    geometry_geojson : dict
        A GeoJSON Polygon or MultiPolygon in WGS84 longitude/latitude (a Feature wrapping one
        is accepted too). Self-intersecting outlines (a lasso that crosses itself) are
        repaired to the areas they enclose.
    name : str
        Display name, at most :data:`MAX_NAME_CHARS` characters; blank becomes ``"Zone N"``,
        a name in use gets ``" (2)"``.
    origin : {"drawn", "suggested", "imported"}
        How the zone came to exist.

    Returns
    -------
    ZoneSet
        All zones, the new one last.

    Raises
    ------
    ZoneError
        If the geometry is not a polygon in longitude/latitude (or fails a check above), the
        name is too long, or ``origin`` is unknown. Nothing is saved then.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "zones"
    >>> square = {"type": "Polygon", "coordinates": [[[-2.25, 53.47], [-2.24, 53.47],
    ...           [-2.24, 53.48], [-2.25, 53.48], [-2.25, 53.47]]]}
    >>> zs = add_zone(d, square, "Deansgate")
    >>> list(load_zones(d).names().values()), zs.zones["origin"].iloc[-1]
    (['Deansgate'], 'drawn')
    >>> add_zone(d, {"type": "Polygon", "coordinates": [[[-2.25, 53.47], [-2.24, 91.0],
    ...          [-2.24, 53.48]]]}, "Off the map")
    Traceback (most recent call last):
    ...
    geo.zones.ZoneError: The zone's coordinates are not longitude/latitude (WGS84): point 2 is (-2.24, 91). Draw it on the map or convert it to EPSG:4326 first.
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    if origin not in ORIGINS:
        raise ZoneError(f"Unknown zone origin '{origin}'; it must be one of {', '.join(ORIGINS)}.")
    clean = _typed_name(name)
    geom = _geometry_from_geojson(geometry_geojson)
    zones_dir = Path(zones_dir)
    existing = load_zones(zones_dir)
    row = {
        "zone_id": _new_id(set(existing.zones["zone_id"])),
        "name": _Namer(existing.zones["name"]).unique(
            clean or f"Zone {len(existing.zones) + 1}"),
        "origin": origin,
        "created_at": _now(),
        "notes": "",
    }
    out = _append(existing, [row], [geom])
    save_zones(out, zones_dir)
    return out


def lasso_polygon(points: Any) -> dict[str, Any]:
    """Close the points of the map's lasso (``[[lon, lat], ...]``) into a GeoJSON Polygon.

    Raises
    ------
    ZoneError
        If there are fewer than three points or more than :data:`MAX_CLIENT_VERTICES`, or a
        point is not a pair of numbers.

    Examples
    --------
    >>> lasso_polygon([[-2.25, 53.47], [-2.24, 53.47], [-2.24, 53.48]])["coordinates"]
    [[[-2.25, 53.47], [-2.24, 53.47], [-2.24, 53.48], [-2.25, 53.47]]]
    """
    if not isinstance(points, list) or len(points) < 3:
        raise ZoneError("Draw the zone first: choose the lasso in the map's toolbar and circle "
                        "the area.")
    if len(points) > MAX_CLIENT_VERTICES:
        raise ZoneError(f"The drawn outline has {len(points):,} points; the most a zone may "
                        f"have is {MAX_CLIENT_VERTICES:,}. Draw it again more simply.")
    ring = []
    for i, point in enumerate(points, start=1):
        if not (isinstance(point, list | tuple) and len(point) >= 2
                and all(_is_number(v) for v in point[:2])):
            raise ZoneError(f"Point {i:,} of the drawn outline is not a longitude and latitude.")
        ring.append([float(point[0]), float(point[1])])
    return {"type": "Polygon", "coordinates": [[*ring, ring[0]]]}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _typed_name(name: Any) -> str:
    """Return a name typed (or sent) by the user, tidied; refuse it if too long to show."""
    clean = _clean_name(name) if isinstance(name, str) else ""
    if len(clean) > MAX_NAME_CHARS:
        raise ZoneError(f"A zone's name can be at most {MAX_NAME_CHARS} characters; this one "
                        f"has {len(clean):,}.")
    return clean


def _check_outline(kind: str, coordinates: Any) -> None:
    """Check a client-sent Polygon/MultiPolygon's nesting, size and coordinates, point by point.

    The checks run before shapely sees the outline, so a malformed or enormous one gets a
    plain message rather than a library error, and cannot hold the server.
    """
    if isinstance(coordinates, list | tuple) and not coordinates:
        raise ZoneError("The zone's outline is empty.")
    polygons = [coordinates] if kind == "Polygon" else coordinates
    if not isinstance(polygons, list | tuple):
        raise ZoneError("The zone's outline is not a list of rings of points.")
    n_points = 0
    for polygon in polygons:
        if not isinstance(polygon, list | tuple) or not polygon:
            raise ZoneError("The zone's outline is not a list of rings of points.")
        for ring in polygon:
            if not isinstance(ring, list | tuple):
                raise ZoneError("The zone's outline is not a list of rings of points.")
            if len(ring) < 3:
                raise ZoneError("A ring of the zone's outline has fewer than three points, so "
                                "it encloses no area.")
            n_points += len(ring)
            if n_points > MAX_CLIENT_VERTICES:
                raise ZoneError(f"The zone's outline has more than {MAX_CLIENT_VERTICES:,} "
                                "points; simplify it (or import it as a file).")
            for point in ring:
                if not (isinstance(point, list | tuple) and 2 <= len(point) <= 3
                        and all(_is_number(v) for v in point)):
                    raise ZoneError("A point of the zone's outline is not a pair of numbers "
                                    "(longitude, latitude).")
    _check_range(polygons)


def _check_range(polygons: Any) -> None:
    number = 0
    for polygon in polygons:
        for ring in polygon:
            for point in ring:
                number += 1
                lon, lat = float(point[0]), float(point[1])
                if not (math.isfinite(lon) and math.isfinite(lat)):
                    raise ZoneError(f"Point {number:,} of the zone's outline is not a finite "
                                    "number.")
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise ZoneError(
                        "The zone's coordinates are not longitude/latitude (WGS84): point "
                        f"{number:,} is ({lon:g}, {lat:g}). Draw it on the map or convert it "
                        "to EPSG:4326 first."
                    )


def _geometry_from_geojson(obj: Any) -> Any:
    if isinstance(obj, dict) and obj.get("type") == "Feature":
        obj = obj.get("geometry") or {}
    kind = obj.get("type") if isinstance(obj, dict) else None
    if kind not in _POLYGONAL:
        shown = kind if isinstance(kind, str) and len(kind) < 40 else None
        raise ZoneError(
            f"A zone must be an area (a GeoJSON Polygon or MultiPolygon), not {shown or 'nothing'}."
        )
    _check_outline(str(kind), obj.get("coordinates"))
    try:
        geom = shapely.geometry.shape(obj)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            shapely.errors.ShapelyError) as exc:
        raise ZoneError(f"The zone's outline could not be read ({exc}).") from exc
    if geom.is_empty:
        raise ZoneError("The zone's outline is empty.")
    if not geom.is_valid:
        geom = polygonal_parts(np.array([geom], dtype=object), ZoneError)[0][0]
    if geom is None or geom.is_empty or geom.area == 0:
        raise ZoneError("The zone's outline encloses no area.")
    return geom


def _edit(zones_dir: Path, zone_id: str) -> tuple[ZoneSet, int]:
    zs = load_zones(Path(zones_dir))
    hits = np.flatnonzero((zs.zones["zone_id"] == zone_id).to_numpy())
    if hits.size == 0:
        raise ZoneError(f"There is no zone with id '{zone_id}'; it may have been deleted.")
    return zs, int(hits[0])


def rename_zone(zones_dir: Path, zone_id: str, name: str) -> ZoneSet:
    """Rename one zone and save.

    Raises
    ------
    ZoneError
        If no zone has that id, the name is blank, or another zone already has the name.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "zones"
    >>> sq = shapely.geometry.mapping(shapely.box(-2.25, 53.47, -2.24, 53.48))
    >>> zid = add_zone(d, sq, "A").zones["zone_id"].iloc[0]
    >>> rename_zone(d, zid, "Northern Quarter").names()[zid]
    'Northern Quarter'
    """
    zs, i = _edit(zones_dir, zone_id)
    clean = _typed_name(name)
    if not clean:
        raise ZoneError("A zone's name cannot be blank.")
    others = zs.zones["name"].drop(index=zs.zones.index[i]).str.casefold()
    if clean.casefold() in set(others):
        raise ZoneError(f"Another zone is already called '{clean}'; choose a different name.")
    zones = zs.zones.copy()
    zones.loc[zones.index[i], "name"] = clean
    out = ZoneSet(zones)
    save_zones(out, Path(zones_dir))
    return out


def delete_zone(zones_dir: Path, zone_id: str) -> ZoneSet:
    """Delete one zone and save; it is kept so :func:`restore_deleted_zone` can bring it back.

    The deleted zone goes on top of ``zones_dir/deleted.geojson`` (the last
    :data:`DELETED_KEPT` deletions) before the zone file is rewritten, so a crash between the
    two leaves the zone in both places rather than in neither.

    Raises
    ------
    ZoneError
        If no zone has that id.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "zones"
    >>> sq = shapely.geometry.mapping(shapely.box(-2.25, 53.47, -2.24, 53.48))
    >>> zid = add_zone(d, sq, "A").zones["zone_id"].iloc[0]
    >>> len(delete_zone(d, zid).zones), len(load_zones(d).zones)
    (0, 0)
    >>> list(deleted_zones(d).names().values())
    ['A']
    """
    zs, i = _edit(zones_dir, zone_id)
    zones_dir = Path(zones_dir)
    gone = zs.zones.iloc[[i]]
    kept = deleted_zones(zones_dir).zones
    stack = gone if kept.empty else pd.concat([kept, gone], ignore_index=True)
    stack = stack.iloc[-DELETED_KEPT:].reset_index(drop=True)
    write_text_atomic(zones_dir / DELETED_FILE, zones_geojson_export(
        ZoneSet(gpd.GeoDataFrame(stack, geometry="geometry", crs=CRS_STORAGE))))
    zones = zs.zones.drop(index=zs.zones.index[i]).reset_index(drop=True)
    out = ZoneSet(gpd.GeoDataFrame(zones, geometry="geometry", crs=CRS_STORAGE))
    save_zones(out, zones_dir)
    return out


def deleted_zones(zones_dir: Path) -> ZoneSet:
    """Return the zones deleted most recently (oldest first, at most :data:`DELETED_KEPT`)."""
    path = Path(zones_dir) / DELETED_FILE
    if not path.is_file():
        return ZoneSet.empty()
    try:
        features = json.loads(path.read_text(encoding="utf-8"))["features"]
        rows = [{c: str((f.get("properties") or {}).get(c) or "") for c in ZONE_COLUMNS}
                for f in features]
        geoms = [shapely.geometry.shape(f["geometry"]) for f in features]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ZoneError(f"The deleted-zones file {path} could not be read ({exc}); delete it "
                        "to start again (the saved zones are not affected).") from exc
    return ZoneSet(_frame(rows, geoms))


def restore_deleted_zone(zones_dir: Path) -> tuple[ZoneSet, str]:
    """Bring back the zone deleted last, with its id (so links to it work again).

    If another zone has taken its name meanwhile, the restored one is numbered
    (``"Name (2)"``).

    Returns
    -------
    zones : ZoneSet
        All zones, the restored one last.
    name : str
        The restored zone's name.

    Raises
    ------
    ZoneError
        If no deleted zone is kept.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp()) / "zones"
    >>> sq = shapely.geometry.mapping(shapely.box(-2.25, 53.47, -2.24, 53.48))
    >>> zid = add_zone(d, sq, "Deansgate").zones["zone_id"].iloc[0]
    >>> _ = delete_zone(d, zid)
    >>> zs, name = restore_deleted_zone(d)
    >>> name, zs.names() == {zid: "Deansgate"}, len(deleted_zones(d).zones)
    ('Deansgate', True, 0)
    """
    zones_dir = Path(zones_dir)
    stack = deleted_zones(zones_dir).zones
    if stack.empty:
        raise ZoneError("There is no deleted zone to restore.")
    existing = load_zones(zones_dir)
    last = stack.iloc[-1]
    row = {c: str(last[c]) for c in ZONE_COLUMNS}
    if row["zone_id"] in set(existing.zones["zone_id"]):
        row["zone_id"] = _new_id(set(existing.zones["zone_id"]))
    row["name"] = _Namer(existing.zones["name"]).unique(row["name"])
    out = _append(existing, [row], [last.geometry])
    save_zones(out, zones_dir)
    rest = stack.iloc[:-1].reset_index(drop=True)
    write_text_atomic(zones_dir / DELETED_FILE, zones_geojson_export(
        ZoneSet(gpd.GeoDataFrame(rest, geometry="geometry", crs=CRS_STORAGE))))
    return out, row["name"]


# --------------------------------------------------------------------------------------------
# Assignment


def assign_zones(easting: np.ndarray, northing: np.ndarray, zone_set: ZoneSet) -> np.ndarray:
    """Return, for each point, the position of the zone it lies in.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        British National Grid coordinates in metres (EPSG:27700); NaN for unplaced points.
    zone_set : ZoneSet
        The zones.

    Returns
    -------
    numpy.ndarray
        ``int64`` row position in ``zone_set.zones`` per point; -1 for points in no zone, with
        NaN coordinates, or exactly on a zone's edge (``contains`` excludes the boundary).
        Where zones overlap, a point goes to the first of them in zone order, so each point is
        counted once.

    Examples
    --------
    Two overlapping 100 m squares in Manchester (BNG metres):

    >>> x0, y0 = 384_000, 398_000
    >>> zs = ZoneSet(gpd.GeoDataFrame(
    ...     {"zone_id": ["z-1", "z-2"], "name": ["A", "B"], "origin": ["drawn"] * 2,
    ...      "created_at": [""] * 2, "notes": [""] * 2},
    ...     geometry=[shapely.box(x0, y0, x0 + 100, y0 + 100),
    ...               shapely.box(x0 + 50, y0, x0 + 200, y0 + 100)],
    ...     crs="EPSG:27700").to_crs("EPSG:4326"))
    >>> east = x0 + np.array([20.0, 70.0, 150.0, 300.0])
    >>> assign_zones(east, np.full(4, y0 + 50.0), zs).tolist()
    [0, 0, 1, -1]
    """
    if zone_set.zones.empty:
        return assign_polygons(easting, northing, [])
    return assign_polygons(easting, northing, list(zone_set.zones_bng.geometry))


def assign_polygons(easting: np.ndarray, northing: np.ndarray, polygons: Any) -> np.ndarray:
    """Return, for each point, the position of the first polygon containing it (-1: none).

    :func:`assign_zones` for polygons that are not saved zones (e.g. suggested ones).

    Parameters
    ----------
    easting, northing : numpy.ndarray
        British National Grid coordinates in metres (EPSG:27700); NaN for unplaced points.
    polygons : sequence of shapely geometries
        In British National Grid; None or empty geometries contain nothing.

    Examples
    --------
    >>> assign_polygons(np.array([5.0, 50.0]), np.array([5.0, 5.0]),
    ...                 [shapely.box(0, 0, 10, 10)]).tolist()
    [0, -1]
    """
    x = np.asarray(easting, dtype="float64")
    y = np.asarray(northing, dtype="float64")
    if x.shape != y.shape:
        raise ValueError(f"easting and northing differ in length ({x.shape} vs {y.shape})")
    out = np.full(x.shape, -1, dtype="int64")
    if x.size == 0:
        return out
    finite = np.isfinite(x) & np.isfinite(y)
    for i, geom in enumerate(polygons):
        if geom is None or geom.is_empty:
            continue
        minx, miny, maxx, maxy = geom.bounds
        # The bounding box is cheap and rules out most points before the exact test.
        cand = np.flatnonzero(
            finite & (out < 0) & (x >= minx) & (x <= maxx) & (y >= miny) & (y <= maxy)
        )
        if cand.size:
            inside = shapely.contains_xy(geom, x[cand], y[cand])
            out[cand[inside]] = i
    return out
