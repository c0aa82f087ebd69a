"""Crime-type groups: the default selection, expansion to categories, and storage."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard.params import parse_filters
from geo.groups import (
    ALL,
    BUILTIN_GROUPS,
    CategoryGroups,
    GroupError,
    load_groups,
    remove_group,
    resolve_group,
    set_default,
    set_group,
)
from geo.query import FilterError

#: The 14 crime types police.uk publishes in its street-level files.
POLICE_UK = [
    "Anti-social behaviour", "Bicycle theft", "Burglary", "Criminal damage and arson",
    "Drugs", "Other crime", "Other theft", "Possession of weapons", "Public order",
    "Robbery", "Shoplifting", "Theft from the person", "Vehicle crime",
    "Violence and sexual offences",
]
SAMPLE = ["Violence with injury", "Violence without injury", "Robbery",
          "Possession of weapons", "Public order", "Sexual offences"]


def test_police_uk_data_default_to_the_violence_group_not_all_fourteen_types():
    params, choice = resolve_group({}, load_groups(None), POLICE_UK)
    assert choice.name == "violence" and choice.is_default
    assert params == {"categories": "Violence and sexual offences,Robbery,"
                                     "Possession of weapons"}
    assert set(choice.left_out) == set(POLICE_UK) - set(BUILTIN_GROUPS["violence"])
    assert "Shoplifting" in choice.left_out and "Anti-social behaviour" in choice.left_out
    assert parse_filters(params).categories == BUILTIN_GROUPS["violence"]


def test_other_data_default_to_all_categories():
    params, choice = resolve_group({"la": "E1"}, load_groups(None), SAMPLE)
    assert params == {"la": "E1"} and choice.name == ALL and choice.categories is None
    assert choice.describe() == "All categories (the default)."


def test_all_keeps_a_category_no_group_mentions():
    data = [*POLICE_UK, "Knife crime (local code)"]
    params, choice = resolve_group({"group": "all"}, load_groups(None), data)
    assert "categories" not in params and choice.categories is None
    # and the default group says what it leaves out, the new category included
    _, default = resolve_group({}, load_groups(None), data)
    assert "Knife crime (local code)" in default.left_out
    assert "Left out: " in default.describe() and "Knife crime (local code)" in (
        default.describe())


def test_categories_chosen_one_by_one_win_and_both_is_an_error():
    params, choice = resolve_group({"categories": "Robbery"}, load_groups(None), POLICE_UK)
    assert params == {"categories": "Robbery"} and choice.name is None
    with pytest.raises(FilterError) as info:
        resolve_group({"categories": "Robbery", "group": "violence"}, load_groups(None),
                      POLICE_UK)
    assert info.value.param == "group"


@pytest.mark.parametrize(
    ("groups", "params", "message"),
    [(CategoryGroups(dict(BUILTIN_GROUPS), None), {"group": "knife"},
      "'knife' is not a crime-type group; known: all, violence"),
     (CategoryGroups({"ed": ("Assault",)}, None), {"group": "ed"},
      "none of the group 'ed' categories (Assault) is in the data")],
    ids=["unknown", "none-in-data"],
)
def test_bad_group_names_the_parameter(groups, params, message):
    with pytest.raises(FilterError, match=re.escape(message)) as info:
        resolve_group(params, groups, POLICE_UK)
    assert info.value.param == "group"


def test_group_matches_the_datas_spelling_and_lists_what_it_lacks():
    groups = CategoryGroups({"v": ("violence AND sexual  offences", "Knife crime")}, "v")
    params, choice = resolve_group({}, groups, POLICE_UK)
    assert params["categories"] == "Violence and sexual offences"
    assert choice.missing == ("Knife crime",) and choice.is_default


def test_groups_are_saved_and_the_default_chosen(tmp_path: Path):
    folder = tmp_path / "groups"
    set_group(folder, "Knife", ["Possession of weapons", " Robbery "])
    set_default(folder, "knife")
    loaded = load_groups(folder)
    assert loaded.groups["knife"] == ("Possession of weapons", "Robbery")
    assert loaded.default == "knife" and "violence" in loaded.groups
    # a chosen default applies to any data, police.uk or not
    _, choice = resolve_group({}, loaded, SAMPLE)
    assert choice.name == "knife" and choice.categories == ("Possession of weapons", "Robbery")
    set_default(folder, ALL)
    assert resolve_group({}, load_groups(folder), POLICE_UK)[1].categories is None
    set_default(folder, "knife")
    remove_group(folder, "knife")  # removing the default returns to the built-in rule
    assert load_groups(folder).default is None
    assert resolve_group({}, load_groups(folder), POLICE_UK)[1].name == "violence"


@pytest.mark.parametrize(
    ("call", "message"),
    [(lambda f: set_group(f, "all", ["Robbery"]), "'all' is reserved"),
     (lambda f: set_group(f, "two words", ["Robbery"]), "cannot be a group name"),
     (lambda f: set_group(f, "x", [" "]), "needs at least one category"),
     (lambda f: set_group(f, "x", ["a,b"]), "has a comma"),
     (lambda f: remove_group(f, "nope"), "There is no group 'nope'"),
     (lambda f: set_default(f, "nope"), "There is no group 'nope'")],
    ids=["reserved", "bad-name", "empty", "comma", "remove-unknown", "default-unknown"],
)
def test_group_mistakes_are_explained(tmp_path: Path, call, message):
    with pytest.raises(GroupError, match=message):
        call(tmp_path / "groups")


def test_a_damaged_groups_file_is_reported(tmp_path: Path):
    (tmp_path / "groups.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(GroupError, match="cannot be read"):
        load_groups(tmp_path)


def test_the_pages_custom_selection_name_cannot_be_a_group(tmp_path):
    from geo.groups import GroupError, set_group

    with pytest.raises(GroupError, match="'custom' is reserved"):
        set_group(tmp_path, "Custom", ["Robbery"])
