"""Harm weight tables: how much each offence category counts when ranking places.

Nothing here ships weights. An analyst loads their own table, category -> weight, for example
the Cambridge Crime Harm Index value of each of their offence codes; until they do, every
incident counts 1 (:data:`EQUAL`). Categories are matched ignoring case and runs of spaces
("Violence  with injury" is "violence with injury"), but the table keeps and shows the file's
spelling. A category the table does not list gets the table's explicit ``default`` weight.

The table file is a small CSV with a header row. The category column may be called
``category``, ``offence`` or ``crime type`` and the weight column ``weight``, ``harm``, ``chi``
or ``score`` (any case; if a file has two of them, the first in those lists is used). Other
columns are ignored. Every data row is either used or rejected with its line number and a
reason; a file that cannot be used at all raises :class:`geo.schema.ReadError`.
"""

from __future__ import annotations

import csv
import json
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo.atomic import write_text_atomic
from geo.csvsafe import rows_to_csv_text
from geo.schema import ReadError, empty_rejects, make_rejects
from geo.settings import TIMEZONE, limits
from geo.uploads import read_upload_bytes, row_limit_message, text_lines

__all__ = [
    "CATEGORY_COLUMNS",
    "EQUAL",
    "STORE_NAME",
    "WEIGHT_COLUMNS",
    "HarmWeights",
    "load_harm_weights",
    "load_stored_harm_weights",
    "normalise_category",
    "store_harm_weights",
]

#: Accepted names of the category column, in order of preference (matched ignoring case).
CATEGORY_COLUMNS = ("category", "offence", "crime type")
#: Accepted names of the weight column, in order of preference (matched ignoring case).
WEIGHT_COLUMNS = ("weight", "harm", "chi", "score")
#: File name of the stored table inside the data directory.
STORE_NAME = "harm_weights.json"
_STORE_VERSION = 1

#: A quoted "1,825" in a CSV is a thousands separator, never a decimal comma.
_THOUSANDS_RE = re.compile(r"^[-+]?\d{1,3}(,\d{3})+(\.\d*)?$")


def normalise_category(text: str) -> str:
    """Return the form categories are matched on: case-folded, spaces collapsed and trimmed.

    Examples
    --------
    >>> normalise_category("  Violence  with INJURY ")
    'violence with injury'
    """
    return " ".join(str(text).split()).casefold()


@dataclass(frozen=True)
class HarmWeights:
    """A harm weight per offence category, and where the table came from.

    Parameters
    ----------
    weights : dict of str to float
        Category (as spelled in the source file) -> weight, zero or more.
    source : str
        Where the weights came from: file name and load time, or the default's description.
    default : float
        Weight of a category the table does not list.

    Examples
    --------
    >>> hw = HarmWeights({"Burglary - Residential": 365.0}, "chi.csv", default=1.0)
    >>> hw.weight_for("burglary -  residential"), hw.weight_for("Shoplifting")
    (365.0, 1.0)
    >>> hw.is_equal, EQUAL.is_equal
    (False, True)
    """

    weights: dict[str, float]
    source: str
    default: float = 1.0
    _lookup: dict[str, float] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not _is_weight(self.default):
            raise ValueError(f"default weight must be a number, zero or more; got {self.default!r}")
        lookup: dict[str, float] = {}
        first: dict[str, str] = {}
        for category, weight in self.weights.items():
            key = normalise_category(category)
            if not key:
                raise ValueError("a category is blank")
            if not _is_weight(weight):
                raise ValueError(
                    f"weight of '{category}' must be a number, zero or more; got {weight!r}"
                )
            if key in first:
                raise ValueError(
                    f"categories '{first[key]}' and '{category}' are the same once case and "
                    "spaces are ignored"
                )
            first[key] = category
            lookup[key] = float(weight)
        object.__setattr__(self, "_lookup", lookup)

    def weight_for(self, category: str) -> float:
        """Return the weight of ``category`` (case and spacing ignored), or the default."""
        return self._lookup.get(normalise_category(category), float(self.default))

    def weights_for(self, categories: Iterable[str]) -> np.ndarray:
        """Return the weight of each category, as float64.

        Examples
        --------
        >>> HarmWeights({"Robbery": 5.0}, "t").weights_for(["robbery", "Arson"]).tolist()
        [5.0, 1.0]
        """
        return np.array([self.weight_for(c) for c in categories], dtype="float64")

    def for_categories(self, categories: Iterable[str]) -> dict[str, float]:
        """Return ``{category: weight}`` for categories spelled as the data spells them.

        The query layer looks categories up exactly; this resolves the case- and
        space-insensitive match (and the default) once per category name.

        Examples
        --------
        >>> HarmWeights({"Robbery": 5.0}, "t", default=0.5).for_categories(["ROBBERY", "Arson"])
        {'ROBBERY': 5.0, 'Arson': 0.5}
        """
        return {c: self.weight_for(c) for c in categories}

    @property
    def is_equal(self) -> bool:
        """True when every category gets the same weight (so harm ranks like a count)."""
        return all(w == self.default for w in self._lookup.values())

    def as_rows(self) -> list[dict[str, Any]]:
        """Return the table as ``[{"category": ..., "weight": ...}, ...]`` in file order.

        The default weight is not a row; show it with :attr:`default`.

        Examples
        --------
        >>> HarmWeights({"Robbery": 5.0, "Arson": 2.0}, "t").as_rows()
        [{'category': 'Robbery', 'weight': 5.0}, {'category': 'Arson', 'weight': 2.0}]
        """
        return [{"category": c, "weight": float(w)} for c, w in self.weights.items()]


