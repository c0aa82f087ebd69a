"""Static map images for the printed documents, drawn on the server with nothing fetched.

A briefing or deployment sheet is printed, photographed and handed round, so its map must be
in the page itself: a PNG drawn here from the site's MBTiles basemap (raster tiles stitched, or
vector tiles decoded and drawn: land, water, buildings, roads, rail, street and place names),
or, with no basemap, the boundaries and their names. The numbered markers, outlines and
incidents are drawn over it by the template as SVG, so they stay sharp and match the table.

Everything is in Web Mercator pixels (north up); :meth:`Frame.xy` places a longitude and
latitude on the image, and :attr:`Frame.metres_per_px` sizes the scale bar.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from geo.tiles import MBTiles, gunzip_tile, lonlat_to_world

#: Most tiles drawn for one printed map (a frame needs four to nine).
MAX_TILES = 16
#: Vector maps are drawn this many times larger, then shrunk: smooth lines without
#: anti-aliased drawing.
SUPERSAMPLE = 2
LAND = (244, 243, 240)
WATER = (202, 214, 220)
TEXT = (60, 64, 68)
_FILLS = {"sea": WATER, "surfacewater": WATER, "urban_areas": (233, 231, 226),
          "sites": (236, 232, 225), "greenspace": (225, 234, 219),
          "greenspaces": (225, 234, 219), "woodland": (217, 228, 210),
          "foreshore": (235, 233, 226), "buildings": (220, 217, 210),
          "local_buildings": (220, 217, 210), "district_buildings": (220, 217, 210)}
#: Road widths in pixels at print size, by Zoomstack's road type.
_ROAD_WIDTH = {"Motorway": 5.0, "Primary": 4.5, "A Road": 4.0, "B Road": 3.5, "Minor": 3.0,
               "Local": 2.5, "Restricted": 1.5}
_ROAD_COLOUR = {"Motorway": (243, 217, 177), "Primary": (250, 240, 215),
                "A Road": (250, 240, 215)}


@dataclass(frozen=True)
class Frame:
    """A north-up Web Mercator view: its top-left in world units, its size and zoom.

    ``world`` units run 0 to 1 across the whole web map; at zoom ``z`` one 256-pixel tile is
    ``1 / 2**z`` of them.
    """

    left: float
    top: float
    width: int
    height: int
    zoom: float
    lat: float

    @property
    def scale(self) -> float:
        """Pixels per world unit."""
        return 256.0 * 2.0 ** self.zoom

    @property
    def metres_per_px(self) -> float:
        """Ground metres per pixel at the frame's centre."""
        return 2 * math.pi * 6378137.0 * math.cos(math.radians(self.lat)) / self.scale

    def xy(self, lon: float, lat: float) -> tuple[float, float]:
        """Return the image position of a longitude and latitude."""
        wx, wy = lonlat_to_world(lon, lat)
        return (wx - self.left) * self.scale, (wy - self.top) * self.scale


def frame_around(lons: Sequence[float], lats: Sequence[float], *, width: int, height: int,
                 pad: float = 0.15, min_span_m: float = 300.0) -> Frame:
    """Return the frame that shows every point with a margin, at least ``min_span_m`` across.

    Examples
    --------
    >>> f = frame_around([-2.70, -2.69], [53.76, 53.765], width=400, height=300)
    >>> all(0 < v < 400 for v in f.xy(-2.695, 53.762)), round(f.metres_per_px * 400) > 663
    (True, True)
    """
    pts = [lonlat_to_world(lo, la) for lo, la in zip(lons, lats, strict=True)]
    xs, ys = [p[0] for p in pts], [p[1] for p in pts]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    lat = sum(lats) / len(lats)
    metres_per_world = 2 * math.pi * 6378137.0 * math.cos(math.radians(lat))
    span = max((max(xs) - min(xs)) * (1 + 2 * pad), (max(ys) - min(ys)) * (1 + 2 * pad)
               * width / height, min_span_m / metres_per_world)
    scale = width / span
    zoom = math.log2(scale / 256.0)
    return Frame(left=cx - width / scale / 2, top=cy - height / scale / 2, width=width,
                 height=height, zoom=zoom, lat=lat)


