"""The partnership board view: each source's latest complete period against its baseline.

For boards (police, councils, NHS, youth services): headline figures in plain English, with
the counts every change is worked from, arrows and words rather than colour alone, whether
the sources agree, how current each source is, and the caveats. The words come from
:mod:`dashboard.board`, which the API (``/api/v1/board``) shares, so they cannot disagree.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import services
from dashboard.board import PERIODS, board
from dashboard.ids import LIVE_VERSION
from dashboard.inputs import query_params

dash.register_page(__name__, path="/board", name="Board", title="Hotspot · Board", order=5)

P = "board-"
PERIOD, BASELINE, AREA, CARDS, AGREE, CURRENCY, CAVEATS, KIOSK_TICK, DOWNLOAD, TARGETS = (
    P + s for s in ("period", "baseline", "area", "cards", "agree", "currency", "caveats",
                    "kiosk-tick", "download", "targets"))
DOWNLOAD_PDF = P + "download-pdf"
#: How each status is shown: a word and a symbol, never colour alone.
STATUS_MARKS = {"green": "● GREEN", "amber": "◐ AMBER", "red": "○ RED", "none": "– NO STATUS"}
#: Seconds each area stays on a kiosk screen before the next.
KIOSK_SECONDS = 30
BASELINE_OPTIONS = [{"label": " the same period last year", "value": "last_year"},
                    {"label": " the equal period before", "value": "previous"}]


def layout(**query: str) -> html.Div:
    """Build the page: the period and baseline, then the figures (drawn by the callback)."""
    query = query_params(query)
    svc = services.current()
    from dashboard.access.gate import principal_or_none

    who = principal_or_none()
    names = svc.boundaries.names()
    mine = [c for c in names if who is None or who.areas is None or c in who.areas]
    kiosk = str(query.get("kiosk", "")) in {"1", "true", "yes"}
    sidebar = html.Div([
        html.H2("Board"),
        html.Label("Period", htmlFor=PERIOD),
        dcc.RadioItems(id=PERIOD, value=query.get("period") if query.get("period") in PERIODS
                       else "fyq",
                       options=[{"label": f" {v}", "value": k} for k, v in PERIODS.items()]),
        html.Label("Compared with", htmlFor=BASELINE),
        dcc.RadioItems(id=BASELINE, value="last_year", options=BASELINE_OPTIONS),
        html.Label("Area", htmlFor=AREA),
        dcc.Dropdown(id=AREA, options=[{"label": names[c], "value": c} for c in mine],
                     placeholder="The whole area", value=None),
        html.P(html.A("Every figure as CSV", id=DOWNLOAD, href="/board.csv"),
               className="downloads"),
        html.P(html.A("Board pack (PDF)", id=DOWNLOAD_PDF, href="/board.pdf"),
               className="downloads"),
        html.P(html.A("Full-screen kiosk (cycles through the areas)", href="/board?kiosk=1"),
               className="hint"),
        # a kiosk moves on to the next area every KIOSK_SECONDS; off otherwise
        dcc.Interval(id=KIOSK_TICK, interval=KIOSK_SECONDS * 1000, disabled=not kiosk),
    ], className="sidebar")
    main = html.Div([
        html.Div(id=CARDS, className="board-cards"),
        html.H3("Targets"),
        html.Ul(id=TARGETS),
        html.H3("Do the sources agree?"),
        html.Ul(id=AGREE),
        html.H3("How current each source is"),
        html.Ul(id=CURRENCY),
        html.H3("Read with care"),
        html.Ul(id=CAVEATS, className="hint"),
    ], className="main")
    return html.Div([sidebar, main], className="explorer kiosk" if kiosk else "explorer")


def _arrow(h: dict[str, Any]) -> str:
    if h["change"] is None:
        return "no comparison"
    if h["change"] > 0:
        return "▲ up"
    if h["change"] < 0:
        return "▼ down"
    return "▶ no change"


def _card(h: dict[str, Any]) -> html.Div:
    shown = f"{h['count']:,}" if h["count"] is not None else h.get("count_shown_as", "")
    change = ""
    if h["change"] is not None:
        pct = f" ({h['change_pct']:+.1f}%)".replace("-", "−") if h["change_pct"] is not None \
            else ""
        change = f"{_arrow(h)} {abs(h['change']):,}{pct}"
    else:
        change = _arrow(h)
    rate = (f"{h['rate_per_1000']:,.2f} per 1,000 residents"
            if h.get("rate_per_1000") is not None else "")
    return html.Div([
        html.Div(h["label"], className="board-source"),
        html.Div(h["period_label"], className="hint"),
        html.Div(shown, className="board-count"),
        html.Div(change, className="board-change"),
        html.Div(rate, className="hint"),
        html.P(h["sentence"], className="board-sentence"),
    ], className="panel board-card", id=f"board-card-{h['source']}")


@callback(Output(AREA, "value"), Input(KIOSK_TICK, "n_intervals"), Input(AREA, "options"),
          dash.State(AREA, "value"), prevent_initial_call=True)
def next_area(_ticks: int | None, options: list[dict[str, str]] | None,
              area: str | None) -> str | None:
    """On a kiosk, show the next area (after the last, the whole area again)."""
    if dash.ctx.triggered_id != KIOSK_TICK:
        return dash.no_update
    codes = [o["value"] for o in options or [] if isinstance(o, dict) and "value" in o]
    if not codes:
        return None
    if area not in codes:
        return codes[0]
    i = codes.index(area) + 1
    return codes[i] if i < len(codes) else None


@callback(Output(CARDS, "children"), Output(AGREE, "children"), Output(CURRENCY, "children"),
          Output(CAVEATS, "children"), Output(TARGETS, "children"),
          Input(PERIOD, "value"), Input(BASELINE, "value"), Input(AREA, "value"),
          Input(LIVE_VERSION, "data"))
def update_board(period: str | None, baseline: str | None, area: str | None,
                 _live: Any = None) -> tuple[Any, ...]:
    """Draw every source's headline, the agreement, the currency and the caveats."""
    body = board(period or "fyq", baseline or "last_year", None,
                 (area,) if isinstance(area, str) and area else None)
    place = body["area"][:1].upper() + body["area"][1:]
    cards: list[Any] = []
    if body["synthetic_sample"]:  # said here too: a kiosk shows no header
        cards.append(html.Div("SYNTHETIC SAMPLE DATA — not real incidents",
                              className="sample-badge board-synthetic"))
    cards.append(html.H2(f"{place}: latest complete {PERIODS[body['period']]}",
                         className="board-area"))
    cards += [_card(h) for h in body["headlines"]] or [html.P("No data yet.")]
    agree = [html.Li(s) for s in body["agreement"]]
    current = [html.Li(("LATE: " if c["late"] else "") + c["sentence"],
                       className="late" if c["late"] else "") for c in body["currency"]]
    caveats = [html.Li(c) for c in body["caveats"]]
    targets = [html.Li([html.Strong(STATUS_MARKS[t["status"]], className=f"status-{t['status']}"),
                        " ", t["sentence"], html.Span(f" ({t['rule']})", className="hint")])
               for t in body["targets"]] or [html.Li("No targets are set (an administrator "
                                                     "sets them in board/targets.toml).",
                                                     className="hint")]
    return cards, agree, current, caveats, targets
