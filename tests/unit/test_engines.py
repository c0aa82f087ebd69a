"""Conformance: the DuckDB and Dask executors give the numpy reference's answers, to the last
count."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from geo import queryindex
from geo.access import Scope
from geo.boundaries import load_boundaries
from geo.engines import (
    CoreQuery,
    DaskExecutor,
    DuckDBExecutor,
    Executor,
    KeyedCounts,
    NumpyExecutor,
    TooManyRows,
    UnkeyedRecords,
)
from geo.ingest import load_sample
from geo.query import AUTHORITY, FilterError, Filters, QueryLayer
from geo.schema import empty_rejects
from geo.settings import DataPaths
from geo.store import Store
from tests.conftest import PRESTON_BNG, stored_table

PRESTON, BLACKPOOL, WYRE = "E07000123", "E06000009", "E07000128"
HARM = {"Violence with injury": 3.0, "Robbery": 2.5, "Violence without injury": 0.1}

# Rows the synthetic sample lacks: health records placed by postcode or LSOA centroid,
# police.uk month-only rows, domestic incidents, nights across midnight and a year's end.
EXTRA_TIMES = [
    "2023-12-31 23:30", "2024-01-01 00:30", "2024-01-01 03:59", "2024-01-01 04:00",
    "2023-06-02 22:15", "2023-06-03 01:10",  # Fri night, Sat small hours
    None, None, None, None,  # month-only
    "2024-03-15 12:00", "2024-03-16 02:00", "2022-05-01 09:00", "2024-12-31 23:59",
]
EXTRA_MONTHS = [t[:7] if t else m for t, m in zip(
    EXTRA_TIMES, [None] * 6 + ["2023-12", "2024-01", "2024-03", "2021-12"] + [None] * 4,
    strict=True)]
PRECISION = [None, "postcode", "lsoa", "postcode", None, "lsoa", None, None, None, None,
             "postcode", "lsoa", None, None]


def extra_table(times: list[str | None], months: list[str], precision: list[str | None],
                seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    n = len(times)
    table = stored_table(
        PRESTON_BNG[0] + rng.uniform(-3_000, 3_000, n),
        PRESTON_BNG[1] + rng.uniform(-3_000, 3_000, n), times,
        category=[["Violence with injury", "Robbery", "Public order"][i % 3] for i in range(n)],
        source=["ed" if p else "police" for p in precision],
        domestic=[[True, False, None][i % 3] if p is None else None
                  for i, p in enumerate(precision)],
        la_code=[PRESTON, BLACKPOOL][seed % 2], month=months)
    table = table.set_column(table.schema.get_field_index("incident_id"), "incident_id",
                             pa.array([f"X{seed}-{i}" for i in range(n)]))
    # the last two rows give a day but no hour (a Sunday and a Tuesday)
    day_only = np.arange(n) >= n - 2
    hour = np.where(day_only, -1, np.asarray(table.column("hour").to_numpy(), dtype="int8"))
    table = table.set_column(table.schema.get_field_index("hour"), "hour",
                             pa.array(hour.astype("int8")))
    timing = np.where(day_only, "day", table.column("time_precision").to_numpy(
        zero_copy_only=False).astype(object))
    table = table.set_column(table.schema.get_field_index("time_precision"), "time_precision",
                             pa.array(timing.tolist(), pa.string()))
    return table.set_column(table.schema.get_field_index("location_precision"),
                            "location_precision", pa.array(precision, pa.string()))


#: The conformance store's secret for record keys (what a site keeps in its access folder).
RECORD_KEY = "conformance-key!"


def commit(store: Store, table: pa.Table, name: str) -> None:
    store.commit(table, source_file=name, rejects=empty_rejects(), summary={}, kind="user")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Store:
    root = tmp_path_factory.mktemp("engines")
    sample = DataPaths(root / "sample")
    load_sample(sample, n=3_000, seed=11)
    _, sampled = Store(sample.store).read()
    # Wyre is left without rows: a valid area to filter by that selects nothing
    sampled = sampled.filter(pc.not_equal(sampled.column("la_code"), WYRE))
    s = Store(root / "store", record_key=RECORD_KEY)
    commit(s, sampled, "sample.csv")
    commit(s, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=1), "extra.csv")
    # the query index holds the batches so far; "duckdb indexed" reads the next from Parquet
    queryindex.build(s)
    # a second batch, committed later, with its own month-only and health rows
    commit(s, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=2), "later.csv")
    return s


@pytest.fixture(scope="module")
def engines(store) -> tuple[NumpyExecutor, DuckDBExecutor]:
    return (NumpyExecutor(QueryLayer(store, load_boundaries(None))),
            DuckDBExecutor(store, use_index=False))


@pytest.fixture(scope="module")
def indexed(store) -> DuckDBExecutor:
    """DuckDB on the query index (the first two batches) and Parquet (the third)."""
    return DuckDBExecutor(store)


@pytest.fixture(scope="module")
def dask(store) -> Iterator[DaskExecutor]:
    """A Dask ``LocalCluster`` of two worker processes, the store's files split among them."""
    ex = DaskExecutor(store, workers=2, tasks_per_thread=1)
    yield ex
    ex.close()


