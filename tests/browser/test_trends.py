"""The Trends page as a VRU analyst uses it, in real headless Chromium."""

from __future__ import annotations

import pytest

from tests.browser.ui import choose_option

pytestmark = pytest.mark.browser


def blackpool_quarters(page, url: str) -> list[dict]:
    """Open Blackpool's trends by financial-year quarter; return the series drawn."""
    page.goto(url + "/trends?la=E06000009&period=fyq")
    page.wait_for_selector("#trends-league .ag-row", timeout=30_000)
    # Plotly draws after the response arrives: wait for the three traces
    page.wait_for_function(
        "() => { const g = document.querySelector('#trends-series .js-plotly-plot');"
        " return g && g.data && g.data.length === 3; }", timeout=15_000)
    return page.evaluate(  # type: ignore[no-any-return]
        "() => document.querySelector('#trends-series .js-plotly-plot').data"
        ".map(t => ({name: t.name, n: t.x.length, text: t.text, x: t.x, y: t.y}))")


def test_financial_year_quarters_league_table_and_emerging(page, live_server):
    series = blackpool_quarters(page, live_server)
    assert [s["name"] for s in series] == ["Blackpool", "Blackpool: same period last year",
                                           "rest of the area"]
    assert series[0]["text"][0] == "2022/23 Q1" and series[0]["n"] == 12
    assert page.locator("#trends-league .ag-center-cols-container .ag-row").count() == 14
    assert "against" in page.inner_text("#trends-league-note")
    page.click("#trends-em-run")
    page.wait_for_selector("#trends-em-table .ag-row", timeout=60_000)
    cats = page.inner_text("#trends-em-table")
    assert any(c in cats for c in ("persistent", "intensifying", "new", "sporadic"))
    page.click("#trends-em-rules >> xpath=..")  # open the rules
    assert "Mann-Kendall" in page.inner_text("#trends-em-rules") or \
        "trend" in page.inner_text("#trends-em-rules")


def test_evaluating_an_intervention_in_preston(page, live_server):
    page.goto(live_server + "/trends?period=month")
    page.wait_for_selector("#trends-league .ag-row", timeout=30_000)
    choose_option(page, "#trends-ev-target", "Preston")
    page.click("#trends-ev-start")
    page.keyboard.type("06/01/2024")
    page.keyboard.press("Enter")
    page.keyboard.press("Escape")
    page.click("#trends-ev-run")
    page.wait_for_selector("#trends-ev-table .ag-row", timeout=30_000)
    # the grid draws its rows a frame or two after they arrive
    table = ""
    for _ in range(100):
        table = page.inner_text("#trends-ev-table")
        if "Target: Preston" in table:
            break
        page.wait_for_timeout(200)
    assert "Target: Preston" in table and "Buffer: 250 m ring" in table, (
        table, page.inner_text("#trends-ev-text"))
    text = page.inner_text("#trends-ev-text")
    assert "Weighted displacement difference" in text and "95% CI" in text
    assert "after: 1 Jun 2024 to 31 Mar 2025" in text
    assert "positive = fewer incidents than the comparison area predicts" in text
    assert "Expected after" in table
    weekly = page.evaluate(
        "() => document.querySelector('#trends-ev-weekly .js-plotly-plot').data.length")
    assert weekly == 3
