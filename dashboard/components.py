"""Small helpers shared by pages."""

from __future__ import annotations

import base64
import binascii
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from geo.schema import ReadError
from geo.settings import limits

#: Longest file name shown back to the user; longer ones keep their start and their end.
_MAX_SHOWN_NAME = 80
_MB = 1024 * 1024


class UploadError(ReadError):
    """An upload did not arrive as a readable file; the message says why in plain English.

    A :class:`geo.schema.ReadError`, so a page that reports unreadable files reports these too.
    """


@dataclass(frozen=True)
class UploadedFile:
    """An uploaded file saved on the server.

    Attributes
    ----------
    path : Path
        Where it is saved: a private temporary folder and a name the server chose, never the
        name the browser sent.
    name : str
        The file's name as the user knows it, trimmed and cleaned, for messages only.
    """

    path: Path
    name: str


def display_name(filename: object, default: str) -> str:
    r"""Return an upload's file name fit to show in a message, never to use as a path.

    Folders (a browser may send ``C:\fakepath\...``) and control characters are removed and
    a long name keeps its start and end.

    Examples
    --------
    >>> display_name("C:\\fakepath\\venues.csv", "venues.csv")
    'venues.csv'
    >>> display_name("../../etc/passwd", "x"), display_name(None, "zones.geojson")
    ('passwd', 'zones.geojson')
    """
    text = filename if isinstance(filename, str) else ""
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    if not text:
        return default
    if len(text) > _MAX_SHOWN_NAME:
        text = text[:60] + "…" + text[-(_MAX_SHOWN_NAME - 61):]
    return text


def decode_upload(contents: object, name: str) -> bytes:
    r"""Return the bytes of a ``dcc.Upload`` data URL (``data:<type>;base64,<data>``).

    Raises
    ------
    UploadError
        If the contents are not a base64 data URL, are damaged, or are larger than the
        request limit (``HOTSPOT_MAX_REQUEST_MB``); the message names the file.

    Examples
    --------
    >>> decode_upload("data:text/csv;base64,YSxiCg==", "t.csv")
    b'a,b\n'
    >>> decode_upload("no comma here", "t.csv")
    Traceback (most recent call last):
    ...
    dashboard.components.UploadError: t.csv: the upload did not arrive as a file (it is not a base64 data URL). Choose the file again.
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    if not isinstance(contents, str):
        raise UploadError(f"{name}: the upload did not arrive as a file. Choose one file and "
                          "try again.")
    cap = limits().request_bytes
    if len(contents) > cap:
        raise UploadError(
            f"{name}: the upload is larger than {cap // _MB:,} MB; the limit is "
            f"{cap // _MB:,} MB (setting HOTSPOT_MAX_REQUEST_MB)."
        )
    header, comma, data = contents.partition(",")
    if not comma or not header.startswith("data:") or not header.endswith(";base64"):
        raise UploadError(f"{name}: the upload did not arrive as a file (it is not a base64 "
                          "data URL). Choose the file again.")
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError(f"{name}: the upload arrived damaged (its base64 encoding is "
                          "invalid). Choose the file again.") from None


@contextmanager
def uploaded_file(contents: object, filename: object,
                  default_name: str = "upload") -> Iterator[UploadedFile]:
    """Save a ``dcc.Upload`` data URL in a private temporary folder and yield it.

    The readers take paths, so an uploaded file goes through exactly the same checks as one
    given on the command line. It is saved under a name the server chooses: the browser's
    file name may be anything (``../../x``, ``/vsicurl/...``, a VRT called ``.geojson``) and
    readers recognise formats by content, not by name. The folder is removed afterwards.

    Raises
    ------
    UploadError
        If the contents cannot be decoded (see :func:`decode_upload`).
    """
    name = display_name(filename, default_name)
    raw = decode_upload(contents, name)
    with tempfile.TemporaryDirectory(prefix="hotspot-upload-") as tmp:
        path = Path(tmp) / "upload"
        path.write_bytes(raw)
        del raw
        yield UploadedFile(path=path, name=name)


def max_upload_bytes() -> int:
    """Largest file the browser should send: the request limit less base64's third."""
    return limits().request_bytes * 3 // 4 - 64 * 1024


def upload(component_id: str, label: str, accept: str) -> Any:
    """Return a file upload button that refuses, in the browser, a file over the limit.

    The limit is in the label, so a refused file is not a mystery; the server refuses it too.
    """
    from dash import dcc, html

    limit_mb = max_upload_bytes() // _MB
    return dcc.Upload(id=component_id, accept=accept, multiple=False,
                      max_size=max_upload_bytes(),
                      children=html.Button(f"{label} (up to {limit_mb:,} MB)"))


def days_and_hours(days_id: str, from_id: str, to_id: str, label: str) -> list[Any]:
    """Return the labelled weekday ticks and the hour band (start, end) a page filters by."""
    from dash import dcc, html

    from geo.query import DAY_NAMES

    return [
        html.Label(label, htmlFor=days_id),
        dcc.Checklist(id=days_id, inline=True, className="days", value=list(DAY_NAMES),
                      options=[{"label": d.title(), "value": d} for d in DAY_NAMES]),
        html.Div([dcc.Dropdown(id=from_id, value=0, clearable=False, options=[
            {"label": f"{h:02d}:00", "value": h} for h in range(24)]), html.Span("to"),
                  dcc.Dropdown(id=to_id, value=24, clearable=False, options=[
                      {"label": f"{h:02d}:00", "value": h} for h in range(1, 25)])],
                 className="hour-band"),
    ]


def frame_areas(areas: Any, codes: list[str]) -> tuple[dict[str, float], float] | None:
    """Return a map centre and zoom that frame the areas ``codes`` (None if there are none).

    ``areas`` is a GeoDataFrame in WGS84 with a ``code`` column.
    """
    import numpy as np

    areas = areas[areas["code"].isin(codes)]
    if not len(areas):
        return None
    minx, miny, maxx, maxy = areas.total_bounds
    span = max(maxx - minx, (maxy - miny) * 1.6)
    zoom = float(np.clip(np.log2(360.0 / max(span, 1e-6)) - 0.2, 3, 14))
    return {"lon": float((minx + maxx) / 2), "lat": float((miny + maxy) / 2)}, zoom
