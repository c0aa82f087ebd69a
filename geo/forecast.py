"""Forecast next period's incidents in each place, and say why (issue 12).

A patrol plan is a prediction: it puts officers where violence will be next, so places are
ranked by a forecast of the next period, not by last year's total.

Method (stated with every plan and backtest)
--------------------------------------------
The counts of each place in each period of the look-back window (months for police.uk data,
weeks of the chosen shift for timestamped data) are averaged with **recency weights**: the
last period weighs 1, a period ``a`` periods earlier weighs ``0.5 ** (a / half_life)``. A
half-life of infinity is the plain average of the window; a short one follows recent change.

The half-life is **chosen on the user's own data by rolling-origin validation**: for each of
the last periods before the cutoff (up to :data:`MAX_VALIDATION_PERIODS`) every candidate in
:data:`HALF_LIVES` forecasts that period from the periods before it alone, and the one whose
top places (the ``coverage`` share of places) caught most of that period's incidents on
average wins; ties go to the longer half-life, the steadier forecast. With fewer than
:data:`MIN_VALIDATION_PERIODS` periods to validate on, :data:`DEFAULT_HALF_LIFE` is used and
the method says so. Nothing after the cutoff is ever read.

Spatial smoothing over neighbouring cells and a same-month-last-year term were tried on 35
months of real police.uk violence (Leicestershire, H3 resolution 9) and each lowered the share
of next month's incidents caught at 1%, 2% and 5% of cells (docs/FORECAST.md), as did Poisson
and gradient-boosted regression on lagged counts: at a single cell, next month's count is
mostly Poisson noise around a rate that recency-weighted counts already estimate. They are
left out of the ranking; the "why" still says when a place was busy in the same month last
year or is up recently, as context for the briefing.

**Interval.** The forecast's 80% interval is a negative binomial predictive interval: the
place's rate has a Gamma(weighted count + ½, weighted periods) distribution (Jeffreys prior),
and next period's count is Poisson given the rate. It widens where the forecast rests on few
incidents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Candidate half-lives in periods (inf: the window's plain average).
HALF_LIVES: tuple[float, ...] = (1.0, 2.0, 3.0, 4.0, 6.0, 9.0, 12.0, math.inf)
#: Used when there are too few periods before the cutoff to choose one by validation.
DEFAULT_HALF_LIFE = 3.0
MIN_VALIDATION_PERIODS = 3
MAX_VALIDATION_PERIODS = 12
#: Central share of next period's count the interval holds.
INTERVAL = 0.80
#: "Recent" in the why: the last this many periods (3 months, or 4 weeks).
RECENT = {"month": 3, "week": 4}


def recency_weights(n_periods: int, half_life: float,
                    present: np.ndarray | None = None) -> np.ndarray:
    """Return the weight of each of ``n_periods`` periods, oldest first (the last weighs 1).

    Periods where ``present`` is False (no data arrived) weigh 0.

    Examples
    --------
    >>> recency_weights(3, 1.0).tolist()
    [0.25, 0.5, 1.0]
    >>> recency_weights(3, math.inf, np.array([True, False, True])).tolist()
    [1.0, 0.0, 1.0]
    """
    age = np.arange(n_periods, dtype="float64")[::-1]
    w = np.ones(n_periods) if math.isinf(half_life) else 0.5 ** (age / half_life)
    if present is not None:
        w = np.where(np.asarray(present, dtype=bool), w, 0.0)
    return w


def weighted_rate(counts: np.ndarray, half_life: float,
                  present: np.ndarray | None = None) -> np.ndarray:
    """Return each row's recency-weighted mean count per period (``counts``: rows x periods).

    Examples
    --------
    >>> weighted_rate(np.array([[0, 0, 4], [2, 2, 2]]), math.inf).tolist()
    [1.3333333333333333, 2.0]
    >>> weighted_rate(np.array([[0, 0, 4]]), 1.0).round(4).tolist()  # (0 + 0 + 4) / 1.75
    [2.2857]
    """
    counts = np.asarray(counts, dtype="float64")
    w = recency_weights(counts.shape[1], half_life, present)
    total = w.sum()
    if total <= 0:
        return np.zeros(counts.shape[0])
    return counts @ w / total


def top_k(score: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the ``k`` highest scores; ties go to the lower index (a stable order).

    Examples
    --------
    >>> top_k(np.array([1.0, 3.0, 3.0, 2.0]), 2).tolist()
    [1, 2]
    """
    k = max(0, min(int(k), len(score)))
    return np.lexsort((np.arange(len(score)), -np.asarray(score, dtype="float64")))[:k]


def places_for(coverage: float, n_places: int) -> int:
    """Return the number of places a coverage share of ``n_places`` selects: at least one.

    Examples
    --------
    >>> places_for(0.01, 4080), places_for(0.01, 50)
    (40, 1)
    """
    return max(1, int(math.floor(coverage * n_places + 1e-9))) if n_places else 0