def _tiles_for(frame: Frame, z: int) -> list[tuple[int, int]]:
    n = 1 << z
    x0, x1 = int(frame.left * n), int((frame.left + frame.width / frame.scale) * n)
    y0, y1 = int(frame.top * n), int((frame.top + frame.height / frame.scale) * n)
    return [(x, y) for x in range(max(0, x0), min(n - 1, x1) + 1)
            for y in range(max(0, y0), min(n - 1, y1) + 1)]


def _zoom_for(frame: Frame, tiles: MBTiles, extra: float) -> int:
    z = min(max(math.ceil(frame.zoom + extra - 1e-9), tiles.info.minzoom), tiles.info.maxzoom)
    while z > tiles.info.minzoom and len(_tiles_for(frame, z)) > MAX_TILES:
        z -= 1
    return z


def _png(img: Any) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def data_uri(png: bytes) -> str:
    """Return a PNG as a ``data:`` URI (the page carries its own map)."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ---------------------------------------------------------------------------------------------
# Raster
# ---------------------------------------------------------------------------------------------
def _raster(frame: Frame, tiles: MBTiles) -> Any:
    from PIL import Image

    z = _zoom_for(frame, tiles, extra=0.0)
    n = 1 << z
    k = 256.0 * n / frame.scale  # tile pixels per frame pixel
    out = Image.new("RGB", (frame.width, frame.height), (255, 255, 255))
    drew = False
    for x, y in _tiles_for(frame, z):
        data = tiles.tile(z, x, y)
        if not data:
            continue
        try:
            tile = Image.open(io.BytesIO(data)).convert("RGB")
        except OSError:
            continue
        # where the tile lands on the frame, and at what size
        px0 = (x / n - frame.left) * frame.scale
        py0 = (y / n - frame.top) * frame.scale
        size = max(1, round(256 / k))
        out.paste(tile.resize((size, size), Image.Resampling.LANCZOS),
                  (round(px0), round(py0)))
        drew = True
    return out if drew else None


# ---------------------------------------------------------------------------------------------
# Vector
# ---------------------------------------------------------------------------------------------
def _font(size: int) -> Any:
    from PIL import ImageFont

    from dashboard.glyphs import font_files

    return ImageFont.truetype(str(font_files()[0]), size)


def _rings(geom: dict[str, Any]) -> list[list[list[float]]]:
    t, c = geom["type"], geom["coordinates"]
    if t == "Polygon":
        return list(c)
    if t == "MultiPolygon":
        return [r for poly in c for r in poly]
    return []


def _lines(geom: dict[str, Any]) -> list[list[list[float]]]:
    t, c = geom["type"], geom["coordinates"]
    if t == "LineString":
        return [c]
    if t == "MultiLineString":
        return list(c)
    return []


def _points(geom: dict[str, Any]) -> list[list[float]]:
    t, c = geom["type"], geom["coordinates"]
    return [c] if t == "Point" else list(c) if t == "MultiPoint" else []


def _vector(frame: Frame, tiles: MBTiles) -> Any:
    import mapbox_vector_tile
    from PIL import Image, ImageDraw

    z = _zoom_for(frame, tiles, extra=0.0)
    n = 1 << z
    s = SUPERSAMPLE
    img = Image.new("RGB", (frame.width * s, frame.height * s), LAND)
    draw = ImageDraw.Draw(img)
    fills: list[tuple[str, list[tuple[float, float]]]] = []
    other_fills: list[list[tuple[float, float]]] = []
    lines: list[tuple[str, str, list[tuple[float, float]]]] = []
    labels: list[tuple[str, str, tuple[float, float]]] = []
    road_names: dict[str, list[tuple[float, float]]] = {}
    for x, y in _tiles_for(frame, z):
        data = tiles.tile(z, x, y)
        if not data:
            continue
        try:
            layers = mapbox_vector_tile.decode(gunzip_tile(data),
                                               default_options={"y_coord_down": True})
        except Exception:  # a damaged tile leaves a gap, not a failed briefing  # noqa: BLE001
            continue
        for name, layer in layers.items():
            extent = float(layer.get("extent", 4096))

            def px(pt: Sequence[float], x: int = x, y: int = y, extent: float = extent
                   ) -> tuple[float, float]:
                return (((x + pt[0] / extent) / n - frame.left) * frame.scale * s,
                        ((y + pt[1] / extent) / n - frame.top) * frame.scale * s)

            for feat in layer["features"]:
                geom, props = feat["geometry"], feat.get("properties") or {}
                for ring in _rings(geom):
                    pts = [px(p) for p in ring]
                    if name in _FILLS:
                        fills.append((name, pts))
                    elif name not in ("national_parks", "names", "roads"):
                        other_fills.append(pts)
                for line in _lines(geom):
                    pts = [px(p) for p in line]
                    kind = str(props.get("type", ""))
                    lines.append((name, kind, pts))
                    road = props.get("name") if name == "roads" else None
                    if road and len(pts) >= 2:
                        best = road_names.get(str(road))
                        if best is None or _length(pts) > _length(best):
                            road_names[str(road)] = pts
                for pt in _points(geom):
                    text = props.get("name1") or props.get("name")
                    if text:
                        labels.append((str(text), str(props.get("type", "")), px(pt)))
    if not (fills or other_fills or lines or labels):
        return None
    order = list(_FILLS)  # sea and land cover first, buildings last
    for name, pts in sorted(fills, key=lambda f: order.index(f[0])):
        if len(pts) >= 3:
            draw.polygon(pts, fill=_FILLS[name])
    for pts in other_fills:
        if len(pts) >= 3:
            draw.polygon(pts, fill=(222, 219, 211))
    for name, _kind, pts in lines:
        if name in ("waterlines",):
            draw.line(pts, fill=WATER, width=2 * s)
        elif name == "rail":
            draw.line(pts, fill=(150, 150, 150), width=s)
        elif name == "boundaries":
            draw.line(pts, fill=(160, 155, 176), width=s)
        elif name not in ("roads", "contours", "etl"):
            draw.line(pts, fill=(181, 178, 170), width=s)
    roads = [(k, p) for name, k, p in lines if name == "roads"]
    for kind, pts in roads:  # casings first, then the roads over them
        w = _ROAD_WIDTH.get(kind, 2.0) * s
        draw.line(pts, fill=(190, 186, 178), width=round(w + 2 * s), joint="curve")
    for kind, pts in roads:
        w = _ROAD_WIDTH.get(kind, 2.0) * s
        draw.line(pts, fill=_ROAD_COLOUR.get(kind, (255, 255, 255)), width=round(w),
                  joint="curve")
    img = img.resize((frame.width, frame.height), Image.Resampling.LANCZOS)
    _draw_labels(img, frame, labels, road_names, 1.0 / s)
    return img


def _length(pts: Sequence[tuple[float, float]]) -> float:
    return sum(math.dist(a, b) for a, b in zip(pts, pts[1:], strict=False))


def _midpoint(pts: Sequence[tuple[float, float]]) -> tuple[float, float]:
    half, run = _length(pts) / 2, 0.0
    for a, b in zip(pts, pts[1:], strict=False):
        step = math.dist(a, b)
        if run + step >= half and step > 0:
            t = (half - run) / step
            return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        run += step
    return pts[0]


def _draw_labels(img: Any, frame: Frame, labels: list[tuple[str, str, tuple[float, float]]],
                 road_names: dict[str, list[tuple[float, float]]], k: float) -> None:
    """Place names and street names, each once, none over another, halos for legibility."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    placed: list[tuple[float, float, float, float]] = []
    big, small = _font(14), _font(11)
    size_of = {"City": big, "Town": big, "Capital": big}
    items = [(t, size_of.get(kind, small), (p[0] * k, p[1] * k)) for t, kind, p in labels
             if kind != "Motorway Junctions"]
    items += [(name, small, _midpoint([(a * k, b * k) for a, b in pts]))
              for name, pts in sorted(road_names.items(), key=lambda r: -_length(r[1]))]
    seen: set[str] = set()
    for text, font, (x, y) in items:
        if text in seen or not (0 <= x <= frame.width and 0 <= y <= frame.height):
            continue
        box = draw.textbbox((x, y), text, font=font, anchor="mm")
        pad = (box[0] - 3, box[1] - 3, box[2] + 3, box[3] + 3)
        if any(not (pad[2] < b[0] or pad[0] > b[2] or pad[3] < b[1] or pad[1] > b[3])
               for b in placed):
            continue
        draw.text((x, y), text, font=font, anchor="mm", fill=TEXT, stroke_width=2,
                  stroke_fill=(255, 255, 255))
        placed.append(pad)
        seen.add(text)


