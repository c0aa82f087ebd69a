"""The Explorer as an analyst uses it, in real headless Chromium."""

from __future__ import annotations

import re

import pytest

from tests.browser.ui import choose_option

pytestmark = pytest.mark.browser

SELECTION = "#explorer-selection"


def graph_data(page, graph_id: str) -> list:
    return page.evaluate(
        "id => document.querySelector('#' + id + ' .js-plotly-plot').data"
        ".map(t => ({z: t.z, visible: t.visible, type: t.type}))",
        graph_id,
    )


def painted(page) -> dict:
    """What the map paints now: hexagon and area values as drawn (see hotspot_map.js)."""
    return page.evaluate("() => window.hotspotMapPainted()")


def wait_for_map_total(page, total: int) -> None:
    """Wait until the hexagon layer paints exactly ``total`` incidents (the map is painted
    after the callback's response arrives, once MapLibre has drawn the frame)."""
    page.wait_for_function("total => window.hotspotMapTotal() === total", arg=total,
                           timeout=15_000)


def selected_count(page) -> int:
    text = page.inner_text(SELECTION)
    return int(re.match(r"([\d,]+) of", text).group(1).replace(",", ""))


def in_hexagons(page) -> int:
    """The selected incidents the hexagons hold: the selection less the records the method note
    says are placed too coarsely (postcode or LSOA centroid) for the hexagons' resolution."""
    note = page.inner_text("#explorer-method")
    coarse = re.search(r"([\d,]+) selected records placed only by a postcode or LSOA", note)
    return selected_count(page) - (int(coarse.group(1).replace(",", "")) if coarse else 0)


def wait_for_explorer(page) -> None:
    page.wait_for_selector("#explorer-map .js-plotly-plot .maplibregl-canvas", timeout=30_000)
    page.wait_for_function("() => window.hotspotMapPainted && window.hotspotMapPainted()",
                           timeout=30_000)
    page.wait_for_selector("#explorer-grid .js-plotly-plot", timeout=30_000)
    page.wait_for_selector("#explorer-table .ag-row", timeout=30_000)


