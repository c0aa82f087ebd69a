"""``hotspot audit``: read the audit log as a table, or as the JSON lines it stores.

Only the standard library is imported here, so registering the command costs ``hotspot
--help`` nothing.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any

#: Rows read before the table's column widths are fixed; later, longer cells widen their row
#: only, so a year of entries is printed as it is read rather than held in memory.
_WIDTH_ROWS = 10_000
#: Longest summary of ``what`` shown on a row.
_WHAT_CHARS = 100
_HEADERS = ("time (UTC)", "who", "role", "from", "action", "status", "what")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``audit`` command to the ``hotspot`` command's subparsers.

    Parameters
    ----------
    sub : argparse._SubParsersAction
        What ``ArgumentParser.add_subparsers`` returned.
    """
    from dashboard.cli import _add_data_dir

    p = sub.add_parser(
        "audit", help="show who consulted and disclosed data (the audit log)",
        description="Show the audit log: every sign-in, page view, API call, export, upload "
        "and change, oldest first. Times are UTC. A line the log cannot read (torn by a crash) "
        "is shown as 'damaged-line' with its file and line number.")
    _add_data_dir(p)
    p.add_argument("--since", metavar="DATE",
                   help="entries on or after DATE (YYYY-MM-DD, or YYYY-MM-DDTHH:MM in UTC)")
    p.add_argument("--until", metavar="DATE",
                   help="entries on or before DATE (a date includes the whole day)")
    p.add_argument("--user", metavar="NAME", help="only this user's entries")
    p.add_argument("--action", metavar="ACTION",
                   help="only this action: sign-in, sign-in-failed, sign-out, page, api, "
                   "callback, export, upload, change, denied")
    p.add_argument("--json", action="store_true",
                   help="print the entries as stored, one JSON object a line")
    p.set_defaults(func=cmd_audit)


def cmd_audit(args: argparse.Namespace) -> int:
    """Print the audit entries that match the options."""
    from dashboard.access.audit import AuditLog, to_json_line
    from dashboard.cli import EXIT_OK, EXIT_USAGE, _data_paths, _fail

    try:
        since = parse_when(args.since, "--since")
        until = parse_when(args.until, "--until")
    except ValueError as exc:
        return _fail(str(exc), EXIT_USAGE)
    if since is not None and until is not None and _start(since) > _start(until):
        return _fail(f"--since {args.since} is after --until {args.until}", EXIT_USAGE)
    folder = _data_paths(args).audit
    if not folder.is_dir():
        print(f"There is no audit log in {folder} yet.")
        return EXIT_OK
    entries = AuditLog(folder).read(since=since, until=until, user=args.user,
                                    action=args.action)
    try:
        if args.json:
            for entry in entries:
                print(to_json_line(entry))
        elif not print_table(entries):
            print("No audit entries match.")
    except BrokenPipeError:
        # the reader went away (``hotspot audit | head``): stop quietly, and keep Python from
        # complaining when it flushes stdout on the way out
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return EXIT_OK


def parse_when(text: str | None, flag: str) -> date | datetime | None:
    """Read a ``--since``/``--until`` value: a date, or a date and time (UTC unless stated).

    Raises
    ------
    ValueError
        With a message naming ``flag`` and the forms accepted.

    Examples
    --------
    >>> parse_when("2026-12-02", "--since")
    datetime.date(2026, 12, 2)
    >>> parse_when("2026-12-02T10:30", "--since")
    datetime.datetime(2026, 12, 2, 10, 30)
    """
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{flag} '{text}' is not a date: write YYYY-MM-DD, or "
                         "YYYY-MM-DDTHH:MM for a time (UTC)") from None


def _start(moment: date | datetime) -> datetime:
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def print_table(entries: Iterable[dict[str, Any]]) -> int:
    """Print entries as an aligned table, one per line; return how many were printed."""
    rows = (row_cells(entry) for entry in entries)
    first = list(itertools.islice(rows, _WIDTH_ROWS))
    if not first:
        return 0
    widths = [max(len(row[i]) for row in [_HEADERS, *first]) for i in range(len(_HEADERS))]
    count = 0
    for row in itertools.chain([_HEADERS], first, rows):
        print(_line(row, widths))
        count += 1
    return count - 1


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    padded = [cell.ljust(width) for cell, width in zip(cells[:-1], widths, strict=False)]
    return "  ".join([*padded, cells[-1]]).rstrip()


def row_cells(entry: dict[str, Any]) -> tuple[str, ...]:
    """Return the table's cells for one entry, each printable on one line."""
    if entry.get("action") == "damaged-line":
        return ("-", "-", "-", "-", "damaged-line", "-",
                _printable(f"{entry.get('file')} line {entry.get('line')}"))
    at = str(entry.get("at") or "-")
    where = " ".join(filter(None, [entry.get("ip"), entry.get("via") and f"({entry['via']})"]))
    status = entry.get("status")
    what = summarise(entry.get("what"))
    if entry.get("truncated"):
        what = f"{what} (truncated)".strip()
    cells = (at[:19].replace("T", " "), entry.get("who") or "-", entry.get("role") or "-",
             where or "-", entry.get("action") or "-", "-" if status is None else str(status),
             what)
    return tuple(_printable(str(cell)) for cell in cells)


def summarise(what: Any) -> str:
    """Put an entry's details on one short line: ``key=value, key=value``.

    Examples
    --------
    >>> summarise({"page": "/explorer", "res": 9, "areas": ["E07000123", "E07000117"]})
    'page=/explorer, res=9, areas=["E07000123","E07000117"]'
    """
    if not isinstance(what, dict) or not what:
        return ""
    text = ", ".join(f"{key}={_value_text(value)}" for key, value in what.items())
    return text if len(text) <= _WHAT_CHARS else text[: _WHAT_CHARS - 1] + "…"


def _value_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _printable(text: str) -> str:
    """Escape control characters: a user name may hold terminal escape sequences."""
    return "".join(_escape(text))


def _escape(text: str) -> Iterator[str]:
    for char in text:
        yield char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
