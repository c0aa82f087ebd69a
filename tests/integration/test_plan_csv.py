"""The patrol plan CSV opens cleanly in Excel and Power BI; its provenance travels beside it."""

from __future__ import annotations

import csv
import io
import json
from datetime import date

import pandas as pd
import pytest

from dashboard.serialise import PLAN_CSV_COLUMNS, plan_csv
from geo.plan import PlanParams, PlanResult
from geo.settings import DataPaths

PRESTON_NIGHTS = "la=E07000123&days=fri,sat&hours=20-4&n=10"
HOSTILE = '=HYPERLINK("http://example.invalid/x","click")'


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app, ensure_data

    data = DataPaths(tmp_path_factory.mktemp("plan-csv-data"))
    ensure_data(data)
    return create_app(data).server.test_client()


def test_plan_csv_is_a_header_and_rows_only(client):
    # '#' provenance lines used to head the file: Excel and Power BI made them junk rows.
    resp = client.get(f"/patrol/plan.csv?{PRESTON_NIGHTS}")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    text = resp.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == PLAN_CSV_COLUMNS
    assert len(rows) == 11 and all(len(r) == len(PLAN_CSV_COLUMNS) for r in rows)
    assert not any(line.startswith("#") for line in text.splitlines())
    table = pd.read_csv(io.StringIO(text))  # no comment= needed
    geo = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}").get_json()
    assert list(table["id"]) == [f["id"] for f in geo["features"]]
    assert list(table["count"]) == [f["properties"]["count"] for f in geo["features"]]


def test_provenance_is_a_sidecar_linked_beside_the_csv(client):
    resp = client.get(f"/patrol/plan-provenance.json?{PRESTON_NIGHTS}")
    assert resp.status_code == 200 and "provenance.json" in resp.headers["Content-Disposition"]
    prov = json.loads(resp.get_data(as_text=True))
    geo = client.get(f"/api/v1/patrol-plan?{PRESTON_NIGHTS}").get_json()
    assert prov["parameters"] == geo["provenance"]["parameters"]
    assert prov["software"].startswith("Hotspot ") and prov["harm_weights"]["source"]
    assert set(prov["columns"]) == set(PLAN_CSV_COLUMNS)
    assert client.get("/patrol/plan-provenance.json?days=xyz").status_code == 400


def test_a_formula_in_a_category_or_place_stays_text():
    table = pd.DataFrame({
        "rank": [1], "id": [HOSTILE], "count": [3], "harm": [3.0], "share_harm": [1.0],
        "share_count": [1.0], "cum_share_harm": [1.0], "expected_per_shift": [0.1],
        "peak_hours": ["23:00 (2)"], "main_categories": [f"{HOSTILE} (3)"], "prev_count": [1],
        "trend": ["-2 (from 5)"], "lat": [53.76], "lon": [-2.7], "why": ["@SUM(1+1)"],
    })
    schedule = pd.DataFrame({"hotspot": [1], "start": ["21:10"], "end": ["21:25"]})
    result = PlanResult(params=PlanParams(), window=(date(2025, 1, 1), date(2025, 3, 31)),
                        previous_window=(date(2024, 10, 1), date(2024, 12, 31)), n_shifts=26,
                        table=table, schedule=schedule, hours={}, weights_source="equal",
                        weights={}, totals={"incidents": 3, "harm": 3.0})
    row = dict(zip(PLAN_CSV_COLUMNS, list(csv.reader(io.StringIO(plan_csv(result))))[1],
                   strict=True))
    assert row["id"] == "'" + HOSTILE
    assert row["main_categories"] == f"'{HOSTILE} (3)"
    assert row["why"] == "'@SUM(1+1)"
    assert row["trend"] == "'-2 (from 5)"  # text that starts with '-' is not a number
    assert row["lon"] == "-2.7" and row["dosage"] == "21:10–21:25"
