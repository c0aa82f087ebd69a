"""The Explorer map's values and its key in words (pure builders, no browser)."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard import figures


@pytest.mark.parametrize(
    ("values", "integer"),
    [([0, 1, 1, 1, 2, 3, 7, 40, 1664], True),
     ([2104, 2142, 2544, 2922, 3313, 3628, 4732, 6478, 7065, 7886], True),
     ([None, 0.31, 0.5, 1.2, 2.75, None], False),
     ([5], True)],
    ids=["skewed hexagon counts", "authority counts", "rates with blanks", "one value"])
def test_every_positive_value_falls_in_exactly_one_class(values, integer):
    bounds = figures.class_breaks(values, integer=integer)
    assert bounds == sorted(set(bounds)) and 1 <= len(bounds) <= 5
    for v in values:
        if v is None or v <= 0:
            continue
        inside = [i for i, low in enumerate(bounds)
                  if v >= low and (i == len(bounds) - 1 or v < bounds[i + 1])]
        assert len(inside) == 1, (v, bounds)


def test_skewed_counts_get_classes_up_to_the_hotspots():
    # most hexagons hold one incident; quantiles alone would put 2 and 1,664 in one class
    bounds = figures.class_breaks([1] * 900 + [2] * 60 + [5] * 30 + [40] * 9 + [1664])
    assert len(bounds) == 5 and bounds[0] == 1 and bounds[-1] >= 100


def test_class_labels_are_words_that_cover_every_whole_number():
    assert figures.class_labels([1, 2, 10, 50, 250]) == [
        "1", "2 to 9", "10 to 49", "50 to 249", "250 or more"]
    assert figures.class_labels([]) == []


def test_map_values_are_numbers_aligned_to_the_outlines_with_no_geometry():
    values = figures.map_values(
        key=[3, "", 9], layers=["cells", "kde", "areas"],
        cell_values=np.array([0, 3, 1]), area_codes=["E1", "E2"], area_values=[12, None],
        area_integer=True, area_unit="incidents")
    assert values["key"] == [3, "", 9]
    assert values["layers"] == ["cells", "areas"]  # the script paints these two only
    assert values["cells"]["values"] == [0, 3, 1]
    assert values["areas"]["values"] == [12, None] and values["areas"]["codes"] == ["E1", "E2"]
    assert "geometry" not in repr(values) and "coordinates" not in repr(values)


def test_the_legend_gives_each_class_a_colour_and_words():
    values = figures.map_values(
        key=[1, "", 9], layers=["cells"], cell_values=np.array([1, 1, 2, 9, 300]),
        area_codes=[], area_values=[], area_integer=True, area_unit="incidents")
    legend = figures.map_legend_classes(values["cells"])
    colours = [c for c, _ in legend]
    assert len(set(colours)) == len(colours) and colours[-1] == figures.CELL_COLOURS[-1]
    assert all(words and words[0].isdigit() for _, words in legend)
    assert legend[-1][1].endswith("or more")
