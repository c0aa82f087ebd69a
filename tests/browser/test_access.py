"""Sign-in and roles as each kind of user meets them, in real headless Chromium.

The server here has users, so nobody is the local analyst: every visit signs in through the
form first. One user per role, plus throwaway users for wrong passwords and the lockout.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from dashboard.access.policy import LANDING, PAGES
from geo.access import load_roles
from tests.browser.conftest import HOTSPOT, serve

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
#: The officer's one area: Blackpool, a unitary authority of the bundled sample.
OFFICER_AREA = "E06000009"
#: user name -> (role, areas)
USERS = {
    "ada.admin": ("admin", None),
    "ann.analyst": ("analyst", None),
    "olly.officer": ("officer", OFFICER_AREA),
    "pat.partner": ("partner", None),
    "bo.board": ("board", None),
    "tess.typo": ("analyst", None),  # mistypes a password, then gets it right
    "lou.locked": ("analyst", None),  # locks the account with wrong passwords
}
NAME_OF = {role: name for name, (role, _) in list(USERS.items())[:5]}

#: Every page: its path, its menu name, and what shows it has drawn.
PAGE_GRAPHS = {
    "/": ("Explorer", "#explorer-map"),
    "/nte": ("NTE zones", "#nte-map"),
    "/patrol": ("Patrol plan", "#patrol-map"),
    "/shift": ("On shift", "#shift-list"),
    "/trends": ("Trends", "#trends-series"),
    "/figures": ("Area figures", "#figures-map"),
    "/board": ("Board", "#board-card-police"),
    "/health": ("Hospital & ambulance", "#health-cover-hours"),
}
#: The pages each role may open (and so finds in the menu).
MAY_OPEN = {
    "admin": {"/", "/nte", "/patrol", "/shift", "/trends", "/figures", "/board", "/health"},
    "analyst": {"/", "/nte", "/patrol", "/shift", "/trends", "/figures", "/board", "/health"},
    "officer": {"/", "/nte", "/patrol", "/shift", "/figures"},
    "partner": {"/figures", "/board", "/health"},
    "board": {"/figures", "/board", "/health"},
}


def _lands_on(role: str, path: str) -> str:
    """Where opening ``path`` lands: the front door sends a role without the Explorer to the
    first page it may open (Area figures, for partners and boards)."""
    return "/figures" if path == "/" and "/" not in MAY_OPEN[role] else path


def _signs_in_to(role: str, path: str) -> str:
    """Where signing in lands when ``path`` was asked for: with no particular page asked for
    ("/"), the role's own start page (officers: tonight's plan), else as :func:`_lands_on`."""
    own = LANDING.get(role)
    return own if path == "/" and own in MAY_OPEN[role] else _lands_on(role, path)


def _hotspot(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run([str(HOTSPOT), *args], input=stdin, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="session")
def access_data(tmp_path_factory) -> Path:
    """A data directory with the synthetic sample and one user per role (and two throwaways)."""
    data_dir = tmp_path_factory.mktemp("access-data")
    _hotspot("sample", "--data-dir", str(data_dir))
    for name, (role, areas) in USERS.items():
        limits = ["--areas", areas] if areas else []
        _hotspot("users", "add", name, "--role", role, *limits, "--data-dir", str(data_dir),
                 stdin=PASSWORD + "\n")
    return data_dir


@pytest.fixture(scope="session")
def access_server(access_data) -> Iterator[str]:
    """`hotspot serve` on :func:`access_data`."""
    with serve(access_data) as url:
        yield url


# -- helpers -------------------------------------------------------------------------------
def submit(page, name: str, password: str):
    """Fill the sign-in form and press its button, as a person does; return the answer."""
    page.fill("#user", name)
    page.fill("#password", password)
    with page.expect_navigation() as landed:
        page.click("button[type=submit]")
    return landed.value


def expect_refused(page, status: int) -> None:
    """Take a deliberate refusal off the console errors the ``page`` fixture fails on.

    Chromium logs a document or fetch answered with a 4xx as "Failed to load resource"; the
    refusals these tests provoke (and check the status of) are meant, so each is taken off
    once, and nothing else is.
    """
    errors = page.console_errors
    text = f"the server responded with a status of {status}"
    for _ in range(50):  # the message may follow the response by a moment
        for i, message in enumerate(errors):
            if text in message:
                del errors[i]
                return
        page.wait_for_timeout(100)


def sign_in(page, url: str, role: str, path: str = "/") -> None:
    """Open ``path`` anonymously, sign in as the role's user on the form it sends us to."""
    page.goto(url + path)
    assert "/sign-in?next=" in page.url
    landed = submit(page, NAME_OF[role], PASSWORD)
    assert page.url == url + _signs_in_to(role, path), page.url
    if _signs_in_to(role, path) in MAY_OPEN[role]:
        assert landed.status == 200
    else:  # partners and board members have no page of their own to land on
        assert landed.status == 403
        expect_refused(page, 403)


