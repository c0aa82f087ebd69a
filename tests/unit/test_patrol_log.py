"""Patrol logs: rejects with reasons, placing visits in hotspots, dosage, gaps and patrol hours."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from numpy.testing import assert_allclose
from shapely.geometry import Polygon

from geo.patrol_log import assign_visits, dosage_achieved, patrol_hours_total, read_patrol_log
from geo.projection import to_wgs84
from geo.schema import ReadError

#: Metres: how close a measured distance in BNG must be to the planted one.
DIST_TOL_M = 0.5
#: Preston city centre, British National Grid metres (EPSG:27700).
E0, N0 = 353_750.0, 429_410.0


def write(tmp_path: Path, text: str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def square_wgs84(e: float, n: float, half_m: float) -> Polygon:
    """A square of side 2 * half_m metres centred on (e, n) in BNG, returned in WGS84."""
    xs = np.array([e - half_m, e + half_m, e + half_m, e - half_m])
    ys = np.array([n - half_m, n - half_m, n + half_m, n + half_m])
    lon, lat = to_wgs84(xs, ys)
    return Polygon(zip(lon, lat, strict=True))


def point_wgs84(e: float, n: float) -> tuple[float, float]:
    lon, lat = to_wgs84(np.array([e]), np.array([n]))
    return float(lat[0]), float(lon[0])


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="Europe/London")


def visits_frame(rows: list[tuple[str, str | None, str, str]]) -> pd.DataFrame:
    """(hotspot, unit, start, end) rows with local times, as read_patrol_log would give them."""
    return pd.DataFrame({
        "hotspot": pd.array([r[0] for r in rows], dtype="string"),
        "unit": pd.array([r[1] for r in rows], dtype="string"),
        "start": pd.DatetimeIndex([ts(r[2]) for r in rows]).as_unit("us"),
        "end": pd.DatetimeIndex([ts(r[3]) for r in rows]).as_unit("us"),
    })


BAD_LOG = (
    "hotspot,lat,lon,start,end,unit\n"                                    # 1
    "H1,,,01/06/2024 22:00,01/06/2024 22:15,PC1\n"                        # 2 ok
    ",,,01/06/2024 22:00,01/06/2024 22:15,PC1\n"                          # 3 nowhere
    "H1,,,yesterday,01/06/2024 22:15,PC1\n"                               # 4 bad start
    "H1,,,01/06/2024 22:00,31/06/2024 22:15,PC1\n"                        # 5 bad end
    "H1,,,01/06/2024 22:00,01/06/2024 21:15,PC1\n"                        # 6 end before start
    "H1,,,01/06/2024 08:00,01/06/2024 21:05,PC1\n"                        # 7 > 12 h
    "H1,,,01/06/2024 22:00,01/06/2024 22:15,PC1\n"                        # 8 duplicate of 2
    "\n"                                                                  # 9 blank: no row
    ",53.759,,01/06/2024 22:00,01/06/2024 22:15,PC2\n"                    # 10 lat only
    ",abc,-2.7,01/06/2024 22:00,01/06/2024 22:15,PC2\n"                   # 11 lat not number
    "H2,,,01/06/2024,01/06/2024 22:15,PC2\n"                              # 12 no time of day
    "H2,,,,01/06/2024 22:15,PC2\n"                                        # 13 blank start
    ",53.759,-2.703,01/06/2024 22:00,01/06/2024 22:15,\n"                 # 14 ok (coords)
    "H1,,,01/06/2024 22:00,01/06/2024 22:15,PC2\n"                        # 15 ok: other unit
    "H1,,,01/06/2024 22:00\n"                                             # 16 cut short
)


def test_rejects_name_the_line_and_the_reason(tmp_path):
    visits, rejects = read_patrol_log(write(tmp_path, BAD_LOG))
    assert visits["line"].tolist() == [2, 14, 15]
    assert dict(zip(rejects["line"], rejects["reason"], strict=True)) == {
        3: "no hotspot and no coordinates: give a hotspot id, or lat and lon",
        4: "start time not understood: 'yesterday'",
        5: "end time not understood: '31/06/2024 22:15'",
        6: "end 01/06/2024 21:15 is before start 01/06/2024 22:00",
        7: "visit is longer than 12 hours (13 h 05 min): check the end time",
        8: "duplicate of line 2 (same hotspot, start, end and unit)",
        10: "no hotspot, and only the latitude is given",
        11: "no hotspot, and latitude 'abc' is not a number",
        12: "start '01/06/2024' has no time of day",
        13: "start time is blank",
        16: "row has 4 fields but the header has 6 (a row cut short?)",
    }
    assert rejects.loc[rejects["line"] == 4, "raw"].item() == (
        "H1,,,yesterday,01/06/2024 22:15,PC1"
    )


def test_every_row_read_is_accepted_or_rejected_once(tmp_path):
    visits, rejects = read_patrol_log(write(tmp_path, BAD_LOG))
    data_rows = [ln for ln in BAD_LOG.splitlines()[1:] if ln.strip()]
    assert len(visits) + len(rejects) == len(data_rows) == 14
    lines = sorted(visits["line"].tolist() + rejects["line"].tolist())
    assert lines == [n for n in range(2, 17) if n != 9]


def test_accepted_columns_and_types(tmp_path):
    visits, _ = read_patrol_log(write(tmp_path, BAD_LOG))
    assert list(visits.columns) == ["line", "hotspot", "lat", "lon", "start", "end", "unit",
                                    "minutes"]
    assert str(visits["start"].dtype) == "datetime64[us, Europe/London]"
    row = visits.set_index("line").loc[14]
    assert pd.isna(row["hotspot"]) and pd.isna(row["unit"])
    assert (row["lat"], row["lon"]) == (53.759, -2.703)
    assert visits["minutes"].tolist() == [15.0, 15.0, 15.0]


def test_bst_and_clock_changes(tmp_path):
    text = (
        "hotspot,start,end\n"
        "A,01/06/2024 22:00,01/06/2024 22:15\n"         # summer: BST, +01:00
        "A,15/01/2024 22:00,15/01/2024 22:15\n"         # winter: GMT
        "A,27/10/2024 00:30,27/10/2024 02:30\n"         # autumn change: 3 real hours
        "A,31/03/2024 00:30,31/03/2024 03:30\n"         # spring change: 2 real hours
        "A,2024-06-01T21:00:00Z,2024-06-01T21:30:00Z\n"  # UTC converted to BST
    )
    visits, rejects = read_patrol_log(write(tmp_path, text))
    assert rejects.empty
    assert [str(t) for t in visits["start"]] == [
        "2024-06-01 22:00:00+01:00", "2024-01-15 22:00:00+00:00", "2024-10-27 00:30:00+01:00",
        "2024-03-31 00:30:00+00:00", "2024-06-01 22:00:00+01:00",
    ]
    assert visits["minutes"].tolist() == [15.0, 15.0, 180.0, 120.0, 30.0]


def test_column_names_are_configurable_and_loosely_matched(tmp_path):
    text = "Location,Latitude,Longitude,Began,Finished,Officer\n,53.759,-2.703," \
           "01/06/2024 22:00,01/06/2024 22:20,PC9\n"
    visits, rejects = read_patrol_log(
        write(tmp_path, text), hotspot_col="location", lat_col="latitude", lon_col="LONGITUDE",
        start_col="began", end_col="finished", unit_col="officer",
    )
    assert rejects.empty and visits["unit"].tolist() == ["PC9"]
    assert visits["minutes"].tolist() == [20.0]


def test_unit_column_is_optional(tmp_path):
    visits, rejects = read_patrol_log(
        write(tmp_path, "hotspot,start,end\nA,01/06/2024 22:00,01/06/2024 22:20\n"))
    assert rejects.empty and visits["unit"].isna().all()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hotspot,begin,end\nA,x,y\n", "'start' not found. Columns found: 'hotspot', 'begin', "
                                       "'end'."),
        ("place,start,end\nA,x,y\n", "needs a hotspot column ('hotspot') or both coordinate"),
        ("lat,start,end\n1,x,y\n", "needs a hotspot column"),
        ("", "empty"),
    ],
    ids=["no-start", "no-place", "lat-without-lon", "empty"],
)
def test_unusable_files_raise_read_error(tmp_path, text, expected):
    with pytest.raises(ReadError) as exc:
        read_patrol_log(write(tmp_path, text))
    assert expected in str(exc.value)


def test_not_utf8_raises_read_error(tmp_path):
    path = tmp_path / "log.csv"
    path.write_bytes("hotspot,start,end\nCaf\u00e9,x,y\n".encode("cp1252"))
    with pytest.raises(ReadError, match="not UTF-8"):
        read_patrol_log(path)


# --------------------------------------------------------------------------------------------
# Placing visits in hotspots
# --------------------------------------------------------------------------------------------

PLAN = {
    "H1": square_wgs84(E0, N0, 100.0),
    "H2": square_wgs84(E0 + 1_000.0, N0, 100.0),
}


def coords_log(points_bng: list[tuple[float, float]], hotspots: list[str | None]) -> pd.DataFrame:
    lat, lon = zip(*(point_wgs84(e, n) for e, n in points_bng), strict=True)
    return pd.DataFrame({
        "line": np.arange(2, 2 + len(points_bng)),
        "hotspot": pd.array(hotspots, dtype="string"),
        "lat": np.asarray(lat), "lon": np.asarray(lon),
    })


def test_points_are_placed_in_the_hotspot_that_holds_them():
    log = coords_log(
        [(E0, N0), (E0 + 1_050.0, N0 + 20.0), (E0 + 130.0, N0), (E0 + 400.0, N0),
         (E0, N0)],
        [None, None, None, None, "h2"],
    )
    placed, rejects = assign_visits(log, PLAN, tolerance_m=50.0)
    assert placed[["line", "hotspot", "assigned_by"]].values.tolist() == [
        [2, "H1", "point"], [3, "H2", "point"], [4, "H1", "point"], [6, "H2", "id"],
    ]
    # inside: distance 0; 30 m east of H1's edge: within tolerance, and measured in metres
    assert_allclose(placed["distance_m"].iloc[:3], [0.0, 0.0, 30.0], atol=DIST_TOL_M)
    assert rejects["line"].tolist() == [5]
    assert rejects["reason"].item().endswith("is in no hotspot (nearest: 'H1', 300 m away)")


def test_tolerance_zero_rejects_a_point_just_outside():
    log = coords_log([(E0 + 130.0, N0)], [None])
    placed, rejects = assign_visits(log, PLAN, tolerance_m=0.0)
    assert placed.empty and "30 m away" in rejects["reason"].item()


def test_nearest_hotspot_wins_when_two_are_within_tolerance():
    plan = {"A": square_wgs84(E0, N0, 100.0), "B": square_wgs84(E0 + 260.0, N0, 100.0)}
    log = coords_log([(E0 + 140.0, N0), (E0 + 115.0, N0)], [None, None])
    placed, _ = assign_visits(log, plan, tolerance_m=50.0)
    assert placed["hotspot"].tolist() == ["B", "A"]  # 20 m from B's edge; 15 m from A's


def test_unknown_hotspot_id_is_rejected():
    log = coords_log([(E0, N0)], ["H7"])
    placed, rejects = assign_visits(log, PLAN)
    assert placed.empty
    assert rejects[["line", "reason"]].values.tolist() == [[2, "hotspot 'H7' is not in the plan"]]


def test_read_then_assign_accounts_for_every_row(tmp_path):
    lat_in, lon_in = point_wgs84(E0, N0)
    lat_out, lon_out = point_wgs84(E0 + 5_000.0, N0)
    text = (
        "hotspot,lat,lon,start,end,unit\n"
        f",{lat_in},{lon_in},01/06/2024 22:00,01/06/2024 22:15,PC1\n"
        f",{lat_out},{lon_out},01/06/2024 22:00,01/06/2024 22:15,PC1\n"
        "H2,,,01/06/2024 23:00,01/06/2024 23:15,PC1\n"
        "H9,,,01/06/2024 23:00,01/06/2024 23:15,PC1\n"
        ",,,01/06/2024 23:00,01/06/2024 23:15,PC1\n"
    )
    log, read_rejects = read_patrol_log(write(tmp_path, text))
    placed, place_rejects = assign_visits(log, PLAN)
    assert len(placed) + len(read_rejects) + len(place_rejects) == 5
    assert sorted(placed["line"].tolist() + read_rejects["line"].tolist()
                  + place_rejects["line"].tolist()) == [2, 3, 4, 5, 6]
    assert placed["hotspot"].tolist() == ["H1", "H2"]


# --------------------------------------------------------------------------------------------
# Dosage and patrol hours
# --------------------------------------------------------------------------------------------

PLANNED = pd.DataFrame({"hotspot": ["H1", "H2"], "planned_visits": [6, 4],
                        "planned_minutes": [90.0, 60.0]})


def test_gaps_are_between_presences_on_the_same_patrol_day():
    visits = visits_frame([
        ("H1", "PC1", "2024-06-01 20:00", "2024-06-01 20:15"),
        ("H1", "PC2", "2024-06-01 21:00", "2024-06-01 21:15"),   # gap 45
        ("H1", "PC1", "2024-06-02 01:00", "2024-06-02 01:15"),   # same night: gap 225
        ("H1", "PC1", "2024-06-02 20:00", "2024-06-02 20:10"),   # next patrol day: no gap
        ("H1", "PC2", "2024-06-02 20:40", "2024-06-02 20:50"),   # gap 30
    ])
    out = dosage_achieved(visits, PLANNED, date(2024, 6, 1), date(2024, 6, 2)).set_index("hotspot")
    h1 = out.loc["H1"]
    assert h1["visits"] == 5 and h1["minutes"] == 65.0
    assert_allclose([h1["mean_gap_min"], h1["max_gap_min"]], [(45 + 225 + 30) / 3, 225])
    assert_allclose(h1["achieved_share"], 65 / 90)
    h2 = out.loc["H2"]
    assert h2["visits"] == 0 and h2["minutes"] == 0 and np.isnan(h2["max_gap_min"])
    assert h2["planned_visits"] == 4 and h2["achieved_share"] == 0.0


def test_day_boundary_hour_is_a_parameter():
    visits = visits_frame([
        ("H1", "PC1", "2024-06-01 20:00", "2024-06-01 20:15"),
        ("H1", "PC1", "2024-06-02 01:00", "2024-06-02 01:15"),
    ])
    night = dosage_achieved(visits, PLANNED, date(2024, 6, 1), date(2024, 6, 2))
    midnight = dosage_achieved(visits, PLANNED, date(2024, 6, 1), date(2024, 6, 2),
                               day_starts_hour=0)
    assert night.loc[0, "max_gap_min"] == 285.0
    assert np.isnan(midnight.loc[0, "max_gap_min"])


def test_same_unit_overlaps_merge_but_different_units_both_count():
    visits = visits_frame([
        ("H1", "PC1", "2024-06-01 20:00", "2024-06-01 20:30"),
        ("H1", "PC1", "2024-06-01 20:15", "2024-06-01 20:45"),   # same unit, overlapping
        ("H1", "PC2", "2024-06-01 20:00", "2024-06-01 20:30"),   # another unit alongside
    ])
    out = dosage_achieved(visits, PLANNED, date(2024, 6, 1), date(2024, 6, 1))
    h1 = out.set_index("hotspot").loc["H1"]
    assert h1["visits"] == 2
    assert h1["minutes"] == 45.0 + 30.0
    assert h1["presence_minutes"] == 45.0
    assert np.isnan(h1["max_gap_min"])  # one continuous presence
    assert patrol_hours_total(visits) == 75.0 / 60


def test_patrol_hours_merge_a_unit_across_hotspots_and_unnamed_rows_per_hotspot():
    visits = visits_frame([
        ("H1", "PC1", "2024-06-01 20:00", "2024-06-01 21:00"),
        ("H2", "PC1", "2024-06-01 20:30", "2024-06-01 21:30"),   # PC1 cannot be in two places
        ("H1", None, "2024-06-01 22:00", "2024-06-01 23:00"),
        ("H1", None, "2024-06-01 22:30", "2024-06-01 23:00"),    # unnamed, same hotspot: merged
        ("H2", None, "2024-06-01 22:00", "2024-06-01 23:00"),    # unnamed elsewhere: counts
    ])
    assert patrol_hours_total(visits) == 1.5 + 1.0 + 1.0


def test_visits_are_clipped_to_the_period():
    visits = visits_frame([
        ("H1", "PC1", "2024-06-30 23:30", "2024-07-01 00:30"),   # half inside June
        ("H1", "PC1", "2024-07-01 10:00", "2024-07-01 10:30"),   # July: outside
        ("H2", "PC2", "2024-06-01 00:00", "2024-06-01 00:00"),   # zero minutes, inside
        ("H3", "PC2", "2024-06-10 12:00", "2024-06-10 12:20"),   # not in the plan
    ])
    out = dosage_achieved(visits, PLANNED, date(2024, 6, 1), date(2024, 6, 30))
    assert out["hotspot"].tolist() == ["H1", "H2", "H3"]
    assert out["visits"].tolist() == [1, 1, 1]
    assert out["minutes"].tolist() == [30.0, 0.0, 20.0]
    assert np.isnan(out.loc[2, "planned_minutes"]) and np.isnan(out.loc[2, "achieved_share"])
    assert patrol_hours_total(visits, period_start=date(2024, 6, 1),
                              period_end=date(2024, 6, 30)) == 50.0 / 60
    # a timestamp period is half-open, in UK local time
    assert patrol_hours_total(visits, period_start="2024-07-01 00:00",
                              period_end="2024-07-01 10:15") == 45.0 / 60


def test_dosage_minutes_use_real_time_across_the_clock_change(tmp_path):
    log, _ = read_patrol_log(write(
        tmp_path, "hotspot,start,end,unit\nH1,27/10/2024 00:30,27/10/2024 02:30,PC1\n"))
    out = dosage_achieved(log, PLANNED, date(2024, 10, 27), date(2024, 10, 27))
    assert out.loc[0, "minutes"] == 180.0
    assert patrol_hours_total(log) == 3.0


def test_bad_arguments():
    visits = visits_frame([("H1", "PC1", "2024-06-01 20:00", "2024-06-01 20:30")])
    with pytest.raises(ValueError, match="planned needs columns"):
        dosage_achieved(visits, PLANNED.drop(columns="planned_minutes"), date(2024, 6, 1),
                        date(2024, 6, 2))
    with pytest.raises(ValueError, match="not after"):
        dosage_achieved(visits, PLANNED, "2024-06-02", "2024-06-01")
    with pytest.raises(ValueError, match="both"):
        patrol_hours_total(visits, period_start=date(2024, 6, 1))