@pytest.fixture(params=["duckdb", "duckdb indexed", "dask"])
def engine(request, engines) -> Executor:
    if request.param == "duckdb":
        return engines[1]
    return request.getfixturevalue("indexed" if request.param == "duckdb indexed" else "dask")


FILTERS = {
    "everything": Filters(),
    "a year": Filters(start=date(2023, 1, 1), end=date(2023, 12, 31)),
    "dates cut months": Filters(start=date(2023, 12, 15), end=date(2024, 1, 10)),
    "start only": Filters(start=date(2024, 3, 16)),
    "end only": Filters(end=date(2022, 4, 30)),
    "fri-sat nights 20-4": Filters(days=frozenset({4, 5}), hours=(20, 4)),
    "sunday night 22-6 in dates": Filters(start=date(2023, 6, 1), end=date(2024, 1, 1),
                                          days=frozenset({6}), hours=(22, 6)),
    "weekday daytime": Filters(days=frozenset({0, 1, 2, 3, 4}), hours=(9, 17)),
    "band to midnight": Filters(hours=(20, 0)),
    "core query": Filters(start=date(2023, 4, 1), end=date(2024, 3, 31),
                          days=frozenset({4, 5, 6}), hours=(18, 3),
                          categories=("Violence with injury", "Robbery")),
    "categories any case": Filters(categories=("robbery", "PUBLIC ORDER")),
    "health only": Filters(sources=("ed",)),
    "areas": Filters(areas=(BLACKPOOL, PRESTON)),
    "area without rows": Filters(areas=(WYRE,)),
    "no areas": Filters(areas=()),
    "no days": Filters(days=frozenset()),
    "days only": Filters(days=frozenset({6, 1})),
    "monday late": Filters(days=frozenset({0}), hours=(22, 0)),
    "public only": Filters(exclude_domestic=True),
    "empty dates": Filters(start=date(2030, 1, 1), end=date(2030, 12, 31)),
    "inverted dates": Filters(start=date(2024, 2, 1), end=date(2024, 1, 1)),
}

SCOPES = {
    "whole store": None,
    "one area": Scope(areas=frozenset({PRESTON}), public_only=False, rows=True,
                      domestic_below_authority=True, max_h3_res=None, suppress_below=0),
    "public only": Scope(areas=None, public_only=True, rows=True,
                         domestic_below_authority=True, max_h3_res=None, suppress_below=0),
    "officer: public places, no health records": Scope(
        areas=frozenset({PRESTON, BLACKPOOL}), public_only=True, rows=True,
        domestic_below_authority=True, max_h3_res=None, suppress_below=0, health=False),
    "no domestic below authority": Scope(
        areas=frozenset({PRESTON, BLACKPOOL}), public_only=False, rows=False,
        domestic_below_authority=False, max_h3_res=8, suppress_below=0),
}


def same(a: KeyedCounts, b: KeyedCounts) -> None:
    assert a.keys.dtype == b.keys.dtype
    np.testing.assert_array_equal(a.keys, b.keys)
    np.testing.assert_array_equal(a.counts, b.counts)
    assert a.counts.dtype == b.counts.dtype == np.int64
    np.testing.assert_array_equal(a.harm, b.harm)  # identical, not close: weighted once
    if b.record_keys is None:
        assert a.record_keys is None
    else:
        np.testing.assert_array_equal(a.record_keys, b.record_keys)
        assert a.record_keys.dtype == np.int64


