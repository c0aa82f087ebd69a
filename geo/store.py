"""A durable, server-free incident store: a Parquet dataset plus one JSON manifest.

Why this design
---------------
* **All or nothing.** A commit replaces ``manifest.json`` with one atomic ``os.replace``.
  Readers only ever read the files the manifest lists, so a running dashboard sees the whole
  batch or none of it, and a crash or ``kill -9`` at any point leaves either the previous
  manifest or the new one in force, each with all its files.
* **Nothing unlisted in the dataset folder.** ``incidents/`` holds only files the committed
  manifest lists, at every instant, so DuckDB, QGIS or pandas pointed at the folder never see
  phantom rows. A writer (see :meth:`Store._publish`) stages new files under ``_staging/`` and
  moves the files it will drop out there too, commits the manifest, then moves the new files
  into ``incidents/`` and deletes the dropped ones. A listed file is therefore in one of two
  places, ``incidents/...`` or its staging path (:meth:`Store.staged_path`); readers try both.
  The next writer, under the lock, finishes any moves a crash interrupted and clears
  ``_staging/``.
* **Readers never wait.** Writers take an exclusive ``flock`` on ``.lock``; readers take no lock:
  they read a manifest (always complete, thanks to the atomic replace) and then its files, which
  are immutable once listed (a file that vanishes was dropped by a newer commit: the reader
  starts again from the new manifest).
* **Open format.** Hive-partitioned Parquet (``year=``) is what DuckDB, Spark, QGIS and pandas
  read directly, so a force can point a bigger engine at the same folder later.

An embedded database (SQLite, DuckDB) would also give atomic batches, but adds a second
representation of the same columns; numpy arrays loaded straight from Parquet are what the
engine computes on.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.atomic import fsync_dir, fsync_file, write_bytes_atomic
from geo.csvsafe import to_csv_text
from geo.disclosure import record_keys
from geo.schema import (
    CONTENT_COLUMNS,
    STORED_SCHEMA,
    content_differences,
    describe_differences,
    make_rejects,
    row_text,
)

if TYPE_CHECKING:
    from geo.settings import DataPaths

MANIFEST = "manifest.json"
FORMAT_VERSION = 1
#: The hive-partitioned dataset folder: only files the manifest lists are ever in it.
INCIDENTS = "incidents"
#: Where files wait before they are listed, and after they are dropped, outside the dataset.
STAGING = "_staging"
#: Longest raw row text kept in a rejects file (a spreadsheet cell holds 32,767 characters).
REJECT_RAW_CHARS = 2_000
#: Kinds of id conflict, as their reasons begin (``reason_key`` groups by this).
CONFLICT_IN_FILE = "id conflict within the file"
CONFLICT_WITH_STORE = "id conflict with the store"


def _fault(point: str) -> None:
    """Test hook: kill this process with SIGKILL at a named step of a write.

    ``HOTSPOT_FAULT_KILL_AT=<point>`` makes the crash tests deterministic: the process dies at
    exactly that step, as it would from ``kill -9`` or a power cut, with no timing involved.
    """
    if os.environ.get("HOTSPOT_FAULT_KILL_AT") == point:
        os.kill(os.getpid(), signal.SIGKILL)


#: Every step :func:`_fault` can stop at, in the order a write passes them.
FAULT_POINTS = (
    "staging",    # the first new file is written under _staging/, others are not
    "staged",     # every new file is staged; nothing else has changed
    "retiring",   # the first file to drop has been moved out of incidents/
    "retired",    # every file to drop is out of incidents/; the manifest is not yet replaced
    "committed",  # the new manifest is in force; its new files are still staged
    "moving",     # the first new file has been moved into incidents/
    "moved",      # every new file is in incidents/; dropped files are not yet deleted
)


@dataclass
class BatchRecord:
    """One committed ingest batch as the manifest records it."""

    batch_id: str
    source_file: str
    ingested_at: str
    rows: int
    files: list[str]
    rejects_file: str | None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass
class Manifest:
    """The list of visible batches; ``version`` grows by one at every commit."""

    version: int = 0
    kind: str = "empty"  # "empty", "sample" (the bundled synthetic set) or "user"
    batches: list[BatchRecord] = field(default_factory=list)
    #: Files that :meth:`Store.compact` merged from several batches' files (each row's
    #: ``batch_id`` still says which batch it came in); a batch's own ``files`` then lists
    #: only what was not merged.
    compacted: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        """Incidents visible in the store."""
        return sum(b.rows for b in self.batches)

    @property
    def last_ingested(self) -> str | None:
        """ISO time of the newest batch, or None for an empty store."""
        return max((b.ingested_at for b in self.batches), default=None)

    def arrived(self, source: str) -> str | None:
        """ISO time of the newest batch that added rows of ``source``.

        Batches committed before sources were recorded per batch count for every source.
        """
        return max((b.ingested_at for b in self.batches
                    if b.summary.get("rows_by_source", {source: 1}).get(source, 0) > 0),
                   default=None)

    @property
    def files(self) -> list[str]:
        """Every listed data file, relative to the store folder."""
        return [*self.compacted, *(f for b in self.batches for f in b.files)]

    @property
    def rejected(self) -> int:
        """Rows rejected across all batches."""
        return sum(int(b.summary.get("rejected", 0)) for b in self.batches)

    def to_json(self) -> str:
        """Serialise for ``manifest.json``."""
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "version": self.version,
                "kind": self.kind,
                "batches": [b.__dict__ for b in self.batches],
                "compacted": self.compacted,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Parse ``manifest.json``."""
        raw = json.loads(text)
        return cls(
            version=int(raw["version"]),
            kind=str(raw.get("kind", "user")),
            batches=[BatchRecord(**b) for b in raw.get("batches", [])],
            compacted=[str(f) for f in raw.get("compacted", [])],
        )


