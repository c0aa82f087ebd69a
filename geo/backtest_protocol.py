"""The forecast backtest, to a fixed protocol (issue 12): ``hotspot backtest``, the API, the page.

For each monthly **cutoff** from ``first`` to ``last``, every method ranks the study area's H3
cells from the data before the cutoff alone, and is scored on the ``horizon_months`` from it:

``forecast``
    :func:`geo.forecast.forecast`, the patrol plan's default ranking: recency-weighted counts
    over the look-back, the half-life chosen by rolling-origin validation on the months before
    the cutoff (at the smallest coverage asked for).
``count_12m``
    The look-back's count (12 months by default; the name is the protocol's).
``count_last``
    The last month's count.
``kde``
    Quartic kernel density of the look-back's incidents (``kde_bandwidth_m`` radius, metres in
    British National Grid) at each cell's centre; cells are equal in area, so this ranks as
    the density summed over each cell.
``oracle``
    The horizon's own counts: the ceiling no method can pass.

Ties go to the lower H3 cell id.

**Study area.** ``inhabited``: the cells holding any selected incident anywhere in the store
(any month), so PAI compares with published figures. ``boundaries``: every cell whose centre
lies in the area polygons; incidents outside them are left out.

**Coverage.** ``inhabited``: ``floor(coverage x cells)`` cells (at least one); the share
actually used is that over the cells. ``boundaries``: cells in rank order while their area
stays within ``coverage`` of the polygons' area (BNG); the share used is their area over it.

**Measures** per cutoff, method and coverage: ``hits`` (horizon incidents in the selected
cells) of ``horizon_incidents`` (in the study area); ``hit_rate`` = hits / horizon incidents;
``area_share``; ``pai`` = hit rate / area share (Chainey, Tompson & Uhlig 2008);
``share_of_ceiling`` = hit rate / the oracle's hit rate at the same cutoff and coverage.
The summary gives each measure's median over the cutoffs scored.

**Skipped cutoffs.** A cutoff is skipped, with its reason, when its look-back or horizon has a
month the store holds no data for (a missing download), or reaches before the data start or
after they end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import h3
import numpy as np

from geo.forecast import HalfLifeChoice, forecast, places_for, top_k

METHODS = ("forecast", "count_12m", "count_last", "kde", "oracle")
STUDY_AREAS = ("inhabited", "boundaries")
LABELS = {"forecast": "the forecast", "count_12m": "the look-back's count",
          "count_last": "last month's count", "kde": "kernel density",
          "oracle": "the oracle (the horizon's own counts)"}


def month_index(text: str) -> int:
    """``"2021-10"`` -> months since January 1970.

    Examples
    --------
    >>> month_index("1970-02"), month_text(month_index("2021-10"))
    (1, '2021-10')
    """
    year, month = (int(x) for x in str(text).strip().split("-")[:2])
    if not 1 <= month <= 12:
        raise ValueError(f"{text!r} is not a month; write it as YYYY-MM")
    return (year - 1970) * 12 + month - 1


def month_text(index: int) -> str:
    """Months since January 1970 -> ``"YYYY-MM"``."""
    return f"{1970 + index // 12:04d}-{index % 12 + 1:02d}"


@dataclass(frozen=True)
class Protocol:
    """The settings of one backtest (printed as ``protocol``)."""

    first_cutoff: int
    last_cutoff: int
    res: int = 9
    lookback_months: int = 12
    horizon_months: int = 1
    coverages: tuple[float, ...] = (0.01, 0.02, 0.05)
    study_area: str = "inhabited"
    kde_bandwidth_m: float = 250.0
    filters: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.study_area not in STUDY_AREAS:
            raise ValueError(f"study area must be one of {', '.join(STUDY_AREAS)}")
        if not self.coverages or any(not 0 < c < 1 for c in self.coverages):
            raise ValueError("each coverage must be a share above 0 and below 1, e.g. 0.01")
        if self.lookback_months < 1 or self.horizon_months < 1:
            raise ValueError("the look-back and horizon are at least one month")
        if self.last_cutoff < self.first_cutoff:
            raise ValueError("the last cutoff is before the first")

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as the JSON's ``protocol``."""
        return {"unit": f"h3-{self.res}", "lookback_months": self.lookback_months,
                "horizon_months": self.horizon_months, "from": month_text(self.first_cutoff),
                "to": month_text(self.last_cutoff), "coverage": list(self.coverages),
                "study_area": self.study_area, "kde_bandwidth_m": self.kde_bandwidth_m,
                "filters": dict(self.filters), "methods": list(METHODS),
                "summary_statistic": "median over the cutoffs scored"}


