"""Human names for places: ranked cells, clusters, zones and the spots inside them.

A sergeant briefs with street names ("Talbot Road / Topping Street"), not H3 ids. Each place
(a *group* of incidents: a cell, a cluster, a zone) is named from, in order:

1. **Incident locations.** The place's most frequent location texts, as the incident rows
   word them (police.uk: "On or near Talbot Road"; other sources: a mapped location column).
   "On or near " and house numbers are dropped. police.uk's generic map points
   ("Supermarket", "Parking Area", "Petrol Station"...; :data:`GENERIC_POINTS`) say *what* is
   there, not *where*: they count, but rank below every street. The two most frequent streets
   are joined with " / " when the second holds at least :attr:`NameRule.second_share` of the
   place's street incidents. Ties go to the alphabetically first text, so a name never
   changes between runs. A place with only generic points is named by the point and the
   nearest street the incidents name, else its area ("Supermarket near Bold Street"), and a
   place with no text of its own, after the gazetteer, by that nearest street ("near Bold
   Street"): police.uk map points sit on street centres, so the incidents are a gazetteer too
   (:func:`incident_streets`).
2. **Gazetteer.** Where no location text names the place, the nearest street and locality of
   an imported gazetteer (:mod:`geo.gazetteer`, OS Open Names or any name/type/coordinates
   CSV) to the place's centre: "Talbot Road, Blackpool".
3. **Ward**, then **LSOA**, then **authority** name. A ward (an imported boundary level named
   ``ward``) comes before the LSOA: ward names are the words residents and officers use, LSOA
   names ("Blackpool 010E") are statistical labels.
4. **Coordinates**, only for a place outside every boundary with no text at all.

Places named together (one ranked list) that would share a name are told apart by their towns,
else by where each lies: "Lord Street (west)", "Lord Street (east)".

Privacy
-------
A name is printed on briefings handed out on the street, so it must never say more than the
place already does:

* a location text names a place only when at least :attr:`NameRule.min_support` incidents of
  that place share it: one incident's text (which, from a source other than police.uk, may
  be an address) is never printed;
* house numbers and anything after the first comma (a town, a postcode) are dropped;
* the caller passes only the rows the person asking may see (the pinned frame: their areas,
  public places only for officers) and leaves out every domestic incident
  (:meth:`geo.query.QueryLayer.place_names` does both).

Everything here is vectorised over incidents: a name costs one ``np.unique`` over the rows of
the places named, whatever the filter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from geo.boundaries import Boundaries
    from geo.gazetteer import Gazetteer

__all__ = [
    "GENERIC_POINTS",
    "NAME_SOURCES",
    "NameRule",
    "RowText",
    "clean_location",
    "group_index",
    "incident_streets",
    "is_generic_point",
    "name_places",
    "place_names",
]

#: Where a name came from, in the order they are tried.
NAME_SOURCES = ("incident locations", "gazetteer", "ward", "lsoa", "authority", "coordinates")

#: police.uk's generic map points: incidents snapped to a public place or premises carry its
#: kind, not its name (police.uk, "About the data": map points are street centres, public
#: places such as parks and airports, and commercial premises such as shopping centres and
#: nightclubs). Compared case-insensitively after "On or near " is dropped.
GENERIC_POINTS = frozenset(p.casefold() for p in (
    "Airport/Airfield", "Bus/Coach Station", "Conference/Exhibition Centre", "Ferry Terminal",
    "Further/Higher Educational Building", "Hospital", "Motorway Service Area", "Nightclub",
    "Park/Open Space", "Parking Area", "Pedestrian Subway", "Petrol Station", "Police Station",
    "Shopping Area", "Sports/Recreation Area", "Supermarket", "Theatre/Concert Hall",
    "Theme/Adventure Park", "Train Station", "Underground Station",
))

_ON_OR_NEAR = re.compile(r"^\s*on\s+or\s+near\b[\s,:-]*", re.IGNORECASE)
#: "12", "12a", "12-14", "Flat 3", "Unit 2b" at the start of an address part.
_NUMBER = re.compile(
    r"^(?:(?:flat|apartment|apt|unit|house|no\.?)\s*[0-9a-z]*\s*,?\s*)?"
    r"(?:\d+[a-z]?(?:\s*[-/–]\s*\d+[a-z]?)?\b\s*,?\s*)?", re.IGNORECASE)
_NO_PLACE = frozenset({"", "no location", "unknown", "n/a", "na", "none", "not known",
                       "not recorded", "street", "road", "lane", "avenue"})
#: How far (metres) from a place's centre the nearest street the incidents name may lie, to
#: say where a place without street text is; further for a generic point (a park, a car park
#: is larger than one street's stretch).
STREET_REACH_M = 250.0
GENERIC_REACH_M = 400.0
#: police.uk title-cases names letter by letter after an apostrophe: "St Mary'S Road".
_APOSTROPHE_S = re.compile(r"(?<=\w)['’]S\b")
_MAX_NAME_CHARS = 80


def clean_location(text: object) -> str:
    """Return a location text as a place name: no "On or near ", house number or town.

    Parameters
    ----------
    text : object
        A location as a source gives it; None, NaN and blanks give "".

    Returns
    -------
    str
        The street or place, at most 80 characters; "" when the text names no place.

    Examples
    --------
    >>> clean_location("On or near Talbot Road")
    'Talbot Road'
    >>> clean_location("On or near St Mary'S Road"), clean_location("On or near ")
    ("St Mary's Road", '')
    >>> clean_location("Flat 3, 12a Acacia Avenue, Preston PR1 2AB")
    'Acacia Avenue'
    >>> clean_location("1st Avenue"), clean_location("A59"), clean_location("No Location")
    ('1st Avenue', 'A59', '')
    """
    if not isinstance(text, str):
        return ""
    body = _ON_OR_NEAR.sub("", text.strip())
    for part in body.split(","):
        name = " ".join(_NUMBER.sub("", part.strip(), count=1).split())
        name = name.strip(" .;:-")
        if name.casefold() in _NO_PLACE or not any(c.isalpha() for c in name):
            continue
        return _APOSTROPHE_S.sub("'s", name)[:_MAX_NAME_CHARS].rstrip()
    return ""


def is_generic_point(name: str) -> bool:
    """Say whether a cleaned location is a police.uk generic map point, not a street.

    Examples
    --------
    >>> is_generic_point("Supermarket"), is_generic_point("parking area")
    (True, True)
    >>> is_generic_point("Supermarket Street")
    False
    """
    return name.casefold() in GENERIC_POINTS


@dataclass(frozen=True)
class NameRule:
    """When location texts name a place.

    Attributes
    ----------
    min_support : int
        Incidents of the place that must share a location text before it names the place
        (at least 1). The default 2 means one incident's text is never printed.
    second_share : float
        The second most frequent street joins the name ("A / B") when it holds at least this
        share (0-1] of the place's incidents on streets.
    join : str
        What goes between two street names.
    """

    min_support: int = 2
    second_share: float = 0.25
    join: str = " / "

    def __post_init__(self) -> None:
        if self.min_support < 1:
            raise ValueError(f"min_support must be 1 or more, not {self.min_support}")
        if not 0 < self.second_share <= 1:
            raise ValueError(f"second_share must be more than 0 and at most 1, not "
                             f"{self.second_share}")


@dataclass(frozen=True)
class _Ranked:
    """Each group's texts with their counts, best first within each group (numpy arrays)."""

    group: np.ndarray  # int64, ascending
    text: list[str]  # the distinct texts, A-Z; ``code`` indexes it
    code: np.ndarray  # int64
    generic: np.ndarray  # bool
    count: np.ndarray  # int64

    def firsts(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return the groups of ``rows`` (a mask) and the position of each group's first."""
        at = np.flatnonzero(rows)
        groups, first = np.unique(self.group[at], return_index=True)
        return groups, at[first]


def _ranked_texts(codes: np.ndarray, labels: Sequence[str], group: np.ndarray, n_groups: int,
                  clean: bool) -> _Ranked:
    """Count each group's texts, best first in each group: streets, count, then A-Z.

    Codes are counted first (one ``np.unique`` over the rows); only the labels that occur are
    cleaned, and labels that clean to the same text are added together.
    """
    codes = np.asarray(codes, dtype="int64").reshape(-1)
    group = np.asarray(group, dtype="int64").reshape(-1)
    if codes.shape != group.shape:
        raise ValueError(f"location codes and groups differ in length: {codes.size} and "
                         f"{group.size}")
    use = (codes >= 0) & (group >= 0) & (group < n_groups) & (codes < len(labels))
    none = np.zeros(0, dtype="int64")
    empty = _Ranked(none, [], none, np.zeros(0, dtype=bool), none)
    if not use.any():
        return empty
    width = np.int64(len(labels))
    pairs, counts = np.unique(group[use] * width + codes[use], return_counts=True)
    g, c = pairs // width, pairs % width
    used, inverse = np.unique(c, return_inverse=True)
    cleaned = [clean_location(labels[int(k)]) if clean else str(labels[int(k)]).strip()
               for k in used]
    texts = sorted(set(cleaned) - {""}, key=lambda t: (t.casefold(), t))  # A-Z = code order
    at = {t: i for i, t in enumerate(texts)}
    text_of = np.array([at.get(t, -1) for t in cleaned], dtype="int64")[inverse.reshape(-1)]
    keep = text_of >= 0
    if not keep.any():
        return empty
    n_texts = np.int64(len(texts))
    merged, where = np.unique(g[keep] * n_texts + text_of[keep], return_inverse=True)
    total = np.bincount(where.reshape(-1), weights=counts[keep]).astype("int64")
    g2, code = merged // n_texts, merged % n_texts
    generic = np.array([is_generic_point(t) for t in texts], dtype=bool)[code]
    order = np.lexsort((code, -total, generic, g2))
    return _Ranked(g2[order], texts, code[order], generic[order], total[order])


def place_names(
    location_codes: np.ndarray,
    location_labels: Sequence[str],
    group: np.ndarray,
    n_groups: int,
    *,
    rule: NameRule = NameRule(),
) -> pd.DataFrame:
    """Name each group of incidents by its most frequent location texts.

    Parameters
    ----------
    location_codes : numpy.ndarray
        Per incident, its location text as a code into ``location_labels`` (-1: none).
    location_labels : sequence of str
        The texts as the source gives them ("On or near Talbot Road").
    group : numpy.ndarray
        Per incident, its group (0 to ``n_groups - 1``; -1: in none, or not to be used).
    n_groups : int
        Number of groups.
    rule : NameRule
        Support needed, and when a second street joins.

    Returns
    -------
    pandas.DataFrame
        One row per group, in group order: ``place_name`` ("" where no text qualifies),
        ``generic`` (True when the name is a generic map point such as "Supermarket", which
        needs a street or area beside it to say where), ``support`` (incidents bearing the
        first text) and ``named`` (incidents with any usable text).

    Examples
    --------
    Place 0: Talbot Road 3, Topping Street 2 (2 of 5 street incidents: it joins) and a
    supermarket 4 (ranked below streets). Place 1: Zeal Row and Abingdon Street tie (the
    alphabetically first leads). Place 2: Talbot Road 9, Topping Street 2 (2 of 11: too
    few to join). Place 3: only a supermarket. Place 4: one incident, too few to print:

    >>> labels = ["On or near Talbot Road", "On or near Topping Street",
    ...           "On or near Supermarket", "On or near Abingdon Street", "On or near Zeal Row"]
    >>> rows = [(0, 0)] * 3 + [(0, 1)] * 2 + [(0, 2)] * 4 + [(1, 4)] * 2 + [(1, 3)] * 2 + [
    ...     (2, 0)] * 9 + [(2, 1)] * 2 + [(3, 2)] * 2 + [(4, 3)]
    >>> group, codes = np.array(rows).T
    >>> names = place_names(codes, labels, group, 5)
    >>> names["place_name"].tolist()
    ['Talbot Road / Topping Street', 'Abingdon Street / Zeal Row', 'Talbot Road', 'Supermarket', '']
    >>> names["generic"].tolist(), names["support"].tolist(), names["named"].tolist()
    ([False, False, False, True, False], [3, 2, 9, 2, 0], [9, 4, 11, 2, 1])
    """  # noqa: E501
    names = [""] * n_groups
    generic = np.zeros(n_groups, dtype=bool)
    support = np.zeros(n_groups, dtype="int64")
    ranked = _ranked_texts(location_codes, location_labels, group, n_groups, clean=True)
    named = np.bincount(ranked.group, weights=ranked.count, minlength=n_groups).astype("int64")
    enough = ranked.count >= rule.min_support
    groups, first = ranked.firsts(enough)
    street = enough & ~ranked.generic
    on_streets = np.bincount(ranked.group[street], weights=ranked.count[street],
                             minlength=n_groups)
    # each group's second street: its first street row once its leading street is set aside
    later = street.copy()
    later[ranked.firsts(street)[1]] = False
    second_groups, second = ranked.firsts(later)
    second_of = dict(zip(second_groups.tolist(), second.tolist(), strict=True))
    for g, i in zip(groups.tolist(), first.tolist(), strict=True):
        names[g] = ranked.text[ranked.code[i]]
        generic[g], support[g] = ranked.generic[i], ranked.count[i]
        j = second_of.get(g)
        if (not generic[g] and j is not None
                and ranked.count[j] >= rule.second_share * on_streets[g]):
            names[g] += rule.join + ranked.text[ranked.code[j]]
    return pd.DataFrame({"place_name": names, "generic": generic, "support": support,
                         "named": named})


def group_index(values: np.ndarray, chosen: np.ndarray) -> np.ndarray:
    """Return, for each value, its position in ``chosen`` (-1 where it is not there).

    Turns each incident's cell, cluster or zone into the place it is on a ranked list.

    Examples
    --------
    >>> group_index(np.array([7, 3, 9, 3, -1]), np.array([3, 9])).tolist()
    [-1, 0, 1, 0, -1]
    """
    values = np.asarray(values).reshape(-1)
    chosen = np.asarray(chosen).reshape(-1)
    out = np.full(len(values), -1, dtype="int64")
    if not len(chosen) or not len(values):
        return out
    order = np.argsort(chosen, kind="stable")
    at = np.clip(np.searchsorted(chosen[order], values), 0, len(chosen) - 1)
    found = chosen[order][at] == values
    out[found] = order[at[found]]
    return out


def _most_frequent(codes: np.ndarray, labels: Sequence[str], group: np.ndarray,
                   n_groups: int) -> list[str]:
    """Each group's most frequent label (ties: alphabetical); "" where it has none."""
    ranked = _ranked_texts(codes, labels, group, n_groups, clean=False)
    out = [""] * n_groups
    groups, first = ranked.firsts(np.ones(len(ranked.group), dtype=bool))
    for g, i in zip(groups.tolist(), first.tolist(), strict=True):
        out[g] = ranked.text[ranked.code[i]]
    return out


@dataclass(frozen=True)
class RowText:
    """The coded text of the incidents a set of places is named from.

    Each array has one entry per incident (codes: -1 for none); labels are the texts.
    ``area``/``areas`` are the authority codes the incidents were assigned at ingest.
    """

    location: np.ndarray
    locations: Sequence[str]
    lsoa: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    lsoas: Sequence[str] = ()
    area: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    areas: Sequence[str] = ()


def _located(codes_of: tuple[tuple[str, ...], np.ndarray], names: dict[str, str]) -> list[str]:
    codes, index = codes_of
    return [names.get(codes[i], "") if i >= 0 else "" for i in index]


def name_places(
    group: np.ndarray,
    n_groups: int,
    centre_e: np.ndarray,
    centre_n: np.ndarray,
    text: RowText,
    *,
    gazetteer: Gazetteer | None = None,
    nearby: Gazetteer | Callable[[], Gazetteer] | None = None,
    wards: Boundaries | None = None,
    authorities: Boundaries | None = None,
    rule: NameRule = NameRule(),
) -> pd.DataFrame:
    """Name each place from its incidents, else a gazetteer, a ward, an LSOA or an authority.

    Parameters
    ----------
    group : numpy.ndarray
        Per incident of ``text``, its place (0 to ``n_groups - 1``; -1: none or not to be
        used, e.g. a domestic incident).
    n_groups : int
        Number of places.
    centre_e, centre_n : numpy.ndarray
        Each place's centre in British National Grid metres (EPSG:27700): where the
        gazetteer, ward and (for a place without incidents) authority are looked up.
    text : RowText
        The incidents' location, LSOA and authority codes.
    gazetteer : geo.gazetteer.Gazetteer, optional
        Streets and localities imported with ``hotspot gazetteer import``.
    nearby : geo.gazetteer.Gazetteer or callable, optional
        The streets the incidents themselves name, at their map points
        (:func:`incident_streets`): police.uk map points sit on the centre of a street, so
        they say which street a place of generic points ("Shopping Area") is on. A callable
        is called only if a place needs it.
    wards : geo.boundaries.Boundaries, optional
        The ``ward`` boundary level, if imported.
    authorities : geo.boundaries.Boundaries, optional
        The authorities: their names, and the area of a place without incidents.
    rule : NameRule
        When location texts name a place.

    Returns
    -------
    pandas.DataFrame
        One row per place, in place order: ``place_name`` (never blank) and ``name_source``
        (one of :data:`NAME_SOURCES`). Places that would share a name are told apart by
        their towns ("Church Street, Leicester"), else by where they lie from each other
        ("Lord Street (west)", "Lord Street (east)").

    Examples
    --------
    Place 0 is named by its incidents; place 1 has only one incident's text, too little, so
    it falls back to its LSOA; place 2 has no incident at all and is at no known place:

    >>> text = RowText(location=np.array([0, 0, 1]), locations=["On or near Lord Street",
    ...                "On or near Slater Place"], lsoa=np.array([0, 0, 1]),
    ...                lsoas=["Liverpool 060A", "Liverpool 061C"])
    >>> names = name_places(np.array([0, 0, 1]), 3, np.array([334_500.0, 334_900.0, np.nan]),
    ...                     np.array([390_300.0, 389_900.0, np.nan]), text)
    >>> names.values.tolist()
    [['Lord Street', 'incident locations'], ['Liverpool 061C', 'lsoa'], ['a place with no name', 'coordinates']]
    """  # noqa: E501
    group = np.asarray(group, dtype="int64").reshape(-1)
    centre_e = np.asarray(centre_e, dtype="float64").reshape(-1)
    centre_n = np.asarray(centre_n, dtype="float64").reshape(-1)
    if centre_e.shape != (n_groups,) or centre_n.shape != (n_groups,):
        raise ValueError(f"give one centre per place: {n_groups} places, {centre_e.size} "
                         f"eastings and {centre_n.size} northings")
    from_text = place_names(text.location, text.locations, group, n_groups, rule=rule)
    names = from_text["place_name"].tolist()
    sources = ["incident locations" if n else "" for n in names]
    generic = from_text["generic"].to_numpy(bool)
    need = [i for i in range(n_groups) if not names[i] or generic[i]]
    authority: list[str] | None = None

    def finish() -> pd.DataFrame:
        towns = authority
        if towns is None and len(set(names)) < len(names):  # only if two would read the same
            towns = _authority_names(group, n_groups, centre_e, centre_n, text, authorities)
        return pd.DataFrame({"place_name": _apart(names, centre_e, centre_n, towns),
                             "name_source": sources})

    if not need:
        return finish()

    at = np.asarray(need, dtype="int64")
    streets: list[str] = [""] * n_groups
    localities: list[str] = [""] * n_groups
    if gazetteer is not None:
        found_s, found_l = gazetteer.nearest(centre_e[at], centre_n[at])
        for i, street, loc in zip(need, found_s, found_l, strict=True):
            streets[i], localities[i] = street, loc
    near: list[str] = [""] * n_groups
    if callable(nearby):
        nearby = nearby()
    if nearby is not None:
        # a generic point (a park, a car park) is larger than a street's catchment
        reach = np.where(generic[at], GENERIC_REACH_M, STREET_REACH_M)
        for radius in np.unique(reach):
            some = at[reach == radius]
            found = nearby.nearest(centre_e[some], centre_n[some], street_radius_m=radius)[0]
            for i, street in zip(some.tolist(), found, strict=True):
                near[i] = street
    ward = ([""] * n_groups if wards is None else
            _located(_locate(centre_e, centre_n, wards), wards.names()))
    lsoa = (_most_frequent(text.lsoa, text.lsoas, group, n_groups)
            if len(text.lsoas) else [""] * n_groups)
    authority = _authority_names(group, n_groups, centre_e, centre_n, text, authorities)
    for i in need:
        area = ward[i] or lsoa[i] or authority[i]
        if generic[i]:  # "Supermarket" needs a street or an area beside it to say where
            street = near[i] or streets[i]
            names[i] += f" near {street}" if street else f", {area}" if area else ""
            continue
        if streets[i] or localities[i]:
            names[i] = ", ".join(p for p in (streets[i], localities[i]) if p)
            sources[i] = "gazetteer"
        elif near[i]:
            names[i], sources[i] = f"near {near[i]}", "incident locations"
        elif ward[i]:
            names[i], sources[i] = ward[i], "ward"
        elif lsoa[i]:
            names[i], sources[i] = lsoa[i], "lsoa"
        elif authority[i]:
            names[i], sources[i] = authority[i], "authority"
        else:
            names[i], sources[i] = _coordinates(centre_e[i], centre_n[i]), "coordinates"
    return finish()


_WINDS = ("east", "north-east", "north", "north-west", "west", "south-west", "south",
          "south-east")


def _same(names: list[str]) -> dict[str, list[int]]:
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i)
    return {name: at for name, at in seen.items() if len(at) > 1}


