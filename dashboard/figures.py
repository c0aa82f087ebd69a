"""Pure figure builders: numbers and geometry in, plotly figures (as dicts) and Patches out.

The Explorer map has a fixed structure so a filter change can update values alone:

* trace 0: local-authority choropleth (``z`` = count or rate per 1,000)
* trace 1: H3 hexagons (``z`` = count or harm; zero cells transparent)
* trace 2: DBSCAN cluster footprints
* ``layout.map.layers[0]``: the kernel-density surface as an image; ``[1]``: area outlines
"""

from __future__ import annotations

import base64
import struct
import zlib
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


MAP_TRACE_AREAS, MAP_TRACE_CELLS, MAP_TRACE_CLUSTERS = 0, 1, 2
LAYER_KDE, LAYER_OUTLINES = 0, 1

# Zero is transparent so empty hexagons do not paint the whole force area.
HEAT_SCALE = [
    [0.0, "rgba(255,255,255,0)"],
    [1e-6, "rgba(255,237,160,0.55)"],
    [0.25, "rgba(254,178,76,0.7)"],
    [0.5, "rgba(253,141,60,0.8)"],
    [0.75, "rgba(240,59,32,0.85)"],
    [1.0, "rgba(189,0,38,0.9)"],
]
AREA_SCALE = [[0.0, "#f7fbff"], [0.5, "#6baed6"], [1.0, "#08306b"]]
CLUSTER_SCALE = [[0.0, "#fcc5c0"], [1.0, "#7a0177"]]


def _zmax(values: np.ndarray) -> float:
    return float(max(1.0, np.nanmax(values))) if len(values) else 1.0


def map_figure(
    *,
    areas_geojson: dict[str, Any],
    area_codes: list[str],
    area_names: list[str],
    area_values: list[float | None],
    area_label: str,
    cells_geojson: dict[str, Any],
    cell_ids: list[str],
    cell_values: np.ndarray,
    cell_label: str,
    clusters: dict[str, Any] | None,
    kde_layer: dict[str, Any] | None,
    visible: set[str],
    center: dict[str, float],
    zoom: float,
    style: str = "white-bg",
) -> dict[str, Any]:
    """Return the Explorer map figure as a plain dict (what Dash sends to the browser).

    ``style`` is the basemap (:func:`dashboard.basemap.map_style`): the site's tiles are drawn
    by the style, never as one of ``layers``, so the density layer stays at
    :data:`LAYER_KDE`.
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
    traces = [
        {
            "type": "choroplethmap",
            "name": "Local authorities",
            "geojson": areas_geojson,
            "featureidkey": "properties.code",
            "locations": area_codes,
            "z": area_values,
            "text": area_names,
            "zmin": 0,
            "zmax": _zmax(np.array([v for v in area_values if v is not None] or [0.0])),
            "colorscale": AREA_SCALE,
            "marker": {"opacity": 0.6, "line": {"width": 0.5, "color": "#333"}},
            "hovertemplate": "<b>%{text}</b><br>" + area_label + ": %{z:,.2f}<extra></extra>",
            "colorbar": {"title": {"text": area_label}, "x": 0.0, "xanchor": "left",
                         "len": 0.4, "y": 0.95, "yanchor": "top"},
            "visible": "areas" in visible,
        },
        {
            "type": "choroplethmap",
            "name": "H3 cells",
            "geojson": cells_geojson,
            "featureidkey": "id",
            "locations": cell_ids,
            "z": cell_values.tolist(),
            "zmin": 0,
            "zmax": _zmax(cell_values),
            "colorscale": HEAT_SCALE,
            "marker": {"line": {"width": 0}},
            "hovertemplate": "cell %{location}<br>" + cell_label + ": %{z:,}<extra></extra>",
            "colorbar": {"title": {"text": cell_label}, "len": 0.4, "y": 0.95,
                         "yanchor": "top"},
            "visible": "cells" in visible,
        },
        {**cluster_trace, "visible": "clusters" in visible},
    ]
    return {
        "data": traces,
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
        "marker": {"opacity": 0.55, "line": {"width": 1.5, "color": "#49006a"}},
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