@dataclass
class CompactResult:
    """What :meth:`Store.compact` did."""

    manifest: Manifest
    #: Small files merged, and the files they became.
    files_merged: int
    files_written: int
    rows: int
    #: Of the files merged, those written before record keys (now added).
    files_keyed: int = 0


@dataclass
class CommitResult:
    """What a commit did: the batch it recorded and the rows it kept out as already stored."""

    record: BatchRecord
    #: Rows whose id is already stored with the same content (an exact repeat).
    duplicates: int = 0
    #: Rows whose id is already stored with different content; they are in the rejects file.
    conflicts: int = 0


class Store:
    """The incident store in one folder.

    Parameters
    ----------
    root : Path
        The store folder (``<data dir>/store``); created on first write.
    record_key : str, optional
        The site's secret for record keys (:meth:`geo.settings.DataPaths.record_key`): each
        row written gets its key (``rkey``), so every engine sums the same keys. Without it
        rows are written with none and get the hash of their id when read (tests, tools).
    """

    def __init__(self, root: Path, record_key: str | None = None) -> None:
        self.root = Path(root)
        self.record_key = record_key

    @classmethod
    def of(cls, data: DataPaths) -> Store:
        """Return the store of data directory ``data``, writing record keys with its secret."""
        return cls(data.store, record_key=data.record_key())

    def _keyed(self, table: pa.Table, fresh: bool = False) -> pa.Table:
        """Return ``table`` with each row's record key where it has none (when keys are set).

        ``fresh``: rows being stored now, whose keys (if they came with any) are worked out
        again from their ids; without :attr:`record_key` they are stored with none.
        """
        at = table.schema.get_field_index("rkey")
        if fresh and at >= 0:
            table, at = table.remove_column(at), -1
        if self.record_key is None:
            if fresh:
                return table.append_column(STORED_SCHEMA.field("rkey"),
                                           pa.nulls(table.num_rows, pa.uint32()))
            return table
        if at >= 0 and table.column(at).null_count == 0:
            return table
        keys = pa.array(record_keys(table.column("incident_id"), self.record_key,
                                    table.column(at) if at >= 0 else None), pa.uint32())
        if at < 0:
            return table.append_column(STORED_SCHEMA.field("rkey"), keys)
        return table.set_column(at, STORED_SCHEMA.field("rkey"), keys)

    def unkeyed_files(self, manifest: Manifest | None = None) -> list[str]:
        """Return the listed files with rows stored before record keys were (from footers)."""
        manifest = self.manifest() if manifest is None else manifest
        out = []
        for rel in manifest.files:
            try:
                meta = pq.ParquetFile(self.path_now(rel)).metadata
            except FileNotFoundError:
                continue
            names = [meta.schema.column(i).name for i in range(meta.num_columns)]
            if "rkey" not in names:
                out.append(rel)
                continue
            at = names.index("rkey")
            for g in range(meta.num_row_groups):
                stats = meta.row_group(g).column(at).statistics
                if stats is None or not stats.has_null_count or stats.null_count:
                    out.append(rel)
                    break
        return out

    def path_now(self, rel: str) -> Path:
        """Return where the listed file ``rel`` is now: in ``incidents/``, else its staging path.

        A file in neither place was moved in between the two looks (it is in ``incidents/``
        now) or was dropped by a newer commit (opening it fails; read the manifest again).
        """
        final = self.root / rel
        staged = self.staged_path(rel)
        return staged if not final.exists() and staged.exists() else final

    # -- reading -----------------------------------------------------------------------------
    @property
    def manifest_path(self) -> Path:
        """Path of the manifest file."""
        return self.root / MANIFEST

    def manifest(self) -> Manifest:
        """Return the committed manifest (an empty one if nothing was ever committed)."""
        try:
            return Manifest.from_json(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Manifest()

    def stamp(self) -> tuple[int, int] | None:
        """Return a cheap change marker (inode, mtime) of the manifest, or None if absent."""
        try:
            st = self.manifest_path.stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_mtime_ns)

    def staged_path(self, rel: str) -> Path:
        """Return where the listed file ``rel`` waits while it is outside ``incidents/``.

        ``incidents/year=2024/B.parquet`` waits at ``_staging/B/year=2024/B.parquet``: before
        a commit moves it in, or after a commit that drops it moved it out.
        """
        parts = PurePosixPath(rel)
        return self.root / STAGING / parts.stem / Path(*parts.parts[1:])

    def _read_file(self, rel: str, columns: list[str] | None) -> tuple[pa.Table, bool]:
        """Read one listed file from ``incidents/`` or, if it is not there, from staging.

        Returns the table and whether it came from staging. The file is opened once and read
        through that handle, so a writer moving or deleting it meanwhile does not disturb the
        read. Its final path is tried again last: a writer may move it there between the first
        two tries.
        """
        tries = (self.root / rel, self.staged_path(rel), self.root / rel)
        for i, path in enumerate(tries):
            try:
                source = pa.memory_map(str(path))
            except FileNotFoundError:
                continue
            with source:
                return pq.read_table(source, columns=columns, schema=STORED_SCHEMA), i == 1
        raise FileNotFoundError(rel)

    def read(self, columns: list[str] | None = None) -> tuple[Manifest, pa.Table]:
        """Return the manifest and every visible incident as one Arrow table.

        A commit that drops files while this reads (a sample swapped for user data, a
        relabel) makes a listed file vanish; the read then starts again from the new manifest.
        """
        for attempt in range(5):
            manifest = self.manifest()
            try:
                found = [self._read_file(f, columns) for f in manifest.files]
            except FileNotFoundError:
                if attempt == 4:
                    raise
                time.sleep(0.05)
                continue
            tables = [t for t, _ in found]
            if any(staged for _, staged in found):
                self._finish_if_idle()
            schema = STORED_SCHEMA if columns is None else pa.schema(
                [STORED_SCHEMA.field(c) for c in columns]
            )
            if not tables:
                return manifest, schema.empty_table()
            return manifest, pa.concat_tables(tables)
        raise AssertionError("unreachable")

    def existing_ids(self, manifest: Manifest) -> pa.Array:
        """Return every incident id listed by ``manifest``."""
        return self._listed_column(manifest, ["incident_id"]).column(0).combine_chunks()

    def _listed_column(self, manifest: Manifest, columns: list[str]) -> pa.Table:
        schema = pa.schema([STORED_SCHEMA.field(c) for c in columns])
        tables = [self._read_file(f, columns)[0] for f in manifest.files]
        return pa.concat_tables(tables) if tables else schema.empty_table()

    def _finish_if_idle(self) -> None:
        """Finish a crashed writer's moves if no writer holds the lock (a reader's courtesy).

        A listed file still in staging means a writer is between its commit and its moves, or
        died there. If the lock is free, no writer is alive: finishing the moves now means
        tools reading ``incidents/`` directly see every listed row without waiting for the next
        ingest. A store the reader may not write to is left for the next writer.
        """
        with contextlib.ExitStack() as stack:
            try:
                fh = stack.enter_context(open(self.root / ".lock", "a+"))
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return  # a writer is at work (it finishes the moves), or the store is read-only
            try:
                self._recover()
            except OSError:
                pass  # left for the next writer
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                self._recover()
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def commit(
        self,
        table: pa.Table,
        *,
        source_file: str,
        rejects: pd.DataFrame,
        summary: dict[str, Any],
        kind: str,
        dedupe: bool = True,
        lines: np.ndarray | None = None,
        extend_sample: bool = False,
    ) -> CommitResult:
        """Add ``table`` as one batch, atomically.

        A row whose ``incident_id`` is already stored is kept out: as a duplicate when its
        content (:data:`geo.schema.CONTENT_COLUMNS`) is the same, so re-ingesting a file adds
        nothing, or as a conflict, written to the rejects file with what differs, when it is
        not. ``lines`` (the input line of each row) goes into those rejects. A ``kind="user"``
        commit into a store that holds the synthetic sample drops the sample in the same
        atomic step: the sample is never mixed with real data. A ``kind="sample"`` commit
        replaces everything, unless ``extend_sample`` adds it to a stored sample (the sample is
        several files); into a store of the user's data it is refused.
        """
        if extend_sample and kind != "sample":
            raise ValueError("extend_sample adds a sample file to the stored sample; kind must "
                             "be 'sample'")
        with self._locked():
            current = self.manifest()
            if extend_sample and current.kind == "user":
                raise ValueError("the store holds the user's own data; the synthetic sample is "
                                 "never mixed with it")
            replace_all = (current.kind == "sample" and kind == "user"
                           or kind == "sample" and not extend_sample)
            base = Manifest(version=current.version) if replace_all else current
            lines = np.zeros(table.num_rows, dtype="int64") if lines is None else np.asarray(
                lines, dtype="int64")
            duplicates, conflicts = 0, make_rejects([], [])
            if dedupe and base.batches and table.num_rows:
                table, lines, duplicates, conflicts = self._known(table, lines, base)
            batch_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            table = self._keyed(table, fresh=True)
            table = table.set_column(
                table.schema.get_field_index("batch_id"),
                STORED_SCHEMA.field("batch_id"),
                pa.array([batch_id] * table.num_rows, type=pa.string()),
            )
            files = self._stage(table, batch_id) if table.num_rows else []
            all_rejects = pd.concat([rejects, conflicts], ignore_index=True) if len(
                conflicts) else rejects
            rejects_file = self._write_rejects(all_rejects, batch_id, source_file)
            by_reason = Counter(summary.get("conflicts_by_reason", {}))
            # what each source added, so a board can say when each source's data last arrived
            by_source = {str(v["values"]): int(v["counts"]) for v in
                         pc.value_counts(table.column("source")).to_pylist()}
            if len(conflicts):
                by_reason[CONFLICT_WITH_STORE] += len(conflicts)
            record = BatchRecord(
                batch_id=batch_id,
                source_file=source_file,
                ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
                rows=table.num_rows,
                files=files,
                rejects_file=rejects_file,
                summary={
                    **summary,
                    "duplicates": summary.get("duplicates", 0) + duplicates,
                    "conflicts": summary.get("conflicts", 0) + len(conflicts),
                    "conflicts_by_reason": dict(by_reason),
                    "rows_by_source": dict(sorted(by_source.items())),
                },
            )
            new = Manifest(
                version=current.version + 1,
                kind=kind if (replace_all or current.kind == "empty") else current.kind,
                batches=[*base.batches, record],
                compacted=list(base.compacted),
            )
            self._publish(new, retire=current.files if replace_all else [], add=files)
            return CommitResult(record, duplicates, len(conflicts))

    def _known(
        self, table: pa.Table, lines: np.ndarray, base: Manifest
    ) -> tuple[pa.Table, np.ndarray, int, pd.DataFrame]:
        """Split off rows whose id ``base`` already holds: duplicates, and conflicts as rejects."""
        files = base.files
        rows, file_of, local_rows = self._find_stored(files, table.column("incident_id"))
        if not len(rows):
            return table, lines, 0, make_rejects([], [])
        # Content is read only from the files that hold a known id (usually few or none).
        content = ["incident_id", *CONTENT_COLUMNS, "batch_id"]
        parts, order = [], []
        for k in np.unique(file_of):
            mine = np.flatnonzero(file_of == k)
            parts.append(self._read_rows(files[k], content, local_rows[mine]))
            order.append(mine)
        stored = pa.concat_tables(parts).take(pa.array(np.argsort(np.concatenate(order))))
        here = table.take(pa.array(rows))
        differs = content_differences(here, stored)
        conflict = np.logical_or.reduce(list(differs.values()))
        bad = np.flatnonzero(conflict)
        sources = {b.batch_id: Path(b.source_file).name for b in base.batches}
        ids = here.column("incident_id").take(pa.array(bad)).to_pylist()
        from_batch = stored.column("batch_id").take(pa.array(bad)).to_pylist()
        how = describe_differences(here, stored, differs, bad, "stored")
        reasons = [
            f"{CONFLICT_WITH_STORE}: id '{i}' is already stored (from {sources.get(b, b)}) with "
            f"{h}" for i, b, h in zip(ids, from_batch, how, strict=True)
        ]
        rejects = make_rejects(lines[rows[bad]], reasons, row_text(here.take(pa.array(bad))))
        keep = np.ones(table.num_rows, dtype=bool)
        keep[rows] = False
        return (table.filter(pa.array(keep)), lines[keep], int((~conflict).sum()), rejects)

    def _read_rows(self, rel: str, columns: list[str], rows: np.ndarray) -> pa.Table:
        """Read ``rows`` (positions in the file) of a listed file, opening only their groups.

        Call under the lock: the file is then in ``incidents/``.
        """
        with pq.ParquetFile(self.root / rel) as f:
            sizes = [f.metadata.row_group(g).num_rows for g in range(f.num_row_groups)]
            starts = np.cumsum([0, *sizes])
            group_of = np.searchsorted(starts, rows, side="right") - 1
            groups = np.unique(group_of)
            part = f.read_row_groups([int(g) for g in groups], columns=columns)
        # positions within the groups read, which sit one after another
        offsets = np.cumsum([0, *(sizes[g] for g in groups)])
        at = offsets[np.searchsorted(groups, group_of)] + rows - starts[group_of]
        return part.take(pa.array(at))

    def _find_stored(self, files: list[str], ids: pa.ChunkedArray
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Find which of ``ids`` the listed ``files`` already hold (call under the lock).

        Returns the positions in ``ids`` that are stored (ascending), and for each the index
        in ``files`` and the row in that file holding it (the first, should an id be stored
        twice). DuckDB scans only the files' ``incident_id`` column and joins it to the new
        ids, streaming: a commit into a store of tens of millions of rows neither reads every
        id into memory nor takes long.
        """
        import duckdb

        none = np.zeros(0, dtype=np.int64)
        if not files or not len(ids):
            return none, none, none
        paths = [str((self.root / f).resolve()) for f in files]
        index = {p: k for k, p in enumerate(paths)}
        new = pa.table({"id": ids, "pos": pa.array(np.arange(len(ids), dtype=np.int64))})
        con = duckdb.connect(":memory:")
        try:
            con.register("new_ids", new)
            listed = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
            found = con.execute(
                f"SELECT n.pos, s.filename, s.file_row_number "
                f"FROM read_parquet({listed}, filename = true, file_row_number = true, "
                f"union_by_name = true, hive_partitioning = false) AS s "
                f"JOIN new_ids AS n ON s.incident_id = n.id").fetchnumpy()
        finally:
            con.close()
        if not len(found["pos"]):
            return none, none, none
        pos = np.asarray(found["pos"], dtype=np.int64)
        file_k = np.array([index[str(f)] for f in found["filename"]], dtype=np.int64)
        row = np.asarray(found["file_row_number"], dtype=np.int64)
        order = np.lexsort((row, file_k, pos))
        pos, file_k, row = pos[order], file_k[order], row[order]
        first = np.concatenate([[True], pos[1:] != pos[:-1]])
        return pos[first], file_k[first], row[first]

    def _write_rejects(self, rejects: pd.DataFrame, batch_id: str, source_file: str) -> str | None:
        """Write the batch's rejects file; its text is made safe to open in a spreadsheet."""
        if not len(rejects):
            return None
        rejects_dir = self.root / "rejects"
        rejects_dir.mkdir(parents=True, exist_ok=True)
        name = f"{batch_id}-{Path(source_file).name}.rejects.csv"
        raw = rejects["raw"].astype(str).str.replace("\x00", "\u2400", regex=False)
        long = raw.str.len() > REJECT_RAW_CHARS
        if long.any():
            raw = raw.where(~long, raw.str.slice(0, REJECT_RAW_CHARS) + " … ("
                            + raw.str.len().astype(str) + " characters in all)")
        # an archive's batch holds several files: each rejected row names its own
        file = (rejects["file"].where(rejects["file"].notna(), source_file).astype(str)
                if "file" in rejects.columns else source_file)
        out = pd.DataFrame({
            "file": file,
            "line": rejects["line"].astype("int64"),
            "reason": rejects["reason"].astype(str),
            "raw": raw,
        }).sort_values("line", kind="stable")
        write_bytes_atomic(rejects_dir / name, to_csv_text(out).encode("utf-8"))
        return f"rejects/{name}"

    def _stage(self, table: pa.Table, stem: str) -> list[str]:
        """Write ``table`` as yearly files under staging; return their final (listed) paths."""
        years = pc.year(table.column("occurred_at"))
        month_years = pc.cast(pc.utf8_slice_codeunits(table.column("month"), 0, 4), pa.int32())
        years = pc.coalesce(years, month_years)

        def write(year: int) -> str:
            part = _in_time_order(table.filter(pc.equal(years, year)))
            rel = f"{INCIDENTS}/year={year}/{stem}.parquet"
            path = self.staged_path(rel)
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(part, path, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            fsync_file(path)
            _fault("staging")
            return rel

        # Arrow releases the GIL while encoding, so the yearly files are written side by side.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            written = list(pool.map(write, sorted(set(years.to_pylist()))))
        for rel in written:
            fsync_dir(self.staged_path(rel).parent)
        _fault("staged")
        return written

    def _move(self, src: Path, dest: Path) -> None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(src, dest)
        fsync_dir(dest.parent)
        fsync_dir(src.parent)

    def _publish(self, new: Manifest, *, retire: list[str], add: list[str]) -> None:
        """Make ``new`` the committed manifest, keeping ``incidents/`` to what is listed.

        ``add`` are new listed files, already staged; ``retire`` are files the current manifest
        lists and ``new`` does not. Each step leaves every file of the manifest in force either
        in ``incidents/`` or at its staging path, and nothing else in ``incidents/``:

        1. the files to drop move out to staging (the old manifest, still in force, finds
           them there);
        2. the manifest is replaced (the atomic commit);
        3. the new files move into ``incidents/``;
        4. the dropped files are deleted.

        A crash anywhere is finished by the next writer's :meth:`_recover`.
        """
        for i, rel in enumerate(retire):
            self._move(self.root / rel, self.staged_path(rel))
            if i == 0:
                _fault("retiring")
        _fault("retired")
        pause = os.environ.get("HOTSPOT_FAULT_PAUSE_BEFORE_COMMIT")
        if pause:  # fault-injection point for the kill test: files staged, not yet listed
            time.sleep(float(pause))
        write_bytes_atomic(self.manifest_path, new.to_json().encode())
        _fault("committed")
        for i, rel in enumerate(add):
            self._move(self.staged_path(rel), self.root / rel)
            if i == 0:
                _fault("moving")
        _fault("moved")
        self._clear_staging()

    def _recover(self) -> None:
        """Finish what a crashed writer left (call under the lock).

        Listed files still staged move into ``incidents/`` (the commit happened, the moves did
        not); everything else in staging was never committed or was dropped, and is deleted;
        unlisted files in ``incidents/`` (left by versions before staging moved out of it) are
        deleted too.
        """
        listed = self.manifest().files
        for rel in listed:
            staged = self.staged_path(rel)
            if not (self.root / rel).exists() and staged.exists():
                self._move(staged, self.root / rel)
        self._clear_staging()
        incidents = self.root / INCIDENTS
        if incidents.exists():
            keep = set(listed)
            for path in incidents.rglob("*.parquet"):
                if path.relative_to(self.root).as_posix() not in keep:
                    path.unlink(missing_ok=True)
            _prune_empty(incidents)

    def _clear_staging(self) -> None:
        shutil.rmtree(self.root / STAGING, ignore_errors=True)
        _prune_empty(self.root / INCIDENTS)

    def rewrite(self, transform: Callable[[pa.Table], pa.Table]) -> Manifest:
        """Rewrite every batch through ``transform(table) -> table``, atomically.

        Used when derived keys change (new boundaries): batches keep their provenance, their
        files are replaced by new ones, and the swap is one manifest replace.
        """
        with self._locked():
            current = self.manifest()
            batches, add = [], []
            for b in current.batches:
                if not b.files:
                    batches.append(b)
                    continue
                table = self._keyed(transform(
                    pa.concat_tables([self._read_file(f, None)[0] for f in b.files])))
                files = self._stage(table, f"{b.batch_id}-r{uuid.uuid4().hex[:6]}")
                add += files
                batches.append(BatchRecord(**{**b.__dict__, "files": files}))
            compacted = []
            for rel in current.compacted:
                files = self._stage(self._keyed(transform(self._read_file(rel, None)[0])),
                                    f"compacted-{uuid.uuid4().hex[:12]}")
                add += files
                compacted += files
            new = Manifest(version=current.version + 1, kind=current.kind, batches=batches,
                           compacted=compacted)
            self._publish(new, retire=current.files, add=add)
            return new

    def compact(self, *, small_rows: int = 1_000_000,
                file_rows: int = 8_000_000) -> CompactResult:
        """Merge each year's small files into few large ones, in time order, atomically.

        Live feeds and daily imports add a file per batch and year; a store of thousands of
        small files is slow to open for every reader. Files of fewer than ``small_rows`` rows
        in a year with more than one of them are read a month at a time, sorted by time and
        written again as files of about ``file_rows`` rows (a month is never split), with one
        month's rows in memory at a time. The swap is one manifest replace (the same
        crash-safe steps as a commit, :meth:`_publish`): a ``kill -9`` at any point leaves
        either the store as it was or the compacted store, never both or neither. Batches
        keep their provenance; each row's ``batch_id`` still says where it came from. With
        :attr:`record_key` set, files stored before record keys were (see
        :meth:`unkeyed_files`) are written again with them, whatever their size.
        """
        with self._locked():
            current = self.manifest()
            by_year: dict[str, list[str]] = {}
            # files stored before record keys are written again with them, whatever their size
            unkeyed = set(self.unkeyed_files(current)) if self.record_key else set()
            for rel in current.files:
                if rel in unkeyed or pq.ParquetFile(self.root / rel).metadata.num_rows < small_rows:
                    by_year.setdefault(PurePosixPath(rel).parent.name, []).append(rel)
            merge = {y: files for y, files in by_year.items()
                     if len(files) > 1 or unkeyed.intersection(files)}
            if not merge:
                return CompactResult(current, 0, 0, 0)
            add, merged, rows = [], set(), 0
            for year, files in sorted(merge.items()):
                written, n = self._merge_files(year, files, file_rows)
                add += written
                merged.update(files)
                rows += n
            for rel in add:
                fsync_dir(self.staged_path(rel).parent)
            _fault("staged")
            batches = [BatchRecord(**{**b.__dict__,
                                      "files": [f for f in b.files if f not in merged]})
                       for b in current.batches]
            new = Manifest(version=current.version + 1, kind=current.kind, batches=batches,
                           compacted=[*(f for f in current.compacted if f not in merged),
                                      *add])
            self._publish(new, retire=sorted(merged), add=add)
            return CompactResult(new, len(merged), len(add), rows, len(unkeyed & merged))


    def _merge_files(self, year_dir: str, files: list[str],
                     file_rows: int) -> tuple[list[str], int]:
        """Write ``files`` (one year's) again as staged files in time order, a month at a time.

        Only one month's rows are in memory at once, whatever the size of the year: each
        month is read from every file (row groups outside it are skipped by their statistics
        once files are in time order), sorted, and appended to the file being written, which
        is closed at ``file_rows`` rows. Returns the new files' listed paths and the rows.
        """
        paths = [self.root / rel for rel in files]
        months = sorted(set().union(*(
            pc.unique(pq.read_table(p, columns=["month"]).column(0)).to_pylist()
            for p in paths)))
        written: list[str] = []
        writer: pq.ParquetWriter | None = None
        in_file = total = 0

        def close() -> None:
            nonlocal writer
            if writer is not None:
                writer.close()
                fsync_file(self.staged_path(written[-1]))
                if len(written) == 1:
                    _fault("staging")
                writer = None

        for month in months:
            part = self._keyed(_in_time_order(pa.concat_tables([
                pq.read_table(p, schema=STORED_SCHEMA, filters=[("month", "==", month)])
                for p in paths])))
            if writer is None or in_file >= file_rows:
                close()
                rel = f"{INCIDENTS}/{year_dir}/compacted-{uuid.uuid4().hex[:12]}.parquet"
                self.staged_path(rel).parent.mkdir(parents=True, exist_ok=True)
                writer = pq.ParquetWriter(self.staged_path(rel), STORED_SCHEMA,
                                          compression="zstd")
                written.append(rel)
                in_file = 0
            writer.write_table(part, row_group_size=ROW_GROUP_ROWS)
            in_file += part.num_rows
            total += part.num_rows
        close()
        return written, total


#: Rows per Parquet row group: each group's min and max (of ``month``, ``local_date``...) let
#: a reader skip it, so a store sorted by time answers a date range from few groups.
ROW_GROUP_ROWS = 256_000


def _in_time_order(table: pa.Table) -> pa.Table:
    """Return ``table``'s rows sorted by month, then category, local date and hour.

    Sorted files make each row group cover a short span of time and, within a month, few
    categories, so the row-group statistics of ``month`` and ``category`` let DuckDB, Spark
    or pyarrow skip most of a national store for a date range or a crime type (a one-category
    query over a month read 1.6 times faster than with rows in time order alone).
    Month-only rows come first in their month.
    """
    if table.num_rows < 2:
        return table
    order = pc.sort_indices(table, sort_keys=[("month", "ascending", "at_start"),
                                              ("category", "ascending", "at_start"),
                                              ("local_date", "ascending", "at_start"),
                                              ("hour", "ascending", "at_start")])
    return table.take(order)


def _prune_empty(folder: Path) -> None:
    """Remove empty ``year=`` folders, so the dataset folder holds only what is listed."""
    if not folder.exists():
        return
    for sub in folder.iterdir():
        if sub.is_dir() and not any(sub.iterdir()):
            with contextlib.suppress(OSError):
                sub.rmdir()
