"""The door on an engine: the Explorer's figures counted by DuckDB and Dask are the in-memory
layer's, figure for figure, for every role it serves; what it does not serve yet is refused in
words, never guessed and never loaded whole."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from dashboard.services import Services
from geo import queryindex
from geo.access import AccessDenied, Principal, load_roles
from geo.door import EngineLayer, NotOnEngine
from geo.ingest import load_sample
from geo.query import FilterError, Filters
from geo.settings import DataPaths
from geo.store import Store
from tests.unit.test_engines import (
    BLACKPOOL,
    EXTRA_MONTHS,
    EXTRA_TIMES,
    FILTERS,
    HARM,
    PRECISION,
    PRESTON,
    commit,
    extra_table,
)

#: Filters over the hard cases: nights across midnight, dates cutting months, health records
#: too coarse for fine hexagons, areas, an empty selection.
CASES = ["everything", "dates cut months", "fri-sat nights 20-4", "core query", "health only",
         "areas", "area without rows", "public only", "monday late", "end only"]


def who(role: str, areas: tuple[str, ...] | None = None) -> Principal:
    return Principal(f"test {role}", load_roles()[role], areas, via="local")


PRINCIPALS = {"analyst": who("analyst"), "officer in Preston": who("officer", (PRESTON,)),
              "analyst in two areas": who("analyst", (PRESTON, BLACKPOOL))}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> DataPaths:
    sample = DataPaths(tmp_path_factory.mktemp("sample"))
    load_sample(sample, n=3_000, seed=11)
    _, sampled = Store(sample.store).read()
    data = DataPaths(tmp_path_factory.mktemp("door"))
    store = Store.of(data)  # as ingest writes it: each row with its record key
    # committed as a user's file: a user's first batch would replace the sample itself
    commit(store, sampled, "sample.csv")
    # the DuckDB door counts the sample from the query index, the batch after it from Parquet
    queryindex.build(store)
    commit(store, extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=1), "extra.csv")
    assert store.read()[1].num_rows == sampled.num_rows + len(EXTRA_TIMES)
    _import_wards(data, tmp_path_factory.mktemp("wards"))
    return data


def _import_wards(data: DataPaths, folder) -> None:
    """A ward level: each authority split into a west and an east half (figures below whole
    authorities are placed by point in polygon, on the engine as in memory)."""
    import geopandas as gpd
    import shapely

    from geo.boundaries import import_level, load_boundaries

    rows, shapes = [], []
    areas = load_boundaries(None).areas_bng
    for i, (name, g) in enumerate(zip(areas["name"], areas.geometry, strict=True)):
        x0, y0, x1, y1 = g.bounds
        middle = (x0 + x1) / 2
        for j, (side, half) in enumerate((("West", shapely.box(x0, y0, middle, y1)),
                                          ("East", shapely.box(middle, y0, x1, y1)))):
            rows.append({"WD23CD": f"E05{i:04d}{j:02d}0", "WD23NM": f"{name} {side}",
                         "POP": 5_000 + 100 * i + j})
            shapes.append(g.intersection(half))
    path = folder / "wards.gpkg"
    gpd.GeoDataFrame(rows, geometry=shapes, crs="EPSG:27700").to_file(path)
    import_level(path, "WD23CD", "WD23NM", data.boundaries, "ward", population_field="POP")


@pytest.fixture(scope="module")
def layers(data) -> Iterator[dict[str, Services]]:
    mp = pytest.MonkeyPatch()
    made = {"numpy": Services(data)}
    for engine in ("duckdb", "dask"):
        mp.setenv("HOTSPOT_ENGINE", engine)
        made[engine] = Services(data)
    mp.undo()
    yield made
    made["dask"].query.executor.close()  # type: ignore[attr-defined]


@pytest.fixture(params=["duckdb", "dask"])
def engine(request, layers) -> Services:
    return layers[request.param]


def figures(svc: Services, f: Filters, res: int) -> dict[str, object]:
    q = svc.query
    sel = q.select(f)
    cells, counts, harm = q.cell_counts(f, res, HARM)
    areas = q.area_table(f, HARM)
    shown = q.disclosed_areas(f)
    d_cells, d_counts, _ = q.disclosed_cells(f, res)
    status = {k: v for k, v in q.status().items() if k != "engine"}
    return {
        "status": status, "count": sel.count, "month only left out": sel.month_only_excluded,
        "cells": cells, "counts": counts, "harm": harm, "universe": q.cells(res),
        "drawn": q.drawn_cells(res), "areas": areas, "disclosed areas": shown.table,
        "disclosed cells": d_cells, "disclosed counts": d_counts,
        "grid": q.day_hour_grid(f), "left out": q.left_out(f, res),
        "ranked": svc.hotspot_table(f, res, 10, HARM),
        "ranked unweighted": svc.hotspot_table(f, res, 5),
        "domestic recorded": q.domestic_recorded(),
        "categories": sorted(q.labels().categories),
    }


def same(got: object, want: object, what: str) -> None:
    if isinstance(want, pd.DataFrame):
        assert isinstance(got, pd.DataFrame)
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                      check_exact=False, rtol=1e-12, obj=what)
    elif isinstance(want, np.ndarray):
        assert isinstance(got, np.ndarray)
        if want.dtype.kind == "f":
            np.testing.assert_allclose(got, want, rtol=1e-12, err_msg=what)
        else:
            np.testing.assert_array_equal(got, want, err_msg=what)
    else:
        assert got == want, what


@pytest.mark.parametrize("principal", list(PRINCIPALS))
@pytest.mark.parametrize("res", [7, 9])
@pytest.mark.parametrize("case", CASES)
def test_the_explorer_figures_are_the_in_memory_ones(layers, engine, principal, res, case):
    ref = layers["numpy"]
    who_ = PRINCIPALS[principal]
    f = FILTERS[case]
    if who_.areas is not None and f.areas is not None and set(f.areas) - set(who_.areas):
        pytest.skip("an area outside the principal's own is refused (tested below)")
    with ref.pinned(who_):
        want = figures(ref, f, res)
    with engine.pinned(who_):
        got = figures(engine, f, res)
    assert isinstance(engine.query, EngineLayer)
    for name in want:
        same(got[name], want[name], f"{name} ({case}, res {res}, {principal})")
    if case == "everything" and principal == "analyst" and res == 9:
        assert want["count"] > 0 and len(want["ranked"]) == 10  # type: ignore[arg-type]
    if case == "health only" and res == 9 and principal == "analyst":
        assert want["left out"] > 0  # LSOA-placed records, left out of res-9 hexagons


def test_what_the_engine_does_not_serve_is_refused_in_words(layers, engine):
    analyst, partner = who("analyst"), who("partner")
    with engine.pinned(analyst):
        with pytest.raises(NotOnEngine, match="not available while Hotspot runs on the"):
            engine.query.frame()
        with pytest.raises(NotOnEngine):
            engine.query.select(Filters()).mask.sum()
    with engine.pinned(partner):
        with pytest.raises(AccessDenied):  # the role's own refusal comes first
            engine.query.frame()
        with pytest.raises(AccessDenied):
            engine.query.within(Filters(), "A view", "less")


@pytest.mark.parametrize("role", ["partner", "board"])
@pytest.mark.parametrize("case", CASES)
def test_partners_and_boards_get_the_in_memory_figures_to_the_unit(layers, engine, role, case):
    """Suppressed, protected and perturbed as in memory: the engine sums the record keys
    stored with the rows, and the door applies the in-memory layer's disclosure once."""
    ref, who_, f = layers["numpy"], who(role), FILTERS[case]
    resolutions = (7, 8) if role == "partner" else ()

    def shown(svc: Services) -> dict[str, object]:
        q = svc.query
        areas = q.disclosed_areas(f)
        out: dict[str, object] = {"areas": areas.table,
                                  "hidden": areas.count.hidden if areas.count else None}
        for res in resolutions:
            cells, counts, d = q.disclosed_cells(f, res)
            out |= {f"cells {res}": cells, f"counts {res}": counts,
                    f"hidden {res}": d.hidden if d is not None else None}
        return out

    with ref.pinned(who_):
        want = shown(ref)
    with engine.pinned(who_):
        got = shown(engine)
    for name in want:
        same(got[name], want[name], f"{name} ({case}, {role})")
    table = want["areas"]
    assert isinstance(table, pd.DataFrame) and "domestic" in table
    counts = [c for c in table["count"].tolist() if c is not pd.NA]
    assert all(c == 0 or c >= 5 for c in counts)
    if case == "monday late":  # small numbers: some hidden, some shown with noise
        assert want["hidden"].any() and counts  # type: ignore[union-attr]
        if role == "partner":
            assert np.isnan(want["counts 8"]).any()  # type: ignore[arg-type]


