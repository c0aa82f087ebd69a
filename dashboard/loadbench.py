"""``hotspot bench --load``: whether heavy analyses starve quick requests.

Starts the real server (``hotspot serve``, waitress) on a data directory, measures a quick
request (``/api/v1/aggregate`` with changing filters) on its own, then again while several
clients ask for a heavy analysis (emerging hot spots) over and over:

* ``same``: every heavy client asks the same question (what the issue reproduced: eight
  clients asking ``emerging?periods=60&res=10``); the cache and single flight answer it once.
* ``varied``: every heavy request is a different question, so each one is computed: the lane
  that bounds heavy work is what keeps quick requests quick.

Reported: quick-request median and 95th percentile per phase, how the heavy requests were
answered (status counts), and the server's peak memory (VmHWM).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from dashboard.liveserver import free_port, wait_until_up

QUICK = ["/api/v1/aggregate?level=la&days=fri,sat&hours=20-4",
         "/api/v1/aggregate?level=h3&res=9&hours=15-19",
         "/api/v1/aggregate?level=la&public_only=1",
         "/api/v1/aggregate?level=h3&res=8&days=mon,tue,wed"]


def _get(url: str, timeout: float = 120.0) -> tuple[int, float]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            resp.read()
            status = resp.status
    except urllib.error.HTTPError as exc:
        exc.read()
        status = exc.code
    return status, time.perf_counter() - start


def _vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _quick_latencies(base: str, stop: threading.Event, out: list[float],
                     limit: int | None = None) -> None:
    i = 0
    while not stop.is_set() and (limit is None or i < limit):
        status, dt = _get(base + QUICK[i % len(QUICK)])
        if status == 200:
            out.append(dt * 1000)
        i += 1


def _summary(ms: list[float]) -> dict[str, Any]:
    if not ms:
        return {"n": 0}
    ordered = sorted(ms)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "p95_ms": round(p95, 1),
            "max_ms": round(ordered[-1], 1)}


def run_load_bench(data_dir: Path | None = None, clients: int = 8, seconds: float = 30.0,
                   heavy: str = "/api/v1/emerging?periods=60&res=10") -> dict[str, Any]:
    """Measure quick-request latency alone and under heavy load; see the module docstring."""
    tmp = None
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="hotspot-load-")
        data_dir = Path(tmp.name)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(Path(data_dir) / "load-server.log", "w")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "dashboard.cli", "serve", "--data-dir",
                             str(data_dir), "--port", str(port)], stdout=log,
                            stderr=subprocess.STDOUT, env=os.environ.copy())
    try:
        wait_until_up(base, proc, Path(data_dir) / "load-server.log", timeout_s=300)
        for path in QUICK:  # warm the frame and the selection code
            _get(base + path)
        quiet: list[float] = []
        _quick_latencies(base, threading.Event(), quiet, limit=200)
        result: dict[str, Any] = {"quick_alone": _summary(quiet), "clients": clients,
                                  "seconds": seconds, "heavy_request": heavy}
        for phase in ("same", "varied"):
            stop = threading.Event()
            statuses: Counter[int] = Counter()
            heavy_ms: list[float] = []
            lock = threading.Lock()

            def hammer(k: int, phase: str = phase, stop: threading.Event = stop,
                       statuses: Counter[int] = statuses, heavy_ms: list[float] = heavy_ms,
                       lock: threading.Lock = lock) -> None:
                i = 0
                while not stop.is_set():
                    url = base + heavy
                    if phase == "varied":  # a different question every time: never cached
                        url += f"&period_days={28 + (k * 97 + i) % 56}"
                    status, dt = _get(url)
                    with lock:
                        statuses[status] += 1
                        heavy_ms.append(dt * 1000)
                    i += 1

            threads = [threading.Thread(target=hammer, args=(k,), daemon=True)
                       for k in range(clients)]
            for t in threads:
                t.start()
            time.sleep(2)  # the heavy clients are busy before quick requests are timed
            quick: list[float] = []
            timer = threading.Timer(seconds, stop.set)
            timer.start()
            _quick_latencies(base, stop, quick)
            for t in threads:
                t.join(180)
            result[f"quick_under_{phase}_load"] = _summary(quick)
            result[f"heavy_{phase}_statuses"] = {str(k): v for k, v in sorted(statuses.items())}
            result[f"heavy_{phase}_median_ms"] = round(statistics.median(heavy_ms), 1) \
                if heavy_ms else None
        result["server_peak_rss_mb"] = round(_vm_hwm_mb(proc.pid), 1)
        return result
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        if tmp is not None:
            tmp.cleanup()
