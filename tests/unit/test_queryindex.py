"""The query index: DuckDB counts from it what it counts from the store's files, to the last
count, through commits after it was built, compaction, older files and its own rebuilds."""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from geo import queryindex
from geo.boundaries import load_boundaries
from geo.engines import CoreQuery, DuckDBExecutor, NumpyExecutor
from geo.query import FilterError, Filters, QueryLayer
from geo.store import Store
from tests.unit.test_engines import (
    EXTRA_MONTHS,
    EXTRA_TIMES,
    HARM,
    PRECISION,
    PRESTON,
    RECORD_KEY,
    SCOPES,
    agree,
    answers,
    commit,
    extra_table,
    statements,
)

#: Filters over the hard cases: months cut by dates, nights across midnight, categories and
#: sources, areas, the domestic flag.
CASES = {
    "everything": Filters(),
    "dates cut months": Filters(start=date(2023, 12, 15), end=date(2024, 1, 10)),
    "fri-sat nights 20-4": Filters(days=frozenset({4, 5}), hours=(20, 4)),
    "core query": Filters(start=date(2023, 4, 1), end=date(2024, 3, 31),
                          days=frozenset({4, 5, 6}), hours=(18, 3),
                          categories=("Violence with injury", "Robbery")),
    "arson": Filters(categories=("arson",)),
    "health only": Filters(sources=("ed",)),
    "areas": Filters(areas=(PRESTON,)),
    "public only": Filters(exclude_domestic=True),
}
RANKED = ["h3_9", "dow", "hour", "category", "domestic", "location", "lsoa_name", "la_code"]


def batch(seed: int, category: str | None = None) -> pa.Table:
    table = extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=seed)
    if category is not None:
        table = table.set_column(table.schema.get_field_index("category"), "category",
                                 pa.array([category] * table.num_rows))
    return table


@pytest.fixture
def small(tmp_path) -> Store:
    s = Store(tmp_path / "store", record_key=RECORD_KEY)
    commit(s, batch(1), "first.csv")
    commit(s, batch(2), "second.csv")
    return s


def conforms(store: Store, indexed: DuckDBExecutor) -> None:
    """Hold the indexed executor to the numpy reference and to DuckDB over the files."""
    ref = NumpyExecutor(QueryLayer(store, load_boundaries(None)))
    files = DuckDBExecutor(store, use_index=False)
    for scope in ("whole store", "one area", "public only"):
        for f in CASES.values():
            q = CoreQuery.of(f, SCOPES[scope])
            if f.categories == ("arson",) and "Arson" not in ref.labels()[0]:
                with pytest.raises(FilterError, match="'arson' is not in the data"):
                    indexed.cell_counts(q, 9)
                continue
            agree(answers(indexed, q), answers(ref, q))
            summary = files.summary(q, 9)
            if f != Filters():
                top = summary.cells.keys[np.argsort(summary.cells.counts)[-3:]].tolist()
                got = indexed.grouped_rows(q, RANKED, 10**6, res=9, cells=top)
                assert got.equals(files.grouped_rows(q, RANKED, 10**6, res=9, cells=top))


def reads_index(ex: DuckDBExecutor) -> list[str]:
    """Return the statements of one filtered summary (not those learning the store)."""
    q = CoreQuery(Filters(days=frozenset({4, 5}), hours=(20, 4)))
    return [s for s in statements(ex, lambda: ex.summary(q, 9, HARM)) if "GROUPING SETS" in s]


def test_the_index_counts_what_the_files_count_through_commits_and_compaction(small):
    indexed = DuckDBExecutor(small)
    built = queryindex.build(small)
    assert set(built.files) == set(small.manifest().files)
    assert built.rows == 2 * len(EXTRA_TIMES)
    sent = reads_index(indexed)
    assert len(sent) == 1 and ".incidents" in sent[0] and "read_parquet" not in sent[0]
    conforms(small, indexed)

    # a batch committed after the build, with a crime type the index has never seen: read
    # from its file, beside the index, at the next query
    commit(small, batch(3, "Arson"), "third.csv")
    new = set(small.manifest().files) - set(built.files)
    sent = reads_index(indexed)
    assert len(sent) == 2 and ".incidents" in sent[0]
    assert all(f.split("/")[-1] in sent[1] for f in new)
    assert "Arson" in indexed.labels()[0]
    conforms(small, indexed)

    # built again: one statement on the new index, the old file gone from the folder
    rebuilt = queryindex.build(small)
    assert rebuilt.path != built.path and not built.path.exists()
    assert len(reads_index(indexed)) == 1
    conforms(small, indexed)


def years(table: pa.Table, before: bool) -> pa.Table:
    """Return the rows of ``table`` dated before 2024 (or from 2024 on)."""
    early = pc.less(pc.utf8_slice_codeunits(table.column("month"), 0, 4), "2024")
    return table.filter(early if before else pc.invert(early))


