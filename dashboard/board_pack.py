"""The partnership board pack: the board view as a dated A4 PDF for the meeting papers.

:func:`board_pack_pdf` lays out the body that :func:`dashboard.board.board` returns (the same
body ``/board`` and ``/api/v1/board`` show) with ReportLab: headlines, targets, what changed,
whether the sources agree, a map and table of the areas by rate, monthly trend charts, need
against funded activity, how current each source is, sources, method and caveats. Every
number is printed as the body gives it (formatted, never recomputed), so the pack cannot
disagree with the page. A section whose key the body lacks says "not available" instead.

ReportLab is pure Python (no system libraries, no browser), so the pack is made the same way
on a locked-down Windows laptop and on a force's Linux server.
"""

from __future__ import annotations

import io
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache, partial
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import numpy as np
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.textlabels import NA_Label
from reportlab.graphics.shapes import Drawing, Group, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.pdfgen.canvas import FILL_EVEN_ODD, Canvas
from reportlab.platypus import (
    Flowable,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from dashboard.board import PERIODS, SOURCE_LABELS
from geo.settings import CRS_METRIC, TIMEZONE

__all__ = ["TITLE", "board_pack_pdf"]

#: The document's title, on its first page and in its properties.
TITLE = "Partnership board pack"
SYNTHETIC_BANNER = "SYNTHETIC SAMPLE DATA \u2014 not real incidents"
NOT_AVAILABLE = "Not available in this version of Hotspot's board figures."
#: Each target status as a symbol and a word, never colour alone (as the board page shows it).
STATUS_MARKS = {"green": "\u25cf GREEN", "amber": "\u25d7 AMBER", "red": "\u274d RED",
                "none": "\u2013 NO STATUS"}
STATUS_TINTS = {"green": colors.HexColor("#d9efd9"), "amber": colors.HexColor("#fbe7c6"),
                "red": colors.HexColor("#f6d2d2"), "none": colors.HexColor("#eeeeee")}
#: Five classes of rate, light to dark (ColorBrewer YlOrRd): readable in greyscale too, and
#: each area is labelled with its class number besides.
CLASS_COLOURS = [colors.HexColor(c) for c in ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20",
                                              "#bd0026")]
#: Decimals a rate per 1,000 is printed with (as on the board page).
RATE_DECIMALS = 2
#: Points of map per class label; areas smaller than this on the page are not labelled.
_MIN_LABEL_PT = 9.0
#: Marks the built-in fonts lack, and the nearest they have (the board page uses these).
_SWAPS = {"\u25b6": "\u2192", "\u25ba": "\u2192", "\u25d0": "\u25d7", "\u25cb": "\u274d"}
PAGE_W, PAGE_H = A4
MARGIN = 1.8 * cm
TEXT_W = PAGE_W - 2 * MARGIN
INK = colors.HexColor("#1a1a1a")
GREY = colors.HexColor("#555555")
RULE = colors.HexColor("#bbbbbb")


# ---------------------------------------------------------------------------------------------
# Text
@cache
def _codecs() -> tuple[str, ...]:
    from reportlab.pdfbase.rl_codecs import RL_Codecs

    RL_Codecs.register()  # idempotent: adds ReportLab's font encodings to Python's codecs
    return ("winansi", "symbol", "zapfdingbats")


@cache
def _prints(ch: str) -> bool:
    for codec in _codecs():
        try:
            ch.encode(codec)
            return True
        except UnicodeEncodeError:
            continue
    return False


def printable(text: Any) -> str:
    """Return ``text`` as the PDF's built-in fonts can print it (for a canvas string).

    The built-in Helvetica covers Western European text (Windows-1252), and ReportLab draws
    arrows, the minus sign and a few marks from its Symbol and ZapfDingbats fonts. A mark
    they lack becomes the nearest one they have (``▶`` an arrow ``→``); other letters (the
    Welsh ŵ and ŷ of a ward name) lose their accents rather than print as boxes; anything
    else becomes ``?``.

    Examples
    --------
    >>> printable("Ynys Môn, Tywyn: \u0175 \u2212 1 \u25b6 \u4e2d")
    'Ynys Môn, Tywyn: w \u2212 1 \u2192 ?'
    """
    out = []
    for ch in str(text):
        ch = _SWAPS.get(ch, ch)
        if ch in "\n\t" or _prints(ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch)
                       if not unicodedata.combining(c))
        out.append(base if base and all(_prints(c) for c in base) else "?")
    return "".join(out)


def plain(text: Any) -> str:
    """Return ``text`` printable and escaped for a ReportLab paragraph (which reads markup).

    Examples
    --------
    >>> plain("Fylde & Wyre <b>")
    'Fylde &amp; Wyre &lt;b&gt;'
    """
    return escape(printable(text))


def count_text(value: int | None, shown_as: str | None) -> str:
    """Return a count as printed: ``1,201``, or what a hidden count is shown as.

    Examples
    --------
    >>> count_text(1201, None), count_text(None, "fewer than 5"), count_text(None, None)
    ('1,201', 'fewer than 5', 'no figure')
    """
    if value is not None:
        return f"{value:,}"
    return shown_as or "no figure"


def rate_text(rate: float | None) -> str:
    """Return a rate per 1,000 residents as printed (two decimals), or ``no rate``."""
    return "no rate" if rate is None else f"{rate:,.{RATE_DECIMALS}f}"


