"""Crime-type groups: named sets of categories, one of them chosen as the default selection.

Partnerships define serious violence differently, so the categories a page starts with are a
setting, not a guess. A group is a name and a list of categories; the groups and the default
live in the data directory (``groups/groups.json``) and are managed with ``hotspot groups``.

Out of the box there is one group, ``violence``: police.uk's "Violence and sexual offences",
"Robbery" and "Possession of weapons". Until a default is chosen, the rule is stated and
simple: on data that hold police.uk's "Violence and sexual offences" category the default is
``violence``; on any other data it is all categories. ``all`` always means every category in
the data, including ones no group mentions, so a new category never vanishes from it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from geo.atomic import write_text_atomic
from geo.query import FilterError

__all__ = [
    "ALL",
    "CUSTOM",
    "BUILTIN_GROUPS",
    "CategoryGroups",
    "GroupChoice",
    "GroupError",
    "load_groups",
    "remove_group",
    "resolve_group",
    "set_default",
    "set_group",
]

#: The group name that means every category in the data.
ALL = "all"
#: The name pages give a selection of categories ticked one by one (never a stored group).
CUSTOM = "custom"
#: Groups that exist until the user changes them.
BUILTIN_GROUPS: dict[str, tuple[str, ...]] = {
    "violence": ("Violence and sexual offences", "Robbery", "Possession of weapons"),
}
#: police.uk's own name for its violence category: data holding it are police.uk data, on
#: which the built-in default is the ``violence`` group.
POLICE_UK_VIOLENCE = "Violence and sexual offences"
GROUPS_FILE = "groups.json"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class GroupError(ValueError):
    """A group cannot be defined, removed or chosen; the message says why."""


def _key(category: str) -> str:
    return " ".join(str(category).split()).casefold()


@dataclass(frozen=True)
class CategoryGroups:
    """The crime-type groups in use and the default choice.

    Attributes
    ----------
    groups : dict
        ``{name: categories}``; names are lower case.
    default : str or None
        The chosen default group (or ``"all"``); None when none was chosen, so the built-in
        rule applies (see the module docstring).

    Examples
    --------
    >>> g = CategoryGroups(dict(BUILTIN_GROUPS), None)
    >>> g.default_for(["Burglary", "Violence and sexual offences"])
    'violence'
    >>> g.default_for(["Violence with injury", "Robbery"])
    'all'
    """

    groups: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(BUILTIN_GROUPS))
    default: str | None = None

    def default_for(self, data_categories: Sequence[str]) -> str:
        """Return the group a page starts with on data holding ``data_categories``."""
        if self.default is not None and (self.default == ALL or self.default in self.groups):
            return self.default
        have = {_key(c) for c in data_categories}
        if "violence" in self.groups and _key(POLICE_UK_VIOLENCE) in have:
            return "violence"
        return ALL

    def rule(self) -> str:
        """Say in one sentence how the default is decided."""
        if self.default == ALL:
            return "The default is all categories (chosen with 'hotspot groups default')."
        if self.default is not None and self.default in self.groups:
            return (f"The default is the group '{self.default}' (chosen with 'hotspot groups "
                    "default').")
        return ("No default has been chosen: police.uk data start with the group 'violence', "
                "other data with all categories.")


@dataclass(frozen=True)
class GroupChoice:
    """The group a request or page uses, and what it selects in these data.

    Attributes
    ----------
    name : str or None
        The group's name, ``"all"``, or None when categories were chosen one by one.
    categories : tuple of str or None
        The data's own spelling of the selected categories; None for every category.
    missing : tuple of str
        Categories of the group that these data do not hold.
    left_out : tuple of str
        Categories in the data that the selection leaves out.
    is_default : bool
        True when no group or categories were asked for, so the default applied.
    """

    name: str | None
    categories: tuple[str, ...] | None
    missing: tuple[str, ...] = ()
    left_out: tuple[str, ...] = ()
    is_default: bool = False

    def describe(self) -> str:
        """Say which group is in use and what it leaves out, for the page.

        Examples
        --------
        >>> GroupChoice("violence", ("Robbery",), (), ("Burglary",), True).describe()
        "Crime-type group 'violence' (the default): Robbery. Left out: Burglary."
        >>> GroupChoice("all", None).describe()
        'All categories.'
        """
        if self.categories is None:
            return "All categories" + (" (the default)." if self.is_default else ".")
        if self.name is None:
            head = "Categories chosen one by one: "
        else:
            head = f"Crime-type group '{self.name}'" + (
                " (the default)" if self.is_default else "") + ": "
        text = head + ", ".join(self.categories) + "."
        if self.left_out:
            text += " Left out: " + ", ".join(self.left_out) + "."
        if self.missing:
            text += " Not in these data: " + ", ".join(self.missing) + "."
        return text

    def as_json(self) -> dict[str, Any]:
        """Return the choice for an API response."""
        return {"name": self.name, "categories": None if self.categories is None else list(
            self.categories), "left_out": list(self.left_out), "missing": list(self.missing),
            "is_default": self.is_default}


def _choose(groups: CategoryGroups, name: str, data_categories: Sequence[str],
            is_default: bool) -> GroupChoice:
    if name == ALL:
        return GroupChoice(ALL, None, is_default=is_default)
    wanted = groups.groups[name]
    by_key = {_key(c): c for c in data_categories}
    chosen = tuple(dict.fromkeys(by_key[_key(c)] for c in wanted if _key(c) in by_key))
    missing = tuple(c for c in wanted if _key(c) not in by_key)
    left_out = tuple(c for c in data_categories if c not in chosen)
    return GroupChoice(name, chosen, missing, left_out, is_default)


def resolve_group(
    params: Mapping[str, Any], groups: CategoryGroups, data_categories: Sequence[str]
) -> tuple[dict[str, Any], GroupChoice]:
    """Turn a ``group`` parameter (or the default) into the ``categories`` filter.

    Parameters
    ----------
    params : mapping
        Query parameters. ``group=NAME`` selects a group's categories, ``group=all`` every
        category; ``categories=...`` chooses them one by one. With neither, the default group
        applies. Giving both is an error.
    groups : CategoryGroups
        The groups in use.
    data_categories : sequence of str
        The categories the data hold (``IncidentFrame.categories``).

    Returns
    -------
    params : dict
        ``params`` without ``group``, with ``categories`` set when the group restricts them.
    choice : GroupChoice
        What was selected, for the page or the response to say.

    Raises
    ------
    geo.query.FilterError
        Naming ``group`` for an unknown group, both ``group`` and ``categories``, or a group
        none of whose categories are in the data.

    Examples
    --------
    >>> g = CategoryGroups(dict(BUILTIN_GROUPS), None)
    >>> cats = ["Anti-social behaviour", "Robbery", "Violence and sexual offences"]
    >>> out, choice = resolve_group({"la": "E1"}, g, cats)
    >>> out["categories"], choice.name, choice.left_out
    ('Violence and sexual offences,Robbery', 'violence', ('Anti-social behaviour',))
    >>> resolve_group({"group": "all"}, g, cats)[0]
    {}
    """
    out = {k: v for k, v in params.items() if k != "group"}
    name = str(params.get("group") or "").strip().lower()
    # "categories=" (empty) means none chosen; a value of only spaces or commas is passed on
    # for the filter parser to refuse by name
    has_categories = params.get("categories") not in (None, "")
    if name and has_categories:
        raise FilterError("group", "give either a group or categories, not both")
    if has_categories:
        chosen = tuple(c.strip() for c in str(params["categories"]).split(",") if c.strip())
        keys = {_key(c) for c in chosen}
        left_out = tuple(c for c in data_categories if _key(c) not in keys)
        return out, GroupChoice(None, chosen, (), left_out, False)
    out.pop("categories", None)
    is_default = not name
    if is_default:
        name = groups.default_for(data_categories)
    if name != ALL and name not in groups.groups:
        known = ", ".join([ALL, *sorted(groups.groups)])
        raise FilterError("group", f"'{name}' is not a crime-type group; known: {known}")
    choice = _choose(groups, name, data_categories, is_default)
    if choice.categories is not None:
        if not choice.categories:
            raise FilterError(
                "group", f"none of the group '{name}' categories "
                f"({', '.join(groups.groups[name])}) is in the data; use group=all or "
                "define the group with the data's categories ('hotspot groups set')")
        out["categories"] = ",".join(choice.categories)
    return out, choice


# --------------------------------------------------------------------------------------------
# Storage


def load_groups(folder: Path | None) -> CategoryGroups:
    """Load the groups saved in a data directory's ``groups/`` folder (built-ins if none).

    Raises
    ------
    GroupError
        If the saved file exists but cannot be read.

    Examples
    --------
    >>> load_groups(None).groups["violence"][0]
    'Violence and sexual offences'
    """
    if folder is None or not (Path(folder) / GROUPS_FILE).is_file():
        return CategoryGroups(dict(BUILTIN_GROUPS), None)
    path = Path(folder) / GROUPS_FILE
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        groups = {str(k): tuple(str(c) for c in v) for k, v in raw["groups"].items()}
        default = raw.get("default")
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise GroupError(f"The crime-type groups file {path} cannot be read ({exc}); "
                         "fix or delete it.") from exc
    return CategoryGroups(groups, None if default is None else str(default))


def _save(folder: Path, groups: CategoryGroups) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    body = {"groups": {k: list(v) for k, v in sorted(groups.groups.items())},
            "default": groups.default}
    write_text_atomic(folder / GROUPS_FILE, json.dumps(body, indent=2) + "\n")


def _check_name(name: str) -> str:
    clean = name.strip().lower()
    if clean == ALL:
        raise GroupError("'all' is reserved: it means every category in the data.")
    if clean == CUSTOM:
        raise GroupError("'custom' is reserved: pages use it for categories chosen one by one.")
    if not _NAME.match(clean):
        raise GroupError(f"'{name}' cannot be a group name: use up to 40 letters, digits, '-' "
                         "or '_', starting with a letter or digit (e.g. serious-violence).")
    return clean


def set_group(folder: Path, name: str, categories: Sequence[str]) -> CategoryGroups:
    """Define (or redefine) a group and save it.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> set_group(tmp, "Knife", ["Possession of weapons", "Robbery"]).groups["knife"]
    ('Possession of weapons', 'Robbery')
    """
    clean = _check_name(name)
    cats = tuple(dict.fromkeys(" ".join(str(c).split()) for c in categories if str(c).strip()))
    if not cats:
        raise GroupError(f"The group '{clean}' needs at least one category.")
    bad = [c for c in cats if "," in c]
    if bad:
        raise GroupError(f"The category '{bad[0]}' has a comma, which separates categories in "
                         "links; give each category as its own argument.")
    current = load_groups(folder)
    updated = CategoryGroups({**current.groups, clean: cats}, current.default)
    _save(Path(folder), updated)
    return updated


def remove_group(folder: Path, name: str) -> CategoryGroups:
    """Remove a group; if it was the default, the built-in rule applies again."""
    clean = name.strip().lower()
    current = load_groups(folder)
    if clean not in current.groups:
        raise GroupError(f"There is no group '{name}'. Groups: "
                         f"{', '.join(sorted(current.groups)) or '(none)'}.")
    remaining = {k: v for k, v in current.groups.items() if k != clean}
    default = None if current.default == clean else current.default
    updated = CategoryGroups(remaining, default)
    _save(Path(folder), updated)
    return updated


def set_default(folder: Path, name: str | None) -> CategoryGroups:
    """Choose the default group (``"all"`` for every category, None for the built-in rule)."""
    current = load_groups(folder)
    clean = None if name is None else name.strip().lower()
    if clean is not None and clean != ALL and clean not in current.groups:
        raise GroupError(f"There is no group '{name}'. Groups: "
                         f"{', '.join([ALL, *sorted(current.groups)])}.")
    updated = CategoryGroups(dict(current.groups), clean)
    _save(Path(folder), updated)
    return updated
