"""The shift view's parameters and its plan, through the app as an officer's phone asks.

The page is built by Dash's page router (a callback); these tests post to it as the browser
does, with an officer's API token, and compare what it shows with the plan API.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime

import pytest

from dashboard.params import SHIFT_PLACES, parse_shift_params, shift_start
from geo.access import load_roles
from geo.query import FilterError
from geo.settings import DataPaths

OFFICER_AREA = "E06000009"  # Blackpool
PASSWORD = "correct horse battery staple"
#: A Friday inside the bundled sample (which ends on 31 March 2025).
FRIDAY = "2025-03-28"


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from argon2 import PasswordHasher

    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("shift-data"))
    load_sample(data, n=6000, seed=5)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"),
                        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    app = create_app(data)
    app.tokens = {role: accounts.create_token(f"{role}-phone", role,
                                              (OFFICER_AREA,) if role == "officer" else None)
                  for role in ("officer", "analyst", "partner")}
    for name, role in (("olly.officer", "officer"), ("ann.analyst", "analyst"),
                       ("pat.partner", "partner")):
        accounts.add_user(name, role, PASSWORD, OFFICER_AREA if role == "officer" else None)
    app.server.test_client().get("/", headers=_auth(app.tokens["analyst"]))
    return app


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_page(app, role: str | None, search: str = "") -> str:
    """Return what Dash's page router answers for ``/shift`` + ``search``, as ``role`` (None:
    the local analyst of an install with no users)."""
    from dash._utils import split_callback_id

    output = next(out for out in app.callback_map if "_pages_content.children" in out)
    cb = app.callback_map[output]
    values = {"pathname": "/shift", "search": search}
    body = {"output": output, "outputs": split_callback_id(output),
            "inputs": [{"id": s["id"], "property": s["property"],
                        "value": values.get(s["property"])} for s in cb["inputs"]],
            "state": [{"id": s["id"], "property": s["property"], "value": None}
                      for s in cb["state"]],
            "changedPropIds": [f"{cb['inputs'][0]['id']}.{cb['inputs'][0]['property']}"]}
    resp = app.server.test_client().post(
        "/_dash-update-component", data=json.dumps(body), content_type="application/json",
        headers=_auth(app.tokens[role]) if role else {})
    assert resp.status_code == 200, resp.text[:300]
    return resp.text


# -- the parameters ------------------------------------------------------------------------
def test_defaults_make_tonights_plan():
    s = parse_shift_params({}, datetime(2026, 12, 4, 18, 30), data_end=date(2026, 12, 3))
    assert s.start == date(2026, 12, 4) and not s.date_given
    p = s.plan
    assert p.days == frozenset({4}) and p.hours == (20, 4)  # Friday nights
    assert p.n == SHIFT_PLACES and p.target_share is None and p.public_only
    assert p.seed == 20261204  # visit times change from night to night
    assert p.as_of is None  # the data end before the shift: the plan ends with them
    # a shift given in the link, long before the data end: planned from the day before
    s = parse_shift_params({"date": "2025-03-28"}, datetime(2026, 12, 4, 18, 30),
                           data_end=date(2026, 12, 3))
    assert s.date_given and s.plan.as_of == date(2025, 3, 27)
    # a link may set anything the plan takes
    s = parse_shift_params({"date": FRIDAY, "days": "fri,sat", "hours": "18-2", "n": "8",
                            "seed": "7", "lookback_weeks": "8"}, datetime(2026, 12, 4))
    assert (s.plan.days, s.plan.hours, s.plan.n, s.plan.seed, s.plan.lookback_weeks) == (
        frozenset({4, 5}), (18, 2), 8, 7, 8)


@pytest.mark.parametrize(("now", "hours", "start"), [
    (datetime(2026, 12, 4, 19, 59), (20, 4), date(2026, 12, 4)),
    (datetime(2026, 12, 4, 23, 0), (20, 4), date(2026, 12, 4)),
    (datetime(2026, 12, 5, 3, 59), (20, 4), date(2026, 12, 4)),
    (datetime(2026, 12, 5, 4, 0), (20, 4), date(2026, 12, 5)),
    (datetime(2026, 12, 5, 14, 59), (7, 15), date(2026, 12, 5)),
    (datetime(2026, 12, 5, 15, 0), (7, 15), date(2026, 12, 6)),
], ids=["before-the-night", "during-the-evening", "small-hours", "after-the-night",
        "during-a-day-shift", "after-a-day-shift"])
def test_the_current_or_next_shift(now, hours, start):
    assert shift_start(now, hours) == start


def test_month_only_data_assume_no_days_or_hours():
    s = parse_shift_params({}, datetime(2026, 12, 4, 18), month_only=True)
    assert s.plan.days == frozenset(range(7)) and s.plan.hours == (0, 0)


@pytest.mark.parametrize(("query", "param", "says"), [
    ({"date": "5 Dec"}, "date", "'5 Dec' is not a date; use YYYY-MM-DD"),
    ({"date": "9999-12-31"}, "date", "outside the dates Hotspot accepts"),
    ({"hours": "25-3"}, "hours", "hours run from 0 to 24"),
    ({"hours": "evening"}, "hours", "is not an hour band; write it as start-end"),
    ({"days": "fry"}, "days", "'fry' is not a day"),
    ({"n": "0"}, "n", "0 is out of range; use 1 to 200"),
    ({"lookback_weeks": "many"}, "lookback_weeks", "'many' is not a whole number"),
    ({"colour": "red"}, "colour", "accepted: as_of, categories, date, days"),
], ids=["date-words", "date-far-future", "hours-past-midnight", "hours-words", "day-typo",
        "no-places", "weeks-words", "unknown"])
def test_a_bad_value_is_named_and_explained(query, param, says):
    with pytest.raises(FilterError) as caught:
        parse_shift_params(query, datetime(2026, 12, 4, 18))
    assert caught.value.param == param and says in caught.value.message


# -- the page ------------------------------------------------------------------------------
@pytest.mark.parametrize(("search", "says"), [
    ("?date=5+Dec", "(date): '5 Dec' is not a date; use YYYY-MM-DD."),
    ("?hours=25-3", "(hours): '25-3': hours run from 0 to 24."),
    ("?colour=red", "(colour): 'colour' is not a parameter here; accepted: as_of, categories, "
                    "date,"),
], ids=["date", "hours", "unknown"])
def test_a_bad_link_says_what_is_wrong_and_offers_tonights_plan(app, search, says):
    page = json.loads(open_page(app, "officer", search))
    nodes = list(_nodes(page["response"]["_pages_content"]["children"]))
    error = next(n for n in nodes if n["props"].get("id") == "shift-error")
    assert _text(error).startswith("This link has a setting the shift view cannot use " + says)
    assert error["props"]["role"] == "alert"
    # the way back to tonight's plan, and no plan drawn from a half-understood link
    assert any(n["props"].get("href") == "/shift" for n in nodes)
    assert not any(n["props"].get("id") in ("shift-list", "shift-map") for n in nodes)


def test_an_officer_asking_for_another_area_is_refused(app):
    page = open_page(app, "officer", "?la=E07000123")  # Preston, not theirs
    assert "Not available to your role" in page
    assert "E07000123 is outside it" in page and "shift-list" not in page


def _nodes(tree):
    """Every component in a Dash layout (as JSON), depth first."""
    if isinstance(tree, list):
        for item in tree:
            yield from _nodes(item)
    elif isinstance(tree, dict) and "props" in tree:
        yield tree
        yield from _nodes(tree["props"].get("children"))


def _text(node) -> str:
    kids = node["props"].get("children") if isinstance(node, dict) else node
    if isinstance(kids, list):
        return "".join(_text(k) for k in kids)
    if isinstance(kids, dict):
        return _text(kids)
    return "" if kids is None else str(kids)


def test_the_page_shows_the_plan_the_api_gives(app):
    from urllib.parse import urlsplit

    page = json.loads(open_page(app, "officer", f"?date={FRIDAY}"))
    nodes = list(_nodes(page["response"]["_pages_content"]["children"]))
    by_id = {n["props"]["id"]: n for n in nodes if isinstance(n["props"].get("id"), str)}
    assert _text(next(n for n in nodes if n["type"] == "H1")) == "Plan for Friday 28 March 2025"
    # the briefing link carries the plan's parameters: the API is asked with the same
    query = urlsplit(by_id["shift-briefing"]["props"]["href"]).query
    api = app.server.test_client().get(f"/api/v1/patrol-plan?{query}",
                                       headers=_auth(app.tokens["officer"])).get_json()
    params = api["provenance"]["parameters"]
    assert (params["days"], params["hours"], params["n"]) == ("fri", "20-4", str(SHIFT_PLACES))
    assert (params["seed"], params["as_of"]) == ("20250328", "2025-03-27")
    features = api["features"]
    items = [n for n in _nodes(by_id["shift-list"]["props"]["children"]) if n["type"] == "Li"]
    assert len(items) == len(features) >= 1
    for item, feature in zip(items, features, strict=True):
        props = feature["properties"]
        inside = list(_nodes(item))
        number = next(n for n in inside if n["props"].get("className") == "place-number")
        times = next(n for n in inside if n["props"].get("className") == "visit-times")
        name = next(n for n in inside if n["props"].get("className") == "place-name")
        assert _text(number) == str(props["rank"])
        assert _text(times) == ", ".join(props["dosage"])
        assert _text(name) == (props.get("place_name") or "Blackpool")  # never the cell id
        assert _text(item).count("Why: ") == 1 and str(props["count"]) in _text(item)


def test_month_only_data_give_places_without_shift_or_visit_times(tmp_path):
    from dashboard.app import create_app
    from tests.integration.monthly_data import monthly_data_dir

    app = create_app(monthly_data_dir(tmp_path))
    app.server.test_client().get("/")  # Dash registers its callbacks on first use
    page = json.loads(open_page(app, None))
    nodes = list(_nodes(page["response"]["_pages_content"]["children"]))
    items = [n for n in nodes if n["type"] == "Li" and n["props"].get("className") ==
             "shift-place"]
    assert len(items) == SHIFT_PLACES
    text = _text({"props": {"children": [n for n in nodes if n["type"] in ("P", "H1")]}})
    assert "in the 12 months to December 2023 (the data give no days or times)" in text
    assert "The data end on 31 December 2023" in text  # years before the shift: said
    assert "no times suggested (the data give only the month of each incident)" in text
    assert "20:00" not in text  # no shift is claimed


# -- where each role starts ----------------------------------------------------------------
def _sign_in(app, user: str, nxt: str = "/"):
    client = app.server.test_client()
    form = client.get("/sign-in")
    csrf = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
    return client.post("/sign-in", data={"user": user, "password": PASSWORD, "csrf": csrf,
                                         "next": nxt})


@pytest.mark.parametrize(("user", "nxt", "lands"), [
    ("olly.officer", "/", "/shift"),
    ("olly.officer", "/patrol?la=E06000009", "/patrol?la=E06000009"),
    ("ann.analyst", "/", "/"),
    ("pat.partner", "/", "/figures"),
], ids=["officer-lands-on-shift", "officer-keeps-the-page-asked-for", "analyst-explorer",
        "partner-own-page"])
def test_each_role_starts_on_its_own_page(app, user, nxt, lands):
    resp = _sign_in(app, user, nxt)
    assert resp.status_code == 303 and resp.headers["Location"] == lands


def test_new_data_redraw_the_plan_the_link_asked_for(app):
    from dash.exceptions import PreventUpdate

    from dashboard.layouts.shift import refresh_shift
    from tests.integration.access_helpers import acting_as, principal

    with app.server.test_request_context("/_dash-update-component"), \
            acting_as(principal("officer", (OFFICER_AREA,))):
        content = refresh_shift(2, {"date": FRIDAY})
        bad = refresh_shift(2, {"date": "someday"})
        with pytest.raises(PreventUpdate):
            refresh_shift(2, None)
    nodes = list(_nodes(_as_json(content)))
    assert _text(next(n for n in nodes if n["type"] == "H1")) == "Plan for Friday 28 March 2025"
    assert any(n["props"].get("id") == "shift-list" for n in nodes)
    assert any(n["props"].get("id") == "shift-error" for n in _nodes(_as_json(bad)))


def _as_json(components):
    """Components as the browser receives them."""
    from plotly.io.json import to_json_plotly

    return json.loads(to_json_plotly(components))
