"""Hotspot's user interface: the Dash app, its pages, the HTTP API and the command line."""
