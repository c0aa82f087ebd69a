"""CSV cells that spreadsheets cannot run: every CSV the product writes goes through here.

Excel, LibreOffice and Power BI treat a cell starting with ``=``, ``+``, ``-``, ``@``, a tab or
a carriage return as a formula, so a zone or venue named ``=HYPERLINK(...)`` would run when an
analyst opens the download. Following OWASP's advice on CSV injection, such text cells get a
leading apostrophe, which spreadsheets show as plain text. Numbers (including negative ones)
are left alone so columns stay numeric.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Return ``value`` with a leading apostrophe if a spreadsheet would read it as a formula.

    Examples
    --------
    >>> safe_cell("=1+2"), safe_cell("@SUM(A1)"), safe_cell("-3"), safe_cell(-3)
    ("'=1+2", "'@SUM(A1)", '-3', -3)
    >>> safe_cell("Preston centre"), safe_cell(None)
    ('Preston centre', None)
    """
    if not isinstance(value, str) or not value.startswith(_FORMULA_START):
        return value
    if value[0] in "+-" and _is_number(value):
        return value
    return "'" + value


def _is_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` whose text cells and column names are safe to open.

    Examples
    --------
    >>> frame = pd.DataFrame({"name": ["=cmd|' /C calc'!A0", "Bar"], "n": [1, 2]})
    >>> safe_frame(frame)["name"].tolist()
    ["'=cmd|' /C calc'!A0", 'Bar']
    """
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or isinstance(out[col].dtype, pd.StringDtype):
            out[col] = out[col].map(safe_cell)
    out.columns = [safe_cell(str(c)) if isinstance(c, str) else c for c in out.columns]
    return out


def to_csv_text(frame: pd.DataFrame, **kwargs: Any) -> str:
    """Write ``frame`` as CSV text with every text cell made safe (no index by default)."""
    kwargs.setdefault("index", False)
    return str(safe_frame(frame).to_csv(**kwargs))


def rows_to_csv_text(rows: Iterable[Iterable[Any]]) -> str:
    """Write plain rows (the first is the header) as CSV text with every cell made safe.

    Examples
    --------
    >>> print(rows_to_csv_text([["section", "value"], ["zone", "+44 evil"]]), end="")
    section,value
    zone,'+44 evil
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for row in rows:
        writer.writerow([safe_cell(v) if not isinstance(v, np.generic) else v.item()
                         for v in row])
    return out.getvalue()
