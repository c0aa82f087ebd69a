"""The synthetic sample: deterministic, well-formed, and carrying the patterns it promises."""

from __future__ import annotations

import gzip
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from geo.boundaries import assign_areas, load_boundaries
from geo.projection import to_bng
from geo.sample import (
    CATEGORIES,
    DEFAULT_SEED,
    NTE_CENTRES,
    SAMPLE_COLUMNS,
    SAMPLE_FILES,
    generate_sample,
    write_sample,
)
from geo.settings import bundled_sample_dir

N = 5_000
SAMPLE_FILE = bundled_sample_dir() / "lancashire_synthetic_incidents.csv.gz"
#: Domestic incidents are at homes: never this close to a night-time economy centre.
DOMESTIC_CLEARANCE_M = 300.0
#: "In the town centre" for the night-time economy checks.
CENTRE_RADIUS_M = 400.0


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return generate_sample(n=N, seed=DEFAULT_SEED)


@pytest.fixture(scope="module")
def times(sample: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(sample["occurred_at"], format="%Y-%m-%d %H:%M")


def _centre_distance_m(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x, y = to_bng(lon, lat)
    cx, cy = to_bng(
        np.array([c[0] for c in NTE_CENTRES.values()]),
        np.array([c[1] for c in NTE_CENTRES.values()]),
    )
    return np.sqrt((x[:, None] - cx) ** 2 + (y[:, None] - cy) ** 2).min(axis=1)


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    a = generate_sample(n=800, seed=11)
    b = generate_sample(n=800, seed=11)
    c = generate_sample(n=800, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a[["longitude", "latitude"]].equals(c[["longitude", "latitude"]])


def test_columns_and_value_domains(sample: pd.DataFrame, times: pd.Series) -> None:
    assert tuple(sample.columns) == SAMPLE_COLUMNS
    assert len(sample) == N
    assert sample["incident_id"].is_unique
    assert sample["incident_id"].str.fullmatch(r"SYN-\d{6}").all()
    assert sample["occurred_at"].str.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d").all()
    assert times.is_monotonic_increasing
    assert times.min() >= pd.Timestamp("2022-04-01")
    assert times.max() < pd.Timestamp("2025-04-01")
    assert set(sample["category"]) == set(CATEGORIES)
    assert set(sample["source"]) <= {"police", "ed", "ambulance"}
    police = sample["source"] == "police"
    assert set(sample.loc[police, "domestic"]) == {"true", "false"}
    assert set(sample.loc[~police, "domestic"]) == {""}
    for col in ("longitude", "latitude"):
        assert np.array_equal(sample[col], sample[col].round(6))
    assert sample["longitude"].between(-3.2, -2.0).all()
    assert sample["latitude"].between(53.4, 54.3).all()


def test_no_time_in_the_skipped_spring_hour(times: pd.Series) -> None:
    # Raises if any clock time does not exist in UK local time.
    times.dt.tz_localize("Europe/London", nonexistent="raise", ambiguous="NaT")


def test_sources_and_categories_are_plausible(sample: pd.DataFrame) -> None:
    ed = sample[sample["source"] == "ed"]
    assert 0.10 < len(ed) / len(sample) < 0.20
    assert (ed["category"] == "Violence with injury").mean() > 0.7
    shares = sample["category"].value_counts(normalize=True)
    assert shares.index[0] in ("Violence without injury", "Violence with injury")
    assert shares["Robbery"] < 0.08 and shares["Sexual offences"] < 0.08


def test_domestic_is_a_fifth_of_police_violence_and_at_homes(sample: pd.DataFrame) -> None:
    violence = sample["category"].str.startswith("Violence") & (sample["source"] == "police")
    share = (sample.loc[violence, "domestic"] == "true").mean()
    assert 0.15 <= share <= 0.25
    domestic = sample[sample["domestic"] == "true"]
    dist = _centre_distance_m(domestic["longitude"].to_numpy(), domestic["latitude"].to_numpy())
    assert dist.min() > DOMESTIC_CLEARANCE_M


def test_town_centre_nights_peak_on_friday_and_saturday(
    sample: pd.DataFrame, times: pd.Series
) -> None:
    hour = times.dt.hour.to_numpy()
    at_night = (hour >= 20) | (hour < 5)
    # An incident in the small hours belongs to the night before.
    night_of = (times - pd.to_timedelta((hour < 12).astype(int), unit="D")).dt.day_of_week
    in_centre = (
        _centre_distance_m(sample["longitude"].to_numpy(), sample["latitude"].to_numpy())
        < CENTRE_RADIUS_M
    )
    per_night = pd.Series(night_of[in_centre & at_night]).value_counts()
    weekend_nights = per_night.reindex([4, 5]).fillna(0).mean()
    other_nights = per_night.reindex([0, 1, 2, 3, 6]).fillna(0).mean()
    assert weekend_nights > 4 * other_nights


def test_small_hours_are_busier_at_weekends(times: pd.Series) -> None:
    hour, dow = times.dt.hour, times.dt.day_of_week
    small = hour.isin([0, 1, 2])
    weekend_per_day = (small & dow.isin([5, 6])).sum() / 2
    weekday_per_day = (small & (dow < 5)).sum() / 5
    assert weekend_per_day > 2 * weekday_per_day


def test_summer_is_busier_than_winter(times: pd.Series) -> None:
    month = times.dt.month
    days_in = times.dt.days_in_month
    per_day = (1 / days_in).groupby(month).sum()
    summer = per_day.loc[[6, 7, 8]].mean()
    winter = per_day.loc[[12, 1, 2]].mean()
    assert summer > 1.2 * winter


def test_after_school_hours_carry_more_robbery(sample: pd.DataFrame, times: pd.Series) -> None:
    after_school = (times.dt.day_of_week < 5) & times.dt.hour.between(15, 18)
    robbery = sample["category"] == "Robbery"
    assert robbery[after_school].mean() > 1.5 * robbery[~after_school].mean()


def test_points_lie_in_the_study_area_and_follow_population(sample: pd.DataFrame) -> None:
    b = load_boundaries(None)
    x, y = to_bng(sample["longitude"].to_numpy(), sample["latitude"].to_numpy())
    a = assign_areas(x, y, b, tolerance_m=0.0)
    assert pd.isna(a.code).mean() < 0.001
    counts = pd.Series(a.code).value_counts()
    pop = pd.Series(b.population())
    rho = spearmanr(counts.reindex(pop.index).fillna(0), pop).statistic
    assert rho > 0.6


# ---------------------------------------------------------------------------------------------
# The committed sample


def test_committed_sample_is_a_gzipped_csv_with_the_expected_header() -> None:
    assert SAMPLE_FILE.exists()
    assert SAMPLE_FILE.stat().st_size <= 3 * 1024 * 1024
    with open(SAMPLE_FILE, "rb") as fh:
        assert fh.read(2) == b"\x1f\x8b"
    with gzip.open(SAMPLE_FILE, "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n") == ",".join(SAMPLE_COLUMNS)
    df = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    # the police records only: ED and ambulance records are in their own files
    assert len(df) >= 50_000
    assert set(df["source"]) == {"police"}
    assert df["incident_id"].is_unique


def test_committed_police_rows_are_those_of_the_generator() -> None:
    """Splitting the sample by source left every police row as the generator draws it."""
    police = generate_sample().query("source == 'police'").reset_index(drop=True)
    committed = pd.read_csv(SAMPLE_FILE, dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(committed, police.astype(str))


def test_committed_sample_has_persistent_micro_hotspots() -> None:
    df = pd.read_csv(SAMPLE_FILE, usecols=["occurred_at", "longitude", "latitude"])
    x, y = to_bng(df["longitude"].to_numpy(), df["latitude"].to_numpy())
    cell = (x // 100).astype(np.int64) * 10_000_000 + (y // 100).astype(np.int64)
    year = df["occurred_at"].str[:4].astype(int)

    def top_cells(mask: pd.Series) -> set[int]:
        return set(pd.Series(cell[mask.to_numpy()]).value_counts().index[:30])

    first, last = top_cells(year == 2022), top_cells(year == 2024)
    # The busiest 100 m cells of the first year are still among the busiest two years on.
    assert len(first & last) >= 20


def test_readme_says_the_data_are_synthetic() -> None:
    text = (bundled_sample_dir() / "README.md").read_text(encoding="utf-8")
    assert "SYNTHETIC" in text.splitlines()[0]
    assert re.search(r"not real incidents", text, flags=re.IGNORECASE)
    assert "seed" in text and str(DEFAULT_SEED) in text


def test_mapping_names_the_sample_columns() -> None:
    doc = tomllib.loads((bundled_sample_dir() / "mapping.toml").read_text(encoding="utf-8"))
    assert set(doc["columns"].values()) == set(SAMPLE_COLUMNS)
    assert doc["datetime"]["format"] == "%Y-%m-%d %H:%M"
    assert "SYNTHETIC" in (bundled_sample_dir() / "mapping.toml").read_text().splitlines()[0]


@pytest.mark.slow
def test_committed_sample_is_reproducible(tmp_path: Path) -> None:
    fresh = write_sample(tmp_path)
    assert sorted(fresh) == sorted(SAMPLE_FILES)
    for key, path in fresh.items():
        committed = bundled_sample_dir() / SAMPLE_FILES[key]
        assert path.read_bytes() == committed.read_bytes(), key
