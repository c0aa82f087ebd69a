"""Small-number suppression: hand-worked tables and an attacker who knows every total."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo.disclosure import _safe, suppress


def test_nothing_small_nothing_hidden():
    d = suppress(np.array([0, 5, 17]), 5)
    assert not d.hidden.any()


def test_one_small_cell_takes_the_smallest_other_with_it():
    # total 3 + 12 + 40 = 55 is known: hiding 3 alone would give it back as 55 - 12 - 40
    d = suppress(np.array([40, 3, 12, 0]), 5)
    assert d.primary.tolist() == [False, True, False, False]
    assert d.secondary.tolist() == [False, False, True, False]
    assert d.label() == "fewer than 5"


def test_zeros_are_never_hidden_and_never_used_as_cover():
    d = suppress(np.array([0, 0, 2, 30]), 5)
    assert d.hidden.tolist() == [False, False, True, True]


def test_threshold_one_hides_nothing():
    assert not suppress(np.array([1, 2, 3]), 1).hidden.any()


def test_groups_each_protected():
    # two areas; within area 0 one small cell, within area 1 none
    counts = np.array([2, 50, 60, 7, 8, 9])
    area = np.array([0, 0, 0, 1, 1, 1])
    d = suppress(counts, 5, [area])
    assert d.hidden.tolist() == [True, True, False, False, False, False]


def _solutions(counts, d, layouts, cap):
    """Every table an attacker cannot tell from the real one."""
    hidden = np.flatnonzero(d.hidden)
    ranges = [range(1, d.threshold) if d.primary[i] else range(d.threshold, cap + 1)
              for i in hidden]
    totals = [np.bincount(lay, weights=counts, minlength=lay.max() + 1) for lay in layouts]
    for values in itertools.product(*ranges):
        trial = counts.copy()
        trial[hidden] = values
        if all(np.array_equal(np.bincount(lay, weights=trial, minlength=lay.max() + 1), tot)
               for lay, tot in zip(layouts, totals, strict=True)):
            yield trial


@pytest.mark.parametrize("seed", range(200))
def test_an_attacker_with_every_total_cannot_pin_down_a_small_count(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    counts = rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 14], size=n)
    parent = rng.integers(0, 2, size=n)
    d = suppress(counts, 5, [parent])
    layouts = [np.zeros(n, dtype=int), parent]
    if not d.primary.any():
        return
    # a group left with nothing more to hide behind cannot be protected (the caller must then
    # keep its total from being known): skip those tables
    for lay in layouts:
        for g in np.unique(lay):
            m = lay == g
            if d.hidden[m & (counts > 0)].all() and not _safe(counts[m], d.hidden[m],
                                                              d.primary[m], 5):
                return
    solutions = list(_solutions(counts, d, layouts, cap=int(counts.sum())))
    assert solutions, "the real table must be among them"
    for i in np.flatnonzero(d.primary):
        assert len({int(s[i]) for s in solutions}) >= 2, (counts.tolist(), d.hidden.tolist())
