"""``hotspot bench --engine``: one query executor on a generated store of N incidents.

Each run measures, in a process of its own (so its peak memory is its own):

* **filter change**: a sequence of distinct core queries (dates, weekdays, an hour band,
  categories, counted per H3 res-9 cell and per authority), as a user changing one filter
  after another; the first query is reported apart (it opens the store), then the median,
  90th percentile and slowest of the rest;
* **peak memory** (VmHWM) of the process answering, and for Dask of each worker too;
* **a new batch visible**: from the start of a commit of 1,000 incidents to the first
  answer that counts them, on a copy of the store (hard links: nothing is duplicated), so
  every engine is measured on the same rows;
* a digest of every answer, so runs on different engines can be checked to agree.

The store is generated once per N and seed (``geo.sample``, SYNTHETIC) in the data
directory given, else under ``~/.cache/hotspot/bench-N-seed``, and kept for the next run.
Above 10 million, the generated 10 million are committed again under new ids until there are
N (generating 50 million at once would need about 25 GB).

Then, in another process, the same engine behind the app: the Explorer's filter change
through the real Dash endpoint (:func:`run_endpoint`), with the server's peak memory.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from geo.engines import CoreQuery, Executor, KeyedCounts
from geo.query import Filters
from geo.settings import DataPaths

ENGINES = ("numpy", "duckdb", "dask")
CATEGORY_SETS = [("Violence with injury", "Robbery"), ("Violence with injury",),
                 ("Violence without injury", "Public order"), ("Robbery",)]
DAY_SETS = [frozenset({4, 5}), frozenset({4, 5, 6}), frozenset({0, 1, 2, 3, 4}), frozenset({6})]
BANDS = [(20, 4), (18, 2), (9, 17), (22, 6)]
#: Incidents in the batch whose arrival is timed.
NEW_BATCH_ROWS = 1_000
#: The most incidents generated in one go (memory: about 5 GB at 10M); a larger store holds
#: these again under new ids (so its counts are whole multiples, and its columns alike).
GENERATED_MAX = 10_000_000


def queries(n: int) -> list[Filters]:
    """Return ``n`` distinct core queries, as a user changing one filter after another would.

    Examples
    --------
    >>> [q.hours for q in queries(5)]
    [(20, 4), (20, 4), (20, 4), (20, 4), (18, 2)]
    """
    out = []
    for i in range(n):
        start = date(2022, 4, 1) + timedelta(days=29 * i)
        out.append(Filters(start=start, end=start + timedelta(days=364),
                           days=DAY_SETS[i % 4], hours=BANDS[(i // 4) % 4],
                           categories=CATEGORY_SETS[i % 4]))
    return out


def vm_hwm_mb() -> float:
    """Return this process's peak resident memory (VmHWM) in MB (Linux)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return float("nan")


def _digest(answers: list[KeyedCounts]) -> str:
    h = hashlib.sha256()
    for a in answers:
        for arr in (a.keys.astype(str), a.counts):
            h.update(arr.tobytes())
    return h.hexdigest()[:16]


def bench_dir(n: int, seed: int, data_dir: Path | None) -> Path:
    """Return the data directory holding the generated store, generating it if needed."""
    from geo.ingest import load_sample
    from geo.schema import empty_rejects
    from geo.store import Store

    root = data_dir or Path.home() / ".cache" / "hotspot" / f"bench-{n}-{seed}"
    store = Store.of(DataPaths(root))
    if store.manifest().rows < min(n, GENERATED_MAX):
        load_sample(DataPaths(root), n=min(n, GENERATED_MAX), seed=seed)
    base = store.manifest().files
    copy = 0
    while store.manifest().rows < n:
        # beyond what is generated in one go, the generated rows again under new ids
        copy += 1
        for rel in base:
            table = pq.read_table(store.root / rel)
            ids = pc.binary_join_element_wise(table.column("incident_id"), f"r{copy}", "-")
            store.commit(table.set_column(table.schema.get_field_index("incident_id"),
                                          "incident_id", ids),
                         source_file=f"copy {copy} of {rel}", rejects=empty_rejects(),
                         summary={}, kind="sample", extend_sample=True)
    from geo import queryindex

    if queryindex.whole(store) is None:
        queryindex.build(store)  # as hotspot compact leaves a store: served from its index
    return root


