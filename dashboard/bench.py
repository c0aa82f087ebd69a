"""``hotspot bench``: the speed targets, each measured beside a baseline in the same run.

Figures (all on generated data of ``n`` incidents, on this machine):

* ``ingest_rows_per_s``: ``hotspot ingest`` of a police.uk-format CSV (gzipped, coordinates
  snapped to shared map points as police.uk does), end to end including projection, area
  assignment, H3 indexing, de-duplication and the atomic commit.
* ``filter_change_ms_median`` / ``filter_change_bytes``: one Explorer filter change at H3
  resolution 9 over the whole force area, through the real Dash endpoint
  (``/_dash-update-component`` via Flask's test client): query, aggregation, the grid, the
  ranked table and the map's values (since issue 11 a callback of their own: both requests
  are timed and their sizes added), and the size of what the browser receives.
  Baseline: a straightforward pandas filter and ``groupby`` rebuilding the whole figure
  (hexagon geometry included), serialised as plotly JSON.
* ``kde_s`` / ``kde_max_err_rel_peak``: quartic kernel density of all points on a 100 m grid
  over the whole area; the error is the largest difference from the direct sum over a
  sub-region, relative to the peak. Baseline: scikit-learn ``KernelDensity`` on a subsample,
  scaled to ``n``.
* ``dbscan_s`` / ``dbscan_peak_mb`` / ``dbscan_ari_vs_exact``: grid DBSCAN on all points
  (eps 100 m), timed and its peak memory measured in a fresh process; agreement with
  scikit-learn's exact DBSCAN (adjusted Rand index) on a 100,000-point subsample. Baseline:
  scikit-learn ``DBSCAN`` at the largest size it survives.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geo.settings import DataPaths

POLICE_HEADER = ("Crime ID,Month,Reported by,Falls within,Longitude,Latitude,Location,"
                 "LSOA code,LSOA name,Crime type,Last outcome category,Context")


def write_police_csv(sample: pd.DataFrame, path: Path, seed: int) -> Path:
    """Write generated incidents as a police.uk street-level CSV (gzipped if ``path`` ends .gz).

    Coordinates are snapped to about 1 in 50 of the points (shared "map points"), and about a
    quarter of rows are anti-social behaviour with a blank Crime ID, as in the real files.
    """
    rng = np.random.default_rng(seed)
    n = len(sample)
    lon = sample["longitude"].to_numpy()
    lat = sample["latitude"].to_numpy()
    anchors = rng.choice(n, size=max(1, n // 50), replace=False)
    from scipy.spatial import cKDTree

    tree = cKDTree(np.c_[lon[anchors] * 0.6, lat[anchors]])
    _, nearest = tree.query(np.c_[lon * 0.6, lat])
    snapped_lon = lon[anchors][nearest]
    snapped_lat = lat[anchors][nearest]
    months = pd.to_datetime(sample["occurred_at"]).dt.strftime("%Y-%m").to_numpy()
    asb = rng.random(n) < 0.25
    ids = np.array([hashlib.sha256(f"{seed}-{i}".encode()).hexdigest() for i in range(n)])
    ids[asb] = ""
    crime = np.where(asb, "Anti-social behaviour", sample["category"].to_numpy())
    frame = pd.DataFrame({
        "Crime ID": ids, "Month": months, "Reported by": "Lancashire Constabulary",
        "Falls within": "Lancashire Constabulary",
        "Longitude": np.round(snapped_lon, 6), "Latitude": np.round(snapped_lat, 6),
        "Location": "On or near Synthetic Street", "LSOA code": "E01000000",
        "LSOA name": "Synthetic 001A", "Crime type": crime,
        "Last outcome category": "", "Context": "",
    })
    if path.suffix == ".gz":
        with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as fh:
            frame.to_csv(fh, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _bench_ingest(sample: pd.DataFrame, workdir: Path, seed: int) -> dict[str, Any]:
    from geo.ingest import ingest_file

    # police.uk's downloads are plain CSV files; the gzipped rate is reported beside it
    out: dict[str, Any] = {}
    # Warm the process (imports, the projection and the area index) on a small file first:
    # the figure is the steady ingest rate, not Python's start-up.
    warm = write_police_csv(sample.head(2000), workdir / "warm.csv", seed)
    ingest_file(warm, DataPaths(workdir / "data-warm"))
    for label, name in (("", "police.csv"), ("_gz", "police.csv.gz")):
        csv = write_police_csv(sample, workdir / name, seed)
        data = DataPaths(workdir / f"data-police{label}")
        t0 = time.perf_counter()
        summary = ingest_file(csv, data)
        seconds = time.perf_counter() - t0
        out[f"ingest{label}_rows_per_s"] = round(summary.read / seconds)
        out[f"ingest{label}_s"] = round(seconds, 2)
        if not label:
            out.update({"ingest_rows": summary.read, "ingest_accepted": summary.accepted,
                        "ingest_duplicates": summary.duplicates,
                        "ingest_rejected": summary.rejected})
    return out


def _load_generic(sample: pd.DataFrame, workdir: Path) -> DataPaths:
    """Ingest the timestamped sample (needed for day/hour filters) into a data directory."""
    from geo.ingest import ingest_file
    from geo.readers import load_mapping
    from geo.settings import bundled_sample_dir

    path = workdir / "timestamped.csv.gz"
    sample.to_csv(path, index=False, compression={"method": "gzip", "compresslevel": 1})
    data = DataPaths(workdir / "data-timestamped")
    ingest_file(path, data, mapping=load_mapping(bundled_sample_dir() / "mapping.toml"))
    return data


def _filter_requests(n_requests: int) -> list[dict[str, Any]]:
    presets = [(["fri", "sat"], 20, 4), (["mon", "tue", "wed", "thu", "fri"], 15, 19),
               (None, 0, 24), (["sat", "sun"], 0, 6)]
    out = []
    for i in range(n_requests):
        days, h0, h1 = presets[i % len(presets)]
        end = (pd.Timestamp("2025-03-31") - pd.Timedelta(days=i)).date().isoformat()
        out.append({"days": days or ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
                    "hour_from": h0, "hour_to": h1, "end": end})
    return out


def bench_filter_change(data: DataPaths, n_requests: int = 21,
                        requests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Time the Explorer's filter change through ``/_dash-update-component``.

    Returns the median and 90th percentile (the first request left out) and the bytes sent.
    ``requests`` are the filter settings in turn (``days``, ``hour_from``, ``hour_to``,
    ``end`` and optionally ``start`` and ``categories``); by default ``n_requests`` of
    :func:`_filter_requests`.
    """
    from dashboard import ids
    from dashboard.app import create_app

    app = create_app(data)
    client = app.server.test_client()
    client.get("/")  # Dash registers its callbacks on the first request, as for a browser
    # the page's answer to a filter change: the grid, table and texts, and (a callback of its
    # own where there is one) the map's values
    keys = [k for k in app.callback_map if f"{ids.SELECTION_TEXT}.children" in k
            or k.startswith(f"..{ids.MAP_VALUES}.data")]
    # in the page's order: the map's values first, then the view they trigger
    keys.sort(key=lambda k: not k.startswith(f"..{ids.MAP_VALUES}.data"))
    from dashboard import services
    from geo.access import Principal, load_roles

    svc = services.current()
    # outside a request nobody is signed in: answer as the local analyst, as the gate does
    # for a browser on this machine with no users set up
    with svc.pinned(Principal("local analyst", load_roles()["analyst"], None, via="local")):
        geometry_key = svc.geometry_key(9)
        # the page load builds these once; not part of a filter change
        svc.cells_geojson(9)
    base_values = {
        f"{ids.DATES}.start_date": None, f"{ids.CATEGORIES}.value": [],
        f"{ids.SOURCES}.value": [], f"{ids.AREAS}.value": [], f"{ids.PUBLIC_ONLY}.value": [],
        f"{ids.LAYERS}.value": ["cells", "areas"], f"{ids.RES}.value": 9,
        f"{ids.AREA_MEASURE}.value": "count", f"{ids.KDE_BANDWIDTH}.value": None,
        f"{ids.TABLE_UNIT}.value": "cells",
        f"{ids.DBSCAN_EPS}.value": 100, f"{ids.DBSCAN_MIN}.value": 15,
        f"{ids.GEOMETRY_KEY}.data": geometry_key,
    }
    times, sizes = [], []
    digest = hashlib.sha256()  # every answer the page got: engines must agree to the byte
    map_times: list[float] = []  # the map's values alone: the map repaints when they come
    for req in requests or _filter_requests(n_requests):
        values = {**base_values, f"{ids.DATES}.end_date": req["end"],
                  f"{ids.DATES}.start_date": req.get("start"),
                  f"{ids.CATEGORIES}.value": list(req.get("categories", [])),
                  f"{ids.DAYS}.value": req["days"], f"{ids.HOUR_FROM}.value": req["hour_from"],
                  f"{ids.HOUR_TO}.value": req["hour_to"]}

        def item(dep: dict[str, str], values: dict[str, Any] = values) -> dict[str, Any]:
            return {"id": dep["id"], "property": dep["property"],
                    "value": values.get(f"{dep['id']}.{dep['property']}")}

        elapsed, size = 0.0, 0
        for key in keys:
            spec = app.callback_map[key]
            payload = {
                "output": key,
                "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]}
                            for o in key.strip(".").split("...")],
                "inputs": [item(d) for d in spec["inputs"]],
                "state": [item(d) for d in spec["state"]],
                # the day filter changed; the view follows the map's values
                "changedPropIds": [f"{ids.DAYS}.value" if any(
                    d["id"] == ids.DAYS for d in spec["inputs"]) else f"{ids.MAP_VALUES}.data"],
            }
            t0 = time.perf_counter()
            resp = client.post("/_dash-update-component", json=payload)
            took = time.perf_counter() - t0
            elapsed += took
            if key.startswith(f"..{ids.MAP_VALUES}.data"):
                map_times.append(took)
            if resp.status_code != 200:
                raise RuntimeError(f"filter change failed: {resp.status_code} "
                                   f"{resp.data[:300]!r}")
            # a callback that fails still answers 200, with a notice for the page: a
            # benchmark of a failing page would time nothing
            for said in (b"went wrong inside Hotspot", b"could not be used", b"not available"):
                if said in resp.data:
                    raise RuntimeError(f"filter change failed: {resp.data[:300]!r}")
            size += len(resp.data)
            digest.update(resp.data)
        times.append(elapsed)
        sizes.append(size)
    times = times[1:]  # the first request warms Flask and the query caches' code paths
    return {"filter_change_ms_median": round(1000 * statistics.median(times), 1),
            "filter_change_ms_p90": round(1000 * float(np.percentile(times, 90)), 1),
            "filter_change_bytes": int(statistics.median(sizes[1:])),
            "map_values_ms_median": round(1000 * statistics.median(map_times[1:]), 1),
            "filter_change_answers_sha256": digest.hexdigest()[:16]}


