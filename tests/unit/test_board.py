"""The board's headlines, sentences and currency, checked against figures worked out by hand."""

from __future__ import annotations

import doctest
from dataclasses import replace
from datetime import date, datetime

import numpy as np
import pytest
from numpy.testing import assert_allclose

from geo import board
from geo.board import Headline, area_changes, currency, headline, sentence, sources_agree
from geo.trends import to_day

#: Rates and percents are exact arithmetic on small integers; this only absorbs float rounding.
RTOL = 1e-12

POLICE = "Police-recorded serious violence"
BLACKPOOL = "E06000009"


def make(counts: dict[str, int], source: str = "police", area: str = BLACKPOOL):
    """Incidents: ``counts`` maps "YYYY-MM" (or a full ISO day) to how many rows fall in it."""
    day, src, where = [], [], []
    for when, n in counts.items():
        iso = when if len(when) == 10 else f"{when}-15"
        day += [to_day(iso)] * n
        src += [source] * n
        where += [area] * n
    return day, src, where


def join(*parts):
    day, src, where = [], [], []
    for d, s, w in parts:
        day += d
        src += s
        where += w
    return np.array(day, dtype=np.int64), np.array(src), np.array(where)


def quarter_data(aug_2023: int = 220):
    """Blackpool police: 653 in July-September 2023 and 612 in July-September 2024, then a
    part of October 2024; a neighbour's incidents that must not count."""
    return join(
        make({"2023-07": 200, "2023-08": aug_2023, "2023-09": 233}),
        make({"2024-07": 200, "2024-08": 210, "2024-09": 202, "2024-10-02": 150}),
        make({"2023-08": 7, "2024-08": 9}, area="E07000119"),
    )


def test_module_examples_run():
    result = doctest.testmod(board, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 15
    assert result.failed == 0


# --------------------------------------------------------------------------------------------
# Financial-year quarters and the latest complete period
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("covered_to", "label", "start", "end"),
    [
        ("2024-06-30", "2024/25 Q1", "2024-04-01", "2024-06-30"),
        ("2024-06-29", "2023/24 Q4", "2024-01-01", "2024-03-31"),
        ("2024-03-31", "2023/24 Q4", "2024-01-01", "2024-03-31"),
        ("2024-12-31", "2024/25 Q3", "2024-10-01", "2024-12-31"),
        ("2025-01-01", "2024/25 Q3", "2024-10-01", "2024-12-31"),
    ],
    ids=["Q1-is-April-to-June", "a-day-short-falls-back", "Q4-is-January-to-March",
         "Q3-is-October-to-December", "one-day-into-Q4"],
)
def test_latest_complete_financial_quarter(covered_to, label, start, end):
    day, src, _ = join(make({"2023-01": 1}))
    h = headline(day, src, "police", covered_to, period="fyq")
    assert (h.period_label, h.period_start, h.period_end) == (label, start, end)


def test_quarter_edges_count_the_right_days():
    # 31 March is the last day of Q4, 1 April the first of Q1; 30 June the last of Q1.
    day, src, _ = join(make({"2024-03-31": 1, "2024-04-01": 2, "2024-05-15": 4,
                             "2024-06-30": 8, "2024-07-01": 16}))
    h = headline(day, src, "police", "2024-07-01", period="fyq", baseline="previous")
    assert (h.period_label, h.count) == ("2024/25 Q1", 2 + 4 + 8)
    assert (h.baseline_label, h.baseline_count) == ("2023/24 Q4", 1)


def test_data_ending_mid_quarter_report_the_quarter_before():
    day, src, area = quarter_data()
    h = headline(day, src, "police", "2024-10-15", period="fyq", area=area, areas=[BLACKPOOL])
    # The 150 rows of 2 October belong to 2024/25 Q3, which the data cover only in part.
    assert h.period_label == "2024/25 Q2"
    assert (h.period_start, h.period_end) == ("2024-07-01", "2024-09-30")
    assert h.count == 200 + 210 + 202 == 612


# --------------------------------------------------------------------------------------------
# The headline and its sentence
# --------------------------------------------------------------------------------------------


