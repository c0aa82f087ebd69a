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
from geo.board import (
    BASELINES,
    CADENCES,
    Target,
    area_sentences,
    currency,
    emerging_sentence,
    need_and_activity,
    read_activity,
    sentence,
    sources_agree,
    target_status,
)
from geo.query import FilterError

#: How each source is named in sentences.
SOURCE_LABELS = {"police": "Police-recorded incidents", "ed": "ED attendances",
                 "ambulance": "Ambulance call-outs"}
#: When each source's next extract is due (police extracts monthly, ED data monthly,
#: ambulance call-outs weekly).
DEFAULT_CADENCES = {"police": "monthly", "ed": "monthly", "ambulance": "weekly"}
PERIODS = {"fyq": "financial-year quarter", "month": "month", "12m": "12 months to date"}


def board_from_params(given: dict[str, str]) -> dict[str, Any]:
    """Return :func:`board` for query parameters (the API, the CSV and the pack share it).

    The board compares whole periods of every source, so only the area and the crime types
    narrow it: a crime-type ``group`` (the default group when none is given) or, for roles
    that see every count, any ``categories``. A role that suppresses small numbers asks for
    the whole area or one area, and for a named group: free lists of areas or crime types
    would let it take many overlapping totals from one another and average away the noise
    that protects a small count.
    """
    from dashboard.params import int_param, parse_filters, parse_level

    svc = services.current()
    who = svc.query.principal()
    if who is not None and who.policy.suppress_below:
        if given.get("categories"):
            raise FilterError("categories", "board figures for your role are for a crime-type "
                              "group (group=NAME, as the page offers), not a list of crime "
                              "types")
        if len({a.strip() for a in str(given.get("la", "")).split(",") if a.strip()}) > 1:
            raise FilterError("la", "board figures for your role are for the whole area or "
                              "one area; give one area code")
    args = dict(svc.resolve_group(given)[0])
    level = parse_level(args.pop("level", None))
    period = args.pop("period", "fyq")
    baseline = args.pop("baseline", "last_year")
    year = int_param(args, "baseline_year", 0, 1990, 2100) if args.get("baseline_year") else None
    args.pop("baseline_year", None)
    filters = parse_filters(args)
    svc.query.validate(filters)
    if filters.uses_time_of_week or filters.start or filters.end or filters.sources:
        raise FilterError("days", "the board compares whole periods of every source; choose "
                          "the period and baseline, and (optionally) la and the crime types")
    return board(period, baseline, year, filters.areas, filters.categories, level=level)


