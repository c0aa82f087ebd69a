"""Durable, all-or-nothing file writes shared by the store, boundaries and settings files.

A file is written under a temporary name in the same folder, flushed to disk, and renamed over
the target with ``os.replace`` (atomic on POSIX), then the folder itself is synced so the
rename survives a power cut. A reader sees the old file or the new one, never half of either.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path


def fsync_file(path: Path) -> None:
    """Flush a file's contents to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Make renames in a folder durable (skipped where a folder cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def temp_path(dest: Path, suffix: str = ".tmp") -> Path:
    """Return a unique hidden temporary path beside ``dest``."""
    return dest.with_name(f".{dest.name}.{uuid.uuid4().hex}{suffix}")


def replace_durably(tmp: Path, dest: Path) -> None:
    """Sync ``tmp``, rename it over ``dest`` and sync the folder."""
    fsync_file(tmp)
    os.replace(tmp, dest)
    fsync_dir(dest.parent)


def write_bytes_atomic(dest: Path, data: bytes) -> None:
    """Write ``data`` to ``dest`` all or nothing.

    Examples
    --------
    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> write_bytes_atomic(d / "a.txt", b"hello")
    >>> (d / "a.txt").read_bytes(), sorted(p.name for p in d.iterdir())
    (b'hello', ['a.txt'])
    """
    tmp = temp_path(dest)
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        replace_durably(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)


def write_text_atomic(dest: Path, text: str) -> None:
    """Write UTF-8 ``text`` to ``dest`` all or nothing."""
    write_bytes_atomic(dest, text.encode("utf-8"))
