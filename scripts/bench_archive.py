"""Time `hotspot ingest` of a police.uk archive folder, at national size, on this machine.

    PYTHONPATH=<a checkout> python scripts/bench_archive.py --months 6 --forces 43 \\
        --work /tmp/archive-bench [--workers 2]

The archive is made from the real Leicestershire months in ../shared/data (one month file per
"force"): each of ``--forces`` copies gets its own Crime IDs and its points moved by up to
7 km, so the copies are distinct incidents at distinct places (police.uk snaps incidents to
shared map points; the copies keep that shape). Then the LAD boundaries are imported into a
fresh data directory and the folder is ingested with `hotspot ingest FOLDER --json`; the
figures are printed as JSON. Figures: docs/benchmarks/, docs/ENGINES.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
LAD = SHARED / "boundaries" / "Local_Authority_Districts_(December_2021)_UK_BUC.geojson"


def make_archive(out: Path, months: int, forces: int) -> int:
    """Write ``months`` × ``forces`` street files under ``out``; return the rows written."""
    sources = sorted((SHARED / "police_uk_leicestershire").glob("*/*-street.csv.gz"))[-months:]
    rows = 0
    for src in sources:
        month = src.parent.name
        frame = pd.read_csv(src, dtype=str, keep_default_na=False)
        (out / month).mkdir(parents=True, exist_ok=True)
        for k in range(forces):
            copy = frame.copy()
            has_id = copy["Crime ID"] != ""
            copy.loc[has_id, "Crime ID"] = f"{k:04x}" + copy.loc[has_id, "Crime ID"].str[4:]
            for col, step in (("Longitude", 0.01 * (k % 7)), ("Latitude", 0.01 * (k // 7))):
                value = pd.to_numeric(copy[col], errors="coerce") + step
                copy[col] = value.map(lambda v: "" if pd.isna(v) else f"{v:.6f}")
            copy.to_csv(out / month / f"{month}-force-{k:02d}-street.csv", index=False)
            rows += len(copy)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--months", type=int, default=6)
    p.add_argument("--forces", type=int, default=43)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--workers", type=int)
    args = p.parse_args()
    hotspot = str(Path(sys.executable).with_name("hotspot"))
    archive, data = args.work / "archive", args.work / "data"
    if not archive.exists():
        print(f"{make_archive(archive, args.months, args.forces):,} rows written",
              file=sys.stderr)
    shutil.rmtree(data, ignore_errors=True)
    subprocess.run([hotspot, "boundaries", "import", str(LAD), "--code-field", "LAD21CD",
                    "--name-field", "LAD21NM", "--data-dir", str(data)], check=True,
                   capture_output=True)
    cmd = [hotspot, "ingest", str(archive), "--data-dir", str(data), "--json"]
    if args.workers:
        cmd += ["--workers", str(args.workers)]
    out = json.loads(subprocess.run(cmd, check=True, capture_output=True,
                                    text=True).stdout.strip().splitlines()[-1])
    out.pop("months")
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
