"""The board pack renderer on hand-made bodies: every section, and none of the optional ones."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime

import pytest

from dashboard.board_pack import board_pack_pdf, change_text, class_of, rate_classes

pypdf = pytest.importorskip("pypdf")

PRODUCED = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
#: Bundled Lancashire authorities the hand-made rows use.
RATES = {"E06000008": ("Blackburn with Darwen", 612, 580, 4.08),
         "E06000009": ("Blackpool", 901, 950, 6.51),
         "E07000117": ("Burnley", None, None, None),  # hidden: fewer than 5
         "E07000118": ("Chorley", 240, 260, 2.02),
         "E07000119": ("Fylde", 97, 90, 1.19),
         "E07000120": ("Hyndburn", 310, 300, 3.82),
         "E07000123": ("Preston", 777, 801, 5.39),
         "E07000124": ("Ribble Valley", 8, 12, None)}  # no population: no rate


def _headline(source: str, label: str, count: int | None, base: int | None,
              sentence: str, **extra) -> dict:
    change = None if count is None or base is None else count - base
    return {"source": source, "label": label, "period_label": "2024/25 Q4",
            "baseline_label": "2023/24 Q4", "baseline_phrase": "the same quarter last year",
            "count": count, "baseline_count": base, "change": change,
            "change_pct": None if change is None else 100 * change / base,
            "rate_per_1000": 3.4567 if count else None, "comparable": change is not None,
            "reason": "" if change is not None else "the count is too small to compare",
            "small_number": count is not None and count < 10, "sentence": sentence, **extra}


def minimal_body() -> dict:
    """A body with only the keys the board gives today (no areas, changes, trend, activity)."""
    return {
        "period": "fyq", "baseline": "last_year", "baseline_year": None,
        "area": "the whole area",
        "headlines": [
            _headline("police", "Police-recorded incidents", 1201, 1219,
                      "Police-recorded incidents in the whole area: 1,201 in 2024/25 Q4, down "
                      "18 (\u22121.5%) on 1,219 in the same quarter last year."),
            _headline("ed", "ED attendances", None, 7,
                      "ED attendances in the whole area: fewer than 5 in 2024/25 Q4.",
                      count_shown_as="fewer than 5"),
        ],
        "agreement": ["Only police-recorded incidents can be compared."],
        "targets": [{"name": "Violence down 10%", "source": "police", "status": "red",
                     "sentence": "Violence down 10%: down 1.5%, short of the 10% target.",
                     "rule": "Green when down at least 10% on the same quarter last year; "
                             "amber within 5 points; red otherwise."},
                    {"name": "ED down 1%", "source": "ed", "status": "none",
                     "sentence": "ED down 1%: no status, the count is too small.",
                     "rule": "Green when down at least 1%."}],
        "currency": [{"source": "police", "covered_to": "2025-03-31", "arrived": "2025-04-20",
                      "next_expected": "2025-05-20", "cadence": "monthly", "late": True,
                      "days_late": 30,
                      "sentence": "Police-recorded incidents cover to 31 March 2025; the next "
                                  "batch was expected by 20 May 2025 and is 30 days late."},
                     {"source": "ed", "covered_to": "2025-03-31", "arrived": "2025-04-20",
                      "next_expected": "2025-05-20", "cadence": "monthly", "late": False,
                      "days_late": 0,
                      "sentence": "ED attendances cover to 31 March 2025."}],
        "caveats": ["No figure here is a test of significance."],
        "synthetic_sample": True,
    }


def full_body() -> dict:
    """The minimal body plus every optional key, with a hidden area and a hidden month."""
    body = minimal_body()

    def rows(scale: float) -> list[dict]:
        out = []
        for code, (name, count, base, rate) in RATES.items():
            count = None if count is None else round(count * scale)
            row = {"code": code, "name": name, "count": count, "baseline_count": base,
                   "rate_per_1000": None if rate is None else round(rate * scale, 2),
                   "baseline_rate_per_1000": None, "population": 100000.0,
                   "small_number": count is not None and count < 10}
            if count is None:
                row["count_shown_as"] = row["baseline_count_shown_as"] = "fewer than 5"
            if code == "E07000124":
                row["population"] = None
            out.append(row)
        return sorted(out, key=lambda r: -(r["rate_per_1000"] or -1))

    body["areas"] = [{"source": "police", "label": "Police-recorded incidents",
                      "level": "authority", "period_label": "2024/25 Q4",
                      "baseline_label": "2023/24 Q4", "rows": rows(1.0)},
                     {"source": "ed", "label": "ED attendances", "level": "authority",
                      "period_label": "2024/25 Q4", "baseline_label": "2023/24 Q4",
                      "rows": rows(0.1)}]
    body["changes"] = ["Blackpool fell most: down 49 on the same quarter last year.",
                       "Preston rose out of the top three."]
    months = [f"{y}-{m:02d}" for y, m in [(2023, m) for m in range(4, 13)]
              + [(2024, m) for m in range(1, 13)] + [(2025, m) for m in range(1, 4)]]
    body["trend"] = [{"source": "police", "label": "Police-recorded incidents",
                      "months": [{"month": m, "count": 380 + 7 * (i % 5)}
                                 for i, m in enumerate(months)]},
                     {"source": "ed", "label": "ED attendances",
                      "months": [{"month": m, "count": None, "shown_as": "fewer than 5"}
                                 if m == "2024-06" else {"month": m, "count": 20 + i % 4}
                                 for i, m in enumerate(months)]}]
    body["activity"] = [{"code": "E06000009", "name": "Blackpool", "rate_per_1000": 6.51,
                         "hotspot_cells": 12, "zones": 2,
                         "funded": [{"name": "Street triage", "funding_gbp": 48000,
                                     "hours_per_week": 30}]},
                        {"code": "E07000123", "name": "Preston", "rate_per_1000": 5.39,
                         "hotspot_cells": 9, "zones": 0, "funded": []}]
    return body


@pytest.fixture(scope="module")
def boundaries():
    from geo.boundaries import load_boundaries

    return load_boundaries(None)


def pages_text(pdf: bytes) -> list[str]:
    """Each page's text with runs of white space made one space (lines wrap anywhere)."""
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return [re.sub(r"\s+", " ", p.extract_text()) for p in reader.pages]