def answers(ex: Executor, q: CoreQuery) -> dict[str, object]:
    core_cells, core_areas = ex.core(q, 8, HARM)
    plain_cells, plain_areas = ex.core(q, 10)
    return {
        "core cells 8 harm": core_cells,
        "core authorities harm": core_areas,
        "core cells 10": plain_cells,
        "core authorities": plain_areas,
        "cells 9": ex.cell_counts(q, 9),
        "cells 9 harm": ex.cell_counts(q, 9, HARM),
        "cells 8": ex.cell_counts(q, 8),
        "cells 7 harm": ex.cell_counts(q, 7, HARM),
        "authorities": ex.authority_counts(q, HARM),
        "months": ex.month_counts(q),
        "grid": ex.day_hour_grid(q),
        **{f"summary {r} {what}": value for r, weights in ((9, None), (8, HARM))
           for what, value in _summary(ex.summary(q, r, weights)).items()},
        # what the door discloses to partners and boards: record keys summed by the engine
        **{f"summary keyed {what}": value
           for what, value in _summary(ex.summary(q, 8, None, keyed=True)).items()},
        "totals": ex.totals(q),
        "extent": ex.extent(q),
    }


def _summary(s) -> dict[str, object]:
    return {"cells": s.cells, "authorities": s.authorities, "grid": s.grid,
            "counts": (s.count, s.month_only)}


def agree(got: dict[str, object], want: dict[str, object]) -> None:
    """Hold one engine's :func:`answers` to the reference's."""
    for name in want:
        if name.endswith("grid"):
            np.testing.assert_array_equal(got[name], want[name])
            assert got[name].dtype == np.int64
        elif name == "extent":  # binned by SQL: within half a bin
            if want[name] is None:
                assert got[name] is None
            else:
                np.testing.assert_allclose(got[name], want[name], atol=0.0006)
        elif isinstance(want[name], KeyedCounts):
            same(got[name], want[name])  # type: ignore[arg-type]
        else:
            assert got[name] == want[name], name


def statements(ex: DuckDBExecutor, call) -> list[str]:  # type: ignore[no-untyped-def]
    """Return the SQL statements ``call()`` sends to DuckDB."""
    sent: list[str] = []
    execute = ex._execute

    def recording(stmts, arrow=False):  # type: ignore[no-untyped-def]
        sent.extend(stmts)
        return execute(stmts, arrow)

    ex._execute = recording  # type: ignore[method-assign]
    try:
        call()
    finally:
        ex._execute = execute  # type: ignore[method-assign]
    return sent


#: Filters that select nothing in any scope; every other one selects some rows in each.
EMPTY = {"area without rows", "no areas", "no days", "empty dates", "inverted dates"}


@pytest.mark.parametrize("scope", list(SCOPES), ids=list(SCOPES))
@pytest.mark.parametrize("filters", list(FILTERS), ids=list(FILTERS))
def test_each_engine_gives_the_numpy_answers(engines, engine, filters, scope):
    ref, _ = engines
    q = CoreQuery.of(FILTERS[filters], SCOPES[scope])
    want, got = answers(ref, q), answers(engine, q)
    selected = want["cells 7 harm"].counts.sum()  # type: ignore[attr-defined]
    no_health = SCOPES[scope] is not None and not SCOPES[scope].health
    assert (selected == 0) == (filters in EMPTY or (filters == "health only" and no_health))
    assert len(want["cells 9"].keys) > 0  # type: ignore[attr-defined]
    agree(got, want)
    summary = want["summary 9 cells"]
    assert want["summary 9 counts"][0] == want["totals"].count  # type: ignore[index,attr-defined]
    same(summary, want["cells 9"])  # type: ignore[arg-type]