def test_a_store_without_record_keys_says_how_to_add_them(tmp_path, monkeypatch):
    from geo.settings import DataPaths as Paths

    data = Paths(tmp_path)
    commit(Store(data.store), extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=4),
           "old.csv")  # written before record keys were
    monkeypatch.setenv("HOTSPOT_ENGINE", "duckdb")
    svc = Services(data)
    with svc.pinned(who("partner")), pytest.raises(FilterError, match="hotspot compact"):
        svc.query.disclosed_areas(Filters())
    with svc.pinned(who("board")), pytest.raises(FilterError, match="hotspot compact"):
        svc.query.board_figures()
    Store.of(data).compact()
    monkeypatch.setenv("HOTSPOT_ENGINE", "numpy")
    ref = Services(data)
    with svc.pinned(who("partner")):
        got = svc.query.disclosed_areas(Filters()).table
    with ref.pinned(who("partner")):
        want = ref.query.disclosed_areas(Filters()).table
    same(got, want, "after compaction")
    with svc.pinned(who("board")):
        got_board = svc.query.board_figures()
    with ref.pinned(who("board")):
        assert got_board == ref.query.board_figures()


def test_the_server_chooses_duckdb_for_a_store_beyond_the_in_memory_limit(tmp_path,
                                                                          monkeypatch):
    """``--engine auto`` (the default): in memory up to HOTSPOT_IN_MEMORY_MAX_ROWS incidents,
    DuckDB beyond, with the same figures; an engine named is used whatever the size."""
    from geo.door import EngineLayer

    data = DataPaths(tmp_path)
    commit(Store(data.store), extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=3),
           "first.csv")
    rows = Store(data.store).manifest().rows
    monkeypatch.delenv("HOTSPOT_ENGINE", raising=False)
    monkeypatch.setenv("HOTSPOT_IN_MEMORY_MAX_ROWS", str(rows))
    in_memory = Services(data)
    assert not isinstance(in_memory.query, EngineLayer)
    monkeypatch.setenv("HOTSPOT_IN_MEMORY_MAX_ROWS", str(rows - 1))
    on_disk = Services(data)
    assert isinstance(on_disk.query, EngineLayer) and on_disk.query.engine == "duckdb"
    for filters in (Filters(), Filters(days=frozenset({4, 5}), hours=(20, 4))):
        with in_memory.pinned(who("analyst")), on_disk.pinned(who("analyst")):
            assert on_disk.query.select(filters).count == in_memory.query.select(filters).count
            assert (on_disk.query.day_hour_grid(filters)
                    == in_memory.query.day_hour_grid(filters)).all()
    monkeypatch.setenv("HOTSPOT_ENGINE", "numpy")
    assert not isinstance(Services(data).query, EngineLayer)
    monkeypatch.setenv("HOTSPOT_ENGINE", "AUTO ")
    assert isinstance(Services(data).query, EngineLayer)
    monkeypatch.setenv("HOTSPOT_ENGINE", "spark")
    with pytest.raises(ValueError, match="the engines are auto, numpy, duckdb, dask"):
        Services(data)


