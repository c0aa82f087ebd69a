"""Time quick API answers per role through Flask's test client (issue 9).

    PYTHONPATH=<a checkout> python scripts/bench_access.py

Run at a checkout from before issue 9 it times the one local user; after, an API token per
role. Figures: docs/benchmarks/2026-12-02-access.json.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from geo.ingest import load_sample
from geo.settings import DataPaths

PATHS = ["/api/v1/aggregate?level=la&days=fri,sat&hours=20-4",
         "/api/v1/aggregate?level=h3&res=8&days=sat", "/api/v1/health"]


def main() -> None:
    """Print the median and 95th percentile of 55 timed requests per role and path."""
    data = DataPaths(Path(tempfile.mkdtemp()))
    load_sample(data, n=60000, seed=1)
    who: dict[str, dict[str, str]] = {"local": {}}
    try:
        from dashboard.access.accounts import Accounts
        from geo.access import load_roles

        accounts = Accounts(data.access, load_roles())
        who = {role: {"Authorization": "Bearer " + accounts.create_token(
            f"{role}-bench", role, ("E06000009",) if role == "officer" else None)}
            for role in ("analyst", "officer", "partner")}
    except ImportError:  # before issue 9: no accounts, one local user
        pass
    from dashboard.app import create_app

    client = create_app(data).server.test_client()
    for name, headers in who.items():
        for path in PATHS:
            times = []
            for _ in range(60):
                start = time.perf_counter()
                answer = client.get(path, headers=headers)
                times.append(time.perf_counter() - start)
                assert answer.status_code == 200, (name, path, answer.status_code)
            times = sorted(times[5:])
            print(f"{name:8s} {path:55s} median {1000 * statistics.median(times):6.1f} ms  "
                  f"p95 {1000 * times[int(0.95 * len(times))]:6.1f} ms")


if __name__ == "__main__":
    main()
