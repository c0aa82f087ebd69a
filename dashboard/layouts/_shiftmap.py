"""A small offline map for the shift view: numbered places over the officer's area.

No map library. The area and place outlines are one SVG image and the places are numbered
HTML markers placed by percentage, so:

* the numbers are real text (a Plotly map draws text with glyph files it fetches from the
  internet, which a police network does not allow, so its markers could carry no number);
* the map weighs a few kilobytes on a phone and needs no WebGL;
* the browser can place "you are here" itself (:data:`MAP_VIEW` holds the map's bounds), so
  the device's position never leaves the device.

Positions are Web Mercator, the projection of web tile servers. With the site's basemap
(``HOTSPOT_BASEMAP``) the background is drawn on the server from it, as the printed briefing's
maps are (:mod:`dashboard.staticmap`: streets and names, nothing fetched); with only a raster
tile server (``HOTSPOT_TILE_URL``) its tiles are laid beneath the outlines.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import shapely
from dash import html
from shapely.geometry import shape

from geo.tiles import MBTiles, lonlat_to_world

#: Width and height of the map's drawing in SVG units; the page keeps this aspect ratio.
WIDTH, HEIGHT = 1000.0, 750.0
#: The smallest span the map shows, in metres across, so one place is not drawn at street
#: level with nothing around it.
MIN_SPAN_M = 800.0
#: Scale bar lengths to choose from, metres.
BAR_LENGTHS_M = (50, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
EARTH_CIRCUMFERENCE_M = 40_075_016.686


@dataclass(frozen=True)
class Place:
    """One numbered place: its rank, centre (WGS84) and outline (GeoJSON geometry)."""

    rank: int
    lon: float
    lat: float
    geometry: dict[str, Any] | None = None


@dataclass(frozen=True)
class View:
    """The part of the world the map shows, in Web Mercator units (0-1, y down)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def fraction(self, lon: float, lat: float) -> tuple[float, float]:
        """Return where (lon, lat) falls across and down the map (0-1; outside: beyond)."""
        x, y = mercator(lon, lat)
        return (x - self.x0) / (self.x1 - self.x0), (y - self.y0) / (self.y1 - self.y0)

    def width_m(self) -> float:
        """Ground distance across the middle of the map, metres."""
        lat = inverse_lat((self.y0 + self.y1) / 2)
        return (self.x1 - self.x0) * EARTH_CIRCUMFERENCE_M * math.cos(math.radians(lat))


def mercator(lon: float, lat: float) -> tuple[float, float]:
    """Return Web Mercator (x, y) in 0-1 with y growing southwards, as tile servers count.

    The basemap's own projection (:func:`geo.tiles.lonlat_to_world`), so the two line up.

    Examples
    --------
    >>> mercator(0.0, 0.0)
    (0.5, 0.5)
    """
    return lonlat_to_world(lon, lat)


def inverse_lat(y: float) -> float:
    """Return the latitude of Web Mercator ``y`` (0-1, y down).

    Examples
    --------
    >>> round(inverse_lat(mercator(-3.05, 53.81)[1]), 6)
    53.81
    """
    return math.degrees(math.atan(math.sinh(math.pi * (1 - 2 * y))))


def fit_view(places: Sequence[Place], pad: float = 0.2) -> View:
    """Return a view holding every place (and its outline), padded, at the map's aspect."""
    xs, ys = [], []
    for p in places:
        xs.append(mercator(p.lon, p.lat)[0])
        ys.append(mercator(p.lon, p.lat)[1])
        if p.geometry:
            minx, miny, maxx, maxy = shape(p.geometry).bounds
            for lon, lat in ((minx, miny), (maxx, maxy)):
                x, y = mercator(lon, lat)
                xs.append(x)
                ys.append(y)
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    w, h = (max(xs) - min(xs)) * (1 + 2 * pad), (max(ys) - min(ys)) * (1 + 2 * pad)
    metres_per_unit = EARTH_CIRCUMFERENCE_M * math.cos(math.radians(inverse_lat(cy)))
    w = max(w, h * WIDTH / HEIGHT, MIN_SPAN_M / metres_per_unit)
    h = w * HEIGHT / WIDTH
    return View(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)


def _lines(geometry: Any) -> list[tuple[list[tuple[float, float]], bool]]:
    """Each ring or line of a geometry, and whether it closes (a polygon's ring)."""
    out: list[tuple[list[tuple[float, float]], bool]] = []
    for g in getattr(geometry, "geoms", [geometry]):
        if g.geom_type == "Polygon":
            out.append((list(g.exterior.coords), True))
            out += [(list(r.coords), True) for r in g.interiors]
        elif g.geom_type in ("LineString", "LinearRing"):
            out.append((list(g.coords), g.geom_type == "LinearRing"))
        elif hasattr(g, "geoms"):  # a collection inside a collection
            out += _lines(g)
    return out


