"""Time the board's answers (API, CSV, PDF pack) per role and level, and a redraw in Chromium.

    PYTHONPATH=<a checkout> python scripts/bench_board.py DATA_DIR [--browser URL USER PASSWORD]

DATA_DIR is a prepared data directory (e.g. the Leicestershire police.uk months ingested,
with populations and a ward level imported). With --browser, a running `hotspot serve` at URL
is opened in headless Chromium as USER, and the time from a period change to the redrawn
headline is measured. Figures: docs/benchmarks/2026-12-02-board.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from geo.settings import DataPaths

PATHS = ["/api/v1/board", "/api/v1/board?period=month", "/api/v1/board?level=ward",
         "/board.csv", "/board.pdf"]


def serve_times(data_dir: Path, repeats: int = 11) -> dict[str, dict[str, float]]:
    """Median and worst of ``repeats`` requests (after a first, reported apart) per path."""
    from dashboard.access.accounts import Accounts
    from dashboard.app import create_app
    from geo.access import load_roles

    data = DataPaths(data_dir)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    client = create_app(data).server.test_client()
    out: dict[str, dict[str, float]] = {}
    for role in ("analyst", "board"):
        token = accounts.create_token(f"bench-board-{role}-{time.time_ns()}", role)
        headers = {"Authorization": f"Bearer {token}"}
        for path in PATHS:
            times = []
            for _ in range(repeats + 1):
                start = time.perf_counter()
                resp = client.get(path, headers=headers)
                times.append(1000 * (time.perf_counter() - start))
                if resp.status_code != 200:
                    raise SystemExit(f"{path} as {role}: {resp.status_code} {resp.data[:200]!r}")
            out[f"{role} {path}"] = {"first_ms": round(times[0], 1),
                                     "median_ms": round(statistics.median(times[1:]), 1),
                                     "max_ms": round(max(times[1:]), 1),
                                     "bytes": len(resp.data)}
    return out


def browser_times(url: str, user: str, password: str, repeats: int = 6) -> dict[str, float]:
    """Time in Chromium from choosing a period to the police headline showing it."""
    import shutil

    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"),
                                     args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(url + "/sign-in")
        page.fill("#user", user)
        page.fill("#password", password)
        page.click("button[type=submit]")
        start = time.perf_counter()
        page.goto(url + "/board")
        page.wait_for_selector("#board-card-police")
        load = 1000 * (time.perf_counter() - start)
        times = []
        for i in range(repeats):
            period, word = (("month", "month"), ("fyq", "Q"))[i % 2]
            before = page.inner_text("#board-card-police")
            start = time.perf_counter()
            page.check(f"#board-period input[value={period}]")
            page.wait_for_function(
                "([b]) => document.querySelector('#board-card-police').innerText !== b",
                arg=[before])
            times.append(1000 * (time.perf_counter() - start))
            assert word in page.inner_text("#board-card-police") or period == "month"
        browser.close()
    return {"page_load_ms": round(load, 1), "period_change_median_ms":
            round(statistics.median(times), 1), "period_change_max_ms": round(max(times), 1)}


def main() -> None:
    """Print the figures as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--browser", nargs=3, metavar=("URL", "USER", "PASSWORD"))
    args = parser.parse_args()
    result: dict[str, object] = {"server": serve_times(args.data_dir)}
    if args.browser:
        result["browser"] = browser_times(*args.browser)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
