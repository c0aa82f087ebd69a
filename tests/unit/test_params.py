"""Query parameters to the engine's typed parameters (dashboard/params.py)."""

from __future__ import annotations

from datetime import date

import pytest

from dashboard.params import (
    parse_emerging_params,
    parse_evaluate_params,
    parse_filters,
    parse_trends_params,
)
from geo.query import FilterError, Filters


@pytest.mark.parametrize(("parse", "a", "b"), [
    (parse_trends_params, {"la": "E07000123", "period": "month"},
     {"period": "", "la": "E07000123"}),
    (parse_trends_params, {"league_baseline": "2022/23"}, {"league_baseline": "fy:2022"}),
    (parse_trends_params, {"level": "authority"}, {"level": ""}),
    (parse_trends_params, {"level": " Ward"}, {"level": "ward"}),
    (parse_emerging_params, {"res": "8", "categories": "Robbery"}, {"categories": "Robbery"}),
    (parse_evaluate_params, {"target": "z-1", "start": "2024-06-01", "buffer_m": "250",
                             "baseline": "equal_before"}, {"target": "z-1", "start": "2024-06-01"}),
], ids=["trends-default-period", "trends-baseline-spelling", "trends-default-level",
        "trends-level-spelling", "emerging-default-res", "evaluate-defaults"])
def test_the_same_question_reads_as_the_same_pairs(parse, a, b):
    # the services cache keys an analysis on these pairs: two spellings of one question must
    # share an answer
    assert parse(a) == parse(b) and parse(a).items() == parse(b).items()


@pytest.mark.parametrize(("parse", "a", "b"), [
    (parse_trends_params, {"period": "month"}, {"period": "fyq"}),
    (parse_trends_params, {"level": "ward"}, {}),
    (parse_emerging_params, {"periods": "10"}, {}),  # 10 given, or chosen from the data
    (parse_evaluate_params, {"target": "A", "start": "2024-06-01"},
     {"target": "A", "start": "2024-06-01", "end": "2024-09-30"}),
    (parse_evaluate_params, {"targets": "A@2024-06-01"}, {"targets": "A@2024-06-01/2024-07-01"}),
], ids=["trends-period", "trends-level", "emerging-periods", "evaluate-end",
        "staggered-end"])
def test_different_questions_read_as_different_pairs(parse, a, b):
    assert parse(a).items() != parse(b).items()


def test_a_staggered_roll_out_ignores_the_single_intervention_dates():
    p = parse_evaluate_params({"targets": "z-1@2024-06-01, E07000123@2024-09-01/2024-12-31",
                               "start": "not a date"})
    assert [(t.key, t.start, t.end) for t in p.targets] == [
        ("z-1", date(2024, 6, 1), None), ("E07000123", date(2024, 9, 1), date(2024, 12, 31))]


@pytest.mark.parametrize(("params", "name"), [
    ({"targets": "z-1@2024-06-01/2024-05-01"}, "targets"),
    ({"targets": "z-1@June"}, "targets"),
    ({"targets": ","}, "targets"),
    ({"target": "z-1", "start": "2024-06-01", "end": "2024-05-01"}, "end"),
    ({"target": "z-1", "start": "2024-06-01", "buffer_m": "nan"}, "buffer_m"),
    ({"period": "year"}, "period"),
    ({"league_baseline": "fy:1066"}, "league_baseline"),
    ({"level": "police beat"}, "level"),
    ({"level": "../wards"}, "level"),
    ({"level": "h3"}, "level"),
], ids=["staggered-backwards", "staggered-no-date", "staggered-none", "end-before-start",
        "buffer-nan", "period", "league-baseline", "level-space", "level-path", "level-h3"])
def test_a_bad_value_names_its_parameter(params, name):
    parse = parse_trends_params if {"period", "league_baseline", "level"} & set(params) else \
        parse_evaluate_params
    with pytest.raises(FilterError) as err:
        parse(params)
    assert err.value.param == name


# ------------------------------------------------------------------------ shared filters
@pytest.mark.parametrize(
    ("params", "param"),
    [({"hours": "25-3"}, "hours"), ({"hours": "evening"}, "hours"), ({"days": "fry"}, "days"),
     ({"start": "2024-13-01"}, "start"), ({"start": "2024-06-02", "end": "2024-06-01"}, "end"),
     ({"colour": "red"}, "colour")],
    ids=["hour-out-of-range", "hour-text", "bad-day", "bad-date", "end-before-start",
         "unknown-param"],
)
def test_bad_parameters_name_themselves(params, param):
    with pytest.raises(FilterError) as err:
        parse_filters(params)
    assert err.value.param == param


def test_filters_round_trip_through_url_parameters():
    f = Filters(start=date(2024, 1, 1), days=frozenset({4, 5}), hours=(20, 4),
                categories=("Robbery",), exclude_domestic=True)
    assert parse_filters(f.to_params()) == f