def test_rows_of_files_compaction_drops_are_left_out_of_the_index(tmp_path):
    """Compaction merges some of the files the index holds: their rows are left out of its
    answers, the merged file is read from Parquet, and nothing is counted twice; once no
    file it holds is listed, the files alone are read."""
    store = Store(tmp_path / "store", record_key=RECORD_KEY)
    commit(store, years(batch(1), before=True), "early.csv")
    commit(store, years(batch(2), before=False), "late.csv")
    built = queryindex.build(store)
    commit(store, years(batch(3, "Arson"), before=True), "more early.csv")
    indexed = DuckDBExecutor(store)
    store.compact(small_rows=10**9)  # the years before 2024 each had two files
    kept = set(store.manifest().files) & set(built.files)
    assert kept and all("year=2024" in f for f in kept)
    sent = reads_index(indexed)
    gone = sorted(i for f, i in built.files.items() if f not in kept)
    assert len(sent) == 2 and f"fid NOT IN ({', '.join(map(str, gone))})" in sent[0]
    conforms(store, indexed)
    commit(store, years(batch(4), before=False), "later.csv")
    store.compact(small_rows=10**9)  # now 2024's too
    assert "read_parquet" in reads_index(indexed)[0]
    conforms(store, indexed)


def test_older_files_without_the_health_columns_are_indexed_as_police_points(small):
    """Files written before health records lack their columns (and the LSOA name): the index
    holds their rows as placed by point, as the files are read."""
    older = [small.root / rel for rel in small.manifest().files]
    for path in older:
        old = pq.read_table(path)
        pq.write_table(old.drop_columns([c for c in old.column_names if c in (
            "location_precision", "lsoa_name", "age_band")]), path)
    queryindex.build(small)
    commit(small, batch(3), "third.csv")  # a file with every column, read beside the index
    conforms(small, DuckDBExecutor(small))


def test_only_a_whole_index_of_this_format_is_used(small):
    indexed = DuckDBExecutor(small)
    built = queryindex.build(small)
    pointer = queryindex.folder(small) / queryindex.POINTER
    about = json.loads(pointer.read_text())
    assert len(reads_index(indexed)) == 1
    # an index of another format, or whose file has gone: the files are read
    pointer.write_text(json.dumps({**about, "format": queryindex.FORMAT + 1}))
    assert "read_parquet" in reads_index(indexed)[0]
    pointer.write_text(json.dumps({**about, "file": "index-gone.duckdb"}))
    assert "read_parquet" in reads_index(indexed)[0]
    pointer.write_text(json.dumps({**about, "file": "../../secret.duckdb"}))
    assert queryindex.current(small) is None
    # a name the build would not give, even of a file there, is never attached
    (built.path.parent / "x; DROP.duckdb").write_bytes(built.path.read_bytes())
    pointer.write_text(json.dumps({**about, "file": "x; DROP.duckdb"}))
    assert queryindex.current(small) is None
    pointer.write_text("{not json")
    assert queryindex.current(small) is None and "read_parquet" in reads_index(indexed)[0]
    # a build killed part way leaves its temporary file: the next build clears it
    stray = queryindex.folder(small) / ".building-dead.duckdb"
    stray.write_bytes(b"half an index")
    assert not built.path.exists() or built.path != queryindex.build(small).path
    assert not stray.exists()
    assert len(reads_index(indexed)) == 1
    conforms(small, indexed)


def test_an_executor_on_the_old_index_keeps_answering_while_it_is_replaced(small):
    queryindex.build(small)
    first = DuckDBExecutor(small)
    q = CoreQuery(Filters(categories=("robbery",)))
    want = first.cell_counts(q, 9)
    queryindex.build(small)  # the old file is removed; the executor moves to the new one
    second = DuckDBExecutor(small)
    np.testing.assert_array_equal(first.cell_counts(q, 9).counts, want.counts)
    np.testing.assert_array_equal(second.cell_counts(q, 9).counts, want.counts)


def test_a_store_that_cannot_be_indexed_says_why(tmp_path):
    with pytest.raises(queryindex.IndexRefused, match="holds no incidents"):
        queryindex.build(Store(tmp_path / "store"))


def test_the_index_is_private_to_the_stores_owner(small):
    built = queryindex.build(small)
    assert queryindex.folder(small).stat().st_mode & 0o077 == 0
    assert built.path.parent == queryindex.folder(small)


