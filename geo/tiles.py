"""Map tiles from a local MBTiles file: read safely, offline, for the app to serve and print.

An MBTiles file is an SQLite database with a ``metadata`` table (``name``/``value`` rows:
``format``, ``bounds``, ``minzoom``, ``maxzoom``, ``json`` ...) and a ``tiles`` table
(``zoom_level``, ``tile_column``, ``tile_row``, ``tile_data``) whose rows count from the
*south* (TMS order), so a web map's ``y`` is flipped before the look-up. OS Open Zoomstack, which
Ordnance Survey publishes for Great Britain under the Open Government Licence, is such a file of
gzipped Mapbox vector tiles; raster files (PNG, JPEG, WebP) work the same way.

The file is opened read-only and immutable (``file:...?mode=ro&immutable=1``), so the app can
never change it and SQLite takes no locks on it; it is checked when the app starts, with a message
that says what is wrong, rather than on the first map a user opens.
"""

from __future__ import annotations

import gzip
import math
import sqlite3
import threading
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

#: The first bytes of every SQLite 3 database.
SQLITE_MAGIC = b"SQLite format 3\x00"
#: Tile formats served, with their content types.
CONTENT_TYPES = {
    "pbf": "application/x-protobuf",
    "png": "image/png",
    "jpg": "image/jpeg",
    "webp": "image/webp",
}
#: File name extensions accepted in a tile URL for each format.
EXTENSIONS = {"pbf": ("pbf", "mvt"), "png": ("png",), "jpg": ("jpg", "jpeg"), "webp": ("webp",)}
#: Deepest zoom level a tile may be asked for (web maps stop well before this).
MAX_ZOOM = 24
#: Largest tile returned; a bigger blob is a damaged or hostile file, not a map tile.
MAX_TILE_BYTES = 8 * 1024 * 1024
#: Largest decompressed vector tile decoded for a printed map.
MAX_UNZIPPED_TILE_BYTES = 32 * 1024 * 1024
#: Web Mercator's latitude limit.
MAX_LAT = 85.0511287798


class MBTilesError(ValueError):
    """The file given as a basemap is not a usable MBTiles file; the message says why."""


@dataclass(frozen=True)
class TileSetInfo:
    """What an MBTiles file holds, from its metadata (checked and with defaults filled in)."""

    path: Path
    name: str
    format: str
    minzoom: int
    maxzoom: int
    #: West, south, east, north in degrees (WGS84).
    bounds: tuple[float, float, float, float]
    attribution: str = ""
    #: Vector layers (``id`` and ``fields``) from the ``json`` metadata; empty for rasters.
    vector_layers: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    @property
    def is_vector(self) -> bool:
        """True for Mapbox vector tiles (``pbf``)."""
        return self.format == "pbf"

    @property
    def content_type(self) -> str:
        """The HTTP content type of a tile."""
        return CONTENT_TYPES[self.format]

    @property
    def extension(self) -> str:
        """The extension the app's tile URL uses for this file."""
        return EXTENSIONS[self.format][0]


