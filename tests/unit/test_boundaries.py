"""Boundaries: bundled files, import from other formats and CRSs, and point assignment."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from geopandas.testing import assert_geodataframe_equal
from numpy.testing import assert_allclose
from pyproj import Transformer

from geo.boundaries import (
    AreaAssignment,
    Boundaries,
    BoundaryError,
    PopulationProblems,
    assign_areas,
    check_level_name,
    clear_population,
    describe_outside,
    import_boundaries,
    import_level,
    import_population,
    level_names,
    load_boundaries,
    load_level,
    load_levels,
    remove_level,
)
from geo.settings import AREA_TOLERANCE_M, bundled_boundaries_dir, limits

#: Coordinates survive a WGS84 round trip to well under a millimetre.
ROUNDTRIP_M = 1e-3
#: Imported files are stored to 7 decimal degrees (about 1 cm), which moves a 1 km square's
#: area by a few m².
STORED_AREA_RTOL = 1e-5

LANCASHIRE = {
    "E06000008": ("Blackburn with Darwen", 150_030),
    "E06000009": ("Blackpool", 138_381),
    "E07000117": ("Burnley", 89_344),
    "E07000118": ("Chorley", 118_870),
    "E07000119": ("Fylde", 81_211),
    "E07000120": ("Hyndburn", 81_133),
    "E07000121": ("Lancaster", 148_119),
    "E07000122": ("Pendle", 92_145),
    "E07000123": ("Preston", 144_147),
    "E07000124": ("Ribble Valley", 62_026),
    "E07000125": ("Rossendale", 71_432),
    "E07000126": ("South Ribble", 111_086),
    "E07000127": ("West Lancashire", 114_496),
    "E07000128": ("Wyre", 113_067),
}

# Hand-made areas in British National Grid near Preston: A and B share an edge at x = 351 km,
# O overlaps A's north-east corner, F is far to the east.
X0, Y0 = 350_000.0, 430_000.0


def _squares_bng() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "code": ["A", "B", "F", "O"],
            "name": ["Alpha", "Beta", "Far", "Overlap"],
            "population": [1000.0, 2000.0, np.nan, 10.0],
        },
        geometry=[
            shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
            shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
            shapely.box(X0 + 20_000, Y0, X0 + 21_000, Y0 + 1000),
            shapely.box(X0 + 800, Y0 + 800, X0 + 1200, Y0 + 1200),
        ],
        crs="EPSG:27700",
    )


@pytest.fixture
def squares() -> Boundaries:
    return Boundaries(areas=_squares_bng().to_crs("EPSG:4326"), source="test squares")


# ---------------------------------------------------------------------------------------------
# assign_areas


def test_point_inside_gets_its_area(squares: Boundaries) -> None:
    a = assign_areas(np.array([X0 + 500, X0 + 1500]), np.array([Y0 + 500, Y0 + 500]), squares)
    assert a.code.tolist() == ["A", "B"]
    assert_allclose(a.distance_m, [0.0, 0.0])
    assert a.n_snapped == 0
    assert a.n_outside == 0


def test_point_in_two_overlapping_areas_gets_lowest_code(squares: Boundaries) -> None:
    # (X0+900, Y0+900) is inside both A and O; (X0+1100, Y0+900) inside both B and O.
    a = assign_areas(np.array([X0 + 900, X0 + 1100]), np.array([Y0 + 900, Y0 + 900]), squares)
    assert a.code.tolist() == ["A", "B"]


def test_point_just_outside_is_snapped_to_nearest(squares: Boundaries) -> None:
    # 120 m west of A and 300 m south of B: within the 500 m tolerance.
    a = assign_areas(np.array([X0 - 120, X0 + 1500]), np.array([Y0 + 500, Y0 - 300]), squares)
    assert a.code.tolist() == ["A", "B"]
    assert_allclose(a.distance_m, [120.0, 300.0], atol=ROUNDTRIP_M)
    assert a.n_snapped == 2


def test_point_far_outside_is_unassigned_with_nearest_recorded(squares: Boundaries) -> None:
    a = assign_areas(np.array([X0 - 2_300.0]), np.array([Y0 + 500]), squares)
    assert a.code.tolist() == [None]
    assert np.isnan(a.distance_m[0])
    assert a.nearest_code.tolist() == ["A"]
    assert_allclose(a.nearest_distance_m, [2_300.0], atol=ROUNDTRIP_M)
    assert a.outside_reasons(squares.names()).tolist() == [
        "outside the study area: 2.3 km from the nearest boundary (Alpha)"
    ]


def test_tolerance_is_respected(squares: Boundaries) -> None:
    x, y = np.array([X0 - 120.0]), np.array([Y0 + 500])
    assert assign_areas(x, y, squares, tolerance_m=100.0).code.tolist() == [None]
    assert assign_areas(x, y, squares, tolerance_m=150.0).code.tolist() == ["A"]


def test_equidistant_outside_point_goes_to_lowest_code(squares: Boundaries) -> None:
    # Straight south of the shared A/B corner: equally far from both.
    a = assign_areas(np.array([X0 + 1000]), np.array([Y0 - 200]), squares)
    assert a.code.tolist() == ["A"]


def test_missing_coordinates_give_no_area(squares: Boundaries) -> None:
    a = assign_areas(np.array([np.nan, X0 + 500]), np.array([Y0, Y0 + 500]), squares)
    assert a.code.tolist() == [None, "A"]
    assert a.nearest_code.tolist() == [None, None]
    assert a.outside_reasons(squares.names()).tolist() == ["no usable coordinates", None]


def test_empty_input(squares: Boundaries) -> None:
    a = assign_areas(np.array([]), np.array([]), squares)
    assert isinstance(a, AreaAssignment)
    assert len(a.code) == 0 and a.n_snapped == 0


def test_repeated_points_match_one_by_one(squares: Boundaries) -> None:
    # Many rows on few snapped points take the de-duplicating path; answers must not change.
    rng = np.random.default_rng(7)
    px = rng.uniform(X0 - 3000, X0 + 23_000, 60)
    py = rng.uniform(Y0 - 3000, Y0 + 4000, 60)
    pick = rng.integers(0, 60, 20_000)
    bulk = assign_areas(px[pick], py[pick], squares)
    single = assign_areas(px, py, squares)
    assert bulk.code.tolist() == single.code[pick].tolist()
    assert_allclose(bulk.distance_m, single.distance_m[pick], equal_nan=True)
    assert_allclose(bulk.nearest_distance_m, single.nearest_distance_m[pick], equal_nan=True)
    assert bulk.n_snapped == int(np.count_nonzero(single.distance_m[pick] > 0))


def test_assignment_agrees_with_geopandas_spatial_join() -> None:
    b = load_boundaries(None)
    rng = np.random.default_rng(11)
    minx, miny, maxx, maxy = b.areas_bng.total_bounds
    x = rng.uniform(minx, maxx, 5_000)
    y = rng.uniform(miny, maxy, 5_000)
    a = assign_areas(x, y, b, tolerance_m=0.0)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(x, y), crs="EPSG:27700")
    joined = gpd.sjoin(pts, b.areas_bng[["code", "geometry"]], predicate="within", how="left")
    expected = joined[~joined.index.duplicated()]["code"]
    assert 1_000 < expected.notna().sum() < 5_000
    got = pd.Series(a.code, dtype=object).where(lambda s: s.notna(), np.nan)
    assert got.fillna("-").tolist() == expected.astype(object).fillna("-").tolist()


@pytest.mark.parametrize(
    ("distance_m", "text"),
    [(740.0, "740 m"), (2_340.0, "2.3 km"), (250_000.0, "250 km")],
    ids=["metres", "kilometres", "far"],
)
def test_describe_outside(distance_m: float, text: str) -> None:
    assert describe_outside(distance_m, "Preston") == (
        f"outside the study area: {text} from the nearest boundary (Preston)"
    )


# ---------------------------------------------------------------------------------------------
# import_boundaries


def test_import_geopackage_in_bng_is_stored_in_wgs84(tmp_path: Path) -> None:
    src = _squares_bng().rename(columns={"code": "ID", "name": "LABEL", "population": "POP"})
    src.to_file(tmp_path / "areas.gpkg", driver="GPKG")
    dest = tmp_path / "data" / "boundaries"
    b = import_boundaries(tmp_path / "areas.gpkg", "ID", "LABEL", dest, population_field="POP")

    assert b.areas.crs.to_epsg() == 4326
    expected = _squares_bng().to_crs("EPSG:4326")
    assert_geodataframe_equal(
        b.areas, expected, check_crs=True, check_less_precise=True, normalize=True
    )
    assert_allclose(
        b.areas_bng.geometry.area.to_numpy(),
        _squares_bng().area.to_numpy(),
        rtol=STORED_AREA_RTOL,
    )
    assert b.population()["B"] == 2000.0
    assert np.isnan(b.population()["F"])
    assert b.source.startswith("imported from areas.gpkg on ")

    meta = json.loads((dest / "meta.json").read_text())
    assert meta["source_file"] == "areas.gpkg"
    assert (meta["code_field"], meta["name_field"]) == ("ID", "LABEL")
    assert meta["n_areas"] == 4
    assert "imported_at" in meta
    assert not [p for p in dest.iterdir() if "tmp" in p.name]

    reloaded = load_boundaries(dest)
    assert_geodataframe_equal(reloaded.areas, b.areas, check_crs=True)


def test_import_geojson_in_wgs84(tmp_path: Path) -> None:
    src = _squares_bng().to_crs("EPSG:4326").drop(columns="population")
    src.to_file(tmp_path / "areas.geojson", driver="GeoJSON")
    b = import_boundaries(tmp_path / "areas.geojson", "code", "name", tmp_path / "b")
    assert b.names() == {"A": "Alpha", "B": "Beta", "F": "Far", "O": "Overlap"}
    got = b.areas_bng.geometry.to_numpy()
    want = _squares_bng().geometry.to_numpy()
    assert_allclose(shapely.get_coordinates(got), shapely.get_coordinates(want), atol=0.05)
    # No population field and codes unknown to the bundled table: NaN, not zero.
    assert all(np.isnan(v) for v in b.population().values())


def test_imported_boundaries_borrow_no_bundled_populations(tmp_path: Path) -> None:
    # A national file that shares codes with the bundled Lancashire table once took those 14
    # populations silently, so a Lancashire district with a handful of incidents outranked
    # every district of the force whose data were loaded.
    src = gpd.GeoDataFrame(
        {"LAD": ["E07000123"], "NM": ["Preston"]},
        geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
        crs="EPSG:27700",
    )
    src.to_file(tmp_path / "p.gpkg")
    b = import_boundaries(tmp_path / "p.gpkg", "LAD", "NM", tmp_path / "b")
    assert np.isnan(b.population()["E07000123"])
    assert b.population_source() == ""


# ---------------------------------------------------------------------------------------------
# Population tables


@pytest.fixture
def imported(tmp_path: Path) -> Path:
    _squares_bng().drop(columns="population").to_file(tmp_path / "a.gpkg")
    import_boundaries(tmp_path / "a.gpkg", "code", "name", tmp_path / "boundaries")
    return tmp_path / "boundaries"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_population_table_is_stored_beside_the_boundaries_with_its_year(
        imported: Path, tmp_path: Path) -> None:
    table = _write(tmp_path / "pop.csv",
                   "Area code,Name,Population,Source year\nA,Alpha,1000,2021\n"
                   "B,Beta,\"2,500\",2022\n")
    b, notes = import_population(table, imported)
    assert b.population() == {"A": 1000.0, "B": 2500.0, "F": pytest.approx(np.nan, nan_ok=True),
                              "O": pytest.approx(np.nan, nan_ok=True)}
    assert b.population_source() == ("populations: 2021 to 2022, imported from pop.csv; "
                                     "2 area(s) have none")
    assert notes[-1] == "2 area(s) have no population, so no rate: F Far, O Overlap."
    again = load_boundaries(imported)  # it persists
    assert again.population()["B"] == 2500.0
    assert again.population_note == b.population_note


def test_population_table_rows_are_checked_and_nothing_is_half_imported(
        imported: Path, tmp_path: Path) -> None:
    good = _write(tmp_path / "good.csv", "code,population,year\nA,1000,2021\n")
    import_population(good, imported)
    bad = _write(tmp_path / "bad.csv",
                 "code,population,year\n"
                 "A,1200,2021\n"       # line 2: duplicate of line 6
                 "ZZ,5,2021\n"         # line 3: unknown code
                 "B,many,2021\n"       # line 4: not a number
                 "F,-3,2021\n"         # line 5: not above zero
                 "A,1300,2021\n"       # line 6
                 "O,40,21\n"           # line 7: not a year
                 ",7,2021\n"           # line 8: no code
                 "B,,2021\n")          # line 9: no population
    with pytest.raises(PopulationProblems) as info:
        import_population(bad, imported)
    assert info.value.problems == [
        (2, "code 'A' appears more than once (also on line 6); give each area once"),
        (3, "unknown code 'ZZ': not an area in the boundaries in use"),
        (4, "population 'many' is not a number"),
        (5, "population -3 must be above zero"),
        (6, "code 'A' appears more than once (also on line 2); give each area once"),
        (7, f"year '21' is not a year between 1900 and {limits().latest_date.year}"),
        (8, "no code"),
        (9, "no population"),
    ]
    assert str(info.value).startswith("Nothing was imported from bad.csv: 8 of 8 row(s)")
    # the earlier good table is still the one in use
    assert load_boundaries(imported).population()["A"] == 1000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [("code,pop\nA,1\n", "has no 'year' column. Its columns are: code, pop"),
     ("", "is empty"),
     ("code,population,year\n" + "A,1,2020\n" * 4, "more than 3 rows")],
    ids=["no-year-column", "empty", "too-many-rows"],
)
def test_population_table_that_cannot_be_read_says_why(
        imported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
        expected: str) -> None:
    monkeypatch.setenv("HOTSPOT_MAX_UPLOAD_ROWS", "3")
    with pytest.raises(BoundaryError, match=expected):
        import_population(_write(tmp_path / "p.csv", text), imported)


def test_population_table_needs_imported_boundaries(tmp_path: Path) -> None:
    table = _write(tmp_path / "pop.csv", "code,population,year\nE07000123,1,2021\n")
    with pytest.raises(BoundaryError, match="bundled boundaries already carry"):
        import_population(table, tmp_path / "boundaries")


def test_bundled_populations_name_their_year() -> None:
    assert load_boundaries(None).population_source() == (
        "populations: mid-2020, bundled ONS estimates")


def test_clearing_the_population_table(imported: Path, tmp_path: Path) -> None:
    import_population(_write(tmp_path / "p.csv", "code,population,year\nA,9,2021\n"),
                      imported)
    assert clear_population(imported) is True
    assert np.isnan(load_boundaries(imported).population()["A"])
    assert clear_population(imported) is False


def test_imported_boundaries_replace_bundled_ones(tmp_path: Path) -> None:
    _squares_bng().to_file(tmp_path / "a.gpkg")
    dest = tmp_path / "b"
    assert len(load_boundaries(dest).areas) == 14  # nothing imported yet
    import_boundaries(tmp_path / "a.gpkg", "code", "name", dest)
    assert sorted(load_boundaries(dest).names()) == ["A", "B", "F", "O"]


def test_unknown_field_lists_the_fields(tmp_path: Path) -> None:
    _squares_bng().to_file(tmp_path / "a.gpkg")
    with pytest.raises(BoundaryError) as err:
        import_boundaries(tmp_path / "a.gpkg", "LAD21CD", "name", tmp_path / "b")
    message = str(err.value)
    assert "'LAD21CD'" in message
    assert "code, name, population" in message
    assert not (tmp_path / "b" / "areas.geojson").exists()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BoundaryError, match="does not exist"):
        import_boundaries(tmp_path / "nope.geojson", "a", "b", tmp_path / "b")


def test_unreadable_file(tmp_path: Path) -> None:
    bad = tmp_path / "areas.geojson"
    bad.write_text("this is not geojson at all", encoding="utf-8")
    with pytest.raises(BoundaryError, match="could not be read"):
        import_boundaries(bad, "a", "b", tmp_path / "b")


def test_shapefile_without_crs_asks_for_prj(tmp_path: Path) -> None:
    _squares_bng().to_file(tmp_path / "areas.shp")
    (tmp_path / "areas.prj").unlink()
    with pytest.raises(BoundaryError, match=r"\.prj"):
        import_boundaries(tmp_path / "areas.shp", "code", "name", tmp_path / "b")


def test_shapefile_with_crs_imports(tmp_path: Path) -> None:
    _squares_bng().to_file(tmp_path / "areas.shp")
    b = import_boundaries(tmp_path / "areas.shp", "code", "name", tmp_path / "b")
    assert len(b.areas) == 4


def test_points_are_not_boundaries(tmp_path: Path) -> None:
    pts = gpd.GeoDataFrame(
        {"code": ["P"], "name": ["Point"]}, geometry=[shapely.Point(X0, Y0)], crs="EPSG:27700"
    )
    pts.to_file(tmp_path / "pts.gpkg")
    with pytest.raises(BoundaryError, match="no polygons"):
        import_boundaries(tmp_path / "pts.gpkg", "code", "name", tmp_path / "b")


def test_duplicate_codes_are_merged_with_a_note(tmp_path: Path) -> None:
    src = gpd.GeoDataFrame(
        {"code": ["A", "A", "B"], "name": ["Alpha", "Alpha", "Beta"], "pop": [10, 5, 7]},
        geometry=[
            shapely.box(X0, Y0, X0 + 1000, Y0 + 1000),
            shapely.box(X0 + 5000, Y0, X0 + 6000, Y0 + 1000),
            shapely.box(X0 + 1000, Y0, X0 + 2000, Y0 + 1000),
        ],
        crs="EPSG:27700",
    )
    src.to_file(tmp_path / "dup.gpkg")
    b = import_boundaries(tmp_path / "dup.gpkg", "code", "name", tmp_path / "b", "pop")
    assert sorted(b.names()) == ["A", "B"]
    assert b.population()["A"] == 15.0
    assert any("merged" in note and "A" in note for note in b.notes)
    area_a = b.areas_bng.set_index("code").geometry["A"].area
    assert_allclose(area_a, 2_000_000.0, rtol=STORED_AREA_RTOL)


def test_invalid_polygon_is_repaired(tmp_path: Path) -> None:
    bowtie = shapely.Polygon(
        [(X0, Y0), (X0 + 1000, Y0 + 1000), (X0 + 1000, Y0), (X0, Y0 + 1000), (X0, Y0)]
    )
    assert not bowtie.is_valid
    src = gpd.GeoDataFrame({"code": ["X"], "name": ["Bow"]}, geometry=[bowtie], crs=27700)
    src.to_file(tmp_path / "bow.gpkg")
    b = import_boundaries(tmp_path / "bow.gpkg", "code", "name", tmp_path / "b")
    geom = b.areas_bng.geometry.iloc[0]
    assert geom.is_valid and geom.geom_type in ("Polygon", "MultiPolygon")
    assert_allclose(geom.area, 500_000.0, rtol=STORED_AREA_RTOL)
    assert any("repaired" in note for note in b.notes)
    # Inside the left triangle of the bow tie, and in the empty wedge below its waist.
    a = assign_areas(np.array([X0 + 100, X0 + 500]), np.array([Y0 + 500, Y0 + 200]), b, 0.0)
    assert a.code.tolist() == ["X", None]


# ---------------------------------------------------------------------------------------------
# The bundled boundaries


def test_bundled_boundaries_are_the_14_lancashire_authorities() -> None:
    b = load_boundaries(None)
    assert b.source == "bundled Lancashire boundaries"
    assert b.areas.crs.to_epsg() == 4326
    assert b.names() == {code: name for code, (name, _) in LANCASHIRE.items()}
    assert b.population() == {code: float(pop) for code, (_, pop) in LANCASHIRE.items()}
    assert b.areas.geometry.is_valid.all()
    assert set(b.areas.geom_type) <= {"Polygon", "MultiPolygon"}
    # Lancashire is about 3,070 km².
    assert_allclose(b.areas_bng.area.sum() / 1e6, 3_070, rtol=0.03)


def test_bundled_files_are_small_and_documented() -> None:
    folder = bundled_boundaries_dir()
    assert (folder / "lancashire_lads.geojson").stat().st_size < 1_000_000
    with open(folder / "population.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["code"] for r in rows] == sorted(LANCASHIRE)
    assert {r["year"] for r in rows} == {"2020"}
    source = (folder / "SOURCE.md").read_text(encoding="utf-8")
    assert (
        "Source: Office for National Statistics licensed under the Open Government Licence "
        "v3.0. Contains OS data © Crown copyright and database right"
    ) in source


def test_every_lsoa_centroid_lies_in_its_own_authority() -> None:
    lsoas = pd.read_csv(bundled_boundaries_dir() / "lancashire_lsoas.csv")
    assert list(lsoas.columns) == [
        "lsoa_code",
        "lsoa_name",
        "la_code",
        "centroid_lon",
        "centroid_lat",
        "area_km2",
    ]
    assert len(lsoas) == 941
    assert lsoas["lsoa_code"].is_unique
    assert set(lsoas["la_code"]) == set(LANCASHIRE)
    to_bng = Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True)
    x, y = to_bng.transform(lsoas["centroid_lon"].to_numpy(), lsoas["centroid_lat"].to_numpy())
    a = assign_areas(np.asarray(x), np.asarray(y), load_boundaries(None), AREA_TOLERANCE_M)
    assert a.code.tolist() == lsoas["la_code"].tolist()
    assert (a.distance_m < AREA_TOLERANCE_M).all()


def test_failed_import_keeps_the_previous_boundaries(tmp_path: Path) -> None:
    _squares_bng().to_file(tmp_path / "a.gpkg")
    dest = tmp_path / "b"
    import_boundaries(tmp_path / "a.gpkg", "code", "name", dest)
    before = (dest / "areas.geojson").read_bytes()
    (tmp_path / "broken.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(BoundaryError):
        import_boundaries(tmp_path / "broken.geojson", "code", "name", dest)
    assert (dest / "areas.geojson").read_bytes() == before
    assert sorted(load_boundaries(dest).names()) == ["A", "B", "F", "O"]


def test_corrupt_stored_boundaries_raise_a_plain_error(tmp_path: Path) -> None:
    (tmp_path / "areas.geojson").write_text("garbage", encoding="utf-8")
    with pytest.raises(BoundaryError, match="could not be read"):
        load_boundaries(tmp_path)


def test_large_distinct_input_matches_small_batches(squares: Boundaries) -> None:
    # Above 65,536 rows distinct points skip de-duplication; answers must not depend on it.
    rng = np.random.default_rng(3)
    n = 70_000
    x = rng.uniform(X0 - 1000, X0 + 22_000, n)
    y = rng.uniform(Y0 - 1000, Y0 + 2000, n)
    whole = assign_areas(x, y, squares)
    parts = [
        assign_areas(x[i : i + 10_000], y[i : i + 10_000], squares) for i in range(0, n, 10_000)
    ]
    assert whole.code.tolist() == [c for p in parts for c in p.code.tolist()]
    assert_allclose(whole.distance_m, np.concatenate([p.distance_m for p in parts]), equal_nan=True)
    assert whole.n_snapped == sum(p.n_snapped for p in parts) > 0


# ---------------------------------------------------------------------------------------------
# Levels: wards, beats and neighbourhoods beside the authorities


def _wards_file(folder: Path, with_population: bool = False) -> Path:
    """Two wards splitting square A, in BNG, with fields named as in an ONS ward file."""
    gdf = gpd.GeoDataFrame(
        {"WD23CD": ["E05000001", "E05000002"], "WD23NM": ["West", "East"]},
        geometry=[shapely.box(X0, Y0, X0 + 500, Y0 + 1000),
                  shapely.box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)],
        crs="EPSG:27700",
    )
    if with_population:
        gdf["POP"] = [4_100, 5_200]
    path = folder / "wards.gpkg"
    gdf.to_file(path)
    return path


def test_a_level_is_imported_into_its_own_folder_and_the_authorities_stay(
        imported: Path, tmp_path: Path) -> None:
    authorities = (imported / "areas.geojson").read_bytes()
    b, dropped = import_level(_wards_file(tmp_path), "WD23CD", "WD23NM", imported, "ward")
    assert (b.level, b.names(), dropped) == ("ward", {"E05000001": "West", "E05000002": "East"},
                                             False)
    assert (imported / "levels" / "ward" / "areas.geojson").is_file()
    assert (imported / "areas.geojson").read_bytes() == authorities
    assert level_names(imported) == ["authority", "ward"]
    levels = load_levels(imported)
    assert list(levels) == ["authority", "ward"]
    assert sorted(levels["authority"].names()) == ["A", "B", "F", "O"]
    assert levels["ward"].source.startswith("imported from wards.gpkg on ")
    # nothing half-written is left beside the level
    assert sorted(p.name for p in (imported / "levels").iterdir()) == ["ward"]


def test_levels_are_listed_authority_first_then_by_name(imported: Path, tmp_path: Path) -> None:
    path = _wards_file(tmp_path)
    for name in ("neighbourhood", "beat", "ward"):
        import_level(path, "WD23CD", "WD23NM", imported, name)
    assert level_names(imported) == ["authority", "beat", "neighbourhood", "ward"]
    assert level_names(tmp_path / "nowhere") == ["authority"]


def test_a_levels_population_from_its_file_or_its_own_table(imported: Path,
                                                            tmp_path: Path) -> None:
    b, _ = import_level(_wards_file(tmp_path, with_population=True), "WD23CD", "WD23NM",
                        imported, "ward", population_field="POP")
    assert b.population() == {"E05000001": 4_100.0, "E05000002": 5_200.0}
    assert b.population_coverage() == (2, 2)
    table = _write(tmp_path / "wards.csv", "code,population,year\nE05000001,4300,2022\n")
    b, notes = import_population(table, imported, level="ward")
    # the table's figure replaces the file's; the ward it leaves out keeps the file's
    assert b.level == "ward"
    assert b.population() == {"E05000001": 4_300.0, "E05000002": 5_200.0}
    assert b.population_source() == "populations: 2022, imported from wards.csv"
    assert (imported / "levels" / "ward" / "population.json").is_file()
    # the authorities' populations are untouched
    assert not (imported / "population.json").exists()
    # a ward table names ward codes: an authority code is unknown there
    bad = _write(tmp_path / "bad.csv", "code,population,year\nA,100,2022\n")
    with pytest.raises(PopulationProblems, match="unknown code 'A'"):
        import_population(bad, imported, level="ward")


def test_reimporting_a_level_drops_its_old_population_table(imported: Path,
                                                            tmp_path: Path) -> None:
    path = _wards_file(tmp_path)
    import_level(path, "WD23CD", "WD23NM", imported, "ward")
    import_population(_write(tmp_path / "p.csv", "code,population,year\nE05000001,4300,2022\n"),
                      imported, level="ward")
    b, dropped = import_level(path, "WD23CD", "WD23NM", imported, "ward")
    assert dropped and b.population_coverage() == (0, 2)


def test_a_failed_level_import_leaves_the_level_as_it_was(imported: Path,
                                                          tmp_path: Path) -> None:
    import_level(_wards_file(tmp_path), "WD23CD", "WD23NM", imported, "ward")
    before = (imported / "levels" / "ward" / "areas.geojson").read_bytes()
    with pytest.raises(BoundaryError, match="has no field 'WD22CD'"):
        import_level(_wards_file(tmp_path), "WD22CD", "WD23NM", imported, "ward")
    (tmp_path / "broken.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(BoundaryError):
        import_level(tmp_path / "broken.geojson", "WD23CD", "WD23NM", imported, "ward")
    assert (imported / "levels" / "ward" / "areas.geojson").read_bytes() == before
    assert sorted(p.name for p in (imported / "levels").iterdir()) == ["ward"]
    # a new level whose import fails does not appear at all
    with pytest.raises(BoundaryError):
        import_level(tmp_path / "broken.geojson", "WD23CD", "WD23NM", imported, "beat")
    assert level_names(imported) == ["authority", "ward"]


def test_a_level_file_is_held_to_the_same_feature_limit(imported: Path, tmp_path: Path,
                                                        monkeypatch) -> None:
    monkeypatch.setenv("HOTSPOT_MAX_POLYGONS", "1")
    with pytest.raises(BoundaryError, match="HOTSPOT_MAX_POLYGONS"):
        import_level(_wards_file(tmp_path), "WD23CD", "WD23NM", imported, "ward")
    assert level_names(imported) == ["authority"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("police beat", "cannot name a level: use lower-case letters"),
     ("9ward", "cannot name a level"), ("w" * 32, "cannot name a level"),
     ("ward/../..", "cannot name a level"), ("", "cannot name a level"),
     ("la", "level=la for the local authorities"), ("h3", "level=h3 for hexagons")],
    ids=["space", "digit-first", "too-long", "path", "blank", "la", "h3"],
)
def test_a_level_name_must_be_plain(imported: Path, tmp_path: Path, name: str,
                                    message: str) -> None:
    with pytest.raises(BoundaryError, match=message):
        import_level(_wards_file(tmp_path), "WD23CD", "WD23NM", imported, name)
    assert not (imported / "levels").exists() or not any((imported / "levels").iterdir())


def test_level_names_are_taken_in_lower_case() -> None:
    assert check_level_name(" Beat ") == "beat"
    assert check_level_name("safer_neighbourhood_2") == "safer_neighbourhood_2"


def test_removing_a_level(imported: Path, tmp_path: Path) -> None:
    import_level(_wards_file(tmp_path), "WD23CD", "WD23NM", imported, "ward")
    remove_level(imported, "ward")
    assert level_names(imported) == ["authority"]
    assert not any((imported / "levels").iterdir())
    with pytest.raises(BoundaryError, match="There is no 'ward' level: the levels are "
                                            "authority. Import its boundaries first"):
        remove_level(imported, "ward")
    with pytest.raises(BoundaryError, match="The authority level cannot be removed"):
        remove_level(imported, "authority")
    assert (imported / "areas.geojson").is_file()


def test_an_unknown_level_says_which_levels_there_are(imported: Path, tmp_path: Path) -> None:
    import_level(_wards_file(tmp_path), "WD23CD", "WD23NM", imported, "ward")
    with pytest.raises(BoundaryError, match="There is no 'beat' level: the levels are "
                                            "authority, ward"):
        load_level(imported, "beat")
    with pytest.raises(BoundaryError, match="There is no 'beat' level"):
        import_population(_write(tmp_path / "p.csv", "code,population,year\n"), imported,
                          level="beat")
