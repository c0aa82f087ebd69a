"""Names for places, worked by hand: ties, generic points, two streets, and every fallback."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.boundaries import Boundaries, load_boundaries
from geo.gazetteer import Gazetteer
from geo.names import NAME_SOURCES, NameRule, RowText, clean_location, name_places, place_names

#: Blackpool town centre, British National Grid metres (EPSG:27700).
BLACKPOOL = (330_950.0, 436_350.0)


def _codes(rows: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(group, location text) pairs to group and code arrays, labels in order of appearance."""
    labels = list(dict.fromkeys(text for _, text in rows))
    at = {text: i for i, text in enumerate(labels)}
    group = np.array([g for g, _ in rows], dtype="int64")
    codes = np.array([at[text] for _, text in rows], dtype="int32")
    return group, codes, labels


def _names(rows: list[tuple[int, str]], n_groups: int, **kw) -> list[str]:
    group, codes, labels = _codes(rows)
    return place_names(codes, labels, group, n_groups, **kw)["place_name"].tolist()


@pytest.mark.parametrize(("text", "name"), [
    ("On or near Talbot Road", "Talbot Road"),
    ("on or near  Talbot   Road ", "Talbot Road"),
    ("On or near St Mary'S Road", "St Mary's Road"),
    ("On or near ", ""),
    ("No Location", ""),
    ("12 Acacia Avenue", "Acacia Avenue"),
    ("Flat 3, 12a-14 Acacia Avenue, Preston, PR1 2AB", "Acacia Avenue"),
    ("1st Avenue", "1st Avenue"),
    ("M53", "M53"),
    (None, ""),
], ids=["police.uk", "spacing", "apostrophe", "blank after prefix", "no location",
        "house number", "flat, number range, town and postcode", "ordinal street", "motorway",
        "missing"])
def test_clean_location(text, name):
    assert clean_location(text) == name


def test_most_frequent_street_names_the_place_and_ties_go_alphabetically():
    rows = [(0, "On or near Zeal Row")] * 3 + [(0, "On or near Abingdon Street")] * 3
    # a tie: the alphabetically first leads whatever order the codes came in
    assert _names(rows, 1) == ["Abingdon Street / Zeal Row"]
    assert _codes(list(reversed(rows)))[2][0] == "On or near Abingdon Street"
    assert _names(list(reversed(rows)), 1) == ["Abingdon Street / Zeal Row"]
    # a tie for second place: the alphabetically first of the two joins
    rows = [(0, "On or near Lord Street")] * 4 + [(0, "On or near Whitechapel")] * 2 + [
        (0, "On or near Church Street")] * 2
    assert _names(rows, 1) == ["Lord Street / Church Street"]


def test_on_or_near_and_bare_texts_of_one_street_count_together():
    rows = [(0, "On or near Talbot Road")] * 2 + [(0, "Talbot Road")] * 2 + [
        (0, "On or near Topping Street")] * 3
    names = place_names(*_codes(rows)[1:], group=_codes(rows)[0], n_groups=1)
    assert names.loc[0, "place_name"] == "Talbot Road / Topping Street"
    assert names.loc[0, "support"] == 4


@pytest.mark.parametrize(("second", "joined"), [(5, True), (4, False)],
                         ids=["second holds a quarter", "second holds less"])
def test_second_street_joins_only_with_its_share_of_street_incidents(second, joined):
    # 15 on Talbot Road; the supermarket's 30 do not count towards the share
    rows = ([(0, "On or near Talbot Road")] * 15 + [(0, "On or near Topping Street")] * second
            + [(0, "On or near Supermarket")] * 30)
    expected = "Talbot Road / Topping Street" if joined else "Talbot Road"
    assert _names(rows, 1) == [expected]  # 5 of 20 is a quarter; 4 of 19 is not