def _path(geometry: Any, view: View) -> str:
    """SVG path data of a WGS84 geometry's rings and lines, in map units."""
    parts = []
    for line, closed in _lines(geometry):
        points = []
        for lon, lat in line:
            fx, fy = view.fraction(lon, lat)
            points.append(f"{fx * WIDTH:.1f},{fy * HEIGHT:.1f}")
        if len(points) > 1:
            parts.append("M" + "L".join(points) + ("Z" if closed else ""))
    return "".join(parts)


def outline_svg(view: View, areas: Sequence[tuple[Any, bool]], places: Sequence[Place],
                leaders: Sequence[tuple[tuple[float, float], tuple[float, float]]] = ()) -> str:
    """Return the map's drawing: area outlines, place outlines and leader lines.

    The officer's own areas are bold. ``leaders`` are lines, in map units, from a place to
    its marker where the marker was moved off it.

    ``areas`` are (WGS84 geometry, own) pairs. Everything is clipped to a margin around the
    view, so a county's outline costs no more than the part shown.
    """
    lon0, lon1 = view.x0 * 360 - 180, view.x1 * 360 - 180
    lat1, lat0 = inverse_lat(view.y0), inverse_lat(view.y1)
    margin_lon, margin_lat = (lon1 - lon0) * 0.1, (lat1 - lat0) * 0.1
    box = (lon0 - margin_lon, lat0 - margin_lat, lon1 + margin_lon, lat1 + margin_lat)
    simplify = (lon1 - lon0) / 2000  # about half a pixel of a 1,000-pixel-wide map
    body = []
    for geometry, own in sorted(areas, key=lambda a: a[1]):
        # the boundary, not the clipped polygon: a clipped polygon's cut edges are no border
        edge = shapely.intersection(geometry.boundary, shapely.box(*box)).simplify(simplify)
        if edge.is_empty:
            continue
        body.append(f'<path d="{_path(edge, view)}" fill="none" '
                    f'stroke="{"#1f2a44" if own else "#8a93a6"}" '
                    f'stroke-width="{3 if own else 1.5}" '
                    f'stroke-dasharray="{"none" if own else "8 6"}"/>')
    for p in places:
        if p.geometry:
            body.append(f'<path d="{_path(shape(p.geometry), view)}" fill="rgba(179,0,0,0.12)" '
                        'stroke="#7a0000" stroke-width="2"/>')
    for (x0, y0), (x1, y1) in leaders:
        body.append(f'<path d="M{x0:.1f},{y0:.1f}L{x1:.1f},{y1:.1f}" stroke="#1f2a44" '
                    f'stroke-width="2"/><circle cx="{x0:.1f}" cy="{y0:.1f}" r="5" '
                    'fill="#1f2a44"/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}">'
            + "".join(body) + "</svg>")


def spread(points: Sequence[tuple[float, float]], gap: float = 0.075,
           rounds: int = 60) -> list[tuple[float, float]]:
    """Move markers apart until no two are closer than ``gap`` of the map's width.

    Positions are map fractions (0-1). Each number can then be read, and each marker stays
    as near its place as it can.

    Examples
    --------
    >>> a, b = spread([(0.5, 0.5), (0.5, 0.5)])
    >>> round(abs(a[0] - b[0]) * 4 / 3 + abs(a[1] - b[1]), 3) >= 0.075
    True
    """
    aspect = HEIGHT / WIDTH  # a fraction down the map is this much of its width
    pts = [[x, y * aspect] for x, y in points]
    touched = [False] * len(pts)
    for _ in range(rounds):
        moved = False
        for i in range(len(pts)):
            for j in range(i + 1, len(pts)):
                dx, dy = pts[j][0] - pts[i][0], pts[j][1] - pts[i][1]
                d = math.hypot(dx, dy)
                if d >= gap:
                    continue
                if d < 1e-9:  # the same spot: part them along a fixed direction
                    dx, dy, d = math.cos(i + j), math.sin(i + j), 1.0
                push = (gap - d) / 2 + 1e-4
                pts[i][0] -= dx / d * push
                pts[i][1] -= dy / d * push
                pts[j][0] += dx / d * push
                pts[j][1] += dy / d * push
                moved = touched[i] = touched[j] = True
        if not moved:
            break
    return [(x, y / aspect) if touched[k] else (points[k][0], points[k][1])
            for k, (x, y) in enumerate(pts)]


def _tiles(view: View, tile_url: str) -> list[html.Img]:
    """Raster tiles of ``tile_url`` covering the view, about three tiles across."""
    z = max(0, min(19, round(math.log2(3 / (view.x1 - view.x0)))))
    n = 2 ** z
    out = []
    for tx in range(math.floor(view.x0 * n), math.floor(view.x1 * n) + 1):
        for ty in range(math.floor(view.y0 * n), math.floor(view.y1 * n) + 1):
            if not (0 <= tx < n and 0 <= ty < n):
                continue
            left = (tx / n - view.x0) / (view.x1 - view.x0)
            top = (ty / n - view.y0) / (view.y1 - view.y0)
            size_x = (1 / n) / (view.x1 - view.x0)
            size_y = (1 / n) / (view.y1 - view.y0)
            src = tile_url.replace("{z}", str(z)).replace("{x}", str(tx)).replace("{y}", str(ty))
            out.append(html.Img(src=src, alt="", className="shift-tile", style={
                "left": f"{100 * left:.3f}%", "top": f"{100 * top:.3f}%",
                "width": f"{100 * size_x:.3f}%", "height": f"{100 * size_y:.3f}%"}))
    return out


