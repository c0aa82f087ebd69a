"""Write the bundled SYNTHETIC sample ``data/sample/lancashire_synthetic_incidents.csv.gz``.

Run from the checkout::

    python scripts/build_sample.py     # the committed file: 60,000 rows, seed 20240401
    python scripts/build_sample.py --n 5000 --out x.csv.gz

The same ``--n`` and ``--seed`` always give a byte-identical file.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from geo.sample import DEFAULT_N, DEFAULT_SEED, write_sample  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=DEFAULT_N, help="number of incidents")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "data" / "sample" / "lancashire_synthetic_incidents.csv.gz",
    )
    args = parser.parse_args(argv)
    path = write_sample(args.out, n=args.n, seed=args.seed)
    print(f"{path}: {args.n:,} synthetic incidents, {path.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