def test_blackpool_headline_and_sentence():
    day, src, area = quarter_data()
    h = headline(day, src, "police", "2024-10-15", period="fyq", baseline="last_year",
                 area=area, areas=[BLACKPOOL], population={BLACKPOOL: 140_000})
    assert (h.count, h.baseline_count, h.change) == (612, 653, -41)
    assert (h.baseline_label, h.baseline_start, h.baseline_end) == (
        "2023/24 Q2", "2023-07-01", "2023-09-30")
    # -41 / 653 = -0.062787...
    assert_allclose(h.change_pct, -6.278713629402757, rtol=RTOL)
    # 612 and 653 per 140,000 residents, per 1,000: 4.3714... and 4.6642...
    assert_allclose(h.rate_per_1000, 612 / 140, rtol=RTOL)
    assert_allclose(h.baseline_rate_per_1000, 653 / 140, rtol=RTOL)
    assert (h.comparable, h.reason, h.small_number) == (True, "", False)
    assert sentence(h, POLICE, "Blackpool") == (
        "Police-recorded serious violence in Blackpool: 612 in 2024/25 Q2, down 41 "
        "(\u22126.3%) on 653 in the same quarter last year."
    )


def test_a_rise_and_no_change_in_words():
    day, src, _ = join(make({"2024-04": 110, "2024-05": 121, "2024-06": 121}))
    may = headline(day, src, "police", "2024-05-31", period="month", baseline="previous")
    assert sentence(may, POLICE, "Lancashire") == (
        "Police-recorded serious violence in Lancashire: 121 in May 2024, up 11 (+10.0%) on "
        "110 in the previous month."
    )
    june = headline(day, src, "police", "2024-06-30", period="month", baseline="previous")
    assert june.change == 0
    assert june.change_pct == 0.0
    assert sentence(june, POLICE, "Lancashire") == (
        "Police-recorded serious violence in Lancashire: 121 in June 2024, no change on 121 "
        "in the previous month."
    )


def test_a_month_missing_in_the_baseline_stops_the_comparison():
    # With none in Blackpool but 7 next door, August 2023's police extract exists: a real 0.
    day, src, area = quarter_data(aug_2023=0)
    h = headline(day, src, "police", "2024-10-15", period="fyq", area=area, areas=[BLACKPOOL])
    assert (h.comparable, h.baseline_count) == (True, 200 + 0 + 233)
    # With no police row anywhere in August 2023, the month is missing.
    day, src, area = join(
        make({"2023-07": 200, "2023-09": 233}),
        make({"2024-07": 200, "2024-08": 210, "2024-09": 202}),
    )
    h = headline(day, src, "police", "2024-10-15", period="fyq", area=area,
                 areas=[BLACKPOOL])
    assert (h.comparable, h.change, h.change_pct) == (False, None, None)
    assert (h.count, h.baseline_count) == (612, 433)
    assert h.reason == "the baseline 2023/24 Q2 has no data for August 2023"
    assert sentence(h, POLICE, "Blackpool") == (
        "Police-recorded serious violence in Blackpool: 612 in 2024/25 Q2; no comparison is "
        "made because the baseline 2023/24 Q2 has no data for August 2023."
    )


def test_data_starting_inside_the_baseline_stop_the_comparison():
    day, src, area = quarter_data()
    h = headline(day, src, "police", "2024-10-15", period="fyq", covered_from="2023-08-10")
    assert h.comparable is False
    assert h.reason == "the baseline 2023/24 Q2 has no data for July 2023 and August 2023"


def test_a_missing_month_in_the_current_period_is_named():
    day, src, _ = join(make({"2023-05": 40, "2024-04": 30, "2024-06": 30}))
    h = headline(day, src, "police", "2024-06-30", period="fyq")
    assert h.comparable is False
    assert h.reason == ("the period 2024/25 Q1 has no data for May 2024; the baseline "
                        "2023/24 Q1 has no data for April 2023 and June 2023")


