"""What hospital and ambulance data say that police data does not: pure statistics.

Three questions VRU analysts and health partners ask of emergency-department (ED) data:

* **Navigator-hours coverage.** ED navigator schemes (youth workers who meet young people after
  an assault) work set hours. :func:`coverage` counts the attendances that arrive inside and
  outside them, by weekday and hour and by age band, and what an extension would add.
* **Hospital beside police.** :func:`compare_periods` sets ED assault attendances beside
  police-recorded violence with injury for the same areas and periods, and
  :func:`excess_over_police` finds the areas or hours where the hospital sees clearly more of
  the violence than the police do: the under-reporting signal. The two systems count different
  things (an ED counts patients who came in after an assault, by where they say it happened;
  the police count crimes recorded, by where they happened), so the figures are set side by
  side, never subtracted.
* **Profiles**: weapon or mechanism by type of place (:func:`profile`).

Everything takes plain arrays and returns tables or dataclasses; the query layer
(:mod:`geo.query`) chooses the rows a person may see and applies small-number suppression.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_DAY_SHORT = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: What the comparison of hospital and police figures must always say.
DIFFERENT_THINGS = (
    "The two systems count different things. The emergency department counts patients who "
    "came in after an assault, by where they said it happened (when they said); the police "
    "count crimes recorded, by where they happened. Many assaults that reach hospital are "
    "never reported to the police, and some recorded crimes need no hospital. Set them side "
    "by side; do not subtract one from the other."
)


class HoursError(ValueError):
    """Service hours that cannot be read; ``param`` names the parameter for a 400."""

    def __init__(self, param: str, message: str) -> None:
        super().__init__(f"{param}: {message}")
        self.param = param
        self.message = message


@dataclass(frozen=True)
class Shift:
    """Some days and an hour band: ``Mon–Fri 09:00–17:00``. ``end`` may be past midnight.

    A band that wraps midnight belongs to the day it starts on: Friday 18:00–02:00 covers
    Friday 18:00–23:59 and Saturday 00:00–01:59.
    """

    days: tuple[int, ...]
    start: int
    end: int

    def mask(self) -> np.ndarray:
        """Return the (7 weekdays × 24 hours) grid this shift covers."""
        grid = np.zeros((7, 24), dtype=bool)
        hours = (list(range(self.start, self.end)) if self.start < self.end
                 else list(range(self.start, 24)) + list(range(0, self.end)))
        for d in self.days:
            for h in hours:
                day = d if (self.start < self.end or h >= self.start) else (d + 1) % 7
                grid[day, h] = True
        return grid

    def text(self) -> str:
        """Return the shift in words, e.g. ``Mon–Fri 09:00–17:00``."""
        return f"{days_text(self.days)} {self.start:02d}:00–{self.end % 24:02d}:00"


def days_text(days: tuple[int, ...]) -> str:
    """Return days as ``Mon–Fri``, ``Fri, Sat`` or ``every day``.

    Examples
    --------
    >>> days_text((0, 1, 2, 3, 4)), days_text((4, 5)), days_text(tuple(range(7)))
    ('Mon–Fri', 'Fri, Sat', 'every day')
    """
    ds = sorted(set(days))
    if len(ds) == 7:
        return "every day"
    if len(ds) >= 3 and ds == list(range(ds[0], ds[-1] + 1)):
        return f"{_DAY_SHORT[ds[0]]}–{_DAY_SHORT[ds[-1]]}"
    return ", ".join(_DAY_SHORT[d] for d in ds)


def parse_days(text: str, param: str = "days") -> tuple[int, ...]:
    """Read ``mon,tue`` or ``mon-fri`` (or ``all``) as weekday numbers (0 = Monday).

    Examples
    --------
    >>> parse_days("mon-fri"), parse_days("fri,sat"), parse_days("sat-mon")
    ((0, 1, 2, 3, 4), (4, 5), (0, 5, 6))
    """
    text = (text or "").strip().lower()
    if text in ("all", "every day", "*"):
        return tuple(range(7))
    out: set[int] = set()
    for part in re.split(r"\s*,\s*", text):
        if not part:
            continue
        bits = re.split(r"\s*[-–]\s*", part)
        try:
            idx = [DAY_KEYS.index(b[:3]) for b in bits]
        except ValueError:
            raise HoursError(param, f"'{part}' is not a day; use mon, tue, wed, thu, fri, "
                                    "sat, sun, a range like mon-fri, or all") from None
        if len(idx) == 1:
            out.add(idx[0])
        elif len(idx) == 2:
            a, b = idx
            out.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        else:
            raise HoursError(param, f"'{part}' is not a day or a range of days")
    if not out:
        raise HoursError(param, "no days given")
    return tuple(sorted(out))


def parse_hours(text: str, param: str = "hours") -> tuple[int, int]:
    """Read ``9-17``, ``09:00-17:00`` or ``18-2`` (past midnight) as whole hours.

    Examples
    --------
    >>> parse_hours("9-17"), parse_hours("18:00-02:00"), parse_hours("0-24")
    ((9, 17), (18, 2), (0, 24))
    """
    m = re.fullmatch(r"\s*(\d{1,2})(?::00)?\s*[-–]\s*(\d{1,2})(?::00)?\s*", text or "")
    if not m:
        raise HoursError(param, f"'{text}' is not an hour band; write it like 9-17 or 18-2 "
                                "(whole hours, 24-hour clock)")
    start, end = int(m.group(1)), int(m.group(2))
    if not (0 <= start <= 23 and 0 <= end <= 24) or start == end % 24 and end != 24:
        raise HoursError(param, f"'{text}' is not an hour band: hours run from 0 to 24 and "
                                "the band must not be empty")
    return start, end


def parse_shifts(text: str, param: str = "shifts") -> tuple[Shift, ...]:
    """Read shifts separated by ``;``, each ``<days> <hours>``.

    Examples
    --------
    >>> [s.text() for s in parse_shifts("mon-fri 9-17; fri,sat 18-2")]
    ['Mon–Fri 09:00–17:00', 'Fri, Sat 18:00–02:00']
    """
    shifts = []
    for part in (text or "").split(";"):
        part = part.strip()
        if not part:
            continue
        m = re.fullmatch(r"(.+?)\s+(\d{1,2}(?::00)?\s*[-–]\s*\d{1,2}(?::00)?)", part)
        if not m:
            raise HoursError(param, f"'{part}' is not a shift; write it like 'mon-fri 9-17'")
        start, end = parse_hours(m.group(2), param)
        shifts.append(Shift(parse_days(m.group(1), param), start, end))
    if len(shifts) > 20:
        raise HoursError(param, "at most 20 shifts")
    return tuple(shifts)


def shifts_mask(shifts: tuple[Shift, ...]) -> np.ndarray:
    """Return the union of the shifts' (7 × 24) grids."""
    grid = np.zeros((7, 24), dtype=bool)
    for s in shifts:
        grid |= s.mask()
    return grid