#: Size of the drawn basemap background, pixels: sharp on a phone's screen at 2x, small to send.
BACKGROUND_PX = (640, 480)
#: Backgrounds drawn lately, by basemap and view: an officer reloading the page (or the next
#: officer of the same area) gets the same image without drawing it again.
_BACKGROUNDS: OrderedDict[tuple[Any, ...], tuple[str, str]] = OrderedDict()
_BACKGROUNDS_LOCK = threading.Lock()
_BACKGROUNDS_KEPT = 32


def basemap_background(view: View, tiles: MBTiles) -> tuple[str, str]:
    """Return the basemap under ``view`` as a PNG ``data:`` URI, and its credit line."""
    from dashboard.staticmap import Frame, render

    width, height = BACKGROUND_PX
    key = (id(tiles), str(tiles.path),
           *(round(v, 9) for v in (view.x0, view.y0, view.x1, view.y1)))
    with _BACKGROUNDS_LOCK:
        if key in _BACKGROUNDS:
            _BACKGROUNDS.move_to_end(key)
            return _BACKGROUNDS[key]
    scale = width / (view.x1 - view.x0)
    frame = Frame(left=view.x0, top=view.y0, width=width, height=height,
                  zoom=math.log2(scale / 256.0), lat=inverse_lat((view.y0 + view.y1) / 2))
    drawn = render(frame, tiles)
    found = (drawn.uri, drawn.source)
    with _BACKGROUNDS_LOCK:
        _BACKGROUNDS[key] = found
        while len(_BACKGROUNDS) > _BACKGROUNDS_KEPT:
            _BACKGROUNDS.popitem(last=False)
    return found


def scale_bar(view: View) -> tuple[int, float]:
    """Return a round scale-bar length (metres) near a quarter of the map, and its share.

    Examples
    --------
    >>> v = View(0.5, 0.5, 0.5 + 1000 / 40_075_016.686, 0.5 + 750 / 40_075_016.686)
    >>> scale_bar(v)
    (200, 0.2)
    """
    width_m = view.width_m()
    bar = min(BAR_LENGTHS_M, key=lambda m: abs(m - width_m / 4))
    return bar, round(bar / width_m, 4)


def shift_map(places: Sequence[Place], areas: Sequence[tuple[Any, bool]], *, map_id: str,
              here_id: str, label: str, basemap: MBTiles | None = None,
              tile_url: str | None = None) -> tuple[html.Div, View, str]:
    """Return the map (a component), its view and the credit for its background ("" if none).

    ``label`` is the map's text alternative (it names the list of places). The "you are
    here" marker (``here_id``) starts hidden; the page's clientside callback places it.
    ``basemap`` (the site's MBTiles) is drawn beneath; else ``tile_url``'s raster tiles.
    """
    view = fit_view(places)
    under: list[Any] = []
    credit = ""
    if basemap is not None:
        uri, credit = basemap_background(view, basemap)
        under = [html.Img(src=uri, alt="", className="shift-basemap")]
    elif tile_url:
        under = _tiles(view, tile_url)
    at = [view.fraction(p.lon, p.lat) for p in places]
    shown = spread(at)
    # a marker moved off its place keeps a line back to it
    leaders = [((a[0] * WIDTH, a[1] * HEIGHT), (b[0] * WIDTH, b[1] * HEIGHT))
               for a, b in zip(at, shown, strict=True) if a != b]
    svg = outline_svg(view, areas, places, leaders)
    markers = []
    for p, (fx, fy) in zip(places, shown, strict=True):
        markers.append(html.Span(str(p.rank), className="shift-marker", style={
            "left": f"{100 * fx:.2f}%", "top": f"{100 * fy:.2f}%"}))
    bar_m, share = scale_bar(view)
    bar_text = f"{bar_m:,} m" if bar_m < 1000 else f"{bar_m // 1000:,} km"
    children: list[Any] = [
        *under,
        html.Img(src="data:image/svg+xml;charset=utf-8," + quote(svg), alt="",
                 className="shift-outlines"),
        *markers,
        html.Span([html.Span("▼", className="shift-here-shape"), " You are here"],
                  id=here_id, className="shift-here", hidden=True),
        html.Span("N ↑", className="shift-north"),
        html.Span(bar_text, className="shift-scale", style={"width": f"{100 * share:.1f}%"}),
    ]
    aria: dict[str, Any] = {"aria-label": label}
    return (html.Div(children, id=map_id, className="shift-map", role="img", **aria), view,
            credit)
