"""The engine stays pure: importing every geo module loads no user-interface library."""

from __future__ import annotations

import subprocess
import sys


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
