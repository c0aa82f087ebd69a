"""Readers on real public files: police.uk Merseyside months and San Francisco robberies."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from geo.readers import Mapping, detect_format, read_file
from geo.schema import RAW_COLUMNS

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
pytestmark = pytest.mark.skipif(
    not SHARED.exists(), reason=f"real public data folder {SHARED} is not present"
)

POLICE_FILES = sorted((SHARED / "police_uk").glob("*/*.csv.gz"))
SF = SHARED / "timestamped" / "san_francisco_robbery.csv"


@pytest.fixture(scope="module")
def police_results():
    return {path.parent.name: read_file(path) for path in POLICE_FILES}


def test_four_police_months_all_rows_accounted_for(police_results):
    assert len(police_results) == 4
    assert all(detect_format(p) == "police_uk" for p in POLICE_FILES)
    total = 0
    for month, result in police_results.items():
        assert len(result.rows) + len(result.rejects) == result.lines_read
        assert list(result.rows.columns) == list(RAW_COLUMNS)
        assert set(result.rows["month"]) == {month}
        total += result.lines_read
    assert total == 55_676


def test_police_ids_unique_and_asb_rows_get_content_ids(police_results):
    for result in police_results.values():
        rows = result.rows
        assert rows["incident_id"].notna().all() and (rows["incident_id"] != "").all()
        assert rows["incident_id"].is_unique
        asb = rows["category"] == "Anti-social behaviour"
        assert asb.sum() > 1000  # Merseyside reports thousands of ASB incidents a month
        assert rows.loc[asb, "incident_id"].str.startswith("asb-").all()
        assert not rows.loc[~asb, "incident_id"].str.startswith("asb-").any()


def test_police_reread_gives_identical_ids(police_results):
    path = POLICE_FILES[0]
    again = read_file(path)
    pd.testing.assert_series_equal(
        police_results[path.parent.name].rows["incident_id"], again.rows["incident_id"]
    )


def test_san_francisco_with_mapping_keeps_clock_time():
    mapping = Mapping(
        id="uid", datetime="date_time", lon="longitude", lat="latitude",
        category="offense_type", offset="ignore",
    )
    assert detect_format(SF) == "csv"
    result = read_file(SF, mapping)
    assert result.lines_read == 951
    assert len(result.rows) == 951 and result.rejects.empty
    first = result.rows.iloc[0]
    assert first["incident_id"] == "24103841"
    # The file says 19:50Z but holds local clock time: it stays 19:50.
    assert first["occurred_at"].strftime("%Y-%m-%d %H:%M") == "2019-01-01 19:50"
    assert first["time_precision"] == "minute"
    assert (result.rows["time_precision"] == "minute").all()
    assert first["category"] == "personal robbery" and first["source"] == "police"
