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

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from geo.schema import empty_rejects
from geo.store import FAULT_POINTS, Store
from tests.conftest import SHARED_DATA, needs_shared, stored_table

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))
LAD_FILE = SHARED_DATA / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"
POLICE_FILES = sorted((SHARED_DATA / "police_uk").glob("*/*.csv.gz"))


def run(*args: str, env: dict[str, str] | None = None, check: bool = False):
    proc = subprocess.run([HOTSPOT, *args], capture_output=True, text=True, timeout=600,
                          env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"hotspot {args} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.mark.parametrize(("setting", "value", "says"), [
    ("HOTSPOT_IN_MEMORY_MAX_ROWS", "two million", "must be a whole number, not 'two million'"),
    ("HOTSPOT_MAX_SELECTION_ROWS", "-3", "must be above zero, not -3"),
    ("HOTSPOT_ENGINE", "Spark", "is 'spark'; the engines are auto, numpy, duckdb, dask"),
])
def test_a_setting_that_is_not_valid_is_named_before_anything_starts(tmp_path, setting,
                                                                         value, says):
    for args in (["serve", "--port", "1"], ["sample"]):
        proc = run(*args, "--data-dir", str(tmp_path), env={setting: value})
        assert proc.returncode == 2
        assert proc.stderr.strip() == f"hotspot: the setting {setting} {says}"
        assert "went wrong inside Hotspot" not in proc.stderr
    assert not any(tmp_path.iterdir())  # nothing was written


@pytest.mark.parametrize("sub", ["serve", "ingest", "sample", "boundaries", "groups", "bench",
                                 "backtest", "compact"])
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


POLICE_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                 "LSOA code,LSOA name,Crime type,Last outcome category,Context\n")


def _police_text(n: int) -> str:
    return POLICE_HEADER + "".join(
        f"c{i},2019-09,Lancashire,Lancashire,-2.70,53.76,On or near X,E01,Preston 001A,"
        "Robbery,,\n" for i in range(n))


