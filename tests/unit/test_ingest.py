"""The ingest pipeline derives the right keys and accounts for every row."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from geo.boundaries import load_boundaries
from geo.ingest import _repeated, derive, reason_key, to_table
from geo.schema import STORED_SCHEMA, empty_raw
from geo.settings import TIMEZONE


@pytest.fixture(scope="module")
def lancashire():
    return load_boundaries(None)


def raw(rows: list[dict]) -> pd.DataFrame:
    frame = empty_raw()
    out = pd.DataFrame(rows)
    for col in frame.columns:
        if col not in out:
            out[col] = pd.NA
    out = out[list(frame.columns)]
    out["occurred_at"] = pd.to_datetime(out["occurred_at"]).dt.tz_localize(TIMEZONE)
    return out.astype(frame.dtypes.to_dict())


def test_derive_assigns_areas_cells_and_times(lancashire):
    rows = raw([
        # Preston city centre by lon/lat, Sunday 02:30 BST, just after the clocks went forward
        {"line": 2, "incident_id": "a", "occurred_at": "2024-03-31 02:30", "month": "2024-03",
         "time_precision": "minute", "lon": -2.7030, "lat": 53.7590, "category": "Robbery",
         "source": "police"},
        # Blackpool by British National Grid metres only
        {"line": 3, "incident_id": "b", "occurred_at": "2024-06-07 23:15", "month": "2024-06",
         "time_precision": "minute", "easting": 330_700.0, "northing": 436_200.0,
         "category": "Robbery", "source": "ed"},
        # London: outside the study area
        {"line": 4, "incident_id": "c", "occurred_at": "2024-06-07 23:15", "month": "2024-06",
         "time_precision": "minute", "lon": -0.1246, "lat": 51.5007, "category": "Robbery",
         "source": "police"},
        # month only (police.uk)
        {"line": 5, "incident_id": "d", "occurred_at": None, "month": "2024-06",
         "time_precision": "month", "lon": -2.7030, "lat": 53.7590, "category": "Robbery",
         "source": "police"},
    ])
    out, rejects, _ = derive(rows, lancashire)
    assert list(out["incident_id"]) == ["a", "b", "d"]
    assert list(out["la_code"]) == ["E07000123", "E06000009", "E07000123"]
    assert list(rejects["line"]) == [4]
    assert rejects.loc[0, "reason"].startswith("outside the study area:")
    assert "km from the nearest boundary" in rejects.loc[0, "reason"]
    # Blackpool's lon/lat was filled in from its grid reference
    assert out.loc[out.incident_id == "b", "lon"].iloc[0] == pytest.approx(-3.05, abs=0.02)
    # local clock time gives weekday and hour; month-only rows have neither
    assert list(out["dow"]) == [6, 4, -1]
    assert list(out["hour"]) == [2, 23, -1]
    assert str(out["local_date"].iloc[0])[:10] == "2024-03-31"
    assert pd.isna(out["local_date"].iloc[2])
    table = to_table(out)
    assert table.schema == STORED_SCHEMA
    assert len({table.column("h3_9")[0].as_py(), table.column("h3_10")[0].as_py()}) == 2


def test_repeated_ids_marked_after_first_even_in_chunked_columns():
    ids = pd.Series(["x", "y", "x", None, "y", "z"], dtype="string")
    assert list(_repeated(ids)) == [False, False, True, False, True, False]
    big = pd.Series(pa.chunked_array([["a", "b"], ["a", "c"]]).to_pandas(), dtype="string")
    assert list(_repeated(big)) == [False, False, True, False]


@pytest.mark.parametrize(
    ("reason", "key"),
    [("date not understood: '31/02/2024'", "date not understood"),
     ("no coordinates (Longitude and Latitude are blank)", "no coordinates"),
     ("outside the study area: 2.3 km from the nearest boundary (Preston)",
      "outside the study area")],
    ids=["date", "coords", "outside"],
)
def test_reasons_group_by_kind(reason, key):
    assert reason_key(reason) == key
