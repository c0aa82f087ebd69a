"""The board view's figures: per source, disclosed for the board role, the same on page and API."""

from __future__ import annotations

import pytest

from geo.access import load_roles
from geo.settings import DataPaths


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("board-data"))
    load_sample(data, n=20000, seed=4)
    from geo.groups import set_group

    for name, cats in (("weapons", ["Possession of weapons"]), ("robbery", ["Robbery"]),
                       ("public-order", ["Public order"]),
                       ("sexual", ["Sexual offences"])):
        set_group(data.groups, name, cats)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {r: accounts.create_token(f"{r}-t", r) for r in ("board", "analyst", "officer")}
    return app


def get(app, role, path):
    return app.server.test_client().get(path, headers={"Authorization":
                                                       f"Bearer {app.tokens[role]}"})


def test_a_board_member_gets_every_sources_latest_complete_quarter(app):
    body = get(app, "board", "/api/v1/board?period=fyq&baseline=last_year").get_json()
    assert [h["source"] for h in body["headlines"]] == ["police", "ed", "ambulance"]
    truth = {h["source"]: h for h in get(app, "analyst", "/api/v1/board").get_json()["headlines"]}
    for h in body["headlines"]:
        exact = truth[h["source"]]
        assert h["period_label"] == exact["period_label"] and h["comparable"]
        assert abs(h["count"] - exact["count"]) <= 2  # the board's counts carry the noise
        # the change and percentage are worked from the counts shown beside them
        assert h["change"] == h["count"] - h["baseline_count"]
        assert h["change_pct"] == pytest.approx(100 * h["change"] / h["baseline_count"])
        assert f"{h['count']:,} in {h['period_label']}" in h["sentence"]
        assert "same quarter last year" in h["sentence"]
    assert body["agreement"] and body["currency"] and body["caveats"]


def test_the_board_never_shows_a_count_from_1_to_4(app):
    # one authority and one rare crime type: small counts
    body = get(app, "board", "/api/v1/board?la=E07000117&group=weapons"
               ).get_json()
    hidden = 0
    for h in body["headlines"]:
        for key in ("count", "baseline_count"):
            value = h[key]
            assert value is None or value == 0 or value >= 5, h
            hidden += value is None
            if value is None:
                assert h[f"{key}_shown_as"] == "fewer than 5"
                assert "fewer than 5" in h["sentence"]
        if h["count"] is None or h["baseline_count"] is None:
            assert h["change"] is None and h["rate_per_1000"] is None
    assert hidden, body["headlines"]


def test_an_incomplete_quarter_is_never_compared(app):
    for h in get(app, "analyst", "/api/v1/board?period=month").get_json()["headlines"]:
        assert h["period_end"] <= max(c["covered_to"] for c in get(
            app, "analyst", "/api/v1/board").get_json()["currency"])


def test_roles_without_the_board_view_are_refused(app):
    resp = get(app, "officer", "/api/v1/board")
    assert resp.status_code == 403 and "board view" in resp.get_json()["error"]


def test_the_page_shows_the_same_sentences_as_the_api(app):
    from dashboard.layouts import board as page

    from .access_helpers import acting_as, principal

    api = get(app, "board", "/api/v1/board").get_json()
    with app.server.test_request_context("/"), acting_as(principal("board")):
        cards, agree, *_rest = page.update_board("fyq", "last_year", None, "police")
    text = str(cards)
    for h in api["headlines"]:
        assert h["sentence"] in text
    assert api["agreement"][0] in str(agree)


def test_bad_board_parameters_are_named(app):
    for query, param in (("period=week", "period"), ("baseline=ever", "baseline"),
                         ("baseline=baseline_year", "baseline_year"), ("days=fri", "days")):
        for path in ("/api/v1/board", "/board.csv"):  # the download asks the same question
            resp = get(app, "analyst", f"{path}?{query}")
            assert resp.status_code == 400 and resp.get_json()["parameter"] == param, query


def test_every_figure_downloads_as_csv(app):
    import csv
    import io

    resp = get(app, "board", "/board.csv")
    assert resp.status_code == 200 and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(resp.text)))
    api = get(app, "board", "/api/v1/board").get_json()
    sentences = [r[-1] for r in rows[1:]]
    assert all(h["sentence"] in sentences for h in api["headlines"])
    assert [r[4] for r in rows[1:4]] == [str(h["count"]) for h in api["headlines"]]
    sections = {r[0] for r in rows[1:]}
    assert {"headline", "what changed", "agreement", "area", "trend", "need and activity",
            "currency", "caveat"} <= sections
    areas = [r for r in rows if r[0] == "area"]
    assert len(areas) == sum(len(t["rows"]) for t in api["areas"])
    police = api["areas"][0]["rows"][0]
    assert [police["name"], str(police["count"])] == areas[0][2:5:2]
    months = [r for r in rows if r[0] == "trend"]
    assert len(months) == sum(len(t["months"]) for t in api["trend"])


def test_a_kiosk_cycles_through_the_areas(app):
    from unittest import mock

    from dashboard.layouts import board as page

    options = [{"label": "A", "value": "A"}, {"label": "B", "value": "B"}]
    with mock.patch.object(page.dash, "ctx", mock.Mock(triggered_id=page.KIOSK_TICK)):
        assert page.next_area(1, options, None) == "A"
        assert page.next_area(2, options, "A") == "B"
        assert page.next_area(3, options, "B") is None  # then the whole area again


def test_targets_carry_a_status_in_words_with_their_rule(app, tmp_path):
    from dashboard import services

    folder = services.current().data.root / "board"
    folder.mkdir(exist_ok=True)
    (folder / "targets.toml").write_text(
        '[[target]]\nname = "Police-recorded violence down 10%"\nsource = "police"\n'
        'reduction_pct = 10\n\n[[target]]\nname = "ED attendances down 1%"\n'
        'source = "ed"\nreduction_pct = 1\namber_within_pct = 1\n')
    try:
        body = get(app, "analyst", "/api/v1/board").get_json()
        heads = {h["source"]: h for h in body["headlines"]}
        police, ed = body["targets"]
        down = -heads["police"]["change_pct"]
        assert police["status"] == ("green" if down >= 10 else "amber" if down >= 5 else "red")
        assert police["rule"].startswith("Green when down at least 10% on the same quarter")
        assert police["sentence"].startswith("Police-recorded violence down 10%: ")
        ed_down = -heads["ed"]["change_pct"]
        assert ed["status"] == ("green" if ed_down >= 1 else "amber" if ed_down >= 0 else "red")
        (folder / "targets.toml").write_text('[[target]]\nname = "x"\nsource = "fire"\n'
                                             'reduction_pct = 5\n')
        body = get(app, "analyst", "/api/v1/board").get_json()
        assert body["targets"] == []
        assert any("source 'fire' is not one of" in c for c in body["caveats"])
    finally:
        (folder / "targets.toml").unlink()
