"""The analyses' results written as the API's JSON (``dashboard/serialise.py``).

The engine returns dataclasses holding frames with NaN for "no figure" and dates as dates; the
API must give ``null`` and ISO text, and strict JSON (no ``NaN``) that any client can read.
"""

from __future__ import annotations

import json
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dashboard.serialise import emerging_json, evaluation_json, trends_json
from geo.query import Filters
from geo.vru import (
    EmergingResult,
    EvaluationResult,
    LeagueTable,
    StaggeredResult,
    TrendsResult,
)

NAN = float("nan")


def strict(body: dict) -> dict:
    """Round-trip ``body`` through JSON that refuses NaN and infinity."""
    return json.loads(json.dumps(body, allow_nan=False))


def trends_result(**changes) -> TrendsResult:
    series = pd.DataFrame({"period": [1, 2], "label": ["Apr 2024", "May 2024"],
                           "start": ["2024-04-01", "2024-05-01"], "group": ["whole area"] * 2,
                           "count": np.array([5, 7], dtype=np.int64),
                           "same_period_last_year": [NAN, 4.0]})
    league = LeagueTable(
        rows=pd.DataFrame({"code": ["A"], "count": [np.int64(3)], "rate_per_1000": [NAN]}),
        current=(date(2024, 4, 1), date(2025, 3, 31)),
        baseline=(date(2023, 4, 1), date(2024, 3, 31)), ranked=False,
        message="Areas are listed by count", population_source="")
    values = dict(period="month", filters=Filters(days=frozenset({4})), area="whole area",
                  series=series, sources=pd.DataFrame(), sources_baseline=None,
                  seasonal=pd.DataFrame({"year": [2024], "month": [4], "count": [5]}),
                  peaked=pd.DataFrame(), peaked_summer_year=None, peaked_note="too short",
                  league=league, synthetic_sample=True, incomplete_periods=("Mar 2025",),
                  unplaced=0, notes=("a note",))
    return TrendsResult(**{**values, **changes})


def test_trends_give_null_for_no_figure_and_name_the_league_years():
    body = strict(trends_json(trends_result()))
    assert body["rows"][0]["same_period_last_year"] is None
    assert body["rows"][1]["same_period_last_year"] == 4.0 and body["rows"][1]["count"] == 7
    assert body["filters"] == {"days": "fri"}
    assert body["league"] == [{"code": "A", "count": 3, "rate_per_1000": None}]
    assert body["league_current"] == ["2024-04-01", "2025-03-31"]
    assert body["league_baseline"] == ["2023-04-01", "2024-03-31"]
    assert body["league_ranked"] is False and body["league_message"]
    assert body["incomplete_periods"] == ["Mar 2025"] and body["notes"] == ["a note"]
    # the summer peaks could not be said: the note, and no year
    assert body["peaked_last_summer"] == [] and body["peaked_note"] == "too short"
    assert "peaked_summer_year" not in body and "sources_baseline" not in body


def test_trends_without_a_league_table_say_no_years():
    body = strict(trends_json(trends_result(
        league=LeagueTable.empty(), sources_baseline=(date(2022, 4, 1), date(2023, 3, 31)),
        peaked=pd.DataFrame({"name": ["Preston"], "peaked": [np.bool_(True)]}),
        peaked_summer_year=2024, peaked_note=None)))
    assert body["league"] == [] and body["league_current"] == [None, None]
    assert body["league_baseline"] == [None, None]
    assert body["sources_baseline"] == "01 Apr 2022 to 31 Mar 2023"
    assert body["peaked_last_summer"] == [{"name": "Preston", "peaked": True}]
    assert body["peaked_summer_year"] == 2024 and "peaked_note" not in body


