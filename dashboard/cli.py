"""The ``hotspot`` command: serve, ingest, sample, boundaries, bench.

Heavy imports happen inside each subcommand so ``hotspot --help`` is instant and ``ingest``
never loads Dash.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from geo.settings import DataPaths, default_data_dir

EXIT_OK, EXIT_USAGE, EXIT_INPUT = 0, 2, 3


def _data_paths(args: argparse.Namespace) -> DataPaths:
    return DataPaths(Path(args.data_dir).expanduser() if args.data_dir else default_data_dir())


def _add_data_dir(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        help="data directory (default: $HOTSPOT_DATA_DIR, else ~/.local/share/hotspot)",
    )


def _fail(message: str, code: int = EXIT_INPUT) -> int:
    print(f"hotspot: {message}", file=sys.stderr)
    return code


def cmd_ingest(args: argparse.Namespace) -> int:
    """Add incident files to the store."""
    from tqdm import tqdm

    from geo.ingest import ingest_file
    from geo.readers import ReadError, load_mapping, mapping_from_options

    data = _data_paths(args)
    try:
        if args.mapping:
            mapping = load_mapping(Path(args.mapping))
        elif any(getattr(args, k) for k in _MAPPING_FLAGS):
            mapping = mapping_from_options(**{
                k.removesuffix("_col"): getattr(args, k)
                for k in _MAPPING_FLAGS if getattr(args, k) is not None
            })
        else:
            mapping = None
    except ReadError as exc:
        return _fail(str(exc))
    summaries = []
    status = EXIT_OK
    for file in args.files:
        bar = None
        size = Path(file).stat().st_size if Path(file).exists() else 0
        if size > 5_000_000 and not args.json and sys.stderr.isatty():
            bar = tqdm(total=size, unit="B", unit_scale=True, desc=Path(file).name, leave=False)

        def progress(done: int, total: int, bar: tqdm | None = bar) -> None:
            if bar is not None:
                bar.total = total
                bar.update(done - bar.n)

        try:
            summary = ingest_file(Path(file), data, mapping=mapping, progress=progress)
        except ReadError as exc:
            status = EXIT_INPUT
            print(f"hotspot: {exc}", file=sys.stderr)
            continue
        finally:
            if bar is not None:
                bar.close()
        summaries.append(summary)
        if not args.json:
            print(summary.as_text())
    if args.json:
        if len(summaries) == 1:
            print(json.dumps(summaries[0].as_json()))
        else:
            by_reason: dict[str, int] = {}
            conflicts_by_reason: dict[str, int] = {}
            for s in summaries:
                for k, v in s.rejected_by_reason.items():
                    by_reason[k] = by_reason.get(k, 0) + v
                for k, v in s.conflicts_by_reason.items():
                    conflicts_by_reason[k] = conflicts_by_reason.get(k, 0) + v
            total = {
                "read": sum(s.read for s in summaries),
                "accepted": sum(s.accepted for s in summaries),
                "duplicates": sum(s.duplicates for s in summaries),
                "conflicts": sum(s.conflicts for s in summaries),
                "rejected": sum(s.rejected for s in summaries),
                "rejected_by_reason": by_reason,
                "conflicts_by_reason": conflicts_by_reason,
                "files": [s.as_json() for s in summaries],
            }
            print(json.dumps(total))
    return status


_MAPPING_FLAGS = (
    "id_col", "datetime_col", "date_col", "time_col", "lon_col", "lat_col", "easting_col",
    "northing_col", "category_col", "source_col", "domestic_col", "location_col",
    "default_source", "default_category", "datetime_format", "offset",
)


def cmd_sample(args: argparse.Namespace) -> int:
    """Load the bundled synthetic sample."""
    from geo.ingest import load_sample

    data = _data_paths(args)
    try:
        summary = load_sample(data, n=args.n, seed=args.seed)
    except ValueError as exc:
        return _fail(str(exc))
    print(summary.as_text())
    print(f"Loaded the SYNTHETIC sample into {data.root}. It is not real incident data.")
    return EXIT_OK


def cmd_boundaries(args: argparse.Namespace) -> int:
    """Show the areas in use, or import new ones."""
    from geo.boundaries import BoundaryError, import_boundaries, load_boundaries

    data = _data_paths(args)
    if args.action == "import":
        if not args.file or not args.code_field or not args.name_field:
            return _fail("boundaries import needs FILE, --code-field and --name-field", EXIT_USAGE)
        try:
            b = import_boundaries(
                Path(args.file), args.code_field, args.name_field, data.boundaries,
                population_field=args.population_field,
            )
        except BoundaryError as exc:
            return _fail(str(exc))
        print(f"Imported {len(b.areas)} areas from {args.file} into {data.boundaries}.")
        from geo.ingest import relabel_store

        moved = relabel_store(data, b)
        if moved is not None:
            print(moved)
        return EXIT_OK
    b = load_boundaries(data.boundaries)
    print(f"{len(b.areas)} areas in use ({b.source}):")
    for code, name in b.names().items():
        pop = b.population().get(code)
        pop_text = f"{pop:,.0f}" if pop and pop == pop else "population unknown"
        print(f"  {code}  {name}  ({pop_text})")
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the dashboard and API."""
    from dashboard.app import create_app, ensure_data

    data = _data_paths(args)
    message = ensure_data(data)
    if message:
        print(message)
    app = create_app(data)
    _warm_compiled_code()
    url = f"http://{args.host}:{args.port}"
    print(f"Hotspot is serving {data.root} at {url}  (Ctrl+C to stop)")
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True)
    else:
        from waitress import serve

        serve(app.server, host=args.host, port=args.port, threads=8, _quiet=True)
    return EXIT_OK


