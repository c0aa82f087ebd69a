"""Boundary levels in the query layer: rows placed in wards, the pin, and disclosure.

Two authorities side by side near Preston (British National Grid, EPSG:27700), with wards:

    y0+2000 +-----------------------+-----------------------+
            |          WA3          |                       |
            |      (no incidents)   |    B1, no ward here   |
    y0+1000 +-----------+-----------+-----------+-----------+
            |    WA1    |    WA2    |    WB1    |           |
            |           |           |           +-----------+
            |           |           |           |    WB2    |
    y0      +-----------+-----------+-----------+-----------+
            x0        +1000       +2000       +3000       +4000
            <------ authority A1 ---><------ authority B1 ---->

Each incident carries the authority ingest gave it, as in the store.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import shapely

from geo.access import Principal, load_roles
from geo.boundaries import Boundaries, locate_areas
from geo.query import FilterError, Filters, QueryLayer
from geo.schema import empty_rejects
from geo.store import Store
from tests.conftest import stored_table

X0, Y0 = 350_000.0, 430_000.0


def _areas(rows: list[tuple[str, str, float, shapely.Polygon]], level: str) -> Boundaries:
    gdf = gpd.GeoDataFrame(
        {"code": [r[0] for r in rows], "name": [r[1] for r in rows],
         "population": [r[2] for r in rows]},
        geometry=[r[3] for r in rows], crs="EPSG:27700")
    return Boundaries(areas=gdf.to_crs("EPSG:4326"), source=f"test {level}", level=level)


def box(x0: float, y0: float, x1: float, y1: float) -> shapely.Polygon:
    return shapely.box(X0 + x0, Y0 + y0, X0 + x1, Y0 + y1)


AUTHORITIES = [("A1", "Aston", 10_000.0, box(0, 0, 2000, 2000)),
               ("B1", "Byfield", 20_000.0, box(2000, 0, 4000, 2000))]
WARDS = [("WA1", "Aston West", 1_000.0, box(0, 0, 1000, 1000)),
         ("WA2", "Aston East", 2_000.0, box(1000, 0, 2000, 1000)),
         ("WA3", "Aston North", 3_000.0, box(0, 1000, 2000, 2000)),
         ("WB1", "Byfield West", 4_000.0, box(2000, 0, 3000, 1000)),
         ("WB2", "Byfield South", 5_000.0, box(3000, 0, 4000, 500))]

#: (east offset m, north offset m, authority given at ingest, rows, domestic rows among them)
POINTS = [
    (999.0, 500.0, "A1", 12, 4),  # 1 m west of the WA1/WA2 edge
    (1001.0, 500.0, "A1", 3, 0),  # 1 m east of it
    (2500.0, 500.0, "B1", 20, 0),
    (2010.0, 500.0, "A1", 1, 0),  # in WB1, but ingest gave it A1 (a snapped point)
    (3500.0, 200.0, "B1", 6, 0),
    (3500.0, 800.0, "B1", 7, 0),  # in B1 but outside every ward
]
EXPECTED_ALL = {"WA1": 12, "WA2": 3, "WA3": 0, "WB1": 21, "WB2": 6}


@pytest.fixture
def layer(tmp_path) -> QueryLayer:
    east, north, la, domestic = [], [], [], []
    for dx, dy, code, n, n_dom in POINTS:
        east += [X0 + dx] * n
        north += [Y0 + dy] * n
        la += [code] * n
        domestic += [True] * n_dom + [False] * (n - n_dom)
    times = [f"2024-06-{1 + i % 28:02d} 21:00" for i in range(len(east))]
    table = stored_table(np.array(east), np.array(north), times, la_code=la, domestic=domestic)
    store = Store(tmp_path / "store")
    store.commit(table, source_file="t", rejects=empty_rejects(), summary={}, kind="user")
    return QueryLayer(store, _areas(AUTHORITIES, "authority"),
                      levels={"ward": _areas(WARDS, "ward")})


def who(role: str, areas: tuple[str, ...] | None = None) -> Principal:
    return Principal(f"test {role}", load_roles()[role], areas, via="local")


def counts(table) -> dict[str, int]:
    return dict(zip(table["code"], table["count"], strict=True))


# ---------------------------------------------------------------------------------------------
# Placing points


@pytest.mark.parametrize(("dx", "code"), [(999.0, "WA1"), (1001.0, "WA2"), (999.99, "WA1"),
                                          (1000.01, "WA2")],
                         ids=["1m-west", "1m-east", "1cm-west", "1cm-east"])
def test_points_either_side_of_a_shared_edge_go_to_their_own_ward(dx: float, code: str) -> None:
    codes, index = locate_areas(np.array([X0 + dx]), np.array([Y0 + 500.0]),
                                _areas(WARDS, "ward"))
    assert codes[index[0]] == code


def test_a_point_outside_every_ward_is_outside_not_snapped_to_the_nearest() -> None:
    from geo.boundaries import assign_areas

    wards = _areas(WARDS, "ward")
    x, y = np.array([X0 + 3500.0, X0 - 10.0]), np.array([Y0 + 800.0, Y0 + 500.0])
    _codes, index = locate_areas(x, y, wards)
    assert index.tolist() == [-1, -1]
    # the ingest-time assignment would have snapped both to the nearest ward
    assert assign_areas(x, y, wards).code.tolist() == ["WB2", "WA1"]


def test_placement_agrees_with_a_geopandas_spatial_join() -> None:
    wards = _areas(WARDS, "ward")
    rng = np.random.default_rng(5)
    x = rng.uniform(X0 - 500, X0 + 4500, 4000)
    y = rng.uniform(Y0 - 500, Y0 + 2500, 4000)
    codes, index = locate_areas(x, y, wards)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:27700")
    joined = gpd.sjoin(pts, wards.areas_bng[["code", "geometry"]], predicate="within",
                       how="left")
    expected = joined[~joined.index.duplicated()]["code"].fillna("-").tolist()
    got = [codes[i] if i >= 0 else "-" for i in index]
    assert got == expected
    assert 500 < expected.count("-") < 4000


def test_level_area_places_every_row_of_the_frame(layer: QueryLayer) -> None:
    codes, index = layer.level_area("ward")
    assert codes == ("WA1", "WA2", "WA3", "WB1", "WB2")
    assert len(index) == layer.frame().n
    placed = [codes[i] if i >= 0 else None for i in index]
    assert {c: placed.count(c) for c in codes} == EXPECTED_ALL
    assert placed.count(None) == 7


def test_the_authority_level_is_the_areas_ingest_gave(layer: QueryLayer) -> None:
    codes, index = layer.level_area("authority")
    assert codes == ("A1", "B1")
    assert np.bincount(index).tolist() == [12 + 3 + 1, 20 + 6 + 7]


def test_geometry_is_done_once_per_store_version_not_per_filter(layer: QueryLayer,
                                                                monkeypatch) -> None:
    import geo.boundaries

    calls = []
    real = geo.boundaries.locate_areas

    def counting(easting, northing, boundaries):
        # incidents placed in wards (not the wards' own points placed in authorities)
        if len(easting) == layer.labels().n:
            calls.append(boundaries.level)
        return real(easting, northing, boundaries)

    monkeypatch.setattr(geo.boundaries, "locate_areas", counting)
    for f in (Filters(), Filters(hours=(20, 4)), Filters(days=frozenset({5})),
              Filters(areas=("A1",)), Filters(exclude_domestic=True)):
        layer.area_table(f, level="ward")
    assert calls == ["ward"]
    # a principal's cut of the same store version reuses the placement too
    with layer.pinned(who("analyst", ("A1",))):
        layer.area_table(Filters(), level="ward")
    with layer.pinned(who("partner")):
        layer.disclosed_areas(Filters(), level="ward")
    assert calls == ["ward"]


def test_an_unknown_level_is_refused_naming_the_levels(layer: QueryLayer) -> None:
    with pytest.raises(FilterError) as err:
        layer.area_table(Filters(), level="beat")
    assert err.value.param == "level"
    assert "'beat' is not a boundary level here; the levels are authority, ward" in str(
        err.value)


# ---------------------------------------------------------------------------------------------
# Figures at ward level


def test_ward_counts_and_rates_use_the_wards_populations(layer: QueryLayer) -> None:
    table = layer.area_table(Filters(), level="ward").set_index("code")
    assert table["count"].to_dict() == EXPECTED_ALL
    assert table.loc["WB1", "rate_per_1000"] == pytest.approx(1000 * 21 / 4_000)
    assert table.loc["WA1", "name"] == "Aston West"


def test_ward_counts_follow_the_filters(layer: QueryLayer) -> None:
    public = counts(layer.area_table(Filters(exclude_domestic=True), level="ward"))
    assert public["WA1"] == 8 and public["WB1"] == 21
    # la names authorities: only their incidents count, and only wards of theirs are listed
    only_a = counts(layer.area_table(Filters(areas=("A1",)), level="ward"))
    assert only_a == {"WA1": 12, "WA2": 3, "WA3": 0, "WB1": 1}


def test_a_restricted_principal_sees_wards_only_from_their_own_rows(layer: QueryLayer) -> None:
    with layer.pinned(who("analyst", ("A1",))):
        table = layer.area_table(Filters(), level="ward")
        codes, index = layer.level_area("ward")
        n_rows = layer.frame().n
    # WB1 is listed only because one of their incidents lies in it, and counts only that one;
    # WA3 holds none of their incidents but lies in their authority; WB2 is neither
    assert counts(table) == {"WA1": 12, "WA2": 3, "WA3": 0, "WB1": 1}
    assert codes == ("WA1", "WA2", "WA3", "WB1")
    assert len(index) == n_rows == 16
    assert np.bincount(index[index >= 0], minlength=4).tolist() == [12, 3, 0, 1]


def test_a_principal_of_the_other_authority_gets_its_wards(layer: QueryLayer) -> None:
    with layer.pinned(who("analyst", ("B1",))):
        table = layer.area_table(Filters(), level="ward")
    assert counts(table) == {"WB1": 20, "WB2": 6}


def test_a_partner_gets_ward_counts_suppressed_and_no_domestic_column(
        layer: QueryLayer) -> None:
    with layer.pinned(who("partner")):
        found = layer.disclosed_areas(Filters(), level="ward")
    table = found.table.set_index("code")
    assert "domestic" not in table.columns  # domestic incidents count only by authority
    assert found.domestic is None and found.count is not None
    hidden = table["suppressed"].to_dict()
    # WA2's 3 is below 5; A1's total is known, so a second ward of A1 (WA1, the only other
    # with incidents) is hidden with it, even though WB2's 6 is the smallest count shown
    assert hidden["WA2"] and hidden["WA1"]
    assert not hidden["WB2"] and not hidden["WB1"]
    shown = table["count"].dropna().astype(int).to_dict()
    assert set(shown) == {"WA3", "WB1", "WB2"}
    assert all(v == 0 or v >= 5 for v in shown.values())
    assert abs(shown["WB1"] - 21) <= 2 and shown["WA3"] == 0
    assert table["rate_per_1000"].isna().all() and table["harm"].isna().all()


def test_a_partners_ward_counts_leave_out_domestic_incidents(layer: QueryLayer) -> None:
    # 12 incidents at WA1, 4 of them domestic: without suppression (an analyst limited to
    # public places by the filter) 8; the partner's WA1 count comes from those 8 rows
    with layer.pinned(who("partner")):
        found = layer.disclosed_areas(Filters(), level="ward")
    assert found.count is not None
    wa1 = list(found.table["code"]).index("WA1")
    assert found.count.counts[wa1] == 8


def test_the_authority_table_is_unchanged_by_levels(layer: QueryLayer) -> None:
    assert counts(layer.area_table(Filters())) == {"A1": 16, "B1": 33}
    with layer.pinned(who("partner")):
        found = layer.disclosed_areas(Filters())
    assert "domestic" in found.table.columns


def test_the_query_layer_and_the_boundaries_name_the_authority_level_alike() -> None:
    import geo.boundaries
    import geo.query

    assert geo.query.AUTHORITY == geo.boundaries.AUTHORITY == "authority"
