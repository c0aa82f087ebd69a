"""The ``hotspot`` command: serve, ingest, sample, boundaries, gazetteer, postcodes, users...

Heavy imports happen inside each subcommand so ``hotspot --help`` is instant and ``ingest``
never loads Dash.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from geo.settings import DataPaths, RecordKeyError, default_data_dir

EXIT_OK, EXIT_USAGE, EXIT_INPUT = 0, 2, 3


def _data_paths(args: argparse.Namespace) -> DataPaths:
    return DataPaths(Path(args.data_dir).expanduser() if args.data_dir else default_data_dir())


def _add_data_dir(p: argparse.ArgumentParser, again: bool = False) -> None:
    # On an action's own parser the option defaults to "not given", so a --data-dir written
    # before the action is not overwritten by the action parser's default.
    p.add_argument(
        "--data-dir",
        metavar="DIR",
        default=argparse.SUPPRESS if again else None,
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
    folders = [f for f in args.files if Path(f).is_dir()]
    if folders:
        if len(folders) != len(args.files) or mapping is not None:
            return _fail("give either files or one police.uk archive folder (a folder per "
                         "month of <month>-<force>-street.csv files), with no column mapping")
        return _ingest_archives(folders, data, args)
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


def _ingest_archives(folders: list[str], data: DataPaths, args: argparse.Namespace) -> int:
    """Ingest police.uk archive folders (geo.archive): a batch per month, files in parallel."""
    from geo.archive import ingest_archive
    from geo.readers import ReadError

    status = EXIT_OK
    for folder in folders:
        def report(summary: Any) -> None:
            if not args.json:
                print(summary.as_text(), flush=True)

        try:
            done = ingest_archive(Path(folder), data, workers=args.workers, report=report)
        except ReadError as exc:
            print(f"hotspot: {exc}", file=sys.stderr)
            status = EXIT_INPUT
            continue
        for path, why in done.failed.items():
            print(f"hotspot: {path}: {why}", file=sys.stderr)
            status = EXIT_INPUT
        if args.json:
            print(json.dumps({
                "folder": folder, "files": done.files, "read": done.read,
                "accepted": sum(m.accepted for m in done.months),
                "duplicates": sum(m.duplicates for m in done.months),
                "conflicts": sum(m.conflicts for m in done.months),
                "rejected": sum(m.rejected for m in done.months),
                "seconds": round(done.seconds, 2), "workers": done.workers,
                "rows_per_second": round(done.rows_per_second),
                "skipped": done.skipped, "failed": done.failed,
                "months": [m.as_json() for m in done.months]}))
        else:
            print(f"{folder}: {done.files:,} street-level files, {done.read:,} rows in "
                  f"{done.seconds:,.1f} s ({done.rows_per_second:,.0f} rows a second, "
                  f"{done.workers} worker processes)"
                  + (f"; {len(done.skipped):,} other files skipped (outcomes, stop and "
                     "search: not incidents)" if done.skipped else ""))
    _index_if_large(data, quiet=args.json)
    return status


def _index_if_large(data: DataPaths, quiet: bool = False) -> None:
    """Build the query index when the server would count the store with DuckDB.

    A store beyond ``HOTSPOT_IN_MEMORY_MAX_ROWS`` is served by DuckDB, which counts the
    Explorer's figures about three times sooner from the index: it is built once here,
    after a large ingest, rather than left for the operator to remember. ``quiet``: say
    nothing on standard output (JSON is being written there).
    """
    from geo import queryindex
    from geo.settings import limits
    from geo.store import Store

    store = Store.of(data)
    rows = store.manifest().rows
    if rows <= limits().in_memory_rows or queryindex.whole(store) is not None:
        return
    out = sys.stderr if quiet else sys.stdout
    print(f"The store now holds {rows:,} incidents, more than {limits().in_memory_rows:,} "
          "(HOTSPOT_IN_MEMORY_MAX_ROWS): the server will count them with DuckDB, so its "
          "query index is built now.", file=out, flush=True)
    _build_index(store, refused=EXIT_OK, out=out)


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
        summaries = load_sample(data, n=args.n, seed=args.seed)
    except ValueError as exc:
        return _fail(str(exc))
    for summary in summaries:
        print(summary.as_text())
    print(f"Loaded the SYNTHETIC sample (police, emergency department and ambulance records) "
          f"into {data.root}. It is not real incident data.")
    return EXIT_OK


def cmd_compact(args: argparse.Namespace) -> int:
    """Merge the store's small files into few large ones, in time order."""
    from geo.store import Store

    data = _data_paths(args)
    store = Store.of(data)
    before = len(store.manifest().files)
    result = store.compact(small_rows=args.small_rows)
    if not result.files_merged:
        print(f"Nothing to compact: {before:,} files, no year with more than one small file, "
              "and every file has its record keys.")
    else:
        keyed = (f" {result.files_keyed:,} of them were written before record keys and now "
                 "have them (partners' and boards' figures on the DuckDB and Dask engines "
                 "need them)." if result.files_keyed else "")
        print(f"Compacted {result.files_merged:,} files ({result.rows:,} incidents) into "
              f"{result.files_written:,}: the store now has {len(result.manifest.files):,} "
              f"files (was {before:,}). Every incident is kept, with the batch it came "
              f"in.{keyed}")
    if not args.index or not store.manifest().files:
        return EXIT_OK
    # the compaction stands whatever happens to the index: a refusal is a note, not a failure
    return _build_index(store, refused=EXIT_OK)