def test_a_baseline_of_zero_gives_no_percentage():
    # Bury had none last May; Blackpool's rows show the police extract for May 2023 exists.
    day, src, area = join(make({"2023-05": 40, "2024-05": 41}),
                          make({"2024-05": 5}, area="BURY"))
    h = headline(day, src, "police", "2024-05-31", period="month", area=area,
                 areas=["BURY"])
    assert (h.count, h.baseline_count, h.change, h.change_pct) == (5, 0, 5, None)
    assert h.comparable and h.small_number
    assert sentence(h, POLICE, "Bury") == (
        "Police-recorded serious violence in Bury: 5 in May 2024, up 5 on 0 in the same month "
        "last year (no percentage can be given from 0). These are small numbers (under 10), "
        "so the change may be chance."
    )


def test_twelve_months_to_date_against_the_twelve_before():
    year1 = {f"{2023 + (m > 12)}-{(m - 1) % 12 + 1:02d}": 10 for m in range(7, 19)}
    year2 = {f"{2024 + (m > 12)}-{(m - 1) % 12 + 1:02d}": 12 for m in range(7, 19)}
    day, src, _ = join(make(year1), make(year2), make({"2025-07-02": 99}))
    for baseline in ("last_year", "previous"):
        h = headline(day, src, "police", "2025-07-03", period="12m", baseline=baseline)
        assert h.period_label == "12 months to June 2025"
        assert (h.period_start, h.period_end) == ("2024-07-01", "2025-06-30")
        assert (h.baseline_label, h.baseline_start, h.baseline_end) == (
            "12 months to June 2024", "2023-07-01", "2024-06-30")
        assert (h.count, h.baseline_count, h.change) == (144, 120, 24)
        assert_allclose(h.change_pct, 20.0, rtol=RTOL)
        assert sentence(h, POLICE, "Lancashire") == (
            "Police-recorded serious violence in Lancashire: 144 in the 12 months to June "
            "2025, up 24 (+20.0%) on 120 in the previous 12 months."
        )


@pytest.mark.parametrize(
    ("period", "covered_to", "label", "base_label", "base_start", "base_end"),
    [
        ("month", "2024-06-30", "June 2024", "May 2024", "2024-05-01", "2024-05-31"),
        ("month", "2024-03-31", "March 2024", "February 2024", "2024-02-01", "2024-02-29"),
        ("fyq", "2024-09-30", "2024/25 Q2", "2024/25 Q1", "2024-04-01", "2024-06-30"),
        ("fyq", "2024-06-30", "2024/25 Q1", "2023/24 Q4", "2024-01-01", "2024-03-31"),
    ],
    ids=["month", "month-into-leap-February", "quarter", "quarter-across-the-year-end"],
)
def test_previous_baseline_is_the_equal_period_just_before(period, covered_to, label,
                                                           base_label, base_start, base_end):
    day, src, _ = join(make({"2023-01": 1}))
    h = headline(day, src, "police", covered_to, period=period, baseline="previous")
    assert (h.period_label, h.baseline_label, h.baseline_start, h.baseline_end) == (
        label, base_label, base_start, base_end)
    # Immediately before: the baseline ends the day before the period starts.
    assert to_day(h.baseline_end) + 1 == to_day(h.period_start)


@pytest.mark.parametrize(
    ("period", "covered_to", "base_label", "base_start", "base_end", "phrase"),
    [
        ("fyq", "2024-09-30", "2019/20 Q2", "2019-07-01", "2019-09-30",
         "2019/20 Q2 (the baseline year 2019/20)"),
        ("month", "2025-02-28", "February 2020", "2020-02-01", "2020-02-29",
         "February 2020 (the baseline year 2019/20)"),
        ("12m", "2025-06-30", "2019/20", "2019-04-01", "2020-03-31",
         "2019/20 (the baseline year)"),
    ],
    ids=["same-quarter", "same-month-in-the-years-second-calendar-year", "whole-year"],
)
def test_named_baseline_year(period, covered_to, base_label, base_start, base_end, phrase):
    day, src, _ = join(make({"2019-01": 1}))
    h = headline(day, src, "police", covered_to, period=period, baseline="baseline_year",
                 baseline_year=2019)
    assert (h.baseline_label, h.baseline_start, h.baseline_end, h.baseline_phrase) == (
        base_label, base_start, base_end, phrase)


