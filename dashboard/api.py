"""The read-only HTTP API (``/api/v1``): the same filters as the page, stable JSON out.

Documented in ``docs/API.md``. Every bad parameter gives HTTP 400 with a message naming it
(the handlers are installed app-wide by :mod:`dashboard.security`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from flask import Blueprint, Response, jsonify, request

from dashboard import services
from dashboard.inputs import query_params
from dashboard.params import int_param, parse_filters
from geo.query import FilterError, Filters
from geo.settings import H3_DEFAULT_RESOLUTION, H3_RESOLUTIONS

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _split(own: set[str]) -> tuple[Filters, dict[str, str]]:
    args, _choice = _grouped()
    mine = {k: args.pop(k) for k in list(args) if k in own}
    filters = parse_filters(args)
    services.current().query.validate(filters)
    return filters, mine


def _grouped() -> tuple[dict[str, str], Any]:
    """Return the parameters with ``group`` (or the default group) expanded to categories.

    The Explorer starts with the same default, so a page and the API asked the same
    question give the same answer.
    """
    return services.current().resolve_group(query_params(request.args))


def _args() -> dict[str, str]:
    """Return the parameters with the crime-type group expanded to its categories.

    ``group=NAME``, or the default group when neither ``group`` nor ``categories`` is given.
    Every page starts with the default group too, so a page and the API asked the same
    question give the same answer.
    """
    args = query_params(request.args)
    return services.current().resolve_group(args)[0]


def _res(params: dict[str, str]) -> int:
    res = int_param(params, "res", H3_DEFAULT_RESOLUTION, 0, 15)
    if res not in H3_RESOLUTIONS:
        raise FilterError("res", f"{res} is not offered; choose one of "
                          f"{', '.join(map(str, H3_RESOLUTIONS))}")
    return res


def _clean(value: Any) -> Any:
    """Make a value JSON-ready: numpy numbers to Python, NaN and NA to null."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is pd.NA or (isinstance(value, float) and not math.isfinite(value)):
        return None
    return value


@bp.get("/health")
def health() -> Response:
    """Say the service is up and how current its data is."""
    svc = services.current()
    who = svc.query.principal()
    if who is not None and who.policy.suppress_below:
        # roles that see suppressed figures get no exact count or incident date here either
        return jsonify({"status": "ok", "data": {
            "store_version": svc.version(), "synthetic_sample": svc.query.synthetic_sample()}})
    return jsonify({"status": "ok", "data": svc.query.status()})


@bp.get("/whoami")
def whoami() -> Response:
    """Say who the request is answered for: user, role and the areas they are limited to."""
    from dashboard.access.gate import current

    return jsonify(current().as_json())


def _area_level(text: str) -> str:
    """Return the boundary level ``level`` names in ``/aggregate`` (``la``: the authorities)."""
    from dashboard.params import parse_level
    from geo.boundaries import AUTHORITY

    if text.strip().lower() in {"la", AUTHORITY}:
        return AUTHORITY
    known = services.current().query.level_names()[1:]
    others = f", or a boundary level: {', '.join(known)}" if known else ""
    try:
        level = parse_level(text)
        services.current().query.level_boundaries(level)
    except FilterError:
        raise FilterError("level", f"'{text.strip()[:40]}' is not a level; use la (the "
                          f"local authorities), h3{others}") from None
    return level


