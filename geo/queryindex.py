"""The store's query index: the columns the Explorer counts, coded, in one DuckDB file.

Over the Parquet files a national store's filter change costs two scans of about 250 and
370 ms at 50 million incidents on two cores (docs/ENGINES.md): most of it decoding
compressed text and testing it, row by row. The index holds the same rows, copied from
the files a manifest lists, in a form DuckDB counts three times faster:

* text that filters or names places (crime type, source, authority, street, LSOA) as DuckDB
  ``ENUM`` columns, compared as small integers;
* each row's weekday-and-hour slot, the finest H3 resolution its place allows, its month as
  a number and the first and last day it can fall on, worked out once here rather than on
  every query;
* rows in order of month, then crime type, then day, so that DuckDB's per-block minima and
  maxima skip the blocks a date range or a crime type rules out.

It answers exactly what the files answer: :class:`geo.engines.DuckDBExecutor` counts the
files it covers from the index and any file committed since from Parquet, in one answer, and
the conformance test (``tests/unit/test_engines.py``) holds the two to the same counts. Each
row keeps the number of the file it came from, so a file a later commit drops (compaction, a
replaced sample) is left out of the index's answers and never counted twice: the index is
never wrong, it only covers less of the store until it is built again (``hotspot index``;
``hotspot compact`` builds it after merging).

The index is a derived copy: deleting the ``index`` folder loses nothing. It is written
beside the store's files, readable by their owner only, built under a lock of its own into a
temporary file and swapped in by replacing a small pointer file (``current.json``) in one
step, so a reader sees the old index or the new, never half of one.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb

from geo.atomic import fsync_dir, fsync_file, write_text_atomic
from geo.store import Store

#: Bumped when the table's layout changes; an index of another format is not used.
FORMAT = 1
#: The folder in the store, and the pointer to the index in force.
FOLDER = "index"
POINTER = "current.json"
#: Text columns held as ENUMs (compared and grouped as integers).
CODED = ("category", "source", "la_code", "location", "lsoa_name")
#: Columns copied as they are stored.
PLAIN = ("month", "time_precision", "location_precision", "domestic", "local_date", "dow",
         "hour", "h3_7", "h3_8", "h3_9", "h3_10", "rkey")
#: Their DuckDB types, for files that lack a column (stores written before it existed).
_TYPES = {"category": "VARCHAR", "source": "VARCHAR", "la_code": "VARCHAR",
          "location": "VARCHAR", "lsoa_name": "VARCHAR", "month": "VARCHAR",
          "time_precision": "VARCHAR", "location_precision": "VARCHAR",
          "domestic": "BOOLEAN", "local_date": "DATE", "dow": "TINYINT", "hour": "TINYINT",
          "h3_7": "UBIGINT", "h3_8": "UBIGINT", "h3_9": "UBIGINT", "h3_10": "UBIGINT",
          "rkey": "UINTEGER"}
#: Columns worked out at build (see the module docstring); ``fid`` is the file's number.
DERIVED = ("year", "mi", "d0", "d1", "slot", "finest", "fid")
#: DuckDB's memory for a build (it spills the rest to disk, inside the store).
BUILD_MEMORY = "2GB"
#: The names builds give index files.
_NAME = re.compile(r"index-[0-9]{1,12}-[0-9a-f]{12}\.duckdb")


class IndexRefused(ValueError):
    """The store cannot be indexed (said in words: nothing is lost, queries read the files)."""


@dataclass(frozen=True)
class QueryIndex:
    """An index in force: its file and the store files it holds, by number."""

    path: Path
    #: Each covered store file (as the manifest lists it) and its number in ``fid``.
    files: dict[str, int]
    #: The store columns the covered files hold (a column no file held is null here).
    columns: frozenset[str]
    rows: int
    manifest_version: int
    #: Every dated row's month and year partition are its date's: a date range is then
    #: decided by the first and last days alone (``d0``, ``d1``).
    months_agree: bool = False

    @property
    def stamp(self) -> str:
        """What names this index among others (its file name)."""
        return self.path.name


def folder(store: Store) -> Path:
    """Return the store's index folder."""
    return store.root / FOLDER


