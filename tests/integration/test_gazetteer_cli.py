"""``hotspot gazetteer`` end to end: imported streets name places the incidents leave unnamed.

The synthetic sample has no location text, so its hotspots are named by their authority until
an OS Open Names file (built here, in its no-header 34-column layout) is imported; then the
same running server names them by the nearest street and locality.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import h3
import numpy as np
import pytest

from geo.gazetteer import OS_OPEN_NAMES_COLUMNS
from geo.projection import to_bng
from geo.settings import DataPaths

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOTSPOT, *args], capture_output=True, text=True, timeout=600,
                          env=dict(os.environ))


def os_line(n: int, name: str, kind: str, local: str, x: float, y: float) -> str:
    fields = dict.fromkeys(OS_OPEN_NAMES_COLUMNS, "")
    fields.update({"ID": f"osgb{n:013d}", "NAME1": name, "TYPE": kind, "LOCAL_TYPE": local,
                   "GEOMETRY_X": f"{x:.0f}", "GEOMETRY_Y": f"{y:.0f}",
                   "POPULATED_PLACE": "Preston", "COUNTRY": "England"})
    return ",".join(fields.values())


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    from dashboard.app import create_app
    from geo.ingest import load_sample

    data = DataPaths(tmp_path_factory.mktemp("gaz") / "d")
    load_sample(data, n=3000, seed=3)
    app = create_app(data)
    app.data = data
    return app


def test_imported_streets_name_the_hotspots_of_data_without_location_text(site, tmp_path):
    client = site.server.test_client()
    # the police records: the sample's ED records carry location text, which names places
    path = "/api/v1/hotspots?la=E07000123&res=9&n=3&group=all&source=police"
    before = client.get(path).get_json()["features"]
    assert {f["properties"]["name_source"] for f in before} == {"authority"}
    assert before[0]["properties"]["place_name"].startswith("Preston")
    # a street at each hotspot's centre, one for the first two only, plus a river
    centres = [h3.cell_to_latlng(f["properties"]["cell"]) for f in before]
    east, north = to_bng(np.array([c[1] for c in centres]), np.array([c[0] for c in centres]))
    lines = [os_line(1, "Fishergate", "transportNetwork", "Named Road", east[0] + 30, north[0]),
             os_line(2, "Church Street", "transportNetwork", "Named Road", east[1], north[1]),
             os_line(3, "Avenham", "populatedPlace", "Suburban Area", east[1] + 400, north[1]),
             os_line(4, "River Ribble", "hydrography", "River", east[0], north[0] - 900)]
    src = tmp_path / "SD52.csv"
    src.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = run("gazetteer", "import", str(src), "--data-dir", str(site.data.root), "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout)
    assert (summary["streets"], summary["localities"], summary["rejected"]) == (2, 1, 1)
    assert summary["rejected_by_reason"] == {"neither a street nor a locality": 1}
    shown = run("gazetteer", "--data-dir", str(site.data.root)).stdout
    assert "2 streets and 1 localities" in shown and "SD52.csv" in shown
    after = client.get(path).get_json()["features"]  # the running server picks it up
    props = [f["properties"] for f in after]
    assert [p["cell"] for p in props] == [f["properties"]["cell"] for f in before]
    assert props[0]["place_name"] == "Fishergate, Avenham"  # Avenham is within 3 km
    assert props[1]["place_name"] == "Church Street, Avenham"
    assert props[0]["name_source"] == props[1]["name_source"] == "gazetteer"
    removed = run("gazetteer", "remove", "--data-dir", str(site.data.root))
    assert removed.returncode == 0 and "Removed the gazetteer" in removed.stdout
    again = client.get(path).get_json()["features"]
    assert {f["properties"]["name_source"] for f in again} == {"authority"}


def test_a_gazetteer_file_that_is_not_one_is_refused_clearly(site, tmp_path):
    src = tmp_path / "notes.csv"
    src.write_text("title,body\nhello,world\n", encoding="utf-8")
    proc = run("gazetteer", "import", str(src), "--data-dir", str(site.data.root))
    assert proc.returncode == 3
    assert proc.stderr == (
        "hotspot: notes.csv: no column for the name was found (tried name, name1, street, "
        "place_name, placename, label); name it with --name-col. The columns are 'title', "
        "'body'.\n")


def test_gazetteer_help_names_its_options():
    proc = run("gazetteer", "import", "--help")
    assert proc.returncode == 0
    for option in ("--add", "--name-col", "--type-col", "--x-col", "--y-col", "--crs",
                   "--locality-col", "--data-dir"):
        assert option in proc.stdout