def _make(engine: str, store: Any, workers: int, scheduler: str | None) -> Executor:
    from geo.boundaries import load_boundaries
    from geo.engines import DaskExecutor, DuckDBExecutor, NumpyExecutor
    from geo.query import QueryLayer

    if engine == "numpy":
        layer = QueryLayer(store, load_boundaries(None))
        layer.frame()
        return NumpyExecutor(layer)
    if engine == "duckdb":
        return DuckDBExecutor(store)
    return DaskExecutor(store, scheduler=scheduler, workers=workers)


def _copy_store(src: Path, dest: Path) -> None:
    """Copy a store folder with hard links (its Parquet files are never changed in place)."""
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(src, dest, copy_function=os.link,
                    ignore=shutil.ignore_patterns(".lock", "_staging", "spill"))
    # the manifest is replaced at each commit, never written in place; still, copy it whole
    (dest / "manifest.json").unlink()
    shutil.copy2(src / "manifest.json", dest / "manifest.json")


def run_one(root: Path, engine: str, *, workers: int = 2, scheduler: str | None = None,
            repeats: int = 15) -> dict[str, Any]:
    """Measure one engine in this process; return the figures."""
    from geo.schema import empty_rejects
    from geo.store import Store

    store = Store(DataPaths(root).store)
    rows = store.manifest().rows
    started = time.perf_counter()
    ex = _make(engine, store, workers, scheduler)
    ready_s = time.perf_counter() - started
    try:
        times, answers = [], []
        for f in queries(repeats + 1):
            q = CoreQuery(f)
            t0 = time.perf_counter()
            cells, areas = ex.core(q, 9)
            times.append(1000 * (time.perf_counter() - t0))
            answers += [cells, areas]
        # a new batch: commit 1,000 incidents into a copy of the store, then ask until seen
        copy_root = root / "bench-visible-copy"
        _copy_store(store.root, copy_root)
        copy = Store(copy_root, record_key=DataPaths(root).record_key())
        peak_queries_mb = vm_hwm_mb()
        batch = _first_rows(copy).slice(0, NEW_BATCH_ROWS)
        batch = batch.set_column(batch.schema.get_field_index("incident_id"), "incident_id",
                                 pa.array([f"NEW-{time.time_ns()}-{i}"
                                           for i in range(batch.num_rows)]))
        on_copy = _make(engine, copy, workers, scheduler) if engine == "numpy" else ex
        if on_copy is ex:
            ex.store = copy  # type: ignore[attr-defined]  # DuckDB/Dask: the copy's manifest
        everything = CoreQuery(Filters())
        before = int(on_copy.authority_counts(everything).counts.sum())
        t0 = time.perf_counter()
        copy.commit(batch, source_file="bench-new-batch", rejects=empty_rejects(),
                    summary={}, kind="sample", extend_sample=True)
        committed_s = time.perf_counter() - t0
        while int(on_copy.authority_counts(everything).counts.sum()) < before + batch.num_rows:
            if time.perf_counter() - t0 > 600:
                raise RuntimeError("the new batch never became visible")
        visible_s = time.perf_counter() - t0
        shutil.rmtree(copy_root, ignore_errors=True)
        workers_mb = _worker_peaks(ex)
    finally:
        close = getattr(ex, "close", None)
        if close is not None:
            close()
    rest = sorted(times[1:])
    return {
        "engine": engine, "rows": rows,
        "workers": workers if engine == "dask" else None,
        "ready_s": round(ready_s, 2),
        "first_query_ms": round(times[0], 1),
        "median_ms": round(statistics.median(rest), 1),
        "p90_ms": round(rest[int(0.9 * (len(rest) - 1))], 1),
        "max_ms": round(rest[-1], 1),
        "queries": len(rest),
        "peak_rss_mb": peak_queries_mb,
        "peak_rss_mb_with_new_batch": vm_hwm_mb(),
        "worker_peak_rss_mb": workers_mb,
        "new_batch_commit_s": round(committed_s, 2),
        "new_batch_visible_s": round(visible_s, 2),
        "answers_sha256": _digest(answers),
        "selected_last": int(answers[-1].counts.sum()),
    }


