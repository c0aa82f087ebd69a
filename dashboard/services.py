"""The app's services: one query layer and the cached computations callbacks and API share.

Geometry (hexagons, area polygons) is built once per store version and resolution; filters
then only change numbers. Kernel density and DBSCAN results are cached per filter and
parameters so a page and the API asking the same question compute it once.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from geo.access import Principal, Scope
from geo.boundaries import (
    AUTHORITY,
    LEVELS_FOLDER,
    Boundaries,
    BoundaryError,
    level_names,
    load_boundaries,
    load_level,
)
from geo.h3index import cell_boundaries, cells_to_str
from geo.hotspots import DAY_LABELS, main_categories, night_days, peak_text, rank_cells
from geo.projection import to_bng, to_wgs84
from geo.query import POINT_BOUND, FilterError, Filters, QueryLayer, precise_enough
from geo.settings import ENGINES, DataPaths, basemap_path, limits, tile_url
from geo.store import Store
from geo.tiles import MBTiles

if TYPE_CHECKING:
    from geo.vru import (
        EmergingParams,
        EmergingResult,
        EvaluateParams,
        EvaluationResult,
        StaggeredResult,
        TrendsParams,
        TrendsResult,
    )

T = TypeVar("T")


class Busy(RuntimeError):
    """Too many heavy analyses are running or waiting; the request should be retried later."""


class HeavyLane:
    """Where heavy analyses run, so they cannot starve the quick requests.

    At most ``workers`` heavy computations run at once (one fewer than the cores, so quick
    answers keep a core), and at most ``slots`` requests may be running or waiting for one;
    beyond that a request is told at once that the server is busy, rather than holding one of
    the web server's threads that quick requests need.
    """

    def __init__(self, workers: int, slots: int, wait_s: float = 60.0) -> None:
        self.workers = workers
        self.slots = slots
        self.wait_s = wait_s
        self._running = threading.BoundedSemaphore(workers)
        self._slots = threading.BoundedSemaphore(slots)
        # heavy work inside heavy work (a sheet needing the zone report) runs in the worker
        # the thread already holds: taking a second one could wait on itself
        self._inside = threading.local()

    def _held(self) -> bool:
        return bool(getattr(self._inside, "depth", 0))

    @contextlib.contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the lane's slots for a running or waiting heavy request."""
        if self._held():
            yield
            return
        if not self._slots.acquire(blocking=False):
            raise Busy(f"The server is busy with {self.slots} heavy analyses; try again in a "
                       "minute.")
        try:
            yield
        finally:
            self._slots.release()

    def run(self, make: Callable[[], T]) -> T:
        """Run ``make`` when a worker is free (waiting at most ``wait_s``)."""
        if self._held():
            return make()
        if not self._running.acquire(timeout=self.wait_s):
            raise Busy("The server is still busy with other heavy analyses; try again in a "
                       "minute.")
        self._inside.depth = 1
        try:
            return make()
        finally:
            self._inside.depth = 0
            self._running.release()


