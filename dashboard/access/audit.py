"""The append-only audit log: who consulted and disclosed data, when, from where, and how.

Hotspot processes data for law enforcement, so the Data Protection Act 2018 (Part 3, s.62)
requires a log of consultation and disclosure. Every sign-in, page view, API call, callback,
export, upload and change is one line of JSON in ``DataPaths.audit``::

    {"at": "2026-12-02T10:13:53.123Z", "action": "export", "who": "asmith", "role": "analyst",
     "via": "session", "ip": "10.0.0.7", "status": 200, "what": {"format": "csv", "rows": 412}}

What the log promises
---------------------
- **It never holds incident data.** ``what`` passes through :func:`sanitise`: only scalars and
  short lists of scalars are kept, strings are cut to 200 characters, lists to 50 items, nested
  objects to two levels, and the whole line to 8 KiB (the line is then marked
  ``"truncated": true``). Keys naming Dash properties that carry data (:data:`DATA_PROPS`:
  clicked or selected points, figures, grid rows, uploaded file contents) are kept only as a
  note that they were present, such as ``{"contents": "<file 123,456 bytes>"}``.
- **Nothing is lost or interleaved.** Each line is written with one ``os.write`` to a file
  opened ``O_APPEND``, under an advisory ``flock`` shared by every thread and process writing
  to the folder (waitress threads and a ``hotspot`` command at the same moment).
- **Nothing is rewritten.** Files are named ``audit-YYYY-MM-NNN.jsonl`` (UTC month, sequence
  from 001). A new month, or a file that would pass ``max_file_bytes``, starts the next file.
  Hotspot never renames, truncates or deletes one; archiving old months is the site's job.
- **Fail closed.** If a line cannot be written (disk full, permissions, a missing folder),
  :meth:`AuditLog.record` raises :class:`AuditError`; the request gate then refuses the
  request, because an action that cannot be logged must not happen.
- **Only the owner reads it.** The folder is created ``0o700`` and each file ``0o600``.
"""

from __future__ import annotations

import fcntl
import json
import math
import numbers
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from geo.atomic import fsync_dir

#: Default size at which a month's file is closed and the next one started (64 MiB).
MAX_FILE_BYTES = 64 * 1024 * 1024
#: Largest encoded line (without its newline); ``what`` is cut down to fit.
MAX_ENTRY_BYTES = 8 * 1024
#: Longest string kept anywhere in an entry, in characters.
MAX_STRING_CHARS = 200
#: Most items kept of a list, and most keys kept of an object.
MAX_ITEMS = 50
#: Deepest object kept: ``what`` itself is level 1, an object inside it level 2.
MAX_DEPTH = 2

#: Actions synced to disk before :meth:`AuditLog.record` returns: sign-ins and everything that
#: discloses or changes data. Other actions (page views, API reads) are synced at most once a
#: second.
DURABLE_ACTIONS = frozenset({
    "sign-in", "sign-in-failed", "sign-out", "change", "upload", "export", "denied",
})

#: Dash properties that carry incident data or whole files. A key naming one (alone, or as the
#: property of a ``component.property`` id) is logged only as present, never with its value.
DATA_PROPS = frozenset({
    "clickData", "selectedData", "hoverData", "relayoutData", "rowData", "figure", "contents",
    "data",
})

#: The action :meth:`AuditLog.read` reports for a line that is not a valid entry.
DAMAGED = "damaged-line"

_FILE_NAME = re.compile(r"^audit-(\d{4})-(\d{2})-(\d{3,})\.jsonl$")
_LOCK_NAME = ".audit.lock"
#: fsync costs milliseconds on a disk, more than a page view itself; see ``_sync``.
_SYNC_INTERVAL_S = 1.0


class AuditError(RuntimeError):
    """An audit entry could not be written; the request that caused it must be refused."""


def utc_now() -> datetime:
    """Return the current time in UTC (the default clock of :class:`AuditLog`)."""
    return datetime.now(UTC)


# ---------------------------------------------------------------------------------------------
# The sanitiser: what may go into ``what``
# ---------------------------------------------------------------------------------------------


