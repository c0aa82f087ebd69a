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
    # density and clusters are offered too (their points read as a bounded selection)
    assert page.locator("#explorer-layers input[value=kde]").count() == 1
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


def density_method(page, url: str) -> str:
    page.goto(url + "/?layers=cells,areas,kde,clusters&days=fri%2Csat&hours=20-4")
    wait_for_explorer(page)
    page.wait_for_function(
        "() => document.querySelector('#explorer-method').innerText.includes('Kernel density')"
        " && document.querySelector('#explorer-method').innerText.includes('DBSCAN')",
        timeout=30_000)
    page.wait_for_timeout(1500)  # the map fetches the density image after drawing
    return page.inner_text("#explorer-method")


def test_density_and_clusters_on_duckdb_are_the_in_memory_ones(page, duckdb_server,
                                                                numpy_server):
    """The density surface and the clusters drawn on the engine's map, described as the
    in-memory server describes them (bandwidth, points, clusters found)."""
    want = density_method(page, numpy_server)
    got = density_method(page, duckdb_server)
    assert got == want
    assert "bandwidth" in want


def patrol_page(page, url: str) -> dict:
    from tests.browser.test_patrol import wait_for_plan

    page.goto(url + "/patrol?la=E07000123&days=fri,sat&hours=20-4&n=10")
    wait_for_plan(page)
    rows = "#patrol-table .ag-center-cols-container"
    return {"summary": page.inner_text("#patrol-summary"), "rows": page.inner_text(rows),
            "dosage": page.inner_text("#patrol-dosage"),
            "method": page.inner_text("#patrol-method")}


def test_the_patrol_plan_on_duckdb_is_the_in_memory_plan(page, duckdb_server, numpy_server):
    """A Grip sergeant's plan for Preston's Friday and Saturday nights: the window's
    incidents read by the engine (bounded), ranked and named as in memory."""
    want = patrol_page(page, numpy_server)
    got = patrol_page(page, duckdb_server)
    assert got == want
    assert want["summary"].startswith("10 places in Preston")
    assert "not available while Hotspot runs" not in page.inner_text("body")


def test_a_plan_too_large_for_the_engine_says_what_to_narrow(page, tmp_path_factory):
    """A site that lets views read at most 50 incidents one by one: the plan is refused in
    words that say what to narrow, never "something went wrong"."""
    with serve(tmp_path_factory.mktemp("small-selections"), flags=["--engine", "duckdb"],
               env={"HOTSPOT_MAX_SELECTION_ROWS": "50"}) as url:
        page.goto(url + "/patrol?la=E07000123&days=fri,sat&hours=20-4&n=10")
        page.wait_for_function(
            "() => document.body.innerText.includes('would read more than 50 incidents one "
            "by one on the duckdb engine')", timeout=30_000)
        body = page.inner_text("body")
        # leave the page before its server stops: its live check would find no server
        page.goto("about:blank")
    assert "fewer areas" in body and "Something went wrong" not in body


#: One secret for record keys in both data directories below: the noise on a partner's counts
#: comes from it, so two servers agree to the unit only when they share it.
RECORD_KEY = "engine-test-key!"


def _partner_data(tmp_path_factory, name: str):
    from tests.browser.test_access import PASSWORD, _hotspot

    data_dir = tmp_path_factory.mktemp(name)
    access = data_dir / "access"
    access.mkdir(mode=0o700)
    (access / "record.key").write_text(RECORD_KEY + "\n")
    (access / "record.key").chmod(0o600)
    _hotspot("sample", "--data-dir", str(data_dir))
    for user, role in (("pat.partner", "partner"), ("bob.board", "board")):
        _hotspot("users", "add", user, "--role", role, "--data-dir", str(data_dir),
                 stdin=PASSWORD + "\n")
    return data_dir


@pytest.fixture(scope="module")
def partner_servers(tmp_path_factory) -> Iterator[tuple[str, str]]:
    """The default server and `--engine duckdb`, each on its own sample, with partner and
    board users (the same record-key secret, as one site moving to the engine would have)."""
    with serve(_partner_data(tmp_path_factory, "partner-numpy")) as numpy_url, \
            serve(_partner_data(tmp_path_factory, "partner-duckdb"),
                  flags=["--engine", "duckdb"]) as duckdb_url:
        yield numpy_url, duckdb_url


