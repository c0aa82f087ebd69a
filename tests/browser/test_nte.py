"""The NTE zones page as a night-time economy analyst uses it, in real headless Chromium."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

VENUES = Path(__file__).resolve().parents[3] / "shared" / "data" / "venues" / \
    "city_centre_prems.csv"


def test_accept_suggested_zones_see_status_profile_and_sheet(page, live_server, tmp_path):
    page.goto(live_server + "/nte")
    page.wait_for_selector("#nte-map .js-plotly-plot", timeout=30_000)
    page.click("#nte-suggest-btn")
    page.wait_for_selector("#nte-suggestions .ag-row", timeout=30_000)
    names = [page.inner_text(f"#nte-suggestions .ag-row[row-index='{i}'] [col-id='name']")
             for i in range(2)]
    assert names == ["Blackpool centre", "Preston centre"]
    for i in range(2):
        page.click(f"#nte-suggestions .ag-row[row-index='{i}'] input[type=checkbox]")
    page.click("#nte-accept-btn")
    page.wait_for_function(
        "() => document.querySelectorAll('#nte-zone-table .ag-center-cols-container .ag-row')"
        ".length === 2", timeout=30_000)
    table = page.inner_text("#nte-zone-table")
    assert "Blackpool centre" in table and "Preston centre" in table
    assert any(s in table for s in ("red (", "amber (", "green ("))
    assert "previous weekends" in page.inner_text("#nte-rule-text")
    # the hour profile runs 18:00 to 06:00 and peaks after midnight
    page.wait_for_function(
        "() => { const g = document.querySelector('#nte-profile .js-plotly-plot');"
        " return g && g.data && g.data[0].y.length === 12; }", timeout=30_000)
    profile = page.evaluate(
        "() => document.querySelector('#nte-profile .js-plotly-plot').data[0]")
    assert profile["x"][0] == "18" and profile["x"][-1] == "05"
    peak = profile["x"][profile["y"].index(max(profile["y"]))]
    assert peak in {"23", "00", "01", "02"}
    # deployment sheet for the latest weekend opens and prints the zone
    page.wait_for_selector("#nte-sheet a", timeout=30_000)
    href = page.get_attribute("#nte-sheet a", "href")
    sheet = page.request.get(live_server + href)
    assert sheet.ok and "Deployment sheet: Blackpool centre" in sheet.text()


@pytest.mark.skipif(not VENUES.exists(), reason=f"real venue file {VENUES} is absent")
def test_loading_a_premises_register_reports_rows_without_coordinates(page, live_server):
    page.goto(live_server + "/nte")
    page.wait_for_selector("#nte-map .js-plotly-plot", timeout=30_000)
    page.set_input_files("#nte-venues input[type=file]", str(VENUES))
    page.wait_for_function(
        "() => document.querySelector('#nte-msg').innerText.includes('Loaded')",
        timeout=30_000)
    msg = page.inner_text("#nte-msg")
    assert "Loaded 246 venues" in msg and "107 rows were not placed" in msg
    assert "107 × no coordinates" in msg
