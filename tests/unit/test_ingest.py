"""The ingest pipeline derives the right keys and accounts for every row."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

from geo.boundaries import load_boundaries
from geo.ingest import _repeated, derive, ingest_file, reason_key, to_table
from geo.readers import Mapping
from geo.schema import STORED_SCHEMA, empty_raw
from geo.settings import TIMEZONE, DataPaths
from geo.store import Store


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


# --------------------------------------------------------------------------------------------
# Every row accounted for: accepted, duplicate, conflict or rejected
# --------------------------------------------------------------------------------------------

MAPPING = Mapping(id="ref", datetime="when", lat="lat", lon="lon", category="type")
HEAD = "ref,when,lat,lon,type\n"
PRESTON = "53.7590,-2.7030"
LONDON = "51.5007,-0.1246"


def _ingest(tmp_path, name: str, text: str, lancashire):
    path = tmp_path / name
    path.write_text(HEAD + text)
    return ingest_file(path, DataPaths(tmp_path / "d"), mapping=MAPPING, boundaries=lancashire)


def _accounted(summary) -> None:
    assert summary.read == (summary.accepted + summary.duplicates + summary.conflicts
                            + summary.rejected)


def _stored(tmp_path) -> dict[str, str]:
    table = Store(tmp_path / "d" / "store").read(columns=["incident_id", "category"])[1]
    return dict(zip(*(table.column(i).to_pylist() for i in range(2)), strict=True))


def test_a_valid_row_is_kept_when_an_invalid_row_came_first_with_its_id(tmp_path, lancashire):
    summary = _ingest(tmp_path, "a.csv", f"A1,2024-06-07 23:15,{LONDON},Robbery\n"
                                         f"A1,2024-06-07 23:15,{PRESTON},Robbery\n", lancashire)
    assert _stored(tmp_path) == {"police:A1": "Robbery"}
    assert (summary.accepted, summary.duplicates, summary.conflicts, summary.rejected) == (
        1, 0, 0, 1)
    _accounted(summary)


def test_same_id_with_different_content_in_one_file_is_a_conflict(tmp_path, lancashire):
    summary = _ingest(tmp_path, "a.csv",
                      f"A1,2024-06-07 23:15,{PRESTON},Robbery\n"     # line 2: kept
                      f"A1,2024-06-07 23:15,{PRESTON},Robbery\n"     # line 3: exact repeat
                      f"A1,2024-06-07 23:15,{PRESTON},Burglary\n"    # line 4: conflict
                      f"A2,2024-06-07 23:20,{PRESTON},Robbery\n", lancashire)
    assert _stored(tmp_path) == {"police:A1": "Robbery", "police:A2": "Robbery"}
    assert summary.rejects_file, "the conflicting row must be in the rejects file"
    rejects = pd.read_csv(summary.rejects_file)
    assert rejects["line"].tolist() == [4]
    reason = rejects["reason"].iloc[0]
    assert reason.startswith("id conflict within the file: the same id 'police:A1' as line 2")
    assert "category ('Burglary' here, 'Robbery' on line 2)" in reason
    assert (summary.accepted, summary.duplicates, summary.conflicts, summary.rejected) == (
        2, 1, 1, 0)
    assert summary.conflicts_by_reason == {"id conflict within the file": 1}
    assert "conflicts:" in summary.as_text() and "id conflict within the file" in summary.as_text()
    _accounted(summary)


def test_an_id_stored_with_other_content_is_a_conflict_not_a_duplicate(tmp_path, lancashire):
    _ingest(tmp_path, "first.csv", f"A1,2024-06-07 23:15,{PRESTON},Robbery\n"
                                   f"A2,2024-06-07 23:20,{PRESTON},Robbery\n", lancashire)
    summary = _ingest(tmp_path, "second.csv",
                      f"A1,2024-06-07 23:15,{PRESTON},Robbery\n"    # same as stored
                      f"A2,2024-06-08 01:20,{PRESTON},Robbery\n"    # another time
                      f"A3,2024-06-08 01:30,{PRESTON},Robbery\n", lancashire)
    assert summary.rejects_file, "the conflicting row must be in the rejects file"
    rejects = pd.read_csv(summary.rejects_file)
    assert rejects["line"].tolist() == [3]
    assert rejects["reason"].iloc[0] == (
        "id conflict with the store: id 'police:A2' is already stored (from first.csv) with a "
        "different occurred_at ('2024-06-08 01:20' here, '2024-06-07 23:20' stored)"
    )
    assert sorted(_stored(tmp_path)) == ["police:A1", "police:A2", "police:A3"]
    assert (summary.accepted, summary.duplicates, summary.conflicts, summary.rejected) == (
        1, 1, 1, 0)
    assert summary.conflicts_by_reason == {"id conflict with the store": 1}
    manifest = Store(tmp_path / "d" / "store").manifest()
    assert manifest.batches[-1].summary["conflicts"] == 1
    _accounted(summary)


def test_reingesting_a_file_gives_only_duplicates(tmp_path, lancashire):
    text = "".join(f"B{i},2024-06-0{1 + i % 7} 2{i % 4}:15,{PRESTON},Robbery\n" for i in range(30))
    first = _ingest(tmp_path, "b.csv", text, lancashire)
    again = _ingest(tmp_path, "b.csv", text, lancashire)
    assert (first.accepted, again.accepted, again.duplicates, again.conflicts) == (30, 0, 30, 0)
    _accounted(again)