def current(store: Store) -> QueryIndex | None:
    """Return the index in force, or None (none built, another format, its file gone)."""
    pointer = folder(store) / POINTER
    try:
        about = json.loads(pointer.read_text(encoding="utf-8"))
        if about.get("format") != FORMAT:
            return None
        name = str(about["file"])
        # only a name the build gives (it becomes part of the SQL that attaches it)
        if not _NAME.fullmatch(name) or not (folder(store) / name).is_file():
            return None
        path = folder(store) / name
        return QueryIndex(path, {str(k): int(v) for k, v in about["files"].items()},
                          frozenset(about["columns"]), int(about["rows"]),
                          int(about["manifest_version"]), about.get("months_agree") is True)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def whole(store: Store) -> QueryIndex | None:
    """Return the index in force if it holds every file the manifest lists, else None."""
    index = current(store)
    if index is None or set(index.files) != set(store.manifest().files):
        return None
    return index


def pointer_stamp(store: Store) -> tuple[int, int, int] | None:
    """Return what changes when the pointer is replaced (inode, size, time), or None."""
    try:
        st = os.stat(folder(store) / POINTER)
    except OSError:
        return None
    return st.st_ino, st.st_size, st.st_mtime_ns


def _source(paths: Sequence[str]) -> str:
    listed = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    return (f"read_parquet({listed}, hive_partitioning = true, "
            "hive_types = {'year': INTEGER}, union_by_name = true, filename = true)")


