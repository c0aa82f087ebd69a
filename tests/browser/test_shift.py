"""The shift view (/shift) as an officer meets it: on a phone, by keyboard, with "you are here".

The server has users, as a force's has: an officer limited to Blackpool, an analyst, a
partner and a board member, each added with `hotspot users add`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser.conftest import ARTIFACTS, serve
from tests.browser.test_access import (
    OFFICER_AREA,
    PASSWORD,
    _hotspot,
    expect_refused,
    fetch,
    submit,
    wait_for_graph,
)

pytestmark = pytest.mark.browser

#: user name -> (role, areas)
USERS = {
    "olly.officer": ("officer", OFFICER_AREA),
    "ann.analyst": ("analyst", None),
    "pat.partner": ("partner", None),
    "bo.board": ("board", None),
}
NAME_OF = {role: name for name, (role, _) in USERS.items()}
#: A phone (an iPhone 12 to 15 in portrait) and a tablet (an iPad mini in portrait).
PHONE = {"width": 390, "height": 844}
TABLET = {"width": 768, "height": 1024}
#: The pages an officer may open, and what shows each has drawn.
OFFICER_PAGES = {"/shift": "#shift-list", "/": "#explorer-map", "/nte": "#nte-map",
                 "/patrol": "#patrol-map", "/figures": "#figures-map"}


@pytest.fixture(scope="module")
def shift_data(tmp_path_factory) -> Path:
    data_dir = tmp_path_factory.mktemp("shift-data")
    _hotspot("sample", "--data-dir", str(data_dir))
    for name, (role, areas) in USERS.items():
        limits = ["--areas", areas] if areas else []
        _hotspot("users", "add", name, "--role", role, *limits, "--data-dir", str(data_dir),
                 stdin=PASSWORD + "\n")
    return data_dir


@pytest.fixture(scope="module")
def shift_server(shift_data) -> Iterator[str]:
    with serve(shift_data) as url:
        yield url


def _open(browser, request, viewport: dict[str, int], **context: object):
    """A page of ``viewport`` size that records console errors and requests leaving the
    machine (as the ``page`` fixture does, which is desktop-sized)."""
    ctx = browser.new_context(viewport=viewport, **context)
    pg = ctx.new_page()
    errors: list[str] = []
    pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    pg.on("request", lambda r: errors.append(f"external request: {r.url}")
          if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.console_errors = errors  # type: ignore[attr-defined]
    return pg


@pytest.fixture
def phone(browser, request):
    """A page the size of a phone; the test fails on any console error."""
    pg = _open(browser, request, PHONE)
    yield pg
    _finish(pg, request)


def _finish(pg, request) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    errors = pg.console_errors
    pg.context.close()
    assert errors == [], f"browser console errors: {errors}"


def sign_in(page, url: str, role: str, path: str = "/") -> None:
    page.goto(url + path)
    assert "/sign-in?next=" in page.url
    submit(page, NAME_OF[role], PASSWORD)


def no_sideways_scroll(page) -> None:
    """The page is no wider than the screen: nothing to scroll sideways to."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[1] == page.viewport_size["width"]
    assert width[0] <= width[1], f"{page.url} is {width[0]} px wide on a {width[1]} px screen"


def places_on_page(page) -> list[dict]:
    return page.evaluate("""() => [...document.querySelectorAll('#shift-list > li')].map(li => ({
        number: li.querySelector('.place-number').innerText.trim(),
        name: li.querySelector('.place-name').innerText.trim(),
        times: (li.querySelector('.visit-times') || {innerText: ''}).innerText.trim(),
        briefing: li.querySelector('.place-briefing').getAttribute('href')}))""")