def _sniff(data: bytes) -> str | None:
    """Guess a tile's format from its first bytes (files that leave ``format`` out)."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data.startswith(b"\x1f\x8b") or data[:1] == b"\x1a":  # gzip, or a layer field (3, LEN)
        return "pbf"
    return None


def _number(meta: dict[str, str], key: str, path: Path) -> float | None:
    text = meta.get(key, "").strip()
    if not text:
        return None
    try:
        return float(text)
    except ValueError:
        raise MBTilesError(f"{path}: the metadata value {key}='{text[:40]}' is not a number"
                           ) from None


def _bounds(meta: dict[str, str], path: Path) -> tuple[float, float, float, float]:
    text = meta.get("bounds", "").strip()
    if not text:
        return (-180.0, -MAX_LAT, 180.0, MAX_LAT)
    try:
        west, south, east, north = (float(v) for v in text.split(","))
    except ValueError:
        raise MBTilesError(f"{path}: the metadata bounds '{text[:80]}' are not four numbers "
                           "(west,south,east,north)") from None
    if not (-180 <= west < east <= 180 and -90 <= south < north <= 90):
        raise MBTilesError(f"{path}: the metadata bounds '{text[:80]}' are not west,south,"
                           "east,north in degrees")
    return (west, max(south, -MAX_LAT), east, min(north, MAX_LAT))


def _vector_layers(meta: dict[str, str]) -> tuple[dict[str, Any], ...]:
    import json

    try:
        doc = json.loads(meta.get("json", "") or "{}")
    except ValueError:
        return ()
    layers = doc.get("vector_layers") if isinstance(doc, dict) else None
    if not isinstance(layers, list):
        return ()
    out = []
    for layer in layers[:200]:
        if isinstance(layer, dict) and isinstance(layer.get("id"), str):
            fields = layer.get("fields")
            out.append({"id": layer["id"][:200],
                        "fields": sorted(str(k)[:100] for k in fields)[:200]
                        if isinstance(fields, dict) else []})
    return tuple(out)


class MBTiles:
    """A read-only MBTiles file: its checked metadata and its tiles by web-map ``z/x/y``.

    Parameters
    ----------
    path : str or Path
        The ``.mbtiles`` file.

    Raises
    ------
    MBTilesError
        If the file is missing, is not an SQLite database, lacks the ``metadata`` or
        ``tiles`` table, or has a format other than pbf, png, jpg or webp.

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "tiny.mbtiles"
    >>> write_mbtiles(path, {(0, 0, 0): b"PNG-like bytes"}, format="png")
    >>> tiles = MBTiles(path)
    >>> tiles.info.format, tiles.tile(0, 0, 0), tiles.tile(1, 0, 0)
    ('png', b'PNG-like bytes', None)
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().resolve()
        self._local = threading.local()
        self.info = self._check()

    # -- connections -------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # immutable: SQLite neither locks nor looks for a journal, so a file on read-only media
        # works and a writer elsewhere cannot block a map
        uri = f"file:{quote(str(self.path))}?mode=ro&immutable=1"
        con = sqlite3.connect(uri, uri=True, check_same_thread=False)
        con.execute("PRAGMA query_only = 1")
        return con

    def _con(self) -> sqlite3.Connection:
        # one connection per thread: the server answers tile requests on several threads
        con = getattr(self._local, "con", None)
        if con is None:
            con = self._local.con = self._connect()
        return con

    # -- checks ------------------------------------------------------------------------------
    def _check(self) -> TileSetInfo:
        path = self.path
        if not path.is_file():
            raise MBTilesError(f"the basemap file {path} does not exist (setting "
                               "HOTSPOT_BASEMAP)")
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
        if head != SQLITE_MAGIC:
            raise MBTilesError(f"{path} is not an MBTiles file: it is not an SQLite database. "
                               "HOTSPOT_BASEMAP must name a .mbtiles file such as OS Open "
                               "Zoomstack's")
        try:
            con = self._connect()
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        except sqlite3.DatabaseError as exc:
            raise MBTilesError(f"{path} is not a readable MBTiles file: {exc}") from None
        missing = {"metadata", "tiles"} - tables
        if missing:
            raise MBTilesError(f"{path} is an SQLite database but not an MBTiles file: it has "
                               f"no {' and no '.join(sorted(missing))} table")
        try:
            cols = {r[1] for r in con.execute("PRAGMA table_info(tiles)")}
            need = {"zoom_level", "tile_column", "tile_row", "tile_data"}
            if not need <= cols:
                raise MBTilesError(f"{path}: the tiles table lacks the columns "
                                   f"{', '.join(sorted(need - cols))}")
            meta = {str(k): str(v) for k, v in con.execute(
                "SELECT name, value FROM metadata LIMIT 1000") if k is not None and v is not None}
            fmt = meta.get("format", "").strip().lower()
            if not fmt:
                row = con.execute("SELECT tile_data FROM tiles LIMIT 1").fetchone()
                fmt = (_sniff(bytes(row[0][:16])) if row and row[0] else None) or ""
            fmt = {"jpeg": "jpg", "mvt": "pbf"}.get(fmt, fmt)
            if fmt not in CONTENT_TYPES:
                raise MBTilesError(f"{path}: tiles of format '{fmt[:20] or 'unknown'}' cannot "
                                   "be served; pbf (vector), png, jpg and webp can")
            lo, hi = _number(meta, "minzoom", path), _number(meta, "maxzoom", path)
            if lo is None or hi is None:
                row = con.execute("SELECT MIN(zoom_level), MAX(zoom_level) FROM tiles"
                                  ).fetchone()
                if row is None or row[0] is None:
                    raise MBTilesError(f"{path} holds no tiles")
                lo = row[0] if lo is None else lo
                hi = row[1] if hi is None else hi
        except sqlite3.DatabaseError as exc:
            raise MBTilesError(f"{path} is not a readable MBTiles file: {exc}") from None
        finally:
            con.close()
        minzoom, maxzoom = int(lo), int(hi)
        if not 0 <= minzoom <= maxzoom <= MAX_ZOOM:
            raise MBTilesError(f"{path}: minzoom {minzoom} and maxzoom {maxzoom} are not zoom "
                               f"levels from 0 to {MAX_ZOOM}")
        return TileSetInfo(path=path, name=meta.get("name", path.stem)[:200], format=fmt,
                           minzoom=minzoom, maxzoom=maxzoom, bounds=_bounds(meta, path),
                           attribution=meta.get("attribution", "")[:500],
                           vector_layers=_vector_layers(meta) if fmt == "pbf" else ())

    # -- tiles -------------------------------------------------------------------------------
    def has_zoom(self, z: int) -> bool:
        """Return True if ``z`` is within the file's zoom levels."""
        return self.info.minzoom <= z <= self.info.maxzoom

    def tile(self, z: int, x: int, y: int) -> bytes | None:
        """Return the stored bytes of web-map tile ``z/x/y`` (XYZ, y from the north), or None.

        Raises
        ------
        ValueError
            If ``z``, ``x`` or ``y`` is not a tile of the web-map grid (0 <= x, y < 2**z).
        """
        check_tile(z, x, y)
        if not self.has_zoom(z):
            return None
        tms_y = (1 << z) - 1 - y
        row = self._con().execute(
            "SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? "
            "AND tile_row = ?", (z, x, tms_y)).fetchone()
        if row is None or row[0] is None:
            return None
        data = bytes(row[0])
        if len(data) > MAX_TILE_BYTES:
            raise MBTilesError(f"{self.path}: tile {z}/{x}/{y} is {len(data):,} bytes, more "
                               "than any map tile should be")
        return data

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None