def test_generic_points_rank_below_streets_however_frequent():
    rows = [(0, "On or near Supermarket")] * 40 + [(0, "On or near Parking Area")] * 20 + [
        (0, "On or near Church Street")] * 2
    group, codes, labels = _codes(rows)
    names = place_names(codes, labels, group, 1)
    assert names.loc[0, "place_name"] == "Church Street"
    assert not names.loc[0, "generic"]
    assert names.loc[0, "named"] == 62


def test_one_incident_text_is_never_printed():
    rows = [(0, "12 Acacia Avenue")] + [(1, "On or near Lord Street")] * 2
    assert _names(rows, 2) == ["", "Lord Street"]
    assert _names(rows, 2, rule=NameRule(min_support=1)) == ["Acacia Avenue", "Lord Street"]


def test_rows_outside_every_group_and_without_text_are_ignored():
    group = np.array([0, 0, -1, -1, 0, 7])
    codes = np.array([0, 0, 1, 1, -1, 1])
    names = place_names(codes, ["Lord Street", "Bold Street"], group, 2)
    assert names["place_name"].tolist() == ["Lord Street", ""]
    assert names["named"].tolist() == [2, 0]


def _square_wards() -> Boundaries:
    """One ward: a 10 km square centred on Blackpool town centre."""
    x0, y0 = BLACKPOOL[0] - 5000, BLACKPOOL[1] - 5000
    areas = gpd.GeoDataFrame(
        {"code": ["W1"], "name": ["Talbot"], "population": [np.nan]},
        geometry=[shapely.box(x0, y0, x0 + 10_000, y0 + 10_000)], crs="EPSG:27700")
    return Boundaries(areas.to_crs("EPSG:4326"), source="test wards", level="ward")


def _gazetteer() -> Gazetteer:
    e, n = BLACKPOOL
    return Gazetteer(
        pd.DataFrame({"name": ["Talbot Road", "Topping Street"], "locality": ["", ""],
                      "easting": [e - 60, e + 400], "northing": [n + 20, n]}),
        pd.DataFrame({"name": ["Blackpool"], "easting": [e + 500], "northing": [n - 300]}))


def test_every_fallback_in_order():
    e, n = BLACKPOOL
    preston = (353_750.0, 429_410.0)
    # place 0: two incidents on one street; 1: one incident's text only (too few), 22 m from
    # Talbot Road; 2: no text, in the ward, more than 3 km from any gazetteer name; 3:
    # outside the ward, with an LSOA; 4: no LSOA, its incidents placed in Blackpool (its
    # centre, in Preston, does not count); 5: no incident, its centre in Preston; 6: in the
    # sea; 7: no centre at all
    text = RowText(
        location=np.array([0, 0, 1, -1, -1, -1]),
        locations=["On or near Abingdon Street", "On or near Cedar Square"],
        lsoa=np.array([-1, -1, -1, -1, 0, -1]), lsoas=["Blackpool 010E"],
        area=np.array([0, 0, 0, 0, 0, 0]), areas=["E06000009"])
    group = np.array([0, 0, 1, 2, 3, 4])
    centre_e = np.array([e, e - 50, e + 4000, preston[0], preston[0], preston[0], 100.0,
                         np.nan])
    centre_n = np.array([n, n, n + 4000, preston[1], preston[1], preston[1], 100.0, np.nan])
    names = name_places(group, 8, centre_e, centre_n, text, gazetteer=_gazetteer(),
                        wards=_square_wards(), authorities=load_boundaries(None))
    assert names["name_source"].tolist() == [
        "incident locations", "gazetteer", "ward", "lsoa", "authority", "authority",
        "coordinates", "coordinates"]
    assert names["place_name"].tolist()[:6] == [
        "Abingdon Street", "Talbot Road, Blackpool", "Talbot", "Blackpool 010E", "Blackpool",
        "Preston"]
    assert names.loc[6, "place_name"].startswith("near 49.")  # off the Isles of Scilly
    assert names.loc[7, "place_name"] == "a place with no name"
    assert set(names["name_source"]) <= set(NAME_SOURCES)