def test_the_reference_is_the_query_layers_own_answer(engines, store):
    """The numpy executor is what the product shows today (so the DuckDB one is too)."""
    ref, _ = engines
    layer = QueryLayer(store, load_boundaries(None))
    f = FILTERS["core query"]
    q = CoreQuery(f)
    cells, counts, harm = layer.cell_counts(f, 9, HARM)
    mine = ref.cell_counts(q, 9, HARM)
    np.testing.assert_array_equal(mine.keys, cells)
    np.testing.assert_array_equal(mine.counts, counts)
    # the query layer adds weights row by row; the executors weight counts per category
    np.testing.assert_allclose(mine.harm, harm, rtol=1e-12)
    np.testing.assert_array_equal(ref.day_hour_grid(q), layer.day_hour_grid(f))
    table = layer.area_table(f, HARM, level=AUTHORITY)
    by_code = dict(zip(ref.authority_counts(q).keys, ref.authority_counts(q).counts,
                       strict=True))
    assert table["count"].sum() > 0
    for code, count in zip(table["code"], table["count"], strict=True):
        assert by_code.get(code, 0) == count


def test_the_fixture_holds_the_hard_cases(engines):
    """Every case the conformance test is meant to cover is in the data, and selected."""
    ref, _ = engines
    fr = ref.layer.frame()
    # the sample brings its own postcode- and LSOA-placed health records; the fixture adds 6 each
    assert fr.month_only.sum() == 8 and (fr.precision == 1).sum() >= 6
    # rows with a day and no hour: a slot list of (weekday, hour) must not take one for the
    # previous day's last hour
    assert ((fr.hour < 0) & (fr.dow >= 0)).sum() == 4
    assert (fr.precision == 2).sum() >= 6 and (fr.domestic == 1).sum() > 20
    assert len(fr.manifest.batches) == 3 and WYRE not in fr.areas
    assert WYRE in ref.layer.boundaries.names()
    # LSOA-placed rows are listed at res 9 but not counted there
    at9 = ref.cell_counts(CoreQuery(FILTERS["health only"]), 9).counts.sum()
    at7 = ref.cell_counts(CoreQuery(FILTERS["health only"]), 7).counts.sum()
    lsoa_placed = int(((fr.precision == 2) & ref.layer.select(FILTERS["health only"]).mask).sum())
    assert lsoa_placed >= 6 and at7 - at9 == lsoa_placed
    # a range cutting through December and January keeps both months' month-only rows
    months = ref.month_counts(CoreQuery(FILTERS["dates cut months"]))
    assert months.counts.sum() > 4
    grid = ref.day_hour_grid(CoreQuery(FILTERS["fri-sat nights 20-4"]))
    assert grid[6, :4].sum() > 0  # Saturday and Sunday small hours count with the night before


def test_unknown_values_fail_the_same_way(engines, engine):
    ref, _ = engines
    q = CoreQuery(Filters(categories=("Arson",)))
    with pytest.raises(FilterError) as want:
        ref.cell_counts(q, 9)
    with pytest.raises(FilterError) as got:
        engine.cell_counts(q, 9)
    assert str(got.value) == str(want.value)


def test_the_dask_scan_is_split_among_the_workers(store, dask):
    """The conformance above is not one worker reading everything: the files are split."""
    paths = dask._resolve(store.manifest())
    chunks = dask._chunks(paths)
    assert dask.threads() == 2 and len(paths) > 2
    assert len(chunks) > 1 and sorted(p for c in chunks for p in c) == sorted(paths)
    # the tasks of one query ran on both workers
    dask.cell_counts(CoreQuery(FILTERS["core query"]), 9)
    ran = dask.client.run(lambda dask_worker: len(dask_worker.data) + dask_worker.state.
                          executed_count)
    assert len(ran) == 2 and all(n > 0 for n in ran.values())


def test_empty_store(tmp_path):
    s = Store(tmp_path / "store")
    ref, duck = NumpyExecutor(QueryLayer(s, load_boundaries(None))), DuckDBExecutor(s)
    q = CoreQuery(Filters(days=frozenset({1})))
    agree(answers(duck, q), answers(ref, q))
    with pytest.raises(FilterError, match="store is empty"):
        duck.cell_counts(CoreQuery(Filters(sources=("police",))), 9)


@pytest.fixture
def small(tmp_path) -> Store:
    s = Store(tmp_path / "store")
    commit(s, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=1), "first.csv")
    return s


