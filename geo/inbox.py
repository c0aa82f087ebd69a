"""The inbox: files dropped into ``<data dir>/inbox/`` are ingested with no command run.

A feed (an ED system's nightly export, a police extract) copies its file into the inbox. The
running server picks it up once it has stopped changing, ingests it exactly as
``hotspot ingest`` would (one atomic commit, duplicates skipped, every rejected row in a
rejects file with its reason), then moves it to ``inbox/processed/`` or ``inbox/failed/`` with
its report beside it.

Safe to interrupt at any point. The store commit is atomic, and the file leaves the inbox only
after its batch is committed, so a crash before or during the commit leaves the file to be
tried again, and a crash after it leaves a file whose second ingest finds every row already
stored and adds nothing. One process works the inbox at a time (a lock file), so two servers
on one data directory never ingest the same file together.

Files still being written are left alone: names starting with ``.`` or ending ``.part``,
``.tmp``, ``.partial``, ``.crdownload`` or ``.filepart`` (the usual convention is to write
under such a name and rename when done), and any file changed in the last few seconds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from geo.atomic import fsync_dir, write_text_atomic
from geo.ingest import IngestSummary, ingest_file
from geo.schema import ReadError
from geo.settings import DataPaths

LOG = logging.getLogger("hotspot.inbox")

#: Name endings of files still being written (renamed when complete).
IN_PROGRESS = (".part", ".tmp", ".partial", ".crdownload", ".filepart")
#: Seconds a file must have been left unchanged before it is picked up.
SETTLE_S = 3.0


@dataclass(frozen=True)
class InboxResult:
    """What became of one file: ``processed`` (with its ingest summary) or ``failed``."""

    name: str
    outcome: str
    moved_to: Path
    report: Path
    summary: IngestSummary | None = None
    error: str | None = None


def inbox_dir(data: DataPaths) -> Path:
    """Return the inbox folder of ``data`` (created with its processed and failed folders)."""
    folder = data.inbox
    for sub in (folder, folder / "processed", folder / "failed"):
        sub.mkdir(parents=True, exist_ok=True)
    return folder


def ready_files(folder: Path, now: float | None = None,
                settle_s: float = SETTLE_S) -> list[Path]:
    """Return the files in ``folder`` that are complete: oldest first.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for name in ("a.csv", "b.csv.part", ".c.csv"):
    ...     _ = (d / name).write_text("x")
    >>> [p.name for p in ready_files(d, now=time.time() + 60)]
    ['a.csv']
    >>> ready_files(d, now=time.time())  # just written: not settled yet
    []
    """
    now = time.time() if now is None else now
    found = []
    for path in folder.iterdir():
        name = path.name
        if name.startswith(".") or name.lower().endswith(IN_PROGRESS):
            continue
        try:
            st = path.lstat()
        except FileNotFoundError:
            continue
        if not path.is_file() or path.is_symlink():
            continue
        if now - st.st_mtime < settle_s:
            continue
        found.append((st.st_mtime, name, path))
    return [p for _, _, p in sorted(found)]


@contextlib.contextmanager
def _worker_lock(folder: Path) -> Iterator[bool]:
    """Hold the inbox's lock if no other process does; yield whether it was taken."""
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")


def _destination(path: Path, dest_dir: Path) -> Path:
    """Return a time-stamped name in ``dest_dir`` for ``path`` that no earlier file has."""
    dest = dest_dir / f"{_stamp()}-{path.name}"
    n = 1
    while dest.exists():
        n += 1
        dest = dest_dir / f"{_stamp()}-{n}-{path.name}"
    return dest


def _move(path: Path, dest: Path) -> None:
    os.replace(path, dest)
    fsync_dir(dest.parent)
    fsync_dir(path.parent)


def _report(moved: Path, summary: IngestSummary | None, error: str | None) -> Path:
    """Write the report beside the moved file: text for a person and JSON for a program."""
    text = summary.as_text() if summary is not None else f"{moved.name}\n  not ingested: {error}"
    report = moved.with_name(moved.name + ".report.txt")
    write_text_atomic(report, text + "\n")
    body = {"file": moved.name, "outcome": "processed" if summary is not None else "failed",
            "summary": summary.as_json() if summary is not None else None, "error": error}
    write_text_atomic(moved.with_name(moved.name + ".report.json"),
                      json.dumps(body, indent=2) + "\n")
    return report