def shifts_text(shifts: tuple[Shift, ...]) -> str:
    """Return the shifts in words (``none`` when there are none)."""
    return "; ".join(s.text() for s in shifts) or "none"


@dataclass
class Coverage:
    """Attendances inside and outside service hours.

    ``grid`` counts attendances with a known arrival hour by weekday (rows, 0 = Monday) and
    hour (columns); ``inside`` marks the service hours. ``untimed`` attendances have no arrival
    hour and are in no figure. ``by_age`` has one row per age band (and "not recorded").
    """

    grid: np.ndarray
    inside: np.ndarray
    untimed: int
    by_age: pd.DataFrame
    service: str
    extension: np.ndarray | None = None
    extension_text: str = ""
    #: Record keys summed like ``grid`` (and ``by_age``'s ``key_inside``/``key_outside``):
    #: what fixes the small noise of each figure shown to a role that suppresses.
    key_grid: np.ndarray | None = None
    #: Record keys of the untimed attendances, summed (their count's noise comes from it).
    key_untimed: int = 0

    @property
    def total(self) -> int:
        """Attendances with a known arrival hour."""
        return int(self.grid.sum())

    @property
    def inside_count(self) -> int:
        """Attendances arriving within the service hours."""
        return int(self.grid[self.inside].sum())

    @property
    def outside_count(self) -> int:
        """Attendances arriving outside the service hours."""
        return self.total - self.inside_count

    @property
    def added_count(self) -> int:
        """Attendances an extension would bring inside (0 without one)."""
        if self.extension is None:
            return 0
        return int(self.grid[self.extension & ~self.inside].sum())

    def by_weekday(self) -> pd.DataFrame:
        """Return inside and outside counts per weekday."""
        inside = (self.grid * self.inside).sum(axis=1)
        return pd.DataFrame({"day": list(DAY_NAMES), "inside": inside.astype(int),
                             "outside": (self.grid.sum(axis=1) - inside).astype(int)})

    def by_hour(self) -> pd.DataFrame:
        """Return inside and outside counts per hour of arrival (all weekdays)."""
        inside = (self.grid * self.inside).sum(axis=0)
        return pd.DataFrame({"hour": np.arange(24), "inside": inside.astype(int),
                             "outside": (self.grid.sum(axis=0) - inside).astype(int)})

    def figures(self, disclose: Disclose | None = None) -> dict[str, Any]:
        """Return every figure as plain data, each count passed through ``disclose``.

        ``disclose(count, key)`` returns the count a reader may see (None: "fewer than N");
        without it the exact counts are given. Shares are worked out from the counts shown.
        """
        keys = self.key_grid if self.key_grid is not None else np.zeros_like(self.grid)
        show = disclose or (lambda c, k: int(c))

        def fig(mask: np.ndarray) -> int | None:
            return show(int(self.grid[mask].sum()), int(keys[mask].sum()))

        everything = np.ones_like(self.inside)
        young = self.by_age.loc[self.by_age["under_25"].astype(bool)]
        out: dict[str, Any] = {
            "service": self.service,
            "total": fig(everything),
            "inside": fig(self.inside),
            "outside": fig(~self.inside),
            "untimed": show(self.untimed, self.key_untimed) if self.untimed else 0,
            "extension": self.extension_text or None,
            "added": fig(self.extension & ~self.inside) if self.extension is not None else None,
            "under_25": {
                "inside": show(int(young["inside"].sum()), int(young["key_inside"].sum())),
                "outside": show(int(young["outside"].sum()), int(young["key_outside"].sum())),
            },
            "by_age": [
                {"age_band": r.age_band, "under_25": bool(r.under_25),
                 "inside": show(int(r.inside), int(r.key_inside)),
                 "outside": show(int(r.outside), int(r.key_outside))}
                for r in self.by_age.itertuples()
            ],
            "by_weekday": [
                {"day": DAY_NAMES[d], "inside": fig(_only(self.inside, day=d)),
                 "outside": fig(_only(~self.inside, day=d))} for d in range(7)],
            "by_hour": [
                {"hour": h, "inside": fig(_only(self.inside, hour=h)),
                 "outside": fig(_only(~self.inside, hour=h))} for h in range(24)],
            "inside_hours": self.inside.astype(int).tolist(),
        }
        out["sentences"] = coverage_sentences(out)
        return out