@dataclass(frozen=True)
class HalfLifeChoice:
    """The half-life used, and how it was chosen (every candidate's validation score)."""

    half_life: float
    validated_periods: int
    #: half-life -> mean share of a validation period's incidents caught at the coverage
    scores: dict[float, float]
    coverage: float
    #: the places the validation picked each period (the coverage's share of the places)
    places: int = 0

    def describe(self, unit: str) -> str:
        """Say in words how the half-life was chosen."""
        hl = half_life_words(self.half_life, unit)
        if not self.validated_periods:
            return (f"recency weights with a half-life of {hl} (the default: too few "
                    f"{unit}s before the cutoff to choose one from the data)")
        caught = self.scores[self.half_life]
        return (f"recency weights with a half-life of {hl}, chosen by rolling-origin "
                f"validation over the last {self.validated_periods} {unit}s: its top "
                f"{self.places:,} places ({100 * self.coverage:.2g}% of them) caught "
                f"{100 * caught:.1f}% of each {unit}'s incidents on average, the most of "
                f"{len(self.scores)} half-lives tried")


def half_life_words(half_life: float, unit: str) -> str:
    """E.g. ``"3 months"``, ``"none (the plain average)"``."""
    if math.isinf(half_life):
        return "none (the plain average of the window)"
    return f"{half_life:g} {unit}{'' if half_life == 1 else 's'}"


def choose_half_life(history: np.ndarray, lookback: int, coverage: float,
                     present: np.ndarray | None = None) -> HalfLifeChoice:
    """Choose the half-life by rolling-origin validation on ``history`` (rows x periods).

    ``history`` holds every period before the cutoff that may be used, oldest first. Each of
    the last periods (at most :data:`MAX_VALIDATION_PERIODS`) with at least one period of data
    before it is forecast from up to ``lookback`` periods before it, by every candidate; the
    score is the share of that period's total caught by the top ``coverage`` share of rows.
    Periods that are not ``present`` are neither targets nor counted.

    Examples
    --------
    A place that moved: the last periods reward a short half-life.

    >>> h = np.array([[9, 9, 9, 0, 0, 0, 0, 0, 0], [0, 0, 0, 3, 3, 3, 3, 3, 3]] + [[0] * 9] * 98)
    >>> choose_half_life(h, 6, 0.01).half_life
    1.0
    """
    history = np.asarray(history, dtype="float64")
    n_rows, n_periods = history.shape
    ok = np.ones(n_periods, bool) if present is None else np.asarray(present, bool)
    targets = [t for t in range(1, n_periods) if ok[t] and ok[max(0, t - lookback):t].any()
               and history[:, t].sum() > 0][-MAX_VALIDATION_PERIODS:]
    if len(targets) < MIN_VALIDATION_PERIODS or n_rows == 0:
        return HalfLifeChoice(DEFAULT_HALF_LIFE, 0, {}, coverage)
    k = places_for(coverage, n_rows)
    scores: dict[float, float] = {}
    for hl in HALF_LIVES:
        caught = []
        for t in targets:
            lo = max(0, t - lookback)
            score = weighted_rate(history[:, lo:t], hl, ok[lo:t])
            picked = top_k(score, k)
            caught.append(history[picked, t].sum() / history[:, t].sum())
        scores[hl] = float(np.mean(caught))
    best = max(scores.values())
    # ties (within float noise) go to the longest half-life: the steadier forecast
    chosen = max(hl for hl, s in scores.items() if s >= best - 1e-12)
    return HalfLifeChoice(chosen, len(targets), scores, coverage, k)


