"""Shared, small, deterministic fixtures. Every point set states its CRS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from geo.h3index import cells_multi
from geo.projection import to_wgs84
from geo.schema import H3_COLUMNS, STORED_SCHEMA
from geo.settings import H3_RESOLUTIONS, TIMEZONE

#: Real public files for integration tests live beside the checkout, never inside it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
needs_shared = pytest.mark.skipif(
    not SHARED_DATA.exists(), reason=f"real public data folder {SHARED_DATA} is absent"
)

#: Preston city centre in British National Grid metres (EPSG:27700).
PRESTON_BNG = (353_750.0, 429_410.0)


def stored_table(
    easting: np.ndarray,
    northing: np.ndarray,
    occurred_at: list[str | None],
    *,
    category: list[str] | str = "Violence with injury",
    source: list[str] | str = "police",
    domestic: list[bool | None] | None = None,
    la_code: list[str] | str = "E07000123",
    month: list[str] | None = None,
    location: list[str | None] | None = None,
    lsoa_name: list[str | None] | None = None,
) -> pa.Table:
    """Build a table in the stored schema from BNG points (EPSG:27700) and local times.

    ``occurred_at`` entries of None need ``month`` (month-only rows, as police.uk gives).
    """
    n = len(easting)
    easting = np.asarray(easting, dtype=float)
    northing = np.asarray(northing, dtype=float)
    lon, lat = to_wgs84(easting, northing)
    times = pd.to_datetime(pd.Series(occurred_at, dtype="object")).dt.tz_localize(
        TIMEZONE, ambiguous="NaT", nonexistent="NaT")
    has_time = times.notna().to_numpy()
    months = month or [t.strftime("%Y-%m") for t in times]
    cells = cells_multi(lat, lon, H3_RESOLUTIONS)

    def listify(v: object) -> list:
        return list(v) if isinstance(v, list) else [v] * n

    frame = {
        "incident_id": [f"T{i:06d}" for i in range(n)],
        "occurred_at": times,
        "month": months,
        "time_precision": ["minute" if t else "month" for t in has_time],
        "lon": lon, "lat": lat, "easting": easting, "northing": northing,
        "category": listify(category), "source": listify(source),
        "domestic": domestic if domestic is not None else [None] * n,
        "location": location if location is not None else [None] * n,
        "lsoa_name": lsoa_name if lsoa_name is not None else [None] * n,
        "la_code": listify(la_code),
        "local_date": [t.date() if ok else None for t, ok in zip(times, has_time, strict=False)],
        "dow": np.where(has_time, times.dt.day_of_week.fillna(-1), -1).astype("int8"),
        "hour": np.where(has_time, times.dt.hour.fillna(-1), -1).astype("int8"),
        "batch_id": [""] * n,
    }
    for res, col in zip(H3_RESOLUTIONS, H3_COLUMNS, strict=False):
        frame[col] = cells[res]
    arrays = [pa.array(frame[f.name], type=f.type, from_pandas=True) if f.name in frame
              else pa.nulls(n, type=f.type)  # health fields: null on police rows
              for f in STORED_SCHEMA]
    return pa.Table.from_arrays(arrays, schema=STORED_SCHEMA)


@pytest.fixture
def planted_points() -> dict[str, np.ndarray]:
    """Seeded BNG points (EPSG:27700): 2,000 uniform over 10 km plus 300 within ~40 m of a
    planted hotspot at Preston city centre, which any hotspot method must find."""
    rng = np.random.default_rng(42)
    bg_e = rng.uniform(PRESTON_BNG[0] - 5000, PRESTON_BNG[0] + 5000, 2000)
    bg_n = rng.uniform(PRESTON_BNG[1] - 5000, PRESTON_BNG[1] + 5000, 2000)
    hs_e = rng.normal(PRESTON_BNG[0], 40, 300)
    hs_n = rng.normal(PRESTON_BNG[1], 40, 300)
    return {
        "easting": np.concatenate([bg_e, hs_e]),
        "northing": np.concatenate([bg_n, hs_n]),
        "is_planted": np.r_[np.zeros(2000, bool), np.ones(300, bool)],
        "centre": np.array(PRESTON_BNG),
    }