# ---------------------------------------------------------------------------------------------
# Without a basemap
# ---------------------------------------------------------------------------------------------
def _fallback(frame: Frame, outlines: Iterable[tuple[str, list[list[tuple[float, float]]]]]
              ) -> Any:
    """Draw the boundaries and their names on a plain background (better than a blank)."""
    from PIL import Image, ImageDraw

    s = SUPERSAMPLE
    img = Image.new("RGB", (frame.width * s, frame.height * s), (247, 247, 244))
    draw = ImageDraw.Draw(img)
    names: list[tuple[str, tuple[float, float]]] = []
    for name, rings in outlines:
        for ring in rings:
            pts = [tuple(v * s for v in frame.xy(lon, lat)) for lon, lat in ring]
            if len(pts) >= 2:
                draw.line(pts, fill=(120, 120, 120), width=2 * s)
        inside = [frame.xy(lon, lat) for ring in rings for lon, lat in ring]
        inside = [p for p in inside if 0 <= p[0] <= frame.width and 0 <= p[1] <= frame.height]
        if inside:
            names.append((name, (sum(p[0] for p in inside) / len(inside),
                                 sum(p[1] for p in inside) / len(inside))))
    img = img.resize((frame.width, frame.height), Image.Resampling.LANCZOS)
    _draw_labels(img, frame, [(n, "Town", p) for n, p in names], {}, 1.0)
    return img


