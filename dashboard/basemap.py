"""The basemap under every map: served by the app from a local MBTiles file, or plain.

* ``HOTSPOT_BASEMAP=/path/file.mbtiles``: the app serves the file's tiles at
  ``/tiles/{z}/{x}/{y}.{ext}`` (raster or vector), a MapLibre style for them at
  ``/tiles/style.json`` and label glyphs at ``/tiles/glyphs/...`` (:mod:`dashboard.glyphs`), so
  the map has streets and names with no request leaving the machine. OS Open Zoomstack's layers
  are drawn with a light style made for hot spots to stand out on; a vector file with other
  layers is drawn with a generic style (every layer as fills, lines, points and names).
* ``HOTSPOT_TILE_URL``: a site's own raster tile server, through the same style.
* Neither: the plain white background with the boundaries, as before.

Every page builds its ``layout.map`` with :func:`basemap_layout`, so they all show the same
basemap. The basemap lives in the *style*, never in ``layout.map.layers``, so the pages' own
layers keep their positions (the Explorer patches its density layer by index).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Response, abort, request

from dashboard import services
from geo.tiles import EXTENSIONS, MBTiles, TileSetInfo, gunzip_tile, is_gzipped

LOG = logging.getLogger("hotspot.basemap")
bp = Blueprint("tiles", __name__, url_prefix="/tiles")

#: Where the app serves its map style.
STYLE_PATH = "/tiles/style.json"
#: Plotly's built-in plain style: no tiles, no requests.
PLAIN_STYLE = "white-bg"
#: Browsers may keep tiles and glyphs a day (they change only when the file is replaced).
TILE_CACHE = "private, max-age=86400"


# ---------------------------------------------------------------------------------------------
# The layout every map uses
# ---------------------------------------------------------------------------------------------
def map_style(svc: Any | None = None) -> str:
    """Return ``layout.map.style`` for this server: the app's style URL, or the plain one."""
    svc = svc if svc is not None else services.current()
    if getattr(svc, "basemap", None) is not None or getattr(svc, "tile_url", None):
        return STYLE_PATH
    return PLAIN_STYLE


def basemap_layout(*, center: dict[str, float] | None = None, zoom: float | None = None,
                   layers: list[dict[str, Any]] | None = None, **extra: Any) -> dict[str, Any]:
    """Return a figure's ``layout.map``: the basemap style, the view and the page's layers.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> plain = SimpleNamespace(basemap=None, tile_url=None)
    >>> basemap_layout(center={"lat": 53.8, "lon": -2.6}, zoom=9, svc=plain)["style"]
    'white-bg'
    """
    svc = extra.pop("svc", None)
    out: dict[str, Any] = {"style": map_style(svc)}
    if center is not None:
        out["center"] = center
    if zoom is not None:
        out["zoom"] = zoom
    if layers is not None:
        out["layers"] = layers
    out.update(extra)
    return out


# ---------------------------------------------------------------------------------------------
# Styles
# ---------------------------------------------------------------------------------------------
_FONT = ["Hotspot Sans"]
_BOLD = ["Hotspot Sans Bold"]
_HALO = {"text-color": "#4a4f54", "text-halo-color": "rgba(255,255,255,0.9)",
         "text-halo-width": 1.2}
BACKGROUND = "#f4f3f0"
WATER = "#cad6dc"

#: OS Open Zoomstack's vector layers (by their names in the MBTiles), in drawing order.
ZOOMSTACK_FILLS = (
    ("sea", WATER, 1.0, None),
    ("urban_areas", "#e9e7e2", 0.8, 12),
    ("sites", "#ece8e1", 0.8, None),
    ("greenspace", "#e1eadb", 1.0, None),
    ("greenspaces", "#e1eadb", 1.0, None),
    ("woodland", "#d9e4d2", 1.0, None),
    ("surfacewater", WATER, 1.0, None),
    ("foreshore", "#ebe9e2", 1.0, None),
    ("district_buildings", "#dcd9d2", 1.0, None),
    ("local_buildings", "#dcd9d2", 1.0, None),
    ("buildings", "#dcd9d2", 1.0, None),
)
_ROAD_SCALE = ["match", ["get", "type"], ["Motorway", "Primary"], 1.5, ["A Road"], 1.3,
               ["B Road"], 1.1, ["Minor", "Local"], 0.9, 0.6]
