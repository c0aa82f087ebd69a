"""The sample's ED (ISTV) and ambulance files: their planted properties, and how they load.

Every number checked here is planted by geo/sample.py and geo/sample_health.py and documented in
data/sample/README.md; the files are SYNTHETIC.
"""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from geo.boundaries import assign_areas, load_boundaries
from geo.projection import to_bng
from geo.sample import (
    NTE_CENTRES,
    SAMPLE_FILES,
    UNDER_REPORTED,
    generate_sample,
    generate_sample_files,
    write_sample,
)
from geo.sample_health import (
    AMBULANCE_COLUMNS,
    ED_COLUMNS,
    LSOA_CENTROID_COLUMNS,
    NIGHT_HOURS,
    ONSPD_COLUMNS,
    PRECISION_SHARES,
)
from geo.settings import AREA_TOLERANCE_M, bundled_sample_dir

#: The Lancashire ED snapshot found 40.6 % of assault attendances "at night"; the sample's
#: night (arrivals 22:00-05:59) should hold about as many.
NIGHT_SHARE = 0.406
NIGHT_TOLERANCE = 0.03
#: Each way of placing a record is within this of its planned share.
PRECISION_TOLERANCE = 0.03
#: "At the planted spot": within this distance of it.
SPOT_RADIUS_M = 250.0
#: Postcodes and outward codes used by the made-up directory.
LANCASHIRE_DISTRICTS = {
    "BB1", "BB2", "BB3", "BB4", "BB5", "BB6", "BB7", "BB8", "BB9", "BB10", "BB11", "BB12",
    "BB18", "FY1", "FY2", "FY3", "FY4", "FY5", "FY6", "FY7", "FY8", "L39", "L40", "LA1", "LA2",
    "LA3", "LA4", "LA5", "OL13", "PR1", "PR2", "PR3", "PR4", "PR5", "PR6", "PR7", "PR25",
    "PR26", "WN8",
}
N = 6_000


