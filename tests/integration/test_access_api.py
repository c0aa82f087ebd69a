"""What each role gets from the API: suppression, areas, public places, 401 and 403.

The data is the synthetic sample; the expectations come from the analyst's answers (every
row) worked through by hand, never from the code under test.
"""

from __future__ import annotations

import pytest

from geo.access import load_roles
from geo.settings import DataPaths

OFFICER_AREA = "E06000009"  # Blackpool

FILTER_CASES = [
    "", "days=sat", "days=sun&hours=2-5", "hours=3-4", "start=2024-03-01&end=2024-03-07",
    "categories=Robbery", "categories=Possession of weapons&days=mon", "source=police",
    "la=E06000009", "la=E07000123&hours=20-4&days=fri,sat",
]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("access-data"))
    load_sample(data, n=6000, seed=3)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {
        role: accounts.create_token(f"{role}-t", role,
                                    (OFFICER_AREA,) if role == "officer" else None)
        for role in ("admin", "analyst", "officer", "partner", "board")}
    app.data = data
    return app


def get(app, role: str | None, path: str):
    headers = {"Authorization": f"Bearer {app.tokens[role]}"} if role else {}
    return app.server.test_client().get(path, headers=headers)


def test_whoami_says_user_role_and_areas(app):
    assert get(app, "officer", "/api/v1/whoami").get_json() == {
        "user": "officer-t", "role": "officer", "areas": [OFFICER_AREA], "via": "token"}
    assert get(app, "partner", "/api/v1/whoami").get_json()["areas"] is None


def test_anonymous_calls_get_401_once_a_token_exists(app):
    resp = get(app, None, "/api/v1/aggregate")
    assert resp.status_code == 401 and "Sign in" in resp.get_json()["error"]
    bad = app.server.test_client().get("/api/v1/aggregate",
                                       headers={"Authorization": "Bearer hst_not-a-token"})
    assert bad.status_code == 401


@pytest.mark.parametrize("query", FILTER_CASES)
def test_a_partner_never_gets_a_count_from_1_to_4(app, query):
    for level in ("level=la", "level=h3&res=8", "level=h3&res=7"):
        resp = get(app, "partner", f"/api/v1/aggregate?{level}&{query}")
        assert resp.status_code == 200, resp.get_json()
        body = resp.get_json()
        for row in body["rows"]:
            if row["suppressed"]:
                assert row["count"] is None and row["shown_as"] in ("fewer than 5", "hidden")
            else:
                assert row["count"] == 0 or row["count"] >= 5, row
            assert row.get("harm") is None and row.get("rate_per_1000") is None
        assert "fewer than 5" in body["suppression"]


def test_a_suppressed_count_cannot_be_had_from_the_total(app):
    """Within each answer, the hidden cells add to at least 5 and are never just one."""
    for query in FILTER_CASES:
        for level in ("level=la", "level=h3&res=8", "level=h3&res=7"):
            rows = get(app, "partner", f"/api/v1/aggregate?{level}&{query}").get_json()["rows"]
            hidden = [r for r in rows if r["suppressed"]]
            assert len(hidden) != 1, (level, query)


