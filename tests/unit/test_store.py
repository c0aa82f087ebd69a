"""The store's promises: batches appear whole or not at all, re-ingest adds nothing, the sample
is never mixed with user data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.schema import empty_rejects
from geo.store import Store
from tests.conftest import stored_table


def _table(n: int, offset: int = 0) -> pa.Table:
    t = stored_table(np.full(n, 353_750.0), np.full(n, 429_410.0),
                     [f"2024-06-0{1 + i % 7} 23:15" for i in range(n)])
    ids = pa.array([f"X{offset + i}" for i in range(n)])
    return t.set_column(0, "incident_id", ids)


def _commit(store: Store, table: pa.Table, kind: str = "user") -> int:
    _, dupes = store.commit(table, source_file="f.csv", rejects=empty_rejects(),
                            summary={"read": table.num_rows, "rejected": 0}, kind=kind)
    return dupes


def test_commit_then_read_round_trips(tmp_path):
    store = Store(tmp_path / "store")
    _commit(store, _table(5))
    manifest, table = store.read()
    assert manifest.version == 1 and manifest.rows == 5
    assert sorted(table.column("incident_id").to_pylist()) == [f"X{i}" for i in range(5)]
    assert set(table.column("batch_id").to_pylist()) == {manifest.batches[0].batch_id}


def test_recommitting_the_same_ids_adds_nothing(tmp_path):
    store = Store(tmp_path / "store")
    _commit(store, _table(5))
    dupes = _commit(store, _table(7))  # X0..X4 again plus X5, X6
    manifest, table = store.read()
    assert dupes == 5
    assert table.num_rows == 7
    assert manifest.batches[-1].rows == 2


def test_user_data_replaces_the_sample_never_mixes(tmp_path):
    store = Store(tmp_path / "store")
    _commit(store, _table(4), kind="sample")
    assert store.manifest().kind == "sample"
    _commit(store, _table(3, offset=100), kind="user")
    manifest, table = store.read()
    assert manifest.kind == "user"
    assert sorted(table.column("incident_id").to_pylist()) == ["X100", "X101", "X102"]
    # the sample's files are gone from disk too, not just unlisted
    assert len(list((tmp_path / "store" / "incidents").rglob("*.parquet"))) == 1


def test_unlisted_files_are_invisible_and_swept(tmp_path):
    store = Store(tmp_path / "store")
    _commit(store, _table(2))
    orphan = tmp_path / "store" / "incidents" / "year=2024" / "crashed-batch.parquet"
    import pyarrow.parquet as pq

    pq.write_table(_table(50, offset=500), orphan)
    assert store.read()[1].num_rows == 2
    _commit(store, _table(1, offset=900))
    assert not orphan.exists()
    assert store.read()[1].num_rows == 3


def test_rejects_file_is_written_beside_the_store(tmp_path):
    store = Store(tmp_path / "store")
    rejects = pd.DataFrame({"line": [3], "reason": ["no coordinates"], "raw": ["a,b"]})
    record, _ = store.commit(_table(1), source_file="/x/in.csv", rejects=rejects,
                             summary={"read": 2, "rejected": 1}, kind="user")
    text = (tmp_path / "store" / record.rejects_file).read_text()
    assert "no coordinates" in text and "/x/in.csv" in text and ",3," in text
