"""Small-number suppression that arithmetic cannot undo.

Under a data-sharing agreement a count from 1 to 4 may identify someone, so it is shown as
"fewer than 5" (primary suppression). Hiding it is not enough when a total is also known:
the total minus the parts still shown gives the hidden part back. So within every group
whose total a reader can learn (the whole table, and any groups the caller names), more
cells are hidden (secondary suppression) until the group's hidden cells add up to at least
the threshold and each small one could still take two values or more, even to a reader who
knows which hidden cells are small and which were hidden to protect them (so at least the
threshold). Secondary cells are the smallest non-zero cells shown (the least information
lost); ties go to the first in the table's order, so the result is deterministic. A group
that runs out of cells to hide behind cannot be protected here: its caller must keep that
group's total from being known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class Disclosed:
    """Counts as a reader may see them: ``hidden`` cells are shown as "fewer than N".

    ``primary`` marks the cells hidden for being small themselves, the rest of ``hidden``
    were hidden so that totals cannot reveal them.
    """

    counts: np.ndarray
    hidden: np.ndarray
    primary: np.ndarray
    threshold: int

    @property
    def secondary(self) -> np.ndarray:
        """Cells hidden only to protect others."""
        return self.hidden & ~self.primary

    def label(self) -> str:
        """Return how a hidden value is shown, e.g. "fewer than 5"."""
        return f"fewer than {self.threshold}"


def suppress(counts: np.ndarray, threshold: int,
             groups: Sequence[np.ndarray] = (), also: np.ndarray | None = None) -> Disclosed:
    """Hide counts from 1 to ``threshold - 1``, and more where a known total would reveal one.

    Parameters
    ----------
    counts : ndarray of int
        The table's counts. Zeros are never hidden (they are shown as 0 or left out).
    threshold : int
        Smallest count that may be shown; 0 or 1 hides nothing.
    groups : sequence of ndarray of int
        Each array gives every cell a group number (``-1``: in no group); the total of each
        group is taken to be known. The whole table is always one such group.

    Examples
    --------
    One small cell and a known total: a second cell is hidden with it.

    >>> d = suppress(np.array([3, 12, 40, 0]), 5)
    >>> d.hidden.tolist(), d.primary.tolist()
    ([True, True, False, False], [True, False, False, False])

    Two small cells that together are still below the threshold need a third.

    >>> suppress(np.array([1, 2, 9, 30]), 5).hidden.tolist()
    [True, True, True, False]

    Nothing small, nothing hidden.

    >>> suppress(np.array([5, 6, 0]), 5).hidden.any()
    np.False_
    """
    counts = np.asarray(counts, dtype="int64")
    primary = (counts >= 1) & (counts < threshold)
    hidden = primary.copy()
    if also is not None:
        hidden |= np.asarray(also, dtype=bool) & (counts > 0)
    if threshold <= 1 or not hidden.any():
        return Disclosed(counts, hidden, primary, threshold)
    # the finest groups first: cover found there usually protects the larger groups too
    layouts = [np.asarray(g, dtype="int64") for g in groups]
    layouts.append(np.zeros(len(counts), dtype="int64"))
    changed = True
    while changed:
        changed = False
        for layout in layouts:
            changed |= _protect(counts, hidden, primary, layout, threshold)
    return Disclosed(counts, hidden, primary, threshold)


def unprotected(d: Disclosed, layout: np.ndarray) -> np.ndarray:
    """Return the groups of ``layout`` whose hidden cells their total would still reveal."""
    bad = [g for g in np.unique(layout[layout >= 0])
           if d.hidden[layout == g].any()
           and not _safe(d.counts[layout == g], d.hidden[layout == g],
                         d.primary[layout == g], d.threshold)]
    return np.asarray(bad, dtype="int64")


def _protect(counts: np.ndarray, hidden: np.ndarray, primary: np.ndarray,
             layout: np.ndarray, threshold: int) -> bool:
    """Hide more cells in every group of ``layout`` whose hidden cells a total would reveal."""
    changed = False
    for group in np.unique(layout[layout >= 0]):
        members = np.flatnonzero(layout == group)
        while hidden[members].any() and not _safe(counts[members], hidden[members],
                                                  primary[members], threshold):
            shown = members[~hidden[members] & (counts[members] > 0)]
            if len(shown) == 0:
                break
            hidden[shown[np.argmin(counts[shown])]] = True
            changed = True
    return changed


def _safe(counts: np.ndarray, hidden: np.ndarray, primary: np.ndarray, threshold: int) -> bool:
    """Say whether a group's hidden cells stay uncertain to a reader who knows its total.

    The reader knows the hidden cells' sum, that a small cell lies in 1..threshold-1 and that
    a cell hidden to protect it is at least the threshold. Safe means the hidden sum is at
    least the threshold and every small cell could still take two values or more.
    """
    total = int(counts[hidden].sum())
    if total < threshold or hidden.sum() < 2:
        return False
    lo = np.where(primary[hidden], 1, threshold)
    hi = np.where(primary[hidden], threshold - 1, total)
    for i in np.flatnonzero(primary[hidden]):
        least = max(1, total - (hi.sum() - hi[i]))
        most = min(threshold - 1, total - (lo.sum() - lo[i]))
        if most - least < 1:
            return False
    return True


#: Record keys run from 0 to 2**20 - 1; a cell key is the sum of its rows' keys modulo 2**20.
KEY_SPACE = 2**20
#: How a cell key turns into noise: it is mixed into a bucket 0-255, and buckets below each
#: bound get the noise beside it: -2, -1, 0, +1 or +2 with chances 1:2:4:2:1 (mean 0).
_NOISE = ((26, -2), (77, -1), (179, 0), (230, 1), (256, 2))


def record_keys(ids: pa.Array | pa.ChunkedArray, key: str,
                stored: pa.Array | pa.ChunkedArray | None = None) -> np.ndarray:
    """Return each record's key (below :data:`KEY_SPACE`): a keyed hash of its id.

    SipHash keyed by the site's secret (pandas' ``hash_array``), so nobody without the
    secret can tell which records share a noise. Worked out once, when a record is stored
    (:meth:`geo.store.Store.commit`), and summed per cell by whichever engine counts.
    ``stored``: the keys the records were stored with, where they have one (only the others
    are hashed).

    Examples
    --------
    >>> k = record_keys(pa.array(["a", "b", "a"]), "0123456789abcdef")
    >>> bool(k[0] == k[2] < KEY_SPACE)
    True
    >>> record_keys(pa.array(["a", "b"]), "0123456789abcdef", pa.array([7, None]))[0]
    np.uint32(7)
    """
    if stored is not None and stored.null_count < len(stored):
        out = np.array(pc.fill_null(stored, 0).to_numpy(zero_copy_only=False), dtype="uint32")
        if stored.null_count:
            missing = np.asarray(pc.is_null(stored).to_numpy(zero_copy_only=False), dtype=bool)
            out[missing] = record_keys(ids.filter(pa.array(missing)), key)
        return out
    values = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=object)
    if len(values) == 0:
        return np.zeros(0, dtype="uint32")
    hashed = pd.util.hash_array(values, hash_key=key, categorize=False)
    return (hashed % np.uint64(KEY_SPACE)).astype("uint32")


def noise(cell_keys: np.ndarray) -> np.ndarray:
    """Return each cell's noise, -2 to +2, from its cell key.

    The key goes through a 64-bit mixing function (xor-shifts and multiplications, so that a
    cell key and the same key plus a few rows' keys land in unrelated buckets).

    Examples
    --------
    >>> noise(np.array([0, 1, 2, 3, 1000, 123456])).tolist()
    [-2, 1, -1, -2, 0, 1]
    """
    k = (np.asarray(cell_keys, dtype="int64") % KEY_SPACE).astype("uint64")
    with np.errstate(over="ignore"):
        k ^= k >> np.uint64(33)
        k *= np.uint64(0xFF51AFD7ED558CCD)
        k ^= k >> np.uint64(33)
        k *= np.uint64(0xC4CEB9FE1A85EC53)
        k ^= k >> np.uint64(33)
    bucket = (k >> np.uint64(56)).astype("int64")
    bounds = np.array([b for b, _ in _NOISE])
    values = np.array([v for _, v in _NOISE])
    return values[np.searchsorted(bounds, bucket, side="right")]


def perturb(counts: np.ndarray, cell_keys: np.ndarray, threshold: int) -> np.ndarray:
    """Return counts with a small noise fixed by the rows behind them (the cell key method).

    The same rows always give the same noise, so asking again gains nothing; two answers
    that differ by a few rows differ by a few rows plus two unrelated noises, so taking one
    from the other no longer gives the rows between them exactly. Zeros stay zero, and a count
    shown (``threshold`` or more) stays at least ``threshold``, so no count from 1 to
    ``threshold - 1`` is ever produced.

    Examples
    --------
    >>> perturb(np.array([0, 5, 40, 40]), np.array([0, 0, 0, 1]), 5).tolist()
    [0, 5, 38, 41]
    """
    counts = np.asarray(counts, dtype="int64")
    out = counts + noise(cell_keys)
    out = np.where(counts >= threshold, np.maximum(out, threshold), counts)
    return np.where(counts == 0, 0, out)