def cmd_index(args: argparse.Namespace) -> int:
    """Build the store's query index (what the DuckDB engine counts the Explorer from)."""
    from geo.store import Store

    return _build_index(Store.of(_data_paths(args)))


def _build_index(store: Any, refused: int = EXIT_INPUT, out: Any = None) -> int:
    """Build the query index of ``store``, unless it already holds every file; say what.

    Says it on ``out`` (standard output by default). Returns ``refused`` when it cannot be
    built (said in words, on standard error).
    """
    import time

    from geo import queryindex

    out = out or sys.stdout
    index = queryindex.whole(store)
    if index is not None:
        print(f"The query index already holds all {len(index.files):,} files "
              f"({index.rows:,} incidents).", file=out)
        return EXIT_OK
    started = time.perf_counter()
    try:
        index = queryindex.build(store)
    except (queryindex.IndexRefused, OSError) as exc:
        return _fail(f"No query index was built: {exc}. The DuckDB engine reads the store's "
                     "files instead (the same figures, more slowly).", refused)
    size = index.path.stat().st_size / 1e6
    print(f"Built the query index of {index.rows:,} incidents in {len(index.files):,} files "
          f"({size:,.0f} MB) in {time.perf_counter() - started:.1f} s. The DuckDB engine "
          "counts the Explorer's figures from it; files committed later are read from the "
          "store until it is built again (hotspot index, or hotspot compact).", file=out)
    return EXIT_OK


def cmd_boundaries(args: argparse.Namespace) -> int:
    """Show the boundary levels and their areas, import a level or its populations, remove one."""
    from geo.boundaries import AUTHORITY, BoundaryError, check_level_name, load_level, load_levels

    data = _data_paths(args)
    action = getattr(args, "action", None) or "show"
    try:
        level = check_level_name(getattr(args, "level", None) or AUTHORITY)
        if action == "import":
            return _import_boundaries(args, data, level)
        if action == "population":
            return _import_population(Path(args.file), data, level)
        if action == "remove":
            return _remove_level(data, level)
        levels = load_levels(data.boundaries)
        b = levels[level] if level in levels else load_level(data.boundaries, level)
    except BoundaryError as exc:
        return _fail(str(exc))
    print("Boundary levels:")
    width = max(len(name) for name in levels)
    for name, lb in levels.items():
        known, n = lb.population_coverage()
        print(f"  {name:<{width}}  {n:,} areas, {known:,} with a population; {lb.source}"
              + (f"; {lb.population_source()}" if lb.population_source() else ""))
    print()
    what = "areas in use" if level == AUTHORITY else f"areas in the '{level}' level"
    print(f"{len(b.areas)} {what} ({b.source}):")
    pops = b.population()
    for code, name in b.names().items():
        pop = pops.get(code)
        pop_text = f"{pop:,.0f}" if pop and pop == pop else "population unknown"
        print(f"  {code}  {name}  ({pop_text})")
    where = "" if level == AUTHORITY else f" --level {level}"
    print(b.population_source() or "No populations: rates cannot be shown. Add them with "
          f"'hotspot boundaries population FILE.csv{where}' (columns code, population, year).")
    return EXIT_OK


def _import_boundaries(args: argparse.Namespace, data: DataPaths, level: str) -> int:
    from geo.boundaries import AUTHORITY, import_level, level_dir

    if not args.code_field or not args.name_field:
        return _fail("boundaries import needs --code-field and --name-field (the fields that "
                     "hold each area's code and name)", EXIT_USAGE)
    if args.population and not Path(args.population).is_file():
        # checked first, so a mistyped table name does not leave boundaries without one
        return _fail(f"the population table {args.population} does not exist")
    b, dropped = import_level(
        Path(args.file), args.code_field, args.name_field, data.boundaries, level,
        population_field=args.population_field,
    )
    where = "" if level == AUTHORITY else f" as the '{level}' level"
    print(f"Imported {len(b.areas)} areas from {args.file}{where} into "
          f"{level_dir(data.boundaries, level)}.")
    for note in b.notes:
        print(note)
    if dropped:
        print("The population table of the previous boundaries was removed.")
    if level == AUTHORITY:
        from geo.ingest import relabel_store

        moved = relabel_store(data, b)
        if moved is not None:
            print(moved)
    else:
        print(f"Incidents are placed in these areas when a figure asks for the '{level}' "
              f"level (e.g. /api/v1/trends?level={level}); the stored incidents are unchanged.")
    if args.population:
        return _import_population(Path(args.population), data, level)
    if not b.population_note:
        flag = "" if level == AUTHORITY else f" --level {level}"
        print("These areas have no populations, so rates cannot be shown or ranked. Add them "
              f"with: hotspot boundaries population FILE.csv{flag} (columns code, population, "
              "year).")
    return EXIT_OK


