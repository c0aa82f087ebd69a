"""``hotspot postcodes`` and ``hotspot lsoa-centroids`` end to end, and the NTE page using them.

The directory files are written in the published layouts with MADE-UP postcodes and grid
references (tests/postcode_helpers.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from geo.settings import DataPaths
from tests.postcode_helpers import onspd_row, onspd_text

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOTSPOT, *args], capture_output=True, text=True, timeout=300,
                          env=dict(os.environ))


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("postcode-files")
    rows = [onspd_row("M1 7AG", 384_330, 397_600, lsoa21="E01033677"),
            onspd_row("M1 5WW", 384_200, 397_500, lsoa21="E01033677"),
            onspd_row("M1 3NR", 384_100, 398_150, lsoa21="E01033658", doterm="201806"),
            onspd_row("M1 7EL", None, None, lsoa21="E01033677")]
    onspd = root / "ONSPD_FEB_2024_UK.zip"
    with zipfile.ZipFile(onspd, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Data/ONSPD_FEB_2024_UK.csv", onspd_text(rows))
        zf.writestr("Documents/Country names and codes UK as at 08_12.csv",
                    "CTRY12CD,CTRY12CDO,CTRY12NM\nE92000001,921,England\n")
    pwc = root / "LSOA_PopCentroids_EW_2021_V3.csv"
    pwc.write_text("FID,LSOA21CD,LSOA21NM,GlobalID,x,y\n"
                   "1,E01033677,Manchester 054C,{A1},384250.5,397550.25\n"
                   "2,E01033658,Manchester 055A,{A2},384000.0,398200.0\n")
    bad = root / "premises.csv"
    bad.write_text("name,lat,lon\nRain Bar,53.47,-2.24\n")
    return {"onspd": onspd, "pwc": pwc, "bad": bad}


def test_postcodes_import_and_show(tmp_path, files):
    data = str(tmp_path / "data")
    empty = run("postcodes", "--data-dir", data)
    assert empty.returncode == 0
    assert "No postcode directory is imported" in empty.stdout
    assert "hotspot postcodes import FILE" in empty.stdout

    done = run("postcodes", "import", str(files["onspd"]), "--data-dir", data)
    assert done.returncode == 0, done.stderr
    assert "postcodes kept:" in done.stdout and "ONSPD" in done.stdout

    shown = run("postcodes", "show", "--data-dir", data)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("The postcode directory holds 4 postcodes from "
                               "ONSPD_FEB_2024_UK.zip (ONSPD), imported 20")
    text = " ".join(" ".join(line.split()) for line in lines)
    assert "live: 3" in text and "terminated: 1" in text
    assert "with no grid reference: 1" in text and "with an LSOA code: 4 (lsoa21)" in text

    manifest = json.loads(run("postcodes", "show", "--json", "--data-dir", data).stdout)
    assert manifest["rows"] == 4 and manifest["source"] == "ONSPD"
    assert manifest == json.loads((Path(data) / "postcodes" / "postcodes.json").read_text())


def test_postcodes_import_json_and_data_dir_before_the_action(tmp_path, files):
    data = str(tmp_path / "data")
    done = run("postcodes", "--data-dir", data, "import", str(files["onspd"]), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert (summary["kept"], summary["live"], summary["terminated"]) == (4, 3, 1)
    assert summary["source"] == "ONSPD" and summary["skipped"] == 0


def test_a_file_that_is_not_a_directory_fails_in_one_line_and_keeps_the_lookup(tmp_path, files):
    data = str(tmp_path / "data")
    assert run("postcodes", "import", str(files["onspd"]), "--data-dir", data).returncode == 0
    bad = run("postcodes", "import", str(files["bad"]), "--data-dir", data)
    assert bad.returncode == 3
    assert bad.stdout == ""
    assert bad.stderr.startswith("hotspot: premises.csv: not a postcode directory")
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
    missing = run("postcodes", "import", str(tmp_path / "nope.zip"), "--data-dir", data)
    assert missing.returncode == 3 and "no such file" in missing.stderr
    assert "4 postcodes" in run("postcodes", "--data-dir", data).stdout


def test_lsoa_centroids_import_and_show(tmp_path, files):
    data = str(tmp_path / "data")
    assert "No LSOA centroids are imported" in run("lsoa-centroids", "--data-dir", data).stdout
    done = run("lsoa-centroids", "import", str(files["pwc"]), "--data-dir", data)
    assert done.returncode == 0, done.stderr
    assert "centroids kept:" in done.stdout and "2021 LSOAs" in done.stdout
    shown = run("lsoa-centroids", "show", "--data-dir", data)
    assert shown.stdout.startswith("2 LSOA population-weighted centroids (2021 LSOAs) from "
                                   "LSOA_PopCentroids_EW_2021_V3.csv, imported 20")
    bad = run("lsoa-centroids", "import", str(files["bad"]), "--data-dir", data)
    assert bad.returncode == 3 and "no LSOA code column" in bad.stderr

    from geo.postcodes import LsoaCentroids

    placed = LsoaCentroids.load(DataPaths(Path(data))).place(["E01033677", "E01000000"])
    assert placed.easting[0] == 384250.5
    assert placed.reason.tolist() == [None, "LSOA code not recognised: 'E01000000'"]


def test_the_nte_page_places_uploaded_venues_by_postcode(tmp_path, files):
    from dashboard.app import create_app, ensure_data
    from geo.postcodes import import_postcodes
    from geo.venues import PLACED_BY_POSTCODE, load_venues
    from tests.integration.test_hostile_uploads import _data_url, _edit_zones, _message

    data = DataPaths(tmp_path / "data")
    ensure_data(data)
    import_postcodes(files["onspd"], data)
    client = create_app(data).server.test_client()
    venues = (b"name,type,postcode,lat,lon\n"
              b"Rain Bar,bar,M1 5JG,53.4746719,-2.245182\n"
              b"Fifth Avenue,nightclub,M1 7AG,,\n"
              b"Lost,bar,M1 9ZZ,,\n")
    response = _edit_zones(client, "nte-venues.contents", **{
        "nte-venues.contents": _data_url(venues), "nte-venues.filename": "venues.csv"})
    message = _message(response)
    assert message.startswith("Loaded 2 venues from venues.csv. 1 of them had no coordinates "
                              "and are placed at their postcode's centre. 1 rows were not "
                              "placed")
    assert "postcode not in the postcode directory: 'M1 9ZZ'" in message
    saved = load_venues(data.venues)
    assert saved["placed_by"].tolist() == ["coordinates", PLACED_BY_POSTCODE]
    assert saved["easting"].tolist()[1] == 384_330


@pytest.mark.parametrize("sub", ["postcodes", "lsoa-centroids"])
def test_help(sub):
    for args in ([sub, "--help"], [sub, "import", "--help"], [sub, "show", "--help"]):
        proc = run(*args)
        assert proc.returncode == 0 and "--data-dir" in proc.stdout


def test_readme_postcode_commands_work_as_written(tmp_path, files):
    import shlex

    from tests.postcode_helpers import code_point_row

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    lines = [ln.split("#")[0] for ln in readme.replace("\\\n", " ").splitlines()
             if ln.startswith((".venv/bin/hotspot postcodes", ".venv/bin/hotspot lsoa-centroids"))]
    assert len(lines) == 5
    (tmp_path / "ONSPD_FEB_2024.zip").write_bytes(files["onspd"].read_bytes())
    with zipfile.ZipFile(tmp_path / "codepo_gb.zip", "w") as zf:
        zf.writestr("Data/CSV/m.csv", code_point_row("M1 5JG", 10, 383_820, 397_770) + "\r\n")
    (tmp_path / "LSOA_PopCentroids_EW_2021_V3.csv").write_bytes(files["pwc"].read_bytes())
    for line in lines:
        argv = shlex.split(line)
        proc = subprocess.run([HOTSPOT, *argv[1:]], capture_output=True, text=True, timeout=300,
                              cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)})
        assert proc.returncode == 0, (line, proc.stderr)
    # the second import (Code-Point Open) replaced the first
    shown = run("postcodes", "--data-dir", str(tmp_path / "hotspot-data")).stdout
    assert "1 postcode from codepo_gb.zip (Code-Point Open)" in shown
