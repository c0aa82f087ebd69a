"""Reading polygon layers (boundaries, zones) from GIS files, shared by their importers.

Polygon files come from users (the NTE page's upload) and operators (``hotspot boundaries
import``), so they are read defensively. Only three formats are accepted, recognised by their
content and never by their name:

* **GeoJSON**, parsed here rather than by GDAL: GDAL follows a GeoJSON ``crs`` member that
  links to a web address or a file, so a file could make the server fetch a URL. Only EPSG
  codes (and CRS84) are accepted as a ``crs``.
* **GeoPackage** (an SQLite database with the GeoPackage application id), opened with GDAL's
  GPKG driver named explicitly, after checking it holds no views, no virtual tables other
  than spatial indexes and no generated columns: the places where SQL inside the file would
  run when it is read.
* **Shapefile**, uploaded as a zip holding exactly one ``.shp`` with its ``.shx``, ``.dbf``
  and optional ``.prj``/``.cpg``; the parts are extracted by this module, within the size
  limit, into a private folder under names it chooses. On the command line a ``.shp`` with
  its parts beside it is accepted too.

Everything else is refused with a plain message: in particular GDAL virtual datasets (VRT),
which can point at any file or web address, ``/vsi...`` paths and web addresses. The number
of features is bounded by :attr:`geo.settings.Limits.polygon_features`.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import sqlite3
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely
import shapely.geometry

from geo.settings import CRS_STORAGE, limits
from geo.uploads import decompressed_limit_message, feature_limit_message

__all__ = [
    "ACCEPTED_FORMATS",
    "check_source_path",
    "polygonal_parts",
    "read_polygon_layer",
    "to_storage",
]

_POLYGONAL = ("Polygon", "MultiPolygon")

#: What the importers accept, for messages.
ACCEPTED_FORMATS = "GeoJSON, GeoPackage or a zipped Shapefile"

_SQLITE_MAGIC = b"SQLite format 3\x00"
#: GeoPackage ``application_id`` values (header offset 68): 1.2 and later, 1.0, 1.1.
_GPKG_IDS = (b"GPKG", b"GP10", b"GP11")
_ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06")
_GZIP_MAGIC = b"\x1f\x8b"
#: Shapefile main and index files start with the file code 9994, big-endian.
_SHP_MAGIC = b"\x00\x00\x27\x0a"

#: A zipped Shapefile's parts: needed, and optional.
_SHP_NEEDED = (".shp", ".shx", ".dbf")
_SHP_OPTIONAL = (".prj", ".cpg")
#: Sidecars GIS packages add beside a Shapefile (spatial indexes, metadata). They are never
#: extracted, so they cannot be opened; refusing them would refuse most ArcGIS exports.
_SHP_IGNORED = (".sbn", ".sbx", ".shp.xml", ".qix", ".qpj", ".qmd", ".fix", ".atx", ".ain",
                ".aih", ".ixs", ".mxs", ".cst", ".xml")
_ARCHIVES = (".zip", ".gz", ".tgz", ".tar", ".7z", ".rar", ".bz2", ".xz", ".kmz", ".gpkg",
             ".sqlite", ".db")
#: More members than this is not a zipped Shapefile.
_MAX_ZIP_MEMBERS = 64
_CHUNK = 1 << 20

#: ``crs`` names accepted in GeoJSON: an EPSG code or CRS84 (longitude/latitude).
_EPSG_NAME = re.compile(r"^(?:urn:ogc:def:crs:EPSG:[0-9.]*:|EPSG:+)(\d{4,6})$", re.IGNORECASE)
_CRS84_NAME = re.compile(r"^(?:urn:ogc:def:crs:OGC:[0-9.]*:CRS84|OGC:CRS84|CRS84)$",
                         re.IGNORECASE)
#: Strings GDAL reads as something other than a local file.
_GDAL_SPECIAL = re.compile(r"^(?:/vsi[a-z0-9_]*/|[a-z][a-z0-9+.-]*://)", re.IGNORECASE)


def check_source_path(path: Path | str, error: type[Exception]) -> None:
    """Refuse GDAL's virtual paths (``/vsicurl/...``, ``/vsizip/...``) and web addresses.

    A polygon file must be a file on this computer; anything GDAL would fetch or unpack
    itself is refused before it reaches GDAL.

    Examples
    --------
    >>> check_source_path("/vsicurl/http://example.org/areas.geojson", ValueError)
    Traceback (most recent call last):
    ...
    ValueError: '/vsicurl/http://example.org/areas.geojson' is a GDAL virtual path or a web address, not a file. Download the file and import it from this computer, as GeoJSON, GeoPackage or a zipped Shapefile.
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    text = str(path)
    if _GDAL_SPECIAL.match(text.strip()):
        shown = text if len(text) <= 120 else text[:117] + "..."
        raise error(
            f"'{shown}' is a GDAL virtual path or a web address, not a file. Download the "
            f"file and import it from this computer, as {ACCEPTED_FORMATS}."
        )


