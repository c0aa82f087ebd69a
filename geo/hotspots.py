"""Ranked hotspot tables: the few places that hold the most harm, with the facts that explain each.

Every figure in a row is computed from the rows given (already filtered by the caller), with its
count beside any share, so an analyst can say where each number came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from geo.h3index import cells_to_str

DAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
NIGHT_LABELS = tuple(f"{day} night" for day in DAY_LABELS)


def night_days(
    dow: np.ndarray, hour: np.ndarray, hours: tuple[int, int] | None
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return the weekday each incident counts under, and the labels to name them.

    With an hour band that wraps midnight (e.g. ``(20, 4)``) the selection is of nights, as
    in :meth:`geo.query.QueryLayer.select`: the small hours belong to the night before, so
    02:00 on a Saturday counts as Friday night. Otherwise calendar days are kept.

    Parameters
    ----------
    dow, hour : numpy.ndarray
        Weekday (0 = Monday) and hour of each incident; -1 where unknown.
    hours : (int, int) or None
        The selection's hour band, end exclusive.

    Returns
    -------
    days : numpy.ndarray
        Weekday of the night (or day) of each incident; -1 stays -1.
    labels : tuple of str
        :data:`NIGHT_LABELS` for nights, :data:`DAY_LABELS` for days.

    Examples
    --------
    >>> d, labels = night_days(np.array([4, 5, 5, -1]), np.array([23, 2, 21, -1]), (20, 4))
    >>> d.tolist(), labels[4]
    ([4, 4, 5, -1], 'Friday night')
    >>> night_days(np.array([5]), np.array([2]), (0, 6))[0].tolist()
    [5]
    """
    dow = np.asarray(dow)
    if hours is None or hours[0] <= hours[1] % 24 or hours[1] % 24 == 0:
        return dow, DAY_LABELS
    early = (np.asarray(hour) >= 0) & (np.asarray(hour) < hours[1]) & (dow >= 0)
    return np.where(early, (dow + 6) % 7, dow).astype(dow.dtype), NIGHT_LABELS


def peak_text(values: np.ndarray, labels: tuple[str, ...] | None = None) -> str:
    """Return the most frequent known value (``-1`` = unknown is ignored) as text, with its count.

    Examples
    --------
    >>> peak_text(np.array([23, 23, 1, -1]))
    '23:00 (2 of 3)'
    >>> peak_text(np.array([4, 5, 5]), DAY_LABELS)
    'Saturday (2 of 3)'
    >>> peak_text(np.array([-1, -1]))
    'unknown'
    """
    known = values[values >= 0]
    if known.size == 0:
        return "unknown"
    counts = np.bincount(known)
    top = int(counts.argmax())
    name = labels[top] if labels is not None else f"{top:02d}:00"
    return f"{name} ({int(counts[top])} of {known.size})"


#: Decimal places of harm that rank cells (:func:`rank_cells`): finer differences are
#: rounding, not harm.
HARM_DECIMALS = 9


def main_categories(codes: np.ndarray, labels: list[str], top: int = 3) -> str:
    """Return the ``top`` categories with their counts, most frequent first, ties A-Z.

    Examples
    --------
    >>> main_categories(np.array([0, 1, 1]), ["Robbery", "Public order"])
    'Public order (2), Robbery (1)'
    >>> main_categories(np.array([0, 1]), ["Robbery", "Public order"])
    'Public order (1), Robbery (1)'
    """
    if codes.size == 0:
        return ""
    counts = np.bincount(codes, minlength=len(labels))
    # ties by name, not by code: codes follow the order rows were read in, which differs
    # between the in-memory store and an engine's few rows
    order = np.lexsort((np.array(labels[:len(counts)], dtype=object).astype(str),
                        -counts))[:top]
    return ", ".join(f"{labels[i]} ({int(counts[i])})" for i in order if counts[i] > 0)