def fetch(page, path: str) -> dict:
    """Fetch ``path`` from inside the page: same origin, with the page's cookie."""
    return page.evaluate(
        "async p => { const r = await fetch(p); return {status: r.status, body: await r.json()}; }",
        path)


def wait_for_graph(page, selector: str) -> None:
    """Wait until the graph has drawn a figure with data, and the page's callbacks are done.

    The board page has cards and the shift view a list, not a graph: for them, wait for the
    first card or the list.
    """
    if selector.startswith(("#board-", "#shift-")):
        page.wait_for_selector(selector, timeout=30_000)
        page.wait_for_load_state("networkidle")
        return
    page.wait_for_function(
        "s => { const g = document.querySelector(s + ' .js-plotly-plot');"
        " return g && g.data && g.data.length > 0; }",
        arg=selector, timeout=60_000)
    page.wait_for_load_state("networkidle")


def menu(page) -> list[str]:
    return page.locator("header nav a").all_inner_texts()


# -- signing in ----------------------------------------------------------------------------
def test_anonymous_visit_goes_to_sign_in_and_a_wrong_password_stays_there(page, access_server):
    page.goto(access_server + "/patrol?la=E07000123")
    assert page.url == access_server + "/sign-in?next=%2Fpatrol%3Fla%3DE07000123"
    assert page.locator("h1").inner_text() == "Sign in"
    assert page.locator("header nav").count() == 0  # nothing of Hotspot's pages is shown

    assert submit(page, "tess.typo", PASSWORD + "!").status == 401
    expect_refused(page, 401)
    assert page.locator(".error").inner_text() == "Wrong user name or password."
    assert page.url.startswith(access_server + "/sign-in")
    # the form keeps the name and where to go, not the password
    assert page.input_value("#user") == "tess.typo"
    assert page.input_value("#password") == ""

    submit(page, "tess.typo", PASSWORD)
    assert page.url == access_server + "/patrol?la=E07000123"
    wait_for_graph(page, "#patrol-map")


def test_five_wrong_passwords_lock_the_account(page, access_server):
    page.goto(access_server + "/")
    for attempt in range(1, 5):
        assert submit(page, "lou.locked", f"not the password {attempt}").status == 401
        expect_refused(page, 401)
        assert page.locator(".error").inner_text() == "Wrong user name or password."
    assert submit(page, "lou.locked", "not the password 5").status == 429
    expect_refused(page, 429)
    message = page.locator(".error").inner_text()
    assert message.startswith("This account is locked after 5 wrong passwords.")
    assert "ask an administrator to unlock it" in message
    # locked means locked: the right password is refused too, with the same message
    assert submit(page, "lou.locked", PASSWORD).status == 429
    expect_refused(page, 429)
    assert page.locator(".error").inner_text().startswith("This account is locked")
    assert page.url.startswith(access_server + "/sign-in")
    assert page.locator("#account-name").count() == 0


# -- what each role sees -------------------------------------------------------------------
def _refusal(role: str, path: str) -> str:
    policy = load_roles()[role]
    return f"The {role} role cannot see {PAGES[path].what}. {policy.summary}"