@bp.get("/aggregate")
def aggregate() -> Response:
    """Return counts, harm and rates by area or H3 cell.

    ``level=la`` (the local authorities, the default), another boundary level
    (``level=ward``...) or ``level=h3`` (hexagons).

    For roles that see small numbers suppressed, a hidden count is ``null`` with
    ``"suppressed": true`` and ``"shown_as": "fewer than 5"`` (or ``"hidden"`` for a cell
    hidden so that a total cannot reveal a small one); counts shown carry a small fixed noise;
    harm and rates are left out; domestic incidents have their own column by authority, and
    are not counted at any level below it.
    """
    filters, own = _split({"level", "res"})
    level = own.get("level", "la")
    svc = services.current()
    if level != "h3":
        area_level = _area_level(level)
        found = svc.query.disclosed_areas(filters, level=area_level)
        disclosed, domestic = found.count, found.domestic
        rows = []
        for i, r in enumerate(found.table.itertuples()):
            row = {"code": r.code, "name": r.name, "count": _clean(r.count),
                   "harm": _clean(r.harm), "population": _clean(r.population),
                   "rate_per_1000": _clean(r.rate_per_1000)}
            if disclosed is not None:
                row.update(_suppression(disclosed, i))
            else:
                row["small_number"] = bool(r.small_number)
            if domestic is not None:
                row["domestic"] = _clean(r.domestic)
                row.update({f"domestic_{k}": v for k, v in _suppression(domestic, i).items()})
            rows.append(row)
        below = area_level != "authority"
        boundaries = svc.query.level_boundaries(area_level)
        return jsonify({"level": area_level if below else "la", "filters": filters.to_params(),
                        "rows": rows, "group": _grouped()[1].as_json(),
                        "population_source": boundaries.population_source(),
                        "domestic_recorded": svc.query.domestic_recorded(),
                        **_suppression_rule(disclosed, split=domestic is not None,
                                            below=below,
                                            domestic_by_authority=_domestic_by_authority())})
    if level == "h3":
        res = _res(own)
        from dashboard.access.gate import current

        current().require_see("h3", "figures by hexagon")
        cells, counts, disclosed = svc.query.disclosed_cells(filters, res)
        from geo.h3index import cells_to_str

        if disclosed is None:
            _cells, counts, harm = svc.query.cell_counts(filters, res)
            nz = counts > 0
            rows = [
                {"cell": c, "count": int(n), "harm": float(h)}
                for c, n, h in zip(cells_to_str(cells[nz]), counts[nz], harm[nz], strict=True)
            ]
        else:
            rows = []
            for i, c in enumerate(cells_to_str(cells)):
                row = {"cell": c, "count": int(counts[i]) if not disclosed.hidden[i]
                       else None}
                row.update(_suppression(disclosed, i))
                rows.append(row)
        return jsonify({"level": "h3", "res": res, "filters": filters.to_params(), "rows": rows,
                        "group": _grouped()[1].as_json(),
                        "left_out": _left_out(svc.query.left_out(filters, res), res, disclosed),
                        **_suppression_rule(disclosed, split=False)})
    raise AssertionError("unreachable: every other level is a boundary level")


def _domestic_by_authority() -> bool:
    """Say whether the caller's domestic incidents count only by whole authority."""
    who = services.current().query.principal()
    return who is not None and not who.policy.domestic_below_authority


def _suppression(disclosed: Any, i: int) -> dict[str, Any]:
    if not disclosed.hidden[i]:
        return {"suppressed": False}
    return {"suppressed": True,
            "shown_as": disclosed.label() if disclosed.primary[i] else "hidden"}


def _left_out(n: int, res: int, disclosed: Any) -> dict[str, Any]:
    """Say how many selected records are placed too coarsely for hexagons at ``res``.

    Health records placed only by a postcode or an LSOA centroid (geo.istv) are not in the
    hexagons they would land in by chance; the answer says so, so that the rows plus this
    count make the selection. For a role that suppresses small numbers a count from 1 to
    the threshold is given as "fewer than" like any other.
    """
    why = (f"placed only by a postcode or LSOA centroid, too coarse for H3 resolution {res}")
    if disclosed is not None and 0 < n < disclosed.threshold:
        return {"count": None, "suppressed": True, "shown_as": disclosed.label(), "why": why}
    return {"count": int(n), "why": why}


