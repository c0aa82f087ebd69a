"""The engine stays pure, and the dashboard owns its input and output formats.

``geo/`` computes: it takes arrays, frames and typed parameter dataclasses and returns
dataclasses, frames and arrays. ``dashboard/`` talks to people and programs: it parses query
strings into those dataclasses (``dashboard/params.py``) and writes results as JSON, GeoJSON,
CSV and HTML (``dashboard/serialise.py``, ``dashboard/templates/``). So the same question asked
by a page, a link or the API reaches the engine in one form, and the engine can be used, and
tested, without a web framework.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: The shared filters', whole numbers' and dates' parsers: query-string parsing.
QUERY_PARSERS = frozenset({"parse_filters", "int_param", "check_date_in_range"})
#: Where they are defined, and the one module they are imported from.
PARSER_HOME = "dashboard/params.py"
#: A function that parses an endpoint's query parameters (parse_plan_params ...).
PARSER_NAME = re.compile(r"^parse_\w*params$")
#: A public function that writes a download format (plan_geojson, plan_csv, ...); readers of
#: files (read_generic_csv) are the engine's business.
WRITER_NAME = re.compile(r"^(?!read_|load_)[a-z]\w*_(geojson|json|csv)$")


def _modules(package: str) -> dict[str, ast.Module]:
    return {str(path.relative_to(ROOT)): ast.parse(path.read_text(encoding="utf-8"))
            for path in sorted((ROOT / package).rglob("*.py"))}


def _functions(tree: ast.Module) -> set[str]:
    """Names of every function and method the module defines."""
    return {n.name for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _module_functions(tree: ast.Module) -> set[str]:
    return {n.name for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}


def _mentions(tree: ast.Module, names: frozenset[str]) -> set[str]:
    """Which of ``names`` the module imports, calls or otherwise refers to."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found |= {a.name for a in node.names} & names
        elif isinstance(node, ast.Name) and node.id in names:
            found.add(node.id)
        elif isinstance(node, ast.Attribute) and node.attr in names:
            found.add(node.attr)
    return found


def _imports_from(tree: ast.Module, module: str, names: frozenset[str]) -> set[str]:
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
            and n.module == module for a in n.names if a.name in names}


def _imports_elsewhere(tree: ast.Module, module: str, names: frozenset[str]) -> set[str]:
    """Which of ``names`` the module imports from anywhere but ``module``."""
    return {a.name for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)
            and n.module != module for a in n.names if a.name in names}