def test_access_rules_hold_on_the_engine(layers, engine):
    """Areas outside an officer's own and bad values are refused as in memory."""
    officer = who("officer", (PRESTON,))
    with engine.pinned(officer):
        with pytest.raises(AccessDenied):
            engine.query.validate(Filters(areas=(BLACKPOOL,)))
        # past validation, another area's rows are simply not in the officer's scope
        assert engine.query.day_hour_grid(Filters(areas=(BLACKPOOL,))).sum() == 0
        assert engine.query.select(Filters(areas=(BLACKPOOL,))).count == 0
    with engine.pinned(who("partner")), pytest.raises(AccessDenied, match="no finer than"):
        engine.query.disclosed_cells(Filters(), 10)
    with engine.pinned(who("analyst")), pytest.raises(FilterError, match="categories"):
        engine.query.validate(Filters(categories=("Arson",)))


def test_a_new_batch_is_counted_at_once(tmp_path, monkeypatch):
    data = DataPaths(tmp_path)
    commit(Store(data.store), extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=3),
           "first.csv")
    monkeypatch.setenv("HOTSPOT_ENGINE", "duckdb")
    svc = Services(data)
    with svc.pinned(who("analyst")):
        before = svc.query.select(Filters()).count
        status = svc.query.status()
    commit(Store(data.store), extra_table(EXTRA_TIMES, EXTRA_MONTHS, PRECISION, seed=4),
           "later.csv")
    with svc.pinned(who("analyst")):
        assert svc.query.select(Filters()).count == before + len(EXTRA_TIMES)
        assert svc.query.status()["batches"] == status["batches"] + 1
        assert svc.query.status()["engine"] == "duckdb"


# (not the officer: the sample's police rows have no location text, only its ED records
# name streets, and those are never in an officer's figures)
@pytest.mark.parametrize("principal", ["analyst", "analyst in two areas"])
def test_streets_near_a_place_are_those_found_in_memory(layers, engine, principal):
    """The streets that name a place (from a bounded read around it) are the ones the
    in-memory layer finds among all the principal's incidents."""
    ref, who_ = layers["numpy"], PRINCIPALS[principal]
    rng = np.random.default_rng(5)
    with ref.pinned(who_):
        fr = ref.query.frame()
        pick = rng.choice(fr.n, 40, replace=False)
        east = fr.easting[pick] + rng.uniform(-100, 100, 40)
        north = fr.northing[pick] + rng.uniform(-100, 100, 40)
        everywhere = ref.query._incident_streets(fr)
    with engine.pinned(who_):
        near = engine.query._nearby_streets(None, east, north)
    found = 0
    for radius in (250.0, 400.0):
        want = everywhere.nearest(east, north, street_radius_m=radius)[0]
        got = near.nearest(east, north, street_radius_m=radius)[0]
        assert list(got) == list(want)
        found += sum(bool(w) for w in want)
    assert found >= 5  # some places have streets near them (the sample names few places)