def change_text(head: dict[str, Any]) -> str:
    """Return a headline's change with an arrow and a word, as the board page shows it.

    Examples
    --------
    >>> change_text({"change": -18, "change_pct": -1.4766})
    '\u25bc down 18 (\u22121.5%)'
    >>> change_text({"change": None, "change_pct": None})
    'no comparison'
    """
    change = head.get("change")
    if change is None:
        return "no comparison"
    word = ("\u25b2 up" if change > 0 else "\u25bc down" if change < 0
            else "\u2192 no change")
    pct = head.get("change_pct")
    pct_text = f" ({pct:+.1f}%)".replace("-", "\u2212") if pct is not None else ""
    return f"{word} {abs(change):,}{pct_text}"


def _day(d: date) -> str:
    return f"{d.day} {d:%B %Y}"


def _iso_day(value: Any) -> str:
    """Print an ISO date or date-time from the body as "31 March 2025"."""
    try:
        return _day(date.fromisoformat(str(value)[:10]))
    except ValueError:
        return "an unknown date"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def _styles() -> dict[str, ParagraphStyle]:
    base = getSampleStyleSheet()
    body = ParagraphStyle("PackBody", parent=base["BodyText"], fontName="Helvetica",
                          fontSize=9.5, leading=12.5, textColor=INK, spaceAfter=4,
                          alignment=TA_LEFT)
    return {
        "title": ParagraphStyle("PackTitle", parent=base["Title"], fontName="Helvetica-Bold",
                                fontSize=22, leading=26, alignment=TA_LEFT, spaceAfter=2,
                                textColor=INK),
        "subtitle": ParagraphStyle("PackSubtitle", parent=body, fontName="Helvetica-Bold",
                                   fontSize=13, leading=16, spaceAfter=2),
        "h2": ParagraphStyle("PackH2", parent=base["Heading2"], fontName="Helvetica-Bold",
                             fontSize=13, leading=16, spaceBefore=10, spaceAfter=4,
                             textColor=INK, keepWithNext=1),
        "h3": ParagraphStyle("PackH3", parent=base["Heading3"], fontName="Helvetica-Bold",
                             fontSize=10.5, leading=13, spaceBefore=6, spaceAfter=3,
                             textColor=INK, keepWithNext=1),
        "body": body,
        "hint": ParagraphStyle("PackHint", parent=body, fontSize=8.5, leading=11,
                               textColor=GREY),
        "bullet": ParagraphStyle("PackBullet", parent=body, leftIndent=10, bulletIndent=0),
        "cell": ParagraphStyle("PackCell", parent=body, fontSize=8.5, leading=10.5,
                               spaceAfter=0),
        "cell_bold": ParagraphStyle("PackCellBold", parent=body, fontName="Helvetica-Bold",
                                    fontSize=8.5, leading=10.5, spaceAfter=0),
        "head": ParagraphStyle("PackHead", parent=body, fontName="Helvetica-Bold",
                               fontSize=8, leading=10, spaceAfter=0, textColor=colors.white),
        "count": ParagraphStyle("PackCount", parent=body, fontName="Helvetica-Bold",
                                fontSize=12, leading=14, spaceAfter=0),
    }


S = _styles()


def _p(text: Any, style: str = "body") -> Paragraph:
    return Paragraph(plain(text), S[style])


def _bullets(items: Sequence[Any], style: str = "bullet") -> list[Paragraph]:
    return [Paragraph(plain(i), S[style], bulletText="\u2022") for i in items]


def _table(rows: list[list[Any]], widths: Sequence[float], *,
           extra: Sequence[tuple[Any, ...]] = ()) -> Table:
    """Return a table whose dark header row repeats on each page it spans."""
    head = [Paragraph(plain(c), S["head"]) if isinstance(c, str) else c for c in rows[0]]
    cells = [head] + [[Paragraph(plain(c), S["cell"]) if isinstance(c, str) else c
                       for c in row] for row in rows[1:]]
    table = Table(cells, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#333333")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.4, RULE),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f4f4")]),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("LEFTPADDING", (0, 0), (-1, -1), 4),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        *extra,
    ]))
    return table