Disclose = Callable[[int, int], "int | None"]


def _only(mask: np.ndarray, day: int | None = None, hour: int | None = None) -> np.ndarray:
    out = np.zeros_like(mask)
    if day is not None:
        out[day] = mask[day]
    if hour is not None:
        out[:, hour] = mask[:, hour]
    return out


def _counted(n: int | None) -> str:
    return "fewer than 5" if n is None else f"{n:,}"


def _share_of(part: int | None, whole: int | None) -> str:
    if part is None or whole is None:
        return "a small share"
    return share(part, whole)


def coverage_sentences(f: dict[str, Any]) -> list[str]:
    """Return the coverage answer in plain words, every share with its counts."""
    total = f["total"]
    if total is None:  # 1 to 4, hidden from this role: too few for any share
        return ["Fewer than 5 attendances with an arrival time are selected: too few to show "
                "how many arrived inside or outside the service hours."]
    if not total:
        return ["No attendances with an arrival time are selected."]
    out = [
        f"{_share_of(f['outside'], total)} of attendances ({_counted(f['outside'])} of "
        f"{total:,}) arrived outside the service hours ({f['service']}); "
        f"{_share_of(f['inside'], total)} ({_counted(f['inside'])}) arrived within them."
    ]
    yi, yo = f["under_25"]["inside"], f["under_25"]["outside"]
    if yi is not None and yo is not None and yi + yo:
        out.append(f"Under-25s: {share(yo, yi + yo)} ({yo:,} of {yi + yo:,}) arrived outside "
                   "the service hours.")
    if f["extension"]:
        out.append(f"Adding {f['extension']} would cover a further "
                   f"{_share_of(f['added'], total)} ({_counted(f['added'])} of {total:,}).")
    if f["untimed"]:
        out.append(f"{_counted(f['untimed'])} attendance(s) have no arrival hour and are not "
                   "in these figures.")
    return out