def test_the_map_is_framed_where_the_incidents_are(layers, engine):
    with layers["numpy"].pinned(who("analyst")):
        want = layers["numpy"].query.extent()
    with engine.pinned(who("analyst")):
        got = engine.query.extent()
    assert want is not None and got is not None
    # the engine estimates the percentiles: within a few hundred metres is framing enough
    np.testing.assert_allclose(got, want, atol=0.01)


#: Board settings over the hard cases: quarters and months against a year earlier, the
#: period just before, a named baseline year, crime types, one area, and a month whose
#: data arrived for one source only.
BOARD_CASES = {
    "quarter on last year": {},
    "month on previous": {"period": "month", "baseline": "previous"},
    "12 months, baseline year": {"period": "12m", "baseline": "baseline_year",
                                 "baseline_year": 2022},
    "crime types": {"categories": ("Robbery", "violence with injury")},
    "one area": {"areas": (PRESTON,)},
    "one area, crime types, month": {"period": "month", "areas": (BLACKPOOL,),
                                     "categories": ("Robbery",)},
    "by ward": {"level": "ward"},
    "by ward, one area, month": {"level": "ward", "areas": (PRESTON,), "period": "month"},
}


def board_json(svc: Services, who_: Principal, options: dict[str, object]) -> dict[str, object]:
    from dashboard import board, services

    services._last = svc  # board() answers for the services configured last, as the CLI does
    with svc.pinned(who_):
        body = board.board(**options)  # type: ignore[arg-type]
        body["choices"] = svc.query.board_choices()
    return body


@pytest.mark.parametrize("role", ["analyst", "partner", "board", "officer"])
@pytest.mark.parametrize("case", list(BOARD_CASES))
def test_the_board_is_the_in_memory_board(layers, engine, role, case):
    """Headlines, areas, the monthly trend, the busiest places, the emerging hot spots and
    the choices offered, to the unit: counted by month, source and authority (and hexagon)
    on the engine (record keys summed for a suppressing role), disclosed by the same code."""
    options = dict(BOARD_CASES[case])
    who_ = who(role, (PRESTON,)) if role == "officer" else who(role)
    if role in {"partner", "board"} and (options.get("categories") or options.get("areas")):
        pytest.skip("the roles' own board is for a crime-type group and the whole area")
    if role == "officer" and options.get("areas") not in (None, (PRESTON,)):
        pytest.skip("another area than the officer's own is refused (tested elsewhere)")
    from dashboard import services

    before = services._last
    try:
        want = board_json(layers["numpy"], who_, options)
        got = board_json(engine, who_, options)
    finally:
        services._last = before
    assert got == want
    assert any("emerging" in c.lower() for c in want["changes"])  # type: ignore[union-attr]
    heads = want["headlines"]
    sources = {h["source"] for h in heads}  # type: ignore[union-attr]
    assert sources == ({"police"} if role == "officer" else
                       {"police", "ed", "ambulance"})
    if role in {"partner", "board"}:
        assert any(h.get("count_shown_as") or h["count"] for h in heads)


def test_the_board_refuses_what_it_does_not_count(layers, engine):
    """The busiest places are counted over whole months; an unknown level is named."""
    with engine.pinned(who("analyst")):
        h = engine.query.board_figures().headlines[0]
        with pytest.raises(ValueError, match="whole months"):
            engine.query.board_hotspots("2024-01-15", h.period_end)
        with pytest.raises(FilterError, match="beat"):
            engine.query.area_table(Filters(), level="beat")


#: Trends over the hard cases: each period, an area beside the rest, crime types, nights
#: across midnight, a named baseline year, health records only.
TREND_CASES = {
    "month": {"period": "month"},
    "day": {"period": "day"},
    "week, one area": {"period": "week", "la": PRESTON},
    "quarters, crime types": {"period": "fyq", "categories": "Robbery,violence with injury"},
    "years, nights": {"period": "fy", "days": "fri,sat", "hours": "20-4"},
    "baseline year": {"period": "month", "league_baseline": "fy:2022"},
    "health only, two areas": {"period": "month", "source": "ed",
                               "la": f"{PRESTON},{BLACKPOOL}"},
    "wards": {"period": "month", "level": "ward"},
    "wards, one area, quarters": {"period": "fyq", "level": "ward", "la": PRESTON,
                                  "categories": "Robbery,violence with injury"},
}