def sanitise(what: Mapping[Any, Any] | None) -> dict[str, Any]:
    """Return a copy of ``what`` that is small and holds no incident data.

    Scalars (text, numbers, true/false, null) are kept; text is cut to
    :data:`MAX_STRING_CHARS` characters (ending in "…"). A list of scalars keeps its first
    :data:`MAX_ITEMS` items followed by a note of how many more there were; a list holding
    anything else (rows, features) becomes a note of its length. An object keeps its first
    :data:`MAX_ITEMS` keys, and an object deeper than :data:`MAX_DEPTH` becomes a note of its
    size. Keys in :data:`DATA_PROPS` keep only a note that they were present (for uploaded
    ``contents``, the file's size worked out from its base64 text). Other values (bytes,
    frames, arrays) become a note of their type. Dates become ISO text.

    Parameters
    ----------
    what : Mapping or None
        Details of the action given by the caller.

    Returns
    -------
    dict
        The details safe to log (empty for None).

    Examples
    --------
    >>> sanitise({"page": "/explorer", "rowData": [{"id": "A1"}, {"id": "A2"}]})
    {'page': '/explorer', 'rowData': '<present: list of 2 items>'}
    >>> sanitise({"cells": list(range(10_000))})["cells"][-3:]
    [48, 49, '<9,950 more>']
    >>> sanitise({"upload.contents": "data:text/csv;base64,aGVsbG8="})
    {'upload.contents': '<file 5 bytes>'}
    """
    if what is None:
        return {}
    return _clean_mapping(what, depth=1)


def _clean_mapping(mapping: Mapping[Any, Any], depth: int) -> dict[str, Any]:
    """Clean an object's keys and values; ``depth`` is its own level (``what`` is 1)."""
    out: dict[str, Any] = {}
    items = list(mapping.items())
    for key, value in items[:MAX_ITEMS]:
        name = _clean_str(str(key))
        if _is_data_prop(name):
            out[name] = _presence(name, value)
        elif _is_data_prop(str(mapping.get("property", ""))) and name == "value":
            # Dash's own shape for an input: {"id": ..., "property": "clickData", "value": ...}
            out[name] = _presence(str(mapping["property"]), value)
        else:
            out[name] = _clean_value(value, depth)
    if len(items) > MAX_ITEMS:
        out["<more keys>"] = len(items) - MAX_ITEMS
    return out


def _clean_value(value: Any, depth: int) -> Any:
    """Clean one value found in an object of level ``depth``."""
    if isinstance(value, Mapping):
        if depth >= MAX_DEPTH:
            return f"<object with {len(value):,} keys>"
        return _clean_mapping(value, depth + 1)
    if isinstance(value, list | tuple):
        return _clean_list(value)
    return _clean_scalar(value)


def _clean_list(values: list[Any] | tuple[Any, ...]) -> Any:
    """Keep a short list of scalars; describe anything else by its length."""
    if not all(_is_scalar(v) for v in values):
        return f"<list of {len(values):,} items>"
    kept: list[Any] = [_clean_scalar(v) for v in values[:MAX_ITEMS]]
    if len(values) > MAX_ITEMS:
        kept.append(f"<{len(values) - MAX_ITEMS:,} more>")
    return kept


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | numbers.Real | date)


def _clean_scalar(value: Any) -> Any:
    """Return a JSON scalar for ``value``, or a note of its type."""
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, numbers.Integral):  # numpy and pandas integers, as row counts are
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        # JSON has no NaN or infinity; as text they stay readable and the line stays valid
        return number if math.isfinite(number) else str(number)
    if isinstance(value, str):
        return _clean_str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray):
        return f"<{len(value):,} bytes>"
    # Never str(value): a DataFrame or array would print its rows.
    return f"<{type(value).__name__}>"


def _clean_str(text: str) -> str:
    """Cut ``text`` to :data:`MAX_STRING_CHARS` and make it encodable as UTF-8."""
    if len(text) > MAX_STRING_CHARS:
        text = text[: MAX_STRING_CHARS - 1] + "…"
    # a lone surrogate (from a badly decoded header, say) would make the line unwritable
    return text.encode("utf-8", "replace").decode("utf-8")


