"""Health statistics (geo.health) against hand counts and direct computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from geo.health import (
    HoursError,
    compare_periods,
    coverage,
    excess_over_police,
    parse_days,
    parse_hours,
    parse_shifts,
    profile,
)
from geo.istv import UNDER_25_BANDS, age_bands_from_years

# Nine attendances with an arrival hour and one without, worked by hand:
#   weekday (0 = Mon), hour, age
ARRIVALS = [
    (0, 10, 19),  # Mon 10:15   inside Mon-Fri 9-17
    (0, 17, 30),  # Mon 17:30   outside (17:00 is the first hour after the service)
    (1, 8, 22),   # Tue 08:59   outside
    (2, 16, 40),  # Wed 16:59   inside
    (4, 19, 17),  # Fri 19:00   outside; Fri 18-2 covers it
    (5, 1, 24),   # Sat 01:30   outside; Friday's 18-2 shift runs into Saturday: covered
    (5, 23, 55),  # Sat 23:00   outside; Saturday's 18-2 shift covers it
    (6, 2, 20),   # Sun 02:30   outside; Saturday's shift ends at 02:00: not covered
    (-1, -1, 33),  # no arrival time
    (4, 12, 14),  # Fri 12:00   inside
]


def _hand_coverage(extension: str = "fri,sat 18-2"):
    dow = np.array([a[0] for a in ARRIVALS])
    hour = np.array([a[1] for a in ARRIVALS])
    bands = age_bands_from_years(np.array([a[2] for a in ARRIVALS], dtype=float))
    return coverage(dow, hour, bands.to_numpy(dtype=object), parse_shifts("mon-fri 9-17"),
                    parse_shifts(extension), under_25=frozenset(UNDER_25_BANDS))


def test_coverage_matches_a_hand_count():
    cov = _hand_coverage()
    f = cov.figures()
    assert (f["total"], f["inside"], f["outside"], f["untimed"], f["added"]) == (9, 3, 6, 1, 3)
    # under-25s: 19, 22, 17, 24, 20, 14 -> inside 19 and 14, outside the other four
    assert f["under_25"] == {"inside": 2, "outside": 4}
    assert f["sentences"][0].startswith("67% of attendances (6 of 9) arrived outside")
    assert "Adding Fri, Sat 18:00–02:00 would cover a further 33% (3 of 9)" in f["sentences"][2]
    assert "1 attendance(s) have no arrival hour" in f["sentences"][-1]
    by_day = {d["day"]: (d["inside"], d["outside"]) for d in f["by_weekday"]}
    assert by_day["Saturday"] == (0, 2) and by_day["Friday"] == (1, 1)
    assert sum(h["inside"] + h["outside"] for h in f["by_hour"]) == 9


def test_an_extension_inside_the_service_hours_adds_nothing():
    assert _hand_coverage("mon-fri 10-12").added_count == 0


def test_a_shift_past_midnight_belongs_to_the_day_it_starts():
    mask = parse_shifts("sun 22-3")[0].mask()
    assert mask[6, 22] and mask[6, 23] and mask[0, 0] and mask[0, 2] and not mask[0, 3]
    assert mask.sum() == 5


@pytest.mark.parametrize("text, param", [
    ("9-37", "hours"), ("9", "hours"), ("12-12", "hours"), ("", "hours")],
    ids=["past-24", "no-end", "empty-band", "blank"])
def test_bad_hours_name_the_parameter(text, param):
    with pytest.raises(HoursError) as err:
        parse_hours(text)
    assert err.value.param == param


def test_days_and_shifts_are_read_as_people_write_them():
    assert parse_days("Fri, Sat") == (4, 5)
    assert parse_days("all") == tuple(range(7))
    with pytest.raises(HoursError, match="'fry' is not a day"):
        parse_days("fry")
    with pytest.raises(HoursError, match="is not a shift"):
        parse_shifts("weekdays")


def test_periods_compare_only_the_months_both_sources_cover():
    # ED covers Jan-Mar 2024 but has no February; police cover Jan-Jun 2024
    jan = (2024 - 1970) * 12
    ed = np.array([jan] * 3 + [jan + 2] * 5)
    police = np.array([jan] * 6 + [jan + 1] * 4 + [jan + 2] * 2 + [jan + 4] * 7)
    t = compare_periods(ed, police, "quarter",
                        ed_covered=np.array([jan, jan + 2]),
                        police_covered=np.arange(jan, jan + 6))
    assert t["period"].tolist() == ["2024 Q1"]  # Q2 has no ED month at all
    row = t.iloc[0]
    # only January and March count on both sides: police February is left out
    assert (row["ed"], row["police"], row["months"]) == (8, 8, 2)
    assert "2 of 3 months" in row["note"]


def test_period_changes_compare_like_with_like():
    jan = (2024 - 1970) * 12
    ed = np.array([jan] * 4 + [jan + 1] * 6)
    police = np.array([jan] * 10 + [jan + 1] * 5)
    t = compare_periods(ed, police, "month")
    assert t["ed_change"].iloc[1] == pytest.approx(0.5)
    assert t["police_change"].iloc[1] == pytest.approx(-0.5)
    assert t["ratio"].tolist() == [pytest.approx(0.4), pytest.approx(1.2)]


def test_excess_over_police_matches_scipy_and_benjamini_hochberg():
    # a comparison area eight times the size of the target, as the standards ask
    keys = ["target", "big", "other"]
    ed = np.array([45, 160, 30])
    police = np.array([40, 640, 90])
    e = excess_over_police(keys, ed, police)
    s = ed.sum() / (ed.sum() + police.sum())
    direct = [stats.binomtest(int(a), int(a + b), s, alternative="greater").pvalue
              for a, b in zip(ed, police, strict=True)]
    t = e.table.set_index("key")
    np.testing.assert_allclose(t.loc[keys, "p_value"], direct, rtol=1e-12)
    # Benjamini-Hochberg by hand: sort, scale by m/rank, take the running minimum from the top
    order = np.argsort(direct)
    scaled = np.array(direct)[order] * 3 / np.arange(1, 4)
    q = np.minimum.accumulate(scaled[::-1])[::-1]
    expected = np.empty(3)
    expected[order] = q
    np.testing.assert_allclose(t.loc[keys, "q_value"], expected, rtol=1e-12)
    assert t.loc["target", "flagged"] and not t.loc["big", "flagged"]
    assert t.loc["target", "expected_ed"] == pytest.approx(85 * s)


def test_a_small_area_is_never_flagged_however_lopsided():
    e = excess_over_police(["a", "b"], np.array([6, 100]), np.array([0, 400]))
    assert not e.table["flagged"].any()  # 6 ED attendances: below the minimum of 10


def test_profile_counts_every_record_once():
    w = pd.Series(["Knife or sharp object", None, "Glass or bottle", "Knife or sharp object"])
    p = pd.Series(["Street or public place", "Home", "Licensed premises", None])
    t = profile(w, p, ("Knife or sharp object", "Glass or bottle"),
                ("Street or public place", "Licensed premises", "Home"))
    assert int(t.to_numpy().sum()) == 4
    assert t.loc["Knife or sharp object", "Street or public place"] == 1
    assert list(t.index)[-1] == "Not recorded" and list(t.columns)[-1] == "Not recorded"


def test_no_attendances_gives_zeros_and_a_plain_sentence():
    cov = coverage(np.zeros(0, int), np.zeros(0, int), np.zeros(0, dtype=object),
                   parse_shifts("mon-fri 9-17"), parse_shifts("sat 0-6"))
    f = cov.figures()
    assert (f["total"], f["inside"], f["outside"], f["added"]) == (0, 0, 0, 0)
    assert f["by_age"] == [] and f["under_25"] == {"inside": 0, "outside": 0}
    assert f["sentences"] == ["No attendances with an arrival time are selected."]


def test_police_violence_is_chosen_from_police_rows_only(tmp_path):
    from geo.boundaries import load_boundaries
    from geo.query import Filters, QueryLayer
    from geo.schema import empty_rejects
    from geo.store import Store
    from tests.conftest import stored_table

    # police.uk-style police rows; ED rows filed as violence with injury
    times = [None, None, "2024-06-08 23:10", "2024-06-09 01:00"]
    table = stored_table(
        np.array([330_700.0, 330_800.0, 330_700.0, 330_900.0]),
        np.array([436_200.0] * 4), times,
        category=["Violence and sexual offences", "Burglary", "Violence with injury",
                  "Violence with injury"],
        source=["police", "police", "ed", "ed"], la_code="E06000009",
        month=["2024-06"] * 4)
    store = Store(tmp_path / "store")
    store.commit(table, source_file="t", rejects=empty_rejects(), summary={}, kind="user")
    q = QueryLayer(store, load_boundaries(None))
    out = q.health_compare(Filters(), "ed", "month")
    assert out["police_categories"] == ["Violence and sexual offences"]
    assert [(p["ed"], p["police"]) for p in out["periods"]] == [(2, 1)]
    assert [a["name"] for a in out["areas"]] == ["Blackpool"]  # only areas holding records


def test_untimed_attendances_get_the_noise_of_their_own_records():
    """The untimed count's noise comes from its rows' keys (a fixed noise would let two
    answers be taken one from the other to give a hidden count exactly)."""
    dow = np.array([a[0] for a in ARRIVALS] + [-1, -1])
    hour = np.array([a[1] for a in ARRIVALS] + [-1, -1])
    keys = np.arange(100, 100 + len(dow)) * 7919
    cov = coverage(dow, hour, np.full(len(dow), None, dtype=object),
                   parse_shifts("mon-fri 9-17"), under_25=frozenset(), keys=keys)
    assert cov.untimed == 3
    assert cov.key_untimed == int(keys[dow < 0].sum())
    seen = []
    cov.figures(lambda count, key: seen.append((count, key)) or count)
    assert (3, cov.key_untimed) in seen


def test_fewer_than_five_attendances_are_not_called_none():
    """A role that suppresses gets 'fewer than 5' for 1 to 4, never 'no attendances'."""
    cov = coverage(np.array([0, 1]), np.array([10, 20]), np.full(2, None, dtype=object),
                   parse_shifts("mon-fri 9-17"), under_25=frozenset())
    f = cov.figures(lambda count, key: None if 0 < count < 5 else count)
    assert f["total"] is None
    assert f["sentences"][0].startswith("Fewer than 5 attendances with an arrival time")


def test_the_method_says_the_counts_the_reader_may_see():
    from geo.health import excess_method

    assert "(3 of 40)" in excess_method(3, 40)
    hidden = excess_method(None, 40)
    assert "(fewer than 5 of 40)" in hidden and "a small share" in hidden
