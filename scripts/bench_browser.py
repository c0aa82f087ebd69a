"""Time the map's redraw and every page's first load in headless Chromium (issue 11).

    PYTHONPATH=<a checkout> python scripts/bench_browser.py DATA_DIR [--n N --seed S]
        [--changes 24] [--loads 3] [--port 18650] [--label after --save FILE] [--profile DIR]

DATA_DIR may be empty: the server then loads the bundled 60,000-incident sample, or with
``--n`` the script first writes N generated incidents there (``hotspot sample --n N --seed S``)
so a second run can reuse them. The server is ``hotspot serve`` of the checkout on PYTHONPATH,
so the same script measures main ("before") and a branch ("after").

Chromium runs headless with ``--disable-gpu``: software rendering (SwiftShader), as on the
force's virtual desktops without a GPU.

* ``redraw``: the Explorer at H3 resolution 9 (``?res=9``); each of ``--changes`` filter
  changes (a day ticked or unticked, an hour chosen, a crime category added or cleared) is
  timed from the user's click (a capture listener stamps ``performance.now()``) to the map's
  last redraw (``plotly_afterplot``, or the page's ``hotspot-map-painted`` once MapLibre has
  rendered the new values) followed by two animation frames (so its pixels are on screen),
  once the page is quiet: no Dash callback pending, no further redraw for 800 ms, and the
  hexagons on the map adding up to the selection's count (the new values are drawn).
* ``first_load``: each page in a fresh browser context (empty cache, so the scripts are
  fetched as on a first visit), from navigation start to every graph drawn (maps' sources
  loaded and rendered) with no callback pending. Each page is loaded once before timing, so
  the server's caches are warm as on a server that has been running.
* ``load_with_cached_scripts``: the same in a browser that has opened every page before (its
  HTTP cache holds the scripts), as for someone who used Hotspot yesterday.

Figures: docs/benchmarks/2026-12-02-browser.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from dashboard.liveserver import wait_until_up

CHROMIUM = os.environ.get("HOTSPOT_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PAGES = ["/", "/nte", "/patrol", "/trends", "/figures", "/board"]
VIEWPORT = {"width": 1500, "height": 1000}

#: Installed in every page: stamps user input and every redraw of every graph.
HOOKS = """
window.__bench = {inputs: [], plots: []};
for (const type of ['click', 'keydown']) {
    document.addEventListener(type, () => window.__bench.inputs.push(performance.now()), true);
}
"""

#: Hook the Explorer map's redraws: Plotly's ``plotly_afterplot``, and the page script's
#: ``hotspot-map-painted`` (sent after MapLibre renders the frame holding new values, where a
#: filter change no longer goes through Plotly). Two animation frames later the pixels are on
#: screen.
HOOK_MAP = """
() => {
    const gd = document.querySelector('#explorer-map .js-plotly-plot');
    const stamp = () => {
        const at = performance.now();
        requestAnimationFrame(() => requestAnimationFrame(
            () => window.__bench.plots.push([at, performance.now()])));
    };
    gd.on('plotly_afterplot', stamp);
    gd.addEventListener('hotspot-map-painted', stamp);
}
"""

#: The hexagons' total as the map holds it (the sum of what it paints), or null.
MAP_TOTAL = """
() => {
    const gd = document.querySelector('#explorer-map .js-plotly-plot');
    if (window.hotspotMapTotal) return window.hotspotMapTotal(gd);
    const t = gd && gd.data && gd.data[1];
    return t && t.z ? t.z.reduce((a, b) => a + (b || 0), 0) : null;
}
"""

#: A page is drawn when no callback is pending and every graph (and every map) has drawn.
PAGE_READY = """
() => {
    if (document.readyState !== 'complete') return false;
    if (!document.querySelector('#_pages_content, #react-entry-point .dash-graph')) return false;
    if (document.querySelector('[data-dash-is-loading="true"]')) return false;
    const graphs = [...document.querySelectorAll('.dash-graph')];
    if (!graphs.length) return false;
    for (const g of graphs) {
        const gd = g.querySelector('.js-plotly-plot');
        if (!gd || !gd._fullLayout) return false;
        const sub = gd._fullLayout.map && gd._fullLayout.map._subplot;
        if (gd._fullLayout.map && (!sub || !sub.map || !sub.map.loaded())) return false;
    }
    return performance.now();
}
"""


@contextmanager
def serve(data_dir: Path, port: int):
    """Run ``hotspot serve`` of the checkout on PYTHONPATH; yield its address."""
    log = data_dir.parent / f"{data_dir.name}-bench-server.log"
    cmd = [sys.executable, "-m", "dashboard.cli", "serve", "--data-dir", str(data_dir),
           "--port", str(port)]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        try:
            url = f"http://127.0.0.1:{port}"
            try:
                wait_until_up(url, proc, log, timeout_s=300)
            except RuntimeError as exc:
                raise SystemExit(str(exc)) from None
            yield url
        finally:
            proc.terminate()
            proc.wait(timeout=20)


def _stats(values: list[float]) -> dict[str, Any]:
    return {"n": len(values), "median_ms": round(statistics.median(values), 1),
            "p90_ms": round(float(np.percentile(values, 90)), 1),
            "max_ms": round(max(values), 1), "all_ms": [round(v) for v in values]}


def first_loads(browser: Any, url: str, repeats: int) -> dict[str, Any]:
    """Time each page's load in fresh contexts, after one untimed load to warm the server."""
    out: dict[str, Any] = {}
    for path in PAGES:
        times = []
        for i in range(repeats + 1):
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(url + path)
            ready = page.wait_for_function(PAGE_READY, polling="raf", timeout=120_000)
            drawn = float(ready.json_value())
            # it must stay drawn: a callback that fires late would redraw it
            page.wait_for_timeout(1000)
            if not page.evaluate(PAGE_READY):
                drawn = float(page.wait_for_function(PAGE_READY, polling="raf",
                                                     timeout=120_000).json_value())
            if i:
                times.append(drawn)
            context.close()
        out[path] = _stats(times)
    return out


