"""Component ids, one constant each, prefixed by page so pages never collide."""

# Explorer page
PRESET = "explorer-preset"
DATES = "explorer-dates"
DAYS = "explorer-days"
HOUR_FROM = "explorer-hour-from"
HOUR_TO = "explorer-hour-to"
CATEGORIES = "explorer-categories"
SOURCES = "explorer-sources"
AREAS = "explorer-areas"
PUBLIC_ONLY = "explorer-public-only"
LAYERS = "explorer-layers"
RES = "explorer-res"
AREA_MEASURE = "explorer-area-measure"
KDE_BANDWIDTH = "explorer-kde-bandwidth"
DBSCAN_EPS = "explorer-dbscan-eps"
DBSCAN_MIN = "explorer-dbscan-min"
MAP = "explorer-map"
GRID = "explorer-grid"
TABLE = "explorer-table"
SELECTION_TEXT = "explorer-selection"
TIME_NOTE = "explorer-time-note"
GEOMETRY_KEY = "explorer-geometry-key"
URL_SEARCH = "explorer-url-search"
METHOD_TEXT = "explorer-method"
DATA_PANEL = "explorer-data-panel"
RESET_TIME = "explorer-reset-time"
TABLE_UNIT = "explorer-table-unit"
MAP_VALUES = "explorer-map-values"  # the values the map paints, aligned to its outlines
MAP_LEGEND = "explorer-map-legend"

# The frame around every page: live data
LIVE_TICK = "live-tick"  # how often the page asks whether new data has landed
LIVE_VERSION = "live-version"  # the store version the page shows; pages redraw when it changes
LIVE_TEXT = "live-updated"  # "data updated 3 minutes ago"