class _Pending:
    """A value being computed by one thread that others asking the same may wait for."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


@dataclass(frozen=True)
class _Refused:
    """A cached refusal: the parameter error a question got, given again for the same one."""

    error: FilterError


def _unwrap(value: Any) -> Any:
    if isinstance(value, _Refused):
        raise value.error
    return value


class _LRU:
    """A small least-recently-used cache that computes each missing value once.

    Requests asking for a value already being computed wait for that computation instead of
    repeating it ("single flight"); heavy values are computed in the :class:`HeavyLane`.
    """

    def __init__(self, size: int, lane: HeavyLane | None = None) -> None:
        self.size = size
        self.lane = lane
        self.data: OrderedDict[Hashable, Any] = OrderedDict()
        self.pending: dict[Hashable, _Pending] = {}
        self.lock = threading.Lock()

    def clear(self) -> None:
        """Forget every value (computations in flight still finish and are then kept)."""
        with self.lock:
            self.data.clear()

    def get(self, key: Hashable, make: Callable[[], T], heavy: bool = False) -> T:
        with self.lock:
            if key in self.data:
                self.data.move_to_end(key)
                return _unwrap(self.data[key])
        lane = self.lane if heavy else None
        # A heavy miss holds a lane slot while it computes or waits: refused at once if full.
        with lane.slot() if lane is not None else contextlib.nullcontext():
            with self.lock:
                if key in self.data:
                    return _unwrap(self.data[key])
                pending = self.pending.get(key)
                owner = pending is None
                if pending is None:
                    pending = self.pending[key] = _Pending()
            if not owner:
                if not pending.event.wait(lane.wait_s if lane is not None else None):
                    raise Busy("The server is still working on this analysis; try again in "
                               "a minute.")
                if pending.error is not None:
                    raise pending.error
                return pending.value  # type: ignore[no-any-return]
            try:
                value = lane.run(make) if lane is not None else make()
            except FilterError as exc:
                # a refused parameter is refused again for the same question: remember it,
                # so repeating a refused heavy request costs nothing
                pending.error = exc
                with self.lock:
                    self.data[key] = _Refused(exc)
                    self.pending.pop(key, None)
                pending.event.set()
                raise
            except BaseException as exc:
                pending.error = exc
                with self.lock:
                    self.pending.pop(key, None)
                pending.event.set()
                raise
            with self.lock:
                self.data[key] = value
                while len(self.data) > self.size:
                    self.data.popitem(last=False)
                self.pending.pop(key, None)
            pending.value = value
            pending.event.set()
        return value


@dataclass(frozen=True)
class KdeParams:
    """Kernel density settings shown on the page; ``bandwidth_m`` None means the default rule."""

    cell_m: float = 100.0
    bandwidth_m: float | None = None


@dataclass(frozen=True)
class DbscanParams:
    """DBSCAN settings shown on the page."""

    eps_m: float = 100.0
    min_samples: int = 15


class Services:
    """Everything the pages and the API ask for, over one data directory."""

    def __init__(self, data: DataPaths) -> None:
        self.data = data
        self._boundaries_stamp = self._stamp(data.boundaries)
        self._boundaries: Boundaries = load_boundaries(data.boundaries)
        self._boundaries_lock = threading.Lock()
        self._levels_stamp: tuple[Any, ...] | None = None
        self._levels: dict[str, Boundaries] = {}
        self.query = _query_layer(data, self._boundaries)
        self.tile_url = tile_url()
        # the basemap file is checked now, so a wrong HOTSPOT_BASEMAP stops the server at
        # start with the reason, not a blank map later
        path = basemap_path()
        self.basemap: MBTiles | None = MBTiles(path) if path is not None else None
        self.basemap_layers: list[dict[str, Any]] = []
        if self.basemap is not None and self.basemap.info.is_vector:
            from dashboard.basemap import vector_layer_list

            self.basemap_layers = vector_layer_list(self.basemap)
        self._geometry = _LRU(8)
        # printed map backgrounds by frame: a plan's places stay put between prints
        self._printed = _LRU(64)
        self._zones_pin: contextvars.ContextVar[tuple[Any, Any] | None] = \
            contextvars.ContextVar(f"hotspot-pinned-zones-{id(self)}", default=None)
        self.heavy = HeavyLane(workers=max(1, (os.cpu_count() or 2) - 1), slots=4)
        self._results = _LRU(64, self.heavy)
        self._gazetteer_stamp: tuple[Any, ...] | None = None
        self._reload_levels()
        self._reload_gazetteer()

    @property
    def boundaries(self) -> Boundaries:
        """Return the areas in use, reloaded when ``hotspot boundaries`` changes them.

        A population table imported while the server runs is then used at once.
        """
        stamp = self._stamp(self.data.boundaries)
        if stamp != self._boundaries_stamp:
            with self._boundaries_lock:
                if stamp != self._boundaries_stamp:
                    self._boundaries = load_boundaries(self.data.boundaries)
                    self.query.boundaries = self._boundaries
                    # rates, outlines and every analysis over the old areas are stale now
                    self._geometry.clear()
                    self._printed.clear()
                    self._results.clear()
                    self._boundaries_stamp = stamp
        return self._boundaries

    def levels(self) -> dict[str, Boundaries]:
        """Return every boundary level: ``{name: Boundaries}``, ``"authority"`` first.

        The other levels (wards, beats...) are those imported with ``hotspot boundaries
        import FILE --level NAME``, reloaded when that changes them. A level whose files
        cannot be read is left out (and logged) rather than stopping every page.
        """
        authority = self.boundaries
        self._reload_levels()
        return {AUTHORITY: authority, **self._levels}

    def level_names(self) -> list[str]:
        """Return the names of :meth:`levels`, ``"authority"`` first."""
        return list(self.levels())

    def _reload_levels(self) -> None:
        """Load the other levels again if their folders changed since they were loaded."""
        stamp = self._levels_now()
        if stamp == self._levels_stamp:
            return
        with self._boundaries_lock:
            if stamp == self._levels_stamp:
                return
            loaded: dict[str, Boundaries] = {}
            for name in level_names(self.data.boundaries)[1:]:
                try:
                    loaded[name] = load_level(self.data.boundaries, name)
                except BoundaryError:
                    import logging

                    logging.getLogger(__name__).exception("boundary level %s unreadable", name)
            self._levels = loaded
            self.query.levels = dict(loaded)
            if self._levels_stamp is not None:
                # league tables and area figures at the old areas are stale now
                self._results.clear()
            self._levels_stamp = stamp

    def _reload_gazetteer(self) -> None:
        """Load the gazetteer again if ``hotspot gazetteer`` changed it since it was loaded.

        Names in plans and tables already computed are stale then, so they are forgotten.
        A gazetteer that cannot be read is left out (and logged): places are then named from
        the incidents, wards, LSOAs and authorities alone.
        """
        from geo.gazetteer import GAZETTEER_FILE

        # the one file, not the folder: an import's temporary file comes and goes beside it
        try:
            st = (self.data.gazetteer / GAZETTEER_FILE).stat()
            stamp: tuple[Any, ...] = (st.st_ino, st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = ()
        if stamp == self._gazetteer_stamp:
            return
        with self._boundaries_lock:
            if stamp == self._gazetteer_stamp:
                return
            from geo.gazetteer import load_gazetteer

            try:
                self.query.gazetteer = load_gazetteer(self.data.gazetteer)
            except (OSError, ValueError, KeyError):
                import logging

                logging.getLogger(__name__).exception("gazetteer unreadable")
                self.query.gazetteer = None
            if self._gazetteer_stamp is not None:
                self._results.clear()
            self._gazetteer_stamp = stamp

    def _levels_now(self) -> tuple[Any, ...]:
        """Change marker of every level's folder (each level's files and their times)."""
        root = self.data.boundaries / LEVELS_FOLDER
        if not root.is_dir():
            return ()
        return tuple((d.name, self._stamp(d)) for d in sorted(root.iterdir())
                     if d.is_dir() and not d.name.startswith("."))

    # -- geometry, built once per store version ----------------------------------------------
    def version(self) -> int:
        """Return the store version the current frame was loaded from."""
        return self.query.labels().manifest.version

    def data_key(self) -> tuple[int, Any]:
        """Return the cache key of the data this request sees: store version and scope.

        Two principals whose scopes differ (an officer's areas, a public-places-only role)
        see different rows, so nothing computed for one is ever served to the other.
        """
        who = self.query.principal()
        return self.version(), Scope.of(who) if who is not None else None

    def geometry_key(self, res: int) -> list[Any]:
        """Return what identifies the hexagon outlines a page has drawn: data, scope, res.

        The browser keeps outlines while only counts change; a different store version, a
        different principal's scope or another resolution means drawing them again.
        """
        version, scope = self.data_key()
        tag = ""
        if scope is not None:
            text = repr((sorted(scope.areas) if scope.areas is not None else None,
                         scope.public_only, scope.rows, scope.domestic_below_authority))
            tag = hashlib.sha256(text.encode()).hexdigest()[:16]
        return [version, tag, res]

    def areas_geojson(self, level: str = "authority") -> dict[str, Any]:
        """Return a level's boundary polygons as GeoJSON (WGS84), rounded to about 1 m."""
        bounds = self.boundaries if level == "authority" else self.levels().get(level)
        if bounds is None:
            return {"type": "FeatureCollection", "features": []}

        def make() -> dict[str, Any]:
            gdf = bounds.areas[["code", "name", "geometry"]]
            return json.loads(gdf.to_json(drop_id=True, to_wgs84=True))
        key = ("areas",) if level == "authority" else ("areas", level, id(bounds))
        return self._geometry.get(key, make)

    def printed_background(self, frame: Hashable, draw: Callable[[], T]) -> T:
        """Return the background of a printed map of ``frame``, drawn by ``draw`` once.

        The same frames are printed again and again: a plan's briefing, each of its places on
        its own, and the next officer's copy. The basemap stays the same while the server
        runs; the boundaries drawn when there is none are in the key, so new ones are drawn.
        """
        self.boundaries  # noqa: B018  (reloads them, with their stamp, if they have changed)
        return self._printed.get((frame, self._boundaries_stamp), draw)

    def map_center(self) -> tuple[dict[str, float], float]:
        """Return a centre and zoom that frame the incidents (or, with none, the boundaries).

        Imported national boundaries would otherwise open the map on the whole country.
        """
        who = self.query.principal()
        extent = self.query.extent() if who is None or who.policy.rows else None
        if extent is not None:
            minx, miny, maxx, maxy = extent
        else:  # no rows, or a role that may not read them: frame the areas instead
            areas = self.boundaries.areas
            if who is not None and who.areas is not None:
                areas = areas[areas["code"].isin(who.areas)]
            minx, miny, maxx, maxy = (areas if len(areas) else self.boundaries.areas
                                      ).to_crs("EPSG:4326").total_bounds
        return _framed(minx, miny, maxx, maxy)

    def areas_view(self, codes: list[str]) -> tuple[dict[str, float], float] | None:
        """Return a centre and zoom that frame the areas ``codes`` (None when none is known)."""
        areas = self.boundaries.areas
        areas = areas[areas["code"].isin(codes)]
        if not len(areas):
            return None
        return _framed(*areas.to_crs("EPSG:4326").total_bounds)

    def map_geometry(self, layer: str, res: int | None = None) -> bytes:
        """Return a map layer's outlines as GeoJSON, features numbered as the map's values.

        ``layer`` is ``"cells"`` (the hexagons of :meth:`cells_geojson` at ``res``) or
        ``"areas"`` (the authorities, in the order of ``boundaries.names()``). Feature ``i``
        takes value ``i`` of a filter change, so only numbers travel after the first draw.
        The collection carries the geometry key it was built for.
        """
        key = self.geometry_key(res if res is not None else 0)

        def make() -> bytes:
            if layer == "cells":
                collection, ids = self.cells_geojson(int(res))  # type: ignore[arg-type]
                features = [{"type": "Feature", "id": i, "properties": {"cell": cid},
                             "geometry": f["geometry"]}
                            for i, (cid, f) in enumerate(zip(ids, collection["features"],
                                                             strict=True))]
            else:
                by_code = {f["properties"]["code"]: f
                           for f in self.areas_geojson()["features"]}
                features = [{"type": "Feature", "id": i,
                             "properties": {"code": code, "name": name},
                             "geometry": by_code[code]["geometry"]}
                            for i, (code, name) in enumerate(self.boundaries.names().items())
                            if code in by_code]
            return json.dumps({"type": "FeatureCollection", "key": key,
                               "features": features}, separators=(",", ":")).encode()
        return self._geometry.get(("map-geometry", layer, self.data_key(), res), make)

    def cells_geojson(self, res: int) -> tuple[dict[str, Any], list[str]]:
        """Return hexagons of every cell holding any incident, and their ids in trace order."""
        def make() -> tuple[dict[str, Any], list[str]]:
            cells = self.query.cells(res)[self.query.drawn_cells(res)]
            ids = cells_to_str(cells)
            rings = cell_boundaries(cells)
            features = [
                {"type": "Feature", "id": cid,
                 "geometry": {"type": "Polygon",
                              "coordinates": [[[round(x, 5), round(y, 5)] for x, y in ring]]}}
                for cid, ring in zip(ids, rings, strict=True)
            ]
            return {"type": "FeatureCollection", "features": features}, ids
        return self._geometry.get(("cells", self.data_key(), res), make)

    # -- harm weights and plans -----------------------------------------------------------------
    def harm_weights(self) -> tuple[dict[str, float], str]:
        """Return the harm weight table in use (empty = equal weights) and where it came from."""
        try:
            from geo.harm import load_stored_harm_weights
        except ImportError:  # pragma: no cover - the module ships with the package
            return {}, "equal weights (default)"
        hw = load_stored_harm_weights(self.data.harm)
        if hw.is_equal:
            return {}, hw.source
        # the table matches categories ignoring case and spacing; the query layer wants the
        # data's own spelling
        return hw.for_categories(self.query.labels().categories), hw.source

    def plan(self, params: Any) -> Any:
        """Return the patrol plan for ``params`` (cached per store version and weights)."""
        from geo.plan import build_plan

        weights, source = self.harm_weights()
        key = ("plan", self.data_key(), params, tuple(sorted(weights.items())), source)
        return self._results.get(
            key, lambda: build_plan(self.query, params, weights or None, source), heavy=True)

    # -- night-time economy ---------------------------------------------------------------------
    @property
    def zones_dir(self) -> Any:
        """Folder of the saved NTE zones."""
        return self.data.zones

    @property
    def venues_dir(self) -> Any:
        """Folder of the saved venues and taxi ranks."""
        return self.data.venues

    def _stamp(self, folder: Any) -> tuple[Any, ...]:
        """Change marker for a small settings folder (names and modification times)."""
        if not folder.exists():
            return ()
        return tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.iterdir()))

    def _zones_now(self) -> tuple[tuple[Any, ...], Any]:
        """Return the zone file's change marker and the zones it holds now."""
        from geo.zones import load_zones

        stamp = self._stamp(self.zones_dir)
        return stamp, self._geometry.get(("zones", stamp), lambda: load_zones(self.zones_dir))

    def zones(self) -> Any:
        """Return the saved zones: those pinned for this request, else the current ones."""
        pinned = self._zones_pin.get()
        return pinned[1] if pinned is not None else self._zones_now()[1]

    def zones_stamp(self) -> tuple[Any, ...]:
        """Return the change marker of the zones :meth:`zones` returns."""
        pinned = self._zones_pin.get()
        return pinned[0] if pinned is not None else self._zones_now()[0]

    def pin(self, who: Principal) -> tuple[Any, Any]:
        """Fix the store version, as ``who`` may see it, and the zones for this request.

        A zone saved while a request runs must not make half its answer use other zones.
        See :meth:`unpin`.
        """
        _ = self.boundaries  # reloads areas and populations changed since the last request
        self._reload_levels()
        self._reload_gazetteer()
        return self.query.pin(who), self._zones_pin.set(self._zones_now())

    @contextlib.contextmanager
    def pinned(self, who: Principal) -> Iterator[None]:
        """Answer as ``who`` within the block (the command line and tests use this)."""
        tokens = self.pin(who)
        try:
            yield
        finally:
            self.unpin(tokens)

    def unpin(self, tokens: tuple[Any, Any]) -> None:
        """Undo :meth:`pin`."""
        self.query.unpin(tokens[0])
        self._zones_pin.reset(tokens[1])

    def venues(self) -> pd.DataFrame:
        """Return saved venues and taxi ranks (column ``kind``)."""
        from geo.venues import load_venues

        return self._geometry.get(("venues", self._stamp(self.venues_dir)),
                                  lambda: load_venues(self.venues_dir))

    def nte_report(self, params: Any) -> Any:
        """Return the NTE report for ``params`` over the saved zones."""
        from geo.nte_report import build_report

        self.query.validate(params.filters)  # e.g. an area outside the principal's own
        key = ("nte", self.data_key(), self.zones_stamp(), params)
        return self._results.get(key, lambda: build_report(self.query, self.zones(), params),
                                 heavy=True)

    def in_lane(self, make: Callable[[], T]) -> T:
        """Run uncached heavy work (a document of briefings, nightly rows) in the heavy lane."""
        with self.heavy.slot():
            return self.heavy.run(make)

    # -- VRU analyses (the Trends page and the API ask the same questions) ----------------------
    def _analysis(self, name: str, params: Any, make: Callable[[], T], *extra: Any) -> T:
        """Cache an analysis by its parameters and the store version; run it in the lane."""
        items = params.items() if hasattr(params, "items") else params
        key = (name, self.data_key(), tuple(sorted((str(k), str(v)) for k, v in items)), *extra)
        return self._results.get(key, make, heavy=True)

    def events_stamp(self) -> tuple[Any, ...]:
        """Change marker of the events calendar."""
        return self._stamp(self.data.events)

    def trends(self, params: TrendsParams) -> TrendsResult:
        """Series, sources and league table (:func:`geo.vru.trends`) for ``params``."""
        from geo import vru
        from geo.trends import excluded_days, load_events

        def make() -> TrendsResult:
            exclude = excluded_days(load_events(self.data.events))
            return vru.trends(self.query, self.boundaries, params, exclude=exclude,
                              zones=self.zones())
        return self._analysis("trends", params, make, self.events_stamp(),
                              self.zones_stamp())

    def emerging(self, params: EmergingParams) -> EmergingResult:
        """Emerging hot spot categories (:func:`geo.vru.emerging`) for ``params``."""
        from geo import vru

        return self._analysis("emerging", params, lambda: vru.emerging(self.query, params))

    def board_emerging(self, source: str, end: int, months: int,
                       categories: tuple[str, ...] | None) -> Any:
        """Emerging hot spot categories by area for the board (cached per version and scope)."""
        params = {"source": source, "end": end, "months": months,
                  "categories": categories or ()}
        return self._analysis("board-emerging", params, lambda: self.query.board_emerging(
            source, end, months=months, categories=categories))

    def evaluate(self, params: EvaluateParams) -> EvaluationResult | StaggeredResult:
        """Before/after evaluation (:func:`geo.vru.evaluate`) for ``params``."""
        from geo import vru

        weights, source = self.harm_weights()

        def make() -> EvaluationResult | StaggeredResult:
            return vru.evaluate(self.query, self.boundaries, self.zones(), params,
                                harm_weights=weights or None)
        return self._analysis("evaluate", params, make, self.zones_stamp(),
                              tuple(sorted(weights.items())), source)

    def backtest(self, params: Mapping[str, str]) -> dict[str, Any]:
        """Return the forecast backtest (:mod:`dashboard.backtest_run`), cached per version.

        The command line runs the same function, so the page, the API and ``hotspot
        backtest`` give the same numbers.
        """
        from dashboard.backtest_run import run

        key = ("backtest", self.data_key(), tuple(sorted(params.items())))
        return self._results.get(key, lambda: run(self.query, params), heavy=True)

    def _require(self, view: str, what: str) -> None:
        """Refuse ``what`` unless the principal this request is answered for may see ``view``."""
        who = self.query.principal()
        if who is not None:
            who.require_see(view, what)

    # -- cached analyses -----------------------------------------------------------------------
    def hotspot_table(self, filters: Filters, res: int, n: int = 10,
                      harm_weights: dict[str, float] | None = None) -> pd.DataFrame:
        """Return the ranked top-``n`` cells for the selection, with centre coordinates."""
        def make() -> pd.DataFrame:
            from geo.door import EngineLayer

            total = None
            if isinstance(self.query, EngineLayer):
                # the engine counts; only the top cells' rows come back, in a small frame
                fr, total = self.query.ranked_frame(filters, res, n, harm_weights)
                mask = np.ones(fr.n, dtype=bool)
            else:
                fr = self.query.frame()
                mask = self.query.select(filters).mask & precise_enough(fr, res)
            table = rank_cells(
                fr.cell_codes[res][mask], fr.cells[res],
                dow=fr.dow[mask], hour=fr.hour[mask], category=fr.category[mask],
                category_labels=fr.categories,
                weight=self.query.weights(harm_weights, fr)[mask] if harm_weights else None,
                n=n, hours=filters.hours,
            )
            if total is not None and len(table):
                table["share"] = table["count"] / total  # of every selected row, as in memory
            if len(table):
                import h3
                centres = [h3.cell_to_latlng(c) for c in table["cell"]]
                table["lat"] = [c[0] for c in centres]
                table["lon"] = [c[1] for c in centres]
            _name_cells(self.query, fr, table, res, mask)
            return table
        key = ("hotspots", self.data_key(), filters, res, n,
               tuple(sorted((harm_weights or {}).items())))
        return self._results.get(key, make)

    def kde(self, filters: Filters, params: KdeParams) -> dict[str, Any] | None:
        """Return the kernel density surface for the selection, or None if too few points."""
        from geo.kde import kde_surface

        self._require("density", "the density layer")
        def make() -> dict[str, Any] | None:
            east, north, _ = self.query.within(filters, *POINT_BOUND).points(filters)
            if len(east) < 2:
                return None
            result = kde_surface(east, north, cell_m=params.cell_m,
                                 bandwidth_m=params.bandwidth_m,
                                 mask_polygons=list(self.boundaries.areas_bng.geometry))
            g = result.grid
            xmin, ymin, xmax, ymax = g.bounds
            lon, lat = to_wgs84(np.array([xmin, xmax, xmax, xmin]),
                                np.array([ymax, ymax, ymin, ymin]))
            return {
                "density": result.density,
                "corners": [[float(a), float(b)] for a, b in zip(lon, lat, strict=True)],
                "bandwidth_m": result.bandwidth_m,
                "bandwidth_rule": result.bandwidth_rule,
                "cell_m": params.cell_m,
                "n_points": result.n_points,
                "peak_per_km2": float(np.nanmax(result.density)) if result.density.size else 0.0,
            }
        return self._results.get(("kde", self.data_key(), filters, params), make, heavy=True)

    def clusters(self, filters: Filters, params: DbscanParams) -> dict[str, Any]:
        """Return DBSCAN cluster footprints (WGS84 GeoJSON) with their explaining figures."""
        from geo.dbscan import cluster_summary, dbscan

        self._require("clusters", "DBSCAN cluster footprints")
        def make() -> dict[str, Any]:
            # the selection's incidents (on an engine: read as a bounded selection)
            layer = self.query.within(filters, *POINT_BOUND)
            fr = layer.frame()
            east, north, idx = layer.points(filters)
            empty: dict[str, Any] = {"type": "FeatureCollection", "features": []}
            if len(east) == 0:
                return empty
            labels = dbscan(east, north, eps_m=params.eps_m, min_samples=params.min_samples)
            if labels.max(initial=-1) < 0:
                return empty
            # a band that wraps midnight selects nights: count the peak by night too
            dow, day_labels = night_days(fr.dow[idx], fr.hour[idx], filters.hours)
            summary = cluster_summary(
                labels, east, north, dow=dow, hour=fr.hour[idx],
                category=np.array(fr.categories, dtype=object)[fr.category[idx]],
                weight=layer.weights(weights)[idx] if weights else None,
                buffer_m=params.eps_m / 2,
            ).to_crs("EPSG:4326")
            names = _cluster_names(layer, fr, labels, idx, summary)
            features = []
            for rank, row in enumerate(summary.itertuples(), start=1):
                geom = json.loads(
                    summary.geometry.iloc[[rank - 1]].to_json(drop_id=True)
                )["features"][0]["geometry"]
                features.append({
                    "type": "Feature", "id": str(rank), "geometry": geom,
                    "properties": {
                        "rank": rank, "place_name": names["place_name"].iloc[rank - 1],
                        "name_source": names["name_source"].iloc[rank - 1],
                        "count": int(row.count), "harm": float(row.harm),
                        "share": float(row.share),
                        "peak_day": _day_text(row.peak_dow, day_labels),
                        "peak_hour": _hour_text(row.peak_hour),
                        "main_categories": str(row.main_categories),
                        "area_km2": float(row.area_km2),
                        "lon": float(summary.geometry.iloc[rank - 1].centroid.x),
                        "lat": float(summary.geometry.iloc[rank - 1].centroid.y),
                    },
                })
            return {"type": "FeatureCollection", "features": features}
        weights, _source = self.harm_weights()
        key = ("dbscan", self.data_key(), filters, params, tuple(sorted(weights.items())))
        return self._results.get(key, make, heavy=True)

    # -- crime-type groups ---------------------------------------------------------------------
    def groups(self) -> Any:
        """Return the crime-type groups (reloaded when the groups file changes)."""
        from geo.groups import GroupError, load_groups

        def make() -> Any:
            try:
                return load_groups(self.data.groups)
            except GroupError:
                # 'hotspot groups' reports the damaged file; pages keep the built-in groups
                import logging

                logging.getLogger(__name__).exception("crime-type groups file unreadable")
                return load_groups(None)
        return self._geometry.get(("groups", self._stamp(self.data.groups)), make)

    def resolve_group(self, params: Any) -> tuple[dict[str, Any], Any]:
        """Expand ``group`` (or the default group) in query parameters into ``categories``."""
        from geo.groups import resolve_group

        return resolve_group(params, self.groups(), self.query.labels().categories)


