"""Hotspot engine: pure computation on incident tables.

Nothing in this package imports ``dash`` or ``plotly``; the dashboard is one client of it, the
command line and the HTTP API are others.
"""

__version__ = "0.1.0"
