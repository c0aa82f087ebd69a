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