#: Road widths in pixels by zoom, each scaled by the road's class (a zoom expression must be
#: the top-level interpolate, so the class goes inside each stop).
_ROAD_WIDTH = ["interpolate", ["exponential", 1.6], ["zoom"],
               *[v for z, w in ((8, 0.4), (12, 1.2), (14, 3.0), (16, 8.0), (18, 20.0))
                 for v in (z, ["*", w, _ROAD_SCALE])]]
ZOOMSTACK_LAYERS = {f[0] for f in ZOOMSTACK_FILLS} | {
    "waterlines", "rail", "roads", "boundaries", "names", "railwaystations",
    "railway_stations", "airports", "etl", "contours", "national_parks"}


def _zoomstack_layers(src: str, present: set[str]) -> list[dict[str, Any]]:
    """Layers for OS Open Zoomstack: land, water, buildings, roads, rail, names."""
    out: list[dict[str, Any]] = []
    for name, colour, opacity, maxzoom in ZOOMSTACK_FILLS:
        if name in present:
            layer: dict[str, Any] = {"id": f"zs-{name}", "type": "fill", "source": src,
                                     "source-layer": name,
                                     "paint": {"fill-color": colour, "fill-opacity": opacity}}
            if maxzoom is not None:
                layer["maxzoom"] = maxzoom
            out.append(layer)
    if "waterlines" in present:
        out.append({"id": "zs-waterlines", "type": "line", "source": src,
                    "source-layer": "waterlines", "paint": {"line-color": WATER,
                                                            "line-width": 1}})
    if "boundaries" in present:
        out.append({"id": "zs-boundaries", "type": "line", "source": src,
                    "source-layer": "boundaries",
                    "paint": {"line-color": "#a09bb0", "line-width": 1,
                              "line-dasharray": [3, 2]}})
    if "rail" in present:
        out.append({"id": "zs-rail", "type": "line", "source": src, "source-layer": "rail",
                    "paint": {"line-color": "#9b9b9b", "line-width": 1.2,
                              "line-dasharray": [4, 2]}})
    if "roads" in present:
        width = _ROAD_WIDTH
        out.append({"id": "zs-roads-casing", "type": "line", "source": src,
                    "source-layer": "roads", "layout": {"line-join": "round",
                                                        "line-cap": "round"},
                    "paint": {"line-color": "#c9c6bf", "line-gap-width": width,
                              "line-width": 0.8}})
        out.append({"id": "zs-roads", "type": "line", "source": src, "source-layer": "roads",
                    "layout": {"line-join": "round", "line-cap": "round"},
                    "paint": {"line-color": ["match", ["get", "type"],
                                             ["Motorway"], "#f3d9b1", ["Primary", "A Road"],
                                             "#faf0d7", "#ffffff"],
                              "line-width": width}})
        out.append({"id": "zs-road-names", "type": "symbol", "source": src,
                    "source-layer": "roads", "minzoom": 13,
                    "layout": {"symbol-placement": "line", "text-field": ["get", "name"],
                               "text-font": _FONT, "text-size": 11, "text-max-angle": 40},
                    "paint": _HALO})
    for stations in ("railwaystations", "railway_stations"):
        if stations in present:
            out.append({"id": f"zs-{stations}", "type": "symbol", "source": src,
                        "source-layer": stations, "minzoom": 12,
                        "layout": {"text-field": ["get", "name"], "text-font": _FONT,
                                   "text-size": 11, "text-offset": [0, 0.8]},
                        "paint": _HALO})
    if "names" in present:
        size = ["match", ["get", "type"], ["Capital", "City"], 16, ["Town"], 14,
                ["Suburban Area"], 12, ["Village", "Hamlet"], 11, 10]
        out.append({"id": "zs-names", "type": "symbol", "source": src, "source-layer": "names",
                    "filter": ["!", ["in", ["get", "type"], ["literal",
                                                             ["Motorway Junctions"]]]],
                    "layout": {"text-field": ["coalesce", ["get", "name1"], ["get", "name"]],
                               "text-font": ["match", ["get", "type"],
                                             ["Capital", "City", "Town"], ["literal", _BOLD],
                                             ["literal", _FONT]],
                               "text-size": size, "text-padding": 3},
                    "paint": _HALO})
    return out


