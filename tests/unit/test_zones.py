"""NTE zones: import in any CRS, edits that survive a restart, export, point assignment."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import shapely.geometry
from geopandas.testing import assert_geodataframe_equal
from numpy.testing import assert_allclose

from geo.zones import (
    DELETED_KEPT,
    ZONE_COLUMNS,
    ZoneError,
    ZoneSet,
    add_zone,
    assign_zones,
    delete_zone,
    deleted_zones,
    import_zones,
    load_zones,
    rename_zone,
    restore_deleted_zone,
    save_zones,
    zones_geojson_export,
)

#: A BNG -> WGS84 -> BNG round trip moves vertices by far less than this.
ROUNDTRIP_M = 0.01
#: Centroids compared in degrees: 1e-5 degrees is about 1 m.
DEGREES_ATOL = 1e-5

# Manchester city centre, British National Grid metres (EPSG:27700).
X0, Y0 = 384_000.0, 398_000.0


def _square(x: float, y: float, side: float = 100.0) -> shapely.Polygon:
    return shapely.box(x, y, x + side, y + side)


def _bng_file(tmp_path: Path) -> Path:
    gdf = gpd.GeoDataFrame(
        {"ZONE_NAME": ["Village", "Printworks", ""], "AREA_HA": [1.0, 1.0, 1.0]},
        geometry=[_square(X0, Y0), _square(X0 + 500, Y0), _square(X0 + 1000, Y0)],
        crs="EPSG:27700",
    )
    path = tmp_path / "nte_bng.gpkg"
    gdf.to_file(path)
    return path


def _wgs84_file(tmp_path: Path) -> Path:
    feats = [
        {
            "type": "Feature",
            "properties": {"label": "Deansgate"},
            "geometry": shapely.geometry.mapping(shapely.box(-2.252, 53.476, -2.248, 53.480)),
        }
    ]
    path = tmp_path / "nte.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats}))
    return path


def test_zone_file_in_british_national_grid_comes_back_in_wgs84_at_the_same_place(tmp_path):
    zones, notes = import_zones(_bng_file(tmp_path), "ZONE_NAME", tmp_path / "zones")
    assert zones.zones.crs.to_epsg() == 4326
    assert list(zones.zones.columns) == [*ZONE_COLUMNS, "geometry"]
    assert zones.zones["name"].tolist() == ["Village", "Printworks", "Zone 3"]
    assert set(zones.zones["origin"]) == {"imported"}
    assert all(z.startswith("z-") and len(z) == 10 for z in zones.zones["zone_id"])
    # Longitude/latitude of Manchester, not metres.
    minx, miny, maxx, maxy = zones.zones.total_bounds
    assert -2.26 < minx < maxx < -2.21 and 53.46 < miny < maxy < 53.49
    back = zones.zones_bng.geometry.iloc[0]
    assert back.hausdorff_distance(_square(X0, Y0)) < ROUNDTRIP_M
    assert any("Zone N" in n for n in notes)


def test_zone_file_in_wgs84_keeps_its_coordinates(tmp_path):
    zones, _ = import_zones(_wgs84_file(tmp_path), "label", tmp_path / "zones")
    c = zones.zones.geometry.iloc[0].centroid
    assert_allclose([c.x, c.y], [-2.250, 53.478], atol=DEGREES_ATOL)
    assert zones.names() == {zones.zones["zone_id"].iloc[0]: "Deansgate"}


def test_import_appends_and_numbers_duplicate_names_unless_replacing(tmp_path):
    dest = tmp_path / "zones"
    import_zones(_bng_file(tmp_path), "ZONE_NAME", dest)
    zones, notes = import_zones(_bng_file(tmp_path), "ZONE_NAME", dest)
    assert zones.zones["name"].tolist() == [
        "Village", "Printworks", "Zone 3", "Village (2)", "Printworks (2)", "Zone 3 (2)",
    ]
    assert zones.zones["zone_id"].is_unique
    assert any("(2)" in n for n in notes)
    replaced, _ = import_zones(_wgs84_file(tmp_path), "label", dest, replace=True)
    assert replaced.zones["name"].tolist() == ["Deansgate"]
    assert load_zones(dest).zones["name"].tolist() == ["Deansgate"]


def test_missing_name_field_lists_the_fields_found(tmp_path):
    with pytest.raises(ZoneError, match=r"no field 'NAME'\. Its fields are: ZONE_NAME, AREA_HA"):
        import_zones(_bng_file(tmp_path), "NAME", tmp_path / "zones")
    assert not (tmp_path / "zones").exists()


def test_file_without_a_crs_is_refused_with_a_request_for_one(tmp_path):
    gdf = gpd.GeoDataFrame({"n": ["a"]}, geometry=[_square(X0, Y0)])
    with warnings.catch_warnings():
        # geopandas warns that the file will have no CRS: that is the point of the test.
        warnings.simplefilter("ignore", UserWarning)
        gdf.to_file(tmp_path / "nocrs.shp")
    with pytest.raises(ZoneError, match="does not say which coordinate reference system"):
        import_zones(tmp_path / "nocrs.shp", "n", tmp_path / "zones")


def test_metres_in_a_geojson_without_crs_are_not_taken_for_degrees(tmp_path):
    feat = {"type": "Feature", "properties": {"n": "a"},
            "geometry": shapely.geometry.mapping(_square(X0, Y0))}
    path = tmp_path / "metres.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feat]}))
    with pytest.raises(ZoneError, match="look like metres"):
        import_zones(path, "n", tmp_path / "zones")


def test_points_are_skipped_with_a_note_and_bow_ties_repaired(tmp_path):
    bow_tie = shapely.Polygon([(X0, Y0), (X0 + 100, Y0 + 100), (X0 + 100, Y0), (X0, Y0 + 100)])
    assert not bow_tie.is_valid
    gdf = gpd.GeoDataFrame(
        {"name": ["Bow", "Pin", "Ok"]},
        geometry=[bow_tie, shapely.Point(X0, Y0), _square(X0 + 500, Y0)],
        crs="EPSG:27700",
    )
    gdf.to_file(tmp_path / "mixed.gpkg")
    zones, notes = import_zones(tmp_path / "mixed.gpkg", "name", tmp_path / "zones")
    assert zones.zones["name"].tolist() == ["Bow", "Ok"]
    assert zones.zones.geometry.is_valid.all()
    assert set(zones.zones.geom_type) <= {"Polygon", "MultiPolygon"}
    # The two triangles of the bow tie: half the square.
    assert_allclose(zones.zones_bng.geometry.iloc[0].area, 5_000.0, rtol=1e-6)
    assert any("repaired" in n for n in notes)
    assert any("1 feature(s) were skipped" in n for n in notes)


def test_numbered_zones_keep_whole_numbers_as_names(tmp_path):
    gdf = gpd.GeoDataFrame({"beat": [7.0, None]},
                           geometry=[_square(X0, Y0), _square(X0 + 500, Y0)], crs="EPSG:27700")
    gdf.to_file(tmp_path / "beats.gpkg")
    zones, _ = import_zones(tmp_path / "beats.gpkg", "beat", tmp_path / "zones")
    assert zones.zones["name"].tolist() == ["7", "Zone 2"]


def test_file_of_only_points_is_refused(tmp_path):
    gdf = gpd.GeoDataFrame({"name": ["Pin"]}, geometry=[shapely.Point(X0, Y0)], crs="EPSG:27700")
    gdf.to_file(tmp_path / "points.gpkg")
    with pytest.raises(ZoneError, match="holds no polygons"):
        import_zones(tmp_path / "points.gpkg", "name", tmp_path / "zones")


def test_unreadable_or_missing_file(tmp_path):
    with pytest.raises(ZoneError, match="does not exist"):
        import_zones(tmp_path / "nope.gpkg", "name", tmp_path / "zones")
    junk = tmp_path / "junk.geojson"
    junk.write_text("this is not json")
    with pytest.raises(ZoneError, match="could not be read as GeoJSON"):
        import_zones(junk, "name", tmp_path / "zones")


# ---------------------------------------------------------------------------------------------
# Edits survive a restart


def _drawn(x: float, y: float) -> dict:
    poly = gpd.GeoSeries([_square(x, y)], crs="EPSG:27700").to_crs("EPSG:4326").iloc[0]
    return shapely.geometry.mapping(poly)


def test_add_rename_delete_persist_across_a_restart(tmp_path):
    dest = tmp_path / "zones"
    assert load_zones(dest).zones.empty
    add_zone(dest, _drawn(X0, Y0), "Gay Village")
    add_zone(dest, _drawn(X0 + 500, Y0), "Gay Village", origin="suggested")
    restarted = load_zones(dest)
    assert restarted.zones["name"].tolist() == ["Gay Village", "Gay Village (2)"]
    assert restarted.zones["origin"].tolist() == ["drawn", "suggested"]
    first, second = restarted.zones["zone_id"].tolist()

    rename_zone(dest, second, "Printworks")
    assert load_zones(dest).names() == {first: "Gay Village", second: "Printworks"}

    delete_zone(dest, first)
    after = load_zones(dest)
    assert after.names() == {second: "Printworks"}
    # The remaining zone is still where it was drawn.
    assert after.zones_bng.geometry.iloc[0].hausdorff_distance(_square(X0 + 500, Y0)) < ROUNDTRIP_M
    # no temporary files are left; the deleted zone is kept for undo
    assert sorted(p.name for p in dest.iterdir()) == ["deleted.geojson", "zones.geojson"]


def test_a_deleted_zone_can_be_restored_with_its_id_last_deleted_first(tmp_path):
    dest = tmp_path / "zones"
    ids = [add_zone(dest, _drawn(X0 + 500 * k, Y0), name).zones["zone_id"].iloc[-1]
           for k, name in enumerate(["Village", "Printworks", "Deansgate"])]
    delete_zone(dest, ids[0])
    delete_zone(dest, ids[2])
    assert list(deleted_zones(dest).names().values()) == ["Village", "Deansgate"]
    zs, name = restore_deleted_zone(dest)
    assert name == "Deansgate" and zs.names()[ids[2]] == "Deansgate"
    restored = load_zones(dest).zones_bng.set_index(load_zones(dest).zones["zone_id"])
    assert restored.geometry[ids[2]].hausdorff_distance(_square(X0 + 1000, Y0)) < ROUNDTRIP_M
    # a zone named like the deleted one meanwhile: the restored one is numbered, not lost
    add_zone(dest, _drawn(X0 + 3000, Y0), "Village")
    _, name = restore_deleted_zone(dest)
    assert name == "Village (2)" and ids[0] in load_zones(dest).names()
    with pytest.raises(ZoneError, match="no deleted zone to restore"):
        restore_deleted_zone(dest)


def test_only_the_last_twenty_deletions_are_kept(tmp_path):
    dest = tmp_path / "zones"
    for k in range(DELETED_KEPT + 2):
        zid = add_zone(dest, _drawn(X0 + 200 * k, Y0), f"Z{k}").zones["zone_id"].iloc[-1]
        delete_zone(dest, zid)
    kept = list(deleted_zones(dest).names().values())
    assert kept == [f"Z{k}" for k in range(2, DELETED_KEPT + 2)]


def test_edits_refuse_unknown_ids_clashing_names_and_non_polygons(tmp_path):
    dest = tmp_path / "zones"
    zid = add_zone(dest, _drawn(X0, Y0), "A").zones["zone_id"].iloc[0]
    add_zone(dest, _drawn(X0 + 500, Y0), "B")
    with pytest.raises(ZoneError, match="no zone with id 'z-00000000'"):
        rename_zone(dest, "z-00000000", "C")
    with pytest.raises(ZoneError, match="no zone with id"):
        delete_zone(dest, "z-00000000")
    with pytest.raises(ZoneError, match="already called 'b'"):
        rename_zone(dest, zid, "b")
    with pytest.raises(ZoneError, match="cannot be blank"):
        rename_zone(dest, zid, "  ")
    with pytest.raises(ZoneError, match="not Point"):
        add_zone(dest, {"type": "Point", "coordinates": [-2.24, 53.47]}, "P")
    with pytest.raises(ZoneError, match="not longitude/latitude"):
        add_zone(dest, shapely.geometry.mapping(_square(X0, Y0)), "Metres")
    with pytest.raises(ZoneError, match="origin"):
        add_zone(dest, _drawn(X0, Y0), "X", origin="guessed")
    assert load_zones(dest).zones["name"].tolist() == ["A", "B"]


def test_drawn_feature_and_blank_name_are_accepted(tmp_path):
    feature = {"type": "Feature", "properties": {}, "geometry": _drawn(X0, Y0)}
    zones = add_zone(tmp_path / "zones", feature, "")
    assert zones.zones["name"].tolist() == ["Zone 1"]


def test_export_round_trips_through_import(tmp_path):
    dest = tmp_path / "zones"
    original, _ = import_zones(_bng_file(tmp_path), "ZONE_NAME", dest)
    text = zones_geojson_export(original)
    doc = json.loads(text)
    assert doc["type"] == "FeatureCollection" and len(doc["features"]) == 3
    assert doc["features"][0]["properties"]["name"] == "Village"
    exported = tmp_path / "download.geojson"
    exported.write_text(text)
    again, _ = import_zones(exported, "name", tmp_path / "other")
    assert again.zones["name"].tolist() == original.zones["name"].tolist()
    assert_geodataframe_equal(
        again.zones[["name", "geometry"]], original.zones[["name", "geometry"]],
        check_crs=True, check_less_precise=True,
    )


def test_saved_file_loads_identically(tmp_path):
    dest = tmp_path / "zones"
    zones, _ = import_zones(_bng_file(tmp_path), "ZONE_NAME", dest)
    save_zones(zones, tmp_path / "copy")
    assert_geodataframe_equal(load_zones(tmp_path / "copy").zones, zones.zones, check_crs=True)


def test_corrupt_zones_file_is_reported(tmp_path):
    dest = tmp_path / "zones"
    dest.mkdir()
    (dest / "zones.geojson").write_text("{ half a file")
    with pytest.raises(ZoneError, match="could not be read"):
        load_zones(dest)


# ---------------------------------------------------------------------------------------------
# assign_zones


def _zone_set(*geoms: shapely.Polygon) -> ZoneSet:
    n = len(geoms)
    gdf = gpd.GeoDataFrame(
        {"zone_id": [f"z-{i:08x}" for i in range(n)], "name": [f"Z{i}" for i in range(n)],
         "origin": ["drawn"] * n, "created_at": [""] * n, "notes": [""] * n},
        geometry=list(geoms), crs="EPSG:27700",
    ).to_crs("EPSG:4326")
    return ZoneSet(gdf)


@pytest.mark.parametrize(
    ("dx", "dy", "expected"),
    [
        (20, 50, 0),  # only in the first square
        (70, 50, 0),  # in the overlap: the first zone in order wins
        (150, 50, 1),  # only in the second
        (50, 250, 2),  # in the separate third square
        (300, 50, -1),  # in none
    ],
    ids=["first", "overlap-goes-to-first", "second", "third", "outside"],
)
def test_assign_zones_on_hand_made_squares(dx, dy, expected):
    zones = _zone_set(
        _square(X0, Y0), _square(X0 + 50, Y0), _square(X0, Y0 + 200)
    )
    got = assign_zones(np.array([X0 + dx]), np.array([Y0 + dy]), zones)
    assert got.dtype == np.int64
    assert got.tolist() == [expected]


def test_assign_zones_order_decides_overlaps_and_nan_is_none():
    a, b = _square(X0, Y0), _square(X0 + 50, Y0)
    x = np.array([X0 + 70, np.nan, X0 + 20])
    y = np.array([Y0 + 50, Y0 + 50, Y0 + 50])
    assert assign_zones(x, y, _zone_set(a, b)).tolist() == [0, -1, 0]
    assert assign_zones(x, y, _zone_set(b, a)).tolist() == [0, -1, 1]
    assert assign_zones(x, y, ZoneSet.empty()).tolist() == [-1, -1, -1]
    with pytest.raises(ValueError, match="differ in length"):
        assign_zones(x, y[:2], _zone_set(a))


# ---------------------------------------------------------------------------------------------
# Naming is linear and gives the same numbers as trying " (2)", " (3)"... afresh


def test_twenty_thousand_same_named_polygons_get_unique_numbered_names(tmp_path):
    from geo.zones import _Namer

    namer = _Namer(["Village"])
    names = [namer.unique("Village") for _ in range(20_000)]
    assert names == [f"Village ({k})" for k in range(2, 20_002)]


def test_same_named_features_in_one_file_are_numbered_in_file_order(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTSPOT_MAX_ZONES", "5000")
    n = 2_000
    features = [{"type": "Feature", "properties": {"name": "village" if i % 2 else "Village"},
                 "geometry": shapely.geometry.mapping(
                     shapely.box(-2.25 + i * 1e-4, 53.47, -2.2499 + i * 1e-4, 53.4701))}
                for i in range(n)]
    path = tmp_path / "same.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    dest = tmp_path / "zones"
    add_zone(dest, _drawn(X0, Y0), "Village (3)")
    zones, notes = import_zones(path, "name", dest)
    names = zones.zones["name"].tolist()
    assert len(set(n.casefold() for n in names)) == n + 1
    # 3 is taken by the drawn zone, so the numbers run 2, 4, 5, ... in file order.
    assert names[1:5] == ["Village", "village (2)", "Village (4)", "village (5)"]
    assert names[-1] == "village (2001)"
    assert any(f"{n - 1} zone name(s) were already in use" in note for note in notes)


def test_imported_names_lose_control_characters_and_are_cut_to_length(tmp_path):
    from geo.zones import MAX_NAME_CHARS

    gdf = gpd.GeoDataFrame({"name": ["Bar\nStreet\x1b[2J", "x" * 500]},
                           geometry=[_square(X0, Y0), _square(X0 + 500, Y0)], crs="EPSG:27700")
    gdf.to_file(tmp_path / "long.gpkg")
    zones, notes = import_zones(tmp_path / "long.gpkg", "name", tmp_path / "zones")
    first, second = zones.zones["name"].tolist()
    assert first == "Bar Street [2J"
    assert len(second) == MAX_NAME_CHARS and second.endswith("…")
    assert any("1 zone name(s) were longer than 120 characters" in n for n in notes)


# ---------------------------------------------------------------------------------------------
# Outlines and names sent by the browser are checked before anything is saved


def _ring(*points: tuple[float, float]) -> dict:
    return {"type": "Polygon", "coordinates": [[list(p) for p in points]]}


SQUARE = [(-2.25, 53.47), (-2.24, 53.47), (-2.24, 53.48), (-2.25, 53.48), (-2.25, 53.47)]


@pytest.mark.parametrize(
    "geometry, message",
    [
        (_ring((-2.25, 53.47), (float("nan"), 53.47), (-2.24, 53.48), (-2.25, 53.47)),
         "not a finite number"),
        (_ring((-2.25, 53.47), (float("inf"), 53.47), (-2.24, 53.48), (-2.25, 53.47)),
         "not a finite number"),
        (_ring((-2.25, 53.47), (-2.24, 95.0), (-2.24, 53.48), (-2.25, 53.47)),
         r"point 2 is \(-2.24, 95\)"),
        (_ring((-2.25, 53.47), (-2.24, 53.47)), "fewer than three points"),
        ({"type": "Polygon", "coordinates": [[["-2.25", "53.47"], [1, 2], [3, 4]]]},
         "not a pair of numbers"),
        ({"type": "Polygon", "coordinates": [[[True, False], [1, 2], [3, 4]]]},
         "not a pair of numbers"),
        ({"type": "Polygon", "coordinates": "POLYGON((0 0, 1 0, 1 1))"},
         "not a list of rings"),
        ({"type": "Polygon", "coordinates": []}, "outline is empty"),
        ({"type": "MultiPolygon", "coordinates": [[]]}, "not a list of rings"),
        ({"type": "Polygon", "coordinates": [[[0, 0, 0, 0], [1, 0], [1, 1]]]},
         "not a pair of numbers"),
        (_ring((-2.25, 53.47), (-2.24, 53.47), (-2.23, 53.47), (-2.25, 53.47)),
         "encloses no area"),
        ({"type": "Polygon", "coordinates": [SQUARE * 10_001]}, "more than 10,000 points"),
        ("not even a dict", "not nothing|not a"),
        ({"type": {"nested": "type"}}, "not nothing"),
    ],
    ids=["nan", "infinity", "latitude-95", "two-points", "strings", "booleans", "wkt-string",
         "empty", "empty-multipolygon", "four-numbers", "flat", "too-many-points",
         "not-a-dict", "odd-type"],
)
def test_client_outlines_are_checked_before_saving(tmp_path, geometry, message):
    dest = tmp_path / "zones"
    add_zone(dest, _drawn(X0, Y0), "Kept")
    with pytest.raises(ZoneError, match=message):
        add_zone(dest, geometry, "Sent by the browser")
    assert load_zones(dest).zones["name"].tolist() == ["Kept"]


def test_client_names_are_tidied_and_bounded(tmp_path):
    dest = tmp_path / "zones"
    zones = add_zone(dest, _ring(*SQUARE), "  Night\tsafe\nzone ")
    assert zones.zones["name"].tolist() == ["Night safe zone"]
    zones = add_zone(dest, _ring(*SQUARE), {"name": "a dict"})  # type: ignore[arg-type]
    assert zones.zones["name"].tolist()[-1] == "Zone 2"
    with pytest.raises(ZoneError, match="at most 120 characters; this one has 121"):
        add_zone(dest, _ring(*SQUARE), "x" * 121)
    zid = zones.zones["zone_id"].iloc[0]
    with pytest.raises(ZoneError, match="at most 120 characters"):
        rename_zone(dest, zid, "y" * 500)
    assert len(load_zones(dest).zones) == 2


def test_a_self_crossing_lasso_is_repaired_to_the_areas_it_encloses(tmp_path):
    from geo.zones import lasso_polygon

    bow_tie = lasso_polygon([[-2.25, 53.47], [-2.24, 53.48], [-2.24, 53.47], [-2.25, 53.48]])
    zones = add_zone(tmp_path / "zones", bow_tie, "Bow")
    geom = zones.zones.geometry.iloc[0]
    assert geom.is_valid and geom.area > 0


@pytest.mark.parametrize(
    "points, message",
    [(None, "Draw the zone first"), ([[0, 0], [1, 1]], "Draw the zone first"),
     ([[0, 0], [1, 1], {"x": 2}], "Point 3 of the drawn outline"),
     ([[0, 0], [1, "a"], [2, 2]], "Point 2 of the drawn outline"),
     ([[0, 0]] * 50_001, "50,001 points")],
    ids=["nothing", "two-points", "a-dict", "a-string", "too-many"],
)
def test_lasso_points_from_the_browser_are_checked(points, message):
    from geo.zones import lasso_polygon

    with pytest.raises(ZoneError, match=message):
        lasso_polygon(points)


def test_a_long_self_crossing_outline_is_refused_not_repaired_for_minutes(tmp_path):
    """Repairing a self-crossing outline costs the square of its points: past the limit the
    user is told to repair it in a GIS, at once."""
    import json

    import numpy as np

    from geo.polygons import MAX_REPAIR_VERTICES
    from geo.zones import ZoneError, import_zones

    n = MAX_REPAIR_VERTICES + 400
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    x, y = -2.7 + 0.01 * np.cos(t), 53.76 + 0.01 * np.sin(t)
    x[1::4], x[2::4] = x[2::4].copy(), x[1::4].copy()  # swap neighbours: it crosses itself
    y[1::4], y[2::4] = y[2::4].copy(), y[1::4].copy()
    ring = np.column_stack([x, y]).tolist()
    feature = {"type": "Feature", "properties": {"name": "Zigzag"},
               "geometry": {"type": "Polygon", "coordinates": [ring + ring[:1]]}}
    path = tmp_path / "zigzag.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    with pytest.raises(ZoneError, match="crosses itself .* too many to repair here"):
        import_zones(path, "name", tmp_path / "zones")


def test_the_number_of_zones_is_bounded_in_total(tmp_path, monkeypatch):
    """The cap is on all zones kept, not per file: every import and accept adds to it."""
    import shapely

    from geo.zones import ZoneError, add_zone, load_zones

    monkeypatch.setenv("HOTSPOT_MAX_ZONES", "3")
    for i in range(3):
        box = shapely.geometry.mapping(shapely.box(-2.70 + i * 0.01, 53.76, -2.695 + i * 0.01,
                                                   53.765))
        add_zone(tmp_path, box, f"Zone {i}")
    with pytest.raises(ZoneError, match=r"the limit is 3 \(setting HOTSPOT_MAX_ZONES\)"):
        add_zone(tmp_path, shapely.geometry.mapping(shapely.box(-2.6, 53.7, -2.59, 53.71)),
                 "One too many")
    assert len(load_zones(tmp_path).zones) == 3