def rank_cells(
    cell_codes: np.ndarray,
    cells: np.ndarray,
    *,
    dow: np.ndarray,
    hour: np.ndarray,
    category: np.ndarray,
    category_labels: list[str],
    weight: np.ndarray | None = None,
    n: int = 10,
    hours: tuple[int, int] | None = None,
) -> pd.DataFrame:
    """Rank H3 cells by harm (then count) and explain each of the top ``n``.

    Parameters
    ----------
    cell_codes : numpy.ndarray
        For each selected incident, the index of its cell in ``cells``.
    cells : numpy.ndarray
        uint64 H3 indexes.
    dow, hour, category : numpy.ndarray
        Per incident: weekday (0 = Monday, -1 unknown), hour (-1 unknown), category code.
    category_labels : list of str
        Category names for the codes.
    weight : numpy.ndarray, optional
        Harm weight per incident; 1 for all when omitted.
    n : int
        How many cells to return.
    hours : (int, int), optional
        The selection's hour band. When it wraps midnight the peak day is counted by night
        (see :func:`night_days`) and named "Friday night", matching the filter.

    Returns
    -------
    pandas.DataFrame
        ``rank, cell, count, harm, share, peak_day, peak_hour, main_categories``; ``share`` is
        the cell's count over all incidents given.

    Examples
    --------
    >>> t = rank_cells(np.array([0, 0, 1]), np.array([1, 2], dtype="uint64"),
    ...                dow=np.array([4, 4, 0]), hour=np.array([23, 1, 9]),
    ...                category=np.array([0, 0, 0]), category_labels=["Robbery"], n=1)
    >>> int(t.loc[0, "count"]), round(float(t.loc[0, "share"]), 3), t.loc[0, "peak_day"]
    (2, 0.667, 'Friday (2 of 2)')

    Friday 23:00 and Saturday 01:00 are one Friday night under a 20:00-04:00 band:

    >>> t = rank_cells(np.array([0, 0, 0]), np.array([1], dtype="uint64"),
    ...                dow=np.array([4, 5, 5]), hour=np.array([23, 1, 2]),
    ...                category=np.array([0, 0, 0]), category_labels=["Robbery"], hours=(20, 4))
    >>> t.loc[0, "peak_day"]
    'Friday night (3 of 3)'
    """
    total = len(cell_codes)
    columns = ["rank", "cell", "count", "harm", "share", "peak_day", "peak_hour",
               "main_categories"]
    if total == 0 or n <= 0:
        return pd.DataFrame(columns=columns)
    w = np.ones(total) if weight is None else np.asarray(weight, dtype="float64")
    day_of, day_labels = night_days(np.asarray(dow), np.asarray(hour), hours)
    counts = np.bincount(cell_codes, minlength=len(cells))
    harm = np.bincount(cell_codes, weights=w, minlength=len(cells))
    # harm is rounded for ranking only: sums of the same weights in another order differ in
    # the last bits, and two cells of equal harm must tie, then go by count and cell
    order = np.lexsort((np.arange(len(cells)), -counts, -np.round(harm, HARM_DECIMALS)))
    top = order[: min(n, int((counts > 0).sum()))]
    members = np.argsort(cell_codes, kind="stable")
    starts = np.searchsorted(cell_codes[members], top, side="left")
    ends = np.searchsorted(cell_codes[members], top, side="right")
    rows = []
    for rank, (c, s, e) in enumerate(zip(top, starts, ends, strict=True), start=1):
        idx = members[s:e]
        rows.append(
            {
                "rank": rank,
                "cell": cells_to_str(cells[[c]])[0],
                "count": int(counts[c]),
                "harm": float(harm[c]),
                "share": float(counts[c]) / total,
                "peak_day": peak_text(day_of[idx], day_labels),
                "peak_hour": peak_text(hour[idx]),
                "main_categories": main_categories(category[idx], category_labels),
            }
        )
    return pd.DataFrame(rows, columns=columns)