def _is_data_prop(key: str) -> bool:
    return key.rsplit(".", 1)[-1] in DATA_PROPS


def _presence(key: str, value: Any) -> str | None:
    """Describe a data-bearing value without any of its content."""
    if value is None:
        return None
    if key.rsplit(".", 1)[-1] == "contents":
        files = value if isinstance(value, list | tuple) else [value]
        sizes = [_base64_size(v) for v in files if isinstance(v, str)]
        if len(sizes) == 1 and not isinstance(value, list | tuple):
            return f"<file {sizes[0]:,} bytes>"
        return f"<{len(sizes):,} files, {sum(sizes):,} bytes>"
    if isinstance(value, Mapping):
        return f"<present: object with {len(value):,} keys>"
    if isinstance(value, list | tuple):
        return f"<present: list of {len(value):,} items>"
    if isinstance(value, str):
        return f"<present: text of {len(value):,} characters>"
    return "<present>"


def _base64_size(data_url: str) -> int:
    """Return the decoded size in bytes of a ``data:...;base64,XXXX`` upload."""
    encoded = data_url.split(",", 1)[-1].strip()
    return max(0, len(encoded) * 3 // 4 - (len(encoded) - len(encoded.rstrip("="))))


# ---------------------------------------------------------------------------------------------
# Encoding one line
# ---------------------------------------------------------------------------------------------


def to_json_line(entry: Mapping[str, Any]) -> str:
    """Return ``entry`` as the log stores it: compact JSON, UTF-8 text, no newline.

    Examples
    --------
    >>> to_json_line({"action": "page", "what": {"page": "/trends"}})
    '{"action":"page","what":{"page":"/trends"}}'
    """
    # ensure_ascii=False keeps names readable and a string at most 4 bytes a character,
    # which the 8 KiB cap relies on; newlines inside strings are still escaped.
    return json.dumps(entry, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _fit(entry: dict[str, Any]) -> bytes:
    """Encode ``entry``, cutting ``what`` down until the line fits :data:`MAX_ENTRY_BYTES`.

    The largest details go first, each replaced by a note of its size; if the keys alone are
    still too long, ``what`` is replaced by a note of how many there were. Every other field is
    at most 200 characters, so the line then fits.
    """
    line = to_json_line(entry).encode("utf-8")
    if len(line) <= MAX_ENTRY_BYTES:
        return line
    what = dict(entry["what"])
    entry = {**entry, "what": what, "truncated": True}
    sizes = {k: len(to_json_line({k: v}).encode("utf-8")) for k, v in what.items()}
    for key in sorted(sizes, key=sizes.__getitem__, reverse=True):
        what[key] = f"<{sizes[key]:,} bytes left out>"
        line = to_json_line(entry).encode("utf-8")
        if len(line) <= MAX_ENTRY_BYTES:
            return line
    entry["what"] = {"<left out>": f"{len(what):,} keys"}
    return to_json_line(entry).encode("utf-8")


def _stamp(moment: datetime) -> str:
    """Return ISO-8601 UTC with milliseconds, e.g. ``2026-12-02T10:13:53.123Z``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _opt_str(value: str | None) -> str | None:
    return None if value is None else _clean_str(str(value))


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class _LogFile:
    """One file of the log, ordered by month then sequence (not by text: 1000 follows 999)."""

    year: int
    month: int
    seq: int

    @property
    def name(self) -> str:
        return f"audit-{self.year:04d}-{self.month:02d}-{self.seq:03d}.jsonl"

    def next(self) -> _LogFile:
        return _LogFile(self.year, self.month, self.seq + 1)

    def starts(self) -> datetime:
        """Return the first moment of the file's month (UTC)."""
        return datetime(self.year, self.month, 1, tzinfo=UTC)

    def ends(self) -> datetime:
        """Return the first moment after the file's month (UTC)."""
        if self.month == 12:
            return datetime(self.year + 1, 1, 1, tzinfo=UTC)
        return datetime(self.year, self.month + 1, 1, tzinfo=UTC)


def _log_files(folder: Path) -> list[_LogFile]:
    """List the log's files in time order; other files in the folder are ignored."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return []
    found = []
    for name in names:
        match = _FILE_NAME.match(name)
        if match:
            found.append(_LogFile(*(int(g) for g in match.groups())))
    return sorted(found)


@dataclass(frozen=True)
class FileCheck:
    """What :meth:`AuditLog.verify` found in one file.

    ``damaged`` lists the line numbers (from 1) that are not valid entries; ``out_of_order``
    counts entries stamped earlier than the one before them (the system clock was set back).
    """

    file: str
    entries: int
    damaged: tuple[int, ...]
    out_of_order: int
    first_at: str | None
    last_at: str | None


# ---------------------------------------------------------------------------------------------
# The log
# ---------------------------------------------------------------------------------------------


class AuditLog:
    """The audit log kept in one folder; safe to share between threads and processes.

    Parameters
    ----------
    folder : Path
        The log's folder (``DataPaths.audit``); created ``0o700`` on the first entry.
    max_file_bytes : int
        Size at which the next file of the month is started (64 MiB).
    clock : callable
        Returns the current time; tests inject one to cross a month.

    Examples
    --------
    >>> import tempfile
    >>> log = AuditLog(Path(tempfile.mkdtemp()) / "audit")
    >>> log.record("page", who="asmith", role="analyst", via="session", ip="10.0.0.7",
    ...            status=200, what={"page": "/explorer", "clickData": {"points": [1]}})
    >>> entry = next(log.read())
    >>> entry["who"], entry["what"]
    ('asmith', {'page': '/explorer', 'clickData': '<present: object with 1 keys>'})
    """

    def __init__(self, folder: Path, max_file_bytes: int = MAX_FILE_BYTES,
                 clock: Callable[[], datetime] = utc_now) -> None:
        if max_file_bytes <= 0:
            raise ValueError(f"max_file_bytes must be above zero, not {max_file_bytes}")
        self.folder = Path(folder)
        self.max_file_bytes = max_file_bytes
        self.clock = clock
        # The file this instance wrote last and when it last synced; both are read and
        # changed only while the folder's lock is held.
        self._current: _LogFile | None = None
        self._last_sync = 0.0

    # -- writing -------------------------------------------------------------------------------

    def record(self, action: str, *, who: str | None, role: str | None, via: str | None,
               ip: str | None, status: int | None = None,
               what: Mapping[str, Any] | None = None) -> None:
        """Append one entry to the log.

        Parameters
        ----------
        action : str
            What happened: "sign-in", "sign-in-failed", "sign-out", "page", "api",
            "callback", "export", "upload", "change" or "denied".
        who, role : str or None
            The user name (or token name) and their role; None before sign-in.
        via : str or None
            How they were identified: "session" (signed in), "token" (API token), "header"
            (single sign-on proxy), "local" (the single-user install).
        ip : str or None
            The client's address.
        status : int or None
            The HTTP status answered, if any.
        what : Mapping or None
            Details (page, parameters, row counts); see :func:`sanitise` for what is kept.

        Raises
        ------
        AuditError
            If the entry could not be written. The caller must refuse the request.
        ValueError
            If ``action`` is empty or is the reserved "damaged-line".
        """
        if not action or action == DAMAGED:
            raise ValueError(f"'{action}' is not an action that can be recorded")
        fields = {
            "action": _clean_str(action), "who": _opt_str(who), "role": _opt_str(role),
            "via": _opt_str(via), "ip": _opt_str(ip),
            "status": status if isinstance(status, int) and not isinstance(status, bool) else None,
            "what": sanitise(what),
        }
        try:
            self._append(fields, durable=action in DURABLE_ACTIONS)
        except OSError as exc:
            raise AuditError(
                f"the audit log in {self.folder} cannot be written ({exc.strerror or exc}); "
                "the action was refused because it could not be logged"
            ) from exc

    def _append(self, fields: dict[str, Any], durable: bool) -> None:
        """Stamp, place and write one entry while holding the folder's lock."""
        lock = self._open_lock()
        try:
            fcntl.flock(lock, fcntl.LOCK_EX)
            # Stamped under the lock, so within the log the lines stand in the order of their
            # times (unless the system clock is set back).
            now = self.clock()
            line = _fit({"at": _stamp(now), **fields})
            target, size = self._choose_file(now, len(line) + 1)
            self._write(target, size, line, durable)
        finally:
            os.close(lock)  # closing the descriptor releases the lock

    def _open_lock(self) -> int:
        """Open the folder's lock file, creating the folder first if it is missing."""
        path = self.folder / _LOCK_NAME
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
        try:
            return os.open(path, flags, 0o600)
        except FileNotFoundError:
            self._make_folder()
            return os.open(path, flags, 0o600)

    def _make_folder(self) -> None:
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.folder.mkdir(mode=0o700)
        except FileExistsError:
            return
        os.chmod(self.folder, 0o700)  # mkdir's mode is reduced by the umask

    def _choose_file(self, now: datetime, needed: int) -> tuple[_LogFile, int]:
        """Return the file the next line goes to and its current size (lock held).

        The file this instance wrote last is reused while it is of this month, no later file
        has been started (by another process) and the line fits; otherwise the folder is read.
        """
        utc = now.astimezone(UTC) if now.tzinfo else now
        current = self._current
        if current is None or (current.year, current.month) != (utc.year, utc.month) or (
                self.folder / current.next().name).exists():
            month = [f for f in _log_files(self.folder) if (f.year, f.month) == (utc.year,
                                                                               utc.month)]
            current = month[-1] if month else _LogFile(utc.year, utc.month, 1)
        size = _size(self.folder / current.name)
        if size > 0 and size + needed > self.max_file_bytes:
            self._sync_file(current)  # whatever this process left unsynced in the old file
            current, size = current.next(), 0
        self._current = current
        return current, size

    def _write(self, target: _LogFile, size: int, line: bytes, durable: bool) -> None:
        """Append ``line`` to ``target`` with one write, then sync as the action requires."""
        path = self.folder / target.name
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if size == 0:
                os.fchmod(fd, 0o600)
            elif os.pread(fd, 1, size - 1) != b"\n":
                # The last write was torn (a crash, a full disk): start on a line of our own so
                # the fragment stays one damaged line and this entry stays whole.
                line = b"\n" + line
            data = line + b"\n"
            written = os.write(fd, data)  # unbuffered: nothing is left to flush in Python
            if written != len(data):
                raise OSError(f"only {written} of {len(data)} bytes were written")
            self._sync(fd, durable)
        finally:
            os.close(fd)
        if size == 0:
            fsync_dir(self.folder)  # the new file's name must survive a power cut too

    def _sync(self, fd: int, durable: bool) -> None:
        """Sync to disk now for a durable action, else if a second has passed since the last.

        An fsync costs a few milliseconds on a disk, more than serving the page view it
        records, so page views and API reads are synced at most once a second. A crash of
        Hotspot loses none of them (the write is already in the kernel); a power cut can lose
        the last second's page views, never a sign-in, export, upload, change or refusal.
        """
        now = time.monotonic()
        if durable or now - self._last_sync >= _SYNC_INTERVAL_S:
            os.fsync(fd)
            self._last_sync = now

    def _sync_file(self, log_file: _LogFile) -> None:
        fd = os.open(self.folder / log_file.name, os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # -- reading -------------------------------------------------------------------------------

    def read(self, since: date | datetime | None = None, until: date | datetime | None = None,
             user: str | None = None, action: str | None = None) -> Iterator[dict[str, Any]]:
        """Yield the entries in the order they were written, which is time order.

        Parameters
        ----------
        since, until : date or datetime, optional
            Only entries at or after ``since`` and at or before ``until``. A date means the
            whole UTC day (``until=date(2026, 12, 2)`` includes all of 2 December); a
            datetime without a time zone is taken as UTC. Files of months wholly before
            ``since`` or after ``until`` are not opened.
        user : str, optional
            Only entries of this user (``who``).
        action : str, optional
            Only entries of this action.

        Yields
        ------
        dict
            Each entry as stored. A line that is not a valid entry (such as a line torn by a
            crash) is yielded as ``{"action": "damaged-line", "file": name, "line": n}``
            whatever the filters, since what it held cannot be known; reading goes on.

        Notes
        -----
        The files are measured under the writers' lock when reading starts, so a line being
        written at that moment is never mistaken for a damaged one; later lines are not read.
        """
        start = _as_utc(since, end=False)
        stop = _as_utc(until, end=True)
        for log_file, size in self._snapshot():
            if start is not None and log_file.ends() <= start:
                continue
            if stop is not None and log_file.starts() > stop:
                break
            for number, parsed in _scan(self.folder / log_file.name, size):
                if parsed is None:
                    yield {"action": DAMAGED, "file": log_file.name, "line": number}
                elif _matches(*parsed, start, stop, user, action):
                    yield parsed[0]

    def verify(self) -> list[FileCheck]:
        """Check every file: count its entries and list its damaged lines.

        Returns
        -------
        list of FileCheck
            One per file, in time order.
        """
        checks = []
        for log_file, size in self._snapshot():
            entries, damaged, out_of_order = 0, [], 0
            first: datetime | None = None
            last: datetime | None = None
            for number, parsed in _scan(self.folder / log_file.name, size):
                if parsed is None:
                    damaged.append(number)
                    continue
                entries += 1
                at = parsed[1]
                out_of_order += last is not None and at < last
                first = first or at
                last = at
            checks.append(FileCheck(log_file.name, entries, tuple(damaged), out_of_order,
                                    _stamp(first) if first else None,
                                    _stamp(last) if last else None))
        return checks

    def _snapshot(self) -> list[tuple[_LogFile, int]]:
        """List the files and their sizes while no line is being written."""
        try:
            lock: int | None = os.open(self.folder / _LOCK_NAME, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            lock = None  # no writer yet, or a copy of the log handed to an auditor
        try:
            if lock is not None:
                fcntl.flock(lock, fcntl.LOCK_SH)
            return [(f, _size(self.folder / f.name)) for f in _log_files(self.folder)]
        finally:
            if lock is not None:
                os.close(lock)


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _scan(path: Path, size: int) -> Iterator[tuple[int, tuple[dict[str, Any], datetime] | None]]:
    """Yield (line number, (entry, its time)) for the first ``size`` bytes of a file.

    A line that is not a valid entry comes with None instead.
    """
    with open(path, "rb") as fh:
        done, number = 0, 0
        while done < size:
            raw = fh.readline(size - done)
            if not raw:
                return  # the file was shorter than measured: nothing more to read
            done += len(raw)
            number += 1
            yield number, _parse_line(raw)


def _parse_line(raw: bytes) -> tuple[dict[str, Any], datetime] | None:
    """Parse one stored line; None unless it is an object with a valid time and action."""
    try:
        entry = json.loads(raw)
    except ValueError:  # bad JSON or bad UTF-8 alike
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("action"), str):
        return None
    try:
        at = datetime.fromisoformat(entry["at"])
    except (KeyError, TypeError, ValueError):
        return None
    if at.tzinfo is None:
        return None
    return entry, at


def _matches(entry: dict[str, Any], at: datetime, start: datetime | None,
             stop: datetime | None, user: str | None, action: str | None) -> bool:
    """Say whether an entry stamped ``at`` passes the filters."""
    return ((start is None or at >= start) and (stop is None or at <= stop)
            and (user is None or str(entry.get("who") or "").lower() == user.lower())
            and (action is None or entry["action"] == action))


def _as_utc(moment: date | datetime | None, end: bool) -> datetime | None:
    """Turn a filter bound into an aware UTC datetime; a date's ``end`` is its last moment."""
    if moment is None:
        return None
    if isinstance(moment, datetime):
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    start = datetime(moment.year, moment.month, moment.day, tzinfo=UTC)
    return start + timedelta(days=1) - timedelta(microseconds=1) if end else start
