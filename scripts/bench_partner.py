"""Time a partner's Area figures (by authority, and hexagons at H3 resolution 8) per filter set.

Usage: ``python scripts/bench_partner.py DATA_DIR numpy|duckdb|dask``, on a store made by
``hotspot bench`` (``hotspot compact --data-dir DATA_DIR`` first gives older stores their
record keys). Prints one JSON line: the median and 90th percentile of 15 filter changes (the
first, which warms up, is left out), the process's peak memory, and a digest of the answers,
equal across engines when their figures are.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path


def main() -> None:
    root, engine = Path(sys.argv[1]), sys.argv[2]
    os.environ["HOTSPOT_ENGINE"] = engine
    from dashboard.enginebench import queries
    from dashboard.services import Services
    from geo.access import Principal, load_roles
    from geo.settings import DataPaths

    started = time.perf_counter()
    svc = Services(DataPaths(root))
    who = Principal(name="bench-partner", policy=load_roles(None)["partner"])
    times, answers = [], []
    with svc.pinned(who):
        rows = svc.query.status()["incidents"]
        ready_s = time.perf_counter() - started
        for f in queries(16):
            t0 = time.perf_counter()
            areas = svc.query.disclosed_areas(f).table
            _cells, counts, _d = svc.query.disclosed_cells(f, 8)
            times.append(1000 * (time.perf_counter() - t0))
            answers.append((areas["count"].astype(str).tolist(), counts.tolist()))
    timed = sorted(times[1:])
    print(json.dumps({
        "engine": engine, "rows": rows,
        "ready_s": round(ready_s, 1),
        "median_ms": round(statistics.median(timed), 1),
        "p90_ms": round(timed[int(0.9 * len(timed))], 1),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
        "answers_sha256": hashlib.sha256(repr(answers).encode()).hexdigest()[:16]}))


if __name__ == "__main__":
    main()