@pytest.mark.parametrize("principal", ["analyst", "analyst in two areas"])
@pytest.mark.parametrize("case", list(TREND_CASES))
def test_trends_are_the_in_memory_trends(layers, engine, principal, case):
    """The series beside the rest, the sources indexed, the league table, the seasons and
    the areas that peaked last summer: from the incidents counted by day, authority and
    source on the engine, worked out by the same code, equal to the in-memory figures."""
    from dashboard.params import parse_trends_params
    from dashboard.serialise import trends_json
    from geo import vru
    from geo.trends import excluded_days, uk_covid_lockdowns

    params = parse_trends_params(TREND_CASES[case])
    exclude = excluded_days(uk_covid_lockdowns())

    def trends(svc: Services) -> dict[str, object]:
        with svc.pinned(PRINCIPALS[principal]):
            return trends_json(vru.trends(svc.query, svc.boundaries, params, exclude=exclude))

    want, got = trends(layers["numpy"]), trends(engine)
    assert got == want
    rows = want["rows"]
    assert isinstance(rows, list) and any(r["count"] for r in rows)
    assert want["league"] and want["seasonal"] and want["sources"]


@pytest.mark.parametrize("params", [
    {}, {"res": "7", "periods": "6", "period_days": "60"},
    {"categories": "Robbery,Violence with injury", "res": "9"},
    {"la": PRESTON, "min_count": "2"},
])
def test_emerging_hot_spots_are_the_in_memory_ones(layers, engine, params):
    """The Trends page's emerging hot spots: the selected incidents counted by cell and
    period on the engine (one grouped read), classified by the same code."""
    from dashboard.params import parse_emerging_params
    from dashboard.serialise import emerging_json
    from geo import vru

    p = parse_emerging_params(params)

    def found(svc: Services) -> dict[str, object]:
        with svc.pinned(who("analyst")):
            return emerging_json(vru.emerging(svc.query, p))

    want, got = found(layers["numpy"]), found(engine)
    assert got == want
    assert want["rows"] and want["periods"]


def test_reads_too_large_for_the_engine_are_refused_in_words(layers, engine, monkeypatch):
    """A grouped read beyond its bound never becomes "something went wrong": the emerging hot
    spots refuse as in memory (periods), the trends and the board say what to narrow."""
    import geo.door
    import geo.vru
    from dashboard.params import parse_emerging_params, parse_trends_params
    from geo import vru

    monkeypatch.setattr(geo.vru, "EMERGING_MAX_CELL_PERIODS", 50)
    monkeypatch.setattr(geo.door, "TREND_GROUP_LIMIT", 10)
    monkeypatch.setattr(geo.door, "BOARD_CELL_LIMIT", 5)
    with engine.pinned(who("analyst")):
        with pytest.raises(FilterError, match="cell-periods") as refused:
            vru.emerging(engine.query, parse_emerging_params({"res": "10"}))
        assert refused.value.param == "periods"
        with pytest.raises(FilterError, match="choose a shorter date range"):
            vru.trends(engine.query, engine.boundaries,
                       parse_trends_params({"period": "month", "days": "sat"}))
        h = engine.query.board_figures().headlines[0]
        with pytest.raises(FilterError, match="busiest places"):
            engine.query.board_hotspots(h.period_start, h.period_end)


def test_a_board_whose_crime_types_left_no_recent_incident_is_shown(layers, engine):
    """Crime types with no incident in the emerging hot spots' months: no emerging hot spot,
    on either layer (in memory this was an error)."""
    from dashboard import services

    before = services._last
    try:
        for svc in (layers["numpy"], engine):
            with svc.pinned(who("analyst")):
                fr_last = svc.query.board_figures().covered_to["police"]
                empty = svc.query.board_emerging("police", fr_last,
                                                 categories=("Possession of weapons",))
                assert empty.empty or set(empty.columns) == {"category", "area"}
                far = svc.query.board_emerging("police", fr_last + 3_650)
                assert far.empty  # ten years on: no incident in any of the months
    finally:
        services._last = before


#: Patrol plans over the hard cases: the default (forecast, nights across midnight), harm
#: ranking with Gi*, clusters, one area and a crime type at res 10, a share of harm, domestic
#: incidents kept, and a look-back reaching before the data start.
PLANS = [{}, {"ranking": "harm", "significant": "90"},
         {"unit": "dbscan", "eps": "250", "minpts": "3", "days": "fri,sat,sun"},
         {"la": PRESTON, "unit": "h3-10", "categories": "Robbery,Violence with injury"},
         {"target_share": "40", "public_only": "0", "hours": "0-24", "days": "mon,tue,wed"},
         {"lookback_weeks": "104", "ranking": "harm", "as_of": "2023-03-01"},
         # month-only incidents the shift leaves out, counted whatever the crime types
         {"as_of": "2024-03-31", "lookback_weeks": "8", "days": "fri,sat",
          "categories": "Robbery"}]


