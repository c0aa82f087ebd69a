"""The police.uk archive layout: a folder per month, every force's file read in parallel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from geo import queryindex
from geo.archive import ingest_archive
from geo.settings import DataPaths
from geo.store import Store

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "police_uk_leicestershire"
HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context\n")


def street_file(path: Path, month: str, force: str, ids: list[str],
                crime: str = "Violence and sexual offences", start: int = 0) -> None:
    """A police.uk street-level file round Preston, one row per id ("" = no Crime ID)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [f"{i},{month},{force},{force},{-2.70 + k * 0.001:.4f},{53.76 + k * 0.0005:.4f},"
            f"On or near Fishergate,E01025000,Preston 013A,{crime},,\n"
            for k, i in enumerate(ids, start)]
    path.write_text(HEADER + "".join(rows))


@pytest.fixture
def archive(tmp_path) -> Path:
    root = tmp_path / "archive"
    for month in ("2024-05", "2024-06"):
        for force in ("lancashire", "merseyside", "cumbria"):
            ids = [f"{month}-{force}-{i:03d}" for i in range(20)]
            street_file(root / month / f"{month}-{force}-street.csv", month, force, ids)
        (root / month / f"{month}-lancashire-outcomes.csv").write_text("Crime ID,Month\n")
    # one June row sent by two forces, the same; one May row sent twice, changed
    street_file(root / "2024-06" / "2024-06-btp-street.csv", "2024-06", "lancashire",
                ["2024-06-lancashire-003"], start=3)
    street_file(root / "2024-05" / "2024-05-btp-street.csv", "2024-05", "btp",
                ["2024-05-cumbria-007", ""], crime="Robbery")
    # and a row with no coordinates, rejected with its reason
    with open(root / "2024-05" / "2024-05-cumbria-street.csv", "a") as fh:
        fh.write("nowhere-1,2024-05,cumbria,cumbria,,,No location,,,Robbery,,\n")
    return root


def test_every_row_of_every_file_is_accounted_for_a_batch_a_month(archive, tmp_path):
    data = DataPaths(tmp_path / "data")
    done = ingest_archive(archive, data, workers=2)
    assert done.files == 8 and len(done.skipped) == 2 and not done.failed
    may, june = done.months
    for month in done.months:
        assert month.read == (month.accepted + month.duplicates + month.conflicts
                              + month.rejected)
    # May: 60 + 2 (btp) + 1 unplaceable; the btp copy of cumbria-007 differs (a conflict)
    assert (may.read, may.accepted, may.conflicts, may.rejected) == (63, 61, 1, 1)
    # June: 60 + the same row sent again by another file (a duplicate)
    assert (june.read, june.accepted, june.duplicates) == (61, 60, 1)
    manifest = Store(data.store).manifest()
    assert [b.source_file for b in manifest.batches] == ["archive/2024-05", "archive/2024-06"]
    assert manifest.rows == 121
    rejects = pd.read_csv(Path(may.rejects_file))
    by_file: dict[str, str] = {}
    for file, reason in zip(rejects["file"], rejects["reason"], strict=True):
        by_file[file] = by_file.get(file, "") + reason + "\n"
    assert "no coordinates" in by_file["2024-05/2024-05-cumbria-street.csv"]
    # files are read in name order: btp's row came first, so cumbria's is the one refused,
    # and its reason names where the other is
    conflict = by_file["2024-05/2024-05-cumbria-street.csv"]
    assert "2024-05-cumbria-007" in conflict and "2024-05/2024-05-btp-street.csv line 2" in conflict
    # sent again: every row is already stored
    again = ingest_archive(archive, data, workers=1)
    assert sum(m.accepted for m in again.months) == 0
    assert sum(m.duplicates + m.conflicts for m in again.months) == 124 - 1  # 1 unplaceable
    assert Store(data.store).manifest().rows == 121


def test_the_cli_takes_an_archive_folder(archive, tmp_path):
    out = subprocess.run([HOTSPOT, "ingest", str(archive), "--data-dir", str(tmp_path / "d"),
                          "--workers", "2", "--json"], capture_output=True, text=True,
                         timeout=300, env=os.environ)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert (got["files"], got["read"], got["accepted"]) == (8, 124, 121)
    assert got["rows_per_second"] > 0 and len(got["months"]) == 2
    text = subprocess.run([HOTSPOT, "ingest", str(archive / "2024-05"), "--data-dir",
                           str(tmp_path / "e")], capture_output=True, text=True, timeout=300)
    assert text.returncode == 0 and "4 street-level files, 63 rows" in text.stdout
    assert "other files skipped (outcomes, stop and search: not incidents)" in text.stdout
    assert "query index" not in text.stdout  # 61 incidents: the server holds them in memory


