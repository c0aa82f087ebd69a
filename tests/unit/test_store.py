"""The store's promises: batches appear whole or not at all, re-ingest adds nothing, the sample
is never mixed with user data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from geo.schema import empty_rejects
from geo.store import Store
from tests.conftest import stored_table


def _table(n: int, offset: int = 0) -> pa.Table:
    t = stored_table(np.full(n, 353_750.0), np.full(n, 429_410.0),
                     [f"2024-06-0{1 + i % 7} 23:15" for i in range(n)])
    ids = pa.array([f"X{offset + i}" for i in range(n)])
    return t.set_column(0, "incident_id", ids)


def _commit(store: Store, table: pa.Table, kind: str = "user") -> int:
    return store.commit(table, source_file="f.csv", rejects=empty_rejects(),
                        summary={"read": table.num_rows, "rejected": 0}, kind=kind).duplicates


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



def test_a_sample_file_replaces_the_sample_unless_it_extends_it(tmp_path):
    """The bundled sample is several files: the first replaces any sample, the rest add to it."""
    import pytest

    store = Store(tmp_path / "store")
    _commit(store, _table(4), kind="sample")
    _commit(store, _table(3, offset=100), kind="sample")  # a fresh sample: the old one goes
    assert sorted(store.read()[1].column("incident_id").to_pylist()) == ["X100", "X101", "X102"]
    store.commit(_table(2, offset=200), source_file="ed.csv", rejects=empty_rejects(),
                 summary={"read": 2, "rejected": 0}, kind="sample", extend_sample=True)
    manifest, table = store.read()
    assert manifest.kind == "sample" and len(manifest.batches) == 2
    assert table.num_rows == 5
    _commit(store, _table(1, offset=300), kind="user")  # user data still replaces all of it
    with pytest.raises(ValueError, match="never mixed"):
        store.commit(_table(1, offset=400), source_file="ed.csv", rejects=empty_rejects(),
                     summary={"read": 1, "rejected": 0}, kind="sample", extend_sample=True)
    assert store.read()[1].column("incident_id").to_pylist() == ["X300"]

def test_unlisted_files_are_invisible_and_swept(tmp_path):
    store = Store(tmp_path / "store")
    _commit(store, _table(2))
    orphan = tmp_path / "store" / "incidents" / "year=2024" / "crashed-batch.parquet"
    pq.write_table(_table(50, offset=500), orphan)
    assert store.read()[1].num_rows == 2
    _commit(store, _table(1, offset=900))
    assert not orphan.exists()
    assert store.read()[1].num_rows == 3


def test_rejects_file_is_written_beside_the_store(tmp_path):
    store = Store(tmp_path / "store")
    rejects = pd.DataFrame({"line": [3], "reason": ["no coordinates"], "raw": ["a,b"]})
    record = store.commit(_table(1), source_file="/x/in.csv", rejects=rejects,
                          summary={"read": 2, "rejected": 1}, kind="user").record
    text = (tmp_path / "store" / record.rejects_file).read_text()
    assert "no coordinates" in text and "/x/in.csv" in text and ",3," in text


def _dataset_ids(root) -> list[str]:
    """What DuckDB, QGIS or pandas see reading the dataset folder directly."""
    import pyarrow.dataset as ds

    folder = root / "incidents"
    if not folder.exists():
        return []
    dataset = ds.dataset(folder, format="parquet", partitioning="hive")
    return sorted(dataset.to_table(columns=["incident_id"]).column(0).to_pylist())


def _listed_only(root) -> None:
    store = Store(root)
    manifest, table = store.read(columns=["incident_id"])
    on_disk = {p.relative_to(root).as_posix() for p in (root / "incidents").rglob("*.parquet")}
    assert on_disk == set(manifest.files)
    assert _dataset_ids(root) == sorted(table.column(0).to_pylist())
    assert not (root / "_staging").exists()


def _two_years(n: int, offset: int = 0) -> pa.Table:
    t = stored_table(np.full(n, 353_750.0), np.full(n, 429_410.0),
                     [f"20{23 + i % 2}-06-0{1 + i % 7} 23:15" for i in range(n)])
    return t.set_column(0, "incident_id", pa.array([f"Y{offset + i}" for i in range(n)]))


def test_dataset_folder_holds_exactly_the_listed_rows_after_every_kind_of_write(tmp_path):
    root = tmp_path / "store"
    store = Store(root)
    _commit(store, _two_years(6), kind="sample")
    _listed_only(root)
    _commit(store, _two_years(4, offset=100), kind="user")  # replaces the sample
    _listed_only(root)
    assert _dataset_ids(root) == [f"Y{100 + i}" for i in range(4)]
    _commit(store, _two_years(3, offset=200))
    store.rewrite(lambda t: t)  # a relabel writes every batch anew
    _listed_only(root)
    assert len(_dataset_ids(root)) == 7


def test_a_listed_file_still_in_staging_is_read_and_moved_in_by_the_next_reader(tmp_path):
    root = tmp_path / "store"
    store = Store(root)
    _commit(store, _two_years(4))
    # the state a writer killed between its commit and its moves leaves behind
    rel = store.manifest().files[0]
    staged = store.staged_path(rel)
    staged.parent.mkdir(parents=True)
    (root / rel).rename(staged)
    assert not str(staged).startswith(str(root / "incidents"))
    manifest, table = store.read()  # no writer holds the lock: the reader finishes the move
    assert table.num_rows == manifest.rows == 4
    _listed_only(root)


def test_reader_takes_a_staged_file_while_a_writer_holds_the_lock(tmp_path):
    import fcntl

    root = tmp_path / "store"
    store = Store(root)
    _commit(store, _two_years(4))
    rel = store.manifest().files[0]
    staged = store.staged_path(rel)
    staged.parent.mkdir(parents=True)
    (root / rel).rename(staged)
    with open(root / ".lock", "a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)  # a writer at work
        assert store.read()[1].num_rows == 4
        assert staged.exists()  # left for the writer to move
    assert _commit(store, _two_years(1, offset=50)) == 0
    _listed_only(root)


def test_uncommitted_staging_is_cleared_and_dropped_files_are_restored(tmp_path):
    root = tmp_path / "store"
    store = Store(root)
    _commit(store, _two_years(4))
    # a writer killed before its commit: new files staged, an old file already moved out
    junk = root / "_staging" / "crashed" / "year=2024" / "crashed.parquet"
    junk.parent.mkdir(parents=True)
    pq.write_table(_two_years(9, offset=900), junk)
    rel = store.manifest().files[1]
    store.staged_path(rel).parent.mkdir(parents=True)
    (root / rel).rename(store.staged_path(rel))
    assert _dataset_ids(root) != sorted(store.read(columns=["incident_id"])[1].column(0)
                                        .to_pylist())
    _commit(store, _two_years(1, offset=300))
    _listed_only(root)
    assert len(_dataset_ids(root)) == 5


def test_rejects_file_cannot_run_formulas_in_a_spreadsheet(tmp_path):
    store = Store(tmp_path / "store")
    rejects = pd.DataFrame({
        "line": [2, 3], "reason": ["no coordinates", "no coordinates"],
        "raw": ['=HYPERLINK("http://evil.example","Click")', "@SUM(A1:A9)"],
    })
    record = store.commit(_table(1), source_file="/x/=cmd.csv", rejects=rejects,
                          summary={"read": 3, "rejected": 2}, kind="user").record
    back = pd.read_csv(tmp_path / "store" / record.rejects_file, dtype=str)
    assert back["raw"].tolist() == ['\'=HYPERLINK("http://evil.example","Click")',
                                    "'@SUM(A1:A9)"]
    assert back["file"].tolist() == ["/x/=cmd.csv"] * 2  # starts with "/": harmless


def test_rejects_file_shortens_huge_rows_and_shows_nul_bytes(tmp_path):
    store = Store(tmp_path / "store")
    rejects = pd.DataFrame({"line": [2, 3], "reason": ["too long", "NUL"],
                            "raw": ["x" * 300_000, "a\x00b"]})
    record = store.commit(_table(1), source_file="in.csv", rejects=rejects,
                          summary={"read": 3, "rejected": 2}, kind="user").record
    back = pd.read_csv(tmp_path / "store" / record.rejects_file, dtype=str)
    assert back["raw"].iloc[0].endswith("(300000 characters in all)")
    assert len(back["raw"].iloc[0]) < 2_100
    assert back["raw"].iloc[1] == "a\u2400b"


def test_frame_of_an_older_store_never_takes_a_pre_1970_date_for_no_date(tmp_path):
    from geo.query import IncidentFrame

    # Written before dates were checked: 1969-12-31 is day -1, the "no day" marker itself.
    store = Store(tmp_path / "store")
    times = ["2024-06-01 23:15", "1969-12-31 23:00", "1969-06-01 12:00", None]
    table = stored_table(np.full(4, 353_750.0), np.full(4, 429_410.0), times,
                         month=["2024-06", "1969-12", "1969-06", "2024-05"])
    _commit(store, table.set_column(0, "incident_id", pa.array(["a", "b", "c", "d"])))
    frame = IncidentFrame.from_table(*store.read())
    assert frame.before_1970 == 2
    assert frame.n == 2
    # every row left is either dated from 1970 on or a month-only row marked as such
    assert ((frame.day >= 0) | frame.month_only).all()
    # (files are in time order: the May month-only row before the June one)
    assert sorted(frame.day.tolist()) == [-1, (np.datetime64("2024-06-01")
                                               - np.datetime64("1970-01-01")).astype(int)]
    assert str(frame.date_span()[0]) == "2024-05-01"


def test_known_ids_are_matched_to_their_own_stored_rows_across_files(tmp_path):
    store = Store(tmp_path / "store")
    stored = _two_years(6).set_column(8, "category", pa.array([f"c{i}" for i in range(6)]))
    _commit(store, stored)  # Y0, Y2, Y4 in the 2023 file; Y1, Y3, Y5 in the 2024 file
    assert len(store.manifest().files) == 2
    again = stored.take([5, 0, 3, 2])
    again = again.set_column(8, "category", pa.array(["c5", "c0", "other", "c2x"]))
    result = store.commit(again, source_file="again.csv", rejects=empty_rejects(), summary={},
                          kind="user", lines=np.array([12, 13, 14, 15]))
    assert (result.duplicates, result.conflicts, result.record.rows) == (2, 2, 0)
    back = pd.read_csv(tmp_path / "store" / result.record.rejects_file)
    assert back["line"].tolist() == [14, 15]
    assert "id 'Y3'" in back["reason"].iloc[0]
    assert "category ('other' here, 'c3' stored)" in back["reason"].iloc[0]
    assert "category ('c2x' here, 'c2' stored)" in back["reason"].iloc[1]


def test_each_batch_records_what_each_source_added_and_when(tmp_path):
    store = Store(tmp_path / "store")
    police = _table(3)
    ed = _table(2, offset=50)
    ed = ed.set_column(ed.schema.get_field_index("source"), "source",
                       pa.array(["ed"] * 2))
    _commit(store, police)
    first = store.manifest().batches[-1]
    assert first.summary["rows_by_source"] == {"police": 3}
    _commit(store, ed)
    _commit(store, _table(3))  # the police file again: nothing new arrives
    m = store.manifest()
    assert [b.summary["rows_by_source"] for b in m.batches] == [{"police": 3}, {"ed": 2}, {}]
    assert m.arrived("police") == first.ingested_at
    assert m.arrived("ed") == m.batches[1].ingested_at
    assert m.arrived("ambulance") is None
    # a batch from before sources were recorded counts for every source
    m.batches[0].summary.pop("rows_by_source")
    assert m.arrived("ambulance") == first.ingested_at


def _police_file(path, rows: list[tuple[str, str, str]]) -> None:
    """Write a police.uk street-level CSV of (crime id, Location, LSOA name) rows in Preston."""
    from geo.readers import POLICE_UK_COLUMNS

    lines = [",".join(POLICE_UK_COLUMNS)]
    for crime_id, location, lsoa in rows:
        lines.append(f"{crime_id},2024-03,Lancashire Police,Lancashire Police,-2.7030,53.7590,"
                     f"{location},E01025300,{lsoa},Robbery,Under investigation,")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_store_written_before_lsoa_names_were_kept_still_loads_and_reingests_as_duplicates(
        tmp_path):
    from geo.ingest import ingest_file
    from geo.query import IncidentFrame
    from geo.settings import DataPaths

    data = DataPaths(tmp_path / "d")
    src = tmp_path / "2024-03-lancashire-street.csv"
    _police_file(src, [("a1", "On or near Fishergate", "Preston 014B"),
                       ("a2", "On or near Church Street", "Preston 014B")])
    ingest_file(src, data)
    store = Store(data.store)
    # what an older version wrote: the same files without the lsoa_name column
    for rel in store.manifest().files:
        path = data.store / rel
        old = pq.read_table(path)
        assert "lsoa_name" in old.column_names
        pq.write_table(old.drop_columns(["lsoa_name"]), path)
        assert "lsoa_name" not in pq.read_schema(path).names
    frame = IncidentFrame.from_table(*store.read())
    assert frame.n == 2
    assert frame.lsoa.tolist() == [-1, -1] and frame.lsoas == []
    assert sorted(frame.locations) == ["On or near Church Street", "On or near Fishergate"]
    # the same file again: its rows are the stored ones (duplicates), never conflicts
    again = ingest_file(src, data)
    assert (again.accepted, again.duplicates, again.conflicts) == (0, 2, 0)


def test_location_and_lsoa_text_are_stored_dictionary_encoded_and_coded_in_the_frame(tmp_path):
    from geo.ingest import ingest_file
    from geo.query import IncidentFrame
    from geo.settings import DataPaths

    data = DataPaths(tmp_path / "d")
    src = tmp_path / "2024-03-lancashire-street.csv"
    _police_file(src, [(f"c{i}", "On or near Fishergate" if i % 3 else "", "Preston 014B")
                       for i in range(30)])
    ingest_file(src, data)
    store = Store(data.store)
    (rel,) = store.manifest().files
    meta = pq.ParquetFile(data.store / rel).metadata.row_group(0)
    encodings = {meta.column(i).path_in_schema: meta.column(i).encodings
                 for i in range(meta.num_columns)}
    assert "RLE_DICTIONARY" in encodings["location"]
    assert "RLE_DICTIONARY" in encodings["lsoa_name"]
    frame = IncidentFrame.from_table(*store.read())
    assert frame.locations == ["On or near Fishergate"] and frame.lsoas == ["Preston 014B"]
    assert frame.location.dtype == np.int32
    assert int((frame.location == -1).sum()) == 10  # blank Location is no location
    assert (frame.lsoa == 0).all()


def _times(rng: np.random.Generator, n: int) -> list[str]:
    days = rng.integers(0, 3 * 365, n)
    day = np.datetime64("2022-01-01") + days.astype("timedelta64[D]")
    return [f"{d} {h:02d}:{m:02d}" for d, h, m in zip(
        day.astype(str), rng.integers(0, 24, n), rng.integers(0, 60, n), strict=True)]


def _batch(rng: np.random.Generator, n: int, prefix: str) -> pa.Table:
    t = stored_table(np.full(n, 353_750.0), np.full(n, 429_410.0), _times(rng, n))
    return t.set_column(0, "incident_id", pa.array([f"{prefix}{i}" for i in range(n)]))


def test_files_are_written_in_time_order_so_row_groups_can_be_skipped(tmp_path):
    store = Store(tmp_path / "store")
    batch = _batch(np.random.default_rng(3), 500, "T")
    cats = np.array(["Robbery", "Public order", "Violence with injury"])[
        np.random.default_rng(4).integers(0, 3, 500)]
    _commit(store, batch.set_column(batch.schema.get_field_index("category"), "category",
                                    pa.array(cats.tolist())))
    for rel in store.manifest().files:
        f = pq.read_table(tmp_path / "store" / rel, columns=["month", "category", "local_date"])
        rows = list(zip(*(f.column(c).to_pylist() for c in ("month", "category", "local_date")),
                        strict=True))
        # by month, then category, then date (month-only rows, with no date, first)
        assert rows == sorted(rows, key=lambda r: (r[0], r[1], r[2] is not None, r[2] or 0))
        assert len({r[1] for r in rows}) == 3


def test_compaction_merges_each_years_small_files_and_keeps_every_row(tmp_path):
    from geo.store import ROW_GROUP_ROWS

    rng = np.random.default_rng(5)
    store = Store(tmp_path / "store")
    batches = [_batch(rng, 40, f"B{k}-") for k in range(12)]  # a live feed: many small batches
    for b in batches:
        _commit(store, b)
    before_manifest, before = store.read()
    assert len(before_manifest.files) == 12 * 3  # a file per batch and year
    result = store.compact()
    after_manifest, after = store.read()
    assert (result.files_merged, result.files_written, result.rows) == (36, 3, 480)
    assert len(after_manifest.files) == 3 and after_manifest.version == before_manifest.version + 1
    # every row, once, unchanged, and each still says which batch it came in
    key = "incident_id"
    assert after.sort_by(key).equals(before.sort_by(key).select(after.column_names))
    assert after_manifest.rows == before_manifest.rows == 480
    assert [b.batch_id for b in after_manifest.batches] == [
        b.batch_id for b in before_manifest.batches]
    assert all(b.files == [] for b in after_manifest.batches)
    # one file a year, in time order, and nothing unlisted left in the folder
    on_disk = sorted(p.relative_to(tmp_path / "store").as_posix()
                     for p in (tmp_path / "store" / "incidents").rglob("*.parquet"))
    assert on_disk == sorted(after_manifest.files)
    for rel in after_manifest.files:
        f = pq.ParquetFile(tmp_path / "store" / rel)
        assert f.metadata.row_group(0).num_rows <= ROW_GROUP_ROWS
        months = f.read(columns=["month"]).column(0).to_pylist()
        assert months == sorted(months)
    # nothing more to do the second time
    assert store.compact().files_merged == 0
    # the store goes on as before: a re-sent batch is all duplicates, a new one is added
    assert _commit(store, batches[3]) == 40
    _commit(store, _batch(rng, 7, "NEW-"))
    assert store.read()[1].num_rows == 487
    # and a rewrite (new boundaries) passes through the compacted files too
    relabelled = store.rewrite(lambda t: t.set_column(
        t.schema.get_field_index("la_code"), "la_code", pa.array(["E99"] * t.num_rows)))
    assert set(store.read()[1].column("la_code").to_pylist()) == {"E99"}
    assert len(relabelled.compacted) == 3


def test_compaction_leaves_large_files_alone(tmp_path):
    rng = np.random.default_rng(6)
    store = Store(tmp_path / "store")
    _commit(store, _batch(rng, 300, "BIG-"))
    _commit(store, _batch(rng, 5, "S1-"))
    _commit(store, _batch(rng, 5, "S2-"))
    result = store.compact(small_rows=50)
    manifest = store.manifest()
    big = store.manifest().batches[0].files
    assert len(big) == 3 and all(f in manifest.files for f in big)
    assert result.files_merged + result.files_written > 0
    assert store.read()[1].num_rows == 310


def test_ids_already_stored_are_found_in_any_row_group(tmp_path, monkeypatch):
    """The commit's look-up of stored ids (DuckDB over the id column) and its read of their
    rows (only the row groups holding them) find the right stored row in many-group files."""
    import geo.store

    monkeypatch.setattr(geo.store, "ROW_GROUP_ROWS", 7)
    rng = np.random.default_rng(8)
    store = Store(tmp_path / "store")
    first = _batch(rng, 60, "R")
    _commit(store, first)
    files = store.manifest().files
    assert max(pq.ParquetFile(tmp_path / "store" / f).num_row_groups for f in files) > 3
    # a resend of rows from all over the files: some unchanged, some with a new category
    picked = first.take(pa.array([0, 13, 27, 41, 59]))
    cat = picked.schema.get_field_index("category")
    changed = picked.set_column(cat, "category", pa.array(
        ["Robbery", "Arson", "Robbery", "Arson", "Robbery"]))
    was = picked.column("category").to_pylist()
    result = store.commit(changed, source_file="again.csv", rejects=empty_rejects(),
                          summary={}, kind="user")
    same = sum(1 for a, b in zip(was, changed.column("category").to_pylist(), strict=True)
               if a == b)
    assert (result.duplicates, result.conflicts) == (same, 5 - same)
    rejects = pd.read_csv(tmp_path / "store" / result.record.rejects_file)
    for _, row in rejects.iterrows():
        rid = row["reason"].split("'")[1]
        stored = was[picked.column("incident_id").to_pylist().index(rid)]
        assert f"'{stored}'" in row["reason"] or stored in row["reason"]
    assert store.read()[1].num_rows == 60


def test_record_keys_are_stored_with_each_row_and_compaction_adds_them_to_older_files(
        tmp_path):
    """Rows stored before record keys get them when compacted: the same keyed hash of their
    id that the in-memory layer works out, so no figure's noise moves."""
    from geo.disclosure import record_keys

    secret = "site-secret-1234"
    old = Store(tmp_path / "store")  # as a store written before record keys were
    _commit(old, _table(5))
    _commit(old, _table(3, offset=5))
    assert len(old.unkeyed_files()) == 2
    _m, table = old.read()
    assert table.column("rkey").null_count == 8
    keyed = Store(tmp_path / "store", record_key=secret)
    _commit(keyed, _table(4, offset=8))  # a new batch is keyed as it is stored
    assert len(keyed.unkeyed_files()) == 2
    # the in-memory layer: stored keys where there are some, the hash of the id elsewhere
    _m, mixed = keyed.read()
    expected = record_keys(mixed.column("incident_id"), secret)
    np.testing.assert_array_equal(
        record_keys(mixed.column("incident_id"), secret, mixed.column("rkey")), expected)
    result = keyed.compact()
    assert result.files_merged == 3 and keyed.unkeyed_files() == []
    _m, after = keyed.read()
    assert after.column("rkey").null_count == 0
    by_id = dict(zip(after.column("incident_id").to_pylist(),
                     after.column("rkey").to_pylist(), strict=True))
    want = dict(zip(mixed.column("incident_id").to_pylist(), expected.tolist(), strict=True))
    assert by_id == want
    assert keyed.compact().files_merged == 0  # nothing left to key or merge


def test_a_commit_works_keys_out_again_from_the_ids(tmp_path):
    """Rows that come with keys (copied from elsewhere) get their own, never the copied ones."""
    from geo.disclosure import record_keys

    store = Store(tmp_path / "store", record_key="site-secret-1234")
    t = _table(3)
    t = t.set_column(t.schema.get_field_index("rkey"), "rkey", pa.array([1, 2, 3], pa.uint32()))
    _commit(store, t)
    _m, table = store.read()
    assert table.column("rkey").to_pylist() == record_keys(
        table.column("incident_id"), "site-secret-1234").tolist()
