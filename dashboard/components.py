"""Small helpers shared by pages."""

from __future__ import annotations

import base64
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def uploaded_file(contents: str, filename: str) -> Iterator[Path]:
    """Write a ``dcc.Upload`` data URL to a temporary file (keeping its name) and yield it.

    The readers take paths, so an uploaded file goes through exactly the same checks as one
    given on the command line.
    """
    raw = base64.b64decode(contents.split(",", 1)[1])
    with tempfile.TemporaryDirectory(prefix="hotspot-upload-") as tmp:
        path = Path(tmp) / Path(filename).name
        path.write_bytes(raw)
        yield path
