"""The Hospital & ambulance page as a VRU analyst and a health partner use it, in Chromium."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.browser


def _bars(page, graph: str) -> list[dict]:
    return page.evaluate(
        f"() => document.querySelector('#{graph} .js-plotly-plot').data"
        ".map(t => ({name: t.name, y: t.y}))")


def test_the_navigator_question_and_a_what_if(page, live_server):
    page.goto(live_server + "/health")
    page.wait_for_selector("#health-cover-text p", timeout=30_000)
    first = page.inner_text("#health-cover-text")
    # "81% of attendances (6,919 of 8,530) arrived outside the service hours (Mon–Fri ...)"
    m = re.search(r"(\d+)% of attendances \(([\d,]+) of ([\d,]+)\) arrived outside the "
                  r"service hours \(Mon–Fri 09:00–17:00\)", first)
    assert m, first
    outside, total = (int(g.replace(",", "")) for g in m.groups()[1:])
    assert round(100 * outside / total) == int(m.group(1))
    assert "Adding Fri, Sat 18:00–02:00 would cover a further" in first
    # the bars by hour add up to the sentence's counts, and nothing inside falls at night
    page.wait_for_function("() => document.querySelector('#health-cover-hours .js-plotly-plot')"
                           " && document.querySelector('#health-cover-hours .js-plotly-plot')"
                           ".data.length === 2", timeout=15_000)
    inside_bar, outside_bar = _bars(page, "health-cover-hours")
    assert sum(outside_bar["y"]) == outside and sum(inside_bar["y"]) == total - outside
    assert inside_bar["y"][2] == 0 and inside_bar["y"][12] > 0

    # a second shift in the evening: the sentence and bars follow
    box = page.locator("#health-shifts")
    box.fill("mon-fri 9-17; fri,sat 18-2")
    box.press("Enter")
    page.wait_for_function(
        "() => document.querySelector('#health-cover-text').innerText.includes("
        "'Fri, Sat 18:00–02:00)')", timeout=15_000)
    after = page.inner_text("#health-cover-text")
    m2 = re.search(r"\(([\d,]+) of ([\d,]+)\) arrived outside", after)
    assert m2 and int(m2.group(1).replace(",", "")) < outside

    # a bad shift gets a message naming the field, not a traceback
    box.fill("weekdays")
    box.press("Enter")
    page.wait_for_selector("#health-error:has-text('shifts')", timeout=15_000)
    assert "is not a shift" in page.inner_text("#health-error")


def test_hospital_beside_police_and_weapons(page, live_server):
    page.goto(live_server + "/health?period=year")
    page.wait_for_selector("#health-cmp-periods table tbody tr", timeout=30_000)
    text = page.inner_text("#health-cmp-text")
    assert "count different things" in text
    assert re.search(r"[\d,]+ attendances beside [\d,]+ police-recorded crimes of Violence "
                     r"with injury", text), text
    years = page.locator("#health-cmp-periods tbody tr")
    assert years.count() == 4  # 2022 (9 months), 2023, 2024, 2025 (3 months)
    assert "9 of 12 months" in years.nth(0).inner_text()
    areas = page.inner_text("#health-cmp-areas")
    assert "Blackpool" in areas and "Preston" in areas
    assert "Benjamini–Hochberg" in page.inner_text("#health-cmp-method")
    page.click("#health-source input[value='ambulance']")
    page.wait_for_function(
        "() => document.querySelector('#health-cover-text').innerText.includes('call-outs')"
        " || document.querySelector('#health-status').innerText.includes('Ambulance')",
        timeout=15_000)
    assert "Ambulance call-outs" in page.inner_text("#health-status")