def _import_population(path: Path, data: DataPaths, level: str) -> int:
    from geo.boundaries import import_population

    _, notes = import_population(path, data.boundaries, level=level)
    for note in notes:
        print(note)
    return EXIT_OK


def _remove_level(data: DataPaths, level: str) -> int:
    from geo.boundaries import remove_level

    remove_level(data.boundaries, level)
    print(f"Removed the '{level}' level and its populations. Its source file was not touched.")
    return EXIT_OK


def cmd_groups(args: argparse.Namespace) -> int:
    """List, define, remove crime-type groups, or choose the default one."""
    from geo.groups import ALL, GroupError, load_groups, remove_group, set_default, set_group

    data = _data_paths(args)
    action = getattr(args, "action", None) or "list"
    try:
        if action == "set":
            set_group(data.groups, args.name, args.categories)
            print(f"Saved the group '{args.name.strip().lower()}'.")
        elif action == "remove":
            remove_group(data.groups, args.name)
            print(f"Removed the group '{args.name.strip().lower()}'.")
        elif action == "default":
            name = None if args.name.strip().lower() in {"none", "auto"} else args.name
            set_default(data.groups, name)
        groups = load_groups(data.groups)
    except GroupError as exc:
        return _fail(str(exc))
    if args.json:
        print(json.dumps({"groups": {k: list(v) for k, v in groups.groups.items()},
                          "default": groups.default, "rule": groups.rule()}))
        return EXIT_OK
    print("Crime-type groups:")
    for name, cats in sorted(groups.groups.items()):
        mark = "  (default)" if groups.default == name else ""
        print(f"  {name}{mark}: {', '.join(cats)}")
    print(f"  {ALL}: every category in the data")
    print(groups.rule())
    return EXIT_OK


def cmd_gazetteer(args: argparse.Namespace) -> int:
    """Import, show or remove the gazetteer that names places the incidents do not."""
    from geo.gazetteer import (
        GazetteerColumns,
        GazetteerError,
        import_gazetteer,
        load_gazetteer,
        remove_gazetteer,
    )

    data = _data_paths(args)
    action = getattr(args, "action", None) or "show"
    if action == "remove":
        if remove_gazetteer(data.gazetteer):
            print("Removed the gazetteer. Places are named from the incidents, wards, LSOAs "
                  "and authorities.")
        else:
            print("There is no gazetteer to remove.")
        return EXIT_OK
    if action == "import":
        from geo.boundaries import load_boundaries

        columns = GazetteerColumns(name=args.name_col, type=args.type_col, x=args.x_col,
                                   y=args.y_col, locality=args.locality_col, crs=args.crs)
        try:
            summary = import_gazetteer([Path(f) for f in args.files], data.gazetteer,
                                       columns=columns,
                                       boundaries=load_boundaries(data.boundaries),
                                       add=args.add)
        except GazetteerError as exc:
            return _fail(str(exc))
        print(json.dumps(summary.as_json()) if args.json else summary.as_text())
        return EXIT_OK
    gazetteer = load_gazetteer(data.gazetteer)
    if gazetteer is None:
        print("No gazetteer is imported. Places with no location text are named by their "
              "ward, LSOA or authority. Import OS Open Names (or any CSV of name, type and "
              "coordinates) with: hotspot gazetteer import FILE")
        return EXIT_OK
    print(f"The gazetteer holds {gazetteer.describe()}.")
    for source in gazetteer.sources:
        print(f"  {source.get('file')}: {source.get('streets', 0):,} streets, "
              f"{source.get('localities', 0):,} localities ({source.get('layout')}, "
              f"{source.get('crs')}), imported {source.get('imported_at')}")
    return EXIT_OK


def cmd_postcodes(args: argparse.Namespace) -> int:
    """Import or show the postcode directory that places records giving only a postcode."""
    from geo.postcodes import import_postcodes, postcode_manifest
    from geo.schema import ReadError

    data = _data_paths(args)
    try:
        if getattr(args, "action", None) == "import":
            _say_when_large(Path(args.file), args.json)
            summary = import_postcodes(Path(args.file), data)
            print(json.dumps(summary.as_json()) if args.json else summary.as_text())
            return EXIT_OK
        info = postcode_manifest(data)
    except ReadError as exc:
        return _fail(str(exc))
    if getattr(args, "json", False):
        print(json.dumps(info))
        return EXIT_OK
    if info is None:
        print("No postcode directory is imported, so records and venues that give a postcode "
              "but no coordinates cannot be placed. Import the ONS Postcode Directory (ONSPD) "
              "or OS Code-Point Open, as downloaded (the zip is fine), with: "
              "hotspot postcodes import FILE")
        return EXIT_OK
    rows = int(info.get("rows", 0))
    print(f"The postcode directory holds {rows:,} postcode{'' if rows == 1 else 's'} from "
          f"{info.get('file')} "
          f"({info.get('source')}), imported {info.get('imported_at')}:")
    print(f"  live:                    {int(info.get('live', 0)):>12,}")
    print(f"  terminated:              {int(info.get('terminated', 0)):>12,}")
    print(f"  with no grid reference:  {int(info.get('no_grid_reference', 0)):>12,}")
    lsoa_column = info.get("lsoa_column")
    print(f"  with an LSOA code:       {int(info.get('with_lsoa', 0)):>12,}"
          + (f"  ({lsoa_column})" if lsoa_column else ""))
    print("A record giving one of these postcodes is placed at the postcode's grid reference "
          "(the middle of its addresses); terminated postcodes only for records dated before "
          "they ended.")
    return EXIT_OK


