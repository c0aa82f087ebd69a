"""The Explorer as an analyst uses it, in real headless Chromium."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser

SELECTION = "#explorer-selection"


def graph_data(page, graph_id: str) -> list:
    return page.evaluate(
        "id => document.querySelector('#' + id + ' .js-plotly-plot').data"
        ".map(t => ({z: t.z, visible: t.visible, type: t.type}))",
        graph_id,
    )


def wait_for_map_total(page, total: int) -> None:
    """Wait until the hexagon layer holds exactly ``total`` incidents (Plotly redraws maps
    asynchronously after the callback's response arrives)."""
    page.wait_for_function(
        "total => { const d = document.querySelector('#explorer-map .js-plotly-plot').data;"
        " return d && d[1].z.reduce((a, b) => a + b, 0) === total; }",
        arg=total, timeout=15_000)


def selected_count(page) -> int:
    text = page.inner_text(SELECTION)
    return int(re.match(r"([\d,]+) of", text).group(1).replace(",", ""))


def wait_for_explorer(page) -> None:
    page.wait_for_selector("#explorer-map .js-plotly-plot .maplibregl-canvas", timeout=30_000)
    page.wait_for_selector("#explorer-grid .js-plotly-plot", timeout=30_000)
    page.wait_for_selector("#explorer-table .ag-row", timeout=30_000)


def test_explorer_loads_labelled_synthetic(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    assert "SYNTHETIC" in page.inner_text(".sample-badge")
    assert "SYNTHETIC" in page.inner_text("#explorer-data-panel")
    total = selected_count(page)
    assert total > 10_000
    cells = graph_data(page, "explorer-map")[1]
    assert sum(cells["z"]) == total  # every selected incident is in a hexagon


def test_preset_changes_map_grid_table_and_url(page, live_server):
    page.goto(live_server + "/")
    wait_for_explorer(page)
    before = selected_count(page)
    grid_before = graph_data(page, "explorer-grid")[0]["z"]
    page.get_by_text("Friday and Saturday nights 20:00–04:00").click()
    page.wait_for_function(
        f"() => !document.querySelector('{SELECTION}').innerText.startsWith('{before:,}')")
    page.wait_for_timeout(300)
    after = selected_count(page)
    assert 0 < after < before
    # the map's hexagon values become the new selection's (values only: same cells drawn)
    n_cells = len(graph_data(page, "explorer-map")[1]["z"])
    wait_for_map_total(page, after)
    assert len(graph_data(page, "explorer-map")[1]["z"]) == n_cells
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
    clusters = graph_data(page, "explorer-map")[2]
    assert clusters["visible"] is True and len(clusters["z"]) >= 5
    assert "DBSCAN: eps 100 m" in page.inner_text("#explorer-method")
