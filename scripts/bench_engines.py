"""Time one filter change of the core query on the numpy and DuckDB executors.

    PYTHONPATH=<a checkout> python scripts/bench_engines.py prepare DATA_DIR --n 1000000
    PYTHONPATH=<a checkout> python scripts/bench_engines.py compare DATA_DIR --out FILE.json

``prepare`` fills DATA_DIR with the synthetic sample (geo.sample, seed 14) of N rows.
``compare`` runs each engine in its own process (so each peak RSS is its own), asks the same
sequence of distinct core queries (dates, weekdays, an hour band, categories -> counts per
H3 res-9 cell and per authority), checks both engines gave identical answers, and writes
the figures. numpy's figures include loading the store into memory; DuckDB preloads nothing.
Figures: docs/benchmarks/2026-12-*-engines.json and docs/ENGINES.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

from geo.engines import CoreQuery, Executor, KeyedCounts
from geo.query import Filters
from geo.settings import DataPaths

CATEGORY_SETS = [("Violence with injury", "Robbery"), ("Violence with injury",),
                 ("Violence without injury", "Public order"), ("Robbery",)]
DAY_SETS = [frozenset({4, 5}), frozenset({4, 5, 6}), frozenset({0, 1, 2, 3, 4}), frozenset({6})]
BANDS = [(20, 4), (18, 2), (9, 17), (22, 6)]


def queries(n: int) -> list[Filters]:
    """Return ``n`` distinct core queries, as a user changing one filter after another would."""
    out = []
    for i in range(n):
        start = date(2022, 4, 1) + timedelta(days=29 * i)
        out.append(Filters(start=start, end=start + timedelta(days=364),
                           days=DAY_SETS[i % 4], hours=BANDS[(i // 4) % 4],
                           categories=CATEGORY_SETS[i % 4]))
    return out


def vm_hwm_mb() -> float:
    """Return this process's peak resident memory (VmHWM) in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return float("nan")


def digest(answers: list[KeyedCounts]) -> str:
    h = hashlib.sha256()
    for a in answers:
        for arr in (a.keys.astype(str), a.counts):
            h.update(arr.tobytes())
    return h.hexdigest()[:16]


def run_engine(data_dir: Path, engine: str, repeats: int) -> dict[str, object]:
    """Time the filter changes on one engine, in this process; return the figures."""
    from geo.boundaries import load_boundaries
    from geo.engines import DuckDBExecutor, NumpyExecutor
    from geo.query import QueryLayer
    from geo.store import Store

    store = Store(DataPaths(data_dir).store)
    rows = store.manifest().rows
    base_mb = vm_hwm_mb()
    ex: Executor
    load_s = None
    if engine == "numpy":
        start = time.perf_counter()
        layer = QueryLayer(store, load_boundaries(None))
        layer.frame()
        load_s = round(time.perf_counter() - start, 2)
        ex = NumpyExecutor(layer)
    else:
        ex = DuckDBExecutor(store)
    times, answers = [], []
    for f in queries(repeats + 1):
        q = CoreQuery(f)
        start = time.perf_counter()
        cells = ex.cell_counts(q, 9)
        areas = ex.authority_counts(q)
        times.append(1000 * (time.perf_counter() - start))
        answers += [cells, areas]
    rest = sorted(times[1:])
    return {
        "engine": engine, "rows": rows, "load_s": load_s,
        "first_query_ms": round(times[0], 1),
        "median_ms": round(statistics.median(rest), 1),
        "p90_ms": round(rest[int(0.9 * (len(rest) - 1))], 1),
        "max_ms": round(rest[-1], 1),
        "queries": len(rest),
        "peak_rss_mb": vm_hwm_mb(),
        "rss_before_mb": base_mb,
        "answers_sha256": digest(answers),
        "selected_last": int(answers[-1].counts.sum()),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    prep = sub.add_parser("prepare")
    prep.add_argument("data_dir", type=Path)
    prep.add_argument("--n", type=int, default=1_000_000)
    one = sub.add_parser("one")
    one.add_argument("data_dir", type=Path)
    one.add_argument("--engine", choices=["numpy", "duckdb"], required=True)
    one.add_argument("--repeats", type=int, default=15)
    cmp = sub.add_parser("compare")
    cmp.add_argument("data_dir", type=Path)
    cmp.add_argument("--repeats", type=int, default=15)
    cmp.add_argument("--out", type=Path)
    args = p.parse_args()
    if args.cmd == "prepare":
        from geo.ingest import load_sample

        start = time.perf_counter()
        load_sample(DataPaths(args.data_dir), n=args.n, seed=14)
        print(f"{args.n:,} rows in {time.perf_counter() - start:.0f} s")
        return 0
    if args.cmd == "one":
        print(json.dumps(run_engine(args.data_dir, args.engine, args.repeats)))
        return 0
    results = {}
    for engine in ("numpy", "duckdb"):
        out = subprocess.run([sys.executable, __file__, "one", str(args.data_dir),
                              "--engine", engine, "--repeats", str(args.repeats)],
                             check=True, capture_output=True, text=True, env=os.environ)
        results[engine] = json.loads(out.stdout.strip().splitlines()[-1])
    same = results["numpy"]["answers_sha256"] == results["duckdb"]["answers_sha256"]
    report = {
        "what": "One filter change of the core query (dates, weekdays, an hour band, "
                "categories -> counts per H3 res-9 cell and per authority), on generated "
                "data (geo.sample, seed 14). numpy: the query layer's in-memory frame, load "
                "included in its peak RSS; duckdb: SQL over the manifest's Parquet files, no "
                "preload. Each engine in its own process. scripts/bench_engines.py.",
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
                   f"{platform.python_version()}; shared with other engineers' work, so "
                   "timings carry that noise",
        "identical_answers": same,
        "results": results,
    }
    text = json.dumps(report, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