# -- landing and fitting a phone -------------------------------------------------------------
def test_an_officer_signs_in_to_tonights_plan_that_fits_a_phone(phone, shift_server):
    sign_in(phone, shift_server, "officer")
    assert phone.url == shift_server + "/shift"
    phone.wait_for_selector("#shift-list > li", timeout=60_000)
    assert phone.locator("h1").inner_text() == "Tonight's plan"
    when = phone.inner_text(".shift-when")
    assert when.startswith("Blackpool · ") and "20:00–04:00" in when
    assert phone.locator(".shift-synthetic").inner_text().startswith("SYNTHETIC SAMPLE")
    # the top bar keeps the short warning where the long one does not fit
    assert phone.locator(".sample-short").is_visible()
    assert not phone.locator(".sample-long").is_visible()
    # the list comes before the map, and the map's text alternative points to the list
    assert phone.evaluate(
        "() => document.querySelector('#shift-list').compareDocumentPosition("
        "document.querySelector('#shift-map')) & Node.DOCUMENT_POSITION_FOLLOWING")
    label = phone.get_attribute("#shift-map", "aria-label")
    assert "list of places" in label and phone.get_attribute("#shift-map", "role") == "img"
    numbers = [p["number"] for p in places_on_page(phone)]
    assert numbers == [str(i) for i in range(1, len(numbers) + 1)] and len(numbers) == 5
    assert phone.locator("#shift-map .shift-marker").all_inner_texts() == numbers
    no_sideways_scroll(phone)

    # every other page the officer may open fits the phone too
    for path, shows in OFFICER_PAGES.items():
        phone.goto(shift_server + path)
        wait_for_graph(phone, shows)
        no_sideways_scroll(phone)


def test_tonights_plan_fits_a_tablet(browser, request, shift_server):
    tablet = _open(browser, request, TABLET)
    try:
        sign_in(tablet, shift_server, "officer")
        tablet.wait_for_selector("#shift-list > li", timeout=60_000)
        no_sideways_scroll(tablet)
        # the top bar has room for the whole warning
        assert tablet.locator(".sample-long").is_visible()
    finally:
        _finish(tablet, request)


# -- the same plan as the API and the briefing ---------------------------------------------
def test_the_places_are_the_plan_the_api_gives_for_the_same_parameters(phone, shift_server):
    sign_in(phone, shift_server, "officer")
    phone.wait_for_selector("#shift-list > li", timeout=60_000)
    shown = places_on_page(phone)
    query = urlsplit(phone.get_attribute("#shift-briefing", "href")).query
    answer = fetch(phone, f"/api/v1/patrol-plan?{query}")
    assert answer["status"] == 200
    features = answer["body"]["features"]
    assert [p["number"] for p in shown] == [str(f["properties"]["rank"]) for f in features]
    assert [p["times"] for p in shown] == [", ".join(f["properties"]["dosage"])
                                           for f in features]
    for place, feature in zip(shown, features, strict=True):
        props = feature["properties"]
        if props.get("place_name"):
            assert place["name"] == props["place_name"]
        else:  # named by where it lies, never by its cell id
            assert place["name"] and feature["id"] not in place["name"]
            assert "Blackpool" in place["name"]
        assert place["briefing"].endswith(f"&rank={props['rank']}")
    # the plan is tonight's: the shift's own weekday and hours, the officer's area only
    parameters = answer["body"]["provenance"]["parameters"]
    assert parameters["hours"] == "20-4" and len(parameters["days"].split(",")) == 1
    assert parameters["n"] == "5"


def test_the_briefing_is_one_tap_away(phone, shift_server):
    sign_in(phone, shift_server, "officer")
    phone.wait_for_selector("#shift-briefing", timeout=60_000)
    with phone.expect_navigation() as opened:
        phone.click("#shift-briefing")
    assert opened.value.status == 200
    assert urlsplit(phone.url).path == "/patrol/briefing"
    # the same five places, in the officer's area: a page for each
    pages = [h for h in phone.locator("h1").all_inner_texts() if h.startswith("Hotspot ")]
    assert [p.split(" · ")[0] for p in pages] == [f"Hotspot {i} of 5" for i in range(1, 6)]
    assert all("Blackpool" in p for p in pages), pages  # named within the officer's area