@dataclass(frozen=True)
class StudyArea:
    """The cells scored (sorted ids), each one's area, and the whole area, in km²."""

    cells: np.ndarray
    cell_km2: np.ndarray
    total_km2: float
    by_area: bool  # coverage as a share of area (boundaries), else of cells

    @classmethod
    def inhabited(cls, cells: np.ndarray) -> StudyArea:
        """Return the study area of the cells holding any selected incident."""
        ids = np.unique(np.asarray(cells, dtype="uint64"))
        km2 = np.array([h3.cell_area(format(int(c), "x"), unit="km^2") for c in ids])
        return cls(ids, km2, float(km2.sum()), by_area=False)

    @classmethod
    def boundaries(cls, polygons_wgs84: Iterable[Any], res: int, total_km2: float) -> StudyArea:
        """Every cell at ``res`` whose centre lies in the polygons (shapely, WGS84)."""
        found: set[int] = set()
        for geom in polygons_wgs84:
            parts = getattr(geom, "geoms", [geom])
            for poly in parts:
                shell = [(y, x) for x, y in poly.exterior.coords]
                holes = [[(y, x) for x, y in ring.coords] for ring in poly.interiors]
                for c in h3.polygon_to_cells(h3.LatLngPoly(shell, *holes), res):
                    found.add(int(c, 16))
        ids = np.array(sorted(found), dtype="uint64")
        km2 = np.array([h3.cell_area(format(int(c), "x"), unit="km^2") for c in ids])
        return cls(ids, km2, float(total_km2), by_area=True)

    def select(self, order: np.ndarray, coverage: float) -> np.ndarray:
        """Return the first cells of ``order`` that the coverage allows."""
        if not self.by_area:
            return order[:places_for(coverage, len(self.cells))]
        cum = np.cumsum(self.cell_km2[order])
        return order[: int(np.searchsorted(cum, coverage * self.total_km2, side="right"))]


def kde_scores(e: np.ndarray, n: np.ndarray, at_e: np.ndarray, at_n: np.ndarray,
               bandwidth_m: float) -> np.ndarray:
    """Quartic kernel density of points (e, n) at (at_e, at_n), up to a constant factor.

    Examples
    --------
    >>> kde_scores(np.array([0.0]), np.array([0.0]), np.array([0.0, 50.0, 100.0]),
    ...            np.array([0.0, 0.0, 0.0]), 100.0).tolist()
    [1.0, 0.5625, 0.0]
    """
    from scipy.spatial import cKDTree

    out = np.zeros(len(at_e))
    if not len(e) or not len(at_e):
        return out
    pairs = cKDTree(np.column_stack([at_e, at_n])).sparse_distance_matrix(
        cKDTree(np.column_stack([e, n])), bandwidth_m, output_type="coo_matrix")
    u = (pairs.data / bandwidth_m) ** 2
    np.add.at(out, pairs.row, np.where(u < 1, (1 - u) ** 2, 0.0))
    return out


@dataclass(frozen=True)
class Incidents:
    """Selected incidents: each one's month (since 1970), H3 cell and BNG position."""

    month: np.ndarray
    cell: np.ndarray
    easting: np.ndarray
    northing: np.ndarray


