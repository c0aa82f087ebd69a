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

import numpy as np
import pandas as pd
import pyarrow as pa

from geo.settings import H3_RESOLUTIONS, TIMEZONE

#: How exact an incident's time is. ``month`` rows (police.uk) have no day, weekday or hour.
TIME_PRECISIONS = ("minute", "hour", "day", "month")

#: Known sources; others are accepted as written (lower-cased).
SOURCES = ("police", "ed", "ambulance")

#: Columns every reader returns, in this order.
#:
#: ``line`` is the 1-based line (or feature) number in the input file, for rejects;
#: ``occurred_at`` is tz-aware Europe/London or NaT; ``month`` is ``YYYY-MM``;
#: coordinates a file does not give are NaN; ``domestic`` is a nullable boolean (unknown = NA).
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
)

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
    ]
)


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
        }
    )
