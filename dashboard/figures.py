"""Pure figure builders: numbers and geometry in, plotly figures (as dicts) and Patches out.

The Explorer map is drawn in two parts, so that a filter change repaints colours alone:

* the Plotly figure (:func:`map_figure`) holds what changes rarely: the DBSCAN footprints
  (trace 0), the kernel-density image (``layout.map.layers[0]``) and the area outlines
  (``[1]``);
* the hexagons and the local-authority areas are two MapLibre fill layers the page's script
  (``assets/hotspot_map.js``) adds to the same map. Their outlines are fetched once per
  geometry key from ``/map/geometry.geojson``; a filter change sends their values alone
  (:func:`map_values`), and the script sets them as feature states: no outline is sent,
  re-tiled or re-tessellated, and MapLibre draws one frame.

Measured in headless Chromium with software rendering (``scripts/bench_browser.py``): a
choroplethmap trace re-sends and re-tessellates every hexagon on each change, and draws its
anti-aliased outlines; 11,000 hexagons cost seconds a change on a 2-core machine.
"""

from __future__ import annotations

import base64
import math
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Plotly settings every chart gets. Dash's default offers "Share chart..." to Plotly's cloud
#: service; police data must never leave the machine, so every cloud link is switched off.
GRAPH_CONFIG: dict[str, Any] = {
    "displaylogo": False,
    "showSendToCloud": False,
    "showEditInChartStudio": False,
    "showLink": False,
    "plotlyServerURL": "",
    "modeBarButtonsToRemove": ["sendDataToCloud", "editInChartStudio"],
}


def graph_config(**overrides: Any) -> dict[str, Any]:
    """Return :data:`GRAPH_CONFIG` with a chart's own settings (e.g. ``scrollZoom``) added."""
    return {**GRAPH_CONFIG, **overrides}


MAP_TRACE_CLUSTERS = 0
LAYER_KDE, LAYER_OUTLINES = 0, 1

#: Colours of the classes, lightest (fewest) first: yellow to dark red for hexagons, blues for
#: areas, so the two layers never read as one scale.
CELL_COLOURS = ["#ffeda0", "#feb24c", "#fd8d3c", "#f03b20", "#bd0026"]
AREA_COLOURS = ["#eff3ff", "#bdd7e7", "#6baed6", "#3182bd", "#08519c"]
CLUSTER_SCALE = [[0.0, "#fcc5c0"], [1.0, "#7a0177"]]
CLUSTER_COLOUR, CLUSTER_LINE = "#c51b8a", "#49006a"
#: The density image's colours, low to high (see :func:`density_rgba`).
KDE_COLOURS = ["#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026"]

_NICE = (1.0, 2.0, 2.5, 5.0)


def _nice(value: float) -> float:
    """Round ``value`` down to 1, 2, 2.5 or 5 times a power of ten (0 stays 0)."""
    if value <= 0 or not math.isfinite(value):
        return 0.0
    power = 10.0 ** math.floor(math.log10(value))
    return max(m * power for m in _NICE if m * power <= value * (1 + 1e-9))


def class_breaks(values: Sequence[float | None] | np.ndarray, n_classes: int = 5,
                 integer: bool = True) -> list[float]:
    """Return the lower bounds of up to ``n_classes`` classes for the positive ``values``.

    Bounds are rounded down to 1, 2, 2.5 or 5 times a power of ten (whole numbers for
    counts), so the legend reads as plain numbers; the first bound is the smallest positive
    value, so every non-zero value falls in a class. Two spacings are tried, steps of equal
    ratio from the smallest to the largest value (hotspot counts are skewed: most hexagons
    hold one or two incidents, a few hold hundreds) and quantiles, and the one giving more
    distinct classes is kept. No positive value gives no classes.

    >>> class_breaks([0, 1, 1, 2, 3, 5, 8, 13, 40, 120])
    [1.0, 2.0, 5.0, 10.0, 25.0]
    >>> class_breaks([2104, 2142, 2544, 2922, 3313, 3628, 4732, 6478, 7065, 7886])
    [2104.0, 2500.0, 5000.0]
    >>> class_breaks([0, 0])
    []
    """
    arr = np.array([np.nan if v is None else v for v in values], dtype=float)
    positive = arr[np.isfinite(arr) & (arr > 0)]
    if not positive.size:
        return []
    low, high = float(positive.min()), float(positive.max())
    first = float(math.floor(low)) if integer else (_nice(low) or low)
    steps = np.arange(1, n_classes)
    ratio = low * (high / low) ** (steps / n_classes)
    quantiles = np.quantile(positive, steps / n_classes)
    best: list[float] = [first]
    for candidates in (ratio, quantiles):
        bounds = [first]
        for c in candidates:
            b = _nice(float(c))
            b = float(math.floor(b)) if integer else b
            if b > bounds[-1]:
                bounds.append(b)
        if len(bounds) > len(best):
            best = bounds
    return best