def read_polygon_layer(
    path: Path, error: type[Exception], *, source_name: str | None = None
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read a GeoJSON, GeoPackage or Shapefile; in a multi-layer file, the first polygon layer.

    The format is recognised from the file's content, whatever its name.

    Parameters
    ----------
    path : Path
        A file on this computer.
    error : type of Exception
        The caller's own exception type, raised with one plain-English message when the file
        cannot be read or is refused.
    source_name : str, optional
        How to name the file in messages (default: its name); an upload's original name.

    Returns
    -------
    tuple of (geopandas.GeoDataFrame, list of str)
        The features with their attributes and CRS (None when the file gives none), and
        notes on what was chosen (e.g. which layer of several).

    Examples
    --------
    >>> import tempfile
    >>> p = Path(tempfile.mkdtemp()) / "zone.json"
    >>> _ = p.write_text('{"type": "Feature", "properties": {"name": "A"}, "geometry": '
    ...                  '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}}')
    >>> gdf, notes = read_polygon_layer(p, ValueError)
    >>> gdf["name"].tolist(), gdf.crs.to_epsg(), notes
    (['A'], 4326, [])
    >>> _ = p.write_text('<OGRVRTDataSource><OGRVRTLayer name="x"/></OGRVRTDataSource>')
    >>> read_polygon_layer(p, ValueError)
    Traceback (most recent call last):
    ...
    ValueError: The file zone.json is a GDAL virtual dataset (VRT), which can point at other files and web addresses, so it is not accepted. Save the layer as GeoJSON, GeoPackage or a zipped Shapefile and import that.
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    check_source_path(path, error)
    path = Path(path)
    name = source_name or path.name
    cap = limits().polygon_features
    kind = _sniff(path, name, error)
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="hotspot-polygons-") as tmp:
        private = Path(tmp)
        if kind == "geojson":
            gdf = _read_geojson(path, name, error, cap)
        elif kind == "gpkg":
            _check_geopackage(path, name, error)
            link = private / "layer.gpkg"
            link.symlink_to(path.resolve())
            # The GPKG: prefix names GDAL's driver, so nothing else can claim the file.
            gdf, notes = _read_with_gdal(f"GPKG:{link}", name, error, cap)
        else:
            if kind == "zip":
                notes = _extract_shapefile(path, name, error, private)
            else:
                notes = _link_shapefile(path, name, error, private)
            gdf, more = _read_with_gdal(str(private / "layer.shp"), name, error, cap)
            notes += more
    crs = gdf.crs
    if crs is not None and not (crs.is_projected or crs.is_geographic):
        raise error(
            f"The file {name} is in {crs.name} ({crs.type_name}), which is not a map "
            "projection or longitude/latitude, so its shapes cannot be placed on the map. "
            "Save it in a map CRS (e.g. EPSG:27700 or EPSG:4326) and import it again."
        )
    return gdf, notes


