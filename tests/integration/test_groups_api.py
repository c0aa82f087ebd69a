"""Crime-type groups through the API on police.uk data: the default matches the Explorer's."""

from __future__ import annotations

import pytest

from geo.groups import set_default, set_group
from geo.ingest import ingest_file
from geo.settings import DataPaths

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context\n")
#: (crime type, how many) in Preston (inside the bundled boundaries).
ROWS = [("Violence and sexual offences", 7), ("Robbery", 2), ("Possession of weapons", 1),
        ("Shoplifting", 5), ("Anti-social behaviour", 4)]


@pytest.fixture(scope="module")
def police_uk(tmp_path_factory):
    root = tmp_path_factory.mktemp("groups-data")
    lines, k = [HEADER], 0
    for crime, n in ROWS:
        for _ in range(n):
            k += 1
            lines.append(f"id{k:04d},2024-05,Lancashire Constabulary,Lancashire Constabulary,"
                         f"-2.70{k % 10},53.76{k % 7},On or near X Street,E01025300,"
                         f"Preston 014A,{crime},,\n")
    path = root / "2024-05-lancashire-street.csv"
    path.write_text("".join(lines), encoding="utf-8")
    data = DataPaths(root / "d")
    summary = ingest_file(path, data)
    assert summary.accepted == sum(n for _, n in ROWS)
    return data


@pytest.fixture(scope="module")
def client(police_uk):
    from dashboard.app import create_app

    return create_app(police_uk).server.test_client()


def _total(client, query: str = "") -> int:
    body = client.get(f"/api/v1/aggregate?{query}").get_json()
    return sum(r["count"] for r in body["rows"])


def test_police_uk_data_default_to_the_violence_group(client):
    body = client.get("/api/v1/aggregate").get_json()
    assert body["group"]["name"] == "violence" and body["group"]["is_default"]
    assert set(body["group"]["left_out"]) == {"Shoplifting", "Anti-social behaviour"}
    assert _total(client) == 7 + 2 + 1  # not all 19
    assert _total(client, "group=all") == 19
    assert _total(client, "categories=Shoplifting") == 5
    hot = client.get("/api/v1/hotspots").get_json()
    assert hot["group"]["name"] == "violence"
    assert sum(f["properties"]["count"] for f in hot["features"]) <= 10


def test_bad_group_requests_name_the_parameter(client):
    for query in ("group=knife", "group=violence&categories=Robbery"):
        resp = client.get(f"/api/v1/aggregate?{query}")
        assert resp.status_code == 400 and resp.get_json()["parameter"] == "group"


def test_a_chosen_default_and_a_new_group_apply_without_a_restart(client, police_uk):
    set_group(police_uk.groups, "retail", ["Shoplifting"])
    assert _total(client, "group=retail") == 5
    set_default(police_uk.groups, "all")
    assert _total(client) == 19
    set_default(police_uk.groups, None)  # back to the built-in rule
    assert _total(client) == 10
    # an explicit group also works on endpoints whose pages keep all categories
    trends = client.get("/api/v1/trends?group=retail").get_json()
    assert trends["filters"]["categories"] == "Shoplifting"