def board(period: str = "fyq", baseline: str = "last_year", baseline_year: int | None = None,
          areas: tuple[str, ...] | None = None,
          categories: tuple[str, ...] | None = None, *,
          now: datetime | None = None, level: str = "authority") -> dict[str, Any]:
    """Return the board's figures, sentences, statuses, currency and caveats as JSON.

    Keys: ``headlines`` (one per source), ``agreement`` and ``changes`` (sentences),
    ``areas`` (areas by rate, one table per source), ``trend`` (monthly counts per source),
    ``activity`` (need beside funded activity), ``targets``, ``currency``, ``caveats``.
    The areas, what changed by area, and need and activity are at ``level`` (authorities,
    or wards or another imported level; ``areas`` are always authority codes and narrow
    it). Every count is as the signed-in role may see it. ``now`` fixes the clock lateness is
    judged by (tests).
    """
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
    who = svc.query.principal()
    mine = sorted(who.areas) if who is not None and who.areas is not None else None
    place = (", ".join(names.get(a, a) for a in areas) if areas
             else ", ".join(names.get(a, a) for a in mine) if mine else "the whole area")
    t = figures.suppress_below or None
    labels, cadences, source_problem = load_sources(svc.data.root / "board" / "sources.toml")
    heads = []
    for h in figures.headlines:
        label = labels.get(h.source, h.source)
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
    from geo.trends import day_iso

    def arrived(source: str) -> datetime:
        when = manifest.arrived(source) or manifest.last_ingested
        return datetime.fromisoformat(when) if when else datetime.now(UTC)

    current = currency({s: day_iso(d) for s, d in figures.covered_to.items()},
                       {s: arrived(s) for s in figures.covered_to},
                       {s: cadences.get(s, "monthly") for s in figures.covered_to},
                       now if now is not None else datetime.now(UTC), labels)
    agree = sources_agree([h for h in figures.headlines
                           if not (t and (1 <= h.count < t or 1 <= h.baseline_count < t))],
                          labels)
    level_name = svc.query.level_boundaries(level) and level  # refuses an unknown level
    area_tables = [_area_table(h, labels.get(h.source, h.source), figures.suppress_below,
                               categories, areas, level_name)
                   for h in figures.headlines]
    changes = [text for table, h in zip(area_tables, figures.headlines, strict=True)
               for text in area_sentences(h, labels.get(h.source, h.source), table["frame"])]
    trend = [_trend(source, figures, labels.get(source, source), categories, areas)
             for source in figures.covered_to]
    engine_notes = []
    try:
        changes += _emerging(figures, labels, categories, areas)
    except FilterError as err:
        if err.param != "engine":  # not counted on a national-scale engine yet: say so
            raise
        engine_notes.append(err.message)
    activity, activity_problems = _need_and_activity(figures, area_tables, categories,
                                                     level_name)
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
    if any(c.late for c in current):
        caveats.append("A source whose next extract is overdue is marked LATE: its figures "
                       "stop at the last day it covers.")
    caveats += _event_caveats(figures.headlines, labels)
    caveats += engine_notes
    caveats += [p for p in (problem, source_problem) if p] + activity_problems
    for table in area_tables:
        table.pop("frame")
    return {"period": period, "baseline": baseline, "baseline_year": baseline_year,
            "area": place, "headlines": heads, "agreement": list(agree),
            "changes": changes, "areas": area_tables, "trend": trend, "activity": activity,
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
        data = tomllib.loads(_setup_text(path))
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
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError, UnicodeDecodeError,
            RecursionError, OSError) as err:
        what = (f"'{err.args[0]}' is missing" if isinstance(err, KeyError)
                else "it is nested too deeply" if isinstance(err, RecursionError) else str(err))
        return [], f"The targets file ({path}) could not be used: {what}. No targets are shown."


#: Months of each source's trend the board shows.
TREND_MONTHS = 24
#: How many of the busiest places (H3 resolution 8 cells) the need table counts.
BUSIEST_PLACES = 20


def _nan_none(value: Any) -> Any:
    """Return None for NaN (JSON has no NaN), the value otherwise (floats as floats)."""
    import math

    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def _area_table(h: Any, label: str, t: int, categories: tuple[str, ...] | None,
                areas: tuple[str, ...] | None, level: str = "authority") -> dict[str, Any]:
    """Areas by rate for one headline, as JSON rows (and the frame, for the sentences)."""
    svc = services.current()
    frame = svc.query.board_areas(h, categories=categories, areas=areas, level=level)
    rows = []
    for r in frame.itertuples():
        row: dict[str, Any] = {"code": r.code, "name": r.name,
                               "population": _nan_none(r.population)}
        for key, shown_as in (("count", r.shown_as), ("baseline_count", r.baseline_shown_as)):
            value = _nan_none(getattr(r, key))
            row[key] = None if value is None else int(value)
            if shown_as:  # "fewer than 5", or "hidden" (to protect another)
                row[f"{key}_shown_as"] = shown_as
        row["rate_per_1000"] = _nan_none(r.rate_per_1000)
        row["baseline_rate_per_1000"] = _nan_none(r.baseline_rate_per_1000)
        row["suppressed"] = bool(r.suppressed or r.baseline_suppressed)
        row["small_number"] = bool(r.small_number)
        rows.append(row)
    rows.sort(key=lambda x: (x["rate_per_1000"] is None, -(x["rate_per_1000"] or 0.0),
                             x["name"]))
    who = svc.query.principal()
    # below whole authorities, a role that sees domestic incidents only by whole authority
    # counts public places only: these rows then do not add up to the headline
    public_only = level != "authority" and who is not None and not (
        who.policy.domestic_below_authority)
    return {"source": h.source, "label": label, "level": level, "public_places_only": public_only,
            "period_label": h.period_label,
            "baseline_label": h.baseline_label if h.comparable else None,
            "comparable": h.comparable, "rows": rows, "frame": frame}