def to_storage(geoms: gpd.GeoSeries, name: str, error: type[Exception]) -> gpd.GeoSeries:
    """Reproject shapes to WGS84 (EPSG:4326), refusing any that land off the globe.

    A wrong CRS (or coordinates far beyond its area of use) can project to infinity or to
    longitudes beyond 180; such shapes cannot be drawn or measured, so the import stops
    with a message rather than saving them.

    Examples
    --------
    >>> bng = gpd.GeoSeries([shapely.box(384_000, 398_000, 384_100, 398_100)], crs=27700)
    >>> to_storage(bng, "nte.gpkg", ValueError).total_bounds.round(3).tolist()
    [-2.243, 53.478, -2.241, 53.479]
    """
    out = geoms.to_crs(CRS_STORAGE)
    present = ~(shapely.is_missing(out.array) | shapely.is_empty(out.array))
    if present.any():
        bounds = shapely.bounds(np.asarray(out.array, dtype=object)[present])
        ok = np.isfinite(bounds).all(axis=1)
        ok &= (bounds[:, 0] >= -180) & (bounds[:, 2] <= 180)
        ok &= (bounds[:, 1] >= -90) & (bounds[:, 3] <= 90)
        if not ok.all():
            raise error(
                f"The file {name} has {int((~ok).sum()):,} shape(s) that do not land on the "
                "globe when converted to longitude/latitude: its CRS is probably wrong. Check "
                "the CRS in your GIS and save it again."
            )
    return out


def _refusal(name: str, why: str) -> str:
    return (f"The file {name} could not be read as {ACCEPTED_FORMATS}: {why}. Check it opens "
            "in a GIS and import it again.")


def _sniff(path: Path, name: str, error: type[Exception]) -> str:
    """Return "geojson", "gpkg", "zip" or "shp" from the file's first bytes, or refuse it."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise error(_refusal(name, f"it could not be opened ({exc})")) from None
    if head.startswith(_SQLITE_MAGIC):
        if head[68:72] in _GPKG_IDS:
            return "gpkg"
        raise error(_refusal(name, "it is an SQLite database but not a GeoPackage"))
    if head.startswith(_ZIP_MAGICS):
        return "zip"
    if head.startswith(_SHP_MAGIC):
        return "shp"
    if head.startswith(_GZIP_MAGIC):
        raise error(_refusal(name, "it is gzip-compressed; decompress it first"))
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "geojson"
    if b"<OGRVRTDataSource" in head or b"<ogrvrtdatasource" in head.lower():
        raise error(
            f"The file {name} is a GDAL virtual dataset (VRT), which can point at other files "
            "and web addresses, so it is not accepted. Save the layer as GeoJSON, GeoPackage "
            "or a zipped Shapefile and import that."
        )
    if text.startswith(b"<"):
        raise error(_refusal(name, "it is an XML file (KML, GML or a GDAL virtual dataset?), "
                                   "which is not accepted"))
    raise error(_refusal(name, "its content is none of these formats"))


# --------------------------------------------------------------------------------------------
# GeoJSON


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not a number GeoJSON allows")


def _read_geojson(path: Path, name: str, error: type[Exception], cap: int) -> gpd.GeoDataFrame:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(_refusal(name, f"GeoJSON must be UTF-8 text ({exc.reason} at byte "
                                   f"{exc.start:,})")) from None
    try:
        doc = json.loads(text, parse_float=_finite_float, parse_constant=_no_constant)
    except RecursionError:
        raise error(_refusal(name, "its JSON is nested too deeply")) from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise error(_refusal(name, f"it is not valid JSON ({exc})")) from None
    del text
    if not isinstance(doc, dict):
        raise error(_refusal(name, "it is JSON but not a GeoJSON object"))
    kind = doc.get("type")
    if kind == "FeatureCollection":
        features = doc.get("features")
        if not isinstance(features, list):
            raise error(_refusal(name, "its 'features' member is not a list"))
    elif kind == "Feature":
        features = [doc]
    elif kind in ("Polygon", "MultiPolygon", "GeometryCollection", "Point", "MultiPoint",
                  "LineString", "MultiLineString"):
        features = [{"type": "Feature", "properties": {}, "geometry": doc}]
    else:
        raise error(_refusal(name, f"it is JSON but its type is '{str(kind)[:40]}', not a "
                                   "GeoJSON FeatureCollection"))
    crs = _geojson_crs(doc.get("crs"), name, error)
    if len(features) > cap:
        raise error(feature_limit_message(name, len(features), cap))
    records: list[dict[str, Any]] = []
    geoms: list[Any] = []
    for number, feature in enumerate(features, start=1):
        if not isinstance(feature, dict) or feature.get("type") != "Feature":
            raise error(_refusal(name, f"item {number:,} of its features is not a GeoJSON "
                                       "Feature"))
        props = feature.get("properties")
        records.append({str(k): _cell(v) for k, v in props.items()}
                       if isinstance(props, dict) else {})
        geoms.append(_geometry(feature.get("geometry"), number, name, error))
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    frame.index = pd.RangeIndex(len(geoms))
    if "geometry" in frame.columns:
        # A property called "geometry" would collide with the shapes themselves.
        frame = frame.rename(columns={"geometry": "geometry_property"})
    return gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(geoms, crs=crs), crs=crs)


def _cell(value: Any) -> Any:
    """Return a property value as a table cell: lists and objects become their JSON text."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


