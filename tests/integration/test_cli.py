"""The ``hotspot`` command end to end, as an analyst runs it."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from geo.store import Store
from tests.conftest import SHARED_DATA, needs_shared

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))
LAD_FILE = SHARED_DATA / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"
POLICE_FILES = sorted((SHARED_DATA / "police_uk").glob("*/*.csv.gz"))


def run(*args: str, env: dict[str, str] | None = None, check: bool = False):
    proc = subprocess.run([HOTSPOT, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"hotspot {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.parametrize("sub", ["serve", "ingest", "sample", "boundaries", "groups", "bench"])
def test_every_subcommand_has_help(sub):
    proc = run(sub, "--help", check=True)
    assert "--data-dir" in proc.stdout or sub == "bench"


def test_missing_file_gets_one_clear_message(tmp_path):
    proc = run("ingest", "--data-dir", str(tmp_path), str(tmp_path / "nope.csv"))
    assert proc.returncode != 0
    assert "nope.csv" in proc.stderr and "Traceback" not in proc.stderr


def test_not_utf8_file_gets_one_clear_message(tmp_path):
    bad = tmp_path / "latin1.csv"
    header = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
              "LSOA name,Crime type,Last outcome category,Context\n")
    row = ("abc,2019-09,Lancashire,Lancashire,-2.70,53.76,On or near Caf\xe9 Street,E01,"
           "Preston 001A,Robbery,,\n")
    bad.write_bytes((header + row).encode("latin-1"))
    proc = run("ingest", "--data-dir", str(tmp_path / "d"), str(bad))
    assert proc.returncode != 0
    assert "latin1.csv" in proc.stderr and "UTF-8" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_bad_rows_are_rejected_with_line_and_reason(tmp_path):
    csv = tmp_path / "ed.csv"
    csv.write_text(
        "ref,when,lat,lon,type\n"
        "A1,2024-06-07 23:15,53.7590,-2.7030,Violence with injury\n"  # Preston: accepted
        "A2,2024-06-07 23:20,,,Violence with injury\n"                # no coordinates
        "A3,not a date,53.7590,-2.7030,Violence with injury\n"        # unparseable date
        "A4,2024-06-07 23:30,51.5007,-0.1246,Violence with injury\n"  # London: outside
        "A1,2024-06-07 23:15,53.7590,-2.7030,Violence with injury\n"  # same id again
    )
    proc = run("ingest", "--data-dir", str(tmp_path / "d"), str(csv), "--json",
               "--id-col", "ref", "--datetime-col", "when", "--lat-col", "lat", "--lon-col",
               "lon", "--category-col", "type", "--default-source", "ed", check=True)
    summary = json.loads(proc.stdout)
    assert summary["read"] == 5
    assert (summary["accepted"], summary["duplicates"], summary["rejected"]) == (1, 1, 3)
    assert sum(summary["rejected_by_reason"].values()) == 3
    rejects = Path(summary["rejects_file"]).read_text()
    for line in (",3,", ",4,", ",5,"):
        assert line in rejects
    assert "outside the study area" in rejects and "date" in rejects


def test_sample_then_user_data_never_mix(tmp_path):
    data = str(tmp_path / "d")
    proc = run("sample", "--data-dir", data, check=True)
    assert "SYNTHETIC" in proc.stdout
    assert Store(Path(data) / "store").manifest().kind == "sample"
    csv = tmp_path / "mine.csv"
    csv.write_text("id,dt,lat,lon,cat\nZ1,2024-06-07 23:15,53.7590,-2.7030,Robbery\n")
    run("ingest", "--data-dir", data, str(csv), "--id-col", "id", "--datetime-col", "dt",
        "--lat-col", "lat", "--lon-col", "lon", "--category-col", "cat", check=True)
    manifest, table = Store(Path(data) / "store").read()
    assert manifest.kind == "user" and table.num_rows == 1
    proc = run("sample", "--data-dir", data)
    assert proc.returncode != 0 and "your own" in proc.stderr


@needs_shared
def test_real_boundaries_then_real_police_months_every_row_accounted_for(tmp_path):
    data = str(tmp_path / "d")
    proc = run("boundaries", "import", str(LAD_FILE), "--code-field", "LAD21CD",
               "--name-field", "LAD21NM", "--data-dir", data, check=True)
    assert "374" in proc.stdout
    assert len(POLICE_FILES) == 4
    proc = run("ingest", "--data-dir", data, "--json", *map(str, POLICE_FILES), check=True)
    total = json.loads(proc.stdout)
    assert total["read"] == 55_676
    assert total["accepted"] + total["duplicates"] + total["rejected"] == total["read"]
    assert total["accepted"] > 55_000
    _, table = Store(Path(data) / "store").read(columns=["incident_id", "time_precision"])
    assert table.num_rows == total["accepted"]
    assert set(table.column("time_precision").to_pylist()) == {"month"}
    # ingesting the same files again adds nothing
    again = json.loads(run("ingest", "--data-dir", data, "--json", *map(str, POLICE_FILES),
                           check=True).stdout)
    assert again["accepted"] == 0
    assert again["duplicates"] == total["accepted"] + total["duplicates"]
    assert Store(Path(data) / "store").read(columns=["incident_id"])[1].num_rows == table.num_rows


@needs_shared
def test_real_timestamped_file_with_flags(tmp_path):
    sf = SHARED_DATA / "timestamped" / "san_francisco_robbery.csv"
    proc = run("ingest", "--data-dir", str(tmp_path / "d"), str(sf), "--json",
               "--id-col", "uid", "--datetime-col", "date_time", "--lon-col", "longitude",
               "--lat-col", "latitude", "--category-col", "offense_type", "--offset", "ignore",
               check=True)
    summary = json.loads(proc.stdout)
    # San Francisco lies outside the Lancashire study area: every row is accounted for as such
    assert summary["read"] == 951
    assert summary["rejected"] == 951
    assert list(summary["rejected_by_reason"]) == ["outside the study area"]


def test_killed_ingest_leaves_the_store_as_it_was(tmp_path):
    data = tmp_path / "d"
    first = tmp_path / "first.csv"
    first.write_text("id,dt,lat,lon,cat\nK1,2024-06-07 23:15,53.7590,-2.7030,Robbery\n")
    flags = ["--id-col", "id", "--datetime-col", "dt", "--lat-col", "lat", "--lon-col", "lon",
             "--category-col", "cat"]
    run("ingest", "--data-dir", str(data), str(first), *flags, check=True)
    store = Store(data / "store")
    before = store.manifest()
    second = tmp_path / "second.csv"
    second.write_text("id,dt,lat,lon,cat\n" + "".join(
        f"K{i},2024-06-08 0{i % 10}:15,53.7590,-2.7030,Robbery\n" for i in range(2, 200)))
    proc = subprocess.Popen([HOTSPOT, "ingest", "--data-dir", str(data), str(second), *flags],
                            env={**os.environ, "HOTSPOT_FAULT_PAUSE_BEFORE_COMMIT": "60"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # wait until the batch's data files are written but not yet listed, then kill -9
    deadline = time.time() + 60
    while time.time() < deadline:
        if len(list((data / "store" / "incidents").rglob("*.parquet"))) > len(before.batches):
            break
        time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the ingest never reached its commit point")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    after, table = store.read()
    assert after.to_json() == before.to_json()
    assert table.column("incident_id").to_pylist() == ["police:K1"]
    # the next ingest sweeps the orphan and commits normally
    run("ingest", "--data-dir", str(data), str(second), *flags, check=True)
    assert store.read()[1].num_rows == 199


@needs_shared
def test_importing_boundaries_relabels_stored_incidents(tmp_path):
    data = tmp_path / "d"
    run("sample", "--data-dir", str(data), check=True)
    before = Store(data / "store").read(columns=["incident_id", "la_code"])[1]
    proc = run("boundaries", "import", str(LAD_FILE), "--code-field", "LAD21CD",
               "--name-field", "LAD21NM", "--data-dir", str(data), check=True)
    assert "Re-assigned 60,000" in proc.stdout
    after = Store(data / "store").read(columns=["incident_id", "la_code"])[1]
    assert after.num_rows == before.num_rows
    old = dict(zip(before.column(0).to_pylist(), before.column(1).to_pylist(), strict=False))
    new = dict(zip(after.column(0).to_pylist(), after.column(1).to_pylist(), strict=False))
    # Lancashire's district codes are the same in the 2021 ONS file, so almost every
    # incident keeps its code; generalisation differences move only a few near borders
    moved = sum(old[k] != new[k] for k in old)
    assert moved < 0.01 * len(old)
    assert "" not in set(new.values())
    listed = run("boundaries", "show", "--data-dir", str(data), check=True).stdout
    assert "374 areas" in listed and "Preston" in listed


# ---------------------------------------------------------------------------------------------
# Boundaries with populations, and crime-type groups

README = Path(__file__).resolve().parents[2] / "README.md"


def _two_districts(folder: Path) -> Path:
    """A small file shaped like the ONS district file (LAD21CD, LAD21NM), in WGS84."""
    import geopandas as gpd
    import shapely

    path = folder / "Local_Authority_Districts_December_2021_UK_BUC.geojson"
    gpd.GeoDataFrame(
        {"LAD21CD": ["E08000012", "E08000011"], "LAD21NM": ["Liverpool", "Knowsley"]},
        geometry=[shapely.box(-3.0, 53.35, -2.9, 53.45), shapely.box(-2.9, 53.35, -2.8, 53.45)],
        crs="EPSG:4326",
    ).to_file(path)
    return path


def _readme_command(marker: str) -> list[str]:
    """The README's command containing ``marker``, continuation lines joined, as argv."""
    text = README.read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(ln for ln in text.splitlines() if marker in ln and ln.startswith(".venv/"))
    return shlex.split(line.split("#")[0])