def test_a_batch_committed_later_is_seen_at_the_next_query(small):
    duck = DuckDBExecutor(small)
    q = CoreQuery(Filters())
    before = duck.authority_counts(q)
    assert before.keys.tolist() == [BLACKPOOL]
    commit(small, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=2), "second.csv")
    after = duck.authority_counts(q)
    assert after.keys.tolist() == [BLACKPOOL, PRESTON]
    assert after.counts.tolist() == [len(EXTRA_TIMES)] * 2


def test_answers_over_everything_grow_with_each_batch_and_start_again_after_compaction(
        small, engine):
    """What a store version needs once (a scope's keys and totals, the labels, the month-only
    rows, the cells drawn) is read only from the files a commit adds, and is then what a
    fresh read of every file gives, in every scope; a compaction that drops files reads
    them all again."""
    # the Dask executor on the shared cluster, over this store
    duck = DuckDBExecutor(small) if engine.name == "duckdb" else DaskExecutor(
        small, client=engine.client)  # type: ignore[attr-defined]
    scopes = [CoreQuery(Filters()), CoreQuery(Filters(), frozenset({PRESTON}), True)]

    def everything(ex: Executor) -> list[object]:
        out: list[object] = [ex.labels()]
        for q in scopes:
            out += [ex.totals(q), ex.month_only_months(q), ex.cell_counts(q, 9),
                    ex.authority_counts(q, HARM), ex.extent(q),
                    ex.grouped_rows(CoreQuery(Filters(), q.areas, True),
                                    ["easting", "northing", "location"], 10**6,
                                    present=["location"])]
        return out

    def check() -> None:
        got = everything(duck)
        want = everything(DuckDBExecutor(small))  # reads every file afresh
        ref = everything(NumpyExecutor(QueryLayer(small, load_boundaries(None))))
        for g, w, r in zip(got, want, ref, strict=True):
            for other in (w, r):
                if isinstance(g, KeyedCounts):
                    same(g, other)  # type: ignore[arg-type]
                elif g is not None and isinstance(g, tuple) and isinstance(g[0], float):
                    np.testing.assert_allclose(g, other, atol=0.0006)  # the map's framing
                else:
                    assert g == other

    check()
    # a batch with a category and an area the store did not hold
    later = extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=2)
    later = later.set_column(later.schema.get_field_index("category"), "category",
                             pa.array(["Arson"] * later.num_rows))
    old_files = set(small.manifest().files)
    commit(small, later, "second.csv")
    new_files = set(small.manifest().files) - old_files
    sent = statements(duck, lambda: duck.totals(scopes[0]))
    read = [f for f in (*old_files, *new_files) if any(f.split("/")[-1] in q for q in sent)]
    assert sent and set(read) == new_files, "only the added file is read"
    check()
    assert "Arson" in duck.labels()[0]
    assert duck.totals(scopes[1]).count > 0  # Preston's rows came with the new batch
    small.compact(small_rows=10**9)
    assert not set(small.manifest().files) & (old_files | new_files)  # the files it dropped
    check()