def test_ward_comes_before_lsoa_and_lsoa_before_authority():
    e, n = BLACKPOOL
    text = RowText(location=np.array([-1, -1]), locations=[],
                   lsoa=np.array([0, 0]), lsoas=["Blackpool 010E"],
                   area=np.array([0, 0]), areas=["E06000009"])
    inside = name_places(np.array([0, 0]), 1, np.array([e]), np.array([n]), text,
                         wards=_square_wards())
    assert inside.values.tolist() == [["Talbot", "ward"]]
    no_ward = name_places(np.array([0, 0]), 1, np.array([e]), np.array([n]), text)
    assert no_ward.values.tolist() == [["Blackpool 010E", "lsoa"]]


def test_a_place_of_generic_points_only_is_said_with_a_street_or_an_area():
    e, n = BLACKPOOL
    text = RowText(location=np.array([0, 0, 0]), locations=["On or near Supermarket"],
                   lsoa=np.array([0, 0, 0]), lsoas=["Blackpool 010E"])
    group = np.array([0, 0, 0])
    with_gaz = name_places(group, 1, np.array([e]), np.array([n]), text,
                           gazetteer=_gazetteer())
    assert with_gaz.values.tolist() == [["Supermarket near Talbot Road", "incident locations"]]
    without = name_places(group, 1, np.array([e]), np.array([n]), text)
    assert without.values.tolist() == [["Supermarket, Blackpool 010E", "incident locations"]]


def test_centres_must_match_the_places():
    with pytest.raises(ValueError, match="one centre per place"):
        name_places(np.array([0]), 2, np.array([1.0]), np.array([1.0]),
                    RowText(location=np.array([-1]), locations=[]))


@pytest.fixture
def preston_layer(tmp_path):
    """Nine incidents at one point in Preston: domestic ones are the most frequent text."""
    from geo.query import QueryLayer
    from geo.schema import empty_rejects
    from geo.store import Store
    from tests.conftest import PRESTON_BNG, stored_table

    texts = (["On or near Fishergate"] * 4 + ["On or near Church Street"] * 3
             + ["12 Acacia Avenue", None])
    domestic = [True] * 4 + [False] * 3 + [False, None]
    n = len(texts)
    table = stored_table(np.full(n, PRESTON_BNG[0]), np.full(n, PRESTON_BNG[1]),
                         ["2024-06-07 23:00"] * n, domestic=domestic, location=texts,
                         lsoa_name=["Preston 014B"] * n)
    store = Store(tmp_path / "store")
    store.commit(table, source_file="t", rejects=empty_rejects(), summary={}, kind="user")
    return QueryLayer(store, load_boundaries(None), principal_required=True)


def _one_place(layer) -> list[list[str]]:
    from tests.conftest import PRESTON_BNG

    fr = layer.frame()
    rows = np.arange(fr.n)
    return layer.place_names(rows, np.zeros(fr.n, dtype="int64"), 1,
                             np.array([PRESTON_BNG[0]]), np.array([PRESTON_BNG[1]])
                             ).values.tolist()


def test_domestic_incidents_never_name_a_place_whoever_asks(preston_layer):
    from geo.access import AccessDenied, Principal, load_roles

    roles = load_roles()
    with preston_layer.pinned(Principal("a", roles["analyst"])):
        assert preston_layer.frame().n == 9  # the analyst reads the domestic rows...
        assert _one_place(preston_layer) == [["Church Street", "incident locations"]]
    with preston_layer.pinned(Principal("o", roles["officer"])):
        fr = preston_layer.frame()
        assert fr.n == 5
        # ...an officer's frame does not even hold their text
        assert sorted(fr.locations) == ["12 Acacia Avenue", "On or near Church Street"]
        assert _one_place(preston_layer) == [["Church Street", "incident locations"]]
    with preston_layer.pinned(Principal("p", roles["partner"])), pytest.raises(AccessDenied):
        _one_place(preston_layer)