def _cluster_names(query: QueryLayer, fr: Any, labels: np.ndarray, idx: np.ndarray,
                   summary: Any) -> pd.DataFrame:
    """Name each DBSCAN cluster of ``summary`` (WGS84, in its order) from its own incidents."""
    from geo.names import group_index

    clusters = summary["cluster"].to_numpy("int64")
    return query.place_names(idx, group_index(np.asarray(labels, dtype="int64"), clusters),
                             len(clusters), summary["centroid_e"].to_numpy("float64"),
                             summary["centroid_n"].to_numpy("float64"), frame=fr)


def _name_cells(query: QueryLayer, fr: Any, table: pd.DataFrame, res: int,
                mask: np.ndarray) -> None:
    """Add ``place_name`` and ``name_source`` (after ``cell``) to a table of ranked cells."""
    from geo.names import group_index

    at = table.columns.get_loc("cell") + 1
    if not len(table):
        table.insert(at, "place_name", pd.Series([], dtype="str"))
        table.insert(at + 1, "name_source", pd.Series([], dtype="str"))
        return
    rows = np.flatnonzero(mask)
    ranked = np.searchsorted(fr.cells[res], [int(c, 16) for c in table["cell"]])
    group = group_index(fr.cell_codes[res][rows], ranked)
    east, north = to_bng(table["lon"].to_numpy("float64"), table["lat"].to_numpy("float64"))
    names = query.place_names(rows, group, len(table), east, north, frame=fr)
    table.insert(at, "place_name", names["place_name"].to_numpy())
    table.insert(at + 1, "name_source", names["name_source"].to_numpy())