@pytest.mark.parametrize("case", ["cut-short", "cut-between-parts", "over-limit"])
def test_broken_gzip_fails_names_the_file_and_stores_nothing(tmp_path, case):
    import gzip

    data = tmp_path / "d"
    good = tmp_path / "good.csv"
    good.write_text(_police_text(3))
    run("ingest", "--data-dir", str(data), str(good), check=True)
    before = Store(data / "store").manifest().to_json()
    text = _police_text(30_000).encode()
    packed = gzip.compress(text)
    bad = tmp_path / "street.csv.gz"
    if case == "cut-short":
        bad.write_bytes(packed[: len(packed) // 2])
    elif case == "cut-between-parts":  # a multi-part gzip copied up to the end of a part
        bad.write_bytes(gzip.compress(text[: len(text) // 2]))
    else:
        bad.write_bytes(packed)
    env = {"HOTSPOT_MAX_INGEST_DECOMPRESSED_MB": "1"} if case == "over-limit" else None
    proc = run("ingest", "--data-dir", str(data), "--json", str(bad), env=env)
    assert proc.returncode != 0
    assert str(bad) in proc.stderr and "Traceback" not in proc.stderr
    assert ("more than 1 MB" if case == "over-limit" else "cut short") in proc.stderr
    assert Store(data / "store").manifest().to_json() == before


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
    assert (summary["accepted"], summary["duplicates"], summary["conflicts"],
            summary["rejected"]) == (1, 1, 0, 3)
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
    assert (total["accepted"] + total["duplicates"] + total["conflicts"] + total["rejected"]
            == total["read"])
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
    # the forecast backtest on these four months: a 3-month look-back leaves one cutoff
    proc = run("backtest", "--data-dir", data, "--categories", "Violence and sexual offences",
               "--lookback-months", "3", "--json", check=True)
    bt = json.loads(proc.stdout)
    assert [c["cutoff"] for c in bt["cutoffs"]] == ["2019-12"] and bt["skipped"] == []
    assert set(bt["summary"]) == {"forecast", "count_12m", "count_last", "kde", "oracle"}
    oracle = bt["summary"]["oracle"]["0.01"]
    assert oracle["share_of_ceiling"] == 1.0
    assert all(0 < v["0.01"]["hit_rate"] <= oracle["hit_rate"]
               for v in bt["summary"].values())
    assert bt["cutoffs"][0]["forecast_half_life"]["validated_months"] == 0  # too short
    # a cutoff before the look-back can start is listed, not silently dropped
    bt = json.loads(run("backtest", "--data-dir", data, "--lookback-months", "3",
                        "--from", "2019-11", "--json", check=True).stdout)
    assert bt["skipped"][0]["cutoff"] == "2019-11"
    assert "before the data start" in bt["skipped"][0]["reason"]
    text = run("backtest", "--data-dir", data, "--lookback-months", "3", check=True).stdout
    assert "did best over 1 cutoff" in text and "count_12m" in text
    bad = run("backtest", "--data-dir", data, "--from", "December")
    assert bad.returncode == 3 and "--from" in bad.stderr and "YYYY-MM" in bad.stderr
    days = run("backtest", "--data-dir", data, "--lookback-months", "3", "--days", "fri")
    assert days.returncode == 3 and "only the month" in days.stderr
    short = run("backtest", "--data-dir", data)  # 12 months of look-back in 4 months
    assert short.returncode == 3 and "too short" in short.stderr


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
        if list((data / "store" / "_staging").rglob("*.parquet")):
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
    # the staged files never entered the dataset folder that other tools read
    assert _dataset_ids(data / "store") == {"police:K1"}
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
    # 50,209 police, 8,844 ED (330 planted, 16 rejected), 1,261 ambulance records
    assert "Re-assigned 60,314" in proc.stdout
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


def _two_wards(folder: Path) -> Path:
    """Liverpool cut in two, shaped like an ONS ward file (WD23CD, WD23NM), in BNG."""
    import geopandas as gpd
    import shapely

    path = folder / "wards.gpkg"
    gpd.GeoDataFrame(
        {"WD23CD": ["E05000101", "E05000102"], "WD23NM": ["West", "East"], "POP": [9000, 7000]},
        geometry=[shapely.box(-3.0, 53.35, -2.95, 53.45), shapely.box(-2.95, 53.35, -2.9, 53.45)],
        crs="EPSG:4326",
    ).to_crs("EPSG:27700").to_file(path)
    return path


def test_a_ward_level_is_imported_listed_given_populations_and_removed(tmp_path):
    data = str(tmp_path / "d")
    run("boundaries", "import", str(_two_districts(tmp_path)), "--code-field", "LAD21CD",
        "--name-field", "LAD21NM", "--data-dir", data, check=True)
    wards = _two_wards(tmp_path)
    proc = run("boundaries", "import", str(wards), "--level", "ward", "--code-field", "WD23CD",
               "--name-field", "WD23NM", "--data-dir", data, check=True)
    assert "Imported 2 areas from" in proc.stdout and "as the 'ward' level" in proc.stdout
    assert "hotspot boundaries population FILE.csv --level ward" in proc.stdout
    assert (tmp_path / "d" / "boundaries" / "levels" / "ward" / "areas.geojson").is_file()
    # the authorities are untouched
    assert "E08000012  Liverpool" in run("boundaries", "--data-dir", data, check=True).stdout

    (tmp_path / "wards.csv").write_text("code,population,year\nE05000101,9100,2022\n"
                                        "E05000102,7300,2022\n")
    proc = run("boundaries", "population", str(tmp_path / "wards.csv"), "--level", "ward",
               "--data-dir", data, check=True)
    assert "2 population(s) imported (populations: 2022, imported from wards.csv)" in proc.stdout
    listed = run("boundaries", "show", "--level", "ward", "--data-dir", data, check=True).stdout
    assert "Boundary levels:" in listed
    assert "  ward       2 areas, 2 with a population; imported from wards.gpkg on " in listed
    assert "  authority  2 areas, 0 with a population; imported from " in listed
    assert "2 areas in the 'ward' level" in listed and "E05000101  West  (9,100)" in listed

    proc = run("boundaries", "remove", "--level", "ward", "--data-dir", data, check=True)
    assert "Removed the 'ward' level" in proc.stdout
    listed = run("boundaries", "--data-dir", data, check=True).stdout
    assert "ward" not in listed.split("\n\n")[0]


def test_a_level_takes_its_populations_from_a_field_of_its_file(tmp_path):
    data = str(tmp_path / "d")
    proc = run("boundaries", "import", str(_two_wards(tmp_path)), "--level", "beat",
               "--code-field", "WD23CD", "--name-field", "WD23NM", "--population-field", "POP",
               "--data-dir", data, check=True)
    assert "no populations" not in proc.stdout
    listed = run("boundaries", "show", "--level", "beat", "--data-dir", data, check=True).stdout
    assert "E05000101  West  (9,000)" in listed
    assert "from the boundary file's field 'POP'" in listed


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["import", "{w}", "--level", "police beat", "--code-field", "WD23CD", "--name-field",
       "WD23NM"], "'police beat' cannot name a level: use lower-case letters"),
     (["import", "{w}", "--level", "h3", "--code-field", "WD23CD", "--name-field", "WD23NM"],
      "'h3' cannot name a level"),
     (["import", "{w}", "--level", "ward", "--code-field", "WD22CD", "--name-field", "WD23NM"],
      "has no field 'WD22CD'. Its fields are: WD23CD, WD23NM, POP"),
     (["population", "{w}", "--level", "beat"], "There is no 'beat' level: the levels are "
      "authority. Import its boundaries first"),
     (["remove", "--level", "beat"], "There is no 'beat' level"),
     (["remove", "--level", "authority"], "The authority level cannot be removed"),
     (["show", "--level", "ward"], "There is no 'ward' level")],
    ids=["name-with-space", "reserved-name", "wrong-field", "population-of-no-level",
         "remove-no-level", "remove-authority", "show-no-level"],
)
def test_level_mistakes_get_one_clear_message(tmp_path, argv, message):
    wards = _two_wards(tmp_path)
    data = tmp_path / "d"
    proc = run("boundaries", *[a.format(w=wards) for a in argv], "--data-dir", str(data))
    assert proc.returncode == 3, proc.stdout
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert not (data / "boundaries" / "levels").exists() or not any(
        (data / "boundaries" / "levels").iterdir())


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


# --------------------------------------------------------------------------------------------
# Crash safety: kill -9 at every step of a write
# --------------------------------------------------------------------------------------------

#: Runs one store write in a fresh process (lighter than the whole CLI, same code path).
_WRITER = """
import sys
import pyarrow as pa, pyarrow.parquet as pq
from geo.schema import STORED_SCHEMA, empty_rejects
from geo.store import Store
op, root, src = sys.argv[1:4]
store = Store(root)
if op == "relabel":
    def relabel(t):
        i = t.schema.get_field_index("la_code")
        return t.set_column(i, STORED_SCHEMA.field("la_code"), pa.array(["E99"] * t.num_rows))
    store.rewrite(relabel)
elif op == "compact":
    store.compact()
else:
    store.commit(pq.read_table(src), source_file=src, rejects=empty_rejects(), summary={},
                 kind="user")
"""


def _rows(prefix: str, n: int) -> pa.Table:
    # two years, so every batch is two files and a kill can fall between them
    table = stored_table([353_750.0] * n, [429_410.0] * n,
                         [f"20{23 + i % 2}-06-0{1 + i % 7} 23:15" for i in range(n)])
    return table.set_column(0, "incident_id", pa.array([f"{prefix}{i}" for i in range(n)]))


def _dataset_ids(root: Path) -> set[str]:
    if not (root / "incidents").exists():
        return set()
    dataset = ds.dataset(root / "incidents", format="parquet", partitioning="hive")
    return set(dataset.to_table(columns=["incident_id"]).column(0).to_pylist())


def _assert_nothing_unlisted(root: Path) -> Store:
    store = Store(root)
    manifest = store.manifest()
    on_disk = {p.relative_to(root).as_posix() for p in (root / "incidents").rglob("*")
               if p.is_file()}
    assert on_disk <= set(manifest.files), f"unlisted: {on_disk - set(manifest.files)}"
    return store


@pytest.mark.parametrize("op", ["ingest", "swap", "relabel", "compact"])
@pytest.mark.parametrize("point", FAULT_POINTS)
def test_kill_at_every_step_never_shows_unlisted_rows(tmp_path, op, point):
    root = tmp_path / "store"
    store = Store(root)
    old = _rows("OLD", 6)
    store.commit(old, source_file="old", rejects=empty_rejects(), summary={},
                 kind="sample" if op == "swap" else "user")
    before = {f"OLD{i}" for i in range(6)}
    if op == "compact":  # a second batch: each year then has two small files to merge
        store.commit(_rows("MID", 4), source_file="mid", rejects=empty_rejects(), summary={},
                     kind="user")
        before |= {f"MID{i}" for i in range(4)}
        files_before = len(store.manifest().files)
    src = tmp_path / "new.parquet"
    pq.write_table(_rows("NEW", 5), src)
    new = {f"NEW{i}" for i in range(5)}
    after = {"ingest": before | new, "swap": new, "relabel": before, "compact": before}[op]
    proc = subprocess.run([sys.executable, "-c", _WRITER, op, str(root), str(src)],
                          env={**os.environ, "HOTSPOT_FAULT_KILL_AT": point}, timeout=300,
                          capture_output=True, text=True)
    reachable = not (op == "ingest" and point == "retiring")  # an ingest drops no files
    assert proc.returncode == (-signal.SIGKILL if reachable else 0), proc.stderr
    committed = FAULT_POINTS.index(point) >= FAULT_POINTS.index("committed") or not reachable

    # straight after the kill: tools reading incidents/ see only rows the manifest lists
    store = _assert_nothing_unlisted(root)
    listed, table = store.read(columns=["incident_id", "la_code"])
    ids = set(table.column(0).to_pylist())
    assert _dataset_ids(root) <= ids
    # the store reads whole: the old state before the commit, the new state from it on
    assert table.num_rows == listed.rows
    assert ids == (after if committed else before)
    assert set(table.column(1).to_pylist()) == (
        {"E99"} if op == "relabel" and committed else {"E07000123"})
    if op == "compact":  # the store as it was, or compacted: never both or neither
        assert len(listed.files) == (2 if committed else files_before) and files_before == 4
    # that read found no writer alive and finished the moves: the folder now shows everything
    assert _dataset_ids(root) == ids
    _assert_nothing_unlisted(root)

    # and the next write goes through normally
    store.commit(_rows("NEXT", 2), source_file="next", rejects=empty_rejects(), summary={},
                 kind="user")
    _assert_nothing_unlisted(root)
    assert _dataset_ids(root) == set(store.read(columns=["incident_id"])[1].column(0)
                                     .to_pylist())
    assert not (root / "_staging").exists()


_CHURN = """
import sys
import pyarrow as pa, pyarrow.parquet as pq
from geo.schema import STORED_SCHEMA, empty_rejects
from geo.store import Store
root, src, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
store = Store(root)
for i in range(rounds):
    def relabel(t, code=f"E{i:02d}"):
        at = t.schema.get_field_index("la_code")
        return t.set_column(at, STORED_SCHEMA.field("la_code"), pa.array([code] * t.num_rows))
    store.rewrite(relabel)
    table = pq.read_table(src)
    ids = pa.array([f"R{i}-{k}" for k in range(table.num_rows)])
    store.commit(table.set_column(0, "incident_id", ids), source_file=src,
                 rejects=empty_rejects(), summary={}, kind="user")
"""


def test_readers_racing_commits_and_relabels_always_see_one_whole_version(tmp_path):
    root = tmp_path / "store"
    store = Store(root)
    store.commit(_rows("OLD", 6), source_file="old", rejects=empty_rejects(), summary={},
                 kind="user")
    src = tmp_path / "new.parquet"
    pq.write_table(_rows("NEW", 3), src)
    reads = 0
    with subprocess.Popen([sys.executable, "-c", _CHURN, str(root), str(src), "12"],
                          stderr=subprocess.PIPE, text=True) as writer:
        while writer.poll() is None or reads == 0:
            manifest, table = store.read(columns=["incident_id", "la_code"])
            # one version, whole: the rows its manifest promises, no row twice
            assert table.num_rows == manifest.rows
            assert len(set(table.column(0).to_pylist())) == table.num_rows
            reads += 1
        assert writer.wait() == 0, writer.stderr.read() if writer.stderr else ""
    final, table = store.read(columns=["incident_id"])
    assert final.rows == 6 + 12 * 3 == table.num_rows
    assert _dataset_ids(root) == set(table.column(0).to_pylist())
    assert reads > 1


@needs_shared
def test_real_crime_id_republished_in_a_later_month_is_a_conflict(tmp_path):
    # police.uk lists a few Leicestershire Crime IDs again in a later month's file; the second
    # is not "already in the store" but a different record under the same id
    data = str(tmp_path / "d")
    run("boundaries", "import", str(LAD_FILE), "--code-field", "LAD21CD", "--name-field",
        "LAD21NM", "--data-dir", data, check=True)
    months = [next((SHARED_DATA / "police_uk_leicestershire" / m).glob("*.csv.gz"))
              for m in ("2021-01", "2021-02")]
    total = json.loads(run("ingest", "--data-dir", data, "--json", *map(str, months),
                           check=True).stdout)
    assert (total["accepted"] + total["duplicates"] + total["conflicts"] + total["rejected"]
            == total["read"])
    assert (total["duplicates"], total["conflicts"]) == (0, 1)
    assert total["conflicts_by_reason"] == {"id conflict with the store": 1}
    rejects = Path(total["files"][1]["rejects_file"]).read_text()
    assert ("id 'a204e309bc4c58abe3be09c9db4885faee9289d1d71cde77b6855f37a752b3d5' is already "
            "stored (from 2021-01-leicestershire-street.csv.gz) with a different month "
            "('2021-02' here, '2021-01' stored)") in rejects


def test_compact_merges_the_small_files_and_says_so(tmp_path):
    root = tmp_path / "data" / "store"
    store = Store(root)
    for k in range(3):
        store.commit(_rows(f"K{k}-", 4), source_file=f"k{k}", rejects=empty_rejects(),
                     summary={}, kind="user")
    assert len(store.manifest().files) == 6  # three batches, two years each
    done = run("compact", "--data-dir", str(tmp_path / "data"), check=True)
    assert "Compacted 6 files (12 incidents) into 2" in done.stdout
    assert "the store now has 2 files (was 6)" in done.stdout
    # written by Store(root) without the site's secret: the keys are added now
    assert "6 of them were written before record keys and now have them" in done.stdout
    assert store.read()[1].num_rows == 12 and store.unkeyed_files() == []
    assert "Built the query index of 12 incidents in 2 files" in done.stdout
    again = run("compact", "--data-dir", str(tmp_path / "data"), check=True)
    assert again.stdout.startswith("Nothing to compact: 2 files")
    assert "The query index already holds all 2 files (12 incidents)." in again.stdout


def test_an_empty_store_is_neither_compacted_nor_indexed_and_compact_still_succeeds(tmp_path):
    data = str(tmp_path / "data")
    done = run("compact", "--data-dir", data, check=True)
    assert done.stdout.startswith("Nothing to compact: 0 files") and not done.stderr
    assert not (tmp_path / "data" / "store" / "index").exists()
    refused = run("index", "--data-dir", data)
    assert refused.returncode == 3
    assert ("No query index was built: the store holds no incidents yet: there is nothing "
            "to index.") in refused.stderr


def test_engine_bench_reports_each_engines_figures_and_they_agree(tmp_path):
    data = tmp_path / "bench"
    got = {}
    for engine in ("numpy", "duckdb"):
        done = run("bench", "--engine", engine, "--n", "3000", "--repeats", "3",
                   "--data-dir", str(data), "--json", check=True)
        got[engine] = json.loads(done.stdout)
    for figures in got.values():
        assert figures["rows"] >= 3000 and figures["queries"] == 3
        assert 0 < figures["median_ms"] <= figures["max_ms"]
        assert figures["new_batch_visible_s"] >= figures["new_batch_commit_s"] > 0
        assert "SYNTHETIC" in figures["what"]
    assert got["numpy"]["answers_sha256"] == got["duckdb"]["answers_sha256"]
    assert got["numpy"]["selected_last"] > 0
    # the same filter changes through the Explorer's endpoint, served on each engine: the
    # page gets the same answers to the byte
    for figures in got.values():
        assert figures["endpoint_filter_change_ms_median"] > 0
        assert figures["endpoint_filter_change_bytes"] > 0
        assert figures["endpoint_server_peak_rss_mb"] > 0
    assert got["numpy"]["endpoint_answers_sha256"] == got["duckdb"]["endpoint_answers_sha256"]
    # the timed batch went into a copy: the generated store is as it was, for the next run
    assert Store(data / "store").manifest().rows == got["duckdb"]["rows"]
    assert not (data / "bench-visible-copy").exists()


def test_engine_bench_with_an_unreachable_scheduler_says_so_plainly(tmp_path):
    done = run("bench", "--engine", "dask", "--scheduler", "tcp://127.0.0.1:9", "--n", "500",
               "--repeats", "1", "--data-dir", str(tmp_path / "b"),
               env={"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"})
    assert done.returncode != 0
    assert "could not reach the Dask scheduler at tcp://127.0.0.1:9" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize("flag", ["--n", "--workers", "--repeats"])
def test_engine_bench_refuses_counts_below_one_plainly(tmp_path, flag):
    done = run("bench", "--engine", "dask", flag, "0", "--data-dir", str(tmp_path / "b"))
    assert done.returncode != 0 and f"{flag} must be 1 or more (it is 0)" in done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "b").exists()