def _bench_filter_baseline(data: DataPaths, n_requests: int = 5) -> dict[str, Any]:
    """Time a straightforward implementation: pandas filter, groupby, a whole new figure."""
    import h3
    import plotly.graph_objects as go
    import plotly.io as pio

    from geo.store import Store

    _, table = Store(data.store).read(columns=["occurred_at", "h3_9", "category"])
    df = table.to_pandas()
    df["h3_9"] = [format(int(c), "x") for c in df["h3_9"]]
    times, sizes = [], []
    for req in _filter_requests(n_requests):
        t0 = time.perf_counter()
        local = df["occurred_at"]
        days = [["mon", "tue", "wed", "thu", "fri", "sat", "sun"].index(d) for d in req["days"]]
        hours = list(range(req["hour_from"], 24)) + list(range(0, req["hour_to"])) if req[
            "hour_from"] > req["hour_to"] else list(range(req["hour_from"], req["hour_to"]))
        sel = df[local.dt.dayofweek.isin(days) & local.dt.hour.isin(hours)
                 & (local.dt.date <= pd.Timestamp(req["end"]).date())]
        counts = sel.groupby("h3_9").size()
        features = []
        for cell in counts.index:
            ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
            features.append({"type": "Feature", "id": cell,
                             "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}})
        fig = go.Figure(go.Choroplethmap(
            geojson={"type": "FeatureCollection", "features": features},
            locations=counts.index.tolist(), z=counts.to_numpy(), featureidkey="id"))
        body = pio.to_json(fig)
        times.append(time.perf_counter() - t0)
        sizes.append(len(body.encode()))
    return {"baseline_filter_change_ms_median": round(1000 * statistics.median(times), 1),
            "baseline_filter_change_bytes": int(statistics.median(sizes))}


def _bench_kde(east: np.ndarray, north: np.ndarray, skip_baselines: bool) -> dict[str, Any]:
    from geo.kde import Grid, quartic_kde, quartic_kde_direct, sklearn_baseline_seconds

    grid = Grid.from_bounds(318_000, 395_000, 400_000, 480_000, cell_m=100.0)
    bandwidth = 300.0
    quartic_kde(east[:1000], north[:1000], grid, bandwidth)  # warm FFT plans
    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        density = quartic_kde(east, north, grid, bandwidth)
        runs.append(time.perf_counter() - t0)
    # exactness: direct sum over a 6 km x 6 km window around the densest cell
    iy, ix = np.unravel_index(np.nanargmax(density), density.shape)
    x0, y0 = grid.x0 + (ix - 30) * grid.cell_m, grid.y0 + (iy - 30) * grid.cell_m
    sub = Grid(x0=x0, y0=y0, cell_m=grid.cell_m, nx=60, ny=60)
    near = (np.abs(east - (x0 + 3000)) < 3000 + bandwidth) & (
        np.abs(north - (y0 + 3000)) < 3000 + bandwidth)
    direct = quartic_kde_direct(east[near], north[near], sub, bandwidth)
    fast = density[iy - 30: iy + 30, ix - 30: ix + 30]
    err = float(np.nanmax(np.abs(fast - direct)) / np.nanmax(direct))
    out = {"kde_s": round(statistics.median(runs), 4), "kde_grid": f"{grid.nx}x{grid.ny} @100 m",
           "kde_bandwidth_m": bandwidth, "kde_max_err_rel_peak": round(err, 5)}
    if not skip_baselines:
        out["baseline_kde_s"] = round(sklearn_baseline_seconds(east, north, grid, bandwidth), 2)
    return out


_DBSCAN_CHILD = """
import json, sys, time
import numpy as np
from geo.dbscan import dbscan

def vm_hwm_mb():
    # VmHWM is this process's own peak resident memory; getrusage's ru_maxrss can carry the
    # parent's peak across fork and exec, which would charge the parent's data to DBSCAN.
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")

data = np.load(sys.argv[1])
e, n = data["e"], data["n"]
dbscan(e[:2000], n[:2000], eps_m=100.0, min_samples=20)  # compile / load the numba cache
base = vm_hwm_mb()
t0 = time.perf_counter()
labels = dbscan(e, n, eps_m=100.0, min_samples=20)
dt = time.perf_counter() - t0
peak = vm_hwm_mb()
print(json.dumps({"s": dt, "peak_mb": peak, "extra_mb": peak - base,
                  "clusters": int(labels.max() + 1)}))
"""


def _bench_dbscan(east: np.ndarray, north: np.ndarray, workdir: Path, seed: int,
                  skip_baselines: bool) -> dict[str, Any]:
    from sklearn.cluster import DBSCAN
    from sklearn.metrics import adjusted_rand_score

    from geo.dbscan import dbscan, sklearn_dbscan_baseline

    pts = workdir / "points.npz"
    np.savez(pts, e=east, n=north)
    proc = subprocess.run([sys.executable, "-c", _DBSCAN_CHILD, str(pts)], capture_output=True,
                          text=True, check=True)
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    rng = np.random.default_rng(seed)
    sub = rng.choice(len(east), size=min(100_000, len(east)), replace=False)
    ours = dbscan(east[sub], north[sub], eps_m=100.0, min_samples=20)
    exact = DBSCAN(eps=100.0, min_samples=20).fit_predict(np.c_[east[sub], north[sub]])
    out = {"dbscan_s": round(child["s"], 2), "dbscan_peak_mb": round(child["peak_mb"]),
           "dbscan_extra_mb": round(child["extra_mb"]), "dbscan_clusters": child["clusters"],
           "dbscan_params": "eps 100 m, min_samples 20",
           "dbscan_ari_vs_exact": round(float(adjusted_rand_score(exact, ours)), 5),
           "dbscan_ari_n": len(sub)}
    if not skip_baselines:
        base = sklearn_dbscan_baseline(east, north, 100.0, 20, seed=seed)
        out["baseline_dbscan"] = base
        if base.get("n") and base.get("seconds"):
            out["baseline_dbscan_s_at_its_largest_n"] = base["seconds"]
    return out


def run_bench(n: int = 1_000_000, seed: int = 0, skip_baselines: bool = False) -> dict[str, Any]:
    """Run every measurement on ``n`` generated incidents and return the figures."""
    from geo.sample import generate_sample

    result: dict[str, Any] = {"n": n, "seed": seed}
    with tempfile.TemporaryDirectory(prefix="hotspot-bench-") as tmp:
        workdir = Path(tmp)
        t0 = time.perf_counter()
        sample = generate_sample(n=n, seed=seed)
        result["generate_s"] = round(time.perf_counter() - t0, 1)
        result.update(_bench_ingest(sample, workdir, seed))
        data = _load_generic(sample, workdir)
        # the in-memory server, whatever the size (beyond HOTSPOT_IN_MEMORY_MAX_ROWS the
        # server would choose DuckDB; `hotspot bench --engine duckdb` measures that)
        engine = os.environ.get("HOTSPOT_ENGINE")
        os.environ["HOTSPOT_ENGINE"] = "numpy"
        try:
            result.update(bench_filter_change(data))
        finally:
            if engine is None:
                os.environ.pop("HOTSPOT_ENGINE", None)
            else:
                os.environ["HOTSPOT_ENGINE"] = engine
        result["engine"] = "numpy"
        if not skip_baselines:
            result.update(_bench_filter_baseline(data))
        from geo.projection import to_bng

        east, north = to_bng(sample["longitude"].to_numpy(), sample["latitude"].to_numpy())
        result.update(_bench_kde(east, north, skip_baselines))
        result.update(_bench_dbscan(east, north, workdir, seed, skip_baselines))
    for name in ("filter_change_ms_median", "filter_change_bytes", "kde_s"):
        base = result.get(f"baseline_{name}")
        if base and result.get(name):
            result[f"ratio_{name}_vs_baseline"] = round(result[name] / base, 4)
    return result
