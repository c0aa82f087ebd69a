"""The audit log: nothing lost, nothing interleaved, nothing rewritten, no incident data."""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import shutil
import stat
import tempfile
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dashboard.access import audit
from dashboard.access.audit import MAX_ENTRY_BYTES, AuditError, AuditLog, sanitise


class FakeClock:
    """A clock that advances one millisecond a call from ``start``."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        self.now += timedelta(milliseconds=1)
        return self.now


def _lines(folder: Path) -> list[str]:
    return [line for path in sorted(folder.glob("audit-*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines()]


def _page(log: AuditLog, n: int, who: str = "asmith") -> None:
    log.record("page", who=who, role="analyst", via="web", ip="10.0.0.7", status=200,
               what={"page": "/explorer", "n": n})


# ---------------------------------------------------------------------------------------------
# Entries and the sanitiser


def test_entry_round_trips_with_every_field(tmp_path):
    log = AuditLog(tmp_path / "audit", clock=lambda: datetime(2026, 12, 2, 10, 13, 53, 123456,
                                                                tzinfo=UTC))
    log.record("export", who="asmith", role="analyst", via="web", ip="10.0.0.7", status=200,
               what={"format": "csv", "rows": 412, "areas": ["E07000123", "E07000117"]})
    assert list(log.read()) == [{
        "at": "2026-12-02T10:13:53.123Z", "action": "export", "who": "asmith",
        "role": "analyst", "via": "web", "ip": "10.0.0.7", "status": 200,
        "what": {"format": "csv", "rows": 412, "areas": ["E07000123", "E07000117"]},
    }]
    assert list((tmp_path / "audit").glob("*.jsonl")) == [
        tmp_path / "audit" / "audit-2026-12-001.jsonl"]


def test_sign_in_before_anyone_is_known_records_nulls(tmp_path):
    log = AuditLog(tmp_path / "audit")
    log.record("sign-in-failed", who=None, role=None, via="web", ip=None)
    (entry,) = log.read()
    assert (entry["who"], entry["role"], entry["ip"], entry["status"], entry["what"]) == (
        None, None, None, None, {})
    assert datetime.fromisoformat(entry["at"]).tzinfo is not None


@pytest.mark.parametrize("key", ["rowData", "figure", "clickData", "selectedData", "hoverData",
                                 "relayoutData", "data", "map.clickData"])
def test_data_bearing_props_are_logged_only_as_present(key):
    rows = [{"incident_id": f"police:{i}", "lat": 53.76, "lon": -2.70} for i in range(3)]
    out = sanitise({"page": "/explorer", key: rows})
    assert out == {"page": "/explorer", key: "<present: list of 3 items>"}
    assert "police:0" not in json.dumps(out)


def test_dash_input_shape_hides_the_value_of_a_data_prop():
    out = sanitise({"input": {"id": "map", "property": "selectedData",
                              "value": {"points": [{"customdata": "police:7"}]}}})
    assert out == {"input": {"id": "map", "property": "selectedData",
                             "value": "<present: object with 1 keys>"}}


def test_upload_contents_become_the_file_size():
    payload = "data:text/csv;base64," + "QUJD" * 41_152  # 123,456 bytes once decoded
    assert sanitise({"contents": payload}) == {"contents": "<file 123,456 bytes>"}
    assert sanitise({"upload.contents": [payload, "data:;base64,QUI="]}) == {
        "upload.contents": "<2 files, 123,458 bytes>"}


def test_sizes_are_capped():
    out = sanitise({
        "rows": list(range(10_000)),
        "features": [{"id": i} for i in range(10_000)],
        "text": "x" * 5_000,
        "deep": {"level2": {"level3": {"id": 1}}, "ok": 1},
        **{f"k{i}": i for i in range(100)},
    })
    assert out["rows"] == [*range(50), "<9,950 more>"]
    assert out["features"] == "<list of 10,000 items>"
    assert len(out["text"]) == 200 and out["text"].endswith("…")
    assert out["deep"] == {"level2": "<object with 1 keys>", "ok": 1}
    assert len(out) == 51 and out["<more keys>"] == 54


def test_values_that_are_not_json_never_print_their_contents():
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"incident_id": ["police:SECRET"]})
    out = sanitise({"frame": frame, "array": np.array([1, 2]), "raw": b"abc",
                    "nan": float("nan"), "day": date(2026, 1, 2), 3: "key",
                    "rows": np.int64(412), "share": np.float32(0.5), "ids": frame["incident_id"]})
    assert out == {"frame": "<DataFrame>", "array": "<ndarray>", "raw": "<3 bytes>",
                   "nan": "nan", "day": "2026-01-02", "3": "key", "rows": 412, "share": 0.5,
                   "ids": "<Series>"}
    json.dumps(out, allow_nan=False)


def test_huge_record_is_cut_to_the_entry_cap_and_marked(tmp_path):
    log = AuditLog(tmp_path / "audit")
    hostile = "\x00" * 10_000  # each character is six bytes of JSON
    what = {f"{i}{hostile}": {f"{j}{hostile}": hostile for j in range(60)} for i in range(60)}
    log.record("api", who=hostile, role=hostile, via=hostile, ip=hostile, what=what)
    (line,) = _lines(tmp_path / "audit")
    assert len(line.encode("utf-8")) <= MAX_ENTRY_BYTES
    entry = json.loads(line)
    assert entry["truncated"] is True and len(entry["who"]) == 200


def test_reserved_and_empty_actions_are_refused(tmp_path):
    log = AuditLog(tmp_path / "audit")
    for action in ("", "damaged-line"):
        with pytest.raises(ValueError):
            log.record(action, who="a", role="r", via="web", ip=None)


# ---------------------------------------------------------------------------------------------
# Concurrency: nothing lost, nothing interleaved


def test_threads_lose_and_interleave_nothing(tmp_path):
    log = AuditLog(tmp_path / "audit")
    big = "y" * 180  # long lines make a torn or interleaved write easy to see

    def work(t: int) -> None:
        for i in range(500):
            log.record("api", who=f"t{t}", role="analyst", via="api", ip="127.0.0.1",
                       status=200, what={"i": i, "pad": big})

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    entries = [json.loads(line) for line in _lines(tmp_path / "audit")]
    assert len(entries) == 8 * 500
    assert {(e["who"], e["what"]["i"]) for e in entries} == {
        (f"t{t}", i) for t in range(8) for i in range(500)}
    assert [e["at"] for e in entries] == sorted(e["at"] for e in entries)


def _write_from_process(folder: str, p: int, n: int, max_file_bytes: int, start) -> None:
    log = AuditLog(Path(folder), max_file_bytes=max_file_bytes)
    start.wait()  # all together, not one after another as they finish starting
    for i in range(n):
        action = "change" if i % 50 == 0 else "page"  # some durable, most not
        log.record(action, who=f"p{p}", role="admin", via="cli", ip=None, what={"i": i})


@pytest.mark.parametrize("max_file_bytes", [audit.MAX_FILE_BYTES, 4_096],
                         ids=["one-file", "rotating"])
def test_processes_lose_and_interleave_nothing(tmp_path, max_file_bytes):
    folder = tmp_path / "audit"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(3)
    procs = [ctx.Process(target=_write_from_process,
                         args=(str(folder), p, 300, max_file_bytes, start)) for p in range(3)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    assert [proc.exitcode for proc in procs] == [0, 0, 0]
    lines = _lines(folder)
    entries = [json.loads(line) for line in lines]  # every line whole and valid
    assert sorted((e["who"], e["what"]["i"]) for e in entries) == sorted(
        (f"p{p}", i) for p in range(3) for i in range(300))
    files = sorted(folder.glob("audit-*.jsonl"))
    assert (len(files) == 1) == (max_file_bytes == audit.MAX_FILE_BYTES)
    assert all(f.stat().st_size <= max_file_bytes for f in files)
    # each file was chosen under the lock: no two writers started the same or a skipped number
    assert [f.name for f in files] == [
        f"audit-{files[0].name[6:13]}-{k:03d}.jsonl" for k in range(1, len(files) + 1)]
    assert list(AuditLog(folder).read()) == entries


# ---------------------------------------------------------------------------------------------
# Files: rotation, months, damage, permissions


def test_rotation_keeps_every_entry_in_order(tmp_path):
    folder = tmp_path / "audit"
    log = AuditLog(folder, max_file_bytes=1_000, clock=FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
    for n in range(100):
        _page(log, n)
    files = sorted(folder.glob("audit-*.jsonl"))
    assert len(files) > 5
    assert all(0 < f.stat().st_size <= 1_000 for f in files)
    assert [e["what"]["n"] for e in log.read()] == list(range(100))


def test_sequence_numbers_order_past_999(tmp_path):
    folder = tmp_path / "audit"
    folder.mkdir()
    for seq, n in ((999, 1), (1000, 2)):  # 1000 sorts before 999 as text
        line = json.dumps({"at": f"2026-03-01T00:00:0{n}.000Z", "action": "page", "n": n})
        (folder / f"audit-2026-03-{seq:03d}.jsonl").write_text(line + "\n")
    assert [e["n"] for e in AuditLog(folder).read()] == [1, 2]


def test_new_month_starts_a_new_file(tmp_path):
    folder = tmp_path / "audit"
    clock = FakeClock(datetime(2026, 1, 31, 23, 59, 59, 997000, tzinfo=UTC))
    log = AuditLog(folder, clock=clock)
    for n in range(4):  # 23:59:59.998, .999, then 00:00:00.000 and .001 on 1 February
        _page(log, n)
    assert sorted(p.name for p in folder.glob("*.jsonl")) == [
        "audit-2026-01-001.jsonl", "audit-2026-02-001.jsonl"]
    assert len((folder / "audit-2026-01-001.jsonl").read_text().splitlines()) == 2
    assert [e["at"] for e in log.read()] == [
        "2026-01-31T23:59:59.998Z", "2026-01-31T23:59:59.999Z",
        "2026-02-01T00:00:00.000Z", "2026-02-01T00:00:00.001Z"]


def test_nothing_is_ever_rewritten(tmp_path):
    folder = tmp_path / "audit"
    log = AuditLog(folder, max_file_bytes=600, clock=FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
    _page(log, 0)
    first = folder / "audit-2026-03-001.jsonl"
    before = first.read_bytes()
    inode = first.stat().st_ino
    for n in range(1, 30):
        _page(log, n)
    assert first.read_bytes().startswith(before) and first.stat().st_ino == inode


def test_torn_last_line_is_reported_and_the_rest_read(tmp_path):
    folder = tmp_path / "audit"
    log = AuditLog(folder, clock=FakeClock(datetime(2026, 3, 1, tzinfo=UTC)))
    for n in range(3):
        _page(log, n)
    path = folder / "audit-2026-03-001.jsonl"
    with open(path, "ab") as fh:
        fh.write(b'{"at":"2026-03-01T00:00:01.000Z","action":"pa')  # a crash mid-write
    entries = list(log.read())
    assert [e.get("what", {}).get("n") for e in entries[:3]] == [0, 1, 2]
    assert entries[3] == {"action": "damaged-line", "file": path.name, "line": 4}
    # the next entry starts on a line of its own, so only the torn fragment is lost
    _page(log, 3)
    entries = list(log.read())
    assert [e["action"] for e in entries] == ["page"] * 3 + ["damaged-line", "page"]
    assert entries[-1]["what"]["n"] == 3
    (check,) = log.verify()
    assert (check.file, check.entries, check.damaged, check.out_of_order) == (
        path.name, 4, (4,), 0)


def test_damaged_lines_in_the_middle_do_not_stop_reading(tmp_path):
    folder = tmp_path / "audit"
    folder.mkdir()
    good = '{"at":"2026-03-01T00:00:00.000Z","action":"page","who":"a"}'
    (folder / "audit-2026-03-001.jsonl").write_bytes(
        f"{good}\nnot json\n[1,2]\n\xff\n{good}\n".encode("latin-1"))
    actions = [(e["action"], e.get("line")) for e in AuditLog(folder).read()]
    assert actions == [("page", None), ("damaged-line", 2), ("damaged-line", 3),
                       ("damaged-line", 4), ("page", None)]


def test_filters_by_time_user_and_action(tmp_path):
    folder = tmp_path / "audit"
    times = iter([datetime(2026, 1, 10, 12, tzinfo=UTC), datetime(2026, 2, 3, 9, tzinfo=UTC),
                  datetime(2026, 2, 3, 23, 59, tzinfo=UTC), datetime(2026, 3, 1, 0, 0, tzinfo=UTC)])
    log = AuditLog(folder, clock=lambda: next(times))
    log.record("sign-in", who="asmith", role="analyst", via="web", ip=None)
    log.record("export", who="bjones", role="analyst", via="web", ip=None)
    log.record("page", who="asmith", role="analyst", via="web", ip=None)
    log.record("export", who="asmith", role="analyst", via="web", ip=None)

    def pick(**kw):
        return [(e["who"], e["action"], e["at"][:10]) for e in log.read(**kw)]

    assert pick(since=date(2026, 2, 3), until=date(2026, 2, 3)) == [
        ("bjones", "export", "2026-02-03"), ("asmith", "page", "2026-02-03")]
    assert pick(since=datetime(2026, 2, 3, 10)) == [  # a naive datetime is UTC
        ("asmith", "page", "2026-02-03"), ("asmith", "export", "2026-03-01")]
    assert pick(user="asmith") == [("asmith", "sign-in", "2026-01-10"),
                                   ("asmith", "page", "2026-02-03"),
                                   ("asmith", "export", "2026-03-01")]
    assert pick(action="export", user="asmith") == [("asmith", "export", "2026-03-01")]
    assert pick(until=datetime(2026, 1, 31, 23, 59, tzinfo=UTC)) == [
        ("asmith", "sign-in", "2026-01-10")]


def test_months_outside_since_and_until_are_not_opened(tmp_path, monkeypatch):
    folder = tmp_path / "audit"
    folder.mkdir()
    for month in range(1, 6):
        (folder / f"audit-2026-{month:02d}-001.jsonl").write_text(
            f'{{"at":"2026-{month:02d}-15T00:00:00.000Z","action":"page"}}\n')
    opened = []

    def spy(path, *args, **kwargs):
        opened.append(Path(path).name)
        return open(path, *args, **kwargs)

    monkeypatch.setattr(audit, "open", spy, raising=False)
    log = AuditLog(folder)
    assert len(list(log.read(since=date(2026, 3, 1), until=date(2026, 4, 30)))) == 2
    assert opened == ["audit-2026-03-001.jsonl", "audit-2026-04-001.jsonl"]
    opened.clear()
    assert len(list(log.read(since=datetime(2026, 2, 28, 23, 59, tzinfo=UTC)))) == 3
    assert opened[0] == "audit-2026-02-001.jsonl" and len(opened) == 4


@pytest.mark.parametrize("action, syncs", [("export", 40), ("page", 1)], ids=["durable", "view"])
def test_durable_actions_sync_every_time_views_once_a_second(tmp_path, monkeypatch, action,
                                                            syncs):
    log = AuditLog(tmp_path / "audit")
    _page(log, 0)
    calls = []
    real = os.fsync
    monkeypatch.setattr(audit.os, "fsync", lambda fd: calls.append(fd) or real(fd))
    monkeypatch.setattr(audit.time, "monotonic", lambda: 1e9)  # all in the same instant
    for _ in range(40):
        log.record(action, who="a", role="r", via="web", ip=None)
    assert len(calls) == syncs


def test_files_are_private(tmp_path):
    old = os.umask(0o022)
    try:
        log = AuditLog(tmp_path / "data" / "audit")
        _page(log, 0)
    finally:
        os.umask(old)
    folder = tmp_path / "data" / "audit"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path.name


def test_folder_that_cannot_be_made_raises_audit_error(tmp_path):
    (tmp_path / "audit").write_text("a file where the folder should be")
    with pytest.raises(AuditError, match="cannot be written"):
        _page(AuditLog(tmp_path / "audit"), 0)


def test_full_disk_raises_audit_error(tmp_path, monkeypatch):
    log = AuditLog(tmp_path / "audit")
    _page(log, 0)

    def full(fd, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(audit.os, "write", full)
    with pytest.raises(AuditError, match="No space left"):
        _page(log, 1)


def test_short_write_raises_audit_error(tmp_path, monkeypatch):
    log = AuditLog(tmp_path / "audit")
    real_write = os.write
    monkeypatch.setattr(audit.os, "write", lambda fd, data: real_write(fd, data[:10]))
    with pytest.raises(AuditError):
        _page(log, 0)
    monkeypatch.undo()
    _page(log, 1)  # after the torn write the log goes on, the fragment on a line of its own
    assert [e["action"] for e in log.read()] == ["damaged-line", "page"]


def _record_as_nobody(folder: Path) -> int:
    """Record one entry in a forked child running as "nobody"; return its exit code."""
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 9
        try:
            os.setgid(65534)
            os.setuid(65534)
            _page(AuditLog(folder), 1)
            code = 0
        except AuditError as exc:
            code = 7 if "Permission denied" in str(exc) else 8
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def test_folder_without_write_permission_raises_audit_error(tmp_path):
    if os.geteuid() == 0:  # root writes anywhere: try as "nobody" instead
        base = Path(tempfile.mkdtemp())
        try:
            base.chmod(0o755)  # "nobody" may reach the folder but not write in it
            _page(AuditLog(base / "audit"), 0)
            assert _record_as_nobody(base / "audit") == 7
        finally:
            shutil.rmtree(base)
    else:
        folder = tmp_path / "audit"
        _page(AuditLog(folder), 0)
        folder.chmod(0o500)
        try:
            with pytest.raises(AuditError, match="Permission denied"):
                _page(AuditLog(folder), 1)
        finally:
            folder.chmod(0o700)
