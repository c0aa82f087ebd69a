"""The board's areas by rate, what changed, trends, need beside activity, and data currency.

Each figure is checked against a direct count of the stored rows (pandas, not the query
layer's arrays), and for the board role against the suppression rules.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from geo.access import load_roles
from geo.settings import DataPaths

from .monthly_data import write_months


def _app(data: DataPaths):
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app

    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    app = create_app(data)
    app.tokens = {r: accounts.create_token(f"{r}-{len(accounts.list_tokens())}", r)
                  for r in ("board", "analyst")}
    return app


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("board-sections"))
    load_sample(data, n=20000, seed=4)
    from geo.groups import set_group

    for name, cats in (("weapons", ["Possession of weapons"]), ("robbery", ["Robbery"]),
                       ("public-order", ["Public order"]),
                       ("sexual", ["Sexual offences"])):
        set_group(data.groups, name, cats)
    return _app(data)


def get(app, role, path):
    resp = app.server.test_client().get(path, headers={"Authorization":
                                                       f"Bearer {app.tokens[role]}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def rows_of(app) -> pd.DataFrame:
    """Every stored incident with its source, area code and the day it counts on."""
    from dashboard import services

    with app.server.test_request_context("/"):
        fr = services.current().query.labels()
    day = np.where(fr.day >= 0, fr.day, fr.month_first)
    return pd.DataFrame({
        "source": np.asarray(fr.sources, dtype=object)[fr.source],
        "area": np.asarray(fr.areas, dtype=object)[fr.area],
        "date": pd.to_datetime(day, unit="D").date,
    })


def test_areas_by_rate_are_direct_counts_that_sum_to_the_headline(app):
    from dashboard import services

    body = get(app, "analyst", "/api/v1/board")
    rows = rows_of(app)
    with app.server.test_request_context("/"):
        pops = services.current().boundaries.population()
    heads = {h["source"]: h for h in body["headlines"]}
    assert [t["source"] for t in body["areas"]] == list(heads)
    for table in body["areas"]:
        h = heads[table["source"]]
        mine = rows[rows["source"] == h["source"]]
        now = mine[(mine["date"] >= date.fromisoformat(h["period_start"]))
                   & (mine["date"] <= date.fromisoformat(h["period_end"]))]
        then = mine[(mine["date"] >= date.fromisoformat(h["baseline_start"]))
                    & (mine["date"] <= date.fromisoformat(h["baseline_end"]))]
        expected, base = now["area"].value_counts(), then["area"].value_counts()
        assert sum(r["count"] for r in table["rows"]) == h["count"]
        for r in table["rows"]:
            assert r["count"] == expected.get(r["code"], 0), r
            assert r["baseline_count"] == base.get(r["code"], 0), r
            assert r["rate_per_1000"] == pytest.approx(1000 * r["count"] / pops[r["code"]])
        rates = [r["rate_per_1000"] for r in table["rows"]]
        assert rates == sorted(rates, reverse=True)  # highest rate first


def test_what_changed_names_the_area_whose_rate_rose_most(app):
    body = get(app, "analyst", "/api/v1/board")
    for table in body["areas"]:
        change = {r["name"]: r["rate_per_1000"] - r["baseline_rate_per_1000"]
                  for r in table["rows"]}
        top = max(change, key=lambda k: (change[k], k))  # ties: not expected in this sample
        riser = next(s for s in body["changes"] if s.startswith(table["label"])
                     and " rose most by rate in " in s)
        assert f" rose most by rate in {top}: " in riser
        r = next(x for x in table["rows"] if x["name"] == top)
        assert (f"{r['rate_per_1000']:.2f} per 1,000 residents in "
                f"{table['period_label']} against {r['baseline_rate_per_1000']:.2f}") in riser
        assert f"({r['count']:,} against {r['baseline_count']:,})" in riser
    assert not any("significan" in s for s in body["changes"] if "Gi*" not in s)


def test_the_emerging_hot_spot_sentence_matches_the_method_run_directly(app):
    from dashboard import services
    from geo.emerging import emerging_hotspots, month_periods

    body = get(app, "analyst", "/api/v1/board")
    sentence = next(s for s in body["changes"] if s.startswith("Emerging hot spots"))
    with app.server.test_request_context("/"):
        fr = services.current().query.labels()
    police = np.asarray(fr.sources, dtype=object)[fr.source] == "police"
    when = np.where(fr.day >= 0, fr.day, fr.month_first)
    edges = month_periods(int(when[police].min()), int(when[police].max()), 12)
    keep = police & (when >= edges[0][0]) & (when <= edges[-1][1])
    table = emerging_hotspots(fr.cells[8][fr.cell_codes[8][keep]], when[keep], edges)
    found = table[table["category"] != "no pattern"]["category"].value_counts()
    assert len(found)
    for category, n in found.items():
        assert f"{n} {category} (" in sentence, (category, n, sentence)
    assert "over the 12 months to March 2025" in sentence


def test_the_trend_holds_each_months_count(app):
    body = get(app, "analyst", "/api/v1/board")
    rows = rows_of(app)
    for t in body["trend"]:
        mine = rows[rows["source"] == t["source"]]
        by_month = pd.Series([d.strftime("%Y-%m") for d in mine["date"]]).value_counts()
        assert len(t["months"]) == 24
        for m in t["months"]:
            assert m["count"] == by_month.get(m["month"], 0), (t["source"], m)


def test_the_board_role_sees_no_count_from_1_to_4_anywhere(app):
    path = "/api/v1/board?la=E07000117&group=weapons"
    body = get(app, "board", path)
    hidden = 0
    for table in body["areas"]:
        for r in table["rows"]:
            for key in ("count", "baseline_count"):
                assert r[key] is None or r[key] == 0 or r[key] >= 5, r
                if r[key] is None and (key == "count" or table["baseline_label"]):
                    assert r[f"{key}_shown_as"] == "fewer than 5"
                    rate = "rate_per_1000" if key == "count" else "baseline_rate_per_1000"
                    assert r[rate] is None
                    hidden += 1
    for t in body["trend"]:
        for m in t["months"]:
            assert m["count"] is None or m["count"] == 0 or m["count"] >= 5, m
            hidden += m["count"] is None
    assert hidden  # the selection is small enough to hide something
    whole = get(app, "board", "/api/v1/board?group=weapons")
    for table in whole["areas"]:
        secret = {r["name"] for r in table["rows"] if r["suppressed"]}
        for text in whole["changes"]:
            for name in secret:
                assert f"most by rate in {name}:" not in text, text
    assert not any(isinstance(r["count"], int) and 1 <= r["count"] <= 4
                   for r in whole["activity"])


def test_need_sits_beside_zones_and_funded_activity(app):
    from dashboard import services
    from geo.zones import ZoneSet, add_zone, save_zones

    with app.server.test_request_context("/"):
        svc = services.current()
        folder = svc.data.root / "board"
        zones_dir = svc.zones_dir
    folder.mkdir(exist_ok=True)
    (folder / "activity.csv").write_text(
        "name,area,kind,funding_gbp,hours_per_week\n"
        "Street pastors,Preston,outreach,\"12,000\",20\n"
        "Youth club,E07000123,youth,£3000,\n"
        "Lost,Atlantis,,1,1\n"
        "Odd,Blackpool,,lots,\n", encoding="utf-8")
    # a zone in Preston city centre
    add_zone(zones_dir, {"type": "Polygon", "coordinates": [[
        [-2.705, 53.757], [-2.695, 53.757], [-2.695, 53.762], [-2.705, 53.762],
        [-2.705, 53.757]]]}, "Fishergate")
    try:
        body = get(app, "board", "/api/v1/board")
        need = {r["name"]: r for r in body["activity"]}
        preston = need["Preston"]
        assert [f["name"] for f in preston["funded"]] == ["Street pastors", "Youth club"]
        assert preston["funding_gbp"] == 15000 and preston["hours_per_week"] == 20
        assert preston["zones"] == 1
        assert "2 funded activities (£15,000, 20 hours a week)" in preston["words"]
        assert need["Blackpool"]["funded"] == []
        assert sum(r["hotspot_cells"] for r in body["activity"]) == 20
        assert any("Row 4 of activity.csv: 'Atlantis' is not an area" in c
                   for c in body["caveats"])
        assert any("Row 5 of activity.csv: funding_gbp 'lots' is not a number" in c
                   for c in body["caveats"])
        rates = [r["rate_per_1000"] for r in body["activity"]]
        assert rates == sorted(rates, reverse=True)
    finally:
        (folder / "activity.csv").unlink()
        save_zones(ZoneSet.empty(), zones_dir)


def test_labels_and_cadences_come_from_the_sources_file(app):
    from dashboard import services

    with app.server.test_request_context("/"):
        folder = services.current().data.root / "board"
    folder.mkdir(exist_ok=True)
    path = folder / "sources.toml"
    path.write_text('[police]\nlabel = "Police-recorded serious violence"\ncadence = "daily"\n'
                    '[ambulance]\ncadence = "monthly"\n')
    try:
        body = get(app, "analyst", "/api/v1/board")
        police = next(h for h in body["headlines"] if h["source"] == "police")
        assert police["label"] == "Police-recorded serious violence"
        assert police["sentence"].startswith("Police-recorded serious violence in ")
        cadence = {c["source"]: c["cadence"] for c in body["currency"]}
        assert cadence == {"police": "daily", "ed": "monthly", "ambulance": "monthly"}
        path.write_text('[police]\ncadence = "hourly"\n')
        body = get(app, "analyst", "/api/v1/board")
        assert any("The sources file (sources.toml) could not be used: the cadence of "
                   "'police' is 'hourly'" in c for c in body["caveats"])
        assert {c["source"]: c["cadence"] for c in body["currency"]}["police"] == "monthly"
    finally:
        path.unlink()


@pytest.fixture(scope="module")
def monthly(tmp_path_factory):
    """police.uk months for 2022-2023 with November 2022 missing."""
    from geo.ingest import ingest_file

    root = tmp_path_factory.mktemp("board-monthly")
    data = DataPaths(root / "data")
    for path in write_months(root / "months", skip=("2022-11",)):
        ingest_file(path, data)
    return data


def test_a_month_missing_is_said_and_its_quarter_never_compared(monthly):
    app = _app(monthly)
    body = get(app, "analyst", "/api/v1/board?period=fyq&baseline=last_year")
    police = body["headlines"][0]
    # the latest complete quarter is October-December 2023; its baseline lacks November 2022
    assert police["period_label"] == "2023/24 Q3" and not police["comparable"]
    table = body["areas"][0]
    assert table["baseline_label"] is None and not table["comparable"]
    assert all(r["baseline_count"] is None and r["baseline_rate_per_1000"] is None
               for r in table["rows"])
    assert any(s.startswith("No area comparison for police-recorded incidents: ")
               for s in body["changes"])
    months = {m["month"]: m for m in body["trend"][0]["months"]}
    assert months["2022-11"] == {"month": "2022-11", "count": None, "shown_as": "no data"}
    # the trend starts where the data start, not 24 months before their end with zeros
    assert min(months) == "2022-01" and max(months) == "2023-12" and len(months) == 24


def test_a_late_source_is_flagged(monthly, tmp_path):
    import shutil

    data = DataPaths(tmp_path / "late")
    shutil.copytree(monthly.root, data.root)
    manifest_path = next(data.root.rglob("manifest.json"))
    manifest = json.loads(manifest_path.read_text())
    arrived = datetime.now(UTC) - timedelta(days=45)
    for batch in manifest["batches"]:
        batch["ingested_at"] = arrived.isoformat(timespec="seconds")
    manifest_path.write_text(json.dumps(manifest))
    app = _app(data)
    body = get(app, "board", "/api/v1/board")
    police = next(c for c in body["currency"] if c["source"] == "police")
    # monthly data are due a month after they last arrived, and late five days after that
    assert police["late"] and police["days_late"] > 0
    assert police["arrived"] == arrived.date().isoformat()
    assert police["next_expected"] > police["arrived"]
    assert f"Late by {police['days_late']} day" in police["sentence"]
    assert any("overdue is marked LATE" in c for c in body["caveats"])

    from dashboard.layouts import board as page

    from .access_helpers import acting_as, principal

    with app.server.test_request_context("/"), acting_as(principal("board")):
        out = page.update_board("fyq", "last_year", None, "police")
    assert "LATE: Police-recorded incidents cover to 31 December 2023" in str(out[2])


def test_the_csv_of_every_figure_never_holds_a_count_from_1_to_4_for_the_board(app):
    import csv
    import io

    resp = app.server.test_client().get(
        "/board.csv?la=E07000117&group=weapons",
        headers={"Authorization": f"Bearer {app.tokens['board']}"})
    assert resp.status_code == 200
    rows = list(csv.reader(io.StringIO(resp.get_data(as_text=True))))
    counts = [r[i] for r in rows[1:] for i in (4, 6)]
    assert "fewer than 5" in counts
    assert not [c for c in counts if c.isdigit() and 1 <= int(c) <= 4]


def test_the_page_compares_with_a_chosen_baseline_year(app):
    from dashboard import services
    from dashboard.layouts import board as page
    from geo.query import FilterError

    from .access_helpers import acting_as, principal

    with app.server.test_request_context("/"), acting_as(principal("board")):
        # the sample runs April 2022 to March 2025: three whole financial years
        assert services.current().query.board_choices()[1] == [2022, 2023, 2024]
        cards = str(page.update_board("fyq", "baseline_year", None, "police", 2023)[0])
        with pytest.raises(FilterError, match="no whole financial year"):
            page.update_board("fyq", "baseline_year", None, "police", None)
    api = get(app, "board", "/api/v1/board?baseline=baseline_year&baseline_year=2023")
    assert "(the baseline year 2023/24)" in api["headlines"][0]["sentence"]
    assert api["headlines"][0]["sentence"] in cards


def test_a_recording_change_between_the_periods_is_a_caveat(app):
    from dashboard import services
    from geo.trends import Event, save_events

    with app.server.test_request_context("/"):
        folder = services.current().data.events
    save_events([Event("Crime recording system replaced", date(2024, 6, 3), date(2024, 6, 3),
                       "recording change"),
                 Event("Lockdown drill", date(2025, 1, 6), date(2025, 1, 12), "lockdown")],
                folder)
    try:
        caveats = get(app, "board", "/api/v1/board")["caveats"]
        # 2024/25 Q4 against 2023/24 Q4: the change in June 2024 lies between them
        assert ("Police-recorded incidents: recording changed between the periods compared "
                "(Crime recording system replaced, 3 June 2024), so 2024/25 Q4 and 2023/24 Q4 "
                "are not counted alike; part of the change may be the recording.") in caveats
        assert any(c.startswith("ED attendances: Lockdown drill (lockdown, 6 January 2025 to "
                                "12 January 2025) falls within") for c in caveats)
        # the equal period before (2024/25 Q3) is after the change: no caveat for police
        before = get(app, "board", "/api/v1/board?baseline=previous")["caveats"]
        assert not any("recording changed" in c and c.startswith("Police") for c in before)
    finally:
        save_events([], folder)


def test_emerging_hot_spots_are_told_for_the_area_chosen(app):
    whole = get(app, "analyst", "/api/v1/board")
    preston = get(app, "analyst", "/api/v1/board?la=E07000123")
    everywhere = next(s for s in whole["changes"] if s.startswith("Emerging"))
    here = next(s for s in preston["changes"] if s.startswith("Emerging"))
    assert "Blackpool" in everywhere and "Blackpool" not in here
    import re

    told = re.findall(r"(\d+) ([a-z]+) \(([^)]*)\)", here.split(". Each")[0])
    assert told and all(where == "Preston" for _, _, where in told)
    # the same places as the whole-force sentence counts in Preston
    for n, category, _ in told:
        part = re.search(rf"\d+ {category} \(([^)]*)\)", everywhere).group(1)
        in_preston = re.search(r"(\d+) in Preston", part)
        assert int(n) == (int(in_preston.group(1)) if in_preston else
                          int(re.match(r"\d+", everywhere.split(f" {category} (")[0]
                                       .split()[-1]).group(0)))


def test_one_area_is_not_said_to_rise_most_among_itself(app):
    body = get(app, "board", "/api/v1/board?la=E06000009")
    assert not any("most by rate" in s or "No area's rate" in s for s in body["changes"])
    assert any(s.startswith("Emerging hot spots") for s in body["changes"])