def test_files_not_yet_listed_are_never_read(small, monkeypatch):
    duck = DuckDBExecutor(small)
    q = CoreQuery(Filters())
    before = duck.month_counts(q).counts.sum()
    # a writer that has staged its files and not yet committed the manifest
    monkeypatch.setenv("HOTSPOT_FAULT_PAUSE_BEFORE_COMMIT", "1.5")
    writer = threading.Thread(target=commit, args=(
        small, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=2), "second.csv"))
    writer.start()
    staging = small.root / "_staging"
    deadline = time.monotonic() + 10
    while not list(staging.rglob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert list(staging.rglob("*.parquet")), "the writer never staged its file"
    # and a stray file in the dataset folder that no manifest lists
    stray = small.root / "incidents" / "year=2024" / "stray.parquet"
    Path(small.root / small.manifest().files[0]).parent.mkdir(parents=True, exist_ok=True)
    import shutil

    shutil.copy(small.root / small.manifest().files[0], stray)
    assert duck.month_counts(q).counts.sum() == before
    assert small.manifest().version == 1
    writer.join()
    stray.unlink()
    assert duck.month_counts(q).counts.sum() == before + len(EXTRA_TIMES)


def test_a_listed_file_still_at_its_staging_path_is_read(small):
    """A writer that died between its commit and its moves leaves listed files in staging."""
    duck = DuckDBExecutor(small)
    q = CoreQuery(Filters())
    want = duck.cell_counts(q, 9)
    for rel in small.manifest().files:
        staged = small.staged_path(rel)
        staged.parent.mkdir(parents=True, exist_ok=True)
        (small.root / rel).rename(staged)
    got = DuckDBExecutor(small).cell_counts(q, 9)
    same(got, want)
    assert got.counts.sum() == len(EXTRA_TIMES) - 3  # three LSOA-placed rows are too coarse


def test_older_files_without_the_health_columns_are_read_as_police_points(small, dask):
    """A store written before health records existed lacks their columns in its older files;
    every engine reads those rows as placed by point, and a split scan still counts them."""
    import pyarrow.parquet as pq

    older = [small.root / rel for rel in small.manifest().files]
    commit(small, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=2), "second.csv")
    for path in older:
        old = pq.read_table(path)
        pq.write_table(old.drop_columns(
            [c for c in old.column_names if c in ("location_precision", "age_band", "weapon")]),
            path)
        assert "location_precision" not in pq.read_schema(path).names
    ref = NumpyExecutor(QueryLayer(small, load_boundaries(None)))
    local = DaskExecutor(small, client=dask.client)  # the same cluster, over this store
    for ex in (DuckDBExecutor(small), local):
        for res in (9, 7):
            want, got = ref.cell_counts(CoreQuery(Filters()), res), ex.cell_counts(
                CoreQuery(Filters()), res)
            same(got, want)
        assert ex.rows(CoreQuery(Filters()), 100_000).equals(
            ref.rows(CoreQuery(Filters()), 100_000))  # the columns they lack, as nulls
    # the older files' rows count at every resolution: nothing marks them coarse now
    assert ref.cell_counts(CoreQuery(Filters()), 9).counts.sum() == 2 * len(EXTRA_TIMES) - 3
    assert len(local._groups(local._resolve(small.manifest()),
                             local._snapshot_of(small.manifest(),
                                                local._resolve(small.manifest())))) > 1


@pytest.mark.parametrize("scope", ["whole store", "one area", "public only"])
def test_bounded_reads_bring_the_same_rows(engines, engine, scope):
    """The few rows read back (a ranked table's cells, the streets around a place) are the
    reference's rows, whichever engine reads them."""
    ref, _ = engines
    q = CoreQuery.of(FILTERS["core query"] if scope != "one area" else Filters(),
                     SCOPES[scope])
    cells = ref.cell_counts(q, 9)
    top = cells.keys[np.argsort(-cells.counts, kind="stable")[:5]].tolist()
    columns = ["location", "domestic", "easting", "h3_9", "dow"]
    fr = ref.layer.frame()
    boxes = [(float(e) - 400, float(n) - 400, float(e) + 400, float(n) + 400)
             for e, n in zip(fr.easting[:3], fr.northing[:3], strict=True)]
    for kwargs in ({"res": 9, "cells": top}, {"boxes": boxes}, {"res": 7, "cells": []},
                   {"present": ["location"]}):
        want = ref.grouped_rows(q, columns, 10_000, **kwargs)
        got = engine.grouped_rows(q, columns, 10_000, **kwargs)
        assert got.equals(want), kwargs
        assert want.column("n").to_numpy().sum() > 0 or kwargs.get("cells") == []
    with pytest.raises(TooManyRows):
        engine.grouped_rows(CoreQuery(Filters()), columns, 10, boxes=boxes)