def _suppression_rule(disclosed: Any, split: bool = True, below: bool = False,
                      domestic_by_authority: bool = False) -> dict[str, Any]:
    if disclosed is None:
        return {}
    t = disclosed.threshold
    text = (f"Counts from 1 to {t - 1} are shown as 'fewer than {t}'. Where a total could "
            "reveal one, further cells are hidden too ('hidden'). Counts shown carry a small "
            "fixed adjustment of at most 2 either way, the same every time for the same "
            "incidents, so that two answers cannot be subtracted to reveal a small number. "
            "Harm scores and rates are not given.")
    if split:
        text += (" Domestic incidents are counted only by whole authority, in their own "
                 "column ('domestic'); 'count' and every hexagon count public-place incidents.")
    elif below:
        if domestic_by_authority:
            text += (" Domestic incidents are counted only by whole authority (level=la, in "
                     "their own column): at this level 'count' is public-place incidents.")
    else:
        text += " Hexagons count public-place incidents only."
    return {"suppression": text}


@bp.get("/patrol-plan")
def patrol_plan() -> Response:
    """GeoJSON of the ranked patrol hotspots for a shift, with figures, dosage and provenance."""
    from dashboard.params import parse_plan_params
    from dashboard.serialise import plan_geojson

    params = parse_plan_params(_args())
    return jsonify(plan_geojson(services.current().plan(params)))


@bp.get("/backtest")
def backtest() -> Response:
    """Backtest the forecast beside count_12m, count_last, kde and the oracle, by month."""
    return jsonify(services.current().backtest(_args()))


@bp.get("/nte/zones")
def nte_zones() -> Response:
    """GeoJSON of the saved NTE zones with their night-time figures and latest status."""
    from dashboard.params import parse_nte_params
    from dashboard.serialise import nte_zones_geojson

    params = parse_nte_params(_args())
    svc = services.current()
    return jsonify(nte_zones_geojson(svc.nte_report(params), svc.zones()))


@bp.get("/nte/nights")
def nte_nights() -> Response:
    """One row per zone and night: the night's date, its count and its status."""
    from dashboard.params import parse_nte_params
    from dashboard.serialise import nte_nights_json

    params = parse_nte_params(_args())
    svc = services.current()
    report = svc.nte_report(params)
    # a row per zone and night (up to HOTSPOT_MAX_ZONES zones): built in the heavy lane
    return jsonify(svc.in_lane(lambda: nte_nights_json(report)))


@bp.get("/trends")
def trends() -> Response:
    """Series by day, week, month or financial-year quarter; sources indexed; league table."""
    from dashboard.params import parse_trends_params
    from dashboard.serialise import trends_json

    return jsonify(trends_json(services.current().trends(parse_trends_params(_args()))))


@bp.get("/emerging")
def emerging() -> Response:
    """Emerging hot spot category of each H3 cell over six-weekly periods, with the rules."""
    from dashboard.params import parse_emerging_params
    from dashboard.serialise import emerging_json

    return jsonify(emerging_json(services.current().emerging(parse_emerging_params(_args()))))


@bp.get("/evaluate")
def evaluate() -> Response:
    """Before/after counts and the weighted displacement difference for an intervention."""
    from dashboard.params import parse_evaluate_params
    from dashboard.serialise import evaluation_json

    result = services.current().evaluate(parse_evaluate_params(_args()))
    return jsonify(evaluation_json(result))


@bp.get("/hotspots")
def hotspots() -> Response:
    """GeoJSON FeatureCollection of the ranked hotspot cells for the selection."""
    filters, own = _split({"res", "n"})
    res = _res(own)
    n = int_param(own, "n", 10, 1, 500)
    svc = services.current()
    weights, weights_source = svc.harm_weights()
    table = svc.hotspot_table(filters, res, n, weights or None)
    import h3

    features = []
    for row in table.to_dict("records"):
        ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(row["cell"])]
        ring.append(ring[0])
        props = {k: _clean(v) for k, v in row.items() if k not in {"lat", "lon"}}
        features.append({"type": "Feature", "id": row["cell"],
                         "geometry": {"type": "Polygon", "coordinates": [ring]},
                         "properties": {**props, "res": res}})
    return jsonify({
        "type": "FeatureCollection",
        "features": features,
        "filters": filters.to_params(),
        "method": f"H3 resolution {res} cells ranked by harm, then count; top {n}",
        "group": _grouped()[1].as_json(),
        "harm_weights": weights_source if weights else None,
        "synthetic_sample": svc.query.status()["synthetic_sample"],
    })