def test_explorer_loads_labelled_synthetic(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    assert "SYNTHETIC" in page.inner_text(".sample-badge")
    assert "SYNTHETIC" in page.inner_text("#explorer-data-panel")
    total = selected_count(page)
    assert total > 10_000
    # every selected incident is in a hexagon, bar the health records placed only by a postcode
    # or LSOA centroid, which the method note counts (the sample has some)
    assert 0 < total - in_hexagons(page) < total / 20
    assert sum(painted(page)["cells"]) == in_hexagons(page)


def test_preset_changes_map_grid_table_and_url(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    before = selected_count(page)
    grid_before = graph_data(page, "explorer-grid")[0]["z"]
    page.get_by_text("Friday and Saturday nights 20:00–04:00").click()
    page.wait_for_function(
        f"() => !document.querySelector('{SELECTION}').innerText.startsWith('{before:,}')")
    # the preset sets the days and the hours: under load the page can first show the days
    # alone; the address bar is written with the texts, so it says when both are in
    page.wait_for_function("() => location.search.includes('days=fri%2Csat')"
                           " && location.search.includes('hours=20-4')", timeout=30_000)
    page.wait_for_timeout(300)
    after = selected_count(page)
    assert 0 < after < before
    # the map's hexagon values become the new selection's (values only: same cells drawn)
    n_cells = len(painted(page)["cells"])
    wait_for_map_total(page, in_hexagons(page))
    assert len(painted(page)["cells"]) == n_cells
    # the grid keeps only Friday and Saturday nights: their small hours fall on Saturday and
    # Sunday mornings, and Friday's own small hours (Thursday night) are left out
    grid = graph_data(page, "explorer-grid")[0]["z"]
    assert grid != grid_before
    assert sum(grid[0]) == 0  # Monday is empty
    assert grid[4][21] > 0 and grid[5][22] > 0 and grid[5][1] > 0 and grid[6][1] > 0
    assert grid[4][1] == 0 and grid[4][12] == 0 and grid[6][21] == 0
    assert sum(map(sum, grid)) == after
    # the state is in the address bar, so the view can be shared
    assert "days=fri%2Csat" in page.url and "hours=20-4" in page.url


def test_shared_link_restores_the_view(page, live_server):
    page.goto(live_server + "/?days=sat&hours=22-2&public_only=1")
    wait_for_explorer(page)
    grid = graph_data(page, "explorer-grid")[0]["z"]
    # Saturday night 22-2: Saturday 22:00-23:59 and Sunday 00:00-01:59
    nonzero = {(d, h) for d in range(7) for h in range(24) if grid[d][h]}
    assert nonzero and nonzero <= {(5, 22), (5, 23), (6, 0), (6, 1)}
    assert page.is_checked("#explorer-public-only input[type=checkbox]")


def test_clicking_a_grid_square_filters_to_it(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    before = selected_count(page)
    box = page.locator("#explorer-grid .nsewdrag").bounding_box()
    # Saturday (row 6 of 7) at 23:00 (column 24 of 24)
    page.mouse.click(box["x"] + box["width"] * (23.5 / 24), box["y"] + box["height"] * (5.5 / 7))
    page.wait_for_function(
        f"() => !document.querySelector('{SELECTION}').innerText.startsWith('{before:,}')")
    page.wait_for_timeout(300)
    grid = graph_data(page, "explorer-grid")[0]["z"]
    nonzero = {(d, h) for d in range(7) for h in range(24) if grid[d][h]}
    assert nonzero == {(5, 23)}
    assert "days=sat" in page.url and "hours=23-24" in page.url


def test_selecting_a_ranked_hotspot_zooms_the_map_to_it(page, live_server):
    page.goto(live_server + "/?days=fri,sat&hours=20-4")
    wait_for_explorer(page)
    first_cell = page.inner_text("#explorer-table .ag-row[row-index='0'] [col-id='cell']")
    page.click("#explorer-table .ag-row[row-index='0'] [col-id='share_text']")
    page.wait_for_function(
        "() => document.querySelector('#explorer-map .js-plotly-plot').layout.map.zoom > 14")
    center = page.evaluate(
        "() => document.querySelector('#explorer-map .js-plotly-plot').layout.map.center")
    import h3

    lat, lon = h3.cell_to_latlng(first_cell.strip())
    assert abs(center["lat"] - lat) < 1e-6 and abs(center["lon"] - lon) < 1e-6


def test_dbscan_clusters_rank_in_the_table(page, live_server):
    page.goto(live_server + "/?days=fri,sat&hours=20-4&layers=cells,clusters&unit=clusters")
    wait_for_explorer(page)
    first = page.inner_text("#explorer-table .ag-row[row-index='0'] [col-id='cell']")
    assert first.startswith("cluster 1")
    clusters = graph_data(page, "explorer-map")[0]
    assert clusters["visible"] is True and len(clusters["z"]) >= 5
    assert "DBSCAN: eps 100 m" in page.inner_text("#explorer-method")


def area_trace(page) -> dict:
    """The authority layer as the map paints it now: which area each value is painted on."""
    drawn = painted(page)
    return {"locations": drawn["codes"], "z": drawn["areas"], "text": drawn["names"]}


#: Find a point of the map where area ``code`` is drawn and no hexagon is painted; hover it.
HOVER_AREA = """code => {
    const m = document.querySelector('#explorer-map .js-plotly-plot')._fullLayout.map._subplot.map;
    const c = m.getCanvas(), w = c.clientWidth, h = c.clientHeight;
    for (let y = 5; y < h; y += 6) for (let x = 5; x < w; x += 6) {
        const hits = m.queryRenderedFeatures([x, y],
            {layers: ['hotspot-areas-fill', 'hotspot-cells-fill']});
        if (hits.length === 1 && hits[0].properties.code === code) {
            const r = c.getBoundingClientRect();
            return [r.left + x, r.top + y];
        }
    }
    return null;
}"""


def test_choosing_one_authority_paints_its_count_on_that_authority(page, live_server):
    # The filter's values once replaced the map's without its list of areas: Blackpool's
    # count landed on Blackburn with Darwen, the first area in the list.
    import json
    import urllib.request

    with urllib.request.urlopen(live_server + "/api/v1/aggregate?la=E06000009") as resp:
        blackpool = json.load(resp)["rows"]
    assert [r["code"] for r in blackpool] == ["E06000009"]
    count = blackpool[0]["count"]
    page.goto(live_server + "/")
    wait_for_explorer(page)
    before = area_trace(page)
    assert len(before["locations"]) == 14
    choose_option(page, "#explorer-areas", "Blackpool")
    page.wait_for_function(
        "() => window.hotspotMapPainted().areas"
        ".filter(v => v !== null && v > 0).length === 1", timeout=60_000)
    after = area_trace(page)
    by_area = {loc: (name, z) for loc, name, z in
               zip(after["locations"], after["text"], after["z"], strict=True)}
    assert by_area["E06000009"] == ("Blackpool", count)
    assert all(z in (None, 0) for loc, (_, z) in by_area.items() if loc != "E06000009")
    assert selected_count(page) == count
    # hovering the shaded area names it and its count (what is drawn at that spot)
    page.wait_for_timeout(500)
    point = page.evaluate(HOVER_AREA, "E06000009")
    assert point is not None
    page.mouse.move(*point)
    page.wait_for_selector("#explorer-map .map-tooltip", state="visible", timeout=5_000)
    assert page.inner_text("#explorer-map .map-tooltip").split("\n") == [
        "Blackpool", f"{count:,} incidents"]


def test_clearing_an_authority_from_a_shared_link_restores_every_area(page, live_server):
    # Opened with one authority, the map once drew a one-area list; clearing the filter then
    # put the first authority's count on it and dropped the rest.
    page.goto(live_server + "/?la=E06000009")
    wait_for_explorer(page)
    first = area_trace(page)
    assert len(first["locations"]) == 14
    selected = page.inner_text(SELECTION)
    page.click("#explorer-areas .Select-clear, #explorer-areas [class*='clear']")
    # the filter change is answered (on a busy machine this takes a while) ...
    page.wait_for_function(f"() => document.querySelector('{SELECTION}').innerText !== "
                           f"{selected!r}", timeout=60_000)
    page.wait_for_function(
        "() => window.hotspotMapPainted().areas"
        ".filter(v => v !== null && v > 0).length > 1", timeout=60_000)
    trace = area_trace(page)
    import json
    import urllib.request

    with urllib.request.urlopen(live_server + "/api/v1/aggregate") as resp:
        counts = {r["code"]: r["count"] for r in json.load(resp)["rows"]}
    assert dict(zip(trace["locations"], trace["z"], strict=True)) == counts


def test_group_choice_sets_the_categories_and_says_so(page, live_server):
    # The synthetic sample is not police.uk data, so it starts with all categories; the
    # violence group picks the sample's categories it names and says what it leaves out.
    page.goto(live_server + "/")
    wait_for_explorer(page)
    note = page.inner_text("#explorer-group-note")
    assert note == "All categories (the default)."
    before = selected_count(page)
    page.click("#explorer-group")
    page.get_by_text("violence: Violence and sexual offences, Robbery, Possession of weapons",
                     exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('#explorer-group-note').innerText.includes('violence')",
        timeout=60_000)
    note = page.inner_text("#explorer-group-note")
    assert note.startswith("Crime-type group 'violence': Robbery, Possession of weapons.")
    assert "Left out: " in note and "Public order" in note
    assert "Not in these data: Violence and sexual offences." in note
    page.wait_for_function(
        f"() => !document.querySelector('{SELECTION}').innerText.startsWith('{before:,}')",
        timeout=60_000)
    page.wait_for_function("() => location.search.includes('group=violence')", timeout=60_000)
    import json
    import urllib.request

    with urllib.request.urlopen(live_server + "/api/v1/aggregate?group=violence") as resp:
        body = json.load(resp)
    assert sum(r["count"] for r in body["rows"]) == selected_count(page)


def test_harm_column_hidden_without_weights_and_peak_day_counts_nights(page, live_server):
    page.goto(live_server + "/?days=fri,sat&hours=20-4")
    wait_for_explorer(page)
    headers = page.locator("#explorer-table .ag-header-cell-text").all_inner_texts()
    assert "Harm" not in headers and "Peak day" in headers
    assert "no harm weights are loaded" in page.inner_text(".table-panel")
    days = page.locator("#explorer-table [col-id='peak_day']").all_inner_texts()[1:]
    assert days and all(re.match(r"(Friday|Saturday) night \(\d+ of \d+\)", d) for d in days)
    # DBSCAN clusters count their peak day by night too
    page.goto(live_server + "/?days=fri,sat&hours=20-4&layers=cells,clusters&unit=clusters")
    wait_for_explorer(page)
    days = page.locator("#explorer-table [col-id='peak_day']").all_inner_texts()[1:]
    assert days and all(re.fullmatch(r"(Friday|Saturday) night", d) for d in days)


def test_density_and_cluster_layers_draw_under_the_security_policy(page, live_server):
    """The density layer is a PNG the map fetches from a data: URL; the page's
    Content-Security-Policy must let it through (the fixture fails on any console error,
    CSP refusals included) and the method line must state the bandwidth used."""
    page.goto(live_server + "/?layers=cells,areas,kde,clusters")
    wait_for_explorer(page)
    page.wait_for_function(
        "() => document.querySelector('#explorer-method').innerText.includes('Kernel density')",
        timeout=30_000)
    layers = page.evaluate("() => document.querySelector('#explorer-map .js-plotly-plot')"
                           ".layout.map.layers.map(l => l.sourcetype + ':' + l.visible)")
    drawn = [layer for layer in layers if not layer.endswith("false")]
    assert any(layer.startswith("image:") for layer in drawn), layers
    page.wait_for_timeout(2000)  # the map fetches the image after drawing
    assert "bandwidth" in page.inner_text("#explorer-method")


# -- the map's own polish (issue 11) --------------------------------------------------------
def legend(page) -> dict[str, list[str]]:
    """The map's key: each layer's title and the words of its classes."""
    return page.evaluate(
        "() => Object.fromEntries([...document.querySelectorAll("
        "'#explorer-map-legend .legend-layer')].map(l => [l.querySelector('.legend-title')"
        ".innerText, [...l.querySelectorAll('li, .legend-ramp')].map(i => i.innerText"
        ".replace(/\\s+/g, ' ').trim())]))")


def test_default_view_paints_hexagons_that_can_be_seen(page, live_server):
    # The default view once had the hexagon layer ticked yet nothing to see: most cells hold
    # one incident, which the old colour scale (up to the busiest cell) painted all but white.
    page.goto(live_server + "/")
    wait_for_explorer(page)
    # the values are painted onto the drawn hexagons a frame or more after they arrive
    page.wait_for_function(
        "() => { const m = document.querySelector('#explorer-map .js-plotly-plot')"
        "._fullLayout.map._subplot.map;"
        " return m.queryRenderedFeatures({layers: ['hotspot-cells-fill']})"
        ".filter(x => x.state.c >= 0).length > 1000; }", timeout=30_000)
    drawn = page.evaluate(
        "() => { const m = document.querySelector('#explorer-map .js-plotly-plot')"
        "._fullLayout.map._subplot.map;"
        " const f = m.queryRenderedFeatures({layers: ['hotspot-cells-fill']});"
        " return {n: f.length, painted: f.filter(x => x.state.c >= 0).length,"
        " opacity: m.getPaintProperty('hotspot-cells-fill', 'fill-opacity'),"
        " visible: m.getLayoutProperty('hotspot-cells-fill', 'visibility')}; }")
    assert drawn["visible"] != "none" and drawn["opacity"] >= 0.8
    # every hexagon holding an incident is painted in a class of its own colour
    assert drawn["painted"] > 1000 and drawn["painted"] == drawn["n"]
    # and it shows: the map's pixels hold the hexagons' lightest class colour (#ffeda0)
    near = page.evaluate("""() => {
        const m = document.querySelector('#explorer-map .js-plotly-plot')
            ._fullLayout.map._subplot.map;
        m.redraw();  // draw now, and read the pixels before the buffer is handed on
        const c = m.getCanvas(), copy = document.createElement('canvas');
        copy.width = c.width; copy.height = c.height;
        const ctx = copy.getContext('2d');
        ctx.drawImage(c, 0, 0);
        const px = ctx.getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 0; i < px.length; i += 4) {
            if (Math.abs(px[i] - 255) < 12 && Math.abs(px[i + 1] - 237) < 30 &&
                Math.abs(px[i + 2] - 160) < 40) n++;
        }
        return n; }""")
    assert near > 500


def test_each_layer_has_its_own_key_in_words(page, live_server):
    # Two colour bars both titled "incidents" once sat on the map, and the density and
    # cluster layers had no key at all.
    page.goto(live_server + "/?layers=cells,areas,kde,clusters")
    wait_for_explorer(page)
    page.wait_for_function(
        "() => document.querySelectorAll('#explorer-map-legend .legend-layer').length === 4",
        timeout=30_000)
    key = legend(page)
    assert list(key) == ["Incidents per hexagon (H3 resolution 9)",
                         "Incidents per local authority", "Kernel density (incidents per km²)",
                         "DBSCAN clusters"]
    hexagons = key["Incidents per hexagon (H3 resolution 9)"]
    assert hexagons[0] == "1" and hexagons[-1].endswith("or more") and len(hexagons) >= 3
    assert all(re.fullmatch(r"[\d,]+( to [\d,]+| or more)?", w) for w in hexagons)
    assert key["Kernel density (incidents per km²)"] == ["lower higher"]
    assert key["DBSCAN clusters"] == ["cluster footprint (darker: more incidents)"]
    # no Plotly colour bar repeats a key
    assert page.locator("#explorer-map .colorbar").count() == 0
    # the key follows the layers: unticking the hexagons takes their key away
    page.click("#explorer-layers input[value=cells]")
    page.wait_for_function(
        "() => !document.querySelector('#explorer-map-legend').innerText.includes('hexagon')",
        timeout=30_000)
    # rates say so in their title
    page.click("#explorer-area-measure input[value=rate]")
    page.wait_for_function(
        "() => document.querySelector('#explorer-map-legend').innerText"
        ".includes('per 1,000 residents')", timeout=30_000)


def test_the_colours_follow_the_key_after_a_filter_change(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    everything = page.inner_text(SELECTION).split(" ")[0]
    page.click("#explorer-days input[value=sun]")
    page.wait_for_function(
        f"() => !document.querySelector('{SELECTION}').innerText.startsWith('{everything}')")
    wait_for_map_total(page, in_hexagons(page))
    # each painted hexagon's colour is the key's colour for its count
    mismatched = page.evaluate("""() => {
        const m = document.querySelector('#explorer-map .js-plotly-plot')
            ._fullLayout.map._subplot.map;
        const v = window.hotspotMapPainted().cells;
        const rows = [...document.querySelectorAll('#explorer-map-legend .legend-layer')][0]
            .querySelectorAll('li');
        const classes = [...rows].map(r => [parseInt(r.innerText.replace(/,/g, '')),
            getComputedStyle(r.querySelector('.swatch')).backgroundColor]);
        const palette = ['#ffeda0', '#feb24c', '#fd8d3c', '#f03b20', '#bd0026'];
        const rgb = h => 'rgb(' + [1, 3, 5].map(i => parseInt(h.slice(i, i + 2), 16))
            .join(', ') + ')';
        let bad = 0;
        for (let i = 0; i < v.length; i += 7) {
            if (!v[i]) continue;
            let k = classes.length - 1;
            while (k > 0 && v[i] < classes[k][0]) k--;
            const c = m.getFeatureState({source: 'hotspot-cells', id: i}).c;
            if (rgb(palette[c]) !== classes[k][1]) bad++;
        }
        return bad; }""")
    assert mismatched == 0


def test_choosing_an_authority_zooms_the_map_to_it(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    view = "() => document.querySelector('#explorer-map .js-plotly-plot')._fullLayout.map"
    whole = page.evaluate(f"() => {{ const m = ({view})(); return [m.zoom, m.center]; }}")
    choose_option(page, "#explorer-areas", "Blackpool")
    page.wait_for_function(f"z => ({view})().zoom > z + 1", arg=whole[0], timeout=60_000)
    zoom, center = page.evaluate(f"() => {{ const m = ({view})(); return [m.zoom, m.center]; }}")
    # Blackpool lies around 53.82 N, 3.05 W
    assert abs(center["lat"] - 53.82) < 0.05 and abs(center["lon"] + 3.03) < 0.05
    page.click("#explorer-areas .dash-dropdown-clear")
    page.wait_for_function(f"z => Math.abs(({view})().zoom - z) < 0.01", arg=whole[0],
                           timeout=60_000)