def test_a_row_whose_month_is_not_its_dates_is_selected_as_from_the_files(tmp_path):
    """Rows as ingest writes them have their date's month; the index checks that as it is
    built, and for a store where one row's does not, dates are tested as on the files (the
    month, the year and the date each), so the answers stay the files' own."""
    store = Store(tmp_path / "store", record_key=RECORD_KEY)
    odd = batch(1)
    months = odd.column("month").to_pylist()
    months[0] = "2024-02"  # dated 2023-12-31 23:30
    odd = odd.set_column(odd.schema.get_field_index("month"), "month", pa.array(months))
    commit(store, odd, "odd.csv")
    commit(store, batch(2), "second.csv")
    assert queryindex.build(store).months_agree is False
    indexed, files = DuckDBExecutor(store), DuckDBExecutor(store, use_index=False)
    assert "mi >= " in " ".join(statements(indexed, lambda: indexed.cell_counts(
        CoreQuery(CASES["dates cut months"]), 9)))
    for f in CASES.values():
        if f.categories == ("arson",):
            continue
        q = CoreQuery(f)
        agree(answers(indexed, q), answers(files, q))


def test_dates_in_a_store_as_ingest_writes_it_are_tested_by_first_and_last_days(small):
    """Every dated row's month is its date's: two bounds decide a date range."""
    built = queryindex.build(small)
    assert built.months_agree is True
    ex = DuckDBExecutor(small)
    sent = statements(ex, lambda: ex.cell_counts(CoreQuery(CASES["dates cut months"]), 9))
    assert any(f"{built.path.stem.replace('-', '_')}.incidents" in s and "d1 >= DATE" in s
               and "mi >= " not in s for s in sent)


def test_a_damaged_index_is_set_aside_and_the_files_read(small, caplog):
    """An index whose blocks no longer check out, or a DuckDB file that is not an index under
    an index's name: the figures come from the files, and the log says why."""
    import duckdb

    built = queryindex.build(small)
    indexed = DuckDBExecutor(small)
    q = CoreQuery(CASES["core query"])
    want = answers(DuckDBExecutor(small, use_index=False), q)
    agree(answers(indexed, q), want)
    # another DuckDB database under the index's name: not an index
    other = built.path.with_name("other.duckdb")
    duckdb.connect(str(other)).execute("CREATE TABLE t AS SELECT 1 AS x").close()
    rebuilt = queryindex.build(small)
    other.replace(rebuilt.path)
    fresh = DuckDBExecutor(small)
    agree(answers(fresh, q), want)
    assert fresh._index() is None
    # a real index, damaged after it was attached: set aside at the first failed read
    queryindex.build(small)
    indexed = DuckDBExecutor(small)
    assert indexed._index() is not None
    path = queryindex.current(small).path  # type: ignore[union-attr]
    with open(path, "r+b") as fh:  # every block after DuckDB's headers (3 x 4 KB)
        fh.seek(3 * 4096)
        fh.write(bytes(range(256)) * ((path.stat().st_size - 3 * 4096) // 256))
    with caplog.at_level("WARNING", logger="hotspot.engines"):
        agree(answers(indexed, q), want)
    assert indexed._index() is None
    assert [r.getMessage()[:40] for r in caplog.records] == [
        f"The query index {path} could not be read"[:40]]


def test_a_row_without_a_source_is_left_out_for_a_scope_without_health_records(tmp_path):
    """The files drop it (``NOT IN`` of a null); so does the index, which holds no health
    source to name."""
    store = Store(tmp_path / "store", record_key=RECORD_KEY)
    police = batch(1)
    police = police.set_column(police.schema.get_field_index("source"), "source",
                               pa.array(["police"] * (police.num_rows - 1) + [None]))
    commit(store, police, "police.csv")
    queryindex.build(store)
    scope = SCOPES["officer: public places, no health records"]
    indexed, files = DuckDBExecutor(store), DuckDBExecutor(store, use_index=False)
    for f in (Filters(), CASES["dates cut months"]):
        q = CoreQuery.of(f, scope)
        assert indexed.totals(q) == files.totals(q)
        np.testing.assert_array_equal(indexed.cell_counts(q, 9).counts,
                                      files.cell_counts(q, 9).counts)


def test_a_feed_that_outgrows_the_index_has_it_built_again_in_the_background(small):
    """The inbox, after a batch: the files committed since the build hold more than a tenth
    of the store (or compaction merged some it holds), so a process of its own builds it
    again while the server answers from the index in force and the files."""
    built = queryindex.build(small)
    assert not queryindex.stale(small)
    commit(small, batch(3), "third.csv")  # a third of the store, read beside the index
    assert queryindex.stale(small)
    assert queryindex.rebuild_in_background(small)
    assert not queryindex.rebuild_in_background(small)  # one build at a time
    proc = queryindex._rebuilding[0]
    assert proc.wait(timeout=120) == 0
    rebuilt = queryindex.current(small)
    assert rebuilt is not None and rebuilt.path != built.path
    assert set(rebuilt.files) == set(small.manifest().files) and not queryindex.stale(small)
    small.compact(small_rows=10**9)  # merges every file the index holds
    assert queryindex.stale(small)
    # no index, nothing to keep fresh
    queryindex.folder(small).joinpath(queryindex.POINTER).unlink()
    assert not queryindex.stale(small)
