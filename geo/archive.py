"""Ingest the police.uk archive layout: one folder per month, each holding every force's file.

The police.uk bulk download (``data.police.uk/data``) unpacks as ``2024-06/2024-06-<force>-
street.csv`` for each month and force: about 500,000 street-level crimes a month for England
and Wales, in 43 files. :func:`ingest_archive` takes such a folder (or any folder of
``*-street.csv`` files, gzipped or not):

* the files are read and their keys derived (projection, areas, H3 cells, local time) in
  worker processes, one per core, the boundaries loaded once in each;
* each month is committed as **one batch**, in month order, as its files come back: one
  atomic commit and one look-up of the ids already stored per month, rather than per file,
  so a national archive of thousands of files is not slowed by thousands of commits;
* every row is accounted for as ``hotspot ingest`` does it: accepted, a duplicate (of a row
  in its file, in another of the month's files, or in the store), a conflict, or rejected
  with its reason. The rejects file names each rejected row's own file and line.

Outcomes and stop-and-search files in the same folders are not incidents: they are listed as
skipped, not read.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.boundaries import Boundaries, load_boundaries
from geo.ingest import IngestSummary, Prepared, _in_file_repeats, prepare_file
from geo.schema import ReadError
from geo.settings import DataPaths
from geo.store import CONFLICT_IN_FILE, Store

#: A police.uk street-level file: ``2024-06-lancashire-street.csv`` (or ``.csv.gz``).
STREET_FILE = re.compile(r"^(\d{4}-\d{2})-[a-z0-9-]+-street\.csv(\.gz)?$")
#: The other files of the archive, which are not incidents.
OTHER_FILE = re.compile(r"^\d{4}-\d{2}-[a-z0-9-]+-(outcomes|stop-and-search)\.csv(\.gz)?$")


@dataclass
class ArchiveSummary:
    """What an archive ingest did: one summary per month, and the speed."""

    months: list[IngestSummary] = field(default_factory=list)
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    workers: int = 1

    @property
    def read(self) -> int:
        """Rows read across the archive."""
        return sum(m.read for m in self.months)

    @property
    def rows_per_second(self) -> float:
        """Rows read and committed per second of wall time."""
        return self.read / self.seconds if self.seconds else 0.0


def archive_files(folder: Path) -> tuple[dict[str, list[Path]], list[Path]]:
    """Return the street files under ``folder`` by month (sorted), and the files skipped.

    Examples
    --------
    >>> import tempfile
    >>> root = Path(tempfile.mkdtemp())
    >>> for name in ("2024-06/2024-06-kent-street.csv", "2024-06/2024-06-kent-outcomes.csv",
    ...              "2024-05/2024-05-city-of-london-street.csv.gz", "notes.txt"):
    ...     (root / name).parent.mkdir(exist_ok=True)
    ...     _ = (root / name).write_text("")
    >>> months, skipped = archive_files(root)
    >>> {m: [p.name for p in ps] for m, ps in months.items()}
    {'2024-05': ['2024-05-city-of-london-street.csv.gz'], '2024-06': ['2024-06-kent-street.csv']}
    >>> sorted(p.name for p in skipped)
    ['2024-06-kent-outcomes.csv', 'notes.txt']
    """
    months: dict[str, list[Path]] = {}
    skipped = []
    for path in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        found = STREET_FILE.match(path.name.lower())
        if found:
            months.setdefault(found.group(1), []).append(path)
        else:
            skipped.append(path)
    return dict(sorted(months.items())), skipped


# -- the worker processes ---------------------------------------------------------------------
_BOUNDARIES: Boundaries | None = None
_LOOKUPS: DataPaths | None = None


def _start_worker(boundaries_dir: str, data_root: str) -> None:
    global _BOUNDARIES, _LOOKUPS
    _BOUNDARIES = load_boundaries(Path(boundaries_dir))
    _LOOKUPS = DataPaths(Path(data_root))


def _prepare(path: str) -> Prepared | str:
    """Read and derive one file in a worker; a file that cannot be read gives its reason."""
    assert _BOUNDARIES is not None and _LOOKUPS is not None
    try:
        return prepare_file(Path(path), _BOUNDARIES, _LOOKUPS)
    except ReadError as exc:
        return str(exc)


def ingest_archive(folder: Path, data: DataPaths, *, workers: int | None = None,
                   report: Callable[[IngestSummary], None] | None = None) -> ArchiveSummary:
    """Ingest every street-level file under ``folder``, a batch per month (module docstring).

    ``workers`` processes read and derive the files (default: one per core). ``report`` is
    called with each month's summary as it is committed.
    """
    months, skipped = archive_files(folder)
    if not months:
        raise ReadError(f"{folder} holds no police.uk street-level files (named like "
                        "2024-06-<force>-street.csv, in a folder per month)")
    workers = max(1, workers or os.cpu_count() or 1)
    out = ArchiveSummary(files=sum(len(f) for f in months.values()), workers=workers,
                         skipped=[str(p) for p in skipped])
    store = Store.of(data)
    started = time.perf_counter()
    with ProcessPoolExecutor(workers, mp_context=get_context("spawn"),
                             initializer=_start_worker,
                             initargs=(str(data.boundaries), str(data.root))) as pool:
        for month, prepared in _months_read_ahead(pool, months):
            ready = []
            for path, got in prepared:
                if isinstance(got, str):
                    out.failed[str(path)] = got
                else:
                    ready.append((path, got))
            if ready:
                summary = _commit_month(store, month, Path(folder), ready)
                out.months.append(summary)
                if report is not None:
                    report(summary)
    out.seconds = time.perf_counter() - started
    return out


#: Months whose files are being read while one is committed. Bounds the memory held: a
#: national month is about 500,000 rows.
READ_AHEAD_MONTHS = 2


def _months_read_ahead(pool: ProcessPoolExecutor, months: dict[str, list[Path]]
                       ) -> Iterator[tuple[str, list[tuple[Path, Prepared | str]]]]:
    """Yield each month's files as read by the pool, in order, reading the next months ahead.

    While a month is committed, only the next :data:`READ_AHEAD_MONTHS` months are being
    read, so a long archive is never held in memory whole however slow the commits are.
    """
    pending: deque[tuple[str, list[tuple[Path, Future[Prepared | str]]]]] = deque()
    queue = iter(months.items())

    ahead = max(1, READ_AHEAD_MONTHS)

    def fill() -> None:
        while len(pending) < ahead:
            nxt = next(queue, None)
            if nxt is None:
                return
            month, paths = nxt
            pending.append((month, [(p, pool.submit(_prepare, str(p))) for p in paths]))

    fill()
    while pending:
        month, futures = pending.popleft()
        got = [(path, future.result()) for path, future in futures]
        fill()  # the next months are read while this one is committed
        yield month, got


def _commit_month(store: Store, month: str, folder: Path,
                  ready: list[tuple[Path, Prepared]]) -> IngestSummary:
    """Commit one month's files as one batch; return its summary."""
    names = [str(p.relative_to(folder)) if p.is_relative_to(folder) else str(p)
             for p, _ in ready]
    table = pa.concat_tables([r.table for _, r in ready])
    file_of = np.concatenate([np.full(r.table.num_rows, k) for k, (_, r) in enumerate(ready)])
    lines = np.concatenate([r.lines for _, r in ready])
    keep, duplicates, across = _across_files(table, lines, file_of, names)
    if not keep.all():
        table, lines = table.filter(pa.array(keep)), lines[keep]
    rejects = pd.concat([r.rejects.assign(file=name)
                         for name, (_, r) in zip(names, ready, strict=True)] + [across],
                        ignore_index=True)
    reasons: Counter[str] = Counter()
    for _, r in ready:
        reasons.update(r.summary.rejected_by_reason)
    summary = IngestSummary(
        file=f"{folder}/{month} ({len(ready)} file{'' if len(ready) == 1 else 's'})",
        read=sum(r.summary.read for _, r in ready),
        rejected=sum(r.summary.rejected for _, r in ready),
        rejected_by_reason=dict(reasons),
        snapped_to_nearest_area=sum(r.summary.snapped_to_nearest_area for _, r in ready),
        notes=[n for _, r in ready for n in r.summary.notes],
    )
    in_files = sum(r.conflicts for _, r in ready) + len(across)
    repeats = sum(r.duplicates for _, r in ready) + duplicates
    outcome = store.commit(
        table, source_file=f"{folder.name}/{month}", rejects=rejects,
        summary={"read": summary.read, "rejected": summary.rejected, "duplicates": repeats,
                 "conflicts": in_files, "rejected_by_reason": summary.rejected_by_reason,
                 "conflicts_by_reason": {CONFLICT_IN_FILE: in_files} if in_files else {},
                 "files": names},
        kind="user", lines=lines)
    return summary.committed(outcome, store.root, repeats, in_files)


def _across_files(table: pa.Table, lines: np.ndarray, file_of: np.ndarray,
                  names: list[str]) -> tuple[np.ndarray, int, pd.DataFrame]:
    """Find ids repeated across a month's files (each file's own repeats are already out).

    The first file's row is kept; a later one is a duplicate when its content is the same and
    a conflict (rejected, naming the other file and line) when it is not.
    """
    repeats = _in_file_repeats(
        table, lines, where=lambda p: f"{names[file_of[p]]} line {lines[p]}",
        what=f"{CONFLICT_IN_FILE}s of the month")
    rejects = repeats.rejects.assign(file=[names[file_of[p]] for p in repeats.conflicts])
    return repeats.keep, repeats.duplicates, rejects