def _geometry(obj: Any, number: int, name: str, error: type[Exception]) -> Any:
    if obj is None:
        return None
    try:
        return shapely.geometry.shape(obj)
    except (ValueError, TypeError, KeyError, IndexError, AttributeError,
            shapely.errors.ShapelyError) as exc:
        raise error(_refusal(name, f"feature {number:,} has a geometry that cannot be read "
                                   f"({str(exc)[:120]})")) from None


def _geojson_crs(member: Any, name: str, error: type[Exception]) -> pyproj.CRS:
    """Return the CRS a GeoJSON ``crs`` member names: an EPSG code or CRS84, nothing else.

    RFC 7946 GeoJSON has no ``crs`` and is longitude/latitude; older files (and QGIS exports
    in British National Grid) name an EPSG code. Linked CRSs (files, web addresses) are
    refused rather than followed.
    """
    if member is None:
        return pyproj.CRS.from_epsg(4326)
    props = member.get("properties") if isinstance(member, dict) else None
    kind = member.get("type") if isinstance(member, dict) else None
    code: int | None = None
    shown = json.dumps(member)[:100]
    if kind == "name" and isinstance(props, dict) and isinstance(props.get("name"), str):
        text = props["name"].strip()
        shown = text[:100]
        if _CRS84_NAME.match(text):
            return pyproj.CRS.from_epsg(4326)
        found = _EPSG_NAME.match(text)
        code = int(found.group(1)) if found else None
    elif (kind == "EPSG" and isinstance(props, dict) and isinstance(props.get("code"), int)
          and not isinstance(props.get("code"), bool)):
        code = props["code"]
    if code is None:
        raise error(
            f"The file {name} names its coordinate reference system as '{shown}', which is not "
            "an EPSG code; links to other files or web addresses are not followed. Save it "
            "from your GIS with an EPSG code (e.g. EPSG:27700) and import it again."
        )
    try:
        return pyproj.CRS.from_epsg(code)
    except pyproj.exceptions.CRSError:
        raise error(f"The file {name} names the coordinate reference system EPSG:{code}, "
                    "which is not a known EPSG code.") from None


# --------------------------------------------------------------------------------------------
# GeoPackage