def _skip_reason(c: int, p: Protocol, first: int, last: int, missing: set[int]) -> str | None:
    lo, hi = c - p.lookback_months, c + p.horizon_months - 1
    if lo < first:
        return (f"its look-back starts {month_text(lo)}, before the data start "
                f"({month_text(first)})")
    if hi > last:
        return f"its horizon ends {month_text(hi)}, after the data end ({month_text(last)})"
    gaps = sorted(m for m in missing if lo <= m <= hi)
    if gaps:
        where = "look-back" if gaps[0] < c else "horizon"
        return f"its {where} has no data for {', '.join(month_text(m) for m in gaps)}"
    return None


@dataclass(frozen=True)
class Score:
    """One method at one cutoff and coverage: the places chosen and what they caught."""

    cells: int
    hits: int
    hit_rate: float | None  # None: no incident in the horizon
    area_share: float
    pai: float | None
    share_of_ceiling: float | None


@dataclass(frozen=True)
class Median:
    """A method's medians over the cutoffs scored, at one coverage."""

    pai: float | None
    hit_rate: float | None
    share_of_ceiling: float | None
    area_share: float | None
    cutoffs: int


@dataclass(frozen=True)
class CutoffResult:
    """Every method's scores at one cutoff (a month since January 1970)."""

    cutoff: int
    horizon_incidents: int
    forecast_fit: HalfLifeChoice
    #: method -> coverage -> score
    scores: dict[str, dict[float, Score]]


@dataclass(frozen=True)
class BacktestRun:
    """A whole backtest: its settings, the cutoffs scored and skipped, and the medians."""

    protocol: Protocol
    study_cells: int
    study_km2: float
    cutoffs: list[CutoffResult]
    #: (cutoff month, why it was skipped)
    skipped: list[tuple[int, str]]
    #: method -> coverage -> medians
    summary: dict[str, dict[float, Median]]
    #: how many area polygons a boundaries study area holds (None: inhabited)
    areas: int | None = None

    @property
    def sentence(self) -> str:
        """Say which method won and by how much."""
        return sentence(self.summary, self.protocol.coverages, len(self.cutoffs))


def method_scores(p: Protocol, study: StudyArea, counts: np.ndarray, first: int, c: int,
                  present: np.ndarray, inc: Incidents, centres: tuple[np.ndarray, np.ndarray]
                  ) -> tuple[dict[str, np.ndarray], HalfLifeChoice]:
    """Return each method's score for every study cell at cutoff ``c``, and the forecast's fit.

    Every method but ``oracle`` reads only the months before ``c``.
    """
    at = c - first  # column of the cutoff month in counts (months from the data's first)
    look = slice(at - p.lookback_months, at)
    fc = forecast(counts[:, :at], None, unit="month", coverage=min(p.coverages),
                  lookback=p.lookback_months, present=present[:at])
    before = (inc.month >= c - p.lookback_months) & (inc.month < c)
    scores = {
        "forecast": fc.score,
        "count_12m": counts[:, look].sum(1),
        "count_last": counts[:, at - 1],
        "kde": kde_scores(inc.easting[before], inc.northing[before], *centres,
                          p.kde_bandwidth_m),
        "oracle": counts[:, at:at + p.horizon_months].sum(1),
    }
    return scores, fc.choice