def _apart(names: list[str], east: np.ndarray, north: np.ndarray,
           towns: Sequence[str] | None = None) -> list[str]:
    """Tell apart places that share a name: by their towns, else by where each lies.

    Two Church Streets in two authorities read "Church Street, Charnwood" and "Church Street,
    Leicester"; two ends of one street, "Lord Street (west)" and "Lord Street (east)" (from
    the middle of the places sharing the name).

    Examples
    --------
    >>> _apart(["Lord Street", "Bold Street", "Lord Street"], np.array([0.0, 5.0, 300.0]),
    ...        np.array([0.0, 5.0, 20.0]))
    ['Lord Street (west)', 'Bold Street', 'Lord Street (east)']
    >>> _apart(["Church Street", "Church Street"], np.zeros(2), np.zeros(2),
    ...        ["Leicester", "Charnwood"])
    ['Church Street, Leicester', 'Church Street, Charnwood']
    """
    out = list(names)
    if towns is not None:
        for name, at in _same(out).items():
            if len({towns[i] for i in at}) > 1:
                for i in at:
                    out[i] = f"{name}, {towns[i]}" if towns[i] and towns[i] != name else name
    for name, at in _same(out).items():
        if len(at) < 2:
            continue
        dx, dy = east[at] - east[at].mean(), north[at] - north[at].mean()
        winds = np.round(np.arctan2(dy, dx) / (np.pi / 4)).astype("int64") % 8 if (
            np.isfinite(dx).all() and np.isfinite(dy).all()) else np.zeros(len(at), "int64")
        words = [_WINDS[w] if np.isfinite(d) and d > 1 else ""
                 for w, d in zip(winds, np.hypot(dx, dy), strict=True)]
        for k, i in enumerate(at):
            clash = not words[k] or words.count(words[k]) > 1
            out[i] = f"{name} ({words[k]})" if not clash else f"{name} ({k + 1} of {len(at)})"
    return out