def _check_geopackage(path: Path, name: str, error: type[Exception]) -> None:
    """Refuse a GeoPackage holding SQL that reading it would run.

    Views, virtual tables (other than the R*Tree spatial indexes every GeoPackage has) and
    generated columns are evaluated when a table is read, so a hostile file could use them to
    call functions GDAL registers. Triggers only run on writes, and the file is opened
    read-only.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
    try:
        con = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as exc:
        raise error(_refusal(name, f"the GeoPackage could not be opened ({exc})")) from None
    try:
        objects = con.execute("SELECT type, name, sql FROM sqlite_master").fetchall()
        generated = []
        for kind, table, sql in objects:
            text = " ".join(str(sql or "").split()).upper()
            if kind == "view":
                raise error(_refusal(name, f"the GeoPackage holds a view ('{table}'); export "
                                           "the layer to a new GeoPackage without views"))
            if kind == "table" and text.startswith("CREATE VIRTUAL TABLE"):
                if " USING RTREE(" not in text.replace("RTREE (", "RTREE("):
                    raise error(_refusal(name, f"the GeoPackage holds a virtual table "
                                               f"('{table}') that is not a spatial index"))
            elif kind == "table":
                quoted = '"' + str(table).replace('"', '""') + '"'
                info = con.execute(f"PRAGMA table_xinfo({quoted})").fetchall()
                # hidden = 2 or 3 marks a generated column.
                generated += [f"{table}.{row[1]}" for row in info if row[6] in (2, 3)]
        if generated:
            raise error(_refusal(name, "the GeoPackage has generated columns "
                                       f"({', '.join(generated[:3])})"))
    except sqlite3.Error as exc:
        raise error(_refusal(name, f"the GeoPackage is damaged ({exc})")) from None
    finally:
        con.close()


# --------------------------------------------------------------------------------------------
# Shapefile


def _zip_member_count(path: Path) -> int | None:
    """Members listed in the zip's end record, read before the central directory is parsed."""
    size = path.stat().st_size
    with path.open("rb") as fh:
        fh.seek(max(0, size - 65_557))
        tail = fh.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(tail):
        return None
    return int(struct.unpack("<H", tail[at + 10: at + 12])[0])


def _part_of(member: str) -> tuple[str, str]:
    """(stem, extension) of a member name, casefolded; ``.shp.xml`` counts as one extension."""
    base = PurePosixPath(member).name.casefold()
    for ext in (".shp.xml",):
        if base.endswith(ext):
            return base[: -len(ext)], ext
    stem, dot, ext = base.rpartition(".")
    return (stem, "." + ext) if dot else (base, "")


