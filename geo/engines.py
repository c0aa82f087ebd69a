"""Executors for the core aggregations: one engine-neutral query, answered in numpy or DuckDB.

The core query is what the Explorer asks on every filter change: validated :class:`Filters`
plus the principal's :class:`~geo.access.Scope`, counted per H3 cell, per authority, per
weekday and hour, and per month. :class:`CoreQuery` says it once, with no engine in it, and
an :class:`Executor` answers it:

* :class:`NumpyExecutor` is the reference. It runs the query layer's own code
  (:meth:`geo.query.QueryLayer.select` on the frame :meth:`~geo.query.QueryLayer._scope_frame`
  cuts), so it is by construction what the product shows today.
* :class:`DuckDBExecutor` runs SQL over the Parquet files the committed manifest lists, with
  no preload: each query reads only the columns it needs, and the year partitions a date range
  rules out are never opened. A batch is visible as soon as its manifest commits.
* :class:`DaskExecutor` sends the same SQL to the workers of a Dask cluster, the manifest's
  files split among them, and sums what comes back: for stores that outgrow one machine.

All three return the same numpy arrays in the same order, and a conformance test
(``tests/unit/test_engines.py``) holds them to identical answers. Harm weighting is applied
here, after aggregation, from counts per category, so no engine can differ on it.

The product asks them only through the door, :class:`geo.door.EngineLayer`, which gives each
query the pinned principal's scope (``hotspot serve --engine duckdb|dask``). See
``docs/ENGINES.md`` for what it serves so far and what remains.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import tempfile
import threading
import time
import weakref
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from geo.access import Scope
from geo.query import (
    Filters,
    IncidentFrame,
    QueryLayer,
    _lut,
    hours_in_band,
    precise_enough,
)
from geo.schema import HEALTH_SOURCES
from geo.settings import H3_RESOLUTIONS, limits
from geo.store import Manifest, Store

#: A rectangle in British National Grid metres: (min easting, min northing, max easting,
#: max northing).
Box = tuple[float, float, float, float]

#: Bins per degree in which the SQL executors count positions to frame a map.
_BINS = 1000

#: Days since 1970-01-01 count from here, as in :mod:`geo.query`.
_EPOCH = np.datetime64("1970-01-01", "D")
#: Rows dated before this month are left out of every frame (see ``IncidentFrame.from_table``).
_FIRST_MONTH = "1970-01"


@dataclass(frozen=True)
class CoreQuery:
    """The core query with no engine in it: filters plus the rows the principal may count.

    Parameters
    ----------
    filters : Filters
        Validated filters (:meth:`geo.query.QueryLayer.validate`).
    areas : frozenset of str, optional
        The principal's authorities (``la_code``); None for every authority.
    drop_domestic : bool
        Leave out domestic incidents whatever the filters say (the principal's scope).
    drop_health : bool
        Leave out hospital and ambulance records (a principal who may not see them).

    Examples
    --------
    >>> q = CoreQuery(Filters(hours=(20, 4)), areas=frozenset({"E06000009"}))
    >>> q.filters.hour_set() == frozenset({20, 21, 22, 23, 0, 1, 2, 3}), q.drop_domestic
    (True, False)
    """

    filters: Filters
    areas: frozenset[str] | None = None
    drop_domestic: bool = False
    #: Leave out hospital and ambulance records (a role that may not see health figures).
    drop_health: bool = False

    @classmethod
    def of(cls, filters: Filters, scope: Scope | None = None,
           purpose: str = "rows") -> CoreQuery:
        """Return the query for ``filters`` as the principal with ``scope`` may have it.

        Follows :meth:`geo.query.QueryLayer._scope_frame`: ``purpose="rows"`` (what the
        Explorer's figures count) leaves out domestic incidents for a public-places role and
        for a role whose domestic incidents count only by whole authority;
        ``purpose="authority"`` only for a public-places role.

        Examples
        --------
        >>> partner = Scope(areas=frozenset({"E06000009"}), public_only=False, rows=False,
        ...                 domestic_below_authority=False, max_h3_res=8, suppress_below=5)
        >>> CoreQuery.of(Filters(), partner).drop_domestic
        True
        >>> CoreQuery.of(Filters(), partner, purpose="authority").drop_domestic
        False
        >>> CoreQuery.of(Filters()).areas is None
        True
        """
        if purpose not in ("rows", "authority"):
            raise ValueError(f"purpose must be 'rows' or 'authority', not {purpose!r}")
        if scope is None:
            return cls(filters)
        drop = scope.public_only or (purpose == "rows" and not scope.domestic_below_authority)
        return cls(filters, areas=scope.areas, drop_domestic=drop, drop_health=not scope.health)

    def scope(self) -> Scope:
        """Return a :class:`~geo.access.Scope` that cuts rows as this query's scope does.

        Only its areas and domestic rule matter here: disclosure (suppression, hexagon
        limits) is applied after aggregation, outside the executors.
        """
        return Scope(areas=self.areas, public_only=self.drop_domestic, rows=True,
                     domestic_below_authority=True, max_h3_res=None, suppress_below=0,
                     health=not self.drop_health)


@dataclass(frozen=True)
class KeyedCounts:
    """Counts and harm-weighted sums per key, keys ascending.

    The keys are every key that holds any row in the query's scope (whatever the filters
    select), so a map drawn once can be updated with new values alone: H3 cells as
    ``uint64``, authorities as ``la_code`` text (an object array), months as months since
    January 1970 (``int64``: 0 is 1970-01).
    """

    keys: np.ndarray
    counts: np.ndarray  # int64
    harm: np.ndarray  # float64; the counts themselves when no weights are given
    #: The sum of the counted rows' record keys per key (``int64``), when asked for
    #: (``keyed``): what the door's disclosure noise comes from (:mod:`geo.disclosure`).
    record_keys: np.ndarray | None = None


class UnkeyedRecords(ValueError):
    """Raised when record keys are asked of a store with rows stored before they were."""

    def __init__(self, files: int) -> None:
        super().__init__(f"{files} of the store's files hold rows stored before record keys "
                         "were; 'hotspot compact' adds them")
        self.files = files


@dataclass(frozen=True)
class Totals:
    """What a query selects, in all: the figures beside the counts by key.

    ``first_day`` and ``last_day`` are days since 1970-01-01 (None when nothing is
    selected): a dated row's own day, a month-only row's first and last day of its month,
    as :meth:`geo.query.IncidentFrame.date_span` counts them.
    """

    count: int
    month_only: int  # of the rows counted, those with a month and no day
    first_day: int | None
    last_day: int | None
    domestic_recorded: bool  # whether any row counted says whether it was domestic


@dataclass(frozen=True)
class Summary:
    """Everything a filter change shows, from one pass: what :meth:`Executor.summary` returns.

    ``cells`` count only rows placed finely enough for the resolution asked (as
    :meth:`Executor.cell_counts`); ``count`` and ``month_only`` are every selected row.
    """

    cells: KeyedCounts
    authorities: KeyedCounts
    grid: np.ndarray  # 7 x 24, int64
    count: int
    month_only: int


@dataclass(frozen=True)
class _Tally:
    """Selected rows counted per key (ascending) and per category (labels ascending)."""

    keys: np.ndarray
    categories: list[str]
    counts: np.ndarray  # shape (len(keys), len(categories)), or (len(keys), 1) uncategorised


def month_text(month_index: int) -> str:
    """Return ``YYYY-MM`` for months since January 1970.

    Examples
    --------
    >>> month_text(0), month_text(653)
    ('1970-01', '2024-06')
    """
    return f"{1970 + month_index // 12}-{month_index % 12 + 1:02d}"


class Executor(ABC):
    """Answers the core query; subclasses count, this class weights and shapes."""

    #: Short name for benchmarks and messages.
    name: str = ""

    @abstractmethod
    def _tally(self, query: CoreQuery, key: str, res: int | None,
               by_category: bool) -> _Tally:
        """Count the selected rows per ``key`` ("cell", "authority" or "month").

        ``res`` is the H3 resolution for ``key="cell"``: its cells are the keys, and rows
        placed too coarsely for it (:func:`geo.query.precise_enough`) are not counted.
        """

    @abstractmethod
    def day_hour_grid(self, query: CoreQuery) -> np.ndarray:
        """Return a 7 × 24 ``int64`` array of counts (rows Monday..Sunday, columns hours).

        Rows without a weekday and hour (month-only data) are not in the grid, as in
        :meth:`geo.query.QueryLayer.day_hour_grid`.
        """

    @abstractmethod
    def totals(self, query: CoreQuery) -> Totals:
        """Return how many rows ``query`` selects, how many are month-only, and their span."""

    @abstractmethod
    def labels(self) -> tuple[list[str], list[str]]:
        """Return the categories and the sources the store holds (rows from 1970 on), A-Z."""

    @abstractmethod
    def month_only_months(self, query: CoreQuery) -> KeyedCounts:
        """Return the month-only rows in the query's scope per month (its filters unused).

        Months as in :meth:`month_counts`; only months holding any are listed. What a
        weekday or hour filter leaves out (see :class:`geo.query.Selection`) follows from
        these and the dates, with no scan per filter.
        """

    @abstractmethod
    def extent(self, query: CoreQuery) -> tuple[float, float, float, float] | None:
        """Return (min lon, min lat, max lon, max lat) framing most selected rows; None if none.

        The 0.5th and 99.5th percentiles, so a stray far-off point does not widen a map: exact
        in memory, to the thousandth of a degree by SQL, which is all a map's framing needs.
        """

    @abstractmethod
    def grouped_rows(self, query: CoreQuery, columns: Sequence[str], limit: int, *,
                     res: int | None = None, cells: Sequence[int] | None = (),
                     boxes: Sequence[Box] = (), present: Sequence[str] = (),
                     keyed: bool = False, periods: Sequence[tuple[int, int]] = (),
                     dated_only: bool = False) -> pa.Table:
        """Count the selected rows in some places by ``columns``: a bounded, grouped read.

        For what is worked out from a few places' rows (the ranked table's peak hours and
        names, the streets near a place), never for all rows: each distinct combination of
        ``columns`` once, with its count ``n`` (``int64``). With ``res``, only rows in
        ``cells`` (H3 cells of that resolution) placed finely enough for it, as
        :meth:`cell_counts` counts them; with ``boxes``, only rows inside one of them
        (British National Grid, edges included); rows whose text in a ``present`` column is
        missing or blank are left out. Sorted by ``columns``, nulls last. With ``keyed``,
        each combination's record keys are summed too, as ``k`` (``int64``). ``cells=None``
        with ``res`` keeps every cell (rows placed finely enough for ``res``).

        With ``periods`` ((first, last) day numbers, inclusive, oldest first, not
        overlapping), only rows in one of them count, grouped by it too: a column ``period``
        (its index, ``int32``) follows ``columns``. A row's day is its own, or for a
        month-only row the first day of its month; ``dated_only`` leaves month-only rows out.

        Raises
        ------
        TooManyRows
            When more than ``limit`` combinations would come back.
        UnkeyedRecords
            With ``keyed``, when some rows were stored without record keys.
        """

    @abstractmethod
    def rows(self, query: CoreQuery, limit: int, boxes: Sequence[Box] = (),
             columns: Sequence[str] | None = None) -> pa.Table:
        """Return the selected rows themselves (every stored column, or ``columns``).

        A bounded selection, for the views whose methods need incidents one by one (the
        patrol plan, clusters), over one force, one area or a short window: never every row
        of a large store.
        Rows from 1970 on, in the store's own order (the manifest's files in turn, each
        file's rows in turn), as :meth:`geo.store.Store.read` gives them; columns as
        :data:`geo.schema.STORED_SCHEMA` (in its order), a column an older file lacks as
        nulls. With ``boxes``, only rows inside one of them (as :meth:`grouped_rows`).

        Raises
        ------
        TooManyRows
            When more than ``limit`` rows are selected (nothing is returned).
        """

    def cell_counts(self, query: CoreQuery, res: int,
                    harm_weights: Mapping[str, float] | None = None) -> KeyedCounts:
        """Return counts and harm per H3 cell of resolution ``res``.

        As :meth:`geo.query.QueryLayer.cell_counts`: health records placed by postcode count
        to resolution 9 and those placed by LSOA to resolution 7; a cell holding only rows
        too coarse for ``res`` is listed with 0.
        """
        if res not in H3_RESOLUTIONS:
            raise ValueError(f"{res} is not a stored H3 resolution; choose one of "
                             f"{H3_RESOLUTIONS}")
        return _weigh(self._tally(query, "cell", res, bool(harm_weights)), harm_weights)

    def authority_counts(self, query: CoreQuery,
                         harm_weights: Mapping[str, float] | None = None) -> KeyedCounts:
        """Return counts and harm per authority (``la_code``; ``""`` is outside them all)."""
        return _weigh(self._tally(query, "authority", None, bool(harm_weights)), harm_weights)

    def month_counts(self, query: CoreQuery,
                     harm_weights: Mapping[str, float] | None = None) -> KeyedCounts:
        """Return counts and harm per month (the row's month: a month-only row's too)."""
        return _weigh(self._tally(query, "month", None, bool(harm_weights)), harm_weights)

    def core(self, query: CoreQuery, res: int,
             harm_weights: Mapping[str, float] | None = None) -> tuple[KeyedCounts, KeyedCounts]:
        """Return :meth:`cell_counts` and :meth:`authority_counts` together.

        What a filter change asks for; an engine that can count both in one pass over the
        data does (the DuckDB executor, with ``GROUPING SETS``).
        """
        return (self.cell_counts(query, res, harm_weights),
                self.authority_counts(query, harm_weights))


    def summary(self, query: CoreQuery, res: int,
                harm_weights: Mapping[str, float] | None = None,
                keyed: bool = False) -> Summary:
        """Return cells, authorities, the day x hour grid and the totals of one query.

        What one filter change shows; the SQL executors count it all in one scan. With
        ``keyed`` the cells and authorities also carry the sum of their rows' record keys.

        Raises
        ------
        UnkeyedRecords
            With ``keyed``, on a store some of whose rows have no stored record key.
        """
        cells, areas = self.core(query, res, harm_weights)
        totals = self.totals(query)
        if keyed:
            cells = replace(cells, record_keys=self._key_sums(query, "cell", res))
            areas = replace(areas, record_keys=self._key_sums(query, "authority", None))
        return Summary(cells, areas, self.day_hour_grid(query), totals.count, totals.month_only)

    def _key_sums(self, query: CoreQuery, key: str, res: int | None) -> np.ndarray:
        """Return the sum of the selected rows' record keys per key, as :meth:`_tally` keys."""
        raise NotImplementedError