def process_inbox(data: DataPaths, *, now: float | None = None, settle_s: float = SETTLE_S,
                  ingest: Callable[[Path, DataPaths], IngestSummary] | None = None,
                  ) -> list[InboxResult]:
    """Ingest every complete file in the inbox, one at a time; return what became of each.

    A file that cannot be read as incidents goes to ``failed/`` with the reason; a failure
    of ours (a bug) too, logged in full, so that one bad file cannot block the rest.
    Returns nothing when another process is working the inbox.
    """
    folder = inbox_dir(data)
    run = ingest or (lambda path, d: ingest_file(path, d))
    results: list[InboxResult] = []
    with _worker_lock(folder) as mine:
        if not mine:
            return results
        for path in ready_files(folder, now, settle_s):
            try:
                summary = run(path, data)
            except ReadError as err:
                results.append(_failed(path, folder, str(err)))
                continue
            except Exception as err:  # a fault of ours: logged, and the file set aside
                LOG.exception("ingesting %s from the inbox failed", path.name)
                results.append(_failed(path, folder, "Hotspot could not ingest this file "
                                       f"({type(err).__name__}); the details are in the "
                                       "server log."))
                continue
            # the report first, then the file: a crash in between leaves the file to be
            # ingested again (every row a duplicate), never a processed file with no report
            moved = _destination(path, folder / "processed")
            summary.file = moved.name
            report = _report(moved, summary, None)
            _move(path, moved)
            LOG.info("inbox: %s ingested: %d accepted, %d duplicates, %d rejected",
                     path.name, summary.accepted, summary.duplicates, summary.rejected)
            results.append(InboxResult(path.name, "processed", moved, report, summary=summary))
        if results:
            _compact_if_many(data)
            _index_if_stale(data)
    return results


#: The inbox compacts the store once it lists more files than this (a feed adds a file per
#: batch and year; every reader opens every file).
COMPACT_AFTER_FILES = 64


def _compact_if_many(data: DataPaths) -> None:
    """Merge the store's small files once a feed has made many (see ``Store.compact``)."""
    from geo.store import Store

    store = Store.of(data)
    if len(store.manifest().files) <= COMPACT_AFTER_FILES:
        return
    try:
        result = store.compact()
    except Exception:  # the store is as it was; the next pass tries again
        LOG.exception("compacting the store failed")
        return
    LOG.info("inbox: compacted %d small files into %d", result.files_merged,
             result.files_written)


def _index_if_stale(data: DataPaths) -> None:
    """Have the query index built again, in the background, once the feed has outgrown it."""
    from geo import queryindex
    from geo.store import Store

    store = Store.of(data)
    try:
        if queryindex.stale(store) and queryindex.rebuild_in_background(store):
            LOG.info("inbox: the query index is being built again in the background")
    except OSError:  # the next batch tries again
        LOG.exception("starting the query index's build failed")


def _failed(path: Path, folder: Path, error: str) -> InboxResult:
    moved = _destination(path, folder / "failed")
    report = _report(moved, None, error)
    _move(path, moved)
    LOG.warning("inbox: %s not ingested: %s", path.name, error)
    return InboxResult(path.name, "failed", moved, report, error=error)


class InboxWatcher:
    """A background thread that works the inbox every ``interval_s`` seconds until stopped."""

    def __init__(self, data: DataPaths, interval_s: float = 2.0,
                 settle_s: float = SETTLE_S) -> None:
        self.data = data
        self.interval_s = interval_s
        self.settle_s = settle_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="hotspot-inbox", daemon=True)

    def start(self) -> InboxWatcher:
        """Start watching; return self."""
        inbox_dir(self.data)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after the file in hand (if any) is done."""
        self._stop.set()
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                process_inbox(self.data, settle_s=self.settle_s)
            except Exception:  # keep watching: the next pass may succeed (disk freed, ...)
                LOG.exception("working the inbox failed")
            self._stop.wait(self.interval_s)