def test_emerging_cells_are_h3_text_and_the_limits_are_the_parsers():
    from dashboard.params import parse_emerging_params
    from geo.query import FilterError

    cells = pd.DataFrame({"cell": np.array([0x8819425831FFFFF], dtype=np.uint64),
                          "category": ["new"], "hot_periods": [np.int64(1)],
                          "n_periods": [np.int64(3)], "trend": ["none"], "trend_p": [NAN],
                          "series": [[0, np.int64(1), 4]],
                          "hot_series": [[False, False, np.bool_(True)]]})
    result = EmergingResult(
        res=8, period_days=42, period_unit="days", min_count=3,
        periods=((date(2025, 1, 7), date(2025, 2, 17)),), period_labels=("7 Jan – 17 Feb",),
        filters=Filters(), hot_rule="rule", rules=(("new", "latest only"),), cells=cells,
        notes=(), synthetic_sample=False)
    body = strict(emerging_json(result))
    assert body["rows"] == [{"cell": "8819425831fffff", "category": "new", "hot_periods": 1,
                             "n_periods": 3, "trend": "none", "trend_p": None,
                             "series": [0, 1, 4], "hot": [False, False, True]}]
    assert body["periods"] == [["2025-01-07", "2025-02-17"]]
    assert body["rules"] == [{"category": "new", "rule": "latest only"}]
    lo, hi = body["limits"]["res"]
    parse_emerging_params({"res": str(hi)})
    with pytest.raises(FilterError):
        parse_emerging_params({"res": str(hi + 1)})
    lo, hi = body["limits"]["periods"]
    with pytest.raises(FilterError):
        parse_emerging_params({"periods": str(lo - 1)})


def evaluation(series_period: str) -> EvaluationResult:
    figures = {"measure": "count", "before_window": (19500, 19600), "wdd": NAN,
               "counts": {"target": {"before": np.int64(30), "after": 12}},
               "pct_change": {"target": -60.0, "buffer": NAN}, "notes": ["engine note"]}
    series = pd.DataFrame({"area": ["target"], "week_start": [pd.Timestamp("2024-06-03")],
                           "count": [np.int64(2)]})
    return EvaluationResult(
        target="Preston", comparison="rest of the area", buffer_m=250.0, figures=figures,
        before_window=(date(2023, 6, 1), date(2023, 11, 30)),
        after_window=(date(2024, 6, 1), date(2024, 11, 30)), series_period=series_period,
        series=series, notes=("engine note", "month note"), synthetic_sample=False)


def test_an_evaluation_gives_dates_for_its_windows_and_null_for_no_figure():
    body = strict(evaluation_json(evaluation("week")))
    assert body["before_window"] == ["2023-06-01", "2023-11-30"]
    assert body["after_window"] == ["2024-06-01", "2024-11-30"]
    assert body["wdd"] is None and body["pct_change"] == {"target": -60.0, "buffer": None}
    assert body["counts"] == {"target": {"before": 30, "after": 12}}
    assert body["notes"] == ["engine note", "month note"]
    assert body["buffer"] == "250 m ring round the target"
    assert body["series_period"] == "week" and "monthly" not in body
    assert body["weekly"] == [{"area": "target", "week_start": "2024-06-03T00:00:00",
                               "count": 2}]


def test_a_whole_month_evaluation_gives_its_series_by_month():
    body = strict(evaluation_json(evaluation("month")))
    assert body["series_period"] == "month" and body["weekly"] == []
    assert body["monthly"][0]["count"] == 2


def test_a_staggered_roll_out_gives_its_rows_with_dates():
    rows = pd.DataFrame({"name": ["Preston", "All targets (pooled)"],
                         "start_day": [date(2024, 6, 1), date(2024, 6, 1)],
                         "wdd": [1.5, NAN]})
    body = strict(evaluation_json(StaggeredResult(rows=rows, notes=(), sign="sign",
                                                  comparison="rest of the area",
                                                  synthetic_sample=False)))
    assert body["staggered"] is True
    assert body["rows"][0] == {"name": "Preston", "start_day": "2024-06-01", "wdd": 1.5}
    assert body["rows"][1]["wdd"] is None