def run_endpoint(root: Path, engine: str, *, workers: int = 2, scheduler: str | None = None,
                 repeats: int = 15) -> dict[str, Any]:
    """Measure the Explorer's filter change through the real Dash endpoint, in this process.

    ``hotspot serve --engine`` as a browser meets it: the app is built on the data directory
    with the engine chosen (HOTSPOT_ENGINE), and each filter change posts the page's own
    callbacks to ``/_dash-update-component`` (:func:`dashboard.bench.bench_filter_change`).
    """
    os.environ["HOTSPOT_ENGINE"] = engine
    os.environ["HOTSPOT_DASK_WORKERS"] = str(workers)
    if scheduler:
        os.environ["HOTSPOT_SCHEDULER"] = scheduler
    from dashboard import services
    from dashboard.bench import bench_filter_change

    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    requests = [{"start": f.start.isoformat() if f.start else None,
                 "end": f.end.isoformat() if f.end else None,
                 "days": [days[d] for d in sorted(f.days or range(7))],
                 "hour_from": (f.hours or (0, 24))[0], "hour_to": (f.hours or (0, 24))[1],
                 "categories": list(f.categories or [])}
                for f in queries(repeats + 1)]  # the executor figures' queries, in turn
    started = time.perf_counter()
    figures = bench_filter_change(DataPaths(root), requests=requests)
    took_s = time.perf_counter() - started
    query = services.current().query
    ex = getattr(query, "executor", None)
    workers_mb = _worker_peaks(ex) if ex is not None else None
    return {"endpoint_filter_change_ms_median": figures["filter_change_ms_median"],
            "endpoint_filter_change_ms_p90": figures["filter_change_ms_p90"],
            "endpoint_filter_change_bytes": figures["filter_change_bytes"],
            "endpoint_answers_sha256": figures["filter_change_answers_sha256"],
            "endpoint_map_values_ms_median": figures["map_values_ms_median"],
            "endpoint_requests": repeats,
            "endpoint_run_s": round(took_s, 1),
            "endpoint_server_peak_rss_mb": vm_hwm_mb(),
            "endpoint_worker_peak_rss_mb": workers_mb}


def _first_rows(store: Any) -> pa.Table:
    """Read the first row group of the first listed file (the batch to time copies them)."""
    return pq.ParquetFile(store.root / store.manifest().files[0]).read_row_group(0)


def _worker_peaks(ex: Executor) -> list[float] | None:
    client = getattr(ex, "client", None)
    if client is None:
        return None
    peaks = client.run(vm_hwm_mb)
    return [peaks[k] for k in sorted(peaks)]


def run_engine_bench(n: int, engine: str, *, workers: int = 2, scheduler: str | None = None,
                     seed: int = 14, data_dir: Path | None = None,
                     repeats: int = 15) -> dict[str, Any]:
    """Generate (once) a store of ``n`` incidents and measure ``engine`` on it, in a child."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; the engines are {', '.join(ENGINES)}")
    root = bench_dir(n, seed, data_dir)
    cmd = [sys.executable, "-m", "dashboard.enginebench", str(root), "--engine", engine,
           "--workers", str(workers), "--repeats", str(repeats)]
    if scheduler:
        cmd += ["--scheduler", scheduler]
    figures: dict[str, Any] = {}
    for mode in ([], ["--endpoint"]):
        out = subprocess.run(cmd + mode, capture_output=True, text=True)
        if out.returncode != 0:
            lines = [ln for ln in out.stderr.strip().splitlines() if ln.strip()]
            raise RuntimeError(lines[-1] if lines else f"the {engine} run failed")
        figures.update(json.loads(out.stdout.strip().splitlines()[-1]))
    return {
        "what": "Core query (dates, weekdays, an hour band, categories -> counts per H3 res-9 "
                "cell and per authority) on one executor, then the Explorer's whole filter "
                "change (map values, grid, ranked table, texts) through the real Dash "
                "endpoint of an app served on that engine (endpoint_*), each in a process "
                "of its own, over a generated SYNTHETIC store "
                f"(geo.sample, seed {seed}).",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
                   f"{platform.python_version()}",
        **figures,
    }


def main(argv: list[str] | None = None) -> int:
    """Measure one engine on the store in ROOT and print the figures as one JSON line."""
    p = argparse.ArgumentParser(description="Measure one executor (run by hotspot bench).")
    p.add_argument("root", type=Path)
    p.add_argument("--engine", choices=ENGINES, required=True)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--scheduler")
    p.add_argument("--repeats", type=int, default=15)
    p.add_argument("--endpoint", action="store_true",
                   help="measure through the Dash endpoint instead of the executor alone")
    args = p.parse_args(argv)
    run = run_endpoint if args.endpoint else run_one
    try:
        figures = run(args.root, args.engine, workers=args.workers,
                      scheduler=args.scheduler, repeats=args.repeats)
    except (OSError, TimeoutError) as exc:
        where = f"the Dask scheduler at {args.scheduler}" if args.scheduler else "the engine"
        print(f"could not reach {where}: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