def test_geo_never_imports_dash_or_plotly():
    code = (
        "import sys, pkgutil, importlib, geo\n"
        "for m in pkgutil.iter_modules(geo.__path__):\n"
        "    importlib.import_module('geo.' + m.name)\n"
        "bad = sorted(k for k in sys.modules if k.split('.')[0] in {'dash', 'plotly', 'flask'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert out == ""


def test_the_checks_below_recognise_what_they_forbid():
    # each detector finds the real thing in the dashboard, where it belongs: the rules on geo/
    # cannot pass because a detector is blind
    dashboard = _modules("dashboard")
    parsers = {n for n in _functions(dashboard["dashboard/params.py"]) if PARSER_NAME.match(n)}
    assert {"parse_plan_params", "parse_nte_params", "parse_trends_params"} <= parsers
    assert _mentions(dashboard["dashboard/params.py"], QUERY_PARSERS) == QUERY_PARSERS
    writers = {n for n in _module_functions(dashboard["dashboard/serialise.py"])
               if WRITER_NAME.match(n)}
    assert {"plan_geojson", "plan_csv", "plan_provenance_json", "nte_nights_json"} <= writers
    assert _functions(dashboard[PARSER_HOME]) >= QUERY_PARSERS
    sample = ast.parse("from geo.query import parse_filters, int_param, check_date_in_range\n"
                       "from dashboard.params import parse_filters\n")
    assert _imports_elsewhere(sample, "dashboard.params", QUERY_PARSERS) == QUERY_PARSERS
    assert _imports_from(sample, "dashboard.params", QUERY_PARSERS) == {"parse_filters"}
    assert not WRITER_NAME.match("read_generic_csv") and not PARSER_NAME.match("parse_roles")


def test_geo_parses_no_query_strings():
    """No engine module parses an endpoint's query parameters.

    It defines no ``parse_*params`` function and neither defines nor uses ``parse_filters``,
    ``int_param`` or ``check_date_in_range``: it takes the typed parameters (Filters,
    PlanParams, NteParams, TrendsParams ...) that ``dashboard/params.py`` parses.
    """
    modules = _modules("geo")
    assert len(modules) > 20
    offenders = {}
    for name, tree in modules.items():
        found = {n for n in _functions(tree) if PARSER_NAME.match(n)}
        found |= _mentions(tree, QUERY_PARSERS) | (_functions(tree) & QUERY_PARSERS)
        if found:
            offenders[name] = sorted(found)
    assert offenders == {}


def test_geo_writes_no_download_formats():
    """No engine module writes a response body or makes values ready for one.

    Public ``*_geojson``, ``*_json`` and ``*_csv`` writers live in ``dashboard/serialise.py``,
    and the engine returns dataclasses, frames and arrays, not JSON-ready dicts (no
    ``*jsonable*`` helpers).
    """
    offenders = {}
    for name, tree in _modules("geo").items():
        found = {n for n in _module_functions(tree) if WRITER_NAME.match(n)}
        found |= {n for n in _functions(tree) if "jsonable" in n}
        if found:
            offenders[name] = sorted(found)
    assert offenders == {}


#: The analyses the pages and the API share, each returning a typed result for
#: ``dashboard/serialise.py`` to write.
ANALYSES = ("geo.vru:trends", "geo.vru:emerging", "geo.vru:evaluate", "geo.vru:league_table",
            "geo.plan:build_plan", "geo.nte_report:build_report",
            "geo.backtest_protocol:run")


def test_the_shared_analyses_return_dataclasses():
    """Each analysis the API serves returns dataclasses (frames and arrays inside), never a
    dict or list made ready for JSON."""
    import dataclasses
    import importlib
    import types
    import typing

    returns = {}
    for entry in ANALYSES:
        module, name = entry.split(":")
        hint = typing.get_type_hints(getattr(importlib.import_module(module), name))["return"]
        kinds = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        returns[entry] = [k.__name__ for k in kinds if not dataclasses.is_dataclass(k)]
    assert returns == {entry: [] for entry in ANALYSES}


def test_query_strings_are_parsed_in_one_place():
    """``parse_filters``, ``int_param`` and ``check_date_in_range`` are defined in
    ``dashboard/params.py`` alone, and every page, route, export and test that parses with them
    imports them from there: a page, a link and the API read the same text the same way."""
    modules = {**_modules("dashboard"), **_modules("geo"), **_modules("tests")}
    assert len(modules) > 50
    defined = {name: sorted(found) for name, tree in modules.items()
               if (found := _module_functions(tree) & QUERY_PARSERS)}
    assert defined == {PARSER_HOME: sorted(QUERY_PARSERS)}
    imported = {name: sorted(found) for name, tree in modules.items()
                if (found := _imports_elsewhere(tree, "dashboard.params", QUERY_PARSERS))}
    assert imported == {}


# -- the one door to the incident rows -----------------------------------------------------------
#: Modules that read the store themselves, and why each may. Nothing the web server runs is here.
STORE_READERS = {
    "geo/query.py": "the query layer: the one door",
    "geo/store.py": "the store itself",
    "geo/ingest.py": "rewrites stored rows when boundaries change (the hotspot CLI only)",
    "dashboard/bench.py": "the benchmark's naive baseline (the hotspot CLI only)",
}
#: Executors and the door that runs them (issue 14): they take the principal's scope with
#: each query and hand back aggregates only. The numpy one is the query layer's own code,
#: internals included; only the door (``geo/door.py``, a query layer itself) runs them for
#: pages and routes (test below).
DOOR_EXECUTORS = {"geo/engines.py": "the core aggregations on numpy, DuckDB and Dask",
                  "geo/door.py": "the query layer on an executor: the one door, engine-side"}
#: Benchmarks that run an executor on a generated store (the hotspot CLI only; never loaded by
#: the web server: see the test below).
EXECUTOR_BENCHES = {"dashboard/enginebench.py": "hotspot bench --engine"}
#: Modules other than the executors that read the store's Parquet files by SQL, and why.
SQL_READERS = {"geo/store.py": "a commit's look-up of the ids already stored (ids only)",
               "geo/queryindex.py": "copies the listed files into the query index (a writer "
                                    "like compaction: it answers no query)"}
#: The query layer's own state: what lies behind the door.
DOOR_INTERNALS = frozenset({"_current", "_frame", "_pin", "_pinned", "_scoped",
                            "_authority_frame", "_scope_frame"})
#: What ``QueryLayer.labels()`` may be used for: how the data is coded, never its rows.
LABELS = frozenset({"categories", "sources", "areas", "manifest"})


def _store_reads(tree: ast.Module) -> list[int]:
    """Lines that call ``.read(...)`` on a ``Store(...)`` or a name bound to one."""
    stores = {t.id for node in ast.walk(tree) if isinstance(node, ast.Assign)
              and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
              and node.value.func.id == "Store" for t in node.targets if isinstance(t, ast.Name)}
    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "read":
            recv = node.func.value
            if (isinstance(recv, ast.Call) and isinstance(recv.func, ast.Name)
                    and recv.func.id == "Store") or (isinstance(recv, ast.Name)
                                                     and recv.id in stores):
                lines.append(node.lineno)
    return lines


def _label_misuse(tree: ast.Module) -> list[int]:
    """Lines where ``labels()`` is used for anything but its labels (or kept in a name)."""
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    bad = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr == "labels" and not node.args:
            up = parents.get(node)
            if not (isinstance(up, ast.Attribute) and up.attr in LABELS):
                bad.append(node.lineno)
    return bad


def test_the_door_checks_recognise_what_they_forbid():
    planted = ast.parse("s = Store(p)\nm, t = s.read()\nfr = q.labels()\nq.labels().lon\n"
                        "x = q._current()\nStore(p).read()\nok = q.labels().categories\n")
    assert _store_reads(planted) == [2, 6]
    assert _label_misuse(planted) == [3, 4]
    assert {n.attr for n in ast.walk(planted) if isinstance(n, ast.Attribute)} & DOOR_INTERNALS


def test_only_the_query_layer_reads_incident_rows():
    """Incident rows reach pages, routes, exports and analyses only through the query layer,
    whose frame is the principal's: nothing else reads the store, reaches behind the door, or
    uses the unscoped frame for more than its labels."""
    found = []
    for package in ("geo", "dashboard"):
        for name, tree in _modules(package).items():
            if name not in STORE_READERS:
                found += [f"{name}:{line} reads the store" for line in _store_reads(tree)]
            if name != "geo/query.py" and name not in DOOR_EXECUTORS:
                found += [f"{name}:{n.lineno} uses {n.attr}" for n in ast.walk(tree)
                          if isinstance(n, ast.Attribute) and n.attr in DOOR_INTERNALS
                          and not (isinstance(n.value, ast.Name) and n.value.id == "self")]
                found += [f"{name}:{line} uses labels() for rows"
                          for line in _label_misuse(tree)]
    assert found == []


def test_no_page_or_route_runs_an_executor_past_the_door():
    """The executors count whatever scope they are given, so only the door
    (:class:`geo.door.EngineLayer`, which hands them the pinned principal's) may call them:
    no page, route or export imports them, and nothing else reads the Parquet files by SQL."""
    found = []
    for package in ("geo", "dashboard"):
        for name, tree in _modules(package).items():
            if name in DOOR_EXECUTORS or name in EXECUTOR_BENCHES:
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom) and node.module == "geo.engines" or (
                        isinstance(node, ast.Import)
                        and any(a.name == "geo.engines" for a in node.names)):
                    found.append(f"{name}:{node.lineno} imports geo.engines")
                if isinstance(node, ast.Constant) and isinstance(node.value, str) \
                        and "read_parquet" in node.value and name not in SQL_READERS:
                    found.append(f"{name}:{node.lineno} reads Parquet by SQL")
    assert found == []