def _month_text(key: int) -> str:
    return f"{1970 + key // 12:04d}-{key % 12 + 1:02d}"


def _trend(source: str, figures: Any, label: str, categories: tuple[str, ...] | None,
           areas: tuple[str, ...] | None) -> dict[str, Any]:
    """One source's monthly counts over its last :data:`TREND_MONTHS` complete months."""
    import numpy as np

    def month(day: int) -> int:
        return int(np.datetime64(int(day), "D").astype("datetime64[M]").astype("int64"))

    last_day = figures.covered_to[source]
    last = month(last_day)
    if month(last_day + 1) == last:  # the month is not covered to its last day
        last -= 1
    first = max(last - TREND_MONTHS + 1, month(figures.covered_from.get(source, last_day)))
    table = services.current().query.board_trend(source, first, last, categories=categories,
                                                 areas=areas)
    months = []
    for r in table.itertuples():
        entry: dict[str, Any] = {"month": _month_text(int(r.month)),
                                 "count": None if r.missing or r.suppressed else int(r.count)}
        if r.shown_as:  # "no data", "fewer than 5" or "hidden"
            entry["shown_as"] = r.shown_as
        months.append(entry)
    return {"source": source, "label": label, "months": months}


def _need_and_activity(figures: Any, area_tables: list[dict[str, Any]],
                       categories: tuple[str, ...] | None, level: str = "authority"
                       ) -> tuple[list[dict[str, Any]], list[str]]:
    """Need (police rate, busiest places) beside zones and funded activity, per area.

    At a level below the authorities, activity recorded by authority is not split among its
    wards: it is counted at authority level only, and a caveat says how much.
    """
    svc = services.current()
    police = next((t for t in area_tables if t["source"] == "police"),
                  area_tables[0] if area_tables else None)
    if police is None:
        return [], []
    h = next(x for x in figures.headlines if x.source == police["source"])
    # the busiest places over the year to the headline's period end
    from datetime import date, timedelta

    end = date.fromisoformat(h.period_end)
    start = (end.replace(day=1) - timedelta(days=330)).replace(day=1)
    hot, n_hot = svc.query.board_hotspots(start.isoformat(), end.isoformat(),
                                          top=BUSIEST_PLACES, source=h.source,
                                          categories=categories, level=level)
    bounds = svc.query.level_boundaries(level)
    zones = _zones_by_area(bounds)
    names = bounds.names()
    lookup = {code: code for code in names} | {n.lower(): c for c, n in names.items()}
    path = svc.data.root / "board" / "activity.csv"
    activity, problems = [], []
    if path.is_file():
        from geo.board import ACTIVITY_MAX_BYTES

        try:
            if path.stat().st_size > ACTIVITY_MAX_BYTES:
                raise OSError(f"it is larger than {ACTIVITY_MAX_BYTES:,} bytes")
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as err:
            text, problems = "", [f"The activity file ({path.name}) could not be read: {err}."]
        if text:
            authorities = svc.boundaries.names()
            elsewhere = ({c: c for c in authorities}
                         | {n.lower(): c for c, n in authorities.items()}
                         if level != "authority" else None)
            activity, problems = read_activity(text, lookup, path.name, elsewhere=elsewhere)
    rows = need_and_activity(police["rows"], hot, n_hot, zones, activity)
    return rows, problems


def _zones_by_area(bounds: Any) -> dict[str, int]:
    """How many saved zones lie in each area (by each zone's representative point)."""
    svc = services.current()
    zones = svc.zones().zones_bng
    if zones.empty:
        return {}
    import numpy as np

    areas = bounds.areas_bng
    points = zones.geometry.representative_point()
    zone_i, area_i = areas.sindex.query(points.values, predicate="within")
    out: dict[str, int] = {}
    for code in areas["code"].to_numpy()[area_i[np.unique(zone_i, return_index=True)[1]]]:
        out[str(code)] = out.get(str(code), 0) + 1
    return out