def check_tile(z: int, x: int, y: int) -> None:
    """Raise ValueError unless ``z/x/y`` is a tile of the web-map grid.

    Examples
    --------
    >>> check_tile(2, 3, 3)
    >>> check_tile(2, 4, 0)
    Traceback (most recent call last):
    ...
    ValueError: there is no tile 2/4/0: x and y run from 0 to 3 at zoom 2
    """
    if not 0 <= z <= MAX_ZOOM:
        raise ValueError(f"there is no zoom level {z}: zoom runs from 0 to {MAX_ZOOM}")
    n = 1 << z
    if not (0 <= x < n and 0 <= y < n):
        raise ValueError(f"there is no tile {z}/{x}/{y}: x and y run from 0 to {n - 1} at "
                         f"zoom {z}")


def is_gzipped(data: bytes) -> bool:
    """Return True if ``data`` is gzipped (as most vector MBTiles store their tiles)."""
    return data[:2] == b"\x1f\x8b"


def gunzip_tile(data: bytes) -> bytes:
    """Return a tile decompressed if it was gzipped, refusing one that inflates past a bound."""
    if not is_gzipped(data):
        return data
    out = zlib.decompressobj(16 + zlib.MAX_WBITS)
    body = out.decompress(data, MAX_UNZIPPED_TILE_BYTES)
    if out.unconsumed_tail:
        raise MBTilesError(f"a vector tile decompresses to more than "
                           f"{MAX_UNZIPPED_TILE_BYTES:,} bytes")
    return body