def cmd_lsoa_centroids(args: argparse.Namespace) -> int:
    """Import or show the LSOA population-weighted centroids that place LSOA-coded records."""
    from geo.postcodes import import_lsoa_centroids, lsoa_centroid_manifest
    from geo.schema import ReadError

    data = _data_paths(args)
    try:
        if getattr(args, "action", None) == "import":
            summary = import_lsoa_centroids(Path(args.file), data)
            print(json.dumps(summary.as_json()) if args.json else summary.as_text())
            return EXIT_OK
        info = lsoa_centroid_manifest(data)
    except ReadError as exc:
        return _fail(str(exc))
    if getattr(args, "json", False):
        print(json.dumps(info))
        return EXIT_OK
    if info is None:
        print("No LSOA centroids are imported, so records that give only an LSOA code cannot "
              "be placed. Import the ONS 'LSOA (December 2021) Population Weighted Centroids' "
              "(CSV or GeoJSON) with: hotspot lsoa-centroids import FILE")
        return EXIT_OK
    vintage = f" ({info['vintage']} LSOAs)" if info.get("vintage") else ""
    print(f"{int(info.get('rows', 0)):,} LSOA population-weighted centroids{vintage} from "
          f"{info.get('file')}, imported {info.get('imported_at')}.")
    print("A record giving only an LSOA code is placed at its LSOA's centroid: the "
          "neighbourhood, not the street.")
    return EXIT_OK