def share(part: int, whole: int) -> str:
    """Return a percentage for people: ``27%``, ``0.4%``, ``<0.1%`` or ``–`` (no base).

    Examples
    --------
    >>> share(412, 1530), share(2, 500), share(0, 0)
    ('27%', '0.4%', '–')
    """
    if whole <= 0:
        return "–"
    p = 100.0 * part / whole
    if 0 < p < 0.1:
        return "<0.1%"
    return f"{p:.0f}%" if p >= 10 or p == 0 else f"{p:.1f}%"


def coverage(dow: np.ndarray, hour: np.ndarray, age_band: np.ndarray,
             shifts: tuple[Shift, ...], extension: tuple[Shift, ...] = (),
             under_25: frozenset[str] = frozenset(),
             keys: np.ndarray | None = None) -> Coverage:
    """Count attendances inside and outside service hours.

    Parameters
    ----------
    dow, hour : ndarray of int
        Arrival weekday (0 = Monday) and hour of each attendance; -1 where unknown.
    age_band : ndarray of object
        Each attendance's age band (None where not recorded).
    shifts : tuple of Shift
        The service hours.
    extension : tuple of Shift, optional
        Hours that might be added.
    under_25 : frozenset of str
        The age bands that are under 25.
    keys : ndarray of int, optional
        Each attendance's record key (:mod:`geo.disclosure`), summed alongside the counts.

    Examples
    --------
    Four attendances: Monday 10:00 and 20:00, Saturday 01:00, one with no hour.

    >>> c = coverage(np.array([0, 0, 5, -1]), np.array([10, 20, 1, -1]),
    ...              np.array(["18-24", "25-34", "18-24", None], dtype=object),
    ...              parse_shifts("mon-fri 9-17"), parse_shifts("fri 18-2"),
    ...              under_25=frozenset({"18-24"}))
    >>> c.inside_count, c.outside_count, c.untimed, c.added_count
    (1, 2, 1, 1)
    """
    dow = np.asarray(dow, dtype="int64")
    hour = np.asarray(hour, dtype="int64")
    timed = (dow >= 0) & (hour >= 0)
    every_key = (np.zeros(len(dow), dtype="int64") if keys is None
                 else np.asarray(keys, dtype="int64"))
    key = every_key[timed]
    grid = np.zeros((7, 24), dtype="int64")
    np.add.at(grid, (dow[timed], hour[timed]), 1)
    key_grid = np.zeros((7, 24), dtype="int64")
    np.add.at(key_grid, (dow[timed], hour[timed]), key)
    inside = shifts_mask(shifts)
    bands = pd.Series(np.asarray(age_band, dtype=object)[timed]).fillna("not recorded")
    where = inside[dow[timed], hour[timed]]
    rows = []
    for band in sorted(bands.unique(), key=_band_order):
        sel = (bands == band).to_numpy()
        rows.append({"age_band": band, "inside": int((sel & where).sum()),
                     "outside": int((sel & ~where).sum()), "under_25": band in under_25,
                     "key_inside": int(key[sel & where].sum()),
                     "key_outside": int(key[sel & ~where].sum())})
    by_age = pd.DataFrame(rows, columns=["age_band", "inside", "outside", "under_25",
                                         "key_inside", "key_outside"])
    ext = shifts_mask(extension) if extension else None
    return Coverage(grid=grid, inside=inside, untimed=int((~timed).sum()), by_age=by_age,
                    service=shifts_text(shifts), extension=ext,
                    extension_text=shifts_text(extension) if extension else "",
                    key_grid=key_grid, key_untimed=int(every_key[~timed].sum()))


