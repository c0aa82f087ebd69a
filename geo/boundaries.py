"""Study-area boundaries: the bundled Lancashire authorities, user imports, and point assignment.

Every incident is given the code of the local authority it falls in when it is ingested.
The bundled boundaries are the 14 local authorities of the Lancashire Violence Reduction
Network; an analyst can import their own polygons (GeoJSON, GeoPackage or Shapefile, any CRS)
into a data directory, and those are used instead.

Boundaries come in *levels*. The local authorities above are the ``authority`` level, stored
in the data directory's ``boundaries/`` folder itself. Any other level (``ward``, ``beat``,
``neighbourhood``...) is imported into its own folder, ``boundaries/levels/<name>/``, with
its own populations; incidents are placed in its areas when a figure asks for that level
(:func:`locate_areas`), never at ingest.

Areas are stored in WGS84 and measured in British National Grid (metres).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.atomic import fsync_dir, replace_durably, write_text_atomic
from geo.polygons import (
    check_source_path,
    plain_errors,
    polygonal_parts,
    read_polygon_layer,
    to_storage,
)
from geo.settings import (
    AREA_TOLERANCE_M,
    CRS_METRIC,
    CRS_STORAGE,
    bundled_boundaries_dir,
    limits,
)

__all__ = [
    "AUTHORITY",
    "AreaAssignment",
    "BoundaryError",
    "Boundaries",
    "PopulationProblems",
    "assign_areas",
    "check_level_name",
    "clear_population",
    "describe_outside",
    "import_boundaries",
    "import_level",
    "import_population",
    "level_dir",
    "level_names",
    "load_boundaries",
    "load_level",
    "load_levels",
    "locate_areas",
    "read_population_table",
    "remove_level",
]

#: The level of the boundaries incidents are assigned to at ingest: the local authorities.
AUTHORITY = "authority"
#: A level's name: lower case, starting with a letter (it names a folder and a URL value).
LEVEL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
#: Names that already mean something else where a level is chosen (``/api/v1/aggregate``
#: takes ``level=la`` for the authorities and ``level=h3`` for hexagons).
RESERVED_LEVELS = frozenset({"la", "h3"})
#: Folder, inside a data directory's ``boundaries/``, holding one folder per other level.
LEVELS_FOLDER = "levels"

#: File names inside a data directory's ``boundaries/`` folder.
IMPORTED_AREAS = "areas.geojson"
IMPORTED_META = "meta.json"
#: File names of the bundled boundaries.
BUNDLED_AREAS = "lancashire_lads.geojson"
BUNDLED_POPULATION = "population.csv"
#: A population table imported beside a data directory's boundaries (JSON: where it came
#: from, when, and its rows), kept as JSON so codes round-trip exactly.
IMPORTED_POPULATION = "population.json"

_BUNDLED_SOURCE = "bundled Lancashire boundaries"
#: Coordinates are rounded to this before de-duplication (1 cm), so points that differ only by
#: floating-point noise from a reprojection are tested once.
_DEDUP_SCALE = 100.0
#: Points are bucketed into this many easting strips so each area tests only the strips its
#: bounding box covers; a small integer key sorts in linear time.
_N_STRIPS = 4096
_MAX_COORD_M = 1e7
#: Rows probed to decide whether de-duplicating points is worth it.
_DEDUP_PROBE = 4096


class BoundaryError(Exception):
    """Boundaries cannot be read or imported; the message says why in plain English."""


class PopulationProblems(BoundaryError):
    """A population table has rows that cannot be used; nothing was imported.

    Attributes
    ----------
    problems : list of (int, str)
        ``(line number, reason)`` for every rejected row, line 1 being the header.
    """

    def __init__(self, file_name: str, n_rows: int, problems: list[tuple[int, str]]) -> None:
        self.problems = problems
        shown = "\n".join(f"  line {line}: {reason}" for line, reason in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(
            f"Nothing was imported from {file_name}: {len(problems)} of {n_rows} row(s) cannot "
            f"be used. Correct them and import the table again.\n{shown}{more}"
        )


@dataclass(eq=False)
class Boundaries:
    """A set of areas that incidents are assigned to.

    Attributes
    ----------
    areas : geopandas.GeoDataFrame
        One row per area, sorted by code, in EPSG:4326, with columns ``code`` (str), ``name``
        (str), ``population`` (float, NaN when unknown) and ``geometry`` (polygonal).
    source : str
        Short description for the interface, e.g. ``"bundled Lancashire boundaries"``.
    notes : list of str
        What was repaired or merged when the areas were imported.
    population_note : str
        Where the populations come from and their year, e.g. ``"mid-2020 populations,
        bundled ONS estimates"``; empty when no area has a population.
    level : str
        The level these areas are: :data:`AUTHORITY` or an imported level's name.

    Examples
    --------
    >>> b = load_boundaries(None)
    >>> b.names()["E07000123"]
    'Preston'
    >>> b.areas_bng.crs.to_epsg()
    27700
    """

    areas: gpd.GeoDataFrame
    source: str
    notes: list[str] = field(default_factory=list)
    population_note: str = ""
    level: str = AUTHORITY

    @cached_property
    def areas_bng(self) -> gpd.GeoDataFrame:
        """The areas in British National Grid (EPSG:27700)."""
        return self.areas.to_crs(CRS_METRIC)

    @cached_property
    def _index(self) -> _AreaIndex:
        return _AreaIndex.build(self.areas_bng)

    def names(self) -> dict[str, str]:
        """Return ``{code: name}`` for every area."""
        return dict(zip(self.areas["code"], self.areas["name"], strict=True))

    def population(self) -> dict[str, float]:
        """Return ``{code: population}`` for every area (NaN when unknown)."""
        pops = self.areas["population"].astype("float64")
        return dict(zip(self.areas["code"], pops.tolist(), strict=True))

    def population_source(self) -> str:
        """Say where the populations come from and which year, for every place rates appear.

        Examples
        --------
        >>> load_boundaries(None).population_source()
        'populations: mid-2020, bundled ONS estimates'
        """
        return f"populations: {self.population_note}" if self.population_note else ""

    def population_coverage(self) -> tuple[int, int]:
        """Return (areas with a population, areas).

        Examples
        --------
        >>> load_boundaries(None).population_coverage()
        (14, 14)
        """
        known = int(np.isfinite(self.areas["population"].astype("float64")).sum())
        return known, len(self.areas)


# --------------------------------------------------------------------------------------------
# Loading


def load_boundaries(boundaries_dir: Path | None) -> Boundaries:
    """Load the imported boundaries of a data directory, or the bundled ones.

    Parameters
    ----------
    boundaries_dir : Path or None
        A data directory's ``boundaries/`` folder (:attr:`geo.settings.DataPaths.boundaries`).
        If it holds an imported ``areas.geojson`` that is loaded; otherwise (or when ``None``)
        the bundled Lancashire boundaries from :func:`geo.settings.bundled_boundaries_dir`.

    Returns
    -------
    Boundaries
        Areas sorted by code. Populations missing from the area file are filled from the
        bundled ``population.csv`` by code; other areas get NaN.

    Raises
    ------
    BoundaryError
        If the boundary file exists but cannot be read.

    Examples
    --------
    >>> b = load_boundaries(None)
    >>> len(b.areas), b.source
    (14, 'bundled Lancashire boundaries')
    >>> round(b.population()["E06000009"])
    138381
    """
    if boundaries_dir is not None and (Path(boundaries_dir) / IMPORTED_AREAS).is_file():
        folder = Path(boundaries_dir)
        areas = _read_areas(folder / IMPORTED_AREAS)
        meta = _read_meta(folder / IMPORTED_META)
        source = _imported_source(meta)
        raw_notes = meta.get("notes")
        notes = [str(n) for n in raw_notes] if isinstance(raw_notes, list) else []
        # Imported areas take populations only from their own file or from a population
        # table imported beside them, never silently from the bundled Lancashire table: a
        # few borrowed populations would rank a neighbouring district above the real ones.
        field_name = meta.get("population_field")
        pop_note = (f"from the boundary file's field '{field_name}' (year not stated)"
                    if field_name and areas["population"].notna().any() else "")
        table, table_meta = _stored_population(folder)
        if table is not None:
            areas = _attach_population(areas, table, override=True)
            pop_note = _describe_table(table, areas, str(table_meta.get("source_file") or
                                                          "a population table"))
    else:
        areas = _read_areas(bundled_boundaries_dir() / BUNDLED_AREAS)
        source = _BUNDLED_SOURCE
        notes = []
        bundled = _bundled_population()
        areas = _attach_population(areas, bundled)
        pop_note = _describe_years(bundled, areas, "bundled ONS estimates", mid_year=True)
    return Boundaries(areas=areas, source=source, notes=notes, population_note=pop_note)


def _read_areas(path: Path) -> gpd.GeoDataFrame:
    try:
        gdf = gpd.read_file(path)
    except Exception as exc:
        raise BoundaryError(f"The boundary file {path} could not be read ({exc}).") from exc
    missing = {"code", "name"} - set(gdf.columns)
    if missing:
        raise BoundaryError(
            f"The boundary file {path} lacks the field(s) {', '.join(sorted(missing))}; "
            "import the boundaries again."
        )
    if gdf.crs is None:
        gdf = gdf.set_crs(CRS_STORAGE)
    gdf = gdf.to_crs(CRS_STORAGE)
    out = gpd.GeoDataFrame(
        {
            "code": gdf["code"].astype(str).to_numpy(),
            "name": gdf["name"].astype(str).to_numpy(),
            "population": (
                pd.to_numeric(gdf["population"], errors="coerce").astype("float64").to_numpy()
                if "population" in gdf.columns
                else np.full(len(gdf), np.nan)
            ),
        },
        geometry=gdf.geometry.to_numpy(),
        crs=CRS_STORAGE,
    )
    return out.sort_values("code", kind="stable").reset_index(drop=True)


def _read_meta(path: Path) -> dict[str, object]:
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def _imported_source(meta: dict[str, object]) -> str:
    name = meta.get("source_file") or "a file"
    when = str(meta.get("imported_at") or "")[:10] or "an unknown date"
    return f"imported from {name} on {when}"


def _bundled_population() -> pd.DataFrame:
    path = bundled_boundaries_dir() / BUNDLED_POPULATION
    try:
        table = pd.read_csv(path, dtype={"code": str})
    except (OSError, ValueError):
        return pd.DataFrame({"population": [], "year": []}, index=pd.Index([], name="code"))
    if "year" not in table.columns:
        table["year"] = pd.NA
    return table.set_index("code")[["population", "year"]]


def _stored_population(folder: Path) -> tuple[pd.DataFrame | None, dict[str, object]]:
    path = folder / IMPORTED_POPULATION
    if not path.is_file():
        return None, {}
    meta = _read_meta(path)
    rows = meta.get("rows")
    if not isinstance(rows, list):
        raise BoundaryError(f"The population table {path} could not be read; import it again "
                            "with 'hotspot boundaries population'.")
    table = pd.DataFrame(rows, columns=["code", "population", "year"])
    table["code"] = table["code"].astype(str)
    return table.set_index("code")[["population", "year"]], meta


def _attach_population(areas: gpd.GeoDataFrame, known: pd.DataFrame,
                       override: bool = False) -> gpd.GeoDataFrame:
    fill = areas["code"].map(known["population"]).astype("float64")
    own = areas["population"].astype("float64")
    areas["population"] = fill.fillna(own) if override else own.fillna(fill)
    return areas


def _describe_years(table: pd.DataFrame, areas: gpd.GeoDataFrame, origin: str,
                    mid_year: bool = False) -> str:
    used = table[table.index.isin(areas["code"][areas["population"].notna()])]
    if used.empty:
        return ""
    years = sorted({int(y) for y in pd.to_numeric(used["year"], errors="coerce").dropna()})
    prefix = "mid-" if mid_year else ""
    if not years:
        return f"year not stated, {origin}"
    span = f"{prefix}{years[0]}" if len(years) == 1 else f"{prefix}{years[0]} to {years[-1]}"
    return f"{span}, {origin}"


def _describe_table(table: pd.DataFrame, areas: gpd.GeoDataFrame, file_name: str) -> str:
    text = _describe_years(table, areas, f"imported from {file_name}")
    missing = int(areas["population"].isna().sum())
    if text and missing:
        text += f"; {missing} area(s) have none"
    return text


# --------------------------------------------------------------------------------------------
# Population tables

#: Header names accepted for each column of a population table (compared in lower case).
_POP_COLUMNS = {
    "code": ("code", "area code", "area_code"),
    "population": ("population", "residents", "pop"),
    "year": ("year", "source year", "source_year", "population year"),
}


def read_population_table(
    path: Path | str, known_codes: Sequence[str]
) -> tuple[pd.DataFrame, list[tuple[int, str]], int]:
    r"""Read and check a population table (CSV: code, population, source year), row by row.

    Parameters
    ----------
    path : Path or str
        A CSV with a header naming the columns ``code``, ``population`` and ``year`` (also
        accepted: ``area code``, ``residents``, ``source year``); other columns such as a
        name are ignored.
    known_codes : sequence of str
        Codes of the areas in use; a row for any other code is rejected.

    Returns
    -------
    table : pandas.DataFrame
        ``code`` (str), ``population`` (float), ``year`` (int) for the rows that can be used.
    problems : list of (int, str)
        Line number (the header is line 1) and plain-English reason for every other row:
        blank or unknown code, population that is not a number above zero, a year that is
        not a plausible four-digit year, or a code that appears more than once (every line
        with it is rejected, as the right figure cannot be told).
    n_rows : int
        Data rows read.

    Raises
    ------
    BoundaryError
        If the file cannot be read as text, has no header, lacks a column, or holds more
        rows than :func:`geo.settings.limits` allows.

    Examples
    --------
    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "pop.csv"
    >>> _ = f.write_text("code,population,year\nA,1200,2021\nB,lots,2021\nZ,10,2021\n")
    >>> table, problems, n = read_population_table(f, ["A", "B"])
    >>> table.to_dict("records"), n
    ([{'code': 'A', 'population': 1200.0, 'year': 2021}], 3)
    >>> for line, reason in problems:
    ...     print(line, reason)
    3 population 'lots' is not a number
    4 unknown code 'Z': not an area in the boundaries in use
    """
    path = Path(path)
    name = path.name
    if not path.is_file():
        raise BoundaryError(f"The population table {path} does not exist.")
    max_rows = limits().upload_rows
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            lines: list[tuple[int, list[str]]] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                lines.append((reader.line_num, row))
                if len(lines) > max_rows:
                    raise BoundaryError(
                        f"The population table {name} has more than {max_rows:,} rows, the "
                        "limit (HOTSPOT_MAX_UPLOAD_ROWS); a table has one row per area.")
    except UnicodeDecodeError:
        raise BoundaryError(f"The population table {name} is not a UTF-8 text CSV; save it "
                            "as 'CSV UTF-8' and import it again.") from None
    except csv.Error as exc:
        raise BoundaryError(f"The population table {name} is not a readable CSV ({exc}).") from None
    if not header:
        raise BoundaryError(f"The population table {name} is empty; it needs a header "
                            "'code,population,year' and one row per area.")
    heads = [h.strip().lower() for h in header]
    where: dict[str, int] = {}
    for key, aliases in _POP_COLUMNS.items():
        found = [i for i, h in enumerate(heads) if h in aliases]
        if not found:
            raise BoundaryError(
                f"The population table {name} has no '{key}' column. Its columns are: "
                f"{', '.join(h.strip() for h in header) or '(none)'}. It needs code, "
                "population and year (the year the population estimate is for).")
        where[key] = found[0]

    known = set(known_codes)
    this_year = limits().latest_date.year
    problems: list[tuple[int, str]] = []
    good: list[tuple[int, str, float, int]] = []
    for line, row in lines:
        cell = {k: (row[i].strip() if i < len(row) else "") for k, i in where.items()}
        code = cell["code"]
        reason = None
        if not code:
            reason = "no code"
        elif code not in known:
            reason = f"unknown code '{code}': not an area in the boundaries in use"
        else:
            pop = _number(cell["population"])
            year = _number(cell["year"])
            if not cell["population"]:
                reason = "no population"
            elif pop is None:
                reason = f"population '{cell['population']}' is not a number"
            elif pop <= 0:
                reason = f"population {cell['population']} must be above zero"
            elif not cell["year"]:
                reason = "no year: say which year the population estimate is for"
            elif year is None or year != int(year) or not 1900 <= year <= this_year:
                reason = (f"year '{cell['year']}' is not a year between 1900 and "
                          f"{this_year}")
            else:
                good.append((line, code, float(pop), int(year)))
        if reason:
            problems.append((line, reason))

    lines_of: dict[str, list[int]] = {}
    for line, code, _, _ in good:
        lines_of.setdefault(code, []).append(line)
    for line, code, _, _ in good:
        if len(lines_of[code]) > 1:
            others = ", ".join(str(n) for n in lines_of[code] if n != line)
            problems.append((line, f"code '{code}' appears more than once (also on line "
                                   f"{others}); give each area once"))
    problems.sort()
    rows = [(c, p, y) for _, c, p, y in good if len(lines_of[c]) == 1]
    table = pd.DataFrame(rows, columns=["code", "population", "year"]).astype(
        {"code": str, "population": "float64", "year": "int64"})
    return table, problems, len(lines)


def _number(text: str) -> float | None:
    try:
        value = float(text.replace(",", "")) if text else None
    except ValueError:
        return None
    return value if value is not None and np.isfinite(value) else None


def import_population(path: Path | str, boundaries_dir: Path, *,
                      level: str = AUTHORITY) -> tuple[Boundaries, list[str]]:
    r"""Import a population table for the boundaries of a level, all rows or none.

    The table is stored beside the boundaries (``population.json``)
    and its populations replace any others; :meth:`Boundaries.population_source` then names
    the file and the year wherever rates are shown.

    Parameters
    ----------
    path : Path or str
        CSV with columns code, population and year (see :func:`read_population_table`).
    boundaries_dir : Path
        A data directory's ``boundaries/`` folder. For the authority level it must hold
        imported boundaries: the bundled ones come with their populations.
    level : str
        :data:`AUTHORITY` (default) or the name of an imported level (:func:`import_level`).

    Returns
    -------
    boundaries : Boundaries
        The boundaries as they load now, populations attached.
    notes : list of str
        What the import did, including the areas the table leaves without a population.

    Raises
    ------
    PopulationProblems
        If any row cannot be used (each listed with its line and reason); nothing is stored.
    BoundaryError
        If the file cannot be read, or no boundaries have been imported.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> gdf = gpd.GeoDataFrame({"ID": ["A1", "A2"], "NAME": ["North", "South"]},
    ...     geometry=[shapely.box(0, 1000, 1000, 2000), shapely.box(0, 0, 1000, 1000)],
    ...     crs="EPSG:27700")
    >>> gdf.to_file(tmp / "areas.gpkg")
    >>> _ = import_boundaries(tmp / "areas.gpkg", "ID", "NAME", tmp / "boundaries")
    >>> _ = (tmp / "pop.csv").write_text("code,population,year\nA1,5000,2021\n")
    >>> b, notes = import_population(tmp / "pop.csv", tmp / "boundaries")
    >>> b.population()["A1"], b.population_source()
    (5000.0, 'populations: 2021, imported from pop.csv; 1 area(s) have none')
    """
    level = check_level_name(level)
    folder = level_dir(boundaries_dir, level)
    if level == AUTHORITY and not (folder / IMPORTED_AREAS).is_file():
        raise BoundaryError(
            "The bundled boundaries already carry their populations (mid-2020). Import your "
            "own boundaries first ('hotspot boundaries import'), then their population table.")
    current = load_level(boundaries_dir, level)
    source = Path(path)
    table, problems, n_rows = read_population_table(source, list(current.names()))
    if problems:
        raise PopulationProblems(source.name, n_rows, problems)
    if table.empty:
        raise BoundaryError(f"The population table {source.name} has no rows.")
    meta = {
        "source_file": source.name,
        "imported_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
        "years": sorted({int(y) for y in table["year"]}),
        "rows": table.to_dict("records"),
    }
    write_text_atomic(folder / IMPORTED_POPULATION, json.dumps(meta, indent=1) + "\n")
    b = load_level(boundaries_dir, level)
    notes = [f"{len(table)} population(s) imported ({b.population_source()})."]
    lacking = [f"{c} {n}" for c, n in b.names().items() if not np.isfinite(
        b.population().get(c, np.nan))]
    if lacking:
        shown = ", ".join(lacking[:10]) + (" ..." if len(lacking) > 10 else "")
        notes.append(f"{len(lacking)} area(s) have no population, so no rate: {shown}.")
    return b, notes


def clear_population(boundaries_dir: Path) -> bool:
    """Remove an imported population table (it belonged to boundaries being replaced).

    Returns True if there was one.
    """
    folder = Path(boundaries_dir)
    had = (folder / IMPORTED_POPULATION).is_file()
    (folder / IMPORTED_POPULATION).unlink(missing_ok=True)
    return had


# --------------------------------------------------------------------------------------------
# Import


def import_boundaries(
    path: Path | str,
    code_field: str,
    name_field: str,
    dest_dir: Path,
    population_field: str | None = None,
) -> Boundaries:
    """Import area polygons from a GeoJSON, GeoPackage or Shapefile into a data directory.

    The file may be in any coordinate reference system; it is stored in WGS84 as
    ``dest_dir/areas.geojson`` (written atomically, so a failed import leaves the previous
    boundaries in place) with ``dest_dir/meta.json`` describing the import. The format is
    recognised from the file's content by the same reader as uploaded zones
    (:func:`geo.polygons.read_polygon_layer`): a GDAL virtual dataset (VRT), a ``/vsi...``
    path, a web address or any other format is refused.

    Parameters
    ----------
    path : Path or str
        A file on this computer: GeoJSON, GeoPackage, a zip of a Shapefile's parts, or a
        ``.shp`` with its ``.shx``, ``.dbf`` and ``.prj`` beside it.
    code_field : str
        Field holding each area's unique code.
    name_field : str
        Field holding each area's display name.
    dest_dir : Path
        A data directory's ``boundaries/`` folder; created if missing.
    population_field : str, optional
        Field holding each area's resident population.

    Returns
    -------
    Boundaries
        The imported areas as :func:`load_boundaries` will load them. ``notes`` says what was
        repaired (invalid polygons), dropped (features without a polygon or a code) or merged
        (several features with one code).

    Raises
    ------
    BoundaryError
        If the file is missing, unreadable or not an accepted format, has more features than
        ``limits().polygon_features``, has no CRS, lacks a named field (the message lists the
        fields it has), or holds no polygons.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> square = shapely.box(350_000, 430_000, 351_000, 431_000)
    >>> gdf = gpd.GeoDataFrame({"ID": ["A1"], "NAME": ["Square"]}, geometry=[square],
    ...                        crs="EPSG:27700")
    >>> gdf.to_file(tmp / "areas.gpkg")
    >>> b = import_boundaries(tmp / "areas.gpkg", "ID", "NAME", tmp / "boundaries")
    >>> b.names(), b.areas.crs.to_epsg()
    ({'A1': 'Square'}, 4326)
    >>> import_boundaries(tmp / "areas.gpkg", "CODE", "NAME", tmp / "boundaries")
    Traceback (most recent call last):
    ...
    geo.boundaries.BoundaryError: The file areas.gpkg has no field 'CODE'. Its fields are: ID, NAME.
    """
    with plain_errors(Path(path).name, BoundaryError):
        check_source_path(path, BoundaryError)
        path = Path(path)
        dest_dir = Path(dest_dir)
        if not path.exists():
            raise BoundaryError(f"The boundary file {path} does not exist.")
        if path.is_dir():
            raise BoundaryError(f"{path} is a folder; choose the boundary file inside it.")

        gdf, notes = _read_source(path)
        fields = [c for c in gdf.columns if c != gdf.geometry.name]
        for wanted in (code_field, name_field, population_field):
            if wanted is not None and wanted not in fields:
                listed = ", ".join(fields) if fields else "(none)"
                raise BoundaryError(
                    f"The file {path.name} has no field '{wanted}'. Its fields are: {listed}."
                )
        if gdf.crs is None:
            raise BoundaryError(
                f"The file {path.name} does not say which coordinate reference system it uses. "
                "Supply the .prj file beside a Shapefile, or save the file with its CRS "
                "(e.g. EPSG:27700 for British National Grid) and import it again."
            )

        codes = gdf[code_field].astype("string").str.strip()
        names = gdf[name_field].astype("string").str.strip()
        pops = (
            pd.to_numeric(gdf[population_field], errors="coerce").astype("float64")
            if population_field is not None
            else pd.Series(np.nan, index=gdf.index)
        )
        geoms, geom_notes = _polygonal_parts(gdf.geometry.to_numpy())
        notes.extend(geom_notes)

        keep = ~pd.isna(geoms) & codes.notna().to_numpy() & (codes.fillna("") != "").to_numpy()
        n_no_code = int((codes.isna() | (codes.fillna("") == "")).sum())
        if n_no_code:
            notes.append(f"{n_no_code} feature(s) without a code in '{code_field}' were left out.")
        if not keep.any():
            raise BoundaryError(
                f"The file {path.name} holds no polygons with a code: boundaries must be areas "
                "(polygons), not points or lines."
            )

        table = pd.DataFrame(
            {
                "code": codes[keep].astype(str).to_numpy(),
                "name": names[keep].fillna(codes[keep]).astype(str).to_numpy(),
                "population": pops[keep].to_numpy(),
                "geometry": geoms[keep],
            }
        )
        table, dup_note = _merge_duplicates(table)
        if dup_note:
            notes.append(dup_note)

        areas = gpd.GeoDataFrame(
            table[["code", "name", "population"]],
            geometry=to_storage(gpd.GeoSeries(table["geometry"].to_numpy(), crs=gdf.crs),
                                path.name, BoundaryError).to_numpy(),
            crs=CRS_STORAGE,
        )
        areas = areas.sort_values("code", kind="stable").reset_index(drop=True)

        dest_dir.mkdir(parents=True, exist_ok=True)
        stored = areas if population_field is not None else areas.drop(columns="population")
        _write_geojson_atomic(stored, dest_dir / IMPORTED_AREAS)
        meta = {
            "source_file": path.name,
            "code_field": code_field,
            "name_field": name_field,
            "population_field": population_field,
            "source_crs": gdf.crs.to_string(),
            "imported_at": datetime.now(UTC).astimezone().isoformat(timespec="seconds"),
            "n_areas": len(areas),
            "notes": notes,
        }
        write_text_atomic(dest_dir / IMPORTED_META, json.dumps(meta, indent=2) + "\n")
        return load_boundaries(dest_dir)


def _read_source(path: Path) -> tuple[gpd.GeoDataFrame, list[str]]:
    return read_polygon_layer(path, BoundaryError)


def _polygonal_parts(geoms: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Repair invalid geometries and keep only their polygonal parts (None when there are none)."""
    out, repaired, without = polygonal_parts(geoms, BoundaryError)
    notes = []
    if repaired:
        notes.append(f"{repaired} invalid polygon(s) were repaired.")
    if without:
        notes.append(f"{without} feature(s) without a polygon (empty, points or lines) "
                     "were left out.")
    return out, notes


