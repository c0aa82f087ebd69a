"""The canonical incident table: one schema for every source.

Readers turn a file into *raw incidents* (:data:`RAW_COLUMNS`); the ingest pipeline derives the
keys every view needs (British National Grid coordinates, local authority, H3 cells, local date,
day of week and hour) and stores :data:`STORED_SCHEMA`. Later columns can be appended to both
without breaking older stores: the loader fills a missing optional column with nulls.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from geo.settings import H3_RESOLUTIONS, TIMEZONE

#: How exact an incident's time is. ``month`` rows (police.uk) have no day, weekday or hour.
TIME_PRECISIONS = ("minute", "hour", "day", "month")

#: Known sources; others are accepted as written (lower-cased).
SOURCES = ("police", "ed", "ambulance")
#: The sources whose records are patients' (emergency departments, ambulance services): read
#: by :mod:`geo.istv`, and in figures only for roles that may see health figures
#: (:attr:`geo.access.Scope.health`).
HEALTH_SOURCES = ("ed", "ambulance")

#: Columns every reader returns, in this order.
#:
#: ``line`` is the 1-based line (or feature) number in the input file, for rejects;
#: ``occurred_at`` is tz-aware Europe/London or NaT; ``month`` is ``YYYY-MM``;
#: coordinates a file does not give are NaN; ``domestic`` is a nullable boolean (unknown = NA);
#: ``location`` is the place as the source words it ("On or near Talbot Road" on police.uk),
#: ``lsoa_name`` the Lower Layer Super Output Area a police.uk row names ("Blackpool 010E"),
#: both NA where the source gives none. They name places (:mod:`geo.names`).
RAW_COLUMNS = (
    "line",
    "incident_id",
    "occurred_at",
    "month",
    "time_precision",
    "lon",
    "lat",
    "easting",
    "northing",
    "category",
    "source",
    "domestic",
    "location",
    "lsoa_name",
)

#: Raw columns a reader may leave out; :func:`empty_raw` gives their type and a missing one is
#: filled with NA.
OPTIONAL_RAW_COLUMNS = ("lsoa_name",)

#: Columns only health records (emergency department, ambulance: :mod:`geo.istv`) fill; every
#: other reader leaves them out and they are stored as null. ``location_precision`` null means
#: a point of the source's own (police rows).
HEALTH_COLUMNS = ("location_precision", "assault_at", "location_type", "weapon", "assailants",
                  "relationship", "age_band", "sex", "call_category")

H3_COLUMNS = tuple(f"h3_{res}" for res in H3_RESOLUTIONS)

STORED_SCHEMA = pa.schema(
    [
        pa.field("incident_id", pa.string(), nullable=False),
        pa.field("occurred_at", pa.timestamp("us", tz=TIMEZONE)),
        pa.field("month", pa.string(), nullable=False),
        pa.field("time_precision", pa.string(), nullable=False),
        pa.field("lon", pa.float64(), nullable=False),
        pa.field("lat", pa.float64(), nullable=False),
        pa.field("easting", pa.float64(), nullable=False),
        pa.field("northing", pa.float64(), nullable=False),
        pa.field("category", pa.string(), nullable=False),
        pa.field("source", pa.string(), nullable=False),
        pa.field("domestic", pa.bool_()),
        pa.field("location", pa.string()),
        pa.field("la_code", pa.string(), nullable=False),
        # Local calendar date, day of week (0 = Monday) and hour; null/-1 where the time is
        # coarser than the field (a month-only row has none of them).
        pa.field("local_date", pa.date32()),
        pa.field("dow", pa.int8(), nullable=False),
        pa.field("hour", pa.int8(), nullable=False),
        *[pa.field(col, pa.uint64(), nullable=False) for col in H3_COLUMNS],
        pa.field("batch_id", pa.string(), nullable=False),
        # Appended later: a store written before holds no such column and reads it as null.
        # Descriptive, like the derived keys: left out of CONTENT_COLUMNS, so a file read
        # again after an upgrade is a duplicate of its stored rows, never a conflict.
        pa.field("lsoa_name", pa.string()),
        # Health records (geo.istv). Descriptive too: what a record *is* is its content
        # columns; these say more about it. No patient identifier is ever among them.
        pa.field("location_precision", pa.string()),
        pa.field("assault_at", pa.timestamp("us", tz=TIMEZONE)),
        pa.field("location_type", pa.string()),
        pa.field("weapon", pa.string()),
        pa.field("assailants", pa.string()),
        pa.field("relationship", pa.string()),
        pa.field("age_band", pa.string()),
        pa.field("sex", pa.string()),
        pa.field("call_category", pa.string()),
        # Each record's key for disclosure noise (geo.disclosure.record_keys), worked out
        # when it is stored from its id and the site's secret, so every engine sums the same
        # keys. Null in files stored before it existed (read as the hash of the id then).
        pa.field("rkey", pa.uint32()),
    ]
)


#: The columns that say what an incident record holds. Two rows with the same id and equal
#: values here are one record seen twice (a duplicate); with any value different they are a
#: conflict. Derived keys (area, cells, time keys) are left out: they follow from these and
#: from the boundaries in use, which may have changed since a row was stored.
CONTENT_COLUMNS = (
    "occurred_at",
    "month",
    "time_precision",
    "lon",
    "lat",
    "category",
    "source",
    "domestic",
    "location",
)

#: Decimal places of longitude and latitude compared (1e-7 degrees is about 1 cm): a point
#: given in grid metres is converted to degrees, and the last bits of that may differ between
#: library versions.
LONLAT_DECIMALS = 7


class ReadError(Exception):
    """A whole file cannot be read; the message names the file and says what is wrong."""


@dataclass
class ReadResult:
    """What a reader returns: accepted raw rows and rejected rows with reasons.

    Attributes
    ----------
    rows : pandas.DataFrame
        Raw incidents with exactly :data:`RAW_COLUMNS`.
    rejects : pandas.DataFrame
        Columns ``line`` (int), ``reason`` (plain English) and ``raw`` (the input row as text).
    lines_read : int
        Data rows read from the file (accepted + rejected).
    """

    rows: pd.DataFrame
    rejects: pd.DataFrame
    lines_read: int
    notes: list[str] = field(default_factory=list)


def empty_rejects() -> pd.DataFrame:
    """Return an empty rejects table with the right columns."""
    return pd.DataFrame({"line": pd.Series([], dtype="int64"), "reason": [], "raw": []})


def make_rejects(lines: Sequence[int] | np.ndarray, reasons: Sequence[str] | str,
                 raw: Sequence[str] | None = None) -> pd.DataFrame:
    """Build a rejects table; ``reasons`` may be one string for all rows."""
    n = len(lines)
    if isinstance(reasons, str):
        reasons = [reasons] * n
    return pd.DataFrame(
        {
            "line": np.asarray(lines, dtype="int64"),
            "reason": list(reasons),
            "raw": list(raw) if raw is not None else [""] * n,
        }
    )


def content_ids(parts: pd.DataFrame, prefix: str) -> pd.Series:
    """Return stable ids for rows that have none, derived from their content.

    Two identical rows in one file are two incidents (police.uk publishes one row per
    anti-social-behaviour incident, many at the same snapped point and month), so the id also
    counts how many identical rows came before: re-reading the same file gives the same ids,
    and the second identical row never collides with the first.

    Parameters
    ----------
    parts : pandas.DataFrame
        The columns that identify an incident, as text.
    prefix : str
        Short tag for the id's origin, e.g. ``"asb"``.

    Returns
    -------
    pandas.Series
        ``prefix-<24 hex digits>`` ids aligned to ``parts.index``.

    Examples
    --------
    >>> df = pd.DataFrame({"a": ["x", "x", "y"]})
    >>> ids = content_ids(df, "t")
    >>> ids.iloc[0] != ids.iloc[1], ids.iloc[0] == content_ids(df, "t").iloc[0]
    (True, True)
    """
    text = parts.astype("string").fillna("").agg("\x1f".join, axis=1)
    ordinal = text.groupby(text, sort=False).cumcount().astype(str)
    keys = (text + "\x1e" + ordinal).tolist()
    digests = [hashlib.blake2b(k.encode("utf-8"), digest_size=12).hexdigest() for k in keys]
    return pd.Series([f"{prefix}-{d}" for d in digests], index=parts.index, dtype="string")


def empty_raw() -> pd.DataFrame:
    """Return an empty raw-incident table with the right dtypes."""
    return pd.DataFrame(
        {
            "line": pd.Series([], dtype="int64"),
            "incident_id": pd.Series([], dtype="string"),
            "occurred_at": pd.Series([], dtype=f"datetime64[us, {TIMEZONE}]"),
            "month": pd.Series([], dtype="string"),
            "time_precision": pd.Series([], dtype="string"),
            "lon": pd.Series([], dtype="float64"),
            "lat": pd.Series([], dtype="float64"),
            "easting": pd.Series([], dtype="float64"),
            "northing": pd.Series([], dtype="float64"),
            "category": pd.Series([], dtype="string"),
            "source": pd.Series([], dtype="string"),
            "domestic": pd.Series([], dtype="boolean"),
            "location": pd.Series([], dtype="string"),
            "lsoa_name": pd.Series([], dtype="string"),
        }
    )


def content_differences(here: pa.Table, there: pa.Table) -> dict[str, np.ndarray]:
    """Compare two aligned tables row by row over :data:`CONTENT_COLUMNS`.

    Parameters
    ----------
    here, there : pyarrow.Table
        Tables with the stored schema's content columns and the same number of rows.

    Returns
    -------
    dict of str to numpy.ndarray
        For each content column, True where the two rows differ. Two blanks are equal;
        longitude and latitude are compared to :data:`LONLAT_DECIMALS` places.

    Examples
    --------
    >>> blank = {c: pa.array([None, None], STORED_SCHEMA.field(c).type) for c in CONTENT_COLUMNS}
    >>> a = pa.table({**blank, "category": ["Robbery", "Burglary"]})
    >>> b = pa.table({**blank, "category": ["Robbery", "Robbery"]})
    >>> content_differences(a, b)["category"].tolist(), content_differences(a, b)["lon"].tolist()
    ([False, True], [False, False])
    """
    out: dict[str, np.ndarray] = {}
    for name in CONTENT_COLUMNS:
        x, y = here.column(name), there.column(name)
        if pa.types.is_floating(x.type):
            x, y = pc.round(x, LONLAT_DECIMALS), pc.round(y, LONLAT_DECIMALS)
        same = pc.or_kleene(pc.equal(x, y), pc.and_(pc.is_null(x), pc.is_null(y)))
        out[name] = ~np.asarray(pc.fill_null(same, False).to_numpy(zero_copy_only=False),
                                dtype=bool)
    return out


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "blank"
    if isinstance(value, datetime):
        return f"'{value:%Y-%m-%d %H:%M}'"
    if isinstance(value, float):
        return f"{value:.6f}"
    text = str(value)
    return f"'{text[:60]}…'" if len(text) > 60 else f"'{text}'"


def describe_differences(
    here: pa.Table, there: pa.Table, differs: dict[str, np.ndarray], rows: np.ndarray,
    there_name: str,
) -> list[str]:
    """Say how each of ``rows`` differs, e.g. ``a different category ('A' here, 'B' stored)``.

    Examples
    --------
    >>> blank = {c: pa.array([None], STORED_SCHEMA.field(c).type) for c in CONTENT_COLUMNS}
    >>> a = pa.table({**blank, "category": ["Assault"]})
    >>> b = pa.table({**blank, "category": ["Robbery"]})
    >>> describe_differences(a, b, content_differences(a, b), np.array([0]), "on line 2")
    ["a different category ('Assault' here, 'Robbery' on line 2)"]
    """
    out = []
    for i in rows:
        parts = [
            f"{name} ({_shown(here.column(name)[int(i)].as_py())} here, "
            f"{_shown(there.column(name)[int(i)].as_py())} {there_name})"
            for name in CONTENT_COLUMNS if differs[name][i]
        ]
        shown = parts[:3] + ([f"{len(parts) - 3} more"] if len(parts) > 3 else [])
        out.append("a different " + ", ".join(shown))
    return out


def row_text(table: pa.Table) -> list[str]:
    """Return each row's id and content as one comma-separated line, for a rejects file."""
    cols = ["incident_id", "occurred_at", "month", "lon", "lat", "category", "source"]
    text = [
        pc.strftime(table.column(c), format="%Y-%m-%d %H:%M") if c == "occurred_at"
        else pc.cast(table.column(c), pa.string())
        for c in cols
    ]
    filled = [pc.fill_null(t, "") for t in text]
    return [str(v) for v in pc.binary_join_element_wise(*filled, ",").to_pylist()]