def _day_text(value: Any, labels: tuple[str, ...] = DAY_LABELS) -> str:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return "unknown"
    return labels[v] if 0 <= v < 7 else "unknown"


def _hour_text(value: Any) -> str:
    try:
        v = int(value)
    except (TypeError, ValueError):
        return "unknown"
    return f"{v:02d}:00" if 0 <= v < 24 else "unknown"


def _framed(minx: float, miny: float, maxx: float,
            maxy: float) -> tuple[dict[str, float], float]:
    """Return the map centre and zoom showing a WGS84 box (a degree of longitude is narrower)."""
    span = max(maxx - minx, (maxy - miny) * 1.6)
    zoom = float(np.clip(np.log2(360.0 / max(span, 1e-6)) - 0.2, 3, 14))
    return {"lon": float((minx + maxx) / 2), "lat": float((miny + maxy) / 2)}, zoom


def chosen_engine(requested: str, rows: int, in_memory_rows: int) -> str:
    """Return the engine that serves a store of ``rows`` incidents when ``requested`` is asked.

    ``auto`` holds a store of up to ``in_memory_rows`` in memory (numpy: the fastest for one
    force) and counts a larger one with DuckDB over its files (at 10 million incidents as fast,
    in a seventh of the memory, with no load at start: docs/ENGINES.md); any other engine
    named is that engine.

    Examples
    --------
    >>> chosen_engine("auto", 296_365, 2_000_000), chosen_engine("auto", 50_000_000, 2_000_000)
    ('numpy', 'duckdb')
    >>> chosen_engine("auto", 2_000_000, 2_000_000), chosen_engine("dask", 10, 2_000_000)
    ('numpy', 'dask')
    """
    if requested != "auto":
        return requested
    return "numpy" if rows <= in_memory_rows else "duckdb"