def _say_when_large(path: Path, quiet: bool) -> None:
    if not quiet and path.is_file() and path.stat().st_size > 50_000_000:
        print(f"Reading {path.name}: a national directory takes up to a minute.",
              file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the dashboard and API."""
    from dashboard.app import create_app, ensure_data

    data = _data_paths(args)
    try:
        auth = _auth_settings(args)
        refusal = _unsafe_to_serve(data, args.host, auth)
    except ValueError as err:  # a setting, the role file or the proxy list is not valid
        print(f"hotspot serve: {err}", file=sys.stderr)
        return EXIT_USAGE
    if refusal:
        print(refusal, file=sys.stderr)
        return EXIT_USAGE
    message = ensure_data(data)
    if message:
        print(message)
    engine = (args.engine or os.environ.get("HOTSPOT_ENGINE", "")).strip().lower() or "auto"
    if os.environ.get("HOTSPOT_SCHEDULER") and not args.scheduler and engine != "dask":
        print(f"Note: HOTSPOT_SCHEDULER is set but the engine is {engine}, not dask: the "
              "scheduler is not used.", file=sys.stderr)
    if args.scheduler and engine != "dask":
        print("hotspot serve: --scheduler is for --engine dask", file=sys.stderr)
        return EXIT_USAGE
    if args.dask_workers is not None and args.dask_workers < 1:
        print("hotspot serve: --dask-workers must be 1 or more", file=sys.stderr)
        return EXIT_USAGE
    for name, value in (("HOTSPOT_ENGINE", args.engine), ("HOTSPOT_SCHEDULER", args.scheduler),
                        ("HOTSPOT_DASK_WORKERS", args.dask_workers)):
        if value is not None:  # the app's services read them (dashboard.services)
            os.environ[name] = str(value)
    from dashboard.security import allowed_hosts

    extra = [*os.environ.get("HOTSPOT_ALLOWED_HOSTS", "").split(","), *(args.allowed_host or [])]
    hosts = allowed_hosts(args.host, extra)
    try:
        app = create_app(data, hosts=hosts, auth=auth)
    except ValueError as err:  # e.g. a role file edited into something invalid
        print(f"hotspot serve: {err}", file=sys.stderr)
        return EXIT_USAGE
    print(_engine_line(app))
    _warm_compiled_code()
    from geo.inbox import InboxWatcher

    watcher = InboxWatcher(data).start()
    url = f"http://{args.host}:{args.port}"
    print(f"Hotspot is serving {data.root} at {url}  (Ctrl+C to stop)")
    print(f"It answers to the host names {', '.join(sorted(hosts))}; add others with "
          "--allowed-host or HOTSPOT_ALLOWED_HOSTS.")
    print(f"Files dropped into {data.inbox} are ingested as they arrive (then moved to "
          "processed/ or failed/ with a report).")
    if args.debug:
        app.run(host=args.host, port=args.port, debug=True)
    else:
        from waitress import serve

        # Threads beyond the heavy lane's slots (dashboard.services) keep quick requests served.
        serve(app.server, host=args.host, port=args.port, threads=16, _quiet=True)
    watcher.stop()
    return EXIT_OK


def _auth_settings(args: argparse.Namespace) -> Any:
    """Return how users are identified: the environment, overridden by the options."""
    from dashboard.access.identity import AuthSettings

    env = AuthSettings.from_env()
    proxies = args.trusted_proxy or [str(n) for n in env.trusted_proxies]
    return AuthSettings.build(mode=args.auth or env.mode, trusted_proxies=proxies,
                              header=args.auth_header or env.header,
                              secure_cookies=env.secure_cookies)


def _unsafe_to_serve(data: Any, host: str, auth: Any) -> str | None:
    """Return why serving would expose the data to anyone who reaches the port, or None."""
    import ipaddress

    from dashboard.access.accounts import Accounts
    from geo.access import load_roles

    try:
        loopback = ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        loopback = host.lower() == "localhost"
    if loopback or auth.mode == "header":
        return None
    if Accounts(data.access, load_roles(data.access / "roles.toml")).configured():
        return None
    return (f"Refusing to serve on {host}: no users or API tokens are set up, so anyone who can "
            "reach this address would see every incident. Add a user first:\n"
            "  hotspot users add NAME --role admin      (asks for a password)\n"
            "or serve on 127.0.0.1, where a single local analyst needs no sign-in.")


def _engine_line(app: Any) -> str:
    """Say what counts the figures, and why when the server chose (``--engine auto``)."""
    from dashboard.services import EXTENSION
    from geo.settings import limits

    svc = app.server.extensions[EXTENSION]
    engine = getattr(svc.query, "engine", "numpy")
    rows = svc.query.store.manifest().rows
    chose = (os.environ.get("HOTSPOT_ENGINE", "auto").strip().lower() or "auto") == "auto"
    most = limits().in_memory_rows
    if engine == "numpy":
        why = (f", as it holds no more than {most:,} (HOTSPOT_IN_MEMORY_MAX_ROWS)"
               if chose else "")
        return f"The store's {rows:,} incidents are held in memory{why}."
    why = (f", as it holds more than {most:,} (HOTSPOT_IN_MEMORY_MAX_ROWS)" if chose else "")
    return (f"The store's {rows:,} incidents are counted by {engine} over its files{why}. "
            f"{_index_line(svc.query.store) if engine == 'duckdb' else ''}"
            "The views that read incidents one by one (patrol plan, NTE zones, density, "
            f"hospital & ambulance) take at most {limits().selection_rows:,} "
            "(HOTSPOT_MAX_SELECTION_ROWS) and otherwise say what to narrow.")


def _index_line(store: Any) -> str:
    """Say how much of the store the query index holds, and how to build it if not all."""
    from geo import queryindex

    index = queryindex.current(store)
    files = store.manifest().files
    held = len(set(files) & set(index.files)) if index is not None else 0
    if held == len(files):
        return "The query index holds every file. "
    return (f"The query index holds {held:,} of its {len(files):,} files: run hotspot index "
            "(or hotspot compact) for the Explorer's figures about three times sooner. ")


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
    if args.load:
        from dashboard.loadbench import run_load_bench

        result = run_load_bench(Path(args.data_dir) if args.data_dir else None,
                                clients=args.clients, seconds=args.seconds,
                                heavy=args.heavy)
        print(json.dumps(result, indent=1))
        return EXIT_OK
    if args.engine:
        from dashboard.enginebench import run_engine_bench

        for flag, value in (("--n", args.n), ("--workers", args.workers),
                            ("--repeats", args.repeats)):
            if value < 1:
                return _fail(f"{flag} must be 1 or more (it is {value})")

        try:
            result = run_engine_bench(args.n, args.engine, workers=args.workers,
                                      scheduler=args.scheduler, seed=args.seed,
                                      data_dir=Path(args.data_dir) if args.data_dir else None,
                                      repeats=args.repeats)
        except (RuntimeError, ValueError) as exc:
            return _fail(f"the {args.engine} benchmark did not run: {exc}", code=1)
    else:
        from dashboard.bench import run_bench

        result = run_bench(n=args.n, seed=args.seed, skip_baselines=args.skip_baselines)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        for k, v in result.items():
            print(f"{k:32} {v}")
    return EXIT_OK


def cmd_backtest(args: argparse.Namespace) -> int:
    """Backtest the forecast against simple baselines and the oracle (issue 12)."""
    from dashboard.backtest_run import run, text_report
    from geo.boundaries import load_boundaries
    from geo.query import FilterError, QueryLayer
    from geo.store import Store

    data = _data_paths(args)
    params = {"categories": args.categories, "la": args.la, "days": args.days,
              "hours": args.hours, "source": args.source, "unit": args.unit,
              "lookback_months": args.lookback_months, "horizon_months": args.horizon_months,
              "from": getattr(args, "from"), "to": args.to, "coverage": args.coverage,
              "study_area": args.study_area,
              "public_only": "1" if args.public_only else None}
    query = QueryLayer(Store(data.store), load_boundaries(data.boundaries))
    try:
        result = run(query, {k: v for k, v in params.items() if v is not None})
    except FilterError as exc:
        return _fail(f"--{exc.param.replace('_', '-')}: {exc.message}")
    print(json.dumps(result, indent=1) if args.json else text_report(result))
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
    p.add_argument("--allowed-host", action="append", metavar="NAME",
                   help="a host name users reach this server by (repeatable; also "
                   "HOTSPOT_ALLOWED_HOSTS, comma-separated). Requests naming any other host are "
                   "refused, which stops DNS rebinding. This machine's own names are always "
                   "allowed.")
    p.add_argument("--auth", choices=("local", "header"),
                   help="how users are identified: local (sign-in with the users of `hotspot "
                   "users`, and API tokens; the default) or header (a single sign-on reverse "
                   "proxy names the user in a header; also HOTSPOT_AUTH_MODE)")
    p.add_argument("--trusted-proxy", action="append", metavar="ADDRESS",
                   help="with --auth header: an address or network (CIDR) of the proxy; the "
                   "header is believed only from these (repeatable; also HOTSPOT_TRUSTED_PROXIES)")
    p.add_argument("--auth-header", metavar="NAME",
                   help="with --auth header: the header naming the user (default "
                   "X-Remote-User; also HOTSPOT_AUTH_HEADER)")
    p.add_argument("--engine", choices=["auto", "numpy", "duckdb", "dask"],
                   help="what counts the figures: numpy (the store held in memory, fastest for "
                   "one force), duckdb (SQL over the stored Parquet files, nothing preloaded: "
                   "for regional and national stores) or dask (the same SQL on a Dask "
                   "cluster's workers). auto, the default, holds a store of up to "
                   "HOTSPOT_IN_MEMORY_MAX_ROWS incidents (2,000,000) in memory and counts a "
                   "larger one with duckdb. Every page gives the in-memory figures on each, "
                   "the views that read incidents one by one within "
                   "HOTSPOT_MAX_SELECTION_ROWS: see docs/ENGINES.md. Also HOTSPOT_ENGINE")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: a running Dask scheduler, e.g. tcp://HOST:8786 "
                   "(default: a local cluster on this machine; also HOTSPOT_SCHEDULER)")
    p.add_argument("--dask-workers", type=int, metavar="N",
                   help="with --engine dask and no --scheduler: worker processes of the local "
                   "cluster (default 2; also HOTSPOT_DASK_WORKERS)")
    p.add_argument("--debug", action="store_true", help="Dash debug mode (development only)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser(
        "ingest", help="add incident files to the store",
        description="Add incident files: police.uk street-level CSV (optionally .gz), a CSV of "
        "timestamped incidents with a column mapping, or GeoJSON/GeoPackage points. Every row "
        "is accepted, skipped as a duplicate, or written to a rejects file with its reason. "
        "A folder is read as the police.uk archive layout (a folder per month of "
        "<month>-<force>-street.csv files): its files are read in parallel and each month is "
        "committed as one batch.",
    )
    _add_data_dir(p)
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--workers", type=int, default=None, metavar="N",
                   help="for an archive folder: processes reading files (default: one per "
                   "core)")
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

    p = sub.add_parser("boundaries", help="show or import area boundaries and populations",
                       description="Show the boundary levels and their areas, import your own "
                       "local-authority polygons or another level of areas (wards, beats, "
                       "neighbourhoods: GeoJSON, GeoPackage or Shapefile, any CRS), import a "
                       "population table for a level (CSV: code, population, year), or remove "
                       "a level.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_boundaries, action="show")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    level_help = ("the boundary level: authority (the default; incidents are assigned to it "
                  "when ingested) or a name of your own such as ward, beat or neighbourhood "
                  "(lower-case letters, digits and _)")
    q = actions.add_parser("show", help="list the levels, and a level's areas with their "
                           "populations")
    _add_data_dir(q, again=True)
    q.add_argument("--level", metavar="NAME", help=level_help)
    q = actions.add_parser(
        "import", help="import area polygons",
        description="Import area polygons as a level (default: the authorities); options and "
        "FILE may come in any order.")
    _add_data_dir(q, again=True)
    q.add_argument("--level", metavar="NAME", help=level_help)
    q.add_argument("file", metavar="FILE")
    q.add_argument("--code-field", metavar="F", help="field holding each area's code")
    q.add_argument("--name-field", metavar="F", help="field holding each area's name")
    q.add_argument("--population-field", metavar="F",
                   help="field of the boundary file holding each area's population")
    q.add_argument("--population", metavar="CSV",
                   help="population table to import with the areas (code, population, year)")
    q = actions.add_parser(
        "population", help="import a population table for a level's areas",
        description="Import resident populations for a level's imported boundaries (default: "
        "the authorities) from a CSV with "
        "columns code, population and year (the year of the estimate). Every row is checked; "
        "if any is unusable nothing is imported and each problem is listed with its line.")
    _add_data_dir(q, again=True)
    q.add_argument("--level", metavar="NAME", help=level_help)
    q.add_argument("file", metavar="FILE.csv")
    q = actions.add_parser(
        "remove", help="remove an imported level (wards, beats...)",
        description="Remove an imported level and its populations. The authority level cannot "
        "be removed (import other authority boundaries to replace it).")
    _add_data_dir(q, again=True)
    q.add_argument("--level", metavar="NAME", required=True, help=level_help)

    p = sub.add_parser("gazetteer", help="streets and localities that name places",
                       description="Import a gazetteer (OS Open Names CSV files, plain, "
                       "gzipped or the download's zip, or any CSV of name, type and "
                       "coordinates), show it, or remove it. Places whose incidents give no "
                       "location text are named by its nearest street and locality.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_gazetteer, action="show")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = actions.add_parser("show", help="say what the gazetteer holds")
    _add_data_dir(q, again=True)
    q = actions.add_parser(
        "import", help="import gazetteer files (replacing the gazetteer, or --add)",
        description="Import OS Open Names CSV files (no header row; its 34 columns) or a CSV "
        "of name, type and coordinates with a header row. Roads and populated places are "
        "kept; every other row is rejected with its reason, and rows more than 5 km beyond "
        "the boundaries in use are left out. The gazetteer is replaced in one step.")
    _add_data_dir(q, again=True)
    q.add_argument("files", nargs="+", metavar="FILE")
    q.add_argument("--add", action="store_true",
                   help="add to the gazetteer already imported instead of replacing it")
    q.add_argument("--name-col", metavar="COL", help="column holding the name")
    q.add_argument("--type-col", metavar="COL",
                   help="column saying street (road, street...) or locality (town, village, "
                   "suburb...)")
    q.add_argument("--x-col", metavar="COL", help="column of eastings (or longitudes)")
    q.add_argument("--y-col", metavar="COL", help="column of northings (or latitudes)")
    q.add_argument("--locality-col", metavar="COL",
                   help="column naming the settlement a street is in (optional)")
    q.add_argument("--crs", metavar="CRS",
                   help="coordinate reference system of x and y, e.g. EPSG:27700 (default: "
                   "British National Grid, or EPSG:4326 for longitude/latitude columns)")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")
    q = actions.add_parser("remove", help="remove the gazetteer")
    _add_data_dir(q, again=True)

    p = sub.add_parser(
        "postcodes", help="the postcode directory that places records giving a postcode",
        description="Import a postcode directory, or show the one imported. Records (ED and "
        "ambulance extracts, premises registers) that give a postcode but no coordinates are "
        "placed at the postcode's grid reference, offline. Reads the ONS Postcode Directory "
        "(ONSPD: its CSV, or the download's zip) or OS Code-Point Open (its CSVs or zip), "
        "plain or gzipped.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_postcodes, action="show")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = actions.add_parser("show", help="say what is imported: source, postcodes, when")
    _add_data_dir(q, again=True)
    q.add_argument("--json", action="store_true", help="print the manifest as JSON")
    q = actions.add_parser(
        "import", help="import a postcode directory (replacing the one in use)",
        description="Import the ONS Postcode Directory or OS Code-Point Open. Live and "
        "terminated postcodes are kept, and postcodes without a grid reference are kept as "
        "such, so a record can be told why it was not placed. The lookup in use is replaced "
        "in one step, and left as it was if the file cannot be read.")
    _add_data_dir(q, again=True)
    q.add_argument("file", metavar="FILE")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser(
        "lsoa-centroids", help="LSOA centroids that place records giving an LSOA code",
        description="Import the ONS LSOA population-weighted centroids (2021 or 2011; CSV, "
        "plain, gzipped or zipped, or GeoJSON/GeoPackage points), or show what is imported. "
        "Records that give only an LSOA code are placed at their LSOA's centroid.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_lsoa_centroids, action="show")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = actions.add_parser("show", help="say what is imported")
    _add_data_dir(q, again=True)
    q.add_argument("--json", action="store_true", help="print the manifest as JSON")
    q = actions.add_parser("import", help="import LSOA centroids (replacing those in use)")
    _add_data_dir(q, again=True)
    q.add_argument("file", metavar="FILE")
    q.add_argument("--json", action="store_true", help="print the summary as JSON")

    p = sub.add_parser("groups", help="crime-type groups and the default selection",
                       description="List crime-type groups, define or remove one, or choose "
                       "the group pages and the API start with.")
    _add_data_dir(p)
    p.add_argument("--json", action="store_true", help="print the groups as JSON")
    p.set_defaults(func=cmd_groups, action="list")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    q = actions.add_parser("list", help="list the groups and the default")
    _add_data_dir(q, again=True)
    q = actions.add_parser("set", help="define or redefine a group",
                           description='e.g. hotspot groups set knife "Possession of weapons" '
                           "Robbery")
    _add_data_dir(q, again=True)
    q.add_argument("name", metavar="NAME")
    q.add_argument("categories", nargs="+", metavar="CATEGORY")
    q = actions.add_parser("remove", help="remove a group")
    _add_data_dir(q, again=True)
    q.add_argument("name", metavar="NAME")
    q = actions.add_parser("default", help="choose the default group",
                           description="NAME is a group, 'all' for every category, or 'auto' "
                           "for the built-in rule (police.uk data: violence; others: all).")
    _add_data_dir(q, again=True)
    q.add_argument("name", metavar="NAME")

    p = sub.add_parser(
        "compact", help="merge the store's small files (live feeds, daily imports)",
        description="Merge each year's small data files into few large ones, sorted by time, "
        "in one atomic step: readers see the store as it was until the switch, and an "
        "interrupted run leaves it as it was. The server does this by itself when its inbox "
        "has added many files.")
    _add_data_dir(p)
    p.add_argument("--small-rows", type=int, default=1_000_000, metavar="N",
                   help="files with fewer incidents than this are merged (default 1,000,000)")
    p.add_argument("--no-index", dest="index", action="store_false",
                   help="do not build the query index afterwards (see hotspot index)")
    p.set_defaults(func=cmd_compact)

    p = sub.add_parser(
        "index", help="build the query index the DuckDB engine counts from",
        description="Copy the columns the Explorer counts into one DuckDB file beside the "
        "store, coded and in time order: on a large store the DuckDB engine answers a filter "
        "change about three times faster from it, with the same figures. Files committed "
        "later are read from the store itself until the index is built again. The index is "
        "derived: deleting the store's index folder loses nothing.")
    _add_data_dir(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser("bench", help="measure speed against baselines",
                       description="Generate N synthetic incidents and time ingest, a filter "
                       "change, kernel density and DBSCAN, each beside a baseline.")
    p.add_argument("--n", type=int, default=1_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--skip-baselines", action="store_true")
    p.add_argument("--load", action="store_true",
                   help="instead: quick-request latency while clients ask for heavy analyses "
                   "(serves --data-dir, or the synthetic sample in a temporary folder)")
    p.add_argument("--data-dir", metavar="DIR", help="with --load: the data to serve; with "
                   "--engine: where the generated store is kept (default "
                   "~/.cache/hotspot/bench-N-SEED)")
    p.add_argument("--engine", choices=["numpy", "duckdb", "dask"],
                   help="instead: one query executor on a generated store of N incidents "
                   "(filter change, peak memory, time for a new batch to be visible)")
    p.add_argument("--workers", type=int, default=2,
                   help="with --engine dask: worker processes of the local cluster")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --engine dask: a running scheduler, e.g. tcp://HOST:8786")
    p.add_argument("--repeats", type=int, default=15,
                   help="with --engine: filter changes timed after the first")
    p.add_argument("--clients", type=int, default=8, help="with --load: heavy clients")
    p.add_argument("--seconds", type=float, default=30.0, help="with --load: per phase")
    p.add_argument("--heavy", default="/api/v1/emerging?periods=60&res=10",
                   help="with --load: the heavy request the clients repeat")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "backtest", help="how well the forecast predicted next month, beside baselines",
        description="At each monthly cutoff, rank places from the data before it by the "
        "forecast, the look-back's count (count_12m), last month's count, kernel density and "
        "the oracle (the next month's own counts), and score each on the next month: hit "
        "rate, PAI and share of the oracle's hit rate, with medians over the cutoffs. "
        "Cutoffs whose windows miss a month of data are skipped and listed.")
    _add_data_dir(p)
    p.add_argument("--categories", help="crime types, comma-separated (default: all)")
    p.add_argument("--la", help="area codes, comma-separated (default: all)")
    p.add_argument("--days", help="e.g. fri,sat (timestamped data only)")
    p.add_argument("--hours", help="e.g. 20-4 (timestamped data only)")
    p.add_argument("--source", help="police, ed or ambulance (default: all)")
    p.add_argument("--public-only", action="store_true",
                   help="leave out incidents flagged domestic, as the patrol plan does")
    p.add_argument("--unit", default="h3-9", help="h3-7 to h3-10 (default h3-9)")
    p.add_argument("--lookback-months", default="12")
    p.add_argument("--horizon-months", default="1")
    p.add_argument("--from", dest="from", metavar="YYYY-MM",
                   help="first cutoff (default: the first with a whole look-back)")
    p.add_argument("--to", metavar="YYYY-MM",
                   help="last cutoff (default: the last with a whole horizon)")
    p.add_argument("--coverage", default="0.01,0.02,0.05",
                   help="shares of the study area to select (default 0.01,0.02,0.05)")
    p.add_argument("--study-area", default="inhabited", choices=("inhabited", "boundaries"))
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_backtest)

    from dashboard.access.audit_cli import register as register_audit
    from dashboard.access.cli import register as register_access

    register_access(sub)
    register_audit(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    from geo.settings import ENGINES, limits

    try:
        limits()  # a setting that is not valid is named before anything starts
        engine = os.environ.get("HOTSPOT_ENGINE", "").strip().lower()
        if engine and engine not in ENGINES:
            raise ValueError(f"the setting HOTSPOT_ENGINE is {engine[:20]!r}; the engines "
                             f"are {', '.join(ENGINES)}")
    except ValueError as err:
        print(f"hotspot: {err}", file=sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except OSError as exc:
        return _fail(f"{exc.strerror or exc}: {exc.filename or ''}".strip())
    except RecordKeyError as exc:
        return _fail(str(exc))
    except Exception as exc:  # a bug of ours: say so plainly, keep the details for a report
        import tempfile
        import traceback

        log = Path(tempfile.gettempdir()) / "hotspot-error.log"
        log.write_text(traceback.format_exc(), encoding="utf-8")
        return _fail(f"something went wrong inside Hotspot ({type(exc).__name__}: {exc}). "
                     f"Nothing was changed in the store. Details for a bug report: {log}", 1)


if __name__ == "__main__":
    sys.exit(main())
