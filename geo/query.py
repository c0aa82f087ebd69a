"""The one query layer: every filter and aggregation the app and the API use goes through here.

The store is loaded once into columnar numpy arrays with everything a filter needs already
integer-coded (category, source, area and H3 cell codes; weekday; hour; day number), so a
filter is a handful of vectorised comparisons and an aggregation is one ``np.bincount``. The
frame reloads itself when the store's manifest changes (a finished ingest), never mid-batch.

One request sees one store version: :meth:`QueryLayer.pinned` fixes the frame for everything
that runs inside it (the web server pins it for the length of each request), and every method
here takes the frame once, so a commit landing half-way through an answer cannot mix versions.

This is also the one door to the incident rows. Pinning takes the :class:`~geo.access.Principal`
asking, and what is pinned is the frame *as that principal may see it*: only their areas, no
domestic incidents for a role limited to public places, and no rows at all for a role that may
see aggregates only (partners, boards), whose figures come through the ``disclosed_*`` methods
with small numbers suppressed. A query layer built with ``principal_required=True`` (the web
app's) answers nothing outside such a pin, so no page, route or export can leave the principal
out.
"""

from __future__ import annotations

import contextlib
import contextvars
import itertools
import threading
from collections.abc import Iterator, Sequence
from collections.abc import Mapping as TMapping
from dataclasses import dataclass, field, replace
from datetime import date
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.access import AccessDenied, Principal, Scope
from geo.disclosure import (
    KEY_SPACE,
    Disclosed,
    perturb,
    record_keys,
    suppress,
    unprotected,
)
from geo.schema import H3_COLUMNS, HEALTH_SOURCES
from geo.settings import H3_RESOLUTIONS, SMALL_NUMBER_THRESHOLD
from geo.store import Manifest, Store

if TYPE_CHECKING:
    from geo.boundaries import Boundaries
    from geo.gazetteer import Gazetteer

#: The level of the boundaries every incident is assigned to at ingest (as
#: :data:`geo.boundaries.AUTHORITY`, which this module does not import at load time).
AUTHORITY = "authority"

_SERIAL = itertools.count(1)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_LABELS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_EPOCH = np.datetime64("1970-01-01", "D")


class FilterError(ValueError):
    """A filter parameter is not valid; ``param`` names it for an HTTP 400 or a form message."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Filters:
    """A selection of incidents. ``None`` means "no restriction" for every field.

    ``hours`` is a band ``(start, end)`` of whole hours, end exclusive, that may wrap midnight:
    ``(20, 4)`` selects 20:00–03:59. ``days`` uses 0 = Monday. With a band that wraps midnight
    the days name nights: the hours after midnight count with the day before, so Friday with
    ``(20, 4)`` is Friday 20:00 to Saturday 03:59.
    """

    start: date | None = None
    end: date | None = None
    days: frozenset[int] | None = None
    hours: tuple[int, int] | None = None
    categories: tuple[str, ...] | None = None
    sources: tuple[str, ...] | None = None
    areas: tuple[str, ...] | None = None
    exclude_domestic: bool = False

    @property
    def uses_time_of_week(self) -> bool:
        """True if the selection depends on weekday or hour (which month-only rows lack)."""
        return self.days is not None or self.hours is not None

    def hour_set(self) -> frozenset[int] | None:
        """Return the hours selected by the band, or None for all hours."""
        if self.hours is None:
            return None
        return frozenset(hours_in_band(*self.hours))

    def to_params(self) -> dict[str, str]:
        """Return the filters as the query parameters ``dashboard.params.parse_filters`` reads."""
        out: dict[str, str] = {}
        if self.start:
            out["start"] = self.start.isoformat()
        if self.end:
            out["end"] = self.end.isoformat()
        if self.days is not None:
            out["days"] = ",".join(DAY_NAMES[d] for d in sorted(self.days))
        if self.hours is not None:
            out["hours"] = f"{self.hours[0]}-{self.hours[1] or 24}"
        if self.categories is not None:
            out["categories"] = ",".join(self.categories)
        if self.sources is not None:
            out["source"] = ",".join(self.sources)
        if self.areas is not None:
            out["la"] = ",".join(self.areas)
        if self.exclude_domestic:
            out["public_only"] = "1"
        return out


def hours_in_band(start: int, end: int) -> list[int]:
    """Return the hours in a band that may wrap midnight (end exclusive).

    Examples
    --------
    >>> hours_in_band(20, 4)
    [20, 21, 22, 23, 0, 1, 2, 3]
    >>> hours_in_band(15, 19)
    [15, 16, 17, 18]
    """
    end = end % 24
    if start < end:
        return list(range(start, end))
    return list(range(start, 24)) + list(range(0, end))


#: The record-key hash's key where a site has none of its own (the command line, tests).
DEFAULT_RECORD_KEY = "hotspot-records!"


def _codes(values: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    encoded = pc.dictionary_encode(values.combine_chunks())
    labels = [str(v) for v in encoded.dictionary.to_pylist()]
    return np.asarray(encoded.indices.to_numpy(zero_copy_only=False), dtype="int32"), labels


def _text_codes(values: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """Dictionary-code a text column that may be blank: -1 for null or blank values.

    Examples
    --------
    >>> codes, labels = _text_codes(pa.chunked_array([["b", None, "", "b", "a"]]))
    >>> codes.tolist(), labels
    ([0, -1, -1, 0, 1], ['b', 'a'])
    """
    text = values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values
    if len(text) == 0:
        return np.zeros(0, dtype="int32"), []
    blank = pc.fill_null(pc.equal(text, ""), True)
    encoded = pc.dictionary_encode(pc.if_else(blank, pa.scalar(None, pa.string()), text))
    labels = [str(v) for v in encoded.dictionary.to_pylist()]
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False)
    return np.asarray(codes, dtype="int32"), labels


def _kept_labels(codes: np.ndarray, labels: list[str]) -> tuple[np.ndarray, list[str]]:
    """Recode ``codes`` (-1: none) to the labels they use, in the labels' order.

    Examples
    --------
    >>> codes, labels = _kept_labels(np.array([2, -1, 2, 0], dtype="int32"), ["a", "b", "c"])
    >>> codes.tolist(), labels
    ([1, -1, 1, 0], ['a', 'c'])
    """
    given = codes >= 0
    used = np.bincount(codes[given], minlength=len(labels)) > 0
    lookup = np.cumsum(used, dtype="int64") - 1
    out = np.full(len(codes), -1, dtype="int32")
    out[given] = lookup[codes[given]]
    return out, [lab for lab, u in zip(labels, used, strict=True) if u]


@dataclass
class IncidentFrame:
    """The store's incidents as integer-coded numpy columns, ready for filtering."""

    manifest: Manifest
    n: int
    easting: np.ndarray
    northing: np.ndarray
    lon: np.ndarray
    lat: np.ndarray
    day: np.ndarray  # days since 1970-01-01 of the local date; -1 where unknown
    month_first: np.ndarray  # days since epoch of the first and last day of the row's month
    month_last: np.ndarray
    dow: np.ndarray  # 0 = Monday, -1 unknown
    hour: np.ndarray  # -1 unknown
    domestic: np.ndarray  # 1 yes, 0 no, -1 unknown
    category: np.ndarray
    categories: list[str]
    source: np.ndarray
    sources: list[str]
    area: np.ndarray
    areas: list[str]
    month_only: np.ndarray  # bool
    cell_codes: dict[int, np.ndarray] = field(default_factory=dict)
    cells: dict[int, np.ndarray] = field(default_factory=dict)  # uint64 cell of each code
    #: Each row's record key (below 2**20), from a keyed hash of its incident id: the cell key
    #: of a set of rows (their keys' sum) fixes the small noise its disclosed count gets.
    rkey: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="uint32"))
    #: Each row's place as its source words it ("On or near Talbot Road"), as a code into
    #: ``locations`` (-1: none given), and its LSOA's name as a code into ``lsoas``. They
    #: only name places (:mod:`geo.names`); no filter reads them.
    location: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    locations: list[str] = field(default_factory=list)
    lsoa: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    lsoas: list[str] = field(default_factory=list)
    #: How exact each row's place is: 0 its own point (police rows, health rows with
    #: coordinates), 1 a postcode centroid, 2 an LSOA population-weighted centroid.
    precision: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int8"))
    #: Health fields (geo.istv) as codes into their labels, -1 where not given (police rows).
    age_band: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    age_bands: list[str] = field(default_factory=list)
    location_type: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    location_types: list[str] = field(default_factory=list)
    weapon: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype="int32"))
    weapons: list[str] = field(default_factory=list)
    #: Unique per frame built in this process: cache keys use it, never ``id()``, which a
    #: later frame may reuse once an old one is freed.
    serial: int = field(default_factory=lambda: next(_SERIAL))
    #: Stored rows left out because they are dated before 1970 (see :meth:`from_table`).
    before_1970: int = 0
    #: For a frame cut from another (:meth:`subset`): each row's position in the store's
    #: whole frame, and that frame's ``serial``; None and 0 for the whole frame itself. Lets
    #: work done once per store version (areas of a boundary level) serve every cut of it.
    origin: np.ndarray | None = None
    root: int = 0

    #: The stored columns :meth:`from_table` reads (the others it never needs).
    COLUMNS = ("incident_id", "month", "time_precision", "lon", "lat", "easting", "northing",
               "category", "source", "domestic", "location", "la_code", "local_date", "dow",
               "hour", *H3_COLUMNS, "lsoa_name", "location_precision", "location_type",
               "weapon", "age_band", "rkey")

    @classmethod
    def from_table(cls, manifest: Manifest, table: pa.Table,
                   record_key: str = DEFAULT_RECORD_KEY) -> IncidentFrame:
        """Build the frame from the stored Arrow table.

        ``record_key`` (16 characters) keys the hash that gives each row its record key; a
        site keeps its own secret, so nobody can work out which rows share a noise.
        """
        # Day numbers count from 1970-01-01 and -1 means "no day", so a row dated before 1970
        # would pass for an undated one (and 1969-12-31 is -1 itself). Ingest rejects such
        # dates as implausible; rows an older store still holds are left out here, counted.
        before = pc.less(table.column("month"), "1970-01")
        before_1970 = int(pc.sum(before).as_py() or 0)
        if before_1970:
            table = table.filter(pc.invert(before))
        n = table.num_rows

        def f64(name: str) -> np.ndarray:
            return np.asarray(table.column(name).to_numpy(), dtype="float64")

        local_date = table.column("local_date").combine_chunks()
        day = np.asarray(
            pc.fill_null(pc.cast(local_date, pa.int32()), -1).to_numpy(zero_copy_only=False),
            dtype="int32",
        )
        month_text = table.column("month").to_numpy(zero_copy_only=False).astype("U7")
        month_start = month_text.astype("datetime64[M]")
        first = (month_start.astype("datetime64[D]") - _EPOCH).astype("int32")
        last = ((month_start + 1).astype("datetime64[D]") - _EPOCH).astype("int32") - 1
        dom = table.column("domestic").combine_chunks()
        domestic = np.where(
            pc.is_null(dom).to_numpy(zero_copy_only=False),
            -1,
            pc.fill_null(dom, False).to_numpy(zero_copy_only=False).astype("int8"),
        ).astype("int8")
        category, categories = _codes(table.column("category"))
        source, sources = _codes(table.column("source"))
        area, areas = _codes(table.column("la_code"))
        location, locations = _text_codes(table.column("location"))
        lsoa, lsoas = _text_codes(table.column("lsoa_name"))
        age_band, age_bands = _text_codes(table.column("age_band"))
        location_type, location_types = _text_codes(table.column("location_type"))
        weapon, weapons = _text_codes(table.column("weapon"))
        placed = table.column("location_precision")

        def placed_by(how: str) -> np.ndarray:
            return np.asarray(pc.fill_null(pc.equal(placed, how), False).to_numpy(
                zero_copy_only=False), dtype=bool)

        precision = np.where(placed_by("postcode"), 1,
                             np.where(placed_by("lsoa"), 2, 0)).astype("int8")
        cell_codes, cells = {}, {}
        for res, col in zip(H3_RESOLUTIONS, H3_COLUMNS, strict=True):
            raw = np.asarray(table.column(col).to_numpy(), dtype="uint64")
            uniq, inverse = np.unique(raw, return_inverse=True)
            cells[res], cell_codes[res] = uniq, inverse.astype("int32").reshape(-1)
        return cls(
            manifest=manifest,
            n=n,
            easting=f64("easting"),
            northing=f64("northing"),
            lon=f64("lon"),
            lat=f64("lat"),
            day=day,
            month_first=first,
            month_last=last,
            dow=np.asarray(table.column("dow").to_numpy(), dtype="int8"),
            hour=np.asarray(table.column("hour").to_numpy(), dtype="int8"),
            domestic=domestic,
            category=category,
            categories=categories,
            source=source,
            sources=sources,
            area=area,
            areas=areas,
            month_only=np.asarray(
                pc.equal(table.column("time_precision"), "month").to_numpy(zero_copy_only=False),
                dtype=bool,
            ),
            cell_codes=cell_codes,
            cells=cells,
            rkey=record_keys(table.column("incident_id"), record_key,
                             table.column("rkey") if "rkey" in table.column_names else None),
            location=location,
            locations=locations,
            lsoa=lsoa,
            lsoas=lsoas,
            precision=precision,
            age_band=age_band,
            age_bands=age_bands,
            location_type=location_type,
            location_types=location_types,
            weapon=weapon,
            weapons=weapons,
            before_1970=before_1970,
        )

    def subset(self, keep: np.ndarray) -> IncidentFrame:
        """Return the frame of the rows where ``keep`` is True.

        Category, source and area codes and their labels stay as they are. Location and
        LSOA labels are cut to those of the kept rows: they are text from incident rows, so a
        label of a row left out (another area's, a domestic incident's) is never held. The
        cells of each resolution are cut to those the kept rows fall in (a hexagon holding
        only rows that were left out must not be drawn either: its outline would say where
        they are).
        """
        cell_codes, cells = {}, {}
        for res, codes in self.cell_codes.items():
            present, recoded = np.unique(codes[keep], return_inverse=True)
            cells[res] = self.cells[res][present]
            cell_codes[res] = recoded.astype("int32").reshape(-1)
        location, locations = _kept_labels(self.location[keep], self.locations)
        lsoa, lsoas = _kept_labels(self.lsoa[keep], self.lsoas)
        health: dict[str, Any] = {}
        for name in ("age_band", "location_type", "weapon"):
            codes = getattr(self, name)
            if len(codes) == len(keep):
                health[name], health[f"{name}s"] = _kept_labels(codes[keep],
                                                                getattr(self, f"{name}s"))
        return replace(
            self, n=int(keep.sum()), easting=self.easting[keep], northing=self.northing[keep],
            lon=self.lon[keep], lat=self.lat[keep], day=self.day[keep],
            month_first=self.month_first[keep], month_last=self.month_last[keep],
            dow=self.dow[keep], hour=self.hour[keep], domestic=self.domestic[keep],
            category=self.category[keep], source=self.source[keep], area=self.area[keep],
            month_only=self.month_only[keep], cell_codes=cell_codes, cells=cells,
            rkey=self.rkey[keep], location=location, locations=locations, lsoa=lsoa,
            lsoas=lsoas,
            precision=self.precision[keep] if len(self.precision) == len(keep)
            else self.precision,
            **health,
            origin=(self.origin[keep] if self.origin is not None else np.flatnonzero(keep)),
            root=self.root or self.serial,
            serial=next(_SERIAL))

    @cached_property
    def month_only_count(self) -> int:
        """Rows with only a month (no weekday or hour)."""
        return int(self.month_only.sum())

    def date_span(self) -> tuple[date, date] | None:
        """First and last day covered by the data."""
        if self.n == 0:
            return None
        lo = np.where(self.day >= 0, self.day, self.month_first).min()
        hi = np.where(self.day >= 0, self.day, self.month_last).max()
        return (
            (_EPOCH + np.timedelta64(int(lo), "D")).astype(date),
            (_EPOCH + np.timedelta64(int(hi), "D")).astype(date),
        )