# -- keyboard and screen reader ------------------------------------------------------------
def test_the_keyboard_reaches_the_briefing_the_list_and_you_are_here_in_order(phone,
                                                                            shift_server):
    def focused() -> str:
        return phone.evaluate("() => { const e = document.activeElement;"
                              " return e.id || e.className || e.tagName; }")

    sign_in(phone, shift_server, "officer")
    phone.wait_for_selector("#shift-list > li", timeout=60_000)
    phone.wait_for_load_state("networkidle")
    reached = []
    for _ in range(30):
        phone.keyboard.press("Tab")
        reached.append(focused())
        if reached[-1] == "shift-locate":
            break
    assert reached[0] == "skip-link", reached  # the first key offers to pass the menu
    # the printed briefing, then each place of the list in its order, then "you are here"
    order = [reached.index(x) for x in ("shift-briefing", "place-briefing", "shift-locate")]
    assert order == sorted(order), reached
    assert reached.count("place-briefing") == 5, reached
    places = phone.locator(".place-briefing").evaluate_all("links => links.map(a => a.href)")
    assert [h.rsplit("rank=", 1)[1] for h in places] == ["1", "2", "3", "4", "5"]

    # the skip link does pass the menu: the next key is on the page itself
    phone.goto(shift_server + "/shift")
    phone.wait_for_selector("#shift-list > li", timeout=60_000)
    phone.keyboard.press("Tab")
    phone.keyboard.press("Enter")
    phone.keyboard.press("Tab")
    assert focused() == "shift-briefing"


def test_you_are_here_only_when_asked_and_only_in_the_browser(browser, request, shift_server):
    # the officer stands at place 1 (the API gives its centre)
    probe = _open(browser, request, PHONE)
    try:
        sign_in(probe, shift_server, "officer")
        probe.wait_for_selector("#shift-briefing", timeout=60_000)
        query = urlsplit(probe.get_attribute("#shift-briefing", "href")).query
        first = fetch(probe, f"/api/v1/patrol-plan?{query}")["body"]["features"][0]
    finally:
        _finish(probe, request)
    lat, lon = first["properties"]["lat"], first["properties"]["lon"]

    page = _open(browser, request, PHONE, geolocation={"latitude": lat, "longitude": lon},
                 permissions=["geolocation"])
    try:
        sent: list[str] = []
        page.on("request", lambda r: sent.append(f"{r.url} {r.post_data or ''}"))
        sign_in(page, shift_server, "officer")
        page.wait_for_selector("#shift-locate", timeout=60_000)
        page.wait_for_load_state("networkidle")
        # never asked for without a tap
        assert page.locator("#shift-here").is_hidden()
        assert page.inner_text("#shift-locate-status") == ""
        before = len(sent)
        page.click("#shift-locate")
        page.wait_for_selector("#shift-here", state="visible", timeout=10_000)
        status = page.inner_text("#shift-locate-status")
        assert status.startswith("You are here") and "Nearest: place 1," in status
        # drawn where place 1's marker points: its centre
        here = page.locator("#shift-here").bounding_box()
        box = page.locator("#shift-map").bounding_box()
        assert box["x"] <= here["x"] + here["width"] / 2 <= box["x"] + box["width"]
        # the position never left the page
        after = sent[before:]
        assert not any(f"{lat:.4f}"[:7] in s or f"{lon:.4f}"[:7] in s for s in after), after
        assert not any("shift" in s and "_dash-update-component" in s for s in after)
    finally:
        _finish(page, request)


# -- who may open it -----------------------------------------------------------------------
def test_an_analyst_may_open_the_shift_view(page, shift_server):
    sign_in(page, shift_server, "analyst")
    assert page.url == shift_server + "/"  # analysts still start on the Explorer
    page.goto(shift_server + "/shift")
    page.wait_for_selector("#shift-list > li", timeout=60_000)
    assert page.inner_text(".shift-when").startswith("All areas · ")
    assert "On shift" in page.locator("header nav a").all_inner_texts()


@pytest.mark.parametrize("role", ["partner", "board"])
def test_partners_and_boards_may_not(page, shift_server, role):
    sign_in(page, shift_server, role)
    answer = page.goto(shift_server + "/shift")
    assert answer.status == 403
    expect_refused(page, 403)
    panel = page.locator(".refused-panel")
    panel.wait_for(timeout=30_000)
    assert panel.locator("h2").inner_text() == "Not available to your role"
    assert f"The {role} role cannot see patrol plans." in panel.inner_text()
    assert page.locator("#shift-list, #shift-map").count() == 0
    assert "On shift" not in page.locator("header nav a").all_inner_texts()


def test_the_server_log_has_no_tracebacks(shift_server, shift_data):
    assert "Traceback" not in (shift_data / "server.log").read_text()