def write_mbtiles(path: str | Path, tiles: dict[tuple[int, int, int], bytes], *,
                  format: str, name: str = "test", vector_layers: Iterable[str] = (),
                  bounds: tuple[float, float, float, float] | None = None) -> None:
    """Write a small MBTiles file from web-map ``(z, x, y)`` tiles (for tests and examples).

    Parameters
    ----------
    path : str or Path
        The file to create (replaced if it exists).
    tiles : dict
        Tile bytes by ``(z, x, y)``, y counted from the north as web maps do; they are stored
        in TMS order as the MBTiles specification says.
    format : str
        ``pbf``, ``png``, ``jpg`` or ``webp``.
    name, vector_layers, bounds
        Metadata written with the tiles.
    """
    import json

    path = Path(path)
    path.unlink(missing_ok=True)
    zooms = [z for z, _, _ in tiles] or [0]
    meta = {"name": name, "format": format, "minzoom": str(min(zooms)),
            "maxzoom": str(max(zooms)), "type": "baselayer", "version": "1"}
    if bounds is not None:
        meta["bounds"] = ",".join(f"{v:g}" for v in bounds)
    layers = list(vector_layers)
    if layers:
        meta["json"] = json.dumps({"vector_layers": [{"id": n, "fields": {}} for n in layers]})
    con = sqlite3.connect(path)
    try:
        con.execute("CREATE TABLE metadata (name TEXT, value TEXT)")
        con.execute("CREATE TABLE tiles (zoom_level INTEGER, tile_column INTEGER, "
                    "tile_row INTEGER, tile_data BLOB)")
        con.execute("CREATE UNIQUE INDEX tile_index ON tiles (zoom_level, tile_column, "
                    "tile_row)")
        con.executemany("INSERT INTO metadata VALUES (?, ?)", meta.items())
        con.executemany("INSERT INTO tiles VALUES (?, ?, ?, ?)",
                        [(z, x, (1 << z) - 1 - y, data) for (z, x, y), data in tiles.items()])
        con.commit()
    finally:
        con.close()


# ---------------------------------------------------------------------------------------------
# Web Mercator
# ---------------------------------------------------------------------------------------------
def lonlat_to_world(lon: float, lat: float) -> tuple[float, float]:
    """Return Web Mercator "world" coordinates: 0 to 1 across, 0 at the north edge.

    Multiply by ``256 * 2**z`` for pixels at zoom ``z``.

    Examples
    --------
    >>> lonlat_to_world(0.0, 0.0)
    (0.5, 0.5)
    """
    lat = max(-MAX_LAT, min(MAX_LAT, lat))
    x = (lon + 180.0) / 360.0
    s = math.sin(math.radians(lat))
    y = 0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)
    return x, y


def metres_per_pixel(lat: float, zoom: float) -> float:
    """Ground metres per 256-pixel-tile pixel at latitude ``lat`` and zoom ``zoom``.

    Examples
    --------
    >>> round(metres_per_pixel(0.0, 0), 1)
    156543.0
    """
    return 2 * math.pi * 6378137.0 * math.cos(math.radians(lat)) / (256 * 2 ** zoom)


def gzip_bytes(data: bytes) -> bytes:
    """Gzip ``data`` reproducibly (no time stamp), as vector MBTiles store their tiles."""
    return gzip.compress(data, mtime=0)