def test_a_partner_res_7_cell_is_exactly_its_res_8_parts(app):
    """Coarse hexagons are built from the fine ones, so a coarse count minus its shown parts
    is exactly the hidden parts: those must add to at least 5 and never be one alone."""
    import h3

    truth = {r["cell"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=h3&res=8&public_only=1").get_json()["rows"]}
    fine = get(app, "partner", "/api/v1/aggregate?level=h3&res=8").get_json()["rows"]
    coarse = get(app, "partner", "/api/v1/aggregate?level=h3&res=7").get_json()["rows"]
    by_parent: dict[str, list[dict]] = {}
    for row in fine:
        by_parent.setdefault(h3.cell_to_parent(row["cell"], 7), []).append(row)
    checked = 0
    for row in coarse:
        parts = by_parent[row["cell"]]
        assert sum(truth[p["cell"]] for p in parts) > 0
        hidden = [p for p in parts if p["suppressed"]]
        if row["suppressed"]:
            continue
        assert len(hidden) != 1
        if hidden:
            assert sum(truth[p["cell"]] for p in hidden) >= 5
            checked += 1
    assert checked >= 3


def test_a_partners_counts_carry_a_small_fixed_noise(app):
    """Shown counts are the public-place counts give or take 2, the same every time; enough
    of them differ that two answers cannot be subtracted to give the rows between them."""
    truth = {r["cell"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=h3&res=8&public_only=1").get_json()["rows"]}
    first = get(app, "partner", "/api/v1/aggregate?level=h3&res=8").get_json()["rows"]
    again = get(app, "partner", "/api/v1/aggregate?level=h3&res=8").get_json()["rows"]
    assert first == again
    shown = [r for r in first if not r["suppressed"]]
    assert len(shown) >= 20
    assert all(abs(r["count"] - truth[r["cell"]]) <= 2 and r["count"] >= 5 for r in shown)
    moved = sum(r["count"] != truth[r["cell"]] for r in shown)
    assert 0.3 <= moved / len(shown) <= 0.9


def test_a_partners_hexagons_hold_no_domestic_incidents(app):
    """Domestic incidents count only by whole authority: the hexagon counts are the
    analyst's public-place counts (give or take the noise) wherever they are shown."""
    public = {r["cell"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=h3&res=8&public_only=1").get_json()["rows"]}
    every = {r["cell"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=h3&res=8").get_json()["rows"]}
    shown = [r for r in get(app, "partner", "/api/v1/aggregate?level=h3&res=8").get_json()["rows"]
             if not r["suppressed"]]
    assert shown
    assert all(abs(r["count"] - public[r["cell"]]) <= 2 for r in shown)
    # where a hexagon holds more than 4 domestic incidents, its count is clearly not "every"
    assert any(every[r["cell"]] - public[r["cell"]] > 4 for r in shown)


def test_a_partners_authority_table_keeps_domestic_in_its_own_column(app):
    """The count column covers public places (the rows the hexagons count, so one cannot be
    taken from the other); domestic incidents have their own column, suppressed on its own."""
    every = {r["code"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=la").get_json()["rows"]}
    public = {r["code"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=la&public_only=1").get_json()["rows"]}
    body = get(app, "partner", "/api/v1/aggregate?level=la").get_json()
    assert "own column" in body["suppression"]
    seen_domestic = 0
    for row in body["rows"]:
        if not row["suppressed"]:
            assert abs(row["count"] - public[row["code"]]) <= 2
        if row["domestic_suppressed"]:
            assert row["domestic"] is None
        else:
            domestic = every[row["code"]] - public[row["code"]]
            assert row["domestic"] == 0 == domestic or (
                abs(row["domestic"] - domestic) <= 2 and row["domestic"] >= 5)
            seen_domestic += row["domestic"] > 0
    assert seen_domestic


def test_an_officer_sees_only_their_area_and_public_places(app):
    body = get(app, "officer", "/api/v1/aggregate?level=la").get_json()
    assert [r["code"] for r in body["rows"]] == [OFFICER_AREA]
    public = {r["code"]: r["count"] for r in get(
        app, "analyst", "/api/v1/aggregate?level=la&public_only=1&source=police"
    ).get_json()["rows"]}
    # public places, police records only: hospital and ambulance records are never an
    # officer's
    assert body["rows"][0]["count"] == public[OFFICER_AREA] > 0
    resp = get(app, "officer", "/api/v1/aggregate?la=E07000123")
    assert resp.status_code == 403 and OFFICER_AREA in resp.get_json()["error"]
    cells = get(app, "officer", "/api/v1/aggregate?level=h3&res=10").get_json()["rows"]
    analyst = {r["cell"]: r["count"] for r in get(
        app, "analyst",
        f"/api/v1/aggregate?level=h3&res=10&la={OFFICER_AREA}&public_only=1&source=police"
    ).get_json()["rows"]}
    assert {r["cell"]: r["count"] for r in cells} == analyst


def test_an_officers_plan_is_built_from_their_area_only(app):
    """Every hexagon of an officer's plan holds their area's public-place police incidents
    (no domestic incident, no hospital or ambulance record) and no other area's."""
    import h3

    from geo.store import Store

    ours = get(app, "officer", "/api/v1/patrol-plan").get_json()
    assert ours["features"]
    _m, table = Store(app.data.store).read()
    mine, others = set(), set()
    for cell, la, dom, src in zip(*(table.column(c).to_pylist() for c in
                                    ("h3_9", "la_code", "domestic", "source")), strict=True):
        (mine if la == OFFICER_AREA and dom is not True and src == "police" else others).add(
            h3.int_to_str(int(cell)))
    shown = {f["id"] for f in ours["features"]}
    assert shown <= mine
    theirs = get(app, "analyst", f"/api/v1/patrol-plan?la={OFFICER_AREA}&public_only=1"
                 ).get_json()
    assert {f["id"] for f in theirs["features"]} - mine  # the analyst's counts ED records too


def test_cached_answers_are_never_shared_across_roles(app):
    """The analyst asks first (every row cached), then the officer asks the same."""
    analyst = get(app, "analyst", "/api/v1/hotspots?n=5&res=9").get_json()
    officer = get(app, "officer", "/api/v1/hotspots?n=5&res=9").get_json()
    assert analyst["features"] != officer["features"]
    mine = get(app, "analyst",
               f"/api/v1/hotspots?n=5&res=9&la={OFFICER_AREA}&public_only=1&source=police"
               ).get_json()
    assert [f["id"] for f in officer["features"]] == [f["id"] for f in mine["features"]]


@pytest.mark.parametrize("path", ["/api/v1/aggregate?level=h3&res=7", "/api/v1/hotspots",
                                  "/api/v1/patrol-plan", "/api/v1/trends", "/api/v1/nte/zones",
                                  "/patrol/plan.csv", "/patrol/briefing"])
def test_a_board_member_gets_403_on_points_and_hexagons(app, path):
    resp = get(app, "board", path)
    assert resp.status_code == 403
    assert "board role" in resp.get_json()["error"]


def test_a_board_member_gets_suppressed_authority_figures(app):
    rows = get(app, "board", "/api/v1/aggregate?level=la&days=sun&hours=3-4").get_json()["rows"]
    assert rows and all(r["count"] is None or r["count"] == 0 or r["count"] >= 5 for r in rows)
    assert all(r["domestic"] is None or r["domestic"] == 0 or r["domestic"] >= 5 for r in rows)


def test_the_named_differencing_attacks_fail_for_a_partner(app):
    """The two attacks the issue names are refused outright: domestic counts by subtracting
    the public-places answer, and single incidents in fine hexagons."""
    answers = {}
    for query in FILTER_CASES:
        rows = get(app, "partner", f"/api/v1/aggregate?level=la&{query}").get_json()["rows"]
        answers[query] = {r["code"]: r["count"] for r in rows}
    assert all(v is None or v == 0 or v >= 5 for a in answers.values() for v in a.values())
    # the named attacks are refused outright
    assert get(app, "partner", "/api/v1/aggregate?public_only=1").status_code == 403
    assert get(app, "partner", "/api/v1/aggregate?level=h3&res=10").status_code == 403


def test_the_audit_log_records_who_asked_what_and_never_rows(app):
    from dashboard.access.audit import AuditLog

    get(app, "partner", "/api/v1/aggregate?level=la&days=sat")
    get(app, "board", "/api/v1/hotspots")
    entries = list(AuditLog(app.data.audit).read())
    mine = [e for e in entries if e["who"] == "partner-t" and e["action"] == "api"]
    assert mine and mine[-1]["what"]["params"] == {"level": "la", "days": "sat"}
    assert mine[-1]["ip"] == "127.0.0.1" and mine[-1]["status"] == 200
    denied = [e for e in entries if e["who"] == "board-t" and e["action"] == "denied"]
    assert denied and denied[-1]["status"] == 403
    import re

    blob = "".join(p.read_text() for p in app.data.audit.glob("*.jsonl"))
    assert '"rows"' not in blob and not re.search(r"\d+\.\d{5,}", blob)  # no coordinates


@pytest.mark.parametrize("level", ["la", "h3-8", "h3-7"])
def test_the_area_figures_page_shows_a_partner_no_small_count(app, level):
    from dashboard.layouts import figures

    from .access_helpers import acting_as, principal

    with app.server.test_request_context("/"), acting_as(principal("partner")):
        fig, rows, note = figures.update_figures(level, None, None, ["sat", "sun"], 2, 5, None)
    assert rows and "fewer than 5" in str(note)
    for row in rows:
        shown = row["shown"]
        assert shown in ("fewer than 5", "hidden") or int(shown.replace(",", "")) >= 5, row
    z = [v for v in fig["data"][0]["z"] if v is not None]
    assert all(v == 0 or v >= 5 for v in z)


def test_the_area_figures_page_refuses_a_partner_fine_hexagons(app):
    from dashboard.layouts import figures
    from geo.access import AccessDenied

    from .access_helpers import acting_as, principal

    with app.server.test_request_context("/"), acting_as(principal("partner")), \
            pytest.raises(AccessDenied):
        figures.update_figures("h3-9", None, None, None, 0, 24, None)


def test_an_officer_naming_another_area_on_the_nte_routes_is_refused(app):
    for path in ("/api/v1/nte/zones", "/api/v1/nte/nights"):
        resp = get(app, "officer", f"{path}?la=E07000123")
        assert resp.status_code == 403 and OFFICER_AREA in resp.get_json()["error"]
        assert get(app, "officer", f"{path}?la={OFFICER_AREA}").status_code == 200
