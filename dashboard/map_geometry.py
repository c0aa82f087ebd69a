"""``/map/geometry.geojson``: the outlines the Explorer map paints values on.

The page's script (``assets/hotspot_map.js``) fetches them once per geometry key; a filter
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

    ``key`` names the geometry the page expects; it only keys the browser's cache (the answer
    carries the key it was built for, and the script checks it).
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
    body = svc.map_geometry(layer, res)
    return Response(body, mimetype="application/geo+json",
                    headers={"Cache-Control": "private, max-age=86400"})