def build(store: Store, *, memory_limit: str = BUILD_MEMORY,
          threads: int | None = None) -> QueryIndex:
    """Build the index of the files the committed manifest lists, and put it in force.

    Readers go on meanwhile (on the index in force, or the files); a build already running
    is waited for. Raises :class:`IndexRefused` when the store holds nothing, or a month
    not written as ``YYYY-MM`` (the index counts months as numbers).
    """
    if not store.manifest().files:
        raise IndexRefused("the store holds no incidents yet: there is nothing to index")
    where = folder(store)
    where.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(where / ".lock", "a+") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            for stale in where.glob(".building-*"):  # a build killed part way
                stale.unlink(missing_ok=True)
            for stale in (store.root / "spill").glob("hotspot-index-*"):  # and its spill
                shutil.rmtree(stale, ignore_errors=True)
            manifest = store.manifest()
            rels = list(manifest.files)
            if not rels:
                raise IndexRefused("the store holds no incidents yet: there is nothing to index")
            tmp = where / f".building-{secrets.token_hex(6)}.duckdb"
            # what DuckDB cannot hold while sorting: inside the store, readable by its owner
            (store.root / "spill").mkdir(mode=0o700, exist_ok=True)
            spill = Path(tempfile.mkdtemp(prefix="hotspot-index-", dir=store.root / "spill"))
            config: dict[str, str | bool | int | float | list[str]] = {
                "memory_limit": memory_limit, "temp_directory": str(spill),
                "preserve_insertion_order": False}
            if threads is not None:
                config["threads"] = int(threads)
            try:
                try:
                    con = duckdb.connect(str(tmp), config=config)
                    try:
                        rows, columns, agree = _write(con, store, rels)
                    finally:
                        con.close()
                except duckdb.Error as exc:  # the store's files unreadable, or DuckDB's limits
                    raise IndexRefused("DuckDB could not write it: "
                                       + str(exc).splitlines()[0][:300]) from None
                fsync_file(tmp)
                name = f"index-{manifest.version}-{secrets.token_hex(6)}.duckdb"
                os.replace(tmp, where / name)
                fsync_dir(where)
                write_text_atomic(where / POINTER, json.dumps({
                    "format": FORMAT, "file": name,
                    "files": {rel: i for i, rel in enumerate(rels)},
                    "columns": sorted(columns), "rows": rows, "months_agree": agree,
                    "manifest_version": manifest.version,
                    "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
            finally:
                tmp.unlink(missing_ok=True)
                shutil.rmtree(spill, ignore_errors=True)
            for old in where.glob("index-*.duckdb"):
                if old.name != name:
                    old.unlink(missing_ok=True)  # a reader holding it open keeps reading it
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)
    built = current(store)
    if built is None:  # pragma: no cover (written just above)
        raise IndexRefused("the index was written but cannot be read back")
    return built


def _write(con: duckdb.DuckDBPyConnection, store: Store,
           rels: list[str]) -> tuple[int, frozenset[str], bool]:
    """Write the index table of the store files ``rels`` on ``con``.

    Returns its rows, the store columns the files hold, and whether every dated row's month
    and year partition are its date's (:attr:`QueryIndex.months_agree`).
    """
    paths = [str(store.path_now(rel)) for rel in rels]
    src = _source(paths)
    present = {str(r[0]) for r in con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()}
    bad = con.execute(
        f"SELECT month FROM {src} WHERE NOT regexp_full_match(month, "
        "'[0-9]{4}-(0[1-9]|1[0-2])') LIMIT 1").fetchall()
    if bad:
        raise IndexRefused(f"the store holds a month written as {bad[0][0]!r}, not YYYY-MM")
    # each file's number, by the path DuckDB reports for it
    con.execute("CREATE TEMP TABLE listed (filename VARCHAR, fid INTEGER)")
    con.executemany("INSERT INTO listed VALUES (?, ?)", [[p, i] for i, p in enumerate(paths)])
    select = []
    for column in CODED:
        if column in present:
            con.execute(f"CREATE TYPE e_{column} AS ENUM (SELECT DISTINCT {column} FROM {src} "
                        f"WHERE {column} IS NOT NULL ORDER BY 1)")
            select.append(f"CAST({column} AS e_{column}) AS {column}")
        else:
            con.execute(f"CREATE TYPE e_{column} AS ENUM ()")
            select.append(f"CAST(NULL AS e_{column}) AS {column}")
    select += [column if column in present else f"CAST(NULL AS {_TYPES[column]}) AS {column}"
               for column in PLAIN]
    month_start = "CAST(month || '-01' AS DATE)"
    finest = ("CASE location_precision WHEN 'postcode' THEN 9 WHEN 'lsoa' THEN 7 ELSE 15 END"
              if "location_precision" in present else "15")
    select += [
        "CAST(year AS INTEGER) AS year",
        "CAST((CAST(substr(month, 1, 4) AS INTEGER) - 1970) * 12 "
        "+ CAST(substr(month, 6, 2) AS INTEGER) - 1 AS INTEGER) AS mi",
        f"COALESCE(local_date, {month_start}) AS d0",
        f"COALESCE(local_date, CAST(last_day({month_start}) AS DATE)) AS d1",
        "CAST(CAST(dow AS SMALLINT) * 32 + hour AS SMALLINT) AS slot",
        f"CAST({finest} AS TINYINT) AS finest",
        "CAST(listed.fid AS INTEGER) AS fid",
    ]
    con.execute(f"CREATE TABLE incidents AS SELECT {', '.join(select)} FROM {src} "
                "JOIN listed USING (filename) ORDER BY mi, category, d0")
    rows, disagree = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE year <> mi // 12 + 1970 OR (local_date IS NOT "
        "NULL AND (year(local_date) - 1970) * 12 + month(local_date) - 1 <> mi)) "
        "FROM incidents").fetchone()  # type: ignore[misc]
    con.execute("CHECKPOINT")
    return int(rows), frozenset(present & set(CODED + PLAIN)), int(disagree) == 0


def labels(con: duckdb.DuckDBPyConnection, alias: str) -> dict[str, frozenset[str]]:
    """Return each coded column's values in the index attached as ``alias``."""
    return {column: frozenset(str(v) for v in (con.execute(
        f"SELECT enum_range(NULL::{alias}.e_{column})").fetchone() or [[]])[0] or [])
        for column in CODED}


#: The share of the store's incidents read from Parquet beside the index (committed since
#: it was built) beyond which a feed's next batch has it built again.
STALE_SHARE = 0.10


def stale(store: Store) -> bool:
    """Return whether the index in force should be built again (False if there is none).

    It should when a file it holds is no longer listed (compaction merged it: its
    replacement is read from Parquet) or when the files committed since it was built hold
    more than :data:`STALE_SHARE` of the store's incidents.

    Examples
    --------
    >>> import tempfile
    >>> stale(Store(Path(tempfile.mkdtemp())))
    False
    """
    index = current(store)
    if index is None:
        return False
    manifest = store.manifest()
    listed = set(manifest.files)
    if any(rel not in listed for rel in index.files):
        return True
    return manifest.rows - index.rows > STALE_SHARE * manifest.rows


_rebuilding: list[subprocess.Popen[bytes]] = []


def rebuild_in_background(store: Store) -> bool:
    """Start building the index again in a process of its own, unless one is running.

    The server's feeds call this after a commit when the index is :func:`stale`: the build
    holds up to 2 GB while it sorts, which must not count against the web server's own
    memory, and the server answers from the index in force (and the files) meanwhile.
    Returns whether a build was started.
    """
    if any(proc.poll() is None for proc in _rebuilding):
        return False
    _rebuilding.clear()
    _rebuilding.append(subprocess.Popen(
        [sys.executable, "-m", "geo.queryindex", str(store.root)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Build the index of the store folder given (what :func:`rebuild_in_background` runs)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m geo.queryindex STORE_FOLDER", file=sys.stderr)
        return 2
    try:
        build(Store(Path(args[0])))
    except IndexRefused as exc:
        print(f"No query index was built: {exc}", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