def _extract_shapefile(path: Path, name: str, error: type[Exception], dest: Path) -> list[str]:
    """Check a zipped Shapefile's members and extract its parts to ``dest/layer.*``."""
    count = _zip_member_count(path)
    if count is None:
        raise error(_refusal(name, "it starts like a zip archive but is damaged or cut short"))
    if count > _MAX_ZIP_MEMBERS:
        raise error(_refusal(name, f"the zip holds {count:,} files; a zipped Shapefile holds "
                                   "a handful (.shp, .shx, .dbf, .prj)"))
    cap = limits().upload_decompressed_bytes
    notes: list[str] = []
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > _MAX_ZIP_MEMBERS:
                raise error(_refusal(name, f"the zip holds {len(infos):,} files"))
            parts: dict[str, dict[str, zipfile.ZipInfo]] = {}
            ignored: list[str] = []
            for info in infos:
                member = info.filename
                pieces = member.replace("\\", "/").split("/")
                if (member.startswith(("/", "\\")) or ".." in pieces
                        or re.match(r"^[A-Za-z]:", member)):
                    raise error(_refusal(name, f"the zip member '{member[:80]}' points outside "
                                               "the archive"))
                if info.is_dir():
                    continue
                base = pieces[-1]
                if pieces[0] == "__MACOSX" or base.startswith("._") or base in (
                        ".DS_Store", "Thumbs.db", "desktop.ini"):
                    continue  # folder metadata added by macOS Finder and Windows Explorer
                if info.flag_bits & 0x1:
                    raise error(_refusal(name, "the zip is password-protected"))
                stem, ext = _part_of(member)
                if ext == ".vrt":
                    raise error(_refusal(name, f"the zip holds a GDAL virtual dataset "
                                               f"('{base[:80]}'), which is not accepted"))
                if ext in _ARCHIVES:
                    raise error(_refusal(name, f"the zip holds another archive "
                                               f"('{base[:80]}'); zip the Shapefile's own "
                                               "files only"))
                if ext in _SHP_IGNORED:
                    ignored.append(base)
                    continue
                if ext not in _SHP_NEEDED + _SHP_OPTIONAL:
                    raise error(_refusal(name, f"the zip holds '{base[:80]}', which is not part "
                                               "of a Shapefile (.shp, .shx, .dbf, .prj, .cpg)"))
                if ext in parts.setdefault(stem, {}):
                    raise error(_refusal(name, f"the zip holds two '{ext}' files named "
                                               f"'{stem[:60]}'"))
                parts[stem][ext] = info
            layers = [s for s, p in parts.items() if ".shp" in p]
            if len(layers) != 1:
                found = "no .shp file" if not layers else f"{len(layers)} .shp files"
                raise error(_refusal(name, f"the zip holds {found}; a zipped Shapefile holds "
                                           "exactly one, with its .shx, .dbf and .prj"))
            stem = layers[0]
            strays = sorted(s for s in parts if s != stem)
            if strays:
                raise error(_refusal(name, f"the zip holds files for '{strays[0][:60]}' as well "
                                           f"as '{stem[:60]}'; zip one Shapefile at a time"))
            missing = [e for e in _SHP_NEEDED if e not in parts[stem]]
            if missing:
                raise error(_refusal(name, f"the zip lacks the Shapefile's {', '.join(missing)} "
                                           "file(s)"))
            declared = sum(i.file_size for i in parts[stem].values())
            if declared > cap:
                raise error(decompressed_limit_message(name, cap))
            written = 0
            for ext, info in parts[stem].items():
                # Stream each part, counting what actually comes out: the sizes a zip
                # declares can lie.
                with zf.open(info) as src, (dest / f"layer{ext}").open("wb") as out:
                    while chunk := src.read(_CHUNK):
                        written += len(chunk)
                        if written > cap:
                            raise error(decompressed_limit_message(name, cap))
                        out.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError,
            OSError, RuntimeError) as exc:
        raise error(_refusal(name, f"the zip is damaged or uses an unsupported compression "
                                   f"({exc})")) from None
    _check_shapefile_parts(dest, name, error)
    if ignored:
        notes.append(f"Files not needed to read the Shapefile were left aside: "
                     f"{', '.join(sorted(ignored)[:5])}.")
    return notes


def _link_shapefile(path: Path, name: str, error: type[Exception], dest: Path) -> list[str]:
    """Link a ``.shp`` on this computer and its parts beside it as ``dest/layer.*``."""
    stem = path.name.rpartition(".")[0].casefold() if "." in path.name else path.name.casefold()
    beside = {p.name.casefold(): p for p in path.parent.iterdir() if p.is_file()}
    found = {".shp": path}
    for ext in _SHP_NEEDED[1:] + _SHP_OPTIONAL:
        if stem + ext in beside:
            found[ext] = beside[stem + ext]
    missing = [e for e in _SHP_NEEDED if e not in found]
    if missing:
        raise error(_refusal(
            name, f"a Shapefile needs its {', '.join(missing)} file(s) beside the .shp. Zip "
                  "the .shp, .shx, .dbf and .prj together and import the .zip"))
    for ext, src in found.items():
        (dest / f"layer{ext}").symlink_to(src.resolve())
    _check_shapefile_parts(dest, name, error)
    return []


def _check_shapefile_parts(dest: Path, name: str, error: type[Exception]) -> None:
    for ext in (".shp", ".shx"):
        with (dest / f"layer{ext}").open("rb") as fh:
            if fh.read(4) != _SHP_MAGIC:
                raise error(_refusal(name, f"its {ext} file is not a Shapefile {ext} file"))