def run(p: Protocol, inc: Incidents, study: StudyArea, *, data_first: int, data_last: int,
        missing: Iterable[int] = ()) -> BacktestRun:
    """Run the backtest at every cutoff of ``p``.

    ``data_first``/``data_last`` are the store's first and last months and ``missing`` the
    months between them it holds no data for (of the selected source, any category).
    """
    missing_set = set(int(m) for m in missing)
    months = np.asarray(inc.month, dtype="int64")
    cells = np.asarray(inc.cell, dtype="uint64")
    if len(study.cells):
        pos = np.clip(np.searchsorted(study.cells, cells), 0, len(study.cells) - 1)
        in_study = study.cells[pos] == cells
    else:
        pos, in_study = np.zeros(len(cells), "int64"), np.zeros(len(cells), bool)
    inc = Incidents(months[in_study], cells[in_study],
                    np.asarray(inc.easting)[in_study], np.asarray(inc.northing)[in_study])
    n_months = data_last - data_first + 1
    counts = _month_counts(pos[in_study], inc.month - data_first, len(study.cells), n_months)
    present = np.array([data_first + i not in missing_set for i in range(n_months)])
    centres = _centres_bng(study.cells)
    cutoffs: list[CutoffResult] = []
    skipped: list[tuple[int, str]] = []
    for c in range(p.first_cutoff, p.last_cutoff + 1):
        reason = _skip_reason(c, p, data_first, data_last, missing_set)
        if reason:
            skipped.append((c, reason))
            continue
        scores, fit = method_scores(p, study, counts, data_first, c, present, inc, centres)
        horizon = scores["oracle"]
        total = float(horizon.sum())
        ceiling = {cov: _score(study, top_k(horizon, len(study.cells)), cov, horizon, total,
                               None).hit_rate for cov in p.coverages}
        by_method = {}
        for name in METHODS:
            order = top_k(scores[name], len(study.cells))
            by_method[name] = {cov: _score(study, order, cov, horizon, total, ceiling[cov])
                               for cov in p.coverages}
        cutoffs.append(CutoffResult(c, int(total), fit, by_method))
    return BacktestRun(protocol=p, study_cells=int(len(study.cells)),
                       study_km2=study.total_km2, cutoffs=cutoffs, skipped=skipped,
                       summary=_summary(cutoffs, p.coverages))


def _month_counts(pos: np.ndarray, col: np.ndarray, n_cells: int, n_months: int) -> np.ndarray:
    out = np.zeros(n_cells * n_months)
    keep = (col >= 0) & (col < n_months)
    np.add.at(out, pos[keep].astype("int64") * n_months + col[keep].astype("int64"), 1.0)
    return out.reshape(n_cells, n_months)


