"""Live data: a file dropped into the inbox shows on an open page within seconds, no reload."""

from __future__ import annotations

import os
import re
import time

import pytest

from tests.browser.conftest import serve
from tests.integration.test_inbox import police_file

pytestmark = pytest.mark.browser


def _selected(page) -> tuple[int, int]:
    text = page.inner_text("#explorer-selection")
    found = re.match(r"([\d,]+) of ([\d,]+)", text)
    assert found, text
    return int(found.group(1).replace(",", "")), int(found.group(2).replace(",", ""))


def test_a_file_in_the_inbox_updates_an_open_page_without_a_reload(page, tmp_path):
    data_dir = tmp_path / "live-data"
    data_dir.mkdir()
    with serve(data_dir) as url:
        page.goto(url + "/?days=fri,sat")
        page.wait_for_selector("#explorer-table .ag-row", timeout=60_000)
        _before_selected, before_total = _selected(page)
        assert before_total == 60_314  # the synthetic sample: police, ED, ambulance
        page.evaluate("window.__hotspot_not_reloaded = true")
        # a feed writes under a temporary name and renames when complete
        part = police_file(data_dir / "inbox" / "feed.csv.part", 80)
        os.replace(part, data_dir / "inbox" / "2024-06-lancashire-street.csv")
        start = time.monotonic()
        page.wait_for_function(
            "() => /^[\\d,]+ of 80 /.test("
            "document.querySelector('#explorer-selection').innerText)", timeout=60_000)
        took = time.monotonic() - start
        assert page.evaluate("window.__hotspot_not_reloaded") is True  # no reload
        assert page.locator("#explorer-days input[value=fri]").is_checked()  # filters kept
        assert not page.locator("#explorer-days input[value=mon]").is_checked()
        assert "data updated" in page.inner_text("#live-updated")
        assert took < 45, took
        assert list((data_dir / "inbox" / "processed").glob("*2024-06-lancashire-street.csv"))
        page.goto("about:blank")  # stop the page's polling before its server stops


def test_an_open_board_page_shows_a_new_inbox_file_without_a_reload(page, tmp_path):
    """The done-when of the board issue: a board member's open page updates by itself."""
    import subprocess

    from tests.browser.conftest import HOTSPOT

    data_dir = tmp_path / "board-live"
    for args in (("sample",), ("users", "add", "bo.board", "--role", "board")):
        done = subprocess.run([str(HOTSPOT), *args, "--data-dir", str(data_dir)],
                              input="correct horse battery staple\n", capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    with serve(data_dir) as url:
        page.goto(url + "/board")
        page.fill("#user", "bo.board")
        page.fill("#password", "correct horse battery staple")
        page.click("button[type=submit]")
        page.wait_for_selector("#board-card-ed", timeout=60_000)
        assert "SYNTHETIC SAMPLE" in page.inner_text("#board-cards")
        page.check("#board-period input[value=month]")  # a filter the update must keep
        page.wait_for_function("() => document.querySelector('#board-card-police')"
                               ".innerText.includes('March 2025')", timeout=30_000)
        page.evaluate("window.__hotspot_not_reloaded = true")
        # real data replace the sample: 100 police.uk incidents a month, January to June 2024
        part = police_file(data_dir / "inbox" / "feed.csv.part", 600)
        os.replace(part, data_dir / "inbox" / "2024-06-lancashire-street.csv")
        start = time.monotonic()
        page.wait_for_function("() => document.querySelector('#board-card-police')"
                               ".innerText.includes('June 2024')", timeout=60_000)
        took = time.monotonic() - start
        assert page.evaluate("window.__hotspot_not_reloaded") is True  # no reload
        assert page.locator("#board-period input[value=month]").is_checked()  # filter kept
        card = page.inner_text("#board-card-police")
        count = int(re.search(r"\n([\d,]+)\n", card).group(1).replace(",", ""))
        assert abs(count - 100) <= 2, card  # the board's counts carry a small fixed noise
        assert "no data" in card  # the same month a year before has none: no comparison
        assert "SYNTHETIC SAMPLE" not in page.inner_text("#board-cards")
        assert page.locator("#board-card-ed").count() == 0  # the sample's sources are gone
        print(f"the open board page showed the new file {took:.1f} s after it was dropped")
        assert took < 45, took
        # a kiosk for the meeting room: no controls, and it moves on to the next area
        page.goto(url + "/board?kiosk=1&every=5")
        page.wait_for_selector("#board-card-police", timeout=30_000)
        assert not page.locator(".sidebar").is_visible()
        assert page.locator("#live-updated").is_visible()  # "data updated N minutes ago"
        first = page.inner_text(".board-area")
        assert first.startswith("The whole area")
        page.wait_for_function("() => !document.querySelector('.board-area').innerText"
                               ".startsWith('The whole area')", timeout=30_000)
        page.goto("about:blank")  # stop the page's polling before its server stops
