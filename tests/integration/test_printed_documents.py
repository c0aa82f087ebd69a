"""The printed documents (patrol briefing, deployment sheet) print names as text, never markup.

Zone, venue, street and category names come from users' files and forms. A name holding HTML
must come out escaped, so opening a briefing cannot run a script or load an image.
"""

from __future__ import annotations

import pandas as pd
import pytest

from geo.settings import DataPaths

ZONE = "<script>alert(1)</script>"
BREAKOUT = '"><img src=x onerror=alert(1)>'
ZONE_ESCAPED = "&lt;script&gt;alert(1)&lt;/script&gt;"
BREAKOUT_ESCAPED = "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
#: Preston city centre, where the sample's incidents cluster.
RING = [[-2.708, 53.755], [-2.690, 53.755], [-2.690, 53.765], [-2.708, 53.765]]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    from dashboard.app import create_app
    from geo.ingest import ingest_file
    from geo.readers import load_mapping
    from geo.sample import generate_sample
    from geo.settings import bundled_sample_dir
    from geo.venues import save_venues
    from geo.zones import add_zone

    root = tmp_path_factory.mktemp("hostile-names")
    data = DataPaths(root / "data")
    incidents = generate_sample(n=3000, seed=2)
    # every third incident carries a category named to break out of an HTML attribute
    incidents.loc[::3, "category"] = BREAKOUT
    path = root / "incidents.csv"
    incidents.to_csv(path, index=False)
    ingest_file(path, data, mapping=load_mapping(bundled_sample_dir() / "mapping.toml"),
                kind="sample")
    add_zone(data.zones, {"type": "Polygon", "coordinates": [RING + RING[:1]]}, ZONE)
    save_venues(pd.DataFrame({"name": [BREAKOUT, "The Crown"], "type": ["pub", BREAKOUT],
                              "lat": [53.7590, 53.7600], "lon": [-2.7030, -2.7000]}),
                data.venues, "venues")
    return create_app(data).server.test_client()


def _no_markup_from_names(html: str) -> None:
    # neither document has a script or an image of its own: any here would be injected
    assert "<script" not in html and "<img" not in html and "onerror=alert(1)>" not in html


def test_deployment_sheet_escapes_zone_venue_and_category_names(client):
    zone = client.get("/api/v1/nte/zones").get_json()["features"][0]["id"]
    resp = client.get(f"/nte/sheet?zone={zone}&weekend=2024-06-07&group=all")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    _no_markup_from_names(html)
    assert f"<title>Deployment sheet · {ZONE_ESCAPED}</title>" in html
    assert f"<h1>Deployment sheet: {ZONE_ESCAPED}</h1>" in html
    assert f"<li>{BREAKOUT_ESCAPED} (pub):" in html  # a venue's name
    assert f"<li>The Crown ({BREAKOUT_ESCAPED}):" in html  # a venue's type
    categories = html.split("<h2>Main categories</h2><p>")[1].split("</p>")[0]
    assert BREAKOUT_ESCAPED in categories


def test_briefing_escapes_category_names(client):
    resp = client.get("/patrol/briefing?la=E07000123&group=all&n=3")
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    _no_markup_from_names(html)
    assert html.count('<section class="page">') == 3
    what = [part.split("</p>")[0] for part in html.split("<h2>What</h2><p>")[1:]]
    assert len(what) == 3 and what[0].startswith(f"{BREAKOUT_ESCAPED} (")  # the top category
    # the figures are still drawn: an outline, incidents and the hours of the day
    assert html.count("<polygon points=") == 3 and html.count('<svg class="hours"') == 3
