"""Time the board and the trends on one engine, as a board member and an analyst ask for them.

Usage: ``python scripts/bench_views.py DATA_DIR numpy|duckdb|dask``, on a store made by
``hotspot bench`` (``hotspot compact --data-dir DATA_DIR`` first gives older stores their
record keys). Prints one JSON line with, for each view, the first answer (which counts what
is kept per store version) and the median and 90th percentile of the rest; the process's
peak memory; and a digest of every answer, equal across engines when their figures are.

* **board**: the whole board (``dashboard.board.board``: headlines, areas, what changed with
  the emerging hot spots, the monthly trend, the busiest places) for a board member, for 8
  settings in turn (each period against each baseline, then crime types);
* **trends**: the whole trends answer (series beside the rest, sources, league table,
  seasons, the areas that peaked) for an analyst, for 16 distinct filter sets (the
  ``hotspot bench`` filter changes: dates, weekdays, an hour band, crime types).
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
from typing import Any

BOARD_SETTINGS: list[dict[str, Any]] = [
    {}, {"period": "month", "baseline": "previous"}, {"period": "12m"},
    {"period": "month"}, {"baseline": "previous"}, {"period": "12m", "baseline": "previous"},
    {"categories": ("Robbery",)}, {"categories": ("Violence with injury", "Robbery")},
]


def _timed(calls: list[Any]) -> tuple[dict[str, float], list[Any]]:
    times, answers = [], []
    for call in calls:
        t0 = time.perf_counter()
        answers.append(call())
        times.append(1000 * (time.perf_counter() - t0))
    rest = sorted(times[1:])
    return {"first_ms": round(times[0], 1), "median_ms": round(statistics.median(rest), 1),
            "p90_ms": round(rest[int(0.9 * len(rest))], 1), "requests": len(times)}, answers


def main() -> None:
    root, engine = Path(sys.argv[1]), sys.argv[2]
    os.environ["HOTSPOT_ENGINE"] = engine
    from dashboard import board, services
    from dashboard.enginebench import queries
    from dashboard.serialise import trends_json
    from geo import vru
    from geo.access import Principal, load_roles
    from geo.settings import DataPaths

    started = time.perf_counter()
    svc = services.configure(DataPaths(root))
    member = Principal(name="bench-board", policy=load_roles(None)["board"])
    analyst = Principal(name="bench-analyst", policy=load_roles(None)["analyst"])
    with svc.pinned(analyst):
        rows = svc.query.status()["incidents"]
    ready_s = time.perf_counter() - started
    with svc.pinned(member):
        board_figures, board_answers = _timed(
            [lambda s=s: board.board(**s) for s in BOARD_SETTINGS])
    with svc.pinned(analyst):
        trend_figures, trend_answers = _timed(
            [lambda f=f: trends_json(vru.trends(svc.query, svc.boundaries,
                                                vru.TrendsParams(filters=f)))
             for f in queries(16)])

    def digest(answers: list[Any]) -> str:
        for a in answers:
            a.pop("currency", None)  # says when a batch arrived, not a figure
        return hashlib.sha256(json.dumps(answers, sort_keys=True, default=str).encode()
                              ).hexdigest()[:16]

    print(json.dumps({
        "engine": engine, "rows": rows, "ready_s": round(ready_s, 1),
        "board": {**board_figures, "answers_sha256": digest(board_answers)},
        "trends": {**trend_figures, "answers_sha256": digest(trend_answers)},
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}))


if __name__ == "__main__":
    main()
