"""The board pack PDF through the app: the page's numbers, hidden small counts, the role gate."""

from __future__ import annotations

import csv
import io
import re

import pytest

from dashboard.board_pack import change_text
from geo.access import load_roles
from geo.settings import DataPaths

pypdf = pytest.importorskip("pypdf")

TARGETS = ('[[target]]\nname = "Police-recorded violence down 10%"\nsource = "police"\n'
           'reduction_pct = 10\n\n[[target]]\nname = "ED attendances down 1%"\n'
           'source = "ed"\nreduction_pct = 1\namber_within_pct = 1\n')
#: Burnley town centre (WGS84 lat, lon), in the bundled boundaries' E07000117.
BURNLEY = (53.7890, -2.2405)


def _app(data: DataPaths, roles: tuple[str, ...]):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app

    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {r: accounts.create_token(f"{r}-t", r) for r in roles}
    app.data = data
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("pack-data"))
    load_sample(data, n=20000, seed=4)
    (data.root / "board").mkdir(exist_ok=True)
    (data.root / "board" / "targets.toml").write_text(TARGETS)
    return _app(data, ("board", "analyst", "officer"))


@pytest.fixture(scope="module")
def small_app(tmp_path_factory):
    """Preston's monthly police.uk files for 2022-2023, and Burnley with 2 incidents in
    November 2023 (the latest complete quarter) against 12 a year before."""
    from geo.ingest import ingest_file

    from .monthly_data import HEADER, write_months

    root = tmp_path_factory.mktemp("pack-small")
    paths = write_months(root / "csv")
    burnley = root / "csv" / "burnley.csv"
    with burnley.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for month, n in (("2023-11", 2), ("2022-11", 12)):
            writer.writerows([f"burnley-{month}-{k}", month, "Lancashire Constabulary",
                              "Lancashire Constabulary", f"{BURNLEY[1] + 0.001 * k:.6f}",
                              f"{BURNLEY[0]:.6f}", "On or near Church Street", "", "",
                              "Violence and sexual offences", "", ""] for k in range(n))
    data = DataPaths(root / "data")
    for path in [*paths, burnley]:
        ingest_file(path, data)
    return _app(data, ("board", "analyst"))


def get(app, role, path):
    return app.server.test_client().get(path, headers={"Authorization":
                                                       f"Bearer {app.tokens[role]}"})


def pdf_pages(resp) -> list[str]:
    """Each page's text, white space made single (lines and table cells wrap anywhere)."""
    assert resp.status_code == 200, resp.text[:300]
    assert resp.mimetype == "application/pdf"
    assert resp.data.startswith(b"%PDF-") and resp.data.rstrip().endswith(b"%%EOF")
    reader = pypdf.PdfReader(io.BytesIO(resp.data))
    return [re.sub(r"\s+", " ", page.extract_text()) for page in reader.pages]


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("query", ["", "?period=month&baseline=previous", "?la=E07000123"],
                         ids=["quarter-on-last-year", "month-on-month-before", "preston"])
def test_the_pack_holds_the_same_numbers_and_words_as_the_page(app, query):
    api = get(app, "board", f"/api/v1/board{query}").get_json()
    resp = get(app, "board", f"/board.pdf{query}")
    pages = pdf_pages(resp)
    text = " ".join(pages)
    assert 1 <= len(pages) <= 8, len(pages)
    for n, page in enumerate(pages, start=1):
        assert "SYNTHETIC SAMPLE DATA" in page, n
        assert f"Page {n} of {len(pages)}" in page
    assert pages[0].startswith("Partnership board pack")
    assert api["headlines"]
    for h in api["headlines"]:
        # the row of the headline table: source, period, the count shown, the change in words
        count = f"{h['count']:,}" if h["count"] is not None else h["count_shown_as"]
        assert f"{h['label']} {h['period_label']} {count}" in text
        assert change_text(h) in text
        if h["change"] is not None:
            assert f"{abs(h['change']):,}" in change_text(h)
            assert f"{abs(h['change_pct']):.1f}%" in change_text(h)
        assert one_line(h["sentence"]) in text
    assert api["targets"], "the targets file was not read"
    marks = {"green": "\u25cf GREEN", "amber": "\u25d7 AMBER", "red": "\u274d RED",
             "none": "\u2013 NO STATUS"}
    for t in api["targets"]:
        assert f"{marks[t['status']]} {one_line(t['sentence'])}" in text
    for c in api["currency"]:
        assert ("LATE: " if c["late"] else "") + one_line(c["sentence"]) in text
    for s in api["agreement"] + api["caveats"] + api.get("changes", []):
        assert one_line(s) in text
    # the sections the board added later, when it gives them: the same counts and rates
    for table in api.get("areas", []):
        for r in table["rows"]:
            count = f"{r['count']:,}" if r["count"] is not None else r["count_shown_as"]
            assert f"{r['name']} ({r['code']}) {count}" in text, r
            if r["rate_per_1000"] is not None:
                assert f"{r['rate_per_1000']:,.2f}" in text
    for series in api.get("trend", []):
        assert f"{series['label']}: count per month" in text
    for r in api.get("activity", []):
        assert one_line(r.get("words", "")) in text
    assert "Content-Disposition" in resp.headers
    disposition = resp.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="hotspot-board-pack')
    assert '.pdf"' in disposition and "filename*=UTF-8''" in disposition


def test_a_hidden_count_is_never_printed(small_app):
    exact = get(small_app, "analyst", "/api/v1/board?la=E07000117").get_json()["headlines"][0]
    assert exact["count"] == 2  # the data are as built: Burnley's latest quarter holds 2
    board = get(small_app, "board", "/api/v1/board?la=E07000117").get_json()["headlines"][0]
    assert board["count"] is None and board["count_shown_as"] == "fewer than 5"
    text = " ".join(pdf_pages(get(small_app, "board", "/board.pdf?la=E07000117")))
    period = exact["period_label"]
    assert f"Police-recorded incidents {period} fewer than 5" in text
    assert f"fewer than 5 in {period}" in text
    for raw in (f"2 in {period}", f"{period} 2 ", "down 10", "\u221283.3%"):
        assert raw not in text, raw
    # the whole area's pack: a table of areas (when the board gives one) hides Burnley too
    whole = get(small_app, "board", "/api/v1/board").get_json()
    text = " ".join(pdf_pages(get(small_app, "board", "/board.pdf")))
    assert "SYNTHETIC" not in text  # real-format files, not the bundled sample
    if "areas" in whole:
        assert re.search(r"Burnley \(E07000117\) fewer than 5", text)
        assert not re.search(r"Burnley \(E07000117\) 2 ", text)


def test_roles_without_the_board_view_are_refused(app):
    resp = get(app, "officer", "/board.pdf")
    assert resp.status_code == 403
    assert not resp.data.startswith(b"%PDF")


def test_bad_parameters_are_named_not_drawn(app):
    for query, param in (("period=week", "period"), ("baseline=ever", "baseline"),
                         ("days=fri", "days")):
        resp = get(app, "board", f"/board.pdf?{query}")
        assert resp.status_code == 400 and resp.get_json()["parameter"] == param, query


def test_the_download_is_audited_as_an_export(app):
    from dashboard.access.audit import AuditLog

    assert get(app, "board", "/board.pdf?period=month").status_code == 200
    entries = [e for e in AuditLog(app.data.audit).read()
               if e.get("what", {}).get("path") == "/board.pdf"]
    assert entries and entries[-1]["action"] == "export"
    assert entries[-1]["role"] == "board" and entries[-1]["status"] == 200
    assert entries[-1]["what"]["params"] == {"period": "month"}