def _read(key: str) -> pd.DataFrame:
    return pd.read_csv(bundled_sample_dir() / SAMPLE_FILES[key], dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def ed() -> pd.DataFrame:
    return _read("ed")


@pytest.fixture(scope="module")
def ambulance() -> pd.DataFrame:
    return _read("ambulance")


@pytest.fixture(scope="module")
def police() -> pd.DataFrame:
    return _read("incidents")


@pytest.fixture(scope="module")
def postcodes() -> pd.DataFrame:
    return _read("postcodes")


@pytest.fixture(scope="module")
def small() -> tuple[pd.DataFrame, object]:
    """All the incidents of a small sample, and its files (same seed)."""
    return generate_sample(n=N, seed=7), generate_sample_files(n=N, seed=7)


def _arrivals(frame: pd.DataFrame) -> pd.Series:
    return pd.to_datetime(frame.iloc[:, 1] + " " + frame.iloc[:, 2], format="%d/%m/%Y %H:%M")


def _distance_m(lon: np.ndarray, lat: np.ndarray, point: tuple[float, float]) -> np.ndarray:
    x, y = to_bng(lon, lat)
    px, py = to_bng(np.array([point[0]]), np.array([point[1]]))
    return np.hypot(x - px[0], y - py[0])


# ---------------------------------------------------------------------------------------------
# The files and their layouts


def test_every_file_says_it_is_synthetic_and_the_readme_lists_them() -> None:
    readme = (bundled_sample_dir() / "README.md").read_text(encoding="utf-8")
    for name in SAMPLE_FILES.values():
        assert name.startswith("lancashire_synthetic_")
        assert (bundled_sample_dir() / name).is_file()
        assert f"`{name}`" in readme
    assert re.search(r"postcodes.*made up", readme, flags=re.IGNORECASE | re.DOTALL)
    assert "NOT the real" in readme


@pytest.mark.parametrize(("key", "header"), [
    ("ed", ED_COLUMNS), ("ambulance", AMBULANCE_COLUMNS), ("postcodes", ONSPD_COLUMNS),
    ("lsoa_centroids", LSOA_CENTROID_COLUMNS)], ids=["ed", "ambulance", "postcodes", "lsoas"])
def test_each_file_has_its_published_layout(key: str, header: tuple[str, ...]) -> None:
    path = bundled_sample_dir() / SAMPLE_FILES[key]
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        assert fh.readline().rstrip("\n") == ",".join(header)


def test_health_ids_are_the_generators_and_times_are_arrival_times(
    small: tuple[pd.DataFrame, object],
) -> None:
    truth, files = small
    health = truth[truth["source"] != "police"].set_index("incident_id")
    ed = files.ed.set_index("Attendance ID")
    amb = files.ambulance.set_index("Incident ID")
    # every generated ED or ambulance record is in its file under its id, at its time
    assert set(ed.index) | set(amb.index) >= set(health.index)
    assert set(amb.index) == set(health.index[health["source"] == "ambulance"])
    for frame in (ed, amb):
        mine = health.reindex(frame.index).dropna(subset=["occurred_at"])
        when = _arrivals(frame.reset_index()).set_axis(frame.index).loc[mine.index]
        assert (when.dt.strftime("%Y-%m-%d %H:%M") == mine["occurred_at"]).all()
    # the planted attendances are numbered after the generated incidents
    extra = ed.index.difference(health.index)
    assert len(extra) == round(N * 330 / 60_000)
    assert (extra.str[4:].astype(int) > N).all()
    pd.testing.assert_frame_equal(
        files.incidents, truth[truth["source"] == "police"].reset_index(drop=True))


def test_same_seed_same_files_other_seed_other_files(tmp_path: Path) -> None:
    for name in "abc":
        (tmp_path / name).mkdir()
    a = write_sample(tmp_path / "a", n=1_500, seed=5, compresslevel=1)
    b = write_sample(tmp_path / "b", n=1_500, seed=5, compresslevel=1)
    c = write_sample(tmp_path / "c", n=1_500, seed=6, compresslevel=1)
    for key in SAMPLE_FILES:
        assert a[key].read_bytes() == b[key].read_bytes(), key
    for key in ("incidents", "ed", "ambulance", "postcodes"):
        assert a[key].read_bytes() != c[key].read_bytes(), key


# ---------------------------------------------------------------------------------------------
# When: night and weekend peaks


def test_about_40_percent_of_ed_arrivals_are_at_night(ed: pd.DataFrame) -> None:
    hour = _arrivals(ed).dt.hour
    night = hour.isin(NIGHT_HOURS).mean()
    assert abs(night - NIGHT_SHARE) <= NIGHT_TOLERANCE, night
    # and the night is the busiest stretch: 8 night hours hold far more than 8/24 of arrivals
    assert night > 1.2 * 8 / 24


def test_arrivals_peak_at_weekends_and_in_the_small_hours_of_weekends(
    ed: pd.DataFrame, ambulance: pd.DataFrame,
) -> None:
    for frame in (ed, ambulance):
        when = _arrivals(frame)
        dow = when.dt.day_of_week
        per_weekend_day = dow.isin([4, 5, 6]).sum() / 3
        per_weekday = dow.isin([0, 1, 2, 3]).sum() / 4
        assert per_weekend_day > 1.5 * per_weekday
        small = when.dt.hour.isin([0, 1, 2, 3])
        assert (small & dow.isin([5, 6])).sum() / 2 > 3 * (small & dow.isin([1, 2, 3])).sum() / 3
        # busiest hour after 20:00 or before 03:00, quietest in the early morning
        by_hour = when.dt.hour.value_counts()
        assert by_hour.idxmax() in (20, 21, 22, 23, 0, 1, 2)
        assert by_hour.idxmin() in (4, 5, 6, 7)


# ---------------------------------------------------------------------------------------------
# Where: the precision mix and the made-up postcode directory


@pytest.mark.parametrize("key", ["ed", "ambulance"])
def test_precision_mix_each_row_places_one_way(key: str) -> None:
    frame = _read(key)
    point = (frame["Latitude"] != "") & (frame["Longitude"] != "")
    postcode = frame["Postcode"] != ""
    lsoa = frame["LSOA"] != ""
    assert (point.astype(int) + postcode + lsoa == 1).all()
    shares = {"point": point.mean(), "postcode": postcode.mean(), "lsoa": lsoa.mean()}
    for how, planned in PRECISION_SHARES.items():
        assert abs(shares[how] - planned) <= PRECISION_TOLERANCE, (how, shares)


def test_postcode_directory_is_onspd_shaped_with_real_districts_and_made_up_units(
    postcodes: pd.DataFrame, ed: pd.DataFrame, ambulance: pd.DataFrame,
) -> None:
    assert tuple(postcodes.columns) == ONSPD_COLUMNS
    assert postcodes["pcds"].is_unique
    assert postcodes["pcds"].str.fullmatch(r"[A-Z]{1,2}\d{1,2} \d[ABD-HJLNP-UW-Z]{2}").all()
    assert set(postcodes["pcds"].str.split(" ").str[0]) <= LANCASHIRE_DISTRICTS
    east = postcodes["oseast1m"].astype(float)
    # the centre of a 100 m grid square
    assert ((east % 100) == 50).all() and ((postcodes["osnrth1m"].astype(float) % 100) == 50).all()
    assert postcodes["osnrth1m"].str.len().eq(7).all()
    assert postcodes["lsoa21"].str.fullmatch(r"E01\d{6}|").all()
    terminated = postcodes[postcodes["doterm"] != ""]
    assert 1 <= len(terminated) <= 10
    assert terminated["doterm"].str.fullmatch(r"20(1[5-9]|2[01])(0[1-9]|1[0-2])").all()
    used = pd.concat([ed["Postcode"], ambulance["Postcode"]])
    used = used[used != ""].str.replace(" ", "").str.upper()
    known = set(postcodes["pcds"].str.replace(" ", ""))
    missing = used[~used.isin(known)]
    assert 1 <= len(missing) <= 10  # the few planted rejects, documented in the README


def test_postcode_and_lsoa_placing_keeps_each_record_in_its_authority(
    small: tuple[pd.DataFrame, object],
) -> None:
    truth, files = small
    b = load_boundaries(None)
    truth = truth.set_index("incident_id")
    pc = files.postcodes.assign(key=files.postcodes["pcds"].str.replace(" ", ""))
    pc = pc.set_index("key")
    cent = files.lsoa_centroids.set_index("LSOA11CD")
    checked = 0
    for frame, id_col in ((files.ed, "Attendance ID"), (files.ambulance, "Incident ID")):
        rows = frame[frame[id_col].isin(truth.index)]
        key = rows["Postcode"].str.replace(" ", "").str.upper()
        by_pc = key.isin(pc.index[pc["doterm"] == ""])
        by_lsoa = rows["LSOA"] != ""
        x = np.r_[pc.loc[key[by_pc], "oseast1m"].astype(float),
                  cent.loc[rows.loc[by_lsoa, "LSOA"], "x"].astype(float)]
        y = np.r_[pc.loc[key[by_pc], "osnrth1m"].astype(float),
                  cent.loc[rows.loc[by_lsoa, "LSOA"], "y"].astype(float)]
        ids = np.r_[rows.loc[by_pc, id_col], rows.loc[by_lsoa, id_col]]
        placed = assign_areas(x, y, b, tolerance_m=AREA_TOLERANCE_M).code
        tx, ty = to_bng(truth.loc[ids, "longitude"].to_numpy(), truth.loc[ids, "latitude"]
                        .to_numpy())
        true_la = assign_areas(tx, ty, b, tolerance_m=AREA_TOLERANCE_M).code
        assert (placed == true_la).all()
        # a postcode centroid is within its 100 m square of the record's point
        d = np.hypot(x[: by_pc.sum()] - tx[: by_pc.sum()], y[: by_pc.sum()] - ty[: by_pc.sum()])
        assert d.max() <= 50 * np.sqrt(2) + 1
        checked += len(ids)
    assert checked > 0.45 * (len(files.ed) + len(files.ambulance))


# ---------------------------------------------------------------------------------------------
# What: the ISTV fields


def test_istv_fields_are_plausible(ed: pd.DataFrame) -> None:
    weapon = ed["Weapon"].value_counts(normalize=True)
    assert weapon.idxmax() == "Fists/feet"
    assert 0.05 <= weapon["Knife"] <= 0.10
    assert set(ed["Location Type"]) == {
        "Street/public place", "Pub/club", "Home", "School/college", "Workplace", "Shop",
        "Public transport", "Other", ""}
    # glass and bottles are a night-time economy weapon
    at_bars = ed["Location Type"] == "Pub/club"
    glass = ed["Weapon"] == "Glass/bottle"
    assert glass[at_bars].mean() > 2 * glass[~at_bars].mean()
    # domestic assaults (a partner or family member) happen at home
    domestic = ed["Relationship to Assailant"].isin(["Partner/ex-partner", "Family member"])
    assert 0.10 <= domestic.mean() <= 0.25
    assert (ed.loc[domestic, "Location Type"] == "Home").mean() > 0.85
    assert (ed.loc[ed["Location Type"] == "Home", "Assault Location"].isin(["Home address", ""])
            ).all()
    assert ed.loc[at_bars, "Assault Location"].str.contains(", ").mean() > 0.85
    assert set(ed["Number of Assailants"]) == {"1", "2", "3", "4", "Multiple", "Not known"}
    assert set(ed["Sex"]) == {"Male", "Female", ""}
    assert (ed["Sex"] == "Male").mean() > 0.55


def test_ages_skew_young_and_come_as_age_or_date_of_birth(ed: pd.DataFrame) -> None:
    age = pd.to_numeric(ed["Age"], errors="coerce")
    dob = pd.to_datetime(ed["Date of Birth"], format="%d/%m/%Y", errors="coerce")
    arrival = _arrivals(ed)
    assert age.between(15, 24).sum() / age.notna().sum() > 0.30
    assert age.median() < 35
    dob_only = age.isna() & dob.notna()
    assert 0.10 <= dob_only.mean() <= 0.20
    both = age.notna() & dob.notna()
    assert both.sum() > 0
    years = (arrival.dt.year - dob.dt.year - (
        (arrival.dt.month < dob.dt.month)
        | ((arrival.dt.month == dob.dt.month) & (arrival.dt.day < dob.dt.day))))
    assert (years[both] == age[both]).all()


def test_assaults_happen_minutes_to_hours_before_arrival(ed: pd.DataFrame) -> None:
    given = ed["Date of Assault"] != ""
    assert abs((~given).mean() - 0.20) <= 0.02
    assault = pd.to_datetime(ed.loc[given, "Date of Assault"] + " "
                             + ed.loc[given, "Time of Assault"], format="%d/%m/%Y %H:%M")
    minutes = (_arrivals(ed)[given] - assault).dt.total_seconds() / 60
    # 5 min to 3 h; an hour more where the clocks went forward in between
    assert minutes.between(5, 240).all()
    assert minutes.between(5, 180).mean() > 0.999
    assert 20 <= minutes.median() <= 60


def test_identifier_columns_are_there_and_obviously_fake(ed: pd.DataFrame,
                                                         ambulance: pd.DataFrame) -> None:
    for frame in (ed, ambulance):
        assert frame["Patient Name"].str.fullmatch(r"SYNTHETIC PATIENT A?\d{6}").all()
        assert frame["Patient Name"].is_unique
    # NHS numbers starting 999 are never issued
    assert ed["NHS Number"].str.fullmatch(r"999 \d{3} \d{4}").all()


def test_ambulance_call_categories_and_natures(ambulance: pd.DataFrame) -> None:
    cats = ambulance["Call Category"].value_counts(normalize=True)
    assert set(cats.index) == {"Category 1", "Category 2", "Category 3", "Category 4"}
    assert cats.idxmax() == "Category 2"
    stab = ambulance["Nature"] == "Stab/gunshot"
    assert stab.any() and (ambulance.loc[stab, "Call Category"].isin(
        ["Category 1", "Category 2"])).all()


# ---------------------------------------------------------------------------------------------
# The planted under-reporting


def test_blackburn_late_bar_shows_in_hospital_data_and_not_in_police_data(
    ed: pd.DataFrame, police: pd.DataFrame,
) -> None:
    def late_weekend(when: pd.Series) -> np.ndarray:
        hour = when.dt.hour
        night_of = (when - pd.to_timedelta((hour < 12).astype(int), unit="D")).dt.day_of_week
        return (hour.isin([23, 0, 1, 2, 3]) & night_of.isin([4, 5])).to_numpy()

    spot = UNDER_REPORTED["Blackburn"]
    point = ed["Latitude"] != ""
    ed_pts = ed[point]
    near_ed = _distance_m(ed_pts["Longitude"].astype(float).to_numpy(),
                          ed_pts["Latitude"].astype(float).to_numpy(), spot) < SPOT_RADIUS_M
    ed_late = late_weekend(_arrivals(ed_pts))
    p_when = pd.to_datetime(police["occurred_at"], format="%Y-%m-%d %H:%M")
    near_p = _distance_m(police["longitude"].astype(float).to_numpy(),
                         police["latitude"].astype(float).to_numpy(), spot) < SPOT_RADIUS_M
    p_late = late_weekend(p_when)
    # with coordinates alone (about half the planted rows) ED sees well over 100 late-night
    # assaults there in three years; the police recorded a handful
    assert (near_ed & ed_late).sum() > 120
    assert (near_p & p_late).sum() < 10
    # the spot is not a night-time economy centre the police data already shows
    centre = NTE_CENTRES["Blackburn"][:2]
    assert _distance_m(np.array([spot[0]]), np.array([spot[1]]), centre)[0] > 500


# ---------------------------------------------------------------------------------------------
# Loading: identifiers dropped, rejects with reasons, the pattern found in the store


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory):
    from geo.ingest import load_sample
    from geo.settings import DataPaths

    data = DataPaths(tmp_path_factory.mktemp("health-sample"))
    return data, load_sample(data)