def _plan_figures(svc: Services, params: dict[str, str]) -> dict[str, object]:
    from dashboard.params import parse_plan_params
    from dashboard.serialise import plan_csv, plan_geojson

    result = svc.plan(parse_plan_params(params))
    shown = plan_geojson(result)
    shown["provenance"].pop("extracted_at")  # the time it was asked
    return {"geojson": shown, "csv": plan_csv(result), "notes": result.notes,
            "totals": result.totals, "hours": result.hours,
            "schedule": result.schedule.to_dict("records"),
            "gi": None if result.gi is None else result.gi.to_dict("records")}


@pytest.mark.parametrize("principal", ["analyst", "officer in Preston"])
@pytest.mark.parametrize("params", PLANS, ids=[",".join(p) or "default" for p in PLANS])
def test_the_patrol_plan_is_the_in_memory_plan(layers, engine, principal, params):
    """The plan (and so On shift, which briefs from it) on the engine: the window's incidents
    read once, bounded, and ranked, forecast, clustered and named by the in-memory code."""
    if principal == "officer in Preston" and params.get("la") not in (None, PRESTON):
        pytest.skip("another area is refused to the officer (access tests)")
    who_ = PRINCIPALS[principal]
    with layers["numpy"].pinned(who_):
        want = _plan_figures(layers["numpy"], params)
    with engine.pinned(who_):
        got = _plan_figures(engine, params)
    assert got == want
    if params == {} and principal == "analyst":
        assert len(want["geojson"]["features"]) == 10  # type: ignore[index]


def test_a_plan_too_large_for_the_engine_is_refused_in_words(layers, engine, monkeypatch):
    """More incidents than a bounded selection takes: the plan says what to narrow, and a
    partner (aggregates only) is refused the plan by their role, as in memory."""
    from dashboard.params import parse_plan_params

    engine.query._selections.clear()  # type: ignore[attr-defined]
    monkeypatch.setenv("HOTSPOT_MAX_SELECTION_ROWS", "20")
    with engine.pinned(who("analyst")):
        with pytest.raises(FilterError, match="The patrol plan for these settings would read "
                                              "more than 20 incidents") as refused:
            engine.plan(parse_plan_params({"lookback_weeks": "50", "as_of": "2024-01-01"}))
        assert "fewer areas" in str(refused.value)
    for svc in (layers["numpy"], engine):
        with svc.pinned(who("partner")), pytest.raises(AccessDenied):
            svc.plan(parse_plan_params({}))


def test_briefings_are_the_in_memory_briefings(layers, engine):
    """A plan's printed briefings (each hotspot's incidents, map and hours) come from the
    plan's own bounded selection on the engine: no second read, the same pages."""
    from dashboard import exports, services
    from dashboard.params import parse_plan_params

    params = parse_plan_params({"la": PRESTON, "days": "fri,sat", "hours": "20-4"})
    before = services._last
    pages = []
    try:
        for svc in (layers["numpy"], engine):
            services._last = svc
            with svc.pinned(who("analyst")):
                result = svc.plan(params)
                got = [exports._briefing_page(result, r) for r in result.table["rank"][:3]]
            for page in got:
                page["map"] = repr(page["map"])
            pages.append(got)
    finally:
        services._last = before
    assert pages[0] == pages[1]
    assert sum(p["count"] for p in pages[0]) > 0


def test_night_time_economy_figures_are_the_in_memory_ones(layers, engine, data):
    """The NTE page on the engine: zones suggested from the Friday and Saturday nights, and
    every figure of saved zones (nights, weekends, hour profile, names, the night's dots and
    the deployment sheet) from the incidents inside the zones' bounds, read bounded."""
    import shutil

    from dashboard import exports, services
    from dashboard.app import create_app
    from dashboard.params import parse_nte_params, parse_trends_params
    from dashboard.serialise import nte_nights_json, nte_zones_geojson, trends_json
    from geo import vru
    from geo.zones import add_zone

    analyst = who("analyst")
    before = services._last
    create_app(data)  # the pages are modules of an app: built first, as the server does
    from dashboard.layouts import nte as page

    def on(svc: Services, work):
        services._last = svc
        with svc.pinned(analyst):
            return work(svc)

    try:
        suggested = [on(svc, lambda _svc: page.suggest(1, "?public_only=1"))
                     for svc in (layers["numpy"], engine)]
        assert suggested[0] == suggested[1] and len(suggested[0]) >= 2
        for row in suggested[0][:3]:
            add_zone(data.zones, row["geometry"], row["name"], origin="suggested")
        # a zone drawn so far away that the grid has no metres for it holds nothing
        add_zone(data.zones, {"type": "Polygon", "coordinates": [
            [[89.9, 0.0], [90.1, 0.0], [90.1, 0.1], [89.9, 0.1], [89.9, 0.0]]]}, "Far away")

        def figures(svc: Services) -> list[object]:
            out: list[object] = []
            for query in ({}, {"night": "20-4", "categories": "Robbery,Violence with injury"},
                          {"start": "2023-06-01", "end": "2023-12-31", "amber": "1",
                           "red": "3"}):
                params = parse_nte_params(query)
                report = svc.nte_report(params)
                lon, lat, note = page._night_points(params)
                out += [nte_zones_geojson(report, svc.zones()), nte_nights_json(report),
                        report.profile.tolist(), lon.tolist(), lat.tolist(), note,
                        page._venue_rows(report, 0, params, 50.0)]
            sheet = exports._sheet_data({"zone": svc.zones().zones["zone_id"].iloc[0]})
            sheet["map"] = repr(sheet["map"])
            # the Trends page for a zone beside the rest of the area
            zone_trend = trends_json(vru.trends(svc.query, svc.boundaries, parse_trends_params(
                {"period": "month", "zone": svc.zones().zones["zone_id"].iloc[1]}),
                zones=svc.zones()))
            return [*out, sheet, zone_trend]

        want, got = on(layers["numpy"], figures), on(engine, figures)
        assert got == want
        assert sum(f["properties"]["night_incidents"]  # type: ignore[index]
                   for f in want[0]["features"]) > 0  # type: ignore[index]
    finally:
        services._last = before
        shutil.rmtree(data.zones, ignore_errors=True)


