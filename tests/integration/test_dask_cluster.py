"""The Dask executor against a cluster run as plain processes (docs/CLUSTER.md)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from dashboard.liveserver import serve
from geo.engines import CoreQuery, DaskExecutor, DuckDBExecutor
from geo.ingest import load_sample
from geo.query import Filters
from geo.settings import DataPaths
from geo.store import Store

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def cluster(tmp_path) -> Iterator[str]:
    """`dask scheduler` and two `dask worker` processes on the loopback interface."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = tmp_path / "cluster.log"
    with open(log, "w") as out:
        procs = [subprocess.Popen([DASK, "scheduler", "--host", "127.0.0.1", "--port",
                                   str(port), "--dashboard-address", "127.0.0.1:0"],
                                  stdout=out, stderr=subprocess.STDOUT)]
        procs += [subprocess.Popen([DASK, "worker", address, "--nthreads", "1", "--host",
                                    "127.0.0.1", "--no-dashboard", "--memory-limit", "1GiB"],
                                   stdout=out, stderr=subprocess.STDOUT) for _ in range(2)]
        try:
            yield address
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                try:
                    p.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    p.kill()


def test_a_scheduler_and_workers_started_by_hand_give_the_duckdb_answers(cluster, tmp_path):
    data = DataPaths(tmp_path / "data")
    load_sample(data, n=2_000, seed=4)
    store = Store(data.store)
    ex = DaskExecutor(store, scheduler=cluster)
    try:
        deadline = time.monotonic() + 60
        while ex.threads() < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ex.threads() == 2, "the two workers never joined the scheduler"
        duck = DuckDBExecutor(store)
        q = CoreQuery(Filters(days=frozenset({4, 5}), hours=(20, 4)))
        for got, want in zip(ex.core(q, 9), duck.core(q, 9), strict=True):
            np.testing.assert_array_equal(got.keys, want.keys)
            np.testing.assert_array_equal(got.counts, want.counts)
        assert ex.core(q, 9)[1].counts.sum() > 0
        np.testing.assert_array_equal(ex.day_hour_grid(q), duck.day_hour_grid(q))
    finally:
        ex.close()
    # closing a client of someone else's cluster leaves the cluster running
    again = DaskExecutor(store, scheduler=cluster)
    assert again.threads() == 2
    again.close()


def test_hotspot_serve_on_the_cluster_answers_as_the_default_server(cluster, tmp_path):
    """`hotspot serve --engine dask --scheduler ADDR` (docs/CLUSTER.md) against a scheduler
    and workers started by hand gives the default server's figures, through the API."""
    import json
    import urllib.error
    import urllib.request

    from dashboard.access.accounts import Accounts
    from geo.access import load_roles

    data = DataPaths(tmp_path / "data")
    load_sample(data, n=2_000, seed=4)
    accounts = Accounts(data.access, load_roles(data.access / "roles.toml"))
    analyst = accounts.create_token("analyst-t", "analyst")
    partner = accounts.create_token("partner-t", "partner")

    def ask(url: str, token: str) -> object:
        request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=120) as resp:
            return json.load(resp)

    with serve(data.root, log_path=tmp_path / "numpy.log") as default, \
            serve(data.root, flags=["--engine", "dask", "--scheduler", cluster],
                  log_path=tmp_path / "dask.log") as on_dask:
        answers = []
        for url in (default, on_dask):
            got = []
            for query in ("level=la&days=fri,sat&hours=20-4", "level=h3&res=8",
                          "level=h3&res=9&categories=Robbery"):
                got.append(ask(f"{url}/api/v1/aggregate?{query}", analyst)["rows"])
            answers.append(got)
        assert answers[0] == answers[1]
        assert sum(r["count"] for r in answers[0][0]) > 0
        # a partner's suppressed, adjusted figures: the record keys summed on the workers
        shown = []
        for url in (default, on_dask):
            got = []
            for query in ("level=la&days=mon&hours=5-6", "level=h3&res=8&days=sun"):
                got.append(ask(f"{url}/api/v1/aggregate?{query}", partner)["rows"])
            shown.append(got)
        assert shown[0] == shown[1]
        assert any(r["count"] is None for r in shown[0][0])  # small numbers hidden
        # the trends and the board, counted by the workers, are the default server's too
        for query, token in (("trends?period=fyq&la=E06000009", analyst),
                             ("patrol-plan?la=E07000123&days=fri,sat&hours=20-4", analyst),
                             ("emerging?categories=Robbery", analyst),
                             ("health-data/compare?source=ed&period=quarter", partner),
                             ("board?period=month&baseline=previous", partner)):
            views = [ask(f"{url}/api/v1/{query}", token) for url in (default, on_dask)]
            if query.startswith("board"):
                for view in views:
                    view.pop("currency")  # type: ignore[attr-defined]  # arrival times
            if query.startswith("patrol-plan"):  # read by the workers, bounded
                for view in views:
                    view["provenance"].pop("extracted_at")  # type: ignore[index]
                assert view["features"], query  # type: ignore[index]
            assert views[0] == views[1], query
        # the engine says which it is
        assert "dask" in json.dumps(ask(f"{on_dask}/api/v1/health", analyst))