def test_a_baseline_year_must_be_named_and_earlier():
    day, src, _ = join(make({"2024-01": 1}))
    with pytest.raises(ValueError, match="needs the financial year"):
        headline(day, src, "police", "2025-06-30", baseline="baseline_year")
    with pytest.raises(ValueError, match="not before"):
        headline(day, src, "police", "2025-06-30", period="12m", baseline="baseline_year",
                 baseline_year=2024)
    with pytest.raises(ValueError, match="not a board period"):
        headline(day, src, "police", "2025-06-30", period="week")


def test_each_source_has_its_own_latest_complete_period():
    day, src, _ = join(make({"2024-04": 3, "2024-07": 3}, source="police"),
                       make({"2024-04": 3, "2024-07": 3}, source="ed"))
    hs = board.headlines(day, src, {"police": "2024-09-30", "ed": "2024-08-31"})
    assert [(h.source, h.period_label) for h in hs] == [("police", "2024/25 Q2"),
                                                        ("ed", "2024/25 Q1")]
    # `until` puts both sources on one quarter.
    hs = board.headlines(day, src, {"police": "2024-09-30", "ed": "2024-08-31"},
                         until="2024-08-31")
    assert [h.period_label for h in hs] == ["2024/25 Q1", "2024/25 Q1"]


# --------------------------------------------------------------------------------------------
# Suppression and rates
# --------------------------------------------------------------------------------------------


def month_headline(count: int, base: int) -> Headline:
    day, src, area = join(make({"2023-05": base, "2024-05": count}),
                          make({"2023-05": 1, "2024-05": 1}, area="ELSEWHERE"))
    return headline(day, src, "police", "2024-05-31", period="month", area=area,
                    areas=[BLACKPOOL])


@pytest.mark.parametrize(
    ("count", "base", "expected"),
    [
        (3, 12, "fewer than 5 in May 2024, down on 12 in the same month last year."),
        (12, 4, "12 in May 2024, up on fewer than 5 in the same month last year."),
        (1, 4, "fewer than 5 in May 2024, against fewer than 5 in the same month last year."),
        (5, 12, "5 in May 2024, down 7 (\u221258.3%) on 12 in the same month last year."),
        (0, 12, "0 in May 2024, down 12 (\u2212100.0%) on 12 in the same month last year."),
    ],
    ids=["count-hidden", "baseline-hidden", "both-hidden", "five-shown", "zero-shown"],
)
def test_suppression_of_one_to_four(count, base, expected):
    h = month_headline(count, base)
    assert (h.count, h.baseline_count) == (count, base)
    caution = " These are small numbers (under 10), so the change may be chance."
    assert sentence(h, "Violence", "Blackpool", suppress_below=5) == (
        f"Violence in Blackpool: {expected}{caution}")


def test_without_suppression_small_counts_are_shown_with_the_caution():
    h = month_headline(3, 12)
    assert sentence(h, "Violence", "Blackpool") == (
        "Violence in Blackpool: 3 in May 2024, down 9 (\u221275.0%) on 12 in the same month "
        "last year. These are small numbers (under 10), so the change may be chance.")


def test_rates_need_every_chosen_area_to_have_a_population():
    day, src, area = join(make({"2023-05": 20, "2024-05": 30}),
                          make({"2023-05": 10, "2024-05": 10}, area="BURY"))
    both = headline(day, src, "police", "2024-05-31", period="month", area=area,
                    areas=[BLACKPOOL, "BURY"], population={BLACKPOOL: 8000, "BURY": 2000})
    # 40 and 30 incidents among 10,000 residents: 4.0 and 3.0 per 1,000.
    assert both.population == 10_000
    assert_allclose([both.rate_per_1000, both.baseline_rate_per_1000], [4.0, 3.0], rtol=RTOL)
    part = headline(day, src, "police", "2024-05-31", period="month", area=area,
                    areas=[BLACKPOOL, "BURY"], population={BLACKPOOL: 8000})
    assert (part.population, part.rate_per_1000, part.baseline_rate_per_1000) == (
        None, None, None)
    assert (part.count, part.baseline_count) == (40, 30)
    everywhere = headline(day, src, "police", "2024-05-31", period="month")
    assert everywhere.rate_per_1000 is None