def test_a_selection_too_large_is_refused_before_its_rows_are_read(engines, dask,
                                                                    monkeypatch):
    """Split among a cluster's tasks, each part's own LIMIT would bring parts x limit rows
    to the web server: the selection is counted first and refused without its rows."""
    q = CoreQuery(Filters())
    want = engines[0].rows(q, 1_000_000).num_rows
    read: list[bool] = []
    execute = type(dask)._execute

    def spy(self, statements, arrow=False):
        read.append(arrow)
        return execute(self, statements, arrow)

    monkeypatch.setattr(type(dask), "_execute", spy)
    with pytest.raises(TooManyRows):
        dask.rows(q, want // 3)
    assert read and not any(read)  # counted, never read as rows
    assert dask.rows(q, want).num_rows == want


@pytest.mark.parametrize("scope", ["whole store", "one area", "public only",
                                   "officer: public places, no health records"])
@pytest.mark.parametrize("case", ["everything", "dates cut months", "fri-sat nights 20-4",
                                  "health only", "area without rows"])
def test_selected_rows_are_the_reference_rows(engines, engine, scope, case):
    """A bounded selection (the patrol plan's incidents) brings the reference's rows, every
    stored column, in the store's order; one row too many is refused, not cut short."""
    ref, _ = engines
    q = CoreQuery.of(FILTERS[case], SCOPES[scope])
    want = ref.rows(q, 100_000)
    got = engine.rows(q, 100_000)
    assert got.schema.equals(want.schema)
    assert got.equals(want), (scope, case)
    assert want.num_rows > 0 or case == "area without rows" or (
        case == "health only" and scope.endswith("no health records"))
    few = ["hour", "month", "rkey", "la_code"]
    assert engine.rows(q, 100_000, columns=few).equals(ref.rows(q, 100_000, columns=few))
    assert engine.rows(q, 100_000, columns=few).column_names == ["month", "la_code", "hour",
                                                                  "rkey"]  # stored order
    if want.num_rows:
        assert engine.rows(q, want.num_rows).num_rows == want.num_rows
        with pytest.raises(TooManyRows):
            engine.rows(q, want.num_rows - 1)


def test_record_keys_are_refused_until_every_file_has_them(small, dask):
    """A store written before record keys has none to sum: the engines say so (the door
    then refuses figures with noise), and after 'hotspot compact' they sum the keys the
    in-memory layer works out from the ids."""
    later = Store(small.root, record_key=RECORD_KEY)
    commit(later, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=3), "keyed.csv")
    q = CoreQuery(Filters())
    shared, dask.store = dask.store, small  # the module's cluster, on this store for now
    try:
        for ex in (DuckDBExecutor(small), dask):
            with pytest.raises(UnkeyedRecords, match="hotspot compact"):
                ex.summary(q, 8, keyed=True)
        later.compact()
        ref = NumpyExecutor(QueryLayer(small, load_boundaries(None), record_key=RECORD_KEY))
        want = _summary(ref.summary(q, 8, keyed=True))
        for ex in (DuckDBExecutor(small), dask):
            agree(_summary(ex.summary(q, 8, keyed=True)), want)
    finally:
        dask.store = shared


#: Periods over the fixture's hard cases: a month-only month (2023-12) cut in two, a gap
#: between two periods, days either side of New Year, and a last day on a year's end.
PERIODS = [(int(np.datetime64(a, "D").astype(int)), int(np.datetime64(b, "D").astype(int)))
           for a, b in [("2022-05-01", "2022-06-30"), ("2023-06-01", "2023-12-15"),
                        ("2023-12-16", "2024-01-01"), ("2024-03-15", "2024-12-31")]]


@pytest.mark.parametrize("case", ["everything", "fri-sat nights 20-4", "health only",
                                  "public only", "dates cut months"])
@pytest.mark.parametrize("dated_only", [False, True])
def test_counts_by_period_are_the_reference_counts(engines, engine, case, dated_only):
    """Rows counted by period (emerging hot spots, evaluation windows): a month-only row by
    its month's first day (left out when only dated rows are asked for), rows in a gap or
    outside every period left out, with record keys and every cell or only finely placed
    ones, as the reference counts them."""
    ref, _ = engines
    q = CoreQuery.of(FILTERS[case], SCOPES["whole store"])
    for columns, kwargs in ((["h3_8"], {"res": 8, "cells": None}),
                            (["la_code", "source"], {"keyed": True}),
                            (["location"], {"present": ["location"]})):
        want = ref.grouped_rows(q, columns, 100_000, periods=PERIODS, dated_only=dated_only,
                                **kwargs)
        got = engine.grouped_rows(q, columns, 100_000, periods=PERIODS,
                                  dated_only=dated_only, **kwargs)
        assert got.equals(want), (columns, kwargs)
        assert want.column_names[len(columns)] == "period"
    whole = ref.grouped_rows(q, ["source"], 100, periods=PERIODS, dated_only=dated_only)
    if case == "everything":
        assert set(whole.column("period").to_pylist()) == {0, 1, 2, 3}
        everything = ref.grouped_rows(q, ["source"], 100)
        assert 0 < whole.column("n").to_numpy().sum() < everything.column("n").to_numpy().sum()
        dated = ref.grouped_rows(q, ["source"], 100, periods=PERIODS, dated_only=True)
        assert dated.column("n").to_numpy().sum() < whole.column("n").to_numpy().sum() or \
            dated_only  # the month-only rows of 2023-12 and 2024-01 and -03
    with pytest.raises(ValueError, match="oldest first"):
        engine.grouped_rows(q, ["source"], 100, periods=PERIODS[::-1])