@pytest.mark.parametrize("role", ["analyst", "officer", "partner", "board"])
def test_hospital_and_ambulance_figures_are_the_in_memory_ones(layers, engine, role):
    """The Hospital & ambulance page on the engine: the health records and the police
    violence beside them read once, bounded, and worked out, suppressed and perturbed by the
    in-memory code; a role that may not see them is refused as in memory."""
    from dashboard import health_data, services

    principal = who(role, (PRESTON, BLACKPOOL) if role == "officer" else None)
    asks = [("coverage", {"source": "ed"}), ("coverage", {"source": "ambulance", "la": PRESTON}),
            ("compare", {"source": "ed", "period": "quarter"}),
            ("compare", {"source": "ambulance", "level": "h3-8", "days": "fri,sat"}),
            ("compare", {"source": "ed", "period": "fy", "start": "2023-01-01"})]

    def figures(svc: Services) -> list[object]:
        services._last = svc
        out: list[object] = []
        with svc.pinned(principal):
            for what, params in asks:
                try:
                    out.append(getattr(health_data, what)(params))
                except AccessDenied as exc:
                    out.append(f"refused: {exc}")
            for call in (lambda: svc.query.health_status(),
                         lambda: svc.query.health_profile(Filters(), "ed"),
                         lambda: svc.query.health_sources()):
                try:
                    out.append(call())
                except AccessDenied as exc:
                    out.append(f"refused: {exc}")
        return out

    before = services._last
    try:
        want, got = figures(layers["numpy"]), figures(engine)
    finally:
        services._last = before
    assert got == want
    if role == "analyst":
        assert want[0]["total"] > 0 and want[2]["ed_total"] > 0  # type: ignore[index]


@pytest.mark.parametrize("principal", ["analyst", "analyst in two areas"])
def test_density_and_clusters_are_the_in_memory_ones(layers, engine, principal):
    """The Explorer's density surface and DBSCAN clusters on the engine: the selection's
    positions read as a bounded selection, and what points leave out counted by the engine."""
    from dashboard.services import DbscanParams, KdeParams

    who_ = PRINCIPALS[principal]
    out = []
    for svc in (layers["numpy"], engine):
        with svc.pinned(who_):
            got = []
            for case in ("everything", "fri-sat nights 20-4", "health only"):
                f = FILTERS[case]
                surface = svc.kde(f, KdeParams(cell_m=250.0, bandwidth_m=400.0))
                got += [None if surface is None else
                        {k: (np.nan_to_num(v, nan=-1.0).tolist()  # outside: NaN
                             if isinstance(v, np.ndarray) else v)
                         for k, v in surface.items()},
                        svc.clusters(f, DbscanParams(eps_m=300.0, min_samples=4)),
                        svc.query.left_out(f, None)]
            out.append(got)
    assert out[0] == out[1]
    assert out[0][0] is not None and out[0][1]["features"]  # type: ignore[index]
    if principal == "analyst":
        assert out[0][-1] > 0  # LSOA-placed health records: no point to draw


@pytest.mark.parametrize("role", ["analyst", "officer", "partner", "board",
                                  "analyst in Blackpool"])