def test_a_place_named_only_by_generic_points_takes_the_nearest_street_of_the_incidents():
    e, n = BLACKPOOL
    from geo.names import incident_streets

    # the town's incidents: Talbot Road's map point 40 m away, a single-incident text nearer
    nearby = incident_streets(np.array([e + 40, e + 40, e + 5, e - 900, e - 900]),
                              np.array([n, n, n, n, n]), np.array([0, 0, 1, 2, 2]),
                              ["On or near Talbot Road", "On or near Cedar Square",
                               "On or near Nightclub"])
    assert nearby.streets["name"].tolist() == ["Talbot Road"]
    text = RowText(location=np.array([0, 0]), locations=["On or near Nightclub"])
    names = name_places(np.array([0, 0]), 1, np.array([e]), np.array([n]), text,
                        nearby=nearby)
    assert names.values.tolist() == [["Nightclub near Talbot Road", "incident locations"]]
    # a place without any text of its own, no gazetteer: "near" the incidents' street
    bare = name_places(np.array([0]), 1, np.array([e]), np.array([n]),
                       RowText(location=np.array([-1]), locations=[]), nearby=nearby)
    assert bare.values.tolist() == [["near Talbot Road", "incident locations"]]


def test_places_sharing_a_name_are_told_apart_by_where_they_lie():
    rows = [(0, "On or near Lord Street")] * 3 + [(1, "On or near Lord Street")] * 2 + [
        (2, "On or near Bold Street")] * 2
    group, codes, labels = _codes(rows)
    names = name_places(group, 3, np.array([334_400.0, 334_700.0, 334_900.0]),
                        np.array([390_300.0, 390_350.0, 390_000.0]),
                        RowText(location=codes, locations=labels))
    assert names["place_name"].tolist() == ["Lord Street (west)", "Lord Street (east)",
                                            "Bold Street"]


def test_places_sharing_a_street_name_in_two_towns_are_told_apart_by_town():
    rows = [(0, "On or near Church Street")] * 3 + [(1, "On or near Church Street")] * 2
    group, codes, labels = _codes(rows)
    names = name_places(group, 2, np.array([330_950.0, 353_750.0]),
                        np.array([436_350.0, 429_410.0]),
                        RowText(location=codes, locations=labels,
                                area=np.array([0, 0, 0, 1, 1]),
                                areas=["E06000009", "E07000123"]),
                        authorities=load_boundaries(None))
    assert names["place_name"].tolist() == ["Church Street, Blackpool", "Church Street, Preston"]


def test_bare_street_words_name_nothing():
    assert _names([(0, "On or near Street")] * 3 + [(0, "On or near Narborough Road")] * 3,
                  1) == ["Narborough Road"]


def test_streets_from_incidents_do_not_depend_on_their_order_or_grouping():
    """Two texts at one map point tie for nearest; the one chosen must not depend on the
    order the incidents were read in, nor on whether an engine sent them grouped."""
    from geo.names import incident_streets

    east = np.array([100.0, 100.0, 100.0, 100.0, 300.0, 300.0])
    north = np.zeros(6)
    codes = np.array([0, 0, 1, 1, 2, 2])
    labels = ["On or near Union Street", "On or near Bold Street", "On or near Hope Street"]
    one = incident_streets(east, north, codes, labels)
    order = np.array([3, 5, 1, 4, 0, 2])
    relabel = np.array([2, 0, 1])  # the same texts, coded in another order
    two = incident_streets(east[order], north[order], relabel[codes[order]],
                           [labels[1], labels[2], labels[0]])
    grouped = incident_streets(np.array([100.0, 100.0, 300.0]), np.zeros(3),
                               np.array([0, 1, 2]), labels, counts=np.array([2, 2, 2]))
    for g in (two, grouped):
        assert g.streets.equals(one.streets)
        assert list(g.nearest(np.array([100.0]), np.array([0.0]))[0]) == \
            list(one.nearest(np.array([100.0]), np.array([0.0]))[0])
    assert list(one.streets["name"]) == ["Bold Street", "Hope Street", "Union Street"]
