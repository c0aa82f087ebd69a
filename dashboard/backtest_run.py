"""One door to the forecast backtest: ``hotspot backtest``, ``/api/v1/backtest`` and the page.

All three read the same parameters (strings, as in a query string) and run
:mod:`geo.backtest_protocol` through :func:`run`, so they show the same numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from geo.backtest_protocol import (
    LABELS,
    STUDY_AREAS,
    DataMonths,
    Protocol,
    from_store,
    month_index,
    month_text,
)
from geo.query import FilterError, Filters
from geo.settings import H3_RESOLUTIONS

#: Parameters besides the shared filters (categories, la, days, hours, source).
PROTOCOL_PARAMETERS = ("unit", "lookback_months", "horizon_months", "from", "to", "coverage",
                       "study_area")
MAX_COVERAGES = 10
#: The methods as a table names them.
METHOD_LABELS = {m: text[0].upper() + text[1:] for m, text in LABELS.items()}
MAX_CUTOFFS = 240


def _int(params: Mapping[str, Any], name: str, default: int, lo: int, hi: int) -> int:
    text = str(params.get(name) or default).strip()
    if not text.isdigit() or not lo <= int(text) <= hi:
        raise FilterError(name, f"{text[:20]!r} is not a whole number from {lo} to {hi}")
    return int(text)


def _month(params: Mapping[str, Any], name: str) -> int | None:
    text = str(params.get(name) or "").strip()
    if not text:
        return None
    try:
        return month_index(text)
    except ValueError:
        raise FilterError(name, f"{text[:20]!r} is not a month; write it as YYYY-MM, e.g. "
                          "2021-10") from None


def parse(params: Mapping[str, Any], data_months: tuple[int, int]) -> tuple[Protocol, Any]:
    """Return the protocol and the filters ``params`` describe.

    Cutoffs default to every month the data allow: the first with a whole look-back to the
    last with a whole horizon.
    """
    from dashboard.params import _plan_filters

    own = frozenset(PROTOCOL_PARAMETERS)
    filters = _plan_filters({k: v for k, v in params.items() if k not in own}, own)
    if filters.start or filters.end:
        raise FilterError("start", "a backtest chooses its own windows; give from and to")
    unit = str(params.get("unit") or "h3-9").strip().lower()
    res_text = unit.removeprefix("h3-")
    if not unit.startswith("h3-") or not res_text.isdigit() or int(res_text) not in H3_RESOLUTIONS:
        raise FilterError("unit", "use h3-" + ", h3-".join(map(str, H3_RESOLUTIONS)))
    lookback = _int(params, "lookback_months", 12, 1, 60)
    horizon = _int(params, "horizon_months", 1, 1, 12)
    first, last = data_months
    start = _month(params, "from")
    end = _month(params, "to")
    start = first + lookback if start is None else start
    end = last - horizon + 1 if end is None else end
    if end < start:
        raise FilterError("to", f"{month_text(end)} is before the first cutoff "
                          f"{month_text(start)}" + (
                              "" if params.get("from") or params.get("to") else
                              f"; the data ({month_text(first)} to {month_text(last)}) are too "
                              f"short for a {lookback}-month look-back: give a shorter "
                              "lookback_months"))
    if end - start + 1 > MAX_CUTOFFS:
        raise FilterError("to", f"at most {MAX_CUTOFFS} monthly cutoffs at a time")
    cov_text = str(params.get("coverage") or "0.01,0.02,0.05")
    try:
        coverages = tuple(float(x) for x in cov_text.split(",") if x.strip())
    except ValueError:
        raise FilterError("coverage", "give shares of the study area, e.g. 0.01,0.02,0.05"
                          ) from None
    if not coverages or len(coverages) > MAX_COVERAGES or any(not 0 < c < 1 for c in coverages):
        raise FilterError("coverage", f"give 1 to {MAX_COVERAGES} shares above 0 and below 1, "
                          "e.g. 0.01,0.02,0.05")
    study = str(params.get("study_area") or "inhabited").strip().lower()
    if study not in STUDY_AREAS:
        raise FilterError("study_area", "use inhabited or boundaries")
    shown = {k: str(v) for k, v in filters.to_params().items()}
    return Protocol(first_cutoff=start, last_cutoff=end, res=int(res_text),
                    lookback_months=lookback, horizon_months=horizon, coverages=coverages,
                    study_area=study, filters=shown), filters


def run(query: Any, params: Mapping[str, Any]) -> dict[str, Any]:
    """Parse ``params`` and run the backtest on ``query``'s incidents."""
    _span, all_month_only, held = query.month_cover()
    # the store's months: the cutoffs default to what the whole store allows
    stored = DataMonths.of(held)
    if stored is None:
        raise FilterError("la", "there are no incidents in the store yet")
    protocol, filters = parse(params, (stored.first, stored.last))
    query.validate(filters)
    if filters.uses_time_of_week and all_month_only:
        raise FilterError("days" if filters.days is not None else "hours",
                          "these data give only the month of each incident (police.uk), so "
                          "there is no weekday or hour to backtest a shift on; leave days and "
                          "hours out")
    # the incidents backtested (on an engine: read as a bounded selection)
    door, query = query, query.within(filters, "The backtest",
                                      "one area, fewer crime types or one source")
    selection = query.select(filters)
    if not selection.count:
        raise FilterError("categories", "no incidents match these filters")
    # a cutoff is skipped for a month without data of the chosen sources, whatever the category
    months = stored if filters.sources is None else DataMonths.of(
        door.months_holding(Filters(sources=filters.sources)))
    if months is None:
        raise FilterError("source", "there are no incidents in the store for these sources")
    polygons, km2 = None, None
    if protocol.study_area == "boundaries":
        polygons, km2 = _study_polygons(query, filters, selection.mask)
    try:
        result = from_store(query, filters, protocol, selection=selection, months=months,
                            boundaries_km2=km2, polygons_wgs84=polygons)
    except ValueError as exc:
        raise FilterError("study_area" if "boundar" in str(exc) else "source", str(exc)) from None
    from dashboard.serialise import backtest_json

    return backtest_json(result, bool(door.status().get("synthetic_sample")))


