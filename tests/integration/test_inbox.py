"""The inbox: files dropped in are ingested once, whole, and moved with their report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from geo.inbox import inbox_dir, process_inbox, ready_files
from geo.settings import DataPaths
from geo.store import Store

HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,LSOA code,"
          "LSOA name,Crime type,Last outcome category,Context\n")


def police_file(path: Path, n: int, prefix: str = "c") -> Path:
    """A police.uk street-level file of ``n`` incidents round Preston, set to look settled."""
    rows = [f"{prefix}{i:06d},2024-0{1 + i % 6},Lancashire Constabulary,Lancashire "
            f"Constabulary,{-2.70 + (i % 50) * 0.001:.4f},{53.76 + (i % 40) * 0.001:.4f},"
            "On or near Fishergate,E01025000,Preston 013A,Violence and sexual offences,,\n"
            for i in range(n)]
    path.write_text(HEADER + "".join(rows))
    old = time.time() - 60
    os.utime(path, (old, old))
    return path


def stored_ids(data: DataPaths) -> list[str]:
    if not Store(data.store).manifest().batches:
        return []
    return Store(data.store).read(columns=["incident_id"])[1].column(0).to_pylist()


def test_a_dropped_file_is_ingested_and_moved_with_its_report(tmp_path):
    data = DataPaths(tmp_path)
    police_file(inbox_dir(data) / "2024-06-lancashire-street.csv", 40)
    (result,) = process_inbox(data)
    assert result.outcome == "processed" and result.summary.accepted == 40
    assert not (data.inbox / "2024-06-lancashire-street.csv").exists()
    assert result.moved_to.parent == data.inbox / "processed" and result.moved_to.exists()
    report = json.loads(result.moved_to.with_name(result.moved_to.name + ".report.json")
                        .read_text())
    assert report["outcome"] == "processed" and report["summary"]["accepted"] == 40
    assert "accepted (new):" in result.report.read_text()
    assert len(stored_ids(data)) == 40


def test_the_same_file_dropped_twice_adds_nothing(tmp_path):
    data = DataPaths(tmp_path)
    police_file(inbox_dir(data) / "a.csv", 25)
    process_inbox(data)
    police_file(data.inbox / "a.csv", 25)
    (again,) = process_inbox(data)
    assert (again.summary.accepted, again.summary.duplicates) == (0, 25)
    assert len(stored_ids(data)) == 25


def test_a_feed_of_many_small_files_is_compacted_as_it_goes(tmp_path, monkeypatch):
    import geo.inbox

    monkeypatch.setattr(geo.inbox, "COMPACT_AFTER_FILES", 4)
    data = DataPaths(tmp_path)
    for k in range(6):  # six nightly drops, one small file each
        police_file(inbox_dir(data) / f"night-{k}.csv", 10, prefix=f"n{k}-")
        (result,) = process_inbox(data)
        assert result.outcome == "processed"
        assert len(Store(data.store).manifest().files) <= 4
    manifest = Store(data.store).manifest()
    assert manifest.compacted and len(manifest.batches) == 6
    assert sorted(stored_ids(data)) == sorted(f"n{k}-{i:06d}" for k in range(6)
                                              for i in range(10))


def test_a_feed_keeps_the_query_index_fresh_in_the_background(tmp_path):
    """A store served from its query index: a batch that leaves a large share of the store
    outside it has it built again by a process of its own; one that does not, does not."""
    from geo import queryindex

    queryindex._rebuilding.clear()  # another test's build, finished
    data = DataPaths(tmp_path)
    police_file(inbox_dir(data) / "first.csv", 200, prefix="a")
    process_inbox(data)
    store = Store(data.store)
    built = queryindex.build(store)
    police_file(data.inbox / "small.csv", 10, prefix="b")  # 10 of 210: under a tenth
    process_inbox(data)
    assert queryindex.current(store).path == built.path and not queryindex._rebuilding
    police_file(data.inbox / "large.csv", 100, prefix="c")  # 100 of 310: over a tenth
    process_inbox(data)
    (proc,) = queryindex._rebuilding
    assert proc.wait(timeout=120) == 0
    rebuilt = queryindex.current(store)
    assert rebuilt is not None and rebuilt.path != built.path and rebuilt.rows == 310
    assert set(rebuilt.files) == set(store.manifest().files)


def test_files_still_being_written_are_left_alone(tmp_path):
    data = DataPaths(tmp_path)
    folder = inbox_dir(data)
    police_file(folder / "b.csv.part", 5)
    (folder / "fresh.csv").write_text(HEADER)  # modified just now
    police_file(folder / ".hidden.csv", 5)
    assert process_inbox(data) == []
    assert {p.name for p in folder.iterdir() if p.is_file()} >= {"b.csv.part", "fresh.csv"}
    assert ready_files(folder, now=time.time() + 60)[0].name == "fresh.csv"


def test_a_file_that_is_not_incidents_goes_to_failed_with_the_reason(tmp_path):
    data = DataPaths(tmp_path)
    junk = inbox_dir(data) / "notes.csv"
    junk.write_bytes(b"\x00\x01\x02 not a table at all")
    old = time.time() - 60
    os.utime(junk, (old, old))
    (result,) = process_inbox(data)
    assert result.outcome == "failed" and result.moved_to.parent == data.inbox / "failed"
    assert result.error and "not ingested" in result.report.read_text()
    assert stored_ids(data) == []


def test_only_one_process_works_the_inbox(tmp_path):
    import fcntl

    data = DataPaths(tmp_path)
    police_file(inbox_dir(data) / "a.csv", 5)
    fd = os.open(data.inbox / ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert process_inbox(data) == []
    finally:
        os.close(fd)
    assert process_inbox(data)[0].outcome == "processed"


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    calls = {"n": 0}
    real = os.replace
    def dying_replace(a, b, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGKILL)
        return real(a, b, *args, **kwargs)
    os.replace = dying_replace
    from geo.inbox import process_inbox
    from geo.settings import DataPaths
    process_inbox(DataPaths(Path(sys.argv[1])))
    print("finished", calls["n"])
""")


@pytest.mark.slow
def test_a_kill_at_any_step_leaves_nothing_half_ingested(tmp_path):
    """Killed at each file replacement of an ingest in turn (SIGKILL: no clean-up runs), the
    store holds the whole batch or none of it, and the next pass finishes the job exactly."""
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": str(root)}
    step, finished, kills = 1, False, []
    while not finished:
        data = DataPaths(tmp_path / f"kill-{step}")
        police_file(inbox_dir(data) / "feed.csv", 60)
        done = subprocess.run([sys.executable, "-c", KILLER, str(data.root), str(step)],
                              capture_output=True, text=True, env=env, timeout=300)
        finished = done.returncode == 0 and "finished" in done.stdout
        if not finished:
            assert done.returncode == -9, done.stderr  # killed where we said
            assert len(stored_ids(data)) in (0, 60), step  # never a part of the batch
            retried = process_inbox(data)  # the next pass finishes the job
            assert [r.outcome for r in retried] == ["processed"], step
            kills.append(step)
        assert len(stored_ids(data)) == 60, step
        assert len(set(stored_ids(data))) == 60, step
        assert not (data.inbox / "feed.csv").exists()
        step += 1
        assert step < 30, "the ingest should finish within 30 file replacements"
    assert len(kills) >= 3, kills  # killed at several steps before one ran to the end
