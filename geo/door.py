"""The one door on an executor: the query layer's answers counted by DuckDB or Dask.

:class:`EngineLayer` is a :class:`~geo.query.QueryLayer` that never loads the store into
memory. It turns each validated filter and the pinned principal's scope into one
:class:`~geo.engines.CoreQuery` and asks an :class:`~geo.engines.Executor` for the counts;
what is shown is then built from those counts by the same code the in-memory layer uses
(the area table's names and rates, the ranked table's peak hours and names), so the two
layers agree figure for figure (``tests/unit/test_door.py`` holds them to it).

It serves every view. What is counted, it counts with the executor: the Explorer (the
selection count, the map's hexagons and areas, the day × hour grid, the ranked hexagons,
``/api/v1/aggregate``), the board and the trends by authority, and what the data hold.
What needs incidents one by one (the patrol plan and On shift, NTE zones, density and
clusters, hospital and ambulance, the backtest, evaluations, figures below whole
authorities) gets them as a *bounded selection* (:meth:`EngineLayer.within`): the
executor reads only the rows the view can select (at most ``HOTSPOT_MAX_SELECTION_ROWS``),
and the in-memory layer's own code works on them, so the figures are the in-memory ones.
A read too large is refused in words saying what to narrow. A view that asks for the whole
frame regardless raises :class:`NotOnEngine`, a :class:`~geo.query.FilterError` that the
pages and the API show as a plain message, never a guess and never a full load.
Roles whose small numbers are suppressed (partners, boards) get the same figures as from the
in-memory layer, to the unit: the executor counts and sums each row's stored record key, and
suppression and noise are applied here, once, by the in-memory layer's own functions.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Mapping as TMapping
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.access import Principal, Scope
from geo.engines import (
    Box,
    CoreQuery,
    Executor,
    Summary,
    TooManyRows,
    Totals,
    UnkeyedRecords,
)
from geo.query import (
    AUTHORITY,
    POINT_BOUND,
    BoardCounts,
    DisclosedAreas,
    FilterError,
    Filters,
    IncidentFrame,
    QueryLayer,
    Selection,
    TrendRows,
    _Pin,
    _text_codes,
    area_rows,
    busiest_by_area,
    disclose_cells,
    disclose_counts,
)
from geo.schema import HEALTH_SOURCES
from geo.settings import H3_RESOLUTIONS, limits
from geo.store import Manifest, Store

if TYPE_CHECKING:
    import contextvars

    from geo.boundaries import Boundaries

#: The hexagon resolution a figure without hexagons is counted with, when no other was asked.
DEFAULT_RES = 9
#: The resolution whose hexagons leave out what the point methods leave out (LSOA-placed
#: records; :func:`geo.query.precise_enough`).
POINT_RES = 9
#: Most distinct (map point, text) pairs the streets that name places are built from (a
#: national police.uk store holds a few million).
STREET_POINT_LIMIT = 10_000_000
#: Most rows one bounded read may bring to the web server (the ranked table's top cells).
ROW_LIMIT = 200_000
#: Most (month, source, authority) or (day, source) groups the board's counts may hold: ten
#: years of three sources in every authority of England and Wales is about 120,000.
BOARD_GROUP_LIMIT = 2_000_000
#: Most (hexagon, authority) pairs the board's busiest places are chosen from.
BOARD_CELL_LIMIT = 2_000_000
#: Most (day, authority, source) groups a trend is counted from: ten years of three sources
#: in every authority of England and Wales, each with incidents every day, is 3.6 million.
TREND_GROUP_LIMIT = 4_000_000
#: Filter sets whose trend rows are kept (each can hold millions of groups).
TREND_MEMO = 4
#: How to narrow figures below whole authorities when an engine refuses so many incidents.
BELOW_ADVICE = "a shorter date range, fewer crime types or one area"
#: Bounded selections kept (each up to ``geo.settings.limits().selection_rows`` incidents).
SELECTION_MEMO = 2
_EPOCH = np.datetime64("1970-01-01", "D")


class NotOnEngine(FilterError):
    """A figure this engine does not count yet; the message says what to do instead."""

    def __init__(self, what: str, engine: str) -> None:
        super().__init__("engine", f"{what} is not available while Hotspot runs on the "
                                   f"{engine} engine (for national-scale stores). Ask whoever "
                                   "runs Hotspot to serve it with the default engine, "
                                   "'hotspot serve --engine numpy', for this.")


class _NoFrame:
    """Stands where the in-memory layer keeps incident rows: any use says it is not here."""

    def __init__(self, engine: str) -> None:
        self._engine = engine

    def _refuse(self, *_args: object) -> NoReturn:
        raise NotOnEngine("This view", self._engine)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("__"):
            raise AttributeError(name)
        self._refuse()

    __and__ = __rand__ = __getitem__ = __len__ = __iter__ = __array__ = _refuse


@dataclass(frozen=True)
class Catalogue:
    """What the store holds, without its rows: what :meth:`QueryLayer.labels` is used for."""

    manifest: Manifest
    categories: list[str]
    sources: list[str]
    areas: list[str]
    totals: Totals


class EngineLayer(QueryLayer):
    """A query layer whose figures an executor counts; the store is never loaded whole.

    Parameters
    ----------
    store, boundaries
        As :class:`~geo.query.QueryLayer`.
    executor : Executor
        The engine that counts (:func:`geo.engines.executor`).
    **options
        The other :class:`~geo.query.QueryLayer` options.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from geo.boundaries import load_boundaries
    >>> from geo.engines import DuckDBExecutor
    >>> store = Store(Path(tempfile.mkdtemp()))
    >>> layer = EngineLayer(store, load_boundaries(None), DuckDBExecutor(store))
    >>> layer.status()["incidents"], layer.select(Filters()).count
    (0, 0)
    >>> layer.frame()
    Traceback (most recent call last):
    ...
    geo.door.NotOnEngine: engine: This view is not available while Hotspot runs on the duckdb ...
    """

    def __init__(self, store: Store, boundaries: Boundaries, executor: Executor,
                 **options: Any) -> None:
        super().__init__(store, boundaries, **options)
        self.executor = executor
        self.engine = executor.name
        self._trend_memo: dict[tuple[Any, ...], TrendRows] = {}
        self._selections: dict[tuple[Any, ...], _Selection] = {}
        #: The selections being read now, each with the lock its readers wait on.
        self._reading: dict[tuple[Any, ...], threading.Lock] = {}
        self._catalogue: Catalogue | None = None
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._last_res: dict[CoreQuery, int] = {}
        self._memo_lock = threading.Lock()

    # -- what is never here ----------------------------------------------------------------
    def _current(self) -> IncidentFrame:
        raise NotOnEngine("This view", self.engine)

    def frame(self) -> IncidentFrame:  # noqa: D102 (inherited)
        self._require_rows()
        raise NotOnEngine("This view", self.engine)

    def _require_rows(self) -> None:
        """Refuse an aggregate-only role what the in-memory layer's rows would give it."""
        with contextlib.suppress(NotOnEngine):
            super().frame()  # the pin's own refusal, word for word

    def pin(self, who: Principal) -> contextvars.Token[_Pin | None]:
        """Fix who asks for this context (the executor reads the manifest in force)."""
        nothing: Any = _NoFrame(self.engine)
        return self._pin.set(_Pin(who=who, scope=Scope.of(who), rows=nothing,
                                  authority=nothing))

    # -- what the store holds --------------------------------------------------------------
    def labels(self) -> Catalogue:  # type: ignore[override]
        """Return the categories, sources and authorities the store holds, and its manifest."""
        manifest = self.store.manifest()
        hit = self._catalogue
        if hit is not None and hit.manifest == manifest:
            return hit
        everything = CoreQuery(Filters())
        totals = self.executor.totals(everything)
        counts = self.executor.authority_counts(everything)
        cats, sources = self.executor.labels()
        hit = Catalogue(manifest, cats, sources, [str(k) for k in counts.keys], totals)
        self._catalogue = hit
        # the streets that name places, for every public-place incident (what an analyst's
        # ranked table names from): built with the catalogue, before the views' own figures
        # are kept, so the two are never built at once (the server's peak memory)
        self._streets(CoreQuery(Filters(), drop_domestic=True))
        return hit

    def _query(self, filters: Filters, purpose: str = "rows") -> CoreQuery:
        pin = self._pinned()
        return CoreQuery.of(filters, None if pin is None else pin.scope, purpose)

    def _memoised(self, key: tuple[Any, ...], make: Any) -> Any:
        full = (self.store.manifest().version, *key)
        hit = self._memo.get(full)
        if hit is None:
            hit = make()
            with self._memo_lock:
                if len(self._memo) > 256:
                    self._memo.clear()
                self._memo[full] = hit
        return hit

    def domestic_recorded(self) -> bool:  # noqa: D102 (inherited)
        return self.labels().totals.domestic_recorded

    def status(self) -> dict[str, Any]:  # noqa: D102 (inherited)
        cat = self.labels()
        t = self._memoised(("status", self._query(Filters(), "authority")),
                           lambda: self.executor.totals(self._query(Filters(), "authority")))
        m = cat.manifest

        def day(n: int | None) -> str | None:
            return None if n is None else str(_EPOCH + np.timedelta64(int(n), "D"))

        return {
            "incidents": t.count,
            "first_date": day(t.first_day),
            "last_date": day(t.last_day),
            "last_ingested": m.last_ingested,
            "rejected_rows": m.rejected,
            "batches": len(m.batches),
            "synthetic_sample": m.kind == "sample",
            "month_only_incidents": t.month_only,
            "store_version": m.version,
            "boundaries": self.boundaries.source,
            "categories": cat.categories,
            "sources": cat.sources,
            "engine": self.engine,
        }

    def extent(self) -> tuple[float, float, float, float] | None:
        """Return the map's framing of the principal's rows, estimated by the engine."""
        self._require_rows()
        query = self._query(Filters())
        return self._memoised(("extent", query), lambda: self.executor.extent(query))

    # -- the Explorer's figures ------------------------------------------------------------
    def _summary(self, filters: Filters, res: int | None = None,
                 harm_weights: TMapping[str, float] | None = None,
                 purpose: str = "rows", keyed: bool = False) -> Summary:
        """Return the one-scan summary of ``filters`` (what a filter change shows), memoised.

        A figure that needs no hexagons (the selection count, the areas, the grid) takes the
        resolution last asked for with the same filters, so a filter change is one scan.
        """
        query = self._query(filters, purpose)
        if res is None:
            res = self._last_res.get(query, DEFAULT_RES)
        else:
            if len(self._last_res) > 256:
                self._last_res.clear()
            self._last_res[query] = res
        weights = tuple(sorted((harm_weights or {}).items()))
        if not keyed:
            # the same scan with record keys (a partner's figures) answers this too
            hit = self._memo.get((self.store.manifest().version, "summary keyed", query, res,
                                  weights))
            if hit is not None:
                return hit
            return self._memoised(("summary", query, res, weights),
                                  lambda: self.executor.summary(query, res, harm_weights))
        try:
            return self._memoised(("summary keyed", query, res, weights),
                                  lambda: self.executor.summary(query, res, harm_weights,
                                                                keyed=True))
        except UnkeyedRecords as e:
            raise self._unkeyed(e) from None

    def select(self, filters: Filters, frame: IncidentFrame | None = None) -> Selection:
        """Return how many rows ``filters`` select and the month-only rows it leaves out.

        The selection's ``mask`` is not here: rows are never loaded.
        """
        if frame is not None:
            raise NotOnEngine("This view", self.engine)
        count = self._summary(filters).count
        excluded = 0
        if filters.uses_time_of_week:
            # as the in-memory selection counts them: the month-only rows the dates keep
            # (a month overlapping the range), whatever else the filters say
            query = self._query(Filters())
            months = self._memoised(("month-only", query),
                                    lambda: self.executor.month_only_months(query))
            first = (months.keys.astype("datetime64[M]").astype("datetime64[D]")
                     - _EPOCH).astype(np.int64)
            last = ((months.keys + 1).astype("datetime64[M]").astype("datetime64[D]")
                    - _EPOCH).astype(np.int64) - 1
            keep = np.ones(len(months.keys), dtype=bool)
            if filters.start is not None:
                keep &= last >= (np.datetime64(filters.start, "D") - _EPOCH).astype(np.int64)
            if filters.end is not None:
                keep &= first <= (np.datetime64(filters.end, "D") - _EPOCH).astype(np.int64)
            excluded = int(months.counts[keep].sum())
        nothing: Any = _NoFrame(self.engine)
        return Selection(mask=nothing, count=count, month_only_excluded=excluded)

    def cell_counts(self, filters: Filters, res: int,
                    harm_weights: TMapping[str, float] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (cells, counts, harm) aligned to :meth:`cells`, counted by the executor."""
        self._check_res(res)
        got = self._summary(filters, res, harm_weights).cells
        return got.keys, got.counts, got.harm

    def cells(self, res: int) -> np.ndarray:  # noqa: D102 (inherited)
        self._require_rows()  # aggregate-only roles are refused, as by the in-memory layer
        return self._universe(res)[0]

    def _universe(self, res: int) -> tuple[np.ndarray, np.ndarray]:
        query = self._query(Filters())
        got = self._memoised(("universe", query, res),
                             lambda: self.executor.cell_counts(query, res))
        return got.keys, got.counts > 0

    def drawn_cells(self, res: int) -> np.ndarray:  # noqa: D102 (inherited)
        self._check_res(res)
        return self._universe(res)[1]

    def area_table(self, filters: Filters, harm_weights: TMapping[str, float] | None = None,
                   frame: IncidentFrame | None = None, level: str = AUTHORITY,
                   purpose: str = "rows") -> pd.DataFrame:
        """Return the area table as the in-memory layer does.

        By whole authority from the engine's counts; below them (wards, beats) from the
        selected incidents, read as a bounded selection and placed in the level's areas.
        """
        if frame is not None:
            raise NotOnEngine("This view", self.engine)
        if level != AUTHORITY:
            self.level_boundaries(level)  # an unknown level is refused before any read
            return self._aggregated(
                filters, f"Figures by {level}", BELOW_ADVICE,
                lambda layer: layer.area_table(
                    filters, harm_weights, level=level,
                    frame=None if purpose == "rows" else layer._authority_frame()))
        b = self.boundaries
        codes = tuple(b.names())
        pin = self._pinned()
        mine = pin.scope.areas if pin is not None else None
        if filters.areas is not None:
            mine = frozenset(filters.areas) & mine if mine is not None else frozenset(
                filters.areas)
        listed = np.array([mine is None or c in mine for c in codes], dtype=bool)
        got = self._summary(filters, None, harm_weights, purpose).authorities
        counts = dict(zip((str(k) for k in got.keys), got.counts, strict=True))
        harm = dict(zip((str(k) for k in got.keys), got.harm, strict=True))
        return area_rows(codes, listed, np.array([counts.get(c, 0) for c in codes]),
                         np.array([harm.get(c, 0.0) for c in codes]), b)

    def disclosed_areas(self, filters: Filters, level: str = AUTHORITY) -> DisclosedAreas:
        """Return the area table as the pinned principal may see it.

        As :meth:`geo.query.QueryLayer.disclosed_areas`, by whole authority: for a role that
        suppresses, the counts and the sums of their rows' record keys come from the engine
        and are suppressed and perturbed here, once, by the in-memory layer's own functions.
        The domestic column is the whole-authority count less the public-place count (the
        rows the one counts and the other leaves out), keys likewise.
        """
        if level != AUTHORITY:  # below whole authorities: worked out in memory, bounded
            self.level_boundaries(level)
            return self._aggregated(
                filters, f"Figures by {level}", BELOW_ADVICE,
                lambda layer: layer.disclosed_areas(filters, level))
        pin = self._pinned()
        if pin is None or pin.scope.suppress_below == 0:
            purpose = "rows" if pin is None or pin.scope.rows else "authority"
            return DisclosedAreas(self.area_table(filters, level=level, purpose=purpose),
                                  None, None)
        t = pin.scope.suppress_below
        split = not pin.scope.domestic_below_authority
        purpose = "rows" if split else "authority"
        # counted with keys first, at the hexagons the role may see: the table and the
        # role's hexagons are then one scan
        res = pin.scope.max_h3_res or DEFAULT_RES
        counts, keys = self._by_authority(filters, purpose, res)
        table = self.area_table(filters, level=level, purpose=purpose)
        values, count_d = disclose_counts(
            table["count"].to_numpy(), np.array([keys.get(c, 0) for c in table["code"]],
                                                dtype=np.int64), t)
        table = table.assign(count=values, harm=None, rate_per_1000=None,
                             suppressed=count_d.hidden)
        domestic_d = None
        if split:
            all_counts, all_keys = self._by_authority(filters, "authority", res)
            codes = list(table["code"])
            dom = np.array([all_counts.get(c, 0) - counts.get(c, 0) for c in codes],
                           dtype=np.int64)
            dom_keys = np.array([all_keys.get(c, 0) - keys.get(c, 0) for c in codes],
                                dtype=np.int64)
            dom_values, domestic_d = disclose_counts(dom, dom_keys, t)
            table = table.assign(domestic=dom_values, domestic_suppressed=domestic_d.hidden)
        return DisclosedAreas(table, count_d, domestic_d)

    def _by_authority(self, filters: Filters, purpose: str, res: int
                      ) -> tuple[dict[str, int], dict[str, int]]:
        """Return counts and record-key sums by authority for ``filters`` and ``purpose``."""
        got = self._summary(filters, res, None, purpose, keyed=True).authorities
        assert got.record_keys is not None
        codes = [str(k) for k in got.keys]
        return (dict(zip(codes, got.counts.tolist(), strict=True)),
                dict(zip(codes, got.record_keys.tolist(), strict=True)))

    def disclosed_cells(self, filters: Filters, res: int
                        ) -> tuple[np.ndarray, np.ndarray, Any]:
        """Return figures by hexagon as the pinned principal may see them.

        As :meth:`geo.query.QueryLayer.disclosed_cells`: for a role that suppresses, the
        engine counts the finest hexagons the role may see (with their record-key sums) and
        every coarser level is built and decided from them here.
        """
        self._check_res(res)
        pin = self._pinned()
        if pin is None or pin.scope.suppress_below == 0:
            cells, counts, _harm = self.cell_counts(filters, res)
            return cells, counts, None
        fine = pin.scope.max_h3_res or max(H3_RESOLUTIONS)
        levels = sorted((r for r in H3_RESOLUTIONS if r <= fine), reverse=True)
        got = self._summary(filters, fine, None, "rows", keyed=True).cells
        assert got.record_keys is not None
        return disclose_cells(got.keys, got.counts, got.record_keys, levels, res,
                              pin.scope.suppress_below)

    def day_hour_grid(self, filters: Filters) -> np.ndarray:  # noqa: D102 (inherited)
        self._require_rows()  # aggregate-only roles are refused, as by the in-memory layer
        return self._summary(filters).grid

    def left_out(self, filters: Filters, res: int | None = None) -> int:
        """Return how many selected rows are too coarsely placed for H3 resolution ``res``.

        For the point methods (``res`` None) that is what resolution 9 leaves out: records
        placed by an LSOA's centroid (:func:`geo.query.precise_enough`).
        """
        got = self._summary(filters, POINT_RES if res is None else res)
        return int(got.count - got.cells.counts.sum())

    def points(self, filters: Filters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the selected incidents' positions, read as a bounded selection.

        The row index is the selection's own (:meth:`within` gives its frame).
        """
        return self.within(filters, *POINT_BOUND).points(filters)

    def _nearby_streets(self, fr: IncidentFrame, centre_e: np.ndarray,
                        centre_n: np.ndarray) -> Any:
        """Return the streets the principal's incidents name, as the in-memory layer does.

        Built once per store version and scope from the incidents grouped by map point and
        text (police.uk snaps many incidents to one point), never from rows.
        """
        # domestic incidents never name a place: left out, as in memory
        return self._streets(replace(self._query(Filters()), drop_domestic=True))

    def _streets(self, query: CoreQuery) -> Any:
        """Return the streets the incidents of ``query``'s scope name (kept per version)."""
        from geo.names import incident_streets

        def build() -> Any:
            table = self.executor.grouped_rows(query, ["easting", "northing", "location"],
                                               STREET_POINT_LIMIT, present=["location"])
            codes, labels = _text_codes(table.column("location"))
            streets = incident_streets(
                np.asarray(table.column("easting").to_numpy(), dtype="float64"),
                np.asarray(table.column("northing").to_numpy(), dtype="float64"), codes,
                labels, counts=np.asarray(table.column("n").to_numpy(), dtype=np.int64))
            del table, codes, labels
            _give_back_memory()  # the grouped points, hundreds of MB at 50M, are gone
            return streets

        return self._memoised(("streets", query), build)

    def ranked_frame(self, filters: Filters, res: int, n: int,
                     harm_weights: TMapping[str, float] | None = None
                     ) -> tuple[IncidentFrame, int]:
        """Return the selected rows of the top ``n`` cells (and any tied with the last).

        Ranked as :func:`geo.hotspots.rank_cells` ranks (harm, then count, then cell), from
        the executor's counts; the rows come back in a small frame, the only rows that reach
        the web server, so the ranked table's peak hours and names are worked out by the
        in-memory code. Also returns how many selected rows the cells hold in all.
        """
        self._require_rows()
        self._check_res(res)
        query = self._query(filters)
        got = self._summary(filters, res, harm_weights).cells
        total = int(got.counts.sum())
        from geo.hotspots import HARM_DECIMALS

        held = np.flatnonzero(got.counts > 0)
        harm = np.round(got.harm, HARM_DECIMALS)
        order = held[np.lexsort((held, -got.counts[held], -harm[held]))]
        top = order[:n]
        if len(order) > n and n > 0:
            last = top[-1]
            tied = order[(harm[order] == harm[last]) & (got.counts[order] == got.counts[last])]
            top = np.union1d(top, tied)
        cell_column = f"h3_{int(res)}"
        table = self.executor.grouped_rows(
            query, [cell_column, "dow", "hour", "category", "domestic", "location",
                    "lsoa_name", "la_code"], ROW_LIMIT, res=res, cells=got.keys[top].tolist())
        return _frame_of_groups(self.store.manifest(), table, res), total

    # -- views that need incidents one by one -------------------------------------------------
    def within(self, bound: Filters, what: str, advice: str,
               boxes: Sequence[Box] = ()) -> QueryLayer:
        """Return the in-memory layer over the incidents ``bound`` selects: a bounded read.

        The executor reads the selected incidents of the pinned principal's scope (never
        more than the setting ``HOTSPOT_MAX_SELECTION_ROWS``), and the in-memory layer's own
        code then works on them, so a view gives what it gives in memory wherever its
        selections fall inside ``bound`` (and ``boxes``, British National Grid rectangles,
        when given). The selection knows every category and source the store holds
        (a filter naming one absent from it selects nothing, as in memory), and names
        places from the same streets as the rest of the door. A read too large is refused
        in words, naming ``what`` and the ``advice``.
        """
        self._require_rows()
        return self._selection(bound, "rows", what, advice, boxes)

    def _selection(self, bound: Filters, purpose: str, what: str, advice: str,
                   boxes: Sequence[Box] = ()) -> _Selection:
        """Read the incidents ``bound`` selects in the principal's scope for ``purpose``."""
        manifest = self.store.manifest()
        query = self._query(bound, purpose)
        boxes = tuple((float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1 in boxes)
        key = (manifest.version, query, boxes)
        hit = self._selections.get(key)
        if hit is not None:
            return hit
        # one read per selection: requests asking for it meanwhile wait for that one
        with self._memo_lock:
            gate = self._reading.setdefault(key, threading.Lock())
        with gate:
            hit = self._selections.get(key)
            if hit is not None:
                return hit
            most = limits().selection_rows
            try:
                table = self.executor.rows(query, most, boxes, IncidentFrame.COLUMNS)
                hit = self._selection_of(manifest, table)
                del table
                _give_back_memory()
                with self._memo_lock:
                    if len(self._selections) >= SELECTION_MEMO:
                        self._selections.clear()
                    self._selections[key] = hit
            except TooManyRows:
                raise FilterError(
                    "engine", f"{what} for these settings would read more than {most:,} "
                    f"incidents one by one on the {self.engine} engine (the setting "
                    f"HOTSPOT_MAX_SELECTION_ROWS); choose {advice}.") from None
            finally:
                with self._memo_lock:
                    self._reading.pop(key, None)
        return hit

    def _held_areas(self, level: str, b: Boundaries, authorities: frozenset[str],
                    purpose: str) -> frozenset[str]:
        """Return the areas of ``level`` holding any of the principal's incidents.

        Those in ``authorities``, of every date and crime type, found from their distinct
        positions.
        """
        query = self._query(Filters(areas=tuple(sorted(authorities))), purpose)

        def build() -> frozenset[str]:
            from geo.boundaries import locate_areas

            points = self._bounded("the areas listed", BELOW_ADVICE, query,
                                   ["easting", "northing"], limits().selection_rows)
            codes, where = locate_areas(
                np.asarray(points.column("easting").to_numpy(), dtype="float64"),
                np.asarray(points.column("northing").to_numpy(), dtype="float64"), b)
            return frozenset(codes[i] for i in np.unique(where[where >= 0]))

        return self._memoised(("held", level, id(b), query), build)

    def _aggregated(self, bound: Filters, what: str, advice: str, work: Any) -> Any:
        """Run in-memory aggregate code on the incidents ``bound`` selects, as in memory.

        They are read in the principal's scope as their figures by whole authority count
        it, and the selection, answering for the door's principal, cuts its own frames from
        them and discloses its figures as the in-memory layer does: roles that see
        aggregates only are given them (suppressed, perturbed) and never the rows.
        """
        return work(self._selection(bound, "authority", what, advice))

    # -- hospital and ambulance ----------------------------------------------------------
    def health_sources(self) -> list[str]:  # noqa: D102 (inherited)
        return [s for s in HEALTH_SOURCES if s in self.labels().sources]

    def health_coverage(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # noqa: D102
        return self._on_health(lambda layer: layer.health_coverage(*args, **kwargs))

    def health_compare(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # noqa: D102
        return self._on_health(lambda layer: layer.health_compare(*args, **kwargs))

    def health_profile(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # noqa: D102
        return self._on_health(lambda layer: layer.health_profile(*args, **kwargs))

    def health_status(self) -> dict[str, Any]:  # noqa: D102 (inherited)
        return self._on_health(lambda layer: layer.health_status())

    def _on_health(self, work: Any) -> Any:
        """Run an in-memory health figure on the health and police records (bounded).

        Every police record, not only violence: the areas and hexagons a comparison lists
        are those holding any record, as in memory.
        """
        pin = self._pinned()
        if pin is not None:
            pin.who.require_see("health", "hospital and ambulance figures")
        sources = tuple(s for s in self.labels().sources if s in HEALTH_SOURCES or
                        s == "police")
        return self._aggregated(
            Filters(sources=sources) if sources else Filters(areas=()),
            "Hospital and ambulance figures",
            "an account limited to your own areas, or the default engine", work)

    def _selection_of(self, manifest: Manifest, table: pa.Table) -> _Selection:
        """Return the in-memory layer over rows the executor read (every label the store has)."""
        labels = self.labels()
        frame = IncidentFrame.from_table(manifest, table, self.record_key)
        cats, sources = set(frame.categories), set(frame.sources)
        frame = replace(
            frame, categories=[*frame.categories, *(c for c in labels.categories
                                                   if c not in cats)],
            sources=[*frame.sources, *(s for s in labels.sources if s not in sources)])
        return _Selection(self, frame)

    # -- trends ---------------------------------------------------------------------------
    def trend_rows(self, filters: Filters) -> TrendRows:
        """Return the incidents ``filters`` select for the trends, counted by the engine.

        One grouped read: the selected incidents by day (month for month-only ones),
        authority and source, each group a row standing for its count. The span is the
        principal's whole data's, as in memory.
        """
        self._require_rows()
        query = self._query(filters)

        def build() -> TrendRows:
            table = self._bounded(
                "the trends", "a shorter date range, fewer crime types or one area",
                query, ["local_date", "month", "time_precision", "la_code", "source"],
                TREND_GROUP_LIMIT)
            from geo.query import _codes

            day = np.asarray(pc.fill_null(pc.cast(table.column("local_date"), pa.int32()),
                                          -1).to_numpy(zero_copy_only=False), dtype=np.int64)
            first = _month_first_days(table.column("month"))
            month_only = np.asarray(pc.fill_null(pc.equal(table.column("time_precision"),
                                                          "month"), False).to_numpy(
                zero_copy_only=False), dtype=bool)
            area, areas = _codes(table.column("la_code"))
            # every source the store holds, as the in-memory frame lists them (a source with
            # nothing selected still gets its series, of zeros); one committed since the
            # labels were read is added
            source, found = _codes(table.column("source"))
            sources = list(self.labels().sources)
            sources += [s for s in found if s not in sources]
            at = np.array([sources.index(s) for s in found] or [0], dtype=np.int64)
            source = at[source]
            span, all_month_only = self._span()
            return TrendRows.of(day=day, month_first=first, month_only=month_only,
                                area=area, areas=areas, source=source, sources=sources,
                                incidents=np.asarray(table.column("n").to_numpy(),
                                                     dtype=np.int64),
                                span=span, all_month_only=all_month_only)

        # kept for the few latest filter sets only: each can hold millions of groups
        key = (self.store.manifest().version, query)
        hit = self._trend_memo.get(key)
        if hit is None:
            hit = build()
            with self._memo_lock:
                if len(self._trend_memo) >= TREND_MEMO:
                    self._trend_memo.clear()
                self._trend_memo[key] = hit
        return hit

    def _bounded(self, what: str, advice: str, query: CoreQuery, columns: list[str],
                 limit: int, **options: Any) -> pa.Table:
        """Return :meth:`Executor.grouped_rows`, a read too large for it refused in words."""
        try:
            return self.executor.grouped_rows(query, columns, limit, **options)
        except TooManyRows:
            raise FilterError("engine", f"{what[0].upper()}{what[1:]} for these filters would "
                              f"read more than {limit:,} groups of incidents on the "
                              f"{self.engine} engine; choose {advice}.") from None

    def _span(self) -> tuple[tuple[date, date] | None, bool]:
        """Return the principal's first and last day, and whether every incident is month-only."""
        query = self._query(Filters())
        totals = self._memoised(("status", query), lambda: self.executor.totals(query))
        span = (None if totals.first_day is None or totals.last_day is None
                else (_date_of(totals.first_day), _date_of(totals.last_day)))
        return span, totals.count > 0 and totals.month_only == totals.count

    def month_only_count(self) -> int:  # noqa: D102 (inherited)
        self._require_rows()
        query = self._query(Filters())
        return int(self._memoised(("status", query),
                                  lambda: self.executor.totals(query)).month_only)

    def month_cover(self) -> tuple[Any, bool, np.ndarray]:  # noqa: D102 (inherited)
        return (*self._span(), self.months_holding(Filters()))

    def selected_counts(self, filters: Filters) -> tuple[int, int]:  # noqa: D102 (inherited)
        self._require_rows()
        query = self._query(filters)
        got = self._memoised(("totals", query), lambda: self.executor.totals(query))
        return int(got.count), int(got.month_only)

    def months_holding(self, filters: Filters) -> np.ndarray:  # noqa: D102 (inherited)
        self._require_rows()
        query = self._query(filters)
        months = self._memoised(("months", query), lambda: self.executor.month_counts(query))
        # an engine lists every month of the scope: those the filters leave empty are not held
        held = np.asarray(months.keys, dtype=np.int64)[months.counts > 0]
        return (held.astype("datetime64[M]").astype("datetime64[D]") - _EPOCH).astype(np.int64)

    def period_rows(self, filters: Filters, res: int, periods: Any,
                    dated_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Return the selected incidents in ``periods`` counted by cell and period.

        As :meth:`geo.query.QueryLayer.period_rows`, from one grouped read: each row is a
        cell in one period (its day the period's first), standing for its count.
        """
        self._require_rows()
        self._check_res(res)
        query = self._query(filters)
        spans = [(int(a), int(b)) for a, b in periods]
        cell = f"h3_{int(res)}"
        from geo.vru import EMERGING_MAX_CELL_PERIODS

        # (cell, period) groups are at most cells x periods: more than the emerging hot
        # spots' own limit is refused before any of them reach the web server
        try:
            table = self.executor.grouped_rows(query, [cell], EMERGING_MAX_CELL_PERIODS,
                                               res=res, cells=None, periods=spans,
                                               dated_only=dated_only)
        except TooManyRows:
            raise FilterError(
                "periods", f"this would classify more than {EMERGING_MAX_CELL_PERIODS:,} "
                "cell-periods, the limit. Choose fewer periods, a coarser resolution (res 7 to "
                "9), or a smaller area or fewer categories.") from None
        starts = np.array([a for a, _ in spans] or [0], dtype=np.int64)
        month_only = self._memoised(("totals", query),
                                    lambda: self.executor.totals(query)).month_only
        return (np.asarray(table.column(cell).to_numpy(), dtype=np.uint64),
                starts[np.asarray(table.column("period").to_numpy(), dtype=np.int64)],
                np.asarray(table.column("n").to_numpy(), dtype=np.int64), month_only)

    # -- the board ------------------------------------------------------------------------
    def _board_counts(self, categories: tuple[str, ...] | None) -> BoardCounts:
        """Return the board's counts by month, source and authority, counted by the engine.

        Two or three grouped reads per store version and crime types (kept): the
        whole-authority incidents by month, source and authority (every crime type, and those
        chosen, with their record keys for a role that suppresses), and each source's
        covered days.
        """
        pin = self._pinned()
        keyed = pin is not None and pin.scope.suppress_below > 0
        every = self._query(Filters(), "authority")
        chosen = self._query(Filters(categories=categories), "authority")
        columns = ["month", "source", "la_code"]

        def grouped(query: CoreQuery, columns: list[str], keys: bool) -> pa.Table:
            try:
                return self._bounded("the board", "fewer areas", query, columns,
                                     BOARD_GROUP_LIMIT, keyed=keys)
            except UnkeyedRecords as e:
                raise self._unkeyed(e) from None

        def build() -> BoardCounts:
            whole = grouped(every, columns, keyed and categories is None).to_pandas()
            mine = (whole if categories is None
                    else grouped(chosen, columns, keyed).to_pandas())
            if not keyed:
                mine = mine.assign(k=0)
            table = whole[[*columns, "n"]].merge(
                mine[[*columns, "n", "k"]].rename(columns={"n": "chosen"}), on=columns,
                how="left").fillna({"chosen": 0, "k": 0})
            days = grouped(every, ["source", "local_date", "month"], False).to_pandas()
            month = pd.PeriodIndex(days["month"], freq="M")
            first = pd.to_datetime(days["local_date"]).fillna(month.start_time.to_series(
                index=days.index))
            last = pd.to_datetime(days["local_date"]).fillna(month.end_time.normalize(
                ).to_series(index=days.index))

            def day_numbers(values: pd.Series) -> pd.Series:
                return (values.to_numpy().astype("datetime64[D]") - _EPOCH).astype(np.int64)

            days = days.assign(first=day_numbers(first), last=day_numbers(last))
            span = days.groupby("source").agg(first=("first", "min"), last=("last", "max"))
            months = pd.PeriodIndex(table["month"], freq="M")
            return BoardCounts.of(
                month=(months.year.to_numpy() - 1970) * 12 + months.month.to_numpy() - 1,
                source=table["source"].to_numpy(dtype=object),
                area=table["la_code"].to_numpy(dtype=object), n=table["n"].to_numpy(),
                chosen=table["chosen"].to_numpy(), keys=table["k"].to_numpy(),
                first_day=span["first"].to_dict(), last_day=span["last"].to_dict())

        return self._memoised(("board counts", every, chosen, keyed), build)

    def _unkeyed(self, e: UnkeyedRecords) -> FilterError:
        pin = self._pinned()
        who = f"the {pin.who.role} role" if pin is not None else "this role"
        return FilterError(
            "engine", f"Figures for {who} are not available yet: their small-number "
            f"protection needs the record keys some of this store's files were stored "
            f"without ({e.files} file(s)). Ask whoever runs Hotspot to run 'hotspot "
            "compact' once (it keeps every row and adds the keys).")

    def _board_level(self, level: str, categories: tuple[str, ...] | None,
                     areas: tuple[str, ...] | None) -> Any:
        """Place the board's rows in the areas of a level below whole authorities.

        Worked out in memory from the principal's whole data, read as a bounded selection.
        """
        return self._aggregated(Filters(), f"The board by {level}", BELOW_ADVICE,
                                lambda layer: layer._board_level(level, categories, areas))

    def board_hotspots(self, start: str, end: str, *, top: int = 20, res: int = 8,
                       source: str | None = None,
                       categories: tuple[str, ...] | None = None,
                       level: str = AUTHORITY) -> tuple[dict[str, int], int]:
        """Return how many of the ``top`` busiest cells lie in each area, counted by the engine.

        As :meth:`geo.query.QueryLayer.board_hotspots`, over whole months (``start`` the
        first of one, as the board asks): one grouped read of the (hexagon, authority) pairs.
        """
        if level != AUTHORITY:
            return self._aggregated(
                Filters(), f"The board by {level}", BELOW_ADVICE,
                lambda layer: layer.board_hotspots(start, end, top=top, res=res, source=source,
                                                   categories=categories, level=level))
        if res not in H3_RESOLUTIONS:  # only per-area numbers leave: no hexagon is shown
            raise ValueError(f"{res} is not a stored H3 resolution")
        lo, hi = date.fromisoformat(start), date.fromisoformat(end)
        if lo.day != 1:
            # a month-only incident counts when its month starts in the range, as in memory
            raise ValueError(f"the busiest places are counted over whole months, not from {start}")
        filters = Filters(start=lo, end=hi, categories=categories,
                          sources=None if source is None else (source,))
        cell = f"h3_{int(res)}"
        table = self._bounded("the busiest places", "fewer areas or crime types",
                              self._query(filters, "rows"), [cell, "la_code"],
                              BOARD_CELL_LIMIT)
        pin = self._pinned()
        return busiest_by_area(np.asarray(table.column(cell).to_numpy(), dtype=np.uint64),
                               np.asarray(table.column("la_code").to_pylist(), dtype=object),
                               np.asarray(table.column("n").to_numpy(), dtype=np.int64), top,
                               pin.scope.suppress_below if pin is not None else 0)

    def board_emerging(self, source: str, last_day: int, *, months: int = 12, res: int = 8,
                       categories: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Return each hexagon's emerging hot spot category, from counts made by the engine.

        As :meth:`geo.query.QueryLayer.board_emerging`: the whole-authority incidents of
        one source over the whole months to ``last_day``, counted by hexagon, month and
        authority in one grouped read (the periods are whole months, so a month stands for
        its days), then classified by the same code.
        """
        from geo.emerging import emerging_hotspots, month_periods

        if res not in H3_RESOLUTIONS:
            raise ValueError(f"{res} is not a stored H3 resolution")
        empty = pd.DataFrame({"category": pd.Series([], dtype=str),
                              "area": pd.Series([], dtype=str)})
        if source not in self.labels().sources:
            return empty
        chosen = self._query(Filters(categories=categories, sources=(source,)), "authority")
        first = self._memoised(("totals", chosen), lambda: self.executor.totals(chosen))
        if first.first_day is None:
            return empty
        try:
            edges = month_periods(first.first_day, last_day, months)
        except ValueError:
            return empty
        if len(edges) < 3:
            return empty

        query = self._query(Filters(start=_date_of(edges[0][0]), end=_date_of(edges[-1][1]),
                                    categories=categories, sources=(source,)), "authority")
        cell = f"h3_{int(res)}"
        table = self._bounded("the emerging hot spots", "fewer crime types", query,
                              [cell, "month", "la_code"], BOARD_CELL_LIMIT).to_pandas()
        if table.empty:
            return empty
        cells = table[cell].to_numpy(dtype=np.uint64)
        found = emerging_hotspots(cells, _month_first_days(pa.chunked_array(
            [pa.array(table["month"], pa.string())])), edges,
            incidents=table["n"].to_numpy(dtype=np.int64))
        if found.empty:
            return empty
        found = found[found["category"] != "no pattern"]
        # the area of each cell: where most of its incidents are (the lower code on a tie)
        pairs = table.groupby([cell, "la_code"], as_index=False)["n"].sum().sort_values(
            [cell, "n", "la_code"], ascending=[True, False, True])
        home = pairs.drop_duplicates(cell).set_index(cell)["la_code"]
        return pd.DataFrame({"category": found["category"].astype(str).to_numpy(),
                             "area": home.reindex(found["cell"].to_numpy()).fillna(
                                 "").to_numpy(dtype=str)})


class _Selection(QueryLayer):
    """The in-memory layer over a bounded selection an engine read (:meth:`EngineLayer.within`).

    It answers for the principal the door answers for (:meth:`_pinned`). Streets that name
    places, the span and months of the principal's data and the areas they hold come from
    the door, which has them for all the principal's incidents, not only the selection's.
    """

    def __init__(self, door: EngineLayer, frame: IncidentFrame) -> None:
        super().__init__(door.store, door.boundaries, record_key=door.record_key,
                         levels=door.levels, gazetteer=door.gazetteer)
        self._door = door
        self._frame = frame

    def _current(self) -> IncidentFrame:
        assert self._frame is not None
        return self._frame

    def _pinned(self) -> _Pin | None:
        """Answer for whoever the door answers for.

        So the in-memory checks tied to a pin (aggregate-only roles, the finest hexagons a
        role may see, its areas) hold here too.
        """
        own = self._pin.get()
        if own is not None:
            return own
        pin = self._door._pinned()
        if pin is None:
            return None
        full = self._current()
        return _Pin(who=pin.who, scope=pin.scope,
                    rows=self._scope_frame(full, pin.scope, "rows"),
                    authority=self._scope_frame(full, pin.scope, "authority"))

    def _coding(self, level: str, fr: IncidentFrame, authorities: tuple[str, ...] | None
                ) -> Any:
        """List the areas of ``level`` as in memory.

        Those holding any of the principal's incidents in the authorities asked (whatever
        the filters select): the door finds them from the positions of all of them, not
        only the selection's.
        """
        coding = super()._coding(level, fr, authorities)
        if level == AUTHORITY or coding.listed.all():
            return coding
        pin = self._pinned()
        mine = self._listed_authorities(authorities)
        if mine is None:
            return coding
        purpose = ("authority" if pin is not None and fr is pin.authority and
                   fr is not pin.rows else "rows")
        held = self._door._held_areas(level, coding.boundaries, mine, purpose)
        extra = np.array([c in held for c in coding.codes], dtype=bool)
        return replace(coding, listed=coding.listed | extra)

    def _nearby_streets(self, fr: IncidentFrame, centre_e: np.ndarray,
                        centre_n: np.ndarray) -> Any:
        return self._door._nearby_streets(fr, centre_e, centre_n)

    # what the principal's whole data cover: the door's, not the selection's
    def _span(self) -> tuple[tuple[date, date] | None, bool]:
        return self._door._span()

    def month_cover(self) -> tuple[Any, bool, np.ndarray]:  # noqa: D102 (inherited)
        return self._door.month_cover()

    def month_only_count(self) -> int:  # noqa: D102 (inherited)
        return self._door.month_only_count()


def open_door(engine: str, store: Store, boundaries: Boundaries, *,
              scheduler: str | None = None, workers: int = 2, **options: Any) -> EngineLayer:
    """Return the query layer on ``engine`` ("duckdb" or "dask") over ``store``.

    ``scheduler`` (Dask only) is a scheduler's address; without one a ``LocalCluster`` of
    ``workers`` processes is started on this machine. ``options`` are the query layer's.

    Raises
    ------
    ValueError
        For an engine other than these two (the in-memory layer is
        :class:`~geo.query.QueryLayer` itself).
    """
    from geo.engines import DaskExecutor, DuckDBExecutor

    ex: Executor
    if engine == "duckdb":
        ex = DuckDBExecutor(store)
    elif engine == "dask":
        ex = DaskExecutor(store, scheduler=scheduler, workers=workers)
    else:
        raise ValueError(f"unknown engine {engine!r}; the engines are numpy, duckdb, dask")
    return EngineLayer(store, boundaries, ex, **options)


def _give_back_memory() -> None:
    """Return to the system the memory a large read freed but its allocators still hold.

    A selection's read passes through Arrow (its own memory pool) and pandas on the way to
    the frame that is kept: measured on a 970,000-incident selection, the server stayed
    690 MB resident after the read though it holds 450 MB once that memory is given back.
    """
    pa.default_memory_pool().release_unused()
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)  # glibc only (musl has none)
    except Exception:  # noqa: BLE001 (giving memory back must never fail a request)
        pass


def _date_of(day: int) -> date:
    """Return day number ``day`` (days since 1970-01-01) as a date."""
    return (_EPOCH + np.timedelta64(int(day), "D")).astype(date)


def _month_first_days(months: pa.ChunkedArray) -> np.ndarray:
    """Return the day number of the first day of each ``YYYY-MM`` month (vectorised)."""
    text = pc.binary_join_element_wise(months, pa.scalar("01", pa.string()), "-")
    days = pc.cast(pc.cast(pc.strptime(text, "%Y-%m-%d", "s"), pa.date32()), pa.int32())
    return np.asarray(days.to_numpy(zero_copy_only=False), dtype=np.int64)


def _frame_of_groups(manifest: Manifest, table: pa.Table, res: int) -> IncidentFrame:
    """Return a frame of grouped rows (each repeated ``n`` times) for ranking and naming.

    It holds what :func:`geo.hotspots.rank_cells` and :meth:`QueryLayer.place_names` read of
    the top cells' incidents: cells at ``res``, weekday, hour, category, domestic, location
    text, LSOA name and authority. Nothing else is in it (no positions, no dates), and it is
    never filtered: the executor selected its rows.
    """
    from geo.query import _codes

    # coded on the groups, then each code repeated: no text is copied per incident
    counts = np.asarray(table.column("n").to_numpy(), dtype=np.int64)

    def each(values: np.ndarray) -> np.ndarray:
        return np.repeat(values, counts)

    n = int(counts.sum())
    zeros = np.zeros(n, dtype="float64")
    group_cells = np.asarray(table.column(f"h3_{int(res)}").to_numpy(), dtype=np.uint64)
    cells, cell_codes = np.unique(group_cells, return_inverse=True)
    category, categories = _codes(table.column("category"))
    area, areas = _codes(table.column("la_code"))
    location, locations = _text_codes(table.column("location"))
    lsoa, lsoas = _text_codes(table.column("lsoa_name"))
    dom = pc.fill_null(pc.cast(table.column("domestic"), pa.int8()), -1)
    return IncidentFrame(
        manifest=manifest, n=n, easting=zeros, northing=zeros, lon=zeros, lat=zeros,
        day=np.full(n, -1, dtype="int32"), month_first=np.zeros(n, dtype="int32"),
        month_last=np.zeros(n, dtype="int32"),
        dow=each(np.asarray(table.column("dow").to_numpy(), dtype="int8")),
        hour=each(np.asarray(table.column("hour").to_numpy(), dtype="int8")),
        domestic=each(np.asarray(dom.to_numpy(), dtype="int8")),
        category=each(category), categories=categories, source=np.zeros(n, dtype="int32"),
        sources=[""], area=each(area), areas=areas, month_only=np.zeros(n, dtype=bool),
        cell_codes={res: each(cell_codes.astype("int32").reshape(-1))}, cells={res: cells},
        location=each(location), locations=locations, lsoa=each(lsoa), lsoas=lsoas)