def test_every_section_is_drawn_from_a_full_body(boundaries):
    body = full_body()
    pdf = board_pack_pdf(body, boundaries, produced_at=PRODUCED)
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = pages_text(pdf)
    text = " ".join(pages)
    assert 2 <= len(pages) <= 8, len(pages)
    for n, page in enumerate(pages, start=1):
        assert "SYNTHETIC SAMPLE DATA" in page and f"Page {n} of {len(pages)}" in page
    assert "Partnership board pack" in pages[0] and "The whole area" in pages[0]
    # produced in UK time (GMT in December), from data covered to the sources' last day
    assert "Produced 2 December 2026 at 14:05 (UK time) from data covered to 31 March 2025" \
        in pages[0]
    for h in body["headlines"]:
        assert h["sentence"] in text
    assert "1,201" in text and "\u25bc down 18 (\u22121.5%)" in text
    assert "\u274d RED" in text and "\u2013 NO STATUS" in text
    assert "LATE: Police-recorded incidents cover to 31 March 2025" in text
    for s in body["changes"] + body["agreement"] + body["caveats"]:
        assert s in text
    assert "Not available" not in text
    # the map's legend and the area table agree: classes, the hidden area, no rate
    assert "Police-recorded incidents per 1,000 residents" in text
    assert "Burnley (E07000117) fewer than 5 fewer than 5 no rate no rate 100,000 S (not " \
        "shown)" in text
    assert "Blackpool (E06000009) 901 950 6.51 no rate 100,000 class 4" in text
    assert "Ribble Valley (E07000124) 8 12 no rate no rate unknown \u2013 (no rate); small " \
        "numbers" in text
    assert "hatched: count fewer than 5, not shown" in text
    # the trend charts and their gap, said in words
    assert "Police-recorded incidents: count per month" in text
    assert "Jun 2024 (fewer than 5)" in text and "A gap is not a zero" in text
    assert "Street triage: \u00a348,000, 30 hours a week" in text and "none funded" in text


