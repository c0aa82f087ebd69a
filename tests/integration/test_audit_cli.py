"""``hotspot audit`` end to end, as a data protection officer runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from dashboard.access.audit import AuditLog
from geo.settings import DataPaths

HOTSPOT = str(Path(sys.executable).with_name("hotspot"))

#: (time, action, who, role, via, ip, status, what) of the entries every test starts from.
ENTRIES = [
    (datetime(2026, 11, 30, 23, 0, tzinfo=UTC), "sign-in", "asmith", "analyst", "web",
     "10.0.0.7", 200, None),
    (datetime(2026, 12, 1, 9, 0, 1, 250000, tzinfo=UTC), "export", "bjones", "partner", "api",
     "10.0.0.9", 200, {"format": "csv", "rows": 412, "rowData": [{"id": "police:1"}]}),
    (datetime(2026, 12, 2, 10, 0, tzinfo=UTC), "page", "asmith", "analyst", "web", "10.0.0.7",
     200, {"page": "/explorer"}),
    (datetime(2026, 12, 2, 23, 59, 59, tzinfo=UTC), "denied", "cwilliams-long-name", None,
     "web", "192.168.100.200", 403, {"page": "/admin"}),
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HOTSPOT, *args], capture_output=True, text=True, timeout=120,
                          env=os.environ.copy())


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    times = iter(e[0] for e in ENTRIES)
    log = AuditLog(DataPaths(tmp_path).audit, clock=lambda: next(times))
    for _, action, who, role, via, ip, status, what in ENTRIES:
        log.record(action, who=who, role=role, via=via, ip=ip, status=status, what=what)
    return tmp_path


def _table(proc: subprocess.CompletedProcess[str]) -> list[str]:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.splitlines()


def test_table_lists_every_entry_aligned_oldest_first(data_dir):
    lines = _table(run("audit", "--data-dir", str(data_dir)))
    assert lines[0].split() == ["time", "(UTC)", "who", "role", "from", "action", "status",
                                "what"]
    assert len(lines) == 1 + len(ENTRIES)
    assert lines[1].startswith("2026-11-30 23:00:00  asmith")
    assert "10.0.0.9 (api)" in lines[2] and "format=csv, rows=412" in lines[2]
    assert "police:1" not in "\n".join(lines)  # the rows were never logged
    assert "rowData=<present: list of 1 items>" in lines[2]
    # every column starts at the same place on every line, the long name and address included
    for header in ("who", "role", "from", "action", "status", "what"):
        at = lines[0].index(header)
        for line in lines[1:]:
            if len(line) > at:
                assert line[at - 2:at] == "  " and line[at] != " ", (header, line)
            else:
                assert header == "what"  # an entry without details ends before the column
    assert [line.split()[6] for line in lines[1:]] == ["sign-in", "export", "page", "denied"]


def test_json_prints_the_lines_as_stored(data_dir):
    proc = run("audit", "--data-dir", str(data_dir), "--json")
    assert proc.returncode == 0, proc.stderr
    stored = [line for path in sorted(DataPaths(data_dir).audit.glob("audit-*.jsonl"))
              for line in path.read_text(encoding="utf-8").splitlines()]
    assert proc.stdout.splitlines() == stored
    assert [json.loads(line)["at"] for line in stored] == [
        "2026-11-30T23:00:00.000Z", "2026-12-01T09:00:01.250Z", "2026-12-02T10:00:00.000Z",
        "2026-12-02T23:59:59.000Z"]


@pytest.mark.parametrize(
    "options, whos",
    [(["--since", "2026-12-02"], ["asmith", "cwilliams-long-name"]),
     (["--since", "2026-12-01T09:00:02"], ["asmith", "cwilliams-long-name"]),
     (["--until", "2026-12-01"], ["asmith", "bjones"]),
     (["--user", "asmith"], ["asmith", "asmith"]),
     (["--user", "asmith", "--since", "2026-12-01"], ["asmith"]),
     (["--action", "denied"], ["cwilliams-long-name"])],
    ids=["since-date", "since-time", "until-whole-day", "user", "user-since", "action"],
)
def test_filters(data_dir, options, whos):
    proc = run("audit", "--data-dir", str(data_dir), "--json", *options)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["who"] for line in proc.stdout.splitlines()] == whos


def test_table_says_when_nothing_matches(data_dir):
    assert _table(run("audit", "--data-dir", str(data_dir), "--user", "nobody")) == [
        "No audit entries match."]


@pytest.mark.parametrize("options, message", [
    (["--since", "yesterday"], "--since 'yesterday' is not a date: write YYYY-MM-DD"),
    (["--until", "2026-02-30"], "--until '2026-02-30' is not a date"),
    (["--since", "2026-12-03", "--until", "2026-12-01"], "--since 2026-12-03 is after --until"),
], ids=["word", "no-such-day", "reversed"])
def test_bad_dates_get_a_plain_message_and_exit_2(data_dir, options, message):
    proc = run("audit", "--data-dir", str(data_dir), *options)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_empty_data_dir_has_no_log_yet(tmp_path):
    proc = run("audit", "--data-dir", str(tmp_path))
    assert proc.returncode == 0 and "There is no audit log" in proc.stdout
    assert not DataPaths(tmp_path).audit.exists()  # reading never creates the log


def test_damaged_line_is_shown_and_the_rest_listed(data_dir):
    first = sorted(DataPaths(data_dir).audit.glob("audit-2026-12-*.jsonl"))[0]
    with open(first, "ab") as fh:
        fh.write(b'{"at":"2026-12-03')  # a crash mid-write
    lines = _table(run("audit", "--data-dir", str(data_dir)))
    assert len(lines) == 1 + len(ENTRIES) + 1
    assert "damaged-line" in lines[-1] and f"{first.name} line 4" in lines[-1]


def test_help_lists_the_command_and_its_options():
    assert "audit" in run("--help").stdout
    text = run("audit", "--help").stdout
    for option in ("--data-dir", "--since", "--until", "--user", "--action", "--json"):
        assert option in text