def _generic_layers(src: str, layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Draw layers whose names we do not know: polygons as fills, lines, points and names."""
    out: list[dict[str, Any]] = []
    kinds = (("fill", ["==", ["geometry-type"], "Polygon"],
              {"fill-color": "#dedbd3", "fill-opacity": 0.6}),
             ("line", ["==", ["geometry-type"], "LineString"],
              {"line-color": "#b5b2aa", "line-width": 1}),
             ("circle", ["==", ["geometry-type"], "Point"],
              {"circle-color": "#9e9a90", "circle-radius": 2}))
    for layer in layers:
        lid = layer["id"]
        for kind, flt, paint in kinds:
            out.append({"id": f"g-{kind}-{lid}", "type": kind, "source": src,
                        "source-layer": lid, "filter": flt, "paint": paint})
    for layer in layers:
        fields = set(layer.get("fields") or ())
        label = next((f for f in ("name", "name1", "name_en", "NAME") if f in fields), None)
        if label:
            out.append({"id": f"g-names-{layer['id']}", "type": "symbol", "source": src,
                        "source-layer": layer["id"],
                        "layout": {"text-field": ["get", label], "text-font": _FONT,
                                   "text-size": 11,
                                   "symbol-placement": "point"},
                        "paint": _HALO})
    return out


def vector_style(info: TileSetInfo, tiles: list[str], glyphs: str,
                 layers: list[dict[str, Any]]) -> dict[str, Any]:
    """Return a MapLibre style for a vector MBTiles (Zoomstack's layers, or generic ones)."""
    src = "basemap"
    present = {layer["id"] for layer in layers}
    known = present & ZOOMSTACK_LAYERS
    drawn = _zoomstack_layers(src, present) if {"roads", "names"} & known else []
    drawn += _generic_layers(src, [layer for layer in layers
                                   if not drawn or layer["id"] not in ZOOMSTACK_LAYERS])
    return {
        "version": 8, "name": info.name, "glyphs": glyphs,
        "sources": {src: {"type": "vector", "tiles": tiles, "minzoom": info.minzoom,
                          "maxzoom": info.maxzoom, "bounds": list(info.bounds),
                          "attribution": info.attribution}},
        "layers": [{"id": "background", "type": "background",
                    "paint": {"background-color": BACKGROUND}}, *drawn],
    }


def raster_style(tiles: list[str], glyphs: str, *, name: str = "basemap", minzoom: int = 0,
                 maxzoom: int = 19, bounds: tuple[float, ...] | None = None,
                 attribution: str = "") -> dict[str, Any]:
    """Return a MapLibre style of one raster source over a white background."""
    source: dict[str, Any] = {"type": "raster", "tiles": tiles, "tileSize": 256,
                              "minzoom": minzoom, "maxzoom": maxzoom,
                              "attribution": attribution}
    if bounds is not None:
        source["bounds"] = list(bounds)
    return {"version": 8, "name": name, "glyphs": glyphs, "sources": {"basemap": source},
            "layers": [{"id": "background", "type": "background",
                        "paint": {"background-color": "#ffffff"}},
                       {"id": "basemap", "type": "raster", "source": "basemap"}]}


def vector_layer_list(tiles: MBTiles) -> list[dict[str, Any]]:
    """Return a file's vector layers: from its metadata, else read from its middle tile."""
    if tiles.info.vector_layers:
        return [dict(layer) for layer in tiles.info.vector_layers]
    import mapbox_vector_tile

    from geo.tiles import lonlat_to_world

    west, south, east, north = tiles.info.bounds
    z = tiles.info.minzoom
    wx, wy = lonlat_to_world((west + east) / 2, (south + north) / 2)
    n = 1 << z
    data = tiles.tile(z, min(n - 1, int(wx * n)), min(n - 1, int(wy * n)))
    if not data:
        LOG.warning("%s names no vector layers and its middle tile is empty: the basemap is "
                    "drawn blank", tiles.path)
        return []
    decoded = mapbox_vector_tile.decode(gunzip_tile(data))
    return [{"id": name, "fields": sorted({k for f in layer["features"]
                                           for k in f["properties"]})}
            for name, layer in decoded.items()]


# ---------------------------------------------------------------------------------------------
# Routes
# ---------------------------------------------------------------------------------------------
def _base_url() -> str:
    # Map tiles are fetched inside MapLibre's web worker, whose own address is a blob: URL, so
    # the style's URLs must be absolute; the Host header has passed the allow-list by now.
    return request.host_url.rstrip("/")


@bp.get("/style.json")
def style() -> Response:
    """Serve the basemap's MapLibre style (404 when the site has none)."""
    import json

    svc = services.current()
    base = _base_url()
    glyphs = f"{base}/tiles/glyphs/{{fontstack}}/{{range}}.pbf"
    tiles: MBTiles | None = svc.basemap
    if tiles is not None:
        url = [f"{base}/tiles/{{z}}/{{x}}/{{y}}.{tiles.info.extension}"]
        info = tiles.info
        body = (vector_style(info, url, glyphs, svc.basemap_layers) if info.is_vector else
                raster_style(url, glyphs, name=info.name, minzoom=info.minzoom,
                             maxzoom=info.maxzoom, bounds=info.bounds,
                             attribution=info.attribution))
    elif svc.tile_url:
        body = raster_style([svc.tile_url], glyphs, name="site tiles")
    else:
        abort(404)
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "private, no-cache"
    return response


@bp.get("/<int:z>/<int:x>/<int:y>.<ext>")
def tile(z: int, x: int, y: int, ext: str) -> Response:
    """One tile of the basemap file: 204 where the file has none, 404 off the map."""
    tiles: MBTiles | None = services.current().basemap
    if tiles is None or ext.lower() not in EXTENSIONS[tiles.info.format]:
        abort(404)
    try:
        data = tiles.tile(z, x, y)
    except ValueError:  # not a tile of the web-map grid
        abort(404)
    if data is None:
        if not tiles.has_zoom(z):
            abort(404)
        response = Response(status=204)
        response.headers["Cache-Control"] = TILE_CACHE
        return response
    headers = {"Cache-Control": TILE_CACHE, "Vary": "Accept-Encoding"}
    if tiles.info.is_vector and is_gzipped(data):
        if "gzip" in request.headers.get("Accept-Encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
        else:
            data = gunzip_tile(data)
    response = Response(data, content_type=tiles.info.content_type, headers=headers)
    response.add_etag()
    response.make_conditional(request)  # a 304 when the browser has it
    return response


@bp.get("/glyphs/<fontstack>/<glyph_range>.pbf")
def glyphs(fontstack: str, glyph_range: str) -> Response:
    """Label glyphs (SDF protocol buffers) for 256 code points, made from a local font."""
    from dashboard.glyphs import glyph_range as make_range

    start_text, _, end_text = glyph_range.partition("-")
    if len(fontstack) > 200 or not (start_text.isdecimal() and end_text.isdecimal()) \
            or len(start_text) > 5 or int(end_text) != int(start_text) + 255:
        abort(404)
    try:
        body = make_range(int(start_text), bold="bold" in fontstack.lower())
    except ValueError:
        abort(404)
    response = Response(body, content_type="application/x-protobuf",
                        headers={"Cache-Control": TILE_CACHE})
    response.add_etag()
    response.make_conditional(request)  # a 304 when the browser has it
    return response


@bp.get("/<path:rest>")
def unknown(rest: str) -> Response:
    """Answer 404 for any other path under /tiles/ (the page router would answer it with a page)."""
    abort(404)