@pytest.mark.parametrize("role", list(MAY_OPEN), ids=list(MAY_OPEN))
def test_each_role_sees_its_own_pages_and_is_refused_the_others(page, access_server, role):
    sign_in(page, access_server, role)
    label = f"{NAME_OF[role]} · {role}" + (f" · {OFFICER_AREA}" if role == "officer" else "")
    assert page.locator("#account-name").inner_text() == label
    assert page.locator("#sign-out").is_visible()
    assert sorted(menu(page)) == sorted(PAGE_GRAPHS[p][0] for p in MAY_OPEN[role])

    for path, (_name, graph) in PAGE_GRAPHS.items():
        answer = page.goto(access_server + path)
        if _lands_on(role, path) != path:  # the front door: sent on to their own page
            assert page.url == access_server + _lands_on(role, path)
            wait_for_graph(page, "#figures-map")
            continue
        if path in MAY_OPEN[role]:
            assert answer.status == 200
            wait_for_graph(page, graph)
            assert page.locator(".refused-panel").count() == 0
        else:
            assert answer.status == 403
            expect_refused(page, 403)
            panel = page.locator(".refused-panel")
            panel.wait_for(timeout=30_000)
            assert panel.locator("h2").inner_text() == "Not available to your role"
            assert panel.locator("p").inner_text() == _refusal(role, path)
            page.wait_for_load_state("networkidle")
            # nothing of the page itself: no map, no chart, no table
            assert page.locator(f"{graph}, .js-plotly-plot, .ag-root").count() == 0
        # the header still says who is signed in, and offers the way out
        assert page.locator("#account-name").inner_text() == label, path
        assert page.locator("#sign-out").count() == 1


def test_the_officer_sees_figures_for_their_own_area_only(page, browser, access_server):
    from geo.boundaries import load_boundaries

    # what an analyst counts in Blackpool, all incidents and public places only
    analyst = browser.new_context().new_page()
    sign_in(analyst, access_server, "analyst")
    blackpool = {}
    for public in ("0", "1"):
        # police records: hospital and ambulance records are never an officer's
        answer = fetch(analyst,
                       f"/api/v1/aggregate?level=la&public_only={public}&source=police")
        blackpool[public] = {r["code"]: r["count"] for r in answer["body"]["rows"]}[OFFICER_AREA]
    analyst.context.close()
    assert 0 < blackpool["1"] < blackpool["0"]

    sign_in(page, access_server, "officer")  # lands on tonight's plan
    page.goto(access_server + "/")
    wait_for_graph(page, "#explorer-map")
    page.wait_for_selector("#explorer-table .ag-row", timeout=30_000)

    by_area = fetch(page, "/api/v1/aggregate?level=la")
    assert by_area["status"] == 200
    counted = {r["code"]: r["count"] for r in by_area["body"]["rows"] if r["count"]}
    assert set(counted) == {OFFICER_AREA}
    # officers see public places only, whatever they ask for
    assert counted[OFFICER_AREA] == blackpool["1"]
    everything = fetch(page, "/api/v1/aggregate?level=la&public_only=0")
    assert {r["code"]: r["count"] for r in everything["body"]["rows"] if r["count"]} == counted
    by_cell = fetch(page, "/api/v1/aggregate?level=h3&res=8")
    assert by_cell["status"] == 200
    # every incident the officer sees by hexagon is one of Blackpool's (none is a health
    # record placed too coarsely for hexagons: an officer counts none of those)
    assert by_cell["body"]["left_out"]["count"] == 0
    assert sum(r["count"] for r in by_cell["body"]["rows"]) == counted[OFFICER_AREA]

    # the map paints figures on Blackpool alone: its authority layer names no other area,
    # and its hexagons hold Blackpool's public-place incidents and no more
    page.wait_for_function("() => window.hotspotMapPainted && window.hotspotMapPainted()",
                           timeout=30_000)
    layers = page.evaluate(
        "() => { const d = window.hotspotMapPainted();"
        " return {locations: d.codes, z: d.areas, cells: d.cells}; }")
    painted = {loc for loc, z in zip(layers["locations"], layers["z"], strict=True) if z}
    assert painted == {OFFICER_AREA}
    note = page.inner_text("#explorer-method")
    # no record placed only by a postcode or LSOA is left out: those are health records
    assert "placed only by a postcode or LSOA" not in note, note
    assert sum(layers["cells"]) == blackpool["1"]
    assert page.inner_text("#explorer-selection").startswith(f"{blackpool['1']:,} of")

    # every ranked hotspot in the table lies in Blackpool
    import h3
    from shapely.geometry import shape

    area = load_boundaries(None).areas.set_index("code").geometry[OFFICER_AREA]
    cells = page.locator("#explorer-table .ag-row [col-id='cell']").all_inner_texts()
    assert cells
    outside = [c for c in cells if not shape(h3.cells_to_geo([c.strip()])).intersects(area)]
    assert outside == []