def _study_polygons(query: Any, filters: Any, mask: Any) -> tuple[list[Any], float]:
    """Return the study polygons (WGS84) and the area of their union in km² (BNG).

    They are the areas named by ``la``, else those holding any selected incident (``mask``).
    """
    import numpy as np

    from geo.backtest import boundary_area_km2

    areas = query.boundaries.areas
    if filters.areas:
        codes = set(filters.areas)
    else:
        fr = query.frame()
        used = np.unique(fr.area[mask])
        codes = {fr.areas[i] for i in used if 0 <= i < len(fr.areas)}
    chosen = areas[areas["code"].isin(codes)]
    if not len(chosen):
        raise FilterError("study_area", "no area boundaries hold these incidents")
    km2 = boundary_area_km2(chosen.to_crs("EPSG:27700"))
    return list(chosen.to_crs("EPSG:4326").geometry), km2


def text_report(result: dict[str, Any]) -> str:
    """Return the summary as a table an analyst can read in a terminal."""
    p = result["protocol"]
    lines = [f"Backtest: {p['unit']}, {p['lookback_months']}-month look-back, "
             f"{p['horizon_months']}-month horizon, cutoffs {p['from']} to {p['to']}, study area "
             f"{p['study_area']} ({result['study_area']['cells']:,} cells"
             + (f" in {result['study_area']['areas']} areas, "
                f"{result['study_area']['area_km2']:,.0f} km²"
                if "areas" in result["study_area"] else "") + ")"
             + (", SYNTHETIC sample data" if result.get("synthetic_sample") else ""),
             f"Cutoffs scored: {len(result['cutoffs'])}; skipped: {len(result['skipped'])}"]
    for s in result["skipped"]:
        lines.append(f"  skipped {s['cutoff']}: {s['reason']}")
    lines.append("")
    header = f"{'method':12}" + "".join(
        f"{'cov ' + c:>30}" for c in (f"{x:g}" for x in p["coverage"]))
    lines.append(header)
    lines.append(f"{'':12}" + "".join(f"{'PAI  hit rate  of ceiling':>30}"
                                      for _ in p["coverage"]))
    for method, by_cov in result["summary"].items():
        cells = []
        for c in (f"{x:g}" for x in p["coverage"]):
            s = by_cov[c]
            pai = "-" if s["pai"] is None else f"{s['pai']:.2f}"
            hit = "-" if s["hit_rate"] is None else f"{100 * s['hit_rate']:.1f}%"
            ceil = "-" if s["share_of_ceiling"] is None else f"{s['share_of_ceiling']:.3f}"
            cells.append(f"{pai:>10}{hit:>10}{ceil:>10}")
        lines.append(f"{method:12}" + "".join(cells))
    lines += ["", result["sentence"],
              "Medians over the cutoffs scored. PAI = hit rate / share of the study area."]
    return "\n".join(lines)