def _query_layer(data: DataPaths, boundaries: Boundaries) -> QueryLayer:
    """Return the query layer on the engine HOTSPOT_ENGINE names (``auto`` if none).

    The engine is chosen once, as the server starts (:func:`chosen_engine`). HOTSPOT_SCHEDULER
    is the Dask scheduler's address for ``dask``; without it a local cluster of
    HOTSPOT_DASK_WORKERS (default 2) worker processes is started.
    """
    requested = os.environ.get("HOTSPOT_ENGINE", "auto").strip().lower() or "auto"
    if requested not in ENGINES:
        raise ValueError(f"HOTSPOT_ENGINE is {requested[:20]!r}; the engines are "
                         f"{', '.join(ENGINES)}")
    store = Store(data.store)
    options = {"principal_required": True, "record_key": record_key(data)}
    engine = chosen_engine(requested, store.manifest().rows, limits().in_memory_rows)
    if engine == "numpy":
        return QueryLayer(store, boundaries, **options)  # type: ignore[arg-type]
    from geo.door import open_door

    workers = os.environ.get("HOTSPOT_DASK_WORKERS", "2")
    if not workers.isdigit() or int(workers) < 1:
        raise ValueError(f"HOTSPOT_DASK_WORKERS is {workers[:20]!r}; give a whole number "
                         "from 1")
    return open_door(engine, store, boundaries,
                     scheduler=os.environ.get("HOTSPOT_SCHEDULER") or None,
                     workers=int(workers), **options)


def record_key(data: DataPaths) -> str:
    """Return the site's secret for record keys (:meth:`geo.settings.DataPaths.record_key`)."""
    return data.record_key()


_last: Services | None = None
EXTENSION = "hotspot_services"


def configure(data: DataPaths) -> Services:
    """Create services for ``data``; the app factory keeps them on its own server.

    Outside a request, :func:`current` returns the services configured last (the command
    line and tests run one app at a time); inside one it is always the app's own.
    """
    global _last
    _last = Services(data)
    return _last


def current() -> Services:
    """Return the services of the app answering this request (else those configured last)."""
    from flask import current_app, has_app_context

    if has_app_context():
        svc = current_app.extensions.get(EXTENSION)
        if svc is not None:
            return svc  # type: ignore[no-any-return]
    if _last is None:
        raise RuntimeError("dashboard.services.configure() has not been called")
    return _last


__all__ = ["Services", "KdeParams", "DbscanParams", "configure", "current", "main_categories",
           "peak_text"]
