"""Names on the printed briefing and deployment sheet, from a timestamped file's location column.

A SYNTHETIC timestamped file for Preston maps a location-text column (``--location-col``):
each incident near one of three streets of the centre is "On or near" it, at its map point as
police.uk would put it (one street is named with markup); domestic incidents carry a home
address. The briefing must head each hotspot
with its street name, the sheet must name its zone and busiest spots, every name printed as
text, and no domestic address may appear anywhere.
"""

from __future__ import annotations

import dataclasses
import html
import re

import numpy as np
import pytest

from geo.projection import to_bng, to_wgs84
from geo.settings import DataPaths

#: Three streets of Preston centre (British National Grid metres) and their names.
STREETS = {"Fishergate": (353_450.0, 429_330.0), "Church Street": (354_000.0, 429_480.0),
           "<b>Friargate</b>": (353_650.0, 429_750.0)}
HOME = "14 Acacia Avenue"
RING = [[-2.708, 53.755], [-2.690, 53.755], [-2.690, 53.765], [-2.708, 53.765]]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app
    from geo.ingest import ingest_file
    from geo.readers import load_mapping
    from geo.sample import generate_sample
    from geo.settings import bundled_sample_dir
    from geo.zones import add_zone

    root = tmp_path_factory.mktemp("printed-names")
    data = DataPaths(root / "data")
    incidents = generate_sample(n=4000, seed=5)
    east, north = to_bng(incidents["longitude"].to_numpy(float),
                         incidents["latitude"].to_numpy(float))
    points = np.array(list(STREETS.values()))
    dist = np.hypot(east[:, None] - points[:, 0], north[:, None] - points[:, 1])
    nearest = np.array(list(STREETS))[dist.argmin(axis=1)]
    near = dist.min(axis=1) < 600
    incidents["street"] = np.where(near, "On or near " + nearest, "")
    # as police.uk does, an incident on a street is moved to the street's map point
    lon, lat = to_wgs84(points[:, 0], points[:, 1])
    incidents.loc[near, "longitude"] = lon[dist.argmin(axis=1)[near]].round(6)
    incidents.loc[near, "latitude"] = lat[dist.argmin(axis=1)[near]].round(6)
    domestic = incidents["domestic"].astype(str).str.lower() == "true"
    assert domestic.sum() > 50
    incidents.loc[domestic, "street"] = HOME
    path = root / "incidents.csv"
    incidents.to_csv(path, index=False)
    mapping = dataclasses.replace(load_mapping(bundled_sample_dir() / "mapping.toml"),
                                  location="street")
    ingest_file(path, data, mapping=mapping)
    add_zone(data.zones, {"type": "Polygon", "coordinates": [RING + RING[:1]]}, "Preston centre")
    return create_app(data).server.test_client()


def _names_printed() -> set[str]:
    return {html.escape(s) for s in STREETS}


def test_briefing_heads_each_hotspot_with_its_street(client):
    plan = client.get("/api/v1/patrol-plan?la=E07000123&group=all&n=3&public_only=0"
                      "&days=fri,sat&hours=20-4").get_json()
    names = [f["properties"]["place_name"] for f in plan["features"]]
    assert [f["properties"]["name_source"] for f in plan["features"]] == [
        "incident locations"] * 3
    page = client.get("/patrol/briefing?la=E07000123&group=all&n=3&public_only=0"
                      "&days=fri,sat&hours=20-4").get_data(as_text=True)
    for rank, name in enumerate(names, start=1):
        assert f"<h1>Hotspot {rank} of 3 · {html.escape(name)} · Preston</h1>" in page
        assert any(street in html.escape(name) for street in _names_printed())
    assert "<b>Friargate</b>" not in page  # a name holding markup prints as text
    # public_only=0 takes in domestic incidents; their addresses name nothing
    assert "Acacia" not in page and not any("Acacia" in n for n in names)


def test_deployment_sheet_names_its_zone_and_busiest_spots(client):
    zones = client.get("/api/v1/nte/zones?group=all").get_json()
    props = zones["features"][0]["properties"]
    assert props["name"] == "Preston centre" and props["name_source"] == "incident locations"
    weekend = props["latest_weekend"]
    query = f"zone={props['zone_id']}&weekend={weekend}&group=all"
    sheet = client.get(f"/nte/sheet?{query}").get_data(as_text=True)
    assert f"Around {html.escape(props['place_name'])}" in sheet
    where = sheet.split("<h2>Where</h2>")[1].split("</table>")[0]
    spots = re.findall(r"<td><b>([^<]+)</b> \(5\d\.\d{5}, -2\.\d{5}\)</td></tr>", where)
    assert spots and all(any(s in spot for s in _names_printed()) for spot in spots)
    assert "Acacia" not in sheet
    rows = client.get(f"/nte/sheet.csv?{query}").get_data(as_text=True).splitlines()
    wheres = [r for r in rows if r.startswith("where")]
    assert len(wheres) == len(spots)
    assert all("(cell 8a" in r for r in wheres)
    assert ["zone", "around", props["place_name"]] in [r.split(",", 2) for r in rows]