#: What density and clusters read, and how to narrow it, when an engine refuses so many
#: (:meth:`QueryLayer.within`).
POINT_BOUND = ("Density and clusters", "fewer crime types, a shorter date range or one area")


def violence_categories(police: Sequence[str]) -> tuple[str, ...]:
    """Return which of the police categories ``police`` stand for violence with injury.

    Examples
    --------
    >>> violence_categories(["Robbery", "Violence and sexual offences"])
    ('Violence and sexual offences',)
    >>> violence_categories(["Violence without injury", "Domestic violence", "Robbery"])
    ('Violence without injury', 'Domestic violence')
    """
    labels = {c.lower(): c for c in police}
    for wanted in ("violence with injury", "violence and sexual offences"):
        if wanted in labels:
            return (labels[wanted],)
    return tuple(c for c in labels.values() if "violence" in c.lower())


def _lut(labels: list[str], wanted: tuple[str, ...] | None, param: str) -> np.ndarray | None:
    if wanted is None:
        return None
    lookup = {lab.lower(): i for i, lab in enumerate(labels)}
    missing = [w for w in wanted if w.lower() not in lookup]
    if missing:
        known = ", ".join(sorted(labels)) or "none (the store is empty)"
        raise FilterError(param, f"'{missing[0]}' is not in the data; known values: {known}")
    lut = np.zeros(len(labels), dtype=bool)
    lut[[lookup[w.lower()] for w in wanted]] = True
    return lut


@dataclass(frozen=True)
class Selection:
    """The rows a filter selects, with what it had to leave out and why."""

    mask: np.ndarray
    count: int
    month_only_excluded: int


@dataclass(frozen=True)
class _Pin:
    """What one request sees: the principal and the frames their scope allows."""

    who: Principal
    scope: Scope
    rows: IncidentFrame  # the rows the principal may have read on their behalf
    authority: IncidentFrame  # the rows that count in their figures by whole authority


@dataclass(frozen=True)
class _Coding:
    """The areas of one level and where a frame's rows fall in them.

    ``index`` gives each row's position in ``codes`` (-1: in none); ``listed`` marks the
    areas the pinned principal (and the filter's authorities) may see listed.
    """

    codes: tuple[str, ...]
    index: np.ndarray
    listed: np.ndarray
    boundaries: Any