def test_load_sample_stores_every_source_and_says_what_it_dropped(loaded) -> None:
    from geo.store import Store

    data, summaries = loaded
    assert [Path(s.file).name for s in summaries] == [
        SAMPLE_FILES["incidents"], SAMPLE_FILES["ed"], SAMPLE_FILES["ambulance"]]
    police, ed, amb = summaries
    assert police.accepted == len(_read("incidents")) and police.rejected == 0
    assert ed.read == len(_read("ed")) and amb.read == len(_read("ambulance"))
    assert amb.rejected == 0
    assert ed.rejected_by_reason == {"postcode terminated": 8,
                                     "postcode not in the postcode directory": 8}
    assert "Patient Name" in ed.columns_dropped["patient identifiers (not stored)"]
    assert "NHS Number" in ed.columns_dropped["patient identifiers (not stored)"]
    assert any("Date of Birth" in v for v in ed.columns_dropped.values())
    manifest = Store(data.store).manifest()
    assert manifest.kind == "sample" and len(manifest.batches) == 3
    # the made-up postcode directory was used, never left in the data directory
    assert not (data.root / "postcodes").exists()


def test_load_sample_keeps_no_identifier_anywhere_in_the_data_directory(loaded) -> None:
    from geo.store import Store

    data, _ = loaded
    _, table = Store(data.store).read()
    frame = table.to_pandas()
    assert not {"Patient Name", "NHS Number", "Date of Birth"} & set(frame.columns)
    text = frame.select_dtypes(exclude="number").astype(str)
    for needle in ("SYNTHETIC PATIENT", "999 0"):
        assert not text.apply(lambda c, n=needle: c.str.contains(n, regex=False)).any().any()
    ed = _read("ed")
    dobs = set(ed.loc[ed["Date of Birth"] != "", "Date of Birth"])
    for path in data.root.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".json", ".txt", ".gz"):
            raw = (gzip.decompress(path.read_bytes()) if path.suffix == ".gz"
                   else path.read_bytes()).decode("utf-8", "replace")
            # the summary names the dropped columns ("NHS Number"), never their values
            assert "SYNTHETIC PATIENT" not in raw and "999 0" not in raw, path
            assert not any(d in raw for d in list(dobs)[:200]), path


