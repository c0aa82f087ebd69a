# ruff: noqa: F811
"""Second review of issue 9: attacks on the code added since the first review.

Targets: the Area figures page callback, the query layer's disclosed figures (res 7 and 8
decided together, the authority table and its domestic column, noise and the >= 5 clamp),
the site's record key, the 'change' audit entry written before a change runs, the Explorer's
layers for officers, the officer's own-area limit, the health check, and crafted input.

Each test is one attack. A test that passes means the product held. A test whose docstring
starts with "HOLE" fails on the code as reviewed and says what leaks; it passes once closed.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from geo.settings import DataPaths
from tests.integration.test_access_attacks import (  # noqa: F401  (fixtures)
    OFFICER_AREA,
    OTHER_AREA,
    _agg,
    _auth,
    _body,
    _cells,
    _la,
    _output,
    _post,
    _router,
    planted,
    sample,
)

FIGURES = {"figures-level.value": "la", "figures-start.value": None,
           "figures-end.value": None,
           "figures-days.value": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
           "figures-hour-from.value": 0, "figures-hour-to.value": 24,
           "figures-categories.value": None}


def _figures(app, role: str, **values: Any) -> tuple[int, dict[str, Any] | None, str]:
    """Call the Area figures callback as ``role`` (keys without the "figures-" prefix)."""
    vals = dict(FIGURES)
    for k, v in values.items():
        vals[f"figures-{k.replace('_', '-')}.value"] = v
    resp = _post(app, _body(app, _output(app, "update_figures"), vals), _auth(app.tokens[role]))
    body = resp.get_json(silent=True) if resp.status_code == 200 else None
    return resp.status_code, body, resp.text


def _small_numbers(out: dict[str, Any]) -> list[Any]:
    """Every figure from 1 to 4 a figures answer shows, in its table, map values or texts."""
    found = []
    resp = out["response"]
    rows = resp["figures-table"]["rowData"]
    for r in rows:
        for k in ("shown", "domestic"):
            v = str(r.get(k, ""))
            if re.fullmatch(r"[1-4]", v):
                found.append((r["name"], k, v))
    for trace in resp["figures-map"]["figure"]["data"]:
        for z in trace.get("z") or []:
            if z is not None and 1 <= z <= 4:
                found.append(("z", z))
        for t in trace.get("text") or []:
            if re.search(r"(?:^|: )[1-4]$", str(t)):
                found.append(("text", t))
    return found


# =============================================================================================
# The Area figures page callback
# =============================================================================================
@pytest.mark.parametrize("level", ["h3-9", "h3-10", "h3-15", "h3- 9", "h3-09", "h3-+9"])
def test_figures_partner_cannot_ask_for_hexagons_finer_than_8(sample, level):
    status, body, text = _figures(sample, "partner", level=level)
    assert status in (200, 403)
    assert "choroplethmap" not in text, f"{level}: partner got hexagons finer than res 8"


@pytest.mark.parametrize("level", ["h3-7", "h3-8", "h3-9"])
def test_figures_board_gets_no_hexagons_at_all(sample, level):
    status, _body_, text = _figures(sample, "board", level=level)
    assert "choroplethmap" not in text, f"{level}: board got hexagons"


@pytest.mark.parametrize("level", ["h3-abc", "h3-", "h3--1", "h3-99", "la ", 7, ["h3-8"],
                                   {"a": 1}, "h3-1e3", "x" * 5000])
def test_figures_crafted_levels_give_no_500_and_no_data(sample, level):
    for role in ("partner", "board", "officer", "analyst"):
        status, _b, text = _figures(sample, role, level=level)
        assert status in (200, 400, 403), (role, level, status)
        assert "choroplethmap" not in text or role in ("officer", "analyst"), (role, level)


@pytest.mark.parametrize("values", [
    {"start": "1990-01-01", "end": "2099-12-31"},
    {"start": "0001-01-01"}, {"end": "9999-12-31"}, {"start": "2024-13-01"},
    {"start": ["2024-01-01"]}, {"start": 20240101}, {"days": "mon"}, {"days": []},
    {"days": ["mon", "mon", "xyz"]}, {"hour_from": 25}, {"hour_from": "3; drop"},
    {"hour_from": -1, "hour_to": 0}, {"hour_from": 5, "hour_to": 5}, {"hour_to": None},
    {"categories": "Robbery"}, {"categories": ["no such category"]},
    {"categories": [None]}, {"categories": [{"a": 1}]}, {"categories": ["x"] * 3000},
])
def test_figures_crafted_filters_give_no_500(sample, values):
    for role in ("partner", "board", "officer"):
        status, _b, text = _figures(sample, role, **values)
        assert status in (200, 400, 403), (role, values, status, text[:300])
        assert "Something went wrong inside Hotspot" not in text, (role, values)


@pytest.mark.parametrize("level", ["la", "h3-7", "h3-8"])
def test_figures_partner_never_shows_1_to_4_on_narrow_selections(sample, level):
    cats = ["Robbery"]
    for extra in ({"start": "2024-06-01", "end": "2024-06-01"},
                  {"start": "2024-06-01", "end": "2024-06-07", "categories": cats},
                  {"days": ["sun"], "hour_from": 3, "hour_to": 4},
                  {"start": "2024-01-01", "end": "2024-12-31", "categories": cats,
                   "days": ["tue"]}):
        for role in ("partner", "board"):
            if role == "board" and level != "la":
                continue
            status, body, text = _figures(sample, role, level=level, **extra)
            assert status == 200, text[:300]
            assert _small_numbers(body) == [], (role, level, extra)


def test_figures_officer_sees_only_own_area_at_every_level(sample):
    """The officer may use Area figures (aggregate, h3): everything must be Blackpool's only."""
    import h3

    names = {OFFICER_AREA: "Blackpool"}
    status, body, text = _figures(sample, "officer", level="la")
    assert status == 200, text[:300]
    rows = body["response"]["figures-table"]["rowData"]
    assert {r["name"] for r in rows} <= set(names.values()), rows
    # every hexagon shown must hold one of Blackpool's public-place incidents
    from geo.store import Store

    _m, table = Store(sample.data.store).read()
    la = table.column("la_code").to_pylist()
    dom = table.column("domestic").to_pylist()
    src = table.column("source").to_pylist()  # an officer never counts ED records
    mine = [a == OFFICER_AREA and d is not True and s == "police"
            for a, d, s in zip(la, dom, src, strict=True)]
    for res in (7, 8, 9, 10):
        status, body, text = _figures(sample, "officer", level=f"h3-{res}")
        assert status == 200, text[:300]
        shown = set(body["response"]["figures-map"]["figure"]["data"][0]["locations"])
        # a point's cell at each resolution is stored (H3 cells do not nest exactly)
        allowed = {h3.int_to_str(int(c)) for c, m in zip(table.column(f"h3_{res}").to_pylist(),
                                                         mine, strict=True) if m}
        assert shown <= allowed, f"res {res}: officer sees cells outside Blackpool"