def area_figures(page, url: str, user: str, day: str) -> dict:
    """Sign in as ``user``, choose one ``day`` on Area figures, as a person does; read it."""
    from tests.browser.test_access import PASSWORD, submit

    page.context.clear_cookies()
    page.goto(url + "/sign-in")
    submit(page, user, PASSWORD)
    page.goto(url + "/figures")
    page.wait_for_selector("#figures-table .ag-row", timeout=30_000)
    rows = "#figures-table .ag-center-cols-container"
    whole = page.inner_text(rows)
    for box in ("#figures-start", "#figures-end"):
        page.fill(box, day)
        page.press(box, "Enter")
    page.wait_for_function(
        "([sel, before]) => document.querySelector(sel).innerText !== before",
        arg=[rows, whole], timeout=30_000)
    # the start and the end may come as two answers: read until the table stays the same
    seen = [page.inner_text(rows)]
    while len(seen) < 4 or len(set(seen[-4:])) > 1:
        assert len(seen) < 60, "the table never settled"
        page.wait_for_timeout(400)
        seen.append(page.inner_text(rows))
    return {"rows": seen[-1], "note": page.inner_text("#figures-note")}


@pytest.mark.parametrize("user", ["pat.partner", "bob.board"])
def test_partners_and_boards_see_the_in_memory_figures_on_duckdb(page, partner_servers, user):
    """Area figures, suppressed and adjusted, the same to the unit on the engine."""
    numpy_url, duckdb_url = partner_servers
    day = "2024-06-03"  # one day: small numbers to hide
    want = area_figures(page, numpy_url, user, day)
    got = area_figures(page, duckdb_url, user, day)
    assert got == want
    assert "fewer than 5" in want["rows"] and "fewer than 5" in want["note"]


def board_page(page, url: str, user: str) -> dict:
    """Sign in as ``user`` and read the board as it is shown (the month against the one
    before, as a board member chooses it)."""
    from tests.browser.test_access import PASSWORD, submit

    page.context.clear_cookies()
    page.goto(url + "/sign-in")
    submit(page, user, PASSWORD)
    page.goto(url + "/board?period=month&baseline=previous")
    page.wait_for_selector("#board-card-police", timeout=30_000)
    page.wait_for_selector("#board-need table, #board-need .ag-row", timeout=30_000)
    page.wait_for_function(
        "() => document.querySelectorAll('#board-trends .js-plotly-plot').length > 0",
        timeout=30_000)
    trend = page.evaluate(
        "() => [...document.querySelectorAll('#board-trends .js-plotly-plot')]"
        ".map(g => g.data.map(t => [t.x, t.y]))")
    return {part: page.inner_text(f"#board-{part}")
            for part in ("cards", "changes", "area-table", "need", "caveats")} | {
        "trend": trend}


def test_the_board_on_duckdb_is_the_in_memory_board(page, partner_servers):
    """A board member's board, headlines to emerging hot spots, the same to the unit."""
    numpy_url, duckdb_url = partner_servers
    want = board_page(page, numpy_url, "bob.board")
    got = board_page(page, duckdb_url, "bob.board")
    assert got == want
    assert "fewer than 5" in want["caveats"] and "emerging" in want["changes"].lower()
    assert "not available while Hotspot runs" not in got["caveats"]


def trends_page(page, url: str) -> dict:
    from tests.browser.test_trends import blackpool_quarters

    series = blackpool_quarters(page, url)
    page.click("#trends-em-run")
    page.wait_for_selector("#trends-em-table .ag-row", timeout=60_000)
    rows = " .ag-center-cols-container"  # the rows, not the grid's passing overlays
    return {"series": series, "league": page.inner_text("#trends-league" + rows),
            "note": page.inner_text("#trends-league-note"),
            "emerging": page.inner_text("#trends-em-table" + rows)}


def test_trends_on_duckdb_are_the_in_memory_trends(page, duckdb_server, numpy_server):
    """An analyst's series for Blackpool beside the rest, the league table and the
    emerging hot spots, the same on the engine."""
    want = trends_page(page, numpy_server)
    got = trends_page(page, duckdb_server)
    assert got == want
    assert [s["name"] for s in want["series"]][0] == "Blackpool"
    assert any(c in want["emerging"] for c in ("persistent", "intensifying", "new",
                                                "sporadic"))