def test_month_only_rows_count_in_their_month():
    # Two police.uk rows with only a month (their day is unknown).
    day = np.array([to_day("2024-04-15"), -1, -1])
    first = np.array([-1, to_day("2024-05-01"), to_day("2024-05-01")])
    h = headline(day, ["police"] * 3, "police", "2024-05-31", period="month",
                 baseline="previous", month_first=first, month_only=[False, True, True])
    assert (h.count, h.baseline_count, h.change) == (2, 1, 1)


# --------------------------------------------------------------------------------------------
# What changed
# --------------------------------------------------------------------------------------------


def areas_data():
    return join(
        make({"2024-05": 20, "2024-04": 10}, area="A"),
        make({"2024-05": 5, "2024-04": 15}, area="B"),
        make({"2024-05": 100}, area="C"),
        make({"2024-05": 40, "2024-04": 36}, area="D"),
    )


NAMES = {"A": "Avon", "B": "Bury", "C": "Crewe", "D": "Derby"}
POPS = {"A": 2000, "B": 1000, "C": None, "D": 4000}


def test_areas_that_rose_and_fell_most_by_rate():
    day, src, area = areas_data()
    h = headline(day, src, "police", "2024-05-31", period="month", baseline="previous")
    # Rates per 1,000: Avon 10.0 from 5.0 (+5), Bury 5.0 from 15.0 (-10), Derby 10.0 from 9.0
    # (+1). Crewe rose most in count but has no population, so it is not compared.
    got = area_changes(h, "Police-recorded violence", day, src, area, list(NAMES), NAMES, POPS)
    assert got == (
        "Police-recorded violence rose most by rate in Avon: 10.00 per 1,000 residents in "
        "May 2024 against 5.00 in the previous month (20 against 10).",
        "Police-recorded violence fell most by rate in Bury: 5.00 per 1,000 residents in "
        "May 2024 against 15.00 in the previous month (5 against 15). Small numbers "
        "(under 10): this may be chance.",
    )
    two = area_changes(h, "Violence", day, src, area, list(NAMES), NAMES, POPS, top=2)
    assert [s.split(":")[0] for s in two] == [
        "Violence rose most by rate in Avon", "Violence rose most by rate in Derby",
        "Violence fell most by rate in Bury"]
    hidden = area_changes(h, "Violence", day, src, area, list(NAMES), NAMES, POPS,
                          suppress_below=6)
    # Bury's 5 is hidden below 6, so it is not ranked at all (ranking it would tell that
    # it fell most); no other area with a known population fell.
    assert hidden == (
        "Violence rose most by rate in Avon: 10.00 per 1,000 residents in May 2024 against "
        "5.00 in the previous month (20 against 10).",
        "No area whose counts can be shown saw a fall in the rate of violence (1 area has "
        "counts too small to show and is not ranked).")
    for text in got + two + hidden:
        assert "significant" not in text


def test_no_area_comparison_without_populations_or_comparable_periods():
    day, src, area = areas_data()
    h = headline(day, src, "police", "2024-05-31", period="month", baseline="previous")
    pops = {**POPS, "D": None}
    assert area_changes(h, "Violence", day, src, area, ["C", "D"], NAMES, pops) == (
        "No area can be compared by rate for violence: no area has a known population.",)
    # one area: its headline says how it moved, so no sentence ranks it against itself
    assert area_changes(h, "Violence", day, src, area, ["A"], NAMES, POPS) == ()
    h = headline(day, src, "police", "2024-05-31", period="month", baseline="last_year")
    assert area_changes(h, "Violence", day, src, area, list(NAMES), NAMES, POPS) == (
        "No area comparison for violence: the baseline May 2023 has no data.",)


def quarter(source: str, base: int, count: int):
    """``base`` rows in July-September 2023 and ``count`` in July-September 2024."""
    def spread(total: int, year: int) -> dict[str, int]:
        third = total // 3
        return {f"{year}-07": third, f"{year}-08": third, f"{year}-09": total - 2 * third}
    return make(spread(base, 2023) | spread(count, 2024), source=source)


LABELS = {"ed": "ED assault attendances", "police": "Police-recorded violence",
          "ambulance": "Ambulance call-outs"}