def _number(value: float, integer: bool) -> str:
    if integer:
        return f"{int(value):,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".")


def class_labels(bounds: Sequence[float], integer: bool = True) -> list[str]:
    """Say each class of :func:`class_breaks` in words: "1", "2 to 4", "20 or more".

    >>> class_labels([1.0, 2.0, 5.0, 10.0, 20.0])
    ['1', '2 to 4', '5 to 9', '10 to 19', '20 or more']
    >>> class_labels([0.5, 1.0], integer=False)
    ['0.5 to under 1', '1 or more']
    """
    labels = []
    for i, low in enumerate(bounds):
        if i == len(bounds) - 1:
            labels.append(f"{_number(low, integer)} or more")
        elif integer:
            high = bounds[i + 1] - 1
            labels.append(_number(low, True) if high <= low else
                          f"{_number(low, True)} to {_number(high, True)}")
        else:
            labels.append(f"{_number(low, False)} to under {_number(bounds[i + 1], False)}")
    return labels


def map_values(*, key: list[Any], layers: Sequence[str], cell_values: np.ndarray,
               area_codes: Sequence[str], area_values: Sequence[float | None],
               area_integer: bool, area_unit: str) -> dict[str, Any]:
    """Return what a filter change sends the map: values aligned to the drawn outlines.

    ``key`` is the geometry key the outlines were fetched for; the page's script paints
    values only onto outlines with the same key. Each layer carries its class bounds and
    colours, so the map and its legend (:func:`map_legend_classes`) agree.
    """
    cells = [int(v) for v in np.asarray(cell_values).tolist()]
    areas = [None if v is None else (int(v) if area_integer else float(v))
             for v in area_values]
    return {
        "key": list(key),
        "layers": [v for v in layers if v in ("cells", "areas")],
        "cells": {"values": cells, "breaks": class_breaks(cells),
                  "colours": CELL_COLOURS},
        "areas": {"values": areas, "codes": list(area_codes), "unit": area_unit,
                  "breaks": class_breaks(areas, integer=area_integer),
                  "colours": AREA_COLOURS},
    }


def map_legend_classes(layer: dict[str, Any], integer: bool = True) -> list[tuple[str, str]]:
    """Return (colour, words) for each class of a layer of :func:`map_values`."""
    bounds = layer["breaks"]
    colours = _class_colours(layer["colours"], len(bounds))
    return list(zip(colours, class_labels(bounds, integer), strict=True))


def _class_colours(colours: Sequence[str], n: int) -> list[str]:
    """Pick ``n`` colours spread across a palette (its darkest always last)."""
    if n <= 0:
        return []
    if n == 1:
        return [colours[-1]]
    idx = np.round(np.linspace(0, len(colours) - 1, n)).astype(int)
    return [colours[i] for i in idx]


def map_figure(
    *,
    areas_geojson: dict[str, Any],
    clusters: dict[str, Any] | None,
    kde_layer: dict[str, Any] | None,
    visible: set[str],
    center: dict[str, float],
    zoom: float,
    style: str = "white-bg",
) -> dict[str, Any]:
    """Return the Explorer map figure as a plain dict (what Dash sends to the browser).

    The hexagons and areas are not in it: see the module docstring. ``style`` is the basemap
    (:func:`dashboard.basemap.map_style`): the site's tiles are drawn by the style, never as
    one of ``layers``, so the density layer stays at :data:`LAYER_KDE`.
    """
    cluster_trace = cluster_trace_values(clusters)
    layers: list[dict[str, Any]] = [
        kde_layer or {"sourcetype": "geojson", "source": {"type": "FeatureCollection",
                                                          "features": []}, "visible": False},
        {
            "sourcetype": "geojson",
            "source": areas_geojson,
            "type": "line",
            "color": "#4a4a4a",
            "line": {"width": 1},
        },
    ]
    return {
        "data": [{**cluster_trace, "visible": "clusters" in visible}],
        "layout": {
            "map": {
                "style": style,
                "center": center,
                "zoom": zoom,
                "layers": layers,
            },
            "margin": {"l": 0, "r": 0, "t": 0, "b": 0},
            "showlegend": False,
            "uirevision": "explorer",
        },
    }