class QueryLayer:
    """Filtering and aggregation over the store, reloading when an ingest commits.

    Parameters
    ----------
    store : Store
        The incident store to serve.
    boundaries : Boundaries
        Areas (names, populations) for area aggregation.
    principal_required : bool
        True (the web app): nothing is answered outside :meth:`pinned`, which takes the
        principal asking. False (the command line, the engine's tests): unpinned calls see
        every row, as the owner of the data directory does.
    levels : mapping of str to Boundaries, optional
        Other boundary levels (wards, beats...) by name; ``boundaries`` is the
        ``"authority"`` level. Incidents are placed in a level's areas when a figure first
        asks for it (:meth:`level_area`), once per store version.
    gazetteer : geo.gazetteer.Gazetteer, optional
        Streets and localities that name places the incidents do not (:meth:`place_names`).
    """

    def __init__(self, store: Store, boundaries: Boundaries, *,
                 principal_required: bool = False,
                 record_key: str = DEFAULT_RECORD_KEY,
                 levels: TMapping[str, Boundaries] | None = None,
                 gazetteer: Gazetteer | None = None) -> None:
        self.store = store
        self.gazetteer = gazetteer
        self.boundaries = boundaries
        self.levels: dict[str, Boundaries] = {k: v for k, v in (levels or {}).items()
                                              if k != AUTHORITY}
        self._located: dict[tuple[Any, ...], Any] = {}
        self._located_lock = threading.Lock()
        self.principal_required = principal_required
        self.record_key = record_key
        self._lock = threading.Lock()
        self._frame: IncidentFrame | None = None
        self._stamp: object = object()
        self._cache: dict[tuple[Any, ...], Any] = {}
        self._scoped: dict[tuple[int, Scope, str], IncidentFrame] = {}
        #: The board's counts per frame and crime types (:meth:`_board_counts`).
        self._board_cache: dict[tuple[object, ...], BoardCounts] = {}
        self._pin: contextvars.ContextVar[_Pin | None] = contextvars.ContextVar(
            f"hotspot-pinned-frame-{id(self)}", default=None)

    def _current(self) -> IncidentFrame:
        """Return the whole store's frame, reloading it if the store changed."""
        stamp = self.store.stamp()
        if self._frame is not None and stamp == self._stamp:
            return self._frame
        with self._lock:
            stamp = self.store.stamp()
            if self._frame is None or stamp != self._stamp:
                manifest, table = self.store.read()
                self._frame = IncidentFrame.from_table(manifest, table, self.record_key)
                self._stamp = stamp
                self._cache.clear()
                self._scoped.clear()
                self._located.clear()
        return self._frame

    def _pinned(self) -> _Pin | None:
        pin = self._pin.get()
        if pin is None and self.principal_required:
            raise AccessDenied("Nobody is signed in for this request, so no data is answered.")
        return pin

    def frame(self) -> IncidentFrame:
        """Return the rows the pinned principal may have read (the whole store if unpinned).

        Raises
        ------
        AccessDenied
            If the principal's role sees aggregates only, or nobody is pinned where a
            principal is required.
        """
        pin = self._pinned()
        if pin is None:
            return self._current()
        if not pin.scope.rows:
            raise AccessDenied(f"The {pin.who.role} role sees aggregates only, never incident "
                               f"rows. {pin.who.policy.summary}")
        return pin.rows

    def _authority_frame(self) -> IncidentFrame:
        pin = self._pinned()
        return self._current() if pin is None else pin.authority

    def labels(self) -> IncidentFrame:
        """Return the whole frame for its labels only (categories, sources, areas, cells).

        Use it for what the data holds and how it is coded, never to count or read rows.
        """
        return self._current()

    def _scope_frame(self, full: IncidentFrame, scope: Scope, purpose: str) -> IncidentFrame:
        """Return ``full`` cut to ``scope`` (for ``rows`` or for ``authority`` figures)."""
        keep = np.ones(full.n, dtype=bool)
        if scope.areas is not None:
            lut = np.array([code in scope.areas for code in full.areas] or [False])
            keep &= lut[full.area] if full.n else keep
        if scope.public_only or (purpose == "rows" and not scope.domestic_below_authority):
            keep &= full.domestic != 1
        if not scope.health:
            lut = np.array([s not in HEALTH_SOURCES for s in full.sources] or [True])
            keep &= lut[full.source] if full.n else keep
        if keep.all():
            return full
        key = (full.serial, scope, purpose)
        with self._lock:
            hit = self._scoped.get(key)
            if hit is None:
                if len(self._scoped) > 32:
                    self._scoped.clear()
                hit = self._scoped[key] = full.subset(keep)
        return hit

    def pin(self, who: Principal) -> contextvars.Token[_Pin | None]:
        """Fix the current frame, as ``who`` may see it, for this context until :meth:`unpin`."""
        full = self._current()
        scope = Scope.of(who)
        return self._pin.set(_Pin(who=who, scope=scope,
                                  rows=self._scope_frame(full, scope, "rows"),
                                  authority=self._scope_frame(full, scope, "authority")))

    def unpin(self, token: contextvars.Token[_Pin | None]) -> None:
        """Undo :meth:`pin`."""
        self._pin.reset(token)

    @contextlib.contextmanager
    def pinned(self, who: Principal) -> Iterator[None]:
        """Within the block every call sees one store version, as ``who`` may see it.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from geo.access import Principal, load_roles
        >>> from geo.boundaries import load_boundaries
        >>> q = QueryLayer(Store(Path(tempfile.mkdtemp())), load_boundaries(None),
        ...                principal_required=True)
        >>> board = Principal("chair", load_roles()["board"])
        >>> with q.pinned(board):
        ...     q.frame()
        Traceback (most recent call last):
        ...
        geo.access.AccessDenied: The board role sees aggregates only, never incident rows. ...
        """
        token = self.pin(who)
        try:
            yield
        finally:
            self.unpin(token)

    def principal(self) -> Principal | None:
        """Return who the current request is answered for (None outside a pin)."""
        pin = self._pin.get()
        return pin.who if pin is not None else None

    # -- boundary levels -----------------------------------------------------------------------
    def level_names(self) -> list[str]:
        """Return the boundary levels: ``"authority"`` first, then the others A-Z."""
        return [AUTHORITY, *sorted(self.levels)]

    def level_boundaries(self, level: str) -> Boundaries:
        """Return the areas of ``level``.

        Raises
        ------
        FilterError
            Naming ``level`` and the levels there are, for a level that does not exist.
        """
        if level == AUTHORITY:
            return self.boundaries
        found = self.levels.get(level)
        if found is None:
            raise FilterError("level", f"'{str(level)[:40]}' is not a boundary level here; the "
                              f"levels are {', '.join(self.level_names())}")
        return found

    def level_area(self, level: str, frame: IncidentFrame | None = None
                   ) -> tuple[tuple[str, ...], np.ndarray]:
        """Return the areas of ``level`` the pinned principal may see, and each row's area.

        Parameters
        ----------
        level : str
            ``"authority"`` or another level (:meth:`level_names`).
        frame : IncidentFrame, optional
            The rows to place. Default: the pinned principal's rows (those :meth:`frame`
            gives; for a role that sees aggregates only, the rows its figures below whole
            authorities count, public-place ones where its domestic incidents count only by
            whole authority). Only positions are returned, never rows.

        Returns
        -------
        codes : tuple of str
            The level's areas the principal may see, in code order: for a principal limited
            to some authorities, only areas that hold any of their rows or whose
            representative point lies in one of their authorities; otherwise every area.
        index : numpy.ndarray of int64
            For each row of ``frame``, its area's position in ``codes``; -1 for a row outside
            every area of the level (no row is snapped to a nearby area).

        Raises
        ------
        FilterError
            For a level that does not exist.

        Notes
        -----
        A level other than the authorities is placed by point in polygon (British National
        Grid) once per store version and level; every filter and every principal's cut of the
        data reuses that, so a filter change never repeats the geometry.
        """
        fr = frame if frame is not None else self._rows_frame()
        coding = self._coding(level, fr, None)
        listed = coding.listed
        position = np.cumsum(listed) - 1
        inside = coding.index >= 0
        index = np.full(fr.n, -1, dtype=np.int64)
        keep = inside.copy()
        keep[inside] = listed[coding.index[inside]]
        index[keep] = position[coding.index[keep]]
        codes = tuple(c for c, shown in zip(coding.codes, listed, strict=True) if shown)
        return codes, index

    def _rows_frame(self) -> IncidentFrame:
        """Return the pinned rows without the aggregate-only refusal (positions only)."""
        pin = self._pinned()
        return self._current() if pin is None else pin.rows

    def _coding(self, level: str, fr: IncidentFrame,
                authorities: tuple[str, ...] | None) -> _Coding:
        """Return the areas of ``level``, each row's area in them, and which are listed.

        ``authorities`` narrows the listing further (a filter's ``la``), on top of the pinned
        principal's own authorities.
        """
        b = self.level_boundaries(level)
        mine = self._listed_authorities(authorities)
        if level == AUTHORITY:
            codes = tuple(b.names())
            position = {c: i for i, c in enumerate(codes)}
            lut = np.array([position.get(lab, -1) for lab in fr.areas] or [-1], dtype=np.int64)
            index = lut[fr.area] if fr.n else np.zeros(0, dtype=np.int64)
            listed = np.array([mine is None or c in mine for c in codes], dtype=bool)
            return _Coding(codes, index, listed, b)
        codes, index = self._located_rows(level, b, fr)
        if mine is None:
            return _Coding(codes, index, np.ones(len(codes), dtype=bool), b)
        # the areas holding rows of these authorities, and those whose representative point
        # lies in one (so a quiet ward of theirs is listed at 0)
        ours = np.array([lab in mine for lab in fr.areas] or [False])
        held_rows = (ours[fr.area] if fr.n else np.zeros(0, dtype=bool)) & (index >= 0)
        held = np.bincount(index[held_rows], minlength=len(codes)) > 0
        rep = self._representative_authority(level, b, codes)
        listed = held | np.array([a in mine for a in rep], dtype=bool)
        return _Coding(codes, index, listed, b)

    def _listed_authorities(self, authorities: tuple[str, ...] | None) -> frozenset[str] | None:
        """Return the authorities whose areas are listed: the principal's, and those asked."""
        pin = self._pinned()
        mine: frozenset[str] | None = pin.scope.areas if pin is not None else None
        if authorities is not None:
            mine = frozenset(authorities) & mine if mine is not None else frozenset(
                authorities)
        return mine

    def _located_rows(self, level: str, b: Boundaries, fr: IncidentFrame
                      ) -> tuple[tuple[str, ...], np.ndarray]:
        """Place each row of ``fr`` in the areas of ``b``, once per store version and level."""
        full = self._frame
        if full is not None and fr.serial == full.serial:
            base, rows = full, None
        elif full is not None and fr.origin is not None and fr.root == full.serial:
            base, rows = full, fr.origin
        else:  # a frame of an older store version still pinned by a request
            base, rows = fr, None
        # the Boundaries object itself is in the key (compared by identity), so a re-imported
        # level is placed afresh and an old one cannot be mistaken for it
        key = (base.serial, level, b)
        hit = self._located.get(key)
        if hit is None:
            with self._located_lock:  # one placement at a time; the others wait and reuse it
                hit = self._located.get(key)
                if hit is None:
                    from geo.boundaries import locate_areas

                    hit = locate_areas(base.easting, base.northing, b)
                    if len(self._located) > 8:
                        self._located.clear()
                    self._located[key] = hit
        codes, index = hit
        return codes, index if rows is None else index[rows]

    def _representative_authority(self, level: str, b: Boundaries,
                                  codes: tuple[str, ...]) -> list[str | None]:
        """Return, for each area of ``b`` (in ``codes`` order), the authority it lies in.

        An area lies where its representative point (a point surely inside it) falls among
        the authorities; None when that is outside every authority.
        """
        key = ("representative", level, b, self.boundaries)
        hit = self._located.get(key)
        if hit is None:
            import shapely

            from geo.boundaries import locate_areas

            areas = b.areas_bng
            points = shapely.point_on_surface(areas.geometry.to_numpy())
            auth_codes, where = locate_areas(shapely.get_x(points), shapely.get_y(points),
                                             self.boundaries)
            by_code = {str(c): (auth_codes[w] if w >= 0 else None)
                       for c, w in zip(areas["code"], where, strict=True)}
            hit = np.array([by_code.get(c) for c in codes], dtype=object)
            with self._located_lock:
                if len(self._located) > 16:
                    self._located.clear()
                self._located[key] = hit
        return list(hit)

    # -- selection -----------------------------------------------------------------------------
    def validate(self, filters: Filters) -> None:
        """Raise :class:`FilterError` for filter values the data does not have.

        Raises :class:`AccessDenied` for areas outside the pinned principal's own, and for a
        public-places-only selection from a role whose domestic figures exist only by whole
        authority (taking one from the other would give the domestic count).
        """
        fr = self.labels()
        _lut(fr.categories, filters.categories, "categories")
        _lut(fr.sources, filters.sources, "source")
        if filters.areas is not None:
            known = set(self.boundaries.names())
            bad = [a for a in filters.areas if a not in known]
            if bad:
                raise FilterError("la", f"'{bad[0]}' is not an area code in the boundaries in use")
        pin = self._pinned()
        if pin is None:
            return
        if pin.scope.areas is not None and filters.areas is not None:
            outside = sorted(set(filters.areas) - pin.scope.areas)
            if outside:
                mine = ", ".join(sorted(pin.scope.areas))
                raise AccessDenied(f"Your account is limited to {mine}; {outside[0]} is "
                                   "outside it.")
        if filters.exclude_domestic and not pin.scope.domestic_below_authority:
            raise AccessDenied(f"The {pin.who.role} role cannot ask for public places only: its "
                               "figures are public-place incidents already, with domestic "
                               "incidents counted only by whole authority, in their own column.")

    def select(self, filters: Filters, frame: IncidentFrame | None = None) -> Selection:
        """Return the rows ``filters`` select (in ``frame``, by default the current one)."""
        fr = frame if frame is not None else self.frame()
        key = ("select", fr.serial, filters)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        mask = np.ones(fr.n, dtype=bool)
        if filters.start is not None or filters.end is not None:
            lo = _day_number(filters.start) if filters.start else -(10**9)
            hi = _day_number(filters.end) if filters.end else 10**9
            dated = fr.day >= 0
            # A month-only row is kept when its month overlaps the range: it may lie inside it.
            mask &= np.where(dated, (fr.day >= lo) & (fr.day <= hi),
                             (fr.month_last >= lo) & (fr.month_first <= hi))
        month_only_excluded = 0
        if filters.uses_time_of_week:
            month_only_excluded = int((mask & fr.month_only).sum())
        if filters.days is not None:
            lut = np.zeros(8, dtype=bool)
            lut[[d + 1 for d in filters.days]] = True
            dow = fr.dow
            if filters.hours is not None and filters.hours[0] > filters.hours[1]:
                # A band that wraps midnight is a night: its small hours belong to the day it
                # started, so "Friday 20-4" runs from Friday 20:00 to Saturday 04:00.
                early = (fr.hour >= 0) & (fr.hour < filters.hours[1])
                dow = np.where(early & (dow >= 0), (dow + 6) % 7, dow).astype("int8")
            mask &= lut[dow + 1]
        if filters.hours is not None:
            lut = np.zeros(25, dtype=bool)
            lut[[h + 1 for h in hours_in_band(*filters.hours)]] = True
            mask &= lut[fr.hour + 1]
        for code_lut, codes in (
            (_lut(fr.categories, filters.categories, "categories"), fr.category),
            (_lut(fr.sources, filters.sources, "source"), fr.source),
            (_lut(fr.areas, _present(fr.areas, filters.areas), "la"), fr.area),
        ):
            if code_lut is not None:
                mask &= code_lut[codes] if len(code_lut) else False
        if filters.exclude_domestic:
            mask &= fr.domestic != 1
        sel = Selection(mask=mask, count=int(mask.sum()), month_only_excluded=month_only_excluded)
        if len(self._cache) > 256:
            self._cache.clear()
        self._cache[key] = sel
        return sel

    # -- aggregations --------------------------------------------------------------------------
    def weights(self, harm_weights: TMapping[str, float] | None,
                frame: IncidentFrame | None = None) -> np.ndarray:
        """Return each row's harm weight (1 for every row when no table is given)."""
        fr = frame if frame is not None else self.frame()
        if not harm_weights:
            return np.ones(fr.n, dtype="float64")
        lut = np.array([float(harm_weights.get(c, 1.0)) for c in fr.categories] or [1.0])
        return lut[fr.category]

    def cell_counts(
        self, filters: Filters, res: int, harm_weights: TMapping[str, float] | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (cells, counts, harm) for every cell that holds any incident in the store.

        Arrays are aligned to ``frame().cells[res]``, so a map layer drawn once can be
        updated with new values alone.
        """
        self._check_res(res)
        fr = self.frame()
        sel = self.select(filters, fr)
        mask = sel.mask & precise_enough(fr, res)
        codes = fr.cell_codes[res][mask]
        n_cells = len(fr.cells[res])
        counts = np.bincount(codes, minlength=n_cells)
        if harm_weights:
            harm = np.bincount(codes, weights=self.weights(harm_weights, fr)[mask],
                               minlength=n_cells)
        else:
            harm = counts.astype("float64")
        return fr.cells[res], counts, harm

    def cells(self, res: int) -> np.ndarray:
        """Return the H3 cells of ``res`` that hold any of the pinned principal's rows, ascending.

        What :meth:`cell_counts` and :meth:`drawn_cells` are aligned to.
        """
        return self.frame().cells[res]

    def extent(self) -> tuple[float, float, float, float] | None:
        """Return (min lon, min lat, max lon, max lat) of the pinned principal's rows.

        The 0.5th to 99.5th percentiles, so a stray far-off point does not widen the map;
        None with no rows.
        """
        fr = self.frame()
        if not fr.n:
            return None
        minx, maxx = np.percentile(fr.lon, [0.5, 99.5])
        miny, maxy = np.percentile(fr.lat, [0.5, 99.5])
        return float(minx), float(miny), float(maxx), float(maxy)

    def drawn_cells(self, res: int) -> np.ndarray:
        """Return which of ``frame().cells[res]`` hold a record placed finely enough for ``res``.

        A hexagon that holds only records placed by a postcode or LSOA centroid is not drawn:
        its count is always nought, and its outline would say where the centroid is.
        """
        self._check_res(res)
        fr = self.frame()
        key = ("drawn-cells", fr.serial, res)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = np.bincount(
                fr.cell_codes[res][precise_enough(fr, res)],
                minlength=len(fr.cells[res])) > 0
        return hit

    def _check_res(self, res: int) -> None:
        if res not in H3_RESOLUTIONS:
            raise FilterError("res", f"{res} is not offered; choose one of {H3_RESOLUTIONS}")
        pin = self._pinned()
        if pin is not None:
            pin.who.require_see("h3", "figures by hexagon")
        limit = pin.scope.max_h3_res if pin is not None else None
        if limit is not None and res > limit:
            raise AccessDenied(f"The {pin.who.role} role sees hexagons no finer than H3 "  # type: ignore[union-attr]
                               f"resolution {limit}; {res} is finer.")

    def area_table(
        self, filters: Filters, harm_weights: TMapping[str, float] | None = None,
        frame: IncidentFrame | None = None, level: str = AUTHORITY,
    ) -> pd.DataFrame:
        """Return one row per area: code, name, count, harm, population, rate per 1,000.

        ``level`` is ``"authority"`` (default) or another boundary level (wards, beats...),
        whose populations are then used. Areas outside the pinned principal's own are left
        out: at another level, those listed by :meth:`level_area` (and, with ``la`` in the
        filters, only those that hold incidents of, or lie in, those authorities). Incidents
        outside every area of the level are in no row.
        """
        fr = frame if frame is not None else self.frame()
        sel = self.select(replace(filters, areas=None) if filters.areas is None else filters, fr)
        coding = self._coding(level, fr, filters.areas)
        mask = sel.mask & (coding.index >= 0)
        n_codes = len(coding.codes)
        counts = np.bincount(coding.index[mask], minlength=n_codes)
        harm = np.bincount(coding.index[mask], weights=self.weights(harm_weights, fr)[mask],
                           minlength=n_codes)
        return area_rows(coding.codes, coding.listed, counts, harm, coding.boundaries)

    def day_hour_grid(self, filters: Filters) -> np.ndarray:
        """Return a 7 × 24 array of counts (rows Monday..Sunday, columns hour 0..23).

        Rows without a weekday and hour (month-only data) are not in the grid.
        """
        fr = self.frame()
        sel = self.select(filters, fr)
        ok = sel.mask & (fr.dow >= 0) & (fr.hour >= 0)
        flat = fr.dow[ok].astype("int32") * 24 + fr.hour[ok]
        return np.bincount(flat, minlength=7 * 24).reshape(7, 24)

    def place_names(self, rows: np.ndarray, group: np.ndarray, n_groups: int,
                    centre_e: np.ndarray, centre_n: np.ndarray, *,
                    frame: IncidentFrame | None = None) -> pd.DataFrame:
        """Name places (cells, clusters, zones) from their incidents, as the principal may see.

        Parameters
        ----------
        rows : numpy.ndarray
            Rows of ``frame`` that lie in the places (positions, as :meth:`points` gives).
        group : numpy.ndarray
            Each row's place, 0 to ``n_groups - 1`` (-1: in none).
        n_groups : int
            Number of places.
        centre_e, centre_n : numpy.ndarray
            Each place's centre in British National Grid metres.
        frame : IncidentFrame, optional
            The frame ``rows`` index; by default the pinned principal's rows (:meth:`frame`,
            so a role that may not read rows gets no names either).

        Returns
        -------
        pandas.DataFrame
            ``place_name`` and ``name_source`` per place (:func:`geo.names.name_places`).
            Domestic incidents never name a place, whoever asks: a name is printed on
            briefings, and a home is not a street corner to patrol. The gazetteer, the
            ``ward`` level and the authorities are this query layer's.
        """
        from geo.names import RowText, name_places

        fr = frame if frame is not None else self.frame()
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        group = np.where(fr.domestic[rows] == 1, -1,
                         np.asarray(group, dtype=np.int64).reshape(-1))
        text = RowText(location=fr.location[rows], locations=fr.locations,
                       lsoa=fr.lsoa[rows], lsoas=fr.lsoas, area=fr.area[rows], areas=fr.areas)
        return name_places(group, n_groups, centre_e, centre_n, text,
                           gazetteer=self.gazetteer,
                           nearby=lambda: self._nearby_streets(fr, centre_e, centre_n),
                           wards=self.levels.get("ward"), authorities=self.boundaries)

    def _nearby_streets(self, fr: IncidentFrame, centre_e: np.ndarray,
                        centre_n: np.ndarray) -> Any:
        """Return the streets incidents name near places centred at ``centre_e, centre_n``.

        Here every street ``fr``'s incidents name (the places' centres are not needed).
        """
        return self._incident_streets(fr)

    def _incident_streets(self, fr: IncidentFrame) -> Any:
        """Return the streets ``fr``'s own (non-domestic) incidents name, once per frame."""
        from geo.names import incident_streets

        key = ("incident-streets", fr.serial)
        hit = self._cache.get(key)
        if hit is None:
            public = fr.domestic != 1
            hit = self._cache[key] = incident_streets(
                fr.easting[public], fr.northing[public], fr.location[public], fr.locations)
        return hit

    def points(self, filters: Filters) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (easting, northing, row index) of the selected incidents fit for points.

        Point methods (density, clusters) leave out records placed only by their LSOA's
        centroid (:func:`precise_enough`; :meth:`left_out` counts them).
        """
        fr = self.frame()
        idx = np.flatnonzero(self.select(filters, fr).mask & precise_enough(fr, None))
        return fr.easting[idx], fr.northing[idx], idx

    def left_out(self, filters: Filters, res: int | None = None) -> int:
        """Return how many selected rows are placed too coarsely for ``res`` (None: points)."""
        pin = self._pinned()
        fr = self._current() if pin is None else pin.rows
        sel = self.select(filters, fr)
        return int((sel.mask & ~precise_enough(fr, res)).sum())

    # -- health data (emergency department, ambulance) ----------------------------------------
    def _health_frames(self) -> tuple[IncidentFrame, IncidentFrame, int]:
        """Return the rows and whole-area frames health figures come from, and the threshold.

        Roles that suppress small numbers get every health count passed through
        :meth:`_discloser`; figures placed below whole authorities (areas, hexagons) come
        from the rows frame, which leaves domestic incidents out for them.
        """
        pin = self._pinned()
        if pin is None:
            fr = self._current()
            return fr, fr, 0
        pin.who.require_see("health", "hospital and ambulance figures")
        return pin.rows, pin.authority, pin.scope.suppress_below

    @staticmethod
    def _discloser(threshold: int) -> Any:
        """Return ``show(count, key)``: None for 1..threshold-1, else the count with its noise."""
        if threshold <= 1:
            return None

        def show(count: int, key: int) -> int | None:
            if 0 < count < threshold:
                return None
            return int(perturb(np.array([count]), np.array([key % KEY_SPACE]), threshold)[0])
        return show

    def health_sources(self) -> list[str]:
        """Return the health sources the store holds (``ed``, ``ambulance``)."""
        return [s for s in HEALTH_SOURCES if s in self._current().sources]

    def health_coverage(self, filters: Filters, source: str, shifts: tuple[Any, ...],
                        extension: tuple[Any, ...] = ()) -> dict[str, Any]:
        """Return navigator-hours coverage figures for ``source`` (see :func:`geo.health.coverage`).

        Arrival hours come from the records' own times; ``filters``' days and hours are not
        applied (the service hours are the question).
        """
        from geo.health import coverage
        from geo.istv import UNDER_25_BANDS

        _rows, whole, threshold = self._health_frames()
        idx = (np.flatnonzero(self.select(replace(filters, sources=(source,), days=None,
                                              hours=None), whole).mask)
               if source in whole.sources else np.zeros(0, dtype="int64"))
        bands = np.asarray(whole.age_bands + [None], dtype=object)[whole.age_band[idx]] \
            if len(whole.age_band) == whole.n else np.full(len(idx), None, dtype=object)
        cov = coverage(whole.dow[idx], whole.hour[idx], bands, shifts, extension,
                       under_25=frozenset(UNDER_25_BANDS), keys=whole.rkey[idx])
        figures = cov.figures(self._discloser(threshold))
        figures["suppressed"] = threshold > 1
        figures["grid"] = None if threshold > 1 else cov.grid.tolist()
        figures["source"] = source
        return figures

    def _police_violence(self, fr: IncidentFrame) -> tuple[str, ...]:
        """Return the police categories that stand for violence with injury in this data.

        Only police rows' categories count: ED records are filed as violence with injury too.
        """
        if "police" not in fr.sources:
            return ()
        police = fr.category[fr.source == fr.sources.index("police")]
        return violence_categories([fr.categories[i] for i in np.unique(police)])

    def health_compare(self, filters: Filters, source: str = "ed", period: str = "month",
                       level: str = AUTHORITY) -> dict[str, Any]:
        """Set ``source`` beside police-recorded violence with injury, by period, area and hour.

        Only months both sources hold data for are compared. Areas and hours where the
        hospital sees clearly more than the police are found by
        :func:`geo.health.excess_over_police`.
        """
        from geo.health import (
            DIFFERENT_THINGS,
            areas_of_concern,
            compare_periods,
            excess_method,
            excess_over_police,
            period_of_month,
        )

        rows_fr, whole, threshold = self._health_frames()
        show = self._discloser(threshold)
        categories = self._police_violence(whole)
        base = replace(filters, sources=None, categories=None)
        police_f = replace(base, sources=("police",), categories=categories or ("\x00none",))
        ed_f = replace(base, sources=(source,))

        def months(fr: IncidentFrame, idx: np.ndarray) -> np.ndarray:
            return (fr.month_first[idx].astype("datetime64[D]").astype("datetime64[M]")
                    .astype("int64"))

        def covered(fr: IncidentFrame, src: str) -> np.ndarray:
            lut = np.array([s == src for s in fr.sources] or [False])
            return np.unique(months(fr, np.flatnonzero(lut[fr.source]))) if fr.n else \
                np.zeros(0, dtype="int64")

        known = set(whole.categories)
        police_sel = self.select(replace(police_f, categories=tuple(
            c for c in police_f.categories or () if c in known) or None), whole) \
            if categories and "police" in whole.sources else None
        ed_sel = self.select(ed_f, whole) if source in whole.sources else None
        ed_idx = np.flatnonzero(ed_sel.mask) if ed_sel else np.zeros(0, dtype="int64")
        po_idx = np.flatnonzero(police_sel.mask) if police_sel else np.zeros(0, dtype="int64")
        ed_cov, po_cov = covered(whole, source), covered(whole, "police")
        table = compare_periods(months(whole, ed_idx), months(whole, po_idx), period,
                                ed_cov, po_cov)
        common = np.intersect1d(ed_cov, po_cov)

        def period_keys(idx: np.ndarray) -> dict[str, int]:
            m = months(whole, idx)
            keep = np.isin(m, common)
            if not keep.any():
                return {}
            labels = period_of_month(m[keep], period)
            return {str(k): int(v) for k, v in pd.Series(
                whole.rkey[idx][keep].astype("int64")).groupby(labels).sum().items()}

        ed_keys, po_keys = period_keys(ed_idx), period_keys(po_idx)
        periods = []
        for r in table.itertuples():
            ed_n, po_n = int(r.ed), int(r.police)
            ed_s = show(ed_n, ed_keys.get(str(r.period), 0)) if show else ed_n
            po_s = show(po_n, po_keys.get(str(r.period), 0)) if show else po_n
            periods.append({
                "period": r.period, "months": int(r.months), "ed": ed_s, "police": po_s,
                "ratio": (round(ed_s / po_s, 2) if ed_s is not None and po_s else None),
                "ed_change": None if show or pd.isna(r.ed_change) else float(r.ed_change),
                "police_change": None if show or pd.isna(r.police_change)
                else float(r.police_change),
                "note": r.note})

        def in_common(fr: IncidentFrame, idx: np.ndarray) -> np.ndarray:
            return idx[np.isin(months(fr, idx), common)]

        # by area: below authorities from the rows frame (no domestic for restricted roles)
        area_fr = whole if level == AUTHORITY else rows_fr
        a_ed = in_common(area_fr, np.flatnonzero(self.select(ed_f, area_fr).mask)) \
            if source in area_fr.sources else np.zeros(0, dtype="int64")
        a_po = in_common(area_fr, np.flatnonzero(self.select(police_f if categories else
                                                             ed_f, area_fr).mask)) \
            if categories and "police" in area_fr.sources else np.zeros(0, dtype="int64")
        if level.startswith("h3-"):
            # hexagons: where hospital and police differ below any boundary (records placed
            # too coarsely for the resolution count in none)
            res = int(level.removeprefix("h3-"))
            self._check_res(res)
            from geo.h3index import cells_to_str

            h3_codes = tuple(cells_to_str(area_fr.cells[res]))
            h3_index = np.where(precise_enough(area_fr, res), area_fr.cell_codes[res], -1)
            coding = _Coding(h3_codes, h3_index.astype(np.int64),
                             np.ones(len(h3_codes), dtype=bool), None)
            names: dict[str, str] = {}
            pops: dict[str, Any] = {}
        else:
            coding = self._coding(level, area_fr, filters.areas)
            names = coding.boundaries.names()
            pops = coding.boundaries.population()
        n_codes = len(coding.codes)

        def tally(fr: IncidentFrame, idx: np.ndarray, index: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
            ok = index >= 0
            return (np.bincount(index[ok], minlength=n),
                    np.bincount(index[ok], weights=fr.rkey[idx][ok].astype("float64"),
                                minlength=n).astype("int64"))

        ed_by, ed_kby = tally(area_fr, a_ed, coding.index[a_ed], n_codes)
        po_by, po_kby = tally(area_fr, a_po, coding.index[a_po], n_codes)
        # areas the principal may see that hold any record of the selection's sources
        held = np.bincount(coding.index[coding.index >= 0], minlength=n_codes) > 0 \
            if area_fr.n else np.zeros(n_codes, dtype=bool)
        listed = np.flatnonzero(coding.listed & held)
        area_keys = {coding.codes[i]: (int(ed_kby[i]), int(po_kby[i])) for i in listed}
        area_excess = excess_over_police([coding.codes[i] for i in listed], ed_by[listed],
                                         po_by[listed])
        # areas of concern: every ED record of the selection (not only the months police
        # cover), against resident population
        all_ed = np.flatnonzero(self.select(ed_f, area_fr).mask) \
            if source in area_fr.sources else np.zeros(0, dtype="int64")
        ed_all, ed_all_k = tally(area_fr, all_ed, coding.index[all_ed], n_codes)
        concern = areas_of_concern(
            [coding.codes[i] for i in listed], ed_all[listed],
            np.array([pops.get(coding.codes[i]) or np.nan for i in listed], dtype="float64"))
        concern_keys = {coding.codes[i]: int(ed_all_k[i]) for i in listed}
        # by hour of the day: only where the police data has times
        e_common, p_common = in_common(whole, ed_idx), in_common(whole, po_idx)
        e_h = whole.hour[e_common]
        p_h = whole.hour[p_common]
        police_timed = int((p_h >= 0).sum())
        e_n, e_k = tally(whole, e_common, e_h.astype("int64"), 24)
        p_n, p_k = tally(whole, p_common, p_h.astype("int64"), 24)
        hour_labels = [f"{h:02d}:00" for h in range(24)]
        hour_keys = {lab: (int(e_k[h]), int(p_k[h])) for h, lab in enumerate(hour_labels)}
        hour_excess = excess_over_police(hour_labels, e_n, p_n) if police_timed else None

        def overall(ex: Any, keys: dict[str, tuple[int, int]]
                    ) -> tuple[int | None, int | None]:
            """Return the ED total and the two counts' total as this reader may see them."""
            ed_n, po_n = int(ex.table["ed"].sum()), int(ex.table["police"].sum())
            if not show:
                return ed_n, ed_n + po_n
            ed_k = sum(k[0] for k in keys.values())
            po_k = sum(k[1] for k in keys.values())
            return show(ed_n, ed_k), show(ed_n + po_n, ed_k + po_k)

        def rows_of(ex: Any, label: Any, keys: dict[str, tuple[int, int]]
                    ) -> list[dict[str, Any]]:
            out = []
            ed_all_s, both_s = overall(ex, keys)
            for r in ex.table.itertuples():
                ed_n, po_n = int(r.ed), int(r.police)
                ed_k, po_k = keys.get(r.key, (0, 0))
                ed_s = show(ed_n, ed_k) if show else ed_n
                po_s = show(po_n, po_k) if show else po_n
                exact = show is None
                if exact:
                    index = round(float(r.index), 2) if np.isfinite(r.index) else None
                elif (ed_s is None or po_s is None or not ed_all_s or not both_s
                      or not (ed_s or po_s)):
                    index = None
                else:
                    # from the counts shown, never the exact ones (they would give them back)
                    index = round(ed_s / ((ed_s + po_s) * ed_all_s / both_s), 2)
                out.append({"key": r.key, "name": label(r.key), "ed": ed_s, "police": po_s,
                            "index": index,
                            "q_value": float(r.q_value) if exact else None,
                            "flagged": bool(r.flagged)})
            return out

        def concern_rows() -> list[dict[str, Any]]:
            t = concern.table
            pop = np.array([pops.get(k) or np.nan for k in t["key"]], dtype="float64")
            known = np.isfinite(pop) & (pop > 0)
            total = int(t["ed"][known].sum())
            total_s = (show(total, sum(concern_keys.get(k, 0) for k in t["key"][known]))
                       if show else total)
            out = []
            for i, r in enumerate(t.itertuples()):
                count = show(int(r.ed), concern_keys.get(r.key, 0)) if show else int(r.ed)
                if not show:
                    rate = (round(float(r.rate_per_1000), 2) if np.isfinite(r.rate_per_1000)
                            else None)
                    ratio = round(float(r.index), 2) if np.isfinite(r.index) else None
                else:
                    # worked from the counts shown (rounded exact ratios give counts back)
                    ok = count is not None and bool(known[i])
                    rate = round(1000.0 * count / pop[i], 2) if ok else None
                    share_pop = pop[i] / pop[known].sum() if ok else 0.0
                    ratio = (round(count / (total_s * share_pop), 2)
                             if ok and total_s and share_pop > 0 else None)
                out.append({"key": r.key, "name": names.get(r.key, r.key), "count": count,
                            "rate_per_1000": rate, "ratio": ratio,
                            "flagged": bool(r.flagged)})
            return out

        return {
            "source": source, "period": period, "level": level,
            "police_categories": list(categories),
            "months_compared": len(common),
            "first_month": _month_text(int(common[0])) if len(common) else None,
            "last_month": _month_text(int(common[-1])) if len(common) else None,
            "periods": periods,
            # the whole span's totals, each disclosed as one figure (a sum of the periods
            # shown would count hidden ones as 0)
            "ed_total": (show(int(table["ed"].sum()), sum(ed_keys.values())) if show
                         else int(table["ed"].sum())),
            "police_total": (show(int(table["police"].sum()), sum(po_keys.values())) if show
                             else int(table["police"].sum())),
            "areas": rows_of(area_excess, lambda k: names.get(k, k), area_keys),
            "hours": (rows_of(hour_excess, lambda k: k, hour_keys)
                      if hour_excess is not None else []),
            "hours_note": None if hour_excess is not None else (
                "The police data here has no times of day (police.uk gives the month only), "
                "so hospital and police cannot be compared by hour."),
            "method": excess_method(*overall(area_excess, area_keys)),
            "concern": concern_rows(),
            "concern_method": concern.method,
            "different_things": DIFFERENT_THINGS,
            "suppressed": threshold > 1,
        }

    def health_profile(self, filters: Filters, source: str = "ed") -> dict[str, Any]:
        """Return weapon by location type for ``source``, and the knife or sharp object share."""
        from geo.health import profile
        from geo.istv import LOCATION_TYPES, WEAPONS

        _rows, whole, threshold = self._health_frames()
        show = self._discloser(threshold)
        idx = (np.flatnonzero(self.select(replace(filters, sources=(source,)), whole).mask)
               if source in whole.sources else np.zeros(0, dtype="int64"))

        def labels(codes: np.ndarray, names: list[str]) -> pd.Series:
            if len(codes) != whole.n:
                return pd.Series([None] * len(idx), dtype=object)
            return pd.Series(np.asarray(names + [None], dtype=object)[codes[idx]])

        weapon = labels(whole.weapon, whole.weapons)
        place = labels(whole.location_type, whole.location_types)
        table = profile(weapon, place, WEAPONS, LOCATION_TYPES)
        key = pd.Series(whole.rkey[idx].astype("int64"))
        w_lab = weapon.where(weapon.notna(), "Not recorded").astype(str)
        p_lab = place.where(place.notna(), "Not recorded").astype(str)
        cell_key = key.groupby([w_lab, p_lab]).sum().to_dict()
        cells = [[(show(int(v), int(cell_key.get((w, p), 0))) if show else int(v))
                  for p, v in zip(table.columns, row, strict=True)]
                 for w, row in zip(table.index, table.to_numpy(), strict=True)]
        is_knife = (weapon == "Knife or sharp object").fillna(False).to_numpy(dtype=bool)
        recorded_mask = weapon.notna().to_numpy(dtype=bool)
        knife, recorded = int(is_knife.sum()), int(recorded_mask.sum())
        knife_s = show(knife, int(key[is_knife].sum())) if show else knife
        rec_s = show(recorded, int(key[recorded_mask].sum())) if show else recorded
        total_s = show(len(idx), int(key.sum())) if show else len(idx)
        return {
            "source": source, "weapons": list(table.index), "places": list(table.columns),
            "counts": cells, "total": total_s,
            "knife": knife_s, "weapon_recorded": rec_s,
            "knife_share": (knife_s / rec_s if knife_s is not None and rec_s else None),
            "suppressed": threshold > 1,
        }

    def health_status(self) -> dict[str, Any]:
        """Return how many health records the caller's areas hold, by source and precision."""
        _rows, whole, threshold = self._health_frames()
        show = self._discloser(threshold)
        out: dict[str, Any] = {}
        for src in ("ed", "ambulance"):
            if src not in whole.sources:
                continue
            code = whole.sources.index(src)
            mask = whole.source == code
            prec = whole.precision[mask] if len(whole.precision) == whole.n else \
                np.zeros(int(mask.sum()), dtype="int8")
            keys = whole.rkey[mask].astype("int64")
            figures = {"records": (int(mask.sum()), int(keys.sum()))}
            for i, name in enumerate(("point", "postcode", "lsoa")):
                figures[name] = (int((prec == i).sum()), int(keys[prec == i].sum()))
            out[src] = {k: (show(n, key) if show else n) for k, (n, key) in figures.items()}
        return out

    # -- disclosure: what aggregate-only roles get ---------------------------------------------
    def disclosed_areas(self, filters: Filters, level: str = AUTHORITY) -> DisclosedAreas:
        """Return the area table, at a boundary level, as the pinned principal may see it.

        For a role that suppresses small numbers: counts from 1 to the threshold less one
        (and the cells hidden to protect them) come back as NA with ``suppressed`` True; the
        counts shown carry a small fixed noise (:func:`geo.disclosure.perturb`); harm and
        rates are left out (either would give the count back). A role whose domestic incidents
        count only by whole authority gets the public-place count (the same rows its hexagons
        count, so one cannot be taken from the other) and, at the authority level, beside it
        the domestic count, each suppressed on its own; at any other ``level`` (wards, beats)
        it gets the public-place count alone. At another level each authority's areas also
        form a group whose total is taken to be known (the authority's own figure), so a
        hidden area cannot be had from its authority's count either.
        """
        pin = self._pinned()
        below = level != AUTHORITY
        if pin is None or pin.scope.suppress_below == 0:
            if pin is None:
                fr = self.frame()
            else:
                fr = pin.rows if pin.scope.rows or below else pin.authority
            return DisclosedAreas(self.area_table(filters, frame=fr, level=level), None, None)
        t = pin.scope.suppress_below
        split = not pin.scope.domestic_below_authority
        fr = pin.rows if split else pin.authority
        table = self.area_table(filters, frame=fr, level=level)
        counts, count_d = self._disclose_column(table, filters, fr, t, level)
        table = table.assign(count=counts, harm=None, rate_per_1000=None,
                             suppressed=count_d.hidden)
        domestic_d = None
        if split and not below:
            home = self._domestic_frame(pin.authority)
            dom = self.area_table(filters, frame=home)
            values, domestic_d = self._disclose_column(dom, filters, home, t)
            table = table.assign(domestic=values, domestic_suppressed=domestic_d.hidden)
        return DisclosedAreas(table, count_d, domestic_d)

    def _disclose_column(self, table: pd.DataFrame, filters: Filters, fr: IncidentFrame,
                         threshold: int, level: str = AUTHORITY
                         ) -> tuple[pd.arrays.IntegerArray, Disclosed]:
        """Suppress and perturb one column of counts by area (rows in the table's order)."""
        sel = self.select(replace(filters, areas=None) if filters.areas is None else filters, fr)
        coding = self._coding(level, fr, filters.areas)
        mask = sel.mask & (coding.index >= 0)
        keys = np.bincount(coding.index[mask], weights=fr.rkey[mask].astype("float64"),
                           minlength=len(coding.codes))
        by_code = dict(zip(coding.codes, keys, strict=True))
        cell_keys = np.array([by_code.get(c, 0.0) for c in table["code"]], dtype="int64")
        groups = []
        if level != AUTHORITY:
            rep = dict(zip(coding.codes, self._representative_authority(
                level, coding.boundaries, coding.codes), strict=True))
            home = pd.Series([rep.get(c) for c in table["code"]], dtype=object)
            groups.append(pd.factorize(home, use_na_sentinel=True)[0].astype("int64"))
        return disclose_counts(table["count"].to_numpy(), cell_keys, threshold, groups)

    def _domestic_frame(self, authority: IncidentFrame) -> IncidentFrame:
        """Return the domestic rows of ``authority`` (for whole-authority domestic counts)."""
        key = (authority.serial, None, "domestic")
        with self._lock:
            hit = self._scoped.get(key)  # type: ignore[arg-type]
            if hit is None:
                hit = self._scoped[key] = authority.subset(  # type: ignore[index]
                    authority.domestic == 1)
        return hit

    def disclosed_cells(self, filters: Filters,
                        res: int) -> tuple[np.ndarray, np.ndarray, Disclosed | None]:
        """Return (cells, counts, disclosure) by H3 cell as the pinned principal may see them.

        Without suppression this is :meth:`cell_counts` (cells with no incident included).
        With it, only cells with incidents are returned, hidden ones as NaN (and marked in the
        :class:`~geo.disclosure.Disclosed`), shown ones with their small fixed noise. Every
        resolution the role may see is decided together: the hexagons are counted at the
        finest, coarser ones are built from them (so a coarse cell is exactly the sum of its
        parts), a coarse cell whose parts cannot be protected is hidden, and a coarse cell
        hidden to protect another has a part hidden too, so no answer undoes another's.
        """
        self._check_res(res)
        pin = self._pinned()
        if pin is None or pin.scope.suppress_below == 0:
            cells, counts, _harm = self.cell_counts(filters, res)
            return cells, counts, None
        fr = pin.rows
        fine = pin.scope.max_h3_res or max(H3_RESOLUTIONS)
        levels = sorted((r for r in H3_RESOLUTIONS if r <= fine), reverse=True)
        sel = self.select(filters, fr)
        # the finest level decides every coarser one, so rows too coarse for it count in none
        # (a role that may see res 8 at most loses only LSOA-placed health records here)
        mask = sel.mask & precise_enough(fr, fine)
        codes = fr.cell_codes[fine][mask]
        counts = np.bincount(codes, minlength=len(fr.cells[fine]))
        keys = np.bincount(codes, weights=fr.rkey[mask].astype("float64"),
                           minlength=len(fr.cells[fine])).astype("int64")
        return disclose_cells(fr.cells[fine], counts, keys, levels, res,
                              pin.scope.suppress_below)

    def within(self, bound: Filters, what: str, advice: str,
               boxes: Sequence[tuple[float, float, float, float]] = ()) -> QueryLayer:
        """Return a layer holding at least the incidents ``bound`` selects (here: this one).

        ``boxes`` (British National Grid rectangles) narrow it to the incidents inside one.

        A view that needs incidents one by one asks for the few it will select; an engine's
        layer (:meth:`geo.door.EngineLayer.within`) reads just those, bounded, and refuses
        in words (naming ``what`` and the ``advice``) when they are too many.
        """
        return self

    def selected_counts(self, filters: Filters) -> tuple[int, int]:
        """Return how many incidents ``filters`` select, and how many of them give a month only."""
        fr = self.frame()
        mask = self.select(filters, fr).mask
        return int(mask.sum()), int((mask & fr.month_only).sum())

    def months_holding(self, filters: Filters) -> np.ndarray:
        """Return the first day of each month holding an incident ``filters`` select (sorted)."""
        fr = self.frame()
        return np.unique(fr.month_first[self.select(filters, fr).mask]).astype(np.int64)

    def month_only_count(self) -> int:
        """Return how many of the principal's incidents give only a month (police.uk)."""
        return self.frame().month_only_count

    def month_cover(self) -> tuple[tuple[date, date] | None, bool, np.ndarray]:
        """Return what the principal's data cover, to choose periods from.

        Their first and last day, whether every incident gives only a month (police.uk),
        and the first day of each month holding any incident (ascending), for finding
        months the data miss.
        """
        return (*self._span(), np.unique(self.frame().month_first).astype(np.int64))

    def _span(self) -> tuple[tuple[date, date] | None, bool]:
        """Return the principal's first and last day, and whether every incident is month-only."""
        fr = self.frame()
        return fr.date_span(), fr.n > 0 and fr.month_only_count == fr.n

    def period_rows(self, filters: Filters, res: int, periods: Sequence[tuple[int, int]],
                    dated_only: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
        """Return the selected incidents in ``periods``, placed finely enough for ``res``.

        For counting by cell and period (the emerging hot spots). Returns each row's H3
        cell at ``res``, its day (a month-only incident's month's first day; such incidents
        are left out with ``dated_only``) and how many incidents it stands for (in memory one
        each), and how many selected incidents give only a month.
        """
        fr = self.frame()
        self._check_res(res)
        mask = self.select(filters, fr).mask
        month_only = int((mask & fr.month_only).sum())
        if dated_only:
            mask = mask & ~fr.month_only
        day = np.where(fr.month_only, fr.month_first, fr.day).astype(np.int64)
        lo, hi = (periods[0][0], periods[-1][1]) if periods else (0, -1)
        keep = mask & (day >= lo) & (day <= hi) & precise_enough(fr, res)
        return (fr.cells[res][fr.cell_codes[res][keep]], day[keep],
                np.ones(int(keep.sum()), dtype=np.int64), month_only)

    def trend_rows(self, filters: Filters) -> TrendRows:
        """Return the incidents ``filters`` select as the trends count them (:class:`TrendRows`).

        In memory each selected row is one row, in the frame's order.
        """
        fr = self.frame()
        mask = self.select(filters, fr).mask
        span, all_month_only = self._span()  # the principal's whole data's
        return TrendRows.of(day=fr.day[mask], month_first=fr.month_first[mask],
                            month_only=fr.month_only[mask], area=fr.area[mask],
                            areas=fr.areas, source=fr.source[mask], sources=fr.sources,
                            incidents=np.ones(int(mask.sum()), dtype=np.int64),
                            span=span, all_month_only=all_month_only)

    def board_figures(self, *, period: str = "fyq", baseline: str = "last_year",
                      baseline_year: int | None = None,
                      areas: tuple[str, ...] | None = None,
                      categories: tuple[str, ...] | None = None) -> BoardFigures:
        """Return each source's headline for the partnership board, as the principal may see it.

        Whole-authority figures: every incident the principal's areas hold, domestic ones
        included (they may be counted by whole authority). For a role that suppresses small
        numbers, a count from 1 to the threshold less one is kept only for the sentence to say
        "fewer than 5" (``hidden``), and counts shown carry the same cell-key noise as every
        other disclosed figure; changes and rates are then worked from the counts shown.
        """
        from geo.board import headlines

        pin = self._pinned()
        self._check_board_areas(areas)
        bc = self._board_counts(categories)
        # each (month, source, authority) twice: the crime types chosen (which count) and the
        # rest (which only say the month's data arrived: the date of the last robbery is not
        # the date the data run to)
        m = len(bc.month)
        counts = np.concatenate([np.ones(m, dtype=bool), np.zeros(m, dtype=bool)])
        day = np.tile((bc.month.astype("datetime64[M]").astype("datetime64[D]")
                       - _EPOCH).astype("int64"), 2)
        found = headlines(day, np.tile(bc.source, 2), bc.last_day,
                          covered_from=bc.first_day, period=period, baseline=baseline,
                          baseline_year=baseline_year, area=np.tile(bc.area, 2),
                          areas=list(areas) if areas else None,
                          population=self.boundaries.population(), counts=counts,
                          incidents=np.concatenate([bc.chosen, bc.n - bc.chosen]))
        threshold = pin.scope.suppress_below if pin is not None else 0
        if threshold:
            found = tuple(self._disclose_headline(h, bc, areas, threshold) for h in found)
        return BoardFigures(found, dict(bc.last_day), threshold, dict(bc.first_day))

    def _disclose_headline(self, h: Any, bc: BoardCounts, areas: tuple[str, ...] | None,
                           threshold: int) -> Any:
        """Return ``h`` with its counts as a suppressing role sees them."""
        rows_in = bc.source == h.source
        if areas:
            rows_in &= np.isin(bc.area, list(areas))

        def key(start: str, end: str) -> int:
            return int(bc.keys[rows_in & bc.within(start, end)].sum())

        counts = np.array([h.count, h.baseline_count])
        keys = np.array([key(h.period_start, h.period_end),
                         key(h.baseline_start, h.baseline_end)])
        shown = perturb(counts, keys, threshold)
        count, base = (int(c) if c >= threshold or c == 0 else int(raw)
                       for c, raw in zip(shown, counts, strict=True))
        hidden = any(1 <= c < threshold for c in (count, base))
        change = count - base if h.comparable and not hidden else None
        pct = 100.0 * change / base if change is not None and base else None
        pop = h.population
        return replace(h, count=count, baseline_count=base, change=change, change_pct=pct,
                       rate_per_1000=1000.0 * count / pop if pop and count >= threshold
                       else None,
                       baseline_rate_per_1000=1000.0 * base / pop if pop and base >= threshold
                       else None,
                       # from the counts shown: from the true ones it would undo the noise
                       small_number=min(count, base) < SMALL_NUMBER_THRESHOLD)

    def _board_counts(self, categories: tuple[str, ...] | None) -> BoardCounts:
        """Return the principal's whole-authority incidents counted for the board.

        By month, source and authority, with the crime types ``categories`` counted apart
        (and their record keys summed); once per frame and crime types.
        """
        pin = self._pinned()
        fr = pin.authority if pin is not None else self._current()
        lut = _lut(fr.categories, categories, "categories")
        key = (fr.serial, None if lut is None else tuple(sorted(c.lower() for c in categories
                                                                  or ())), "board counts")
        with self._lock:
            got = self._board_cache.get(key)
        if got is not None:
            return got
        chosen = (np.ones(fr.n, dtype=bool) if lut is None
                  else lut[fr.category] if len(lut) else np.zeros(fr.n, dtype=bool))
        first = np.where(fr.day >= 0, fr.day, fr.month_first)
        last = np.where(fr.day >= 0, fr.day, fr.month_last)
        month = first.astype("datetime64[D]").astype("datetime64[M]").astype("int64")
        n_src, n_area = max(1, len(fr.sources)), max(1, len(fr.areas))
        group = (month * n_src + fr.source) * n_area + fr.area
        groups, at = np.unique(group, return_inverse=True)
        at = at.reshape(-1)
        keys = np.zeros(len(groups), dtype=np.int64)
        np.add.at(keys, at[chosen], fr.rkey[chosen].astype(np.int64))
        sources = np.array(fr.sources, dtype=object)
        made = BoardCounts.of(
            month=groups // (n_src * n_area),
            source=sources[(groups // n_area) % n_src] if fr.n else np.zeros(0, dtype=object),
            area=(np.array(fr.areas, dtype=object)[groups % n_area] if fr.n
                  else np.zeros(0, dtype=object)),
            n=np.bincount(at, minlength=len(groups)).astype(np.int64),
            chosen=np.bincount(at[chosen], minlength=len(groups)).astype(np.int64), keys=keys,
            first_day={str(s): int(first[fr.source == i].min())
                       for i, s in enumerate(fr.sources) if (fr.source == i).any()},
            last_day={str(s): int(last[fr.source == i].max())
                      for i, s in enumerate(fr.sources) if (fr.source == i).any()})
        with self._lock:
            if len(self._board_cache) > 32:
                self._board_cache.clear()
            self._board_cache[key] = made
        return made

    def _check_board_areas(self, areas: tuple[str, ...] | None) -> None:
        """Refuse board areas outside the principal's."""
        pin = self._pinned()
        if pin is not None and pin.scope.areas is not None and areas is not None:
            outside = sorted(set(areas) - pin.scope.areas)
            if outside:
                raise AccessDenied(f"Your account is limited to "
                                   f"{', '.join(sorted(pin.scope.areas))}; {outside[0]} is "
                                   "outside it.")

    def _board_frame(self, categories: tuple[str, ...] | None,
                     areas: tuple[str, ...] | None) -> IncidentFrame:
        """Return the rows board figures count: the principal's whole-authority frame."""
        pin = self._pinned()
        fr = pin.authority if pin is not None else self._current()
        if categories is not None:
            lut = _lut(fr.categories, categories, "categories")
            if lut is not None:
                # every section of the board asks for the same cut: make it once per version
                key = (fr.serial, tuple(sorted(categories)), "board")
                with self._lock:
                    hit = self._scoped.get(key)  # type: ignore[arg-type]
                if hit is None:
                    hit = fr.subset(lut[fr.category] if len(lut)
                                    else np.zeros(fr.n, dtype=bool))
                    with self._lock:
                        if len(self._scoped) > 32:
                            self._scoped.clear()
                        self._scoped[key] = hit  # type: ignore[index]
                fr = hit
        self._check_board_areas(areas)
        return fr

    def _board_codes(self, areas: tuple[str, ...] | None, bc: BoardCounts) -> list[str]:
        """Return the areas a board table lists: ``areas``, or the principal's own with data.

        Only areas holding at least :data:`BOARD_MIN_SHARE` of the incidents are listed:
        national boundaries would otherwise list every authority in the country, and police
        data place a few incidents outside the force (police.uk's Leicestershire files put
        some in York and Wandsworth).
        """
        pin = self._pinned()
        mine = pin.scope.areas if pin is not None else None
        total = int(bc.n.sum())
        per = pd.Series(bc.n).groupby(bc.area).sum() if len(bc.n) else pd.Series(dtype=int)
        held = {str(c) for c, v in per.items() if v >= max(1.0, BOARD_MIN_SHARE * total)}
        return [c for c in self.boundaries.names()
                if (mine is None or c in mine) and (c in areas if areas else c in held)]

    def board_choices(self) -> tuple[list[str], list[int]]:
        """Return what a board page offers: the areas it lists, and the whole financial years.

        Areas as :meth:`board_areas` lists them (the principal's own that hold data); years
        by the year they start (2023 for April 2023 to March 2024), each covered whole by
        the principal's incidents.
        """
        bc = self._board_counts(None)
        codes = self._board_codes(None, bc)
        if not bc.first_day:
            return codes, []
        lo = (_EPOCH + np.timedelta64(min(bc.first_day.values()), "D")).astype(date)
        hi = (_EPOCH + np.timedelta64(max(bc.last_day.values()), "D")).astype(date)
        first = lo.year if lo <= lo.replace(month=4, day=1) else lo.year + 1
        last = hi.year - (1 if hi >= hi.replace(month=3, day=31) else 2)
        return codes, list(range(first, last + 1))

    def _board_level(self, level: str, categories: tuple[str, ...] | None,
                     areas: tuple[str, ...] | None
                     ) -> tuple[IncidentFrame, list[str], np.ndarray, np.ndarray]:
        """Return the rows, listed areas, each row's position and each area's authority group.

        For :meth:`board_areas` at a level below the authorities.
        """
        pin = self._pinned()
        base = self._rows_frame()
        if pin is not None and pin.scope.areas is not None and areas is not None:
            self._board_frame(None, areas)  # refuses areas outside the principal's
        # masks, not copies of the frame: a cut of 300,000 rows costs more than the counting
        all_codes, base_index = self.level_area(level, base)
        if areas is not None:
            inside = np.array([a in areas for a in base.areas] or [False])
            base_index = np.where(inside[base.area], base_index, -1) if base.n else base_index
        # listed: the areas holding a share of the rows (whatever the crime types chosen)
        total = np.bincount(base_index[base_index >= 0], minlength=len(all_codes))
        n_rows = int((base_index >= 0).sum()) if areas is not None else base.n
        listed = total >= max(1.0, BOARD_MIN_SHARE * n_rows) if areas is None else total > 0
        index = base_index
        if categories is not None:
            lut = _lut(base.categories, categories, "categories")
            if lut is not None:
                chosen = lut[base.category] if len(lut) else np.zeros(base.n, dtype=bool)
                index = np.where(chosen, base_index, -1)
        fr = base
        keep = np.flatnonzero(listed)
        position = np.full(len(all_codes), -1, dtype=np.int64)
        position[keep] = np.arange(len(keep))
        row_area = np.where(index >= 0, position[np.maximum(index, 0)], -1)
        # each area's authority: the one holding most of its rows (the lower code on a tie)
        n_auth = len(base.areas)
        base_row = np.where(base_index >= 0, position[np.maximum(base_index, 0)], -1)
        inside = base_row >= 0
        pair = np.bincount(base_row[inside] * n_auth + base.area[inside],
                           minlength=len(keep) * n_auth).reshape(len(keep), n_auth)
        group = np.argmax(pair, axis=1) if len(keep) else np.zeros(0, dtype=np.int64)
        return fr, [all_codes[i] for i in keep], row_area, group.astype(np.int64)

    def _board_column(self, counts: np.ndarray, keys: np.ndarray, threshold: int,
                      groups: list[np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Return (values as float, NaN where hidden; hidden) for one column of counts.

        The column's total is taken to be known (the board shows it), so a hidden count
        cannot be taken back from the total and the rest; so are the totals of ``groups``.
        """
        values, hidden, _secondary = self._board_disclose(counts, keys, threshold, groups)
        return values, hidden

    def _board_disclose(self, counts: np.ndarray, keys: np.ndarray, threshold: int,
                        groups: list[np.ndarray] | None = None
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (values, NaN where hidden; hidden; hidden only to protect another).

        Besides suppression, a zero is shown as a small count is (when the column has any
        incident): shown exactly, zeros would say which hidden parts hold at least one
        incident, and so how many a hidden total must hold at least.
        """
        n = len(counts)
        if not threshold:
            return counts.astype("float64"), np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
        d = suppress(counts, threshold, groups or ())
        shown = perturb(d.counts, keys, threshold).astype("float64")
        hidden = d.hidden | ((counts == 0) & (counts.sum() > 0))
        return np.where(hidden, np.nan, shown), hidden, d.hidden & ~d.primary

    def board_areas(self, h: Any, *, categories: tuple[str, ...] | None = None,
                    areas: tuple[str, ...] | None = None,
                    level: str = AUTHORITY) -> pd.DataFrame:
        """Return each area's count in a headline's period and baseline, as the principal may see.

        One row per area the principal may see (``areas`` narrows them), in code order, with
        ``code``, ``name``, ``population`` (NaN unknown), ``count`` and ``baseline_count``
        (NaN where hidden), ``suppressed`` and ``baseline_suppressed``, and the rates per
        1,000 worked from the counts shown (NaN where a count is hidden or the population
        unknown). When the headline is not comparable (a period incomplete or months
        missing) the baseline columns are all NaN: such periods are never compared. For a
        suppressing role each column is suppressed with its total taken as known, and the
        counts shown carry the same cell-key noise as every other disclosed figure.

        At another ``level`` (wards, beats: :meth:`level_names`) the rows are those the
        principal may count below whole authorities (public places only where domestic
        incidents count only by whole authority), ``areas`` keeps the level's areas inside
        those authorities, and each authority's areas are suppressed as a group whose total
        is known. Areas holding under :data:`BOARD_MIN_SHARE` of the rows are not listed.
        """
        pin = self._pinned()
        threshold = pin.scope.suppress_below if pin is not None else 0
        groups: list[np.ndarray] = []
        counted: Any
        if level == AUTHORITY:
            self._check_board_areas(areas)
            bc = self._board_counts(categories)
            codes = self._board_codes(areas, bc)
            pos = {c: i for i, c in enumerate(codes)}
            at = np.array([pos.get(a, -1) for a in bc.area], dtype="int64")
            of_source = (bc.source == h.source) & (at >= 0)
            bounds = self.boundaries

            def counted(start: str, end: str) -> tuple[np.ndarray, np.ndarray]:
                rows = of_source & bc.within(start, end)
                keys = np.zeros(len(codes), dtype=np.int64)
                np.add.at(keys, at[rows], bc.keys[rows])
                return np.bincount(at[rows], weights=bc.chosen[rows],
                                   minlength=len(codes)).astype(np.int64), keys
        else:
            fr, codes, row_area, group = self._board_level(level, categories, areas)
            groups = [group]
            bounds = self.level_boundaries(level)
            wanted = np.array([name == h.source for name in fr.sources] or [False])
            mine = wanted[fr.source] & (row_area >= 0) if fr.n else np.zeros(0, dtype=bool)
            when = np.where(fr.day >= 0, fr.day, fr.month_first)

            def counted(start: str, end: str) -> tuple[np.ndarray, np.ndarray]:
                lo = _day_number(date.fromisoformat(start))
                hi = _day_number(date.fromisoformat(end))
                rows = mine & (when >= lo) & (when <= hi)
                keys = np.zeros(len(codes), dtype=np.int64)
                np.add.at(keys, row_area[rows], fr.rkey[rows].astype(np.int64))
                return np.bincount(row_area[rows], minlength=len(codes)), keys

        def column(start: str, end: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
            counts, keys = counted(start, end)
            return self._board_disclose(counts, keys, threshold, groups)

        count, hidden, second = column(h.period_start, h.period_end)
        if h.comparable:
            base, base_hidden, base_second = column(h.baseline_start, h.baseline_end)
        else:
            base = np.full(len(codes), np.nan)
            base_hidden = base_second = np.zeros(len(codes), dtype=bool)
        names, pops = bounds.names(), bounds.population()
        pop = np.array([pops.get(c, np.nan) for c in codes], dtype="float64")
        pop = np.where(np.isfinite(pop) & (pop > 0), pop, np.nan)
        with np.errstate(divide="ignore", invalid="ignore"):
            rate, base_rate = 1000.0 * count / pop, 1000.0 * base / pop
        def label(hide: np.ndarray, secondary: np.ndarray) -> list[str]:
            return ["hidden" if s2 else f"fewer than {threshold}" if hd else ""
                    for hd, s2 in zip(hide, secondary, strict=True)]

        # small numbers are judged on the counts shown (on the true ones they would undo
        # the noise); a hidden count is small, or hidden to protect one that is
        small = hidden | (np.nan_to_num(count, nan=0) < SMALL_NUMBER_THRESHOLD)
        if h.comparable:
            small |= base_hidden | (np.nan_to_num(base, nan=0) < SMALL_NUMBER_THRESHOLD)
        return pd.DataFrame({
            "code": codes, "name": [names[c] for c in codes], "population": pop,
            "count": count, "baseline_count": base, "suppressed": hidden,
            "baseline_suppressed": base_hidden, "rate_per_1000": rate,
            "baseline_rate_per_1000": base_rate, "small_number": small,
            "shown_as": label(hidden, second), "baseline_shown_as": label(base_hidden,
                                                                           base_second),
        })

    def board_trend(self, source: str, first_month: int, last_month: int, *,
                    categories: tuple[str, ...] | None = None,
                    areas: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Return one source's count in each month from ``first_month`` to ``last_month``.

        Months are counted from January 1970. Columns ``month`` (key), ``count`` (NaN where
        hidden or missing), ``suppressed`` and ``missing`` (the source has no row at all that
        month, in the principal's whole frame: its data did not arrive, which is not a zero).
        Suppressed as :meth:`board_areas` (the months' total taken as known).
        """
        pin = self._pinned()
        threshold = pin.scope.suppress_below if pin is not None else 0
        n = max(0, last_month - first_month + 1)
        self._check_board_areas(areas)
        bc = self._board_counts(categories)
        rows = (bc.source == source) & (bc.month >= first_month) & (bc.month <= last_month)
        # a month is missing when the source has no row at all in it, in the whole frame
        present = np.bincount(bc.month[rows] - first_month, weights=bc.n[rows], minlength=n)[:n]
        if areas is not None:
            rows &= np.isin(bc.area, list(areas))
        at = bc.month[rows] - first_month
        counts = np.bincount(at, weights=bc.chosen[rows], minlength=n)[:n].astype(np.int64)
        keys = np.zeros(n, dtype=np.int64)
        np.add.at(keys, at, bc.keys[rows])
        missing = present == 0
        values, hidden, secondary = self._board_disclose(np.where(missing, 0, counts), keys,
                                                         threshold)
        hidden &= ~missing
        return pd.DataFrame({"month": np.arange(first_month, first_month + n, dtype="int64"),
                             "count": np.where(missing, np.nan, values),
                             "suppressed": hidden, "missing": missing,
                             "shown_as": np.where(missing, "no data", np.where(
                                 secondary, "hidden", np.where(
                                     hidden, f"fewer than {threshold}", "")))})

    def board_hotspots(self, start: str, end: str, *, top: int = 20, res: int = 8,
                       source: str | None = None,
                       categories: tuple[str, ...] | None = None,
                       level: str = AUTHORITY) -> tuple[dict[str, int], int]:
        """Return how many of the ``top`` busiest H3 cells lie in each area, and how many in all.

        The busiest cells are counted over ``start``..``end`` (ISO days) across the
        principal's whole frame (``source`` narrows it); ties go to the lower cell id. A cell
        belongs to the area holding most of its incidents (the lower code on a tie). Only
        these per-area numbers leave: no cell or count is disclosed. Only the rows the
        principal may count below whole authorities are used (public places only where
        domestic incidents count only by whole authority), rows outside every area of
        ``level`` are left out, and for a role that suppresses small numbers a cell is one
        of the busiest only with at least that many incidents (so how many busy places
        there are never tells a small count).
        """
        fr = self._rows_frame()
        if level == AUTHORITY:
            labels, row_area = tuple(fr.areas), fr.area.astype(np.int64)
        else:
            labels, row_area = self.level_area(level, fr)
        if categories is not None:
            lut = _lut(fr.categories, categories, "categories")
            if lut is not None:
                chosen = lut[fr.category] if len(lut) else np.zeros(fr.n, dtype=bool)
                row_area = np.where(chosen, row_area, -1)
        lo, hi = _day_number(date.fromisoformat(start)), _day_number(date.fromisoformat(end))
        when = np.where(fr.day >= 0, fr.day, fr.month_first)
        rows = (when >= lo) & (when <= hi) & (row_area >= 0)
        if source is not None:
            wanted = np.array([name == source for name in fr.sources] or [False])
            rows &= wanted[fr.source] if fr.n else rows
        pin = self._pinned()
        # each (cell, area) pair's incidents: the busiest cells and each one's area follow
        pair = fr.cell_codes[res][rows].astype(np.int64) * max(1, len(labels)) + row_area[rows]
        pairs, n = np.unique(pair, return_counts=True)
        return busiest_by_area(fr.cells[res][pairs // max(1, len(labels))],
                               np.asarray(labels, dtype=object)[pairs % max(1, len(labels))]
                               if len(pairs) else np.zeros(0, dtype=object), n, top,
                               pin.scope.suppress_below if pin else 0)

    def board_emerging(self, source: str, last_day: int, *, months: int = 12, res: int = 8,
                       categories: tuple[str, ...] | None = None) -> pd.DataFrame:
        """Return the emerging hot spot category of each H3 cell that has one, with its area.

        Over the ``months`` whole calendar months to ``last_day`` (so month-only rows count
        exactly like dated ones), for one source, across the principal's whole frame. Columns
        ``category`` and ``area`` (the area code holding most of the cell's incidents). Cells
        with "no pattern" are left out. Only these categories by area leave for a board: no
        cell id or count.
        """
        from geo.emerging import emerging_hotspots, month_periods

        fr = self._board_frame(categories, None)
        wanted = np.array([name == source for name in fr.sources] or [False])
        rows = wanted[fr.source] if fr.n else np.zeros(0, dtype=bool)
        when = np.where(fr.day >= 0, fr.day, fr.month_first)
        empty = pd.DataFrame({"category": pd.Series([], dtype=str),
                              "area": pd.Series([], dtype=str)})
        if not rows.any():
            return empty
        try:
            edges = month_periods(int(when[rows].min()), last_day, months)
        except ValueError:
            return empty
        if len(edges) < 3:
            return empty
        rows &= (when >= edges[0][0]) & (when <= edges[-1][1])
        if not rows.any():  # the crime types chosen have no incident in these months
            return empty
        table = emerging_hotspots(fr.cells[res][fr.cell_codes[res][rows]], when[rows], edges)
        if table.empty:
            return empty
        table = table[table["category"] != "no pattern"]
        # the area of each cell: where most of its incidents are
        cells = fr.cells[res][fr.cell_codes[res][rows]]
        pairs = pd.DataFrame({"cell": cells, "area": np.asarray(fr.areas, dtype=object)[
            fr.area[rows]]}).value_counts().reset_index(name="n")
        pairs = pairs.sort_values(["cell", "n", "area"], ascending=[True, False, True])
        home = pairs.drop_duplicates("cell").set_index("cell")["area"]
        return pd.DataFrame({"category": table["category"].astype(str).to_numpy(),
                             "area": home.reindex(table["cell"].to_numpy()).fillna("").to_numpy(
                                 dtype=str)})

    def domestic_recorded(self) -> bool:
        """Say whether the data say which incidents are domestic (police.uk data do not)."""
        return bool((self._current().domestic >= 0).any())

    def synthetic_sample(self) -> bool:
        """Say whether the store holds the bundled synthetic sample (shown on every page)."""
        return self.labels().manifest.kind == "sample"

    def status(self) -> dict[str, Any]:
        """Return what the data panel and ``/api/v1/health`` report about the data."""
        fr = self._authority_frame()
        span = fr.date_span()
        m = fr.manifest
        return {
            "incidents": fr.n,
            "first_date": span[0].isoformat() if span else None,
            "last_date": span[1].isoformat() if span else None,
            "last_ingested": m.last_ingested,
            "rejected_rows": m.rejected,
            "batches": len(m.batches),
            "synthetic_sample": m.kind == "sample",
            "month_only_incidents": fr.month_only_count,
            "store_version": m.version,
            "boundaries": self.boundaries.source,
            "categories": sorted(fr.categories),
            "sources": sorted(fr.sources),
        }


#: Smallest share of a principal's incidents an area must hold to be listed on the board.
BOARD_MIN_SHARE = 0.001


@dataclass(frozen=True)
class TrendRows:
    """The incidents a filter selects, as the trends count them.

    Each row is a day (a month for month-only incidents) in one authority and source, and
    stands for ``incidents`` incidents: in memory each row is one incident; a national-scale
    engine sends them counted. ``area`` and ``source`` are codes into ``areas`` and
    ``sources`` (both sorted). ``span`` is the first and last day of every incident the
    principal may count (not only those selected), and ``all_month_only`` says whether every
    one of them gives only a month (police.uk).
    """

    day: np.ndarray
    month_first: np.ndarray
    month_only: np.ndarray
    area: np.ndarray
    areas: list[str]
    source: np.ndarray
    sources: list[str]
    incidents: np.ndarray
    span: tuple[date, date] | None
    all_month_only: bool

    @classmethod
    def of(cls, *, day: np.ndarray, month_first: np.ndarray, month_only: np.ndarray,
           area: np.ndarray, areas: Sequence[str], source: np.ndarray,
           sources: Sequence[str], incidents: np.ndarray, span: tuple[date, date] | None,
           all_month_only: bool) -> TrendRows:
        """Build it with the authorities' and sources' codes recoded in sorted label order."""
        def sort(codes: np.ndarray, labels: Sequence[str]) -> tuple[np.ndarray, list[str]]:
            order = sorted(range(len(labels)), key=lambda i: str(labels[i]))
            rank = np.zeros(max(1, len(labels)), dtype="int32")
            rank[order] = np.arange(len(order), dtype="int32")
            return rank[np.asarray(codes, dtype=np.int64)], [str(labels[i]) for i in order]

        area, area_labels = sort(area, areas)
        source, source_labels = sort(source, sources)
        return cls(np.asarray(day, dtype=np.int64), np.asarray(month_first, dtype=np.int64),
                   np.asarray(month_only, dtype=bool), area, area_labels, source,
                   source_labels, np.asarray(incidents, dtype=np.int64), span, all_month_only)

    def subset(self, keep: np.ndarray) -> TrendRows:
        """Return the rows ``keep`` marks."""
        return replace(self, day=self.day[keep], month_first=self.month_first[keep],
                       month_only=self.month_only[keep], area=self.area[keep],
                       source=self.source[keep], incidents=self.incidents[keep])


def busiest_by_area(cells: np.ndarray, areas: np.ndarray, counts: np.ndarray, top: int,
                    least: int = 0) -> tuple[dict[str, int], int]:
    """Return how many of the ``top`` busiest cells lie in each area, and how many in all.

    ``cells``, ``areas`` and ``counts`` give the incidents of each (cell, area) pair. A cell's
    incidents are its pairs' sum; the busiest are those with at least ``least`` (and one),
    most first, ties to the lower cell id. A cell lies in the area holding most of its
    incidents, the lower code on a tie. Areas come in the order of their busiest cell.

    Examples
    --------
    >>> busiest_by_area(np.array([7, 7, 9, 4], dtype=np.uint64),
    ...                 np.array(["E2", "E1", "E2", "E1"], dtype=object),
    ...                 np.array([2, 2, 3, 1]), top=2)
    ({'E1': 1, 'E2': 1}, 2)
    """
    cell_ids, at = np.unique(np.asarray(cells, dtype=np.uint64), return_inverse=True)
    at = at.reshape(-1)
    counts = np.asarray(counts, dtype=np.int64)
    total = np.bincount(at, weights=counts, minlength=len(cell_ids)).astype(np.int64)
    busy = np.flatnonzero(total >= max(1, least))
    chosen = busy[np.lexsort((cell_ids[busy], -total[busy]))[:top]]
    out: dict[str, int] = {}
    for cell in chosen.tolist():
        mine = at == cell
        most = counts[mine].max()
        code = str(min(areas[mine][counts[mine] == most]))
        out[code] = out.get(code, 0) + 1
    return out, len(chosen)


@dataclass(frozen=True)
class BoardCounts:
    """A principal's whole-authority incidents by month, source and authority: the board's.

    One entry per (month, source, authority) holding any incident: ``month`` (months since
    1970-01, a month-only incident's own month), ``source`` and ``area`` (authority code),
    ``n`` (every incident), ``chosen`` (those of the crime types asked for, all when none)
    and ``keys`` (their record keys summed, for the noise on a suppressing role's counts).
    ``first_day`` and ``last_day`` give each source's first and last covered day (every crime
    type), in the board's order: police, ED, then the others by name.
    """

    month: np.ndarray
    source: np.ndarray
    area: np.ndarray
    n: np.ndarray
    chosen: np.ndarray
    keys: np.ndarray
    first_day: dict[str, int]
    last_day: dict[str, int]

    @classmethod
    def of(cls, *, month: np.ndarray, source: np.ndarray, area: np.ndarray, n: np.ndarray,
           chosen: np.ndarray, keys: np.ndarray, first_day: TMapping[str, int],
           last_day: TMapping[str, int]) -> BoardCounts:
        """Build it with the entries sorted (month, source, area) and the sources in order."""
        def rank(name: str) -> tuple[int, str]:
            return {"police": 0, "ed": 1}.get(name, 2), name

        source = np.asarray(source, dtype=object)
        area = np.asarray(area, dtype=object)
        order = np.lexsort((area.astype(str), source.astype(str), month)) if len(month) else \
            np.zeros(0, dtype=np.int64)
        named = sorted(last_day, key=rank)
        return cls(np.asarray(month, dtype=np.int64)[order], source[order], area[order],
                   np.asarray(n, dtype=np.int64)[order],
                   np.asarray(chosen, dtype=np.int64)[order],
                   np.asarray(keys, dtype=np.int64)[order],
                   {s: int(first_day[s]) for s in named}, {s: int(last_day[s]) for s in named})

    def within(self, start: str, end: str) -> np.ndarray:
        """Return which entries fall in the whole months ``start`` to ``end`` (ISO days).

        Board periods are whole months; a period that is not is refused rather than rounded.
        """
        lo, hi = date.fromisoformat(start), date.fromisoformat(end)
        if lo.day != 1 or (hi + pd.Timedelta(days=1)).day != 1:
            raise ValueError(f"board periods are whole months, not {start} to {end}")
        first = (lo.year - 1970) * 12 + lo.month - 1
        last = (hi.year - 1970) * 12 + hi.month - 1
        return (self.month >= first) & (self.month <= last)


@dataclass(frozen=True)
class BoardFigures:
    """The board's headlines, one per source, as a principal may see them.

    With each source's last covered day, and the suppression threshold (0: none).
    """

    headlines: tuple[Any, ...]
    covered_to: dict[str, int]
    suppress_below: int
    covered_from: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class DisclosedAreas:
    """An area table as a principal may see it, with how each count column was disclosed.

    ``count`` is None when nothing is suppressed; ``domestic`` is set when domestic incidents
    are disclosed in their own column (roles that see them only by whole authority).
    """

    table: pd.DataFrame
    count: Disclosed | None
    domestic: Disclosed | None


@dataclass(frozen=True)
class _Level:
    """Hexagon counts at one resolution, and each cell's parent at the next coarser one."""

    res: int
    cells: np.ndarray
    counts: np.ndarray
    keys: np.ndarray
    parent: np.ndarray | None  # index into the next level's cells; None at the coarsest


def disclose_counts(counts: np.ndarray, cell_keys: np.ndarray, threshold: int,
                    groups: Sequence[np.ndarray] = ()
                    ) -> tuple[pd.arrays.IntegerArray, Disclosed]:
    """Suppress and perturb one column of counts: NA where hidden, else the count shown.

    ``cell_keys`` are the sums of each count's rows' record keys; ``groups`` as
    :func:`geo.disclosure.suppress`. Every engine's figures pass through here once.
    """
    d = suppress(np.asarray(counts), threshold, list(groups))
    shown = perturb(d.counts, np.asarray(cell_keys, dtype="int64"), threshold)
    return pd.array(np.where(d.hidden, pd.NA, shown), dtype="Int64"), d


def disclose_cells(cells: np.ndarray, counts: np.ndarray, keys: np.ndarray,
                   levels: list[int], res: int, threshold: int
                   ) -> tuple[np.ndarray, np.ndarray, Disclosed]:
    """Return hexagons at ``res`` as a role that suppresses may see them.

    ``cells``, ``counts`` and ``keys`` (record-key sums) are at the finest of ``levels``
    (finest first); coarser levels are built from them and all are decided together (see
    :meth:`QueryLayer.disclosed_cells`). Hidden counts are NaN.
    """
    keep = np.asarray(counts) > 0
    chain = _cell_chain(np.asarray(cells)[keep], np.asarray(counts)[keep],
                        np.asarray(keys, dtype="int64")[keep], levels)
    decided = _decide_chain(chain, threshold)
    level = chain[levels.index(res)]
    d = decided[levels.index(res)]
    shown = perturb(level.counts, level.keys, d.threshold).astype("float64")
    return level.cells, np.where(d.hidden, np.nan, shown), d


def _cell_chain(cells: np.ndarray, counts: np.ndarray, keys: np.ndarray,
                levels: list[int]) -> list[_Level]:
    """Build the counts of every level from the finest (coarser cells are sums of parts)."""
    chain = []
    for i, res in enumerate(levels):
        parent = None
        if i + 1 < len(levels):
            parents, parent = _parents(cells, levels[i + 1])
        chain.append(_Level(res, cells, counts, keys, parent))
        if parent is not None:
            counts = np.bincount(parent, weights=counts, minlength=len(parents)).astype("int64")
            keys = np.bincount(parent, weights=keys, minlength=len(parents)).astype("int64")
            cells = parents
    return chain


def _decide_chain(chain: list[_Level], threshold: int) -> list[Disclosed]:
    """Suppress every level together until no level's answer undoes another's."""
    forced = [np.zeros(len(level.cells), dtype=bool) for level in chain]
    while True:
        decided = []
        for i, level in enumerate(chain):
            groups = [level.parent] if level.parent is not None else []
            d = suppress(level.counts, threshold, groups, also=forced[i])
            decided.append(d)
            if level.parent is not None:
                bad = unprotected(d, level.parent)
                forced[i + 1][bad] = True
        changed = False
        for i in range(len(chain) - 1):
            parent = chain[i].parent
            assert parent is not None
            fine, coarse = decided[i], decided[i + 1]
            for cell in np.flatnonzero(coarse.hidden):
                kids = np.flatnonzero((parent == cell) & (chain[i].counts > 0))
                if len(kids) and not fine.hidden[kids].any():
                    # a hidden coarse cell would be the sum of its shown parts: hide one too
                    pick = kids[np.argmin(chain[i].counts[kids])]
                    if not forced[i][pick]:
                        forced[i][pick] = True
                        changed = True
        if not changed:
            return decided


def area_rows(codes: tuple[str, ...], listed: np.ndarray, counts: np.ndarray,
              harm: np.ndarray, boundaries: Boundaries) -> pd.DataFrame:
    """Return the area table: the ``listed`` areas of ``codes`` with their counts and rates."""
    names = boundaries.names()
    pops = boundaries.population()
    rows = []
    for i, code in enumerate(codes):
        if not listed[i]:
            continue
        name, count, h = names.get(code, code), counts[i], harm[i]
        pop = pops.get(code)
        rate = (1000.0 * count / pop) if pop and np.isfinite(pop) else None
        rows.append({"code": code, "name": name, "count": int(count), "harm": float(h),
                     "population": pop if pop and np.isfinite(pop) else None,
                     "rate_per_1000": rate,
                     "small_number": int(count) < SMALL_NUMBER_THRESHOLD})
    return pd.DataFrame(rows, columns=["code", "name", "count", "harm", "population",
                                       "rate_per_1000", "small_number"])


def _parents(cells: np.ndarray, res: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the distinct parents of ``cells`` at ``res`` and each cell's parent index."""
    import h3

    parent = np.array([h3.str_to_int(h3.cell_to_parent(h3.int_to_str(int(c)), res))
                       for c in cells], dtype="uint64")
    uniq, inverse = np.unique(parent, return_inverse=True)
    return uniq, inverse.reshape(-1).astype("int64")


#: The finest H3 resolution each placing suits: a postcode centroid (a unit of about 15
#: addresses, typically within 100 m) is good to resolution 9 (hexagons about 0.1 km², 174 m
#: edges); an LSOA's population-weighted centroid (about 1,500 residents) to resolution 7
#: (about 5 km²). Point methods (density, clusters) take points and postcode centroids.
FINEST_RES_BY_PRECISION = {1: 9, 2: 7}


def precise_enough(fr: IncidentFrame, res: int | None) -> np.ndarray:
    """Mark the rows placed finely enough for hexagons of ``res`` (None: point methods).

    Examples
    --------
    >>> fr = IncidentFrame.__new__(IncidentFrame)
    >>> fr.n, fr.precision = 3, np.array([0, 1, 2], dtype="int8")
    >>> precise_enough(fr, 9).tolist(), precise_enough(fr, 10).tolist()
    ([True, True, False], [True, False, False])
    >>> precise_enough(fr, 7).tolist(), precise_enough(fr, None).tolist()
    ([True, True, True], [True, True, False])
    """
    prec = fr.precision if len(fr.precision) == fr.n else np.zeros(fr.n, dtype="int8")
    if res is None:
        return prec <= 1
    ok = prec == 0
    for level, finest in FINEST_RES_BY_PRECISION.items():
        if res <= finest:
            ok |= prec == level
    return ok


def _month_text(month_index: int) -> str:
    return f"{1970 + month_index // 12}-{month_index % 12 + 1:02d}"


def _day_number(day: date) -> int:
    """Return days since 1970-01-01."""
    return int((np.datetime64(day, "D") - _EPOCH).astype(int))


def _present(labels: list[str], wanted: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """Keep the wanted area codes that occur in the data (a valid area may simply be empty)."""
    if wanted is None:
        return None
    have = set(labels)
    return tuple(w for w in wanted if w in have)
