"""The partnership board's figures as the page and the API show them (one source of words).

The numbers come from the query layer (:meth:`geo.query.QueryLayer.board_figures`, disclosed
as the signed-in role may see them) and the sentences from :mod:`geo.board`; this module only
puts them together with the data's currency and the caveats, for the page and for JSON.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from dashboard import services
from geo.board import BASELINES, Target, currency, sentence, sources_agree, target_status
from geo.query import FilterError

#: How each source is named in sentences.
SOURCE_LABELS = {"police": "Police-recorded incidents", "ed": "ED attendances",
                 "ambulance": "Ambulance call-outs"}
#: When each source's next extract is due (police extracts monthly, ED data monthly,
#: ambulance call-outs weekly).
CADENCES = {"police": "monthly", "ed": "monthly", "ambulance": "weekly"}
PERIODS = {"fyq": "financial-year quarter", "month": "month", "12m": "12 months to date"}


def board_from_params(args: dict[str, str]) -> dict[str, Any]:
    """Return :func:`board` for query parameters (the API and the CSV download share it).

    ``args`` have the crime-type group already expanded to ``categories``. The board
    compares whole periods of every source, so only the areas and crime types narrow it.
    """
    from dashboard.params import int_param, parse_filters

    args = dict(args)
    period = args.pop("period", "fyq")
    baseline = args.pop("baseline", "last_year")
    year = int_param(args, "baseline_year", 0, 1990, 2100) if args.get("baseline_year") else None
    args.pop("baseline_year", None)
    filters = parse_filters(args)
    services.current().query.validate(filters)
    if filters.uses_time_of_week or filters.start or filters.end or filters.sources:
        raise FilterError("days", "the board compares whole periods of every source; choose "
                          "the period and baseline, and (optionally) la and the crime types")
    return board(period, baseline, year, filters.areas, filters.categories)


def board(period: str = "fyq", baseline: str = "last_year", baseline_year: int | None = None,
          areas: tuple[str, ...] | None = None,
          categories: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Return the board's headlines, sentences, agreement, currency and caveats as JSON."""
    if period not in PERIODS:
        raise FilterError("period", f"'{period}' is not a period; use {', '.join(PERIODS)}")
    if baseline not in BASELINES:
        raise FilterError("baseline", f"'{baseline}' is not a baseline; use "
                          f"{', '.join(BASELINES)}")
    if baseline == "baseline_year" and baseline_year is None:
        raise FilterError("baseline_year", "give the year the baseline financial year starts "
                          "in, e.g. 2019 for 2019/20")
    svc = services.current()
    try:
        figures = svc.query.board_figures(period=period, baseline=baseline,
                                          baseline_year=baseline_year, areas=areas,
                                          categories=categories)
    except ValueError as err:  # a baseline year after the period, ...
        if isinstance(err, FilterError):
            raise
        raise FilterError("baseline_year", str(err)) from None
    names = svc.boundaries.names()
    place = (", ".join(names.get(a, a) for a in areas) if areas else "the whole area")
    t = figures.suppress_below or None
    heads = []
    for h in figures.headlines:
        label = SOURCE_LABELS.get(h.source, h.source)
        body = asdict(h)
        if t:
            for key in ("count", "baseline_count"):
                if 1 <= body[key] < t:
                    body[key] = None
                    body[f"{key}_shown_as"] = f"fewer than {t}"
        body["label"] = label
        body["sentence"] = sentence(h, label, place, suppress_below=t)
        heads.append(body)
    manifest = svc.query.labels().manifest
    arrived = (datetime.fromisoformat(manifest.last_ingested) if manifest.last_ingested
               else datetime.now(UTC))
    from geo.trends import day_iso

    current = currency({s: day_iso(d) for s, d in figures.covered_to.items()},
                       {s: arrived for s in figures.covered_to},
                       {s: CADENCES.get(s, "monthly") for s in figures.covered_to},
                       datetime.now(UTC), SOURCE_LABELS)
    agree = sources_agree([h for h in figures.headlines
                           if not (t and (1 <= h.count < t or 1 <= h.baseline_count < t))],
                          SOURCE_LABELS)
    targets, problem = load_targets(svc.data.root / "board" / "targets.toml")
    by_source = {h.source: h for h in figures.headlines}
    statuses = [asdict(target_status(t, by_source[t.source])) for t in targets
                if t.source in by_source]
    caveats = ["Each figure compares whole periods only: a period the data do not yet cover to "
               "its last day is never compared with a complete one."]
    if any(h.small_number for h in figures.headlines):
        caveats.append("Some counts are small (under 10): a change of a few incidents can be "
                       "chance.")
    if t:
        caveats.append(f"Counts from 1 to {t - 1} are shown as 'fewer than {t}', and counts "
                       "shown carry a small fixed adjustment of at most 2 either way.")
    caveats.append("No figure here is a test of significance.")
    if problem:
        caveats.append(problem)
    return {"period": period, "baseline": baseline, "baseline_year": baseline_year,
            "area": place, "headlines": heads, "agreement": list(agree),
            "targets": statuses,
            "currency": [{**asdict(c), "covered_to": c.covered_to.isoformat(),
                          "arrived": c.arrived.isoformat(),
                          "next_expected": c.next_expected.isoformat()} for c in current],
            "caveats": caveats, "synthetic_sample": svc.query.synthetic_sample()}


def load_targets(path: Any) -> tuple[list[Target], str | None]:
    """Read the partnership's targets (``<data>/board/targets.toml``), or say what is wrong.

    Each ``[[target]]`` has ``name``, ``source`` (police, ed or ambulance), ``reduction_pct``
    and optionally ``amber_within_pct`` (default 5). A file that cannot be used leaves the
    board without targets and says why among its caveats.
    """
    import tomllib

    if not path.is_file():
        return [], None
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        targets = []
        for i, item in enumerate(data.get("target", []), start=1):
            name, source = str(item["name"]).strip(), str(item["source"]).strip()
            if source not in SOURCE_LABELS:
                raise ValueError(f"target {i}: source '{source}' is not one of "
                                 f"{', '.join(SOURCE_LABELS)}")
            reduction = float(item["reduction_pct"])
            amber = float(item.get("amber_within_pct", 5.0))
            if not (0 < reduction <= 100 and 0 <= amber <= reduction) or not name:
                raise ValueError(f"target {i}: reduction_pct must be above 0 and at most 100, "
                                 "amber_within_pct from 0 to it, and name must be given")
            targets.append(Target(name[:200], source, reduction, amber))
        return targets, None
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError) as err:
        what = f"'{err.args[0]}' is missing" if isinstance(err, KeyError) else str(err)
        return [], f"The targets file ({path}) could not be used: {what}. No targets are shown."