def warm_loads(browser: Any, url: str, repeats: int) -> dict[str, Any]:
    """Time each page's load in a browser that has opened Hotspot before (scripts cached)."""
    out: dict[str, Any] = {}
    context = browser.new_context(viewport=VIEWPORT)
    page = context.new_page()
    for path in PAGES:  # fill the cache with every page's scripts
        page.goto(url + path)
        page.wait_for_function(PAGE_READY, polling="raf", timeout=120_000)
    for path in PAGES:
        times = []
        for _ in range(repeats):
            page.goto(url + "/api/v1/health")  # leave the page, so the next load is whole
            page.goto(url + path)
            times.append(float(page.wait_for_function(PAGE_READY, polling="raf",
                                                      timeout=120_000).json_value()))
        out[path] = _stats(times)
    context.close()
    return out


def _selection_count(page: Any) -> int:
    text = page.inner_text("#explorer-selection")
    return int(text.split(" of ")[0].replace(",", ""))


def _choose(page: Any, dropdown: str, option: str) -> None:
    page.click(dropdown)
    page.locator(".dash-dropdown-content .dash-dropdown-option",
                 has_text=option).first.click()
    # the change is the click on the option: time from it, not from closing the list
    page.evaluate("() => { window.__bench.start = window.__bench.inputs.at(-1); }")
    page.keyboard.press("Escape")


def _changes(page: Any, n: int) -> list[tuple[str, Any]]:
    """Return ``n`` filter changes, each a label and an action doing it as a user would."""
    cycle: list[tuple[str, Any]] = [
        ("days: untick Sun", lambda: page.click("#explorer-days input[value=sun]")),
        ("hours: from 18:00", lambda: _choose(page, "#explorer-hour-from", "18:00")),
        ("categories: Robbery", lambda: _choose(page, "#explorer-categories", "Robbery")),
        ("days: untick Mon", lambda: page.click("#explorer-days input[value=mon]")),
        ("hours: from 00:00", lambda: _choose(page, "#explorer-hour-from", "00:00")),
        ("categories: Public order", lambda: _choose(page, "#explorer-categories",
                                                     "Public order")),
        ("days: tick Sun", lambda: page.click("#explorer-days input[value=sun]")),
        ("categories: clear", lambda: page.click("#explorer-categories .dash-dropdown-clear")),
        ("days: tick Mon", lambda: page.click("#explorer-days input[value=mon]")),
        ("hours: to 06:00", lambda: _choose(page, "#explorer-hour-to", "06:00")),
        ("hours: to 24:00", lambda: _choose(page, "#explorer-hour-to", "24:00")),
        ("days: untick Sat", lambda: page.click("#explorer-days input[value=sat]")),
        ("days: tick Sat", lambda: page.click("#explorer-days input[value=sat]")),
    ]
    return [cycle[i % len(cycle)] for i in range(n)]


def _quiet(page: Any, quiet_ms: int = 800, timeout_s: float = 60.0) -> None:
    """Wait until no callback is pending and the map has not redrawn for ``quiet_ms``."""
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        page.wait_for_function(
            "() => !document.querySelector('[data-dash-is-loading=\"true\"]')",
            timeout=int(timeout_s * 1000))
        n = page.evaluate("() => window.__bench.plots.length")
        page.wait_for_timeout(quiet_ms)
        if page.evaluate("() => window.__bench.plots.length") == n and not page.evaluate(
                "() => document.querySelector('[data-dash-is-loading=\"true\"]')"):
            return
    raise RuntimeError("the page did not settle")


