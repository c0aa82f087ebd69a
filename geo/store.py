"""A durable, server-free incident store: a Parquet dataset plus one JSON manifest.

Why this design
---------------
* **All or nothing.** An ingest writes its Parquet files under ``_staging/``, renames them into
  ``incidents/year=YYYY/`` (not yet listed, so invisible), then replaces ``manifest.json`` with
  one atomic ``os.replace``. Readers only ever read the files the manifest lists, so a running
  dashboard sees the whole batch or none of it, and a crash or ``kill -9`` at any point leaves
  the previous manifest, and so the previous store, in force. Unlisted files left by a crash are
  swept up by the next ingest.
* **Readers never wait.** Writers take an exclusive ``flock`` on ``.lock``; readers take no lock:
  they read a manifest (always complete, thanks to the atomic replace) and then its files, which
  are immutable once listed.
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
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.atomic import replace_durably, write_bytes_atomic
from geo.schema import STORED_SCHEMA

MANIFEST = "manifest.json"
FORMAT_VERSION = 1


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

    @property
    def rows(self) -> int:
        """Incidents visible in the store."""
        return sum(b.rows for b in self.batches)

    @property
    def last_ingested(self) -> str | None:
        """ISO time of the newest batch, or None for an empty store."""
        return max((b.ingested_at for b in self.batches), default=None)

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
        )


class Store:
    """The incident store in one folder.

    Parameters
    ----------
    root : Path
        The store folder (``<data dir>/store``); created on first write.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

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

    def read(self, columns: list[str] | None = None) -> tuple[Manifest, pa.Table]:
        """Return the manifest and every visible incident as one Arrow table.

        A commit that replaces files while this reads (a sample swapped for user data) makes a
        listed file vanish; the read then starts again from the new manifest.
        """
        for attempt in range(5):
            manifest = self.manifest()
            paths = [self.root / f for b in manifest.batches for f in b.files]
            try:
                tables = [pq.read_table(p, columns=columns, schema=STORED_SCHEMA) for p in paths]
            except FileNotFoundError:
                if attempt == 4:
                    raise
                time.sleep(0.05)
                continue
            schema = STORED_SCHEMA if columns is None else pa.schema(
                [STORED_SCHEMA.field(c) for c in columns]
            )
            if not tables:
                return manifest, schema.empty_table()
            return manifest, pa.concat_tables(tables)
        raise AssertionError("unreachable")

    # -- writing -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def existing_ids(self, manifest: Manifest) -> pa.Array:
        """Return every incident id listed by ``manifest``."""
        paths = [self.root / f for b in manifest.batches for f in b.files]
        if not paths:
            return pa.array([], type=pa.string())
        return pa.concat_arrays(
            [
                pq.read_table(p, columns=["incident_id"]).column(0).combine_chunks()
                for p in paths
            ]
        )

    def commit(
        self,
        table: pa.Table,
        *,
        source_file: str,
        rejects: pd.DataFrame,
        summary: dict[str, Any],
        kind: str,
        dedupe: bool = True,
    ) -> tuple[BatchRecord | None, int]:
        """Add ``table`` as one batch, atomically; return the record and the duplicates skipped.

        Rows whose ``incident_id`` is already stored are skipped (so re-ingesting a file adds
        nothing). A ``kind="user"`` commit into a store that holds the synthetic sample drops
        the sample in the same atomic step: the sample is never mixed with real data.
        """
        with self._locked():
            self._sweep_orphans()
            current = self.manifest()
            replace_all = current.kind == "sample" and kind == "user" or kind == "sample"
            base = Manifest(version=current.version) if replace_all else current
            duplicates = 0
            if dedupe and base.batches and table.num_rows:
                seen = pc.is_in(table.column("incident_id"), value_set=self.existing_ids(base))
                duplicates = int(pc.sum(seen).as_py() or 0)
                table = table.filter(pc.invert(seen))
            batch_id = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
            table = table.set_column(
                table.schema.get_field_index("batch_id"),
                STORED_SCHEMA.field("batch_id"),
                pa.array([batch_id] * table.num_rows, type=pa.string()),
            )
            files = self._write_files(table, batch_id) if table.num_rows else []
            rejects_file = None
            if len(rejects):
                rejects_dir = self.root / "rejects"
                rejects_dir.mkdir(parents=True, exist_ok=True)
                rejects_name = f"{batch_id}-{Path(source_file).name}.rejects.csv"
                out = rejects.assign(file=source_file)[["file", "line", "reason", "raw"]]
                write_bytes_atomic(rejects_dir / rejects_name, out.to_csv(index=False).encode())
                rejects_file = f"rejects/{rejects_name}"
            record = BatchRecord(
                batch_id=batch_id,
                source_file=source_file,
                ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
                rows=table.num_rows,
                files=files,
                rejects_file=rejects_file,
                summary={**summary, "duplicates": summary.get("duplicates", 0) + duplicates},
            )
            new = Manifest(
                version=current.version + 1,
                kind=kind if (replace_all or current.kind == "empty") else current.kind,
                batches=[*base.batches, record],
            )
            pause = os.environ.get("HOTSPOT_FAULT_PAUSE_BEFORE_COMMIT")
            if pause:  # fault-injection point for the kill test: files written, not yet listed
                time.sleep(float(pause))
            write_bytes_atomic(self.manifest_path, new.to_json().encode())
            if replace_all:
                self._sweep_orphans()
            return record, duplicates

    def _write_files(self, table: pa.Table, batch_id: str) -> list[str]:
        staging = self.root / "_staging" / batch_id
        staging.mkdir(parents=True, exist_ok=True)
        years = pc.year(table.column("occurred_at"))
        month_years = pc.cast(pc.utf8_slice_codeunits(table.column("month"), 0, 4), pa.int32())
        years = pc.coalesce(years, month_years)

        def write(year: int) -> str:
            part = table.filter(pc.equal(years, year))
            rel = f"incidents/year={year}/{batch_id}.parquet"
            tmp = staging / f"year={year}.parquet"
            pq.write_table(part, tmp, compression="zstd", row_group_size=256_000)
            dest = self.root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            replace_durably(tmp, dest)
            return rel

        # Arrow releases the GIL while encoding, so the yearly files are written side by side.
        with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
            written = list(pool.map(write, sorted(set(years.to_pylist()))))
        shutil.rmtree(staging, ignore_errors=True)
        return written

    def _sweep_orphans(self) -> None:
        """Delete data files no manifest lists (left by a crashed or superseded ingest)."""
        listed = {f for b in self.manifest().batches for f in b.files}
        shutil.rmtree(self.root / "_staging", ignore_errors=True)
        incidents = self.root / "incidents"
        if incidents.exists():
            for path in incidents.rglob("*.parquet"):
                if path.relative_to(self.root).as_posix() not in listed:
                    path.unlink(missing_ok=True)

    def rewrite(self, transform: Any) -> Manifest:
        """Rewrite every batch through ``transform(table) -> table``, atomically.

        Used when derived keys change (new boundaries): batches keep their provenance, their
        files are replaced by new ones, and the swap is one manifest replace.
        """
        with self._locked():
            self._sweep_orphans()
            current = self.manifest()
            batches = []
            for b in current.batches:
                tables = [pq.read_table(self.root / f, schema=STORED_SCHEMA) for f in b.files]
                if not tables:
                    batches.append(b)
                    continue
                table = transform(pa.concat_tables(tables))
                suffix = uuid.uuid4().hex[:6]
                files = self._write_files(table, f"{b.batch_id}-r{suffix}")
                batches.append(BatchRecord(**{**b.__dict__, "files": files}))
            new = Manifest(version=current.version + 1, kind=current.kind, batches=batches)
            write_bytes_atomic(self.manifest_path, new.to_json().encode())
            self._sweep_orphans()
            return new
