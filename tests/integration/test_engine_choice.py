"""`hotspot serve` chooses its engine by the store's size (``--engine auto``, the default) and
says which it chose, and why, as it starts."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from collections.abc import Sequence

from dashboard.liveserver import serve
from geo.settings import DataPaths
from geo.store import Store


def _started(data_dir, env: dict[str, str], flags: Sequence[str] = ()) -> tuple[str, dict]:
    with serve(data_dir, env=env, flags=flags) as url, \
            urllib.request.urlopen(url + "/api/v1/health", timeout=30) as r:
        health = json.loads(r.read())
    log = (data_dir / "server.log").read_text()
    return log, health["data"]


def test_a_store_beyond_the_in_memory_limit_is_counted_by_duckdb(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    log, status = _started(data_dir, {"HOTSPOT_ENGINE": ""})  # the sample: 60,314 incidents
    assert ("The store's 60,314 incidents are held in memory, as it holds no more than "
            "2,000,000 (HOTSPOT_IN_MEMORY_MAX_ROWS)") in log
    assert "engine" not in status

    log, status = _started(data_dir, {"HOTSPOT_ENGINE": "",
                                      "HOTSPOT_IN_MEMORY_MAX_ROWS": "60000"})
    assert ("The store's 60,314 incidents are counted by duckdb over its files, as it holds "
            "more than 60,000 (HOTSPOT_IN_MEMORY_MAX_ROWS)") in log
    assert status["engine"] == "duckdb" and status["incidents"] == 60_314
    files = len(Store.of(DataPaths(data_dir)).manifest().files)
    assert (f"The query index holds 0 of its {files} files: run hotspot index (or hotspot "
            "compact) for the Explorer's figures about three times sooner.") in log

    # the operator builds it; the next start says so and counts from it
    done = subprocess.run([sys.executable, "-m", "dashboard.cli", "index", "--data-dir",
                           str(data_dir)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"Built the query index of 60,314 incidents in {files} files" in done.stdout
    log, status = _started(data_dir, {"HOTSPOT_ENGINE": "",
                                      "HOTSPOT_IN_MEMORY_MAX_ROWS": "60000"})
    assert "The query index holds every file." in log and status["incidents"] == 60_314
    again = subprocess.run([sys.executable, "-m", "dashboard.cli", "index", "--data-dir",
                            str(data_dir)], capture_output=True, text=True, timeout=300)
    assert "The query index already holds all" in again.stdout

    # an engine named is the engine used, without a reason
    log, status = _started(data_dir, {"HOTSPOT_IN_MEMORY_MAX_ROWS": "60000"},
                           ["--engine", "numpy"])
    assert "The store's 60,314 incidents are held in memory." in log