def test_readme_boundaries_import_command_works_as_written(tmp_path):
    # The README put --data-dir between "import" and the file, which argparse refused.
    _two_districts(tmp_path)
    (tmp_path / "populations.csv").write_text(
        "code,population,year\nE08000012,498042,2020\nE08000011,154517,2020\n")
    argv = _readme_command("boundaries import")
    assert argv[0] == ".venv/bin/hotspot" and "--data-dir" in argv
    proc = subprocess.run([HOTSPOT, *argv[1:]], capture_output=True, text=True, timeout=600,
                          cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert "Imported 2 areas" in proc.stdout
    assert "2 population(s) imported (populations: 2020, imported from populations.csv)" in (
        proc.stdout)
    listed = run("boundaries", "--data-dir", str(tmp_path / "hotspot-data"), check=True).stdout
    assert "E08000012  Liverpool  (498,042)" in listed


@pytest.mark.parametrize(
    "order",
    [["boundaries", "--data-dir", "{d}", "import", "{f}", "--code-field", "LAD21CD",
      "--name-field", "LAD21NM"],
     ["boundaries", "import", "{f}", "--data-dir", "{d}", "--code-field", "LAD21CD",
      "--name-field", "LAD21NM"],
     ["boundaries", "import", "--code-field", "LAD21CD", "--data-dir", "{d}",
      "--name-field", "LAD21NM", "{f}"]],
    ids=["data-dir-first", "file-first", "file-last"],
)
def test_boundaries_import_takes_options_in_any_order(tmp_path, order):
    path = _two_districts(tmp_path)
    data = tmp_path / "d"
    argv = [a.format(d=data, f=path) for a in order]
    proc = run(*argv, check=True)
    assert "Imported 2 areas" in proc.stdout
    assert "no populations, so rates cannot be shown" in proc.stdout
    assert (data / "boundaries" / "areas.geojson").is_file()


def test_population_table_with_bad_rows_lists_each_and_imports_nothing(tmp_path):
    path = _two_districts(tmp_path)
    data = tmp_path / "d"
    run("boundaries", "import", str(path), "--code-field", "LAD21CD", "--name-field",
        "LAD21NM", "--data-dir", str(data), check=True)
    bad = tmp_path / "bad.csv"
    bad.write_text("code,population,year\nE08000012,498042,2020\nE99999999,5,2020\n"
                   "E08000011,n/a,2020\n")
    proc = run("boundaries", "population", str(bad), "--data-dir", str(data))
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "Nothing was imported from bad.csv: 2 of 3 row(s) cannot be used" in proc.stderr
    assert "line 3: unknown code 'E99999999'" in proc.stderr
    assert "line 4: population 'n/a' is not a number" in proc.stderr
    assert not (data / "boundaries" / "population.json").exists()
    missing = run("boundaries", "import", str(path), "--code-field", "LAD21CD", "--name-field",
                  "LAD21NM", "--data-dir", str(data), "--population", str(tmp_path / "no.csv"))
    assert missing.returncode == 3 and "no.csv does not exist" in missing.stderr


def test_groups_list_set_default_remove(tmp_path):
    data = str(tmp_path / "d")
    listed = run("groups", "--data-dir", data, check=True).stdout
    assert ("violence: Violence and sexual offences, Robbery, Possession of weapons"
            in listed)
    assert "police.uk data start with the group 'violence'" in listed
    run("groups", "set", "knife", "Possession of weapons", "Robbery", "--data-dir", data,
        check=True)
    run("groups", "--data-dir", data, "default", "knife", check=True)
    body = json.loads(run("groups", "--data-dir", data, "--json", check=True).stdout)
    assert body["default"] == "knife"
    assert body["groups"]["knife"] == ["Possession of weapons", "Robbery"]
    bad = run("groups", "default", "nope", "--data-dir", data)
    assert bad.returncode == 3 and "There is no group 'nope'" in bad.stderr
    reserved = run("groups", "set", "all", "Robbery", "--data-dir", data)
    assert reserved.returncode == 3 and "'all' is reserved" in reserved.stderr
    run("groups", "remove", "knife", "--data-dir", data, check=True)
    body = json.loads(run("groups", "--data-dir", data, "--json", check=True).stdout)
    assert "knife" not in body["groups"] and body["default"] is None
    assert re.search(r"No default has been chosen", body["rule"])


def test_readme_groups_commands_work_as_written(tmp_path):
    text = README.read_text(encoding="utf-8")
    lines = [ln.split("#")[0] for ln in text.splitlines()
             if ln.startswith(".venv/bin/hotspot groups")]
    assert len(lines) == 4
    for line in lines:
        argv = shlex.split(line)
        proc = subprocess.run([HOTSPOT, *argv[1:]], capture_output=True, text=True,
                              timeout=600, cwd=tmp_path, env={**os.environ, "HOME": str(tmp_path)})
        assert proc.returncode == 0, (line, proc.stderr)
    body = json.loads(run("groups", "--json", "--data-dir", str(tmp_path / "hotspot-data"),
                          check=True).stdout)
    assert "knife" not in body["groups"] and body["default"] is None  # set, chosen, removed
