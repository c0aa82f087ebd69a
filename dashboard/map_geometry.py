"""``/map/geometry.geojson``: the outlines the Explorer map paints values on.

The page's script (``assets/hotspot_map.js``) has them fetched once per geometry key; a filter
change then sends numbers alone (see :mod:`dashboard.figures`). The outlines are those of the
signed-in user's own scope (hexagons holding any incident they may see), at a resolution their
role may see, exactly as the page drew them before.
"""

from __future__ import annotations

from flask import Blueprint, Response, request

from dashboard import services
from dashboard.inputs import query_params
from dashboard.params import int_param
from geo.query import FilterError, Filters
from geo.settings import H3_RESOLUTIONS

bp = Blueprint("map_geometry", __name__, url_prefix="/map")


@bp.get("/geometry.geojson")
def geometry() -> Response:
    """Return ``layer=cells`` (with ``res``) or ``layer=areas`` as numbered GeoJSON features.

    ``key`` names the geometry the page expects (data, scope and resolution). MapLibre's
    worker fetches the hexagons itself, numbered as the page's values, so outlines built for
    other data would paint the wrong places: a ``key`` that is not the current one is
    answered 409, and the page fetches again with its next values.
    """
    params = query_params(request.args)
    layer = params.get("layer", "")
    if layer not in ("cells", "areas"):
        raise FilterError("layer", "use cells or areas")
    svc = services.current()
    res = None
    if layer == "cells":
        res = int_param(params, "res", 9, 0, 15)
        if res not in H3_RESOLUTIONS:
            raise FilterError("res", f"{res} is not offered; choose one of "
                              f"{', '.join(map(str, H3_RESOLUTIONS))}")
        # the same check as the page's counts: the role may see hexagons this fine
        svc.query.cell_counts(Filters(), res)
    expected = svc.geometry_key(res if res is not None else 0)
    asked = params.get("key")
    if asked is not None and asked.split("-")[:2] != [str(part) for part in expected[:2]]:
        return Response("The data changed since this page asked for the map; it is redrawn "
                        "with the new data.", status=409, mimetype="text/plain")
    body = svc.map_geometry(layer, res)
    # derived from the incidents: not kept in the browser's cache (security.py: no-store)
    return Response(body, mimetype="application/geo+json")
