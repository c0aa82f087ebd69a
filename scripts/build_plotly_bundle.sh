#!/usr/bin/env bash
# Build dashboard/assets/plotly-hotspot.min.js: plotly.js with only the trace types Hotspot
# draws (scatter, bar, heatmap, choroplethmap, scattermap), from the npm registry.
#
# Why: Dash's dcc.Graph otherwise fetches the whole plotly.js (4.8 MB) after the first
# callbacks, and compiling and running it took 825 ms of every page's first load on a 2-core
# machine without a GPU (issue 11). This build is 3.0 MB and defines window.Plotly before the
# page starts, which dcc.Graph uses instead (its fallback is the full plotly.js, so a missing
# bundle degrades gracefully). Plotly.js is MIT-licensed; its licence is inside the bundle.
#
# Keep PLOTLY_JS at the plotly.js version the installed plotly Python package bundles
# (tests/unit/test_plotly_bundle.py checks). Needs Node.js and npm.
#   ./scripts/build_plotly_bundle.sh
set -euo pipefail
PLOTLY_JS=4.1.1
ESBUILD=0.28.2
cd "$(dirname "$0")/.."
out=dashboard/assets
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(
    cd "$work"
    npm init -y >/dev/null
    npm install --silent --no-audit --no-fund "plotly.js@$PLOTLY_JS" "esbuild@$ESBUILD"
    cat > entry.js <<'JS'
// The trace types Hotspot's pages draw; scatter comes with the core.
var Plotly = require("plotly.js/lib/core");
Plotly.register([
    require("plotly.js/lib/bar"),
    require("plotly.js/lib/heatmap"),
    require("plotly.js/lib/choroplethmap"),
    require("plotly.js/lib/scattermap")
]);
window.Plotly = Plotly;
JS
    npx esbuild entry.js --bundle --minify --define:global=window --log-level=warning \
        --outfile=bundle.js
    # the first line names what is inside (tests/unit/test_plotly_bundle.py reads it); the
    # MIT licence travels inside the file, as the licence asks
    {
        echo "/* plotly.js v$PLOTLY_JS: core, bar, heatmap, choroplethmap, scattermap; built by scripts/build_plotly_bundle.sh"
        echo
        cat node_modules/plotly.js/LICENSE
        echo "*/"
        cat bundle.js
    } > plotly-hotspot.min.js
)
cp "$work/plotly-hotspot.min.js" "$out/plotly-hotspot.min.js"
ls -l "$out/plotly-hotspot.min.js"