def _is_weight(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


#: Every incident counts 1: the weights in force until an analyst loads a table.
EQUAL = HarmWeights({}, "equal weights (default): every incident counts 1")


# --------------------------------------------------------------------------------------------
# Small CSV files (harm tables, patrol logs): read whole, with physical line numbers
# --------------------------------------------------------------------------------------------


def _read_small_csv(
    path: Path, what: str, label: str | None = None
) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return the header and ``(line, fields)`` of every data row of a small UTF-8 CSV.

    ``line`` is the 1-based physical line a row starts on (the header is line 1); blank lines
    are not rows. ``what`` names the file's purpose in error messages ("harm weight table") and
    ``label`` the file (default: ``path``). The file may be gzipped; its size, decompressed
    size and number of rows are bounded by :func:`geo.settings.limits`.
    """
    label = label or str(path)
    data = read_upload_bytes(path, label)
    if not data:
        raise ReadError(f"{label}: the file is empty (0 bytes); expected a {what} CSV.")
    if data.startswith(b"PK\x03\x04"):
        raise ReadError(
            f"{label}: this is an Excel workbook or a zip archive, not a CSV. In Excel use "
            "Save As > 'CSV UTF-8 (Comma delimited)'."
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        hint = ""
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = " It looks like UTF-16 ('Unicode text')."
        elif data[exc.start] >= 0x80:
            hint = " It looks like Windows-1252 / Latin-1 (e.g. a '£' or accented letter)."
        raise ReadError(
            f"{label}: the file is not UTF-8 text: byte 0x{data[exc.start]:02X} on line {line} "
            f"is not valid UTF-8.{hint} Re-save the file as UTF-8 (in Excel: Save As > "
            "'CSV UTF-8 (Comma delimited)')."
        ) from None
    if not text.strip():
        raise ReadError(f"{label}: the file is empty (it holds no text); expected a {what} CSV.")
    del text  # checked; the reader decodes the bytes again a block at a time
    reader = csv.reader(text_lines(data, "utf-8-sig", label))
    cap = limits().upload_rows
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    prev_line = 0
    try:
        for record in reader:
            start, prev_line = prev_line + 1, reader.line_num
            if not record or all(not f.strip() for f in record):
                continue  # a blank line (or a row of empty cells from a spreadsheet) is not a row
            if header is None:
                header = record
            elif len(rows) == cap:
                raise ReadError(row_limit_message(label, cap))
            else:
                rows.append((start, record))
    except csv.Error as exc:
        raise ReadError(
            f"{label}: not a readable CSV file near line {prev_line + 1}: {exc}."
        ) from None
    return header or [], rows


def _find_column(header: list[str], names: Iterable[str]) -> int | None:
    """Return the position of the first of ``names`` in ``header``, ignoring case and spaces."""
    normalised = [normalise_category(h) for h in header]
    for name in names:
        if name in normalised:
            return normalised.index(name)
    return None


def _row_text(record: list[str]) -> str:
    """Return a rejected row as one line of CSV, its cells made safe to open in a spreadsheet.

    The text lands in rejects tables that an analyst may download and open in Excel, so a cell
    such as ``=HYPERLINK(...)`` from a hostile file must not become a live formula.
    """
    return rows_to_csv_text([record]).removesuffix("\n")


def _parse_weight(text: str) -> tuple[float | None, str | None]:
    """Return ``(weight, None)`` or ``(None, reason)``."""
    value = text.strip()
    if not value:
        return None, "weight is blank"
    number_text = value.replace(",", "") if _THOUSANDS_RE.match(value) else value
    try:
        number = float(number_text)
    except ValueError:
        return None, f"weight '{value}' is not a number"
    if not math.isfinite(number):
        return None, f"weight '{value}' is not a number"
    if number < 0:
        return None, f"weight {value} is negative; harm weights must be zero or more"
    return number, None


def load_harm_weights(
    path: str | Path, *, default: float = 1.0, source_name: str | None = None
) -> tuple[HarmWeights, pd.DataFrame]:
    r"""Read a harm weight table (CSV) and return it with any rejected rows.

    The file needs a header naming a category column (``category``, ``offence`` or ``crime
    type``) and a weight column (``weight``, ``harm``, ``chi`` or ``score``), in any case; other
    columns are ignored. It must be UTF-8 (a byte-order mark is fine). A row is rejected, with
    its line number, if its category is blank, its weight is blank, not a number or negative,
    or its category repeats an earlier accepted row's (ignoring case and spaces: the first is
    kept and the rejection names its line).
    A weight written with thousands separators (``"1,825"``) is read as 1825.

    Parameters
    ----------
    path : str or Path
        The CSV file.
    default : float
        Weight of categories the table does not list (1 unless told otherwise).
    source_name : str, optional
        How to name the file in messages and in ``source`` (an upload's original name);
        default: ``path`` (its name in ``source``).

    Returns
    -------
    weights : HarmWeights
        ``source`` names the file and the local time it was loaded.
    rejects : pandas.DataFrame
        ``line``, ``reason``, ``raw`` (see :func:`geo.schema.make_rejects`).

    Raises
    ------
    geo.schema.ReadError
        If the file is missing, empty, not UTF-8, beyond the upload limits (the message names
        the limit and its setting), has no category or weight column (the message lists the
        columns found) or no usable row at all.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "chi.csv"
    >>> _ = p.write_text("Offence,CHI,notes\nBurglary,365,\nRobbery,high,\nburglary,300,\n")
    >>> hw, rejects = load_harm_weights(p)
    >>> hw.weights
    {'Burglary': 365.0}
    >>> rejects[["line", "reason"]].values.tolist()
    [[3, "weight 'high' is not a number"], [4, "category 'burglary' is already given on line 2"]]
    """
    path = Path(path)
    label = source_name or str(path)
    header, rows = _read_small_csv(path, "harm weight table", label)
    cat_pos = _find_column(header, CATEGORY_COLUMNS)
    weight_pos = _find_column(header, WEIGHT_COLUMNS)
    if cat_pos is None or weight_pos is None:
        missing = []
        if cat_pos is None:
            missing.append(f"a category column ({' / '.join(CATEGORY_COLUMNS)})")
        if weight_pos is None:
            missing.append(f"a weight column ({' / '.join(WEIGHT_COLUMNS)})")
        raise ReadError(
            f"{label}: the harm weight table needs {' and '.join(missing)}. Columns found: "
            f"{', '.join(repr(h) for h in header)}."
        )
    if not rows:
        raise ReadError(f"{label}: the harm weight table has a header but no rows of weights.")
    weights: dict[str, float] = {}
    first_line: dict[str, int] = {}
    bad_lines: list[int] = []
    reasons: list[str] = []
    raws: list[str] = []
    for line, record in rows:
        reason = None
        if len(record) != len(header) and len(record) <= max(cat_pos, weight_pos):
            reason = (
                f"row has {len(record)} field{'s' if len(record) != 1 else ''} but the header "
                f"has {len(header)} (a row cut short?)"
            )
        else:
            category = record[cat_pos].strip()
            key = normalise_category(category)
            weight, reason = _parse_weight(record[weight_pos])
            if not key:
                reason = "category is blank"
            elif key in first_line:
                reason = f"category '{category}' is already given on line {first_line[key]}"
            elif reason is None and weight is not None:
                # keep the file's spelling (trimmed) for display
                weights[" ".join(category.split())] = weight
                first_line[key] = line
        if reason is not None:
            bad_lines.append(line)
            reasons.append(reason)
            raws.append(_row_text(record))
    if not weights:
        shown = "; ".join(f"line {n}: {r}" for n, r in zip(bad_lines[:3], reasons[:3], strict=True))
        raise ReadError(
            f"{label}: none of the {len(rows)} rows of the harm weight table could be used "
            f"({shown}{'; ...' if len(rows) > 3 else ''})."
        )
    loaded = datetime.now(ZoneInfo(TIMEZONE)).strftime("%Y-%m-%d %H:%M")
    rejects = make_rejects(bad_lines, reasons, raws) if bad_lines else empty_rejects()
    shown = source_name or path.name
    return HarmWeights(weights, f"{shown}, loaded {loaded}", default=default), rejects


def store_harm_weights(weights: HarmWeights, dest_dir: str | Path) -> Path:
    """Save the table as JSON in the data directory, replacing any earlier one atomically.

    The file is written beside its final name, flushed to disk and then renamed over it, so a
    crash leaves either the old table or the new one, never half of one.

    Parameters
    ----------
    weights : HarmWeights
        The table to keep.
    dest_dir : str or Path
        The data directory (created if missing).

    Returns
    -------
    Path
        The stored file, ``dest_dir / "harm_weights.json"``.

    Examples
    --------
    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> hw = HarmWeights({"Robbery": 5.0}, "chi.csv, loaded 2024-06-01 09:00", default=0.5)
    >>> load_stored_harm_weights(d) == EQUAL
    True
    >>> _ = store_harm_weights(hw, d)
    >>> load_stored_harm_weights(d) == hw
    True
    """
    dest = Path(dest_dir)
    dest.mkdir(parents=True, exist_ok=True)
    target = dest / STORE_NAME
    doc = {
        "version": _STORE_VERSION,
        "source": weights.source,
        "default": float(weights.default),
        "weights": weights.as_rows(),
    }
    write_text_atomic(target, json.dumps(doc, ensure_ascii=False, indent=1))
    return target


def load_stored_harm_weights(dest_dir: str | Path) -> HarmWeights:
    """Return the table saved by :func:`store_harm_weights`, or :data:`EQUAL` if there is none.

    Raises
    ------
    geo.schema.ReadError
        If the stored file exists but cannot be read (it is then left as it is).

    Examples
    --------
    >>> import tempfile
    >>> load_stored_harm_weights(tempfile.mkdtemp()).source
    'equal weights (default): every incident counts 1'
    """
    target = Path(dest_dir) / STORE_NAME
    if not target.exists():
        return EQUAL
    try:
        doc = json.loads(target.read_text(encoding="utf-8"))
        if doc.get("version") != _STORE_VERSION:
            raise ValueError(f"unknown version {doc.get('version')!r}")
        weights = {str(r["category"]): float(r["weight"]) for r in doc["weights"]}
        return HarmWeights(weights, str(doc["source"]), default=float(doc["default"]))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ReadError(
            f"{target}: the stored harm weight table cannot be read ({exc}); load the table "
            "again from its CSV file."
        ) from None