def cluster_trace_values(clusters: dict[str, Any] | None) -> dict[str, Any]:
    """Return the DBSCAN footprint trace for a cluster FeatureCollection (or an empty one)."""
    feats = (clusters or {}).get("features", [])
    return {
        "type": "choroplethmap",
        "name": "DBSCAN clusters",
        "geojson": clusters or {"type": "FeatureCollection", "features": []},
        "featureidkey": "id",
        "locations": [f["id"] for f in feats],
        "z": [f["properties"]["count"] for f in feats],
        "customdata": [
            [f["properties"]["count"], f["properties"]["harm"], f["properties"]["peak_day"],
             f["properties"]["peak_hour"], f["properties"]["main_categories"]]
            for f in feats
        ],
        "colorscale": CLUSTER_SCALE,
        "showscale": False,
        "marker": {"opacity": 0.55, "line": {"width": 1.5, "color": CLUSTER_LINE}},
        "hovertemplate": (
            "<b>Cluster %{location}</b><br>%{customdata[0]:,} incidents, harm "
            "%{customdata[1]:,.1f}<br>peak day %{customdata[2]}<br>peak hour %{customdata[3]}"
            "<br>%{customdata[4]}<extra></extra>"
        ),
    }


def grid_figure(grid: np.ndarray, *, disabled_note: str | None = None) -> dict[str, Any]:
    """Return the 7 × 24 weekday-by-hour heatmap (Monday at the top)."""
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    fig: dict[str, Any] = {
        "data": [
            {
                "type": "heatmap",
                "z": grid.tolist(),
                "x": [f"{h:02d}" for h in range(24)],
                "y": days,
                "colorscale": [[0.0, "#fbfbf8"], [0.15, "#fee391"], [0.4, "#fe9929"],
                               [0.7, "#d7301f"], [1.0, "#7f0000"]],
                "zmin": 0,
                "zmax": max(1, int(grid.max())) if grid.size else 1,
                "xgap": 1,
                "ygap": 1,
                "hovertemplate": "%{y} %{x}:00–%{x}:59<br>%{z:,} incidents"
                "<extra>click to filter</extra>",
                "colorbar": {"thickness": 10},
            }
        ],
        "layout": {
            "yaxis": {"autorange": "reversed", "fixedrange": True},
            "xaxis": {"title": {"text": "hour of day"}, "fixedrange": True, "dtick": 2},
            "margin": {"l": 40, "r": 10, "t": 10, "b": 40},
            "height": 230,
        },
    }
    if disabled_note:
        fig["layout"]["annotations"] = [
            {"text": disabled_note, "showarrow": False, "xref": "paper", "yref": "paper",
             "x": 0.5, "y": 0.5, "font": {"size": 13}}
        ]
    return fig


def png_data_uri(rgba: np.ndarray) -> str:
    """Encode an (height, width, 4) uint8 array as a PNG data URI (no imaging library needed)."""
    height, width, _ = rgba.shape
    raw = np.zeros((height, width * 4 + 1), dtype=np.uint8)
    raw[:, 1:] = rgba.reshape(height, width * 4)

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    png = b"\x89PNG\r\n\x1a\n"
    png += chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw.tobytes(), 6))
    png += chunk(b"IEND", b"")
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def density_rgba(density: np.ndarray) -> np.ndarray:
    """Colour a density grid (row 0 = south) as RGBA, transparent where zero or masked."""
    d = np.nan_to_num(density, nan=0.0)
    peak = float(d.max()) if d.size else 0.0
    t = d / peak if peak > 0 else d
    stops = np.array([0.0, 0.2, 0.45, 0.7, 1.0])
    colours = np.array(
        [[255, 255, 178], [254, 204, 92], [253, 141, 60], [240, 59, 32], [189, 0, 38]],
        dtype=float,
    )
    rgba = np.zeros((*d.shape, 4), dtype=np.uint8)
    for ch in range(3):
        rgba[..., ch] = np.interp(t, stops, colours[:, ch]).astype(np.uint8)
    rgba[..., 3] = np.where(t > 0.02, np.clip(60 + 180 * t, 0, 230), 0).astype(np.uint8)
    return rgba[::-1]  # images run north to south


def kde_map_layer(density: np.ndarray, corners_lonlat: list[list[float]]) -> dict[str, Any]:
    """Return a map image layer for a density grid; corners run TL, TR, BR, BL as (lon, lat)."""
    return {
        "sourcetype": "image",
        "source": png_data_uri(density_rgba(density)),
        "coordinates": corners_lonlat,
        "opacity": 0.85,
        "below": "traces",
        "visible": True,
    }