def test_sources_agree_in_words():
    day, src, _ = join(quarter("ed", 100, 89), quarter("police", 100, 97))
    hs = board.headlines(day, src, {"ed": "2024-10-31", "police": "2024-10-31"})
    assert [(h.change, round(h.change_pct, 6)) for h in hs] == [(-11, -11.0), (-3, -3.0)]
    assert sources_agree(hs, LABELS) == (
        "ED assault attendances fell 11% while police-recorded violence fell 3%, against the "
        "same quarter last year: both fell.",)


def test_sources_that_disagree_or_cannot_be_compared_are_said_so():
    day, src, _ = join(quarter("ed", 100, 89), quarter("police", 100, 97),
                       quarter("ambulance", 50, 60), make({"2024-08": 2}, source="ambulance"))
    covered = {"ed": "2024-10-31", "police": "2024-10-31", "ambulance": "2024-10-31"}
    hs = board.headlines(day, src, covered)
    # Ambulance: 50 -> 62 is +24%.
    assert sources_agree(hs, LABELS) == (
        "ED assault attendances fell 11%, police-recorded violence fell 3% and ambulance "
        "call-outs rose 24%, against the same quarter last year: the sources do not agree on "
        "the direction.",)
    day, src, _ = join(quarter("ed", 100, 89), quarter("police", 100, 97),
                       make({"2024-08": 30}, source="ambulance"))
    hs = board.headlines(day, src, covered)
    assert sources_agree(hs, LABELS) == (
        "ED assault attendances fell 11% while police-recorded violence fell 3%, against the "
        "same quarter last year: both fell.",
        "Ambulance call-outs cannot be compared: the period 2024/25 Q2 has no data for July "
        "2024 and September 2024; the baseline 2023/24 Q2 has no data.",
    )


def test_sources_on_different_quarters_name_their_periods():
    day, src, _ = join(quarter("ed", 100, 89), quarter("police", 100, 97),
                       make({"2024-04": 20, "2024-05": 20, "2024-06": 20, "2023-04": 10,
                             "2023-05": 10, "2023-06": 10}, source="police"))
    hs = board.headlines(day, src, {"ed": "2024-09-30", "police": "2024-08-31"})
    what = board.what_changed(hs, LABELS, day, src, np.array([BLACKPOOL] * day.size),
                              [BLACKPOOL], {BLACKPOOL: "Blackpool"}, {BLACKPOOL: 1000})
    assert what.agreement == (
        "ED assault attendances fell 11% (2024/25 Q2 against 2023/24 Q2) while "
        "police-recorded violence rose 100% (2024/25 Q1 against 2023/24 Q1): the sources do "
        "not agree on the direction.",)
    # one area: its headlines say how it moved, so no sentence ranks it against itself
    assert what.areas == ()
    assert what.sentences == what.areas + what.agreement


# --------------------------------------------------------------------------------------------
# Data currency
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cadence", "arrived", "expected", "last_on_time", "first_late"),
    [
        ("daily", date(2024, 10, 1), date(2024, 10, 2), date(2024, 10, 3), date(2024, 10, 4)),
        ("weekly", date(2024, 10, 1), date(2024, 10, 8), date(2024, 10, 9),
         date(2024, 10, 10)),
        ("monthly", date(2024, 10, 3), date(2024, 11, 3), date(2024, 11, 8),
         date(2024, 11, 9)),
        ("monthly", date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 5), date(2024, 3, 6)),
    ],
    ids=["daily-grace-1-day", "weekly-grace-1-day", "monthly-grace-5-days",
         "monthly-from-31-January"],
)
def test_currency_lateness_by_cadence(cadence, arrived, expected, last_on_time, first_late):
    def judged(now):
        return currency({"s": "2024-09-30"}, {"s": arrived}, {"s": cadence}, now)[0]

    on_time = judged(last_on_time)
    assert (on_time.next_expected, on_time.late, on_time.days_late) == (expected, False, 0)
    late = judged(first_late)
    assert (late.next_expected, late.late, late.days_late) == (expected, True, 1)
    assert late.sentence.endswith("Late by 1 day.")
    # A datetime now is judged by its date.
    assert judged(datetime(first_late.year, first_late.month, first_late.day, 0, 1)).late