def test_figures_officer_la_counts_leave_domestic_out(sample):
    status, body, _t = _figures(sample, "officer", level="la")
    rows = body["response"]["figures-table"]["rowData"]
    got = int(rows[0]["shown"].replace(",", ""))
    truth = _la(sample, "analyst", la=OFFICER_AREA, public_only="1",
                source="police")[OFFICER_AREA]
    assert got == truth
    assert all(not r.get("domestic") for r in rows)


# =============================================================================================
# Disclosure: the authority table, its domestic column, res 7 and 8
# =============================================================================================
def test_partner_domestic_column_is_only_by_whole_authority_with_every_filter(planted):
    """Domestic figures never come by hexagon, whatever level or filter is asked for."""
    for params in ({"level": "h3", "res": "7"}, {"level": "h3", "res": "8"},
                   {"level": "h3", "res": "7", "la": OFFICER_AREA}):
        status, body = _agg(planted, "partner", **params)
        assert status == 200
        assert all("domestic" not in r for r in body["rows"]), params


def test_partner_hexagon_sum_equals_authority_count_so_no_domestic_gap(planted):
    """Authority count minus the res-7 and the res-8 hexagons of the authority: no gap."""
    for cats in (None, "Violence with injury"):
        extra = {"categories": cats} if cats else {}
        la = _la(planted, "partner", la=OFFICER_AREA, **extra)[OFFICER_AREA]
        for res in (7, 8):
            cells = _cells(planted, "partner", res, la=OFFICER_AREA, **extra)
            if all(v is not None for v in cells.values()) and la is not None:
                assert la == int(sum(cells.values())), (res, cats)


def test_partner_count_and_domestic_columns_never_show_1_to_4(planted):
    status, body = _agg(planted, "partner", level="la")
    for r in body["rows"]:
        for k in ("count", "domestic"):
            assert r.get(k) is None or r[k] == 0 or r[k] >= 5, (r["code"], k, r[k])


def test_one_authority_domestic_count_alone_is_suppressed(planted):
    """Blackpool's 3 domestic incidents, asked for alone, are 'fewer than 5', not 3."""
    status, body = _agg(planted, "partner", level="la", la=OFFICER_AREA)
    row = body["rows"][0]
    assert row["domestic"] is None and row["domestic_suppressed"]