def test_a_partner_gets_coarse_suppressed_aggregates_only(page, access_server):
    sign_in(page, access_server, "partner")  # lands on Area figures, their own page
    wait_for_graph(page, "#figures-map")
    page.wait_for_selector("#figures-table .ag-row", timeout=30_000)
    shown = page.locator("#figures-table .ag-cell[col-id='shown']").all_inner_texts()
    assert shown and all(t in ("fewer than 5", "hidden") or int(t.replace(",", "")) in
                         (0, *range(5, 10**7)) for t in shown), shown
    assert "fewer than 5" in page.inner_text("#figures-note")

    fine = fetch(page, "/api/v1/aggregate?level=h3&res=10")
    expect_refused(page, 403)
    assert fine["status"] == 403
    assert fine["body"]["error"] == ("The partner role sees hexagons no finer than H3 "
                                     "resolution 8; 10 is finer.")

    # a narrow selection, so that some authorities have only a handful of incidents
    narrow = "days=mon&hours=5-6&categories=Robbery"
    for level in ("level=la", "level=h3&res=8"):
        answer = fetch(page, f"/api/v1/aggregate?{level}&{narrow}")
        assert answer["status"] == 200, answer
        rows = answer["body"]["rows"]
        small = [r for r in rows if r["count"] is not None and 1 <= r["count"] <= 4]
        assert small == [], level
        # the check has something to check: small counts exist and are shown as such
        assert any(r.get("shown_as") == "fewer than 5" for r in rows), (level, rows)


# -- signing out ---------------------------------------------------------------------------
def test_sign_out_ends_the_session(page, access_server):
    sign_in(page, access_server, "analyst")
    wait_for_graph(page, "#explorer-map")
    old = [c for c in page.context.cookies() if c["name"] == "hotspot_session"]
    assert len(old) == 1

    with page.expect_navigation():
        page.click("#sign-out")
    assert page.url == access_server + "/sign-in"
    assert page.locator("h1").inner_text() == "Sign in"
    page.goto(access_server + "/")
    assert page.url.startswith(access_server + "/sign-in?next=")

    # the old session id no longer works even if the browser sends it again
    page.context.add_cookies(old)
    page.goto(access_server + "/")
    assert page.url.startswith(access_server + "/sign-in?next=")
    assert page.locator("#account-name").count() == 0


# -- cross-site request protection ---------------------------------------------------------
def _dismiss_notice_body(page, url: str) -> str:
    """A callback request any signed-in user may make: dismissing the page-wide notice."""
    deps = page.request.get(url + "/_dash-dependencies").json()
    cb = next(d for d in deps if d["output"].startswith("app-notice.children")
              and d["inputs"][0]["id"] == "app-notice-dismiss")
    return json.dumps({
        "output": cb["output"],
        "outputs": {"id": "app-notice", "property": "children"},
        "inputs": [{"id": "app-notice-dismiss", "property": "n_clicks", "value": 1}],
        "state": [],
        "changedPropIds": ["app-notice-dismiss.n_clicks"],
    })


def test_a_callback_posted_from_another_site_is_refused(page, access_server):
    sign_in(page, access_server, "analyst")
    wait_for_graph(page, "#explorer-map")
    body = _dismiss_notice_body(page, access_server)
    target = access_server + "/_dash-update-component"
    headers = {"Content-Type": "application/json"}

    # the same request from Hotspot's own page is answered: the cookie is sent and valid
    own = page.request.post(target, data=body, headers={**headers, "Origin": access_server})
    assert own.status == 200, own.text()

    forged = page.request.post(target, data=body,
                               headers={**headers, "Origin": "http://evil.example"})
    assert forged.status == 403
    assert "cross-site request protection" in forged.json()["error"]
    forged = page.request.post(target, data=body, headers={
        **headers, "Sec-Fetch-Site": "cross-site", "Referer": "http://evil.example/page"})
    assert forged.status == 403


def test_the_server_log_has_no_tracebacks(access_server, access_data):
    # runs after the tests above (pytest keeps file order): nothing they did failed inside
    assert "Traceback" not in (access_data / "server.log").read_text()