def _weigh(tally: _Tally, harm_weights: Mapping[str, float] | None) -> KeyedCounts:
    """Sum the tally per key and weight it by category, in one fixed order for every engine.

    Examples
    --------
    >>> t = _Tally(np.array([5, 7]), ["a", "b"], np.array([[1, 2], [0, 3]]))
    >>> k = _weigh(t, {"b": 0.5})
    >>> k.counts.tolist(), k.harm.tolist()
    ([3, 3], [2.0, 1.5])
    """
    counts = tally.counts.sum(axis=1, dtype=np.int64) if tally.counts.size else np.zeros(
        len(tally.keys), dtype=np.int64)
    if not harm_weights:
        return KeyedCounts(tally.keys, counts, counts.astype(np.float64))
    harm = np.zeros(len(tally.keys), dtype=np.float64)
    # Column by column, categories in label order: a category no row of an engine's answer
    # holds adds exact zeros, so engines that list different idle categories still agree.
    for j, label in enumerate(tally.categories):
        harm += tally.counts[:, j] * float(harm_weights.get(label, 1.0))
    return KeyedCounts(tally.keys, counts, harm)


def _matrix(key_index: np.ndarray, n_keys: int, cat_index: np.ndarray, n_cats: int,
            counts: np.ndarray | None) -> np.ndarray:
    """Lay (key, category, count) triples out as a keys × categories count matrix."""
    flat = key_index.astype(np.int64) * max(n_cats, 1) + cat_index
    out = np.bincount(flat, weights=None if counts is None else counts,
                      minlength=n_keys * max(n_cats, 1))
    return out.astype(np.int64).reshape(n_keys, max(n_cats, 1))