def _centres_bng(cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from geo.projection import to_bng

    if not len(cells):
        return np.zeros(0), np.zeros(0)
    ll = np.array([h3.cell_to_latlng(format(int(c), "x")) for c in cells])
    e, n = to_bng(ll[:, 1], ll[:, 0])
    return np.asarray(e, dtype="float64"), np.asarray(n, dtype="float64")


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not b or (isinstance(b, float) and math.isnan(b)):
        return None
    return a / b


def _score(study: StudyArea, order: np.ndarray, coverage: float, horizon: np.ndarray,
           total: float, ceiling: float | None) -> Score:
    chosen = study.select(order, coverage)
    hits = float(horizon[chosen].sum())
    if study.by_area:
        share = float(study.cell_km2[chosen].sum()) / study.total_km2 if study.total_km2 else 0
    else:
        share = len(chosen) / len(study.cells) if len(study.cells) else 0.0
    hit_rate = hits / total if total else None
    return Score(cells=int(len(chosen)), hits=int(hits), hit_rate=hit_rate, area_share=share,
                 pai=_ratio(hit_rate, share), share_of_ceiling=_ratio(hit_rate, ceiling))


def _median(values: Sequence[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.median(vals)) if vals else None


def _summary(cutoffs: list[CutoffResult], coverages: Sequence[float]
             ) -> dict[str, dict[float, Median]]:
    out: dict[str, dict[float, Median]] = {}
    for name in METHODS:
        out[name] = {}
        for cov in coverages:
            cells = [c.scores[name][cov] for c in cutoffs]
            out[name][cov] = Median(
                pai=_median([c.pai for c in cells]),
                hit_rate=_median([c.hit_rate for c in cells]),
                share_of_ceiling=_median([c.share_of_ceiling for c in cells]),
                area_share=_median([c.area_share for c in cells]), cutoffs=len(cells))
    return out


def sentence(summary: dict[str, dict[float, Median]], coverages: Sequence[float],
             n_cutoffs: int) -> str:
    """Say which method won, by how much, in one sentence (median PAI, first coverage)."""
    if not n_cutoffs:
        return "No cutoff could be scored: see the skipped cutoffs for why."
    cov = coverages[0]
    ranked = sorted((m for m in METHODS if m != "oracle" and summary[m][cov].pai is not None),
                    key=lambda m: -(summary[m][cov].pai or 0.0))
    if not ranked:
        return "No method could be scored (no incidents in the horizons)."
    best, second = ranked[0], ranked[1] if len(ranked) > 1 else None
    b = summary[best][cov]
    text = (f"At {100 * cov:g}% of the study area, {LABELS[best]} did best over "
            f"{n_cutoffs} cutoff{'s' if n_cutoffs != 1 else ''}: a median "
            f"{100 * (b.hit_rate or 0):.1f}% of the next period's incidents caught (PAI "
            f"{b.pai:.1f}")
    if b.share_of_ceiling is not None:
        text += f", {100 * b.share_of_ceiling:.0f}% of the oracle's"
    text += ")"
    if second:
        s = summary[second][cov]
        text += (f", against {100 * (s.hit_rate or 0):.1f}% (PAI {s.pai:.1f}) for "
                 f"{LABELS[second]}, the next best")
    return text + "."


@dataclass(frozen=True)
class DataMonths:
    """The months some data cover, as months since January 1970.

    ``first`` and ``last`` are the first and last months holding an incident; ``missing``
    the months between them holding none (a police.uk download left out, a feed that stopped).
    """

    first: int
    last: int
    missing: tuple[int, ...]

    @classmethod
    def of(cls, month_first_days: np.ndarray) -> DataMonths | None:
        """Return the months of the rows' ``month_first`` day numbers; None for no rows.

        Examples
        --------
        >>> days = np.array([0, 59, 59], dtype="int32")  # 1 January and 1 March 1970
        >>> DataMonths.of(days)
        DataMonths(first=0, last=2, missing=(1,))
        >>> DataMonths.of(np.array([], dtype="int32")) is None
        True
        """
        months = np.unique(_months(month_first_days))
        if not len(months):
            return None
        first, last = int(months[0]), int(months[-1])
        present = {int(m) for m in months}
        return cls(first, last, tuple(m for m in range(first, last + 1) if m not in present))


def from_store(query: Any, filters: Any, p: Protocol, *, selection: Any, months: DataMonths,
               boundaries_km2: float | None = None,
               polygons_wgs84: Sequence[Any] | None = None) -> BacktestRun:
    """Run the protocol on the incidents ``filters`` select from a query layer.

    ``selection`` is ``query.select(filters)``, which the caller has already made to refuse
    an empty one. ``months`` are the store's months (first, last, missing): those of every
    incident of the selected sources, whatever their category, as a month with no robbery is
    a zero, not a gap.
    """
    from geo.backtest import BacktestData

    data = BacktestData.from_query(query, filters, p.res, selection=selection)
    if p.study_area == "boundaries":
        if polygons_wgs84 is None or boundaries_km2 is None:
            raise ValueError("no area boundaries are loaded to make the study area from")
        study = StudyArea.boundaries(polygons_wgs84, p.res, boundaries_km2)
    else:
        study = StudyArea.inhabited(data.cell)
    inc = Incidents(_months(data.month_first), data.cell, data.easting, data.northing)
    result = run(p, inc, study, data_first=months.first, data_last=months.last,
                 missing=months.missing)
    if polygons_wgs84 is not None:
        from dataclasses import replace

        result = replace(result, areas=len(polygons_wgs84))
    return result


def _months(month_first_days: np.ndarray) -> np.ndarray:
    """Day numbers (of a month's first day) -> months since January 1970."""
    return (np.asarray(month_first_days, dtype="int64").astype("datetime64[D]")
            .astype("datetime64[M]").astype("int64"))