def test_counts_by_period_alone(engines, engine):
    """Grouped by nothing but the period: the counts of each period."""
    ref, _ = engines
    q = CoreQuery(Filters())
    want = ref.grouped_rows(q, [], 100, periods=PERIODS)
    assert engine.grouped_rows(q, [], 100, periods=PERIODS).equals(want)
    assert want.column_names == ["period", "n"] and want.num_rows == 4


def _spilling(ex: DuckDBExecutor, seen: set[str], folder: Path) -> list:
    """Run a grouping far larger than the executor's memory limit, noting the files spilled."""
    import os

    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if folder.is_dir():
                seen.update(os.listdir(folder))
            time.sleep(0.005)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        return ex._execute(["SELECT count(*), sum(m) FROM (SELECT i % 6000000 AS k, max(i) AS m "
                            "FROM range(12000000) t(i) GROUP BY k)"])
    finally:
        done.set()
        watcher.join()


def test_duckdb_spills_inside_the_store_never_into_the_working_directory(tmp_path,
                                                                          monkeypatch):
    """What a query cannot hold in memory is incident data: DuckDB's default would write it
    to ``.tmp`` under whatever directory the server was started in. Each executor spills
    into a folder of its own (two sharing one read and deleted each other's files), which
    is removed when it closes, or by the next executor if its process died."""
    import os
    import stat

    from geo.engines import _worker_sql

    started_in = tmp_path / "started here"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    store = Store(tmp_path / "data" / "store")
    a = DuckDBExecutor(store, threads=1, memory_limit="64MB")
    b = DuckDBExecutor(store, threads=1, memory_limit="64MB")
    (folder_a,), (folder_b,) = (
        [Path(v) for (v,) in ex._execute(["SELECT current_setting('temp_directory')"])[0]]
        for ex in (a, b))
    assert folder_a.parent == folder_b.parent == store.root / "spill" and folder_a != folder_b
    assert stat.S_IMODE(folder_a.stat().st_mode) == 0o700
    # both spill at once, each into its own folder, and both get the right answer
    seen: dict[str, set[str]] = {"a": set(), "b": set()}
    got: dict[str, list] = {}
    runs = [threading.Thread(target=lambda k=k, ex=ex, f=f: got.__setitem__(
        k, _spilling(ex, seen[k], f))) for k, ex, f in (("a", a, folder_a), ("b", b, folder_b))]
    for t in runs:
        t.start()
    for t in runs:
        t.join()
    want = [[(6_000_000, sum(range(12_000_000 - 6_000_000, 12_000_000)))]]
    assert got == {"a": want, "b": want}
    assert all(any(n.startswith("duckdb_temp") for n in names) for names in seen.values()), seen
    assert not any(started_in.iterdir())
    a.close()
    assert not folder_a.exists() and folder_b.exists()
    # a folder left by a process that died is cleared when the next executor starts
    dead = folder_b.with_name(folder_b.name.replace(f"-{os.getpid()}-", "-999999999-"))
    folder_b.rename(dead)
    c = DuckDBExecutor(store)
    assert not dead.exists()
    c.close()
    # each Dask worker thread's connection spills into a folder of its own, only its user's
    folders: list[Path] = []
    threads = [threading.Thread(target=lambda: folders.append(Path(_worker_sql(
        "SELECT current_setting('temp_directory')")[0][0]))) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(folders)) == 2
    for worker_dir in folders:
        assert worker_dir.is_dir() and stat.S_IMODE(worker_dir.stat().st_mode) == 0o700
        assert started_in not in worker_dir.parents
