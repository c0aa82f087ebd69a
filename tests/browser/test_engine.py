"""The Explorer served on DuckDB (``hotspot serve --engine duckdb``) as an analyst uses it, in
real headless Chromium: the same figures as the in-memory server, and plain words for the
views that engine does not serve yet."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import serve
from tests.browser.test_explorer import (
    SELECTION,
    graph_data,
    in_hexagons,
    painted,
    selected_count,
    wait_for_explorer,
    wait_for_map_total,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def duckdb_server(tmp_path_factory) -> Iterator[str]:
    """`hotspot serve --engine duckdb` on the synthetic sample."""
    with serve(tmp_path_factory.mktemp("duckdb-data"), flags=["--engine", "duckdb"]) as url:
        yield url


@pytest.fixture(scope="module")
def numpy_server(tmp_path_factory) -> Iterator[str]:
    """The default server on a sample of its own: the shared one is changed by other tests
    (a harm weight table loaded, zones saved), which would rank its hotspots differently."""
    with serve(tmp_path_factory.mktemp("numpy-data")) as url:
        yield url


def explorer_figures(page, url: str) -> dict:
    page.goto(url + "/?days=fri%2Csat&hours=20-4")
    wait_for_explorer(page)
    total = selected_count(page)
    wait_for_map_total(page, in_hexagons(page))
    page.wait_for_selector("#explorer-table .ag-row")
    return {"selected": total, "in hexagons": in_hexagons(page),
            "cells": sum(painted(page)["cells"]),
            "grid": graph_data(page, "explorer-grid")[0]["z"],
            "ranked": page.inner_text("#explorer-table .ag-center-cols-container"),
            "selection text": page.inner_text(SELECTION)}


def test_the_explorer_on_duckdb_shows_the_in_memory_figures(page, duckdb_server, numpy_server):
    want = explorer_figures(page, numpy_server)
    got = explorer_figures(page, duckdb_server)
    assert got == want
    assert 0 < want["selected"] < 60_000 and want["cells"] == want["in hexagons"]
    panel = page.inner_text("#explorer-data-panel")
    assert "counted by duckdb" in panel and "SYNTHETIC" in panel
    # density and clusters are not offered on this engine (they need every point)
    assert page.locator("#explorer-layers input[value=kde]").count() == 0
    # a filter change is answered by the engine too
    page.click("#explorer-days input[value=sat]")
    page.wait_for_function(
        f"() => !document.querySelector('{SELECTION}').innerText.startsWith("
        f"'{got['selected']:,}')")
    # the address bar is written with the texts: once it holds Friday alone, the texts are
    # this change's, not a change still on its way (under load the two can be seen apart)
    page.wait_for_function("() => location.search.includes('days=fri&')"
                           " || location.search.endsWith('days=fri')", timeout=30_000)
    fewer = selected_count(page)
    assert 0 < fewer < got["selected"]
    wait_for_map_total(page, in_hexagons(page))
    assert sum(map(sum, graph_data(page, "explorer-grid")[0]["z"])) <= fewer


def test_a_view_the_engine_does_not_serve_says_so(page, duckdb_server):
    page.goto(duckdb_server + "/trends")
    page.wait_for_function(
        "() => document.body.innerText.includes('not available while Hotspot runs on the "
        "duckdb engine')", timeout=30_000)
    assert "Something went wrong" not in page.inner_text("body")
