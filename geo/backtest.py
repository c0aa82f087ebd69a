"""What the backtests and the plans' coverage checks share: the incidents, the data's gaps, areas.

:class:`BacktestData` holds the incidents a backtest scores, taken from the query layer
(:meth:`BacktestData.from_query`); :func:`geo.backtest_protocol.from_store` runs the forecast
backtest on it (``hotspot backtest``, ``/api/v1/backtest`` and the Patrol plan page).

:func:`months_without_data` and :func:`window_coverage` say when the data do not cover a
window whole (it starts before the data, ends after them, or holds a month with no incident at
all), so a plan (:mod:`geo.plan`) or an evaluation (:mod:`geo.vru`) can say so rather than
count too few incidents.

:func:`boundary_area_km2` measures a study area: the union of boundary polygons in British
National Grid (EPSG:27700), overlaps counted once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Mapping

    from geo.query import Filters, QueryLayer, Selection

__all__ = [
    "BacktestData",
    "boundary_area_km2",
    "months_without_data",
    "window_coverage",
]

_EPOCH = np.datetime64("1970-01-01", "D")


#: A day: days since 1970-01-01, a date, a numpy datetime64 or an ISO date string.
DayLike = int | np.integer | date | np.datetime64 | str


def _as_day(value: DayLike) -> int:
    if isinstance(value, np.datetime64):
        return int((value.astype("datetime64[D]") - _EPOCH).astype(int))
    if isinstance(value, (date, str)):
        return int((np.datetime64(value, "D") - _EPOCH).astype(int))
    return int(value)


def _iso(day: int) -> str:
    return str(_EPOCH + np.timedelta64(int(day), "D"))


def _month_index(day: int) -> int:
    """Months since January 1970 of the month holding ``day``."""
    return int((_EPOCH + np.timedelta64(int(day), "D")).astype("datetime64[M]").astype(int))


def _month_first_day(month_index: int) -> int:
    return int((np.datetime64(month_index, "M").astype("datetime64[D]") - _EPOCH).astype(int))


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class BacktestData:
    """The incidents to backtest on, already filtered by area, category and shift.

    Parameters
    ----------
    day : numpy.ndarray
        int32 days since 1970-01-01 of each incident's local date; -1 where unknown.
    month_first : numpy.ndarray
        int32 day number of the first day of the incident's month (used for every row when
        ``window_unit="month"``).
    month_only : numpy.ndarray
        bool, True where only the month is known (police.uk).
    cell : numpy.ndarray
        uint64 H3 cell of each incident at the resolution being tested.
    easting, northing : numpy.ndarray
        British National Grid metres (EPSG:27700).
    weight : numpy.ndarray
        Harm weight of each incident (all 1.0 for equal weights); finite, non-negative.
    shift : str, optional
        A label of the day/hour restriction the caller applied (e.g. ``"fri,sat 20-4"``), or
        None if none was. Month windows refuse data restricted to a shift.

    Examples
    --------
    >>> d = BacktestData(day=[0, 1], month_first=[0, 0], month_only=[False, False],
    ...                  cell=[5, 5], easting=[350_000.0, 350_010.0],
    ...                  northing=[430_000.0, 430_000.0], weight=[1.0, 2.0])
    >>> len(d), d.cell.dtype.name, d.day.dtype.name
    (2, 'uint64', 'int32')
    """

    day: np.ndarray
    month_first: np.ndarray
    month_only: np.ndarray
    cell: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    weight: np.ndarray
    shift: str | None = None

    def __post_init__(self) -> None:
        # Frozen, so the coerced arrays are set through object.__setattr__.
        coerce = {
            "day": "int32", "month_first": "int32", "month_only": "bool", "cell": "uint64",
            "easting": "float64", "northing": "float64", "weight": "float64",
        }
        for name, dtype in coerce.items():
            arr = np.asarray(getattr(self, name)).astype(dtype, copy=False).reshape(-1)
            object.__setattr__(self, name, arr)
        n = self.day.size
        bad = [k for k in coerce if getattr(self, k).size != n]
        if bad:
            raise ValueError(f"every column needs one value per incident ({n}); {bad[0]} differs")
        if n and (not np.isfinite(self.weight).all() or self.weight.min() < 0):
            raise ValueError("weight must be finite and not negative")

    def __len__(self) -> int:
        return int(self.day.size)

    @classmethod
    def from_query(
        cls,
        query: QueryLayer,
        filters: Filters,
        res: int,
        harm_weights: Mapping[str, float] | None = None,
        *,
        selection: Selection | None = None,
    ) -> BacktestData:
        """Take the incidents ``filters`` select from a query layer, with cells at ``res``.

        Parameters
        ----------
        query : geo.query.QueryLayer
            The query layer over the store.
        filters : geo.query.Filters
            Area, category, source and shift (days/hours) to backtest; leave ``start`` and
            ``end`` empty unless the data should be cut short, as the windows come from the
            cutoffs.
        res : int
            H3 resolution of the cells.
        harm_weights : mapping of str to float, optional
            Weight per category; every incident weighs 1 when omitted.
        selection : geo.query.Selection, optional
            ``query.select(filters)``, when the caller has made it already.

        Returns
        -------
        BacktestData
            With ``shift`` set when ``filters`` restrict days or hours.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from geo.boundaries import load_boundaries
        >>> from geo.query import Filters, QueryLayer
        >>> from geo.store import Store
        >>> empty = QueryLayer(Store(Path(tempfile.mkdtemp())), load_boundaries(None))
        >>> d = BacktestData.from_query(empty, Filters(days=frozenset({4})), res=9)
        >>> len(d), d.shift
        (0, 'days=fri')
        """
        fr = query.frame()
        mask = (selection if selection is not None else query.select(filters, fr)).mask
        shift = None
        if filters.uses_time_of_week:
            params = filters.to_params()
            shift = " ".join(f"{k}={params[k]}" for k in ("days", "hours") if k in params)
        return cls(
            day=fr.day[mask],
            month_first=fr.month_first[mask],
            month_only=fr.month_only[mask],
            cell=fr.cells[res][fr.cell_codes[res][mask]],
            easting=fr.easting[mask],
            northing=fr.northing[mask],
            weight=query.weights(harm_weights)[mask],
            shift=shift,
        )


# --------------------------------------------------------------------------- areas


def boundary_area_km2(polygons_bng: Any) -> float:
    """Area (km²) of the union of boundary polygons in British National Grid.

    The recommended ``study_area_km2``: overlaps between neighbouring polygons are counted once.

    Parameters
    ----------
    polygons_bng : geopandas.GeoDataFrame, GeoSeries, shapely geometry or iterable of them
        Areas in EPSG:27700 metres; a GeoDataFrame or GeoSeries with a geographic CRS is
        refused.

    Returns
    -------
    float
        Area in km².

    Examples
    --------
    >>> from shapely.geometry import box
    >>> boundary_area_km2([box(0, 0, 2000, 1000), box(1000, 0, 3000, 1000)])
    3.0
    """
    import shapely

    crs = getattr(polygons_bng, "crs", None)
    if crs is not None and getattr(crs, "is_geographic", False):
        raise ValueError(
            "boundary_area_km2 needs polygons in British National Grid metres (EPSG:27700), "
            f"got a geographic CRS ({crs}); reproject with .to_crs(27700)"
        )
    geoms = getattr(polygons_bng, "geometry", polygons_bng)
    parts = [geoms] if isinstance(geoms, shapely.Geometry) else [g for g in geoms if g is not None]
    if not parts:
        return 0.0
    return float(shapely.union_all(np.asarray(parts, dtype=object)).area) / 1e6


# --------------------------------------------------------------------------- coverage


def months_without_data(month_first: np.ndarray) -> list[int]:
    """Months between the data's first and last month that hold no incident at all.

    A police.uk download with a month missing, or a feed that stopped for a while, shows up
    here. Give the month of **every** row in the store (not a filtered selection: a category
    may rightly be absent in a month), as ``IncidentFrame.month_first``.

    Parameters
    ----------
    month_first : numpy.ndarray
        Day number (days since 1970-01-01) of the first day of each incident's month.

    Returns
    -------
    list of int
        First-day numbers of the empty months, oldest first.

    Examples
    --------
    >>> jan, mar = _as_day("2020-01-01"), _as_day("2020-03-01")
    >>> [_iso(m) for m in months_without_data(np.array([jan, jan, mar]))]
    ['2020-02-01']
    """
    firsts = np.unique(np.asarray(month_first, dtype="int64"))
    if firsts.size < 2:
        return []
    present = {_month_index(int(d)) for d in firsts}
    lo, hi = _month_index(int(firsts[0])), _month_index(int(firsts[-1]))
    return [_month_first_day(m) for m in range(lo, hi + 1) if m not in present]


def _month_name(day: int) -> str:
    return str(np.datetime64(int(day), "D").astype(date).strftime("%B %Y"))


def window_coverage(first_day: DayLike, last_day: DayLike, data_first: DayLike,
                    data_last: DayLike, missing_months: Sequence[int] = ()) -> str | None:
    """Say in words why the data do not cover a window, or None when they cover it whole.

    A window that starts before the data begin, ends after they end, or holds a month with no
    data at all would count too few incidents; a trend or score drawn from it would mislead.

    Parameters
    ----------
    first_day, last_day : int, datetime.date, numpy.datetime64 or str
        The window, both ends included.
    data_first, data_last : int, datetime.date, numpy.datetime64 or str
        The first and last day of the data.
    missing_months : sequence of int
        First days of months with no data (:func:`months_without_data`).

    Returns
    -------
    str or None
        For example "it starts before the data begin (1 Dec 2019)".

    Examples
    --------
    >>> window_coverage("2019-11-01", "2019-12-31", "2019-12-01", "2022-10-31")
    'it starts before the data begin (1 Dec 2019)'
    >>> window_coverage("2020-01-01", "2020-12-31", "2019-12-01", "2022-10-31",
    ...                 [_as_day("2020-06-01")])
    'the data have no incidents at all in June 2020'
    >>> window_coverage("2020-01-01", "2020-12-31", "2019-12-01", "2022-10-31") is None
    True
    """
    lo, hi = _as_day(first_day), _as_day(last_day)
    d0, d1 = _as_day(data_first), _as_day(data_last)
    problems = []
    if hi < d0 or lo > d1:
        return f"it lies outside the data ({_short(d0)} to {_short(d1)})"
    if lo < d0:
        problems.append(f"it starts before the data begin ({_short(d0)})")
    if hi > d1:
        problems.append(f"it ends after the data end ({_short(d1)})")
    gaps = [m for m in missing_months
            if m <= hi and _month_first_day(_month_index(m) + 1) - 1 >= lo]
    if gaps:
        problems.append("the data have no incidents at all in "
                        + ", ".join(_month_name(m) for m in gaps))
    return "; ".join(problems) or None


def _short(day: int) -> str:
    d = np.datetime64(int(day), "D").astype(date)
    return f"{d.day} {d:%b %Y}"