def predictive_interval(weighted_count: np.ndarray, weighted_periods: float,
                        per: float = 1.0, level: float = INTERVAL
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``level`` interval of next period's count (negative binomial predictive).

    The rate per period has a Gamma(``weighted_count`` + 1/2, ``weighted_periods``) posterior;
    ``per`` scales the period (e.g. 1/8.7 for one shift of a month's 8.7 shifts).

    Examples
    --------
    >>> lo, hi = predictive_interval(np.array([0.0, 12.0, 120.0]), 12.0)
    >>> lo.tolist(), hi.tolist()
    ([0.0, 0.0, 6.0], [0.0, 2.0, 14.0])
    """
    from scipy.stats import nbinom

    shape = np.asarray(weighted_count, dtype="float64") + 0.5
    exposure = max(float(weighted_periods), 1e-9) / per
    p = exposure / (exposure + 1.0)
    tail = (1.0 - level) / 2.0
    return (nbinom.ppf(tail, shape, p).astype("float64"),
            nbinom.ppf(1.0 - tail, shape, p).astype("float64"))


@dataclass(frozen=True)
class Forecast:
    """Each place's forecast for the next period, its interval and the terms behind it."""

    #: expected incidents next period (harm-weighted in ``score`` when weights are loaded)
    expected: np.ndarray
    score: np.ndarray
    low: np.ndarray
    high: np.ndarray
    choice: HalfLifeChoice
    unit: str
    #: per place: incidents in the window, in its last RECENT periods, and what the window's
    #: plain average would give for that many periods
    window_count: np.ndarray
    recent_count: np.ndarray
    recent_expected: np.ndarray
    #: per place: incidents in the period a year before the horizon (NaN: not in the data)
    year_ago: np.ndarray
    n_periods: int

    def why(self, i: int, per_label: str = "") -> str:
        """Return the terms that put place ``i`` where it is, in words."""
        n, r = int(self.window_count[i]), self.recent_count[i]
        recent = RECENT[self.unit]
        exp_r = self.recent_expected[i]
        if r >= 3 and r >= 1.5 * exp_r:
            trend = f"up in the last {recent} {self.unit}s ({int(r)} against {exp_r:.1f} usual)"
        elif n >= 3 and r <= 0.5 * exp_r:
            trend = (f"down in the last {recent} {self.unit}s ({int(r)} against {exp_r:.1f} "
                     "usual)")
        else:
            trend = f"steady over {self.n_periods} {self.unit}s ({n} in all)"
        parts = [trend]
        ya = self.year_ago[i]
        if np.isfinite(ya) and ya >= 2 and ya >= 1.5 * max(self.expected[i], 1e-9):
            parts.append(f"busy in the same {self.unit} last year ({int(ya)})")
        unit = per_label or f"next {self.unit}"
        return (f"forecast {self.expected[i]:.2f} {unit} (80% interval "
                f"{self.low[i]:g} to {self.high[i]:g}): " + "; ".join(parts))


def forecast(counts: np.ndarray, harm: np.ndarray | None, *, unit: str, coverage: float,
             lookback: int, present: np.ndarray | None = None,
             year_ago: np.ndarray | None = None, per: float = 1.0) -> Forecast:
    """Forecast the period after ``counts`` (rows x periods).

    The last ``lookback`` periods are the window; any earlier ones only choose the half-life.

    ``harm`` (same shape) ranks places by harm when weights are loaded; ``per`` scales the
    expected figures and interval to a part of a period (one shift of a week's shifts).

    Examples
    --------
    >>> c = np.array([[1, 1, 1], [0, 2, 4]])
    >>> f = forecast(c, None, unit="month", coverage=0.5, lookback=3)
    >>> f.choice.validated_periods, f.choice.half_life  # too short to validate
    (0, 3.0)
    >>> [round(float(x), 2) for x in f.expected]
    [1.0, 2.31]
    >>> f.why(1)
    'forecast 2.31 next month (80% interval 0 to 5): steady over 3 months (6 in all)'
    """
    counts = np.asarray(counts, dtype="float64")
    n_rows, n_all = counts.shape
    lookback = min(lookback, n_all)
    ok = np.ones(n_all, bool) if present is None else np.asarray(present, bool)
    harm_m = counts if harm is None else np.asarray(harm, dtype="float64")
    choice = choose_half_life(harm_m, lookback, coverage, ok)
    window = slice(n_all - lookback, n_all)
    w = recency_weights(lookback, choice.half_life, ok[window])
    total_w = w.sum()
    expected = (counts[:, window] @ w / total_w if total_w > 0 else np.zeros(n_rows)) * per
    score = (harm_m[:, window] @ w / total_w if total_w > 0 else np.zeros(n_rows)) * per
    low, high = predictive_interval(counts[:, window] @ w, total_w, per)
    recent = min(RECENT[unit], lookback)
    win = counts[:, window]
    n_present = max(int(ok[window].sum()), 1)
    recent_present = int(ok[window][-recent:].sum())
    return Forecast(
        expected=expected, score=score, low=low, high=high, choice=choice, unit=unit,
        window_count=win.sum(1), recent_count=win[:, -recent:].sum(1),
        recent_expected=win.sum(1) * recent_present / n_present,
        year_ago=(np.asarray(year_ago, dtype="float64") if year_ago is not None
                  else np.full(n_rows, np.nan)),
        n_periods=lookback)


def period_matrix(place: np.ndarray, period: np.ndarray, n_places: int, n_periods: int,
                  weight: np.ndarray | None = None) -> np.ndarray:
    """Sum incidents (or their weights) into a places x periods matrix; -1s are dropped.

    Examples
    --------
    >>> period_matrix(np.array([0, 0, 1, -1]), np.array([0, 1, 1, 1]), 2, 2).tolist()
    [[1.0, 1.0], [0.0, 1.0]]
    """
    place = np.asarray(place, dtype="int64")
    period = np.asarray(period, dtype="int64")
    keep = (place >= 0) & (period >= 0) & (period < n_periods)
    out = np.zeros(n_places * n_periods, dtype="float64")
    np.add.at(out, place[keep] * n_periods + period[keep],
              1.0 if weight is None else np.asarray(weight, dtype="float64")[keep])
    return out.reshape(n_places, n_periods)


def describe_method(choice: HalfLifeChoice, unit: str, lookback: int,
                    extra: Sequence[str] = ()) -> str:
    """Return the forecast's method in one sentence, for plans and backtests."""
    return (f"Forecast of next {unit}'s incidents per place: the last {lookback} {unit}s' "
            f"counts with {choice.describe(unit)}; 80% interval from a negative binomial "
            "predictive distribution." + "".join(" " + e for e in extra))
