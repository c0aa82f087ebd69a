"""The access decision for every route and callback, in one table.

Each Flask endpoint and each server-side Dash callback is listed here with what it needs: a
view the role must be allowed to see, a thing the role must be allowed to change, or nothing
beyond being signed in. The gate (:mod:`dashboard.access.gate`) refuses anything not listed,
so a new route or callback that was not given a decision is refused until it is, and
``tests/integration/test_role_matrix.py`` fails for it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    """What a route or callback needs.

    ``public``: anyone, signed in or not (static files that hold no data). ``see`` and
    ``change`` name a view and a thing from :mod:`geo.access`; with neither, being signed in
    is enough.
    """

    see: str | None = None
    change: str | None = None
    public: bool = False
    what: str = ""

    def describe(self) -> str:
        """Return the decision as the role-matrix table shows it."""
        if self.public:
            return "anyone"
        parts = [f"see {self.see}" if self.see else "", f"change {self.change}"
                 if self.change else ""]
        return " and ".join(p for p in parts if p) or "signed in"


PUBLIC = Need(public=True)
SIGNED_IN = Need()

#: Flask endpoints (``request.url_rule.endpoint``).
ROUTES: dict[str, Need] = {
    # static files: stylesheets and the app's own scripts, no data
    "static": PUBLIC,
    "_dash_assets.static": PUBLIC,
    "/_favicon.ico": PUBLIC,
    # the sign-in page and its form
    "hotspot_signin.sign_in_form": PUBLIC,
    "hotspot_signin.sign_in": PUBLIC,
    "hotspot_signin.sign_out": SIGNED_IN,
    # the Dash shell: its scripts, page layouts and callback list hold no incident data; the
    # pages' contents come through callbacks and page layouts, each checked below
    "/_dash-component-suites/<string:package_name>/<path:fingerprinted_path>": SIGNED_IN,
    "/_dash-layout": SIGNED_IN,
    "/_dash-dependencies": SIGNED_IN,
    "/_reload-hash": SIGNED_IN,
    "/": SIGNED_IN,
    "/<path:path>": SIGNED_IN,
    "/_dash-update-component": SIGNED_IN,  # and then the callback's own decision
    # the basemap: map tiles, their style and label glyphs hold no incident data, but the
    # site's map file is its licensed copy, so only signed-in users fetch it
    "tiles.style": SIGNED_IN,
    "tiles.tile": SIGNED_IN,
    "tiles.glyphs": SIGNED_IN,
    "tiles.unknown": SIGNED_IN,
    # the API
    "api_v1.health": SIGNED_IN,
    "api_v1.whoami": SIGNED_IN,
    "api_v1.aggregate": Need(see="aggregate", what="aggregate counts"),
    "api_v1.patrol_plan": Need(see="patrol", what="patrol plans"),
    "api_v1.backtest": Need(see="patrol", what="patrol plan backtests"),
    "api_v1.nte_zones": Need(see="nte", what="night-time economy zones"),
    "api_v1.nte_nights": Need(see="nte", what="night-time economy zones"),
    "api_v1.trends": Need(see="trends", what="trends"),
    "api_v1.emerging": Need(see="emerging", what="emerging hotspots"),
    "api_v1.evaluate": Need(see="evaluate", what="intervention evaluations"),
    "api_v1.hotspots": Need(see="hotspots", what="ranked hotspot cells"),
    "api_v1.ingest": Need(change="ingest", what="add incident files"),
    "api_v1.board": Need(see="board", what="the board view"),
    "api_v1.health_coverage": Need(see="health", what="hospital and ambulance figures"),
    "api_v1.health_compare": Need(see="health", what="hospital and ambulance figures"),
    "board_exports.board_csv": Need(see="board", what="the board view"),
    "board_exports.board_pdf": Need(see="board", what="the board view"),
    # the outlines the Explorer paints (hexagons of the user's own scope, at a resolution the
    # role may see: the route asks the query layer, as the page's callback does)
    "map_geometry.geometry": Need(see="explorer", what="the Explorer"),
    "unknown_api_root": SIGNED_IN,
    "unknown_api": SIGNED_IN,
    # downloads
    "patrol_exports.plan_csv_download": Need(see="patrol", what="patrol plans"),
    "patrol_exports.plan_provenance_download": Need(see="patrol", what="patrol plans"),
    "patrol_exports.plan_geojson_download": Need(see="patrol", what="patrol plans"),
    "patrol_exports.briefing": Need(see="briefing", what="shift briefings"),
    "nte_exports.zones_download": Need(see="nte", what="night-time economy zones"),
    "nte_exports.deployment_sheet": Need(see="sheet", what="NTE deployment sheets"),
    "nte_exports.deployment_sheet_csv": Need(see="sheet", what="NTE deployment sheets"),
}

#: Server-side Dash callbacks, by the module and name of the function.
CALLBACKS: dict[str, Need] = {
    "dashboard.app._dismiss_notice": SIGNED_IN,
    # asks only whether new data has landed (the store version), every few seconds
    "dashboard.app._live_version": SIGNED_IN,
    # Dash's page router: it returns the page's layout, and each page checks its own view
    "dash.dash.Dash.enable_pages.<locals>.router_sync.<locals>.update": SIGNED_IN,
    "dashboard.layouts.explorer.update_view": Need(see="explorer", what="the Explorer"),
    "dashboard.layouts.explorer.update_map_values": Need(see="explorer", what="the Explorer"),
    "dashboard.layouts.explorer.update_kde": Need(see="density", what="the density layer"),
    "dashboard.layouts.explorer.update_clusters": Need(see="clusters",
                                                       what="DBSCAN cluster footprints"),
    "dashboard.layouts.explorer.sync_group": Need(see="explorer", what="the Explorer"),
    "dashboard.layouts.explorer.apply_preset_or_grid_click": Need(see="explorer",
                                                                  what="the Explorer"),
    "dashboard.layouts.explorer.zoom_to_row": Need(see="explorer", what="the Explorer"),
    "dashboard.layouts.nte.update_zones": Need(see="nte", what="night-time economy zones"),
    "dashboard.layouts.nte.zone_detail": Need(see="nte", what="night-time economy zones"),
    "dashboard.layouts.nte.sheet_links": Need(see="sheet", what="NTE deployment sheets"),
    "dashboard.layouts.nte.edit_zones": Need(see="nte", change="zones", what="change zones"),
    "dashboard.layouts.nte.suggest": Need(see="nte", change="zones",
                                          what="draw zone suggestions"),
    "dashboard.layouts.patrol.update_plan": Need(see="patrol", what="patrol plans"),
    "dashboard.layouts.patrol.zoom_to_hotspot": Need(see="patrol", what="patrol plans"),
    "dashboard.layouts.patrol.apply_shift_preset": Need(see="patrol", what="patrol plans"),
    "dashboard.layouts.patrol.load_weights": Need(see="patrol", change="weights",
                                                  what="change the harm weights"),
    "dashboard.layouts.patrol.run_backtest_panel": Need(see="patrol", what="backtests"),
    "dashboard.layouts.patrol.import_patrol_log": Need(see="patrol", change="patrol-log",
                                                       what="record patrol hours"),
    "dashboard.layouts.trends.update_trends": Need(see="trends", what="trends"),
    "dashboard.layouts.trends.run_emerging": Need(see="emerging", what="emerging hotspots"),
    "dashboard.layouts.trends.emerging_series": Need(see="emerging", what="emerging hotspots"),
    "dashboard.layouts.trends.run_evaluation": Need(see="evaluate",
                                                    what="intervention evaluations"),
    "dashboard.layouts.trends.add_event": Need(see="trends", change="events",
                                               what="change the events calendar"),
    "dashboard.layouts.trends.delete_event": Need(see="trends", change="events",
                                                  what="change the events calendar"),
    "dashboard.layouts.figures.update_figures": Need(see="aggregate", what="area figures"),
    "dashboard.layouts.board.update_board": Need(see="board", what="the board view"),
    "dashboard.layouts.board.next_area": Need(see="board", what="the board view"),
    "dashboard.layouts.board.show_baseline_year": Need(see="board", what="the board view"),
    "dashboard.layouts.board.download_links": Need(see="board", what="the board view"),
    "dashboard.layouts.health.update_health": Need(see="health",
                                                   what="hospital and ambulance figures"),
    # redraws tonight's plan when new data land; "you are here" is drawn in the browser only
    "dashboard.layouts.shift.refresh_shift": Need(see="patrol", what="patrol plans"),
}

#: Pages, by path: the view a role needs to open them (and to see them in the menu).
PAGES: dict[str, Need] = {
    "/": Need(see="explorer", what="the Explorer"),
    "/nte": Need(see="nte", what="night-time economy zones"),
    "/patrol": Need(see="patrol", what="patrol plans"),
    "/shift": Need(see="patrol", what="patrol plans"),
    "/trends": Need(see="trends", what="trends"),
    "/figures": Need(see="aggregate", what="area figures"),
    "/board": Need(see="board", what="the board view"),
    "/health": Need(see="health", what="hospital and ambulance figures"),
}

#: Where a role starts after signing in, when no particular page was asked for: its own page,
#: if the role may open it (else the Explorer, else the first page it may open). Officers on
#: shift start on tonight's plan.
LANDING: dict[str, str] = {
    "officer": "/shift",
}