def test_a_store_the_server_will_count_with_duckdb_is_indexed_after_its_archive(archive,
                                                                                tmp_path):
    small_limit = {**os.environ, "HOTSPOT_IN_MEMORY_MAX_ROWS": "100"}
    out = subprocess.run([HOTSPOT, "ingest", str(archive), "--data-dir", str(tmp_path / "d"),
                          "--json"], capture_output=True, text=True, timeout=300,
                         env=small_limit)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["accepted"] == 121  # standard output is the JSON alone
    assert "Built the query index of 121 incidents" in out.stderr
    store = Store.of(DataPaths(tmp_path / "d"))
    index = queryindex.current(store)
    assert index is not None and set(index.files) == set(store.manifest().files)
    text = subprocess.run([HOTSPOT, "ingest", str(archive), "--data-dir", str(tmp_path / "e")],
                          capture_output=True, text=True, timeout=300, env=small_limit)
    assert ("The store now holds 121 incidents, more than 100 (HOTSPOT_IN_MEMORY_MAX_ROWS): "
            "the server will count them with DuckDB, so its query index is built now."
            ) in text.stdout


def test_a_folder_with_no_street_files_is_refused_plainly(tmp_path):
    (tmp_path / "empty").mkdir()
    out = subprocess.run([HOTSPOT, "ingest", str(tmp_path / "empty"), "--data-dir",
                          str(tmp_path / "d")], capture_output=True, text=True, timeout=300)
    assert out.returncode != 0 and "holds no police.uk street-level files" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/data is not here")
def test_the_real_leicestershire_months_ingest_as_one_file_at_a_time_does(tmp_path):
    """The archive path stores exactly the rows `hotspot ingest FILE...` stores."""
    import shutil

    one, many = DataPaths(tmp_path / "one"), DataPaths(tmp_path / "many")
    lad = SHARED.parent / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"
    subprocess.run([HOTSPOT, "boundaries", "import", str(lad), "--code-field", "LAD21CD",
                    "--name-field", "LAD21NM", "--data-dir", str(one.root)], check=True,
                   capture_output=True, timeout=600)
    shutil.copytree(one.boundaries, many.boundaries)
    files = sorted(SHARED.glob("*/*-street.csv.gz"))[:4]
    for f in files:
        (tmp_path / "arch" / f.parent.name).mkdir(parents=True)
        os.symlink(f, tmp_path / "arch" / f.parent.name / f.name)
    subprocess.run([HOTSPOT, "ingest", "--data-dir", str(one.root), *map(str, files)],
                   check=True, capture_output=True, timeout=600)
    ingest_archive(tmp_path / "arch", many, workers=2)
    cols = ["incident_id", "month", "category", "lon", "lat", "la_code", "h3_9"]
    a = Store(one.store).read(columns=cols)[1].sort_by("incident_id")
    b = Store(many.store).read(columns=cols)[1].sort_by("incident_id")
    assert a.num_rows > 20_000 and a.equals(b)


def test_only_a_few_months_are_read_ahead_of_the_commit(monkeypatch):
    """However slow the commits, the pool is given only the next months' files."""
    from concurrent.futures import Future

    import geo.archive

    submitted: list[str] = []

    class Pool:
        def submit(self, fn, path):
            submitted.append(path)
            done: Future = Future()
            done.set_result(path)
            return done

    months = {f"2024-{m:02d}": [Path(f"2024-{m:02d}/a-street.csv"),
                                Path(f"2024-{m:02d}/b-street.csv")] for m in range(1, 7)}
    monkeypatch.setattr(geo.archive, "READ_AHEAD_MONTHS", 2)
    seen = []
    for month, got in geo.archive._months_read_ahead(Pool(), months):
        seen.append(month)
        # the month in hand and the next two have been handed to the pool, no more
        assert len(submitted) == 2 * min(len(seen) + 2, 6)
        assert [p for p, _ in got] == months[month]
    assert seen == list(months) and len(submitted) == 12