class NumpyExecutor(Executor):
    """The reference executor: the query layer's in-memory frame and its own selection code.

    Parameters
    ----------
    layer : QueryLayer
        An unpinned query layer over the store (``principal_required=False``); the scope
        comes with each query instead.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from geo.boundaries import load_boundaries
    >>> ex = NumpyExecutor(QueryLayer(Store(Path(tempfile.mkdtemp())), load_boundaries(None)))
    >>> int(ex.day_hour_grid(CoreQuery(Filters())).sum())
    0
    """

    name = "numpy"

    def __init__(self, layer: QueryLayer) -> None:
        self.layer = layer

    def _frame(self, query: CoreQuery) -> IncidentFrame:
        # The reference must be the product's own code path, private parts included.
        return self.layer._scope_frame(self.layer._current(), query.scope(), "rows")

    def _tally(self, query: CoreQuery, key: str, res: int | None,
               by_category: bool) -> _Tally:
        fr = self._frame(query)
        keys, index, mask = self._indexed(fr, query, key, res)
        if not by_category:
            counts = np.bincount(index[mask], minlength=len(keys)).astype(np.int64)
            return _Tally(keys, [], counts.reshape(-1, 1))
        cats = np.array(fr.categories, dtype=object)
        cat_order = np.argsort(cats.astype(str), kind="stable")
        cat_rank = np.empty(len(cats), dtype=np.int64)
        cat_rank[cat_order] = np.arange(len(cats))
        matrix = _matrix(index[mask], len(keys), cat_rank[fr.category[mask]], len(cats), None)
        return _Tally(keys, [str(c) for c in cats[cat_order]], matrix)

    def _key_sums(self, query: CoreQuery, key: str, res: int | None) -> np.ndarray:
        fr = self._frame(query)
        keys, index, mask = self._indexed(fr, query, key, res)
        # float64 sums are exact: 2**20 times the rows stays far below 2**53
        return np.bincount(index[mask], weights=fr.rkey[mask].astype(np.float64),
                           minlength=len(keys)).astype(np.int64)

    def _indexed(self, fr: IncidentFrame, query: CoreQuery, key: str, res: int | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the keys of ``key``, each row's index among them, and the rows counted."""
        mask = self.layer.select(query.filters, fr).mask
        if key == "cell":
            assert res is not None
            mask = mask & precise_enough(fr, res)
            keys, index = fr.cells[res], fr.cell_codes[res]
        elif key == "authority":
            present = np.bincount(fr.area, minlength=len(fr.areas)) > 0
            labels = np.array(fr.areas, dtype=object)
            order = np.argsort(labels.astype(str), kind="stable")
            order = order[present[order]]
            rank = np.full(len(fr.areas), -1, dtype=np.int64)
            rank[order] = np.arange(len(order))
            keys, index = labels[order], rank[fr.area]
        elif key == "month":
            months = (fr.month_first.astype("timedelta64[D]") + _EPOCH).astype(
                "datetime64[M]").astype(np.int64) - np.datetime64("1970-01", "M").astype(
                np.int64)
            keys, inverse = np.unique(months, return_inverse=True)
            index = inverse.reshape(-1)
        else:
            raise ValueError(f"unknown key {key!r}")
        return keys, index, mask

    def day_hour_grid(self, query: CoreQuery) -> np.ndarray:  # noqa: D102 (inherited)
        fr = self._frame(query)
        ok = self.layer.select(query.filters, fr).mask & (fr.dow >= 0) & (fr.hour >= 0)
        flat = fr.dow[ok].astype(np.int64) * 24 + fr.hour[ok]
        return np.bincount(flat, minlength=7 * 24).astype(np.int64).reshape(7, 24)


    def totals(self, query: CoreQuery) -> Totals:  # noqa: D102 (inherited)
        fr = self._frame(query)
        mask = self.layer.select(query.filters, fr).mask
        count = int(mask.sum())
        if not count:
            return Totals(0, 0, None, None, False)
        day = np.where(fr.day >= 0, fr.day, fr.month_first)[mask]
        last = np.where(fr.day >= 0, fr.day, fr.month_last)[mask]
        return Totals(count, int((mask & fr.month_only).sum()), int(day.min()),
                      int(last.max()), bool((fr.domestic[mask] >= 0).any()))

    def labels(self) -> tuple[list[str], list[str]]:  # noqa: D102 (inherited)
        fr = self.layer._current()
        return sorted(fr.categories), sorted(fr.sources)

    def month_only_months(self, query: CoreQuery) -> KeyedCounts:  # noqa: D102 (inherited)
        fr = self._frame(replace(query, filters=Filters()))
        months = (fr.month_first.astype("timedelta64[D]") + _EPOCH).astype(
            "datetime64[M]").astype(np.int64)[fr.month_only]
        keys, counts = np.unique(months, return_counts=True)
        return KeyedCounts(keys.astype(np.int64), counts.astype(np.int64),
                           counts.astype(np.float64))

    def extent(self, query: CoreQuery) -> tuple[float, float, float, float] | None:  # noqa: D102
        fr = self._frame(query)
        mask = self.layer.select(query.filters, fr).mask
        if not mask.any():
            return None
        minx, maxx = np.percentile(fr.lon[mask], [0.5, 99.5])
        miny, maxy = np.percentile(fr.lat[mask], [0.5, 99.5])
        return float(minx), float(miny), float(maxx), float(maxy)

    def grouped_rows(  # noqa: D102 (inherited)
            self, query: CoreQuery, columns: Sequence[str], limit: int, *,
            res: int | None = None, cells: Sequence[int] | None = (),
            boxes: Sequence[Box] = (), present: Sequence[str] = (),
            keyed: bool = False, periods: Sequence[tuple[int, int]] = (),
            dated_only: bool = False) -> pa.Table:
        fr = self._frame(query)
        mask = self.layer.select(query.filters, fr).mask
        if res is not None:
            mask = mask & precise_enough(fr, res)
            if cells is not None:
                wanted = np.isin(fr.cells[res], np.asarray(list(cells), dtype=np.uint64))
                mask = mask & wanted[fr.cell_codes[res]]
        period = None
        if periods:
            if dated_only:
                mask = mask & ~fr.month_only
            starts, ends = np.asarray(periods, dtype=np.int64).T
            when = np.where(fr.month_only, fr.month_first, fr.day).astype(np.int64)
            at = np.searchsorted(starts, when, side="right") - 1
            inside = (at >= 0) & (when <= ends[np.clip(at, 0, None)])
            mask = mask & inside
            period = at
        mask = mask & _in_boxes(fr, boxes)
        _manifest, table = self.layer.store.read()  # the reference: tests, small stores
        # the frame's rows are the store's rows from 1970 on, in the store's order
        rows = np.flatnonzero(mask)
        if fr is not self.layer._current():
            assert fr.origin is not None  # a cut of the whole frame knows its rows there
            rows = fr.origin[rows]
        kept = table.filter(pc.greater_equal(table.column("month"), _FIRST_MONTH))
        chosen = np.flatnonzero(mask)
        grouping = list(columns)
        picked = kept.take(pa.array(rows)).select(sorted({*columns, *present}))
        picked = picked.append_column("n", pa.array(np.ones(len(chosen), np.int64)))
        if keyed:
            picked = picked.append_column("k", pa.array(fr.rkey[chosen].astype(np.int64)))
        if period is not None:
            picked = picked.append_column("period", pa.array(period[chosen].astype(np.int32)))
            grouping.append("period")
        for column in present:
            picked = picked.filter(pc.fill_null(pc.not_equal(picked.column(column), ""), False))
        return _grouped(picked, grouping, limit)


    def rows(self, query: CoreQuery, limit: int,  # noqa: D102 (inherited)
             boxes: Sequence[Box] = (), columns: Sequence[str] | None = None) -> pa.Table:
        fr = self._frame(query)
        at = np.flatnonzero(self.layer.select(query.filters, fr).mask & _in_boxes(fr, boxes))
        if len(at) > limit:
            raise TooManyRows(limit)
        if fr is not self.layer._current():
            assert fr.origin is not None  # a cut of the whole frame knows its rows there
            at = fr.origin[at]
        _manifest, table = self.layer.store.read()
        # the frame's rows are the store's rows from 1970 on, in the store's order
        kept = table.filter(pc.greater_equal(table.column("month"), _FIRST_MONTH))
        return kept.take(pa.array(at, type=pa.int64())).select(_stored_columns(columns))


def _stored_columns(columns: Sequence[str] | None) -> list[str]:
    """Return ``columns`` (every stored column for None) in the stored schema's order.

    Examples
    --------
    >>> _stored_columns(["hour", "month"])
    ['month', 'hour']
    """
    from geo.schema import STORED_SCHEMA

    if columns is None:
        return list(STORED_SCHEMA.names)
    unknown = set(columns) - set(STORED_SCHEMA.names)
    if unknown:
        raise ValueError(f"not stored columns: {', '.join(sorted(unknown))}")
    return [c for c in STORED_SCHEMA.names if c in set(columns)]


def _in_boxes(fr: IncidentFrame, boxes: Sequence[Box]) -> np.ndarray:
    """Return which rows lie inside one of ``boxes`` (edges included); all rows for none."""
    if not boxes:
        return np.ones(fr.n, dtype=bool)
    inside = np.zeros(fr.n, dtype=bool)
    for x0, y0, x1, y1 in boxes:
        inside |= ((fr.easting >= x0) & (fr.easting <= x1) & (fr.northing >= y0)
                   & (fr.northing <= y1))
    return inside


def _within_sql(boxes: Sequence[Box]) -> str:
    """Return the SQL condition for rows inside one of ``boxes`` (empty for none).

    Examples
    --------
    >>> _within_sql([(1, 2, 3, 4)])
    '(easting BETWEEN 1.0 AND 3.0 AND northing BETWEEN 2.0 AND 4.0)'
    """
    if not np.isfinite(np.asarray(boxes, dtype="float64")).all():
        raise ValueError("a box's corners must be finite numbers of metres")
    return " OR ".join(f"(easting BETWEEN {float(x0)!r} AND {float(x1)!r} "
                       f"AND northing BETWEEN {float(y0)!r} AND {float(y1)!r})"
                       for x0, y0, x1, y1 in boxes)


def _grouped(table: pa.Table, columns: Sequence[str], limit: int) -> pa.Table:
    """Add up ``table``'s counts ``n`` (and key sums ``k``) by ``columns``; sorted, nulls last."""
    sums = [c for c in ("n", "k") if c in table.column_names]
    out = table.group_by(list(columns), use_threads=False).aggregate([(c, "sum") for c in sums])
    out = out.select([*columns, *(f"{c}_sum" for c in sums)]).rename_columns([*columns, *sums])
    return _sorted_groups(out, columns, limit)


def _sorted_groups(table: pa.Table, columns: Sequence[str], limit: int) -> pa.Table:
    """Return groups (each combination of ``columns`` once) sorted by them, nulls last."""
    if table.num_rows > limit:
        raise TooManyRows(limit)
    return table.sort_by([(c, "ascending", "at_end") for c in columns])


class TooManyRows(ValueError):
    """A bounded read would return more rows than its limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"more than {limit:,} rows: narrow the selection")
        self.limit = limit


def _text(value: str) -> str:
    """Quote ``value`` as an SQL string literal.

    Examples
    --------
    >>> _text("O'Neil")
    "'O''Neil'"
    """
    return "'" + str(value).replace("'", "''") + "'"


def _in(column: str, values: Sequence[str]) -> str:
    """Return ``column IN (...)`` for text values (``FALSE`` for none).

    Examples
    --------
    >>> _in("category", ["Robbery", "O'Neil"]), _in("la_code", [])
    ("category IN ('Robbery', 'O''Neil')", 'FALSE')
    """
    return f"{column} IN ({', '.join(_text(v) for v in values)})" if values else "FALSE"


def _text_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(_text(v) for v in values) + "]"


@dataclass(frozen=True)
class _Snapshot:
    """One committed manifest as DuckDB reads it: what its files hold, found once."""

    manifest: Manifest
    columns: frozenset[str]
    categories: list[str]
    sources: list[str]
    #: Each file's columns (as the file lists them): stores written before a column existed
    #: lack it in their older files.
    file_columns: Mapping[str, frozenset[str]]
    #: Set when the SQL is for the store's query index, not for Parquet files.
    index: _IndexUse | None = None


@dataclass(frozen=True)
class _IndexUse:
    """The query index (:mod:`geo.queryindex`) as one scan reads it."""

    #: What DuckDB attached it as (its table is ``{alias}.incidents``).
    alias: str
    #: The values each coded column holds (a value it lacks selects none of its rows).
    labels: Mapping[str, frozenset[str]]
    #: Numbers of the files it holds that the manifest no longer lists (left out).
    gone: tuple[int, ...]
    #: Its dated rows' months are their dates' (``QueryIndex.months_agree``).
    months_agree: bool = False

    def coded_in(self, column: str, values: Sequence[str]) -> str:
        """Return ``column IN (...)``, each value as the column's ENUM (compared as codes).

        Examples
        --------
        >>> use = _IndexUse("qi1", {"category": frozenset({"Robbery"})}, ())
        >>> use.coded_in("category", ["Robbery", "Arson"])
        "category IN ('Robbery'::qi1.e_category)"
        >>> use.coded_in("category", ["Arson"])
        'FALSE'
        """
        held = [v for v in values if v in self.labels.get(column, ())]
        if not held:
            return "FALSE"
        return (f"{column} IN ("
                + ", ".join(f"{_text(v)}::{self.alias}.e_{column}" for v in held) + ")")


#: Writes one query's SQL from a resolved manifest and its ``read_parquet`` source.
_SqlBuilder = Callable[[_Snapshot, str], str]

#: The SQL of each key, and its numpy type.
_KEYS: dict[str, tuple[str, type]] = {
    "authority": ("la_code", object),
    "month": ("(CAST(substr(month, 1, 4) AS INTEGER) - 1970) * 12 "
              "+ CAST(substr(month, 6, 2) AS INTEGER) - 1", np.int64),
}


class DuckDBExecutor(Executor):
    """Runs the core query as SQL over the Parquet files the committed manifest lists.

    Nothing is preloaded: every query reads the manifest (a small JSON file), resolves each
    listed file to where it is now (``incidents/...`` or its staging path, as
    :meth:`geo.store.Store.read` does), and lets DuckDB read only the columns it needs from
    only the year partitions the dates allow. Files staged but not yet listed are never read,
    and a batch is visible to the next query after its manifest commits.

    What is kept between queries is small and keyed by the manifest, so a commit makes it
    stale at once: the categories and sources the store holds (to validate filters as the
    numpy executor does), and the keys each scope lists (every cell, authority or month
    holding any of its rows, read in one pass of that column the first time it is asked).

    Parameters
    ----------
    store : Store
        The incident store.
    threads : int, optional
        DuckDB worker threads (default: DuckDB's, one per core).
    memory_limit : str, optional
        DuckDB's memory limit, e.g. ``"1GB"`` (default: the setting
        ``HOTSPOT_DUCKDB_MEMORY_MB``, :attr:`geo.settings.Limits.duckdb_memory_mb`).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> ex = DuckDBExecutor(Store(Path(tempfile.mkdtemp())))
    >>> ex.cell_counts(CoreQuery(Filters()), 9).keys.size
    0
    >>> ex.day_hour_grid(CoreQuery(Filters())).shape
    (7, 24)
    """

    name = "duckdb"

    def __init__(self, store: Store, *, threads: int | None = None,
                 memory_limit: str | None = None, use_index: bool = True) -> None:
        self.store = store
        self.use_index = use_index
        config: dict[str, str | bool | int | float | list[str]] = {}
        if threads is not None:
            config["threads"] = int(threads)
        config["memory_limit"] = (str(memory_limit) if memory_limit is not None
                                  else f"{limits().duckdb_memory_mb}MB")
        spill = spill_directory(store)
        config["temp_directory"] = str(spill)
        config["max_temp_directory_size"] = _spill_cap(spill)
        self._con = duckdb.connect(":memory:", config=config)
        # removed when the executor is closed or collected, and at the process's exit
        self._spill = weakref.finalize(self, shutil.rmtree, spill, True)
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None
        self._keys: dict[tuple[object, ...], np.ndarray] = {}
        #: Answers over every row in a scope, kept with the files they were read from
        #: (:meth:`_grown`); each file's columns as its footer lists them.
        self._grown_answers: dict[object, tuple[frozenset[str], Any]] = {}
        self._file_columns: dict[str, frozenset[str]] = {}
        #: The query index in force, as last found: (pointer stamp, index, alias, labels).
        self._index_found: tuple[Any, Any, str, Mapping[str, frozenset[str]]] | None = None
        self._attached: list[str] = []

    def close(self) -> None:
        """Close the DuckDB connection and remove its spill folder."""
        self._con.close()
        self._spill()

    # -- the query index ---------------------------------------------------------------------
    def _index(self) -> tuple[Any, str, Mapping[str, frozenset[str]]] | None:
        """Return the store's query index in force (attached), its alias and labels, or None.

        The pointer is looked at on every query (one ``stat``); a new index is attached
        read-only when it appears, and the one before kept attached for queries still on it.
        """
        from geo import queryindex

        if not self.use_index:
            return None
        stamp = queryindex.pointer_stamp(self.store)
        found = self._index_found
        if found is not None and found[0] == stamp:
            return found[1:] if found[1] is not None else None
        with self._lock:
            found = self._index_found
            if found is not None and found[0] == stamp:
                return found[1:] if found[1] is not None else None
            index = queryindex.current(self.store) if stamp is not None else None
            if index is None:
                self._index_found = (stamp, None, "", {})
                return None
            alias = f"qi_{index.path.stem.replace('-', '_')}"
            if alias not in self._attached:
                try:
                    self._con.execute(f"ATTACH {_text(str(index.path))} AS {alias} (READ_ONLY)")
                except duckdb.Error:  # replaced in between, or unreadable: read the files
                    self._index_found = (stamp, None, "", {})
                    return None
                self._attached.append(alias)
                for old in self._attached[:-2]:  # the one before may still be in a query
                    self._con.execute(f"DETACH {old}")
                self._attached = self._attached[-2:]
            try:
                labels = queryindex.labels(self._con, alias)
            except duckdb.Error:  # a DuckDB file, but not an index: read the files
                self._index_found = (stamp, None, "", {})
                return None
            self._index_found = (stamp, index, alias, labels)
            return self._index_found[1:]

    def _index_unreadable(self, exc: Exception) -> None:
        """Set the index in force aside until its pointer changes (the files are read)."""
        import logging

        with self._lock:
            found = self._index_found
            if found is None or found[1] is None:
                return
            self._index_found = (found[0], None, "", {})
        logging.getLogger("hotspot.engines").warning(
            "The query index %s could not be read (%s): the store's files are read instead "
            "until it is built again (hotspot index).", found[1].path,
            str(exc).splitlines()[0][:200])

    def _sources(self, manifest: Manifest, paths: Sequence[str], snap: _Snapshot,
                 indexed: bool) -> list[tuple[str, _Snapshot]]:
        """Return each scan's source and the snapshot its SQL is built on.

        With ``indexed``, the files the query index holds are read from it and the rest (the
        files committed since it was built) from Parquet.
        """
        got = self._index() if indexed else None
        if got is not None:
            index, alias, labels = got
            rest = [p for rel, p in zip(manifest.files, paths, strict=True)
                    if rel not in index.files]
            if len(rest) < len(paths):
                listed = set(manifest.files)
                use = _IndexUse(alias, labels, tuple(sorted(
                    i for rel, i in index.files.items() if rel not in listed)),
                    index.months_agree)
                on_index = replace(snap, columns=index.columns | {"year"}, file_columns={},
                                   index=use)
                return [(f"{alias}.incidents", on_index),
                        *((self._source(files), group)
                          for files, group in self._groups(rest, snap))]
        return [(self._source(files), group) for files, group in self._groups(paths, snap)]

    # -- the store -------------------------------------------------------------------------
    def _resolve(self, manifest: Manifest) -> list[str]:
        """Return each listed file's path now: in ``incidents/``, else at its staging path.

        A file in neither place was moved in between the two looks (it is in ``incidents/``
        now) or was dropped by a newer commit (DuckDB's open fails and the query starts again
        from the new manifest).
        """
        return [str(self.store.path_now(rel)) for rel in manifest.files]

    @staticmethod
    def _source(paths: Sequence[str]) -> str:
        return (f"read_parquet({_text_list(paths)}, hive_partitioning = true, "
                "hive_types = {'year': INTEGER}, union_by_name = true)")

    # -- running SQL: here in this process; the Dask executor sends it to workers ---------
    def _chunks(self, paths: Sequence[str]) -> list[list[str]]:
        """Split the files one scan reads into the groups each SQL statement reads."""
        return [list(paths)]

    def _execute(self, statements: Sequence[str], arrow: bool = False) -> list[Any]:
        """Run each SQL statement and return each one's rows (an Arrow table with ``arrow``)."""
        cur = self._con.cursor()
        try:
            return [_fetch(cur.execute(sql), arrow) for sql in statements]
        finally:
            cur.close()

    def _snapshot_of(self, manifest: Manifest, paths: Sequence[str]) -> _Snapshot:
        """Return what ``manifest``'s files hold (columns, labels), read once per manifest.

        Only files not seen before are read: a file's columns come from its footer, once,
        and the labels are grown from the files added (:meth:`_grown`).
        """
        old = self._snapshot
        if old is not None and old.manifest == manifest:
            return old
        rels = list(manifest.files)
        new = [(r, p) for r, p in zip(rels, paths, strict=True) if r not in self._file_columns]
        if new:
            by_path = {p: r for r, p in new}
            found: dict[str, set[str]] = {r: set() for r, _ in new}
            chunks = self._chunks([p for _, p in new])
            for file_name, column in _merge(self._execute([
                    f"SELECT DISTINCT file_name, name FROM parquet_schema({_text_list(chunk)})"
                    for chunk in chunks]), "distinct"):
                found[by_path[str(file_name)]].add(str(column))
            with self._lock:
                if len(self._file_columns) > 100_000:
                    self._file_columns.clear()
                self._file_columns.update({r: frozenset(c) for r, c in found.items()})
        file_columns = {p: self._file_columns[r] for r, p in zip(rels, paths, strict=True)}
        draft = _Snapshot(manifest, frozenset().union(*file_columns.values()) | {"year"},
                          [], [], file_columns)
        labels = self._grown(
            ("labels",), rels, paths, draft,
            lambda _snap, src: (f"SELECT DISTINCT 'category', category FROM {src} "
                                f"WHERE month >= {_text(_FIRST_MONTH)} UNION "
                                f"SELECT DISTINCT 'source', source FROM {src} "
                                f"WHERE month >= {_text(_FIRST_MONTH)}"), _distinct)
        snap = _Snapshot(
            manifest, draft.columns,
            sorted(str(v) for k, v in labels if k == "category" and v is not None),
            sorted(str(v) for k, v in labels if k == "source" and v is not None),
            file_columns)
        with self._lock:
            self._snapshot = snap
            self._keys.clear()
        return snap

    def _grown(self, key: object, rels: Sequence[str], paths: Sequence[str], snap: _Snapshot,
               build: _SqlBuilder, merge: Callable[[list[Any]], Any],
               arrow: bool = False) -> Any:
        """Return an answer over every file listed, reading only files it has not read.

        For answers over all the rows of a scope (no filter), which every store version
        needs once: the scope's keys, its totals, the streets that name places. A stored
        file never changes, so an answer over some files stays true for them: a commit that
        adds files (an ingest, a feed) needs only the new ones read, and ``merge`` joins the
        answer kept to the new files' answers (it is given a list of answers: rows, or Arrow
        tables with ``arrow``). A commit that drops a file (compaction, the sample replaced)
        reads them all again. Files are known by their names in the manifest, so a file
        moved from staging into place is the same file.
        """
        files = frozenset(rels)
        with self._lock:
            hit = self._grown_answers.get(key)
        if hit is not None and hit[0] == files:
            return hit[1]
        base: list[Any] = []
        todo = list(paths)
        if hit is not None and hit[0] <= files:
            base = [hit[1]]
            todo = [p for r, p in zip(rels, paths, strict=True) if r not in hit[0]]
        parts = self._execute([build(group_snap, self._source(chunk))
                               for chunk, group_snap in self._groups(todo, snap)],
                              arrow) if todo else []
        answer = merge([*base, *parts])
        with self._lock:
            if len(self._grown_answers) > 256:
                self._grown_answers.clear()
            self._grown_answers[key] = (files, answer)
        return answer

    def _groups(self, paths: Sequence[str], snap: _Snapshot
                ) -> list[tuple[list[str], _Snapshot]]:
        """Return the file groups one query reads, each with the snapshot its SQL is built on.

        In one DuckDB scan ``union_by_name`` gives a column some older files lack as null.
        A scan split across workers must not send a group of only those files SQL naming
        it, so files are grouped by their columns and each group gets its own.
        """
        by_columns: dict[frozenset[str], list[str]] = {}
        for p in paths:
            by_columns.setdefault(snap.file_columns.get(p, snap.columns), []).append(p)
        if len(by_columns) == 1 and next(iter(by_columns)) | {"year"} == snap.columns:
            return [(chunk, snap) for chunk in self._chunks(paths)]
        return [(chunk, _with_columns(snap, columns | {"year"}))
                for columns, files in by_columns.items() for chunk in self._chunks(files)]

    def _run(self, query: CoreQuery, build: _SqlBuilder, sums: int = 1, indexed: bool = False
             ) -> tuple[_Snapshot, list[str], list[tuple[object, ...]]] | None:
        """Run the SQL ``build`` writes for the manifest in force; None for an empty store.

        ``build`` groups and counts (its last ``sums`` columns counts), so the answers of
        split scans are summed. A listed file that vanishes mid-query was dropped by a newer
        commit (or moved from staging into place): the query starts again from the manifest
        then in force. ``indexed``: ``build`` names only columns the query index holds, so it
        may be read from the index (:meth:`_sources`).
        """
        if query.filters == Filters():
            return self._run_everything(query, build, sums)
        found = self._run_parts(query, build, indexed=indexed)
        if found is None:
            return None
        snap, paths, parts = found
        return snap, paths, _merge(parts, "sum", sums)

    def _run_everything(self, query: CoreQuery, build: _SqlBuilder, sums: int
                        ) -> tuple[_Snapshot, list[str], list[tuple[object, ...]]] | None:
        """:meth:`_run` for a query with no filter: grown file by file (:meth:`_grown`)."""
        def work(manifest: Manifest, paths: list[str], snap: _Snapshot
                 ) -> tuple[_Snapshot, list[str], list[tuple[object, ...]]]:
            # the statement itself, over a stand-in source, says what is counted
            key = ("everything", build(snap, "<files>"), sums)
            return snap, paths, self._grown(key, list(manifest.files), paths, snap, build,
                                            lambda parts: _merge(parts, "sum", sums))

        return self._attempt(work, lambda: None)

    def _attempt(self, work: Callable[[Manifest, list[str], _Snapshot], Any],
                 empty: Callable[[], Any]) -> Any:
        """Run ``work`` on the manifest in force (``empty()`` for an empty store).

        A listed file that vanishes mid-query was dropped by a newer commit (or moved from
        staging into place): the work starts again from the manifest then in force.
        """
        for attempt in range(5):
            manifest = self.store.manifest()
            if not manifest.files:
                return empty()
            paths = self._resolve(manifest)
            try:
                return work(manifest, paths, self._snapshot_of(manifest, paths))
            except duckdb.IOException:
                if attempt == 4:
                    raise
                time.sleep(0.05)
        raise AssertionError("unreachable")

    def _run_parts(self, query: CoreQuery, build: _SqlBuilder, arrow: bool = False,
                   indexed: bool = False) -> tuple[_Snapshot, list[str], list[Any]] | None:
        """Run the SQL ``build`` writes on each group of files; each group's rows, unmerged.

        With ``arrow`` each group's rows come back as an Arrow table. ``indexed``: as for
        :meth:`_run`.
        """
        def work(manifest: Manifest, paths: list[str], snap: _Snapshot
                 ) -> tuple[_Snapshot, list[str], list[Any]]:
            sources = self._sources(manifest, paths, snap, indexed)
            got: list[Any] = []
            use = sources[0][1].index
            if use is not None:
                try:
                    got = self._execute([build(sources[0][1], sources[0][0])], arrow)
                    sources = sources[1:]
                except (duckdb.IOException, duckdb.CatalogException,
                        duckdb.BinderException) as exc:
                    # replaced twice in between (its alias detached): read from the one now;
                    # damaged, or not an index: set aside, the files read instead
                    if use.alias in self._attached:
                        self._index_unreadable(exc)
                    sources = self._sources(manifest, paths, snap, indexed)
                    if sources[0][1].index is not None:
                        got = self._execute([build(sources[0][1], sources[0][0])], arrow)
                        sources = sources[1:]
            got += self._execute([build(group_snap, source) for source, group_snap in sources],
                                 arrow)
            return snap, paths, [_plain_text(t) for t in got] if arrow else got

        def empty() -> None:
            self._where(query, None)  # a filter naming absent values still fails

        return self._attempt(work, empty)

    # -- SQL -------------------------------------------------------------------------------
    @staticmethod
    def _scope(query: CoreQuery, dated_from_1970: bool = False,
               index: _IndexUse | None = None) -> str:
        """Return the SQL condition for the rows that exist for the principal.

        ``dated_from_1970``: the filters already bound ``month`` from 1970 on, so the scope's
        own bound is left out (one string comparison per row fewer). With ``index``, for the
        query index: months as numbers, text as codes, and its rows of files no longer
        listed left out.
        """
        scope = [] if dated_from_1970 else [
            f"month >= {_text(_FIRST_MONTH)}" if index is None
            else "d0 >= DATE '1970-01-01'" if index.months_agree else "mi >= 0"]
        if index is not None and index.gone:
            scope.append(f"fid NOT IN ({', '.join(str(i) for i in index.gone)})")
        if query.areas is not None:
            scope.append(index.coded_in("la_code", sorted(query.areas)) if index is not None
                         else _in("la_code", sorted(query.areas)))
        if query.drop_domestic:
            scope.append("domestic IS NOT TRUE")
        if query.drop_health:
            health = index.coded_in("source", HEALTH_SOURCES) if index is not None else (
                f"source IN ({_text_list(HEALTH_SOURCES)[1:-1]})")
            # as NOT IN on the files: a row without a source is left out too
            scope.append("source IS NOT NULL" if health == "FALSE" else f"NOT ({health})")
        return " AND ".join(scope) or "TRUE"

    @staticmethod
    def _where(query: CoreQuery, snap: _Snapshot | None) -> str:
        """Return the SQL condition for the rows ``query`` counts.

        Selects what :meth:`geo.query.QueryLayer.select` selects, within the scope, written
        for speed over a large store (the conformance test holds the two to the same rows):

        * A date range is a plain bound on ``month`` (which row-group statistics prune: files
          are in time order) and on the ``year`` partitions, plus, for dated rows, the
          dates: ``COALESCE(local_date >= a AND local_date <= b, TRUE)``. A month-only row
          (no ``local_date``) is kept when its month overlaps the range, which the month
          bound alone decides; a dated row's ``month`` is its local date's month, so for it
          the month bound is implied by the dates.
        * Weekdays and an hour band together are one list of (weekday, hour) slots,
          ``dow * 32 + hour``: a band wrapping midnight is a night, its small hours counted
          with the day before. A row with a day but no hour (``hour = -1``) falls in slot
          ``dow * 32 - 1``, which no list holds.
        * Lists of values are ``IN`` lists, which DuckDB checks faster than ``list_contains``;
          categories also get their range (lowest to highest chosen), which row-group
          statistics prune and an ``IN`` list does not.

        On the query index (:mod:`geo.queryindex`) the same conditions are written on its
        worked-out columns: the month as a number (``mi``), the slot as stored, text as
        codes, the precision as the finest resolution; the first and last day a row can fall
        on (``d0``, ``d1``) add a bound the dates imply, by which its blocks are skipped.
        """
        f = query.filters
        ix = snap.index if snap is not None else None
        sel = [DuckDBExecutor._scope(query, dated_from_1970=f.start is not None
                                     and f.start.year >= 1970, index=ix)]
        if ix is not None and ix.months_agree and (f.start is not None or f.end is not None):
            # a dated row's first and last days are its date, a month-only row's its month's
            # (and the month is the date's): these two bounds are the whole condition
            if f.start is not None:
                sel.append(f"d1 >= DATE {_text(f.start.isoformat())}")
            if f.end is not None:
                sel.append(f"d0 <= DATE {_text(f.end.isoformat())}")
        elif f.start is not None or f.end is not None:
            dated = []
            if f.start is not None:
                sel.append(f"mi >= {_month_number(f.start)}" if ix is not None
                           else f"month >= {_text(f.start.isoformat()[:7])}")
                sel.append(f"year >= {int(f.start.year)}")
                dated.append(f"local_date >= DATE {_text(f.start.isoformat())}")
                if ix is not None:  # implied by the two above: for the blocks' bounds
                    sel.append(f"d1 >= DATE {_text(f.start.isoformat())}")
            if f.end is not None:
                sel.append(f"mi <= {_month_number(f.end)}" if ix is not None
                           else f"month <= {_text(f.end.isoformat()[:7])}")
                sel.append(f"year <= {int(f.end.year)}")
                dated.append(f"local_date <= DATE {_text(f.end.isoformat())}")
                if ix is not None:
                    sel.append(f"d0 <= DATE {_text(f.end.isoformat())}")
            sel.append(f"COALESCE({' AND '.join(dated)}, TRUE)")
        if f.days is not None and f.hours is not None:
            start, end = f.hours
            slots = sorted(
                ((day + 1) % 7 if start > end and hour < end else day) * 32 + hour
                for day in f.days for hour in hours_in_band(start, end))
            slot = "slot" if ix is not None else "CAST(dow AS SMALLINT) * 32 + hour"
            sel.append(f"{slot} IN ({', '.join(map(str, slots))})" if slots else "FALSE")
        elif f.days is not None:
            days = ", ".join(str(int(d)) for d in sorted(f.days))
            sel.append(f"dow IN ({days})" if days else "FALSE")
        elif f.hours is not None:
            sel.append(f"hour IN ({', '.join(str(h) for h in hours_in_band(*f.hours))})")
        known = (snap.categories, snap.sources) if snap is not None else ([], [])
        for column, param, labels, wanted in (
                ("category", "categories", known[0], f.categories),
                ("source", "source", known[1], f.sources)):
            lut = _lut(labels, wanted, param)  # FilterError, worded as the numpy executor's
            if lut is not None:
                chosen = sorted(lab for lab, keep in zip(labels, lut, strict=True) if keep)
                if ix is not None:
                    sel.append(ix.coded_in(column, chosen))
                    continue
                if chosen and column == "category":
                    # files are sorted by month, then category: a plain range lets DuckDB
                    # skip row groups by their statistics, which an IN list alone does not
                    sel.append(f"category >= {_text(chosen[0])} "
                               f"AND category <= {_text(chosen[-1])}")
                sel.append(_in(column, chosen))
        if f.areas is not None:
            sel.append(ix.coded_in("la_code", sorted(set(f.areas))) if ix is not None
                       else _in("la_code", sorted(set(f.areas))))
        if f.exclude_domestic:
            sel.append("domestic IS NOT TRUE")
        return " AND ".join(sel)

    def _key_list(self, query: CoreQuery, key_sql: str, dtype: type, snap: _Snapshot,
                  paths: Sequence[str]) -> np.ndarray:
        """Return every key holding a row in the query's scope, once per manifest and scope."""
        cache = (snap.manifest.version, query.areas, query.drop_domestic, query.drop_health,
                 key_sql)
        hit = self._keys.get(cache)
        if hit is not None:
            return hit
        scope = self._scope(query)
        found = [r[0] for r in self._grown(
            ("keys", scope, key_sql), list(snap.manifest.files), paths, snap,
            lambda _snap, src: f"SELECT DISTINCT {key_sql} FROM {src} WHERE {scope}",
            _distinct)]
        keys: np.ndarray = (np.array(sorted(found, key=str), dtype=object) if dtype is object
                            else np.sort(np.array(found, dtype=dtype)))
        with self._lock:
            if len(self._keys) > 64:
                self._keys.clear()
            if self._snapshot is snap:
                self._keys[cache] = keys
        return keys

    def _tally(self, query: CoreQuery, key: str, res: int | None,
               by_category: bool) -> _Tally:
        dtype: type
        if key == "cell":
            key_sql, dtype = f"h3_{int(res or 0)}", np.uint64
        elif key in _KEYS:
            key_sql, dtype = _KEYS[key]
        else:
            raise ValueError(f"unknown key {key!r}")

        def build(snap: _Snapshot, src: str) -> str:
            sel = self._where(query, snap)
            if key == "cell":
                sel += f" AND {_fine_enough(snap, int(res or 0))}"
            cat = ", category" if by_category else ""
            return f"SELECT {key_sql} AS k{cat}, count(*) AS n FROM {src} WHERE {sel} GROUP BY ALL"

        found = self._run(query, build, indexed=True)
        if found is None:
            return _Tally(np.zeros(0, dtype=dtype), [], np.zeros((0, 1), dtype=np.int64))
        snap, paths, rows = found
        return self._shape(rows, self._key_list(query, key_sql, dtype, snap, paths), dtype,
                           by_category)

    def core(self, query: CoreQuery, res: int,
             harm_weights: Mapping[str, float] | None = None) -> tuple[KeyedCounts, KeyedCounts]:
        """Count per cell and per authority in one scan: the :meth:`summary`'s."""
        got = self.summary(query, res, harm_weights)
        return got.cells, got.authorities

    def summary(self, query: CoreQuery, res: int,
                harm_weights: Mapping[str, float] | None = None,
                keyed: bool = False) -> Summary:
        """Count cells, authorities, the grid and the totals in one scan (``GROUPING SETS``)."""
        if res not in H3_RESOLUTIONS:
            raise ValueError(f"{res} is not a stored H3 resolution; choose one of "
                             f"{H3_RESOLUTIONS}")
        by_category = bool(harm_weights)
        cell_sql = f"h3_{int(res)}"
        cat = ", category" if by_category else ""

        def build(snap: _Snapshot, src: str) -> str:
            fine = _fine_enough(snap, res)
            keys = ""
            if keyed:
                if "rkey" not in snap.columns:
                    raise UnkeyedRecords(len(self.store.unkeyed_files(snap.manifest)))
                keys = (f"CAST(sum(rkey) FILTER (WHERE {fine}) AS BIGINT) AS k_fine, "
                        "CAST(sum(rkey) AS BIGINT) AS k, "
                        "count(*) FILTER (WHERE rkey IS NULL) AS k_missing, ")
            # kind: GROUPING's bits, one per key left out (see below)
            return (f"SELECT GROUPING({cell_sql}, la_code, dow) AS kind, {cell_sql}, la_code, "
                    f"dow, hour{cat if by_category else ', NULL'} AS category, {keys}"
                    f"count(*) FILTER (WHERE {fine}) AS n_fine, "
                    "count(*) FILTER (WHERE time_precision = 'month') AS n_month, "
                    f"count(*) AS n FROM {src} WHERE {self._where(query, snap)} "
                    f"GROUP BY GROUPING SETS (({cell_sql}{cat}), (la_code{cat}), (dow, hour), ())")

        found = self._run_parts(query, build, arrow=True, indexed=True)
        grid = np.zeros((7, 24), dtype=np.int64)
        if found is None:
            empty = _Tally(np.zeros(0, dtype=np.uint64), [], np.zeros((0, 1), dtype=np.int64))
            none = _Tally(np.zeros(0, dtype=object), [], np.zeros((0, 1), dtype=np.int64))
            no_keys = np.zeros(0, dtype=np.int64) if keyed else None
            return Summary(replace(_weigh(empty, harm_weights), record_keys=no_keys),
                           replace(_weigh(none, harm_weights), record_keys=no_keys), grid, 0, 0)
        snap, paths, parts = found
        table = pa.concat_tables(parts)
        if len(parts) > 1:  # split scans: add up each group's counts
            keys = ["kind", cell_sql, "la_code", "dow", "hour", "category"]
            summed = [*(["k_fine", "k", "k_missing"] if keyed else []), "n_fine", "n_month", "n"]
            table = table.group_by(keys, use_threads=False).aggregate(
                [(c, "sum") for c in summed]).rename_columns([*keys, *summed])
        kind = np.asarray(table.column("kind").to_numpy(), dtype=np.int64)
        n = np.asarray(table.column("n").to_numpy(), dtype=np.int64)
        fine = np.asarray(table.column("n_fine").to_numpy(), dtype=np.int64)
        cats = table.column("category") if by_category else None
        if keyed and pc.sum(table.column("k_missing")).as_py():
            raise UnkeyedRecords(len(self.store.unkeyed_files(snap.manifest)))

        def key_sums(mask: np.ndarray, column: str, tally: _Tally) -> np.ndarray:
            """Lay one grouping's record-key sums (``column``) out on the tally's keys."""
            keep = pa.array(mask)
            values = np.asarray(pc.fill_null(table.column(column).filter(keep), 0).to_numpy(
                zero_copy_only=False), dtype=np.int64)
            if column == "k_fine":
                got = np.asarray(table.column(cell_sql).filter(keep).to_numpy(), np.uint64)
                at = np.searchsorted(tally.keys, got)
            else:
                got = np.array(table.column("la_code").filter(keep).to_pylist(), dtype=str)
                at = np.searchsorted(tally.keys.astype(str), got)
            out = np.zeros(len(tally.keys), dtype=np.int64)
            np.add.at(out, at, values)
            return out

        def rows_of(mask: np.ndarray, column: str) -> tuple[Any, Any]:
            keep = pa.array(mask)
            return (table.column(column).filter(keep),
                    None if cats is None else cats.filter(keep))

        # GROUPING(cell, la_code, dow): 3 = 0b011 cells, 5 = 0b101 authorities,
        # 6 = 0b110 weekday and hour, 7 = all
        is_cell = (kind == 3) & (fine > 0)
        got, got_cats = rows_of(is_cell, cell_sql)
        cells = self._shape_arrays(
            np.asarray(got.to_numpy(), dtype=np.uint64), got_cats, fine[is_cell],
            self._key_list(query, cell_sql, np.uint64, snap, paths), np.uint64)
        is_area = kind == 5
        got, got_cats = rows_of(is_area, "la_code")
        areas = self._shape_arrays(
            np.array(got.to_pylist(), dtype=object), got_cats, n[is_area],
            self._key_list(query, _KEYS["authority"][0], object, snap, paths), object)
        is_grid = kind == 6
        dow = np.asarray(rows_of(is_grid, "dow")[0].to_numpy(), dtype=np.int64)
        hour = np.asarray(rows_of(is_grid, "hour")[0].to_numpy(), dtype=np.int64)
        ok = (dow >= 0) & (hour >= 0)
        np.add.at(grid, (dow[ok], hour[ok]), n[is_grid][ok])
        whole = kind == 7
        month_only = np.asarray(table.column("n_month").to_numpy(), dtype=np.int64)
        cell_counts, area_counts = _weigh(cells, harm_weights), _weigh(areas, harm_weights)
        if keyed:
            cell_counts = replace(cell_counts, record_keys=key_sums(is_cell, "k_fine", cells))
            area_counts = replace(area_counts, record_keys=key_sums(is_area, "k", areas))
        return Summary(cell_counts, area_counts, grid, int(n[whole].sum()),
                       int(month_only[whole].sum()))

    @staticmethod
    def _shape_arrays(got: np.ndarray, cats: Any, counts: np.ndarray, keys: np.ndarray,
                      dtype: type) -> _Tally:
        """Lay keys (with their categories, for harm) and their counts out on ``keys``."""
        sorted_keys = keys.astype(str) if dtype is object else keys
        index = np.searchsorted(sorted_keys, got.astype(str) if dtype is object else got)
        if cats is None:
            return _Tally(keys, [], _matrix(index, len(keys), np.zeros(len(index), np.int64),
                                            1, counts))
        values = np.array([str(c) for c in cats.to_pylist()], dtype=str)
        labels = sorted(set(values.tolist()))
        cat_index = np.searchsorted(np.array(labels, dtype=str), values)
        return _Tally(keys, labels, _matrix(index, len(keys), cat_index, len(labels), counts))

    @staticmethod
    def _shape(rows: list[tuple[object, ...]], keys: np.ndarray, dtype: type,
               by_category: bool) -> _Tally:
        """Lay (key, [category,] count) rows out on ``keys``."""
        cols: list[Sequence[object]] = (list(zip(*rows, strict=True)) if rows
                                        else [[], [], []])
        cats = pa.array([str(c) for c in cols[1]], pa.string()) if by_category else None
        return DuckDBExecutor._shape_arrays(np.array(cols[0], dtype=dtype), cats,
                                            np.array(cols[-1] if rows else [], dtype=np.int64),
                                            keys, dtype)

    def day_hour_grid(self, query: CoreQuery) -> np.ndarray:  # noqa: D102 (inherited)
        def build(snap: _Snapshot, src: str) -> str:
            return (f"SELECT dow, hour, count(*) AS n FROM {src} "
                    f"WHERE {self._where(query, snap)} AND dow >= 0 AND hour >= 0 GROUP BY ALL")

        grid = np.zeros((7, 24), dtype=np.int64)
        found = self._run(query, build, indexed=True)
        for dow, hour, n in found[2] if found is not None else []:
            grid[int(dow), int(hour)] = int(n)  # type: ignore[call-overload]
        return grid


    def totals(self, query: CoreQuery) -> Totals:  # noqa: D102 (inherited)
        # counted by first and last day (a month-only row's month's), so split scans and
        # files added later merge by adding up
        def build(snap: _Snapshot, src: str) -> str:
            month_start = "CAST(month || '-01' AS DATE)"
            return (f"SELECT COALESCE(local_date, {month_start}) AS first, "
                    f"COALESCE(local_date, last_day({month_start})) AS last, "
                    "count(*), count(*) FILTER (WHERE time_precision = 'month'), "
                    f"count(domestic) FROM {src} WHERE {self._where(query, snap)} GROUP BY ALL")

        found = self._run(query, build, sums=3, indexed=True)
        rows = [r for r in (found[2] if found is not None else []) if r[2]]
        if not rows:
            return Totals(0, 0, None, None, False)
        epoch = date(1970, 1, 1)
        counts = np.array([r[2:5] for r in rows], dtype=np.int64)
        return Totals(int(counts[:, 0].sum()), int(counts[:, 1].sum()),
                      min((r[0] - epoch).days for r in rows),  # type: ignore[operator]
                      max((r[1] - epoch).days for r in rows),  # type: ignore[operator]
                      bool(counts[:, 2].any()))

    def labels(self) -> tuple[list[str], list[str]]:  # noqa: D102 (inherited)
        return self._attempt(
            lambda _m, _p, snap: (list(snap.categories), list(snap.sources)),
            lambda: ([], []))

    def month_only_months(self, query: CoreQuery) -> KeyedCounts:  # noqa: D102 (inherited)
        month_sql = _KEYS["month"][0]

        def build(snap: _Snapshot, src: str) -> str:
            return (f"SELECT {month_sql} AS m, count(*) FROM {src} WHERE {self._scope(query)} "
                    "AND time_precision = 'month' GROUP BY ALL")

        found = self._run(query, build)
        got = sorted((int(m), int(n)) for m, n in (found[2] if found is not None else []))  # type: ignore[call-overload]
        counts = np.array([n for _, n in got], dtype=np.int64)
        return KeyedCounts(np.array([m for m, _ in got], dtype=np.int64), counts,
                           counts.astype(np.float64))

    def extent(self, query: CoreQuery) -> tuple[float, float, float, float] | None:  # noqa: D102
        # counts per thousandth of a degree (about 70 m by 110 m), summed across split scans,
        # then the percentiles read off them: exact to a bin, in bounded memory
        def build(snap: _Snapshot, src: str) -> str:
            return (f"SELECT 'x', CAST(floor(lon * {_BINS}) AS BIGINT), count(*) FROM {src} "
                    f"WHERE {self._where(query, snap)} GROUP BY ALL UNION ALL "
                    f"SELECT 'y', CAST(floor(lat * {_BINS}) AS BIGINT), count(*) FROM {src} "
                    f"WHERE {self._where(query, snap)} GROUP BY ALL")

        found = self._run(query, build)
        if found is None or not found[2]:
            return None
        bounds = []
        for axis in ("x", "y"):
            got = sorted((int(b), int(n)) for a, b, n in found[2]  # type: ignore[call-overload]
                         if a == axis)
            bins = np.array([b for b, _ in got], dtype=np.float64)
            counts = np.array([n for _, n in got], dtype=np.int64)
            bounds.append((_binned_percentile(bins, counts, 0.5),
                           _binned_percentile(bins, counts, 99.5)))
        return bounds[0][0], bounds[1][0], bounds[0][1], bounds[1][1]

    def grouped_rows(  # noqa: D102 (inherited)
            self, query: CoreQuery, columns: Sequence[str], limit: int, *,
            res: int | None = None, cells: Sequence[int] | None = (),
            boxes: Sequence[Box] = (), present: Sequence[str] = (),
            keyed: bool = False, periods: Sequence[tuple[int, int]] = (),
            dated_only: bool = False) -> pa.Table:
        if res is not None and res not in H3_RESOLUTIONS:
            raise ValueError(f"{res} is not a stored H3 resolution")
        wanted = None if cells is None else ", ".join(str(int(c)) for c in cells) or "NULL"
        within = _within_sql(boxes)
        from geo.schema import STORED_SCHEMA

        spans = [(int(a), int(b)) for a, b in periods]
        if any(b < a for a, b in spans) or any(
                b0 >= a1 for (_, b0), (a1, _) in zip(spans, spans[1:], strict=False)):
            raise ValueError("periods must run oldest first, each ending on or after its "
                             "start and before the next starts")
        schema = pa.schema([*(STORED_SCHEMA.field(c) for c in columns),
                            *([pa.field("period", pa.int32())] if spans else []),
                            pa.field("n", pa.int64()),
                            *([pa.field("k", pa.int64())] if keyed else [])])

        def build(snap: _Snapshot, src: str) -> str:
            keys = ""
            if keyed:
                if "rkey" not in snap.columns:
                    raise UnkeyedRecords(len(self.store.unkeyed_files(snap.manifest)))
                keys = (", CAST(sum(rkey) AS BIGINT) AS k, "
                        "count(*) FILTER (WHERE rkey IS NULL) AS k_missing")
            sel = self._where(query, snap)
            if res is not None:
                sel += f" AND {_fine_enough(snap, res)}"
                if wanted is not None:
                    sel += f" AND h3_{int(res)} IN ({wanted})"
            if within:
                sel += f" AND ({within})"
            for column in present:
                sel += (f" AND {column} <> ''" if column in snap.columns else " AND FALSE")
            got = ", ".join(c if c in snap.columns else f"NULL AS {c}" for c in columns)
            if spans:
                got = f"{got}, " if got else ""
                # a row's day: its own, or a month-only row's month's first day
                when = ("CASE WHEN time_precision = 'month' THEN CAST(month || '-01' AS DATE) "
                        "ELSE local_date END")
                which = " ".join(f"WHEN d BETWEEN {_date_sql(a)} AND {_date_sql(b)} THEN {i}"
                                 for i, (a, b) in enumerate(spans))
                if dated_only:
                    sel += " AND time_precision IS DISTINCT FROM 'month'"
                return (f"SELECT * FROM (SELECT {got}"
                        f"CAST(CASE {which} END AS INTEGER) AS period, count(*) AS n{keys} "
                        f"FROM (SELECT *, {when} AS d FROM {src} WHERE {sel}) "
                        f"WHERE d BETWEEN {_date_sql(spans[0][0])} "
                        f"AND {_date_sql(spans[-1][1])} GROUP BY ALL) "
                        f"WHERE period IS NOT NULL LIMIT {int(limit) + 1}")
            return (f"SELECT {got}, count(*) AS n{keys} FROM {src} WHERE {sel} GROUP BY ALL "
                    f"LIMIT {int(limit) + 1}")

        def merge(parts: list[pa.Table]) -> pa.Table:
            if keyed and any(pc.sum(t.column("k_missing")).as_py() for t in parts
                             if "k_missing" in t.column_names):
                raise UnkeyedRecords(len(self.store.unkeyed_files(self.store.manifest())))
            tables = [t.drop_columns(["k_missing"]) if "k_missing" in t.column_names else t
                      for t in parts]
            tables = [t.cast(schema) for t in tables]
            grouping = [*columns, *(["period"] if spans else [])]
            if len(tables) == 1:
                # one statement's GROUP BY: each combination once already (adding them up
                # again would cost the web server twice the answer's size at its peak)
                return _sorted_groups(tables[0], grouping, limit)
            return _grouped(pa.concat_tables(tables), grouping, limit) if tables else \
                schema.empty_table()

        if query.filters == Filters() and res is None and not boxes and not spans:
            # every row of a scope (the streets that name places): grown file by file
            return self._attempt(
                lambda manifest, paths, snap: self._grown(
                    ("grouped", build(snap, "<files>")), list(manifest.files), paths, snap,
                    build, merge, arrow=True),
                schema.empty_table)
        from geo.queryindex import CODED, PLAIN

        indexed = not boxes and not spans and set(columns).union(present) <= {*CODED, *PLAIN}
        found = self._run_parts(query, build, arrow=True, indexed=indexed)
        return merge(found[2] if found is not None else [])


    def rows(self, query: CoreQuery, limit: int,  # noqa: D102 (inherited)
             boxes: Sequence[Box] = (), columns: Sequence[str] | None = None) -> pa.Table:
        from geo.schema import STORED_SCHEMA

        within = _within_sql(boxes)
        names = _stored_columns(columns)

        def build(snap: _Snapshot, src: str) -> str:
            got = ", ".join(c if c in snap.columns else f"NULL AS {c}" for c in names)
            # each row's file and place in it: to put the rows in the store's order
            placed = src[:-1] + ", filename = true, file_row_number = true)"
            sel = self._where(query, snap) + (f" AND ({within})" if within else "")
            return (f"SELECT {got}, filename AS _file, file_row_number AS _row "
                    f"FROM {placed} WHERE {sel} LIMIT {int(limit) + 1}")

        wanted = pa.schema([STORED_SCHEMA.field(c) for c in names])

        def count(snap: _Snapshot, src: str) -> str:
            sel = self._where(query, snap) + (f" AND ({within})" if within else "")
            return f"SELECT count(*) FROM (SELECT 1 FROM {src} WHERE {sel} LIMIT {int(limit) + 1})"

        # a read split into several parts (a cluster's tasks, files of older columns) counts
        # first: each part's own LIMIT would let parts x limit rows reach this process
        parts = self._attempt(lambda _m, paths, snap: len(self._groups(paths, snap)),
                              lambda: 0)
        if parts > 1:
            counted = self._run_parts(query, count)
            if counted is not None and sum(int(r[0][0]) for r in counted[2]) > limit:
                raise TooManyRows(limit)
        found = self._run_parts(query, build, arrow=True)
        if found is None:
            return wanted.empty_table()
        _snap, paths, parts = found
        if sum(t.num_rows for t in parts) > limit:
            raise TooManyRows(limit)
        schema = pa.schema([*wanted, pa.field("_file", pa.string()),
                            pa.field("_row", pa.int64())])
        table = pa.concat_tables([t.cast(schema) for t in parts])
        order = pc.sort_indices(pa.table({
            "file": pc.index_in(table.column("_file"), value_set=pa.array(paths)),
            "row": table.column("_row")}), [("file", "ascending"), ("row", "ascending")])
        return table.take(order).drop_columns(["_file", "_row"])


def _date_sql(day: int) -> str:
    """Return day number ``day`` (days since 1970-01-01) as a SQL date literal."""
    return f"DATE '{np.datetime64(int(day), 'D')}'"


def _binned_percentile(bins: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Return numpy's (linear) percentile ``q`` of values counted in bins of 1/_BINS degree.

    Each value is taken at its bin's centre, so the answer is within half a bin of numpy's.

    Examples
    --------
    >>> round(_binned_percentile(np.array([0.0, 10.0]), np.array([1, 1]), 50), 4)
    0.0055
    """
    cum = np.cumsum(counts)
    rank = q / 100 * (cum[-1] - 1)
    below, above = int(np.floor(rank)), int(np.ceil(rank))
    lo = bins[np.searchsorted(cum, below, side="right")]
    hi = bins[np.searchsorted(cum, above, side="right")]
    value = lo + (rank - below) * (hi - lo)
    return float((value + 0.5) / _BINS)


def _fine_enough(snap: _Snapshot, res: int) -> str:
    """Return the SQL condition for rows placed finely enough for H3 resolution ``res``.

    As :func:`geo.query.precise_enough`: health records placed by a postcode count to
    resolution 9, by an LSOA centroid to resolution 7. Files older than the column hold
    points only.
    """
    if snap.index is not None:
        return f"finest >= {int(res)}"  # the finest resolution, worked out at build
    if "location_precision" not in snap.columns:
        return "TRUE"
    return (f"CASE location_precision WHEN 'postcode' THEN {int(res)} <= 9 "
            f"WHEN 'lsoa' THEN {int(res)} <= 7 ELSE TRUE END")


def _month_number(day: date) -> int:
    """Return ``day``'s month as the query index numbers months (0 is January 1970).

    Examples
    --------
    >>> _month_number(date(1970, 1, 31)), _month_number(date(2024, 3, 1))
    (0, 650)
    """
    return (day.year - 1970) * 12 + day.month - 1


def _plain_text(table: pa.Table) -> pa.Table:
    """Return ``table`` with the query index's coded text (Arrow dictionaries) as text."""
    for i, field in enumerate(table.schema):
        if pa.types.is_dictionary(field.type):
            table = table.set_column(i, field.name,
                                     table.column(i).cast(field.type.value_type))
    return table


def _distinct(parts: list[Any]) -> list[tuple[object, ...]]:
    return _merge(parts, "distinct") if len(parts) != 1 else list(parts[0])


def _with_columns(snap: _Snapshot, columns: frozenset[str]) -> _Snapshot:
    """Return ``snap`` as one group of files sees it: with only their columns."""
    from dataclasses import replace

    return replace(snap, columns=columns)


def _merge(parts: Sequence[Sequence[tuple[object, ...]]], how: str,
           sums: int = 1) -> list[tuple[object, ...]]:
    """Combine the rows of one statement run on several groups of files.

    ``"sum"``: rows are (key..., count...) with ``sums`` counts, and a key's counts are
    added; ``"distinct"``: rows are kept once. One part is returned as it is.

    Examples
    --------
    >>> sorted(_merge([[("a", 2), ("b", 1)], [("a", 3)]], "sum"))
    [('a', 5), ('b', 1)]
    >>> sorted(_merge([[("a", 2, 1)], [("a", 3, 3)]], "sum", sums=2))
    [('a', 5, 4)]
    >>> sorted(_merge([[(1,), (2,)], [(2,), (3,)]], "distinct"))
    [(1,), (2,), (3,)]
    """
    if len(parts) == 1:
        return list(parts[0])
    if how == "distinct":
        return list(dict.fromkeys(row for part in parts for row in part))
    if how != "sum":
        raise ValueError(f"unknown merge {how!r}")
    totals: dict[tuple[object, ...], list[int]] = {}
    for part in parts:
        for row in part:
            key = tuple(row[:-sums])
            got = totals.setdefault(key, [0] * sums)
            for j, n in enumerate(row[-sums:]):
                got[j] += int(n)  # type: ignore[call-overload]
    return [(*key, *n) for key, n in totals.items()]


_WORKER = threading.local()
#: One worker thread at a time makes its spill folder (:func:`_worker_sql`).
_WORKER_LOCK = threading.Lock()


def _fetch(result: Any, arrow: bool) -> Any:
    """Return a DuckDB result's rows: an Arrow table (large answers) or a list of tuples."""
    return result.to_arrow_table() if arrow else result.fetchall()


def spill_directory(store: Store) -> Path:
    """Return a new folder, this executor's own, where DuckDB writes what it cannot hold.

    DuckDB's own default is ``.tmp`` under the working directory: incident rows would be
    spilled wherever the server happened to be started. They go inside the store instead,
    under its own protection, in ``<store>/spill/hotspot-duckdb-<host>-<pid>-<random>``
    (readable by this user only). Each executor has its own folder: DuckDB names its spill
    files by size alone, so two processes spilling into one folder would read each other's
    files, and one closing would delete the other's. A folder left by a process of this
    host that has died (a server killed while it spilled) is removed when the next is made.
    A store on read-only storage spills into the system's temporary space instead.

    Examples
    --------
    >>> root = Path(tempfile.mkdtemp())
    >>> a, b = spill_directory(Store(root)), spill_directory(Store(root))
    >>> a.parent == b.parent == root / "spill" and a != b
    True
    """
    try:
        base = store.root / "spill"
        base.mkdir(parents=True, exist_ok=True)
        if not os.access(base, os.W_OK):
            raise PermissionError(f"{base} is read-only")
    except OSError:
        base = Path(tempfile.gettempdir())
    return _own_folder(base)


def _own_folder(base: Path) -> Path:
    """Make this process's new spill folder in ``base``, clearing dead processes' first."""
    host = socket.gethostname().replace("-", "_")[:40] or "host"
    for old in base.glob(f"{_SPILL_PREFIX}{host}-*-*"):
        try:
            pid = int(old.name.split("-")[-2])
        except ValueError:
            continue
        if pid != os.getpid() and not _alive(pid):
            shutil.rmtree(old, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{_SPILL_PREFIX}{host}-{os.getpid()}-", dir=base))


#: Names every spill folder (so only those are ever cleared from the temporary space).
_SPILL_PREFIX = "hotspot-duckdb-"


def _alive(pid: int) -> bool:
    """Return whether process ``pid`` of this host is running (elsewhere than POSIX: yes).

    ``os.kill(pid, 0)`` only asks on POSIX; on Windows signal 0 is Ctrl+C, sent.
    """
    if os.name != "posix":
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process: alive
        return True
    return True


def _spill_cap(folder: Path) -> str:
    """Return DuckDB's cap on spilled data: half the space free beside ``folder``.

    DuckDB's own is 90% of it: one runaway query would leave the store's disk too full for
    the next commit. Past the cap the query fails in words; nothing is written half.
    """
    free = shutil.disk_usage(folder).free
    return f"{max(free // 2 // (1024 * 1024), 64)}MiB"


def _worker_sql(sql: str, arrow: bool = False) -> Any:
    """Run one SQL statement in a Dask worker thread, on that thread's DuckDB connection.

    One thread of DuckDB per worker thread: the cluster's threads are the parallelism. What
    does not fit in memory is spilled to a folder of the worker's temporary space, the
    connection's own, that only its user may read, never to the worker's working directory
    (DuckDB's default).
    """
    con = getattr(_WORKER, "con", None)
    if con is None:
        with _WORKER_LOCK:  # one thread at a time clears dead processes' folders
            folder = _own_folder(Path(tempfile.gettempdir()))
        atexit.register(shutil.rmtree, folder, True)
        # a folder per connection: two DuckDB instances in one folder collide (above)
        con = _WORKER.con = duckdb.connect(":memory:", config={
            "threads": 1, "temp_directory": str(folder),
            "max_temp_directory_size": _spill_cap(folder)})
    return _fetch(con.execute(sql), arrow)


class DaskExecutor(DuckDBExecutor):
    """Runs the DuckDB executor's SQL on the workers of a Dask cluster, files split among them.

    The same statements, built by the same code, are sent to the workers a group of the
    manifest's files at a time; each worker reads its files with DuckDB, and the grouped
    counts that come back are summed here. Counts are integers, so the answers are the DuckDB
    executor's (and the numpy reference's) to the last count, however the files are split.

    Workers must see the store at the same path as this process (a shared filesystem), and
    have this package installed. Dask buys scale across machines, not latency: each query
    pays the round trips to the scheduler. Nothing here uses ``dask.dataframe``, so the
    column-selected Parquet read that ``dask`` 2026.8.0 breaks on persist (dask/dask#12488)
    is never met.

    Parameters
    ----------
    store : Store
        The incident store.
    scheduler : str, optional
        The scheduler's address, e.g. ``tcp://10.0.0.7:8786``. Without one, a
        ``LocalCluster`` of ``workers`` processes is started here (and closed by
        :meth:`close`).
    workers : int
        Worker processes of the local cluster (ignored with ``scheduler``).
    threads_per_worker : int
        Threads in each local worker.
    tasks_per_thread : int
        How many groups of files each worker thread is given per query.
    client : distributed.Client, optional
        A client to share (left open by :meth:`close`); ``scheduler`` and the local cluster's
        settings are then not used.
    """

    name = "dask"

    def __init__(self, store: Store, *, scheduler: str | None = None, workers: int = 2,
                 threads_per_worker: int = 1, tasks_per_thread: int = 2,
                 client: Any = None) -> None:
        from distributed import Client, LocalCluster

        # the workers read the Parquet files; the query index is this machine's (one file)
        super().__init__(store, use_index=False)
        self._cluster = None
        self._own_client = client is None
        if client is not None:
            self.client = client
        elif scheduler is None:
            # everything on the loopback interface, the dashboard's web server on a free port:
            # a local cluster is reachable from this machine only
            self._cluster = LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                                         processes=True, host="127.0.0.1",
                                         dashboard_address="127.0.0.1:0")
            self.client = Client(self._cluster)
        else:
            # how long to try: Dask's setting distributed.comm.timeouts.connect (30 s unless
            # DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT says otherwise)
            self.client = Client(scheduler)
        self._tasks_per_thread = max(1, tasks_per_thread)

    def close(self) -> None:
        """Close the client and the local cluster, if this executor started them."""
        if self._own_client:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        super().close()

    def threads(self) -> int:
        """Return how many worker threads the cluster has now."""
        return max(1, sum(self.client.nthreads().values()))

    def _chunks(self, paths: Sequence[str]) -> list[list[str]]:
        n = max(1, min(len(paths), self.threads() * self._tasks_per_thread))
        return [list(paths[i::n]) for i in range(n) if paths[i::n]]

    def _execute(self, statements: Sequence[str], arrow: bool = False) -> list[Any]:
        futures = [self.client.submit(_worker_sql, sql, arrow, pure=False)
                   for sql in statements]
        return list(self.client.gather(futures))


def executor(name: str, store: Store, layer: QueryLayer | None = None,
             **dask_options: object) -> Executor:
    """Return the executor called ``name`` ("numpy", "duckdb" or "dask") over ``store``.

    Parameters
    ----------
    name : str
        ``"numpy"`` (the reference, in memory), ``"duckdb"`` (over the Parquet files) or
        ``"dask"`` (the DuckDB executor's SQL on a Dask cluster's workers).
    store : Store
        The incident store.
    layer : QueryLayer, optional
        The query layer the numpy executor computes with; by default a new one over
        ``store`` and the bundled authorities.
    **dask_options
        For ``"dask"``: ``scheduler``, ``workers``, ``threads_per_worker``
        (:class:`DaskExecutor`).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> executor("duckdb", Store(Path(tempfile.mkdtemp()))).name
    'duckdb'
    >>> executor("spark", Store(Path(tempfile.mkdtemp())))
    Traceback (most recent call last):
    ...
    ValueError: unknown engine 'spark'; the engines are numpy, duckdb, dask
    """
    if name == "duckdb":
        return DuckDBExecutor(store)
    if name == "numpy":
        if layer is None:
            from geo.boundaries import load_boundaries

            layer = QueryLayer(store, load_boundaries(None))
        return NumpyExecutor(layer)
    if name == "dask":
        return DaskExecutor(store, **dask_options)  # type: ignore[arg-type]
    raise ValueError(f"unknown engine {name!r}; the engines are numpy, duckdb, dask")