def test_the_stored_sample_shows_the_under_reported_spot(loaded) -> None:
    """Compare ED with police by H3 cell, late on Friday and Saturday nights: the cell where
    hospital data shows violence the police data does not is the planted Blackburn spot."""
    import h3

    from geo.store import Store

    data, _ = loaded
    _, table = Store(data.store).read(["source", "hour", "dow", "h3_9", "la_code",
                                       "location_precision"])
    d = table.to_pandas()
    night_of = np.where(d["hour"] < 12, (d["dow"] - 1) % 7, d["dow"])
    late = d["hour"].isin([23, 0, 1, 2, 3]) & np.isin(night_of, [4, 5])
    counts = pd.crosstab(d.loc[late, "h3_9"], d.loc[late, "source"])
    gap = counts["ed"] - counts["police"]
    top = gap.idxmax()
    lat, lon = h3.cell_to_latlng(h3.int_to_str(int(top)))
    assert _distance_m(np.array([lon]), np.array([lat]), UNDER_REPORTED["Blackburn"])[0] < 300
    assert counts.loc[top, "ed"] > 200 and counts.loc[top, "police"] < 10
    assert gap.drop(top).max() < 0.25 * gap[top]
    # every way of placing a record reached the store
    assert set(d.loc[d["source"] == "ed", "location_precision"]) == {"point", "postcode", "lsoa"}