def test_health_check_gives_partners_no_exact_counts(planted):
    """HOLE (low): /api/v1/health answers partners and boards with exact, unperturbed counts.

    Every signed-in role may call it, and for an aggregate-only role it counts the whole-
    authority frame, domestic incidents included: ``incidents`` is the exact total of every
    incident (planted store: 107), ``month_only_incidents`` exact too, and ``first_date`` /
    ``last_date`` are the dates of single incidents. Every other figure a partner gets is
    noised or suppressed; these are the only exact non-zero counts, and a small store, a small
    month-only batch, or one ingest's difference in ``incidents`` shows a count from 1 to 4 (or
    an exact difference) in one step. Fix: for roles with suppress_below give the health
    check no counts (or the noised total), only status and store version.
    """
    client = planted.server.test_client()
    truth = client.get("/api/v1/health", headers=_auth(planted.tokens["analyst"])).get_json()
    for role in ("partner", "board"):
        body = client.get("/api/v1/health", headers=_auth(planted.tokens[role])).get_json()
        data = body["data"]
        assert data.get("incidents") != truth["data"]["incidents"], \
            f"{role}: health gives the exact incident total {data.get('incidents')}"


# =============================================================================================
# Noise, the >= 5 clamp and the site's record key
# =============================================================================================
def test_noise_is_bounded_and_the_clamp_only_moves_5_to_7(planted):
    """A shown count is within 2 of the truth, never 1-4, and a shown 5 means a true 5-7."""
    from geo.disclosure import perturb

    rng = np.random.default_rng(0)
    counts = rng.integers(0, 40, 20000)
    keys = rng.integers(0, 2**20, 20000)
    shown = perturb(counts, keys, 5)
    big = counts >= 5
    assert (abs(shown[big] - counts[big]) <= 2).all()
    assert not ((shown[big] >= 1) & (shown[big] <= 4)).any()
    assert set(counts[big & (shown == 5)]) <= {5, 6, 7}
    assert (shown[counts == 0] == 0).all()


def test_web_app_noise_uses_the_sites_own_key_not_the_public_default(sample):
    """Without the site key nobody can tell which incidents share a noise."""
    from dashboard import services
    from geo.query import DEFAULT_RECORD_KEY

    with sample.server.app_context():
        key = services.current().query.record_key
    assert key != DEFAULT_RECORD_KEY and len(key) == 16
    path = sample.data.access / "record.key"
    assert path.read_text().strip() == key
    assert os.stat(path).st_mode & 0o077 == 0, "record.key readable by others"


@pytest.mark.parametrize("content", ["", "short\n", "x" * 40, "\xe9" * 16, "ab\0cdefghijklmnop"])
def test_corrupt_record_key_stops_the_server_rather_than_serving_other_noise(tmp_path, content):
    """A damaged key must not silently become another key (figures would change)."""
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path)
    load_sample(data, n=200, seed=3)
    (data.access).mkdir(parents=True, exist_ok=True)
    (data.access / "record.key").write_bytes(content.encode("latin-1"))
    with pytest.raises((ValueError, UnicodeDecodeError)):
        create_app(data)


def test_a_damaged_record_key_stops_an_ingest_with_a_plain_message(tmp_path):
    """Records are stored with keys from the secret: a damaged one stops the command, in
    words, and nothing is stored with keys from another secret."""
    import subprocess
    import sys

    from geo.store import Store

    data = DataPaths(tmp_path)
    data.access.mkdir(parents=True)
    (data.access / "record.key").write_text("short\n")
    sample = next(iter(sorted((Path(__file__).parents[2] / "data" / "sample").glob(
        "*_ed_attendances.csv.gz"))))
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "ingest", "--data-dir",
                           str(tmp_path), str(sample)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode != 0
    assert "record.key, is damaged" in done.stderr and "Restore it from a backup" in done.stderr
    assert "went wrong inside Hotspot" not in done.stderr
    assert Store(data.store).manifest().rows == 0


def test_partner_figures_are_noised_within_2_and_keyed_by_the_site(planted):
    """The figure shown is the truth moved by at most 2, and the key is not the public one."""
    from geo.query import DEFAULT_RECORD_KEY

    truth = _la(planted, "analyst", la=OTHER_AREA)[OTHER_AREA]
    shown = _la(planted, "partner", la=OTHER_AREA)[OTHER_AREA]
    assert planted.server.extensions["hotspot_services"].query.record_key != DEFAULT_RECORD_KEY
    assert shown is not None and abs(shown - truth) <= 2


# =============================================================================================
# The 'change' entry written before a change runs
# =============================================================================================
def _trend_event_body(app, name: str) -> dict[str, Any]:
    return _body(app, _output(app, "add_event"),
                 {"trends-event-add.n_clicks": 1, "trends-event-name.value": name,
                  "trends-event-from.date": "2024-05-01", "trends-event-to.date": "2024-05-02",
                  "trends-event-kind.value": "operation"}, trigger="trends-event-add.n_clicks")