def test_the_store_readers_are_not_run_by_the_web_server():
    code = ("import sys, dashboard.app\n"
            "print(','.join(sorted(k for k in sys.modules if k in "
            "{'dashboard.bench', 'dashboard.loadbench', 'dashboard.enginebench', "
            "'geo.engines', 'duckdb', 'distributed'})))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout.strip()
    assert out == ""


def test_the_web_apps_query_layer_answers_nobody_unnamed(tmp_path):
    """Outside a request's pin it answers nothing; pinned to an aggregate-only role it hands
    out no rows, only disclosed figures."""
    import pytest

    from dashboard.services import Services
    from geo.access import AccessDenied, Principal, load_roles
    from geo.ingest import load_sample
    from geo.query import Filters
    from geo.settings import DataPaths

    data = DataPaths(tmp_path)
    load_sample(data, n=500, seed=2)
    svc = Services(data)
    with pytest.raises(AccessDenied):
        svc.query.frame()
    with pytest.raises(AccessDenied):
        svc.query.select(Filters())
    partner = Principal("p", load_roles()["partner"])
    with svc.pinned(partner):
        for ask in (svc.query.frame, lambda: svc.query.points(Filters()),
                    lambda: svc.query.cell_counts(Filters(), 8),
                    lambda: svc.query.area_table(Filters())):
            with pytest.raises(AccessDenied):
                ask()
        found = svc.query.disclosed_areas(Filters())
        assert found.count is not None and len(found.table)