def _band_order(band: str) -> tuple[int, str]:
    m = re.match(r"(\d+)", str(band))
    return (int(m.group(1)) if m else 999, str(band))


# --------------------------------------------------------------------------------------------
# Hospital beside police
# --------------------------------------------------------------------------------------------


def period_of_month(months: np.ndarray, period: str) -> np.ndarray:
    """Label each month index (months since 1970-01) by its period.

    ``month`` gives ``2024-06``, ``quarter`` ``2024 Q2``, ``year`` ``2024``, ``fy`` the
    financial year ``2024/25`` (April to March).

    Examples
    --------
    >>> m = np.array([(2024 - 1970) * 12 + 5, (2025 - 1970) * 12 + 2])
    >>> [period_of_month(m, p).tolist() for p in ("month", "quarter", "fy")]
    [['2024-06', '2025-03'], ['2024 Q2', '2025 Q1'], ['2024/25', '2024/25']]
    """
    months = np.asarray(months, dtype="int64")
    year = 1970 + months // 12
    mon = months % 12 + 1
    if period == "month":
        return np.array([f"{y}-{m:02d}" for y, m in zip(year, mon, strict=True)], dtype=object)
    if period == "quarter":
        return np.array([f"{y} Q{(m - 1) // 3 + 1}" for y, m in zip(year, mon, strict=True)],
                        dtype=object)
    if period == "year":
        return year.astype(str).astype(object)
    if period == "fy":
        start = np.where(mon >= 4, year, year - 1)
        return np.array([f"{s}/{(s + 1) % 100:02d}" for s in start], dtype=object)
    raise ValueError(f"period must be month, quarter, year or fy, not {period!r}")


def compare_periods(ed_months: np.ndarray, police_months: np.ndarray, period: str,
                    ed_covered: np.ndarray | None = None,
                    police_covered: np.ndarray | None = None) -> pd.DataFrame:
    """Set ED and police counts side by side by period, over the months both cover.

    Parameters
    ----------
    ed_months, police_months : ndarray of int
        Month index (months since 1970-01) of each ED attendance and each police record.
    period : {"month", "quarter", "year", "fy"}
    ed_covered, police_covered : ndarray of int, optional
        The months each source holds data for (default: the months its rows fall in). A
        period is compared only over months both sources cover, and says when a source is
        missing months (a quarter with one month of ED data is not a quarter of ED data).

    Returns
    -------
    pandas.DataFrame
        ``period, months, ed, police, ratio`` (ED per police record, NaN with no police
        record), ``ed_change`` and ``police_change`` (against the period before, as a
        fraction; NaN for the first), and ``note``.

    Examples
    --------
    >>> ed = np.array([648, 648, 649, 650, 650, 650])       # 2024-01 .. 2024-03
    >>> police = np.array([648, 648, 648, 648, 649, 650])
    >>> t = compare_periods(ed, police, "month")
    >>> t[["period", "ed", "police", "ratio"]].values.tolist()
    [['2024-01', 2, 4, 0.5], ['2024-02', 1, 1, 1.0], ['2024-03', 3, 1, 3.0]]
    """
    ed_months = np.asarray(ed_months, dtype="int64")
    police_months = np.asarray(police_months, dtype="int64")
    ed_cov = set(np.unique(ed_months if ed_covered is None else ed_covered).tolist())
    po_cov = set(np.unique(police_months if police_covered is None else police_covered).tolist())
    both = sorted(ed_cov & po_cov)
    cols = ["period", "months", "ed", "police", "ratio", "ed_change", "police_change", "note"]
    if not both:
        return pd.DataFrame(columns=cols)
    labels_all = period_of_month(np.arange(min(ed_cov | po_cov), max(ed_cov | po_cov) + 1),
                                 period)
    first = min(ed_cov | po_cov)
    rows = []
    for label in dict.fromkeys(period_of_month(np.asarray(both), period)):
        in_period = [first + i for i, lab in enumerate(labels_all) if lab == label]
        common = [m for m in in_period if m in ed_cov and m in po_cov]
        ed = int(np.isin(ed_months, common).sum())
        po = int(np.isin(police_months, common).sum())
        note = ""
        gaps = len(in_period) - len(common)
        full = {"month": 1, "quarter": 3, "year": 12, "fy": 12}[period]
        if gaps or len(in_period) < full:
            note = (f"{len(common)} of {full} months: only months both sources cover are "
                    "counted")
        rows.append({"period": label, "months": len(common), "ed": ed, "police": po,
                     "ratio": ed / po if po else np.nan, "note": note})
    out = pd.DataFrame(rows)
    for col in ("ed", "police"):
        prev = out[col].shift(1)
        same_len = out["months"] == out["months"].shift(1)
        out[f"{col}_change"] = np.where(same_len & (prev > 0), out[col] / prev - 1, np.nan)
    return out[cols]