def test_change_does_not_run_when_its_audit_entry_cannot_be_written(sample, monkeypatch):
    from dashboard.access.audit import AuditError
    from geo.trends import load_events

    log = sample.server.extensions["hotspot_audit"]
    real = log.record

    def failing(action, **kw):
        if action == "change":
            raise AuditError("disk full")
        return real(action, **kw)

    monkeypatch.setattr(log, "record", failing)
    resp = _post(sample, _trend_event_body(sample, "unaudited-op"), _auth(sample.tokens["analyst"]))
    assert resp.status_code == 503, resp.text[:300]
    assert all(e.name != "unaudited-op" for e in load_events(sample.data.events))


def test_change_is_logged_before_and_after_with_who(sample):
    from geo.trends import load_events

    resp = _post(sample, _trend_event_body(sample, "audited-op"), _auth(sample.tokens["analyst"]))
    assert resp.status_code == 200, resp.text[:300]
    assert any(e.name == "audited-op" for e in load_events(sample.data.events))
    lines = []
    for f in sorted(sample.data.audit.glob("*.jsonl")):
        lines += [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
    changes = [x for x in lines if x["action"] == "change" and x["who"] == "analyst-client"]
    assert any(x["what"].get("stage") == "before" for x in changes)
    assert any(x["status"] == 200 for x in changes)


def test_officer_cannot_run_a_change_callback_it_lacks(sample):
    from geo.trends import load_events

    for role in ("officer", "partner", "board"):
        resp = _post(sample, _trend_event_body(sample, f"by-{role}"), _auth(sample.tokens[role]))
        assert resp.status_code == 403
        assert all(e.name != f"by-{role}" for e in load_events(sample.data.events))


# =============================================================================================
# Officers: points, layers and their own area everywhere
# =============================================================================================
def test_officer_briefing_draws_no_incident_points(sample):
    """HOLE (medium): printed briefings draw every incident of a hotspot as a point.

    The NTE map was fixed to draw night-time incidents only for roles with "points", which
    officers lack. /patrol/briefing (needs only "briefing") still draws each hotspot's
    incidents as SVG circles placed to 0.1 px on a 260 px map of a few hundred metres (about
    1-2 m), next to the hotspot's outline whose coordinates are public H3 geometry: the
    officer gets each incident's position, the same disclosure the NTE fix removed. Fix:
    draw the points only when the role may see "points" (else the outline and counts).
    """
    resp = sample.server.test_client().get("/patrol/briefing",
                                           headers=_auth(sample.tokens["officer"]))
    assert resp.status_code == 200, resp.text[:300]
    # numbered markers (a hotspot's public H3 centre, with a leader to it when moved apart)
    # are drawn; any other circle would be an incident
    markers = re.findall(r'<g class="marker">.*?</g>', resp.text)
    assert markers, "the briefing's maps carry numbered markers"
    left = re.sub(r'<g class="marker">.*?</g>', "", resp.text)
    circles = re.findall(r"<circle cx=\"[\d.]+\" cy=\"[\d.]+\"", left)
    assert not circles, f"{len(circles)} incident points drawn for a role without 'points'"
    analyst = sample.server.test_client().get("/patrol/briefing",
                                              headers=_auth(sample.tokens["analyst"]))
    assert re.search(r'<g class="incidents"[^>]*><circle', analyst.text)  # the test can fail


def test_officer_explorer_link_gives_no_clusters_even_with_kde(sample):
    resp = _post(sample, _router(sample, "/", "?layers=kde,clusters,cells&unit=clusters"
                                             "&la=" + OFFICER_AREA),
                 _auth(sample.tokens["officer"]))
    assert resp.status_code == 200
    assert "DBSCAN cluster" not in resp.text or "cluster 1 (" not in resp.text


@pytest.mark.parametrize("path", ["/api/v1/patrol-plan?la=E07000123",
                                  "/patrol/plan.csv?la=E07000123",
                                  "/patrol/plan.geojson?la=E07000123",
                                  "/patrol/briefing?la=E07000123",
                                  "/api/v1/hotspots?la=E07000123&res=7",
                                  "/api/v1/aggregate?level=h3&res=7&la=E07000123",
                                  "/api/v1/trends?la=E07000123"])
def test_officer_other_area_refused_everywhere(sample, path):
    resp = sample.server.test_client().get(path, headers=_auth(sample.tokens["officer"]))
    assert resp.status_code in (400, 403), (path, resp.status_code, resp.text[:200])


def test_officer_nte_zone_figures_count_only_own_area(sample):
    """Zones outside Blackpool show the officer no incident from elsewhere."""
    client = sample.server.test_client()
    mine = client.get("/api/v1/nte/zones", headers=_auth(sample.tokens["officer"]))
    if mine.status_code != 200:
        pytest.skip(mine.text[:200])
    body = mine.get_json()
    text = json.dumps(body)
    assert OTHER_AREA not in text or "count" not in text
