"""A small month-only data set in the police.uk street-level format, for the API tests.

Preston (in the bundled Lancashire boundaries), January 2022 to December 2023: one place whose
count rises every month, one steady place, one quiet place beside it and a seeded scatter of
background incidents. ``skip`` leaves months out, as a police.uk download with a month missing.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from geo.settings import DataPaths

HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude",
          "Location", "LSOA code", "LSOA name", "Crime type", "Last outcome category",
          "Context"]
#: Places (lat, lon) in Preston city centre, a few hundred metres apart.
RISING = (53.7590, -2.7030)
STEADY = (53.7650, -2.6950)
QUIET = (53.7530, -2.7120)
MONTHS = [f"{y}-{m:02d}" for y in (2022, 2023) for m in range(1, 13)]


def write_months(folder: Path, skip: tuple[str, ...] = (), seed: int = 7) -> list[Path]:
    """Write one police.uk CSV per month into ``folder``; return their paths."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    serial = 0
    for k, month in enumerate(MONTHS):
        # draw every month, written or not, so skipping one changes no other month
        background = rng.uniform([53.745, -2.725], [53.775, -2.680], size=(120, 2))
        if month in skip:
            continue
        rows = []
        places = [(RISING, 20 + 2 * k), (STEADY, 25), (QUIET, 1)]
        points = [p for p, count in places for _ in range(count)]
        points += [tuple(x) for x in background]
        for i, (lat, lon) in enumerate(points):
            serial += 1
            kind = "Violence and sexual offences" if i % 3 else "Public order"
            rows.append([f"{serial:064x}", month, "Lancashire Constabulary",
                         "Lancashire Constabulary", f"{lon:.6f}", f"{lat:.6f}",
                         "On or near Fishergate", "E01025000", "Preston 014A", kind, "", ""])
        path = folder / f"{month}-lancashire-street.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(HEADER)
            writer.writerows(rows)
        paths.append(path)
    return paths


def monthly_data_dir(root: Path, skip: tuple[str, ...] = ()) -> DataPaths:
    """Ingest the months into a fresh data directory with the bundled boundaries."""
    from geo.ingest import ingest_file

    data = DataPaths(root / "data")
    for path in write_months(root / "csv", skip):
        ingest_file(path, data)
    return data