# ---------------------------------------------------------------------------------------------
# Page furniture: the synthetic banner and "Page n of m" on every page
class _PackCanvas(Canvas):
    """A canvas that holds its pages back until the end, so each can say "Page n of m"."""

    def __init__(self, *args: Any, furniture: Callable[[Canvas, int, int], None],
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._furniture = furniture
        self._held: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802  (ReportLab's name)
        """Hold the finished page; the furniture is drawn when the page count is known."""
        self._held.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        """Draw each held page's furniture with the page count, then write the file."""
        total = len(self._held)
        for state in self._held:
            self.__dict__.update(state)
            self._furniture(self, self._pageNumber, total)
            super().showPage()
        super().save()


def _furniture(canv: Canvas, page: int, total: int, *, synthetic: bool, footer: str) -> None:
    canv.saveState()
    if synthetic:
        canv.setFillColor(colors.HexColor("#7a1f1f"))
        canv.rect(0, PAGE_H - 0.9 * cm, PAGE_W, 0.9 * cm, stroke=0, fill=1)
        canv.setFillColor(colors.white)
        canv.setFont("Helvetica-Bold", 10)
        canv.drawCentredString(PAGE_W / 2, PAGE_H - 0.6 * cm, SYNTHETIC_BANNER)
    canv.setStrokeColor(RULE)
    canv.setLineWidth(0.5)
    canv.line(MARGIN, 1.25 * cm, PAGE_W - MARGIN, 1.25 * cm)
    canv.setFillColor(GREY)
    canv.setFont("Helvetica", 8)
    canv.drawString(MARGIN, 0.85 * cm, footer)
    canv.drawRightString(PAGE_W - MARGIN, 0.85 * cm, f"Page {page} of {total}")
    canv.restoreState()


# ---------------------------------------------------------------------------------------------
# The map
@dataclass(frozen=True)
class RateClass:
    """One shade of the map: its number (1 lightest), colour and the rates of its areas."""

    number: int
    colour: colors.Color
    low: float
    high: float


def rate_classes(rates: Sequence[float], n: int = 5) -> list[RateClass]:
    """Group rates into at most ``n`` classes of about equal numbers of areas (quantiles).

    Rates are grouped as printed (two decimals), and each class is labelled with the lowest
    and highest rate of the areas in it, so the legend shows only rates that appear in the
    table and two areas printed with the same rate share a class.

    Examples
    --------
    >>> [(c.number, c.low, c.high) for c in rate_classes([1.0, 2.0, 3.0, 4.0, 5.0])]
    [(1, 1.0, 1.0), (2, 2.0, 2.0), (3, 3.0, 3.0), (4, 4.0, 4.0), (5, 5.0, 5.0)]
    >>> [(c.low, c.high) for c in rate_classes([2.0, 2.0, 2.0])]
    [(2.0, 2.0)]
    """
    values = np.sort(np.round(np.asarray([r for r in rates if r is not None], dtype=float),
                              RATE_DECIMALS))
    if values.size == 0:
        return []
    edges = np.unique(np.quantile(values, np.linspace(0, 1, n + 1)[1:-1]))
    groups = np.searchsorted(edges, values, side="right")
    used = [values[groups == g] for g in np.unique(groups)]
    # spread the palette over the classes actually used: 3 classes take light, middle, dark
    shades = np.round(np.linspace(0, len(CLASS_COLOURS) - 1, len(used))).astype(int)
    return [RateClass(i + 1, CLASS_COLOURS[shades[i]], float(g.min()), float(g.max()))
            for i, g in enumerate(used)]


def class_of(rate: float | None, classes: Sequence[RateClass]) -> RateClass | None:
    """Return the class holding ``rate`` as printed (None for no rate)."""
    if rate is None:
        return None
    rate = round(rate, RATE_DECIMALS)
    for c in classes:
        if rate <= c.high:
            return c
    return classes[-1] if classes else None


def _boundary_frame(boundaries: Any) -> Any:
    """Return the areas' polygons as a GeoDataFrame (a Boundaries' ``areas``)."""
    if boundaries is None:
        return None
    return getattr(boundaries, "areas", boundaries)


class ChoroplethMap(Flowable):
    """Areas shaded by class of rate, with a class number on each and a legend beside.

    ``shapes`` are ``(geometry in EPSG:27700 metres, row)`` pairs; a row with a count
    hidden for disclosure is hatched and marked ``S``, one with no rate is left white and
    marked with a dash, so the map does not rely on colour alone.
    """

    def __init__(self, shapes: list[tuple[Any, dict[str, Any]]], classes: list[RateClass],
                 width: float, height: float, title: str, suppressed_as: str) -> None:
        super().__init__()
        self.shapes = shapes
        self.classes = classes
        self.width = width
        self.height = height
        self.title = title
        self.suppressed_as = suppressed_as
        self.map_w = width * 0.66
        xmin, ymin, xmax, ymax = _bounds([g for g, _ in shapes])
        self.box = (xmin, ymin, xmax, ymax)
        self.scale = min(self.map_w / max(xmax - xmin, 1.0), (height - 16) / max(ymax - ymin, 1.0))

    def wrap(self, avail_width: float, avail_height: float) -> tuple[float, float]:
        """Take the width and height given at construction."""
        return self.width, self.height

    def _xy(self, x: float, y: float) -> tuple[float, float]:
        xmin, ymin, _, _ = self.box
        return (x - xmin) * self.scale, (y - ymin) * self.scale

    def _path(self, geom: Any) -> Any:
        path = self.canv.beginPath()
        polygons = getattr(geom, "geoms", [geom])
        for poly in polygons:
            for ring in [poly.exterior, *poly.interiors]:
                pts = [self._xy(x, y) for x, y in ring.coords]
                path.moveTo(*pts[0])
                for pt in pts[1:]:
                    path.lineTo(*pt)
                path.close()
        return path

    def draw(self) -> None:
        """Draw the areas, their class marks, a scale bar and the legend."""
        c = self.canv
        c.saveState()
        c.setLineWidth(0.5)
        c.setStrokeColor(colors.HexColor("#444444"))
        for geom, row in self.shapes:
            cls = class_of(row.get("rate_per_1000"), self.classes)
            hidden = row.get("count") is None and bool(row.get("count_shown_as"))
            c.setFillColor(colors.white if cls is None or hidden else cls.colour)
            path = self._path(geom)
            c.drawPath(path, stroke=0, fill=1, fillMode=FILL_EVEN_ODD)
            if hidden:
                self._hatch(geom)
            c.drawPath(self._path(geom), stroke=1, fill=0)
        for geom, row in self.shapes:
            cls = class_of(row.get("rate_per_1000"), self.classes)
            hidden = row.get("count") is None and bool(row.get("count_shown_as"))
            mark = "S" if hidden else "\u2013" if cls is None else str(cls.number)
            self._label(geom, mark)
        self._scale_bar()
        self._legend()
        c.restoreState()

    def _hatch(self, geom: Any) -> None:
        c = self.canv
        c.saveState()
        c.clipPath(self._path(geom), stroke=0, fill=0, fillMode=FILL_EVEN_ODD)
        x0, y0, x1, y1 = geom.bounds
        (ax, ay), (bx, by) = self._xy(x0, y0), self._xy(x1, y1)
        c.setStrokeColor(colors.HexColor("#555555"))
        c.setLineWidth(0.6)
        step = 4.0
        span = (bx - ax) + (by - ay)
        for k in np.arange(-span, span, step):
            c.line(ax + k, ay, ax + k + (by - ay), by)
        c.restoreState()

    def _label(self, geom: Any, mark: str) -> None:
        x0, y0, x1, y1 = geom.bounds
        if min(x1 - x0, y1 - y0) * self.scale < _MIN_LABEL_PT:
            return
        pt = geom.representative_point()
        self._mark(*self._xy(pt.x, pt.y), mark)

    def _scale_bar(self) -> None:
        xmin, _, xmax, _ = self.box
        width_km = (xmax - xmin) / 1000
        bar_km = next((k for k in (50, 20, 10, 5, 2, 1) if k <= width_km / 3), 0.5)
        length = bar_km * 1000 * self.scale
        c = self.canv
        c.setStrokeColor(INK)
        c.setLineWidth(1.2)
        c.line(0, -8, length, -8)
        c.line(0, -10, 0, -6)
        c.line(length, -10, length, -6)
        c.setFillColor(INK)
        c.setFont("Helvetica", 7)
        c.drawString(length + 4, -10.5, f"{bar_km:g} km")
        c.drawRightString(self.map_w, -10.5, "North is up")

    def _legend(self) -> None:
        c = self.canv
        x = self.map_w + 14
        room = self.width - x
        y = self.height - 10
        c.setFillColor(INK)
        for line in _wrap_words(printable(self.title), "Helvetica-Bold", 8, room):
            c.setFont("Helvetica-Bold", 8)
            c.drawString(x, y, line)
            y -= 10
        y -= 8
        rows: list[tuple[str, colors.Color, bool, str]] = [
            (str(k.number), k.colour, False, f"{k.low:,.2f} to {k.high:,.2f}")
            for k in self.classes]
        rows.append(("S", colors.white, True,
                     f"hatched: count {printable(self.suppressed_as)}, not shown"))
        rows.append(("\u2013", colors.white, False, "no rate (population unknown)"))
        for mark, colour, hatched, text in rows:
            c.setFillColor(colour)
            c.setStrokeColor(colors.HexColor("#444444"))
            c.setLineWidth(0.5)
            c.rect(x, y - 4, 22, 13, stroke=1, fill=1)
            if hatched:
                c.saveState()
                p = c.beginPath()
                p.rect(x, y - 4, 22, 13)
                c.clipPath(p, stroke=0, fill=0)
                c.setLineWidth(0.6)
                for k in np.arange(-13, 22, 4.0):
                    c.line(x + k, y - 4, x + k + 13, y + 9)
                c.restoreState()
            self._mark(x + 11, y + 2.5, mark)
            c.setFillColor(INK)
            lines = _wrap_words(text, "Helvetica", 8, room - 28)
            for i, line in enumerate(lines):
                c.setFont("Helvetica", 8)
                c.drawString(x + 28, y - 10 * i, line)
            y -= 8 + 10 * max(len(lines), 1)

    def _mark(self, x: float, y: float, mark: str) -> None:
        """Draw a class number (or S, or a dash) in a white disc centred on ``(x, y)``."""
        c = self.canv
        c.setFillColor(colors.white)
        c.setStrokeColor(colors.HexColor("#444444"))
        c.setLineWidth(0.4)
        c.circle(x, y, 5.2, stroke=1, fill=1)
        c.setFillColor(INK)
        c.setFont("Helvetica-Bold", 7)
        c.drawCentredString(x, y - 2.4, mark)


def _wrap_words(text: str, font: str, size: float, width_pt: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width_pt`` in ``font`` at ``size``."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    lines: list[str] = []
    for word in text.split():
        if lines and stringWidth(f"{lines[-1]} {word}", font, size) <= width_pt:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return lines


def _bounds(geoms: Sequence[Any]) -> tuple[float, float, float, float]:
    b = np.array([g.bounds for g in geoms], dtype=float)
    return float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max())


def _map_shapes(rows: list[dict[str, Any]], boundaries: Any,
                width_pt: float) -> tuple[list[tuple[Any, dict[str, Any]]], list[str]]:
    """Return the rows' polygons in BNG metres, simplified for the page, and unmatched names."""
    import shapely

    frame = _boundary_frame(boundaries)
    if frame is None or len(frame) == 0 or not rows:
        return [], [r.get("name") or r.get("code", "") for r in rows]
    if frame.crs is None:
        raise ValueError("the boundary polygons have no CRS; they must be in EPSG:4326")
    by_code = {str(r["code"]): r for r in rows}
    chosen = frame[frame["code"].astype(str).isin(by_code)]
    missing = [r.get("name") or r["code"] for r in rows
               if str(r["code"]) not in set(chosen["code"].astype(str))]
    if len(chosen) == 0:
        return [], missing
    metric = chosen.to_crs(CRS_METRIC)  # measured and drawn in metres, north up
    xmin, ymin, xmax, ymax = metric.total_bounds
    # half a printed point: finer detail cannot be seen, and the PDF stays small
    tolerance_m = 0.5 * max(xmax - xmin, ymax - ymin) / width_pt
    simple = shapely.coverage_simplify(metric.geometry.to_numpy(), tolerance_m)
    shapes = [(geom, by_code[str(code)]) for geom, code in zip(simple, metric["code"],
                                                               strict=True)
              if geom is not None and not geom.is_empty]
    return shapes, missing


# ---------------------------------------------------------------------------------------------
# Trend charts
def trend_chart(series: dict[str, Any], width: float, height: float = 135) -> Drawing:
    """Draw one source's monthly counts as bars; a month with no figure is a gap, not a zero.

    A hidden month (``count`` None) is left blank and marked with what it is shown as (e.g.
    ``<5`` for "fewer than 5"), or ``n/a`` when there is no figure at all.
    """
    months = series.get("months") or []
    drawing = Drawing(width, height)
    chart = VerticalBarChart()
    chart.x, chart.y = 42, 30
    chart.width, chart.height = width - 52, height - 44
    chart.data = [[m.get("count") for m in months]]
    chart.bars[0].fillColor = colors.HexColor("#3b6ea8")
    chart.bars[0].strokeColor = None
    chart.barSpacing = 1
    chart.groupSpacing = 2
    chart.valueAxis.valueMin = 0
    chart.valueAxis.labels.fontName = "Helvetica"
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.labelTextFormat = lambda v: f"{v:,.0f}"
    chart.valueAxis.gridStrokeColor = colors.HexColor("#dddddd")
    chart.valueAxis.visibleGrid = True
    chart.categoryAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "n"
    chart.categoryAxis.categoryNames = [_month_label(m.get("month", ""), i, len(months))
                                        for i, m in enumerate(months)]
    na = NA_Label()
    na.text = "gap"
    na.fontName = "Helvetica"
    na.fontSize = 6.5
    na.fillColor = GREY
    na.boxAnchor = "s"
    chart.naLabel = na
    if all(m.get("count") in (None, 0) for m in months):
        chart.valueAxis.valueMax = 5
    drawing.add(chart)
    drawing.add(String(chart.x + chart.width / 2, 2, "Month", fontName="Helvetica",
                       fontSize=8, fillColor=GREY, textAnchor="middle"))
    ytitle = Group(String(0, 0, "Count per month", fontName="Helvetica", fontSize=8,
                          fillColor=GREY, textAnchor="middle"))
    ytitle.translate(9, chart.y + chart.height / 2)
    ytitle.rotate(90)
    drawing.add(ytitle)
    return drawing


def _month_label(month: str, i: int, n: int) -> str:
    """Label every third month and the last ("Apr 2024"), leaving the rest blank."""
    if not (i % 3 == 0 or i == n - 1) or len(month) != 7:
        return ""
    try:
        return f"{date(int(month[:4]), int(month[5:]), 1):%b %Y}"
    except ValueError:
        return month


def _month_name(month: str) -> str:
    try:
        return f"{date(int(month[:4]), int(month[5:]), 1):%b %Y}"
    except ValueError:
        return month


# ---------------------------------------------------------------------------------------------
# Sections
def _title_block(body: dict[str, Any], produced: datetime) -> list[Flowable]:
    heads = body.get("headlines") or []
    period = PERIODS.get(body.get("period", ""), str(body.get("period", "")))
    phrase = heads[0].get("baseline_phrase") if heads else None
    compared = f", compared with {phrase}" if phrase else ""
    local = produced.astimezone(ZoneInfo(TIMEZONE))
    labels = {**SOURCE_LABELS, **{str(h.get("source")): str(h.get("label"))
                                  for h in heads if h.get("label")}}
    covered = _covered_phrase(body.get("currency") or [], labels)
    return [
        _p(TITLE, "title"),
        _p(_capital(str(body.get("area", "the whole area"))), "subtitle"),
        _p(f"Latest complete {period}{compared}."),
        _p(f"Produced {_day(local.date())} at {local:%H:%M} (UK time) from data covered to "
           f"{covered}.", "hint"),
    ]


def _covered_phrase(currency: list[dict[str, Any]], labels: dict[str, str]) -> str:
    """Say how far the sources' data go, grouping sources that end on the same day.

    Examples
    --------
    >>> print(_covered_phrase([{"source": "police", "covered_to": "2025-03-31"},
    ...                        {"source": "ed", "covered_to": "2025-03-31"},
    ...                        {"source": "ambulance", "covered_to": "2025-03-29"}],
    ...                       {"police": "Police-recorded incidents", "ed": "ED attendances",
    ...                        "ambulance": "Ambulance call-outs"}))
    31 March 2025 (police-recorded incidents and ED attendances) and 29 March 2025
    (ambulance call-outs)
    """
    days: dict[str, list[str]] = {}
    for c in currency:
        when = _iso_day(c.get("covered_to"))
        label = labels.get(str(c.get("source")), str(c.get("source", "")))
        # "Police-recorded incidents" reads "police-recorded incidents" mid-sentence; "ED" stays
        if label[1:2].islower():
            label = label[:1].lower() + label[1:]
        days.setdefault(when, []).append(label)
    if not days:
        return "no date (no source has data yet)"
    if len(days) == 1:
        return next(iter(days))
    words = [f"{when} ({_and(names)})" for when, names in days.items()]
    return _and(words)


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _headlines(body: dict[str, Any]) -> list[Flowable]:
    heads = body.get("headlines") or []
    out: list[Flowable] = [_p("Headlines", "h2")]
    if not heads:
        return [*out, _p("No data yet: no source has a complete period to report.")]
    rows: list[list[Any]] = [["Source", "Latest period", "Count", "Compared with", "Change",
                              "Rate per 1,000 residents"]]
    for h in heads:
        count = count_text(h.get("count"), h.get("count_shown_as"))
        base = count_text(h.get("baseline_count"), h.get("baseline_count_shown_as"))
        change = change_text(h)
        if h.get("change") is None and h.get("reason"):
            change += f": {h['reason']}"
        if h.get("small_number"):
            change += " (small numbers: may be chance)"
        rate = h.get("rate_per_1000")
        rows.append([Paragraph(plain(h.get("label", h.get("source", ""))), S["cell_bold"]),
                     h.get("period_label", ""),
                     Paragraph(plain(count), S["cell_bold"]),
                     f"{base} in {h.get('baseline_label', '')}", change,
                     rate_text(rate) if rate is not None else "no rate"])
    widths = [0.2, 0.13, 0.13, 0.18, 0.2, 0.16]
    out.append(_table(rows, [w * TEXT_W for w in widths]))
    out.append(Spacer(1, 6))
    out += _bullets([h.get("sentence", "") for h in heads])
    return out


def _targets(body: dict[str, Any]) -> list[Flowable]:
    out: list[Flowable] = [_p("Targets", "h2")]
    targets = body.get("targets")
    if targets is None:
        return [*out, _p(NOT_AVAILABLE, "hint")]
    if not targets:
        return [*out, _p("No targets are set (an administrator sets them in "
                         "board/targets.toml).", "hint")]
    rows: list[list[Any]] = [["Status", "Target", "Rule"]]
    tints = []
    for i, t in enumerate(targets, start=1):
        status = str(t.get("status", "none"))
        rows.append([Paragraph(plain(STATUS_MARKS.get(status, status.upper())),
                               S["cell_bold"]), t.get("sentence", ""), t.get("rule", "")])
        tints.append(("BACKGROUND", (0, i), (0, i), STATUS_TINTS.get(status, colors.white)))
    out.append(_table(rows, [0.16 * TEXT_W, 0.5 * TEXT_W, 0.34 * TEXT_W], extra=tints))
    return out


def _sentences(title: str, items: Any, empty: str) -> list[Flowable]:
    out: list[Flowable] = [_p(title, "h2")]
    if items is None:
        return [*out, _p(NOT_AVAILABLE, "hint")]
    return [*out, *(_bullets(items) or [_p(empty, "hint")])]


def _areas(body: dict[str, Any], boundaries: Any) -> list[Flowable]:
    out: list[Flowable] = [_p("Areas by rate", "h2")]
    areas = body.get("areas")
    if areas is None:
        return [*out, _p(NOT_AVAILABLE, "hint")]
    if not areas:
        return [*out, _p("No area figures: no source has a complete period.", "hint")]
    mapped = next((a for a in areas if a.get("source") == "police"), areas[0])
    rates = [r.get("rate_per_1000") for r in mapped.get("rows", [])]
    classes = rate_classes([r for r in rates if r is not None])
    hidden_as = next((r.get("count_shown_as") for a in areas for r in a.get("rows", [])
                      if r.get("count_shown_as")), "too small to show")
    out = _map(mapped, classes, boundaries, hidden_as, heading=out)
    for a in areas:
        out.append(_p(f"{a.get('label', a.get('source', ''))} by "
                      f"{a.get('level') or 'authority'}: "
                      f"{a.get('period_label', '')} against "
                      f"{a.get('baseline_label') or 'no baseline (not complete)'}",
                      "h3"))
        rows: list[list[Any]] = [["Area", "Count", "Baseline count", "Rate per 1,000",
                                  "Baseline rate", "Population",
                                  "Map class, notes" if a is mapped else "Notes"]]
        for r in a.get("rows", []):
            notes = []
            if a is mapped:
                cls = class_of(r.get("rate_per_1000"), classes)
                hidden = r.get("count") is None and bool(r.get("count_shown_as"))
                notes.append("S (not shown)" if hidden else f"class {cls.number}" if cls
                             else "\u2013 (no rate)")
            if r.get("small_number"):
                notes.append("small numbers")
            pop = r.get("population")
            rows.append([f"{r.get('name', '')} ({r.get('code', '')})",
                         count_text(r.get("count"), r.get("count_shown_as")),
                         count_text(r.get("baseline_count"), r.get("baseline_count_shown_as")),
                         rate_text(r.get("rate_per_1000")),
                         rate_text(r.get("baseline_rate_per_1000")),
                         f"{pop:,.0f}" if isinstance(pop, int | float) and pop == pop
                         else "unknown", "; ".join(notes)])
        if len(rows) == 1:
            rows.append(["No areas.", "", "", "", "", "", ""])
        out.append(_table(rows, [w * TEXT_W for w in (0.26, 0.13, 0.13, 0.1, 0.1, 0.11,
                                                      0.17)]))
    out.append(_p("Rates are per 1,000 residents, from the same counts as the table. "
                  "\u201cSmall numbers\u201d marks an area with fewer than 10 incidents in the "
                  "period or its baseline, where a change of a few incidents can be chance.",
                  "hint"))
    return out


def _map(mapped: dict[str, Any], classes: list[RateClass], boundaries: Any,
         hidden_as: str, heading: list[Flowable]) -> list[Flowable]:
    """Return the map with its heading (kept on one page), or say why there is none."""
    rows = mapped.get("rows", [])
    width = TEXT_W
    shapes, missing = _map_shapes(rows, boundaries, width * 0.66)
    title = (f"{mapped.get('label', 'Police-recorded incidents')} per 1,000 residents, "
             f"{mapped.get('period_label', '')}")
    if not shapes:
        why = ("no boundary polygons are loaded" if _boundary_frame(boundaries) is None
               else "no boundary polygon matches these areas' codes (the loaded boundaries "
               "are of another level)")
        return [*heading, _p(f"Map not available: {why}. The table below lists every area.",
                             "hint")]
    if len(rows) == 1:  # shading one area against itself says nothing
        return [*heading, _p("Map not drawn: one area only (the table below gives its "
                             "figures).", "hint")]
    xmin, ymin, xmax, ymax = _bounds([g for g, _ in shapes])
    aspect = (ymax - ymin) / max(xmax - xmin, 1.0)
    height = min(max(width * 0.66 * aspect + 16, 160.0), 12 * cm)
    out: list[Flowable] = [*heading, ChoroplethMap(shapes, classes, width, height, title,
                                                   hidden_as), Spacer(1, 16)]
    note = ("Shaded in classes of about equal numbers of areas; the number on each area is "
            "its class, also given in the table.")
    if missing:
        note += f" Not on the map (no polygon): {', '.join(str(m) for m in missing)}."
    out.append(_p(note, "hint"))
    return [KeepTogether(out)]


def _trends(body: dict[str, Any]) -> list[Flowable]:
    out: list[Flowable] = [_p("Monthly trend", "h2")]
    trend = body.get("trend")
    if trend is None:
        return [*out, _p(NOT_AVAILABLE, "hint")]
    if not trend:
        return [*out, _p("No source has complete months to chart.", "hint")]
    blocks: list[Flowable] = []
    for series in trend:
        months = series.get("months") or []
        # the section's heading stays on the page of its first chart
        block: list[Flowable] = [] if blocks else list(out)
        block.append(_p(f"{series.get('label', series.get('source', ''))}: count per month",
                        "h3"))
        if not months:
            block.append(_p("No complete months.", "hint"))
            blocks.append(KeepTogether(block))
            continue
        block.append(trend_chart(series, TEXT_W))
        gaps = [m for m in months if m.get("count") is None]
        span = f"{_month_name(months[0].get('month', ''))} to " \
               f"{_month_name(months[-1].get('month', ''))}"
        if gaps:
            hidden = [f"{_month_name(m.get('month', ''))} ({m.get('shown_as') or 'no figure'})"
                      for m in gaps]
            block.append(_p(f"{span}. Months marked \u201cgap\u201d have no bar because "
                            f"their count is not shown: {', '.join(hidden)}. A gap is not a "
                            "zero.", "hint"))
        else:
            block.append(_p(f"{span}. Every month has a count.", "hint"))
        blocks.append(KeepTogether(block))
    return blocks


def _activity(body: dict[str, Any]) -> list[Flowable]:
    out: list[Flowable] = [_p("Need against funded activity", "h2")]
    activity = body.get("activity")
    if activity is None:
        return [*out, _p(NOT_AVAILABLE, "hint")]
    if not activity:
        return [*out, _p("No areas to compare.", "hint")]
    in_words = any(r.get("words") for r in activity)
    rows: list[list[Any]] = [["Area", "Rate per 1,000", "Busiest places", "Zones",
                              "Funded activity", *(["In words"] if in_words else [])]]
    for r in activity:
        funded = "; ".join(
            f"{f.get('name', '')}: "
            + (f"\u00a3{f['funding_gbp']:,.0f}" if f.get("funding_gbp") is not None
               else "funding not stated")
            + (f", {f['hours_per_week']:,g} hours a week" if f.get("hours_per_week")
               is not None else "")
            for f in r.get("funded") or []) or "none funded"
        rows.append([f"{r.get('name', '')} ({r.get('code', '')})",
                     rate_text(r.get("rate_per_1000")),
                     f"{r['hotspot_cells']:,}" if r.get("hotspot_cells") is not None
                     else "no figure",
                     f"{r['zones']:,}" if r.get("zones") is not None else "no figure",
                     funded, *([r.get("words", "")] if in_words else [])])
    widths = ((0.17, 0.1, 0.1, 0.07, 0.24, 0.32) if in_words
              else (0.26, 0.12, 0.12, 0.09, 0.41))
    out.append(_table(rows, [w * TEXT_W for w in widths]))
    out.append(_p("Busiest places: how many of the whole area's busiest small places (H3 "
                  "cells) lie in each area. Zones: the saved zones there.", "hint"))
    return out


def _currency(body: dict[str, Any]) -> list[Flowable]:
    out: list[Flowable] = [_p("How current each source is", "h2")]
    items = body.get("currency")
    if items is None:
        return [*out, _p(NOT_AVAILABLE, "hint")]
    if not items:
        return [*out, _p("No source has data yet.", "hint")]
    lines = []
    for c in items:
        text = plain(c.get("sentence", ""))
        if c.get("late"):
            text = f"<b>LATE:</b> {text}"
        lines.append(Paragraph(text, S["bullet"], bulletText="\u2022"))
    return out + lines


def _sources_and_method(body: dict[str, Any], boundaries: Any,
                        produced: datetime) -> list[Flowable]:
    out: list[Flowable] = [_p("Sources and method", "h2")]
    labels = {h.get("source"): h.get("label") for h in body.get("headlines") or []}
    items = []
    for c in body.get("currency") or []:
        name = labels.get(c.get("source")) or c.get("source", "")
        items.append(f"{name}: data to {_iso_day(c.get('covered_to'))}, last batch arrived "
                     f"{_iso_day(c.get('arrived'))}, {c.get('cadence', '')} extracts.")
    source = getattr(boundaries, "source", "")
    if source:
        line = f"Boundaries: {source}"
        if "bundled" in source:
            line += (" (Office for National Statistics, Open Government Licence v3.0; contains "
                     "OS data \u00a9 Crown copyright and database right)")
        items.append(line + ".")
    population = getattr(boundaries, "population_source", None)
    if callable(population) and population():
        items.append(f"Rates per 1,000 residents use {population()}.")
    period = PERIODS.get(body.get("period", ""), str(body.get("period", "")))
    items.append(f"Figures: Hotspot's board view, the same as the /board page and "
                 f"/api/v1/board, for the latest complete {period} of each source "
                 f"(period={body.get('period')}, baseline={body.get('baseline')}"
                 + (f", baseline_year={body['baseline_year']}" if body.get("baseline_year")
                    else "")
                 + f", area: {body.get('area', 'the whole area')}).")
    items.append("Each change is the latest period's count less the baseline's, and its "
                 "percentage is of the baseline count; both are printed as the board view "
                 "gives them, never worked again here.")
    for t in body.get("targets") or []:
        if t.get("rule"):
            items.append(f"Target rule: {t['rule']}")
    if body.get("areas"):
        items.append("Map: areas shaded by their police-recorded rate per 1,000 residents in "
                     "up to five classes of about equal numbers of areas; hatched areas have "
                     "counts too small to show.")
    local = produced.astimezone(ZoneInfo(TIMEZONE))
    items.append(f"Produced by Hotspot on {_day(local.date())} at {local:%H:%M} (UK time).")
    out += _bullets(items)
    out.append(_p("Read with care", "h2"))
    caveats = body.get("caveats")
    if caveats is None:
        out.append(_p(NOT_AVAILABLE, "hint"))
    else:
        out += _bullets(caveats) or [_p("None.", "hint")]
    return out


# ---------------------------------------------------------------------------------------------
def board_pack_pdf(body: dict[str, Any], boundaries: Any,
                   produced_at: datetime | None = None) -> bytes:
    """Return the board pack for a board body as the bytes of an A4 PDF.

    Parameters
    ----------
    body : dict
        What :func:`dashboard.board.board` returns. ``headlines``, ``agreement``, ``targets``,
        ``currency`` and ``caveats`` are expected; ``areas``, ``changes``, ``trend`` and
        ``activity`` are drawn when present and said to be not available otherwise.
    boundaries : geo.boundaries.Boundaries or geopandas.GeoDataFrame or None
        The area polygons (EPSG:4326, columns ``code``, ``name``, ``geometry``) for the map;
        a :class:`~geo.boundaries.Boundaries` also names its source and populations.
    produced_at : datetime, optional
        When the pack is produced (timezone-aware; now by default). Printed in UK time.

    Returns
    -------
    bytes
        The PDF file.

    Examples
    --------
    >>> pdf = board_pack_pdf({"area": "the whole area", "period": "fyq", "headlines": [],
    ...                       "agreement": [], "targets": [], "currency": [], "caveats": [],
    ...                       "synthetic_sample": True}, None)
    >>> pdf[:5], pdf.rstrip()[-5:]
    (b'%PDF-', b'%%EOF')
    """
    produced = produced_at or datetime.now(UTC)
    if produced.tzinfo is None:
        raise ValueError("produced_at must be timezone-aware (e.g. datetime.now(UTC))")
    area = _capital(str(body.get("area", "the whole area")))
    local = produced.astimezone(ZoneInfo(TIMEZONE))
    footer = printable(f"{TITLE} \u00b7 {area} \u00b7 produced {_day(local.date())} "
                       f"{local:%H:%M}")
    story: list[Flowable] = []
    story += _title_block(body, produced)
    story += _headlines(body)
    story += _targets(body)
    story += _sentences("What changed", body.get("changes"), "Nothing to report.")
    story += _sentences("Do the sources agree?", body.get("agreement"),
                        "Only one source has a comparison, so there is nothing to agree.")
    story += _areas(body, boundaries)
    story += _trends(body)
    story += _activity(body)
    story += _currency(body)
    story += _sources_and_method(body, boundaries, produced)
    buf = io.BytesIO()
    top = MARGIN + (0.6 * cm if body.get("synthetic_sample") else 0)
    doc = SimpleDocTemplate(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN,
                            topMargin=top, bottomMargin=MARGIN, title=f"{TITLE}: {area}",
                            author="Hotspot", subject="Partnership board figures",
                            creator="Hotspot", lang="en-GB", displayDocTitle=True,
                            pageCompression=1)
    maker = partial(_PackCanvas, furniture=partial(
        _furniture, synthetic=bool(body.get("synthetic_sample")), footer=footer))
    doc.build(story, canvasmaker=maker)
    return buf.getvalue()
