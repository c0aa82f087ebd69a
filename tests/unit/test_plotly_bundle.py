"""The partial plotly.js build the pages load (scripts/build_plotly_bundle.sh) matches the
plotly Python package and draws every trace type the dashboard uses."""

from __future__ import annotations

import re
from pathlib import Path

import plotly
import plotly.graph_objects as go
from plotly.basedatatypes import BaseTraceType

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = ROOT / "dashboard" / "assets" / "plotly-hotspot.min.js"


def _banner() -> str:
    with BUNDLE.open(encoding="utf-8") as f:
        return f.readline()


def test_the_bundle_is_the_plotly_js_the_python_package_ships():
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    with full.open(encoding="utf-8") as f:
        shipped = re.search(r"plotly\.js v([\d.]+)", f.read(400)).group(1)
    assert _banner().startswith(f"/* plotly.js v{shipped}: "), (
        f"rebuild with PLOTLY_JS={shipped} in scripts/build_plotly_bundle.sh")
    with BUNDLE.open(encoding="utf-8") as f:
        head = f.read(2000)
    assert "MIT License" in head and "Permission is hereby granted" in head


def test_every_trace_type_the_dashboard_draws_is_in_the_bundle():
    traces = {name.lower() for name in dir(go)
              if isinstance(getattr(go, name), type)
              and issubclass(getattr(go, name), BaseTraceType)}
    used = set()
    for path in (ROOT / "dashboard").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        used |= {t for t in re.findall(r'"type":\s*"(\w+)"', text) if t in traces}
        used |= {name.lower() for name in re.findall(r"\bgo\.(\w+)\(", text)} & traces
    assert {"scatter", "choroplethmap", "bar"} <= used  # the scan finds them
    registered = {"scatter", *_banner().split(": ")[1].split(";")[0].split(", ")} - {"core"}
    assert used <= registered, f"add {sorted(used - registered)} to the bundle"