def _warm_compiled_code() -> None:
    """Compile (or load from numba's cache) the engine's loops while the first page loads.

    An analyst's first DBSCAN or density request then does not wait for the compiler.
    """
    import threading

    def warm() -> None:
        import numpy as np

        from geo.dbscan import dbscan
        from geo.kde import kde_surface

        pts = np.random.default_rng(0).uniform(0, 1000, size=(200, 2))
        dbscan(pts[:, 0], pts[:, 1], eps_m=50.0, min_samples=3)
        kde_surface(pts[:, 0], pts[:, 1], cell_m=50.0, bandwidth_m=200.0)

    threading.Thread(target=warm, name="warm-numba", daemon=True).start()


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the benchmark."""
    from dashboard.bench import run_bench

    result = run_bench(n=args.n, seed=args.seed, skip_baselines=args.skip_baselines)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser."""
    parser = argparse.ArgumentParser(
        prog="hotspot",
        description="Hotspot: where and when serious violence concentrates.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("serve", help="start the dashboard and API",
                       description="Start the dashboard and its HTTP API. On an empty data "
                       "directory the bundled SYNTHETIC sample is loaded and labelled as such.")
    _add_data_dir(p)
    p.add_argument("--host", default=os.environ.get("HOTSPOT_HOST", "127.0.0.1"))
    p.add_argument("--port", type=int, default=int(os.environ.get("HOTSPOT_PORT", "8050")))
    p.add_argument("--debug", action="store_true", help="Dash debug mode (development only)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "ingest", help="add incident files to the store",
        description="Add incident files: police.uk street-level CSV (optionally .gz), a CSV of "
        "timestamped incidents with a column mapping, or GeoJSON/GeoPackage points. Every row "
        "is accepted, skipped as a duplicate, or written to a rejects file with its reason.",
    )
    _add_data_dir(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--mapping", metavar="TOML", help="column mapping for a generic CSV")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    grp = p.add_argument_group("column mapping flags (instead of --mapping)")
    for flag in _MAPPING_FLAGS:
        grp.add_argument("--" + flag.replace("_", "-"), dest=flag, metavar="X")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("sample", help="load the bundled SYNTHETIC sample",
                       description="Load the bundled synthetic Lancashire sample into the data "
                       "directory (never into one that holds your own data).")
    _add_data_dir(p)
    p.add_argument("--n", type=int, default=None,
                   help="regenerate a sample of N incidents instead of the bundled one")
    p.add_argument("--seed", type=int, default=20240401, help="random seed when regenerating")
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("boundaries", help="show or import area boundaries",
                       description="Show the areas in use, or import your own local-authority, "
                       "ward or beat polygons (GeoJSON, GeoPackage or Shapefile, any CRS).")
    _add_data_dir(p)
    p.add_argument("action", choices=["show", "import"], nargs="?", default="show")
    p.add_argument("file", nargs="?", metavar="FILE")
    p.add_argument("--code-field", metavar="F")
    p.add_argument("--name-field", metavar="F")
    p.add_argument("--population-field", metavar="F")
    p.set_defaults(func=cmd_boundaries)

    p = sub.add_parser("bench", help="measure speed against baselines",
                       description="Generate N synthetic incidents and time ingest, a filter "
                       "change, kernel density and DBSCAN, each beside a baseline.")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--skip-baselines", action="store_true")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".strip())
    except Exception as exc:  # a bug of ours: say so plainly, keep the details for a report
        import tempfile
        import traceback

        log = Path(tempfile.gettempdir()) / "hotspot-error.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        return _fail(f"something went wrong inside Hotspot ({type(exc).__name__}: {exc}). "
                     f"Nothing was changed in the store. Details for a bug report: {log}", 1)


if __name__ == "__main__":
    sys.exit(main())