def _merge_duplicates(table: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    counts = table["code"].value_counts()
    dups = counts[counts > 1]
    if dups.empty:
        return table, None
    merged = []
    for code, part in table.groupby("code", sort=False):
        merged.append(
            {
                "code": code,
                "name": part["name"].iloc[0],
                "population": part["population"].sum(min_count=1),
                "geometry": shapely.union_all(part["geometry"].to_numpy()),
            }
        )
    shown = ", ".join(sorted(dups.index)[:5]) + (" ..." if len(dups) > 5 else "")
    note = (
        f"{len(dups)} code(s) appeared on more than one feature ({shown}); "
        "their polygons were merged into one area each."
    )
    return pd.DataFrame(merged), note


def _write_geojson_atomic(gdf: gpd.GeoDataFrame, dest: Path) -> None:
    tmp = dest.with_name(f".{dest.stem}.{uuid.uuid4().hex}.tmp.geojson")
    try:
        # GDAL writes WGS84 GeoJSON; 7 decimals is about 1 cm, plenty for boundaries.
        gdf.to_file(tmp, driver="GeoJSON", engine="pyogrio", COORDINATE_PRECISION=7)
        replace_durably(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------
# Levels


def check_level_name(text: str) -> str:
    """Return a level's name in its stored form, or say plainly why it cannot name a level.

    Parameters
    ----------
    text : str
        The name as typed, e.g. ``"ward"`` or ``" Beat "`` (spaces and capitals are taken off).

    Returns
    -------
    str
        The name: lower-case letters, digits and ``_``, starting with a letter, at most 31.

    Raises
    ------
    BoundaryError
        For any other name, and for ``la`` and ``h3``, which already mean the authorities
        and hexagons where a level is chosen.

    Examples
    --------
    >>> check_level_name(" Ward ")
    'ward'
    >>> check_level_name("police beat")
    Traceback (most recent call last):
    ...
    geo.boundaries.BoundaryError: 'police beat' cannot name a level: use lower-case letters, ...
    """
    name = str(text).strip().lower()
    if not LEVEL_NAME.fullmatch(name):
        shown = str(text).strip()[:40]
        raise BoundaryError(
            f"'{shown}' cannot name a level: use lower-case letters, digits and _ (at most 31, "
            "starting with a letter), e.g. ward, beat or neighbourhood.")
    if name in RESERVED_LEVELS:
        raise BoundaryError(
            f"'{name}' cannot name a level: the API already uses level=la for the local "
            "authorities and level=h3 for hexagons. Choose another name, e.g. ward.")
    return name


def level_dir(boundaries_dir: Path, level: str) -> Path:
    """Return the folder holding a level's files.

    The authority level lives in the data directory's ``boundaries/`` folder itself (where
    it always has); every other level in ``boundaries/levels/<name>/``.

    Examples
    --------
    >>> level_dir(Path("/data/boundaries"), "ward").as_posix()
    '/data/boundaries/levels/ward'
    >>> level_dir(Path("/data/boundaries"), "authority").as_posix()
    '/data/boundaries'
    """
    level = check_level_name(level)
    folder = Path(boundaries_dir)
    return folder if level == AUTHORITY else folder / LEVELS_FOLDER / level


def level_names(boundaries_dir: Path | None) -> list[str]:
    """Return the levels of a data directory: :data:`AUTHORITY` first, then the others A-Z.

    A level exists once its boundaries have been imported (its folder holds
    ``areas.geojson``); the authority level always exists (the bundled boundaries).

    Examples
    --------
    >>> level_names(None)
    ['authority']
    """
    names = [AUTHORITY]
    if boundaries_dir is None:
        return names
    root = Path(boundaries_dir) / LEVELS_FOLDER
    if root.is_dir():
        names += sorted(d.name for d in root.iterdir()
                        if LEVEL_NAME.fullmatch(d.name) and d.name not in RESERVED_LEVELS
                        and d.name != AUTHORITY and (d / IMPORTED_AREAS).is_file())
    return names


def _no_such_level(boundaries_dir: Path | None, level: str) -> BoundaryError:
    return BoundaryError(
        f"There is no '{level}' level: the levels are {', '.join(level_names(boundaries_dir))}. "
        f"Import its boundaries first with 'hotspot boundaries import FILE --level {level} "
        "--code-field FIELD --name-field FIELD'.")


def load_level(boundaries_dir: Path | None, level: str) -> Boundaries:
    """Load the boundaries of one level.

    Parameters
    ----------
    boundaries_dir : Path or None
        A data directory's ``boundaries/`` folder (None: only the bundled authorities).
    level : str
        :data:`AUTHORITY` (:func:`load_boundaries`) or an imported level's name.

    Returns
    -------
    Boundaries
        With ``level`` set. An imported level takes populations only from its own file or
        its own population table.

    Raises
    ------
    BoundaryError
        If the name is not a level name, the level has not been imported, or its file
        cannot be read.

    Examples
    --------
    >>> load_level(None, "authority").level
    'authority'
    >>> load_level(None, "ward")
    Traceback (most recent call last):
    ...
    geo.boundaries.BoundaryError: There is no 'ward' level: the levels are authority. ...
    """
    level = check_level_name(level)
    if level == AUTHORITY:
        return load_boundaries(boundaries_dir)
    if boundaries_dir is None or not (level_dir(boundaries_dir, level)
                                      / IMPORTED_AREAS).is_file():
        raise _no_such_level(boundaries_dir, level)
    b = load_boundaries(level_dir(boundaries_dir, level))
    b.level = level
    return b


def load_levels(boundaries_dir: Path | None) -> dict[str, Boundaries]:
    """Load every level: ``{name: Boundaries}``, :data:`AUTHORITY` first.

    Raises
    ------
    BoundaryError
        If any level's files cannot be read.

    Examples
    --------
    >>> list(load_levels(None))
    ['authority']
    """
    return {name: load_level(boundaries_dir, name) for name in level_names(boundaries_dir)}


def import_level(
    path: Path | str,
    code_field: str,
    name_field: str,
    boundaries_dir: Path,
    level: str,
    population_field: str | None = None,
) -> tuple[Boundaries, bool]:
    """Import area polygons as a level (ward, beat, neighbourhood...), all at once or not at all.

    The file is read, checked and repaired exactly as :func:`import_boundaries` does, into a
    hidden folder beside the level's; only when that has succeeded does it take the level's
    place, so a failed import leaves the level as it was, and a reader never finds half a
    level. A population table the level had belonged to its old areas and is dropped.

    Parameters
    ----------
    path, code_field, name_field, population_field
        As for :func:`import_boundaries`.
    boundaries_dir : Path
        A data directory's ``boundaries/`` folder.
    level : str
        The level's name (:func:`check_level_name`). :data:`AUTHORITY` imports into
        ``boundaries_dir`` itself, as :func:`import_boundaries` does.

    Returns
    -------
    boundaries : Boundaries
        The level as :func:`load_level` loads it now.
    dropped_population : bool
        True if the level's previous population table was dropped.

    Raises
    ------
    BoundaryError
        As :func:`import_boundaries`, and for a name that cannot name a level.

    Examples
    --------
    >>> import tempfile
    >>> tmp = Path(tempfile.mkdtemp())
    >>> gdf = gpd.GeoDataFrame({"WD": ["W1", "W2"], "NM": ["North", "South"]},
    ...     geometry=[shapely.box(0, 1000, 1000, 2000), shapely.box(0, 0, 1000, 1000)],
    ...     crs="EPSG:27700")
    >>> gdf.to_file(tmp / "wards.gpkg")
    >>> b, dropped = import_level(tmp / "wards.gpkg", "WD", "NM", tmp / "boundaries", "ward")
    >>> b.level, b.names(), dropped
    ('ward', {'W1': 'North', 'W2': 'South'}, False)
    >>> level_names(tmp / "boundaries")
    ['authority', 'ward']
    """
    level = check_level_name(level)
    root = Path(boundaries_dir)
    if level == AUTHORITY:
        had = (root / IMPORTED_POPULATION).is_file()
        b = import_boundaries(path, code_field, name_field, root, population_field)
        return b, had and clear_population(root)
    dest = level_dir(root, level)
    parent = dest.parent
    parent.mkdir(parents=True, exist_ok=True)
    _sweep_leftovers(parent, level)
    staging = parent / f".{level}.{uuid.uuid4().hex}.new"
    try:
        import_boundaries(path, code_field, name_field, staging, population_field)
        had = (dest / IMPORTED_POPULATION).is_file()
        _swap_in(staging, dest)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return load_level(root, level), had


def remove_level(boundaries_dir: Path, level: str) -> None:
    """Remove an imported level with its populations (its source file is not touched).

    Raises
    ------
    BoundaryError
        For the authority level (incidents are assigned to it; import other authority
        boundaries to replace it) and for a level that does not exist.

    Examples
    --------
    >>> remove_level(Path("/nowhere"), "authority")
    Traceback (most recent call last):
    ...
    geo.boundaries.BoundaryError: The authority level cannot be removed: every incident is ...
    """
    level = check_level_name(level)
    if level == AUTHORITY:
        raise BoundaryError(
            "The authority level cannot be removed: every incident is assigned to it. Import "
            "other authority boundaries to replace it ('hotspot boundaries import FILE').")
    dest = level_dir(boundaries_dir, level)
    if not (dest / IMPORTED_AREAS).is_file():
        raise _no_such_level(boundaries_dir, level)
    gone = dest.with_name(f".{level}.{uuid.uuid4().hex}.old")
    os.replace(dest, gone)  # one rename: the level is there or it is not
    fsync_dir(dest.parent)
    shutil.rmtree(gone, ignore_errors=True)


def _swap_in(staging: Path, dest: Path) -> None:
    """Put a fully written level folder in the place of the old one (if any)."""
    old = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.old")
    if dest.exists():
        # Two renames: between them a reader finds no such level, never a mixed one.
        os.replace(dest, old)
    os.replace(staging, dest)
    fsync_dir(dest.parent)
    shutil.rmtree(old, ignore_errors=True)


def _sweep_leftovers(parent: Path, level: str) -> None:
    """Remove hidden folders an interrupted import or removal of ``level`` left behind."""
    for d in parent.glob(f".{level}.*"):
        if d.is_dir() and d.suffix in {".new", ".old"}:
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------------------------
# Assignment


@dataclass(eq=False)
class AreaAssignment:
    """The area each point falls in.

    Attributes
    ----------
    code : numpy.ndarray
        Object array of area codes; None where the point has no coordinates or lies more
        than the tolerance outside every area.
    distance_m : numpy.ndarray
        0 for points inside an area, the distance in metres to the area for points snapped to
        the nearest one, NaN where ``code`` is None.
    n_snapped : int
        Points outside every area but within the tolerance, given the nearest area.
    nearest_code : numpy.ndarray
        For points with coordinates but no area: the code of the nearest area; None elsewhere.
    nearest_distance_m : numpy.ndarray
        For those points, the distance in metres to that nearest area; NaN elsewhere.
    """

    code: np.ndarray
    distance_m: np.ndarray
    n_snapped: int
    nearest_code: np.ndarray
    nearest_distance_m: np.ndarray

    @property
    def n_outside(self) -> int:
        """Points with coordinates that lie beyond the tolerance of every area."""
        return int(np.count_nonzero(~pd.isna(self.nearest_code)))

    def outside_reasons(self, names: dict[str, str]) -> np.ndarray:
        """Plain-English reason for each point that has no area (None for the others).

        Parameters
        ----------
        names : dict
            ``{code: name}``, e.g. :meth:`Boundaries.names`.
        """
        reasons = np.full(len(self.code), None, dtype=object)
        for i in np.flatnonzero(pd.isna(self.code)):
            near = self.nearest_code[i]
            if near is None:
                reasons[i] = "no usable coordinates"
            else:
                reasons[i] = describe_outside(
                    float(self.nearest_distance_m[i]), names.get(near, near)
                )
        return reasons


def describe_outside(distance_m: float, nearest_name: str) -> str:
    """Word the reason a point is rejected as outside the study area.

    Examples
    --------
    >>> describe_outside(2_340.0, "Preston")
    'outside the study area: 2.3 km from the nearest boundary (Preston)'
    >>> describe_outside(740.0, "Wyre")
    'outside the study area: 740 m from the nearest boundary (Wyre)'
    """
    if distance_m < 1_000:
        far = f"{distance_m:.0f} m"
    elif distance_m < 100_000:
        far = f"{distance_m / 1_000:.1f} km"
    else:
        far = f"{distance_m / 1_000:,.0f} km"
    return f"outside the study area: {far} from the nearest boundary ({nearest_name})"


def assign_areas(
    easting: np.ndarray,
    northing: np.ndarray,
    boundaries: Boundaries,
    tolerance_m: float = AREA_TOLERANCE_M,
) -> AreaAssignment:
    """Give each point (British National Grid) the code of the area it falls in.

    A point inside an area gets that area; inside two overlapping areas, the one with the
    lowest code. A point outside every area but within ``tolerance_m`` of one gets the
    nearest (the bundled polygons are generalised and clipped to the coast, so real incidents
    on promenades fall just outside). Beyond that it gets None, and the assignment records
    the nearest area and its distance so the caller can say why the row was rejected.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Coordinates in metres (EPSG:27700); NaN for points without coordinates.
    boundaries : Boundaries
        The areas.
    tolerance_m : float
        How far outside every area, in metres, a point may lie and still be assigned.

    Returns
    -------
    AreaAssignment

    Examples
    --------
    >>> b = load_boundaries(None)
    >>> a = assign_areas(np.array([353_900.0, 300_000.0]), np.array([429_400.0, 430_000.0]), b)
    >>> a.code.tolist(), a.n_snapped
    (['E07000123', None], 0)
    >>> a.outside_reasons(b.names())[1]
    'outside the study area: 30.4 km from the nearest boundary (Blackpool)'
    """
    x = np.asarray(easting, dtype="float64").ravel()
    y = np.asarray(northing, dtype="float64").ravel()
    if x.shape != y.shape:
        raise ValueError("easting and northing must have the same length")
    if not tolerance_m >= 0:
        raise ValueError(f"tolerance_m must be 0 or more, not {tolerance_m}")
    n = len(x)
    code = np.full(n, None, dtype=object)
    distance = np.full(n, np.nan)
    nearest_code = np.full(n, None, dtype=object)
    nearest_distance = np.full(n, np.nan)
    index = boundaries._index
    # Beyond 10,000 km a "coordinate" is a units or projection mistake, not a place.
    finite = (np.abs(x) < _MAX_COORD_M) & (np.abs(y) < _MAX_COORD_M)
    if n == 0 or not finite.any() or len(index.codes) == 0:
        return AreaAssignment(code, distance, 0, nearest_code, nearest_distance)

    rows = np.flatnonzero(finite)
    xr, yr = x[rows], y[rows]
    inverse = _distinct_points(xr, yr)
    if inverse is not None:
        # police.uk snaps many incidents to one anonymised point: test each distinct point once.
        n_unique = int(inverse.max()) + 1
        first = np.empty(n_unique, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
        xr, yr = xr[first], yr[first]

    u_area, u_dist, u_near, u_near_dist = index.locate(xr, yr, tolerance_m)
    if inverse is not None:
        u_area, u_dist = u_area[inverse], u_dist[inverse]
        u_near, u_near_dist = u_near[inverse], u_near_dist[inverse]

    # One object take per output: index -1 (no area) picks the trailing None.
    codes_or_none = np.empty(len(index.codes) + 1, dtype=object)
    codes_or_none[:-1] = index.codes
    if len(rows) == n:
        code = codes_or_none[u_area]
        distance = u_dist
    else:
        code[rows] = codes_or_none[u_area]
        distance[rows] = u_dist
    if (u_near >= 0).any():
        nearest_code[rows] = codes_or_none[u_near]
        nearest_distance[rows] = u_near_dist
    n_snapped = int(np.count_nonzero(u_dist > 0))
    return AreaAssignment(code, distance, n_snapped, nearest_code, nearest_distance)


def locate_areas(
    easting: np.ndarray, northing: np.ndarray, boundaries: Boundaries
) -> tuple[tuple[str, ...], np.ndarray]:
    """Say which area of ``boundaries`` each point (British National Grid) lies in, if any.

    Unlike :func:`assign_areas` nothing is snapped: a point outside every area is outside
    (-1), however close it lies. A point exactly on an edge two areas share goes to the area
    with the lower code; a point inside two overlapping areas likewise.

    Parameters
    ----------
    easting, northing : numpy.ndarray
        Coordinates in metres (EPSG:27700); NaN for points without coordinates.
    boundaries : Boundaries
        The areas, e.g. a ward level (:func:`load_level`).

    Returns
    -------
    codes : tuple of str
        The areas' codes in ascending order.
    index : numpy.ndarray of int64
        For each point, its area's position in ``codes``; -1 outside every area or without
        coordinates.

    Examples
    --------
    Two wards side by side near Preston, and points 1 m either side of their shared edge, just
    beyond the east edge, and without coordinates:

    >>> x0, y0 = 350_000, 430_000
    >>> wards = Boundaries(gpd.GeoDataFrame(
    ...     {"code": ["W2", "W1"], "name": ["East", "West"], "population": [10.0, 20.0]},
    ...     geometry=[shapely.box(x0 + 1000, y0, x0 + 2000, y0 + 1000),
    ...               shapely.box(x0, y0, x0 + 1000, y0 + 1000)],
    ...     crs="EPSG:27700").to_crs("EPSG:4326"), source="example")
    >>> codes, index = locate_areas(x0 + np.array([999.0, 1001.0, 2000.5, np.nan]),
    ...                             y0 + np.array([500.0, 500.0, 500.0, 500.0]), wards)
    >>> codes, index.tolist()
    (('W1', 'W2'), [0, 1, -1, -1])
    """
    x = np.asarray(easting, dtype="float64").ravel()
    y = np.asarray(northing, dtype="float64").ravel()
    if x.shape != y.shape:
        raise ValueError("easting and northing must have the same length")
    index = boundaries._index
    codes = tuple(str(c) for c in index.codes)
    out = np.full(len(x), -1, dtype=np.int64)
    finite = (np.abs(x) < _MAX_COORD_M) & (np.abs(y) < _MAX_COORD_M)
    if len(x) == 0 or not finite.any() or not codes:
        return codes, out
    rows = np.flatnonzero(finite)
    xr, yr = x[rows], y[rows]
    inverse = _distinct_points(xr, yr)
    if inverse is not None:
        n_unique = int(inverse.max()) + 1
        first = np.empty(n_unique, dtype=np.int64)
        first[inverse[::-1]] = np.arange(len(inverse) - 1, -1, -1)
        xr, yr = xr[first], yr[first]
    # tolerance 0: only points inside, or on an edge (0 m away), get an area
    area, _dist, _near, _near_dist = index.locate(xr, yr, 0.0, nearest=False)
    out[rows] = area[inverse] if inverse is not None else area
    return codes, out


def _distinct_points(x: np.ndarray, y: np.ndarray) -> np.ndarray | None:
    """Group identical points (to 1 cm); None when too few repeat to be worth it.

    De-duplicating a million distinct points costs about as much as testing them, so for large
    inputs an evenly spaced probe of the rows decides: if the probe has no more distinct points
    than a set where every point appeared twice would give, de-duplicate. Either way every
    point gets the same answer.
    """
    n = len(x)
    if n > _DEDUP_PROBE * 16:
        step = n // _DEDUP_PROBE
        probe = _point_keys(x[::step], y[::step])
        m = len(probe)
        # Expected distinct values in m draws from n/2 equally common points.
        half = n / 2
        if len(np.unique(probe)) > half * (1.0 - np.exp(-m / half)):
            return None
    inverse, _ = pd.factorize(_point_keys(x, y))
    return inverse


def _point_keys(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    # |coordinate| < 1e7 m, so each centimetre count fits in 31 bits and the pair in 64.
    key_x = np.round(x * _DEDUP_SCALE).astype(np.int64)
    key_y = np.round(y * _DEDUP_SCALE).astype(np.int64)
    return (key_x << 32) + (key_y & 0xFFFFFFFF)


@dataclass
class _AreaIndex:
    """Prepared area polygons in BNG (in code order) with bounding boxes and a boundary tree.

    The tree holds every boundary segment rather than whole polygons: the distance from an
    outside point to a polygon is its distance to the boundary, and testing a handful of
    nearby segments is far cheaper than a distance to a polygon of thousands of vertices.
    """

    codes: np.ndarray
    geoms: np.ndarray
    bounds: np.ndarray
    #: Built on first use (:meth:`_segments`): a placement with no tolerance never needs it.
    _segment_parts: tuple[np.ndarray, shapely.STRtree] | None = None

    @classmethod
    def build(cls, areas_bng: gpd.GeoDataFrame) -> _AreaIndex:
        order = np.argsort(areas_bng["code"].to_numpy(dtype=object), kind="stable")
        geoms = np.asarray(areas_bng.geometry.to_numpy(), dtype=object)[order]
        geoms = shapely.make_valid(geoms)
        shapely.prepare(geoms)
        codes = areas_bng["code"].to_numpy(dtype=object)[order]
        return cls(codes, geoms, shapely.bounds(geoms))

    def _segments(self) -> tuple[np.ndarray, shapely.STRtree]:
        """Each boundary segment's area index, and a tree of the segments."""
        if self._segment_parts is None:
            parts, part_area = shapely.get_parts(self.geoms, return_index=True)
            rings, ring_part = shapely.get_rings(parts, return_index=True)
            coords, ring_of = shapely.get_coordinates(rings, return_index=True)
            # A segment joins two consecutive vertices of the same ring.
            starts = np.flatnonzero(ring_of[1:] == ring_of[:-1])
            segments = shapely.linestrings(np.stack([coords[starts], coords[starts + 1]],
                                                    axis=1))
            self._segment_parts = (part_area[ring_part[ring_of[starts]]],
                                   shapely.STRtree(segments))
        return self._segment_parts

    @property
    def segment_area(self) -> np.ndarray:
        """Area index of each boundary segment."""
        return self._segments()[0]

    @property
    def segment_tree(self) -> shapely.STRtree:
        """Tree of the boundary segments, for distances from outside points."""
        return self._segments()[1]

    def locate(
        self, x: np.ndarray, y: np.ndarray, tolerance_m: float, nearest: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Area index and distance within tolerance; nearest index and distance beyond it.

        With ``tolerance_m`` 0 and ``nearest`` False only points inside or on the edge of an
        area get one, and no distance is measured (``near`` stays -1): the boundary segments
        are then never needed.
        """
        exact = tolerance_m == 0 and not nearest
        n = len(x)
        # Bucket points into easting strips (a radix sort of small integers is linear), so
        # each area's bounding box selects one contiguous run of candidates; work in that
        # order and put the answers back at the end.
        x0, x1 = float(self.bounds[:, 0].min()), float(self.bounds[:, 2].max())
        width = max(x1 - x0, 1.0) / _N_STRIPS
        strip = np.clip((x - x0) // width, -1, _N_STRIPS).astype(np.int16) + 1
        order = np.argsort(strip, kind="stable")
        starts = np.searchsorted(strip[order], np.arange(_N_STRIPS + 3))
        xs, ys = x[order], y[order]
        area_s = np.full(n, -1, dtype=np.int64)
        for i, geom in enumerate(self.geoms):
            minx, miny, maxx, maxy = self.bounds[i]
            s0 = int(np.clip((minx - x0) // width, -1, _N_STRIPS)) + 1
            s1 = int(np.clip((maxx - x0) // width, -1, _N_STRIPS)) + 1
            lo, hi = starts[s0], starts[s1 + 1]
            if lo == hi:
                continue
            cx, cy = xs[lo:hi], ys[lo:hi]
            cand = (cy >= miny) & (cy <= maxy) & (cx >= minx) & (cx <= maxx)
            cand &= area_s[lo:hi] < 0
            idx = np.flatnonzero(cand)
            if idx.size == 0:
                continue
            # exact: a point on an edge counts too (in the lower-coded area, tested first)
            inside = (shapely.intersects_xy(geom, cx[idx], cy[idx]) if exact
                      else shapely.contains_xy(geom, cx[idx], cy[idx]))
            area_s[lo + idx[inside]] = i
        area = np.empty(n, dtype=np.int64)
        area[order] = area_s
        dist = np.where(area >= 0, 0.0, np.nan)
        if exact:
            return area, dist, np.full(n, -1, dtype=np.int64), np.full(n, np.nan)

        # A point exactly on a boundary is not "contained"; the nearest search below finds it
        # 0 m away.
        near = np.full(n, -1, dtype=np.int64)
        near_dist = np.full(n, np.nan)
        outside = np.flatnonzero(area < 0)
        if outside.size:
            pts = shapely.points(x[outside], y[outside])
            # max_distance must be positive; a point on a boundary is 0 m away either way.
            pt, seg, d = self._nearest(pts, max(tolerance_m, 1e-9))
            area[outside[pt]] = self.segment_area[seg]
            dist[outside[pt]] = d
            far = np.ones(outside.size, dtype=bool)
            far[pt] = False
            if nearest and far.any():
                pt, seg, d = self._nearest(pts[far], None)
                still = outside[far]
                near[still[pt]] = self.segment_area[seg]
                near_dist[still[pt]] = d
        return area, dist, near, near_dist

    def _nearest(
        self, pts: np.ndarray, max_distance: float | None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per point, the nearest segment; ties go to the area with the lowest code."""
        pairs, d = self.segment_tree.query_nearest(
            pts, max_distance=max_distance, return_distance=True, all_matches=True
        )
        if pairs.shape[1] == 0:
            return pairs[0], pairs[1], d
        # A shared edge is two equidistant segments of two areas: sort so the lowest area
        # index (= lowest code) comes first for each point.
        order = np.lexsort((self.segment_area[pairs[1]], pairs[0]))
        pairs, d = pairs[:, order], d[order]
        pt, first = np.unique(pairs[0], return_index=True)
        return pt, pairs[1][first], d[first]