def incident_streets(easting: np.ndarray, northing: np.ndarray, location_codes: np.ndarray,
                     location_labels: Sequence[str], *, rule: NameRule = NameRule(),
                     counts: np.ndarray | None = None) -> Gazetteer:
    """Return the streets the incidents name, each at its map point, as a gazetteer.

    police.uk snaps every incident to an anonymous map point over the centre of a street (or
    over a public place, which :data:`GENERIC_POINTS` leaves out), so the distinct points and
    their texts are a gazetteer of the force's streets. A point's text counts only where at
    least ``rule.min_support`` incidents share it, as for names.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Each incident's position, British National Grid metres.
    location_codes, location_labels
        Each incident's location text (codes, -1: none) and the texts.
    counts : numpy.ndarray, optional
        How many incidents each entry stands for (entries grouped by point and text, as a
        query engine returns them); one each by default.
    rule : NameRule
        The support a text needs.

    Returns
    -------
    geo.gazetteer.Gazetteer
        Streets only (no localities).

    Examples
    --------
    >>> g = incident_streets(np.array([10.0, 10.0, 500.0, 500.0]), np.zeros(4),
    ...                      np.array([0, 0, 1, 1]), ["On or near Bold Street", "Supermarket"])
    >>> g.streets[["name", "easting"]].values.tolist()
    [['Bold Street', 10.0]]

    The same incidents grouped by point and text, with their counts:

    >>> g = incident_streets(np.array([10.0, 500.0]), np.zeros(2), np.array([0, 1]),
    ...                      ["On or near Bold Street", "Supermarket"], counts=np.array([2, 2]))
    >>> g.streets[["name", "easting"]].values.tolist()
    [['Bold Street', 10.0]]
    """
    from geo.gazetteer import Gazetteer

    codes = np.asarray(location_codes, dtype="int64").reshape(-1)
    use = np.flatnonzero(codes >= 0)
    east = np.round(np.asarray(easting, dtype="float64").reshape(-1)[use], 1)
    north = np.round(np.asarray(northing, dtype="float64").reshape(-1)[use], 1)
    # map points by hashing (police.uk snaps many incidents to one point), then (text, point)
    point, _ = pd.factorize(east + 1j * north)
    point = np.asarray(point, dtype="int64")
    pairs, first, inverse = np.unique(codes[use] * (np.int64(point.max(initial=0)) + 1) + point,
                                      return_index=True, return_inverse=True)
    weights = None if counts is None else np.asarray(counts, dtype="float64").reshape(-1)[use]
    support = np.bincount(inverse.reshape(-1), weights=weights, minlength=len(pairs))
    enough = support >= rule.min_support
    first = first[enough]
    code = codes[use][first]
    used = np.unique(code)
    texts = {int(k): clean_location(location_labels[int(k)]) for k in used}
    street = {k: bool(t) and not is_generic_point(t) for k, t in texts.items()}
    keep = np.array([street[int(k)] for k in code], dtype=bool)
    streets = pd.DataFrame({"name": [texts[int(k)] for k in code[keep]], "locality": "",
                            "easting": east[first[keep]], "northing": north[first[keep]]})
    # in a fixed order (name, then place): two texts at one point tie for nearest, and the
    # tie must not go by the order the incidents were read in
    streets = streets.sort_values(["name", "easting", "northing"], kind="stable",
                                  ignore_index=True)
    localities = pd.DataFrame({"name": pd.Series([], dtype="str"),
                               "easting": pd.Series([], dtype="float64"),
                               "northing": pd.Series([], dtype="float64")})
    return Gazetteer(streets, localities, [{"file": "the incidents' own locations"}])


