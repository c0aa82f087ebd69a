"""Checks for values that callbacks receive from the browser.

A table row, a click or a stored setting comes back from the browser as plain JSON that a
hand-made request can fill with anything. These helpers take what a callback needs out of it,
or stop the update (``PreventUpdate``: nothing changes on the page) when it is unusable, so a
malformed value never becomes a server error.
"""

from __future__ import annotations

import math
from typing import Any

from dash.exceptions import PreventUpdate


def number(value: Any, lo: float, hi: float) -> float:
    """Return ``value`` as a finite number in ``lo..hi``, or stop the update."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PreventUpdate
    v = float(value)
    if not math.isfinite(v) or not lo <= v <= hi:
        raise PreventUpdate
    return v


def selected_point(rows: list[dict[str, Any]] | None) -> tuple[float, float, str]:
    """Return (lon, lat, label) of the first selected table row, or stop the update."""
    if not rows or not isinstance(rows[0], dict):
        raise PreventUpdate
    row = rows[0]
    lon = number(row.get("lon"), -180.0, 180.0)
    lat = number(row.get("lat"), -90.0, 90.0)
    label = "-".join(str(row.get(k, ""))[:40] for k in ("id", "cell", "rank") if k in row)
    return lon, lat, label


def clicked_cell(click: dict[str, Any] | None) -> tuple[Any, Any]:
    """Return (x, y) of the first clicked point of a chart, or stop the update."""
    if not isinstance(click, dict):
        raise PreventUpdate
    points = click.get("points")
    if not isinstance(points, list) or not points or not isinstance(points[0], dict):
        raise PreventUpdate
    return points[0].get("x"), points[0].get("y")


def query_params(args: Any) -> dict[str, str]:
    """Return query parameters as one text per name, a repeated name's values joined by commas.

    ``la=A&la=B`` means the same as ``la=A,B`` rather than silently ``la=A``; a parameter that
    takes one value then names itself in a 400 (``res=9,10`` is not a resolution).

    Examples
    --------
    >>> from werkzeug.datastructures import MultiDict
    >>> query_params(MultiDict([("la", "A"), ("la", "B"), ("res", "9")]))
    {'la': 'A,B', 'res': '9'}
    >>> query_params({"la": ["A", "B"], "res": "9"})  # as Dash hands a page its link
    {'la': 'A,B', 'res': '9'}
    """
    if hasattr(args, "getlist"):
        return {str(k): ",".join(str(v) for v in args.getlist(k)) for k in args}
    return {str(k): ",".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
            for k, v in dict(args).items()}
