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
    # the synthetic sample's ED records name (made-up) streets: suggestions are named from
    # those incident locations, each zone its own name
    streets = ("High Street", "Market Street", "Church Street", "Station Road", "King Street",
               "Victoria Road", "Queen Street", "Bridge Street", "Park Road", "Chapel Street",
               "Mill Lane", "New Road", "Water Street", "Albert Road", "North Road",
               "Union Street")
    assert names[0] != names[1]
    assert all(n.split(",")[0].split(" / ")[0] in streets for n in names), names
    for i in range(2):
        page.click(f"#nte-suggestions .ag-row[row-index='{i}'] input[type=checkbox]")
    page.click("#nte-accept-btn")
    page.wait_for_function(
        "() => document.querySelectorAll('#nte-zone-table .ag-center-cols-container .ag-row')"
        ".length === 2", timeout=30_000)
    table = page.inner_text("#nte-zone-table")
    assert names[0] in table and names[1] in table
    assert any(s in table for s in ("red (", "amber (", "green ("))
    assert "previous weekends" in page.inner_text("#nte-rule-text")
    # the hour profile runs 18:00 to 06:00 and peaks after midnight
    page.wait_for_function(
        "() => { const g = document.querySelector('#nte-profile .js-plotly-plot');"
        # (while the page redraws the chart may briefly hold no trace)
        " return g && g.data && g.data[0] && g.data[0].y && g.data[0].y.length === 12; }",
        timeout=30_000)
    profile = page.evaluate(
        "() => document.querySelector('#nte-profile .js-plotly-plot').data[0]")
    assert profile["x"][0] == "18" and profile["x"][-1] == "05"
    peak = profile["x"][profile["y"].index(max(profile["y"]))]
    assert peak in {"23", "00", "01", "02"}
    # deployment sheet for the latest weekend opens and prints the zone
    page.wait_for_selector("#nte-sheet a", timeout=30_000)
    href = page.get_attribute("#nte-sheet a", "href")
    sheet = page.request.get(live_server + href)
    assert sheet.ok and f"Deployment sheet: {names[0]}" in sheet.text()


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


def _pick(page, dropdown: str, text: str) -> None:
    page.click(dropdown)
    page.get_by_role("option", name=text, exact=True).click()


def _suggested_counts(page) -> list[int]:
    page.click("#nte-suggest-btn")
    page.wait_for_selector("#nte-suggestions .ag-row", timeout=30_000)
    page.wait_for_timeout(500)
    return [int(t.replace(",", "")) for t in page.locator(
        "#nte-suggestions .ag-center-cols-container [col-id='count']").all_inner_texts()]


def test_suggested_zones_follow_the_pages_night_rule(page, live_server):
    # Suggestions once always used 20:00-06:00 while the page counted 18:00-06:00.
    page.goto(live_server + "/nte")
    page.wait_for_selector("#nte-map .js-plotly-plot", timeout=30_000)
    wide = _suggested_counts(page)
    _pick(page, "#nte-night-from", "23:00")
    _pick(page, "#nte-night-to", "01:00")
    page.wait_for_function("() => location.search.includes('night=23-1')", timeout=15_000)
    narrow = _suggested_counts(page)
    assert wide and narrow and sum(narrow) < sum(wide)
    assert "as the night rule below defines them" in page.inner_text(".sidebar")


def _zone_rows(page) -> int:
    return page.locator("#nte-zone-table .ag-center-cols-container .ag-row").count()


def test_deleting_a_zone_asks_first_and_can_be_undone(page, live_server):
    page.goto(live_server + "/nte")
    page.wait_for_selector("#nte-map .js-plotly-plot", timeout=30_000)
    page.wait_for_timeout(1000)
    if _zone_rows(page) == 0:  # run on its own: make a zone first
        page.click("#nte-suggest-btn")
        page.wait_for_selector("#nte-suggestions .ag-row", timeout=30_000)
        page.click("#nte-suggestions .ag-row[row-index='0'] input[type=checkbox]")
        page.click("#nte-accept-btn")
        page.wait_for_function("() => document.querySelectorAll("
                               "'#nte-zone-table .ag-center-cols-container .ag-row').length > 0",
                               timeout=30_000)
    before = _zone_rows(page)
    page.click("#nte-zone")
    page.get_by_role("option").first.click()
    page.wait_for_function("() => !document.querySelector('#nte-zone-value').classList"
                           ".contains('dash-dropdown-placeholder')")
    zone_name = page.inner_text("#nte-zone-value")
    dialogs: list[str] = []
    accept = {"now": False}

    def answer(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if accept["now"] else dialog.dismiss()

    def ask_to_delete() -> None:
        """Press Delete until the browser asks: the question is the browser's own (a confirm
        dialog), but a click landing while the zone panel is being drawn again is lost."""
        asked = len(dialogs)
        for _ in range(5):
            page.click("#nte-delete-btn")
            for _ in range(20):
                if len(dialogs) > asked:
                    return
                page.wait_for_timeout(200)
        raise AssertionError("pressing Delete never asked first")

    page.on("dialog", answer)
    ask_to_delete()
    page.wait_for_timeout(300)
    assert "Delete the chosen zone?" in dialogs[0]
    assert _zone_rows(page) == before  # cancelled: nothing deleted
    accept["now"] = True
    ask_to_delete()
    page.wait_for_function(
        "n => document.querySelectorAll('#nte-zone-table .ag-center-cols-container .ag-row')"
        ".length === n", arg=before - 1, timeout=30_000)
    assert f"Deleted the zone '{zone_name}'" in page.inner_text("#nte-msg")
    page.click("#nte-restore-btn")
    page.wait_for_function(
        "n => document.querySelectorAll('#nte-zone-table .ag-center-cols-container .ag-row')"
        ".length === n", arg=before, timeout=30_000)
    assert f"Restored the zone '{zone_name}'" in page.inner_text("#nte-msg")
    assert zone_name in page.inner_text("#nte-zone-table")