def load_sources(path: Any) -> tuple[dict[str, str], dict[str, str], str | None]:
    """Read how the partnership names each source and how often it arrives.

    ``<data>/board/sources.toml`` holds a table per source (``police``, ``ed``,
    ``ambulance``, or any other source in the data) with ``label`` (the plain-English name
    used in every sentence) and ``cadence`` (daily, weekly or monthly). Missing entries keep
    the defaults (:data:`SOURCE_LABELS`, :data:`DEFAULT_CADENCES`); a file that cannot be used keeps
    them all and says why among the caveats.
    """
    import tomllib

    labels, cadences = dict(SOURCE_LABELS), dict(DEFAULT_CADENCES)
    if not path.is_file():
        return labels, cadences, None
    try:
        data = tomllib.loads(_setup_text(path))
        new_labels, new_cadences = dict(labels), dict(cadences)
        for source, item in data.items():
            if not isinstance(item, dict):
                raise ValueError(f"'{source}' should be a table, e.g. [{source}]")
            if "label" in item:
                label = " ".join(str(item["label"]).split())[:120]
                if not label:
                    raise ValueError(f"the label of '{source}' is empty")
                new_labels[source] = label
            if "cadence" in item:
                every = str(item["cadence"]).strip().lower()
                if every not in CADENCES:
                    raise ValueError(f"the cadence of '{source}' is '{every}'; use "
                                     f"{', '.join(CADENCES)}")
                new_cadences[source] = every
        return new_labels, new_cadences, None
    except (tomllib.TOMLDecodeError, ValueError, UnicodeDecodeError, OSError,
            RecursionError) as err:
        what = "it is nested too deeply" if isinstance(err, RecursionError) else str(err)
        return labels, cadences, (f"The sources file ({path.name}) could not be used: {what}. "
                                  "The standard names and cadences are used.")


#: Largest setup file of the board (targets, sources) read, in bytes.
SETUP_MAX_BYTES = 200_000


def _setup_text(path: Any) -> str:
    """Read a board setup file an administrator wrote, refusing one too large to be one."""
    size = path.stat().st_size
    if size > SETUP_MAX_BYTES:
        raise ValueError(f"it is {size:,} bytes; the limit is {SETUP_MAX_BYTES:,}")
    return str(path.read_text(encoding="utf-8"))


#: Months the board's emerging hot spot sentence looks back over.
EMERGING_MONTHS = 12


def _emerging(figures: Any, labels: dict[str, str], categories: tuple[str, ...] | None,
              areas: tuple[str, ...] | None = None) -> list[str]:
    """Emerging hot spots in words, for police data, over the year to its latest month.

    Cached with the store version and the principal's scope (it takes a second or so on a
    large force); none when there is no police data or too few months.
    """
    svc = services.current()
    h = next((x for x in figures.headlines if x.source == "police"), None)
    if h is None:
        return []
    last_day = figures.covered_to["police"]
    import numpy as np

    month_end = np.datetime64(int(last_day) + 1, "D").astype("datetime64[M]")
    whole = np.datetime64(month_end, "D").astype("int64") == last_day + 1
    last_month = (month_end - 1) if whole else (month_end - 2)
    end = int((np.datetime64(last_month + 1, "D") - 1).astype("int64"))
    # judged across the whole force (a place's neighbours count), then told for the areas chosen
    table = svc.board_emerging("police", end, EMERGING_MONTHS, categories)
    if areas:
        table = table[table["area"].isin(areas)]
    year, month = divmod(int(last_month.astype("int64")), 12)
    label = f"{_MONTHS[month]} {1970 + year}"
    return [emerging_sentence(table, labels.get("police", "police"), svc.boundaries.names(),
                              EMERGING_MONTHS, label)]


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")


def _event_caveats(headlines: Any, labels: dict[str, str]) -> list[str]:
    """Events of the calendar (a recording change, a lockdown) that touch the periods."""
    from geo.board import event_caveats
    from geo.trends import load_events

    try:
        events = load_events(services.current().data.events)
    except ValueError as err:
        return [f"{err} Events (such as recording changes) cannot be taken into account."]
    return list(event_caveats(headlines, events, labels))