@dataclass(frozen=True)
class MapImage:
    """A printed map's background: the PNG, what it shows, and the frame it was drawn for."""

    frame: Frame
    uri: str
    #: What the background shows, for the caption (e.g. "Map: OS Open Zoomstack").
    source: str


def render(frame: Frame, tiles: MBTiles | None,
           outlines: Iterable[tuple[str, list[list[tuple[float, float]]]]] = ()) -> MapImage:
    """Draw the background of a printed map: the basemap, else the boundaries.

    Parameters
    ----------
    frame : Frame
        The view, from :func:`frame_around`.
    tiles : MBTiles or None
        The site's basemap file.
    outlines : iterable of (name, rings)
        Boundaries as rings of (lon, lat), drawn when there is no basemap (or it has no tiles
        here).
    """
    img, source = None, ""
    if tiles is not None:
        img = _vector(frame, tiles) if tiles.info.is_vector else _raster(frame, tiles)
        source = f"Map: {tiles.info.name}" + (f" ({tiles.info.attribution})"
                                              if tiles.info.attribution else "")
    if img is None:
        img = _fallback(frame, outlines)
        source = "Map: boundaries only (no basemap is set up: see HOTSPOT_BASEMAP)"
    return MapImage(frame=frame, uri=data_uri(_png(img)), source=source)