def redraws(browser: Any, url: str, n_changes: int, profile: Path | None) -> dict[str, Any]:
    """Time ``n_changes`` filter changes on the Explorer at resolution 9 (see module doc)."""
    context = browser.new_context(viewport=VIEWPORT)
    context.add_init_script(HOOKS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/?res=9")
    page.wait_for_function(PAGE_READY, polling="raf", timeout=120_000)
    page.evaluate(HOOK_MAP)
    _quiet(page)
    cdp = None
    if profile is not None:
        cdp = context.new_cdp_session(page)
        cdp.send("Tracing.start", {
            "transferMode": "ReturnAsStream",
            "traceConfig": {"includedCategories": [
                "devtools.timeline", "disabled-by-default-devtools.timeline",
                "disabled-by-default-devtools.timeline.frame", "v8.execute",
                "disabled-by-default-v8.cpu_profiler", "blink.user_timing", "gpu",
                "toplevel", "loading"]}})
    times: list[float] = []
    labels: list[str] = []
    cells_drawn: list[int] = []
    for label, action in _changes(page, n_changes):
        before_total = page.evaluate(MAP_TOTAL)
        before_text = page.inner_text("#explorer-selection")
        page.evaluate("() => { window.__bench.inputs = []; window.__bench.plots = [];"
                      " window.__bench.start = null; }")
        action()
        page.wait_for_function(
            "t => document.querySelector('#explorer-selection').innerText !== t",
            arg=before_text, timeout=60_000)
        # the new values are drawn (a redraw may start well after the response arrives)
        page.wait_for_function(
            "() => { const t = document.querySelector('#explorer-selection').innerText;"
            f" return ({MAP_TOTAL})() === parseInt(t.split(' of ')[0].replace(/,/g, ''));"
            " }", timeout=120_000)
        _quiet(page)
        expected = _selection_count(page)
        total = page.evaluate(MAP_TOTAL)
        if total != expected:
            raise RuntimeError(f"{label}: the map paints {total} incidents, the selection "
                               f"holds {expected} (was {before_total})")
        start = page.evaluate("() => window.__bench.start ?? window.__bench.inputs.at(-1)")
        plots = page.evaluate("() => window.__bench.plots")
        if not plots:
            raise RuntimeError(f"{label}: the map did not redraw")
        times.append(plots[-1][1] - start)
        labels.append(label)
        cells_drawn.append(page.evaluate(
            "() => window.hotspotCellsDrawn ? window.hotspotCellsDrawn() : "
            "(document.querySelector('#explorer-map .js-plotly-plot').data[1].locations"
            " || []).length"))
    if cdp is not None and profile is not None:
        _save_trace(page, cdp, profile / "redraw-trace.json")
    context.close()
    if errors:
        raise RuntimeError(f"page errors: {errors}")
    return {**_stats(times), "changes": labels, "cells_drawn": cells_drawn}


def _save_trace(page: Any, cdp: Any, path: Path) -> None:
    done: dict[str, Any] = {}
    cdp.on("Tracing.tracingComplete", lambda e: done.update(e))
    cdp.send("Tracing.end")
    while not done:
        page.wait_for_timeout(100)  # lets Playwright deliver the event
    handle = done["stream"]
    data = []
    while True:
        chunk = cdp.send("IO.read", {"handle": handle, "size": 1 << 20})
        data.append(chunk["data"])
        if chunk.get("eof"):
            break
    cdp.send("IO.close", {"handle": handle})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(data))


def _prepare(data_dir: Path, n: int | None, seed: int) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    if n is not None and not (data_dir / "store").exists():
        subprocess.run([sys.executable, "-m", "dashboard.cli", "sample", "--data-dir",
                        str(data_dir), "--n", str(n), "--seed", str(seed)], check=True,
                       stdout=subprocess.DEVNULL)


def main() -> None:
    """Print the figures as JSON; with --save, add them to a file under --label."""
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--n", type=int, help="generate N incidents into an empty DATA_DIR")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--changes", type=int, default=24)
    parser.add_argument("--loads", type=int, default=3, help="timed loads of each page")
    parser.add_argument("--port", type=int, default=18650)
    parser.add_argument("--skip-loads", action="store_true")
    parser.add_argument("--label", default="after")
    parser.add_argument("--save", type=Path, help="JSON file to add the figures to")
    parser.add_argument("--profile", type=Path, help="save a Chromium trace of the redraws")
    args = parser.parse_args()
    _prepare(args.data_dir, args.n, args.seed)
    result: dict[str, Any] = {"data": f"{args.n} generated incidents, seed {args.seed}"
                              if args.n else "the bundled 60,000-incident sample",
                              "chromium_flags": FLAGS, "viewport": VIEWPORT}
    with serve(args.data_dir, args.port) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        result["redraw_res9"] = redraws(browser, url, args.changes, args.profile)
        if not args.skip_loads:
            result["first_load"] = first_loads(browser, url, args.loads)
            result["load_with_cached_scripts"] = warm_loads(browser, url, args.loads)
        browser.close()
    print(json.dumps(result, indent=1))
    if args.save:
        saved = json.loads(args.save.read_text()) if args.save.exists() else {}
        key = "sample" if not args.n else f"n{args.n}"
        saved.setdefault(args.label, {})[key] = result
        args.save.write_text(json.dumps(saved, indent=1) + "\n")


if __name__ == "__main__":
    main()
