"""Write the bundled SYNTHETIC sample's files into ``data/sample/``.

The files (``geo.sample.SAMPLE_FILES``): police incidents, emergency department attendances
(ISTV layout), ambulance call-outs, the made-up postcode directory (ONSPD layout) and the LSOA
centroids that place the health records. Run from the checkout::

    python scripts/build_sample.py     # the committed files: 60,000 incidents, seed 20240401
    python scripts/build_sample.py --n 5000 --out-dir /tmp/sample

The same ``--n`` and ``--seed`` always give byte-identical files.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.sample import DEFAULT_N, DEFAULT_SEED, write_sample  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="number of incidents")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--out-dir", type=Path, default=ROOT / "data" / "sample")
    args = parser.parse_args(argv)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    paths = write_sample(args.out_dir, n=args.n, seed=args.seed)
    print(f"{args.n:,} synthetic incidents, seed {args.seed}:")
    for path in paths.values():
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows = sum(1 for _ in fh) - 1
        print(f"  {path}: {rows:,} rows, {path.stat().st_size / 1024:,.0f} KiB")


if __name__ == "__main__":
    main()