# --------------------------------------------------------------------------------------------
# GDAL


def _read_with_gdal(
    source: str, name: str, error: type[Exception], cap: int
) -> tuple[gpd.GeoDataFrame, list[str]]:
    """Read the first polygon layer of a checked GeoPackage or Shapefile in a private folder."""
    notes: list[str] = []
    try:
        layers = pyogrio.list_layers(source)
        layer = None
        if len(layers) > 1:
            polygonal = [str(n) for n, t in layers if t is not None and "Polygon" in str(t)]
            layer = polygonal[0] if polygonal else str(layers[0][0])
            notes.append(f"The file has {len(layers)} layers; the layer '{layer}' was used.")
        n_features = int(pyogrio.read_info(source, layer=layer)["features"])
        if n_features > cap:
            raise error(feature_limit_message(name, n_features, cap))
        gdf = pyogrio.read_dataframe(source, layer=layer)
    except error:
        raise
    except Exception as exc:  # pyogrio raises several GDAL-derived types
        raise error(_refusal(name, f"GDAL could not read it ({str(exc)[:200]})")) from exc
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise error(_refusal(name, "it holds a table without shapes"))
    return gdf, notes


#: Most vertices an invalid (self-crossing) outline may have for it to be repaired here. Repair
#: time grows with the square of the vertices (20,000 take about a second); a real zone or
#: boundary that crosses itself with more is best fixed in a GIS, where someone can look at it.
MAX_REPAIR_VERTICES = 20_000


def polygonal_parts(geoms: np.ndarray,
                    error: type[Exception] = ValueError) -> tuple[np.ndarray, int, int]:
    """Repair invalid geometries and keep only their polygonal parts.

    Returns the geometries (None where a feature has no area: empty, points or lines), how
    many were repaired, and how many have no polygon. An invalid outline of more than
    :data:`MAX_REPAIR_VERTICES` vertices raises ``error`` (the caller's own type) instead.

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
        vertices = shapely.get_num_coordinates(geoms[invalid])
        if vertices.max() > MAX_REPAIR_VERTICES:
            which = int(np.flatnonzero(invalid)[int(np.argmax(vertices))]) + 1
            raise error(f"Shape {which} crosses itself and has {int(vertices.max()):,} points, "
                        f"too many to repair here (at most {MAX_REPAIR_VERTICES:,}). Repair it "
                        "in a GIS (QGIS: Vector > Geometry Tools > Fix Geometries) or simplify "
                        "it, and import it again.")
        geoms = geoms.copy()
        # "structure" keeps the area the outline encloses and is several times faster than
        # GEOS's default on long self-crossing outlines
        geoms[invalid] = shapely.make_valid(geoms[invalid], method="structure",
                                            keep_collapsed=False)
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


@contextlib.contextmanager
def plain_errors(name: str, error: type[Exception]) -> Iterator[None]:
    """Turn the deep failures of odd shapes into the caller's plain error.

    Outlines nested deeper than Python recurses, or coordinate systems PROJ cannot use (a
    sphere of radius 1, a unit of 1e-300 m), fail inside shapely or pyproj; the user gets one
    sentence naming the file instead.

    Examples
    --------
    >>> with plain_errors("zones.geojson", ValueError):
    ...     raise RecursionError("maximum recursion depth exceeded")
    Traceback (most recent call last):
    ...
    ValueError: The file zones.geojson holds a shape nested too deeply to read. Check it ...
    """
    from pyproj.exceptions import CRSError, ProjError

    try:
        yield
    except RecursionError:
        raise error(f"The file {name} holds a shape nested too deeply to read. Check it opens "
                    "in a GIS and import it again.") from None
    except (ProjError, CRSError) as exc:
        raise error(f"The file {name} has a coordinate system that cannot be used "
                    f"({str(exc)[:160]}). Save it in British National Grid (EPSG:27700) or "
                    "WGS84 (EPSG:4326) and import it again.") from None