def _locate(east: np.ndarray, north: np.ndarray, b: Boundaries
            ) -> tuple[tuple[str, ...], np.ndarray]:
    from geo.boundaries import locate_areas

    return locate_areas(east, north, b)


def _authority_names(group: np.ndarray, n_groups: int, centre_e: np.ndarray,
                     centre_n: np.ndarray, text: RowText,
                     authorities: Boundaries | None) -> list[str]:
    """Each place's authority: where most of its incidents were placed, else its centre's."""
    codes = (_most_frequent(text.area, text.areas, group, n_groups) if len(text.areas)
             else [""] * n_groups)
    if authorities is None:
        return codes
    names = authorities.names()
    missing = [i for i, c in enumerate(codes) if not c]
    if missing:
        from geo.boundaries import assign_areas

        at = np.asarray(missing, dtype="int64")
        finite = np.isfinite(centre_e[at]) & np.isfinite(centre_n[at])
        if finite.any():
            found = assign_areas(centre_e[at][finite], centre_n[at][finite], authorities).code
            for i, code in zip(at[finite], found, strict=True):
                codes[int(i)] = "" if pd.isna(code) else str(code)
    return [names.get(c, c) if c else "" for c in codes]


def _coordinates(east: float, north: float) -> str:
    """Say where a place is in coordinates a map app takes: the last resort."""
    if not (np.isfinite(east) and np.isfinite(north)):
        return "a place with no name"
    from geo.projection import to_wgs84

    lon, lat = to_wgs84(np.array([east]), np.array([north]))
    return f"near {float(lat[0]):.5f}, {float(lon[0]):.5f}"