def test_currency_sentence_and_order():
    got = currency(
        {"police": "2024-10-06", "ed": "2024-09-30"},
        {"police": datetime(2024, 10, 7, 6, 30), "ed": date(2024, 10, 3)},
        {"police": "daily", "ed": "monthly"},
        now=date(2024, 10, 7),
        source_labels={"police": "Police data", "ed": "ED data"},
    )
    assert [c.source for c in got] == ["police", "ed"]
    assert got[0].covered_to == date(2024, 10, 6)
    assert got[0].arrived == date(2024, 10, 7)
    assert got[0].sentence == (
        "Police data cover to 6 October 2024; the last batch arrived on 7 October 2024 and "
        "the next is expected by 8 October 2024 (daily).")
    assert got[1].late is False


def test_currency_rejects_an_unknown_cadence_or_arrival():
    with pytest.raises(ValueError, match="cadence"):
        currency({"s": "2024-09-30"}, {"s": date(2024, 10, 1)}, {"s": "hourly"},
                 date(2024, 10, 2))
    with pytest.raises(ValueError, match="no arrival"):
        currency({"s": "2024-09-30"}, {}, {"s": "daily"}, date(2024, 10, 2))


def _head(count: int, base: int, comparable: bool = True) -> board.Headline:
    change = count - base
    return board.Headline("police", "fyq", "last_year", "2024/25 Q2", "2023/24 Q2",
                          "the same quarter last year", "2024-07-01", "2024-09-30",
                          "2023-07-01", "2023-09-30", count, base,
                          change if comparable else None,
                          100 * change / base if comparable and base else None, None, None,
                          None, comparable, "" if comparable else "the quarter is not complete",
                          False)


@pytest.mark.parametrize(("count", "base", "status"), [
    (90, 100, "green"),  # down 10%: exactly the target
    (91, 100, "amber"),  # down 9%: within 5 points
    (95, 100, "amber"),  # down 5%: the edge of amber
    (96, 100, "red"),  # down 4%
    (120, 100, "red"),  # up 20%
])
def test_a_target_is_green_amber_or_red_by_its_rule(count, base, status):
    got = board.target_status(board.Target("Down 10%", "police", 10.0, 5.0), _head(count, base))
    assert got.status == status
    assert got.rule == ("Green when down at least 10% on the same quarter last year; amber "
                        "when down at least 5%; red otherwise.")


def test_a_target_has_no_status_without_a_comparison():
    got = board.target_status(board.Target("Down 10%", "police", 10.0),
                              _head(90, 100, comparable=False))
    assert got.status == "none"
    assert got.sentence == "Down 10%: no status, because the quarter is not complete."
    zero = board.target_status(board.Target("Down 10%", "police", 10.0), _head(5, 0))
    assert zero.status == "none" and "baseline is 0" in zero.sentence


def test_a_disclosed_headline_with_a_hidden_count_gives_only_the_direction():
    # as the query layer discloses it for a board: comparable, counts kept, change withheld
    h = Headline("ed", "month", "previous", "May 2024", "April 2024", "the previous month",
                 "2024-05-01", "2024-05-31", "2024-04-01", "2024-04-30", 3, 12, None, None,
                 None, None, None, True, "", True)
    text = sentence(h, "ED attendances", "Preston", suppress_below=5)
    assert text.startswith("ED attendances in Preston: fewer than 5 in May 2024, down on 12 "
                           "in the previous month.")
    assert "because" not in text and "9" not in text
    both = replace(h, baseline_count=2)
    assert sentence(both, "ED attendances", "Preston", suppress_below=5).startswith(
        "ED attendances in Preston: fewer than 5 in May 2024, against fewer than 5 in the "
        "previous month.")


def test_when_every_area_moved_one_way_the_other_way_is_said():
    day, src, area = areas_data()
    h = headline(day, src, "police", "2024-05-31", period="month", baseline="previous")
    # Avon 5.0 -> 10.0 and Derby 9.0 -> 10.0 per 1,000: both rose
    got = area_changes(h, "Violence", day, src, area, ["A", "D"], NAMES, POPS)
    assert got[0].startswith("Violence rose most by rate in Avon: ")
    assert got[-1] == "No area's rate of violence fell."
