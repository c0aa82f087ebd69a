"""The Trends page as a VRU analyst uses it, in real headless Chromium."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


def test_financial_year_quarters_league_table_and_emerging(page, live_server):
    page.goto(live_server + "/trends?la=E06000009&period=fyq")
    page.wait_for_selector("#trends-league .ag-row", timeout=30_000)
    series = page.evaluate(
        "() => document.querySelector('#trends-series .js-plotly-plot').data"
        ".map(t => ({name: t.name, n: t.x.length, text: t.text}))")
    assert [s["name"] for s in series] == ["Blackpool", "rest of the area"]
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
