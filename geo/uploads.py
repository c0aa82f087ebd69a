"""Reading files a user uploads, within the limits in :func:`geo.settings.limits`.

Venue lists, harm weight tables, patrol logs and polygon files arrive from a browser, so their
size, their decompressed size and their row or feature count are bounded before they are
parsed: a 50 KB gzip can expand to gigabytes, and a file of one endless line or millions of
rows would otherwise hold the server's memory. Each refusal says what the limit is and which
setting changes it.
"""

from __future__ import annotations

import gzip
import io
import zlib
from collections.abc import Iterator
from pathlib import Path

from geo.schema import ReadError
from geo.settings import limits

__all__ = [
    "MAX_LINE_CHARS",
    "decompressed_limit_message",
    "feature_limit_message",
    "read_upload_bytes",
    "row_limit_message",
    "text_lines",
]

#: Longest physical line of an uploaded CSV. The longest genuine row seen in a premises
#: register is a few thousand characters; a line of a million commas is a bomb, and the CSV
#: reader would turn it into a million-item list.
MAX_LINE_CHARS = 1_000_000

_GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20
_MB = 1024 * 1024

def _mb(n_bytes: int) -> str:
    return f"{n_bytes / _MB:,.0f} MB"


def decompressed_limit_message(name: str, cap: int) -> str:
    """Say that ``name`` expands beyond ``cap`` bytes and which setting raises the limit.

    Examples
    --------
    >>> decompressed_limit_message("venues.csv.gz", 100 * 1024 * 1024)
    'venues.csv.gz: the file is larger than 100 MB once decompressed; the limit is 100 MB (setting HOTSPOT_MAX_DECOMPRESSED_MB).'
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    return (f"{name}: the file is larger than {_mb(cap)} once decompressed; the limit is "
            f"{_mb(cap)} (setting HOTSPOT_MAX_DECOMPRESSED_MB).")


def row_limit_message(name: str, cap: int) -> str:
    """Say that ``name`` has more than ``cap`` data rows and which setting raises the limit.

    Examples
    --------
    >>> row_limit_message("venues.csv", 500_000)
    'venues.csv: the file has more than 500,000 rows; the limit is 500,000 (setting HOTSPOT_MAX_UPLOAD_ROWS).'
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    return (f"{name}: the file has more than {cap:,} rows; the limit is {cap:,} "
            "(setting HOTSPOT_MAX_UPLOAD_ROWS).")


def feature_limit_message(name: str, n_features: int, cap: int) -> str:
    """Say that ``name`` holds more polygons than ``cap`` and which setting raises the limit.

    Examples
    --------
    >>> feature_limit_message("beats.gpkg", 60_000, 50_000)
    'The file beats.gpkg has 60,000 features; the limit is 50,000 (setting HOTSPOT_MAX_POLYGONS).'
    """  # noqa: E501 -- a doctest output line cannot be wrapped
    return (f"The file {name} has {n_features:,} features; the limit is {cap:,} "
            "(setting HOTSPOT_MAX_POLYGONS).")


def read_upload_bytes(path: Path, name: str | None = None) -> bytes:
    r"""Return a file's bytes, decompressing gzip as a stream and stopping at the size limit.

    Parameters
    ----------
    path : Path
        The file (plain, or gzip recognised by its first bytes whatever its name).
    name : str, optional
        How to name the file in messages (default: ``path``).

    Returns
    -------
    bytes
        The (decompressed) contents, at most ``limits().upload_decompressed_bytes`` long.

    Raises
    ------
    geo.schema.ReadError
        If the file is missing or a folder, the gzip data is corrupt or cut short, or the
        contents are larger than the limit (the message names the limit and its setting).

    Examples
    --------
    >>> import gzip, tempfile
    >>> p = Path(tempfile.mkdtemp()) / "t.csv.gz"
    >>> _ = p.write_bytes(gzip.compress(b"name,lat,lon\n"))
    >>> read_upload_bytes(p)
    b'name,lat,lon\n'
    """
    label = name or str(path)
    if not path.exists():
        raise ReadError(f"{label}: file not found.")
    if not path.is_file():
        raise ReadError(f"{label}: is a folder, not a file.")
    cap = limits().upload_decompressed_bytes
    try:
        with path.open("rb") as raw:
            if raw.read(2) == _GZIP_MAGIC:
                raw.seek(0)
                with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
                    return _read_capped(gz, cap, label)
            raw.seek(0)
            return _read_capped(raw, cap, label)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise ReadError(f"{label}: the gzip data is corrupt or cut short ({exc}).") from None
    except OSError as exc:
        raise ReadError(f"{label}: the file could not be opened ({exc}).") from None


def _read_capped(stream: io.BufferedIOBase, cap: int, label: str) -> bytes:
    """Read ``stream`` in chunks, refusing as soon as more than ``cap`` bytes have come out."""
    out = io.BytesIO()
    total = 0
    while True:
        chunk = stream.read(_CHUNK)
        if not chunk:
            return out.getvalue()
        total += len(chunk)
        if total > cap:
            raise ReadError(decompressed_limit_message(label, cap))
        out.write(chunk)


def text_lines(data: bytes, encoding: str, label: str) -> Iterator[str]:
    r"""Yield the physical lines of ``data`` (with their endings) for :func:`csv.reader`.

    The bytes are decoded a block at a time, so a file is never held twice (as bytes and as
    text). Line endings may be CRLF, LF or a lone CR (files saved by Excel for Mac).

    Raises
    ------
    geo.schema.ReadError
        At a line longer than :data:`MAX_LINE_CHARS`, naming it; or ``UnicodeDecodeError``
        if ``data`` is not in ``encoding`` (check first: the error comes mid-file).

    Examples
    --------
    >>> list(text_lines(b"a,b\r\n1,2\r3,4", "utf-8", "t.csv"))
    ['a,b\r\n', '1,2\r', '3,4']
    """
    stream = io.TextIOWrapper(io.BytesIO(data), encoding=encoding, newline="")
    for number, line in enumerate(stream, start=1):
        if len(line) > MAX_LINE_CHARS:
            raise ReadError(
                f"{label}: line {number:,} is longer than {MAX_LINE_CHARS:,} characters, so "
                "this is not a table of rows. Check it is the right file."
            )
        yield line
