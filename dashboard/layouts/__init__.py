"""Dash pages: one module per page (files starting with ``_`` hold shared helpers)."""
