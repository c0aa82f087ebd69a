"""Map label glyphs made on this machine, so a vector basemap has street and place names offline.

MapLibre draws text from signed-distance-field (SDF) glyphs that it fetches 256 characters at a
time from the style's ``glyphs`` URL, as protocol buffers. Map sites fetch them from a font
server on the internet; a force's network has none and no npm or PyPI package ships them, so the
app makes them itself from a TrueType font with Pillow (FreeType) and SciPy's exact distance
transform, in the layout MapLibre reads (24 px glyphs, a 3 px border, 8 px SDF radius, cut-off
0.25, the same numbers as Mapbox's fontnik and MapLibre's own TinySDF).

The font is DejaVu Sans where the system has it (it covers Welsh: ŵ, ŷ), else Bitstream Vera,
which ships with ReportLab (a dependency) so there is always one; ``HOTSPOT_MAP_FONT`` names
another TrueType file. Both licences allow this use. Characters none of the fonts holds are left
out of the range and MapLibre draws nothing for them.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import numpy as np

#: Glyph size, border and SDF radius in pixels, and the cut-off, as MapLibre expects.
SIZE, BORDER, RADIUS, CUTOFF = 24, 3, 8.0, 0.25
#: Supersampling of the outline before the distance transform (sharper edges).
_OVERSAMPLE = 4
#: The font stack name the app's style asks for (any name is answered with the same font).
FONT_STACK = "Hotspot Sans"
BOLD_STACK = "Hotspot Sans Bold"
_SYSTEM_FONTS = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),)
_SYSTEM_BOLD = (Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),)


def _reportlab_font(name: str) -> Path:
    import reportlab

    return Path(reportlab.__file__).resolve().parent / "fonts" / name


def font_files(bold: bool = False) -> list[Path]:
    """Return the TrueType files labels are drawn from, first choice first."""
    chosen = os.environ.get("HOTSPOT_MAP_FONT", "").strip()
    out = [Path(chosen).expanduser()] if chosen and not bold else []
    out += [p for p in (_SYSTEM_BOLD if bold else _SYSTEM_FONTS) if p.is_file()]
    out.append(_reportlab_font("VeraBd.ttf" if bold else "Vera.ttf"))
    return [p for p in out if p.is_file()]


@functools.cache
def _coverage(path: Path) -> frozenset[int]:
    """Return the code points a TrueType font has glyphs for (its cmap)."""
    from reportlab.pdfbase.ttfonts import TTFontFile

    return frozenset(TTFontFile(str(path)).charToGlyph)


@functools.cache
def _font(path: Path, size: int) -> Any:
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, value: int | bytes | str, signed: bool = False) -> bytes:
    """One protocol-buffer field: a varint (zig-zag when ``signed``) or length-delimited."""
    if isinstance(value, int):
        if signed:
            value = (value << 1) ^ (value >> 63)
        return _varint(number << 3) + _varint(value)
    data = value.encode("utf-8") if isinstance(value, str) else value
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def _sdf_glyph(path: Path, char: str) -> bytes:
    """Return one glyph message: its SDF bitmap (with the border) and metrics."""
    from PIL import Image, ImageDraw
    from scipy.ndimage import distance_transform_edt

    font = _font(path, SIZE)
    advance = round(font.getlength(char))
    x0, y0, x1, y1 = font.getbbox(char, anchor="ls")
    width, height = max(0, x1 - x0), max(0, y1 - y0)
    # top is measured from the baseline up, less the 24 px "ascender" MapLibre's shaping
    # assumes for fontnik glyphs
    metrics = (_field(3, width) + _field(4, height) + _field(5, int(x0), signed=True)
               + _field(6, int(-y0) - SIZE, signed=True) + _field(7, advance))
    if width == 0 or height == 0:  # a space: metrics only
        return metrics
    k = _OVERSAMPLE
    big = _font(path, SIZE * k)
    w, h = (width + 2 * BORDER) * k, (height + 2 * BORDER) * k
    canvas = Image.new("L", (w, h), 0)
    ImageDraw.Draw(canvas).text(((BORDER - x0) * k, (BORDER - y0) * k), char, font=big,
                                fill=255, anchor="ls")
    inside = np.asarray(canvas) >= 128
    # signed distance in output pixels: positive outside the outline, negative inside
    dist = (distance_transform_edt(~inside) - distance_transform_edt(inside)) / k
    dist = dist.reshape(height + 2 * BORDER, k, width + 2 * BORDER, k).mean(axis=(1, 3))
    values = np.clip(np.round(255 - 255 * (dist / RADIUS + CUTOFF)), 0, 255).astype(np.uint8)
    return _field(2, values.tobytes()) + metrics


@functools.lru_cache(maxsize=64)
def glyph_range(start: int, bold: bool = False) -> bytes:
    """Return the glyph PBF for code points ``start`` to ``start + 255``.

    Parameters
    ----------
    start : int
        A multiple of 256 from 0 to 65280.
    bold : bool
        Use the bold face.

    Examples
    --------
    >>> pbf = glyph_range(0)
    >>> pbf[0] == 0x0A, len(pbf) > 10_000  # field 1 (the stack), length-delimited
    (True, True)
    """
    if start % 256 or not 0 <= start <= 65280:
        raise ValueError(f"a glyph range starts at a multiple of 256 up to 65280, not {start}")
    files = font_files(bold)
    glyphs = []
    for cp in range(start, start + 256):
        if cp < 32 or 0x7F <= cp < 0xA0:  # control characters have no glyphs
            continue
        for path in files:
            if cp in _coverage(path):
                glyphs.append(_field(3, _field(1, cp) + _sdf_glyph(path, chr(cp))))
                break
    stack = _field(1, BOLD_STACK if bold else FONT_STACK) + _field(2, f"{start}-{start + 255}")
    return _field(1, stack + b"".join(glyphs))