@dataclass
class Excess:
    """Where hospital counts run clearly ahead of police counts (the under-reporting signal).

    ``table``: one row per key (area or hour) with ``ed``, ``police``, ``expected_ed`` (the ED
    count if the key had the overall ED share of the two), ``index`` (ED ÷ expected),
    ``p_value`` (one-sided exact binomial), ``q_value`` (Benjamini–Hochberg) and ``flagged``.
    """

    table: pd.DataFrame
    ed_share: float
    method: str = field(default="")


def excess_over_police(keys: list[str], ed: np.ndarray, police: np.ndarray,
                       min_ed: int = 10, min_index: float = 1.25,
                       alpha: float = 0.05) -> Excess:
    """Find the keys where the ED count is well above what the police count would suggest.

    Given a key's total ``n = ed + police``, if the hospital saw the same share of violence
    everywhere, its ED count would be Binomial(n, s) with ``s`` the overall ED share. A key
    is flagged when its ED count is at least ``min_ed``, at least ``min_index`` times that
    expectation, and the one-sided exact binomial test is significant after the
    Benjamini–Hochberg correction for testing every key (false discovery rate ``alpha``).

    Examples
    --------
    Area C has three times the ED share of A and B.

    >>> e = excess_over_police(["A", "B", "C"], np.array([20, 22, 60]), np.array([80, 78, 40]))
    >>> e.table.loc[e.table["flagged"], "key"].tolist(), round(e.ed_share, 3)
    (['C'], 0.34)
    """
    ed = np.asarray(ed, dtype="int64")
    police = np.asarray(police, dtype="int64")
    n = ed + police
    total = int(n.sum())
    s = float(ed.sum() / total) if total else 0.0
    expected = n * s
    p = np.ones(len(keys))
    for i in np.flatnonzero((n > 0) & (ed > 0)):
        p[i] = stats.binomtest(int(ed[i]), int(n[i]), s, alternative="greater").pvalue \
            if 0 < s < 1 else 1.0
    q = _bh(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        index = np.where(expected > 0, ed / expected, np.nan)
    flagged = (ed >= min_ed) & (index >= min_index) & (q < alpha)
    table = pd.DataFrame({"key": keys, "ed": ed, "police": police, "expected_ed": expected,
                          "index": index, "p_value": p, "q_value": q, "flagged": flagged})
    table = table.sort_values(["flagged", "index"], ascending=[False, False],
                              kind="stable").reset_index(drop=True)
    method = excess_method(int(ed.sum()), total, min_ed, min_index, alpha)
    return Excess(table=table, ed_share=s, method=method)


def excess_method(ed_total: int | None, total: int | None, min_ed: int = 10,
                  min_index: float = 1.25, alpha: float = 0.05) -> str:
    """Return how :func:`excess_over_police` decides, with the overall counts it starts from.

    The counts are the ones the reader may see (None: fewer than 5), so a role whose small
    numbers are hidden gets the counts shown elsewhere, never the exact ones.

    Examples
    --------
    >>> excess_method(None, 7)[:60]
    'Overall, a small share of the two counts together are ED att'
    """
    return (
        f"Overall, {_share_of(ed_total, total)} of the two counts together are ED "
        f"attendances ({_counted(ed_total)} of {_counted(total)}). If every place had that "
        "share, a place's ED count would be a binomial draw from its combined count; a place "
        f"is listed when its ED count is at least {min_ed}, at least {min_index:g}× that "
        "expectation, and the one-sided exact binomial test stays significant after the "
        "Benjamini–Hochberg correction for testing every place (false discovery rate "
        f"{alpha:g})."
    )


def _bh(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg adjusted p-values (q-values)."""
    p = np.asarray(p, dtype="float64")
    m = len(p)
    if m == 0:
        return p
    order = np.argsort(p)
    ranked = p[order] * m / np.arange(1, m + 1)
    q = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.clip(q, 0, 1)
    return out


def profile(rows: pd.Series, cols: pd.Series, row_order: tuple[str, ...] = (),
            col_order: tuple[str, ...] = ()) -> pd.DataFrame:
    """Cross-count two fields (e.g. weapon by location type), "Not recorded" for blanks.

    Examples
    --------
    >>> t = profile(pd.Series(["Knife", "Knife", None]), pd.Series(["Home", "Street", "Home"]))
    >>> t.to_dict()
    {'Home': {'Knife': 1, 'Not recorded': 1}, 'Street': {'Knife': 1, 'Not recorded': 0}}
    """
    r = rows.astype(object).where(rows.notna(), "Not recorded")
    c = cols.astype(object).where(cols.notna(), "Not recorded")
    table = pd.crosstab(r.to_numpy(), c.to_numpy())
    table.index.name = None
    table.columns.name = None

    def order(labels: list[str], wanted: tuple[str, ...]) -> list[str]:
        first = [w for w in wanted if w in labels]
        rest = sorted(x for x in labels if x not in wanted and x != "Not recorded")
        return first + rest + (["Not recorded"] if "Not recorded" in labels else [])

    return table.loc[order(list(table.index), row_order), order(list(table.columns), col_order)]


def areas_of_concern(keys: list[str], counts: np.ndarray, population: np.ndarray,
                     min_count: int = 10, min_ratio: float = 1.25,
                     alpha: float = 0.05) -> Excess:
    """Find areas with clearly more attendances than their population share would give.

    Each area's expected count is the total shared out by population; an area is flagged when
    its count is at least ``min_count``, at least ``min_ratio`` times that expectation, and
    the one-sided Poisson test stays significant after the Benjamini–Hochberg correction
    across areas. Areas without a population are listed but never flagged.

    Examples
    --------
    >>> e = areas_of_concern(["a", "b", "c"], np.array([30, 30, 90]),
    ...                      np.array([1000.0, 1000.0, 1000.0]))
    >>> e.table.loc[e.table["flagged"], "key"].tolist()
    ['c']
    """
    counts = np.asarray(counts, dtype="int64")
    pop = np.asarray(population, dtype="float64")
    known = np.isfinite(pop) & (pop > 0)
    total = int(counts[known].sum())
    expected = np.where(known, total * pop / pop[known].sum(), np.nan) if known.any() \
        else np.full(len(counts), np.nan)
    p = np.ones(len(keys))
    for i in np.flatnonzero(known & (counts > 0)):
        p[i] = float(stats.poisson.sf(counts[i] - 1, expected[i]))
    q = _bh(p)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(known & (expected > 0), counts / expected, np.nan)
        rate = np.where(known, 1000.0 * counts / pop, np.nan)
    flagged = known & (counts >= min_count) & (ratio >= min_ratio) & (q < alpha)
    table = pd.DataFrame({"key": keys, "ed": counts, "police": 0, "expected_ed": expected,
                          "index": ratio, "rate_per_1000": rate, "p_value": p,
                          "q_value": q, "flagged": flagged})
    table = table.sort_values(["flagged", "rate_per_1000"], ascending=[False, False],
                              kind="stable").reset_index(drop=True)
    method = (
        "An area's expected count is the total shared out by resident population; an area is "
        f"listed as of concern when its count is at least {min_count}, at least "
        f"{min_ratio:g}× that expectation, and the one-sided Poisson test stays significant "
        "after the Benjamini–Hochberg correction across areas (false discovery rate "
        f"{alpha:g}). Where people are assaulted is not always where they live, so town "
        "centres stand out by design: read this beside the hospital-beside-police table.")
    return Excess(table=table, ed_share=float("nan"), method=method)