def test_figures_by_ward_are_the_in_memory_ones(layers, engine, role):
    """The area table below whole authorities (Area figures, the Explorer's areas, the API):
    the selected incidents read as a bounded selection and placed in the wards in memory,
    suppressed and perturbed there for the roles that need it. The wards listed are those
    holding any of the principal's incidents, whatever the filters select."""
    from datetime import date

    principal = (who(role, (PRESTON,)) if role == "officer" else
                 who("analyst", (BLACKPOOL,)) if role == "analyst in Blackpool" else who(role))
    out = []
    for svc in (layers["numpy"], engine):
        with svc.pinned(principal):
            got = []
            for case in ("everything", "fri-sat nights 20-4", "dates cut months", "areas",
                         "one year"):
                f = (Filters(start=date(2022, 1, 1), end=date(2022, 12, 31))
                     if case == "one year" else FILTERS[case])
                if role == "officer" and f.areas is not None and set(f.areas) - {PRESTON}:
                    continue
                shown = svc.query.disclosed_areas(f, level="ward")
                got.append(shown.table.to_dict("records"))
                if role in ("analyst", "officer"):
                    got.append(svc.query.area_table(f, HARM, level="ward").to_dict("records"))
            out.append(got)
    same(pd.DataFrame({"x": [repr(out[1])]}), pd.DataFrame({"x": [repr(out[0])]}), role)
    rows = out[0][0]
    assert len(rows) >= 2 and any(r["count"] for r in rows)  # type: ignore[index]


@pytest.mark.parametrize("params", [
    {"unit": "h3-8", "lookback_months": "6"},
    {"la": PRESTON, "days": "fri,sat", "hours": "20-4", "study_area": "boundaries"},
    {"source": "ed", "from": "2023-06", "to": "2024-03", "coverage": "0.05,0.1"},
])
def test_the_backtest_is_the_in_memory_backtest(layers, engine, params):
    """The forecast's backtest on the engine: its incidents read as a bounded selection, the
    store's months and a source's months counted by the engine, run by the same protocol."""
    from dashboard.backtest_run import run

    got = []
    for svc in (layers["numpy"], engine):
        with svc.pinned(who("analyst")):
            got.append(run(svc.query, params))
    assert got[0] == got[1]
    assert got[0]["cutoffs"]  # type: ignore[index]


@pytest.mark.parametrize("params", [
    {"target": PRESTON, "start": "2024-06-01", "end": "2024-11-30"},
    {"target": BLACKPOOL, "start": "2023-06-01", "end": "2023-12-31", "comparison": PRESTON,
     "baseline": "last_year", "categories": "Robbery,Violence with injury"},
    {"target": PRESTON, "start": "2024-01-01", "end": "2024-03-31", "buffer_m": "800",
     "days": "fri,sat", "hours": "20-4"},
    {"targets": f"{PRESTON}@2023-09-01/2024-02-29,{BLACKPOOL}@2024-01-01/2024-06-30"},
    {"target": PRESTON, "start": "2019-01-01"},  # before the data start: refused in words
])
def test_the_evaluation_is_the_in_memory_evaluation(layers, engine, params):
    """An intervention's before and after on the engine: the incidents in the target, its
    ring and the comparison area read as a bounded selection (the selection's month-only
    count and the data's months from the engine), evaluated by the same code."""
    from dashboard.params import parse_evaluate_params
    from dashboard.serialise import evaluation_json

    got = []
    for svc in (layers["numpy"], engine):
        with svc.pinned(who("analyst")):
            try:
                got.append(evaluation_json(svc.evaluate(parse_evaluate_params(params))))
            except FilterError as exc:
                got.append(f"refused: {exc}")
    assert got[0] == got[1]
    assert isinstance(got[0], dict) or "2019" in params.get("start", "")


def test_requests_for_one_selection_read_it_once(layers, engine, monkeypatch):
    """Four requests asking at once for the same new selection: one read, one frame."""
    import threading
    from datetime import date

    calls = []
    rows = type(engine.query.executor).rows

    def counted(self, *args, **kwargs):
        calls.append(1)
        return rows(self, *args, **kwargs)

    monkeypatch.setattr(type(engine.query.executor), "rows", counted)
    bound = Filters(start=date(2023, 2, 1), end=date(2023, 2, 28), areas=(BLACKPOOL,))
    got: list[object] = []
    start = threading.Barrier(4)

    def ask() -> None:
        with engine.pinned(who("analyst")):
            start.wait()
            got.append(engine.query.within(bound, "A test", "less"))

    threads = [threading.Thread(target=ask) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 4 and all(g is got[0] for g in got)
    assert len(calls) == 1


def test_giving_memory_back_never_fails_a_request(monkeypatch):
    """After a selection's read the freed memory is given back; where the C library cannot
    (Windows' ctypes refuses ``CDLL(None)``, musl has no ``malloc_trim``) nothing fails."""
    import ctypes

    from geo.door import _give_back_memory

    calls = []

    def refuses(*args, **kwargs):
        calls.append(args)
        raise TypeError("argument of type 'NoneType' is not iterable")

    monkeypatch.setattr(ctypes, "CDLL", refuses)
    _give_back_memory()  # Linux: tried, refused, nothing raised
    assert calls == [(None,)]
    monkeypatch.setattr("sys.platform", "win32")
    _give_back_memory()  # elsewhere: not tried
    assert calls == [(None,)]