@bp.post("/ingest")
def ingest() -> tuple[Response, int]:
    """Add a file of incidents from a feed, exactly as ``hotspot ingest`` would.

    The file is the request body, or a multipart field named ``file``. It is read by its
    content (police.uk street-level CSV, plain or gzipped, or any format ``hotspot ingest``
    recognises without a column mapping), under a name the server chooses. The answer is the
    ingest summary (the documented ``hotspot ingest --json`` object); the same file sent twice
    adds nothing. Bounded like every upload: the request size, and what a gzip may expand to.
    """
    import tempfile
    from pathlib import Path

    from flask import g

    from dashboard.components import display_name
    from geo.ingest import ingest_file
    from geo.schema import ReadError
    from geo.settings import limits

    upload = request.files.get("file")
    raw = upload.read() if upload is not None else request.get_data(cache=False)
    name = display_name(upload.filename if upload is not None else
                        request.headers.get("X-File-Name"), "feed")
    if not raw:
        raise FilterError("file", "no file was sent: send it as the request body or as a "
                          "multipart field named 'file'")
    cap = limits().upload_decompressed_bytes
    _check_expanded_size(raw, cap, name)
    svc = services.current()
    with tempfile.TemporaryDirectory(prefix="hotspot-feed-") as tmp:
        path = Path(tmp) / "feed"
        path.write_bytes(raw)
        del raw
        try:
            summary = svc.in_lane(lambda: ingest_file(path, svc.data))
        except ReadError as err:
            raise FilterError("file", str(err).replace(str(path), name)) from None
    summary.file = name
    g.hotspot_audit_what = {"file": name, "read": summary.read, "accepted": summary.accepted,
                            "duplicates": summary.duplicates, "rejected": summary.rejected,
                            "batch": summary.batch_id}
    body = summary.as_json()
    body["rejects_file"] = None  # a server path: not the sender's business
    return jsonify(body), 200


def _check_expanded_size(raw: bytes, cap: int, name: str) -> None:
    """Refuse a gzip that expands beyond ``cap`` bytes, before anything is ingested.

    Every member of a multi-member gzip counts.
    """
    import zlib

    if raw[:2] != b"\x1f\x8b":
        return
    total, pending = 0, raw
    while pending:
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
        chunk = pending
        while chunk:
            try:
                total += len(inflate.decompress(chunk, cap + 1 - total))
            except zlib.error:
                return  # damaged: the reader refuses it with its own message
            if total > cap or inflate.unconsumed_tail and total >= cap:
                raise FilterError("file", f"{name} expands to more than "
                                  f"{cap // (1 << 20):,} MB; the limit is "
                                  "HOTSPOT_MAX_DECOMPRESSED_MB (use hotspot ingest on the "
                                  "server for larger files)")
            chunk = inflate.unconsumed_tail
            if inflate.eof:
                break
        pending = inflate.unused_data if inflate.eof else b""


@bp.get("/board")
def board() -> Response:
    """Return the partnership board's headlines, sentences, currency and caveats (as /board)."""
    from dashboard.board import board_from_params

    return jsonify(board_from_params(query_params(request.args)))


@bp.get("/health-data/coverage")
def health_coverage() -> Response:
    """ED (or ambulance) arrivals inside and outside service hours, by weekday, hour, age."""
    from dashboard import health_data

    return jsonify(health_data.coverage(query_params(request.args)))


@bp.get("/health-data/compare")
def health_compare() -> Response:
    """ED (or ambulance) counts beside police violence with injury, and where ED runs ahead."""
    from dashboard import health_data

    return jsonify(health_data.compare(query_params(request.args)))