def test_a_body_without_the_optional_keys_says_what_is_not_available(boundaries):
    pdf = board_pack_pdf(minimal_body(), boundaries, produced_at=PRODUCED)
    pages = pages_text(pdf)
    text = " ".join(pages)
    assert 1 <= len(pages) <= 4
    for title in ("What changed", "Areas by rate", "Monthly trend",
                  "Need against funded activity"):
        start = text.index(title)
        assert "Not available" in text[start:start + len(title) + 80], title
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    # a hidden headline count is printed as what it is shown as, with no change worked out
    assert "ED attendances 2024/25 Q4 fewer than 5" in text
    assert "no comparison: the count is too small to compare" in text


def test_a_real_sample_is_not_labelled_synthetic(boundaries):
    body = minimal_body() | {"synthetic_sample": False}
    text = " ".join(pages_text(board_pack_pdf(body, boundaries, produced_at=PRODUCED)))
    assert "SYNTHETIC" not in text


def test_a_map_without_matching_polygons_says_so(boundaries):
    body = full_body()
    for a in body["areas"]:
        a["level"] = "ward"
        for r in a["rows"]:
            r["code"] = "W" + r["code"]
    text = " ".join(pages_text(board_pack_pdf(body, boundaries, produced_at=PRODUCED)))
    assert "Map not available: no boundary polygon matches these areas' codes" in text


def test_the_change_is_printed_with_an_arrow_and_a_word():
    assert change_text({"change": 42, "change_pct": 24.70588}) == "\u25b2 up 42 (+24.7%)"
    assert change_text({"change": 0, "change_pct": 0.0}) == "\u2192 no change 0 (+0.0%)"


@pytest.mark.parametrize("rates,expected", [
    ([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], 5),
    ([3.0, 3.0, 3.0, 3.0], 1),
    ([1.0, 1.0, 9.0], 2),
], ids=["ten-rates-five-classes", "all-equal-one-class", "ties-share-a-class"])
def test_rate_classes_hold_every_rate_once(rates, expected):
    classes = rate_classes(rates)
    assert len(classes) == expected
    assert classes[0].low == min(rates) and classes[-1].high == max(rates)
    assert all(a.high < b.low for a, b in zip(classes, classes[1:], strict=False))


def test_rates_printed_alike_share_a_class():
    # 1.857 and 1.862 both print as 1.86: the table must not show them in two classes
    classes = rate_classes([1.857, 1.862, 3.0, 4.0, 5.0])
    assert (classes[0].low, classes[0].high) == (1.86, 1.86)
    assert class_of(1.857, classes) is class_of(1.862, classes) is classes[0]


def test_a_naive_production_time_is_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        board_pack_pdf(minimal_body(), None, produced_at=datetime(2026, 12, 2, 14, 5))


def test_module_examples_run():
    import doctest

    from dashboard import board_pack

    result = doctest.testmod(board_pack, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 8
    assert result.failed == 0


def _awkward(name: str) -> dict:
    body = full_body()
    if name == "every-month-hidden":
        body["trend"][0]["months"] = [{"month": m["month"], "count": None,
                                       "shown_as": "fewer than 5"}
                                      for m in body["trend"][0]["months"]]
    elif name == "no-rows-or-months":
        body["areas"][0]["rows"], body["trend"][0]["months"] = [], []
    elif name == "no-rates":
        for r in body["areas"][0]["rows"]:
            r["rate_per_1000"] = None
    elif name == "one-area":
        for table in body["areas"]:
            table["rows"] = table["rows"][:1]
    elif name == "nothing-at-all":
        body = minimal_body() | {"headlines": [], "currency": [], "targets": [],
                                 "agreement": []}
    elif name == "welsh-and-markup-in-the-name":
        body["area"] = "Ynys Môn & <Tŵr>"
    return body


@pytest.mark.parametrize("name", ["every-month-hidden", "no-rows-or-months", "no-rates", "one-area",
                                  "nothing-at-all", "welsh-and-markup-in-the-name"])
def test_awkward_bodies_still_make_a_readable_pack(boundaries, name):
    pages = pages_text(board_pack_pdf(_awkward(name), boundaries, produced_at=PRODUCED))
    assert pages[0].startswith("Partnership board pack")
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    if name == "welsh-and-markup-in-the-name":
        assert "Ynys Môn & <Twr>" in pages[0]  # printed as text, the ŵ without its accent
    if name == "one-area":
        assert "Map not drawn: one area only" in " ".join(pages)
    if name == "nothing-at-all":
        assert "No data yet" in pages[0] and "no date (no source has data yet)" in pages[0]
